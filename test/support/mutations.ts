import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ROOT } from './runbooks.ts';

/**
 * Random mutations of the real payloads in test/fixtures/alerts, for the fuzz tests: values of the
 * wrong type, null, unicode (lone surrogates, NUL, right-to-left, emoji), very long strings, very deep
 * nesting, prototype keys (`__proto__`, `constructor`), missing and extra fields, many alerts, and
 * bodies that are not UTF-8 JSON at all.
 */

const FIXTURES_DIR = join(ROOT, 'test/fixtures/alerts');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Fixture {
  name: string;
  value: Json;
}

/** Every fixture payload, the malformed ones included. */
export function fixtures(): Fixture[] {
  const files = [
    ...readdirSync(FIXTURES_DIR)
      .filter((file) => file.endsWith('.json'))
      .map((file) => join(FIXTURES_DIR, file)),
    ...readdirSync(join(FIXTURES_DIR, 'malformed')).map((file) => join(FIXTURES_DIR, 'malformed', file)),
  ];
  return files.map((file) => ({
    name: file.slice(FIXTURES_DIR.length + 1),
    value: JSON.parse(readFileSync(file, 'utf8')) as Json,
  }));
}

/** A value nested `depth` levels deep; stands in the tree as a marker, written out as text (see toText). */
const DEEP = '\u0000deep:';

/** Strings that have broken parsers and printers. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\uD800',
  '\uDFFF\uD800',
  '\u202Eevil\u202C',
  '👩‍👩‍👧‍👦',
  '%E0%A4%A',
  '%ZZ',
  '../../etc/passwd',
  '<img src=x onerror=alert(1)>',
  '{{ alert.name }}',
  ['$', '{process.exit()}'].join(''),
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999999+14:00',
  'NaN',
  '-0',
  '1e309',
  'firing',
  'resolved',
  'ALARM',
  '\r\n\r\nX-Injected: 1',
];

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(...NASTY_STRINGS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer({ min: 1_000, max: 300_000 }).map((length) => 'x'.repeat(length)),
);

const key: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PROTO_KEYS),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.integer({ min: 1_000, max: 100_000 }).map((length) => 'k'.repeat(length)),
);

const replacement: fc.Arbitrary<Json> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(key, scalar, { maxKeys: 4 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.integer({ min: 40, max: 12_000 }).map((depth) => `${DEEP}${depth}`) },
  {
    weight: 1,
    // JSON.parse makes `__proto__` an own key, as a body from the wire has it.
    arbitrary: fc.constantFrom<Json>(
      JSON.parse('{"__proto__":{"polluted":true}}') as Json,
      JSON.parse('{"constructor":{"prototype":{"polluted":true}}}') as Json,
    ),
  },
);

export type Mutation =
  | { kind: 'replace'; at: number; value: Json }
  | { kind: 'delete'; at: number }
  | { kind: 'add'; at: number; key: string; value: Json }
  | { kind: 'repeat'; at: number; times: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: replacement }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key, value: replacement }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('repeat' as const),
      at: fc.nat(),
      times: fc.integer({ min: 2, max: 300 }),
    }),
  },
);

/** Every place in a value: the path to it (segments) and its parent, root first. */
function places(value: Json): Array<{ path: Array<string | number> }> {
  const found: Array<{ path: Array<string | number> }> = [{ path: [] }];
  const walk = (node: Json, path: Array<string | number>) => {
    if (Array.isArray(node))
      node.forEach((child, index) => {
        found.push({ path: [...path, index] });
        walk(child, [...path, index]);
      });
    else if (node !== null && typeof node === 'object')
      for (const [name, child] of Object.entries(node)) {
        found.push({ path: [...path, name] });
        walk(child, [...path, name]);
      }
  };
  walk(value, []);
  return found;
}

function parentOf(root: Json, path: Array<string | number>): Json | undefined {
  let node: Json | undefined = root;
  for (const segment of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, Json>)[segment];
  }
  return node;
}

function define(target: object, name: string | number, value: Json): void {
  // defineProperty: `__proto__` as an own key, as JSON.parse makes it, never the prototype.
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

/** The value with the mutations applied, in order (a fresh copy; the fixture is not changed). */
/** A copy through JSON, as the wire makes one: own `__proto__` keys stay own keys, nothing is shared. */
function copy(value: Json): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

export function mutate(value: Json, mutations: readonly Mutation[]): Json {
  let root = copy(value);
  for (const change of mutations) {
    const all = places(root);
    const { path } = all[change.at % all.length]!;
    const last = path.at(-1);
    const parent = parentOf(root, path);
    if (change.kind === 'replace') {
      if (last === undefined) root = copy(change.value);
      else if (parent && typeof parent === 'object') define(parent, last, copy(change.value));
    } else if (change.kind === 'delete') {
      if (last !== undefined && parent && typeof parent === 'object') {
        if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1);
        else delete (parent as Record<string, Json>)[last];
      }
    } else if (change.kind === 'add') {
      const node = last === undefined ? root : (parent as Record<string | number, Json> | undefined)?.[last];
      if (node && typeof node === 'object' && !Array.isArray(node))
        define(node, change.key, copy(change.value));
    } else {
      const node = last === undefined ? root : (parent as Record<string | number, Json> | undefined)?.[last];
      if (Array.isArray(node) && node.length > 0)
        node.push(...Array.from({ length: change.times }, (_, index) => copy(node[index % node.length]!)));
    }
  }
  return root;
}

/** JSON text of a mutated value, with the deep markers written out as real nesting. */
export function toText(value: Json): string {
  return JSON.stringify(value).replace(/"\\u0000deep:(\d+)"/g, (_match, depth: string) => {
    const levels = Number(depth);
    return `${'{"a":'.repeat(levels)}"x"${'}'.repeat(levels)}`;
  });
}

/** How the body's bytes go over the wire: as JSON, or broken as senders and attackers break them. */
export const encoding = fc.constantFrom(
  'json',
  'json',
  'json',
  'json',
  'bom',
  'truncated',
  'latin1',
  'invalid-utf8',
  'empty',
  'not-json',
);

export function encode(text: string, how: string): Buffer {
  switch (how) {
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    case 'truncated':
      return Buffer.from(text, 'utf8').subarray(0, Math.floor(Buffer.byteLength(text) / 2));
    case 'latin1':
      return Buffer.from(text, 'latin1');
    case 'invalid-utf8':
      return Buffer.concat([
        Buffer.from(text.slice(0, 20), 'utf8'),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
        Buffer.from(text.slice(20), 'utf8'),
      ]);
    case 'empty':
      return Buffer.alloc(0);
    case 'not-json':
      return Buffer.from(`${text.slice(0, 50)} trailing`, 'utf8');
    default:
      return Buffer.from(text, 'utf8');
  }
}

/** Path segments as a client may send them: plain, percent-encoded, broken escapes, very long. */
export const pathSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('%E0%A4%A', '%ZZ', '%00', '%2F', '..', '%2e%2e', 'a'.repeat(3_000), '%C0%AF', '%ED%A0%80'),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map((text) => encodeURIComponent(text) || 'x'),
  fc.string({ unit: 'binary', maxLength: 30 }).map((text) => {
    try {
      return encodeURIComponent(text) || 'x';
    } catch {
      return 'x%ZZ';
    }
  }),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,90}$/),
);

/** How many cases a property runs: a few in `npm test`, more with FUZZ_RUNS=2000. */
export function runs(defaultRuns: number): number {
  const configured = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(configured) && configured > 0 ? configured : defaultRuns;
}

/** A test's time limit for `defaultRuns` cases (more when FUZZ_RUNS asks for more). */
export function timeoutFor(defaultRuns: number, perCaseMs = 300): number {
  return Math.max(30_000, runs(defaultRuns) * perCaseMs);
}

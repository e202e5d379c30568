import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Alert } from '../../../../functions/core/alert.ts';
import {
  vouchAlertmanagerWebhook,
  vouchAlertmanagerWebhookInPlace,
  vouchCloudWatchAlarmEvent,
  vouchCloudWatchAlarmEventInPlace,
} from '../../../../functions/core/classifier/fast-payloads.ts';
import {
  fitAlertToBudget,
  jsonBytesBound,
  type NormalizeOptions,
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
} from '../../../../functions/core/classifier/normalize.ts';
import {
  AlertmanagerWebhook,
  CloudWatchAlarmEvent,
  isoByDate,
  matchTimestamp,
  toIsoTimestamp,
} from '../../../../functions/core/classifier/payloads.ts';
import { RunbookSelector, selectRunbook } from '../../../../functions/core/classifier/select.ts';
import { checkedAlert } from '../../../../functions/core/classifier/vouch-alert.ts';
import { assertJsonDepth } from '../../../../functions/core/json-limits.ts';
import { parseRunbookCatalog } from '../../../../functions/core/runbook/catalog.ts';
import { libraryStatemachinesDir } from '../../../support/library.ts';
import { fixtures, type Json, mutate, mutation, toText } from '../../../support/mutations.ts';
import { ROOT } from '../../../support/runbooks.ts';

/**
 * The fast path of normalize + select is equivalent to the path it stands in front of:
 * - vouchAlertmanagerWebhook / vouchCloudWatchAlarmEvent either defer (undefined) or return what zod's
 *   schema returns for the payload — deep-equal, with the same keys in the same order — for payloads
 *   assertJsonDepth accepts; their in-place forms vouch only where that value equals the payload itself;
 * - normalize gives what it gives on zod's path (the same alerts, or the same error);
 * - checkedAlert returns what Alert.parse returns, or throws its error;
 * - toIsoTimestamp's arithmetic gives what Date gives;
 * - jsonBytesBound never under-counts, so fitAlertToBudget's shortcut returns only alerts that fit;
 * - RunbookSelector.select gives what selectRunbook gives over the same candidates.
 * Inputs: the fixtures, valid variants of them (fields added, dropped, reordered, retyped within the
 * schema) and random mutations (wrong types, nasty strings, prototype keys, deep nesting).
 */

/** Same value, same keys in the same order, all the way down (toStrictEqual ignores key order). */
function sameShape(actual: unknown, expected: unknown): void {
  expect(actual).toStrictEqual(expected);
  const keysInOrder = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(keysInOrder)
      : value !== null && typeof value === 'object'
        ? Object.keys(value).map((key) => [key, keysInOrder((value as Record<string, unknown>)[key])])
        : value;
  expect(keysInOrder(actual)).toEqual(keysInOrder(expected));
}

const ALL = fixtures();

/** The normalized alerts of every valid fixture (under every option set), as the golden test pins them. */
const GOLDEN_ALERTS: Alert[] = ALL.filter(({ name }) => /^(alertmanager|cloudwatch)-/.test(name)).flatMap(
  ({ name }) =>
    (
      JSON.parse(
        readFileSync(
          join(ROOT, 'test/unit/core/classifier/__golden__', name.replace(/\.json$/, '.golden.json')),
          'utf8',
        ),
      ) as Array<{ result: { alerts?: Alert[] } }>
    ).flatMap((entry) => entry.result.alerts ?? []),
);
const sourcesOf = (kind: 'alertmanager' | 'cloudwatch') =>
  ALL.filter(({ name }) => name.replace(/^malformed\//, '').startsWith(kind));

/** A payload generated from a fixture: mutated at random, or changed only in ways the schema allows. */
function payloads(kind: 'alertmanager' | 'cloudwatch') {
  const sources = sourcesOf(kind);
  const valid = sources.filter(({ name }) => !name.startsWith('malformed/'));
  const mutated = fc
    .record({ source: fc.constantFrom(...sources), mutations: fc.array(mutation, { maxLength: 3 }) })
    .map(({ source, mutations }) => JSON.parse(toText(mutate(source.value, mutations) as Json)) as unknown);
  // Changes within the schema: optional fields dropped, unknown fields added, strings rewritten.
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('add' as const),
      at: fc.nat(),
      key: fc.string({ maxLength: 8 }),
      value: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.dictionary(fc.string(), fc.string())),
    }),
    fc.record({ kind: fc.constant('retext' as const), at: fc.nat(), text: fc.string({ maxLength: 20 }) }),
    fc.record({
      kind: fc.constant('time' as const),
      at: fc.nat(),
      text: fc.constantFrom(
        '2024-02-29T23:59:59.123456789+14:00',
        '2024-03-01T00:00:00-00:30',
        '0001-01-01T00:00:00Z',
        '0000-01-01T00:30:00+01:00',
        '9999-12-31T23:59:59+0000',
        '2023-02-29T00:00:00Z',
        '2024-01-01T24:00:00Z',
      ),
    }),
  );
  const edited = fc
    .record({ source: fc.constantFrom(...valid), edits: fc.array(edit, { maxLength: 4 }) })
    .map(({ source, edits }) => {
      const body = structuredClone(source.value) as Json;
      for (const change of edits) applyEdit(body, change);
      return body as unknown;
    });
  return fc.oneof(mutated, edited);
}

type Edit =
  | { kind: 'delete'; at: number }
  | { kind: 'add'; at: number; key: string; value: unknown }
  | { kind: 'retext' | 'time'; at: number; text: string };

/** Objects and string fields of a value, for edits to pick from. */
function placesOf(root: Json) {
  const objects: Array<Record<string, Json>> = [];
  const strings: Array<{ parent: Record<string, Json>; key: string }> = [];
  const walk = (node: Json) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === 'object') {
      objects.push(node);
      for (const [key, child] of Object.entries(node)) {
        if (typeof child === 'string') strings.push({ parent: node, key });
        walk(child);
      }
    }
  };
  walk(root);
  return { objects, strings };
}

function applyEdit(root: Json, change: Edit): void {
  const { objects, strings } = placesOf(root);
  if (change.kind === 'add') {
    const target = objects[change.at % objects.length]!;
    Object.defineProperty(target, change.key, {
      value: change.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else if (change.kind === 'delete') {
    const target = objects[change.at % objects.length]!;
    const keys = Object.keys(target);
    if (keys.length > 0) delete target[keys[change.at % keys.length]!];
  } else if (strings.length > 0) {
    const { parent, key } = strings[change.at % strings.length]!;
    parent[key] = change.text;
  }
}

/** What zod's path gives: the parsed value, or undefined where it (or the depth check) refuses. */
function zodResult(schema: typeof AlertmanagerWebhook | typeof CloudWatchAlarmEvent, body: unknown) {
  try {
    assertJsonDepth(body, 'the payload');
  } catch {
    return { refused: true as const };
  }
  const result = schema.safeParse(body);
  return result.success ? { value: result.data } : { refused: true as const };
}

describe('vouching for payloads (fast-payloads.ts)', () => {
  it('vouches for every valid fixture', () => {
    for (const { name, value } of ALL.filter(({ name }) => /^(alertmanager|cloudwatch)-/.test(name))) {
      const vouched = name.startsWith('alertmanager')
        ? vouchAlertmanagerWebhook(value)
        : vouchCloudWatchAlarmEvent(value);
      expect(vouched, name).toBeDefined();
    }
  });

  it.each([
    ['alertmanager', AlertmanagerWebhook, vouchAlertmanagerWebhook],
    ['cloudwatch', CloudWatchAlarmEvent, vouchCloudWatchAlarmEvent],
  ] as const)(
    '%s: vouches only for what zod accepts, and returns what zod returns',
    (kind, schema, vouch) => {
      let vouchedFor = 0;
      let deferred = 0;
      fc.assert(
        fc.property(payloads(kind), (body) => {
          const vouched = vouch(body as never);
          if (vouched === undefined) {
            deferred++;
            return;
          }
          vouchedFor++;
          const zod = zodResult(schema, body);
          expect('value' in zod).toBe(true);
          sameShape(vouched.value, (zod as { value: unknown }).value);
          // Every timestamp's ISO form is toIsoTimestamp's.
          for (const [text, iso] of vouched.timestamps) expect(iso).toBe(toIsoTimestamp(text));
        }),
        { numRuns: 1_500, seed: 19 },
      );
      // Both sides were exercised: the check is not vacuous.
      expect(vouchedFor).toBeGreaterThan(100);
      expect(deferred).toBeGreaterThan(100);
    },
  );

  it.each([
    ['alertmanager', vouchAlertmanagerWebhookInPlace, vouchAlertmanagerWebhook],
    ['cloudwatch', vouchCloudWatchAlarmEventInPlace, vouchCloudWatchAlarmEvent],
  ] as const)(
    '%s: vouches in place only where the payload equals what zod returns',
    (kind, inPlace, vouch) => {
      let inPlaceFor = 0;
      let copiedOnly = 0;
      fc.assert(
        fc.property(payloads(kind), (body) => {
          const vouched = inPlace(body);
          const copied = vouch(body);
          if (vouched === undefined) {
            if (copied !== undefined) copiedOnly++;
            return;
          }
          inPlaceFor++;
          expect(vouched.value).toBe(body);
          // zod's value (what vouch returns, checked above) equals the payload: every defaulted field present.
          expect(copied).toBeDefined();
          expect(vouched.value).toStrictEqual(copied!.value);
          expect(vouched.timestamps).toEqual(copied!.timestamps);
        }),
        { numRuns: 1_500, seed: 19 },
      );
      expect(inPlaceFor).toBeGreaterThan(100);
      // Payloads missing a defaulted field are copied (zod fills the default), not vouched for in place.
      expect(copiedOnly).toBeGreaterThan(10);
    },
  );

  it('defers on what JSON.parse never makes and on nesting assertJsonDepth refuses', () => {
    const body = structuredClone(sourcesOf('alertmanager')[0]!.value) as Record<string, unknown>;
    expect(vouchAlertmanagerWebhook(body)).toBeDefined();
    expect(vouchAlertmanagerWebhook({ ...body, extra: undefined })).toBeDefined();
    expect(vouchAlertmanagerWebhook({ ...body, receiver: undefined })).toBeUndefined();
    expect(vouchAlertmanagerWebhook(Object.assign(Object.create(null), body))).toBeUndefined();
    expect(vouchAlertmanagerWebhook(JSON.parse('{"__proto__": {}}'))).toBeUndefined();
    const deep = JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) as unknown;
    expect(vouchAlertmanagerWebhook({ ...body, deep })).toBeUndefined();
    expect(() => assertJsonDepth({ ...body, deep }, 'x')).toThrow(/nests deeper/);
  });
});

describe("normalize: the fast path and zod's path give the same result", () => {
  // A payload whose top is not a plain object: both vouches defer, zod parses it (it accepts it).
  const zodOnly = (body: unknown) =>
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? Object.assign(Object.create(null) as object, body)
      : body;
  const outcome = (run: () => unknown) => {
    try {
      return { value: run() };
    } catch (error) {
      return { error: String(error) };
    }
  };
  const optionSets = fc.record({
    environmentLabels: fc.constantFrom(['environment', 'env'], ['env'], ['stage', 'environment']),
    // An empty default is what checkedBuiltAlert must still refuse; a small budget cuts the alert down.
    defaultEnvironment: fc.constantFrom('prod', ''),
    budgetBytes: fc.constantFrom(undefined, 1_500, 600),
  });

  it.each([
    ['alertmanager', normalizeAlertmanager],
    ['cloudwatch', normalizeCloudWatchAlarm],
  ] as const)('%s: the same alerts, or the same error, on generated payloads', (kind, normalize) => {
    let fast = 0;
    let refused = 0;
    fc.assert(
      fc.property(payloads(kind), optionSets, (body, options) => {
        const normalizeOptions = definedOnly(options) as NormalizeOptions;
        const expected = outcome(() => normalize(zodOnly(body), normalizeOptions));
        const actual = outcome(() => normalize(body, normalizeOptions));
        if ('value' in expected) {
          if (vouchAlertmanagerWebhookInPlace(body) ?? vouchCloudWatchAlarmEventInPlace(body)) fast++;
          expect('value' in actual, String((actual as { error?: string }).error)).toBe(true);
          sameShape(actual.value, expected.value);
        } else {
          refused++;
          expect(actual).toEqual(expected);
        }
      }),
      { numRuns: 1_500, seed: 19 },
    );
    expect(fast).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it("keeps none of the payload's objects in the alert (vouched for in place, the payload is the caller's)", () => {
    for (const { name, value } of ALL.filter(({ name }) => /^(alertmanager|cloudwatch)-/.test(name))) {
      const body = structuredClone(value);
      expect(
        vouchAlertmanagerWebhookInPlace(body) ?? vouchCloudWatchAlarmEventInPlace(body),
        name,
      ).toBeDefined();
      const options = { environmentLabels: ['environment', 'env'], defaultEnvironment: 'prod' };
      const alerts = name.startsWith('alertmanager')
        ? normalizeAlertmanager(body, options)
        : [normalizeCloudWatchAlarm(body, options)];
      for (const alert of alerts) {
        alert.labels.added = 'by a reader';
        alert.annotations.added = 'by a reader';
        if (alert.resource.identifiers) alert.resource.identifiers.added = 'by a reader';
      }
      expect(body, name).toStrictEqual(value);
    }
  });
});

/** The options without their undefined fields (as a caller writes them). */
function definedOnly<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as T;
}

describe('checkedAlert (vouch-alert.ts)', () => {
  const samples = GOLDEN_ALERTS as unknown as Json[];

  const outcome = (run: () => unknown) => {
    try {
      return { value: run() };
    } catch (error) {
      return { error: String(error) };
    }
  };

  it('returns what Alert.parse returns, or throws what it throws, on generated alerts', () => {
    let vouched = 0;
    const resourceOrders = fc.shuffledSubarray(
      [
        'type',
        'id',
        'kind',
        'name',
        'namespace',
        'cluster',
        'node',
        'region',
        'account',
        'arn',
        'identifiers',
      ],
      { minLength: 0 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.array(mutation, { maxLength: 2 }),
        resourceOrders,
        fc.constantFrom('', 'prod', undefined),
        fc.constantFrom(
          '2024-01-01T00:00:00.000Z',
          '+010000-01-01T00:00:00.000Z',
          '2024-13-01T00:00:00.000Z',
          undefined,
        ),
        (sample, mutations, order, environment, endsAt) => {
          const candidate = JSON.parse(toText(mutate(sample, mutations) as Json)) as Record<string, unknown>;
          if (candidate !== null && typeof candidate === 'object' && !Array.isArray(candidate)) {
            if (environment !== undefined) candidate.environment = environment;
            if (endsAt !== undefined) candidate.endsAt = endsAt;
            const resource = candidate.resource as Record<string, unknown> | undefined;
            if (resource && typeof resource === 'object' && !Array.isArray(resource)) {
              // normalize builds resources in its own key order; Alert.parse orders them.
              const reordered: Record<string, unknown> = {};
              for (const key of [...order, ...Object.keys(resource)])
                if (key in resource && !(key in reordered)) reordered[key] = resource[key];
              candidate.resource = reordered;
            }
          }
          const expected = outcome(() => Alert.parse(candidate));
          const actual = outcome(() => checkedAlert(candidate));
          if ('value' in expected) {
            vouched++;
            expect('value' in actual).toBe(true);
            sameShape(actual.value, expected.value);
          } else expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 1_500, seed: 19 },
    );
    expect(vouched).toBeGreaterThan(100);
  });

  it('guards what normalize cannot rule out: an empty environment, a year past 9999', () => {
    const [alert] = samples as Array<Record<string, unknown>>;
    expect(() => checkedAlert({ ...alert, environment: '' })).toThrow(/environment/);
    expect(() => checkedAlert({ ...alert, startsAt: '+010000-01-01T00:00:00.000Z' })).toThrow(/startsAt/);
  });
});

describe('toIsoTimestamp: arithmetic where Date would agree, Date elsewhere', () => {
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
  const timestamp = fc
    .tuple(
      fc
        .oneof(
          fc.integer({ min: 0, max: 9999 }),
          fc.constantFrom(0, 1, 4, 96, 99, 100, 400, 1900, 2000, 2024),
        )
        .map((n) => String(n).padStart(4, '0')),
      fc.oneof(two(19), fc.constant('02')),
      fc.oneof(two(39), fc.constantFrom('28', '29', '30', '31')),
      fc.constantFrom('T', 't'),
      two(29),
      two(69),
      two(69),
      fc.option(fc.stringMatching(/^[0-9]{1,12}$/), { nil: undefined }),
      fc.oneof(
        fc.constantFrom('Z', 'z'),
        fc
          .tuple(fc.constantFrom('+', '-'), two(29), fc.constantFrom(':', ''), two(69))
          .map((parts) => parts.join('')),
      ),
    )
    .map(
      ([year, month, day, t, hour, minute, second, fraction, zone]) =>
        `${year}-${month}-${day}${t}${hour}:${minute}:${second}${fraction === undefined ? '' : `.${fraction}`}${zone}`,
    );

  it('gives what Date gives for every timestamp the pattern reads', () => {
    fc.assert(
      fc.property(timestamp, (text) => {
        const match = matchTimestamp(text);
        expect(match).not.toBeNull();
        expect(toIsoTimestamp(text)).toBe(isoByDate(match!));
      }),
      { numRuns: 20_000, seed: 19 },
    );
  });
});

describe('jsonBytesBound', () => {
  it('never under-counts, so an alert the bound lets through fits', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'grapheme' }),
        fc.constantFrom('\u0000', '\uD800', '"\\', '\u2028'),
        fc.double({ noNaN: true }),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string({ unit: 'binary' }), tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        expect(jsonBytesBound(value)).toBeGreaterThanOrEqual(
          Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8'),
        );
      }),
      { numRuns: 5_000, seed: 19 },
    );
    for (const alert of GOLDEN_ALERTS) expect(fitAlertToBudget(alert, jsonBytesBound(alert))).toBe(alert);
  });
});

describe('RunbookSelector.select', () => {
  const catalog = parseRunbookCatalog(
    JSON.parse(readFileSync(join(libraryStatemachinesDir(), 'runbooks.json'), 'utf8')),
  );
  const selector = new RunbookSelector(catalog);
  const alerts = GOLDEN_ALERTS;
  // The catalog's own names and URLs, and one of each it does not know (the library may name none)
  const names = [...catalog.flatMap((runbook) => runbook.answers?.alerts ?? []), 'NoRunbookAnswersThis'];
  const urls = [
    ...catalog.flatMap((runbook) => runbook.answers?.runbookUrls ?? []),
    'https://runbooks.example.com/nothing',
  ];

  it('selects what selectRunbook selects, with the same considered list, on generated alerts', () => {
    const alert = fc
      .record({
        base: fc.constantFrom(...alerts),
        name: fc.option(fc.oneof(fc.constantFrom(...names), fc.string()), { nil: undefined }),
        source: fc.option(fc.constantFrom('prometheus', 'cloudwatch', 'manual', 'other'), { nil: undefined }),
        url: fc.option(
          fc.oneof(
            fc.constantFrom(...urls),
            fc.constantFrom(...urls).map((url) => `${url.toUpperCase()}/`),
            fc.string(),
          ),
          { nil: undefined },
        ),
        namespace: fc.option(fc.constantFrom('AWS/Lambda', 'ContainerInsights', 'AWS/EC2', 'aws/lambda'), {
          nil: undefined,
        }),
        environment: fc.constantFrom('prod', 'staging', 'dev'),
      })
      .map(({ base, name, source, url, namespace, environment }) => ({
        ...base,
        ...(name === undefined ? {} : { name }),
        ...(source === undefined ? {} : { source }),
        environment,
        labels: { ...base.labels, ...(namespace === undefined ? {} : { namespace }) },
        annotations: { ...base.annotations, ...(url === undefined ? {} : { runbook_url: url }) },
      })) as fc.Arbitrary<Alert>;
    fc.assert(
      fc.property(alert, (value) => {
        expect(selector.select(value)).toStrictEqual(selectRunbook(value, selector.candidates));
      }),
      { numRuns: 1_000, seed: 19 },
    );
  });
});

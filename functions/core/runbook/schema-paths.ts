import type { z } from 'zod';
import type { PathSegment } from './path.ts';

/**
 * Walks a zod schema along a reference path (`pods[0].ownerName`): does a value of this schema have
 * something there? Validation resolves every `steps.<id>.output…`, `alert.…`, `resource.…` and
 * `parameters.…` reference this way before anything runs, and says "did you mean" with the fields that
 * exist. Pure introspection of zod's definitions; never evaluates anything.
 */

interface SchemaDefinition {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  items?: z.ZodType[];
  rest?: z.ZodType | null;
  getter?: () => z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  values?: unknown[];
  entries?: Record<string, unknown>;
}

function definition(schema: z.ZodType): SchemaDefinition {
  return (schema as unknown as { _zod: { def: SchemaDefinition } })._zod.def;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** The schema under optional/nullable/default/lazy/pipe wrappers (a pipe: its output side). */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let depth = 0; depth < 50; depth++) {
    const def = definition(current);
    if (WRAPPERS.has(def.type) && def.innerType) current = def.innerType;
    else if (def.type === 'lazy' && def.getter) current = def.getter();
    else if (def.type === 'pipe' && def.out)
      current = definition(def.out).type === 'transform' ? def.in! : def.out;
    else return current;
  }
  return current;
}

export type SchemaLookup =
  | { found: true; schema: z.ZodType; kind: string }
  | {
      found: false;
      /** Index of the segment that has no counterpart in the schema. */
      at: number;
      /** What the schema has there (field names), for "did you mean". */
      candidates: string[];
      /** What is there instead, in words: `a number`, `a list`, `an object with pods, total…`. */
      actual: string;
    };

/** A short description of what a schema holds, for messages. */
export function describeSchema(schema: z.ZodType): string {
  const def = definition(unwrap(schema));
  switch (def.type) {
    case 'object': {
      const keys = Object.keys(def.shape ?? {});
      return keys.length === 0
        ? 'an empty object'
        : `an object with ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}`;
    }
    case 'array':
    case 'tuple':
      return 'a list';
    case 'record':
      return 'a map';
    case 'union':
      return (def.options ?? []).map(describeSchema).join(' or ');
    case 'literal':
      return `the literal ${JSON.stringify(def.values?.[0])}`;
    case 'enum':
      return `one of ${Object.values(def.entries ?? {}).join(', ')}`;
    default:
      return `a ${def.type}`;
  }
}

function fieldNames(schema: z.ZodType): string[] {
  const def = definition(unwrap(schema));
  if (def.type === 'object') return Object.keys(def.shape ?? {});
  if (def.type === 'union') return [...new Set((def.options ?? []).flatMap(fieldNames))];
  return [];
}

/** The schema found at `segments` below `schema`, or where and why the path leaves it. */
export function schemaAt(schema: z.ZodType, segments: readonly PathSegment[], offset = 0): SchemaLookup {
  let current = schema;
  for (let index = offset; index < segments.length; index++) {
    const segment = segments[index]!;
    const node = unwrap(current);
    const def = definition(node);
    switch (def.type) {
      case 'any':
      case 'unknown':
        return { found: true, schema: node, kind: def.type };
      case 'union': {
        const misses: Array<Extract<SchemaLookup, { found: false }>> = [];
        for (const option of def.options ?? []) {
          const result = schemaAt(option, segments, index);
          if (result.found) return result;
          misses.push(result);
        }
        const deepest = Math.max(...misses.map((miss) => miss.at));
        const atDeepest = misses.filter((miss) => miss.at === deepest);
        return {
          found: false,
          at: deepest,
          candidates: [...new Set(atDeepest.flatMap((miss) => miss.candidates))],
          actual: atDeepest.map((miss) => miss.actual).join(' or '),
        };
      }
      case 'intersection': {
        const left = schemaAt(def.left!, segments, index);
        return left.found ? left : schemaAt(def.right!, segments, index);
      }
      case 'object': {
        const shape = def.shape ?? {};
        if (typeof segment === 'string' && Object.hasOwn(shape, segment)) {
          current = shape[segment]!;
          continue;
        }
        return { found: false, at: index, candidates: Object.keys(shape), actual: describeSchema(node) };
      }
      case 'record':
        if (typeof segment === 'string') {
          current = def.valueType!;
          continue;
        }
        return { found: false, at: index, candidates: [], actual: 'a map (index it by name, not by number)' };
      case 'array':
        if (typeof segment === 'number') {
          current = def.element!;
          continue;
        }
        return {
          found: false,
          at: index,
          candidates: [],
          actual: `a list (index it: [0]${fieldNames(def.element!).length > 0 ? `, whose items have ${fieldNames(def.element!).slice(0, 8).join(', ')}` : ''})`,
        };
      case 'tuple': {
        const items = def.items ?? [];
        if (typeof segment === 'number' && (segment < items.length || def.rest)) {
          current = segment < items.length ? items[segment]! : def.rest!;
          continue;
        }
        return { found: false, at: index, candidates: [], actual: `a list of ${items.length} items` };
      }
      default:
        return { found: false, at: index, candidates: [], actual: describeSchema(node) };
    }
  }
  return { found: true, schema: current, kind: definition(unwrap(current)).type };
}

/**
 * Paths present in `value` that `schema` does not declare (objects only; maps and unknowns take
 * anything). Tools' tests use it: an output field the declaration lacks is one runbooks cannot
 * reference, and validation would refuse.
 */
export function undeclaredPaths(schema: z.ZodType, value: unknown, path: PathSegment[] = []): string[] {
  const node = unwrap(schema);
  const def = definition(node);
  if (value === null || typeof value !== 'object') return [];
  switch (def.type) {
    case 'union': {
      let best: string[] | undefined;
      for (const option of def.options ?? []) {
        const paths = undeclaredPaths(option, value, path);
        if (best === undefined || paths.length < best.length) best = paths;
      }
      return best ?? [];
    }
    case 'object': {
      const shape = def.shape ?? {};
      return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) =>
        Object.hasOwn(shape, key)
          ? undeclaredPaths(shape[key]!, item, [...path, key])
          : [formatPath([...path, key])],
      );
    }
    case 'record':
      return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) =>
        undeclaredPaths(def.valueType!, item, [...path, key]),
      );
    case 'array':
      return Array.isArray(value)
        ? value.flatMap((item, index) => undeclaredPaths(def.element!, item, [...path, index]))
        : [];
    case 'tuple':
      return Array.isArray(value)
        ? value.flatMap((item, index) => {
            const item_ = def.items?.[index] ?? def.rest;
            return item_ ? undeclaredPaths(item_, item, [...path, index]) : [formatPath([...path, index])];
          })
        : [];
    default:
      return [];
  }
}

export function formatPath(path: readonly PathSegment[]): string {
  return path
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`,
    )
    .join('');
}

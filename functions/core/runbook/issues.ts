import type { z } from 'zod';
import type { Problem } from '../errors.ts';
import { formatPath, type PathSegment } from './path.ts';

/** Turning zod issues and near-misses into messages a runbook author can act on. */

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

export function didYouMean(name: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const close = best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3));
  return close ? ` (did you mean "${best}"?)` : '';
}

export type Issue = z.core.$ZodIssue;

/** Keys a strict object accepts, for "did you mean" on unknown keys. */
function knownKeys(schema: unknown, path: readonly PathSegment[]): string[] {
  let current = schema as z.ZodType | undefined;
  const unwrap = (node: z.ZodType | undefined): z.ZodType | undefined => {
    let inner = node as
      | { def?: { type: string; innerType?: z.ZodType; in?: z.ZodType; getter?: () => z.ZodType } }
      | undefined;
    for (let i = 0; i < 10 && inner?.def; i++) {
      const def: { type: string; innerType?: z.ZodType; in?: z.ZodType; getter?: () => z.ZodType } =
        inner.def;
      if (def.innerType) inner = def.innerType as typeof inner;
      else if (def.type === 'pipe' && def.in) inner = def.in as typeof inner;
      else if (def.type === 'lazy' && def.getter) inner = def.getter() as typeof inner;
      else break;
    }
    return inner as z.ZodType | undefined;
  };
  for (const segment of path) {
    current = unwrap(current);
    const def = (
      current as
        | { def?: { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType } }
        | undefined
    )?.def;
    if (!def) return [];
    if (def.type === 'object' && typeof segment === 'string') current = def.shape?.[segment];
    else if (def.type === 'array' && typeof segment === 'number') current = def.element;
    else return [];
  }
  const def = (unwrap(current) as { def?: { type: string; shape?: Record<string, unknown> } } | undefined)
    ?.def;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

/** A union error lists every branch's issues; keep the branch that got furthest (fewest issues, deepest). */
function bestUnionIssues(issue: Issue & { code: 'invalid_union' }): Issue[] | undefined {
  const branches = issue.errors.filter((branch) => branch.length > 0);
  if (branches.length === 0) return undefined;
  const score = (branch: Issue[]) =>
    branch.some((inner) => inner.code === 'unrecognized_keys' && inner.path.length === 0)
      ? 1000
      : branch.length;
  const best = [...branches].sort((a, b) => score(a) - score(b))[0]!;
  if (score(best) >= 1000) return undefined;
  return best.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }) as Issue);
}

/** A value as a message shows it: short, and never walked (it may nest deeper than the stack). */
export function previewValue(value: unknown, max = 60): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return value.length > max
      ? `${JSON.stringify(value.slice(0, max - 3))}… (${value.length} characters)`
      : JSON.stringify(value);
  return String(value);
}

/** A zod issue in words a runbook author understands. */
export function describeIssue(issue: Issue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      const actual =
        value === undefined
          ? 'missing'
          : Array.isArray(value)
            ? 'a list'
            : value === null
              ? 'null'
              : typeof value;
      if (value === undefined) return `is required (expected ${issue.expected})`;
      return `expected ${issue.expected}, got ${actual}`;
    }
    case 'invalid_value':
      return `must be one of ${issue.values.map((item) => JSON.stringify(item)).join(', ')}, got ${previewValue(value)}`;
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const word = issue.code === 'too_small' ? 'at least' : 'at most';
      const exclusive =
        issue.inclusive === false ? (issue.code === 'too_small' ? 'more than' : 'less than') : word;
      if (issue.origin === 'array' || issue.origin === 'set') return `needs ${word} ${bound} item(s)`;
      if (issue.origin === 'string') return `must be ${word} ${bound} character(s) long`;
      return `must be ${exclusive} ${bound}, got ${previewValue(value)}`;
    }
    default:
      return issue.message;
  }
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** zod issues as problems with paths and clear messages (unknown keys get "did you mean"). */
export function schemaProblems(
  schema: z.ZodType,
  data: unknown,
  issues: readonly Issue[],
): Omit<Problem, 'line' | 'column'>[] {
  const problems: Omit<Problem, 'line' | 'column'>[] = [];
  const visit = (issue: Issue) => {
    const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
    if (issue.code === 'invalid_union') {
      const best = bestUnionIssues(issue);
      if (best) {
        best.forEach(visit);
        return;
      }
    }
    if (issue.code === 'unrecognized_keys') {
      const options = knownKeys(schema, path);
      for (const key of issue.keys) {
        problems.push({
          check: 'schema',
          path: formatPath([...path, key]),
          message: `unknown field "${key}"${didYouMean(key, options)}${options.length > 0 && !didYouMean(key, options) ? `; allowed: ${options.join(', ')}` : ''}`,
        });
      }
      return;
    }
    problems.push({
      check: 'schema',
      path: formatPath(path),
      message: describeIssue(issue, valueAt(data, path)),
    });
  };
  issues.forEach(visit);
  return problems;
}

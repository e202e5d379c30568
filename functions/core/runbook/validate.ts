import type { z } from 'zod';
import type { Problem } from '../errors.ts';
import type { PolicySet } from '../policy.ts';
import type { ToolCatalog } from '../tool-catalog.ts';
import { didYouMean, runSemanticChecks } from './checks.ts';
import { Runbook } from './model.ts';
import { formatPath, type PathSegment, parseRunbookSource } from './source.ts';

export interface ValidationResult {
  runbook?: Runbook;
  problems: Problem[];
}

export interface ValidationOptions {
  tools: ToolCatalog;
  policies: PolicySet;
}

type Issue = z.core.$ZodIssue;

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

function describeIssue(issue: Issue, value: unknown): string {
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
      return `must be one of ${issue.values.map((item) => JSON.stringify(item)).join(', ')}, got ${JSON.stringify(value)}`;
    case 'too_small':
      return issue.origin === 'array' ? `needs at least ${issue.minimum} item(s)` : issue.message;
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

/**
 * Validates one runbook file's text in passes: YAML, schema, then the named semantic checks. Returns
 * every problem found (with line and column), never throws for bad input.
 */
export function validateRunbookText(
  text: string,
  options: ValidationOptions,
  byteLength?: number,
): ValidationResult {
  const source = parseRunbookSource(text, byteLength);
  if (source.problems.length > 0) return { problems: source.problems };

  const located = (problem: Omit<Problem, 'line' | 'column'>, at: readonly PathSegment[]): Problem => {
    const position = source.locate(at);
    return position ? { ...problem, ...position } : problem;
  };

  const parsed = Runbook.safeParse(source.value);
  if (!parsed.success) {
    const problems = schemaProblems(Runbook, source.value, parsed.error.issues).map((problem) =>
      located(problem, pathSegments(problem.path)),
    );
    return { problems: dedupe(problems) };
  }
  const problems = runSemanticChecks(parsed.data, options.tools, options.policies).map((problem) =>
    located({ check: problem.check, path: formatPath(problem.at), message: problem.message }, problem.at),
  );
  return problems.length > 0
    ? { runbook: parsed.data, problems: dedupe(problems) }
    : { runbook: parsed.data, problems };
}

function pathSegments(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  for (const part of path.matchAll(/([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g)) {
    if (part[2] !== undefined) segments.push(Number(part[2]));
    else if (part[3] !== undefined) segments.push(JSON.parse(`"${part[3]}"`) as string);
    else segments.push(part[1]!);
  }
  return segments;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.path}\u0000${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

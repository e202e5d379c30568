import type { Problem } from '../errors.ts';
import type { PolicySet } from '../policy.ts';
import type { ToolCatalog } from '../tool-catalog.ts';
import { runSemanticChecks } from './checks.ts';
import { schemaProblems } from './issues.ts';
import { Runbook } from './model.ts';
import { formatPath, type PathSegment } from './path.ts';
import { parseRunbookSource } from './source.ts';

export interface ValidationResult {
  runbook?: Runbook;
  problems: Problem[];
}

export interface ValidationOptions {
  tools: ToolCatalog;
  policies: PolicySet;
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

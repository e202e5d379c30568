import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CompiledRunbook, compileRunbook } from '../../functions/core/compiler/compile.ts';
import { formatProblem } from '../../functions/core/errors.ts';
import type { Runbook } from '../../functions/core/runbook/model.ts';
import { validateRunbookText } from '../../functions/core/runbook/validate.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import { loadPolicies, PACKAGE_ROOT } from '../../local/project.ts';

export const ROOT = PACKAGE_ROOT;
export const POLICIES = loadPolicies(join(ROOT, 'cdk.json'));
export const OPTIONS = { tools: TOOL_CATALOG, policies: POLICIES };

/** Loads and validates a runbook file (path relative to the repository); throws listing its problems. */
export function loadRunbook(path: string): Runbook {
  const text = readFileSync(join(ROOT, path), 'utf8');
  const result = validateRunbookText(text, OPTIONS);
  if (!result.runbook || result.problems.length > 0) {
    throw new Error(
      `${path} is invalid:\n${result.problems.map((problem) => formatProblem(path, problem)).join('\n')}`,
    );
  }
  return result.runbook;
}

export function compileFile(path: string): CompiledRunbook {
  return compileRunbook(loadRunbook(path), { tools: TOOL_CATALOG });
}

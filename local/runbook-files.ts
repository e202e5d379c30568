import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import { aslProblems } from '../functions/core/compiler/asl-validation.ts';
import { type CompiledRunbook, compileRunbook } from '../functions/core/compiler/compile.ts';
import { BudgetExceededError, formatProblem, type Problem } from '../functions/core/errors.ts';
import type { PolicySet } from '../functions/core/policy.ts';
import type { Runbook } from '../functions/core/runbook/model.ts';
import { MAX_RUNBOOK_BYTES } from '../functions/core/runbook/source.ts';
import { validateRunbookText } from '../functions/core/runbook/validate.ts';
import type { ToolCatalog } from '../functions/core/tool-catalog.ts';

const RUNBOOK_EXTENSIONS = new Set(['.yaml', '.yml']);

export interface RunbookFileResult {
  file: string;
  runbook?: Runbook;
  problems: Problem[];
}

/** Expands files and directories (one level, sorted) into runbook files; a missing path is a problem. */
export function listRunbookFiles(paths: readonly string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) {
      missing.push(path);
      continue;
    }
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        const file = join(path, entry);
        if (RUNBOOK_EXTENSIONS.has(extname(entry)) && statSync(file).isFile()) files.push(file);
      }
    } else {
      files.push(path);
    }
  }
  return { files: [...new Set(files)], missing };
}

function readText(file: string): { text: string; bytes: number } {
  const bytes = statSync(file).size;
  // Never read a huge file whole: the size check alone decides.
  if (bytes > MAX_RUNBOOK_BYTES) return { text: '', bytes };
  return { text: readFileSync(file, 'utf8'), bytes };
}

/** Validates one runbook file on its own (its id must match its file name). */
export function validateRunbookFile(
  file: string,
  options: { tools: ToolCatalog; policies: PolicySet },
): RunbookFileResult {
  const { text, bytes } = readText(file);
  const result = validateRunbookText(text, options, bytes);
  const problems = [...result.problems];
  if (result.runbook) {
    const expected = `${result.runbook.id}${extname(file)}`;
    if (basename(file) !== expected) {
      problems.push({
        check: 'fileName',
        path: 'id',
        message: `file name "${basename(file)}" does not match id "${result.runbook.id}"; rename the file to ${expected}`,
        line: 1,
        column: 1,
      });
    }
  }
  return result.runbook ? { file, runbook: result.runbook, problems } : { file, problems };
}

/** The check across files: each id is used once (the later files with a used id get the problem). */
export function markDuplicateIds(results: readonly RunbookFileResult[]): void {
  const seen = new Map<string, string>();
  for (const result of results) {
    if (!result.runbook) continue;
    const first = seen.get(result.runbook.id);
    if (first) {
      result.problems.push({
        check: 'detectDuplicateIds',
        path: 'id',
        message: `runbook id "${result.runbook.id}" is already used by ${first}`,
      });
    } else {
      seen.set(result.runbook.id, result.file);
    }
  }
}

/** Validates runbook files: each file on its own, then across files (file name = id, unique ids). */
export function validateRunbookFiles(
  files: readonly string[],
  options: { tools: ToolCatalog; policies: PolicySet },
): RunbookFileResult[] {
  const results = files.map((file) => validateRunbookFile(file, options));
  markDuplicateIds(results);
  return results;
}

export function formatResults(results: readonly RunbookFileResult[], cwd = process.cwd()): string[] {
  return results.flatMap((result) =>
    result.problems.map((problem) => formatProblem(relative(cwd, result.file) || result.file, problem)),
  );
}

export interface CompiledFile {
  file: string;
  runbook: Runbook;
  outFile: string;
  compiled?: CompiledRunbook;
  error?: BudgetExceededError;
}

/** Compiles valid runbooks; budget failures come back per file, other errors propagate. */
export function compileRunbookFiles(
  results: readonly RunbookFileResult[],
  outDir: string,
  tools: ToolCatalog,
): CompiledFile[] {
  return results.flatMap((result): CompiledFile[] => {
    if (!result.runbook) return [];
    const outFile = join(outDir, `${result.runbook.id}.asl.json`);
    try {
      const compiled = compileRunbook(result.runbook, { tools });
      const problems = aslProblems(compiled.definition);
      if (problems.length > 0) {
        // The runbook validated, so an invalid machine is our bug, not the author's.
        throw new Error(
          `the compiler produced an invalid state machine for ${result.runbook.id}: ${problems.join('; ')}`,
        );
      }
      return [{ file: result.file, runbook: result.runbook, outFile, compiled }];
    } catch (error) {
      if (error instanceof BudgetExceededError)
        return [{ file: result.file, runbook: result.runbook, outFile, error }];
      throw error;
    }
  });
}

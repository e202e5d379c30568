import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CATALOG_FILE, runbookCatalogText } from '../../functions/core/runbook/catalog.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import { compileRunbookFiles, listRunbookFiles, validateRunbookFiles } from '../../local/runbook-files.ts';
import { selectScenarios } from '../../local/sim/scenarios/index.ts';
import { OPTIONS, ROOT } from './runbooks.ts';

/**
 * The project's own tests run against a fixed library of runbooks (test/fixtures/library/runbooks), not
 * runbooks/: runbooks/ belongs to the team that uses the platform, and changing it must not break the
 * project's tests. Per-runbook checks (test/library/) run for whatever runbooks/ holds.
 */

export const LIBRARY_RUNBOOKS_DIR = 'test/fixtures/library/runbooks';

/** `test/fixtures/library/runbooks/<id>.yaml`, relative to the repository. */
export function libraryFile(id: string): string {
  return `${LIBRARY_RUNBOOKS_DIR}/${id}.yaml`;
}

const compiled = new Map<string, string>();

/**
 * The library compiled as `runbook compile` would (machines and runbooks.json) into a temporary
 * directory, once per test process: what infra synthesizes and the embedded platform runs in tests.
 */
export function libraryStatemachinesDir(): string {
  return compiledStatemachinesDir(LIBRARY_RUNBOOKS_DIR);
}

/**
 * A runbooks directory (relative to the repository) compiled into a temporary directory, once per test
 * process: tests that serve runbooks/ run what it holds now, whether or not `npm run compile` ran.
 */
export function compiledStatemachinesDir(runbooksDir: string): string {
  const known = compiled.get(runbooksDir);
  if (known) return known;
  const out = mkdtempSync(join(tmpdir(), 'runbook-library-'));
  mkdirSync(out, { recursive: true });
  const { files } = listRunbookFiles([join(ROOT, runbooksDir)]);
  const results = validateRunbookFiles(files, OPTIONS);
  const machines = compileRunbookFiles(results, out, TOOL_CATALOG);
  for (const machine of machines) {
    if (!machine.compiled) throw new Error(`${machine.file}: ${String(machine.error)}`);
    writeFileSync(machine.outFile, machine.compiled.text);
  }
  writeFileSync(join(out, CATALOG_FILE), runbookCatalogText(machines.map((machine) => machine.runbook)));
  compiled.set(runbooksDir, out);
  return out;
}

/**
 * Of the named scenarios, those whose runbook (scenario.runbookId) is in the runbooks directory now:
 * scenario tests over runbooks/ follow what the team keeps there, so removing a runbook removes its
 * scenario from them (and says so) instead of failing them.
 */
export function scenariosWithRunbook(runbooksDir: string, ids: readonly string[]): string[] {
  const { files } = listRunbookFiles([join(ROOT, runbooksDir)]);
  const present = new Set(
    validateRunbookFiles(files, OPTIONS).flatMap((result) => (result.runbook ? [result.runbook.id] : [])),
  );
  const kept = selectScenarios(ids).filter((scenario) => present.has(scenario.runbookId));
  const left = ids.filter((id) => !kept.some((scenario) => scenario.id === id));
  if (left.length > 0)
    console.warn(`${runbooksDir} holds no runbook for scenario(s) ${left.join(', ')}: not played`);
  return kept.map((scenario) => scenario.id);
}

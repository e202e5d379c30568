import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { StateMachineDefinition } from '../functions/core/compiler/asl.ts';
import type { BudgetReport } from '../functions/core/compiler/budgets.ts';
import { formatProblem } from '../functions/core/errors.ts';
import type { PolicySet } from '../functions/core/policy.ts';
import { CATALOG_FILE, runbookCatalogText } from '../functions/core/runbook/catalog.ts';
import type { Runbook } from '../functions/core/runbook/model.ts';
import { TOOL_CATALOG } from '../functions/tools/declarations.ts';
import {
  type CompiledFile,
  compileRunbookFiles,
  listRunbookFiles,
  markDuplicateIds,
  type RunbookFileResult,
  validateRunbookFile,
} from './runbook-files.ts';

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface RunbookCatalogEntry {
  id: string;
  file: string;
  name?: string;
  version?: string;
  description?: string;
  category?: string;
  environments?: string[];
  /** The runbook's parameters (what a manual start may set). */
  parameters?: Runbook['parameters'];
  problems: string[];
  budgets?: BudgetReport;
  definition?: StateMachineDefinition;
  runbook?: Runbook;
}

/**
 * What the embedded platform runs: the runbooks in runbooks/, validated, and their compiled machines
 * from statemachines/ — recompiled and rewritten first when stale, so the platform runs exactly the
 * files CDK deploys. Invalid runbooks are listed with their problems and not run.
 */
export async function loadRunbookCatalog(options: {
  cwd: string;
  runbooksDir: string;
  statemachinesDir: string;
  policies: PolicySet;
  log: (line: string) => void;
}) {
  const { files } = listRunbookFiles([options.runbooksDir]);
  // One runbook at a time, the event loop served between them: a library takes a second or more to
  // validate and compile, and whatever shares the process (timers, a server, the demo's simulated
  // exporters answering Prometheus' scrapes) should wait tens of milliseconds, not all of it.
  const results: RunbookFileResult[] = [];
  for (const file of files) {
    results.push(validateRunbookFile(file, { tools: TOOL_CATALOG, policies: options.policies }));
    await yieldToEventLoop();
  }
  markDuplicateIds(results);
  const valid = results.filter((result) => result.runbook && result.problems.length === 0);
  const compiled: CompiledFile[] = [];
  for (const result of valid) {
    compiled.push(...compileRunbookFiles([result], options.statemachinesDir, TOOL_CATALOG));
    await yieldToEventLoop();
  }
  const entries: RunbookCatalogEntry[] = [];
  for (const result of results) {
    const file = relative(options.cwd, result.file) || result.file;
    const problems = result.problems.map((problem) => formatProblem(file, problem));
    const runbook = result.runbook;
    const base: RunbookCatalogEntry = {
      id: runbook?.id ?? file,
      file,
      problems,
      ...(runbook
        ? {
            name: runbook.name,
            version: runbook.version,
            description: runbook.description,
            category: runbook.category,
            environments: runbook.environmentConstraints.environments,
            parameters: runbook.parameters,
          }
        : {}),
    };
    const entry = compiled.find((candidate) => candidate.file === result.file);
    if (!entry || problems.length > 0) {
      for (const line of problems) options.log(`invalid ${line}`);
      entries.push(base);
      continue;
    }
    if (entry.error) {
      options.log(`over budget ${file}: ${entry.error.message}`);
      entries.push({ ...base, problems: [`${file}  ${entry.error.message}`] });
      continue;
    }
    const { text, budgets } = entry.compiled!;
    const current = existsSync(entry.outFile) ? readFileSync(entry.outFile, 'utf8') : undefined;
    if (current !== text) {
      mkdirSync(options.statemachinesDir, { recursive: true });
      writeFileSync(entry.outFile, text);
      options.log(`compiled ${file} -> ${relative(options.cwd, entry.outFile)} (it was stale)`);
    }
    // Run what is on disk (now equal to the fresh compile): the very file CDK deploys.
    const onDisk = JSON.parse(readFileSync(entry.outFile, 'utf8')) as StateMachineDefinition;
    entries.push({ ...base, budgets, definition: onDisk, runbook: entry.runbook });
  }
  const runnable = entries.flatMap((entry) => (entry.runbook ? [entry.runbook] : []));
  const catalogFile = join(options.statemachinesDir, CATALOG_FILE);
  const catalogText = runbookCatalogText(runnable);
  if (
    results.every((result) => result.problems.length === 0) &&
    (!existsSync(catalogFile) || readFileSync(catalogFile, 'utf8') !== catalogText)
  ) {
    writeFileSync(catalogFile, catalogText);
  }
  return entries;
}

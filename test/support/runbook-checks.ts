import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Alert } from '../../functions/core/alert.ts';
import { RunbookSelector } from '../../functions/core/classifier/select.ts';
import { aslProblems } from '../../functions/core/compiler/asl-validation.ts';
import { type CompiledRunbook, compileRunbook } from '../../functions/core/compiler/compile.ts';
import { formatProblem } from '../../functions/core/errors.ts';
import type { ExampleAlert, Runbook } from '../../functions/core/runbook/model.ts';
import { validateRunbookText } from '../../functions/core/runbook/validate.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import { examplePayload } from '../../local/alert-payloads.ts';
import { alertsOfPayload } from '../../local/match.ts';
import { OPTIONS } from './runbooks.ts';

/**
 * The checks every runbook must pass, whatever directory holds it: the team's runbooks/ (test/library)
 * and any copy of one (the copy test). Each returns problems in words; none knows which runbooks exist.
 */

export interface RunbookUnderCheck {
  file: string;
  runbook: Runbook;
  compiled: CompiledRunbook;
}

/** Validates and compiles every runbook of a directory; throws listing every problem of every file. */
export function loadRunbookDirectory(directory: string): RunbookUnderCheck[] {
  const files = readdirSync(directory)
    .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
    .sort()
    .map((file) => join(directory, file));
  const problems: string[] = [];
  const loaded: RunbookUnderCheck[] = [];
  for (const file of files) {
    const result = validateRunbookText(readFileSync(file, 'utf8'), OPTIONS);
    if (!result.runbook || result.problems.length > 0) {
      problems.push(...result.problems.map((problem) => formatProblem(file, problem)));
      continue;
    }
    const compiled = compileRunbook(result.runbook, { tools: TOOL_CATALOG });
    problems.push(...aslProblems(compiled.definition).map((problem) => `${file}: ${problem}`));
    loaded.push({ file, runbook: result.runbook, compiled });
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return loaded;
}

/** The compiled machine in `statemachinesDir` is exactly what the runbook compiles to. */
export function staleMachineProblem(entry: RunbookUnderCheck, statemachinesDir: string): string | undefined {
  const path = join(statemachinesDir, `${entry.runbook.id}.asl.json`);
  if (!existsSync(path)) return `${path} is missing: run npm run compile`;
  return readFileSync(path, 'utf8') === entry.compiled.text
    ? undefined
    : `${path} is stale: run npm run compile`;
}

/** The alerts an example stands for, normalized exactly as a live alert would be. */
export function exampleAlerts(example: ExampleAlert, environment: string): Alert[] {
  const payload = examplePayload(example, environment);
  return alertsOfPayload(payload.body, {
    environmentLabels: ['environment', 'env'],
    defaultEnvironment: environment,
  });
}

/**
 * Problems with a runbook's examples: it has none, or one of them would not select it among `all` (in
 * each environment the runbook allows that has an example of its own, default: its first).
 */
export function exampleProblems(runbook: Runbook, all: readonly Runbook[]): string[] {
  if (runbook.examples.length === 0)
    return [`${runbook.id} has no example alert: add one under examples: (an alert as its source sends it)`];
  const selector = new RunbookSelector(all);
  const environment = runbook.environmentConstraints.environments[0]!;
  const problems: string[] = [];
  for (const example of runbook.examples) {
    for (const alert of exampleAlerts(example, environment)) {
      const selection = selector.select(alert);
      if (selection.selected?.runbookId !== runbook.id) {
        const mine = selection.considered.find((entry) => entry.runbookId === runbook.id);
        problems.push(
          `${runbook.id} example "${example.name}" selects ${selection.selected?.runbookId ?? 'no runbook'}, not ${runbook.id} (${mine?.outcome}: ${mine?.reason})`,
        );
      }
    }
  }
  return problems;
}

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exampleProblems, loadRunbookDirectory, staleMachineProblem } from '../support/runbook-checks.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The per-runbook checks, generated for whatever runbooks/ holds (it belongs to the team: nothing here
 * names a runbook). Every runbook validates, compiles within Step Functions' budgets to the committed
 * statemachines/ file, and has example alerts that select it.
 */

const RUNBOOKS = loadRunbookDirectory(join(ROOT, 'runbooks'));
const ALL = RUNBOOKS.map((entry) => entry.runbook);

describe.each(RUNBOOKS.map((entry) => [entry.runbook.id, entry] as const))('runbook %s', (_id, entry) => {
  it('compiles to its committed statemachines/ file (run `npm run compile` when this fails)', () => {
    expect(staleMachineProblem(entry, join(ROOT, 'statemachines'))).toBeUndefined();
  });

  it('has example alerts, each of which selects it', () => {
    expect(exampleProblems(entry.runbook, ALL)).toEqual([]);
  });
});

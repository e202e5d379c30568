import { bench, describe } from 'vitest';
import { explainExecution } from '../../functions/core/findings/explain.ts';
import { diagnosticOutcome, rolloutHistoryOutput, workloadStatusOutput } from '../support/explain-outputs.ts';
import { type SeedRun, seedRuns } from '../support/learning-history.ts';
import { loadRunbook } from '../support/runbooks.ts';

// What an approval page costs beyond its reads: one explanation against 50 and 100 earlier runs
// (each with its diagnostics' outputs); linear in runs, so 100 should take about twice 50.
const RUNBOOK = loadRunbook('test/fixtures/runbooks/explain/roll-back-release.yaml');
const RELEASED_AT = '2026-11-25T09:56:00.000Z';

function past(count: number) {
  const runs: SeedRun[] = Array.from({ length: count }, (_, index) => ({
    status: index % 4 === 0 ? 'failed' : 'succeeded',
    steps: {
      workload: { output: workloadStatusOutput(4) },
      history: { output: rolloutHistoryOutput(RELEASED_AT) },
      'rollout-undo': { status: index % 4 === 0 ? 'failed' : 'succeeded', durationMs: 3_000 + index * 10 },
    },
  }));
  const seeded = seedRuns(RUNBOOK, runs, Date.parse('2026-11-01T08:00:00Z'));
  return seeded.executions.map((execution, index) => ({ execution, outcomes: seeded.outcomes[index]! }));
}

const subject = {
  id: 'now',
  runbookId: RUNBOOK.id,
  alert: { name: 'PodMemoryGrowth', startsAt: '2026-11-25T09:59:00.000Z', resource: { type: 'k8s-pod' } },
};
const outcomes = [
  diagnosticOutcome(
    'now',
    { id: 'workload', name: 'w', tool: 'k8s.workload-status' },
    workloadStatusOutput(4),
    '2026-11-25T09:59:40.000Z',
  ),
  diagnosticOutcome(
    'now',
    { id: 'history', name: 'h', tool: 'k8s.rollout-history' },
    rolloutHistoryOutput(RELEASED_AT),
    '2026-11-25T09:59:40.000Z',
  ),
];
const steps = [{ id: 'rollout-undo', name: 'Roll back' }];
const now = new Date('2026-11-25T10:00:00.000Z');
const fifty = past(50);
const hundred = past(100);

describe('explaining an execution', () => {
  bench('against 50 earlier runs', () => {
    explainExecution({ subject, outcomes, past: fifty, steps, runbook: RUNBOOK, now });
  });
  bench('against 100 earlier runs', () => {
    explainExecution({ subject, outcomes, past: hundred, steps, runbook: RUNBOOK, now });
  });
});

import type { StepStatistics } from '../records.ts';
import type { Runbook } from '../runbook/model.ts';
import type { RunbookHistory } from './history.ts';
import { runbookEvidence } from './suggestions/evidence.ts';

/**
 * Step statistics with how often each step decided (of the runs that could tell), replayed from the
 * runbook's history: what the planner (learning/step-order.ts) reads from the learned aggregate. Kept
 * apart from the planner: the replay needs the runbook's checks, which the step runner does not bundle.
 */
export function withDecisions(
  statistics: readonly StepStatistics[],
  runbook: Runbook,
  history: RunbookHistory,
): StepStatistics[] {
  const evidence = runbookEvidence(runbook, history).steps;
  return statistics.map((entry) => {
    const step = evidence.get(entry.stepId);
    if (step?.location.kind !== 'phase') return entry;
    return { ...entry, decisions: { decided: step.decided, decidable: step.runs - step.undetermined } };
  });
}

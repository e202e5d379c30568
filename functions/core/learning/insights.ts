import type { Runbook } from '../runbook/model.ts';
import { type StepEffectiveness, signatureOf, stepEffectiveness } from './effectiveness.ts';
import type { RunbookHistory } from './history.ts';
import { type Prediction, predictRun, predictSteps, type StepPrediction } from './prediction.ts';

/**
 * What the learning report shows per runbook beside its counts: which steps earn their place, and
 * what the next run of each alert signature it has seen will likely do, step by step.
 */

export interface SignaturePrediction {
  signature: string;
  /** Runs of this signature in the history. */
  runs: number;
  run: Prediction;
  steps: StepPrediction[];
}

export interface RunbookInsights {
  effectiveness: Omit<StepEffectiveness, 'runbookId'>;
  /** Most runs first. */
  predictions: SignaturePrediction[];
}

export function runbookInsights(runbook: Runbook, history: RunbookHistory): RunbookInsights {
  const { runbookId: _, ...effectiveness } = stepEffectiveness(runbook, history);
  const runs = new Map<string, number>();
  for (const execution of history.executions) {
    const signature = signatureOf(execution);
    runs.set(signature, (runs.get(signature) ?? 0) + 1);
  }
  const predictions = [...runs]
    .sort(([a, countA], [b, countB]) => countB - countA || a.localeCompare(b))
    .map(([signature, count]) => ({
      signature,
      runs: count,
      run: predictRun(history, signature),
      steps: predictSteps(runbook, history, signature),
    }));
  return { effectiveness, predictions };
}

import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { wilsonLowerBound } from '../automation/evidence.ts';
import { stepLocations } from '../runbook/checks.ts';
import type { Runbook } from '../runbook/model.ts';
import { signatureOf, verifiedResolution } from './effectiveness.ts';
import type { HistoryExecution, RunbookHistory } from './history.ts';
import { ran } from './patterns.ts';

/**
 * What a step (or a whole run) will likely do before it runs, from the runs like it: the same runbook,
 * step and alert signature. Success is a Beta posterior whose prior is the step's rate in the runbook's
 * other signatures, worth PRIOR_RUNS runs, so a signature seen once leans on the others and one seen
 * often speaks for itself. Durations are log-normal, the signature's mean pulled the same way. Every
 * prediction says how many runs it rests on.
 */

/** The prior counts as this many runs: it steadies a signature seen once, and yields to a few more. */
export const PRIOR_RUNS = 2;
/** Two-sided confidence of every interval. */
export const INTERVAL_CONFIDENCE = 0.9;
/** A signature's own duration spread is used from this many runs on; fewer borrow the step's. */
const MIN_OWN_SPREAD_RUNS = 3;

/** One past run of the step (or runbook): its alert signature, whether it worked, how long it took. */
export interface Trial {
  signature: string;
  ok: boolean;
  durationMs?: number;
}

export interface Interval {
  low: number;
  high: number;
}

export interface SuccessPrediction {
  /** Posterior mean. */
  probability: number;
  interval: Interval;
  likely: 'success' | 'failure';
  /** Runs of this signature, and how many of them worked. */
  runs: number;
  succeeded: number;
  prior: {
    /** `other-signatures`: the step's runs in the runbook's other signatures; `none`: uniform. */
    from: 'other-signatures' | 'none';
    runs: number;
    rate: number;
  };
}

export interface DurationPrediction {
  /** The typical (median) duration. */
  expectedMs: number;
  interval: Interval;
  /** Durations of this signature it rests on, and of the others that shaped it. */
  runs: number;
  otherRuns: number;
}

export interface Prediction {
  signature: string;
  success: SuccessPrediction;
  durationMs?: DurationPrediction;
  /** In words: what it rests on. */
  basis: string;
}

export interface StepPrediction extends Prediction {
  stepId: string;
  name: string;
}

/**
 * The Beta(alpha, beta) posterior's interval, as the Wilson score interval of its pseudo-counts: close
 * to the exact quantiles, and an exact Beta quantile (@stdlib's) would put ~40 licensed modules into
 * every Lambda bundle that serves the report.
 */
function posteriorInterval(alpha: number, beta: number): Interval {
  const runs = alpha + beta;
  return {
    low: wilsonLowerBound(alpha, runs, INTERVAL_CONFIDENCE)!,
    high: 1 - wilsonLowerBound(beta, runs, INTERVAL_CONFIDENCE)!,
  };
}

function successOf(own: readonly Trial[], others: readonly Trial[]): SuccessPrediction {
  const succeeded = own.filter((trial) => trial.ok).length;
  const otherSucceeded = others.filter((trial) => trial.ok).length;
  // Laplace-smoothed so a pool of all successes still leaves failure possible.
  const rate = others.length > 0 ? (otherSucceeded + 1) / (others.length + 2) : 0.5;
  // With no other signature, an even rate at the same weight: Beta(1, 1), uniform.
  const [alpha0, beta0] = [PRIOR_RUNS * rate, PRIOR_RUNS * (1 - rate)];
  const alpha = alpha0 + succeeded;
  const beta = beta0 + own.length - succeeded;
  const probability = alpha / (alpha + beta);
  return {
    probability,
    interval: posteriorInterval(alpha, beta),
    likely: probability >= 0.5 ? 'success' : 'failure',
    runs: own.length,
    succeeded,
    prior: { from: others.length > 0 ? 'other-signatures' : 'none', runs: others.length, rate },
  };
}

function logsOf(trials: readonly Trial[]): number[] {
  return trials.flatMap((trial) =>
    trial.durationMs === undefined ? [] : [Math.log(Math.max(1, trial.durationMs))],
  );
}

function meanOf(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function spreadOf(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const centre = meanOf(values);
  return Math.sqrt(values.reduce((sum, value) => sum + (value - centre) ** 2, 0) / (values.length - 1));
}

function durationOf(own: readonly Trial[], others: readonly Trial[]): DurationPrediction | undefined {
  const ownLogs = logsOf(own);
  const otherLogs = logsOf(others);
  if (ownLogs.length + otherLogs.length === 0) return undefined;
  const priorWeight = otherLogs.length > 0 ? PRIOR_RUNS : 0;
  const centre =
    (ownLogs.reduce((sum, value) => sum + value, 0) +
      (priorWeight > 0 ? priorWeight * meanOf(otherLogs) : 0)) /
    (ownLogs.length + priorWeight);
  const spread =
    ownLogs.length >= MIN_OWN_SPREAD_RUNS ? spreadOf(ownLogs) : spreadOf([...ownLogs, ...otherLogs]);
  // A prediction interval for one more run: the spread of runs plus the uncertainty of the centre.
  const z = normalQuantile(1 - (1 - INTERVAL_CONFIDENCE) / 2, 0, 1);
  const margin = z * spread * Math.sqrt(1 + 1 / (ownLogs.length + priorWeight));
  return {
    expectedMs: Math.round(Math.exp(centre)),
    interval: { low: Math.round(Math.exp(centre - margin)), high: Math.round(Math.exp(centre + margin)) },
    runs: ownLogs.length,
    otherRuns: otherLogs.length,
  };
}

/** A prediction for `signature` from past trials of every signature. */
export function predictOutcome(trials: readonly Trial[], signature: string): Prediction {
  const own = trials.filter((trial) => trial.signature === signature);
  const others = trials.filter((trial) => trial.signature !== signature);
  const success = successOf(own, others);
  const durationMs = durationOf(own, others);
  const percent = (value: number) => `${Math.round(value * 100)}%`;
  const basis =
    own.length === 0 && others.length === 0
      ? 'no past runs: an even chance, nothing measured'
      : `${success.succeeded} of ${own.length} runs of ${signature} worked` +
        (others.length > 0
          ? `; prior from ${others.length} runs of other alert signatures (${percent(success.prior.rate)}), worth ${PRIOR_RUNS} runs`
          : '; no other alert signature to lean on');
  return { signature, success, ...(durationMs ? { durationMs } : {}), basis };
}

/** Past runs of one step: each run it ran in, whether its final attempt worked, all its attempts' time. */
export function stepTrials(executions: readonly HistoryExecution[], stepId: string): Trial[] {
  return executions.flatMap((execution) => {
    const entry = execution.steps.find(
      (step) => step.stepId === stepId && (step.kind === 'step' || step.kind === 'check'),
    );
    if (!entry || !ran(entry)) return [];
    const timed = entry.attempts.filter((attempt) => attempt.durationMs !== undefined);
    return [
      {
        signature: signatureOf(execution),
        ok: entry.status === 'succeeded',
        ...(timed.length > 0
          ? { durationMs: timed.reduce((sum, attempt) => sum + attempt.durationMs!, 0) }
          : {}),
      },
    ];
  });
}

/** Past runs of the runbook: a verified resolution is a success; start to stop is the duration. */
export function runTrials(executions: readonly HistoryExecution[]): Trial[] {
  return executions.map((execution) => ({
    signature: signatureOf(execution),
    ok: verifiedResolution(execution),
    ...(execution.stoppedAt
      ? { durationMs: Math.max(0, Date.parse(execution.stoppedAt) - Date.parse(execution.startedAt)) }
      : {}),
  }));
}

/** Every phase step's prediction for an alert of `signature`, in declared order. */
export function predictSteps(runbook: Runbook, history: RunbookHistory, signature: string): StepPrediction[] {
  return stepLocations(runbook)
    .filter((location) => location.kind === 'phase')
    .map((location) => ({
      stepId: location.step.id,
      name: location.step.name,
      ...predictOutcome(stepTrials(history.executions, location.step.id), signature),
    }));
}

/** The whole run's prediction for an alert of `signature`: verified resolution and time to stop. */
export function predictRun(history: RunbookHistory, signature: string): Prediction {
  return predictOutcome(runTrials(history.executions), signature);
}

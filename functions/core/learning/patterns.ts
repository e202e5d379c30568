import type { FailurePattern, SuccessFactor } from '../records.ts';
import { type HistoryExecution, type HistoryStep, RESOURCE_LABELS } from './history.ts';

/**
 * Failure patterns and success factors, pure, from a runbook's history: what its failing steps have in
 * common, and which recorded outputs go with runs that succeeded. Each comes with its support (how
 * many runs show it) so a reader can tell a pattern from a coincidence.
 */

/** A pattern or factor needs at least this many runs behind it. */
export const MIN_SUPPORT = 2;
/** Failure patterns combine at most this many resource labels (7 labels: 29 combinations a run). */
const MAX_PATTERN_LABELS = 2;
/** Numeric facts with more distinct values than this are split at a threshold instead of by value. */
const MAX_CATEGORIES = 4;
const MAX_FACTORS = 20;

/** The error class of a step's final attempt that did not work. */
export function errorClassOf(step: HistoryStep): string | undefined {
  if (step.status === 'timed-out') return step.error?.name ?? 'Runbook.StepTimeout';
  if (step.status === 'failed') return step.error?.name ?? 'Runbook.ToolFailed';
  return undefined;
}

/** Whether the step ran in this execution (skipped steps did not). */
export function ran(step: HistoryStep): boolean {
  return step.status !== 'skipped' && (step.kind === 'step' || step.kind === 'check');
}

/** Every combination of up to MAX_PATTERN_LABELS of the resource's labels, as canonical keys. */
function labelSubsets(resource: Readonly<Record<string, string>>): string[] {
  const present = RESOURCE_LABELS.filter((name) => resource[name] !== undefined).map(
    (name) => [name, resource[name]!] as const,
  );
  const subsets: string[] = [JSON.stringify([])];
  const extend = (start: number, chosen: Array<readonly [string, string]>) => {
    for (let index = start; index < present.length; index++) {
      const next = [...chosen, present[index]!];
      subsets.push(JSON.stringify(next));
      if (next.length < MAX_PATTERN_LABELS) extend(index + 1, next);
    }
  };
  extend(0, []);
  return subsets;
}

/**
 * Step × error class × resource labels. For each step and error class the most telling combination of
 * labels (highest confidence, then fewest labels, then most support) and, when that one names labels,
 * the step's overall pattern beside it.
 */
export function failurePatterns(executions: readonly HistoryExecution[]): FailurePattern[] {
  const runs = new Map<string, number>();
  const failures = new Map<string, { stepId: string; errorClass: string; labels: string; support: number }>();
  for (const execution of executions) {
    const subsets = labelSubsets(execution.alert.resource);
    for (const step of execution.steps) {
      if (!ran(step)) continue;
      const errorClass = errorClassOf(step);
      for (const subset of subsets) {
        const runKey = JSON.stringify([step.stepId, subset]);
        runs.set(runKey, (runs.get(runKey) ?? 0) + 1);
        if (!errorClass) continue;
        const key = JSON.stringify([step.stepId, errorClass, subset]);
        const entry = failures.get(key) ?? { stepId: step.stepId, errorClass, labels: subset, support: 0 };
        entry.support++;
        failures.set(key, entry);
      }
    }
  }
  const candidates = new Map<string, FailurePattern[]>();
  for (const entry of failures.values()) {
    if (entry.support < MIN_SUPPORT) continue;
    const stepRuns = runs.get(JSON.stringify([entry.stepId, entry.labels]))!;
    const pattern: FailurePattern = {
      stepId: entry.stepId,
      errorClass: entry.errorClass,
      labels: Object.fromEntries(JSON.parse(entry.labels) as Array<[string, string]>),
      support: entry.support,
      runs: stepRuns,
      confidence: entry.support / stepRuns,
    };
    const key = JSON.stringify([entry.stepId, entry.errorClass]);
    const patterns = candidates.get(key) ?? [];
    patterns.push(pattern);
    candidates.set(key, patterns);
  }
  const size = (pattern: FailurePattern) => Object.keys(pattern.labels).length;
  const chosen: FailurePattern[] = [];
  for (const patterns of candidates.values()) {
    const [best] = [...patterns].sort(
      (a, b) =>
        b.confidence - a.confidence ||
        size(a) - size(b) ||
        b.support - a.support ||
        JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)),
    );
    chosen.push(best!);
    const overall = patterns.find((pattern) => size(pattern) === 0);
    if (overall && overall !== best) chosen.push(overall);
  }
  return chosen.sort(
    (a, b) =>
      b.support - a.support ||
      b.confidence - a.confidence ||
      a.stepId.localeCompare(b.stepId) ||
      a.errorClass.localeCompare(b.errorClass) ||
      size(a) - size(b),
  );
}

type Scalar = string | number | boolean;

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'boolean' || Number.isFinite(value);
}

/** The best single threshold on a numeric fact: the side that succeeds most, with enough runs on it. */
function numericFactor(
  fact: string,
  observed: Array<{ value: number; succeeded: boolean }>,
  baseline: number,
): SuccessFactor | undefined {
  const sorted = [...observed].sort((a, b) => a.value - b.value);
  const total = sorted.length;
  const totalSucceeded = sorted.filter((entry) => entry.succeeded).length;
  let below = 0;
  let belowSucceeded = 0;
  let best: SuccessFactor | undefined;
  for (let index = 0; index < total; index++) {
    // A split sits between two distinct values: `< value` below it, `≥ value` from it on.
    if (index > 0 && sorted[index]!.value !== sorted[index - 1]!.value) {
      const threshold = sorted[index]!.value;
      const above = total - below;
      const aboveSucceeded = totalSucceeded - belowSucceeded;
      const sides: SuccessFactor[] = [
        {
          fact,
          when: { greaterThanOrEquals: threshold },
          support: above,
          succeeded: aboveSucceeded,
          successRate: aboveSucceeded / above,
          baselineSuccessRate: baseline,
        },
        {
          fact,
          when: { lessThan: threshold },
          support: below,
          succeeded: belowSucceeded,
          successRate: belowSucceeded / below,
          baselineSuccessRate: baseline,
        },
      ];
      for (const side of sides) {
        if (side.support < MIN_SUPPORT || side.successRate <= baseline) continue;
        if (
          !best ||
          side.successRate > best.successRate ||
          (side.successRate === best.successRate && side.support > best.support)
        )
          best = side;
      }
    }
    below++;
    if (sorted[index]!.succeeded) belowSucceeded++;
  }
  return best;
}

/**
 * Recorded outputs (learningHooks.recordOutputs) that go with success: per fact, each value (or, for a
 * numeric fact with many values, the best threshold) whose runs succeeded more often than all runs
 * that recorded the fact, with at least MIN_SUPPORT runs.
 */
export function successFactors(executions: readonly HistoryExecution[]): SuccessFactor[] {
  const byFact = new Map<string, Array<{ value: Scalar; succeeded: boolean }>>();
  for (const execution of executions) {
    for (const [fact, value] of Object.entries(execution.recordedOutputs)) {
      if (!isScalar(value)) continue;
      const observed = byFact.get(fact) ?? [];
      observed.push({ value, succeeded: execution.status === 'succeeded' });
      byFact.set(fact, observed);
    }
  }
  const factors: SuccessFactor[] = [];
  for (const [fact, observed] of byFact) {
    const baseline = observed.filter((entry) => entry.succeeded).length / observed.length;
    const distinct = new Set(observed.map((entry) => JSON.stringify(entry.value)));
    if (observed.every((entry) => typeof entry.value === 'number') && distinct.size > MAX_CATEGORIES) {
      const factor = numericFactor(fact, observed as Array<{ value: number; succeeded: boolean }>, baseline);
      if (factor) factors.push(factor);
      continue;
    }
    const byValue = new Map<string, { runs: number; succeeded: number }>();
    for (const entry of observed) {
      const key = JSON.stringify(entry.value);
      const counts = byValue.get(key) ?? { runs: 0, succeeded: 0 };
      counts.runs++;
      if (entry.succeeded) counts.succeeded++;
      byValue.set(key, counts);
    }
    for (const [key, counts] of byValue) {
      const successRate = counts.succeeded / counts.runs;
      if (counts.runs < MIN_SUPPORT || successRate <= baseline) continue;
      factors.push({
        fact,
        when: { equals: JSON.parse(key) as Scalar },
        support: counts.runs,
        succeeded: counts.succeeded,
        successRate,
        baselineSuccessRate: baseline,
      });
    }
  }
  return factors
    .sort(
      (a, b) =>
        b.successRate - b.baselineSuccessRate - (a.successRate - a.baselineSuccessRate) ||
        b.support - a.support ||
        a.fact.localeCompare(b.fact) ||
        JSON.stringify(a.when).localeCompare(JSON.stringify(b.when)),
    )
    .slice(0, MAX_FACTORS);
}

/** A success factor's condition as people read it: `≥ 91`, `< 20`, `= "Running"`. */
export function describeFactorCondition(factor: SuccessFactor): string {
  if ('equals' in factor.when) return `= ${JSON.stringify(factor.when.equals)}`;
  if ('greaterThanOrEquals' in factor.when) return `≥ ${factor.when.greaterThanOrEquals}`;
  return `< ${factor.when.lessThan}`;
}

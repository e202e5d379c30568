import type { OrderedStep, PhaseOrder, StepStatistics } from '../records.ts';

/**
 * The order of a reorderable phase, per execution, from what was measured: the step most likely to
 * reach a decisive finding per second of runtime goes first (hit rate ÷ expected duration, the
 * classic order for searching with costly tests). Parallel groups spread their steps over lanes by
 * expected duration (longest first onto the least-loaded lane) and order each lane the same way.
 * Without any history the declared order (and declared durations) stand. Pure: the step runner's
 * planning task feeds it the runbook's learned step statistics.
 */

/** Marks the end of a lane's queue for the compiled dispatcher (never a step id: ids are kebab-case). */
export const ORDER_DONE = '(done)';

export interface OrderCandidate {
  id: string;
  /** The runbook's own figure, if it declares one. */
  expectedSeconds?: number;
  timeoutSeconds: number;
}

export interface OrderRequest {
  phase: string;
  mode: 'sequential' | 'parallel';
  /** Parallel groups: how many lanes run at once (the compiled machine's lane count). */
  lanes: number;
  /** In declared order. */
  steps: readonly OrderCandidate[];
  statistics: readonly StepStatistics[] | undefined;
  now: Date;
  /** Why no statistics could be read, when that is the case (said in the reason). */
  unavailable?: string;
}

/** What the compiled dispatcher reads: the queue of step ids, where it is, and the step it runs next. */
export interface LaneQueue {
  steps: string[];
  position: number;
  current: string;
}

export interface PlannedOrder {
  record: PhaseOrder;
  /** Sequential: one queue; parallel: exactly `lanes` queues (an empty lane is just ORDER_DONE). */
  queues: LaneQueue[];
}

function queueOf(ids: readonly string[]): LaneQueue {
  return { steps: [...ids, ORDER_DONE], position: 0, current: ids[0] ?? ORDER_DONE };
}

function seconds(ms: number): string {
  return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

/** One step's figures: hit rate smoothed with a uniform prior, duration measured else declared. */
function figures(candidate: OrderCandidate, statistics: StepStatistics | undefined): OrderedStep {
  const decided = statistics?.decisions?.decided ?? 0;
  const runs = statistics?.decisions?.decidable ?? 0;
  const hitRate = (decided + 1) / (runs + 2);
  const measuredMs = statistics && statistics.runs > 0 ? statistics.p50DurationMs : undefined;
  const expectedMs = measuredMs ?? (candidate.expectedSeconds ?? candidate.timeoutSeconds) * 1_000;
  return {
    stepId: candidate.id,
    source: runs > 0 ? 'measured' : 'declared',
    runs,
    decided,
    hitRate,
    expectedMs,
    durationSource: measuredMs === undefined ? 'declared' : 'measured',
    durationRuns: measuredMs === undefined ? 0 : statistics!.runs,
    // A step measured at 0 ms still costs something: a millisecond keeps the key finite.
    hitsPerSecond: hitRate / (Math.max(expectedMs, 1) / 1_000),
  };
}

function describe(step: OrderedStep): string {
  const rate =
    step.source === 'measured' ? `decided ${step.decided}/${step.runs}` : 'no decisions recorded (prior 1/2)';
  const duration = `${step.durationSource === 'measured' ? `p50 ${seconds(step.expectedMs)} over ${step.durationRuns} runs` : `declared ${seconds(step.expectedMs)}`}`;
  return `${step.stepId} ${rate}, ${duration}: ${step.hitsPerSecond.toFixed(3)}/s`;
}

/** Highest hit rate per second first; the declared order breaks ties. */
function byHitsPerSecond(index: ReadonlyMap<string, number>) {
  return (a: OrderedStep, b: OrderedStep) =>
    b.hitsPerSecond - a.hitsPerSecond || index.get(a.stepId)! - index.get(b.stepId)!;
}

export function planStepOrder(request: OrderRequest): PlannedOrder {
  const byId = new Map((request.statistics ?? []).map((entry) => [entry.stepId, entry]));
  const index = new Map(request.steps.map((step, position) => [step.id, position]));
  const steps = request.steps.map((candidate) => figures(candidate, byId.get(candidate.id)));
  const measured = steps.some((step) => step.source === 'measured' || step.durationSource === 'measured');
  const basis = measured ? 'measured' : 'declared';
  const declaredReason = request.unavailable
    ? `declared order: the learned statistics could not be read (${request.unavailable})`
    : 'declared order: no recorded runs of these steps yet';
  const ordered = measured ? [...steps].sort(byHitsPerSecond(index)) : steps;

  if (request.mode === 'sequential') {
    const record: PhaseOrder = {
      phase: request.phase,
      mode: 'sequential',
      basis,
      reason: measured
        ? `highest hit rate per second first: ${ordered.map(describe).join('; ')}`
        : declaredReason,
      steps: ordered,
      plannedAt: request.now.toISOString(),
    };
    return { record, queues: [queueOf(ordered.map((step) => step.stepId))] };
  }

  // Longest expected duration first onto the least-loaded lane (LPT), then each lane by hit rate per second.
  const laneCount = Math.max(1, Math.min(request.lanes, steps.length));
  const lanes = Array.from({ length: request.lanes }, () => ({ load: 0, steps: [] as OrderedStep[] }));
  const longestFirst = [...steps].sort(
    (a, b) => b.expectedMs - a.expectedMs || index.get(a.stepId)! - index.get(b.stepId)!,
  );
  for (const step of longestFirst) {
    const lane = lanes
      .slice(0, laneCount)
      .reduce((least, candidate) => (candidate.load < least.load ? candidate : least));
    lane.steps.push(step);
    lane.load += step.expectedMs;
  }
  const inLanes = lanes.map((lane, laneIndex) =>
    (measured
      ? [...lane.steps].sort(byHitsPerSecond(index))
      : [...lane.steps].sort((a, b) => index.get(a.stepId)! - index.get(b.stepId)!)
    ).map((step) => ({ ...step, lane: laneIndex })),
  );
  const loads = lanes.map((lane) => lane.load);
  const record: PhaseOrder = {
    phase: request.phase,
    mode: 'parallel',
    basis,
    reason: `${laneCount} lanes balanced by ${measured ? 'measured' : 'declared'} duration (longest first onto the least-loaded lane; expected ${loads
      .slice(0, laneCount)
      .map(seconds)
      .join(
        ' / ',
      )}); ${measured ? `each lane by hit rate per second: ${steps.map(describe).join('; ')}` : declaredReason}`,
    steps: inLanes.flat(),
    laneLoadsMs: loads,
    plannedAt: request.now.toISOString(),
  };
  return { record, queues: inLanes.map((lane) => queueOf(lane.map((step) => step.stepId))) };
}

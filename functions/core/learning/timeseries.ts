import { wilsonLowerBound } from '../automation/evidence.ts';
import type { AutomationLevel } from '../automation/levels.ts';
import type { LevelChange } from '../automation/records.ts';
import type { Runbook } from '../runbook/model.ts';
import { RANKING_CONFIDENCE } from './effectiveness.ts';
import type { RunbookHistory } from './history.ts';
import { quantile, runbookEvidence } from './suggestions/evidence.ts';

/**
 * What the Learning page charts, per runbook: outcomes and time to mitigate per UTC day (linear time:
 * one bucket per calendar day that had runs), the automation level as a step function of its recorded
 * changes, and per step how often it decided the branch (with its interval), failed, and how long it
 * took. Pure; every function is linear in its input (plus sorting the days and changes).
 */

const DAY_MS = 86_400_000;

/** A finished real run as the charts read it (an execution record's outcome, or a history entry). */
export interface TimelineRun {
  startedAt: string;
  status: 'succeeded' | 'failed' | 'aborted';
  /** From the alert's start to the verified end; only succeeded runs have one. */
  timeToRecoverMs?: number;
}

export interface DayBucket {
  /** UTC day, YYYY-MM-DD, of the runs' start. */
  day: string;
  runs: number;
  succeeded: number;
  failed: number;
  aborted: number;
  /** succeeded / runs. */
  successRate: number;
  /** Mean time to recover of the day's runs that recovered (time to mitigate). */
  meanTimeToRecoverMs?: number;
  /** Runs behind the mean. */
  recovered: number;
}

export interface LevelPoint {
  at: string;
  level: AutomationLevel;
  /** What moved it there; absent for the level held at the start and at the end of the span. */
  cause?: LevelChange['cause'];
}

export interface StepChartRow {
  stepId: string;
  name: string;
  /** diagnostic, remediation, notification…; `check` for a prerequisite or success check. */
  type: string;
  /** Runs in which it ran (not skipped). */
  runs: number;
  /** Runs whose final attempt failed or timed out. */
  failed: number;
  timedOut: number;
  failureRate?: number;
  /** Time its attempts took per run. */
  durationMs?: { p50: number; p90: number; p99: number };
  /** A diagnostic's decisions over the runs that can tell, with the Wilson interval at RANKING_CONFIDENCE. */
  decision?: { decided: number; decidable: number; rate: number; low: number; high: number };
}

export interface RunbookTimeline {
  bucket: 'day';
  /** Oldest first; days without runs have no bucket (the x axis is linear time all the same). */
  days: DayBucket[];
  /**
   * Oldest first: the level held from the first day's start, each recorded change, and the level now
   * at the end of today (UTC): the charts' time axis spans the first day with runs to the end of today.
   */
  levels: LevelPoint[];
  /** In the runbook's order. */
  steps: StepChartRow[];
}

/** Runs per UTC day of their start: counts, success rate and mean time to recover. */
export function dailyOutcomes(runs: readonly TimelineRun[]): DayBucket[] {
  const byDay = new Map<string, { bucket: DayBucket; recoverSum: number }>();
  for (const run of runs) {
    const day = new Date(run.startedAt).toISOString().slice(0, 10);
    let entry = byDay.get(day);
    if (!entry) {
      entry = {
        bucket: { day, runs: 0, succeeded: 0, failed: 0, aborted: 0, successRate: 0, recovered: 0 },
        recoverSum: 0,
      };
      byDay.set(day, entry);
    }
    entry.bucket.runs++;
    entry.bucket[run.status]++;
    if (run.status === 'succeeded' && run.timeToRecoverMs !== undefined) {
      entry.bucket.recovered++;
      entry.recoverSum += run.timeToRecoverMs;
    }
  }
  return [...byDay.values()]
    .map(({ bucket, recoverSum }) => ({
      ...bucket,
      successRate: bucket.succeeded / bucket.runs,
      ...(bucket.recovered > 0 ? { meanTimeToRecoverMs: Math.round(recoverSum / bucket.recovered) } : {}),
    }))
    .sort((a, b) => a.day.localeCompare(b.day));
}

/**
 * The automation level from `from` to `to` as a step function: the level held at `from` (the first
 * later change's `from`, else the last earlier change's `to`, else `current`), each change in between,
 * and `current` at `to`. `changes` in any order.
 */
export function levelTimeline(
  changes: readonly LevelChange[],
  current: AutomationLevel,
  from: string,
  to: string,
): LevelPoint[] {
  const sorted = [...changes].sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id));
  const start = Date.parse(from);
  const end = Date.parse(to);
  const before = sorted.filter((change) => Date.parse(change.at) <= start);
  const within = sorted.filter((change) => Date.parse(change.at) > start && Date.parse(change.at) <= end);
  const initial = within[0]?.from ?? before.at(-1)?.to ?? current;
  return [
    { at: new Date(start).toISOString(), level: initial },
    ...within.map((change) => ({ at: change.at, level: change.to, cause: change.cause })),
    { at: new Date(end).toISOString(), level: current },
  ];
}

/** Per step of the runbook that ran in its history: decisions with their interval, failures, durations. */
export function stepChart(runbook: Runbook, history: RunbookHistory): StepChartRow[] {
  const evidence = runbookEvidence(runbook, history);
  const rows: StepChartRow[] = [];
  for (const step of evidence.steps.values()) {
    if (step.runs === 0) continue;
    const declared = step.location.step;
    const type = 'type' in declared ? declared.type : 'check';
    const durations = [...step.durationIn.values()];
    const decidable = step.runs - step.undetermined;
    rows.push({
      stepId: step.stepId,
      name: declared.name,
      type,
      runs: step.runs,
      failed: step.failed,
      timedOut: step.timedOut,
      failureRate: step.failed / step.runs,
      ...(durations.length > 0
        ? {
            durationMs: {
              p50: quantile(durations, 0.5),
              p90: quantile(durations, 0.9),
              p99: quantile(durations, 0.99),
            },
          }
        : {}),
      ...(type === 'diagnostic' && decidable > 0
        ? {
            decision: {
              decided: step.decided,
              decidable,
              rate: step.decided / decidable,
              low: wilsonLowerBound(step.decided, decidable, RANKING_CONFIDENCE)!,
              high: 1 - wilsonLowerBound(decidable - step.decided, decidable, RANKING_CONFIDENCE)!,
            },
          }
        : {}),
    });
  }
  return rows;
}

/**
 * A runbook's timeline: `runs` are its finished real runs in the learning window (all of them, not
 * only the history's most recent), `changes` its recorded level changes, `level` its level now.
 */
export function runbookTimeline(input: {
  runbook: Runbook;
  history: RunbookHistory;
  runs: readonly TimelineRun[];
  changes: readonly LevelChange[];
  level: AutomationLevel | undefined;
  now: Date;
}): RunbookTimeline {
  const days = dailyOutcomes(input.runs);
  // The span ends with today (UTC), so the report reads the same all day until something happens.
  const end = Math.floor(input.now.getTime() / DAY_MS) * DAY_MS + DAY_MS;
  const first = days[0] ? Date.parse(`${days[0].day}T00:00:00.000Z`) : end - DAY_MS;
  return {
    bucket: 'day',
    days,
    levels: input.level
      ? levelTimeline(input.changes, input.level, new Date(first).toISOString(), new Date(end).toISOString())
      : [],
    steps: stepChart(input.runbook, input.history),
  };
}

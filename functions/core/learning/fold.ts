import * as z from 'zod';
import type { ExecutionRecord, LearningAggregate, StepOutcome } from '../records.ts';
import type { Runbook } from '../runbook/model.ts';
import { aggregateRunbook, stepStatistics } from './aggregate.ts';
import { withDecisions } from './decisions.ts';
import { HistoryExecution, runbookHistory } from './history.ts';
import { failurePatterns, successFactors } from './patterns.ts';

/**
 * The incremental learning aggregate, pure. Each execution that stops is folded into its runbook's
 * fold (a bounded state: per-day counts over the window and the last folds) and leaves one run digest
 * (what step statistics, decisions and patterns read of it), so learning after a run costs the same
 * whatever the history. The aggregate is a pure function of the fold and the newest digests;
 * `fullFold` builds both from every record (the repair path).
 */

/** How far back aggregates look (days), and how many newest runs feed step statistics and patterns. */
export const LEARNING_WINDOW_DAYS = 90;
export const STEP_STATISTICS_EXECUTIONS = 50;
/** Fold ids remembered with their contribution: a retry after a crash between two writes finds its own. */
export const FOLDED_REMEMBERED = 32;
/**
 * A run digest larger than this (huge recorded outputs or facts) is left out of step statistics and
 * patterns, so the newest digests stay one store page; its run still counts in the fold.
 */
export const DIGEST_BUDGET_BYTES = 64 * 1024;
const DAY_MS = 86_400_000;

/** What one execution adds to the counts of the day it started on (absent: it counts nowhere). */
export const FoldContribution = z
  .object({
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    alert: z.string(),
    succeeded: z.boolean(),
    failed: z.boolean(),
    aborted: z.boolean(),
    withoutHuman: z.boolean(),
    humanIntervention: z.boolean(),
    rolledBack: z.boolean(),
    rollbackFailed: z.boolean(),
    timeToRecoverMs: z.number().int().min(0).optional(),
    approvals: z.number().int().min(0),
    approvalsAnswered: z.number().int().min(0),
    approvalWaitMs: z.number().min(0),
  })
  .strict();
export type FoldContribution = z.infer<typeof FoldContribution>;

const Count = z.number().int().min(0);

/** One day's runs, summed. */
export const DayCounts = z
  .object({
    executions: Count,
    succeeded: Count,
    failed: Count,
    aborted: Count,
    withoutHuman: Count,
    humanIntervention: Count,
    rollbacks: Count,
    rollbackFailures: Count,
    recovered: Count,
    recoverTotalMs: z.number().min(0),
    approvalsRequested: Count,
    approvalsAnswered: Count,
    approvalWaitMs: z.number().min(0),
    byAlert: z.record(z.string(), z.object({ executions: Count, succeeded: Count }).strict()),
  })
  .strict();
export type DayCounts = z.infer<typeof DayCounts>;

/**
 * A finished run as step statistics and patterns read it: its history entry (each step's final status
 * and every attempt's duration; error names without their messages, which nothing here reads).
 */
export const FoldRun = z
  .object({
    id: z.string(),
    startedAt: z.string(),
    /** Dry runs feed step statistics only, as in the recompute. */
    dryRun: z.boolean(),
    history: HistoryExecution,
  })
  .strict();
export type FoldRun = z.infer<typeof FoldRun>;

/** The final attempt of each step and check of a run, as stepStatistics reads it. */
function finalAttempts(run: FoldRun): Array<Pick<StepOutcome, 'stepId' | 'kind' | 'status' | 'durationMs'>> {
  return run.history.steps.flatMap((step) => {
    if (step.kind !== 'step' && step.kind !== 'check') return [];
    const durationMs = step.attempts.at(-1)?.durationMs;
    return [
      {
        stepId: step.stepId,
        kind: step.kind,
        status: step.status,
        ...(durationMs === undefined ? {} : { durationMs }),
      },
    ];
  });
}

export const LearningFold = z
  .object({
    runbookId: z.string(),
    /** Per UTC day a run started on (yyyy-mm-dd), inside the window. */
    days: z.record(z.string(), DayCounts),
    /** The last folds, newest last, with what each added (idempotence across a crash between writes). */
    folded: z.array(z.object({ id: z.string(), contribution: FoldContribution.nullable() }).strict()),
    updatedAt: z.iso.datetime({ offset: true }),
  })
  .strict();
export type LearningFold = z.infer<typeof LearningFold>;

export function emptyFold(runbookId: string, now: Date): LearningFold {
  return { runbookId, days: {}, folded: [], updatedAt: now.toISOString() };
}

/** The oldest start a run may have and still count (ISO instant). */
export function windowStart(now: Date): string {
  return new Date(now.getTime() - LEARNING_WINDOW_DAYS * DAY_MS).toISOString();
}

/** What a finished real run in the window adds to its day; undefined for dry, unfinished or old runs. */
export function contributionOf(execution: ExecutionRecord, now: Date): FoldContribution | undefined {
  const outcome = execution.outcome;
  if (!outcome || execution.dryRun || execution.startedAt < windowStart(now)) return undefined;
  return {
    day: execution.startedAt.slice(0, 10),
    alert: execution.alert.name,
    succeeded: outcome.status === 'succeeded',
    failed: outcome.status === 'failed',
    aborted: outcome.status === 'aborted',
    withoutHuman: outcome.status === 'succeeded' && !outcome.humanIntervention,
    humanIntervention: outcome.humanIntervention,
    rolledBack: outcome.rolledBack,
    rollbackFailed: outcome.rollbackFailed,
    ...(outcome.timeToRecoverMs === undefined ? {} : { timeToRecoverMs: outcome.timeToRecoverMs }),
    approvals: outcome.approvals,
    approvalsAnswered: outcome.approvalsAnswered,
    approvalWaitMs: outcome.approvalWaitMs,
  };
}

function emptyDay(): DayCounts {
  return {
    executions: 0,
    succeeded: 0,
    failed: 0,
    aborted: 0,
    withoutHuman: 0,
    humanIntervention: 0,
    rollbacks: 0,
    rollbackFailures: 0,
    recovered: 0,
    recoverTotalMs: 0,
    approvalsRequested: 0,
    approvalsAnswered: 0,
    approvalWaitMs: 0,
    byAlert: {},
  };
}

/** Adds (sign 1) or takes back (sign −1) one run's contribution; a day left empty is dropped. */
function applyContribution(
  days: Record<string, DayCounts>,
  contribution: FoldContribution,
  sign: 1 | -1,
): void {
  const existing = days[contribution.day];
  // Taking back from a day that aged out of the window: nothing is counted there any more.
  if (!existing && sign < 0) return;
  const day = existing ?? emptyDay();
  const add = (flag: boolean) => (flag ? sign : 0);
  day.executions += sign;
  day.succeeded += add(contribution.succeeded);
  day.failed += add(contribution.failed);
  day.aborted += add(contribution.aborted);
  day.withoutHuman += add(contribution.withoutHuman);
  day.humanIntervention += add(contribution.humanIntervention);
  day.rollbacks += add(contribution.rolledBack);
  day.rollbackFailures += add(contribution.rollbackFailed);
  if (contribution.timeToRecoverMs !== undefined) {
    day.recovered += sign;
    day.recoverTotalMs += sign * contribution.timeToRecoverMs;
  }
  day.approvalsRequested += sign * contribution.approvals;
  day.approvalsAnswered += sign * contribution.approvalsAnswered;
  day.approvalWaitMs += sign * contribution.approvalWaitMs;
  const alert = day.byAlert[contribution.alert] ?? { executions: 0, succeeded: 0 };
  alert.executions += sign;
  alert.succeeded += add(contribution.succeeded);
  if (alert.executions > 0) day.byAlert[contribution.alert] = alert;
  else delete day.byAlert[contribution.alert];
  if (day.executions > 0) days[contribution.day] = day;
  else delete days[contribution.day];
}

/**
 * The run digest step statistics and patterns read; undefined for a run that has not finished, or
 * whose digest is over DIGEST_BUDGET_BYTES.
 */
export function foldRunOf(
  execution: ExecutionRecord,
  outcomes: readonly StepOutcome[],
  runbook: Runbook | undefined,
  now: Date,
): FoldRun | undefined {
  if (!execution.outcome) return undefined;
  // A dry run's entry is built as a real run's would be; the flag keeps it out of the history.
  const [history] = runbookHistory(
    execution.runbookId,
    runbook,
    [{ ...execution, dryRun: false }],
    [outcomes],
    now,
  ).executions;
  const run: FoldRun = {
    id: execution.id,
    startedAt: execution.startedAt,
    dryRun: execution.dryRun,
    history: {
      ...history!,
      steps: history!.steps.map((step) =>
        step.error ? { ...step, error: { ...step.error, message: '' } } : step,
      ),
    },
  };
  return Buffer.byteLength(JSON.stringify(run)) > DIGEST_BUDGET_BYTES ? undefined : run;
}

/** JSON with keys sorted: the store gives maps back in any order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}

/** Code-unit order, as DynamoDB orders sort keys (localeCompare would not). */
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Newest start first, then the greater id: the order of the digests' sort keys read backwards. */
export const newestFirst = (
  a: Pick<FoldRun, 'startedAt' | 'id'>,
  b: Pick<FoldRun, 'startedAt' | 'id'>,
): number => byCodeUnit(b.startedAt, a.startedAt) || byCodeUnit(b.id, a.id);

/** Drops days that left the window. */
function age(fold: LearningFold, now: Date): void {
  const firstDay = windowStart(now).slice(0, 10);
  for (const day of Object.keys(fold.days)) if (day < firstDay) delete fold.days[day];
}

/** The run digests step statistics read at `now`: in the window, newest first, at most the newest 50. */
export function recentRuns(runs: readonly FoldRun[], now: Date): FoldRun[] {
  const since = windowStart(now);
  return runs
    .filter((run) => run.startedAt >= since)
    .sort(newestFirst)
    .slice(0, STEP_STATISTICS_EXECUTIONS);
}

/**
 * Folds one execution's counts into the fold: its contribution replaces what it added before
 * (`previous`, from its marker, or from the fold's own memory of recent folds), so folding it twice
 * changes nothing and folding it again after its outcome changed (a rollback later) counts the new
 * outcome once. `runChanged`: its digest was written just now, so the aggregate must be published
 * again even when the counts are the same (a dry run's, or a digest a crash left unpublished).
 */
export function foldExecution(
  current: LearningFold,
  execution: ExecutionRecord,
  options: { previous?: FoldContribution | null | undefined; now: Date; runChanged?: boolean },
): { fold: LearningFold; contribution: FoldContribution | null; changed: boolean } {
  const { now } = options;
  const contribution = contributionOf(execution, now) ?? null;
  const remembered = current.folded.find((entry) => entry.id === execution.id);
  // What the fold holds of this execution: its memory of recent folds first (the marker may lag it).
  const known = remembered !== undefined || options.previous !== undefined;
  const before = remembered ? remembered.contribution : (options.previous ?? null);
  const sameCounts = known && canonical(before) === canonical(contribution);
  if (sameCounts && !options.runChanged) return { fold: current, contribution, changed: false };
  const fold = structuredClone(current);
  if (before) applyContribution(fold.days, before, -1);
  if (contribution) applyContribution(fold.days, contribution, 1);
  fold.folded = [
    ...fold.folded.filter((entry) => entry.id !== execution.id),
    { id: execution.id, contribution },
  ].slice(-FOLDED_REMEMBERED);
  age(fold, now);
  fold.updatedAt = now.toISOString();
  return { fold, contribution, changed: true };
}

/**
 * The fold built from every record of the window (the repair path, and a runbook's first fold):
 * `executions` the runbook's executions in the window, `outcomes` keyed by execution id for at least
 * the newest STEP_STATISTICS_EXECUTIONS finished ones.
 */
export function fullFold(
  runbookId: string,
  executions: readonly ExecutionRecord[],
  outcomes: ReadonlyMap<string, readonly StepOutcome[]>,
  runbook: Runbook | undefined,
  now: Date,
): {
  fold: LearningFold;
  runs: FoldRun[];
  contributions: Array<{ executionId: string; contribution: FoldContribution }>;
} {
  const fold = emptyFold(runbookId, now);
  const contributions: Array<{ executionId: string; contribution: FoldContribution }> = [];
  for (const execution of executions) {
    const contribution = contributionOf(execution, now);
    if (!contribution) continue;
    applyContribution(fold.days, contribution, 1);
    contributions.push({ executionId: execution.id, contribution });
  }
  const runs = recentRuns(
    executions.flatMap((execution) => {
      const found = outcomes.get(execution.id);
      const run = found ? foldRunOf(execution, found, runbook, now) : undefined;
      return run ? [run] : [];
    }),
    now,
  );
  // The newest runs are remembered as folded: one stopping now finds itself even before its marker is written.
  fold.folded = [...executions]
    .filter((execution) => execution.outcome)
    .sort((a, b) => newestFirst(b, a))
    .slice(-FOLDED_REMEMBERED)
    .map((execution) => ({ id: execution.id, contribution: contributionOf(execution, now) ?? null }));
  age(fold, now);
  return { fold, runs, contributions };
}

/** The newest finished runs of the window whose step outcomes a full fold needs. */
export function runsForStepStatistics(executions: readonly ExecutionRecord[], now: Date): ExecutionRecord[] {
  const since = windowStart(now);
  return executions
    .filter((execution) => execution.outcome && execution.startedAt >= since)
    .sort(newestFirst)
    .slice(0, STEP_STATISTICS_EXECUTIONS);
}

/** The runbook's learning aggregate, from its fold and its newest run digests (any extra are left out). */
export function aggregateFromFold(
  fold: LearningFold,
  runs: readonly FoldRun[],
  runbook: Runbook | undefined,
  now: Date,
): LearningAggregate {
  const aged = structuredClone(fold);
  age(aged, now);
  const recent = recentRuns(runs, now);
  const total = emptyDay();
  for (const day of Object.values(aged.days)) {
    for (const name of Object.keys(total) as Array<keyof DayCounts>) {
      if (name === 'byAlert') continue;
      total[name] += day[name];
    }
    for (const [alert, counts] of Object.entries(day.byAlert)) {
      const entry = total.byAlert[alert] ?? { executions: 0, succeeded: 0 };
      entry.executions += counts.executions;
      entry.succeeded += counts.succeeded;
      total.byAlert[alert] = entry;
    }
  }
  const steps = stepStatistics(recent.map(finalAttempts));
  const history = {
    runbookId: fold.runbookId,
    generatedAt: now.toISOString(),
    executions: recent.flatMap((run) => (run.dryRun ? [] : [run.history])),
  };
  const meanRecover = total.recovered === 0 ? undefined : total.recoverTotalMs / total.recovered;
  const meanApproval =
    total.approvalsAnswered === 0 ? undefined : total.approvalWaitMs / total.approvalsAnswered;
  return {
    runbookId: fold.runbookId,
    executions: total.executions,
    succeeded: total.succeeded,
    failed: total.failed,
    aborted: total.aborted,
    withoutHuman: total.withoutHuman,
    humanIntervention: total.humanIntervention,
    rollbacks: total.rollbacks,
    rollbackFailures: total.rollbackFailures,
    ...(meanRecover === undefined ? {} : { meanTimeToRecoverMs: Math.round(meanRecover) }),
    approvalsRequested: total.approvalsRequested,
    approvalsAnswered: total.approvalsAnswered,
    ...(meanApproval === undefined ? {} : { meanApprovalWaitMs: Math.round(meanApproval) }),
    byAlert: total.byAlert,
    steps: runbook ? withDecisions(steps, runbook, history) : steps,
    failurePatterns: failurePatterns(history.executions),
    successFactors: successFactors(history.executions),
    updatedAt: now.toISOString(),
  };
}

/**
 * The aggregate recomputed from every record of the window (what learning did after every run before
 * folds, and does without them): `executions` the window's, `outcomes` aligned with
 * `recentOf(executions)`.
 */
export function recomputedAggregate(
  runbookId: string,
  executions: readonly ExecutionRecord[],
  recent: readonly ExecutionRecord[],
  outcomes: readonly StepOutcome[][],
  runbook: Runbook | undefined,
  now: Date,
): LearningAggregate {
  const history = runbookHistory(runbookId, runbook, recent, outcomes, now);
  const aggregate = aggregateRunbook(runbookId, [...executions], [...outcomes], now);
  return {
    ...aggregate,
    ...(runbook ? { steps: withDecisions(aggregate.steps, runbook, history) } : {}),
    failurePatterns: failurePatterns(history.executions),
    successFactors: successFactors(history.executions),
  };
}

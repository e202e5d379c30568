import { z } from 'zod';
import type { ExecutionRecord, LearningAggregate, StepOutcome } from '../records.ts';
import type { Runbook } from '../runbook/model.ts';
import { aggregateRunbook, stepStatistics } from './aggregate.ts';
import { withDecisions } from './decisions.ts';
import { HistoryExecution, runbookHistory } from './history.ts';
import { failurePatterns, successFactors } from './patterns.ts';

/**
 * The incremental learning aggregate, pure. Each execution that stops is folded into its runbook's
 * fold (a bounded state: per-day counts over the window, and the newest runs' digests for the step
 * statistics), so learning after a run costs the same whatever the history. The aggregate is a pure
 * function of the fold; `fullFold` builds the same fold from every record (the repair path).
 */

/** How far back aggregates look (days), and how many newest runs feed step statistics and patterns. */
export const LEARNING_WINDOW_DAYS = 90;
export const STEP_STATISTICS_EXECUTIONS = 50;
/** Fold ids remembered with their contribution: a retry after a crash between two writes finds its own. */
export const FOLDED_REMEMBERED = 32;
/** The fold's item stays under this (DynamoDB allows 400 KB): past it the oldest run digests are dropped. */
export const FOLD_BUDGET_BYTES = 300 * 1024;
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
    /** The newest finished runs by start, newest first, at most STEP_STATISTICS_EXECUTIONS. */
    recent: z.array(FoldRun),
    /** The last folds, newest last, with what each added (idempotence across a crash between writes). */
    folded: z.array(z.object({ id: z.string(), contribution: FoldContribution.nullable() }).strict()),
    updatedAt: z.iso.datetime({ offset: true }),
  })
  .strict();
export type LearningFold = z.infer<typeof LearningFold>;

export function emptyFold(runbookId: string, now: Date): LearningFold {
  return { runbookId, days: {}, recent: [], folded: [], updatedAt: now.toISOString() };
}

function windowStart(now: Date): string {
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

/** The run digest step statistics and patterns read; undefined for a run that has not finished. */
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
  return {
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
}

/** JSON with keys sorted: the store gives maps back in any order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}

const newestFirst = (a: FoldRun, b: FoldRun) =>
  b.startedAt.localeCompare(a.startedAt) || a.id.localeCompare(b.id);

/** Drops days and runs that left the window. */
function age(fold: LearningFold, now: Date): void {
  const since = windowStart(now);
  const firstDay = since.slice(0, 10);
  for (const day of Object.keys(fold.days)) if (day < firstDay) delete fold.days[day];
  fold.recent = fold.recent.filter((run) => run.startedAt >= since);
}

/**
 * Folds one execution into the fold: its contribution replaces what it added before (`previous`, from
 * its marker, or from the fold's own memory of recent folds), so folding it twice changes nothing and
 * folding it again after its outcome changed (a rollback later) counts the new outcome once.
 */
export function foldExecution(
  current: LearningFold,
  execution: ExecutionRecord,
  outcomes: readonly StepOutcome[],
  options: { runbook?: Runbook | undefined; previous?: FoldContribution | null | undefined; now: Date },
): { fold: LearningFold; contribution: FoldContribution | null; changed: boolean } {
  const { now } = options;
  const contribution = contributionOf(execution, now) ?? null;
  const run = foldRunOf(execution, outcomes, options.runbook, now);
  const remembered = current.folded.find((entry) => entry.id === execution.id);
  // What the fold holds of this execution: its memory of recent folds first (the marker may lag it).
  const known = remembered !== undefined || options.previous !== undefined;
  const before = remembered ? remembered.contribution : (options.previous ?? null);
  const held = current.recent.find((entry) => entry.id === execution.id);
  const sameCounts = known ? canonical(before) === canonical(contribution) : contribution === null;
  const sameRun = run === undefined || held === undefined || canonical(held) === canonical(run);
  const unseenRun = run !== undefined && held === undefined && !known;
  if (sameCounts && sameRun && !unseenRun) return { fold: current, contribution, changed: false };
  const fold = structuredClone(current);
  if (before) applyContribution(fold.days, before, -1);
  if (contribution) applyContribution(fold.days, contribution, 1);
  fold.recent = fold.recent.filter((entry) => entry.id !== execution.id);
  if (run) fold.recent = [...fold.recent, run].sort(newestFirst).slice(0, STEP_STATISTICS_EXECUTIONS);
  fold.folded = [
    ...fold.folded.filter((entry) => entry.id !== execution.id),
    { id: execution.id, contribution },
  ].slice(-FOLDED_REMEMBERED);
  age(fold, now);
  fold.updatedAt = now.toISOString();
  return { fold: fitFold(fold), contribution, changed: true };
}

/** The fold within its item budget: the oldest run digests go first (step statistics read fewer runs). */
export function fitFold(fold: LearningFold): LearningFold {
  let bytes = Buffer.byteLength(JSON.stringify(fold));
  while (bytes > FOLD_BUDGET_BYTES && fold.recent.length > 0) {
    const dropped = fold.recent.pop()!;
    bytes -= Buffer.byteLength(JSON.stringify(dropped)) + 1;
  }
  return fold;
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
): { fold: LearningFold; contributions: Array<{ executionId: string; contribution: FoldContribution }> } {
  const fold = emptyFold(runbookId, now);
  const contributions: Array<{ executionId: string; contribution: FoldContribution }> = [];
  for (const execution of executions) {
    const contribution = contributionOf(execution, now);
    if (!contribution) continue;
    applyContribution(fold.days, contribution, 1);
    contributions.push({ executionId: execution.id, contribution });
  }
  fold.recent = executions
    .flatMap((execution) => {
      const found = outcomes.get(execution.id);
      const run = found ? foldRunOf(execution, found, runbook, now) : undefined;
      return run ? [run] : [];
    })
    .sort(newestFirst)
    .slice(0, STEP_STATISTICS_EXECUTIONS);
  // The newest runs are remembered as folded: one stopping now finds itself even before its marker is written.
  fold.folded = [...executions]
    .filter((execution) => execution.outcome)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || b.id.localeCompare(a.id))
    .slice(-FOLDED_REMEMBERED)
    .map((execution) => ({ id: execution.id, contribution: contributionOf(execution, now) ?? null }));
  age(fold, now);
  return { fold: fitFold(fold), contributions };
}

/** The newest finished runs of the window whose step outcomes a full fold needs. */
export function runsForStepStatistics(executions: readonly ExecutionRecord[], now: Date): ExecutionRecord[] {
  const since = windowStart(now);
  return executions
    .filter((execution) => execution.outcome && execution.startedAt >= since)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.id.localeCompare(b.id))
    .slice(0, STEP_STATISTICS_EXECUTIONS);
}

/** The runbook's learning aggregate, from its fold alone. */
export function aggregateFromFold(
  fold: LearningFold,
  runbook: Runbook | undefined,
  now: Date,
): LearningAggregate {
  const aged = structuredClone(fold);
  age(aged, now);
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
  const steps = stepStatistics(aged.recent.map(finalAttempts));
  const history = {
    runbookId: fold.runbookId,
    generatedAt: now.toISOString(),
    executions: aged.recent.flatMap((run) => (run.dryRun ? [] : [run.history])),
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

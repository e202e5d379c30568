import { describe, expect, it } from 'vitest';
import {
  aggregateFromFold,
  DIGEST_BUDGET_BYTES,
  emptyFold,
  FOLDED_REMEMBERED,
  type FoldRun,
  foldExecution,
  foldRunOf,
  fullFold,
  type LearningFold,
  recentRuns,
  recomputedAggregate,
  runsForStepStatistics,
  STEP_STATISTICS_EXECUTIONS,
} from '../../../../functions/core/learning/fold.ts';
import type { ExecutionRecord, StepOutcome } from '../../../../functions/core/records.ts';
import {
  POD_MEMORY_GROWTH,
  podMemoryRun as run,
  type SeedRun,
  seedRuns,
} from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);
const DAY = 86_400_000;
const HOUR = 3_600_000;

/** A runbook's fold and its run digests by execution id, as the store holds them. */
interface Folded {
  fold: LearningFold;
  runs: Map<string, FoldRun>;
}

/** Folds each run at the moment it stopped, in the order they stopped; each leaves its digest. */
function foldAll(
  executions: readonly ExecutionRecord[],
  outcomes: readonly StepOutcome[][],
  start: Folded = { fold: emptyFold(RUNBOOK.id, new Date(0)), runs: new Map() },
): Folded {
  const order = executions
    .map((execution, index) => ({ execution, steps: outcomes[index]! }))
    .sort((a, b) => a.execution.stoppedAt!.localeCompare(b.execution.stoppedAt!));
  let fold = start.fold;
  const runs = new Map(start.runs);
  for (const { execution, steps } of order) {
    const now = new Date(execution.stoppedAt!);
    const run = foldRunOf(execution, steps, RUNBOOK, now);
    if (run) runs.set(run.id, run);
    fold = foldExecution(fold, execution, { now, runChanged: run !== undefined }).fold;
  }
  return { fold, runs };
}

/** The aggregate from a fold and every digest stored beside it. */
function aggregateOf(folded: Folded, now: Date) {
  return aggregateFromFold(folded.fold, [...folded.runs.values()], RUNBOOK, now);
}

/** What the full recompute reads at `now`: the window's executions and the newest runs' outcomes. */
function recomputed(executions: readonly ExecutionRecord[], outcomes: readonly StepOutcome[][], now: Date) {
  const since = new Date(now.getTime() - 90 * DAY).toISOString();
  const inWindow = executions.filter((execution) => execution.startedAt >= since);
  const recent = runsForStepStatistics(inWindow, now);
  const byId = new Map(executions.map((execution, index) => [execution.id, outcomes[index]!]));
  return recomputedAggregate(
    RUNBOOK.id,
    inWindow,
    recent,
    recent.map((execution) => byId.get(execution.id)!),
    RUNBOOK,
    now,
  );
}

describe('folding a stopped execution into the learning aggregate', () => {
  it('counts known runs: outcomes, mean time to recover, per alert, step statistics', () => {
    // Prepare: three runs an hour apart; pod-status 3 s, 5 s, then a 30 s timeout; one run rolled back
    const start = Date.parse('2026-11-02T08:00:00Z');
    const { executions, outcomes } = seedRuns(
      RUNBOOK,
      [
        run({ podStatus: { durationMs: 3_000 } }),
        run({ podStatus: { durationMs: 5_000 }, rolledBack: true }),
        run({ podStatus: { status: 'timed-out', durationMs: 30_000 } }),
      ],
      start,
    );
    executions[0]!.outcome!.timeToRecoverMs = 60_000;
    executions[1]!.outcome!.timeToRecoverMs = 120_000;
    executions[1]!.outcome!.approvals = 2;
    executions[1]!.outcome!.approvalsAnswered = 1;
    executions[1]!.outcome!.approvalWaitMs = 90_000;

    // Act
    const folded = foldAll(executions, outcomes);
    const aggregate = aggregateOf(folded, new Date(start + 3 * HOUR));

    // Assess
    expect(aggregate).toMatchObject({
      executions: 3,
      succeeded: 2,
      failed: 1,
      aborted: 0,
      withoutHuman: 2,
      rollbacks: 1,
      meanTimeToRecoverMs: 90_000,
      approvalsRequested: 2,
      approvalsAnswered: 1,
      meanApprovalWaitMs: 90_000,
      byAlert: { PodMemoryGrowth: { executions: 3, succeeded: 2 } },
    });
    expect(aggregate.steps.find((step) => step.stepId === 'pod-status')).toMatchObject({
      runs: 3,
      failures: 1,
      skipped: 0,
      meanDurationMs: Math.round((3_000 + 5_000 + 30_000) / 3),
      p50DurationMs: 5_000,
      p90DurationMs: 30_000,
      p99DurationMs: 30_000,
    });
    expect(Object.keys(folded.fold.days)).toEqual(['2026-11-02']);
    expect(folded.fold.folded.map((entry) => entry.id)).toEqual(executions.map((e) => e.id));
  });

  it('changes nothing when the same execution is folded again', () => {
    // Prepare
    const { executions, outcomes } = seedRuns(RUNBOOK, [run(), run({ memory: 95 })]);
    const folded = foldAll(executions, outcomes);
    const { fold } = folded;
    const now = new Date(Date.parse(executions[1]!.stoppedAt!) + HOUR);

    // Act: the second run's status change delivered again (its digest stored unchanged), and once more
    // from its marker only; then a dry run's, whose digest is all it adds
    const again = foldExecution(fold, executions[1]!, { now });
    const forgotten = { ...fold, folded: [] };
    const marker = fold.folded.find((entry) => entry.id === executions[1]!.id)!.contribution;
    const fromMarker = foldExecution(forgotten, executions[1]!, { previous: marker, now });
    const dry = { ...executions[1]!, id: 'dry-run', dryRun: true };
    const dryFirst = foldExecution(fold, dry, { now, runChanged: true });
    const dryAgain = foldExecution(dryFirst.fold, dry, { now });

    // Assess
    expect(again.changed).toBe(false);
    expect(again.fold).toBe(fold);
    expect(fromMarker.changed).toBe(false);
    expect(dryFirst).toMatchObject({ changed: true, contribution: null });
    expect(dryFirst.fold.days).toEqual(fold.days);
    expect(dryAgain.changed).toBe(false);
    expect(aggregateOf(folded, now).executions).toBe(2);
  });

  it('replaces what an execution added when its outcome changed (a rollback after it stopped)', () => {
    // Prepare
    const { executions, outcomes } = seedRuns(RUNBOOK, [run(), run()]);
    const folded = foldAll(executions, outcomes);
    const now = new Date(Date.parse(executions[1]!.stoppedAt!) + HOUR);
    const rolledBack = {
      ...executions[0]!,
      outcome: { ...executions[0]!.outcome!, rolledBack: true, rollbackFailed: true },
    };

    // Act
    const refolded = foldExecution(folded.fold, rolledBack, { now });
    const digest = foldRunOf(rolledBack, outcomes[0]!, RUNBOOK, now)!;

    // Assess: still two runs, now one rollback that failed; its digest says so too
    expect(refolded.changed).toBe(true);
    expect(digest.history.rolledBack).toBe(true);
    expect(
      aggregateFromFold(refolded.fold, [digest, folded.runs.get(executions[1]!.id)!], RUNBOOK, now),
    ).toMatchObject({
      executions: 2,
      succeeded: 2,
      rollbacks: 1,
      rollbackFailures: 1,
    });
  });

  it('keeps the newest runs for step statistics and drops days that left the 90-day window', () => {
    // Prepare: 71 runs, one a day from 2026-08-01 (day 0) to day 69, and one on day 100
    const start = Date.parse('2026-08-01T00:00:00Z');
    const days = [...Array.from({ length: 70 }, (_, index) => index), 100];
    const { executions, outcomes } = seedRuns(
      RUNBOOK,
      days.map(() => run()),
      start,
    );
    executions.forEach((execution, index) => {
      execution.startedAt = new Date(start + days[index]! * DAY).toISOString();
      execution.stoppedAt = new Date(start + days[index]! * DAY + HOUR).toISOString();
    });
    const now = new Date(start + 100 * DAY + HOUR);

    // Act
    const before = foldAll(executions.slice(0, 70), outcomes.slice(0, 70));
    const after = foldAll(executions.slice(70), outcomes.slice(70), before);
    const aggregate = aggregateOf(after, now);
    const recent = recentRuns([...after.runs.values()], now);

    // Assess: the window starts on day 10 (2026-08-11): 60 + 1 runs count, the newest 50 feed steps
    expect(Object.keys(before.fold.days).sort()[0]).toBe('2026-08-01');
    expect(Object.keys(after.fold.days).sort()[0]).toBe('2026-08-11');
    expect(aggregate.executions).toBe(61);
    expect(recent).toHaveLength(STEP_STATISTICS_EXECUTIONS);
    expect(recent[0]!.id).toBe(executions[70]!.id);
    expect(recent.at(-1)!.id).toBe(executions[21]!.id);
    expect(aggregate.steps.find((step) => step.stepId === 'pod-status')?.runs).toBe(
      STEP_STATISTICS_EXECUTIONS,
    );
    expect(after.fold.folded).toHaveLength(Math.min(71, FOLDED_REMEMBERED));
  });

  it('counts a run whose digest is over the budget, and leaves it out of step statistics only', () => {
    // Prepare: two runs; the second recorded 100 KB of output (its digest would pass 64 KB)
    const { executions, outcomes } = seedRuns(RUNBOOK, [run(), run()]);
    executions[1]!.outcome!.recordedOutputs = { dump: 'x'.repeat(100 * 1024) };
    const now = new Date(Date.parse(executions[1]!.stoppedAt!) + HOUR);

    // Act
    const folded = foldAll(executions, outcomes);
    const aggregate = aggregateOf(folded, now);

    // Assess
    expect(foldRunOf(executions[1]!, outcomes[1]!, RUNBOOK, now)).toBeUndefined();
    expect(JSON.stringify(foldRunOf(executions[0]!, outcomes[0]!, RUNBOOK, now)).length).toBeLessThan(
      DIGEST_BUDGET_BYTES,
    );
    expect(aggregate.executions).toBe(2);
    expect([...folded.runs.keys()]).toEqual([executions[0]!.id]);
    expect(aggregate.steps.find((step) => step.stepId === 'pod-status')?.runs).toBe(1);
  });

  it('gives the full recompute’s aggregate on a seeded history folded in the order runs stopped', () => {
    // Prepare: 240 runs over 100 days, stopping out of order: timeouts in one namespace, scale-outs,
    // memory readings spread for a threshold, dry runs, rollbacks, approvals
    const start = Date.parse('2026-06-01T00:00:00Z');
    const shapes: SeedRun[] = Array.from({ length: 240 }, (_, index) => {
      const memory = 40 + ((index * 37) % 60);
      const seeded = run({
        memory,
        ...(memory >= 85 && index % 2 === 0 ? { status: 'failed' as const } : {}),
        warnings: (index * 13) % 70,
        ...(index % 7 === 0
          ? { podStatus: { status: 'timed-out' as const, durationMs: 30_000 }, namespace: 'payments' }
          : { podStatus: { durationMs: 1_000 + ((index * 211) % 9_000) } }),
        rolledBack: index % 11 === 0,
      });
      return index % 13 === 0 ? { ...seeded, dryRun: true } : seeded;
    });
    const { executions, outcomes } = seedRuns(RUNBOOK, shapes, start);
    executions.forEach((execution, index) => {
      const startedAt = start + index * 10 * HOUR;
      execution.startedAt = new Date(startedAt).toISOString();
      execution.stoppedAt = new Date(startedAt + ((index * 7919) % 30) * HOUR).toISOString();
      execution.outcome!.timeToRecoverMs = 60_000 + ((index * 104_729) % 600_000);
      execution.outcome!.approvals = index % 3;
      execution.outcome!.approvalsAnswered = index % 3 === 0 ? 0 : 1;
      execution.outcome!.approvalWaitMs = index % 3 === 0 ? 0 : 30_000 + index * 1_000;
      execution.outcome!.humanIntervention = index % 5 === 0;
    });
    const now = new Date('2026-09-10T00:00:00Z');

    // Act
    const incremental = aggregateOf(foldAll(executions, outcomes), now);
    const full = recomputed(executions, outcomes, now);
    const rebuilt = fullFold(
      RUNBOOK.id,
      executions.filter(
        (execution) => execution.startedAt >= new Date(now.getTime() - 90 * DAY).toISOString(),
      ),
      new Map(executions.map((execution, index) => [execution.id, outcomes[index]!])),
      RUNBOOK,
      now,
    );

    // Assess: the same aggregate, statistics, patterns and factors (a window edge at midnight is exact)
    expect(incremental.successFactors).toEqual(full.successFactors);
    expect(full.executions).toBeGreaterThan(150);
    expect(full.failurePatterns?.length).toBeGreaterThan(0);
    expect(full.successFactors?.length).toBeGreaterThan(0);
    expect(full.steps.some((step) => (step.decisions?.decided ?? 0) > 0)).toBe(true);
    expect(incremental).toEqual(full);
    expect(rebuilt.runs).toHaveLength(STEP_STATISTICS_EXECUTIONS);
    expect(aggregateFromFold(rebuilt.fold, rebuilt.runs, RUNBOOK, now)).toEqual(full);
  });
});

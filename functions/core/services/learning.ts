import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { FollowUps } from '../../ports/follow-ups.ts';
import type { LearningFolds } from '../../ports/learning-folds.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import { system } from '../audit/events.ts';
import type { AutomationLevel } from '../automation/levels.ts';
import type { AutomationService } from '../automation/service.ts';
import { type FeedbackFigures, feedbackByExecution, feedbackFigures } from '../feedback/records.ts';
import { type LearningReport, learningReport } from '../learning/aggregate.ts';
import {
  aggregateFromFold,
  canonical,
  type FoldContribution,
  type FoldRun,
  foldExecution,
  foldRunOf,
  fullFold,
  LEARNING_WINDOW_DAYS,
  type LearningFold,
  recomputedAggregate,
  runsForStepStatistics,
  STEP_STATISTICS_EXECUTIONS,
  windowStart,
} from '../learning/fold.ts';
import { HISTORY_EXECUTIONS, type RunbookHistory, runbookHistory } from '../learning/history.ts';
import { type RunbookInsights, runbookInsights } from '../learning/insights.ts';
import { type RunbookTimeline, runbookTimeline } from '../learning/timeseries.ts';
import type { ExecutionRecord, StepOutcome } from '../records.ts';
import type { Runbook } from '../runbook/model.ts';
import type { CircuitBreakerService } from '../watch/circuit-breaker.ts';
import type { DeferredAlerts } from './deferred-alerts.ts';
import type { FollowUpService } from './follow-up.ts';
import { auditExecutionFinished, closeOpenApprovals, deriveOutcome, slotKey } from './record.ts';

/** The engine's word on an execution that stopped (Step Functions Execution Status Change). */
export interface ExecutionStatusChange {
  executionId: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  engineRef: string;
  stoppedAt?: string;
  error?: string;
  cause?: string;
}

/** How far back aggregates look, and how many executions' steps feed step statistics. */
export { LEARNING_WINDOW_DAYS, STEP_STATISTICS_EXECUTIONS };

/** Folds that lost the race to another writer try again, this many times at most. */
const FOLD_MAX_ATTEMPTS = 20;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The learning loop: every execution that stops is recorded (also those that never reached their
 * Record task: stopped, timed out), its concurrency slot is given back, and it is folded into its
 * runbook's aggregate once (recomputed from the records without folds) — so a redelivered event
 * changes nothing.
 */
export class LearningService {
  constructor(
    private readonly deps: {
      store: Store;
      clock: Clock;
      logger: Logger;
      audit?: AuditTrail;
      /** Graduated automation: each stopped run's record (and any demotion), and its part of the report. */
      automation?: Pick<AutomationService, 'runStopped' | 'report'> &
        Partial<Pick<AutomationService, 'levelChanges'>>;
      /** The stopped run's change lock is given back and the alerts deferred behind it classified again. */
      deferredAlerts?: Pick<DeferredAlerts, 'executionStopped'>;
      /** Runs of the rollback machine stop too: a rollback that did not finish is recorded as failed. */
      rollbacks?: {
        engineStopped(change: ExecutionStatusChange): Promise<boolean>;
        /** The execution a rollback undid changes of: its outcome changed, so it is folded again. */
        executionOf?(rollbackId: string): Promise<string | undefined>;
      };
      /** A failed run may open its runbook's circuit breaker; the report lists the breakers. */
      breakers?: Pick<CircuitBreakerService, 'executionStopped' | 'list'>;
      /**
       * The runbooks this runtime runs: with its runbook, an aggregate also counts how often each step
       * decided (reorderable phases are ordered by it).
       */
      runbooks?: () => readonly Runbook[];
      /** Feedback (askForFeedback): counted per runbook, and a run marked not helpful is no verified resolution. */
      followUps?: Pick<FollowUps, 'listRunbookFeedback'>;
      /** The final notification of every ended execution (report link, feedback links), sent once. */
      finalNotice?: Pick<FollowUpService, 'executionEnded'>;
      /**
       * The incremental aggregate: with it, a stopped execution is folded into its runbook's aggregate
       * in a constant number of store commands; without it, the aggregate is recomputed from the records.
       */
      folds?: LearningFolds;
    },
  ) {}

  async executionStopped(change: ExecutionStatusChange): Promise<{ recorded: boolean; runbookId?: string }> {
    const { store, clock, logger } = this.deps;
    if (change.status === 'RUNNING' || change.status === 'PENDING_REDRIVE') return { recorded: false };
    const execution = await store.getExecution(change.executionId);
    if (!execution && (await this.deps.rollbacks?.engineStopped(change))) {
      // A rollback changed what its execution's outcome says (rolled back, rollback failed): fold it again.
      const undone = this.deps.folds && (await this.deps.rollbacks?.executionOf?.(change.executionId));
      const original = undone ? await store.getExecution(undone) : undefined;
      if (original) await this.fold(original);
      return { recorded: true };
    }
    if (!execution) {
      logger.warn('status change for an execution the store does not know', {
        executionId: change.executionId,
      });
      return { recorded: false };
    }
    let recorded = execution;
    let stepOutcomes: StepOutcome[] | undefined;
    if (!execution.outcome) {
      const actor = system('learning-recorder');
      await closeOpenApprovals(store, execution.id, clock.now(), { trail: this.deps.audit, clock, actor });
      const [outcomes, approvals] = await Promise.all([
        store.listStepOutcomes(execution.id),
        store.listApprovals(execution.id),
      ]);
      const status =
        change.status === 'SUCCEEDED' ? 'succeeded' : change.status === 'ABORTED' ? 'aborted' : 'failed';
      const now = clock.now();
      const outcome = deriveOutcome(
        status,
        {
          ...(change.error
            ? { error: change.error }
            : change.status === 'TIMED_OUT'
              ? { error: 'States.Timeout' }
              : {}),
          ...(change.cause ? { cause: change.cause } : {}),
        },
        execution,
        outcomes,
        approvals,
        { escalated: false, rollbackFailed: false },
        now,
      );
      const patch = {
        status,
        stoppedAt: change.stoppedAt ?? now.toISOString(),
        outcome,
        engineRef: change.engineRef,
      } as const;
      await store.updateExecution(execution.id, patch);
      await auditExecutionFinished(this.deps.audit, clock, execution, outcome, actor);
      recorded = { ...execution, ...patch };
      stepOutcomes = outcomes;
    }
    await store.releaseSlot(slotKey(execution.runbookId), execution.id);
    await this.deps.deferredAlerts?.executionStopped(execution);
    if (this.deps.folds) await this.fold(recorded, stepOutcomes);
    else await this.recompute(execution.runbookId);
    await this.deps.automation?.runStopped(execution.id);
    await this.deps.breakers?.executionStopped(execution.id);
    await this.deps.finalNotice?.executionEnded(execution.id);
    return { recorded: true, runbookId: execution.runbookId };
  }

  /** Per runbook, the fold or recompute running now (and those queued behind it). */
  private readonly recomputing = new Map<string, Promise<void>>();

  /** Runs `work` after the runbook's folds and recomputes already queued in this process. */
  private async serialized(runbookId: string, work: () => Promise<void>): Promise<void> {
    const previous = this.recomputing.get(runbookId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.recomputing.set(runbookId, next);
    try {
      await next;
    } finally {
      if (this.recomputing.get(runbookId) === next) this.recomputing.delete(runbookId);
    }
  }

  /**
   * Recomputes the runbook's aggregate from its records (the repair path: `runbook learn recompute`;
   * without folds, what every stopped run does). Runs that stop together recompute one after another in
   * this process, so the last write is the one that read every record (not a slower, older read); with
   * folds, the fold is rebuilt and written over the version read, so no other process's fold is lost.
   */
  async recompute(runbookId: string): Promise<void> {
    await this.serialized(runbookId, () =>
      this.deps.folds ? this.rebuildFold(runbookId) : this.recomputeNow(runbookId),
    );
  }

  /**
   * Folds one stopped execution into its runbook's aggregate in constant store commands: its step
   * outcomes read (unless given), its run digest written (unless stored unchanged), one read of the fold
   * and its marker, one conditional write of the fold, the marker, one read of the newest digests, the
   * aggregate. A conflict with another writer reads again; folding an execution twice changes nothing.
   */
  async fold(execution: ExecutionRecord, outcomes?: readonly StepOutcome[]): Promise<void> {
    const folds = this.deps.folds;
    if (!folds) return this.recompute(execution.runbookId);
    const { runbookId } = execution;
    await this.serialized(runbookId, async () => {
      const steps = outcomes ?? (await this.deps.store.listStepOutcomes(execution.id));
      const runbook = this.runbookOf(runbookId);
      const run = foldRunOf(execution, steps, runbook, this.deps.clock.now());
      // The digest first: every fold committed after it (this one included) reads it.
      const runChanged = run ? await folds.putRun(runbookId, run) : false;
      for (let attempt = 1; ; attempt++) {
        const now = this.deps.clock.now();
        const { fold, version, marker } = await folds.read(runbookId, execution.id);
        // The runbook's first fold (or one lost): built once from the records, this run included.
        if (!fold) {
          if (await this.writeFullFold(runbookId, version)) return;
        } else {
          const next = foldExecution(fold, execution, { previous: marker, now, runChanged });
          if (!next.changed) {
            // Folded already; a crash may have left its marker or the aggregate unwritten.
            if (marker === undefined || canonical(marker) !== canonical(next.contribution)) {
              await folds.mark(runbookId, [{ executionId: execution.id, contribution: next.contribution }]);
              await folds.publish(
                aggregateFromFold(fold, await this.recentRuns(runbookId, now), runbook, now),
                version,
              );
            }
            return;
          }
          if (await folds.write(next.fold, version)) {
            await folds.mark(runbookId, [{ executionId: execution.id, contribution: next.contribution }]);
            // Read after the write: it holds the digest of every fold committed up to this version.
            const runs = await this.recentRuns(runbookId, now);
            await folds.publish(aggregateFromFold(next.fold, runs, runbook, now), version + 1);
            return;
          }
        }
        if (attempt >= FOLD_MAX_ATTEMPTS)
          throw new Error(
            `learning: folding execution "${execution.id}" into runbook "${runbookId}" lost to other writers ${attempt} times; the status change is retried (then dead-lettered), or run \`runbook learn recompute ${runbookId}\``,
          );
        // Full jitter: spreads the writers that lost the same race.
        await sleep(Math.random() * Math.min(200, 5 * 2 ** attempt));
      }
    });
  }

  /** The runbook's newest run digests in the window (what step statistics and patterns read). */
  private recentRuns(runbookId: string, now: Date) {
    return this.deps.folds!.recentRuns(runbookId, windowStart(now), STEP_STATISTICS_EXECUTIONS);
  }

  private runbookOf(runbookId: string): Runbook | undefined {
    return this.deps.runbooks?.().find((candidate) => candidate.id === runbookId);
  }

  /** The fold rebuilt from every record of the window, written over the version read. */
  private async rebuildFold(runbookId: string): Promise<void> {
    const folds = this.deps.folds!;
    for (let attempt = 1; ; attempt++) {
      // The version only: a fold that cannot be read any more is rebuilt all the same.
      if (await this.writeFullFold(runbookId, await folds.version(runbookId))) return;
      if (attempt >= FOLD_MAX_ATTEMPTS)
        throw new Error(
          `learning: recomputing runbook "${runbookId}" lost to other writers ${attempt} times; run \`runbook learn recompute ${runbookId}\` again`,
        );
      await sleep(Math.random() * Math.min(200, 5 * 2 ** attempt));
    }
  }

  /** Reads the window's records, writes the fold over `version`, then its markers and the aggregate. */
  private async writeFullFold(runbookId: string, version: number): Promise<boolean> {
    const { store, clock } = this.deps;
    const folds = this.deps.folds!;
    const now = clock.now();
    const since = new Date(now.getTime() - LEARNING_WINDOW_DAYS * 86_400_000).toISOString();
    const executions = await store.listExecutionsByRunbook(runbookId, since);
    const recent = runsForStepStatistics(executions, now);
    const outcomes = await Promise.all(recent.map((execution) => store.listStepOutcomes(execution.id)));
    const runbook = this.runbookOf(runbookId);
    const built: {
      fold: LearningFold;
      runs: FoldRun[];
      contributions: Array<{ executionId: string; contribution: FoldContribution }>;
    } = fullFold(
      runbookId,
      executions,
      new Map(recent.map((execution, index) => [execution.id, outcomes[index]!])),
      runbook,
      now,
    );
    // The digests before the fold, as an incremental fold writes its own.
    await folds.putRuns(runbookId, built.runs);
    if (!(await folds.write(built.fold, version))) return false;
    await folds.mark(runbookId, built.contributions);
    await folds.publish(aggregateFromFold(built.fold, built.runs, runbook, now), version + 1);
    return true;
  }

  private async recomputeNow(runbookId: string): Promise<void> {
    const { store, clock } = this.deps;
    const now = clock.now();
    const since = new Date(now.getTime() - LEARNING_WINDOW_DAYS * 86_400_000).toISOString();
    const executions = await store.listExecutionsByRunbook(runbookId, since);
    const recent = runsForStepStatistics(executions, now);
    const outcomes = await Promise.all(recent.map((execution) => store.listStepOutcomes(execution.id)));
    await store.putLearningAggregate(
      recomputedAggregate(runbookId, executions, recent, outcomes, this.runbookOf(runbookId), now),
    );
  }

  /** The runbook's stored aggregate (what selection reads). */
  aggregate(runbookId: string) {
    return this.deps.store.getLearningAggregate(runbookId);
  }

  /**
   * A runbook's recent finished real runs as learning reads them (`runbook learn suggest`,
   * `GET /api/learning/history/:runbook`): at most HISTORY_EXECUTIONS, keeping the values of the facts
   * `runbook`'s branch conditions read.
   */
  async history(runbookId: string, runbook?: Runbook): Promise<RunbookHistory> {
    return (await this.finishedRuns(runbookId, runbook)).history;
  }

  /** The runbook's finished real runs in the window, and the history learning reads from the newest. */
  private async finishedRuns(
    runbookId: string,
    runbook?: Runbook,
  ): Promise<{ history: RunbookHistory; runs: ExecutionRecord[] }> {
    const { store, clock } = this.deps;
    const now = clock.now();
    const since = new Date(now.getTime() - LEARNING_WINDOW_DAYS * 86_400_000).toISOString();
    const runs = (await store.listExecutionsByRunbook(runbookId, since))
      .filter((execution) => execution.outcome && !execution.dryRun)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    const recent = runs.slice(0, HISTORY_EXECUTIONS);
    const [outcomes, feedback] = await Promise.all([
      Promise.all(recent.map((execution) => store.listStepOutcomes(execution.id))),
      this.deps.followUps?.listRunbookFeedback(runbookId, since) ?? [],
    ]);
    return {
      history: runbookHistory(runbookId, runbook, recent, outcomes, now, feedbackByExecution(feedback)),
      runs,
    };
  }

  /** Insights and the charts' timeline of one runbook, from one read of its runs. */
  private async chartedInsights(
    runbook: Runbook,
    level: AutomationLevel | undefined,
  ): Promise<{ insights: RunbookInsights; timeline: RunbookTimeline }> {
    const [{ history, runs }, changes] = await Promise.all([
      this.finishedRuns(runbook.id, runbook),
      this.deps.automation?.levelChanges?.(runbook.id) ?? Promise.resolve([]),
    ]);
    return {
      insights: runbookInsights(runbook, history),
      timeline: runbookTimeline({
        runbook,
        history,
        runs: runs.map((execution) => ({
          startedAt: execution.startedAt,
          status: execution.outcome!.status,
          ...(execution.outcome!.timeToRecoverMs === undefined
            ? {}
            : { timeToRecoverMs: execution.outcome!.timeToRecoverMs }),
        })),
        changes,
        level,
        now: this.deps.clock.now(),
      }),
    };
  }

  /** Helpful / not helpful per runbook (and per step where the answer named one), over the window. */
  private async feedbackFigures(runbookIds: readonly string[]): Promise<Map<string, FeedbackFigures>> {
    const { followUps, clock } = this.deps;
    if (!followUps) return new Map();
    const since = new Date(clock.now().getTime() - LEARNING_WINDOW_DAYS * 86_400_000).toISOString();
    const figures = await Promise.all(
      runbookIds.map(
        async (id) => [id, feedbackFigures(await followUps.listRunbookFeedback(id, since))] as const,
      ),
    );
    return new Map(figures.filter(([, figure]) => figure.helpful + figure.notHelpful > 0));
  }

  async report(runbooks: Runbook[]): Promise<LearningReport> {
    const [aggregates, unmatched, automation, breakers] = await Promise.all([
      this.deps.store.listLearningAggregates(),
      this.deps.store.listUnmatched(),
      this.deps.automation?.report(),
      this.deps.breakers?.list(),
    ]);
    // Insights replay each runbook's own history (bounded by HISTORY_EXECUTIONS) against its branches.
    const byId = new Map(runbooks.map((runbook) => [runbook.id, runbook]));
    const levels = new Map(
      (automation?.runbooks ?? []).map((entry) => [entry.runbookId, entry.effective.level]),
    );
    const charted = new Map(
      await Promise.all(
        aggregates.flatMap((aggregate) => {
          const runbook = byId.get(aggregate.runbookId);
          return runbook
            ? [
                this.chartedInsights(runbook, levels.get(runbook.id)).then(
                  (found) => [runbook.id, found] as const,
                ),
              ]
            : [];
        }),
      ),
    );
    const insights = new Map([...charted].map(([id, found]) => [id, found.insights]));
    const timelines = new Map([...charted].map(([id, found]) => [id, found.timeline]));
    const built = learningReport(
      aggregates,
      runbooks,
      unmatched,
      this.deps.clock.now(),
      automation,
      insights,
      timelines,
    );
    const feedback = await this.feedbackFigures(built.runbooks.map((runbook) => runbook.runbookId));
    const report =
      feedback.size === 0
        ? built
        : {
            ...built,
            runbooks: built.runbooks.map((runbook) => {
              const figures = feedback.get(runbook.runbookId);
              return figures ? { ...runbook, feedback: figures } : runbook;
            }),
          };
    return breakers ? { ...report, circuitBreakers: breakers } : report;
  }
}

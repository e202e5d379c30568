import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { FollowUps } from '../../ports/follow-ups.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import { system } from '../audit/events.ts';
import type { AutomationLevel } from '../automation/levels.ts';
import type { AutomationService } from '../automation/service.ts';
import { type FeedbackFigures, feedbackByExecution, feedbackFigures } from '../feedback/records.ts';
import { aggregateRunbook, type LearningReport, learningReport } from '../learning/aggregate.ts';
import { withDecisions } from '../learning/decisions.ts';
import { HISTORY_EXECUTIONS, type RunbookHistory, runbookHistory } from '../learning/history.ts';
import { type RunbookInsights, runbookInsights } from '../learning/insights.ts';
import { failurePatterns, successFactors } from '../learning/patterns.ts';
import { type RunbookTimeline, runbookTimeline } from '../learning/timeseries.ts';
import type { ExecutionRecord } from '../records.ts';
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
export const LEARNING_WINDOW_DAYS = 90;
export const STEP_STATISTICS_EXECUTIONS = 50;

/**
 * The learning loop: every execution that stops is recorded (also those that never reached their
 * Record task: stopped, timed out), its concurrency slot is given back, and its runbook's aggregate
 * is recomputed from the records — so a redelivered event changes nothing.
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
      rollbacks?: { engineStopped(change: ExecutionStatusChange): Promise<boolean> };
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
    },
  ) {}

  async executionStopped(change: ExecutionStatusChange): Promise<{ recorded: boolean; runbookId?: string }> {
    const { store, clock, logger } = this.deps;
    if (change.status === 'RUNNING' || change.status === 'PENDING_REDRIVE') return { recorded: false };
    const execution = await store.getExecution(change.executionId);
    if (!execution && (await this.deps.rollbacks?.engineStopped(change))) return { recorded: true };
    if (!execution) {
      logger.warn('status change for an execution the store does not know', {
        executionId: change.executionId,
      });
      return { recorded: false };
    }
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
      await store.updateExecution(execution.id, {
        status,
        stoppedAt: change.stoppedAt ?? now.toISOString(),
        outcome,
        engineRef: change.engineRef,
      });
      await auditExecutionFinished(this.deps.audit, clock, execution, outcome, actor);
    }
    await store.releaseSlot(slotKey(execution.runbookId), execution.id);
    await this.deps.deferredAlerts?.executionStopped(execution);
    await this.recompute(execution.runbookId);
    await this.deps.automation?.runStopped(execution.id);
    await this.deps.breakers?.executionStopped(execution.id);
    await this.deps.finalNotice?.executionEnded(execution.id);
    return { recorded: true, runbookId: execution.runbookId };
  }

  /** Per runbook, the recompute running now (and those queued behind it). */
  private readonly recomputing = new Map<string, Promise<void>>();

  /**
   * Recomputes the runbook's aggregate from its records. Runs that stop together recompute one after
   * another in this process, so the last write is the one that read every record (not a slower, older read).
   */
  async recompute(runbookId: string): Promise<void> {
    const previous = this.recomputing.get(runbookId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.recomputeNow(runbookId));
    this.recomputing.set(runbookId, next);
    try {
      await next;
    } finally {
      if (this.recomputing.get(runbookId) === next) this.recomputing.delete(runbookId);
    }
  }

  private async recomputeNow(runbookId: string): Promise<void> {
    const { store, clock } = this.deps;
    const now = clock.now();
    const since = new Date(now.getTime() - LEARNING_WINDOW_DAYS * 86_400_000).toISOString();
    const executions = await store.listExecutionsByRunbook(runbookId, since);
    const recent = executions
      .filter((execution) => execution.outcome)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
      .slice(0, STEP_STATISTICS_EXECUTIONS);
    const outcomes = await Promise.all(recent.map((execution) => store.listStepOutcomes(execution.id)));
    const runbook = this.deps.runbooks?.().find((candidate) => candidate.id === runbookId);
    const history = runbookHistory(runbookId, runbook, recent, outcomes, now);
    const aggregate = aggregateRunbook(runbookId, executions, outcomes, now);
    await store.putLearningAggregate({
      ...aggregate,
      ...(runbook ? { steps: withDecisions(aggregate.steps, runbook, history) } : {}),
      failurePatterns: failurePatterns(history.executions),
      successFactors: successFactors(history.executions),
    });
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

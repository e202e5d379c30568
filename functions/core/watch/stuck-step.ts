import { randomUUID } from 'node:crypto';
import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { Store } from '../../ports/store.ts';
import type { WatchStore } from '../../ports/watch.ts';
import { auditEventId, system } from '../audit/events.ts';
import { auditText, recordAudit } from '../audit/record.ts';
import { executionLink, type RuntimeConfig } from '../config.ts';
import type { ExecutionContext, StepSpec } from '../execution-contract.ts';
import type { LearningAggregate, StepStatistics } from '../records.ts';
import { type ControlLinkMaker, controlLinkLines } from '../services/approvals.ts';
import type { StuckStepPolicy } from './policy.ts';

/** A runbook's learned step statistics are read again after this long (one read per step otherwise). */
const LEARNED_STEPS_CACHE_MS = 60_000;

/** The component that pauses stuck executions, as the audit trail and the control flags name it. */
export const STUCK_STEP_WATCHDOG = 'stuck-step-watchdog';

/** When a running attempt of a step counts as stuck, and from what. */
export interface StuckThreshold {
  afterMs: number;
  /** `p99`: the step's learned p99 over `runs` runs (never under the policy's minimum); `timeout`: no history. */
  basis: 'p99' | 'timeout';
  p99Ms?: number;
  runs?: number;
}

/**
 * The threshold of a step, pure: its learned p99 once it has `minRuns` finished runs (never sooner than
 * the policy's minimum), else its timeout.
 */
export function stuckThreshold(
  statistics: StepStatistics | undefined,
  timeoutSeconds: number,
  policy: Pick<StuckStepPolicy, 'minRuns' | 'minimum'>,
): StuckThreshold {
  const p99 = statistics?.p99DurationMs;
  if (statistics && p99 !== undefined && statistics.runs >= policy.minRuns)
    return {
      afterMs: Math.min(Math.max(p99, policy.minimum * 1_000), timeoutSeconds * 1_000),
      basis: 'p99',
      p99Ms: p99,
      runs: statistics.runs,
    };
  return { afterMs: timeoutSeconds * 1_000, basis: 'timeout' };
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1_000).toFixed(1)}s` : `${Math.round(ms / 1_000)}s`;
}

/** Why, in words: for the control flags, the audit trail and the notification. */
export function stuckReason(
  step: Pick<StepSpec, 'id' | 'tool'>,
  elapsedMs: number,
  threshold: StuckThreshold,
) {
  const past =
    threshold.basis === 'p99'
      ? `past its learned p99 of ${seconds(threshold.p99Ms!)} over ${threshold.runs} runs${threshold.afterMs > threshold.p99Ms! ? ` (the environment waits at least ${seconds(threshold.afterMs)})` : ''}`
      : `past its timeout of ${seconds(threshold.afterMs)} (no history of this step yet)`;
  return `step ${step.id} (${step.tool}) has been running ${seconds(elapsedMs)}, ${past}`;
}

/**
 * The stuck-step watchdog. The step runner that runs a step knows when it started and arms a timer at
 * the step's threshold (both runtimes, the same code): past it, the watchdog pauses the execution (it
 * holds at its next checkpoint until a person resumes or aborts it), tells the environment's
 * `policy.watch.stuckSteps.notify` targets, and records the pause in the audit trail, once per attempt.
 */
export class StuckStepWatchdog {
  constructor(
    private readonly deps: {
      store: Store;
      watch: WatchStore;
      notifier: Notifier;
      clock: Clock;
      logger: Logger;
      config: RuntimeConfig;
      audit?: AuditTrail;
      /** Signed pause/abort links, where this runtime can sign them (the read-only runner on AWS). */
      controlLinks?: ControlLinkMaker;
    },
  ) {}

  /** Per runbook: its learned step statistics as last read, and when (re-read at most every minute). */
  private readonly learned = new Map<string, { at: number; aggregate: LearningAggregate | undefined }>();

  private get policy(): StuckStepPolicy {
    return this.deps.config.policy.watch.stuckSteps;
  }

  /** When this step counts as stuck; undefined when the environment does not watch for stuck steps. */
  async thresholdFor(
    execution: ExecutionContext,
    step: Pick<StepSpec, 'id' | 'timeoutSeconds'>,
  ): Promise<StuckThreshold | undefined> {
    if (!this.policy.enabled) return undefined;
    const aggregate = await this.learnedSteps(execution.runbookId);
    const statistics = aggregate?.steps.find((candidate) => candidate.stepId === step.id);
    return stuckThreshold(statistics, step.timeoutSeconds, this.policy);
  }

  /**
   * The runbook's learning aggregate, read again once a minute has passed: every step of every
   * execution asks, and a p99 learned over many runs does not move by the minute.
   */
  private async learnedSteps(runbookId: string): Promise<LearningAggregate | undefined> {
    const now = this.deps.clock.now().getTime();
    const cached = this.learned.get(runbookId);
    if (cached && now - cached.at <= LEARNED_STEPS_CACHE_MS && now >= cached.at) return cached.aggregate;
    const aggregate = await this.deps.store.getLearningAggregate(runbookId);
    this.learned.set(runbookId, { at: now, aggregate });
    return aggregate;
  }

  /** The attempt passed its threshold: pause, tell, record (once per attempt, however often called). */
  async stuck(
    execution: ExecutionContext,
    step: Pick<StepSpec, 'id' | 'name' | 'tool'>,
    attempt: number,
    startedAt: Date,
    threshold: StuckThreshold,
  ): Promise<boolean> {
    const { store, watch, clock, logger } = this.deps;
    const now = clock.now();
    if (!(await watch.claimStuck(execution.id, step.id, attempt, now.toISOString()))) return false;
    const reason = stuckReason(step, now.getTime() - startedAt.getTime(), threshold);
    const paused = await store.requestControl(execution.id, {
      pauseRequested: true,
      requestedBy: STUCK_STEP_WATCHDOG,
      requestedAt: now.toISOString(),
      reason,
      unlessAborting: true,
    });
    // Finished or being aborted meanwhile: nothing to hold.
    if (!paused) return false;
    logger.warn('stuck step: execution paused', { executionId: execution.id, stepId: step.id, reason });
    await recordAudit(this.deps.audit, clock, {
      kind: 'override.pause',
      id: auditEventId('override.pause', execution.id, STUCK_STEP_WATCHDOG, step.id, String(attempt)),
      actor: system(STUCK_STEP_WATCHDOG),
      executionId: execution.id,
      incidentId: execution.incidentId,
      runbookId: execution.runbookId,
      environment: execution.environment,
      resourceKey: paused.resourceKey,
      result: 'accepted',
      reason: auditText(
        `${reason}; the execution holds at its next checkpoint until a person resumes or aborts it`,
      ),
    });
    await this.notify(execution, step, reason, paused.alert);
    return true;
  }

  private async notify(
    execution: ExecutionContext,
    step: Pick<StepSpec, 'id' | 'name' | 'tool'>,
    reason: string,
    alert: { name: string; resource: { type: string; id: string } },
  ): Promise<void> {
    const { config, notifier, clock, logger } = this.deps;
    const targets = this.policy.notify;
    const to = [...new Set(targets.flatMap((target) => config.escalationTargets[target] ?? []))].sort();
    if (to.length === 0) {
      logger.warn('stuck step and no target to tell', { executionId: execution.id, targets });
      return;
    }
    const link = executionLink(config, execution);
    const stop = await this.deps.controlLinks
      ?.linksFor(execution.id, `stuck-step:${targets.join(',')}`)
      .catch((error: unknown) => {
        logger.warn('could not sign pause/abort links for a stuck step', { error: String(error) });
        return [];
      });
    await notifier.send({
      id: randomUUID(),
      kind: 'escalation',
      to,
      subject: `[page] ${execution.runbookId}: step ${step.id} stuck on ${alert.resource.id}; execution paused`,
      text: [
        `${reason}.`,
        '',
        `runbook-autopilot paused execution ${execution.id} (${execution.runbookId}, ${execution.environment}): the step keeps running until it ends or times out, and the execution holds at its next checkpoint until a person decides.`,
        `Step:      ${step.name} (${step.tool})`,
        `Alert:     ${alert.name} on ${alert.resource.type} ${alert.resource.id}`,
        '',
        `Resume:    the dashboard, runbook-autopilot's control API (POST /api/executions/${execution.id}/resume)`,
        `Abort:     the dashboard, the link below, or POST /api/executions/${execution.id}/abort (rolls back what it changed)`,
        ...(link ? ['', `Details:   ${link}`] : []),
        ...controlLinkLines(stop ?? []),
      ].join('\n'),
      links: [...(link ? [{ label: 'Execution', url: link }] : []), ...(stop ?? [])],
      severity: 'page',
      executionId: execution.id,
      sentAt: clock.now().toISOString(),
    });
  }
}

import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ExecutionEngine } from '../../ports/execution-engine.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import { parseApprovalPublicId } from '../approval-links.ts';
import { type AuditSource, person } from '../audit/events.ts';
import { type AuditEventInput, auditText, recordAudit } from '../audit/record.ts';
import { AslErrorName, RunbookAutopilotError, TaskTokenExpiredError } from '../errors.ts';
import type { ExecutionExplanation } from '../findings/explain.ts';
import {
  type ApprovalRecord,
  type ExecutionRecord,
  type IncidentRecord,
  type KillSwitchState,
  type StepOutcome,
  TERMINAL_STATUSES,
} from '../records.ts';
import type { CheckpointService } from './checkpoint.ts';
import type { ExplainService } from './explain.ts';

/** An operator asked for something the execution's state does not allow (HTTP 409). */
export class ControlConflictError extends RunbookAutopilotError {
  override readonly name = 'ControlConflictError';
  /** What the operator needs to decide, shown with the error (the change that was running, its target's state). */
  readonly details: Record<string, unknown> | undefined;
  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    this.details = details;
  }
}

/**
 * What the runtime knows about changes an interruption cut short: whether running one again repeats
 * it (a tool's `onRepeat`), and a read of its target's current state (a tool's `inspectWith`).
 */
export interface InterruptedChanges {
  repeats(tool: string): { repeats: boolean; how: string };
  inspect?(
    tool: string,
    parameters: Record<string, unknown>,
    execution: ExecutionRecord,
  ): Promise<{ tool: string; state: unknown } | { unavailable: string }>;
}

/** The attempt of a change that was running when the platform stopped, as the 409 shows it. */
export interface InterruptedChange {
  stepId: string;
  kind: StepOutcome['kind'];
  name: string;
  tool: string;
  parameters: Record<string, unknown>;
  attempt: number;
  startedAt: string;
  /** Why running it again would repeat it. */
  repeats: string;
}

/** An execution as the API shows it: a held checkpoint's task token stays server-side. */
export function withoutToken(execution: ExecutionRecord): ExecutionRecord {
  return execution.heldCheckpoint
    ? { ...execution, heldCheckpoint: { ...execution.heldCheckpoint, taskToken: '(held)' } }
    : execution;
}

/** The detail's explanation fields: causes, their findings and predictions first, what they rest on apart. */
function explanationFields(
  explained: ExecutionExplanation,
): Pick<ExecutionDetail, 'likelyCauses' | 'findings' | 'predictions' | 'explanation'> {
  const { likelyCauses, findings, predictions, alertStartedAt, signature, history, problems } = explained;
  return {
    likelyCauses,
    findings,
    predictions,
    explanation: { alertStartedAt, signature, history, problems },
  };
}

/** No such execution (HTTP 404). */
export class NotFoundError extends RunbookAutopilotError {
  override readonly name = 'NotFoundError';
}

export interface ExecutionDetail {
  execution: ExecutionRecord;
  incident?: IncidentRecord;
  steps: StepOutcome[];
  approvals: Array<Omit<ApprovalRecord, 'taskToken'>>;
  /** Best first, from the diagnostics that have run so far (absent when nothing explains it). */
  likelyCauses?: ExecutionExplanation['likelyCauses'];
  /** Every finding the causes rest on. */
  findings?: ExecutionExplanation['findings'];
  /** Steps not yet run: probability of success and expected duration, each with its 90% interval. */
  predictions?: ExecutionExplanation['predictions'];
  /** What the explanation rests on: the alert's start, its signature, the history it read, unreadable outputs. */
  explanation?: Pick<ExecutionExplanation, 'alertStartedAt' | 'signature' | 'history' | 'problems'>;
}

/**
 * What operators do: look at executions, pause, resume, abort, and the kill switch. Pause and the
 * kill switch hold executions at their next checkpoint; abort fails a held checkpoint or a pending
 * approval at once and stops a running step through its abort signal (polled every few seconds).
 */
export class ControlService {
  constructor(
    private readonly deps: {
      store: Store;
      engine: ExecutionEngine;
      checkpoints: CheckpointService;
      clock: Clock;
      logger: Logger;
      /** Where executions can be interrupted (the embedded platform): which changes repeat when resumed. */
      interruptedChanges?: InterruptedChanges;
      /** Every override (accepted or refused) is recorded here, with who and from where. */
      audit?: AuditTrail;
      /** Likely causes and predictions in the execution detail. */
      explain?: Pick<ExplainService, 'tryExplain'>;
    },
  ) {}

  /**
   * Runs an override and records it: accepted once it took effect, or refused with the 409's words.
   * An execution that does not exist has no trail to record in (404).
   */
  private async overriding<T>(
    kind: 'override.pause' | 'override.resume' | 'override.abort',
    execution: ExecutionRecord | undefined,
    actor: { by: string; source?: AuditSource | undefined },
    details: { reason?: string | undefined; repeatInterruptedChange?: boolean },
    act: () => Promise<T>,
  ): Promise<T> {
    const at = this.deps.clock.now().toISOString();
    const event = (result: 'accepted' | 'refused', refusal?: string): AuditEventInput | undefined =>
      execution &&
      ({
        kind,
        at,
        actor: person(actor.by, actor.source),
        executionId: execution.id,
        incidentId: execution.incidentId,
        runbookId: execution.runbookId,
        environment: execution.environment,
        resourceKey: execution.resourceKey,
        result,
        ...(refusal ? { refusal: auditText(refusal) } : {}),
        ...(details.reason ? { reason: auditText(details.reason) } : {}),
        ...(kind === 'override.resume' && details.repeatInterruptedChange
          ? { repeatInterruptedChange: true }
          : {}),
      } as AuditEventInput);
    let result: T;
    try {
      result = await act();
    } catch (error) {
      const refused = error instanceof ControlConflictError ? event('refused', error.message) : undefined;
      if (refused) await recordAudit(this.deps.audit, this.deps.clock, refused);
      throw error;
    }
    const accepted = event('accepted');
    if (accepted) await recordAudit(this.deps.audit, this.deps.clock, accepted);
    return result;
  }

  /** Applies a control request under its condition; a lost race is a 409 saying what won. */
  private async requestControl(
    executionId: string,
    request: Parameters<Store['requestControl']>[1],
  ): Promise<ExecutionRecord> {
    const updated = await this.deps.store.requestControl(executionId, request);
    if (updated) return updated;
    const current = await this.deps.store.getExecution(executionId);
    if (!current) throw new NotFoundError(`no execution "${executionId}"`);
    if (TERMINAL_STATUSES.has(current.status))
      throw new ControlConflictError(`execution ${executionId} already ${current.status}; nothing to change`);
    throw new ControlConflictError(
      `execution ${executionId} is being aborted (by ${current.control.requestedBy ?? 'an operator'})`,
    );
  }

  async listExecutions(limit: number, cursor?: string) {
    const page = await this.deps.store.listExecutions({ limit, ...(cursor ? { cursor } : {}) });
    return { ...page, executions: page.executions.map(withoutToken) };
  }

  async describe(executionId: string): Promise<ExecutionDetail> {
    const { store } = this.deps;
    const execution = await store.getExecution(executionId);
    if (!execution) throw new NotFoundError(`no execution "${executionId}"`);
    const [incident, steps, approvals] = await Promise.all([
      store.getIncident(execution.incidentId),
      store.listStepOutcomes(executionId),
      store.listApprovals(executionId),
    ]);
    // A finished run predicts nothing: the steps it did not run were on branches it did not take.
    const explained = await this.deps.explain?.tryExplain(execution, {
      outcomes: steps,
      ...(TERMINAL_STATUSES.has(execution.status) ? { steps: [] } : {}),
    });
    return {
      execution: withoutToken(execution),
      ...(incident ? { incident } : {}),
      steps,
      approvals: approvals.map(({ taskToken: _token, ...approval }) => approval),
      ...(explained ? explanationFields(explained) : {}),
    };
  }

  private async live(executionId: string): Promise<ExecutionRecord> {
    const execution = await this.deps.store.getExecution(executionId);
    if (!execution) throw new NotFoundError(`no execution "${executionId}"`);
    if (TERMINAL_STATUSES.has(execution.status)) {
      throw new ControlConflictError(
        `execution ${executionId} already ${execution.status}; nothing to change`,
      );
    }
    return execution;
  }

  async pause(
    executionId: string,
    by: string,
    reason?: string,
    source?: AuditSource,
  ): Promise<ExecutionRecord> {
    const found = await this.deps.store.getExecution(executionId);
    return this.overriding('override.pause', found, { by, source }, { reason }, async () => {
      const execution = await this.live(executionId);
      if (execution.control.abortRequested)
        throw new ControlConflictError(`execution ${executionId} is being aborted`);
      const updated = await this.requestControl(executionId, {
        pauseRequested: true,
        requestedBy: by,
        requestedAt: this.deps.clock.now().toISOString(),
        ...(reason ? { reason } : {}),
        unlessAborting: true,
      });
      return withoutToken(updated);
    });
  }

  async resume(
    executionId: string,
    by: string,
    options: { repeatInterruptedChange?: boolean; source?: AuditSource } = {},
  ): Promise<ExecutionRecord> {
    const found = await this.deps.store.getExecution(executionId);
    return this.overriding(
      'override.resume',
      found,
      { by, source: options.source },
      { ...(options.repeatInterruptedChange ? { repeatInterruptedChange: true } : {}) },
      () => this.resumeLive(executionId, by, options),
    );
  }

  private async resumeLive(
    executionId: string,
    by: string,
    options: { repeatInterruptedChange?: boolean; source?: AuditSource },
  ): Promise<ExecutionRecord> {
    const execution = await this.live(executionId);
    if (execution.control.abortRequested)
      throw new ControlConflictError(`execution ${executionId} is being aborted`);
    if (execution.status === 'interrupted' && !options.repeatInterruptedChange) {
      // Re-running a change that repeats (a reboot, a local command) needs the operator's explicit word.
      const [change] = await this.changesThatWouldRepeat(executionId);
      if (change) {
        const current = await this.deps.interruptedChanges?.inspect?.(
          change.tool,
          change.parameters,
          execution,
        );
        throw new ControlConflictError(
          `execution ${executionId} was interrupted while ${change.kind} ${change.stepId} (${change.tool}) was changing something, and running it again repeats the change (${change.repeats}). Check the target's current state, then resume with {"repeatInterruptedChange": true} to run it again, or abort to roll back what the execution did.`,
          {
            interruptedChange: change,
            ...(current && 'state' in current
              ? { currentState: current }
              : {
                  currentStateUnavailable:
                    current?.unavailable ??
                    `${change.tool} has no read-only tool to show its target; check it by hand`,
                }),
          },
        );
      }
    }
    if (execution.status === 'interrupted') {
      const control = {
        ...execution.control,
        pauseRequested: false,
        requestedBy: by,
        requestedAt: this.deps.clock.now().toISOString(),
      };
      if (!(await this.restartInterrupted(execution, by, control)))
        throw new ControlConflictError(
          `execution ${executionId} was interrupted and cannot be resumed: its runbook no longer has the state it was in; abort it`,
        );
      return withoutToken((await this.deps.store.getExecution(executionId))!);
    }
    await this.requestControl(executionId, {
      pauseRequested: false,
      requestedBy: by,
      requestedAt: this.deps.clock.now().toISOString(),
      unlessAborting: true,
    });
    const killSwitch = await this.deps.store.getKillSwitch();
    // Held by the kill switch, it stays held until the switch is released.
    if (!killSwitch.engaged) await this.deps.checkpoints.release(executionId, person(by, options.source));
    return withoutToken((await this.deps.store.getExecution(executionId))!);
  }

  async abort(
    executionId: string,
    by: string,
    reason?: string,
    source?: AuditSource,
  ): Promise<ExecutionRecord> {
    const found = await this.deps.store.getExecution(executionId);
    return this.overriding('override.abort', found, { by, source }, { reason }, () =>
      this.abortLive(executionId, by, reason, source),
    );
  }

  private async abortLive(
    executionId: string,
    by: string,
    reason: string | undefined,
    source: AuditSource | undefined,
  ): Promise<ExecutionRecord> {
    const execution = await this.live(executionId);
    await this.requestControl(executionId, {
      abortRequested: true,
      requestedBy: by,
      requestedAt: this.deps.clock.now().toISOString(),
      ...(reason ? { reason } : {}),
    });
    const cause = `aborted by ${by}${reason ? `: ${reason}` : ''}`;
    if (execution.status === 'interrupted') {
      // Nothing runs it: resumed with the abort requested, its next step fails into rollback. When it
      // cannot be resumed, the engine stops it for good (no rollback: say so).
      const control = {
        ...execution.control,
        abortRequested: true,
        requestedBy: by,
        requestedAt: this.deps.clock.now().toISOString(),
        ...(reason ? { reason } : {}),
      };
      if (!(await this.restartInterrupted(execution, by, control))) {
        this.deps.logger.warn('interrupted execution stopped without rollback', { executionId });
        await this.deps.engine.stop(execution.runbookId, executionId, {
          error: AslErrorName.Aborted,
          cause: `${cause} (interrupted; it could not be resumed, so nothing was rolled back)`,
        });
      }
      return withoutToken((await this.deps.store.getExecution(executionId))!);
    }
    // Held at a checkpoint or waiting for a human: fail the task now, into rollback.
    await this.deps.checkpoints.failHeld(executionId, cause, person(by, source));
    await this.cancelPendingApprovals(executionId, by, source);
    this.deps.logger.info('abort requested', { executionId, by });
    return withoutToken((await this.deps.store.getExecution(executionId))!);
  }

  /** The latest attempts that were changing something when the platform stopped, whose repeat repeats it. */
  private async changesThatWouldRepeat(executionId: string): Promise<InterruptedChange[]> {
    const policy = this.deps.interruptedChanges;
    if (!policy) return [];
    const latest = new Map<string, StepOutcome>();
    for (const outcome of await this.deps.store.listStepOutcomes(executionId))
      latest.set(`${outcome.kind}:${outcome.stepId}`, outcome);
    const changes: InterruptedChange[] = [];
    for (const outcome of latest.values()) {
      if (!outcome.mutating || (outcome.status !== 'interrupted' && outcome.status !== 'running')) continue;
      const repeat = policy.repeats(outcome.tool);
      if (!repeat.repeats) continue;
      changes.push({
        stepId: outcome.stepId,
        kind: outcome.kind,
        name: outcome.name,
        tool: outcome.tool,
        parameters: outcome.parameters,
        attempt: outcome.attempt,
        startedAt: outcome.startedAt,
        repeats: repeat.how,
      });
    }
    return changes;
  }

  /** Resumes an interrupted execution with `control` set; false when the runtime cannot resume it. */
  private async restartInterrupted(
    execution: ExecutionRecord,
    by: string,
    control: ExecutionRecord['control'],
  ): Promise<boolean> {
    const { store, engine, logger } = this.deps;
    if (!engine.resumeInterrupted) return false;
    const before = {
      status: execution.status,
      ...(execution.currentState ? { currentState: execution.currentState } : {}),
    };
    await store.updateExecution(execution.id, {
      status: 'running',
      currentState: `resumed by ${by} after an interruption`,
      control,
    });
    if (await engine.resumeInterrupted(execution.id)) {
      logger.info('interrupted execution resumed', { executionId: execution.id, by });
      return true;
    }
    await store.updateExecution(execution.id, { ...before, control });
    return false;
  }

  /** An abort cancels the execution's pending approvals and fails the tasks waiting on them. */
  private async cancelPendingApprovals(
    executionId: string,
    by: string,
    source: AuditSource | undefined,
  ): Promise<number> {
    const { store, engine, clock, logger } = this.deps;
    let cancelled = 0;
    for (const approval of await store.listApprovals(executionId)) {
      if (approval.status !== 'pending') continue;
      const key = parseApprovalPublicId(approval.id)?.approvalKey;
      if (!key) continue;
      const closed = await store.closeApproval(executionId, key, 'cancelled', clock.now().toISOString());
      if (!closed) continue;
      cancelled++;
      await recordAudit(this.deps.audit, clock, {
        kind: 'approval.closed',
        actor: person(by, source),
        executionId,
        runbookId: approval.runbookId,
        environment: approval.environment,
        approvalId: approval.id,
        status: 'cancelled',
      });
      await engine
        .sendTaskFailure(approval.taskToken, {
          error: AslErrorName.Aborted,
          cause: `aborted by ${by} while waiting for approval`,
        })
        .catch((error: unknown) => {
          if (!(error instanceof TaskTokenExpiredError)) throw error;
          logger.info('cancelled approval was no longer awaited', { executionId });
        });
    }
    return cancelled;
  }

  getKillSwitch(): Promise<KillSwitchState> {
    return this.deps.store.getKillSwitch();
  }

  /** Engaging holds every execution at its next checkpoint; releasing lets held ones go on unless paused. */
  async setKillSwitch(
    engaged: boolean,
    by: string,
    reason?: string,
    source?: AuditSource,
  ): Promise<KillSwitchState & { released: number }> {
    const state: KillSwitchState = {
      engaged,
      changedBy: by,
      changedAt: this.deps.clock.now().toISOString(),
      ...(reason ? { reason } : {}),
    };
    await this.deps.store.setKillSwitch(state);
    this.deps.logger.warn(engaged ? 'kill switch engaged' : 'kill switch released', { by, reason });
    let released = 0;
    if (!engaged) {
      // A checkpoint holds for at most a day, so only executions started within two days can be held.
      const horizon = this.deps.clock.now().getTime() - 2 * 86_400_000;
      let cursor: string | undefined;
      do {
        const page = await this.deps.store.listExecutions({ limit: 100, ...(cursor ? { cursor } : {}) });
        for (const execution of page.executions) {
          if (
            execution.heldCheckpoint &&
            !execution.control.pauseRequested &&
            !execution.control.abortRequested
          ) {
            if (await this.deps.checkpoints.release(execution.id, person(by, source))) released++;
          }
        }
        const oldest = page.executions.at(-1);
        cursor = oldest && new Date(oldest.startedAt).getTime() >= horizon ? page.cursor : undefined;
      } while (cursor);
    }
    // The switch's history: every change, with who, when and from where (the item keeps only the last).
    await recordAudit(this.deps.audit, this.deps.clock, {
      kind: engaged ? 'kill-switch.engaged' : 'kill-switch.released',
      at: state.changedAt!,
      actor: person(by, source),
      result: 'accepted',
      ...(reason ? { reason: auditText(reason) } : {}),
      ...(engaged ? {} : { released }),
    } as AuditEventInput);
    return { ...state, released };
  }
}

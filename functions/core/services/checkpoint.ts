import type { AuditTrail } from '../../ports/audit.ts';
import type { ChangeLocks } from '../../ports/change-locks.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ExecutionEngine } from '../../ports/execution-engine.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import { type AuditActor, system } from '../audit/events.ts';
import { auditText, recordAudit } from '../audit/record.ts';
import type { AutomationApprovalGate } from '../automation/approval-gate.ts';
import { CHECKPOINT_HOLD_SECONDS } from '../compiler/compile.ts';
import { AslErrorName, StateError } from '../errors.ts';
import type { ExecutionContext } from '../execution-contract.ts';
import type { RiskCheckpoint } from '../risk/checkpoint.ts';

/**
 * Checkpoints (before each phase, after each approval) are `.waitForTaskToken` tasks. Arriving, an
 * execution passes straight on, or is held (paused, or the kill switch is engaged) with its token
 * stored, or fails with Runbook.Aborted. Resume and the kill switch's release send the token back.
 */
export class CheckpointService {
  constructor(
    private readonly deps: {
      store: Store;
      engine: ExecutionEngine;
      clock: Clock;
      logger: Logger;
      /** Holds, releases and aborts at a checkpoint are gate verdicts in the execution's trail. */
      audit?: AuditTrail;
      /** The approve level: a change no runbook gate covers waits here for a person's approval. */
      automation?: Pick<AutomationApprovalGate, 'atCheckpoint'>;
      /** The risk policy before changes: may refuse, or hold the execution for an approval. */
      riskGate?: Pick<RiskCheckpoint, 'arrive'>;
      /** A held execution keeps its resource's change lock for as long as the hold may last. */
      changeLocks?: Pick<ChangeLocks, 'get' | 'renew'>;
    },
  ) {}

  /**
   * Held at a checkpoint (paused, the kill switch, an approval): the lock's expiry moves on by the
   * longest hold (the checkpoint fails into rollback after it), so a pause cannot outlive the claim and
   * let another run change the resource meanwhile. Released: `releasedAfter` gives back what the hold
   * did not use, so the run keeps the rest of its own bound and no more.
   */
  private async keepLock(executionId: string, releasedAfter?: { heldAt: string }): Promise<void> {
    const locks = this.deps.changeLocks;
    if (!locks) return;
    const record = await this.deps.store.getExecution(executionId);
    if (!record?.resourceKey) return;
    const lock = await locks.get(record.resourceKey);
    // No lock (a read-only runbook, a deployment that runs dry) or already given back: nothing to keep.
    if (!lock) return;
    if (lock.executionId !== executionId) {
      this.deps.logger.warn('held execution no longer holds its change lock', {
        executionId,
        resourceKey: record.resourceKey,
        holder: lock.executionId,
      });
      return;
    }
    const now = this.deps.clock.now().getTime();
    const expiry = Date.parse(lock.expiresAt);
    const hold = CHECKPOINT_HOLD_SECONDS * 1000;
    const until = releasedAfter
      ? Math.max(now, expiry - hold + (now - Date.parse(releasedAfter.heldAt)))
      : Math.max(expiry, now) + hold;
    await locks.renew(record.resourceKey, executionId, new Date(until).toISOString());
  }

  /** Records what the checkpoint did with the execution (held, released, refused by an abort). */
  private async verdict(
    executionId: string,
    verdict: 'held' | 'released' | 'refused',
    reason: string,
    actor: AuditActor,
    details?: Record<string, unknown>,
  ): Promise<void> {
    if (!this.deps.audit) return;
    const record = await this.deps.store.getExecution(executionId);
    await recordAudit(this.deps.audit, this.deps.clock, {
      kind: 'gate.verdict',
      actor,
      executionId,
      ...(record
        ? {
            incidentId: record.incidentId,
            runbookId: record.runbookId,
            environment: record.environment,
            resourceKey: record.resourceKey,
          }
        : {}),
      gate: 'checkpoint',
      verdict,
      reason: auditText(reason),
      ...(details ? { details } : {}),
    });
  }

  async arrive(
    execution: ExecutionContext,
    checkpoint: { before: string; mutating: boolean },
    taskToken: string,
  ): Promise<unknown> {
    const { store, engine, clock } = this.deps;
    const hold = await this.holdReason(execution.id);
    if (hold === 'abort') {
      const record = await store.getExecution(execution.id);
      const error = new StateError(
        AslErrorName.Aborted,
        `aborted by ${record?.control.requestedBy ?? 'an operator'} before ${checkpoint.before}`,
      );
      error.stack = `${error.name}: ${error.message}`;
      await this.verdict(execution.id, 'refused', error.message, system('step-runner'), {
        before: checkpoint.before,
      });
      throw error;
    }
    // The approval takes the token: its decision lets the phase go on or fails it into rollback.
    const asked = await this.deps.automation?.atCheckpoint(execution, checkpoint, taskToken);
    if (asked) {
      await this.keepLock(execution.id);
      return { held: true, reason: 'approval', approvalId: asked.approvalId };
    }
    if (!hold) {
      const gated = await this.deps.riskGate?.arrive(execution, checkpoint, taskToken);
      if (gated?.held) {
        await this.keepLock(execution.id);
        await store
          .updateExecution(execution.id, { currentState: `Approval (risk): ${checkpoint.before}` })
          .catch(() => undefined);
        return { held: true, reason: gated.reason ?? 'approval' };
      }
      await store
        .updateExecution(execution.id, { currentState: `Checkpoint: ${checkpoint.before}` })
        .catch(() => undefined);
      await engine.sendTaskSuccess(taskToken, { passed: checkpoint.before });
      return { held: false };
    }
    const heldAt = clock.now().toISOString();
    await store.holdCheckpoint(execution.id, { before: checkpoint.before, taskToken, heldAt });
    await this.keepLock(execution.id);
    await store.updateExecution(execution.id, {
      status: 'paused',
      currentState: `Checkpoint: ${checkpoint.before}`,
    });
    await this.verdict(
      execution.id,
      'held',
      hold === 'pause'
        ? `held before ${checkpoint.before}: paused by ${(await store.getExecution(execution.id))?.control.requestedBy ?? 'an operator'}`
        : `held before ${checkpoint.before}: ${await this.killSwitchWords()}`,
      system('step-runner'),
      { before: checkpoint.before, holdReason: hold },
    );
    this.deps.logger.info('execution held at checkpoint', {
      executionId: execution.id,
      before: checkpoint.before,
      reason: hold,
    });
    // A resume may have landed between the check and the hold: look again, and release if so.
    const again = await this.holdReason(execution.id);
    if (!again) await this.release(execution.id, system('step-runner'));
    else if (again === 'abort')
      await this.failHeld(execution.id, 'aborted while held', system('step-runner'));
    return { held: true, reason: hold };
  }

  private async holdReason(executionId: string): Promise<'abort' | 'pause' | 'kill-switch' | undefined> {
    const { store } = this.deps;
    const [record, killSwitch] = await Promise.all([store.getExecution(executionId), store.getKillSwitch()]);
    if (record?.control.abortRequested) return 'abort';
    if (record?.control.pauseRequested) return 'pause';
    if (killSwitch.engaged) return 'kill-switch';
    return undefined;
  }

  private async killSwitchWords(): Promise<string> {
    const state = await this.deps.store.getKillSwitch();
    return `kill switch engaged${state.changedBy ? ` by ${state.changedBy}` : ''}${state.reason ? `: ${state.reason}` : ''}`;
  }

  /** Lets a held execution continue; false when nothing was held. `by`: who let it go. */
  async release(executionId: string, by: AuditActor = system('step-runner')): Promise<boolean> {
    const held = await this.deps.store.releaseCheckpoint(executionId);
    if (!held) return false;
    await this.keepLock(executionId, { heldAt: held.heldAt });
    await this.verdict(
      executionId,
      'released',
      `released before ${held.before} (held since ${held.heldAt})`,
      by,
      {
        before: held.before,
      },
    );
    await this.deps.store.updateExecution(executionId, { status: 'running' });
    await this.deps.engine.sendTaskSuccess(held.taskToken, { passed: held.before, heldFor: held.heldAt });
    return true;
  }

  /** Fails a held execution into its rollback path. */
  async failHeld(
    executionId: string,
    cause: string,
    by: AuditActor = system('step-runner'),
  ): Promise<boolean> {
    const held = await this.deps.store.releaseCheckpoint(executionId);
    if (!held) return false;
    await this.verdict(executionId, 'refused', `${cause} (held before ${held.before})`, by, {
      before: held.before,
    });
    await this.deps.store.updateExecution(executionId, { status: 'running' });
    await this.deps.engine.sendTaskFailure(held.taskToken, { error: AslErrorName.Aborted, cause });
    return true;
  }
}

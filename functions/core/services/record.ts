import type { AuditTrail } from '../../ports/audit.ts';
import type { ChangeLocks } from '../../ports/change-locks.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import { parseApprovalPublicId } from '../approval-links.ts';
import { type AuditActor, auditEventId, system } from '../audit/events.ts';
import { auditText, recordAudit } from '../audit/record.ts';
import { concurrencySlotKey } from '../classifier/identity.ts';
import { AslErrorName } from '../errors.ts';
import type { ExecutionOutcome, ExecutionRecord, StepOutcome } from '../records.ts';
import { lookup, parseReference } from '../runbook/templates.ts';
import type { MachineState } from './escalation.ts';

/** The concurrency slot an execution holds while it runs (planLimitChecks takes it, this gives it back). */
export function slotKey(runbookId: string): string {
  return concurrencySlotKey(runbookId);
}

/** Outcome facts from what the store knows about an execution (shared by Record and the learning recorder). */
export function deriveOutcome(
  status: ExecutionOutcome['status'],
  failure: { error?: string; cause?: string },
  execution: ExecutionRecord,
  outcomes: StepOutcome[],
  approvals: Array<{ status: string; requestedAt: string; decidedAt?: string }>,
  state: { escalated: boolean; rollbackFailed: boolean },
  now: Date,
  recordedOutputs: Record<string, unknown> = {},
): ExecutionOutcome {
  // Only approvals a human answered have a wait; expired and cancelled ones count as requested.
  const approved = approvals.filter(
    (approval) => approval.decidedAt && (approval.status === 'approved' || approval.status === 'rejected'),
  );
  const approvalWaitMs = approved.reduce(
    (sum, approval) =>
      sum + (new Date(approval.decidedAt!).getTime() - new Date(approval.requestedAt).getTime()),
    0,
  );
  const rolledBack = outcomes.some(
    (outcome) => outcome.kind === 'compensation' && outcome.status === 'compensated',
  );
  const lastCompensation = new Map<string, StepOutcome>();
  for (const outcome of outcomes)
    if (outcome.kind === 'compensation') lastCompensation.set(outcome.stepId, outcome);
  const rollbackFailed =
    state.rollbackFailed ||
    [...lastCompensation.values()].some((outcome) => ['failed', 'timed-out'].includes(outcome.status));
  const controlled = execution.control.abortRequested || execution.control.pauseRequested;
  return {
    status,
    ...(failure.error ? { error: failure.error } : {}),
    ...(failure.cause ? { cause: failure.cause } : {}),
    rolledBack,
    rollbackFailed,
    escalated: state.escalated,
    humanIntervention: approvals.length > 0 || state.escalated || controlled || status === 'aborted',
    approvals: approvals.length,
    approvalsAnswered: approved.length,
    approvalWaitMs: Math.max(0, approvalWaitMs),
    ...(status === 'succeeded'
      ? { timeToRecoverMs: Math.max(0, now.getTime() - new Date(execution.alert.startsAt).getTime()) }
      : {}),
    recordedOutputs,
  };
}

/**
 * Settles the approvals an execution left pending when it stopped: expired when their time ran out,
 * else cancelled (the execution failed or was stopped elsewhere). Their links then say so.
 */
export async function closeOpenApprovals(
  store: Store,
  executionId: string,
  now: Date,
  audit?: { trail: AuditTrail | undefined; clock: Clock; actor: AuditActor },
): Promise<void> {
  for (const approval of await store.listApprovals(executionId)) {
    if (approval.status !== 'pending') continue;
    const key = parseApprovalPublicId(approval.id)?.approvalKey;
    if (!key) continue;
    const status = new Date(approval.expiresAt).getTime() <= now.getTime() ? 'expired' : 'cancelled';
    const closed = await store.closeApproval(executionId, key, status, now.toISOString());
    if (closed && audit)
      await recordAudit(audit.trail, audit.clock, {
        kind: 'approval.closed',
        id: auditEventId('approval.closed', approval.id),
        actor: audit.actor,
        executionId,
        runbookId: approval.runbookId,
        environment: approval.environment,
        approvalId: approval.id,
        status,
      });
  }
}

/** The execution's end in its audit trail; the same id from Record and the learning recorder: once. */
export async function auditExecutionFinished(
  audit: AuditTrail | undefined,
  clock: Clock,
  execution: ExecutionRecord,
  outcome: ExecutionOutcome,
  actor: AuditActor,
): Promise<void> {
  await recordAudit(audit, clock, {
    kind: 'execution.finished',
    id: auditEventId('execution.finished', execution.id),
    actor,
    executionId: execution.id,
    incidentId: execution.incidentId,
    runbookId: execution.runbookId,
    environment: execution.environment,
    resourceKey: execution.resourceKey,
    status: outcome.status,
    ...(outcome.error ? { error: auditText(outcome.error) } : {}),
    ...(outcome.cause ? { cause: auditText(outcome.cause) } : {}),
    rolledBack: outcome.rolledBack,
    rollbackFailed: outcome.rollbackFailed,
    escalated: outcome.escalated,
  });
}

/**
 * The Record task at the end of every machine: writes the execution's outcome, gives back its
 * concurrency slot and its resource's change lock. The learning recorder (on the engine's status-change event) does the same for
 * executions that never reached it, and recomputes the aggregates.
 */
export class RecordService {
  constructor(
    private readonly deps: {
      store: Store;
      clock: Clock;
      logger: Logger;
      audit?: AuditTrail;
      /** The resource's change lock is given back with the slot (the learning recorder re-classifies). */
      changeLocks?: Pick<ChangeLocks, 'release'>;
    },
  ) {}

  async record(outcome: 'succeeded' | 'failed', recordOutputs: string[], rawState: Record<string, unknown>) {
    const state = rawState as MachineState;
    const executionId = state.execution?.id;
    if (!executionId) return { recorded: false, reason: 'no execution in state' };
    const { store, clock } = this.deps;
    await closeOpenApprovals(store, executionId, clock.now(), {
      trail: this.deps.audit,
      clock,
      actor: system('step-runner'),
    });
    const [execution, outcomes, approvals] = await Promise.all([
      store.getExecution(executionId),
      store.listStepOutcomes(executionId),
      store.listApprovals(executionId),
    ]);
    if (!execution) return { recorded: false, reason: `execution ${executionId} is not in the store` };
    const steps: Record<string, { status: string; output: unknown }> = {};
    for (const step of outcomes)
      if (step.kind !== 'compensation')
        steps[step.stepId] = { status: step.status, output: step.output ?? null };
    const recordedOutputs: Record<string, unknown> = {};
    for (const fact of recordOutputs) {
      const segments = parseReference(fact);
      const found = segments ? lookup({ steps }, segments) : { found: false, value: undefined };
      if (found.found) recordedOutputs[fact] = found.value;
    }
    const status =
      outcome === 'succeeded'
        ? 'succeeded'
        : state.failure?.Error === AslErrorName.Aborted
          ? 'aborted'
          : 'failed';
    const now = clock.now();
    const derived = deriveOutcome(
      status,
      {
        ...(state.failure?.Error ? { error: state.failure.Error } : {}),
        ...(state.failure?.Cause ? { cause: state.failure.Cause } : {}),
      },
      execution,
      outcomes,
      approvals,
      { escalated: state.escalation !== undefined, rollbackFailed: state.rollbackError !== undefined },
      now,
      recordedOutputs,
    );
    await store.updateExecution(executionId, {
      status,
      stoppedAt: now.toISOString(),
      outcome: derived,
      currentState: outcome === 'succeeded' ? 'Succeeded' : 'Failed',
    });
    await auditExecutionFinished(this.deps.audit, clock, execution, derived, system('step-runner'));
    await store.releaseSlot(slotKey(execution.runbookId), executionId);
    await this.deps.changeLocks?.release(execution.resourceKey, executionId);
    this.deps.logger.info('execution recorded', { executionId, status });
    return { recorded: true, status };
  }
}

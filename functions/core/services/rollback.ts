import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ExecutionEngine } from '../../ports/execution-engine.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { RollbackStore } from '../../ports/rollbacks.ts';
import type { Store } from '../../ports/store.ts';
import { auditEventId, person } from '../audit/events.ts';
import { stableHash } from '../classifier/identity.ts';
import type { RuntimeConfig } from '../config.ts';
import { AslErrorName, InvalidEventError, StateError } from '../errors.ts';
import type { ApprovalSpec, ExecutionContext, RollbackTask } from '../execution-contract.ts';
import { approvalRiskThreshold, maxRisk, RISK_RANK, type RiskLevel } from '../policy.ts';
import { type ExecutionRecord, type StepOutcome, TERMINAL_STATUSES } from '../records.ts';
import {
  ROLLBACK_APPROVAL_SECONDS,
  ROLLBACK_MACHINE_ID,
  type RollbackMachineInput,
} from '../rollback/machine.ts';
import {
  changesAfter,
  ROLLBACK_TO_START,
  type RollbackPointOption,
  recordedSteps,
  rollbackPoints,
  type UndoableChange,
  undoableChanges,
} from '../rollback/plan.ts';
import { FINISHED_ROLLBACK_STATUSES, type RollbackRecord, type RollbackStatus } from '../rollback/records.ts';
import type { Runbook } from '../runbook/model.ts';
import type { ToolCatalog } from '../tool-catalog.ts';
import { ControlConflictError, NotFoundError } from './control.ts';

/** What the dashboard and `runbook rollback` show before anyone asks: what each point would undo. */
export interface RollbackPlanView {
  executionId: string;
  runbookId: string;
  status: ExecutionRecord['status'];
  /** Whether a rollback may be asked for now, and if not, why. */
  canRollBack: boolean;
  why?: string;
  points: RollbackPointOption[];
  /** The changes still in effect, in the order they ran, with how each is undone. */
  changes: Array<{
    stepId: string;
    name: string;
    tool: string;
    risk: RiskLevel;
    status: string;
    startedAt: string;
    undoneBy?: string;
  }>;
  /** Changes no compensation undoes: a rollback past them is refused (undo them by hand). */
  cannotUndo: string[];
  /** Whether a rollback of every change would wait for an approval here. */
  approval: { requiredFromRisk: string; requiredForAll: boolean };
  rollbacks: RollbackRecord[];
}

export interface RollbackServiceOptions {
  store: Store;
  rollbacks: RollbackStore;
  engine: ExecutionEngine;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  config: RuntimeConfig;
  runbooks: () => readonly Runbook[] | Promise<readonly Runbook[]>;
  tools: ToolCatalog;
  audit?: AuditTrail;
}

/** Raise with an ASL name (the rollback machine catches it into its Finish state). */
function fail(name: string, message: string): never {
  const error = new StateError(name, message);
  error.stack = `${error.name}: ${error.message}`;
  throw error;
}

/**
 * executeRollback(executionId, rollbackPoint): a finished (or aborted) execution's changes after the
 * point are compensated in reverse by the rollback machine, each through the step runner's compensate
 * (recorded under the execution), after an approval when the environment's policy asks for one for
 * changes that risky. One rollback of an execution at a time; the kill switch refuses it.
 */
export class RollbackService {
  constructor(private readonly options: RollbackServiceOptions) {}

  private async runbookOf(execution: ExecutionRecord): Promise<Runbook | undefined> {
    return (await this.options.runbooks()).find((runbook) => runbook.id === execution.runbookId);
  }

  private async load(executionId: string) {
    const { store, rollbacks } = this.options;
    const execution = await store.getExecution(executionId);
    if (!execution) throw new NotFoundError(`no execution "${executionId}"`);
    const [outcomes, runbook, history] = await Promise.all([
      store.listStepOutcomes(executionId),
      this.runbookOf(execution),
      rollbacks.list(executionId),
    ]);
    const steps = recordedSteps(outcomes);
    const changes = undoableChanges(outcomes, runbook, this.options.tools);
    return { execution, outcomes, runbook, history, steps, changes };
  }

  /** Why no rollback may be asked for now; undefined when one may. */
  private blocked(execution: ExecutionRecord, runbook: Runbook | undefined, history: RollbackRecord[]) {
    if (!TERMINAL_STATUSES.has(execution.status))
      return `execution ${execution.id} is ${execution.status}: abort it instead (an abort rolls back what it changed)`;
    if (!runbook)
      return `runbook ${execution.runbookId} is not deployed here any more: its compensations are unknown`;
    const active = history.find((rollback) => !FINISHED_ROLLBACK_STATUSES.has(rollback.status));
    if (active) return `rollback ${active.id} of this execution is ${active.status}; wait for it to finish`;
    return undefined;
  }

  async plan(executionId: string): Promise<RollbackPlanView> {
    const { execution, runbook, history, steps, changes } = await this.load(executionId);
    const why =
      this.blocked(execution, runbook, history) ??
      (changes.length === 0
        ? 'nothing to roll back: no change of this execution is still in effect'
        : undefined);
    const threshold = approvalRiskThreshold(this.options.config.policy);
    return {
      executionId,
      runbookId: execution.runbookId,
      status: execution.status,
      canRollBack: !why,
      ...(why ? { why } : {}),
      points: rollbackPoints(steps, changes),
      changes: changes.map((change) => ({
        stepId: change.stepId,
        name: change.name,
        tool: change.tool,
        risk: change.risk,
        status: change.latest.status,
        startedAt: change.startedAt,
        ...(change.compensation ? { undoneBy: change.compensation.tool } : {}),
      })),
      cannotUndo: changes.filter((change) => !change.compensation).map((change) => change.stepId),
      approval: {
        requiredFromRisk: this.options.config.policy.approval.requiredFromRisk,
        requiredForAll: changes.some((change) => RISK_RANK[change.risk] >= threshold),
      },
      rollbacks: history,
    };
  }

  /** Asks for a rollback to `rollbackPoint` (a step id, or `start`); starts the rollback machine. */
  async request(
    executionId: string,
    rollbackPoint: string | undefined,
    by: string,
    reason?: string,
  ): Promise<RollbackRecord> {
    const point = rollbackPoint ?? ROLLBACK_TO_START;
    try {
      const rollback = await this.begin(executionId, point, by, reason);
      await this.audit(executionId, rollback.runbookId, point, by, 'accepted', reason);
      return rollback;
    } catch (error) {
      if (error instanceof ControlConflictError || error instanceof InvalidEventError)
        await this.audit(executionId, undefined, point, by, 'refused', reason, error.message);
      throw error;
    }
  }

  private async begin(executionId: string, point: string, by: string, reason?: string) {
    const { store, rollbacks, engine, clock, config, logger } = this.options;
    const { execution, runbook, history, steps, changes } = await this.load(executionId);
    const why = this.blocked(execution, runbook, history);
    if (why || !runbook) throw new ControlConflictError(why ?? 'no runbook');
    const undo = changesAfter(point, steps, changes);
    if (!undo)
      throw new InvalidEventError(
        `rollbackPoint "${point}" is not a step of execution ${executionId}: use "start" or one of ${steps.map((step) => step.stepId).join(', ') || '(no step ran)'}`,
        [{ check: 'schema', path: 'rollbackPoint', message: `no step "${point}" ran in this execution` }],
      );
    if (undo.length === 0)
      throw new ControlConflictError(
        `nothing to roll back ${point === ROLLBACK_TO_START ? '' : `after ${point} `}in execution ${executionId}: no later change is still in effect`,
      );
    const missing = undo.filter((change) => !change.compensation);
    if (missing.length > 0)
      throw new ControlConflictError(
        `cannot roll back past ${missing.map((change) => change.stepId).join(', ')}: runbook ${runbook.id} has no compensation for ${missing.length === 1 ? 'it' : 'them'}; roll back to a later point, or undo ${missing.length === 1 ? 'it' : 'them'} by hand`,
      );
    const killSwitch = await store.getKillSwitch();
    if (killSwitch.engaged)
      throw new ControlConflictError(
        `the kill switch is engaged${killSwitch.changedBy ? ` (by ${killSwitch.changedBy})` : ''}: no change runs, rollbacks neither; release it first`,
      );
    const incident = await store.getIncident(execution.incidentId);
    if (!incident)
      throw new ControlConflictError(`the incident of execution ${executionId} is no longer kept`);

    const now = clock.now();
    const id = `rb-${stableHash([executionId, now.toISOString(), randomUUID()], 20)}`;
    const risk = maxRisk(undo.map((change) => change.risk));
    const approval = this.approvalFor(runbook, execution, undo, risk, point, by);
    const record: RollbackRecord = {
      id,
      executionId,
      runbookId: execution.runbookId,
      environment: execution.environment,
      rollbackPoint: point,
      requestedBy: by,
      requestedAt: now.toISOString(),
      ...(reason ? { reason } : {}),
      status: 'requested',
      changes: undo.map((change) => ({
        stepId: change.stepId,
        name: change.name,
        ...(change.phase ? { phase: change.phase } : {}),
        tool: change.tool,
        risk: change.risk,
        status: change.latest.status,
        startedAt: change.startedAt,
        parameters: change.latest.parameters,
        compensation: change.compensation!,
      })),
      approval: {
        required: Boolean(approval),
        risk,
        because: approval
          ? `${config.environment} asks for approval of changes at or above risk ${config.policy.approval.requiredFromRisk}; undoing ${risk}-risk changes is one`
          : `${config.environment} asks for approval from risk ${config.policy.approval.requiredFromRisk}; the changes undone are at most ${risk}`,
        ...(approval ? { approverGroups: approval.approverGroups, quorum: approval.quorum } : {}),
      },
    };
    if (!(await rollbacks.create(record))) {
      const active = (await rollbacks.list(executionId)).find(
        (rollback) => !FINISHED_ROLLBACK_STATUSES.has(rollback.status),
      );
      throw new ControlConflictError(
        `rollback ${active?.id ?? ''} of execution ${executionId} is still running; wait for it to finish`,
      );
    }
    const input: RollbackMachineInput = {
      execution: this.contextOf(execution, by),
      alert: incident.alert,
      rollback: {
        id,
        rollbackPoint: point,
        requestedBy: by,
        compensations: record.changes.map((change) => change.compensation),
        ...(approval ? { approval } : {}),
      },
      steps: {},
      groups: {},
      approvals: {},
    };
    try {
      const started = await engine.start({ runbookId: ROLLBACK_MACHINE_ID, name: id, input });
      logger.info('rollback started', { executionId, rollbackId: id, point, changes: undo.length, by });
      return await rollbacks.update(id, { engineRef: started.engineRef });
    } catch (error) {
      await rollbacks.finish(id, {
        status: 'failed',
        finishedAt: clock.now().toISOString(),
        error: (error as Error).name,
        cause: `the rollback machine did not start: ${(error as Error).message}`,
      });
      throw error;
    }
  }

  /** The execution as its compensations see it (they record under its id). */
  private contextOf(execution: ExecutionRecord, by: string): ExecutionContext {
    return {
      id: execution.id,
      runbookId: execution.runbookId,
      runbookVersion: execution.runbookVersion,
      incidentId: execution.incidentId,
      environment: execution.environment,
      dryRun: execution.dryRun,
      approvalRiskThreshold: approvalRiskThreshold(this.options.config.policy),
      changeFreeze: false,
      startedAt: execution.startedAt,
      trigger: 'rollback',
      requestedBy: by,
    };
  }

  /**
   * The approval a rollback waits for, when the environment asks for one for changes this risky: from
   * the approver groups of the runbook's requirements that apply here (all of the environment's
   * groups when none does), with the highest quorum among them.
   */
  private approvalFor(
    runbook: Runbook,
    execution: ExecutionRecord,
    undo: readonly UndoableChange[],
    risk: RiskLevel,
    point: string,
    by: string,
  ): z.infer<typeof ApprovalSpec> | undefined {
    const { config } = this.options;
    if (RISK_RANK[risk] < approvalRiskThreshold(config.policy)) return undefined;
    const requirements = runbook.approvalRequirements.filter(
      (requirement) => !requirement.environments || requirement.environments.includes(execution.environment),
    );
    const groups = requirements.length
      ? [...new Set(requirements.flatMap((requirement) => requirement.approverGroups))]
      : Object.keys(config.approverGroups);
    const approvers = new Set(groups.flatMap((group) => config.approverGroups[group] ?? []));
    const quorum = Math.max(1, ...requirements.map((requirement) => requirement.quorum));
    if (approvers.size === 0 || approvers.size < quorum)
      throw new ControlConflictError(
        `undoing ${risk}-risk changes needs an approval in ${config.environment}, and ${groups.length ? `group(s) ${groups.join(', ')} have ${approvers.size} approver(s) for a quorum of ${quorum}` : 'no approver group is configured'}; add approvers to approverGroups`,
      );
    return {
      requirement: `roll back ${undo.length} change(s) ${point === ROLLBACK_TO_START ? 'to before any change' : `made after ${point}`}, asked by ${by}`,
      target: { kind: 'phase', id: 'rollback' },
      approverGroups: groups,
      quorum,
      timeoutSeconds: ROLLBACK_APPROVAL_SECONDS,
      risk,
      plan: undo.map((change) => ({
        id: change.stepId,
        name: `Undo ${change.name}`,
        tool: change.compensation!.tool,
        risk: change.risk,
        parameters: change.compensation!.parameters,
      })),
    };
  }

  /** The rollback machine's own tasks. */
  async task(payload: z.infer<typeof RollbackTask>): Promise<unknown> {
    const { rollbacks, store, clock } = this.options;
    const rollback = await rollbacks.get(payload.rollbackId);
    if (!rollback) fail(AslErrorName.InvalidParameters, `no rollback "${payload.rollbackId}"`);
    switch (payload.stage) {
      case 'begin':
        if (rollback.status === 'requested')
          await rollbacks.update(rollback.id, {
            status: rollback.approval.required ? 'awaiting-approval' : 'running',
          });
        return { status: rollback.approval.required ? 'awaiting-approval' : 'running' };
      case 'proceed': {
        const killSwitch = await store.getKillSwitch();
        if (killSwitch.engaged)
          fail(
            AslErrorName.KillSwitch,
            `kill switch engaged${killSwitch.changedBy ? ` by ${killSwitch.changedBy}` : ''}: the rollback undid nothing`,
          );
        await rollbacks.update(rollback.id, { status: 'running' });
        return { status: 'running' };
      }
      case 'finish': {
        if (FINISHED_ROLLBACK_STATUSES.has(rollback.status)) return { status: rollback.status };
        const failure = (payload.state as { failure?: { Error?: string; Cause?: string } } | undefined)
          ?.failure;
        const outcomes = await store.listStepOutcomes(rollback.executionId);
        return { status: (await this.settle(rollback, outcomes, failure, clock.now())).status };
      }
    }
  }

  /** Records how a rollback ended, from what its compensations recorded, and tells people when it failed. */
  private async settle(
    rollback: RollbackRecord,
    outcomes: readonly StepOutcome[],
    failure: { Error?: string; Cause?: string } | undefined,
    now: Date,
  ): Promise<RollbackRecord> {
    const { rollbacks, store, logger } = this.options;
    const results = rollback.changes.map((change) => {
      const undo = outcomes
        .filter(
          (outcome) =>
            outcome.kind === 'compensation' &&
            outcome.stepId === change.stepId &&
            outcome.startedAt >= rollback.requestedAt,
        )
        .at(-1);
      return {
        stepId: change.stepId,
        status: undo?.status ?? 'not-run',
        ...(undo?.error
          ? { message: `${undo.error.name}: ${undo.error.message}` }
          : undo?.reason
            ? { message: undo.reason }
            : {}),
      };
    });
    const undone = results.every((result) => ['compensated', 'dry-run', 'skipped'].includes(result.status));
    const status: RollbackStatus = failure?.Error
      ? failure.Error === AslErrorName.ApprovalRejected || failure.Error === AslErrorName.ApprovalExpired
        ? 'rejected'
        : failure.Error === AslErrorName.KillSwitch
          ? 'refused'
          : 'failed'
      : undone
        ? 'succeeded'
        : 'failed';
    // The execution's outcome says what became of its changes, before the rollback reads as finished:
    // whoever sees it finished then sees the outcome too.
    const execution = await store.getExecution(rollback.executionId);
    if (execution?.outcome && results.some((result) => result.status !== 'not-run')) {
      const failed = results.some((result) => ['failed', 'timed-out'].includes(result.status));
      await store.updateExecution(execution.id, {
        outcome: {
          ...execution.outcome,
          rolledBack:
            execution.outcome.rolledBack || results.some((result) => result.status === 'compensated'),
          rollbackFailed: failed,
        },
      });
    }
    const finished = await rollbacks.finish(rollback.id, {
      status,
      finishedAt: now.toISOString(),
      results,
      ...(failure?.Error ? { error: failure.Error } : {}),
      ...(failure?.Cause ? { cause: failure.Cause } : {}),
    });
    logger.info('rollback finished', { rollbackId: rollback.id, executionId: rollback.executionId, status });
    if (status === 'failed') await this.page(finished);
    return finished;
  }

  /** A rollback that failed leaves changes half undone: the default escalation target is paged. */
  private async page(rollback: RollbackRecord): Promise<void> {
    const { notifier, config, clock } = this.options;
    const to = config.escalationTargets.default ?? [];
    if (to.length === 0) return;
    const failed = (rollback.results ?? []).filter(
      (result) => !['compensated', 'dry-run', 'skipped'].includes(result.status),
    );
    await notifier.send({
      id: randomUUID(),
      kind: 'escalation',
      to,
      subject: `[page] rollback of ${rollback.runbookId} failed (execution ${rollback.executionId})`,
      text: [
        `The rollback ${rollback.id} that ${rollback.requestedBy} asked for did not undo every change.`,
        '',
        ...(rollback.cause ? [`Why: ${rollback.error ?? ''} ${rollback.cause}`, ''] : []),
        ...failed.map(
          (result) => `  ${result.stepId}: ${result.status}${result.message ? ` — ${result.message}` : ''}`,
        ),
        '',
        'Check each change by hand; the execution shows every compensation attempt.',
      ].join('\n'),
      links: [],
      severity: 'page',
      executionId: rollback.executionId,
      sentAt: clock.now().toISOString(),
    });
  }

  /** The execution whose changes a rollback undid (its outcome says so): learning folds it again. */
  async executionOf(rollbackId: string): Promise<string | undefined> {
    if (!rollbackId.startsWith('rb-')) return undefined;
    return (await this.options.rollbacks.get(rollbackId))?.executionId;
  }

  /**
   * The engine says a run stopped: a rollback whose machine stopped without finishing (stopped by hand,
   * timed out, broke) is recorded as failed, so its slot is given back. False when it is no rollback.
   */
  async engineStopped(change: {
    executionId: string;
    status: string;
    error?: string;
    cause?: string;
  }): Promise<boolean> {
    if (!change.executionId.startsWith('rb-')) return false;
    const rollback = await this.options.rollbacks.get(change.executionId);
    if (!rollback) return false;
    if (FINISHED_ROLLBACK_STATUSES.has(rollback.status) || change.status === 'RUNNING') return true;
    const outcomes = await this.options.store.listStepOutcomes(rollback.executionId);
    await this.settle(
      rollback,
      outcomes,
      {
        Error: change.error ?? `States.${change.status}`,
        Cause: change.cause ?? `the rollback machine stopped (${change.status})`,
      },
      this.options.clock.now(),
    );
    return true;
  }

  private async audit(
    executionId: string,
    runbookId: string | undefined,
    point: string,
    by: string,
    result: 'accepted' | 'refused',
    reason?: string,
    refusal?: string,
  ): Promise<void> {
    const { audit, clock } = this.options;
    if (!audit) return;
    const at = clock.now().toISOString();
    await audit.record({
      kind: 'rollback.requested',
      id: auditEventId('rollback.requested', executionId, point, by, at),
      at,
      actor: person(by),
      executionId,
      ...(runbookId ? { runbookId } : {}),
      result,
      rollbackPoint: point,
      ...(reason ? { reason: reason.slice(0, 2_000) } : {}),
      ...(refusal ? { refusal: refusal.slice(0, 2_000) } : {}),
    });
  }
}

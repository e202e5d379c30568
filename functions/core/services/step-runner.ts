import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ExecutionEngine } from '../../ports/execution-engine.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import type { ChangeIdentity, ToolImplementation, ToolRegistry } from '../../ports/tools.ts';
import type { Alert } from '../alert.ts';
import { system } from '../audit/events.ts';
import { auditText, changeEventOf, recordAudit } from '../audit/record.ts';
import { approveLevelRefusal, withLevelEnforced } from '../automation/enforcement.ts';
import { changesRunDry } from '../automation/levels.ts';
import type { AutomationService } from '../automation/service.ts';
import { stableHash } from '../classifier/identity.ts';
import type { RuntimeConfig } from '../config.ts';
import { AslErrorName, StateError } from '../errors.ts';
import type {
  CompensationSpecPayload,
  ExecutionContext,
  StepSpec,
  TaskPayload,
  WatchSignal,
  WatchSpec,
} from '../execution-contract.ts';
import type { Admission, ChangeGate } from '../limits/change-gate.ts';
import { jsonBytes, trimToBudget } from '../output-budget.ts';
import { RISK_RANK } from '../policy.ts';
import type { ExecutionRecord, StepOutcome } from '../records.ts';
import { RESOLVE_STEP_ID } from '../runbook/model.ts';
import {
  findTemplates,
  lookup,
  parseReference,
  resolveTemplates,
  TemplateResolutionError,
} from '../runbook/templates.ts';
import type { Worsening } from '../watch/health.ts';
import type { HealthWatcher } from '../watch/health-watch.ts';
import type { StuckStepWatchdog, StuckThreshold } from '../watch/stuck-step.ts';
import type { ApprovalService } from './approvals.ts';
import type { CheckpointService } from './checkpoint.ts';
import type { EscalationService } from './escalation.ts';
import type { RecordService } from './record.ts';
import type { RollbackService } from './rollback.ts';
import { StepOrderService } from './step-order.ts';

/** The store keeps at most this much of a step's output (DynamoDB items are capped at 400 KB). */
export const STORED_OUTPUT_BYTES = 300_000;
/** Messages in errors that cross into Step Functions stay short (Cause is shown in consoles and e-mails). */
const MAX_ERROR_MESSAGE = 600;
/** Failures raised before a step's tool ran: nothing to undo. */
const REFUSED_BEFORE_RUNNING: ReadonlySet<string> = new Set([
  AslErrorName.InvalidParameters,
  AslErrorName.SafetyBlocked,
  AslErrorName.KillSwitch,
  AslErrorName.Aborted,
  AslErrorName.LimitExceeded,
  AslErrorName.RiskRefused,
  AslErrorName.ApprovalRequired,
  AslErrorName.HealthWorse,
]);
/** The target answered no: the change was not made (a single-change tool's refusal, denial or missing target). */
const ANSWERED_NO: ReadonlySet<string> = new Set([
  AslErrorName.ToolRefused,
  AslErrorName.ToolAccessDenied,
  AslErrorName.ToolNotFound,
]);
/** Parameters that say where a tool acts; a compensation inherits them from the step it undoes. */
const CONTEXT_PARAMETERS = ['region', 'cluster', 'prometheus'] as const;
/** Leave the runner this much of the Lambda's time to record the outcome after a step times out. */
const DEADLINE_MARGIN_MS = 5_000;
/** A verification window shortened by waitScale is at least this long: alert resolution does not scale. */
const SCALED_VERIFY_FLOOR_SECONDS = 30;

export interface StepRunnerOptions {
  store: Store;
  engine: ExecutionEngine;
  tools: ToolRegistry;
  clock: Clock;
  logger: Logger;
  config: RuntimeConfig;
  checkpoints: CheckpointService;
  /** Only where one process runs everything (locally); on AWS approvals have their own function. */
  approvals?: ApprovalService;
  escalations: EscalationService;
  records: RecordService;
  /** Graduated automation: safety incidents (a change under the kill switch, a failed compensation). */
  automation?: Pick<AutomationService, 'recordSafetyIncident'>;
  /** Blast-radius limits, the change budget and the risk policy, checked before every change. */
  changeGate?: ChangeGate;
  /** The rollback machine's stages (functions/core/services/rollback.ts); absent: refused. */
  rollbacks?: Pick<RollbackService, 'task'>;
  /** How often a running tool looks for an operator abort (the 30 s override target). */
  abortPollMs?: number;
  /** How long one verify-alert invocation waits for the alert to resolve. */
  verifyPollSeconds?: number;
  /** Every change (started, ended, refused) is recorded here. */
  audit?: AuditTrail;
  /** The health watch between a change and its verification (successMetrics.checks[].watch). */
  health?: HealthWatcher;
  /** Pauses the execution when a step runs past its learned p99 (or its timeout, without history). */
  stuckSteps?: StuckStepWatchdog;
  /**
   * The factor the embedded engine shortens Wait states by (`runbook demo --wait-scale`), recorded with
   * each wait, and the verification's alert-resolve window with them; the AWS wiring never sets it (Step
   * Functions waits what the definition says).
   */
  waitScale?: number;
}

export interface InvocationContext {
  /** Epoch ms by which the invocation must return (Lambda's remaining time); Infinity locally. */
  deadline: number;
}

function shortMessage(message: string): string {
  return message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE)}…` : message;
}

/** Raise with an ASL name so the compiled Retry/Catch can match, and no stack to leak into a Cause. */
function fail(name: string, message: string, cause?: unknown): never {
  const error = new StateError(
    name,
    shortMessage(message.replace(/\s*\n\s*/g, ' ')),
    cause === undefined ? {} : { cause },
  );
  error.stack = `${error.name}: ${error.message}`;
  throw error;
}

/** Step outputs by step id (latest attempt) for `{{ steps.<id>.… }}` templates. */
function stepScope(outcomes: StepOutcome[]): Record<string, { status: string; output: unknown }> {
  const scope: Record<string, { status: string; output: unknown }> = {};
  for (const outcome of outcomes) {
    if (outcome.kind === 'compensation' || outcome.stepId === RESOLVE_STEP_ID) continue;
    scope[outcome.stepId] = { status: outcome.status, output: outcome.output ?? null };
  }
  return scope;
}

/** Statuses of an attempt that never finished: the platform stopped (or died) while it ran. */
const UNFINISHED: ReadonlySet<StepOutcome['status']> = new Set(['running', 'interrupted']);

/**
 * The change a new attempt makes: the attempts of this step (and kind) that never finished, directly
 * before it, are the same change run again, so they share its key and start time.
 */
export function changeIdentity(
  of: { executionId: string; kind: string; stepId: string },
  previous: readonly StepOutcome[],
  attempt: number,
  now: Date,
): ChangeIdentity {
  let first = { attempt, startedAt: now.toISOString() };
  for (const outcome of [...previous].sort((a, b) => b.attempt - a.attempt)) {
    if (!UNFINISHED.has(outcome.status)) break;
    first = { attempt: outcome.attempt, startedAt: outcome.startedAt };
  }
  return {
    key: stableHash([of.executionId, of.kind, of.stepId, String(first.attempt)], 20),
    since: first.startedAt,
    repeat: first.attempt !== attempt,
  };
}

/**
 * What templates see: the alert, the execution, earlier steps' outputs, and, once `resource.resolve`
 * ran, the resolved resource and the runbook's effective parameters (before it, the alert's own
 * resource and no parameters).
 */
export function templateScope(
  alert: Alert,
  execution: ExecutionContext,
  outcomes: StepOutcome[],
): Record<string, unknown> {
  const resolution = [...outcomes]
    .reverse()
    .find((outcome) => outcome.stepId === RESOLVE_STEP_ID && outcome.status === 'succeeded')?.output as
    | { resource?: unknown; parameters?: Record<string, unknown> }
    | undefined;
  const parameters = resolution?.parameters ?? {};
  return {
    alert,
    execution,
    steps: stepScope(outcomes),
    resource: resolution?.resource ?? { ...alert.resource, resolution: [], unresolved: [] },
    parameters,
    runbook: { parameters },
  };
}

/**
 * Runs the Task states of every compiled runbook: steps (with templates, validated parameters, the
 * step timeout, dry-run, output caps, pause/abort/kill switch), compensations, checkpoints, approval
 * requests, alert verification, escalation and the final record. Throws errors with ASL names.
 */
/** How one tool run ended: its output, or the outcome status and the named error. */
type ToolRunResult =
  | { ok: true; output: unknown }
  | { ok: false; status: StepOutcome['status']; name: string; message: string };

export class StepRunner {
  private readonly abortPollMs: number;
  private readonly verifyPollSeconds: number;

  /** Reorderable phases: their planning and early-stop tasks. */
  private readonly stepOrder: StepOrderService;

  constructor(private readonly options: StepRunnerOptions) {
    this.abortPollMs = options.abortPollMs ?? 2_000;
    this.verifyPollSeconds = options.verifyPollSeconds ?? 60;
    this.stepOrder = new StepOrderService({
      store: options.store,
      clock: options.clock,
      logger: options.logger,
    });
  }

  /** Tools running now, so a stopping process can stop them (the embedded platform's shutdown). */
  private readonly running = new Set<AbortController>();
  private readonly active = new Set<Promise<unknown>>();
  private stopping = false;

  async handle(
    payload: TaskPayload,
    invocation: InvocationContext = { deadline: Number.POSITIVE_INFINITY },
  ): Promise<unknown> {
    if (this.stopping) fail(AslErrorName.Aborted, 'the platform is stopping');
    // The automation level the execution started with holds for every task, whatever else the payload says.
    const call = this.dispatch(withLevelEnforced(payload), invocation);
    this.active.add(call);
    try {
      return await call;
    } finally {
      this.active.delete(call);
    }
  }

  /**
   * Stops every running tool (its abort signal fires with `reason`) and waits, at most `graceMs`, for
   * the calls in progress to record how they ended. Used when the embedded platform stops; a Lambda
   * never needs it.
   */
  async shutdown(reason = 'the platform is stopping', graceMs = 5_000): Promise<void> {
    this.stopping = true;
    for (const controller of this.running) controller.abort(new Error(reason));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.active]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private async dispatch(payload: TaskPayload, invocation: InvocationContext): Promise<unknown> {
    switch (payload.kind) {
      case 'step':
        return this.runStep(payload.execution, payload.alert, payload.step, invocation, payload.watch);
      case 'waited':
        return this.endWait(payload.execution, payload.step, payload.alert, payload.watch);
      case 'compensate':
        return this.compensate(payload.execution, payload.alert, payload.compensation, invocation);
      case 'checkpoint':
        return this.options.checkpoints.arrive(payload.execution, payload.checkpoint, payload.taskToken);
      case 'approval':
        // Approval tasks invoke the approval-request function; the runner never sees them on AWS.
        if (!this.options.approvals)
          fail(AslErrorName.InvalidParameters, 'approval tasks go to the approval-request function');
        return this.options.approvals.request(payload);
      case 'verify-alert':
        return this.verifyAlert(
          payload.execution,
          payload.alert,
          payload.withinSeconds,
          invocation,
          payload.watch,
        );
      case 'escalate':
        return this.options.escalations.escalate(payload.triggers, payload.state);
      case 'record':
        return this.options.records.record(payload.outcome, payload.recordOutputs, payload.state);
      case 'order-steps':
        return this.stepOrder.plan(payload);
      case 'phase-stopped':
        return this.stepOrder.stopped(payload);
      case 'rollback':
        if (!this.options.rollbacks)
          fail(
            AslErrorName.InvalidParameters,
            'this runtime has no rollbacks wired to run the rollback machine',
          );
        return this.options.rollbacks.task(payload);
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Steps

  private async runStep(
    execution: ExecutionContext,
    alert: Alert,
    step: StepSpec,
    invocation: InvocationContext,
    watch?: WatchSpec,
  ) {
    const { store, clock, tools } = this.options;
    const tool = tools.get(step.tool);
    if (!tool)
      fail(
        AslErrorName.InvalidParameters,
        `step ${step.id}: tool "${step.tool}" is not available in this runtime`,
      );

    const [record, outcomes] = await Promise.all([
      store.getExecution(execution.id),
      store.listStepOutcomes(execution.id),
    ]);
    // A rollback procedure is how an abort ends: it runs although the abort was requested.
    if (record?.control.abortRequested && step.type !== 'rollback')
      fail(
        AslErrorName.Aborted,
        `aborted by ${record.control.requestedBy ?? 'an operator'} before ${step.id}`,
      );

    const attempt =
      outcomes.filter((outcome) => outcome.stepId === step.id && outcome.kind !== 'compensation').length + 1;
    const kind = step.type === 'check' ? 'check' : step.type === 'rollback' ? 'rollback' : 'step';
    const base = {
      executionId: execution.id,
      stepId: step.id,
      kind,
      name: step.name,
      ...(step.phase ? { phase: step.phase } : {}),
      tool: step.tool,
      mutating: tool.declaration.mutating,
      risk: step.risk,
      attempt,
      dryRun: execution.dryRun,
    } as const;

    const startedAt = clock.now();
    let parameters: Record<string, unknown>;
    try {
      const resolved = resolveTemplates(step.parameters, templateScope(alert, execution, outcomes));
      parameters = this.validateParameters(tool, step, resolved);
    } catch (error) {
      let message =
        error instanceof TemplateResolutionError || error instanceof StateError
          ? error.message
          : String(error);
      // A resource field the resolution could not find: say why it could not.
      const unresolved = (templateScope(alert, execution, outcomes).resource as { unresolved?: string[] })
        .unresolved;
      if (
        error instanceof TemplateResolutionError &&
        error.expression.startsWith('resource.') &&
        unresolved?.length
      )
        message = `${message} (the resource's resolution: ${unresolved.join('; ')})`;
      await this.putOutcome({
        ...base,
        status: 'failed',
        parameters: step.parameters,
        startedAt,
        error: { name: AslErrorName.InvalidParameters, message },
      });
      fail(
        AslErrorName.InvalidParameters,
        message.startsWith(`step ${step.id}:`) ? message : `step ${step.id}: ${message}`,
      );
    }

    if (step.waitState) return this.startWait(base, parameters, startedAt, execution.id, step.id);

    if (tool.declaration.mutating && kind !== 'rollback') {
      const changesMade = outcomes.some(
        (outcome) => outcome.kind === 'step' && outcome.mutating && outcome.status === 'succeeded',
      );
      const refusal = await this.refuseChange(execution, step, changesMade);
      if (refusal?.skip) {
        await this.putOutcome({ ...base, status: 'skipped', parameters, startedAt, reason: refusal.message });
        return { status: 'skipped', output: null };
      }
      if (refusal) {
        await this.auditRefusal(execution.id, step, refusal);
        await this.putOutcome({
          ...base,
          status: 'failed',
          parameters,
          startedAt,
          error: { name: refusal.name, message: refusal.message },
        });
        fail(refusal.name, refusal.message);
      }
    }

    // Before a change: the first reads the health baseline; a later one goes on only if no signal got worse.
    if (watch && tool.declaration.mutating && kind !== 'rollback' && this.options.health) {
      const worse = await this.options.health.beforeChange(execution, alert, outcomes, watch, step.id);
      if (worse)
        await this.healthWorse(execution, worse, `before ${step.id}`, { ...base, parameters, startedAt });
    }

    const change = changeIdentity(
      { executionId: execution.id, kind, stepId: step.id },
      outcomes.filter((outcome) => outcome.stepId === step.id && outcome.kind === kind),
      attempt,
      startedAt,
    );
    const gate = tool.declaration.mutating && kind !== 'rollback' ? this.options.changeGate : undefined;
    const admission = gate
      ? await this.admitChange(
          gate,
          { execution, alert, step, tool, parameters, outcomes, attempt, change },
          base,
          startedAt,
        )
      : undefined;
    await this.putOutcome({ ...base, status: 'running', parameters, startedAt }, record);
    await store.updateExecution(execution.id, { currentState: step.id }).catch(() => undefined);
    const stuck = await this.stuckPlan(execution, step, attempt, startedAt);
    const result = await this.runTool(
      tool,
      parameters,
      execution,
      step.timeoutSeconds,
      invocation,
      `step ${step.id}`,
      { change, ...(stuck ? { stuck } : {}) },
    );
    if (tool.declaration.mutating && !execution.dryRun && kind !== 'rollback')
      await this.changeUnderKillSwitch(execution, step, attempt, startedAt);
    if (gate && admission)
      await gate.settle({ execution, alert, step, tool, attempt }, admission, {
        changedNothing: !result.ok && ANSWERED_NO.has(result.name),
      });
    const { timing, output } = await this.recordFailure(base, parameters, startedAt, result);
    const stored = trimToBudget(output, STORED_OUTPUT_BYTES);
    // A watched success metric: its own reading against the one before the first change.
    const ownSignal = watch?.signals.find((signal) => signal.check === step.id);
    if (kind === 'check' && ownSignal && this.options.health) {
      const worse = await this.options.health.compareOwn(execution, ownSignal, output);
      if (worse)
        await this.healthWorse(execution, worse, `when ${step.id} verified it`, {
          ...base,
          parameters,
          startedAt,
          ...timing,
          output: stored.value,
        });
    }
    await this.putOutcome(
      {
        ...base,
        status: execution.dryRun && tool.declaration.mutating ? 'dry-run' : 'succeeded',
        parameters,
        startedAt,
        ...timing,
        output: stored.value,
        ...(stored.truncated ? { outputTruncated: true } : {}),
      },
      record,
    );
    const forState = step.outputBudgetBytes > 0 ? trimToBudget(output, step.outputBudgetBytes).value : null;
    return {
      status: execution.dryRun && tool.declaration.mutating ? 'dry-run' : 'succeeded',
      output: forState,
    };
  }

  /**
   * A health signal got worse than before the first change: recorded (the attempt as failed, a safety
   * incident, the trail) and raised as Safety.HealthWorse, which the machine catches into compensation.
   */
  private async healthWorse(
    execution: ExecutionContext,
    worse: Worsening,
    when: string,
    attempt: Omit<StepOutcome, 'startedAt' | 'finishedAt' | 'status'> & {
      startedAt: Date;
      finishedAt?: string;
    },
  ): Promise<never> {
    const message = await this.options.health!.worsened(execution, worse, when);
    await this.putOutcome({
      ...attempt,
      status: 'failed',
      finishedAt: attempt.finishedAt ?? this.options.clock.now().toISOString(),
      error: { name: AslErrorName.HealthWorse, message },
    });
    fail(AslErrorName.HealthWorse, message);
  }

  /** When this attempt counts as stuck, and what the watchdog does then (undefined: not watched). */
  private async stuckPlan(
    execution: ExecutionContext,
    step: StepSpec,
    attempt: number,
    startedAt: Date,
  ): Promise<{ threshold: StuckThreshold; onStuck: () => Promise<unknown> } | undefined> {
    const watchdog = this.options.stuckSteps;
    if (!watchdog) return undefined;
    try {
      const threshold = await watchdog.thresholdFor(execution, step);
      return (
        threshold && {
          threshold,
          onStuck: () => watchdog.stuck(execution, step, attempt, startedAt, threshold),
        }
      );
    } catch (error) {
      // The watchdog's bookkeeping never stops a step.
      this.options.logger.warn('stuck-step watchdog unavailable', { error: String(error) });
      return undefined;
    }
  }

  /**
   * A change that ran while the kill switch was engaged (engaged after the change started, so the
   * refusal before it did not stop it) is a safety incident: recorded and listed in the report.
   */
  private async changeUnderKillSwitch(
    execution: ExecutionContext,
    step: StepSpec,
    attempt: number,
    startedAt: Date,
  ): Promise<void> {
    const { automation, store } = this.options;
    if (!automation) return;
    const killSwitch = await store.getKillSwitch();
    if (!killSwitch.engaged) return;
    await automation.recordSafetyIncident({
      id: `kill-switch:${stableHash([execution.id, step.id, String(attempt)], 20)}`,
      kind: 'change-under-kill-switch',
      executionId: execution.id,
      runbookId: execution.runbookId,
      stepId: step.id,
      tool: step.tool,
      at: this.options.clock.now().toISOString(),
      description: `${step.id} (${step.tool}) was changing ${execution.runbookId}'s target when the kill switch was engaged${killSwitch.changedBy ? ` by ${killSwitch.changedBy}` : ''}${killSwitch.changedAt ? ` at ${killSwitch.changedAt}` : ''}; the change started at ${startedAt.toISOString()}`,
      details: { killSwitch },
    });
  }

  /**
   * A compensation that failed leaves a change in place: a safety incident. One per compensation, not
   * per attempt: its retries failing again are the same change left in place (the first record stays).
   */
  private async compensationFailed(
    execution: ExecutionContext,
    compensation: CompensationSpecPayload,
    message: string,
  ): Promise<void> {
    if (!this.options.automation || execution.dryRun) return;
    await this.options.automation.recordSafetyIncident({
      id: `compensation:${stableHash([execution.id, compensation.compensates], 20)}`,
      kind: 'compensation-failed',
      executionId: execution.id,
      runbookId: execution.runbookId,
      stepId: compensation.compensates,
      tool: compensation.tool,
      at: this.options.clock.now().toISOString(),
      description: `the compensation of ${compensation.compensates} (${compensation.tool}) failed: ${shortMessage(message)}; its change may still be in place`,
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Waits: the compiled Wait state waits; these two Tasks record it

  /** Before the Wait state: the wait is recorded as running, with when it ends. */
  private async startWait(
    base: Omit<StepOutcome, 'startedAt' | 'finishedAt' | 'status' | 'parameters'>,
    parameters: Record<string, unknown>,
    startedAt: Date,
    executionId: string,
    stepId: string,
  ) {
    const scale = this.options.waitScale ?? 1;
    const waitSeconds = (parameters.seconds as number) * scale;
    await this.putOutcome({
      ...base,
      status: 'running',
      parameters,
      startedAt,
      output: {
        waitSeconds,
        until: new Date(startedAt.getTime() + waitSeconds * 1_000).toISOString(),
        ...(scale === 1 ? {} : { scale }),
      },
    });
    await this.options.store.updateExecution(executionId, { currentState: stepId }).catch(() => undefined);
    return { status: 'waiting', output: null };
  }

  /** After the Wait state: the wait succeeded, or an abort that came meanwhile fails it into rollback. */
  private async endWait(execution: ExecutionContext, step: StepSpec, alert?: Alert, watch?: WatchSpec) {
    const { store, clock } = this.options;
    const [record, outcomes] = await Promise.all([
      store.getExecution(execution.id),
      store.listStepOutcomes(execution.id),
    ]);
    const kind = step.type === 'check' ? 'check' : step.type === 'rollback' ? 'rollback' : 'step';
    const started = outcomes
      .filter(
        (outcome) => outcome.stepId === step.id && outcome.kind === kind && outcome.status === 'running',
      )
      .at(-1);
    if (!started)
      fail(AslErrorName.InvalidParameters, `step ${step.id}: no wait of this step was recorded as started`);
    const finishedAt = clock.now();
    const { waitSeconds, scale } = (started.output ?? {}) as { waitSeconds?: number; scale?: number };
    const timing = {
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - Date.parse(started.startedAt),
    };
    const { startedAt, finishedAt: _unfinished, output: _planned, ...rest } = started;
    if (record?.control.abortRequested && step.type !== 'rollback') {
      const message = `aborted by ${record.control.requestedBy ?? 'an operator'} during ${step.id}`;
      await this.putOutcome({
        ...rest,
        startedAt: new Date(startedAt),
        status: 'aborted',
        ...timing,
        error: { name: AslErrorName.Aborted, message },
      });
      fail(AslErrorName.Aborted, message);
    }
    // A Wait state cannot be interrupted: after a change, the health signals are read as it ends.
    if (watch && alert && this.options.health) {
      const worse = await this.options.health.check(execution, alert, outcomes, watch.signals);
      if (worse)
        await this.healthWorse(execution, worse, `when ${step.id} ended`, {
          ...rest,
          startedAt: new Date(startedAt),
          ...timing,
        });
    }
    const output = {
      waitedSeconds: waitSeconds ?? (step.parameters.seconds as number),
      ...(scale === undefined ? {} : { scale }),
    };
    await this.putOutcome({
      ...rest,
      startedAt: new Date(startedAt),
      status: 'succeeded',
      ...timing,
      output,
    });
    return {
      status: 'succeeded',
      output: step.outputBudgetBytes > 0 ? trimToBudget(output, step.outputBudgetBytes).value : null,
    };
  }

  /**
   * The change gate's checks; a refusal (a limit, a refused risk, an approval the risk needs and nobody
   * gave) is recorded as the step's failure before its tool ran, and thrown with its ASL name.
   */
  private async admitChange(
    gate: ChangeGate,
    request: {
      execution: ExecutionContext;
      alert: Alert;
      step: StepSpec;
      tool: ToolImplementation;
      parameters: Record<string, unknown>;
      outcomes: StepOutcome[];
      attempt: number;
      change: ChangeIdentity;
    },
    base: Omit<StepOutcome, 'startedAt' | 'finishedAt' | 'status' | 'parameters'>,
    startedAt: Date,
  ): Promise<Admission> {
    const { execution, alert, step, tool, parameters, change } = request;
    const readMs = Math.min(step.timeoutSeconds, 60) * 1_000;
    const verdict = await gate.admit({
      execution,
      alert,
      step,
      tool,
      parameters,
      resource: templateScope(alert, execution, request.outcomes).resource as Record<string, string>,
      attempt: request.attempt,
      changeKey: change.key,
      context: {
        signal: AbortSignal.timeout(readMs),
        dryRun: execution.dryRun,
        execution,
        deadline: this.options.clock.now().getTime() + readMs,
        change,
        log: (message, data) =>
          this.options.logger.info(message, {
            ...data,
            executionId: execution.id,
            tool: tool.declaration.name,
          }),
      },
    });
    if (verdict.admitted) return verdict.admission;
    await this.putOutcome({
      ...base,
      status: 'failed',
      parameters,
      startedAt,
      finishedAt: this.options.clock.now().toISOString(),
      error: { name: verdict.name, message: verdict.message },
    });
    fail(verdict.name, verdict.message);
  }

  private validateParameters(
    tool: ToolImplementation,
    step: StepSpec,
    resolved: Record<string, unknown>,
  ): Record<string, unknown> {
    const parsed = tool.declaration.parameters.safeParse(resolved);
    if (parsed.success) return parsed.data as Record<string, unknown>;
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(parameters)'}: ${issue.message}`)
      .join('; ');
    fail(
      AslErrorName.InvalidParameters,
      `step ${step.id}: parameters for ${step.tool} are invalid after templates: ${problems}`,
    );
  }

  /**
   * Why a change must not start now: kill switch, freeze, policy, or the alert already resolved. A
   * resolved alert skips changes only until the first one is made: a plan half carried out (a node
   * cordoned, not yet uncordoned) is finished, not abandoned.
   */
  private async refuseChange(
    execution: ExecutionContext,
    step: StepSpec,
    changesMade: boolean,
  ): Promise<{ name: string; message: string; skip?: boolean } | undefined> {
    const { store } = this.options;
    const [killSwitch, incident, approvals] = await Promise.all([
      store.getKillSwitch(),
      store.getIncident(execution.incidentId),
      store.listApprovals(execution.id),
    ]);
    if (killSwitch.engaged) {
      return {
        name: AslErrorName.KillSwitch,
        message: `kill switch engaged${killSwitch.changedBy ? ` by ${killSwitch.changedBy}` : ''}: ${step.id} not started`,
      };
    }
    if (execution.changeFreeze)
      return {
        name: AslErrorName.SafetyBlocked,
        message: `change freeze: ${step.id} changes the system and was not started`,
      };
    if (incident?.status === 'resolved' && !changesMade)
      return {
        name: 'skipped',
        message: 'the alert resolved before any change was made; nothing changed',
        skip: true,
      };
    const levelRefusal = approveLevelRefusal(execution, step, approvals);
    if (levelRefusal) return levelRefusal;
    // Defence in depth: the compiled gates ask for approval; if policy demands one and none was given, stop.
    // Observe and shadow change nothing, and their approvals are not asked.
    if (
      RISK_RANK[step.risk] >= execution.approvalRiskThreshold &&
      !changesRunDry(execution.automationLevel)
    ) {
      const approved = approvals.some(
        (approval) =>
          approval.status === 'approved' &&
          (approval.target.id === step.id || approval.target.id === step.phase),
      );
      if (!approved) {
        return {
          name: AslErrorName.SafetyBlocked,
          message: `${step.id} (risk ${step.risk}) needs an approval in ${execution.environment} and none was given`,
        };
      }
    }
    return undefined;
  }

  /**
   * Runs a tool with the step's timeout and an operator abort (polled), both through one AbortSignal.
   */
  private async runTool(
    tool: ToolImplementation,
    parameters: Record<string, unknown>,
    execution: ExecutionContext,
    timeoutSeconds: number,
    invocation: InvocationContext,
    label: string,
    options: {
      ignoreAbort?: boolean;
      change: ChangeIdentity;
      /** The stuck-step watchdog: called once the tool runs past the step's threshold. */
      stuck?: { threshold: StuckThreshold; onStuck: () => Promise<unknown> };
    },
  ): Promise<ToolRunResult> {
    const { store, clock, logger } = this.options;
    const controller = new AbortController();
    this.running.add(controller);
    // The invocation deadline is wall-clock time (Lambda's remaining time); the step timeout may be shorter.
    const invocationLeftMs = invocation.deadline - Date.now() - DEADLINE_MARGIN_MS;
    const budgetMs = Math.max(0, Math.min(timeoutSeconds * 1_000, invocationLeftMs));
    const deadline = clock.now().getTime() + budgetMs;
    const timeoutMessage =
      budgetMs < timeoutSeconds * 1_000
        ? `${label} ran out of the function's time after ${(budgetMs / 1000).toFixed(1)}s (its timeout is ${timeoutSeconds}s; the function's is shorter)`
        : `${label} timed out after ${timeoutSeconds}s`;
    let stopReason: 'timeout' | 'abort' | undefined;
    const timer = setTimeout(() => {
      stopReason ??= 'timeout';
      controller.abort(new Error(timeoutMessage));
    }, budgetMs);
    const poll = options.ignoreAbort
      ? undefined
      : setInterval(() => {
          store
            .getExecution(execution.id)
            .then((record) => {
              if (record?.control.abortRequested && !controller.signal.aborted) {
                stopReason ??= 'abort';
                controller.abort(
                  new Error(`${label} aborted by ${record.control.requestedBy ?? 'an operator'}`),
                );
              }
            })
            .catch((error: unknown) => logger.warn('abort poll failed', { error: String(error) }));
        }, this.abortPollMs);
    const stopped = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    // Past its learned p99 the step is stuck: the watchdog pauses the execution while the tool goes on.
    // Without history the threshold is the timeout itself: the timeout branch below calls it.
    let stuckWork: Promise<unknown> | undefined;
    const reportStuck = () => {
      stuckWork ??= options
        .stuck!.onStuck()
        .catch((error: unknown) =>
          logger.warn('stuck-step watchdog failed', { executionId: execution.id, error: String(error) }),
        );
      return stuckWork;
    };
    const stuckTimer =
      options.stuck && options.stuck.threshold.afterMs < budgetMs
        ? setTimeout(reportStuck, options.stuck.threshold.afterMs)
        : undefined;
    try {
      const output = await Promise.race([
        tool.run(parameters, {
          signal: controller.signal,
          dryRun: execution.dryRun,
          execution,
          deadline,
          change: options.change,
          log: (message, data) =>
            logger.info(message, { ...data, executionId: execution.id, tool: tool.declaration.name }),
        }),
        stopped,
      ]);
      return { ok: true, output: output ?? null };
    } catch (error) {
      if (stopReason === 'timeout') {
        // Ran its whole timeout (not just out of the function's time): past its timeout, so stuck too.
        if (options.stuck && !stuckTimer && budgetMs >= timeoutSeconds * 1_000) await reportStuck();
        return {
          ok: false,
          status: 'timed-out',
          name: AslErrorName.StepTimeout,
          message: timeoutMessage,
        };
      }
      // The platform stopping is no operator's abort: the attempt is recorded interrupted (a restart resumes it).
      if (stopReason !== 'abort' && this.stopping)
        return {
          ok: false,
          status: 'interrupted',
          name: AslErrorName.Aborted,
          message: (controller.signal.reason as Error).message,
        };
      if (stopReason === 'abort')
        return {
          ok: false,
          status: 'aborted',
          name: AslErrorName.Aborted,
          message: (controller.signal.reason as Error).message,
        };
      const named = error instanceof StateError ? error.name : AslErrorName.ToolFailed;
      const message = error instanceof Error ? error.message : String(error);
      return { ok: false, status: 'failed', name: named, message: `${label}: ${message}` };
    } finally {
      this.running.delete(controller);
      clearTimeout(timer);
      clearTimeout(stuckTimer);
      // A pause under way is finished before the step reports (a Lambda freezes once it returns).
      if (stuckWork) await stuckWork;
      if (poll) clearInterval(poll);
      // A tool that ignores its signal must not keep the process busy forever.
      stopped.catch(() => undefined);
    }
  }

  /**
   * When a tool run ended, and its output; a failed run is recorded with its error and thrown, named
   * as the state machine matches it.
   */
  private async recordFailure(
    base: Omit<StepOutcome, 'startedAt' | 'finishedAt' | 'status' | 'parameters'>,
    parameters: Record<string, unknown>,
    startedAt: Date,
    result: ToolRunResult,
  ): Promise<{ timing: { finishedAt: string; durationMs: number }; output: unknown }> {
    const finishedAt = this.options.clock.now();
    const timing = {
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
    };
    if (!result.ok) {
      await this.putOutcome({
        ...base,
        status: result.status,
        parameters,
        startedAt,
        ...timing,
        error:
          result.status === 'interrupted'
            ? {
                name: AslErrorName.Interrupted,
                message: `the platform stopped while this attempt ran (${result.message}); a restart resumes the execution`,
              }
            : { name: result.name, message: result.message },
      });
      fail(result.name, result.message);
    }
    return { timing, output: result.output };
  }

  /** `execution`: the execution's record when the caller has read it already (its audit reads no other). */
  private async putOutcome(
    outcome: Omit<StepOutcome, 'startedAt' | 'finishedAt'> & { startedAt: Date; finishedAt?: string },
    execution?: ExecutionRecord,
  ) {
    const { startedAt, ...rest } = outcome;
    const record = { ...rest, startedAt: startedAt.toISOString() } as StepOutcome;
    if (jsonBytes(record.parameters) > 50_000)
      record.parameters = trimToBudget(record.parameters, 50_000).value as Record<string, unknown>;
    await this.options.store.putStepOutcome(record);
    await this.auditChange(record, execution);
  }

  /**
   * A change's outcome (starting, or how it ended) goes into the execution's audit trail, with the
   * execution's runbook, environment, incident and resource (fields its record never changes).
   */
  private async auditChange(outcome: StepOutcome, known?: ExecutionRecord): Promise<void> {
    if (!this.options.audit || (!outcome.mutating && outcome.kind !== 'compensation')) return;
    const execution = known ?? (await this.options.store.getExecution(outcome.executionId));
    const event =
      execution &&
      changeEventOf(outcome, {
        runbookId: execution.runbookId,
        environment: execution.environment,
        incidentId: execution.incidentId,
        resourceKey: execution.resourceKey,
      });
    if (event) await recordAudit(this.options.audit, this.options.clock, event);
  }

  /** A change the runner refused to start (kill switch, freeze, missing approval) is a gate's verdict. */
  private async auditRefusal(
    executionId: string,
    step: StepSpec,
    refusal: { name: string; message: string; skip?: boolean },
  ): Promise<void> {
    if (!this.options.audit) return;
    const execution = await this.options.store.getExecution(executionId);
    await recordAudit(this.options.audit, this.options.clock, {
      kind: 'gate.verdict',
      actor: system('step-runner'),
      executionId,
      ...(execution
        ? {
            incidentId: execution.incidentId,
            runbookId: execution.runbookId,
            environment: execution.environment,
            resourceKey: execution.resourceKey,
          }
        : {}),
      gate: 'change',
      verdict: 'refused',
      reason: auditText(refusal.message),
      details: { stepId: step.id, tool: step.tool, risk: step.risk, error: refusal.name },
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Compensations

  private async compensate(
    execution: ExecutionContext,
    alert: Alert,
    compensation: CompensationSpecPayload,
    invocation: InvocationContext,
  ) {
    const { store, tools, clock } = this.options;
    const outcomes = await store.listStepOutcomes(execution.id);
    const attempts = outcomes.filter(
      (outcome) => outcome.stepId === compensation.compensates && outcome.kind === 'step',
    );
    const latest = attempts.at(-1);
    const attempt =
      outcomes.filter(
        (outcome) => outcome.stepId === compensation.compensates && outcome.kind === 'compensation',
      ).length + 1;
    const tool = tools.get(compensation.tool);
    const startedAt = clock.now();
    const base = {
      executionId: execution.id,
      stepId: compensation.compensates,
      kind: 'compensation',
      name: `Undo ${latest?.name ?? compensation.compensates}`,
      ...(latest?.phase ? { phase: latest.phase } : {}),
      tool: compensation.tool,
      mutating: true,
      risk: latest?.risk ?? 'low',
      attempt,
      dryRun: execution.dryRun,
    } as const;

    // Only a step that may have changed something is undone: it succeeded, ran dry, or stopped midway
    // (timed out, aborted, failed in the tool, interrupted, or still 'running' because its function died). A step
    // refused before its tool ran (bad parameters, kill switch, freeze, missing approval) changed nothing.
    const changed =
      latest &&
      ['succeeded', 'dry-run', 'timed-out', 'failed', 'aborted', 'running', 'interrupted'].includes(
        latest.status,
      );
    const appliedNothing =
      latest?.status === 'failed' && REFUSED_BEFORE_RUNNING.has(latest.error?.name ?? '');
    /** Records the compensation as skipped, with why. */
    const skip = async (reason: string) => {
      await this.putOutcome({
        ...base,
        status: 'skipped',
        parameters: compensation.parameters,
        startedAt,
        reason,
      });
      return { status: 'skipped' as const, reason };
    };
    if (!changed || appliedNothing)
      return skip(
        latest
          ? `nothing to undo: ${compensation.compensates} ${latest.status === 'failed' ? 'failed before changing anything' : latest.status}`
          : `nothing to undo: ${compensation.compensates} did not run`,
      );
    // An inverse built from the step's output can only undo what the step reported changing: a step the
    // target (or the tool's own bound) refused, denied or did not find, with no output, changed nothing.
    // An unknown failure (a timeout, a dropped connection) may have changed something: that still pages.
    const readsOutput = findTemplates(compensation.parameters).references.some(
      (reference) => reference.segments[0] === 'output',
    );
    const answeredNo = ANSWERED_NO.has(latest?.error?.name ?? '');
    if (
      latest?.status === 'failed' &&
      answeredNo &&
      (latest.output === undefined || latest.output === null) &&
      readsOutput
    )
      return skip(
        `nothing to undo: ${compensation.compensates} failed without reporting a change (${latest.error?.name ?? 'error'}: ${shortMessage(latest.error?.message ?? '')})`,
      );
    if (compensation.skipWhenOutput) {
      const already = lookup(latest?.output ?? {}, parseReference(compensation.skipWhenOutput) ?? []);
      if (already.found && already.value === true)
        return skip(
          `nothing to undo: ${compensation.compensates} found it already so (${compensation.skipWhenOutput})`,
        );
    }
    if (!tool)
      fail(
        AslErrorName.InvalidParameters,
        `compensation of ${compensation.compensates}: tool "${compensation.tool}" is not available`,
      );

    let parameters: Record<string, unknown>;
    try {
      // What the compensated step saw, and its own parameters and output (these win over the runbook's).
      const resolved = resolveTemplates(compensation.parameters, {
        ...templateScope(alert, execution, outcomes),
        parameters: latest.parameters,
        output: latest.output ?? {},
      });
      // Undo where the step acted: its region or cluster carries over unless the compensation sets one.
      const accepted = tool.declaration.parameters.shape as Record<string, unknown>;
      for (const key of CONTEXT_PARAMETERS) {
        if (resolved[key] === undefined && latest.parameters[key] !== undefined && key in accepted)
          resolved[key] = latest.parameters[key];
      }
      const parsed = tool.declaration.parameters.safeParse(resolved);
      if (!parsed.success) {
        throw new Error(
          parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
        );
      }
      parameters = parsed.data as Record<string, unknown>;
    } catch (error) {
      // The step stopped before saying what it changed: a human must look (this pages).
      const message = `cannot undo ${compensation.compensates}: ${(error as Error).message}`;
      await this.compensationFailed(execution, compensation, message);
      await this.putOutcome({
        ...base,
        status: 'failed',
        parameters: compensation.parameters,
        startedAt,
        error: { name: AslErrorName.InvalidParameters, message },
      });
      fail(AslErrorName.InvalidParameters, message);
    }

    const result = await this.runTool(
      tool,
      parameters,
      execution,
      compensation.timeoutSeconds,
      invocation,
      `compensation of ${compensation.compensates}`,
      {
        ignoreAbort: true,
        change: changeIdentity(
          { executionId: execution.id, kind: 'compensation', stepId: compensation.compensates },
          outcomes.filter(
            (outcome) => outcome.stepId === compensation.compensates && outcome.kind === 'compensation',
          ),
          attempt,
          startedAt,
        ),
      },
    );
    if (!result.ok && (result.status === 'failed' || result.status === 'timed-out'))
      await this.compensationFailed(execution, compensation, result.message);
    const { timing, output } = await this.recordFailure(base, parameters, startedAt, result);
    const stored = trimToBudget(output, STORED_OUTPUT_BYTES);
    await this.putOutcome({
      ...base,
      status: execution.dryRun ? 'dry-run' : 'compensated',
      parameters,
      startedAt,
      ...timing,
      output: stored.value,
    });
    return { status: execution.dryRun ? 'dry-run' : 'compensated' };
  }

  // -------------------------------------------------------------------------------------------------
  // Verification

  /**
   * Observe and shadow changed nothing, so there is nothing to verify: the run does not wait for the
   * alert (how it clears, on its own or by a human, is recorded when it resolves).
   */
  private async verifyNothingChanged(execution: ExecutionContext, stepId: string, withinSeconds: number) {
    const { store, clock } = this.options;
    const attempts = (await store.listStepOutcomes(execution.id)).filter(
      (outcome) => outcome.stepId === stepId,
    );
    const now = clock.now();
    const reason = `automation level ${execution.automationLevel}: nothing was changed, so nothing is verified; how the alert clears is recorded when it resolves`;
    await this.putOutcome({
      executionId: execution.id,
      stepId,
      kind: 'check',
      name: 'The alert resolved',
      tool: 'incident.status',
      mutating: false,
      risk: 'low',
      attempt: attempts.length + 1,
      dryRun: true,
      parameters: { withinSeconds },
      status: 'skipped',
      startedAt: now,
      finishedAt: now.toISOString(),
      reason,
    });
    return { resolved: false, skipped: reason };
  }

  /**
   * Success needs the alert resolved within `withinSeconds` of the first check. Meanwhile the watched
   * health signals are read, each every its `every`: one worse than before the first change stops the
   * wait at once (Safety.HealthWorse), and the machine compensates.
   */
  private async verifyAlert(
    execution: ExecutionContext,
    alert: Alert,
    withinSeconds: number,
    invocation: InvocationContext,
    watch?: WatchSpec,
  ) {
    const { store, clock } = this.options;
    const stepId = 'verify-alert-resolved';
    if (changesRunDry(execution.automationLevel))
      return this.verifyNothingChanged(execution, stepId, withinSeconds);
    const outcomes = (await store.listStepOutcomes(execution.id)).filter(
      (outcome) => outcome.stepId === stepId,
    );
    const firstStart = outcomes[0] ? new Date(outcomes[0].startedAt) : clock.now();
    // Shortened like the runbook's waits, but not below what a resolved alert takes to arrive (rule
    // evaluation, Alertmanager's group_interval, an alarm's periods do not scale).
    const scale = this.options.waitScale ?? 1;
    const limitSeconds =
      scale === 1
        ? withinSeconds
        : Math.min(withinSeconds, Math.max(withinSeconds * scale, SCALED_VERIFY_FLOOR_SECONDS));
    const limit =
      scale === 1
        ? `${withinSeconds}s`
        : `${Math.round(limitSeconds * 10) / 10}s: ${withinSeconds}s × wait scale ${Number(scale.toPrecision(3))}, at least ${SCALED_VERIFY_FLOOR_SECONDS}s`;
    const verifyDeadline = firstStart.getTime() + limitSeconds * 1_000;
    const startedAt = clock.now();
    const base = {
      executionId: execution.id,
      stepId,
      kind: 'check',
      name: 'The alert resolved',
      tool: 'incident.status',
      mutating: false,
      risk: 'low',
      attempt: outcomes.length + 1,
      dryRun: execution.dryRun,
      parameters: { withinSeconds, ...(scale === 1 ? {} : { scale }) },
    } as const;
    // Started by hand: no alert fired, so none can resolve; the runbook's checks are its verification.
    if (execution.trigger === 'manual') {
      const reason = `started by hand by ${execution.requestedBy ?? 'a person'}: no alert to wait for`;
      await this.putOutcome({
        ...base,
        status: 'skipped',
        startedAt,
        finishedAt: clock.now().toISOString(),
        reason,
      });
      return { resolved: false, skipped: reason };
    }
    const waitUntil = Math.min(
      verifyDeadline,
      startedAt.getTime() + this.verifyPollSeconds * 1_000,
      invocation.deadline - DEADLINE_MARGIN_MS,
    );
    const health = watch && this.options.health && !execution.dryRun ? this.options.health : undefined;
    // When each signal is read next: at once in every invocation, then every its `every`.
    const due = new Map<WatchSignal, number>(
      (health ? watch!.signals : []).map((signal) => [signal, startedAt.getTime()]),
    );
    for (;;) {
      const [incident, record] = await Promise.all([
        store.getIncident(execution.incidentId),
        store.getExecution(execution.id),
      ]);
      // Waiting for the alert is no reason to keep an operator's abort (or a stopping platform) waiting.
      if ((record?.control.abortRequested || this.stopping) && incident?.status !== 'resolved') {
        const message = this.stopping
          ? 'the platform is stopping'
          : `aborted by ${record?.control.requestedBy ?? 'an operator'} while waiting for the alert to resolve`;
        await this.putOutcome({
          ...base,
          status: 'aborted',
          startedAt,
          finishedAt: clock.now().toISOString(),
          error: { name: AslErrorName.Aborted, message },
        });
        fail(AslErrorName.Aborted, message);
      }
      if (incident?.status === 'resolved') {
        const output = { resolved: true, resolvedAt: incident.resolvedAt };
        await this.putOutcome({
          ...base,
          status: 'succeeded',
          startedAt,
          finishedAt: clock.now().toISOString(),
          output,
        });
        return output;
      }
      if (health) {
        const nowMs = clock.now().getTime();
        const reading = [...due].filter(([, at]) => at <= nowMs).map(([signal]) => signal);
        for (const signal of reading) due.set(signal, nowMs + signal.everySeconds * 1_000);
        const worse =
          reading.length > 0
            ? await health.check(
                execution,
                alert,
                await store.listStepOutcomes(execution.id),
                reading,
                waitUntil,
              )
            : undefined;
        if (worse)
          await this.healthWorse(
            execution,
            worse,
            `${Math.round((clock.now().getTime() - firstStart.getTime()) / 1_000)}s into the verification (which waits up to ${limit} for the alert)`,
            { ...base, startedAt, output: { resolved: false, watch: worse } },
          );
      }
      const now = clock.now().getTime();
      if (now >= verifyDeadline) {
        const message = `the alert ${incident?.alert.name ?? ''} is still firing ${Math.round((now - firstStart.getTime()) / 1000)}s after verification began (limit ${limit})`;
        await this.putOutcome({
          ...base,
          status: 'failed',
          startedAt,
          finishedAt: clock.now().toISOString(),
          error: { name: AslErrorName.VerificationFailed, message },
        });
        fail(AslErrorName.VerificationFailed, message);
      }
      if (now >= waitUntil) {
        await this.putOutcome({
          ...base,
          status: 'running',
          startedAt,
          reason: 'still firing; checking again',
        });
        fail(
          AslErrorName.VerificationPending,
          `the alert is still firing; ${Math.round((verifyDeadline - now) / 1000)}s left`,
        );
      }
      const nextReading = Math.min(...due.values()) - now;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, Math.min(2_000, waitUntil - now, nextReading))),
      );
    }
  }
}

import * as z from 'zod';
import { Alert } from './alert.ts';
import { AutomationLevel } from './automation/levels.ts';
import { StepBlastRadiusLimit } from './limits/blast-radius.ts';
import { RiskLevel } from './policy.ts';
import { PlannedStep } from './records.ts';
import { EscalationTrigger, StepType } from './runbook/model.ts';

/**
 * The contract between compiled state machines and the code their Task states run: substitution
 * variables CDK fills, the execution input, and the payload of each kind of task. The compiler emits
 * these shapes; the handlers parse them with these schemas (on AWS and in the embedded engine).
 */

/** `${…}` variables in compiled definitions; CDK substitutes Lambda ARNs, the local engine maps handlers. */
export const Substitution = {
  ReadOnlyRunner: 'StepRunnerReadOnlyArn',
  MutatingRunner: 'StepRunnerMutatingArn',
  ApprovalRequest: 'ApprovalRequestArn',
} as const;
export type Substitution = (typeof Substitution)[keyof typeof Substitution];

/** Task states that wait for a callback use this service integration. */
export const WAIT_FOR_TASK_TOKEN_RESOURCE = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

export const TaskKind = {
  Step: 'step',
  Compensate: 'compensate',
  Checkpoint: 'checkpoint',
  Approval: 'approval',
  VerifyAlert: 'verify-alert',
  Escalate: 'escalate',
  Record: 'record',
  /** After a runbook.wait step's Wait state: records that the wait ended. */
  Waited: 'waited',
  /** A checkpoint asks for the approval the risk policy wants for what follows (approval-request function). */
  RiskApproval: 'risk-approval',
  /** The rollback machine's own stages (functions/core/rollback/machine.ts). */
  Rollback: 'rollback',
  /** Chooses the order (and lanes) of a reorderable phase's steps from measured history. */
  OrderSteps: 'order-steps',
  /** A reorderable phase's stopWhen held: records the steps it skipped. */
  PhaseStopped: 'phase-stopped',
} as const;
export type TaskKind = (typeof TaskKind)[keyof typeof TaskKind];

/** Facts about the execution, set when it starts; steps reference them as `{{ execution.… }}`. */
export const ExecutionContext = z
  .object({
    id: z.string().min(1).describe('execution name; also the id in the store'),
    runbookId: z.string().min(1),
    runbookVersion: z.string().min(1),
    incidentId: z.string().min(1),
    environment: z.string().min(1),
    dryRun: z.boolean(),
    /** Steps with a risk rank at or above this need approval (policy of the environment); 99 = never. */
    approvalRiskThreshold: z.number().int().min(1),
    /** Inside a change-freeze window: mutating steps are refused. */
    changeFreeze: z.boolean(),
    startedAt: z.iso.datetime({ offset: true }),
    /**
     * The effective automation level the classifier computed (lowest of the runbook's ceiling, the
     * environment's default and the stored level); the step runner enforces it at every change.
     * Absent (executions started before levels existed): autonomous.
     */
    automationLevel: AutomationLevel.optional(),
    /** What started it: an alert (absent), a person by hand, or a rollback of another execution. */
    trigger: z.enum(['alert', 'manual', 'rollback']).optional(),
    /** Who started it by hand (or asked for the rollback). */
    requestedBy: z.string().optional(),
    /** Parameter values a person gave at a manual start: they override the runbook's settled values. */
    parameters: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]))
      .optional(),
  })
  .strict();
export type ExecutionContext = z.infer<typeof ExecutionContext>;

export const ExecutionInput = z
  .object({
    execution: ExecutionContext,
    alert: Alert,
    steps: z.record(z.string(), z.unknown()),
    groups: z.record(z.string(), z.unknown()),
    approvals: z.record(z.string(), z.unknown()),
  })
  .strict();
export type ExecutionInput = z.infer<typeof ExecutionInput>;

/** A step as the compiler bakes it into the Task state's parameters (defaults left out). */
export const StepSpec = z
  .object({
    id: z.string(),
    name: z.string(),
    phase: z.string().optional(),
    type: z.union([StepType, z.enum(['check', 'rollback'])]),
    tool: z.string(),
    parameters: z.record(z.string(), z.unknown()).default({}),
    risk: RiskLevel.default('low'),
    mutating: z.boolean().default(false),
    timeoutSeconds: z.number().int().positive(),
    /** Bytes of output the runner may return into the execution state (0: status only). */
    outputBudgetBytes: z.number().int().min(0).default(0),
    /**
     * runbook.wait compiled to a Wait state: the runner records the wait and returns, the Wait state
     * waits (costing nothing meanwhile), and a `waited` Task records the end.
     */
    waitState: z.literal(true).optional(),
    /** Mutating steps: the runbook's blast-radius limit for what this step's tool touches; absent: the default (1). */
    blastRadius: StepBlastRadiusLimit.optional(),
  })
  .strict();
export type StepSpec = z.infer<typeof StepSpec>;

/**
 * A health signal as the compiler bakes it into the tasks that watch it (successMetrics.checks[].watch):
 * the check's tool and parameters, the number it reads, and which way is worse.
 */
export const WatchSignal = z
  .object({
    check: z.string(),
    name: z.string(),
    tool: z.string(),
    parameters: z.record(z.string(), z.unknown()).default({}),
    timeoutSeconds: z.number().int().positive(),
    /** `steps.<check>.output.<field>`: the number read. */
    fact: z.string(),
    worseWhen: z.enum(['increases', 'decreases']),
    margin: z.number().min(0),
    everySeconds: z.number().int().positive(),
  })
  .strict();
export type WatchSignal = z.infer<typeof WatchSignal>;

/** The signals a task watches: a change reads the baseline or guards; a wait and the verification poll. */
export const WatchSpec = z.object({ signals: z.array(WatchSignal).min(1) }).strict();
export type WatchSpec = z.infer<typeof WatchSpec>;

export const CompensationSpecPayload = z
  .object({
    compensates: z.string(),
    tool: z.string(),
    parameters: z.record(z.string(), z.unknown()),
    timeoutSeconds: z.number().int().positive(),
    /** When this field of the step's output is true, the step changed nothing to undo. */
    skipWhenOutput: z.string().optional(),
  })
  .strict();
export type CompensationSpecPayload = z.infer<typeof CompensationSpecPayload>;

export const ApprovalSpec = z
  .object({
    requirement: z.string(),
    target: z.object({ kind: z.enum(['phase', 'step']), id: z.string() }).strict(),
    approverGroups: z.array(z.string()).min(1),
    quorum: z.number().int().min(1),
    timeoutSeconds: z.number().int().positive(),
    risk: RiskLevel,
    plan: z.array(PlannedStep),
  })
  .strict();
export type ApprovalSpec = z.infer<typeof ApprovalSpec>;

const Execution = { execution: ExecutionContext };
const WithAlert = { ...Execution, alert: Alert };

export const StepTask = z
  .object({ kind: z.literal(TaskKind.Step), ...WithAlert, step: StepSpec, watch: WatchSpec.optional() })
  .strict();
export const CompensateTask = z
  .object({ kind: z.literal(TaskKind.Compensate), ...WithAlert, compensation: CompensationSpecPayload })
  .strict();
export const CheckpointTask = z
  .object({
    kind: z.literal(TaskKind.Checkpoint),
    taskToken: z.string().min(1),
    ...Execution,
    checkpoint: z.object({ before: z.string(), mutating: z.boolean() }).strict(),
  })
  .strict();
export const ApprovalTask = z
  .object({
    kind: z.literal(TaskKind.Approval),
    taskToken: z.string().min(1),
    ...WithAlert,
    steps: z.record(z.string(), z.unknown()),
    groups: z.record(z.string(), z.unknown()),
    approval: ApprovalSpec,
  })
  .strict();
/**
 * Asks for the approval a change's risk score needs, for the checkpoint that holds the execution before
 * it (its task token): the approval-request function stores and e-mails it like any other.
 */
export const RiskApprovalTask = z
  .object({
    kind: z.literal(TaskKind.RiskApproval),
    taskToken: z.string().min(1),
    ...WithAlert,
    approval: z
      .object({
        target: z.object({ kind: z.enum(['phase', 'step']), id: z.string() }).strict(),
        quorum: z.number().int().min(1),
        risk: RiskLevel,
        plan: z.array(PlannedStep),
      })
      .strict(),
  })
  .strict();
export type RiskApprovalTask = z.infer<typeof RiskApprovalTask>;

export const VerifyAlertTask = z
  .object({
    kind: z.literal(TaskKind.VerifyAlert),
    ...WithAlert,
    withinSeconds: z.number().int().positive(),
    watch: WatchSpec.optional(),
  })
  .strict();
export const EscalateTask = z
  .object({
    kind: z.literal(TaskKind.Escalate),
    triggers: z.array(EscalationTrigger),
    state: z.record(z.string(), z.unknown()),
  })
  .strict();
export const RecordTask = z
  .object({
    kind: z.literal(TaskKind.Record),
    outcome: z.enum(['succeeded', 'failed']),
    recordOutputs: z.array(z.string()),
    state: z.record(z.string(), z.unknown()),
  })
  .strict();

export const WaitedTask = z
  .object({
    kind: z.literal(TaskKind.Waited),
    ...Execution,
    step: StepSpec,
    /** Health signals read when the wait ends (a Wait state cannot be interrupted). */
    alert: Alert.optional(),
    watch: WatchSpec.optional(),
  })
  .strict();

/** A stage of the rollback machine: begin (checks, records), proceed (after any approval), finish. */
export const RollbackTask = z
  .object({
    kind: z.literal(TaskKind.Rollback),
    stage: z.enum(['begin', 'proceed', 'finish']),
    rollbackId: z.string().min(1),
    ...Execution,
    state: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** A step of a reorderable phase as its planning task sees it (declared order). */
export const OrderStepSpec = z
  .object({
    id: z.string(),
    name: z.string(),
    tool: z.string(),
    expectedSeconds: z.number().positive().optional(),
    timeoutSeconds: z.number().int().positive(),
  })
  .strict();
export type OrderStepSpec = z.infer<typeof OrderStepSpec>;

export const OrderStepsTask = z
  .object({
    kind: z.literal(TaskKind.OrderSteps),
    ...Execution,
    phase: z
      .object({
        id: z.string(),
        mode: z.enum(['sequential', 'parallel']),
        /** Parallel groups: how many lanes the compiled Map runs at once (the planner fills exactly this many). */
        lanes: z.number().int().min(1),
        steps: z.array(OrderStepSpec).min(1),
      })
      .strict(),
  })
  .strict();
export type OrderStepsTask = z.infer<typeof OrderStepsTask>;

export const PhaseStoppedTask = z
  .object({
    kind: z.literal(TaskKind.PhaseStopped),
    ...Execution,
    phase: z.string(),
    steps: z.array(OrderStepSpec).min(1),
    /** The dispatcher's queue when stopWhen held: steps from `position` on did not run. */
    order: z
      .object({ steps: z.array(z.string()), position: z.number().int().min(0), current: z.string() })
      .strict(),
  })
  .strict();
export type PhaseStoppedTask = z.infer<typeof PhaseStoppedTask>;

export const TaskPayload = z.discriminatedUnion('kind', [
  OrderStepsTask,
  PhaseStoppedTask,
  StepTask,
  WaitedTask,
  CompensateTask,
  CheckpointTask,
  ApprovalTask,
  VerifyAlertTask,
  EscalateTask,
  RecordTask,
  RollbackTask,
]);
export type TaskPayload = z.infer<typeof TaskPayload>;

/** Key of a step's entry in `$.steps` / `$.groups` (JSONPath-friendly: ids are kebab-case, keys snake). */
export function stateKey(id: string): string {
  return id.replace(/-/g, '_');
}

import * as z from 'zod';
import { SymptomCategory } from '../alert.ts';
import { RunbookAutomation } from '../automation/levels.ts';
import { Duration } from '../duration.ts';
import { ResourceKind } from '../limits/blast-radius.ts';
import { RiskLevel } from '../policy.ts';

/**
 * The runbook model: the single source of truth for what a runbook YAML may say. Types come from
 * z.infer; runbooks/schema.json is generated from these schemas.
 */

const ID_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
/** Ids become state names (`Compensate: <id>`), which Step Functions caps at 80 characters. */
export const Id = z
  .string()
  .max(48)
  .regex(ID_PATTERN, 'must be kebab-case: lowercase letters and digits separated by single hyphens');

const SEMVER_PATTERN = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/**
 * Where a condition reads from: the alert, the resolved resource, the runbook's parameters, an earlier
 * step's output, or the execution.
 */
const FACT_PATTERN =
  /^(alert|execution|resource|parameters|runbook\.parameters|steps\.[a-z][a-z0-9-]*\.(output|status))(\.[A-Za-z0-9_-]+|\[\d+\])*$/;
// `pods.0.name` and `pods[0].name` both index a list; the first is easier inside YAML { } and [ ].
export const Fact = z
  .string()
  .regex(
    FACT_PATTERN,
    'must start with alert., resource., parameters., execution., steps.<step-id>.output or steps.<step-id>.status (e.g. steps.node-resources.output.memoryPercent)',
  );

const Scalar = z.union([z.string(), z.number(), z.boolean()]);

/** One comparison; exactly one operator. Compiled to a native Choice rule, never evaluated as code. */
export const Comparison = z
  .object({
    fact: Fact,
    equals: Scalar.optional(),
    notEquals: Scalar.optional(),
    greaterThan: z.number().optional(),
    greaterThanOrEquals: z.number().optional(),
    lessThan: z.number().optional(),
    lessThanOrEquals: z.number().optional(),
    matches: z.string().min(1).optional().describe('wildcard match: * matches any run of characters'),
    in: z
      .array(z.union([z.string(), z.number()]))
      .min(1)
      .optional(),
    exists: z.boolean().optional(),
  })
  .strict()
  .superRefine((comparison, ctx) => {
    const operators = COMPARISON_OPERATORS.filter((operator) => comparison[operator] !== undefined);
    if (operators.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          operators.length === 0
            ? `needs one operator: ${COMPARISON_OPERATORS.join(', ')}`
            : `has ${operators.join(' and ')}: use exactly one operator (combine comparisons with all/any)`,
      });
    }
  });
export type Comparison = z.infer<typeof Comparison>;

export const COMPARISON_OPERATORS = [
  'equals',
  'notEquals',
  'greaterThan',
  'greaterThanOrEquals',
  'lessThan',
  'lessThanOrEquals',
  'matches',
  'in',
  'exists',
] as const satisfies ReadonlyArray<keyof Comparison>;

export type Condition = Comparison | { all: Condition[] } | { any: Condition[] } | { not: Condition };

export const Condition: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    Comparison,
    z.object({ all: z.array(Condition).min(1) }).strict(),
    z.object({ any: z.array(Condition).min(1) }).strict(),
    z.object({ not: Condition }).strict(),
  ]),
);

/**
 * Parameter values may hold `{{ alert.… }}`, `{{ resource.… }}`, `{{ parameters.… }}`, `{{ execution.… }}`
 * and `{{ steps.<id>.output.… }}` templates.
 */
const Parameters = z.record(z.string(), z.unknown()).default({});

export const RetryPolicy = z
  .object({
    maxAttempts: z.number().int().min(0).max(10).describe('retries after the first attempt'),
    interval: Duration.default(2).describe('wait before the first retry'),
    backoffRate: z.number().min(1).max(10).default(2),
    maxDelay: Duration.optional(),
    on: z
      .array(z.string().min(1))
      .min(1)
      .default(['Runbook.ToolFailed', 'Runbook.StepTimeout', 'Tool.Throttled'])
      .describe(
        'error names to retry; tools raise Runbook.ToolFailed, Tool.Throttled, Tool.AccessDenied, Tool.NotFound, Tool.Refused; a slow step Runbook.StepTimeout',
      ),
  })
  .strict();
export type RetryPolicy = z.infer<typeof RetryPolicy>;

export const CompensationSpec = z.union([
  z.literal('auto').describe("the tool's declared inverse (e.g. scale back to the previous replicas)"),
  z
    .object({
      tool: z.string().min(1),
      parameters: Parameters.describe(
        'may reference {{ parameters.… }} and {{ output.… }} of the compensated step, the outputs of steps completed before it ({{ steps.<id>.output.… }}), {{ resource.… }}, {{ runbook.parameters.… }}, alert and execution',
      ),
      timeout: Duration.default(120),
      description: z.string().optional(),
    })
    .strict(),
]);
export type CompensationSpec = z.infer<typeof CompensationSpec>;

export const StepType = z.enum(['diagnostic', 'remediation', 'verification', 'notification']);
export type StepType = z.infer<typeof StepType>;

export const OnFailure = z.enum(['continue', 'abort', 'rollback']);
export type OnFailure = z.infer<typeof OnFailure>;

export const Step = z
  .object({
    id: Id,
    name: z.string().min(1),
    description: z.string().optional(),
    type: StepType,
    tool: z.string().min(1),
    parameters: Parameters,
    risk: RiskLevel.default('low'),
    expectedDuration: Duration.optional(),
    timeout: Duration.default(60),
    retry: RetryPolicy.optional(),
    onFailure: OnFailure.optional().describe(
      'default: continue for notifications, rollback otherwise (a failure after a change undoes it); abort stops and escalates without undoing',
    ),
    compensation: CompensationSpec.optional(),
  })
  .strict();
export type Step = z.infer<typeof Step>;

export const PhaseMode = z.enum(['sequential', 'parallel']);

export const Phase = z
  .object({
    id: Id,
    name: z.string().min(1),
    description: z.string().optional(),
    mode: PhaseMode.default('sequential'),
    maxConcurrency: z
      .number()
      .int()
      .min(1)
      .max(20)
      .optional()
      .describe('parallel groups only: at most this many steps run at once (default: all)'),
    steps: z.array(Step).min(1),
    reorderable: z
      .boolean()
      .optional()
      .describe(
        'read-only steps only: each execution runs them in the order measured to reach a decisive finding soonest (decision rate per second of runtime, from learned history; the declared order until there is some); parallel groups spread them over lanes by measured duration',
      ),
    stopWhen: Condition.optional().describe(
      'sequential reorderable phases only: checked after each step; once it holds the finding is decisive and the remaining steps of the phase are skipped (same condition language as branches)',
    ),
    next: z
      .string()
      .min(1)
      .optional()
      .describe('the phase that follows, or "end" (go to verification); default: the next phase in the list'),
  })
  .strict();
export type Phase = z.infer<typeof Phase>;

/**
 * A health signal a success metric watches (functions/core/watch): a number in the check's output,
 * read before the first change and again between the change and the verification; moving the wrong
 * way by more than `margin` stops the execution and compensates, without waiting for verification.
 */
export const HealthWatch = z
  .object({
    fact: Fact.describe(
      "a number in this check's own output, e.g. steps.<this-id>.output.readyReplicas (an error rate, ready replicas)",
    ),
    worseWhen: z
      .enum(['increases', 'decreases'])
      .describe('increases: an error rate or latency; decreases: ready replicas, healthy targets'),
    margin: z
      .number()
      .min(0)
      .default(0)
      .describe(
        'how far past its value before the first change the signal may move before it counts as worse, in its own unit (0: any move the wrong way)',
      ),
    every: Duration.default(30).describe('how often it is read between a change and the verification'),
  })
  .strict();
export type HealthWatch = z.infer<typeof HealthWatch>;

/** A check: a read-only step whose output must satisfy `expect`. */
export const Check = z
  .object({
    id: Id,
    name: z.string().min(1),
    description: z.string().optional(),
    tool: z.string().min(1),
    parameters: Parameters,
    timeout: Duration.default(60),
    retry: RetryPolicy.optional(),
    expect: Condition.optional().describe('over steps.<this-id>.output; default: the tool succeeded'),
    watch: HealthWatch.optional().describe(
      'success metrics only: a health signal watched from before the first change until the verification; worse than before stops and compensates',
    ),
  })
  .strict();
export type Check = z.infer<typeof Check>;

export const BRANCH_END = 'end';
export const BRANCH_ESCALATE = 'escalate';

export const BranchRule = z
  .object({
    when: Condition,
    goto: z
      .string()
      .min(1)
      .describe('a phase id, "end" (skip to verification) or "escalate" (hand to a human)'),
    description: z.string().optional(),
  })
  .strict();

export const Branch = z
  .object({
    id: Id,
    after: Id.describe('the phase after which the branch decides'),
    description: z.string().optional(),
    rules: z.array(BranchRule).min(1),
    default: z.string().min(1).describe('where to go when no rule matches'),
  })
  .strict();
export type Branch = z.infer<typeof Branch>;

export const ApprovalRequirement = z
  .object({
    id: Id,
    description: z.string().optional(),
    phases: z.array(Id).default([]).describe('ask before these phases start'),
    steps: z.array(Id).default([]).describe('ask before these steps start'),
    environments: z.array(z.string().min(1)).min(1).optional().describe('default: every environment'),
    minRisk: RiskLevel.optional().describe('only when the phase or step risk is at least this'),
    approverGroups: z.array(z.string().min(1)).min(1),
    quorum: z.number().int().min(1).max(10).default(1),
    timeout: Duration.default(900),
  })
  .strict()
  .refine((requirement) => requirement.phases.length + requirement.steps.length > 0, {
    message: 'names no phase and no step: list the phases or steps that need approval',
  });
export type ApprovalRequirement = z.infer<typeof ApprovalRequirement>;

const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24h)');

export const FreezeWindow = z.union([
  z
    .object({
      name: z.string().min(1),
      start: z.iso.datetime({ offset: true }),
      end: z.iso.datetime({ offset: true }),
    })
    .strict(),
  z
    .object({
      name: z.string().min(1),
      days: z.array(Weekday).min(1),
      from: ClockTime,
      to: ClockTime,
      timezone: z.string().default('UTC'),
    })
    .strict(),
]);
export type FreezeWindow = z.infer<typeof FreezeWindow>;

export const EnvironmentConstraints = z
  .object({
    environments: z.array(z.string().min(1)).min(1).describe('environments this runbook may run in'),
    changeFreezeWindows: z
      .array(FreezeWindow)
      .default([])
      .describe('no mutating step runs inside a window; diagnostics still run'),
  })
  .strict();

export const EscalationEvent = z.enum([
  'step-failed',
  'prerequisite-failed',
  'approval-rejected',
  'approval-timeout',
  'verification-failed',
  'rollback-failed',
  'escalation-requested',
  'aborted',
  'health-worse',
]);
export type EscalationEvent = z.infer<typeof EscalationEvent>;

export const EscalationTrigger = z
  .object({
    id: Id,
    on: z.array(EscalationEvent).min(1),
    notify: z.array(z.string().min(1)).min(1).describe('escalation targets configured per environment'),
    severity: z.enum(['page', 'ticket', 'info']).default('page'),
    message: z.string().optional(),
  })
  .strict();
export type EscalationTrigger = z.infer<typeof EscalationTrigger>;

export const SafetyLimits = z
  .object({
    maxExecutionsPerHour: z.number().int().min(1).default(10),
    maxExecutionsPerResourcePerHour: z.number().int().min(1).default(3),
    maxConcurrentExecutions: z.number().int().min(1).default(3),
    blastRadius: z
      .object({
        maxResourcesPerStep: z
          .number()
          .int()
          .min(1)
          .default(1)
          .describe(
            'resources one change may touch, counted before it runs (instances rebooted, pods evicted, tasks added…)',
          ),
        perKind: z
          .partialRecord(ResourceKind, z.number().int().min(1))
          .optional()
          .describe('a kind’s own limit instead of maxResourcesPerStep, e.g. { pod: 30 } for a drain'),
        maxPercentOfFleet: z.number().min(0).max(100).optional(),
      })
      .strict()
      .default({ maxResourcesPerStep: 1 }),
    cooldown: Duration.default(900).describe(
      'after an execution on a resource, wait this long before the next',
    ),
  })
  .strict();
export type SafetyLimits = z.infer<typeof SafetyLimits>;

export const SuccessMetrics = z
  .object({
    alertResolved: z
      .object({ within: Duration })
      .strict()
      .optional()
      .describe('success needs the triggering alert to resolve within this time after remediation'),
    checks: z.array(Check).default([]),
    onFailure: z.enum(['rollback', 'escalate']).default('rollback'),
  })
  .strict();
export type SuccessMetrics = z.infer<typeof SuccessMetrics>;

export const LearningHooks = z
  .object({
    recordOutputs: z
      .array(Fact)
      .default([])
      .describe('step output facts stored with every execution record, for later analysis'),
    askForFeedback: z.boolean().default(false).describe('ask the approver whether the runbook helped'),
    labels: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const OptimizationTargets = z
  .object({
    mttr: Duration.optional().describe('target time from alert to verified recovery'),
    baselineMttr: Duration.optional().describe(
      'how long recovery took by hand before this runbook, from your incident history: the MTTR reduction (design target: 60% or more) is measured against it',
    ),
    successRate: z.number().min(0).max(1).optional(),
    maxHumanInterventionRate: z.number().min(0).max(1).optional(),
  })
  .strict();

export const ApplicabilityRule = z
  .object({
    id: Id,
    description: z.string().optional(),
    pattern: z
      .record(z.string(), z.unknown())
      .describe('an EventBridge event pattern over the normalized alert (source, name, labels, resource…)'),
    confidence: z.number().min(0).max(1),
  })
  .strict();
export type ApplicabilityRule = z.infer<typeof ApplicabilityRule>;

/** The step id `resource.resolve` runs under; no runbook step may take it. */
export const RESOLVE_STEP_ID = 'resource';

const PARAMETER_NAME = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;

/**
 * A per-team value a runbook reads as `{{ parameters.<name> }}` (bounds, allowed namespaces, a maximum
 * scale): the runbook's default, overridden by the environment (cdk.json
 * `runbookParameters.<runbook-id>.<name>`), then by a tag (AWS) or annotation/label (Kubernetes) on the
 * resource: `runbook-autopilot.io/<runbook-id>.<name>` or `runbook-autopilot.io/<name>`.
 */
export const RunbookParameter = z
  .object({
    description: z.string().min(1),
    type: z.enum(['string', 'number', 'integer', 'boolean', 'list']),
    default: z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]),
    minimum: z.number().optional().describe('numbers: overrides below this are refused'),
    maximum: z.number().optional().describe('numbers: overrides above this are refused'),
    allowed: z.array(z.string()).min(1).optional().describe('strings: the values an override may take'),
    overridableBy: z
      .array(z.enum(['environment', 'resource']))
      .default(['environment', 'resource'])
      .describe('who may override the default: the environment’s config, a tag or label on the resource'),
  })
  .strict();
export type RunbookParameter = z.infer<typeof RunbookParameter>;

export const RunbookParameters = z
  .record(
    z.string().regex(PARAMETER_NAME, 'parameter names are letters, digits and _, starting with a letter'),
    RunbookParameter,
  )
  .default({});

/**
 * The alerts a runbook answers, by name or by the `runbook_url` annotation every kube-prometheus-stack
 * rule carries: selection treats them as rules (name: `answers.confidence`, URL: +0.05), and
 * `runbook coverage` reads them.
 */
export const Answers = z
  .object({
    alerts: z.array(z.string().min(1)).default([]).describe('alert names (alertname or alarm name)'),
    runbookUrls: z
      .array(z.url())
      .default([])
      .describe('runbook_url annotations that point at what this runbook does'),
    confidence: z.number().min(0).max(1).default(0.8),
  })
  .strict();
export type Answers = z.infer<typeof Answers>;

/**
 * An alert the runbook is written for, as its source sends it: per-runbook checks normalize it, check
 * that it selects this runbook, and rehearse the runbook with it against the simulated environment.
 */
export const ExampleAlert = z.union([
  z
    .object({
      name: z.string().min(1),
      description: z.string().optional(),
      alertmanager: z
        .object({
          labels: z.record(z.string(), z.string()),
          annotations: z.record(z.string(), z.string()).default({}),
        })
        .strict(),
    })
    .strict(),
  z
    .object({
      name: z.string().min(1),
      description: z.string().optional(),
      cloudwatch: z
        .object({
          alarmName: z.string().min(1),
          namespace: z.string().min(1),
          metricName: z.string().min(1),
          dimensions: z.record(z.string(), z.string()).default({}),
          statistic: z.string().default('Average'),
          tags: z.record(z.string(), z.string()).default({}),
          region: z.string().default('eu-west-1'),
          account: z.string().default('111111111111'),
        })
        .strict(),
    })
    .strict(),
]);
export type ExampleAlert = z.infer<typeof ExampleAlert>;

export const RollbackProcedure = z
  .object({
    id: Id,
    name: z.string().min(1),
    description: z.string().optional(),
    steps: z.array(Step).min(1),
  })
  .strict();
export type RollbackProcedure = z.infer<typeof RollbackProcedure>;

export const Owner = z
  .object({
    team: z.string().min(1),
    contact: z.string().min(1).optional(),
  })
  .strict();

export const Runbook = z
  .object({
    id: Id,
    name: z.string().min(1),
    version: z.string().regex(SEMVER_PATTERN, 'must be a semantic version such as 1.4.0'),
    description: z.string().min(1),
    category: SymptomCategory,
    owner: Owner,
    tags: z.array(z.string()).default([]),
    parameters: RunbookParameters,
    applicabilityRules: z.array(ApplicabilityRule).default([]),
    answers: Answers.optional(),
    examples: z.array(ExampleAlert).default([]).describe('alerts this runbook is written for'),
    prerequisiteChecks: z.array(Check).default([]),
    environmentConstraints: EnvironmentConstraints,
    phases: z.array(Phase).min(1),
    conditionalBranching: z.array(Branch).default([]),
    approvalRequirements: z.array(ApprovalRequirement).default([]),
    rollbackProcedures: z.array(RollbackProcedure).default([]),
    escalationTriggers: z.array(EscalationTrigger).default([]),
    safetyLimits: SafetyLimits.default(SafetyLimits.parse({})),
    successMetrics: SuccessMetrics.default(SuccessMetrics.parse({})),
    learningHooks: LearningHooks.default(LearningHooks.parse({})),
    optimizationTargets: OptimizationTargets.default({}),
    /** Graduated automation: the highest level this runbook may reach (absent: autonomous). */
    automation: RunbookAutomation.optional(),
  })
  .strict();
export type Runbook = z.infer<typeof Runbook>;
/** What an author writes (before defaults and duration parsing). */
export type RunbookInput = z.input<typeof Runbook>;

/**
 * The failure mode a step gets when it does not say: undo what may have changed (nothing, before the
 * first change), except notifications, which never stop a run.
 */
export function effectiveOnFailure(step: Step): OnFailure {
  if (step.onFailure) return step.onFailure;
  return step.type === 'notification' ? 'continue' : 'rollback';
}

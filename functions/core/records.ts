import * as z from 'zod';
import { Alert, Severity, SymptomCategory } from './alert.ts';
import { AutomationLevel } from './automation/levels.ts';
import { RiskLevel } from './policy.ts';

/**
 * What the platform keeps: incidents, executions, step outcomes, approvals, learning aggregates. The
 * Store port reads and writes these; the DynamoDB adapter maps them onto one table.
 */

const IsoTime = z.iso.datetime({ offset: true });

/** The few alert facts every list and page shows, without the whole alert. */
export const AlertSummary = z
  .object({
    source: Alert.shape.source,
    name: z.string(),
    status: Alert.shape.status,
    severity: Severity,
    summary: z.string(),
    environment: z.string(),
    resource: Alert.shape.resource,
    fingerprint: z.string(),
    startsAt: IsoTime,
  })
  .strict();
export type AlertSummary = z.infer<typeof AlertSummary>;

export function summarizeAlert(alert: Alert): AlertSummary {
  return {
    source: alert.source,
    name: alert.name,
    status: alert.status,
    severity: alert.severity,
    summary: alert.summary,
    environment: alert.environment,
    resource: alert.resource,
    fingerprint: alert.fingerprint,
    startsAt: alert.startsAt,
  };
}

/** Incident priority: P1 is the most urgent. */
export const Priority = z.enum(['P1', 'P2', 'P3', 'P4']);
export type Priority = z.infer<typeof Priority>;

/** What the classifier decided for an alert. */
/**
 * `pending`: the classifier opened the incident and is starting automation (a crash leaves it for a retry).
 * `deferred`: another execution holds the resource's change lock; classified again when it stops.
 */
export const IncidentDecision = z.enum([
  'pending',
  'started',
  'joined',
  'unmatched',
  'blocked',
  'deferred',
  'resolved',
  'ignored',
]);
export type IncidentDecision = z.infer<typeof IncidentDecision>;

export const IncidentRecord = z
  .object({
    id: z.string(),
    fingerprint: z.string(),
    status: z.enum(['open', 'resolved']),
    alert: Alert,
    category: SymptomCategory,
    priority: Priority,
    firstSeenAt: IsoTime,
    lastSeenAt: IsoTime,
    occurrences: z.number().int().min(1),
    decision: IncidentDecision,
    /** Why automation did not start (kill switch, rate limit, cooldown, environment…). */
    blockedReason: z.string().optional(),
    runbookId: z.string().optional(),
    executionId: z.string().optional(),
    resolvedAt: IsoTime.optional(),
  })
  .strict();
export type IncidentRecord = z.infer<typeof IncidentRecord>;

export const ExecutionStatus = z.enum([
  'running',
  'paused',
  'succeeded',
  'failed',
  'aborted',
  /** The process running it stopped and it could not be resumed safely; an operator decides. */
  'interrupted',
]);
export type ExecutionStatus = z.infer<typeof ExecutionStatus>;

export const TERMINAL_STATUSES: ReadonlySet<ExecutionStatus> = new Set(['succeeded', 'failed', 'aborted']);

export const ExecutionOutcome = z
  .object({
    status: z.enum(['succeeded', 'failed', 'aborted']),
    error: z.string().optional(),
    cause: z.string().optional(),
    rolledBack: z.boolean(),
    rollbackFailed: z.boolean(),
    escalated: z.boolean(),
    /** A human had to act: an approval, an escalation, an abort, a pause. */
    humanIntervention: z.boolean(),
    /** Approval requests, and how many a human answered (the rest expired or were cancelled). */
    approvals: z.number().int().min(0),
    approvalsAnswered: z.number().int().min(0).default(0),
    /** Summed time from request to decision of the answered approvals. */
    approvalWaitMs: z.number().int().min(0),
    /** Alert start to verified recovery, when it recovered. */
    timeToRecoverMs: z.number().int().min(0).optional(),
    recordedOutputs: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type ExecutionOutcome = z.infer<typeof ExecutionOutcome>;

/** A step of a reorderable phase as the planner placed it, with what placed it there. */
export const OrderedStep = z
  .object({
    stepId: z.string(),
    /** Where its hit rate comes from: `measured` over `runs` recorded runs, or `declared` (the prior). */
    source: z.enum(['measured', 'declared']),
    /** Recorded runs that could tell whether it decided (measured only). */
    runs: z.number().int().min(0),
    /** Of those, runs in which its finding decided (measured only). */
    decided: z.number().int().min(0),
    /** Chance it decides, smoothed with a uniform prior: (decided + 1) / (runs + 2). */
    hitRate: z.number().min(0).max(1),
    /** Its expected duration: measured p50, else expectedDuration, else its timeout. */
    expectedMs: z.number().min(0),
    durationSource: z.enum(['measured', 'declared']),
    /** Recorded runs the p50 is from (measured only). */
    durationRuns: z.number().int().min(0),
    /** hitRate per second of expected duration: the sort key, highest first. */
    hitsPerSecond: z.number().min(0),
    /** Parallel groups: the lane it ran in (0-based). */
    lane: z.number().int().min(0).optional(),
  })
  .strict();
export type OrderedStep = z.infer<typeof OrderedStep>;

/** The order a reorderable phase used in one execution (recorded by its planning task). */
export const PhaseOrder = z
  .object({
    phase: z.string(),
    mode: z.enum(['sequential', 'parallel']),
    /** `measured`: ordered by hit rate per second; `declared`: no step has history yet (or none was readable). */
    basis: z.enum(['measured', 'declared']),
    reason: z.string(),
    /** In the order they run (parallel: lane by lane). */
    steps: z.array(OrderedStep),
    /** Parallel groups: expected milliseconds of work per lane, longest first onto the least-loaded lane. */
    laneLoadsMs: z.array(z.number().min(0)).optional(),
    plannedAt: IsoTime,
    /** The phase stopped early: its stopWhen held after this step ("" when before any step). */
    stoppedAfter: z.string().optional(),
    /** Steps skipped because the phase stopped early. */
    skipped: z.array(z.string()).optional(),
  })
  .strict();
export type PhaseOrder = z.infer<typeof PhaseOrder>;

export const ExecutionRecord = z
  .object({
    id: z.string(),
    runbookId: z.string(),
    runbookVersion: z.string(),
    incidentId: z.string(),
    environment: z.string(),
    dryRun: z.boolean(),
    status: ExecutionStatus,
    alert: AlertSummary,
    /** Where the engine knows it: the execution ARN on AWS, the local engine's id locally. */
    engineRef: z.string().optional(),
    startedAt: IsoTime,
    stoppedAt: IsoTime.optional(),
    /** Resource key the safety limits count against. */
    resourceKey: z.string(),
    control: z
      .object({
        pauseRequested: z.boolean(),
        abortRequested: z.boolean(),
        requestedBy: z.string().optional(),
        requestedAt: IsoTime.optional(),
        reason: z.string().optional(),
      })
      .strict(),
    /** A checkpoint holding the execution (paused, or the kill switch), with the token that releases it. */
    heldCheckpoint: z
      .object({ before: z.string(), taskToken: z.string(), heldAt: IsoTime })
      .strict()
      .optional(),
    /** The last state the engine entered (live progress). */
    currentState: z.string().optional(),
    outcome: ExecutionOutcome.optional(),
    /** The automation level it ran at (observe and shadow runs are dry runs, reported apart). */
    automationLevel: AutomationLevel.optional(),
    /** The order each reorderable phase ran its steps in, and why (by phase id). */
    stepOrder: z.record(z.string(), PhaseOrder).optional(),
  })
  .strict();
export type ExecutionRecord = z.infer<typeof ExecutionRecord>;

export const StepOutcomeStatus = z.enum([
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'aborted',
  /** Not run: the alert resolved, a compensation had nothing to undo, a freeze window. */
  'skipped',
  /** Run as a dry run: the tool said what it would do. */
  'dry-run',
  'compensated',
  /** Cut short by the platform stopping (or dying) while it ran; it may have changed something. */
  'interrupted',
]);
export type StepOutcomeStatus = z.infer<typeof StepOutcomeStatus>;

export const StepOutcome = z
  .object({
    executionId: z.string(),
    stepId: z.string(),
    kind: z.enum(['step', 'check', 'rollback', 'compensation']),
    name: z.string(),
    phase: z.string().optional(),
    tool: z.string(),
    mutating: z.boolean(),
    risk: RiskLevel,
    attempt: z.number().int().min(1),
    status: StepOutcomeStatus,
    startedAt: IsoTime,
    finishedAt: IsoTime.optional(),
    durationMs: z.number().int().min(0).optional(),
    /** Parameters after templates were resolved. */
    parameters: z.record(z.string(), z.unknown()),
    output: z.unknown().optional(),
    outputTruncated: z.boolean().optional(),
    error: z.object({ name: z.string(), message: z.string() }).strict().optional(),
    dryRun: z.boolean(),
    /** Why a step was skipped. */
    reason: z.string().optional(),
  })
  .strict();
export type StepOutcome = z.infer<typeof StepOutcome>;

export const ApprovalDecision = z
  .object({
    approver: z.string(),
    decision: z.enum(['approve', 'reject']),
    comment: z.string().max(2_000).optional(),
    at: IsoTime,
  })
  .strict();
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

/** A step an approval covers, as the approver sees it (parameters resolved where they could be). */
export const PlannedStep = z
  .object({
    id: z.string(),
    name: z.string(),
    tool: z.string(),
    risk: RiskLevel,
    parameters: z.record(z.string(), z.unknown()),
  })
  .strict();
export type PlannedStep = z.infer<typeof PlannedStep>;

export const ApprovalRecord = z
  .object({
    /** Public id, used in links: names the execution and the request. */
    id: z.string(),
    executionId: z.string(),
    runbookId: z.string(),
    requirement: z.string(),
    target: z.object({ kind: z.enum(['phase', 'step']), id: z.string() }).strict(),
    environment: z.string(),
    risk: RiskLevel,
    approverGroups: z.array(z.string()),
    /** The people who may decide (resolved from the groups); each gets a link of their own. */
    approvers: z.array(z.string()),
    quorum: z.number().int().min(1),
    status: z.enum(['pending', 'approved', 'rejected', 'expired', 'cancelled']),
    decisions: z.array(ApprovalDecision),
    requestedAt: IsoTime,
    expiresAt: IsoTime,
    decidedAt: IsoTime.optional(),
    /** When the approvers who had not answered were reminded (once per approval). */
    remindedAt: IsoTime.optional(),
    /** Step Functions task token: stays server-side, never in a link. */
    taskToken: z.string(),
    plan: z.array(PlannedStep),
    alert: AlertSummary,
  })
  .strict();
export type ApprovalRecord = z.infer<typeof ApprovalRecord>;

export const KillSwitchState = z
  .object({
    engaged: z.boolean(),
    changedBy: z.string().optional(),
    changedAt: IsoTime.optional(),
    reason: z.string().optional(),
  })
  .strict();
export type KillSwitchState = z.infer<typeof KillSwitchState>;

/** Alerts no runbook matched, grouped by name: the learning report suggests runbooks for them. */
export const UnmatchedAlertSummary = z
  .object({
    name: z.string(),
    source: Alert.shape.source,
    count: z.number().int().min(1),
    firstSeenAt: IsoTime,
    lastSeenAt: IsoTime,
    lastAlert: AlertSummary,
    /** The last alert's labels: `runbook learn recommend` clusters by their keys and reads the values it templates. */
    lastLabels: z.record(z.string(), z.string()).optional(),
  })
  .strict();
export type UnmatchedAlertSummary = z.infer<typeof UnmatchedAlertSummary>;

export const StepStatistics = z
  .object({
    stepId: z.string(),
    runs: z.number().int().min(0),
    failures: z.number().int().min(0),
    skipped: z.number().int().min(0),
    meanDurationMs: z.number().min(0),
    p90DurationMs: z.number().min(0),
    /** Past this, a running attempt counts as stuck (aggregates from before it was kept lack it). */
    p99DurationMs: z.number().min(0).optional(),
    /** The median attempt: what reorderable phases order and balance lanes by. */
    p50DurationMs: z.number().min(0).optional(),
    /**
     * Runs whose finding decided something (a branch, a later step's parameters, its phase's stopWhen),
     * of the runs that could tell (learning/suggestions/evidence.ts); only when the runbook was known.
     */
    decisions: z
      .object({ decided: z.number().int().min(0), decidable: z.number().int().min(0) })
      .strict()
      .optional(),
  })
  .strict();
export type StepStatistics = z.infer<typeof StepStatistics>;

/**
 * A step that fails the same way: step × error class × the resource labels its failures share. Support:
 * the runs that match all three; confidence: support ÷ the runs of the step on resources with those labels.
 */
export const FailurePattern = z
  .object({
    stepId: z.string(),
    errorClass: z
      .string()
      .describe('the error name of the final attempt (Runbook.StepTimeout, Tool.Throttled…)'),
    labels: z
      .record(z.string(), z.string())
      .describe('resource fields the failures share; {} is any resource'),
    support: z.number().int().min(1),
    runs: z.number().int().min(1).describe('runs of the step on resources with these labels'),
    confidence: z.number().min(0).max(1),
  })
  .strict();
export type FailurePattern = z.infer<typeof FailurePattern>;

/**
 * A recorded output (learningHooks.recordOutputs) that goes with success: the runs where the fact had
 * this value (or was past this threshold) succeeded more often than the runs that recorded the fact.
 */
export const SuccessFactor = z
  .object({
    fact: z.string(),
    when: z.union([
      z.object({ equals: z.union([z.string(), z.number(), z.boolean()]) }).strict(),
      z.object({ greaterThanOrEquals: z.number() }).strict(),
      z.object({ lessThan: z.number() }).strict(),
    ]),
    support: z.number().int().min(1).describe('runs where the fact was so'),
    succeeded: z.number().int().min(0),
    successRate: z.number().min(0).max(1),
    /** The success rate of every run that recorded the fact. */
    baselineSuccessRate: z.number().min(0).max(1),
  })
  .strict();
export type SuccessFactor = z.infer<typeof SuccessFactor>;

/** Learning aggregates of one runbook, recomputed from its execution records (idempotent). */
export const LearningAggregate = z
  .object({
    runbookId: z.string(),
    executions: z.number().int().min(0),
    succeeded: z.number().int().min(0),
    failed: z.number().int().min(0),
    aborted: z.number().int().min(0),
    withoutHuman: z.number().int().min(0),
    humanIntervention: z.number().int().min(0),
    rollbacks: z.number().int().min(0),
    rollbackFailures: z.number().int().min(0),
    meanTimeToRecoverMs: z.number().min(0).optional(),
    approvalsRequested: z.number().int().min(0).default(0),
    approvalsAnswered: z.number().int().min(0).default(0),
    /** Mean time to an answer, over answered approvals. */
    meanApprovalWaitMs: z.number().min(0).optional(),
    /** Success rate per alert name: what worked before, for selection. */
    byAlert: z.record(
      z.string(),
      z.object({ executions: z.number().int(), succeeded: z.number().int() }).strict(),
    ),
    steps: z.array(StepStatistics),
    /** From the same recent runs as `steps` (functions/core/learning/patterns.ts). */
    failurePatterns: z.array(FailurePattern).optional(),
    successFactors: z.array(SuccessFactor).optional(),
    updatedAt: IsoTime,
  })
  .strict();
export type LearningAggregate = z.infer<typeof LearningAggregate>;

/** A notification as the notifier sent it (the local outbox keeps these). */
export const Notification = z
  .object({
    id: z.string(),
    /** `follow-up`: the notification an ended execution sends each person (report and feedback links). */
    kind: z.enum(['approval-request', 'escalation', 'message', 'automation-blocked', 'follow-up']),
    to: z.array(z.string()),
    subject: z.string(),
    text: z.string(),
    /** Links in the message (approval links), for the local outbox and tests. */
    links: z.array(z.object({ label: z.string(), url: z.string() }).strict()).default([]),
    severity: z.enum(['page', 'ticket', 'info']).optional(),
    executionId: z.string().optional(),
    sentAt: IsoTime,
  })
  .strict();
export type Notification = z.infer<typeof Notification>;

import * as z from 'zod';
import { stableHash } from '../classifier/identity.ts';
import { AlertSummary, StepOutcomeStatus } from '../records.ts';

/**
 * The audit trail's events: every automated decision and every human action, appended and never
 * changed. Each event names who acted (`actor`: a system component or a person, with where the person
 * acted from), when (`at`), and what it concerns (execution, incident, runbook, resource). Events of an
 * execution form one ordered trail; events outside any execution (the kill switch, automation levels)
 * form the platform's trail. The store indexes every event by resource and by actor.
 *
 * Other parts record through `AuditTrail.record(event)` (functions/ports/audit.ts): add a kind here
 * when a new decision or action appears, never reuse one with another meaning.
 */

const IsoTime = z.iso.datetime({ offset: true });

/** Bounds that keep an event far below DynamoDB's 400 KB item (ids go into keys: ≤ 1 KB each). */
export const AUDIT_LIMITS = {
  idChars: 256,
  /** Free text a person typed (a reason, a comment) or a message the platform wrote. */
  textChars: 2_000,
  /** A step's output copied into its change event, JSON bytes; longer is trimmed (`outputTruncated`). */
  outputBytes: 8 * 1024,
  /** A step's resolved parameters, JSON bytes; longer is trimmed (`parametersTruncated`). */
  parametersBytes: 16 * 1024,
} as const;

const Id = z.string().min(1).max(AUDIT_LIMITS.idChars);
const Text = z.string().max(AUDIT_LIMITS.textChars);

/** Where a person acted from: the HTTP request on the local server, the caller's identity on AWS. */
export const AuditSource = z
  .object({
    /** api (control API / local server), cli, dashboard, approval-link, control-link (signed pause/abort links). */
    channel: z.enum(['api', 'cli', 'dashboard', 'approval-link', 'control-link']),
    ip: z.string().max(64).optional(),
    userAgent: z.string().max(512).optional(),
    /** The authenticated identity: an IAM principal ARN, a Cognito user (sub and groups), a token's name. */
    identity: z.string().max(1_024).optional(),
  })
  .strict();
export type AuditSource = z.infer<typeof AuditSource>;

/** Components of the platform that decide on their own. */
export const SystemActor = {
  Classifier: 'classifier',
  StepRunner: 'step-runner',
  Approvals: 'approvals',
  Recorder: 'learning-recorder',
  Escalation: 'escalation',
  Automation: 'automation',
} as const;

export const AuditActor = z.discriminatedUnion('type', [
  z.object({ type: z.literal('system'), id: Id }).strict(),
  z.object({ type: z.literal('person'), id: Id, source: AuditSource.optional() }).strict(),
]);
export type AuditActor = z.infer<typeof AuditActor>;

/** Whether an override took effect, or was refused (and why): refused requests are recorded too. */
const OverrideResult = {
  result: z.enum(['accepted', 'refused']),
  /** Why a refused request was refused (the 4xx message the person got). */
  refusal: Text.optional(),
  reason: Text.optional(),
};

const Envelope = {
  /** Unique per event; recording the same id twice keeps the first (retries record once). */
  id: Id,
  at: IsoTime,
  actor: AuditActor,
  executionId: Id.optional(),
  incidentId: Id.optional(),
  runbookId: Id.optional(),
  environment: Id.optional(),
  /** The resource key safety limits count against (`k8s-node/prod-eks/ip-…`): indexed per resource. */
  resourceKey: z.string().min(1).max(512).optional(),
};

/** A runbook the classifier considered for an alert, with its score (selection explains itself). */
export const AuditCandidate = z
  .object({
    runbookId: Id,
    /** selected, outscored, no-rule-matched, environment-not-allowed (or a later part's reason). */
    outcome: z.string().max(64),
    reason: Text,
    rule: z.string().max(AUDIT_LIMITS.idChars).optional(),
    confidence: z.number().optional(),
    learnedFactor: z.number().optional(),
    score: z.number().optional(),
  })
  .strict();
export type AuditCandidate = z.infer<typeof AuditCandidate>;

const StepKind = z.enum(['step', 'check', 'rollback', 'compensation']);

export const AuditEvent = z.discriminatedUnion('kind', [
  /** An alert reached the classifier (firing or resolved), with what it did with it. */
  z
    .object({
      ...Envelope,
      kind: z.literal('alert.received'),
      alert: AlertSummary,
      /**
       * joined, unmatched, resolved, ignored: what the classifier did with it. Absent when it went on
       * to select a runbook (the selection and gate events that follow say what became of it).
       */
      decision: z.string().max(64).optional(),
      /**
       * Repeats of the same firing that arrived together and were recorded as this one event (a
       * duplicate storm): how many (absent: one) and when the last of them arrived (`at`: the first).
       */
      deliveries: z.number().int().min(2).optional(),
      lastAt: IsoTime.optional(),
    })
    .strict(),
  /** Which runbook the classifier chose, and every candidate with its score. */
  z
    .object({
      ...Envelope,
      kind: z.literal('runbook.selected'),
      alertName: z.string().max(1_024),
      selected: z
        .object({
          runbookId: Id,
          runbookVersion: z.string().max(128),
          rule: z.string().max(AUDIT_LIMITS.idChars),
          score: z.number(),
        })
        .strict()
        .optional(),
      candidates: z.array(AuditCandidate),
    })
    .strict(),
  /**
   * A gate's verdict: the safety gate (kill switch, environment, rate, concurrency, cooldown, freeze),
   * a checkpoint holding or releasing the execution, and the gates later parts add (automation level,
   * blast radius, risk, circuit breaker), each named in `gate`.
   */
  z
    .object({
      ...Envelope,
      kind: z.literal('gate.verdict'),
      gate: z.string().min(1).max(64),
      verdict: z.enum(['allowed', 'refused', 'held', 'released', 'deferred']),
      reason: Text,
      details: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
  z
    .object({
      ...Envelope,
      kind: z.literal('execution.started'),
      runbookVersion: z.string().max(128),
      dryRun: z.boolean(),
      changeFreeze: z.boolean(),
      /** What started it: an alert, a person by hand, a rollback of another execution. */
      trigger: z.enum(['alert', 'manual', 'rollback']),
      parameters: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
  z
    .object({
      ...Envelope,
      kind: z.literal('execution.finished'),
      status: z.enum(['succeeded', 'failed', 'aborted']),
      error: Text.optional(),
      cause: Text.optional(),
      rolledBack: z.boolean(),
      rollbackFailed: z.boolean(),
      escalated: z.boolean(),
    })
    .strict(),
  z
    .object({
      ...Envelope,
      kind: z.literal('approval.requested'),
      approvalId: Id,
      target: z.object({ kind: z.enum(['phase', 'step']), id: Id }).strict(),
      requirement: z.string().max(AUDIT_LIMITS.idChars),
      risk: z.string().max(32),
      approvers: z.array(Id),
      quorum: z.number().int().min(1),
      expiresAt: IsoTime,
      details: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
  /** One approver's decision (the actor), and where the approval stands after it. */
  z
    .object({
      ...Envelope,
      kind: z.literal('approval.decided'),
      approvalId: Id,
      decision: z.enum(['approve', 'reject']),
      comment: Text.optional(),
      status: z.enum(['pending', 'approved', 'rejected']),
    })
    .strict(),
  /** An approval settled without a decision: expired, or cancelled by an abort. */
  z
    .object({
      ...Envelope,
      kind: z.literal('approval.closed'),
      approvalId: Id,
      status: z.enum(['expired', 'cancelled']),
    })
    .strict(),
  /** A change (a mutating step, rollback or compensation) about to run, with its resolved parameters. */
  z
    .object({
      ...Envelope,
      kind: z.literal('change.started'),
      stepId: Id,
      stepKind: StepKind,
      name: z.string().max(1_024),
      tool: z.string().max(128),
      attempt: z.number().int().min(1),
      risk: z.string().max(32),
      dryRun: z.boolean(),
      parameters: z.record(z.string(), z.unknown()),
      parametersTruncated: z.boolean().optional(),
    })
    .strict(),
  /** What a change did: its status, its output (trimmed) or its error. */
  z
    .object({
      ...Envelope,
      kind: z.literal('change.finished'),
      stepId: Id,
      stepKind: StepKind,
      name: z.string().max(1_024),
      tool: z.string().max(128),
      attempt: z.number().int().min(1),
      status: StepOutcomeStatus,
      dryRun: z.boolean(),
      /** The resolved parameters (also of a change refused or skipped, which has no started event). */
      parameters: z.record(z.string(), z.unknown()).optional(),
      parametersTruncated: z.boolean().optional(),
      durationMs: z.number().int().min(0).optional(),
      output: z.unknown().optional(),
      outputTruncated: z.boolean().optional(),
      error: z
        .object({ name: z.string().max(256), message: Text })
        .strict()
        .optional(),
      reason: Text.optional(),
    })
    .strict(),
  z.object({ ...Envelope, kind: z.literal('override.pause'), ...OverrideResult }).strict(),
  z
    .object({
      ...Envelope,
      kind: z.literal('override.resume'),
      ...OverrideResult,
      repeatInterruptedChange: z.boolean().optional(),
    })
    .strict(),
  z.object({ ...Envelope, kind: z.literal('override.abort'), ...OverrideResult }).strict(),
  /** The kill switch engaged (platform trail). */
  z.object({ ...Envelope, kind: z.literal('kill-switch.engaged'), ...OverrideResult }).strict(),
  /** The kill switch released, and how many held executions it let go. */
  z
    .object({
      ...Envelope,
      kind: z.literal('kill-switch.released'),
      ...OverrideResult,
      released: z.number().int().min(0).optional(),
    })
    .strict(),
  /** A runbook's automation level moved (demotion by rule, promotion or a setting by a person). */
  z
    .object({
      ...Envelope,
      kind: z.literal('automation-level.changed'),
      ...OverrideResult,
      from: z.string().max(32),
      to: z.string().max(32),
      cause: z.enum(['demotion', 'promotion', 'set']),
      evidence: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
  /** A circuit breaker of a runbook opened (by rule) or closed (by a person). */
  z
    .object({
      ...Envelope,
      kind: z.literal('circuit-breaker.changed'),
      ...OverrideResult,
      state: z.enum(['open', 'closed']),
      details: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
  /** A person asked to roll back an execution to a point (its changes after it are compensated). */
  z
    .object({
      ...Envelope,
      kind: z.literal('rollback.requested'),
      ...OverrideResult,
      rollbackPoint: z.string().max(AUDIT_LIMITS.idChars).optional(),
    })
    .strict(),
  /** The execution escalated to people: who was told and why. */
  z
    .object({
      ...Envelope,
      kind: z.literal('execution.escalated'),
      to: z.array(z.string().max(AUDIT_LIMITS.idChars)),
      reason: Text,
    })
    .strict(),
]);
export type AuditEvent = z.infer<typeof AuditEvent>;
export type AuditEventKind = AuditEvent['kind'];
export const AUDIT_EVENT_KINDS = AuditEvent.options.map((option) => option.shape.kind.value);

/** The trail an event belongs to: its execution's, its incident's (no execution), or the platform's. */
export function auditTrailOf(event: Pick<AuditEvent, 'executionId' | 'incidentId'>): string {
  if (event.executionId !== undefined) return `execution:${event.executionId}`;
  if (event.incidentId !== undefined) return `incident:${event.incidentId}`;
  return PLATFORM_TRAIL;
}

/** Events outside any execution and incident: kill switch, automation levels, circuit breakers. */
export const PLATFORM_TRAIL = 'platform';

/**
 * An event as stored: its trail, when it was recorded, and `order`, a key that sorts events as they were
 * recorded (recording time, then the recorder's own count, then a random tie-break): no counter is
 * shared, so an alert storm never makes writers wait on each other.
 */
export const AuditRecord = z.intersection(
  AuditEvent,
  z.object({ trail: z.string(), recordedAt: IsoTime, order: z.string() }),
);
export type AuditRecord = AuditEvent & { trail: string; recordedAt: string; order: string };

/** A person acting, with where from. */
export function person(id: string, source?: AuditSource): AuditActor {
  return source ? { type: 'person', id, source } : { type: 'person', id };
}

/** A component of the platform deciding. */
export function system(id: string): AuditActor {
  return { type: 'system', id };
}

/**
 * An event id that is the same when the same decision is recorded again (a retried Lambda, a redelivered
 * event), so the trail keeps it once: `<kind>:<hash of the parts>`.
 */
export function auditEventId(kind: AuditEventKind, ...parts: readonly string[]): string {
  return `${kind}:${stableHash([kind, ...parts], 24)}`;
}

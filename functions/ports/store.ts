import type { Alert } from '../core/alert.ts';
import type {
  ApprovalDecision,
  ApprovalRecord,
  ExecutionRecord,
  IncidentRecord,
  KillSwitchState,
  LearningAggregate,
  Notification,
  StepOutcome,
  UnmatchedAlertSummary,
} from '../core/records.ts';

export interface OpenIncidentResult {
  incident: IncidentRecord;
  /** False when an open incident with the same fingerprint existed: the alert joined it. */
  created: boolean;
}

/** What acquireRate did: counted a new use, found this member counted already, or refused (full). */
export type RateAcquisition = 'counted' | 'already-counted' | false;

export type ExecutionPatch = Partial<
  Pick<
    ExecutionRecord,
    'status' | 'stoppedAt' | 'engineRef' | 'currentState' | 'outcome' | 'control' | 'stepOrder'
  >
>;

/**
 * One operator request on an execution's control flags, written field by field under a condition, so
 * concurrent requests never overwrite each other's flags (a pause landing after an abort cannot clear
 * the abort). `requestedBy`/`requestedAt`/`reason` name the latest request; the audit trail keeps all.
 */
export interface ControlRequest {
  pauseRequested?: boolean;
  abortRequested?: boolean;
  requestedBy: string;
  requestedAt: string;
  reason?: string;
  /** Applies only while no abort is requested (pause and resume). */
  unlessAborting?: boolean;
}

export interface DecideApprovalRequest {
  executionId: string;
  approvalKey: string;
  decision: ApprovalDecision;
  now: string;
}

/** Why a decision was refused, for a clear answer to the approver. */
export type DecideApprovalRefusal =
  | 'not-found'
  | 'not-pending'
  | 'expired'
  | 'not-an-approver'
  | 'already-decided';

export type DecideApprovalResult =
  | { ok: true; approval: ApprovalRecord }
  | { ok: false; reason: DecideApprovalRefusal; approval?: ApprovalRecord };

/**
 * Everything the platform persists. Every write that can race is conditional; nothing needs a
 * transaction (the local DynamoDB has none), and no request path scans.
 */
export interface Store {
  // Incidents and dedupe ---------------------------------------------------------------------------
  /**
   * Opens an incident, or joins the open one with the same fingerprint (counting the occurrence). Only
   * one caller ever gets `created: true` for an incident; a duplicate of the same id joins it.
   */
  openIncident(incident: IncidentRecord): Promise<OpenIncidentResult>;
  getIncident(id: string): Promise<IncidentRecord | undefined>;
  findOpenIncident(fingerprint: string): Promise<IncidentRecord | undefined>;
  updateIncident(
    id: string,
    patch: Partial<Pick<IncidentRecord, 'decision' | 'blockedReason' | 'runbookId' | 'executionId'>>,
  ): Promise<void>;
  /** Marks the open incident with this fingerprint resolved; undefined when none is open. */
  resolveIncident(fingerprint: string, alert: Alert, at: string): Promise<IncidentRecord | undefined>;
  recordUnmatched(alert: Alert, at: string): Promise<void>;
  listUnmatched(): Promise<UnmatchedAlertSummary[]>;

  // Executions ---------------------------------------------------------------------------------------
  /** False when it already exists (a retried start). */
  createExecution(record: ExecutionRecord): Promise<boolean>;
  getExecution(id: string): Promise<ExecutionRecord | undefined>;
  updateExecution(id: string, patch: ExecutionPatch): Promise<ExecutionRecord>;
  /** Newest first. */
  listExecutions(options: {
    limit: number;
    cursor?: string;
  }): Promise<{ executions: ExecutionRecord[]; cursor?: string }>;
  listExecutionsByRunbook(runbookId: string, since: string): Promise<ExecutionRecord[]>;
  listExecutionsByResource(resourceKey: string, since: string): Promise<ExecutionRecord[]>;
  /**
   * Applies an operator's request to the execution's control flags if the execution is not finished
   * (and, with `unlessAborting`, no abort is requested); undefined when that condition fails or the
   * execution does not exist (read it to say why).
   */
  requestControl(executionId: string, request: ControlRequest): Promise<ExecutionRecord | undefined>;
  /** Holds an execution at a checkpoint, storing the token that releases it. */
  holdCheckpoint(executionId: string, hold: NonNullable<ExecutionRecord['heldCheckpoint']>): Promise<void>;
  /** Takes the held token (once: a second caller gets undefined). */
  releaseCheckpoint(executionId: string): Promise<NonNullable<ExecutionRecord['heldCheckpoint']> | undefined>;

  // Steps -------------------------------------------------------------------------------------------
  putStepOutcome(outcome: StepOutcome): Promise<void>;
  /** Every attempt of every step of an execution, in the order they started. */
  listStepOutcomes(executionId: string): Promise<StepOutcome[]>;

  // Approvals ---------------------------------------------------------------------------------------
  /** False when the same approval (execution, key) exists already. */
  createApproval(approval: ApprovalRecord): Promise<boolean>;
  getApproval(executionId: string, approvalKey: string): Promise<ApprovalRecord | undefined>;
  listApprovals(executionId: string): Promise<ApprovalRecord[]>;
  /** Records one approver's decision, once; settles the approval when quorum or a rejection is reached. */
  decideApproval(request: DecideApprovalRequest): Promise<DecideApprovalResult>;
  /** Settles a pending approval without a decision (expired, or cancelled by an abort). */
  closeApproval(
    executionId: string,
    approvalKey: string,
    status: 'expired' | 'cancelled',
    at: string,
  ): Promise<ApprovalRecord | undefined>;

  /**
   * Claims the one reminder of a pending approval: true for exactly one caller, false when it is no
   * longer pending, was reminded already, or does not exist.
   */
  markApprovalReminded(executionId: string, approvalKey: string, at: string): Promise<boolean>;

  // Safety ------------------------------------------------------------------------------------------
  getKillSwitch(): Promise<KillSwitchState>;
  setKillSwitch(state: KillSwitchState): Promise<void>;
  /**
   * Counts one use by `member` in a fixed window: 'counted' (a new use), 'already-counted' (this member
   * was counted before: no extra use), or false when the window is full.
   */
  acquireRate(
    key: string,
    windowStart: string,
    max: number,
    expiresAt: string,
    member: string,
  ): Promise<RateAcquisition>;
  /** Takes back the use `member` counted (a later check refused, so nothing started); idempotent. */
  releaseRate(key: string, windowStart: string, member: string): Promise<void>;
  /** Takes one of `max` concurrency slots for an execution; false when all are taken. */
  acquireSlot(key: string, executionId: string, max: number): Promise<boolean>;
  /** Gives the execution's slot back (idempotent). */
  releaseSlot(key: string, executionId: string): Promise<void>;
  /** Starts a cooldown on a resource held by `holder`; false when another holder's is still running. */
  claimCooldown(resourceKey: string, now: string, until: string, holder: string): Promise<boolean>;
  /** Takes back `holder`'s cooldown claim (a later gate refused, so nothing started); another's stays. */
  releaseCooldown(resourceKey: string, holder: string): Promise<void>;

  // Learning ----------------------------------------------------------------------------------------
  putLearningAggregate(aggregate: LearningAggregate): Promise<void>;
  getLearningAggregate(runbookId: string): Promise<LearningAggregate | undefined>;
  listLearningAggregates(): Promise<LearningAggregate[]>;

  // Outbox (the local notifier keeps what it "sent") ------------------------------------------------
  appendNotification(notification: Notification): Promise<void>;
  listNotifications(options: { limit: number; executionId?: string }): Promise<Notification[]>;
}

/**
 * Errors of the domain. Every error has a stable `name`; errors that cross a Step Functions Task boundary
 * use ASL-style names (`Runbook.StepTimeout`, `Approval.Rejected`) so the compiled Retry/Catch match them
 * on AWS and in the embedded engine alike.
 */

/** Error names the compiled state machines match in Retry and Catch. */
export const AslErrorName = {
  ToolFailed: 'Runbook.ToolFailed',
  StepTimeout: 'Runbook.StepTimeout',
  InvalidParameters: 'Runbook.InvalidParameters',
  Aborted: 'Runbook.Aborted',
  /** Recorded on an attempt the platform's stop or restart cut short (never thrown into a machine). */
  Interrupted: 'Runbook.Interrupted',
  PrerequisiteFailed: 'Runbook.PrerequisiteFailed',
  EscalationRequested: 'Runbook.EscalationRequested',
  SafetyBlocked: 'Safety.Blocked',
  KillSwitch: 'Safety.KillSwitch',
  /** A change over a blast-radius limit or the environment's change budget: not run; rollback, escalation. */
  LimitExceeded: 'Safety.LimitExceeded',
  /** A change whose risk score the environment's policy refuses: not run; rollback, escalation. */
  RiskRefused: 'Safety.RiskRefused',
  /**
   * A watched health signal got worse than before the first change (successMetrics.checks[].watch):
   * the execution stops and compensates at once.
   */
  HealthWorse: 'Safety.HealthWorse',
  /** A change whose risk score, counted as it was about to run, needs an approval none gave: not run. */
  ApprovalRequired: 'Approval.Required',
  ApprovalRejected: 'Approval.Rejected',
  ApprovalExpired: 'Approval.Expired',
  ToolThrottled: 'Tool.Throttled',
  ToolAccessDenied: 'Tool.AccessDenied',
  ToolNotFound: 'Tool.NotFound',
  ToolRefused: 'Tool.Refused',
  VerificationPending: 'Verification.Pending',
  VerificationFailed: 'Verification.Failed',
  StatesTimeout: 'States.Timeout',
  StatesAll: 'States.ALL',
} as const;
export type AslErrorName = (typeof AslErrorName)[keyof typeof AslErrorName];

/**
 * Lambda service errors Step Functions recommends retrying on every Lambda task ("Handle Lambda
 * service exceptions"), and throttling.
 */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

export interface ErrorOptions {
  cause?: unknown;
}

/** Base of every error this project throws on purpose. */
export class RunbookAutopilotError extends Error {
  override readonly name: string = 'RunbookAutopilotError';
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** A problem found in a user-supplied document, with where it is. */
export interface Problem {
  /** Dotted path inside the document, e.g. `phases[1].steps[0].tool`. Empty for the document itself. */
  path: string;
  message: string;
  /** 1-based position in the source file, when known. */
  line?: number;
  column?: number;
  /** Name of the check that found it (`schema`, `detectUnknownTools`, …). */
  check: string;
}

/** Bad input: carries every problem found, never just the first. */
export class ValidationError extends RunbookAutopilotError {
  override readonly name: string = 'ValidationError';
  readonly problems: Problem[];
  constructor(message: string, problems: Problem[], options: ErrorOptions = {}) {
    super(message, options);
    this.problems = problems;
  }
}

/** A runbook that is valid but does not fit a Step Functions budget (definition size, history, payload). */
export class BudgetExceededError extends RunbookAutopilotError {
  override readonly name: string = 'BudgetExceededError';
  readonly budget: string;
  readonly limit: number;
  readonly actual: number;
  constructor(budget: string, limit: number, actual: number, message: string, options: ErrorOptions = {}) {
    super(message, options);
    this.budget = budget;
    this.limit = limit;
    this.actual = actual;
  }
}

/** An error whose name is an ASL error name, so a state machine can Retry/Catch it. */
export class StateError extends RunbookAutopilotError {
  override readonly name: string;
  readonly data: Record<string, unknown> | undefined;
  constructor(
    name: AslErrorName | string,
    message: string,
    options: ErrorOptions & { data?: Record<string, unknown> } = {},
  ) {
    super(message, options);
    this.name = name;
    this.data = options.data;
  }
}

/** Formats a problem for a terminal: `file:line:col  path: message`. */
export function formatProblem(file: string, problem: Problem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}:${problem.column ?? 1}`;
  const path = problem.path === '' ? '' : `${problem.path}: `;
  return `${where}  ${path}${problem.message}`;
}

// Errors adapters raise through the ports (the core catches these by class, never by SDK type).

/** The engine refused for now (throttled): try again later. */
export class EngineThrottledError extends RunbookAutopilotError {
  override readonly name = 'EngineThrottledError';
}

/** A task token that no longer opens anything: the task finished, timed out, or never existed. */
export class TaskTokenExpiredError extends RunbookAutopilotError {
  override readonly name = 'TaskTokenExpiredError';
}

/** The notifier could not hand a message over. */
export class NotificationError extends RunbookAutopilotError {
  override readonly name = 'NotificationError';
}

/** Some events could not be published, after retries. */
export class EventBusError extends RunbookAutopilotError {
  override readonly name = 'EventBusError';
  readonly failures: Array<{ detailType: string; code: string; message: string }>;
  constructor(
    message: string,
    failures: Array<{ detailType: string; code: string; message: string }>,
    options: ErrorOptions = {},
  ) {
    super(message, options);
    this.failures = failures;
  }
}

/** Configuration that cannot work (missing table name, bad JSON in an environment variable…). */
export class ConfigurationError extends RunbookAutopilotError {
  override readonly name = 'ConfigurationError';
}

/**
 * Bad input to a handler: names the field. HTTP handlers answer 400 with it; asynchronous handlers
 * throw it as a non-retryable error so the event goes to the dead-letter queue.
 */
export class InvalidEventError extends ValidationError {
  override readonly name = 'InvalidEventError';
}

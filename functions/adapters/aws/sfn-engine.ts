import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { STEP_FUNCTIONS_LIMITS } from '../../core/compiler/budgets.ts';
import {
  BudgetExceededError,
  ConfigurationError,
  EngineThrottledError,
  RunbookAutopilotError,
  TaskTokenExpiredError,
} from '../../core/errors.ts';
import type {
  EngineStatus,
  ExecutionDescription,
  ExecutionEngine,
  StartExecutionRequest,
  StartedExecution,
  TaskFailure,
} from '../../ports/execution-engine.ts';

/** Length limits of `error` and `cause` in StopExecution and SendTaskFailure (Step Functions API reference). */
export const SFN_API_LIMITS = {
  errorChars: 256,
  causeChars: 32_768,
  payloadBytes: STEP_FUNCTIONS_LIMITS.payloadBytes,
} as const;

/** Error names Step Functions (and the SDK, for unmodeled errors) use when it throttles a caller. */
const THROTTLING_ERRORS: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'KmsThrottlingException',
]);

/** The task behind the token is gone: it finished, timed out, or the token never opened one. */
const EXPIRED_TOKEN_ERRORS: ReadonlySet<string> = new Set([
  'TaskTimedOut',
  'TaskDoesNotExist',
  'InvalidToken',
]);

const SFN_STATUS: Readonly<Record<string, EngineStatus>> = {
  RUNNING: 'RUNNING',
  // A redrive was asked for and is about to run the execution again.
  PENDING_REDRIVE: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  TIMED_OUT: 'TIMED_OUT',
  ABORTED: 'ABORTED',
};

export interface SfnExecutionEngineOptions {
  client: SFNClient;
  /** ARN of the state machine deployed for a runbook. */
  stateMachineArn: (runbookId: string) => string;
  /** Attempts per call while Step Functions throttles (each attempt also has the SDK's own retries). Default 4. */
  maxAttempts?: number;
  /** First backoff delay in ms; it doubles per attempt, with jitter. Default 100. */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * ExecutionEngine on AWS Step Functions (Standard). Executions are addressed by name: the execution ARN
 * is derived from the runbook's state machine ARN, so the core only keeps runbook id and execution id.
 *
 * Decisions:
 * - start looks the execution up first: StartExecution answers a same-name, same-input start of a
 *   running execution with success (idempotent), which cannot be told apart from a new start, while a
 *   lookup can. ExecutionAlreadyExists (different input, or the execution has finished) is a duplicate
 *   too. Two concurrent first starts can both answer `alreadyStarted: false`; the store's conditional
 *   createExecution is what arbitrates that race.
 * - stop of an execution that does not exist is a no-op: the caller wants it not running, and an
 *   abort may come before a start that never happened.
 */
export class SfnExecutionEngine implements ExecutionEngine {
  readonly #client: SFNClient;
  readonly #stateMachineArn: (runbookId: string) => string;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: SfnExecutionEngineOptions) {
    this.#client = options.client;
    this.#stateMachineArn = options.stateMachineArn;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.#baseDelayMs = options.baseDelayMs ?? 100;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async start(request: StartExecutionRequest): Promise<StartedExecution> {
    const where = `runbook ${request.runbookId}, execution ${request.name}`;
    const input = JSON.stringify(request.input);
    const inputBytes = Buffer.byteLength(input, 'utf8');
    if (inputBytes > SFN_API_LIMITS.payloadBytes) {
      throw new BudgetExceededError(
        'execution-input',
        SFN_API_LIMITS.payloadBytes,
        inputBytes,
        `${where}: the execution input is ${inputBytes} bytes, over the Step Functions payload limit of ` +
          `${SFN_API_LIMITS.payloadBytes} bytes; trim the alert (labels, annotations) before starting`,
      );
    }
    const stateMachineArn = this.#stateMachineArn(request.runbookId);
    const executionArn = executionArnOf(stateMachineArn, request.runbookId, request.name);

    const existing = await this.#describeArn(executionArn, where);
    if (existing !== undefined) return duplicateOf(existing, request.name, executionArn);

    try {
      const started = await this.#withThrottlingRetry('StartExecution', where, () =>
        this.#client.send(new StartExecutionCommand({ stateMachineArn, name: request.name, input })),
      );
      return {
        executionId: request.name,
        engineRef: started.executionArn ?? executionArn,
        startedAt: isoTime(started.startDate, 'StartExecution startDate', where),
        alreadyStarted: false,
      };
    } catch (error) {
      if (errorName(error) === 'ExecutionAlreadyExists') {
        const found = await this.#describeArn(executionArn, where);
        if (found !== undefined) return duplicateOf(found, request.name, executionArn);
        throw new RunbookAutopilotError(
          `${where}: Step Functions says the execution already exists, but ${executionArn} cannot be described; ` +
            'check that the state machine ARN mapping matches the deployed state machine',
          { cause: error },
        );
      }
      if (errorName(error) === 'StateMachineDoesNotExist') {
        throw new ConfigurationError(
          `runbook ${request.runbookId}: no Step Functions state machine ${stateMachineArn}; deploy the runbook ` +
            '(cdk deploy) or fix the state machine ARN the composition derives from the runbook id',
          { cause: error },
        );
      }
      if (errorName(error) === 'InvalidName') {
        throw new RunbookAutopilotError(
          `${where}: Step Functions refused the execution name (1-80 characters, no whitespace, brackets, ` +
            'wildcards or control characters)',
          { cause: error },
        );
      }
      throw translate(error, 'StartExecution', where);
    }
  }

  async stop(runbookId: string, executionId: string, reason: TaskFailure): Promise<void> {
    const where = `runbook ${runbookId}, execution ${executionId}`;
    const executionArn = executionArnOf(this.#stateMachineArn(runbookId), runbookId, executionId);
    try {
      await this.#withThrottlingRetry('StopExecution', where, () =>
        this.#client.send(
          new StopExecutionCommand({
            executionArn,
            error: trimToLength(reason.error, SFN_API_LIMITS.errorChars),
            cause: trimToLength(reason.cause, SFN_API_LIMITS.causeChars),
          }),
        ),
      );
    } catch (error) {
      if (errorName(error) === 'ExecutionDoesNotExist') return;
      throw translate(error, 'StopExecution', where);
    }
  }

  async describe(runbookId: string, executionId: string): Promise<ExecutionDescription | undefined> {
    const where = `runbook ${runbookId}, execution ${executionId}`;
    const executionArn = executionArnOf(this.#stateMachineArn(runbookId), runbookId, executionId);
    const found = await this.#describeArn(executionArn, where);
    return found === undefined ? undefined : describedExecution(found, executionId, executionArn, where);
  }

  async sendTaskSuccess(taskToken: string, output: unknown): Promise<void> {
    const where = `task token ${tokenRef(taskToken)}`;
    const json = serializeOutput(output, where);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > SFN_API_LIMITS.payloadBytes) {
      throw new BudgetExceededError(
        'task-output',
        SFN_API_LIMITS.payloadBytes,
        bytes,
        `${where}: the task output is ${bytes} bytes, over the Step Functions payload limit of ` +
          `${SFN_API_LIMITS.payloadBytes} bytes; return a smaller output (keep large data in the store)`,
      );
    }
    await this.#sendTaskResult('SendTaskSuccess', where, () =>
      this.#client.send(new SendTaskSuccessCommand({ taskToken, output: json })),
    );
  }

  async sendTaskFailure(taskToken: string, failure: TaskFailure): Promise<void> {
    const where = `task token ${tokenRef(taskToken)}`;
    await this.#sendTaskResult('SendTaskFailure', where, () =>
      this.#client.send(
        new SendTaskFailureCommand({
          taskToken,
          error: trimToLength(failure.error, SFN_API_LIMITS.errorChars),
          cause: trimToLength(failure.cause, SFN_API_LIMITS.causeChars),
        }),
      ),
    );
  }

  async #sendTaskResult(operation: string, where: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await this.#withThrottlingRetry(operation, where, call);
    } catch (error) {
      const name = errorName(error);
      if (name !== undefined && EXPIRED_TOKEN_ERRORS.has(name)) {
        throw new TaskTokenExpiredError(
          `${operation} refused ${where}: ${name} (${errorMessage(error)}); the task already finished, timed ` +
            'out, or the token never opened one: nothing is waiting for this result',
          { cause: error },
        );
      }
      throw translate(error, operation, where);
    }
  }

  async #describeArn(executionArn: string, where: string): Promise<DescribeExecutionOutput | undefined> {
    try {
      return await this.#withThrottlingRetry('DescribeExecution', where, () =>
        this.#client.send(new DescribeExecutionCommand({ executionArn })),
      );
    } catch (error) {
      if (errorName(error) === 'ExecutionDoesNotExist') return undefined;
      throw translate(error, 'DescribeExecution', where);
    }
  }

  async #withThrottlingRetry<T>(operation: string, where: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        if (!isThrottling(error)) throw error;
        if (attempt >= this.#maxAttempts) {
          throw new EngineThrottledError(
            `Step Functions throttled ${operation} for ${where} ${attempt} times in a row ` +
              `(${errorName(error)}: ${errorMessage(error)}); try again later`,
            { cause: error },
          );
        }
        await this.#sleep(backoffDelay(this.#baseDelayMs, attempt));
      }
    }
  }
}

/** `arn:aws:states:…:stateMachine:NAME` -> `arn:aws:states:…:execution:NAME:EXECUTION`. */
export function executionArnOf(stateMachineArn: string, runbookId: string, executionName: string): string {
  const parts = stateMachineArn.split(':');
  if (parts.length !== 7 || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== 'stateMachine') {
    throw new ConfigurationError(
      `runbook ${runbookId}: '${stateMachineArn}' is not a state machine ARN ` +
        '(arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME, without a version or alias); fix the mapping ' +
        'from runbook id to state machine ARN in the composition',
    );
  }
  parts[5] = 'execution';
  return `${parts.join(':')}:${executionName}`;
}

/** Cuts a text to the API's length limit, marking the cut; never splits a surrogate pair. */
export function trimToLength(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  let end = maxLength - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

function duplicateOf(found: DescribeExecutionOutput, name: string, executionArn: string): StartedExecution {
  const where = `execution ${name}`;
  return {
    executionId: name,
    engineRef: found.executionArn ?? executionArn,
    startedAt: isoTime(found.startDate, 'DescribeExecution startDate', where),
    alreadyStarted: true,
  };
}

function describedExecution(
  found: DescribeExecutionOutput,
  executionId: string,
  executionArn: string,
  where: string,
): ExecutionDescription {
  const status = SFN_STATUS[found.status ?? ''];
  if (status === undefined) {
    throw new RunbookAutopilotError(
      `${where}: Step Functions reported status '${found.status}', which SfnExecutionEngine does not know; ` +
        'map it in SFN_STATUS',
    );
  }
  return {
    executionId,
    engineRef: found.executionArn ?? executionArn,
    status,
    startedAt: isoTime(found.startDate, 'DescribeExecution startDate', where),
    ...(found.stopDate === undefined ? {} : { stoppedAt: found.stopDate.toISOString() }),
    ...(found.error === undefined ? {} : { error: found.error }),
    ...(found.cause === undefined ? {} : { cause: found.cause }),
  };
}

function serializeOutput(output: unknown, where: string): string {
  try {
    return JSON.stringify(output ?? null);
  } catch (error) {
    throw new RunbookAutopilotError(
      `${where}: the task output cannot be serialized to JSON (${errorMessage(error)}); return plain data`,
      { cause: error },
    );
  }
}

function isoTime(date: Date | undefined, field: string, where: string): string {
  if (date === undefined) {
    throw new RunbookAutopilotError(`${where}: Step Functions answered without ${field}`);
  }
  return date.toISOString();
}

/** Enough of a task token to correlate logs; the token itself stays out of messages. */
function tokenRef(taskToken: string): string {
  return taskToken.length <= 8 ? '(short token)' : `…${taskToken.slice(-8)}`;
}

function backoffDelay(baseDelayMs: number, attempt: number): number {
  const ceiling = baseDelayMs * 2 ** (attempt - 1);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function isThrottling(error: unknown): boolean {
  const name = errorName(error);
  if (name !== undefined && THROTTLING_ERRORS.has(name)) return true;
  const details = error as { $retryable?: { throttling?: boolean }; $metadata?: { httpStatusCode?: number } };
  return details?.$retryable?.throttling === true || details?.$metadata?.httpStatusCode === 429;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Errors of ours pass through; anything else from the SDK is wrapped so the core never sees an SDK type. */
function translate(error: unknown, operation: string, where: string): Error {
  if (error instanceof RunbookAutopilotError) return error;
  return new RunbookAutopilotError(
    `Step Functions ${operation} failed for ${where}: ${errorName(error) ?? 'Error'}: ${errorMessage(error)}`,
    { cause: error },
  );
}

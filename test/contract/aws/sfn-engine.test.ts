import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandInput,
  type DescribeExecutionOutput,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  type ExecutionStatus,
  InvalidToken,
  SendTaskFailureCommand,
  type SendTaskFailureCommandInput,
  SendTaskSuccessCommand,
  type SendTaskSuccessCommandInput,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  type StartExecutionCommandInput,
  StateMachineDoesNotExist,
  StopExecutionCommand,
  type StopExecutionCommandInput,
  TaskDoesNotExist,
  TaskTimedOut,
  ValidationException,
} from '@aws-sdk/client-sfn';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SfnExecutionEngine } from '../../../functions/adapters/aws/sfn-engine.ts';
import {
  ConfigurationError,
  EngineThrottledError,
  RunbookAutopilotError,
  TaskTokenExpiredError,
} from '../../../functions/core/errors.ts';
import {
  contractExecutionInput,
  describeExecutionEngineContract,
  type ObservedExecution,
} from '../execution-engine.contract.ts';

const REGION_ACCOUNT = 'eu-west-1:123456789012';
const RUNBOOK_ID = 'node-filesystem-filling';

function stateMachineArn(runbookId: string): string {
  return `arn:aws:states:${REGION_ACCOUNT}:stateMachine:runbook-${runbookId}`;
}

function executionArn(runbookId: string, name: string): string {
  return `arn:aws:states:${REGION_ACCOUNT}:execution:runbook-${runbookId}:${name}`;
}

const metadata = { httpStatusCode: 400, requestId: 'req-0001' };

function throttled(): SFNServiceException {
  // Step Functions does not model ThrottlingException: the SDK raises its service exception with that name.
  return new SFNServiceException({
    name: 'ThrottlingException',
    $fault: 'client',
    $metadata: metadata,
    message: 'Rate exceeded',
  });
}

interface FakeExecution {
  runbookId: string;
  name: string;
  arn: string;
  stateMachineArn: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  error?: string;
  cause?: string;
  output?: string;
  taskToken: string;
  taskOpen: boolean;
}

/**
 * Step Functions as the API reference describes it, for one state machine whose first state waits for a
 * task token (no Catch): enough to run the ExecutionEngine contract against the mocked client. It
 * enforces the API's limits so an adapter that forgets them fails here too.
 */
class FakeStepFunctions {
  readonly executions = new Map<string, FakeExecution>();
  readonly started: ObservedExecution[] = [];
  #tokens = new Map<string, FakeExecution>();
  #clock = Date.parse('2024-05-02T17:05:00Z');

  constructor(
    readonly runbookId: string,
    mock: AwsClientStub<SFNClient>,
  ) {
    mock.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => this.start(input));
    mock
      .on(DescribeExecutionCommand)
      .callsFake((input: DescribeExecutionCommandInput) => this.describe(input));
    mock.on(StopExecutionCommand).callsFake((input: StopExecutionCommandInput) => this.stop(input));
    mock.on(SendTaskSuccessCommand).callsFake((input: SendTaskSuccessCommandInput) => this.succeed(input));
    mock.on(SendTaskFailureCommand).callsFake((input: SendTaskFailureCommandInput) => this.fail(input));
  }

  #now(): Date {
    this.#clock += 1_000;
    return new Date(this.#clock);
  }

  start(input: StartExecutionCommandInput) {
    if (input.stateMachineArn !== stateMachineArn(this.runbookId)) {
      throw new StateMachineDoesNotExist({
        $metadata: metadata,
        message: `State Machine Does Not Exist: '${input.stateMachineArn}'`,
      });
    }
    const name = input.name!;
    const arn = executionArn(this.runbookId, name);
    const existing = this.executions.get(arn);
    if (existing !== undefined) {
      if (existing.status === 'RUNNING' && existing.input === input.input) {
        return { executionArn: arn, startDate: existing.startDate };
      }
      throw new ExecutionAlreadyExists({
        $metadata: metadata,
        message: `Execution Already Exists: '${arn}'`,
      });
    }
    if (Buffer.byteLength(input.input ?? '') > 262_144) {
      throw new ValidationException({ $metadata: metadata, message: 'input exceeds 262144 bytes' });
    }
    const execution: FakeExecution = {
      runbookId: this.runbookId,
      name,
      arn,
      stateMachineArn: input.stateMachineArn,
      input: input.input ?? '{}',
      status: 'RUNNING',
      startDate: this.#now(),
      taskToken: `AQCEAAAAKgAAAAMAAAAAAAAAA${Buffer.from(arn).toString('base64')}`,
      taskOpen: true,
    };
    this.executions.set(arn, execution);
    this.#tokens.set(execution.taskToken, execution);
    this.started.push({ runbookId: this.runbookId, name, input: JSON.parse(execution.input) });
    return { executionArn: arn, startDate: execution.startDate };
  }

  describe(input: DescribeExecutionCommandInput): DescribeExecutionOutput {
    const execution = this.#execution(input.executionArn!);
    return {
      executionArn: execution.arn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate,
      stopDate: execution.stopDate,
      input: execution.input,
      output: execution.output,
      error: execution.error,
      cause: execution.cause,
    };
  }

  stop(input: StopExecutionCommandInput) {
    const execution = this.#execution(input.executionArn!);
    checkErrorAndCause(input);
    if (execution.status === 'RUNNING') {
      this.#close(execution, 'ABORTED', { error: input.error, cause: input.cause });
    }
    return { stopDate: execution.stopDate };
  }

  succeed(input: SendTaskSuccessCommandInput) {
    const execution = this.#openTask(input.taskToken!);
    if (Buffer.byteLength(input.output ?? '') > 262_144) {
      throw new ValidationException({ $metadata: metadata, message: 'output exceeds 262144 bytes' });
    }
    JSON.parse(input.output!);
    this.#close(execution, 'SUCCEEDED', { output: input.output });
    return {};
  }

  fail(input: SendTaskFailureCommandInput) {
    const execution = this.#openTask(input.taskToken!);
    checkErrorAndCause(input);
    this.#close(execution, 'FAILED', { error: input.error, cause: input.cause });
    return {};
  }

  waitingTaskToken(runbookId: string, executionId: string): string {
    const execution = this.#execution(executionArn(runbookId, executionId));
    if (!execution.taskOpen) throw new Error(`execution ${executionId} is not waiting for a task`);
    return execution.taskToken;
  }

  #close(execution: FakeExecution, status: ExecutionStatus, result: Partial<FakeExecution>): void {
    Object.assign(execution, result, { status, stopDate: this.#now(), taskOpen: false });
  }

  #execution(arn: string): FakeExecution {
    const execution = this.executions.get(arn);
    if (execution === undefined) {
      throw new ExecutionDoesNotExist({ $metadata: metadata, message: `Execution Does Not Exist: '${arn}'` });
    }
    return execution;
  }

  #openTask(token: string): FakeExecution {
    const execution = this.#tokens.get(token);
    if (execution === undefined) throw new InvalidToken({ $metadata: metadata, message: 'Invalid Token' });
    if (!execution.taskOpen) {
      throw new TaskTimedOut({
        $metadata: metadata,
        message: "Task Timed Out: 'Provided task does not exist anymore'",
      });
    }
    return execution;
  }
}

function checkErrorAndCause(input: { error?: string; cause?: string }): void {
  if ((input.error?.length ?? 0) > 256 || (input.cause?.length ?? 0) > 32_768) {
    throw new ValidationException({ $metadata: metadata, message: 'error or cause over its length limit' });
  }
}

/** The error a promise rejects with; fails the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

const noSleep = async () => {};

describeExecutionEngineContract('SfnExecutionEngine (mocked SFN client)', () => {
  const client = new SFNClient({ region: 'eu-west-1' });
  const mock = mockClient(client);
  const sfn = new FakeStepFunctions(RUNBOOK_ID, mock);
  return {
    engine: new SfnExecutionEngine({ client, stateMachineArn, sleep: noSleep }),
    runbookId: RUNBOOK_ID,
    observe: {
      startedExecutions: async () => [...sfn.started],
      waitingTaskToken: async (runbookId, executionId) => sfn.waitingTaskToken(runbookId, executionId),
    },
    dispose: async () => mock.restore(),
  };
});

describe('SfnExecutionEngine on the Step Functions API', () => {
  let client: SFNClient;
  let mock: AwsClientStub<SFNClient>;
  let sleep: ReturnType<typeof vi.fn<(ms: number) => Promise<void>>>;
  let engine: SfnExecutionEngine;
  const input = contractExecutionInput(RUNBOOK_ID, 'exec-0001');
  const arn = executionArn(RUNBOOK_ID, 'exec-0001');
  const startDate = new Date('2024-05-02T17:05:01Z');

  beforeEach(() => {
    client = new SFNClient({ region: 'eu-west-1' });
    mock = mockClient(client);
    sleep = vi.fn(async (_ms: number) => {});
    engine = new SfnExecutionEngine({ client, stateMachineArn, sleep, maxAttempts: 4 });
  });

  afterEach(() => {
    mock.restore();
  });

  function notFound(): ExecutionDoesNotExist {
    return new ExecutionDoesNotExist({ $metadata: metadata, message: `Execution Does Not Exist: '${arn}'` });
  }

  describe('start', () => {
    it('sends StartExecution with the state machine of the runbook, the name and the JSON input', async () => {
      // Prepare
      mock.on(DescribeExecutionCommand).rejects(notFound());
      mock.on(StartExecutionCommand).resolves({ executionArn: arn, startDate });

      // Act
      const started = await engine.start({ runbookId: RUNBOOK_ID, name: 'exec-0001', input });

      // Assess
      expect(started).toEqual({
        executionId: 'exec-0001',
        engineRef: arn,
        startedAt: '2024-05-02T17:05:01.000Z',
        alreadyStarted: false,
      });
      const call = mock.commandCalls(StartExecutionCommand)[0]!.args[0].input;
      expect(call).toEqual({
        stateMachineArn: stateMachineArn(RUNBOOK_ID),
        name: 'exec-0001',
        input: JSON.stringify(input),
      });
      expect(mock.commandCalls(DescribeExecutionCommand)[0]!.args[0].input).toEqual({ executionArn: arn });
    });

    it('retries a throttled StartExecution with growing backoff, then starts', async () => {
      // Prepare
      mock.on(DescribeExecutionCommand).rejects(notFound());
      mock
        .on(StartExecutionCommand)
        .rejectsOnce(throttled())
        .rejectsOnce(throttled())
        .resolves({ executionArn: arn, startDate });

      // Act
      const started = await engine.start({ runbookId: RUNBOOK_ID, name: 'exec-0001', input });

      // Assess
      expect(started.alreadyStarted).toBe(false);
      expect(mock.commandCalls(StartExecutionCommand)).toHaveLength(3);
      const delays = sleep.mock.calls.map(([ms]) => ms);
      expect(delays).toHaveLength(2);
      expect(delays[0]).toBeGreaterThanOrEqual(50);
      expect(delays[0]).toBeLessThanOrEqual(100);
      expect(delays[1]).toBeGreaterThanOrEqual(100);
      expect(delays[1]).toBeLessThanOrEqual(200);
    });

    it('gives up after maxAttempts throttled calls with EngineThrottledError naming the runbook and execution', async () => {
      // Prepare
      mock.on(DescribeExecutionCommand).rejects(notFound());
      mock.on(StartExecutionCommand).rejects(throttled());

      // Act
      const starting = engine.start({ runbookId: RUNBOOK_ID, name: 'exec-0001', input });

      // Assess
      await expect(starting).rejects.toThrow(EngineThrottledError);
      await expect(starting).rejects.toThrow(
        /StartExecution for runbook node-filesystem-filling, execution exec-0001 4 times/,
      );
      expect(mock.commandCalls(StartExecutionCommand)).toHaveLength(4);
      expect(sleep).toHaveBeenCalledTimes(3);
    });

    it('treats TooManyRequestsException and HTTP 429 as throttling too', async () => {
      // Prepare
      const tooMany = new SFNServiceException({
        name: 'TooManyRequestsException',
        $fault: 'client',
        $metadata: { httpStatusCode: 429 },
        message: 'Too many requests',
      });
      mock.on(DescribeExecutionCommand).rejects(notFound());
      mock.on(StartExecutionCommand).rejectsOnce(tooMany).resolves({ executionArn: arn, startDate });

      // Act
      const started = await engine.start({ runbookId: RUNBOOK_ID, name: 'exec-0001', input });

      // Assess
      expect(started.engineRef).toBe(arn);
      expect(mock.commandCalls(StartExecutionCommand)).toHaveLength(2);
    });

    it('answers ExecutionAlreadyExists (a retry that raced the lookup) as a duplicate, not an error', async () => {
      // Prepare
      const existingStart = new Date('2024-05-02T17:04:59Z');
      mock
        .on(DescribeExecutionCommand)
        .rejectsOnce(notFound())
        .resolves({
          executionArn: arn,
          status: 'RUNNING',
          startDate: existingStart,
          stateMachineArn: stateMachineArn(RUNBOOK_ID),
        });
      mock
        .on(StartExecutionCommand)
        .rejects(
          new ExecutionAlreadyExists({ $metadata: metadata, message: `Execution Already Exists: '${arn}'` }),
        );

      // Act
      const started = await engine.start({ runbookId: RUNBOOK_ID, name: 'exec-0001', input });

      // Assess
      expect(started).toEqual({
        executionId: 'exec-0001',
        engineRef: arn,
        startedAt: '2024-05-02T17:04:59.000Z',
        alreadyStarted: true,
      });
      expect(mock.commandCalls(DescribeExecutionCommand)).toHaveLength(2);
    });

    it('answers an execution that already exists (finished, too) as a duplicate without calling StartExecution', async () => {
      // Prepare
      mock.on(DescribeExecutionCommand).resolves({
        executionArn: arn,
        status: 'SUCCEEDED',
        startDate: new Date('2024-05-01T09:00:00Z'),
        stopDate: new Date('2024-05-01T09:03:00Z'),
        stateMachineArn: stateMachineArn(RUNBOOK_ID),
      });

      // Act
      const started = await engine.start({ runbookId: RUNBOOK_ID, name: 'exec-0001', input });

      // Assess
      expect(started).toMatchObject({ alreadyStarted: true, startedAt: '2024-05-01T09:00:00.000Z' });
      expect(mock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    });

    it('turns StateMachineDoesNotExist into a ConfigurationError naming the runbook and the ARN', async () => {
      // Prepare
      mock.on(DescribeExecutionCommand).rejects(notFound());
      mock
        .on(StartExecutionCommand)
        .rejects(
          new StateMachineDoesNotExist({ $metadata: metadata, message: 'State Machine Does Not Exist' }),
        );

      // Act
      const starting = engine.start({ runbookId: RUNBOOK_ID, name: 'exec-0001', input });

      // Assess
      await expect(starting).rejects.toThrow(ConfigurationError);
      await expect(starting).rejects.toThrow(
        `runbook ${RUNBOOK_ID}: no Step Functions state machine ${stateMachineArn(RUNBOOK_ID)}`,
      );
    });

    it('refuses a mapping that does not give a state machine ARN, before calling anything', async () => {
      // Prepare
      const misconfigured = new SfnExecutionEngine({
        client,
        stateMachineArn: (id) => `arn:aws:lambda:eu-west-1:123456789012:function:${id}`,
        sleep,
      });

      // Act
      const starting = misconfigured.start({ runbookId: RUNBOOK_ID, name: 'exec-0001', input });

      // Assess
      await expect(starting).rejects.toThrow(ConfigurationError);
      await expect(starting).rejects.toThrow('is not a state machine ARN');
      expect(mock.calls()).toHaveLength(0);
    });

    it('wraps any other SDK error in an error of ours that says what and where', async () => {
      // Prepare
      mock.on(DescribeExecutionCommand).rejects(notFound());
      mock
        .on(StartExecutionCommand)
        .rejects(new ValidationException({ $metadata: metadata, message: 'bad input' }));

      // Act
      const starting = engine.start({ runbookId: RUNBOOK_ID, name: 'exec-0001', input });

      // Assess
      await expect(starting).rejects.toThrow(RunbookAutopilotError);
      await expect(starting).rejects.toThrow(
        'Step Functions StartExecution failed for runbook node-filesystem-filling, execution exec-0001: ValidationException: bad input',
      );
    });
  });

  describe('stop', () => {
    it('sends StopExecution to the derived execution ARN, trimming the cause to 32,768 characters', async () => {
      // Prepare
      mock.on(StopExecutionCommand).resolves({ stopDate: startDate });
      const cause = 'c'.repeat(40_000);

      // Act
      await engine.stop(RUNBOOK_ID, 'exec-0001', { error: 'Runbook.Aborted', cause });

      // Assess
      const call = mock.commandCalls(StopExecutionCommand)[0]!.args[0].input;
      expect(call.executionArn).toBe(arn);
      expect(call.error).toBe('Runbook.Aborted');
      expect(call.cause).toHaveLength(32_768);
      expect(call.cause!.endsWith('…')).toBe(true);
    });

    it('treats ExecutionDoesNotExist as done: nothing is running under that name', async () => {
      // Prepare
      mock.on(StopExecutionCommand).rejects(notFound());

      // Act
      const stopping = engine.stop(RUNBOOK_ID, 'exec-0001', { error: 'Runbook.Aborted', cause: 'abort' });

      // Assess
      await expect(stopping).resolves.toBeUndefined();
    });
  });

  describe('describe', () => {
    it.each([
      ['RUNNING', 'RUNNING'],
      ['PENDING_REDRIVE', 'RUNNING'],
      ['SUCCEEDED', 'SUCCEEDED'],
      ['FAILED', 'FAILED'],
      ['TIMED_OUT', 'TIMED_OUT'],
      ['ABORTED', 'ABORTED'],
    ] as const)('maps Step Functions status %s to %s', async (sfnStatus, engineStatus) => {
      // Prepare
      mock.on(DescribeExecutionCommand, { executionArn: arn }).resolves({
        executionArn: arn,
        stateMachineArn: stateMachineArn(RUNBOOK_ID),
        status: sfnStatus,
        startDate,
      });

      // Act
      const description = await engine.describe(RUNBOOK_ID, 'exec-0001');

      // Assess
      expect(description).toEqual({
        executionId: 'exec-0001',
        engineRef: arn,
        status: engineStatus,
        startedAt: '2024-05-02T17:05:01.000Z',
      });
    });

    it('carries stop time, error and cause of a finished execution', async () => {
      // Prepare
      mock.on(DescribeExecutionCommand).resolves({
        executionArn: arn,
        stateMachineArn: stateMachineArn(RUNBOOK_ID),
        status: 'FAILED',
        startDate,
        stopDate: new Date('2024-05-02T17:09:00Z'),
        error: 'Verification.Failed',
        cause: 'alert still firing after 300 s',
      });

      // Act
      const description = await engine.describe(RUNBOOK_ID, 'exec-0001');

      // Assess
      expect(description).toMatchObject({
        status: 'FAILED',
        stoppedAt: '2024-05-02T17:09:00.000Z',
        error: 'Verification.Failed',
        cause: 'alert still firing after 300 s',
      });
    });

    it('refuses a status it does not know instead of guessing', async () => {
      // Prepare
      mock.on(DescribeExecutionCommand).resolves({
        executionArn: arn,
        stateMachineArn: stateMachineArn(RUNBOOK_ID),
        status: 'PAUSED' as ExecutionStatus,
        startDate,
      });

      // Act
      const describing = engine.describe(RUNBOOK_ID, 'exec-0001');

      // Assess
      await expect(describing).rejects.toThrow("Step Functions reported status 'PAUSED'");
    });
  });

  describe('task callbacks', () => {
    const token = 'AQCEAAAAKgAAAAMAAAAAAAAAAb2X4kq9token';

    it('sends the output JSON-stringified', async () => {
      // Prepare
      mock.on(SendTaskSuccessCommand).resolves({});

      // Act
      await engine.sendTaskSuccess(token, { approved: true, approvers: ['alice@example.com'] });

      // Assess
      expect(mock.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input).toEqual({
        taskToken: token,
        output: '{"approved":true,"approvers":["alice@example.com"]}',
      });
    });

    it.each([
      [
        'TaskTimedOut',
        new TaskTimedOut({ $metadata: metadata, message: 'Provided task does not exist anymore' }),
      ],
      ['TaskDoesNotExist', new TaskDoesNotExist({ $metadata: metadata, message: 'Task does not exist' })],
      ['InvalidToken', new InvalidToken({ $metadata: metadata, message: 'Invalid Token' })],
    ])('turns %s into TaskTokenExpiredError, without the token in the message', async (_name, sdkError) => {
      // Prepare
      mock.on(SendTaskSuccessCommand).rejects(sdkError);
      mock.on(SendTaskFailureCommand).rejects(sdkError);

      // Act
      const succeeding = engine.sendTaskSuccess(token, { approved: true });
      const failing = engine.sendTaskFailure(token, { error: 'Approval.Rejected', cause: 'no' });

      // Assess
      await expect(succeeding).rejects.toThrow(TaskTokenExpiredError);
      await expect(failing).rejects.toThrow(TaskTokenExpiredError);
      const error = await rejectionOf(succeeding);
      expect(error.message).toContain('…kq9token');
      expect(error.message).not.toContain(token);
    });

    it('retries a throttled SendTaskSuccess, then delivers it', async () => {
      // Prepare
      mock.on(SendTaskSuccessCommand).rejectsOnce(throttled()).resolves({});

      // Act
      await engine.sendTaskSuccess(token, { approved: true });

      // Assess
      expect(mock.commandCalls(SendTaskSuccessCommand)).toHaveLength(2);
      expect(sleep).toHaveBeenCalledTimes(1);
    });

    it('gives up on a SendTaskFailure throttled every time with EngineThrottledError', async () => {
      // Prepare
      mock.on(SendTaskFailureCommand).rejects(throttled());

      // Act
      const failing = engine.sendTaskFailure(token, { error: 'Approval.Rejected', cause: 'no' });

      // Assess
      await expect(failing).rejects.toThrow(EngineThrottledError);
      expect(mock.commandCalls(SendTaskFailureCommand)).toHaveLength(4);
    });

    it('trims error to 256 and cause to 32,768 characters', async () => {
      // Prepare
      mock.on(SendTaskFailureCommand).resolves({});

      // Act
      await engine.sendTaskFailure(token, { error: 'E'.repeat(300), cause: 'C'.repeat(33_000) });

      // Assess
      const call = mock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
      expect(call.error).toHaveLength(256);
      expect(call.cause).toHaveLength(32_768);
    });

    it('refuses an output over 256 KB before calling Step Functions, saying how big it is', async () => {
      // Act
      const sending = engine.sendTaskSuccess(token, { report: 'x'.repeat(300_000) });

      // Assess
      await expect(sending).rejects.toThrow(
        /task output is 300013 bytes, over the Step Functions payload limit of 262144/,
      );
      expect(mock.calls()).toHaveLength(0);
    });
  });
});

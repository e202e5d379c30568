import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DeleteFunctionConcurrencyCommand,
  GetAccountSettingsCommand,
  GetFunctionConcurrencyCommand,
  InvalidParameterValueException,
  LambdaClient,
  PutFunctionConcurrencyCommand,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { proposeReservation } from '../../../../functions/tools/aws/lambda.ts';
import { awsError, awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const lambda = mockClient(LambdaClient);
const cloudWatch = mockClient(CloudWatchClient);
const tools = awsToolset();

const FUNCTION = 'checkout-api';

function accountSettings(unreserved: number, limit = 1_000) {
  return {
    AccountLimit: {
      TotalCodeSize: 80_530_636_800,
      CodeSizeUnzipped: 262_144_000,
      CodeSizeZipped: 52_428_800,
      ConcurrentExecutions: limit,
      UnreservedConcurrentExecutions: unreserved,
    },
    AccountUsage: { TotalCodeSize: 1_374_937_411, FunctionCount: 212 },
  };
}

/** A function whose reservation Put/DeleteFunctionConcurrency change, as Lambda would. */
function statefulFunction(initial: number | null): { reserved: () => number | null } {
  let reserved = initial;
  lambda
    .on(GetFunctionConcurrencyCommand)
    .callsFake(() => (reserved === null ? {} : { ReservedConcurrentExecutions: reserved }));
  lambda.on(PutFunctionConcurrencyCommand).callsFake((input: { ReservedConcurrentExecutions: number }) => {
    reserved = input.ReservedConcurrentExecutions;
    return { ReservedConcurrentExecutions: reserved };
  });
  lambda.on(DeleteFunctionConcurrencyCommand).callsFake(() => {
    reserved = null;
    return {};
  });
  return { reserved: () => reserved };
}

/** ConcurrentExecutions (Maximum) per minute of the last minutes, oldest first. */
function peaks(values: number[]) {
  cloudWatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: [
      {
        Id: 'm0',
        StatusCode: 'Complete',
        Timestamps: values.map((_, index) => new Date(NOW.getTime() - (values.length - index) * 60_000)),
        Values: values,
      },
    ],
  });
}

describe('lambda.get-concurrency', () => {
  beforeEach(() => {
    lambda.reset();
    cloudWatch.reset();
    peaks([]);
  });

  it('reads the reservation and the account pool and proposes doubling within the spare pool', async () => {
    lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 50 });
    lambda.on(GetAccountSettingsCommand).resolves(accountSettings(900));
    peaks([31, 50, 50, 50, 47]);

    const output = await tools.run('lambda.get-concurrency', { functionName: FUNCTION });

    expect(output).toEqual({
      functionName: FUNCTION,
      hasReservation: true,
      reservedConcurrency: 50,
      unreservedConcurrentExecutions: 900,
      accountConcurrentExecutionsLimit: 1_000,
      headroomForReservation: 800,
      proposedReservedConcurrency: 100,
      peakConcurrentExecutions: 50,
      peakPercentOfReservation: 100,
    });
    expect(lambda.commandCalls(GetFunctionConcurrencyCommand)[0]?.args[0].input).toEqual({
      FunctionName: FUNCTION,
    });
    const query = cloudWatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
    expect(query.MetricDataQueries?.[0]?.MetricStat).toMatchObject({
      Metric: {
        Namespace: 'AWS/Lambda',
        MetricName: 'ConcurrentExecutions',
        Dimensions: [{ Name: 'FunctionName', Value: FUNCTION }],
      },
      Stat: 'Maximum',
    });
    expect(NOW.getTime() - query.StartTime!.getTime()).toBe(5 * 60_000);
  });

  it('reads the peak against the reservation now: after a raise the old limit is half of it', async () => {
    lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 100 });
    lambda.on(GetAccountSettingsCommand).resolves(accountSettings(850));
    peaks([50, 50, 50, 61.5]);

    const output = await tools.run('lambda.get-concurrency', { functionName: FUNCTION });

    expect(output).toMatchObject({ peakConcurrentExecutions: 61.5, peakPercentOfReservation: 61.5 });
  });

  it('proposes only what the account can spare while keeping 100 unreserved', async () => {
    lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 50 });
    lambda.on(GetAccountSettingsCommand).resolves(accountSettings(120));

    const output = await tools.run('lambda.get-concurrency', { functionName: FUNCTION });

    expect(output).toMatchObject({ headroomForReservation: 20, proposedReservedConcurrency: 70 });
  });

  it('proposes nothing without a reservation, for a reservation of 0, or without spare pool', () => {
    expect(proposeReservation(null, 800)).toBeNull();
    expect(proposeReservation(0, 800)).toBeNull();
    expect(proposeReservation(50, 0)).toBeNull();
    expect(proposeReservation(1, 800)).toBe(2);
  });

  it('reports a function without a reservation', async () => {
    lambda.on(GetFunctionConcurrencyCommand).resolves({});
    lambda.on(GetAccountSettingsCommand).resolves(accountSettings(100));

    const output = await tools.run('lambda.get-concurrency', { functionName: FUNCTION });

    expect(output).toEqual({
      functionName: FUNCTION,
      hasReservation: false,
      reservedConcurrency: null,
      unreservedConcurrentExecutions: 100,
      accountConcurrentExecutionsLimit: 1_000,
      headroomForReservation: 0,
      proposedReservedConcurrency: null,
      peakConcurrentExecutions: null,
      peakPercentOfReservation: null,
    });
  });

  it('maps a missing function, throttling and access denied', async () => {
    const cases = [
      [
        new ResourceNotFoundException({
          message: `Function not found: arn:aws:lambda:eu-west-1:333333333333:function:${FUNCTION}`,
          $metadata: {},
        }),
        'Tool.NotFound',
        `function ${FUNCTION} not found in eu-west-1`,
      ],
      [
        new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} }),
        'Tool.Throttled',
        'was throttled',
      ],
      [
        awsError('AccessDeniedException', 'not authorized to perform: lambda:GetFunctionConcurrency', 403),
        'Tool.AccessDenied',
        'needs lambda:GetFunctionConcurrency',
      ],
    ] as const;
    for (const [thrown, name, message] of cases) {
      lambda.reset();
      lambda.on(GetFunctionConcurrencyCommand).rejects(thrown);
      lambda.on(GetAccountSettingsCommand).resolves(accountSettings(900));

      const error = await rejectionOf(tools.run('lambda.get-concurrency', { functionName: FUNCTION }));

      expect(error.name).toBe(name);
      expect(error.message).toContain(message);
    }
  });
});

describe('lambda.put-reserved-concurrency and its inverse', () => {
  beforeEach(() => lambda.reset());

  it('raises the reservation and returns the previous one; the inverse puts it back', async () => {
    const fn = statefulFunction(50);
    const parameters = { functionName: FUNCTION, reservedConcurrency: 100, region: 'eu-west-1' };

    const output = await tools.run('lambda.put-reserved-concurrency', parameters);
    const afterRaise = fn.reserved();
    const inverse = await tools.runInverse('lambda.put-reserved-concurrency', { parameters, output });

    expect(output).toEqual({
      functionName: FUNCTION,
      previousReservedConcurrency: 50,
      reservedConcurrency: 100,
      dryRun: false,
    });
    expect(afterRaise).toBe(100);
    expect(inverse.tool).toBe('lambda.restore-reserved-concurrency');
    expect(inverse.parameters).toEqual({
      functionName: FUNCTION,
      reservedConcurrency: 50,
      region: 'eu-west-1',
    });
    expect(inverse.output).toEqual({ functionName: FUNCTION, reservedConcurrency: 50, dryRun: false });
    expect(fn.reserved()).toBe(50);
    expect(lambda.commandCalls(DeleteFunctionConcurrencyCommand)).toHaveLength(0);
  });

  it('returns null as the previous reservation when there was none; the inverse removes the reservation', async () => {
    const fn = statefulFunction(null);
    const parameters = { functionName: FUNCTION, reservedConcurrency: 200 };

    const output = await tools.run('lambda.put-reserved-concurrency', parameters);
    const inverse = await tools.runInverse('lambda.put-reserved-concurrency', { parameters, output });

    expect(output).toMatchObject({ previousReservedConcurrency: null, reservedConcurrency: 200 });
    expect(inverse.parameters).toEqual({ functionName: FUNCTION, reservedConcurrency: null });
    expect(inverse.output).toEqual({ functionName: FUNCTION, reservedConcurrency: null, dryRun: false });
    expect(fn.reserved()).toBeNull();
    expect(lambda.commandCalls(DeleteFunctionConcurrencyCommand)[0]?.args[0].input).toEqual({
      FunctionName: FUNCTION,
    });
  });

  it('dry run reads the current reservation and changes nothing', async () => {
    const fn = statefulFunction(50);

    const output = await tools.run(
      'lambda.put-reserved-concurrency',
      { functionName: FUNCTION, reservedConcurrency: 100 },
      testContext({ dryRun: true }),
    );

    expect(output).toEqual({
      functionName: FUNCTION,
      previousReservedConcurrency: 50,
      reservedConcurrency: 100,
      dryRun: true,
    });
    expect(lambda.commandCalls(PutFunctionConcurrencyCommand)).toHaveLength(0);
    expect(fn.reserved()).toBe(50);
  });

  it('restore in a dry run changes nothing, for a number and for null', async () => {
    statefulFunction(100);
    const context = testContext({ dryRun: true });

    const toNumber = await tools.run(
      'lambda.restore-reserved-concurrency',
      { functionName: FUNCTION, reservedConcurrency: 50 },
      context,
    );
    const toNone = await tools.run(
      'lambda.restore-reserved-concurrency',
      { functionName: FUNCTION, reservedConcurrency: null },
      context,
    );

    expect(toNumber).toEqual({ functionName: FUNCTION, reservedConcurrency: 50, dryRun: true });
    expect(toNone).toEqual({ functionName: FUNCTION, reservedConcurrency: null, dryRun: true });
    expect(lambda.commandCalls(PutFunctionConcurrencyCommand)).toHaveLength(0);
    expect(lambda.commandCalls(DeleteFunctionConcurrencyCommand)).toHaveLength(0);
  });

  it('maps a reservation the account cannot spare, throttling, access denied and a missing function', async () => {
    statefulFunction(50);
    lambda.on(PutFunctionConcurrencyCommand).rejects(
      new InvalidParameterValueException({
        message:
          "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
        $metadata: {},
      }),
    );
    const tooMuch = await rejectionOf(
      tools.run('lambda.put-reserved-concurrency', { functionName: FUNCTION, reservedConcurrency: 5_000 }),
    );
    expect(tooMuch.name).toBe('Runbook.ToolFailed');
    expect(tooMuch.message).toContain(
      'lambda.put-reserved-concurrency: PutFunctionConcurrency for function checkout-api in eu-west-1 failed',
    );
    expect(tooMuch.message).toContain('below its minimum value of [100]');

    lambda
      .on(PutFunctionConcurrencyCommand)
      .rejects(new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} }));
    expect(
      (
        await rejectionOf(
          tools.run('lambda.put-reserved-concurrency', { functionName: FUNCTION, reservedConcurrency: 100 }),
        )
      ).name,
    ).toBe('Tool.Throttled');

    lambda
      .on(DeleteFunctionConcurrencyCommand)
      .rejects(awsError('AccessDeniedException', 'not authorized', 403));
    const denied = await rejectionOf(
      tools.run('lambda.restore-reserved-concurrency', { functionName: FUNCTION, reservedConcurrency: null }),
    );
    expect(denied.name).toBe('Tool.AccessDenied');
    expect(denied.message).toContain('needs lambda:DeleteFunctionConcurrency');

    lambda.reset();
    lambda
      .on(GetFunctionConcurrencyCommand)
      .rejects(new ResourceNotFoundException({ message: 'Function not found', $metadata: {} }));
    const missing = await rejectionOf(
      tools.run('lambda.put-reserved-concurrency', { functionName: FUNCTION, reservedConcurrency: 100 }),
    );
    expect(missing.name).toBe('Tool.NotFound');
    expect(lambda.commandCalls(PutFunctionConcurrencyCommand)).toHaveLength(0);
  });
});

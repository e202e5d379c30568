import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { errorTypeOf } from '../../../../functions/tools/aws/lambda-errors.ts';
import {
  DEFAULT_ERROR_FILTER_PATTERN,
  type RecentErrorsOutput,
} from '../../../../functions/tools/declarations/aws/lambda.ts';
import { awsError, awsToolset, NOW, rejectionOf } from './tool-context.ts';

const lambda = mockClient(LambdaClient);
const logs = mockClient(CloudWatchLogsClient);
const cloudWatch = mockClient(CloudWatchClient);
const tools = awsToolset();

const REQUEST = '8f5c1a2e-4b3d-4c2e-9f10-5a6b7c8d9e0f';
const at = (minutesAgo: number) => NOW.getTime() - minutesAgo * 60_000;

/** Log lines as the Node.js runtime and the Lambda platform write them. */
const TYPE_ERROR = `2026-11-25T09:58:12.345Z\t${REQUEST}\tERROR\tInvoke Error \t{"errorType":"TypeError","errorMessage":"Cannot read properties of undefined (reading 'id')","stack":["TypeError: Cannot read properties of undefined (reading 'id')","    at Runtime.handler (file:///var/task/index.mjs:14:27)"]}\n`;
const TIMEOUT = `2026-11-25T09:59:01.000Z ${REQUEST} Task timed out after 10.01 seconds\n`;
const EXIT = `REPORT RequestId: ${REQUEST}\tDuration: 812.11 ms\tBilled Duration: 813 ms\tMemory Size: 512 MB\tMax Memory Used: 512 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n`;

function event(message: string, minutesAgo: number, id: string) {
  return {
    logStreamName: '2026/11/25/[$LATEST]4f1a2b3c4d5e6f708192a3b4c5d6e7f8',
    timestamp: at(minutesAgo),
    ingestionTime: at(minutesAgo) + 500,
    message,
    eventId: id,
  };
}

beforeEach(() => {
  lambda.reset();
  logs.reset();
  cloudWatch.reset();
  lambda.on(GetFunctionConfigurationCommand).resolves({
    FunctionName: 'orders-api',
    FunctionArn: 'arn:aws:lambda:eu-west-1:555555555555:function:orders-api',
    Runtime: 'nodejs20.x',
    LoggingConfig: { LogFormat: 'Text', LogGroup: '/aws/lambda/orders-api' },
  });
});

describe('lambda.recent-errors', () => {
  it('groups the errors of the log group by type across pages, beside the function’s metrics', async () => {
    // Prepare
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({
        events: [event(TYPE_ERROR, 12, '1'), event(TIMEOUT, 9, '2'), event(TYPE_ERROR, 4, '3')],
        searchedLogStreams: [],
        nextToken: 'next-page',
      })
      .resolvesOnce({ events: [event(EXIT, 2, '4'), event(TYPE_ERROR, 1, '5')], searchedLogStreams: [] });
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'm0',
          StatusCode: 'Complete',
          Timestamps: [new Date(at(10)), new Date(at(5))],
          Values: [600, 400],
        },
        { Id: 'm1', StatusCode: 'Complete', Timestamps: [new Date(at(10)), new Date(at(5))], Values: [3, 2] },
        { Id: 'm2', StatusCode: 'Complete', Timestamps: [], Values: [] },
      ],
    });

    // Act
    const output = (await tools.run('lambda.recent-errors', {
      functionName: 'orders-api',
    })) as RecentErrorsOutput;

    // Assess
    expect(logs.commandCalls(FilterLogEventsCommand).map((call) => call.args[0].input)).toEqual([
      {
        logGroupName: '/aws/lambda/orders-api',
        startTime: at(30),
        endTime: NOW.getTime(),
        filterPattern: DEFAULT_ERROR_FILTER_PATTERN,
        limit: 1_000,
        nextToken: undefined,
      },
      {
        logGroupName: '/aws/lambda/orders-api',
        startTime: at(30),
        endTime: NOW.getTime(),
        filterPattern: DEFAULT_ERROR_FILTER_PATTERN,
        limit: 997,
        nextToken: 'next-page',
      },
    ]);
    expect(output).toMatchObject({
      functionName: 'orders-api',
      logGroupName: '/aws/lambda/orders-api',
      logGroupFound: true,
      lookbackMinutes: 30,
      invocations: 1_000,
      errors: 5,
      throttles: 0,
      errorRatePercent: 0.5,
      matchedLogEvents: 5,
      truncated: false,
    });
    expect(output.errorTypes).toEqual([
      {
        type: 'TypeError',
        count: 3,
        lastSeen: new Date(at(1)).toISOString(),
        sample: expect.stringContaining(
          `"errorMessage":"Cannot read properties of undefined (reading 'id')"`,
        ),
      },
      {
        type: 'Runtime.OutOfMemory',
        count: 1,
        lastSeen: new Date(at(2)).toISOString(),
        sample: expect.any(String),
      },
      {
        type: 'Timeout',
        count: 1,
        lastSeen: new Date(at(9)).toISOString(),
        sample: expect.stringContaining('Task timed out'),
      },
    ]);
  });

  it('stops at maxLogEvents and says the result is truncated', async () => {
    logs
      .on(FilterLogEventsCommand)
      .resolves({ events: [event(TIMEOUT, 3, '1'), event(TIMEOUT, 2, '2')], nextToken: 'more' });
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });

    const output = (await tools.run('lambda.recent-errors', {
      functionName: 'orders-api',
      maxLogEvents: 2,
    })) as RecentErrorsOutput;

    expect(logs.commandCalls(FilterLogEventsCommand)).toHaveLength(1);
    expect(output).toMatchObject({
      matchedLogEvents: 2,
      truncated: true,
      invocations: 0,
      errorRatePercent: null,
    });
  });

  it('reports a function without a log group as having logged nothing', async () => {
    logs
      .on(FilterLogEventsCommand)
      .rejects(
        new ResourceNotFoundException({ message: 'The specified log group does not exist.', $metadata: {} }),
      );
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });

    const output = (await tools.run('lambda.recent-errors', {
      functionName: 'orders-api',
    })) as RecentErrorsOutput;

    expect(output).toMatchObject({ logGroupFound: false, matchedLogEvents: 0, errorTypes: [] });
  });

  it('maps access denied on the logs', async () => {
    logs.on(FilterLogEventsCommand).rejects(awsError('AccessDeniedException', 'not authorized', 400));
    const error = await rejectionOf(tools.run('lambda.recent-errors', { functionName: 'orders-api' }));
    expect(error.name).toBe('Tool.AccessDenied');
    expect(error.message).toContain('needs logs:FilterLogEvents');
  });

  it('names the error type each runtime writes', () => {
    expect(errorTypeOf(TYPE_ERROR)).toBe('TypeError');
    expect(errorTypeOf(TIMEOUT)).toBe('Timeout');
    expect(errorTypeOf(EXIT)).toBe('Runtime.OutOfMemory');
    expect(errorTypeOf(`[ERROR] KeyError: 'order_id'\nTraceback (most recent call last):`)).toBe('KeyError');
    expect(
      errorTypeOf('com.example.orders.PaymentDeclinedException: card expired\n\tat com.example.Handler'),
    ).toBe('com.example.orders.PaymentDeclinedException');
    expect(errorTypeOf(`2026-11-25T09:58:12.345Z\t${REQUEST}\tERROR\tupstream said no`)).toBe('Unclassified');
  });
});

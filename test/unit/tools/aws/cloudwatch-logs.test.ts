import {
  AccessDeniedException,
  CloudWatchLogsClient,
  GetQueryResultsCommand,
  LimitExceededException,
  MalformedQueryException,
  ResourceNotFoundException,
  StartQueryCommand,
  StopQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const logs = mockClient(CloudWatchLogsClient);
const tools = awsToolset();

const QUERY_ID = '12ab3456-12ab-123a-789e-1234567890ab';
const appErrors = {
  logGroupNames: ['/ecs/storefront-web'],
  query:
    'fields @timestamp, @message | parse @message /(?<errorType>[A-Za-z0-9_.]+Exception)/ | stats count(*) as occurrences by errorType | sort occurrences desc | limit 10',
  lookbackMinutes: 30,
  limit: 2,
};

const statistics = {
  recordsMatched: 412,
  recordsScanned: 98_231,
  bytesScanned: 41_877_552,
  logGroupsScanned: 1,
};
const complete = {
  status: 'Complete' as const,
  statistics,
  results: [
    [
      { field: 'errorType', value: 'java.net.SocketTimeoutException' },
      { field: 'occurrences', value: '301' },
      { field: '@ptr', value: 'CmAKJQohMzMzMzMzMzMzMzMzOi9lY3Mvc3RvcmVmcm9udC13ZWIQBhI1GhgCBmZ' },
    ],
    [
      { field: 'errorType', value: 'IllegalStateException' },
      { field: 'occurrences', value: '88' },
      { field: '@ptr', value: 'CmAKJQohMzMzMzMzMzMzMzMzOi9lY3Mvc3RvcmVmcm9udC13ZWIQBhI1GhgCBmZ' },
    ],
    [
      { field: 'errorType', value: 'NullPointerException' },
      { field: 'occurrences', value: '23' },
    ],
  ],
};

describe('cloudwatch.logs-insights', () => {
  beforeEach(() => logs.reset());

  it('starts the query, polls until it completes and returns rows keyed by field name', async () => {
    // Prepare: Scheduled, then Running with partial results, then Complete.
    logs.on(StartQueryCommand).resolves({ queryId: QUERY_ID });
    logs
      .on(GetQueryResultsCommand)
      .resolvesOnce({ status: 'Scheduled', results: [] })
      .resolvesOnce({ status: 'Running', results: complete.results.slice(0, 1), statistics })
      .resolves(complete);

    // Act
    const output = await tools.run('cloudwatch.logs-insights', appErrors);

    // Assess
    expect(output).toEqual({
      queryId: QUERY_ID,
      status: 'Complete',
      rows: [
        { errorType: 'java.net.SocketTimeoutException', occurrences: 301 },
        { errorType: 'IllegalStateException', occurrences: 88 },
      ],
      statistics: { recordsMatched: 412, recordsScanned: 98_231, bytesScanned: 41_877_552 },
    });
    expect(logs.commandCalls(StartQueryCommand)[0]?.args[0].input).toEqual({
      logGroupNames: ['/ecs/storefront-web'],
      queryString: appErrors.query,
      startTime: NOW.getTime() / 1_000 - 30 * 60,
      endTime: NOW.getTime() / 1_000,
      limit: 2,
    });
    expect(logs.commandCalls(GetQueryResultsCommand)).toHaveLength(3);
    expect(logs.commandCalls(StopQueryCommand)).toHaveLength(0);
  });

  it('fails when the query ends Failed or Cancelled', async () => {
    logs.on(StartQueryCommand).resolves({ queryId: QUERY_ID });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Failed', results: [] });

    const error = await rejectionOf(tools.run('cloudwatch.logs-insights', appErrors));

    expect(error.name).toBe('Runbook.ToolFailed');
    expect(error.message).toContain(
      `query ${QUERY_ID} on log groups /ecs/storefront-web ended with status Failed`,
    );
  });

  it('maps a missing log group, a bad query, too many queries and access denied', async () => {
    const cases = [
      [
        new ResourceNotFoundException({ message: 'Log group does not exist', $metadata: {} }),
        'Tool.NotFound',
        'log groups /ecs/storefront-web not found in eu-west-1',
      ],
      [
        new MalformedQueryException({ message: 'unexpected symbol found | at line 1', $metadata: {} }),
        'Runbook.ToolFailed',
        'MalformedQueryException: unexpected symbol',
      ],
      [
        new LimitExceededException({
          message: 'Account maximum query concurrency limit of [30] reached.',
          $metadata: {},
        }),
        'Tool.Throttled',
        'was throttled',
      ],
      [
        new AccessDeniedException({ message: 'not authorized to perform: logs:StartQuery', $metadata: {} }),
        'Tool.AccessDenied',
        'needs logs:StartQuery',
      ],
    ] as const;
    for (const [thrown, name, message] of cases) {
      logs.reset();
      logs.on(StartQueryCommand).rejects(thrown);

      const error = await rejectionOf(tools.run('cloudwatch.logs-insights', appErrors));

      expect(error.name).toBe(name);
      expect(error.message).toContain(message);
      expect(error.message).toContain('cloudwatch.logs-insights: StartQuery');
    }
  });

  it('stops the query when the step is aborted, without waiting out the poll interval', async () => {
    // Prepare: a query that never finishes and a poll interval of a minute.
    const slow = awsToolset({ polling: { initialMs: 60_000, maxMs: 60_000 } });
    logs.on(StartQueryCommand).resolves({ queryId: QUERY_ID });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Running', results: [] });
    logs.on(StopQueryCommand).resolves({ success: true });
    const context = testContext();
    setTimeout(() => context.controller.abort(new Error('app-errors aborted by alice@example.com')), 20);

    // Act
    const started = Date.now();
    const error = await rejectionOf(slow.run('cloudwatch.logs-insights', appErrors, context));

    // Assess
    expect(error.message).toBe('app-errors aborted by alice@example.com');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(logs.commandCalls(StopQueryCommand).map((call) => call.args[0].input)).toEqual([
      { queryId: QUERY_ID },
    ]);
    expect(context.logs.map((entry) => entry.message)).toContain('stopped the Logs Insights query');
  });

  it('stops the query and fails when the step deadline comes first', async () => {
    logs.on(StartQueryCommand).resolves({ queryId: QUERY_ID });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Running', results: [] });
    logs.on(StopQueryCommand).resolves({ success: true });

    const error = await rejectionOf(
      tools.run('cloudwatch.logs-insights', appErrors, testContext({ deadline: NOW.getTime() })),
    );

    expect(error.name).toBe('Runbook.ToolFailed');
    expect(error.message).toContain("did not complete before the step's timeout and was stopped");
    expect(logs.commandCalls(StopQueryCommand)).toHaveLength(1);
  });

  it('still fails with the abort when StopQuery itself fails', async () => {
    logs.on(StartQueryCommand).resolves({ queryId: QUERY_ID });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Running', results: [] });
    logs.on(StopQueryCommand).rejects(new Error('Query is not running'));
    const context = testContext();
    setTimeout(() => context.controller.abort(new Error('step app-errors timed out after 120s')), 10);

    const error = await rejectionOf(tools.run('cloudwatch.logs-insights', appErrors, context));

    expect(error.message).toBe('step app-errors timed out after 120s');
    expect(context.logs.map((entry) => entry.message)).toContain('could not stop the Logs Insights query');
  });
});

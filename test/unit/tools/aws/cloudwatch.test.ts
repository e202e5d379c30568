import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_OUTPUT_DATAPOINTS } from '../../../../functions/tools/aws/cloudwatch.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { awsError, awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const cloudWatch = mockClient(CloudWatchClient);
const tools = awsToolset();

const target5xx = {
  namespace: 'AWS/ApplicationELB',
  metricName: 'HTTPCode_Target_5XX_Count',
  dimensions: {
    LoadBalancer: 'app/storefront-prod/50dc6c495c0c9188',
    TargetGroup: 'targetgroup/storefront-web/73e2d6bc24d8a067',
  },
  stat: 'Sum',
  periodSeconds: 60,
  lookbackMinutes: 30,
};

function minutesAgo(minutes: number): Date {
  return new Date(NOW.getTime() - minutes * 60_000);
}

describe('cloudwatch.get-metric-data', () => {
  beforeEach(() => cloudWatch.reset());

  it('reads the metric over the window and summarizes it, oldest datapoint first', async () => {
    // Prepare: GetMetricData as documented (ScanBy TimestampAscending, one result per query).
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'm1',
          Label: 'HTTPCode_Target_5XX_Count',
          Timestamps: [minutesAgo(4), minutesAgo(3), minutesAgo(2), minutesAgo(1)],
          Values: [12, 40, 31, 17],
          StatusCode: 'Complete',
          Messages: [],
        },
      ],
      Messages: [],
    });

    // Act
    const output = await tools.run('cloudwatch.get-metric-data', { ...target5xx, region: 'us-east-1' });

    // Assess
    expect(output).toEqual({
      namespace: 'AWS/ApplicationELB',
      metricName: 'HTTPCode_Target_5XX_Count',
      dimensions: target5xx.dimensions,
      stat: 'Sum',
      periodSeconds: 60,
      datapoints: [
        { timestamp: '2026-11-25T09:56:00.000Z', value: 12 },
        { timestamp: '2026-11-25T09:57:00.000Z', value: 40 },
        { timestamp: '2026-11-25T09:58:00.000Z', value: 31 },
        { timestamp: '2026-11-25T09:59:00.000Z', value: 17 },
      ],
      datapointCount: 4,
      sum: 100,
      average: 25,
      maximum: 40,
      minimum: 12,
      latest: 17,
      latestTimestamp: '2026-11-25T09:59:00.000Z',
    });
    const [call] = cloudWatch.commandCalls(GetMetricDataCommand);
    expect(call?.args[0].input).toEqual({
      MetricDataQueries: [
        {
          Id: 'm1',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/ApplicationELB',
              MetricName: 'HTTPCode_Target_5XX_Count',
              Dimensions: [
                { Name: 'LoadBalancer', Value: 'app/storefront-prod/50dc6c495c0c9188' },
                { Name: 'TargetGroup', Value: 'targetgroup/storefront-web/73e2d6bc24d8a067' },
              ],
            },
            Period: 60,
            Stat: 'Sum',
          },
          ReturnData: true,
        },
      ],
      StartTime: minutesAgo(30),
      EndTime: NOW,
      ScanBy: 'TimestampAscending',
      NextToken: undefined,
    });
    expect(await call?.thisValue.config.region()).toBe('us-east-1');
  });

  it('reports sum 0 and null statistics when the metric emitted nothing (no 5xx, no throttles)', async () => {
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'm1', Label: 'Throttles', Timestamps: [], Values: [], StatusCode: 'Complete' },
      ],
    });

    const output = await tools.run('cloudwatch.get-metric-data', {
      namespace: 'AWS/Lambda',
      metricName: 'Throttles',
      dimensions: { FunctionName: 'checkout-api' },
      stat: 'Sum',
      lookbackMinutes: 5,
    });

    expect(output).toMatchObject({
      datapoints: [],
      datapointCount: 0,
      sum: 0,
      average: null,
      maximum: null,
      minimum: null,
      latest: null,
      latestTimestamp: null,
    });
  });

  it('follows NextToken and orders datapoints across pages', async () => {
    cloudWatch
      .on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          { Id: 'm1', Timestamps: [minutesAgo(2)], Values: [0.42], StatusCode: 'PartialData' },
        ],
        NextToken: 'page-2',
      })
      .resolves({
        MetricDataResults: [{ Id: 'm1', Timestamps: [minutesAgo(1)], Values: [1.9], StatusCode: 'Complete' }],
      });

    const output = (await tools.run('cloudwatch.get-metric-data', {
      ...target5xx,
      metricName: 'TargetResponseTime',
      stat: 'p99',
    })) as { datapoints: unknown[]; latest: number; maximum: number };

    expect(output.datapoints).toEqual([
      { timestamp: '2026-11-25T09:58:00.000Z', value: 0.42 },
      { timestamp: '2026-11-25T09:59:00.000Z', value: 1.9 },
    ]);
    expect(output.latest).toBe(1.9);
    expect(cloudWatch.commandCalls(GetMetricDataCommand)[1]?.args[0].input.NextToken).toBe('page-2');
  });

  it('keeps the newest datapoints when there are many, and summarizes all of them', async () => {
    const count = MAX_OUTPUT_DATAPOINTS + 60;
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'm1',
          Timestamps: Array.from({ length: count }, (_, index) => minutesAgo(count - index)),
          Values: Array.from({ length: count }, () => 1),
          StatusCode: 'Complete',
        },
      ],
    });

    const output = (await tools.run('cloudwatch.get-metric-data', {
      ...target5xx,
      lookbackMinutes: 1_440,
    })) as {
      datapoints: Array<{ timestamp: string }>;
      datapointCount: number;
      sum: number;
    };

    expect(output.datapoints).toHaveLength(MAX_OUTPUT_DATAPOINTS);
    expect(output.datapoints.at(-1)?.timestamp).toBe('2026-11-25T09:59:00.000Z');
    expect(output.datapointCount).toBe(count);
    expect(output.sum).toBe(count);
  });

  it('refuses a period CloudWatch does not accept, already when the runbook is validated', async () => {
    const parsed = TOOL_CATALOG.get('cloudwatch.get-metric-data')!.parameters.safeParse({
      ...target5xx,
      periodSeconds: 90,
    });

    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe(
      'must be 1, 5, 10, 30 or a multiple of 60 (CloudWatch periods)',
    );
    expect(cloudWatch.commandCalls(GetMetricDataCommand)).toHaveLength(0);
  });

  it('maps throttling and access denied to the named tool errors', async () => {
    cloudWatch.on(GetMetricDataCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    const throttled = await rejectionOf(tools.run('cloudwatch.get-metric-data', target5xx));
    expect(throttled.name).toBe('Tool.Throttled');
    expect(throttled.message).toContain('cloudwatch.get-metric-data: GetMetricData');
    expect(throttled.message).toContain('HTTPCode_Target_5XX_Count');

    cloudWatch.reset();
    cloudWatch
      .on(GetMetricDataCommand)
      .rejects(
        awsError(
          'AccessDenied',
          'User: arn:aws:sts::333333333333:assumed-role/runbook-diagnostics/step-runner is not authorized to perform: cloudwatch:GetMetricData',
          403,
        ),
      );
    const denied = await rejectionOf(tools.run('cloudwatch.get-metric-data', target5xx));
    expect(denied.name).toBe('Tool.AccessDenied');
    expect(denied.message).toContain('needs cloudwatch:GetMetricData');
    expect(denied.message).toContain('in eu-west-1');
  });

  it('treats a Forbidden result (cross-account metric) as access denied', async () => {
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'm1',
          StatusCode: 'Forbidden',
          Messages: [{ Code: 'Forbidden', Value: 'no access to 444444444444' }],
        },
      ],
    });

    const error = await rejectionOf(tools.run('cloudwatch.get-metric-data', target5xx));

    expect(error.name).toBe('Tool.AccessDenied');
    expect(error.message).toContain('no access to 444444444444');
  });

  it('passes the step signal to the SDK and does not call AWS once aborted', async () => {
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const context = testContext();

    await tools.run('cloudwatch.get-metric-data', target5xx, context);
    const [sent] = cloudWatch.commandCalls(GetMetricDataCommand);
    expect((sent!.args as unknown[])[1]).toMatchObject({
      abortSignal: context.signal,
    });

    context.controller.abort(new Error('step target-5xx timed out after 30s'));
    const error = await rejectionOf(tools.run('cloudwatch.get-metric-data', target5xx, context));
    expect(error.message).toBe('step target-5xx timed out after 30s');
    expect(cloudWatch.commandCalls(GetMetricDataCommand)).toHaveLength(1);
  });
});

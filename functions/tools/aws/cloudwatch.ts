import { GetMetricDataCommand, type MetricDataResult } from '@aws-sdk/client-cloudwatch';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { MetricDataOutput } from '../declarations/aws.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import type { AwsToolDeps } from './deps.ts';
import { regionOf } from './deps.ts';
import { type AwsCallSite, callAws } from './errors.ts';

/** The newest datapoints kept in the output; the summary covers all of them. */
export const MAX_OUTPUT_DATAPOINTS = 240;
/** GetMetricData pages at most 100,800 datapoints; a one-metric query never needs more than a few pages. */
const MAX_PAGES = 20;
/** Periods CloudWatch accepts below a minute (high-resolution metrics); above, multiples of 60. */
const SUB_MINUTE_PERIODS = [1, 5, 10, 30];

function describeMetric(namespace: string, metricName: string, dimensions: Record<string, string>): string {
  const pairs = Object.entries(dimensions).map(([name, value]) => `${name}=${value}`);
  return `metric ${namespace}/${metricName}${pairs.length > 0 ? ` {${pairs.join(', ')}}` : ''}`;
}

function checkResult(result: MetricDataResult, site: AwsCallSite): void {
  const messages = (result.Messages ?? []).map((message) => `${message.Code}: ${message.Value}`).join('; ');
  if (result.StatusCode === 'Forbidden') {
    throw new ToolError(
      ToolErrorKind.AccessDenied,
      `${site.tool}: GetMetricData may not read ${site.resource} (status Forbidden${messages ? `: ${messages}` : ''}); the role needs ${site.action} in the metric's account`,
    );
  }
  if (result.StatusCode === 'InternalError') {
    throw new ToolError(
      ToolErrorKind.Failed,
      `${site.tool}: GetMetricData could not read ${site.resource} (status InternalError${messages ? `: ${messages}` : ''})`,
    );
  }
}

export function summarizeDatapoints(
  datapoints: ReadonlyArray<{ timestamp: string; value: number }>,
): Pick<MetricDataOutput, 'sum' | 'average' | 'maximum' | 'minimum' | 'latest' | 'latestTimestamp'> {
  const last = datapoints.at(-1);
  if (!last) {
    return { sum: 0, average: null, maximum: null, minimum: null, latest: null, latestTimestamp: null };
  }
  const values = datapoints.map((datapoint) => datapoint.value);
  const sum = values.reduce((total, value) => total + value, 0);
  return {
    sum,
    average: sum / values.length,
    maximum: Math.max(...values),
    minimum: Math.min(...values),
    latest: last.value,
    latestTimestamp: last.timestamp,
  };
}

export function getMetricDataTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('cloudwatch.get-metric-data');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { namespace, metricName, dimensions, stat, periodSeconds, lookbackMinutes } = parameters;
    const site: AwsCallSite = {
      tool: declaration.name,
      action: 'cloudwatch:GetMetricData',
      resource: describeMetric(namespace, metricName, dimensions),
      region,
    };
    if (periodSeconds >= 60 ? periodSeconds % 60 !== 0 : !SUB_MINUTE_PERIODS.includes(periodSeconds)) {
      throw new ToolError(
        ToolErrorKind.Failed,
        `${site.tool}: periodSeconds ${periodSeconds} is not a CloudWatch period: use 1, 5, 10, 30 or a multiple of 60`,
      );
    }
    const end = deps.runtime.clock.now();
    const start = new Date(end.getTime() - lookbackMinutes * 60_000);
    const client = deps.clients.cloudWatch(region);

    const points: Array<{ timestamp: Date; value: number }> = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await callAws(site, context, (abortSignal) =>
        client.send(
          new GetMetricDataCommand({
            MetricDataQueries: [
              {
                Id: 'm1',
                MetricStat: {
                  Metric: {
                    Namespace: namespace,
                    MetricName: metricName,
                    Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
                  },
                  Period: periodSeconds,
                  Stat: stat,
                },
                ReturnData: true,
              },
            ],
            StartTime: start,
            EndTime: end,
            ScanBy: 'TimestampAscending',
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
      );
      for (const result of page.MetricDataResults ?? []) {
        checkResult(result, site);
        const timestamps = result.Timestamps ?? [];
        const values = result.Values ?? [];
        timestamps.forEach((timestamp, index) => {
          const value = values[index];
          if (value !== undefined && Number.isFinite(value)) points.push({ timestamp, value });
        });
      }
      nextToken = page.NextToken || undefined;
      pages += 1;
    } while (nextToken && pages < MAX_PAGES);

    points.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
    const datapoints = points.map((point) => ({
      timestamp: point.timestamp.toISOString(),
      value: point.value,
    }));
    const output: MetricDataOutput = {
      namespace,
      metricName,
      dimensions,
      stat,
      periodSeconds,
      datapoints: datapoints.slice(-MAX_OUTPUT_DATAPOINTS),
      datapointCount: datapoints.length,
      ...summarizeDatapoints(datapoints),
    };
    return output;
  });
}

export type { MetricDataOutput } from '../declarations/aws.ts';

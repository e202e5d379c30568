import { GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { ToolContext } from '../../ports/tools.ts';
import { ToolError, ToolErrorKind } from '../tool.ts';
import type { AwsToolDeps } from './deps.ts';
import { callAws } from './errors.ts';

/**
 * Several CloudWatch metrics over one recent window in one GetMetricData call, for the describe tools
 * that show a resource's metrics beside its configuration (RDS, SQS, Lambda, DynamoDB, API Gateway).
 * `cloudwatch.get-metric-data` stays the tool for one metric in detail.
 */

export interface MetricQuery {
  /** The caller's key for the result. */
  key: string;
  namespace: string;
  metricName: string;
  dimensions: Readonly<Record<string, string>>;
  stat: string;
}

/** One metric's datapoints in the window, summarized; every number is null when CloudWatch has none. */
export interface MetricSeries {
  datapointCount: number;
  /** 0 when there are no datapoints: CloudWatch emits nothing for a zero count. */
  sum: number;
  average: number | null;
  maximum: number | null;
  minimum: number | null;
  latest: number | null;
}

/** GetMetricData answers at most 500 queries per call. */
const MAX_QUERIES = 500;
const MAX_PAGES = 20;

/** A period that keeps a window to at most ~100 datapoints per metric (a multiple of 60 seconds). */
export function periodFor(lookbackMinutes: number): number {
  return Math.max(60, Math.ceil(lookbackMinutes / 100) * 60);
}

export function emptySeries(): MetricSeries {
  return { datapointCount: 0, sum: 0, average: null, maximum: null, minimum: null, latest: null };
}

function seriesOf(points: Array<{ timestamp: number; value: number }>): MetricSeries {
  if (points.length === 0) return emptySeries();
  points.sort((a, b) => a.timestamp - b.timestamp);
  const values = points.map((point) => point.value);
  const sum = values.reduce((total, value) => total + value, 0);
  return {
    datapointCount: values.length,
    sum,
    average: sum / values.length,
    maximum: Math.max(...values),
    minimum: Math.min(...values),
    latest: values.at(-1) ?? null,
  };
}

/** Reads every query over the last `lookbackMinutes`; a metric CloudWatch has no data for is an empty series. */
export async function readMetrics(
  deps: AwsToolDeps,
  context: ToolContext,
  site: { tool: string; resource: string; region: string | undefined },
  queries: readonly MetricQuery[],
  lookbackMinutes: number,
): Promise<Map<string, MetricSeries>> {
  if (queries.length > MAX_QUERIES)
    throw new Error(`readMetrics: ${queries.length} queries, GetMetricData takes at most ${MAX_QUERIES}`);
  const result = new Map<string, MetricSeries>(queries.map((query) => [query.key, emptySeries()]));
  if (queries.length === 0) return result;
  const periodSeconds = periodFor(lookbackMinutes);
  const end = deps.runtime.clock.now();
  const start = new Date(end.getTime() - lookbackMinutes * 60_000);
  // Query ids must match ^[a-z][a-zA-Z0-9_]*$: ours are positional, mapped back to the caller's keys.
  const metricQueries: MetricDataQuery[] = queries.map((query, index) => ({
    Id: `m${index}`,
    MetricStat: {
      Metric: {
        Namespace: query.namespace,
        MetricName: query.metricName,
        Dimensions: Object.entries(query.dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: periodSeconds,
      Stat: query.stat,
    },
    ReturnData: true,
  }));
  const points = new Map<string, Array<{ timestamp: number; value: number }>>();
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await callAws(
      { tool: site.tool, action: 'cloudwatch:GetMetricData', resource: site.resource, region: site.region },
      context,
      (abortSignal) =>
        deps.clients.cloudWatch(site.region).send(
          new GetMetricDataCommand({
            MetricDataQueries: metricQueries,
            StartTime: start,
            EndTime: end,
            ScanBy: 'TimestampAscending',
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
    );
    for (const data of page.MetricDataResults ?? []) {
      const index = Number(data.Id?.slice(1));
      const query = queries[index];
      if (!query) continue;
      if (data.StatusCode === 'Forbidden') {
        throw new ToolError(
          ToolErrorKind.AccessDenied,
          `${site.tool}: GetMetricData may not read ${query.namespace}/${query.metricName} for ${site.resource} (status Forbidden); the role needs cloudwatch:GetMetricData`,
        );
      }
      const list = points.get(query.key) ?? [];
      (data.Timestamps ?? []).forEach((timestamp, position) => {
        const value = data.Values?.[position];
        if (value !== undefined && Number.isFinite(value))
          list.push({ timestamp: timestamp.getTime(), value });
      });
      points.set(query.key, list);
    }
    nextToken = page.NextToken || undefined;
    pages += 1;
  } while (nextToken && pages < MAX_PAGES);
  for (const [key, list] of points) result.set(key, seriesOf(list));
  return result;
}

/** The series of `key`, or an empty one. */
export function seriesOfKey(series: Map<string, MetricSeries>, key: string): MetricSeries {
  return series.get(key) ?? emptySeries();
}

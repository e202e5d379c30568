import {
  type CloudWatchLogsClient,
  GetQueryResultsCommand,
  type GetQueryResultsResponse,
  type ResultField,
  StartQueryCommand,
  StopQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type { LogsInsightsOutput, LogsRow } from '../declarations/aws.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, cleanupSignal, pollUntil, regionOf } from './deps.ts';
import { type AwsCallSite, callAws, toolErrorFromAws } from './errors.ts';
import { keepHead, listForMessage } from './output.ts';

/** Longest field value kept in a row (a log line is often a whole JSON document). */
export const MAX_FIELD_CHARS = 1_000;
/** Statuses after which GetQueryResults will not change any more. */
const FINISHED = new Set(['Complete', 'Failed', 'Cancelled', 'Timeout', 'Unknown']);
/** A plain decimal Insights returned as text (stats, counts, status codes); long digit strings stay text. */
const NUMERIC = /^-?(0|[1-9]\d{0,14})(\.\d+)?$/;

function fieldValue(value: string | undefined): string | number | null {
  if (value === undefined) return null;
  if (NUMERIC.test(value)) return Number(value);
  return keepHead(value, MAX_FIELD_CHARS);
}

export function rowsOf(results: ResultField[][] | undefined, limit: number): LogsRow[] {
  return (results ?? []).slice(0, limit).map((row) => {
    const entries = row
      .filter((field) => field.field !== undefined && field.field !== '@ptr')
      .map((field) => [field.field as string, fieldValue(field.value)] as const);
    return Object.fromEntries(entries);
  });
}

async function stopQuery(
  client: CloudWatchLogsClient,
  site: AwsCallSite,
  queryId: string,
  context: ToolContext,
  why: string,
): Promise<void> {
  try {
    await client.send(new StopQueryCommand({ queryId }), { abortSignal: cleanupSignal() });
    context.log('stopped the Logs Insights query', { queryId, why });
  } catch (error) {
    // The query may have finished in the meantime; a query left running stops on its own after 60 min.
    context.log('could not stop the Logs Insights query', {
      queryId,
      why,
      error: toolErrorFromAws(error, { ...site, action: 'logs:StopQuery' }).message,
    });
  }
}

export function logsInsightsTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('cloudwatch.logs-insights');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const client = deps.clients.logs(region);
    const resource = `log groups ${listForMessage(parameters.logGroupNames)}`;
    const site = (action: string): AwsCallSite => ({ tool: declaration.name, action, resource, region });
    const end = deps.runtime.clock.now();
    const start = new Date(end.getTime() - parameters.lookbackMinutes * 60_000);

    const started = await callAws(site('logs:StartQuery'), context, (abortSignal) =>
      client.send(
        new StartQueryCommand({
          logGroupNames: parameters.logGroupNames,
          queryString: parameters.query,
          startTime: Math.floor(start.getTime() / 1_000),
          endTime: Math.ceil(end.getTime() / 1_000),
          limit: parameters.limit,
        }),
        { abortSignal },
      ),
    );
    const queryId = started.queryId;
    if (!queryId) {
      throw new ToolError(
        ToolErrorKind.Failed,
        `${declaration.name}: StartQuery for ${resource} returned no queryId`,
      );
    }
    context.log('started a Logs Insights query', { queryId });

    let finished: GetQueryResultsResponse;
    try {
      const polled = await pollUntil<GetQueryResultsResponse>(deps, context, async () => {
        const response = await callAws(site('logs:GetQueryResults'), context, (abortSignal) =>
          client.send(new GetQueryResultsCommand({ queryId }), { abortSignal }),
        );
        return FINISHED.has(response.status ?? '')
          ? { done: true as const, value: response }
          : { done: false as const };
      });
      if (!polled.done) {
        await stopQuery(client, site('logs:StopQuery'), queryId, context, 'deadline');
        throw new ToolError(
          ToolErrorKind.Failed,
          `${declaration.name}: query ${queryId} on ${resource} did not complete before the step's timeout and was stopped; narrow the query or lookbackMinutes, or give the step more time`,
          { data: { queryId } },
        );
      }
      finished = polled.value;
    } catch (error) {
      if (context.signal.aborted)
        await stopQuery(client, site('logs:StopQuery'), queryId, context, 'aborted');
      throw error;
    }

    if (finished.status !== 'Complete') {
      throw new ToolError(
        ToolErrorKind.Failed,
        `${declaration.name}: query ${queryId} on ${resource} ended with status ${finished.status}; check the query syntax and the log groups`,
        { data: { queryId, status: finished.status } },
      );
    }
    const output: LogsInsightsOutput = {
      queryId,
      status: 'Complete',
      rows: rowsOf(finished.results, parameters.limit),
      statistics: {
        recordsMatched: finished.statistics?.recordsMatched ?? 0,
        recordsScanned: finished.statistics?.recordsScanned ?? 0,
        bytesScanned: finished.statistics?.bytesScanned ?? 0,
      },
    };
    return output;
  });
}

export type { LogsInsightsOutput, LogsRow } from '../declarations/aws.ts';

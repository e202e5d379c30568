import { type FilteredLogEvent, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { RecentErrorsOutput } from '../declarations/aws/lambda.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { functionNameOf, logGroupOf } from './lambda-versions.ts';
import { readMetrics, seriesOfKey } from './metrics.ts';
import { keepHead } from './output.ts';

/** A Lambda function's recent errors, from its log group, grouped by type; beside its metrics. */

const MAX_PAGES = 50;
const ERROR_TYPES_KEPT = 10;
const SAMPLE_CHARS = 300;

/**
 * The error type a log line reports, as the runtimes write them: the Node.js runtime's JSON
 * `errorType`, a timeout, the platform's `Error Type: Runtime.…` on REPORT lines, Python's
 * `[ERROR] KeyError: …`, or the first `…Error`/`…Exception` class named; else Unclassified.
 */
export function errorTypeOf(message: string): string {
  if (/Task timed out after/.test(message)) return 'Timeout';
  const json = /"errorType"\s*:\s*"([^"]+)"/.exec(message);
  if (json) return json[1]!;
  const platform = /Error Type: ([\w.]+)/.exec(message);
  if (platform) return platform[1]!;
  const python = /\[ERROR\]\s+([A-Za-z_][\w.]*):/.exec(message);
  if (python) return python[1]!;
  const named = /\b([A-Za-z_][\w.$]*(?:Error|Exception))\b/.exec(message);
  if (named) return named[1]!;
  return 'Unclassified';
}

export function groupErrors(events: readonly FilteredLogEvent[]): RecentErrorsOutput['errorTypes'] {
  const groups = new Map<string, { count: number; lastSeen: number; sample: string }>();
  for (const event of events) {
    const message = (event.message ?? '').trim();
    const type = errorTypeOf(message);
    const at = event.timestamp ?? 0;
    const group = groups.get(type);
    if (!group) groups.set(type, { count: 1, lastSeen: at, sample: message });
    else {
      group.count += 1;
      if (at >= group.lastSeen) {
        group.lastSeen = at;
        group.sample = message;
      }
    }
  }
  return [...groups.entries()]
    .sort((a, b) => b[1].count - a[1].count || b[1].lastSeen - a[1].lastSeen)
    .slice(0, ERROR_TYPES_KEPT)
    .map(([type, group]) => ({
      type,
      count: group.count,
      lastSeen: group.lastSeen > 0 ? new Date(group.lastSeen).toISOString() : null,
      sample: keepHead(group.sample.replace(/\s+/g, ' '), SAMPLE_CHARS),
    }));
}

export function recentErrorsTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('lambda.recent-errors');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const { functionName, lookbackMinutes, filterPattern, maxLogEvents } = parameters;
    const configuration = await callAws(
      { tool, action: 'lambda:GetFunctionConfiguration', resource: `function ${functionName}`, region },
      context,
      (abortSignal) =>
        deps.clients
          .lambda(region)
          .send(new GetFunctionConfigurationCommand({ FunctionName: functionName }), { abortSignal }),
    );
    const name = configuration.FunctionName ?? functionNameOf(functionName);
    const logGroupName = logGroupOf(configuration, functionName);
    const end = deps.runtime.clock.now().getTime();
    const start = end - lookbackMinutes * 60_000;

    const events: FilteredLogEvent[] = [];
    let logGroupFound = true;
    let truncated = false;
    let nextToken: string | undefined;
    let pages = 0;
    try {
      do {
        const page = await callAws(
          { tool, action: 'logs:FilterLogEvents', resource: `log group ${logGroupName}`, region },
          context,
          (abortSignal) =>
            deps.clients.logs(region).send(
              new FilterLogEventsCommand({
                logGroupName,
                startTime: start,
                endTime: end,
                filterPattern,
                limit: Math.min(10_000, maxLogEvents - events.length),
                nextToken,
              }),
              { abortSignal },
            ),
        );
        events.push(...(page.events ?? []));
        nextToken = page.nextToken || undefined;
        pages += 1;
      } while (nextToken && events.length < maxLogEvents && pages < MAX_PAGES);
      truncated = nextToken !== undefined;
    } catch (error) {
      // A function that has never run (or never logged) has no log group yet: no errors to read.
      if (!(error instanceof ToolError && error.name === ToolErrorKind.NotFound)) throw error;
      logGroupFound = false;
    }

    const metric = (metricName: string) => ({
      key: metricName,
      namespace: 'AWS/Lambda',
      metricName,
      dimensions: { FunctionName: name },
      stat: 'Sum',
    });
    const metrics = await readMetrics(
      deps,
      context,
      { tool, resource: `function ${name}`, region },
      [metric('Invocations'), metric('Errors'), metric('Throttles')],
      lookbackMinutes,
    );
    const invocations = seriesOfKey(metrics, 'Invocations').sum;
    const errors = seriesOfKey(metrics, 'Errors').sum;
    const output: RecentErrorsOutput = {
      functionName: name,
      logGroupName,
      logGroupFound,
      lookbackMinutes,
      invocations,
      errors,
      throttles: seriesOfKey(metrics, 'Throttles').sum,
      errorRatePercent: invocations > 0 ? Math.round((errors / invocations) * 10_000) / 100 : null,
      matchedLogEvents: events.length,
      truncated,
      errorTypes: groupErrors(events),
    };
    return output;
  });
}

export type { RecentErrorsOutput } from '../declarations/aws/lambda.ts';

import {
  DeleteFunctionConcurrencyCommand,
  GetAccountSettingsCommand,
  GetFunctionConcurrencyCommand,
  PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type {
  ConcurrencyOutput,
  PutReservedConcurrencyOutput,
  RestoreReservedConcurrencyOutput,
} from '../declarations/aws.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { readMetrics, seriesOfKey } from './metrics.ts';

/** Lambda keeps this many concurrent executions unreserved: no reservation may take them. */
export const UNRESERVED_MINIMUM = 100;
/** How far back the peak of concurrent executions is read. */
export const PEAK_LOOKBACK_MINUTES = 5;

/** The reservation to propose, or null when doubling within the spare pool would not raise it. */
export function proposeReservation(reserved: number | null, headroom: number): number | null {
  if (reserved === null) return null;
  const proposed = Math.min(2 * reserved, reserved + headroom);
  return proposed > reserved ? proposed : null;
}

async function reservedConcurrencyOf(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  functionName: string,
  region: string | undefined,
): Promise<number | null> {
  const response = await callAws(
    { tool, action: 'lambda:GetFunctionConcurrency', resource: `function ${functionName}`, region },
    context,
    (abortSignal) =>
      deps.clients
        .lambda(region)
        .send(new GetFunctionConcurrencyCommand({ FunctionName: functionName }), { abortSignal }),
  );
  return response.ReservedConcurrentExecutions ?? null;
}

export function getConcurrencyTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('lambda.get-concurrency');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { functionName } = parameters;
    const [reserved, settings, metrics] = await Promise.all([
      reservedConcurrencyOf(deps, context, declaration.name, functionName, region),
      callAws(
        { tool: declaration.name, action: 'lambda:GetAccountSettings', resource: 'the account', region },
        context,
        (abortSignal) => deps.clients.lambda(region).send(new GetAccountSettingsCommand({}), { abortSignal }),
      ),
      readMetrics(
        deps,
        context,
        { tool: declaration.name, resource: `function ${functionName}`, region },
        [
          {
            key: 'peak',
            namespace: 'AWS/Lambda',
            metricName: 'ConcurrentExecutions',
            dimensions: { FunctionName: functionName },
            stat: 'Maximum',
          },
        ],
        PEAK_LOOKBACK_MINUTES,
      ),
    ]);
    const limit = settings.AccountLimit;
    if (limit?.UnreservedConcurrentExecutions === undefined || limit.ConcurrentExecutions === undefined) {
      throw new ToolError(
        ToolErrorKind.Failed,
        `${declaration.name}: GetAccountSettings in ${region ?? 'the default region'} returned no concurrency limits`,
      );
    }
    const headroom = Math.max(0, limit.UnreservedConcurrentExecutions - UNRESERVED_MINIMUM);
    const peak = seriesOfKey(metrics, 'peak').maximum;
    const output: ConcurrencyOutput = {
      functionName,
      hasReservation: reserved !== null,
      reservedConcurrency: reserved,
      unreservedConcurrentExecutions: limit.UnreservedConcurrentExecutions,
      accountConcurrentExecutionsLimit: limit.ConcurrentExecutions,
      headroomForReservation: headroom,
      proposedReservedConcurrency: proposeReservation(reserved, headroom),
      peakConcurrentExecutions: peak,
      peakPercentOfReservation:
        peak !== null && reserved !== null && reserved > 0
          ? Math.round((peak / reserved) * 1_000) / 10
          : null,
    };
    return output;
  });
}

async function putReservation(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  functionName: string,
  value: number,
  region: string | undefined,
): Promise<number> {
  const response = await callAws(
    { tool, action: 'lambda:PutFunctionConcurrency', resource: `function ${functionName}`, region },
    context,
    (abortSignal) =>
      deps.clients.lambda(region).send(
        new PutFunctionConcurrencyCommand({
          FunctionName: functionName,
          ReservedConcurrentExecutions: value,
        }),
        {
          abortSignal,
        },
      ),
  );
  return response.ReservedConcurrentExecutions ?? value;
}

export function putReservedConcurrencyTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('lambda.put-reserved-concurrency');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { functionName, reservedConcurrency } = parameters;
    const previous = await reservedConcurrencyOf(deps, context, declaration.name, functionName, region);
    if (context.dryRun) {
      const output: PutReservedConcurrencyOutput = {
        functionName,
        previousReservedConcurrency: previous,
        reservedConcurrency,
        dryRun: true,
      };
      return output;
    }
    const applied = await putReservation(
      deps,
      context,
      declaration.name,
      functionName,
      reservedConcurrency,
      region,
    );
    context.log('set reserved concurrency', { functionName, previousReservedConcurrency: previous, applied });
    const output: PutReservedConcurrencyOutput = {
      functionName,
      previousReservedConcurrency: previous,
      reservedConcurrency: applied,
      dryRun: false,
    };
    return output;
  });
}

export function restoreReservedConcurrencyTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('lambda.restore-reserved-concurrency');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { functionName, reservedConcurrency } = parameters;
    if (context.dryRun) {
      const output: RestoreReservedConcurrencyOutput = { functionName, reservedConcurrency, dryRun: true };
      return output;
    }
    let restored: number | null;
    if (reservedConcurrency === null) {
      await callAws(
        {
          tool: declaration.name,
          action: 'lambda:DeleteFunctionConcurrency',
          resource: `function ${functionName}`,
          region,
        },
        context,
        (abortSignal) =>
          deps.clients
            .lambda(region)
            .send(new DeleteFunctionConcurrencyCommand({ FunctionName: functionName }), { abortSignal }),
      );
      restored = null;
    } else {
      restored = await putReservation(
        deps,
        context,
        declaration.name,
        functionName,
        reservedConcurrency,
        region,
      );
    }
    context.log('restored reserved concurrency', { functionName, reservedConcurrency: restored });
    const output: RestoreReservedConcurrencyOutput = {
      functionName,
      reservedConcurrency: restored,
      dryRun: false,
    };
    return output;
  });
}

export type {
  ConcurrencyOutput,
  PutReservedConcurrencyOutput,
  RestoreReservedConcurrencyOutput,
} from '../declarations/aws.ts';

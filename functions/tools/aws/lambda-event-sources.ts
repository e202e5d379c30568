import {
  type EventSourceMappingConfiguration,
  GetEventSourceMappingCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type {
  RestoreEventSourceConcurrencyOutput,
  SetEventSourceConcurrencyOutput,
} from '../declarations/aws/sqs.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';

/** Maximum concurrency of SQS event source mappings (ScalingConfig): Lambda accepts it for SQS only. */

async function updateScaling(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  uuid: string,
  maximumConcurrency: number | null,
  region: string | undefined,
): Promise<EventSourceMappingConfiguration> {
  return callAws(
    { tool, action: 'lambda:UpdateEventSourceMapping', resource: `event source mapping ${uuid}`, region },
    context,
    (abortSignal) =>
      deps.clients.lambda(region).send(
        new UpdateEventSourceMappingCommand({
          UUID: uuid,
          // An empty ScalingConfig removes the cap.
          ScalingConfig: maximumConcurrency === null ? {} : { MaximumConcurrency: maximumConcurrency },
        }),
        { abortSignal },
      ),
  );
}

export function setEventSourceConcurrencyTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('lambda.set-event-source-concurrency');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const { uuid, maxAllowedConcurrency } = parameters;
    const asked = parameters.maximumConcurrency;
    const increaseBy = parameters.increaseBy ?? null;
    if (asked === undefined && increaseBy === null) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${tool}: give either maximumConcurrency (the value to set) or increaseBy (how much to raise it) for event source mapping ${uuid}`,
      );
    }
    if (asked !== undefined && asked > maxAllowedConcurrency) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${tool}: maximum concurrency ${asked} for event source mapping ${uuid} is above the bound ${maxAllowedConcurrency} the step allows; raise the runbook parameter that sets maxAllowedConcurrency, or ask for less`,
        { data: { maximumConcurrency: asked, maxAllowedConcurrency } },
      );
    }
    const mapping = await callAws(
      { tool, action: 'lambda:GetEventSourceMapping', resource: `event source mapping ${uuid}`, region },
      context,
      (abortSignal) =>
        deps.clients.lambda(region).send(new GetEventSourceMappingCommand({ UUID: uuid }), { abortSignal }),
    );
    if (!/^arn:aws[a-z-]*:sqs:/.test(mapping.EventSourceArn ?? '')) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${tool}: event source mapping ${uuid} reads ${mapping.EventSourceArn ?? 'an unknown source'}, not an SQS queue; maximum concurrency applies to SQS event sources only`,
      );
    }
    const previous = mapping.ScalingConfig?.MaximumConcurrency ?? null;
    if (increaseBy !== null && previous === null) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${tool}: event source mapping ${uuid} has no maximum concurrency, so there is no cap to raise: its concurrency is limited by the function's reserved concurrency or the account`,
      );
    }
    if (increaseBy !== null && previous !== null && previous >= maxAllowedConcurrency) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${tool}: event source mapping ${uuid} already allows ${previous}, at or above the bound ${maxAllowedConcurrency} the step allows; raise the runbook parameter that sets maxAllowedConcurrency, or look elsewhere for the cause`,
        { data: { maximumConcurrency: previous, maxAllowedConcurrency } },
      );
    }
    // A raise is capped at the bound; an explicit value is taken as asked (checked above).
    const maximumConcurrency =
      increaseBy !== null && previous !== null
        ? Math.min(previous + increaseBy, maxAllowedConcurrency)
        : asked!;
    const output: SetEventSourceConcurrencyOutput = {
      uuid,
      functionArn: mapping.FunctionArn ?? null,
      eventSourceArn: mapping.EventSourceArn ?? null,
      previousMaximumConcurrency: previous,
      maximumConcurrency,
      maxAllowedConcurrency,
      increaseBy,
      unchanged: previous === maximumConcurrency,
      dryRun: context.dryRun,
    };
    if (context.dryRun || output.unchanged) return output;
    await updateScaling(deps, context, tool, uuid, maximumConcurrency, region);
    context.log('set event source maximum concurrency', { uuid, previous, maximumConcurrency });
    return output;
  });
}

export function restoreEventSourceConcurrencyTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('lambda.restore-event-source-concurrency');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { uuid, maximumConcurrency } = parameters;
    const output: RestoreEventSourceConcurrencyOutput = { uuid, maximumConcurrency, dryRun: context.dryRun };
    if (context.dryRun) return output;
    await updateScaling(deps, context, declaration.name, uuid, maximumConcurrency, region);
    context.log('restored event source maximum concurrency', { uuid, maximumConcurrency });
    return output;
  });
}

export type {
  RestoreEventSourceConcurrencyOutput,
  SetEventSourceConcurrencyOutput,
} from '../declarations/aws/sqs.ts';

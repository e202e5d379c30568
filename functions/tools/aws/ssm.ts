import {
  CancelCommandCommand,
  type CommandInvocation,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type { InvocationOutput, RunCommandDryRunOutput, RunCommandOutput } from '../declarations/aws.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, cleanupSignal, pollUntil, regionOf } from './deps.ts';
import { type AwsCallSite, callAws, toolErrorFromAws } from './errors.ts';
import { keepTail, listForMessage } from './output.ts';

/** Characters of each invocation's stdout and stderr kept (the end: that is where a script says how it ended). */
export const MAX_OUTPUT_CHARS = 4_000;
export const MAX_ERROR_CHARS = 2_000;
/** Invocation statuses that will not change any more. */
const TERMINAL = new Set(['Success', 'Cancelled', 'TimedOut', 'Failed']);
/** SendCommand's delivery timeout bounds: an offline instance fails after it instead of hanging an hour. */
const MIN_DELIVERY_TIMEOUT_SECONDS = 30;
const MAX_DELIVERY_TIMEOUT_SECONDS = 600;
/** SendCommand's Comment is at most 100 characters. */
const MAX_COMMENT_CHARS = 100;

async function listInvocations(
  client: SSMClient,
  site: AwsCallSite,
  context: ToolContext,
  commandId: string,
): Promise<CommandInvocation[]> {
  const invocations: CommandInvocation[] = [];
  let nextToken: string | undefined;
  do {
    const page = await callAws(site, context, (abortSignal) =>
      client.send(
        new ListCommandInvocationsCommand({ CommandId: commandId, Details: false, NextToken: nextToken }),
        { abortSignal },
      ),
    );
    invocations.push(...(page.CommandInvocations ?? []));
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return invocations;
}

/** Every Comment this tool writes starts so; the change key follows. */
const COMMENT_PREFIX = 'runbook-autopilot ';
/** SendCommand's clock and ours may differ: look a little before the change's first run. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The command an earlier run of this change sent (its Comment starts with `prefix`), if any. */
async function findSentCommand(
  client: SSMClient,
  site: AwsCallSite,
  context: ToolContext,
  prefix: string,
): Promise<string | undefined> {
  const after = new Date(Date.parse(context.change.since) - CLOCK_SKEW_MS).toISOString();
  let nextToken: string | undefined;
  do {
    const page = await callAws(site, context, (abortSignal) =>
      client.send(
        new ListCommandsCommand({
          Filters: [{ key: 'InvokedAfter', value: after }],
          MaxResults: 50,
          NextToken: nextToken,
        }),
        { abortSignal },
      ),
    );
    const found = (page.Commands ?? []).find((command) => command.Comment?.startsWith(prefix));
    if (found?.CommandId) return found.CommandId;
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return undefined;
}

async function cancelCommand(
  client: SSMClient,
  site: AwsCallSite,
  commandId: string,
  instanceIds: string[],
  context: ToolContext,
  why: string,
): Promise<void> {
  try {
    await client.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: instanceIds }), {
      abortSignal: cleanupSignal(),
    });
    context.log('cancelled the SSM command', { commandId, why });
  } catch (error) {
    context.log('could not cancel the SSM command', {
      commandId,
      why,
      error: toolErrorFromAws(error, { ...site, action: 'ssm:CancelCommand' }).message,
    });
  }
}

function failureMessage(tool: string, commandId: string, failed: InvocationOutput[], total: number): string {
  const details = failed
    .slice(0, 3)
    .map((invocation) => {
      const stderr = invocation.error.trim().split('\n').slice(-2).join(' | ');
      return `${invocation.instanceId} ${invocation.status} (${invocation.statusDetails}, exit ${invocation.responseCode})${stderr ? `: ${keepTail(stderr, 200)}` : ''}`;
    })
    .join('; ');
  const more = failed.length > 3 ? `; and ${failed.length - 3} more` : '';
  return `${tool}: command ${commandId} did not succeed on ${failed.length} of ${total} instances: ${details}${more}`;
}

export function runCommandTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('ssm.run-command');
  return defineTool(declaration, async (parameters, context) => {
    const { instanceIds, documentName, commands, executionTimeoutSeconds } = parameters;
    if (context.dryRun) {
      const output: RunCommandDryRunOutput = {
        dryRun: true,
        commandId: null,
        documentName,
        instanceIds,
        commands,
        executionTimeoutSeconds,
        invocations: [],
      };
      return output;
    }
    const region = regionOf(deps, parameters);
    const client = deps.clients.ssm(region);
    const resource = `instances ${listForMessage(instanceIds)}`;
    const site = (action: string): AwsCallSite => ({ tool: declaration.name, action, resource, region });

    const secondsLeft = Math.floor((context.deadline - deps.runtime.clock.now().getTime()) / 1_000);
    const deliveryTimeout = Math.min(
      MAX_DELIVERY_TIMEOUT_SECONDS,
      Math.max(
        MIN_DELIVERY_TIMEOUT_SECONDS,
        Number.isFinite(secondsLeft) ? secondsLeft : MAX_DELIVERY_TIMEOUT_SECONDS,
      ),
    );
    // The change key leads the Comment: a run repeating one the platform's stop cut short finds that
    // command by it and waits for it, instead of running the commands a second time.
    const comment = `${COMMENT_PREFIX}${context.change.key} ${context.execution.id}`.slice(
      0,
      MAX_COMMENT_CHARS,
    );
    const earlier = context.change.repeat
      ? await findSentCommand(
          client,
          site('ssm:ListCommands'),
          context,
          `${COMMENT_PREFIX}${context.change.key}`,
        )
      : undefined;
    if (earlier)
      context.log('found the command an earlier run of this step sent; waiting for it', {
        commandId: earlier,
      });
    const sent = earlier
      ? { Command: { CommandId: earlier } }
      : await callAws(site('ssm:SendCommand'), context, (abortSignal) =>
          client.send(
            new SendCommandCommand({
              InstanceIds: instanceIds,
              DocumentName: documentName,
              Parameters: { commands, executionTimeout: [String(executionTimeoutSeconds)] },
              TimeoutSeconds: deliveryTimeout,
              Comment: comment,
            }),
            { abortSignal },
          ),
        );
    const commandId = sent.Command?.CommandId;
    if (!commandId) {
      throw new ToolError(
        ToolErrorKind.Failed,
        `${declaration.name}: SendCommand to ${resource} returned no CommandId`,
      );
    }
    context.log('sent the SSM command', { commandId, documentName, instanceIds });

    let listed: Map<string, CommandInvocation>;
    try {
      const polled = await pollUntil<Map<string, CommandInvocation>>(deps, context, async () => {
        const invocations = await listInvocations(
          client,
          site('ssm:ListCommandInvocations'),
          context,
          commandId,
        );
        const byInstance = new Map(
          invocations.map((invocation) => [invocation.InstanceId ?? '', invocation]),
        );
        // Right after SendCommand the list can still be empty: wait until every instance has finished.
        const finished = instanceIds.every((id) => TERMINAL.has(byInstance.get(id)?.Status ?? ''));
        return finished ? { done: true as const, value: byInstance } : { done: false as const };
      });
      if (!polled.done) {
        await cancelCommand(client, site('ssm:CancelCommand'), commandId, instanceIds, context, 'deadline');
        throw new ToolError(
          ToolErrorKind.Failed,
          `${declaration.name}: command ${commandId} on ${resource} did not finish before the step's timeout and was cancelled; give the step a timeout longer than executionTimeoutSeconds (${executionTimeoutSeconds}s)`,
          { data: { commandId } },
        );
      }
      listed = polled.value;
    } catch (error) {
      if (context.signal.aborted) {
        await cancelCommand(client, site('ssm:CancelCommand'), commandId, instanceIds, context, 'aborted');
      }
      throw error;
    }

    const invocations: InvocationOutput[] = [];
    for (const instanceId of instanceIds) {
      const detail = await callAws(
        { ...site('ssm:GetCommandInvocation'), resource: `command ${commandId} on ${instanceId}` },
        context,
        (abortSignal) =>
          client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }), {
            abortSignal,
          }),
      );
      const summary = listed.get(instanceId);
      invocations.push({
        instanceId,
        status: detail.Status ?? summary?.Status ?? 'Unknown',
        statusDetails: detail.StatusDetails ?? summary?.StatusDetails ?? '',
        responseCode: detail.ResponseCode ?? -1,
        output: keepTail((detail.StandardOutputContent ?? '').trimEnd(), MAX_OUTPUT_CHARS),
        error: keepTail((detail.StandardErrorContent ?? '').trimEnd(), MAX_ERROR_CHARS),
      });
    }

    const failed = invocations.filter((invocation) => invocation.status !== 'Success');
    if (failed.length > 0) {
      throw new ToolError(
        ToolErrorKind.Failed,
        failureMessage(declaration.name, commandId, failed, invocations.length),
        {
          data: { commandId, invocations },
        },
      );
    }
    const output: RunCommandOutput = { commandId, documentName, invocations };
    return output;
  });
}

export type { InvocationOutput, RunCommandDryRunOutput, RunCommandOutput } from '../declarations/aws.ts';

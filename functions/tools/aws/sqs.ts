import { type EventSourceMappingConfiguration, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import {
  CancelMessageMoveTaskCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type {
  CancelRedriveOutput,
  QueueConsumerOutput,
  QueueStatusOutput,
  RedriveDlqOutput,
} from '../declarations/aws/sqs.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { type MetricQuery, readMetrics, seriesOfKey } from './metrics.ts';

const MAX_PAGES = 10;

/** A queue as a step or an alarm names it: its URL, or its name in this account. */
export function isQueueUrl(queue: string): boolean {
  return /^https?:\/\//.test(queue);
}

/** `https://sqs.eu-west-1.amazonaws.com/111/orders` → `orders`. */
export function queueNameOfUrl(url: string): string {
  return url.replace(/\/+$/, '').split('/').at(-1) ?? url;
}

/** `arn:aws:sqs:eu-west-1:111111111111:orders-dlq` → its name and owner. */
export function queueOfArn(arn: string): { name: string; account: string } | undefined {
  const match = /^arn:aws[a-z-]*:sqs:[^:]*:(\d{12}):(.+)$/.exec(arn);
  return match ? { account: match[1]!, name: match[2]! } : undefined;
}

/** `arn:aws:lambda:eu-west-1:111:function:orders-worker[:live]` → `orders-worker`. */
export function functionNameOfArn(arn: string): string {
  return arn.split(':')[6] ?? arn;
}

export async function queueUrlOf(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  queue: string,
  region: string | undefined,
  owner?: string,
): Promise<string> {
  if (isQueueUrl(queue)) return queue;
  const response = await callAws(
    { tool, action: 'sqs:GetQueueUrl', resource: `queue ${queue}`, region },
    context,
    (abortSignal) =>
      deps.clients
        .sqs(region)
        .send(
          new GetQueueUrlCommand({ QueueName: queue, ...(owner ? { QueueOwnerAWSAccountId: owner } : {}) }),
          { abortSignal },
        ),
  );
  if (!response.QueueUrl)
    throw new ToolError(ToolErrorKind.NotFound, `${tool}: GetQueueUrl returned no URL for queue ${queue}`);
  return response.QueueUrl;
}

export async function queueAttributes(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  queueUrl: string,
  region: string | undefined,
): Promise<Record<string, string>> {
  const response = await callAws(
    { tool, action: 'sqs:GetQueueAttributes', resource: `queue ${queueUrl}`, region },
    context,
    (abortSignal) =>
      deps.clients
        .sqs(region)
        .send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }), {
          abortSignal,
        }),
  );
  return response.Attributes ?? {};
}

function count(attributes: Record<string, string>, name: string): number {
  const value = Number(attributes[name]);
  return Number.isFinite(value) ? value : 0;
}

function optionalNumber(attributes: Record<string, string>, name: string): number | null {
  const value = attributes[name] === undefined ? Number.NaN : Number(attributes[name]);
  return Number.isFinite(value) ? value : null;
}

/** The RedrivePolicy attribute (a JSON string); null when absent or unreadable. */
export function redrivePolicyOf(attributes: Record<string, string>): QueueStatusOutput['redrivePolicy'] {
  const raw = attributes.RedrivePolicy;
  if (!raw) return null;
  try {
    const policy = JSON.parse(raw) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
    if (typeof policy.deadLetterTargetArn !== 'string') return null;
    return {
      deadLetterTargetArn: policy.deadLetterTargetArn,
      maxReceiveCount: Number(policy.maxReceiveCount) || 0,
    };
  } catch {
    return null;
  }
}

export async function deadLetterSourceQueues(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  queueUrl: string,
  region: string | undefined,
): Promise<string[]> {
  const urls: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await callAws(
      { tool, action: 'sqs:ListDeadLetterSourceQueues', resource: `queue ${queueUrl}`, region },
      context,
      (abortSignal) =>
        deps.clients.sqs(region).send(
          new ListDeadLetterSourceQueuesCommand({
            QueueUrl: queueUrl,
            MaxResults: 1_000,
            NextToken: nextToken,
          }),
          {
            abortSignal,
          },
        ),
    );
    urls.push(...(page.queueUrls ?? []));
    nextToken = page.NextToken || undefined;
    pages += 1;
  } while (nextToken && pages < MAX_PAGES);
  return urls;
}

export async function eventSourceMappingsOf(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  eventSourceArn: string,
  region: string | undefined,
): Promise<EventSourceMappingConfiguration[]> {
  const mappings: EventSourceMappingConfiguration[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await callAws(
      { tool, action: 'lambda:ListEventSourceMappings', resource: `event source ${eventSourceArn}`, region },
      context,
      (abortSignal) =>
        deps.clients.lambda(region).send(
          new ListEventSourceMappingsCommand({
            EventSourceArn: eventSourceArn,
            Marker: marker,
            MaxItems: 100,
          }),
          {
            abortSignal,
          },
        ),
    );
    mappings.push(...(page.EventSourceMappings ?? []));
    marker = page.NextMarker || undefined;
    pages += 1;
  } while (marker && pages < MAX_PAGES);
  return mappings;
}

function consumerOf(mapping: EventSourceMappingConfiguration): QueueConsumerOutput {
  const functionArn = mapping.FunctionArn ?? 'unknown';
  return {
    uuid: mapping.UUID ?? 'unknown',
    functionArn,
    functionName: functionNameOfArn(functionArn),
    state: mapping.State ?? 'unknown',
    stateTransitionReason: mapping.StateTransitionReason ?? null,
    batchSize: mapping.BatchSize ?? null,
    maximumConcurrency: mapping.ScalingConfig?.MaximumConcurrency ?? null,
    lastProcessingResult: mapping.LastProcessingResult ?? null,
  };
}

export function queueStatusTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('sqs.queue-status');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const queueUrl = await queueUrlOf(deps, context, tool, parameters.queue, region);
    const attributes = await queueAttributes(deps, context, tool, queueUrl, region);
    const queueArn = attributes.QueueArn ?? '';
    const queueName = queueNameOfUrl(queueUrl);
    const redrivePolicy = redrivePolicyOf(attributes);

    let deadLetter: { queueUrl: string; queueName: string; visibleMessages: number } | null = null;
    const deadLetterQueue = redrivePolicy ? queueOfArn(redrivePolicy.deadLetterTargetArn) : undefined;
    if (deadLetterQueue) {
      const url = await queueUrlOf(
        deps,
        context,
        tool,
        deadLetterQueue.name,
        region,
        deadLetterQueue.account,
      );
      const dlqAttributes = await queueAttributes(deps, context, tool, url, region);
      deadLetter = {
        queueUrl: url,
        queueName: deadLetterQueue.name,
        visibleMessages: count(dlqAttributes, 'ApproximateNumberOfMessages'),
      };
    }
    const sources = await deadLetterSourceQueues(deps, context, tool, queueUrl, region);
    const mappings = queueArn ? await eventSourceMappingsOf(deps, context, tool, queueArn, region) : [];

    const ageQuery = (key: string, name: string): MetricQuery => ({
      key,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateAgeOfOldestMessage',
      dimensions: { QueueName: name },
      stat: 'Maximum',
    });
    const metrics = await readMetrics(
      deps,
      context,
      { tool, resource: `queue ${queueName}`, region },
      [ageQuery('queue', queueName), ...(deadLetter ? [ageQuery('deadLetter', deadLetter.queueName)] : [])],
      parameters.lookbackMinutes,
    );
    const age = seriesOfKey(metrics, 'queue');
    const output: QueueStatusOutput = {
      queueUrl,
      queueArn,
      queueName,
      fifo: attributes.FifoQueue === 'true',
      visibleMessages: count(attributes, 'ApproximateNumberOfMessages'),
      inFlightMessages: count(attributes, 'ApproximateNumberOfMessagesNotVisible'),
      delayedMessages: count(attributes, 'ApproximateNumberOfMessagesDelayed'),
      ageOfOldestMessageSeconds: age.latest,
      maxAgeOfOldestMessageSeconds: age.maximum,
      visibilityTimeoutSeconds: optionalNumber(attributes, 'VisibilityTimeout'),
      messageRetentionSeconds: optionalNumber(attributes, 'MessageRetentionPeriod'),
      redrivePolicy,
      deadLetterQueue: deadLetter
        ? { ...deadLetter, ageOfOldestMessageSeconds: seriesOfKey(metrics, 'deadLetter').latest }
        : null,
      deadLetterSourceQueueUrls: sources,
      consumers: mappings.map(consumerOf),
    };
    return output;
  });
}

async function moveTasksOf(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  sourceArn: string,
  region: string | undefined,
): Promise<ListMessageMoveTasksResultEntry[]> {
  const response = await callAws(
    { tool, action: 'sqs:ListMessageMoveTasks', resource: `queue ${sourceArn}`, region },
    context,
    (abortSignal) =>
      deps.clients
        .sqs(region)
        .send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }), { abortSignal }),
  );
  return response.Results ?? [];
}

export function redriveDlqTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('sqs.redrive-dlq');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const dlqUrl = await queueUrlOf(deps, context, tool, parameters.deadLetterQueue, region);
    const attributes = await queueAttributes(deps, context, tool, dlqUrl, region);
    const sourceArn = attributes.QueueArn;
    if (!sourceArn)
      throw new ToolError(
        ToolErrorKind.Failed,
        `${tool}: GetQueueAttributes of ${dlqUrl} returned no QueueArn`,
      );
    const sources = await deadLetterSourceQueues(deps, context, tool, dlqUrl, region);
    let destinationArn: string | null = null;
    if (parameters.destinationQueue) {
      const destinationUrl = await queueUrlOf(deps, context, tool, parameters.destinationQueue, region);
      destinationArn = (await queueAttributes(deps, context, tool, destinationUrl, region)).QueueArn ?? null;
    } else if (sources.length === 0) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${tool}: no queue names ${dlqUrl} as its dead-letter queue, so its messages have no queue to go back to; name a destinationQueue`,
      );
    }
    const running = (await moveTasksOf(deps, context, tool, sourceArn, region)).find(
      (task) => task.Status === 'RUNNING',
    );
    if (running) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${tool}: a message move task is already running on ${dlqUrl} (${running.ApproximateNumberOfMessagesMoved ?? 0} of ${running.ApproximateNumberOfMessagesToMove ?? '?'} moved); SQS runs one per queue, wait for it or cancel it with sqs.cancel-redrive`,
        { data: { taskHandle: running.TaskHandle } },
      );
    }
    const waiting = count(attributes, 'ApproximateNumberOfMessages');
    const output: RedriveDlqOutput = {
      started: false,
      taskHandle: null,
      sourceArn,
      destinationArn,
      sourceQueueUrls: sources,
      approximateNumberOfMessages: waiting,
      maxMessagesPerSecond: parameters.maxMessagesPerSecond,
      dryRun: context.dryRun,
    };
    if (context.dryRun || waiting === 0) return output;
    const response = await callAws(
      { tool, action: 'sqs:StartMessageMoveTask', resource: `queue ${dlqUrl}`, region },
      context,
      (abortSignal) =>
        deps.clients.sqs(region).send(
          new StartMessageMoveTaskCommand({
            SourceArn: sourceArn,
            ...(destinationArn ? { DestinationArn: destinationArn } : {}),
            MaxNumberOfMessagesPerSecond: parameters.maxMessagesPerSecond,
          }),
          { abortSignal },
        ),
    );
    context.log('started a dead-letter queue redrive', {
      sourceArn,
      destinationArn,
      taskHandle: response.TaskHandle,
    });
    return { ...output, started: true, taskHandle: response.TaskHandle ?? null };
  });
}

export function cancelRedriveTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('sqs.cancel-redrive');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const dlqUrl = await queueUrlOf(deps, context, tool, parameters.deadLetterQueue, region);
    const sourceArn = (await queueAttributes(deps, context, tool, dlqUrl, region)).QueueArn ?? '';
    const running = (await moveTasksOf(deps, context, tool, sourceArn, region)).find(
      (task) =>
        task.Status === 'RUNNING' &&
        (parameters.taskHandle === undefined || task.TaskHandle === parameters.taskHandle),
    );
    // A move that already finished (or never ran) leaves nothing to stop: not a failure.
    if (!running?.TaskHandle) {
      const output: CancelRedriveOutput = {
        taskHandle: null,
        cancelled: false,
        approximateNumberOfMessagesMoved: null,
        dryRun: context.dryRun,
      };
      return output;
    }
    const taskHandle = running.TaskHandle;
    if (context.dryRun) {
      const output: CancelRedriveOutput = {
        taskHandle,
        cancelled: false,
        approximateNumberOfMessagesMoved: running.ApproximateNumberOfMessagesMoved ?? null,
        dryRun: true,
      };
      return output;
    }
    const response = await callAws(
      { tool, action: 'sqs:CancelMessageMoveTask', resource: `move task on ${dlqUrl}`, region },
      context,
      (abortSignal) =>
        deps.clients
          .sqs(region)
          .send(new CancelMessageMoveTaskCommand({ TaskHandle: taskHandle }), { abortSignal }),
    );
    context.log('cancelled a dead-letter queue redrive', { taskHandle });
    const output: CancelRedriveOutput = {
      taskHandle,
      cancelled: true,
      approximateNumberOfMessagesMoved: response.ApproximateNumberOfMessagesMoved ?? null,
      dryRun: false,
    };
    return output;
  });
}

export type { CancelRedriveOutput, QueueStatusOutput, RedriveDlqOutput } from '../declarations/aws/sqs.ts';

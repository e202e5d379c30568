import * as z from 'zod';
import { touchesOne } from '../../../core/limits/blast-radius.ts';
import type { ToolDeclaration } from '../../../core/tool-catalog.ts';
import { awsRegion, dryRunFlag } from '../shared.ts';

/** SQS tools, and the Lambda event source mappings that consume queues. */

const queue = z
  .string()
  .min(1)
  .describe('the queue’s URL, or its name (the QueueName dimension) in this account');

export const QueueConsumerOutput = z.object({
  uuid: z.string().describe('the event source mapping; lambda.set-event-source-concurrency takes it'),
  functionArn: z.string(),
  functionName: z.string(),
  state: z.string().describe('Enabled, Disabled, Creating, Updating, Enabling, Disabling, Deleting'),
  stateTransitionReason: z.string().nullable(),
  batchSize: z.number().nullable(),
  maximumConcurrency: z.number().nullable().describe('ScalingConfig.MaximumConcurrency; null: not capped'),
  lastProcessingResult: z.string().nullable(),
});
export type QueueConsumerOutput = z.infer<typeof QueueConsumerOutput>;

export const QueueStatusOutput = z.object({
  queueUrl: z.string(),
  queueArn: z.string(),
  queueName: z.string(),
  fifo: z.boolean(),
  visibleMessages: z.number().describe('ApproximateNumberOfMessages'),
  inFlightMessages: z.number().describe('ApproximateNumberOfMessagesNotVisible'),
  delayedMessages: z.number().describe('ApproximateNumberOfMessagesDelayed'),
  ageOfOldestMessageSeconds: z
    .number()
    .nullable()
    .describe('the latest ApproximateAgeOfOldestMessage (CloudWatch); null without data'),
  maxAgeOfOldestMessageSeconds: z.number().nullable().describe('its maximum over the window'),
  visibilityTimeoutSeconds: z.number().nullable(),
  messageRetentionSeconds: z.number().nullable(),
  redrivePolicy: z
    .object({ deadLetterTargetArn: z.string(), maxReceiveCount: z.number() })
    .nullable()
    .describe('where messages go after maxReceiveCount receives; null: no dead-letter queue'),
  deadLetterQueue: z
    .object({
      queueUrl: z.string(),
      queueName: z.string(),
      visibleMessages: z.number(),
      ageOfOldestMessageSeconds: z.number().nullable(),
    })
    .nullable(),
  deadLetterSourceQueueUrls: z
    .array(z.string())
    .describe('queues whose dead-letter queue this queue is (empty unless it is one)'),
  consumers: z.array(QueueConsumerOutput).describe('Lambda event source mappings reading the queue'),
});
export type QueueStatusOutput = z.infer<typeof QueueStatusOutput>;

export const RedriveDlqOutput = z.object({
  started: z.boolean().describe('false in a dry run, and when the queue was empty'),
  taskHandle: z.string().nullable().describe('sqs.cancel-redrive takes it'),
  sourceArn: z.string().describe('the dead-letter queue'),
  destinationArn: z.string().nullable().describe('null: each message goes back to the queue it came from'),
  sourceQueueUrls: z.array(z.string()).describe('the queues that send their failures to this one'),
  approximateNumberOfMessages: z.number().describe('messages in the dead-letter queue before the move'),
  maxMessagesPerSecond: z.number(),
  dryRun: dryRunFlag,
});
export type RedriveDlqOutput = z.infer<typeof RedriveDlqOutput>;

export const CancelRedriveOutput = z.object({
  taskHandle: z.string().nullable().describe('the task cancelled; null when none was running'),
  cancelled: z.boolean(),
  approximateNumberOfMessagesMoved: z
    .number()
    .nullable()
    .describe('moved before the cancellation (they stay moved)'),
  dryRun: dryRunFlag,
});
export type CancelRedriveOutput = z.infer<typeof CancelRedriveOutput>;

export const SetEventSourceConcurrencyOutput = z.object({
  uuid: z.string(),
  functionArn: z.string().nullable(),
  eventSourceArn: z.string().nullable(),
  previousMaximumConcurrency: z
    .number()
    .nullable()
    .describe('what the inverse restores; null: it was not capped'),
  maximumConcurrency: z.number(),
  maxAllowedConcurrency: z.number().describe('the bound the step passed'),
  increaseBy: z
    .number()
    .nullable()
    .describe('how much the step asked to raise the cap; null when it set a value'),
  unchanged: z.boolean().describe('true when it already had this value (nothing to undo)'),
  dryRun: dryRunFlag,
});
export type SetEventSourceConcurrencyOutput = z.infer<typeof SetEventSourceConcurrencyOutput>;

export const RestoreEventSourceConcurrencyOutput = z.object({
  uuid: z.string(),
  maximumConcurrency: z.number().nullable().describe('null: the cap was removed'),
  dryRun: dryRunFlag,
});
export type RestoreEventSourceConcurrencyOutput = z.infer<typeof RestoreEventSourceConcurrencyOutput>;

const mappingUuid = z
  .string()
  .regex(/^[0-9a-f-]{36}$/, 'must be an event source mapping UUID (consumers[].uuid of sqs.queue-status)');

export const SQS_TOOL_DECLARATIONS = [
  {
    name: 'sqs.queue-status',
    description:
      'Reads an SQS queue: messages visible, in flight and delayed, the age of the oldest, its dead-letter queue and depth, and the Lambda functions consuming it.',
    parameters: z
      .object({
        queue,
        lookbackMinutes: z.number().int().min(1).max(1_440).default(15).describe('window of the age metric'),
        region: awsRegion,
      })
      .strict(),
    output: QueueStatusOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the queue (read-only tools run for real in dry-run)',
    permissions: {
      iam: [
        'sqs:GetQueueUrl',
        'sqs:GetQueueAttributes',
        'sqs:ListDeadLetterSourceQueues',
        'lambda:ListEventSourceMappings',
        'cloudwatch:GetMetricData',
      ],
    },
  },
  {
    name: 'sqs.redrive-dlq',
    description:
      'Moves the messages of a dead-letter queue back to the queues they came from (or to a named queue) at a bounded rate (StartMessageMoveTask). Cannot be undone: sqs.cancel-redrive stops what has not moved yet.',
    parameters: z
      .object({
        deadLetterQueue: queue,
        destinationQueue: z
          .string()
          .min(1)
          .optional()
          .describe('URL or name; default: each message’s original queue'),
        maxMessagesPerSecond: z.number().int().min(1).max(500).default(50),
        region: awsRegion,
      })
      .strict(),
    output: RedriveDlqOutput,
    mutating: true,
    blastRadius: touchesOne('queue'),
    risk: 'medium',
    dryRun: 'reads the queue and any running move task and returns the move it would start, starts nothing',
    onRepeat: {
      effect: 'repeats',
      how: 'while the move runs SQS refuses a second one; after it finished, a second run moves what has arrived in the dead-letter queue since',
    },
    inspectWith: { tool: 'sqs.queue-status', parameters: { queue: '{{ parameters.deadLetterQueue }}' } },
    permissions: {
      iam: [
        'sqs:GetQueueUrl',
        'sqs:GetQueueAttributes',
        'sqs:ListDeadLetterSourceQueues',
        'sqs:ListMessageMoveTasks',
        'sqs:StartMessageMoveTask',
        // The move task receives and deletes from the dead-letter queue and sends to the destination as the caller.
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:SendMessage',
      ],
    },
  },
  {
    name: 'sqs.cancel-redrive',
    description:
      'Stops a running dead-letter queue redrive (CancelMessageMoveTask). Messages already moved stay moved.',
    parameters: z
      .object({
        deadLetterQueue: queue,
        taskHandle: z.string().min(1).optional().describe('default: the task running on the queue'),
        region: awsRegion,
      })
      .strict(),
    output: CancelRedriveOutput,
    mutating: true,
    blastRadius: touchesOne('queue'),
    risk: 'low',
    dryRun: 'finds the running task and returns it, cancels nothing',
    onRepeat: { effect: 'no-op', how: 'a cancelled move stays cancelled' },
    permissions: {
      iam: [
        'sqs:GetQueueUrl',
        'sqs:GetQueueAttributes',
        'sqs:ListMessageMoveTasks',
        'sqs:CancelMessageMoveTask',
      ],
    },
  },
  {
    name: 'lambda.set-event-source-concurrency',
    description:
      'Sets, or raises by a step, the maximum concurrency of an SQS event source mapping (ScalingConfig.MaximumConcurrency) within a bound the runbook passes; returns the previous value.',
    parameters: z
      .object({
        uuid: mappingUuid,
        maximumConcurrency: z
          .number()
          .int()
          .min(2)
          .max(1_000)
          .optional()
          .describe('the value to set; give this or increaseBy'),
        increaseBy: z
          .number()
          .int()
          .min(1)
          .max(1_000)
          .optional()
          .describe(
            'raise the current cap by this much, up to maxAllowedConcurrency; never lowers it, and refuses when the mapping has no cap or is already at the bound',
          ),
        maxAllowedConcurrency: z
          .number()
          .int()
          .min(2)
          .max(1_000)
          .describe('the most this step may set (a runbook parameter); more is refused'),
        region: awsRegion,
      })
      .strict()
      // Only "both" is checked here: validation parses literal values alone, so a templated increaseBy looks absent.
      .superRefine((parameters, ctx) => {
        if (parameters.maximumConcurrency !== undefined && parameters.increaseBy !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['increaseBy'],
            message:
              'give either maximumConcurrency (the value to set) or increaseBy (how much to raise it), not both',
          });
      }),
    output: SetEventSourceConcurrencyOutput,
    mutating: true,
    blastRadius: touchesOne('function'),
    risk: 'medium',
    dryRun: 'reads the mapping and returns the change it would make, changes nothing',
    compensation: {
      tool: 'lambda.restore-event-source-concurrency',
      parameters: {
        uuid: '{{ parameters.uuid }}',
        maximumConcurrency: '{{ output.previousMaximumConcurrency }}',
      },
      description: 'restores the previous maximum concurrency (or removes the cap if there was none)',
      skipWhenOutput: 'unchanged',
    },
    onRepeat: {
      effect: 'repeats',
      how: 'with increaseBy a second run adds again (within maxAllowedConcurrency); a maximumConcurrency is absolute and repeats nothing',
    },
    permissions: { iam: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'] },
  },
  {
    name: 'lambda.restore-event-source-concurrency',
    description: 'Restores an SQS event source mapping’s maximum concurrency; null removes the cap.',
    parameters: z
      .object({
        uuid: mappingUuid,
        maximumConcurrency: z.number().int().min(2).max(1_000).nullable(),
        region: awsRegion,
      })
      .strict(),
    output: RestoreEventSourceConcurrencyOutput,
    mutating: true,
    blastRadius: touchesOne('function'),
    risk: 'medium',
    dryRun: 'returns the setting it would restore, changes nothing',
    onRepeat: { effect: 'no-op', how: 'sets an absolute maximum concurrency' },
    permissions: { iam: ['lambda:UpdateEventSourceMapping'] },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

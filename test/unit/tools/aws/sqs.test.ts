import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  type EventSourceMappingConfiguration,
  GetEventSourceMappingCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
  ResourceNotFoundException,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import {
  CancelMessageMoveTaskCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  QueueDoesNotExist,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type {
  CancelRedriveOutput,
  QueueStatusOutput,
  RedriveDlqOutput,
  SetEventSourceConcurrencyOutput,
} from '../../../../functions/tools/declarations/aws/sqs.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { awsError, awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
const cloudWatch = mockClient(CloudWatchClient);
const tools = awsToolset();

const ACCOUNT = '444444444444';
const QUEUE_URL = `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/orders`;
const QUEUE_ARN = `arn:aws:sqs:eu-west-1:${ACCOUNT}:orders`;
const DLQ_URL = `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/orders-dlq`;
const DLQ_ARN = `arn:aws:sqs:eu-west-1:${ACCOUNT}:orders-dlq`;
const FUNCTION_ARN = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-worker`;
const MAPPING = '6c1ab3f8-9d2e-4e57-a0b1-3c4d5e6f7a8b';
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

/** GetQueueAttributes(All) as SQS answers it: every value a string. */
function attributes(arn: string, visible: number, extra: Record<string, string> = {}) {
  return {
    Attributes: {
      QueueArn: arn,
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: '12',
      ApproximateNumberOfMessagesDelayed: '0',
      CreatedTimestamp: '1732000000',
      LastModifiedTimestamp: '1732000000',
      VisibilityTimeout: '30',
      MaximumMessageSize: '262144',
      MessageRetentionPeriod: '345600',
      DelaySeconds: '0',
      ReceiveMessageWaitTimeSeconds: '20',
      SqsManagedSseEnabled: 'true',
      ...extra,
    },
  };
}

function mapping(overrides: Partial<EventSourceMappingConfiguration> = {}): EventSourceMappingConfiguration {
  return {
    UUID: MAPPING,
    BatchSize: 10,
    MaximumBatchingWindowInSeconds: 0,
    EventSourceArn: QUEUE_ARN,
    FunctionArn: FUNCTION_ARN,
    LastModified: minutesAgo(10_000),
    State: 'Enabled',
    StateTransitionReason: 'USER_INITIATED',
    ScalingConfig: { MaximumConcurrency: 5 },
    FunctionResponseTypes: [],
    ...overrides,
  };
}

beforeEach(() => {
  sqs.reset();
  lambda.reset();
  cloudWatch.reset();
});

describe('sqs.queue-status', () => {
  it('reads depth, age, the dead-letter queue and the consuming function of a queue named by the alarm', async () => {
    // Prepare
    sqs.on(GetQueueUrlCommand, { QueueName: 'orders' }).resolves({ QueueUrl: QUEUE_URL });
    sqs
      .on(GetQueueUrlCommand, { QueueName: 'orders-dlq', QueueOwnerAWSAccountId: ACCOUNT })
      .resolves({ QueueUrl: DLQ_URL });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: QUEUE_URL }).resolves(
      attributes(QUEUE_ARN, 18_400, {
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: DLQ_ARN, maxReceiveCount: 5 }),
      }),
    );
    sqs.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).resolves(attributes(DLQ_ARN, 37));
    sqs.on(ListDeadLetterSourceQueuesCommand).resolves({ queueUrls: [] });
    lambda
      .on(ListEventSourceMappingsCommand)
      .resolvesOnce({ EventSourceMappings: [mapping()], NextMarker: 'more' })
      .resolvesOnce({
        EventSourceMappings: [mapping({ UUID: 'b'.repeat(8), State: 'Disabled', ScalingConfig: undefined })],
      });
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'm0',
          StatusCode: 'Complete',
          Timestamps: [minutesAgo(3), minutesAgo(1)],
          Values: [1_500, 1_620],
        },
        { Id: 'm1', StatusCode: 'Complete', Timestamps: [minutesAgo(1)], Values: [86_000] },
      ],
    });

    // Act
    const output = (await tools.run('sqs.queue-status', { queue: 'orders' })) as QueueStatusOutput;

    // Assess
    expect(output).toEqual({
      queueUrl: QUEUE_URL,
      queueArn: QUEUE_ARN,
      queueName: 'orders',
      fifo: false,
      visibleMessages: 18_400,
      inFlightMessages: 12,
      delayedMessages: 0,
      ageOfOldestMessageSeconds: 1_620,
      maxAgeOfOldestMessageSeconds: 1_620,
      visibilityTimeoutSeconds: 30,
      messageRetentionSeconds: 345_600,
      redrivePolicy: { deadLetterTargetArn: DLQ_ARN, maxReceiveCount: 5 },
      deadLetterQueue: {
        queueUrl: DLQ_URL,
        queueName: 'orders-dlq',
        visibleMessages: 37,
        ageOfOldestMessageSeconds: 86_000,
      },
      deadLetterSourceQueueUrls: [],
      consumers: [
        {
          uuid: MAPPING,
          functionArn: FUNCTION_ARN,
          functionName: 'orders-worker',
          state: 'Enabled',
          stateTransitionReason: 'USER_INITIATED',
          batchSize: 10,
          maximumConcurrency: 5,
          lastProcessingResult: null,
        },
        expect.objectContaining({ uuid: 'bbbbbbbb', state: 'Disabled', maximumConcurrency: null }),
      ],
    });
    expect(lambda.commandCalls(ListEventSourceMappingsCommand).map((call) => call.args[0].input)).toEqual([
      { EventSourceArn: QUEUE_ARN, Marker: undefined, MaxItems: 100 },
      { EventSourceArn: QUEUE_ARN, Marker: 'more', MaxItems: 100 },
    ]);
    const queries = cloudWatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries!;
    expect(queries.map((query) => query.MetricStat?.Metric?.Dimensions)).toEqual([
      [{ Name: 'QueueName', Value: 'orders' }],
      [{ Name: 'QueueName', Value: 'orders-dlq' }],
    ]);
  });

  it('takes a URL as is, and names the queues a dead-letter queue serves', async () => {
    sqs.on(GetQueueAttributesCommand).resolves(attributes(DLQ_ARN, 37));
    sqs.on(ListDeadLetterSourceQueuesCommand).resolves({ queueUrls: [QUEUE_URL] });
    lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [] });
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });

    const output = (await tools.run('sqs.queue-status', { queue: DLQ_URL })) as QueueStatusOutput;

    expect(sqs.commandCalls(GetQueueUrlCommand)).toHaveLength(0);
    expect(output).toMatchObject({
      queueName: 'orders-dlq',
      redrivePolicy: null,
      deadLetterQueue: null,
      deadLetterSourceQueueUrls: [QUEUE_URL],
      ageOfOldestMessageSeconds: null,
      consumers: [],
    });
  });

  it('is NotFound for a queue that does not exist', async () => {
    sqs
      .on(GetQueueUrlCommand)
      .rejects(new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: {} }));
    const error = await rejectionOf(tools.run('sqs.queue-status', { queue: 'ordres' }));
    expect(error.name).toBe('Tool.NotFound');
    expect(error.message).toContain('queue ordres not found in eu-west-1');
  });
});

describe('sqs.redrive-dlq', () => {
  function dlqExists(visible = 37) {
    sqs.on(GetQueueUrlCommand, { QueueName: 'orders-dlq' }).resolves({ QueueUrl: DLQ_URL });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).resolves(attributes(DLQ_ARN, visible));
    sqs.on(ListDeadLetterSourceQueuesCommand).resolves({ queueUrls: [QUEUE_URL] });
  }

  it('starts a bounded move back to the source queues and returns its handle', async () => {
    dlqExists();
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        {
          TaskHandle: 'old-handle',
          Status: 'COMPLETED',
          SourceArn: DLQ_ARN,
          ApproximateNumberOfMessagesMoved: 12,
          StartedTimestamp: 1_732_000_000_000,
        },
      ],
    });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'eyJ0YXNrSWQiOiJkYzE1In0=' });

    const output = (await tools.run('sqs.redrive-dlq', {
      deadLetterQueue: 'orders-dlq',
      maxMessagesPerSecond: 20,
    })) as RedriveDlqOutput;

    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({
      SourceArn: DLQ_ARN,
      MaxNumberOfMessagesPerSecond: 20,
    });
    expect(output).toEqual({
      started: true,
      taskHandle: 'eyJ0YXNrSWQiOiJkYzE1In0=',
      sourceArn: DLQ_ARN,
      destinationArn: null,
      sourceQueueUrls: [QUEUE_URL],
      approximateNumberOfMessages: 37,
      maxMessagesPerSecond: 20,
      dryRun: false,
    });
  });

  it('refuses while a move is running, and for a queue no queue uses as its dead-letter queue', async () => {
    dlqExists();
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        {
          TaskHandle: 'running-handle',
          Status: 'RUNNING',
          SourceArn: DLQ_ARN,
          ApproximateNumberOfMessagesMoved: 3,
          ApproximateNumberOfMessagesToMove: 40,
          StartedTimestamp: 1_732_000_000_000,
        },
      ],
    });
    const running = await rejectionOf(tools.run('sqs.redrive-dlq', { deadLetterQueue: 'orders-dlq' }));
    expect(running.name).toBe('Tool.Refused');
    expect(running.message).toContain('already running on');
    expect(running.data).toEqual({ taskHandle: 'running-handle' });

    sqs.on(ListDeadLetterSourceQueuesCommand).resolves({ queueUrls: [] });
    const orphan = await rejectionOf(tools.run('sqs.redrive-dlq', { deadLetterQueue: 'orders-dlq' }));
    expect(orphan.name).toBe('Tool.Refused');
    expect(orphan.message).toContain('name a destinationQueue');
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
  });

  it('dry run starts nothing; an empty queue starts nothing either', async () => {
    dlqExists();
    sqs.on(ListMessageMoveTasksCommand).resolves({ Results: [] });
    sqs.on(GetQueueUrlCommand, { QueueName: 'orders-replay' }).resolves({
      QueueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/orders-replay`,
    });
    sqs
      .on(GetQueueAttributesCommand, {
        QueueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/orders-replay`,
      })
      .resolves(attributes(`arn:aws:sqs:eu-west-1:${ACCOUNT}:orders-replay`, 0));

    const dry = (await tools.run(
      'sqs.redrive-dlq',
      { deadLetterQueue: 'orders-dlq', destinationQueue: 'orders-replay' },
      testContext({ dryRun: true }),
    )) as RedriveDlqOutput;
    expect(dry).toMatchObject({
      started: false,
      taskHandle: null,
      destinationArn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:orders-replay`,
      maxMessagesPerSecond: 50,
      dryRun: true,
    });

    sqs.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).resolves(attributes(DLQ_ARN, 0));
    const empty = (await tools.run('sqs.redrive-dlq', { deadLetterQueue: 'orders-dlq' })) as RedriveDlqOutput;
    expect(empty).toMatchObject({ started: false, approximateNumberOfMessages: 0, dryRun: false });
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
  });

  it('declares no inverse: moved messages cannot be put back', () => {
    expect(TOOL_CATALOG.get('sqs.redrive-dlq')?.compensation).toBeUndefined();
  });
});

describe('sqs.cancel-redrive', () => {
  it('cancels the running move and says how much had moved', async () => {
    sqs.on(GetQueueAttributesCommand).resolves(attributes(DLQ_ARN, 20));
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        {
          TaskHandle: 'running-handle',
          Status: 'RUNNING',
          SourceArn: DLQ_ARN,
          ApproximateNumberOfMessagesMoved: 17,
        },
      ],
    });
    sqs.on(CancelMessageMoveTaskCommand).resolves({ ApproximateNumberOfMessagesMoved: 18 });

    const output = (await tools.run('sqs.cancel-redrive', {
      deadLetterQueue: DLQ_URL,
    })) as CancelRedriveOutput;

    expect(sqs.commandCalls(CancelMessageMoveTaskCommand)[0]?.args[0].input).toEqual({
      TaskHandle: 'running-handle',
    });
    expect(output).toEqual({
      taskHandle: 'running-handle',
      cancelled: true,
      approximateNumberOfMessagesMoved: 18,
      dryRun: false,
    });
  });

  it('has nothing to cancel once the move has finished', async () => {
    sqs.on(GetQueueAttributesCommand).resolves(attributes(DLQ_ARN, 0));
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [{ TaskHandle: 'done-handle', Status: 'COMPLETED', SourceArn: DLQ_ARN }],
    });

    const output = (await tools.run('sqs.cancel-redrive', {
      deadLetterQueue: DLQ_URL,
      taskHandle: 'done-handle',
    })) as CancelRedriveOutput;

    expect(output).toEqual({
      taskHandle: null,
      cancelled: false,
      approximateNumberOfMessagesMoved: null,
      dryRun: false,
    });
    expect(sqs.commandCalls(CancelMessageMoveTaskCommand)).toHaveLength(0);
  });
});

describe('lambda.set-event-source-concurrency', () => {
  it('raises the cap within the bound and restores it as its compensation', async () => {
    // Prepare
    lambda.on(GetEventSourceMappingCommand).resolves(mapping());
    lambda.on(UpdateEventSourceMappingCommand).resolves(mapping({ State: 'Updating' }));

    // Act
    const output = (await tools.run('lambda.set-event-source-concurrency', {
      uuid: MAPPING,
      maximumConcurrency: 20,
      maxAllowedConcurrency: 50,
    })) as SetEventSourceConcurrencyOutput;
    const inverse = await tools.runInverse('lambda.set-event-source-concurrency', {
      parameters: { uuid: MAPPING, maximumConcurrency: 20, maxAllowedConcurrency: 50 },
      output,
    });

    // Assess
    expect(output).toEqual({
      uuid: MAPPING,
      functionArn: FUNCTION_ARN,
      eventSourceArn: QUEUE_ARN,
      previousMaximumConcurrency: 5,
      maximumConcurrency: 20,
      maxAllowedConcurrency: 50,
      increaseBy: null,
      unchanged: false,
      dryRun: false,
    });
    expect(inverse.tool).toBe('lambda.restore-event-source-concurrency');
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((call) => call.args[0].input)).toEqual([
      { UUID: MAPPING, ScalingConfig: { MaximumConcurrency: 20 } },
      { UUID: MAPPING, ScalingConfig: { MaximumConcurrency: 5 } },
    ]);
  });

  it('raises the cap by increaseBy up to the bound; refuses an uncapped mapping and one at the bound', async () => {
    // Prepare: the mapping allows 5
    lambda.on(GetEventSourceMappingCommand).resolves(mapping());
    lambda.on(UpdateEventSourceMappingCommand).resolves(mapping({ State: 'Updating' }));

    // Act
    const raised = (await tools.run('lambda.set-event-source-concurrency', {
      uuid: MAPPING,
      increaseBy: 10,
      maxAllowedConcurrency: 12,
    })) as SetEventSourceConcurrencyOutput;
    const atBound = await rejectionOf(
      tools.run('lambda.set-event-source-concurrency', {
        uuid: MAPPING,
        increaseBy: 2,
        maxAllowedConcurrency: 5,
      }),
    );
    lambda.on(GetEventSourceMappingCommand).resolves(mapping({ ScalingConfig: undefined }));
    const uncapped = await rejectionOf(
      tools.run('lambda.set-event-source-concurrency', {
        uuid: MAPPING,
        increaseBy: 2,
        maxAllowedConcurrency: 50,
      }),
    );
    const neither = await rejectionOf(
      tools.run('lambda.set-event-source-concurrency', { uuid: MAPPING, maxAllowedConcurrency: 50 }),
    );
    const both = await rejectionOf(
      tools.run('lambda.set-event-source-concurrency', {
        uuid: MAPPING,
        maximumConcurrency: 10,
        increaseBy: 2,
        maxAllowedConcurrency: 50,
      }),
    );

    // Assess
    expect(raised).toMatchObject({ previousMaximumConcurrency: 5, maximumConcurrency: 12, increaseBy: 10 });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((call) => call.args[0].input)).toEqual([
      { UUID: MAPPING, ScalingConfig: { MaximumConcurrency: 12 } },
    ]);
    expect(atBound.name).toBe('Tool.Refused');
    expect(atBound.message).toContain('already allows 5, at or above the bound 5');
    expect(uncapped.name).toBe('Tool.Refused');
    expect(uncapped.message).toContain('has no maximum concurrency, so there is no cap to raise');
    expect(neither.message).toContain('give either maximumConcurrency (the value to set) or increaseBy');
    expect(both.message).toContain('give either maximumConcurrency (the value to set) or increaseBy');
  });

  it('removes the cap when there was none before', async () => {
    lambda.on(UpdateEventSourceMappingCommand).resolves(mapping());

    await tools.run('lambda.restore-event-source-concurrency', { uuid: MAPPING, maximumConcurrency: null });

    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)[0]?.args[0].input).toEqual({
      UUID: MAPPING,
      ScalingConfig: {},
    });
  });

  it('refuses above the bound, and a mapping that does not read SQS', async () => {
    const above = await rejectionOf(
      tools.run('lambda.set-event-source-concurrency', {
        uuid: MAPPING,
        maximumConcurrency: 200,
        maxAllowedConcurrency: 50,
      }),
    );
    expect(above.name).toBe('Tool.Refused');
    expect(lambda.commandCalls(GetEventSourceMappingCommand)).toHaveLength(0);

    lambda.on(GetEventSourceMappingCommand).resolves(
      mapping({
        EventSourceArn: `arn:aws:kinesis:eu-west-1:${ACCOUNT}:stream/clicks`,
        ScalingConfig: undefined,
      }),
    );
    const kinesis = await rejectionOf(
      tools.run('lambda.set-event-source-concurrency', {
        uuid: MAPPING,
        maximumConcurrency: 10,
        maxAllowedConcurrency: 50,
      }),
    );
    expect(kinesis.name).toBe('Tool.Refused');
    expect(kinesis.message).toContain('not an SQS queue');
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(0);
  });

  it('is NotFound for an unknown mapping; Refused while Lambda updates it', async () => {
    lambda.on(GetEventSourceMappingCommand).rejects(
      new ResourceNotFoundException({
        message: 'The resource you requested does not exist.',
        $metadata: {},
      }),
    );
    const parameters = { uuid: MAPPING, maximumConcurrency: 10, maxAllowedConcurrency: 50 };
    expect((await rejectionOf(tools.run('lambda.set-event-source-concurrency', parameters))).name).toBe(
      'Tool.NotFound',
    );

    lambda.on(GetEventSourceMappingCommand).resolves(mapping());
    lambda
      .on(UpdateEventSourceMappingCommand)
      .rejects(
        awsError('ResourceInUseException', 'Cannot update the event source mapping because it is in use.'),
      );
    expect((await rejectionOf(tools.run('lambda.set-event-source-concurrency', parameters))).name).toBe(
      'Tool.Refused',
    );
  });
});

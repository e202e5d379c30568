import type { AwsAccount } from './account.ts';
import { hexId } from './ids.ts';
import type { MetricSeries } from './metric-store.ts';
import { type AwsCall, AwsError, page, type ServiceDefinition } from './protocol.ts';
import { Timeline } from './timeline.ts';

/**
 * Amazon SQS: queues as cohorts of messages (when they arrived, how many), fed at an arrival rate and
 * drained by their Lambda event source mapping: its pollers run up to the mapping's maximum
 * concurrency (and the function's own concurrency), each taking a batch per invocation, oldest
 * messages first. So the depth and the age of the oldest message follow from arrivals against
 * throughput, and a raised concurrency drains the backlog. Dead-letter queues hold what failed;
 * message move tasks (DLQ redrive) move it back at a rate.
 * API (AWS JSON 1.0, Query-compatible errors): GetQueueUrl, GetQueueAttributes, ListQueueTags,
 * ListDeadLetterSourceQueues, ListQueues, StartMessageMoveTask, ListMessageMoveTasks,
 * CancelMessageMoveTask.
 */

/** The longest step the queue model integrates at once (a backdated fault is replayed in these). */
const STEP_SECONDS = 2;

export interface QueueModel {
  name: string;
  arn: string;
  url: string;
  createdAt: number;
  attributes: Record<string, string>;
  tags: Record<string, string>;
  deadLetterTargetArn?: string;
  maxReceiveCount?: number;
  /** Visible messages by arrival time, oldest first. */
  cohorts: Array<{ at: number; count: number }>;
  inFlight: number;
  /** Messages a second producers send. */
  arrivals: Timeline;
  metrics: Record<
    'visible' | 'notVisible' | 'delayed' | 'age' | 'sent' | 'received' | 'deleted' | 'emptyReceives',
    MetricSeries
  >;
}

export interface MoveTask {
  handle: string;
  sourceArn: string;
  destinationArn?: string;
  rate: number;
  status: 'RUNNING' | 'COMPLETED' | 'CANCELLED' | 'FAILED';
  toMove: number;
  moved: number;
  startedAt: number;
}

/** SQS's error codes in JSON, with their Query codes (what `x-amzn-query-error` carries). */
function queueMissing(): AwsError {
  return new AwsError('QueueDoesNotExist', 'The specified queue does not exist.', 400, {
    queryCode: 'AWS.SimpleQueueService.NonExistentQueue',
  });
}

export class SqsModel {
  readonly queues = new Map<string, QueueModel>();
  readonly moveTasks: MoveTask[] = [];

  constructor(private readonly account: AwsAccount) {
    const start = account.startedAt;
    const dlq = this.add('order-events-dlq', start - 200 * 86_400, 0, {
      MessageRetentionPeriod: '1209600',
      VisibilityTimeout: '30',
      RedriveAllowPolicy: JSON.stringify({
        redrivePermission: 'byQueue',
        sourceQueueArns: [account.arn('sqs', 'order-events')],
      }),
    });
    dlq.tags = { team: 'orders', environment: 'staging' };
    const queue = this.add('order-events', start - 200 * 86_400, 3, {
      MessageRetentionPeriod: '345600',
      VisibilityTimeout: '180',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 5 }),
    });
    queue.deadLetterTargetArn = dlq.arn;
    queue.maxReceiveCount = 5;
    queue.tags = { team: 'orders', environment: 'staging', 'runbook-autopilot.io/owner': 'orders' };
  }

  add(
    name: string,
    createdAt: number,
    arrivalsPerSecond: number,
    attributes: Record<string, string>,
  ): QueueModel {
    const dimensions = { QueueName: name };
    const define = (metricName: string, kind: 'gauge' | 'count', initial = 0) =>
      this.account.metrics.define(
        { namespace: 'AWS/SQS', metricName, dimensions },
        {
          kind,
          unit: metricName.includes('Age') ? 'Seconds' : 'Count',
          initial,
          sampleSeconds: 10,
          integer: true,
        },
      );
    const queue: QueueModel = {
      name,
      arn: this.account.arn('sqs', name),
      url: `https://sqs.${this.account.region}.amazonaws.com/${this.account.accountId}/${name}`,
      createdAt,
      attributes: {
        DelaySeconds: '0',
        MaximumMessageSize: '262144',
        ReceiveMessageWaitTimeSeconds: '20',
        SqsManagedSseEnabled: 'true',
        ...attributes,
      },
      tags: {},
      cohorts: [],
      inFlight: 0,
      arrivals: new Timeline(arrivalsPerSecond),
      metrics: {
        visible: define('ApproximateNumberOfMessagesVisible', 'gauge'),
        notVisible: define('ApproximateNumberOfMessagesNotVisible', 'gauge'),
        delayed: define('ApproximateNumberOfMessagesDelayed', 'gauge'),
        age: define('ApproximateAgeOfOldestMessage', 'gauge'),
        sent: define('NumberOfMessagesSent', 'count', arrivalsPerSecond),
        received: define('NumberOfMessagesReceived', 'count', arrivalsPerSecond),
        deleted: define('NumberOfMessagesDeleted', 'count', arrivalsPerSecond),
        emptyReceives: define('NumberOfEmptyReceives', 'count', 0.4),
      },
    };
    this.queues.set(name, queue);
    return queue;
  }

  byUrl(url: string): QueueModel | undefined {
    const name = url.replace(/\/+$/, '').split('/').at(-1) ?? '';
    const account = url.replace(/\/+$/, '').split('/').at(-2);
    const queue = this.queues.get(name);
    return queue && account === this.account.accountId ? queue : undefined;
  }

  byArn(arn: string): QueueModel | undefined {
    return [...this.queues.values()].find((queue) => queue.arn === arn);
  }

  visible(queue: QueueModel): number {
    return queue.cohorts.reduce((sum, cohort) => sum + cohort.count, 0);
  }

  /** Puts `count` messages in, as arrived at `at`. */
  enqueue(queue: QueueModel, count: number, at: number): void {
    if (count <= 0) return;
    const last = queue.cohorts.at(-1);
    if (last && at - last.at < 1) last.count += count;
    else queue.cohorts.push({ at, count });
  }

  /** Takes up to `count` of the oldest messages out; returns how many it took. */
  private take(queue: QueueModel, count: number): number {
    let left = count;
    while (left > 1e-9 && queue.cohorts.length > 0) {
      const oldest = queue.cohorts[0]!;
      const taken = Math.min(oldest.count, left);
      oldest.count -= taken;
      left -= taken;
      if (oldest.count <= 1e-9) queue.cohorts.shift();
    }
    return count - left;
  }

  ageOfOldest(queue: QueueModel, now: number): number {
    const oldest = queue.cohorts.find((cohort) => cohort.count >= 0.5);
    return oldest ? Math.max(0, now - oldest.at) : 0;
  }

  /** Messages a second the queue's consumer can take now, and its pollers. */
  consumerOf(
    queue: QueueModel,
  ): { throughput: number; concurrency: number; batchSize: number; durationMs: number } | undefined {
    const mapping = [...this.account.lambda.mappings.values()].find(
      (candidate) => candidate.sourceArn === queue.arn && candidate.state !== 'Disabled',
    );
    if (!mapping) return undefined;
    const fn = this.account.lambda.functions.get(mapping.functionName);
    if (!fn) return undefined;
    const concurrency = Math.min(
      mapping.maximumConcurrency ?? 1_000,
      this.account.lambda.allowedConcurrency(fn),
    );
    const durationMs = fn.latest.durationMs;
    return {
      throughput: (concurrency * mapping.batchSize * 1_000) / durationMs,
      concurrency,
      batchSize: mapping.batchSize,
      durationMs,
    };
  }

  tick(now: number, since: number): void {
    for (const queue of this.queues.values()) {
      let time = Math.min(since, now);
      if (now - time < 1e-6) this.step(queue, now, 0);
      while (now - time > 1e-6) {
        const dt = Math.min(STEP_SECONDS, now - time);
        time += dt;
        this.step(queue, time, dt);
      }
    }
    for (const task of this.moveTasks) {
      if (task.status !== 'RUNNING') continue;
      const source = this.byArn(task.sourceArn);
      const destination = task.destinationArn
        ? this.byArn(task.destinationArn)
        : [...this.queues.values()].find((queue) => queue.deadLetterTargetArn === task.sourceArn);
      if (!source || !destination) {
        task.status = 'FAILED';
        continue;
      }
      const moved = this.take(
        source,
        Math.min(task.toMove - task.moved, task.rate * Math.max(0.5, now - since)),
      );
      this.enqueue(destination, moved, now);
      task.moved += moved;
      if (task.moved >= task.toMove - 1e-6 || this.visible(source) < 0.5) {
        task.status = 'COMPLETED';
        this.account.note(
          `sqs: message move task on ${source.name} completed: ${Math.round(task.moved)} message(s) back in ${destination.name}`,
        );
      }
    }
  }

  /** One integration step of `dt` seconds ending at `time`: arrivals in, the consumer's batches out. */
  private step(queue: QueueModel, time: number, dt: number): void {
    const arrivals = queue.arrivals.at(time);
    this.enqueue(queue, arrivals * dt, time - dt / 2);
    const consumer = this.consumerOf(queue);
    let taken = 0;
    if (consumer && dt > 0) taken = this.take(queue, consumer.throughput * dt);
    const rate = dt > 0 ? taken / dt : consumer ? Math.min(consumer.throughput, arrivals) : 0;
    const busy = consumer ? Math.min(1, rate / Math.max(consumer.throughput, 1e-9)) : 0;
    queue.inFlight = consumer ? Math.round(busy * consumer.concurrency * consumer.batchSize) : 0;
    if (consumer) {
      const mapping = [...this.account.lambda.mappings.values()].find(
        (candidate) => candidate.sourceArn === queue.arn,
      );
      const fn = mapping ? this.account.lambda.functions.get(mapping.functionName) : undefined;
      if (fn)
        fn.polled = { invocations: rate / consumer.batchSize, concurrency: busy * consumer.concurrency };
    }
    const visible = this.visible(queue);
    const { metrics } = queue;
    metrics.visible.record(time, Math.round(visible));
    metrics.notVisible.record(time, queue.inFlight);
    metrics.delayed.record(time, 0);
    const age = this.ageOfOldest(queue, time);
    // The age grows by a second a second while the oldest message waits: a slope, not a step per tick.
    metrics.age.record(time, age, age > 0 ? 1 : 0);
    metrics.sent.record(time, arrivals);
    metrics.received.record(time, rate);
    metrics.deleted.record(time, rate);
    metrics.emptyReceives.record(time, visible < 1 ? 0.4 : 0);
  }

  startMove(source: QueueModel, destinationArn: string | undefined, rate: number, now: number): MoveTask {
    const task: MoveTask = {
      handle: Buffer.from(
        JSON.stringify({ taskId: hexId(`${source.arn}-${now}`, 32), sourceArn: source.arn }),
      ).toString('base64'),
      sourceArn: source.arn,
      ...(destinationArn ? { destinationArn } : {}),
      rate,
      status: 'RUNNING',
      toMove: Math.round(this.visible(source)),
      moved: 0,
      startedAt: now,
    };
    this.moveTasks.push(task);
    this.account.note(
      `sqs: StartMessageMoveTask on ${source.name}: ${task.toMove} message(s) at up to ${rate}/s`,
    );
    return task;
  }
}

// ------------------------------------------------------------------------------------------------ API

function attributesOf(model: SqsModel, queue: QueueModel): Record<string, string> {
  return {
    QueueArn: queue.arn,
    ApproximateNumberOfMessages: String(Math.round(model.visible(queue))),
    ApproximateNumberOfMessagesNotVisible: String(queue.inFlight),
    ApproximateNumberOfMessagesDelayed: '0',
    CreatedTimestamp: String(Math.floor(queue.createdAt)),
    LastModifiedTimestamp: String(Math.floor(queue.createdAt + 86_400)),
    ...queue.attributes,
  };
}

function queueOf(model: SqsModel, input: Record<string, unknown>): QueueModel {
  const url = input.QueueUrl;
  if (typeof url !== 'string' || url === '')
    throw new AwsError('MissingParameter', 'The request must contain the parameter QueueUrl.', 400, {
      queryCode: 'MissingParameter',
    });
  const queue = model.byUrl(url);
  if (!queue) throw queueMissing();
  return queue;
}

export function sqsService(account: AwsAccount): ServiceDefinition {
  const model = account.sqs;
  return {
    name: 'sqs',
    protocol: 'json',
    jsonVersion: '1.0',
    target: 'AmazonSQS',
    queryCompatible: true,
    handle(call: AwsCall) {
      const input = call.input;
      const now = call.now;
      switch (call.operation) {
        case 'GetQueueUrl': {
          const owner = input.QueueOwnerAWSAccountId;
          const queue = model.queues.get(String(input.QueueName ?? ''));
          if (!queue || (owner !== undefined && owner !== account.accountId)) throw queueMissing();
          return { body: { QueueUrl: queue.url } };
        }
        case 'ListQueues': {
          const prefix = String(input.QueueNamePrefix ?? '');
          const urls = [...model.queues.values()]
            .filter((queue) => queue.name.startsWith(prefix))
            .map((queue) => queue.url);
          const { items, next } = page(
            urls,
            input.NextToken as string | undefined,
            Number(input.MaxResults ?? 1_000),
            'sqs:queues',
            'InvalidParameterValue',
          );
          return { body: { QueueUrls: items, ...(next ? { NextToken: next } : {}) } };
        }
        case 'GetQueueAttributes': {
          const queue = queueOf(model, input);
          const names = Array.isArray(input.AttributeNames) ? (input.AttributeNames as string[]) : [];
          const all = attributesOf(model, queue);
          const wanted = names.length === 0 ? [] : names.includes('All') ? Object.keys(all) : names;
          const unknown = wanted.filter(
            (name) =>
              !(name in all) &&
              ![
                'RedrivePolicy',
                'RedriveAllowPolicy',
                'Policy',
                'KmsMasterKeyId',
                'FifoQueue',
                'ContentBasedDeduplication',
              ].includes(name),
          );
          if (unknown.length > 0)
            throw new AwsError('InvalidAttributeName', `Unknown Attribute ${unknown[0]}.`, 400, {
              queryCode: 'InvalidAttributeName',
            });
          return {
            body: {
              Attributes: Object.fromEntries(
                wanted.filter((name) => name in all).map((name) => [name, all[name]!]),
              ),
            },
          };
        }
        case 'ListQueueTags': {
          const queue = queueOf(model, input);
          return { body: Object.keys(queue.tags).length > 0 ? { Tags: queue.tags } : {} };
        }
        case 'ListDeadLetterSourceQueues': {
          const queue = queueOf(model, input);
          const sources = [...model.queues.values()]
            .filter((candidate) => candidate.deadLetterTargetArn === queue.arn)
            .map((candidate) => candidate.url);
          const size = input.MaxResults === undefined ? 1_000 : Number(input.MaxResults);
          const { items, next } = page(
            sources,
            input.NextToken as string | undefined,
            size,
            `sqs:dlq-sources:${queue.name}`,
            'InvalidParameterValue',
          );
          return { body: { queueUrls: items, ...(next ? { NextToken: next } : {}) } };
        }
        case 'StartMessageMoveTask': {
          const source = model.byArn(String(input.SourceArn ?? ''));
          if (!source)
            throw new AwsError(
              'ResourceNotFoundException',
              "The resource that you specified for the SourceArn parameter doesn't exist.",
              400,
              { queryCode: 'ResourceNotFoundException' },
            );
          const isDeadLetter = [...model.queues.values()].some(
            (queue) => queue.deadLetterTargetArn === source.arn,
          );
          if (!isDeadLetter)
            throw new AwsError(
              'UnsupportedOperation',
              `Source queue ${source.arn} is not configured as a dead-letter queue of any queue.`,
              400,
              { queryCode: 'AWS.SimpleQueueService.UnsupportedOperation' },
            );
          if (model.moveTasks.some((task) => task.sourceArn === source.arn && task.status === 'RUNNING'))
            throw new AwsError(
              'UnsupportedOperation',
              'There is already a task running. Only one active task is allowed for each source queue arn at a given time.',
              400,
              { queryCode: 'AWS.SimpleQueueService.UnsupportedOperation' },
            );
          const destination = input.DestinationArn === undefined ? undefined : String(input.DestinationArn);
          if (destination !== undefined && !model.byArn(destination))
            throw new AwsError(
              'ResourceNotFoundException',
              "The resource that you specified for the DestinationArn parameter doesn't exist.",
              400,
              { queryCode: 'ResourceNotFoundException' },
            );
          const rate =
            input.MaxNumberOfMessagesPerSecond === undefined
              ? 500
              : Number(input.MaxNumberOfMessagesPerSecond);
          if (!Number.isInteger(rate) || rate < 1 || rate > 500)
            throw new AwsError(
              'InvalidParameterValue',
              'MaxNumberOfMessagesPerSecond must be between 1 and 500.',
              400,
              { queryCode: 'InvalidParameterValue' },
            );
          return { body: { TaskHandle: model.startMove(source, destination, rate, now).handle } };
        }
        case 'ListMessageMoveTasks': {
          const source = model.byArn(String(input.SourceArn ?? ''));
          if (!source)
            throw new AwsError(
              'ResourceNotFoundException',
              "The resource that you specified for the SourceArn parameter doesn't exist.",
              400,
              { queryCode: 'ResourceNotFoundException' },
            );
          const size = input.MaxResults === undefined ? 1 : Number(input.MaxResults);
          if (!Number.isInteger(size) || size < 1 || size > 10)
            throw new AwsError('InvalidParameterValue', 'MaxResults must be between 1 and 10.', 400, {
              queryCode: 'InvalidParameterValue',
            });
          const tasks = model.moveTasks
            .filter((task) => task.sourceArn === source.arn)
            .sort((a, b) => b.startedAt - a.startedAt)
            .slice(0, size);
          return {
            body: {
              Results: tasks.map((task) => ({
                ...(task.status === 'RUNNING' ? { TaskHandle: task.handle } : {}),
                Status: task.status,
                SourceArn: task.sourceArn,
                ...(task.destinationArn ? { DestinationArn: task.destinationArn } : {}),
                MaxNumberOfMessagesPerSecond: task.rate,
                ApproximateNumberOfMessagesMoved: Math.round(task.moved),
                ApproximateNumberOfMessagesToMove: task.toMove,
                StartedTimestamp: Math.round(task.startedAt * 1_000),
              })),
            },
          };
        }
        case 'CancelMessageMoveTask': {
          const task = model.moveTasks.find((candidate) => candidate.handle === input.TaskHandle);
          if (!task)
            throw new AwsError('ResourceNotFoundException', 'The task handle is not valid.', 400, {
              queryCode: 'ResourceNotFoundException',
            });
          if (task.status !== 'RUNNING')
            throw new AwsError('UnsupportedOperation', `The task is ${task.status}, not RUNNING.`, 400, {
              queryCode: 'AWS.SimpleQueueService.UnsupportedOperation',
            });
          task.status = 'CANCELLED';
          account.note(`sqs: CancelMessageMoveTask after ${Math.round(task.moved)} message(s)`);
          return { body: { ApproximateNumberOfMessagesMoved: Math.round(task.moved) } };
        }
        default:
          return undefined;
      }
    },
  };
}

import type { CloudWatchScenario } from './types.ts';

/**
 * order-worker's event source mapping on order-events was capped at 2 concurrent invocations three
 * weeks ago, while the warehouse API was rate-limiting, and never raised again. Since a sale started
 * 18 minutes ago orders arrive faster than two pollers take them: the backlog grows and its oldest
 * message passes five minutes. A bounded raise of the mapping's maximum concurrency drains it; last
 * night's 37 dead letters could then go back.
 */

const QUEUE = 'order-events';
const SALE_MINUTES = 18;
export const ALARM = 'order-events-oldest-message-age';

export const sqsQueueBacklog: CloudWatchScenario = {
  id: 'sqs-queue-backlog',
  source: 'cloudwatch',
  summary:
    "order-worker's consumer is capped at 2 and order-events backs up; a bounded concurrency raise drains it",
  alertname: ALARM,
  runbookId: 'sqs-queue-backlog',
  inDefaultSet: false,
  waits: 'the runbook lets the consumer work through the backlog before it verifies',
  waitSeconds: 60,
  rules: [],
  breaks: [`sqs:${QUEUE}`, 'lambda:order-worker'],
  alarms: [
    {
      name: ALARM,
      description: 'the oldest message in order-events is more than 5 minutes old',
      namespace: 'AWS/SQS',
      metricName: 'ApproximateAgeOfOldestMessage',
      dimensions: { QueueName: QUEUE },
      statistic: 'Maximum',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 300,
      comparison: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      recommended: {
        period: 60,
        evaluationPeriods: 15,
        datapointsToAlarm: 15,
        threshold: 'what the consumers can catch up on',
      },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - SALE_MINUTES * 60;
    const queue = aws.sqs.queues.get(QUEUE)!;
    const dlq = aws.sqs.queues.get(`${QUEUE}-dlq`)!;
    const mapping = [...aws.lambda.mappings.values()].find((candidate) => candidate.sourceArn === queue.arn)!;
    mapping.maximumConcurrency = 2;
    mapping.lastModified = aws.startedAt - 21 * 86_400;
    aws.sqs.enqueue(dlq, 37, aws.startedAt - 7 * 3_600 + 812);
    aws.backdate(since, () => queue.arrivals.set(since, 14));
    return {
      title: `${ALARM}: order-events backs up behind a consumer capped at 2`,
      story: [
        "order-worker's event source mapping was capped at 2 concurrent invocations three weeks ago, while the",
        `warehouse API was rate-limiting, and never raised. A sale started ${SALE_MINUTES} minutes ago: orders arrive faster than`,
        'two pollers take them, and the oldest message passes five minutes. A bounded raise of the maximum',
        "concurrency drains the backlog; last night's 37 dead letters can go back once the consumer keeps up.",
      ],
      alarm: ALARM,
      holds: () => (mapping.maximumConcurrency ?? 1_000) <= 2,
    };
  },
};

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { normalizeCloudWatchAlarm } from '../../../functions/core/classifier/normalize.ts';
import { CloudWatchAlarmEvent } from '../../../functions/core/classifier/payloads.ts';
import { AwsAccount } from '../../../local/sim/aws/account.ts';
import type { AlarmDefinition } from '../../../local/sim/aws/alarms.ts';
import type { Json } from '../../support/json.ts';

/**
 * CloudWatch alarms of the simulated account: evaluated as CloudWatch evaluates them (complete
 * periods, datapoints to alarm, missing data) on the levels the models record, and their state
 * changes delivered as EventBridge delivers `CloudWatch Alarm State Change` events: the real shape
 * (the platform's own parser and normalizer take it), in order, retried while the receiver fails.
 */

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

const QUEUE_AGE: AlarmDefinition = {
  name: 'order-events-oldest-message-age',
  description: 'the oldest message in order-events is more than 5 minutes old',
  namespace: 'AWS/SQS',
  metricName: 'ApproximateAgeOfOldestMessage',
  dimensions: { QueueName: 'order-events' },
  statistic: 'Maximum',
  period: 10,
  evaluationPeriods: 3,
  datapointsToAlarm: 2,
  threshold: 300,
  comparison: 'GreaterThanThreshold',
  treatMissingData: 'missing',
  recommended: { period: 60, evaluationPeriods: 15, datapointsToAlarm: 15, threshold: '300' },
};

/** An account whose queue age is `age(t)`, recorded every second from `from` to `to`. */
function accountWithAge(age: (time: number) => number, from: number, to: number) {
  const account = new AwsAccount();
  const series = account.metrics.find({
    namespace: 'AWS/SQS',
    metricName: 'ApproximateAgeOfOldestMessage',
    dimensions: { QueueName: 'order-events' },
  })!;
  for (let time = from; time <= to; time += 1) series.record(time, age(time));
  return { account, alarm: account.alarms.define(QUEUE_AGE) };
}

async function receiver(answers: number[]): Promise<{ url: string; bodies: Json[]; statuses: number[] }> {
  const bodies: Json[] = [];
  const statuses: number[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const status = answers.shift() ?? 202;
      statuses.push(status);
      if (status === 202) bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(status === 202 ? { accepted: 1, results: [] } : { error: 'busy' }));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, bodies, statuses };
}

describe('alarm evaluation', () => {
  it('goes to ALARM on 2 of 3 breaching periods, with CloudWatch’s reason and reason data', () => {
    const t0 = 1_796_000_000;
    const { account, alarm } = accountWithAge(
      (time) => (time < t0 + 10 ? 120 : 300 + (time - t0)),
      t0 - 60,
      t0 + 40,
    );
    const verdict = account.alarms.verdict(alarm, t0 + 31);
    expect(verdict.value).toBe('ALARM');
    expect(verdict.reason).toBe(
      'Threshold Crossed: 2 out of the last 3 datapoints [320.0 (30/11/26 00:53:40), 310.0 (30/11/26 00:53:30), 120.0 (30/11/26 00:53:20)] were greater than the threshold (300.0) (minimum 2 datapoints for OK -> ALARM transition).',
    );
    expect(JSON.parse(verdict.reasonData!)).toEqual({
      version: '1.0',
      queryDate: '2026-11-30T00:53:51.000+0000',
      startDate: '2026-11-30T00:53:20.000+0000',
      statistic: 'Maximum',
      period: 10,
      recentDatapoints: [120, 310, 320],
      threshold: 300,
      evaluatedDatapoints: [
        { timestamp: '2026-11-30T00:53:40.000+0000', sampleCount: 1, value: 320 },
        { timestamp: '2026-11-30T00:53:30.000+0000', sampleCount: 1, value: 310 },
        { timestamp: '2026-11-30T00:53:20.000+0000', sampleCount: 1, value: 120 },
      ],
    });
  });

  it('stays OK on a single breaching period, and treats missing data as the alarm says', () => {
    const t0 = 1_796_000_000;
    const { account, alarm } = accountWithAge((time) => (time >= t0 + 30 ? 400 : 100), t0 - 60, t0 + 40);
    expect(account.alarms.verdict(alarm, t0 + 41).value).toBe('OK');
    const empty = new AwsAccount();
    const gone = empty.alarms.define({ ...QUEUE_AGE, dimensions: { QueueName: 'deleted-queue' } });
    expect(empty.alarms.verdict(gone, t0).value).toBe('INSUFFICIENT_DATA');
    const notBreaching = empty.alarms.define({
      ...QUEUE_AGE,
      name: 'quiet',
      dimensions: { QueueName: 'deleted-queue' },
      treatMissingData: 'notBreaching',
    });
    notBreaching.state = { value: 'ALARM', reason: 'Threshold Crossed', at: t0 - 60 };
    expect(empty.alarms.verdict(notBreaching, t0)).toMatchObject({
      value: 'OK',
      reason:
        'Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [NonBreaching].',
    });
  });
});

describe('EventBridge delivery', () => {
  it('sends the real event shape, which the platform parses and normalizes to a firing alert of the queue', async () => {
    const now = Date.now() / 1_000;
    const { account, alarm } = accountWithAge(() => 900, now - 120, now);
    const target = await receiver([]);
    account.alarms.setReceiver(target.url);
    account.alarms.tick(now);
    await expect.poll(() => target.bodies.length).toBe(1);

    const event = target.bodies[0]!;
    expect(() => CloudWatchAlarmEvent.parse(event)).not.toThrow();
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: '222222222222',
      region: 'eu-west-1',
      resources: ['arn:aws:cloudwatch:eu-west-1:222222222222:alarm:order-events-oldest-message-age'],
      detail: {
        alarmName: 'order-events-oldest-message-age',
        state: {
          value: 'ALARM',
          timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/),
        },
        previousState: { value: 'OK' },
        configuration: {
          description: QUEUE_AGE.description,
          metrics: [
            {
              metricStat: {
                metric: {
                  namespace: 'AWS/SQS',
                  name: 'ApproximateAgeOfOldestMessage',
                  dimensions: { QueueName: 'order-events' },
                },
                period: 10,
                stat: 'Maximum',
              },
              returnData: true,
            },
          ],
        },
      },
    });
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(typeof event.detail.state.reasonData).toBe('string');
    const alert = normalizeCloudWatchAlarm(event, {
      environmentLabels: ['environment'],
      defaultEnvironment: 'staging',
    });
    expect(alert).toMatchObject({
      status: 'firing',
      fingerprint: account.alarms.fingerprint(alarm),
      resource: { type: 'sqs-queue', id: 'order-events' },
      labels: {
        QueueName: 'order-events',
        metricName: 'ApproximateAgeOfOldestMessage',
        statistic: 'Maximum',
      },
    });
  });

  it('retries while the receiver fails and keeps an alarm’s changes in order', async () => {
    const now = Date.now() / 1_000;
    const { account, alarm } = accountWithAge(() => 900, now - 120, now);
    const target = await receiver([503]);
    account.alarms.setReceiver(target.url);
    account.alarms.tick(now);
    await expect.poll(() => target.statuses).toEqual([503]);
    // The queue drains; the OK waits behind the ALARM that is being retried.
    alarm.definition.evaluationPeriods = 1;
    alarm.definition.datapointsToAlarm = 1;
    account.metrics
      .find({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateAgeOfOldestMessage',
        dimensions: { QueueName: 'order-events' },
      })!
      .record(now + 0.5, 10);
    account.alarms.evaluate(alarm, now + 25);
    expect(account.alarms.deliveries.map((delivery) => `${delivery.state}:${delivery.httpStatus}`)).toEqual([
      'ALARM:503',
      'OK:0',
    ]);
    await expect
      .poll(() => target.bodies.map((body) => body.detail.state.value), { timeout: 8_000 })
      .toEqual(['ALARM', 'OK']);
    expect(
      account.alarms.deliveries.map(
        (delivery) => `${delivery.state}:${delivery.httpStatus}:${delivery.attempts}`,
      ),
    ).toEqual(['ALARM:202:2', 'OK:202:1']);
    expect(target.bodies[1]!.detail.previousState.value).toBe('ALARM');
  });
});

import { randomUUID } from 'node:crypto';
import { stableHash } from '../../../functions/core/classifier/identity.ts';
import type { AwsAccount } from './account.ts';
import { awsTime, uuidFrom } from './ids.ts';
import type { MetricKey } from './metric-store.ts';

/**
 * CloudWatch alarms of the simulated account, evaluated every couple of seconds on the metrics the
 * models record, the way CloudWatch evaluates them: the last `evaluationPeriods` complete periods of
 * the statistic, `datapointsToAlarm` of them breaching for ALARM, missing data treated as the alarm
 * says. Every state change is delivered as EventBridge delivers it, a `CloudWatch Alarm State Change`
 * event POSTed to the receiver (the platform's /events), in order per alarm, retried while the
 * receiver is down or busy (EventBridge retries for 24 hours).
 *
 * Periods are short here (10 s) so a fix shows within seconds; each alarm also says what AWS's
 * recommended alarm uses (`recommended`), which is what it stands for.
 */

export type Comparison =
  | 'GreaterThanThreshold'
  | 'GreaterThanOrEqualToThreshold'
  | 'LessThanThreshold'
  | 'LessThanOrEqualToThreshold';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmDefinition {
  name: string;
  description: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  /** Sum, Average, Maximum, Minimum, SampleCount or pNN. */
  statistic: string;
  /** Seconds, as the simulation evaluates it. */
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  threshold: number;
  comparison: Comparison;
  treatMissingData: 'missing' | 'notBreaching' | 'breaching' | 'ignore';
  /** AWS's recommended alarm for this metric (what it stands for; the simulation shortens the period). */
  recommended: { period: number; evaluationPeriods: number; datapointsToAlarm: number; threshold: string };
}

export interface AlarmStatus {
  value: AlarmState;
  reason: string;
  reasonData?: string;
  /** Seconds. */
  at: number;
}

export interface Alarm {
  definition: AlarmDefinition;
  arn: string;
  state: AlarmStatus;
  /** When it last entered ALARM (for the demo), and every transition. */
  transitions: Array<{ from: AlarmState; to: AlarmState; at: number }>;
}

export interface AlarmDelivery {
  alarmName: string;
  state: AlarmState;
  previousState: AlarmState;
  at: string;
  /** The receiver's HTTP status (0: not reached yet), and its answer when JSON. */
  httpStatus: number;
  attempts: number;
  response?: unknown;
}

/** CloudWatch's "GreaterThanThreshold" as its reason text says it. */
const COMPARISON_TEXT: Record<Comparison, string> = {
  GreaterThanThreshold: 'greater than',
  GreaterThanOrEqualToThreshold: 'greater than or equal to',
  LessThanThreshold: 'less than',
  LessThanOrEqualToThreshold: 'less than or equal to',
};

const EVALUATE_EVERY_SECONDS = 2;
const RETRY_SECONDS = 2;
const RETRY_FOR_SECONDS = 24 * 3_600;

/** Java's Double.toString, as CloudWatch prints datapoints: 412.0, 0.25. */
function javaNumber(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(Number(value.toPrecision(12)));
}

/** `25/11/26 14:06:00`, CloudWatch's datapoint time in reasons (UTC). */
function reasonTime(seconds: number): string {
  const date = new Date(seconds * 1_000);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${pad(date.getUTCMonth() + 1)}/${String(date.getUTCFullYear()).slice(2)} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
}

function breaches(comparison: Comparison, value: number, threshold: number): boolean {
  switch (comparison) {
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
  }
}

export class AlarmSet {
  readonly alarms = new Map<string, Alarm>();
  readonly deliveries: AlarmDelivery[] = [];
  private readonly pending: Array<{
    event: unknown;
    delivery: AlarmDelivery;
    firstTry: number;
    nextTry: number;
  }> = [];
  private receiverUrl: string | undefined;
  private lastEvaluation = 0;
  private delivering = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly account: AwsAccount) {}

  define(definition: AlarmDefinition): Alarm {
    const existing = this.alarms.get(definition.name);
    if (existing) return existing;
    const alarm: Alarm = {
      definition,
      arn: this.account.arn('cloudwatch', `alarm:${definition.name}`),
      state: {
        value: 'OK',
        reason: 'Threshold Crossed: the alarm was OK before the simulation started',
        at: this.account.startedAt - 3 * 86_400,
      },
      transitions: [],
    };
    this.alarms.set(definition.name, alarm);
    return alarm;
  }

  /** The fingerprint the platform gives this alarm's alerts (the hash of its ARN): ALARM and OK meet in one incident. */
  fingerprint(alarm: Alarm): string {
    return stableHash([alarm.arn], 16);
  }

  /** Where state changes go (the platform's POST /events); changes before it was known are delivered now. */
  setReceiver(url: string): void {
    this.receiverUrl = url;
    for (const entry of this.pending) entry.nextTry = 0;
    void this.deliver();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  /** Evaluates every alarm (at most every couple of seconds) and delivers what changed. */
  tick(now: number): void {
    if (now - this.lastEvaluation >= EVALUATE_EVERY_SECONDS) {
      this.lastEvaluation = now;
      for (const alarm of this.alarms.values()) this.evaluate(alarm, now);
    }
    void this.deliver();
  }

  evaluate(alarm: Alarm, now: number): void {
    const verdict = this.verdict(alarm, now);
    if (verdict.value === alarm.state.value) return;
    const previous = alarm.state;
    alarm.state = verdict;
    alarm.transitions.push({ from: previous.value, to: verdict.value, at: now });
    this.account.note(
      `cloudwatch: alarm ${alarm.definition.name} ${previous.value} → ${verdict.value} (${verdict.reason})`,
    );
    const event = this.event(alarm, previous);
    const delivery: AlarmDelivery = {
      alarmName: alarm.definition.name,
      state: verdict.value,
      previousState: previous.value,
      at: new Date(now * 1_000).toISOString(),
      httpStatus: 0,
      attempts: 0,
    };
    this.deliveries.push(delivery);
    this.pending.push({ event, delivery, firstTry: now, nextTry: 0 });
  }

  /**
   * The state the alarm's evaluation at `now` gives, with CloudWatch's reason and reason data; it
   * changes nothing. (Levels hold until the models record a change, so a later `now` says what the
   * alarm will do if nothing changes.)
   */
  verdict(alarm: Alarm, now: number): AlarmStatus {
    const definition = alarm.definition;
    const { period, evaluationPeriods } = definition;
    const end = Math.floor(now / period) * period;
    const start = end - evaluationPeriods * period;
    const key: MetricKey = {
      namespace: definition.namespace,
      metricName: definition.metricName,
      dimensions: definition.dimensions,
    };
    const points = this.account.metrics.read(key, definition.statistic, period, start, end, now);
    const byTime = new Map(points.map((point) => [point.timestamp, point]));
    const evaluated: Array<{ timestamp: number; value: number | undefined; sampleCount: number }> = [];
    for (let time = end - period; time >= start; time -= period) {
      const point = byTime.get(time);
      evaluated.push({ timestamp: time, value: point?.value, sampleCount: point?.sampleCount ?? 0 });
    }
    const present = evaluated.filter((point) => point.value !== undefined);
    const missing = evaluated.length - present.length;
    let breaching = present.filter((point) =>
      breaches(definition.comparison, point.value!, definition.threshold),
    ).length;
    if (definition.treatMissingData === 'breaching') breaching += missing;
    let next: AlarmState;
    if (breaching >= definition.datapointsToAlarm) next = 'ALARM';
    else if (present.length === 0 && definition.treatMissingData === 'missing') next = 'INSUFFICIENT_DATA';
    else if (present.length === 0 && definition.treatMissingData === 'ignore') next = alarm.state.value;
    else next = 'OK';
    if (next === alarm.state.value) return alarm.state;

    const comparison = COMPARISON_TEXT[definition.comparison];
    const listed = present
      .map((point) => `${javaNumber(point.value!)} (${reasonTime(point.timestamp)})`)
      .join(', ');
    let reason: string;
    if (next === 'INSUFFICIENT_DATA')
      reason = `Insufficient Data: ${evaluationPeriods} datapoint${evaluationPeriods === 1 ? ' was' : 's were'} unknown.`;
    else if (present.length === 0)
      reason = `Threshold Crossed: no datapoints were received for ${missing} period${missing === 1 ? '' : 's'} and ${missing} missing datapoint${missing === 1 ? ' was' : 's were'} treated as [${definition.treatMissingData === 'breaching' ? 'Breaching' : 'NonBreaching'}].`;
    else {
      const counted = next === 'ALARM' ? breaching : present.length - breaching;
      const transition = `${alarm.state.value} -> ${next}`;
      reason =
        evaluated.length === 1
          ? `Threshold Crossed: 1 datapoint [${listed}] was ${next === 'ALARM' ? '' : 'not '}${comparison} the threshold (${javaNumber(definition.threshold)}).`
          : `Threshold Crossed: ${counted} out of the last ${evaluated.length} datapoints [${listed}] were ${next === 'ALARM' ? '' : 'not '}${comparison} the threshold (${javaNumber(definition.threshold)}) (minimum ${definition.datapointsToAlarm} datapoint${definition.datapointsToAlarm === 1 ? '' : 's'} for ${transition} transition).`;
    }
    const reasonData = JSON.stringify({
      version: '1.0',
      queryDate: awsTime(now),
      startDate: awsTime(start),
      statistic: definition.statistic,
      period,
      recentDatapoints: [...present].reverse().map((point) => point.value),
      threshold: definition.threshold,
      evaluatedDatapoints: evaluated.map((point) => ({
        timestamp: awsTime(point.timestamp),
        ...(point.value === undefined ? {} : { sampleCount: point.sampleCount, value: point.value }),
      })),
    });
    return { value: next, reason, reasonData, at: now };
  }

  /** The EventBridge event for the alarm's current state, as CloudWatch sends it to the default bus. */
  event(alarm: Alarm, previous: AlarmStatus): unknown {
    const definition = alarm.definition;
    const status = (state: AlarmStatus) => ({
      value: state.value,
      reason: state.reason,
      ...(state.reasonData ? { reasonData: state.reasonData } : {}),
      timestamp: awsTime(state.at),
    });
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: this.account.accountId,
      time: new Date(Math.floor(alarm.state.at) * 1_000).toISOString().replace('.000Z', 'Z'),
      region: this.account.region,
      resources: [alarm.arn],
      detail: {
        alarmName: definition.name,
        state: status(alarm.state),
        previousState: status(previous),
        configuration: {
          description: definition.description,
          metrics: [
            {
              id: uuidFrom(`${alarm.arn}-metric`),
              metricStat: {
                metric: {
                  namespace: definition.namespace,
                  name: definition.metricName,
                  dimensions: definition.dimensions,
                },
                period: definition.period,
                stat: definition.statistic,
              },
              returnData: true,
            },
          ],
        },
      },
    };
  }

  /** Sends what is due, oldest first, one at a time (so an alarm's ALARM arrives before its OK). */
  private async deliver(): Promise<void> {
    if (this.delivering || this.stopped || !this.receiverUrl) return;
    this.delivering = true;
    try {
      while (this.pending.length > 0 && !this.stopped) {
        const entry = this.pending[0]!;
        const now = Date.now() / 1_000;
        if (entry.nextTry > now) return;
        entry.delivery.attempts += 1;
        let status = 0;
        let body: unknown;
        try {
          const response = await fetch(this.receiverUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(entry.event),
            signal: AbortSignal.timeout(10_000),
          });
          status = response.status;
          const text = await response.text();
          try {
            body = JSON.parse(text);
          } catch {
            body = text.slice(0, 500);
          }
        } catch {
          status = 0;
        }
        entry.delivery.httpStatus = status;
        if (body !== undefined) entry.delivery.response = body;
        const retry = status === 0 || status === 429 || status >= 500;
        if (retry && now - entry.firstTry < RETRY_FOR_SECONDS) {
          entry.nextTry = now + RETRY_SECONDS;
          // Retried on time even when nothing ticks the account meanwhile.
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => void this.deliver(), RETRY_SECONDS * 1_000);
          this.retryTimer.unref();
          return;
        }
        this.pending.shift();
        this.account.note(
          status >= 200 && status < 300
            ? `eventbridge: delivered ${entry.delivery.alarmName} ${entry.delivery.previousState} → ${entry.delivery.state} to ${this.receiverUrl} (${status})`
            : `eventbridge: ${this.receiverUrl} refused ${entry.delivery.alarmName} ${entry.delivery.state} (${status}): ${JSON.stringify(body).slice(0, 300)}`,
        );
      }
    } finally {
      this.delivering = false;
    }
  }
}

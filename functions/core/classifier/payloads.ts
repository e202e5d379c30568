import * as z from 'zod';
import { InvalidEventError, type Problem } from '../errors.ts';
import { assertJsonDepth } from '../json-limits.ts';
import { describeIssue, type Issue } from '../runbook/issues.ts';
import { formatPath, type PathSegment } from '../runbook/path.ts';

/**
 * The external payloads, as their senders really send them (DESIGN.md "External payloads"). Strict
 * where a field is needed and its type is fixed; loose objects everywhere, because senders add fields
 * (Grafana's `orgId`, CloudWatch's `alarmTags`, Step Functions' `redriveCount`). The schemas only
 * validate (no transforms), so parsing a parsed payload again gives the same result.
 */

// ---------------------------------------------------------------------------------------------------------------
// Timestamps

/**
 * The timestamp shapes the senders use: Go's RFC 3339 with nanoseconds (`2018-08-03T09:52:26.739266876+02:00`),
 * EventBridge's `2019-10-02T17:04:40Z`, and CloudWatch's offset without a colon (`2019-10-02T17:04:40.989+0000`).
 */
const TIMESTAMP_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})$/;

/** Go's zero time: Alertmanager's `endsAt` of a firing alert. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** An RFC 3339 timestamp (any of the senders' variants) as `toISOString()` writes it; undefined if it is not one. */
export function toIsoTimestamp(text: string): string | undefined {
  const everyday = everydayIso(text);
  if (everyday !== undefined) return everyday;
  const match = TIMESTAMP_PATTERN.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction = '', zone = 'Z'] = match;
  // Every field in its everyday range (what senders send): the instant by arithmetic, no text to parse.
  // Anything else (24:00, a day past the month, an offset past 23:59) is Date's call, and so is 29 February
  // of years 0–99, which the calendar check below has always read as 1900–1999 (0000-02-29 is refused).
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  const h = Number(hour);
  const min = Number(minute);
  const sec = Number(second);
  if (
    (y >= 100 || m !== 2 || d !== 29) &&
    m >= 1 &&
    m <= 12 &&
    d >= 1 &&
    d <= daysInMonth(y, m) &&
    h <= 23 &&
    min <= 59 &&
    sec <= 59
  ) {
    let offsetMinutes = 0;
    if (zone !== 'Z' && zone !== 'z') {
      const offsetHours = Number(zone.slice(1, 3));
      const minutes = Number(zone.slice(-2));
      if (offsetHours > 23 || minutes > 59) return isoByDate(match);
      offsetMinutes = (zone[0] === '-' ? -1 : 1) * (offsetHours * 60 + minutes);
    }
    const digits = fraction.length === 3 ? fraction : fraction.padEnd(3, '0').slice(0, 3);
    // In UTC the fields are the answer's own: toISOString would write them back as they are.
    if (offsetMinutes === 0) return `${year}-${month}-${day}T${hour}:${minute}:${second}.${digits}Z`;
    const millis = Number(digits);
    let instant = Date.UTC(y, m - 1, d, h, min, sec, millis);
    // Date.UTC reads years 0–99 as 1900–1999 (Go's zero time is year 1): set the year itself.
    if (y < 100) instant = new Date(instant).setUTCFullYear(y);
    return new Date(instant - offsetMinutes * 60_000).toISOString();
  }
  return isoByDate(match);
}

/** The number of the two digits at `at`, or -1 where there are no two digits. */
function twoDigits(text: string, at: number): number {
  const tens = text.charCodeAt(at) - 48;
  const ones = text.charCodeAt(at + 1) - 48;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1;
}

/**
 * toIsoTimestamp's arithmetic read from the characters where the text is an everyday timestamp (a year
 * from 100, every field in range, an offset up to 23:59), without the pattern's substrings; undefined for
 * anything else, which the pattern then reads (and may still accept).
 */
function everydayIso(text: string): string | undefined {
  if (text.length < 20) return undefined;
  const century = twoDigits(text, 0);
  const yearOfCentury = twoDigits(text, 2);
  const y = century * 100 + yearOfCentury;
  const m = twoDigits(text, 5);
  const d = twoDigits(text, 8);
  const h = twoDigits(text, 11);
  const min = twoDigits(text, 14);
  const sec = twoDigits(text, 17);
  const t = text.charCodeAt(10);
  if (
    century < 1 ||
    yearOfCentury < 0 ||
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    (t !== 84 && t !== 116) ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58 ||
    m < 1 ||
    m > 12 ||
    d < 1 ||
    d > daysInMonth(y, m) ||
    h < 0 ||
    h > 23 ||
    min < 0 ||
    min > 59 ||
    sec < 0 ||
    sec > 59
  )
    return undefined;
  let at = 19;
  let digits = '000';
  if (text.charCodeAt(at) === 46) {
    const start = ++at;
    while (at < text.length && text.charCodeAt(at) >= 48 && text.charCodeAt(at) <= 57) at++;
    if (at === start) return undefined;
    digits = at - start >= 3 ? text.slice(start, start + 3) : text.slice(start, at).padEnd(3, '0');
  }
  const zone = text.charCodeAt(at);
  let offsetMinutes = 0;
  if (zone === 90 || zone === 122) {
    if (at + 1 !== text.length) return undefined;
  } else if (zone === 43 || zone === 45) {
    const colon = text.charCodeAt(at + 3) === 58 ? 1 : 0;
    if (at + 5 + colon !== text.length) return undefined;
    const offsetHours = twoDigits(text, at + 1);
    const minutes = twoDigits(text, at + 3 + colon);
    if (offsetHours < 0 || offsetHours > 23 || minutes < 0 || minutes > 59) return undefined;
    offsetMinutes = (zone === 45 ? -1 : 1) * (offsetHours * 60 + minutes);
  } else return undefined;
  // In UTC the fields are the answer's own: toISOString would write them back as they are (the text
  // itself, or its start, where it already writes them so: a T, three digits of fraction).
  if (offsetMinutes === 0) {
    if (t === 84 && at === 23) return zone === 90 && at + 1 === text.length ? text : `${text.slice(0, 23)}Z`;
    return `${text.slice(0, 10)}T${text.slice(11, 19)}.${digits}Z`;
  }
  const instant = Date.UTC(y, m - 1, d, h, min, sec, Number(digits));
  return new Date(instant - offsetMinutes * 60_000).toISOString();
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** The timestamp as Date reads it (every case toIsoTimestamp's arithmetic leaves to it); exported for its test. */
export function isoByDate(match: RegExpExecArray): string | undefined {
  const [, year, month, day, hour, minute, second, fraction = '', zone = 'Z'] = match;
  const millis = fraction.padEnd(3, '0').slice(0, 3);
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const date = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}.${millis}${offset}`);
  if (Number.isNaN(date.getTime())) return undefined;
  // Date rolls 2024-02-31 over into March; a calendar date that does not exist is not a timestamp.
  const local = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (local.getUTCDate() !== Number(day) || local.getUTCMonth() !== Number(month) - 1) return undefined;
  return date.toISOString();
}

/** The pattern toIsoTimestamp reads timestamps with (for its test). */
export function matchTimestamp(text: string): RegExpExecArray | null {
  return TIMESTAMP_PATTERN.exec(text);
}

/** True for Go's zero time in any of its spellings. */
export function isZeroTime(text: string): boolean {
  return toIsoTimestamp(text) === '0001-01-01T00:00:00.000Z';
}

const Timestamp = z.string().refine((text) => toIsoTimestamp(text) !== undefined, {
  error: 'expected an RFC 3339 timestamp such as 2024-05-02T17:04:40Z',
});

/** Labels and annotations: string to string, nothing else. */
const StringMap = z.record(z.string(), z.string());

// ---------------------------------------------------------------------------------------------------------------
// Alertmanager webhook (version 4)

export const AlertmanagerAlert = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels: StringMap.refine((labels) => (labels.alertname ?? '') !== '', {
    error: 'expected an alertname label (every Prometheus alert has one)',
    path: ['alertname'],
  }),
  annotations: StringMap.default({}),
  startsAt: Timestamp,
  /** `0001-01-01T00:00:00Z` while firing: Alertmanager hides an end that has not been reached. */
  endsAt: Timestamp.optional(),
  generatorURL: z.string().optional(),
  /** Alertmanager 0.19+ sends it; computed from the labels (the same way) when absent. */
  fingerprint: z.string().min(1).optional(),
});
export type AlertmanagerAlert = z.infer<typeof AlertmanagerAlert>;

export const AlertmanagerWebhook = z.looseObject({
  version: z.literal('4', { error: 'expected "4" (the Alertmanager webhook payload version)' }),
  groupKey: z.string(),
  /** How many alerts the sender left out because of `max_alerts`; older Alertmanagers omit it. */
  truncatedAlerts: z.number().int().min(0).default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: StringMap.default({}),
  commonLabels: StringMap.default({}),
  commonAnnotations: StringMap.default({}),
  externalURL: z.string(),
  alerts: z.array(AlertmanagerAlert),
});
export type AlertmanagerWebhook = z.infer<typeof AlertmanagerWebhook>;

// ---------------------------------------------------------------------------------------------------------------
// EventBridge envelope

export const EventBridgeEvent = z.looseObject({
  version: z.string(),
  id: z.string().min(1),
  'detail-type': z.string().min(1),
  source: z.string().min(1),
  account: z.string().regex(/^\d{12}$/, { error: 'expected a 12-digit AWS account id' }),
  time: Timestamp,
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { error: 'expected an AWS region such as eu-west-1' }),
  resources: z.array(z.string()).default([]),
  detail: z.record(z.string(), z.unknown()),
});
export type EventBridgeEvent = z.infer<typeof EventBridgeEvent>;

export const DetailType = {
  CloudWatchAlarmStateChange: 'CloudWatch Alarm State Change',
  StepFunctionsExecutionStatusChange: 'Step Functions Execution Status Change',
} as const;

// ---------------------------------------------------------------------------------------------------------------
// CloudWatch Alarm State Change

export const AlarmStateValue = z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']);
export type AlarmStateValue = z.infer<typeof AlarmStateValue>;

export const AlarmState = z.looseObject({
  value: AlarmStateValue,
  reason: z.string().default(''),
  /** A JSON document in a string; absent on some transitions ("Unchecked: Initial alarm creation"). */
  reasonData: z.string().optional(),
  timestamp: Timestamp,
});
export type AlarmState = z.infer<typeof AlarmState>;

export const AlarmMetricStat = z.looseObject({
  metric: z.looseObject({
    namespace: z.string().min(1),
    name: z.string().min(1),
    /** `{}` for metrics without dimensions (account-wide Lambda ConcurrentExecutions). */
    dimensions: StringMap.default({}),
  }),
  period: z.number().int().positive(),
  stat: z.string().min(1),
  unit: z.string().optional(),
});
export type AlarmMetricStat = z.infer<typeof AlarmMetricStat>;

export const AlarmMetric = z
  .looseObject({
    id: z.string().min(1),
    metricStat: AlarmMetricStat.optional(),
    expression: z.string().min(1).optional(),
    label: z.string().optional(),
    returnData: z.boolean().optional(),
    period: z.number().int().positive().optional(),
  })
  .refine((metric) => metric.metricStat !== undefined || metric.expression !== undefined, {
    error: 'expected a metricStat or an expression',
  });
export type AlarmMetric = z.infer<typeof AlarmMetric>;

export const CloudWatchAlarmDetail = z.looseObject({
  alarmName: z.string().min(1),
  state: AlarmState,
  previousState: AlarmState.optional(),
  /** Composite alarms carry `alarmRule` and no metrics. */
  configuration: z
    .looseObject({
      description: z.string().optional(),
      metrics: z.array(AlarmMetric).default([]),
      alarmRule: z.string().optional(),
    })
    .default({ metrics: [] }),
  /** Present when the alarm propagates its tags to events. */
  alarmTags: StringMap.optional(),
});
export type CloudWatchAlarmDetail = z.infer<typeof CloudWatchAlarmDetail>;

export const CloudWatchAlarmEvent = EventBridgeEvent.extend({
  'detail-type': z.literal(DetailType.CloudWatchAlarmStateChange, {
    error: `expected "${DetailType.CloudWatchAlarmStateChange}"`,
  }),
  detail: CloudWatchAlarmDetail,
});
export type CloudWatchAlarmEvent = z.infer<typeof CloudWatchAlarmEvent>;

// ---------------------------------------------------------------------------------------------------------------
// Step Functions Execution Status Change

export const ExecutionStatusValue = z.enum([
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
  'PENDING_REDRIVE',
]);
export type ExecutionStatusValue = z.infer<typeof ExecutionStatusValue>;

/** Step Functions sends dates as epoch milliseconds (numbers), `null` where there is none yet. */
const EpochMillis = z.number().int().min(0);
const Arn = (service: string) =>
  z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:`), { error: `expected an ARN of ${service}` });

export const StepFunctionsStatusDetail = z.looseObject({
  executionArn: Arn('states'),
  stateMachineArn: Arn('states'),
  name: z.string().min(1),
  status: ExecutionStatusValue,
  startDate: EpochMillis,
  stopDate: EpochMillis.nullable().default(null),
  /** JSON in a string; null when it was too large to include (inputDetails.included false). */
  input: z.string().nullable().default(null),
  output: z.string().nullable().default(null),
  inputDetails: z.looseObject({ included: z.boolean() }).nullable().optional(),
  outputDetails: z.looseObject({ included: z.boolean() }).nullable().optional(),
  error: z.string().nullable().optional(),
  cause: z.string().nullable().optional(),
});
export type StepFunctionsStatusDetail = z.infer<typeof StepFunctionsStatusDetail>;

export const StepFunctionsStatusEvent = EventBridgeEvent.extend({
  'detail-type': z.literal(DetailType.StepFunctionsExecutionStatusChange, {
    error: `expected "${DetailType.StepFunctionsExecutionStatusChange}"`,
  }),
  detail: StepFunctionsStatusDetail,
});
export type StepFunctionsStatusEvent = z.infer<typeof StepFunctionsStatusEvent>;

/** Step Functions' epoch milliseconds as an ISO timestamp. */
export function epochMillisToIso(millis: number): string {
  return new Date(millis).toISOString();
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing: every problem, each naming its field

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function preview(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function issueMessage(issue: Issue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
    case 'invalid_value':
    case 'too_small':
    case 'too_big':
      // A literal's own message says what it wants better than "must be one of".
      if (issue.code === 'invalid_value' && !issue.message.startsWith('Invalid')) {
        return `${issue.message}, got ${preview(value)}`;
      }
      return describeIssue(issue, value);
    default:
      return value === undefined ? issue.message : `${issue.message}, got ${preview(value)}`;
  }
}

/** zod issues as problems whose path names the bad field (`alerts[3].startsAt`). */
export function payloadProblems(data: unknown, issues: readonly Issue[]): Problem[] {
  return issues.map((issue) => {
    const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
    return { check: 'schema', path: formatPath(path), message: issueMessage(issue, valueAt(data, path)) };
  });
}

/** Parses a payload or throws InvalidEventError listing every problem; `what` names it in the message. */
export function parsePayload<Schema extends z.ZodType>(
  schema: Schema,
  data: unknown,
  what: string,
): z.infer<Schema> {
  assertJsonDepth(data, `the ${what}`);
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const problems = payloadProblems(data, result.error.issues);
  const first = problems[0]!;
  const more =
    problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  throw new InvalidEventError(
    `invalid ${what}: ${first.path === '' ? '' : `${first.path}: `}${first.message}${more}`,
    problems,
    { cause: result.error },
  );
}

export function parseAlertmanagerWebhook(body: unknown): AlertmanagerWebhook {
  return parsePayload(AlertmanagerWebhook, body, 'Alertmanager webhook body');
}

export function parseEventBridgeEvent(event: unknown): EventBridgeEvent {
  return parsePayload(EventBridgeEvent, event, 'EventBridge event');
}

export function parseCloudWatchAlarmEvent(event: unknown): CloudWatchAlarmEvent {
  return parsePayload(CloudWatchAlarmEvent, event, `${DetailType.CloudWatchAlarmStateChange} event`);
}

export function parseStepFunctionsStatusEvent(event: unknown): StepFunctionsStatusEvent {
  return parsePayload(
    StepFunctionsStatusEvent,
    event,
    `${DetailType.StepFunctionsExecutionStatusChange} event`,
  );
}

import { MAX_JSON_DEPTH } from '../json-limits.ts';
import {
  type AlertmanagerWebhook,
  type CloudWatchAlarmEvent,
  DetailType,
  toIsoTimestamp,
} from './payloads.ts';

/**
 * A structural check in front of zod for the two payloads every alert arrives in (an Alertmanager
 * webhook v4, a CloudWatch alarm state-change event), for the common, valid shape. It either vouches
 * for a payload, returning exactly what zod's schema (payloads.ts) returns for it — the same keys in
 * the same order, defaults filled, unknown fields passed through by reference, new objects where zod
 * makes new ones — or it defers (undefined) and the caller parses with zod, which keeps producing
 * every error message. It never says "invalid". test/unit/core/classifier/fast-payloads.test.ts
 * proves the equivalence over generated valid and mutated payloads.
 *
 * It defers on anything outside what JSON.parse makes of a well-formed payload: objects whose
 * prototype is not Object.prototype, `__proto__` keys (zod drops them), known keys holding undefined,
 * numbers that are not safe integers, payloads nesting deeper than MAX_JSON_DEPTH (assertJsonDepth's
 * refusal stays zod's path). Timestamps are parsed once here; their ISO forms come back with the
 * payload so normalize does not parse them again.
 */

/**
 * Two ways to vouch: `build` makes the value zod returns (new objects where zod makes new ones, defaults
 * filled); in place (`build` false) the payload itself is the value, vouched for only where zod's value
 * would equal it: every defaulted field present (what senders send), nothing to drop. Normalize reads
 * the payload in place and copies what its alert keeps (labels and annotations).
 */
type Build = boolean;

/** What the check vouched for, and the ISO form of every timestamp in it (by its text). */
export interface Vouched<T> {
  value: T;
  timestamps: ReadonlyMap<string, string>;
}

// Returned by a field check that cannot vouch; everything above it defers.
const DEFER: unique symbol = Symbol('defer');
type Checked<T> = T | typeof DEFER;

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

/** True when `value`, found at `depth`, nests no object at depth MAX_JSON_DEPTH or deeper (assertJsonDepth's rule). */
function withinDepth(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!withinDepth(item, depth + 1)) return false;
    return true;
  }
  for (const key of Object.keys(value)) if (!withinDepth((value as Plain)[key], depth + 1)) return false;
  return true;
}

/**
 * Copies the fields of `input` that `known` does not name into `output`, in zod's order (for…in, after
 * the shape's keys); defers on `__proto__` (zod drops it) and on values nesting too deep.
 */
function passUnknown(
  input: Plain,
  output: Plain | undefined,
  known: ReadonlySet<string>,
  depth: number,
): boolean {
  for (const key in input) {
    if (known.has(key)) continue;
    if (key === '__proto__') return false;
    const value = input[key];
    if (!withinDepth(value, depth + 1)) return false;
    if (output !== undefined) output[key] = value;
  }
  return true;
}

/** z.record(z.string(), z.string()): a new object, same keys in the same order (in place: the value itself). */
function stringMap(value: unknown, build: Build): Checked<Record<string, string>> {
  if (!isPlain(value)) return DEFER;
  if (!build) {
    for (const key in value) if (key === '__proto__' || typeof value[key] !== 'string') return DEFER;
    return value as Record<string, string>;
  }
  const output: Record<string, string> = {};
  for (const key in value) {
    if (key === '__proto__') return DEFER;
    const item = value[key];
    if (typeof item !== 'string') return DEFER;
    output[key] = item;
  }
  return output;
}

/**
 * A field's value (`value`: input[key], read by the caller under its own name, a load V8 caches per call
 * site) when present; undefined when absent; DEFER when present but undefined (zod keeps such a key).
 */
function field(input: Plain, key: string, value: unknown): unknown {
  if (value === undefined && key in input) return DEFER;
  return value;
}

class TimestampReader {
  readonly timestamps = new Map<string, string>();
  /** The text when it is an RFC 3339 timestamp (its ISO form remembered); DEFER otherwise. */
  read(value: unknown): Checked<string> {
    if (typeof value !== 'string') return DEFER;
    if (this.timestamps.has(value)) return value;
    const iso = toIsoTimestamp(value);
    if (iso === undefined) return DEFER;
    this.timestamps.set(value, iso);
    return value;
  }
}

const isFiringOrResolved = (value: unknown): value is 'firing' | 'resolved' =>
  value === 'firing' || value === 'resolved';

// ---------------------------------------------------------------------------------------------------------------
// Alertmanager webhook v4

const WEBHOOK_KEYS = new Set([
  'version',
  'groupKey',
  'truncatedAlerts',
  'status',
  'receiver',
  'groupLabels',
  'commonLabels',
  'commonAnnotations',
  'externalURL',
  'alerts',
]);
const ALERT_KEYS = new Set([
  'status',
  'labels',
  'annotations',
  'startsAt',
  'endsAt',
  'generatorURL',
  'fingerprint',
]);

/** A defaulted field: its default when absent (in place: absent defers, the payload would not be zod's value). */
function optionalStringMap(value: unknown, build: Build): Checked<Record<string, string>> {
  if (value === undefined) return build ? {} : DEFER;
  return stringMap(value, build);
}

function alertmanagerAlert(input: unknown, times: TimestampReader, build: Build): Checked<Plain> {
  if (!isPlain(input)) return DEFER;
  const status = field(input, 'status', input.status);
  if (!isFiringOrResolved(status)) return DEFER;
  const labels = stringMap(field(input, 'labels', input.labels), build);
  if (labels === DEFER || (labels.alertname ?? '') === '') return DEFER;
  const annotations = optionalStringMap(field(input, 'annotations', input.annotations), build);
  if (annotations === DEFER) return DEFER;
  const startsAt = times.read(field(input, 'startsAt', input.startsAt));
  if (startsAt === DEFER) return DEFER;
  const output: Plain | undefined = build ? { status, labels, annotations, startsAt } : undefined;
  const endsAt = field(input, 'endsAt', input.endsAt);
  if (endsAt !== undefined) {
    if (times.read(endsAt) === DEFER) return DEFER;
    if (output !== undefined) output.endsAt = endsAt;
  }
  const generatorURL = field(input, 'generatorURL', input.generatorURL);
  if (generatorURL !== undefined) {
    if (typeof generatorURL !== 'string') return DEFER;
    if (output !== undefined) output.generatorURL = generatorURL;
  }
  const fingerprint = field(input, 'fingerprint', input.fingerprint);
  if (fingerprint !== undefined) {
    if (typeof fingerprint !== 'string' || fingerprint.length === 0) return DEFER;
    if (output !== undefined) output.fingerprint = fingerprint;
  }
  // An alert sits at depth 2 (body → alerts → alert).
  return passUnknown(input, output, ALERT_KEYS, 2) ? (output ?? input) : DEFER;
}

/** The webhook as AlertmanagerWebhook.parse returns it, or undefined: parse it with zod. */
export function vouchAlertmanagerWebhook(body: unknown): Vouched<AlertmanagerWebhook> | undefined {
  return alertmanagerWebhook(body, true);
}

/**
 * The body itself, where AlertmanagerWebhook.parse would return a value equal to it (deep-equal; its
 * objects are the body's, not copies); undefined otherwise (vouchAlertmanagerWebhook may still vouch).
 */
export function vouchAlertmanagerWebhookInPlace(body: unknown): Vouched<AlertmanagerWebhook> | undefined {
  return alertmanagerWebhook(body, false);
}

function alertmanagerWebhook(body: unknown, build: Build): Vouched<AlertmanagerWebhook> | undefined {
  if (!isPlain(body)) return undefined;
  const times = new TimestampReader();
  if (field(body, 'version', body.version) !== '4') return undefined;
  const groupKey = field(body, 'groupKey', body.groupKey);
  if (typeof groupKey !== 'string') return undefined;
  let truncatedAlerts = field(body, 'truncatedAlerts', body.truncatedAlerts);
  if (truncatedAlerts === undefined) {
    if (!build) return undefined;
    truncatedAlerts = 0;
  } else if (!Number.isSafeInteger(truncatedAlerts) || (truncatedAlerts as number) < 0) return undefined;
  const status = field(body, 'status', body.status);
  if (!isFiringOrResolved(status)) return undefined;
  const receiver = field(body, 'receiver', body.receiver);
  if (typeof receiver !== 'string') return undefined;
  const groupLabels = optionalStringMap(field(body, 'groupLabels', body.groupLabels), build);
  if (groupLabels === DEFER) return undefined;
  const commonLabels = optionalStringMap(field(body, 'commonLabels', body.commonLabels), build);
  if (commonLabels === DEFER) return undefined;
  const commonAnnotations = optionalStringMap(
    field(body, 'commonAnnotations', body.commonAnnotations),
    build,
  );
  if (commonAnnotations === DEFER) return undefined;
  const externalURL = field(body, 'externalURL', body.externalURL);
  if (typeof externalURL !== 'string') return undefined;
  const rawAlerts = field(body, 'alerts', body.alerts);
  if (!Array.isArray(rawAlerts)) return undefined;
  const alerts: Plain[] = [];
  for (let index = 0; index < rawAlerts.length; index++) {
    const alert = alertmanagerAlert(rawAlerts[index], times, build);
    if (alert === DEFER) return undefined;
    if (build) alerts.push(alert);
  }
  if (!build)
    return passUnknown(body, undefined, WEBHOOK_KEYS, 0)
      ? { value: body as AlertmanagerWebhook, timestamps: times.timestamps }
      : undefined;
  const value: Plain = {
    version: '4',
    groupKey,
    truncatedAlerts,
    status,
    receiver,
    groupLabels,
    commonLabels,
    commonAnnotations,
    externalURL,
    alerts,
  };
  if (!passUnknown(body, value, WEBHOOK_KEYS, 0)) return undefined;
  return { value: value as AlertmanagerWebhook, timestamps: times.timestamps };
}

// ---------------------------------------------------------------------------------------------------------------
// CloudWatch Alarm State Change (EventBridge)

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const EVENT_KEYS = new Set([
  'version',
  'id',
  'detail-type',
  'source',
  'account',
  'time',
  'region',
  'resources',
  'detail',
]);
const DETAIL_KEYS = new Set(['alarmName', 'state', 'previousState', 'configuration', 'alarmTags']);
const STATE_KEYS = new Set(['value', 'reason', 'reasonData', 'timestamp']);
const CONFIGURATION_KEYS = new Set(['description', 'metrics', 'alarmRule']);
const METRIC_KEYS = new Set(['id', 'metricStat', 'expression', 'label', 'returnData', 'period']);
const METRIC_STAT_KEYS = new Set(['metric', 'period', 'stat', 'unit']);
const METRIC_NAME_KEYS = new Set(['namespace', 'name', 'dimensions']);

const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const positiveInteger = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) > 0;

function alarmState(input: unknown, times: TimestampReader, depth: number, build: Build): Checked<Plain> {
  if (!isPlain(input)) return DEFER;
  const value = field(input, 'value', input.value);
  if (value !== 'OK' && value !== 'ALARM' && value !== 'INSUFFICIENT_DATA') return DEFER;
  let reason = field(input, 'reason', input.reason);
  if (reason === undefined) {
    if (!build) return DEFER;
    reason = '';
  } else if (typeof reason !== 'string') return DEFER;
  const output: Plain | undefined = build ? { value, reason } : undefined;
  const reasonData = field(input, 'reasonData', input.reasonData);
  if (reasonData !== undefined) {
    if (typeof reasonData !== 'string') return DEFER;
    if (output !== undefined) output.reasonData = reasonData;
  }
  const timestamp = times.read(field(input, 'timestamp', input.timestamp));
  if (timestamp === DEFER) return DEFER;
  if (output !== undefined) output.timestamp = timestamp;
  return passUnknown(input, output, STATE_KEYS, depth) ? (output ?? input) : DEFER;
}

function metricStat(input: unknown, depth: number, build: Build): Checked<Plain> {
  if (!isPlain(input)) return DEFER;
  const metric = field(input, 'metric', input.metric);
  if (!isPlain(metric)) return DEFER;
  const namespace = field(metric, 'namespace', metric.namespace);
  const name = field(metric, 'name', metric.name);
  if (!nonEmptyString(namespace) || !nonEmptyString(name)) return DEFER;
  const dimensions = optionalStringMap(field(metric, 'dimensions', metric.dimensions), build);
  if (dimensions === DEFER) return DEFER;
  const metricOutput: Plain | undefined = build ? { namespace, name, dimensions } : undefined;
  if (!passUnknown(metric, metricOutput, METRIC_NAME_KEYS, depth + 1)) return DEFER;
  const period = field(input, 'period', input.period);
  if (!positiveInteger(period)) return DEFER;
  const stat = field(input, 'stat', input.stat);
  if (!nonEmptyString(stat)) return DEFER;
  const output: Plain | undefined = build ? { metric: metricOutput, period, stat } : undefined;
  const unit = field(input, 'unit', input.unit);
  if (unit !== undefined) {
    if (typeof unit !== 'string') return DEFER;
    if (output !== undefined) output.unit = unit;
  }
  return passUnknown(input, output, METRIC_STAT_KEYS, depth) ? (output ?? input) : DEFER;
}

function alarmMetric(input: unknown, depth: number, build: Build): Checked<Plain> {
  if (!isPlain(input)) return DEFER;
  const id = field(input, 'id', input.id);
  if (!nonEmptyString(id)) return DEFER;
  const output: Plain | undefined = build ? { id } : undefined;
  const stat = field(input, 'metricStat', input.metricStat);
  if (stat !== undefined) {
    const checked = metricStat(stat, depth + 1, build);
    if (checked === DEFER) return DEFER;
    if (output !== undefined) output.metricStat = checked;
  }
  const expression = field(input, 'expression', input.expression);
  if (expression !== undefined) {
    if (!nonEmptyString(expression)) return DEFER;
    if (output !== undefined) output.expression = expression;
  }
  // The schema's refine: a metric is a metricStat or an expression.
  if (stat === undefined && expression === undefined) return DEFER;
  const label = field(input, 'label', input.label);
  if (label !== undefined) {
    if (typeof label !== 'string') return DEFER;
    if (output !== undefined) output.label = label;
  }
  const returnData = field(input, 'returnData', input.returnData);
  if (returnData !== undefined) {
    if (typeof returnData !== 'boolean') return DEFER;
    if (output !== undefined) output.returnData = returnData;
  }
  const period = field(input, 'period', input.period);
  if (period !== undefined) {
    if (!positiveInteger(period)) return DEFER;
    if (output !== undefined) output.period = period;
  }
  return passUnknown(input, output, METRIC_KEYS, depth) ? (output ?? input) : DEFER;
}

function configuration(input: unknown, depth: number, build: Build): Checked<Plain> {
  if (input === undefined) return build ? { metrics: [] } : DEFER;
  if (!isPlain(input)) return DEFER;
  const output: Plain | undefined = build ? {} : undefined;
  const description = field(input, 'description', input.description);
  if (description !== undefined) {
    if (typeof description !== 'string') return DEFER;
    if (output !== undefined) output.description = description;
  }
  const rawMetrics = field(input, 'metrics', input.metrics);
  const metrics: Plain[] = [];
  if (rawMetrics === undefined) {
    if (!build) return DEFER;
  } else {
    if (!Array.isArray(rawMetrics)) return DEFER;
    for (let index = 0; index < rawMetrics.length; index++) {
      const metric = alarmMetric(rawMetrics[index], depth + 2, build);
      if (metric === DEFER) return DEFER;
      if (build) metrics.push(metric);
    }
  }
  if (output !== undefined) output.metrics = metrics;
  const alarmRule = field(input, 'alarmRule', input.alarmRule);
  if (alarmRule !== undefined) {
    if (typeof alarmRule !== 'string') return DEFER;
    if (output !== undefined) output.alarmRule = alarmRule;
  }
  return passUnknown(input, output, CONFIGURATION_KEYS, depth) ? (output ?? input) : DEFER;
}

function alarmDetail(input: unknown, times: TimestampReader, build: Build): Checked<Plain> {
  if (!isPlain(input)) return DEFER;
  const alarmName = field(input, 'alarmName', input.alarmName);
  if (!nonEmptyString(alarmName)) return DEFER;
  const state = alarmState(field(input, 'state', input.state), times, 2, build);
  if (state === DEFER) return DEFER;
  const output: Plain | undefined = build ? { alarmName, state } : undefined;
  const previous = field(input, 'previousState', input.previousState);
  if (previous !== undefined) {
    const previousState = alarmState(previous, times, 2, build);
    if (previousState === DEFER) return DEFER;
    if (output !== undefined) output.previousState = previousState;
  }
  const config = configuration(field(input, 'configuration', input.configuration), 2, build);
  if (config === DEFER) return DEFER;
  if (output !== undefined) output.configuration = config;
  const tags = field(input, 'alarmTags', input.alarmTags);
  if (tags !== undefined) {
    const alarmTags = stringMap(tags, build);
    if (alarmTags === DEFER) return DEFER;
    if (output !== undefined) output.alarmTags = alarmTags;
  }
  // The detail sits at depth 1 (event → detail).
  return passUnknown(input, output, DETAIL_KEYS, 1) ? (output ?? input) : DEFER;
}

/** The event as CloudWatchAlarmEvent.parse returns it, or undefined: parse it with zod. */
export function vouchCloudWatchAlarmEvent(event: unknown): Vouched<CloudWatchAlarmEvent> | undefined {
  return cloudWatchAlarmEvent(event, true);
}

/**
 * The event itself, where CloudWatchAlarmEvent.parse would return a value equal to it (deep-equal; its
 * objects are the event's, not copies); undefined otherwise (vouchCloudWatchAlarmEvent may still vouch).
 */
export function vouchCloudWatchAlarmEventInPlace(event: unknown): Vouched<CloudWatchAlarmEvent> | undefined {
  return cloudWatchAlarmEvent(event, false);
}

function cloudWatchAlarmEvent(event: unknown, build: Build): Vouched<CloudWatchAlarmEvent> | undefined {
  if (!isPlain(event)) return undefined;
  const times = new TimestampReader();
  const version = field(event, 'version', event.version);
  if (typeof version !== 'string') return undefined;
  const id = field(event, 'id', event.id);
  if (!nonEmptyString(id)) return undefined;
  if (field(event, 'detail-type', event['detail-type']) !== DetailType.CloudWatchAlarmStateChange)
    return undefined;
  const source = field(event, 'source', event.source);
  if (!nonEmptyString(source)) return undefined;
  const account = field(event, 'account', event.account);
  if (typeof account !== 'string' || !ACCOUNT.test(account)) return undefined;
  const time = times.read(field(event, 'time', event.time));
  if (time === DEFER) return undefined;
  const region = field(event, 'region', event.region);
  if (typeof region !== 'string' || !REGION.test(region)) return undefined;
  const rawResources = field(event, 'resources', event.resources);
  const resources: string[] = [];
  if (rawResources === undefined) {
    if (!build) return undefined;
  } else {
    if (!Array.isArray(rawResources)) return undefined;
    for (let index = 0; index < rawResources.length; index++) {
      const resource = rawResources[index];
      if (typeof resource !== 'string') return undefined;
      if (build) resources.push(resource);
    }
  }
  const detail = alarmDetail(field(event, 'detail', event.detail), times, build);
  if (detail === DEFER) return undefined;
  if (!build)
    return passUnknown(event, undefined, EVENT_KEYS, 0)
      ? { value: event as CloudWatchAlarmEvent, timestamps: times.timestamps }
      : undefined;
  const value: Plain = {
    version,
    id,
    'detail-type': DetailType.CloudWatchAlarmStateChange,
    source,
    account,
    time,
    region,
    resources,
    detail,
  };
  if (!passUnknown(event, value, EVENT_KEYS, 0)) return undefined;
  return { value: value as CloudWatchAlarmEvent, timestamps: times.timestamps };
}

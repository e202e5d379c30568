import { regexes } from 'zod/v4/core';
import { Alert, AlertSource, AlertStatus, Severity, SymptomCategory } from '../alert.ts';

/**
 * Alert.parse for an alert normalize just built, without zod where it can vouch: the result is what
 * Alert.parse returns (keys in the schema's order) — the candidate itself, or its parts, where they
 * already are (normalize builds every part fresh, so nothing else holds them) — and wherever a field is not what the schema accepts, Alert.parse itself runs and throws its
 * ZodError as before. What the parse guards, normalize's construction cannot always rule out: an empty
 * environment (an empty deployment default), a timestamp whose offset moves it out of years 0–9999
 * (toISOString then writes `+010000-…`, which is no RFC 3339), and the resource's key order (the schema
 * orders it). test/unit/core/classifier/vouch-alert.test.ts checks the equivalence on generated alerts.
 */

/** The pattern z.iso.datetime({ offset: true }) compiles (Alert's startsAt and endsAt). */
const ISO_DATETIME = regexes.datetime({ offset: true, local: false, precision: null });

const ALERT_ORDER: ReadonlyMap<string, number> = new Map(
  Object.keys(Alert.shape).map((key, index) => [key, index]),
);
const RESOURCE_KEYS = Object.keys(Alert.shape.resource.shape) as ReadonlyArray<
  keyof typeof Alert.shape.resource.shape
>;
const RESOURCE_ORDER: ReadonlyMap<string, number> = new Map(RESOURCE_KEYS.map((key, index) => [key, index]));
const SOURCES: ReadonlySet<unknown> = new Set(AlertSource.options);
const STATUSES: ReadonlySet<unknown> = new Set(AlertStatus.options);
const SEVERITIES: ReadonlySet<unknown> = new Set(Severity.options);
const CATEGORIES: ReadonlySet<unknown> = new Set(SymptomCategory.options);

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const optionalString = (value: unknown) => value === undefined || typeof value === 'string';
const optionalTimestamp = (value: unknown) =>
  value === undefined || (typeof value === 'string' && ISO_DATETIME.test(value));

/** True for a string-to-string record z.record returns unchanged (no `__proto__` key for it to drop). */
function isStringRecord(value: unknown): value is Record<string, string> {
  if (!isPlain(value)) return false;
  for (const key of Object.keys(value))
    if (key === '__proto__' || typeof value[key] !== 'string') return false;
  return true;
}

const OUT_OF_ORDER = 0;
const IN_ORDER = 1;
const UNKNOWN_KEY = -1;

/**
 * One pass over the keys of `value`: UNKNOWN_KEY when one is not in `order` or holds undefined (zod
 * would keep such a key), else IN_ORDER when they come in the order of `order` (a subsequence of it),
 * else OUT_OF_ORDER.
 */
function keyOrder(value: Plain, order: ReadonlyMap<string, number>): number {
  let last = -1;
  let result = IN_ORDER;
  for (const key of Object.keys(value)) {
    const index = order.get(key);
    if (index === undefined || value[key] === undefined) return UNKNOWN_KEY;
    if (index < last) result = OUT_OF_ORDER;
    last = index;
  }
  return result;
}

/** The resource as AlertResource.parse returns it (the schema's key order), or undefined. */
function vouchResource(value: unknown): Plain | undefined {
  if (!isPlain(value)) return undefined;
  const order = keyOrder(value, RESOURCE_ORDER);
  if (order === UNKNOWN_KEY) return undefined;
  if (!nonEmpty(value.type) || !nonEmpty(value.id)) return undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (key === 'identifiers' ? !isStringRecord(item) : typeof item !== 'string') return undefined;
  }
  if (order === IN_ORDER) return value;
  const resource: Plain = {};
  for (const key of RESOURCE_KEYS) if (value[key] !== undefined) resource[key] = value[key];
  return resource;
}

function vouch(candidate: unknown): Alert | undefined {
  if (!isPlain(candidate)) return undefined;
  const order = keyOrder(candidate, ALERT_ORDER);
  if (order === UNKNOWN_KEY) return undefined;
  const c = candidate;
  if (
    !SOURCES.has(c.source) ||
    !nonEmpty(c.name) ||
    !STATUSES.has(c.status) ||
    !SEVERITIES.has(c.severity) ||
    !CATEGORIES.has(c.category) ||
    typeof c.summary !== 'string' ||
    !optionalString(c.description) ||
    !nonEmpty(c.environment) ||
    !nonEmpty(c.fingerprint) ||
    typeof c.startsAt !== 'string' ||
    !ISO_DATETIME.test(c.startsAt) ||
    !optionalTimestamp(c.endsAt) ||
    !optionalString(c.generatorURL)
  )
    return undefined;
  const resource = vouchResource(c.resource);
  if (resource === undefined || !isStringRecord(c.labels) || !isStringRecord(c.annotations)) return undefined;
  if (resource === c.resource && order === IN_ORDER) return c as Alert;
  const { labels, annotations } = c;
  // The schema's key order; optional keys only when present.
  const alert: Plain = {
    source: c.source,
    name: c.name,
    status: c.status,
    severity: c.severity,
    category: c.category,
    summary: c.summary,
  };
  if (c.description !== undefined) alert.description = c.description;
  alert.environment = c.environment;
  alert.resource = resource;
  alert.labels = labels;
  alert.annotations = annotations;
  alert.fingerprint = c.fingerprint;
  alert.startsAt = c.startsAt;
  if (c.endsAt !== undefined) alert.endsAt = c.endsAt;
  if (c.generatorURL !== undefined) alert.generatorURL = c.generatorURL;
  return alert as Alert;
}

/**
 * Alert.parse(candidate): the same value (or the same ZodError), zod running only where it must. For
 * candidates built fresh: the result may be the candidate or share its parts, where zod copies them.
 */
export function checkedAlert(candidate: unknown): Alert {
  return vouch(candidate) ?? Alert.parse(candidate);
}

/**
 * checkedAlert for an alert normalize built (alertOf) from a payload fast-payloads.ts vouched for, where
 * construction already settles most of what Alert.parse checks: keys in the schema's order with no
 * undefined optional field (alertOf), source, status, severity and category from their enums, a non-empty
 * name, summary and the optional texts strings, labels and annotations string records without a
 * `__proto__` key (vouched records copied, or strings normalize wrote). It checks what construction
 * leaves open — the environment (the deployment's default may be empty), the timestamps (an offset can
 * move a year past 9999), the resource (its id comes from the payload's values) — and anything it
 * cannot vouch for goes to checkedAlert, which decides as Alert.parse does.
 * test/unit/core/classifier/fast-path.test.ts checks normalize's result against zod's path on generated payloads.
 */
export function checkedBuiltAlert(candidate: Record<string, unknown>): Alert {
  const c = candidate;
  if (
    nonEmpty(c.environment) &&
    nonEmpty(c.name) &&
    nonEmpty(c.fingerprint) &&
    typeof c.startsAt === 'string' &&
    ISO_DATETIME.test(c.startsAt) &&
    optionalTimestamp(c.endsAt) &&
    vouchResource(c.resource) === c.resource
  )
    return c as Alert;
  return checkedAlert(candidate);
}

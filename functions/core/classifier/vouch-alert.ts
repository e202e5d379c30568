import { regexes } from 'zod/v4/core';
import { Alert, AlertSource, AlertStatus, Severity, SymptomCategory } from '../alert.ts';

/**
 * Alert.parse for an alert normalize just built, without zod where it can vouch: the result is what
 * Alert.parse returns (keys in the schema's order, labels, annotations, resource and identifiers as new
 * objects), and wherever a field is not what the schema accepts, Alert.parse itself runs and throws its
 * ZodError as before. What the parse guards, normalize's construction cannot always rule out: an empty
 * environment (an empty deployment default), a timestamp whose offset moves it out of years 0–9999
 * (toISOString then writes `+010000-…`, which is no RFC 3339), and the resource's key order (the schema
 * orders it). test/unit/core/classifier/vouch-alert.test.ts checks the equivalence on generated alerts.
 */

/** The pattern z.iso.datetime({ offset: true }) compiles (Alert's startsAt and endsAt). */
const ISO_DATETIME = regexes.datetime({ offset: true, local: false, precision: null });

const ALERT_KEYS: ReadonlySet<string> = new Set(Object.keys(Alert.shape));
const RESOURCE_KEYS = Object.keys(Alert.shape.resource.shape) as ReadonlyArray<
  keyof typeof Alert.shape.resource.shape
>;
const RESOURCE_KEY_SET: ReadonlySet<string> = new Set(RESOURCE_KEYS);
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

/** A copy of a string-to-string record as z.record returns it; undefined when it is not one. */
function stringRecord(value: unknown): Record<string, string> | undefined {
  if (!isPlain(value)) return undefined;
  const copy: Record<string, string> = {};
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (key === '__proto__' || typeof item !== 'string') return undefined;
    copy[key] = item;
  }
  return copy;
}

/** True when every own key of `value` is named in `keys` and none holds undefined (zod would keep such a key). */
function onlyKnownDefined(value: Plain, keys: ReadonlySet<string>): boolean {
  for (const key of Object.keys(value)) if (!keys.has(key) || value[key] === undefined) return false;
  return true;
}

function vouchResource(value: unknown): Plain | undefined {
  if (!isPlain(value) || !onlyKnownDefined(value, RESOURCE_KEY_SET)) return undefined;
  if (!nonEmpty(value.type) || !nonEmpty(value.id)) return undefined;
  const resource: Plain = {};
  for (const key of RESOURCE_KEYS) {
    const item = value[key];
    if (item === undefined) continue;
    if (key === 'identifiers') {
      const identifiers = stringRecord(item);
      if (identifiers === undefined) return undefined;
      resource.identifiers = identifiers;
    } else if (typeof item === 'string') resource[key] = item;
    else return undefined;
  }
  return resource;
}

function vouch(candidate: unknown): Alert | undefined {
  if (!isPlain(candidate) || !onlyKnownDefined(candidate, ALERT_KEYS)) return undefined;
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
  const labels = stringRecord(c.labels);
  const annotations = stringRecord(c.annotations);
  if (resource === undefined || labels === undefined || annotations === undefined) return undefined;
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

/** Alert.parse(candidate): the same value (or the same ZodError), zod running only where it must. */
export function checkedAlert(candidate: unknown): Alert {
  return vouch(candidate) ?? Alert.parse(candidate);
}

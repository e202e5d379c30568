import * as z from 'zod';
import { AlertResource } from './resource.ts';

/** Where an alert came from; `manual`: a person started a runbook by hand (their request is the alert). */
export const AlertSource = z.enum(['prometheus', 'cloudwatch', 'manual']);
export type AlertSource = z.infer<typeof AlertSource>;

export const AlertStatus = z.enum(['firing', 'resolved']);
export type AlertStatus = z.infer<typeof AlertStatus>;

export const Severity = z.enum(['critical', 'high', 'warning', 'info']);
export type Severity = z.infer<typeof Severity>;

/** Symptom categories the classifier assigns; runbooks declare the category they treat. */
export const SymptomCategory = z.enum([
  'resource-exhaustion',
  'availability',
  'error-rate',
  'latency',
  'capacity',
  'saturation',
  'configuration',
  'security',
  'unknown',
]);
export type SymptomCategory = z.infer<typeof SymptomCategory>;

/**
 * What names an alert goes into the store's keys (DynamoDB: partition keys at most 2048 bytes, sort keys
 * 1024) and every event about it: longer is refused at the edge (400 naming the field), never cut, so
 * what is accepted is what is stored. Margins leave room for the key prefixes.
 */
export const ALERT_LIMITS = {
  /** alertname / alarm name (the unmatched-alert sort key `ALERT#<source>#<name>`, URI-encoded: up to 3 × 300). */
  nameBytes: 300,
  /** The dedupe key (partition key `FINGERPRINT#<fingerprint>`). */
  fingerprintBytes: 512,
  /** Each part of the resource (id, cluster, namespace, region, account) and the environment. */
  resourceFieldBytes: 1_024,
  /** A label or annotation name; values are cut to fit the alert budget instead. */
  fieldNameBytes: 1_024,
} as const;

export { AlertResource } from './resource.ts';

/**
 * One alert in the one shape every source is normalized into. Runbook applicability rules are
 * EventBridge patterns over this object; step parameters reference it as `{{ alert.… }}`.
 */
export const Alert = z
  .object({
    source: AlertSource,
    name: z.string().min(1).describe('alertname (Prometheus) or alarm name (CloudWatch)'),
    status: AlertStatus,
    severity: Severity,
    category: SymptomCategory,
    summary: z.string(),
    description: z.string().optional(),
    environment: z.string().min(1),
    resource: AlertResource,
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()),
    fingerprint: z.string().min(1).describe('stable identity of the alert across repeats; used for dedupe'),
    startsAt: z.iso.datetime({ offset: true }),
    endsAt: z.iso.datetime({ offset: true }).optional(),
    generatorURL: z.string().optional(),
  })
  .strict();
export type Alert = z.infer<typeof Alert>;

import { z } from 'zod';
import { AlertResource } from './resource.ts';

/** Where an alert came from. */
export const AlertSource = z.enum(['prometheus', 'cloudwatch']);
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

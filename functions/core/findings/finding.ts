import * as z from 'zod';

/**
 * A finding: one abnormal thing a diagnostic step's output shows (a recent deployment, an OOM-killed
 * container, an unhealthy target…), typed, with the output fields it came from.
 */

/**
 * What a kind of finding is to an incident: a `change` someone made (a likely cause when it came
 * shortly before the alert), a `fault` of a component, or a `symptom` the alert itself may show.
 */
export const FINDING_ROLES = {
  'recent-deployment': 'change',
  'config-change': 'change',
  'oom-killed': 'fault',
  'container-terminated': 'fault',
  'crash-loop': 'fault',
  'image-pull-failure': 'fault',
  'container-config-error': 'fault',
  'node-not-ready': 'fault',
  'node-pressure': 'fault',
  'unschedulable-pod': 'fault',
  'unhealthy-target': 'symptom',
  'unavailable-replicas': 'symptom',
  'metric-off-baseline': 'symptom',
  'error-rate': 'symptom',
  'warning-events': 'symptom',
} as const;

export type FindingKind = keyof typeof FINDING_ROLES;
export type FindingRole = (typeof FINDING_ROLES)[FindingKind];
export const FINDING_KINDS = Object.keys(FINDING_ROLES) as [FindingKind, ...FindingKind[]];

/** A JSON scalar copied out of a tool output (objects are flattened to the fields that matter). */
const EvidenceValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const Evidence = z
  .object({
    stepId: z.string().min(1),
    tool: z.string().min(1),
    path: z
      .string()
      .min(1)
      .describe('where in the step output, as a fact reference: steps.<id>.output.pods[2].containers[0]'),
    fields: z.record(z.string(), EvidenceValue).describe('the output fields the finding rests on'),
  })
  .strict();
export type Evidence = z.infer<typeof Evidence>;

export const Finding = z
  .object({
    kind: z.enum(FINDING_KINDS),
    resource: z
      .string()
      .min(1)
      .describe('what it is about, as Kind/namespace/name or Kind/name: Deployment/shop/checkout'),
    sharedDependencies: z
      .array(z.string().min(1))
      .describe('what the resource depends on that others may share, as kind:name (node:ip-10-0-1-7)'),
    at: z.iso
      .datetime({ offset: true })
      .nullable()
      .describe('when the abnormal thing happened; null when the output does not say'),
    observedAt: z.iso.datetime({ offset: true }).describe('when the diagnostic step read it'),
    weight: z.number().min(0).max(1).describe('how abnormal, 0..1, before correlation'),
    summary: z.string().min(1).describe('one plain sentence for the approver'),
    evidence: Evidence,
  })
  .strict();
export type Finding = z.infer<typeof Finding>;

/** One diagnostic step's result, as the extractors read it. */
export const DiagnosticResult = z
  .object({
    stepId: z.string().min(1),
    tool: z.string().min(1),
    observedAt: z.iso.datetime({ offset: true }),
    output: z.unknown(),
  })
  .strict();
export type DiagnosticResult = z.infer<typeof DiagnosticResult>;

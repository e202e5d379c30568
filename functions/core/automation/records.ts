import * as z from 'zod';
import { AutomationLevel } from './levels.ts';

/**
 * What graduated automation keeps besides the runs (evidence.ts): the level per runbook and
 * environment with the change that set it, the history of changes, safety incidents and the alert
 * counts coverage is measured on.
 */

const IsoTime = z.iso.datetime({ offset: true });

/** Who moved a level: the platform by rule (a demotion), or a person (a promotion, a level set). */
export const LevelActor = z.discriminatedUnion('type', [
  z.object({ type: z.literal('system'), id: z.string().min(1).max(200) }).strict(),
  z
    .object({
      type: z.literal('person'),
      id: z.string().min(1).max(200),
      /** Where the person acted from: api, cli, dashboard. */
      channel: z.enum(['api', 'cli', 'dashboard']).optional(),
    })
    .strict(),
]);
export type LevelActor = z.infer<typeof LevelActor>;

/** One change of a stored level, kept for ever (the level's history and the audit trail's entry). */
export const LevelChange = z
  .object({
    /** Deterministic for a demotion (the run that triggered it), so a redelivered event records it once. */
    id: z.string().min(1).max(200),
    runbookId: z.string().min(1),
    environment: z.string().min(1),
    /** The effective level before and after (what the runbook could do, not only the stored value). */
    from: AutomationLevel,
    to: AutomationLevel,
    cause: z.enum(['demotion', 'promotion', 'set']),
    at: IsoTime,
    by: LevelActor,
    reason: z.string().max(2_000),
    evidence: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type LevelChange = z.infer<typeof LevelChange>;

/** The level evidence or a person set for a runbook in an environment, with the change that set it. */
export const LevelRecord = z
  .object({
    runbookId: z.string().min(1),
    environment: z.string().min(1),
    level: AutomationLevel,
    /** Counts every write; a writer names the version it read, so two writers never both win. */
    version: z.number().int().min(1),
    lastChange: LevelChange,
  })
  .strict();
export type LevelRecord = z.infer<typeof LevelRecord>;

/** Things that must never happen, each listed in the learning report (the design's target is zero). */
export const SafetyIncidentKind = z.enum([
  /** A change followed by a worse health signal (the runtime watch of part C raises these). */
  'worse-health-after-change',
  /** A compensation failed or timed out: a change may still be in place. */
  'compensation-failed',
  /** A change ran while the kill switch was engaged (engaged while it ran). */
  'change-under-kill-switch',
  /** A change touched more than a limit allows (blast radius, budget). */
  'change-over-limit',
]);
export type SafetyIncidentKind = z.infer<typeof SafetyIncidentKind>;

export const SafetyIncident = z
  .object({
    /** Deterministic per occurrence (execution, step, attempt), so a retried report records it once. */
    id: z.string().min(1).max(200),
    kind: SafetyIncidentKind,
    environment: z.string().min(1),
    executionId: z.string().min(1),
    runbookId: z.string().min(1),
    stepId: z.string().optional(),
    tool: z.string().optional(),
    at: IsoTime,
    description: z.string().max(2_000),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type SafetyIncident = z.infer<typeof SafetyIncident>;

/** How the classifier decided on the new alerts of one day (repeats joining an incident are not new). */
export const AlertDecisionCounted = z.enum(['started', 'blocked', 'unmatched']);
export type AlertDecisionCounted = z.infer<typeof AlertDecisionCounted>;

export const AlertCounts = z
  .object({
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    started: z.number().int().min(0).default(0),
    blocked: z.number().int().min(0).default(0),
    unmatched: z.number().int().min(0).default(0),
  })
  .strict();
export type AlertCounts = z.infer<typeof AlertCounts>;

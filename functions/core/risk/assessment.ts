import * as z from 'zod';
import { TouchCount } from '../limits/blast-radius.ts';
import { RiskLevel } from '../policy.ts';
import { RiskScore } from './score.ts';

/** A change the runbook may make, as written. */
export const PlannedChange = z
  .object({
    phase: z.string(),
    id: z.string(),
    name: z.string(),
    tool: z.string(),
    risk: RiskLevel,
    parameters: z.record(z.string(), z.unknown()),
  })
  .strict();
export type PlannedChange = z.infer<typeof PlannedChange>;

/** The target of an assessment: the execution as a whole (before it starts), or one change. */
export const EXECUTION_TARGET = 'execution';
export function stepTarget(stepId: string): string {
  return `step:${stepId}`;
}

/**
 * A stored risk assessment: the score, every factor's points, and what it decided, for the execution
 * (assessed when it starts) and for each change (assessed before it runs; the latest attempt wins).
 */
export const RiskAssessment = RiskScore.extend({
  executionId: z.string().min(1),
  target: z.string().min(1),
  runbookId: z.string().min(1),
  environment: z.string().min(1),
  stepId: z.string().optional(),
  tool: z.string().optional(),
  attempt: z.number().int().min(1).optional(),
  /** What the change touches, as counted before it ran. */
  blastRadius: TouchCount.optional(),
  /** What the decision led to: ran, waits for an approval, approved by, refused… */
  outcome: z.string().optional(),
  /**
   * The execution's assessment: the runbook's changes (mutating steps, parameters as written), so a
   * checkpoint can score the phase it opens before any of them runs.
   */
  changes: z.array(PlannedChange).optional(),
  assessedAt: z.iso.datetime({ offset: true }),
}).strict();
export type RiskAssessment = z.infer<typeof RiskAssessment>;

import * as z from 'zod';
import { Duration } from '../duration.ts';

/**
 * The risk part of an environment's policy (cdk.json `policy.risk`, RuntimeConfig `policy.risk`): the
 * points each factor adds to a change's score, the environment's business hours, and the thresholds
 * that map a score to what the change needs. No imports of policy.ts: it imports this.
 */

/** What a score decides for a change, from least to most restrictive. */
export const RiskDecision = z.enum(['autonomous', 'approve', 'approve-quorum-2', 'refuse']);
export type RiskDecision = z.infer<typeof RiskDecision>;

export const RISK_DECISION_RANK: Record<RiskDecision, number> = {
  autonomous: 0,
  approve: 1,
  'approve-quorum-2': 2,
  refuse: 3,
};

/** Approvals a decision needs (0: none; refuse: none is enough). */
export function quorumOf(decision: RiskDecision): number {
  return decision === 'approve' ? 1 : decision === 'approve-quorum-2' ? 2 : 0;
}

const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24h)');

function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const BusinessHours = z
  .object({
    days: z.array(Weekday).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    from: ClockTime,
    to: ClockTime,
    timezone: z
      .string()
      .refine(knownTimeZone, 'must be an IANA time zone such as Europe/Berlin or America/New_York'),
  })
  .strict()
  .refine((hours) => hours.from < hours.to, { message: 'from must be before to (HH:MM, same day)' });
export type BusinessHours = z.infer<typeof BusinessHours>;

const Points = z.number().min(0).max(100);

export const RiskWeights = z
  .object({
    declaredRisk: z
      .object({ low: Points, medium: Points, high: Points, critical: Points })
      .strict()
      .default({ low: 5, medium: 15, high: 30, critical: 45 }),
    /** Per resource the change touches beyond the first. */
    perResource: Points.default(3),
    maxBlastRadius: Points.default(15),
    /** Times the learned failure rate (0..1) of the runbook for the alert. */
    failureRate: Points.default(25),
    /** Per change to the same resource within `recentChangesWindow`. */
    perRecentChange: Points.default(5),
    maxRecentChanges: Points.default(15),
    outsideBusinessHours: Points.default(10),
    /** Inside or within `freezeProximity` of a change-freeze window. */
    nearFreeze: Points.default(10),
  })
  .strict();
export type RiskWeights = z.infer<typeof RiskWeights>;

/** Scores at or above each threshold need that much; below `approve` a change runs as the runbook says. */
export const RiskThresholds = z
  .object({
    approve: z.number().min(0).max(100),
    approveWithQuorum2: z.number().min(0).max(100),
    refuse: z.number().min(0).max(101),
  })
  .strict()
  .refine(
    (thresholds) =>
      thresholds.approve <= thresholds.approveWithQuorum2 &&
      thresholds.approveWithQuorum2 <= thresholds.refuse,
    { message: 'must be ordered: approve ≤ approveWithQuorum2 ≤ refuse' },
  );
export type RiskThresholds = z.infer<typeof RiskThresholds>;

export const RiskPolicy = z
  .object({
    environmentPoints: Points.default(0).describe(
      'points this environment adds to every score (prod more than dev)',
    ),
    businessHours: BusinessHours.optional().describe(
      'when people are at work; a change outside them scores weights.outsideBusinessHours more',
    ),
    freezeProximity: Duration.default(7_200)
      .refine((seconds) => seconds <= 86_400, 'must be at most 1d')
      .describe('a change this close before or after a change-freeze window scores weights.nearFreeze more'),
    recentChangesWindow: Duration.default(86_400).describe(
      'changes to the same resource within this window each score weights.perRecentChange more',
    ),
    weights: RiskWeights.prefault({}),
    thresholds: RiskThresholds.optional().describe(
      'absent: scores are computed, stored and shown, and decide nothing',
    ),
    approverGroups: z
      .array(z.string().min(1))
      .default([])
      .describe('who approves a change its score sends for approval (approverGroups names)'),
    approvalTimeout: Duration.default(1_800)
      .refine(
        (seconds) => seconds <= 86_400,
        'must be at most 1d (a checkpoint holds an execution at most that long)',
      )
      .describe(
        'an approval the score asks for expires after this; the execution then rolls back and escalates',
      ),
  })
  .strict()
  .refine((policy) => !policy.thresholds || policy.approverGroups.length > 0, {
    message: 'thresholds need approverGroups: name who approves a change its score sends for approval',
    path: ['approverGroups'],
  });
export type RiskPolicy = z.infer<typeof RiskPolicy>;

/** What a score decides under the thresholds (none: autonomous, the runbook's own approvals still apply). */
export function decisionFor(score: number, thresholds: RiskThresholds | undefined): RiskDecision {
  if (!thresholds) return 'autonomous';
  if (score >= thresholds.refuse) return 'refuse';
  if (score >= thresholds.approveWithQuorum2) return 'approve-quorum-2';
  if (score >= thresholds.approve) return 'approve';
  return 'autonomous';
}

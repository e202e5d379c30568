import * as z from 'zod';
import { wallClock, windowCovers } from '../classifier/safety.ts';
import type { ResourceKind } from '../limits/blast-radius.ts';
import type { RiskLevel } from '../policy.ts';
import type { FreezeWindow } from '../runbook/model.ts';
import { type BusinessHours, decisionFor, RiskDecision, type RiskPolicy, RiskThresholds } from './policy.ts';

/**
 * The risk score of a change (or of an execution, before its first change): the sum of every factor's
 * points, capped at 100, each factor kept with what it saw, so the approval page and the record show
 * why. Pure: the assessor gathers the facts, this adds them up.
 */

export const RiskFactorName = z.enum([
  'declared-risk',
  'environment',
  'blast-radius',
  'failure-rate',
  'recent-changes',
  'time-of-day',
  'change-freeze',
]);
export type RiskFactorName = z.infer<typeof RiskFactorName>;

export const RiskFactor = z
  .object({
    factor: RiskFactorName,
    /** What the factor saw, in words. */
    value: z.string(),
    points: z.number().min(0),
  })
  .strict();
export type RiskFactor = z.infer<typeof RiskFactor>;

export const RiskScore = z
  .object({
    score: z.number().min(0).max(100),
    decision: RiskDecision,
    factors: z.array(RiskFactor),
    thresholds: RiskThresholds.optional(),
  })
  .strict();
export type RiskScore = z.infer<typeof RiskScore>;

export interface RiskFacts {
  environment: string;
  declaredRisk: RiskLevel;
  /** What the change touches; absent when it is not known yet (counted when the step runs). */
  blastRadius?: { kind: ResourceKind; count: number } | undefined;
  /** Runs of this runbook for this alert so far (learning). */
  history?: { executions: number; failed: number } | undefined;
  /** Changes to the same resource within the policy's window, before this one. */
  recentChanges: number;
  now: Date;
  /** The environment's and the runbook's change-freeze windows. */
  freezeWindows: readonly FreezeWindow[];
}

const MINUTE_MS = 60_000;
/** Proximity is looked at minute by minute, at most a day each way (linear, bounded). */
const MAX_PROXIMITY_MINUTES = 1_440;

/** A freeze window covering `now`, or one within `proximitySeconds` before or after it. */
export function nearFreeze(
  windows: readonly FreezeWindow[],
  now: Date,
  proximitySeconds: number,
): { window: FreezeWindow; inside: boolean } | undefined {
  for (const window of windows) if (windowCovers(window, now)) return { window, inside: true };
  const minutes = Math.min(MAX_PROXIMITY_MINUTES, Math.floor(proximitySeconds / 60));
  for (const window of windows) {
    if ('start' in window) {
      const start = Date.parse(window.start);
      const end = Date.parse(window.end);
      const reach = minutes * MINUTE_MS;
      if (now.getTime() + reach >= start && now.getTime() - reach < end) return { window, inside: false };
      continue;
    }
    for (let offset = 1; offset <= minutes; offset++) {
      if (
        windowCovers(window, new Date(now.getTime() + offset * MINUTE_MS)) ||
        windowCovers(window, new Date(now.getTime() - offset * MINUTE_MS))
      )
        return { window, inside: false };
    }
  }
  return undefined;
}

/** Whether `now` is inside business hours (wall clock of their time zone). */
export function inBusinessHours(hours: BusinessHours, now: Date): boolean {
  const clock = wallClock(now, hours.timezone);
  const minutes = (text: string) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3, 5));
  return (
    (hours.days as readonly string[]).includes(clock.day) &&
    minutes(hours.from) <= clock.minutes &&
    clock.minutes < minutes(hours.to)
  );
}

function localTime(now: Date, timezone: string): string {
  const clock = wallClock(now, timezone);
  const hh = String(Math.floor(clock.minutes / 60)).padStart(2, '0');
  const mm = String(clock.minutes % 60).padStart(2, '0');
  return `${clock.day} ${hh}:${mm} ${timezone}`;
}

const round = (points: number) => Math.round(points * 10) / 10;

/** Every factor's points and the decision the environment's thresholds give the total. */
export function scoreRisk(facts: RiskFacts, policy: RiskPolicy): RiskScore {
  const weights = policy.weights;
  const factors: RiskFactor[] = [];
  factors.push({
    factor: 'declared-risk',
    value: facts.declaredRisk,
    points: weights.declaredRisk[facts.declaredRisk],
  });
  factors.push({
    factor: 'environment',
    value: facts.environment,
    points: policy.environmentPoints,
  });
  const radius = facts.blastRadius;
  factors.push(
    radius
      ? {
          factor: 'blast-radius',
          value: `${radius.count} ${radius.kind}${radius.count === 1 ? '' : '(s)'}`,
          points: round(
            Math.min(weights.maxBlastRadius, Math.max(0, radius.count - 1) * weights.perResource),
          ),
        }
      : { factor: 'blast-radius', value: 'counted when the step runs', points: 0 },
  );
  const history = facts.history;
  const rate = history && history.executions > 0 ? history.failed / history.executions : 0;
  factors.push({
    factor: 'failure-rate',
    value:
      history && history.executions > 0
        ? `${history.failed} of ${history.executions} run(s) for this alert failed (${Math.round(rate * 100)}%)`
        : 'no runs for this alert yet',
    points: round(rate * weights.failureRate),
  });
  factors.push({
    factor: 'recent-changes',
    value: `${facts.recentChanges} change(s) to this resource in the last ${Math.round(policy.recentChangesWindow / 3_600)}h`,
    points: round(Math.min(weights.maxRecentChanges, facts.recentChanges * weights.perRecentChange)),
  });
  const hours = policy.businessHours;
  if (hours) {
    const inside = inBusinessHours(hours, facts.now);
    factors.push({
      factor: 'time-of-day',
      value: `${localTime(facts.now, hours.timezone)}: ${inside ? 'inside' : 'outside'} business hours (${hours.days.join(',')} ${hours.from}–${hours.to})`,
      points: inside ? 0 : weights.outsideBusinessHours,
    });
  } else {
    factors.push({ factor: 'time-of-day', value: 'no business hours configured', points: 0 });
  }
  const freeze = nearFreeze(facts.freezeWindows, facts.now, policy.freezeProximity);
  factors.push({
    factor: 'change-freeze',
    value: freeze
      ? `${freeze.inside ? 'inside' : 'near'} the change freeze "${freeze.window.name}"`
      : `no change freeze within ${Math.round(policy.freezeProximity / 60)} minutes`,
    points: freeze ? weights.nearFreeze : 0,
  });
  const score = Math.min(100, round(factors.reduce((sum, factor) => sum + factor.points, 0)));
  return {
    score,
    decision: decisionFor(score, policy.thresholds),
    factors,
    ...(policy.thresholds ? { thresholds: policy.thresholds } : {}),
  };
}

/** `risk 72 of 100: environment 20 (prod); declared-risk 30 (high); …`: the score and its non-zero factors. */
export function describeScore(assessment: Pick<RiskScore, 'score' | 'factors'>): string {
  const factors = assessment.factors
    .filter((factor) => factor.points > 0)
    .map((factor) => `${factor.factor} ${factor.points} (${factor.value})`);
  return `risk ${assessment.score} of 100${factors.length > 0 ? `: ${factors.join('; ')}` : ''}`;
}

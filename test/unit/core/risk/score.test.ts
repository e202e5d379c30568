import { describe, expect, it } from 'vitest';
import { EnvironmentPolicy } from '../../../../functions/core/policy.ts';
import { decisionFor, RiskPolicy } from '../../../../functions/core/risk/policy.ts';
import {
  describeScore,
  inBusinessHours,
  nearFreeze,
  type RiskFacts,
  scoreRisk,
} from '../../../../functions/core/risk/score.ts';

/** Business hours in Berlin; thresholds and points as an operator would set them per environment. */
const BERLIN_HOURS = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  from: '08:00',
  to: '18:00',
  timezone: 'Europe/Berlin',
};
const THRESHOLDS = { approve: 40, approveWithQuorum2: 60, refuse: 95 };

function policy(environmentPoints: number) {
  return RiskPolicy.parse({
    environmentPoints,
    businessHours: BERLIN_HOURS,
    thresholds: THRESHOLDS,
    approverGroups: ['sre-oncall'],
  });
}

function facts(overrides: Partial<RiskFacts> = {}): RiskFacts {
  return {
    environment: 'dev',
    declaredRisk: 'high',
    blastRadius: { kind: 'pod', count: 1 },
    history: { executions: 0, failed: 0 },
    recentChanges: 0,
    // Tuesday 12:00 in Berlin (CET, UTC+1)
    now: new Date('2026-03-03T11:00:00Z'),
    freezeWindows: [],
    ...overrides,
  };
}

const points = (score: ReturnType<typeof scoreRisk>) =>
  Object.fromEntries(score.factors.map((factor) => [factor.factor, factor.points]));

describe('the risk score', () => {
  it('the same change runs on its own in dev at noon and needs two approvers in prod at 3 am after a failure', () => {
    // Act
    const devNoon = scoreRisk(facts(), policy(0));
    const prodNight = scoreRisk(
      facts({
        environment: 'prod',
        now: new Date('2026-03-03T02:00:00Z'), // 03:00 in Berlin
        history: { executions: 1, failed: 1 },
      }),
      policy(20),
    );

    // Assess
    expect(devNoon.score).toBe(30);
    expect(devNoon.decision).toBe('autonomous');
    expect(prodNight.score).toBe(85);
    expect(prodNight.decision).toBe('approve-quorum-2');
    expect(points(prodNight)).toEqual({
      'declared-risk': 30,
      environment: 20,
      'blast-radius': 0,
      'failure-rate': 25,
      'recent-changes': 0,
      'time-of-day': 10,
      'change-freeze': 0,
    });
    expect(prodNight.factors.find((factor) => factor.factor === 'time-of-day')?.value).toBe(
      'tue 03:00 Europe/Berlin: outside business hours (mon,tue,wed,thu,fri 08:00–18:00)',
    );
    expect(prodNight.factors.find((factor) => factor.factor === 'failure-rate')?.value).toBe(
      '1 of 1 run(s) for this alert failed (100%)',
    );
  });

  it('grows with what the change touches and with recent changes, each capped', () => {
    // Act
    const wide = scoreRisk(facts({ blastRadius: { kind: 'pod', count: 4 }, recentChanges: 2 }), policy(0));
    const huge = scoreRisk(facts({ blastRadius: { kind: 'pod', count: 400 }, recentChanges: 40 }), policy(0));

    // Assess
    expect(points(wide)['blast-radius']).toBe(9);
    expect(points(wide)['recent-changes']).toBe(10);
    expect(points(huge)['blast-radius']).toBe(15);
    expect(points(huge)['recent-changes']).toBe(15);
  });

  it('says a blast radius not counted yet scores nothing, and caps the total at 100', () => {
    // Act
    const unknown = scoreRisk(facts({ blastRadius: undefined }), policy(0));
    const everything = scoreRisk(
      facts({
        declaredRisk: 'critical',
        blastRadius: { kind: 'instance', count: 50 },
        history: { executions: 4, failed: 4 },
        recentChanges: 9,
        now: new Date('2026-03-07T02:00:00Z'),
        freezeWindows: [{ name: 'release', start: '2026-03-07T01:00:00Z', end: '2026-03-07T05:00:00Z' }],
      }),
      policy(40),
    );

    // Assess
    expect(unknown.factors.find((factor) => factor.factor === 'blast-radius')).toEqual({
      factor: 'blast-radius',
      value: 'counted when the step runs',
      points: 0,
    });
    expect(everything.score).toBe(100);
    expect(everything.decision).toBe('refuse');
  });

  it('decides nothing where the environment sets no thresholds', () => {
    // Act
    const score = scoreRisk(facts({ declaredRisk: 'critical' }), RiskPolicy.parse({ environmentPoints: 50 }));

    // Assess
    expect(score.score).toBe(95);
    expect(score.decision).toBe('autonomous');
    expect(score.thresholds).toBeUndefined();
  });

  it('maps scores to decisions at the thresholds, inclusive', () => {
    expect(decisionFor(39.9, THRESHOLDS)).toBe('autonomous');
    expect(decisionFor(40, THRESHOLDS)).toBe('approve');
    expect(decisionFor(60, THRESHOLDS)).toBe('approve-quorum-2');
    expect(decisionFor(95, THRESHOLDS)).toBe('refuse');
  });

  it('describes a score by its factors that count', () => {
    // Act
    const text = describeScore(scoreRisk(facts({ environment: 'prod' }), policy(20)));

    // Assess
    expect(text).toBe('risk 50 of 100: declared-risk 30 (high); environment 20 (prod)');
  });
});

describe('business hours and freezes nearby', () => {
  it('reads business hours on the wall clock of their time zone, daylight saving included', () => {
    // Assess: 07:30 UTC is 08:30 in Berlin in winter (open) and 09:30 in summer (open); 17:30 UTC is 18:30/19:30 (closed)
    const hours = RiskPolicy.parse({ businessHours: BERLIN_HOURS }).businessHours!;
    expect(inBusinessHours(hours, new Date('2026-01-13T07:30:00Z'))).toBe(true);
    expect(inBusinessHours(hours, new Date('2026-07-14T06:30:00Z'))).toBe(true);
    expect(inBusinessHours(hours, new Date('2026-01-13T17:30:00Z'))).toBe(false);
    expect(inBusinessHours(hours, new Date('2026-01-17T10:00:00Z'))).toBe(false); // a Saturday
  });

  it('finds a weekly freeze starting soon and an absolute one that just ended', () => {
    // Prepare
    const weekly = {
      name: 'friday deploys',
      days: ['fri' as const],
      from: '16:00',
      to: '23:59',
      timezone: 'UTC',
    };
    const absolute = { name: 'migration', start: '2026-03-03T08:00:00Z', end: '2026-03-03T10:00:00Z' };

    // Assess
    expect(nearFreeze([weekly], new Date('2026-03-06T14:30:00Z'), 7_200)?.inside).toBe(false);
    expect(nearFreeze([weekly], new Date('2026-03-06T13:30:00Z'), 7_200)).toBeUndefined();
    expect(nearFreeze([weekly], new Date('2026-03-06T17:00:00Z'), 7_200)?.inside).toBe(true);
    expect(nearFreeze([absolute], new Date('2026-03-03T11:30:00Z'), 7_200)?.window.name).toBe('migration');
    expect(nearFreeze([absolute], new Date('2026-03-03T12:30:00Z'), 7_200)).toBeUndefined();
  });
});

describe('the risk policy in cdk.json', () => {
  it('refuses thresholds without approvers, unordered thresholds and an unknown time zone, naming the field', () => {
    // Act
    const noGroups = EnvironmentPolicy.safeParse({ risk: { thresholds: THRESHOLDS } });
    const unordered = RiskPolicy.safeParse({
      thresholds: { approve: 70, approveWithQuorum2: 60, refuse: 90 },
      approverGroups: ['sre'],
    });
    const zone = RiskPolicy.safeParse({ businessHours: { ...BERLIN_HOURS, timezone: 'Mars/Olympus' } });

    // Assess
    expect(noGroups.success).toBe(false);
    expect(noGroups.error?.issues[0]?.path).toEqual(['risk', 'approverGroups']);
    expect(unordered.error?.issues[0]?.message).toMatch(/ordered/);
    expect(zone.error?.issues[0]?.path).toEqual(['businessHours', 'timezone']);
  });

  it('defaults to scoring without deciding: an environment that says nothing behaves as before', () => {
    // Act
    const defaults = EnvironmentPolicy.parse({});

    // Assess
    expect(defaults.risk.thresholds).toBeUndefined();
    expect(defaults.limits.changeBudget).toBeUndefined();
    expect(defaults.risk.weights.declaredRisk).toEqual({ low: 5, medium: 15, high: 30, critical: 45 });
  });
});

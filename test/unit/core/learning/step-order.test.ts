import { describe, expect, it } from 'vitest';
import { stepStatistics } from '../../../../functions/core/learning/aggregate.ts';
import { withDecisions } from '../../../../functions/core/learning/decisions.ts';
import {
  ORDER_DONE,
  type OrderCandidate,
  planStepOrder,
} from '../../../../functions/core/learning/step-order.ts';
import type { StepStatistics } from '../../../../functions/core/records.ts';
import { seedRuns } from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const NOW = new Date('2026-12-06T10:00:00.000Z');

function statistics(stepId: string, decided: number, decidable: number, p50Ms: number): StepStatistics {
  return {
    stepId,
    runs: decidable,
    failures: 0,
    skipped: 0,
    meanDurationMs: p50Ms,
    p90DurationMs: p50Ms,
    p99DurationMs: p50Ms,
    p50DurationMs: p50Ms,
    decisions: { decided, decidable },
  };
}

const PROBES: OrderCandidate[] = [
  { id: 'rarely-decides', expectedSeconds: 1, timeoutSeconds: 10 },
  { id: 'usually-decides', expectedSeconds: 2, timeoutSeconds: 10 },
];

describe('planStepOrder (sequential)', () => {
  it('puts a diagnostic deciding 9 of 10 runs in 2 s before one deciding 1 of 10 in 1 s', () => {
    // Act
    const planned = planStepOrder({
      phase: 'probe',
      mode: 'sequential',
      lanes: 1,
      steps: PROBES,
      statistics: [statistics('rarely-decides', 1, 10, 1_000), statistics('usually-decides', 9, 10, 2_000)],
      now: NOW,
    });

    // Assess: (9+1)/(10+2) / 2 s = 0.417/s against (1+1)/(10+2) / 1 s = 0.167/s
    expect(planned.queues).toEqual([
      { steps: ['usually-decides', 'rarely-decides', ORDER_DONE], position: 0, current: 'usually-decides' },
    ]);
    expect(planned.record.basis).toBe('measured');
    const [first, second] = planned.record.steps;
    expect(first).toMatchObject({
      stepId: 'usually-decides',
      source: 'measured',
      runs: 10,
      decided: 9,
      expectedMs: 2_000,
      durationSource: 'measured',
      durationRuns: 10,
    });
    expect(first!.hitRate).toBeCloseTo(10 / 12, 6);
    expect(first!.hitsPerSecond).toBeCloseTo(10 / 12 / 2, 6);
    expect(second!.hitsPerSecond).toBeCloseTo(2 / 12, 6);
    expect(planned.record.reason).toContain('usually-decides decided 9/10, p50 2.0s over 10 runs');
  });

  it('keeps the declared order when no step has history', () => {
    // Act
    const planned = planStepOrder({
      phase: 'probe',
      mode: 'sequential',
      lanes: 1,
      // The declared durations alone would put the 1 s step first: without history they do not reorder.
      steps: [
        { id: 'slow', expectedSeconds: 9, timeoutSeconds: 10 },
        { id: 'quick', expectedSeconds: 1, timeoutSeconds: 10 },
        { id: 'no-estimate', timeoutSeconds: 30 },
      ],
      statistics: [],
      now: NOW,
    });

    // Assess
    expect(planned.queues[0]!.steps).toEqual(['slow', 'quick', 'no-estimate', ORDER_DONE]);
    expect(planned.record.basis).toBe('declared');
    expect(planned.record.reason).toBe('declared order: no recorded runs of these steps yet');
    expect(planned.record.steps.map((step) => [step.stepId, step.source, step.expectedMs])).toEqual([
      ['slow', 'declared', 9_000],
      ['quick', 'declared', 1_000],
      ['no-estimate', 'declared', 30_000],
    ]);
  });

  it('says why when the statistics could not be read', () => {
    const planned = planStepOrder({
      phase: 'probe',
      mode: 'sequential',
      lanes: 1,
      steps: PROBES,
      statistics: undefined,
      now: NOW,
      unavailable: 'the table is unreachable',
    });
    expect(planned.queues[0]!.current).toBe('rarely-decides');
    expect(planned.record.reason).toBe(
      'declared order: the learned statistics could not be read (the table is unreachable)',
    );
  });

  it('gives a step without decisions the uniform prior, so a new diagnostic is tried rather than buried', () => {
    const planned = planStepOrder({
      phase: 'probe',
      mode: 'sequential',
      lanes: 1,
      steps: [
        { id: 'never-decides', expectedSeconds: 1, timeoutSeconds: 10 },
        { id: 'new-step', expectedSeconds: 1, timeoutSeconds: 10 },
      ],
      statistics: [statistics('never-decides', 0, 20, 1_000)],
      now: NOW,
    });
    expect(planned.queues[0]!.steps).toEqual(['new-step', 'never-decides', ORDER_DONE]);
    expect(planned.record.steps[0]).toMatchObject({ stepId: 'new-step', source: 'declared', hitRate: 0.5 });
  });
});

describe('planStepOrder (parallel lanes)', () => {
  const STEPS: OrderCandidate[] = [
    { id: 'a', expectedSeconds: 1, timeoutSeconds: 60 },
    { id: 'b', expectedSeconds: 1, timeoutSeconds: 60 },
    { id: 'c', expectedSeconds: 1, timeoutSeconds: 60 },
    { id: 'd', expectedSeconds: 1, timeoutSeconds: 60 },
  ];

  it('balances lanes by measured p50, longest first onto the least-loaded lane', () => {
    // Act: declared all 1 s; measured a 8 s, b 5 s, c 4 s, d 3 s
    const planned = planStepOrder({
      phase: 'survey',
      mode: 'parallel',
      lanes: 2,
      steps: STEPS,
      statistics: [
        statistics('a', 0, 0, 8_000),
        statistics('b', 0, 0, 5_000),
        statistics('c', 0, 0, 4_000),
        statistics('d', 0, 0, 3_000),
      ].map((entry) => ({ ...entry, runs: 6 })),
      now: NOW,
    });

    // Assess: a → lane 0 (8), b → lane 1 (5), c → lane 1 (9), d → lane 0 (11): 11 s against 9 s
    expect(planned.record.laneLoadsMs).toEqual([11_000, 9_000]);
    const lanes = planned.queues.map((queue) => queue.steps.filter((id) => id !== ORDER_DONE).sort());
    expect(lanes).toEqual([
      ['a', 'd'],
      ['b', 'c'],
    ]);
    // Equal hit rates: within a lane the shorter step goes first.
    expect(planned.queues[0]!.steps).toEqual(['d', 'a', ORDER_DONE]);
    expect(planned.record.steps.find((step) => step.stepId === 'c')).toMatchObject({
      lane: 1,
      durationSource: 'measured',
      durationRuns: 6,
    });
    expect(planned.record.reason).toMatch(/^2 lanes balanced by measured duration/);
  });

  it('without history balances by declared durations and keeps the declared order in each lane', () => {
    const planned = planStepOrder({
      phase: 'survey',
      mode: 'parallel',
      lanes: 3,
      steps: [
        { id: 'a', expectedSeconds: 3, timeoutSeconds: 60 },
        { id: 'b', expectedSeconds: 2, timeoutSeconds: 60 },
        { id: 'c', expectedSeconds: 2, timeoutSeconds: 60 },
        { id: 'd', expectedSeconds: 1, timeoutSeconds: 60 },
      ],
      statistics: undefined,
      now: NOW,
    });
    expect(planned.record.basis).toBe('declared');
    expect(planned.queues.map((queue) => queue.steps)).toEqual([
      ['a', ORDER_DONE],
      ['b', 'd', ORDER_DONE],
      ['c', ORDER_DONE],
    ]);
  });

  it('answers exactly as many queues as the machine has lanes, empty ones done at once', () => {
    const planned = planStepOrder({
      phase: 'survey',
      mode: 'parallel',
      lanes: 3,
      steps: STEPS.slice(0, 2),
      statistics: undefined,
      now: NOW,
    });
    expect(planned.queues).toHaveLength(3);
    expect(planned.queues[2]).toEqual({ steps: [ORDER_DONE], position: 0, current: ORDER_DONE });
  });
});

describe('withDecisions', () => {
  it('counts a probe whose own finding made its phase stop as deciding, from recorded runs', () => {
    // Prepare: ten runs; the upstream probe found the 503 (and the phase stopped) in nine of them
    const runbook = loadRunbook('test/fixtures/runbooks/order/upstream-probes.yaml');
    const { outcomes, history } = seedRuns(
      runbook,
      Array.from({ length: 10 }, (_, index) => ({
        status: 'failed' as const,
        steps: {
          'upstream-probe': {
            durationMs: 2_000,
            output: { url: 'http://upstream', status: index < 9 ? 503 : 200, latencyMs: 2, ok: true },
          },
          'cache-probe':
            index < 9
              ? { status: 'skipped' as const, durationMs: 0 }
              : { durationMs: 1_000, output: { url: 'http://cache', status: 503, latencyMs: 1, ok: true } },
        },
      })),
    );

    // Act
    const figures = withDecisions(stepStatistics(outcomes), runbook, history);

    // Assess
    expect(figures.find((entry) => entry.stepId === 'upstream-probe')?.decisions).toEqual({
      decided: 9,
      decidable: 10,
    });
    expect(figures.find((entry) => entry.stepId === 'cache-probe')?.decisions).toEqual({
      decided: 1,
      decidable: 1,
    });
  });
});

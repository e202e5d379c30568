import { describe, expect, it } from 'vitest';
import { wilsonLowerBound } from '../../../../functions/core/automation/evidence.ts';
import type { LevelChange } from '../../../../functions/core/automation/records.ts';
import { RANKING_CONFIDENCE } from '../../../../functions/core/learning/effectiveness.ts';
import {
  dailyOutcomes,
  levelTimeline,
  runbookTimeline,
  stepChart,
  type TimelineRun,
} from '../../../../functions/core/learning/timeseries.ts';
import {
  POD_MEMORY_GROWTH as FILE,
  podMemoryRun as run,
  seedRuns,
} from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const RUNBOOK = loadRunbook(FILE);

function change(at: string, from: LevelChange['from'], to: LevelChange['to'], cause: LevelChange['cause']) {
  return {
    id: `change-${at}`,
    runbookId: RUNBOOK.id,
    environment: 'dev',
    from,
    to,
    cause,
    at,
    by: { type: 'system', id: 'automation' },
    reason: 'test',
  } satisfies LevelChange;
}

describe('outcomes per day', () => {
  it('buckets runs by the UTC day they started, with the success rate and the mean time to recover', () => {
    // Prepare: day 1: 3 of 4 recovered (2, 4, 6 min); day 3: 1 of 2; a run at 23:59 is day 1's
    const runs: TimelineRun[] = [
      { startedAt: '2026-12-03T10:00:00.000Z', status: 'succeeded', timeToRecoverMs: 300_000 },
      { startedAt: '2026-12-01T08:00:00.000Z', status: 'succeeded', timeToRecoverMs: 120_000 },
      { startedAt: '2026-12-01T09:00:00.000Z', status: 'succeeded', timeToRecoverMs: 240_000 },
      { startedAt: '2026-12-01T23:59:59.000Z', status: 'succeeded', timeToRecoverMs: 360_000 },
      { startedAt: '2026-12-01T12:00:00.000Z', status: 'failed' },
      { startedAt: '2026-12-03T00:00:00.000Z', status: 'aborted' },
    ];

    // Act
    const days = dailyOutcomes(runs);

    // Assess
    expect(days).toEqual([
      {
        day: '2026-12-01',
        runs: 4,
        succeeded: 3,
        failed: 1,
        aborted: 0,
        successRate: 0.75,
        meanTimeToRecoverMs: 240_000,
        recovered: 3,
      },
      {
        day: '2026-12-03',
        runs: 2,
        succeeded: 1,
        failed: 0,
        aborted: 1,
        successRate: 0.5,
        meanTimeToRecoverMs: 300_000,
        recovered: 1,
      },
    ]);
  });

  it('leaves the mean out of a day where nothing recovered', () => {
    const days = dailyOutcomes([{ startedAt: '2026-12-01T08:00:00.000Z', status: 'failed' }]);
    expect(days[0]).not.toHaveProperty('meanTimeToRecoverMs');
    expect(days[0]).toMatchObject({ successRate: 0, recovered: 0 });
  });
});

describe('the automation level over time', () => {
  it('starts at the level the first change left, steps at each change, and ends at the level now', () => {
    // Prepare: changes given newest first, as the store lists them
    const changes = [
      change('2026-12-04T09:00:00.000Z', 'approve', 'autonomous', 'promotion'),
      change('2026-12-02T15:00:00.000Z', 'autonomous', 'approve', 'demotion'),
    ];

    // Act
    const levels = levelTimeline(
      changes,
      'autonomous',
      '2026-12-01T00:00:00.000Z',
      '2026-12-06T12:00:00.000Z',
    );

    // Assess
    expect(levels).toEqual([
      { at: '2026-12-01T00:00:00.000Z', level: 'autonomous' },
      { at: '2026-12-02T15:00:00.000Z', level: 'approve', cause: 'demotion' },
      { at: '2026-12-04T09:00:00.000Z', level: 'autonomous', cause: 'promotion' },
      { at: '2026-12-06T12:00:00.000Z', level: 'autonomous' },
    ]);
  });

  it('holds the level a change before the span set, and the current level when nothing changed', () => {
    const before = levelTimeline(
      [change('2026-11-20T09:00:00.000Z', 'autonomous', 'shadow', 'set')],
      'shadow',
      '2026-12-01T00:00:00.000Z',
      '2026-12-02T00:00:00.000Z',
    );
    const never = levelTimeline([], 'approve', '2026-12-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z');

    expect(before.map((point) => point.level)).toEqual(['shadow', 'shadow']);
    expect(never).toEqual([
      { at: '2026-12-01T00:00:00.000Z', level: 'approve' },
      { at: '2026-12-02T00:00:00.000Z', level: 'approve' },
    ]);
  });
});

describe('step effectiveness for the chart', () => {
  it('gives each step its decision rate with the Wilson interval, its failure rate and duration percentiles', () => {
    // Prepare: memory over 80 in 9 of 10 runs sends them to scale-out (memory-usage decides 9 of 10);
    // pod-status times out in 3 more runs (30%), which stop there
    const runs = [
      ...Array.from({ length: 9 }, () => run({ memory: 90 })),
      run({ memory: 50 }),
      ...Array.from({ length: 3 }, () => run({ podStatus: { status: 'timed-out', durationMs: 30_000 } })),
    ];
    const { history } = seedRuns(RUNBOOK, runs);

    // Act
    const rows = stepChart(RUNBOOK, history);

    // Assess
    const byId = new Map(rows.map((row) => [row.stepId, row]));
    expect(byId.get('memory-usage')).toMatchObject({
      type: 'diagnostic',
      runs: 10,
      failed: 0,
      failureRate: 0,
      durationMs: { p50: 500, p90: 500, p99: 500 },
      decision: {
        decided: 9,
        decidable: 10,
        rate: 0.9,
        low: wilsonLowerBound(9, 10, RANKING_CONFIDENCE),
        high: 1 - wilsonLowerBound(1, 10, RANKING_CONFIDENCE)!,
      },
    });
    const decision = byId.get('memory-usage')!.decision!;
    expect(decision.low).toBeLessThan(0.9);
    expect(decision.high).toBeGreaterThan(0.9);
    expect(byId.get('pod-status')).toMatchObject({
      runs: 13,
      failed: 3,
      timedOut: 3,
      failureRate: 3 / 13,
      durationMs: { p50: 3_000, p99: 30_000 },
    });
    expect(byId.get('scale')).toMatchObject({ type: 'remediation', runs: 9, failed: 0 });
    expect(byId.get('scale')).not.toHaveProperty('decision');
    // In the runbook's order: the parallel workload reads first.
    expect(rows[0]!.stepId).toBe('workload-status');
  });
});

describe('a runbook timeline', () => {
  it('puts the days, the level since the first day and the steps together', () => {
    const { history } = seedRuns(RUNBOOK, [run({ memory: 90 })]);
    const timeline = runbookTimeline({
      runbook: RUNBOOK,
      history,
      runs: [
        { startedAt: '2026-12-02T10:00:00.000Z', status: 'succeeded', timeToRecoverMs: 60_000 },
        { startedAt: '2026-12-04T10:00:00.000Z', status: 'failed' },
      ],
      changes: [],
      level: 'approve',
      now: new Date('2026-12-06T12:00:00.000Z'),
    });

    expect(timeline.bucket).toBe('day');
    expect(timeline.days.map((day) => [day.day, day.successRate])).toEqual([
      ['2026-12-02', 1],
      ['2026-12-04', 0],
    ]);
    expect(timeline.levels).toEqual([
      { at: '2026-12-02T00:00:00.000Z', level: 'approve' },
      { at: '2026-12-07T00:00:00.000Z', level: 'approve' },
    ]);
    expect(timeline.steps.map((step) => step.stepId)).toContain('memory-usage');
  });

  it('has no level line without a level (no graduated automation wired)', () => {
    const { history } = seedRuns(RUNBOOK, []);
    const timeline = runbookTimeline({
      runbook: RUNBOOK,
      history,
      runs: [],
      changes: [],
      level: undefined,
      now: new Date('2026-12-06T12:00:00.000Z'),
    });
    expect(timeline).toEqual({ bucket: 'day', days: [], levels: [], steps: [] });
  });
});

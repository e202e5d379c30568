import { describe, expect, it } from 'vitest';
import { benchmarksSection, laneLayout, summarize } from '../../scenarios/report.ts';
import { type ExecutionMeasure, Results, type ScenarioResult } from '../../scenarios/results.ts';

/** The figures `npm run scenarios` reports, from its results (what the lanes played, the approvals' timings). */

const execution = (overrides: Partial<ExecutionMeasure>): ExecutionMeasure => ({
  executionId: 'e',
  runbookId: 'pod-crash-looping',
  status: 'succeeded',
  alert: 'KubePodCrashLooping',
  approvals: [],
  escalations: 0,
  compensations: [],
  approvalNotificationLatencyMs: [],
  approvalDecisionLatencyMs: [],
  ...overrides,
});

const scenario = (id: string, executions: ExecutionMeasure[], durationMs: number): ScenarioResult => ({
  id,
  kind: 'fault',
  fault: 'f',
  simulated: ['crash-loop'],
  alertSource: 'prometheus',
  expected: 'x',
  passed: true,
  failures: [],
  durationMs,
  executions,
  overrideLatencyMs: [],
  safetyIncidents: [],
  notes: [],
});

describe('the scenarios report', () => {
  const scenarios = [
    scenario(
      'a',
      [
        execution({
          approvals: ['approved'],
          approvalNotificationLatencyMs: [40],
          approvalDecisionLatencyMs: [300],
        }),
      ],
      60_000,
    ),
    scenario(
      'b',
      [
        execution({
          approvals: ['approved', 'expired'],
          approvalNotificationLatencyMs: [20, 90],
          approvalDecisionLatencyMs: [100],
        }),
      ],
      30_000,
    ),
  ];

  it('spreads the approval latencies at the receiver and to the decision over every approval', () => {
    const summary = summarize(scenarios);

    expect(summary.approvalNotificationLatencyMs).toEqual({ count: 3, median: 40, max: 90 });
    expect(summary.approvalDecisionLatencyMs).toEqual({ count: 2, median: 200, max: 300 });
    expect(summarize([]).approvalDecisionLatencyMs).toEqual({ count: 0, median: null, max: null });
  });

  it('shows the wall time beside the time one after the other, and which lane played what', () => {
    const lanes = [
      { lane: 1, scenarios: [{ id: 'a', startMs: 5_000, endMs: 65_000 }] },
      { lane: 2, scenarios: [{ id: 'b', startMs: 5_200, endMs: 35_200 }] },
    ];
    const results = Results.parse({
      generatedAt: '2026-12-06T20:00:00.000Z',
      command: 'npm run scenarios',
      machine: {
        cpus: 2,
        model: 'AMD EPYC',
        node: 'v20.20.2',
        platform: 'linux x64',
        loadAverage: { start: [1, 1, 1], end: [1, 1, 1] },
      },
      waitScale: 1 / 30,
      wallTimeMs: 66_000,
      lanes,
      baselineSource: 'declared',
      runbooksDir: 'runbooks',
      summary: summarize(scenarios),
      scenarios,
      notCovered: [],
    });

    const section = benchmarksSection(results);

    expect(laneLayout(lanes)).toEqual(['lane 1: a (5.0 s–65.0 s)', 'lane 2: b (5.2 s–35.2 s)']);
    expect(section).toContain('Wall time 66.0 s for 2 scenarios (90.0 s one after the other), in 2 lanes');
    expect(section).toContain('- lane 1: a (5.0 s–65.0 s)');
    expect(section).toContain(
      '| approval notification latency (task token minted → the request at the receiver) | median 40 ms, max 90 ms over 3 | |',
    );
  });
});

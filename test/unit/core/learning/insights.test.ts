import { describe, expect, it } from 'vitest';
import { learningReport } from '../../../../functions/core/learning/aggregate.ts';
import { runbookInsights } from '../../../../functions/core/learning/insights.ts';
import type { LearningAggregate } from '../../../../functions/core/records.ts';
import { formatLearningReport } from '../../../../local/learn.ts';
import {
  POD_MEMORY_GROWTH as FILE,
  podMemoryRun as run,
  type SeedRun,
  seedRuns,
} from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const RUNBOOK = loadRunbook(FILE);
const NOW = new Date('2026-03-03T00:00:00Z');

function on(type: string, seed: SeedRun): SeedRun {
  return { ...seed, resource: { ...seed.resource, type } };
}

function aggregate(runbookId: string): LearningAggregate {
  return {
    runbookId,
    executions: 4,
    succeeded: 3,
    failed: 1,
    aborted: 0,
    withoutHuman: 4,
    humanIntervention: 0,
    rollbacks: 0,
    rollbackFailures: 0,
    approvalsRequested: 0,
    approvalsAnswered: 0,
    byAlert: {},
    steps: [],
    updatedAt: NOW.toISOString(),
  };
}

describe('runbook insights in the learning report', () => {
  it('ranks the diagnostics and predicts per alert signature seen, most runs first', () => {
    // Prepare: three pod alerts scaled out and resolved; one Deployment alert whose scale-out failed.
    const failed = on('k8s-deployment', run({ memory: 90, status: 'failed' }));
    failed.steps.scale = { status: 'failed', durationMs: 4_000 };
    const { history } = seedRuns(RUNBOOK, [...Array.from({ length: 3 }, () => run({ memory: 90 })), failed]);

    // Act
    const insights = runbookInsights(RUNBOOK, history);

    // Assess
    expect(insights.effectiveness.diagnostics[0]).toMatchObject({ stepId: 'memory-usage', decided: 4 });
    expect(insights.effectiveness.remediations[0]).toMatchObject({ stepId: 'scale', runs: 3, resolved: 3 });
    expect(insights.predictions.map(({ signature, runs }) => ({ signature, runs }))).toEqual([
      { signature: 'PodMemoryGrowth on k8s-pod', runs: 3 },
      { signature: 'PodMemoryGrowth on k8s-deployment', runs: 1 },
    ]);
    const [pod, deployment] = insights.predictions;
    expect(pod!.run.success).toMatchObject({ runs: 3, succeeded: 3, likely: 'success' });
    expect(pod!.steps.map((step) => step.stepId)).toEqual([
      'workload-status',
      'workload-pods',
      'rollout-history',
      'pod-status',
      'pod-events',
      'memory-usage',
      'scale',
      'notify-findings',
    ]);
    expect(deployment!.steps.find((step) => step.stepId === 'scale')!.success).toMatchObject({
      runs: 1,
      succeeded: 0,
    });
  });

  it('puts each runbook’s insights beside its aggregate, and none where it has none', () => {
    // Prepare
    const { history } = seedRuns(RUNBOOK, [run({ memory: 90 })]);
    const insights = runbookInsights(RUNBOOK, history);

    // Act
    const report = learningReport(
      [aggregate(RUNBOOK.id), aggregate('other-runbook')],
      [RUNBOOK],
      [],
      NOW,
      undefined,
      new Map([[RUNBOOK.id, insights]]),
    );

    // Assess
    expect(report.runbooks.find((entry) => entry.runbookId === RUNBOOK.id)?.insights).toBe(insights);
    expect(report.runbooks.find((entry) => entry.runbookId === 'other-runbook')).not.toHaveProperty(
      'insights',
    );
  });

  it('prints the insights in runbook learn report: decisive diagnostics, resolutions, likely failures', () => {
    // Prepare: scaling out never works for Deployment alerts.
    const failing = (): SeedRun => {
      const seed = on('k8s-deployment', run({ memory: 90, status: 'failed' }));
      seed.steps.scale = { status: 'failed', durationMs: 4_000 };
      return seed;
    };
    const { history } = seedRuns(RUNBOOK, [
      ...Array.from({ length: 4 }, () => run({ memory: 90 })),
      ...Array.from({ length: 4 }, failing),
    ]);
    const report = learningReport(
      [aggregate(RUNBOOK.id)],
      [RUNBOOK],
      [],
      NOW,
      undefined,
      new Map([[RUNBOOK.id, runbookInsights(RUNBOOK, history)]]),
    );

    // Act
    const lines = formatLearningReport(report);

    // Assess
    expect(lines).toContain('Diagnostics, most decisive first (decided: runs whose branch its output chose)');
    expect(lines).toContain(
      '  pod-memory-growth/memory-usage  decided 8 of 8 (100%)  failed 0%  p50 0.5 s, p90 0.5 s, p99 0.5 s',
    );
    expect(lines).toContain(
      '  pod-memory-growth/scale  followed by a verified resolution in 4 of 4 (100%); PodMemoryGrowth on k8s-pod 4 of 4',
    );
    const deployment = lines.findIndex((line) =>
      line.includes('PodMemoryGrowth on k8s-deployment: resolves'),
    );
    expect(lines[deployment]).toMatch(/resolves \d+% \(\d+%–\d+%\), from 4 run\(s\)/);
    expect(lines[deployment + 1]).toMatch(/^ {4}scale likely fails: works \d+%/);
    const pod = lines.findIndex((line) => line.includes('PodMemoryGrowth on k8s-pod: resolves'));
    expect(lines[pod + 1]).not.toMatch(/likely fails/);
  });
});

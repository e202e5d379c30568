import { describe, expect, it } from 'vitest';
import { RANKING_CONFIDENCE, stepEffectiveness } from '../../../../functions/core/learning/effectiveness.ts';
import {
  POD_MEMORY_GROWTH as FILE,
  podMemoryRun as run,
  type SeedRun,
  seedRuns,
} from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const RUNBOOK = loadRunbook(FILE);

function effectiveness(runs: SeedRun[]) {
  return stepEffectiveness(RUNBOOK, seedRuns(RUNBOOK, runs).history);
}

/** A run whose findings were never posted (it stopped before the report phase). */
function unreported(seed: SeedRun): SeedRun {
  const { 'notify-findings': _, ...steps } = seed.steps;
  return { ...seed, status: 'aborted', steps };
}

function on(type: string, seed: SeedRun): SeedRun {
  return { ...seed, resource: { ...seed.resource, type } };
}

describe('diagnostic effectiveness', () => {
  it('ranks the diagnostic that decides 9 runs of 10 first, then by decisions, then the faster', () => {
    // Prepare: memory over 80 in 9 runs (memory-usage sends them to scale-out); in the 10th the pod's
    // warnings send it to a human (pod-status decides). The findings reach the report in 4 runs: the
    // workload reads feed its message then.
    const runs = [
      ...Array.from({ length: 4 }, () => run({ memory: 90 })),
      ...Array.from({ length: 5 }, () => unreported(run({ memory: 90 }))),
      run({ memory: 50, warnings: 60 }),
    ];

    // Act
    const { diagnostics } = effectiveness(runs);

    // Assess
    expect(diagnostics.map((step) => step.stepId)).toEqual([
      'memory-usage',
      'workload-status', // 4 of 10 as workload-pods, and faster (1.5 s against 6 s)
      'workload-pods',
      'pod-status',
      'rollout-history', // never decides, 1 s
      'pod-events', // never decides, 2 s
    ]);
    expect(diagnostics[0]).toMatchObject({ runs: 10, decided: 9, undetermined: 0, decisionRate: 0.9 });
    expect(diagnostics[3]).toMatchObject({ stepId: 'pod-status', decided: 1, decisionRate: 0.1 });
    expect(diagnostics.at(-1)).toMatchObject({ decided: 0, decisionRate: 0, decisionLowerBound: 0 });
  });

  it('ranks by what the history can claim: 1 decision in 1 run comes after 9 in 10', () => {
    // Prepare: workload-status ran once (a run that reached the report); memory-usage decided 9 of 10.
    const withoutWorkload = (seed: SeedRun): SeedRun => {
      const { 'workload-status': _, ...steps } = seed.steps;
      return { ...seed, steps };
    };
    const runs = [
      run({ memory: 90 }),
      ...Array.from({ length: 8 }, () => withoutWorkload(unreported(run({ memory: 90 })))),
      withoutWorkload(run({ memory: 50, warnings: 60 })),
    ];

    // Act
    const { diagnostics } = effectiveness(runs);

    // Assess
    const workload = diagnostics.find((step) => step.stepId === 'workload-status')!;
    expect(workload).toMatchObject({ runs: 1, decided: 1, decisionRate: 1 });
    expect(diagnostics[0]).toMatchObject({ stepId: 'memory-usage', decisionRate: 0.9 });
    expect(diagnostics.indexOf(workload)).toBe(1);
    expect(RANKING_CONFIDENCE).toBe(0.9);
    expect(workload.decisionLowerBound!).toBeLessThan(diagnostics[0]!.decisionLowerBound!);
  });

  it('counts failures and duration percentiles of each diagnostic', () => {
    // Prepare: pod-status took 1 s … 10 s; the two slowest timed out (and the run stopped there).
    const runs = Array.from({ length: 10 }, (_, index) =>
      run({
        memory: 90,
        podStatus: {
          durationMs: (index + 1) * 1_000,
          ...(index >= 8 ? { status: 'timed-out' as const } : {}),
        },
      }),
    );

    // Act
    const podStatus = effectiveness(runs).diagnostics.find((step) => step.stepId === 'pod-status')!;

    // Assess
    expect(podStatus).toMatchObject({ runs: 10, failed: 2, failureRate: 0.2 });
    expect(podStatus.durationMs).toEqual({ p50: 5_000, p90: 9_000, p99: 10_000 });
  });

  it('leaves a run whose branch read a fact the history does not hold out of the decision rate', () => {
    // Prepare: one memory reading too large to keep: the branch cannot be replayed for that run.
    const huge = run({ memory: 90 });
    huge.steps['memory-usage'] = { durationMs: 500, output: { value: 'x'.repeat(2_000) } };
    const runs = [...Array.from({ length: 4 }, () => run({ memory: 90 })), huge];

    // Act
    const memory = effectiveness(runs).diagnostics.find((step) => step.stepId === 'memory-usage')!;

    // Assess
    expect(memory).toMatchObject({ runs: 5, decided: 4, undetermined: 1, decisionRate: 1 });
  });
});

describe('remediation effectiveness', () => {
  it('counts verified resolutions after a remediation, per alert signature', () => {
    // Prepare: scaling resolves pod alerts (3 of 3) and never deployment alerts (0 of 2: the alert
    // kept firing); one more run's scale-out was undone by its compensation and earns nothing.
    const runs = [
      ...Array.from({ length: 3 }, () => run({ memory: 90 })),
      ...Array.from({ length: 2 }, () => on('k8s-deployment', run({ memory: 90, status: 'failed' }))),
      { ...run({ memory: 90, status: 'failed', rolledBack: true }), compensated: ['scale'] },
      run({ memory: 50 }), // no scale-out at all
    ];

    // Act
    const { remediations } = effectiveness(runs);

    // Assess
    expect(remediations).toEqual([
      {
        stepId: 'scale',
        name: 'Scale the Deployment to 3 replicas',
        runs: 5,
        resolved: 3,
        resolutionRate: 0.6,
        bySignature: {
          'PodMemoryGrowth on k8s-deployment': { runs: 2, resolved: 0, resolutionRate: 0 },
          'PodMemoryGrowth on k8s-pod': { runs: 3, resolved: 3, resolutionRate: 1 },
        },
      },
    ]);
  });

  it('gives no credit to a run that was rolled back, and does not count a scale-out that failed', () => {
    // Prepare
    const failedScale = run({ memory: 90, status: 'failed' });
    failedScale.steps.scale = { status: 'failed', durationMs: 4_000 };
    const runs = [
      run({ memory: 90 }),
      run({ memory: 90, status: 'succeeded', rolledBack: true }),
      failedScale,
    ];

    // Act
    const [scale] = effectiveness(runs).remediations;

    // Assess
    expect(scale).toMatchObject({ runs: 2, resolved: 1, resolutionRate: 0.5 });
  });
});

import { describe, expect, it } from 'vitest';
import {
  INTERVAL_CONFIDENCE,
  PRIOR_RUNS,
  predictOutcome,
  predictRun,
  predictSteps,
  type Trial,
} from '../../../../functions/core/learning/prediction.ts';
import {
  POD_MEMORY_GROWTH as FILE,
  podMemoryRun as run,
  type SeedRun,
  seedRuns,
} from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const RUNBOOK = loadRunbook(FILE);
const POD = 'PodMemoryGrowth on k8s-pod';
const DEPLOYMENT = 'PodMemoryGrowth on k8s-deployment';
const STATEFULSET = 'PodMemoryGrowth on k8s-statefulset';

function on(type: string, seed: SeedRun): SeedRun {
  return { ...seed, resource: { ...seed.resource, type } };
}

/** A run whose scale-out failed (the findings were never posted). */
function scaleFails(seed: SeedRun): SeedRun {
  const { 'notify-findings': _, ...steps } = seed.steps;
  return { ...seed, status: 'failed', steps: { ...steps, scale: { status: 'failed', durationMs: 4_000 } } };
}

function trials(signature: string, outcomes: boolean[], durationMs?: number): Trial[] {
  return outcomes.map((ok) => ({ signature, ok, ...(durationMs === undefined ? {} : { durationMs }) }));
}

const times = (count: number, ok: boolean) => Array.from({ length: count }, () => ok);

describe('predictions from a seeded history', () => {
  it('predicts a runbook that fails only for one alert signature to fail for that signature only', () => {
    // Prepare: 10 runs of each signature; scaling out never works for Deployment alerts.
    const runs = [
      ...Array.from({ length: 10 }, () => on('k8s-pod', run({ memory: 90 }))),
      ...Array.from({ length: 10 }, () => on('k8s-deployment', scaleFails(run({ memory: 90 })))),
      ...Array.from({ length: 10 }, () => on('k8s-statefulset', run({ memory: 90 }))),
    ];
    const { history } = seedRuns(RUNBOOK, runs);

    // Act
    const bySignature = new Map(
      [POD, DEPLOYMENT, STATEFULSET].map((signature) => [
        signature,
        {
          run: predictRun(history, signature),
          steps: new Map(predictSteps(RUNBOOK, history, signature).map((step) => [step.stepId, step])),
        },
      ]),
    );

    // Assess
    const deployment = bySignature.get(DEPLOYMENT)!;
    expect(deployment.run.success.likely).toBe('failure');
    expect(deployment.steps.get('scale')!.success).toMatchObject({
      likely: 'failure',
      runs: 10,
      succeeded: 0,
    });
    expect(deployment.steps.get('scale')!.success.interval.high).toBeLessThan(0.5);
    expect(deployment.steps.get('memory-usage')!.success.likely).toBe('success');
    for (const signature of [POD, STATEFULSET]) {
      const prediction = bySignature.get(signature)!;
      expect(prediction.run.success.likely).toBe('success');
      expect(prediction.run.success.interval.low).toBeGreaterThan(0.5);
      expect(prediction.steps.get('scale')!.success).toMatchObject({
        likely: 'success',
        runs: 10,
        succeeded: 10,
      });
      expect(prediction.steps.get('scale')!.success.prior).toMatchObject({
        from: 'other-signatures',
        runs: 20,
      });
    }
  });

  it('predicts each step’s duration from the runs of its signature, and says what it rests on', () => {
    // Prepare
    const runs = Array.from({ length: 5 }, () => run({ memory: 90 }));
    const { history } = seedRuns(RUNBOOK, runs);

    // Act
    const steps = new Map(predictSteps(RUNBOOK, history, POD).map((step) => [step.stepId, step]));

    // Assess
    expect(steps.get('scale')!.durationMs).toEqual({
      expectedMs: 4_000,
      interval: { low: 4_000, high: 4_000 },
      runs: 5,
      otherRuns: 0,
    });
    expect(steps.get('scale')!.basis).toBe(
      `5 of 5 runs of ${POD} worked; no other alert signature to lean on`,
    );
    expect(steps.get('workload-pods')!.durationMs?.expectedMs).toBe(6_000);
  });
});

describe('predictOutcome', () => {
  it('pulls a signature seen once toward the rate of the others', () => {
    // Prepare: the one run of this signature failed; 20 runs of the others all worked.
    const history = [...trials('one-run', [false]), ...trials('others', times(20, true))];

    // Act
    const { success } = predictOutcome(history, 'one-run');

    // Assess: a Beta(2·21/22, 2·1/22) prior plus one failure; without it 1 failure would say 0%.
    expect(PRIOR_RUNS).toBe(2);
    const rate = 21 / 22;
    expect(success.prior).toEqual({ from: 'other-signatures', runs: 20, rate });
    expect(success.probability).toBeCloseTo(42 / 66, 12);
    expect(success.likely).toBe('success');
    expect(success).toMatchObject({ runs: 1, succeeded: 0 });
  });

  it('lets a signature seen often speak for itself', () => {
    // Prepare
    const history = [...trials('often', times(20, false)), ...trials('others', times(20, true))];

    // Act
    const { success } = predictOutcome(history, 'often');

    // Assess
    expect(success.probability).toBeCloseTo(42 / 22 / 22, 12);
    expect(success.likely).toBe('failure');
  });

  it('uses a uniform prior when no other signature has run', () => {
    // Prepare
    const history = trials('only', [true, true, true, false]);

    // Act
    const { success, basis } = predictOutcome(history, 'only');

    // Assess: Beta(1 + 3, 1 + 1).
    expect(success.probability).toBeCloseTo(4 / 6, 12);
    expect(success.prior).toEqual({ from: 'none', runs: 0, rate: 0.5 });
    expect(basis).toBe('3 of 4 runs of only worked; no other alert signature to lean on');
  });

  it('gives the posterior an interval that holds the estimate and narrows with more runs', () => {
    // Prepare
    const few = trials('s', [true, true, false]);
    const many = trials('s', [...times(20, true), ...times(10, false)]);

    // Act
    const fewer = predictOutcome(few, 's').success;
    const more = predictOutcome(many, 's').success;

    // Assess: Beta(3, 2) (exact 5%–95%: 0.249–0.902), as the 90% Wilson interval of 3 in 5.
    expect(INTERVAL_CONFIDENCE).toBe(0.9);
    expect(fewer.interval.low).toBeCloseTo(0.2725, 3);
    expect(fewer.interval.high).toBeCloseTo(0.8573, 3);
    expect(more.interval.low).toBeLessThan(more.probability);
    expect(more.interval.high).toBeGreaterThan(more.probability);
    expect(more.interval.high - more.interval.low).toBeLessThan(fewer.interval.high - fewer.interval.low);
  });

  it('pulls the duration of a signature seen once toward the others and widens it by their spread', () => {
    // Prepare: 10 s once here; 1 s and 4 s elsewhere.
    const history = [
      ...trials('one-run', [true], 10_000),
      ...trials('others', times(5, true), 1_000),
      ...trials('others', times(5, true), 4_000),
    ];

    // Act
    const durationMs = predictOutcome(history, 'one-run').durationMs!;

    // Assess: the log-mean, weighted 1 (this run) to PRIOR_RUNS (the others' log-mean, 2 s).
    expect(durationMs.expectedMs).toBe(
      3_420, // (10 s × 2 s × 2 s)^(1/3)
    );
    expect(durationMs).toMatchObject({ runs: 1, otherRuns: 10 });
    expect(durationMs.interval.low).toBeLessThan(durationMs.expectedMs);
    expect(durationMs.interval.high).toBeGreaterThan(durationMs.expectedMs);
  });

  it('uses a signature’s own spread once it has enough runs', () => {
    // Prepare: here always 3 s; elsewhere anything from 1 s to 9 s.
    const history = [
      ...trials('steady', times(5, true), 3_000),
      ...trials('others', times(3, true), 1_000),
      ...trials('others', times(3, true), 9_000),
    ];

    // Act
    const durationMs = predictOutcome(history, 'steady').durationMs!;

    // Assess: log-mean of 5 × 3 s and PRIOR_RUNS × 3 s (the others’ log-mean) is 3 s, and no spread.
    expect(durationMs).toEqual({
      expectedMs: 3_000,
      interval: { low: 3_000, high: 3_000 },
      runs: 5,
      otherRuns: 6,
    });
  });

  it('says so when there is nothing to go on', () => {
    // Act
    const prediction = predictOutcome([], 'new');

    // Assess
    expect(prediction.success).toMatchObject({ probability: 0.5, runs: 0, likely: 'success' });
    expect(prediction.durationMs).toBeUndefined();
    expect(prediction.basis).toBe('no past runs: an even chance, nothing measured');
  });
});

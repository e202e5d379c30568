import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../../functions/core/errors.ts';
import type { ExecutionRecord, StepStatistics } from '../../../../functions/core/records.ts';
import { validateRunbookText } from '../../../../functions/core/runbook/validate.ts';
import { countsAsFailure, failuresInWindow } from '../../../../functions/core/watch/circuit-breaker.ts';
import {
  baselineValue,
  describeWorsening,
  readSignal,
  worseThanBaseline,
} from '../../../../functions/core/watch/health.ts';
import {
  CircuitBreakerPolicy,
  StuckStepPolicy,
  WatchPolicy,
} from '../../../../functions/core/watch/policy.ts';
import { stuckReason, stuckThreshold } from '../../../../functions/core/watch/stuck-step.ts';
import { OPTIONS, ROOT } from '../../../support/runbooks.ts';

/** The decisions of watching a running execution, pure: health signals, stuck steps, circuit breakers. */

const READY = {
  check: 'workload-ready',
  fact: 'steps.workload-ready.output.readyReplicas',
  worseWhen: 'decreases' as const,
  margin: 0,
};
const ERRORS = {
  check: 'error-rate',
  fact: 'steps.error-rate.output.series[0].value',
  worseWhen: 'increases' as const,
  margin: 0.5,
};

describe('health signals', () => {
  it('reads the number a signal names in its check’s output, or says why there is none', () => {
    // Assess
    expect(readSignal(READY, { readyReplicas: 3 })).toEqual({ value: 3 });
    expect(readSignal(ERRORS, { series: [{ value: 2.5 }] })).toEqual({ value: 2.5 });
    expect(readSignal(READY, { readyReplicas: null })).toEqual({
      unavailable: 'steps.workload-ready.output.readyReplicas is null, not a number',
    });
    expect(readSignal(READY, { readyReplicas: '3' })).toEqual({
      unavailable: 'steps.workload-ready.output.readyReplicas is string, not a number',
    });
    expect(readSignal(READY, {})).toEqual({
      unavailable: "steps.workload-ready.output.readyReplicas is not in workload-ready's output",
    });
    expect(readSignal(ERRORS, { series: [] })).toEqual({
      unavailable: "steps.error-rate.output.series[0].value is not in error-rate's output",
    });
  });

  it('is worse only past the margin, in the direction that hurts', () => {
    // Assess: ready replicas (lower is worse), margin 0
    expect(worseThanBaseline(READY, 4, 4)).toBeUndefined();
    expect(worseThanBaseline(READY, 4, 5)).toBeUndefined();
    expect(worseThanBaseline(READY, 4, 3)).toEqual({ ...READY, baseline: 4, current: 3, by: 1 });
    // an error rate (higher is worse), margin 0.5
    expect(worseThanBaseline(ERRORS, 1, 1.5)).toBeUndefined();
    expect(worseThanBaseline(ERRORS, 1, 0)).toBeUndefined();
    expect(worseThanBaseline(ERRORS, 1, 1.75)).toMatchObject({ baseline: 1, current: 1.75, by: 0.75 });
  });

  it('finds a signal’s baseline, and says what got worse in words', () => {
    // Prepare
    const readings = [
      { check: 'workload-ready', fact: READY.fact, value: 4 },
      { check: 'error-rate', fact: ERRORS.fact, value: null, unavailable: 'prometheus.query timed out' },
    ];

    // Assess
    expect(baselineValue(readings, READY)).toBe(4);
    expect(baselineValue(readings, ERRORS)).toBeUndefined();
    expect(baselineValue([], READY)).toBeUndefined();
    expect(describeWorsening(worseThanBaseline(ERRORS, 0.012, 0.9)!, 'when wait-for-restart ended')).toBe(
      'health signal steps.error-rate.output.series[0].value rose from 0.012 before the first change to 0.9, when wait-for-restart ended (worse when it increases, margin 0.5)',
    );
  });
});

describe('stuck steps', () => {
  const policy = StuckStepPolicy.parse({ minRuns: 5, minimum: '30s' });
  const stats = (runs: number, p99DurationMs?: number): StepStatistics => ({
    stepId: 'drain',
    runs,
    failures: 0,
    skipped: 0,
    meanDurationMs: 20_000,
    p90DurationMs: 40_000,
    ...(p99DurationMs === undefined ? {} : { p99DurationMs }),
  });

  it('counts a step as stuck past its learned p99 once it has enough runs, never sooner than the minimum', () => {
    // Assess
    expect(stuckThreshold(stats(10, 90_000), 600, policy)).toEqual({
      afterMs: 90_000,
      basis: 'p99',
      p99Ms: 90_000,
      runs: 10,
    });
    expect(stuckThreshold(stats(10, 200), 600, policy)).toMatchObject({ afterMs: 30_000, basis: 'p99' });
    // a p99 past the timeout: the timeout comes first
    expect(stuckThreshold(stats(10, 900_000), 600, policy)).toMatchObject({ afterMs: 600_000, basis: 'p99' });
  });

  it('uses the step’s timeout without history: too few runs, no p99 kept yet, or no statistics', () => {
    // Assess
    expect(stuckThreshold(stats(4, 90_000), 600, policy)).toEqual({ afterMs: 600_000, basis: 'timeout' });
    expect(stuckThreshold(stats(10), 600, policy)).toEqual({ afterMs: 600_000, basis: 'timeout' });
    expect(stuckThreshold(undefined, 120, policy)).toEqual({ afterMs: 120_000, basis: 'timeout' });
  });

  it('says why in words', () => {
    // Assess
    expect(
      stuckReason(
        { id: 'drain', tool: 'k8s.drain-node' },
        95_400,
        stuckThreshold(stats(12, 20_000), 600, policy),
      ),
    ).toBe(
      'step drain (k8s.drain-node) has been running 95s, past its learned p99 of 20s over 12 runs (the environment waits at least 30s)',
    );
    expect(
      stuckReason({ id: 'drain', tool: 'k8s.drain-node' }, 120_000, stuckThreshold(undefined, 120, policy)),
    ).toBe(
      'step drain (k8s.drain-node) has been running 120s, past its timeout of 120s (no history of this step yet)',
    );
  });
});

describe('circuit breakers', () => {
  const NOW = new Date('2026-11-25T10:30:00.000Z');
  const policy = CircuitBreakerPolicy.parse({ failures: 3, within: '30m' });
  const run = (
    id: string,
    stoppedAt: string,
    outcome: Partial<NonNullable<ExecutionRecord['outcome']>> | undefined,
    dryRun = false,
  ) => ({
    id,
    dryRun,
    stoppedAt,
    ...(outcome
      ? {
          outcome: {
            status: 'failed' as const,
            rolledBack: false,
            rollbackFailed: false,
            escalated: true,
            humanIntervention: true,
            approvals: 0,
            approvalsAnswered: 0,
            approvalWaitMs: 0,
            recordedOutputs: {},
            ...outcome,
          },
        }
      : {}),
  });

  it('counts a real run that failed of itself, not one a person or a limit stopped, nor a dry run', () => {
    // Assess
    expect(countsAsFailure(run('a', NOW.toISOString(), { error: 'Runbook.ToolFailed' }))).toBe(true);
    expect(countsAsFailure(run('b', NOW.toISOString(), { error: 'Verification.Failed' }))).toBe(true);
    expect(countsAsFailure(run('c', NOW.toISOString(), { error: 'Safety.HealthWorse' }))).toBe(true);
    expect(countsAsFailure(run('d', NOW.toISOString(), { error: 'Runbook.ToolFailed' }, true))).toBe(false);
    for (const error of [
      'Approval.Rejected',
      'Approval.Expired',
      'Safety.KillSwitch',
      'Safety.LimitExceeded',
      'Safety.RiskRefused',
      'Runbook.Aborted',
    ])
      expect(countsAsFailure(run('e', NOW.toISOString(), { error })), error).toBe(false);
    expect(countsAsFailure(run('f', NOW.toISOString(), { status: 'succeeded' }))).toBe(false);
    expect(countsAsFailure(run('g', NOW.toISOString(), undefined))).toBe(false);
  });

  it('keeps the failures within the window and after the last close, oldest first, each once', () => {
    // Prepare
    const runs = [
      run('late', '2026-11-25T10:29:00.000Z', { error: 'Runbook.ToolFailed' }),
      run('old', '2026-11-25T09:59:00.000Z', { error: 'Runbook.ToolFailed' }),
      run('early', '2026-11-25T10:01:00.000Z', { error: 'Verification.Failed' }),
      run('mid', '2026-11-25T10:10:00.000Z', { error: 'Runbook.StepTimeout' }),
      run('refused', '2026-11-25T10:12:00.000Z', { error: 'Safety.LimitExceeded' }),
      run('late', '2026-11-25T10:29:00.000Z', { error: 'Runbook.ToolFailed' }),
      run('future', '2026-11-25T10:31:00.000Z', { error: 'Runbook.ToolFailed' }),
    ];

    // Act
    const all = failuresInWindow(runs, NOW, policy);
    const sinceClosed = failuresInWindow(runs, NOW, policy, '2026-11-25T10:05:00.000Z');

    // Assess
    expect(all.map((failure) => failure.executionId)).toEqual(['early', 'mid', 'late']);
    expect(all[0]).toEqual({
      executionId: 'early',
      stoppedAt: '2026-11-25T10:01:00.000Z',
      error: 'Verification.Failed',
    });
    expect(sinceClosed.map((failure) => failure.executionId)).toEqual(['mid', 'late']);
    expect(all.length >= policy.failures).toBe(true);
    expect(sinceClosed.length >= policy.failures).toBe(false);
  });

  it('takes its defaults and durations from cdk.json’s shape', () => {
    // Assess
    expect(WatchPolicy.parse({})).toEqual({
      stuckSteps: { enabled: true, minRuns: 5, minimum: 30, notify: ['default'] },
      circuitBreaker: { enabled: true, failures: 3, within: 1_800, notify: ['default'] },
    });
    expect(WatchPolicy.safeParse({ circuitBreaker: { failures: 0 } }).success).toBe(false);
    expect(WatchPolicy.safeParse({ stuckSteps: { minimum: 'soon' } }).success).toBe(false);
  });
});

describe('runbook validate: checkHealthWatches', () => {
  const text = readFileSync(join(ROOT, 'test/fixtures/runbooks/watch/restart-watched.yaml'), 'utf8');
  const problemsOf = (yaml: string) =>
    validateRunbookText(yaml, OPTIONS).problems.map((problem) =>
      formatProblem('restart-watched.yaml', problem),
    );
  const lineOf = (yaml: string, needle: string) =>
    yaml.split('\n').findIndex((line) => line.includes(needle)) + 1;

  it('accepts a watched success metric', () => {
    // Assess
    expect(problemsOf(text)).toEqual([]);
  });

  it('refuses a watch on another check’s output, on a field that is no number, or one the tool lacks', () => {
    // Prepare
    const other = text.replace(
      'fact: steps.workload-ready.output.readyReplicas',
      'fact: steps.workload-before.output.readyReplicas',
    );
    const notANumber = text.replace(
      'fact: steps.workload-ready.output.readyReplicas',
      'fact: steps.workload-ready.output.rolloutInProgress',
    );
    const missing = text.replace(
      'fact: steps.workload-ready.output.readyReplicas',
      'fact: steps.workload-ready.output.readyReplica',
    );

    // Assess
    const at = lineOf(text, 'fact: steps.workload-ready.output.readyReplicas');
    expect(problemsOf(other)).toEqual([
      `restart-watched.yaml:${at}:15  successMetrics.checks[0].watch.fact: steps.workload-before.output.readyReplicas: a watch reads a number in its check's own output (steps.workload-ready.output.<field>)`,
    ]);
    expect(problemsOf(notANumber)).toEqual([
      `restart-watched.yaml:${at}:15  successMetrics.checks[0].watch.fact: steps.workload-ready.output.rolloutInProgress: k8s.workload-status gives a boolean there; a watch compares numbers (an error rate, ready replicas)`,
    ]);
    expect(problemsOf(missing)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^restart-watched\\.yaml:${at}:15  successMetrics\\.checks\\[0\\]\\.watch\\.fact: steps\\.workload-ready\\.output\\.readyReplica: .*did you mean "readyReplicas"`,
        ),
      ),
    ]);
  });

  it('refuses a watch on a prerequisite: nothing changed yet to compare with', () => {
    // Prepare
    const prerequisite = text.replace(
      'environmentConstraints: { environments: [staging] }',
      [
        'environmentConstraints: { environments: [staging] }',
        'prerequisiteChecks:',
        '  - id: exists',
        '    name: The workload exists',
        '    tool: k8s.workload-status',
        "    parameters: { namespace: '{{ alert.labels.namespace }}', kind: Deployment, name: web }",
        '    watch: { fact: steps.exists.output.readyReplicas, worseWhen: decreases }',
      ].join('\n'),
    );

    // Assess
    expect(problemsOf(prerequisite)).toEqual([
      `restart-watched.yaml:${lineOf(prerequisite, 'watch: { fact: steps.exists')}:5  prerequisiteChecks[0].watch: a watch belongs on a success metric (successMetrics.checks): exists runs before any change, so there is nothing to compare it with`,
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  type ExecutionExplanation,
  explanationLines,
  NOTIFICATION_CAUSE_CHARS,
  restsOn,
} from '../../../../functions/core/findings/explain.ts';
import type { DiagnosticResult } from '../../../../functions/core/findings/finding.ts';
import { HISTORY_BONUS, TIME_BONUS } from '../../../../functions/core/findings/rank.ts';
import { predictOutcome } from '../../../../functions/core/learning/prediction.ts';
import type { ExecutionRecord, StepOutcome } from '../../../../functions/core/records.ts';
import { ExplainService, notYetRun } from '../../../../functions/core/services/explain.ts';
import { silentLogger } from '../../../../functions/ports/logger.ts';
import { type SeedRun, seedRuns } from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';
import { ALERT_STARTED_AT, rolloutHistory, workloadStatus } from './fixtures.ts';

/**
 * The explanation service on seeded histories with known answers: the store holds earlier runs of the
 * runbook (their step outcomes with outputs), the execution's diagnostics have run, and the service
 * ranks the likely causes and predicts the steps still to run.
 */

const RUNBOOK = loadRunbook('test/fixtures/runbooks/explain/roll-back-release.yaml');
const SIGNATURE = 'PodMemoryGrowth on k8s-pod';
const NOW = new Date('2024-05-01T12:10:30.000Z');
const CURRENT = 'roll-back-release-now';
const SUBJECT = {
  id: CURRENT,
  runbookId: RUNBOOK.id,
  alert: { name: 'PodMemoryGrowth', startsAt: ALERT_STARTED_AT, resource: { type: 'k8s-pod' } },
};

/** The execution's own outcome of a diagnostic, as the step runner stores it. */
function outcomeOf(diagnostic: DiagnosticResult, stepId: string): StepOutcome {
  return {
    executionId: CURRENT,
    stepId,
    kind: 'step',
    name: stepId,
    tool: diagnostic.tool,
    mutating: false,
    risk: 'low',
    attempt: 1,
    status: 'succeeded',
    startedAt: '2024-05-01T12:09:58.000Z',
    finishedAt: diagnostic.observedAt,
    durationMs: 2_000,
    parameters: {},
    output: diagnostic.output,
    dryRun: false,
  };
}

/** A release of checkout 3 minutes before the alert; two of its pods crash-loop. */
function diagnosed(): StepOutcome[] {
  return [
    outcomeOf(workloadStatus({ crashLoopingPods: 2, unavailableReplicas: 0 }), 'workload'),
    outcomeOf(rolloutHistory(), 'history'),
  ];
}

/** A past run: the same release finding, then a rollback that worked (or not), in `undoMs`. */
function pastRun(status: 'succeeded' | 'failed', undoMs: number): SeedRun {
  return {
    status,
    steps: {
      workload: { output: workloadStatus().output },
      history: { output: rolloutHistory().output },
      'rollout-undo': { status: status === 'succeeded' ? 'succeeded' : 'failed', durationMs: undoMs },
    },
  };
}

function storeWith(
  past: { executions: ExecutionRecord[]; outcomes: StepOutcome[][] },
  current: StepOutcome[],
) {
  const outcomes = new Map(past.executions.map((execution, index) => [execution.id, past.outcomes[index]!]));
  outcomes.set(CURRENT, current);
  return {
    listExecutionsByRunbook: async (runbookId: string, since: string) =>
      past.executions.filter(
        (execution) => execution.runbookId === runbookId && execution.startedAt >= since,
      ),
    listStepOutcomes: async (executionId: string) => outcomes.get(executionId) ?? [],
  };
}

async function explain(runs: readonly SeedRun[], options: { rename?: Record<number, string> } = {}) {
  const seeded = seedRuns(RUNBOOK, runs, Date.parse('2024-04-20T08:00:00Z'));
  for (const [index, name] of Object.entries(options.rename ?? {}))
    seeded.executions[Number(index)]!.alert.name = name;
  const service = new ExplainService({
    store: storeWith(seeded, diagnosed()),
    clock: { now: () => NOW },
    logger: silentLogger,
    runbooks: () => [RUNBOOK],
  });
  return service.explain(SUBJECT);
}

describe('explaining an execution', () => {
  it('a deployment 3 minutes before the alert is the top likely cause, raised further by verified fixes after it', async () => {
    // Prepare: two verified rollbacks after the same release finding, one that failed, one of another alert, one dry run
    const runs: SeedRun[] = [
      pastRun('succeeded', 4_000),
      pastRun('succeeded', 6_000),
      pastRun('failed', 30_000),
      pastRun('succeeded', 5_000),
      { ...pastRun('succeeded', 5_000), dryRun: true },
    ];

    // Act
    const withHistory = await explain(runs, { rename: { 3: 'PodLatency' } });
    const alone = await explain([]);

    // Assess: the release comes first, for its time and its history
    const [top, second] = withHistory.likelyCauses;
    expect(top?.kind).toBe('recent-deployment');
    expect(top?.resources).toEqual(['Deployment/shop/checkout']);
    expect(top?.rules).toEqual(['time', 'history']);
    expect(top?.conclusion).toBe(
      'Deployment shop/checkout was deployed (revision 7, image shop/checkout:1.4.2); that was 3 minutes before the alert started. The same kind of finding came before 2 of 2 verified fixes of this alert.',
    );
    // Both diagnostics saw the release: one cause resting on both outputs.
    expect(top?.findings.map((finding) => finding.evidence.path)).toEqual([
      'steps.workload.output.lastRolloutMinutesAgo',
      'steps.history.output.revisions[0]',
    ]);
    expect(second?.kind).toBe('crash-loop');
    expect(withHistory.history).toEqual({ runs: 4, sameSignature: 3, verifiedRemediations: 2 });
    expect(withHistory.signature).toBe(SIGNATURE);
    // The history rule's bonus is what separates the two: the same release with no history has time alone.
    expect(alone.likelyCauses[0]?.rules).toEqual(['time']);
    expect(alone.likelyCauses[0]?.score).toBeCloseTo(0.5 + TIME_BONUS * (1 - 3 / 60), 2);
    expect((top?.score ?? 0) - (alone.likelyCauses[0]?.score ?? 0)).toBeCloseTo(HISTORY_BONUS, 2);
    expect(alone.history).toEqual({ runs: 0, sameSignature: 0, verifiedRemediations: 0 });
  });

  it('history can reorder: a change verified fixes followed overtakes a louder fault', async () => {
    // Prepare: a config change 50 minutes before the alert (weak in time) and crash-looping pods
    const config = rolloutHistory({
      imagesChanged: false,
      changedImages: [],
      revisions: [
        {
          revision: 7,
          current: true,
          createdAt: '2024-05-01T11:10:00.000Z',
          images: [{ container: 'app', image: 'shop/checkout:1.4.1' }],
          changeCause: 'lower memory limit',
        },
      ],
    });
    const current = [
      outcomeOf(workloadStatus({ lastRolloutMinutesAgo: null, unavailableReplicas: 0 }), 'workload'),
      outcomeOf(config, 'history'),
    ];
    const verifiedAfterConfig: SeedRun = {
      status: 'succeeded',
      steps: {
        workload: { output: workloadStatus({ crashLoopingPods: 0, unavailableReplicas: 0 }).output },
        history: { output: config.output },
        'rollout-undo': { durationMs: 4_000 },
      },
    };
    const seeded = seedRuns(
      RUNBOOK,
      [verifiedAfterConfig, verifiedAfterConfig],
      Date.parse('2024-04-20T08:00:00Z'),
    );
    const service = (past: Pick<typeof seeded, 'executions' | 'outcomes'>) =>
      new ExplainService({
        store: storeWith(past, current),
        clock: { now: () => NOW },
        logger: silentLogger,
        runbooks: () => [RUNBOOK],
      });

    // Act
    const withHistory = await service(seeded).explain(SUBJECT);
    const without = await service({ executions: [], outcomes: [] }).explain(SUBJECT);

    // Assess
    expect(without.likelyCauses.map((cause) => cause.kind)).toEqual(['crash-loop', 'config-change']);
    expect(withHistory.likelyCauses.map((cause) => `${cause.kind} ${cause.rules.join('+')}`)).toEqual([
      'config-change time+history',
      'crash-loop ',
    ]);
  });

  it('predicts the steps not yet run from the similar past runs, and says when it is the prior alone', async () => {
    // Prepare
    const runs = [pastRun('succeeded', 4_000), pastRun('succeeded', 6_000), pastRun('failed', 30_000)];

    // Act
    const explained = await explain(runs);
    const none = await explain([]);

    // Assess: only the rollback is still to run
    expect(explained.predictions.map((prediction) => prediction.stepId)).toEqual(['rollout-undo']);
    const [undo] = explained.predictions;
    expect(undo?.success.runs).toBe(3);
    expect(undo?.success.succeeded).toBe(2);
    // A uniform prior worth two runs: (2 + 1) / (3 + 2).
    expect(undo?.success.probability).toBeCloseTo(3 / 5, 5);
    expect(undo?.success.interval.low).toBeLessThan(0.6);
    expect(undo?.success.interval.high).toBeGreaterThan(0.6);
    expect(undo?.durationMs?.runs).toBe(3);
    expect(undo?.durationMs?.expectedMs).toBe(Math.round(Math.cbrt(4_000 * 6_000 * 30_000)));
    expect(undo?.restsOn).toBe('3 similar past runs (same runbook, step and alert)');
    expect(none.predictions[0]?.restsOn).toBe('no history yet, prior only (an even prior)');
    expect(none.predictions[0]?.success.probability).toBe(0.5);
    expect(none.predictions[0]?.durationMs).toBeUndefined();
  });

  it('a signature seen for the first time leans on the other alerts, and says so', async () => {
    const explained = await explain([pastRun('succeeded', 4_000), pastRun('failed', 9_000)], {
      rename: { 0: 'PodLatency', 1: 'PodLatency' },
    });
    expect(explained.predictions[0]?.success.runs).toBe(0);
    expect(explained.predictions[0]?.restsOn).toBe(
      'no history yet, prior only (the prior from 2 runs of other alerts)',
    );
    expect(explained.history).toEqual({ runs: 2, sameSignature: 0, verifiedRemediations: 0 });
  });

  it('notYetRun: steps that finished are not predicted; a running one still is', () => {
    const running: StepOutcome = { ...diagnosed()[1]!, status: 'running' };
    expect(notYetRun(RUNBOOK, [diagnosed()[0]!, running]).map((step) => step.id)).toEqual([
      'history',
      'rollout-undo',
    ]);
  });

  it('reads the outputs of read-only steps only: a change and a check after it are not the cause', async () => {
    const [workload] = diagnosed();
    const change: StepOutcome = {
      ...outcomeOf(rolloutHistory(), 'rollout-undo'),
      tool: 'k8s.rollout-history',
      mutating: true,
    };
    const check: StepOutcome = { ...outcomeOf(rolloutHistory(), 'history'), kind: 'check' };
    const service = new ExplainService({
      store: storeWith({ executions: [], outcomes: [] }, [workload!, change, check]),
      clock: { now: () => NOW },
      logger: silentLogger,
      runbooks: () => [RUNBOOK],
    });
    const explained = await service.explain(SUBJECT);
    expect(explained.findings.map((finding) => `${finding.evidence.stepId} ${finding.kind}`)).toEqual([
      'workload recent-deployment',
      'workload crash-loop',
    ]);
  });

  it('reads a finished run’s steps once: a polled execution view re-reads only the execution itself', async () => {
    // Prepare
    const seeded = seedRuns(
      RUNBOOK,
      [pastRun('succeeded', 4_000), pastRun('failed', 9_000)],
      Date.parse('2024-04-20T08:00:00Z'),
    );
    const store = storeWith(seeded, diagnosed());
    const reads: string[] = [];
    const service = new ExplainService({
      store: {
        ...store,
        listStepOutcomes: (executionId: string) => {
          reads.push(executionId);
          return store.listStepOutcomes(executionId);
        },
      },
      clock: { now: () => NOW },
      logger: silentLogger,
      runbooks: () => [RUNBOOK],
    });

    // Act
    const first = await service.explain(SUBJECT);
    const second = await service.explain(SUBJECT);

    // Assess
    expect(second).toEqual(first);
    expect(reads.filter((id) => id !== CURRENT).sort()).toEqual(
      seeded.executions.map((execution) => execution.id).sort(),
    );
    expect(reads.filter((id) => id === CURRENT)).toHaveLength(2);
  });

  it('tryExplain logs and gives nothing when the store fails, so an approval is still asked for', async () => {
    const warnings: string[] = [];
    const service = new ExplainService({
      store: {
        listExecutionsByRunbook: () => Promise.reject(new Error('throttled')),
        listStepOutcomes: async () => [],
      },
      clock: { now: () => NOW },
      logger: {
        ...silentLogger,
        warn: (message, data) => warnings.push(`${message} ${JSON.stringify(data)}`),
      },
      runbooks: () => [RUNBOOK],
    });
    expect(await service.tryExplain(SUBJECT)).toBeUndefined();
    expect(warnings).toEqual([
      'could not explain the execution {"executionId":"roll-back-release-now","error":"throttled"}',
    ]);
  });
});

describe('explanation in words', () => {
  it('restsOn: similar runs with the prior from other alerts', () => {
    const trials = [
      { signature: 'A', ok: true },
      { signature: 'B', ok: false },
      { signature: 'B', ok: true },
    ];
    expect(restsOn(predictOutcome(trials, 'A'))).toBe(
      '1 similar past run (same runbook, step and alert) and the prior from 2 runs of other alerts',
    );
  });

  it('explanationLines: the top causes, cut to size, then each step’s prediction', async () => {
    const explained = await explain([pastRun('succeeded', 4_000), pastRun('succeeded', 6_000)]);
    const long: ExecutionExplanation = {
      ...explained,
      likelyCauses: [
        ...explained.likelyCauses,
        { ...explained.likelyCauses[0]!, conclusion: 'x'.repeat(2_000) },
        { ...explained.likelyCauses[0]!, conclusion: 'the fourth' },
      ],
    };
    const lines = explanationLines(long);
    expect(lines[0]).toBe('Likely cause:');
    expect(lines[1]).toMatch(
      /^ {2}1\. Deployment shop\/checkout was deployed .*3 minutes before the alert started/,
    );
    expect(lines.filter((line) => /^ {2}\d\. /.test(line))).toHaveLength(3);
    expect(lines.join('\n')).not.toContain('the fourth');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(NOTIFICATION_CAUSE_CHARS + 5);
    expect(lines.slice(-2)).toEqual([
      'Prediction:',
      expect.stringMatching(
        /^ {2}Roll back to the previous revision: 75% likely to succeed \(90% interval \d+%–\d+%\), about \d\.\ds \(90% interval .+\); rests on 2 similar past runs \(same runbook, step and alert\)\.$/,
      ),
    ]);
    expect(explanationLines({ ...explained, likelyCauses: [], findings: [] })[1]).toBe(
      '  The diagnostics so far found nothing abnormal.',
    );
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../functions/core/alert.ts';
import { approvalPublicId } from '../../../functions/core/approval-links.ts';
import { normalizeAlertmanager } from '../../../functions/core/classifier/normalize.ts';
import { InvalidEventError } from '../../../functions/core/errors.ts';
import {
  type ApprovalRecord,
  type ExecutionRecord,
  summarizeAlert,
} from '../../../functions/core/records.ts';
import { slotKey } from '../../../functions/core/services/record.ts';
import { createLearningRecorderHandler } from '../../../functions/handlers/learning-recorder.ts';
import { type AwsHarness, lambdaContext, startAwsHarness } from '../../support/aws-harness.ts';
import { ROOT } from '../../support/runbooks.ts';

const RUNBOOK = 'node-memory-pressure';
const EXECUTION_ID = 'node-memory-pressure-43f8a50a0755fd8eb3fd';
const STOPPED_AT = '2026-11-25T10:09:12.877Z'; // the fixture's stopDate, 1795601352877

const readJson = (path: string) =>
  JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as Record<string, unknown>;

interface StatusEvent extends Record<string, unknown> {
  detail: Record<string, unknown>;
}

/** The real fixture, for another execution or status. */
function statusEvent(
  changes: { name?: string; status?: string; error?: string; cause?: string; output?: string | null } = {},
): StatusEvent {
  const event = readJson('test/fixtures/alerts/stepfunctions-status-change.json') as StatusEvent;
  const name = changes.name ?? EXECUTION_ID;
  const executionArn = (event.detail.executionArn as string).replace(/:[^:]+$/, `:${name}`);
  event.resources = [executionArn];
  event.detail = {
    ...event.detail,
    executionArn,
    name,
    ...(changes.status ? { status: changes.status } : {}),
    ...(changes.error ? { error: changes.error } : {}),
    ...(changes.cause ? { cause: changes.cause } : {}),
    ...(changes.output === undefined ? {} : { output: changes.output }),
  };
  return event;
}

function executionRecord(
  alert: Alert,
  id: string,
  overrides: Partial<ExecutionRecord> = {},
): ExecutionRecord {
  return {
    id,
    runbookId: RUNBOOK,
    runbookVersion: '1.0.0',
    incidentId: `inc-${id}`,
    environment: 'prod',
    dryRun: false,
    status: 'running',
    alert: summarizeAlert(alert),
    startedAt: '2026-11-25T09:58:31.204Z',
    resourceKey: `k8s-node/${alert.resource.id}`,
    control: { pauseRequested: false, abortRequested: false },
    ...overrides,
  };
}

function decidedApproval(alert: Alert, executionId: string, waitMs: number): ApprovalRecord {
  const requestedAt = '2026-11-25T09:59:00.000Z';
  const decidedAt = new Date(Date.parse(requestedAt) + waitMs).toISOString();
  return {
    id: approvalPublicId(executionId, 'phase-restart-workload-0a1b2c3d4e'),
    executionId,
    runbookId: RUNBOOK,
    requirement: 'sre-approves-remediation',
    target: { kind: 'phase', id: 'restart-workload' },
    environment: 'prod',
    risk: 'medium',
    approverGroups: ['sre-oncall'],
    approvers: ['alice@example.com', 'bob@example.com'],
    quorum: 1,
    status: 'approved',
    decisions: [{ approver: 'alice@example.com', decision: 'approve', at: decidedAt }],
    requestedAt,
    expiresAt: '2026-11-25T10:14:00.000Z',
    decidedAt,
    taskToken: 'approval-token',
    plan: [],
    alert: summarizeAlert(alert),
  };
}

describe('learning-recorder handler', () => {
  let harness: AwsHarness;
  let alert: Alert;
  let handler: ReturnType<typeof createLearningRecorderHandler>;

  beforeEach(async () => {
    harness = await startAwsHarness();
    alert = normalizeAlertmanager(
      readJson('test/fixtures/alerts/alertmanager-node-memory-pressure.json'),
      harness.normalize,
    )[0]!;
    handler = createLearningRecorderHandler({ learning: harness.services.learning, logger: harness.logger });
  });
  afterEach(() => harness.stop());

  /** An execution holding its runbook's only concurrency slot, as the classifier leaves it. */
  async function started(id = EXECUTION_ID, overrides: Partial<ExecutionRecord> = {}) {
    await harness.store.createExecution(executionRecord(alert, id, overrides));
    expect(await harness.store.acquireSlot(slotKey(RUNBOOK), id, 1)).toBe(true);
  }

  const slotIsFree = () => harness.store.acquireSlot(slotKey(RUNBOOK), 'someone-else', 1);

  it('keeps the outcome of an execution that reached its Record task, and recomputes the aggregate', async () => {
    // Prepare
    await started();
    harness.clock.set('2026-11-25T10:09:10.000Z');
    await harness.services.records.record('succeeded', [], { execution: { id: EXECUTION_ID } });
    const recorded = await harness.store.getExecution(EXECUTION_ID);
    harness.clock.set('2026-11-25T10:09:15.000Z');

    // Act
    const result = await handler(statusEvent(), lambdaContext());

    // Assess
    expect(result).toEqual({ recorded: true, runbookId: RUNBOOK });
    const execution = await harness.store.getExecution(EXECUTION_ID);
    expect(execution?.outcome).toEqual(recorded?.outcome);
    expect(execution).toMatchObject({ status: 'succeeded', stoppedAt: '2026-11-25T10:09:10.000Z' });
    expect(await slotIsFree()).toBe(true);
    expect(await harness.store.getLearningAggregate(RUNBOOK)).toMatchObject({
      runbookId: RUNBOOK,
      executions: 1,
      succeeded: 1,
      withoutHuman: 1,
      humanIntervention: 0,
      byAlert: { KubeNodeMemoryPressure: { executions: 1, succeeded: 1 } },
      updatedAt: '2026-11-25T10:09:15.000Z',
    });
  });

  it('records an ABORTED execution that never reached Record as aborted, and frees its slot', async () => {
    // Prepare
    await started();

    // Act
    await handler(statusEvent({ status: 'ABORTED', output: null }), lambdaContext());

    // Assess
    const execution = await harness.store.getExecution(EXECUTION_ID);
    expect(execution).toMatchObject({
      status: 'aborted',
      stoppedAt: STOPPED_AT,
      engineRef: expect.stringMatching(
        /:execution:runbook-autopilot-node-memory-pressure:node-memory-pressure-/,
      ),
      outcome: { status: 'aborted', humanIntervention: true, approvals: 0, rolledBack: false },
    });
    expect(execution?.outcome).not.toHaveProperty('timeToRecoverMs');
    expect(await slotIsFree()).toBe(true);
    expect(await harness.store.getLearningAggregate(RUNBOOK)).toMatchObject({
      executions: 1,
      aborted: 1,
      succeeded: 0,
      withoutHuman: 0,
    });
  });

  it('records a TIMED_OUT execution as failed with States.Timeout', async () => {
    // Prepare
    await started();

    // Act
    await handler(statusEvent({ status: 'TIMED_OUT', output: null }), lambdaContext());

    // Assess
    expect(await harness.store.getExecution(EXECUTION_ID)).toMatchObject({
      status: 'failed',
      outcome: { status: 'failed', error: 'States.Timeout' },
    });
    expect(await harness.store.getLearningAggregate(RUNBOOK)).toMatchObject({ executions: 1, failed: 1 });
  });

  it("records a FAILED execution with the engine's error and cause", async () => {
    // Prepare
    await started();

    // Act
    await handler(
      statusEvent({
        status: 'FAILED',
        output: null,
        error: 'States.Runtime',
        cause: "An error occurred while executing the state 'Record'",
      }),
      lambdaContext(),
    );

    // Assess
    expect((await harness.store.getExecution(EXECUTION_ID))?.outcome).toMatchObject({
      status: 'failed',
      error: 'States.Runtime',
      cause: "An error occurred while executing the state 'Record'",
    });
  });

  it('leaves the aggregate identical when the same event is delivered twice', async () => {
    // Prepare
    await harness.store.createExecution(executionRecord(alert, EXECUTION_ID));
    await harness.store.createExecution(
      executionRecord(alert, 'node-memory-pressure-other', { startedAt: '2026-11-25T09:30:00.000Z' }),
    );
    const event = statusEvent({ status: 'ABORTED', output: null });
    await handler(statusEvent({ name: 'node-memory-pressure-other' }), lambdaContext());
    await handler(event, lambdaContext());
    const { updatedAt: _first, ...once } = (await harness.store.getLearningAggregate(RUNBOOK))!;
    const execution = await harness.store.getExecution(EXECUTION_ID);
    harness.clock.advance(60_000);

    // Act
    const again = await handler(event, lambdaContext());

    // Assess
    expect(again).toEqual({ recorded: true, runbookId: RUNBOOK });
    const { updatedAt: _second, ...twice } = (await harness.store.getLearningAggregate(RUNBOOK))!;
    expect(twice).toEqual(once);
    expect(twice).toMatchObject({ executions: 2, succeeded: 1, aborted: 1 });
    expect(await harness.store.getExecution(EXECUTION_ID)).toEqual(execution);
  });

  it('ignores an execution the store does not know, with a warning', async () => {
    // Act
    const result = await handler(statusEvent({ name: 'someone-elses-state-machine-run' }), lambdaContext());

    // Assess
    expect(result).toEqual({ recorded: false });
    expect(harness.logger.entries).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        data: { executionId: 'someone-elses-state-machine-run' },
      }),
    );
    expect(await harness.store.listLearningAggregates()).toEqual([]);
  });

  it('ignores a RUNNING status change', async () => {
    // Prepare
    await started();

    // Act
    const result = await handler(statusEvent({ status: 'RUNNING', output: null }), lambdaContext());

    // Assess
    expect(result).toEqual({ recorded: false });
    expect(await harness.store.getExecution(EXECUTION_ID)).toMatchObject({ status: 'running' });
    expect(await slotIsFree()).toBe(false);
  });

  it('rejects a malformed event with InvalidEventError naming the field', async () => {
    // Prepare
    const event = readJson('test/fixtures/alerts/malformed/stepfunctions-bad-dates.json');

    // Act
    const error = await handler(event, lambdaContext()).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(InvalidEventError);
    const problems = (error as InvalidEventError).problems.map((problem) => problem.path);
    expect(problems).toEqual(expect.arrayContaining(['detail.status', 'detail.startDate']));
    expect((error as Error).message).toMatch(/detail\.(status|startDate)/);
    expect((error as Error).stack).not.toMatch(/\n\s+at /);
  });

  it('sweeps the deferred alerts on its schedule event, and records nothing', async () => {
    // Prepare
    const sweeps: string[] = [];
    const scheduled = createLearningRecorderHandler({
      learning: harness.services.learning,
      logger: harness.logger,
      deferredAlerts: {
        sweepExpired: async () => {
          sweeps.push('swept');
          return { reconsidered: ['inc-1'], dropped: [], waiting: [] };
        },
      },
    });

    // Act
    const result = await scheduled(
      { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
      lambdaContext(),
    );

    // Assess
    expect(sweeps).toEqual(['swept']);
    expect(result).toEqual({ reconsidered: ['inc-1'], dropped: [], waiting: [] });
  });

  it('rejects an event without an execution name', async () => {
    // Prepare
    const event = statusEvent();
    delete event.detail.name;

    // Act
    const act = handler(event, lambdaContext());

    // Assess
    await expect(act).rejects.toThrow(/detail\.name/);
  });

  it('reports the design targets from executions with known outcomes', async () => {
    // Prepare: 10 runs that all succeeded, one of them after an approval answered in 2 minutes
    const ids = Array.from({ length: 10 }, (_, index) => `node-memory-pressure-run-${index}`);
    for (const [index, id] of ids.entries()) {
      await harness.store.createExecution(
        executionRecord(alert, id, {
          startedAt: new Date(Date.parse('2026-11-24T10:00:00Z') + index * 3_600_000).toISOString(),
        }),
      );
    }
    await harness.store.createApproval(decidedApproval(alert, ids[9]!, 120_000));

    // Act
    for (const id of ids) await handler(statusEvent({ name: id }), lambdaContext());
    const report = await harness.services.learning.report(harness.runbooks);

    // Assess
    expect(report.totals).toMatchObject({
      executions: 10,
      succeeded: 10,
      withoutHumanRate: 0.9,
      humanInterventionRate: 0.1,
      meanApprovalWaitMs: 120_000,
      rollbacks: 0,
    });
    expect(report.totals).not.toHaveProperty('rollbackSuccessRate');
    const target = (name: string) => report.targets.find((entry) => entry.target === name);
    expect(target('runs that succeed with no human')).toMatchObject({ measured: '90.0%', met: true });
    expect(target('runs that need a human')).toMatchObject({ measured: '10.0%', met: true });
    expect(target('approval answered')).toMatchObject({ measured: '2.0 min', met: true });
    expect(target('rollbacks that succeed')).toMatchObject({ measured: 'no data', met: undefined });
    expect(report.runbooks).toEqual([
      expect.objectContaining({ runbookId: RUNBOOK, executions: 10, withoutHuman: 9, successRate: 1 }),
    ]);
  });

  /** Three runs of node-memory-pressure (baselineMttr 40m, mttr 15m), each recovered `minutes` after the alert. */
  async function recoveredRuns(minutes: number) {
    const ids = [0, 1, 2].map((index) => `node-memory-pressure-mttr-${index}`);
    for (const [index, id] of ids.entries())
      await harness.store.createExecution(
        executionRecord(alert, id, {
          startedAt: new Date(Date.parse(alert.startsAt) + 60_000 + index).toISOString(),
        }),
      );
    harness.clock.set(new Date(Date.parse(alert.startsAt) + minutes * 60_000).toISOString());
    for (const id of ids) await handler(statusEvent({ name: id }), lambdaContext());
  }

  it('measures the MTTR reduction against recovery by hand (optimizationTargets.baselineMttr)', async () => {
    // Prepare: recovered 12 minutes after the alert; by hand it took 40
    await recoveredRuns(12);

    // Act
    const report = await harness.services.learning.report(harness.runbooks);

    // Assess: 1 − 12/40 = 70%, past the 60% design target; within the runbook's own 15m target
    const target = (name: string) => report.targets.find((entry) => entry.target === name);
    expect(target('mean time to recover, against recovery by hand')).toEqual({
      target: 'mean time to recover, against recovery by hand',
      goal: '≥ 60.0% below recovery by hand',
      measured: '70.0% below: 12.0 min against 40.0 min by hand (1 runbook(s))',
      met: true,
    });
    expect(target('mean time to recover')).toMatchObject({
      measured: '12.0 min; 0 of 1 runbook(s) over target',
      met: true,
    });
    expect(report.runbooks[0]!.mttrReduction).toBeCloseTo(0.7, 6);
    expect(report.suggestions.filter((line) => line.includes('time to recover'))).toEqual([]);
  });

  it('suggests work when the MTTR is not 60% below recovery by hand', async () => {
    // Prepare: 30 minutes after the alert, against 40 by hand and a 15m target
    await recoveredRuns(30);

    // Act
    const report = await harness.services.learning.report(harness.runbooks);

    // Assess
    const target = (name: string) => report.targets.find((entry) => entry.target === name);
    expect(target('mean time to recover, against recovery by hand')).toMatchObject({
      measured: '25.0% below: 30.0 min against 40.0 min by hand (1 runbook(s))',
      met: false,
    });
    expect(target('mean time to recover')).toMatchObject({
      measured: '30.0 min; 1 of 1 runbook(s) over target',
      met: false,
    });
    expect(report.suggestions).toEqual(
      expect.arrayContaining([
        "node-memory-pressure: mean time to recover 30.0 min is over the runbook's target of 15.0 min",
        'node-memory-pressure: mean time to recover 30.0 min is only 25.0% below the 40.0 min it took by hand (target: 60.0% below): look at the slowest steps and the approval wait',
      ]),
    );
  });

  it('says what is missing when no runbook declares a baseline', async () => {
    // Prepare: the same runs, runbooks without baselineMttr
    await recoveredRuns(12);
    const withoutBaseline = harness.runbooks.map((runbook) => {
      const { baselineMttr: _dropped, ...targets } = runbook.optimizationTargets;
      return { ...runbook, optimizationTargets: targets };
    });

    // Act
    const report = await harness.services.learning.report(withoutBaseline);

    // Assess
    expect(
      report.targets.find((entry) => entry.target === 'mean time to recover, against recovery by hand'),
    ).toMatchObject({
      measured: 'no baseline: set optimizationTargets.baselineMttr in the runbooks',
      met: undefined,
    });
    expect(report.runbooks[0]).not.toHaveProperty('mttrReduction');
  });

  it('reports targets missed when too many runs need a human', async () => {
    // Prepare: 5 runs, 2 aborted by an operator, 3 succeeded alone
    for (let index = 0; index < 5; index++) {
      await harness.store.createExecution(
        executionRecord(alert, `node-memory-pressure-mixed-${index}`, {
          startedAt: new Date(Date.parse('2026-11-25T05:00:00Z') + index * 60_000).toISOString(),
        }),
      );
    }

    // Act
    for (let index = 0; index < 5; index++)
      await handler(
        statusEvent({
          name: `node-memory-pressure-mixed-${index}`,
          status: index < 2 ? 'ABORTED' : 'SUCCEEDED',
        }),
        lambdaContext(),
      );
    const report = await harness.services.learning.report(harness.runbooks);

    // Assess
    expect(report.totals).toMatchObject({ executions: 5, succeeded: 3, withoutHumanRate: 0.6 });
    expect(report.targets.find((entry) => entry.target === 'runs that succeed with no human')).toMatchObject({
      measured: '60.0%',
      met: false,
    });
    expect(report.targets.find((entry) => entry.target === 'runs that need a human')).toMatchObject({
      measured: '40.0%',
      met: false,
    });
  });
});

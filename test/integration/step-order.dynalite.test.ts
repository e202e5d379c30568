import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoStore } from '../../functions/adapters/aws/dynamo-store.ts';
import type { ExecutionContext, OrderStepsTask } from '../../functions/core/execution-contract.ts';
import { ORDER_DONE } from '../../functions/core/learning/step-order.ts';
import type { ExecutionRecord } from '../../functions/core/records.ts';
import { StepOrderService } from '../../functions/core/services/step-order.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import type { Store } from '../../functions/ports/store.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';

/**
 * The planning and early-stop tasks of reorderable phases against the store (dynalite): the order and
 * why land on the execution record, skipped steps become skipped outcomes, and neither an unreadable
 * aggregate nor a record that cannot be written fails the run.
 */

const NOW = new Date('2026-12-06T10:00:00.000Z');
const clock: Clock = { now: () => NOW };
const warnings: string[] = [];
const logger = {
  debug() {},
  info() {},
  warn(message: string) {
    warnings.push(message);
  },
  error() {},
};

const execution: ExecutionContext = {
  id: 'exec-order-1',
  runbookId: 'upstream-probes',
  runbookVersion: '0.1.0',
  incidentId: 'incident-1',
  environment: 'staging',
  dryRun: false,
  approvalRiskThreshold: 99,
  changeFreeze: false,
  startedAt: NOW.toISOString(),
};

const record: ExecutionRecord = {
  id: execution.id,
  runbookId: execution.runbookId,
  runbookVersion: execution.runbookVersion,
  incidentId: execution.incidentId,
  environment: execution.environment,
  dryRun: false,
  status: 'running',
  alert: {
    source: 'prometheus',
    name: 'UpstreamDegraded',
    status: 'firing',
    severity: 'critical',
    summary: 'checkout answers 5xx',
    environment: 'staging',
    resource: { type: 'service', id: 'checkout' },
    fingerprint: 'f-1',
    startsAt: NOW.toISOString(),
  },
  startedAt: NOW.toISOString(),
  resourceKey: 'service/checkout',
  control: { pauseRequested: false, abortRequested: false },
};

const STEPS = [
  { id: 'cache-probe', name: 'Cache', tool: 'http.check', expectedSeconds: 1, timeoutSeconds: 10 },
  { id: 'upstream-probe', name: 'Upstream', tool: 'http.check', expectedSeconds: 2, timeoutSeconds: 10 },
];

const task = (): OrderStepsTask => ({
  kind: 'order-steps',
  execution,
  phase: { id: 'probe', mode: 'sequential', lanes: 1, steps: STEPS },
});

let table: DynaliteTable;
let store: DynamoStore;

beforeEach(async () => {
  warnings.length = 0;
  table = await startDynalite();
  store = new DynamoStore({ client: table.client, tableName: table.tableName, retentionDays: 30, clock });
  await store.createExecution(record);
});

afterEach(async () => {
  await table.stop();
});

describe('StepOrderService', () => {
  it('plans from the learned aggregate and records the order and why on the execution', async () => {
    // Prepare
    await store.putLearningAggregate({
      runbookId: execution.runbookId,
      executions: 10,
      succeeded: 0,
      failed: 10,
      aborted: 0,
      withoutHuman: 0,
      humanIntervention: 0,
      rollbacks: 0,
      rollbackFailures: 0,
      approvalsRequested: 0,
      approvalsAnswered: 0,
      byAlert: {},
      steps: [
        {
          stepId: 'cache-probe',
          runs: 10,
          failures: 0,
          skipped: 0,
          meanDurationMs: 1_000,
          p90DurationMs: 1_000,
          p50DurationMs: 1_000,
          decisions: { decided: 1, decidable: 10 },
        },
        {
          stepId: 'upstream-probe',
          runs: 10,
          failures: 0,
          skipped: 0,
          meanDurationMs: 2_000,
          p90DurationMs: 2_000,
          p50DurationMs: 2_000,
          decisions: { decided: 9, decidable: 10 },
        },
      ],
      updatedAt: NOW.toISOString(),
    });
    const service = new StepOrderService({ store, clock, logger });

    // Act
    const queue = await service.plan(task());

    // Assess
    expect(queue).toEqual({
      steps: ['upstream-probe', 'cache-probe', ORDER_DONE],
      position: 0,
      current: 'upstream-probe',
    });
    const saved = (await store.getExecution(execution.id))!.stepOrder!.probe!;
    expect(saved).toMatchObject({ phase: 'probe', basis: 'measured', plannedAt: NOW.toISOString() });
    expect(saved.steps.map((step) => step.stepId)).toEqual(['upstream-probe', 'cache-probe']);
  });

  it('records the skipped steps when stopWhen held, each saying after which step', async () => {
    // Prepare
    const service = new StepOrderService({ store, clock, logger });
    await service.plan(task());

    // Act
    const result = await service.stopped({
      kind: 'phase-stopped',
      execution,
      phase: 'probe',
      steps: STEPS,
      order: { steps: ['cache-probe', 'upstream-probe', ORDER_DONE], position: 1, current: 'upstream-probe' },
    });

    // Assess
    expect(result).toEqual({ skipped: ['upstream-probe'] });
    const outcomes = await store.listStepOutcomes(execution.id);
    expect(outcomes).toEqual([
      expect.objectContaining({
        stepId: 'upstream-probe',
        phase: 'probe',
        status: 'skipped',
        reason: 'phase probe stopped early: its stopWhen held after cache-probe, so the finding was decisive',
      }),
    ]);
    expect((await store.getExecution(execution.id))!.stepOrder!.probe).toMatchObject({
      basis: 'declared',
      stoppedAfter: 'cache-probe',
      skipped: ['upstream-probe'],
    });
  });

  it('keeps the declared order, and says why, when the aggregate cannot be read', async () => {
    // Prepare: the store answers everything but the learned aggregate
    const broken = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'getLearningAggregate')
          return async () => {
            throw new Error('the table is unreachable');
          };
        return Reflect.get(target, property, receiver);
      },
    }) as Store;
    const service = new StepOrderService({ store: broken, clock, logger });

    // Act
    const queue = await service.plan(task());

    // Assess
    expect(queue).toMatchObject({ current: 'cache-probe' });
    expect((await store.getExecution(execution.id))!.stepOrder!.probe!.reason).toBe(
      'declared order: the learned statistics could not be read (the table is unreachable)',
    );
    expect(warnings).toContain('step order: learned statistics unavailable, declared order');
  });

  it('still answers the order when the execution record cannot be written', async () => {
    const broken = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'updateExecution')
          return async () => {
            throw new Error('throttled');
          };
        return Reflect.get(target, property, receiver);
      },
    }) as Store;
    const queue = await new StepOrderService({ store: broken, clock, logger }).plan(task());
    expect(queue).toMatchObject({ current: 'cache-probe' });
    expect(warnings).toContain('step order: could not record the order used');
  });
});

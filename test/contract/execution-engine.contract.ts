import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BudgetExceededError,
  ConfigurationError,
  TaskTokenExpiredError,
} from '../../functions/core/errors.ts';
import { ExecutionInput } from '../../functions/core/execution-contract.ts';
import type { ExecutionDescription, ExecutionEngine } from '../../functions/ports/execution-engine.ts';

/** An execution as the engine's runtime saw it start. */
export interface ObservedExecution {
  runbookId: string;
  name: string;
  input: unknown;
}

/**
 * What a runtime gives the ExecutionEngine contract: the subject, a runbook its runtime can run, and
 * ways to see effects through the runtime rather than through the subject.
 */
export interface ExecutionEngineContractSubject {
  engine: ExecutionEngine;
  /**
   * A runbook whose state machine the runtime knows. Its first state waits for a task token
   * (`.waitForTaskToken`, no Catch) and the execution ends with that task's result: success -> SUCCEEDED,
   * failure -> FAILED with the task's error and cause.
   */
  runbookId: string;
  observe: {
    /** Every execution the runtime actually started, in order: a duplicate start adds none. */
    startedExecutions(): Promise<ObservedExecution[]>;
    /** The token of the task the execution waits on now (waits for the task to be entered). */
    waitingTaskToken(runbookId: string, executionId: string): Promise<string>;
  };
  dispose?(): Promise<void>;
}

/** A runbook id no runtime knows. */
export const UNKNOWN_RUNBOOK_ID = 'no-such-runbook';

/** A valid execution input (checked against the schema), with room for extra state. */
export function contractExecutionInput(
  runbookId: string,
  executionId: string,
  extra: { steps?: Record<string, unknown>; summary?: string } = {},
): ExecutionInput {
  return ExecutionInput.parse({
    execution: {
      id: executionId,
      runbookId,
      runbookVersion: '1.0.0',
      incidentId: `inc-${executionId}`,
      environment: 'staging',
      dryRun: true,
      approvalRiskThreshold: 3,
      changeFreeze: false,
      startedAt: '2024-05-02T17:05:00Z',
    },
    alert: {
      source: 'prometheus',
      name: 'NodeFilesystemAlmostFull',
      status: 'firing',
      severity: 'warning',
      category: 'resource-exhaustion',
      summary: extra.summary ?? 'Filesystem /var on ip-10-0-1-23 is 91% full',
      environment: 'staging',
      resource: { type: 'k8s-node', id: 'ip-10-0-1-23', cluster: 'staging-eu' },
      labels: { alertname: 'NodeFilesystemAlmostFull', mountpoint: '/var', instance: 'ip-10-0-1-23' },
      annotations: { summary: 'Filesystem almost full' },
      fingerprint: 'a1b2c3d4e5f60718',
      startsAt: '2024-05-02T17:04:00Z',
    },
    steps: extra.steps ?? {},
    groups: {},
    approvals: {},
  });
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const OVER_256_KB = 'x'.repeat(262_145);

/**
 * The ExecutionEngine port contract. Run it against every adapter: `setup` is called before each test
 * and gets a fresh runtime.
 */
export function describeExecutionEngineContract(
  name: string,
  setup: () => Promise<ExecutionEngineContractSubject> | ExecutionEngineContractSubject,
): void {
  describe(`ExecutionEngine contract: ${name}`, () => {
    let subject: ExecutionEngineContractSubject;
    let engine: ExecutionEngine;
    let runbookId: string;

    beforeEach(async () => {
      subject = await setup();
      engine = subject.engine;
      runbookId = subject.runbookId;
    });

    afterEach(async () => {
      await subject.dispose?.();
    });

    async function settled(executionId: string, status: ExecutionDescription['status']) {
      return vi.waitFor(
        async () => {
          const description = await engine.describe(runbookId, executionId);
          expect(description?.status).toBe(status);
          return description!;
        },
        { timeout: 5_000, interval: 20 },
      );
    }

    it('starts an execution under its deterministic name and reports it running', async () => {
      // Prepare
      const input = contractExecutionInput(runbookId, 'exec-start-1');

      // Act
      const started = await engine.start({ runbookId, name: 'exec-start-1', input });

      // Assess
      expect(started).toMatchObject({ executionId: 'exec-start-1', alreadyStarted: false });
      expect(started.engineRef).not.toBe('');
      expect(started.startedAt).toMatch(ISO_TIME);
      expect(await subject.observe.startedExecutions()).toEqual([{ runbookId, name: 'exec-start-1', input }]);
      expect(await engine.describe(runbookId, 'exec-start-1')).toMatchObject({
        executionId: 'exec-start-1',
        engineRef: started.engineRef,
        status: 'RUNNING',
        startedAt: started.startedAt,
      });
    });

    it('answers a second start with the same name as a duplicate and starts nothing new', async () => {
      // Prepare
      const input = contractExecutionInput(runbookId, 'exec-dup-1');
      const first = await engine.start({ runbookId, name: 'exec-dup-1', input });

      // Act
      const second = await engine.start({ runbookId, name: 'exec-dup-1', input });

      // Assess
      expect(second).toEqual({ ...first, alreadyStarted: true });
      expect(await subject.observe.startedExecutions()).toHaveLength(1);
    });

    it('treats a same-name start with a different input as a duplicate too, keeping the first input', async () => {
      // Prepare
      const input = contractExecutionInput(runbookId, 'exec-dup-2');
      const first = await engine.start({ runbookId, name: 'exec-dup-2', input });
      const changed = contractExecutionInput(runbookId, 'exec-dup-2', {
        summary: 'Filesystem /var is 95% full',
      });

      // Act
      const second = await engine.start({ runbookId, name: 'exec-dup-2', input: changed });

      // Assess
      expect(second).toEqual({ ...first, alreadyStarted: true });
      expect(await subject.observe.startedExecutions()).toEqual([{ runbookId, name: 'exec-dup-2', input }]);
    });

    it('refuses to start a runbook the runtime does not know, naming the runbook', async () => {
      // Prepare
      const input = contractExecutionInput(UNKNOWN_RUNBOOK_ID, 'exec-unknown-1');

      // Act
      const starting = engine.start({ runbookId: UNKNOWN_RUNBOOK_ID, name: 'exec-unknown-1', input });

      // Assess
      await expect(starting).rejects.toThrow(ConfigurationError);
      await expect(starting).rejects.toThrow(UNKNOWN_RUNBOOK_ID);
      expect(await subject.observe.startedExecutions()).toEqual([]);
    });

    it('refuses an input over the 256 KB payload limit without starting anything', async () => {
      // Prepare
      const input = contractExecutionInput(runbookId, 'exec-big-1', { steps: { blob: OVER_256_KB } });

      // Act
      const starting = engine.start({ runbookId, name: 'exec-big-1', input });

      // Assess
      await expect(starting).rejects.toThrow(BudgetExceededError);
      expect(await subject.observe.startedExecutions()).toEqual([]);
    });

    it('describes an execution it never started as undefined', async () => {
      // Act
      const description = await engine.describe(runbookId, 'exec-never-started');

      // Assess
      expect(description).toBeUndefined();
    });

    it('completes the waiting task with sendTaskSuccess: the execution succeeds', async () => {
      // Prepare
      await engine.start({
        runbookId,
        name: 'exec-ok-1',
        input: contractExecutionInput(runbookId, 'exec-ok-1'),
      });
      const token = await subject.observe.waitingTaskToken(runbookId, 'exec-ok-1');

      // Act
      await engine.sendTaskSuccess(token, { approved: true, approvers: ['alice@example.com'] });

      // Assess
      const description = await settled('exec-ok-1', 'SUCCEEDED');
      expect(description.stoppedAt).toMatch(ISO_TIME);
    });

    it('fails the execution with sendTaskFailure, keeping the error and cause', async () => {
      // Prepare
      await engine.start({
        runbookId,
        name: 'exec-fail-1',
        input: contractExecutionInput(runbookId, 'exec-fail-1'),
      });
      const token = await subject.observe.waitingTaskToken(runbookId, 'exec-fail-1');

      // Act
      await engine.sendTaskFailure(token, {
        error: 'Approval.Rejected',
        cause: 'bob@example.com rejected: not now',
      });

      // Assess
      const description = await settled('exec-fail-1', 'FAILED');
      expect(description).toMatchObject({
        error: 'Approval.Rejected',
        cause: 'bob@example.com rejected: not now',
      });
    });

    it('trims an over-long error and cause to the Step Functions limits (256 and 32,768 characters)', async () => {
      // Prepare
      await engine.start({
        runbookId,
        name: 'exec-trim-1',
        input: contractExecutionInput(runbookId, 'exec-trim-1'),
      });
      const token = await subject.observe.waitingTaskToken(runbookId, 'exec-trim-1');
      const error = `Runbook.ToolFailed.${'e'.repeat(300)}`;
      const cause = `kubectl drain failed: ${'c'.repeat(40_000)}`;

      // Act
      await engine.sendTaskFailure(token, { error, cause });

      // Assess
      const description = await settled('exec-trim-1', 'FAILED');
      expect(description.error!.length).toBeLessThanOrEqual(256);
      expect(description.error!.startsWith(error.slice(0, 200))).toBe(true);
      expect(description.cause!.length).toBeLessThanOrEqual(32_768);
      expect(description.cause!.startsWith(cause.slice(0, 32_000))).toBe(true);
    });

    it('answers a task token that was already used with TaskTokenExpiredError', async () => {
      // Prepare
      await engine.start({
        runbookId,
        name: 'exec-used-1',
        input: contractExecutionInput(runbookId, 'exec-used-1'),
      });
      const token = await subject.observe.waitingTaskToken(runbookId, 'exec-used-1');
      await engine.sendTaskSuccess(token, { approved: true });

      // Act
      const again = engine.sendTaskFailure(token, { error: 'Approval.Rejected', cause: 'too late' });

      // Assess
      await expect(again).rejects.toThrow(TaskTokenExpiredError);
      expect((await settled('exec-used-1', 'SUCCEEDED')).error).toBeUndefined();
    });

    it('answers a token it never issued with TaskTokenExpiredError', async () => {
      // Act
      const sending = engine.sendTaskSuccess('never-issued-token-0123456789', { approved: true });

      // Assess
      await expect(sending).rejects.toThrow(TaskTokenExpiredError);
    });

    it('refuses a task output over 256 KB and leaves the task waiting', async () => {
      // Prepare
      await engine.start({
        runbookId,
        name: 'exec-out-1',
        input: contractExecutionInput(runbookId, 'exec-out-1'),
      });
      const token = await subject.observe.waitingTaskToken(runbookId, 'exec-out-1');

      // Act
      const sending = engine.sendTaskSuccess(token, { report: OVER_256_KB });

      // Assess
      await expect(sending).rejects.toThrow(BudgetExceededError);
      expect((await engine.describe(runbookId, 'exec-out-1'))?.status).toBe('RUNNING');
      await engine.sendTaskSuccess(token, { report: 'short' });
      await settled('exec-out-1', 'SUCCEEDED');
    });

    it('stops a running execution: ABORTED, with the error and cause given', async () => {
      // Prepare
      await engine.start({
        runbookId,
        name: 'exec-stop-1',
        input: contractExecutionInput(runbookId, 'exec-stop-1'),
      });

      // Act
      await engine.stop(runbookId, 'exec-stop-1', {
        error: 'Runbook.Aborted',
        cause: 'aborted by carol@example.com',
      });

      // Assess
      const description = await settled('exec-stop-1', 'ABORTED');
      expect(description).toMatchObject({ error: 'Runbook.Aborted', cause: 'aborted by carol@example.com' });
      expect(description.stoppedAt).toMatch(ISO_TIME);
    });

    it('stops an execution that does not exist as a no-op', async () => {
      // Act
      const stopping = engine.stop(runbookId, 'exec-never-started', {
        error: 'Runbook.Aborted',
        cause: 'abort',
      });

      // Assess
      await expect(stopping).resolves.toBeUndefined();
      expect(await engine.describe(runbookId, 'exec-never-started')).toBeUndefined();
    });
  });
}

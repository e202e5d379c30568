import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EngineJournal } from '../../functions/adapters/local/journal.ts';
import {
  type EngineEvent,
  LocalExecutionEngine,
  localExecutionArn,
  localStateMachineArn,
  rootedAt,
  type StatusChangeDetail,
} from '../../functions/adapters/local/local-engine.ts';
import { StepFunctionsStatusDetail } from '../../functions/core/classifier/payloads.ts';
import type { StateMachineDefinition } from '../../functions/core/compiler/asl.ts';
import { aslProblems } from '../../functions/core/compiler/asl-validation.ts';
import { ConfigurationError, TaskTokenExpiredError } from '../../functions/core/errors.ts';
import { compileEventPattern } from '../../functions/core/event-pattern.ts';
import type { ExecutionInput } from '../../functions/core/execution-contract.ts';
import { routeRules } from '../../functions/core/routing.ts';
import { systemClock } from '../../functions/ports/clock.ts';
import type { EngineStatus } from '../../functions/ports/execution-engine.ts';
import { silentLogger } from '../../functions/ports/logger.ts';
import { sampleInput } from '../support/rehearsal.ts';
import { compileFile } from '../support/runbooks.ts';

/**
 * The embedded engine running real compiled runbooks: aws-local-stepfunctions executes the committed
 * kind of ASL, Task states call stub handlers keyed on the payload kind, the journal lives in a
 * temporary data directory, and a second engine on the same directory plays the restarted platform.
 */

const MEMORY = 'node-memory-pressure';
const CAPACITY = 'capacity-rehearsal';

const MACHINES: Record<string, StateMachineDefinition> = {
  [MEMORY]: compileFile('test/fixtures/library/runbooks/node-memory-pressure.yaml').definition,
  [CAPACITY]: compileFile('test/fixtures/runbooks/valid/capacity-rehearsal.yaml').definition,
};

/** Step outputs the compiled conditions read: the memory runbook restarts the dominating workload. */
const STEP_OUTPUTS: Record<string, unknown> = {
  'node-registered': { name: 'ip-10-0-1-23.eu-west-1.compute.internal' },
  'node-resources': { memoryPressure: true, usage: { memoryPercent: 93 } },
  'top-pods': {
    pods: [
      {
        name: 'web-7d9f8-abcde',
        namespace: 'shop',
        ownerKind: 'Deployment',
        ownerName: 'web',
        memoryShare: 0.72,
      },
    ],
  },
  'pressure-cleared': { memoryPressure: false },
};

type Payload = Record<string, unknown> & { kind: string; taskToken?: string };

/** How much shorter Wait states run here (the demo's --wait-scale). */
const WAIT_SCALE = 0.001;

interface TaskCall {
  executionId: string;
  /** `step:<id>`, `checkpoint:<before>`, `approval:<target>`, `compensate:<step>`, or the kind. */
  key: string;
  handler: 'stepRunner' | 'approvalRequest';
  payload: Payload;
}

function keyOf(payload: Payload): string {
  const field = (name: string) => payload[name] as Record<string, unknown>;
  switch (payload.kind) {
    case 'step':
      return `step:${String(field('step').id)}`;
    case 'checkpoint':
      return `checkpoint:${String(field('checkpoint').before)}`;
    case 'approval':
      return `approval:${String((field('approval').target as { id: string }).id)}`;
    case 'compensate':
      return `compensate:${String(field('compensation').compensates)}`;
    case 'waited':
      return `waited:${String(field('step').id)}`;
    default:
      return payload.kind;
  }
}

function executionIdOf(payload: Payload): string {
  const execution = (payload.execution ??
    (payload.state as { execution?: unknown } | undefined)?.execution) as { id: string } | undefined;
  return execution?.id ?? 'unknown';
}

interface Script {
  /** Wait tasks (checkpoints, approvals) left waiting for the test to send their token. */
  hold?: string[];
  /** Steps (by key) that run until the promise settles. */
  hang?: Record<string, Promise<unknown>>;
  /** Definitions this engine knows, when not the compiled MACHINES (a runbook recompiled meanwhile). */
  machines?: Record<string, StateMachineDefinition>;
  /** Runs when a task is invoked, before its stub answers. */
  onCall?: (call: TaskCall) => void;
  /** Runs on every engine event, after it is recorded. */
  onEvent?: (event: EngineEvent) => void;
}

/** A LocalExecutionEngine over the data directory with stub handlers that record every task. */
class EngineHarness {
  readonly calls: TaskCall[] = [];
  readonly statusChanges: StatusChangeDetail[] = [];
  readonly interruptions: Array<{ executionId: string; reason: string }> = [];
  readonly events: EngineEvent[] = [];
  readonly engine: LocalExecutionEngine;

  constructor(
    readonly dataDir: string,
    private readonly script: Script = {},
  ) {
    this.engine = new LocalExecutionEngine({
      definitions: (runbookId) => {
        const definition = (script.machines ?? MACHINES)[runbookId];
        return definition ? structuredClone(definition) : undefined;
      },
      handlers: {
        stepRunner: (event) => this.handle('stepRunner', event as Payload),
        approvalRequest: (event) => this.handle('approvalRequest', event as Payload),
      },
      dataDir,
      clock: systemClock,
      logger: silentLogger,
      onEvent: (event) => {
        this.events.push(event);
        script.onEvent?.(event);
      },
      onStatusChange: async (detail) => {
        this.statusChanges.push(detail);
      },
      onInterrupted: async (executionId, reason) => {
        this.interruptions.push({ executionId, reason });
      },
      retryIntervalMs: 0,
      // Wait states (runbook.wait) as the demo shortens them: a 60 s wait takes 60 ms
      waitScale: WAIT_SCALE,
    });
  }

  private async handle(handler: TaskCall['handler'], payload: Payload): Promise<unknown> {
    const key = keyOf(payload);
    const call: TaskCall = { executionId: executionIdOf(payload), key, handler, payload };
    this.calls.push(call);
    this.script.onCall?.(call);
    switch (payload.kind) {
      case 'step': {
        await this.script.hang?.[key];
        const id = String((payload.step as { id: string }).id);
        return { status: 'succeeded', output: STEP_OUTPUTS[id] ?? {} };
      }
      case 'checkpoint':
        // The checkpoint service releases an unpaused execution at once, through the engine.
        if (!this.script.hold?.includes(key)) await this.engine.sendTaskSuccess(payload.taskToken!, {});
        return { held: this.script.hold?.includes(key) ?? false };
      case 'approval':
        return { requested: true };
      case 'verify-alert':
        return { resolved: true };
      case 'compensate':
        return { status: 'compensated' };
      case 'waited':
        return { status: 'succeeded', output: null };
      case 'escalate':
        return { notified: ['sre-pager'] };
      case 'record':
        return {};
      default:
        throw new Error(`no stub for task kind ${payload.kind}`);
    }
  }

  /** Keys of the tasks one execution ran, in order. */
  keys(executionId: string): string[] {
    return this.calls.filter((call) => call.executionId === executionId).map((call) => call.key);
  }

  call(executionId: string, key: string): TaskCall | undefined {
    return this.calls.findLast((call) => call.executionId === executionId && call.key === key);
  }

  /** The token of the wait task `key` once the execution reached it. */
  token(executionId: string, key: string): Promise<string> {
    return vi.waitFor(
      () => {
        const token = this.call(executionId, key)?.payload.taskToken;
        if (!token) throw new Error(`${executionId} has not reached ${key}`);
        return token;
      },
      { timeout: 5_000, interval: 10 },
    );
  }

  async settled(runbookId: string, executionId: string, status: EngineStatus) {
    return vi.waitFor(
      async () => {
        const description = await this.engine.describe(runbookId, executionId);
        expect(description?.status).toBe(status);
        expect(this.statusChanges.map((change) => change.name)).toContain(executionId);
        return description!;
      },
      { timeout: 5_000, interval: 10 },
    );
  }
}

function inputFor(runbookId: string, executionId: string, environment: string): ExecutionInput {
  const input = sampleInput({ environment, approvalRiskThreshold: 99 });
  return { ...input, execution: { ...input.execution, id: executionId, runbookId } };
}

/** A promise the test settles by hand. */
function deferred() {
  let resolve!: (value?: unknown) => void;
  const promise = new Promise<unknown>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

describe('LocalExecutionEngine running compiled runbooks', () => {
  let dataDir: string;
  let harnesses: EngineHarness[];
  const releases: Array<() => void> = [];

  function harness(script: Script = {}): EngineHarness {
    const created = new EngineHarness(dataDir, script);
    harnesses.push(created);
    return created;
  }

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'runbook-local-engine-'));
    harnesses = [];
  });

  afterEach(async () => {
    for (const harnessed of harnesses) await harnessed.engine.shutdown();
    // Steps left hanging in an engine that was shut down finish into nothing.
    for (const release of releases.splice(0)) release();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('the definition it is given', () => {
    it('refuses a machine that is not valid ASL, naming the runbook, and records no execution', async () => {
      // Prepare: node-memory-pressure with one transition to a state that does not exist
      const broken = structuredClone(MACHINES[MEMORY]) as StateMachineDefinition;
      const [first] = Object.keys(broken.States);
      broken.StartAt = `${first}-renamed`;
      const run = harness({ machines: { [MEMORY]: broken } });

      // Act
      const starting = run.engine.start({
        runbookId: MEMORY,
        name: 'exec-invalid-1',
        input: inputFor(MEMORY, 'exec-invalid-1', 'dev'),
      });

      // Assess
      await expect(starting).rejects.toThrow(
        new RegExp(`runbook ${MEMORY}: its compiled state machine is not valid ASL \\(.*${first}-renamed`),
      );
      expect(new EngineJournal(dataDir).read('exec-invalid-1')).toBeUndefined();
      expect(run.calls).toEqual([]);
    });
  });

  describe('a run to the end', () => {
    it('runs node-memory-pressure to SUCCEEDED and reports it once, as EventBridge would', async () => {
      // Prepare
      const run = harness();
      const input = inputFor(MEMORY, 'exec-happy-1', 'dev');

      // Act
      const started = await run.engine.start({ runbookId: MEMORY, name: 'exec-happy-1', input });

      // Assess
      const description = await run.settled(MEMORY, 'exec-happy-1', 'SUCCEEDED');
      expect(description).toMatchObject({ executionId: 'exec-happy-1', engineRef: started.engineRef });
      expect(run.keys('exec-happy-1')).toEqual([
        'step:node-registered',
        'checkpoint:diagnose',
        'step:node-resources',
        'step:top-pods',
        'step:memory-trend',
        'checkpoint:restart-workload',
        'step:restart-top-workload',
        'step:wait-for-rollout',
        'waited:wait-for-rollout',
        'verify-alert',
        'step:pressure-cleared',
        'record',
      ]);
      // The Wait state between them waited the runbook's 60 s, shortened by the wait scale
      const waited = run.events.find(
        (event) => event.type === 'state-exited' && event.state === 'Wait: wait-for-rollout',
      ) as { durationMs?: number } | undefined;
      expect(waited?.durationMs).toBeGreaterThanOrEqual(60_000 * WAIT_SCALE - 5);
      // Shorter than the unscaled 60 s, with room for a busy machine (no timing goal here)
      expect(waited?.durationMs).toBeLessThan(30_000);
      const { statusChanges } = run;
      expect(statusChanges).toHaveLength(1);
      const [change] = statusChanges;
      expect(change).toMatchObject({
        executionArn: localExecutionArn(MEMORY, 'exec-happy-1'),
        stateMachineArn: localStateMachineArn(MEMORY),
        name: 'exec-happy-1',
        status: 'SUCCEEDED',
        startDate: Date.parse(started.startedAt),
        stopDate: Date.parse(description.stoppedAt!),
        error: null,
        cause: null,
      });
      expect(JSON.parse(change!.input!)).toEqual(input);
      expect(JSON.parse(change!.output!)).toMatchObject({ execution: { id: 'exec-happy-1' } });
      // The learning recorder's schema accepts it, and the rule infra deploys routes it.
      expect(StepFunctionsStatusDetail.safeParse(change).success).toBe(true);
      const rule = routeRules().find((candidate) => candidate.name === 'execution-status')!;
      const matches = compileEventPattern(rule.pattern);
      expect(
        matches({
          source: 'aws.states',
          'detail-type': 'Step Functions Execution Status Change',
          detail: change,
        }),
      ).toBe(true);
    });

    it('sends a Task state to the approval-request function only when it names it', async () => {
      // Prepare
      const run = harness({ hold: ['approval:restart-workload'] });

      // Act
      await run.engine.start({
        runbookId: MEMORY,
        name: 'exec-route-1',
        input: inputFor(MEMORY, 'exec-route-1', 'staging'),
      });
      await run.token('exec-route-1', 'approval:restart-workload');

      // Assess
      const handlers = run.calls.map(({ key, handler }) => [key, handler]);
      expect(handlers.filter(([, handler]) => handler === 'approvalRequest')).toEqual([
        ['approval:restart-workload', 'approvalRequest'],
      ]);
      expect(handlers).toContainEqual(['checkpoint:diagnose', 'stepRunner']);
    });
  });

  describe('tasks that wait for a token', () => {
    it('resumes past a held checkpoint when its token gets sendTaskSuccess', async () => {
      // Prepare
      const run = harness({ hold: ['checkpoint:grow'] });
      await run.engine.start({
        runbookId: CAPACITY,
        name: 'exec-checkpoint-1',
        input: inputFor(CAPACITY, 'exec-checkpoint-1', 'dev'),
      });
      const token = await run.token('exec-checkpoint-1', 'checkpoint:grow');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(run.keys('exec-checkpoint-1')).not.toContain('step:scale-web');
      const approval = run.token('exec-checkpoint-1', 'approval:final-restart');

      // Act
      await run.engine.sendTaskSuccess(token, {});

      // Assess
      await run.engine.sendTaskSuccess(await approval, { approvedBy: ['alice@example.com'] });
      await run.settled(CAPACITY, 'exec-checkpoint-1', 'SUCCEEDED');
      expect(run.keys('exec-checkpoint-1')).toEqual([
        'checkpoint:inspect',
        'step:read-group',
        'step:flaky-metric',
        'checkpoint:grow',
        'step:scale-web',
        'checkpoint:raise-asg',
        'step:raise-asg',
        'checkpoint:shift',
        'step:cordon-a',
        'step:cordon-b',
        'step:note-shift',
        'checkpoint:finish',
        'approval:final-restart',
        'checkpoint:final-restart',
        'step:final-restart',
        'verify-alert',
        'record',
      ]);
    });

    it('fails a held checkpoint with sendTaskFailure: the Catch sees Runbook.Aborted and records the failure', async () => {
      // Prepare
      const run = harness({ hold: ['checkpoint:grow'] });
      await run.engine.start({
        runbookId: CAPACITY,
        name: 'exec-checkpoint-2',
        input: inputFor(CAPACITY, 'exec-checkpoint-2', 'dev'),
      });
      const token = await run.token('exec-checkpoint-2', 'checkpoint:grow');

      // Act
      await run.engine.sendTaskFailure(token, {
        error: 'Runbook.Aborted',
        cause: 'aborted by carol@example.com',
      });

      // Assess
      const description = await run.settled(CAPACITY, 'exec-checkpoint-2', 'FAILED');
      expect(description).toMatchObject({ error: 'Runbook.Aborted', cause: 'aborted by carol@example.com' });
      // An operator abort with nothing to undo goes straight to the record, without escalating.
      expect(run.keys('exec-checkpoint-2').slice(3)).toEqual(['checkpoint:grow', 'record']);
      expect(run.call('exec-checkpoint-2', 'record')!.payload).toMatchObject({
        outcome: 'failed',
        state: { failure: { Error: 'Runbook.Aborted', Cause: 'aborted by carol@example.com' } },
      });
    });

    it('continues after an approval answered with sendTaskSuccess, its result in the state', async () => {
      // Prepare
      const run = harness({ hold: ['approval:raise-asg', 'approval:final-restart'] });
      await run.engine.start({
        runbookId: CAPACITY,
        name: 'exec-approve-1',
        input: inputFor(CAPACITY, 'exec-approve-1', 'staging'),
      });
      const first = await run.token('exec-approve-1', 'approval:raise-asg');

      // Act
      await run.engine.sendTaskSuccess(first, { approvedBy: ['alice@example.com'] });
      const second = await run.token('exec-approve-1', 'approval:final-restart');
      await run.engine.sendTaskSuccess(second, { approvedBy: ['bob@example.com'] });

      // Assess
      await run.settled(CAPACITY, 'exec-approve-1', 'SUCCEEDED');
      expect(run.call('exec-approve-1', 'record')!.payload).toMatchObject({
        outcome: 'succeeded',
        state: {
          approvals: {
            raise_asg: { approvedBy: ['alice@example.com'] },
            final_restart: { approvedBy: ['bob@example.com'] },
          },
        },
      });
    });

    it('fails an approval with Approval.Rejected: the Catch compensates, escalates and records', async () => {
      // Prepare
      const run = harness({ hold: ['approval:raise-asg'] });
      await run.engine.start({
        runbookId: CAPACITY,
        name: 'exec-reject-1',
        input: inputFor(CAPACITY, 'exec-reject-1', 'staging'),
      });
      const token = await run.token('exec-reject-1', 'approval:raise-asg');

      // Act
      await run.engine.sendTaskFailure(token, {
        error: 'Approval.Rejected',
        cause: 'bob@example.com rejected: not during the sale',
      });

      // Assess
      const description = await run.settled(CAPACITY, 'exec-reject-1', 'FAILED');
      expect(description).toMatchObject({
        error: 'Approval.Rejected',
        cause: 'bob@example.com rejected: not during the sale',
      });
      const keys = run.keys('exec-reject-1');
      expect(keys.slice(keys.indexOf('approval:raise-asg'))).toEqual([
        'approval:raise-asg',
        'compensate:scale-web',
        'escalate',
        'record',
      ]);
      expect(run.call('exec-reject-1', 'escalate')!.payload).toMatchObject({
        state: { failure: { Error: 'Approval.Rejected' } },
      });
    });

    it('answers a token it never issued with TaskTokenExpiredError', async () => {
      // Prepare
      const { engine } = harness();

      // Act
      const succeeding = engine.sendTaskSuccess('local:exec-none:0b7c1e9d', { approvedBy: ['x'] });
      const failing = engine.sendTaskFailure('local:exec-none:0b7c1e9d', { error: 'E', cause: 'c' });

      // Assess
      await expect(succeeding).rejects.toThrow(TaskTokenExpiredError);
      await expect(failing).rejects.toThrow(TaskTokenExpiredError);
    });
  });

  describe('stop and duplicates', () => {
    it('stops an execution waiting at an approval: ABORTED, its token rejected, no later state runs', async () => {
      // Prepare
      const run = harness({ hold: ['approval:restart-workload'] });
      await run.engine.start({
        runbookId: MEMORY,
        name: 'exec-stop-1',
        input: inputFor(MEMORY, 'exec-stop-1', 'staging'),
      });
      const token = await run.token('exec-stop-1', 'approval:restart-workload');
      const before = run.keys('exec-stop-1');

      // Act
      await run.engine.stop(MEMORY, 'exec-stop-1', {
        error: 'Runbook.Aborted',
        cause: 'aborted by carol@example.com',
      });

      // Assess
      expect(await run.engine.describe(MEMORY, 'exec-stop-1')).toMatchObject({
        status: 'ABORTED',
        error: 'Runbook.Aborted',
        cause: 'aborted by carol@example.com',
      });
      await expect(run.engine.sendTaskSuccess(token, { approvedBy: ['alice@example.com'] })).rejects.toThrow(
        TaskTokenExpiredError,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(run.keys('exec-stop-1')).toEqual(before);
      expect(run.statusChanges).toEqual([
        expect.objectContaining({
          name: 'exec-stop-1',
          status: 'ABORTED',
          error: 'Runbook.Aborted',
          cause: 'aborted by carol@example.com',
        }),
      ]);
      expect(run.engine.running()).toEqual([]);
    });

    it('answers a second start with the same name as alreadyStarted and runs nothing twice', async () => {
      // Prepare
      const run = harness({ hold: ['checkpoint:diagnose'] });
      const input = inputFor(MEMORY, 'exec-twice-1', 'dev');
      const first = await run.engine.start({ runbookId: MEMORY, name: 'exec-twice-1', input });
      await run.token('exec-twice-1', 'checkpoint:diagnose');

      // Act
      const second = await run.engine.start({ runbookId: MEMORY, name: 'exec-twice-1', input });

      // Assess
      expect(first.alreadyStarted).toBe(false);
      expect(second).toEqual({ ...first, alreadyStarted: true });
      expect(run.keys('exec-twice-1')).toEqual(['step:node-registered', 'checkpoint:diagnose']);
      expect(run.engine.running()).toEqual(['exec-twice-1']);
    });

    it('answers a start of a finished execution as alreadyStarted too', async () => {
      // Prepare
      const run = harness();
      const input = inputFor(MEMORY, 'exec-twice-2', 'dev');
      const first = await run.engine.start({ runbookId: MEMORY, name: 'exec-twice-2', input });
      await run.settled(MEMORY, 'exec-twice-2', 'SUCCEEDED');
      const ran = run.calls.length;

      // Act
      const again = await run.engine.start({ runbookId: MEMORY, name: 'exec-twice-2', input });

      // Assess
      expect(again).toEqual({ ...first, alreadyStarted: true });
      expect(run.calls).toHaveLength(ran);
    });
  });

  describe('the journal', () => {
    it('records the top-level state in flight with its input: a Parallel, not the branch state inside it', async () => {
      // Prepare
      const topPods = deferred();
      releases.push(() => topPods.resolve());
      const run = harness({ hang: { 'step:top-pods': topPods.promise } });
      // What a restarted platform would read: the log on disk, not the running engine's memory.
      const journal = { read: (id: string) => new EngineJournal(dataDir).read(id) };

      // Act
      await run.engine.start({
        runbookId: MEMORY,
        name: 'exec-journal-1',
        input: inputFor(MEMORY, 'exec-journal-1', 'dev'),
      });
      await vi.waitFor(() => expect(run.keys('exec-journal-1')).toContain('step:top-pods'));

      // Assess
      await vi.waitFor(() =>
        expect(journal.read('exec-journal-1')?.inFlight?.state).toBe('Parallel: diagnose'),
      );
      expect(journal.read('exec-journal-1')).toMatchObject({
        status: 'RUNNING',
        runbookId: MEMORY,
        inFlight: { input: { execution: { id: 'exec-journal-1' }, steps: { node_registered: {} } } },
      });
      expect(run.events).toContainEqual(
        expect.objectContaining({ type: 'state-entered', state: 'top-pods', topLevel: false }),
      );
      topPods.resolve();
      await run.settled(MEMORY, 'exec-journal-1', 'SUCCEEDED');
      expect(journal.read('exec-journal-1')).toMatchObject({ status: 'SUCCEEDED' });
      // Stopped, it has no resume point left to write or keep, and its output went to the status change
      expect(journal.read('exec-journal-1')).not.toHaveProperty('inFlight');
      expect(journal.read('exec-journal-1')).not.toHaveProperty('output');
      expect(run.statusChanges.find((change) => change.name === 'exec-journal-1')?.output).toEqual(
        expect.stringContaining('"exec-journal-1"'),
      );
    });

    it("has a task's own top-level state in flight on disk when an approval or a change is called", async () => {
      // Prepare: what a platform killed at that moment would read, the log on disk
      const onDisk = (id: string) => new EngineJournal(dataDir).read(id)?.inFlight?.state;
      const seen = new Map<string, string | undefined>();
      const run = harness({ onCall: (call) => seen.set(call.key, onDisk(call.executionId)) });

      // Act: staging asks for approval before the restart
      await run.engine.start({
        runbookId: MEMORY,
        name: 'exec-journal-3',
        input: inputFor(MEMORY, 'exec-journal-3', 'staging'),
      });
      const token = await run.token('exec-journal-3', 'approval:restart-workload');
      await run.engine.sendTaskSuccess(token, { approvedBy: ['sre@example.com'] });
      await run.settled(MEMORY, 'exec-journal-3', 'SUCCEEDED');

      // Assess: a resume would start at the approval or the change, not at a state before it
      expect(seen.get('approval:restart-workload')).toBe('Approval: restart-workload');
      expect(seen.get('step:restart-top-workload')).toBe('restart-top-workload');
    });

    it('runs on and journals every state when an event listener throws', async () => {
      // Prepare: a dashboard listener that fails on every event
      const inFlightAtChange: Array<string | undefined> = [];
      const run = harness({
        onEvent: () => {
          throw new Error('dashboard went away');
        },
        onCall: (call) => {
          if (call.key === 'step:restart-top-workload')
            inFlightAtChange.push(new EngineJournal(dataDir).read(call.executionId)?.inFlight?.state);
        },
      });

      // Act
      await run.engine.start({
        runbookId: MEMORY,
        name: 'exec-journal-4',
        input: inputFor(MEMORY, 'exec-journal-4', 'dev'),
      });
      await run.settled(MEMORY, 'exec-journal-4', 'SUCCEEDED');

      // Assess: the listener heard the whole run, and the journal followed it to its last state
      expect(
        run.events.filter((event) => event.type === 'state-entered').map((event) => event.state),
      ).toContain('Record success');
      expect(new EngineJournal(dataDir).read('exec-journal-4')).toMatchObject({ status: 'SUCCEEDED' });
      expect(inFlightAtChange).toEqual(['restart-top-workload']);
    });

    it('keeps the approval state in flight while the execution waits there', async () => {
      // Prepare
      const run = harness({ hold: ['approval:restart-workload'] });

      // Act
      await run.engine.start({
        runbookId: MEMORY,
        name: 'exec-journal-2',
        input: inputFor(MEMORY, 'exec-journal-2', 'staging'),
      });
      await run.token('exec-journal-2', 'approval:restart-workload');

      // Assess
      const entry = new EngineJournal(dataDir).read('exec-journal-2')!;
      expect(entry.inFlight!.state).toBe('Approval: restart-workload');
      const payload = run.call('exec-journal-2', 'approval:restart-workload')!.payload;
      const waitingWith = entry.inFlight!.input as ExecutionInput;
      expect(payload).toMatchObject({
        execution: waitingWith.execution,
        alert: waitingWith.alert,
        steps: waitingWith.steps,
        groups: waitingWith.groups,
      });
      expect(waitingWith.groups).toMatchObject({ diagnose: { top_pods: { status: 'succeeded' } } });
    });
  });

  describe('a restart of the platform', () => {
    it('resumes an execution stopped in its first state from the start, with its input (its start record)', async () => {
      // Prepare: the first step hangs; the start record is all the journal has
      const nodeRegistered = deferred();
      releases.push(() => nodeRegistered.resolve());
      const before = harness({ hang: { 'step:node-registered': nodeRegistered.promise } });
      const input = inputFor(MEMORY, 'exec-restart-first', 'dev');
      await before.engine.start({ runbookId: MEMORY, name: 'exec-restart-first', input });
      await vi.waitFor(() => expect(before.keys('exec-restart-first')).toContain('step:node-registered'));
      const onDisk = new EngineJournal(dataDir).read('exec-restart-first');

      // Act
      await before.engine.shutdown();
      const after = harness();
      const recovered = await after.engine.recover();

      // Assess
      expect(onDisk).toMatchObject({ status: 'RUNNING', input });
      expect(onDisk).not.toHaveProperty('inFlight');
      expect(recovered).toEqual({ resumed: ['exec-restart-first'], interrupted: [] });
      await after.settled(MEMORY, 'exec-restart-first', 'SUCCEEDED');
      expect(after.keys('exec-restart-first')[0]).toBe('step:node-registered');
      expect(after.call('exec-restart-first', 'step:node-registered')!.payload).toMatchObject({
        execution: input.execution,
        alert: input.alert,
      });
    });

    it('resumes an execution waiting at an approval at that approval, with its input, and finishes it', async () => {
      // Prepare
      const before = harness({ hold: ['approval:restart-workload'] });
      const started = await before.engine.start({
        runbookId: MEMORY,
        name: 'exec-restart-1',
        input: inputFor(MEMORY, 'exec-restart-1', 'staging'),
      });
      const oldToken = await before.token('exec-restart-1', 'approval:restart-workload');
      const asked = before.call('exec-restart-1', 'approval:restart-workload')!.payload;

      // Act: the process stops, a new one starts on the same data directory
      await before.engine.shutdown();
      const after = harness({ hold: ['approval:restart-workload'] });
      const recovered = await after.engine.recover();

      // Assess
      expect(recovered).toEqual({ resumed: ['exec-restart-1'], interrupted: [] });
      expect(before.statusChanges).toEqual([]);
      await expect(before.engine.sendTaskSuccess(oldToken, {})).rejects.toThrow(TaskTokenExpiredError);
      const newToken = await after.token('exec-restart-1', 'approval:restart-workload');
      expect(newToken).not.toBe(oldToken);
      const { taskToken: _asked, ...askedBefore } = asked;
      const { taskToken: _again, ...askedAgain } = after.call(
        'exec-restart-1',
        'approval:restart-workload',
      )!.payload;
      expect(askedAgain).toEqual(askedBefore);
      expect(after.keys('exec-restart-1')).toEqual(['approval:restart-workload']);
      expect(await after.engine.describe(MEMORY, 'exec-restart-1')).toMatchObject({
        status: 'RUNNING',
        startedAt: started.startedAt,
      });

      await after.engine.sendTaskSuccess(newToken, { approvedBy: ['alice@example.com'] });
      await after.settled(MEMORY, 'exec-restart-1', 'SUCCEEDED');
      expect(after.keys('exec-restart-1')).toEqual([
        'approval:restart-workload',
        'checkpoint:restart-workload',
        'step:restart-top-workload',
        'step:wait-for-rollout',
        'waited:wait-for-rollout',
        'verify-alert',
        'step:pressure-cleared',
        'record',
      ]);
      expect(after.call('exec-restart-1', 'record')!.payload).toMatchObject({
        state: {
          approvals: { restart_workload: { approvedBy: ['alice@example.com'] } },
          groups: { diagnose: { top_pods: { output: STEP_OUTPUTS['top-pods'] } } },
        },
      });
      expect(after.statusChanges).toEqual([
        expect.objectContaining({
          name: 'exec-restart-1',
          status: 'SUCCEEDED',
          startDate: Date.parse(started.startedAt),
        }),
      ]);
      expect(new EngineJournal(dataDir).read('exec-restart-1')).toMatchObject({
        status: 'SUCCEEDED',
        resumed: 1,
      });
    });

    it('marks an execution stopped inside a mutating step interrupted, and re-runs that step on resumeInterrupted', async () => {
      // Prepare
      const scaleWeb = deferred();
      releases.push(() => scaleWeb.resolve());
      const before = harness({ hang: { 'step:scale-web': scaleWeb.promise } });
      await before.engine.start({
        runbookId: CAPACITY,
        name: 'exec-mutating-1',
        input: inputFor(CAPACITY, 'exec-mutating-1', 'dev'),
      });
      await vi.waitFor(() => expect(before.keys('exec-mutating-1')).toContain('step:scale-web'));
      const changing = before.call('exec-mutating-1', 'step:scale-web')!.payload;
      expect(changing).toMatchObject({ step: { id: 'scale-web', mutating: true } });
      await before.engine.shutdown();

      // Act
      const after = harness({ hold: ['approval:final-restart'] });
      const recovered = await after.engine.recover();

      // Assess
      expect(recovered).toEqual({ resumed: [], interrupted: ['exec-mutating-1'] });
      expect(after.interruptions).toEqual([
        { executionId: 'exec-mutating-1', reason: expect.stringContaining('"scale-web"') },
      ]);
      expect(after.calls).toEqual([]);
      expect(new EngineJournal(dataDir).read('exec-mutating-1')).toMatchObject({
        status: 'INTERRUPTED',
        interruptedReason: after.interruptions[0]!.reason,
      });
      expect(await after.engine.describe(CAPACITY, 'exec-mutating-1')).toMatchObject({ status: 'RUNNING' });
      // A later restart leaves it for the operator too.
      expect(await harness().engine.recover()).toEqual({ resumed: [], interrupted: [] });

      // Act: the operator decides re-running it is safe
      const resumed = await after.engine.resumeInterrupted('exec-mutating-1');

      // Assess
      expect(resumed).toBe(true);
      await after.engine.sendTaskSuccess(await after.token('exec-mutating-1', 'approval:final-restart'), {
        approvedBy: ['alice@example.com'],
      });
      await after.settled(CAPACITY, 'exec-mutating-1', 'SUCCEEDED');
      expect(after.keys('exec-mutating-1')[0]).toBe('step:scale-web');
      expect(after.call('exec-mutating-1', 'step:scale-web')!.payload).toEqual(changing);
      expect(after.keys('exec-mutating-1')).toContain('record');
      expect(after.keys('exec-mutating-1')).not.toContain('checkpoint:grow');
      expect(new EngineJournal(dataDir).read('exec-mutating-1')).toMatchObject({
        status: 'SUCCEEDED',
        resumed: 1,
      });
    });

    it('has journaled a mutating step as in flight before its handler runs (a crash there must not re-run it)', async () => {
      // Prepare: what a restarted platform would read, the log on disk
      const journal = { read: (id: string) => new EngineJournal(dataDir).read(id) };
      const inFlightWhenCalled = new Map<string, string | undefined>();
      const scaleWeb = deferred();
      releases.push(() => scaleWeb.resolve());
      const run = harness({
        hang: { 'step:scale-web': scaleWeb.promise },
        onCall: (call) => inFlightWhenCalled.set(call.key, journal.read(call.executionId)?.runningChange),
      });

      // Act
      await run.engine.start({
        runbookId: CAPACITY,
        name: 'exec-crash-1',
        input: inputFor(CAPACITY, 'exec-crash-1', 'dev'),
      });
      await vi.waitFor(() => expect(inFlightWhenCalled.has('step:scale-web')).toBe(true));

      // Assess: were the process killed now, recover() would read this state
      expect(inFlightWhenCalled.get('step:scale-web')).toBe('scale-web');
    });

    it('stops an interrupted execution: ABORTED, and the stop is reported', async () => {
      // Prepare
      const scaleWeb = deferred();
      releases.push(() => scaleWeb.resolve());
      const before = harness({ hang: { 'step:scale-web': scaleWeb.promise } });
      await before.engine.start({
        runbookId: CAPACITY,
        name: 'exec-interrupted-stop-1',
        input: inputFor(CAPACITY, 'exec-interrupted-stop-1', 'dev'),
      });
      await vi.waitFor(() => expect(before.keys('exec-interrupted-stop-1')).toContain('step:scale-web'));
      await before.engine.shutdown();
      const after = harness();
      expect((await after.engine.recover()).interrupted).toEqual(['exec-interrupted-stop-1']);

      // Act: the operator aborts instead of resuming
      await after.engine.stop(CAPACITY, 'exec-interrupted-stop-1', {
        error: 'Runbook.Aborted',
        cause: 'aborted by carol@example.com',
      });

      // Assess
      expect(await after.engine.describe(CAPACITY, 'exec-interrupted-stop-1')).toMatchObject({
        status: 'ABORTED',
        error: 'Runbook.Aborted',
        cause: 'aborted by carol@example.com',
      });
      expect(after.statusChanges).toEqual([
        expect.objectContaining({ name: 'exec-interrupted-stop-1', status: 'ABORTED' }),
      ]);
      expect(new EngineJournal(dataDir).read('exec-interrupted-stop-1')).not.toHaveProperty('inFlight');
    });

    it('does not replay finished mutating steps when the recompiled runbook lost the state in flight', async () => {
      // Prepare: waiting at the last approval, after every change but the last one
      const before = harness({ hold: ['approval:final-restart'] });
      await before.engine.start({
        runbookId: CAPACITY,
        name: 'exec-recompiled-1',
        input: inputFor(CAPACITY, 'exec-recompiled-1', 'dev'),
      });
      await before.token('exec-recompiled-1', 'approval:final-restart');
      await before.engine.shutdown();
      const recompiled = structuredClone(MACHINES[CAPACITY]!);
      recompiled.States['Approval: final restart'] = recompiled.States['Approval: final-restart']!;
      delete recompiled.States['Approval: final-restart'];
      (recompiled.States['Checkpoint: finish'] as { Next: string }).Next = 'Approval: final restart';
      expect(aslProblems(recompiled)).toEqual([]);
      const after = harness({ machines: { [CAPACITY]: recompiled }, hold: ['approval:final-restart'] });

      // Act
      const recovered = await after.engine.recover();

      // Assess
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(after.keys('exec-recompiled-1')).not.toContain('step:scale-web');
      expect(recovered).toEqual({ resumed: [], interrupted: ['exec-recompiled-1'] });
    });

    it('resumes only an interrupted execution on resumeInterrupted', async () => {
      // Prepare
      const run = harness();
      await run.engine.start({
        runbookId: MEMORY,
        name: 'exec-done-1',
        input: inputFor(MEMORY, 'exec-done-1', 'dev'),
      });
      await run.settled(MEMORY, 'exec-done-1', 'SUCCEEDED');

      // Act
      const finished = await run.engine.resumeInterrupted('exec-done-1');
      const unknown = await run.engine.resumeInterrupted('exec-never-started');

      // Assess
      expect(finished).toBe(false);
      expect(unknown).toBe(false);
    });
  });
});

describe('rootedAt: the definition a resume runs', () => {
  it.each(
    Object.entries(MACHINES).flatMap(([runbookId, definition]) =>
      Object.keys(definition.States).map((state) => [runbookId, state] as const),
    ),
  )('%s rooted at "%s" passes asl-validator', (runbookId, state) => {
    // Act
    const rooted = rootedAt(MACHINES[runbookId]!, state);

    // Assess
    expect(rooted.StartAt).toBe(state);
    expect(aslProblems(rooted)).toEqual([]);
  });

  it('drops the states a resumed approval can no longer reach, and keeps the failure path', () => {
    // Prepare
    const definition = MACHINES[MEMORY]!;

    // Act
    const rooted = rootedAt(definition, 'Approval: restart-workload');

    // Assess
    const states = Object.keys(rooted.States);
    expect(states).not.toContain('node-registered');
    expect(states).not.toContain('Parallel: diagnose');
    expect(states).not.toContain('Approval: relieve-node');
    expect(states).toEqual(
      expect.arrayContaining(['Checkpoint: restart-workload', 'Rollback outcome', 'Escalate', 'Failed']),
    );
    expect(rooted.States['Approval: restart-workload']).toEqual(
      definition.States['Approval: restart-workload'],
    );
  });

  it('is needed: asl-validator refuses the definition with only StartAt moved', () => {
    // Prepare
    const definition = MACHINES[MEMORY]!;

    // Act
    const problems = aslProblems({ ...definition, StartAt: 'Approval: restart-workload' });

    // Assess
    expect(problems.join('\n')).toMatch(/unreachable|reach/i);
  });

  it('refuses a state the definition does not have at its top level', () => {
    // Act
    const rooting = () => rootedAt(MACHINES[MEMORY]!, 'top-pods');

    // Assess
    expect(rooting).toThrow(ConfigurationError);
    expect(rooting).toThrow('"top-pods"');
  });
});

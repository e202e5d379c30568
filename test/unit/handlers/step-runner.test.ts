import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SendTaskFailureCommand, SendTaskSuccessCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseApprovalPublicId } from '../../../functions/core/approval-links.ts';
import { concurrencySlotKey } from '../../../functions/core/classifier/identity.ts';
import {
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
} from '../../../functions/core/classifier/normalize.ts';
import { AslErrorName, InvalidEventError } from '../../../functions/core/errors.ts';
import type { ExecutionInput } from '../../../functions/core/execution-contract.ts';
import { jsonBytes } from '../../../functions/core/output-budget.ts';
import type { StepOutcome } from '../../../functions/core/records.ts';
import { STORED_OUTPUT_BYTES } from '../../../functions/core/services/step-runner.ts';
import type { ToolDeclaration } from '../../../functions/core/tool-catalog.ts';
import { createStepRunnerHandler } from '../../../functions/handlers/step-runner.ts';
import type { ToolContext, ToolImplementation } from '../../../functions/ports/tools.ts';
import { TOOL_CATALOG } from '../../../functions/tools/declarations.ts';
import { ToolError, ToolErrorKind } from '../../../functions/tools/tool.ts';
import {
  type AwsHarness,
  ESCALATIONS_TOPIC,
  lambdaContext,
  startAwsHarness,
} from '../../support/aws-harness.ts';
import { libraryStatemachinesDir } from '../../support/library.ts';
import { ROOT } from '../../support/runbooks.ts';

// ---------------------------------------------------------------------------------------------------
// Payloads exactly as the compiled state machines build them

interface AslState {
  Type: string;
  Parameters?: Record<string, unknown>;
  Branches?: Array<{ States: Record<string, AslState> }>;
}

const definitions = new Map<string, Record<string, AslState>>();

function compiledStates(runbookId: string): Record<string, AslState> {
  let states = definitions.get(runbookId);
  if (!states) {
    const path = join(libraryStatemachinesDir(), `${runbookId}.asl.json`);
    states = (JSON.parse(readFileSync(path, 'utf8')) as { States: Record<string, AslState> }).States;
    definitions.set(runbookId, states);
  }
  return states;
}

function findState(states: Record<string, AslState>, name: string): AslState | undefined {
  if (states[name]) return states[name];
  for (const state of Object.values(states))
    for (const branch of state.Branches ?? []) {
      const found = findState(branch.States, name);
      if (found) return found;
    }
  return undefined;
}

/** JSONPath as the compiled Parameters use it: `$`, `$.a.b` and `$$.Task.Token`. */
function resolvePath(path: string, state: Record<string, unknown>, taskToken: string): unknown {
  if (path === '$$.Task.Token') return taskToken;
  if (path === '$') return structuredClone(state);
  if (!path.startsWith('$.')) throw new Error(`unsupported path ${path}`);
  let value: unknown = state;
  for (const key of path.slice(2).split('.')) value = (value as Record<string, unknown>)[key];
  return structuredClone(value);
}

function resolveParameters(value: unknown, state: Record<string, unknown>, taskToken: string): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveParameters(item, state, taskToken));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) =>
      key.endsWith('.$')
        ? [key.slice(0, -2), resolvePath(item as string, state, taskToken)]
        : [key, resolveParameters(item, state, taskToken)],
    ),
  );
}

type Payload = Record<string, unknown> & { step?: Record<string, unknown> };

/** The Lambda payload of a compiled Task state, for the machine's current state. */
function taskPayload(
  runbookId: string,
  stateName: string,
  state: Record<string, unknown>,
  taskToken = 'task-token-0001',
): Payload {
  const parameters = findState(compiledStates(runbookId), stateName)?.Parameters;
  if (!parameters) throw new Error(`${runbookId} has no Task state "${stateName}"`);
  // `lambda:invoke.waitForTaskToken` states hand the function their Payload.
  const payload = 'Payload' in parameters ? parameters.Payload : parameters;
  return resolveParameters(payload, state, taskToken) as Payload;
}

/** A compiled step payload with a changed step spec (same shape, other values). */
function withStep(payload: Payload, step: Record<string, unknown>): Payload {
  return { ...payload, step: { ...payload.step, ...step } };
}

// ---------------------------------------------------------------------------------------------------
// Tools: the real declarations, with a `run` each test controls

interface ToolCall {
  parameters: Record<string, unknown>;
  context: ToolContext;
}

type Behaviour = (parameters: Record<string, unknown>, context: ToolContext) => Promise<unknown>;

class ToolDouble implements ToolImplementation {
  readonly calls: ToolCall[] = [];
  private behaviour: Behaviour = async () => ({});

  constructor(readonly declaration: ToolDeclaration) {}

  run(parameters: Record<string, unknown>, context: ToolContext): Promise<unknown> {
    this.calls.push({ parameters, context });
    return this.behaviour(parameters, context);
  }

  resolves(output: unknown): this {
    this.behaviour = async () => output;
    return this;
  }

  rejects(error: Error): this {
    this.behaviour = async () => {
      throw error;
    };
    return this;
  }

  /** Honours its signal, and nothing else ends it. */
  hangsUntilAborted(): this {
    this.behaviour = (_parameters, context) => untilAborted(context.signal);
    return this;
  }

  does(behaviour: Behaviour): this {
    this.behaviour = behaviour;
    return this;
  }
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function toolDouble(name: string): ToolDouble {
  const declaration = TOOL_CATALOG.get(name);
  if (!declaration) throw new Error(`no tool ${name} in the catalog`);
  return new ToolDouble(declaration);
}

const TOOL_NAMES = [
  'k8s.node-resources',
  'k8s.pods-on-node',
  'k8s.pod-logs',
  'k8s.rollout-restart',
  'k8s.cordon',
  'k8s.uncordon',
  'k8s.evict-pod',
  'k8s.scale',
  'prometheus.query-range',
  'autoscaling.set-desired-capacity',
  'runbook.wait',
  'notify.message',
] as const;
type ToolName = (typeof TOOL_NAMES)[number];

// ---------------------------------------------------------------------------------------------------
// Fixtures

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(ROOT, 'test/fixtures/alerts', name), 'utf8')) as Record<string, unknown>;

const TOP_PODS_OUTPUT = {
  node: 'ip-10-0-1-23.eu-west-1.compute.internal',
  pods: [
    {
      namespace: 'checkout',
      name: 'checkout-api-7d9f8b6c5-k2x9p',
      ownerKind: 'Deployment',
      ownerName: 'checkout-api',
      memoryBytes: 3_221_225_472,
    },
    {
      namespace: 'search',
      name: 'search-indexer-0',
      ownerKind: 'StatefulSet',
      ownerName: 'search-indexer',
      memoryBytes: 1_073_741_824,
    },
  ],
};

const NODE_RESOURCES_OUTPUT = {
  node: 'ip-10-0-1-23.eu-west-1.compute.internal',
  conditions: { MemoryPressure: true, Ready: true },
  usage: { memoryPercent: 94, cpuPercent: 41 },
};

const NODE_MEMORY = 'node-memory-pressure';

describe('step-runner handler', () => {
  let harness: AwsHarness;
  let handler: ReturnType<typeof createStepRunnerHandler>;
  let tools: Record<ToolName, ToolDouble>;
  /** The machine's state: the execution input the classifier started it with. */
  let state: ExecutionInput;

  /** Classifies an alert as the classifier Lambda would; returns the input it started the machine with. */
  async function startExecution(alert: ExecutionInput['alert']): Promise<ExecutionInput> {
    const before = harness.sfn.commandCalls(StartExecutionCommand).length;
    const result = await harness.services.classifier.classify(alert);
    expect(result.decision).toBe('started');
    const starts = harness.sfn.commandCalls(StartExecutionCommand);
    expect(starts).toHaveLength(before + 1);
    harness.sns.resetHistory();
    return JSON.parse(starts.at(-1)!.args[0].input.input!) as ExecutionInput;
  }

  /** Runs a compiled (or adapted) Task payload through the Lambda handler. */
  function invoke(payload: unknown, remainingMs?: number) {
    return handler(payload, lambdaContext(remainingMs));
  }

  /** An approver approves the compiled approval gate, through the approval service and the store. */
  async function approve(runbookId: string, stateName: string, machine: ExecutionInput = state) {
    const payload = taskPayload(runbookId, stateName, machine, `approval-token-${stateName}`);
    const requested = await harness.services.runner.handle(
      payload as Parameters<typeof harness.services.runner.handle>[0],
    );
    const { approvalId } = requested as { approvalId: string };
    harness.clock.advance(90_000);
    const decided = await harness.store.decideApproval({
      executionId: machine.execution.id,
      approvalKey: parseApprovalPublicId(approvalId)!.approvalKey,
      decision: { approver: 'alice@example.com', decision: 'approve', at: harness.clock.now().toISOString() },
      now: harness.clock.now().toISOString(),
    });
    expect(decided).toMatchObject({ ok: true, approval: { status: 'approved' } });
    harness.sns.resetHistory();
  }

  async function requestAbort(executionId = state.execution.id) {
    await harness.store.updateExecution(executionId, {
      control: {
        pauseRequested: false,
        abortRequested: true,
        requestedBy: 'alice@example.com',
        requestedAt: harness.clock.now().toISOString(),
        reason: 'wrong node',
      },
    });
  }

  async function engageKillSwitch() {
    await harness.store.setKillSwitch({
      engaged: true,
      changedBy: 'carol@example.com',
      changedAt: harness.clock.now().toISOString(),
      reason: 'cluster upgrade',
    });
  }

  async function outcomesOf(stepId: string, executionId = state.execution.id): Promise<StepOutcome[]> {
    return (await harness.store.listStepOutcomes(executionId)).filter((outcome) => outcome.stepId === stepId);
  }

  /** Runs top-pods (the diagnostic later steps take their targets from). */
  async function runTopPods() {
    tools['k8s.pods-on-node'].resolves(TOP_PODS_OUTPUT);
    await invoke(taskPayload(NODE_MEMORY, 'top-pods', state));
  }

  beforeEach(async () => {
    tools = Object.fromEntries(TOOL_NAMES.map((name) => [name, toolDouble(name)])) as Record<
      ToolName,
      ToolDouble
    >;
    harness = await startAwsHarness({ tools: Object.values(tools) });
    handler = createStepRunnerHandler({ runner: harness.services.runner, logger: harness.logger });
    const [alert] = normalizeAlertmanager(
      fixture('alertmanager-node-memory-pressure.json'),
      harness.normalize,
    );
    state = await startExecution(alert!);
  });
  afterEach(() => harness.stop());

  // -------------------------------------------------------------------------------------------------
  describe('steps', () => {
    it('runs a diagnostic step and records its outcome: resolved parameters, timing, attempt 1', async () => {
      // Prepare
      tools['k8s.node-resources'].does(async () => {
        harness.clock.advance(1_500);
        return NODE_RESOURCES_OUTPUT;
      });
      const startedAt = harness.clock.now();

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'node-resources', state));

      // Assess
      expect(result).toEqual({ status: 'succeeded', output: NODE_RESOURCES_OUTPUT });
      const [call] = tools['k8s.node-resources'].calls;
      expect(call?.parameters).toEqual({ node: state.alert.resource.id });
      expect(call?.context).toMatchObject({ dryRun: false, execution: state.execution });
      expect(await outcomesOf('node-resources')).toEqual([
        {
          executionId: state.execution.id,
          stepId: 'node-resources',
          kind: 'step',
          name: 'Node conditions, capacity and usage',
          phase: 'diagnose',
          tool: 'k8s.node-resources',
          mutating: false,
          risk: 'low',
          attempt: 1,
          dryRun: false,
          status: 'succeeded',
          parameters: { node: 'ip-10-0-1-23.eu-west-1.compute.internal' },
          startedAt: startedAt.toISOString(),
          finishedAt: new Date(startedAt.getTime() + 1_500).toISOString(),
          durationMs: 1_500,
          output: NODE_RESOURCES_OUTPUT,
        },
      ]);
      expect((await harness.store.getExecution(state.execution.id))?.currentState).toBe('node-resources');
    });

    it('returns no output into the state when the step has no output budget, but stores it', async () => {
      // Prepare
      const series = { series: [{ labels: {}, min: 7.1e9, max: 7.9e9, last: 7.8e9 }] };
      tools['prometheus.query-range'].resolves(series);
      const payload = taskPayload(NODE_MEMORY, 'memory-trend', state);

      // Act
      const result = await invoke(payload);

      // Assess
      expect(payload.step).not.toHaveProperty('outputBudgetBytes');
      expect(result).toEqual({ status: 'succeeded', output: null });
      const [outcome] = await outcomesOf('memory-trend');
      expect(outcome?.output).toEqual(series);
      // A template inside a longer string is interpolated.
      expect(outcome?.parameters).toEqual({
        query: `sum(container_memory_working_set_bytes{node="${state.alert.resource.id}", container!=""})`,
        lookbackMinutes: 30,
        stepSeconds: 60,
      });
    });

    it("trims the output it returns to the step's budget and keeps the whole output in the store", async () => {
      // Prepare
      const output = {
        ...NODE_RESOURCES_OUTPUT,
        events: Array.from(
          { length: 200 },
          (_, index) => `event ${index}: ${'kubelet evicted a pod '.repeat(5)}`,
        ),
      };
      tools['k8s.node-resources'].resolves(output);

      // Act
      const result = (await invoke(taskPayload(NODE_MEMORY, 'node-resources', state))) as {
        status: string;
        output: typeof output;
      };

      // Assess
      expect(jsonBytes(output)).toBeGreaterThan(4_096);
      expect(result.status).toBe('succeeded');
      expect(jsonBytes(result.output)).toBeLessThanOrEqual(4_096);
      expect(result.output.usage).toEqual({ memoryPercent: 94, cpuPercent: 41 });
      const [outcome] = await outcomesOf('node-resources');
      expect(outcome?.output).toEqual(output);
      expect(outcome?.outputTruncated).toBeUndefined();
    });

    it('caps the output it stores, and says so', async () => {
      // Prepare
      const output = {
        memoryPercent: 94,
        lines: Array.from({ length: 100 }, (_, index) => `${index} ${'x'.repeat(5_000)}`),
      };
      tools['k8s.node-resources'].resolves(output);

      // Act
      await invoke(taskPayload(NODE_MEMORY, 'node-resources', state));

      // Assess
      expect(jsonBytes(output)).toBeGreaterThan(STORED_OUTPUT_BYTES);
      const [outcome] = await outcomesOf('node-resources');
      expect(outcome?.outputTruncated).toBe(true);
      expect(jsonBytes(outcome?.output)).toBeLessThanOrEqual(STORED_OUTPUT_BYTES);
      expect(outcome?.output).toMatchObject({ memoryPercent: 94 });
    });

    it("resolves templates from the alert and from earlier steps' outputs in the store", async () => {
      // Prepare
      await runTopPods();
      tools['k8s.pod-logs'].resolves({ lines: ['OOMKilled'] });
      const payload = withStep(taskPayload(NODE_MEMORY, 'node-resources', state), {
        id: 'heaviest-pod-logs',
        name: 'Log of the heaviest pod',
        tool: 'k8s.pod-logs',
        parameters: {
          namespace: '{{ steps.top-pods.output.pods[0].namespace }}',
          pod: '{{ steps.top-pods.output.pods.0.name }}',
          tailLines: 100,
          cluster: '{{ alert.labels.cluster }}',
        },
      });

      // Act
      const result = await invoke(payload);

      // Assess
      expect(result).toEqual({ status: 'succeeded', output: { lines: ['OOMKilled'] } });
      const expected = {
        namespace: 'checkout',
        pod: 'checkout-api-7d9f8b6c5-k2x9p',
        tailLines: 100,
        previous: false,
        cluster: 'prod-eks-eu-west-1',
      };
      expect(tools['k8s.pod-logs'].calls[0]?.parameters).toEqual(expected);
      expect((await outcomesOf('heaviest-pod-logs'))[0]?.parameters).toEqual(expected);
    });

    it('fails with Runbook.InvalidParameters naming the template and the field when a template has no value', async () => {
      // Prepare: top-pods never ran
      const payload = taskPayload(NODE_MEMORY, 'restart-top-workload', state);

      // Act
      const act = invoke(payload);

      // Assess
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.InvalidParameters,
        message: expect.stringMatching(
          /^step restart-top-workload: namespace: \{\{ steps\.top-pods\.output\.pods\[0\]\.namespace \}\} has no value/,
        ),
      });
      expect(tools['k8s.rollout-restart'].calls).toHaveLength(0);
      expect(await outcomesOf('restart-top-workload')).toMatchObject([
        {
          status: 'failed',
          attempt: 1,
          parameters: payload.step?.parameters,
          error: { name: AslErrorName.InvalidParameters, message: expect.stringContaining('namespace') },
        },
      ]);
    });

    it('fails with Runbook.InvalidParameters naming the field when the parameters are invalid after templates', async () => {
      // Prepare: the heaviest pod belongs to a ReplicaSet, which k8s.rollout-restart cannot restart
      tools['k8s.pods-on-node'].resolves({
        pods: [{ ...TOP_PODS_OUTPUT.pods[0], ownerKind: 'ReplicaSet' }],
      });
      await invoke(taskPayload(NODE_MEMORY, 'top-pods', state));

      // Act
      const act = invoke(taskPayload(NODE_MEMORY, 'restart-top-workload', state));

      // Assess
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.InvalidParameters,
        message: expect.stringMatching(/k8s\.rollout-restart are invalid after templates: kind: /),
      });
      expect(tools['k8s.rollout-restart'].calls).toHaveLength(0);
      const [outcome] = await outcomesOf('restart-top-workload');
      expect(outcome).toMatchObject({ status: 'failed', error: { name: AslErrorName.InvalidParameters } });
    });

    it('fails with Runbook.ToolFailed, a short message and a one-line stack', async () => {
      // Prepare
      const failure = new Error(`nodes "ip-10-0-1-23" is forbidden: ${'denied '.repeat(500)}`);
      tools['k8s.node-resources'].rejects(failure);

      // Act
      const error = (await invoke(taskPayload(NODE_MEMORY, 'node-resources', state)).catch(
        (caught: unknown) => caught,
      )) as Error;

      // Assess
      expect(error.name).toBe(AslErrorName.ToolFailed);
      expect(error.message).toMatch(/^step node-resources: nodes "ip-10-0-1-23" is forbidden: denied/);
      expect(error.message.length).toBeLessThanOrEqual(601);
      expect(error.stack).toBe(`${AslErrorName.ToolFailed}: ${error.message}`);
      expect(error.stack).not.toContain('\n');
      const [outcome] = await outcomesOf('node-resources');
      expect(outcome).toMatchObject({
        status: 'failed',
        attempt: 1,
        error: { name: AslErrorName.ToolFailed, message: expect.stringContaining('forbidden') },
      });
      expect(outcome?.output).toBeUndefined();
    });

    it('records a retry of a failed step as attempt 2', async () => {
      // Prepare
      const payload = taskPayload(NODE_MEMORY, 'node-resources', state);
      tools['k8s.node-resources'].rejects(new Error('connection reset by peer'));
      await expect(invoke(payload)).rejects.toMatchObject({ name: AslErrorName.ToolFailed });
      tools['k8s.node-resources'].resolves(NODE_RESOURCES_OUTPUT);

      // Act
      const result = await invoke(payload);

      // Assess
      expect(result).toMatchObject({ status: 'succeeded' });
      expect(
        (await outcomesOf('node-resources')).map(({ attempt, status }) => ({ attempt, status })),
      ).toEqual([
        { attempt: 1, status: 'failed' },
        { attempt: 2, status: 'succeeded' },
      ]);
    });

    it("times out a step whose tool hangs, and fires the tool's abort signal", async () => {
      // Prepare
      tools['k8s.node-resources'].hangsUntilAborted();
      const payload = withStep(taskPayload(NODE_MEMORY, 'node-resources', state), { timeoutSeconds: 1 });

      // Act
      const act = invoke(payload);

      // Assess
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.StepTimeout,
        message: 'step node-resources timed out after 1s',
      });
      const signal = tools['k8s.node-resources'].calls[0]?.context.signal;
      expect(signal?.aborted).toBe(true);
      expect(await outcomesOf('node-resources')).toMatchObject([
        { status: 'timed-out', error: { name: AslErrorName.StepTimeout } },
      ]);
    });

    it("shortens the step's timeout to what the Lambda has left, keeping time to record the outcome", async () => {
      // Prepare: the runner compares its clock with the Lambda's deadline (wall time): align them
      harness.clock.set(new Date().toISOString());
      tools['k8s.node-resources'].hangsUntilAborted();
      const payload = taskPayload(NODE_MEMORY, 'node-resources', state);
      const began = performance.now();

      // Act: 30 s step timeout, 5.3 s of Lambda time left, 5 s kept back
      const act = invoke(payload, 5_300);

      // Assess
      await expect(act).rejects.toMatchObject({ name: AslErrorName.StepTimeout });
      expect(performance.now() - began).toBeLessThan(3_000);
      const [call] = tools['k8s.node-resources'].calls;
      expect(call?.context.signal.aborted).toBe(true);
      expect(call!.context.deadline - harness.clock.now().getTime()).toBeLessThan(1_000);
      expect((await outcomesOf('node-resources'))[0]?.status).toBe('timed-out');
    });

    it('stops a running step within a few poll intervals when an operator aborts', async () => {
      // Prepare
      let abortedAt = 0;
      tools['k8s.node-resources'].does(async (_parameters, context) => {
        await requestAbort();
        abortedAt = performance.now();
        return untilAborted(context.signal);
      });

      // Act
      const act = invoke(taskPayload(NODE_MEMORY, 'node-resources', state));

      // Assess
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.Aborted,
        message: 'step node-resources aborted by alice@example.com',
      });
      expect(performance.now() - abortedAt).toBeLessThan(1_000);
      expect(tools['k8s.node-resources'].calls[0]?.context.signal.aborted).toBe(true);
      expect((await outcomesOf('node-resources'))[0]).toMatchObject({
        status: 'aborted',
        error: { name: AslErrorName.Aborted },
      });
    });

    it('runs the rollback procedure although an abort was requested (it is how the abort ends)', async () => {
      // Prepare
      await requestAbort();
      tools['notify.message'].resolves({ sent: 1 });

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Rollback: notify-rollback', state));

      // Assess
      expect(result).toMatchObject({ status: 'succeeded' });
      expect(tools['notify.message'].calls).toHaveLength(1);
      expect((await outcomesOf('notify-rollback'))[0]).toMatchObject({
        kind: 'rollback',
        status: 'succeeded',
      });
    });

    it('stops running tools when the process shuts down, records them interrupted, and starts nothing after', async () => {
      // Prepare
      tools['k8s.node-resources'].hangsUntilAborted();
      const running = invoke(taskPayload(NODE_MEMORY, 'node-resources', state));
      running.catch(() => undefined);
      // The tool must be running when the process stops (a fixed pause raced the store on a busy machine).
      await vi.waitFor(() => expect(tools['k8s.node-resources'].calls).toHaveLength(1));

      // Act
      await harness.services.runner.shutdown('the platform is stopping', 2_000);
      const after = invoke(taskPayload(NODE_MEMORY, 'top-pods', state));
      after.catch(() => undefined);

      // Assess
      await expect(running).rejects.toMatchObject({
        name: AslErrorName.Aborted,
        message: 'the platform is stopping',
      });
      expect(tools['k8s.node-resources'].calls[0]?.context.signal.aborted).toBe(true);
      expect((await outcomesOf('node-resources'))[0]).toMatchObject({
        status: 'interrupted',
        error: { name: 'Runbook.Interrupted' },
      });
      await expect(after).rejects.toMatchObject({ name: AslErrorName.Aborted });
      expect(tools['k8s.pods-on-node'].calls).toHaveLength(0);
    });

    it('does not start a step once an abort was requested', async () => {
      // Prepare
      await requestAbort();

      // Act
      const act = invoke(taskPayload(NODE_MEMORY, 'node-resources', state));

      // Assess
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.Aborted,
        message: 'aborted by alice@example.com before node-resources',
      });
      expect(tools['k8s.node-resources'].calls).toHaveLength(0);
    });
  });

  // -------------------------------------------------------------------------------------------------
  describe('waits (runbook.wait runs as a Wait state)', () => {
    it('records the wait and returns at once (the Wait state waits, not the function); the next Task records its end', async () => {
      // Prepare: the machine reached wait-for-rollout
      const startedAt = harness.clock.now();

      // Act
      const started = await invoke(taskPayload(NODE_MEMORY, 'wait-for-rollout', state));

      // Assess: nothing sleeps in the function; the dashboard sees the wait and when it ends
      expect(started).toEqual({ status: 'waiting', output: null });
      expect(tools['runbook.wait'].calls).toEqual([]);
      expect(await outcomesOf('wait-for-rollout')).toEqual([
        expect.objectContaining({
          status: 'running',
          attempt: 1,
          parameters: { seconds: 60 },
          startedAt: startedAt.toISOString(),
          output: { waitSeconds: 60, until: new Date(startedAt.getTime() + 60_000).toISOString() },
        }),
      ]);

      // Act: the Wait state ends a minute later
      harness.clock.advance(60_000);
      const ended = await invoke(taskPayload(NODE_MEMORY, 'Waited: wait-for-rollout', state));

      // Assess: the same attempt, succeeded, with its real duration
      expect(ended).toEqual({ status: 'succeeded', output: null });
      expect(await outcomesOf('wait-for-rollout')).toEqual([
        expect.objectContaining({
          status: 'succeeded',
          attempt: 1,
          startedAt: startedAt.toISOString(),
          finishedAt: harness.clock.now().toISOString(),
          durationMs: 60_000,
          output: { waitedSeconds: 60 },
        }),
      ]);
    });

    it('an abort that came during the wait fails the step as aborted when the wait ends, into rollback', async () => {
      // Prepare
      await invoke(taskPayload(NODE_MEMORY, 'wait-for-rollout', state));
      harness.clock.advance(20_000);
      await requestAbort();
      harness.clock.advance(40_000);

      // Act
      const ended = invoke(taskPayload(NODE_MEMORY, 'Waited: wait-for-rollout', state));

      // Assess
      await expect(ended).rejects.toMatchObject({ name: AslErrorName.Aborted });
      await expect(ended).rejects.toThrow(/aborted by alice@example\.com during wait-for-rollout/);
      expect(await outcomesOf('wait-for-rollout')).toEqual([
        expect.objectContaining({
          status: 'aborted',
          attempt: 1,
          durationMs: 60_000,
          error: { name: AslErrorName.Aborted, message: expect.stringMatching(/alice@example\.com/) },
        }),
      ]);
    });
  });

  // -------------------------------------------------------------------------------------------------
  describe('mutating steps', () => {
    it('refuses to start while the kill switch is engaged', async () => {
      // Prepare
      await engageKillSwitch();

      // Act
      const act = invoke(taskPayload(NODE_MEMORY, 'cordon-node', state));

      // Assess
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.KillSwitch,
        message: 'kill switch engaged by carol@example.com: cordon-node not started',
      });
      expect(tools['k8s.cordon'].calls).toHaveLength(0);
      expect(await outcomesOf('cordon-node')).toMatchObject([
        { status: 'failed', mutating: true, error: { name: AslErrorName.KillSwitch } },
      ]);
    });

    it('refuses to start inside a change freeze', async () => {
      // Prepare
      const frozen = { ...state, execution: { ...state.execution, changeFreeze: true } };

      // Act
      const act = invoke(taskPayload(NODE_MEMORY, 'cordon-node', frozen));

      // Assess
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.SafetyBlocked,
        message: expect.stringMatching(/^change freeze: cordon-node/),
      });
      expect(tools['k8s.cordon'].calls).toHaveLength(0);
    });

    it('skips the change when the alert resolved before it', async () => {
      // Prepare
      await harness.store.resolveIncident(
        state.alert.fingerprint,
        { ...state.alert, status: 'resolved', endsAt: harness.clock.now().toISOString() },
        harness.clock.now().toISOString(),
      );
      await approve(NODE_MEMORY, 'Approval: relieve-node');

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'cordon-node', state));

      // Assess
      expect(result).toEqual({ status: 'skipped', output: null });
      expect(tools['k8s.cordon'].calls).toHaveLength(0);
      expect(await outcomesOf('cordon-node')).toMatchObject([
        { status: 'skipped', reason: 'the alert resolved before any change was made; nothing changed' },
      ]);
    });

    it('finishes a plan it started when the alert resolves midway (the node cordoned gets its eviction)', async () => {
      // Prepare: the cordon is made, then the alert resolves
      await runTopPods();
      await approve(NODE_MEMORY, 'Approval: relieve-node');
      tools['k8s.cordon'].resolves({ node: 'ip-10-0-1-23', wasUnschedulable: false });
      await invoke(taskPayload(NODE_MEMORY, 'cordon-node', state));
      await harness.store.resolveIncident(
        state.alert.fingerprint,
        { ...state.alert, status: 'resolved', endsAt: harness.clock.now().toISOString() },
        harness.clock.now().toISOString(),
      );
      tools['k8s.evict-pod'].resolves({ evicted: true, alreadyGone: false, dryRun: false });

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'evict-heaviest-pod', state));

      // Assess
      expect(result).toMatchObject({ status: 'succeeded' });
      expect(tools['k8s.evict-pod'].calls).toHaveLength(1);
    });

    it('refuses a change at or above the approval threshold that nobody approved', async () => {
      // Prepare: an approval for another phase does not count
      await approve(NODE_MEMORY, 'Approval: restart-workload');

      // Act
      const act = invoke(taskPayload(NODE_MEMORY, 'cordon-node', state));

      // Assess
      expect(state.execution.approvalRiskThreshold).toBe(2);
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.SafetyBlocked,
        message: 'cordon-node (risk medium) needs an approval in prod and none was given',
      });
      expect(tools['k8s.cordon'].calls).toHaveLength(0);
    });

    it('runs a change whose phase was approved, with targets from earlier steps', async () => {
      // Prepare
      await runTopPods();
      await approve(NODE_MEMORY, 'Approval: restart-workload');
      tools['k8s.rollout-restart'].resolves({ restartedAt: '2026-11-25T10:01:30Z' });

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'restart-top-workload', state));

      // Assess
      expect(result).toEqual({ status: 'succeeded', output: null });
      expect(tools['k8s.rollout-restart'].calls[0]?.parameters).toEqual({
        namespace: 'checkout',
        kind: 'Deployment',
        name: 'checkout-api',
      });
      expect((await outcomesOf('restart-top-workload'))[0]).toMatchObject({
        status: 'succeeded',
        mutating: true,
        risk: 'medium',
        phase: 'restart-workload',
      });
    });

    it("audits a change's start and end with the execution read once, by the step itself", async () => {
      // Prepare
      await runTopPods();
      await approve(NODE_MEMORY, 'Approval: restart-workload');
      tools['k8s.rollout-restart'].resolves({ restartedAt: '2026-11-25T10:01:30Z' });
      const executionReads: string[] = [];
      harness.table.client.middlewareStack.add(
        (next, context) => (args) => {
          const key = (args.input as { Key?: { pk?: string; sk?: string } }).Key;
          if (context.commandName === 'GetItemCommand' && key?.sk === 'EXECUTION')
            executionReads.push(key.pk!);
          return next(args);
        },
        { step: 'initialize', name: 'executionReads' },
      );

      // Act
      await invoke(taskPayload(NODE_MEMORY, 'restart-top-workload', state));

      // Assess
      const { events } = await harness.audit.query({ execution: state.execution.id });
      const changes = events.filter(
        (event) => event.kind === 'change.started' || event.kind === 'change.finished',
      );
      expect(
        changes.map((event) => [event.kind, event.runbookId, event.incidentId, event.environment]),
      ).toEqual([
        ['change.started', NODE_MEMORY, state.execution.incidentId, state.execution.environment],
        ['change.finished', NODE_MEMORY, state.execution.incidentId, state.execution.environment],
      ]);
      expect(changes.every((event) => event.resourceKey?.startsWith('k8s-node/'))).toBe(true);
      expect(executionReads).toHaveLength(1);
    });

    it('runs a dry run: the tool is told, and the outcome says dry-run', async () => {
      // Prepare
      await approve(NODE_MEMORY, 'Approval: relieve-node');
      const dry = { ...state, execution: { ...state.execution, dryRun: true } };
      tools['k8s.cordon'].resolves({ wouldCordon: dry.alert.resource.id });

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'cordon-node', dry));

      // Assess
      expect(result).toEqual({ status: 'dry-run', output: null });
      expect(tools['k8s.cordon'].calls[0]?.context.dryRun).toBe(true);
      expect((await outcomesOf('cordon-node'))[0]).toMatchObject({ status: 'dry-run', dryRun: true });
    });

    it('lets a read-only step run under the kill switch and in a change freeze', async () => {
      // Prepare
      await engageKillSwitch();
      const frozen = { ...state, execution: { ...state.execution, changeFreeze: true } };
      tools['k8s.node-resources'].resolves(NODE_RESOURCES_OUTPUT);

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'node-resources', frozen));

      // Assess
      expect(result).toEqual({ status: 'succeeded', output: NODE_RESOURCES_OUTPUT });
    });
  });

  // -------------------------------------------------------------------------------------------------
  describe('compensations', () => {
    const scaleDown = {
      id: 'scale-down-batch',
      name: 'Scale the batch workers to zero',
      phase: 'relieve-node',
      type: 'remediation',
      tool: 'k8s.scale',
      parameters: { namespace: 'batch', name: 'report-workers', replicas: 0, cluster: 'prod-eks' },
      risk: 'medium',
      mutating: true,
      timeoutSeconds: 60,
    };
    /** The compensation the compiler emits for `compensation: auto` on a k8s.scale step. */
    const undoScaleDown = {
      compensates: 'scale-down-batch',
      tool: TOOL_CATALOG.get('k8s.scale')!.compensation!.tool,
      parameters: TOOL_CATALOG.get('k8s.scale')!.compensation!.parameters,
      timeoutSeconds: 120,
    };
    const compensatePayload = (compensation: Record<string, unknown>) => ({
      ...taskPayload(NODE_MEMORY, 'Compensate: cordon-node', state),
      compensation,
    });

    it('undoes a step with its recorded parameters and output, where it acted (its cluster)', async () => {
      // Prepare
      await approve(NODE_MEMORY, 'Approval: relieve-node');
      tools['k8s.scale'].resolves({ previousReplicas: 3, replicas: 0 });
      await invoke(withStep(taskPayload(NODE_MEMORY, 'cordon-node', state), scaleDown));
      tools['k8s.scale'].resolves({ previousReplicas: 0, replicas: 3 });

      // Act
      const result = await invoke(compensatePayload(undoScaleDown));

      // Assess
      expect(result).toEqual({ status: 'compensated' });
      expect(tools['k8s.scale'].calls.map((call) => call.parameters)).toEqual([
        { namespace: 'batch', kind: 'Deployment', name: 'report-workers', replicas: 0, cluster: 'prod-eks' },
        { namespace: 'batch', kind: 'Deployment', name: 'report-workers', replicas: 3, cluster: 'prod-eks' },
      ]);
      const compensation = (await outcomesOf('scale-down-batch')).find((o) => o.kind === 'compensation');
      expect(compensation).toMatchObject({
        kind: 'compensation',
        name: 'Undo Scale the batch workers to zero',
        status: 'compensated',
        attempt: 1,
        phase: 'relieve-node',
        parameters: { replicas: 3, cluster: 'prod-eks' },
      });
    });

    it('carries the region of the compensated step over to its compensation', async () => {
      // Prepare: the ALB runbook's add-capacity step and its compiled compensation
      const alb = await startExecution(
        normalizeCloudWatchAlarm(fixture('cloudwatch-alarm-alb-5xx.json'), harness.normalize),
      );
      await approve('alb-target-5xx', 'Approval: scale-out', alb);
      tools['autoscaling.set-desired-capacity'].resolves({ previousDesiredCapacity: 4, desiredCapacity: 8 });
      await invoke(taskPayload('alb-target-5xx', 'add-capacity', alb));

      // Act
      const result = await invoke(taskPayload('alb-target-5xx', 'Compensate: add-capacity', alb));

      // Assess
      expect(result).toEqual({ status: 'compensated' });
      const [step, undo] = tools['autoscaling.set-desired-capacity'].calls.map((call) => call.parameters);
      expect(step?.region).toBe(alb.alert.labels.region);
      expect(undo).toEqual({
        groupName: 'storefront-ecs-capacity',
        desiredCapacity: 4,
        honorCooldown: false,
        region: step?.region,
      });
    });

    it('skips, with a reason, a compensation of a step that never ran', async () => {
      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Compensate: cordon-node', state));

      // Assess
      expect(result).toEqual({ status: 'skipped', reason: 'nothing to undo: cordon-node did not run' });
      expect(tools['k8s.uncordon'].calls).toHaveLength(0);
      expect(await outcomesOf('cordon-node')).toMatchObject([
        { kind: 'compensation', status: 'skipped', reason: 'nothing to undo: cordon-node did not run' },
      ]);
    });

    it('skips a compensation of a step that failed before changing anything', async () => {
      // Prepare
      await approve(NODE_MEMORY, 'Approval: relieve-node');
      const broken = {
        ...scaleDown,
        parameters: { ...scaleDown.parameters, name: '{{ steps.nope.output.name }}' },
      };
      await expect(
        invoke(withStep(taskPayload(NODE_MEMORY, 'cordon-node', state), broken)),
      ).rejects.toMatchObject({ name: AslErrorName.InvalidParameters });

      // Act
      const result = await invoke(compensatePayload(undoScaleDown));

      // Assess
      expect(result).toEqual({
        status: 'skipped',
        reason: 'nothing to undo: scale-down-batch failed before changing anything',
      });
      expect(tools['k8s.scale'].calls).toHaveLength(0);
    });

    it('skips an undo built from the output of a step that failed without one (the target refused it)', async () => {
      // Prepare: the API refuses the scale, so the step reports no previous count to go back to
      await approve(NODE_MEMORY, 'Approval: relieve-node');
      tools['k8s.scale'].rejects(
        new ToolError(ToolErrorKind.Refused, 'k8s.scale: the admission webhook refused replicas 0'),
      );
      await expect(
        invoke(withStep(taskPayload(NODE_MEMORY, 'cordon-node', state), scaleDown)),
      ).rejects.toMatchObject({ name: AslErrorName.ToolRefused });

      // Act
      const result = await invoke(compensatePayload(undoScaleDown));

      // Assess: no attempt to scale back to a count nobody read, and no page for a failed rollback
      expect(result).toEqual({
        status: 'skipped',
        reason:
          'nothing to undo: scale-down-batch failed without reporting a change (Tool.Refused: step scale-down-batch: k8s.scale: the admission webhook refused replicas 0)',
      });
      expect(tools['k8s.scale'].calls).toHaveLength(1);
    });

    it('skips the undo of a change the safety checks refused (a freeze), leaving what a human did alone', async () => {
      // Prepare: the freeze refuses the cordon before the tool runs
      await expect(
        invoke(
          withStep(
            taskPayload(NODE_MEMORY, 'cordon-node', {
              ...state,
              execution: { ...state.execution, changeFreeze: true },
            }),
            scaleDown,
          ),
        ),
      ).rejects.toMatchObject({ name: AslErrorName.SafetyBlocked });

      // Act
      const result = await invoke(compensatePayload(undoScaleDown));

      // Assess
      expect(result).toMatchObject({
        status: 'skipped',
        reason: 'nothing to undo: scale-down-batch failed before changing anything',
      });
      expect(tools['k8s.scale'].calls).toHaveLength(0);
    });

    it('undoes a step left running by a function that died mid-change', async () => {
      // Prepare: the outcome says running, with the previous count the tool read first
      await harness.store.putStepOutcome({
        executionId: state.execution.id,
        stepId: 'scale-down-batch',
        kind: 'step',
        name: scaleDown.name,
        phase: 'relieve-node',
        tool: 'k8s.scale',
        mutating: true,
        risk: 'medium',
        attempt: 1,
        status: 'running',
        startedAt: harness.clock.now().toISOString(),
        parameters: { ...scaleDown.parameters, kind: 'Deployment' },
        output: { previousReplicas: 3 },
        dryRun: false,
      });
      tools['k8s.scale'].resolves({ previousReplicas: 0, replicas: 3 });

      // Act
      const result = await invoke(compensatePayload(undoScaleDown));

      // Assess
      expect(result).toEqual({ status: 'compensated' });
      expect(tools['k8s.scale'].calls.at(-1)?.parameters).toMatchObject({ replicas: 3 });
    });

    it('does not uncordon a node that was already cordoned before the runbook (a human did it)', async () => {
      // Prepare
      await approve(NODE_MEMORY, 'Approval: relieve-node');
      tools['k8s.cordon'].resolves({
        node: 'ip-10-0-1-23',
        unschedulable: true,
        wasUnschedulable: true,
        changed: false,
        dryRun: false,
      });
      await invoke(taskPayload(NODE_MEMORY, 'cordon-node', state));

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Compensate: cordon-node', state));

      // Assess
      expect(result).toMatchObject({
        status: 'skipped',
        reason: expect.stringMatching(/found it already so \(wasUnschedulable\)/),
      });
      expect(tools['k8s.uncordon'].calls).toHaveLength(0);
    });

    it('fails with Runbook.InvalidParameters, so the machine pages, when the output lacks what the undo needs', async () => {
      // Prepare: the scale call failed midway, so nobody knows the previous replica count
      await approve(NODE_MEMORY, 'Approval: relieve-node');
      tools['k8s.scale'].rejects(
        new Error('the server was unable to return a response in the time allotted'),
      );
      await expect(
        invoke(withStep(taskPayload(NODE_MEMORY, 'cordon-node', state), scaleDown)),
      ).rejects.toMatchObject({ name: AslErrorName.ToolFailed });

      // Act
      const act = invoke(compensatePayload(undoScaleDown));

      // Assess
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.InvalidParameters,
        message: expect.stringMatching(
          /^cannot undo scale-down-batch: replicas: \{\{ output\.previousReplicas \}\} has no value/,
        ),
      });
      expect(tools['k8s.scale'].calls).toHaveLength(1);
      const compensation = (await outcomesOf('scale-down-batch')).find((o) => o.kind === 'compensation');
      expect(compensation).toMatchObject({
        status: 'failed',
        error: { name: AslErrorName.InvalidParameters },
      });
    });

    it('undoes a change even after an operator asked to abort', async () => {
      // Prepare
      await approve(NODE_MEMORY, 'Approval: relieve-node');
      tools['k8s.cordon'].resolves({ cordoned: true });
      await invoke(taskPayload(NODE_MEMORY, 'cordon-node', state));
      await requestAbort();
      tools['k8s.uncordon'].does(async () => {
        // Several abort poll intervals (20 ms) pass while the undo runs.
        await new Promise((resolve) => setTimeout(resolve, 150));
        return { uncordoned: true };
      });

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Compensate: cordon-node', state));

      // Assess
      expect(result).toEqual({ status: 'compensated' });
      const [call] = tools['k8s.uncordon'].calls;
      expect(call?.parameters).toEqual({ node: state.alert.resource.id });
      expect(call?.context.signal.aborted).toBe(false);
    });
  });

  // -------------------------------------------------------------------------------------------------
  describe('checkpoints', () => {
    it('lets the execution pass, sending the task token back', async () => {
      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Checkpoint: diagnose', state, 'token-diagnose'));

      // Assess
      expect(result).toEqual({ held: false });
      const sent = harness.sfn.commandCalls(SendTaskSuccessCommand);
      expect(sent).toHaveLength(1);
      expect(sent[0]!.args[0].input.taskToken).toBe('token-diagnose');
      expect(JSON.parse(sent[0]!.args[0].input.output!)).toEqual({ passed: 'diagnose' });
      expect((await harness.store.getExecution(state.execution.id))?.currentState).toBe(
        'Checkpoint: diagnose',
      );
    });

    it('holds a paused execution with its token, and a release sends the token later', async () => {
      // Prepare
      await harness.store.updateExecution(state.execution.id, {
        control: { pauseRequested: true, abortRequested: false, requestedBy: 'bob@example.com' },
      });

      // Act
      const result = await invoke(
        taskPayload(NODE_MEMORY, 'Checkpoint: relieve-node', state, 'token-relieve'),
      );

      // Assess
      expect(result).toEqual({ held: true, reason: 'pause' });
      expect(harness.sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
      expect(await harness.store.getExecution(state.execution.id)).toMatchObject({
        status: 'paused',
        heldCheckpoint: { before: 'relieve-node', taskToken: 'token-relieve' },
      });

      // Act: resume
      await harness.store.updateExecution(state.execution.id, {
        control: { pauseRequested: false, abortRequested: false },
      });
      const released = await harness.services.checkpoints.release(state.execution.id);

      // Assess
      expect(released).toBe(true);
      const sent = harness.sfn.commandCalls(SendTaskSuccessCommand);
      expect(sent.map((call) => call.args[0].input.taskToken)).toEqual(['token-relieve']);
      expect(await harness.store.getExecution(state.execution.id)).toMatchObject({ status: 'running' });
    });

    it('fails with Runbook.Aborted when an abort was requested', async () => {
      // Prepare
      await requestAbort();

      // Act
      const act = invoke(taskPayload(NODE_MEMORY, 'Checkpoint: relieve-node', state));

      // Assess
      await expect(act).rejects.toMatchObject({
        name: AslErrorName.Aborted,
        message: 'aborted by alice@example.com before relieve-node',
      });
      expect(harness.sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    });

    it('holds the execution while the kill switch is engaged', async () => {
      // Prepare
      await engageKillSwitch();

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Checkpoint: relieve-node', state, 'token-ks'));

      // Assess
      expect(result).toEqual({ held: true, reason: 'kill-switch' });
      expect(harness.sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
      expect(harness.sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
      expect((await harness.store.getExecution(state.execution.id))?.heldCheckpoint?.taskToken).toBe(
        'token-ks',
      );
    });
  });

  // -------------------------------------------------------------------------------------------------
  describe('verify-alert', () => {
    it('succeeds once the incident is resolved', async () => {
      // Prepare
      const resolvedAt = harness.clock.now().toISOString();
      await harness.store.resolveIncident(
        state.alert.fingerprint,
        { ...state.alert, status: 'resolved', endsAt: resolvedAt },
        resolvedAt,
      );

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Verify: alert resolved', state));

      // Assess
      expect(result).toEqual({ resolved: true, resolvedAt });
      expect(await outcomesOf('verify-alert-resolved')).toMatchObject([
        { kind: 'check', status: 'succeeded', parameters: { withinSeconds: 600 } },
      ]);
    });

    it('stops waiting for the alert when an operator aborts: Runbook.Aborted, recorded aborted', async () => {
      // Prepare
      const payload = taskPayload(NODE_MEMORY, 'Verify: alert resolved', state);
      const abort = setTimeout(() => void requestAbort(), 50);

      // Act
      const aborted = await invoke(payload).catch((error: unknown) => error);
      clearTimeout(abort);

      // Assess
      expect(aborted).toMatchObject({
        name: AslErrorName.Aborted,
        message: 'aborted by alice@example.com while waiting for the alert to resolve',
      });
      expect(await outcomesOf('verify-alert-resolved')).toMatchObject([
        { status: 'aborted', error: { name: AslErrorName.Aborted } },
      ]);
    });

    it('asks to be retried while the alert fires within the window, and fails past it', async () => {
      // Prepare: time passes while the runner waits between looks (verifyPollSeconds is 1)
      const payload = taskPayload(NODE_MEMORY, 'Verify: alert resolved', state);
      const tick = setTimeout(() => harness.clock.advance(1_000), 50);

      // Act
      const pending = await invoke(payload).catch((error: unknown) => error);
      clearTimeout(tick);
      harness.clock.advance(600_000);
      const failed = await invoke(payload).catch((error: unknown) => error);

      // Assess
      expect(pending).toMatchObject({
        name: AslErrorName.VerificationPending,
        message: expect.stringMatching(/still firing; 599s left/),
      });
      expect(failed).toMatchObject({
        name: AslErrorName.VerificationFailed,
        message: expect.stringMatching(
          /KubeNodeMemoryPressure is still firing 601s after verification began \(limit 600s\)/,
        ),
      });
      expect(
        (await outcomesOf('verify-alert-resolved')).map(({ attempt, status }) => ({ attempt, status })),
      ).toEqual([
        { attempt: 1, status: 'running' },
        { attempt: 2, status: 'failed' },
      ]);
    });

    it('shortens the window by the wait scale, as the waits are, to no less than 30 s (the embedded platform)', async () => {
      // Prepare: the same execution on a runner whose waits are scaled by 1/60 (600 s → 10 s, so 30 s)
      await harness.stop();
      harness = await startAwsHarness({ tools: Object.values(tools), waitScale: 1 / 60 });
      handler = createStepRunnerHandler({ runner: harness.services.runner, logger: harness.logger });
      const [alert] = normalizeAlertmanager(
        fixture('alertmanager-node-memory-pressure.json'),
        harness.normalize,
      );
      state = await startExecution(alert!);
      const payload = taskPayload(NODE_MEMORY, 'Verify: alert resolved', state);
      const tick = setTimeout(() => harness.clock.advance(1_000), 50);

      // Act
      const pending = await invoke(payload).catch((error: unknown) => error);
      clearTimeout(tick);
      harness.clock.advance(30_000);
      const failed = await invoke(payload).catch((error: unknown) => error);

      // Assess
      expect(pending).toMatchObject({
        name: AslErrorName.VerificationPending,
        message: expect.stringMatching(/still firing; 29s left/),
      });
      expect(failed).toMatchObject({
        name: AslErrorName.VerificationFailed,
        message: expect.stringMatching(
          /still firing 31s after verification began \(limit 30s: 600s × wait scale 0\.0167, at least 30s\)/,
        ),
      });
      expect(await outcomesOf('verify-alert-resolved')).toMatchObject([
        { status: 'running', parameters: { withinSeconds: 600, scale: 1 / 60 } },
        { status: 'failed', parameters: { withinSeconds: 600, scale: 1 / 60 } },
      ]);
    });
  });

  // -------------------------------------------------------------------------------------------------
  describe('escalate', () => {
    const failedWith = (error: string, extra: Record<string, unknown> = {}) => ({
      ...state,
      failure: { Error: error, Cause: `${error} in ${state.execution.id}` },
      ...extra,
    });

    it('notifies the targets of the trigger that matches the failure', async () => {
      // Act
      const result = await invoke(
        taskPayload(NODE_MEMORY, 'Escalate', failedWith(AslErrorName.ApprovalRejected)),
      );

      // Assess
      expect(result).toEqual({ event: 'approval-rejected', targets: ['sre-ticket'], severity: 'ticket' });
      const published = harness.sns.commandCalls(PublishCommand);
      expect(published).toHaveLength(1);
      const input = published[0]!.args[0].input;
      expect(input).toMatchObject({
        TopicArn: ESCALATIONS_TOPIC,
        Subject: `[ticket] node-memory-pressure: approval rejected on ${state.alert.resource.id}`,
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'escalation' },
          recipient: { DataType: 'String.Array', StringValue: JSON.stringify(['tickets@example.com']) },
          severity: { DataType: 'String', StringValue: 'ticket' },
          executionId: { DataType: 'String', StringValue: state.execution.id },
        },
      });
      expect(input.Message).toContain(`What happened: ${AslErrorName.ApprovalRejected}`);
      expect(input.Message).toContain(
        `https://autopilot.example.com/executions/${encodeURIComponent(state.execution.id)}`,
      );
    });

    it('sends an event no trigger covers to the default target', async () => {
      // Act: the compiled triggers do not cover an abort
      const result = await invoke(taskPayload(NODE_MEMORY, 'Escalate', failedWith(AslErrorName.Aborted)));

      // Assess
      expect(result).toEqual({ event: 'aborted', targets: ['default'], severity: 'ticket' });
      const input = harness.sns.commandCalls(PublishCommand)[0]!.args[0].input;
      expect(input.MessageAttributes?.recipient).toEqual({
        DataType: 'String.Array',
        StringValue: JSON.stringify(['oncall@example.com']),
      });
    });

    it('pages when the rollback failed', async () => {
      // Prepare
      const machine = failedWith(AslErrorName.ToolFailed, {
        rollbackError: {
          Error: AslErrorName.StepTimeout,
          Cause: 'compensation of cordon-node timed out after 120s',
        },
      });
      const uncovered = { ...taskPayload(NODE_MEMORY, 'Escalate', machine), triggers: [] };

      // Act
      const matched = await invoke(taskPayload(NODE_MEMORY, 'Escalate', machine));
      const unmatched = await invoke(uncovered);

      // Assess
      expect(matched).toEqual({ event: 'rollback-failed', targets: ['sre-pager'], severity: 'page' });
      expect(unmatched).toEqual({ event: 'rollback-failed', targets: ['default'], severity: 'page' });
      const [first] = harness.sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
      expect(first?.Subject).toMatch(/^\[page\] node-memory-pressure: rollback failed on /);
      expect(first?.Message).toContain('Rollback failed: Runbook.StepTimeout — compensation of cordon-node');
    });

    it('lets an SNS failure propagate, for the machine to catch', async () => {
      // Prepare
      harness.sns
        .on(PublishCommand)
        .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' }));

      // Act
      const act = invoke(taskPayload(NODE_MEMORY, 'Escalate', failedWith(AslErrorName.ToolFailed)));

      // Assess
      await expect(act).rejects.toMatchObject({
        name: 'NotificationError',
        message: expect.stringContaining(ESCALATIONS_TOPIC),
      });
    });
  });

  // -------------------------------------------------------------------------------------------------
  describe('record', () => {
    const slot = concurrencySlotKey(NODE_MEMORY);

    it('records a success: time to recover, recorded outputs, approvals, and gives the slot back', async () => {
      // Prepare
      tools['k8s.node-resources'].resolves(NODE_RESOURCES_OUTPUT);
      await invoke(taskPayload(NODE_MEMORY, 'node-resources', state));
      await runTopPods();
      await approve(NODE_MEMORY, 'Approval: restart-workload');
      expect(await harness.store.acquireSlot(slot, 'another-execution', 1)).toBe(false);

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Record success', state));

      // Assess
      expect(result).toEqual({ recorded: true, status: 'succeeded' });
      const now = harness.clock.now();
      expect(await harness.store.getExecution(state.execution.id)).toMatchObject({
        status: 'succeeded',
        stoppedAt: now.toISOString(),
        currentState: 'Succeeded',
        outcome: {
          status: 'succeeded',
          rolledBack: false,
          rollbackFailed: false,
          escalated: false,
          humanIntervention: true,
          approvals: 1,
          approvalWaitMs: 90_000,
          timeToRecoverMs: now.getTime() - Date.parse(state.alert.startsAt),
          recordedOutputs: {
            'steps.top-pods.output.pods[0].ownerName': 'checkout-api',
            'steps.node-resources.output.usage.memoryPercent': 94,
          },
        },
      });
      expect(await harness.store.acquireSlot(slot, 'another-execution', 1)).toBe(true);
    });

    it('records a failure that was rolled back, whose rollback failed in part, and was escalated', async () => {
      // Prepare
      await approve(NODE_MEMORY, 'Approval: relieve-node');
      await invoke(taskPayload(NODE_MEMORY, 'cordon-node', state));
      await invoke(taskPayload(NODE_MEMORY, 'Compensate: cordon-node', state));
      const machine = {
        ...state,
        failure: { Error: AslErrorName.ToolFailed, Cause: 'step evict-heaviest-pod: PDB forbids eviction' },
        rollbackError: { Error: AslErrorName.ToolFailed, Cause: 'notify-rollback failed' },
        escalation: { event: 'rollback-failed', targets: ['sre-pager'], severity: 'page' },
      };

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Record failure', machine));

      // Assess
      expect(result).toEqual({ recorded: true, status: 'failed' });
      const record = await harness.store.getExecution(state.execution.id);
      expect(record).toMatchObject({ status: 'failed', currentState: 'Failed' });
      expect(record?.outcome).toEqual({
        status: 'failed',
        error: AslErrorName.ToolFailed,
        cause: 'step evict-heaviest-pod: PDB forbids eviction',
        rolledBack: true,
        rollbackFailed: true,
        escalated: true,
        humanIntervention: true,
        approvals: 1,
        approvalsAnswered: 1,
        approvalWaitMs: 90_000,
        recordedOutputs: {},
      });
      expect(await harness.store.acquireSlot(slot, 'another-execution', 1)).toBe(true);
    });

    it('records an aborted execution as aborted, with a human involved', async () => {
      // Prepare
      await requestAbort();
      const machine = {
        ...state,
        failure: { Error: AslErrorName.Aborted, Cause: 'aborted by alice@example.com before relieve-node' },
      };

      // Act
      const result = await invoke(taskPayload(NODE_MEMORY, 'Record failure', machine));

      // Assess
      expect(result).toEqual({ recorded: true, status: 'aborted' });
      expect(await harness.store.getExecution(state.execution.id)).toMatchObject({
        status: 'aborted',
        outcome: {
          status: 'aborted',
          error: AslErrorName.Aborted,
          rolledBack: false,
          escalated: false,
          humanIntervention: true,
          approvals: 0,
        },
      });
      expect(await harness.store.acquireSlot(slot, 'another-execution', 1)).toBe(true);
    });
  });

  // -------------------------------------------------------------------------------------------------
  describe('malformed payloads', () => {
    const cases: Array<[string, () => unknown, RegExp]> = [
      [
        'a step without its timeout',
        () => {
          const payload = taskPayload(NODE_MEMORY, 'node-resources', state);
          delete payload.step?.timeoutSeconds;
          return payload;
        },
        /step\.timeoutSeconds/,
      ],
      [
        'a step with an unknown risk',
        () => withStep(taskPayload(NODE_MEMORY, 'cordon-node', state), { risk: 'extreme' }),
        /step\.risk/,
      ],
      [
        'a compensation without its tool',
        () => {
          const payload = taskPayload(NODE_MEMORY, 'Compensate: cordon-node', state);
          delete (payload.compensation as Record<string, unknown>).tool;
          return payload;
        },
        /compensation\.tool/,
      ],
      [
        'a checkpoint without a task token',
        () => ({ ...taskPayload(NODE_MEMORY, 'Checkpoint: diagnose', state), taskToken: '' }),
        /taskToken/,
      ],
      [
        'a verify-alert with a window of 0 s',
        () => ({ ...taskPayload(NODE_MEMORY, 'Verify: alert resolved', state), withinSeconds: 0 }),
        /withinSeconds/,
      ],
      [
        'an escalate with an unknown trigger event',
        () => {
          const payload = taskPayload(NODE_MEMORY, 'Escalate', state);
          (payload.triggers as Array<{ on: string[] }>)[0]!.on = ['meteor-strike'];
          return payload;
        },
        /triggers\[0\]\.on\[0\]/,
      ],
      [
        'a record with an unknown outcome',
        () => ({ ...taskPayload(NODE_MEMORY, 'Record success', state), outcome: 'maybe' }),
        /outcome/,
      ],
      [
        'a step whose execution lacks its id',
        () => {
          const payload = taskPayload(NODE_MEMORY, 'node-resources', state);
          delete (payload.execution as Record<string, unknown>).id;
          return payload;
        },
        /execution\.id/,
      ],
      ['an unknown kind of task', () => ({ ...state, kind: 'reboot-everything' }), /kind/],
    ];

    it.each(cases)('rejects %s naming the field, and writes nothing', async (_what, build, field) => {
      // Prepare
      const payload = build();
      const before = await harness.store.getExecution(state.execution.id);

      // Act
      const error = await invoke(payload).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(InvalidEventError);
      expect((error as Error).message).toMatch(field);
      expect((error as Error).stack).not.toContain('\n');
      expect(await harness.store.listStepOutcomes(state.execution.id)).toEqual([]);
      expect(await harness.store.getExecution(state.execution.id)).toEqual(before);
      expect(Object.values(tools).flatMap((tool) => tool.calls)).toEqual([]);
      expect(harness.sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
      expect(harness.sns.commandCalls(PublishCommand)).toHaveLength(0);
    });
  });
});

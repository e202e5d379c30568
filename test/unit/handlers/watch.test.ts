import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoWatchStore } from '../../../functions/adapters/aws/dynamo-watch.ts';
import { normalizeAlertmanager } from '../../../functions/core/classifier/normalize.ts';
import { RuntimeConfig } from '../../../functions/core/config.ts';
import { AslErrorName } from '../../../functions/core/errors.ts';
import type { ExecutionInput, StepSpec, WatchSignal } from '../../../functions/core/execution-contract.ts';
import { StepRunner } from '../../../functions/core/services/step-runner.ts';
import { HealthWatcher } from '../../../functions/core/watch/health-watch.ts';
import { StuckStepWatchdog } from '../../../functions/core/watch/stuck-step.ts';
import { createStepRunnerHandler } from '../../../functions/handlers/step-runner.ts';
import type { ToolContext, ToolImplementation } from '../../../functions/ports/tools.ts';
import { TOOL_CATALOG } from '../../../functions/tools/declarations.ts';
import { contractLearningAggregate } from '../../contract/store.contract.ts';
import {
  type AwsHarness,
  ESCALATIONS_TOPIC,
  lambdaContext,
  startAwsHarness,
  TEST_CONFIG,
  toolRegistry,
} from '../../support/aws-harness.ts';
import { ROOT } from '../../support/runbooks.ts';

/**
 * Watching a running execution in the AWS wiring: the step runner Lambda's handler with the real
 * DynamoDB adapters on dynalite and the SNS adapter whose client aws-sdk-client-mock answers. The same
 * core runs embedded (test/e2e/watch.test.ts); here the Lambda's own deadline, the escalations topic
 * and dry runs are what is checked.
 */

type Behaviour = (parameters: Record<string, unknown>, context: ToolContext) => Promise<unknown>;

function tool(name: string, behaviour: Behaviour): ToolImplementation & { calls: number } {
  const declaration = TOOL_CATALOG.get(name)!;
  const double = {
    declaration,
    calls: 0,
    run: (parameters: Record<string, unknown>, context: ToolContext) => {
      double.calls++;
      return behaviour(parameters, context);
    },
  };
  return double;
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

const NODE = 'ip-10-0-1-23.eu-west-1.compute.internal';
/** The watched signal: the node's memory use, worse when it rises by more than 5 points. */
const MEMORY: WatchSignal = {
  check: 'pressure-cleared',
  name: 'The node has no memory pressure',
  tool: 'k8s.node-resources',
  parameters: { node: '{{ alert.labels.node }}' },
  timeoutSeconds: 30,
  fact: 'steps.pressure-cleared.output.usage.memoryPercent',
  worseWhen: 'increases',
  margin: 5,
  everySeconds: 1,
};
const CORDON: StepSpec = {
  id: 'cordon-node',
  name: 'Cordon the node',
  phase: 'relieve-node',
  type: 'remediation',
  tool: 'k8s.cordon',
  parameters: { node: '{{ alert.labels.node }}' },
  risk: 'low',
  mutating: true,
  timeoutSeconds: 30,
  outputBudgetBytes: 0,
};
const DIAGNOSIS: StepSpec = {
  id: 'node-resources',
  name: 'Node conditions, capacity and usage',
  phase: 'diagnose',
  type: 'diagnostic',
  tool: 'k8s.node-resources',
  parameters: { node: '{{ alert.labels.node }}' },
  risk: 'low',
  mutating: false,
  timeoutSeconds: 1,
  outputBudgetBytes: 0,
};

describe('watching an execution in the step runner Lambda', () => {
  let harness: AwsHarness;
  let state: ExecutionInput;
  let memoryPercent: number;
  const nodeResources = tool('k8s.node-resources', async () => ({
    node: NODE,
    conditions: { MemoryPressure: true, Ready: true },
    usage: { memoryPercent, cpuPercent: 40 },
  }));
  const cordon = tool('k8s.cordon', async () => ({ node: NODE, changed: true, dryRun: false }));

  async function runnerWith(
    config: Partial<RuntimeConfig> = {},
    implementations: ToolImplementation[] = [nodeResources, cordon],
  ) {
    const watch = new DynamoWatchStore({
      client: harness.table.client,
      tableName: harness.table.tableName,
      retentionDays: 30,
    });
    const runtime = RuntimeConfig.parse({ ...TEST_CONFIG, ...config });
    const tools = toolRegistry(implementations);
    const runner = new StepRunner({
      store: harness.store,
      engine: harness.engine,
      tools,
      clock: harness.clock,
      logger: harness.logger,
      config: runtime,
      checkpoints: harness.services.checkpoints,
      escalations: harness.services.escalations,
      records: harness.services.records,
      audit: harness.audit,
      abortPollMs: 20,
      verifyPollSeconds: 2,
      health: new HealthWatcher({
        store: harness.store,
        watch,
        tools,
        clock: harness.clock,
        logger: harness.logger,
        audit: harness.audit,
      }),
      stuckSteps: new StuckStepWatchdog({
        store: harness.store,
        watch,
        notifier: harness.notifier,
        clock: harness.clock,
        logger: harness.logger,
        config: runtime,
        audit: harness.audit,
      }),
    });
    return { handler: createStepRunnerHandler({ runner, logger: harness.logger }), watch };
  }

  beforeEach(async () => {
    memoryPercent = 60;
    nodeResources.calls = 0;
    cordon.calls = 0;
    harness = await startAwsHarness();
    const body = JSON.parse(
      readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
    );
    const [alert] = normalizeAlertmanager(body, harness.normalize);
    expect((await harness.services.classifier.classify(alert!)).decision).toBe('started');
    state = JSON.parse(
      harness.sfn.commandCalls(StartExecutionCommand).at(-1)!.args[0].input.input!,
    ) as ExecutionInput;
    harness.sns.resetHistory();
  });
  afterEach(() => harness.stop());

  const stepPayload = (step: StepSpec, execution = state.execution) => ({
    kind: 'step',
    execution,
    alert: state.alert,
    step,
    watch: { signals: [MEMORY] },
  });
  const verifyPayload = (execution = state.execution) => ({
    kind: 'verify-alert',
    execution,
    alert: state.alert,
    withinSeconds: 600,
    watch: { signals: [MEMORY] },
  });

  it('reads the baseline before the change, then stops the verification as soon as memory use rose past the margin', async () => {
    // Prepare
    const { handler, watch } = await runnerWith();

    // Act: the cordon reads the baseline (60%); memory use then rises to 71% while the alert fires
    await handler(stepPayload(CORDON), lambdaContext());
    memoryPercent = 71;
    const verify = handler(verifyPayload(), lambdaContext(120_000));

    // Assess
    await expect(verify).rejects.toMatchObject({
      name: AslErrorName.HealthWorse,
      message: expect.stringMatching(
        /^health signal steps\.pressure-cleared\.output\.usage\.memoryPercent rose from 60 before the first change to 71, 0s into the verification \(which waits up to 600s for the alert\)/,
      ),
    });
    expect(await watch.getBaseline(state.execution.id)).toMatchObject({
      beforeStep: 'cordon-node',
      readings: [{ check: 'pressure-cleared', value: 60 }],
    });
    const verification = (await harness.store.listStepOutcomes(state.execution.id)).find(
      (outcome) => outcome.stepId === 'verify-alert-resolved',
    );
    expect(verification).toMatchObject({ status: 'failed', error: { name: AslErrorName.HealthWorse } });
  });

  it('lets a change go on within the margin, and refuses a later change once a signal got worse', async () => {
    // Prepare
    const { handler } = await runnerWith();
    await handler(stepPayload(CORDON), lambdaContext());

    // Act
    memoryPercent = 64;
    const within = await handler(stepPayload({ ...CORDON, id: 'cordon-again' }), lambdaContext());
    memoryPercent = 90;
    const worse = handler(stepPayload({ ...CORDON, id: 'cordon-third' }), lambdaContext());

    // Assess
    expect(within).toMatchObject({ status: 'succeeded' });
    await expect(worse).rejects.toMatchObject({ name: AslErrorName.HealthWorse });
    expect(cordon.calls).toBe(2);
    const refused = (await harness.store.listStepOutcomes(state.execution.id)).find(
      (outcome) => outcome.stepId === 'cordon-third',
    );
    expect(refused).toMatchObject({
      status: 'failed',
      error: {
        name: AslErrorName.HealthWorse,
        message: expect.stringContaining('to 90, before cordon-third'),
      },
    });
  });

  it('watches nothing in a dry run: nothing changes there', async () => {
    // Prepare
    const { handler, watch } = await runnerWith();
    const dry = { ...state.execution, dryRun: true };

    // Act
    await handler(stepPayload(CORDON, dry), lambdaContext());

    // Assess
    expect(await watch.getBaseline(state.execution.id)).toBeUndefined();
    expect(nodeResources.calls).toBe(0);
  });

  it("reads a runbook's learned step statistics at most once a minute, and sees new ones after", async () => {
    // Prepare
    const { watch } = await runnerWith();
    const watchdog = new StuckStepWatchdog({
      store: harness.store,
      watch,
      notifier: harness.notifier,
      clock: harness.clock,
      logger: harness.logger,
      config: harness.config,
    });
    const reads: string[] = [];
    harness.table.client.middlewareStack.add(
      (next, context) => (args) => {
        const key = (args.input as { Key?: { pk?: string; sk?: string } }).Key;
        if (context.commandName === 'GetItemCommand' && key?.pk === 'LEARNING') reads.push(key.sk!);
        return next(args);
      },
      { step: 'initialize', name: 'learningReads' },
    );
    const learned = (p99DurationMs: number) =>
      contractLearningAggregate({
        runbookId: state.execution.runbookId,
        steps: [
          {
            stepId: DIAGNOSIS.id,
            runs: 20,
            failures: 0,
            skipped: 0,
            meanDurationMs: 1_000,
            p90DurationMs: 2_000,
            p99DurationMs,
          },
        ],
      });
    await harness.store.putLearningAggregate(learned(90_000));

    // Act
    const first = await watchdog.thresholdFor(state.execution, DIAGNOSIS);
    await harness.store.putLearningAggregate(learned(120_000));
    const withinTheMinute = await watchdog.thresholdFor(state.execution, DIAGNOSIS);
    harness.clock.advance(61_000);
    const afterIt = await watchdog.thresholdFor(state.execution, DIAGNOSIS);

    // Assess
    expect([first?.p99Ms, withinTheMinute?.p99Ms, afterIt?.p99Ms]).toEqual([90_000, 90_000, 120_000]);
    expect(reads).toHaveLength(2);
  });

  it('pauses the execution and publishes a page to the escalations topic when a step runs its whole timeout without history', async () => {
    // Prepare: node-resources has no statistics; its tool hangs
    const slow = tool('k8s.node-resources', (_parameters, context) => untilAborted(context.signal));
    const { handler, watch } = await runnerWith({}, [slow, cordon]);

    // Act
    const act = handler(
      { kind: 'step', execution: state.execution, alert: state.alert, step: DIAGNOSIS },
      lambdaContext(),
    );

    // Assess
    await expect(act).rejects.toMatchObject({ name: AslErrorName.StepTimeout });
    const execution = await harness.store.getExecution(state.execution.id);
    expect(execution?.control).toMatchObject({
      pauseRequested: true,
      requestedBy: 'stuck-step-watchdog',
      reason:
        'step node-resources (k8s.node-resources) has been running 0.0s, past its timeout of 1.0s (no history of this step yet)',
    });
    const pages = harness.sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
    expect(pages).toHaveLength(1);
    expect(pages[0]).toMatchObject({
      TopicArn: ESCALATIONS_TOPIC,
      Subject: expect.stringContaining('step node-resources stuck'),
    });
    expect(
      await watch.claimStuck(state.execution.id, 'node-resources', 1, harness.clock.now().toISOString()),
    ).toBe(false);
    const pause = (await harness.audit.query({ execution: state.execution.id })).events.find(
      (event) => event.kind === 'override.pause',
    );
    expect(pause).toMatchObject({ actor: { type: 'system', id: 'stuck-step-watchdog' }, result: 'accepted' });
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoAutomationStore } from '../../../../functions/adapters/aws/dynamo-automation-store.ts';
import { DynamoStore } from '../../../../functions/adapters/aws/dynamo-store.ts';
import { AutomationService } from '../../../../functions/core/automation/service.ts';
import { RuntimeConfig } from '../../../../functions/core/config.ts';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type {
  ExecutionContext,
  StepSpec,
  TaskPayload,
} from '../../../../functions/core/execution-contract.ts';
import { CheckpointService } from '../../../../functions/core/services/checkpoint.ts';
import { EscalationService } from '../../../../functions/core/services/escalation.ts';
import { RecordService } from '../../../../functions/core/services/record.ts';
import { StepRunner } from '../../../../functions/core/services/step-runner.ts';
import type { ExecutionEngine } from '../../../../functions/ports/execution-engine.ts';
import type { ToolContext, ToolImplementation } from '../../../../functions/ports/tools.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { contractAlert, contractExecution, contractIncident } from '../../../contract/store.contract.ts';
import { type DynaliteTable, startDynalite } from '../../../support/dynalite.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

/**
 * The step runner enforces the level an execution started with, whatever else its payload says: at
 * observe and shadow a change's tool only ever runs as its dry run; at approve a change without an
 * approval is refused before its tool runs; a change the kill switch caught mid-way is a safety incident.
 */

const RUNBOOK = loadRunbook('test/fixtures/runbooks/automation/automation-scale.yaml');
const logger = { debug() {}, info() {}, warn() {}, error() {} };

let table: DynaliteTable;
let store: DynamoStore;
let automationStore: DynamoAutomationStore;

/** The real k8s.scale declaration with a run the test records (the simulated target's stand-in). */
class RecordingScale implements ToolImplementation {
  readonly declaration = TOOL_CATALOG.get('k8s.scale')!;
  readonly calls: Array<{ parameters: Record<string, unknown>; dryRun: boolean }> = [];
  onRun: () => Promise<void> = async () => undefined;
  async run(parameters: Record<string, unknown>, context: ToolContext) {
    this.calls.push({ parameters, dryRun: context.dryRun });
    await this.onRun();
    return {
      previousReplicas: 1,
      replicas: parameters.replicas,
      ...(context.dryRun ? { dryRun: true } : {}),
    };
  }
}

const engine: ExecutionEngine = {
  start: async () => {
    throw new Error('not started here');
  },
  stop: async () => undefined,
  describe: async () => undefined,
  sendTaskSuccess: async () => undefined,
  sendTaskFailure: async () => undefined,
};

function runnerWith(scale: RecordingScale) {
  const config = RuntimeConfig.parse({
    environment: 'staging',
    publicBaseUrl: 'http://127.0.0.1:8787/',
    escalationTargets: { default: ['oncall@example.com'] },
  });
  const clock = { now: () => new Date() };
  const automation = new AutomationService({
    store,
    automation: automationStore,
    notifier: { send: async () => undefined },
    clock,
    logger,
    config,
    runbooks: () => [RUNBOOK],
  });
  return new StepRunner({
    store,
    engine,
    tools: { get: (name) => (name === 'k8s.scale' ? scale : undefined), names: () => ['k8s.scale'] },
    clock,
    logger,
    config,
    checkpoints: new CheckpointService({ store, engine, clock, logger }),
    escalations: new EscalationService({ notifier: { send: async () => undefined }, clock, logger, config }),
    records: new RecordService({ store, clock, logger }),
    automation,
    abortPollMs: 50,
  });
}

const SCALE: StepSpec = {
  id: 'scale-up',
  name: 'Scale to three replicas',
  phase: 'scale',
  type: 'remediation',
  tool: 'k8s.scale',
  parameters: { namespace: 'shop', name: 'web', replicas: 3 },
  risk: 'medium',
  mutating: true,
  timeoutSeconds: 30,
  outputBudgetBytes: 0,
};

function context(overrides: Partial<ExecutionContext>): ExecutionContext {
  return {
    id: 'exec-0001',
    runbookId: RUNBOOK.id,
    runbookVersion: RUNBOOK.version,
    incidentId: 'inc-0001',
    environment: 'staging',
    dryRun: false,
    approvalRiskThreshold: 3,
    changeFreeze: false,
    startedAt: '2026-11-01T00:00:00.000Z',
    ...overrides,
  };
}

function stepTask(execution: ExecutionContext): TaskPayload {
  return { kind: 'step', execution, alert: contractAlert({ environment: 'staging' }), step: SCALE };
}

beforeEach(async () => {
  table = await startDynalite();
  store = new DynamoStore({ client: table.client, tableName: table.tableName, retentionDays: 30 });
  automationStore = new DynamoAutomationStore({
    client: table.client,
    tableName: table.tableName,
    retentionDays: 30,
  });
  await store.openIncident(contractIncident());
  await store.createExecution(contractExecution({ runbookId: RUNBOOK.id }));
});

afterEach(async () => {
  await table.stop();
});

describe('the step runner enforces the automation level', () => {
  it.each(['shadow', 'observe'] as const)(
    'at %s, a change runs only as its dry run, even from a payload that says otherwise',
    async (automationLevel) => {
      // Prepare: a payload that claims a real run at a level that makes every change a dry run
      const scale = new RecordingScale();
      const runner = runnerWith(scale);

      // Act
      const result = await runner.handle(stepTask(context({ automationLevel, dryRun: false })));
      const outcomes = await store.listStepOutcomes('exec-0001');

      // Assess: the target was only ever asked for a dry run
      expect(scale.calls).toEqual([{ parameters: expect.objectContaining({ replicas: 3 }), dryRun: true }]);
      expect(result).toEqual({ status: 'dry-run', output: null });
      expect(outcomes.at(-1)).toMatchObject({ stepId: 'scale-up', status: 'dry-run', dryRun: true });
    },
  );

  it('at approve, a change no approval covers is refused before its tool runs', async () => {
    // Prepare
    const scale = new RecordingScale();
    const runner = runnerWith(scale);

    // Act
    const refused = runner.handle(stepTask(context({ automationLevel: 'approve' })));

    // Assess
    await expect(refused).rejects.toMatchObject({
      name: AslErrorName.SafetyBlocked,
      message: expect.stringContaining(
        'runs at automation level approve in staging, so every change needs an approval',
      ),
    });
    expect(scale.calls).toEqual([]);
  });

  it('at autonomous the change runs; caught mid-way by the kill switch, it is a safety incident', async () => {
    // Prepare: the kill switch is engaged while the change runs
    const scale = new RecordingScale();
    scale.onRun = () =>
      store.setKillSwitch({
        engaged: true,
        changedBy: 'dana@example.com',
        changedAt: new Date().toISOString(),
      });
    const runner = runnerWith(scale);

    // Act
    const result = await runner.handle(stepTask(context({ automationLevel: 'autonomous' })));
    const incidents = await automationStore.listSafetyIncidents('staging', '2020-01-01T00:00:00.000Z');

    // Assess
    expect(scale.calls).toEqual([{ parameters: expect.anything(), dryRun: false }]);
    expect(result).toEqual({ status: 'succeeded', output: null });
    expect(incidents).toEqual([
      expect.objectContaining({
        kind: 'change-under-kill-switch',
        executionId: 'exec-0001',
        stepId: 'scale-up',
        tool: 'k8s.scale',
        description: expect.stringContaining('when the kill switch was engaged by dana@example.com'),
      }),
    ]);
  });

  it('a compensation that fails is a safety incident (a change may still be in place)', async () => {
    // Prepare: the change ran, its undo fails
    const scale = new RecordingScale();
    const runner = runnerWith(scale);
    await runner.handle(stepTask(context({ automationLevel: 'autonomous' })));
    scale.onRun = async () => {
      throw new Error('the API server refused the patch');
    };

    const compensate = () =>
      runner.handle({
        kind: 'compensate',
        execution: context({ automationLevel: 'autonomous' }),
        alert: contractAlert({ environment: 'staging' }),
        compensation: {
          compensates: 'scale-up',
          tool: 'k8s.scale',
          parameters: {
            namespace: '{{ parameters.namespace }}',
            name: '{{ parameters.name }}',
            replicas: '{{ output.previousReplicas }}',
          },
          timeoutSeconds: 30,
        },
      });

    // Act: the undo and the state machine's retry of it both fail
    const undo = compensate();
    await expect(undo).rejects.toMatchObject({ name: AslErrorName.ToolFailed });
    const retried = compensate();

    // Assess: one change left in place, one safety incident (not one per attempt)
    await expect(retried).rejects.toMatchObject({ name: AslErrorName.ToolFailed });
    expect(await automationStore.listSafetyIncidents('staging', '2020-01-01T00:00:00.000Z')).toEqual([
      expect.objectContaining({
        kind: 'compensation-failed',
        stepId: 'scale-up',
        description: expect.stringContaining('the API server refused the patch'),
      }),
    ]);
  });
});

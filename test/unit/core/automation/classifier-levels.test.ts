import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoAutomationStore } from '../../../../functions/adapters/aws/dynamo-automation-store.ts';
import { DynamoStore } from '../../../../functions/adapters/aws/dynamo-store.ts';
import type { AutomationLevel } from '../../../../functions/core/automation/levels.ts';
import { AutomationService } from '../../../../functions/core/automation/service.ts';
import { RunbookSelector } from '../../../../functions/core/classifier/select.ts';
import { RuntimeConfig } from '../../../../functions/core/config.ts';
import type { Runbook } from '../../../../functions/core/runbook/model.ts';
import { ClassifierService } from '../../../../functions/core/services/classifier.ts';
import type { ExecutionEngine, StartExecutionRequest } from '../../../../functions/ports/execution-engine.ts';
import { contractAlert } from '../../../contract/store.contract.ts';
import { type DynaliteTable, startDynalite } from '../../../support/dynalite.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

/**
 * The classifier fixes an execution's level when it starts: the lowest of the runbook's ceiling, the
 * environment's default and the stored level, in the context both runtimes enforce.
 */

const FIXTURE = loadRunbook('test/fixtures/runbooks/automation/automation-scale.yaml');
const logger = { debug() {}, info() {}, warn() {}, error() {} };

let table: DynaliteTable;
let store: DynamoStore;

beforeEach(async () => {
  table = await startDynalite();
  store = new DynamoStore({ client: table.client, tableName: table.tableName, retentionDays: 30 });
});

afterEach(async () => {
  await table.stop();
});

async function classify(ceiling: AutomationLevel | undefined, defaultLevel: AutomationLevel) {
  const runbook: Runbook = ceiling ? { ...FIXTURE, automation: { ceiling } } : FIXTURE;
  const config = RuntimeConfig.parse({
    environment: 'staging',
    publicBaseUrl: 'http://127.0.0.1:8787/',
    escalationTargets: { default: ['oncall@example.com'] },
    automation: { defaultLevel },
  });
  const started: StartExecutionRequest[] = [];
  const engine: ExecutionEngine = {
    start: async (request) => {
      started.push(request);
      return {
        executionId: request.name,
        engineRef: `local:${request.name}`,
        startedAt: new Date().toISOString(),
        alreadyStarted: false,
      };
    },
    stop: async () => undefined,
    describe: async () => undefined,
    sendTaskSuccess: async () => undefined,
    sendTaskFailure: async () => undefined,
  };
  const clock = { now: () => new Date() };
  const notifier = { send: async () => undefined };
  const automation = new AutomationService({
    store,
    automation: new DynamoAutomationStore({
      client: table.client,
      tableName: table.tableName,
      retentionDays: 30,
    }),
    notifier,
    clock,
    logger,
    config,
    runbooks: () => [runbook],
  });
  const classifier = new ClassifierService({
    store,
    engine,
    notifier,
    clock,
    logger,
    config,
    selector: new RunbookSelector([runbook]),
    automation,
  });
  const result = await classifier.classify(
    contractAlert({
      name: 'WorkloadNeedsReplicas',
      environment: 'staging',
      fingerprint: `fp-${ceiling}-${defaultLevel}`,
      resource: { type: 'k8s-deployment', id: `shop/web-${ceiling}-${defaultLevel}`, namespace: 'shop' },
    }),
  );
  const execution = result.executionId ? await store.getExecution(result.executionId) : undefined;
  return { result, input: started[0]?.input.execution, execution };
}

describe('the classifier and automation levels', () => {
  it('a runbook whose ceiling is observe starts as a dry run at observe, wherever it runs', async () => {
    const { result, input, execution } = await classify('observe', 'autonomous');
    expect(result.decision).toBe('started');
    expect(input).toMatchObject({ automationLevel: 'observe', dryRun: true });
    expect(execution).toMatchObject({ automationLevel: 'observe', dryRun: true });
    expect(result.reason).toContain('automation level observe (changes run as dry runs)');
  });

  it('an environment whose default is approve holds an autonomous runbook to approve, and changes run for real', async () => {
    const { input } = await classify(undefined, 'approve');
    expect(input).toMatchObject({ automationLevel: 'approve', dryRun: false });
  });

  it('the lowest bound wins: a shadow environment with an approve ceiling runs shadow', async () => {
    const { input } = await classify('approve', 'shadow');
    expect(input).toMatchObject({ automationLevel: 'shadow', dryRun: true });
  });
});

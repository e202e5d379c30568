import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoAutomationStore } from '../../functions/adapters/aws/dynamo-automation-store.ts';
import { DynamoStore } from '../../functions/adapters/aws/dynamo-store.ts';
import type { AutomationRun } from '../../functions/core/automation/evidence.ts';
import type { LevelChange, LevelRecord } from '../../functions/core/automation/records.ts';
import { AutomationService } from '../../functions/core/automation/service.ts';
import { RuntimeConfig } from '../../functions/core/config.ts';
import { ValidationError } from '../../functions/core/errors.ts';
import type { ExecutionRecord, Notification } from '../../functions/core/records.ts';
import type { Runbook } from '../../functions/core/runbook/model.ts';
import { ControlConflictError } from '../../functions/core/services/control.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import { contractExecution, contractIncident } from '../contract/store.contract.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';
import { loadRunbook } from '../support/runbooks.ts';

/**
 * The AutomationStore on dynalite (conditional level writes, append-only history and incidents, atomic
 * counts), and the AutomationService over it: demotion by rule, once; promotion proposed with evidence
 * and applied only by a person.
 */

const ENVIRONMENT = 'staging';
const RUNBOOK = loadRunbook('test/fixtures/runbooks/automation/automation-scale.yaml');

let table: DynaliteTable;
let automationStore: DynamoAutomationStore;
let store: DynamoStore;

beforeEach(async () => {
  table = await startDynalite();
  automationStore = new DynamoAutomationStore({
    client: table.client,
    tableName: table.tableName,
    retentionDays: 30,
  });
  store = new DynamoStore({ client: table.client, tableName: table.tableName, retentionDays: 30 });
});

afterEach(async () => {
  await table.stop();
});

function change(overrides: Partial<LevelChange> = {}): LevelChange {
  return {
    id: 'set:1',
    runbookId: RUNBOOK.id,
    environment: ENVIRONMENT,
    from: 'autonomous',
    to: 'approve',
    cause: 'set',
    at: '2026-11-01T00:00:00.000Z',
    by: { type: 'person', id: 'dana@example.com', channel: 'api' },
    reason: 'watch it',
    ...overrides,
  };
}

function level(version: number, overrides: Partial<LevelChange> = {}): LevelRecord {
  const lastChange = change(overrides);
  return { runbookId: RUNBOOK.id, environment: ENVIRONMENT, level: lastChange.to, version, lastChange };
}

describe('DynamoAutomationStore on dynalite', () => {
  it('writes a level only over the version the writer read: of two racing writers exactly one wins', async () => {
    // Act
    const first = await automationStore.setLevel(level(1), 0);
    const racing = await Promise.all([
      automationStore.setLevel(level(2, { id: 'set:a', to: 'shadow', at: '2026-11-01T00:01:00.000Z' }), 1),
      automationStore.setLevel(level(2, { id: 'set:b', to: 'observe', at: '2026-11-01T00:01:00.000Z' }), 1),
    ]);
    const stale = await automationStore.setLevel(level(1, { id: 'set:c' }), 0);
    const stored = await automationStore.getLevel(ENVIRONMENT, RUNBOOK.id);
    const history = await automationStore.listLevelChanges(ENVIRONMENT, RUNBOOK.id, 10);

    // Assess
    expect(first).toBe(true);
    expect(racing.filter(Boolean)).toHaveLength(1);
    expect(stale).toBe(false);
    expect(stored?.version).toBe(2);
    expect(history.map((entry) => entry.id)).toEqual([stored!.lastChange.id, 'set:1']);
    expect(await automationStore.listLevels(ENVIRONMENT)).toEqual([stored]);
    expect(await automationStore.listLevels('prod')).toEqual([]);
  });

  it('refuses a version that does not follow the one read, naming the field', async () => {
    await expect(automationStore.setLevel(level(3), 0)).rejects.toThrow(ValidationError);
    await expect(automationStore.setLevel(level(3), 0)).rejects.toThrow(
      /version 3 must be expectedVersion \+ 1/,
    );
  });

  it('keeps human actions and safety incidents once per id, and counts alerts atomically per day', async () => {
    // Act
    const action = {
      id: 'a-1',
      executionId: 'exec-1',
      runbookId: RUNBOOK.id,
      kind: 'manual-fix' as const,
      by: 'bob@example.com',
      at: '2026-11-01T00:00:00.000Z',
    };
    const recorded = [
      await automationStore.recordHumanAction(action),
      await automationStore.recordHumanAction(action),
    ];
    const incident = {
      id: 'compensation:x',
      kind: 'compensation-failed' as const,
      environment: ENVIRONMENT,
      executionId: 'exec-1',
      runbookId: RUNBOOK.id,
      at: '2026-11-01T00:00:00.000Z',
      description: 'the compensation of scale-up failed',
    };
    const incidents = [
      await automationStore.recordSafetyIncident(incident),
      // The same occurrence reported again later keeps its first record.
      await automationStore.recordSafetyIncident({ ...incident, at: '2026-11-01T00:05:00.000Z' }),
    ];
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        automationStore.countAlert(ENVIRONMENT, '2026-11-01', index % 4 === 0 ? 'unmatched' : 'started'),
      ),
    );
    await automationStore.countAlert(ENVIRONMENT, '2026-11-02', 'blocked');

    // Assess
    expect(recorded).toEqual([true, false]);
    expect(await automationStore.listHumanActions('exec-1')).toEqual([action]);
    expect(incidents).toEqual([true, false]);
    expect(await automationStore.listSafetyIncidents(ENVIRONMENT, '2026-10-01T00:00:00.000Z')).toEqual([
      incident,
    ]);
    expect(await automationStore.listAlertCounts(ENVIRONMENT, '2026-11-01')).toEqual([
      { day: '2026-11-01', started: 15, blocked: 0, unmatched: 5 },
      { day: '2026-11-02', started: 0, blocked: 1, unmatched: 0 },
    ]);
    expect(await automationStore.listAlertCounts(ENVIRONMENT, '2026-11-02')).toHaveLength(1);
    await expect(automationStore.countAlert(ENVIRONMENT, '1 Nov', 'started')).rejects.toThrow(
      /not YYYY-MM-DD/,
    );
  });

  it('lists a runbook’s runs from a time on, oldest first', async () => {
    const base: AutomationRun = {
      executionId: 'exec-1',
      runbookId: RUNBOOK.id,
      environment: ENVIRONMENT,
      signature: 'WorkloadNeedsReplicas on k8s-deployment',
      incidentId: 'inc-1',
      mode: 'real',
      startedAt: '2026-11-01T00:00:00.000Z',
      stoppedAt: '2026-11-01T00:01:00.000Z',
      status: 'succeeded',
      verdict: 'succeeded',
      involvement: 'no-human',
      involvementReasons: [],
      approvalsApproved: 0,
      diagnosticsSucceeded: true,
      changesValidated: true,
      wouldHaveChanged: [],
    };
    await automationStore.putRun({ ...base, executionId: 'exec-2', startedAt: '2026-11-02T00:00:00.000Z' });
    await automationStore.putRun(base);
    expect(
      (await automationStore.listRuns(ENVIRONMENT, RUNBOOK.id, '2026-10-01T00:00:00Z')).map(
        (r) => r.executionId,
      ),
    ).toEqual(['exec-1', 'exec-2']);
    expect(await automationStore.listRuns(ENVIRONMENT, RUNBOOK.id, '2026-11-01T12:00:00Z')).toHaveLength(1);
    expect(await automationStore.getRun(base)).toEqual(base);
  });
});

describe('AutomationService: demotion by rule, promotion only by a person', () => {
  let now: Date;
  const clock: Clock = { now: () => new Date(now) };
  const sent: Notification[] = [];
  let service: AutomationService;
  let sequence = 0;

  beforeEach(() => {
    now = new Date('2026-11-01T00:00:00.000Z');
    sent.length = 0;
    sequence = 0;
    service = new AutomationService({
      store,
      automation: automationStore,
      notifier: { send: async (notification) => void sent.push(notification) },
      clock,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      config: RuntimeConfig.parse({
        environment: ENVIRONMENT,
        publicBaseUrl: 'http://127.0.0.1:8787/',
        escalationTargets: { default: ['oncall@example.com'] },
      }),
      runbooks: () => [RUNBOOK as Runbook],
    });
  });

  /** One finished real run of the runbook, a minute after the previous one, then recorded. */
  async function runFinished(
    status: 'succeeded' | 'failed',
    automationLevel?: ExecutionRecord['automationLevel'],
  ) {
    sequence++;
    now = new Date(now.getTime() + 60_000);
    const id = `exec-${String(sequence).padStart(3, '0')}`;
    await store.openIncident(contractIncident({ id: `inc-${sequence}`, fingerprint: `fp-${sequence}` }));
    await store.createExecution(
      contractExecution({
        id,
        runbookId: RUNBOOK.id,
        incidentId: `inc-${sequence}`,
        startedAt: now.toISOString(),
        ...(automationLevel ? { automationLevel } : {}),
      }),
    );
    now = new Date(now.getTime() + 1_000);
    await store.updateExecution(id, {
      status,
      stoppedAt: now.toISOString(),
      outcome: {
        status,
        rolledBack: status === 'failed',
        rollbackFailed: false,
        escalated: status === 'failed',
        humanIntervention: status === 'failed',
        approvals: 0,
        approvalsAnswered: 0,
        approvalWaitMs: 0,
        recordedOutputs: {},
      },
    });
    return { id, result: await service.runStopped(id) };
  }

  it('demotes once, however often the triggering run is recorded, and announces it', async () => {
    // Act
    await runFinished('succeeded');
    await runFinished('failed');
    const second = await runFinished('failed');
    const again = await service.runStopped(second.id);
    const level = await service.levelOf(RUNBOOK);
    const history = await automationStore.listLevelChanges(ENVIRONMENT, RUNBOOK.id, 10);

    // Assess
    expect(second.result.demotion).toMatchObject({ from: 'autonomous', to: 'approve' });
    expect(again.demotion).toBeUndefined();
    expect(level).toMatchObject({ level: 'approve', boundBy: 'evidence' });
    expect(history).toHaveLength(1);
    expect(sent.map((notification) => notification.subject)).toEqual([
      `Runbook ${RUNBOOK.id} demoted: autonomous → approve (${ENVIRONMENT})`,
    ]);
  });

  it('never promotes on its own; proposes with the evidence; a person applies it and is recorded', async () => {
    // Prepare: demoted, then ten verified successes at approve
    await runFinished('failed');
    await runFinished('failed');
    for (let index = 0; index < 10; index++) await runFinished('succeeded', 'approve');
    const before = await service.levelOf(RUNBOOK);
    const overview = await service.overview();

    // Act
    const promoted = await service.promote(RUNBOOK.id, {
      type: 'person',
      id: 'dana@example.com',
      channel: 'dashboard',
    });
    const after = await service.levelOf(RUNBOOK);
    const again = service.promote(RUNBOOK.id, { type: 'person', id: 'dana@example.com' });

    // Assess: the runs alone changed nothing
    expect(before.level).toBe('approve');
    expect(overview.runbooks[0]!.proposal).toMatchObject({
      from: 'approve',
      to: 'autonomous',
      evidence: { runsSinceLevelSet: 10, evidence: { runs: 10, succeeded: 10 } },
    });
    expect(promoted.change).toMatchObject({
      cause: 'promotion',
      from: 'approve',
      to: 'autonomous',
      by: { type: 'person', id: 'dana@example.com', channel: 'dashboard' },
    });
    expect(after).toMatchObject({ level: 'autonomous', stored: 'autonomous' });
    await expect(again).rejects.toThrow(ControlConflictError);
    await expect(again).rejects.toThrow(/at autonomous, the highest the runbook's ceiling allows/);
    expect(sent.at(-1)?.subject).toBe(
      `Runbook ${RUNBOOK.id} promoted: approve → autonomous (${ENVIRONMENT})`,
    );
    expect(sent.at(-1)?.text).toContain('Who:   dana@example.com');
  });

  it('a person may lower a level at any time, never raise it without a promotion', async () => {
    const lowered = await service.setLevel(RUNBOOK.id, 'shadow', { type: 'person', id: 'carol@example.com' });
    expect(lowered.level.level).toBe('shadow');
    await expect(
      service.setLevel(RUNBOOK.id, 'approve', { type: 'person', id: 'carol@example.com' }),
    ).rejects.toThrow(/takes a promotion backed by evidence/);
  });
});

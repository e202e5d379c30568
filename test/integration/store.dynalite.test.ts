import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CorruptRecordError,
  DynamoStore,
  ItemTooLargeError,
  Keys,
  STEP_OUTCOME_BUDGET_BYTES,
  StoreConflictError,
} from '../../functions/adapters/aws/dynamo-store.ts';
import { GlobalIndex, TTL_ATTRIBUTE } from '../../functions/adapters/aws/table-design.ts';
import { parseApprovalPublicId } from '../../functions/core/approval-links.ts';
import { ValidationError } from '../../functions/core/errors.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import {
  contractAlert,
  contractApproval,
  contractExecution,
  contractIncident,
  contractNotification,
  contractStepOutcome,
  describeStoreContract,
} from '../contract/store.contract.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';

const RETENTION_DAYS = 30;
const RETENTION_SECONDS = RETENTION_DAYS * 86_400;

/** Every DynamoDB operation the adapter sent during the contract run (none may be Scan or Transact*). */
const operationsSent = new Set<string>();

function recordOperations(table: DynaliteTable): void {
  table.client.middlewareStack.add(
    (next, context) => (args) => {
      operationsSent.add(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordOperations' },
  );
}

describeStoreContract('DynamoStore on dynalite', async () => {
  const table = await startDynalite();
  recordOperations(table);
  return {
    store: new DynamoStore({
      client: table.client,
      tableName: table.tableName,
      retentionDays: RETENTION_DAYS,
    }),
    teardown: table.stop,
  };
});

describe('DynamoStore on dynalite: the table', () => {
  it('served the whole contract with Get/Put/Update/Delete/Query/BatchGet only: no Scan, no transaction', () => {
    // Assess (the contract above ran first, in this file, and recorded what it sent)
    expect([...operationsSent].sort()).toEqual(
      expect.arrayContaining([
        'BatchGetItemCommand',
        'GetItemCommand',
        'PutItemCommand',
        'QueryCommand',
        'UpdateItemCommand',
      ]),
    );
    const forbidden = [...operationsSent].filter((operation) =>
      /Scan|Transact|ExecuteStatement/.test(operation),
    );
    expect(forbidden).toEqual([]);
    expect(
      [...operationsSent].every((operation) => /^(Get|Put|Update|Delete|Query|BatchGet)/.test(operation)),
    ).toBe(true);
  });
});

describe('DynamoStore on dynalite: adapter specifics', () => {
  let table: DynaliteTable;
  let store: DynamoStore;
  let nowMs: number;
  const clock: Clock = { now: () => new Date(nowMs) };

  async function rawItem(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined> {
    const { Item } = await table.client.send(new GetCommand({ TableName: table.tableName, Key: key }));
    return Item;
  }

  beforeEach(async () => {
    table = await startDynalite();
    nowMs = Date.parse('2024-05-02T17:00:00Z');
    store = new DynamoStore({
      client: table.client,
      tableName: table.tableName,
      retentionDays: RETENTION_DAYS,
      clock,
    });
  });

  afterEach(async () => {
    await table.stop();
  });

  describe('ttl', () => {
    it('sets ttl (epoch seconds) to now + retention on execution, step, approval, notification and unmatched items', async () => {
      // Prepare
      const expected = nowMs / 1000 + RETENTION_SECONDS;
      const approval = contractApproval();

      // Act
      await store.createExecution(contractExecution());
      await store.putStepOutcome(contractStepOutcome());
      await store.createApproval(approval);
      await store.appendNotification(contractNotification());
      await store.recordUnmatched(contractAlert(), '2024-05-02T17:00:00Z');

      // Assess
      const keys = [
        Keys.execution('exec-0001'),
        Keys.stepOutcome(contractStepOutcome()),
        Keys.approval('exec-0001', parseApprovalPublicId(approval.id)!.approvalKey),
        Keys.notification(contractNotification()),
        Keys.unmatched('prometheus', 'NodeFilesystemFilling'),
      ];
      for (const key of keys)
        expect((await rawItem(key))?.[TTL_ATTRIBUTE], `${key.pk} ${key.sk}`).toBe(expected);
    });

    it('refreshes an execution ttl on update, so a long-running execution outlives its start', async () => {
      // Prepare
      await store.createExecution(contractExecution());
      nowMs += 10 * 86_400_000;

      // Act
      await store.updateExecution('exec-0001', { currentState: 'Remediate' });

      // Assess
      expect((await rawItem(Keys.execution('exec-0001')))?.[TTL_ATTRIBUTE]).toBe(
        nowMs / 1000 + RETENTION_SECONDS,
      );
    });

    it('gives a resolved incident a ttl; an open incident and its lock have none (they must not expire while open)', async () => {
      // Prepare
      const incident = contractIncident();
      await store.openIncident(incident);
      const openItem = await rawItem(Keys.incident(incident.id));
      const lockItem = await rawItem(Keys.openIncidentLock(incident.fingerprint));

      // Act
      await store.resolveIncident(
        incident.fingerprint,
        contractAlert({ status: 'resolved' }),
        '2024-05-02T17:30:00Z',
      );

      // Assess
      expect(openItem?.[TTL_ATTRIBUTE]).toBeUndefined();
      expect(lockItem?.[TTL_ATTRIBUTE]).toBeUndefined();
      expect((await rawItem(Keys.incident(incident.id)))?.[TTL_ATTRIBUTE]).toBe(
        nowMs / 1000 + RETENTION_SECONDS,
      );
      expect(await rawItem(Keys.openIncidentLock(incident.fingerprint))).toBeUndefined();
    });

    it('expires rate windows and cooldowns when they end, and never the kill switch or learning', async () => {
      // Act
      await store.acquireRate('global', '2024-05-02T17:00:00Z', 5, '2024-05-02T18:00:00Z', 'incident-1');
      await store.claimCooldown('node/a', '2024-05-02T17:00:00Z', '2024-05-02T17:30:00Z', 'incident-1');
      await store.setKillSwitch({ engaged: true });

      // Assess
      const window = await rawItem(Keys.rateWindow('global', '2024-05-02T17:00:00Z'));
      expect(window).toMatchObject({
        members: new Set(['incident-1']),
        [TTL_ATTRIBUTE]: Date.parse('2024-05-02T18:00:00Z') / 1000,
      });
      expect((await rawItem(Keys.cooldown('node/a')))?.[TTL_ATTRIBUTE]).toBe(
        Date.parse('2024-05-02T17:30:00Z') / 1000,
      );
      expect((await rawItem(Keys.killSwitch()))?.[TTL_ATTRIBUTE]).toBeUndefined();
    });
  });

  describe('corrupted items', () => {
    it('names the item key, the record type and the bad field', async () => {
      // Prepare
      await store.createExecution(contractExecution());
      const key = Keys.execution('exec-0001');
      const item = await rawItem(key);
      await table.client.send(
        new PutCommand({ TableName: table.tableName, Item: { ...item, status: 'exploded' } }),
      );

      // Act
      const read = store.getExecution('exec-0001');

      // Assess
      await expect(read).rejects.toBeInstanceOf(CorruptRecordError);
      await expect(read).rejects.toThrow(
        /pk "EXEC#exec-0001", sk "EXECUTION".*not a valid ExecutionRecord: status:/,
      );
      await expect(store.listExecutions({ limit: 10 })).rejects.toThrow(/EXEC#exec-0001/);
    });

    it('reports a corrupted item found by a Query with its own key', async () => {
      // Prepare
      await store.putStepOutcome(contractStepOutcome());
      const key = Keys.stepOutcome(contractStepOutcome());
      await table.client.send(
        new PutCommand({ TableName: table.tableName, Item: { ...(await rawItem(key)), attempt: 'first' } }),
      );

      // Act + Assess
      await expect(store.listStepOutcomes('exec-0001')).rejects.toThrow(
        new RegExp(`sk "${key.sk}".*StepOutcome: attempt:`),
      );
    });
  });

  describe('item size', () => {
    it('trims a step output over the item budget, keeps its shape, and flags outputTruncated', async () => {
      // Prepare
      const lines = Array.from({ length: 6_000 }, (_, index) => `${index} ${'x'.repeat(80)}`);
      const outcome = contractStepOutcome({ output: { exitCode: 0, lines } });
      expect(Buffer.byteLength(JSON.stringify(outcome.output))).toBeGreaterThan(350 * 1024);

      // Act
      await store.putStepOutcome(outcome);

      // Assess
      const [stored] = await store.listStepOutcomes('exec-0001');
      expect(stored?.outputTruncated).toBe(true);
      expect(stored?.output).toMatchObject({ exitCode: 0 });
      expect(Buffer.byteLength(JSON.stringify(stored))).toBeLessThanOrEqual(STEP_OUTCOME_BUDGET_BYTES);
      expect(stored?.status).toBe('succeeded');
    });

    it('refuses an outcome whose parameters alone fill the item, naming the step and key', async () => {
      // Prepare
      const outcome = contractStepOutcome({ parameters: { script: 'x'.repeat(400 * 1024) } });

      // Act
      const put = store.putStepOutcome(outcome);

      // Assess
      await expect(put).rejects.toBeInstanceOf(ItemTooLargeError);
      await expect(put).rejects.toThrow(/step "check-disk".*EXEC#exec-0001/);
    });

    it('refuses any other record over the 400 KB item limit before sending it', async () => {
      // Prepare
      const incident = contractIncident({ alert: contractAlert({ description: 'd'.repeat(420 * 1024) }) });

      // Act + Assess
      await expect(store.openIncident(incident)).rejects.toBeInstanceOf(ItemTooLargeError);
    });
  });

  describe('approval task token', () => {
    it('is stored only in the approval item, in no index, and handed back only to the caller that settles', async () => {
      // Prepare
      const approval = contractApproval({ quorum: 1 });
      await store.createApproval(approval);
      const key = Keys.approval('exec-0001', 'phase-remediate');

      // Act
      const settled = await store.decideApproval({
        executionId: 'exec-0001',
        approvalKey: 'phase-remediate',
        decision: { approver: 'alice@example.com', decision: 'approve', at: '2024-05-02T17:02:00Z' },
        now: '2024-05-02T17:02:00Z',
      });

      // Assess
      const item = await rawItem(key);
      expect(item?.taskToken).toBe(approval.taskToken);
      for (const index of Object.values(GlobalIndex)) expect(item?.[index.partitionKey]).toBeUndefined();
      expect(settled.ok && settled.approval.taskToken).toBe(approval.taskToken);
      expect(approval.id).not.toContain(approval.taskToken);
      expect(JSON.stringify(parseApprovalPublicId(approval.id))).not.toContain(approval.taskToken);
    });

    it('refuses an approval whose id is not approvalPublicId(executionId, approvalKey)', async () => {
      // Act + Assess
      await expect(store.createApproval({ ...contractApproval(), id: 'apr-1' })).rejects.toBeInstanceOf(
        ValidationError,
      );
    });
  });

  describe('dedupe recovery', () => {
    it('completes an incident whose opener crashed after taking the fingerprint lock', async () => {
      // Prepare: the lock exists, the incident item was never written
      const crashed = contractIncident({ id: 'inc-crashed' });
      const lockKey = Keys.openIncidentLock(crashed.fingerprint);
      await table.client.send(
        new PutCommand({
          TableName: table.tableName,
          Item: { ...lockKey, entity: 'OpenIncidentLock', incidentId: crashed.id, incident: crashed },
        }),
      );

      // Act
      const result = await store.openIncident(contractIncident({ id: 'inc-later' }));

      // Assess
      expect(result.created).toBe(false);
      expect(result.incident).toMatchObject({ id: 'inc-crashed', occurrences: 2 });
    });

    it('opens a new incident when the lock outlived its resolved incident (resolver crashed)', async () => {
      // Prepare
      const incident = contractIncident({ id: 'inc-resolved' });
      await store.openIncident(incident);
      const lock = await rawItem(Keys.openIncidentLock(incident.fingerprint));
      await store.resolveIncident(
        incident.fingerprint,
        contractAlert({ status: 'resolved' }),
        '2024-05-02T17:30:00Z',
      );
      await table.client.send(new PutCommand({ TableName: table.tableName, Item: lock }));

      // Act
      const result = await store.openIncident(contractIncident({ id: 'inc-next' }));

      // Assess
      expect(result).toMatchObject({ created: true, incident: { id: 'inc-next', occurrences: 1 } });
      expect((await rawItem(Keys.openIncidentLock(incident.fingerprint)))?.incidentId).toBe('inc-next');
    });
  });

  describe('keys and cursors', () => {
    it('keeps ids containing # and / apart', async () => {
      // Prepare
      const a = contractStepOutcome({ stepId: 'a#step', kind: 'step' });
      const b = contractStepOutcome({ stepId: 'a', kind: 'step', startedAt: '2024-05-02T17:01:00Z' });

      // Act
      await store.putStepOutcome(a);
      await store.putStepOutcome(b);

      // Assess
      expect((await store.listStepOutcomes('exec-0001')).map((outcome) => outcome.stepId)).toEqual([
        'a#step',
        'a',
      ]);
    });

    it('refuses a cursor it did not issue', async () => {
      // Act + Assess
      await expect(store.listExecutions({ limit: 5, cursor: 'bm90LWEtY3Vyc29y' })).rejects.toThrow(/cursor/);
      await expect(store.listExecutions({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
    });

    it('lists executions through the index with the items read back whole (KEYS_ONLY + BatchGetItem)', async () => {
      // Prepare
      for (let index = 0; index < 120; index++) {
        await store.createExecution(
          contractExecution({
            id: `exec-${String(index).padStart(3, '0')}`,
            startedAt: new Date(nowMs + index * 1000).toISOString(),
          }),
        );
      }

      // Act
      const { Items } = await table.client.send(
        new QueryCommand({
          TableName: table.tableName,
          IndexName: GlobalIndex.executionsByStart.name,
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': 'EXECUTIONS' },
          Limit: 1,
        }),
      );
      const all = await store.listExecutionsByRunbook('node-filesystem-filling', '2024-05-02T00:00:00Z');

      // Assess
      expect(Object.keys(Items?.[0] ?? {}).sort()).toEqual(['gsi1pk', 'gsi1sk', 'pk', 'sk']);
      expect(all).toHaveLength(120);
      expect(all[0]?.id).toBe('exec-119');
      expect(all[119]?.id).toBe('exec-000');
    });
  });

  describe('checkpoints', () => {
    it('refuses to overwrite a held checkpoint with another token (its execution would hang)', async () => {
      // Prepare
      await store.createExecution(contractExecution());
      await store.holdCheckpoint('exec-0001', {
        before: 'remediate',
        taskToken: 'token-1',
        heldAt: '2024-05-02T17:02:00Z',
      });

      // Act
      const second = store.holdCheckpoint('exec-0001', {
        before: 'verify',
        taskToken: 'token-2',
        heldAt: '2024-05-02T17:03:00Z',
      });

      // Assess
      await expect(second).rejects.toBeInstanceOf(StoreConflictError);
      expect((await store.getExecution('exec-0001'))?.heldCheckpoint?.taskToken).toBe('token-1');
    });
  });

  describe('configuration', () => {
    it('refuses an empty table name and a non-positive retention', () => {
      // Act + Assess
      expect(() => new DynamoStore({ client: table.client, tableName: '', retentionDays: 30 })).toThrow(
        /tableName/,
      );
      expect(() => new DynamoStore({ client: table.client, tableName: 't', retentionDays: 0 })).toThrow(
        /retentionDays/,
      );
    });
  });
});

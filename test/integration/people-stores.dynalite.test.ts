import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoControlLinkUses } from '../../functions/adapters/aws/dynamo-control-link-uses.ts';
import { DynamoRollbackStore } from '../../functions/adapters/aws/dynamo-rollbacks.ts';
import { TTL_ATTRIBUTE } from '../../functions/adapters/aws/table-design.ts';
import type { RollbackRecord } from '../../functions/core/rollback/records.ts';
import type { ControlLinkUse } from '../../functions/ports/control-link-uses.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';

/** The stores of signed-link uses and rollbacks on a real DynamoDB API: the races they must settle. */

let table: DynaliteTable;

beforeEach(async () => {
  table = await startDynalite();
});

afterEach(async () => {
  await table.stop();
});

function use(overrides: Partial<ControlLinkUse> = {}): ControlLinkUse {
  return {
    nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
    executionId: 'scale-out-1',
    action: 'pause',
    recipient: 'alice@example.com',
    usedAt: '2026-05-02T10:00:00.000Z',
    expiresAt: '2026-05-02T11:00:00.000Z',
    ...overrides,
  };
}

function rollback(overrides: Partial<RollbackRecord> = {}): RollbackRecord {
  return {
    id: 'rb-00000000000000000001',
    executionId: 'scale-out-1',
    runbookId: 'scale-out',
    environment: 'staging',
    rollbackPoint: 'start',
    requestedBy: 'alice@example.com',
    requestedAt: '2026-05-02T10:00:00.000Z',
    status: 'requested',
    changes: [
      {
        stepId: 'scale-search',
        name: 'Scale search',
        tool: 'k8s.scale',
        risk: 'medium',
        status: 'succeeded',
        startedAt: '2026-05-02T09:00:00.000Z',
        parameters: { namespace: 'shop', name: 'search', replicas: 4 },
        compensation: {
          compensates: 'scale-search',
          tool: 'k8s.scale',
          parameters: { replicas: '{{ output.previousReplicas }}' },
          timeoutSeconds: 120,
        },
      },
    ],
    approval: { required: false, risk: 'medium', because: 'staging asks for approval from risk high' },
    ...overrides,
  };
}

describe('DynamoControlLinkUses on dynalite', () => {
  it('lets exactly one of many concurrent uses of a link claim it', async () => {
    // Prepare
    const uses = new DynamoControlLinkUses({ client: table.client, tableName: table.tableName });

    // Act
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        uses.claim(use({ usedAt: `2026-05-02T10:00:${String(index).padStart(2, '0')}.000Z` })),
      ),
    );

    // Assess
    expect(claims.filter(Boolean)).toHaveLength(1);
    const winner = claims.indexOf(true);
    expect(await uses.get(use().nonce)).toEqual(
      use({ usedAt: `2026-05-02T10:00:${String(winner).padStart(2, '0')}.000Z` }),
    );
  });

  it('gives back only its own claim, and keeps the use a day past the link’s expiry (TTL)', async () => {
    // Prepare
    const uses = new DynamoControlLinkUses({ client: table.client, tableName: table.tableName });
    await uses.claim(use());

    // Act
    await uses.release({ nonce: use().nonce, usedAt: '2026-05-02T10:59:59.000Z' });
    const afterOthers = await uses.get(use().nonce);
    await uses.release({ nonce: use().nonce, usedAt: use().usedAt });
    const afterMine = await uses.get(use().nonce);
    const reclaimed = await uses.claim(use({ action: 'pause', usedAt: '2026-05-02T10:30:00.000Z' }));
    const { Item } = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: { pk: `LINKUSE#${use().nonce}`, sk: 'USE' } }),
    );

    // Assess
    expect(afterOthers).toBeDefined();
    expect(afterMine).toBeUndefined();
    expect(reclaimed).toBe(true);
    expect(Item?.[TTL_ATTRIBUTE]).toBe(Date.parse(use().expiresAt) / 1_000 + 86_400);
  });
});

describe('DynamoRollbackStore on dynalite', () => {
  it('holds one rollback of an execution at a time; finishing frees the slot for the next', async () => {
    // Prepare
    const store = new DynamoRollbackStore({
      client: table.client,
      tableName: table.tableName,
      retentionDays: 30,
    });

    // Act
    const first = await Promise.all([
      store.create(rollback()),
      store.create(rollback({ id: 'rb-00000000000000000002', requestedAt: '2026-05-02T10:00:01.000Z' })),
    ]);
    const winner = first[0] ? 'rb-00000000000000000001' : 'rb-00000000000000000002';
    const whileActive = await store.create(
      rollback({ id: 'rb-00000000000000000003', requestedAt: '2026-05-02T10:01:00.000Z' }),
    );
    const other = await store.create(rollback({ id: 'rb-00000000000000000004', executionId: 'scale-out-2' }));
    const running = await store.update(winner, { status: 'running', engineRef: 'arn:local' });
    const done = await store.finish(winner, { status: 'succeeded', finishedAt: '2026-05-02T10:05:00.000Z' });
    const again = await store.finish(winner, { status: 'succeeded', finishedAt: '2026-05-02T10:05:00.000Z' });
    const next = await store.create(
      rollback({ id: 'rb-00000000000000000005', requestedAt: '2026-05-02T11:00:00.000Z' }),
    );

    // Assess
    expect(first.filter(Boolean)).toHaveLength(1);
    expect(whileActive).toBe(false);
    expect(other).toBe(true);
    expect(running).toMatchObject({ id: winner, status: 'running', engineRef: 'arn:local' });
    expect(done.status).toBe('succeeded');
    expect(again.status).toBe('succeeded');
    expect(next).toBe(true);
    expect((await store.list('scale-out-1')).map((record) => [record.id, record.status])).toEqual([
      [winner, 'succeeded'],
      ['rb-00000000000000000005', 'requested'],
    ]);
    expect(await store.get('rb-00000000000000000004')).toMatchObject({ executionId: 'scale-out-2' });
    expect(await store.get('rb-missing')).toBeUndefined();
  });

  it('refuses a record that does not fit its schema, writing nothing', async () => {
    const store = new DynamoRollbackStore({
      client: table.client,
      tableName: table.tableName,
      retentionDays: 30,
    });
    await expect(
      store.create({ ...rollback(), status: 'lost' } as unknown as RollbackRecord),
    ).rejects.toThrow();
    expect(await store.create(rollback())).toBe(true);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditKeys, DynamoAuditTrail } from '../../functions/adapters/aws/dynamo-audit-trail.ts';
import { createTableInput, GlobalIndex, TTL_ATTRIBUTE } from '../../functions/adapters/aws/table-design.ts';
import { startLocalDatabase } from '../../functions/adapters/local/database.ts';
import { describeAuditTrailContract, pauseEvent } from '../contract/audit-trail.contract.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';

const RETENTION_DAYS = 365;

/** Every DynamoDB operation the adapter sent: an append-only trail never updates or deletes. */
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

describeAuditTrailContract('DynamoAuditTrail on dynalite', async (clock) => {
  const table = await startDynalite();
  recordOperations(table);
  return {
    audit: new DynamoAuditTrail({
      client: table.client,
      tableName: table.tableName,
      retentionDays: RETENTION_DAYS,
      clock,
    }),
    teardown: table.stop,
  };
});

describe('DynamoAuditTrail on dynalite: append only', () => {
  it('served the whole contract with Get, conditional Put, Query and BatchGet: never Update or Delete', () => {
    // Assess (the contract above ran first, in this file)
    expect([...operationsSent].sort()).toEqual([
      'BatchGetItemCommand',
      'GetItemCommand',
      'PutItemCommand',
      'QueryCommand',
    ]);
  });
});

describe('DynamoAuditTrail on dynalite: the items', () => {
  let table: DynaliteTable;
  let audit: DynamoAuditTrail;

  beforeEach(async () => {
    table = await startDynalite();
    audit = new DynamoAuditTrail({
      client: table.client,
      tableName: table.tableName,
      retentionDays: RETENTION_DAYS,
    });
  });
  afterEach(async () => {
    await table.stop();
  });

  it('writes one item per event with the retention ttl (from the event time) and both index keys', async () => {
    // Act
    const recorded = await audit.record(pauseEvent({ at: '2024-05-02T17:01:00+02:00' }));
    const { Item } = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: AuditKeys.event(recorded.trail, recorded.order) }),
    );
    // Assess
    expect(Item).toMatchObject({
      pk: 'AUDIT#execution%3Aexec-0001',
      sk: `EVENT#${recorded.order}`,
      entity: 'AuditEvent',
      at: '2024-05-02T15:01:00.000Z',
      [TTL_ATTRIBUTE]: Date.parse('2024-05-02T15:01:00Z') / 1000 + RETENTION_DAYS * 86_400,
      [GlobalIndex.byResource.partitionKey]: 'AUDIT#RESOURCE#k8s-node%2Fstaging-eu%2Fip-10-0-1-23',
      [GlobalIndex.byResource.sortKey]: recorded.order,
      [GlobalIndex.byActor.partitionKey]: 'AUDIT#ACTOR#alice%40example.com',
      [GlobalIndex.byActor.sortKey]: recorded.order,
    });
    expect(recorded.order.startsWith(`${recorded.recordedAt}#`)).toBe(true);
  });

  /** A trail of its own over the same table, through `client` (a client that misbehaves on purpose). */
  function trailOver(client: typeof table.client): DynamoAuditTrail {
    return new DynamoAuditTrail({ client, tableName: table.tableName, retentionDays: RETENTION_DAYS });
  }

  /** A trail whose first event put goes to the key `redirect` names instead (a key someone else took). */
  function collidingTrail(redirect: () => string) {
    let collisions = 1;
    const client = {
      send: (command: { input: { Item?: Record<string, unknown> } }) => {
        const item = command.input.Item;
        if (command instanceof PutCommand && String(item?.sk).startsWith('EVENT#') && collisions > 0) {
          collisions--;
          return table.client.send(
            new PutCommand({ ...command.input, Item: { ...item, sk: `EVENT#${redirect()}` } } as never),
          );
        }
        return table.client.send(command as never);
      },
    } as unknown as typeof table.client;
    return { trail: trailOver(client), collided: () => collisions === 0 };
  }

  it('never replaces an event: a fresh event whose key is taken takes another', async () => {
    // Prepare: the second writer's first put aims at the first event's key (as if it had collided)
    const first = await audit.record(pauseEvent({ reason: 'first' }));
    const colliding = collidingTrail(() => first.order);
    const racing = colliding.trail;
    // Act
    const second = await racing.record(pauseEvent({ reason: 'second' }), { fresh: true });
    const page = await audit.query({ execution: 'exec-0001' });
    // Assess
    expect(colliding.collided()).toBe(true);
    expect(second.order).not.toBe(first.order);
    expect(page.events.map((event) => (event as { reason?: string }).reason)).toEqual(['first', 'second']);
  });

  it('never replaces an event: a key its marker names, taken by another event, is a conflict', async () => {
    // Prepare
    const first = await audit.record(pauseEvent({ reason: 'first' }));
    const colliding = collidingTrail(() => first.order);
    const racing = colliding.trail;
    // Act / Assess
    await expect(racing.record(pauseEvent({ reason: 'second' }))).rejects.toThrow(/holds another event/);
    const page = await audit.query({ execution: 'exec-0001' });
    expect(page.events.map((event) => (event as { reason?: string }).reason)).toEqual(['first']);
  });

  it('records an event with its own id in two writes and no read: its marker, then the event', async () => {
    // Prepare
    const sent: string[] = [];
    table.client.middlewareStack.add(
      (next, context) => (args) => {
        const key =
          (args.input as { Key?: { sk?: string }; Item?: { sk?: string } }).Key ??
          (args.input as { Item?: { sk?: string } }).Item;
        sent.push(`${String(context.commandName)} ${String(key?.sk).split('#')[0]}`);
        return next(args);
      },
      { step: 'initialize', name: 'sent' },
    );
    // Act
    await audit.record(pauseEvent({ reason: 'once' }));
    // Assess
    expect(sent).toEqual(['PutItemCommand ID', 'PutItemCommand EVENT']);
  });

  it('completes an event whose writer stopped after its marker, at the key the marker names, once', async () => {
    // Prepare: the first writer claims the id, and its event put never reaches the table
    const event = pauseEvent({ reason: 'interrupted' });
    const dying = {
      send: (command: { input: { Item?: Record<string, unknown> } }) =>
        command instanceof PutCommand && String(command.input.Item?.sk).startsWith('EVENT#')
          ? Promise.reject(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }))
          : table.client.send(command as never),
    } as unknown as typeof table.client;
    const first = trailOver(dying);
    await expect(first.record(event)).rejects.toThrow('socket hang up');
    const marker = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: AuditKeys.eventId('execution:exec-0001', event.id) }),
    );
    // Act: the retry (another process, later)
    const retried = await audit.record(event);
    const again = await audit.record(event);
    // Assess
    expect(retried.order).toBe(marker.Item?.order);
    expect(again).toEqual(retried);
    const page = await audit.query({ execution: 'exec-0001' });
    expect(page.events).toEqual([retried]);
  });

  it('says which item is corrupt when one was edited by hand', async () => {
    // Prepare
    const recorded = await audit.record(pauseEvent());
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { ...AuditKeys.event(recorded.trail, `${recorded.order}x`), kind: 'override.pause' },
      }),
    );
    // Act / Assess
    await expect(audit.query({ execution: 'exec-0001' })).rejects.toThrow(
      /sk "EVENT#.*x".*not a valid audit event/,
    );
  });
});

describe('the local database kept on disk by an earlier version', () => {
  it('gains the audit indexes at the next start, keeping every item', async () => {
    // Prepare: a table without gsi4 (as created before the audit trail), holding an execution's item
    const path = mkdtempSync(join(tmpdir(), 'runbook-audit-upgrade-'));
    try {
      const server = dynalite({ path, createTableMs: 0 });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      const { port } = server.address() as { port: number };
      const old = new DynamoDBClient({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'local',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const input = createTableInput('runbook-autopilot');
      await old.send(
        new CreateTableCommand({
          ...input,
          GlobalSecondaryIndexes: input.GlobalSecondaryIndexes!.filter(
            (index) => index.IndexName !== GlobalIndex.byActor.name,
          ),
          AttributeDefinitions: input.AttributeDefinitions!.filter(
            (definition) => !definition.AttributeName!.startsWith('gsi4'),
          ),
        }),
      );
      // dynalite answers ResourceNotFound while a table is CREATING, even with createTableMs 0.
      for (let tries = 0; tries < 500; tries++) {
        const { Table } = await old.send(new DescribeTableCommand({ TableName: 'runbook-autopilot' }));
        if (Table?.TableStatus === 'ACTIVE') break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await old.send(
        new PutCommand({
          TableName: 'runbook-autopilot',
          Item: { pk: 'EXEC#kept', sk: 'EXECUTION', note: 'kept' },
        }) as never,
      );
      old.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));

      // Act
      const database = await startLocalDatabase({ path });
      try {
        const { Table } = await database.client.send(
          new DescribeTableCommand({ TableName: database.tableName }),
        );
        const kept = await database.client.send(
          new GetCommand({ TableName: database.tableName, Key: { pk: 'EXEC#kept', sk: 'EXECUTION' } }),
        );
        const audit = new DynamoAuditTrail({
          client: database.client,
          tableName: database.tableName,
          retentionDays: RETENTION_DAYS,
        });
        await audit.record(pauseEvent());
        // Assess
        expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toEqual([
          'gsi1',
          'gsi2',
          'gsi3',
          'gsi4',
        ]);
        expect(kept.Item).toMatchObject({ note: 'kept' });
        expect((await audit.query({ actor: 'alice@example.com' })).events).toHaveLength(1);
      } finally {
        await database.stop();
      }
    } finally {
      rmSync(path, { recursive: true, force: true });
    }
  });
});

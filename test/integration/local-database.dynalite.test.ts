import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type LocalDatabase, startLocalDatabase } from '../../functions/adapters/local/database.ts';

/**
 * The platform's own client reaches dynalite in process, with a SigV4-shaped header it does not
 * compute: the answers (items, batches, conditional failures, validation errors) must
 * be the ones DynamoDB's API gives over HTTP, and clients in other processes still get the endpoint.
 */

let database: LocalDatabase;
let sockets: number;

beforeEach(async () => {
  database = await startLocalDatabase({ tableName: 'in-process' });
  sockets = 0;
  // Any connection to the listening server counts: the platform's own client must open none.
  database.server.on('connection', () => {
    sockets++;
  });
});

afterEach(async () => {
  await database.stop();
});

const key = { pk: 'INCIDENT#1', sk: 'INCIDENT' };

describe('the local database client', () => {
  it('writes and reads items without opening a socket, and without the SDK warning about the body', async () => {
    // Prepare
    const warn = vi.spyOn(console, 'warn');

    // Act
    await database.client.send(
      new PutCommand({
        TableName: database.tableName,
        Item: { ...key, title: 'node under pressure', count: 1 },
      }),
    );
    const read = await database.client.send(new GetCommand({ TableName: database.tableName, Key: key }));

    // Assert
    expect(read.Item).toEqual({ ...key, title: 'node under pressure', count: 1 });
    expect(sockets).toBe(0);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  it('keeps binary attributes, sets, nested maps and lists, and leaves undefined values out, as the SDK does', async () => {
    // Prepare
    const item = {
      ...key,
      digest: new Uint8Array([0, 1, 2, 250, 255]),
      nested: { list: [1, 'two', { three: new Uint8Array([3]) }], gone: undefined },
      tags: new Set(['a', 'b']),
      empty: '',
      flag: false,
      nothing: null,
    };

    // Act
    await database.client.send(new PutCommand({ TableName: database.tableName, Item: item }));
    const read = await database.client.send(new GetCommand({ TableName: database.tableName, Key: key }));
    const page = await database.client.send(
      new QueryCommand({
        TableName: database.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': key.pk },
      }),
    );

    // Assert
    const { gone: _gone, ...nested } = item.nested;
    const expected = { ...item, nested };
    expect(read.Item).toEqual(expected);
    expect(page.Items).toEqual([expected]);
    expect(read.Item?.digest).toBeInstanceOf(Uint8Array);
  });

  it('answers a failed condition as DynamoDB does, leaving the item as it was', async () => {
    // Prepare
    await database.client.send(new PutCommand({ TableName: database.tableName, Item: { ...key, count: 1 } }));

    // Act
    const conditional = await database.client
      .send(
        new PutCommand({
          TableName: database.tableName,
          Item: { ...key, count: 2 },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      )
      .catch((error: unknown) => error);

    // Assert
    expect(conditional).toBeInstanceOf(ConditionalCheckFailedException);
    const kept = await database.client.send(new GetCommand({ TableName: database.tableName, Key: key }));
    expect(kept.Item?.count).toBe(1);
  });

  it('writes and reads batches', async () => {
    // Act
    await database.client.send(
      new BatchWriteCommand({
        RequestItems: {
          [database.tableName]: [1, 2, 3].map((n) => ({
            PutRequest: { Item: { pk: `RUN#${n}`, sk: 'A', n } },
          })),
        },
      }),
    );
    const read = await database.client.send(
      new BatchGetCommand({
        RequestItems: { [database.tableName]: { Keys: [1, 2, 3].map((n) => ({ pk: `RUN#${n}`, sk: 'A' })) } },
      }),
    );

    // Assert
    expect(read.Responses?.[database.tableName]?.map((item) => item.n).sort()).toEqual([1, 2, 3]);
  });

  it('refuses a malformed request with the validation error dynalite gives over HTTP', async () => {
    // Act
    const refused = await database.client
      .send(new GetCommand({ TableName: database.tableName, Key: { pk: 'INCIDENT#1' } }))
      .catch((error: unknown) => error);

    // Assert
    expect((refused as Error).name).toBe('ValidationException');
    expect((refused as Error).message).toMatch(/key element does not match the schema/i);
  });

  it('answers no request after it stopped, and lets the requests in flight finish first (never a closed database under them)', async () => {
    // Prepare
    const writes = Array.from({ length: 20 }, (_, n) =>
      database.client.send(
        new PutCommand({ TableName: database.tableName, Item: { pk: `RUN#${n}`, sk: 'A' } }),
      ),
    );

    // Act
    const answers = Promise.allSettled(writes);
    await database.stop();
    const settled = await answers;
    const after = await database.client
      .send(new GetCommand({ TableName: database.tableName, Key: key }))
      .catch((error: unknown) => error);

    // Assert
    // A write is answered, or refused as sent after the stop: never cut off by a closed database.
    for (const write of settled)
      if (write.status === 'rejected') expect((write.reason as Error).message).toMatch(/database is stopped/);
    expect((after as Error).message).toMatch(/the local database is stopped/);
  });

  it('still serves a signed client in another process over its endpoint, on the same table', async () => {
    // Prepare
    await database.client.send(new PutCommand({ TableName: database.tableName, Item: { ...key, count: 7 } }));
    const remote = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: database.endpoint,
        region: 'local',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }),
    );

    // Act
    const read = await remote.send(new GetCommand({ TableName: database.tableName, Key: key }));
    remote.destroy();

    // Assert
    expect(read.Item?.count).toBe(7);
    expect(sockets).toBeGreaterThan(0);
  });
});

/** The iterator base class of the abstract-level copy dynalite's LevelDB uses. */
function iteratorBase(): { next(): Promise<unknown>; close(): Promise<void> } {
  const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const fromClassic = createRequire(createRequire(fromDynalite.resolve('level')).resolve('classic-level'));
  const { AbstractIterator } = fromClassic('abstract-level') as { AbstractIterator: { prototype: object } };
  return Object.getPrototypeOf(AbstractIterator.prototype);
}

describe('the local database on disk', () => {
  it('closes the LevelDB iterator of every query once it is read, not only when the database closes', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'runbook-iterators-'));
    const onDisk = await startLocalDatabase({ path: join(dir, 'dynamodb'), tableName: 'iterators' });
    for (let n = 0; n < 5; n++)
      await onDisk.client.send(
        new PutCommand({ TableName: onDisk.tableName, Item: { pk: 'EXEC#1', sk: `STEP#${n}` } }),
      );
    const base = iteratorBase();
    const read = new Set<object>();
    const closed = new Set<object>();
    const nextSpy = vi.spyOn(base, 'next');
    const closeSpy = vi.spyOn(base, 'close');

    // Act
    for (let n = 0; n < 10; n++)
      await onDisk.client.send(
        new QueryCommand({
          TableName: onDisk.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'EXEC#1' },
        }),
      );
    await new Promise((resolve) => setImmediate(resolve));
    for (const call of nextSpy.mock.contexts) read.add(call as object);
    for (const call of closeSpy.mock.contexts) closed.add(call as object);
    nextSpy.mockRestore();
    closeSpy.mockRestore();
    await onDisk.stop();
    rmSync(dir, { recursive: true, force: true });

    // Assert
    expect(read.size).toBeGreaterThanOrEqual(10);
    expect([...read].filter((iterator) => !closed.has(iterator))).toEqual([]);
  });
});

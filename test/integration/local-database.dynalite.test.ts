import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
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

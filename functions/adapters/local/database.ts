import type { AddressInfo } from 'node:net';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { createTableInput, TABLE_DESIGN } from '../aws/table-design.ts';

/** The table the embedded platform keeps its records in. */
export const LOCAL_TABLE_NAME = 'runbook-autopilot';

const TABLE_ACTIVE_TIMEOUT_MS = 10_000;

export interface LocalDatabaseOptions {
  /** LevelDB directory; in memory when absent. */
  path?: string;
  tableName?: string;
}

/** dynalite on 127.0.0.1 (a real DynamoDB API) with the Store's table created and ACTIVE. */
export interface LocalDatabase {
  endpoint: string;
  tableName: string;
  client: DynamoDBDocumentClient;
  /** Destroys the client and closes the server; safe to call twice. */
  stop(): Promise<void>;
}

export async function startLocalDatabase(options: LocalDatabaseOptions = {}): Promise<LocalDatabase> {
  const server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const base = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
  const client = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  const tableName = options.tableName ?? LOCAL_TABLE_NAME;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client.destroy();
    server.closeAllConnections?.();
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
  };

  try {
    await createTableIfMissing(base, tableName);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, client, tableName, stop };
}

/**
 * Creates the table unless it is kept on disk from an earlier run, then waits until it is ACTIVE:
 * dynalite answers ResourceNotFoundException while a table is CREATING, even with createTableMs 0.
 */
async function createTableIfMissing(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
    await addMissingIndexes(client, tableName);
  }
  await waitUntilActive(client, tableName);
}

/**
 * A table kept on disk by an earlier version lacks the indexes added since (gsi4: audit events by
 * actor). dynalite cannot add an index to a table, so the local table is rebuilt with every item.
 */
async function addMissingIndexes(client: DynamoDBClient, tableName: string): Promise<void> {
  await waitUntilActive(client, tableName);
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  if (TABLE_DESIGN.globalIndexes.every((index) => present.has(index.name))) return;
  const items: Array<Record<string, AttributeValue>> = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  await waitUntilActive(client, tableName);
  for (let index = 0; index < items.length; index += 25) {
    let pending = items.slice(index, index + 25).map((item) => ({ PutRequest: { Item: item } }));
    while (pending.length > 0) {
      const result = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
      pending = (result.UnprocessedItems?.[tableName] ?? []) as typeof pending;
    }
  }
}

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + TABLE_ACTIVE_TIMEOUT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline)
      throw new Error(
        `dynalite: table "${tableName}" is still ${Table?.TableStatus} after ${TABLE_ACTIVE_TIMEOUT_MS} ms`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

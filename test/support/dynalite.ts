import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createTableInput } from '../../functions/adapters/aws/table-design.ts';

/** A real DynamoDB API (dynalite) on 127.0.0.1, with the Store's table created. */
export interface DynaliteTable {
  endpoint: string;
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Destroys the client and closes the server; safe to call twice. */
  stop(): Promise<void>;
}

export interface DynaliteOptions {
  /** LevelDB directory; in memory when absent. */
  path?: string;
  tableName?: string;
}

type DynaliteFactory = (options: {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

// dynalite is CommonJS without type declarations.
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

const TABLE_ACTIVE_TIMEOUT_MS = 10_000;

export async function startDynalite(options: DynaliteOptions = {}): Promise<DynaliteTable> {
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
  const tableName = options.tableName ?? `runbook-autopilot-${randomUUID().slice(0, 8)}`;

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

async function createTableIfMissing(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (error) {
    // A table kept on disk (options.path) from an earlier run is reused.
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
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

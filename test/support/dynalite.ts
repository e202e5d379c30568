import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startLocalDatabase } from '../../functions/adapters/local/database.ts';

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

/** The platform's own database starter, with a fresh table name per test unless one is given. */
export function startDynalite(options: DynaliteOptions = {}): Promise<DynaliteTable> {
  return startLocalDatabase({
    ...(options.path ? { path: options.path } : {}),
    tableName: options.tableName ?? `runbook-autopilot-${randomUUID().slice(0, 8)}`,
  });
}

import { EventEmitter } from 'node:events';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
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
import type { HttpRequest, HttpResponse, RequestHandler } from '@smithy/types';
import dynalite from 'dynalite';
import { createTableInput, TABLE_DESIGN } from '../aws/table-design.ts';

/**
 * dynalite turns LevelDB iterators into streams and, when a stream ends or is destroyed, closes the
 * iterator only if it has a `return()` method, which abstract-level's iterators do not have: every
 * Query and Scan left its iterator open, held by the database (a LevelDB snapshot in native memory)
 * until it closed, so `runbook serve` grew by megabytes per execution (issue 14's RSS goal). Giving
 * the iterators of the abstract-level copy dynalite uses a `return()` that closes them fixes that.
 */
export function closeDynaliteIteratorsWhenDone(): void {
  const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const prototypes = ['classic-level', 'memory-level'].map((implementation) => {
    const fromImplementation = createRequire(
      implementation === 'classic-level'
        ? createRequire(fromDynalite.resolve('level')).resolve('classic-level')
        : fromDynalite.resolve('memory-level'),
    );
    const { AbstractIterator } = fromImplementation('abstract-level') as {
      AbstractIterator: { prototype: object };
    };
    // The common base of key, value and entry iterators.
    return Object.getPrototypeOf(AbstractIterator.prototype) as { close(): Promise<void> };
  });
  for (const prototype of new Set(prototypes)) {
    if ('return' in prototype) continue;
    Object.defineProperty(prototype, 'return', {
      configurable: true,
      writable: true,
      value(this: { close(): Promise<void> }) {
        return this.close().then(() => ({ done: true, value: undefined }));
      },
    });
  }
}

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
  /** dynalite's HTTP server on `endpoint`, for clients in other processes (the platform's is in process). */
  server: Server;
  /** Destroys the client and closes the server; safe to call twice. */
  stop(): Promise<void>;
}

export async function startLocalDatabase(options: LocalDatabaseOptions = {}): Promise<LocalDatabase> {
  closeDynaliteIteratorsWhenDone();
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
  const inProcess = new InProcessDynalite(server.listeners('request')[0] as RequestListener);
  const base = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    // dynalite checks that a request carries a SigV4-shaped Authorization header, never its signature.
    signer: { sign: async (request) => unsignedRequest(request as HttpRequest) },
    requestHandler: inProcess,
  });
  const client = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  const tableName = options.tableName ?? LOCAL_TABLE_NAME;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // The document client's destroy() leaves its base client alone: stop the handler itself.
    inProcess.destroy();
    base.destroy();
    await inProcess.drain();
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
  return { endpoint, client, server, tableName, stop };
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
  await waitUntilDeleted(client, tableName);
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

/** A table is deleted in the background (dynalite as DynamoDB): creating it again must wait for that. */
async function waitUntilDeleted(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + TABLE_ACTIVE_TIMEOUT_MS;
  for (;;) {
    try {
      await client.send(new DescribeTableCommand({ TableName: tableName }));
    } catch (error) {
      if (error instanceof Error && error.name === 'ResourceNotFoundException') return;
      throw error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `dynalite: table "${tableName}" is still there ${TABLE_ACTIVE_TIMEOUT_MS} ms after deleting it`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
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

/** An Authorization header dynalite accepts (it parses the header, it does not verify the signature). */
function unsignedRequest(request: HttpRequest): HttpRequest {
  const at = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  request.headers['x-amz-date'] = at;
  request.headers.authorization = `AWS4-HMAC-SHA256 Credential=local/${at.slice(0, 8)}/local/dynamodb/aws4_request, SignedHeaders=host, Signature=unsigned`;
  return request;
}

/**
 * The SDK's requests handed to dynalite's request listener in this process: the same parsing,
 * validation and LevelDB writes as over loopback HTTP, without a socket, HTTP framing and parsing
 * on both sides of it per store command (the platform's largest cost after dynalite itself).
 * The HTTP server still listens for clients in other processes (`endpoint`).
 */
export class InProcessDynalite implements RequestHandler<HttpRequest, HttpResponse> {
  readonly metadata = { handlerProtocol: 'in-process' };

  constructor(private readonly listener: RequestListener) {}

  /** Requests dynalite is still answering: stopping waits for them before it closes the database. */
  private readonly pending = new Set<Promise<unknown>>();
  private stopped = false;

  handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
    if (this.stopped) return Promise.reject(new Error('the local database is stopped'));
    const answered = this.answer(request);
    this.pending.add(answered);
    void answered.finally(() => this.pending.delete(answered));
    return answered;
  }

  /** Waits (up to `timeoutMs`) for the requests in flight, so the database is not closed under them. */
  async drain(timeoutMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private answer(request: HttpRequest): Promise<{ response: HttpResponse }> {
    return new Promise((resolve) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
      const query = new URLSearchParams(
        Object.entries(request.query ?? {}).flatMap(([name, value]) =>
          (Array.isArray(value) ? value : [value]).flatMap((one) =>
            one == null ? [] : [[name, one] as [string, string]],
          ),
        ),
      ).toString();
      const incoming = Object.assign(new EventEmitter(), {
        method: request.method,
        url: `${request.path || '/'}${query ? `?${query}` : ''}`,
        headers,
      });
      const answer: Record<string, string> = {};
      const outgoing = {
        statusCode: 200,
        setHeader(name: string, value: string | number) {
          answer[name.toLowerCase()] = String(value);
        },
        end(body?: string) {
          resolve({
            response: {
              statusCode: outgoing.statusCode,
              headers: answer,
              body: Buffer.from(body ?? '', 'utf8'),
            },
          });
        },
      };
      this.listener(incoming as unknown as IncomingMessage, outgoing as unknown as ServerResponse);
      const body = request.body as string | Uint8Array | undefined;
      if (body !== undefined && body.length > 0)
        incoming.emit(
          'data',
          // The bytes as they are (Buffer.from(view) would call the SDK's string adapter's valueOf).
          typeof body === 'string'
            ? Buffer.from(body, 'utf8')
            : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        );
      incoming.emit('end');
    });
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    this.stopped = true;
  }
}

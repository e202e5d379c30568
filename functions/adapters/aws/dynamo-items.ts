import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import { type Problem, RunbookAutopilotError, ValidationError } from '../../core/errors.ts';
import { jsonBytes } from '../../core/output-budget.ts';
import { GlobalIndex, TableKey, TTL_ATTRIBUTE } from './table-design.ts';

/**
 * What every DynamoDB adapter of the one table shares: keys, the errors a request can end in, and an
 * ItemTable that sends requests, treats a failed condition as an answer and checks items against their
 * record schema on the way in and out.
 */

export interface ItemKey {
  pk: string;
  sk: string;
}

export type Item = Record<string, unknown>;

// Errors ------------------------------------------------------------------------------------------

/** A DynamoDB request failed; names the operation, the table and the item. */
export class StoreError extends RunbookAutopilotError {
  override readonly name: string = 'StoreError';
  readonly table: string;
  readonly key: ItemKey | undefined;
  constructor(message: string, table: string, key: ItemKey | undefined, options: ErrorOptions = {}) {
    super(message, options);
    this.table = table;
    this.key = key;
  }
}

/** An item read back does not match its record schema (edited by hand, or written by another version). */
export class CorruptRecordError extends StoreError {
  override readonly name = 'CorruptRecordError';
  readonly problems: Problem[];
  constructor(message: string, table: string, key: ItemKey, problems: Problem[]) {
    super(message, table, key);
    this.problems = problems;
  }
}

/** An update addressed a record that does not exist. */
export class RecordNotFoundError extends StoreError {
  override readonly name = 'RecordNotFoundError';
}

/** A write lost to concurrent writers more often than it retries, or conflicts with the stored state. */
export class StoreConflictError extends StoreError {
  override readonly name = 'StoreConflictError';
}

/** An item would exceed DynamoDB's 400 KB item limit even after trimming what may be trimmed. */
export class ItemTooLargeError extends StoreError {
  override readonly name = 'ItemTooLargeError';
  readonly bytes: number;
  readonly limit: number;
  constructor(message: string, table: string, key: ItemKey, bytes: number, limit: number) {
    super(message, table, key);
    this.bytes = bytes;
    this.limit = limit;
  }
}

// Limits ------------------------------------------------------------------------------------------

/** DynamoDB refuses items over 400 KB; sizes here are JSON bytes, which over-estimate DynamoDB's count. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** DynamoDB's key sizes: partition keys at most 2048 bytes, sort keys 1024. */
const MAX_PARTITION_KEY_BYTES = 2048;
const MAX_SORT_KEY_BYTES = 1024;

// Keys and values ---------------------------------------------------------------------------------

/** Ids are URI-encoded inside keys, so a `#` in an id can never make two keys alike. */
export const keyPart = (value: string): string => encodeURIComponent(value);

/** ISO instants normalized to UTC milliseconds, so sort keys and filters order as time does. */
export function utcInstant(value: string, field: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new ValidationError(`${field}: "${value}" is not an ISO 8601 date-time`, [
      { path: field, message: 'expected an ISO 8601 date-time, e.g. 2024-05-02T17:00:00Z', check: 'schema' },
    ]);
  return new Date(ms).toISOString();
}

export function epochSeconds(iso: string): number {
  return Math.ceil(Date.parse(iso) / 1000);
}

export function keyOf(item: Item): ItemKey {
  return { pk: String(item.pk), sk: String(item.sk) };
}

/** Records are JSON by nature (they cross Step Functions); this also drops `undefined` members. */
export function plainJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Keys in messages stay short: an over-long id must not turn into a megabyte of log. */
export function describeKey(key: ItemKey): string {
  const short = (text: string) =>
    text.length > 120 ? `${text.slice(0, 100)}…(${text.length} characters)` : text;
  return `pk "${short(key.pk)}", sk "${short(key.sk)}"`;
}

/** A key DynamoDB would refuse is the caller's input (an id too long), not a store failure: say so. */
export function checkKeySize(operation: string, key: ItemKey): void {
  const pk = Buffer.byteLength(key.pk, 'utf8');
  const sk = Buffer.byteLength(key.sk, 'utf8');
  if (pk <= MAX_PARTITION_KEY_BYTES && sk <= MAX_SORT_KEY_BYTES) return;
  const which =
    pk > MAX_PARTITION_KEY_BYTES
      ? `partition key (${pk} bytes, at most ${MAX_PARTITION_KEY_BYTES})`
      : `sort key (${sk} bytes, at most ${MAX_SORT_KEY_BYTES})`;
  throw new ValidationError(
    `${operation}: an id is too long for a DynamoDB ${which} at ${describeKey(key)}`,
    [{ check: 'key-size', path: '', message: `too long for a DynamoDB ${which}` }],
  );
}

/** Attributes the table adds around a record; stripped before the record schema sees the item. */
const TABLE_ATTRIBUTES = new Set<string>([
  TableKey.partition,
  TableKey.sort,
  TTL_ATTRIBUTE,
  'entity',
  // The version of the learning fold an aggregate came from (dynamo-learning-folds.ts).
  'foldVersion',
  ...Object.values(GlobalIndex).flatMap((index) => [index.partitionKey, index.sortKey]),
]);

/** The record an item holds: the item without the table's own attributes. */
export function recordOf(item: Item): Item {
  const record: Item = {};
  for (const [name, value] of Object.entries(item)) if (!TABLE_ATTRIBUTES.has(name)) record[name] = value;
  return record;
}

// Errors as text ----------------------------------------------------------------------------------

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export function zodProblems(error: z.ZodError, prefix = ''): Problem[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.'),
    message: issue.message,
    check: 'schema',
  }));
}

export function formatProblems(problems: Problem[], whole = '(record)'): string {
  return problems.map((problem) => `${problem.path || whole}: ${problem.message}`).join('; ');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full jitter, growing with the attempt: spreads concurrent writers that lost the same race. */
export function backoff(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
}

// The table ---------------------------------------------------------------------------------------

export interface PartitionQuery {
  /** Only items whose sort key is ≥ this. */
  sortKeyFrom?: string;
  /** Only items whose sort key begins with this. */
  sortKeyPrefix?: string;
  newestFirst?: boolean;
  /** Stop after this many items. */
  max?: number;
}

/** Requests on the one table, with the conventions every adapter keeps. */
export class ItemTable {
  constructor(
    readonly client: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /** Sends a request; any failure becomes a StoreError naming the operation, table and key. */
  async call<T>(operation: string, key: ItemKey | undefined, send: () => Promise<T>): Promise<T> {
    if (key) checkKeySize(`DynamoDB ${operation}`, key);
    try {
      return await send();
    } catch (error) {
      if (error instanceof RunbookAutopilotError) throw error;
      throw new StoreError(
        `DynamoDB ${operation} on table "${this.tableName}"${key ? ` at ${describeKey(key)}` : ''} failed: ${errorMessage(error)}`,
        this.tableName,
        key,
        { cause: error },
      );
    }
  }

  /** Like `call`, but a failed condition is an answer (undefined), not an error. */
  async conditional<T>(operation: string, key: ItemKey, send: () => Promise<T>): Promise<T | undefined> {
    checkKeySize(`DynamoDB ${operation}`, key);
    try {
      return await send();
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      return this.call(operation, key, () => Promise.reject(error));
    }
  }

  async get(key: ItemKey): Promise<Item | undefined> {
    const result = await this.call('GetItem', key, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return result.Item as Item | undefined;
  }

  /** Conditional create of `item` under `key`: false when an item with this key exists. */
  async putIfAbsent(key: ItemKey, item: Item, tooLarge?: string): Promise<boolean> {
    const full = { ...item, ...key };
    this.assertFits(key, full, 'PutItem', tooLarge);
    const written = await this.conditional('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: full,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    return written !== undefined;
  }

  /** The record an item holds, checked against its schema; a mismatch is a CorruptRecordError. */
  record<T>(schema: z.ZodType<T>, entity: string, key: ItemKey, item: Item): T {
    const result = schema.safeParse(recordOf(item));
    if (result.success) return result.data;
    const problems = zodProblems(result.error);
    throw new CorruptRecordError(
      `DynamoDB item ${describeKey(key)} in table "${this.tableName}" is not a valid ${entity}: ` +
        `${formatProblems(problems)}. Repair or delete the item.`,
      this.tableName,
      key,
      problems,
    );
  }

  /** A caller's value checked against its schema, as plain JSON; a mismatch is a ValidationError. */
  input<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
    const result = schema.safeParse(value);
    if (result.success) return plainJson(result.data);
    const problems = zodProblems(result.error);
    throw new ValidationError(`${where}: ${formatProblems(problems)}`, problems);
  }

  /** An item over DynamoDB's limit is refused before it is sent, saying how large it is. */
  assertFits(key: ItemKey, item: Item, operation: string, hint?: string): void {
    const bytes = jsonBytes(item);
    if (bytes > MAX_ITEM_BYTES)
      throw new ItemTooLargeError(
        `${operation}: item ${describeKey(key)} is ${bytes} bytes, over DynamoDB's ${MAX_ITEM_BYTES}-byte item limit${hint ? `; ${hint}` : ''}`,
        this.tableName,
        key,
        bytes,
        MAX_ITEM_BYTES,
      );
  }

  /** One partition's items in sort-key order (newest first if asked), following pages. */
  async query(partition: string, options: PartitionQuery = {}): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    const max = options.max ?? Number.POSITIVE_INFINITY;
    do {
      const { sortKeyFrom: from, sortKeyPrefix: prefix } = options;
      const range =
        from !== undefined
          ? ' AND #sk >= :from'
          : prefix !== undefined
            ? ' AND begins_with(#sk, :prefix)'
            : '';
      const input: QueryCommandInput = {
        TableName: this.tableName,
        KeyConditionExpression: `#pk = :pk${range}`,
        ExpressionAttributeNames: { '#pk': TableKey.partition, ...(range ? { '#sk': TableKey.sort } : {}) },
        ExpressionAttributeValues: {
          ':pk': partition,
          ...(from !== undefined ? { ':from': from } : prefix !== undefined ? { ':prefix': prefix } : {}),
        },
        ScanIndexForward: !options.newestFirst,
        ConsistentRead: true,
        ...(Number.isFinite(max) ? { Limit: max - items.length } : {}),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      };
      const page = await this.call('Query', { pk: partition, sk: '*' }, () =>
        this.client.send(new QueryCommand(input)),
      );
      items.push(...((page.Items ?? []) as Item[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && items.length < max);
    return items;
  }
}

import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ConfigurationError } from '../../core/errors.ts';
import {
  canonical,
  FoldContribution,
  FoldRun,
  LEARNING_WINDOW_DAYS,
  LearningFold,
} from '../../core/learning/fold.ts';
import { LearningAggregate } from '../../core/records.ts';
import type { LearningFolds } from '../../ports/learning-folds.ts';
import {
  backoff,
  CorruptRecordError,
  epochSeconds,
  type Item,
  type ItemKey,
  ItemTable,
  keyPart as part,
  StoreError,
  utcInstant,
} from './dynamo-items.ts';
import { Keys } from './dynamo-store.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

/**
 * LearningFolds on the platform's one table (dynalite has everything it uses: conditional puts,
 * BatchGetItem, BatchWriteItem, Query):
 *   LEARNINGFOLD#<runbook id>  STATE                           the fold's counts, with `foldVersion` (no TTL)
 *   LEARNINGFOLD#<runbook id>  RUN#<started at>#<execution id> the run's digest (TTL: its start + the window)
 *   LEARNINGFOLD#<runbook id>  EXEC#<execution id>             what the execution added (the records' TTL)
 *   LEARNING                   RUNBOOK#<runbook id>            the aggregate, with the `foldVersion` it came from
 */

const RUN_PREFIX = 'RUN#';

export const FoldKeys = {
  state: (runbookId: string): ItemKey => ({ pk: `LEARNINGFOLD#${part(runbookId)}`, sk: 'STATE' }),
  marker: (runbookId: string, executionId: string): ItemKey => ({
    pk: `LEARNINGFOLD#${part(runbookId)}`,
    sk: `EXEC#${part(executionId)}`,
  }),
  /** Sorted by start, so the newest digests are one Query read backwards. */
  run: (runbookId: string, run: Pick<FoldRun, 'startedAt' | 'id'>): ItemKey => ({
    pk: `LEARNINGFOLD#${part(runbookId)}`,
    sk: `${RUN_PREFIX}${utcInstant(run.startedAt, 'run.startedAt')}#${part(run.id)}`,
  }),
} as const;

/** The attribute holding a digest's hash: a digest put again unchanged writes nothing. */
const RUN_HASH_ATTRIBUTE = 'runHash';
/** Sorts after every `RUN#<ISO instant>…` sort key. */
const RUN_KEYS_END = `${RUN_PREFIX}~`;

/** The attribute holding the fold's version on the fold and on the aggregate published from it. */
export const FOLD_VERSION_ATTRIBUTE = 'foldVersion';

const Marker = z.object({ contribution: FoldContribution.nullable() });

/**
 * The fold and the digests are stored as gzipped JSON (a binary attribute): their field names repeat
 * per day and per step, so the bytes billed at every fold fall 4–30× (a 90-day fold: ~36 KB → ~1 KB).
 */
function packed(value: unknown): Uint8Array {
  return gzipSync(Buffer.from(JSON.stringify(value), 'utf8'));
}
const BATCH_WRITE_MAX_ITEMS = 25;
const BATCH_MAX_ATTEMPTS = 10;

export class DynamoLearningFolds implements LearningFolds {
  private readonly table: ItemTable;
  private readonly retentionSeconds: number;

  constructor(
    private readonly options: { client: DynamoDBDocumentClient; tableName: string; retentionDays: number },
  ) {
    if (!options.tableName)
      throw new ConfigurationError('DynamoLearningFolds: tableName is empty; set the table name');
    if (!Number.isFinite(options.retentionDays) || options.retentionDays <= 0)
      throw new ConfigurationError(
        `DynamoLearningFolds: retentionDays must be a positive number of days, got ${String(options.retentionDays)}`,
      );
    this.table = new ItemTable(options.client, options.tableName);
    this.retentionSeconds = Math.round(options.retentionDays * 86_400);
  }

  async read(
    runbookId: string,
    executionId?: string,
  ): Promise<{ fold?: LearningFold; version: number; marker?: FoldContribution | null }> {
    const stateKey = FoldKeys.state(runbookId);
    const keys = [stateKey, ...(executionId === undefined ? [] : [FoldKeys.marker(runbookId, executionId)])];
    const items = await this.batchGet(keys);
    const state = items.find((item) => item.sk === stateKey.sk);
    const marker = items.find((item) => item.sk !== stateKey.sk);
    const version = state ? Number(state[FOLD_VERSION_ATTRIBUTE] ?? 0) : 0;
    return {
      version,
      ...(state ? { fold: this.unpacked(LearningFold, 'LearningFold', stateKey, state.fold) } : {}),
      ...(marker
        ? {
            marker: this.table.record(
              Marker,
              'LearningFoldMarker',
              FoldKeys.marker(runbookId, executionId!),
              marker,
            ).contribution,
          }
        : {}),
    };
  }

  async version(runbookId: string): Promise<number> {
    const key = FoldKeys.state(runbookId);
    const result = await this.table.call('GetItem', key, () =>
      this.options.client.send(
        new GetCommand({
          TableName: this.options.tableName,
          Key: key,
          ConsistentRead: true,
          ProjectionExpression: '#version',
          ExpressionAttributeNames: { '#version': FOLD_VERSION_ATTRIBUTE },
        }),
      ),
    );
    return Number(result.Item?.[FOLD_VERSION_ATTRIBUTE] ?? 0);
  }

  async write(input: LearningFold, version: number): Promise<boolean> {
    const fold = this.table.input(LearningFold, input, 'LearningFolds.write(fold)');
    const key = FoldKeys.state(fold.runbookId);
    const item = {
      ...key,
      entity: 'LearningFold',
      runbookId: fold.runbookId,
      fold: packed(fold),
      [FOLD_VERSION_ATTRIBUTE]: version + 1,
    };
    this.assertFits(key, item, 'fold', 'the fold holds counts per day of the window and the last folds only');
    // Only over the version read: a concurrent fold of another execution is never overwritten.
    const written = await this.table.conditional('PutItem', key, () =>
      this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: item,
          ConditionExpression: version === 0 ? 'attribute_not_exists(#pk)' : '#version = :version',
          ExpressionAttributeNames: version === 0 ? { '#pk': 'pk' } : { '#version': FOLD_VERSION_ATTRIBUTE },
          ...(version === 0 ? {} : { ExpressionAttributeValues: { ':version': version } }),
        }),
      ),
    );
    return written !== undefined;
  }

  async publish(input: LearningAggregate, version: number): Promise<void> {
    const aggregate = this.table.input(LearningAggregate, input, 'LearningFolds.publish(aggregate)');
    const key = Keys.learning(aggregate.runbookId);
    const item = { ...key, entity: 'LearningAggregate', ...aggregate, [FOLD_VERSION_ATTRIBUTE]: version };
    this.table.assertFits(key, item, 'PutItem');
    // A slower writer of an older fold never replaces the aggregate of a newer one.
    await this.table.conditional('PutItem', key, () =>
      this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#version) OR #version < :version',
          ExpressionAttributeNames: { '#version': FOLD_VERSION_ATTRIBUTE },
          ExpressionAttributeValues: { ':version': version },
        }),
      ),
    );
  }

  async mark(
    runbookId: string,
    contributions: ReadonlyArray<{ executionId: string; contribution: FoldContribution | null }>,
  ): Promise<void> {
    const ttl = Math.floor(Date.now() / 1_000) + this.retentionSeconds;
    const items = contributions.map(({ executionId, contribution }) => ({
      ...FoldKeys.marker(runbookId, executionId),
      entity: 'LearningFoldMarker',
      executionId,
      contribution,
      [TTL_ATTRIBUTE]: ttl,
    }));
    const [item] = items;
    if (item && items.length === 1) {
      await this.table.call('PutItem', { pk: item.pk, sk: item.sk }, () =>
        this.options.client.send(new PutCommand({ TableName: this.options.tableName, Item: item })),
      );
      return;
    }
    await this.batchPut(items);
  }

  async putRun(runbookId: string, input: FoldRun): Promise<boolean> {
    const item = this.digestItem(runbookId, input);
    const key = FoldKeys.run(runbookId, input);
    // Written once per run; again only when its digest changed (a rollback after it stopped).
    const written = await this.table.conditional('PutItem', key, () =>
      this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#pk) OR #hash <> :hash',
          ExpressionAttributeNames: { '#pk': 'pk', '#hash': RUN_HASH_ATTRIBUTE },
          ExpressionAttributeValues: { ':hash': item[RUN_HASH_ATTRIBUTE] },
        }),
      ),
    );
    return written !== undefined;
  }

  async putRuns(runbookId: string, runs: readonly FoldRun[]): Promise<void> {
    await this.batchPut(runs.map((run) => this.digestItem(runbookId, run)));
  }

  async recentRuns(runbookId: string, since: string, limit: number): Promise<FoldRun[]> {
    const partition = FoldKeys.state(runbookId).pk;
    const runs: FoldRun[] = [];
    let startKey: Item | undefined;
    do {
      const input: QueryCommandInput = {
        TableName: this.options.tableName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        // Only what the aggregate reads comes back (capacity is billed on the whole item all the same).
        ProjectionExpression: '#sk, #run',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#run': 'run' },
        ExpressionAttributeValues: {
          ':pk': partition,
          ':from': `${RUN_PREFIX}${utcInstant(since, 'since')}`,
          ':to': RUN_KEYS_END,
        },
        ScanIndexForward: false,
        // Strongly consistent: a fold reads every digest written before the fold version it read.
        ConsistentRead: true,
        Limit: limit - runs.length,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      };
      const page = await this.table.call('Query', { pk: partition, sk: RUN_PREFIX }, () =>
        this.options.client.send(new QueryCommand(input)),
      );
      for (const item of (page.Items ?? []) as Item[])
        runs.push(
          this.unpacked(FoldRun, 'LearningFoldRun', { pk: partition, sk: String(item.sk) }, item.run),
        );
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && runs.length < limit);
    return runs;
  }

  /** A digest's item: kept while its run is in the window and its records exist, whichever ends first. */
  private digestItem(runbookId: string, input: FoldRun): Item {
    const run = this.table.input(FoldRun, input, 'LearningFolds.putRun(run)');
    const key = FoldKeys.run(runbookId, run);
    const ttl = Math.min(
      epochSeconds(run.startedAt) + LEARNING_WINDOW_DAYS * 86_400,
      Math.floor(Date.now() / 1_000) + this.retentionSeconds,
    );
    const item = {
      ...key,
      entity: 'LearningFoldRun',
      executionId: run.id,
      run: packed(run),
      [RUN_HASH_ATTRIBUTE]: createHash('sha256').update(canonical(run)).digest('base64url'),
      [TTL_ATTRIBUTE]: ttl,
    };
    this.assertFits(key, item, 'run', 'digests over DIGEST_BUDGET_BYTES are never stored');
    return item;
  }

  /** The item's size with its packed attribute counted as base64 (over, never under, its bytes). */
  private assertFits(key: ItemKey, item: Item, attribute: string, hint: string): void {
    const value = item[attribute] as Uint8Array;
    this.table.assertFits(
      key,
      { ...item, [attribute]: Buffer.from(value).toString('base64') },
      'PutItem',
      hint,
    );
  }

  /** A packed attribute read back and checked; anything else is a CorruptRecordError naming the item. */
  private unpacked<T>(schema: z.ZodType<T>, entity: string, key: ItemKey, value: unknown): T {
    let json: unknown;
    try {
      json = JSON.parse(gunzipSync(value as Uint8Array).toString('utf8'));
    } catch (error) {
      throw new CorruptRecordError(
        `DynamoDB item pk "${key.pk}", sk "${key.sk}" in table "${this.options.tableName}" holds no readable ${entity} (${(error as Error).message}); run \`runbook learn recompute\` to rebuild it from the records`,
        this.options.tableName,
        key,
        [{ path: entity, message: 'expected gzipped JSON', check: 'schema' }],
      );
    }
    return this.table.record(schema, entity, key, (json && typeof json === 'object' ? json : {}) as Item);
  }

  /** BatchWriteItem in batches of 25, putting again what DynamoDB left unprocessed. */
  private async batchPut(items: readonly Item[]): Promise<void> {
    for (let start = 0; start < items.length; start += BATCH_WRITE_MAX_ITEMS) {
      let pending: Item[] = items.slice(start, start + BATCH_WRITE_MAX_ITEMS);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= BATCH_MAX_ATTEMPTS) throw this.throttled('BatchWriteItem', pending.length);
        if (attempt > 0) await backoff(attempt + 3);
        const request = pending;
        const result = await this.table.call('BatchWriteItem', undefined, () =>
          this.options.client.send(
            new BatchWriteCommand({
              RequestItems: { [this.options.tableName]: request.map((Item) => ({ PutRequest: { Item } })) },
            }),
          ),
        );
        pending = (result.UnprocessedItems?.[this.options.tableName] ?? []).flatMap((entry) =>
          entry.PutRequest?.Item ? [entry.PutRequest.Item as Item] : [],
        );
      }
    }
  }

  private async batchGet(keys: ItemKey[]): Promise<Item[]> {
    const found: Item[] = [];
    let pending = keys;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= BATCH_MAX_ATTEMPTS) throw this.throttled('BatchGetItem', pending.length);
      if (attempt > 0) await backoff(attempt + 3);
      const request = pending;
      const result = await this.table.call('BatchGetItem', request[0], () =>
        this.options.client.send(
          new BatchGetCommand({
            RequestItems: { [this.options.tableName]: { Keys: request, ConsistentRead: true } },
          }),
        ),
      );
      found.push(...((result.Responses?.[this.options.tableName] ?? []) as Item[]));
      pending = (result.UnprocessedKeys?.[this.options.tableName]?.Keys ?? []) as ItemKey[];
    }
    return found;
  }

  private throttled(operation: string, left: number): StoreError {
    return new StoreError(
      `${operation} on table "${this.options.tableName}": ${left} learning fold item(s) still unprocessed after ${BATCH_MAX_ATTEMPTS} attempts; the table is throttled, retry later`,
      this.options.tableName,
      undefined,
    );
  }
}

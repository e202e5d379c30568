import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ConfigurationError } from '../../core/errors.ts';
import type { ChangeLock, ChangeLockAnswer, ChangeLocks, DeferredAlert } from '../../ports/change-locks.ts';
import {
  epochSeconds,
  type ItemKey,
  ItemTable,
  keyOf,
  keyPart as part,
  StoreConflictError,
} from './dynamo-items.ts';
import { GlobalIndex, TTL_ATTRIBUTE } from './table-design.ts';

/**
 * Change locks over the platform's one DynamoDB table, with their own key prefixes; unchanged on
 * dynalite (conditional puts and deletes, Query).
 *
 *   CHANGELOCK#<resource> / LOCK                 the execution that may change the resource
 *   DEFERRED#<resource>   / INCIDENT#<incident>  an alert waiting for the resource's lock; in gsi1 under
 *                                                DEFERRED / <holder's lock expiry>#<resource>#<incident>,
 *                                                so the sweep finds those behind an expired lock
 *
 * The lock's expiry is compared in the condition (epoch milliseconds), not left to DynamoDB's TTL, which
 * deletes expired items only eventually (and dynalite never): an expired lock is taken over at once.
 */

const IsoTime = z.iso.datetime({ offset: true });
const StoredLock = z
  .object({
    resourceKey: z.string().min(1),
    executionId: z.string().min(1),
    runbookId: z.string().min(1),
    acquiredAt: IsoTime,
    expiresAt: IsoTime,
  })
  .strict();
const StoredDeferral = z
  .object({
    resourceKey: z.string().min(1),
    incidentId: z.string().min(1),
    behind: z.string().min(1),
    runbookId: z.string().min(1),
    deferredAt: IsoTime,
    holderExpiresAt: IsoTime,
    expiresAt: IsoTime,
  })
  .strict();

/** Attributes kept on the items for the conditions only, not part of the records. */
const CONDITION_ATTRIBUTES = ['expiresAtMs'] as const;
/** gsi1's partition of the deferred alerts, sorted by their holder's lock expiry. */
const DEFERRED_BY_EXPIRY = 'DEFERRED';

export const ChangeLockKeys = {
  lock: (resourceKey: string): ItemKey => ({ pk: `CHANGELOCK#${part(resourceKey)}`, sk: 'LOCK' }),
  deferred: (resourceKey: string, incidentId: string): ItemKey => ({
    pk: `DEFERRED#${part(resourceKey)}`,
    sk: `INCIDENT#${part(incidentId)}`,
  }),
} as const;

/** A takeover can race with a release (the item vanishes between the refused put and the read): try again. */
const ACQUIRE_ATTEMPTS = 3;

export interface DynamoChangeLocksOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
}

export class DynamoChangeLocks implements ChangeLocks {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly table: ItemTable;

  constructor(options: DynamoChangeLocksOptions) {
    if (!options.tableName)
      throw new ConfigurationError('DynamoChangeLocks: tableName is empty; set the table name');
    this.client = options.client;
    this.tableName = options.tableName;
    this.table = new ItemTable(options.client, options.tableName);
  }

  async acquire(input: ChangeLock): Promise<ChangeLockAnswer> {
    const lock = this.table.input(StoredLock, input, 'acquireChangeLock(lock)');
    const key = ChangeLockKeys.lock(lock.resourceKey);
    const now = Date.parse(lock.acquiredAt);
    for (let attempt = 1; attempt <= ACQUIRE_ATTEMPTS; attempt++) {
      const written = await this.table.conditional('PutItem', key, () =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...key,
              entity: 'ChangeLock',
              ...lock,
              expiresAtMs: Date.parse(lock.expiresAt),
              [TTL_ATTRIBUTE]: epochSeconds(lock.expiresAt),
            },
            // Free, expired, or ours already (a retried classification keeps its lock).
            ConditionExpression:
              'attribute_not_exists(#pk) OR #expiresAtMs <= :now OR #executionId = :executionId',
            ExpressionAttributeNames: {
              '#pk': 'pk',
              '#expiresAtMs': 'expiresAtMs',
              '#executionId': 'executionId',
            },
            ExpressionAttributeValues: { ':now': now, ':executionId': lock.executionId },
          }),
        ),
      );
      if (written !== undefined) return { acquired: true, lock };
      const holder = await this.get(lock.resourceKey);
      if (holder) return { acquired: false, holder };
    }
    // Taken and given back again and again within one call: let the caller's retry decide later.
    throw new StoreConflictError(
      `the change lock on ${lock.resourceKey} changed hands ${ACQUIRE_ATTEMPTS} times while ${lock.executionId} asked for it; classify the alert again`,
      this.tableName,
      key,
    );
  }

  async release(resourceKey: string, executionId: string): Promise<boolean> {
    const key = ChangeLockKeys.lock(resourceKey);
    const deleted = await this.table.conditional('DeleteItem', key, () =>
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key,
          // Only the holder's own: a lock taken over after expiry belongs to its new holder.
          ConditionExpression: '#executionId = :executionId',
          ExpressionAttributeNames: { '#executionId': 'executionId' },
          ExpressionAttributeValues: { ':executionId': executionId },
        }),
      ),
    );
    return deleted !== undefined;
  }

  async renew(resourceKey: string, executionId: string, expiresAt: string): Promise<boolean> {
    const until = this.table.input(IsoTime, expiresAt, 'renewChangeLock(expiresAt)');
    const key = ChangeLockKeys.lock(resourceKey);
    const updated = await this.table.conditional('UpdateItem', key, () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #expiresAt = :expiresAt, #expiresAtMs = :expiresAtMs, #ttl = :ttl',
          // Only the holder's own, expired or not: one taken over after expiry belongs to its new holder.
          ConditionExpression: '#executionId = :executionId',
          ExpressionAttributeNames: {
            '#expiresAt': 'expiresAt',
            '#expiresAtMs': 'expiresAtMs',
            '#ttl': TTL_ATTRIBUTE,
            '#executionId': 'executionId',
          },
          ExpressionAttributeValues: {
            ':expiresAt': until,
            ':expiresAtMs': Date.parse(until),
            ':ttl': epochSeconds(until),
            ':executionId': executionId,
          },
        }),
      ),
    );
    return updated !== undefined;
  }

  async get(resourceKey: string): Promise<ChangeLock | undefined> {
    const key = ChangeLockKeys.lock(resourceKey);
    const item = await this.table.get(key);
    if (!item) return undefined;
    const record = { ...item };
    for (const name of CONDITION_ATTRIBUTES) delete record[name];
    return this.table.record(StoredLock, 'ChangeLock', key, record);
  }

  async defer(input: DeferredAlert): Promise<void> {
    const deferral = this.table.input(StoredDeferral, input, 'deferAlert(deferral)');
    const key = ChangeLockKeys.deferred(deferral.resourceKey, deferral.incidentId);
    await this.table.call('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            entity: 'DeferredAlert',
            ...deferral,
            [GlobalIndex.executionsByStart.partitionKey]: DEFERRED_BY_EXPIRY,
            [GlobalIndex.executionsByStart.sortKey]:
              `${new Date(deferral.holderExpiresAt).toISOString()}#${deferral.resourceKey}#${deferral.incidentId}`,
            [TTL_ATTRIBUTE]: epochSeconds(deferral.expiresAt),
          },
        }),
      ),
    );
  }

  async listDeferred(resourceKey: string): Promise<DeferredAlert[]> {
    const items = await this.table.query(`DEFERRED#${part(resourceKey)}`);
    return items
      .map((item) => this.deferralOf(item))
      .sort((a, b) => a.deferredAt.localeCompare(b.deferredAt));
  }

  async listDeferredDue(now: string): Promise<DeferredAlert[]> {
    const at = new Date(this.table.input(IsoTime, now, 'listDeferredDue(now)')).toISOString();
    const index = GlobalIndex.executionsByStart;
    const keys: ItemKey[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.table.call(
        'Query',
        { pk: DEFERRED_BY_EXPIRY, sk: `(index ${index.name})` },
        () =>
          this.client.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: index.name,
              // `<expiry>#…` sorts before `<now>$` exactly when the expiry is now or earlier.
              KeyConditionExpression: '#pk = :pk AND #sk < :until',
              ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey },
              ExpressionAttributeValues: { ':pk': DEFERRED_BY_EXPIRY, ':until': `${at}$` },
              ...(startKey ? { ExclusiveStartKey: startKey } : {}),
            }),
          ),
      );
      for (const item of page.Items ?? []) keys.push(keyOf(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    // The index holds keys only (and lags the table a little): read each, skipping any gone meanwhile.
    const due: DeferredAlert[] = [];
    for (const key of keys) {
      const item = await this.table.get(key);
      if (item) due.push(this.deferralOf(item));
    }
    return due;
  }

  private deferralOf(item: Record<string, unknown>): DeferredAlert {
    return this.table.record(StoredDeferral, 'DeferredAlert', keyOf(item), item);
  }

  async removeDeferred(resourceKey: string, incidentId: string, behind: string): Promise<void> {
    const key = ChangeLockKeys.deferred(resourceKey, incidentId);
    await this.table.conditional('DeleteItem', key, () =>
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key,
          ConditionExpression: '#behind = :behind',
          ExpressionAttributeNames: { '#behind': 'behind' },
          ExpressionAttributeValues: { ':behind': behind },
        }),
      ),
    );
  }
}

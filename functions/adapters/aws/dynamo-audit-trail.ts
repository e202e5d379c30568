import { createHash, randomBytes } from 'node:crypto';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { AuditEvent, type AuditRecord, auditTrailOf } from '../../core/audit/events.ts';
import { ConfigurationError, ValidationError } from '../../core/errors.ts';
import type { AuditFilter, AuditPage, AuditQuery, AuditTrail } from '../../ports/audit.ts';
import { type Clock, systemClock } from '../../ports/clock.ts';
import {
  backoff,
  CorruptRecordError,
  formatProblems,
  type Item,
  type ItemKey,
  ItemTable,
  utcInstant as instant,
  keyOf,
  keyPart as part,
  recordOf,
  StoreConflictError,
  StoreError,
  zodProblems,
} from './dynamo-items.ts';
import { GlobalIndex, type GlobalIndexDesign, TableKey, TTL_ATTRIBUTE } from './table-design.ts';

/**
 * The audit trail over the Store's table (docs/data-model.md, "Audit trail"). Every event is one item
 * written by a conditional PutItem and never updated or deleted (IAM denies both on `AUDIT#` keys; TTL
 * removes it after the environment's audit retention). Its sort key orders the trail as recorded:
 * the recording time, this process's own count (same-millisecond events keep their order), a random
 * tie-break; `attribute_not_exists` makes a collision a retry, never an overwrite. No counter is shared,
 * so writers never wait on each other. An event with a deterministic id claims an id marker first,
 * which names the key its event goes to: a retried record finds the first copy, or completes it
 * when its first writer stopped between the two writes, and never writes a second.
 */

const SECONDS_PER_DAY = 86_400;
const APPEND_MAX_ATTEMPTS = 5;
const BATCH_GET_MAX_KEYS = 100;
const BATCH_GET_MAX_ATTEMPTS = 10;
export const AUDIT_PAGE_DEFAULT = 100;
export const AUDIT_PAGE_MAX = 1_000;

/** This process's count of events recorded: orders its own events within one millisecond. */
let recorded = 0;

/**
 * `<recordedAt>#<count, base 36, 10 digits>#<tie-break>`: sorts as recorded. The tie-break is random,
 * or for an event with a deterministic id 64 bits of the id's hash: no other event can take that key,
 * so the key its id marker names is this event's alone.
 */
function orderKey(recordedAt: string, id?: string): string {
  recorded = (recorded + 1) % 36 ** 10;
  const tieBreak =
    id === undefined
      ? randomBytes(4).toString('hex')
      : createHash('sha256').update(id).digest('hex').slice(0, 16);
  return `${recordedAt}#${recorded.toString(36).padStart(10, '0')}#${tieBreak}`;
}

export const AuditKeys = {
  event: (trail: string, order: string): ItemKey => ({ pk: `AUDIT#${part(trail)}`, sk: `EVENT#${order}` }),
  eventId: (trail: string, id: string): ItemKey => ({ pk: `AUDIT#${part(trail)}`, sk: `ID#${part(id)}` }),
} as const;

export const AuditPartition = {
  trail: (trail: string) => `AUDIT#${part(trail)}`,
  resource: (resourceKey: string) => `AUDIT#RESOURCE#${part(resourceKey)}`,
  actor: (actorId: string) => `AUDIT#ACTOR#${part(actorId)}`,
} as const;

/** Where each index keeps audit events (both overloaded with other entities' keys, distinct prefixes). */
const ResourceIndex = GlobalIndex.byResource;
const ActorIndex = GlobalIndex.byActor;

const StoredRecord = z.intersection(
  AuditEvent,
  z.object({
    trail: z.string(),
    recordedAt: z.iso.datetime({ offset: true }),
    order: z.string(),
  }),
);
const IdMarker = z.object({ order: z.string() }).passthrough();
const Cursor = z.object({ p: z.string(), k: z.record(z.string(), z.string()) }).strict();

export interface DynamoAuditTrailOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Days an event is kept (the `ttl` attribute; AWS deletes it after). The environment's audit retention. */
  retentionDays: number;
  clock?: Clock;
}

export class DynamoAuditTrail implements AuditTrail {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly table: ItemTable;
  private readonly retentionSeconds: number;
  private readonly clock: Clock;

  constructor(options: DynamoAuditTrailOptions) {
    if (!options.tableName)
      throw new ConfigurationError('DynamoAuditTrail: tableName is empty; set the table name');
    if (!Number.isFinite(options.retentionDays) || options.retentionDays <= 0)
      throw new ConfigurationError(
        `DynamoAuditTrail: retentionDays must be a positive number of days, got ${String(options.retentionDays)}`,
      );
    this.client = options.client;
    this.tableName = options.tableName;
    this.table = new ItemTable(options.client, options.tableName);
    this.retentionSeconds = Math.round(options.retentionDays * SECONDS_PER_DAY);
    this.clock = options.clock ?? systemClock;
  }

  async record(input: AuditEvent, options: { fresh?: boolean } = {}): Promise<AuditRecord> {
    const parsed = AuditEvent.safeParse(input);
    if (!parsed.success) {
      const problems = zodProblems(parsed.error);
      throw new ValidationError(
        `AuditTrail.record: invalid event: ${formatProblems(problems, '(event)')}`,
        problems,
      );
    }
    const event = JSON.parse(JSON.stringify(parsed.data)) as AuditEvent;
    event.at = instant(event.at, 'at');
    const trail = auditTrailOf(event);
    const ttl = Math.ceil(Date.parse(event.at) / 1000) + this.retentionSeconds;
    if (options.fresh) return this.appendFresh(trail, event, ttl);

    // The id's marker is claimed first and names where its event goes: whoever claims it writes the
    // event there; a retry (or a writer racing this one) finds the marker and the event it names,
    // or writes that event itself when its first writer stopped in between. Two writes, and never a
    // second copy.
    const markerKey = AuditKeys.eventId(trail, event.id);
    // Built (and its size checked) before the claim: an event too large to store leaves no marker.
    const own = this.itemAt(trail, event, orderKey(this.clock.now().toISOString(), event.id), ttl);
    const claimed = await this.table.putIfAbsent(markerKey, {
      ...markerKey,
      entity: 'AuditEventId',
      order: own.record.order,
      [TTL_ATTRIBUTE]: ttl,
    });
    if (claimed) return this.putEventAt(trail, event, own);
    const marker = IdMarker.safeParse(await this.table.get(markerKey));
    if (!marker.success)
      throw new CorruptRecordError(
        `AuditTrail.record: the id marker of "${event.id}" in trail "${trail}" (table "${this.tableName}") names no event`,
        this.tableName,
        markerKey,
        zodProblems(marker.error),
      );
    const key = AuditKeys.event(trail, marker.data.order);
    const stored = await this.table.get(key);
    return stored
      ? this.parse(key, stored)
      : this.putEventAt(trail, event, this.itemAt(trail, event, marker.data.order, ttl));
  }

  /** An event whose id was made just now (random): no earlier copy can exist, so no marker is kept. */
  private async appendFresh(trail: string, event: AuditEvent, ttl: number): Promise<AuditRecord> {
    for (let attempt = 0; attempt < APPEND_MAX_ATTEMPTS; attempt++) {
      const order = orderKey(this.clock.now().toISOString());
      const { record, key, item } = this.itemAt(trail, event, order, ttl);
      // The random part collided (never seen in practice): take another key rather than overwrite.
      if (await this.table.putIfAbsent(key, item)) return record;
    }
    throw new StoreConflictError(
      `AuditTrail.record: ${APPEND_MAX_ATTEMPTS} keys for "${event.kind}" (${event.id}) in trail "${trail}" were all taken; try again`,
      this.tableName,
      AuditKeys.eventId(trail, event.id),
    );
  }

  /**
   * Writes the event at the order its marker names. Taken already: by this event (a racing writer of
   * the same id got there first), whose stored copy is the answer; by another event (its id's hash
   * would have to collide), a conflict, never an overwrite.
   */
  private async putEventAt(
    trail: string,
    event: AuditEvent,
    { record, key, item }: ReturnType<DynamoAuditTrail['itemAt']>,
  ): Promise<AuditRecord> {
    if (await this.table.putIfAbsent(key, item)) return record;
    const stored = await this.table.get(key);
    const copy = stored ? this.parse(key, stored) : undefined;
    if (copy?.id === event.id) return copy;
    throw new StoreConflictError(
      `AuditTrail.record: the key its marker names for "${event.kind}" (${event.id}) in trail "${trail}" holds another event`,
      this.tableName,
      key,
    );
  }

  /** The stored record and item of an event at `order` (its recording time leads the order). */
  private itemAt(trail: string, event: AuditEvent, order: string, ttl: number) {
    const recordedAt = order.slice(0, order.indexOf('#'));
    const record = { ...event, trail, recordedAt, order } as AuditRecord;
    const key = AuditKeys.event(trail, order);
    const item: Item = {
      ...key,
      entity: 'AuditEvent',
      ...record,
      ...(event.resourceKey
        ? {
            [ResourceIndex.partitionKey]: AuditPartition.resource(event.resourceKey),
            [ResourceIndex.sortKey]: order,
          }
        : {}),
      [ActorIndex.partitionKey]: AuditPartition.actor(event.actor.id),
      [ActorIndex.sortKey]: order,
      [TTL_ATTRIBUTE]: ttl,
    };
    this.table.assertFits(key, item, 'AuditTrail.record', 'trim its details');
    return { record, key, item };
  }

  async query(filter: AuditFilter, query: AuditQuery = {}): Promise<AuditPage> {
    const limit = query.limit ?? AUDIT_PAGE_DEFAULT;
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_PAGE_MAX)
      throw new ValidationError(`limit must be an integer from 1 to ${AUDIT_PAGE_MAX}, got ${limit}`, [
        { path: 'limit', message: `expected 1..${AUDIT_PAGE_MAX}`, check: 'schema' },
      ]);
    const since = query.since === undefined ? undefined : instant(query.since, 'since');
    const target = this.targetOf(filter);
    const startKey = query.cursor === undefined ? undefined : decodeCursor(query.cursor, target.partition);
    // One match more than asked: a cursor is returned only when another page really exists.
    const items = await this.queryMatches(target, since, startKey, limit + 1);
    const page = items.slice(0, limit);
    const records = target.index
      ? await this.batchGet(page.map(keyOf))
      : page.map((item) => this.parse(keyOf(item), item));
    const seen = new Set<string>();
    // A retry that raced its own first write leaves a second copy with the same id: show it once.
    const events = records.filter((record) => !seen.has(record.id) && seen.add(record.id));
    const last = page.at(-1);
    if (items.length <= limit || last === undefined) return { events };
    const cursorKey: Record<string, string> = { pk: String(last.pk), sk: String(last.sk) };
    if (target.index) {
      cursorKey[target.index.partitionKey] = String(last[target.index.partitionKey]);
      cursorKey[target.index.sortKey] = String(last[target.index.sortKey]);
    }
    return { events, cursor: encodeCursor(target.partition, cursorKey) };
  }

  // -------------------------------------------------------------------------------------------------

  private targetOf(filter: AuditFilter): { partition: string; index?: GlobalIndexDesign } {
    if ('execution' in filter)
      return { partition: AuditPartition.trail(auditTrailOf({ executionId: filter.execution })) };
    if ('incident' in filter)
      return { partition: AuditPartition.trail(auditTrailOf({ incidentId: filter.incident })) };
    if ('resource' in filter)
      return { partition: AuditPartition.resource(filter.resource), index: ResourceIndex };
    if ('actor' in filter) return { partition: AuditPartition.actor(filter.actor), index: ActorIndex };
    return { partition: AuditPartition.trail(auditTrailOf({})) };
  }

  /** Up to `max` items of one partition in order; a trail's events filtered by `since` in the query. */
  private async queryMatches(
    target: { partition: string; index?: GlobalIndexDesign },
    since: string | undefined,
    startKey: Item | undefined,
    max: number,
  ): Promise<Item[]> {
    const names: Record<string, string> = { '#pk': target.index?.partitionKey ?? TableKey.partition };
    const values: Record<string, unknown> = { ':pk': target.partition };
    let condition = '#pk = :pk';
    if (target.index) {
      // Index sort keys start with the recording time: `since` is a key condition.
      if (since !== undefined) {
        names['#sk'] = target.index.sortKey;
        condition += ' AND #sk >= :since';
        values[':since'] = since;
      }
    } else {
      // A trail's sort keys are `EVENT#<recordedAt>#…` (`~` sorts after every character of an order key).
      names['#sk'] = TableKey.sort;
      condition += ' AND #sk BETWEEN :from AND :to';
      values[':from'] = `EVENT#${since ?? ''}`;
      values[':to'] = 'EVENT#~';
    }
    const items: Item[] = [];
    let exclusiveStart = startKey;
    do {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        KeyConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: true,
        Limit: max - items.length,
        ...(target.index ? { IndexName: target.index.name } : { ConsistentRead: true }),
        ...(exclusiveStart ? { ExclusiveStartKey: exclusiveStart } : {}),
      };
      const page = await this.table.call(
        'Query',
        { pk: target.partition, sk: target.index?.name ?? '*' },
        () => this.client.send(new QueryCommand(input)),
      );
      items.push(...((page.Items ?? []) as Item[]));
      exclusiveStart = page.LastEvaluatedKey;
    } while (exclusiveStart !== undefined && items.length < max);
    return items;
  }

  /** BatchGetItem in chunks of 100, retrying unprocessed keys; records in the keys' order. */
  private async batchGet(keys: ItemKey[]): Promise<AuditRecord[]> {
    const found = new Map<string, Item>();
    const id = (key: ItemKey) => `${key.pk}\u0000${key.sk}`;
    for (let start = 0; start < keys.length; start += BATCH_GET_MAX_KEYS) {
      let pending = keys.slice(start, start + BATCH_GET_MAX_KEYS);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= BATCH_GET_MAX_ATTEMPTS)
          throw new StoreError(
            `BatchGetItem on table "${this.tableName}": ${pending.length} audit events still unprocessed after ${BATCH_GET_MAX_ATTEMPTS} attempts; the table is throttled, retry later`,
            this.tableName,
            pending[0],
          );
        if (attempt > 0) await backoff(attempt + 3);
        const request = pending;
        const result = await this.table.call('BatchGetItem', request[0], () =>
          this.client.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: request, ConsistentRead: true } },
            }),
          ),
        );
        for (const item of (result.Responses?.[this.tableName] ?? []) as Item[])
          found.set(id(keyOf(item)), item);
        pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as ItemKey[];
      }
    }
    const records: AuditRecord[] = [];
    for (const key of keys) {
      const item = found.get(id(key));
      // Expired between the index read and the item read: gone, not an error.
      if (item !== undefined) records.push(this.parse(key, item));
    }
    return records;
  }

  private parse(key: ItemKey, item: Item): AuditRecord {
    const parsed = StoredRecord.safeParse(recordOf(item));
    if (parsed.success) return parsed.data as AuditRecord;
    const problems = zodProblems(parsed.error);
    throw new CorruptRecordError(
      `DynamoDB item pk "${key.pk}", sk "${key.sk}" in table "${this.tableName}" is not a valid audit event: ${formatProblems(problems, '(event)')}`,
      this.tableName,
      key,
      problems,
    );
  }
}

function encodeCursor(partition: string, key: Record<string, string>): string {
  return Buffer.from(JSON.stringify({ p: partition, k: key }), 'utf8').toString('base64url');
}

/** A cursor from a page of the same query; anything else is the caller's mistake (400). */
function decodeCursor(cursor: string, partition: string): Item {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const parsed = Cursor.safeParse(value);
  if (!parsed.success || parsed.data.p !== partition)
    throw new ValidationError(
      'cursor is not one a page of this same audit query returned; start again without a cursor',
      [{ path: 'cursor', message: 'unrecognized cursor for this query', check: 'schema' }],
    );
  return parsed.data.k;
}

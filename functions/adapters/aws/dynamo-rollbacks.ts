import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { RunbookAutopilotError } from '../../core/errors.ts';
import { type RollbackPatch, RollbackRecord } from '../../core/rollback/records.ts';
import type { RollbackStore } from '../../ports/rollbacks.ts';
import { type Item, type ItemKey, ItemTable, keyOf, keyPart as part } from './dynamo-items.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

/**
 * RollbackStore on the platform's one table. A rollback lives with its execution
 * (`EXEC#<id>` / `ROLLBACK#<requestedAt>#<rollbackId>`), a pointer finds it by id
 * (`ROLLBACK#<rollbackId>` / `ROLLBACK`), and the execution's one rollback slot is an item written only
 * if absent (`EXEC#<id>` / `ROLLBACK-ACTIVE`). No transaction: the slot is taken first, so a lost race
 * writes nothing else.
 */
export class DynamoRollbackStore implements RollbackStore {
  private readonly table: ItemTable;

  constructor(
    private readonly options: { client: DynamoDBDocumentClient; tableName: string; retentionDays: number },
  ) {
    this.table = new ItemTable(options.client, options.tableName);
  }

  private ttl(): number {
    return Math.floor(Date.now() / 1_000) + this.options.retentionDays * 86_400;
  }

  private recordKey(rollback: Pick<RollbackRecord, 'executionId' | 'requestedAt' | 'id'>): ItemKey {
    return {
      pk: `EXEC#${part(rollback.executionId)}`,
      sk: `ROLLBACK#${new Date(rollback.requestedAt).toISOString()}#${part(rollback.id)}`,
    };
  }

  private slotKey(executionId: string): ItemKey {
    return { pk: `EXEC#${part(executionId)}`, sk: 'ROLLBACK-ACTIVE' };
  }

  private pointerKey(rollbackId: string): ItemKey {
    return { pk: `ROLLBACK#${part(rollbackId)}`, sk: 'ROLLBACK' };
  }

  async create(input: RollbackRecord): Promise<boolean> {
    const rollback = this.table.input(RollbackRecord, input, 'createRollback(rollback)');
    const slot = { entity: 'RollbackSlot', rollbackId: rollback.id };
    if (!(await this.table.putIfAbsent(this.slotKey(rollback.executionId), slot))) return false;
    const ttl = this.ttl();
    await this.put(this.pointerKey(rollback.id), {
      entity: 'RollbackPointer',
      executionId: rollback.executionId,
      requestedAt: rollback.requestedAt,
      [TTL_ATTRIBUTE]: ttl,
    });
    await this.put(this.recordKey(rollback), { entity: 'Rollback', record: rollback, [TTL_ATTRIBUTE]: ttl });
    return true;
  }

  async get(rollbackId: string): Promise<RollbackRecord | undefined> {
    const pointer = await this.table.get(this.pointerKey(rollbackId));
    if (!pointer) return undefined;
    const key = this.recordKey({
      executionId: String(pointer.executionId),
      requestedAt: String(pointer.requestedAt),
      id: rollbackId,
    });
    const item = await this.table.get(key);
    return item ? this.recordIn(key, item) : undefined;
  }

  async list(executionId: string): Promise<RollbackRecord[]> {
    const items = await this.table.query(`EXEC#${part(executionId)}`, { sortKeyPrefix: 'ROLLBACK#' });
    return items.map((item) => this.recordIn(keyOf(item), item));
  }

  async update(rollbackId: string, patch: RollbackPatch): Promise<RollbackRecord> {
    const current = await this.get(rollbackId);
    if (!current) throw new RunbookAutopilotError(`no rollback "${rollbackId}"`);
    const updated = this.table.input(
      RollbackRecord,
      { ...current, ...patch },
      `updateRollback(${rollbackId})`,
    );
    await this.put(this.recordKey(updated), {
      entity: 'Rollback',
      record: updated,
      [TTL_ATTRIBUTE]: this.ttl(),
    });
    return updated;
  }

  async finish(rollbackId: string, patch: RollbackPatch): Promise<RollbackRecord> {
    const updated = await this.update(rollbackId, patch);
    const slot = this.slotKey(updated.executionId);
    // Freed already (a redelivered finish: the condition fails): nothing of ours to give back.
    await this.table.conditional('DeleteItem', slot, () =>
      this.table.client.send(
        new DeleteCommand({
          TableName: this.table.tableName,
          Key: slot,
          ConditionExpression: 'rollbackId = :id',
          ExpressionAttributeValues: { ':id': rollbackId },
        }),
      ),
    );
    return updated;
  }

  /** A rollback item holds its record under `record`. */
  private recordIn(key: ItemKey, item: Item): RollbackRecord {
    return this.table.record(RollbackRecord, 'RollbackRecord', key, (item.record ?? {}) as Item);
  }

  private async put(key: ItemKey, item: Item): Promise<void> {
    await this.table.call('PutItem', key, () =>
      this.table.client.send(new PutCommand({ TableName: this.table.tableName, Item: { ...item, ...key } })),
    );
  }
}

import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { RunbookAutopilotError } from '../../core/errors.ts';
import { type RollbackPatch, RollbackRecord } from '../../core/rollback/records.ts';
import type { RollbackStore } from '../../ports/rollbacks.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

const part = (value: string): string => encodeURIComponent(value);

/**
 * RollbackStore on the platform's one table. A rollback lives with its execution
 * (`EXEC#<id>` / `ROLLBACK#<requestedAt>#<rollbackId>`), a pointer finds it by id
 * (`ROLLBACK#<rollbackId>` / `ROLLBACK`), and the execution's one rollback slot is an item written only
 * if absent (`EXEC#<id>` / `ROLLBACK-ACTIVE`). No transaction: the slot is taken first, so a lost race
 * writes nothing else.
 */
export class DynamoRollbackStore implements RollbackStore {
  constructor(
    private readonly options: { client: DynamoDBDocumentClient; tableName: string; retentionDays: number },
  ) {}

  private ttl(): number {
    return Math.floor(Date.now() / 1_000) + this.options.retentionDays * 86_400;
  }

  private recordKey(rollback: Pick<RollbackRecord, 'executionId' | 'requestedAt' | 'id'>) {
    return {
      pk: `EXEC#${part(rollback.executionId)}`,
      sk: `ROLLBACK#${new Date(rollback.requestedAt).toISOString()}#${part(rollback.id)}`,
    };
  }

  private slotKey(executionId: string) {
    return { pk: `EXEC#${part(executionId)}`, sk: 'ROLLBACK-ACTIVE' };
  }

  private pointerKey(rollbackId: string) {
    return { pk: `ROLLBACK#${part(rollbackId)}`, sk: 'ROLLBACK' };
  }

  async create(input: RollbackRecord): Promise<boolean> {
    const rollback = RollbackRecord.parse(input);
    const { client, tableName } = this.options;
    try {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...this.slotKey(rollback.executionId), entity: 'RollbackSlot', rollbackId: rollback.id },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
    const ttl = this.ttl();
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...this.pointerKey(rollback.id),
          entity: 'RollbackPointer',
          executionId: rollback.executionId,
          requestedAt: rollback.requestedAt,
          [TTL_ATTRIBUTE]: ttl,
        },
      }),
    );
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...this.recordKey(rollback), entity: 'Rollback', record: rollback, [TTL_ATTRIBUTE]: ttl },
      }),
    );
    return true;
  }

  async get(rollbackId: string): Promise<RollbackRecord | undefined> {
    const { client, tableName } = this.options;
    const { Item: pointer } = await client.send(
      new GetCommand({ TableName: tableName, Key: this.pointerKey(rollbackId), ConsistentRead: true }),
    );
    if (!pointer) return undefined;
    const { Item } = await client.send(
      new GetCommand({
        TableName: tableName,
        Key: this.recordKey({
          executionId: pointer.executionId as string,
          requestedAt: pointer.requestedAt as string,
          id: rollbackId,
        }),
        ConsistentRead: true,
      }),
    );
    return Item ? RollbackRecord.parse(Item.record) : undefined;
  }

  async list(executionId: string): Promise<RollbackRecord[]> {
    const { client, tableName } = this.options;
    const records: RollbackRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': `EXEC#${part(executionId)}`, ':prefix': 'ROLLBACK#' },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) records.push(RollbackRecord.parse(item.record));
      start = page.LastEvaluatedKey;
    } while (start);
    return records;
  }

  async update(rollbackId: string, patch: RollbackPatch): Promise<RollbackRecord> {
    const current = await this.get(rollbackId);
    if (!current) throw new RunbookAutopilotError(`no rollback "${rollbackId}"`);
    const updated = RollbackRecord.parse({ ...current, ...patch });
    await this.options.client.send(
      new PutCommand({
        TableName: this.options.tableName,
        Item: {
          ...this.recordKey(updated),
          entity: 'Rollback',
          record: updated,
          [TTL_ATTRIBUTE]: this.ttl(),
        },
      }),
    );
    return updated;
  }

  async finish(rollbackId: string, patch: RollbackPatch): Promise<RollbackRecord> {
    const updated = await this.update(rollbackId, patch);
    try {
      await this.options.client.send(
        new DeleteCommand({
          TableName: this.options.tableName,
          Key: this.slotKey(updated.executionId),
          ConditionExpression: 'rollbackId = :id',
          ExpressionAttributeValues: { ':id': rollbackId },
        }),
      );
    } catch (error) {
      // Freed already (a redelivered finish): nothing of ours to give back.
      if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
    }
    return updated;
  }
}

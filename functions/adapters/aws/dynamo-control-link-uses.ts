import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ControlLinkUse, ControlLinkUses } from '../../ports/control-link-uses.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

/** A used link is remembered a day past its expiry (after that the signature refuses it anyway). */
const KEEP_AFTER_EXPIRY_SECONDS = 86_400;

function key(nonce: string) {
  return { pk: `LINKUSE#${encodeURIComponent(nonce)}`, sk: 'USE' };
}

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** ControlLinkUses on the platform's one table: `LINKUSE#<nonce>` / `USE`, written only if absent. */
export class DynamoControlLinkUses implements ControlLinkUses {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string }) {}

  async claim(use: ControlLinkUse): Promise<boolean> {
    const ttl = Math.floor(Date.parse(use.expiresAt) / 1_000) + KEEP_AFTER_EXPIRY_SECONDS;
    try {
      await this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { ...key(use.nonce), entity: 'ControlLinkUse', ...use, [TTL_ATTRIBUTE]: ttl },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async get(nonce: string): Promise<ControlLinkUse | undefined> {
    const { Item } = await this.options.client.send(
      new GetCommand({ TableName: this.options.tableName, Key: key(nonce), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    const { nonce: stored, executionId, action, recipient, usedAt, expiresAt } = Item as ControlLinkUse;
    return { nonce: stored, executionId, action, recipient, usedAt, expiresAt };
  }

  async release(use: Pick<ControlLinkUse, 'nonce' | 'usedAt'>): Promise<void> {
    try {
      await this.options.client.send(
        new DeleteCommand({
          TableName: this.options.tableName,
          Key: key(use.nonce),
          ConditionExpression: 'usedAt = :usedAt',
          ExpressionAttributeValues: { ':usedAt': use.usedAt },
        }),
      );
    } catch (error) {
      // Another use's claim, or none: nothing of ours to give back.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}

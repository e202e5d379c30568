import { DeleteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ControlLinkUse, ControlLinkUses } from '../../ports/control-link-uses.ts';
import { ItemTable, keyPart as part } from './dynamo-items.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

/** A used link is remembered a day past its expiry (after that the signature refuses it anyway). */
const KEEP_AFTER_EXPIRY_SECONDS = 86_400;

function key(nonce: string) {
  return { pk: `LINKUSE#${part(nonce)}`, sk: 'USE' };
}

/** ControlLinkUses on the platform's one table: `LINKUSE#<nonce>` / `USE`, written only if absent. */
export class DynamoControlLinkUses implements ControlLinkUses {
  private readonly table: ItemTable;

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.table = new ItemTable(options.client, options.tableName);
  }

  async claim(use: ControlLinkUse): Promise<boolean> {
    const ttl = Math.floor(Date.parse(use.expiresAt) / 1_000) + KEEP_AFTER_EXPIRY_SECONDS;
    return this.table.putIfAbsent(key(use.nonce), { entity: 'ControlLinkUse', ...use, [TTL_ATTRIBUTE]: ttl });
  }

  async get(nonce: string): Promise<ControlLinkUse | undefined> {
    const item = await this.table.get(key(nonce));
    if (!item) return undefined;
    const {
      nonce: stored,
      executionId,
      action,
      recipient,
      usedAt,
      expiresAt,
    } = item as unknown as ControlLinkUse;
    return { nonce: stored, executionId, action, recipient, usedAt, expiresAt };
  }

  async release(use: Pick<ControlLinkUse, 'nonce' | 'usedAt'>): Promise<void> {
    // Another use's claim, or none (the condition fails): nothing of ours to give back.
    await this.table.conditional('DeleteItem', key(use.nonce), () =>
      this.table.client.send(
        new DeleteCommand({
          TableName: this.table.tableName,
          Key: key(use.nonce),
          ConditionExpression: 'usedAt = :usedAt',
          ExpressionAttributeValues: { ':usedAt': use.usedAt },
        }),
      ),
    );
  }
}

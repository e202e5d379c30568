import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { ExecutionFeedback } from '../../core/feedback/records.ts';
import type { FollowUps } from '../../ports/follow-ups.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

const noticeKey = (executionId: string) => ({ pk: `FINALNOTICE#${executionId}`, sk: 'NOTICE' });
const feedbackPartition = (runbookId: string) => `FEEDBACK#${runbookId}`;
/** Recipients are encoded so `#` in a name cannot reach another execution's prefix. */
const feedbackSort = (executionId: string, recipient?: string) =>
  `${executionId}#${recipient === undefined ? '' : encodeURIComponent(recipient)}`;

/**
 * FollowUps on the platform's one table: `FINALNOTICE#<execution>` / `NOTICE` (claimed once), and
 * `FEEDBACK#<runbook>` / `<execution>#<recipient>` (written only if absent), kept `retentionDays`.
 */
export class DynamoFollowUps implements FollowUps {
  constructor(
    private readonly options: { client: DynamoDBDocumentClient; tableName: string; retentionDays: number },
  ) {}

  private ttl(at: string): number {
    return Math.floor(Date.parse(at) / 1_000) + this.options.retentionDays * 86_400;
  }

  private async putIfAbsent(item: Record<string, unknown>): Promise<boolean> {
    try {
      await this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  claimFinalNotice(executionId: string, at: string): Promise<boolean> {
    return this.putIfAbsent({
      ...noticeKey(executionId),
      entity: 'FinalNotice',
      executionId,
      claimedAt: at,
      [TTL_ATTRIBUTE]: this.ttl(at),
    });
  }

  async releaseFinalNotice(executionId: string, at: string): Promise<void> {
    try {
      await this.options.client.send(
        new DeleteCommand({
          TableName: this.options.tableName,
          Key: noticeKey(executionId),
          ConditionExpression: 'claimedAt = :at',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  recordFeedback(feedback: ExecutionFeedback): Promise<boolean> {
    return this.putIfAbsent({
      pk: feedbackPartition(feedback.runbookId),
      sk: feedbackSort(feedback.executionId, feedback.recipient),
      entity: 'ExecutionFeedback',
      ...ExecutionFeedback.parse(feedback),
      [TTL_ATTRIBUTE]: this.ttl(feedback.at),
    });
  }

  async getFeedback(
    runbookId: string,
    executionId: string,
    recipient: string,
  ): Promise<ExecutionFeedback | undefined> {
    const { Item } = await this.options.client.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: feedbackPartition(runbookId), sk: feedbackSort(executionId, recipient) },
        ConsistentRead: true,
      }),
    );
    return Item ? parse(Item) : undefined;
  }

  async listExecutionFeedback(runbookId: string, executionId: string): Promise<ExecutionFeedback[]> {
    const items = await this.query(runbookId, feedbackSort(executionId));
    return items.map(parse).sort((a, b) => a.at.localeCompare(b.at));
  }

  async listRunbookFeedback(runbookId: string, since: string): Promise<ExecutionFeedback[]> {
    const items = await this.query(runbookId);
    return items
      .map(parse)
      .filter((entry) => entry.at >= since)
      .sort((a, b) => a.at.localeCompare(b.at));
  }

  private async query(runbookId: string, prefix?: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
          ExpressionAttributeValues: {
            ':pk': feedbackPartition(runbookId),
            ...(prefix ? { ':prefix': prefix } : {}),
          },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
    } while (start);
    return items;
  }
}

function parse(item: Record<string, unknown>): ExecutionFeedback {
  const { executionId, runbookId, environment, recipient, helpful, reason, stepId, at } = item;
  return ExecutionFeedback.parse({
    executionId,
    runbookId,
    environment,
    recipient,
    helpful,
    ...(reason === undefined ? {} : { reason }),
    ...(stepId === undefined ? {} : { stepId }),
    at,
  });
}

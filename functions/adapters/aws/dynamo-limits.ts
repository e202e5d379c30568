import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { ConfigurationError, RunbookAutopilotError, ValidationError } from '../../core/errors.ts';
import { ResourceKind } from '../../core/limits/blast-radius.ts';
import { RiskAssessment } from '../../core/risk/assessment.ts';
import type { BudgetAnswer, BudgetRequest, ChangeMade, LimitStore } from '../../ports/limits.ts';
import { CorruptRecordError, type ItemKey, StoreError } from './dynamo-store.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

/**
 * The LimitStore over the platform's one DynamoDB table (the same one DynamoStore uses), with its own
 * key prefixes. It runs unchanged on dynalite: conditional updates and Query only.
 *
 *   LIMIT#<scope>        / WINDOW#<hour>                       hourly change budget (used, members)
 *   CHANGES#<resource>   / <at>#<execution>#<step>#<attempt>   a change made to a resource
 *   RISK#<execution>     / <target>                            latest risk assessment of a target
 */

const part = (value: string): string => encodeURIComponent(value);

function instant(value: string, field: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new ValidationError(`${field}: "${value}" is not an ISO 8601 date-time`, [
      { path: field, message: 'expected an ISO 8601 date-time', check: 'schema' },
    ]);
  return new Date(ms).toISOString();
}

export const LimitKeys = {
  budget: (scope: string, windowStart: string): ItemKey => ({
    pk: `LIMIT#${part(scope)}`,
    sk: `WINDOW#${instant(windowStart, 'windowStart')}`,
  }),
  change: (
    change: Pick<ChangeMade, 'resourceKey' | 'at' | 'executionId' | 'stepId' | 'attempt'>,
  ): ItemKey => ({
    pk: `CHANGES#${part(change.resourceKey)}`,
    sk: `${instant(change.at, 'at')}#${part(change.executionId)}#${part(change.stepId)}#${String(change.attempt).padStart(4, '0')}`,
  }),
  risk: (executionId: string, target: string): ItemKey => ({
    pk: `RISK#${part(executionId)}`,
    sk: part(target),
  }),
} as const;

const StoredChange = z
  .object({
    resourceKey: z.string(),
    at: z.iso.datetime({ offset: true }),
    executionId: z.string(),
    stepId: z.string(),
    attempt: z.number().int().min(1),
    tool: z.string(),
    kind: ResourceKind,
    count: z.number().int().min(0),
    expiresAt: z.iso.datetime({ offset: true }),
  })
  .strict();

const KEY_ATTRIBUTES = new Set(['pk', 'sk', 'entity', TTL_ATTRIBUTE]);

function epochSeconds(iso: string): number {
  return Math.ceil(Date.parse(iso) / 1000);
}

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function validCount(value: number, where: string): void {
  if (!Number.isInteger(value) || value < 0)
    throw new ValidationError(`${where}: must be a whole number ≥ 0, got ${String(value)}`, [
      { path: where, message: 'expected a whole number ≥ 0', check: 'schema' },
    ]);
}

export interface DynamoLimitStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Days an assessment is kept (the `ttl` attribute; counters and changes expire with their window). */
  retentionDays: number;
}

export class DynamoLimitStore implements LimitStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly retentionSeconds: number;

  constructor(options: DynamoLimitStoreOptions) {
    if (!options.tableName)
      throw new ConfigurationError('DynamoLimitStore: tableName is empty; set the table name');
    if (!Number.isFinite(options.retentionDays) || options.retentionDays <= 0)
      throw new ConfigurationError(
        `DynamoLimitStore: retentionDays must be a positive number of days, got ${String(options.retentionDays)}`,
      );
    this.client = options.client;
    this.tableName = options.tableName;
    this.retentionSeconds = Math.round(options.retentionDays * 86_400);
  }

  // Budgets -----------------------------------------------------------------------------------------

  async consumeBudget(request: BudgetRequest): Promise<BudgetAnswer> {
    validCount(request.count, 'consumeBudget(count)');
    validCount(request.max, 'consumeBudget(max)');
    const key = LimitKeys.budget(request.scope, request.windowStart);
    const expiresAt = instant(request.expiresAt, 'expiresAt');
    const room = request.max - request.count;
    if (room >= 0) {
      try {
        // Only this change's uses, only if they fit: two runbooks racing for the last room cannot both win.
        const result = await this.call('UpdateItem', key, () =>
          this.client.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: key,
              UpdateExpression:
                'ADD #used :count, #members :member SET #entity = :entity, #scope = :scope, #windowStart = :windowStart, #expiresAt = :expiresAt, #ttl = :ttl',
              ConditionExpression:
                '(attribute_not_exists(#used) OR #used <= :room) AND NOT contains(#members, :memberName)',
              ExpressionAttributeNames: {
                '#used': 'used',
                '#members': 'members',
                '#entity': 'entity',
                '#scope': 'scope',
                '#windowStart': 'windowStart',
                '#expiresAt': 'expiresAt',
                '#ttl': TTL_ATTRIBUTE,
              },
              ExpressionAttributeValues: {
                ':count': request.count,
                ':member': new Set([request.member]),
                ':memberName': request.member,
                ':entity': 'ChangeBudget',
                ':scope': request.scope,
                ':windowStart': key.sk.slice('WINDOW#'.length),
                ':expiresAt': expiresAt,
                ':ttl': epochSeconds(expiresAt),
                ':room': room,
              },
              ReturnValues: 'ALL_NEW',
            }),
          ),
        );
        return { consumed: true, already: false, used: Number(result.Attributes?.used ?? request.count) };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
    }
    // Refused: either this change was counted before (a retry: nothing more to add) or it does not fit.
    const current = await this.readBudget(key);
    if (current.members.has(request.member)) return { consumed: true, already: true, used: current.used };
    return { consumed: false, already: false, used: current.used };
  }

  async releaseBudget(request: Omit<BudgetRequest, 'max' | 'expiresAt'>): Promise<void> {
    validCount(request.count, 'releaseBudget(count)');
    const key = LimitKeys.budget(request.scope, request.windowStart);
    try {
      await this.call('UpdateItem', key, () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'ADD #used :minus DELETE #members :member',
            // Only what this member added, once: a second release finds it gone.
            ConditionExpression: 'contains(#members, :memberName)',
            ExpressionAttributeNames: { '#used': 'used', '#members': 'members' },
            ExpressionAttributeValues: {
              ':minus': -request.count,
              ':member': new Set([request.member]),
              ':memberName': request.member,
            },
          }),
        ),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async budgetUsed(scope: string, windowStart: string): Promise<number> {
    return (await this.readBudget(LimitKeys.budget(scope, windowStart))).used;
  }

  private async readBudget(key: ItemKey): Promise<{ used: number; members: Set<string> }> {
    const result = await this.call('GetItem', key, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    const item = result.Item;
    return {
      used: Number(item?.used ?? 0),
      members: (item?.members as Set<string> | undefined) ?? new Set<string>(),
    };
  }

  // Changes per resource -------------------------------------------------------------------------------

  async recordChange(change: ChangeMade): Promise<void> {
    const parsed = StoredChange.safeParse(change);
    if (!parsed.success)
      throw new ValidationError(
        `recordChange(change): invalid input: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
        parsed.error.issues.map((issue) => ({
          path: issue.path.join('.'),
          message: issue.message,
          check: 'schema',
        })),
      );
    const key = LimitKeys.change(change);
    try {
      // Append-only: the same change recorded twice (a retry) keeps the first.
      await this.call('PutItem', key, () =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...key,
              entity: 'ChangeMade',
              ...parsed.data,
              [TTL_ATTRIBUTE]: epochSeconds(change.expiresAt),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async listChanges(resourceKey: string, since: string): Promise<ChangeMade[]> {
    const pk = `CHANGES#${part(resourceKey)}`;
    const items = await this.query(pk, { from: instant(since, 'since') });
    return items.map((item) => this.parse(StoredChange, 'ChangeMade', item));
  }

  // Risk assessments -----------------------------------------------------------------------------------

  async putRiskAssessment(assessment: RiskAssessment): Promise<void> {
    const parsed = RiskAssessment.safeParse(assessment);
    if (!parsed.success)
      throw new ValidationError(
        `putRiskAssessment(assessment): invalid input: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
        parsed.error.issues.map((issue) => ({
          path: issue.path.join('.'),
          message: issue.message,
          check: 'schema',
        })),
      );
    const key = LimitKeys.risk(assessment.executionId, assessment.target);
    const item = JSON.parse(JSON.stringify(parsed.data)) as Record<string, unknown>;
    await this.call('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            entity: 'RiskAssessment',
            ...item,
            [TTL_ATTRIBUTE]: Math.ceil(Date.parse(assessment.assessedAt) / 1000) + this.retentionSeconds,
          },
        }),
      ),
    );
  }

  async getRiskAssessment(executionId: string, target: string): Promise<RiskAssessment | undefined> {
    const key = LimitKeys.risk(executionId, target);
    const result = await this.call('GetItem', key, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return result.Item ? this.parse(RiskAssessment, 'RiskAssessment', result.Item) : undefined;
  }

  async listRiskAssessments(executionId: string): Promise<RiskAssessment[]> {
    const items = await this.query(`RISK#${part(executionId)}`, {});
    return items
      .map((item) => this.parse(RiskAssessment, 'RiskAssessment', item))
      .sort((a, b) => a.assessedAt.localeCompare(b.assessedAt));
  }

  // Helpers ----------------------------------------------------------------------------------------------

  private async query(pk: string, range: { from?: string }): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        KeyConditionExpression: range.from === undefined ? '#pk = :pk' : '#pk = :pk AND #sk >= :from',
        ExpressionAttributeNames: range.from === undefined ? { '#pk': 'pk' } : { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues:
          range.from === undefined ? { ':pk': pk } : { ':pk': pk, ':from': range.from },
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      };
      const page = await this.call('Query', { pk, sk: '*' }, () => this.client.send(new QueryCommand(input)));
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  private parse<T>(schema: z.ZodType<T>, entity: string, item: Record<string, unknown>): T {
    const record: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(item)) if (!KEY_ATTRIBUTES.has(name)) record[name] = value;
    const result = schema.safeParse(record);
    if (result.success) return result.data;
    const problems = result.error.issues.map((issue) => ({
      path: issue.path.join('.'),
      message: issue.message,
      check: 'schema',
    }));
    const key = { pk: String(item.pk), sk: String(item.sk) };
    throw new CorruptRecordError(
      `DynamoDB item pk "${key.pk}", sk "${key.sk}" in table "${this.tableName}" is not a valid ${entity}: ${problems.map((problem) => `${problem.path || '(record)'}: ${problem.message}`).join('; ')}. Repair or delete the item.`,
      this.tableName,
      key,
      problems,
    );
  }

  private async call<T>(operation: string, key: ItemKey, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof RunbookAutopilotError || isConditionalCheckFailed(error)) throw error;
      throw new StoreError(
        `DynamoDB ${operation} on table "${this.tableName}" at pk "${key.pk}", sk "${key.sk}" failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        this.tableName,
        key,
        { cause: error },
      );
    }
  }
}

import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ConfigurationError, ValidationError } from '../../core/errors.ts';
import { ResourceKind } from '../../core/limits/blast-radius.ts';
import { RiskAssessment } from '../../core/risk/assessment.ts';
import type { BudgetAnswer, BudgetRequest, ChangeMade, LimitStore } from '../../ports/limits.ts';
import {
  epochSeconds,
  type ItemKey,
  ItemTable,
  utcInstant as instant,
  keyOf,
  keyPart as part,
} from './dynamo-items.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

/**
 * The LimitStore over the platform's one DynamoDB table (the same one DynamoStore uses), with its own
 * key prefixes. It runs unchanged on dynalite: conditional updates and Query only.
 *
 *   LIMIT#<scope>        / WINDOW#<hour>                       hourly change budget (used, members)
 *   CHANGES#<resource>   / <at>#<execution>#<step>#<attempt>   a change made to a resource
 *   RISK#<execution>     / <target>                            latest risk assessment of a target
 */

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
  private readonly table: ItemTable;
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
    this.table = new ItemTable(options.client, options.tableName);
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
      // Only this change's uses, only if they fit: two runbooks racing for the last room cannot both win.
      const result = await this.table.conditional('UpdateItem', key, () =>
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
      if (result !== undefined)
        return { consumed: true, already: false, used: Number(result.Attributes?.used ?? request.count) };
    }
    // Refused: either this change was counted before (a retry: nothing more to add) or it does not fit.
    const current = await this.readBudget(key);
    if (current.members.has(request.member)) return { consumed: true, already: true, used: current.used };
    return { consumed: false, already: false, used: current.used };
  }

  async releaseBudget(request: Omit<BudgetRequest, 'max' | 'expiresAt'>): Promise<void> {
    validCount(request.count, 'releaseBudget(count)');
    const key = LimitKeys.budget(request.scope, request.windowStart);
    await this.table.conditional('UpdateItem', key, () =>
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
  }

  async budgetUsed(scope: string, windowStart: string): Promise<number> {
    return (await this.readBudget(LimitKeys.budget(scope, windowStart))).used;
  }

  private async readBudget(key: ItemKey): Promise<{ used: number; members: Set<string> }> {
    const item = await this.table.get(key);
    return {
      used: Number(item?.used ?? 0),
      members: (item?.members as Set<string> | undefined) ?? new Set<string>(),
    };
  }

  // Changes per resource -------------------------------------------------------------------------------

  async recordChange(change: ChangeMade): Promise<void> {
    const record = this.table.input(StoredChange, change, 'recordChange(change)');
    // Append-only: the same change recorded twice (a retry) keeps the first.
    await this.table.putIfAbsent(LimitKeys.change(change), {
      entity: 'ChangeMade',
      ...record,
      [TTL_ATTRIBUTE]: epochSeconds(change.expiresAt),
    });
  }

  async listChanges(resourceKey: string, since: string): Promise<ChangeMade[]> {
    const pk = `CHANGES#${part(resourceKey)}`;
    const items = await this.table.query(pk, { sortKeyFrom: instant(since, 'since') });
    return items.map((item) => this.table.record(StoredChange, 'ChangeMade', keyOf(item), item));
  }

  // Risk assessments -----------------------------------------------------------------------------------

  async putRiskAssessment(assessment: RiskAssessment): Promise<void> {
    const item = this.table.input(RiskAssessment, assessment, 'putRiskAssessment(assessment)');
    const key = LimitKeys.risk(assessment.executionId, assessment.target);
    await this.table.call('PutItem', key, () =>
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
    const item = await this.table.get(key);
    return item ? this.table.record(RiskAssessment, 'RiskAssessment', key, item) : undefined;
  }

  async listRiskAssessments(executionId: string): Promise<RiskAssessment[]> {
    const items = await this.table.query(`RISK#${part(executionId)}`);
    return items
      .map((item) => this.table.record(RiskAssessment, 'RiskAssessment', keyOf(item), item))
      .sort((a, b) => a.assessedAt.localeCompare(b.assessedAt));
  }
}

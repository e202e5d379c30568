import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import { AutomationRun, HumanAction } from '../../core/automation/evidence.ts';
import {
  AlertCounts,
  type AlertDecisionCounted,
  AlertDecisionCounted as AlertDecisionSchema,
  LevelChange,
  LevelRecord,
  SafetyIncident,
} from '../../core/automation/records.ts';
import { ConfigurationError, RunbookAutopilotError, ValidationError } from '../../core/errors.ts';
import type { AutomationStore } from '../../ports/automation.ts';
import { CorruptRecordError, type ItemKey, StoreError } from './dynamo-store.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

/**
 * The AutomationStore on the Store's table. Keys (each kind its own prefix, ids URI-encoded):
 *   LEVEL#<env>                 RUNBOOK#<id>                   the stored level (conditional on version)
 *   LEVELCHANGE#<env>#<id>      <at>#<change id>               its history, append-only
 *   AUTORUN#<env>#<runbook>     <startedAt>#<execution id>     one derived record per finished run
 *   HUMAN#<execution id>        <at>#<action id>               what people reported doing, append-only
 *   SAFETYINCIDENT#<env>        <at>#<incident id>             safety incidents, append-only
 *   ALERTCOUNT#<env>            DAY#<yyyy-mm-dd>               new alerts per decision (atomic ADD)
 * Levels and their history never expire; the rest carries the records' TTL.
 */

const part = (value: string): string => encodeURIComponent(value);

export const AutomationKeys = {
  level: (environment: string, runbookId: string): ItemKey => ({
    pk: `LEVEL#${part(environment)}`,
    sk: `RUNBOOK#${part(runbookId)}`,
  }),
  levelChange: (change: Pick<LevelChange, 'environment' | 'runbookId' | 'at' | 'id'>): ItemKey => ({
    pk: `LEVELCHANGE#${part(change.environment)}#${part(change.runbookId)}`,
    sk: `${utc(change.at)}#${part(change.id)}`,
  }),
  run: (run: Pick<AutomationRun, 'environment' | 'runbookId' | 'startedAt' | 'executionId'>): ItemKey => ({
    pk: `AUTORUN#${part(run.environment)}#${part(run.runbookId)}`,
    sk: `${utc(run.startedAt)}#${part(run.executionId)}`,
  }),
  humanAction: (action: Pick<HumanAction, 'executionId' | 'at' | 'id'>): ItemKey => ({
    pk: `HUMAN#${part(action.executionId)}`,
    sk: `${utc(action.at)}#${part(action.id)}`,
  }),
  safetyIncident: (incident: Pick<SafetyIncident, 'environment' | 'at' | 'id'>): ItemKey => ({
    pk: `SAFETYINCIDENT#${part(incident.environment)}`,
    sk: `${utc(incident.at)}#${part(incident.id)}`,
  }),
  alertCount: (environment: string, day: string): ItemKey => ({
    pk: `ALERTCOUNT#${part(environment)}`,
    sk: `DAY#${day}`,
  }),
} as const;

/** Sort keys order as time does: instants normalized to UTC milliseconds. */
function utc(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms))
    throw new ValidationError(`"${iso}" is not an ISO 8601 date-time`, [
      { path: 'at', message: 'expected an ISO 8601 date-time', check: 'schema' },
    ]);
  return new Date(ms).toISOString();
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export interface DynamoAutomationStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Runs, actions, incidents and counts expire after this (DynamoDB TTL on AWS); levels never do. */
  retentionDays: number;
}

type Item = Record<string, unknown>;

export class DynamoAutomationStore implements AutomationStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly retentionSeconds: number;

  constructor(options: DynamoAutomationStoreOptions) {
    if (!options.tableName)
      throw new ConfigurationError('DynamoAutomationStore: tableName is empty; set the table name');
    if (!Number.isFinite(options.retentionDays) || options.retentionDays <= 0)
      throw new ConfigurationError(
        `DynamoAutomationStore: retentionDays must be a positive number of days, got ${String(options.retentionDays)}`,
      );
    this.client = options.client;
    this.tableName = options.tableName;
    this.retentionSeconds = Math.round(options.retentionDays * 86_400);
  }

  // Levels -----------------------------------------------------------------------------------------

  async getLevel(environment: string, runbookId: string): Promise<LevelRecord | undefined> {
    const key = AutomationKeys.level(environment, runbookId);
    const result = await this.call('GetItem', key, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return result.Item ? this.parse(LevelRecord, 'LevelRecord', key, result.Item) : undefined;
  }

  async listLevels(environment: string): Promise<LevelRecord[]> {
    const items = await this.query(`LEVEL#${part(environment)}`);
    return items.map((item) => this.parse(LevelRecord, 'LevelRecord', keyOf(item), item));
  }

  async setLevel(input: LevelRecord, expectedVersion: number): Promise<boolean> {
    const record = this.valid(LevelRecord, input, 'setLevel(record)');
    if (record.version !== expectedVersion + 1)
      throw new ValidationError(
        `setLevel(record): version ${record.version} must be expectedVersion + 1 (${expectedVersion + 1})`,
        [{ path: 'version', message: 'must be expectedVersion + 1', check: 'schema' }],
      );
    const key = AutomationKeys.level(record.environment, record.runbookId);
    const written = await this.conditional('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, entity: 'AutomationLevel', ...plain(record) },
          ...(expectedVersion === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#version = :expected',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':expected': expectedVersion },
              }),
        }),
      ),
    );
    if (!written) return false;
    // The record carries its change, so the latest change is never lost if this append is not made.
    await this.putIfAbsent(AutomationKeys.levelChange(record.lastChange), {
      entity: 'AutomationLevelChange',
      ...plain(record.lastChange),
    });
    return true;
  }

  async listLevelChanges(environment: string, runbookId: string, limit: number): Promise<LevelChange[]> {
    const max = Math.max(1, Math.min(limit, 1_000));
    const [items, current] = await Promise.all([
      this.query(`LEVELCHANGE#${part(environment)}#${part(runbookId)}`, { newestFirst: true, max }),
      this.getLevel(environment, runbookId),
    ]);
    const changes = items.map((item) => this.parse(LevelChange, 'LevelChange', keyOf(item), item));
    // The level is written before its history entry: a reader in between still sees the current change.
    if (current && !changes.some((change) => change.id === current.lastChange.id)) {
      changes.push(current.lastChange);
      changes.sort((a, b) => b.at.localeCompare(a.at) || b.id.localeCompare(a.id));
    }
    return changes.slice(0, max);
  }

  // Runs -------------------------------------------------------------------------------------------

  async putRun(input: AutomationRun): Promise<void> {
    const run = this.valid(AutomationRun, input, 'putRun(run)');
    const key = AutomationKeys.run(run);
    await this.call('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, entity: 'AutomationRun', [TTL_ATTRIBUTE]: this.ttl(run.stoppedAt), ...plain(run) },
        }),
      ),
    );
  }

  async getRun(
    run: Pick<AutomationRun, 'environment' | 'runbookId' | 'startedAt' | 'executionId'>,
  ): Promise<AutomationRun | undefined> {
    const key = AutomationKeys.run(run);
    const result = await this.call('GetItem', key, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return result.Item ? this.parse(AutomationRun, 'AutomationRun', key, result.Item) : undefined;
  }

  async listRuns(environment: string, runbookId: string, since: string): Promise<AutomationRun[]> {
    const items = await this.query(`AUTORUN#${part(environment)}#${part(runbookId)}`, {
      sortKeyFrom: utc(since),
    });
    return items.map((item) => this.parse(AutomationRun, 'AutomationRun', keyOf(item), item));
  }

  // People's actions -----------------------------------------------------------------------------

  async recordHumanAction(input: HumanAction): Promise<boolean> {
    const action = this.valid(HumanAction, input, 'recordHumanAction(action)');
    return this.putIfAbsent(AutomationKeys.humanAction(action), {
      entity: 'HumanAction',
      [TTL_ATTRIBUTE]: this.ttl(action.at),
      ...plain(action),
    });
  }

  async listHumanActions(executionId: string): Promise<HumanAction[]> {
    const items = await this.query(`HUMAN#${part(executionId)}`);
    return items.map((item) => this.parse(HumanAction, 'HumanAction', keyOf(item), item));
  }

  // Safety incidents -----------------------------------------------------------------------------

  async recordSafetyIncident(input: SafetyIncident): Promise<boolean> {
    const incident = this.valid(SafetyIncident, input, 'recordSafetyIncident(incident)');
    // One per id whatever its time: the id is the occurrence, the time only orders the list.
    const marker = { pk: `SAFETYINCIDENT#${part(incident.environment)}#ID`, sk: part(incident.id) };
    if (
      !(await this.putIfAbsent(marker, {
        entity: 'SafetyIncidentId',
        [TTL_ATTRIBUTE]: this.ttl(incident.at),
      }))
    )
      return false;
    await this.putIfAbsent(AutomationKeys.safetyIncident(incident), {
      entity: 'SafetyIncident',
      [TTL_ATTRIBUTE]: this.ttl(incident.at),
      ...plain(incident),
    });
    return true;
  }

  async listSafetyIncidents(environment: string, since: string): Promise<SafetyIncident[]> {
    const items = await this.query(`SAFETYINCIDENT#${part(environment)}`, {
      sortKeyFrom: utc(since),
      newestFirst: true,
    });
    return items.map((item) => this.parse(SafetyIncident, 'SafetyIncident', keyOf(item), item));
  }

  // Coverage -------------------------------------------------------------------------------------

  async countAlert(environment: string, day: string, decision: AlertDecisionCounted): Promise<void> {
    if (!DAY.test(day))
      throw new ValidationError(`countAlert: day "${day}" is not YYYY-MM-DD`, [
        { path: 'day', message: 'expected YYYY-MM-DD', check: 'schema' },
      ]);
    const counted = this.valid(AlertDecisionSchema, decision, 'countAlert(decision)');
    const key = AutomationKeys.alertCount(environment, day);
    await this.call('UpdateItem', key, () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'ADD #count :one SET #day = :day, #entity = :entity, #ttl = :ttl',
          ExpressionAttributeNames: {
            '#count': counted,
            '#day': 'day',
            '#entity': 'entity',
            '#ttl': TTL_ATTRIBUTE,
          },
          ExpressionAttributeValues: {
            ':one': 1,
            ':day': day,
            ':entity': 'AlertCounts',
            ':ttl': this.ttl(`${day}T00:00:00.000Z`),
          },
        }),
      ),
    );
  }

  async listAlertCounts(environment: string, sinceDay: string): Promise<AlertCounts[]> {
    const items = await this.query(`ALERTCOUNT#${part(environment)}`, { sortKeyFrom: `DAY#${sinceDay}` });
    return items.map((item) => this.parse(AlertCounts, 'AlertCounts', keyOf(item), item));
  }

  // Helpers ----------------------------------------------------------------------------------------

  private ttl(from: string): number {
    return Math.ceil(Date.parse(from) / 1_000) + this.retentionSeconds;
  }

  private async query(
    partition: string,
    options: { sortKeyFrom?: string; newestFirst?: boolean; max?: number } = {},
  ): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    const max = options.max ?? Number.POSITIVE_INFINITY;
    do {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        KeyConditionExpression:
          options.sortKeyFrom === undefined ? '#pk = :pk' : '#pk = :pk AND #sk >= :from',
        ExpressionAttributeNames: {
          '#pk': 'pk',
          ...(options.sortKeyFrom === undefined ? {} : { '#sk': 'sk' }),
        },
        ExpressionAttributeValues: {
          ':pk': partition,
          ...(options.sortKeyFrom === undefined ? {} : { ':from': options.sortKeyFrom }),
        },
        ScanIndexForward: !options.newestFirst,
        ConsistentRead: true,
        ...(Number.isFinite(max) ? { Limit: max - items.length } : {}),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      };
      const page = await this.call('Query', { pk: partition, sk: '*' }, () =>
        this.client.send(new QueryCommand(input)),
      );
      items.push(...((page.Items ?? []) as Item[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && items.length < max);
    return items;
  }

  private async putIfAbsent(key: ItemKey, item: Item): Promise<boolean> {
    const written = await this.conditional('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, ...item },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    return written !== undefined;
  }

  private valid<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
      check: 'schema',
    }));
    throw new ValidationError(
      `${where}: ${problems.map((problem) => `${problem.path || '(record)'}: ${problem.message}`).join('; ')}`,
      problems,
    );
  }

  private parse<T>(schema: z.ZodType<T>, entity: string, key: ItemKey, item: Item): T {
    const { pk: _pk, sk: _sk, entity: _entity, [TTL_ATTRIBUTE]: _ttl, ...record } = item;
    const parsed = schema.safeParse(record);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
      check: 'schema',
    }));
    throw new CorruptRecordError(
      `${entity} at pk "${key.pk}", sk "${key.sk}" does not match its schema: ${problems.map((problem) => `${problem.path}: ${problem.message}`).join('; ')}`,
      this.tableName,
      key,
      problems,
    );
  }

  private async call<T>(operation: string, key: ItemKey, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof RunbookAutopilotError) throw error;
      throw new StoreError(
        `DynamoDB ${operation} on table "${this.tableName}" at pk "${key.pk.slice(0, 120)}" failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        this.tableName,
        key,
        { cause: error },
      );
    }
  }

  /** A failed condition is an answer (undefined), not an error. */
  private async conditional<T>(
    operation: string,
    key: ItemKey,
    send: () => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return undefined;
      return this.call(operation, key, () => Promise.reject(error));
    }
  }
}

function keyOf(item: Item): ItemKey {
  return { pk: String(item.pk), sk: String(item.sk) };
}

/** Records are JSON (they cross Step Functions); this also drops `undefined` members. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AutomationRun, HumanAction } from '../../core/automation/evidence.ts';
import {
  AlertCounts,
  type AlertDecisionCounted,
  AlertDecisionCounted as AlertDecisionSchema,
  LevelChange,
  LevelRecord,
  SafetyIncident,
} from '../../core/automation/records.ts';
import { ConfigurationError, ValidationError } from '../../core/errors.ts';
import type { AutomationStore } from '../../ports/automation.ts';
import { type ItemKey, ItemTable, keyOf, keyPart as part, plainJson } from './dynamo-items.ts';
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

export class DynamoAutomationStore implements AutomationStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly table: ItemTable;
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
    this.table = new ItemTable(options.client, options.tableName);
    this.retentionSeconds = Math.round(options.retentionDays * 86_400);
  }

  // Levels -----------------------------------------------------------------------------------------

  async getLevel(environment: string, runbookId: string): Promise<LevelRecord | undefined> {
    const key = AutomationKeys.level(environment, runbookId);
    const item = await this.table.get(key);
    return item ? this.table.record(LevelRecord, 'LevelRecord', key, item) : undefined;
  }

  async listLevels(environment: string): Promise<LevelRecord[]> {
    const items = await this.table.query(`LEVEL#${part(environment)}`);
    return items.map((item) => this.table.record(LevelRecord, 'LevelRecord', keyOf(item), item));
  }

  async setLevel(input: LevelRecord, expectedVersion: number): Promise<boolean> {
    const record = this.table.input(LevelRecord, input, 'setLevel(record)');
    if (record.version !== expectedVersion + 1)
      throw new ValidationError(
        `setLevel(record): version ${record.version} must be expectedVersion + 1 (${expectedVersion + 1})`,
        [{ path: 'version', message: 'must be expectedVersion + 1', check: 'schema' }],
      );
    const key = AutomationKeys.level(record.environment, record.runbookId);
    const written = await this.table.conditional('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, entity: 'AutomationLevel', ...plainJson(record) },
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
    await this.table.putIfAbsent(AutomationKeys.levelChange(record.lastChange), {
      entity: 'AutomationLevelChange',
      ...plainJson(record.lastChange),
    });
    return true;
  }

  async listLevelChanges(environment: string, runbookId: string, limit: number): Promise<LevelChange[]> {
    const max = Math.max(1, Math.min(limit, 1_000));
    const [items, current] = await Promise.all([
      this.table.query(`LEVELCHANGE#${part(environment)}#${part(runbookId)}`, { newestFirst: true, max }),
      this.getLevel(environment, runbookId),
    ]);
    const changes = items.map((item) => this.table.record(LevelChange, 'LevelChange', keyOf(item), item));
    // The level is written before its history entry: a reader in between still sees the current change.
    if (current && !changes.some((change) => change.id === current.lastChange.id)) {
      changes.push(current.lastChange);
      changes.sort((a, b) => b.at.localeCompare(a.at) || b.id.localeCompare(a.id));
    }
    return changes.slice(0, max);
  }

  // Runs -------------------------------------------------------------------------------------------

  async putRun(input: AutomationRun): Promise<void> {
    const run = this.table.input(AutomationRun, input, 'putRun(run)');
    const key = AutomationKeys.run(run);
    await this.table.call('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            entity: 'AutomationRun',
            [TTL_ATTRIBUTE]: this.ttl(run.stoppedAt),
            ...plainJson(run),
          },
        }),
      ),
    );
  }

  async getRun(
    run: Pick<AutomationRun, 'environment' | 'runbookId' | 'startedAt' | 'executionId'>,
  ): Promise<AutomationRun | undefined> {
    const key = AutomationKeys.run(run);
    const item = await this.table.get(key);
    return item ? this.table.record(AutomationRun, 'AutomationRun', key, item) : undefined;
  }

  async listRuns(environment: string, runbookId: string, since: string): Promise<AutomationRun[]> {
    const items = await this.table.query(`AUTORUN#${part(environment)}#${part(runbookId)}`, {
      sortKeyFrom: utc(since),
    });
    return items.map((item) => this.table.record(AutomationRun, 'AutomationRun', keyOf(item), item));
  }

  // People's actions -----------------------------------------------------------------------------

  async recordHumanAction(input: HumanAction): Promise<boolean> {
    const action = this.table.input(HumanAction, input, 'recordHumanAction(action)');
    return this.table.putIfAbsent(AutomationKeys.humanAction(action), {
      entity: 'HumanAction',
      [TTL_ATTRIBUTE]: this.ttl(action.at),
      ...plainJson(action),
    });
  }

  async listHumanActions(executionId: string): Promise<HumanAction[]> {
    const items = await this.table.query(`HUMAN#${part(executionId)}`);
    return items.map((item) => this.table.record(HumanAction, 'HumanAction', keyOf(item), item));
  }

  // Safety incidents -----------------------------------------------------------------------------

  async recordSafetyIncident(input: SafetyIncident): Promise<boolean> {
    const incident = this.table.input(SafetyIncident, input, 'recordSafetyIncident(incident)');
    // One per id whatever its time: the id is the occurrence, the time only orders the list.
    const marker = { pk: `SAFETYINCIDENT#${part(incident.environment)}#ID`, sk: part(incident.id) };
    if (
      !(await this.table.putIfAbsent(marker, {
        entity: 'SafetyIncidentId',
        [TTL_ATTRIBUTE]: this.ttl(incident.at),
      }))
    )
      return false;
    await this.table.putIfAbsent(AutomationKeys.safetyIncident(incident), {
      entity: 'SafetyIncident',
      [TTL_ATTRIBUTE]: this.ttl(incident.at),
      ...plainJson(incident),
    });
    return true;
  }

  async listSafetyIncidents(environment: string, since: string): Promise<SafetyIncident[]> {
    const items = await this.table.query(`SAFETYINCIDENT#${part(environment)}`, {
      sortKeyFrom: utc(since),
      newestFirst: true,
    });
    return items.map((item) => this.table.record(SafetyIncident, 'SafetyIncident', keyOf(item), item));
  }

  // Coverage -------------------------------------------------------------------------------------

  async countAlert(environment: string, day: string, decision: AlertDecisionCounted): Promise<void> {
    if (!DAY.test(day))
      throw new ValidationError(`countAlert: day "${day}" is not YYYY-MM-DD`, [
        { path: 'day', message: 'expected YYYY-MM-DD', check: 'schema' },
      ]);
    const counted = this.table.input(AlertDecisionSchema, decision, 'countAlert(decision)');
    const key = AutomationKeys.alertCount(environment, day);
    await this.table.call('UpdateItem', key, () =>
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
    const items = await this.table.query(`ALERTCOUNT#${part(environment)}`, {
      sortKeyFrom: `DAY#${sinceDay}`,
    });
    return items.map((item) => this.table.record(AlertCounts, 'AlertCounts', keyOf(item), item));
  }

  // Helpers ----------------------------------------------------------------------------------------

  private ttl(from: string): number {
    return Math.ceil(Date.parse(from) / 1_000) + this.retentionSeconds;
  }
}

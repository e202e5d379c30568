import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConfigurationError, ValidationError } from '../../core/errors.ts';
import { CircuitBreaker, HealthBaseline } from '../../core/watch/records.ts';
import type { WatchStore } from '../../ports/watch.ts';
import { type ItemKey, ItemTable, keyOf, keyPart as part, plainJson } from './dynamo-items.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

/**
 * The WatchStore on the platform's one table (the same one DynamoStore uses), with its own keys; it runs
 * unchanged on dynalite (conditional puts and Query only):
 *   WATCH#<execution id>   BASELINE                         the health baseline, written once
 *   WATCH#<execution id>   STUCK#<step id>#<attempt>        a stuck attempt's alarm, claimed once
 *   BREAKER#<environment>  RUNBOOK#<runbook id>             a runbook's circuit breaker (versioned)
 * Baselines and claims carry the records' TTL; breakers never expire.
 */

export const WatchKeys = {
  baseline: (executionId: string): ItemKey => ({ pk: `WATCH#${part(executionId)}`, sk: 'BASELINE' }),
  stuck: (executionId: string, stepId: string, attempt: number): ItemKey => ({
    pk: `WATCH#${part(executionId)}`,
    sk: `STUCK#${part(stepId)}#${String(attempt).padStart(4, '0')}`,
  }),
  breaker: (environment: string, runbookId: string): ItemKey => ({
    pk: `BREAKER#${part(environment)}`,
    sk: `RUNBOOK#${part(runbookId)}`,
  }),
} as const;

export interface DynamoWatchStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Baselines and stuck claims expire after this (DynamoDB TTL on AWS); breakers never do. */
  retentionDays: number;
}

export class DynamoWatchStore implements WatchStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly table: ItemTable;
  private readonly retentionSeconds: number;

  constructor(options: DynamoWatchStoreOptions) {
    if (!options.tableName)
      throw new ConfigurationError('DynamoWatchStore: tableName is empty; set the table name');
    if (!Number.isFinite(options.retentionDays) || options.retentionDays <= 0)
      throw new ConfigurationError(
        `DynamoWatchStore: retentionDays must be a positive number of days, got ${String(options.retentionDays)}`,
      );
    this.client = options.client;
    this.tableName = options.tableName;
    this.table = new ItemTable(options.client, options.tableName);
    this.retentionSeconds = Math.round(options.retentionDays * 86_400);
  }

  // Baselines --------------------------------------------------------------------------------------

  async putBaseline(input: HealthBaseline): Promise<{ stored: boolean; baseline: HealthBaseline }> {
    const baseline = this.table.input(HealthBaseline, input, 'putBaseline(baseline)');
    const key = WatchKeys.baseline(baseline.executionId);
    const stored = await this.table.putIfAbsent(key, {
      entity: 'HealthBaseline',
      [TTL_ATTRIBUTE]: this.ttl(baseline.takenAt),
      ...plainJson(baseline),
    });
    if (stored) return { stored: true, baseline };
    // Two changes raced: the first one's baseline is the one before any change.
    const existing = await this.getBaseline(baseline.executionId);
    return { stored: false, baseline: existing ?? baseline };
  }

  async getBaseline(executionId: string): Promise<HealthBaseline | undefined> {
    const key = WatchKeys.baseline(executionId);
    const item = await this.table.get(key);
    return item ? this.table.record(HealthBaseline, 'HealthBaseline', key, item) : undefined;
  }

  // Stuck steps ------------------------------------------------------------------------------------

  async claimStuck(executionId: string, stepId: string, attempt: number, at: string): Promise<boolean> {
    if (!Number.isInteger(attempt) || attempt < 1)
      throw new ValidationError(`claimStuck: attempt must be a whole number ≥ 1, got ${String(attempt)}`, [
        { path: 'attempt', message: 'expected a whole number ≥ 1', check: 'schema' },
      ]);
    const ms = Date.parse(at);
    if (Number.isNaN(ms))
      throw new ValidationError(`claimStuck: "${at}" is not an ISO 8601 date-time`, [
        { path: 'at', message: 'expected an ISO 8601 date-time', check: 'schema' },
      ]);
    return this.table.putIfAbsent(WatchKeys.stuck(executionId, stepId, attempt), {
      entity: 'StuckStep',
      executionId,
      stepId,
      attempt,
      at: new Date(ms).toISOString(),
      [TTL_ATTRIBUTE]: this.ttl(at),
    });
  }

  // Circuit breakers -------------------------------------------------------------------------------

  async getBreaker(environment: string, runbookId: string): Promise<CircuitBreaker | undefined> {
    const key = WatchKeys.breaker(environment, runbookId);
    const item = await this.table.get(key);
    return item ? this.table.record(CircuitBreaker, 'CircuitBreaker', key, item) : undefined;
  }

  async listBreakers(environment: string): Promise<CircuitBreaker[]> {
    const partition = `BREAKER#${part(environment)}`;
    const items = await this.table.query(partition);
    return items.map((item) => this.table.record(CircuitBreaker, 'CircuitBreaker', keyOf(item), item));
  }

  async putBreaker(input: CircuitBreaker, expectedVersion: number): Promise<boolean> {
    const breaker = this.table.input(CircuitBreaker, input, 'putBreaker(breaker)');
    if (breaker.version !== expectedVersion + 1)
      throw new ValidationError(
        `putBreaker(breaker): version ${breaker.version} must be expectedVersion + 1 (${expectedVersion + 1})`,
        [{ path: 'version', message: 'must be expectedVersion + 1', check: 'schema' }],
      );
    const key = WatchKeys.breaker(breaker.environment, breaker.runbookId);
    const written = await this.table.conditional('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, entity: 'CircuitBreaker', ...plainJson(breaker) },
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
    return written !== undefined;
  }

  // Helpers ----------------------------------------------------------------------------------------

  private ttl(from: string): number {
    return Math.ceil(Date.parse(from) / 1_000) + this.retentionSeconds;
  }
}

import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import { ConfigurationError, RunbookAutopilotError, ValidationError } from '../../core/errors.ts';
import { CircuitBreaker, HealthBaseline } from '../../core/watch/records.ts';
import type { WatchStore } from '../../ports/watch.ts';
import { CorruptRecordError, type ItemKey, StoreError } from './dynamo-store.ts';
import { TTL_ATTRIBUTE } from './table-design.ts';

/**
 * The WatchStore on the platform's one table (the same one DynamoStore uses), with its own keys; it runs
 * unchanged on dynalite (conditional puts and Query only):
 *   WATCH#<execution id>   BASELINE                         the health baseline, written once
 *   WATCH#<execution id>   STUCK#<step id>#<attempt>        a stuck attempt's alarm, claimed once
 *   BREAKER#<environment>  RUNBOOK#<runbook id>             a runbook's circuit breaker (versioned)
 * Baselines and claims carry the records' TTL; breakers never expire.
 */

const part = (value: string): string => encodeURIComponent(value);

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

type Item = Record<string, unknown>;

export class DynamoWatchStore implements WatchStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
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
    this.retentionSeconds = Math.round(options.retentionDays * 86_400);
  }

  // Baselines --------------------------------------------------------------------------------------

  async putBaseline(input: HealthBaseline): Promise<{ stored: boolean; baseline: HealthBaseline }> {
    const baseline = this.valid(HealthBaseline, input, 'putBaseline(baseline)');
    const key = WatchKeys.baseline(baseline.executionId);
    const stored = await this.putIfAbsent(key, {
      entity: 'HealthBaseline',
      [TTL_ATTRIBUTE]: this.ttl(baseline.takenAt),
      ...plain(baseline),
    });
    if (stored) return { stored: true, baseline };
    // Two changes raced: the first one's baseline is the one before any change.
    const existing = await this.getBaseline(baseline.executionId);
    return { stored: false, baseline: existing ?? baseline };
  }

  async getBaseline(executionId: string): Promise<HealthBaseline | undefined> {
    const key = WatchKeys.baseline(executionId);
    const result = await this.call('GetItem', key, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return result.Item ? this.parse(HealthBaseline, 'HealthBaseline', key, result.Item) : undefined;
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
    return this.putIfAbsent(WatchKeys.stuck(executionId, stepId, attempt), {
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
    const result = await this.call('GetItem', key, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return result.Item ? this.parse(CircuitBreaker, 'CircuitBreaker', key, result.Item) : undefined;
  }

  async listBreakers(environment: string): Promise<CircuitBreaker[]> {
    const partition = `BREAKER#${part(environment)}`;
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':pk': partition },
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      };
      const page = await this.call('Query', { pk: partition, sk: '*' }, () =>
        this.client.send(new QueryCommand(input)),
      );
      items.push(...((page.Items ?? []) as Item[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items.map((item) =>
      this.parse(CircuitBreaker, 'CircuitBreaker', { pk: String(item.pk), sk: String(item.sk) }, item),
    );
  }

  async putBreaker(input: CircuitBreaker, expectedVersion: number): Promise<boolean> {
    const breaker = this.valid(CircuitBreaker, input, 'putBreaker(breaker)');
    if (breaker.version !== expectedVersion + 1)
      throw new ValidationError(
        `putBreaker(breaker): version ${breaker.version} must be expectedVersion + 1 (${expectedVersion + 1})`,
        [{ path: 'version', message: 'must be expectedVersion + 1', check: 'schema' }],
      );
    const key = WatchKeys.breaker(breaker.environment, breaker.runbookId);
    const written = await this.conditional('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, entity: 'CircuitBreaker', ...plain(breaker) },
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

/** Records are JSON; this also drops `undefined` members. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

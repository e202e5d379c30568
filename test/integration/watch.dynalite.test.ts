import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoWatchStore, WatchKeys } from '../../functions/adapters/aws/dynamo-watch.ts';
import { TTL_ATTRIBUTE } from '../../functions/adapters/aws/table-design.ts';
import { ConfigurationError, ValidationError } from '../../functions/core/errors.ts';
import { contractBaseline, contractBreaker, describeWatchStoreContract } from '../contract/watch.contract.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';

describeWatchStoreContract('DynamoWatchStore on dynalite', async () => {
  const table = await startDynalite();
  return {
    watch: new DynamoWatchStore({ client: table.client, tableName: table.tableName, retentionDays: 30 }),
    teardown: table.stop,
  };
});

describe('DynamoWatchStore on dynalite: items', () => {
  let table: DynaliteTable;
  let watch: DynamoWatchStore;

  beforeEach(async () => {
    table = await startDynalite();
    watch = new DynamoWatchStore({ client: table.client, tableName: table.tableName, retentionDays: 30 });
  });
  afterEach(async () => {
    await table.stop();
  });

  const itemAt = async (key: { pk: string; sk: string }) =>
    (await table.client.send(new GetCommand({ TableName: table.tableName, Key: key }))).Item;

  it('keeps a breaker under BREAKER#<environment> for good, and a baseline for the records’ retention', async () => {
    // Act
    await watch.putBreaker(contractBreaker(), 0);
    await watch.putBaseline(contractBaseline());

    // Assess
    const breakerKey = WatchKeys.breaker('prod', 'scale-unwatched');
    expect(breakerKey).toEqual({ pk: 'BREAKER#prod', sk: 'RUNBOOK#scale-unwatched' });
    const breaker = await itemAt(breakerKey);
    expect(breaker).toMatchObject({ entity: 'CircuitBreaker', state: 'open', version: 1 });
    expect(breaker?.[TTL_ATTRIBUTE]).toBeUndefined();
    const baseline = await itemAt(WatchKeys.baseline('restart-watched-0001'));
    expect(baseline).toMatchObject({ entity: 'HealthBaseline', beforeStep: 'rollout-restart' });
    expect(baseline?.[TTL_ATTRIBUTE]).toBe(Date.parse('2026-11-25T10:00:05.000Z') / 1000 + 30 * 86_400);
  });

  it('refuses records that are not ones, naming the field, and a store without a table', async () => {
    // Act
    const badBaseline = watch.putBaseline({ ...contractBaseline(), takenAt: 'yesterday' });
    const badBreaker = watch.putBreaker({ ...contractBreaker(), state: 'half-open' as 'open' }, 0);
    const badAttempt = watch.claimStuck('exec-1', 'drain', 0, '2026-11-25T10:05:00.000Z');

    // Assess
    await expect(badBaseline).rejects.toThrow(ValidationError);
    await expect(badBaseline).rejects.toThrow(/takenAt/);
    await expect(badBreaker).rejects.toThrow(/state/);
    await expect(badAttempt).rejects.toThrow(/attempt must be a whole number ≥ 1, got 0/);
    expect(() => new DynamoWatchStore({ client: table.client, tableName: '', retentionDays: 30 })).toThrow(
      ConfigurationError,
    );
  });
});

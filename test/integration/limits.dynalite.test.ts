import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoLimitStore, LimitKeys } from '../../functions/adapters/aws/dynamo-limits.ts';
import { TTL_ATTRIBUTE } from '../../functions/adapters/aws/table-design.ts';
import { ValidationError } from '../../functions/core/errors.ts';
import { contractAssessment, describeLimitStoreContract } from '../contract/limits.contract.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';

describeLimitStoreContract('DynamoLimitStore on dynalite', async () => {
  const table = await startDynalite();
  return {
    limits: new DynamoLimitStore({ client: table.client, tableName: table.tableName, retentionDays: 30 }),
    teardown: table.stop,
  };
});

describe('DynamoLimitStore on dynalite: items', () => {
  let table: DynaliteTable;
  let limits: DynamoLimitStore;

  beforeEach(async () => {
    table = await startDynalite();
    limits = new DynamoLimitStore({ client: table.client, tableName: table.tableName, retentionDays: 30 });
  });
  afterEach(async () => {
    await table.stop();
  });

  it('a budget window expires an hour after it ends (TTL) and says what it counts', async () => {
    // Act
    await limits.consumeBudget({
      scope: 'aws:111111111111/eu-west-1/ec2',
      windowStart: '2026-03-02T03:00:00Z',
      count: 1,
      max: 2,
      member: 'exec#reboot#1',
      expiresAt: '2026-03-02T05:00:00Z',
    });

    // Assess
    const key = LimitKeys.budget('aws:111111111111/eu-west-1/ec2', '2026-03-02T03:00:00Z');
    const { Item } = await table.client.send(new GetCommand({ TableName: table.tableName, Key: key }));
    expect(key.pk).toBe('LIMIT#aws%3A111111111111%2Feu-west-1%2Fec2');
    expect(Item).toMatchObject({
      entity: 'ChangeBudget',
      used: 1,
      scope: 'aws:111111111111/eu-west-1/ec2',
      windowStart: '2026-03-02T03:00:00.000Z',
      [TTL_ATTRIBUTE]: Date.parse('2026-03-02T05:00:00Z') / 1000,
    });
  });

  it('refuses an assessment that is not one, naming the field', async () => {
    // Act
    const put = limits.putRiskAssessment({ ...contractAssessment(), score: 140 });

    // Assess
    await expect(put).rejects.toThrow(ValidationError);
    await expect(put).rejects.toThrow(/score/);
  });
});

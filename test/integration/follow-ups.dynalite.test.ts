import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoFollowUps } from '../../functions/adapters/aws/dynamo-follow-ups.ts';
import type { ExecutionFeedback } from '../../functions/core/feedback/records.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';

/** The follow-up items on a real DynamoDB API: one final notice per execution, one answer per person. */

function answer(executionId: string, recipient: string, at: string, helpful = true): ExecutionFeedback {
  return { executionId, runbookId: 'scale-out', environment: 'prod', recipient, helpful, at };
}

describe('DynamoFollowUps (dynalite)', () => {
  let table: DynaliteTable;
  let followUps: DynamoFollowUps;

  beforeEach(async () => {
    table = await startDynalite();
    followUps = new DynamoFollowUps({ client: table.client, tableName: table.tableName, retentionDays: 90 });
  });
  afterEach(() => table.stop());

  it('lets exactly one caller claim the final notice; a release by another claim changes nothing', async () => {
    // Act
    const claims = await Promise.all(
      Array.from({ length: 5 }, () => followUps.claimFinalNotice('exec-1', '2026-11-25T10:00:00.000Z')),
    );
    await followUps.releaseFinalNotice('exec-1', '2026-11-25T09:00:00.000Z');
    const afterForeignRelease = await followUps.claimFinalNotice('exec-1', '2026-11-25T10:01:00.000Z');
    await followUps.releaseFinalNotice('exec-1', '2026-11-25T10:00:00.000Z');
    const afterRelease = await followUps.claimFinalNotice('exec-1', '2026-11-25T10:02:00.000Z');

    // Assess
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(afterForeignRelease).toBe(false);
    expect(afterRelease).toBe(true);
  });

  it('records one answer per person and execution, and lists by execution (no prefix leak) and by runbook', async () => {
    // Act
    const first = await followUps.recordFeedback(
      answer('exec-1', 'a#b@example.com', '2026-11-25T10:00:00.000Z'),
    );
    const second = await followUps.recordFeedback(
      answer('exec-1', 'a#b@example.com', '2026-11-25T10:05:00.000Z', false),
    );
    await followUps.recordFeedback(answer('exec-10', 'a#b@example.com', '2026-11-25T11:00:00.000Z'));
    await followUps.recordFeedback(answer('exec-1', 'oncall@example.com', '2026-11-25T09:00:00.000Z', false));

    // Assess
    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(await followUps.getFeedback('scale-out', 'exec-1', 'a#b@example.com')).toMatchObject({
      helpful: true,
    });
    expect(
      (await followUps.listExecutionFeedback('scale-out', 'exec-1')).map((entry) => entry.recipient),
    ).toEqual(['oncall@example.com', 'a#b@example.com']);
    expect(await followUps.listRunbookFeedback('scale-out', '2026-11-25T09:30:00.000Z')).toHaveLength(2);
    expect(await followUps.listRunbookFeedback('other-runbook', '2026-01-01T00:00:00.000Z')).toEqual([]);
  });
});

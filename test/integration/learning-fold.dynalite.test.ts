import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoLearningFolds, FoldKeys } from '../../functions/adapters/aws/dynamo-learning-folds.ts';
import { DynamoStore } from '../../functions/adapters/aws/dynamo-store.ts';
import { startLocalDatabase } from '../../functions/adapters/local/database.ts';
import { recomputedAggregate, runsForStepStatistics } from '../../functions/core/learning/fold.ts';
import type { ExecutionRecord, StepOutcome } from '../../functions/core/records.ts';
import { LearningService } from '../../functions/core/services/learning.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import { main } from '../../local/cli.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';
import { POD_MEMORY_GROWTH, podMemoryRun as run, seedRuns } from '../support/learning-history.ts';
import { loadRunbook, ROOT } from '../support/runbooks.ts';

/**
 * The incremental learning aggregate on a real DynamoDB API (dynalite): separate learning recorders
 * (as concurrent Lambdas, no lock between them) folding different executions into one aggregate lose
 * none of them; a fold delivered twice changes nothing; the result is the full recompute's.
 */

const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const START = Date.parse('2026-11-20T00:00:00Z');
const HOUR = 3_600_000;
const clock: Clock = { now: () => new Date(START + 200 * HOUR) };

/** A packed attribute of a fold item (gzipped JSON), read back. */
const unpack = (value: Uint8Array) => JSON.parse(gunzipSync(value).toString('utf8'));

/** Commands sent to the table, by name, and how many writes lost their condition. */
function countCommands(table: DynaliteTable) {
  const counts = { total: 0, conflicts: 0, byCommand: new Map<string, number>() };
  const send = table.client.send.bind(table.client) as (command: object) => Promise<unknown>;
  (table.client as unknown as { send: (command: object) => Promise<unknown> }).send = async (command) => {
    const name = command.constructor.name;
    counts.total++;
    counts.byCommand.set(name, (counts.byCommand.get(name) ?? 0) + 1);
    try {
      return await send(command);
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') counts.conflicts++;
      throw error;
    }
  };
  return counts;
}

describe('folding stopped executions into a runbook aggregate (dynalite)', () => {
  let table: DynaliteTable;
  let store: DynamoStore;
  let executions: ExecutionRecord[];
  let outcomes: StepOutcome[][];

  const recorder = () =>
    new LearningService({
      store,
      clock,
      logger: quiet,
      runbooks: () => [RUNBOOK],
      folds: new DynamoLearningFolds({ client: table.client, tableName: table.tableName, retentionDays: 90 }),
    });

  /** The aggregate as the full recompute computes it from every record in the store. */
  async function recomputed() {
    const now = clock.now();
    const inWindow = await store.listExecutionsByRunbook(
      RUNBOOK.id,
      new Date(now.getTime() - 90 * 86_400_000).toISOString(),
    );
    const recent = runsForStepStatistics(inWindow, now);
    const steps = await Promise.all(recent.map((execution) => store.listStepOutcomes(execution.id)));
    return recomputedAggregate(RUNBOOK.id, inWindow, recent, steps, RUNBOOK, now);
  }

  /** Records runs `from`…`to` as the step runner and the Record task leave them. */
  async function record(from: number, to: number, finished = true) {
    for (let index = from; index < to; index++) {
      const execution = executions[index]!;
      const stored = finished
        ? execution
        : (({ outcome: _outcome, stoppedAt: _stoppedAt, ...running }) => ({
            ...running,
            status: 'running' as const,
          }))(execution);
      await store.createExecution(stored);
      for (const outcome of outcomes[index]!) await store.putStepOutcome(outcome);
    }
  }

  beforeEach(async () => {
    table = await startDynalite();
    store = new DynamoStore({ client: table.client, tableName: table.tableName, retentionDays: 90 });
    ({ executions, outcomes } = seedRuns(
      RUNBOOK,
      Array.from({ length: 40 }, (_, index) =>
        index % 5 === 0
          ? run({ podStatus: { status: 'timed-out', durationMs: 30_000 }, namespace: 'payments' })
          : run({ memory: 60 + ((index * 7) % 40), podStatus: { durationMs: 1_000 + index * 100 } }),
      ),
      START,
    ));
  });
  afterEach(() => table.stop());

  it('loses no execution when recorders on separate machines fold different executions at once', async () => {
    // Prepare: 30 runs recorded and folded; 10 more running
    await record(0, 30);
    await recorder().recompute(RUNBOOK.id);
    await record(30, 40, false);
    const counts = countCommands(table);

    // Act: each of the 10 stops, and a separate recorder (its own process) folds it, all at once
    const results = await Promise.all(
      executions.slice(30).map((execution) =>
        recorder().executionStopped({
          executionId: execution.id,
          status: execution.outcome!.status === 'succeeded' ? 'SUCCEEDED' : 'FAILED',
          engineRef: `arn:aws:states:eu-west-1:123456789012:execution:${execution.id}`,
          stoppedAt: execution.stoppedAt!,
        }),
      ),
    );

    // Assess: all 40 counted once; writers did collide and read again; the full recompute agrees
    expect(results.every((result) => result.recorded)).toBe(true);
    expect(counts.conflicts).toBeGreaterThan(0);
    const aggregate = await store.getLearningAggregate(RUNBOOK.id);
    expect(aggregate?.executions).toBe(40);
    expect(aggregate).toEqual(await recomputed());
  });

  it('changes nothing when an execution is folded twice, one after another or at once', async () => {
    // Prepare
    await record(0, 40);
    const learning = recorder();
    await learning.recompute(RUNBOOK.id);
    const folds = new DynamoLearningFolds({
      client: table.client,
      tableName: table.tableName,
      retentionDays: 90,
    });
    const before = await folds.read(RUNBOOK.id);
    const aggregateBefore = await store.getLearningAggregate(RUNBOOK.id);

    // Act
    await learning.fold(executions[39]!);
    await Promise.all([recorder().fold(executions[38]!), recorder().fold(executions[38]!)]);
    await learning.fold(executions[0]!);

    // Assess: the same fold at the same version, the same aggregate
    const after = await folds.read(RUNBOOK.id);
    expect(after.version).toBe(before.version);
    expect(after.fold).toEqual(before.fold);
    expect(await store.getLearningAggregate(RUNBOOK.id)).toEqual(aggregateBefore);
  });

  it('folds with the same number of store commands at 10 and at 30 earlier runs', async () => {
    // Prepare
    await record(0, 10);
    await recorder().recompute(RUNBOOK.id);
    await record(10, 11);
    await record(11, 30);
    const counts = countCommands(table);

    // Act: fold run 10 with 10 earlier runs; then, with runs 11–29 folded, run 30 with 30 earlier
    await recorder().fold(executions[10]!);
    const atTen = counts.total;
    for (const execution of executions.slice(11, 30)) await recorder().fold(execution);
    await record(30, 31);
    const beforeThirty = counts.total;
    await recorder().fold(executions[30]!);
    const atThirty = counts.total - beforeThirty;

    // Assess: the step outcomes, the run's digest, one read of the fold and marker, the fold and marker
    // writes, one read of the newest digests, the aggregate write
    expect(atTen).toBe(7);
    expect(atThirty).toBe(7);
    expect(await store.getLearningAggregate(RUNBOOK.id)).toEqual(await recomputed());
    const { QueryCommand, GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const partition = await table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': FoldKeys.state(RUNBOOK.id).pk },
      }),
    );
    const digests = (partition.Items ?? []).filter((item) => String(item.sk).startsWith('RUN#'));
    // One digest per run, each kept until its run leaves the 90-day window
    expect(digests).toHaveLength(31);
    const digest = digests.find((item) => item.executionId === executions[30]!.id)!;
    expect(unpack(digest.run)).toMatchObject({ id: executions[30]!.id, dryRun: false });
    expect(digest.sk).toBe(`RUN#${executions[30]!.startedAt}#${executions[30]!.id}`);
    expect(digest.ttl).toBe(Math.ceil(Date.parse(executions[30]!.startedAt) / 1000) + 90 * 86_400);
    // The fold itself holds counts only, gzipped
    const state = partition.Items!.find((item) => item.sk === 'STATE')!;
    expect(Object.keys(unpack(state.fold)).sort()).toEqual(['days', 'folded', 'runbookId', 'updatedAt']);
    expect(state.fold.byteLength).toBeLessThan(2 * 1024);
    const marker = await table.client.send(
      new GetCommand({
        TableName: table.tableName,
        Key: FoldKeys.marker(RUNBOOK.id, executions[30]!.id),
      }),
    );
    expect(marker.Item?.contribution).toMatchObject({
      alert: 'PodMemoryGrowth',
      failed: true,
      succeeded: false,
    });
  });

  it('rewrites a run’s digest and counts when a rollback changed its outcome after it was folded', async () => {
    // Prepare: 20 runs folded; then run 12's changes are rolled back (its record says so now)
    await record(0, 20);
    await recorder().recompute(RUNBOOK.id);
    const target = executions[12]!;
    await store.updateExecution(target.id, { outcome: { ...target.outcome!, rolledBack: true } });
    const rolledBack = (await store.getExecution(target.id))!;
    const counts = countCommands(table);

    // Act: folded again, then the same status change delivered once more
    await recorder().fold(rolledBack);
    const refold = counts.total;
    await recorder().fold(rolledBack);
    const redelivery = counts.total - refold;
    const conflicts = counts.conflicts;

    // Assess: one rollback counted, its digest says so, the recompute agrees; the redelivery wrote nothing
    const aggregate = await store.getLearningAggregate(RUNBOOK.id);
    expect(aggregate?.rollbacks).toBe(1);
    expect(aggregate).toEqual(await recomputed());
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const digest = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: FoldKeys.run(RUNBOOK.id, rolledBack) }),
    );
    expect(unpack(digest.Item?.run).history.rolledBack).toBe(true);
    expect(refold).toBe(7);
    expect(conflicts).toBe(1); // the redelivery's digest put: stored unchanged
    expect(redelivery).toBe(3); // step outcomes, digest put, fold and marker read
  });

  it('names a fold state it cannot read, and the recompute rebuilds it from the records', async () => {
    // Prepare: 20 runs folded; then the fold state item is damaged (not gzipped JSON)
    await record(0, 21);
    await recorder().recompute(RUNBOOK.id);
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: FoldKeys.state(RUNBOOK.id),
        UpdateExpression: 'SET fold = :damaged',
        ExpressionAttributeValues: { ':damaged': new Uint8Array([1, 2, 3]) },
      }),
    );

    // Act
    const folding = recorder().fold(executions[20]!);
    await expect(folding).rejects.toThrow(
      /LEARNINGFOLD#pod-memory-growth.*STATE.*holds no readable LearningFold.*runbook learn recompute/,
    );
    await recorder().recompute(RUNBOOK.id);
    await recorder().fold(executions[20]!);

    // Assess: readable again, every run counted once
    expect(await store.getLearningAggregate(RUNBOOK.id)).toEqual(await recomputed());
    expect((await store.getLearningAggregate(RUNBOOK.id))?.executions).toBe(21);
  });

  it('builds the fold from the records on a runbook’s first fold, then folds incrementally', async () => {
    // Prepare: 20 runs recorded before folds existed (an upgrade)
    await record(0, 21);

    // Act
    await recorder().fold(executions[20]!);

    // Assess
    expect((await store.getLearningAggregate(RUNBOOK.id))?.executions).toBe(21);
    expect(await store.getLearningAggregate(RUNBOOK.id)).toEqual(await recomputed());
  });
});

describe('runbook learn recompute, on a data directory', () => {
  it('rebuilds the aggregate from the records when no server runs, and names an unknown runbook', async () => {
    // Prepare: a project with the fixture runbook; its data directory holds 12 runs and no aggregate
    const workspace = mkdtempSync(join(tmpdir(), 'runbook-recompute-'));
    try {
      mkdirSync(join(workspace, 'runbooks'));
      copyFileSync(join(ROOT, 'cdk.json'), join(workspace, 'cdk.json'));
      copyFileSync(join(ROOT, 'runbooks', 'schema.json'), join(workspace, 'runbooks', 'schema.json'));
      copyFileSync(join(ROOT, POD_MEMORY_GROWTH), join(workspace, 'runbooks', 'pod-memory-growth.yaml'));
      const dataDir = join(workspace, '.runbook');
      const seeded = seedRuns(
        RUNBOOK,
        Array.from({ length: 12 }, () => run()),
        Date.now() - 2 * 86_400_000,
      );
      const database = await startLocalDatabase({ path: join(dataDir, 'dynamodb') });
      try {
        const store = new DynamoStore({
          client: database.client,
          tableName: database.tableName,
          retentionDays: 90,
        });
        for (const [index, execution] of seeded.executions.entries()) {
          await store.createExecution(execution);
          for (const outcome of seeded.outcomes[index]!) await store.putStepOutcome(outcome);
        }
      } finally {
        await database.stop();
      }
      const cli = async (...args: string[]) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await main(['node', 'runbook', ...args, '--url', 'http://127.0.0.1:9/'], {
          out: (line) => out.push(line),
          err: (line) => err.push(line),
          cwd: workspace,
        });
        return { code, out: out.join('\n'), err: err.join('\n') };
      };

      // Act
      const recomputed = await cli('learn', 'recompute', 'pod-memory-growth');
      const unknown = await cli('learn', 'recompute', 'no-such-runbook');

      // Assess
      expect(recomputed).toMatchObject({
        code: 0,
        out: 'pod-memory-growth: recomputed from 12 execution(s) in the window',
      });
      expect(unknown.code).not.toBe(0);
      expect(unknown.err).toMatch(
        /no runbook "no-such-runbook" in .*runbooks: give the id of a runbook there/,
      );
    } finally {
      rmSync(workspace, { recursive: true, force: true });
    }
  });
});

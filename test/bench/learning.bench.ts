import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, bench, describe } from 'vitest';
import { DynamoLearningFolds, FoldKeys } from '../../functions/adapters/aws/dynamo-learning-folds.ts';
import { DynamoStore } from '../../functions/adapters/aws/dynamo-store.ts';
import type { ExecutionRecord } from '../../functions/core/records.ts';
import { LearningService } from '../../functions/core/services/learning.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';
import { POD_MEMORY_GROWTH, podMemoryRun as run, seedRuns } from '../support/learning-history.ts';
import { loadRunbook } from '../support/runbooks.ts';

/**
 * Learning after an execution stops, on dynalite: store commands (counted at the DynamoDB document
 * client's send), the bytes they read and wrote, the capacity units DynamoDB would bill for them, and
 * the time of the full recompute (every record of the window) against the incremental fold (this
 * execution only), at 10, 50 and 200 earlier runs. Goal (issue 14): constant per execution.
 */

const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const HISTORIES = [10, 50, 200] as const;
const TIMED_REPEATS = 5;
const SPREAD_MS = 85 * 86_400_000;

interface Bed {
  prior: number;
  table: DynaliteTable;
  commands: Counted;
  full: LearningService;
  folding: LearningService;
  /** The newest run: folded again with its outcome flipped, so every fold writes. */
  last: ExecutionRecord;
  flips: number;
}

interface Counted {
  count: number;
  /** Bytes of the items read as returned (a projection returns less than it bills) and written. */
  read: number;
  written: number;
  /** Capacity units as DynamoDB bills them (dynalite's ConsumedCapacity). */
  readUnits: number;
  writeUnits: number;
}

/**
 * An item's size as DynamoDB bills it: attribute names and string values in UTF-8 bytes, binary values
 * as their bytes, numbers about one byte per two digits plus one, 1 byte for booleans and null, 3 bytes
 * per map or list plus 1 per element.
 */
function bytes(value: unknown): number {
  if (value === undefined) return 0;
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number')
    return Math.ceil(String(Math.abs(value)).replace(/[.-]/g, '').length / 2) + 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, item) => sum + 1 + bytes(item), 0);
  return (
    3 +
    Object.entries(value as Record<string, unknown>).reduce(
      (sum, [name, item]) => sum + 1 + Buffer.byteLength(name) + bytes(item),
      0,
    )
  );
}

/**
 * Commands sent, the bytes of the items they wrote and read, and the capacity units they bill, as
 * dynalite computes them with DynamoDB's rules (ReturnConsumedCapacity TOTAL: whole items, also under a
 * projection; 4 KB per strongly consistent read unit, half for eventually consistent ones, 1 KB per
 * write unit). A put whose condition failed bills too (dynalite leaves it out): counted as its item.
 */
function counted(table: DynaliteTable): Counted {
  const commands: Counted = { count: 0, read: 0, written: 0, readUnits: 0, writeUnits: 0 };
  type Input = {
    Item?: unknown;
    RequestItems?: Record<string, unknown>;
    ReturnConsumedCapacity?: string;
  };
  type Sent = { input: Input };
  type Capacity = { CapacityUnits?: number };
  type Answer = {
    Item?: unknown;
    Items?: unknown[];
    Responses?: Record<string, unknown[]>;
    ConsumedCapacity?: Capacity | Capacity[];
  };
  const send = table.client.send.bind(table.client) as (command: Sent) => Promise<Answer>;
  const units = (answer: Answer) =>
    [answer.ConsumedCapacity ?? []].flat().reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
  (table.client as unknown as { send: (command: Sent) => Promise<unknown> }).send = async (command) => {
    commands.count++;
    const name = command.constructor.name;
    const input = command.input;
    const isWrite = name === 'PutCommand' || name === 'BatchWriteCommand';
    if (name === 'PutCommand') commands.written += bytes(input.Item);
    if (name === 'BatchWriteCommand')
      for (const requests of Object.values(input.RequestItems ?? {}) as Array<
        Array<{ PutRequest?: { Item?: unknown } }>
      >)
        for (const request of requests) commands.written += bytes(request.PutRequest?.Item);
    input.ReturnConsumedCapacity = 'TOTAL';
    let result: Answer;
    try {
      result = await send(command);
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException')
        commands.writeUnits += Math.max(1, Math.ceil(bytes(input.Item) / 1024));
      throw error;
    }
    if (isWrite) commands.writeUnits += units(result);
    else {
      commands.readUnits += units(result);
      const items = [
        ...(result.Item ? [result.Item] : []),
        ...(result.Items ?? []),
        ...Object.values(result.Responses ?? {}).flat(),
      ];
      commands.read += items.reduce((sum: number, item) => sum + bytes(item), 0);
    }
    return result;
  };
  return commands;
}

async function bed(prior: number): Promise<Bed> {
  const start = Date.parse('2026-11-01T00:00:00Z');
  const clock: Clock = { now: () => new Date(start + 90 * 86_400_000) };
  const table = await startDynalite();
  const store = new DynamoStore({ client: table.client, tableName: table.tableName, retentionDays: 90 });
  const folds = new DynamoLearningFolds({
    client: table.client,
    tableName: table.tableName,
    retentionDays: 90,
  });
  const { executions, outcomes } = seedRuns(
    RUNBOOK,
    Array.from({ length: prior + 1 }, (_, index) =>
      index % 5 === 0
        ? run({ podStatus: { status: 'timed-out', durationMs: 30_000 }, namespace: 'payments' })
        : run({ memory: 60 + ((index * 7) % 40) }),
    ),
    start,
  );
  // Spread over the last 85 days of the window (the fold keeps counts per day: a full window's worth).
  const spacing = Math.floor(SPREAD_MS / (prior + 1));
  const now = clock.now().getTime();
  executions.forEach((execution, index) => {
    const startedAt = now - SPREAD_MS + index * spacing;
    execution.startedAt = new Date(startedAt).toISOString();
    execution.stoppedAt = new Date(startedAt + 600_000).toISOString();
  });
  // Recorded 10 runs at a time (seeding is not measured).
  for (let first = 0; first < executions.length; first += 10)
    await Promise.all(
      executions.slice(first, first + 10).map(async (execution, offset) => {
        await store.createExecution(execution);
        await Promise.all(outcomes[first + offset]!.map((outcome) => store.putStepOutcome(outcome)));
      }),
    );
  const runbooks = () => [RUNBOOK];
  const full = new LearningService({ store, clock, logger: quiet, runbooks });
  const folding = new LearningService({ store, clock, logger: quiet, runbooks, folds });
  // The fold of the first `prior` runs exists (as after they stopped); the newest is folded below.
  await folding.recompute(RUNBOOK.id);
  return { prior, table, commands: counted(table), full, folding, last: executions.at(-1)!, flips: 0 };
}

/** The sizes of what a fold reads and writes whole: its state item, and its runs' digests. */
async function itemSizes(target: Bed): Promise<{ stateKb: number; digestKb: number; digests: number }> {
  const items: Array<Record<string, unknown>> = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await target.table.client.send(
      new QueryCommand({
        TableName: target.table.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': FoldKeys.state(RUNBOOK.id).pk },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    items.push(...((page.Items ?? []) as Array<Record<string, unknown>>));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const digests = items.filter((item) => String(item.sk).startsWith('RUN#'));
  const state = items.find((item) => item.sk === 'STATE');
  return {
    stateKb: bytes(state) / 1024,
    digestKb: digests.reduce((sum, item) => sum + bytes(item), 0) / 1024 / Math.max(1, digests.length),
    digests: digests.length,
  };
}

/** Folds the newest run again with its outcome changed: the whole path (read, replace, three writes). */
function foldAgain(target: Bed): Promise<void> {
  target.flips++;
  const outcome = { ...target.last.outcome!, rolledBack: target.flips % 2 === 1 };
  return target.folding.fold({ ...target.last, outcome });
}

interface Figures {
  commands: number;
  kbRead: number;
  kbWritten: number;
  readUnits: number;
  writeUnits: number;
  ms: number;
}

async function measure(target: Bed, work: () => Promise<void>): Promise<Figures> {
  const before = { ...target.commands };
  await work();
  const after = target.commands;
  const figures = {
    commands: after.count - before.count,
    kbRead: (after.read - before.read) / 1024,
    kbWritten: (after.written - before.written) / 1024,
    readUnits: after.readUnits - before.readUnits,
    writeUnits: after.writeUnits - before.writeUnits,
  };
  const started = performance.now();
  for (let repeat = 0; repeat < TIMED_REPEATS; repeat++) await work();
  return { ...figures, ms: (performance.now() - started) / TIMED_REPEATS };
}

/** On-demand, a write request unit costs 5× a read request unit: the cost in read units. */
const readUnitEquivalents = (figures: Figures) => figures.readUnits + 5 * figures.writeUnits;

const benchStarted = performance.now();
const beds: Bed[] = [];
const rows: string[] = [];
const capacityRows: string[] = [];
const foldCommands: number[] = [];
const sizes: string[] = [];
for (const prior of HISTORIES) {
  const target = await bed(prior);
  beds.push(target);
  const full = await measure(target, () => target.full.recompute(RUNBOOK.id));
  const fold = await measure(target, () => foldAgain(target));
  foldCommands.push(fold.commands);
  const kb = (figure: Figures) => `${figure.kbRead.toFixed(0)} / ${figure.kbWritten.toFixed(0)}`;
  const units = (figure: Figures) =>
    `${figure.readUnits.toFixed(1)} / ${figure.writeUnits} (${readUnitEquivalents(figure).toFixed(0)})`;
  rows.push(
    `| ${prior} | ${full.commands} | ${kb(full)} | ${full.ms.toFixed(1)} | ${fold.commands} | ${kb(fold)} | ${fold.ms.toFixed(1)} | constant |`,
  );
  capacityRows.push(
    `| ${prior} | ${units(full)} | ${units(fold)} | ${(readUnitEquivalents(fold) / readUnitEquivalents(full)).toFixed(2)}× |`,
  );
  const size = await itemSizes(target);
  sizes.push(
    `${prior} runs: fold state ${size.stateKb.toFixed(1)} KB, ${size.digests} digests of ${size.digestKb.toFixed(2)} KB on average`,
  );
}
console.log(
  [
    '',
    `Learning after an execution stops (dynalite; store commands counted at the document client; runbook ${RUNBOOK.id}, ${RUNBOOK.phases.flatMap((phase) => phase.steps).length} steps; runs ${HISTORIES.join(' / ')}; ms: mean of ${TIMED_REPEATS} after one warm-up)`,
    '| runs | full: commands | full: KB read / written | full: ms | fold: commands | fold: KB read / written | fold: ms | goal |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    `fold commands at ${HISTORIES.join(' / ')} runs: ${foldCommands.join(' / ')}: ${new Set(foldCommands).size === 1 ? 'constant (goal met)' : 'NOT constant (goal missed)'}`,
    '',
    'Capacity units billed per stopped run: read / write (read-unit equivalents, a write unit at 5× a read unit on demand)',
    '| runs | full recompute | fold | fold ÷ full |',
    '|---|---|---|---|',
    ...capacityRows,
    ...sizes,
    `setup and measurement: ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`,
    '',
  ].join('\n'),
);

/** Few samples: the figures that matter (commands, bytes, units) are counted above, not timed. */
const BENCH_OPTIONS = { iterations: 5, warmupIterations: 1, time: 0, warmupTime: 0 };

afterAll(async () => {
  for (const target of beds) await target.table.stop();
});

describe('learning after an execution stops', () => {
  for (const target of beds) {
    bench(
      `full recompute, ${target.prior} earlier runs`,
      async () => {
        await target.full.recompute(RUNBOOK.id);
      },
      BENCH_OPTIONS,
    );
    bench(
      `incremental fold, ${target.prior} earlier runs`,
      async () => {
        await foldAgain(target);
      },
      BENCH_OPTIONS,
    );
  }
});

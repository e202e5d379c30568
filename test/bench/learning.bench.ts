import { afterAll, bench, describe } from 'vitest';
import { DynamoLearningFolds } from '../../functions/adapters/aws/dynamo-learning-folds.ts';
import { DynamoStore } from '../../functions/adapters/aws/dynamo-store.ts';
import type { ExecutionRecord } from '../../functions/core/records.ts';
import { LearningService } from '../../functions/core/services/learning.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';
import { POD_MEMORY_GROWTH, podMemoryRun as run, seedRuns } from '../support/learning-history.ts';
import { loadRunbook } from '../support/runbooks.ts';

/**
 * Learning after an execution stops, on dynalite: store commands (counted at the DynamoDB document
 * client's send) and time of the full recompute (every record of the window) against the incremental
 * fold (this execution only), at 10, 50 and 200 earlier runs. Goal (issue 14): constant per execution.
 */

const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const HISTORIES = [10, 50, 200] as const;
const TIMED_REPEATS = 10;

interface Bed {
  prior: number;
  table: DynaliteTable;
  commands: { count: number; read: number; written: number };
  full: LearningService;
  folding: LearningService;
  /** The newest run: folded again with its outcome flipped, so every fold writes. */
  last: ExecutionRecord;
  flips: number;
}

/** Commands sent, and the JSON bytes of the items they wrote and read (what capacity units bill). */
function counted(table: DynaliteTable): Bed['commands'] {
  const commands = { count: 0, read: 0, written: 0 };
  const bytes = (value: unknown) => (value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value)));
  type Sent = { input?: { Item?: unknown; RequestItems?: unknown } };
  const send = table.client.send.bind(table.client) as (command: Sent) => Promise<unknown>;
  (table.client as unknown as { send: (command: Sent) => Promise<unknown> }).send = async (command) => {
    commands.count++;
    const isWrite = /Put|BatchWrite/.test(command.constructor.name);
    if (isWrite) commands.written += bytes(command.input?.Item ?? command.input?.RequestItems);
    const result = (await send(command)) as { Item?: unknown; Items?: unknown; Responses?: unknown };
    if (!isWrite) commands.read += bytes(result.Item ?? result.Items ?? result.Responses);
    return result;
  };
  return commands;
}

async function bed(prior: number): Promise<Bed> {
  const start = Date.parse('2026-11-01T00:00:00Z');
  const clock: Clock = { now: () => new Date(start + (prior + 2) * 3_600_000) };
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
  for (const [index, execution] of executions.entries()) {
    await store.createExecution(execution);
    for (const outcome of outcomes[index]!) await store.putStepOutcome(outcome);
  }
  const runbooks = () => [RUNBOOK];
  const full = new LearningService({ store, clock, logger: quiet, runbooks });
  const folding = new LearningService({ store, clock, logger: quiet, runbooks, folds });
  // The fold of the first `prior` runs exists (as after they stopped); the newest is folded below.
  await folding.recompute(RUNBOOK.id);
  return { prior, table, commands: counted(table), full, folding, last: executions.at(-1)!, flips: 0 };
}

/** Folds the newest run again with its outcome changed: the whole path (read, replace, three writes). */
function foldAgain(target: Bed): Promise<void> {
  target.flips++;
  const outcome = { ...target.last.outcome!, rolledBack: target.flips % 2 === 1 };
  return target.folding.fold({ ...target.last, outcome });
}

async function measure(
  target: Bed,
  work: () => Promise<void>,
): Promise<{ commands: number; kbRead: number; kbWritten: number; ms: number }> {
  const { count, read, written } = target.commands;
  await work();
  const commands = target.commands.count - count;
  const kbRead = (target.commands.read - read) / 1024;
  const kbWritten = (target.commands.written - written) / 1024;
  const started = performance.now();
  for (let repeat = 0; repeat < TIMED_REPEATS; repeat++) await work();
  return { commands, kbRead, kbWritten, ms: (performance.now() - started) / TIMED_REPEATS };
}

const beds: Bed[] = [];
const rows: string[] = [];
for (const prior of HISTORIES) {
  const target = await bed(prior);
  beds.push(target);
  const full = await measure(target, () => target.full.recompute(RUNBOOK.id));
  const fold = await measure(target, () => foldAgain(target));
  const kb = (figure: { kbRead: number; kbWritten: number }) =>
    `${figure.kbRead.toFixed(0)} / ${figure.kbWritten.toFixed(0)}`;
  rows.push(
    `| ${prior} | ${full.commands} | ${kb(full)} | ${full.ms.toFixed(1)} | ${fold.commands} | ${kb(fold)} | ${fold.ms.toFixed(1)} | constant |`,
  );
}
const foldCommands = rows.map((row) => row.split('|')[5]!.trim());
console.log(
  [
    '',
    'Learning after an execution stops (dynalite; store commands counted at the document client)',
    '| runs | full: commands | full: KB read / written | full: ms | fold: commands | fold: KB read / written | fold: ms | goal |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    `fold commands at ${HISTORIES.join(' / ')} runs: ${foldCommands.join(' / ')}: ${new Set(foldCommands).size === 1 ? 'constant (goal met)' : 'NOT constant (goal missed)'}`,
    '',
  ].join('\n'),
);

afterAll(async () => {
  for (const target of beds) await target.table.stop();
});

describe('learning after an execution stops', () => {
  for (const target of beds) {
    bench(`full recompute, ${target.prior} earlier runs`, async () => {
      await target.full.recompute(RUNBOOK.id);
    });
    bench(`incremental fold, ${target.prior} earlier runs`, async () => {
      await foldAgain(target);
    });
  }
});

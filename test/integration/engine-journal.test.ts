import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineJournal, JOURNAL_FILE, type JournalEntry } from '../../functions/adapters/local/journal.ts';

/**
 * The engine journal on a real temporary directory: changes are in memory at once and on disk once
 * flush() returns, many changes share one append, a torn last line (kill -9 mid-append) is skipped, the
 * log is compacted, and the one-file-per-execution journal it replaced is folded in.
 */

let dataDir: string;
const logFile = () => join(dataDir, 'engine', JOURNAL_FILE);
const lines = () => readFileSync(logFile(), 'utf8').split('\n').filter(Boolean);

function running(executionId: string, input: unknown = { alert: 'x' }): JournalEntry {
  return {
    executionId,
    runbookId: 'node-memory-pressure',
    status: 'RUNNING',
    input,
    startedAt: '2026-12-06T17:00:00.000Z',
    resumed: 0,
  };
}

const enter = (journal: EngineJournal, id: string, state: string) =>
  journal.update(id, (entry) => ({
    ...entry,
    inFlight: { state, input: { at: state }, enteredAt: '2026-12-06T17:00:01.000Z' },
  }));

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'runbook-journal-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('EngineJournal', () => {
  it('keeps changes in memory at once and on disk after flush, for a fresh reader', async () => {
    // Prepare
    const journal = new EngineJournal(dataDir).open();

    // Act
    journal.write(running('exec-1'));
    enter(journal, 'exec-1', 'Parallel: diagnose');
    const before = new EngineJournal(dataDir).read('exec-1');
    await journal.flush();

    // Assess
    expect(journal.read('exec-1')?.inFlight?.state).toBe('Parallel: diagnose');
    expect(before).toBeUndefined();
    expect(new EngineJournal(dataDir).read('exec-1')).toEqual(journal.read('exec-1'));
  });

  it('has the record on disk when flush() returns, before the event loop turns (no thread-pool round trip)', async () => {
    // Prepare
    const journal = new EngineJournal(dataDir).open();
    journal.write(running('exec-1'));
    enter(journal, 'exec-1', 'Checkpoint: diagnose');

    // Act: read by a fresh reader in the same turn, before awaiting anything
    const flushed = journal.flush();
    const sameTurn = new EngineJournal(dataDir).read('exec-1');
    await flushed;

    // Assess
    expect(sameTurn).toEqual(journal.read('exec-1'));
    expect(lines()).toHaveLength(1);
  });

  it('group-commits: many changes to many executions made in one turn are one append, coalesced per execution', async () => {
    // Prepare
    const journal = new EngineJournal(dataDir).open();
    for (let index = 0; index < 20; index++) journal.write(running(`exec-${index}`));
    await journal.flush();
    const afterStart = lines().length;

    // Act: 20 executions each enter 5 states in the same turn
    for (let step = 0; step < 5; step++)
      for (let index = 0; index < 20; index++) enter(journal, `exec-${index}`, `state-${step}`);
    await journal.flush();

    // Assess: one record per execution, holding only the last state entered
    expect(afterStart).toBe(20);
    const appended = lines().slice(afterStart);
    expect(appended).toHaveLength(20);
    expect(JSON.parse(appended[0]!)).toEqual({
      id: 'exec-0',
      set: {
        inFlight: { state: 'state-4', input: { at: 'state-4' }, enteredAt: '2026-12-06T17:00:01.000Z' },
      },
    });
    const reread = new EngineJournal(dataDir);
    expect(reread.all()).toHaveLength(20);
    expect(reread.read('exec-19')?.inFlight?.state).toBe('state-4');
  });

  it('appends one field set on its own as that field alone, in UTF-8 a fresh reader reads back', async () => {
    // Prepare: an input with text outside ASCII, as alert annotations carry
    const journal = new EngineJournal(dataDir).open();
    journal.write(running('exec-1', { summary: 'Nœud saturé — mémoire 93 % 🔥' }));
    await journal.flush();

    // Act
    journal.set('exec-1', 'inFlight', {
      state: 'Approval: relieve-node',
      input: { note: 'approbation demandée à 10 h ✅' },
      enteredAt: '2026-12-06T17:00:02.000Z',
    });
    await journal.flush();

    // Assess
    expect(JSON.parse(lines().at(-1)!)).toEqual({
      id: 'exec-1',
      set: {
        inFlight: {
          state: 'Approval: relieve-node',
          input: { note: 'approbation demandée à 10 h ✅' },
          enteredAt: '2026-12-06T17:00:02.000Z',
        },
      },
    });
    const reread = new EngineJournal(dataDir);
    expect(reread.loaded).toMatchObject({ skippedLines: 0, tornTail: false });
    expect(reread.loaded.bytes).toBe(readFileSync(logFile()).length);
    expect(reread.read('exec-1')).toEqual(journal.read('exec-1'));
    expect(reread.read('exec-1')?.input).toEqual({ summary: 'Nœud saturé — mémoire 93 % 🔥' });
  });

  it('records a field removed as removed (a change no longer running)', async () => {
    // Prepare
    const journal = new EngineJournal(dataDir).open();
    journal.write(running('exec-1'));
    journal.update('exec-1', (entry) => ({ ...entry, runningChange: 'scale-web' }));
    await journal.flush();
    expect(new EngineJournal(dataDir).read('exec-1')?.runningChange).toBe('scale-web');

    // Act
    journal.update('exec-1', ({ runningChange: _done, ...rest }) => rest);
    await journal.flush();

    // Assess
    expect(JSON.parse(lines().at(-1)!)).toEqual({ id: 'exec-1', set: {}, unset: ['runningChange'] });
    expect(new EngineJournal(dataDir).read('exec-1')).not.toHaveProperty('runningChange');
  });

  it('tolerates a torn last line (killed mid-append): the records before it stand, and open() drops it', async () => {
    // Prepare: two whole records, then half of a third, as a kill -9 mid-write leaves the file
    const journal = new EngineJournal(dataDir).open();
    journal.write(running('exec-1'));
    await journal.flush();
    enter(journal, 'exec-1', 'Approval: restart-workload');
    await journal.flush();
    const whole = JSON.stringify({ id: 'exec-1', set: { status: 'SUCCEEDED' } });
    appendFileSync(logFile(), whole.slice(0, whole.length / 2));

    // Act
    const reader = new EngineJournal(dataDir);
    const restarted = new EngineJournal(dataDir).open();
    restarted.update('exec-1', (entry) => ({ ...entry, resumed: 1 }));
    await restarted.flush();

    // Assess: the torn record is not applied, and the next append starts on its own line
    expect(reader.loaded).toMatchObject({ skippedLines: 1, tornTail: true });
    expect(reader.read('exec-1')).toMatchObject({
      status: 'RUNNING',
      inFlight: { state: 'Approval: restart-workload' },
    });
    expect(restarted.loaded.skippedLines).toBe(1);
    expect(readFileSync(logFile(), 'utf8').endsWith('\n')).toBe(true);
    const again = new EngineJournal(dataDir);
    expect(again.loaded).toMatchObject({ skippedLines: 0, tornTail: false });
    expect(again.read('exec-1')).toMatchObject({
      status: 'RUNNING',
      resumed: 1,
      inFlight: { state: 'Approval: restart-workload' },
    });
  });

  it('skips a damaged line in the middle without losing the records after it', () => {
    // Prepare
    mkdirSync(join(dataDir, 'engine'), { recursive: true });
    writeFileSync(
      logFile(),
      [
        JSON.stringify({ put: running('exec-1') }),
        '{"id":"exec-1","set":{"sta',
        JSON.stringify({ id: 'exec-1', set: { status: 'SUCCEEDED', stoppedAt: '2026-12-06T17:05:00.000Z' } }),
        JSON.stringify({ put: { executionId: 'exec-bad', status: 'NOT-A-STATUS' } }),
        '',
      ].join('\n'),
    );

    // Act
    const journal = new EngineJournal(dataDir);

    // Assess
    expect(journal.loaded.skippedLines).toBe(1);
    expect(journal.read('exec-1')).toMatchObject({ status: 'SUCCEEDED' });
    expect(journal.read('exec-bad')).toBeUndefined();
  });

  it('compacts the log once appends have grown it well past what it holds, keeping every entry', async () => {
    // Prepare: one execution whose in-flight state (about 8 KiB) changes 600 times
    const journal = new EngineJournal(dataDir).open();
    journal.write(running('exec-1'));
    journal.write(running('exec-2'));
    const big = 'x'.repeat(8_192);

    // Act
    for (let index = 0; index < 600; index++) {
      journal.update('exec-1', (entry) => ({
        ...entry,
        inFlight: { state: `state-${index}`, input: { big }, enteredAt: '2026-12-06T17:00:01.000Z' },
      }));
      await journal.flush();
    }

    // Assess: 600 appends of ~8 KiB would be ~4.8 MiB; compaction kept it near the last rewrite's size
    const size = readFileSync(logFile()).length;
    expect(size).toBeLessThan(2 * 1024 * 1024);
    const reread = new EngineJournal(dataDir);
    expect(reread.read('exec-1')?.inFlight?.state).toBe('state-599');
    expect(reread.read('exec-2')).toMatchObject({ status: 'RUNNING' });
    expect(existsSync(`${logFile()}.${process.pid}.tmp`)).toBe(false);
  });

  it('folds the one-file-per-execution journal it replaced into the log, and removes those files', async () => {
    // Prepare: what the previous version left in the data directory
    const engineDir = join(dataDir, 'engine');
    mkdirSync(engineDir, { recursive: true });
    const legacy = {
      ...running('exec-old'),
      inFlight: { state: 'Approval: x', input: {}, enteredAt: '2026-12-06T16:00:00.000Z' },
    };
    writeFileSync(join(engineDir, `${encodeURIComponent('exec-old')}.json`), JSON.stringify(legacy));
    writeFileSync(join(engineDir, 'broken.json'), '{');

    // Act
    const journal = new EngineJournal(dataDir).open();

    // Assess
    expect(journal.read('exec-old')).toEqual(legacy);
    expect(existsSync(join(engineDir, 'exec-old.json'))).toBe(false);
    expect(new EngineJournal(dataDir).read('exec-old')).toEqual(legacy);
  });

  it('keeps only the status, times, error and cause of a finished execution in memory once it is on disk', async () => {
    // Prepare: one execution finishes, another is still running
    const journal = new EngineJournal(dataDir).open();
    journal.write(running('exec-done', { alert: 'a'.repeat(4_096) }));
    journal.write(running('exec-running', { alert: 'b' }));
    enter(journal, 'exec-done', 'Verify: memory');
    enter(journal, 'exec-running', 'Parallel: diagnose');
    await journal.flush();

    // Act
    journal.update('exec-done', (entry) => ({
      ...entry,
      status: 'SUCCEEDED',
      stoppedAt: '2026-12-06T17:05:00.000Z',
      output: { verified: true },
    }));
    const beforeDisk = journal.read('exec-done');
    await journal.flush();

    // Assess: memory drops the finished execution's input, output and last state input only once they
    // are on disk; the log holds them, a restarted journal keeps the settled entry, a running one is whole
    expect(beforeDisk).toMatchObject({ output: { verified: true }, inFlight: { state: 'Verify: memory' } });
    const settled = {
      executionId: 'exec-done',
      runbookId: 'node-memory-pressure',
      status: 'SUCCEEDED',
      startedAt: '2026-12-06T17:00:00.000Z',
      stoppedAt: '2026-12-06T17:05:00.000Z',
      resumed: 0,
    };
    expect(journal.read('exec-done')).toEqual(settled);
    expect(journal.read('exec-running')).toMatchObject({
      input: { alert: 'b' },
      inFlight: { state: 'Parallel: diagnose' },
    });
    expect(
      lines()
        .map((line) => JSON.parse(line))
        .find((record) => record.set?.output),
    ).toMatchObject({
      id: 'exec-done',
      set: { status: 'SUCCEEDED', output: { verified: true } },
    });
    expect(new EngineJournal(dataDir).read('exec-done')).toEqual(settled);
    await journal.close();
  });

  it('keeps a finished execution whole in memory while its record failed to reach the disk', async () => {
    // Prepare: the log is closed under the journal (as after a shutdown)
    const journal = new EngineJournal(dataDir).open();
    journal.write(running('exec-1'));
    await journal.flush();
    await journal.close();
    journal.update('exec-1', (entry) => ({ ...entry, status: 'FAILED', output: { error: 'x' } }));

    // Act
    await journal.flush().catch(() => undefined);

    // Assess
    expect(journal.read('exec-1')).toMatchObject({
      status: 'FAILED',
      input: { alert: 'x' },
      output: { error: 'x' },
    });
  });

  it('keeps a change that failed to reach the disk pending, and writes it on the next flush', async () => {
    // Prepare: the log is closed under the journal (as after a shutdown)
    const journal = new EngineJournal(dataDir).open();
    journal.write(running('exec-1'));
    await journal.close();
    journal.update('exec-1', (entry) => ({ ...entry, status: 'SUCCEEDED' }));

    // Act
    const failed = await journal.flush().then(
      () => undefined,
      (error: Error) => error,
    );
    journal.open();
    await journal.flush();

    // Assess
    expect(failed?.message).toMatch(/not open for writing/);
    expect(new EngineJournal(dataDir).read('exec-1')).toMatchObject({ status: 'SUCCEEDED' });
    await journal.close();
  });
});

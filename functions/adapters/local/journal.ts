import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';

/**
 * The embedded engine's own journal: an append-only log of JSON lines (`engine/journal.log`) over an
 * in-memory index. It remembers what aws-local-stepfunctions cannot: which top-level state an execution
 * was in and with what input, so a restarted platform can resume it.
 *
 * Changes apply to memory at once and reach the disk by group commit: one append carries every record
 * made since the last one (coalesced per execution). The engine calls flush() before anything that
 * needs the record on disk (a change, an approval, a status change); everything else is written within
 * FLUSH_DELAY_MS. An append is one write(2) made synchronously: to the page cache it takes a few
 * microseconds, where a round trip through libuv's thread pool took 40-150 µs and left the event loop
 * idle while one execution waited on it. Once write(2) returns the record survives a kill -9 of the
 * process (as before, nothing is fsynced: a power loss may lose the last appends). A torn last line (a
 * crash mid-append) is skipped on load, and the log is compacted (rewritten from memory, then renamed
 * over) at start and whenever it has grown well past what it holds. Once a finished execution's record
 * is on disk, memory keeps only its status, times, error and cause (settledEntry), and so does the next
 * compaction: its input and output are in the store's records, which are what the platform shows.
 */

export const JournalStatus = z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED', 'INTERRUPTED']);
export type JournalStatus = z.infer<typeof JournalStatus>;

export const JournalEntry = z
  .object({
    executionId: z.string(),
    runbookId: z.string(),
    status: JournalStatus,
    input: z.unknown(),
    startedAt: z.string(),
    stoppedAt: z.string().optional(),
    error: z.string().optional(),
    cause: z.string().optional(),
    /** Logs of earlier versions have it; the output now goes to the status change only. */
    output: z.unknown().optional(),
    /** The top-level state the execution last entered, with its input: where a resume starts. */
    inFlight: z.object({ state: z.string(), input: z.unknown(), enteredAt: z.string() }).strict().optional(),
    /** How many times the execution was resumed after the platform stopped. */
    resumed: z.number().int().min(0).default(0),
    interruptedReason: z.string().optional(),
    /** A mutating step whose function is running: a crash now leaves the change half-known. */
    runningChange: z.string().optional(),
  })
  .strict();
export type JournalEntry = z.infer<typeof JournalEntry>;

const FINISHED: ReadonlySet<JournalStatus> = new Set(['SUCCEEDED', 'FAILED', 'ABORTED']);

/**
 * What memory keeps of a finished execution once its record is on disk: no input, output or last state
 * input (nothing reads them again: a finished execution is never resumed), so a long-running platform
 * holds a few hundred bytes per finished execution instead of tens of KB (issue 14's serve RSS).
 */
export function settledEntry(entry: JournalEntry): JournalEntry {
  if (!FINISHED.has(entry.status)) return entry;
  const { input: _input, output: _output, inFlight: _inFlight, ...kept } = entry;
  return kept as JournalEntry;
}

/** A whole entry, or the fields of one that changed (`unset`: fields it no longer has). */
const JournalRecord = z.union([
  z.object({ put: z.record(z.string(), z.unknown()) }).strict(),
  z
    .object({
      id: z.string(),
      set: z.record(z.string(), z.unknown()),
      unset: z.array(z.string()).optional(),
    })
    .strict(),
]);

export const JOURNAL_FILE = 'journal.log';
/** Compact once the log is this much bigger than at its last rewrite (and at least 1 MiB). */
const COMPACT_GROWTH = 4;
const COMPACT_MIN_BYTES = 1 << 20;
/** How long a change nobody awaits may stay in memory only (a crash loses at most this much progress). */
export const FLUSH_DELAY_MS = 10;

type Pending = 'all' | Set<string>;

export interface JournalLoad {
  entries: Map<string, JournalEntry>;
  /** Lines that were not a whole record (a torn last line after a crash, or damage). */
  skippedLines: number;
  /** Whether the file ends mid-line: appending to it would glue a record onto the torn one. */
  tornTail: boolean;
  bytes: number;
  /** Files of the one-file-per-execution journal this log replaced. */
  legacyFiles: string[];
}

/** Replays the log (and any files of the journal it replaced) into entries; reads, never writes. */
export function loadJournal(directory: string): JournalLoad {
  const raw = new Map<string, Record<string, unknown>>();
  const legacyFiles: string[] = [];
  for (const name of existsSync(directory) ? readdirSync(directory) : []) {
    if (!name.endsWith('.json')) continue;
    legacyFiles.push(join(directory, name));
    try {
      const entry = JSON.parse(readFileSync(join(directory, name), 'utf8')) as Record<string, unknown>;
      if (typeof entry.executionId === 'string') raw.set(entry.executionId, entry);
    } catch {
      // an unreadable file of the old journal was skipped by it too
    }
  }
  const file = join(directory, JOURNAL_FILE);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  let skippedLines = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    let record: z.infer<typeof JournalRecord>;
    try {
      const parsed = JournalRecord.safeParse(JSON.parse(line));
      if (!parsed.success) throw parsed.error;
      record = parsed.data;
    } catch {
      skippedLines++;
      continue;
    }
    if ('put' in record) {
      const id = record.put.executionId;
      if (typeof id === 'string') raw.set(id, record.put);
      else skippedLines++;
      continue;
    }
    const current = raw.get(record.id);
    if (!current) continue;
    const next = { ...current, ...record.set };
    for (const key of record.unset ?? []) delete next[key];
    raw.set(record.id, next);
  }
  const entries = new Map<string, JournalEntry>();
  for (const [id, value] of raw) {
    const parsed = JournalEntry.safeParse(value);
    if (parsed.success) entries.set(id, parsed.data);
  }
  return {
    entries,
    skippedLines,
    tornTail: text.length > 0 && !text.endsWith('\n'),
    bytes: Buffer.byteLength(text),
    legacyFiles,
  };
}

export class EngineJournal {
  private readonly directory: string;
  private readonly file: string;
  private readonly entries: Map<string, JournalEntry>;
  /** Executions changed since the last append, with the fields that changed. */
  private pending = new Map<string, Pending>();
  private scheduled = false;
  private bytes: number;
  /** The log's size when last rewritten: compaction waits until appends have grown it well past that. */
  private compactedBytes: number;
  /** The log, open for appending while the engine owns the directory. */
  private descriptor: number | undefined;
  readonly loaded: Omit<JournalLoad, 'entries'>;

  /** Loads the log into memory. Only the engine that owns the directory calls open() and writes. */
  constructor(dataDir: string) {
    this.directory = join(dataDir, 'engine');
    this.file = join(this.directory, JOURNAL_FILE);
    const { entries, ...loaded } = loadJournal(this.directory);
    for (const [id, entry] of entries) entries.set(id, settledEntry(entry));
    this.entries = entries;
    this.loaded = loaded;
    this.bytes = loaded.bytes;
    this.compactedBytes = loaded.bytes;
  }

  /**
   * Makes the directory the engine's and opens the log for appending. A log that needs it is rewritten
   * from what was read first (a torn tail or damaged line dropped, the old one-file-per-execution
   * journal folded in and removed, or grown well past what it holds), so every append starts on a line.
   */
  open(): this {
    mkdirSync(this.directory, { recursive: true });
    const { skippedLines, tornTail, legacyFiles } = this.loaded;
    if (skippedLines > 0 || tornTail || legacyFiles.length > 0 || this.grown()) {
      const text = this.snapshot();
      const temporary = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temporary, text);
      renameSync(temporary, this.file);
      this.bytes = Buffer.byteLength(text);
      this.compactedBytes = this.bytes;
      for (const legacy of legacyFiles) rmSync(legacy, { force: true });
    }
    this.descriptor = openSync(this.file, 'a');
    return this;
  }

  /** Writes what is pending and closes the log. */
  async close(): Promise<void> {
    await this.flush();
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
  }

  private grown(): boolean {
    return this.bytes >= Math.max(COMPACT_MIN_BYTES, this.compactedBytes * COMPACT_GROWTH);
  }

  read(executionId: string): JournalEntry | undefined {
    return this.entries.get(executionId);
  }

  write(entry: JournalEntry): void {
    this.entries.set(entry.executionId, entry);
    this.pending.set(entry.executionId, 'all');
    this.schedule();
  }

  update(executionId: string, change: (entry: JournalEntry) => JournalEntry): JournalEntry | undefined {
    const current = this.entries.get(executionId);
    if (!current) return undefined;
    const next = change(current);
    if (next === current) return current;
    this.entries.set(executionId, next);
    const fields = this.pending.get(executionId) ?? new Set<string>();
    if (fields !== 'all') {
      // Called for every state an execution enters: compared in place, without key arrays.
      const before = current as Record<string, unknown>;
      const after = next as Record<string, unknown>;
      for (const key in after) if (before[key] !== after[key]) fields.add(key);
      for (const key in before) if (!(key in after)) fields.add(key);
      this.pending.set(executionId, fields);
    }
    this.schedule();
    return next;
  }

  /**
   * Sets one field of an execution's entry (as update() would, without comparing every field): the
   * engine calls it for every top-level state an execution enters.
   */
  set<K extends keyof JournalEntry>(executionId: string, field: K, value: JournalEntry[K]): void {
    const current = this.entries.get(executionId);
    if (!current) return;
    const next = { ...current };
    next[field] = value;
    this.entries.set(executionId, next);
    const fields = this.pending.get(executionId) ?? new Set<string>();
    if (fields !== 'all') {
      fields.add(field);
      this.pending.set(executionId, fields);
    }
    this.schedule();
  }

  /** Every execution the journal knows. */
  all(): JournalEntry[] {
    return [...this.entries.values()];
  }

  /**
   * Resolves once every change made before the call is on disk (in the page cache: what survives a
   * kill -9), appended in one write with every other change pending.
   */
  async flush(): Promise<void> {
    if (this.pending.size > 0) this.append();
  }

  /**
   * Changes nobody awaits go to disk within FLUSH_DELAY_MS, with whatever else changed meanwhile (a
   * flush someone awaits takes them sooner).
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      try {
        if (this.pending.size > 0) this.append();
      } catch {
        // kept pending: the next flush someone awaits reports the failure
      }
    }, FLUSH_DELAY_MS).unref();
  }

  private append(): void {
    const batch = this.pending;
    this.pending = new Map();
    let text = '';
    for (const [id, fields] of batch) {
      const entry = this.entries.get(id);
      if (!entry) continue;
      if (fields === 'all') {
        text += `${JSON.stringify({ put: entry })}\n`;
        continue;
      }
      const set: Record<string, unknown> = {};
      const unset: string[] = [];
      for (const key of fields) {
        const value = (entry as Record<string, unknown>)[key];
        if (value === undefined) unset.push(key);
        else set[key] = value;
      }
      text += `${JSON.stringify(unset.length > 0 ? { id, set, unset } : { id, set })}\n`;
    }
    if (text.length === 0) return;
    let bytes: number;
    try {
      if (this.descriptor === undefined)
        throw new Error(`the engine journal ${this.file} is not open for writing`);
      bytes = appendTo(this.descriptor, text);
    } catch (error) {
      // Not on disk: kept pending (merged with what came since) for the next append.
      for (const [id, fields] of batch) this.pending.set(id, this.pending.has(id) ? 'all' : fields);
      throw error;
    }
    this.bytes += bytes;
    // On disk now: a finished execution's bulky fields leave memory (unless changed again meanwhile).
    for (const id of batch.keys()) {
      const entry = this.entries.get(id);
      if (entry && !this.pending.has(id)) this.entries.set(id, settledEntry(entry));
    }
    this.compactIfGrown();
  }

  private snapshot(): string {
    let text = '';
    for (const entry of this.entries.values()) text += `${JSON.stringify({ put: entry })}\n`;
    return text;
  }

  /** Rewrites the log from memory once appends made it much bigger than what it holds. */
  private compactIfGrown(): void {
    if (!this.grown()) return;
    const text = this.snapshot();
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, this.file);
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = openSync(this.file, 'a');
    this.bytes = Buffer.byteLength(text);
    this.compactedBytes = this.bytes;
  }
}

/**
 * write(2) on the log opened with O_APPEND, the text handed over as it is (no Buffer made for it in
 * JavaScript), repeated for what a short write left. Answers the bytes written.
 */
function appendTo(descriptor: number, text: string): number {
  const written = writeSync(descriptor, text);
  const bytes = Buffer.byteLength(text);
  if (written < bytes) {
    const rest = Buffer.from(text).subarray(written);
    let offset = 0;
    while (offset < rest.length) offset += writeSync(descriptor, rest, offset, rest.length - offset);
  }
  return bytes;
}

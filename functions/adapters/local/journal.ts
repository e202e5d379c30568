import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';

/**
 * The embedded engine's own journal: one small JSON file per execution, written atomically (write a
 * temporary file, rename). It remembers what aws-local-stepfunctions cannot: which top-level state an
 * execution was in and with what input, so a restarted platform can resume it.
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

export class EngineJournal {
  private readonly directory: string;

  constructor(dataDir: string) {
    this.directory = join(dataDir, 'engine');
    mkdirSync(this.directory, { recursive: true });
  }

  private file(executionId: string): string {
    return join(this.directory, `${encodeURIComponent(executionId)}.json`);
  }

  write(entry: JournalEntry): void {
    const file = this.file(entry.executionId);
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(entry));
    renameSync(temporary, file);
  }

  read(executionId: string): JournalEntry | undefined {
    const file = this.file(executionId);
    if (!existsSync(file)) return undefined;
    const parsed = JournalEntry.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  }

  update(executionId: string, change: (entry: JournalEntry) => JournalEntry): JournalEntry | undefined {
    const current = this.read(executionId);
    if (!current) return undefined;
    const next = change(current);
    this.write(next);
    return next;
  }

  /** Every execution the journal knows, unreadable files skipped. */
  all(): JournalEntry[] {
    return readdirSync(this.directory)
      .filter((name) => name.endsWith('.json'))
      .flatMap((name) => {
        try {
          const entry = this.read(decodeURIComponent(name.slice(0, -'.json'.length)));
          return entry ? [entry] : [];
        } catch {
          return [];
        }
      });
  }
}

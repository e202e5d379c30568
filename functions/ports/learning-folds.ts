import type { FoldContribution, FoldRun, LearningFold } from '../core/learning/fold.ts';
import type { LearningAggregate } from '../core/records.ts';

/**
 * Where a runbook's learning fold lives (functions/core/learning/fold.ts): one state item of counts
 * with a version, written only over the version read; one digest per finished run, written before the
 * fold that counts it (so any fold committed after it reads it); one marker per folded execution
 * holding what it added. No transaction: digest, state, marker, aggregate are written in that order,
 * each idempotent, so whoever comes next finishes what a crash left.
 */
export interface LearningFolds {
  /**
   * The runbook's fold with its version (0: none yet), and the execution's marker: what it added when
   * it was folded (null: folded, added nothing; undefined: never folded). One read.
   */
  read(
    runbookId: string,
    executionId?: string,
  ): Promise<{ fold?: LearningFold; version: number; marker?: FoldContribution | null }>;
  /** The fold's version alone (0: none), readable even when the fold is not: what a rebuild writes over. */
  version(runbookId: string): Promise<number>;
  /** Writes the fold as version `version + 1` if the stored one is still `version`; false when not. */
  write(fold: LearningFold, version: number): Promise<boolean>;
  /** The aggregate computed from the fold's `version`, unless one from a newer version is stored. */
  publish(aggregate: LearningAggregate, version: number): Promise<void>;
  /** Records what each execution added (its marker), overwriting an older one. */
  mark(
    runbookId: string,
    contributions: ReadonlyArray<{ executionId: string; contribution: FoldContribution | null }>,
  ): Promise<void>;
  /** Stores one run's digest unless the same one is stored: true when it was new or differed. */
  putRun(runbookId: string, run: FoldRun): Promise<boolean>;
  /** Stores run digests as they are (the repair path: built from the records). */
  putRuns(runbookId: string, runs: readonly FoldRun[]): Promise<void>;
  /** The newest `limit` digests of runs started at `since` or later, newest first. One strongly consistent read. */
  recentRuns(runbookId: string, since: string, limit: number): Promise<FoldRun[]>;
}

import type { FoldContribution, LearningFold } from '../core/learning/fold.ts';
import type { LearningAggregate } from '../core/records.ts';

/**
 * Where a runbook's learning fold lives (functions/core/learning/fold.ts): one state item with a
 * version, written only over the version read, and one marker per folded execution holding what it
 * added. No transaction: the state is written first, then the marker, then the aggregate, each
 * idempotent, so whoever comes next finishes what a crash left.
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
  /** Writes the fold as version `version + 1` if the stored one is still `version`; false when not. */
  write(fold: LearningFold, version: number): Promise<boolean>;
  /** The aggregate computed from the fold's `version`, unless one from a newer version is stored. */
  publish(aggregate: LearningAggregate, version: number): Promise<void>;
  /** Records what each execution added (its marker), overwriting an older one. */
  mark(
    runbookId: string,
    contributions: ReadonlyArray<{ executionId: string; contribution: FoldContribution | null }>,
  ): Promise<void>;
}

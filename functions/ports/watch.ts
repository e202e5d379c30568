import type { CircuitBreaker, HealthBaseline } from '../core/watch/records.ts';

/**
 * What watching running executions persists: each execution's health baseline (written once: two
 * changes racing to read it keep the first), the once-only claim of a stuck step's alarm, and each
 * runbook's circuit breaker (conditional on its version). Items of their own in the platform's table.
 */
export interface WatchStore {
  /** Stores the baseline unless the execution has one; answers the one stored either way. */
  putBaseline(baseline: HealthBaseline): Promise<{ stored: boolean; baseline: HealthBaseline }>;
  getBaseline(executionId: string): Promise<HealthBaseline | undefined>;

  /** Claims the alarm of one stuck attempt of a step: true for exactly one caller. */
  claimStuck(executionId: string, stepId: string, attempt: number, at: string): Promise<boolean>;

  getBreaker(environment: string, runbookId: string): Promise<CircuitBreaker | undefined>;
  listBreakers(environment: string): Promise<CircuitBreaker[]>;
  /**
   * Stores `breaker` when the stored version is still `expectedVersion` (0: none stored yet); false
   * when another writer changed it first.
   */
  putBreaker(breaker: CircuitBreaker, expectedVersion: number): Promise<boolean>;
}

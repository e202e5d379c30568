import type { RollbackPatch, RollbackRecord } from '../core/rollback/records.ts';

/**
 * Where rollbacks of executions are kept. One rollback of an execution runs at a time: `create` takes
 * the execution's rollback slot with a conditional write (false when another rollback holds it), and
 * `finish` gives it back. Rollbacks are found by their own id too (the engine names its run by it).
 */
export interface RollbackStore {
  create(rollback: RollbackRecord): Promise<boolean>;
  get(rollbackId: string): Promise<RollbackRecord | undefined>;
  /** Rollbacks of one execution, oldest first. */
  list(executionId: string): Promise<RollbackRecord[]>;
  update(rollbackId: string, patch: RollbackPatch): Promise<RollbackRecord>;
  /** Records how it ended and frees the execution's rollback slot (idempotent). */
  finish(rollbackId: string, patch: RollbackPatch): Promise<RollbackRecord>;
}

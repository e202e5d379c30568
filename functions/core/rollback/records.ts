import * as z from 'zod';
import { CompensationSpecPayload } from '../execution-contract.ts';
import { RiskLevel } from '../policy.ts';

const IsoTime = z.iso.datetime({ offset: true });

/**
 * Where a rollback stands: asked and waiting for its approval, undoing, or done (`succeeded` every
 * change undone or found unchanged, `failed` a compensation failed or the run broke, `rejected` the
 * approvers said no or did not answer in time, `refused` a gate stopped it before anything ran).
 */
export const RollbackStatus = z.enum([
  'requested',
  'awaiting-approval',
  'running',
  'succeeded',
  'failed',
  'rejected',
  'refused',
]);
export type RollbackStatus = z.infer<typeof RollbackStatus>;

export const FINISHED_ROLLBACK_STATUSES: ReadonlySet<RollbackStatus> = new Set([
  'succeeded',
  'failed',
  'rejected',
  'refused',
]);

/** One change a rollback undoes, in the order it runs (the reverse of the order the changes ran). */
export const RollbackChange = z
  .object({
    stepId: z.string(),
    name: z.string(),
    phase: z.string().optional(),
    tool: z.string(),
    risk: RiskLevel,
    /** How the change ended (its latest attempt). */
    status: z.string(),
    startedAt: IsoTime,
    /** The step's own parameters, as it ran. */
    parameters: z.record(z.string(), z.unknown()),
    compensation: CompensationSpecPayload,
  })
  .strict();
export type RollbackChange = z.infer<typeof RollbackChange>;

export const RollbackRecord = z
  .object({
    /** The engine's execution name of the rollback run (`rb-…`). */
    id: z.string(),
    executionId: z.string(),
    runbookId: z.string(),
    environment: z.string(),
    /** The step whose change (and every one before it) is kept; `start`: undo every change. */
    rollbackPoint: z.string(),
    requestedBy: z.string(),
    requestedAt: IsoTime,
    reason: z.string().optional(),
    status: RollbackStatus,
    changes: z.array(RollbackChange),
    approval: z
      .object({
        required: z.boolean(),
        risk: RiskLevel,
        /** Why (the environment's policy, in words). */
        because: z.string(),
        approverGroups: z.array(z.string()).optional(),
        quorum: z.number().int().min(1).optional(),
      })
      .strict(),
    engineRef: z.string().optional(),
    finishedAt: IsoTime.optional(),
    /** What each change's compensation did (latest attempt), once finished. */
    results: z
      .array(z.object({ stepId: z.string(), status: z.string(), message: z.string().optional() }).strict())
      .optional(),
    error: z.string().optional(),
    cause: z.string().optional(),
  })
  .strict();
export type RollbackRecord = z.infer<typeof RollbackRecord>;

export type RollbackPatch = Partial<
  Pick<RollbackRecord, 'status' | 'engineRef' | 'finishedAt' | 'results' | 'error' | 'cause'>
>;

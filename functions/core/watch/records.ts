import * as z from 'zod';

/**
 * What watching running executions keeps: an execution's health baseline (read once, before its first
 * change) and each runbook's circuit breaker.
 */

const IsoTime = z.iso.datetime({ offset: true });

/** One watched signal as read: its value, or why it could not be read (then it is not watched). */
export const HealthReading = z
  .object({
    check: z.string().min(1).max(128),
    fact: z.string().min(1).max(1_024),
    value: z.number().nullable(),
    /** Why no number was read (the tool failed, the field is not a number): the signal is not watched. */
    unavailable: z.string().max(2_000).optional(),
  })
  .strict();
export type HealthReading = z.infer<typeof HealthReading>;

export const HealthBaseline = z
  .object({
    executionId: z.string().min(1),
    runbookId: z.string().min(1),
    /** The change it was read before (the execution's first). */
    beforeStep: z.string().min(1),
    takenAt: IsoTime,
    readings: z.array(HealthReading).max(50),
  })
  .strict();
export type HealthBaseline = z.infer<typeof HealthBaseline>;

/** A failed run that counted toward opening a breaker. */
export const BreakerFailure = z
  .object({
    executionId: z.string().min(1),
    stoppedAt: IsoTime,
    error: z.string().max(256).optional(),
  })
  .strict();
export type BreakerFailure = z.infer<typeof BreakerFailure>;

/**
 * The circuit breaker of one runbook in one environment. Open: the classifier starts no execution of
 * the runbook until a person closes it. Written under a version (two writers never both win).
 */
export const CircuitBreaker = z
  .object({
    runbookId: z.string().min(1),
    environment: z.string().min(1),
    state: z.enum(['open', 'closed']),
    /** Counts every write; a writer names the version it read. */
    version: z.number().int().min(1),
    changedAt: IsoTime,
    /** Why it opened: the failures, in words. */
    reason: z.string().max(2_000).optional(),
    openedAt: IsoTime.optional(),
    /** The runs that opened it. */
    failures: z.array(BreakerFailure).max(100).optional(),
    closedAt: IsoTime.optional(),
    closedBy: z.string().max(200).optional(),
    closeReason: z.string().max(2_000).optional(),
  })
  .strict();
export type CircuitBreaker = z.infer<typeof CircuitBreaker>;

import * as z from 'zod';
import { Duration } from '../duration.ts';

/**
 * How an environment watches running executions (cdk.json `policy.watch`): when a step counts as
 * stuck, and when failures of one runbook open its circuit breaker. The health watch itself is the
 * runbook's (`successMetrics.checks[].watch`).
 */

const Targets = z.array(z.string().min(1)).min(1);

export const StuckStepPolicy = z
  .object({
    enabled: z.boolean().default(true),
    /** A step's learned p99 counts once it has this many finished runs; before that, its timeout does. */
    minRuns: z.number().int().min(1).max(1_000).default(5),
    /** No step counts as stuck sooner than this, whatever its p99 (a 40 ms step is not stuck at 41 ms). */
    minimum: Duration.default(30),
    /** Escalation targets told that a step is stuck and its execution paused. */
    notify: Targets.default(['default']),
  })
  .strict();
export type StuckStepPolicy = z.infer<typeof StuckStepPolicy>;

export const CircuitBreakerPolicy = z
  .object({
    enabled: z.boolean().default(true),
    /** Failed real runs of one runbook, across executions, that open its breaker… */
    failures: z.number().int().min(1).max(100).default(3),
    /** …within this long (counted since the breaker was last closed). */
    within: Duration.default(1_800),
    /** Escalation targets told when a breaker opens (and when a person closes it). */
    notify: Targets.default(['default']),
  })
  .strict();
export type CircuitBreakerPolicy = z.infer<typeof CircuitBreakerPolicy>;

export const WatchPolicy = z
  .object({
    stuckSteps: StuckStepPolicy.prefault({}),
    circuitBreaker: CircuitBreakerPolicy.prefault({}),
  })
  .strict();
export type WatchPolicy = z.infer<typeof WatchPolicy>;

import { setFlagsFromString } from 'node:v8';

/**
 * V8's heap growth for `runbook serve`, a long-running process. By default V8 lets the old generation
 * grow to up to 4× what survived the last full collection before collecting again, and a burst of
 * executions promotes much short-lived garbage (SDK requests, dynalite's items, step results): the
 * server grew from ~180 MB to 530 MB over 60 executions with ~100 MB alive. Collecting once it has grown
 * by half keeps it near what it uses, for more frequent (concurrent, incremental) full collections.
 * Measured in BENCHMARKS.md (`runbook serve` RSS).
 */
export const SERVER_HEAP_FLAGS: readonly string[] = ['--heap-growing-percent=50'];

/** Applies SERVER_HEAP_FLAGS to this process's V8 (read at every full collection, so it takes effect now). */
export function tuneHeapForServer(setFlags: (flag: string) => void = setFlagsFromString): void {
  for (const flag of SERVER_HEAP_FLAGS) setFlags(flag);
}

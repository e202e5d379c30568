import type { WatchSignal } from '../execution-contract.ts';
import { lookup, parseReference } from '../runbook/templates.ts';
import type { HealthReading } from './records.ts';

/**
 * The health watch's decisions, pure: reading a signal out of its check's output, and whether a reading
 * is worse than the baseline read before the first change by more than the signal's margin.
 */

/** The number a signal reads from its check's output, or why there is none. */
export function readSignal(
  signal: Pick<WatchSignal, 'check' | 'fact'>,
  output: unknown,
): { value: number } | { unavailable: string } {
  const segments = parseReference(signal.fact);
  if (!segments) return { unavailable: `${signal.fact} is not a fact` };
  const found = lookup({ steps: { [signal.check]: { output } } }, segments);
  if (!found.found) return { unavailable: `${signal.fact} is not in ${signal.check}'s output` };
  if (typeof found.value !== 'number' || !Number.isFinite(found.value))
    return {
      unavailable: `${signal.fact} is ${found.value === null ? 'null' : typeof found.value}, not a number`,
    };
  return { value: found.value };
}

export interface Worsening {
  check: string;
  fact: string;
  baseline: number;
  current: number;
  worseWhen: WatchSignal['worseWhen'];
  margin: number;
  /** How far past the baseline, in the signal's direction. */
  by: number;
}

/**
 * Is `current` worse than `baseline` by more than the margin? `increases`: higher is worse (an error
 * rate); `decreases`: lower is worse (ready replicas).
 */
export function worseThanBaseline(
  signal: Pick<WatchSignal, 'check' | 'fact' | 'worseWhen' | 'margin'>,
  baseline: number,
  current: number,
): Worsening | undefined {
  const by = signal.worseWhen === 'increases' ? current - baseline : baseline - current;
  if (!(by > signal.margin)) return undefined;
  return {
    check: signal.check,
    fact: signal.fact,
    baseline,
    current,
    worseWhen: signal.worseWhen,
    margin: signal.margin,
    by,
  };
}

/** The baseline value of a signal, when the baseline read one. */
export function baselineValue(
  readings: readonly HealthReading[],
  signal: Pick<WatchSignal, 'check' | 'fact'>,
): number | undefined {
  const reading = readings.find((entry) => entry.check === signal.check && entry.fact === signal.fact);
  return reading?.value ?? undefined;
}

/** In words, for the step's error, the audit trail, the safety incident and the escalation. */
export function describeWorsening(worse: Worsening, when: string): string {
  const moved = worse.worseWhen === 'increases' ? 'rose' : 'fell';
  return `health signal ${worse.fact} ${moved} from ${formatNumber(worse.baseline)} before the first change to ${formatNumber(worse.current)}, ${when} (worse when it ${worse.worseWhen}, margin ${formatNumber(worse.margin)})`;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

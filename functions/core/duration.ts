import * as z from 'zod';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
const DURATION_PATTERN = /^(\d+)(s|m|h|d)$/;

/** Parses `90s`, `5m`, `2h`, `1d` (or a whole number of seconds) into seconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match)
    throw new RangeError(`"${value}" is not a duration: use a whole number with s, m, h or d (e.g. 90s, 5m)`);
  return Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
}

/** Formats seconds the way a runbook author would write them. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** A duration field: `30s`, `5m`, `1h`, `1d`, or a positive whole number of seconds. Parsed to seconds. */
export const Duration = z
  .union([
    z.number().int().positive(),
    z.string().regex(DURATION_PATTERN, 'must be a duration such as 30s, 5m, 1h or 1d'),
  ])
  .transform((value) => parseDuration(value))
  .refine((seconds) => seconds > 0, 'must be longer than zero');

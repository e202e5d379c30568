import { createHash } from 'node:crypto';

/** Stable ids and AWS's time formats for the simulated account. */

/** A stable hex id from a seed: task ids, request ids, deployment ids that read the same on every run. */
export function hexId(seed: string, length = 32): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

/** A UUID-shaped stable id from a seed. */
export function uuidFrom(seed: string): string {
  const hex = hexId(seed, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Seconds → Date. */
export function dateOf(seconds: number): Date {
  return new Date(Math.round(seconds * 1_000));
}

/** A timestamp as Lambda and CloudWatch alarms write it: `2026-11-25T14:07:31.266+0000`. */
export function awsTime(seconds: number): string {
  return new Date(Math.round(seconds * 1_000)).toISOString().replace('Z', '+0000');
}

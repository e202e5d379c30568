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

/** FNV-1a over a string with a salt: a fast 32-bit hash for ids generated per log line. */
function fnv(text: string, salt: number): number {
  let hash = (2166136261 ^ salt) >>> 0;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 16777619);
  }
  return hash >>> 0;
}

/** A stable hex id from a seed, cheap enough for every invocation's request id (not for secrets). */
export function fastHex(seed: string, length = 32): string {
  let out = '';
  for (let salt = 0; out.length < length; salt += 1) out += fnv(seed, salt).toString(16).padStart(8, '0');
  return out.slice(0, length);
}

/** A UUID-shaped id from `fastHex`. */
export function fastUuid(seed: string): string {
  const hex = fastHex(seed, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

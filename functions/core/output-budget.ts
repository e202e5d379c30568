/**
 * Trims a step's output to a byte budget while keeping its shape: scalar fields (what conditions read)
 * stay, long strings and lists shrink first. Used for the execution state (a few KB per step) and for
 * the store (an item is at most 400 KB).
 */

export interface Trimmed {
  value: unknown;
  truncated: boolean;
  bytes: number;
}

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null');
}

function shrink(value: unknown, maxString: number, maxItems: number, depth: number): unknown {
  if (typeof value === 'string')
    return value.length > maxString ? `${value.slice(0, maxString)}…[truncated]` : value;
  if (Array.isArray(value)) {
    const kept = value.slice(0, maxItems).map((item) => shrink(item, maxString, maxItems, depth + 1));
    return value.length > maxItems ? [...kept, `…[${value.length - maxItems} more]`] : kept;
  }
  if (value !== null && typeof value === 'object') {
    if (depth > 8) return '…[nested too deep]';
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, shrink(item, maxString, maxItems, depth + 1)]),
    );
  }
  return value;
}

export function trimToBudget(value: unknown, maxBytes: number): Trimmed {
  const bytes = jsonBytes(value);
  if (bytes <= maxBytes) return { value, truncated: false, bytes };
  for (
    let maxString = 4_096, maxItems = 100;
    maxString >= 16;
    maxString = Math.floor(maxString / 2), maxItems = Math.max(1, Math.floor(maxItems / 2))
  ) {
    const candidate = shrink(value, maxString, maxItems, 0);
    const size = jsonBytes(candidate);
    if (size <= maxBytes) return { value: candidate, truncated: true, bytes: size };
  }
  // Too many fields even when every value is short: keep a preview that says so.
  const preview = { truncated: true, preview: JSON.stringify(value).slice(0, Math.max(0, maxBytes - 64)) };
  const size = jsonBytes(preview);
  return size <= maxBytes
    ? { value: preview, truncated: true, bytes: size }
    : { value: null, truncated: true, bytes: 4 };
}

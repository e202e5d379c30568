import { InvalidEventError } from './errors.ts';
import { formatPath, type PathSegment } from './runbook/path.ts';

/**
 * Limits on JSON from outside. Every payload this platform takes (Alertmanager webhooks, EventBridge
 * events, the control API, approval decisions) nests a handful of levels; deeper is refused before
 * anything walks it recursively (a zod message, a JSON.stringify), so no input can overflow the stack.
 */

/** The deepest nesting accepted; a CloudWatch alarm event, the deepest payload taken, nests 7 levels. */
export const MAX_JSON_DEPTH = 32;

/** Throws InvalidEventError naming where `value` nests deeper than `maxDepth`. Iterative: any depth is safe. */
export function assertJsonDepth(value: unknown, what: string, maxDepth: number = MAX_JSON_DEPTH): void {
  const stack: Array<{ value: unknown; depth: number; path: PathSegment[] }> = [
    { value, depth: 0, path: [] },
  ];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.value === null || typeof item.value !== 'object') continue;
    if (item.depth >= maxDepth) {
      const shown = item.path.slice(0, 6);
      const path = `${formatPath(shown)}${item.path.length > shown.length ? '…' : ''}`;
      throw new InvalidEventError(
        `${what} nests deeper than ${maxDepth} levels at ${path || '(root)'}; no payload this platform takes nests that deep`,
        [{ check: 'depth', path, message: `nests deeper than ${maxDepth} levels` }],
      );
    }
    // Paths never grow past maxDepth segments, so copying one per value stays linear in the input.
    if (Array.isArray(item.value)) {
      for (const [index, child] of item.value.entries())
        stack.push({ value: child, depth: item.depth + 1, path: [...item.path, index] });
    } else {
      for (const [key, child] of Object.entries(item.value))
        stack.push({ value: child, depth: item.depth + 1, path: [...item.path, key] });
    }
  }
}

/** JSON text to a value: 400 (InvalidEventError) when it is not JSON or nests too deep. */
export function parseJsonText(text: string, what = 'the body'): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidEventError(`${what} is not JSON`, [
      { check: 'json', path: '', message: `not JSON: ${(error as Error).message}` },
    ]);
  }
  assertJsonDepth(value, what);
  return value;
}

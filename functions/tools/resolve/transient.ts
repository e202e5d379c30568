import type { ToolContext } from '../../ports/tools.ts';
import { sleep, ToolError, ToolErrorKind } from '../tool.ts';

/**
 * Resolution is the first read of every execution, and every later step templates what it found: one
 * 429 or 503 there would leave `unresolved` behind and fail the run with Runbook.InvalidParameters. So
 * a resolver read that fails for a passing reason is tried again, with bounded exponential backoff
 * (honouring Retry-After), like a step's Retry; a permanent answer (404, 403, 422) is recorded at once.
 */

export interface TransientRetry {
  /** Retries after the first attempt. */
  retries: number;
  /** Wait before the first retry; doubled for each next one. */
  baseMs: number;
  /** No single wait is longer (a Retry-After above it is cut to it). */
  maxDelayMs: number;
}

/** 4 retries: 0.5, 1, 2, 4 s (under 8 s in all, well inside the resolve step's timeout). */
export const RESOLVE_RETRY: TransientRetry = { retries: 4, baseMs: 500, maxDelayMs: 5_000 };

const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The error, its causes, in order (bounded: cause chains can loop). */
function chain(error: unknown): unknown[] {
  const errors: unknown[] = [];
  for (let current = error; current && errors.length < 6; current = (current as { cause?: unknown }).cause)
    errors.push(current);
  return errors;
}

function statusOf(error: ToolError): number | undefined {
  const status = error.data?.status ?? error.data?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Seconds the server asked to wait (Kubernetes' Retry-After in the error data, or an HTTP response's). */
function retryAfterMs(error: unknown): number | undefined {
  for (const link of chain(error)) {
    const data = (link as { data?: Record<string, unknown> }).data;
    const fromData = data?.retryAfterSeconds;
    if (typeof fromData === 'number' && Number.isFinite(fromData)) return Math.max(0, fromData * 1000);
    const header = (link as { $response?: { headers?: Record<string, string> } }).$response?.headers?.[
      'retry-after'
    ];
    const seconds = header === undefined ? Number.NaN : Number(header);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  }
  return undefined;
}

/**
 * Whether a failed read is worth trying again: throttling (429, ThrottlingException), a server that is
 * busy or down for a moment (5xx), or a connection that broke. Denied, not found, refused: never.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof ToolError)) {
    return chain(error).some((link) => CONNECTION_CODES.has(String((link as { code?: unknown }).code)));
  }
  if (error.name === ToolErrorKind.Throttled) return true;
  if (error.name !== ToolErrorKind.Failed) return false;
  const status = statusOf(error);
  if (status !== undefined) return TRANSIENT_STATUS.has(status);
  return chain(error.cause).some((link) => CONNECTION_CODES.has(String((link as { code?: unknown }).code)));
}

/** The wait before retry `retry` (1-based): the server's Retry-After if it said, else exponential backoff. */
export function retryDelayMs(error: unknown, retry: number, policy: TransientRetry = RESOLVE_RETRY): number {
  const asked = retryAfterMs(error);
  const backoff = policy.baseMs * 2 ** (retry - 1);
  return Math.min(asked ?? backoff, policy.maxDelayMs);
}

/**
 * Runs a read, trying a transient failure again up to `policy.retries` times; the last failure (or a
 * permanent one at once) is thrown for the caller to record. An abort ends the waiting at once.
 */
export async function withTransientRetry<T>(
  read: () => Promise<T>,
  context: Pick<ToolContext, 'signal' | 'log'>,
  what: string,
  policy: TransientRetry = RESOLVE_RETRY,
): Promise<T> {
  for (let retry = 1; ; retry++) {
    try {
      return await read();
    } catch (error) {
      if (context.signal.aborted || retry > policy.retries || !isTransient(error)) throw error;
      const delay = retryDelayMs(error, retry, policy);
      context.log(
        `resolution: ${what} failed for a passing reason; retry ${retry} of ${policy.retries} in ${delay} ms`,
        {
          error: error instanceof Error ? error.message : String(error),
        },
      );
      await sleep(delay, context.signal);
    }
  }
}

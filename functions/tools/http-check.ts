import type { ToolImplementation } from '../ports/tools.ts';
import type { HttpCheckOutput } from './declarations/generic.ts';
import { declarationOf } from './declarations.ts';
import type { ToolRuntime } from './registry.ts';
import { defineTool, ToolError, ToolErrorKind } from './tool.ts';

/**
 * http.check: one request, measured. A check that does not pass throws (Tool.Failed) so a step's retries
 * poll until the endpoint is healthy; the measured values are in the message and the error data.
 */

/** The body is searched up to this many bytes; the rest is not downloaded. */
export const MAX_BODY_BYTES = 1_048_576;

/** Reads the body until `needle` is found or the cap is reached, then stops downloading. */
async function bodyContains(response: Response, needle: string): Promise<boolean> {
  if (!response.body) return false;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  // Only the end of the previous chunk is kept: enough for a match that spans two chunks.
  let carry = '';
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const text = carry + (done ? decoder.decode() : decoder.decode(value, { stream: true }));
      if (text.includes(needle)) return true;
      if (done) return false;
      bytes += value.byteLength;
      if (bytes >= MAX_BODY_BYTES) return false;
      carry = needle.length > 1 ? text.slice(1 - needle.length) : '';
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: string }).code;
    return code && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return error.message;
}

export function httpCheckTool(runtime: ToolRuntime): ToolImplementation {
  const declaration = declarationOf('http.check');
  const tool = declaration.name;
  return defineTool(declaration, async (parameters, context) => {
    const { url, method, expectStatus, maxLatencyMs, timeoutMs } = parameters;
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:')
      throw new ToolError(
        ToolErrorKind.Failed,
        `${tool}: only http and https URLs can be checked; "${url}" is ${target.protocol}`,
      );
    const label = `${method} ${url}`;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([context.signal, timeout]);
    // A check that expects a redirect must see it; otherwise redirects are followed like a browser would.
    const expectsRedirect = expectStatus.some((status) => status >= 300 && status < 400);
    const started = performance.now();
    let status: number;
    let bodyMatched: boolean | undefined;
    try {
      const response = await runtime.fetch(target, {
        method,
        redirect: expectsRedirect ? 'manual' : 'follow',
        headers: { 'user-agent': 'runbook-autopilot http.check' },
        signal,
      });
      status = response.status;
      if (parameters.bodyContains !== undefined && method === 'GET') {
        bodyMatched = await bodyContains(response, parameters.bodyContains);
      } else {
        // Drain what there is so the latency covers the whole answer and the connection is released.
        await response.arrayBuffer();
        if (parameters.bodyContains !== undefined) bodyMatched = false;
      }
    } catch (error) {
      if (context.signal.aborted) throw context.signal.reason;
      if (timeout.aborted)
        throw new ToolError(ToolErrorKind.Failed, `${tool}: ${label} got no answer within ${timeoutMs} ms`, {
          data: { url, timeoutMs },
        });
      throw new ToolError(ToolErrorKind.Failed, `${tool}: ${label} failed: ${describeFetchError(error)}`, {
        cause: error,
        data: { url },
      });
    }
    const latencyMs = Math.round(performance.now() - started);

    const problems: string[] = [];
    if (!expectStatus.includes(status))
      problems.push(`status ${status} (expected ${expectStatus.join(' or ')})`);
    if (maxLatencyMs !== undefined && latencyMs > maxLatencyMs)
      problems.push(`latency ${latencyMs} ms (limit ${maxLatencyMs} ms)`);
    if (parameters.bodyContains !== undefined && !bodyMatched)
      problems.push(
        method === 'HEAD'
          ? `a HEAD answer has no body to contain "${parameters.bodyContains}": use GET`
          : `body does not contain "${parameters.bodyContains}"`,
      );
    const measured = {
      url,
      status,
      latencyMs,
      ...(bodyMatched === undefined ? {} : { bodyMatched }),
    };
    context.log('http check', { ...measured, passed: problems.length === 0 });
    if (problems.length > 0)
      throw new ToolError(
        ToolErrorKind.Failed,
        `${tool}: ${label} answered ${status} in ${latencyMs} ms: ${problems.join('; ')}`,
        { data: measured },
      );
    const output: HttpCheckOutput = { ...measured, ok: true };
    return output;
  });
}

export type { HttpCheckOutput } from './declarations/generic.ts';

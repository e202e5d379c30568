import type middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { z } from 'zod';
import { EXECUTION_NAME_MAX, EXECUTION_NAME_PATTERN } from '../core/classifier/identity.ts';
import {
  EngineThrottledError,
  EventBusError,
  InvalidEventError,
  RunbookAutopilotError,
  ValidationError,
} from '../core/errors.ts';
import { assertJsonDepth, parseJsonText } from '../core/json-limits.ts';
import { schemaProblems } from '../core/runbook/issues.ts';
import { ControlConflictError, NotFoundError } from '../core/services/control.ts';
import type { Logger } from '../ports/logger.ts';

/** HTTP handlers take Lambda Function URL events (payload format 2.0); the local server builds the same. */
export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

export class PayloadTooLargeError extends RunbookAutopilotError {
  override readonly name = 'PayloadTooLargeError';
}

export class UnauthorizedError extends RunbookAutopilotError {
  override readonly name = 'UnauthorizedError';
}

/** Signed in, but not in a group that may do this (HTTP 403). */
export class ForbiddenError extends RunbookAutopilotError {
  override readonly name = 'ForbiddenError';
}

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** A Markdown document (an incident report): shown as text by a browser, never run. */
export function markdown(statusCode: number, body: string): HttpResult {
  return {
    statusCode,
    headers: {
      'content-type': 'text/markdown; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    },
    body,
  };
}

/** Pages carry links with signatures: no caching, no referrer, no framing, no inline scripts. */
export function html(statusCode: number, body: string): HttpResult {
  return {
    statusCode,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    },
    body,
  };
}

export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {}))
    if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** The raw body, decoded, refused (413) over `limitBytes` before anything parses it. */
export function readBody(event: HttpEvent, limitBytes: number): string {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw);
  if (bytes > limitBytes) {
    throw new PayloadTooLargeError(`the body is ${bytes} bytes; the limit is ${limitBytes} bytes`);
  }
  return event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
}

/** A JSON body checked against a schema; every problem names its field. */
export function parseJsonBody<T extends z.ZodType>(
  event: HttpEvent,
  schema: T,
  limitBytes: number,
): z.infer<T> {
  return parseValue(schema, parseJsonText(readBody(event, limitBytes)), 'the body');
}

/** An execution id from a request (path or query): an execution name, else 400 naming `where`. */
export function checkExecutionId(id: string, where: string): string {
  if (EXECUTION_NAME_PATTERN.test(id)) return id;
  throw new InvalidEventError(
    `not an execution id: execution ids are 1-${EXECUTION_NAME_MAX} characters of A-Z, a-z, 0-9, - and _ (got ${id.length} characters)`,
    [{ check: 'path', path: where, message: `expected an execution id, got ${id.length} characters` }],
  );
}

/**
 * A path parameter, percent-decoded. Broken encoding (`%E0%A4%A`, `%ZZ`) is the sender's mistake: 400
 * naming the parameter, never a URIError.
 */
export function pathParameter(event: HttpEvent, name: string, what: string): string {
  const raw = event.pathParameters?.[name] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidEventError(
      `the ${what} in the path has broken percent-encoding: every % must start a %XX escape of UTF-8`,
      [{ check: 'path', path: name, message: 'broken percent-encoding' }],
    );
  }
}

/** Task payloads carry tool outputs, which nest deeper than any request body; still bounded. */
const MAX_PAYLOAD_DEPTH = 64;

export function parseValue<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  // Nothing below (templates, messages) may recurse into a value deeper than the stack.
  assertJsonDepth(value, what, MAX_PAYLOAD_DEPTH);
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = schemaProblems(schema, value, parsed.error.issues);
  throw new InvalidEventError(
    `${what} is invalid: ${problems.map((problem) => `${problem.path || '(root)'}: ${problem.message}`).join('; ')}`,
    problems,
  );
}

/**
 * Turns errors into answers: 400 naming the fields, 401, 404, 409, 413; anything else 500 without
 * details (logged with the request id). Users never see a stack trace.
 */
export function httpErrors(logger: Logger): middy.MiddlewareObj<HttpEvent, HttpResult> {
  return {
    onError: async function httpErrorsOnError(request) {
      const error = request.error as Error & { statusCode?: number };
      const requestId = request.event.requestContext?.requestId;
      if (error instanceof ValidationError) {
        request.response = json(400, {
          error: error.message,
          problems: error.problems.map((problem) => ({ path: problem.path, message: problem.message })),
        });
      } else if (error instanceof PayloadTooLargeError) {
        request.response = json(413, { error: error.message });
      } else if (error instanceof UnauthorizedError) {
        request.response = json(401, { error: error.message }, { 'www-authenticate': 'Bearer' });
      } else if (error instanceof ForbiddenError) {
        request.response = json(403, { error: error.message });
      } else if (error instanceof NotFoundError) {
        request.response = json(404, { error: error.message });
      } else if (error instanceof ControlConflictError) {
        request.response = json(409, { error: error.message, ...error.details });
      } else if (error instanceof EventBusError || error instanceof EngineThrottledError) {
        // Nothing was half-done: the sender (Alertmanager) retries on a 5xx.
        logger.warn('request deferred', { requestId, error: error.message });
        request.response = json(503, { error: `${error.message}; try again` }, { 'retry-after': '30' });
      } else if (error.statusCode === 404) {
        request.response = json(404, {
          error: `no route ${request.event.requestContext?.http?.method ?? ''} ${request.event.rawPath ?? ''}`,
        });
      } else {
        logger.error('request failed', {
          requestId,
          error: error.message,
          name: error.name,
          stack: error.stack,
        });
        request.response = json(500, { error: 'internal error', requestId });
      }
    },
  };
}

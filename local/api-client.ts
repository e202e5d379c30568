import { RunbookAutopilotError } from '../functions/core/errors.ts';

/**
 * The CLI's one client of the platform's HTTP API (the embedded server, or any server answering the same
 * routes). Every request says it comes from the CLI, so the audit trail records the channel; a refusal
 * prints the API's own message and each field it names.
 */

export interface ApiTarget {
  url: string;
  token?: string;
}

export type ApiAnswer = Record<string, unknown>;

/** The API refused, or no platform answered: the message says which and what to do. */
export class ApiRefusal extends RunbookAutopilotError {
  override readonly name = 'ApiRefusal';
}

const TIMEOUT_MS = 15_000;

/** Sends one request; a refusal (or no answer) becomes an ApiRefusal. Answers the body as text. */
async function request(
  target: ApiTarget,
  method: 'GET' | 'POST',
  path: string,
  options: { body?: unknown; accept: string },
): Promise<string> {
  const { body, accept } = options;
  let response: Response;
  try {
    response = await fetch(
      new URL(path.replace(/^\//, ''), target.url.endsWith('/') ? target.url : `${target.url}/`),
      {
        method,
        headers: {
          accept,
          'x-runbook-client': 'cli',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      },
    );
  } catch (error) {
    throw new ApiRefusal(
      `no platform answers at ${target.url} (${(error as Error).message}): start it with npm start, or pass its address with --url`,
    );
  }
  const text = await response.text();
  if (response.status === 401)
    throw new ApiRefusal(`the server at ${target.url} needs a token: pass --token`);
  if (!response.ok) {
    let answer: ApiAnswer = {};
    try {
      answer = JSON.parse(text) as ApiAnswer;
    } catch {
      answer = { error: text.slice(0, 500) };
    }
    const problems = Array.isArray(answer.problems)
      ? (answer.problems as Array<{ path?: string; message?: string }>).map(
          (problem) => `\n  ${problem.path || '(body)'}: ${problem.message ?? ''}`,
        )
      : [];
    throw new ApiRefusal(
      `${response.status}: ${String(answer.error ?? response.statusText)}${problems.join('')}`,
    );
  }
  return text;
}

/** A JSON route: the answer parsed (a body that is not JSON is kept as its `error`). */
export async function callApi(
  target: ApiTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const text = await request(target, method, path, { body, accept: 'application/json' });
  try {
    return text ? (JSON.parse(text) as ApiAnswer) : {};
  } catch {
    return { error: text.slice(0, 500) };
  }
}

/** A route that answers a document (Markdown, CSV…): its text as sent. */
export function fetchApiText(target: ApiTarget, path: string, accept: string): Promise<string> {
  return request(target, 'GET', path, { accept });
}

import type * as z from 'zod';
import { parseJsonText } from '../core/json-limits.ts';
import { type HttpEvent, type HttpResult, header, html, json, parseValue, readBody } from './http.ts';

/**
 * What the signed-link pages share (approvals, pause/abort links, feedback): each answers a browser
 * with a page and a script with JSON, and reads its form either way.
 */

/** The largest form a signed-link page accepts: a decision or feedback with its comment. */
export const LINK_FORM_LIMIT = 8 * 1024;

/** JSON for a client that asks for it or sends it; a page for a browser. */
export function wantsJson(event: HttpEvent): boolean {
  return (
    (header(event, 'accept') ?? '').includes('application/json') ||
    (header(event, 'content-type') ?? '').includes('application/json')
  );
}

/** The page's own address, query included, for its form to post back to (the signed parameters ride along). */
export function formAction(event: HttpEvent): string {
  return `${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`;
}

/**
 * The form posted to a link page: JSON when the client sends JSON (an empty body is `{}` when
 * `emptyJson` allows it), else URL-encoded; checked against `schema`, errors naming `what`.
 */
export function readLinkForm<T>(
  event: HttpEvent,
  schema: z.ZodType<T>,
  what: string,
  options: { emptyJson?: boolean } = {},
): T {
  const text = readBody(event, LINK_FORM_LIMIT);
  const raw = wantsJson(event)
    ? text || !options.emptyJson
      ? parseJsonText(text, what)
      : {}
    : Object.fromEntries(new URLSearchParams(text));
  return parseValue(schema, raw, what);
}

/** A refused link: `{ error, reason }` as JSON, or the page's refusal page. */
export function refusal(
  event: HttpEvent,
  status: number,
  refused: { message: string; reason: string },
  page: (message: string) => string,
): HttpResult {
  return wantsJson(event)
    ? json(status, { error: refused.message, reason: refused.reason })
    : html(status, page(refused.message));
}

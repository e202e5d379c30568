import type { IncomingHttpHeaders } from 'node:http';
import { secretsEqual } from '../functions/core/approval-links.ts';

/**
 * What the embedded platform's server accepts from whom (README "Security"), decided before any route
 * runs. The server binds loopback, so the parties are: tools on this machine (curl, Alertmanager: no
 * Origin, Host 127.0.0.1:port), the dashboard and approval pages it serves itself, and web pages on other
 * sites the operator's browser happens to show, which must not drive it (cross-site requests, DNS
 * rebinding).
 */

export interface RequestPolicyOptions {
  /** The address the server listens on (127.0.0.1 unless a test says otherwise). */
  host: string;
  /** The port it listens on. */
  port: number;
  /** Other names it answers for (--allowed-host): `name` on any port, `name:port` on that port only. */
  allowedHosts: readonly string[];
  /** Per-start secret the server's own pages carry and send back with every state change. */
  csrfToken: string;
}

export interface Refusal {
  status: 403 | 415;
  error: string;
}

/** The header the dashboard sends its page token in; the approval form sends it as the field `csrf`. */
export const CSRF_HEADER = 'x-runbook-csrf';
export const CSRF_FIELD = 'csrf';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `Name:8787` → { name: 'name', port: 8787 }; `[::1]` keeps its brackets; no port → undefined port. */
function parseHost(text: string): { name: string; port?: number } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]/@]+)(?::(\d{1,5}))?$/i.exec(text.trim());
  if (!match) return undefined;
  return { name: match[1]!.toLowerCase(), ...(match[2] ? { port: Number(match[2]) } : {}) };
}

function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Refuses a Host that is not this server's address or a configured name: DNS rebinding ends here. */
export function checkHost(headers: IncomingHttpHeaders, options: RequestPolicyOptions): Refusal | undefined {
  const given = header(headers, 'host');
  const parsed = given === undefined ? undefined : parseHost(given);
  if (parsed) {
    const port = parsed.port ?? 80;
    const own = new Set([...LOOPBACK_NAMES, bracketed(options.host.toLowerCase())]);
    if (own.has(parsed.name) && port === options.port) return undefined;
    for (const allowed of options.allowedHosts) {
      const entry = parseHost(allowed);
      if (entry && entry.name === parsed.name && (entry.port === undefined || entry.port === port))
        return undefined;
    }
  }
  const shown = given === undefined ? 'none' : `"${given.length > 100 ? `${given.slice(0, 100)}…` : given}"`;
  return {
    status: 403,
    error: `this server answers only requests for 127.0.0.1:${options.port}, localhost:${options.port} or [::1]:${options.port} (the Host header was ${shown}); to reach it under another name (a tunnel, a proxy), start it with --allowed-host NAME`,
  };
}

/**
 * Refuses what a page on another site could send: an Origin that is not this server's, and
 * Sec-Fetch-Site cross-site or same-site (another port of 127.0.0.1 is the same site). A top-level
 * navigation GET stays allowed: an approval link opened from a webmail is one, and GET decides nothing.
 */
export function checkSite(method: string, headers: IncomingHttpHeaders): Refusal | undefined {
  const host = header(headers, 'host') ?? '';
  const ownOrigin = `http://${host.toLowerCase()}`;
  const origin = header(headers, 'origin');
  const site = header(headers, 'sec-fetch-site');
  // A page with Referrer-Policy no-referrer (the approval page) posts its form with Origin null; the
  // browser's own Sec-Fetch-Site still says same-origin. Without that, null is an unknown origin.
  const nullButSameOrigin = origin === 'null' && site === 'same-origin';
  if (origin !== undefined && origin.toLowerCase() !== ownOrigin && !nullButSameOrigin)
    return {
      status: 403,
      error: `cross-origin request refused: Origin ${origin.length > 100 ? `${origin.slice(0, 100)}…` : origin} is not this server (${ownOrigin}); use the dashboard it serves, or call it from this machine without a browser`,
    };
  if (site === 'cross-site' || site === 'same-site') {
    const navigation = SAFE_METHODS.has(method) && header(headers, 'sec-fetch-mode') === 'navigate';
    if (!navigation)
      return {
        status: 403,
        error: `cross-site request refused (Sec-Fetch-Site: ${site}); use the dashboard this server serves`,
      };
  }
  return undefined;
}

/** Whether the request carries a body (a length above zero, or a chunked one). */
function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = header(headers, 'content-length');
  if (length !== undefined) return Number(length) > 0;
  return header(headers, 'transfer-encoding') !== undefined;
}

/**
 * JSON APIs (webhooks, /events, /api/*) take bodies only as application/json: a form or text/plain is
 * what a page on another site can post without asking first. The approval and feedback forms also
 * take application/x-www-form-urlencoded. A request without a body needs no type (`curl -X POST …/abort`).
 */
export function checkContentType(
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
): Refusal | undefined {
  if (SAFE_METHODS.has(method) || !hasBody(headers)) return undefined;
  const given = header(headers, 'content-type');
  const type = given?.split(';')[0]?.trim().toLowerCase() ?? '';
  const accepted =
    path.startsWith('/approvals/') || path.startsWith('/feedback/')
      ? ['application/json', 'application/x-www-form-urlencoded']
      : path === '/webhooks/alertmanager' || path === '/events' || path.startsWith('/api/')
        ? ['application/json']
        : undefined;
  if (!accepted || accepted.includes(type)) return undefined;
  return {
    status: 415,
    error: `${method} ${path} takes ${accepted.join(' or ')}; the Content-Type was ${given === undefined ? 'missing' : `"${given.slice(0, 100)}"`} (send -H 'content-type: application/json')`,
  };
}

/** A browser says where a request comes from (Origin on every POST, Sec-Fetch-Site on everything); tools do not. */
export function fromBrowser(headers: IncomingHttpHeaders): boolean {
  return header(headers, 'origin') !== undefined || header(headers, 'sec-fetch-site') !== undefined;
}

/** Whether a state change needs the page token: an unsafe method sent by a browser. */
export function needsCsrfToken(method: string, headers: IncomingHttpHeaders): boolean {
  return !SAFE_METHODS.has(method) && fromBrowser(headers);
}

/** The token from the header, else from a form field; compared in constant time. */
export function csrfTokenValid(
  headers: IncomingHttpHeaders,
  options: Pick<RequestPolicyOptions, 'csrfToken'>,
  formField?: string,
): boolean {
  const given = header(headers, CSRF_HEADER) ?? formField;
  return given !== undefined && secretsEqual(given, options.csrfToken);
}

export const CSRF_REFUSAL: Refusal = {
  status: 403,
  error:
    'this change needs the CSRF token of a page this server served (the dashboard or the approval page); reload the page and try again',
};

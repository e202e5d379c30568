import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { EventEnvelope } from '../functions/adapters/local/local-bus.ts';
import type { LocalPlatform } from '../functions/composition/local.ts';
import { secretsEqual } from '../functions/core/approval-links.ts';
import { parseEventBridgeEvent } from '../functions/core/classifier/payloads.ts';
import { toMermaid } from '../functions/core/compiler/mermaid.ts';
import { InvalidEventError, RunbookAutopilotError, ValidationError } from '../functions/core/errors.ts';
import { parseJsonText } from '../functions/core/json-limits.ts';
import { checkExecutionId } from '../functions/handlers/http.ts';
import { type CoverageReport, catalogPayloads, coverageOf } from './coverage.ts';
import {
  CSRF_FIELD,
  CSRF_REFUSAL,
  checkContentType,
  checkHost,
  checkSite,
  csrfTokenValid,
  needsCsrfToken,
  type RequestPolicyOptions,
} from './request-policy.ts';
import type { RunbookCatalogEntry } from './runbook-catalog.ts';

/** Request bodies over these are answered 413 without reading further. */
export const BODY_LIMITS = { webhook: 1024 * 1024, events: 256 * 1024, other: 64 * 1024 } as const;

const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), 'dashboard');
const require = createRequire(import.meta.url);

type Result = APIGatewayProxyStructuredResultV2;

function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): Result {
  return {
    statusCode,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
    body: JSON.stringify(body),
  };
}

class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
}

/** Reads a body up to `limit` bytes; beyond that stops reading and throws, so a flood never fills memory. */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? '0');
  if (declared > limit) throw new BodyTooLarge(`the body is ${declared} bytes; the limit is ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge(`the body is over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The Lambda Function URL event (payload 2.0) for a request: the handlers are the AWS ones. */
export function functionUrlEvent(request: IncomingMessage, url: URL, body: Buffer): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const method = request.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: `local-${Date.now().toString(36)}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
    isBase64Encoded: false,
  };
}

function send(response: ServerResponse, result: Result): void {
  const headers = { ...(result.headers as Record<string, string>) };
  const body = typeof result.body === 'string' ? result.body : '';
  response.writeHead(result.statusCode ?? 200, { ...headers, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function staticFile(name: string, type: string): Result {
  return {
    statusCode: 200,
    headers: { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' },
    body: readFileSync(name, 'utf8'),
  };
}

export interface ServerOptions {
  platform: LocalPlatform;
  host: string;
  port: number;
  token?: string;
  /** Names besides the bound address it answers for (--allowed-host): `name` on any port, `name:port`. */
  allowedHosts?: readonly string[];
  /** The token its pages carry for state changes (CSRF); a fresh random one when absent. */
  csrfToken?: string;
  runbooks: () => RunbookCatalogEntry[];
  log: (line: string) => void;
}

/**
 * The embedded platform's HTTP server (127.0.0.1 only): the same routes the AWS Function URLs serve,
 * through the same handlers, plus what only a local platform has (POST /events, the outbox, the
 * dashboard). Bad input gets a JSON error naming what was wrong; the server keeps serving.
 */
export async function startHttpServer(
  options: ServerOptions,
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const context = {} as never;
  // The port is known once it listens (port 0 picks one); no request arrives before that.
  const policy: RequestPolicyOptions = {
    host: options.host,
    port: options.port,
    allowedHosts: options.allowedHosts ?? [],
    csrfToken: options.csrfToken ?? randomBytes(32).toString('base64url'),
  };
  const authorized = (request: IncomingMessage) => {
    if (!options.token) return true;
    const header = request.headers.authorization ?? '';
    return header.startsWith('Bearer ') && secretsEqual(header.slice(7).trim(), options.token);
  };

  // The built-in catalog against the served runbooks: they do not change while the server runs.
  let coverage: CoverageReport | undefined;
  const catalogCoverage = (): CoverageReport => {
    if (!coverage) {
      const { config } = options.platform;
      const runbooks = options
        .runbooks()
        .flatMap((entry) => (entry.runbook && entry.definition ? [entry.runbook] : []));
      coverage = coverageOf(catalogPayloads(config.environment), runbooks, {
        environment: config.environment,
        ignoredAlerts: config.ignoredAlerts,
      });
    }
    return coverage;
  };

  async function route(request: IncomingMessage, url: URL): Promise<Result> {
    const method = request.method ?? 'GET';
    const path = url.pathname;
    // First, and without the platform: a liveness probe answers while the platform starts or is busy.
    if (method === 'GET' && path === '/healthz') return json(200, { ok: true });
    const platform = options.platform;
    if (method === 'POST' && path === '/webhooks/alertmanager') {
      const body = await readBody(request, BODY_LIMITS.webhook);
      return (await platform.handlers.ingest(functionUrlEvent(request, url, body), context)) as Result;
    }
    if (method === 'POST' && path === '/events') {
      if (!authorized(request))
        return json(
          401,
          { error: 'this endpoint needs Authorization: Bearer <token>' },
          { 'www-authenticate': 'Bearer' },
        );
      const body = await readBody(request, BODY_LIMITS.events);
      const envelope = parseEventBridgeEvent(
        parseJsonText(body.toString('utf8')),
      ) as unknown as EventEnvelope;
      const deliveries = await platform.bus.deliver(envelope);
      if (deliveries.length === 0)
        return json(202, {
          accepted: 1,
          results: [],
          note: `no rule matches ${envelope.source} "${envelope['detail-type']}"`,
        });
      const failed = deliveries.find((delivery) => delivery.error);
      if (failed?.error && failed.error.name === 'InvalidEventError')
        return json(400, {
          error: failed.error.message,
          ...(failed.error.problems ? { problems: failed.error.problems } : {}),
        });
      // Nothing kept it: the sender must not take the event as accepted; it may send it again.
      if (failed?.error)
        return json(
          503,
          { error: `the event was not processed (${failed.error.message}); try again`, results: deliveries },
          { 'retry-after': '30' },
        );
      return json(202, { accepted: 1, results: deliveries });
    }
    // Approval pages and the signed pause/abort links: the same public handler, forms with the page token.
    if (publicLinkPath(path)) {
      const body = method === 'POST' ? await readBody(request, BODY_LIMITS.other) : Buffer.alloc(0);
      // The approval page's form sends the page token as a field (a form cannot set a header).
      if (needsCsrfToken(method, request.headers)) {
        const form = (request.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')
          ? (new URLSearchParams(body.toString('utf8')).get(CSRF_FIELD) ?? undefined)
          : undefined;
        if (!csrfTokenValid(request.headers, policy, form))
          return json(CSRF_REFUSAL.status, { error: CSRF_REFUSAL.error });
      }
      return (await platform.handlers.approvalWeb(functionUrlEvent(request, url, body), context)) as Result;
    }
    if (path === '/api/outbox' && method === 'GET') {
      if (!authorized(request))
        return json(
          401,
          { error: 'this API needs Authorization: Bearer <token>' },
          { 'www-authenticate': 'Bearer' },
        );
      const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? '50') || 50));
      const given = url.searchParams.get('executionId');
      const executionId = given === null ? undefined : checkExecutionId(given, 'executionId');
      return json(200, {
        notifications: await platform.store.listNotifications({
          limit,
          ...(executionId ? { executionId } : {}),
        }),
      });
    }
    if (path === '/api/runbooks' && method === 'GET') {
      if (!authorized(request))
        return json(
          401,
          { error: 'this API needs Authorization: Bearer <token>' },
          { 'www-authenticate': 'Bearer' },
        );
      return json(200, {
        runbooks: options.runbooks().map(({ definition: _definition, runbook: _runbook, ...entry }) => entry),
      });
    }
    if (path === '/api/coverage' && method === 'GET') {
      if (!authorized(request))
        return json(
          401,
          { error: 'this API needs Authorization: Bearer <token>' },
          { 'www-authenticate': 'Bearer' },
        );
      return json(200, {
        ...catalogCoverage(),
        unmatchedSeen: await platform.store.listUnmatched(),
      });
    }
    const graph = /^\/api\/runbooks\/([a-z0-9-]+)\/graph$/.exec(path);
    if (graph && method === 'GET') {
      if (!authorized(request))
        return json(
          401,
          { error: 'this API needs Authorization: Bearer <token>' },
          { 'www-authenticate': 'Bearer' },
        );
      const entry = options.runbooks().find((candidate) => candidate.id === graph[1]);
      if (!entry?.definition) return json(404, { error: `no compiled runbook "${graph[1]}"` });
      return {
        statusCode: 200,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
        body: toMermaid(entry.definition),
      };
    }
    if (path.startsWith('/api/')) {
      const body = method === 'POST' ? await readBody(request, BODY_LIMITS.other) : Buffer.alloc(0);
      return (await platform.handlers.control(functionUrlEvent(request, url, body), context)) as Result;
    }
    if (method === 'GET' && DASHBOARD_PAGES.test(path)) {
      const page = staticFile(join(DASHBOARD_DIR, 'index.html'), 'text/html; charset=utf-8');
      return {
        ...page,
        headers: dashboardHeaders(),
        // The page token, readable only by pages of this origin; the script sends it with every change.
        body: String(page.body).replace(
          '<meta name="runbook-csrf" content="">',
          `<meta name="runbook-csrf" content="${policy.csrfToken}">`,
        ),
      };
    }
    // The dashboard asks where it runs: here, embedded, without sign-in (on AWS the file names the sign-in).
    if (method === 'GET' && path === '/dashboard-config.json')
      return json(200, { embedded: true, environment: platform.config.environment });
    if (method === 'GET' && path === '/assets/dashboard.js')
      return staticFile(join(DASHBOARD_DIR, 'dashboard.js'), 'text/javascript; charset=utf-8');
    if (method === 'GET' && path === '/assets/charts.js')
      return staticFile(join(DASHBOARD_DIR, 'charts.js'), 'text/javascript; charset=utf-8');
    if (method === 'GET' && path === '/assets/dashboard.css')
      return staticFile(join(DASHBOARD_DIR, 'dashboard.css'), 'text/css; charset=utf-8');
    if (method === 'GET' && path === '/assets/mermaid.min.js')
      return staticFile(require.resolve('mermaid/dist/mermaid.min.js'), 'text/javascript; charset=utf-8');
    return json(404, { error: `no route ${method} ${path}` });
  }

  /** Who may ask what, before any route runs (request-policy.ts); undefined: go on. */
  function refusal(request: IncomingMessage, method: string, path: string): Result | undefined {
    const refused =
      checkHost(request.headers, policy) ??
      checkSite(method, request.headers) ??
      checkContentType(method, path, request.headers) ??
      // The approval form carries its token in the body: its route checks it once the body is read.
      (needsCsrfToken(method, request.headers) &&
      !publicLinkPath(path) &&
      !csrfTokenValid(request.headers, policy)
        ? CSRF_REFUSAL
        : undefined);
    return refused ? json(refused.status, { error: refused.error }, { connection: 'close' }) : undefined;
  }

  const server = createServer((request, response) => {
    const method = request.method ?? 'GET';
    let target: URL;
    try {
      // Parsed against a fixed base: the Host header is checked before it is trusted for anything.
      target = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      send(
        response,
        json(400, { error: 'the request target is not a valid URL path' }, { connection: 'close' }),
      );
      return;
    }
    const refused = refusal(request, method, target.pathname);
    if (refused) {
      send(response, refused);
      return;
    }
    const url = new URL(`${target.pathname}${target.search}`, `http://${request.headers.host}`);
    route(request, url)
      .then((result) => send(response, result))
      .catch((error: unknown) => {
        let result: Result;
        if (error instanceof BodyTooLarge) {
          result = json(413, { error: error.message });
          response.setHeader('connection', 'close');
        } else if (error instanceof InvalidEventError || error instanceof ValidationError) {
          result = json(400, {
            error: error.message,
            problems: error.problems.map((problem) => ({ path: problem.path, message: problem.message })),
          });
        } else {
          options.log(`error  ${request.method} ${url.pathname}: ${(error as Error).message}`);
          result = json(500, { error: 'internal error' });
        }
        send(response, result);
        if (error instanceof BodyTooLarge) request.destroy();
      });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      if (error.code === 'EADDRINUSE')
        reject(
          new RunbookAutopilotError(
            `port ${options.port} on ${options.host} is in use (another runbook serve or demo?): stop it, or choose another port with --port`,
          ),
        );
      else if (error.code === 'EACCES')
        reject(
          new RunbookAutopilotError(
            `not allowed to listen on ${where}: choose a port above 1023 with --port`,
          ),
        );
      else reject(error);
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  policy.port = port;
  return {
    server,
    url: `http://${options.host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The signed links' pages (approvals, pause/abort, report, feedback): the public approval-web handler. */
function publicLinkPath(path: string): boolean {
  return ['/approvals/', '/control/', '/reports/', '/feedback/'].some((prefix) => path.startsWith(prefix));
}

/** Paths the dashboard page answers (it routes on the client): list, execution, runbooks, learning, audit. */
const DASHBOARD_PAGES = /^\/(?:|executions\/[^/]+|runbooks|learning|coverage|audit)$/;

/** The dashboard runs its own script and the bundled mermaid; nothing inline, nothing remote. */
function dashboardHeaders(): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  };
}

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { startHttpServer } from '../../local/server.ts';
import type { Json } from '../support/json.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from '../support/library.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * What the embedded platform's HTTP server accepts from whom (README "Security"): only requests for its
 * own address (no DNS rebinding), no cross-site requests, JSON APIs only as application/json, and the
 * dashboard's state-changing calls only with the page's CSRF token. Loopback tools (curl,
 * Alertmanager: no Origin, Host 127.0.0.1:port, application/json) work unchanged.
 */

const ENVIRONMENT = 'staging';
let platform: RunningPlatform;
let port: number;
let dataDir: string;

beforeAll(async () => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  dataDir = mkdtempSync(join(tmpdir(), 'runbook-security-'));
  platform = await startPlatform({
    cwd: ROOT,
    runbooksDir: LIBRARY_RUNBOOKS_DIR,
    statemachinesDir: libraryStatemachinesDir(),
    port: 0,
    dataDir,
    inMemory: true,
    environment: ENVIRONMENT,
    live: false,
    configOverrides: {
      tools: { kubernetes: { contexts: {}, eks: {} }, shell: { enabled: false, allow: [] } },
    },
    print: () => {},
  });
  port = Number(new URL(platform.url).port);
});

afterAll(async () => {
  await platform?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Json;
}

/** A raw HTTP/1.1 request: every header as given (fetch would not let a test set Host or Origin). */
function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
  target = port,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port: target,
        method,
        path,
        headers: {
          host: `127.0.0.1:${target}`,
          ...headers,
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Json = {};
          try {
            parsed = JSON.parse(text) as Json;
          } catch {
            parsed = {};
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text, body: parsed });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function alertBody(): string {
  const body = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
  );
  body.alerts = body.alerts.slice(0, 1);
  body.alerts[0].labels.environment = ENVIRONMENT;
  return JSON.stringify(body);
}

async function executionCount(): Promise<number> {
  return (await send('GET', '/api/executions')).body.executions.length;
}

/** The CSRF token the dashboard page carries (a per-start secret only pages from this server can read). */
async function pageToken(): Promise<string> {
  const page = await send('GET', '/');
  const token = /<meta name="runbook-csrf" content="([^"]+)">/.exec(page.text)?.[1];
  if (!token) throw new Error('the dashboard page carries no CSRF token');
  return token;
}

const ownOrigin = () => `http://127.0.0.1:${port}`;
const json = { 'content-type': 'application/json' };

describe('the local server: what it accepts from whom', () => {
  describe('Host (DNS rebinding)', () => {
    it.each([
      ['GET', '/api/outbox'],
      ['GET', '/api/executions'],
      ['GET', '/'],
      ['POST', '/approvals/some-approval'],
    ])(
      'refuses %s %s for a name that is not its own (a rebinding name), saying how to allow one',
      async (method, path) => {
        // Act
        const answer = await send(method, path, { host: `evil.example:${port}` });

        // Assess
        expect(answer.status).toBe(403);
        expect(answer.body.error).toContain('evil.example');
        expect(answer.body.error).toContain('--allowed-host');
      },
    );

    it.each([`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`])(
      'answers for its own address %s',
      async (host) => {
        // Act
        const answer = await send('GET', '/healthz', { host: host.replace('PORT', String(port)) });

        // Assess
        expect(answer.status).toBe(200);
      },
    );

    it('refuses its own name on another port', async () => {
      // Act
      const answer = await send('GET', '/healthz', { host: `127.0.0.1:${port + 1}` });

      // Assess
      expect(answer.status).toBe(403);
    });

    it('answers for a name given with allowedHosts (--allowed-host), and only that one', async () => {
      // Prepare: the server alone; /healthz needs no platform
      const server = await startHttpServer({
        get platform(): never {
          throw new Error('not needed');
        },
        host: '127.0.0.1',
        port: 0,
        allowedHosts: ['runbook.internal', 'tunnel.example:9000'],
        runbooks: () => [],
        log: () => {},
      });
      const target = Number(new URL(server.url).port);

      // Act
      const named = await send('GET', '/healthz', { host: `runbook.internal:${target}` }, undefined, target);
      const tunnelled = await send('GET', '/healthz', { host: 'tunnel.example:9000' }, undefined, target);
      const otherPort = await send('GET', '/healthz', { host: 'tunnel.example:9001' }, undefined, target);
      const other = await send('GET', '/healthz', { host: `evil.example:${target}` }, undefined, target);
      await server.close();

      // Assess
      expect([named.status, tunnelled.status, otherPort.status, other.status]).toEqual([200, 200, 403, 403]);
    });
  });

  describe('cross-site requests', () => {
    it('refuses a text/plain POST of an alert from another site, and starts nothing', async () => {
      // Prepare: what a page on evil.example can send without a preflight
      const before = await executionCount();

      // Act
      const answer = await send(
        'POST',
        '/webhooks/alertmanager',
        { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
        alertBody(),
      );

      // Assess
      expect(answer.status).toBe(403);
      expect(answer.body.error).toContain('http://evil.example');
      expect(await executionCount()).toBe(before);
    });

    it.each([
      ['an Origin of another site', { origin: 'http://evil.example' }],
      ['an Origin of another port on this host', { origin: 'http://127.0.0.1:1' }],
      ['Origin null (a sandboxed frame, a file)', { origin: 'null' }],
      ['Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site same-site (another port of this host)', { 'sec-fetch-site': 'same-site' }],
    ])('refuses a JSON POST with %s', async (_what, headers) => {
      // Act
      const answer = await send(
        'POST',
        '/api/kill-switch',
        { ...json, ...headers },
        JSON.stringify({ engaged: true, reason: 'from elsewhere' }),
      );

      // Assess
      expect(answer.status).toBe(403);
      expect((await send('GET', '/api/kill-switch')).body.engaged).toBe(false);
    });

    it('lets an approval link from a webmail open (a cross-site top-level navigation GET)', async () => {
      // Act
      const answer = await send('GET', '/approvals/some-approval?approver=a&exp=1&sig=x', {
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'navigate',
        accept: 'text/html',
      });

      // Assess: the approval page answers (here: no such approval), not the cross-site refusal
      expect(answer.status).toBe(404);
      expect(answer.text).toContain('There is no such approval request.');
    });

    it('refuses a cross-site fetch of the API that is not a navigation', async () => {
      // Act
      const answer = await send('GET', '/api/outbox', {
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'no-cors',
      });

      // Assess
      expect(answer.status).toBe(403);
    });
  });

  describe('content types', () => {
    it.each([
      ['/webhooks/alertmanager', 'text/plain', alertBody()],
      ['/webhooks/alertmanager', 'application/x-www-form-urlencoded', alertBody()],
      ['/events', 'text/plain', '{}'],
      ['/api/kill-switch', 'multipart/form-data; boundary=x', '{"engaged":true}'],
      ['/api/executions/some-execution/abort', 'text/plain', '{}'],
    ])('answers 415 for POST %s as %s, naming application/json', async (path, type, body) => {
      // Act
      const answer = await send('POST', path, { 'content-type': type }, body);

      // Assess
      expect(answer.status).toBe(415);
      expect(answer.body.error).toContain('application/json');
    });

    it('answers 415 for a body without a content type', async () => {
      // Act
      const answer = await send('POST', '/webhooks/alertmanager', {}, alertBody());

      // Assess
      expect(answer.status).toBe(415);
    });

    it('takes application/json with parameters, as senders write it', async () => {
      // Act
      const answer = await send(
        'POST',
        '/api/kill-switch',
        { 'content-type': 'Application/JSON; charset=utf-8' },
        JSON.stringify({ engaged: false }),
      );

      // Assess
      expect(answer.status).toBe(200);
    });
  });

  describe('CSRF', () => {
    it('refuses a state change from a page of this server without the page token', async () => {
      // Act
      const answer = await send(
        'POST',
        '/api/kill-switch',
        { ...json, origin: ownOrigin(), 'sec-fetch-site': 'same-origin' },
        JSON.stringify({ engaged: true }),
      );

      // Assess
      expect(answer.status).toBe(403);
      expect(answer.body.error).toMatch(/CSRF|reload/i);
      expect((await send('GET', '/api/kill-switch')).body.engaged).toBe(false);
    });

    it('accepts the same change with the token from the dashboard page', async () => {
      // Prepare
      const token = await pageToken();

      // Act
      const engaged = await send(
        'POST',
        '/api/kill-switch',
        { ...json, origin: ownOrigin(), 'sec-fetch-site': 'same-origin', 'x-runbook-csrf': token },
        JSON.stringify({ engaged: true, reason: 'test' }),
      );
      const released = await send(
        'POST',
        '/api/kill-switch',
        { ...json, origin: ownOrigin(), 'sec-fetch-site': 'same-origin', 'x-runbook-csrf': token },
        JSON.stringify({ engaged: false }),
      );

      // Assess
      expect([engaged.status, released.status]).toEqual([200, 200]);
    });

    it('refuses a wrong token', async () => {
      // Act
      const answer = await send(
        'POST',
        '/api/kill-switch',
        { ...json, origin: ownOrigin(), 'x-runbook-csrf': 'not-the-token' },
        JSON.stringify({ engaged: true }),
      );

      // Assess
      expect(answer.status).toBe(403);
    });

    it('takes Origin null from a page of this server (Referrer-Policy no-referrer) when the browser says same-origin', async () => {
      // Prepare
      const token = await pageToken();

      // Act
      const answer = await send(
        'POST',
        '/api/kill-switch',
        { ...json, origin: 'null', 'sec-fetch-site': 'same-origin', 'x-runbook-csrf': token },
        JSON.stringify({ engaged: false }),
      );

      // Assess
      expect(answer.status).toBe(200);
    });

    it('refuses an approval form posted from a page of this server without the form token', async () => {
      // Act
      const answer = await send(
        'POST',
        '/approvals/some-approval?approver=a&exp=1&sig=x',
        { origin: ownOrigin(), 'content-type': 'application/x-www-form-urlencoded' },
        'decision=approve',
      );

      // Assess
      expect(answer.status).toBe(403);
    });
  });

  describe('loopback tools, unchanged', () => {
    it('takes an Alertmanager webhook as Alertmanager sends it (no Origin, Host 127.0.0.1:port, application/json)', async () => {
      // Act
      const answer = await send(
        'POST',
        '/webhooks/alertmanager',
        { 'content-type': 'application/json', 'user-agent': 'Alertmanager/0.25.0' },
        alertBody(),
      );

      // Assess
      expect(answer.status).toBe(202);
    });

    it('takes the control API as curl sends it, with or without a body', async () => {
      // Act
      const withBody = await send(
        'POST',
        '/api/kill-switch',
        { 'content-type': 'application/json', 'user-agent': 'curl/8.5.0', accept: '*/*' },
        JSON.stringify({ engaged: false, by: 'curl' }),
      );
      const withoutBody = await send('POST', '/api/executions/no-such-execution/pause', {
        'user-agent': 'curl/8.5.0',
      });

      // Assess
      expect(withBody.status).toBe(200);
      expect(withoutBody.status).toBe(404);
    });
  });
});

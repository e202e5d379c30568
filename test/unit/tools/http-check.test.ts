import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../functions/core/errors.ts';
import { httpCheckTool } from '../../../functions/tools/http-check.ts';
import { rejectionOf, runTool, toolContext, toolRuntime } from './generic-harness.ts';

/** A real HTTP server: /healthz, /status/:code, /slow/:ms, /redirect, /big. */
let server: Server;
let base: string;
let hits: string[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    hits.push(`${request.method} ${path}`);
    const [, route, argument] = path.split('/');
    if (route === 'healthz') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: 'healthy', checks: ['db', 'cache'] }));
    } else if (route === 'status') {
      response.writeHead(Number(argument), { 'content-type': 'text/plain' });
      response.end(`answered ${argument}`);
    } else if (route === 'slow') {
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('late but fine');
      }, Number(argument));
    } else if (route === 'redirect') {
      response.writeHead(302, { location: '/healthz' });
      response.end();
    } else if (route === 'big') {
      // 2 MB of filler, the marker split across two writes.
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('x'.repeat(100_000) + 'READ');
      response.write('Y' + 'x'.repeat(1_900_000));
      response.end('TAIL-MARKER');
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  hits = [];
});

const tool = httpCheckTool(toolRuntime());

describe('http.check', () => {
  it('passes with the status, the measured latency and the body match', async () => {
    // Act
    const output = await runTool(tool, {
      url: `${base}/healthz`,
      bodyContains: '"healthy"',
      maxLatencyMs: 5_000,
    });

    // Assess
    expect(output).toEqual({
      url: `${base}/healthz`,
      status: 200,
      latencyMs: expect.any(Number),
      ok: true,
      bodyMatched: true,
    });
    expect(hits).toEqual(['GET /healthz']);
  });

  it('fails with the measured values when the status is not expected', async () => {
    // Act
    const error = await rejectionOf(runTool(tool, { url: `${base}/status/503` }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(
      new RegExp(
        `^http\\.check: GET ${base}/status/503 answered 503 in \\d+ ms: status 503 \\(expected 200\\)$`,
      ),
    );
    expect(error.data).toEqual({ url: `${base}/status/503`, status: 503, latencyMs: expect.any(Number) });
  });

  it('accepts any of the expected statuses', async () => {
    // Act
    const output = await runTool(tool, { url: `${base}/status/204`, expectStatus: [200, 204] });

    // Assess
    expect(output).toMatchObject({ status: 204, ok: true });
  });

  it('fails when the answer is slower than maxLatencyMs', async () => {
    // Act
    const error = await rejectionOf(runTool(tool, { url: `${base}/slow/300`, maxLatencyMs: 50 }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(/answered 200 in \d+ ms: latency \d+ ms \(limit 50 ms\)$/);
    expect(error.data?.latencyMs).toBeGreaterThanOrEqual(250);
  });

  it('fails when the body does not contain the text, naming it', async () => {
    // Act
    const error = await rejectionOf(runTool(tool, { url: `${base}/healthz`, bodyContains: 'degraded' }));

    // Assess
    expect(error.message).toMatch(/body does not contain "degraded"$/);
    expect(error.data).toMatchObject({ status: 200, bodyMatched: false });
  });

  it('finds text across chunk boundaries and stops reading once it is found', async () => {
    // Act
    const spanning = await runTool(tool, { url: `${base}/big`, bodyContains: 'READY' });
    const beyondCap = await rejectionOf(runTool(tool, { url: `${base}/big`, bodyContains: 'TAIL-MARKER' }));

    // Assess
    expect(spanning).toMatchObject({ bodyMatched: true });
    expect(beyondCap.data).toMatchObject({ bodyMatched: false });
  });

  it('lists every problem of a failed check at once', async () => {
    // Act
    const error = await rejectionOf(
      runTool(tool, { url: `${base}/slow/200`, expectStatus: [204], maxLatencyMs: 10, bodyContains: 'nope' }),
    );

    // Assess
    expect(error.message).toMatch(
      /status 200 \(expected 204\); latency \d+ ms \(limit 10 ms\); body does not contain "nope"$/,
    );
  });

  it('fails after timeoutMs when nothing answers', async () => {
    // Prepare
    const started = performance.now();

    // Act
    const error = await rejectionOf(runTool(tool, { url: `${base}/slow/3000`, timeoutMs: 200 }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toBe(`http.check: GET ${base}/slow/3000 got no answer within 200 ms`);
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('stops at once when the step is aborted, with the abort as the reason', async () => {
    // Prepare
    const controller = new AbortController();
    const reason = new Error('step storefront-responds aborted by alice@example.com');
    setTimeout(() => controller.abort(reason), 100);
    const started = performance.now();

    // Act
    const error = await rejectionOf(
      runTool(tool, { url: `${base}/slow/3000` }, toolContext({ signal: controller.signal })),
    );

    // Assess
    expect(error).toBe(reason);
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('follows redirects unless a redirect is what it expects', async () => {
    // Act
    const followed = await runTool(tool, { url: `${base}/redirect` });
    const seen = await runTool(tool, { url: `${base}/redirect`, expectStatus: [302] });

    // Assess
    expect(followed).toMatchObject({ status: 200 });
    expect(seen).toMatchObject({ status: 302 });
    expect(hits).toEqual(['GET /redirect', 'GET /healthz', 'GET /redirect']);
  });

  it('sends HEAD and says a HEAD answer has no body to search', async () => {
    // Act
    const head = await runTool(tool, { url: `${base}/healthz`, method: 'HEAD' });
    const error = await rejectionOf(
      runTool(tool, { url: `${base}/healthz`, method: 'HEAD', bodyContains: 'ok' }),
    );

    // Assess
    expect(head).toMatchObject({ status: 200, ok: true });
    expect(hits[0]).toBe('HEAD /healthz');
    expect(error.message).toMatch(/a HEAD answer has no body to contain "ok": use GET$/);
  });

  it('refuses schemes other than http and https', async () => {
    // Act
    const error = await rejectionOf(runTool(tool, { url: 'file:///etc/passwd' }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toBe(
      'http.check: only http and https URLs can be checked; "file:///etc/passwd" is file:',
    );
  });

  it('fails clearly when nothing listens', async () => {
    // Prepare
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    // Act
    const error = await rejectionOf(runTool(tool, { url: `http://127.0.0.1:${port}/healthz` }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(
      new RegExp(`^http\\.check: GET http://127\\.0\\.0\\.1:${port}/healthz failed: .*ECONNREFUSED`),
    );
  });

  it('makes the request in a dry run too (it changes nothing)', async () => {
    // Act
    const output = await runTool(tool, { url: `${base}/healthz` }, toolContext({ dryRun: true }));

    // Assess
    expect(output).toMatchObject({ status: 200, ok: true });
    expect(hits).toEqual(['GET /healthz']);
  });
});

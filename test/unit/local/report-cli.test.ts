import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../../local/cli.ts';

/**
 * `runbook report ID`: asks the platform's API over HTTP (a real server on 127.0.0.1 answering the
 * route as the platform does), prints or writes the Markdown, and says what was wrong otherwise.
 */

const REPORT = '# Incident report: scale-out on cart\n\n## Timeline\n';

async function run(args: string[], cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'runbook', 'report', ...args], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd,
  });
  return { code, out, err };
}

describe('runbook report', () => {
  let server: Server;
  let url: string;
  let dir: string;
  const asked: Array<{ path: string; authorization?: string }> = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runbook-report-cli-'));
    asked.length = 0;
    server = createServer((request, response) => {
      asked.push({
        path: request.url ?? '',
        ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
      });
      if (request.headers.authorization === 'Bearer wrong') {
        response.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"token"}');
      } else if (request.url === '/api/executions/exec-1/report') {
        response.writeHead(200, { 'content-type': 'text/markdown; charset=utf-8' }).end(REPORT);
      } else {
        response
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'no execution "nope": check the id' }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    url = `http://127.0.0.1:${address.port}/`;
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the report of an execution, asking the API with the token', async () => {
    // Act
    const result = await run(['exec-1', '--url', url, '--token', 'secret'], dir);

    // Assess
    expect(result.code).toBe(0);
    expect(result.out.join('\n')).toBe(REPORT.trimEnd());
    expect(asked).toEqual([{ path: '/api/executions/exec-1/report', authorization: 'Bearer secret' }]);
  });

  it('writes the report to --output, relative to where it runs', async () => {
    // Act
    const result = await run(['exec-1', '--url', url, '--output', 'incident.md'], dir);

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(join(dir, 'incident.md'), 'utf8')).toBe(REPORT);
    expect(result.out).toEqual(['wrote the incident report of exec-1 to incident.md']);
  });

  it('says what was wrong: an unknown execution, a bad id, a refused token, no platform', async () => {
    // Act
    const unknown = await run(['nope', '--url', url], dir);
    const badId = await run(['../etc', '--url', url], dir);
    const refused = await run(['exec-1', '--url', url, '--token', 'wrong'], dir);
    const nobody = await run(['exec-1', '--url', 'http://127.0.0.1:9/'], dir);

    // Assess
    expect(unknown).toMatchObject({ code: 1, err: ['runbook: 404: no execution "nope": check the id'] });
    expect(badId.code).toBe(1);
    expect(badId.err[0]).toMatch(/^runbook: ID: not an execution id/);
    expect(asked.filter((request) => request.path.includes('etc'))).toEqual([]);
    expect(refused).toMatchObject({
      code: 1,
      err: [`runbook: the server at ${url} needs a token: pass --token`],
    });
    expect(nobody.code).toBe(1);
    expect(nobody.err[0]).toMatch(/start it with npm start, or pass its address with --url/);
  });
});

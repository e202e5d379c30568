import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SERVE_BUILD_DIR } from '../../local/bin/serve-bundle.js';
import { ROOT } from '../support/runbooks.ts';

/**
 * `runbook serve`, the real binary, runs the CLI as esbuild built it at its start (not through tsx,
 * whose loader thread and source maps cost a running server ~100 MB): the build is there while it
 * runs, every module finds its files next to its source (the dashboard), and it is removed at stop.
 */

let project: string;

beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), 'runbook-serve-bundle-'));
  copyFileSync(join(ROOT, 'cdk.json'), join(project, 'cdk.json'));
  mkdirSync(join(project, 'runbooks'));
  copyFileSync(
    join(ROOT, 'runbooks', 'node-memory-pressure.yaml'),
    join(project, 'runbooks', 'node-memory-pressure.yaml'),
  );
});

afterEach(() => {
  rmSync(project, { recursive: true, force: true });
});

describe('runbook serve from its build', () => {
  it('serves the dashboard, the API and the webhooks from the built CLI, and removes the build at stop', async () => {
    // Prepare
    const server = spawn(
      process.execPath,
      [join(ROOT, 'local/bin/runbook.js'), 'serve', '--port', '0', '--data', 'data'],
      {
        cwd: project,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
      },
    );
    let stdout = '';
    let stderr = '';
    server.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => server.on('close', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const running = /is running on (http:\/\/\S+)/.exec(stdout);
        if (running) resolve(running[1]!);
      });
      void exited.then((code) => reject(new Error(`runbook serve exited (${code}): ${stdout}${stderr}`)));
    });
    const build = join(SERVE_BUILD_DIR, `serve-${server.pid}`, 'serve-entry.js');

    // Act
    const builtWhileRunning = existsSync(build);
    const dashboard = await fetch(url);
    const dashboardHtml = await dashboard.text();
    const executions = await fetch(new URL('/api/executions', url));
    const alert = await fetch(new URL('/webhooks/alertmanager', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: readFileSync(join(ROOT, 'local/examples/alertmanager-node-memory-pressure.json')),
    });
    const alertBody = (await alert.json()) as { results?: Array<{ result?: { decision?: string } }> };
    server.kill('SIGTERM');
    const code = await exited;

    // Assess
    expect(builtWhileRunning).toBe(true);
    expect(dashboard.status).toBe(200);
    expect(dashboardHtml).toMatch(/<html/i);
    expect(executions.status).toBe(200);
    expect(alert.status).toBe(202);
    expect(alertBody.results?.[0]?.result?.decision).toBe('started');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(existsSync(join(SERVE_BUILD_DIR, `serve-${server.pid}`))).toBe(false);
  }, 120_000);
});

import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildServe, SERVE_BUILD_DIR } from '../../local/bin/serve-bundle.js';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { FakePrometheus } from '../../local/demo/fake-prometheus.ts';
import { addPressuredNode, alertFor, benchRunbookYaml, post, TERMINAL } from '../bench/platform-harness.ts';
import type { Json } from '../support/json.ts';
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

/** `runbook serve` on the project, the real binary; resolves once it listens. */
async function serve(args: string[] = []) {
  const server = spawn(
    process.execPath,
    [join(ROOT, 'local/bin/runbook.js'), 'serve', '--port', '0', '--data', 'data', ...args],
    {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
    },
  );
  let stdout = '';
  const output = { stderr: '' };
  server.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => server.on('close', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const running = /is running on (http:\/\/\S+)/.exec(stdout);
      if (running) resolve(running[1]!);
    });
    void exited.then((code) =>
      reject(new Error(`runbook serve exited (${code}): ${stdout}${output.stderr}`)),
    );
  });
  return { server, url, exited, output };
}

/**
 * What the built server loads: the packages its entry's modules import statically (loaded at the start),
 * and those of every module it may load later (`import()`), as esbuild reads the built files.
 */
async function packagesOfBuild(entry: string): Promise<{ atStart: string[]; all: string[] }> {
  const { metafile } = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    logLevel: 'silent',
  });
  const reached = (kinds: string[]) => {
    const packages = new Set<string>();
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const imported of metafile.inputs[file]?.imports ?? []) {
        if (!kinds.includes(imported.kind)) continue;
        if (imported.external) {
          if (!imported.path.startsWith('node:')) packages.add(imported.path);
        } else visit(imported.path);
      }
    };
    visit(Object.keys(metafile.inputs).find((file) => file.endsWith('serve-entry.js'))!);
    return [...packages].sort();
  };
  return { atStart: reached(['import-statement']), all: reached(['import-statement', 'dynamic-import']) };
}

describe('runbook serve from its build', () => {
  it('serves the dashboard, the API and the webhooks from the built CLI, and removes the build at stop', async () => {
    // Prepare
    const { server, url, exited, output } = await serve();
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
    expect(output.stderr).toBe('');
    expect(existsSync(join(SERVE_BUILD_DIR, `serve-${server.pid}`))).toBe(false);
  }, 120_000);

  it('loads a tool family with its packages on demand, and builds in only the Kubernetes API groups the tools use', async () => {
    // Prepare
    const built = await buildServe();
    if (!built) throw new Error('the serve build failed');
    const entry = fileURLToPath(built.url);
    const directory = join(entry, '..');

    try {
      // Act
      const { atStart, all } = await packagesOfBuild(entry);
      const chunks = readdirSync(directory).filter((name) => name.endsWith('.js'));
      const sources = chunks.map((name) => readFileSync(join(directory, name), 'utf8'));
      const withClient = sources.filter((source) => /\bObservableCoreV1Api\s*=\s*class\b/.test(source));

      // Assess: the start loads no tool client (they were all loaded at the start with the CLI in one
      // file: 215 MB before the first alert against 147 MB); the Kubernetes client is built in, one copy,
      // without the API groups no tool uses (its index loads them all: ~30 MB of heap)
      expect(atStart.filter((name) => /^@kubernetes\/|^@aws-sdk\/client-(?!dynamodb$)/.test(name))).toEqual(
        [],
      );
      expect(all).toContain('@aws-sdk/client-ec2');
      expect(all.filter((name) => name.startsWith('@kubernetes/'))).toEqual([]);
      expect(withClient).toHaveLength(1);
      expect(withClient[0]).toMatch(/\bObservableAppsV1Api\s*=\s*class\b/);
      expect(withClient[0]).not.toContain('ObservableAdmissionregistrationV1Api');
      expect(withClient[0]).not.toContain('ObservableRbacAuthorizationV1Api');
      // V8 keeps the source in the heap: without its indentation 2.5 MB, with it 6.3 MB
      expect(withClient[0]!.length).toBeLessThan(3_000_000);
    } finally {
      built.remove();
    }
  }, 120_000);

  it('runs the Kubernetes tools through the client built in: an execution against a cluster succeeds', async () => {
    // Prepare: the dev tools point at a simulated cluster and Prometheus (the RSS bench's setup)
    const kube = await FakeKubeApi.start({ autoReconcile: true });
    const prometheus = new FakePrometheus();
    await prometheus.start();
    const kubeconfig = join(project, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, kube.kubeConfig().exportConfig());
    const cdk = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8'));
    cdk.context['runbook-autopilot:environments'].dev.tools = {
      prometheusUrl: prometheus.url,
      kubernetes: { kubeconfig, contexts: {}, eks: {} },
      shell: { enabled: false, allow: [] },
    };
    writeFileSync(join(project, 'cdk.json'), JSON.stringify(cdk));
    writeFileSync(
      join(project, 'runbooks', 'node-memory-pressure.yaml'),
      benchRunbookYaml({ concurrent: 1 }),
    );
    const node = addPressuredNode(kube, 7, 1, [['cart', '3Gi']]);
    const { server, url, exited, output } = await serve(['--env', 'dev', '--live']);

    try {
      // Act: the alert fires, the node recovers, Alertmanager says so
      const firing = alertFor(node);
      firing.alerts[0].labels.environment = 'dev';
      firing.commonLabels.environment = 'dev';
      const answer = await post(url, '/webhooks/alertmanager', firing);
      const id = answer.body.results?.[0]?.result?.executionId as string;
      for (const condition of kube.nodes.get(node)?.status?.conditions ?? [])
        if (condition.type === 'MemoryPressure') condition.status = 'False';
      const resolved = alertFor(node, 'resolved');
      resolved.alerts[0].labels.environment = 'dev';
      resolved.commonLabels.environment = 'dev';
      await post(url, '/webhooks/alertmanager', resolved);
      let execution: Json = {};
      for (let waited = 0; !TERMINAL.includes(execution.status) && waited < 60_000; waited += 250) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        execution = ((await (await fetch(new URL(`/api/executions/${id}`, url))).json()) as Json).execution;
      }

      // Assess: the steps read and changed the cluster through the client (core and apps groups)
      expect(answer.status).toBe(202);
      expect(execution.status).toBe('succeeded');
      expect(kube.requestsTo('GET', `/api/v1/nodes/${node}`).length).toBeGreaterThan(0);
      expect(kube.requestsTo(undefined, '/apis/apps/v1/').length).toBeGreaterThan(0);
      expect(output.stderr).toBe('');
    } finally {
      server.kill('SIGTERM');
      await exited;
      await kube.stop();
      await prometheus.stop();
    }
  }, 120_000);
});

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../functions/core/errors.ts';
import type {
  AlertExpressionOutput,
  TargetsOutput,
} from '../../../functions/tools/declarations/observability.ts';
import { prometheusAlertExpressionTool, prometheusTargetsTool } from '../../../functions/tools/prometheus.ts';
import { rejectionOf, runTool, toolRuntime } from './generic-harness.ts';

/**
 * prometheus.alert-expression and prometheus.targets against a real Prometheus (Debian's 2.42): the
 * history of kube-state-metrics series is backfilled with promtool, the expression is
 * KubeDeploymentReplicasMismatch's own, and the targets are a real exporter and a port nobody listens on.
 * Needs /usr/bin/prometheus and /usr/bin/promtool (`apt-get install prometheus`): in CI their absence
 * fails the test; elsewhere it is skipped, loudly.
 */

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const installed = existsSync(PROMETHEUS) && existsSync(PROMTOOL);
if (!installed && !process.env.CI)
  console.warn(
    `SKIPPED prometheus-real.test.ts: ${PROMETHEUS} and ${PROMTOOL} are not installed (apt-get install prometheus)`,
  );

/** kube-prometheus-stack's KubeDeploymentReplicasMismatch, reduced to its comparison. */
const EXPRESSION =
  '(kube_deployment_spec_replicas{job="kube-state-metrics"} > kube_deployment_status_replicas_available{job="kube-state-metrics"}) and (changes(kube_deployment_status_replicas_updated{job="kube-state-metrics"}[10m]) == 0)';
const GENERATOR_URL = `http://prometheus-k8s.monitoring.svc:9090/graph?g0.expr=${encodeURIComponent(EXPRESSION)}&g0.tab=1`;

const run = promisify(execFile);
/** The evaluation time: a whole minute an hour ago, so the backfilled history ends there. */
const AT = Math.floor(Date.now() / 60_000) * 60_000 - 60 * 60_000;
let directory: string;
let prometheus: ChildProcess | undefined;
let exporter: Server;
let url: string;
let downPort: number;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Two hours of kube-state-metrics series: checkout loses a replica 40 minutes before AT; cart never does. */
function history(): string {
  const lines: string[] = [];
  const family = (name: string, value: (deployment: string, at: number) => number) => {
    lines.push(`# TYPE ${name} gauge`);
    for (const deployment of ['cart', 'checkout'])
      for (let at = AT - 120 * 60_000; at <= AT; at += 30_000)
        lines.push(
          `${name}{job="kube-state-metrics",namespace="shop",deployment="${deployment}"} ${value(deployment, at)} ${at / 1_000}`,
        );
  };
  const replicas = (deployment: string) => (deployment === 'checkout' ? 4 : 2);
  family('kube_deployment_spec_replicas', replicas);
  family('kube_deployment_status_replicas_available', (deployment, at) =>
    deployment === 'checkout' && at >= AT - 40 * 60_000 ? 3 : replicas(deployment),
  );
  family('kube_deployment_status_replicas_updated', replicas);
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const stop = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > stop) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function runtimeAt(at: number) {
  return toolRuntime({ clock: { now: () => new Date(at) }, config: { tools: { prometheusUrl: url } } });
}

describe.skipIf(!installed && !process.env.CI)('Prometheus tools against a real Prometheus', () => {
  beforeAll(async () => {
    if (!installed)
      throw new Error(`${PROMETHEUS} and ${PROMTOOL} are required in CI (apt-get install prometheus)`);
    directory = mkdtempSync(join(tmpdir(), 'prometheus-real-'));
    writeFileSync(join(directory, 'history.om'), history());
    await run(PROMTOOL, [
      'tsdb',
      'create-blocks-from',
      'openmetrics',
      '--quiet',
      join(directory, 'history.om'),
      join(directory, 'data'),
    ]);
    exporter = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      response.end('# TYPE checkout_up gauge\ncheckout_up 1\n');
    });
    await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', () => resolve()));
    const upPort = (exporter.address() as AddressInfo).port;
    downPort = await freePort();
    const port = await freePort();
    writeFileSync(
      join(directory, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, scrape_timeout: 500ms }',
        'scrape_configs:',
        '  - job_name: checkout',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${upPort}', '127.0.0.1:${downPort}']`,
        '        labels: { namespace: shop, service: checkout }',
        '  - job_name: other',
        `    static_configs: [{ targets: ['127.0.0.1:${upPort}'] }]`,
      ].join('\n'),
    );
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(directory, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(directory, 'data')}`,
        '--storage.tsdb.retention.time=30d',
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    url = `http://127.0.0.1:${port}`;
    await until('Prometheus to be ready', async () =>
      (await fetch(`${url}/-/ready`)).ok ? true : undefined,
    );
    await until('both checkout targets to be scraped', async () => {
      const body = (await (await fetch(`${url}/api/v1/targets?state=active`)).json()) as {
        data: { activeTargets: Array<{ labels: { job: string }; health: string }> };
      };
      const checkout = body.data.activeTargets.filter((target) => target.labels.job === 'checkout');
      return checkout.length === 2 && checkout.every((target) => target.health !== 'unknown')
        ? true
        : undefined;
    });
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    if (prometheus && prometheus.exitCode === null)
      await new Promise((resolve) => prometheus!.once('exit', resolve));
    await new Promise((resolve) => exporter?.close(resolve));
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  it('evaluates the alert’s expression from its generatorURL: it holds, for 40 minutes, for checkout only', async () => {
    // Act
    const output = (await runTool(prometheusAlertExpressionTool(runtimeAt(AT)), {
      generatorUrl: GENERATOR_URL,
      alertLabels: {
        alertname: 'KubeDeploymentReplicasMismatch',
        severity: 'warning',
        job: 'kube-state-metrics',
        namespace: 'shop',
        deployment: 'checkout',
      },
    })) as AlertExpressionOutput;

    // Assess
    expect(output).toMatchObject({
      expression: EXPRESSION,
      source: 'generatorURL',
      holdsNow: true,
      now: {
        seriesCount: 1,
        value: 4,
        series: [
          {
            labels: {
              __name__: 'kube_deployment_spec_replicas',
              deployment: 'checkout',
              job: 'kube-state-metrics',
              namespace: 'shop',
            },
            value: 4,
          },
        ],
      },
      window: {
        heldForMinutes: 40,
        firstHeldAt: new Date(AT - 40 * 60_000).toISOString(),
        lastHeldAt: new Date(AT).toISOString(),
        min: 4,
        max: 4,
        seriesCount: 1,
      },
    });
  });

  it('says an expression does not hold when its time has passed', async () => {
    // Act: two hours before AT the replicas matched.
    const output = (await runTool(prometheusAlertExpressionTool(runtimeAt(AT - 80 * 60_000)), {
      expression: EXPRESSION,
      lookbackMinutes: 30,
    })) as AlertExpressionOutput;

    // Assess
    expect(output).toMatchObject({
      holdsNow: false,
      now: { seriesCount: 0 },
      window: { heldForMinutes: null, heldFraction: 0 },
    });
  });

  it('passes on Prometheus’ own refusal of a malformed expression', async () => {
    // Act
    const error = await rejectionOf(
      runTool(prometheusAlertExpressionTool(runtimeAt(AT)), { expression: 'rate(up[5m]' }),
    );

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(
      /^prometheus\.alert-expression: Prometheus at .* refused the query: bad_data: .*parse error/,
    );
  });

  it('lists a job’s targets, down first, with the error of the last scrape', async () => {
    // Act
    const output = (await runTool(prometheusTargetsTool(runtimeAt(Date.now())), {
      job: 'checkout',
      namespace: 'shop',
    })) as TargetsOutput;
    const down = (await runTool(prometheusTargetsTool(runtimeAt(Date.now())), {
      job: 'checkout',
      health: 'down',
    })) as TargetsOutput;

    // Assess
    expect(output).toMatchObject({ total: 2, up: 1, down: 1, unknown: 0 });
    expect(output.targets[0]).toMatchObject({
      scrapePool: 'checkout',
      scrapeUrl: `http://127.0.0.1:${downPort}/metrics`,
      health: 'down',
      lastError: expect.stringContaining('connection refused'),
      labels: { instance: `127.0.0.1:${downPort}`, job: 'checkout', namespace: 'shop', service: 'checkout' },
    });
    expect(output.targets[0]!.lastScrape).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(output.targets[1]).toMatchObject({ health: 'up', lastError: null });
    expect(output.errors).toEqual([{ error: expect.stringContaining('connection refused'), targets: 1 }]);
    expect(down.targets.map((target) => target.health)).toEqual(['down']);
  });
});

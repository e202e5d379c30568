import { execFile, fork } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findMonitoringBinaries, INSTALL_HINT } from '../../../local/sim/monitoring/binaries.ts';
import {
  alertmanagerConfig,
  prometheusConfig,
  SCRAPE_INTERVAL_SECONDS,
} from '../../../local/sim/monitoring/config.ts';
import { backfillTimes, constantTimes, DEFAULT_BACKFILL } from '../../../local/sim/monitoring/harness.ts';
import { freePort, MonitoringProcess } from '../../../local/sim/monitoring/process.ts';
import { renderRuleFile } from '../../../local/sim/monitoring/rules.ts';
import { SCENARIOS } from '../../../local/sim/scenarios/index.ts';
import { describeWithMonitoring } from '../../support/monitoring.ts';
import { ROOT } from '../../support/runbooks.ts';

const run = promisify(execFile);

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sim-monitoring-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function configs(receiverUrl?: string) {
  const ruleFile = join(dir, 'rules.yml');
  writeFileSync(ruleFile, renderRuleFile(SCENARIOS.flatMap((scenario) => scenario.rules)));
  const prometheusFile = join(dir, 'prometheus.yml');
  writeFileSync(
    prometheusFile,
    prometheusConfig({
      discovery: (job) => `http://127.0.0.1:1/sd/${job}`,
      alertmanager: '127.0.0.1:2',
      externalLabels: { cluster: 'c1', prometheus: 'monitoring/kube-prometheus-stack-prometheus' },
      ruleFile,
      queryLogFile: join(dir, 'queries.log'),
    }),
  );
  const alertmanagerFile = join(dir, `alertmanager-${receiverUrl ? 'with' : 'without'}.yml`);
  writeFileSync(alertmanagerFile, alertmanagerConfig(receiverUrl));
  return { ruleFile, prometheusFile, alertmanagerFile };
}

describe('monitoring configuration', () => {
  it('scrapes every exporter job as its ServiceMonitor would, every second, and drops the replica label from alerts', () => {
    // Act
    const config = parse(
      prometheusConfig({
        discovery: (job) => `http://sd/${job}`,
        alertmanager: '127.0.0.1:9093',
        externalLabels: { cluster: 'c1' },
        ruleFile: 'rules.yml',
      }),
    );

    // Assess
    expect(config.global).toMatchObject({
      scrape_interval: '1s',
      evaluation_interval: '1s',
      external_labels: { cluster: 'c1' },
    });
    expect(
      config.scrape_configs.map((job: { job_name: string; honor_labels: boolean }) => [
        job.job_name,
        job.honor_labels,
      ]),
    ).toEqual([
      ['serviceMonitor/monitoring/kube-prometheus-stack-kube-state-metrics/0', true],
      ['serviceMonitor/monitoring/kube-prometheus-stack-prometheus-node-exporter/0', false],
      ['serviceMonitor/monitoring/kube-prometheus-stack-kubelet/0', true],
      ['serviceMonitor/monitoring/kube-prometheus-stack-kubelet/1', true],
      ['serviceMonitor/monitoring/kube-prometheus-stack-prometheus/0', false],
      ['serviceMonitor/monitoring/kube-prometheus-stack-alertmanager/0', false],
      ['serviceMonitor/applications', false],
    ]);
    expect(config.alerting.alert_relabel_configs).toEqual([
      { action: 'labeldrop', regex: 'prometheus_replica' },
    ]);
  });

  it('routes to the webhook with send_resolved once the receiver is known, grouping by namespace with short waits', () => {
    // Act
    const before = parse(alertmanagerConfig(undefined));
    const after = parse(alertmanagerConfig('http://127.0.0.1:8787/webhooks/alertmanager'));

    // Assess
    expect(before.route.receiver).toBe('null');
    expect(after.route).toMatchObject({
      receiver: 'runbook-autopilot',
      group_by: ['namespace'],
      group_wait: '1s',
      group_interval: '2s',
    });
    expect(after.receivers[1]).toEqual({
      name: 'runbook-autopilot',
      webhook_configs: [
        { url: 'http://127.0.0.1:8787/webhooks/alertmanager', send_resolved: true, max_alerts: 0 },
      ],
    });
  });

  it('backfills six hours: every five minutes, then every minute for the last half hour', () => {
    // Act
    const times = backfillTimes(100_000, DEFAULT_BACKFILL);

    // Assess
    expect(times[0]).toBe(100_000 - 6 * 3_600);
    expect(times.at(-1)).toBe(100_000);
    expect(times.filter((time) => time >= 100_000 - 1_800)).toHaveLength(31);
    expect(times.every((time, index) => index === 0 || time > times[index - 1]!)).toBe(true);
  });

  it("backfills a counter's last ten minutes every scrape interval, so a [10m] window is as evenly sampled as live scrapes leave it", () => {
    // Act
    const times = backfillTimes(100_000, DEFAULT_BACKFILL, true);

    // Assess: minute steps up to ten minutes before the end, then one sample per scrape interval
    expect(DEFAULT_BACKFILL.scrapeStepSeconds).toBe(SCRAPE_INTERVAL_SECONDS);
    expect(times[0]).toBe(100_000 - 6 * 3_600);
    expect(times.at(-1)).toBe(100_000);
    expect(times.filter((time) => time >= 100_000 - 600)).toHaveLength(601);
    expect(times.filter((time) => time >= 100_000 - 1_800 && time < 100_000 - 600)).toHaveLength(20);
    expect(times.every((time, index) => index === 0 || time > times[index - 1]!)).toBe(true);
    expect(constantTimes(100_000, DEFAULT_BACKFILL)).toEqual(
      Array.from({ length: 11 }, (_, index) => 100_000 - 600 + 60 * index),
    );
  });

  it('finds the binaries under their Debian or upstream names, and says what is missing and how to install it', () => {
    // Prepare: one directory with nothing, one with the upstream names
    const empty = mkdtempSync(join(dir, 'empty-'));
    const upstream = mkdtempSync(join(dir, 'upstream-'));
    for (const name of ['prometheus', 'promtool', 'alertmanager', 'amtool']) {
      writeFileSync(join(upstream, name), '#!/bin/sh\n');
      chmodSync(join(upstream, name), 0o755);
    }

    // Act
    const missing = findMonitoringBinaries(empty, []);
    const found = findMonitoringBinaries(upstream, []);

    // Assess
    expect(missing).toEqual({
      available: false,
      missing: ['prometheus', 'promtool', 'prometheus-alertmanager'],
      hint: `prometheus, promtool, prometheus-alertmanager not found on PATH; install them with: ${INSTALL_HINT}`,
    });
    expect(found).toEqual({
      available: true,
      binaries: {
        prometheus: join(upstream, 'prometheus'),
        promtool: join(upstream, 'promtool'),
        alertmanager: join(upstream, 'alertmanager'),
        amtool: join(upstream, 'amtool'),
      },
    });
  });
});

describeWithMonitoring('monitoring configuration checked by promtool and amtool', (binaries) => {
  it('promtool accepts prometheus.yml and the rules file it names', async () => {
    const { prometheusFile, ruleFile } = configs();
    const config = await run(binaries.promtool, ['check', 'config', prometheusFile]);
    const rules = await run(binaries.promtool, ['check', 'rules', ruleFile]);
    expect(config.stdout + config.stderr).toContain('SUCCESS');
    expect(rules.stdout).toContain(
      `SUCCESS: ${SCENARIOS.flatMap((scenario) => scenario.rules).length} rules found`,
    );
  });

  it('amtool accepts alertmanager.yml with and without the receiver', async () => {
    expect(binaries.amtool, 'amtool comes with prometheus-alertmanager').toBeDefined();
    for (const receiver of [undefined, 'http://127.0.0.1:8787/webhooks/alertmanager']) {
      const { alertmanagerFile } = configs(receiver);
      const result = await run(binaries.amtool!, ['check-config', alertmanagerFile]);
      expect(result.stdout).toContain('SUCCESS');
    }
  });
});

describe('monitoring processes', () => {
  // A stand-in binary: an HTTP server that answers /-/ready, as Prometheus and Alertmanager do.
  const server = (port: number) => [
    '-e',
    `require('node:http').createServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1')`,
  ];

  it('stops its binary on stop()', async () => {
    // Prepare
    const port = await freePort();
    const started = await MonitoringProcess.start({
      name: 'stand-in',
      binary: process.execPath,
      args: server(port),
      logFile: join(dir, 'stand-in.log'),
      readyUrl: `http://127.0.0.1:${port}/-/ready`,
    });

    // Act
    await started.stop();

    // Assess
    expect(started.running).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it('stops its binary when the process that started it is killed outright', async () => {
    // Prepare: a child process starts the stand-in, reports its port, and is then SIGKILLed
    const port = await freePort();
    const script = join(dir, 'starter.mts');
    writeFileSync(
      script,
      `import { MonitoringProcess } from ${JSON.stringify(join(ROOT, 'local/sim/monitoring/process.ts'))};
await MonitoringProcess.start({ name: 'stand-in', binary: process.execPath, args: ${JSON.stringify(server(port))}, logFile: ${JSON.stringify(join(dir, 'orphan.log'))}, readyUrl: 'http://127.0.0.1:${port}/-/ready' });
process.send?.('ready');
setInterval(() => {}, 1_000);
`,
    );
    const starter = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      starter.once('message', () => resolve());
      starter.once('exit', (code) => reject(new Error(`starter exited with ${code}`)));
    });
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);

    // Act
    starter.kill('SIGKILL');

    // Assess: the watchdog sees its pipe close and stops the binary
    const deadline = Date.now() + 10_000;
    let answering = true;
    while (answering && Date.now() < deadline) {
      answering = await fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      );
      if (answering) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answering).toBe(false);
  });
});

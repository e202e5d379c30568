import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_ENVIRONMENT, demoAwsOptions, demoToolConfig } from '../../local/demo/demo.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { PACKAGE_ROOT } from '../../local/project.ts';
import { MONITORING as CHART, DEMO_NODES } from '../../local/sim/cluster.ts';
import { SimulatedEnvironment } from '../../local/sim/environment.ts';
import type { Json } from '../support/json.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from '../support/library.ts';
import { describeWithMonitoring } from '../support/monitoring.ts';

/**
 * One scenario through the real Prometheus and Alertmanager: the simulated cluster's exporters are
 * scraped, the chart's NodeFilesystemSpaceFillingUp rule fires, Alertmanager posts the webhook to the
 * platform, the runbook's PromQL is answered by that Prometheus, the SSM cleanup frees space, the rule
 * stops holding and Alertmanager's `resolved` notification closes the incident. Checked over HTTP:
 * the platform's API, Prometheus' and Alertmanager's own APIs.
 */

const RUNBOOK = 'node-filesystem-filling';
const INSTANCE = `${DEMO_NODES.disk.ip}:9100`;
const TERMINAL = new Set(['succeeded', 'failed', 'aborted']);

async function json(url: string | URL, init?: RequestInit): Promise<Json> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  expect(response.status, `${init?.method ?? 'GET'} ${url}`).toBeLessThan(300);
  return (await response.json()) as Json;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describeWithMonitoring('a scenario through the real Prometheus and Alertmanager', () => {
  let dataDir: string;
  let environment: SimulatedEnvironment;
  let platform: RunningPlatform;
  let detail: Json;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    const started = Date.now();
    dataDir = mkdtempSync(join(tmpdir(), 'real-monitoring-'));
    environment = await SimulatedEnvironment.start({
      dataDir: join(dataDir, 'target'),
      scenarios: ['disk-filling'],
      monitoring: 'real',
    });
    timings.environment = Date.now() - started;
    platform = await startPlatform({
      cwd: PACKAGE_ROOT,
      runbooksDir: LIBRARY_RUNBOOKS_DIR,
      statemachinesDir: libraryStatemachinesDir(),
      port: 0,
      dataDir: join(dataDir, 'platform'),
      environment: DEMO_ENVIRONMENT,
      live: true,
      waitScale: 1 / 30,
      aws: demoAwsOptions(environment.endpoints.aws),
      configOverrides: demoToolConfig(environment.endpoints),
      print: () => {},
    });
    await environment.setReceiver(new URL('webhooks/alertmanager', platform.url).toString());

    // Nothing is posted by the test: the execution can only come from Alertmanager's webhook.
    const execution = await until('an execution started by Alertmanager', async () => {
      const { executions } = await json(new URL('api/executions', platform.url));
      return executions.find((candidate: Json) => candidate.runbookId === RUNBOOK);
    });
    timings.alertToExecution = Date.now() - started;
    const approval = await until('the approval request', async () => {
      const { notifications } = await json(
        new URL(`api/outbox?executionId=${encodeURIComponent(execution.id)}&limit=50`, platform.url),
      );
      return notifications.find((notification: Json) => notification.kind === 'approval-request');
    });
    await fetch(approval.links[0].url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ decision: 'approve', comment: 'real-monitoring test' }).toString(),
    });
    detail = await until('the execution to finish', async () => {
      const current = await json(new URL(`api/executions/${encodeURIComponent(execution.id)}`, platform.url));
      return TERMINAL.has(current.execution.status) ? current : undefined;
    });
    timings.total = Date.now() - started;
    process.stdout.write(`real-monitoring scenario timings (ms): ${JSON.stringify(timings)}\n`);
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    await environment?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const step = (id: string) =>
    detail.steps.filter((candidate: Json) => candidate.stepId === id).at(-1) as Json | undefined;

  it('succeeds: diagnosed, cleaned up over SSM, verified', () => {
    expect(detail.execution.status, JSON.stringify(detail.execution.outcome)).toBe('succeeded');
    expect(step('vacuum-journal')?.status).toBe('succeeded');
    expect(step('headroom-restored')?.status).toBe('succeeded');
  });

  it('fired the alert from the chart rule in Prometheus, with the scraped target labels', async () => {
    // Act: the ALERTS series Prometheus keeps for its rules' alerts
    const { data } = await json(
      `${environment.endpoints.prometheus}/api/v1/query?query=${encodeURIComponent(
        'max_over_time(ALERTS{alertname="NodeFilesystemSpaceFillingUp", alertstate="firing"}[10m])',
      )}`,
    );
    const { data: rules } = await json(`${environment.endpoints.prometheus}/api/v1/rules?type=alert`);

    // Assess: node-exporter's instance IP and its own pod, not the node's name
    expect(data.result).toHaveLength(1);
    expect(data.result[0].metric).toMatchObject({
      instance: INSTANCE,
      job: 'node-exporter',
      mountpoint: '/',
      fstype: 'xfs',
      namespace: CHART.namespace,
      service: CHART.nodeExporter,
      container: 'node-exporter',
      severity: 'warning',
    });
    expect(data.result[0].metric.pod).toMatch(/^kube-prometheus-stack-prometheus-node-exporter-/);
    const rule = rules.groups
      .flatMap((group: Json) => group.rules)
      .find((r: Json) => r.name === 'NodeFilesystemSpaceFillingUp');
    expect(rule.query).toContain('predict_linear(node_filesystem_avail_bytes');
    expect(rule.annotations.runbook_url).toBe(
      'https://runbooks.prometheus-operator.dev/runbooks/node/nodefilesystemspacefillingup',
    );
  });

  it('got the webhook from Alertmanager: the incident carries its alert, and Alertmanager counted its sends', async () => {
    // Act
    const seen = environment.alerts().find((alert) => alert.alertname === 'NodeFilesystemSpaceFillingUp');
    const notifications = await environment.monitoring!.notifications();

    // Assess: the fingerprint Alertmanager computed, the generator URL of our Prometheus, the external labels
    expect(seen?.fingerprint).toBe(detail.execution.alert.fingerprint);
    expect(detail.execution.alert).toMatchObject({
      source: 'prometheus',
      name: 'NodeFilesystemSpaceFillingUp',
    });
    const incident = await platform.platform.store.getIncident(detail.execution.incidentId);
    expect(incident?.alert.labels).toMatchObject({
      cluster: 'staging-eks-eu-west-1',
      environment: 'staging',
    });
    expect(incident?.alert.labels.prometheus_replica).toBeUndefined();
    // firing, then resolved; none failed
    expect(notifications.sent).toBeGreaterThanOrEqual(2);
    expect(notifications.failed).toBe(0);
  });

  it("answered the runbook's queries from Prometheus with the simulated series and their history", () => {
    // Assess: values from the exporters, through the real PromQL engine
    expect(step('exporter-up')?.output.value).toBe(1);
    expect(step('free-space')?.output.value).toBeGreaterThan(13);
    expect(step('free-space')?.output.value).toBeLessThan(14);
    // deriv over the backfilled 6h of history: about nine hours to full
    expect(step('time-to-full')?.output.value).toBeGreaterThan(8);
    expect(step('time-to-full')?.output.value).toBeLessThan(10);
    expect(step('full-in-4h')?.output.value).toBeGreaterThan(0);
    const trend = step('free-space-trend')?.output.series[0];
    expect(trend.samples).toBeGreaterThan(60);
    expect(trend.first).toBeGreaterThan(trend.last);
    // kube_node_info joined to node_uname_info by IP; the labels of kube-state-metrics' own pod come along
    const identity = step('node-identity')?.output.series[0].labels;
    expect(identity).toMatchObject({
      node: DEMO_NODES.disk.name,
      instance_id: DEMO_NODES.disk.instanceId,
      internal_ip: DEMO_NODES.disk.ip,
      job: 'kube-state-metrics',
      container: 'kube-state-metrics',
    });
    expect(identity.pod).toMatch(/^kube-prometheus-stack-kube-state-metrics-/);
    // … and Prometheus' query log has them, as the platform sent them
    const queries = environment.requests().prometheus.map((request) => request.params.query ?? '');
    expect(queries.some((query) => query.includes('predict_linear(node_filesystem_avail_bytes'))).toBe(true);
    expect(queries.some((query) => query.includes('kube_node_info'))).toBe(true);
  });

  it("closed the incident on Alertmanager's resolved notification", async () => {
    // Act
    const incident = await platform.platform.store.getIncident(detail.execution.incidentId);

    // Assess
    expect(step('verify-alert-resolved')).toMatchObject({ status: 'succeeded', output: { resolved: true } });
    expect(incident).toMatchObject({ status: 'resolved' });
    expect(
      environment.alerts().find((alert) => alert.alertname === 'NodeFilesystemSpaceFillingUp')?.state,
    ).toBe('resolved');
  });

  it('stops Prometheus and Alertmanager with the environment', async () => {
    // Prepare
    const { prometheus, alertmanager } = environment.monitoring!.pids;

    // Act
    await environment.stop();

    // Assess: their watchdog shells are gone, and nothing answers
    expect(() => process.kill(prometheus, 0)).toThrow();
    expect(() => process.kill(alertmanager, 0)).toThrow();
    await expect(fetch(environment.endpoints.prometheus)).rejects.toThrow();
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../local/cli.ts';
import type { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { FakePrometheus } from '../../local/demo/fake-prometheus.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { memoryPressureCluster, PRESSURED_NODE } from '../support/clusters.ts';
import type { Json } from '../support/json.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from '../support/library.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The embedded platform end to end: started on a free port with a temp data directory, driven only
 * over HTTP. Its tools talk to a simulated cluster and Prometheus over their real protocols.
 */

const NODE = PRESSURED_NODE;
const ENVIRONMENT = 'staging';

interface Environment {
  platform: RunningPlatform;
  kube: FakeKubeApi;
  prometheus: FakePrometheus;
  dataDir: string;
  lines: string[];
  url: string;
}

const started: Array<() => Promise<void>> = [];

beforeAll(() => {
  // The AWS tools must not wait for instance metadata on a machine without credentials.
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});

afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
});

/** No pod dominates the node (each well under half of it): the runbook relieves the node instead. */
const cluster = () => memoryPressureCluster();

async function startEnvironment(
  options: {
    dataDir?: string;
    kube?: FakeKubeApi;
    prometheus?: FakePrometheus;
    approvalReminderSeconds?: number;
  } = {},
): Promise<Environment> {
  const kube = options.kube ?? (await cluster());
  const prometheus = options.prometheus ?? new FakePrometheus();
  if (!options.prometheus) await prometheus.start();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'runbook-e2e-'));
  const lines: string[] = [];
  const platform = await startPlatform({
    cwd: ROOT,
    runbooksDir: LIBRARY_RUNBOOKS_DIR,
    statemachinesDir: libraryStatemachinesDir(),
    port: 0,
    dataDir,
    environment: ENVIRONMENT,
    live: true,
    configOverrides: {
      tools: {
        prometheusUrl: prometheus.url,
        kubernetes: { contexts: {}, eks: {} },
        shell: { enabled: false, allow: [] },
      },
      ...(options.approvalReminderSeconds === undefined
        ? {}
        : { approvalReminderSeconds: options.approvalReminderSeconds }),
    },
    kubeConfigFactory: () => kube.kubeConfig(),
    retryIntervalMs: 20,
    reminderIntervalMs: 100,
    print: (line) => lines.push(line),
  });
  started.push(async () => {
    await platform.stop();
    if (!options.kube) await kube.stop();
    if (!options.prometheus) await prometheus.stop();
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  return { platform, kube, prometheus, dataDir, lines, url: platform.url };
}

function alertmanagerBody(
  status: 'firing' | 'resolved',
  changes: { alertname?: string; node?: string } = {},
) {
  const body = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
  );
  body.status = status;
  body.alerts = body.alerts.slice(0, 1).map((alert: Json) => ({
    ...alert,
    status,
    labels: {
      ...alert.labels,
      environment: ENVIRONMENT,
      ...(changes.alertname ? { alertname: changes.alertname } : {}),
      ...(changes.node ? { node: changes.node } : {}),
    },
    ...(status === 'resolved' ? { endsAt: '2026-11-25T10:20:00.000Z' } : {}),
  }));
  body.commonLabels = { ...body.commonLabels, environment: ENVIRONMENT };
  return body;
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

async function get(url: string, path: string) {
  const response = await fetch(new URL(path, url));
  return { status: response.status, body: (await response.json()) as Json };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function execution(url: string, id: string) {
  return (await get(url, `/api/executions/${encodeURIComponent(id)}`)).body;
}

async function finished(url: string, id: string) {
  return until(`${id} to finish`, async () => {
    const detail = await execution(url, id);
    return ['succeeded', 'failed', 'aborted'].includes(detail.execution?.status) ? detail : undefined;
  });
}

/** The newest approval link this server sent for the execution (links carry the server's own address). */
async function approvalLink(url: string, executionId: string): Promise<URL> {
  const link = await until('an approval e-mail in the outbox', async () => {
    const { body } = await get(url, `/api/outbox?executionId=${encodeURIComponent(executionId)}`);
    const requests = body.notifications.filter(
      (notification: Json) =>
        notification.kind === 'approval-request' && notification.links[0]?.url.startsWith(url),
    );
    return requests[0]?.links[0].url as string | undefined;
  });
  return new URL(link);
}

async function approve(link: URL) {
  const form = new URLSearchParams({ decision: 'approve', comment: 'looked at the pods; go' });
  return fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
}

describe('the embedded platform', () => {
  it('runs an Alertmanager alert through diagnosis, an approval clicked from its e-mail, remediation, verification and learning', async () => {
    // Prepare
    const { url, kube } = await startEnvironment();

    // Act: the alert arrives
    const fired = await post(url, '/webhooks/alertmanager', alertmanagerBody('firing'));
    expect(fired.body.results?.[0]?.result, JSON.stringify(fired.body)).toBeDefined();
    const executionId: string = fired.body.results[0].result.executionId;

    // the approver opens the link from the e-mail (GET decides nothing), then approves
    const link = await approvalLink(url, executionId);
    const page = await fetch(link);
    const html = await page.text();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const beforeDecision = await execution(url, executionId);
    const decided = await approve(link);

    // the remediation reaches the cluster; the node recovers and Alertmanager says so
    await until('the eviction', async () => (kube.evicted.length > 0 ? true : undefined));
    const node = kube.nodes.get(NODE)!;
    node.status!.conditions = node.status!.conditions!.map((condition) =>
      condition.type === 'MemoryPressure' ? { ...condition, status: 'False' } : condition,
    );
    const resolved = await post(url, '/webhooks/alertmanager', alertmanagerBody('resolved'));
    const detail = await finished(url, executionId);
    const learning = await until('the learning report to count it', async () => {
      const report = (await get(url, '/api/learning')).body;
      return report.totals.executions >= 1 ? report : undefined;
    });

    // Assess
    expect(fired.status).toBe(202);
    expect(fired.body.results[0].result).toMatchObject({
      decision: 'started',
      runbookId: 'node-memory-pressure',
    });
    expect(link.searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(link.toString()).not.toContain('local:');
    expect(page.status).toBe(200);
    expect(html).toContain('Approve phase relieve-node of node-memory-pressure?');
    expect(html).toContain(NODE);
    expect(beforeDecision.execution.status).not.toBe('succeeded');
    expect(decided.status).toBe(200);
    expect(resolved.status).toBe(202);
    expect(detail.execution.status).toBe('succeeded');
    expect(detail.steps.map((step: Json) => `${step.stepId}:${step.status}`)).toEqual(
      expect.arrayContaining([
        'node-resources:succeeded',
        'top-pods:succeeded',
        'cordon-node:succeeded',
        'evict-heaviest-pod:succeeded',
        'pressure-cleared:succeeded',
      ]),
    );
    expect(detail.approvals[0]).toMatchObject({
      status: 'approved',
      decisions: [{ decision: 'approve', comment: 'looked at the pods; go' }],
    });
    expect(kube.requestsTo('PATCH', `/api/v1/nodes/${NODE}`).length).toBeGreaterThan(0);
    expect(learning.totals).toMatchObject({ executions: 1, succeeded: 1 });
    expect(learning.runbooks[0]).toMatchObject({ runbookId: 'node-memory-pressure', approvalsAnswered: 1 });
  });

  it('reminds the approvers who have not answered, once, and the reminder link approves', async () => {
    // Prepare: reminders due after 1 s (the default is 5 minutes)
    const { url, kube } = await startEnvironment({ approvalReminderSeconds: 1 });
    const fired = await post(url, '/webhooks/alertmanager', alertmanagerBody('firing'));
    const executionId: string = fired.body.results[0].result.executionId;
    await approvalLink(url, executionId);

    // Act: the schedule finds the approval overdue
    const outbox = async () =>
      (await get(url, `/api/outbox?executionId=${encodeURIComponent(executionId)}`)).body
        .notifications as Json[];
    const reminders = await until('the reminders', async () => {
      const sent = (await outbox()).filter((notification) => notification.subject.startsWith('Reminder,'));
      return sent.length > 0 ? sent : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const decided = await approve(new URL(reminders[0]!.links[0].url));
    await until('the eviction', async () => (kube.evicted.length > 0 ? true : undefined));

    // Assess: one reminder per approver, however many times the schedule ran
    const all = (await outbox()).filter((notification) => notification.subject.startsWith('Reminder,'));
    const requests = (await outbox()).filter(
      (notification) =>
        notification.kind === 'approval-request' && !notification.subject.startsWith('Reminder,'),
    );
    expect(all.map((notification) => notification.to[0]).sort()).toEqual(
      requests.map((notification) => notification.to[0]).sort(),
    );
    expect(all[0]!.subject).toMatch(/^Reminder, waiting \d+[sm]: approve node-memory-pressure on /);
    expect(decided.status).toBe(200);
    expect((await execution(url, executionId)).approvals[0]).toMatchObject({ status: 'approved' });
  });

  it('starts exactly one execution for 1,000 duplicate firings (an alert storm)', async () => {
    // Prepare
    const { url } = await startEnvironment();
    const body = alertmanagerBody('firing');

    // Act: 1,000 deliveries, 50 at a time
    const statuses: number[] = [];
    for (let wave = 0; wave < 20; wave++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => post(url, '/webhooks/alertmanager', body)),
      );
      statuses.push(...answers.map((answer) => answer.status));
    }
    const { body: list } = await get(url, '/api/executions?limit=50');

    // Assess
    expect(statuses.every((status) => status === 202)).toBe(true);
    expect(list.executions).toHaveLength(1);
  }, 120_000); // a hang guard: 1,000 requests on a busy machine; speed is measured in npm run bench

  it('takes a CloudWatch alarm as an EventBridge event and classifies it', async () => {
    // Prepare
    const { url } = await startEnvironment();
    const event = JSON.parse(
      readFileSync(join(ROOT, 'test/fixtures/alerts/cloudwatch-alarm-ec2-status-check.json'), 'utf8'),
    );
    event.detail.alarmName = `${event.detail.alarmName}`;
    // The alarm's environment comes from its tags; this deployment serves staging.
    event.detail.alarmTags = { environment: ENVIRONMENT };

    // Act
    const answer = await post(url, '/events', event);

    // Assess
    expect(answer.status).toBe(202);
    expect(answer.body.results[0]).toMatchObject({ rule: 'cloudwatch-alarms', target: 'classifier' });
    expect(answer.body.results[0].result).toMatchObject({ runbookId: 'ec2-status-check-failed' });
  });

  it('resolves an incident when the resolved alert arrives, and answers for a resolution of nothing', async () => {
    // Prepare
    const { url } = await startEnvironment();

    // Act
    const orphan = await post(
      url,
      '/webhooks/alertmanager',
      alertmanagerBody('resolved', { node: 'ip-10-9-9-9.eu-west-1.compute.internal' }),
    );

    // Assess
    expect(orphan.status).toBe(202);
    expect(orphan.body.results[0].result).toMatchObject({
      decision: 'resolved',
      reason: 'no open incident for this alert',
    });
  });

  it('records an alert no runbook matches: 202, no execution, and the learning report lists it', async () => {
    // Prepare
    const { url } = await startEnvironment();

    // Act
    const answer = await post(
      url,
      '/webhooks/alertmanager',
      alertmanagerBody('firing', { alertname: 'KubeQuotaAlmostFull' }),
    );
    const executions = (await get(url, '/api/executions')).body.executions;
    const report = (await get(url, '/api/learning')).body;

    // Assess
    expect(answer.status).toBe(202);
    expect(answer.body.results[0].result).toMatchObject({ decision: 'unmatched' });
    expect(executions).toHaveLength(0);
    expect(report.unmatched).toEqual([expect.objectContaining({ name: 'KubeQuotaAlmostFull', count: 1 })]);
  });

  it('prints the learning report with `runbook learn report`, from the server or from its data when stopped', async () => {
    // Prepare: one unmatched alert recorded, kept in a data directory that outlives the platform
    const dataDir = mkdtempSync(join(tmpdir(), 'runbook-learn-'));
    started.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const { url, platform } = await startEnvironment({ dataDir });
    await post(
      url,
      '/webhooks/alertmanager',
      alertmanagerBody('firing', { alertname: 'KubeQuotaAlmostFull' }),
    );
    const report = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(
        ['node', 'runbook', 'learn', 'report', '--runbooks', LIBRARY_RUNBOOKS_DIR, ...args],
        {
          out: (line) => out.push(line),
          err: (line) => err.push(line),
          cwd: ROOT,
        },
      );
      return { code, out, err };
    };

    // Act
    const live = await report(['--url', url]);
    const liveJson = await report(['--url', url, '--json']);
    await platform.stop();
    const offline = await report(['--url', 'http://127.0.0.1:9/', '--data', dataDir, '--json']);
    const nothing = await report(['--url', 'http://127.0.0.1:9/', '--data', join(dataDir, 'missing')]);

    // Assess
    expect(live.code).toBe(0);
    expect(live.out).toContain('Alerts no runbook matched');
    expect(live.out.join('\n')).toMatch(/prometheus\/KubeQuotaAlmostFull: 1 time\(s\)/);
    expect(JSON.parse(liveJson.out.join('\n')).unmatched).toEqual([
      expect.objectContaining({ name: 'KubeQuotaAlmostFull', count: 1 }),
    ]);
    expect(offline.code).toBe(0);
    expect(JSON.parse(offline.out.join('\n')).unmatched).toEqual([
      expect.objectContaining({ name: 'KubeQuotaAlmostFull', count: 1 }),
    ]);
    expect(nothing.code).not.toBe(0);
    expect(nothing.err.join('\n')).toMatch(
      /no server at http:\/\/127\.0\.0\.1:9\/ and no data in .*missing: run npm start first/,
    );
  });

  it('aborts mid-run: the running eviction stops and the cordon is undone', async () => {
    // Prepare: the eviction hangs long enough to be aborted while it runs
    const { url, kube, lines } = await startEnvironment();
    let evictionArrived!: () => void;
    const eviction = new Promise<void>((resolve) => {
      evictionArrived = resolve;
    });
    kube.onRequest = (request) => {
      if (request.method === 'POST' && request.path.endsWith('/eviction')) {
        kube.latencyMs = 6_000;
        evictionArrived();
      }
    };
    const fired = await post(url, '/webhooks/alertmanager', alertmanagerBody('firing'));
    expect(fired.body.results?.[0]?.result, JSON.stringify(fired.body)).toBeDefined();
    const executionId: string = fired.body.results[0].result.executionId;
    await approve(await approvalLink(url, executionId));
    await eviction;

    // Act
    const aborted = await post(url, `/api/executions/${executionId}/abort`, {
      reason: 'wrong node',
      by: 'alice',
    });
    kube.latencyMs = 0;
    const detail = await finished(url, executionId).catch((error) => {
      throw new Error(`${(error as Error).message}\n${lines.join('\n')}`);
    });

    // Assess
    expect(aborted.status).toBe(202);
    expect(detail.execution.status).toBe('aborted');
    expect(detail.execution.outcome).toMatchObject({
      status: 'aborted',
      rolledBack: true,
      rollbackFailed: false,
      error: 'Runbook.Aborted',
    });
    expect(
      detail.steps.find((step: Json) => step.kind === 'rollback' && step.stepId === 'notify-rollback')
        ?.status,
    ).toBe('succeeded');
    expect(
      detail.steps.find((step: Json) => step.stepId === 'evict-heaviest-pod' && step.kind === 'step')?.status,
    ).toBe('aborted');
    expect(
      detail.steps.find((step: Json) => step.kind === 'compensation' && step.stepId === 'cordon-node')
        ?.status,
    ).toBe('compensated');
    expect(kube.nodes.get(NODE)?.spec?.unschedulable ?? false).toBe(false);
  });

  it('loses nothing when the platform restarts while an execution waits for approval', async () => {
    // Prepare
    const dataDir = mkdtempSync(join(tmpdir(), 'runbook-restart-'));
    started.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const kube = await cluster();
    const prometheus = new FakePrometheus();
    await prometheus.start();
    started.push(async () => {
      await kube.stop();
      await prometheus.stop();
    });
    const first = await startEnvironment({ dataDir, kube, prometheus });
    const fired = await post(first.url, '/webhooks/alertmanager', alertmanagerBody('firing'));
    expect(fired.body.results?.[0]?.result, JSON.stringify(fired.body)).toBeDefined();
    const executionId: string = fired.body.results[0].result.executionId;
    await approvalLink(first.url, executionId);

    // Act: the process stops, and a new one starts on the same data
    await first.platform.stop();
    started.splice(started.length - 1, 1);
    const second = await startEnvironment({ dataDir, kube, prometheus });
    const link = await approvalLink(second.url, executionId);
    const decided = await approve(link);
    await until('the eviction', async () => (kube.evicted.length > 0 ? true : undefined));
    const node = kube.nodes.get(NODE)!;
    node.status!.conditions = node.status!.conditions!.map((condition) =>
      condition.type === 'MemoryPressure' ? { ...condition, status: 'False' } : condition,
    );
    await post(second.url, '/webhooks/alertmanager', alertmanagerBody('resolved'));
    const detail = await finished(second.url, executionId);

    // Assess
    expect(second.platform.recovery.resumed).toEqual([executionId]);
    expect(decided.status).toBe(200);
    expect(detail.execution.status).toBe('succeeded');
    expect(detail.approvals.map((approval: Json) => approval.status).sort()).toEqual([
      'approved',
      'cancelled',
    ]);
  });

  /** The platform stops while the eviction (a change) runs, and starts again on the same data. */
  async function interruptedMidEviction() {
    const dataDir = mkdtempSync(join(tmpdir(), 'runbook-interrupted-'));
    started.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const kube = await cluster();
    const prometheus = new FakePrometheus();
    await prometheus.start();
    started.push(async () => {
      await kube.stop();
      await prometheus.stop();
    });
    const first = await startEnvironment({ dataDir, kube, prometheus });
    let evictionArrived!: () => void;
    const eviction = new Promise<void>((resolve) => {
      evictionArrived = resolve;
    });
    kube.onRequest = (request) => {
      if (request.method === 'POST' && request.path.endsWith('/eviction')) {
        kube.latencyMs = 3_000;
        evictionArrived();
      }
    };
    const fired = await post(first.url, '/webhooks/alertmanager', alertmanagerBody('firing'));
    expect(fired.body.results?.[0]?.result, JSON.stringify(fired.body)).toBeDefined();
    const executionId: string = fired.body.results[0].result.executionId;
    await approve(await approvalLink(first.url, executionId));
    await eviction;
    await first.platform.stop();
    started.splice(started.length - 1, 1);
    kube.onRequest = undefined;
    kube.latencyMs = 0;
    const second = await startEnvironment({ dataDir, kube, prometheus });
    return { ...second, executionId };
  }

  it('marks an execution stopped mid-change interrupted; abort then rolls it back', async () => {
    // Prepare
    const { url, kube, platform, executionId } = await interruptedMidEviction();
    const before = await execution(url, executionId);

    // Act
    const aborted = await post(url, `/api/executions/${executionId}/abort`, { by: 'alice', reason: 'gone' });
    const detail = await finished(url, executionId);

    // Assess
    expect(platform.recovery.interrupted).toEqual([executionId]);
    expect(before.execution.status).toBe('interrupted');
    expect(before.execution.currentState).toMatch(/evict-heaviest-pod.*could repeat the change/);
    expect(aborted.status).toBe(202);
    expect(detail.execution.status).toBe('aborted');
    expect(detail.execution.outcome).toMatchObject({
      status: 'aborted',
      rolledBack: true,
      rollbackFailed: false,
    });
    expect(
      detail.steps.find((step: Json) => step.kind === 'compensation' && step.stepId === 'cordon-node')
        ?.status,
    ).toBe('compensated');
    expect(kube.nodes.get(NODE)?.spec?.unschedulable ?? false).toBe(false);
  });

  it('shows the attempt a restart cut short as interrupted, not running', async () => {
    // Prepare
    const { url, executionId } = await interruptedMidEviction();

    // Act
    const detail = await execution(url, executionId);

    // Assess
    const attempts = detail.steps.filter((step: Json) => step.stepId === 'evict-heaviest-pod');
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({
      status: 'interrupted',
      error: { name: 'Runbook.Interrupted', message: expect.stringContaining('stopped') },
      finishedAt: expect.any(String),
    });
    expect(detail.steps.filter((step: Json) => step.status === 'running')).toEqual([]);
    // The audit trail ends the change too: it never shows a change started and left open.
    const trail = (await get(url, `/api/audit?execution=${executionId}`)).body.events as Json[];
    const eviction = trail.filter((event) => event.stepId === 'evict-heaviest-pod');
    expect(eviction.map((event) => `${event.kind}=${event.status ?? ''}`)).toEqual([
      'change.started=',
      'change.finished=interrupted',
    ]);
  });

  it("resumes an interrupted execution on an operator's word, re-running the change it was in", async () => {
    // Prepare
    const { url, kube, executionId } = await interruptedMidEviction();
    const evictionRequests = () =>
      kube.requests.filter((request) => request.path.endsWith('/eviction')).length;
    const before = evictionRequests();

    // Act
    const resumed = await post(url, `/api/executions/${executionId}/resume`, { by: 'alice' });
    await until('the eviction again', async () => (evictionRequests() > before ? true : undefined));
    const node = kube.nodes.get(NODE)!;
    node.status!.conditions = node.status!.conditions!.map((condition) =>
      condition.type === 'MemoryPressure' ? { ...condition, status: 'False' } : condition,
    );
    await post(url, '/webhooks/alertmanager', alertmanagerBody('resolved'));
    const detail = await finished(url, executionId);

    // Assess
    expect(resumed.status).toBe(202);
    expect(resumed.body.execution ?? resumed.body).toMatchObject({ status: 'running' });
    expect(detail.execution.status).toBe('succeeded');
    const evictions = detail.steps.filter((step: Json) => step.stepId === 'evict-heaviest-pod');
    expect(evictions.at(-1)).toMatchObject({ status: 'succeeded', attempt: evictions.length });
  });

  it('refuses a port already in use with a message that says so, and leaves nothing running', async () => {
    // Prepare
    const { url } = await startEnvironment();
    const port = Number(new URL(url).port);
    const dataDir = mkdtempSync(join(tmpdir(), 'runbook-port-'));
    started.push(async () => rmSync(dataDir, { recursive: true, force: true }));

    // Act
    const second = startPlatform({
      cwd: ROOT,
      runbooksDir: LIBRARY_RUNBOOKS_DIR,
      statemachinesDir: libraryStatemachinesDir(),
      port,
      dataDir,
      environment: ENVIRONMENT,
      live: false,
      print: () => {},
    });

    // Assess
    await expect(second).rejects.toThrow(
      `port ${port} on 127.0.0.1 is in use (another runbook serve or demo?): stop it, or choose another port with --port`,
    );
  });

  it('answers malformed bodies with 400 naming the field, 413 when too large, and keeps serving', async () => {
    // Prepare
    const { url } = await startEnvironment();
    const missing = alertmanagerBody('firing');
    delete missing.alerts[0].startsAt;

    // Act
    const notJson = await post(url, '/webhooks/alertmanager', '{ not json');
    const noField = await post(url, '/webhooks/alertmanager', missing);
    const tooLarge = await fetch(new URL('/webhooks/alertmanager', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(2 * 1024 * 1024),
    });
    const badEvent = await post(url, '/events', { source: 'aws.cloudwatch' });
    const healthy = await get(url, '/healthz');
    const stillWorks = await post(url, '/webhooks/alertmanager', alertmanagerBody('firing'));

    // Assess
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatch(/not JSON/);
    expect(noField.status).toBe(400);
    expect(noField.body.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'alerts[0].startsAt' })]),
    );
    expect(tooLarge.status).toBe(413);
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.problems.map((problem: Json) => problem.path)).toEqual(
      expect.arrayContaining(['detail-type']),
    );
    expect(healthy).toEqual({ status: 200, body: { ok: true } });
    expect(stillWorks.status).toBe(202);
  });
});

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
 * The audit trail end to end on the embedded platform (dynalite, the compiled machine in
 * aws-local-stepfunctions, the real HTTP server): an execution paused, approved, held by the kill
 * switch, resumed, released and aborted mid-change; its trail holds every event in order, with who
 * and from where, and the same events are found per person, per resource, on the platform's trail,
 * and by `runbook audit`.
 */

const NODE = PRESSURED_NODE;
const ENVIRONMENT = 'staging';
const USER_AGENT = 'audit-e2e/1.0';

const stops: Array<() => Promise<void>> = [];
beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

async function startEnvironment(): Promise<{
  platform: RunningPlatform;
  kube: FakeKubeApi;
  url: string;
  dataDir: string;
}> {
  const kube = await memoryPressureCluster();
  const prometheus = new FakePrometheus();
  await prometheus.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'runbook-audit-e2e-'));
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
    },
    kubeConfigFactory: () => kube.kubeConfig(),
    retryIntervalMs: 20,
    reminderIntervalMs: 60_000,
    print: () => {},
  });
  stops.push(async () => {
    await platform.stop();
    await kube.stop();
    await prometheus.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { platform, kube, url: platform.url, dataDir };
}

function firing() {
  const body = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
  );
  body.alerts = body.alerts
    .slice(0, 1)
    .map((alert: Json) => ({ ...alert, labels: { ...alert.labels, environment: ENVIRONMENT } }));
  body.commonLabels = { ...body.commonLabels, environment: ENVIRONMENT };
  return body;
}

async function post(url: string, path: string, body: unknown) {
  const response = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
    body: JSON.stringify(body),
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

const detailOf = async (url: string, id: string) => (await get(url, `/api/executions/${id}`)).body;

/** Every event of one query, all pages. */
async function audit(url: string, query: string): Promise<Json[]> {
  const events: Json[] = [];
  let cursor: string | undefined;
  do {
    const page = await get(url, `/api/audit?${query}&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    events.push(...page.body.events);
    cursor = page.body.cursor;
  } while (cursor);
  return events;
}

/** `kind` (plus the verdict, result or status that tells the same kind apart), for order checks. */
function label(event: Json): string {
  const detail = event.verdict ?? event.result ?? event.status ?? event.decision;
  const step = event.stepId ? `:${event.stepKind}:${event.stepId}` : '';
  return `${event.kind}${event.gate ? `:${event.gate}` : ''}${step}${detail ? `=${detail}` : ''}`;
}

describe('the audit trail on the embedded platform', () => {
  it('holds every event of an execution in order after pause, approval, kill switch, resume and abort, with who and from where', async () => {
    // Prepare: an alert starts node-memory-pressure, which asks for approval before relieving the node
    const { url, kube, dataDir } = await startEnvironment();
    const fired = await post(url, '/webhooks/alertmanager', firing());
    const executionId: string = fired.body.results[0].result.executionId;
    const link = await until('the approval e-mail', async () => {
      const { body } = await get(url, `/api/outbox?executionId=${executionId}`);
      return body.notifications.find((notification: Json) => notification.kind === 'approval-request')
        ?.links[0].url as string | undefined;
    });

    // Act: alice pauses while it waits for approval; the approver approves; it holds at the checkpoint
    const paused = await post(url, `/api/executions/${executionId}/pause`, {
      by: 'alice',
      reason: 'checking the node',
    });
    const approved = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': USER_AGENT },
      body: new URLSearchParams({ decision: 'approve', comment: 'go' }).toString(),
    });
    await until('the hold', async () =>
      (await detailOf(url, executionId)).execution.status === 'paused' ? true : undefined,
    );
    // bob engages the kill switch; alice resumes (still held by the switch); bob releases it
    const engaged = await post(url, '/api/kill-switch', { engaged: true, by: 'bob', reason: 'bad deploy' });
    const resumed = await post(url, `/api/executions/${executionId}/resume`, { by: 'alice' });
    const stillHeld = (await detailOf(url, executionId)).execution.status;
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
    const released = await post(url, '/api/kill-switch', { engaged: false, by: 'bob' });
    // carol aborts while the eviction runs: the cordon is undone
    await eviction;
    const aborted = await post(url, `/api/executions/${executionId}/abort`, {
      by: 'carol',
      reason: 'wrong node',
    });
    kube.latencyMs = 0;
    const detail = await until('the abort to finish', async () => {
      const current = await detailOf(url, executionId);
      return current.execution.status === 'aborted' ? current : undefined;
    });
    const trail = await until('the trail to end', async () => {
      const events = await audit(url, `execution=${executionId}`);
      return events.some((event) => event.kind === 'execution.finished') ? events : undefined;
    });

    // Assess: the answers
    expect([
      paused.status,
      approved.status,
      engaged.status,
      resumed.status,
      released.status,
      aborted.status,
    ]).toEqual([202, 200, 200, 202, 200, 202]);
    expect(stillHeld).toBe('paused');
    expect(released.body.released).toBe(1);
    expect(detail.execution.outcome).toMatchObject({ status: 'aborted', rolledBack: true });

    // the whole trail, in the order it happened (each event once)
    const labels = trail.map(label);
    const expectedOrder = [
      'alert.received',
      'runbook.selected',
      'gate.verdict:safety=allowed',
      'execution.started',
      'approval.requested',
      'override.pause=accepted',
      'approval.decided=approved',
      'gate.verdict:checkpoint=held',
      'override.resume=accepted',
      'gate.verdict:checkpoint=released',
      'change.started:step:cordon-node',
      'change.finished:step:cordon-node=succeeded',
      'change.started:step:evict-heaviest-pod',
      'override.abort=accepted',
      'change.finished:step:evict-heaviest-pod=aborted',
      'change.finished:compensation:cordon-node=compensated',
      'execution.finished=aborted',
    ];
    const positions = expectedOrder.map((expected) => labels.indexOf(expected));
    expect(positions, labels.join('\n')).not.toContain(-1);
    expect(
      [...positions].sort((a, b) => a - b),
      labels.join('\n'),
    ).toEqual(positions);
    expect(new Set(trail.map((event) => event.id)).size).toBe(trail.length);
    expect(trail.every((event) => event.executionId === executionId)).toBe(true);

    // who, when and from where
    const byKind = (wanted: string) => trail.find((event) => label(event) === wanted)!;
    expect(byKind('override.pause=accepted')).toMatchObject({
      actor: {
        type: 'person',
        id: 'alice',
        source: { channel: 'api', ip: '127.0.0.1', userAgent: USER_AGENT },
      },
      reason: 'checking the node',
    });
    expect(byKind('override.abort=accepted').actor).toMatchObject({ type: 'person', id: 'carol' });
    expect(byKind('approval.decided=approved')).toMatchObject({
      actor: { type: 'person', source: { channel: 'approval-link', ip: '127.0.0.1', userAgent: USER_AGENT } },
      comment: 'go',
      status: 'approved',
    });
    expect(byKind('gate.verdict:checkpoint=released').actor).toMatchObject({ type: 'person', id: 'bob' });
    expect(byKind('gate.verdict:checkpoint=held').reason).toMatch(/paused by alice/);
    expect(byKind('runbook.selected').candidates.length).toBeGreaterThan(0);
    expect(byKind('runbook.selected').selected).toMatchObject({ runbookId: 'node-memory-pressure' });
    expect(byKind('change.started:step:cordon-node').parameters).toMatchObject({ node: NODE });
    for (const event of trail) expect(Date.parse(event.at)).not.toBeNaN();

    // The kill switch's history on the platform's trail; per person; per resource
    const platform = await audit(url, 'platform=true');
    expect(platform.map(label)).toEqual(['kill-switch.engaged=accepted', 'kill-switch.released=accepted']);
    expect(platform[0]).toMatchObject({ actor: { id: 'bob' }, reason: 'bad deploy' });
    expect(platform[1]).toMatchObject({ released: 1 });
    expect((await audit(url, 'actor=alice')).map(label)).toEqual([
      'override.pause=accepted',
      'override.resume=accepted',
    ]);
    const resourceKey = byKind('alert.received').resourceKey as string;
    expect(resourceKey).toContain(NODE);
    const forResource = await audit(url, `resource=${encodeURIComponent(resourceKey)}`);
    expect(forResource.map((event) => event.id)).toEqual(
      trail.filter((event) => event.resourceKey === resourceKey).map((event) => event.id),
    );

    // `runbook audit` exports the same trail as JSON lines, from the server
    const lines: string[] = [];
    const code = await main(
      ['node', 'runbook', 'audit', '--execution', executionId, '--format', 'json-lines', '--url', url],
      {
        out: (line) => lines.push(line),
        err: () => {},
        cwd: dataDir,
      },
    );
    expect(code).toBe(0);
    expect(lines.map((line) => (JSON.parse(line) as Json).id)).toEqual(trail.map((event) => event.id));
  }, 60_000);

  it('records a refused override too, and keeps an abort that raced a pause', async () => {
    // Prepare
    const { url } = await startEnvironment();
    const fired = await post(url, '/webhooks/alertmanager', firing());
    const executionId: string = fired.body.results[0].result.executionId;
    await until('the approval request', async () =>
      (await audit(url, `execution=${executionId}`)).some((event) => event.kind === 'approval.requested')
        ? true
        : undefined,
    );

    // Act: an abort and a pause at the same moment, then a pause of the aborted execution
    const [abort, pause] = await Promise.all([
      post(url, `/api/executions/${executionId}/abort`, { by: 'carol' }),
      post(url, `/api/executions/${executionId}/pause`, { by: 'alice' }),
    ]);
    await until('the abort to finish', async () =>
      (await detailOf(url, executionId)).execution.status === 'aborted' ? true : undefined,
    );
    const late = await post(url, `/api/executions/${executionId}/pause`, { by: 'dave' });
    const trail = await audit(url, `execution=${executionId}`);

    // Assess: the abort held whatever the pause did; every request is in the trail with its answer
    expect(abort.status).toBe(202);
    expect([202, 409]).toContain(pause.status);
    expect((await detailOf(url, executionId)).execution.control.abortRequested).toBe(true);
    expect(late.status).toBe(409);
    const overrides = trail.filter((event) => String(event.kind).startsWith('override.'));
    expect(overrides.map((event) => `${event.actor.id}:${event.kind}`).sort()).toEqual([
      'alice:override.pause',
      'carol:override.abort',
      'dave:override.pause',
    ]);
    expect(overrides.find((event) => event.actor.id === 'dave')).toMatchObject({
      result: 'refused',
      refusal: expect.stringMatching(/already aborted/),
    });
  }, 60_000);
});

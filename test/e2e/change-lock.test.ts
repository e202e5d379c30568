import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoChangeLocks } from '../../functions/adapters/aws/dynamo-change-locks.ts';
import { CATALOG_FILE, runbookCatalogText } from '../../functions/core/runbook/catalog.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import { alertmanagerBody } from '../../local/alert-payloads.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { compileRunbookFiles, listRunbookFiles, validateRunbookFiles } from '../../local/runbook-files.ts';
import type { Json } from '../support/json.ts';
import { shopCluster } from '../support/limits-project.ts';
import { OPTIONS, ROOT } from '../support/runbooks.ts';

/**
 * The per-resource change lock end to end on the embedded platform, over HTTP: two runbooks that change
 * the same Deployment (shop/cart) for two different alerts. The second alert is deferred while the
 * first runs, and classified again when the first ends: still firing, it starts then; resolved, nothing.
 */

const FIXTURES = join(ROOT, 'test/fixtures/runbooks/change-lock');
const RESOURCE = 'k8s-deployment/shop/cart';
let statemachinesDir: string;
const started: Array<() => Promise<void>> = [];

beforeAll(() => {
  statemachinesDir = mkdtempSync(join(tmpdir(), 'change-lock-machines-'));
  mkdirSync(statemachinesDir, { recursive: true });
  const results = validateRunbookFiles(listRunbookFiles([FIXTURES]).files, OPTIONS);
  for (const result of results)
    if (result.problems.length > 0) throw new Error(`${result.file}: ${JSON.stringify(result.problems)}`);
  const machines = compileRunbookFiles(results, statemachinesDir, TOOL_CATALOG);
  for (const machine of machines) writeFileSync(machine.outFile, machine.compiled!.text);
  writeFileSync(
    join(statemachinesDir, CATALOG_FILE),
    runbookCatalogText(machines.map((machine) => machine.runbook)),
  );
});

afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
});

async function startEnvironment(options: { deferredSweepIntervalMs?: number } = {}) {
  const kube = await shopCluster();
  started.push(() => kube.stop());
  const platform = await startPlatform({
    cwd: ROOT,
    runbooksDir: FIXTURES,
    statemachinesDir,
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), 'change-lock-data-')),
    inMemory: true,
    environment: 'dev',
    live: true,
    configOverrides: {
      tools: { kubernetes: { contexts: {}, eks: {} }, shell: { enabled: false, allow: [] } },
    },
    kubeConfigFactory: () => kube.kubeConfig(),
    retryIntervalMs: 20,
    ...options,
    print: () => {},
  });
  started.push(() => platform.stop());
  return { kube, platform };
}

const cartAlert = (alertname: string, status: 'firing' | 'resolved' = 'firing') =>
  alertmanagerBody(
    { alertname, namespace: 'shop', deployment: 'cart', severity: 'warning', environment: 'dev' },
    { summary: `cart: ${alertname}` },
    status,
  );

async function fire(platform: RunningPlatform, body: unknown): Promise<Json> {
  const response = await fetch(new URL('/webhooks/alertmanager', platform.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as Json).results[0].result;
}

async function get(platform: RunningPlatform, path: string): Promise<Json> {
  return (await (await fetch(new URL(path, platform.url))).json()) as Json;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const finished = (platform: RunningPlatform, executionId: string) =>
  until(`${executionId} to finish`, async () => {
    const detail = await get(platform, `/api/executions/${encodeURIComponent(executionId)}`);
    return ['succeeded', 'failed', 'aborted'].includes(detail.execution?.status) ? detail : undefined;
  });

const executions = async (platform: RunningPlatform) =>
  ((await get(platform, '/api/executions?limit=50')).executions as Json[]).sort((a, b) =>
    String(a.startedAt).localeCompare(String(b.startedAt)),
  );

describe('change lock on the embedded platform', () => {
  it('defers the second runbook’s alert while the first changes the Deployment, then runs it', async () => {
    // Prepare
    const { kube, platform } = await startEnvironment();

    // Act: the first alert starts the slow runbook; the second, on the same Deployment, comes meanwhile
    const first = await fire(platform, cartAlert('CartNeedsCapacity'));
    const second = await fire(platform, cartAlert('CartLatencyHigh'));
    const firstDone = await finished(platform, first.executionId);
    const secondRun = await until('the deferred alert’s execution', async () =>
      (await executions(platform)).find((execution) => execution.runbookId === 'scale-cart-further'),
    );
    const secondDone = await finished(platform, secondRun.id);
    const { events } = await get(platform, `/api/audit?resource=${encodeURIComponent(RESOURCE)}&limit=500`);

    // Assess: deferred with who holds the lock, started only after the first stopped, each changed once
    expect(first.decision).toBe('started');
    expect(second).toMatchObject({ decision: 'deferred', runbookId: 'scale-cart-further' });
    expect(second.reason).toMatch(
      new RegExp(
        `^${RESOURCE} is being changed by scale-cart-slowly execution ${first.executionId}; this alert is re-evaluated when it ends`,
      ),
    );
    expect(firstDone.execution.status).toBe('succeeded');
    expect(secondDone.execution.status).toBe('succeeded');
    expect(Date.parse(secondDone.execution.startedAt)).toBeGreaterThanOrEqual(
      Date.parse(firstDone.execution.stoppedAt),
    );
    expect(secondDone.execution.incidentId).toBe(second.incidentId);
    expect(
      (events as Json[])
        .filter((event) => event.kind === 'gate.verdict' && event.gate === 'change-lock')
        .map((event) => [event.verdict, event.details.holder]),
    ).toEqual([['deferred', first.executionId]]);
    const scales = kube
      .requestsTo('PATCH')
      .filter((request) => request.path.includes('/deployments/cart'))
      .map((request) => request.path);
    expect(scales).toHaveLength(2);
    expect(kube.deployments.get('shop/cart')?.spec?.replicas).toBe(3);
  });

  it('runs an alert deferred behind a lost holder once its lock expires (the sweep timer), without a repeat', async () => {
    // Prepare: a holder that crashed: its lock on the Deployment expires in two seconds and nobody releases it
    const { kube, platform } = await startEnvironment({ deferredSweepIntervalMs: 250 });
    const { database } = platform.platform;
    const locks = new DynamoChangeLocks({ client: database.client, tableName: database.tableName });
    const expiresAt = new Date(Date.now() + 2_000).toISOString();
    // It had scaled cart to 2 before it was lost (the second runbook raises 2 to 3, one pod per step).
    kube.edit(kube.deployments, 'shop/cart', (deployment) => {
      deployment.spec!.replicas = 2;
    });
    await locks.acquire({
      resourceKey: RESOURCE,
      executionId: 'lost-run',
      runbookId: 'scale-cart-slowly',
      acquiredAt: new Date().toISOString(),
      expiresAt,
    });

    // Act: the alert comes while the lost run holds the lock, and is never repeated
    const deferred = await fire(platform, cartAlert('CartLatencyHigh'));
    const run = await until('the deferred alert’s execution', async () =>
      (await executions(platform)).find((execution) => execution.runbookId === 'scale-cart-further'),
    );
    const done = await finished(platform, run.id);

    // Assess: deferred behind the lost run, started after its lock expired, the lock now the new run's
    expect(deferred).toMatchObject({ decision: 'deferred', runbookId: 'scale-cart-further' });
    expect(deferred.reason).toContain('lost-run');
    expect(Date.parse(done.execution.startedAt)).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(done.execution).toMatchObject({ status: 'succeeded', incidentId: deferred.incidentId });
    expect(await locks.listDeferred(RESOURCE)).toEqual([]);
    expect(
      kube.requestsTo('PATCH').filter((request) => request.path.includes('/deployments/cart')),
    ).toHaveLength(1);
    expect(kube.deployments.get('shop/cart')?.spec?.replicas).toBe(3);
  });

  it('starts nothing for a deferred alert that resolved before the first ended', async () => {
    // Prepare
    const { platform } = await startEnvironment();

    // Act
    const first = await fire(platform, cartAlert('CartNeedsCapacity'));
    const second = await fire(platform, cartAlert('CartLatencyHigh'));
    const resolved = await fire(platform, cartAlert('CartLatencyHigh', 'resolved'));
    await finished(platform, first.executionId);
    // The first's end re-evaluates its deferred alerts in the same process; give it a moment to act.
    await new Promise((resolve) => setTimeout(resolve, 500));

    // Assess
    expect(second.decision).toBe('deferred');
    expect(resolved).toMatchObject({ decision: 'resolved', incidentId: second.incidentId });
    expect((await executions(platform)).map((execution) => execution.runbookId)).toEqual([
      'scale-cart-slowly',
    ]);
  });
});

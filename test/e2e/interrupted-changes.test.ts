import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { FakePrometheus } from '../../local/demo/fake-prometheus.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { ENVIRONMENTS_CONTEXT_KEY } from '../../local/project.ts';
import { startChildPlatform } from '../support/child-platform.ts';
import { memoryPressureCluster, PRESSURED_NODE } from '../support/clusters.ts';
import type { Json } from '../support/json.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from '../support/library.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The platform killed with SIGKILL while a change is in flight (a Kubernetes PATCH, an eviction, a local
 * command), then started again on the same data: what the execution detail shows, and what resuming
 * does. A change is made once per execution and step where the target allows it; where it cannot be,
 * resuming asks for an explicit choice and shows what was running.
 */

const ENVIRONMENT = 'staging';
const _NODE = PRESSURED_NODE;
const KUBE_TOKEN = 'kill-test-token';
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});

function temp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A project directory whose cdk.json is this repository's plus an environment "laptop" (dev's settings,
 * policy runsOn: embedded) that cdk deploy skips: the local shell may run there.
 */
function laptopProject(): string {
  const dir = temp('kill-shell-project-');
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, Record<string, unknown>>;
  };
  const environments = cdkJson.context[ENVIRONMENTS_CONTEXT_KEY]!;
  const dev = environments.dev as { policy?: Record<string, unknown> };
  environments.laptop = { ...dev, policy: { ...dev.policy, runsOn: 'embedded' } };
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify(cdkJson));
  return dir;
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

async function getJson(url: string, path: string): Promise<Json> {
  return (await (await fetch(new URL(path, url))).json()) as Json;
}

async function postJson(url: string, path: string, body: unknown) {
  const response = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

/** `pods` deployments on the node; one dominating it makes the runbook restart that workload. */
async function cluster(dominating: boolean): Promise<FakeKubeApi> {
  const kube = await memoryPressureCluster({ dominating, token: KUBE_TOKEN });
  cleanup.push(() => kube.stop());
  return kube;
}

async function prometheus(): Promise<FakePrometheus> {
  const server = new FakePrometheus();
  await server.start();
  cleanup.push(() => server.stop());
  return server;
}

function alertBody(): Json {
  const body = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
  );
  body.alerts = body.alerts.slice(0, 1);
  body.alerts[0].labels.environment = ENVIRONMENT;
  body.commonLabels.environment = ENVIRONMENT;
  return body;
}

/** Fires the alert at `url` and approves its remediation through the e-mailed link. */
async function fireAndApprove(url: string): Promise<string> {
  const fired = await postJson(url, '/webhooks/alertmanager', alertBody());
  const executionId: string = fired.body.results[0].result.executionId;
  const link = await until('the approval e-mail', async () => {
    const outbox = await getJson(url, `/api/outbox?executionId=${executionId}`);
    return outbox.notifications.find((notification: Json) => notification.kind === 'approval-request')
      ?.links[0]?.url as string | undefined;
  });
  const decided = await fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'decision=approve',
  });
  expect(decided.status).toBe(200);
  return executionId;
}

/** The platform again, in this process, on the data the killed one left. */
async function restart(
  dataDir: string,
  kube: FakeKubeApi | undefined,
  prometheusUrl: string | undefined,
  extra: Partial<Parameters<typeof startPlatform>[0]> = {},
): Promise<RunningPlatform> {
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
        ...(prometheusUrl ? { prometheusUrl } : {}),
        kubernetes: { contexts: {}, eks: {} },
        shell: { enabled: false, allow: [] },
      },
    },
    ...(kube ? { kubeConfigFactory: () => kube.kubeConfig({ token: KUBE_TOKEN }) } : {}),
    retryIntervalMs: 20,
    waitScale: 0.01,
    print: () => {},
    ...extra,
  });
  cleanup.push(() => platform.stop());
  return platform;
}

// Each case starts, kills and restarts whole platforms: the budget is a hang guard for busy machines.
describe('changes interrupted by a kill -9', { timeout: 120_000 }, () => {
  it('shows the attempt the killed process was in as interrupted after the restart, not running', async () => {
    // Prepare: the eviction (a change) arrives at the cluster, and the platform dies
    const kube = await cluster(false);
    const metrics = await prometheus();
    const dataDir = temp('kill-evict-');
    const child = await startChildPlatform({
      dataDir,
      environment: ENVIRONMENT,
      kube: { url: kube.url, token: KUBE_TOKEN },
      prometheusUrl: metrics.url,
    });
    cleanup.push(() => child.kill());
    const killed = new Promise<void>((resolve) => {
      kube.onRequest = (request) => {
        if (request.method === 'POST' && request.path.endsWith('/eviction')) {
          kube.onRequest = undefined;
          void child.kill().then(resolve);
        }
      };
    });
    const executionId = await fireAndApprove(child.url);
    await killed;

    // Act
    const platform = await restart(dataDir, kube, metrics.url);
    const detail = await getJson(platform.url, `/api/executions/${executionId}`);

    // Assess
    expect(platform.recovery.interrupted).toEqual([executionId]);
    const evictions = detail.steps.filter((step: Json) => step.stepId === 'evict-heaviest-pod');
    expect(evictions).toEqual([
      expect.objectContaining({
        status: 'interrupted',
        error: expect.objectContaining({ name: 'Runbook.Interrupted' }),
        finishedAt: expect.any(String),
      }),
    ]);
    expect(detail.steps.filter((step: Json) => step.status === 'running')).toEqual([]);
  });

  it('rolls a workload out once when the platform dies mid-PATCH and the execution is resumed', async () => {
    // Prepare: the cart Deployment dominates the node, so the runbook restarts it
    const kube = await cluster(true);
    const metrics = await prometheus();
    const dataDir = temp('kill-restart-');
    const child = await startChildPlatform({
      dataDir,
      environment: ENVIRONMENT,
      kube: { url: kube.url, token: KUBE_TOKEN },
      prometheusUrl: metrics.url,
    });
    cleanup.push(() => child.kill());
    const revision = () =>
      Number(kube.deployments.get('shop/cart')?.metadata?.annotations?.['deployment.kubernetes.io/revision']);
    const before = revision();
    const killed = new Promise<void>((resolve) => {
      kube.onRequest = (request) => {
        if (request.method === 'PATCH' && request.path.endsWith('/deployments/cart')) {
          kube.onRequest = undefined;
          void child.kill().then(resolve);
        }
      };
    });
    const executionId = await fireAndApprove(child.url);
    await killed;
    await until('the first restart to reach the Deployment', async () =>
      revision() > before ? true : undefined,
    );

    // Act: started again; the operator resumes the interrupted execution
    const platform = await restart(dataDir, kube, metrics.url);
    const resumed = await postJson(platform.url, `/api/executions/${executionId}/resume`, { by: 'alice' });
    const restarted = await until('the restart step to finish again', async () => {
      const detail = await getJson(platform.url, `/api/executions/${executionId}`);
      const attempts = detail.steps.filter((step: Json) => step.stepId === 'restart-top-workload');
      return attempts.at(-1)?.status === 'succeeded' ? attempts : undefined;
    });

    // Assess: one rollout, whatever the platform went through
    expect(platform.recovery.interrupted).toEqual([executionId]);
    expect(resumed.status).toBe(202);
    expect(restarted.map((attempt: Json) => attempt.status)).toEqual(['interrupted', 'succeeded']);
    expect(revision()).toBe(before + 1);
  });

  it('asks before repeating a change that would happen twice, shows what was running, and repeats it when told to', async () => {
    // Prepare: a runbook whose change is a local command (it cannot tell whether it ran): it appends a line
    const runbooksDir = temp('kill-shell-runbooks-');
    const statemachinesDir = temp('kill-shell-machines-');
    const work = temp('kill-shell-work-');
    const marker = join(work, 'runs.txt');
    writeFileSync(
      join(runbooksDir, 'local-change.yaml'),
      readFileSync(join(ROOT, 'test/fixtures/runbooks/platform/local-change.yaml'), 'utf8').replaceAll(
        '__MARKER__',
        marker,
      ),
    );
    mkdirSync(statemachinesDir, { recursive: true });
    const project = laptopProject();
    const dataDir = temp('kill-shell-data-');
    const child = await startChildPlatform({
      cwd: project,
      dataDir,
      environment: 'laptop',
      runbooksDir,
      statemachinesDir,
      shellAllow: ['sh'],
    });
    cleanup.push(() => child.kill());
    const body = alertBody();
    body.alerts[0].labels = {
      ...body.alerts[0].labels,
      alertname: 'LocalChangeNeeded',
      environment: 'laptop',
    };
    body.commonLabels = { ...body.commonLabels, alertname: 'LocalChangeNeeded', environment: 'laptop' };
    const fired = await postJson(child.url, '/webhooks/alertmanager', body);
    const executionId: string = fired.body.results[0].result.executionId;
    await until('the command to start', async () => (existsSync(marker) ? true : undefined));
    await child.kill();
    const platform = await restart(dataDir, undefined, undefined, {
      cwd: project,
      environment: 'laptop',
      runbooksDir,
      statemachinesDir,
      configOverrides: {
        tools: { kubernetes: { contexts: {}, eks: {} }, shell: { enabled: true, allow: ['sh'] } },
      },
    });

    // Act
    const refused = await postJson(platform.url, `/api/executions/${executionId}/resume`, { by: 'alice' });
    const linesBefore = readFileSync(marker, 'utf8');
    const repeated = await postJson(platform.url, `/api/executions/${executionId}/resume`, {
      by: 'alice',
      repeatInterruptedChange: true,
    });
    await until('the command to run again', async () =>
      readFileSync(marker, 'utf8').split('\n').filter(Boolean).length === 2 ? true : undefined,
    );

    // Assess
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/repeatInterruptedChange/);
    expect(refused.body.interruptedChange).toMatchObject({
      stepId: 'append-line',
      tool: 'shell.exec',
      parameters: { command: 'sh' },
      startedAt: expect.any(String),
    });
    expect(linesBefore.split('\n').filter(Boolean)).toHaveLength(1);
    expect(repeated.status).toBe(202);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { budgetWindow } from '../../functions/core/limits/budget.ts';
import { cloudWatchAlarmEvent } from '../../local/alert-payloads.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { DEMO_REGION } from '../../local/sim/cluster.ts';
import type { Json } from '../support/json.ts';
import {
  capacityAlert,
  clockFrom,
  failedOnce,
  LIMITS_FIXTURES,
  type LimitsProject,
  makeLimitsProject,
  shopCluster,
  TUESDAY_3AM,
  TUESDAY_NOON,
} from '../support/limits-project.ts';
import { clientOptions, type SimulatedAccount, startSimulatedAccount } from '../support/sim-aws.ts';

/**
 * Limits that hold across runbooks and risk assessed in context, end to end on the embedded platform
 * (driven over HTTP; its tools act on a simulated cluster and AWS account over their real protocols).
 * The environments' policies come from a copy of cdk.json, as an operator would write them; the
 * platform's clock is moved where the time of day matters.
 */

let project: LimitsProject;
const started: Array<() => Promise<void>> = [];

async function cluster() {
  const kube = await shopCluster();
  started.push(() => kube.stop());
  return kube;
}

async function platformIn(
  environment: 'dev' | 'staging' | 'prod',
  options: {
    kube?: Awaited<ReturnType<typeof shopCluster>>;
    clock?: ReturnType<typeof clockFrom>;
    account?: SimulatedAccount;
    runbookParameters?: Json;
  } = {},
): Promise<RunningPlatform> {
  const platform = await startPlatform({
    cwd: project.cwd,
    runbooksDir: LIMITS_FIXTURES,
    statemachinesDir: project.statemachinesDir,
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), 'limits-data-')),
    inMemory: true,
    environment,
    live: true,
    configOverrides: {
      tools: {
        defaultRegion: DEMO_REGION,
        kubernetes: { contexts: {}, eks: {} },
        shell: { enabled: false, allow: [] },
      },
      ...(options.runbookParameters ? { runbookParameters: options.runbookParameters } : {}),
    },
    ...(options.kube ? { kubeConfigFactory: () => options.kube!.kubeConfig() } : {}),
    ...(options.account ? { aws: clientOptions(options.account.endpoint.url) } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    retryIntervalMs: 20,
    print: () => {},
  });
  started.push(() => platform.stop());
  return platform;
}

function fire(platform: RunningPlatform, alertname: string, deployment: string, environment: string) {
  return post(platform, '/webhooks/alertmanager', capacityAlert(alertname, deployment, environment));
}

async function post(platform: RunningPlatform, path: string, body: unknown): Promise<Json> {
  const response = await fetch(new URL(path, platform.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, path).toBe(202);
  const answer = (await response.json()) as Json;
  const result = answer.results[0].result;
  expect(result.decision, JSON.stringify(answer)).toBe('started');
  return result;
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

async function finished(platform: RunningPlatform, executionId: string): Promise<Json> {
  return until(`${executionId} to finish`, async () => {
    const detail = await get(platform, `/api/executions/${encodeURIComponent(executionId)}`);
    return ['succeeded', 'failed', 'aborted'].includes(detail.execution?.status) ? detail : undefined;
  });
}

async function notifications(platform: RunningPlatform, executionId: string, kind: string): Promise<Json[]> {
  const { notifications } = await get(platform, `/api/outbox?executionId=${encodeURIComponent(executionId)}`);
  return notifications.filter((notification: Json) => notification.kind === kind);
}

const stepOf = (detail: Json, stepId: string) =>
  detail.steps.filter((step: Json) => step.stepId === stepId && step.kind === 'step').at(-1);

function decide(link: string, decision: 'approve' | 'reject') {
  return fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision }).toString(),
  });
}

beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  project = makeLimitsProject();
});

afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
});

afterAll(() => {
  if (project) rmSync(project.cwd, { recursive: true, force: true });
});

describe('the environment change budget holds across runbooks', () => {
  it('two runbooks share the hour’s budget in the namespace; the one that would exceed it is refused, escalates and consumes nothing', async () => {
    // Prepare: staging lets all runbooks together change 4 resources per hour in a namespace
    const kube = await cluster();
    const platform = await platformIn('staging', { kube });
    const limits = platform.platform.limits;
    const scope = 'k8s:default/shop';
    const used = () => limits.budgetUsed(scope, budgetWindow(new Date()).windowStart);

    // Act: scale-checkout adds 2 pods; scale-search would add 3 more; scale-cart then adds 2
    const checkout = await finished(
      platform,
      (await fire(platform, 'CheckoutNeedsCapacity', 'checkout', 'staging')).executionId,
    );
    const usedAfterCheckout = await used();
    const searchRun = await fire(platform, 'SearchNeedsCapacity', 'search', 'staging');
    const search = await finished(platform, searchRun.executionId);
    const usedAfterRefusal = await used();
    const escalation = await until(
      'the escalation of the refused run',
      async () => (await notifications(platform, searchRun.executionId, 'escalation'))[0],
    );
    const cart = await finished(
      platform,
      (await fire(platform, 'CartNeedsCapacity', 'cart', 'staging')).executionId,
    );

    // Assess: the first and the third changed the cluster, the second touched nothing
    expect(checkout.execution.status).toBe('succeeded');
    expect(usedAfterCheckout).toBe(2);
    expect(search.execution.status).toBe('failed');
    const refused = stepOf(search, 'scale-out');
    expect(refused).toMatchObject({ status: 'failed', error: { name: 'Safety.LimitExceeded' } });
    expect(refused.error.message).toBe(
      `scale-out would touch 3 pods (Deployment shop/search from 1 to 4 replicas) in ${scope}, where 2 of the environment's 4 per hour (policy.limits.changeBudget.perHour) are used this hour; it did not run`,
    );
    expect(kube.deployments.get('shop/search')!.spec!.replicas).toBe(1);
    expect(escalation.text).toContain('Safety.LimitExceeded');
    expect(escalation.text).toContain('2 of the environment');
    expect(usedAfterRefusal).toBe(2);
    expect(cart.execution.status).toBe('succeeded');
    expect(kube.deployments.get('shop/checkout')!.spec!.replicas).toBe(3);
    expect(kube.deployments.get('shop/cart')!.spec!.replicas).toBe(3);
    expect(await used()).toBe(4);
  });
});

describe('the blast-radius limit of a runbook at run time', () => {
  it('refuses a copy of ec2-status-check-failed that would reboot the four instances the environment lists under maxResourcesPerStep 1, after its approval', async () => {
    // Prepare: the simulated account; the environment lists four reboot targets (known only at run time)
    const account = await startSimulatedAccount();
    started.push(() => account.stop());
    const targets = [
      'i-0a1b2c3d4e5f60718',
      'i-0b2c3d4e5f6071829',
      'i-0c3d4e5f607182930',
      'i-0d4e5f60718293041',
    ];
    const platform = await platformIn('staging', {
      account,
      runbookParameters: { 'ec2-reboot-targets': { rebootTargets: targets } },
    });

    // Act: the status-check alarm goes off; the on-call approves the reboot
    const run = await post(
      platform,
      '/events',
      cloudWatchAlarmEvent({
        alarmName: 'legacy-web-i-0a1b2c3d4e5f60718-status-check',
        namespace: 'AWS/EC2',
        metricName: 'StatusCheckFailed',
        dimensions: { InstanceId: 'i-0a1b2c3d4e5f60718' },
        statistic: 'Maximum',
        tags: { environment: 'staging' },
        region: DEMO_REGION,
        account: account.world.aws.accountId,
      }),
    );
    const request = await until(
      'the approval e-mail',
      async () => (await notifications(platform, run.executionId, 'approval-request'))[0],
    );
    expect((await decide(request.links[0].url, 'approve')).status).toBe(200);
    const detail = await finished(platform, run.executionId);

    // Assess: approved, and still refused before anything was rebooted
    expect(detail.execution.status).toBe('failed');
    expect(stepOf(detail, 'reboot-instance')).toMatchObject({
      status: 'failed',
      parameters: { instanceIds: targets },
      error: {
        name: 'Safety.LimitExceeded',
        message:
          "reboot-instance would touch 4 instances (one instance per entry of instanceIds), over the runbook's limit of 1 (safetyLimits.blastRadius.maxResourcesPerStep); it did not run",
      },
    });
    expect(account.endpoint.requests.filter((entry) => entry.operation === 'RebootInstances')).toEqual([]);
    expect([...account.world.aws.ec2.instances.values()].filter((instance) => instance.rebootUntil)).toEqual(
      [],
    );
    expect((await notifications(platform, run.executionId, 'escalation'))[0]?.text).toContain('4 instances');
  });
});

describe('the risk score decides approval in context', () => {
  it('the same step runs on its own in dev at noon', async () => {
    // Prepare
    const kube = await cluster();
    const platform = await platformIn('dev', { kube, clock: clockFrom(TUESDAY_NOON) });

    // Act
    const run = await fire(platform, 'CheckoutNeedsCapacity', 'checkout', 'dev');
    const detail = await finished(platform, run.executionId);

    // Assess
    expect(detail.execution.status).toBe('succeeded');
    expect(detail.approvals).toEqual([]);
    expect(await notifications(platform, run.executionId, 'approval-request')).toEqual([]);
    const change = await platform.platform.limits.getRiskAssessment(run.executionId, 'step:scale-out');
    expect(change).toMatchObject({ decision: 'autonomous', score: 33, outcome: 'ran' });
    expect(change?.factors.find((factor) => factor.factor === 'time-of-day')?.points).toBe(0);
    expect(kube.deployments.get('shop/checkout')!.spec!.replicas).toBe(3);
  });

  it('and needs two approvers in prod at 3 am after a failure: the execution waits at the checkpoint, then runs', async () => {
    // Prepare: the runbook failed for this alert before (learning)
    const kube = await cluster();
    const platform = await platformIn('prod', { kube, clock: clockFrom(TUESDAY_3AM) });
    await platform.platform.store.putLearningAggregate(failedOnce(TUESDAY_3AM - 3_600_000));

    // Act
    const run = await fire(platform, 'CheckoutNeedsCapacity', 'checkout', 'prod');
    const [first, second] = await until('two approval e-mails', async () => {
      const sent = await notifications(platform, run.executionId, 'approval-request');
      return sent.length === 2 ? (sent as [Json, Json]) : undefined;
    });
    const page = await (await fetch(first.links[0].url)).text();
    const waiting = await get(platform, `/api/executions/${encodeURIComponent(run.executionId)}`);
    const replicasWhileWaiting = kube.deployments.get('shop/checkout')!.spec!.replicas;
    expect((await decide(first.links[0].url, 'approve')).status).toBe(200);
    const afterOne = kube.deployments.get('shop/checkout')!.spec!.replicas;
    expect((await decide(second.links[0].url, 'approve')).status).toBe(200);
    const detail = await finished(platform, run.executionId);

    // Assess: held for two approvals, the page shows why, and the change ran once both approved
    expect(replicasWhileWaiting).toBe(1);
    expect(afterOne).toBe(1);
    expect(waiting.approvals[0]).toMatchObject({
      requirement: 'risk-policy',
      target: { kind: 'phase', id: 'scale' },
      quorum: 2,
      approvers: ['alice@example.com', 'bob@example.com'],
    });
    expect(first.text).toContain('Risk score:  risk 85 of 100');
    expect(page).toContain('<h2>Risk</h2>');
    expect(page).toContain('<span class="score">85</span>');
    expect(page).toContain('needs two approvals');
    expect(page).toContain('outside business hours');
    expect(page).toContain('1 of 1 run(s) for this alert failed (100%)');
    expect(detail.execution.status).toBe('succeeded');
    expect(kube.deployments.get('shop/checkout')!.spec!.replicas).toBe(3);
    const change = await platform.platform.limits.getRiskAssessment(run.executionId, 'step:scale-out');
    expect(change).toMatchObject({
      decision: 'approve-quorum-2',
      score: 88,
      blastRadius: { kind: 'pod', count: 2 },
      outcome: `approved by ${first.to[0]}, ${second.to[0]}`,
    });
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { controlLinkUrl, newControlLinkNonce } from '../../functions/core/control-links.ts';
import { main } from '../../local/cli.ts';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { FakePrometheus } from '../../local/demo/fake-prometheus.ts';
import type { RunningPlatform } from '../../local/platform.ts';
import { startEmbedded } from '../support/embedded.ts';
import type { Json } from '../support/json.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * People in charge, end to end on the embedded platform over HTTP (dynalite, aws-local-stepfunctions,
 * a simulated cluster): a runbook started by hand with parameters through the same gates as an alert,
 * the signed pause/abort links of its notifications, and a rollback of the finished execution to a
 * chosen step.
 */

const RUNBOOKS_DIR = 'test/fixtures/runbooks/people';
const NODE = 'ip-10-0-2-40.eu-west-1.compute.internal';
const ENVIRONMENT = 'staging';
const CART = { type: 'k8s-deployment', id: 'cart', namespace: 'shop', name: 'cart', kind: 'Deployment' };

interface Environment {
  platform: RunningPlatform;
  kube: FakeKubeApi;
  dataDir: string;
  lines: string[];
  url: string;
}

const started: Array<() => Promise<void>> = [];

beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});

afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
});

async function startEnvironment(): Promise<Environment> {
  const kube = await FakeKubeApi.start({ autoReconcile: true });
  kube.addNode({ name: NODE, usage: { cpu: '200m', memory: '2Gi' } });
  for (const [name, replicas] of [
    ['cart', 2],
    ['search', 1],
  ] as const)
    kube.addDeployment({
      namespace: 'shop',
      name,
      replicas,
      nodes: [NODE],
      containers: [
        { name, requests: { cpu: '100m', memory: '128Mi' }, usage: { cpu: '50m', memory: '64Mi' } },
      ],
    });
  const prometheus = new FakePrometheus();
  await prometheus.start();
  const lines: string[] = [];
  const platform = await startEmbedded({
    runbooksDir: RUNBOOKS_DIR,
    environment: ENVIRONMENT,
    inMemory: false,
    kube,
    prometheusUrl: prometheus.url,
    print: (line) => lines.push(line),
  });
  started.push(async () => {
    await platform.stop();
    await kube.stop();
    await prometheus.stop();
  });
  return { platform, kube, dataDir: platform.dataDir, lines, url: platform.url };
}

async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(new URL(path, url), {
    method,
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Json };
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

const detailOf = async (url: string, id: string) => (await call(url, 'GET', `/api/executions/${id}`)).body;

async function notifications(url: string, executionId: string): Promise<Json[]> {
  return (await call(url, 'GET', `/api/outbox?limit=100&executionId=${encodeURIComponent(executionId)}`)).body
    .notifications as Json[];
}

/** The links of the newest approval e-mail for the execution: decide, pause, abort. */
async function approvalMail(url: string, executionId: string, after = 0) {
  return until('an approval e-mail in the outbox', async () => {
    // alice's copy (each approver gets their own links, sent in no fixed order)
    const mails = (await notifications(url, executionId)).filter(
      (mail) => mail.kind === 'approval-request' && (mail.to as string[]).includes('alice@example.com'),
    );
    if (mails.length <= after) return undefined;
    const mail = mails.sort((a, b) => String(a.sentAt).localeCompare(String(b.sentAt))).at(-1)!;
    const links = mail.links as Array<{ label: string; url: string }>;
    return {
      mail,
      decide: new URL(links.find((link) => link.url.includes('/approvals/'))!.url),
      pause: new URL(links.find((link) => link.url.includes('/pause?'))!.url),
      abort: new URL(links.find((link) => link.url.includes('/abort?'))!.url),
    };
  });
}

async function approve(link: URL) {
  const response = await fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision: 'approve' }).toString(),
  });
  expect(response.status).toBe(200);
}

async function settled(url: string, id: string, statuses: string[]) {
  return until(`${id} to be ${statuses.join(' or ')}`, async () => {
    const detail = await detailOf(url, id);
    return statuses.includes(detail.execution?.status) ? detail : undefined;
  });
}

const replicas = (kube: FakeKubeApi, name: string) => kube.deployments.get(`shop/${name}`)?.spec?.replicas;
const cordoned = (kube: FakeKubeApi) => kube.nodes.get(NODE)?.spec?.unschedulable ?? false;

/** Starts scale-out by hand on shop/cart and approves the cordon: a finished execution with three changes. */
async function finishedRun(env: Environment, parameters: Json = { replicas: 5 }) {
  const start = await call(env.url, 'POST', '/api/runbooks/scale-out/start', {
    resource: CART,
    parameters,
    reason: 'Black Friday traffic',
    by: 'alice@example.com',
  });
  expect(start.status, JSON.stringify(start.body)).toBe(202);
  const executionId = start.body.executionId as string;
  await approve((await approvalMail(env.url, executionId)).decide);
  const detail = await settled(env.url, executionId, ['succeeded', 'failed', 'aborted']).catch((error) => {
    throw new Error(`${(error as Error).message}\n${env.lines.join('\n')}`);
  });
  return { executionId, detail };
}

describe('people in charge on the embedded platform', () => {
  it('starts a runbook by hand for a resource with parameters; the run uses them and skips the alert check', async () => {
    // Prepare
    const env = await startEnvironment();

    // Act
    const { executionId, detail } = await finishedRun(env, { replicas: 5 });

    // Assess: the parameter reached the step, the changes were made, the incident says who asked
    expect(detail.execution.status, env.lines.join('\n')).toBe('succeeded');
    expect(detail.incident.alert).toMatchObject({ source: 'manual', name: 'ManualStart', resource: CART });
    expect(detail.incident.alert.summary).toBe(
      'alice@example.com started scale-out by hand on k8s-deployment cart: Black Friday traffic',
    );
    const resolved = detail.steps.find((step: Json) => step.stepId === 'resource');
    expect(resolved.output.parameters).toMatchObject({ replicas: 5 });
    expect(resolved.output.parameterSources).toMatchObject({ replicas: 'manual', node: 'default' });
    expect(detail.steps.find((step: Json) => step.stepId === 'scale-workload').parameters).toMatchObject({
      namespace: 'shop',
      name: 'cart',
      replicas: 5,
    });
    expect(replicas(env.kube, 'cart')).toBe(5);
    expect(replicas(env.kube, 'search')).toBe(4);
    expect(cordoned(env.kube)).toBe(true);
    expect(detail.approvals).toHaveLength(1);
    expect(detail.steps.find((step: Json) => step.stepId === 'verify-alert-resolved')).toMatchObject({
      status: 'skipped',
      reason: 'started by hand by alice@example.com: no alert to wait for',
    });
    expect(executionId).toMatch(/^scale-out-/);
  });

  it('refuses a manual start the way it refuses an alert: kill switch, environment; bad input names its field', async () => {
    // Prepare
    const env = await startEnvironment();
    const body = { resource: CART, parameters: { replicas: 2 }, by: 'bob@example.com' };

    // Act
    const unknown = await call(env.url, 'POST', '/api/runbooks/no-such-runbook/start', body);
    const outOfBounds = await call(env.url, 'POST', '/api/runbooks/scale-out/start', {
      ...body,
      parameters: { replicas: 50, colour: 'blue' },
    });
    const noResource = await call(env.url, 'POST', '/api/runbooks/scale-out/start', { parameters: {} });
    const otherEnvironment = await call(env.url, 'POST', '/api/runbooks/scale-out/start', {
      ...body,
      environment: 'prod',
    });
    await call(env.url, 'POST', '/api/kill-switch', {
      engaged: true,
      by: 'carol',
      reason: 'incident review',
    });
    const underKillSwitch = await call(env.url, 'POST', '/api/runbooks/scale-out/start', body);
    await call(env.url, 'POST', '/api/kill-switch', { engaged: false, by: 'carol' });
    const allowed = await call(env.url, 'POST', '/api/runbooks/scale-out/start', {
      ...body,
      requestId: 'req-1',
    });
    const again = await call(env.url, 'POST', '/api/runbooks/scale-out/start', {
      ...body,
      requestId: 'req-1',
    });

    // Assess
    expect(unknown.status).toBe(404);
    expect(outOfBounds.status).toBe(400);
    expect(outOfBounds.body.problems).toEqual([
      { path: 'parameters.replicas', message: 'replicas: 50 is above its maximum 10' },
      {
        path: 'parameters.colour',
        message: 'not a parameter of runbook scale-out (it declares replicas, node)',
      },
    ]);
    expect(noResource.status).toBe(400);
    expect(noResource.body.problems).toEqual([expect.objectContaining({ path: 'resource' })]);
    expect(otherEnvironment.status).toBe(409);
    expect(otherEnvironment.body.error).toContain('this deployment serves environment "staging"');
    expect(underKillSwitch.status).toBe(409);
    expect(underKillSwitch.body.error).toMatch(/kill switch engaged by carol.*incident review/);
    expect(allowed.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ decision: 'joined', executionId: allowed.body.executionId });
    const executions = (await call(env.url, 'GET', '/api/executions')).body.executions as Json[];
    expect(executions.map((execution) => execution.id)).toEqual([allowed.body.executionId]);
  });

  it('rolls a finished execution back to a chosen step: later changes undone in reverse, after approval', async () => {
    // Prepare: a run that scaled cart to 5, search to 4 and cordoned the node
    const env = await startEnvironment();
    const { executionId } = await finishedRun(env, { replicas: 5 });
    const mailsBefore = (await notifications(env.url, executionId)).filter(
      (mail) => mail.kind === 'approval-request' && (mail.to as string[]).includes('alice@example.com'),
    ).length;

    // Act: look at the plan, then roll back to after scale-workload (cart stays at 5)
    const plan = await call(env.url, 'GET', `/api/executions/${executionId}/rollback`);
    const requested = await call(env.url, 'POST', `/api/executions/${executionId}/rollback`, {
      rollbackPoint: 'scale-workload',
      reason: 'search does not need it',
      by: 'alice@example.com',
    });
    const second = await call(env.url, 'POST', `/api/executions/${executionId}/rollback`, {
      rollbackPoint: 'start',
    });
    // Undoing the high-risk cordon needs an approval in staging
    const { decide } = await approvalMail(env.url, executionId, mailsBefore);
    await approve(decide);
    const rollback = await until('the rollback to finish', async () => {
      const view = (await call(env.url, 'GET', `/api/executions/${executionId}/rollback`)).body;
      const last = (view.rollbacks as Json[]).at(-1);
      return last && ['succeeded', 'failed', 'rejected', 'refused'].includes(last.status) ? view : undefined;
    });

    // Assess
    expect(plan.status).toBe(200);
    expect(plan.body).toMatchObject({
      canRollBack: true,
      cannotUndo: [],
      approval: { requiredForAll: true },
    });
    expect(plan.body.points).toEqual([
      expect.objectContaining({ id: 'start', undoes: ['cordon-node', 'scale-search', 'scale-workload'] }),
      expect.objectContaining({ id: 'scale-workload', undoes: ['cordon-node', 'scale-search'] }),
      expect.objectContaining({ id: 'scale-search', undoes: ['cordon-node'] }),
      expect.objectContaining({ id: 'cordon-node', undoes: [] }),
    ]);
    expect(requested.status, JSON.stringify(requested.body)).toBe(202);
    expect(requested.body.rollback).toMatchObject({
      rollbackPoint: 'scale-workload',
      requestedBy: 'alice@example.com',
      approval: { required: true, risk: 'high', approverGroups: ['sre-oncall'] },
    });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatch(
      /rollback rb-\w+ of this execution is (requested|awaiting-approval|running)/,
    );
    const done = (rollback.rollbacks as Json[]).at(-1)!;
    expect(done.status, env.lines.join('\n')).toBe('succeeded');
    expect(done.results).toEqual([
      { stepId: 'cordon-node', status: 'compensated' },
      { stepId: 'scale-search', status: 'compensated' },
    ]);
    expect(cordoned(env.kube)).toBe(false);
    expect(replicas(env.kube, 'search')).toBe(1);
    expect(replicas(env.kube, 'cart')).toBe(5);
    const detail = await detailOf(env.url, executionId);
    const compensations = detail.steps.filter((step: Json) => step.kind === 'compensation');
    expect(compensations.map((step: Json) => [step.stepId, step.status])).toEqual([
      ['cordon-node', 'compensated'],
      ['scale-search', 'compensated'],
    ]);
    expect(detail.execution.outcome).toMatchObject({
      status: 'succeeded',
      rolledBack: true,
      rollbackFailed: false,
    });
    expect(detail.approvals.map((approval: Json) => [approval.target.id, approval.status])).toEqual([
      ['cordon-node', 'approved'],
      ['rollback', 'approved'],
    ]);
    // What is left can still be rolled back; what was undone is not offered again
    expect(rollback.points[0]).toMatchObject({ id: 'start', undoes: ['scale-workload'] });
  });

  it('refuses rollbacks that cannot be done: a running execution, an unknown point, nothing left to undo', async () => {
    // Prepare: a run held at its approval (still running), and one finished and rolled back entirely
    const env = await startEnvironment();
    // (on another workload: the runbook's cooldown keeps a second start on cart waiting a second)
    const running = await call(env.url, 'POST', '/api/runbooks/scale-out/start', {
      resource: { ...CART, id: 'search', name: 'search' },
      by: 'alice@example.com',
      requestId: 'held',
    });
    await approvalMail(env.url, running.body.executionId as string);
    const { executionId } = await finishedRun(env, { replicas: 2 });

    // Act
    const whileRunning = await call(
      env.url,
      'POST',
      `/api/executions/${running.body.executionId}/rollback`,
      {},
    );
    const unknownPoint = await call(env.url, 'POST', `/api/executions/${executionId}/rollback`, {
      rollbackPoint: 'no-such-step',
    });
    const lastStep = await call(env.url, 'POST', `/api/executions/${executionId}/rollback`, {
      rollbackPoint: 'cordon-node',
    });

    // Assess
    expect(whileRunning.status).toBe(409);
    expect(whileRunning.body.error).toContain('abort it instead');
    expect(unknownPoint.status).toBe(400);
    expect(unknownPoint.body.problems).toEqual([
      { path: 'rollbackPoint', message: 'no step "no-such-step" ran in this execution' },
    ]);
    expect(lastStep.status).toBe(409);
    expect(lastStep.body.error).toContain('nothing to roll back after cordon-node');
  });

  it('pause and abort links in the approval e-mail: GET shows, POST acts once, a used or expired link refuses', async () => {
    // Prepare: a run waiting for the cordon's approval
    const env = await startEnvironment();
    const start = await call(env.url, 'POST', '/api/runbooks/scale-out/start', {
      resource: CART,
      by: 'alice',
    });
    const executionId = start.body.executionId as string;
    const { mail, pause, abort } = await approvalMail(env.url, executionId);

    // Act
    const page = await fetch(pause);
    const pageText = await page.text();
    const afterGet = await detailOf(env.url, executionId);
    const paused = await call(env.url, 'POST', `${pause.pathname}${pause.search}`, { reason: 'let me look' });
    const pausedAgain = await call(env.url, 'POST', `${pause.pathname}${pause.search}`, {});
    const usedPage = await call(env.url, 'GET', `${pause.pathname}${pause.search}`);
    const tampered = new URL(abort);
    tampered.searchParams.set('to', 'mallory@example.com');
    const forged = await call(env.url, 'POST', `${tampered.pathname}${tampered.search}`, {});
    // An expired link, signed with the platform's own key (kept in its data directory)
    const key = Buffer.from(
      (JSON.parse(readFileSync(join(env.dataDir, 'secrets.json'), 'utf8')) as { linkSigningKey: string })
        .linkSigningKey,
      'base64',
    );
    const expired = new URL(
      controlLinkUrl(
        env.url,
        {
          executionId,
          action: 'abort',
          recipient: 'alice@example.com',
          expiresAt: Math.floor(Date.now() / 1_000) - 1,
          nonce: newControlLinkNonce(),
        },
        key,
      ),
    );
    const tooLate = await call(env.url, 'POST', `${expired.pathname}${expired.search}`, {});
    const aborted = await call(env.url, 'POST', `${abort.pathname}${abort.search}`, {
      reason: 'wrong workload',
    });
    const detail = await settled(env.url, executionId, ['aborted', 'failed', 'succeeded']);
    const abortedAgain = await call(env.url, 'POST', `${abort.pathname}${abort.search}`, {});

    // Assess
    expect(String(mail.text)).toContain('To stop the automation now');
    expect(page.status).toBe(200);
    expect(pageText).toContain('Pause the execution');
    expect(pageText).toContain(executionId);
    expect(afterGet.execution.control.pauseRequested).toBe(false);
    expect(paused.status, JSON.stringify(paused.body)).toBe(202);
    expect(paused.body.execution.control).toMatchObject({
      pauseRequested: true,
      requestedBy: 'alice@example.com (signed link)',
      reason: 'let me look',
    });
    expect(pausedAgain).toMatchObject({ status: 409, body: { reason: 'used' } });
    expect(usedPage.body).toMatchObject({ canAct: false, blocked: 'used' });
    expect(forged).toMatchObject({ status: 403, body: { reason: 'bad-signature' } });
    expect(tooLate).toMatchObject({ status: 410, body: { reason: 'expired' } });
    expect(aborted.status, JSON.stringify(aborted.body)).toBe(202);
    expect(detail.execution.status).toBe('aborted');
    expect(detail.execution.control.requestedBy).toBe('alice@example.com (signed link)');
    expect(abortedAgain.status).toBe(409);
    expect(replicas(env.kube, 'cart')).toBe(2);
    expect(replicas(env.kube, 'search')).toBe(1);
  });

  it('`runbook start` and `runbook rollback` do the same from the command line', async () => {
    // Prepare
    const env = await startEnvironment();
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (line: string) => out.push(line), err: (line: string) => err.push(line), cwd: ROOT };

    // Act
    const code = await main(
      [
        'node',
        'runbook',
        'start',
        'scale-out',
        '--url',
        env.url,
        '--resource',
        'k8s-deployment/cart',
        '--namespace',
        'shop',
        '--name',
        'cart',
        '--param',
        'replicas=4',
        '--reason',
        'from the terminal',
        '--by',
        'dave@example.com',
      ],
      io,
    );
    const executionId = /execution (\S+)/.exec(out.join('\n'))?.[1] ?? '';
    await approve((await approvalMail(env.url, executionId)).decide);
    await settled(env.url, executionId, ['succeeded']);
    const bad = await main(
      [
        'node',
        'runbook',
        'start',
        'scale-out',
        '--url',
        env.url,
        '--resource',
        'nope',
        '--param',
        'replicas=x',
      ],
      io,
    );
    const planCode = await main(['node', 'runbook', 'rollback', executionId, '--url', env.url], io);
    const rollbackCode = await main(
      [
        'node',
        'runbook',
        'rollback',
        executionId,
        '--to',
        'scale-search',
        '--url',
        env.url,
        '--by',
        'dave@example.com',
      ],
      io,
    );

    // Assess
    expect(code, err.join('\n')).toBe(0);
    expect(replicas(env.kube, 'cart')).toBe(4);
    expect(bad).toBe(1);
    expect(err.join('\n')).toContain('--resource: expected <type>/<id>');
    expect(planCode).toBe(0);
    expect(out.join('\n')).toContain('scale-search    undoes cordon-node');
    expect(rollbackCode, err.join('\n')).toBe(0);
    expect(out.join('\n')).toMatch(/rollback rb-\w+ requested: undoes cordon-node; waits for approval/);
  });
});

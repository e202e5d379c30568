import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlHandler } from '../../functions/handlers/control.ts';
import { silentLogger } from '../../functions/ports/logger.ts';
import { dashboardContentSecurityPolicy, stageDashboard } from '../../infra/constructs/dashboard-assets.ts';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { FakePrometheus } from '../../local/demo/fake-prometheus.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { functionUrlEvent } from '../../local/server.ts';
import { CHROMIUM, CHROMIUM_FLAGS, requireChromium } from '../support/browser.ts';
import type { Json } from '../support/json.ts';
import { compiledStatemachinesDir } from '../support/library.ts';
import { startTestIssuer, type TestIssuer, type TestPerson } from '../support/oidc-issuer.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The dashboard as deployed on AWS, in Chromium: the static site (the files `cdk deploy` uploads, with
 * its Content-Security-Policy) and the control API's Lambda handler with sign-in configured, both on
 * loopback; sign-in at a test issuer shaped like Cognito's hosted UI (authorization code + PKCE), whose
 * ID tokens the handler verifies with the issuer's published key. Viewers, approvers and operators see
 * and may do what their group allows; the API refuses the rest whatever the page shows.
 */

const CLIENT_ID = 'dashboard-client-7h3k';
const NODE = 'ip-10-0-2-40.eu-west-1.compute.internal';
const RUNBOOKS_DIR = 'test/fixtures/runbooks/people';

const VIEWER: TestPerson = { email: 'viola@example.com', groups: ['viewers'] };
const OPERATOR: TestPerson = { email: 'omar@example.com', groups: ['operators'] };
// alice is one of staging's sre-oncall approvers (cdk.json).
const APPROVER: TestPerson = { email: 'alice@example.com', groups: ['approvers'] };
const OUTSIDER: TestPerson = { email: 'olga@example.com', groups: ['contractors'] };

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

let temp: string;
let kube: FakeKubeApi;
let prometheus: FakePrometheus;
let platform: RunningPlatform;
let issuer: TestIssuer;
let site: Server;
let siteUrl: string;
let browser: Browser;

/** The static site and the API behind one origin, as CloudFront serves them. */
async function startSite(): Promise<void> {
  const root = stageDashboard(mkdtempSync(join(temp, 'site-')));
  const services = platform.platform.services;
  const runbooks = () => platform.catalog().flatMap((entry) => (entry.runbook ? [entry.runbook] : []));
  const api = createControlHandler({
    control: services.control,
    learning: services.learning,
    audit: platform.platform.audit,
    runbooks,
    logger: silentLogger,
    manualStarts: services.manualStarts,
    rollbacks: services.rollbacks,
    approvals: services.approvals,
    access: {
      auth: {
        issuer: issuer.url,
        audience: CLIENT_ID,
        groupsClaims: ['cognito:groups'],
        roles: { viewers: ['viewers'], approvers: ['approvers'], operators: ['operators'] },
        tokenUse: 'id',
      },
    },
  });
  const csp = dashboardContentSecurityPolicy(issuer.url);
  site = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://site');
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      if (url.pathname.startsWith('/api/')) {
        const result = await api(functionUrlEvent(request, url, Buffer.concat(chunks)), {} as never);
        response.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
        response.end(result.body ?? '');
        return;
      }
      if (url.pathname === '/dashboard-config.json') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            embedded: false,
            environment: 'staging',
            signIn: { authority: issuer.url, clientId: CLIENT_ID, scopes: ['openid', 'email', 'profile'] },
          }),
        );
        return;
      }
      // Paths without a file extension are the page's own routes (CloudFront's function does the same).
      const file = extname(url.pathname) ? url.pathname.slice(1) : 'index.html';
      const path = join(root, file);
      if (!file.split('/').every((part) => part && part !== '..') || !existsSync(path)) {
        response.writeHead(404);
        response.end();
        return;
      }
      response.writeHead(200, {
        'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
        'content-security-policy': csp,
      });
      response.end(readFileSync(path));
    });
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
}

/** A fresh browser profile (its own session), watching for page errors and CSP violations. */
async function signedIn(
  person: TestPerson,
  path = '/',
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript({
    content: `window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) =>
        window.__cspViolations.push(event.violatedDirective + ' blocked ' + event.blockedURI));`,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  issuer.signInAs(person);
  await page.goto(new URL(path, siteUrl).href);
  await page.locator('#session', { hasText: person.email }).waitFor();
  return { context, page, problems };
}

async function expectClean(page: Page, problems: string[]): Promise<void> {
  expect(await page.evaluate<string[]>('window.__cspViolations ?? []')).toEqual([]);
  expect(problems).toEqual([]);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function detail(id: string): Promise<Json> {
  return (await (await fetch(`${platform.url}api/executions/${encodeURIComponent(id)}`)).json()) as Json;
}

async function apiAs(token: string | undefined, method: string, path: string, body?: unknown) {
  const response = await fetch(new URL(path, siteUrl), {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

describe('the dashboard on AWS, signed in, in Chromium', () => {
  beforeAll(async () => {
    requireChromium();
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    temp = mkdtempSync(join(tmpdir(), 'signed-in-browser-'));
    kube = await FakeKubeApi.start({ autoReconcile: true });
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
    prometheus = new FakePrometheus();
    await prometheus.start();
    platform = await startPlatform({
      cwd: ROOT,
      runbooksDir: RUNBOOKS_DIR,
      statemachinesDir: compiledStatemachinesDir(RUNBOOKS_DIR),
      port: 0,
      dataDir: mkdtempSync(join(temp, 'data-')),
      inMemory: true,
      environment: 'staging',
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
    issuer = await startTestIssuer(CLIENT_ID);
    await startSite();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_FLAGS],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
    await issuer?.close();
    await platform?.stop();
    await kube?.stop();
    await prometheus?.stop();
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it('the API refuses a caller without a token, with a forged or expired one, and one in no group', async () => {
    // Act
    const none = await apiAs(undefined, 'GET', '/api/executions');
    const forged = await apiAs(await issuer.forgedToken(OPERATOR), 'GET', '/api/executions');
    const expired = await apiAs(
      await issuer.idToken(OPERATOR, { expiresIn: '-5m' }),
      'GET',
      '/api/executions',
    );
    const otherClient = await apiAs(
      await issuer.idToken(OPERATOR, { audience: 'another-app' }),
      'GET',
      '/api/executions',
    );
    const outsider = await apiAs(await issuer.idToken(OUTSIDER), 'GET', '/api/executions');
    const viewerChange = await apiAs(await issuer.idToken(VIEWER), 'POST', '/api/kill-switch', {
      engaged: true,
    });
    const approverChange = await apiAs(
      await issuer.idToken(APPROVER),
      'POST',
      '/api/runbooks/scale-out/start',
      {
        resource: { type: 'k8s-deployment', id: 'cart' },
      },
    );
    const viewerReads = await apiAs(await issuer.idToken(VIEWER), 'GET', '/api/kill-switch');

    // Assess
    expect(none).toMatchObject({ status: 401, body: { error: expect.stringContaining('sign in first') } });
    expect(forged).toMatchObject({ status: 401, body: { error: expect.stringContaining('signature') } });
    expect(expired).toMatchObject({ status: 401, body: { error: expect.stringContaining('expired') } });
    expect(otherClient).toMatchObject({ status: 401, body: { error: expect.stringContaining('aud') } });
    expect(outsider).toMatchObject({
      status: 403,
      body: { error: expect.stringContaining('none of the groups') },
    });
    expect(viewerChange).toMatchObject({
      status: 403,
      body: { error: 'POST /api/kill-switch needs the operators group; viola@example.com is in viewers' },
    });
    expect(approverChange.status).toBe(403);
    expect(viewerReads).toMatchObject({ status: 200, body: { engaged: false } });
  });

  it('an operator signs in, starts a runbook by hand with a parameter, and an approver approves it in the page', async () => {
    // Prepare: the operator signs in through the issuer (authorization code + PKCE)
    const exchangedBefore = issuer.exchanged;
    const operator = await signedIn(OPERATOR, '/runbooks');

    // Act: Runbooks → Start… → the form → Start
    await operator.page
      .locator('tr', { hasText: 'scale-out' })
      .getByRole('button', { name: 'Start…' })
      .click();
    const dialog = operator.page.locator('dialog');
    await dialog.getByLabel('Resource type').fill('k8s-deployment');
    await dialog.getByLabel('Resource id').fill('cart');
    await dialog.getByLabel('Namespace (Kubernetes)').fill('shop');
    await dialog.getByLabel('Object name').fill('cart');
    await dialog.getByLabel(/^replicas/).fill('6');
    await dialog.getByLabel('Reason').fill('launch day');
    await dialog.getByRole('button', { name: 'Start' }).click();
    await operator.page.waitForURL(/\/executions\/scale-out-/);
    const executionId = decodeURIComponent(new URL(operator.page.url()).pathname.split('/')[2]!);
    // The cordon waits for an approval; an approver signs in and decides in the page
    await until('the approval request', async () =>
      (await detail(executionId)).approvals?.[0]?.status === 'pending' ? true : undefined,
    );
    const approver = await signedIn(APPROVER, `/executions/${encodeURIComponent(executionId)}`);
    await approver.page.getByRole('button', { name: 'Approve…' }).click();
    await approver.page.locator('dialog').getByRole('button', { name: 'Approve' }).click();
    await approver.page.getByText('Approved: the runbook goes on.').waitFor();
    const done = await until('the execution to succeed', async () => {
      const current = await detail(executionId);
      return current.execution.status === 'succeeded' ? current : undefined;
    });
    await operator.page.locator('.exec-head', { hasText: 'succeeded' }).waitFor();

    // Assess
    expect(issuer.exchanged - exchangedBefore).toBe(2);
    expect(await operator.page.locator('#session').textContent()).toContain('operators');
    expect(done.incident.alert.summary).toBe(
      'omar@example.com started scale-out by hand on k8s-deployment cart: launch day',
    );
    expect(done.approvals[0].decisions).toEqual([
      expect.objectContaining({ approver: 'alice@example.com', decision: 'approve' }),
    ]);
    expect(kube.deployments.get('shop/cart')?.spec?.replicas).toBe(6);
    // The approver may decide but not act: the execution's controls are disabled for them
    expect(await approver.page.getByRole('button', { name: 'Roll back…' }).isDisabled()).toBe(true);
    await expectClean(operator.page, operator.problems);
    await expectClean(approver.page, approver.problems);
    await operator.context.close();
    await approver.context.close();
  });

  it('an operator rolls the finished execution back to a chosen step from the page', async () => {
    // Prepare: the execution the previous test finished
    const executions = (await (await fetch(`${platform.url}api/executions`)).json()) as {
      executions: Json[];
    };
    const executionId = executions.executions.find((execution) => execution.status === 'succeeded')!
      .id as string;
    const operator = await signedIn(OPERATOR, `/executions/${encodeURIComponent(executionId)}`);

    // Act: Roll back… → keep everything up to scale-search → undo the cordon (high risk: approval)
    await operator.page.getByRole('button', { name: 'Roll back…' }).click();
    const dialog = operator.page.locator('dialog');
    await dialog.getByLabel('Keep everything up to').selectOption('scale-search');
    await dialog.getByLabel('Reason').fill('the node is needed again');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await operator.page
      .getByText(/rollback rb-\w+ requested: undoes cordon-node; it waits for an approval/)
      .waitFor();
    const approver = await signedIn(APPROVER, `/executions/${encodeURIComponent(executionId)}`);
    const pending = approver.page.locator('article.approval', { hasText: 'roll back 1 change(s)' });
    await pending.getByRole('button', { name: 'Approve…' }).click();
    await approver.page.locator('dialog').getByRole('button', { name: 'Approve' }).click();
    const rollbacks = operator.page.locator('section[aria-labelledby="rollbacks-title"]');
    await rollbacks.locator('.pill', { hasText: 'succeeded' }).first().waitFor({ timeout: 20_000 });

    // Assess
    expect(kube.nodes.get(NODE)?.spec?.unschedulable ?? false).toBe(false);
    expect(kube.deployments.get('shop/search')?.spec?.replicas).toBe(4);
    expect(await rollbacks.textContent()).toContain('omar@example.com: the node is needed again');
    await operator.page.screenshot({ path: join(temp, 'rolled-back.png'), fullPage: true });
    await expectClean(operator.page, operator.problems);
    await expectClean(approver.page, approver.problems);
    await operator.context.close();
    await approver.context.close();
  });

  it('a viewer sees the executions, with every control disabled, and the API refuses what the page would not offer', async () => {
    // Act
    const viewer = await signedIn(VIEWER);
    const row = viewer.page.locator('table.executions tbody tr', { hasText: 'scale-out' }).first();
    await row.waitFor();
    const killSwitch = viewer.page.locator('#kill-toggle');
    await viewer.page.waitForFunction(
      "document.querySelector('#kill-toggle')?.textContent?.includes('Engage')",
    );
    const killSwitchTitle = await killSwitch.getAttribute('title');
    await row.locator('a.row-link').click();
    await viewer.page.waitForURL(/\/executions\//);
    const controls = viewer.page.getByRole('group', { name: 'Execution controls' }).getByRole('button');
    await controls.first().waitFor();
    const disabled = await controls.evaluateAll((buttons) =>
      buttons.map((button) => [button.textContent, (button as unknown as { disabled: boolean }).disabled]),
    );
    // The page's own token, sent by hand: the API decides, not the page.
    const refused = await viewer.page.evaluate<number>(`(async () => {
      const token = sessionStorage.getItem('runbook-autopilot.id-token');
      const response = await fetch('/api/kill-switch', {
        method: 'POST',
        headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
        body: JSON.stringify({ engaged: true, reason: 'from a viewer' }),
      });
      return response.status;
    })()`);

    // Assess
    expect(await killSwitch.isDisabled()).toBe(true);
    expect(killSwitchTitle).toBe('only operators may do this');
    expect(disabled).toEqual([
      ['Pause', true],
      ['Resume', true],
      ['Abort…', true],
      ['Roll back…', true],
    ]);
    expect(refused).toBe(403);
    expect(((await (await fetch(`${platform.url}api/kill-switch`)).json()) as Json).engaged).toBe(false);
    await expectClean(viewer.page, viewer.problems);
    await viewer.context.close();
  });
});

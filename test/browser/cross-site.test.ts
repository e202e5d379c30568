import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { FakePrometheus } from '../../local/demo/fake-prometheus.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { launchChromium, requireChromium } from '../support/browser.ts';
import { memoryPressureCluster, PRESSURED_NODE } from '../support/clusters.ts';
import type { Json } from '../support/json.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from '../support/library.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The attacks of issue 11 in a real browser (Debian's Chromium): a page on another site the operator
 * happens to visit tries to drive the embedded platform (a text/plain POST of an alert, a form post to
 * the kill switch), and a rebinding name (evil.example resolving to 127.0.0.1) tries to read the
 * outbox. Chromium resolves evil.example to 127.0.0.1 (--host-resolver-rules), as a rebinding DNS would.
 * The approval page, opened from its e-mailed link, still decides with one click.
 */

const ENVIRONMENT = 'staging';
const _NODE = PRESSURED_NODE;

let temp: string;
let platform: RunningPlatform;
let kube: FakeKubeApi;
let prometheus: FakePrometheus;
let evil: Server;
let evilPort: number;
let context: BrowserContext;

function alertBody(): Json {
  const body = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
  );
  body.alerts = body.alerts.slice(0, 1);
  body.alerts[0].labels.environment = ENVIRONMENT;
  body.commonLabels.environment = ENVIRONMENT;
  return body;
}

/** The attacker's page: everything a page can send to another origin without the server's consent. */
function attackPage(target: string): string {
  const alert = JSON.stringify(JSON.stringify(alertBody()));
  return `<!doctype html><html><body>
<form id="kill" method="post" action="${target}api/kill-switch" enctype="text/plain" target="sink">
  <input name='{"engaged":true,"reason":"x' value='"}'>
</form>
<iframe name="sink"></iframe>
<script>
  window.results = {};
  (async () => {
    try {
      await fetch('${target}webhooks/alertmanager', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${alert} });
      window.results.webhook = 'sent';
    } catch (error) { window.results.webhook = 'blocked: ' + error.message; }
    try {
      const answer = await fetch('${target}api/outbox');
      window.results.outbox = 'read ' + answer.status;
    } catch (error) { window.results.outbox = 'blocked: ' + error.message; }
    document.getElementById('kill').submit();
    window.results.done = true;
  })();
</script></body></html>`;
}

async function executions(): Promise<Json[]> {
  return ((await (await fetch(`${platform.url}api/executions`)).json()) as Json).executions;
}

async function killSwitchEngaged(): Promise<boolean> {
  return ((await (await fetch(`${platform.url}api/kill-switch`)).json()) as Json).engaged;
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

describe('cross-site attacks on the embedded platform, in Chromium', () => {
  beforeAll(async () => {
    requireChromium();
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    temp = mkdtempSync(join(tmpdir(), 'cross-site-'));
    kube = await memoryPressureCluster({ cartOnly: true });
    prometheus = new FakePrometheus();
    await prometheus.start();
    platform = await startPlatform({
      cwd: ROOT,
      runbooksDir: LIBRARY_RUNBOOKS_DIR,
      statemachinesDir: libraryStatemachinesDir(),
      port: 0,
      dataDir: mkdtempSync(join(temp, 'data-')),
      inMemory: true,
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
      print: () => {},
    });
    evil = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(attackPage(platform.url));
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    evilPort = (evil.address() as { port: number }).port;
    context = await launchChromium(temp, {
      extraFlags: ['--host-resolver-rules=MAP evil.example 127.0.0.1'],
    });
  });

  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => evil?.close(resolve));
    await platform?.stop();
    await kube?.stop();
    await prometheus?.stop();
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it.each([
    ['another site (evil.example)', () => `http://evil.example:${evilPort}/`],
    ['another port of this host (same site)', () => `http://127.0.0.1:${evilPort}/`],
  ])('a page on %s can neither start a remediation nor engage the kill switch', async (_what, origin) => {
    // Prepare
    const before = (await executions()).length;
    const page = await context.newPage();

    // Act
    await page.goto(origin());
    await page.waitForFunction('window.results && window.results.done === true');
    await page.waitForTimeout(500);
    const results = (await page.evaluate('window.results')) as Json;
    await page.close();

    // Assess: what the browser let through reached a server that refused it
    expect(results.outbox).toMatch(/^blocked/);
    expect((await executions()).length).toBe(before);
    expect(await killSwitchEngaged()).toBe(false);
  });

  it('a rebinding name (evil.example on the platform’s port) reads nothing', async () => {
    // Prepare
    const port = new URL(platform.url).port;
    const page = await context.newPage();

    // Act
    const outbox = await page.goto(`http://evil.example:${port}/api/outbox`);
    const text = await page.textContent('body');
    await page.close();

    // Assess
    expect(outbox?.status()).toBe(403);
    expect(text).not.toContain('notifications');
    expect(text).toContain('--allowed-host');
  });

  it('the approval page opened from its e-mailed link approves with one click', async () => {
    // Prepare: an alert whose runbook asks for approval after its diagnosis
    const posted = (await (
      await fetch(`${platform.url}webhooks/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alertBody()),
      })
    ).json()) as Json;
    const executionId: string = posted.results[0].result.executionId;
    const link = await until('the approval e-mail', async () => {
      const outbox = (await (
        await fetch(`${platform.url}api/outbox?executionId=${encodeURIComponent(executionId)}`)
      ).json()) as Json;
      return outbox.notifications.find((notification: Json) => notification.kind === 'approval-request')
        ?.links[0]?.url as string | undefined;
    });
    const page = await context.newPage();
    page.setDefaultTimeout(8_000);

    // Act
    await page.goto(link);
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForLoadState();
    const notice = await page.locator('.notice').first().textContent();
    await page.close();

    // Assess
    expect(notice).toContain('Approved. The runbook continues.');
  });
});

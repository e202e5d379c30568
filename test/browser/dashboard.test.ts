import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { launchChromium, requireChromium } from '../support/browser.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from '../support/library.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The dashboard in a real browser (Debian's Chromium) against the real embedded platform, driven only
 * over HTTP. Every page is watched for console errors, uncaught exceptions and CSP violations.
 */

const TOKEN = 'browser-test-token-5d1c';
const HOSTILE_SUMMARY = '<img src=x onerror="window.__injected=1"> Node ip-10-0-1-23 has memory pressure.';

interface Watched {
  page: Page;
  problems: string[];
}

/**
 * Opens a page that records console errors, page errors and CSP violations. `expectedStatuses` are
 * API answers the test provokes on purpose (Chromium logs every 4xx fetch as a console error).
 */
async function openPage(context: BrowserContext, expectedStatuses: number[] = []): Promise<Watched> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const text = message.text();
    const status = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text);
    if (status && expectedStatuses.includes(Number(status[1])) && message.location().url.includes('/api/'))
      return;
    problems.push(`console ${message.type()}: ${text} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { page, problems };
}

async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate<string[]>('window.__cspViolations ?? []');
}

async function expectClean(watched: Watched): Promise<void> {
  expect(await cspViolations(watched.page)).toEqual([]);
  expect(watched.problems).toEqual([]);
}

async function killSwitch(platform: RunningPlatform): Promise<{ engaged: boolean; reason?: string }> {
  return (await (await fetch(`${platform.url}api/kill-switch`)).json()) as {
    engaged: boolean;
    reason?: string;
  };
}

function alertmanagerBody(): unknown {
  const text = readFileSync(
    join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'),
    'utf8',
  );
  const body = JSON.parse(text) as {
    commonLabels: Record<string, string>;
    alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string> }>;
  };
  body.commonLabels.environment = 'dev';
  for (const alert of body.alerts) alert.labels.environment = 'dev';
  // Markup in data must show as text, never become elements.
  body.alerts[0]!.annotations.summary = HOSTILE_SUMMARY;
  return body;
}

function platformOptions(dataDir: string, token?: string) {
  return {
    cwd: ROOT,
    runbooksDir: LIBRARY_RUNBOOKS_DIR,
    statemachinesDir: libraryStatemachinesDir(),
    port: 0,
    dataDir,
    inMemory: true,
    environment: 'dev',
    live: true,
    print: () => {},
    ...(token ? { token } : {}),
  };
}

describe('dashboard in Chromium', () => {
  let temp: string;
  let platform: RunningPlatform;
  let context: BrowserContext;
  let executionId: string;

  beforeAll(async () => {
    requireChromium();
    temp = mkdtempSync(join(tmpdir(), 'dashboard-browser-'));
    platform = await startPlatform(platformOptions(mkdtempSync(join(temp, 'data-'))));
    // Playwright refuses --user-data-dir in `args`; a persistent context is how a fresh profile of ours is used.
    context = await launchChromium(temp);
    // Runs in every page before its own scripts: CSP violations are collected where the test can read them.
    await context.addInitScript({
      content: `window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (event) =>
          window.__cspViolations.push(event.violatedDirective + ' blocked ' + event.blockedURI));`,
    });
  });

  afterAll(async () => {
    await context?.close();
    await platform?.stop();
    if (temp && process.env.KEEP_BROWSER_ARTIFACTS !== '1') rmSync(temp, { recursive: true, force: true });
    else if (temp) console.log(`browser test artifacts kept in ${temp}`);
  });

  it('serves the page with its CSP and no inline script', async () => {
    const response = await fetch(platform.url);
    const html = await response.text();

    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/\son[a-z]+=/);
  });

  it('lists a new execution within seconds and shows its failed step and error', async () => {
    const watched = await openPage(context);
    const { page } = watched;
    await page.goto(platform.url);
    await page.getByText('No executions yet').waitFor({ timeout: 5_000 });
    await page.screenshot({ path: join(temp, 'empty.png') });

    const posted = await fetch(`${platform.url}webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alertmanagerBody()),
    });
    expect(posted.status).toBe(202);
    const row = page.locator('table.executions tbody tr', { hasText: 'ip-10-0-1-23' });
    await row.waitFor({ timeout: 5_000 });
    await row.locator('.pill', { hasText: /failed/i }).waitFor({ timeout: 5_000 });
    expect(await row.textContent()).toContain('KubeNodeMemoryPressure');
    // The page about the failed step (the final follow-up notice may be listed beside it).
    await page.locator('.notifications .notification.kind-escalation', { hasText: 'ip-10-0-1-23' }).waitFor();
    await page.screenshot({ path: join(temp, 'executions.png'), fullPage: true });

    await row.locator('td').nth(2).click();
    await page.waitForURL(/\/executions\/node-memory-pressure-/);
    executionId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]!);
    const failedStep = page.locator('.timeline .step-failed', { hasText: 'node-registered' });
    await failedStep.waitFor({ timeout: 5_000 });
    const error = failedStep.locator('details.error-details');

    expect(await error.locator('summary').textContent()).toContain('Runbook.ToolFailed');
    expect(await error.locator('pre').isVisible()).toBe(true);
    // The step's error as the API recorded it (it names what was missing on this machine).
    const detail = (await (await fetch(`${platform.url}api/executions/${executionId}`)).json()) as {
      steps: Array<{ stepId: string; error?: { message: string } }>;
    };
    const recorded = detail.steps.find((step) => step.stepId === 'node-registered')?.error?.message;
    expect(recorded).toMatch(/^step node-registered: k8s\.node-resources: /);
    expect(await error.locator('pre').textContent()).toContain(recorded);
    expect(await page.locator('.exec-head').textContent()).toMatch(/node-memory-pressure.*failed/i);
    expect(await page.getByText(HOSTILE_SUMMARY, { exact: true }).isVisible()).toBe(true);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate('window.__injected')).toBeUndefined();
    await failedStep.locator('summary', { hasText: 'Parameters' }).click();
    expect(await failedStep.locator('pre.json').first().textContent()).toContain('"node"');
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(temp, 'execution.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(temp, 'execution-phone.png'), fullPage: true });
    await expectClean(watched);
    await page.close();
  });

  it('shows the API’s 409 when aborting a finished execution', async () => {
    expect(executionId, 'the list test opens the execution first').toBeDefined();
    const watched = await openPage(context, [409]);
    const { page } = watched;
    await page.goto(`${platform.url}executions/${encodeURIComponent(executionId)}`);
    await page.locator('.timeline .step-failed').waitFor({ timeout: 5_000 });

    await page.getByRole('button', { name: 'Abort…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Abort this execution?' });
    await dialog.getByLabel('Reason').fill('browser test');
    await dialog.getByRole('button', { name: 'Abort execution' }).click();
    const result = page.locator('.action-result.error');
    await result.waitFor({ timeout: 5_000 });

    expect(await result.textContent()).toContain(`409`);
    expect(await result.textContent()).toContain(
      `execution ${executionId} already failed; nothing to change`,
    );
    expect(await dialog.count()).toBe(0);
    await expectClean(watched);
  });

  it('saves the incident report from the Report link on the execution page, markup escaped', async () => {
    expect(executionId, 'the list test opens the execution first').toBeDefined();
    const watched = await openPage(context);
    const { page } = watched;
    await page.goto(`${platform.url}executions/${encodeURIComponent(executionId)}`);
    const link = page.locator('.exec-head #report-link');
    await link.waitFor({ timeout: 5_000 });

    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const file = join(temp, 'report.md');
    await download.saveAs(file);
    const markdown = readFileSync(file, 'utf8');

    expect(download.suggestedFilename()).toBe(`incident-report-${executionId}.md`);
    expect(markdown).toMatch(/^# Incident report: /);
    expect(markdown).toContain('| Name | KubeNodeMemoryPressure |');
    expect(markdown).toContain('## Timeline');
    expect(markdown).toContain('&lt;img src=x onerror=');
    expect(markdown).not.toContain('<img');
    await expectClean(watched);
    await page.close();
  });

  it('engages and releases the kill switch from the header, and the API agrees', async () => {
    const watched = await openPage(context);
    const { page } = watched;
    await page.goto(platform.url);
    const state = page.locator('#kill-state');
    await page.locator('#kill-state[data-engaged="false"]').waitFor({ timeout: 5_000 });

    // Escape cancels: nothing changes.
    await page.getByRole('button', { name: 'Engage kill switch' }).click();
    await page.keyboard.press('Escape');
    expect(await page.getByRole('dialog').count()).toBe(0);
    expect((await killSwitch(platform)).engaged).toBe(false);

    // Keyboard only: focus the button, Enter, type the reason, Enter.
    await page.getByRole('button', { name: 'Engage kill switch' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Engage the kill switch?' }).waitFor();
    await page.keyboard.type('browser test: hands off');
    await page.keyboard.press('Enter');
    await page.locator('#kill-state[data-engaged="true"]').waitFor({ timeout: 5_000 });

    expect(await state.textContent()).toBe('Kill switch ENGAGED: browser test: hands off');
    expect(await page.locator('#topbar.engaged').count()).toBe(1);
    await page.screenshot({ path: join(temp, 'kill-switch-engaged.png') });
    const engaged = await killSwitch(platform);
    expect(engaged).toMatchObject({ engaged: true, reason: 'browser test: hands off' });

    await page.getByRole('button', { name: 'Release kill switch' }).click();
    await page
      .getByRole('dialog', { name: 'Release the kill switch?' })
      .getByRole('button', { name: 'Release kill switch' })
      .click();
    await page.locator('#kill-state[data-engaged="false"]').waitFor({ timeout: 5_000 });

    expect(await state.textContent()).toBe('Kill switch released');
    expect((await killSwitch(platform)).engaged).toBe(false);
    await expectClean(watched);
  });

  it('lists the six runbooks and renders a graph with mermaid', async () => {
    const watched = await openPage(context);
    const { page } = watched;
    await page.goto(platform.url);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Runbooks' }).click();
    await page.waitForURL(/\/runbooks$/);
    const rows = page.locator('table.runbooks tbody tr');
    await rows.first().waitFor({ timeout: 5_000 });

    expect(await rows.count()).toBe(6);
    expect(await page.locator('table.runbooks .pill', { hasText: 'valid' }).count()).toBe(6);
    expect(await rows.filter({ hasText: 'node-memory-pressure' }).textContent()).toMatch(/1\.0\.0.*dev/);

    await rows.filter({ hasText: 'node-memory-pressure' }).getByRole('link').click();
    await page.waitForURL(/\/runbooks\?id=node-memory-pressure$/);
    const svg = page.locator('.graph-scroll svg');
    await svg.waitFor({ timeout: 15_000 });

    expect(await svg.locator('.node').count()).toBeGreaterThan(10);
    expect(await svg.textContent()).toContain('node-registered');
    await page.screenshot({ path: join(temp, 'runbooks.png'), fullPage: true });
    await expectClean(watched);
  });

  it('shows the design targets as measured on the learning page', async () => {
    const watched = await openPage(context);
    const { page } = watched;
    await page.goto(platform.url);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Learning' }).click();
    const targets = page.locator('table.targets tbody tr');
    await targets.first().waitFor({ timeout: 5_000 });

    expect(await targets.count()).toBe(7);
    expect(await targets.filter({ hasText: 'safety incidents' }).textContent()).toMatch(
      /none in 90 days.*met/,
    );
    expect(await targets.first().textContent()).toMatch(
      /runs that succeed with no human.*≥ 90%.*0\.0%.*not met/,
    );
    expect(await targets.filter({ hasText: 'rollbacks that succeed' }).textContent()).toContain('no data');
    expect(await page.locator('table.learning-runbooks tbody tr').textContent()).toMatch(
      /node-memory-pressure\s*2/,
    );
    await page.screenshot({ path: join(temp, 'learning.png'), fullPage: true });
    await expectClean(watched);
  });

  it('shows coverage: the catalog against the served runbooks, and the unmatched alerts actually seen', async () => {
    // Prepare: an alert no runbook takes
    const unmatched = await fetch(`${platform.url}webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...(alertmanagerBody() as Record<string, unknown>),
        alerts: [
          {
            status: 'firing',
            labels: {
              alertname: 'OrdersQueueStalled',
              namespace: 'shop',
              service: 'orders',
              environment: 'dev',
            },
            annotations: { summary: 'orders queue stalled' },
            startsAt: '2026-11-25T10:00:00Z',
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: 'http://prometheus:9090/graph',
            fingerprint: '0f0e0d0c0b0a0908',
          },
        ],
      }),
    });
    expect(unmatched.status).toBe(202);
    const watched = await openPage(context);
    const { page } = watched;

    // Act
    await page.goto(platform.url);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Coverage' }).click();
    const seen = page.locator('table.unmatched-seen tbody tr', { hasText: 'OrdersQueueStalled' });
    await seen.waitFor({ timeout: 5_000 });

    // Assess: the same figures as the API (and as `runbook coverage`)
    const report = (await (await fetch(`${platform.url}api/coverage`)).json()) as {
      totals: { alerts: number; taken: number; remediationList: { alerts: number } };
      rows: Array<{ alert: string; decision: string; runbookId?: string }>;
    };
    expect(report.totals.alerts).toBe(179);
    expect(await page.locator('section[aria-label="Totals"]').textContent()).toContain(
      `${report.totals.taken} of ${report.totals.alerts}`,
    );
    const crashLoop = page.locator('table.coverage-rows tbody tr', { hasText: 'KubePodCrashLooping' });
    expect(await crashLoop.textContent()).toMatch(/remediation.*pod-crash-looping/);
    await page.getByRole('button', { name: 'unmatched', exact: true }).click();
    const shown = page.locator('table.coverage-rows tbody tr');
    expect(await shown.count()).toBe(report.rows.filter((row) => row.decision === 'unmatched').length);
    await page.screenshot({ path: join(temp, 'coverage.png'), fullPage: true });
    await expectClean(watched);
  });

  it('asks for the token once on a token-protected server, then works', async () => {
    const secured = await startPlatform(platformOptions(mkdtempSync(join(temp, 'data-')), TOKEN));
    try {
      const watched = await openPage(context, [401]);
      const { page } = watched;
      await page.goto(secured.url);
      const dialog = page.getByRole('dialog', { name: 'API token' });
      await dialog.waitFor({ timeout: 5_000 });
      // Three requests got a 401 at once; they share one question.
      expect(await page.getByRole('dialog').count()).toBe(1);
      await page.screenshot({ path: join(temp, 'token.png') });
      await dialog.getByLabel('Token').fill(TOKEN);
      await dialog.getByRole('button', { name: 'Use token' }).click();
      await page.getByText('No executions yet').waitFor({ timeout: 5_000 });
      await page.locator('#kill-state[data-engaged="false"]').waitFor({ timeout: 5_000 });

      expect(await page.getByRole('dialog').count()).toBe(0);
      expect(
        await page.evaluate<string | null>("sessionStorage.getItem('runbook-autopilot.api-token')"),
      ).toBe(TOKEN);
      await page.reload();
      await page.locator('#kill-state[data-engaged="false"]').waitFor({ timeout: 5_000 });
      await page.getByText('Nothing sent yet.').waitFor({ timeout: 5_000 });
      expect(await page.getByRole('dialog').count()).toBe(0);
      await expectClean(watched);
    } finally {
      await secured.stop();
    }
  });
});

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
 * The dashboard's audit trail in a real browser (Debian's Chromium) against the embedded platform:
 * the kill switch flipped from the header is found on the platform's trail with where it was flipped
 * from, an execution's page shows its trail in order, the audit view queries by execution, person and
 * platform, exports JSON lines, and shows the API's 400 for a bad query. Console errors, page errors
 * and CSP violations fail the test.
 */

interface Watched {
  page: Page;
  problems: string[];
}

async function openPage(context: BrowserContext, expectedStatuses: number[] = []): Promise<Watched> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const status = /status of (\d{3})/.exec(message.text());
    if (status && expectedStatuses.includes(Number(status[1])) && message.location().url.includes('/api/'))
      return;
    problems.push(`console ${message.type()}: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { page, problems };
}

async function expectClean(watched: Watched): Promise<void> {
  expect(await watched.page.evaluate<string[]>('window.__cspViolations ?? []')).toEqual([]);
  expect(watched.problems).toEqual([]);
}

describe('the audit trail in the dashboard (Chromium)', () => {
  let temp: string;
  let platform: RunningPlatform;
  let context: BrowserContext;
  let executionId: string;

  beforeAll(async () => {
    requireChromium();
    temp = mkdtempSync(join(tmpdir(), 'dashboard-audit-'));
    platform = await startPlatform({
      cwd: ROOT,
      runbooksDir: LIBRARY_RUNBOOKS_DIR,
      statemachinesDir: libraryStatemachinesDir(),
      port: 0,
      dataDir: mkdtempSync(join(temp, 'data-')),
      inMemory: true,
      environment: 'dev',
      live: true,
      print: () => {},
    });
    context = await launchChromium(temp, { acceptDownloads: true });
    await context.addInitScript({
      content: `window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (event) =>
          window.__cspViolations.push(event.violatedDirective + ' blocked ' + event.blockedURI));`,
    });
    // An alert whose runbook fails its prerequisite here (no cluster): a short, finished trail.
    const body = JSON.parse(
      readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
    ) as { commonLabels: Record<string, string>; alerts: Array<{ labels: Record<string, string> }> };
    body.commonLabels.environment = 'dev';
    for (const alert of body.alerts) alert.labels.environment = 'dev';
    body.alerts = body.alerts.slice(0, 1);
    const posted = (await (
      await fetch(`${platform.url}webhooks/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as { results: Array<{ result: { executionId: string } }> };
    executionId = posted.results[0]!.result.executionId;
    for (let waited = 0; waited < 10_000; waited += 100) {
      const detail = (await (await fetch(`${platform.url}api/executions/${executionId}`)).json()) as {
        execution: { status: string };
      };
      if (detail.execution.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await platform?.stop();
    if (temp && process.env.KEEP_BROWSER_ARTIFACTS !== '1') rmSync(temp, { recursive: true, force: true });
    else if (temp) console.log(`browser test artifacts kept in ${temp}`);
  });

  it('shows an execution’s trail on its page, in order, with who decided', async () => {
    // Act
    const watched = await openPage(context);
    const { page } = watched;
    await page.goto(`${platform.url}executions/${encodeURIComponent(executionId)}`);
    const rows = page.locator('table.audit tbody tr');
    await page.locator('table.audit tr[data-kind="execution.finished"]').waitFor({ timeout: 10_000 });
    const kinds = await rows.evaluateAll((elements) =>
      elements.map((element) => element.getAttribute('data-kind')),
    );
    // Assess
    expect(kinds.slice(0, 4)).toEqual([
      'alert.received',
      'runbook.selected',
      'gate.verdict',
      'execution.started',
    ]);
    expect(kinds.at(-1)).toBe('execution.finished');
    expect(await page.locator('#audit-trail-title').textContent()).toBe(`Audit trail (${kinds.length})`);
    const selection = page.locator('table.audit tr[data-kind="runbook.selected"]');
    expect(await selection.textContent()).toContain('selected node-memory-pressure');
    expect(await selection.textContent()).toContain('classifier');
    await selection.locator('summary', { hasText: 'details' }).click();
    expect(await selection.locator('pre.json').textContent()).toContain('"score"');
    expect(await page.locator('table.audit tr[data-kind="execution.finished"]').textContent()).toContain(
      'execution failed',
    );
    await page.screenshot({ path: join(temp, 'execution-audit.png'), fullPage: true });
    await expectClean(watched);
    await page.close();
  });

  it('records the kill switch flipped from the header, with the dashboard and address it came from', async () => {
    // Prepare
    const watched = await openPage(context);
    const { page } = watched;
    await page.goto(platform.url);
    await page.locator('#kill-state[data-engaged="false"]').waitFor({ timeout: 5_000 });
    // Act: engage and release from the header
    await page.getByRole('button', { name: 'Engage kill switch' }).click();
    await page.getByRole('dialog', { name: 'Engage the kill switch?' }).waitFor();
    await page.keyboard.type('audit browser test');
    await page.keyboard.press('Enter');
    await page.locator('#kill-state[data-engaged="true"]').waitFor({ timeout: 5_000 });
    await page.getByRole('button', { name: 'Release kill switch' }).click();
    await page
      .getByRole('dialog', { name: 'Release the kill switch?' })
      .getByRole('button', { name: 'Release kill switch' })
      .click();
    await page.locator('#kill-state[data-engaged="false"]').waitFor({ timeout: 5_000 });
    // the audit view, from the header's navigation, on the platform's trail
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.waitForURL(/\/audit$/);
    await page.getByLabel('Of').selectOption('platform');
    await page.getByRole('button', { name: 'Show' }).click();
    const rows = page.locator('table.audit tbody tr');
    await rows.nth(1).waitFor({ timeout: 5_000 });
    // Assess
    expect(
      await rows.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-kind'))),
    ).toEqual(['kill-switch.engaged', 'kill-switch.released']);
    expect(await rows.nth(0).textContent()).toContain('audit browser test');
    expect(await rows.nth(0).locator('.audit-source').textContent()).toMatch(/dashboard · 127\.0\.0\.1/);
    expect(new URL(page.url()).search).toBe('?platform=true');
    const api = (await (await fetch(`${platform.url}api/audit?platform=true`)).json()) as {
      events: Array<{ actor: { source: { channel: string; userAgent: string } } }>;
    };
    expect(api.events[0]?.actor.source).toMatchObject({
      channel: 'dashboard',
      userAgent: expect.stringMatching(/Chrome/),
    });
    await expectClean(watched);
    await page.close();
  });

  it('queries by execution and exports the trail as JSON lines, one event per line', async () => {
    // Prepare
    const watched = await openPage(context);
    const { page } = watched;
    await page.goto(`${platform.url}audit?execution=${encodeURIComponent(executionId)}`);
    const rows = page.locator('table.audit tbody tr');
    await page.locator('table.audit tr[data-kind="execution.finished"]').waitFor({ timeout: 5_000 });
    const shown = await rows.count();
    // Act
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export JSON lines' }).click(),
    ]);
    const file = join(temp, 'export.jsonl');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    // Assess
    expect(download.suggestedFilename()).toMatch(/^audit-execution-.*\.jsonl$/);
    expect(lines).toHaveLength(shown);
    expect(lines.map((line) => (JSON.parse(line) as { executionId: string }).executionId)).toEqual(
      Array.from({ length: shown }, () => executionId),
    );
    expect(await page.locator('[role="status"]', { hasText: 'event(s)' }).textContent()).toBe(
      `${shown} event(s), oldest first`,
    );
    await expectClean(watched);
    await page.close();
  });

  it('shows the API’s 400 for a bad query, and works on a phone', async () => {
    // Prepare
    const watched = await openPage(context, [400]);
    const { page } = watched;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${platform.url}audit`);
    // Act
    await page.getByLabel('Of').selectOption('actor');
    await page.getByLabel('Which').fill('operator');
    await page.getByLabel('Since').fill('yesterday');
    await page.getByRole('button', { name: 'Show' }).click();
    const error = page.locator('.inline-error');
    await error.waitFor({ timeout: 5_000 });
    // Assess
    expect(await error.textContent()).toMatch(/400 .*since: expected an ISO 8601 date-time/);
    await page.getByLabel('Since').fill('');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.locator('table.audit tbody tr').nth(1).waitFor({ timeout: 5_000 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(temp, 'audit-phone.png'), fullPage: true });
    await expectClean(watched);
    await page.close();
  });
});

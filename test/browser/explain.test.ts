import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, requireChromium } from '../support/browser.ts';
import {
  approvalMail,
  type ExplainEnvironment,
  fire,
  release,
  startExplainEnvironment,
} from '../support/explain-scenario.ts';

/**
 * The execution view's Likely cause panel in a real browser (Debian's Chromium) against the embedded
 * platform: a release 3 minutes before the alert is the conclusion, its evidence folds out, and the
 * rollback waiting for approval has its prediction. Console errors and CSP violations fail the test.
 */

describe('the Likely cause panel in Chromium', () => {
  let temp: string;
  let environment: ExplainEnvironment;
  let context: BrowserContext;

  beforeAll(async () => {
    requireChromium();
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    temp = mkdtempSync(join(tmpdir(), 'explain-browser-'));
    environment = await startExplainEnvironment();
    context = await launchChromium(temp);
    await context.addInitScript({
      content: `window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (event) =>
          window.__cspViolations.push(event.violatedDirective + ' blocked ' + event.blockedURI));`,
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await environment?.stop();
    if (temp && process.env.KEEP_BROWSER_ARTIFACTS !== '1') rmSync(temp, { recursive: true, force: true });
    else if (temp) console.log(`browser test artifacts kept in ${temp}`);
  });

  it('shows the likely cause first, its evidence on demand, and the waiting step’s prediction', async () => {
    // Prepare: the release 4 minutes ago, the alert a minute ago; the rollback waits for approval
    release(environment.kube, 'shop/checkout:2.0.0', 4);
    const executionId = await fire(
      environment.url,
      'fp-checkout-browser',
      new Date(Date.now() - 60_000).toISOString(),
    );
    const mail = await approvalMail(environment.url, executionId, 'alice@example.com');
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));

    // Act
    await page.goto(`${environment.url}executions/${encodeURIComponent(executionId)}`);
    const panel = page.locator('[data-panel="likely-cause"]');
    await panel.waitFor({ timeout: 10_000 });
    const heading = await panel.locator('h2').textContent();
    const top = await panel.locator('.cause').first().locator('.conclusion').textContent();
    const evidenceHiddenBefore = await panel.locator('.cause').first().locator('details ul').isVisible();
    await panel.locator('.cause').first().locator('summary').click();
    const evidence = await panel.locator('.cause').first().locator('details ul').textContent();
    const prediction = page.locator('[data-panel="predictions"] tr[data-step="rollout-undo"]');
    const predicted = await prediction.textContent();
    const panels = await page
      .locator('section.panel h2')
      .evaluateAll((headings) => headings.map((element) => element.textContent ?? ''));
    await page.screenshot({ path: join(temp, 'likely-cause.png'), fullPage: true });

    // Assess
    expect(heading).toBe('Likely cause');
    expect(top).toBe(
      'Deployment shop/checkout was deployed (revision 2, image shop/checkout:2.0.0); that was 3 minutes before the alert started.',
    );
    expect(evidenceHiddenBefore).toBe(false);
    expect(evidence).toContain('steps.history.output.revisions[0]');
    expect(evidence).toContain('imageTo="shop/checkout:2.0.0"');
    expect(predicted).toContain('Roll back to the previous revision');
    expect(predicted).toContain('50% (');
    expect(predicted).toContain('no history yet, prior only (an even prior)');
    // The conclusion comes before the steps' raw record.
    expect(panels.indexOf('Likely cause')).toBeLessThan(
      panels.findIndex((text) => text.startsWith('Steps (')),
    );
    expect(await page.evaluate<string[]>('window.__cspViolations ?? []')).toEqual([]);
    expect(problems).toEqual([]);

    // The approval page on a phone: the same conclusion on top, the prediction beside the risk, neither wider than the screen
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(mail.links[0].url);
    const onPage = await page.locator('#likely-cause .conclusion').first().textContent();
    const besideRisk = await page
      .locator('.beside > section')
      .evaluateAll((sections) => sections.map((section) => section.id));
    const widest = await page.evaluate<number>(
      `Math.max(...[...document.querySelectorAll('#likely-cause *, #risk *, #prediction *')].map((element) => element.getBoundingClientRect().right))`,
    );
    // Nothing on the page (the plan's parameters included) makes the phone scroll sideways.
    const pageWidth = await page.evaluate<number>('document.documentElement.scrollWidth');
    await page.screenshot({ path: join(temp, 'approval-phone.png'), fullPage: true });
    expect(onPage).toBe(top);
    expect(besideRisk).toEqual(['risk', 'prediction']);
    expect(widest).toBeLessThanOrEqual(390);
    expect(pageWidth).toBeLessThanOrEqual(390);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});

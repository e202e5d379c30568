import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AutomationRun } from '../../functions/core/automation/evidence.ts';
import type { RunningPlatform } from '../../local/platform.ts';
import { launchChromium, requireChromium } from '../support/browser.ts';
import { startEmbedded } from '../support/embedded.ts';
import type { Json } from '../support/json.ts';

/**
 * The Learning page's automation levels in Chromium against the embedded platform: a promotion the
 * evidence proposes is applied by a person's click, recorded with who and from where.
 */

const RUNBOOKS_DIR = 'test/fixtures/runbooks/automation';
const RUNBOOK = 'automation-scale';

describe('automation levels on the dashboard', () => {
  let temp: string;
  let platform: RunningPlatform;
  let context: BrowserContext;

  beforeAll(async () => {
    requireChromium();
    temp = mkdtempSync(join(tmpdir(), 'automation-browser-'));
    platform = await startEmbedded({ runbooksDir: RUNBOOKS_DIR, dataDir: mkdtempSync(join(temp, 'data-')) });
    context = await launchChromium(temp);
  });

  afterAll(async () => {
    await context?.close();
    await platform?.stop();
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it('shows the proposal with its evidence, and the Promote button applies it as the person who clicked', async () => {
    // Prepare: a person lowered the runbook to approve; ten verified runs at approve followed
    const lowered = await fetch(new URL(`api/automation/${RUNBOOK}/level`, platform.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ level: 'approve', by: 'carol@example.com' }),
    });
    expect(lowered.status).toBe(200);
    const from = Date.now();
    for (let index = 1; index <= 10; index++) {
      const run: AutomationRun = {
        executionId: `exec-${index}`,
        runbookId: RUNBOOK,
        environment: 'staging',
        signature: 'WorkloadNeedsReplicas on k8s-deployment',
        incidentId: `inc-${index}`,
        level: 'approve',
        mode: 'real',
        startedAt: new Date(from + index * 1_000).toISOString(),
        stoppedAt: new Date(from + index * 1_000 + 500).toISOString(),
        status: 'succeeded',
        verdict: 'succeeded',
        involvement: 'approval-only',
        involvementReasons: ['approved by alice@example.com'],
        approvalsApproved: 1,
        diagnosticsSucceeded: true,
        changesValidated: true,
        wouldHaveChanged: [],
      };
      await platform.platform.automationStore.putRun(run);
    }
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));

    // Act: the Learning page, the row, the button, the dialog
    await page.goto(new URL('learning', platform.url).toString());
    const row = page.locator(`table.automation-levels tr[data-runbook="${RUNBOOK}"]`);
    await row.waitFor({ timeout: 10_000 });
    const before = await row.textContent();
    await row.getByRole('button', { name: 'Promote' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Your name or e-mail (recorded)').fill('dana@example.com');
    await dialog.getByLabel('Reason (optional)').fill('ten clean runs');
    await dialog.getByRole('button', { name: 'Promote to autonomous' }).click();
    const detail = await (async () => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const body = (await (await fetch(new URL(`api/automation/${RUNBOOK}`, platform.url))).json()) as Json;
        if (body.effective.level === 'autonomous') return body;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('the promotion never landed');
    })();
    await page
      .locator(`table.automation-levels tr[data-runbook="${RUNBOOK}"]`, { hasText: 'autonomous' })
      .waitFor();

    // Assess
    expect(before).toContain('approve');
    expect(before).toContain('10 of 10 verified');
    expect(before).toContain('approve → autonomous');
    expect(detail.history[0]).toMatchObject({
      cause: 'promotion',
      from: 'approve',
      to: 'autonomous',
      by: { type: 'person', id: 'dana@example.com', channel: 'dashboard' },
    });
    expect(detail.history[0].reason).toContain('dana@example.com: ten clean runs');
    expect(problems).toEqual([]);
  }, 60_000);
});

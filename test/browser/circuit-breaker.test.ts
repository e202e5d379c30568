import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningPlatform } from '../../local/platform.ts';
import { launchChromium, requireChromium } from '../support/browser.ts';
import { startEmbedded } from '../support/embedded.ts';
import type { Json } from '../support/json.ts';

/**
 * The Learning page's circuit breakers in Chromium against the embedded platform: an open breaker
 * with why it opened, and the Close button that closes it as the person who clicked, from the
 * dashboard (recorded in the platform's audit trail).
 */

const RUNBOOKS_DIR = 'test/fixtures/runbooks/watch';
const RUNBOOK = 'scale-unwatched';

describe('circuit breakers on the dashboard', () => {
  let temp: string;
  let platform: RunningPlatform;
  let context: BrowserContext;

  beforeAll(async () => {
    requireChromium();
    temp = mkdtempSync(join(tmpdir(), 'breaker-browser-'));
    platform = await startEmbedded({ runbooksDir: RUNBOOKS_DIR, dataDir: mkdtempSync(join(temp, 'data-')) });
    context = await launchChromium(temp);
  });

  afterAll(async () => {
    await context?.close();
    await platform?.stop();
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it('shows the open breaker with why, and Close closes it as the person who clicked', async () => {
    // Prepare: the breaker as the learning recorder opens it after three failures
    const openedAt = new Date().toISOString();
    await platform.platform.watch.putBreaker(
      {
        runbookId: RUNBOOK,
        environment: 'staging',
        state: 'open',
        version: 1,
        changedAt: openedAt,
        openedAt,
        reason: '3 failed runs of scale-unwatched within 30m: e1 (Runbook.ToolFailed), e2, e3',
        failures: [
          { executionId: 'e1', stoppedAt: openedAt, error: 'Runbook.ToolFailed' },
          { executionId: 'e2', stoppedAt: openedAt },
          { executionId: 'e3', stoppedAt: openedAt },
        ],
      },
      0,
    );
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));

    // Act: the Learning page, the row, the button, the dialog
    await page.goto(new URL('learning', platform.url).toString());
    const row = page.locator(`table.circuit-breakers tr[data-breaker="${RUNBOOK}"]`);
    await row.waitFor({ timeout: 10_000 });
    const heading = await page.locator('#breakers-title').textContent();
    const before = await row.textContent();
    await row.getByRole('button', { name: 'Close' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Your name or e-mail (recorded)').fill('dana@example.com');
    await dialog.getByLabel('What was fixed (recorded)').fill('the image is fixed');
    await dialog.getByRole('button', { name: 'Close the breaker' }).click();
    await page
      .locator(`table.circuit-breakers tr[data-breaker="${RUNBOOK}"]`, {
        hasText: 'closed by dana@example.com',
      })
      .waitFor({ timeout: 10_000 });
    const listed = (await (await fetch(new URL('api/circuit-breakers', platform.url))).json()) as Json;
    const trail = (await (await fetch(new URL('api/audit?platform=true', platform.url))).json()) as Json;

    // Assess
    expect(heading).toBe('Circuit breakers (1 open)');
    expect(before).toContain('open');
    expect(before).toContain('3 failed runs of scale-unwatched within 30m');
    expect(listed.breakers.find((breaker: Json) => breaker.runbookId === RUNBOOK)).toMatchObject({
      state: 'closed',
      closedBy: 'dana@example.com',
      closeReason: 'the image is fixed',
      version: 2,
    });
    const closed = trail.events.find((event: Json) => event.kind === 'circuit-breaker.changed');
    expect(closed).toMatchObject({
      state: 'closed',
      result: 'accepted',
      actor: { type: 'person', id: 'dana@example.com', source: { channel: 'dashboard' } },
      reason: 'the image is fixed',
    });
    expect(await page.locator('#breakers-title').textContent()).toBe('Circuit breakers (0 open)');
    expect(problems).toEqual([]);
  }, 60_000);
});

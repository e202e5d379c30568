import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { launchChromium, requireChromium } from '../support/browser.ts';
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
} from '../support/limits-project.ts';

/**
 * The approval page of a change the risk policy sent for approval, in a real browser (Debian's
 * Chromium) against the embedded platform at 3 am in prod after a failure: the score, what it decides
 * and every factor's points are on the page, and an approver decides from it.
 */

describe('risk factors on the approval page in Chromium', () => {
  let temp: string;
  let project: LimitsProject;
  let kube: FakeKubeApi;
  let platform: RunningPlatform;
  let context: BrowserContext;

  beforeAll(async () => {
    requireChromium();
    temp = mkdtempSync(join(tmpdir(), 'risk-browser-'));
    project = makeLimitsProject();
    kube = await shopCluster();
    platform = await startPlatform({
      cwd: project.cwd,
      runbooksDir: LIMITS_FIXTURES,
      statemachinesDir: project.statemachinesDir,
      port: 0,
      dataDir: mkdtempSync(join(temp, 'data-')),
      inMemory: true,
      environment: 'prod',
      live: true,
      configOverrides: {
        tools: { kubernetes: { contexts: {}, eks: {} }, shell: { enabled: false, allow: [] } },
      },
      kubeConfigFactory: () => kube.kubeConfig(),
      clock: clockFrom(TUESDAY_3AM),
      retryIntervalMs: 20,
      print: () => {},
    });
    await platform.platform.store.putLearningAggregate(failedOnce(TUESDAY_3AM - 3_600_000));
    context = await launchChromium(temp, { viewport: { width: 390, height: 844 } });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await platform?.stop();
    await kube?.stop();
    if (project) rmSync(project.cwd, { recursive: true, force: true });
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it('shows the score, its decision and every factor, and takes the first of two approvals', async () => {
    // Prepare: the alert starts scale-checkout, which waits at the checkpoint for two approvers
    const fired = await fetch(new URL('/webhooks/alertmanager', platform.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(capacityAlert('CheckoutNeedsCapacity', 'checkout', 'prod')),
    });
    const executionId: string = ((await fired.json()) as Json).results[0].result.executionId;
    const link = await (async () => {
      for (let attempt = 0; attempt < 400; attempt++) {
        const { notifications } = (await (
          await fetch(new URL(`/api/outbox?executionId=${encodeURIComponent(executionId)}`, platform.url))
        ).json()) as Json;
        const request = notifications.find((notification: Json) => notification.kind === 'approval-request');
        if (request) return request.links[0].url as string;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('no approval e-mail');
    })();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));

    // Act
    await page.goto(link);
    const risk = page.locator('section#risk');
    const score = await risk.locator('.score').textContent();
    const decision = await risk.locator('[class^="decision-"]').textContent();
    const rows = await risk.locator('tbody tr').evaluateAll((elements) =>
      elements.map((row) => ({
        factor: row.getAttribute('data-factor'),
        cells: [...row.querySelectorAll('td')].map((cell) => cell.textContent ?? ''),
      })),
    );
    const riskVisible = await risk.isVisible();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForLoadState('load');
    const after = await page.locator('body').textContent();

    // Assess
    expect(riskVisible).toBe(true);
    expect(score).toBe('85');
    expect(decision).toBe('needs two approvals');
    expect(rows.map((row) => row.factor)).toEqual([
      'declared-risk',
      'environment',
      'blast-radius',
      'failure-rate',
      'recent-changes',
      'time-of-day',
      'change-freeze',
    ]);
    const byFactor = Object.fromEntries(rows.map((row) => [row.factor, row.cells]));
    expect(byFactor['declared-risk']).toEqual(['Declared risk', 'high', '+30']);
    expect(byFactor.environment).toEqual(['Environment', 'prod', '+20']);
    expect(byFactor['failure-rate']).toEqual([
      'Learned failure rate',
      '1 of 1 run(s) for this alert failed (100%)',
      '+25',
    ]);
    expect(byFactor['time-of-day']![1]).toBe(
      'tue 03:00 Europe/Berlin: outside business hours (mon,tue,wed,thu,fri 08:00–18:00)',
    );
    expect(byFactor['time-of-day']![2]).toBe('+10');
    expect(byFactor['blast-radius']![2]).toBe('+0');
    expect(after).toContain('1 of 2 approval(s)');
    expect(kube.deployments.get('shop/checkout')!.spec!.replicas).toBe(1);
    expect(problems).toEqual([]);
  }, 60_000);
});

import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wilsonLowerBound } from '../../functions/core/automation/evidence.ts';
import { RANKING_CONFIDENCE } from '../../functions/core/learning/effectiveness.ts';
import type { RunningPlatform } from '../../local/platform.ts';
import { launchChromium, requireChromium } from '../support/browser.ts';
import { startEmbedded } from '../support/embedded.ts';
import type { Json } from '../support/json.ts';
import { POD_MEMORY_GROWTH, podMemoryRun, type SeedRun, seedRuns } from '../support/learning-history.ts';
import { loadRunbook, ROOT } from '../support/runbooks.ts';

/**
 * The Learning page's charts in Chromium against the embedded platform, with a seeded history of 15
 * runs over four days (stored as the platform stores executions and step outcomes, then recomputed by
 * its learning service) and a level change made through the API: the plotted points are the seeded
 * per-day rates and means, the step chart shows the seeded decisions, failures and durations, and a
 * screenshot of the page is kept in test-results/learning-charts.png.
 */

const RUNBOOKS_DIR = 'test/fixtures/runbooks/learning';
const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);
const DAY_MS = 86_400_000;
const SCREENSHOT = join(ROOT, 'test-results', 'learning-charts.png');

interface SeedDay {
  daysAgo: number;
  /** Time to recover of each succeeded run, minutes; then the failed runs. */
  recoveredMinutes: number[];
  failed: number;
}

// Per day: success rates 75%, 100%, 50%, 25%; mean time to recover 4, 3, 10 and 6 minutes.
const DAYS: SeedDay[] = [
  { daysAgo: 4, recoveredMinutes: [2, 4, 6], failed: 1 },
  { daysAgo: 3, recoveredMinutes: [3, 3, 3, 3, 3], failed: 0 },
  { daysAgo: 2, recoveredMinutes: [10], failed: 1 },
  { daysAgo: 1, recoveredMinutes: [6], failed: 3 },
];

function dayOf(daysAgo: number): string {
  return new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10);
}

/** Writes the seeded runs into the platform's store, one day at a time, and recomputes the aggregate. */
async function seed(platform: RunningPlatform): Promise<void> {
  const { store, services } = platform.platform;
  let index = 0;
  for (const day of DAYS) {
    // Succeeded runs scale out (memory-usage decides); failed ones time out on pod-status.
    const runs: SeedRun[] = [
      ...day.recoveredMinutes.map(() => podMemoryRun({ memory: 90 })),
      ...Array.from({ length: day.failed }, () =>
        podMemoryRun({ podStatus: { status: 'timed-out', durationMs: 30_000 } }),
      ),
    ];
    const noon = Date.parse(`${dayOf(day.daysAgo)}T10:00:00.000Z`);
    const seeded = seedRuns(RUNBOOK, runs, noon);
    for (const [position, execution] of seeded.executions.entries()) {
      const id = `${RUNBOOK.id}-seeded-${String(index++).padStart(3, '0')}`;
      const minutes = day.recoveredMinutes[position];
      await store.createExecution({
        ...execution,
        id,
        outcome: {
          ...execution.outcome!,
          ...(minutes === undefined ? {} : { timeToRecoverMs: minutes * 60_000 }),
        },
      });
      for (const outcome of seeded.outcomes[position]!)
        await store.putStepOutcome({ ...outcome, executionId: id });
    }
  }
  await services.learning.recompute(RUNBOOK.id);
}

describe('the Learning page charts', () => {
  let temp: string;
  let platform: RunningPlatform;
  let context: BrowserContext;

  beforeAll(async () => {
    requireChromium();
    temp = mkdtempSync(join(tmpdir(), 'learning-charts-'));
    platform = await startEmbedded({
      runbooksDir: RUNBOOKS_DIR,
      environment: 'dev',
      live: false,
      dataDir: mkdtempSync(join(temp, 'data-')),
    });
    context = await launchChromium(temp);
  });

  afterAll(async () => {
    await context?.close();
    await platform?.stop();
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it('plots the seeded per-day success rates, times to mitigate, the level change and step effectiveness', async () => {
    // Prepare: 15 runs over four days, and a person lowering the level today
    await seed(platform);
    const lowered = await fetch(new URL(`api/automation/${RUNBOOK.id}/level`, platform.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ level: 'approve', by: 'carol@example.com', reason: 'too many timeouts' }),
    });
    expect(lowered.status).toBe(200);
    const api = (await (await fetch(new URL('api/learning', platform.url))).json()) as Json;
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });

    // Act
    await page.goto(new URL('learning', platform.url).toString());
    const charts = page.locator(`section.runbook-charts[data-runbook="${RUNBOOK.id}"]`);
    await charts.locator('svg[data-chart="step-effectiveness"]').waitFor({ timeout: 15_000 });
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const points = async (chart: string) =>
      charts.locator(`svg[data-chart="${chart}"] circle.point`).evaluateAll((circles) =>
        circles.map((circle) => ({
          day: circle.getAttribute('data-day'),
          value: circle.getAttribute('data-value'),
          cy: Number(circle.getAttribute('cy')),
          title: circle.querySelector('title')?.textContent,
        })),
      );
    const success = await points('success-rate');
    const mttr = await points('time-to-mitigate');
    const levels = await points('automation-level');
    const accessible = await charts.locator('svg.chart').evaluateAll((svgs) =>
      svgs.map((svg) => ({
        role: svg.getAttribute('role'),
        title: svg.querySelector(':scope > title')?.textContent,
        desc: svg.querySelector(':scope > desc')?.textContent,
        labelledBy: (svg.getAttribute('aria-labelledby') ?? '')
          .split(' ')
          .map((id: string) => svg.ownerDocument.getElementById(id)?.textContent),
        axisLabels: [...svg.querySelectorAll('.axis-label')].map((label) => label.textContent),
      })),
    );
    const rows = await charts
      .locator('svg[data-chart="step-effectiveness"] g.step-row')
      .evaluateAll((groups) =>
        Object.fromEntries(
          groups.map((group) => [
            group.getAttribute('data-step'),
            {
              decision: group.querySelector('rect.decision')?.getAttribute('data-value'),
              low: group.querySelector('rect.decision')?.getAttribute('data-low'),
              high: group.querySelector('rect.decision')?.getAttribute('data-high'),
              failure: group.querySelector('rect.failure')?.getAttribute('data-value'),
              p50: group.querySelector('rect.duration')?.getAttribute('data-p50'),
              text: [...group.querySelectorAll('text.value')].map((text) => text.textContent).join(' | '),
            },
          ]),
        ),
      );

    // Assess: the API's timeline holds the seeded days
    const timeline = api.runbooks.find((runbook: Json) => runbook.runbookId === RUNBOOK.id).timeline;
    expect(
      timeline.days.map((day: Json) => [day.day, day.runs, day.successRate, day.meanTimeToRecoverMs]),
    ).toEqual([
      [dayOf(4), 4, 0.75, 240_000],
      [dayOf(3), 5, 1, 180_000],
      [dayOf(2), 2, 0.5, 600_000],
      [dayOf(1), 4, 0.25, 360_000],
    ]);
    // the plotted success-rate points are those rates, each at its height on a 0–100% axis
    expect(success.map((point) => [point.day, Number(point.value)])).toEqual([
      [dayOf(4), 0.75],
      [dayOf(3), 1],
      [dayOf(2), 0.5],
      [dayOf(1), 0.25],
    ]);
    const full = success[1]!.cy; // 100%
    const half = success[2]!.cy; // 50%
    expect(success[0]!.cy).toBeCloseTo(full + (half - full) / 2, 1); // 75%: halfway between
    expect(success[3]!.cy).toBeCloseTo(half + (half - full) / 2, 1); // 25%
    expect(success[0]!.title).toBe(`${dayOf(4)}: 75% (3 of 4 succeeded)`);
    // time to mitigate: the seeded means, the longest drawn highest
    expect(mttr.map((point) => Number(point.value))).toEqual([240_000, 180_000, 600_000, 360_000]);
    expect(Math.min(...mttr.map((point) => point.cy))).toBe(mttr[2]!.cy);
    expect(mttr[2]!.title).toBe(`${dayOf(2)}: 10.0 min mean over 1 recovered run(s)`);
    // the level: autonomous from the first day, lowered to approve today by the person, approve now
    expect(levels.map((point) => point.value)).toEqual(['autonomous', 'approve', 'approve']);
    expect(levels[1]!.title).toContain('set to approve');
    expect(levels[0]!.cy).toBeLessThan(levels[1]!.cy);
    // step effectiveness: memory-usage decided all 10 runs that reached it; pod-status timed out in 5 of 15
    expect(rows['memory-usage']).toMatchObject({ decision: '1', failure: '0', p50: '500' });
    expect(Number(rows['memory-usage']!.low)).toBeCloseTo(wilsonLowerBound(10, 10, RANKING_CONFIDENCE)!, 10);
    expect(rows['memory-usage']!.high).toBe('1');
    expect(rows['memory-usage']!.text).toContain('10/10 100%');
    expect(Number(rows['pod-status']!.failure)).toBeCloseTo(5 / 15, 10);
    expect(rows['pod-status']!.text).toContain('5/15 33.3% (5 timed out)');
    expect(rows.scale!.text).toContain('remediation');
    // accessible: each chart an image with a title, a description and axis labels
    expect(accessible).toHaveLength(4);
    for (const chart of accessible) {
      expect(chart.role).toBe('img');
      expect(chart.title).toMatch(new RegExp(`^${RUNBOOK.id}: `));
      expect(chart.desc).toBeTruthy();
      expect(chart.labelledBy).toEqual([chart.title, chart.desc]);
      expect(chart.axisLabels.length).toBeGreaterThan(0);
    }
    expect(accessible[0]!.axisLabels).toEqual(['success rate', 'day (UTC)']);
    // the numbers as text too
    await charts.locator('details.chart-data summary').click();
    await expect(charts.locator(`details.chart-data tr[data-day="${dayOf(2)}"]`).textContent()).resolves.toBe(
      `${dayOf(2)}211050%10.0 min`,
    );
    await expect(charts.locator('details.chart-data ul.level-changes li').allTextContents()).resolves.toEqual(
      [`${levels[1]!.title!.split(': ')[0]}: automation level set, to approve`],
    );
    // the screenshot was taken
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
    expect(problems).toEqual([]);
  }, 60_000);
});

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { summarize } from '../scenarios/report.ts';
import { ScenarioResult } from '../scenarios/results.ts';
import { compileRunbooks, faultScenarios, playScenario } from '../scenarios/runner.ts';
import { describeWithMonitoring } from '../support/monitoring.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * `npm run scenarios` in small, so its runner cannot rot: two of its fault scenarios on hpa-maxed-out
 * as runbooks/ ships it, played side by side, each through its own real Prometheus and Alertmanager. The figures are the full
 * run's business (BENCHMARKS.md); here only the outcomes and the results' schema are checked.
 */

const PLAYED = ['flaky-api', 'duplicate-storm'];

describeWithMonitoring('npm run scenarios, in small', () => {
  let runbooksDir: string;
  let statemachinesDir: string;
  const results: ScenarioResult[] = [];

  beforeAll(async () => {
    // Only the runbook the scenarios need, compiled apart (the whole library would take longer).
    runbooksDir = mkdtempSync(join(tmpdir(), 'scenarios-test-runbooks-'));
    copyFileSync(join(ROOT, 'runbooks/hpa-maxed-out.yaml'), join(runbooksDir, 'hpa-maxed-out.yaml'));
    statemachinesDir = compileRunbooks(runbooksDir);
    // Side by side, as npm run scenarios plays its lanes: each has its own environment and platform.
    results.push(
      ...(await Promise.all(
        faultScenarios()
          .filter((candidate) => PLAYED.includes(candidate.id))
          .map((definition) =>
            playScenario(
              definition,
              { runbooksDir, waitScale: 1 / 30, print: () => {} },
              { library: statemachinesDir },
            ),
          ),
      )),
    );
  }, 120_000);

  afterAll(() => {
    for (const dir of [runbooksDir, statemachinesDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(PLAYED)('%s: the outcome the scenario expects', (id) => {
    const result = results.find((candidate) => candidate.id === id);
    expect(result?.failures, JSON.stringify(result?.notes)).toEqual([]);
    expect(result?.passed).toBe(true);
    expect(result?.executions).toEqual([
      expect.objectContaining({ runbookId: 'hpa-maxed-out', status: 'succeeded', alert: 'KubeHpaMaxedOut' }),
    ]);
  });

  it('produces results the schema accepts, and a summary over them', () => {
    for (const result of results) ScenarioResult.parse(result);
    const summary = summarize(results);
    expect(summary).toMatchObject({ scenarios: 2, passed: 2, executions: 2, automatedSuccessRate: 1 });
    expect(summary.runsNeedingHumanAction).toBe(0);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cdkJsonPath, loadPolicies } from '../../local/project.ts';
import { loadRunbookCatalog } from '../../local/runbook-catalog.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The catalog loads the team's library one runbook at a time, letting the event loop run between
 * them: whatever shares the process (the server, timers, the demo's simulated exporters) is served
 * during a start that takes a second or more, not after it.
 */

const statemachinesDir = mkdtempSync(join(tmpdir(), 'catalog-machines-'));
afterAll(() => rmSync(statemachinesDir, { recursive: true, force: true }));

it('serves the event loop between runbooks while it validates and compiles the library', async () => {
  // Prepare: a callback that asks to run again each time the event loop gets to it
  let turns = 0;
  let spinning = true;
  const spin = () => {
    turns++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);

  // Act
  const entries = await loadRunbookCatalog({
    cwd: ROOT,
    runbooksDir: join(ROOT, 'runbooks'),
    statemachinesDir,
    policies: loadPolicies(cdkJsonPath(ROOT)),
    log: () => {},
  });
  spinning = false;

  // Assess: the loop ran at least once per runbook validated and once per runbook compiled
  const runnable = entries.filter((entry) => entry.definition);
  expect(runnable.length).toBeGreaterThan(20);
  expect(turns).toBeGreaterThanOrEqual(entries.length + runnable.length);
});

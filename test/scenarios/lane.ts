import '../../functions/adapters/local/polyfills.ts';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/runbooks.ts';
import type { ScenarioResult } from './results.ts';
import { compileRunbooks, playScenario, scenarioDefinitions } from './runner.ts';

/**
 * One lane of `npm run scenarios` (test/scenarios/run.ts forks it): a process of its own, so lanes
 * played side by side share no event loop. It plays the scenarios the parent sends, one at a time,
 * each in its own simulated environment with its own Prometheus, Alertmanager and platform, and
 * sends each result back.
 */

export type ToLane = { type: 'play'; id: string; waitScale: number };

export type FromLane =
  | { type: 'ready' }
  | { type: 'print'; line: string }
  | { type: 'result'; result: ScenarioResult };

process.env.AWS_EC2_METADATA_DISABLED = 'true';
const runbooksDir = process.argv[2] ?? 'runbooks';
const definitions = scenarioDefinitions();
// The lane's own machines: the platform validates and compiles the library at each start, fast once this
// process has (its validations are cached), and lanes writing one directory could read each other's halves.
const library = compileRunbooks(join(ROOT, runbooksDir));
const send = (message: FromLane) => process.send?.(message);

process.on('message', (message: ToLane) => {
  const definition = definitions.find((candidate) => candidate.id === message.id);
  if (!definition) {
    process.stderr.write(`lane: no scenario ${message.id}\n`);
    process.exit(2);
  }
  void playScenario(
    definition,
    {
      runbooksDir,
      waitScale: message.waitScale,
      print: (line) => send({ type: 'print', line }),
    },
    { library },
  )
    .then((result) => send({ type: 'result', result }))
    .catch((error: unknown) => {
      // The parent records the scenario as failed when its lane ends before answering.
      process.stderr.write(`lane: ${message.id} did not finish: ${String(error)}\n`);
      process.exit(1);
    });
});
// The parent closes the channel when the queue is empty: the lane ends with it.
process.on('disconnect', () => {
  rmSync(library, { recursive: true, force: true });
  process.exit(0);
});
send({ type: 'ready' });

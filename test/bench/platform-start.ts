import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import '../../functions/adapters/local/polyfills.ts';
import type { StateMachineDefinition } from '../../functions/core/compiler/asl.ts';
import {
  aslSchemaCheck,
  aslValidatorOwnSchemaCheck,
  substituteForValidation,
} from '../../functions/core/compiler/asl-validation.ts';
import { startPlatform } from '../../local/platform.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * One platform start over the team's runbooks/ in a fresh process (nothing validated before), as
 * `npm start` does: how long it takes, and the longest its event loop was blocked (a timer every 5 ms;
 * the simulated environment's exporters, in the same process in the demo and the e2e tests, answer
 * Prometheus' 1 s scrapes only between blocks). Then asl-validator's JSON-schema check over the same
 * compiled definitions, its own (a new Ajv compiling its schemas per call) against ours (compiled
 * once). Prints one JSON line; platform-start.bench.ts runs it and prints the table.
 * Run alone: `npx tsx test/bench/platform-start.ts`.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'platform-start-data-'));
const statemachinesDir = mkdtempSync(join(tmpdir(), 'platform-start-machines-'));
let last = performance.now();
let longestBlock = 0;
const monitor = setInterval(() => {
  const now = performance.now();
  longestBlock = Math.max(longestBlock, now - last - 5);
  last = now;
}, 5);
const t0 = performance.now();
const platform = await startPlatform({
  cwd: ROOT,
  runbooksDir: 'runbooks',
  statemachinesDir,
  port: 0,
  dataDir,
  environment: 'dev',
  live: false,
  print: () => {},
});
const startMs = performance.now() - t0;
clearInterval(monitor);
const runbooks = platform.catalog().length;
await platform.stop();

const definitions = readdirSync(statemachinesDir)
  .filter((file) => file.endsWith('.asl.json'))
  .map((file) =>
    substituteForValidation(
      JSON.parse(readFileSync(join(statemachinesDir, file), 'utf8')) as StateMachineDefinition,
    ),
  );
const options = { checkPaths: true, checkArn: true };
const timed = (check: (definition: unknown) => unknown) => {
  const start = performance.now();
  for (const definition of definitions) check(structuredClone(definition));
  return performance.now() - start;
};
const own = aslValidatorOwnSchemaCheck;
const theirsMs = own ? timed((definition) => own(definition, options)) : Number.NaN;
const oursMs = timed((definition) => aslSchemaCheck(definition, options));
rmSync(dataDir, { recursive: true, force: true });
rmSync(statemachinesDir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({ runbooks, machines: definitions.length, startMs, longestBlockMs: longestBlock, theirsMs, oursMs })}\n`,
);
process.exit(0);

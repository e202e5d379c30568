import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { afterAll, bench, describe } from 'vitest';
import { ROOT } from '../support/runbooks.ts';

/**
 * The platform's start over the team's runbooks/, in fresh processes (platform-start.ts): its time,
 * the longest its event loop was blocked, and asl-validator's JSON-schema check over the same
 * machines, its own against the compiled-once one. Medians over the processes run.
 */

/** At least this many processes (tinybench may run more). */
const RUNS = 3;
interface Run {
  runbooks: number;
  machines: number;
  startMs: number;
  longestBlockMs: number;
  theirsMs: number;
  oursMs: number;
}
const runs: Run[] = [];
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

describe('platform start over runbooks/', () => {
  bench(
    'platform start in a fresh process',
    () => {
      const output = execFileSync(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'test/bench/platform-start.ts')],
        {
          cwd: ROOT,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
          timeout: 120_000,
        },
      );
      runs.push(JSON.parse(output.trim().split('\n').at(-1)!) as Run);
    },
    { iterations: RUNS, warmupIterations: 0, time: 0, warmupTime: 0, throws: true },
  );
});

afterAll(() => {
  const f = (ms: number) => ms.toFixed(0);
  const pick = (key: keyof Run) => median(runs.map((run) => run[key]));
  console.log(
    [
      '',
      `Platform start over runbooks/ (${pick('runbooks')} runbooks, ${pick('machines')} state machines), median of ${runs.length} fresh processes; load average ${loadavg()
        .map((load) => load.toFixed(1))
        .join(' ')}`,
      '| figure | measured | reference (same run) |',
      '| --- | ---: | ---: |',
      `| platform start (validate, compile, check every machine, open the store, listen) | ${f(pick('startMs'))} ms | — |`,
      `| longest event-loop block during the start | ${f(pick('longestBlockMs'))} ms | Prometheus' scrape timeout in the simulated environment: 1,000 ms |`,
      `| ASL schema check of every machine, compiled once | ${f(pick('oursMs'))} ms | asl-validator's own (a new Ajv per call): ${f(pick('theirsMs'))} ms |`,
      '',
    ].join('\n'),
  );
});

import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { afterAll, bench, describe } from 'vitest';
import type { Alert } from '../../functions/core/alert.ts';
import {
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
} from '../../functions/core/classifier/normalize.ts';
import { RunbookSelector } from '../../functions/core/classifier/select.ts';
import { parseRunbookCatalog } from '../../functions/core/runbook/catalog.ts';
import type { Runbook } from '../../functions/core/runbook/model.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * Issue 14: normalize + select in process, 50 runbooks, goal ≥ 100,000 alerts/s. The runbooks are the
 * compiled catalog (statemachines/runbooks.json) topped up to 50 with renamed copies whose rules match
 * other alert names (so every alert is selected among 50 runbooks and its considered list names all 50,
 * as in a library of 50; the selector's index decides which rules it must run); the
 * alerts are every Alertmanager and CloudWatch fixture, normalized from their raw payloads each time.
 * The reference in the same run: structuredClone of the same payloads (a copy of the input, the floor
 * of any work that reads all of it).
 */

const RUNBOOKS = 50;
const options = { environmentLabels: ['environment', 'env'], defaultEnvironment: 'prod' };
const catalog = parseRunbookCatalog(
  JSON.parse(readFileSync(join(ROOT, 'statemachines/runbooks.json'), 'utf8')),
);
const runbooks: Runbook[] = [...catalog];
for (let i = 0; runbooks.length < RUNBOOKS; i++) {
  const original = catalog[i % catalog.length]!;
  runbooks.push({
    ...original,
    id: `${original.id}-copy-${i}`,
    applicabilityRules: original.applicabilityRules.map((rule) => ({
      ...rule,
      pattern: { ...rule.pattern, name: [{ prefix: `Copy${i}` }] },
    })),
  });
}
const selector = new RunbookSelector(runbooks);

const fixtures = join(ROOT, 'test/fixtures/alerts');
const payloads = readdirSync(fixtures)
  .filter((file) => /^(alertmanager|cloudwatch)-.*\.json$/.test(file))
  .map((file) => ({
    kind: file.startsWith('alertmanager') ? 'alertmanager' : 'cloudwatch',
    body: JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as unknown,
  }));
const alertsPerRound = payloads.reduce(
  (sum, payload) =>
    sum + (payload.kind === 'alertmanager' ? (payload.body as { alerts: unknown[] }).alerts.length : 1),
  0,
);

function normalize(payload: (typeof payloads)[number]): Alert[] {
  return payload.kind === 'alertmanager'
    ? normalizeAlertmanager(payload.body, options)
    : [normalizeCloudWatchAlarm(payload.body, options)];
}

let selected = 0;
let considered = 0;
let consideredAlerts = 0;
const timings: Record<string, number[]> = {};

/** A bench whose rounds are timed one by one, for the median and the best round. */
function timedBench(title: string, name: string, time: number, round: () => void): void {
  // Pushed, not copied: a copy of every earlier round's timing per round was the harness's own garbage.
  const rounds: number[] = [];
  timings[name] = rounds;
  bench(
    title,
    () => {
      const start = performance.now();
      round();
      rounds.push(performance.now() - start);
    },
    {
      time,
      warmupTime: 500,
      // The warm-up's rounds (code not yet optimized, the first bench paying for all) are not counted.
      setup: (_task, mode) => {
        if (mode === 'run') rounds.length = 0;
      },
    },
  );
}

describe(`normalize + select: ${alertsPerRound} alerts from ${payloads.length} payloads, ${runbooks.length} runbooks`, () => {
  timedBench('normalize + select (one round of every fixture)', 'normalize + select', 2_000, () => {
    for (const payload of payloads)
      for (const alert of normalize(payload)) if (selector.select(alert).selected) selected++;
  });
  timedBench(
    'normalize + select, reading every candidate considered (as the classifier does for a new incident)',
    'normalize + select + considered',
    1_000,
    () => {
      for (const payload of payloads)
        for (const alert of normalize(payload)) {
          considered += selector.select(alert).considered.length;
          consideredAlerts++;
        }
    },
  );
  timedBench('normalize only', 'normalize', 1_000, () => {
    for (const payload of payloads) normalize(payload);
  });
  timedBench('reference: structuredClone of the payloads', 'reference', 1_000, () => {
    for (const payload of payloads) structuredClone(payload.body);
  });
});

afterAll(() => {
  // The median round is what the run saw; the best round is the code's own speed on an idle core (a
  // shared machine's other work only ever slows a round down). Both are printed, with the load.
  const sorted = (name: string) => [...(timings[name] ?? [Number.NaN])].sort((a, b) => a - b);
  const rates = (name: string) => {
    const rounds = sorted(name);
    return {
      median: (alertsPerRound * 1000) / rounds[rounds.length >> 1]!,
      best: (alertsPerRound * 1000) / rounds[0]!,
    };
  };
  const both = rates('normalize + select');
  const withConsidered = rates('normalize + select + considered');
  const normalizeOnly = rates('normalize');
  const reference = rates('reference');
  const met = (rate: number) => (rate >= 100_000 ? 'yes' : 'no');
  console.log(
    `\nnormalize + select, ${runbooks.length} runbooks, ${alertsPerRound} alerts a round (${selected > 0 ? 'alerts selected runbooks' : 'NO alert selected a runbook'}, considered lists of ${(considered / consideredAlerts).toFixed(0)} entries); load average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')} on ${availableParallelism()} cores`,
  );
  console.table({
    'normalize + select': {
      'alerts/s (median round)': Math.round(both.median),
      'alerts/s (best round)': Math.round(both.best),
      goal: '≥ 100,000',
      'met (median)': met(both.median),
      'met (best)': met(both.best),
      'vs reference (best)': `${((100 * both.best) / reference.best).toFixed(1)} %`,
    },
    '… reading the considered list': {
      'alerts/s (median round)': Math.round(withConsidered.median),
      'alerts/s (best round)': Math.round(withConsidered.best),
      goal: '≥ 100,000',
      'met (median)': met(withConsidered.median),
      'met (best)': met(withConsidered.best),
      'vs reference (best)': `${((100 * withConsidered.best) / reference.best).toFixed(1)} %`,
    },
    'normalize only': {
      'alerts/s (median round)': Math.round(normalizeOnly.median),
      'alerts/s (best round)': Math.round(normalizeOnly.best),
    },
    'reference: structuredClone': {
      'alerts/s (median round)': Math.round(reference.median),
      'alerts/s (best round)': Math.round(reference.best),
    },
  });
});

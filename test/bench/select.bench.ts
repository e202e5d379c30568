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
 * other alert names (so every alert is matched against 50 runbooks' rules, as in a library of 50); the
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
const timings: Record<string, number[]> = {};
const timed = (name: string, round: () => void) => () => {
  const start = performance.now();
  round();
  timings[name] = [...(timings[name] ?? []), performance.now() - start];
};

describe(`normalize + select: ${alertsPerRound} alerts from ${payloads.length} payloads, ${runbooks.length} runbooks`, () => {
  bench(
    'normalize + select (one round of every fixture)',
    timed('normalize + select', () => {
      for (const payload of payloads)
        for (const alert of normalize(payload)) if (selector.select(alert).selected) selected++;
    }),
    { time: 2_000 },
  );
  bench(
    'normalize only',
    timed('normalize', () => {
      for (const payload of payloads) normalize(payload);
    }),
    { time: 1_000 },
  );
  bench(
    'reference: structuredClone of the payloads',
    timed('reference', () => {
      for (const payload of payloads) structuredClone(payload.body);
    }),
    { time: 1_000 },
  );
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
  const normalizeOnly = rates('normalize');
  const reference = rates('reference');
  console.log(
    `\nnormalize + select, ${runbooks.length} runbooks, ${alertsPerRound} alerts a round (${selected > 0 ? 'alerts selected runbooks' : 'NO alert selected a runbook'}); load average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')} on ${availableParallelism()} cores`,
  );
  console.table({
    'normalize + select': {
      'alerts/s (median round)': Math.round(both.median),
      'alerts/s (best round)': Math.round(both.best),
      goal: '≥ 100,000',
      'met (best round)': both.best >= 100_000 ? 'yes' : 'no',
      'vs reference (best)': `${((100 * both.best) / reference.best).toFixed(1)} %`,
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

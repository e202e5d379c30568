import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../../functions/core/alert.ts';
import {
  type NormalizeOptions,
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
} from '../../../../functions/core/classifier/normalize.ts';
import { type RunbookSelection, RunbookSelector } from '../../../../functions/core/classifier/select.ts';
import type { LearningAggregate } from '../../../../functions/core/records.ts';
import { parseRunbookCatalog } from '../../../../functions/core/runbook/catalog.ts';
import type { Runbook } from '../../../../functions/core/runbook/model.ts';
import { libraryStatemachinesDir } from '../../../support/library.ts';
import { fixtures, type Json, mutate, mutation, toText } from '../../../support/mutations.ts';
import { ROOT } from '../../../support/runbooks.ts';
import { OPTIONS } from './fixtures.ts';

/**
 * Golden outputs of normalize + select, pinned byte for byte (file snapshots under __golden__): every
 * Alertmanager and CloudWatch fixture normalized (under the default options, a small budget, and an
 * empty default environment that Alert.parse refuses) and selected among the compiled catalog topped
 * up to 50 runbooks (as test/bench/select.bench.ts does), with and without learned history; plus the
 * outcome (alerts, or the error and its problems) of 400 seeded mutations of the fixtures, as digests.
 * A change of any output, key order or error message included, fails here.
 */

const catalog = parseRunbookCatalog(
  JSON.parse(readFileSync(join(libraryStatemachinesDir(), 'runbooks.json'), 'utf8')),
);
const runbooks: Runbook[] = [...catalog];
for (let i = 0; runbooks.length < 50; i++) {
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

/** History that reorders the eligible runbooks (and ties some scores). */
const learning = new Map<string, LearningAggregate>(
  runbooks.map((runbook, index) => [
    runbook.id,
    {
      runbookId: runbook.id,
      executions: index % 7,
      succeeded: index % 3,
      byAlert: { KubeNodePressure: { executions: index % 4, succeeded: index % 2 } },
    } as unknown as LearningAggregate,
  ]),
);

const OPTION_SETS: Record<string, NormalizeOptions> = {
  default: OPTIONS,
  'small budget': { ...OPTIONS, budgetBytes: 1_200 },
  'empty default environment': { environmentLabels: ['env'], defaultEnvironment: '' },
};

type Outcome = { alerts: Alert[] } | { error: string; message: string; problems?: unknown };

function outcome(kind: 'alertmanager' | 'cloudwatch', body: unknown, options: NormalizeOptions): Outcome {
  try {
    return {
      alerts:
        kind === 'alertmanager'
          ? normalizeAlertmanager(body, options)
          : [normalizeCloudWatchAlarm(body, options)],
    };
  } catch (error) {
    const { name, message, problems } = error as Error & { problems?: unknown };
    return { error: name, message, problems };
  }
}

/** Each considered entry as its own compact JSON line: every byte pinned, the file still reviewable. */
function compact({ selected, considered }: RunbookSelection) {
  return { selected: JSON.stringify(selected), considered: considered.map((entry) => JSON.stringify(entry)) };
}

function selections(result: Outcome) {
  if (!('alerts' in result)) return [];
  return result.alerts.map((alert) => ({
    alone: compact(selector.select(alert)),
    withHistory: compact(selector.select(alert, learning)),
  }));
}

const FIXTURES = readdirSync(join(ROOT, 'test/fixtures/alerts'))
  .filter((file) => /^(alertmanager|cloudwatch)-.*\.json$/.test(file))
  .sort();

const kindOf = (name: string) =>
  name.replace(/^malformed\//, '').startsWith('alertmanager') ? 'alertmanager' : 'cloudwatch';

describe('normalize + select golden outputs', () => {
  it.each(FIXTURES)('%s', async (file) => {
    const body = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/alerts', file), 'utf8')) as unknown;
    const pinned = Object.entries(OPTION_SETS).map(([options, set]) => {
      const result = outcome(kindOf(file), structuredClone(body), set);
      // Selection depends on the alert only; pinned once, for the default options.
      return { options, result, ...(options === 'default' ? { selections: selections(result) } : {}) };
    });
    await expect(`${JSON.stringify(pinned, null, 2)}\n`).toMatchFileSnapshot(
      `./__golden__/${file.replace(/\.json$/, '')}.golden.json`,
    );
  });

  it('malformed fixtures: the same errors, naming the same fields', async () => {
    const pinned = fixtures()
      .filter(({ name }) => name.startsWith('malformed/') && !name.includes('stepfunctions'))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map(({ name, value }) => ({ name, result: outcome(kindOf(name), value, OPTIONS) }));
    await expect(`${JSON.stringify(pinned, null, 2)}\n`).toMatchFileSnapshot(
      './__golden__/malformed.golden.json',
    );
  });

  it('400 seeded mutations of the fixtures: the same outcome, as digests', async () => {
    const sources = fixtures().filter(({ name }) => /^(malformed\/)?(alertmanager|cloudwatch)-/.test(name));
    const cases = fc.sample(
      fc.record({
        source: fc.constantFrom(...sources),
        mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      }),
      { seed: 1914, numRuns: 400 },
    );
    const digests = cases.map(({ source, mutations }) => {
      const body = JSON.parse(toText(mutate(source.value, mutations) as Json)) as unknown;
      const result = outcome(kindOf(source.name), body, OPTIONS);
      const text = JSON.stringify({ result, selections: selections(result) });
      return `${source.name} ${'alerts' in result ? `${result.alerts.length} alerts` : result.error} ${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    });
    await expect(`${digests.join('\n')}\n`).toMatchFileSnapshot('./__golden__/mutations.golden.txt');
  });
});

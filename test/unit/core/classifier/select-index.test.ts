import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../../functions/core/alert.ts';
import { RunbookSelector, selectRunbook } from '../../../../functions/core/classifier/select.ts';
import type { LearningAggregate } from '../../../../functions/core/records.ts';
import type { ApplicabilityRule, Runbook } from '../../../../functions/core/runbook/model.ts';
import { libraryFile } from '../../../support/library.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

/**
 * RunbookSelector's index (rules filed under one gate's strings, visited only where the alert holds
 * one of them) never drops a runbook the full scan matches, nor adds one: over generated runbooks
 * (rules of plain strings, prefixes, equals-ignore-case, exists, anything-but and $or on the fields
 * alerts carry; `answers`) and generated alerts (the same pools of values, other spellings, fields
 * absent, holding arrays, numbers, null or objects), select equals selectRunbook over the same
 * candidates, considered list included.
 */

const BASE = loadRunbook(libraryFile('pod-crash-looping'));

const NAMES = ['KubePodCrashLooping', 'NodeDiskFull', 'HighLatency', 'Errors', 'kubepodcrashlooping'];
const NAMESPACES = ['AWS/Lambda', 'AWS/EC2', 'ContainerInsights', 'aws/lambda', 'shop'];
const METRICS = ['Errors', 'Throttles', 'CPUUtilization', 'node_memory_utilization'];
const JOBS = ['node-exporter', 'kube-state-metrics', 'apiserver'];
const URLS = ['https://runbooks.example.com/a', 'https://runbooks.example.com/b'];
const ENVIRONMENTS = ['prod', 'staging', 'dev'];

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);

/** A leaf's terms: the gate kinds (plain strings, equals-ignore-case) and kinds the gates leave alone. */
const terms = (pool: readonly string[]) =>
  fc.oneof(
    fc.uniqueArray(pick(pool), { minLength: 1, maxLength: 3 }),
    fc
      .uniqueArray(pick(pool), { minLength: 1, maxLength: 3 })
      .map((values) => values.map((value) => ({ 'equals-ignore-case': value.toUpperCase() }))),
    pick(pool).map((value) => [{ prefix: value.slice(0, 4) }]),
    fc.tuple(pick(pool), pick(pool)).map(([value, other]) => [value, { prefix: other.slice(0, 3) }]),
    fc.boolean().map((present) => [{ exists: present }]),
    pick(pool).map((value) => [{ 'anything-but': value }]),
  );

const labelsPattern = fc
  .record(
    { namespace: terms(NAMESPACES), metricName: terms(METRICS), job: terms(JOBS) },
    { requiredKeys: [] },
  )
  .filter((labels) => Object.keys(labels).length > 0);

const pattern: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      source: fc.oneof(
        pick([['prometheus'], ['cloudwatch'], ['prometheus', 'cloudwatch']]),
        pick(['prometheus', 'cloudwatch']).map((source) => [{ 'equals-ignore-case': source }]),
      ),
      name: terms(NAMES),
      labels: labelsPattern,
      annotations: terms(URLS).map((runbook_url) => ({ runbook_url })),
      $or: fc.tuple(labelsPattern, labelsPattern).map(([a, b]) => [{ labels: a }, { labels: b }]),
    },
    { requiredKeys: [] },
  )
  .filter((value) => Object.keys(value).length > 0);

const rule = fc.record({
  id: fc.constantFrom('r1', 'r2', 'r3'),
  pattern,
  confidence: pick([0.5, 0.7, 0.9, 1]),
}) as fc.Arbitrary<ApplicabilityRule>;

const runbook = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 4 }),
    rules: fc.array(rule, { maxLength: 3 }),
    answers: fc.option(
      fc.record({
        alerts: fc.uniqueArray(pick(NAMES), { maxLength: 3 }),
        runbookUrls: fc.uniqueArray(pick(URLS), { maxLength: 2 }),
        confidence: pick([0.5, 0.8, 0.95]),
      }),
      { nil: undefined },
    ),
    environments: fc.uniqueArray(pick(ENVIRONMENTS), { minLength: 1, maxLength: 3 }),
  })
  .map(
    ({ id, rules, answers, environments }): Runbook => ({
      ...BASE,
      id,
      applicabilityRules: rules,
      answers,
      environmentConstraints: { ...BASE.environmentConstraints, environments },
    }),
  );

/** What an alert holds at a gated field: a value of the pool in some spelling, or no string at all. */
const held = (pool: readonly string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: pick(pool) },
    { weight: 2, arbitrary: pick(pool).map((value) => value.toUpperCase()) },
    { weight: 1, arbitrary: fc.array(pick(pool), { maxLength: 2 }) },
    { weight: 1, arbitrary: pick([42, null, true, { nested: 'x' }, 'something-else']) },
  );

const alert = fc
  .record({
    source: pick(['prometheus', 'cloudwatch', 'manual', 'other']),
    name: held(NAMES),
    labels: fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record(
          { namespace: held(NAMESPACES), metricName: held(METRICS), job: held(JOBS) },
          { requiredKeys: [] },
        ),
      },
      { weight: 1, arbitrary: fc.array(fc.record({ namespace: held(NAMESPACES) }), { maxLength: 2 }) },
      { weight: 1, arbitrary: pick(['labels', null]) },
    ),
    annotations: fc.record({ runbook_url: held(URLS) }, { requiredKeys: [] }),
    environment: pick(ENVIRONMENTS),
  })
  .map((fields) => ({ status: 'firing', fingerprint: 'f', ...fields }) as unknown as Alert);

const learning = (ids: readonly string[]) =>
  new Map<string, LearningAggregate>(
    ids.map((runbookId, index) => [
      runbookId,
      {
        runbookId,
        executions: 4,
        succeeded: index % 5,
        byAlert: {},
      } as unknown as LearningAggregate,
    ]),
  );

describe('RunbookSelector index', () => {
  it('selects what the full scan selects, considered list included, over generated runbooks and alerts', () => {
    let selected = 0;
    let unmatched = 0;
    fc.assert(
      fc.property(
        fc.array(runbook, { minLength: 1, maxLength: 12 }),
        fc.array(alert, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (runbooks, alerts, withHistory) => {
          const selector = new RunbookSelector(runbooks);
          const history = withHistory ? learning(runbooks.map(({ id }) => id)) : new Map();
          for (const value of alerts) {
            const expected = selectRunbook(value, selector.candidates, history);
            expect(selector.select(value, history)).toStrictEqual(expected);
            if (expected.selected) selected++;
            else unmatched++;
          }
        },
      ),
      { numRuns: 300, seed: 14 },
    );
    // Both outcomes are exercised, not only the easy one.
    expect(selected).toBeGreaterThan(300);
    expect(unmatched).toBeGreaterThan(200);
  });

  it('gives each selection its own considered list, sharing only frozen entries no reader can change', () => {
    const other: Runbook = {
      ...BASE,
      id: 'other',
      answers: { alerts: ['Other'], runbookUrls: [], confidence: 0.5 },
    };
    const selector = new RunbookSelector([BASE, other]);
    const value = {
      source: 'prometheus',
      name: 'KubePodCrashLooping',
      environment: 'prod',
      labels: {},
      annotations: {},
    } as unknown as Alert;
    const first = selector.select(value);
    const second = selector.select(value);
    expect(first).toStrictEqual(selectRunbook(value, selector.candidates));
    expect(first.considered).not.toBe(second.considered);
    const rejection = first.considered.find((entry) => entry.outcome === 'no-rule-matched')!;
    expect(rejection.runbookId).toBe('other');
    expect(() => {
      rejection.reason = 'changed';
    }).toThrow(TypeError);
    first.considered.push({ runbookId: 'x', outcome: 'no-rule-matched', reason: '' });
    expect(second.considered).toHaveLength(2);
    expect(selector.select(value)).toStrictEqual(selectRunbook(value, selector.candidates));
  });
});

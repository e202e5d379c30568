import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../../functions/core/alert.ts';
import {
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
} from '../../../../functions/core/classifier/normalize.ts';
import {
  compileRules,
  learnedFactor,
  RunbookSelector,
  selectRunbook,
} from '../../../../functions/core/classifier/select.ts';
import type { LearningAggregate } from '../../../../functions/core/records.ts';
import type { Runbook } from '../../../../functions/core/runbook/model.ts';
import { LIBRARY_RUNBOOKS_DIR } from '../../../support/library.ts';
import { loadRunbook, ROOT } from '../../../support/runbooks.ts';
import { OPTIONS, payload } from './fixtures.ts';

const RUNBOOK_FILES = readdirSync(join(ROOT, LIBRARY_RUNBOOKS_DIR))
  .filter((file) => file.endsWith('.yaml'))
  .sort();
const RUNBOOKS = RUNBOOK_FILES.map((file) => loadRunbook(`${LIBRARY_RUNBOOKS_DIR}/${file}`));

/** The fixtures each library runbook must be selected for. */
const FIXTURES_BY_RUNBOOK: Record<string, string[]> = {
  'alb-target-5xx': ['cloudwatch-alarm-alb-5xx.json', 'cloudwatch-alarm-expression.json'],
  'ec2-status-check-failed': ['cloudwatch-alarm-ec2-status-check.json'],
  'lambda-throttling': ['cloudwatch-alarm-lambda-throttles.json'],
  'node-filesystem-filling': ['alertmanager-filesystem.json'],
  'node-memory-pressure': [
    'alertmanager-node-memory-pressure.json',
    'cloudwatch-alarm-container-insights-node-memory.json',
  ],
  'pod-crash-looping': ['alertmanager-crashloop.json'],
};

function alertsOf(fixture: string): Alert[] {
  return fixture.startsWith('alertmanager-')
    ? normalizeAlertmanager(payload(fixture), OPTIONS)
    : [normalizeCloudWatchAlarm(payload(fixture), OPTIONS)];
}

function aggregate(
  runbookId: string,
  overall: [number, number],
  byAlert: LearningAggregate['byAlert'] = {},
): LearningAggregate {
  const [executions, succeeded] = overall;
  return {
    runbookId,
    executions,
    succeeded,
    failed: executions - succeeded,
    aborted: 0,
    withoutHuman: succeeded,
    humanIntervention: 0,
    rollbacks: 0,
    rollbackFailures: 0,
    approvalsRequested: 0,
    approvalsAnswered: 0,
    byAlert,
    steps: [],
    updatedAt: '2026-11-25T00:00:00.000Z',
  };
}

/** A second runbook for node memory pressure, more confident than the shipped one. */
function rivalOf(runbook: Runbook, confidence: number): Runbook {
  return {
    ...runbook,
    id: 'node-memory-drain',
    applicabilityRules: [
      { id: 'any-node-memory-pressure', pattern: { name: ['KubeNodeMemoryPressure'] }, confidence },
    ],
  };
}

describe('every library runbook is selected by its own fixture', () => {
  const selector = new RunbookSelector(RUNBOOKS);

  it('has a fixture for every runbook of the library', () => {
    expect(Object.keys(FIXTURES_BY_RUNBOOK).sort()).toEqual(RUNBOOKS.map((runbook) => runbook.id).sort());
  });

  for (const [runbookId, fixtures] of Object.entries(FIXTURES_BY_RUNBOOK)) {
    for (const fixture of fixtures) {
      it(`${fixture} → ${runbookId}`, () => {
        for (const alert of alertsOf(fixture)) {
          const selection = selector.select(alert);
          expect(selection.selected?.runbookId, JSON.stringify(selection.considered, null, 2)).toBe(
            runbookId,
          );
          expect(selection.considered).toHaveLength(RUNBOOKS.length);
          expect(selection.considered.filter((entry) => entry.outcome === 'selected')).toHaveLength(1);
        }
      });
    }
  }
});

describe('selectRunbook', () => {
  const memory = RUNBOOKS.find((runbook) => runbook.id === 'node-memory-pressure')!;
  const alert = () => alertsOf('alertmanager-node-memory-pressure.json')[0]!;

  it('says why each candidate was not chosen when nothing matches', () => {
    const [watchdog] = normalizeAlertmanager(
      {
        ...payload('alertmanager-crashloop.json'),
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'Watchdog', severity: 'none' },
            annotations: {},
            startsAt: '2026-11-25T00:00:00Z',
            endsAt: '0001-01-01T00:00:00Z',
          },
        ],
      },
      OPTIONS,
    );
    const selection = selectRunbook(watchdog!, new RunbookSelector(RUNBOOKS).candidates);
    expect(selection.selected).toBeUndefined();
    expect(selection.considered.map((entry) => entry.runbookId)).toEqual(
      RUNBOOKS.map((runbook) => runbook.id).sort(),
    );
    expect(selection.considered.find((entry) => entry.runbookId === 'node-memory-pressure')).toEqual({
      runbookId: 'node-memory-pressure',
      outcome: 'no-rule-matched',
      reason: 'no applicability rule matched (kube-node-memory-pressure, container-insights-node-memory)',
    });
  });

  it('rejects a matching runbook in an environment it does not allow', () => {
    const selection = selectRunbook({ ...alert(), environment: 'qa' }, [{ runbook: memory }]);
    expect(selection.selected).toBeUndefined();
    expect(selection.considered).toEqual([
      {
        runbookId: 'node-memory-pressure',
        outcome: 'environment-not-allowed',
        reason:
          'rule kube-node-memory-pressure matched, but environment "qa" is not one the runbook allows (dev, staging, prod)',
        rule: 'kube-node-memory-pressure',
        confidence: 0.95,
      },
    ]);
  });

  it('scores a runbook without history at its best matching rule confidence', () => {
    const runbook: Runbook = {
      ...memory,
      applicabilityRules: [
        ...memory.applicabilityRules,
        {
          id: 'memory-pressure-in-prod',
          pattern: { name: ['KubeNodeMemoryPressure'], environment: ['prod'] },
          confidence: 0.99,
        },
      ],
    };
    const { selected, considered } = selectRunbook(alert(), [{ runbook }]);
    expect(selected).toEqual({
      runbookId: 'node-memory-pressure',
      runbookVersion: '1.0.0',
      score: 0.99,
      rule: 'memory-pressure-in-prod',
      confidence: 0.99,
      learnedFactor: 1,
    });
    expect(considered[0]!.reason).toBe(
      'rule memory-pressure-in-prod matched: confidence 0.99 × learned 1.00 = 0.99',
    );
  });

  it('lets history flip the choice between two matching runbooks', () => {
    const rival = rivalOf(memory, 0.97);
    const candidates = [{ runbook: memory }, { runbook: rival }];

    // Without history the more confident rule wins.
    expect(selectRunbook(alert(), candidates).selected?.runbookId).toBe('node-memory-drain');

    // The rival failed 4 times out of 4 on this alert; the shipped runbook worked 5 times out of 5.
    const learning = new Map([
      [
        'node-memory-drain',
        aggregate('node-memory-drain', [6, 1], { KubeNodeMemoryPressure: { executions: 4, succeeded: 0 } }),
      ],
      [
        'node-memory-pressure',
        aggregate('node-memory-pressure', [5, 5], {
          KubeNodeMemoryPressure: { executions: 5, succeeded: 5 },
        }),
      ],
    ]);
    const { selected, considered } = selectRunbook(alert(), candidates, learning);
    expect(selected?.runbookId).toBe('node-memory-pressure');
    // others = (0 + 1) / (0 + 2); forAlert = (5 + 2·0.5) / (5 + 2) = 6/7; factor 12/7.
    expect(selected?.learnedFactor).toBeCloseTo(12 / 7, 10);
    expect(selected?.score).toBeCloseTo((0.95 * 12) / 7, 10);
    expect(considered[1]).toMatchObject({ runbookId: 'node-memory-drain', outcome: 'outscored' });
    // others = (1 + 1) / (2 + 2); forAlert = (0 + 2·0.5) / (4 + 2) = 1/6; factor 1/3.
    expect(considered[1]!.learnedFactor).toBeCloseTo(1 / 3, 10);
    expect(considered[1]!.reason).toBe(
      "rule any-node-memory-pressure matched: confidence 0.97 × learned 0.33 = 0.32, below node-memory-pressure's 1.63",
    );
  });

  it('breaks ties by confidence, then by runbook id', () => {
    const a = rivalOf(memory, 0.95);
    const b = { ...rivalOf(memory, 0.95), id: 'a-node-memory-runbook' };
    const { selected } = selectRunbook(alert(), [{ runbook: memory }, { runbook: a }, { runbook: b }]);
    expect(selected?.runbookId).toBe('a-node-memory-runbook');
  });

  it('uses precompiled patterns when given, compiling none', () => {
    const always = compileRules(memory).map((compiled) => ({
      ...compiled,
      matches: () => compiled.rule.id === 'container-insights-node-memory',
    }));
    const { selected } = selectRunbook(alert(), [{ runbook: memory, compiledPatterns: always }]);
    // The real pattern of this rule needs source cloudwatch; the precompiled stand-in was used instead.
    expect(selected?.rule).toBe('container-insights-node-memory');
  });

  it('keeps a selector of compiled runbooks and finds a runbook by id', () => {
    const selector = new RunbookSelector(RUNBOOKS);
    expect(selector.candidates.every((candidate) => candidate.compiledPatterns.length > 0)).toBe(true);
    expect(selector.runbook('pod-crash-looping')?.name).toBe('Pod crash looping');
    expect(selector.runbook('missing')).toBeUndefined();
  });
});

describe('answers: the alerts a runbook says it answers', () => {
  const answering = loadRunbook('test/fixtures/runbooks/valid/resolved-workload.yaml');
  const crashLoop = (labels: Record<string, string>, annotations: Record<string, string> = {}) =>
    normalizeAlertmanager(
      {
        version: '4',
        groupKey: '{}:{alertname="X"}',
        status: 'firing',
        receiver: 'runbook-autopilot',
        groupLabels: {},
        commonLabels: {},
        commonAnnotations: {},
        externalURL: 'http://alertmanager:9093',
        alerts: [
          {
            status: 'firing',
            labels: { namespace: 'shop', pod: 'checkout-1', environment: 'dev', ...labels },
            annotations,
            startsAt: '2026-11-25T10:00:00Z',
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: 'http://prometheus:9090/graph',
            fingerprint: 'a1b2c3d4e5f60718',
          },
        ],
        truncatedAlerts: 0,
      },
      OPTIONS,
    )[0]!;

  it('selects a runbook by an alert name it lists, at its confidence', () => {
    const selection = selectRunbook(crashLoop({ alertname: 'KubePodCrashLooping' }), [
      { runbook: answering },
    ]);
    expect(selection.selected).toMatchObject({
      runbookId: 'resolved-workload',
      rule: 'answers-alert-name',
      confidence: 0.8,
    });
  });

  it('selects a runbook by the runbook_url annotation, ignoring case and a trailing slash, a little more confidently', () => {
    const selection = selectRunbook(
      crashLoop(
        { alertname: 'MyTeamsCrashLoop' },
        { runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/KubePodCrashLooping/' },
      ),
      [{ runbook: answering }],
    );
    expect(selection.selected).toMatchObject({ rule: 'answers-runbook-url', confidence: 0.85 });
  });

  it('does not select it for another alert, and names its implicit rules in the reason', () => {
    const selection = selectRunbook(crashLoop({ alertname: 'KubePodNotReady' }), [{ runbook: answering }]);
    expect(selection.selected).toBeUndefined();
    expect(selection.considered[0]!.reason).toBe(
      'no applicability rule matched (answers-alert-name, answers-runbook-url)',
    );
  });
});

describe('learnedFactor', () => {
  it('is 1 for a runbook never run (Laplace: 1/2 ÷ 1/2)', () => {
    expect(learnedFactor(undefined, 'KubeNodeMemoryPressure')).toBe(1);
    expect(learnedFactor(aggregate('r', [0, 0]), 'KubeNodeMemoryPressure')).toBe(1);
  });

  it('follows the overall record when this alert has none', () => {
    // overall = (9 + 1) / (10 + 2) = 5/6; forAlert = (0 + 2·5/6) / (0 + 2) = 5/6; factor = 5/3.
    expect(learnedFactor(aggregate('r', [10, 9]), 'KubeNodeMemoryPressure')).toBeCloseTo(5 / 3, 10);
  });

  it("weighs this alert's record above the overall one", () => {
    // 10/10 on other alerts but 0/3 on this one: others = 11/12; forAlert = (0 + 2·11/12) / 5 = 11/30; factor 11/15.
    const record = aggregate('r', [13, 10], { KubeNodeMemoryPressure: { executions: 3, succeeded: 0 } });
    expect(learnedFactor(record, 'KubeNodeMemoryPressure')).toBeCloseTo(11 / 15, 10);
    // For another alert name all 13 runs are "other": others = forAlert = 11/15; factor 22/15.
    expect(learnedFactor(record, 'OtherAlert')).toBeCloseTo(22 / 15, 10);
  });

  it('is plain Laplace without other history, stays between 0 and 2, and survives inconsistent counts', () => {
    expect(learnedFactor(aggregate('r', [1, 1], { A: { executions: 1, succeeded: 1 } }), 'A')).toBeCloseTo(
      4 / 3,
      10,
    );
    expect(learnedFactor(aggregate('r', [1, 0], { A: { executions: 1, succeeded: 0 } }), 'A')).toBeCloseTo(
      2 / 3,
      10,
    );
    const inconsistent = aggregate('r', [2, 2], { A: { executions: 5, succeeded: 1 } });
    expect(learnedFactor(inconsistent, 'A')).toBeCloseTo((1 + 2 * 0.5) / 7 / 0.5, 10);
    const many = aggregate('r', [1_000, 1_000], { A: { executions: 1_000, succeeded: 1_000 } });
    expect(learnedFactor(many, 'A')).toBeLessThan(2);
    const none = aggregate('r', [1_000, 0], { A: { executions: 1_000, succeeded: 0 } });
    expect(learnedFactor(none, 'A')).toBeGreaterThan(0);
  });
});

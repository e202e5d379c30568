import { describe, expect, it } from 'vitest';
import { learningReport, runbookSuggestions } from '../../../../functions/core/learning/aggregate.ts';
import type { LearningAggregate, UnmatchedAlertSummary } from '../../../../functions/core/records.ts';
import type { Runbook } from '../../../../functions/core/runbook/model.ts';
import { formatLearningReport } from '../../../../local/learn.ts';
import { POD_MEMORY_GROWTH } from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);
const NOW = new Date('2026-03-03T00:00:00Z');

function aggregate(overrides: Partial<LearningAggregate> = {}): LearningAggregate {
  return {
    runbookId: RUNBOOK.id,
    executions: 10,
    succeeded: 10,
    failed: 0,
    aborted: 0,
    withoutHuman: 10,
    humanIntervention: 0,
    rollbacks: 0,
    rollbackFailures: 0,
    approvalsRequested: 0,
    approvalsAnswered: 0,
    byAlert: {},
    steps: [],
    updatedAt: NOW.toISOString(),
    ...overrides,
  };
}

function withTargets(targets: Runbook['optimizationTargets']): Runbook {
  return { ...RUNBOOK, optimizationTargets: targets };
}

describe('the learning report’s notes against targets', () => {
  it('notes approvals slower than 5 minutes on average', () => {
    // Act
    const notes = runbookSuggestions(
      aggregate({ approvalsRequested: 4, approvalsAnswered: 4, meanApprovalWaitMs: 9 * 60_000 }),
      RUNBOOK,
    );

    // Assess
    expect(notes).toEqual([
      'approvals take 9.0 min on average, over the 5-minute target: add approvers or lower the risk that needs one',
    ]);
  });

  it('notes a success rate under the runbook’s target once it has five runs', () => {
    // Act
    const under = runbookSuggestions(
      aggregate({ succeeded: 7, failed: 3 }),
      withTargets({ successRate: 0.9 }),
    );
    const tooFew = runbookSuggestions(
      aggregate({ executions: 4, succeeded: 2, failed: 2 }),
      withTargets({ successRate: 0.9 }),
    );

    // Assess
    expect(under).toEqual(["success rate 70.0% is under the runbook's target 90.0%"]);
    expect(tooFew).toEqual([]);
  });

  it('notes rollbacks that failed', () => {
    // Act
    const notes = runbookSuggestions(aggregate({ rollbacks: 3, rollbackFailures: 1 }), RUNBOOK);

    // Assess
    expect(notes).toEqual(["1 rollback(s) failed: check the compensations' tools and permissions"]);
  });

  it('has nothing to say about a runbook on target', () => {
    // Act
    const notes = runbookSuggestions(aggregate(), withTargets({ successRate: 0.9, mttr: 900 }));

    // Assess
    expect(notes).toEqual([]);
  });
});

describe('the learning report', () => {
  it('carries each runbook’s failure patterns and success factors, and prints them with their support', () => {
    // Prepare
    const stored = aggregate({
      failurePatterns: [
        {
          stepId: 'pod-status',
          errorClass: 'Runbook.StepTimeout',
          labels: { namespace: 'payments' },
          support: 3,
          runs: 3,
          confidence: 1,
        },
      ],
      successFactors: [
        {
          fact: 'steps.memory-usage.output.value',
          when: { greaterThanOrEquals: 91 },
          support: 4,
          succeeded: 4,
          successRate: 1,
          baselineSuccessRate: 0.625,
        },
      ],
    });
    const unmatched: UnmatchedAlertSummary[] = [
      {
        name: 'KubeQuotaAlmostFull',
        source: 'prometheus',
        count: 4,
        firstSeenAt: '2026-03-01T10:00:00Z',
        lastSeenAt: '2026-03-02T10:00:00Z',
        lastAlert: {
          source: 'prometheus',
          name: 'KubeQuotaAlmostFull',
          status: 'firing',
          severity: 'warning',
          summary: 'quota',
          environment: 'dev',
          resource: { type: 'k8s-resourcequota', id: 'shop-quota' },
          fingerprint: 'fp',
          startsAt: '2026-03-02T10:00:00Z',
        },
      },
    ];

    // Act
    const report = learningReport([stored], [RUNBOOK], unmatched, NOW);
    const lines = formatLearningReport(report);

    // Assess
    expect(report.runbooks[0]).toMatchObject({
      failurePatterns: stored.failurePatterns,
      successFactors: stored.successFactors,
    });
    expect(lines).toContain(
      '  pod-memory-growth/pod-status  Runbook.StepTimeout  on namespace=payments: 3 of 3 runs (100%)',
    );
    expect(lines).toContain(
      '  pod-memory-growth  steps.memory-usage.output.value ≥ 91: succeeded 4 of 4 (100%; all runs that recorded it 63%)',
    );
    expect(report.suggestions).toEqual([
      'no runbook matches prometheus alert "KubeQuotaAlmostFull" (seen 4 times): `runbook learn recommend --write` writes a skeleton for it, or add an applicability rule',
    ]);
  });
});

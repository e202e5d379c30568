import { describe, expect, it } from 'vitest';
import {
  type AutomationRun,
  automationRunOf,
  involvementOf,
  judgeDemotion,
  proposePromotion,
  stepSummary,
  trailingFailures,
  wilsonLowerBound,
} from '../../../../functions/core/automation/evidence.ts';
import {
  AutomationPolicy,
  effectiveLevel,
  lowerLevel,
} from '../../../../functions/core/automation/levels.ts';
import type { ApprovalRecord, ExecutionRecord, StepOutcome } from '../../../../functions/core/records.ts';

const POLICY = AutomationPolicy.parse({});

function run(index: number, overrides: Partial<AutomationRun> = {}): AutomationRun {
  return {
    executionId: `exec-${index}`,
    runbookId: 'scale',
    environment: 'staging',
    signature: 'WorkloadNeedsReplicas on k8s-deployment',
    incidentId: `inc-${index}`,
    mode: 'real',
    startedAt: new Date(Date.UTC(2026, 10, 1, 0, index)).toISOString(),
    stoppedAt: new Date(Date.UTC(2026, 10, 1, 0, index, 30)).toISOString(),
    status: 'succeeded',
    verdict: 'succeeded',
    involvement: 'no-human',
    involvementReasons: [],
    approvalsApproved: 0,
    diagnosticsSucceeded: true,
    changesValidated: true,
    wouldHaveChanged: [],
    ...overrides,
  };
}

const failed = (index: number, overrides: Partial<AutomationRun> = {}) =>
  run(index, { status: 'failed', verdict: 'failed', involvement: 'human-acted', ...overrides });

function execution(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    id: 'exec-1',
    runbookId: 'scale',
    runbookVersion: '1.0.0',
    incidentId: 'inc-1',
    environment: 'staging',
    dryRun: false,
    status: 'succeeded',
    alert: {
      source: 'prometheus',
      name: 'WorkloadNeedsReplicas',
      status: 'firing',
      severity: 'warning',
      summary: 'web needs more replicas',
      environment: 'staging',
      resource: { type: 'k8s-deployment', id: 'shop/web', namespace: 'shop' },
      fingerprint: 'fp-1',
      startsAt: '2026-11-01T00:00:00.000Z',
    },
    startedAt: '2026-11-01T00:01:00.000Z',
    stoppedAt: '2026-11-01T00:02:00.000Z',
    resourceKey: 'k8s-deployment/shop/web',
    control: { pauseRequested: false, abortRequested: false },
    outcome: {
      status: 'succeeded',
      rolledBack: false,
      rollbackFailed: false,
      escalated: false,
      humanIntervention: false,
      approvals: 0,
      approvalsAnswered: 0,
      approvalWaitMs: 0,
      recordedOutputs: {},
    },
    ...overrides,
  } as ExecutionRecord;
}

function outcome(overrides: Partial<StepOutcome>): StepOutcome {
  return {
    executionId: 'exec-1',
    stepId: 'step',
    kind: 'step',
    name: 'A step',
    tool: 'k8s.workload-status',
    mutating: false,
    risk: 'low',
    attempt: 1,
    status: 'succeeded',
    startedAt: '2026-11-01T00:01:00.000Z',
    parameters: {},
    dryRun: false,
    ...overrides,
  };
}

describe('the Wilson lower bound', () => {
  it('matches the textbook values at 95% confidence, and claims little from few runs', () => {
    // Assess: published values of the Wilson score interval (z = 1.96)
    expect(wilsonLowerBound(10, 10, 0.95)).toBeCloseTo(0.7225, 3);
    expect(wilsonLowerBound(5, 5, 0.95)).toBeCloseTo(0.5655, 3);
    expect(wilsonLowerBound(8, 10, 0.95)).toBeCloseTo(0.4902, 3);
    expect(wilsonLowerBound(0, 20, 0.95)).toBe(0);
    expect(wilsonLowerBound(0, 0, 0.95)).toBeUndefined();
    expect(wilsonLowerBound(95, 100, 0.95)!).toBeGreaterThan(wilsonLowerBound(19, 20, 0.95)!);
  });
});

describe('levels', () => {
  it('the effective level is the lowest of ceiling, environment default and stored, naming what bound it', () => {
    expect(effectiveLevel({ ceiling: 'autonomous', environmentDefault: 'autonomous' })).toMatchObject({
      level: 'autonomous',
      boundBy: 'runbook-ceiling',
    });
    expect(
      effectiveLevel({ ceiling: 'autonomous', environmentDefault: 'approve', stored: 'autonomous' }),
    ).toMatchObject({ level: 'approve', boundBy: 'environment-default' });
    expect(
      effectiveLevel({ ceiling: 'shadow', environmentDefault: 'autonomous', stored: 'approve' }),
    ).toMatchObject({ level: 'shadow', boundBy: 'runbook-ceiling' });
    expect(
      effectiveLevel({ ceiling: 'autonomous', environmentDefault: 'autonomous', stored: 'observe' }),
    ).toMatchObject({ level: 'observe', boundBy: 'evidence', stored: 'observe' });
    expect(lowerLevel('approve', 'shadow')).toBe('shadow');
  });

  it('refuses a promotion threshold under the demotion threshold, naming the field', () => {
    const parsed = AutomationPolicy.safeParse({
      demotion: { threshold: 0.8 },
      promotion: { threshold: 0.6 },
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['promotion', 'threshold']);
  });
});

describe('demotion', () => {
  it('drops autonomous to approve after two failed runs in a row, with the runs as evidence', () => {
    const runs = [run(1), failed(2), failed(3)];
    expect(judgeDemotion('autonomous', runs, POLICY)).toMatchObject({
      from: 'autonomous',
      to: 'approve',
      evidence: { consecutiveFailures: 2, executions: ['exec-2', 'exec-3'] },
    });
  });

  it('a success between failures breaks the streak; an abort that undid nothing neither counts nor breaks it', () => {
    expect(judgeDemotion('autonomous', [failed(1), run(2), failed(3)], POLICY)).toBeUndefined();
    const aborted = run(3, { status: 'aborted', verdict: 'aborted' });
    expect(
      trailingFailures([failed(1), run(2), failed(3), aborted, failed(4)]).map((r) => r.executionId),
    ).toEqual(['exec-3', 'exec-4']);
  });

  it('demotes on a Wilson bound under the threshold once the signature has enough runs, not before', () => {
    // 3 of 5 succeeded, failures not in a row: bound ≈ 0.23 < 0.5
    const five = [run(1), failed(2), run(3), failed(4), run(5)];
    const four = five.slice(0, 4).concat(run(6));
    expect(judgeDemotion('autonomous', five, POLICY)).toMatchObject({
      to: 'approve',
      evidence: { signature: 'WorkloadNeedsReplicas on k8s-deployment', evidence: { runs: 5, succeeded: 3 } },
    });
    expect(judgeDemotion('autonomous', four.slice(0, 4), POLICY)).toBeUndefined();
  });

  it('judges each alert signature on its own runs', () => {
    const other = (index: number) => failed(index, { signature: 'Other on k8-node' });
    const runs = [other(1), run(2), other(3), run(4), run(5), run(6), run(7)];
    // Other's failures are not in a row and Other has too few runs; the newest signature is healthy.
    expect(judgeDemotion('autonomous', runs, POLICY)).toBeUndefined();
  });

  it('never demotes a level that is not autonomous (approve is where a demoted runbook earns its way back)', () => {
    expect(judgeDemotion('approve', [failed(1), failed(2), failed(3)], POLICY)).toBeUndefined();
  });
});

describe('promotion proposals', () => {
  const demoted = effectiveLevel({
    ceiling: 'autonomous',
    environmentDefault: 'autonomous',
    stored: 'approve',
  });

  it('proposes approve → autonomous after enough verified successes at approve since it was set', () => {
    const since = run(0).startedAt;
    const runs = Array.from({ length: 10 }, (_, index) => run(index + 1, { level: 'approve' }));
    const { proposal } = proposePromotion(demoted, runs, since, POLICY);
    expect(proposal).toMatchObject({
      from: 'approve',
      to: 'autonomous',
      evidence: { runsSinceLevelSet: 10 },
    });
    expect(proposal?.reason).toBe(
      'verified successful runs: 10 of 10 at approve, at least 72.2% at 95.0% confidence (threshold 70.0%)',
    );
  });

  it('counts only runs since the level was set, and says what is missing', () => {
    const runs = Array.from({ length: 10 }, (_, index) => run(index + 1, { level: 'approve' }));
    expect(proposePromotion(demoted, runs, run(5).startedAt, POLICY)).toEqual({
      why: '6 run(s) at approve since it was set; a promotion needs 10',
    });
    const mixed = [...runs.slice(0, 7), failed(8), failed(9), run(10), run(11), run(12)];
    expect(proposePromotion(demoted, mixed, undefined, POLICY).why).toContain('10 of 12');
  });

  it('a shadow level earns its way up on diagnostics and dry-run changes, never on real-run rates', () => {
    const shadow = effectiveLevel({
      ceiling: 'autonomous',
      environmentDefault: 'autonomous',
      stored: 'shadow',
    });
    const runs = Array.from({ length: 10 }, (_, index) =>
      run(index + 1, { mode: 'shadow', level: 'shadow', verdict: undefined, involvement: undefined }),
    );
    expect(proposePromotion(shadow, runs, undefined, POLICY).proposal).toMatchObject({
      from: 'shadow',
      to: 'approve',
    });
    const invalid = runs.map((entry, index) => (index < 4 ? { ...entry, changesValidated: false } : entry));
    expect(proposePromotion(shadow, invalid, undefined, POLICY).proposal).toBeUndefined();
  });

  it('proposes nothing above what the ceiling and the environment allow', () => {
    const capped = effectiveLevel({
      ceiling: 'approve',
      environmentDefault: 'autonomous',
      stored: 'approve',
    });
    const runs = Array.from({ length: 20 }, (_, index) => run(index + 1));
    expect(proposePromotion(capped, runs, undefined, POLICY)).toEqual({
      why: "at approve, the highest the runbook's ceiling allows",
    });
  });
});

describe('who had to step in', () => {
  const approval = (status: ApprovalRecord['status'], approver = 'alice@example.com') =>
    ({
      status,
      decisions: [
        { approver, decision: status === 'rejected' ? 'reject' : 'approve', at: '2026-11-01T00:01:30.000Z' },
      ],
    }) as Pick<ApprovalRecord, 'status' | 'decisions'>;

  it('an approval alone is not an intervention; an escalation, an abort, a rejection or a reported fix is', () => {
    expect(involvementOf(execution(), [approval('approved')], [])).toEqual({
      involvement: 'approval-only',
      reasons: ['approved by alice@example.com'],
      approvalsApproved: 1,
    });
    expect(involvementOf(execution(), [], [])).toMatchObject({ involvement: 'no-human' });
    const escalated = execution({
      outcome: { ...execution().outcome!, status: 'failed', escalated: true },
    });
    expect(involvementOf(escalated, [], []).reasons).toEqual(['escalated to people']);
    expect(involvementOf(execution(), [approval('rejected', 'bob@example.com')], []).reasons).toEqual([
      'approval rejected by bob@example.com',
    ]);
    expect(
      involvementOf(execution(), [approval('approved')], [{ kind: 'manual-fix', by: 'carol@example.com' }]),
    ).toMatchObject({ involvement: 'human-acted', reasons: ['manual-fix by carol@example.com'] });
    const aborted = execution({
      control: { pauseRequested: false, abortRequested: true, requestedBy: 'dana@example.com' },
    });
    expect(involvementOf(aborted, [], []).reasons).toEqual(['aborted by dana@example.com']);
  });

  it('a dry run keeps what it would have changed and whether its diagnostics worked, with no verdict', () => {
    const outcomes = [
      outcome({ stepId: 'status', status: 'succeeded' }),
      outcome({
        stepId: 'scale-up',
        tool: 'k8s.scale',
        mutating: true,
        status: 'dry-run',
        dryRun: true,
        parameters: { replicas: 3 },
        output: { previousReplicas: 1 },
      }),
      outcome({ stepId: 'verify-alert-resolved', kind: 'check', status: 'skipped' }),
    ];
    const shadow = automationRunOf(
      execution({ dryRun: true, automationLevel: 'shadow' }),
      outcomes,
      [],
      [],
      { status: 'resolved', resolvedAt: '2026-11-01T00:05:00.000Z' },
      new Date('2026-11-01T00:06:00.000Z'),
    )!;
    expect(shadow).toMatchObject({
      mode: 'shadow',
      diagnosticsSucceeded: true,
      changesValidated: true,
      clearing: 'on-its-own',
      wouldHaveChanged: [
        { stepId: 'scale-up', parameters: { replicas: 3 }, output: { previousReplicas: 1 } },
      ],
    });
    expect(shadow.verdict).toBeUndefined();
    expect(shadow.involvement).toBeUndefined();
    expect(
      stepSummary([
        outcome({ stepId: 'status', status: 'failed' }),
        outcome({ stepId: 'status', attempt: 2 }),
      ]),
    ).toMatchObject({ diagnosticsSucceeded: true });
    expect(stepSummary([outcome({ stepId: 'status', status: 'timed-out' })]).diagnosticsSucceeded).toBe(
      false,
    );
  });
});

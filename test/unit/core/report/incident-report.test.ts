import { marked } from 'marked';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../../functions/core/audit/events.ts';
import type { ApprovalRecord, ExecutionRecord, StepOutcome } from '../../../../functions/core/records.ts';
import {
  type IncidentReportRecords,
  incidentReport,
  renderIncidentReport,
} from '../../../../functions/core/report/incident-report.ts';
import { cell, humanDuration, text } from '../../../../functions/core/report/markdown.ts';
import { ALERT_STARTED_AT, rolloutHistory } from '../findings/fixtures.ts';

/** Seeded records of one execution: a deployment 3 minutes before the alert, a restart approved by alice. */

const HOSTILE = 'web|prod`rm -rf`\n## injected <img src=x onerror=alert(1)> *bold* [link](http://evil)';

function execution(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    id: 'exec-report-1',
    runbookId: 'pod-crash-looping',
    runbookVersion: '1.2.0',
    incidentId: 'inc-1',
    environment: 'prod',
    dryRun: false,
    status: 'succeeded',
    alert: {
      source: 'prometheus',
      name: 'KubePodCrashLooping',
      status: 'firing',
      severity: 'critical',
      summary: HOSTILE,
      environment: 'prod',
      resource: { type: 'k8s-deployment', id: 'shop/checkout|x' },
      fingerprint: 'fp-1',
      startsAt: ALERT_STARTED_AT,
    },
    startedAt: '2024-05-01T12:01:00.000Z',
    stoppedAt: '2024-05-01T12:09:30.000Z',
    resourceKey: 'k8s-deployment/shop/checkout',
    control: { pauseRequested: false, abortRequested: false },
    outcome: {
      status: 'succeeded',
      rolledBack: false,
      rollbackFailed: false,
      escalated: false,
      humanIntervention: true,
      approvals: 1,
      approvalsAnswered: 1,
      approvalWaitMs: 60_000,
      timeToRecoverMs: 570_000,
      recordedOutputs: {},
    },
    ...overrides,
  };
}

function step(overrides: Partial<StepOutcome> & Pick<StepOutcome, 'stepId' | 'startedAt'>): StepOutcome {
  return {
    executionId: 'exec-report-1',
    kind: 'step',
    name: overrides.stepId,
    phase: 'diagnose',
    tool: 'k8s.pods',
    mutating: false,
    risk: 'low',
    attempt: 1,
    status: 'succeeded',
    parameters: {},
    dryRun: false,
    ...overrides,
  };
}

const history = rolloutHistory();

function approval(): Omit<ApprovalRecord, 'taskToken'> {
  return {
    id: 'approval-1',
    executionId: 'exec-report-1',
    runbookId: 'pod-crash-looping',
    requirement: 'sre-approves-restart',
    target: { kind: 'step', id: 'restart' },
    environment: 'prod',
    risk: 'medium',
    approverGroups: ['sre-oncall'],
    approvers: ['alice@example.com', 'bob@example.com'],
    quorum: 1,
    status: 'approved',
    decisions: [
      {
        approver: 'alice@example.com',
        decision: 'approve',
        comment: 'go | ahead',
        at: '2024-05-01T12:04:00.000Z',
      },
    ],
    requestedAt: '2024-05-01T12:03:00.000Z',
    expiresAt: '2024-05-01T12:13:00.000Z',
    decidedAt: '2024-05-01T12:04:00.000Z',
    plan: [],
    alert: execution().alert,
  };
}

function pauseEvent(at: string): AuditRecord {
  return {
    id: 'override.pause:1',
    kind: 'override.pause',
    at,
    actor: { type: 'person', id: 'carol@example.com' },
    executionId: 'exec-report-1',
    result: 'accepted',
    reason: 'look first',
    trail: 'execution:exec-report-1',
    recordedAt: at,
    order: `${at}#1`,
  } as AuditRecord;
}

function records(overrides: Partial<IncidentReportRecords> = {}): IncidentReportRecords {
  return {
    execution: execution(),
    // Given out of order on purpose: the timeline sorts by time.
    steps: [
      step({
        stepId: 'restart',
        name: 'Restart the workload',
        tool: 'k8s.rollout-restart',
        mutating: true,
        risk: 'medium',
        phase: 'remediate',
        startedAt: '2024-05-01T12:04:10.000Z',
        finishedAt: '2024-05-01T12:05:10.000Z',
        durationMs: 60_000,
        parameters: { namespace: 'shop', name: 'checkout' },
      }),
      step({
        stepId: history.stepId,
        name: 'Rollout history',
        tool: history.tool,
        startedAt: '2024-05-01T12:01:05.000Z',
        finishedAt: history.observedAt,
        durationMs: 2_000,
        output: history.output,
      }),
      step({
        stepId: 'pods-ready',
        kind: 'check',
        name: 'Pods are ready',
        tool: 'k8s.workload-status',
        startedAt: '2024-05-01T12:08:00.000Z',
        finishedAt: '2024-05-01T12:09:00.000Z',
        durationMs: 60_000,
      }),
    ],
    approvals: [approval()],
    audit: [pauseEvent('2024-05-01T12:02:30.000Z')],
    runbook: { name: 'Pod crash looping', alertResolvedWithinSeconds: 600 },
    generatedAt: '2024-05-01T13:00:00.000Z',
    ...overrides,
  };
}

describe('markdown escaping', () => {
  it('keeps every value from an alert or a tool to one line of inert text', () => {
    // Act
    const escaped = text(HOSTILE);

    // Assess: no line break, no raw HTML, pipes, backticks, emphasis and link brackets escaped
    expect(escaped).not.toMatch(/[\n\r]/);
    expect(escaped).not.toContain('<img');
    expect(escaped).toContain('&lt;img');
    expect(escaped).toContain('web\\|prod\\`rm -rf\\`');
    expect(escaped).toContain('\\*bold\\*');
    expect(escaped).toContain('\\[link\\]');
    expect(text('a\u2028b\rc')).toBe('a b c');
    expect(text('x'.repeat(600))).toHaveLength(500);
    expect(cell('')).toBe('—');
  });

  it('renders a hostile label as the same text, in one table cell, with no HTML element', () => {
    // Act
    const markdown = renderIncidentReport(incidentReport(records()));
    const html = marked.parse(markdown, { async: false });

    // Assess: the alert table keeps two columns on every row; the summary shows as text, no element
    const alertTable = markdown.split('## Alert')[1]!.split('## Outcome')[0]!;
    for (const row of alertTable.split('\n').filter((line) => line.startsWith('|')))
      expect(row.split(/(?<!\\)\|/).length - 2).toBe(2);
    expect(html).not.toMatch(/<img|<h2[^>]*>injected/);
    // The link syntax stays text (a bare URL may still be autolinked, as GitHub does with any text).
    expect(html).not.toContain('>link</a>');
    expect(html).toContain('[link](');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(markdown).not.toContain('\n## injected');
  });
});

describe('incident report', () => {
  it('orders the timeline by time: alert, start, diagnostic, pause, approval, decision, change, check, end', () => {
    // Act
    const report = incidentReport(records());

    // Assess
    expect(report.timeline.map((entry) => `${entry.source}:${entry.at}`)).toEqual([
      `alert:${ALERT_STARTED_AT}`,
      'execution:2024-05-01T12:01:00.000Z',
      'step:2024-05-01T12:01:05.000Z',
      'override:2024-05-01T12:02:30.000Z',
      'approval:2024-05-01T12:03:00.000Z',
      'approval:2024-05-01T12:04:00.000Z',
      'step:2024-05-01T12:04:10.000Z',
      'step:2024-05-01T12:08:00.000Z',
      'execution:2024-05-01T12:09:30.000Z',
    ]);
    const markdown = renderIncidentReport(report);
    const rows = markdown.split('## Timeline')[1]!.split('## Findings')[0]!;
    expect(rows.indexOf('Rollout history')).toBeLessThan(
      rows.indexOf('Pause requested by carol@example.com'),
    );
    expect(rows.indexOf('Pause requested')).toBeLessThan(rows.indexOf('alice@example.com approved'));
    expect(rows).toContain(
      '| 2024-05-01 12:04:10Z | 2024-05-01 12:05:10Z | Change Restart the workload (restart, k8s.rollout-restart) | succeeded | 1 min |',
    );
  });

  it('measures time to mitigate from the alert start to the verified end, and none when rolled back or dry', () => {
    // Act
    const verified = incidentReport(records());
    const rolledBack = incidentReport(
      records({
        execution: execution({
          outcome: {
            ...execution().outcome!,
            status: 'failed',
            rolledBack: true,
            timeToRecoverMs: undefined,
          },
          status: 'failed',
        }),
      }),
    );
    const dry = incidentReport(records({ execution: execution({ dryRun: true }) }));
    const noFigure = incidentReport(
      records({
        execution: execution({ outcome: { ...execution().outcome!, timeToRecoverMs: undefined } }),
      }),
    );

    // Assess
    expect(verified.timeToMitigateMs).toBe(570_000);
    expect(renderIncidentReport(verified)).toContain(
      '- Time to mitigate: 9 min 30 s (alert start to verified end)',
    );
    expect(verified.timeToStartMs).toBe(60_000);
    expect(rolledBack.timeToMitigateMs).toBeUndefined();
    expect(renderIncidentReport(rolledBack)).toContain('- Time to mitigate: not mitigated by this execution');
    expect(dry.timeToMitigateMs).toBeUndefined();
    // Without the recorded figure, from the alert start to the stop.
    expect(noFigure.timeToMitigateMs).toBe(570_000);
    expect(humanDuration(3_725_000)).toBe('1 h 2 min');
  });

  it('names the deployment before the alert as the likely cause, the change with who approved it, and the checks', () => {
    // Act
    const report = incidentReport(records());
    const markdown = renderIncidentReport(report);

    // Assess
    expect(report.causes[0]?.kind).toBe('recent-deployment');
    expect(markdown).toMatch(/## Findings and likely cause\n\n1\. Deployment shop\/checkout/);
    expect(report.changes).toEqual([
      expect.objectContaining({ stepId: 'restart', approvedBy: ['alice@example.com'], compensated: false }),
    ]);
    expect(markdown).toContain('| alice@example.com | no |');
    expect(markdown).toContain('1 of 1 success check(s) passed.');
    expect(markdown).toContain('Success needed the alert to resolve within 10 min of the remediation.');
    expect(markdown).toContain('  - alice@example.com approved at 2024-05-01 12:04:00Z: go \\| ahead');
  });

  it('verifies with the success checks only: not the prerequisites nor the resolution step; skipped apart', () => {
    // Prepare
    const base = records();
    const withChecks = records({
      runbook: { name: 'Pod crash looping', successCheckIds: ['pods-ready'] },
      steps: [
        step({
          stepId: 'resource',
          kind: 'check',
          name: 'Resolve',
          tool: 'resource.resolve',
          startedAt: '2024-05-01T12:01:01.000Z',
        }),
        step({
          stepId: 'cluster-reachable',
          kind: 'check',
          name: 'Cluster reachable',
          startedAt: '2024-05-01T12:01:02.000Z',
        }),
        ...base.steps,
        step({
          stepId: 'verify-alert-resolved',
          kind: 'check',
          name: 'Alert resolved',
          tool: 'incident.status',
          status: 'skipped',
          reason: 'no alert fired for a manual start',
          startedAt: '2024-05-01T12:09:01.000Z',
        }),
      ],
    });

    // Act
    const report = incidentReport(withChecks);
    const markdown = renderIncidentReport(report);

    // Assess
    expect(report.verification.map((check) => check.stepId)).toEqual(['pods-ready', 'verify-alert-resolved']);
    expect(markdown).toContain('1 of 1 success check(s) passed; 1 skipped.');
    expect(markdown).toContain('| Resolution Resolve (resource, resource.resolve) |');
    expect(markdown).toContain('| Prerequisite Cluster reachable (cluster-reachable, k8s.pods) |');
    expect(markdown).toContain('| Success check Pods are ready (pods-ready, k8s.workload-status) |');
  });

  it('lists compensations and the rollback in the timeline, and feedback when given', () => {
    // Prepare
    const base = records();
    const compensated = records({
      steps: [
        ...base.steps,
        step({
          stepId: 'restart',
          kind: 'compensation',
          name: 'Restart the workload',
          tool: 'k8s.rollout-undo',
          mutating: true,
          status: 'compensated',
          startedAt: '2024-05-01T12:09:10.000Z',
          finishedAt: '2024-05-01T12:09:20.000Z',
          durationMs: 10_000,
        }),
      ],
      feedback: [
        {
          executionId: 'exec-report-1',
          runbookId: 'pod-crash-looping',
          environment: 'prod',
          recipient: 'oncall@example.com',
          helpful: false,
          reason: 'restart <b>hid</b> the leak',
          stepId: 'restart',
          at: '2024-05-02T08:00:00.000Z',
        },
      ],
    });

    // Act
    const report = incidentReport(compensated);
    const markdown = renderIncidentReport(report);

    // Assess
    expect(report.changes[0]?.compensated).toBe(true);
    expect(markdown).toContain(
      'Compensation of Restart the workload (restart, k8s.rollout-undo) | compensated | 10 s',
    );
    expect(report.timeline.at(-1)).toMatchObject({ source: 'feedback' });
    expect(markdown).toContain('## Feedback\n\n0 helpful, 1 not helpful.');
    expect(markdown).toContain('restart &lt;b&gt;hid&lt;/b&gt; the leak');
  });
});

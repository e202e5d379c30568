import type { AuditRecord } from '../audit/events.ts';
import type { ExecutionFeedback } from '../feedback/records.ts';
import { type ExtractionProblem, extractFindings } from '../findings/extractors.ts';
import type { DiagnosticResult, Finding } from '../findings/finding.ts';
import { type LikelyCause, rankLikelyCauses } from '../findings/rank.ts';
import { likelyCauseLines } from '../findings/render.ts';
import type { ApprovalRecord, ExecutionRecord, StepOutcome } from '../records.ts';
import { RESOLVE_STEP_ID } from '../runbook/model.ts';
import { cell, humanDuration, table, text, when } from './markdown.ts';

/**
 * The incident report of one execution, in Markdown: the alert, the timeline (steps, approvals,
 * overrides, compensations), the findings and likely cause, what was changed and who approved it, the
 * outcome and how it was verified, time to mitigate. `incidentReport` digests the records into a
 * typed report; `renderIncidentReport` writes it. Both are pure; every value from an alert or a tool
 * output is escaped (report/markdown.ts).
 */

/** What the report is made from: the records of one execution, as the store and audit trail hold them. */
export interface IncidentReportRecords {
  execution: ExecutionRecord;
  /** Every attempt of every step, in the order they started. */
  steps: readonly StepOutcome[];
  approvals: ReadonlyArray<Omit<ApprovalRecord, 'taskToken'>>;
  /** The execution's audit trail, oldest first. */
  audit: readonly AuditRecord[];
  feedback?: readonly ExecutionFeedback[];
  runbook?: {
    name: string;
    /** successMetrics.alertResolved.within, seconds. */
    alertResolvedWithinSeconds?: number;
    /** successMetrics.checks ids: the checks that verify (the others are prerequisites). */
    successCheckIds?: readonly string[];
  };
  /** Where the execution is shown (dashboard or console). */
  executionUrl?: string;
  generatedAt: string;
}

export type TimelineSource = 'alert' | 'execution' | 'step' | 'approval' | 'override' | 'feedback';

export interface TimelineEntry {
  at: string;
  endedAt?: string;
  source: TimelineSource;
  /** Our words with escaped values in them (already Markdown). */
  event: string;
  status?: string;
  durationMs?: number;
  details?: string;
}

export interface ChangeMade {
  stepId: string;
  name: string;
  tool: string;
  status: string;
  parameters: Record<string, unknown>;
  approvedBy: string[];
  compensated: boolean;
  dryRun: boolean;
}

export interface VerificationCheck {
  stepId: string;
  name: string;
  status: string;
  details?: string;
}

export interface IncidentReport {
  execution: ExecutionRecord;
  runbookName: string;
  generatedAt: string;
  executionUrl?: string;
  timeline: TimelineEntry[];
  findings: Finding[];
  causes: LikelyCause[];
  findingProblems: ExtractionProblem[];
  changes: ChangeMade[];
  approvals: ReadonlyArray<Omit<ApprovalRecord, 'taskToken'>>;
  verification: VerificationCheck[];
  /** Alert start to the execution's verified end; undefined when it did not mitigate. */
  timeToMitigateMs?: number;
  /** Alert start to the execution's start. */
  timeToStartMs?: number;
  alertResolvedWithinSeconds?: number;
  feedback: readonly ExecutionFeedback[];
}

const OVERRIDE_WORDS: Partial<Record<AuditRecord['kind'], string>> = {
  'override.pause': 'Pause requested',
  'override.resume': 'Resume requested',
  'override.abort': 'Abort requested',
  'rollback.requested': 'Rollback requested',
  'execution.escalated': 'Escalated to a human',
  'approval.closed': 'Approval closed without a decision',
};

function milliseconds(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const span = Date.parse(to) - Date.parse(from);
  return Number.isFinite(span) && span >= 0 ? span : undefined;
}

function actorOf(record: AuditRecord): string {
  return record.actor.type === 'person' ? record.actor.id : `${record.actor.id} (platform)`;
}

/** The check the step runner records for successMetrics.alertResolved. */
export const ALERT_RESOLVED_CHECK_ID = 'verify-alert-resolved';

/** Whether a check verifies the outcome: a success metric, not a prerequisite or the resolution step. */
function verifies(outcome: StepOutcome, successCheckIds: readonly string[] | undefined): boolean {
  if (outcome.kind !== 'check') return false;
  if (outcome.stepId === ALERT_RESOLVED_CHECK_ID) return true;
  return successCheckIds ? successCheckIds.includes(outcome.stepId) : outcome.stepId !== RESOLVE_STEP_ID;
}

function stepLabel(outcome: StepOutcome, successCheckIds: readonly string[] | undefined): string {
  const what =
    outcome.kind === 'compensation'
      ? 'Compensation of'
      : outcome.stepId === RESOLVE_STEP_ID
        ? 'Resolution'
        : outcome.kind === 'check'
          ? verifies(outcome, successCheckIds)
            ? 'Success check'
            : 'Prerequisite'
          : outcome.kind === 'rollback'
            ? 'Rollback step'
            : outcome.mutating
              ? 'Change'
              : 'Diagnostic';
  const attempt = outcome.attempt > 1 ? `, attempt ${outcome.attempt}` : '';
  return `${what} ${text(outcome.name)} (${text(outcome.stepId)}, ${text(outcome.tool)}${attempt})`;
}

function stepDetails(outcome: StepOutcome): string | undefined {
  if (outcome.error) return `${text(outcome.error.name)}: ${text(outcome.error.message, 300)}`;
  if (outcome.reason) return text(outcome.reason, 300);
  return undefined;
}

function overrideEntry(record: AuditRecord): TimelineEntry | undefined {
  const words = OVERRIDE_WORDS[record.kind];
  if (!words) {
    if (record.kind === 'gate.verdict' && record.verdict !== 'allowed')
      return {
        at: record.at,
        source: 'override',
        event: `Gate ${text(record.gate)} ${text(record.verdict)}`,
        details: text(record.reason, 300),
      };
    return undefined;
  }
  const result = 'result' in record ? record.result : undefined;
  const reason =
    'reason' in record && typeof record.reason === 'string'
      ? record.reason
      : 'refusal' in record && typeof record.refusal === 'string'
        ? record.refusal
        : undefined;
  const target =
    record.kind === 'execution.escalated'
      ? ` to ${text(record.to.join(', '))}`
      : record.kind === 'approval.closed'
        ? ` (${text(record.status)})`
        : '';
  return {
    at: record.at,
    source: 'override',
    event: `${words}${target} by ${text(actorOf(record))}`,
    ...(result ? { status: result } : {}),
    ...(reason ? { details: text(reason, 300) } : {}),
  };
}

function timelineOf(records: IncidentReportRecords): TimelineEntry[] {
  const { execution } = records;
  const entries: TimelineEntry[] = [
    {
      at: execution.alert.startsAt,
      source: 'alert',
      event: `Alert ${text(execution.alert.name)} started firing on ${text(execution.alert.resource.id)}`,
      status: execution.alert.severity,
    },
    {
      at: execution.startedAt,
      source: 'execution',
      event: `Execution started: runbook ${text(execution.runbookId)} ${text(execution.runbookVersion)}${execution.dryRun ? ' (dry run)' : ''}`,
    },
  ];
  for (const outcome of records.steps) {
    const durationMs = outcome.durationMs ?? milliseconds(outcome.startedAt, outcome.finishedAt);
    const details = stepDetails(outcome);
    entries.push({
      at: outcome.startedAt,
      ...(outcome.finishedAt ? { endedAt: outcome.finishedAt } : {}),
      source: 'step',
      event: stepLabel(outcome, records.runbook?.successCheckIds),
      status: outcome.status,
      ...(durationMs === undefined ? {} : { durationMs }),
      ...(details ? { details } : {}),
    });
  }
  for (const approval of records.approvals) {
    entries.push({
      at: approval.requestedAt,
      source: 'approval',
      event: `Approval requested (${text(approval.requirement)}) for ${text(approval.target.kind)} ${text(approval.target.id)}, risk ${text(approval.risk)}, from ${text(approval.approvers.join(', '))}`,
      status: approval.status,
      ...(approval.decidedAt ? { endedAt: approval.decidedAt } : {}),
      ...(milliseconds(approval.requestedAt, approval.decidedAt) === undefined
        ? {}
        : { durationMs: milliseconds(approval.requestedAt, approval.decidedAt)! }),
    });
    for (const decision of approval.decisions)
      entries.push({
        at: decision.at,
        source: 'approval',
        event: `${text(decision.approver)} ${decision.decision === 'approve' ? 'approved' : 'rejected'} ${text(approval.target.kind)} ${text(approval.target.id)}`,
        status: decision.decision === 'approve' ? 'approved' : 'rejected',
        ...(decision.comment ? { details: text(decision.comment, 300) } : {}),
      });
  }
  for (const record of records.audit) {
    const entry = overrideEntry(record);
    if (entry) entries.push(entry);
  }
  if (execution.stoppedAt)
    entries.push({
      at: execution.stoppedAt,
      source: 'execution',
      event: `Execution ended`,
      status: execution.outcome?.status ?? execution.status,
      ...(milliseconds(execution.startedAt, execution.stoppedAt) === undefined
        ? {}
        : { durationMs: milliseconds(execution.startedAt, execution.stoppedAt)! }),
      ...(execution.outcome?.error
        ? {
            details: `${text(execution.outcome.error)}${execution.outcome.cause ? `: ${text(execution.outcome.cause, 300)}` : ''}`,
          }
        : {}),
    });
  for (const feedback of records.feedback ?? [])
    entries.push({
      at: feedback.at,
      source: 'feedback',
      event: `${text(feedback.recipient)} marked the run ${feedback.helpful ? 'helpful' : 'not helpful'}${feedback.stepId ? ` (step ${text(feedback.stepId)})` : ''}`,
      ...(feedback.reason ? { details: text(feedback.reason, 300) } : {}),
    });
  // By time; at the same instant in the order recorded above (alert, execution, steps, approvals, overrides).
  return entries
    .map((entry, index) => ({ entry, index, time: Date.parse(entry.at) }))
    .sort((a, b) => (a.time - b.time || a.index - b.index) as number)
    .map(({ entry }) => entry);
}

/** The last attempt of each step of a kind, in the order the steps first started. */
function lastAttempts(steps: readonly StepOutcome[], kinds: readonly StepOutcome['kind'][]): StepOutcome[] {
  const last = new Map<string, StepOutcome>();
  for (const outcome of steps)
    if (kinds.includes(outcome.kind)) last.set(`${outcome.kind}:${outcome.stepId}`, outcome);
  return [...last.values()];
}

function diagnosticResults(steps: readonly StepOutcome[]): DiagnosticResult[] {
  return lastAttempts(steps, ['step'])
    .filter((outcome) => !outcome.mutating && outcome.status === 'succeeded' && outcome.output !== undefined)
    .map((outcome) => ({
      stepId: outcome.stepId,
      tool: outcome.tool,
      observedAt: outcome.finishedAt ?? outcome.startedAt,
      output: outcome.output,
    }));
}

function approversOf(
  outcome: StepOutcome,
  approvals: IncidentReportRecords['approvals'],
): { approvedBy: string[] } {
  const approvedBy = approvals
    .filter(
      (approval) =>
        (approval.target.kind === 'step' && approval.target.id === outcome.stepId) ||
        (approval.target.kind === 'phase' && approval.target.id === outcome.phase),
    )
    .flatMap((approval) =>
      approval.decisions.filter((decision) => decision.decision === 'approve').map((d) => d.approver),
    );
  return { approvedBy: [...new Set(approvedBy)] };
}

/** Digests one execution's records into its report (pure: the same records give the same report). */
export function incidentReport(records: IncidentReportRecords): IncidentReport {
  const { execution } = records;
  const extraction = extractFindings(diagnosticResults(records.steps));
  const causes = rankLikelyCauses({
    alertStartedAt: execution.alert.startsAt,
    findings: extraction.findings,
  });
  const compensated = new Set(
    records.steps
      .filter((outcome) => outcome.kind === 'compensation' && outcome.status === 'compensated')
      .map((outcome) => outcome.stepId),
  );
  const changes = lastAttempts(records.steps, ['step', 'rollback'])
    .filter((outcome) => outcome.mutating && outcome.status !== 'skipped')
    .map((outcome) => ({
      stepId: outcome.stepId,
      name: outcome.name,
      tool: outcome.tool,
      status: outcome.status,
      parameters: outcome.parameters,
      ...approversOf(outcome, records.approvals),
      compensated: compensated.has(outcome.stepId),
      dryRun: outcome.dryRun,
    }));
  const verification = lastAttempts(records.steps, ['check'])
    .filter((outcome) => verifies(outcome, records.runbook?.successCheckIds))
    .map((outcome) => {
      const details = stepDetails(outcome);
      return {
        stepId: outcome.stepId,
        name: outcome.name,
        status: outcome.status,
        ...(details ? { details } : {}),
      };
    });
  const outcome = execution.outcome;
  const mitigated = outcome?.status === 'succeeded' && !outcome.rolledBack && !execution.dryRun;
  const timeToMitigateMs = mitigated
    ? (outcome.timeToRecoverMs ?? milliseconds(execution.alert.startsAt, execution.stoppedAt))
    : undefined;
  const timeToStartMs = milliseconds(execution.alert.startsAt, execution.startedAt);
  return {
    execution,
    runbookName: records.runbook?.name ?? execution.runbookId,
    generatedAt: records.generatedAt,
    ...(records.executionUrl ? { executionUrl: records.executionUrl } : {}),
    timeline: timelineOf(records),
    findings: extraction.findings,
    causes,
    findingProblems: extraction.problems,
    changes,
    approvals: records.approvals,
    verification,
    ...(timeToMitigateMs === undefined ? {} : { timeToMitigateMs }),
    ...(timeToStartMs === undefined ? {} : { timeToStartMs }),
    ...(records.runbook?.alertResolvedWithinSeconds === undefined
      ? {}
      : { alertResolvedWithinSeconds: records.runbook.alertResolvedWithinSeconds }),
    feedback: records.feedback ?? [],
  };
}

function outcomeSentence(report: IncidentReport): string {
  const { execution } = report;
  const outcome = execution.outcome;
  if (!outcome) return `Still ${text(execution.status)}: the execution has not ended yet.`;
  const words = {
    succeeded: execution.dryRun
      ? 'Succeeded as a dry run: nothing was changed.'
      : 'Succeeded: the remediation was verified.',
    failed: 'Failed.',
    aborted: 'Aborted by a person.',
  }[outcome.status];
  const extra = [
    outcome.error
      ? `Error ${text(outcome.error)}${outcome.cause ? `: ${text(outcome.cause, 300)}` : ''}.`
      : '',
    outcome.rolledBack
      ? outcome.rollbackFailed
        ? 'The rollback did not finish: check the compensations below.'
        : 'The changes made were rolled back.'
      : '',
    outcome.escalated ? 'A human was called in (escalation).' : '',
  ].filter((part) => part !== '');
  return [words, ...extra].join(' ');
}

/** `2 of 2 success check(s) passed` (skipped ones apart: they neither passed nor failed). */
export function verificationSummary(checks: readonly VerificationCheck[]): string {
  const passed = checks.filter((check) => check.status === 'succeeded').length;
  const skipped = checks.filter((check) => check.status === 'skipped').length;
  return `${passed} of ${checks.length - skipped} success check(s) passed${skipped > 0 ? `; ${skipped} skipped` : ''}`;
}

function verificationLines(report: IncidentReport): string[] {
  const lines: string[] = [];
  if (report.alertResolvedWithinSeconds !== undefined)
    lines.push(
      `Success needed the alert to resolve within ${humanDuration(report.alertResolvedWithinSeconds * 1_000)} of the remediation.`,
      '',
    );
  if (report.verification.length === 0) {
    lines.push('No success check ran.');
    return lines;
  }
  lines.push(
    `${verificationSummary(report.verification)}.`,
    '',
    ...table(
      ['Check', 'Status', 'Details'],
      report.verification.map((check) => [
        `${text(check.name)} (${text(check.stepId)})`,
        cell(check.status),
        check.details ?? '—',
      ]),
    ),
  );
  return lines;
}

/** The report as Markdown (GitHub-flavoured: tables). */
export function renderIncidentReport(report: IncidentReport): string {
  const { execution } = report;
  const { alert } = execution;
  const lines: string[] = [
    `# Incident report: ${text(report.runbookName)} on ${text(alert.resource.id)}`,
    '',
    `- Execution: ${text(execution.id)}${report.executionUrl ? ` (${text(report.executionUrl)})` : ''}`,
    `- Runbook: ${text(execution.runbookId)} ${text(execution.runbookVersion)}`,
    `- Environment: ${text(execution.environment)}${execution.dryRun ? ' (dry run: nothing was changed)' : ''}`,
    `- Status: ${text(execution.status)}`,
    `- Report generated: ${when(report.generatedAt)}`,
    '',
    '## Alert',
    '',
    ...table(
      ['Field', 'Value'],
      [
        ['Name', cell(alert.name)],
        ['Source', cell(alert.source)],
        ['Severity', cell(alert.severity)],
        ['Resource', `${cell(alert.resource.type)} ${text(alert.resource.id)}`],
        ['Started', when(alert.startsAt)],
        ['Summary', cell(alert.summary)],
        ['Fingerprint', cell(alert.fingerprint)],
      ],
    ),
    '',
    '## Outcome',
    '',
    outcomeSentence(report),
    '',
    `- Time to mitigate: ${
      report.timeToMitigateMs === undefined
        ? 'not mitigated by this execution'
        : `${humanDuration(report.timeToMitigateMs)} (alert start to verified end)`
    }`,
    `- Time to start: ${report.timeToStartMs === undefined ? '—' : `${humanDuration(report.timeToStartMs)} (alert start to execution start)`}`,
    ...(execution.outcome
      ? [
          `- Human intervention: ${execution.outcome.humanIntervention ? 'yes' : 'no'} (approvals asked ${execution.outcome.approvals}, answered ${execution.outcome.approvalsAnswered})`,
        ]
      : []),
    '',
    '### How it was verified',
    '',
    ...verificationLines(report),
    '',
    '## Timeline',
    '',
    ...table(
      ['Started (UTC)', 'Ended (UTC)', 'Event', 'Status', 'Duration', 'Details'],
      report.timeline.map((entry) => [
        when(entry.at),
        entry.endedAt ? when(entry.endedAt) : '—',
        entry.event,
        cell(entry.status),
        entry.durationMs === undefined ? '—' : humanDuration(entry.durationMs),
        entry.details ?? '—',
      ]),
    ),
    '',
    '## Findings and likely cause',
    '',
    ...likelyCauseLines(report.causes).map((line) => text(line, 1_000)),
    ...(report.findings.length > 0
      ? [
          '',
          ...table(
            ['Finding', 'Resource', 'When', 'Evidence'],
            report.findings.map((finding) => [
              text(finding.summary),
              cell(finding.resource),
              finding.at ? when(finding.at) : '—',
              text(finding.evidence.path),
            ]),
          ),
        ]
      : []),
    ...(report.findingProblems.length > 0
      ? ['', ...report.findingProblems.map((problem) => `- Not read: ${text(problem.message)}`)]
      : []),
    '',
    '## What was changed',
    '',
    ...(report.changes.length === 0
      ? ['Nothing: no change ran.']
      : table(
          ['Change', 'Tool', 'Status', 'Parameters', 'Approved by', 'Rolled back'],
          report.changes.map((change) => [
            `${text(change.name)} (${text(change.stepId)})`,
            cell(change.tool),
            `${cell(change.status)}${change.dryRun ? ' (dry run)' : ''}`,
            cell(change.parameters, 300),
            change.approvedBy.length > 0 ? text(change.approvedBy.join(', ')) : 'no approval needed',
            change.compensated ? 'yes' : 'no',
          ]),
        )),
    '',
    '## Approvals',
    '',
    ...(report.approvals.length === 0
      ? ['None asked.']
      : report.approvals.flatMap((approval) => [
          `- ${text(approval.requirement)} for ${text(approval.target.kind)} ${text(approval.target.id)} (risk ${text(approval.risk)}, quorum ${approval.quorum}): ${text(approval.status)}`,
          ...approval.decisions.map(
            (decision) =>
              `  - ${text(decision.approver)} ${decision.decision === 'approve' ? 'approved' : 'rejected'} at ${when(decision.at)}${decision.comment ? `: ${text(decision.comment, 300)}` : ''}`,
          ),
        ])),
  ];
  if (report.feedback.length > 0) {
    const helpful = report.feedback.filter((entry) => entry.helpful).length;
    lines.push(
      '',
      '## Feedback',
      '',
      `${helpful} helpful, ${report.feedback.length - helpful} not helpful.`,
      '',
      ...report.feedback.map(
        (entry) =>
          `- ${text(entry.recipient)}: ${entry.helpful ? 'helpful' : 'not helpful'}${entry.stepId ? ` (step ${text(entry.stepId)})` : ''}${entry.reason ? ` — ${text(entry.reason)}` : ''}`,
      ),
    );
  }
  lines.push('');
  return lines.join('\n');
}

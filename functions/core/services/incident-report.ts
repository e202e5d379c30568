import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { FollowUps } from '../../ports/follow-ups.ts';
import type { Store } from '../../ports/store.ts';
import type { AuditRecord } from '../audit/events.ts';
import { executionLink, type RuntimeConfig } from '../config.ts';
import { type IncidentReport, incidentReport, renderIncidentReport } from '../report/incident-report.ts';
import type { Runbook } from '../runbook/model.ts';
import { NotFoundError } from './control.ts';

/** An execution's trail is read in pages of this many events, at most this many pages. */
const AUDIT_PAGE = 1_000;
const AUDIT_PAGES = 10;

/**
 * Reads what an incident report is made of (the execution, its steps, approvals, audit trail and
 * feedback) and writes the report: `GET /api/executions/:id/report`, `runbook report ID`, the signed
 * report link of the final notification. The same code on AWS and embedded.
 */
export class IncidentReportService {
  constructor(
    private readonly deps: {
      store: Store;
      audit?: Pick<AuditTrail, 'query'>;
      followUps?: Pick<FollowUps, 'listExecutionFeedback'>;
      runbooks?: () => Promise<Runbook[]> | Runbook[];
      config?: Pick<RuntimeConfig, 'executionLinkTemplate'>;
      clock: Clock;
    },
  ) {}

  async report(executionId: string): Promise<IncidentReport> {
    const { store, audit, followUps, clock } = this.deps;
    const execution = await store.getExecution(executionId);
    if (!execution)
      throw new NotFoundError(
        `no execution "${executionId}": check the id (GET /api/executions or the dashboard lists them)`,
      );
    const [steps, approvals, trail, feedback, runbooks] = await Promise.all([
      store.listStepOutcomes(executionId),
      store.listApprovals(executionId),
      audit ? this.trail(executionId) : [],
      followUps ? followUps.listExecutionFeedback(execution.runbookId, executionId) : [],
      this.deps.runbooks ? this.deps.runbooks() : [],
    ]);
    const runbook = runbooks.find((candidate) => candidate.id === execution.runbookId);
    const url = this.deps.config ? executionLink(this.deps.config, execution) : undefined;
    const within = runbook?.successMetrics.alertResolved?.within;
    return incidentReport({
      execution,
      steps,
      approvals: approvals.map(({ taskToken: _token, ...approval }) => approval),
      audit: trail,
      feedback,
      ...(runbook
        ? {
            runbook: {
              name: runbook.name,
              successCheckIds: runbook.successMetrics.checks.map((check) => check.id),
              ...(within === undefined ? {} : { alertResolvedWithinSeconds: within }),
            },
          }
        : {}),
      ...(url ? { executionUrl: url } : {}),
      generatedAt: clock.now().toISOString(),
    });
  }

  async markdown(executionId: string): Promise<string> {
    return renderIncidentReport(await this.report(executionId));
  }

  private async trail(executionId: string): Promise<AuditRecord[]> {
    const events: AuditRecord[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < AUDIT_PAGES; page++) {
      const result = await this.deps.audit!.query(
        { execution: executionId },
        { limit: AUDIT_PAGE, ...(cursor ? { cursor } : {}) },
      );
      events.push(...result.events);
      cursor = result.cursor;
      if (!cursor) break;
    }
    return events;
  }
}

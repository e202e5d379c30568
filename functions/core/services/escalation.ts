import { randomUUID } from 'node:crypto';
import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { Alert } from '../alert.ts';
import { auditEventId, system } from '../audit/events.ts';
import { auditResourceKey, auditText, recordAudit } from '../audit/record.ts';
import { changesRunDry } from '../automation/levels.ts';
import { executionLink, type RuntimeConfig } from '../config.ts';
import { AslErrorName } from '../errors.ts';
import type { ExecutionContext } from '../execution-contract.ts';
import type { EscalationEvent, EscalationTrigger } from '../runbook/model.ts';
import { type ControlLinkMaker, controlLinkLines } from './approvals.ts';

/** The shape of the execution state the Escalate and Record tasks receive (`state.$: $`). */
export interface MachineState {
  execution?: ExecutionContext;
  alert?: Alert;
  failure?: { Error?: string; Cause?: string };
  rollbackError?: { Error?: string; Cause?: string };
  escalation?: unknown;
}

/** What happened, in the vocabulary of escalation triggers, from the state the machine carries. */
export function escalationEvent(state: MachineState): EscalationEvent {
  if (state.rollbackError) return 'rollback-failed';
  switch (state.failure?.Error) {
    case AslErrorName.PrerequisiteFailed:
      return 'prerequisite-failed';
    case AslErrorName.ApprovalRejected:
      return 'approval-rejected';
    case AslErrorName.ApprovalExpired:
      return 'approval-timeout';
    case AslErrorName.VerificationFailed:
    case AslErrorName.VerificationPending:
      return 'verification-failed';
    case AslErrorName.EscalationRequested:
      return 'escalation-requested';
    case AslErrorName.Aborted:
      return 'aborted';
    case AslErrorName.HealthWorse:
      return 'health-worse';
    default:
      return 'step-failed';
  }
}

const SEVERITY_RANK = { info: 0, ticket: 1, page: 2 } as const;

/**
 * Escalation: notifies the targets whose triggers match what happened. An event no trigger covers
 * still reaches the environment's `default` target, so nothing fails silently.
 */
export class EscalationService {
  constructor(
    private readonly deps: {
      notifier: Notifier;
      clock: Clock;
      logger: Logger;
      config: RuntimeConfig;
      audit?: AuditTrail;
      /** Signed pause/abort links in every escalation about an execution. */
      controlLinks?: ControlLinkMaker;
    },
  ) {}

  async escalate(triggers: EscalationTrigger[], rawState: Record<string, unknown>) {
    const state = rawState as MachineState;
    const event = escalationEvent(state);
    const matching = triggers.filter((trigger) => trigger.on.includes(event));
    const targets =
      matching.length > 0 ? [...new Set(matching.flatMap((trigger) => trigger.notify))] : ['default'];
    const severity = matching.reduce<'page' | 'ticket' | 'info'>(
      (max, trigger) => (SEVERITY_RANK[trigger.severity] > SEVERITY_RANK[max] ? trigger.severity : max),
      // A failed rollback, or a change followed by worse health, is a safety matter: page.
      matching.length > 0
        ? 'info'
        : event === 'rollback-failed' || event === 'health-worse'
          ? 'page'
          : 'ticket',
    );
    const { config, notifier, clock, logger } = this.deps;
    const execution = state.execution;
    const alert = state.alert;
    const recipients = targets.flatMap((target) => config.escalationTargets[target] ?? []);
    const unknown = targets.filter((target) => !config.escalationTargets[target]);
    if (unknown.length > 0)
      logger.warn('escalation targets not configured', { targets: unknown, environment: config.environment });
    const link = execution ? executionLink(config, execution) : undefined;
    // One message goes to every recipient of the targets: the links name the targets they were sent to.
    const stopLinks =
      execution && this.deps.controlLinks
        ? await this.deps.controlLinks.linksFor(execution.id, `escalation:${targets.join(',')}`)
        : [];
    const lines = [
      `${event.replace(/-/g, ' ')}: runbook ${execution?.runbookId ?? '?'} needs a human.`,
      '',
      `What happened: ${state.failure?.Error ?? event}${state.failure?.Cause ? ` — ${state.failure.Cause}` : ''}`,
      ...(state.rollbackError
        ? [`Rollback failed: ${state.rollbackError.Error ?? ''} — ${state.rollbackError.Cause ?? ''}`]
        : []),
      ...(alert
        ? [
            `Alert: ${alert.name} (${alert.severity}) — ${alert.summary}`,
            `Resource: ${alert.resource.type} ${alert.resource.id}`,
          ]
        : []),
      ...(execution ? [`Environment: ${execution.environment}`, `Execution: ${execution.id}`] : []),
      ...(changesRunDry(execution?.automationLevel)
        ? [
            `Automation level: ${execution?.automationLevel}: this run changed nothing (every change ran as its dry run); handle the alert as you would without it.`,
          ]
        : []),
      ...matching.flatMap((trigger) => (trigger.message ? [trigger.message] : [])),
      ...(link ? ['', `Details: ${link}`] : []),
      ...controlLinkLines(stopLinks),
    ];
    const subject = `[${severity}] ${execution?.runbookId ?? 'runbook'}: ${event.replace(/-/g, ' ')}${alert ? ` on ${alert.resource.id}` : ''}`;
    await notifier.send({
      id: randomUUID(),
      kind: 'escalation',
      to: recipients.length > 0 ? recipients : targets,
      subject,
      text: lines.join('\n'),
      links: [...(link ? [{ label: 'Execution', url: link }] : []), ...stopLinks],
      severity,
      ...(execution ? { executionId: execution.id } : {}),
      sentAt: clock.now().toISOString(),
    });
    if (execution)
      await recordAudit(this.deps.audit, clock, {
        kind: 'execution.escalated',
        id: auditEventId('execution.escalated', execution.id, event, state.failure?.Error ?? ''),
        actor: system('escalation'),
        executionId: execution.id,
        incidentId: execution.incidentId,
        runbookId: execution.runbookId,
        environment: execution.environment,
        ...(alert ? { resourceKey: auditResourceKey(alert) } : {}),
        to: recipients.length > 0 ? recipients : targets,
        reason: auditText(
          `${event}: ${state.failure?.Error ?? event}${state.failure?.Cause ? ` — ${state.failure.Cause}` : ''}`,
        ),
      });
    return { event, targets, severity };
  }
}

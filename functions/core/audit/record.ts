import { randomUUID } from 'node:crypto';
import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Alert } from '../alert.ts';
import { resourceKey } from '../classifier/identity.ts';
import { trimToBudget } from '../output-budget.ts';
import type { StepOutcome } from '../records.ts';
import { AUDIT_LIMITS, type AuditActor, type AuditEvent, auditEventId, system } from './events.ts';

/** `Omit` over each member of a union (TypeScript's own Omit would merge the kinds). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event before it has its id and time: `record` gives a random id and the clock's now unless set. */
export type AuditEventInput = DistributiveOmit<AuditEvent, 'id' | 'at'> & { id?: string; at?: string };

/**
 * Appends one event. Services call this where they decide or act; without a trail composed (a unit
 * test of something else) it records nothing. A trail that fails to record fails the caller.
 */
export async function recordAudit(
  audit: AuditTrail | undefined,
  clock: Clock,
  input: AuditEventInput,
): Promise<void> {
  if (!audit) return;
  await audit.record(
    { ...input, id: input.id ?? randomUUID(), at: input.at ?? clock.now().toISOString() } as AuditEvent,
    { fresh: input.id === undefined },
  );
}

/** Text cut to what an event holds (a reason, an error message): the full text stays in the execution. */
export function auditText(text: string): string {
  return text.length > AUDIT_LIMITS.textChars ? `${text.slice(0, AUDIT_LIMITS.textChars - 1)}…` : text;
}

/** The resource key of an alert, as events about it are indexed. */
export function auditResourceKey(alert: Pick<Alert, 'resource'>): string {
  return resourceKey(alert);
}

/** Statuses that end an attempt (a `running` outcome is the attempt starting). */
const STARTED: ReadonlySet<StepOutcome['status']> = new Set(['running']);

/**
 * The change event of a step outcome, when the outcome is a change (a mutating step, a rollback step
 * or a compensation); undefined for diagnostics and checks. `running` is the change starting, with its
 * resolved parameters; any other status is how it ended. Ids repeat for the same attempt and status,
 * so a retried write records once.
 */
export function changeEventOf(
  outcome: StepOutcome,
  context: { runbookId: string; environment: string; incidentId?: string; resourceKey?: string },
  actor: AuditActor = system('step-runner'),
): AuditEventInput | undefined {
  if (!outcome.mutating && outcome.kind !== 'compensation') return undefined;
  const envelope = {
    actor,
    executionId: outcome.executionId,
    runbookId: context.runbookId,
    environment: context.environment,
    ...(context.incidentId ? { incidentId: context.incidentId } : {}),
    ...(context.resourceKey ? { resourceKey: context.resourceKey } : {}),
    stepId: outcome.stepId,
    stepKind: outcome.kind,
    name: outcome.name.slice(0, 1_024),
    tool: outcome.tool,
    attempt: outcome.attempt,
    dryRun: outcome.dryRun,
  };
  const idParts = [outcome.executionId, outcome.kind, outcome.stepId, String(outcome.attempt)];
  const parameters = trimToBudget(outcome.parameters, AUDIT_LIMITS.parametersBytes);
  if (STARTED.has(outcome.status)) {
    return {
      ...envelope,
      kind: 'change.started',
      id: auditEventId('change.started', ...idParts),
      at: outcome.startedAt,
      risk: outcome.risk,
      parameters: parameters.value as Record<string, unknown>,
      ...(parameters.truncated ? { parametersTruncated: true } : {}),
    };
  }
  const output =
    outcome.output === undefined ? undefined : trimToBudget(outcome.output, AUDIT_LIMITS.outputBytes);
  return {
    ...envelope,
    kind: 'change.finished',
    id: auditEventId('change.finished', ...idParts, outcome.status),
    at: outcome.finishedAt ?? outcome.startedAt,
    status: outcome.status,
    parameters: parameters.value as Record<string, unknown>,
    ...(parameters.truncated ? { parametersTruncated: true } : {}),
    ...(outcome.durationMs === undefined ? {} : { durationMs: outcome.durationMs }),
    ...(output ? { output: output.value } : {}),
    ...(output?.truncated || outcome.outputTruncated ? { outputTruncated: true } : {}),
    ...(outcome.error
      ? { error: { name: outcome.error.name.slice(0, 256), message: auditText(outcome.error.message) } }
      : {}),
    ...(outcome.reason ? { reason: auditText(outcome.reason) } : {}),
  };
}

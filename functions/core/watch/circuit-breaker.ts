import { randomUUID } from 'node:crypto';
import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { Store } from '../../ports/store.ts';
import type { WatchStore } from '../../ports/watch.ts';
import { type AuditSource, auditEventId, person, system } from '../audit/events.ts';
import { auditText, recordAudit } from '../audit/record.ts';
import type { RuntimeConfig } from '../config.ts';
import { formatDuration } from '../duration.ts';
import { AslErrorName } from '../errors.ts';
import type { ExecutionRecord } from '../records.ts';
import type { Runbook } from '../runbook/model.ts';
import { ControlConflictError, NotFoundError } from '../services/control.ts';
import type { CircuitBreakerPolicy } from './policy.ts';
import type { BreakerFailure, CircuitBreaker } from './records.ts';

/** The component that opens breakers, as the audit trail names it. */
export const CIRCUIT_BREAKER = 'circuit-breaker';

/**
 * How a run ended that says nothing about whether the runbook works: a person said no or stopped it,
 * or a platform limit refused a change before it ran.
 */
const NOT_THE_RUNBOOKS_FAILURE: ReadonlySet<string> = new Set([
  AslErrorName.Aborted,
  AslErrorName.ApprovalRejected,
  AslErrorName.ApprovalExpired,
  AslErrorName.ApprovalRequired,
  AslErrorName.KillSwitch,
  AslErrorName.SafetyBlocked,
  AslErrorName.LimitExceeded,
  AslErrorName.RiskRefused,
  'Runbook.NotDeployed',
]);

/** A real run of the runbook that failed of itself (dry runs and refusals never count). */
export function countsAsFailure(execution: Pick<ExecutionRecord, 'dryRun' | 'outcome'>): boolean {
  const outcome = execution.outcome;
  if (outcome?.status !== 'failed' || execution.dryRun) return false;
  return !NOT_THE_RUNBOOKS_FAILURE.has(outcome.error ?? '');
}

/**
 * The failures that count now, oldest first: real failed runs that stopped within the policy's window,
 * and after the breaker was last closed (a person closing it starts the count again).
 */
export function failuresInWindow(
  executions: ReadonlyArray<Pick<ExecutionRecord, 'id' | 'dryRun' | 'outcome' | 'stoppedAt'>>,
  now: Date,
  policy: Pick<CircuitBreakerPolicy, 'within'>,
  closedAt?: string,
): BreakerFailure[] {
  const from = Math.max(now.getTime() - policy.within * 1_000, closedAt ? Date.parse(closedAt) : 0);
  const seen = new Set<string>();
  const failures: BreakerFailure[] = [];
  for (const execution of executions) {
    if (seen.has(execution.id) || !countsAsFailure(execution) || !execution.stoppedAt) continue;
    const stopped = Date.parse(execution.stoppedAt);
    if (stopped < from || stopped > now.getTime()) continue;
    seen.add(execution.id);
    failures.push({
      executionId: execution.id,
      stoppedAt: execution.stoppedAt,
      ...(execution.outcome?.error ? { error: execution.outcome.error.slice(0, 256) } : {}),
    });
  }
  return failures.sort((a, b) => a.stoppedAt.localeCompare(b.stoppedAt));
}

/** A runbook's breaker as the API shows it (closed when none was ever opened). */
export type BreakerView = Pick<CircuitBreaker, 'runbookId' | 'state'> & Partial<CircuitBreaker>;

/**
 * The circuit breaker per runbook: `policy.watch.circuitBreaker.failures` failed runs of one runbook
 * within `within`, across executions, open it (when the learning recorder records the run that makes
 * the count); while it is open the classifier starts no execution of that runbook; only a person
 * closes it (API, CLI, dashboard). Every change is recorded in the audit trail and told to the
 * policy's targets.
 */
export class CircuitBreakerService {
  constructor(
    private readonly deps: {
      store: Store;
      watch: WatchStore;
      notifier: Notifier;
      clock: Clock;
      logger: Logger;
      config: RuntimeConfig;
      runbooks: () => Runbook[];
      audit?: AuditTrail;
    },
  ) {}

  private get policy(): CircuitBreakerPolicy {
    return this.deps.config.policy.watch.circuitBreaker;
  }

  private get environment(): string {
    return this.deps.config.environment;
  }

  /**
   * A run stopped (the learning recorder calls this once it is recorded): a failure may open its
   * runbook's breaker. Idempotent: counted from the records, opened once (conditional on the version).
   */
  async executionStopped(executionId: string): Promise<CircuitBreaker | undefined> {
    const { store, watch, clock } = this.deps;
    if (!this.policy.enabled) return undefined;
    const execution = await store.getExecution(executionId);
    if (!execution || !countsAsFailure(execution)) return undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await watch.getBreaker(this.environment, execution.runbookId);
      if (current?.state === 'open') return undefined;
      const now = clock.now();
      // Runs can hold at a checkpoint for a day: those that stop in the window may have started earlier.
      const since = new Date(now.getTime() - this.policy.within * 1_000 - 2 * 86_400_000).toISOString();
      const recent = await store.listExecutionsByRunbook(execution.runbookId, since);
      // The run just recorded, as it is now (an index read may not show its outcome yet).
      const failures = failuresInWindow([execution, ...recent], now, this.policy, current?.closedAt);
      if (failures.length < this.policy.failures) return undefined;
      const opened: CircuitBreaker = {
        runbookId: execution.runbookId,
        environment: this.environment,
        state: 'open',
        version: (current?.version ?? 0) + 1,
        changedAt: now.toISOString(),
        openedAt: now.toISOString(),
        reason: `${failures.length} failed runs of ${execution.runbookId} within ${formatDuration(this.policy.within)} (policy.watch.circuitBreaker: ${this.policy.failures} open it): ${failures.map((failure) => `${failure.executionId}${failure.error ? ` (${failure.error})` : ''}`).join(', ')}`,
        failures: failures.slice(-100),
      };
      if (await watch.putBreaker(opened, current?.version ?? 0)) {
        this.deps.logger.warn('circuit breaker opened', {
          runbookId: opened.runbookId,
          failures: failures.length,
        });
        await recordAudit(this.deps.audit, clock, {
          kind: 'circuit-breaker.changed',
          id: auditEventId(
            'circuit-breaker.changed',
            this.environment,
            opened.runbookId,
            String(opened.version),
          ),
          at: opened.changedAt,
          actor: system(CIRCUIT_BREAKER),
          runbookId: opened.runbookId,
          environment: this.environment,
          result: 'accepted',
          reason: auditText(opened.reason!),
          state: 'open',
          details: { failures, policy: { failures: this.policy.failures, within: this.policy.within } },
        });
        await this.tell(
          `Circuit breaker opened: ${opened.runbookId} (${this.environment})`,
          [
            `runbook-autopilot opened the circuit breaker of runbook ${opened.runbookId} in ${this.environment}: ${opened.reason}.`,
            '',
            `No new execution of ${opened.runbookId} starts until a person closes it; its alerts are handed to people with this reason.`,
            ...closeHowTo(opened.runbookId),
          ],
          'page',
        );
        return opened;
      }
      // Another recorder wrote first: look again.
    }
    return undefined;
  }

  /** Whether the classifier may start this runbook; when not, why in words (the incident keeps them). */
  async check(
    runbookId: string,
  ): Promise<{ open: false } | { open: true; breaker: CircuitBreaker; reason: string }> {
    if (!this.policy.enabled) return { open: false };
    const breaker = await this.deps.watch.getBreaker(this.environment, runbookId);
    if (breaker?.state !== 'open') return { open: false };
    return {
      open: true,
      breaker,
      reason: `the circuit breaker of ${runbookId} is open since ${breaker.openedAt ?? breaker.changedAt}: ${breaker.reason ?? 'repeated failures'}; a person closes it (dashboard Learning page, runbook breaker close ${runbookId} --by <you>, or POST /api/circuit-breakers/${runbookId}/close)`,
    };
  }

  /** Every loaded runbook's breaker (closed when it never opened), with the policy. */
  async list(): Promise<{ environment: string; policy: CircuitBreakerPolicy; breakers: BreakerView[] }> {
    const stored = new Map(
      (await this.deps.watch.listBreakers(this.environment)).map((breaker) => [breaker.runbookId, breaker]),
    );
    const ids = [...new Set([...this.deps.runbooks().map((runbook) => runbook.id), ...stored.keys()])].sort();
    return {
      environment: this.environment,
      policy: this.policy,
      breakers: ids.map((runbookId) => stored.get(runbookId) ?? { runbookId, state: 'closed' }),
    };
  }

  /** A person closes an open breaker: 404 for a runbook not loaded here, 409 when it is not open. */
  async close(runbookId: string, by: string, reason?: string, source?: AuditSource): Promise<CircuitBreaker> {
    const { watch, clock } = this.deps;
    if (!this.deps.runbooks().some((runbook) => runbook.id === runbookId))
      throw new NotFoundError(`no runbook "${runbookId}" is loaded in ${this.environment}`);
    const current = await watch.getBreaker(this.environment, runbookId);
    const refuse = async (message: string): Promise<never> => {
      await recordAudit(this.deps.audit, clock, {
        kind: 'circuit-breaker.changed',
        actor: person(by, source),
        runbookId,
        environment: this.environment,
        result: 'refused',
        refusal: auditText(message),
        ...(reason ? { reason: auditText(reason) } : {}),
        state: 'closed',
      });
      throw new ControlConflictError(message, current ? { breaker: current } : undefined);
    };
    if (current?.state !== 'open')
      return refuse(
        `the circuit breaker of ${runbookId} is not open in ${this.environment}; nothing to close`,
      );
    const now = clock.now().toISOString();
    // What opened it stays on the record; an earlier close's reason does not.
    const { closeReason: _earlier, ...opened } = current;
    const closed: CircuitBreaker = {
      ...opened,
      state: 'closed',
      version: current.version + 1,
      changedAt: now,
      closedAt: now,
      closedBy: by,
      ...(reason ? { closeReason: reason } : {}),
    };
    if (!(await watch.putBreaker(closed, current.version)))
      return refuse(`the circuit breaker of ${runbookId} changed meanwhile; look again and retry`);
    await recordAudit(this.deps.audit, clock, {
      kind: 'circuit-breaker.changed',
      id: auditEventId('circuit-breaker.changed', this.environment, runbookId, String(closed.version)),
      at: now,
      actor: person(by, source),
      runbookId,
      environment: this.environment,
      result: 'accepted',
      ...(reason ? { reason: auditText(reason) } : {}),
      state: 'closed',
      details: { openedAt: current.openedAt, opened: current.reason },
    });
    await this.tell(
      `Circuit breaker closed: ${runbookId} (${this.environment}) by ${by}`,
      [
        `${by} closed the circuit breaker of runbook ${runbookId} in ${this.environment}${reason ? `: ${reason}` : ''}.`,
        `It had opened at ${current.openedAt ?? current.changedAt}: ${current.reason ?? 'repeated failures'}.`,
        '',
        `${runbookId} starts again on its alerts; its failures count afresh from now.`,
      ],
      'ticket',
    );
    return closed;
  }

  private async tell(subject: string, lines: string[], severity: 'page' | 'ticket'): Promise<void> {
    const { config, notifier, clock, logger } = this.deps;
    const to = [
      ...new Set(this.policy.notify.flatMap((target) => config.escalationTargets[target] ?? [])),
    ].sort();
    if (to.length === 0) {
      logger.warn('circuit breaker changed and no target to tell', { notify: this.policy.notify });
      return;
    }
    await notifier.send({
      id: randomUUID(),
      kind: 'message',
      to,
      subject,
      text: lines.join('\n'),
      links: [],
      severity,
      sentAt: clock.now().toISOString(),
    });
  }
}

function closeHowTo(runbookId: string): string[] {
  return [
    '',
    'When the cause is fixed, close it:',
    `  dashboard: Learning → Circuit breakers → Close`,
    `  CLI:       runbook breaker close ${runbookId} --by <you> --reason "<why>"`,
    `  API:       POST /api/circuit-breakers/${runbookId}/close {"by": "<you>", "reason": "<why>"}`,
  ];
}

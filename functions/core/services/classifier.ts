import { randomUUID } from 'node:crypto';
import type { AuditTrail } from '../../ports/audit.ts';
import type { ChangeLocks } from '../../ports/change-locks.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ExecutionEngine } from '../../ports/execution-engine.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { Store } from '../../ports/store.ts';
import type { Alert } from '../alert.ts';
import { auditEventId, system } from '../audit/events.ts';
import { type AuditEventInput, auditText, type DistributiveOmit, recordAudit } from '../audit/record.ts';
import { changesRunDry, type EffectiveLevel } from '../automation/levels.ts';
import type { AutomationService } from '../automation/service.ts';
import { categorize } from '../classifier/categorize.ts';
import {
  DEFERRAL_MARGIN_SECONDS,
  runbookChangesThings,
  runbookMaxSeconds,
} from '../classifier/change-lock.ts';
import { executionName, incidentId, resourceKey } from '../classifier/identity.ts';
import { incidentPriority } from '../classifier/priority.ts';
import { type LimitAnswers, planLimitChecks, safetyGate } from '../classifier/safety.ts';
import type { ConsideredRunbook, RunbookSelector } from '../classifier/select.ts';
import type { RuntimeConfig } from '../config.ts';
import { ConfigurationError } from '../errors.ts';
import type { ExecutionInput } from '../execution-contract.ts';
import { GroupCommit } from '../group-commit.ts';
import { approvalRiskThreshold } from '../policy.ts';
import {
  type ExecutionRecord,
  type IncidentDecision,
  type IncidentRecord,
  type LearningAggregate,
  summarizeAlert,
} from '../records.ts';
import type { RiskAssessor } from '../risk/assessor.ts';
import type { Runbook } from '../runbook/model.ts';
import type { ParameterValue } from '../runbook/parameters.ts';
import type { ToolCatalog } from '../tool-catalog.ts';
import type { CircuitBreakerService } from '../watch/circuit-breaker.ts';

/** Who started a runbook by hand, and the parameter values they gave (checked against the runbook). */
export interface ManualStart {
  requestedBy: string;
  parameters: Record<string, ParameterValue>;
}

/** The selection a person made: their runbook, as if its one rule matched with full confidence. */
function manualSelection(runbookId: string, runbookVersion: string) {
  return {
    selected: {
      runbookId,
      runbookVersion,
      rule: 'started-by-hand',
      score: 1,
      confidence: 1,
      learnedFactor: 1,
    },
    considered: [],
  };
}

/** A pending incident older than this was left by a classifier that died: the next one takes over. */
export const PENDING_TAKEOVER_MS = 60_000;
/** Learning aggregates are re-read at most this often by one classifier. */
const LEARNING_CACHE_MS = 60_000;

export interface ClassifierResult {
  alert: { name: string; fingerprint: string; status: Alert['status']; environment: string };
  decision: IncidentDecision;
  incidentId?: string;
  runbookId?: string;
  executionId?: string;
  /** Why automation did not start (blocked), or what was chosen. */
  reason?: string;
  considered?: ConsideredRunbook[];
}

export interface ClassifierOptions {
  store: Store;
  engine: ExecutionEngine;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  config: RuntimeConfig;
  selector: RunbookSelector;
  /** The alert, the selection with every candidate, the gate's verdict and the start are recorded here. */
  audit?: AuditTrail;
  /** Graduated automation: the level each execution runs at, coverage counts, shadow runs' clearing. */
  automation?: AutomationService;
  /** Scores the execution before it starts (stored and shown; each change is scored again before it runs). */
  risk?: Pick<RiskAssessor, 'assessExecution'>;
  /** A runbook whose circuit breaker is open starts nothing until a person closes it. */
  breakers?: Pick<CircuitBreakerService, 'check'>;
  /**
   * One execution that may change a resource at a time, across runbooks: an alert behind a holder is
   * deferred and classified again when the holder stops. Without it, runbooks do not see each other.
   */
  changeLocks?: ChangeLocks;
  /** Which tools change things (a runbook without one takes no change lock); without it every runbook does. */
  tools?: Pick<ToolCatalog, 'get'>;
}

/** A `joined` event as the classifier writes it (the actor and the alert's summary are added on the way). */
type JoinedEvent = Extract<DistributiveOmit<AuditEventInput, 'actor' | 'alert'>, { kind: 'alert.received' }>;

/** Takeovers of a lock released while this alert was being deferred: decide again, at most this often. */
const DEFERRAL_RECHECKS = 3;

/**
 * The classifier: a normalized alert in, a decision out. A resolved alert resolves its incident; a
 * firing one joins its open incident (no second execution, whatever the storm) or opens one, picks the
 * runbook by applicability × what worked before, passes the safety gate, and starts the execution
 * under a deterministic name, so a retry never starts twice.
 */
export class ClassifierService {
  private learning: { at: number; aggregates: Map<string, LearningAggregate> } | undefined;
  /**
   * Repeats of one firing that joined its incident, recorded as one `joined` event per write (group
   * commit, keyed by the whole event but its time): the first is written at once, the repeats that
   * arrive while it is written are recorded together by the next write, with their count and the last
   * one's time. A duplicate storm costs one audit write per round trip, and every delivery is counted.
   */
  private readonly joinedEvents = new GroupCommit<{ alert: Alert; event: JoinedEvent }, void>(
    async (_key, joins) => {
      const { alert, event } = joins[0]!;
      const last = joins.at(-1)!.event.at;
      await this.audit(
        alert,
        joins.length === 1 ? event : { ...event, deliveries: joins.length, lastAt: last },
      );
    },
  );

  constructor(private readonly options: ClassifierOptions) {}

  async classify(alert: Alert): Promise<ClassifierResult> {
    const { store, clock } = this.options;
    const now = clock.now();
    const summary = {
      name: alert.name,
      fingerprint: alert.fingerprint,
      status: alert.status,
      environment: alert.environment,
    };
    if (alert.status === 'resolved') {
      const incident = await store.resolveIncident(alert.fingerprint, alert, now.toISOString());
      if (incident) {
        await this.audit(alert, {
          kind: 'alert.received',
          at: now.toISOString(),
          incidentId: incident.id,
          ...(incident.executionId ? { executionId: incident.executionId } : {}),
          ...(incident.runbookId ? { runbookId: incident.runbookId } : {}),
          decision: 'resolved',
        });
        await this.automationHook('shadow clearing', () => this.options.automation?.alertResolved(incident));
      }
      return {
        alert: summary,
        decision: 'resolved',
        ...(incident
          ? {
              incidentId: incident.id,
              ...(incident.executionId ? { executionId: incident.executionId } : {}),
            }
          : { reason: 'no open incident for this alert' }),
      };
    }

    const ignored = this.options.config.ignoredAlerts.includes(alert.name);
    const category = alert.category;
    const opened = await this.open(alert, {
      id: incidentId(alert),
      fingerprint: alert.fingerprint,
      status: 'open',
      alert,
      category,
      priority: incidentPriority({
        severity: alert.severity,
        environment: alert.environment,
        category: category ?? categorize({ name: alert.name }),
      }),
      firstSeenAt: now.toISOString(),
      lastSeenAt: now.toISOString(),
      occurrences: 1,
      decision: 'pending',
    });
    if ('resolved' in opened) {
      // A repeat of a firing whose incident already resolved (a late or redelivered notification): the
      // incident is in the store; nothing starts. The problem coming back arrives with a new startsAt.
      await this.audit(alert, {
        kind: 'alert.received',
        at: now.toISOString(),
        incidentId: opened.resolved.id,
        ...(opened.resolved.executionId ? { executionId: opened.resolved.executionId } : {}),
        decision: 'resolved',
      });
      return {
        alert: summary,
        decision: 'resolved',
        incidentId: opened.resolved.id,
        reason: `this firing (since ${alert.startsAt}) belongs to an incident resolved at ${opened.resolved.resolvedAt ?? 'an earlier time'}; a repeat of it starts nothing`,
      };
    }
    const incident = opened.incident;
    if (ignored) {
      // Meant to fire (Watchdog) or only to inhibit (InfoInhibitor): recorded as ignored, nothing runs.
      if (opened.created) await store.updateIncident(incident.id, { decision: 'ignored' });
      await this.audit(alert, {
        kind: 'alert.received',
        at: now.toISOString(),
        incidentId: incident.id,
        decision: 'ignored',
      });
      return {
        alert: summary,
        decision: 'ignored',
        incidentId: incident.id,
        reason: `${alert.name} is one of the alerts this environment ignores on purpose (ignoredAlerts)`,
      };
    }
    if (!opened.created) {
      const abandoned =
        incident.decision === 'pending' &&
        !incident.executionId &&
        now.getTime() - new Date(incident.firstSeenAt).getTime() > PENDING_TAKEOVER_MS;
      // Waiting for another execution's change lock: every repeat (and the holder's end) decides again.
      const deferred = incident.decision === 'deferred' && !incident.executionId;
      if (!abandoned && !deferred) {
        const event: JoinedEvent = {
          kind: 'alert.received',
          at: now.toISOString(),
          incidentId: incident.id,
          ...(incident.executionId ? { executionId: incident.executionId } : {}),
          ...(incident.runbookId ? { runbookId: incident.runbookId } : {}),
          decision: 'joined',
        };
        const { at: _at, ...same } = event;
        await this.joinedEvents.add(JSON.stringify([same, summarizeAlert(alert)]), { alert, event });
        return {
          alert: summary,
          decision: 'joined',
          incidentId: incident.id,
          ...(incident.runbookId ? { runbookId: incident.runbookId } : {}),
          ...(incident.executionId ? { executionId: incident.executionId } : {}),
        };
      }
      if (abandoned)
        this.options.logger.warn('taking over an abandoned pending incident', { incidentId: incident.id });
      else this.options.logger.info('classifying a deferred alert again', { incidentId: incident.id });
    }
    const result = await this.decide(alert, incident, summary);
    await this.automationHook('coverage count', () =>
      this.options.automation?.alertClassified(result.decision),
    );
    return result;
  }

  /** Automation's bookkeeping never stops an alert's handling: a failure is logged. */
  private async automationHook(what: string, work: () => Promise<unknown> | undefined): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.options.logger.warn(`automation ${what} failed`, { error: (error as Error).message });
    }
  }

  /** One event about this alert, indexed by its resource; recorded by the classifier. */
  private async audit(alert: Alert, input: DistributiveOmit<AuditEventInput, 'actor' | 'alert'>) {
    await recordAudit(this.options.audit, this.options.clock, {
      actor: system('classifier'),
      environment: alert.environment,
      resourceKey: resourceKey(alert),
      ...input,
      ...(input.kind === 'alert.received' ? { alert: summarizeAlert(alert) } : {}),
    } as AuditEventInput);
  }

  /**
   * A person starts a runbook by hand: `alert` stands for their request (source `manual`). It passes
   * the same gates as an alert-started run (environment, kill switch, limits, cooldown, freeze; the
   * machine's approvals), only selection is the person's. A repeat of the same request joins it.
   */
  async startByHand(alert: Alert, runbookId: string, manual: ManualStart): Promise<ClassifierResult> {
    const now = this.options.clock.now();
    const summary = {
      name: alert.name,
      fingerprint: alert.fingerprint,
      status: alert.status,
      environment: alert.environment,
    };
    const opened = await this.open(alert, {
      id: incidentId(alert),
      fingerprint: alert.fingerprint,
      status: 'open',
      alert,
      category: alert.category,
      priority: incidentPriority({
        severity: alert.severity,
        environment: alert.environment,
        category: alert.category,
      }),
      firstSeenAt: now.toISOString(),
      lastSeenAt: now.toISOString(),
      occurrences: 1,
      decision: 'pending',
    });
    if ('resolved' in opened)
      return { alert: summary, decision: 'resolved', incidentId: opened.resolved.id, reason: 'already done' };
    if (!opened.created)
      return {
        alert: summary,
        decision: 'joined',
        incidentId: opened.incident.id,
        ...(opened.incident.runbookId ? { runbookId: opened.incident.runbookId } : {}),
        ...(opened.incident.executionId ? { executionId: opened.incident.executionId } : {}),
        ...(opened.incident.blockedReason ? { reason: opened.incident.blockedReason } : {}),
      };
    return this.decide(alert, opened.incident, summary, { manual: { ...manual, runbookId } });
  }

  /** Opens or joins the incident; a resolved incident with the same id (a late repeat) is said so. */
  private async open(alert: Alert, incident: IncidentRecord) {
    try {
      return await this.options.store.openIncident(incident);
    } catch (error) {
      // The store refuses to reopen a resolved incident's id (its errors carry stable names).
      if ((error as Error).name !== 'StoreConflictError') throw error;
      const existing = await this.options.store.getIncident(incident.id);
      if (existing?.status !== 'resolved') throw error;
      this.options.logger.info('a firing of a resolved incident', {
        incidentId: existing.id,
        alert: alert.name,
      });
      return { resolved: existing };
    }
  }

  private async learningAggregates(): Promise<Map<string, LearningAggregate>> {
    const now = this.options.clock.now().getTime();
    if (!this.learning || now - this.learning.at > LEARNING_CACHE_MS) {
      const aggregates = await this.options.store.listLearningAggregates();
      this.learning = {
        at: now,
        aggregates: new Map(aggregates.map((aggregate) => [aggregate.runbookId, aggregate])),
      };
    }
    return this.learning.aggregates;
  }

  private async decide(
    alert: Alert,
    incident: IncidentRecord,
    summary: ClassifierResult['alert'],
    { manual }: { manual?: ManualStart & { runbookId: string } } = {},
  ): Promise<ClassifierResult> {
    const { store, selector } = this.options;
    const selection = manual
      ? manualSelection(manual.runbookId, selector.runbook(manual.runbookId)?.version ?? '')
      : selector.select(alert, await this.learningAggregates());
    const receivedAt = this.options.clock.now().toISOString();
    const candidates = selection.considered.map((candidate) => ({
      ...candidate,
      reason: auditText(candidate.reason),
    }));
    if (!selection.selected) {
      const trail = { incidentId: incident.id };
      await this.audit(alert, {
        kind: 'alert.received',
        id: auditEventId('alert.received', incident.id),
        at: receivedAt,
        ...trail,
        decision: 'unmatched',
      });
      await this.audit(alert, {
        kind: 'runbook.selected',
        id: auditEventId('runbook.selected', incident.id),
        at: receivedAt,
        ...trail,
        alertName: alert.name,
        candidates,
      });
      await store.recordUnmatched(alert, this.options.clock.now().toISOString());
      await store.updateIncident(incident.id, { decision: 'unmatched' });
      this.options.logger.info('no runbook matched', { alert: alert.name, incidentId: incident.id });
      return {
        alert: summary,
        decision: 'unmatched',
        incidentId: incident.id,
        considered: selection.considered,
        reason: 'no runbook matched this alert',
      };
    }
    const runbook = selector.runbook(selection.selected.runbookId);
    if (!runbook)
      throw new ConfigurationError(`runbook ${selection.selected.runbookId} was selected but is not loaded`);
    const name = executionName(runbook.id, incident.id);
    const base = {
      alert: summary,
      incidentId: incident.id,
      runbookId: runbook.id,
      considered: selection.considered,
    };
    // The execution's trail starts here (its name is known): the alert, then every candidate's score.
    const trail = { executionId: name, incidentId: incident.id, runbookId: runbook.id };
    await this.audit(alert, {
      kind: 'alert.received',
      id: auditEventId('alert.received', name),
      at: receivedAt,
      ...trail,
    });
    await this.audit(alert, {
      kind: 'runbook.selected',
      id: auditEventId('runbook.selected', name),
      at: receivedAt,
      ...trail,
      alertName: alert.name,
      selected: {
        runbookId: selection.selected.runbookId,
        runbookVersion: selection.selected.runbookVersion,
        rule: selection.selected.rule,
        score: selection.selected.score,
      },
      candidates,
    });
    const verdict = (
      gate: string,
      allowed: boolean | 'deferred',
      reason: string,
      details?: Record<string, unknown>,
      ...idParts: string[]
    ) =>
      this.audit(alert, {
        kind: 'gate.verdict',
        id: auditEventId('gate.verdict', name, gate, ...idParts),
        ...trail,
        gate,
        verdict: allowed === 'deferred' ? 'deferred' : allowed ? 'allowed' : 'refused',
        reason: auditText(reason),
        ...(details ? { details } : {}),
      });

    /** Automation may not start: the incident says why, and the default escalation target hears it. */
    const block = async (reason: string) => {
      await store.updateIncident(incident.id, {
        decision: 'blocked',
        blockedReason: reason,
        runbookId: runbook.id,
      });
      // A person who started it by hand hears why at once; nobody else needs paging for it.
      if (!manual) await this.notifyBlocked(alert, runbook, reason);
      return { ...base, decision: 'blocked' as const, reason };
    };
    // One deployment serves one environment: its policy and its people do not apply to another's alerts.
    if (alert.environment !== this.options.config.environment) {
      const reason = `this deployment serves environment "${this.options.config.environment}"; the alert is from "${alert.environment}" (its environment label)`;
      await verdict('environment', false, reason);
      return block(reason);
    }
    // Failing again and again across executions: nothing starts until a person closes the breaker.
    const breaker = await this.options.breakers?.check(runbook.id);
    if (breaker?.open) {
      await verdict('circuit-breaker', false, breaker.reason, {
        openedAt: breaker.breaker.openedAt,
        failures: breaker.breaker.failures?.map((failure) => failure.executionId) ?? [],
      });
      return block(breaker.reason);
    }
    let gate = await this.passGate(runbook, alert, incident.id, name);
    // A person's start is not queued (its alert selects nothing by itself): it is refused, saying by whom.
    if (!gate.allowed && gate.changeLockHolder && manual)
      gate = {
        ...gate,
        reason: `${resourceKey(alert)} is being changed by ${gate.changeLockHolder.runbookId} execution ${gate.changeLockHolder.executionId}; start ${runbook.id} again when it ends`,
      };
    for (let recheck = 1; !gate.allowed && gate.changeLockHolder && !manual; recheck++) {
      const holder = gate.changeLockHolder;
      const resource = resourceKey(alert);
      // Deferred first, then the lock read again: a holder that stopped in between finds this deferral
      // or leaves the lock free for this alert, so the alert is never left waiting for nobody.
      await this.options.changeLocks!.defer({
        resourceKey: resource,
        incidentId: incident.id,
        behind: holder.executionId,
        runbookId: runbook.id,
        deferredAt: this.options.clock.now().toISOString(),
        holderExpiresAt: holder.expiresAt,
        expiresAt: new Date(Date.parse(holder.expiresAt) + DEFERRAL_MARGIN_SECONDS * 1000).toISOString(),
      });
      const current = await this.options.changeLocks!.get(resource);
      if (
        recheck >= DEFERRAL_RECHECKS ||
        (current?.executionId === holder.executionId &&
          Date.parse(current.expiresAt) > this.options.clock.now().getTime())
      ) {
        await verdict(
          'change-lock',
          'deferred',
          gate.reason,
          { holder: holder.executionId, holderRunbook: holder.runbookId, expiresAt: holder.expiresAt },
          holder.executionId,
        );
        await store.updateIncident(incident.id, {
          decision: 'deferred',
          blockedReason: gate.reason,
          runbookId: runbook.id,
        });
        this.options.logger.info('alert deferred behind a change lock', {
          incidentId: incident.id,
          resourceKey: resource,
          holder: holder.executionId,
        });
        return { ...base, decision: 'deferred', reason: gate.reason };
      }
      await this.options.changeLocks!.removeDeferred(resource, incident.id, holder.executionId);
      gate = await this.passGate(runbook, alert, incident.id, name);
    }
    if (!gate.allowed) {
      await verdict('safety', false, gate.reason, { refusal: gate.refusal });
      return block(gate.reason);
    }
    await verdict(
      'safety',
      true,
      gate.changeFreeze
        ? `allowed in change-freeze window ${gate.freezeWindow ?? ''}: diagnostics only`.trim()
        : `kill switch off; environment, rate, concurrency and cooldown limits within bounds${gate.changeLock ? `; change lock on ${resourceKey(alert)} taken` : ''}`,
      { changeFreeze: gate.changeFreeze, ...(gate.freezeWindow ? { freezeWindow: gate.freezeWindow } : {}) },
    );

    const risk = await this.options.risk
      ?.assessExecution({ runbook, alert, executionId: name })
      .catch((error: unknown) => {
        // The score is shown, not enforced, here (every change is scored again): a failure must not block.
        this.options.logger.warn('could not assess the execution’s risk', { error: String(error) });
        return undefined;
      });
    const started = await this.start(runbook, alert, incident, name, gate.changeFreeze, manual);
    if (!started.ok) {
      await gate.release();
      return block(started.reason);
    }
    await store.updateIncident(incident.id, {
      decision: 'started',
      runbookId: runbook.id,
      executionId: name,
    });
    this.options.logger.info('execution started', {
      executionId: name,
      runbookId: runbook.id,
      incidentId: incident.id,
      alreadyStarted: started.alreadyStarted,
    });
    return {
      ...base,
      decision: 'started',
      executionId: name,
      reason: `${runbook.id} (rule ${selection.selected.rule}, score ${selection.selected.score.toFixed(2)})${gate.changeFreeze ? '; change freeze: diagnostics only' : ''}${risk ? `; risk ${risk.score} of 100` : ''}${started.level ? `; automation level ${started.level.level}${changesRunDry(started.level.level) ? ' (changes run as dry runs)' : ''}` : ''}`,
    };
  }

  /**
   * Cheap checks first; then the store's counters in order, stopping at the first refusal. The rate
   * windows count executions that start: when a later check refuses, the uses this attempt counted are
   * given back (and the slot it took), so refused alerts never use up the hour. `release` gives them
   * back too when the start itself fails.
   */
  private async passGate(runbook: Runbook, alert: Alert, member: string, executionId: string) {
    const { store, clock } = this.options;
    const now = clock.now();
    const killSwitch = await store.getKillSwitch();
    const environmentFreezeWindows = this.options.config.changeFreezeWindows;
    const first = safetyGate({ runbook, alert, now, killSwitch, environmentFreezeWindows });
    const taken: Array<() => Promise<void>> = [];
    const release = async () => {
      for (const undo of taken.reverse()) await undo();
      taken.length = 0;
    };
    if (!first.allowed) return { ...first, release, changeLock: false };
    const plan = planLimitChecks(runbook, alert, now);
    const limits: LimitAnswers = {};
    const countRate = async (check: typeof plan.runbookRate) => {
      const answer = await store.acquireRate(
        check.key,
        check.windowStart,
        check.max,
        check.expiresAt,
        member,
      );
      // Only a use this attempt added is given back: one counted before belongs to an earlier attempt.
      if (answer === 'counted') taken.push(() => store.releaseRate(check.key, check.windowStart, member));
      return { allowed: answer !== false };
    };
    limits.runbookRate = await countRate(plan.runbookRate);
    if (limits.runbookRate.allowed) limits.resourceRate = await countRate(plan.resourceRate);
    if (limits.resourceRate?.allowed) {
      limits.concurrency = {
        allowed: await store.acquireSlot(plan.concurrency.key, executionId, plan.concurrency.max),
      };
      if (limits.concurrency.allowed) taken.push(() => store.releaseSlot(plan.concurrency.key, executionId));
    }
    if (limits.concurrency?.allowed) {
      limits.cooldown = {
        allowed: await store.claimCooldown(plan.cooldown.key, now.toISOString(), plan.cooldown.until, member),
      };
      // Nothing ran if the change lock defers it (or the start fails): no quiet time for a change never made.
      if (limits.cooldown.allowed) taken.push(() => store.releaseCooldown(plan.cooldown.key, member));
    }
    // Last: an alert deferred behind another execution passed every other gate, so its turn is real.
    const locks = this.options.changeLocks;
    // A deployment that runs everything dry changes nothing, so it has nothing to serialize.
    const lockNeeded =
      locks !== undefined &&
      !this.options.config.dryRun &&
      (this.options.tools === undefined || runbookChangesThings(runbook, this.options.tools));
    if (limits.cooldown?.allowed && lockNeeded) {
      const seconds = runbookMaxSeconds(
        runbook,
        this.options.tools ?? { get: () => undefined },
        this.options.config.policy.risk.approvalTimeout,
      );
      const answer = await locks.acquire({
        resourceKey: plan.resourceKey,
        executionId,
        runbookId: runbook.id,
        acquiredAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + seconds * 1000).toISOString(),
      });
      if (answer.acquired) {
        taken.push(async () => {
          await locks.release(plan.resourceKey, executionId);
        });
        limits.changeLock = { allowed: true };
      } else {
        const { executionId: holder, runbookId, expiresAt } = answer.holder;
        limits.changeLock = { allowed: false, holder: { executionId: holder, runbookId, expiresAt } };
      }
    }
    const decision = safetyGate({ runbook, alert, now, killSwitch, limits, environmentFreezeWindows });
    if (!decision.allowed) await release();
    return {
      ...decision,
      release,
      changeLock: limits.changeLock?.allowed === true,
      ...(!decision.allowed && decision.refusal === 'change-lock' && limits.changeLock?.holder
        ? { changeLockHolder: limits.changeLock.holder }
        : {}),
    };
  }

  private async start(
    runbook: Runbook,
    alert: Alert,
    incident: IncidentRecord,
    name: string,
    changeFreeze: boolean,
    manual?: ManualStart,
  ) {
    const { store, engine, clock, config } = this.options;
    const startedAt = clock.now().toISOString();
    // The level is fixed when the execution starts: both runtimes enforce what its context says.
    const level: EffectiveLevel | undefined = await this.options.automation?.levelOf(runbook);
    const dryRun = config.dryRun || changesRunDry(level?.level);
    const execution: ExecutionInput['execution'] = {
      id: name,
      runbookId: runbook.id,
      runbookVersion: runbook.version,
      incidentId: incident.id,
      environment: alert.environment,
      dryRun,
      approvalRiskThreshold: approvalRiskThreshold(config.policy),
      changeFreeze,
      startedAt,
      ...(level ? { automationLevel: level.level } : {}),
      ...(manual
        ? {
            trigger: 'manual' as const,
            requestedBy: manual.requestedBy,
            ...(Object.keys(manual.parameters).length > 0 ? { parameters: manual.parameters } : {}),
          }
        : {}),
    };
    const record: ExecutionRecord = {
      id: name,
      runbookId: runbook.id,
      runbookVersion: runbook.version,
      incidentId: incident.id,
      environment: alert.environment,
      dryRun,
      ...(level ? { automationLevel: level.level } : {}),
      status: 'running',
      alert: summarizeAlert(alert),
      startedAt,
      resourceKey: resourceKey(alert),
      control: { pauseRequested: false, abortRequested: false },
      currentState: 'starting',
    };
    await store.createExecution(record);
    // Recorded before the engine starts, so every step's event comes after it in the trail.
    await this.audit(alert, {
      kind: 'execution.started',
      id: auditEventId('execution.started', name),
      at: startedAt,
      executionId: name,
      incidentId: incident.id,
      runbookId: runbook.id,
      runbookVersion: runbook.version,
      dryRun: config.dryRun,
      changeFreeze,
      trigger: 'alert',
    });
    const input: ExecutionInput = { execution, alert, steps: {}, groups: {}, approvals: {} };
    try {
      const started = await engine.start({ runbookId: runbook.id, name, input });
      await store.updateExecution(name, { engineRef: started.engineRef });
      return { ok: true as const, alreadyStarted: started.alreadyStarted, level };
    } catch (error) {
      // A machine that does not exist will not appear on retry: stop and say so. Anything else retries.
      if (!(error instanceof ConfigurationError)) throw error;
      await this.audit(alert, {
        kind: 'execution.finished',
        id: auditEventId('execution.finished', name),
        executionId: name,
        incidentId: incident.id,
        runbookId: runbook.id,
        status: 'failed',
        error: 'Runbook.NotDeployed',
        cause: auditText(error.message),
        rolledBack: false,
        rollbackFailed: false,
        escalated: true,
      });
      await store.updateExecution(name, {
        status: 'failed',
        stoppedAt: clock.now().toISOString(),
        outcome: {
          status: 'failed',
          error: 'Runbook.NotDeployed',
          cause: error.message,
          rolledBack: false,
          rollbackFailed: false,
          escalated: true,
          humanIntervention: true,
          approvals: 0,
          approvalsAnswered: 0,
          approvalWaitMs: 0,
          recordedOutputs: {},
        },
      });
      return { ok: false as const, reason: `could not start ${runbook.id}: ${error.message}` };
    }
  }

  private async notifyBlocked(alert: Alert, runbook: Runbook, reason: string): Promise<void> {
    const { notifier, config, clock, logger } = this.options;
    const to = config.escalationTargets.default ?? [];
    if (to.length === 0) {
      logger.warn('automation blocked and no default escalation target to tell', {
        alert: alert.name,
        reason,
      });
      return;
    }
    await notifier.send({
      id: randomUUID(),
      kind: 'automation-blocked',
      to,
      subject: `Automation blocked: ${alert.name} on ${alert.resource.id}`,
      text: [
        `runbook-autopilot did not run ${runbook.id} for ${alert.name} (${alert.severity}) on ${alert.resource.type} ${alert.resource.id} in ${alert.environment}.`,
        '',
        `Why: ${reason}`,
        '',
        `Alert: ${alert.summary}`,
        'A human needs to handle this alert.',
      ].join('\n'),
      links: [],
      severity: 'page',
      sentAt: clock.now().toISOString(),
    });
  }
}

import { randomUUID } from 'node:crypto';
import type { AuditTrail } from '../../ports/audit.ts';
import type { AutomationStore } from '../../ports/automation.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { Store } from '../../ports/store.ts';
import { person, system } from '../audit/events.ts';
import { auditText, recordAudit } from '../audit/record.ts';
import { stableHash } from '../classifier/identity.ts';
import { executionLink, type RuntimeConfig } from '../config.ts';
import type { IncidentDecision, IncidentRecord } from '../records.ts';
import type { Runbook } from '../runbook/model.ts';
import { ControlConflictError, NotFoundError } from '../services/control.ts';
import {
  type AutomationRun,
  automationRunOf,
  type Demotion,
  type Evidence,
  evidenceOf,
  type HumanAction,
  type HumanActionKind,
  judgeDemotion,
  type PromotionProposal,
  proposePromotion,
  realRunsSince,
} from './evidence.ts';
import {
  type AutomationLevel,
  ceilingOf,
  type EffectiveLevel,
  effectiveLevel,
  LEVEL_MEANING,
  LEVEL_RANK,
} from './levels.ts';
import type { AlertCounts, LevelActor, LevelChange, LevelRecord, SafetyIncident } from './records.ts';

/** How far back evidence, the split of human involvement, incidents and coverage look (as learning does). */
export const AUTOMATION_WINDOW_DAYS = 90;
/** Shadow runs shown with what they would have changed. */
const SHADOW_RUNS_SHOWN = 20;
/** Level changes the Learning page's chart draws at most (the newest). */
const LEVEL_CHANGES_CHARTED = 200;

/**
 * Where level changes go besides the level's own history: the audit trail (part D's
 * `AuditTrail.record({ kind: 'automation-level.changed', … })`). The lead connects it in composition;
 * without it, changes are kept in the level history only.
 */
export type LevelChangeListener = (change: LevelChange) => Promise<void>;

export interface AutomationServiceOptions {
  store: Store;
  automation: AutomationStore;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  config: RuntimeConfig;
  /** The runbooks this deployment runs (their ceilings). */
  runbooks: () => Runbook[];
  onLevelChange?: LevelChangeListener;
  /** Every level change is an event of the platform's audit trail, with who and why. */
  audit?: AuditTrail;
}

export interface RunbookLevel {
  runbookId: string;
  effective: EffectiveLevel;
  meaning: string;
  /** When the stored level was last set (evidence counts from here), and by whom. */
  lastChange?: LevelChange;
  /** Verified success of the real runs since the level was set, overall and per alert signature. */
  evidence: Evidence & { bySignature: Record<string, Evidence> };
  proposal?: PromotionProposal;
  /** Why no promotion is proposed. */
  noProposal?: string;
}

export interface InvolvementSplit {
  realRuns: number;
  humanActed: number;
  approvalOnly: number;
  noHuman: number;
  humanActedRate?: number;
  approvalOnlyRate?: number;
  noHumanRate?: number;
}

export interface DryRunTrack {
  runs: number;
  diagnosticsSucceeded: number;
  /** Runs in which at least one change would have been made. */
  wouldHaveChanged: number;
  /** Runs whose dry-run changes all passed (the target accepted them as dry runs). */
  changesValidated: number;
  clearedOnItsOwn: number;
  clearedByAHuman: number;
  stillFiring: number;
}

export interface AutomationReport {
  environment: string;
  windowDays: number;
  /** The design's intervention target measures `humanActed` (not approvals). */
  involvement: InvolvementSplit;
  /** Kept apart from real runs: never in a success rate. */
  dryRuns: { shadow: DryRunTrack; observe: DryRunTrack; environmentDryRuns: number };
  safetyIncidents: SafetyIncident[];
  coverage: { alertsSeen: number; taken: number; blocked: number; unmatched: number; rate?: number };
  runbooks: Array<
    RunbookLevel & {
      involvement: InvolvementSplit;
      shadow: DryRunTrack;
      observe: DryRunTrack;
      environmentDryRuns: number;
    }
  >;
}

function emptyTrack(): DryRunTrack {
  return {
    runs: 0,
    diagnosticsSucceeded: 0,
    wouldHaveChanged: 0,
    changesValidated: 0,
    clearedOnItsOwn: 0,
    clearedByAHuman: 0,
    stillFiring: 0,
  };
}

function addTrack(track: DryRunTrack, run: AutomationRun): void {
  track.runs++;
  if (run.diagnosticsSucceeded) track.diagnosticsSucceeded++;
  if (run.wouldHaveChanged.length > 0) track.wouldHaveChanged++;
  if (run.changesValidated) track.changesValidated++;
  if (run.clearing === 'on-its-own') track.clearedOnItsOwn++;
  if (run.clearing === 'by-a-human') track.clearedByAHuman++;
  if (run.clearing === 'still-firing') track.stillFiring++;
}

function rate(part: number, whole: number): number | undefined {
  return whole === 0 ? undefined : part / whole;
}

function split(runs: readonly AutomationRun[]): InvolvementSplit {
  const real = runs.filter((run) => run.mode === 'real' && run.involvement);
  const count = (involvement: AutomationRun['involvement']) =>
    real.filter((run) => run.involvement === involvement).length;
  const humanActed = count('human-acted');
  const approvalOnly = count('approval-only');
  const noHuman = count('no-human');
  const result: InvolvementSplit = { realRuns: real.length, humanActed, approvalOnly, noHuman };
  const acted = rate(humanActed, real.length);
  const approved = rate(approvalOnly, real.length);
  const none = rate(noHuman, real.length);
  if (acted !== undefined) result.humanActedRate = acted;
  if (approved !== undefined) result.approvalOnlyRate = approved;
  if (none !== undefined) result.noHumanRate = none;
  return result;
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/**
 * Graduated automation: the effective level of a runbook (for the classifier), the record of every
 * finished run, demotion by rule (recorded, announced), promotion proposed with its evidence and
 * applied only by a person, what people report having done, safety incidents and coverage.
 */
export class AutomationService {
  constructor(private readonly options: AutomationServiceOptions) {}

  private get environment(): string {
    return this.options.config.environment;
  }

  private windowStart(): string {
    return new Date(this.options.clock.now().getTime() - AUTOMATION_WINDOW_DAYS * 86_400_000).toISOString();
  }

  private runbook(runbookId: string): Runbook | undefined {
    return this.options.runbooks().find((runbook) => runbook.id === runbookId);
  }

  // Levels ---------------------------------------------------------------------------------------

  /** The level a new execution of this runbook runs at: the lowest of ceiling, environment default, stored. */
  async levelOf(
    runbook: Pick<Runbook, 'id' | 'automation'>,
  ): Promise<EffectiveLevel & { record?: LevelRecord }> {
    const record = await this.options.automation.getLevel(this.environment, runbook.id);
    return {
      ...effectiveLevel({
        ceiling: ceilingOf(runbook),
        environmentDefault: this.options.config.automation.defaultLevel,
        stored: record?.level,
      }),
      ...(record ? { record } : {}),
    };
  }

  private async describeLevel(
    runbookId: string,
    runs: readonly AutomationRun[],
    levels?: Map<string, LevelRecord>,
  ): Promise<RunbookLevel> {
    const runbook = this.runbook(runbookId) ?? { id: runbookId };
    const record = levels
      ? levels.get(runbookId)
      : await this.options.automation.getLevel(this.environment, runbookId);
    const effective = effectiveLevel({
      ceiling: ceilingOf(runbook),
      environmentDefault: this.options.config.automation.defaultLevel,
      stored: record?.level,
    });
    const since = record?.lastChange.at;
    const real = realRunsSince(runs, since);
    const policy = this.options.config.automation;
    const bySignature: Record<string, Evidence> = {};
    for (const signature of new Set(real.map((run) => run.signature)))
      bySignature[signature] = evidenceOf(
        real.filter((run) => run.signature === signature).map((run) => run.verdict!),
        policy.confidence,
      );
    const promotion = proposePromotion(effective, runs, since, policy);
    return {
      runbookId,
      effective,
      meaning: LEVEL_MEANING[effective.level],
      ...(record ? { lastChange: record.lastChange } : {}),
      evidence: {
        ...evidenceOf(
          real.map((run) => run.verdict!),
          policy.confidence,
        ),
        bySignature,
      },
      ...(promotion.proposal ? { proposal: promotion.proposal } : { noProposal: promotion.why }),
    };
  }

  /** Every runbook's level with its evidence and any promotion proposal. */
  async overview(): Promise<{
    environment: string;
    policy: RuntimeConfig['automation'];
    runbooks: RunbookLevel[];
  }> {
    const levels = new Map(
      (await this.options.automation.listLevels(this.environment)).map((record) => [
        record.runbookId,
        record,
      ]),
    );
    const since = this.windowStart();
    const runbooks: RunbookLevel[] = [];
    for (const runbook of [...this.options.runbooks()].sort((a, b) => a.id.localeCompare(b.id))) {
      const runs = await this.options.automation.listRuns(this.environment, runbook.id, since);
      runbooks.push(await this.describeLevel(runbook.id, runs, levels));
    }
    return { environment: this.environment, policy: this.options.config.automation, runbooks };
  }

  /** One runbook's level, its history, and what its recent shadow runs would have changed. */
  async detail(runbookId: string) {
    if (!this.runbook(runbookId))
      throw new NotFoundError(`no runbook "${runbookId}" is loaded in ${this.environment}`);
    const runs = await this.options.automation.listRuns(this.environment, runbookId, this.windowStart());
    const [level, history] = await Promise.all([
      this.describeLevel(runbookId, runs),
      this.options.automation.listLevelChanges(this.environment, runbookId, 100),
    ]);
    const dryRuns = runs
      .filter((run) => run.mode === 'shadow' || run.mode === 'observe')
      .slice(-SHADOW_RUNS_SHOWN)
      .reverse();
    return { ...level, history, dryRuns };
  }

  /** A runbook's recorded level changes in this environment, newest first (the Learning page's chart). */
  async levelChanges(runbookId: string): Promise<LevelChange[]> {
    return this.options.automation.listLevelChanges(this.environment, runbookId, LEVEL_CHANGES_CHARTED);
  }

  /**
   * Applies the current promotion proposal, for a person (API, CLI, dashboard). Without one, 409 with
   * why: promotion never happens on evidence alone, and never without evidence.
   */
  async promote(runbookId: string, by: Extract<LevelActor, { type: 'person' }>, reason?: string) {
    if (!this.runbook(runbookId))
      throw new NotFoundError(`no runbook "${runbookId}" is loaded in ${this.environment}`);
    const runs = await this.options.automation.listRuns(this.environment, runbookId, this.windowStart());
    const record = await this.options.automation.getLevel(this.environment, runbookId);
    const level = await this.describeLevel(runbookId, runs, new Map(record ? [[runbookId, record]] : []));
    if (!level.proposal)
      throw new ControlConflictError(
        `${runbookId} has no promotion proposed in ${this.environment}: ${level.noProposal ?? 'no evidence'}`,
        { effective: level.effective, evidence: level.evidence },
      );
    const proposal = level.proposal;
    const now = this.options.clock.now().toISOString();
    const change: LevelChange = {
      id: `promotion:${randomUUID()}`,
      runbookId,
      environment: this.environment,
      from: proposal.from,
      to: proposal.to,
      cause: 'promotion',
      at: now,
      by,
      reason: reason ? `${proposal.reason}; ${by.id}: ${reason}` : proposal.reason,
      evidence: proposal.evidence as unknown as Record<string, unknown>,
    };
    const written = await this.options.automation.setLevel(
      {
        runbookId,
        environment: this.environment,
        level: proposal.to,
        version: (record?.version ?? 0) + 1,
        lastChange: change,
      },
      record?.version ?? 0,
    );
    if (!written)
      throw new ControlConflictError(`the level of ${runbookId} changed meanwhile; look again and retry`);
    await this.announce(change);
    return { change, level: await this.levelOf(this.runbook(runbookId)!) };
  }

  /**
   * A person lowers a runbook's level (or sets it again). Raising goes through `promote`, which needs
   * evidence: 409 here.
   */
  async setLevel(
    runbookId: string,
    level: AutomationLevel,
    by: Extract<LevelActor, { type: 'person' }>,
    reason?: string,
  ) {
    const runbook = this.runbook(runbookId);
    if (!runbook) throw new NotFoundError(`no runbook "${runbookId}" is loaded in ${this.environment}`);
    const current = await this.levelOf(runbook);
    if (LEVEL_RANK[level] > LEVEL_RANK[current.level])
      throw new ControlConflictError(
        `${runbookId} is at ${current.level} in ${this.environment}; raising it to ${level} takes a promotion backed by evidence (POST /api/automation/${runbookId}/promote)`,
        { effective: current },
      );
    const change: LevelChange = {
      id: `set:${randomUUID()}`,
      runbookId,
      environment: this.environment,
      from: current.level,
      to: level,
      cause: 'set',
      at: this.options.clock.now().toISOString(),
      by,
      reason: reason ?? `set to ${level} by ${by.id}`,
    };
    const version = current.record?.version ?? 0;
    const written = await this.options.automation.setLevel(
      { runbookId, environment: this.environment, level, version: version + 1, lastChange: change },
      version,
    );
    if (!written)
      throw new ControlConflictError(`the level of ${runbookId} changed meanwhile; look again and retry`);
    await this.announce(change);
    return { change, level: await this.levelOf(runbook) };
  }

  // Runs and demotion ----------------------------------------------------------------------------

  /**
   * An execution stopped (the learning recorder calls this after recording it): its automation record
   * is (re)built from the store, and a real run may demote its runbook. Idempotent: recording the same
   * execution again rebuilds the same record and demotes at most once.
   */
  async runStopped(executionId: string): Promise<{ run?: AutomationRun; demotion?: Demotion }> {
    const run = await this.rebuildRun(executionId);
    if (run?.mode !== 'real') return run ? { run } : {};
    const demotion = await this.judge(run);
    return demotion ? { run, demotion } : { run };
  }

  private async rebuildRun(executionId: string): Promise<AutomationRun | undefined> {
    const { store, automation, clock } = this.options;
    const execution = await store.getExecution(executionId);
    if (!execution?.outcome) return undefined;
    const [outcomes, approvals, actions, incident] = await Promise.all([
      store.listStepOutcomes(executionId),
      store.listApprovals(executionId),
      automation.listHumanActions(executionId),
      store.getIncident(execution.incidentId),
    ]);
    const run = automationRunOf(execution, outcomes, approvals, actions, incident, clock.now());
    if (run) await automation.putRun(run);
    return run;
  }

  private async judge(run: AutomationRun): Promise<Demotion | undefined> {
    const { automation, config, logger } = this.options;
    const runbook = this.runbook(run.runbookId) ?? { id: run.runbookId };
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.levelOf(runbook);
      const since = current.record?.lastChange.at;
      const runs = realRunsSince(
        await automation.listRuns(this.environment, run.runbookId, since ?? this.windowStart()),
        since,
      );
      // A run that started before the level was last set is judged by the rules of that time, not again.
      if (since && run.startedAt < since) return undefined;
      const demotion = judgeDemotion(current.level, runs, config.automation);
      if (!demotion) return undefined;
      const change: LevelChange = {
        // One demotion per triggering run, however often its stop is redelivered.
        id: `demotion:${stableHash([run.executionId, String(current.record?.version ?? 0)], 16)}`,
        runbookId: run.runbookId,
        environment: this.environment,
        from: demotion.from,
        to: demotion.to,
        cause: 'demotion',
        at: this.options.clock.now().toISOString(),
        by: { type: 'system', id: 'automation' },
        reason: demotion.reason,
        evidence: { ...demotion.evidence, triggeredBy: run.executionId } as unknown as Record<
          string,
          unknown
        >,
      };
      const version = current.record?.version ?? 0;
      if (
        await automation.setLevel(
          {
            runbookId: run.runbookId,
            environment: this.environment,
            level: demotion.to,
            version: version + 1,
            lastChange: change,
          },
          version,
        )
      ) {
        logger.warn('runbook demoted', {
          runbookId: run.runbookId,
          from: demotion.from,
          to: demotion.to,
          reason: demotion.reason,
        });
        await this.announce(change);
        return demotion;
      }
      // Another writer changed the level first: judge again against what it wrote.
    }
    return undefined;
  }

  /** A level change is told to the environment's automation targets and to the audit hook. */
  private async announce(change: LevelChange): Promise<void> {
    const { notifier, config, clock, logger, onLevelChange } = this.options;
    await recordAudit(this.options.audit, clock, {
      id: `automation-level:${change.environment}:${change.runbookId}:${change.id}`,
      kind: 'automation-level.changed',
      at: change.at,
      actor:
        change.by.type === 'person'
          ? person(change.by.id, change.by.channel ? { channel: change.by.channel } : undefined)
          : system(change.by.id),
      runbookId: change.runbookId,
      environment: change.environment,
      result: 'accepted',
      reason: auditText(change.reason),
      from: change.from,
      to: change.to,
      cause: change.cause,
      ...(change.evidence ? { evidence: change.evidence } : {}),
    });
    if (onLevelChange) await onLevelChange(change);
    const to = [
      ...new Set(config.automation.notify.flatMap((target) => config.escalationTargets[target] ?? [])),
    ].sort();
    if (to.length === 0) {
      logger.warn('automation level changed and no target to tell', {
        runbookId: change.runbookId,
        notify: config.automation.notify,
      });
      return;
    }
    const evidence = change.evidence as { executions?: string[]; triggeredBy?: string } | undefined;
    const triggeredBy = evidence?.triggeredBy;
    const link = triggeredBy
      ? executionLink(config, { id: triggeredBy, runbookId: change.runbookId })
      : undefined;
    const verb = change.cause === 'demotion' ? 'demoted' : change.cause === 'promotion' ? 'promoted' : 'set';
    await notifier.send({
      id: randomUUID(),
      kind: 'message',
      to,
      subject: `Runbook ${change.runbookId} ${verb}: ${change.from} → ${change.to} (${change.environment})`,
      text: [
        `runbook-autopilot ${verb} runbook ${change.runbookId} in ${change.environment} from ${change.from} to ${change.to}.`,
        '',
        `Why:   ${change.reason}`,
        `Who:   ${change.by.type === 'system' ? 'the demotion rule (automatic)' : change.by.id}`,
        `Now:   ${LEVEL_MEANING[change.to]}`,
        ...(evidence?.executions?.length ? ['', `Runs:  ${evidence.executions.join(', ')}`] : []),
        '',
        change.cause === 'demotion'
          ? 'A promotion back is proposed in the learning report once the runs at the new level earn it; a person applies it (dashboard, `runbook automation promote`, or POST /api/automation/<runbook>/promote).'
          : 'The level history keeps this change.',
      ].join('\n'),
      links: link ? [{ label: 'The run that triggered it', url: link }] : [],
      severity: 'ticket',
      ...(triggeredBy ? { executionId: triggeredBy } : {}),
      sentAt: clock.now().toISOString(),
    });
  }

  // What people did, what the alerts did -----------------------------------------------------------

  /** A person reports acting on an execution: it counts as a human intervention (and clears shadow runs by hand). */
  async recordHumanAction(
    executionId: string,
    action: { kind: HumanActionKind; by: string; note?: string },
  ): Promise<{ action: HumanAction; run?: AutomationRun }> {
    const execution = await this.options.store.getExecution(executionId);
    if (!execution) throw new NotFoundError(`no execution "${executionId}"`);
    const recorded: HumanAction = {
      id: randomUUID(),
      executionId,
      runbookId: execution.runbookId,
      kind: action.kind,
      by: action.by,
      at: this.options.clock.now().toISOString(),
      ...(action.note ? { note: action.note } : {}),
    };
    await this.options.automation.recordHumanAction(recorded);
    const run = await this.rebuildRun(executionId);
    return run ? { action: recorded, run } : { action: recorded };
  }

  /** The alert of an incident resolved: a stopped shadow run learns how it cleared. */
  async alertResolved(incident: Pick<IncidentRecord, 'executionId'>): Promise<void> {
    if (!incident.executionId) return;
    const execution = await this.options.store.getExecution(incident.executionId);
    if (!execution?.outcome || execution.automationLevel !== 'shadow') return;
    await this.rebuildRun(execution.id);
  }

  /** Counts a new alert's decision for coverage (repeats that join an incident are not new alerts). */
  async alertClassified(decision: IncidentDecision): Promise<void> {
    if (decision !== 'started' && decision !== 'blocked' && decision !== 'unmatched') return;
    await this.options.automation.countAlert(this.environment, day(this.options.clock.now()), decision);
  }

  /** Records a safety incident once per occurrence id; logs it loudly. */
  async recordSafetyIncident(incident: Omit<SafetyIncident, 'environment'>): Promise<boolean> {
    const recorded = await this.options.automation.recordSafetyIncident({
      ...incident,
      environment: this.environment,
    });
    if (recorded)
      this.options.logger.error('safety incident', {
        kind: incident.kind,
        executionId: incident.executionId,
        stepId: incident.stepId,
        description: incident.description,
      });
    return recorded;
  }

  // The report -----------------------------------------------------------------------------------

  /** The learning report's automation part: who had to step in, dry runs apart, safety incidents, coverage, levels. */
  async report(): Promise<AutomationReport> {
    const { automation } = this.options;
    const since = this.windowStart();
    const levels = new Map(
      (await automation.listLevels(this.environment)).map((record) => [record.runbookId, record]),
    );
    const all: AutomationRun[] = [];
    const runbooks: AutomationReport['runbooks'] = [];
    for (const runbook of [...this.options.runbooks()].sort((a, b) => a.id.localeCompare(b.id))) {
      const runs = await automation.listRuns(this.environment, runbook.id, since);
      all.push(...runs);
      const shadow = emptyTrack();
      const observe = emptyTrack();
      for (const run of runs) {
        if (run.mode === 'shadow') addTrack(shadow, run);
        if (run.mode === 'observe') addTrack(observe, run);
      }
      runbooks.push({
        ...(await this.describeLevel(runbook.id, runs, levels)),
        involvement: split(runs),
        shadow,
        observe,
        environmentDryRuns: runs.filter((run) => run.mode === 'dry-run').length,
      });
    }
    const shadow = emptyTrack();
    const observe = emptyTrack();
    for (const run of all) {
      if (run.mode === 'shadow') addTrack(shadow, run);
      if (run.mode === 'observe') addTrack(observe, run);
    }
    const counts = await automation.listAlertCounts(this.environment, since.slice(0, 10));
    const sum = (pick: (counts: AlertCounts) => number) =>
      counts.reduce((total, entry) => total + pick(entry), 0);
    const taken = sum((entry) => entry.started);
    const blocked = sum((entry) => entry.blocked);
    const unmatched = sum((entry) => entry.unmatched);
    const alertsSeen = taken + blocked + unmatched;
    const coverageRate = rate(taken, alertsSeen);
    return {
      environment: this.environment,
      windowDays: AUTOMATION_WINDOW_DAYS,
      involvement: split(all),
      dryRuns: { shadow, observe, environmentDryRuns: all.filter((run) => run.mode === 'dry-run').length },
      safetyIncidents: await automation.listSafetyIncidents(this.environment, since),
      coverage: {
        alertsSeen,
        taken,
        blocked,
        unmatched,
        ...(coverageRate === undefined ? {} : { rate: coverageRate }),
      },
      runbooks,
    };
  }
}

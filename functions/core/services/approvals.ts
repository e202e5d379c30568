import { createHash, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ExecutionEngine } from '../../ports/execution-engine.ts';
import type { LinkSigningKeys } from '../../ports/link-signing-keys.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { DecideApprovalRefusal, Store } from '../../ports/store.ts';
import {
  approvalLinkUrl,
  approvalPublicId,
  type LinkRefusal,
  type LinkVerification,
  parseApprovalPublicId,
  verifyApprovalLink,
} from '../approval-links.ts';
import { type AuditSource, auditEventId, person, system } from '../audit/events.ts';
import { auditResourceKey, auditText, recordAudit } from '../audit/record.ts';
import { AUTOMATION_APPROVAL_REQUIREMENT } from '../automation/approval-gate.ts';
import { changesRunDry } from '../automation/levels.ts';
import type { RuntimeConfig } from '../config.ts';
import { formatDuration } from '../duration.ts';
import { AslErrorName, StateError, TaskTokenExpiredError } from '../errors.ts';
import type { ApprovalTask } from '../execution-contract.ts';
import { type ExecutionExplanation, explanationLines } from '../findings/explain.ts';
import {
  type ApprovalRecord,
  type ExecutionRecord,
  type StepOutcome,
  summarizeAlert,
  TERMINAL_STATUSES,
} from '../records.ts';
import type { RiskAssessment } from '../risk/assessment.ts';
import type { RiskAssessor } from '../risk/assessor.ts';
import { quorumOf } from '../risk/policy.ts';
import { describeScore } from '../risk/score.ts';
import { resolveTemplates } from '../runbook/templates.ts';
import type { ExplainService } from './explain.ts';

export interface ApprovalServiceOptions {
  store: Store;
  engine: ExecutionEngine;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  config: RuntimeConfig;
  /** Links are signed with the current key and checked against every key still accepted (rotation). */
  signingKeys: LinkSigningKeys;
  /** Requests, decisions and cancellations go into the execution's audit trail. */
  audit?: AuditTrail;
  /** Scores what an approval covers when it is asked (a risky change needs two approvers) and shows it. */
  risk?: Pick<RiskAssessor, 'assessPlan' | 'forApproval'>;
  /** Signed pause/abort links for each approver's e-mail (functions/core/services/control-links.ts). */
  controlLinks?: ControlLinkMaker;
  /** Likely causes from the diagnostics so far, and predictions for the steps asked about. */
  explain?: Pick<ExplainService, 'tryExplain'>;
}

/** Makes the pause and abort links a notification carries for one recipient. */
export interface ControlLinkMaker {
  linksFor(
    executionId: string,
    recipient: string,
    expiresAtSeconds?: number,
  ): Promise<Array<{ label: string; url: string }>>;
}

/** The lines that offer a notification's pause and abort links. */
export function controlLinkLines(links: ReadonlyArray<{ label: string; url: string }>): string[] {
  if (links.length === 0) return [];
  return [
    '',
    'To stop the automation now (each link shows the execution first and acts once, when you confirm):',
    ...links.map((link) => `  ${link.label}: ${link.url}`),
  ];
}

export interface LinkParameters {
  approver?: string | undefined;
  exp?: string | undefined;
  sig?: string | undefined;
}

/** Everything an approver needs to decide, shown by GET and never containing the task token. */
export interface ApprovalView {
  approval: Omit<ApprovalRecord, 'taskToken'>;
  approver: string;
  execution?: ExecutionRecord;
  /** Latest outcome of every step so far: the diagnostics the approver decides on. */
  steps: StepOutcome[];
  /** Whether this approver may still decide. */
  canDecide: boolean;
  alreadyDecided?: 'approve' | 'reject';
  /** Cancelled because it was asked again (a newer e-mail carries the link that decides). */
  replaced?: boolean;
  /** The risk score of what is to be approved, with every factor's points. */
  risk?: RiskAssessment;
  /** What the diagnostics found, ranked into likely causes; predictions for the steps it covers. */
  explanation?: ExecutionExplanation;
}

export type ApprovalRefusal = LinkRefusal | DecideApprovalRefusal | 'too-late' | 'replaced' | 'cancelled';

export type ViewResult = { ok: true; view: ApprovalView } | { ok: false; reason: ApprovalRefusal };
export type DecideResult =
  | { ok: true; approval: Omit<ApprovalRecord, 'taskToken'>; settled: boolean }
  | { ok: false; reason: ApprovalRefusal; approval?: Omit<ApprovalRecord, 'taskToken'> };

function withoutToken(approval: ApprovalRecord): Omit<ApprovalRecord, 'taskToken'> {
  const { taskToken: _token, ...rest } = approval;
  return rest;
}

/** How far back the reminder sweep looks for running executions (an approval waits at most this long in practice). */
const REMINDER_HORIZON_MS = 2 * 86_400_000;

/** The end of every approval e-mail: the approver's own link and how to treat it. */
function linkLines(url: string): string[] {
  return [
    'Review the diagnostics and decide (the page asks you to confirm; opening it decides nothing):',
    url,
    '',
    'This link is yours alone, works once and expires. Do not forward it.',
  ];
}

/** Human-readable words for refusals (shown on the page and in API errors). */
export const REFUSAL_MESSAGES: Record<ApprovalRefusal, string> = {
  malformed: 'This approval link is incomplete. Open the link from the e-mail as it was sent.',
  'bad-signature': 'This approval link is not valid. Open the link from the e-mail as it was sent.',
  expired: 'This approval link has expired.',
  'not-found': 'There is no such approval request.',
  'not-pending': 'This approval was already settled.',
  'not-an-approver': 'You are not one of the approvers of this request.',
  'already-decided': 'You have already decided on this request.',
  'too-late': 'The execution no longer waits for this approval (it timed out or was aborted).',
  replaced:
    'This request was asked again (the platform restarted or the step was retried), so this link no longer decides: use the link in the newest e-mail.',
  cancelled: 'This request was cancelled (the execution was aborted); nothing was decided.',
};

/**
 * Approvals: the request (stored with its task token, e-mailed with a signed link per approver),
 * the page an approver sees, and the decision (once per approver, quorum, then the token is sent).
 */
export class ApprovalService {
  constructor(private readonly options: ApprovalServiceOptions) {}

  approversFor(groups: readonly string[]): string[] {
    return [...new Set(groups.flatMap((group) => this.options.config.approverGroups[group] ?? []))].sort();
  }

  async request(
    payload: z.infer<typeof ApprovalTask>,
  ): Promise<{ approvalId: string; approvers: string[]; created: boolean; skipped?: string }> {
    const { store, notifier, clock, config, signingKeys, logger } = this.options;
    const { execution, alert, approval } = payload;
    // Observe and shadow change nothing: nobody is asked to approve a dry run they cannot stop anyway.
    if (changesRunDry(execution.automationLevel)) {
      const skipped = `automation level ${execution.automationLevel}: every change runs as its dry run, so nobody is asked`;
      await this.options.engine.sendTaskSuccess(payload.taskToken, { approvedBy: [], skipped });
      return { approvalId: '', approvers: [], created: false, skipped };
    }
    const approvers = this.approversFor(approval.approverGroups);
    if (approvers.length === 0) {
      const error = new StateError(
        'Approval.Unroutable',
        `no approver configured for group(s) ${approval.approverGroups.join(', ')} in ${config.environment}; add them to approverGroups`,
      );
      error.stack = `${error.name}: ${error.message}`;
      throw error;
    }
    // One approval per task token: a retried invocation finds it and does not e-mail twice.
    const approvalKey = `${approval.target.kind}-${approval.target.id}-${createHash('sha256').update(payload.taskToken).digest('hex').slice(0, 10)}`;
    const approvalId = approvalPublicId(execution.id, approvalKey);
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + approval.timeoutSeconds * 1_000);
    const outcomes = await store.listStepOutcomes(execution.id);
    const steps = Object.fromEntries(
      outcomes
        .filter((outcome) => outcome.kind !== 'compensation')
        .map((outcome) => [outcome.stepId, { status: outcome.status, output: outcome.output ?? null }]),
    );
    const plan = approval.plan.map((step) => {
      let parameters = step.parameters;
      try {
        parameters = resolveTemplates(step.parameters, { alert, execution, steps });
      } catch {
        // Shown as written; the step resolves them when it runs.
      }
      return { ...step, parameters };
    });
    // What the environment's risk policy makes of it: a score that wants two approvers gets two.
    const assessment = await this.options.risk?.assessPlan({ execution, alert, plan, approvalId });
    const quorum = Math.max(approval.quorum, quorumOf(assessment?.decision ?? 'autonomous'));
    if (approvers.length < quorum) {
      const error = new StateError(
        'Approval.Unroutable',
        `quorum ${quorum} cannot be met: group(s) ${approval.approverGroups.join(', ')} have ${approvers.length} approver(s)`,
      );
      error.stack = `${error.name}: ${error.message}`;
      throw error;
    }
    const record: ApprovalRecord = {
      id: approvalId,
      executionId: execution.id,
      runbookId: execution.runbookId,
      requirement: approval.requirement,
      target: approval.target,
      environment: execution.environment,
      risk: approval.risk,
      approverGroups: approval.approverGroups,
      approvers,
      quorum,
      status: 'pending',
      decisions: [],
      requestedAt: now.toISOString(),
      expiresAt: expiresAt.toISOString(),
      taskToken: payload.taskToken,
      plan,
      alert: summarizeAlert(alert),
    };
    const created = await store.createApproval(record);
    if (!created) return { approvalId, approvers, created: false };
    const envelope = {
      actor: system('approvals'),
      executionId: execution.id,
      incidentId: execution.incidentId,
      runbookId: execution.runbookId,
      environment: execution.environment,
      resourceKey: auditResourceKey(alert),
    };
    // A new token for the same target (the task was retried) makes the older requests dead: say so.
    for (const older of await store.listApprovals(execution.id)) {
      if (older.id === approvalId || older.status !== 'pending') continue;
      if (older.target.kind !== approval.target.kind || older.target.id !== approval.target.id) continue;
      const olderKey = parseApprovalPublicId(older.id)?.approvalKey;
      if (olderKey && (await store.closeApproval(execution.id, olderKey, 'cancelled', now.toISOString())))
        await recordAudit(this.options.audit, clock, {
          ...envelope,
          kind: 'approval.closed',
          id: auditEventId('approval.closed', older.id),
          approvalId: older.id,
          status: 'cancelled',
        });
    }
    await recordAudit(this.options.audit, clock, {
      ...envelope,
      kind: 'approval.requested',
      id: auditEventId('approval.requested', approvalId),
      at: record.requestedAt,
      approvalId,
      target: approval.target,
      requirement: approval.requirement,
      risk: approval.risk,
      approvers,
      quorum: approval.quorum,
      expiresAt: record.expiresAt,
      details: { approverGroups: approval.approverGroups, plan: plan.map((step) => step.id) },
    });

    const linkExpiry = Math.floor(
      Math.min(expiresAt.getTime(), now.getTime() + config.approvalLinkTtlSeconds * 1_000) / 1_000,
    );
    const signingKey = await signingKeys.signing();
    const what =
      approval.target.kind === 'phase' ? `phase "${approval.target.id}"` : `step "${approval.target.id}"`;
    const explanation = await this.options.explain?.tryExplain(
      { id: execution.id, runbookId: execution.runbookId, alert },
      { outcomes, steps: plan.map((step) => ({ id: step.id, name: step.name })) },
    );
    for (const approver of approvers) {
      const url = approvalLinkUrl(
        config.publicBaseUrl,
        { approvalId, approver, expiresAt: linkExpiry },
        signingKey,
      );
      const stopLinks = (await this.options.controlLinks?.linksFor(execution.id, approver, linkExpiry)) ?? [];
      const text = [
        `runbook-autopilot asks for your approval before ${what} of runbook ${execution.runbookId} (risk ${approval.risk}).`,
        ...(approval.requirement === AUTOMATION_APPROVAL_REQUIREMENT
          ? [
              `Why: ${execution.runbookId} runs at automation level approve in ${execution.environment}, so every change waits for a person (see its evidence on the dashboard's Learning page).`,
            ]
          : []),
        '',
        `Alert:       ${alert.name} (${alert.severity}) — ${alert.summary}`,
        `Resource:    ${alert.resource.type} ${alert.resource.id}`,
        `Environment: ${execution.environment}${execution.dryRun ? ' (dry run)' : ''}`,
        `Execution:   ${execution.id}`,
        `Quorum:      ${quorum} of ${approvers.length} approver(s)`,
        ...(assessment ? [`Risk score:  ${describeScore(assessment)}`] : []),
        `Expires:     in ${formatDuration(approval.timeoutSeconds)} (${expiresAt.toISOString()})`,
        '',
        'It will run:',
        ...plan.map(
          (step) => `  - ${step.name} [${step.tool}, risk ${step.risk}] ${JSON.stringify(step.parameters)}`,
        ),
        '',
        ...(explanation ? [...explanationLines(explanation), ''] : []),
        ...linkLines(url),
        ...controlLinkLines(stopLinks),
      ].join('\n');
      await notifier.send({
        id: randomUUID(),
        kind: 'approval-request',
        to: [approver],
        subject: `Approve ${execution.runbookId} on ${alert.resource.id} (${execution.environment})?`,
        text,
        links: [{ label: 'Review and decide', url }, ...stopLinks],
        executionId: execution.id,
        sentAt: now.toISOString(),
      });
    }
    logger.info('approval requested', { executionId: execution.id, approvalId, approvers: approvers.length });
    return { approvalId, approvers, created: true };
  }

  /**
   * Reminds the approvers who have not answered an approval pending longer than
   * config.approvalReminderSeconds, once per approval, with fresh links. Runs on a schedule (every
   * minute on AWS, every 15 s locally); concurrent runs remind once (the store's claim decides).
   */
  async remindOverdue(): Promise<{ reminded: number; approvers: number }> {
    const { store, notifier, clock, config, signingKeys, logger } = this.options;
    const counts = { reminded: 0, approvers: 0 };
    if (config.approvalReminderSeconds === 0) return counts;
    const now = clock.now();
    // Executions still running, newest first, back to the oldest an approval could still wait in.
    const horizon = now.getTime() - REMINDER_HORIZON_MS;
    let cursor: string | undefined;
    do {
      const page = await store.listExecutions({ limit: 100, ...(cursor ? { cursor } : {}) });
      for (const execution of page.executions) {
        if (TERMINAL_STATUSES.has(execution.status)) continue;
        for (const approval of await store.listApprovals(execution.id)) {
          const waitedMs = now.getTime() - Date.parse(approval.requestedAt);
          if (approval.status !== 'pending' || approval.remindedAt) continue;
          if (waitedMs < config.approvalReminderSeconds * 1_000) continue;
          if (Date.parse(approval.expiresAt) <= now.getTime()) continue;
          const approvalKey = parseApprovalPublicId(approval.id)?.approvalKey;
          if (!approvalKey) continue;
          if (!(await store.markApprovalReminded(execution.id, approvalKey, now.toISOString()))) continue;
          const waiting = approval.approvers.filter(
            (approver) => !approval.decisions.some((decision) => decision.approver === approver),
          );
          const linkExpiry = Math.floor(
            Math.min(Date.parse(approval.expiresAt), now.getTime() + config.approvalLinkTtlSeconds * 1_000) /
              1_000,
          );
          const what =
            approval.target.kind === 'phase'
              ? `phase "${approval.target.id}"`
              : `step "${approval.target.id}"`;
          const approved = approval.decisions.filter((decision) => decision.decision === 'approve').length;
          const expiresIn = Math.max(0, Math.round((Date.parse(approval.expiresAt) - now.getTime()) / 1_000));
          const signingKey = await signingKeys.signing();
          // What the diagnostics concluded since the request, as the first e-mail said it.
          const explanation = await this.options.explain?.tryExplain(execution, {
            steps: approval.plan.map((step) => ({ id: step.id, name: step.name })),
          });
          for (const approver of waiting) {
            const url = approvalLinkUrl(
              config.publicBaseUrl,
              { approvalId: approval.id, approver, expiresAt: linkExpiry },
              signingKey,
            );
            const stopLinks =
              (await this.options.controlLinks?.linksFor(approval.executionId, approver, linkExpiry)) ?? [];
            await notifier.send({
              id: randomUUID(),
              kind: 'approval-request',
              to: [approver],
              subject: `Reminder, waiting ${formatDuration(Math.round(waitedMs / 60_000) * 60 || 60)}: approve ${approval.runbookId} on ${approval.alert.resource.id} (${approval.environment})?`,
              text: [
                `runbook-autopilot has waited ${formatDuration(Math.round(waitedMs / 60_000) * 60 || 60)} for an approval before ${what} of runbook ${approval.runbookId} (risk ${approval.risk}).`,
                '',
                `Alert:       ${approval.alert.name} (${approval.alert.severity}) — ${approval.alert.summary}`,
                `Resource:    ${approval.alert.resource.type} ${approval.alert.resource.id}`,
                `Environment: ${approval.environment}`,
                `Execution:   ${approval.executionId}`,
                `Quorum:      ${approved} of ${approval.quorum} so far`,
                `Expires:     in ${formatDuration(expiresIn || 1)} (${approval.expiresAt}); then it escalates`,
                '',
                ...(explanation ? [...explanationLines(explanation), ''] : []),
                ...linkLines(url),
                ...controlLinkLines(stopLinks),
              ].join('\n'),
              links: [{ label: 'Review and decide', url }, ...stopLinks],
              executionId: approval.executionId,
              sentAt: now.toISOString(),
            });
            counts.approvers++;
          }
          counts.reminded++;
          logger.info('approval reminder sent', {
            executionId: approval.executionId,
            approvalId: approval.id,
            approvers: waiting.length,
            waitedMs,
          });
        }
      }
      const last = page.executions.at(-1);
      cursor = last && Date.parse(last.startedAt) >= horizon ? page.cursor : undefined;
    } while (cursor);
    return counts;
  }

  private async checkLink(
    approvalId: string,
    link: LinkParameters,
  ): Promise<
    | { ok: true; approver: string; executionId: string; approvalKey: string }
    | { ok: false; reason: ApprovalRefusal }
  > {
    const parsed = parseApprovalPublicId(approvalId);
    if (!parsed) return { ok: false, reason: 'not-found' };
    const { signingKeys, clock } = this.options;
    const verifyWith = (keys: readonly Buffer[]): LinkVerification => {
      const nowSeconds = Math.floor(clock.now().getTime() / 1_000);
      let refused: LinkVerification = { ok: false, reason: 'bad-signature' };
      for (const key of keys) {
        refused = verifyApprovalLink({ approvalId, ...link }, key, nowSeconds);
        // Only a wrong signature may be another key's: malformed and expired are final.
        if (refused.ok || refused.reason !== 'bad-signature') return refused;
      }
      return refused;
    };
    let verified = verifyWith(await signingKeys.verifying());
    // Signed with a key this reader has not seen yet (rotated meanwhile): ask the key store again.
    if (!verified.ok && verified.reason === 'bad-signature')
      verified = verifyWith(await signingKeys.verifying({ recheck: true }));
    if (!verified.ok) return verified;
    return { ok: true, approver: verified.claims.approver, ...parsed };
  }

  async view(approvalId: string, link: LinkParameters): Promise<ViewResult> {
    const checked = await this.checkLink(approvalId, link);
    if (!checked.ok) return checked;
    const { store } = this.options;
    const approval = await store.getApproval(checked.executionId, checked.approvalKey);
    if (!approval) return { ok: false, reason: 'not-found' };
    if (!approval.approvers.includes(checked.approver)) return { ok: false, reason: 'not-an-approver' };
    const [execution, outcomes] = await Promise.all([
      store.getExecution(approval.executionId),
      store.listStepOutcomes(approval.executionId),
    ]);
    const latest = new Map<string, StepOutcome>();
    for (const outcome of outcomes) latest.set(`${outcome.kind}:${outcome.stepId}`, outcome);
    const mine = approval.decisions.find((decision) => decision.approver === checked.approver);
    const expired = this.options.clock.now().getTime() >= new Date(approval.expiresAt).getTime();
    const replaced = approval.status === 'cancelled' && (await this.replaced(approval));
    const risk = await this.options.risk?.forApproval(approval);
    const explanation =
      execution &&
      (await this.options.explain?.tryExplain(execution, {
        outcomes,
        steps: approval.plan.map((step) => ({ id: step.id, name: step.name })),
      }));
    return {
      ok: true,
      view: {
        approval: withoutToken(approval),
        approver: checked.approver,
        ...(execution ? { execution } : {}),
        steps: [...latest.values()],
        canDecide: approval.status === 'pending' && !mine && !expired,
        ...(mine ? { alreadyDecided: mine.decision } : {}),
        ...(replaced ? { replaced } : {}),
        ...(risk ? { risk } : {}),
        ...(explanation ? { explanation } : {}),
      },
    };
  }

  /** Whether a cancelled approval was replaced by a newer request for the same target (asked again). */
  private async replaced(approval: ApprovalRecord): Promise<boolean> {
    const all = await this.options.store.listApprovals(approval.executionId);
    return all.some(
      (other) =>
        other.id !== approval.id &&
        other.target.kind === approval.target.kind &&
        other.target.id === approval.target.id &&
        other.requestedAt >= approval.requestedAt,
    );
  }

  /**
   * One approver's decision: the signed link says who they are, or `signedIn` does (an approver signed
   * in to the dashboard, vouched for by the identity provider; they must still be one of the approvers).
   */
  async decide(
    approvalId: string,
    link: LinkParameters,
    decision: 'approve' | 'reject',
    comment?: string,
    source: AuditSource = { channel: 'approval-link' },
    signedIn?: string,
  ): Promise<DecideResult> {
    const parsed = signedIn === undefined ? undefined : parseApprovalPublicId(approvalId);
    const checked =
      signedIn === undefined
        ? await this.checkLink(approvalId, link)
        : parsed
          ? { ok: true as const, approver: signedIn, ...parsed }
          : { ok: false as const, reason: 'not-found' as const };
    if (!checked.ok) return checked;
    const { store, clock, logger } = this.options;
    const now = clock.now().toISOString();
    const result = await store.decideApproval({
      executionId: checked.executionId,
      approvalKey: checked.approvalKey,
      decision: { approver: checked.approver, decision, ...(comment ? { comment } : {}), at: now },
      now,
    });
    if (!result.ok) {
      // A settled approval whose token may not have reached the engine (a throttled earlier send): this
      // approver's repeat sends it again; Step Functions refuses a token twice, which is harmless.
      const settled = result.approval;
      const decidedHere = settled?.decisions.some((entry) => entry.approver === checked.approver);
      if (settled && decidedHere && (settled.status === 'approved' || settled.status === 'rejected')) {
        const resent = await this.deliver(settled, checked.approver, now);
        if (resent === 'delivered') return { ok: true, approval: withoutToken(settled), settled: true };
      }
      // "Already settled" would be wrong for a request nobody decided: say why it no longer decides.
      const reason: ApprovalRefusal =
        result.reason === 'not-pending' && settled?.status === 'cancelled'
          ? (await this.replaced(settled))
            ? 'replaced'
            : 'cancelled'
          : result.reason;
      return {
        ok: false,
        reason,
        ...(result.approval ? { approval: withoutToken(result.approval) } : {}),
      };
    }
    const approval = result.approval;
    await recordAudit(this.options.audit, clock, {
      kind: 'approval.decided',
      at: now,
      actor: person(checked.approver, source),
      executionId: approval.executionId,
      runbookId: approval.runbookId,
      environment: approval.environment,
      resourceKey: auditResourceKey(approval.alert),
      approvalId: approval.id,
      decision,
      ...(comment ? { comment: auditText(comment) } : {}),
      status: approval.status === 'pending' || approval.status === 'approved' ? approval.status : 'rejected',
    });
    if (approval.status === 'pending') return { ok: true, approval: withoutToken(approval), settled: false };
    if ((await this.deliver(approval, checked.approver, now)) === 'too-late') {
      logger.warn('approval decided after the execution stopped waiting', { approvalId });
      return { ok: false, reason: 'too-late', approval: withoutToken(approval) };
    }
    logger.info('approval settled', { approvalId, status: approval.status });
    return { ok: true, approval: withoutToken(approval), settled: true };
  }

  /** Sends a settled approval's token to the engine: success with the approvers, or Approval.Rejected. */
  private async deliver(
    approval: ApprovalRecord,
    approver: string,
    now: string,
  ): Promise<'delivered' | 'too-late'> {
    const { engine } = this.options;
    try {
      if (approval.status === 'approved') {
        await engine.sendTaskSuccess(approval.taskToken, {
          approvedBy: approval.decisions
            .filter((entry) => entry.decision === 'approve')
            .map((entry) => entry.approver),
          decidedAt: approval.decidedAt ?? now,
        });
      } else {
        const rejection = approval.decisions.find((entry) => entry.decision === 'reject');
        await engine.sendTaskFailure(approval.taskToken, {
          error: AslErrorName.ApprovalRejected,
          cause: `rejected by ${rejection?.approver ?? approver}${rejection?.comment ? `: ${rejection.comment}` : ''}`,
        });
      }
      return 'delivered';
    } catch (error) {
      if (error instanceof TaskTokenExpiredError) return 'too-late';
      throw error;
    }
  }
}

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../ports/clock.ts';
import type { FollowUps } from '../../ports/follow-ups.ts';
import type { LinkSigningKeys } from '../../ports/link-signing-keys.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { Store } from '../../ports/store.ts';
import { executionLink, type RuntimeConfig } from '../config.ts';
import {
  FOLLOW_UP_LINK_TTL_SECONDS,
  type FollowUpLinkParameters,
  type FollowUpPurpose,
  followUpLinkUrl,
  verifyFollowUpLink,
} from '../feedback/links.ts';
import { type ExecutionFeedback, FEEDBACK_REASON_MAX_CHARS, stepNamedBy } from '../feedback/records.ts';
import type { ExecutionRecord, StepOutcome } from '../records.ts';
import { verificationSummary } from '../report/incident-report.ts';
import { humanDuration } from '../report/markdown.ts';
import type { Runbook } from '../runbook/model.ts';
import type { IncidentReportService } from './incident-report.ts';

export type FollowUpRefusal =
  | 'malformed'
  | 'bad-signature'
  | 'expired'
  | 'not-found'
  | 'not-finished'
  | 'not-asked'
  | 'used'
  | 'invalid';

/** Words for each refusal, shown on the page and in JSON answers. */
export const FOLLOW_UP_REFUSALS: Record<FollowUpRefusal, string> = {
  malformed: 'This link is incomplete. Open the link from the notification as it was sent.',
  'bad-signature': 'This link is not valid. Open the link from the notification as it was sent.',
  expired: 'This link has expired (links last a week). The report is still on the dashboard.',
  'not-found': 'There is no such execution.',
  'not-finished': 'The execution has not ended yet: feedback opens when it ends.',
  'not-asked': 'This runbook does not ask for feedback (learningHooks.askForFeedback).',
  used: 'You already gave feedback on this execution: each person answers once.',
  invalid: 'The feedback is not valid.',
};

export interface FeedbackView {
  execution: ExecutionRecord;
  recipient: string;
  expiresAt: string;
  /** The steps that ran, for the "which step" choice. */
  steps: Array<Pick<StepOutcome, 'stepId' | 'name' | 'kind' | 'status'>>;
  /** This person's answer, when given. */
  given?: ExecutionFeedback;
  timeToMitigateMs?: number;
}

export type FollowUpResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: FollowUpRefusal; message: string };

/** Who is told that an execution ended: the people who decided its approvals, and the on-call. */
export function finalNoticeRecipients(
  runbook: Runbook | undefined,
  config: Pick<RuntimeConfig, 'escalationTargets'>,
  deciders: readonly string[],
): string[] {
  // The on-call: whoever the runbook pages; a runbook that pages nobody names the environment's default.
  const paged = [
    ...new Set(
      (runbook?.escalationTriggers ?? [])
        .filter((trigger) => trigger.severity === 'page')
        .flatMap((trigger) => trigger.notify),
    ),
  ];
  const targets = paged.length > 0 ? paged : ['default'];
  const people = targets.flatMap((target) => config.escalationTargets[target] ?? []);
  // Where no people are configured (a laptop), the target's name stands in, as escalations do.
  const onCall = people.length > 0 ? people : targets;
  return [...new Set([...deciders, ...onCall])];
}

function refused<T>(reason: FollowUpRefusal, message?: string): FollowUpResult<T> {
  return { ok: false, reason, message: message ?? FOLLOW_UP_REFUSALS[reason] };
}

/**
 * After an execution ends: one final notification (outcome, time to mitigate, a signed link to the
 * incident report and, when the runbook asks for feedback, a signed feedback link per person), sent
 * once whatever redelivers the end; then the report and feedback pages those links open.
 */
export class FollowUpService {
  constructor(
    private readonly deps: {
      store: Store;
      followUps: FollowUps;
      reports: IncidentReportService;
      notifier: Notifier;
      signingKeys: LinkSigningKeys;
      clock: Clock;
      logger: Logger;
      config: RuntimeConfig;
      runbooks: () => Promise<Runbook[]> | Runbook[];
    },
  ) {}

  private async runbookOf(runbookId: string): Promise<Runbook | undefined> {
    return (await this.deps.runbooks()).find((runbook) => runbook.id === runbookId);
  }

  /** Sends the final notification of an ended execution, once; false when it was sent before. */
  async executionEnded(executionId: string): Promise<boolean> {
    const { store, followUps, notifier, clock, config, logger } = this.deps;
    const execution = await store.getExecution(executionId);
    if (!execution?.outcome) return false;
    const claimedAt = clock.now().toISOString();
    if (!(await followUps.claimFinalNotice(executionId, claimedAt))) return false;
    try {
      const [runbook, approvals, report] = await Promise.all([
        this.runbookOf(execution.runbookId),
        store.listApprovals(executionId),
        this.deps.reports.report(executionId),
      ]);
      const deciders = approvals.flatMap((approval) =>
        approval.decisions.map((decision) => decision.approver),
      );
      const recipients = finalNoticeRecipients(runbook, config, deciders);
      const askForFeedback = (runbook?.learningHooks.askForFeedback ?? false) && !execution.dryRun;
      const key = await this.deps.signingKeys.signing();
      const expiresAt = Math.floor(clock.now().getTime() / 1_000) + FOLLOW_UP_LINK_TTL_SECONDS;
      const link = (purpose: FollowUpPurpose, recipient: string) =>
        followUpLinkUrl(config.publicBaseUrl, { executionId, purpose, recipient, expiresAt }, key);
      const outcome = execution.outcome;
      const resource = execution.alert.resource.id;
      const subject = `[${outcome.status}] ${execution.runbookId} on ${resource}: execution ended`;
      const details = executionLink(config, execution);
      const body = [
        `Runbook ${execution.runbookId} ${execution.runbookVersion} ended: ${outcome.status}${execution.dryRun ? ' (dry run: nothing was changed)' : ''}.`,
        '',
        `Alert: ${execution.alert.name} (${execution.alert.severity}) — ${execution.alert.summary}`,
        `Resource: ${execution.alert.resource.type} ${resource}`,
        `Environment: ${execution.environment}`,
        `Execution: ${execution.id}`,
        ...(outcome.error ? [`Error: ${outcome.error}${outcome.cause ? ` — ${outcome.cause}` : ''}`] : []),
        ...(outcome.rolledBack ? ['The changes made were rolled back.'] : []),
        `Time to mitigate: ${report.timeToMitigateMs === undefined ? 'not mitigated by this execution' : humanDuration(report.timeToMitigateMs)}`,
        `Verification: ${verificationSummary(report.verification)}`,
        ...(details ? ['', `Details: ${details}`] : []),
      ];
      // Each person gets links of their own (and, on AWS, the topic they are subscribed to).
      for (const message of recipients.map((recipient) => ({ to: [recipient], recipient }))) {
        const links = [
          { label: 'Incident report', url: link('report', message.recipient) },
          ...(askForFeedback
            ? [{ label: 'Was this run helpful?', url: link('feedback', message.recipient) }]
            : []),
        ];
        await notifier.send({
          id: randomUUID(),
          kind: 'follow-up',
          to: message.to,
          subject,
          text: [
            ...body,
            '',
            ...links.map((entry) => `${entry.label}: ${entry.url}`),
            ...(askForFeedback
              ? ['(The feedback link asks one question: helpful or not, and why. Each person answers once.)']
              : []),
          ].join('\n'),
          links: [...(details ? [{ label: 'Execution', url: details }] : []), ...links],
          severity: 'info',
          executionId,
          sentAt: clock.now().toISOString(),
        });
      }
      logger.info('final notification sent', { executionId, recipients: recipients.length, askForFeedback });
      return true;
    } catch (error) {
      // Not sent: the next delivery of the end event tries again.
      await followUps.releaseFinalNotice(executionId, claimedAt);
      throw error;
    }
  }

  private async verify(
    executionId: string,
    purpose: FollowUpPurpose,
    link: FollowUpLinkParameters,
  ): Promise<FollowUpResult<{ recipient: string; expiresAt: number }>> {
    const { signingKeys, clock } = this.deps;
    const nowSeconds = Math.floor(clock.now().getTime() / 1_000);
    let verified = verifyFollowUpLink(
      { executionId, purpose },
      link,
      await signingKeys.verifying(),
      nowSeconds,
    );
    // Signed with a key this reader has not seen yet (rotated meanwhile): ask the key store again.
    if (!verified.ok && verified.reason === 'bad-signature')
      verified = verifyFollowUpLink(
        { executionId, purpose },
        link,
        await signingKeys.verifying({ recheck: true }),
        nowSeconds,
      );
    if (!verified.ok) return refused(verified.reason);
    return {
      ok: true,
      value: { recipient: verified.claims.recipient, expiresAt: verified.claims.expiresAt },
    };
  }

  /** The incident report a signed report link opens. */
  async report(executionId: string, link: FollowUpLinkParameters): Promise<FollowUpResult<string>> {
    const verified = await this.verify(executionId, 'report', link);
    if (!verified.ok) return verified;
    if (!(await this.deps.store.getExecution(executionId))) return refused('not-found');
    return { ok: true, value: await this.deps.reports.markdown(executionId) };
  }

  /** What a feedback link's page shows: the execution, its steps, and this person's answer if given. */
  async feedbackView(
    executionId: string,
    link: FollowUpLinkParameters,
  ): Promise<FollowUpResult<FeedbackView>> {
    const verified = await this.verify(executionId, 'feedback', link);
    if (!verified.ok) return verified;
    const { store, followUps } = this.deps;
    const execution = await store.getExecution(executionId);
    if (!execution) return refused('not-found');
    const [outcomes, given] = await Promise.all([
      store.listStepOutcomes(executionId),
      followUps.getFeedback(execution.runbookId, executionId, verified.value.recipient),
    ]);
    const latest = new Map<string, StepOutcome>();
    for (const outcome of outcomes) if (outcome.kind !== 'compensation') latest.set(outcome.stepId, outcome);
    return {
      ok: true,
      value: {
        execution,
        recipient: verified.value.recipient,
        expiresAt: new Date(verified.value.expiresAt * 1_000).toISOString(),
        steps: [...latest.values()].map(({ stepId, name, kind, status }) => ({ stepId, name, kind, status })),
        ...(given ? { given } : {}),
        ...(execution.outcome?.timeToRecoverMs === undefined
          ? {}
          : { timeToMitigateMs: execution.outcome.timeToRecoverMs }),
      },
    };
  }

  /** Records one person's feedback, once: a second answer is refused ('used'). */
  async giveFeedback(
    executionId: string,
    link: FollowUpLinkParameters,
    answer: { helpful: boolean; reason?: string | undefined; stepId?: string | undefined },
  ): Promise<FollowUpResult<ExecutionFeedback>> {
    const verified = await this.verify(executionId, 'feedback', link);
    if (!verified.ok) return verified;
    const { store, followUps, clock, logger } = this.deps;
    const execution = await store.getExecution(executionId);
    if (!execution) return refused('not-found');
    if (!execution.outcome) return refused('not-finished');
    const runbook = await this.runbookOf(execution.runbookId);
    if (runbook && !runbook.learningHooks.askForFeedback) return refused('not-asked');
    const reason = answer.reason?.trim() || undefined;
    if (reason && reason.length > FEEDBACK_REASON_MAX_CHARS)
      return refused(
        'invalid',
        `reason: ${reason.length} characters; at most ${FEEDBACK_REASON_MAX_CHARS} (a sentence or two)`,
      );
    if (!answer.helpful && !reason)
      return refused(
        'invalid',
        'reason: say why the run did not help (it keeps the run from counting as a verified resolution)',
      );
    const stepIds = [
      ...new Set((await store.listStepOutcomes(executionId)).map((outcome) => outcome.stepId)),
    ];
    if (answer.stepId && !stepIds.includes(answer.stepId))
      return refused(
        'invalid',
        `step: "${answer.stepId}" did not run in this execution; choose one of ${stepIds.join(', ') || '(none)'}`,
      );
    const stepId = answer.stepId || stepNamedBy(reason, stepIds);
    const feedback: ExecutionFeedback = {
      executionId,
      runbookId: execution.runbookId,
      environment: execution.environment,
      recipient: verified.value.recipient,
      helpful: answer.helpful,
      ...(reason ? { reason } : {}),
      ...(stepId ? { stepId } : {}),
      at: clock.now().toISOString(),
    };
    if (!(await followUps.recordFeedback(feedback))) return refused('used');
    logger.info('feedback recorded', { executionId, helpful: answer.helpful, ...(stepId ? { stepId } : {}) });
    return { ok: true, value: feedback };
  }
}

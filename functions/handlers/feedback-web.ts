import * as z from 'zod';
import { FEEDBACK_REASON_MAX_CHARS } from '../core/feedback/records.ts';
import { humanDuration } from '../core/report/markdown.ts';
import type { FeedbackView, FollowUpRefusal, FollowUpService } from '../core/services/follow-up.ts';
import { escapeHtml, layout } from './approval-page.ts';
import {
  checkExecutionId,
  type HttpEvent,
  type HttpResult,
  html,
  json,
  markdown,
  pathParameter,
} from './http.ts';
import { formAction, readLinkForm, refusal, wantsJson } from './signed-link-web.ts';

const FeedbackForm = z
  .object({
    helpful: z.enum(['yes', 'no', 'true', 'false']),
    /** Checked by the service (a clear message naming the limit); bounded here against floods. */
    reason: z
      .string()
      .max(4 * FEEDBACK_REASON_MAX_CHARS)
      .optional(),
    step: z.string().max(128).optional(),
    to: z.string().optional(),
    exp: z.string().optional(),
    sig: z.string().optional(),
    /** The page's CSRF token (the embedded platform's server checks it; the handler does not use it). */
    csrf: z.string().max(200).optional(),
  })
  .strict();

export const FOLLOW_UP_STATUS: Record<FollowUpRefusal, number> = {
  malformed: 400,
  'bad-signature': 403,
  expired: 410,
  'not-found': 404,
  'not-finished': 409,
  'not-asked': 409,
  used: 409,
  invalid: 400,
};

function feedbackPage(
  view: FeedbackView,
  action: string,
  formToken: string | undefined,
  message?: { kind: 'ok' | 'bad'; text: string },
): string {
  const { execution } = view;
  const outcome = execution.outcome;
  const steps = view.steps
    .map(
      (step) =>
        `<option value="${escapeHtml(step.stepId)}">${escapeHtml(step.name)} (${escapeHtml(step.stepId)}, ${escapeHtml(step.status)})</option>`,
    )
    .join('');
  const form = view.given
    ? `<div class="notice ok">You answered <strong>${view.given.helpful ? 'helpful' : 'not helpful'}</strong> at ${escapeHtml(view.given.at)}${view.given.reason ? `: ${escapeHtml(view.given.reason)}` : ''}. Each person answers once.</div>`
    : `<section><h2>Was this run helpful?</h2>
        <form method="post" action="${escapeHtml(action)}">${formToken ? `<input type="hidden" name="csrf" value="${escapeHtml(formToken)}">` : ''}
          <p><label><input type="radio" name="helpful" value="yes" required> Helpful</label>
          <label><input type="radio" name="helpful" value="no"> Not helpful</label></p>
          <label for="step">Which step (optional)</label>
          <select id="step" name="step"><option value="">The run as a whole</option>${steps}</select>
          <label for="reason">Why (needed when it did not help; at most ${FEEDBACK_REASON_MAX_CHARS} characters)</label>
          <textarea id="reason" name="reason" maxlength="${FEEDBACK_REASON_MAX_CHARS}"></textarea>
          <div class="actions"><button class="approve" type="submit">Send</button></div>
        </form>
        <p><small>A run marked not helpful no longer counts as a verified resolution in the learning report.</small></p></section>`;
  return layout(
    `Feedback: ${execution.runbookId}`,
    `${message ? `<div class="notice ${message.kind}">${escapeHtml(message.text)}</div>` : ''}
    <h1>${escapeHtml(execution.runbookId)} on ${escapeHtml(execution.alert.resource.id)}</h1>
    <p class="sub">For ${escapeHtml(view.recipient)} · ${escapeHtml(execution.environment)} · link expires ${escapeHtml(view.expiresAt)}</p>
    ${form}
    <section><h2>Execution</h2><dl>
      <dt>Execution</dt><dd>${escapeHtml(execution.id)}</dd>
      <dt>Outcome</dt><dd class="status status-${escapeHtml(execution.status)}">${escapeHtml(outcome?.status ?? execution.status)}${outcome?.rolledBack ? ' (rolled back)' : ''}${execution.dryRun ? ' (dry run)' : ''}</dd>
      <dt>Alert</dt><dd>${escapeHtml(execution.alert.name)} (${escapeHtml(execution.alert.severity)}) — ${escapeHtml(execution.alert.summary)}</dd>
      <dt>Resource</dt><dd>${escapeHtml(execution.alert.resource.type)} ${escapeHtml(execution.alert.resource.id)}</dd>
      <dt>Started</dt><dd>${escapeHtml(execution.startedAt)}</dd>
      <dt>Ended</dt><dd>${escapeHtml(execution.stoppedAt ?? '—')}</dd>
      <dt>Time to mitigate</dt><dd>${view.timeToMitigateMs === undefined ? 'not mitigated' : escapeHtml(humanDuration(view.timeToMitigateMs))}</dd>
    </dl></section>`,
  );
}

function refusalPage(text: string): string {
  return layout('Feedback', `<div class="notice bad">${escapeHtml(text)}</div>`);
}

function linkOf(
  event: HttpEvent,
  body?: { to?: string | undefined; exp?: string | undefined; sig?: string | undefined },
) {
  const query = event.queryStringParameters ?? {};
  return { to: query.to ?? body?.to, exp: query.exp ?? body?.exp, sig: query.sig ?? body?.sig };
}

const executionIdOf = (event: HttpEvent) =>
  checkExecutionId(pathParameter(event, 'id', 'execution id'), 'id');

/**
 * The signed links of the final notification, served with the approval pages (the same public
 * function): the incident report (GET), and feedback (GET shows the form, POST records once).
 */
export function followUpRoutes(service: FollowUpService, formToken?: string) {
  return [
    {
      method: 'GET' as const,
      path: '/reports/{id}',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const result = await service.report(executionIdOf(event), linkOf(event));
        if (result.ok) return markdown(200, result.value);
        return refusal(event, FOLLOW_UP_STATUS[result.reason], result, refusalPage);
      },
    },
    {
      method: 'GET' as const,
      path: '/feedback/{id}',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const result = await service.feedbackView(executionIdOf(event), linkOf(event));
        if (!result.ok) return refusal(event, FOLLOW_UP_STATUS[result.reason], result, refusalPage);
        return wantsJson(event)
          ? json(200, result.value)
          : html(200, feedbackPage(result.value, formAction(event), formToken));
      },
    },
    {
      method: 'POST' as const,
      path: '/feedback/{id}',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const executionId = executionIdOf(event);
        const body = readLinkForm(event, FeedbackForm, 'the feedback', { emptyJson: true });
        const link = linkOf(event, body);
        const result = await service.giveFeedback(executionId, link, {
          helpful: body.helpful === 'yes' || body.helpful === 'true',
          reason: body.reason,
          stepId: body.step || undefined,
        });
        if (wantsJson(event))
          return result.ok
            ? json(201, { message: 'Thank you: your feedback is recorded.', feedback: result.value })
            : json(FOLLOW_UP_STATUS[result.reason], { error: result.message, reason: result.reason });
        const status = result.ok ? 200 : FOLLOW_UP_STATUS[result.reason];
        const message = result.ok
          ? { kind: 'ok' as const, text: 'Thank you: your feedback is recorded.' }
          : { kind: 'bad' as const, text: result.message };
        const view = await service.feedbackView(executionId, link);
        return view.ok
          ? html(status, feedbackPage(view.value, formAction(event), formToken, message))
          : html(status, refusalPage(message.text));
      },
    },
  ];
}

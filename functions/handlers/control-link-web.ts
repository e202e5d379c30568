import * as z from 'zod';
import type {
  ControlLinkRefusal,
  ControlLinkService,
  ControlLinkView,
} from '../core/services/control-links.ts';
import { escapeHtml, layout, preview } from './approval-page.ts';
import { checkExecutionId, type HttpEvent, type HttpResult, html, json, pathParameter } from './http.ts';
import { formAction, readLinkForm, refusal, wantsJson } from './signed-link-web.ts';

const LinkForm = z
  .object({
    to: z.string().optional(),
    exp: z.string().optional(),
    nonce: z.string().optional(),
    sig: z.string().optional(),
    reason: z.string().max(1_000).optional(),
    /** The page's CSRF token (the embedded platform's server checks it; the handler does not use it). */
    csrf: z.string().max(200).optional(),
  })
  .strict();

const REFUSAL_STATUS: Record<ControlLinkRefusal, number> = {
  malformed: 400,
  'bad-signature': 403,
  expired: 410,
  used: 409,
  'not-found': 404,
  finished: 409,
  conflict: 409,
};

function target(event: HttpEvent): { executionId: string; action: string } {
  return {
    executionId: checkExecutionId(pathParameter(event, 'id', 'execution id'), 'id'),
    action: pathParameter(event, 'action', 'action'),
  };
}

const ACTION_WORDS = {
  pause: {
    title: 'Pause',
    button: 'Pause the execution',
    what: 'The execution holds at its next checkpoint (before its next phase or change) until someone resumes it from the dashboard, the API or `runbook resume`. A step already running finishes.',
  },
  abort: {
    title: 'Abort',
    button: 'Abort and roll back',
    what: 'The running step is stopped, pending approvals are cancelled, and the changes made so far are compensated in reverse order; then the on-call engineer is told.',
  },
} as const;

function linkPage(
  view: ControlLinkView,
  action: string,
  formToken: string | undefined,
  message?: { kind: 'ok' | 'warn' | 'bad'; text: string },
): string {
  const { execution } = view;
  const words = ACTION_WORDS[view.action];
  const steps = view.steps
    .map(
      (step) =>
        `<tr><td>${escapeHtml(step.name)}<br><small>${escapeHtml(step.kind)} ${escapeHtml(step.stepId)}</small></td><td class="status status-${escapeHtml(step.status)}">${escapeHtml(step.status)}</td><td><pre>${escapeHtml(preview(step.error ? `${step.error.name}: ${step.error.message}` : step.output))}</pre></td></tr>`,
    )
    .join('');
  const form = view.canAct
    ? `<section><h2>${escapeHtml(words.title)}</h2><p>${escapeHtml(words.what)}</p>
        <form method="post" action="${escapeHtml(action)}">${formToken ? `<input type="hidden" name="csrf" value="${escapeHtml(formToken)}">` : ''}
          <label for="reason">Reason (recorded with your action)</label>
          <textarea id="reason" name="reason" maxlength="1000"></textarea>
          <div class="actions"><button class="reject" type="submit">${escapeHtml(words.button)}</button></div>
        </form></section>`
    : `<div class="notice warn">${
        view.blocked === 'used'
          ? `This link was used at ${escapeHtml(view.usedAt ?? '')}; each link acts once.`
          : `The execution is <strong>${escapeHtml(execution.status)}</strong>: there is nothing to ${escapeHtml(view.action)}.`
      }</div>`;
  return layout(
    `${words.title} ${execution.runbookId}?`,
    `${message ? `<div class="notice ${message.kind}">${escapeHtml(message.text)}</div>` : ''}
    <h1>${escapeHtml(words.title)} ${escapeHtml(execution.runbookId)} on ${escapeHtml(execution.alert.resource.id)}?</h1>
    <p class="sub">For ${escapeHtml(view.recipient)} · ${escapeHtml(execution.environment)} · link expires ${escapeHtml(view.expiresAt)}</p>
    ${form}
    <section><h2>Execution</h2><dl>
      <dt>Execution</dt><dd>${escapeHtml(execution.id)}</dd>
      <dt>Status</dt><dd class="status status-${escapeHtml(execution.status)}">${escapeHtml(execution.status)}${execution.dryRun ? ' (dry run)' : ''}</dd>
      <dt>Now at</dt><dd>${escapeHtml(execution.currentState ?? '—')}</dd>
      <dt>Alert</dt><dd>${escapeHtml(execution.alert.name)} (${escapeHtml(execution.alert.severity)}) — ${escapeHtml(execution.alert.summary)}</dd>
      <dt>Resource</dt><dd>${escapeHtml(execution.alert.resource.type)} ${escapeHtml(execution.alert.resource.id)}</dd>
      <dt>Started</dt><dd>${escapeHtml(execution.startedAt)}</dd>
      ${execution.control.requestedBy ? `<dt>Last request</dt><dd>${escapeHtml(execution.control.requestedBy)}${execution.control.reason ? `: ${escapeHtml(execution.control.reason)}` : ''}</dd>` : ''}
    </dl></section>
    <section><h2>Steps so far</h2>${steps ? `<table><thead><tr><th>Step</th><th>Status</th><th>Result</th></tr></thead><tbody>${steps}</tbody></table>` : '<p>No step has run yet.</p>'}</section>`,
  );
}

function refusalPage(text: string): string {
  return layout(
    'Execution control',
    `<div class="notice bad">${escapeHtml(text)}</div><p>To act anyway, open the execution in the dashboard, or use the control API (runbook pause / abort).</p>`,
  );
}

/**
 * The signed pause/abort links' routes, served with the approval pages (the same public function):
 * GET shows the execution and never acts; POST acts once.
 */
export function controlLinkRoutes(service: ControlLinkService, formToken?: string) {
  return [
    {
      method: 'GET' as const,
      path: '/control/{id}/{action}',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const { executionId, action } = target(event);
        const query = event.queryStringParameters ?? {};
        const result = await service.view(executionId, action, query);
        if (!result.ok) return refusal(event, REFUSAL_STATUS[result.reason], result, refusalPage);
        return wantsJson(event)
          ? json(200, result.view)
          : html(200, linkPage(result.view, formAction(event), formToken));
      },
    },
    {
      method: 'POST' as const,
      path: '/control/{id}/{action}',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const { executionId, action } = target(event);
        const body = readLinkForm(event, LinkForm, 'the request', { emptyJson: true });
        const query = event.queryStringParameters ?? {};
        const link = {
          to: query.to ?? body.to,
          exp: query.exp ?? body.exp,
          nonce: query.nonce ?? body.nonce,
          sig: query.sig ?? body.sig,
        };
        const result = await service.act(executionId, action, link, body.reason);
        if (wantsJson(event))
          return result.ok
            ? json(202, { message: result.message, execution: result.execution })
            : json(REFUSAL_STATUS[result.reason], { error: result.message, reason: result.reason });
        const view = await service.view(executionId, action, link);
        const message = result.ok
          ? { kind: 'ok' as const, text: result.message }
          : { kind: 'bad' as const, text: result.message };
        const status = result.ok ? 200 : REFUSAL_STATUS[result.reason];
        return view.ok
          ? html(status, linkPage(view.view, formAction(event), formToken, message))
          : html(status, refusalPage(message.text));
      },
    },
  ];
}

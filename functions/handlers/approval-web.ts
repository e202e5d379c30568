import middy from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import * as z from 'zod';
import {
  type ApprovalRefusal,
  type ApprovalService,
  type ApprovalView,
  REFUSAL_MESSAGES,
} from '../core/services/approvals.ts';
import type { ControlLinkService } from '../core/services/control-links.ts';
import type { FollowUpService } from '../core/services/follow-up.ts';
import type { Logger } from '../ports/logger.ts';
import { approvalPage, refusalPage } from './approval-page.ts';
import { auditSourceOf } from './audit-routes.ts';
import { controlLinkRoutes } from './control-link-web.ts';
import { followUpRoutes } from './feedback-web.ts';
import { type HttpEvent, type HttpResult, html, httpErrors, json, pathParameter } from './http.ts';
import { formAction, readLinkForm, refusal, wantsJson } from './signed-link-web.ts';

const Decision = z
  .object({
    decision: z.enum(['approve', 'reject']),
    comment: z.string().max(2_000).optional(),
    approver: z.string().optional(),
    exp: z.string().optional(),
    sig: z.string().optional(),
    /** The page's CSRF token (the local server checks it; the handler does not use it). */
    csrf: z.string().max(200).optional(),
  })
  .strict();

export const REFUSAL_STATUS: Record<ApprovalRefusal, number> = {
  malformed: 400,
  'bad-signature': 403,
  expired: 410,
  'not-found': 404,
  'not-pending': 409,
  'not-an-approver': 403,
  'already-decided': 409,
  'too-late': 409,
  replaced: 409,
  cancelled: 409,
};

function linkOf(
  event: HttpEvent,
  body?: { approver?: string | undefined; exp?: string | undefined; sig?: string | undefined },
) {
  const query = event.queryStringParameters ?? {};
  return {
    approver: query.approver ?? body?.approver,
    exp: query.exp ?? body?.exp,
    sig: query.sig ?? body?.sig,
  };
}

/**
 * The approval pages. GET shows the full context and never decides (mail scanners follow links);
 * POST decides, once per approver, with the same signed link parameters.
 */
export function createApprovalWebHandler(options: {
  approvals: ApprovalService;
  logger: Logger;
  /** A token the page's form sends back as the field `csrf` (the embedded platform's server checks it). */
  formToken?: string;
  /** The signed pause/abort links' pages (/control/…), served by the same public function. */
  controlLinks?: ControlLinkService;
  /** The final notification's signed report and feedback links (/reports/…, /feedback/…). */
  followUp?: FollowUpService;
}) {
  const { approvals, formToken } = options;
  const page = (view: ApprovalView, action: string, message?: Parameters<typeof approvalPage>[2]) =>
    approvalPage(view, action, message, formToken);
  const routes = [
    {
      method: 'GET' as const,
      path: '/approvals/{id}',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const id = pathParameter(event, 'id', 'approval id');
        const result = await approvals.view(id, linkOf(event));
        if (!result.ok) {
          const refused = { message: REFUSAL_MESSAGES[result.reason], reason: result.reason };
          return refusal(event, REFUSAL_STATUS[result.reason], refused, refusalPage);
        }
        return wantsJson(event) ? json(200, result.view) : html(200, page(result.view, formAction(event)));
      },
    },
    {
      method: 'POST' as const,
      path: '/approvals/{id}',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const id = pathParameter(event, 'id', 'approval id');
        const body = readLinkForm(event, Decision, 'the decision');
        const result = await approvals.decide(
          id,
          linkOf(event, body),
          body.decision,
          body.comment?.trim() || undefined,
          { ...auditSourceOf(event), channel: 'approval-link' },
        );
        if (!result.ok) {
          const status = REFUSAL_STATUS[result.reason];
          if (wantsJson(event))
            return json(status, { error: REFUSAL_MESSAGES[result.reason], reason: result.reason });
          const view = await approvals.view(id, linkOf(event, body));
          return view.ok
            ? html(
                status,
                page(view.view, formAction(event), {
                  kind: 'bad',
                  text: REFUSAL_MESSAGES[result.reason],
                }),
              )
            : html(status, refusalPage(REFUSAL_MESSAGES[result.reason]));
        }
        const text2 = result.settled
          ? result.approval.status === 'approved'
            ? 'Approved. The runbook continues.'
            : 'Rejected. The runbook rolls back what it did and hands over to the on-call engineer.'
          : `Your ${body.decision === 'approve' ? 'approval' : 'decision'} is recorded; ${result.approval.quorum - result.approval.decisions.filter((decision) => decision.decision === 'approve').length} more approval(s) needed.`;
        if (wantsJson(event)) return json(200, { message: text2, approval: result.approval });
        const view = await approvals.view(id, linkOf(event, body));
        return view.ok
          ? html(200, page(view.view, formAction(event), { kind: 'ok', text: text2 }))
          : html(200, refusalPage(text2));
      },
    },
    ...(options.controlLinks ? controlLinkRoutes(options.controlLinks, formToken) : []),
    ...(options.followUp ? followUpRoutes(options.followUp, formToken) : []),
  ];
  return middy<HttpEvent, HttpResult>(httpRouterHandler<HttpEvent, HttpResult>(routes)).use(
    httpErrors(options.logger),
  );
}

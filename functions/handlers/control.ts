import middy from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import * as z from 'zod';
import type { AutomationService } from '../core/automation/service.ts';
import type { Runbook } from '../core/runbook/model.ts';
import { type ApprovalService, REFUSAL_MESSAGES } from '../core/services/approvals.ts';
import { type ControlService, NotFoundError } from '../core/services/control.ts';
import type { IncidentReportService } from '../core/services/incident-report.ts';
import type { LearningService } from '../core/services/learning.ts';
import type { ManualStartService } from '../core/services/manual-start.ts';
import type { RollbackService } from '../core/services/rollback.ts';
import type { CircuitBreakerService } from '../core/watch/circuit-breaker.ts';
import type { AuditTrail } from '../ports/audit.ts';
import type { Logger } from '../ports/logger.ts';
import { REFUSAL_STATUS } from './approval-web.ts';
import { auditRoutes, auditSourceOf } from './audit-routes.ts';
import { bearerAuth } from './auth.ts';
import { automationRoutes } from './automation-api.ts';
import { circuitBreakerRoutes } from './circuit-breaker-api.ts';
import {
  checkExecutionId,
  ForbiddenError,
  type HttpEvent,
  type HttpResult,
  httpErrors,
  json,
  markdown,
  parseJsonBody,
  parseValue,
  pathParameter,
} from './http.ts';
import { type ApiAccessOptions, apiAccess, callerOf } from './identity.ts';
import { operationRoutes } from './operations.ts';

const BODY_LIMIT = 16 * 1024;
const ControlBody = z
  .object({
    reason: z.string().max(1_000).optional(),
    by: z.string().max(200).optional(),
    /** resume only: run again a change an interruption cut short, though running it again repeats it. */
    repeatInterruptedChange: z.boolean().optional(),
  })
  .strict();
const KillSwitchBody = z
  .object({
    engaged: z.boolean(),
    reason: z.string().max(1_000).optional(),
    by: z.string().max(200).optional(),
  })
  .strict();
const ListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(2_000).optional(),
  })
  .strict();

export interface ControlHandlerOptions {
  control: ControlService;
  learning: LearningService;
  /** GET /api/audit reads it. */
  audit: AuditTrail;
  runbooks: () => Promise<Runbook[]> | Runbook[];
  logger: Logger;
  /** Require `Authorization: Bearer <token>` (the local server's --token). On AWS the Function URL uses IAM auth. */
  token?: string;
  /** Automation levels, promotions and human actions (/api/automation…). */
  automation?: AutomationService;
  /** Starting runbooks by hand (POST /api/runbooks/{id}/start). */
  manualStarts?: ManualStartService;
  /** Rolling executions back (GET/POST /api/executions/{id}/rollback). */
  rollbacks?: RollbackService;
  /** Approvers decide as themselves, signed in (POST /api/approvals/{id}/decision). */
  approvals?: ApprovalService;
  /** Sign-in and per-group authorization (the dashboard on AWS); absent: no sign-in. */
  access?: ApiAccessOptions;
  /** Circuit breakers per runbook: listed, and closed by a person (/api/circuit-breakers…). */
  breakers?: Pick<CircuitBreakerService, 'list' | 'close'>;
  /** Incident reports in Markdown (GET /api/executions/{id}/report). */
  reports?: Pick<IncidentReportService, 'markdown'>;
}

const DecisionBody = z
  .object({ decision: z.enum(['approve', 'reject']), comment: z.string().max(2_000).optional() })
  .strict();

/** Who asked: the signed-in person or IAM principal, else what the body says, else "operator". */
function operator(event: HttpEvent, claimed?: string): string {
  const caller = callerOf(event);
  if (caller && caller.via !== 'local') return caller.id;
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam
    ?.userArn;
  return iam ?? claimed ?? 'operator';
}

/** The execution id in the path: an execution name (1–80 of A–Z a–z 0–9 - _), else 400 before any lookup. */
function executionIdOf(event: HttpEvent): string {
  return checkExecutionId(pathParameter(event, 'id', 'execution id'), 'id');
}

function optionalBody<T extends z.ZodType>(event: HttpEvent, schema: T): z.infer<T> {
  return event.body ? parseJsonBody(event, schema, BODY_LIMIT) : parseValue(schema, {}, 'the body');
}

/** The control API: executions, pause/resume/abort, the kill switch, the learning report, circuit breakers. */
export function createControlHandler(options: ControlHandlerOptions) {
  const { control, learning } = options;
  const routes = [
    {
      method: 'GET' as const,
      path: '/api/executions',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const query = parseValue(ListQuery, event.queryStringParameters ?? {}, 'the query');
        return json(200, await control.listExecutions(query.limit, query.cursor));
      },
    },
    {
      method: 'GET' as const,
      path: '/api/executions/{id}',
      handler: async (event: HttpEvent): Promise<HttpResult> =>
        json(200, await control.describe(executionIdOf(event))),
    },
    ...(options.reports ? [incidentReportRoute(options.reports)] : []),
    ...(['pause', 'resume', 'abort'] as const).map((action) => ({
      method: 'POST' as const,
      path: `/api/executions/{id}/${action}`,
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const body = optionalBody(event, ControlBody);
        const id = executionIdOf(event);
        const by = operator(event, body.by);
        const source = auditSourceOf(event);
        const execution =
          action === 'pause'
            ? await control.pause(id, by, body.reason, source)
            : action === 'resume'
              ? await control.resume(id, by, {
                  ...(body.repeatInterruptedChange ? { repeatInterruptedChange: true } : {}),
                  source,
                })
              : await control.abort(id, by, body.reason, source);
        return json(202, { execution });
      },
    })),
    {
      method: 'GET' as const,
      path: '/api/kill-switch',
      handler: async (): Promise<HttpResult> => json(200, await control.getKillSwitch()),
    },
    {
      method: 'POST' as const,
      path: '/api/kill-switch',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const body = parseJsonBody(event, KillSwitchBody, BODY_LIMIT);
        return json(
          200,
          await control.setKillSwitch(
            body.engaged,
            operator(event, body.by),
            body.reason,
            auditSourceOf(event),
          ),
        );
      },
    },
    ...auditRoutes(options.audit),
    {
      method: 'GET' as const,
      path: '/api/learning',
      handler: async (): Promise<HttpResult> => json(200, await learning.report(await options.runbooks())),
    },
    {
      method: 'GET' as const,
      path: '/api/learning/history/{runbook}',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const id = pathParameter(event, 'runbook', 'runbook id');
        const runbook = (await options.runbooks()).find((candidate) => candidate.id === id);
        if (!runbook)
          throw new NotFoundError(
            `no runbook "${id}" on this platform: check the id (runbook learn suggest reads the runbooks the platform runs)`,
          );
        return json(200, await learning.history(id, runbook));
      },
    },
    {
      // The repair path of the incremental aggregate: rebuilt from every record of the window.
      method: 'POST' as const,
      path: '/api/learning/recompute/{runbook}',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const id = pathParameter(event, 'runbook', 'runbook id');
        if (!(await options.runbooks()).some((candidate) => candidate.id === id))
          throw new NotFoundError(
            `no runbook "${id}" on this platform: check the id (runbook learn recompute takes the ids the platform runs)`,
          );
        await learning.recompute(id);
        return json(200, { aggregate: (await learning.aggregate(id)) ?? null });
      },
    },
    ...(options.automation ? automationRoutes({ automation: options.automation, operator }) : []),
    ...(options.breakers ? circuitBreakerRoutes({ breakers: options.breakers, operator }) : []),
    {
      method: 'GET' as const,
      path: '/api/session',
      handler: async (event: HttpEvent): Promise<HttpResult> =>
        json(200, { caller: callerOf(event), signIn: callerOf(event)?.via === 'jwt' }),
    },
    ...(options.approvals ? [approvalDecisionRoute(options.approvals)] : []),
    ...operationRoutes({
      ...(options.manualStarts ? { manualStarts: options.manualStarts } : {}),
      ...(options.rollbacks ? { rollbacks: options.rollbacks } : {}),
      runbooks: options.runbooks,
      operator,
    }),
  ];
  return middy<HttpEvent, HttpResult>(httpRouterHandler<HttpEvent, HttpResult>(routes))
    .use(httpErrors(options.logger))
    .use(bearerAuth(options.token))
    .use(apiAccess(options.access ?? {}));
}

/** The execution's incident report, as Markdown (404 naming the id when there is no such execution). */
function incidentReportRoute(reports: Pick<IncidentReportService, 'markdown'>) {
  return {
    method: 'GET' as const,
    path: '/api/executions/{id}/report',
    handler: async (event: HttpEvent): Promise<HttpResult> =>
      markdown(200, await reports.markdown(executionIdOf(event))),
  };
}

/** A signed-in approver decides from the dashboard: the identity provider vouches for who they are. */
function approvalDecisionRoute(approvals: ApprovalService) {
  return {
    method: 'POST' as const,
    path: '/api/approvals/{id}/decision',
    handler: async (event: HttpEvent): Promise<HttpResult> => {
      const id = pathParameter(event, 'id', 'approval id');
      const body = parseJsonBody(event, DecisionBody, BODY_LIMIT);
      const caller = callerOf(event);
      if (caller?.via !== 'jwt' || !caller.email)
        throw new ForbiddenError(
          'deciding here needs a signed-in approver (an e-mail address the approval names); otherwise use the approval link from your e-mail',
        );
      const result = await approvals.decide(
        id,
        {},
        body.decision,
        body.comment?.trim() || undefined,
        auditSourceOf(event),
        caller.email,
      );
      if (!result.ok)
        return json(REFUSAL_STATUS[result.reason], {
          error: REFUSAL_MESSAGES[result.reason],
          reason: result.reason,
        });
      return json(200, { approval: result.approval, settled: result.settled });
    },
  };
}

import * as z from 'zod';
import { InvalidEventError } from '../core/errors.ts';
import type { Runbook } from '../core/runbook/model.ts';
import { ManualStartRequest, type ManualStartService } from '../core/services/manual-start.ts';
import type { RollbackService } from '../core/services/rollback.ts';
import {
  checkExecutionId,
  type HttpEvent,
  type HttpResult,
  json,
  parseJsonBody,
  parseValue,
  pathParameter,
} from './http.ts';

const BODY_LIMIT = 16 * 1024;

const RollbackBody = z
  .object({
    /** A step id of the execution (its change and every earlier one are kept), or `start`. */
    rollbackPoint: z.string().min(1).max(64).optional(),
    reason: z.string().max(1_000).optional(),
    by: z.string().max(200).optional(),
  })
  .strict();

const RUNBOOK_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** What the dashboard's runbook list and manual-start form need of a deployed runbook. */
export function runbookSummary(runbook: Runbook) {
  return {
    id: runbook.id,
    name: runbook.name,
    version: runbook.version,
    description: runbook.description,
    category: runbook.category,
    environments: runbook.environmentConstraints.environments,
    parameters: runbook.parameters,
    problems: [] as string[],
  };
}

export interface OperationRoutesOptions {
  manualStarts?: ManualStartService;
  rollbacks?: RollbackService;
  runbooks: () => Promise<readonly Runbook[]> | readonly Runbook[];
  /** Who asked: the caller's identity, else what the body claims. */
  operator: (event: HttpEvent, claimed?: string) => string;
}

function runbookIdOf(event: HttpEvent): string {
  const id = pathParameter(event, 'id', 'runbook id');
  if (RUNBOOK_ID.test(id) && id.length <= 48) return id;
  throw new InvalidEventError(
    'not a runbook id: runbook ids are kebab-case, at most 48 characters (lowercase letters and digits separated by single hyphens)',
    [{ check: 'path', path: 'id', message: `expected a runbook id, got ${id.length} characters` }],
  );
}

/**
 * Routes people use to act beyond pause/resume/abort: the runbooks deployed, starting one by hand
 * (POST /api/runbooks/{id}/start) and rolling an execution back (GET shows what each point would
 * undo, POST asks for it).
 */
export function operationRoutes(options: OperationRoutesOptions) {
  const { manualStarts, rollbacks, operator } = options;
  return [
    {
      method: 'GET' as const,
      path: '/api/runbooks',
      handler: async (): Promise<HttpResult> =>
        json(200, { runbooks: (await options.runbooks()).map(runbookSummary) }),
    },
    ...(manualStarts
      ? [
          {
            method: 'POST' as const,
            path: '/api/runbooks/{id}/start',
            handler: async (event: HttpEvent): Promise<HttpResult> => {
              const id = runbookIdOf(event);
              const body = parseJsonBody(event, ManualStartRequest, BODY_LIMIT);
              const result = await manualStarts.start(id, body, operator(event, body.by));
              return json(202, result);
            },
          },
        ]
      : []),
    ...(rollbacks
      ? [
          {
            method: 'GET' as const,
            path: '/api/executions/{id}/rollback',
            handler: async (event: HttpEvent): Promise<HttpResult> =>
              json(
                200,
                await rollbacks.plan(checkExecutionId(pathParameter(event, 'id', 'execution id'), 'id')),
              ),
          },
          {
            method: 'POST' as const,
            path: '/api/executions/{id}/rollback',
            handler: async (event: HttpEvent): Promise<HttpResult> => {
              const id = checkExecutionId(pathParameter(event, 'id', 'execution id'), 'id');
              const body = event.body
                ? parseJsonBody(event, RollbackBody, BODY_LIMIT)
                : parseValue(RollbackBody, {}, 'the body');
              const rollback = await rollbacks.request(
                id,
                body.rollbackPoint,
                operator(event, body.by),
                body.reason,
              );
              return json(202, { rollback });
            },
          },
        ]
      : []),
  ];
}

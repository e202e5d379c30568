import * as z from 'zod';
import { HumanActionKind } from '../core/automation/evidence.ts';
import { AutomationLevel } from '../core/automation/levels.ts';
import type { AutomationService } from '../core/automation/service.ts';
import { Id } from '../core/runbook/model.ts';
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
/** Where a person acted from, recorded with the change (the dashboard and the CLI say so). */
const Channel = z.enum(['api', 'cli', 'dashboard']).default('api');

const PromoteBody = z
  .object({
    by: z.string().min(1).max(200).optional(),
    reason: z.string().max(1_000).optional(),
    channel: Channel,
  })
  .strict();
const LevelBody = z
  .object({
    level: AutomationLevel,
    by: z.string().min(1).max(200).optional(),
    reason: z.string().max(1_000).optional(),
    channel: Channel,
  })
  .strict();
const HumanActionBody = z
  .object({
    kind: HumanActionKind,
    by: z.string().min(1).max(200).optional(),
    note: z.string().max(2_000).optional(),
  })
  .strict();

function runbookIdOf(event: HttpEvent): string {
  return parseValue(Id, pathParameter(event, 'runbookId', 'runbook id'), 'the runbook id in the path');
}

function optionalBody<T extends z.ZodType>(event: HttpEvent, schema: T): z.infer<T> {
  return event.body ? parseJsonBody(event, schema, BODY_LIMIT) : parseValue(schema, {}, 'the body');
}

/**
 * The control API's automation routes: levels with their evidence and proposals, a person's promotion
 * (the only way up) or lowering of a level, and what people report having done about an execution.
 */
export function automationRoutes(options: {
  automation: AutomationService;
  /** Who asked: the authenticated principal where there is one, else what the body claims. */
  operator: (event: HttpEvent, claimed?: string) => string;
}) {
  const { automation, operator } = options;
  return [
    {
      method: 'GET' as const,
      path: '/api/automation',
      handler: async (): Promise<HttpResult> => json(200, await automation.overview()),
    },
    {
      method: 'GET' as const,
      path: '/api/automation/{runbookId}',
      handler: async (event: HttpEvent): Promise<HttpResult> =>
        json(200, await automation.detail(runbookIdOf(event))),
    },
    {
      method: 'POST' as const,
      path: '/api/automation/{runbookId}/promote',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const body = optionalBody(event, PromoteBody);
        const by = { type: 'person' as const, id: operator(event, body.by), channel: body.channel };
        return json(200, await automation.promote(runbookIdOf(event), by, body.reason));
      },
    },
    {
      method: 'POST' as const,
      path: '/api/automation/{runbookId}/level',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const body = parseJsonBody(event, LevelBody, BODY_LIMIT);
        const by = { type: 'person' as const, id: operator(event, body.by), channel: body.channel };
        return json(200, await automation.setLevel(runbookIdOf(event), body.level, by, body.reason));
      },
    },
    {
      method: 'POST' as const,
      path: '/api/executions/{id}/human-actions',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const body = parseJsonBody(event, HumanActionBody, BODY_LIMIT);
        const id = checkExecutionId(pathParameter(event, 'id', 'execution id'), 'id');
        const recorded = await automation.recordHumanAction(id, {
          kind: body.kind,
          by: operator(event, body.by),
          ...(body.note ? { note: body.note } : {}),
        });
        return json(201, recorded);
      },
    },
  ];
}

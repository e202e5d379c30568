import * as z from 'zod';
import { Id } from '../core/runbook/model.ts';
import type { CircuitBreakerService } from '../core/watch/circuit-breaker.ts';
import { auditSourceOf } from './audit-routes.ts';
import { type HttpEvent, type HttpResult, json, parseJsonBody, parseValue, pathParameter } from './http.ts';

const BODY_LIMIT = 16 * 1024;

const CloseBody = z
  .object({
    by: z.string().min(1).max(200).optional(),
    reason: z.string().max(1_000).optional(),
  })
  .strict();

function optionalBody<T extends z.ZodType>(event: HttpEvent, schema: T): z.infer<T> {
  return event.body ? parseJsonBody(event, schema, BODY_LIMIT) : parseValue(schema, {}, 'the body');
}

/**
 * The control API's circuit breakers: every runbook's breaker, and a person closing an open one (404
 * for a runbook not loaded here, 409 when it is not open). Closing is an operator's action.
 */
export function circuitBreakerRoutes(options: {
  breakers: Pick<CircuitBreakerService, 'list' | 'close'>;
  /** Who asked: the authenticated principal where there is one, else what the body claims. */
  operator: (event: HttpEvent, claimed?: string) => string;
}) {
  const { breakers, operator } = options;
  return [
    {
      method: 'GET' as const,
      path: '/api/circuit-breakers',
      handler: async (): Promise<HttpResult> => json(200, await breakers.list()),
    },
    {
      method: 'POST' as const,
      path: '/api/circuit-breakers/{runbookId}/close',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const runbookId = parseValue(
          Id,
          pathParameter(event, 'runbookId', 'runbook id'),
          'the runbook id in the path',
        );
        const body = optionalBody(event, CloseBody);
        const breaker = await breakers.close(
          runbookId,
          operator(event, body.by),
          body.reason?.trim() || undefined,
          auditSourceOf(event),
        );
        return json(200, { breaker });
      },
    },
  ];
}

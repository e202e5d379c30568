import * as z from 'zod';
import { AUDIT_LIMITS, type AuditRecord, type AuditSource } from '../core/audit/events.ts';
import { InvalidEventError } from '../core/errors.ts';
import type { AuditFilter, AuditTrail } from '../ports/audit.ts';
import { checkExecutionId, type HttpEvent, type HttpResult, header, json, parseValue } from './http.ts';

/**
 * `GET /api/audit`: the audit trail of one execution, incident, resource, person (or component), or of
 * the platform (kill switch, levels), as JSON pages or JSON lines for export. Served by the control
 * API on AWS and by the local server (which routes /api/* to the same handler).
 */

const AUDIT_QUERY_MAX = 1_000;

export const AuditQueryParameters = z
  .object({
    execution: z.string().min(1).optional(),
    incident: z.string().min(1).max(AUDIT_LIMITS.idChars).optional(),
    resource: z.string().min(1).max(512).optional(),
    actor: z.string().min(1).max(AUDIT_LIMITS.idChars).optional(),
    platform: z.enum(['true']).optional(),
    since: z.iso
      .datetime({ offset: true, error: 'expected an ISO 8601 date-time, e.g. 2024-05-02T17:00:00Z' })
      .optional(),
    limit: z.coerce.number().int().min(1).max(AUDIT_QUERY_MAX).default(100),
    cursor: z.string().max(4_096).optional(),
    format: z.enum(['json', 'jsonl']).default('json'),
  })
  .strict();

const SELECTORS = ['execution', 'incident', 'resource', 'actor', 'platform'] as const;

/** The one trail or index a query names; none or two is the caller's mistake (400). */
export function auditFilterOf(parameters: z.infer<typeof AuditQueryParameters>): AuditFilter {
  const given = SELECTORS.filter((name) => parameters[name] !== undefined);
  if (given.length !== 1)
    throw new InvalidEventError(
      `the query must name exactly one of ${SELECTORS.join(', ')} (got ${given.length === 0 ? 'none' : given.join(' and ')}); e.g. ?execution=<id> or ?actor=alice@example.com`,
      [
        {
          check: 'schema',
          path: given[1] ?? 'execution',
          message: 'name exactly one trail or index to read',
        },
      ],
    );
  if (parameters.execution !== undefined)
    return { execution: checkExecutionId(parameters.execution, 'execution') };
  if (parameters.incident !== undefined) return { incident: parameters.incident };
  if (parameters.resource !== undefined) return { resource: parameters.resource };
  if (parameters.actor !== undefined) return { actor: parameters.actor };
  return { platform: true };
}

/** One event per line (JSON lines): what `runbook audit --format json-lines` writes and SIEMs ingest. */
export function jsonLines(events: readonly AuditRecord[]): string {
  return events.map((event) => `${JSON.stringify(event)}\n`).join('');
}

/**
 * Where a person acted from: the caller's address and user agent, the authenticated identity (the IAM
 * principal behind a SigV4-signed Function URL call, or a signed-in user's JWT claims), and the client
 * the request says it came from (`x-runbook-client: dashboard|cli`; plain API calls otherwise).
 */
export function auditSourceOf(event: HttpEvent): AuditSource {
  const http = event.requestContext?.http;
  const authorizer = (
    event.requestContext as {
      authorizer?: {
        iam?: { userArn?: string };
        jwt?: { claims?: Record<string, unknown> };
      };
    }
  )?.authorizer;
  const claims = authorizer?.jwt?.claims;
  const jwtIdentity = claims
    ? [
        claims.sub ? `sub ${String(claims.sub)}` : undefined,
        claims.email ? `email ${String(claims.email)}` : undefined,
        claims['cognito:groups'] ? `groups ${String(claims['cognito:groups'])}` : undefined,
      ]
        .filter(Boolean)
        .join(', ')
    : undefined;
  const identity = authorizer?.iam?.userArn ?? (jwtIdentity || undefined);
  const client = header(event, 'x-runbook-client');
  return {
    channel: client === 'dashboard' || client === 'cli' ? client : 'api',
    ...(http?.sourceIp ? { ip: http.sourceIp.slice(0, 64) } : {}),
    ...(http?.userAgent ? { userAgent: http.userAgent.slice(0, 512) } : {}),
    ...(identity ? { identity: identity.slice(0, 1_024) } : {}),
  };
}

export function auditRoutes(audit: AuditTrail) {
  return [
    {
      method: 'GET' as const,
      path: '/api/audit',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const parameters = parseValue(AuditQueryParameters, event.queryStringParameters ?? {}, 'the query');
        const filter = auditFilterOf(parameters);
        const page = await audit.query(filter, {
          limit: parameters.limit,
          ...(parameters.since ? { since: parameters.since } : {}),
          ...(parameters.cursor ? { cursor: parameters.cursor } : {}),
        });
        if (parameters.format === 'jsonl')
          return {
            statusCode: 200,
            headers: {
              'content-type': 'application/x-ndjson; charset=utf-8',
              'cache-control': 'no-store',
              'x-content-type-options': 'nosniff',
              ...(page.cursor ? { 'x-next-cursor': page.cursor } : {}),
            },
            body: jsonLines(page.events),
          };
        return json(200, page);
      },
    },
  ];
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditRecord } from '../functions/core/audit/events.ts';
import { parseDuration } from '../functions/core/duration.ts';
import { RunbookAutopilotError } from '../functions/core/errors.ts';
import type { AuditFilter, AuditPage } from '../functions/ports/audit.ts';

/**
 * `runbook audit`: the audit trail of one execution, incident, resource, person or the platform —
 * asked of the running server (the database is its to hold), or read from the data directory when no
 * server runs. Every page is followed, so `--format json-lines` exports the whole selection.
 */

/** Bad options (exit code 2): what was wrong and what to pass instead. */
export class AuditUsageError extends RunbookAutopilotError {
  override readonly name = 'AuditUsageError';
}

export interface AuditCommandOptions {
  execution?: string;
  incident?: string;
  resource?: string;
  actor?: string;
  platform?: boolean;
  since?: string;
  format: string;
  url: string;
  data: string;
  token?: string;
}

export const AUDIT_FORMATS = ['text', 'json-lines'] as const;
const PAGE = 500;

/** The one selection the options name; none or two is a usage error. */
export function auditFilterOfOptions(options: AuditCommandOptions): AuditFilter {
  const given = (['execution', 'incident', 'resource', 'actor', 'platform'] as const).filter(
    (name) => options[name] !== undefined && options[name] !== false,
  );
  if (given.length !== 1)
    throw new AuditUsageError(
      `name exactly one of --execution ID, --resource KEY, --actor NAME, --incident ID or --platform (got ${
        given.length === 0 ? 'none' : given.map((name) => `--${name}`).join(' and ')
      })`,
    );
  for (const name of ['execution', 'incident', 'resource', 'actor'] as const) {
    const value = options[name];
    if (value !== undefined && value.trim() === '') throw new AuditUsageError(`--${name} is empty`);
  }
  if (options.execution !== undefined) return { execution: options.execution };
  if (options.incident !== undefined) return { incident: options.incident };
  if (options.resource !== undefined) return { resource: options.resource };
  if (options.actor !== undefined) return { actor: options.actor };
  return { platform: true };
}

/** `--since`: an ISO 8601 date-time, or a duration back from now (`30m`, `24h`, `7d`). */
export function sinceOf(value: string | undefined, now: Date): string | undefined {
  if (value === undefined) return undefined;
  if (/^\d+[smhd]$/.test(value.trim()))
    return new Date(now.getTime() - parseDuration(value) * 1000).toISOString();
  if (/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(value) && !Number.isNaN(Date.parse(value)))
    return new Date(Date.parse(value)).toISOString();
  throw new AuditUsageError(
    `--since "${value}" is neither an ISO 8601 date-time (2024-05-02T17:00:00Z) nor a duration back from now (30m, 24h, 7d)`,
  );
}

export function checkFormat(format: string): (typeof AUDIT_FORMATS)[number] {
  if ((AUDIT_FORMATS as readonly string[]).includes(format)) return format as (typeof AUDIT_FORMATS)[number];
  throw new AuditUsageError(`--format must be ${AUDIT_FORMATS.join(' or ')}, got "${format}"`);
}

/** Every event of the selection, all pages, from the server or else the data directory. */
export async function fetchAuditEvents(
  filter: AuditFilter,
  since: string | undefined,
  options: Pick<AuditCommandOptions, 'url' | 'data' | 'token'>,
  onPage: (events: AuditRecord[]) => void,
): Promise<void> {
  let first: AuditPage;
  try {
    first = await fetchPage(filter, since, undefined, options);
  } catch (error) {
    if (!(error instanceof ServerUnavailable)) throw error;
    if (!existsSync(join(options.data, 'dynamodb')))
      throw new RunbookAutopilotError(
        `no server at ${options.url} and no data in ${options.data}: run npm start first`,
      );
    await readFromData(filter, since, options.data, onPage);
    return;
  }
  onPage(first.events);
  for (let cursor = first.cursor; cursor; ) {
    const page = await fetchPage(filter, since, cursor, options);
    onPage(page.events);
    cursor = page.cursor;
  }
}

class ServerUnavailable extends Error {}

async function fetchPage(
  filter: AuditFilter,
  since: string | undefined,
  cursor: string | undefined,
  options: Pick<AuditCommandOptions, 'url' | 'token'>,
): Promise<AuditPage> {
  const url = new URL('api/audit', options.url);
  for (const [name, value] of Object.entries(filter)) url.searchParams.set(name, String(value));
  if (since) url.searchParams.set('since', since);
  if (cursor) url.searchParams.set('cursor', cursor);
  url.searchParams.set('limit', String(PAGE));
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        'x-runbook-client': 'cli',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    throw new ServerUnavailable();
  }
  if (response.status === 401) throw new AuditUsageError(`the server at ${options.url} needs --token`);
  if (response.status >= 400 && response.status < 500) {
    const body = (await response.json().catch(() => ({}))) as { error?: string };
    throw new AuditUsageError(`the server refused the query: ${body.error ?? `HTTP ${response.status}`}`);
  }
  if (!response.ok)
    throw new RunbookAutopilotError(`the server at ${options.url} answered ${response.status}`);
  return (await response.json()) as AuditPage;
}

async function readFromData(
  filter: AuditFilter,
  since: string | undefined,
  dataDir: string,
  onPage: (events: AuditRecord[]) => void,
): Promise<void> {
  const [{ startLocalDatabase }, { DynamoAuditTrail }] = await Promise.all([
    import('../functions/adapters/local/database.ts'),
    import('../functions/adapters/aws/dynamo-audit-trail.ts'),
  ]);
  const database = await startLocalDatabase({ path: join(dataDir, 'dynamodb') });
  try {
    // Reading only: the retention is that of the writer, unused here.
    const audit = new DynamoAuditTrail({
      client: database.client,
      tableName: database.tableName,
      retentionDays: 365,
    });
    let cursor: string | undefined;
    do {
      const page = await audit.query(filter, {
        limit: PAGE,
        ...(since ? { since } : {}),
        ...(cursor ? { cursor } : {}),
      });
      onPage(page.events);
      cursor = page.cursor;
    } while (cursor);
  } catch (error) {
    if ((error as Error).name === 'ValidationError') throw new AuditUsageError((error as Error).message);
    throw error;
  } finally {
    await database.stop();
  }
}

/** Who acted, for a terminal: a person with where from, or a component of the platform. */
function actorText(event: AuditRecord): string {
  if (event.actor.type === 'system') return event.actor.id;
  const source = event.actor.source;
  const where = source ? [source.channel, source.ip, source.identity].filter(Boolean).join(' ') : '';
  return `${event.actor.id}${where ? ` (${where})` : ''}`;
}

/** One line of what happened, in words. */
export function describeAuditEvent(event: AuditRecord): string {
  switch (event.kind) {
    case 'alert.received':
      return `alert ${event.alert.name} ${event.alert.status}${event.decision ? `: ${event.decision}` : ''}${event.deliveries ? ` (${event.deliveries} deliveries, the last at ${event.lastAt})` : ''}`;
    case 'runbook.selected':
      return event.selected
        ? `selected ${event.selected.runbookId} (rule ${event.selected.rule}, score ${event.selected.score.toFixed(2)}) of ${event.candidates.length} candidate(s)`
        : `no runbook selected of ${event.candidates.length} candidate(s)`;
    case 'gate.verdict':
      return `${event.gate} gate ${event.verdict}: ${event.reason}`;
    case 'execution.started':
      return `execution started (${event.trigger}${event.dryRun ? ', dry run' : ''}${event.changeFreeze ? ', change freeze' : ''})`;
    case 'execution.finished':
      return `execution ${event.status}${event.error ? ` (${event.error})` : ''}${event.rolledBack ? ', rolled back' : ''}${event.escalated ? ', escalated' : ''}`;
    case 'execution.escalated':
      return `escalated to ${event.to.join(', ')}: ${event.reason}`;
    case 'approval.requested':
      return `approval requested for ${event.target.kind} ${event.target.id} (risk ${event.risk}, quorum ${event.quorum} of ${event.approvers.join(', ')})`;
    case 'approval.decided':
      return `${event.decision === 'approve' ? 'approved' : 'rejected'} ${event.approvalId}${event.comment ? `: ${event.comment}` : ''} (now ${event.status})`;
    case 'approval.closed':
      return `approval ${event.approvalId} ${event.status}`;
    case 'change.started':
      return `change ${event.stepKind} ${event.stepId} started: ${event.tool} ${JSON.stringify(event.parameters)}`;
    case 'change.finished':
      return `change ${event.stepKind} ${event.stepId} ${event.status}${event.error ? `: ${event.error.name} ${event.error.message}` : ''}`;
    case 'automation-level.changed':
      return `automation level ${event.from} → ${event.to} (${event.cause}) ${event.result}`;
    case 'circuit-breaker.changed':
      return `circuit breaker ${event.state} ${event.result}`;
    case 'rollback.requested':
      return `rollback requested${event.rollbackPoint ? ` to ${event.rollbackPoint}` : ''} ${event.result}`;
    default:
      return `${event.kind} ${event.result}${event.refusal ? `: ${event.refusal}` : ''}${event.reason ? ` (${event.reason})` : ''}`;
  }
}

/** `<at>  <who>  <execution or trail>  <what>`, one line per event. */
export function formatAuditEvent(event: AuditRecord): string {
  const where = event.executionId ?? event.incidentId ?? event.trail;
  return `${event.at}  ${actorText(event)}  ${where}  ${describeAuditEvent(event)}`;
}

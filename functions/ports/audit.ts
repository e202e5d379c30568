import type { AuditEvent, AuditRecord } from '../core/audit/events.ts';

/** Which trail or index to read: one execution, one incident, one resource, one actor, or the platform. */
export type AuditFilter =
  | { execution: string }
  | { incident: string }
  | { resource: string }
  | { actor: string }
  | { platform: true };

export interface AuditQuery {
  /** Only events recorded at or after this instant (ISO 8601). */
  since?: string;
  /** Events per page: 1..1000 (default 100). */
  limit?: number;
  /** From a previous page's `cursor`. */
  cursor?: string;
}

export interface AuditPage {
  /**
   * Oldest first, in the order recorded: an execution's (incident's, the platform's) trail, or a
   * resource's or an actor's events across trails.
   */
  events: AuditRecord[];
  /** Present when more events follow: pass it back for the next page. */
  cursor?: string;
}

/**
 * The append-only audit trail. `record` appends (conditional puts only: an event is never changed or
 * overwritten, and recording the same event id twice keeps the first); the queries read one trail or
 * one index. Writers never wait on each other (no shared counter), so recording scales with an alert
 * storm. A failure to record is an error for the caller: an action nobody can account for later
 * must not pass silently.
 */
export interface AuditTrail {
  /**
   * Recording an id that was recorded before answers with that first copy (a retried Lambda, a
   * redelivered event). `fresh`: the caller made the id just now (random), so no earlier copy can
   * exist and nothing is kept to find one by (one write instead of two).
   */
  record(event: AuditEvent, options?: { fresh?: boolean }): Promise<AuditRecord>;
  query(filter: AuditFilter, query?: AuditQuery): Promise<AuditPage>;
}

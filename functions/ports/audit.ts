import type { AuditEvent, AuditRecord } from '../core/audit/events.ts';

/** Which trail or index to read: one execution, one incident, one resource, one actor, or the platform. */
export type AuditFilter =
  | { execution: string }
  | { incident: string }
  | { resource: string }
  | { actor: string }
  | { platform: true };

export interface AuditQuery {
  /** Only events at or after this instant (ISO 8601). */
  since?: string;
  /** Events per page: 1..1000 (default 100). */
  limit?: number;
  /** From a previous page's `cursor`. */
  cursor?: string;
}

export interface AuditPage {
  /**
   * An execution's (incident's, the platform's) trail in the order recorded (sequence 1, 2, 3…);
   * a resource's or an actor's events in time order, oldest first.
   */
  events: AuditRecord[];
  /** Present when more events follow: pass it back for the next page. */
  cursor?: string;
}

/**
 * The append-only audit trail. `record` appends (conditional puts only: an event is never changed or
 * overwritten, and recording the same event id twice keeps the first); the queries read one trail or
 * one index. A failure to record is an error for the caller: an action nobody can account for later
 * must not pass silently.
 */
export interface AuditTrail {
  record(event: AuditEvent): Promise<AuditRecord>;
  query(filter: AuditFilter, query?: AuditQuery): Promise<AuditPage>;
}

/** For callers composed without an audit trail (a unit test of something else): records nothing. */
export const noAuditTrail: AuditTrail = {
  async record(event) {
    return { ...event, trail: 'none', sequence: 1, recordedAt: event.at } as AuditRecord;
  },
  async query() {
    return { events: [] };
  },
};

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuditEvent, auditEventId, person, system } from '../../functions/core/audit/events.ts';
import { ValidationError } from '../../functions/core/errors.ts';
import type { AuditTrail } from '../../functions/ports/audit.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import { contractAlert } from './store.contract.ts';

/**
 * The AuditTrail port contract: append-only, ordered per execution as recorded, concurrent writers
 * all kept, retried records kept once, queries per execution, incident, resource, actor and the
 * platform, `since` (recording time, by the clock given to `setup`), paging, and refusals of bad
 * input. `setup` runs before each test and must give an empty trail that records with `clock`.
 */

/** A clock the contract moves (events recorded within one millisecond must keep their order too). */
export class ContractClock implements Clock {
  current = new Date('2024-05-02T17:00:00.000Z');
  now(): Date {
    return new Date(this.current);
  }
  set(iso: string): void {
    this.current = new Date(iso);
  }
}

export interface AuditTrailContractSubject {
  audit: AuditTrail;
  teardown?: () => Promise<void>;
}

const RESOURCE = 'k8s-node/staging-eu/ip-10-0-1-23';

let counter = 0;
/** A pause by a person on an execution at `at`. */
export function pauseEvent(
  overrides: Partial<Extract<AuditEvent, { kind: 'override.pause' }>> = {},
): AuditEvent {
  counter++;
  return {
    id: `evt-${counter}-${Math.random().toString(36).slice(2, 8)}`,
    kind: 'override.pause',
    at: '2024-05-02T17:01:00Z',
    actor: person('alice@example.com', { channel: 'api', ip: '127.0.0.1', userAgent: 'curl/8.5' }),
    executionId: 'exec-0001',
    runbookId: 'node-filesystem-filling',
    resourceKey: RESOURCE,
    result: 'accepted',
    reason: 'looking at it by hand',
    ...overrides,
  } as AuditEvent;
}

export function alertEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  counter++;
  return {
    id: `evt-${counter}-${Math.random().toString(36).slice(2, 8)}`,
    kind: 'alert.received',
    at: '2024-05-02T17:00:05Z',
    actor: system('classifier'),
    executionId: 'exec-0001',
    incidentId: 'inc-0001',
    resourceKey: RESOURCE,
    alert: {
      source: 'prometheus',
      name: 'NodeFilesystemFilling',
      status: 'firing',
      severity: 'high',
      summary: 'Filesystem /var is 93% full',
      environment: 'staging',
      resource: contractAlert().resource,
      fingerprint: 'fp-1',
      startsAt: '2024-05-02T17:00:00Z',
    },
    decision: 'started',
    ...overrides,
  } as AuditEvent;
}

export function describeAuditTrailContract(
  name: string,
  setup: (clock: Clock) => Promise<AuditTrailContractSubject>,
): void {
  describe(`AuditTrail contract: ${name}`, () => {
    let subject: AuditTrailContractSubject;
    let audit: AuditTrail;
    let clock: ContractClock;

    beforeEach(async () => {
      clock = new ContractClock();
      subject = await setup(clock);
      audit = subject.audit;
    });
    afterEach(async () => {
      await subject.teardown?.();
    });

    it('gives an execution trail back in the order recorded, also within one millisecond', async () => {
      // Prepare
      const kinds = ['alert.received', 'override.pause', 'override.resume', 'override.abort'] as const;
      // Act
      const recorded = [];
      for (const [index, kind] of kinds.entries()) {
        const event =
          kind === 'alert.received'
            ? alertEvent()
            : pauseEvent({ kind, at: `2024-05-02T17:0${index}:00Z` } as never);
        recorded.push(await audit.record(event));
      }
      const page = await audit.query({ execution: 'exec-0001' });
      // Assess (the clock never moved: only the recorder's own order tells them apart)
      expect(page.events.map((event) => event.kind)).toEqual([...kinds]);
      expect(page.events.map((event) => event.order)).toEqual(recorded.map((record) => record.order));
      expect(new Set(page.events.map((event) => event.recordedAt))).toEqual(
        new Set(['2024-05-02T17:00:00.000Z']),
      );
      expect(page.events.every((event) => event.trail === 'execution:exec-0001')).toBe(true);
      expect(page.cursor).toBeUndefined();
    });

    it('keeps every one of many concurrent records of one execution (none overwrites another)', async () => {
      // Act: an alert storm's worth of writers on one trail at once
      const events = Array.from({ length: 200 }, (_, index) => pauseEvent({ reason: `writer ${index}` }));
      const recorded = await Promise.all(events.map((event) => audit.record(event)));
      const page = await audit.query({ execution: 'exec-0001' }, { limit: 1000 });
      // Assess
      expect(new Set(recorded.map((record) => record.order)).size).toBe(200);
      expect(page.events).toHaveLength(200);
      expect(new Set(page.events.map((event) => event.id))).toEqual(new Set(events.map((event) => event.id)));
    });

    it('records a retried event (same id) once and answers with the first copy', async () => {
      // Prepare
      const id = auditEventId('override.pause', 'exec-0001', 'retry');
      const first = await audit.record(pauseEvent({ id, reason: 'first' }));
      // Act
      const again = await audit.record(pauseEvent({ id, reason: 'second' }));
      const page = await audit.query({ execution: 'exec-0001' });
      // Assess
      expect(again).toEqual(first);
      expect(page.events).toHaveLength(1);
      expect(page.events[0]).toMatchObject({ id, reason: 'first' });
    });

    it('records a fresh event (an id made just now) as any other, once', async () => {
      // Act
      const recorded = await audit.record(pauseEvent({ reason: 'fresh' }), { fresh: true });
      const page = await audit.query({ execution: 'exec-0001' });
      // Assess
      expect(page.events).toEqual([recorded]);
    });

    it('gives the stored event back whole, with the actor and where they acted from', async () => {
      // Prepare
      const event = pauseEvent();
      // Act
      const recorded = await audit.record(event);
      const [stored] = (await audit.query({ execution: 'exec-0001' })).events;
      // Assess
      expect(stored).toEqual(recorded);
      expect(stored).toMatchObject({
        kind: 'override.pause',
        actor: {
          type: 'person',
          id: 'alice@example.com',
          source: { channel: 'api', ip: '127.0.0.1', userAgent: 'curl/8.5' },
        },
        result: 'accepted',
        reason: 'looking at it by hand',
        at: '2024-05-02T17:01:00.000Z',
      });
      expect(Date.parse(stored!.recordedAt)).not.toBeNaN();
    });

    it('finds events per resource and per actor across executions, oldest first', async () => {
      // Prepare
      clock.set('2024-05-02T17:00:00Z');
      await audit.record(pauseEvent({ executionId: 'exec-a', at: '2024-05-02T17:00:00Z' }));
      clock.set('2024-05-02T18:00:00Z');
      await audit.record(pauseEvent({ executionId: 'exec-b', at: '2024-05-02T18:00:00Z' }));
      clock.set('2024-05-02T19:00:00Z');
      await audit.record(
        pauseEvent({
          executionId: 'exec-c',
          at: '2024-05-02T19:00:00Z',
          resourceKey: 'k8s-node/staging-eu/other',
          actor: person('bob@example.com'),
        }),
      );
      // Act
      const byResource = await audit.query({ resource: RESOURCE });
      const byAlice = await audit.query({ actor: 'alice@example.com' });
      const byBob = await audit.query({ actor: 'bob@example.com' });
      // Assess
      expect(byResource.events.map((event) => event.executionId)).toEqual(['exec-a', 'exec-b']);
      expect(byAlice.events.map((event) => event.executionId)).toEqual(['exec-a', 'exec-b']);
      expect(byBob.events.map((event) => event.executionId)).toEqual(['exec-c']);
    });

    it('keeps events outside executions in the incident or the platform trail', async () => {
      // Act
      await audit.record(alertEvent({ executionId: undefined, decision: 'unmatched' } as never));
      await audit.record({
        id: 'ks-1',
        kind: 'kill-switch.engaged',
        at: '2024-05-02T17:05:00Z',
        actor: person('carol@example.com', { channel: 'dashboard', ip: '127.0.0.1' }),
        result: 'accepted',
        reason: 'bad deploy in progress',
      });
      await audit.record({
        id: 'ks-2',
        kind: 'kill-switch.released',
        at: '2024-05-02T17:15:00Z',
        actor: person('carol@example.com'),
        result: 'accepted',
        released: 2,
      });
      // Assess
      const incident = await audit.query({ incident: 'inc-0001' });
      expect(incident.events.map((event) => event.kind)).toEqual(['alert.received']);
      const platform = await audit.query({ platform: true });
      expect(platform.events.map((event) => event.kind)).toEqual([
        'kill-switch.engaged',
        'kill-switch.released',
      ]);
      expect((await audit.query({ execution: 'exec-0001' })).events).toEqual([]);
    });

    it('filters by since and pages with a cursor, in every kind of query', async () => {
      // Prepare
      for (let minute = 0; minute < 7; minute++) {
        clock.set(`2024-05-02T17:0${minute}:00Z`);
        await audit.record(pauseEvent({ at: `2024-05-02T17:0${minute}:00Z`, reason: `minute ${minute}` }));
      }
      for (const filter of [
        { execution: 'exec-0001' },
        { resource: RESOURCE },
        { actor: 'alice@example.com' },
      ]) {
        // Act
        const first = await audit.query(filter, { since: '2024-05-02T17:02:00Z', limit: 3 });
        const second = await audit.query(filter, {
          since: '2024-05-02T17:02:00Z',
          limit: 3,
          cursor: first.cursor!,
        });
        // Assess
        expect(first.events.map((event) => (event as { reason?: string }).reason)).toEqual([
          'minute 2',
          'minute 3',
          'minute 4',
        ]);
        expect(first.cursor).toBeDefined();
        expect(second.events.map((event) => (event as { reason?: string }).reason)).toEqual([
          'minute 5',
          'minute 6',
        ]);
        expect(second.cursor).toBeUndefined();
      }
    });

    it('refuses bad input with a ValidationError naming the field', async () => {
      // Act / Assess
      await expect(audit.record({ ...pauseEvent(), kind: 'override.nap' } as never)).rejects.toThrow(
        ValidationError,
      );
      await expect(audit.record({ ...pauseEvent(), at: 'yesterday' })).rejects.toThrow(/at/);
      await expect(audit.record({ ...pauseEvent(), actor: { type: 'person', id: '' } })).rejects.toThrow(
        /actor\.id/,
      );
      await expect(audit.query({ execution: 'exec-0001' }, { limit: 0 })).rejects.toThrow(/limit/);
      await expect(audit.query({ execution: 'exec-0001' }, { since: 'last week' })).rejects.toThrow(/since/);
      await expect(audit.query({ execution: 'exec-0001' }, { cursor: 'not-a-cursor' })).rejects.toThrow(
        /cursor/,
      );
      await audit.record(pauseEvent());
      await audit.record(pauseEvent());
      const page = await audit.query({ execution: 'exec-0001' }, { limit: 1 });
      // A cursor of one query does not page another.
      await expect(audit.query({ actor: 'alice@example.com' }, { cursor: page.cursor! })).rejects.toThrow(
        /cursor/,
      );
    });
  });
}

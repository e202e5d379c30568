import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBusError } from '../../functions/core/errors.ts';
import type { BusEvent, EventBus } from '../../functions/ports/event-bus.ts';

export interface EventBusContractSubject {
  bus: EventBus;
  observe: {
    /**
     * Every event the runtime accepted, in order, as a BusEvent (detail parsed back from JSON; time as
     * an ISO timestamp when the event had one).
     */
    publishedEvents(): Promise<BusEvent[]>;
  };
  dispose?(): Promise<void>;
}

/** An event of the kind the platform publishes. */
export function contractEvent(sequence: number, overrides: Partial<BusEvent> = {}): BusEvent {
  return {
    source: 'runbook-autopilot.ingest',
    detailType: 'Runbook Alert Received',
    detail: {
      sequence,
      alert: {
        name: 'NodeFilesystemAlmostFull',
        fingerprint: `fp-${sequence}`,
        labels: { mountpoint: '/var' },
      },
    },
    time: '2024-05-02T17:04:40Z',
    resources: ['arn:aws:eks:eu-west-1:123456789012:cluster/staging-eu'],
    ...overrides,
  };
}

function sameInstant(time: string | undefined): number | undefined {
  return time === undefined ? undefined : Date.parse(time);
}

/** The EventBus port contract. `setup` is called before each test and gets a fresh runtime. */
export function describeEventBusContract(
  name: string,
  setup: () => Promise<EventBusContractSubject> | EventBusContractSubject,
): void {
  describe(`EventBus contract: ${name}`, () => {
    let subject: EventBusContractSubject;

    beforeEach(async () => {
      subject = await setup();
    });

    afterEach(async () => {
      await subject.dispose?.();
    });

    it('publishes events with their source, detail type, detail, time and resources', async () => {
      // Prepare
      const events = [
        contractEvent(1),
        contractEvent(2, { detailType: 'Runbook Execution Started', time: undefined, resources: undefined }),
      ];

      // Act
      const result = await subject.bus.publish(events);

      // Assess
      expect(result).toMatchObject({ published: 2 });
      const published = await subject.observe.publishedEvents();
      expect(published.map(({ time, ...rest }) => ({ ...rest, time: sameInstant(time) }))).toEqual(
        events.map(({ time, resources, ...rest }) => ({
          ...rest,
          ...(resources === undefined ? {} : { resources }),
          time: sameInstant(time),
        })),
      );
    });

    it('publishes nothing for an empty list', async () => {
      // Act
      const result = await subject.bus.publish([]);

      // Assess
      expect(result).toMatchObject({ published: 0 });
      expect(await subject.observe.publishedEvents()).toEqual([]);
    });

    it('publishes 25 events, all of them, in order', async () => {
      // Prepare
      const events = Array.from({ length: 25 }, (_, i) => contractEvent(i + 1));

      // Act
      const result = await subject.bus.publish(events);

      // Assess
      expect(result).toMatchObject({ published: 25 });
      const published = await subject.observe.publishedEvents();
      expect(published.map((event) => event.detail.sequence)).toEqual(
        events.map((event) => event.detail.sequence),
      );
    });

    it('refuses an event over 256 KB with EventBusError naming it, and still publishes the others', async () => {
      // Prepare
      const events = [
        contractEvent(1),
        contractEvent(2, { detailType: 'Runbook Step Output', detail: { output: 'x'.repeat(262_144) } }),
        contractEvent(3),
      ];

      // Act
      const publishing = subject.bus.publish(events);

      // Assess
      const error = await publishing.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(EventBusError);
      expect((error as EventBusError).failures).toEqual([
        expect.objectContaining({ detailType: 'Runbook Step Output' }),
      ]);
      expect((error as EventBusError).message).toContain('Runbook Step Output');
      const published = await subject.observe.publishedEvents();
      expect(published.map((event) => event.detail.sequence)).toEqual([1, 3]);
    });
  });
}

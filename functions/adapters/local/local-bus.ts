import { randomUUID } from 'node:crypto';
import { EventBusError, ValidationError } from '../../core/errors.ts';
import { compileEventPattern } from '../../core/event-pattern.ts';
import type { RouteRule, RuleTarget } from '../../core/routing.ts';
import type { Clock } from '../../ports/clock.ts';
import type { BusEvent, EventBus, PublishResult } from '../../ports/event-bus.ts';
import type { Logger } from '../../ports/logger.ts';

/** EventBridge's limit for one PutEvents entry. */
const MAX_ENTRY_BYTES = 256 * 1024;

/** An event in EventBridge's envelope, as a rule's target receives it. */
export interface EventEnvelope {
  version: string;
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export interface Delivery {
  rule: string;
  target: RuleTarget;
  eventId: string;
  result?: unknown;
  error?: { name: string; message: string; problems?: Array<{ path: string; message: string }> };
}

/**
 * The embedded EventBus: the same rules infra deploys (functions/core/routing.ts), matched with the
 * same EventBridge pattern matcher, delivered at once to the same handlers. Unlike EventBridge it
 * answers with what the events caused (the local server returns it to the sender).
 */
export class LocalEventBus implements EventBus {
  private readonly rules: Array<RouteRule & { matches: (event: unknown) => boolean }>;

  constructor(
    rules: readonly RouteRule[],
    private readonly targets: Record<RuleTarget, (event: EventEnvelope) => Promise<unknown>>,
    private readonly deps: { clock: Clock; logger: Logger; account?: string; region?: string },
  ) {
    this.rules = rules.map((rule) => ({ ...rule, matches: compileEventPattern(rule.pattern) }));
  }

  envelope(event: BusEvent): EventEnvelope {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': event.detailType,
      source: event.source,
      account: this.deps.account ?? '000000000000',
      time: event.time ?? this.deps.clock.now().toISOString(),
      // A real region name: handlers parse envelopes as strictly as EventBridge's.
      region: this.deps.region ?? 'us-east-1',
      resources: event.resources ?? [],
      detail: event.detail,
    };
  }

  /** Publishes what EventBridge would accept; an entry over 256 KB is refused by name, the others still go. */
  async publish(events: BusEvent[]): Promise<PublishResult> {
    const deliveries: Delivery[] = [];
    const failures: Array<{ detailType: string; code: string; message: string }> = [];
    let published = 0;
    for (const [index, event] of events.entries()) {
      const envelope = this.envelope(event);
      const bytes = Buffer.byteLength(JSON.stringify(envelope));
      if (bytes > MAX_ENTRY_BYTES) {
        failures.push({
          detailType: event.detailType,
          code: 'EntryTooLarge',
          message: `event ${index} (${event.detailType}) is ${bytes} bytes; EventBridge takes at most 256 KB`,
        });
        continue;
      }
      deliveries.push(...(await this.deliver(envelope)));
      published++;
    }
    if (failures.length > 0) {
      throw new EventBusError(
        `${failures.length} of ${events.length} event(s) not published: ${failures.map((failure) => failure.message).join('; ')}`,
        failures,
      );
    }
    return { published, deliveries };
  }

  /** Routes one envelope to every matching rule's target; a target's failure is reported, not thrown. */
  async deliver(envelope: EventEnvelope): Promise<Delivery[]> {
    const matching = this.rules.filter((rule) => rule.matches(envelope));
    if (matching.length === 0)
      this.deps.logger.info('no rule matches event', {
        source: envelope.source,
        detailType: envelope['detail-type'],
      });
    const deliveries: Delivery[] = [];
    for (const rule of matching) {
      try {
        deliveries.push({
          rule: rule.name,
          target: rule.target,
          eventId: envelope.id,
          result: await this.targets[rule.target](envelope),
        });
      } catch (error) {
        const failure = error as Error;
        this.deps.logger.error('rule target failed', { rule: rule.name, error: failure.message });
        deliveries.push({
          rule: rule.name,
          target: rule.target,
          eventId: envelope.id,
          error: {
            name: failure.name,
            message: failure.message,
            // Bad input says where: the sender of /events gets the fields, as from the ingest.
            ...(failure instanceof ValidationError
              ? { problems: failure.problems.map(({ path, message }) => ({ path, message })) }
              : {}),
          },
        });
      }
    }
    return deliveries;
  }
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type Delivery,
  type EventEnvelope,
  LocalEventBus,
} from '../../../functions/adapters/local/local-bus.ts';
import { type RouteRule, type RuleTarget, routeRules } from '../../../functions/core/routing.ts';
import type { Clock } from '../../../functions/ports/clock.ts';
import type { BusEvent } from '../../../functions/ports/event-bus.ts';
import { silentLogger } from '../../../functions/ports/logger.ts';
import { ROOT } from '../../support/runbooks.ts';
import { contractEvent, describeEventBusContract } from '../event-bus.contract.ts';

/** The instant the bus stamps on an event that came without a time: no fixture uses it. */
const STAMPED = new Date('2031-01-01T00:00:00.000Z');
const clock: Clock = { now: () => STAMPED };

/** Reads an envelope the bus routed back as the BusEvent it was made from. */
function busEvent(envelope: EventEnvelope): BusEvent {
  return {
    source: envelope.source,
    detailType: envelope['detail-type'],
    detail: envelope.detail,
    // The bus stamps its clock on an event without a time, and [] on one without resources.
    ...(envelope.time === STAMPED.toISOString() ? {} : { time: envelope.time }),
    ...(envelope.resources.length === 0 ? {} : { resources: envelope.resources }),
  };
}

/** Recording rule targets; a target named in `failing` throws instead. */
function recordingTargets(failing: RuleTarget[] = []) {
  const received: Array<{ target: RuleTarget; event: EventEnvelope }> = [];
  const target = (name: RuleTarget) => async (event: EventEnvelope) => {
    received.push({ target: name, event });
    if (failing.includes(name)) {
      const error = new Error(`${name} could not handle ${event['detail-type']}`);
      error.name = 'TargetFailed';
      throw error;
    }
    return { handledBy: name, eventId: event.id };
  };
  return {
    received,
    targets: { classifier: target('classifier'), 'learning-recorder': target('learning-recorder') },
  };
}

/** A LocalEventBus whose routing (`deliver`) is watched: every envelope that entered it, in order. */
function watchedBus(rules: readonly RouteRule[], targets: ReturnType<typeof recordingTargets>['targets']) {
  const bus = new LocalEventBus(rules, targets, { clock, logger: silentLogger });
  const routed: EventEnvelope[] = [];
  const deliver = bus.deliver.bind(bus);
  bus.deliver = async (envelope) => {
    routed.push(envelope);
    return deliver(envelope);
  };
  return { bus, routed };
}

/** A fixture envelope (test/fixtures/alerts) as the BusEvent a publisher would send. */
function fixtureEvent(file: string): BusEvent {
  const envelope = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/alerts', file), 'utf8'),
  ) as EventEnvelope;
  return {
    source: envelope.source,
    detailType: envelope['detail-type'],
    detail: envelope.detail,
    time: envelope.time,
    resources: envelope.resources,
  };
}

describeEventBusContract('LocalEventBus (the routing rules infra deploys, recording targets)', () => {
  const { targets } = recordingTargets();
  const { bus, routed } = watchedBus(routeRules(), targets);
  return { bus, observe: { publishedEvents: async () => routed.map(busEvent) } };
});

describe('LocalEventBus routing', () => {
  let recorded: ReturnType<typeof recordingTargets>;
  let bus: LocalEventBus;

  beforeEach(() => {
    recorded = recordingTargets();
    bus = watchedBus(routeRules(), recorded.targets).bus;
  });

  it('routes a CloudWatch alarm state change to the classifier only, in an EventBridge envelope', async () => {
    // Prepare
    const alarm = fixtureEvent('cloudwatch-alarm-ec2-status-check.json');

    // Act
    const result = await bus.publish([alarm]);

    // Assess
    expect(recorded.received.map(({ target }) => target)).toEqual(['classifier']);
    const envelope = recorded.received[0]!.event;
    expect(envelope).toMatchObject({
      version: '0',
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      time: alarm.time,
      resources: alarm.resources,
      detail: alarm.detail,
    });
    expect(envelope.id).not.toBe('');
    expect(result).toEqual({
      published: 1,
      deliveries: [
        {
          rule: 'cloudwatch-alarms',
          target: 'classifier',
          eventId: envelope.id,
          result: { handledBy: 'classifier', eventId: envelope.id },
        },
      ],
    });
  });

  it('routes an alert the ingest normalized to the classifier', async () => {
    // Prepare
    const ingested: BusEvent = {
      source: 'runbook-autopilot.ingest',
      detailType: 'Alert Normalized',
      detail: { alert: { name: 'KubeNodeMemoryPressure' }, receivedAt: '2026-11-25T10:00:01Z' },
      time: '2026-11-25T10:00:01Z',
    };

    // Act
    const result = await bus.publish([ingested]);

    // Assess
    expect(recorded.received.map(({ target }) => target)).toEqual(['classifier']);
    expect(result.deliveries).toEqual([expect.objectContaining({ rule: 'ingested-alerts' })]);
  });

  it('routes a Step Functions status change that stopped the execution to the learning recorder only', async () => {
    // Prepare
    const statusChange = fixtureEvent('stepfunctions-status-change.json');

    // Act
    const result = await bus.publish([statusChange]);

    // Assess
    expect(recorded.received.map(({ target }) => target)).toEqual(['learning-recorder']);
    expect(recorded.received[0]!.event.detail).toEqual(statusChange.detail);
    expect(result.deliveries).toEqual([
      expect.objectContaining({ rule: 'execution-status', target: 'learning-recorder' }),
    ]);
  });

  it('delivers a status change of a still-running execution nowhere (the rule wants a stopped one)', async () => {
    // Prepare
    const statusChange = fixtureEvent('stepfunctions-status-change.json');
    const running = { ...statusChange, detail: { ...statusChange.detail, status: 'RUNNING' } };

    // Act
    const result = await bus.publish([running]);

    // Assess
    expect(recorded.received).toEqual([]);
    expect(result).toEqual({ published: 1, deliveries: [] });
  });

  it('delivers an event no rule matches nowhere, and still counts it published', async () => {
    // Prepare
    const unmatched = contractEvent(1, {
      source: 'aws.ec2',
      detailType: 'EC2 Instance State-change Notification',
    });

    // Act
    const result = await bus.publish([unmatched]);

    // Assess
    expect(recorded.received).toEqual([]);
    expect(result).toEqual({ published: 1, deliveries: [] });
  });

  it('reports a failing target in the deliveries and goes on with the next events', async () => {
    // Prepare
    recorded = recordingTargets(['classifier']);
    bus = watchedBus(routeRules(), recorded.targets).bus;
    const alarm = fixtureEvent('cloudwatch-alarm-ec2-status-check.json');
    const statusChange = fixtureEvent('stepfunctions-status-change.json');

    // Act
    const result = await bus.publish([alarm, statusChange]);

    // Assess
    expect(recorded.received.map(({ target }) => target)).toEqual(['classifier', 'learning-recorder']);
    const deliveries = result.deliveries as Delivery[];
    expect(deliveries).toEqual([
      {
        rule: 'cloudwatch-alarms',
        target: 'classifier',
        eventId: expect.any(String),
        error: { name: 'TargetFailed', message: 'classifier could not handle CloudWatch Alarm State Change' },
      },
      {
        rule: 'execution-status',
        target: 'learning-recorder',
        eventId: expect.any(String),
        result: expect.objectContaining({ handledBy: 'learning-recorder' }),
      },
    ]);
    expect(result.published).toBe(2);
  });

  it('reports a failing target and still delivers the same event to the other rules it matches', async () => {
    // Prepare: a second rule on the alarm pattern, as an audit trail would add
    const rules = routeRules();
    const alarms = rules.find((rule) => rule.name === 'cloudwatch-alarms')!;
    recorded = recordingTargets(['classifier']);
    bus = watchedBus(
      [...rules, { ...alarms, name: 'cloudwatch-alarms-audit', target: 'learning-recorder' }],
      recorded.targets,
    ).bus;

    // Act
    const result = await bus.publish([fixtureEvent('cloudwatch-alarm-ec2-status-check.json')]);

    // Assess
    const deliveries = result.deliveries as Delivery[];
    expect(deliveries.map(({ rule, error }) => [rule, error?.name])).toEqual([
      ['cloudwatch-alarms', 'TargetFailed'],
      ['cloudwatch-alarms-audit', undefined],
    ]);
    expect(new Set(deliveries.map((delivery) => delivery.eventId)).size).toBe(1);
  });
});

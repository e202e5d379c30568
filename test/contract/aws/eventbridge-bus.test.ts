import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
  ResourceNotFoundException,
  ThrottlingException,
} from '@aws-sdk/client-eventbridge';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBridgeBus, entrySize } from '../../../functions/adapters/aws/eventbridge-bus.ts';
import { EventBusError } from '../../../functions/core/errors.ts';
import type { BusEvent } from '../../../functions/ports/event-bus.ts';
import { contractEvent, describeEventBusContract } from '../event-bus.contract.ts';

const BUS = 'runbook-autopilot';
const metadata = { httpStatusCode: 400, requestId: 'req-0001' };

/** Reads an accepted PutEvents entry back as the BusEvent it carries. */
function busEvent(entry: PutEventsRequestEntry): BusEvent {
  return {
    source: entry.Source!,
    detailType: entry.DetailType!,
    detail: JSON.parse(entry.Detail!),
    ...(entry.Time === undefined ? {} : { time: entry.Time.toISOString() }),
    ...(entry.Resources === undefined ? {} : { resources: entry.Resources }),
  };
}

/** EventBridge accepting every entry, checking the request limits the API enforces. */
function acceptEverything(mock: AwsClientStub<EventBridgeClient>, accepted: PutEventsRequestEntry[]): void {
  mock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
    const entries = input.Entries ?? [];
    const bytes = entries.reduce((sum, entry) => sum + entrySize(entry), 0);
    if (entries.length > 10 || bytes > 262_144)
      throw new Error(`request over the limits: ${entries.length} entries, ${bytes} bytes`);
    accepted.push(...entries);
    return {
      FailedEntryCount: 0,
      Entries: entries.map((_, i) => ({ EventId: `evt-${accepted.length + i}` })),
    };
  });
}

describeEventBusContract('EventBridgeBus (mocked EventBridge client)', () => {
  const client = new EventBridgeClient({ region: 'eu-west-1' });
  const mock = mockClient(client);
  const accepted: PutEventsRequestEntry[] = [];
  acceptEverything(mock, accepted);
  return {
    bus: new EventBridgeBus({ client, eventBusName: BUS, sleep: async () => {} }),
    observe: { publishedEvents: async () => accepted.map(busEvent) },
    dispose: async () => mock.restore(),
  };
});

describe('EventBridgeBus on the PutEvents API', () => {
  let client: EventBridgeClient;
  let mock: AwsClientStub<EventBridgeClient>;
  let sleep: ReturnType<typeof vi.fn<(ms: number) => Promise<void>>>;
  let bus: EventBridgeBus;

  beforeEach(() => {
    client = new EventBridgeClient({ region: 'eu-west-1' });
    mock = mockClient(client);
    sleep = vi.fn(async (_ms: number) => {});
    bus = new EventBridgeBus({ client, eventBusName: BUS, maxAttempts: 3, sleep });
  });

  afterEach(() => {
    mock.restore();
  });

  function requests(): PutEventsRequestEntry[][] {
    return mock.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries ?? []);
  }

  function sequences(entries: PutEventsRequestEntry[]): number[] {
    return entries.map((entry) => JSON.parse(entry.Detail!).sequence);
  }

  function ok(count: number): { FailedEntryCount: number; Entries: PutEventsResultEntry[] } {
    return {
      FailedEntryCount: 0,
      Entries: Array.from({ length: count }, (_, i) => ({ EventId: `evt-${i}` })),
    };
  }

  it('sends entries on the configured bus with the Time as a Date and the Detail as JSON', async () => {
    // Prepare
    mock.on(PutEventsCommand).resolves(ok(1));

    // Act
    await bus.publish([contractEvent(1)]);

    // Assess
    expect(requests()).toEqual([
      [
        {
          EventBusName: BUS,
          Source: 'runbook-autopilot.ingest',
          DetailType: 'Runbook Alert Received',
          Detail: JSON.stringify(contractEvent(1).detail),
          Time: new Date('2024-05-02T17:04:40Z'),
          Resources: ['arn:aws:eks:eu-west-1:123456789012:cluster/staging-eu'],
        },
      ],
    ]);
  });

  it('sends 25 events as batches of 10, 10 and 5, in order', async () => {
    // Prepare
    mock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ok(input.Entries!.length));
    const events = Array.from({ length: 25 }, (_, i) => contractEvent(i + 1));

    // Act
    const result = await bus.publish(events);

    // Assess
    expect(result).toEqual({ published: 25 });
    expect(requests().map((entries) => entries.length)).toEqual([10, 10, 5]);
    expect(requests().flatMap(sequences)).toEqual(events.map((_, i) => i + 1));
  });

  it('starts a new batch before a request would pass 256 KB', async () => {
    // Prepare
    mock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ok(input.Entries!.length));
    const events = Array.from({ length: 10 }, (_, i) =>
      contractEvent(i + 1, { detail: { sequence: i + 1, log: 'l'.repeat(60_000) } }),
    );

    // Act
    const result = await bus.publish(events);

    // Assess
    expect(result).toEqual({ published: 10 });
    expect(requests().map((entries) => entries.length)).toEqual([4, 4, 2]);
    for (const entries of requests()) {
      expect(entries.reduce((sum, entry) => sum + entrySize(entry), 0)).toBeLessThanOrEqual(262_144);
    }
  });

  it('retries only the entries EventBridge failed, with backoff, until they are accepted', async () => {
    // Prepare
    mock
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: 'evt-1' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
          { EventId: 'evt-3' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal failure' },
        ],
      })
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [{ EventId: 'evt-2' }, { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal failure' }],
      })
      .resolves(ok(1));
    const events = [1, 2, 3, 4].map((sequence) => contractEvent(sequence));

    // Act
    const result = await bus.publish(events);

    // Assess
    expect(result).toEqual({ published: 4 });
    expect(requests().map(sequences)).toEqual([[1, 2, 3, 4], [2, 4], [4]]);
    const delays = sleep.mock.calls.map(([ms]) => ms);
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeGreaterThanOrEqual(100);
  });

  it('gives up after maxAttempts with EventBusError listing what failed, having published the rest', async () => {
    // Prepare
    mock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      FailedEntryCount: 1,
      Entries: input.Entries!.map((entry) =>
        JSON.parse(entry.Detail!).sequence === 2
          ? { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal failure' }
          : { EventId: 'evt' },
      ),
    }));
    const events = [1, 2, 3].map((sequence) =>
      contractEvent(sequence, { detailType: `Runbook Event ${sequence}` }),
    );

    // Act
    const error = await bus.publish(events).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(EventBusError);
    expect((error as EventBusError).failures).toEqual([
      {
        detailType: 'Runbook Event 2',
        code: 'InternalFailure',
        message:
          'event #2 (runbook-autopilot.ingest / Runbook Event 2): Internal failure (failed 3 attempts)',
      },
    ]);
    expect((error as EventBusError).message).toContain(
      `EventBridge bus ${BUS}: 1 of 3 events were not published (2 were)`,
    );
    expect(requests().map(sequences)).toEqual([[1, 2, 3], [2], [2]]);
  });

  it('does not retry an entry EventBridge refuses for good (MalformedDetail)', async () => {
    // Prepare
    mock.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ EventId: 'evt-1' }, { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' }],
    });

    // Act
    const error = await bus.publish([contractEvent(1), contractEvent(2)]).catch((caught: unknown) => caught);

    // Assess
    expect((error as EventBusError).failures).toEqual([
      expect.objectContaining({ code: 'MalformedDetail', detailType: 'Runbook Alert Received' }),
    ]);
    expect(requests()).toHaveLength(1);
    expect(sleep).not.toHaveBeenCalled();
  });

  it('retries a throttled call as a whole, then publishes', async () => {
    // Prepare
    mock
      .on(PutEventsCommand)
      .rejectsOnce(new ThrottlingException({ $metadata: metadata, message: 'Rate exceeded' }))
      .resolves(ok(2));

    // Act
    const result = await bus.publish([contractEvent(1), contractEvent(2)]);

    // Assess
    expect(result).toEqual({ published: 2 });
    expect(requests().map(sequences)).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(sleep).toHaveBeenCalledTimes(1);
  });

  it('reports every entry of a call throttled maxAttempts times, and still sends the next batch', async () => {
    // Prepare
    const throttled = new ThrottlingException({ $metadata: metadata, message: 'Rate exceeded' });
    mock
      .on(PutEventsCommand)
      .rejectsOnce(throttled)
      .rejectsOnce(throttled)
      .rejectsOnce(throttled)
      .resolves(ok(2));
    const events = Array.from({ length: 12 }, (_, i) => contractEvent(i + 1));

    // Act
    const error = await bus.publish(events).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(EventBusError);
    const failures = (error as EventBusError).failures;
    expect(failures).toHaveLength(10);
    expect(failures[0]).toEqual({
      detailType: 'Runbook Alert Received',
      code: 'ThrottlingException',
      message:
        'event #1 (runbook-autopilot.ingest / Runbook Alert Received): Rate exceeded (throttled 3 times)',
    });
    expect((error as EventBusError).message).toContain('10 of 12 events were not published (2 were)');
    expect(requests().map((entries) => entries.length)).toEqual([10, 10, 10, 2]);
  });

  it('does not retry a call refused for good (the bus does not exist)', async () => {
    // Prepare
    mock
      .on(PutEventsCommand)
      .rejects(
        new ResourceNotFoundException({ $metadata: metadata, message: `Event bus ${BUS} does not exist.` }),
      );

    // Act
    const error = await bus.publish([contractEvent(1)]).catch((caught: unknown) => caught);

    // Assess
    expect((error as EventBusError).failures).toEqual([
      expect.objectContaining({
        code: 'ResourceNotFoundException',
        message: expect.stringContaining('does not exist'),
      }),
    ]);
    expect(requests()).toHaveLength(1);
  });

  it('reports an event with an unreadable time or a detail that is not JSON, and publishes the others', async () => {
    // Prepare
    mock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ok(input.Entries!.length));
    const circular: Record<string, unknown> = { sequence: 3 };
    circular.self = circular;
    const events = [
      contractEvent(1),
      contractEvent(2, { detailType: 'Bad Time', time: 'yesterday' }),
      contractEvent(3, { detailType: 'Bad Detail', detail: circular }),
      contractEvent(4),
    ];

    // Act
    const error = await bus.publish(events).catch((caught: unknown) => caught);

    // Assess
    expect((error as EventBusError).failures.map(({ detailType, code }) => ({ detailType, code }))).toEqual([
      { detailType: 'Bad Time', code: 'InvalidTime' },
      { detailType: 'Bad Detail', code: 'InvalidDetail' },
    ]);
    expect(requests().map(sequences)).toEqual([[1, 4]]);
  });
});

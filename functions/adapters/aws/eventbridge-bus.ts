import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { EventBusError } from '../../core/errors.ts';
import type { BusEvent, EventBus } from '../../ports/event-bus.ts';

/** PutEvents limits: entries per request, and bytes per request as EventBridge counts them. */
export const PUT_EVENTS_LIMITS = {
  entries: 10,
  requestBytes: 262_144,
} as const;

/** Entry error codes EventBridge documents as permanent: retrying cannot help. Others are retried. */
const PERMANENT_ENTRY_ERRORS: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'InvalidAccountIdException',
  'InvalidArgument',
  'MalformedDetail',
  'RedactionFailure',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
]);

const THROTTLING_ERRORS: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);

export type EventFailure = EventBusError['failures'][number];

export interface EventBridgeBusOptions {
  client: EventBridgeClient;
  eventBusName: string;
  /** Attempts per batch: failed entries and throttled calls are retried until then. Default 4. */
  maxAttempts?: number;
  /** First backoff delay in ms; it doubles per attempt, with jitter. Default 100. */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface PreparedEntry {
  /** Position in the published list, for messages. */
  index: number;
  entry: PutEventsRequestEntry;
  bytes: number;
}

/**
 * EventBus on Amazon EventBridge. Events go out in order, in batches of at most 10 entries and 256 KB;
 * entries EventBridge reports failed are retried alone (never the ones it accepted) with exponential
 * backoff, as are throttled calls. An event that cannot go out at all (too big, not serializable) is
 * reported, and the others are still published. Throws EventBusError listing every event not published.
 */
export class EventBridgeBus implements EventBus {
  readonly #client: EventBridgeClient;
  readonly #eventBusName: string;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: EventBridgeBusOptions) {
    this.#client = options.client;
    this.#eventBusName = options.eventBusName;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.#baseDelayMs = options.baseDelayMs ?? 100;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async publish(events: BusEvent[]): Promise<{ published: number }> {
    const failures: EventFailure[] = [];
    const ready: PreparedEntry[] = [];
    events.forEach((event, index) => {
      const prepared = this.#prepare(event, index);
      if ('failure' in prepared) failures.push(prepared.failure);
      else ready.push(prepared);
    });

    let published = 0;
    for (const batch of intoBatches(ready)) {
      const result = await this.#putBatch(batch);
      published += result.published;
      failures.push(...result.failures);
    }

    if (failures.length > 0) {
      const listed = failures.map((f) => `${f.detailType}: ${f.code} (${f.message})`).join('; ');
      throw new EventBusError(
        `EventBridge bus ${this.#eventBusName}: ${failures.length} of ${events.length} events were not ` +
          `published (${published} were): ${listed}`,
        failures,
      );
    }
    return { published };
  }

  #prepare(event: BusEvent, index: number): PreparedEntry | { failure: EventFailure } {
    const label = `event #${index + 1} (${event.source} / ${event.detailType})`;
    let detail: string;
    try {
      detail = JSON.stringify(event.detail);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return failure(event, 'InvalidDetail', `${label}: the detail cannot be serialized to JSON: ${reason}`);
    }
    let time: Date | undefined;
    if (event.time !== undefined) {
      time = new Date(event.time);
      if (Number.isNaN(time.getTime())) {
        return failure(event, 'InvalidTime', `${label}: time '${event.time}' is not an ISO 8601 timestamp`);
      }
    }
    const entry: PutEventsRequestEntry = {
      EventBusName: this.#eventBusName,
      Source: event.source,
      DetailType: event.detailType,
      Detail: detail,
      ...(time === undefined ? {} : { Time: time }),
      ...(event.resources === undefined || event.resources.length === 0
        ? {}
        : { Resources: event.resources }),
    };
    const bytes = entrySize(entry);
    if (bytes > PUT_EVENTS_LIMITS.requestBytes) {
      return failure(
        event,
        'EntryTooLarge',
        `${label} is ${bytes} bytes, over the PutEvents limit of ${PUT_EVENTS_LIMITS.requestBytes} bytes; ` +
          'put the payload elsewhere (S3, the store) and send a reference',
      );
    }
    return { index, entry, bytes };
  }

  async #putBatch(batch: PreparedEntry[]): Promise<{ published: number; failures: EventFailure[] }> {
    const failures: EventFailure[] = [];
    let published = 0;
    let pending = batch;
    let lastErrors = new Map<PreparedEntry, { code: string; message: string }>();

    for (let attempt = 1; pending.length > 0; attempt += 1) {
      let results: PutEventsResultEntry[];
      try {
        const response = await this.#client.send(
          new PutEventsCommand({ Entries: pending.map((p) => p.entry) }),
        );
        results = response.Entries ?? [];
      } catch (error) {
        const code = error instanceof Error ? error.name : 'Error';
        const message = error instanceof Error ? error.message : String(error);
        if (isThrottling(error) && attempt < this.#maxAttempts) {
          await this.#sleep(backoffDelay(this.#baseDelayMs, attempt));
          continue;
        }
        const after = isThrottling(error) ? ` (throttled ${attempt} times)` : '';
        for (const p of pending) failures.push(entryFailure(p, code, `${message}${after}`));
        return { published, failures };
      }

      const retry: PreparedEntry[] = [];
      lastErrors = new Map();
      pending.forEach((p, i) => {
        const result = results[i];
        if (result?.ErrorCode === undefined && result?.EventId !== undefined) {
          published += 1;
          return;
        }
        const code = result?.ErrorCode ?? 'MissingResult';
        const message = result?.ErrorMessage ?? 'EventBridge returned no result for this entry';
        if (PERMANENT_ENTRY_ERRORS.has(code)) failures.push(entryFailure(p, code, message));
        else {
          retry.push(p);
          lastErrors.set(p, { code, message });
        }
      });
      pending = retry;
      if (pending.length === 0) break;
      if (attempt >= this.#maxAttempts) {
        for (const p of pending) {
          const last = lastErrors.get(p)!;
          failures.push(entryFailure(p, last.code, `${last.message} (failed ${attempt} attempts)`));
        }
        break;
      }
      await this.#sleep(backoffDelay(this.#baseDelayMs, attempt));
    }
    return { published, failures };
  }
}

/** Entry size as EventBridge counts it ("Calculating PutEvents event entry size"). */
export function entrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time === undefined ? 0 : 14;
  size += Buffer.byteLength(entry.Source ?? '', 'utf8');
  size += Buffer.byteLength(entry.DetailType ?? '', 'utf8');
  if (entry.Detail !== undefined) size += Buffer.byteLength(entry.Detail, 'utf8');
  for (const resource of entry.Resources ?? []) size += Buffer.byteLength(resource, 'utf8');
  return size;
}

/** Consecutive batches, in order, each within the entry count and byte limits. */
function intoBatches(entries: PreparedEntry[]): PreparedEntry[][] {
  const batches: PreparedEntry[][] = [];
  let current: PreparedEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (
      current.length > 0 &&
      (current.length === PUT_EVENTS_LIMITS.entries || bytes + entry.bytes > PUT_EVENTS_LIMITS.requestBytes)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function failure(event: BusEvent, code: string, message: string): { failure: EventFailure } {
  return { failure: { detailType: event.detailType, code, message } };
}

function entryFailure(prepared: PreparedEntry, code: string, message: string): EventFailure {
  const label = `event #${prepared.index + 1} (${prepared.entry.Source} / ${prepared.entry.DetailType})`;
  return { detailType: prepared.entry.DetailType ?? '', code, message: `${label}: ${message}` };
}

function backoffDelay(baseDelayMs: number, attempt: number): number {
  const ceiling = baseDelayMs * 2 ** (attempt - 1);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function isThrottling(error: unknown): boolean {
  if (error instanceof Error && THROTTLING_ERRORS.has(error.name)) return true;
  const details = error as { $retryable?: { throttling?: boolean }; $metadata?: { httpStatusCode?: number } };
  return details?.$retryable?.throttling === true || details?.$metadata?.httpStatusCode === 429;
}

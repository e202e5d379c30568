/**
 * Group commit. The first item for a key is written at once; items for the same key that arrive
 * while that write is in flight queue, and the next write takes all of them together. A storm of
 * concurrent duplicates then costs one write per round trip instead of one per item, and nothing
 * waits for a timer. Each caller is answered once the write that took its item has finished: with
 * that write's result, or its error (a later batch is still written).
 */
export class GroupCommit<T, R> {
  private readonly writers = new Map<string, { queued?: Batch<T, R> }>();

  /** `write` gets the key and at least one item, in the order they were added. */
  constructor(private readonly write: (key: string, items: T[]) => Promise<R>) {}

  add(key: string, item: T): Promise<R> {
    let writer = this.writers.get(key);
    const writing = writer !== undefined;
    if (!writer) {
      writer = {};
      this.writers.set(key, writer);
    }
    writer.queued ??= { items: [], waiters: [] };
    const batch = writer.queued;
    batch.items.push(item);
    const answered = new Promise<R>((resolve, reject) => batch.waiters.push({ resolve, reject }));
    if (!writing) void this.drain(key, writer);
    return answered;
  }

  /** Writes a key's queued batches one at a time until none is left. */
  private async drain(key: string, writer: { queued?: Batch<T, R> }): Promise<void> {
    while (writer.queued) {
      const batch = writer.queued;
      writer.queued = undefined;
      try {
        const result = await this.write(key, batch.items);
        for (const waiter of batch.waiters) waiter.resolve(result);
      } catch (error) {
        for (const waiter of batch.waiters) waiter.reject(error);
      }
    }
    this.writers.delete(key);
  }
}

interface Batch<T, R> {
  items: T[];
  waiters: { resolve: (value: R) => void; reject: (error: unknown) => void }[];
}

/**
 * Alerts first, on the embedded platform's one event loop: while an alert is being classified, work of
 * executions already running (their next Task, a learning fold after one ends) waits to start, so the
 * new alert's decision and start do not queue behind earlier executions' store commands and tool calls.
 * Work already started is not interrupted. A wait is bounded (`maxDeferMs`): an alert storm slows
 * running executions down, it never stalls them. On AWS every alert has its own Lambda; nothing to do.
 */
export class AlertsFirst {
  private alerts = 0;
  private readonly waiting = new Set<() => void>();
  /** Background starts that waited for an alert (the platform's own count, shown by the benches). */
  deferred = 0;

  constructor(private readonly maxDeferMs = 250) {}

  /** Alerts being classified now. */
  get inFlight(): number {
    return this.alerts;
  }

  /** Runs an alert's classification; background work waits to start until none is in flight. */
  async alert<T>(work: () => Promise<T>): Promise<T> {
    this.alerts++;
    try {
      return await work();
    } finally {
      this.alerts--;
      if (this.alerts === 0) this.wake();
    }
  }

  /** Runs background work once no alert is being classified, or after `maxDeferMs` at most. */
  async background<T>(work: () => Promise<T>): Promise<T> {
    if (this.alerts > 0) await this.turn();
    return work();
  }

  private turn(): Promise<void> {
    this.deferred++;
    return new Promise<void>((resolve) => {
      const go = () => {
        clearTimeout(timer);
        this.waiting.delete(go);
        resolve();
      };
      const timer = setTimeout(go, this.maxDeferMs);
      this.waiting.add(go);
    });
  }

  private wake(): void {
    for (const go of [...this.waiting]) go();
  }
}

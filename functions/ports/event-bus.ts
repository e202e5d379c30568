/** An event as EventBridge carries it (PutEvents entry, before the envelope is added). */
export interface BusEvent {
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
  time?: string;
  resources?: string[];
}

/**
 * Publishes events: EventBridge on AWS (batches of 10, failed entries retried), the local router
 * (the same rule patterns) on one machine. Throws EventBusError naming what could not be delivered.
 */
export interface PublishResult {
  published: number;
  /** What the events caused, when the bus knows at once (the local router does; EventBridge does not). */
  deliveries?: unknown[];
}

export interface EventBus {
  publish(events: BusEvent[]): Promise<PublishResult>;
}

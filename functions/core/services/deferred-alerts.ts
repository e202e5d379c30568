import type { ChangeLocks } from '../../ports/change-locks.ts';
import type { Clock } from '../../ports/clock.ts';
import type { EventBus } from '../../ports/event-bus.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import type { ExecutionRecord } from '../records.ts';
import { ALERT_DETAIL_TYPE, INGEST_SOURCE } from '../routing.ts';

export interface DeferredAlertsOptions {
  changeLocks: ChangeLocks;
  store: Pick<Store, 'getIncident'>;
  /** Where a deferred alert goes to be classified again: the runbooks bus (the classifier's rule). */
  bus: EventBus;
  clock: Clock;
  logger: Logger;
}

export interface StoppedResult {
  /** The execution held the resource's lock and gave it back. */
  released: boolean;
  /** Incidents whose alerts were sent to the classifier again. */
  reconsidered: string[];
  /** Deferrals dropped because their alert resolved (or was handled) meanwhile. */
  dropped: string[];
}

/**
 * When an execution stops: its change lock is given back, and the alerts deferred behind it that still
 * fire are classified again, as the same `Alert Normalized` event the ingest publishes, so the classifier
 * decides them exactly as a repeat of the alert (a resolved one starts nothing). Called where the
 * execution's slot is given back (the learning recorder), on AWS and embedded alike.
 */
export class DeferredAlerts {
  constructor(private readonly options: DeferredAlertsOptions) {}

  async executionStopped(execution: Pick<ExecutionRecord, 'id' | 'resourceKey'>): Promise<StoppedResult> {
    const { changeLocks, store, bus, clock, logger } = this.options;
    const resource = execution.resourceKey;
    const released = await changeLocks.release(resource, execution.id);
    const result: StoppedResult = { released, reconsidered: [], dropped: [] };
    const deferrals = await changeLocks.listDeferred(resource);
    if (deferrals.length === 0) return result;
    // Deferrals behind whoever holds the lock now wait for that one; the rest get their turn.
    const holder = (await changeLocks.get(resource))?.executionId;
    for (const deferral of deferrals) {
      if (deferral.behind === holder) continue;
      const incident = await store.getIncident(deferral.incidentId);
      if (incident?.status !== 'open' || incident.decision !== 'deferred') {
        await changeLocks.removeDeferred(resource, deferral.incidentId, deferral.behind);
        result.dropped.push(deferral.incidentId);
        continue;
      }
      const receivedAt = clock.now().toISOString();
      await bus.publish([
        {
          source: INGEST_SOURCE,
          detailType: ALERT_DETAIL_TYPE,
          detail: { alert: incident.alert, receivedAt, deferredBehind: deferral.behind },
          time: receivedAt,
        },
      ]);
      // Conditional on the old holder: if the classifier deferred it again behind a new one, that stays.
      await changeLocks.removeDeferred(resource, deferral.incidentId, deferral.behind);
      result.reconsidered.push(deferral.incidentId);
    }
    if (result.reconsidered.length > 0 || result.dropped.length > 0)
      logger.info('deferred alerts after a change lock ended', {
        executionId: execution.id,
        resourceKey: resource,
        reconsidered: result.reconsidered,
        dropped: result.dropped,
      });
    return result;
  }
}

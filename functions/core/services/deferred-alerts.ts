import type { ChangeLocks, DeferredAlert } from '../../ports/change-locks.ts';
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

export interface SweepResult {
  /** Incidents whose alerts were sent to the classifier again: their holder's lock expired. */
  reconsidered: string[];
  /** Deferrals dropped because their alert resolved (or was handled) meanwhile. */
  dropped: string[];
  /** Deferrals whose holder renewed its lock (held at a checkpoint): they wait until its new expiry. */
  waiting: string[];
}

/**
 * When an execution stops: its change lock is given back, and the alerts deferred behind it that still
 * fire are classified again, as the same `Alert Normalized` event the ingest publishes, so the classifier
 * decides them exactly as a repeat of the alert (a resolved one starts nothing). Called where the
 * execution's slot is given back (the learning recorder), on AWS and embedded alike. A holder that is
 * lost never stops: the sweep (every minute, the learning recorder's schedule) does the same for alerts
 * whose holder's lock has expired, and the classifier takes the expired lock over.
 */
export class DeferredAlerts {
  constructor(private readonly options: DeferredAlertsOptions) {}

  async executionStopped(execution: Pick<ExecutionRecord, 'id' | 'resourceKey'>): Promise<StoppedResult> {
    const { changeLocks, logger } = this.options;
    const resource = execution.resourceKey;
    const released = await changeLocks.release(resource, execution.id);
    const result: StoppedResult = { released, reconsidered: [], dropped: [] };
    const deferrals = await changeLocks.listDeferred(resource);
    if (deferrals.length === 0) return result;
    // Deferrals behind whoever holds the lock now wait for that one; the rest get their turn.
    const holder = (await changeLocks.get(resource))?.executionId;
    for (const deferral of deferrals) {
      if (deferral.behind === holder) continue;
      const outcome = await this.reconsider(deferral);
      result[outcome].push(deferral.incidentId);
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

  /** Alerts deferred behind a lock that expired (its holder was lost) are classified again. */
  async sweepExpired(): Promise<SweepResult> {
    const { changeLocks, clock, logger } = this.options;
    const now = clock.now();
    const result: SweepResult = { reconsidered: [], dropped: [], waiting: [] };
    for (const deferral of await changeLocks.listDeferredDue(now.toISOString())) {
      const lock = await changeLocks.get(deferral.resourceKey);
      if (lock?.executionId === deferral.behind && Date.parse(lock.expiresAt) > now.getTime()) {
        // Renewed while held at a checkpoint: the deferral is due at the lock's new expiry.
        await changeLocks.defer({
          ...deferral,
          holderExpiresAt: lock.expiresAt,
          expiresAt: new Date(
            Date.parse(lock.expiresAt) +
              Date.parse(deferral.expiresAt) -
              Date.parse(deferral.holderExpiresAt),
          ).toISOString(),
        });
        result.waiting.push(deferral.incidentId);
        continue;
      }
      const outcome = await this.reconsider(deferral);
      result[outcome].push(deferral.incidentId);
    }
    if (result.reconsidered.length > 0 || result.dropped.length > 0)
      logger.warn('deferred alerts behind an expired change lock (its holder was lost)', {
        reconsidered: result.reconsidered,
        dropped: result.dropped,
      });
    return result;
  }

  /** Sends the deferred alert to the classifier again, or drops it when its incident no longer waits. */
  private async reconsider(deferral: DeferredAlert): Promise<'reconsidered' | 'dropped'> {
    const { changeLocks, store, bus, clock } = this.options;
    const incident = await store.getIncident(deferral.incidentId);
    if (incident?.status !== 'open' || incident.decision !== 'deferred') {
      await changeLocks.removeDeferred(deferral.resourceKey, deferral.incidentId, deferral.behind);
      return 'dropped';
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
    await changeLocks.removeDeferred(deferral.resourceKey, deferral.incidentId, deferral.behind);
    return 'reconsidered';
  }
}

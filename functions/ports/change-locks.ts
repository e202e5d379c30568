/**
 * The change lock on a resource: one execution that may change it at a time, whichever runbook. The
 * classifier takes it with the other gates; it is given back when the execution stops, and it expires
 * on its own (`expiresAt`) so a holder that was lost cannot keep a resource locked.
 */
export interface ChangeLock {
  /** The resolved resource key (resourceKey(alert)): the same key cooldowns use. */
  resourceKey: string;
  executionId: string;
  runbookId: string;
  acquiredAt: string;
  /** After this instant anyone may take the lock over (the runbook's longest possible run). */
  expiresAt: string;
}

/** What acquire answered: the lock is this execution's now, or who holds it. */
export type ChangeLockAnswer = { acquired: true; lock: ChangeLock } | { acquired: false; holder: ChangeLock };

/** An alert that waits for a resource's change lock; re-classified when the holder stops. */
export interface DeferredAlert {
  resourceKey: string;
  incidentId: string;
  /** The execution it waits behind. */
  behind: string;
  runbookId: string;
  deferredAt: string;
  /** When the holder's lock expires: a holder lost before then is swept past at this instant. */
  holderExpiresAt: string;
  /** Kept at most this long (the holder's lock expiry plus a margin); then it is simply gone. */
  expiresAt: string;
}

/**
 * Change locks and the alerts deferred behind them: their own items (`CHANGELOCK#…`, `DEFERRED#…`) in the
 * platform's table. Every write that can race is conditional.
 */
export interface ChangeLocks {
  /**
   * Takes the resource's lock for `lock.executionId` when nobody holds it, the holder's lock has expired,
   * or this execution holds it already (a retried classification); else answers who holds it.
   */
  acquire(lock: ChangeLock): Promise<ChangeLockAnswer>;
  /** Gives the lock back if this execution holds it (idempotent; another holder's lock is left alone). */
  release(resourceKey: string, executionId: string): Promise<boolean>;
  /**
   * Moves the expiry of this execution's lock (a run held at a checkpoint keeps its claim); false when
   * the lock is gone or another execution's.
   */
  renew(resourceKey: string, executionId: string, expiresAt: string): Promise<boolean>;
  get(resourceKey: string): Promise<ChangeLock | undefined>;
  /** Records (or moves behind a new holder) an alert waiting for the resource. */
  defer(deferral: DeferredAlert): Promise<void>;
  /** Alerts waiting for the resource, oldest first. */
  listDeferred(resourceKey: string): Promise<DeferredAlert[]>;
  /** Alerts, on any resource, whose holder's lock expires at `now` or before (`holderExpiresAt` order). */
  listDeferredDue(now: string): Promise<DeferredAlert[]>;
  /** Forgets a deferral if it still waits behind `behind` (one moved behind another holder stays). */
  removeDeferred(resourceKey: string, incidentId: string, behind: string): Promise<void>;
}

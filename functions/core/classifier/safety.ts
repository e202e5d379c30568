import type { Alert } from '../alert.ts';
import { formatDuration } from '../duration.ts';
import type { KillSwitchState } from '../records.ts';
import type { FreezeWindow, Runbook } from '../runbook/model.ts';
import { concurrencySlotKey, resourceKey } from './identity.ts';

/**
 * The safety gate's decisions, pure: the classifier asks the store (kill switch, rate windows,
 * concurrency slots, cooldowns) and hands the answers in; this module says yes or no and why, in words
 * an on-call engineer reads in the incident. A change-freeze window does not refuse: diagnostics still
 * run, and the execution starts with `changeFreeze` so every mutating step is refused.
 */

// ---------------------------------------------------------------------------------------------------------------
// Change-freeze windows

type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Weekday and minutes since midnight on the wall clock of `timeZone` (an IANA name) at `now`. */
export function wallClock(now: Date, timeZone: string): { day: Weekday; minutes: number } {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(now).map((part) => [part.type, part.value]));
  const day = String(parts.weekday).slice(0, 3).toLowerCase() as Weekday;
  return { day, minutes: (Number(parts.hour) % 24) * 60 + Number(parts.minute) };
}

function clockMinutes(text: string): number {
  const [hours, minutes] = text.split(':').map(Number);
  return hours! * 60 + minutes!;
}

function previousDay(day: Weekday): Weekday {
  return WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;
}

/**
 * Whether one window covers `now`. Absolute windows: start inclusive, end exclusive. Weekly windows
 * start at `from` on each listed day (wall clock of their timezone, so daylight saving moves them with
 * the clock) and end at `to`; a `to` at or before `from` ends on the next day (22:00–06:00 on fri
 * covers Saturday 03:00; equal times cover 24 hours). A timezone Intl does not know fails closed: the
 * window counts as active, because a freeze nobody can evaluate must not be ignored.
 */
export function windowCovers(window: FreezeWindow, now: Date): boolean {
  if ('start' in window) {
    const time = now.getTime();
    return Date.parse(window.start) <= time && time < Date.parse(window.end);
  }
  let clock: { day: Weekday; minutes: number };
  try {
    clock = wallClock(now, window.timezone);
  } catch {
    return true;
  }
  const from = clockMinutes(window.from);
  const to = clockMinutes(window.to);
  const days = window.days as readonly Weekday[];
  if (from < to) return days.includes(clock.day) && from <= clock.minutes && clock.minutes < to;
  return (
    (days.includes(clock.day) && clock.minutes >= from) ||
    (days.includes(previousDay(clock.day)) && clock.minutes < to)
  );
}

/** The first window that covers `now`. */
export function activeFreezeWindow(windows: readonly FreezeWindow[], now: Date): FreezeWindow | undefined {
  return windows.find((window) => windowCovers(window, now));
}

export function inFreezeWindow(windows: readonly FreezeWindow[], now: Date): boolean {
  return activeFreezeWindow(windows, now) !== undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Limits: what to ask the store, and its answers

const HOUR_MS = 3_600_000;

export interface RateCheck {
  /** Store key of the counter (Store.acquireRate). */
  key: string;
  /** Fixed one-hour window: the counter resets at the top of every hour (UTC). */
  windowStart: string;
  /** When the counter may be deleted (TTL): an hour after the window ends. */
  expiresAt: string;
  max: number;
}

export interface LimitCheckPlan {
  resourceKey: string;
  /** Executions of this runbook per hour (Store.acquireRate). */
  runbookRate: RateCheck;
  /** Executions of this runbook on this resource per hour (Store.acquireRate). */
  resourceRate: RateCheck;
  /** Executions of this runbook running at once (Store.acquireSlot / releaseSlot). */
  concurrency: { key: string; max: number };
  /** Quiet time on the resource after this execution starts (Store.claimCooldown(key, now, until)). */
  cooldown: { key: string; until: string; seconds: number };
}

/**
 * The store checks for one execution, in the order to make them (stop at the first refusal: each
 * successful check consumes). Keys: `rate#<runbook>#<hour>`, `rate#<runbook>#<resource>#<hour>`,
 * `slots#<runbook>`, `cooldown#<runbook>#<resource>` (per runbook: a disk cleanup does not have to wait
 * for a memory remediation on the same node).
 */
export function planLimitChecks(runbook: Runbook, alert: Alert, now: Date): LimitCheckPlan {
  const limits = runbook.safetyLimits;
  const resource = resourceKey(alert);
  const windowStartMs = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  const windowStart = new Date(windowStartMs).toISOString();
  const expiresAt = new Date(windowStartMs + 2 * HOUR_MS).toISOString();
  return {
    resourceKey: resource,
    runbookRate: {
      key: `rate#${runbook.id}#${windowStart}`,
      windowStart,
      expiresAt,
      max: limits.maxExecutionsPerHour,
    },
    resourceRate: {
      key: `rate#${runbook.id}#${resource}#${windowStart}`,
      windowStart,
      expiresAt,
      max: limits.maxExecutionsPerResourcePerHour,
    },
    concurrency: { key: concurrencySlotKey(runbook.id), max: limits.maxConcurrentExecutions },
    cooldown: {
      key: `cooldown#${runbook.id}#${resource}`,
      until: new Date(now.getTime() + limits.cooldown * 1000).toISOString(),
      seconds: limits.cooldown,
    },
  };
}

/** What the store answered; a check left out was not made (not yet, or not needed). */
export interface LimitAnswers {
  /** `count`: executions already counted in the window, when the store knows it. */
  runbookRate?: { allowed: boolean; count?: number };
  resourceRate?: { allowed: boolean; count?: number };
  concurrency?: { allowed: boolean; running?: number };
  /** `until`: when the running cooldown ends, when known. */
  cooldown?: { allowed: boolean; until?: string };
  /** The resource's change lock (across runbooks); `holder`: who has it when refused. */
  changeLock?: {
    allowed: boolean;
    holder?: { executionId: string; runbookId: string; expiresAt: string };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The decision

export const SafetyRefusal = {
  KillSwitch: 'kill-switch',
  Environment: 'environment',
  RateLimit: 'rate-limit',
  ResourceRateLimit: 'resource-rate-limit',
  Concurrency: 'concurrency',
  Cooldown: 'cooldown',
  /** Not a refusal for good: another execution is changing the resource; the alert waits for it. */
  ChangeLock: 'change-lock',
} as const;
export type SafetyRefusal = (typeof SafetyRefusal)[keyof typeof SafetyRefusal];

export type SafetyDecision =
  | { allowed: true; changeFreeze: boolean; freezeWindow?: string }
  | { allowed: false; refusal: SafetyRefusal; reason: string };

export interface SafetyGateInput {
  runbook: Runbook;
  alert: Alert;
  now: Date;
  killSwitch: KillSwitchState;
  limits?: LimitAnswers;
  /** The environment's own freeze windows (RuntimeConfig.changeFreezeWindows), on top of the runbook's. */
  environmentFreezeWindows?: readonly FreezeWindow[];
}

function refuse(refusal: SafetyRefusal, reason: string): SafetyDecision {
  return { allowed: false, refusal, reason };
}

function killSwitchReason(state: KillSwitchState): string {
  const by = state.changedBy ? ` by ${state.changedBy}` : '';
  const at = state.changedAt ? ` at ${state.changedAt}` : '';
  const why = state.reason ? `: ${state.reason}` : '';
  return `kill switch engaged${by}${at}${why}`;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * Whether an execution of `runbook` may start for `alert` now. Checks, in order: kill switch, the
 * runbook's environments, then the limit answers given (runbook rate, resource rate, concurrency,
 * cooldown, the resource's change lock); when all pass, whether a change-freeze window is on. Call it once without `limits` to
 * refuse cheaply before touching the store, then again with the answers.
 */
export function safetyGate(input: SafetyGateInput): SafetyDecision {
  const { runbook, alert, now, killSwitch, limits = {} } = input;
  if (killSwitch.engaged) return refuse('kill-switch', killSwitchReason(killSwitch));

  const environments = runbook.environmentConstraints.environments;
  if (!environments.includes(alert.environment)) {
    return refuse(
      'environment',
      `environment "${alert.environment}" is not one the runbook allows (${environments.join(', ')})`,
    );
  }

  const safety = runbook.safetyLimits;
  const since = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS).toISOString();
  const resource = resourceKey(alert);
  if (limits.runbookRate && !limits.runbookRate.allowed) {
    const count = limits.runbookRate.count ?? safety.maxExecutionsPerHour;
    return refuse(
      'rate-limit',
      `rate limit: ${plural(count, 'execution')} of ${runbook.id} in the hour since ${since} (max ${safety.maxExecutionsPerHour})`,
    );
  }
  if (limits.resourceRate && !limits.resourceRate.allowed) {
    const count = limits.resourceRate.count ?? safety.maxExecutionsPerResourcePerHour;
    return refuse(
      'resource-rate-limit',
      `rate limit: ${plural(count, 'execution')} of ${runbook.id} on ${resource} in the hour since ${since} (max ${safety.maxExecutionsPerResourcePerHour})`,
    );
  }
  if (limits.concurrency && !limits.concurrency.allowed) {
    const running = limits.concurrency.running ?? safety.maxConcurrentExecutions;
    return refuse(
      'concurrency',
      `concurrency limit: ${plural(running, 'execution')} of ${runbook.id} running (max ${safety.maxConcurrentExecutions})`,
    );
  }
  if (limits.cooldown && !limits.cooldown.allowed) {
    const until = limits.cooldown.until
      ? `until ${limits.cooldown.until}`
      : `(${formatDuration(safety.cooldown)} after its last execution)`;
    return refuse('cooldown', `cooldown on ${resource} ${until}: ${runbook.id} ran on it recently`);
  }
  if (limits.changeLock && !limits.changeLock.allowed) {
    const holder = limits.changeLock.holder;
    return refuse(
      'change-lock',
      holder
        ? `${resource} is being changed by ${holder.runbookId} execution ${holder.executionId}; this alert is re-evaluated when it ends (its lock expires at ${holder.expiresAt} at the latest)`
        : `${resource} is being changed by another execution; this alert is re-evaluated when it ends`,
    );
  }

  const freeze = activeFreezeWindow(
    [...runbook.environmentConstraints.changeFreezeWindows, ...(input.environmentFreezeWindows ?? [])],
    now,
  );
  return freeze
    ? { allowed: true, changeFreeze: true, freezeWindow: freeze.name }
    : { allowed: true, changeFreeze: false };
}

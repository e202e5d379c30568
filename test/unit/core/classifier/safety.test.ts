import { describe, expect, it } from 'vitest';
import { normalizeAlertmanager } from '../../../../functions/core/classifier/normalize.ts';
import {
  activeFreezeWindow,
  inFreezeWindow,
  planLimitChecks,
  safetyGate,
  wallClock,
  windowCovers,
} from '../../../../functions/core/classifier/safety.ts';
import type { KillSwitchState } from '../../../../functions/core/records.ts';
import type { FreezeWindow, Runbook } from '../../../../functions/core/runbook/model.ts';
import { loadRunbook } from '../../../support/runbooks.ts';
import { OPTIONS, payload } from './fixtures.ts';

const at = (iso: string) => new Date(iso);

/** Friday 22:00 to Saturday 06:00, Berlin time (2026-11-27 is a Friday; Berlin is UTC+1 in November). */
const FRIDAY_NIGHT: FreezeWindow = {
  name: 'friday night',
  days: ['fri'],
  from: '22:00',
  to: '06:00',
  timezone: 'Europe/Berlin',
};

describe('wallClock', () => {
  it('reads weekday and time in the timezone', () => {
    expect(wallClock(at('2026-11-25T08:30:00Z'), 'Europe/Berlin')).toEqual({
      day: 'wed',
      minutes: 9 * 60 + 30,
    });
    expect(wallClock(at('2026-11-25T23:30:00Z'), 'Asia/Tokyo')).toEqual({ day: 'thu', minutes: 8 * 60 + 30 });
    expect(wallClock(at('2026-11-25T00:00:00Z'), 'UTC')).toEqual({ day: 'wed', minutes: 0 });
  });
});

describe('freeze windows', () => {
  it('covers an absolute window from its start (inclusive) to its end (exclusive)', () => {
    const window: FreezeWindow = {
      name: 'Black Friday',
      start: '2026-11-27T00:00:00Z',
      end: '2026-12-01T08:00:00Z',
    };
    expect(windowCovers(window, at('2026-11-26T23:59:59Z'))).toBe(false);
    expect(windowCovers(window, at('2026-11-27T00:00:00Z'))).toBe(true);
    expect(windowCovers(window, at('2026-11-30T12:00:00Z'))).toBe(true);
    expect(windowCovers(window, at('2026-12-01T08:00:00Z'))).toBe(false);
  });

  it('respects the offset of an absolute window', () => {
    const window: FreezeWindow = {
      name: 'release',
      start: '2026-11-25T10:00:00+02:00',
      end: '2026-11-25T12:00:00+02:00',
    };
    expect(windowCovers(window, at('2026-11-25T08:30:00Z'))).toBe(true);
    expect(windowCovers(window, at('2026-11-25T10:30:00Z'))).toBe(false);
  });

  it('covers a weekly window on its days and hours, in its timezone', () => {
    const window: FreezeWindow = {
      name: 'business hours',
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      from: '09:00',
      to: '17:00',
      timezone: 'Europe/Berlin',
    };
    expect(windowCovers(window, at('2026-11-25T08:00:00Z'))).toBe(true); // Wed 09:00 Berlin
    expect(windowCovers(window, at('2026-11-25T07:59:00Z'))).toBe(false); // Wed 08:59
    expect(windowCovers(window, at('2026-11-25T16:00:00Z'))).toBe(false); // Wed 17:00, the end is exclusive
    expect(windowCovers(window, at('2026-11-28T10:00:00Z'))).toBe(false); // Saturday
  });

  it('carries a window that crosses midnight into the next day', () => {
    expect(windowCovers(FRIDAY_NIGHT, at('2026-11-27T20:59:00Z'))).toBe(false); // Fri 21:59
    expect(windowCovers(FRIDAY_NIGHT, at('2026-11-27T21:00:00Z'))).toBe(true); // Fri 22:00
    expect(windowCovers(FRIDAY_NIGHT, at('2026-11-27T23:30:00Z'))).toBe(true); // Sat 00:30
    expect(windowCovers(FRIDAY_NIGHT, at('2026-11-28T02:00:00Z'))).toBe(true); // Sat 03:00
    expect(windowCovers(FRIDAY_NIGHT, at('2026-11-28T05:00:00Z'))).toBe(false); // Sat 06:00
    expect(windowCovers(FRIDAY_NIGHT, at('2026-11-26T23:00:00Z'))).toBe(false); // Fri 00:00: Thursday is not listed
    expect(windowCovers(FRIDAY_NIGHT, at('2026-11-28T21:30:00Z'))).toBe(false); // Sat 22:30
  });

  it('covers 24 hours when from equals to', () => {
    const window: FreezeWindow = {
      name: 'sunday',
      days: ['sun'],
      from: '00:00',
      to: '00:00',
      timezone: 'UTC',
    };
    expect(windowCovers(window, at('2026-11-29T00:00:00Z'))).toBe(true);
    expect(windowCovers(window, at('2026-11-29T23:59:00Z'))).toBe(true);
    expect(windowCovers(window, at('2026-11-30T00:00:00Z'))).toBe(false);
    expect(windowCovers(window, at('2026-11-28T23:59:00Z'))).toBe(false);
  });

  it('moves with daylight saving time', () => {
    const window: FreezeWindow = {
      name: 'nightly batch',
      days: ['fri'],
      from: '01:00',
      to: '02:00',
      timezone: 'America/New_York',
    };
    expect(windowCovers(window, at('2026-07-03T05:30:00Z'))).toBe(true); // 01:30 EDT (UTC-4)
    expect(windowCovers(window, at('2026-11-27T05:30:00Z'))).toBe(false); // 00:30 EST (UTC-5)
    expect(windowCovers(window, at('2026-11-27T06:30:00Z'))).toBe(true); // 01:30 EST
  });

  it('fails closed on a timezone Intl does not know', () => {
    const window: FreezeWindow = {
      name: 'typo',
      days: ['mon'],
      from: '09:00',
      to: '10:00',
      timezone: 'Europe/Berlinn',
    };
    expect(windowCovers(window, at('2026-11-25T12:00:00Z'))).toBe(true);
  });

  it('finds the first covering window among several', () => {
    const windows: FreezeWindow[] = [
      { name: 'end of year', start: '2026-12-23T00:00:00Z', end: '2027-01-02T00:00:00Z' },
      FRIDAY_NIGHT,
      { name: 'weekend', days: ['sat', 'sun'], from: '00:00', to: '00:00', timezone: 'UTC' },
    ];
    expect(activeFreezeWindow(windows, at('2026-11-28T02:00:00Z'))?.name).toBe('friday night');
    expect(activeFreezeWindow(windows, at('2026-11-28T12:00:00Z'))?.name).toBe('weekend');
    expect(inFreezeWindow(windows, at('2026-11-25T12:00:00Z'))).toBe(false);
    expect(inFreezeWindow([], at('2026-11-25T12:00:00Z'))).toBe(false);
  });
});

describe('safetyGate', () => {
  const runbook = loadRunbook('test/fixtures/library/runbooks/node-memory-pressure.yaml');
  const [alert] = normalizeAlertmanager(payload('alertmanager-node-memory-pressure.json'), OPTIONS);
  const now = at('2026-11-25T10:20:00Z');
  const off: KillSwitchState = { engaged: false };
  const gate = (overrides: Partial<Parameters<typeof safetyGate>[0]> = {}) =>
    safetyGate({ runbook, alert: alert!, now, killSwitch: off, ...overrides });

  it('allows a start when every check passes', () => {
    expect(gate()).toEqual({ allowed: true, changeFreeze: false });
    expect(
      gate({
        limits: {
          runbookRate: { allowed: true },
          resourceRate: { allowed: true },
          concurrency: { allowed: true },
          cooldown: { allowed: true },
        },
      }),
    ).toEqual({ allowed: true, changeFreeze: false });
  });

  it('refuses while the kill switch is engaged, saying who engaged it and when', () => {
    const killSwitch: KillSwitchState = {
      engaged: true,
      changedBy: 'alice@example.com',
      changedAt: '2026-11-25T10:05:00.000Z',
      reason: 'database migration',
    };
    expect(gate({ killSwitch })).toEqual({
      allowed: false,
      refusal: 'kill-switch',
      reason: 'kill switch engaged by alice@example.com at 2026-11-25T10:05:00.000Z: database migration',
    });
    expect(gate({ killSwitch: { engaged: true } })).toMatchObject({ reason: 'kill switch engaged' });
  });

  it('checks the kill switch before anything else', () => {
    const decision = gate({ killSwitch: { engaged: true }, alert: { ...alert!, environment: 'qa' } });
    expect(decision).toMatchObject({ allowed: false, refusal: 'kill-switch' });
  });

  it('refuses an environment the runbook does not allow', () => {
    expect(gate({ alert: { ...alert!, environment: 'qa' } })).toEqual({
      allowed: false,
      refusal: 'environment',
      reason: 'environment "qa" is not one the runbook allows (dev, staging, prod)',
    });
  });

  it('refuses over the runbook rate limit, with the count', () => {
    expect(gate({ limits: { runbookRate: { allowed: false, count: 6 } } })).toEqual({
      allowed: false,
      refusal: 'rate-limit',
      reason:
        'rate limit: 6 executions of node-memory-pressure in the hour since 2026-11-25T10:00:00.000Z (max 6)',
    });
    // The store's acquireRate answers only yes or no: the window is full, so at least the maximum ran.
    expect(gate({ limits: { runbookRate: { allowed: false } } })).toMatchObject({
      reason:
        'rate limit: 6 executions of node-memory-pressure in the hour since 2026-11-25T10:00:00.000Z (max 6)',
    });
  });

  it('refuses over the per-resource rate limit, naming the resource', () => {
    expect(gate({ limits: { runbookRate: { allowed: true }, resourceRate: { allowed: false } } })).toEqual({
      allowed: false,
      refusal: 'resource-rate-limit',
      reason:
        'rate limit: 2 executions of node-memory-pressure on k8s-node/prod-eks-eu-west-1/ip-10-0-1-23.eu-west-1.compute.internal in the hour since 2026-11-25T10:00:00.000Z (max 2)',
    });
  });

  it('refuses when all concurrency slots are taken', () => {
    expect(gate({ limits: { concurrency: { allowed: false, running: 2 } } })).toEqual({
      allowed: false,
      refusal: 'concurrency',
      reason: 'concurrency limit: 2 executions of node-memory-pressure running (max 2)',
    });
  });

  it('refuses during a cooldown on the resource, until when if known', () => {
    expect(gate({ limits: { cooldown: { allowed: false, until: '2026-11-25T10:31:00.000Z' } } })).toEqual({
      allowed: false,
      refusal: 'cooldown',
      reason:
        'cooldown on k8s-node/prod-eks-eu-west-1/ip-10-0-1-23.eu-west-1.compute.internal until 2026-11-25T10:31:00.000Z: node-memory-pressure ran on it recently',
    });
    expect(gate({ limits: { cooldown: { allowed: false } } })).toMatchObject({
      reason:
        'cooldown on k8s-node/prod-eks-eu-west-1/ip-10-0-1-23.eu-west-1.compute.internal (30m after its last execution): node-memory-pressure ran on it recently',
    });
  });

  it('reports the first refusal in order: rate, resource rate, concurrency, cooldown', () => {
    const limits = {
      runbookRate: { allowed: true },
      resourceRate: { allowed: true },
      concurrency: { allowed: false },
      cooldown: { allowed: false },
    };
    expect(gate({ limits })).toMatchObject({ refusal: 'concurrency' });
  });

  it('allows a start inside a freeze window, flagged so mutating steps are refused', () => {
    const frozen: Runbook = {
      ...runbook,
      environmentConstraints: {
        ...runbook.environmentConstraints,
        changeFreezeWindows: [
          { name: 'release freeze', start: '2026-11-25T00:00:00Z', end: '2026-11-26T00:00:00Z' },
        ],
      },
    };
    expect(gate({ runbook: frozen })).toEqual({
      allowed: true,
      changeFreeze: true,
      freezeWindow: 'release freeze',
    });
  });

  it("applies the environment's own freeze windows on top of the runbook's", () => {
    const environmentFreezeWindows: FreezeWindow[] = [
      { name: 'platform migration', start: '2026-11-25T08:00:00Z', end: '2026-11-25T18:00:00Z' },
    ];
    expect(gate({ environmentFreezeWindows })).toEqual({
      allowed: true,
      changeFreeze: true,
      freezeWindow: 'platform migration',
    });
    expect(gate({ environmentFreezeWindows, now: at('2026-11-25T19:00:00Z') })).toEqual({
      allowed: true,
      changeFreeze: false,
    });
  });

  it("applies a shipped runbook's absolute freeze windows", () => {
    const alb = loadRunbook('test/fixtures/library/runbooks/alb-target-5xx.yaml');
    const albAlert = { ...alert!, environment: 'prod' };
    expect(
      safetyGate({ runbook: alb, alert: albAlert, now: at('2026-11-28T12:00:00Z'), killSwitch: off }),
    ).toMatchObject({
      allowed: true,
      changeFreeze: true,
      freezeWindow: 'Black Friday to Cyber Monday (humans only)',
    });
  });
});

describe('planLimitChecks', () => {
  it("derives the store checks from the runbook's safety limits", () => {
    const runbook = loadRunbook('test/fixtures/library/runbooks/node-memory-pressure.yaml');
    const [alert] = normalizeAlertmanager(payload('alertmanager-node-memory-pressure.json'), OPTIONS);
    const resource = 'k8s-node/prod-eks-eu-west-1/ip-10-0-1-23.eu-west-1.compute.internal';
    expect(planLimitChecks(runbook, alert!, at('2026-11-25T10:20:00Z'))).toEqual({
      resourceKey: resource,
      runbookRate: {
        key: 'rate#node-memory-pressure#2026-11-25T10:00:00.000Z',
        windowStart: '2026-11-25T10:00:00.000Z',
        expiresAt: '2026-11-25T12:00:00.000Z',
        max: 6,
      },
      resourceRate: {
        key: `rate#node-memory-pressure#${resource}#2026-11-25T10:00:00.000Z`,
        windowStart: '2026-11-25T10:00:00.000Z',
        expiresAt: '2026-11-25T12:00:00.000Z',
        max: 2,
      },
      concurrency: { key: 'slots#node-memory-pressure', max: 2 },
      cooldown: {
        key: `cooldown#node-memory-pressure#${resource}`,
        until: '2026-11-25T10:50:00.000Z',
        seconds: 1_800,
      },
    });
  });
});

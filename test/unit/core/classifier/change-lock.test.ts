import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHANGE_LOCK_OVERHEAD_SECONDS,
  runbookChangesThings,
  runbookMaxSeconds,
  taskBoundSeconds,
} from '../../../../functions/core/classifier/change-lock.ts';
import { resourceKey } from '../../../../functions/core/classifier/identity.ts';
import { normalizeAlertmanager } from '../../../../functions/core/classifier/normalize.ts';
import { safetyGate } from '../../../../functions/core/classifier/safety.ts';
import { RunbookSelector } from '../../../../functions/core/classifier/select.ts';
import type { Runbook } from '../../../../functions/core/runbook/model.ts';
import { ClassifierService } from '../../../../functions/core/services/classifier.ts';
import type {
  ChangeLock,
  ChangeLockAnswer,
  ChangeLocks,
  DeferredAlert,
} from '../../../../functions/ports/change-locks.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { type AwsHarness, startAwsHarness } from '../../../support/aws-harness.ts';
import { loadRunbook } from '../../../support/runbooks.ts';
import { OPTIONS, payload } from './fixtures.ts';

const crashLooping = () => loadRunbook('test/fixtures/library/runbooks/pod-crash-looping.yaml');
const crashAlert = () => normalizeAlertmanager(payload('alertmanager-crashloop.json'), OPTIONS)[0]!;

/** The runbook with every step reading only (no change, no compensation, no rollback procedure). */
function readOnly(runbook: Runbook): Runbook {
  return {
    ...runbook,
    phases: runbook.phases.map((phase) => ({
      ...phase,
      steps: phase.steps.map(({ compensation: _, ...step }) => ({ ...step, tool: 'prometheus.query' })),
    })),
    rollbackProcedures: [],
  };
}

describe('which runbooks take the change lock', () => {
  it('a runbook with a mutating step does; one that only reads does not', () => {
    expect(runbookChangesThings(crashLooping(), TOOL_CATALOG)).toBe(true);
    expect(runbookChangesThings(readOnly(crashLooping()), TOOL_CATALOG)).toBe(false);
  });

  it('a tool the catalog does not know counts as changing', () => {
    const runbook = readOnly(crashLooping());
    runbook.phases[0]!.steps[0]!.tool = 'acme.mystery';
    expect(runbookChangesThings(runbook, TOOL_CATALOG)).toBe(true);
  });
});

describe('how long the lock is held at most', () => {
  it('a task: every attempt to its timeout (plus the compiler’s 15 s margin) and every retry delay', () => {
    expect(taskBoundSeconds(60, undefined)).toBe(75);
    expect(
      taskBoundSeconds(60, { maxAttempts: 2, interval: 5, backoffRate: 2, on: ['Runbook.ToolFailed'] }),
    ).toBe(3 * 75 + 5 + 10);
    expect(
      taskBoundSeconds(10, {
        maxAttempts: 3,
        interval: 4,
        backoffRate: 3,
        maxDelay: 10,
        on: ['Tool.Throttled'],
      }),
    ).toBe(4 * 25 + 4 + 10 + 10);
  });

  it('a runbook: checks, steps, compensations, approvals, the alert’s wait and a risk approval per changing phase', () => {
    // Prepare: one check (30 s), one changing phase (60 s, one retry after 2 s, compensated by its
    // inverse), one read-only phase (20 s), an approval of 15 min, 5 min for the alert to resolve
    const base = crashLooping();
    const step = (id: string, tool: string, timeout: number) => ({
      id,
      name: id,
      type: 'diagnostic' as const,
      tool,
      parameters: {},
      risk: 'low' as const,
      timeout,
    });
    const runbook: Runbook = {
      ...base,
      prerequisiteChecks: [{ id: 'c', name: 'c', tool: 'prometheus.query', parameters: {}, timeout: 30 }],
      phases: [
        {
          id: 'fix',
          name: 'fix',
          mode: 'sequential',
          steps: [
            {
              ...step('delete', 'k8s.delete-pod', 60),
              type: 'remediation',
              retry: { maxAttempts: 1, interval: 2, backoffRate: 2, on: ['Runbook.ToolFailed'] },
              compensation: 'auto',
            },
          ],
        },
        { id: 'look', name: 'look', mode: 'sequential', steps: [step('q', 'prometheus.query', 20)] },
      ],
      rollbackProcedures: [],
      approvalRequirements: [
        { id: 'a', phases: ['fix'], steps: [], approverGroups: ['sre'], quorum: 1, timeout: 900 },
      ],
      successMetrics: { checks: [], alertResolved: { within: 300 }, onFailure: 'rollback' },
    };

    // Act
    const seconds = runbookMaxSeconds(runbook, TOOL_CATALOG, 1_800);

    // Assess
    expect(seconds).toBe(CHANGE_LOCK_OVERHEAD_SECONDS + 45 + (2 * 75 + 2) + 75 + 35 + 900 + 300 + 1_800);
  });
});

describe('the safety gate’s change-lock answer', () => {
  const runbook = crashLooping();
  const alert = crashAlert();
  const now = new Date('2026-11-25T11:50:00Z');
  const killSwitch = { engaged: false };

  it('defers with who holds the resource, and until when at the latest', () => {
    const decision = safetyGate({
      runbook,
      alert,
      now,
      killSwitch,
      limits: {
        changeLock: {
          allowed: false,
          holder: {
            executionId: 'pod-not-ready-abc',
            runbookId: 'pod-not-ready',
            expiresAt: '2026-11-25T13:00:00.000Z',
          },
        },
      },
    });
    expect(decision).toEqual({
      allowed: false,
      refusal: 'change-lock',
      reason: `${resourceKey(alert)} is being changed by pod-not-ready execution pod-not-ready-abc; this alert is re-evaluated when it ends (its lock expires at 2026-11-25T13:00:00.000Z at the latest)`,
    });
  });

  it('a cooldown refuses before the lock is considered (a deferral must be able to start later)', () => {
    const decision = safetyGate({
      runbook,
      alert,
      now,
      killSwitch,
      limits: {
        cooldown: { allowed: false, until: '2026-11-25T12:00:00Z' },
        changeLock: { allowed: false },
      },
    });
    expect(decision).toMatchObject({ allowed: false, refusal: 'cooldown' });
  });
});

/** Change locks in memory, scripted: the first claim finds `holder`, who lets go right after. */
class ReleasingHolder implements ChangeLocks {
  lock: ChangeLock | undefined;
  readonly deferrals: DeferredAlert[] = [];
  readonly removed: string[] = [];
  private claims = 0;
  constructor(private readonly holder: ChangeLock) {}
  async acquire(lock: ChangeLock): Promise<ChangeLockAnswer> {
    this.claims++;
    if (this.claims === 1) return { acquired: false, holder: this.holder };
    this.lock = lock;
    return { acquired: true, lock };
  }
  async release(_resource: string, executionId: string) {
    const held = this.lock?.executionId === executionId;
    if (held) this.lock = undefined;
    return held;
  }
  async renew() {
    return false;
  }
  async get() {
    return this.lock;
  }
  async defer(deferral: DeferredAlert) {
    this.deferrals.push(deferral);
  }
  async listDeferred() {
    return this.deferrals;
  }
  async listDeferredDue() {
    return [];
  }
  async removeDeferred(_resource: string, incidentId: string, behind: string) {
    this.removed.push(`${incidentId} behind ${behind}`);
  }
}

describe('the classifier’s change-lock gate', () => {
  let harness: AwsHarness;
  beforeEach(async () => {
    harness = await startAwsHarness();
  });
  afterEach(() => harness.stop());

  const classifierWith = (changeLocks: ChangeLocks, runbook = crashLooping()) =>
    new ClassifierService({
      store: harness.store,
      engine: harness.engine,
      notifier: harness.notifier,
      clock: harness.clock,
      logger: harness.logger,
      config: harness.config,
      selector: new RunbookSelector([runbook]),
      changeLocks,
      tools: TOOL_CATALOG,
    });

  it('starts instead of deferring when the holder let go while the alert was being deferred', async () => {
    // Prepare: the first claim sees another execution, which has stopped by the time the lock is read again
    const alert = normalizeAlertmanager(payload('alertmanager-crashloop.json'), harness.normalize)[0]!;
    const locks = new ReleasingHolder({
      resourceKey: resourceKey(alert),
      executionId: 'pod-not-ready-old',
      runbookId: 'pod-not-ready',
      acquiredAt: '2026-11-25T09:00:00.000Z',
      expiresAt: '2026-11-25T11:00:00.000Z',
    });

    // Act
    const result = await classifierWith(locks).classify(alert);

    // Assess: deferred for a moment (so the stopping holder could not miss it), then started
    expect(result.decision).toBe('started');
    expect(locks.deferrals.map((deferral) => deferral.behind)).toEqual(['pod-not-ready-old']);
    expect(locks.removed).toEqual([`${result.incidentId} behind pod-not-ready-old`]);
    expect(locks.lock).toMatchObject({ executionId: result.executionId, runbookId: 'pod-crash-looping' });
  });

  it('takes the lock for as long as the runbook can run, from now', async () => {
    // Prepare
    const alert = normalizeAlertmanager(payload('alertmanager-crashloop.json'), harness.normalize)[0]!;
    const taken: ChangeLock[] = [];
    const locks: ChangeLocks = {
      acquire: async (lock) => {
        taken.push(lock);
        return { acquired: true, lock };
      },
      release: async () => true,
      get: async () => taken[0],
      defer: async () => {},
      listDeferred: async () => [],
      removeDeferred: async () => {},
      renew: async () => false,
      listDeferredDue: async () => [],
    };
    const runbook = crashLooping();

    // Act
    await classifierWith(locks, runbook).classify(alert);

    // Assess
    const seconds = runbookMaxSeconds(runbook, TOOL_CATALOG, harness.config.policy.risk.approvalTimeout);
    expect(taken).toEqual([
      {
        resourceKey: resourceKey(alert),
        executionId: expect.stringMatching(/^pod-crash-looping-/),
        runbookId: 'pod-crash-looping',
        acquiredAt: harness.clock.now().toISOString(),
        expiresAt: new Date(harness.clock.now().getTime() + seconds * 1000).toISOString(),
      },
    ]);
  });

  it('a read-only runbook asks for no lock', async () => {
    // Prepare
    const alert = normalizeAlertmanager(payload('alertmanager-crashloop.json'), harness.normalize)[0]!;
    const asked: ChangeLock[] = [];
    const locks: ChangeLocks = {
      acquire: async (lock) => {
        asked.push(lock);
        return { acquired: true, lock };
      },
      release: async () => true,
      get: async () => undefined,
      defer: async () => {},
      listDeferred: async () => [],
      removeDeferred: async () => {},
      renew: async () => false,
      listDeferredDue: async () => [],
    };

    // Act
    const result = await classifierWith(locks, readOnly(crashLooping())).classify(alert);

    // Assess
    expect(result.decision).toBe('started');
    expect(asked).toEqual([]);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CircuitBreaker, HealthBaseline } from '../../functions/core/watch/records.ts';
import type { WatchStore } from '../../functions/ports/watch.ts';

/**
 * The WatchStore port contract: an execution's health baseline is written once (two changes racing
 * keep the first), a stuck attempt's alarm is claimed once, and a runbook's circuit breaker is written
 * under its version (two writers never both win). `setup` runs before each test and gives an empty
 * store.
 */

export function contractBaseline(overrides: Partial<HealthBaseline> = {}): HealthBaseline {
  return {
    executionId: 'restart-watched-0001',
    runbookId: 'restart-watched',
    beforeStep: 'rollout-restart',
    takenAt: '2026-11-25T10:00:05.000Z',
    readings: [
      { check: 'workload-ready', fact: 'steps.workload-ready.output.readyReplicas', value: 4 },
      {
        check: 'error-rate',
        fact: 'steps.error-rate.output.value',
        value: null,
        unavailable: 'prometheus.query could not be read: timed out',
      },
    ],
    ...overrides,
  };
}

export function contractBreaker(overrides: Partial<CircuitBreaker> = {}): CircuitBreaker {
  return {
    runbookId: 'scale-unwatched',
    environment: 'prod',
    state: 'open',
    version: 1,
    changedAt: '2026-11-25T10:30:00.000Z',
    openedAt: '2026-11-25T10:30:00.000Z',
    reason: '3 failed runs of scale-unwatched within 30m',
    failures: [
      { executionId: 'e1', stoppedAt: '2026-11-25T10:05:00.000Z', error: 'Runbook.ToolFailed' },
      { executionId: 'e2', stoppedAt: '2026-11-25T10:15:00.000Z', error: 'Verification.Failed' },
      { executionId: 'e3', stoppedAt: '2026-11-25T10:29:00.000Z' },
    ],
    ...overrides,
  };
}

export function describeWatchStoreContract(
  name: string,
  setup: () => Promise<{ watch: WatchStore; teardown: () => Promise<void> }>,
): void {
  describe(`WatchStore contract: ${name}`, () => {
    let watch: WatchStore;
    let teardown: () => Promise<void>;

    beforeEach(async () => {
      ({ watch, teardown } = await setup());
    });
    afterEach(async () => {
      await teardown();
    });

    describe('health baselines', () => {
      it('keeps the first baseline of an execution: a later one is answered with it', async () => {
        // Prepare
        const first = contractBaseline();
        const second = contractBaseline({
          beforeStep: 'scale-up',
          takenAt: '2026-11-25T10:00:06.000Z',
          readings: [{ check: 'workload-ready', fact: first.readings[0]!.fact, value: 3 }],
        });

        // Act
        const stored = await watch.putBaseline(first);
        const raced = await watch.putBaseline(second);

        // Assess
        expect(stored).toEqual({ stored: true, baseline: first });
        expect(raced).toEqual({ stored: false, baseline: first });
        expect(await watch.getBaseline(first.executionId)).toEqual(first);
        expect(await watch.getBaseline('another-execution')).toBeUndefined();
      });

      it('keeps two racing baselines as one', async () => {
        // Act
        const answers = await Promise.all(
          [4, 3, 2].map((value, index) =>
            watch.putBaseline(
              contractBaseline({
                beforeStep: `change-${index}`,
                readings: [
                  { check: 'workload-ready', fact: 'steps.workload-ready.output.readyReplicas', value },
                ],
              }),
            ),
          ),
        );

        // Assess
        expect(answers.filter((answer) => answer.stored)).toHaveLength(1);
        const kept = await watch.getBaseline('restart-watched-0001');
        for (const answer of answers) expect(answer.baseline).toEqual(kept);
      });
    });

    describe('stuck steps', () => {
      it('claims the alarm of one attempt once; another attempt or step is its own', async () => {
        // Act
        const first = await watch.claimStuck('exec-1', 'drain', 1, '2026-11-25T10:05:00.000Z');
        const again = await watch.claimStuck('exec-1', 'drain', 1, '2026-11-25T10:05:01.000Z');
        const retry = await watch.claimStuck('exec-1', 'drain', 2, '2026-11-25T10:07:00.000Z');
        const other = await watch.claimStuck('exec-1', 'cordon', 1, '2026-11-25T10:05:00.000Z');
        const elsewhere = await watch.claimStuck('exec-2', 'drain', 1, '2026-11-25T10:05:00.000Z');

        // Assess
        expect([first, again, retry, other, elsewhere]).toEqual([true, false, true, true, true]);
      });
    });

    describe('circuit breakers', () => {
      it('creates a breaker once, then changes it only under the version it read', async () => {
        // Prepare
        const opened = contractBreaker();
        const closed = contractBreaker({
          state: 'closed',
          version: 2,
          changedAt: '2026-11-25T11:00:00.000Z',
          closedAt: '2026-11-25T11:00:00.000Z',
          closedBy: 'dana@example.com',
          closeReason: 'fixed the image',
        });

        // Act
        const created = await watch.putBreaker(opened, 0);
        const createdAgain = await watch.putBreaker(opened, 0);
        const stale = await watch.putBreaker({ ...closed, version: 3 }, 2);
        const changed = await watch.putBreaker(closed, 1);
        const lateWriter = await watch.putBreaker({ ...opened, version: 2 }, 1);

        // Assess
        expect([created, createdAgain, stale, changed, lateWriter]).toEqual([
          true,
          false,
          false,
          true,
          false,
        ]);
        expect(await watch.getBreaker('prod', 'scale-unwatched')).toEqual(closed);
        expect(await watch.getBreaker('prod', 'other-runbook')).toBeUndefined();
        expect(await watch.getBreaker('staging', 'scale-unwatched')).toBeUndefined();
      });

      it('lets one of two racing writers win', async () => {
        // Prepare
        await watch.putBreaker(contractBreaker({ state: 'closed', version: 1 }), 0);

        // Act
        const answers = await Promise.all([
          watch.putBreaker(contractBreaker({ version: 2, reason: 'first recorder' }), 1),
          watch.putBreaker(contractBreaker({ version: 2, reason: 'second recorder' }), 1),
        ]);

        // Assess
        expect(answers.filter(Boolean)).toHaveLength(1);
        expect((await watch.getBreaker('prod', 'scale-unwatched'))?.version).toBe(2);
      });

      it('lists the breakers of one environment', async () => {
        // Prepare
        await watch.putBreaker(contractBreaker(), 0);
        await watch.putBreaker(contractBreaker({ runbookId: 'restart-watched', state: 'closed' }), 0);
        await watch.putBreaker(contractBreaker({ environment: 'staging' }), 0);

        // Act
        const prod = await watch.listBreakers('prod');
        const dev = await watch.listBreakers('dev');

        // Assess
        expect(prod.map((breaker) => `${breaker.runbookId}:${breaker.state}`).sort()).toEqual([
          'restart-watched:closed',
          'scale-unwatched:open',
        ]);
        expect(dev).toEqual([]);
      });

      it('refuses a breaker whose version is not the next one, naming the field', async () => {
        // Act
        const put = watch.putBreaker(contractBreaker({ version: 3 }), 0);

        // Assess
        await expect(put).rejects.toThrow(/version 3 must be expectedVersion \+ 1 \(1\)/);
      });
    });
  });
}

import { describe, expect, it } from 'vitest';
import type { ExecutionRecord, LearningAggregate } from '../../../../functions/core/records.ts';
import { LearningService } from '../../../../functions/core/services/learning.ts';
import { systemClock } from '../../../../functions/ports/clock.ts';
import type { Store } from '../../../../functions/ports/store.ts';
import { POD_MEMORY_GROWTH, podMemoryRun, seedRuns } from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/**
 * Two runs of one runbook stop together: the first recompute reads the records slowly, the second
 * fast. The aggregate written last must be the one that read both runs.
 */
describe('recomputing a runbook aggregate', () => {
  it('runs one recompute after another, so a slow, older read never overwrites a newer one', async () => {
    // Prepare: a store whose first read of the runbook's executions takes 50 ms, and whose later reads answer at once
    const { executions } = seedRuns(RUNBOOK, [podMemoryRun(), podMemoryRun()], Date.now() - 3_600_000);
    const stored: ExecutionRecord[] = [executions[0]!];
    const written: LearningAggregate[] = [];
    let reads = 0;
    let firstReadStarted: () => void = () => {};
    const reading = new Promise<void>((resolve) => {
      firstReadStarted = resolve;
    });
    const store = {
      async listExecutionsByRunbook() {
        const snapshot = [...stored];
        if (reads++ === 0) {
          firstReadStarted();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return snapshot;
      },
      async listStepOutcomes() {
        return [];
      },
      async putLearningAggregate(aggregate: LearningAggregate) {
        written.push(aggregate);
      },
    } as unknown as Store;
    const learning = new LearningService({ store, clock: systemClock, logger: silent });

    // Act: the first run's recompute reads; meanwhile the second run is recorded and its recompute starts
    const first = learning.recompute(RUNBOOK.id);
    await reading;
    stored.push(executions[1]!);
    const second = learning.recompute(RUNBOOK.id);
    await Promise.all([first, second]);

    // Assess
    expect(written.map((aggregate) => aggregate.executions)).toEqual([1, 2]);
  });

  it('goes on after a recompute that failed', async () => {
    let calls = 0;
    const written: LearningAggregate[] = [];
    const store = {
      async listExecutionsByRunbook() {
        if (calls++ === 0) throw new Error('throttled');
        return [];
      },
      async listStepOutcomes() {
        return [];
      },
      async putLearningAggregate(aggregate: LearningAggregate) {
        written.push(aggregate);
      },
    } as unknown as Store;
    const learning = new LearningService({ store, clock: systemClock, logger: silent });

    const first = learning.recompute(RUNBOOK.id);
    const second = learning.recompute(RUNBOOK.id);

    await expect(first).rejects.toThrow('throttled');
    await second;
    expect(written).toHaveLength(1);
  });
});

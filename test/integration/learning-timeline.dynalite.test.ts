import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlHandler } from '../../functions/handlers/control.ts';
import { functionUrlEvent, lambdaContext, startAwsHarness } from '../support/aws-harness.ts';
import { POD_MEMORY_GROWTH, podMemoryRun, type SeedRun, seedRuns } from '../support/learning-history.ts';
import { loadRunbook } from '../support/runbooks.ts';

/**
 * The charts' timeline through the AWS control handler (DynamoDB in dynalite, the store's own queries):
 * the same GET /api/learning the embedded server answers, with the runs of each UTC day.
 */

const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);

describe('GET /api/learning on the AWS control API', () => {
  let harness: Awaited<ReturnType<typeof startAwsHarness>>;

  beforeEach(async () => {
    harness = await startAwsHarness({ runbooks: [POD_MEMORY_GROWTH] });
  });
  afterEach(() => harness.stop());

  it('carries each runbook’s timeline: runs per UTC day with their success rate, and its steps', async () => {
    // Prepare: 25 Nov: 2 of 3 succeed (one read times out); 26 Nov: 1 of 2 (a run after 23:00 on the 25th counts there)
    const timedOut: SeedRun = podMemoryRun({ podStatus: { status: 'timed-out', durationMs: 30_000 } });
    const days: Array<[string, SeedRun[]]> = [
      ['2026-11-25T21:00:00Z', [podMemoryRun(), podMemoryRun({ memory: 90 }), timedOut]],
      ['2026-11-26T08:00:00Z', [podMemoryRun(), timedOut]],
    ];
    for (const [start, runs] of days) {
      const { executions, outcomes } = seedRuns(RUNBOOK, runs, Date.parse(start));
      for (const [index, execution] of executions.entries()) {
        const id = `${execution.id}-${start.slice(0, 10)}`;
        await harness.store.createExecution({ ...execution, id });
        for (const outcome of outcomes[index]!)
          await harness.store.putStepOutcome({ ...outcome, executionId: id });
      }
    }
    harness.clock.set('2026-11-26T12:00:00.000Z');
    await harness.services.learning.recompute(RUNBOOK.id);
    const handler = createControlHandler({
      control: harness.services.control,
      learning: harness.services.learning,
      audit: harness.audit,
      runbooks: () => harness.runbooks,
      logger: harness.logger,
    });

    // Act
    const answer = await handler(functionUrlEvent('GET', '/api/learning'), lambdaContext());

    // Assess
    expect(answer.statusCode).toBe(200);
    const [runbook] = JSON.parse(answer.body as string).runbooks;
    expect(runbook.timeline.bucket).toBe('day');
    expect(runbook.timeline.days).toEqual([
      { day: '2026-11-25', runs: 3, succeeded: 2, failed: 1, aborted: 0, successRate: 2 / 3, recovered: 0 },
      { day: '2026-11-26', runs: 2, succeeded: 1, failed: 1, aborted: 0, successRate: 0.5, recovered: 0 },
    ]);
    // No graduated automation in this composition: no level line.
    expect(runbook.timeline.levels).toEqual([]);
    const podStatus = runbook.timeline.steps.find((step: { stepId: string }) => step.stepId === 'pod-status');
    expect(podStatus).toMatchObject({ runs: 5, failed: 2, timedOut: 2, failureRate: 0.4 });
  });
});

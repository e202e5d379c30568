import { describe, expect, it } from 'vitest';
import {
  type ExecutionFeedback,
  feedbackByExecution,
  feedbackFigures,
  stepNamedBy,
} from '../../../../functions/core/feedback/records.ts';
import {
  markedNotHelpful,
  stepEffectiveness,
  verifiedResolution,
} from '../../../../functions/core/learning/effectiveness.ts';
import { runbookHistory } from '../../../../functions/core/learning/history.ts';
import { POD_MEMORY_GROWTH, podMemoryRun as run, seedRuns } from '../../../support/learning-history.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);

function answer(
  executionId: string,
  helpful: boolean,
  recipient: string,
  stepId?: string,
): ExecutionFeedback {
  return {
    executionId,
    runbookId: RUNBOOK.id,
    environment: 'prod',
    recipient,
    helpful,
    ...(helpful ? {} : { reason: 'the alert came back an hour later' }),
    ...(stepId ? { stepId } : {}),
    at: '2026-03-05T08:00:00.000Z',
  };
}

describe('feedback in the effectiveness figures', () => {
  it('a run marked not helpful is no verified resolution: the remediation loses its credit for it', () => {
    // Prepare: three verified scale-outs; one of them marked not helpful by the on-call person
    const seeded = seedRuns(RUNBOOK, [run({ memory: 90 }), run({ memory: 90 }), run({ memory: 90 })]);
    const marked = seeded.executions[1]!.id;
    const feedback = feedbackByExecution([
      answer(seeded.executions[0]!.id, true, 'alice@example.com'),
      answer(marked, true, 'alice@example.com'),
      answer(marked, false, 'oncall@example.com', 'scale'),
    ]);

    // Act
    const without = runbookHistory(RUNBOOK.id, RUNBOOK, seeded.executions, seeded.outcomes, new Date());
    const withFeedback = runbookHistory(
      RUNBOOK.id,
      RUNBOOK,
      seeded.executions,
      seeded.outcomes,
      new Date(),
      feedback,
    );

    // Assess
    const scale = (history: typeof without) =>
      stepEffectiveness(RUNBOOK, history).remediations.find((step) => step.stepId === 'scale');
    expect(scale(without)).toMatchObject({ runs: 3, resolved: 3 });
    expect(scale(withFeedback)).toMatchObject({ runs: 3, resolved: 2 });
    const entry = withFeedback.executions.find((execution) => execution.id === marked)!;
    expect(entry.feedback).toEqual({ helpful: 1, notHelpful: 1 });
    expect(markedNotHelpful(entry)).toBe(true);
    expect(verifiedResolution(entry)).toBe(false);
    // Helpful answers alone change nothing.
    expect(verifiedResolution(withFeedback.executions.find((e) => e.id === seeded.executions[0]!.id)!)).toBe(
      true,
    );
  });

  it('counts helpful and not helpful per runbook and per step the answer named', () => {
    // Act
    const figures = feedbackFigures([
      answer('run-1', true, 'alice@example.com'),
      answer('run-1', false, 'oncall@example.com', 'scale'),
      answer('run-2', false, 'oncall@example.com', 'scale'),
      answer('run-3', true, 'bob@example.com', 'memory-usage'),
    ]);

    // Assess
    expect(figures).toEqual({
      helpful: 2,
      notHelpful: 2,
      executions: 3,
      markedNotHelpful: 2,
      bySteps: { 'memory-usage': { helpful: 1, notHelpful: 0 }, scale: { helpful: 0, notHelpful: 2 } },
    });
  });

  it('takes the step a reason names when exactly one step id appears in it as a word', () => {
    expect(
      stepNamedBy('scale did nothing, memory-usage was right', ['scale', 'memory-usage']),
    ).toBeUndefined();
    expect(stepNamedBy('the scale step did nothing', ['scale', 'memory-usage'])).toBe('scale');
    expect(stepNamedBy('rescaled by hand', ['scale'])).toBeUndefined();
    expect(stepNamedBy(undefined, ['scale'])).toBeUndefined();
  });
});

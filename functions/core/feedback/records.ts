import * as z from 'zod';

/**
 * Feedback on a finished execution (learningHooks.askForFeedback): whether the run helped, from the
 * people who decided its approvals and the on-call person, once each, through a signed link.
 */

/** A reason longer than this is refused (400): a sentence or two, not a post-mortem. */
export const FEEDBACK_REASON_MAX_CHARS = 500;

export const ExecutionFeedback = z
  .object({
    executionId: z.string().min(1),
    runbookId: z.string().min(1),
    environment: z.string().min(1),
    /** Who the link was sent to (an e-mail address, or a target's name where no people are configured). */
    recipient: z.string().min(1).max(320),
    helpful: z.boolean(),
    reason: z.string().max(FEEDBACK_REASON_MAX_CHARS).optional(),
    /** The step the feedback is about, when the person named one. */
    stepId: z.string().min(1).max(128).optional(),
    at: z.iso.datetime({ offset: true }),
  })
  .strict();
export type ExecutionFeedback = z.infer<typeof ExecutionFeedback>;

export interface FeedbackCounts {
  helpful: number;
  notHelpful: number;
}

/** A runbook's feedback figures for the learning report. */
export interface FeedbackFigures extends FeedbackCounts {
  /** Executions with at least one answer. */
  executions: number;
  /** Executions at least one person marked not helpful: none of them counts as a verified resolution. */
  markedNotHelpful: number;
  /** Per step, where the answer named one. */
  bySteps: Record<string, FeedbackCounts>;
}

/** Per execution: how many said helpful and not helpful. */
export function feedbackByExecution(entries: readonly ExecutionFeedback[]): Map<string, FeedbackCounts> {
  const byExecution = new Map<string, FeedbackCounts>();
  for (const entry of entries) {
    const counts = byExecution.get(entry.executionId) ?? { helpful: 0, notHelpful: 0 };
    if (entry.helpful) counts.helpful++;
    else counts.notHelpful++;
    byExecution.set(entry.executionId, counts);
  }
  return byExecution;
}

export function feedbackFigures(entries: readonly ExecutionFeedback[]): FeedbackFigures {
  const byExecution = feedbackByExecution(entries);
  const bySteps: Record<string, FeedbackCounts> = {};
  let helpful = 0;
  let notHelpful = 0;
  for (const entry of entries) {
    if (entry.helpful) helpful++;
    else notHelpful++;
    if (!entry.stepId) continue;
    const counts = bySteps[entry.stepId] ?? { helpful: 0, notHelpful: 0 };
    if (entry.helpful) counts.helpful++;
    else counts.notHelpful++;
    bySteps[entry.stepId] = counts;
  }
  return {
    helpful,
    notHelpful,
    executions: byExecution.size,
    markedNotHelpful: [...byExecution.values()].filter((counts) => counts.notHelpful > 0).length,
    bySteps: Object.fromEntries(Object.entries(bySteps).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/**
 * The step a reason names: the chosen one, else the only step id of the execution that appears in the
 * reason as a whole word (two or more named: none, the reason is about the run).
 */
export function stepNamedBy(reason: string | undefined, stepIds: readonly string[]): string | undefined {
  if (!reason) return undefined;
  const words = new Set(reason.toLowerCase().split(/[^a-z0-9_-]+/));
  const named = [...new Set(stepIds)].filter((id) => words.has(id.toLowerCase()));
  return named.length === 1 ? named[0] : undefined;
}

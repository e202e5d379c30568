import type { ExecutionFeedback } from '../core/feedback/records.ts';

/**
 * What happens after an execution ends: its final notification (sent once) and the feedback people
 * give on it (once per person per execution). Both are conditional writes: exactly one caller wins.
 */
export interface FollowUps {
  /** True for exactly one caller per execution: that caller sends the final notification. */
  claimFinalNotice(executionId: string, at: string): Promise<boolean>;
  /** Gives the claim back when the notification was not sent (the next delivery of the event tries again). */
  releaseFinalNotice(executionId: string, at: string): Promise<void>;
  /** False when this person already answered for this execution. */
  recordFeedback(feedback: ExecutionFeedback): Promise<boolean>;
  getFeedback(
    runbookId: string,
    executionId: string,
    recipient: string,
  ): Promise<ExecutionFeedback | undefined>;
  /** One execution's feedback, in the order given. */
  listExecutionFeedback(runbookId: string, executionId: string): Promise<ExecutionFeedback[]>;
  /** A runbook's feedback since an instant (ISO 8601). */
  listRunbookFeedback(runbookId: string, since: string): Promise<ExecutionFeedback[]>;
}

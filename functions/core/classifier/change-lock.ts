import type { RetryPolicy, Runbook, Step } from '../runbook/model.ts';
import type { ToolCatalog } from '../tool-catalog.ts';

/**
 * The per-resource change lock: while one execution may change a resource, an alert that selects
 * another runbook (or the same) for that resource waits (`deferred`) instead of running a change beside
 * it, and is classified again when the holder stops. These are the pure parts: who needs the lock and
 * for how long at most.
 */

/** The compiler's margin on each Task's timeout (compile.ts; not imported: the classifier bundles no compiler). */
const TASK_TIMEOUT_MARGIN_SECONDS = 15;
/** Resolution, checkpoints, the record and escalation: time an execution spends outside its steps. */
export const CHANGE_LOCK_OVERHEAD_SECONDS = 600;
/** A deferred alert is kept this much longer than the lock it waits for. */
export const DEFERRAL_MARGIN_SECONDS = 3_600;

/** Every step the runbook can run that names a tool: phases, rollback procedures. */
function allSteps(runbook: Runbook): Step[] {
  return [
    ...runbook.phases.flatMap((phase) => phase.steps),
    ...runbook.rollbackProcedures.flatMap((procedure) => procedure.steps),
  ];
}

/**
 * Whether an execution of the runbook can change anything: a step whose tool mutates, or a compensation.
 * A tool the catalog does not know counts as changing (unknown is not read-only).
 */
export function runbookChangesThings(runbook: Runbook, tools: Pick<ToolCatalog, 'get'>): boolean {
  return allSteps(runbook).some(
    (step) => step.compensation !== undefined || (tools.get(step.tool)?.mutating ?? true),
  );
}

/** The longest one task may take with its retries: every attempt to its timeout, every delay in between. */
export function taskBoundSeconds(timeout: number, retry: RetryPolicy | undefined): number {
  const attempts = 1 + (retry?.maxAttempts ?? 0);
  let delays = 0;
  for (let index = 0; index < (retry?.maxAttempts ?? 0); index++) {
    const delay = retry!.interval * retry!.backoffRate ** index;
    delays += retry!.maxDelay === undefined ? delay : Math.min(delay, retry!.maxDelay);
  }
  return attempts * (timeout + TASK_TIMEOUT_MARGIN_SECONDS) + delays;
}

/**
 * An upper bound of how long an execution of the runbook runs when nobody pauses it: every step,
 * compensation, check and approval at its longest one after another (branches and parallel lanes all
 * counted, so it over-estimates), plus the risk approval the policy may ask before each changing phase.
 * The lock expires after this; a run paused longer than that loses its claim (said in the README).
 */
export function runbookMaxSeconds(
  runbook: Runbook,
  tools: Pick<ToolCatalog, 'get'>,
  riskApprovalTimeoutSeconds = 0,
): number {
  let total = CHANGE_LOCK_OVERHEAD_SECONDS;
  for (const check of [...runbook.prerequisiteChecks, ...runbook.successMetrics.checks])
    total += taskBoundSeconds(check.timeout, check.retry);
  for (const step of allSteps(runbook)) {
    total += taskBoundSeconds(step.timeout, step.retry);
    if (step.compensation && step.compensation !== 'auto')
      total += taskBoundSeconds(step.compensation.timeout, undefined);
    else if (step.compensation === 'auto') total += taskBoundSeconds(step.timeout, undefined);
  }
  total += runbook.successMetrics.alertResolved?.within ?? 0;
  for (const requirement of runbook.approvalRequirements) total += requirement.timeout;
  const changingPhases = runbook.phases.filter((phase) =>
    phase.steps.some((step) => tools.get(step.tool)?.mutating ?? true),
  ).length;
  total += changingPhases * riskApprovalTimeoutSeconds;
  return Math.ceil(total);
}

import { AslErrorName } from '../errors.ts';
import type { CompensationSpecPayload } from '../execution-contract.ts';
import type { StepOutcome } from '../records.ts';
import { compensationOf } from '../runbook/checks.ts';
import { RESOLVE_STEP_ID, type Runbook, type Step } from '../runbook/model.ts';
import type { ToolCatalog } from '../tool-catalog.ts';

/**
 * What a rollback of a finished execution would undo, from its recorded steps alone: the changes that
 * may have changed something and are not undone yet, the points one may roll back to, and the
 * compensation each change gets (the one the runbook's own machine runs on failure).
 */

/** The point that keeps nothing: every change is undone. */
export const ROLLBACK_TO_START = 'start';

/** Latest statuses of a change that may have changed something (as the step runner's compensate judges). */
const MAY_HAVE_CHANGED: ReadonlySet<string> = new Set([
  'succeeded',
  'dry-run',
  'timed-out',
  'failed',
  'aborted',
  'running',
  'interrupted',
]);
/** Failures raised before the tool ran: nothing changed. */
const REFUSED_BEFORE_RUNNING: ReadonlySet<string> = new Set([
  AslErrorName.InvalidParameters,
  AslErrorName.SafetyBlocked,
  AslErrorName.KillSwitch,
  AslErrorName.Aborted,
]);
/** A compensation that ended so leaves nothing of its change to undo. */
const UNDONE: ReadonlySet<string> = new Set(['compensated', 'dry-run', 'skipped']);

export interface RecordedStep {
  stepId: string;
  name: string;
  phase?: string;
  tool: string;
  mutating: boolean;
  risk: StepOutcome['risk'];
  /** When its first attempt started: the order steps ran in. */
  startedAt: string;
  latest: StepOutcome;
}

export interface UndoableChange extends RecordedStep {
  /** Undefined when the runbook (as deployed now) has no compensation for it. */
  compensation?: CompensationSpecPayload;
}

export interface RollbackPointOption {
  /** A step id, or `start`. */
  id: string;
  label: string;
  /** The changes a rollback to this point undoes, in the order they would be undone. */
  undoes: string[];
}

/** Every runbook step that ran (not checks, compensations or the resolution), in the order they started. */
export function recordedSteps(outcomes: readonly StepOutcome[]): RecordedStep[] {
  const steps = new Map<string, RecordedStep>();
  for (const outcome of outcomes) {
    if (outcome.kind !== 'step' || outcome.stepId === RESOLVE_STEP_ID) continue;
    const known = steps.get(outcome.stepId);
    steps.set(outcome.stepId, {
      stepId: outcome.stepId,
      name: outcome.name,
      ...(outcome.phase ? { phase: outcome.phase } : {}),
      tool: outcome.tool,
      mutating: outcome.mutating,
      risk: outcome.risk,
      startedAt: known && known.startedAt < outcome.startedAt ? known.startedAt : outcome.startedAt,
      latest: !known || outcome.attempt >= known.latest.attempt ? outcome : known.latest,
    });
  }
  return [...steps.values()].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** Whether a recorded change may have changed something that no compensation has undone since. */
function stillChanged(step: RecordedStep, outcomes: readonly StepOutcome[]): boolean {
  const { latest } = step;
  if (!step.mutating || !MAY_HAVE_CHANGED.has(latest.status)) return false;
  if (latest.status === 'failed' && REFUSED_BEFORE_RUNNING.has(latest.error?.name ?? '')) return false;
  const undo = outcomes
    .filter(
      (outcome) =>
        outcome.kind === 'compensation' &&
        outcome.stepId === step.stepId &&
        outcome.startedAt >= latest.startedAt,
    )
    .at(-1);
  return !undo || !UNDONE.has(undo.status);
}

function findStep(runbook: Runbook, stepId: string): Step | undefined {
  for (const phase of runbook.phases) {
    const step = phase.steps.find((candidate) => candidate.id === stepId);
    if (step) return step;
  }
  return undefined;
}

/** The compensation the runbook's machine would run for a step: same tool, parameters, timeout. */
export function compensationSpec(
  runbook: Runbook,
  tools: ToolCatalog,
  stepId: string,
): CompensationSpecPayload | undefined {
  const step = findStep(runbook, stepId);
  if (!step) return undefined;
  const compensation = compensationOf(step, tools.get(step.tool));
  if (!compensation) return undefined;
  return {
    compensates: step.id,
    tool: compensation.tool,
    parameters: compensation.parameters,
    timeoutSeconds: 'timeout' in compensation ? (compensation.timeout as number) : 120,
    ...('skipWhenOutput' in compensation && compensation.skipWhenOutput
      ? { skipWhenOutput: compensation.skipWhenOutput }
      : {}),
  };
}

/** The changes still in effect, oldest first, each with the compensation that undoes it. */
export function undoableChanges(
  outcomes: readonly StepOutcome[],
  runbook: Runbook | undefined,
  tools: ToolCatalog,
): UndoableChange[] {
  return recordedSteps(outcomes)
    .filter((step) => stillChanged(step, outcomes))
    .map((step) => {
      const compensation = runbook ? compensationSpec(runbook, tools, step.stepId) : undefined;
      return compensation ? { ...step, compensation } : step;
    });
}

/** The changes a rollback to `point` undoes, newest first (the order they are undone in). */
export function changesAfter(
  point: string,
  steps: readonly RecordedStep[],
  changes: readonly UndoableChange[],
): UndoableChange[] | undefined {
  if (point === ROLLBACK_TO_START) return [...changes].reverse();
  const kept = steps.find((step) => step.stepId === point);
  if (!kept) return undefined;
  return changes.filter((change) => change.startedAt > kept.startedAt).reverse();
}

/** Where one may roll back to: before any change, or after any step that ran. */
export function rollbackPoints(
  steps: readonly RecordedStep[],
  changes: readonly UndoableChange[],
): RollbackPointOption[] {
  return [
    {
      id: ROLLBACK_TO_START,
      label: 'before any change (undo every change)',
      undoes: [...changes].reverse().map((change) => change.stepId),
    },
    ...steps.map((step) => ({
      id: step.stepId,
      label: `after ${step.name} (${step.stepId})`,
      undoes: (changesAfter(step.stepId, steps, changes) ?? []).map((change) => change.stepId),
    })),
  ];
}

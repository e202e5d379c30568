import { AslErrorName } from '../errors.ts';
import type { ExecutionContext, StepSpec, TaskPayload } from '../execution-contract.ts';
import { maxRisk, RISK_RANK } from '../policy.ts';
import type { ApprovalRecord, PlannedStep } from '../records.ts';
import type { ApprovalRequirement, Runbook } from '../runbook/model.ts';
import { changesRunDry } from './levels.ts';

/**
 * How the step runner enforces the automation level an execution started with, in both runtimes:
 * observe and shadow make every change its dry run (whatever else the payload says); approve holds
 * every change until a person approved it.
 */

/** The execution as the runner must treat it: at observe or shadow, a dry run. */
export function enforcedExecution(execution: ExecutionContext): ExecutionContext {
  return changesRunDry(execution.automationLevel) && !execution.dryRun
    ? { ...execution, dryRun: true }
    : execution;
}

/** Every task's execution context with the level enforced. */
export function withLevelEnforced(payload: TaskPayload): TaskPayload {
  if (!('execution' in payload)) return payload;
  const execution = enforcedExecution(payload.execution);
  return execution === payload.execution ? payload : ({ ...payload, execution } as TaskPayload);
}

/** Approvals that let a change of this step run: approved, for the step or its phase. */
export function approvedFor(
  step: Pick<StepSpec, 'id' | 'phase'>,
  approvals: readonly ApprovalRecord[],
): boolean {
  return approvals.some(
    (approval) =>
      approval.status === 'approved' &&
      ((approval.target.kind === 'step' && approval.target.id === step.id) ||
        (approval.target.kind === 'phase' && approval.target.id === step.phase)),
  );
}

/** At approve, a real change without an approval is refused (defence in depth behind the checkpoint's request). */
export function approveLevelRefusal(
  execution: ExecutionContext,
  step: Pick<StepSpec, 'id' | 'phase'>,
  approvals: readonly ApprovalRecord[],
): { name: string; message: string } | undefined {
  if (execution.automationLevel !== 'approve' || execution.dryRun) return undefined;
  if (approvedFor(step, approvals)) return undefined;
  return {
    name: AslErrorName.SafetyBlocked,
    message: `${step.id}: ${execution.runbookId} runs at automation level approve in ${execution.environment}, so every change needs an approval, and none covers this one`,
  };
}

/** The compiled approval gates of a phase or a step that apply in an environment (as the compiler routes them). */
function requirementApplies(
  requirement: ApprovalRequirement,
  risk: RISK,
  environment: string,
  approvalRiskThreshold: number,
): boolean {
  if (requirement.minRisk && RISK_RANK[risk] < RISK_RANK[requirement.minRisk]) return false;
  if (!requirement.environments) return true;
  if (requirement.environments.includes(environment)) return true;
  // An environment no rule names still gets an approval when its policy asks for one at this risk.
  return approvalRiskThreshold <= RISK_RANK[risk];
}
type RISK = keyof typeof RISK_RANK;

/**
 * The changes of a phase no approval gate of the runbook covers in this environment: what the approve
 * level must ask about at the phase's checkpoint. `approved` are the targets already approved in this
 * execution (a phase gate runs before its checkpoint).
 */
export function uncoveredChanges(
  runbook: Runbook,
  phaseId: string,
  environment: string,
  approvalRiskThreshold: number,
  isMutating: (tool: string) => boolean,
  approved: readonly ApprovalRecord[],
): PlannedStep[] {
  const phase = runbook.phases.find((candidate) => candidate.id === phaseId);
  if (!phase) return [];
  const phaseRisk = maxRisk(phase.steps.map((step) => step.risk));
  const phaseGated =
    approved.some(
      (approval) =>
        approval.status === 'approved' && approval.target.kind === 'phase' && approval.target.id === phaseId,
    ) ||
    runbook.approvalRequirements.some(
      (requirement) =>
        requirement.phases.includes(phaseId) &&
        requirementApplies(requirement, phaseRisk, environment, approvalRiskThreshold),
    );
  if (phaseGated) return [];
  return phase.steps
    .filter((step) => isMutating(step.tool))
    .filter(
      (step) =>
        !runbook.approvalRequirements.some(
          (requirement) =>
            requirement.steps.includes(step.id) &&
            requirementApplies(requirement, step.risk, environment, approvalRiskThreshold),
        ),
    )
    .map((step) => ({
      id: step.id,
      name: step.name,
      tool: step.tool,
      risk: step.risk,
      parameters: step.parameters,
    }));
}

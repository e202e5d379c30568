import type { Check, Runbook, Step } from './model.ts';
import type { PathSegment } from './path.ts';

// Apart from checks.ts, which runs the checks of reference-checks.ts, limits/ and watch/: those read
// step locations too, and importing them from checks.ts made an import cycle whose evaluation order
// left checks.ts's list of checks with holes in the serve build (esbuild's code splitting).

/** Where a step sits, for references and ordering. */
export interface StepLocation {
  step: Step | Check;
  at: PathSegment[];
  kind: 'prerequisite' | 'phase' | 'success-check' | 'rollback';
  phaseId?: string;
  phaseIndex?: number;
  stepIndex: number;
}

export function stepLocations(runbook: Runbook): StepLocation[] {
  const locations: StepLocation[] = [];
  for (const [stepIndex, step] of runbook.prerequisiteChecks.entries()) {
    locations.push({ step, at: ['prerequisiteChecks', stepIndex], kind: 'prerequisite', stepIndex });
  }
  for (const [phaseIndex, phase] of runbook.phases.entries()) {
    for (const [stepIndex, step] of phase.steps.entries()) {
      locations.push({
        step,
        at: ['phases', phaseIndex, 'steps', stepIndex],
        kind: 'phase',
        phaseId: phase.id,
        phaseIndex,
        stepIndex,
      });
    }
  }
  for (const [stepIndex, step] of runbook.successMetrics.checks.entries()) {
    locations.push({ step, at: ['successMetrics', 'checks', stepIndex], kind: 'success-check', stepIndex });
  }
  for (const [procedureIndex, procedure] of runbook.rollbackProcedures.entries()) {
    for (const [stepIndex, step] of procedure.steps.entries()) {
      locations.push({
        step,
        at: ['rollbackProcedures', procedureIndex, 'steps', stepIndex],
        kind: 'rollback',
        stepIndex,
      });
    }
  }
  return locations;
}

import type { SemanticCheck, SemanticProblem } from '../runbook/checks.ts';
import { stepLocations } from '../runbook/step-locations.ts';
import { countOf, limitFor } from './blast-radius.ts';

/**
 * checkBlastRadius: a change whose parameters, as written, already touch more than the runbook's
 * blast-radius limit (a literal list of four instances under `maxResourcesPerStep: 1`) would be refused
 * every time it runs; say so where the list is. What only run time tells (a template, a pre-read) the
 * step runner counts before the change.
 */
export const checkBlastRadius: SemanticCheck = ({ runbook, tools }) => {
  const problems: SemanticProblem[] = [];
  for (const location of stepLocations(runbook)) {
    // Rollback procedures undo: no limit holds them back, at run time either.
    if (location.kind !== 'phase') continue;
    const declared = tools.get(location.step.tool);
    if (!declared?.mutating || !declared.blastRadius) continue;
    const radius = declared.blastRadius;
    const count = radius.fromParameters(location.step.parameters);
    if (count === undefined) continue;
    const limit = limitFor(runbook.safetyLimits.blastRadius, radius.kind);
    if (count <= limit.max) continue;
    const at =
      radius.parameter && radius.parameter in location.step.parameters
        ? [...location.at, 'parameters', radius.parameter]
        : [...location.at, 'tool'];
    problems.push({
      at,
      check: 'checkBlastRadius',
      message: `step ${location.step.id} would touch ${countOf(radius.kind, count)} (${radius.how}), over the runbook's limit of ${limit.max} (${limit.from}): it would be refused every time it runs; touch fewer, or raise safetyLimits.blastRadius.perKind.${radius.kind}`,
    });
  }
  return problems;
};

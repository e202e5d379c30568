import type { SemanticCheck, SemanticProblem } from '../runbook/checks.ts';
import { describeSchema, schemaAt } from '../runbook/schema-paths.ts';
import { stepLocations } from '../runbook/step-locations.ts';
import { parseReference } from '../runbook/templates.ts';

const CHECK = 'checkHealthWatches';

/**
 * checkHealthWatches: a watched health signal is a success metric (a prerequisite runs before any
 * change, so it has nothing to compare), read by a tool that changes nothing, from a number in the
 * check's own output (what the tool declares there; checkReferencePaths names a field that is not).
 */
export const checkHealthWatches: SemanticCheck = ({ runbook, tools }) => {
  const problems: SemanticProblem[] = [];
  for (const location of stepLocations(runbook)) {
    const step = location.step;
    if (!('watch' in step) || !step.watch) continue;
    const at = [...location.at, 'watch'];
    if (location.kind !== 'success-check') {
      problems.push({
        at,
        check: CHECK,
        message: `a watch belongs on a success metric (successMetrics.checks): ${step.id} runs before any change, so there is nothing to compare it with`,
      });
      continue;
    }
    const segments = parseReference(step.watch.fact) ?? [];
    const own = ['steps', step.id, 'output'];
    if (segments.length <= own.length || own.some((segment, index) => segments[index] !== segment)) {
      problems.push({
        at: [...at, 'fact'],
        check: CHECK,
        message: `${step.watch.fact}: a watch reads a number in its check's own output (steps.${step.id}.output.<field>)`,
      });
      continue;
    }
    const tool = tools.get(step.tool);
    if (!tool) continue;
    if (tool.mutating) {
      problems.push({
        at: [...location.at, 'tool'],
        check: CHECK,
        message: `${step.tool} changes something: a watched signal is read again and again, so its check's tool must only read`,
      });
      continue;
    }
    const found = schemaAt(tool.output, segments, own.length);
    if (!found.found) continue;
    const what = describeSchema(found.schema);
    if (!['number', 'any', 'unknown'].includes(found.kind) && !what.includes('a number'))
      problems.push({
        at: [...at, 'fact'],
        check: CHECK,
        message: `${step.watch.fact}: ${tool.name} gives ${what} there; a watch compares numbers (an error rate, ready replicas)`,
      });
  }
  return problems;
};

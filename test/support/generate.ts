import type { RunbookInput } from '../../functions/core/runbook/model.ts';

/**
 * A large, realistic-looking runbook for budget tests: phases alternate between parallel diagnostic
 * groups and sequential remediation phases with compensations; every tenth phase branches on an
 * earlier output.
 */
export function generateRunbook(
  totalSteps: number,
  options: { retries?: number; stepsPerPhase?: number } = {},
): RunbookInput {
  const stepsPerPhase = options.stepsPerPhase ?? 10;
  const phases: NonNullable<RunbookInput['phases']> = [];
  const branches: NonNullable<RunbookInput['conditionalBranching']> = [];
  let made = 0;
  for (let phaseIndex = 0; made < totalSteps; phaseIndex++) {
    // Realistic proportions: four diagnostic groups for every remediation phase.
    const parallel = phaseIndex % 5 !== 4;
    const count = Math.min(stepsPerPhase, totalSteps - made);
    const steps = Array.from({ length: count }, (_, index) => {
      const id = `p${phaseIndex}-s${index}`;
      made++;
      if (parallel) {
        return {
          id,
          name: `Probe ${phaseIndex}.${index}`,
          type: 'diagnostic' as const,
          tool: 'http.check',
          parameters: { url: `https://svc-${index}.example.com/health?node={{ alert.resource.id }}` },
          timeout: '30s',
          ...(options.retries ? { retry: { maxAttempts: options.retries } } : {}),
        };
      }
      const step = {
        id,
        name: `Scale ${phaseIndex}.${index}`,
        type: 'remediation' as const,
        tool: index % 2 === 0 ? 'k8s.scale' : 'k8s.rollout-restart',
        risk: 'medium' as const,
        parameters:
          index % 2 === 0
            ? { namespace: 'shop', name: `svc-${index}`, replicas: 3 }
            : { namespace: 'shop', name: `svc-${index}` },
        ...(index % 2 === 0 ? { compensation: 'auto' as const } : {}),
        ...(options.retries ? { retry: { maxAttempts: options.retries } } : {}),
      };
      return step;
    });
    phases.push({
      id: `phase-${phaseIndex}`,
      name: `Phase ${phaseIndex}`,
      mode: parallel ? 'parallel' : 'sequential',
      ...(parallel ? { maxConcurrency: 5 } : {}),
      steps,
    });
    if (parallel && phaseIndex % 10 === 0 && made < totalSteps) {
      branches.push({
        id: `branch-${phaseIndex}`,
        after: `phase-${phaseIndex}`,
        rules: [{ when: { fact: `steps.p${phaseIndex}-s0.output.ok`, equals: false }, goto: 'escalate' }],
        default: `phase-${phaseIndex + 1}`,
      });
    }
  }
  return {
    id: `generated-${totalSteps}`,
    name: `Generated runbook with ${totalSteps} steps`,
    version: '1.0.0',
    description: 'Generated for budget tests.',
    category: 'availability',
    owner: { team: 'sre' },
    applicabilityRules: [{ id: 'any', pattern: { source: ['prometheus'] }, confidence: 0.5 }],
    environmentConstraints: { environments: ['dev'] },
    phases,
    conditionalBranching: branches,
    successMetrics: { alertResolved: { within: '10m' } },
  };
}

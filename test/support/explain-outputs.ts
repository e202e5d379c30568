import type { StepOutcome } from '../../functions/core/records.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';

/**
 * Diagnostic outputs of a release that broke shop/checkout, as the tools declare them (each parsed by
 * its tool's output schema), and the step outcomes the step runner stores for them.
 */

export function toolOutput(tool: string, value: unknown): unknown {
  const declaration = TOOL_CATALOG.get(tool);
  if (!declaration?.output) throw new Error(`fixture: ${tool} declares no output`);
  return declaration.output.parse(value);
}

export function workloadStatusOutput(lastRolloutMinutesAgo = 4): unknown {
  return toolOutput('k8s.workload-status', {
    kind: 'Deployment',
    name: 'checkout',
    namespace: 'shop',
    replicas: 4,
    readyReplicas: 2,
    availableReplicas: 2,
    updatedReplicas: 4,
    unavailableReplicas: 2,
    rolloutInProgress: false,
    lastRolloutMinutesAgo,
    crashLoopingPods: 2,
    crashLoopingPodNames: ['checkout-7d9-abc', 'checkout-7d9-def'],
    podCount: 4,
    podRestarts: 14,
  });
}

/** Revision 8 (`image`) released at `releasedAt`, over revision 7 (1.9.3). */
export function rolloutHistoryOutput(releasedAt: string, image = 'shop/checkout:2.0.0'): unknown {
  return toolOutput('k8s.rollout-history', {
    kind: 'Deployment',
    name: 'checkout',
    namespace: 'shop',
    revisions: [
      {
        revision: 8,
        current: true,
        createdAt: releasedAt,
        images: [{ container: 'app', image }],
        changeCause: 'release 2.0.0',
      },
      {
        revision: 7,
        current: false,
        createdAt: '2026-11-20T09:00:00.000Z',
        images: [{ container: 'app', image: 'shop/checkout:1.9.3' }],
        changeCause: null,
      },
    ],
    currentRevision: 8,
    previousRevision: 7,
    lastRolloutMinutesAgo: 4,
    imagesChanged: true,
    changedImages: [{ container: 'app', from: 'shop/checkout:1.9.3', to: image }],
  });
}

/** A read-only step's succeeded outcome, finished at `finishedAt`. */
export function diagnosticOutcome(
  executionId: string,
  step: { id: string; name: string; tool: string },
  output: unknown,
  finishedAt: string,
): StepOutcome {
  return {
    executionId,
    stepId: step.id,
    kind: 'step',
    name: step.name,
    phase: 'diagnose',
    tool: step.tool,
    mutating: false,
    risk: 'low',
    attempt: 1,
    status: 'succeeded',
    startedAt: new Date(Date.parse(finishedAt) - 5_000).toISOString(),
    finishedAt,
    durationMs: 5_000,
    parameters: { namespace: 'shop', kind: 'Deployment', name: 'checkout' },
    output,
    dryRun: false,
  };
}

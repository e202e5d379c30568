import { RunbookAutopilotError } from '../../../functions/core/errors.ts';
import { albTargetErrors } from './alb-target-errors.ts';
import { albTargetLatency } from './alb-target-latency.ts';
import { albUnhealthyTargets } from './alb-unhealthy-targets.ts';
import { apigateway5xx } from './apigateway-5xx.ts';
import { cpuThrottling } from './cpu-throttling.ts';
import { crashLoop } from './crash-loop.ts';
import { daemonSetPodWedged } from './daemonset-pod-wedged.ts';
import { diskFilling } from './disk-filling.ts';
import { ec2StatusCheckFailed } from './ec2-status-check-failed.ts';
import { ecsServiceSaturation } from './ecs-service-saturation.ts';
import { evictedPod } from './evicted-pod.ts';
import { hpaMaxedOut } from './hpa-maxed-out.ts';
import { imagePullBackOff } from './image-pull-backoff.ts';
import { jobFailed } from './job-failed.ts';
import { lambdaErrors } from './lambda-errors.ts';
import { lambdaThrottling } from './lambda-throttling.ts';
import { memoryPressure } from './memory-pressure.ts';
import { nodeNotReady } from './node-not-ready.ts';
import { pvcFilling } from './pvc-filling.ts';
import { rdsCpu } from './rds-cpu.ts';
import { rdsFreeStorage } from './rds-free-storage.ts';
import { rolloutStuck } from './rollout-stuck.ts';
import { sqsQueueBacklog } from './sqs-queue-backlog.ts';
import { targetDown } from './target-down.ts';
import type { Scenario } from './types.ts';

/** Every scenario the simulated environment can play, in the order the demo runs them. */
export const SCENARIOS: readonly Scenario[] = [
  memoryPressure,
  crashLoop,
  diskFilling,
  nodeNotReady,
  evictedPod,
  imagePullBackOff,
  rolloutStuck,
  daemonSetPodWedged,
  jobFailed,
  hpaMaxedOut,
  cpuThrottling,
  pvcFilling,
  targetDown,
  albTargetErrors,
  albTargetLatency,
  albUnhealthyTargets,
  ecsServiceSaturation,
  ec2StatusCheckFailed,
  lambdaErrors,
  lambdaThrottling,
  rdsCpu,
  rdsFreeStorage,
  sqsQueueBacklog,
  apigateway5xx,
];

export const DEFAULT_SCENARIOS: readonly string[] = SCENARIOS.filter((scenario) => scenario.inDefaultSet).map(
  (scenario) => scenario.id,
);

export class UnknownScenarioError extends RunbookAutopilotError {
  override readonly name = 'UnknownScenarioError';
}

/** The scenarios named (in registry order, each once); an unknown name is an error listing the known ones. */
export function selectScenarios(names: readonly string[] = DEFAULT_SCENARIOS): Scenario[] {
  const wanted = new Set(names);
  const unknown = [...wanted].filter((name) => !SCENARIOS.some((scenario) => scenario.id === name));
  if (unknown.length > 0)
    throw new UnknownScenarioError(
      `unknown scenario ${unknown.map((name) => `"${name}"`).join(', ')}; the scenarios are ${SCENARIOS.map((scenario) => scenario.id).join(', ')} (runbook demo --list-scenarios describes them)`,
    );
  if (wanted.size === 0)
    throw new UnknownScenarioError('no scenario selected; runbook demo --list-scenarios lists them');
  const chosen = SCENARIOS.filter((scenario) => wanted.has(scenario.id));
  const breaking = new Map<string, string>();
  for (const scenario of chosen)
    for (const thing of scenario.source === 'cloudwatch' ? scenario.breaks : []) {
      const other = breaking.get(thing);
      if (other)
        throw new UnknownScenarioError(
          `scenarios ${other} and ${scenario.id} both break ${thing}, so one would undo the other's story; run them one at a time`,
        );
      breaking.set(thing, scenario.id);
    }
  return chosen;
}

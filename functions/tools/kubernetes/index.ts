import type { ToolImplementation } from '../../ports/tools.ts';
import { autoscalingTools } from './autoscaling.ts';
import { describeTools } from './describe.ts';
import { drainTools } from './drain.ts';
import { eventTools } from './events.ts';
import { jobTools } from './jobs.ts';
import { nodeTools } from './nodes.ts';
import { podTools } from './pods.ts';
import { resourceTools } from './resources.ts';
import { rolloutTools } from './rollout.ts';
import type { KubernetesToolDeps } from './session.ts';
import { storageTools } from './storage.ts';
import { workloadTools } from './workloads.ts';

/**
 * The `k8s.*` tools: one implementation per Kubernetes declaration in declarations.ts. Every call
 * goes through @kubernetes/client-node against the cluster a step names (tools.kubernetes.contexts),
 * honours the step's abort signal, sends mutations with dryRun=All in a dry run, and fails with the
 * tool error kinds the state machines match.
 */
export function kubernetesTools(deps: KubernetesToolDeps): ToolImplementation[] {
  return [
    ...nodeTools(deps),
    ...podTools(deps),
    ...workloadTools(deps),
    ...eventTools(deps),
    ...describeTools(deps),
    ...rolloutTools(deps),
    ...autoscalingTools(deps),
    ...storageTools(deps),
    ...jobTools(deps),
    ...drainTools(deps),
    ...resourceTools(deps),
  ];
}

export type { KubernetesClients, KubernetesClientsOptions, KubernetesClusterClients } from './client.ts';
export { kubernetesClients } from './client.ts';
export type { CordonOutput, NodeResourcesOutput, PodOnNode, PodsOnNodeOutput } from './nodes.ts';
export type { EvictPodOutput, PodLogsOutput } from './pods.ts';
export type { KubernetesToolDeps } from './session.ts';
export type { RolloutRestartOutput, ScaleOutput, WorkloadStatusOutput } from './workloads.ts';

import { z } from 'zod';
import type { ToolDeclaration } from '../../core/tool-catalog.ts';
import { cluster, dryRunFlag, k8sName } from './shared.ts';

/** Declarations of the Kubernetes tools (functions/tools/kubernetes): parameters, outputs, RBAC verbs. */

export const NODE_CONDITIONS = [
  'Ready',
  'MemoryPressure',
  'DiskPressure',
  'PIDPressure',
  'NetworkUnavailable',
] as const;
export type NodeConditionType = (typeof NODE_CONDITIONS)[number];

const WorkloadKind = z.enum(['Deployment', 'StatefulSet', 'DaemonSet']);

// ------------------------------------------------------------------------------------------- outputs

export const NodeResourceAmounts = z.object({
  cpuCores: z.number(),
  memoryBytes: z.number(),
  pods: z.number(),
  ephemeralStorageBytes: z.number(),
});
export type NodeResourceAmounts = z.infer<typeof NodeResourceAmounts>;

export const NodeResourcesOutput = z.object({
  name: z.string(),
  ready: z.boolean(),
  unschedulable: z.boolean(),
  conditions: z
    .object(
      Object.fromEntries(NODE_CONDITIONS.map((condition) => [condition, z.boolean()])) as {
        [Condition in NodeConditionType]: z.ZodBoolean;
      },
    )
    .describe('each condition’s status is True (a missing condition, or Unknown, is false)'),
  memoryPressure: z.boolean(),
  diskPressure: z.boolean(),
  capacity: NodeResourceAmounts,
  allocatable: NodeResourceAmounts,
  usage: z
    .object({
      cpuCores: z.number(),
      memoryBytes: z.number(),
      cpuPercent: z.number(),
      memoryPercent: z.number(),
    })
    .optional()
    .describe('from metrics.k8s.io; absent when the API is not installed or has no sample yet'),
  podCount: z.number().describe('pods on the node that are neither Succeeded nor Failed'),
  kubeletVersion: z.string().nullable(),
});
export type NodeResourcesOutput = z.infer<typeof NodeResourcesOutput>;

export const PodOnNode = z.object({
  namespace: z.string(),
  name: z.string(),
  ownerKind: z
    .string()
    .nullable()
    .describe(
      'the top-level controller: a ReplicaSet’s Deployment, else the direct controller; null for a bare pod',
    ),
  ownerName: z.string().nullable(),
  phase: z.string().nullable(),
  memoryBytes: z.number(),
  cpuCores: z.number(),
  memoryShare: z.number().describe('memoryBytes / the node’s allocatable memory, 0..1'),
  restarts: z.number(),
  usageSource: z.enum(['metrics', 'requests']),
});
export type PodOnNode = z.infer<typeof PodOnNode>;

export const PodsOnNodeOutput = z.object({
  node: z.string(),
  sortBy: z.enum(['memory', 'cpu', 'restarts']),
  pods: z.array(PodOnNode),
  total: z.number().describe('pods on the node before the limit'),
  metricsAvailable: z.boolean(),
});
export type PodsOnNodeOutput = z.infer<typeof PodsOnNodeOutput>;

export const CordonOutput = z.object({
  node: z.string(),
  unschedulable: z.boolean(),
  wasUnschedulable: z.boolean(),
  changed: z.boolean().describe('false when the node already was in the wanted state (nothing was sent)'),
  dryRun: dryRunFlag,
});
export type CordonOutput = z.infer<typeof CordonOutput>;

export const PodLogsOutput = z.object({
  namespace: z.string(),
  pod: z.string(),
  container: z.string(),
  previous: z.boolean(),
  lines: z.number(),
  text: z.string().describe('the tail of the log, trailing whitespace trimmed'),
  truncated: z.boolean(),
});
export type PodLogsOutput = z.infer<typeof PodLogsOutput>;

export const EvictPodOutput = z.object({
  namespace: z.string(),
  pod: z.string(),
  evicted: z.boolean().describe('false in a dry run: the API server only checked the eviction'),
  alreadyGone: z.boolean().describe('the pod no longer existed (as kubectl drain counts it)'),
  dryRun: dryRunFlag,
});
export type EvictPodOutput = z.infer<typeof EvictPodOutput>;

export const WorkloadStatusOutput = z.object({
  kind: WorkloadKind,
  name: z.string(),
  namespace: z.string(),
  replicas: z.number().describe('desired replicas (a DaemonSet: the nodes it should run on)'),
  readyReplicas: z.number(),
  availableReplicas: z.number(),
  updatedReplicas: z.number(),
  unavailableReplicas: z.number(),
  rolloutInProgress: z.boolean(),
  lastRolloutMinutesAgo: z
    .number()
    .nullable()
    .describe('minutes since the current revision was created; null if unknown'),
  crashLoopingPods: z.number(),
  crashLoopingPodNames: z.array(z.string()),
  podCount: z.number(),
  podRestarts: z.number(),
});
export type WorkloadStatusOutput = z.infer<typeof WorkloadStatusOutput>;

export const RolloutRestartOutput = z.object({
  kind: WorkloadKind,
  name: z.string(),
  namespace: z.string(),
  restartedAt: z.string(),
  dryRun: dryRunFlag,
});
export type RolloutRestartOutput = z.infer<typeof RolloutRestartOutput>;

export const ScaleOutput = z.object({
  kind: z.enum(['Deployment', 'StatefulSet']),
  name: z.string(),
  namespace: z.string(),
  previousReplicas: z.number(),
  replicas: z.number(),
  changed: z.boolean().describe('false when the workload already had that many replicas'),
  dryRun: dryRunFlag,
});
export type ScaleOutput = z.infer<typeof ScaleOutput>;

// ------------------------------------------------------------------------------------------- declarations

export const KUBERNETES_TOOL_DECLARATIONS = [
  {
    name: 'k8s.node-resources',
    description: 'A node’s conditions, capacity, allocatable and (with metrics.k8s.io) current usage.',
    parameters: z.object({ node: k8sName, cluster }).strict(),
    output: NodeResourcesOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the node (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['nodes'], verbs: ['get'] },
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
        { apiGroup: 'metrics.k8s.io', resources: ['nodes'], verbs: ['get'] },
      ],
    },
  },
  {
    name: 'k8s.pods-on-node',
    description: 'Pods on a node with their requests, usage (metrics.k8s.io) and restarts, heaviest first.',
    parameters: z
      .object({
        node: k8sName,
        sortBy: z.enum(['memory', 'cpu', 'restarts']).default('memory'),
        limit: z.number().int().min(1).max(200).default(20),
        cluster,
      })
      .strict(),
    output: PodsOnNodeOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the pods (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
        { apiGroup: '', resources: ['nodes'], verbs: ['get'] },
        { apiGroup: 'apps', resources: ['replicasets'], verbs: ['get'] },
        { apiGroup: 'metrics.k8s.io', resources: ['pods'], verbs: ['list'] },
      ],
    },
  },
  {
    name: 'k8s.pod-logs',
    description: 'The tail of a pod container’s log (optionally of the previous, crashed container).',
    parameters: z
      .object({
        namespace: k8sName,
        pod: k8sName,
        container: z.string().min(1).optional(),
        tailLines: z.number().int().min(1).max(5_000).default(200),
        previous: z.boolean().default(false),
        cluster,
      })
      .strict(),
    output: PodLogsOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the log (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['pods/log'], verbs: ['get'] },
        { apiGroup: '', resources: ['pods'], verbs: ['get'] },
      ],
    },
  },
  {
    name: 'k8s.workload-status',
    description: 'A Deployment/StatefulSet/DaemonSet’s replicas, rollout state and its pods’ restarts.',
    parameters: z
      .object({
        namespace: k8sName,
        kind: WorkloadKind.default('Deployment'),
        name: k8sName,
        cluster,
      })
      .strict(),
    output: WorkloadStatusOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the workload (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: 'apps', resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['get'] },
        { apiGroup: 'apps', resources: ['replicasets', 'controllerrevisions'], verbs: ['list'] },
        { apiGroup: 'apps', resources: ['controllerrevisions'], verbs: ['get'] },
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
      ],
    },
  },
  {
    name: 'k8s.rollout-restart',
    description: 'Restarts a workload’s pods with a rolling update (like kubectl rollout restart).',
    parameters: z
      .object({
        namespace: k8sName,
        kind: WorkloadKind.default('Deployment'),
        name: k8sName,
        cluster,
      })
      .strict(),
    output: RolloutRestartOutput,
    mutating: true,
    risk: 'medium',
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    onRepeat: {
      effect: 'no-op',
      how: "the pod template gets the execution and step's change key and a restartedAt fixed at the first attempt, so a repeat finds it there and sends nothing (or sends the same template)",
    },
    permissions: {
      kubernetes: [
        {
          apiGroup: 'apps',
          resources: ['deployments', 'statefulsets', 'daemonsets'],
          verbs: ['get', 'patch'],
        },
      ],
    },
  },
  {
    name: 'k8s.scale',
    description:
      'Sets a Deployment/StatefulSet’s replicas through the scale subresource; returns the previous count.',
    parameters: z
      .object({
        namespace: k8sName,
        kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
        name: k8sName,
        replicas: z.number().int().min(0).max(1_000),
        cluster,
      })
      .strict(),
    output: ScaleOutput,
    mutating: true,
    risk: 'medium',
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    compensation: {
      tool: 'k8s.scale',
      parameters: {
        namespace: '{{ parameters.namespace }}',
        kind: '{{ parameters.kind }}',
        name: '{{ parameters.name }}',
        replicas: '{{ output.previousReplicas }}',
      },
      description: 'scales back to the previous replica count',
    },
    onRepeat: { effect: 'no-op', how: 'sets an absolute replica count' },
    permissions: {
      kubernetes: [
        { apiGroup: 'apps', resources: ['deployments/scale', 'statefulsets/scale'], verbs: ['get', 'patch'] },
      ],
    },
  },
  {
    name: 'k8s.cordon',
    description: 'Marks a node unschedulable so no new pods land on it.',
    parameters: z.object({ node: k8sName, cluster }).strict(),
    output: CordonOutput,
    mutating: true,
    risk: 'medium',
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    compensation: {
      tool: 'k8s.uncordon',
      parameters: { node: '{{ parameters.node }}' },
      description: 'makes the node schedulable again (unless it was cordoned before the runbook)',
      skipWhenOutput: 'wasUnschedulable',
    },
    onRepeat: { effect: 'no-op', how: 'a cordoned node stays cordoned' },
    permissions: { kubernetes: [{ apiGroup: '', resources: ['nodes'], verbs: ['get', 'patch'] }] },
  },
  {
    name: 'k8s.uncordon',
    description: 'Marks a node schedulable again.',
    parameters: z.object({ node: k8sName, cluster }).strict(),
    output: CordonOutput,
    mutating: true,
    risk: 'low',
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    onRepeat: { effect: 'no-op', how: 'an uncordoned node stays uncordoned' },
    permissions: { kubernetes: [{ apiGroup: '', resources: ['nodes'], verbs: ['get', 'patch'] }] },
  },
  {
    name: 'k8s.evict-pod',
    description:
      'Evicts a pod through the Eviction API, which respects PodDisruptionBudgets. A pod already gone counts as evicted (`alreadyGone`), as in kubectl drain.',
    parameters: z
      .object({
        namespace: k8sName,
        pod: k8sName,
        gracePeriodSeconds: z.number().int().min(0).max(3_600).optional(),
        cluster,
      })
      .strict(),
    output: EvictPodOutput,
    mutating: true,
    risk: 'medium',
    dryRun: 'posts the eviction with dryRun=All: PDBs are checked and nothing is evicted',
    onRepeat: { effect: 'no-op', how: 'a pod already evicted is gone (alreadyGone)' },
    permissions: { kubernetes: [{ apiGroup: '', resources: ['pods/eviction'], verbs: ['create'] }] },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

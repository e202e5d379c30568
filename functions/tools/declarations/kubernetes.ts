import * as z from 'zod';
import { touchesOne, touchesWhatItReads } from '../../core/limits/blast-radius.ts';
import type { ToolDeclaration } from '../../core/tool-catalog.ts';
import { cluster, dryRunFlag, isoTimestamp, k8sName, stringMap } from './shared.ts';

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

/** Kinds k8s.describe reads. Secrets are not among them: no tool reads Secret data. */
export const DESCRIBE_KINDS = [
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Node',
  'PersistentVolumeClaim',
  'PersistentVolume',
  'HorizontalPodAutoscaler',
  'Service',
  'PodDisruptionBudget',
  'ResourceQuota',
  'Namespace',
  'ConfigMap',
] as const;
export type DescribeKind = (typeof DESCRIBE_KINDS)[number];
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(['Node', 'PersistentVolume', 'Namespace']);

/** `20Gi` or `+50%`: an absolute quantity, or an increase over the current value. */
const QUANTITY_OR_INCREASE = /^(\+\d{1,4}(\.\d+)?%|\d+(\.\d+)?(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?)$/;
const quantity = z
  .string()
  .regex(
    /^\d+(\.\d+)?(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$/,
    'must be a Kubernetes quantity such as 500m, 2Gi or 100Gi',
  );
const quantityOrIncrease = z
  .string()
  .regex(QUANTITY_OR_INCREASE, 'must be a quantity such as 2Gi, or an increase such as +50%');

const kindName = z
  .string()
  .regex(/^[A-Z][A-Za-z0-9]*$/, 'must be a Kubernetes kind such as Pod or Deployment');

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

// ----------------------------------------------------------------------------- outputs: shared parts

export const Condition = z.object({
  type: z.string(),
  status: z.string().describe('True, False or Unknown'),
  reason: z.string().nullable(),
  message: z.string().nullable(),
  lastTransitionTime: isoTimestamp,
});
export type Condition = z.infer<typeof Condition>;

export const ObjectReference = z.object({ kind: z.string(), name: z.string() });
export type ObjectReference = z.infer<typeof ObjectReference>;

export const KubernetesEvent = z.object({
  type: z.string().describe('Normal or Warning'),
  reason: z
    .string()
    .describe('FailedScheduling, BackOff, Unhealthy, FailedMount, Evicted, ScalingReplicaSet…'),
  message: z.string(),
  object: z.string().describe('what it is about, as Kind/name'),
  count: z.number().describe('how often it happened (a series’ count for events.k8s.io events)'),
  firstSeen: isoTimestamp,
  lastSeen: isoTimestamp,
  source: z.string().nullable().describe('the component that reported it: kubelet, default-scheduler…'),
});
export type KubernetesEvent = z.infer<typeof KubernetesEvent>;

export const ResourceValues = z.object({
  cpu: z.string().nullable().describe('as the spec writes it (500m, 2); null when not set'),
  memory: z.string().nullable(),
});
export type ResourceValues = z.infer<typeof ResourceValues>;

export const ContainerSpecSummary = z.object({
  name: z.string(),
  image: z.string(),
  requests: ResourceValues,
  limits: ResourceValues,
});
export type ContainerSpecSummary = z.infer<typeof ContainerSpecSummary>;

export const ContainerStatusSummary = z.object({
  name: z.string(),
  image: z.string(),
  ready: z.boolean(),
  restarts: z.number(),
  state: z.enum(['running', 'waiting', 'terminated', 'unknown']),
  reason: z
    .string()
    .nullable()
    .describe(
      'why it waits or ended: CrashLoopBackOff, ImagePullBackOff, ErrImagePull, CreateContainerConfigError, ContainerCreating, OOMKilled, Error, Completed…',
    ),
  message: z.string().nullable(),
  exitCode: z.number().nullable().describe('of a terminated container'),
  lastTerminationReason: z
    .string()
    .nullable()
    .describe('how its previous instance ended (OOMKilled, Error…); null if it never restarted'),
  lastExitCode: z.number().nullable(),
  lastTerminatedAt: isoTimestamp,
});
export type ContainerStatusSummary = z.infer<typeof ContainerStatusSummary>;

export const ImageOfContainer = z.object({ container: z.string(), image: z.string() });
export type ImageOfContainer = z.infer<typeof ImageOfContainer>;

// ------------------------------------------------------------------------------- outputs: k8s.events

export const EventReason = z.object({
  reason: z.string(),
  type: z.string(),
  events: z.number().describe('events with this reason'),
  count: z.number().describe('occurrences, summed over those events'),
  lastSeen: isoTimestamp,
});
export type EventReason = z.infer<typeof EventReason>;

export const EventsOutput = z.object({
  kind: z.string(),
  name: z.string(),
  namespace: z.string().nullable(),
  events: z.array(KubernetesEvent).describe('the newest first, up to `limit`'),
  total: z.number().describe('events that matched, before the limit'),
  warnings: z.number().describe('Warning events among them'),
  warningCount: z.number().describe('occurrences of those Warning events, summed'),
  reasons: z.array(EventReason).describe('one entry per reason, the most frequent first'),
  truncated: z
    .boolean()
    .describe('the API had more events than the tool reads (1,000); the oldest were not considered'),
});
export type EventsOutput = z.infer<typeof EventsOutput>;

// ----------------------------------------------------------------------------- outputs: k8s.describe

const ReplicaSummary = z.object({
  desired: z.number(),
  current: z.number(),
  ready: z.number(),
  available: z.number(),
  updated: z.number(),
  unavailable: z.number(),
});

const NodeAmounts = z.object({
  cpu: z.string().nullable(),
  memory: z.string().nullable(),
  pods: z.string().nullable(),
  ephemeralStorage: z.string().nullable(),
});

export const DescribeOutput = z.object({
  kind: z.enum(DESCRIBE_KINDS),
  name: z.string(),
  namespace: z.string().nullable(),
  uid: z.string(),
  createdAt: isoTimestamp,
  ageMinutes: z.number().nullable(),
  labels: stringMap,
  annotations: stringMap.describe(
    'kubectl’s last-applied-configuration left out; values longer than 500 characters cut',
  ),
  owner: ObjectReference.nullable().describe('the controlling owner reference'),
  conditions: z.array(Condition),
  problems: z
    .array(z.string())
    .describe(
      'what looks wrong, in words: conditions that are not as they should be, containers that wait or restart, a budget that allows no disruption, a quota near its limit…',
    ),
  replicas: ReplicaSummary.optional().describe('Deployment, StatefulSet, DaemonSet, ReplicaSet'),
  rollout: z
    .object({
      strategy: z.string().nullable(),
      revision: z.number().nullable().describe('a Deployment’s deployment.kubernetes.io/revision'),
      paused: z.boolean(),
      currentRevision: z.string().nullable().describe('StatefulSet: the revision of its current pods'),
      updateRevision: z.string().nullable().describe('StatefulSet: the revision being rolled out'),
      progressDeadlineSeconds: z.number().nullable(),
    })
    .optional()
    .describe('Deployment, StatefulSet, DaemonSet'),
  selector: z.string().optional().describe('the label selector, as a query string'),
  containers: z
    .array(ContainerSpecSummary)
    .optional()
    .describe('of the pod template (workloads, Jobs, CronJobs) or of the pod'),
  pod: z
    .object({
      phase: z.string().nullable(),
      reason: z
        .string()
        .nullable()
        .describe('why it is in its phase, as the kubelet says: Evicted, NodeLost, Shutdown, NodeAffinity…'),
      message: z.string().nullable(),
      node: z.string().nullable(),
      podIP: z.string().nullable(),
      hostIP: z.string().nullable(),
      qosClass: z.string().nullable(),
      ready: z.boolean(),
      restarts: z.number(),
      startTime: isoTimestamp,
      containers: z.array(ContainerStatusSummary),
      volumes: z.array(z.object({ name: z.string(), type: z.string(), claim: z.string().nullable() })),
    })
    .optional(),
  node: z
    .object({
      ready: z.boolean(),
      unschedulable: z.boolean(),
      taints: z.array(z.string()).describe('key=value:Effect'),
      internalIP: z.string().nullable(),
      hostname: z.string().nullable(),
      providerId: z.string().nullable(),
      instanceId: z.string().nullable().describe('the EC2 instance, from an aws:/// providerID'),
      instanceType: z.string().nullable(),
      zone: z.string().nullable(),
      kubeletVersion: z.string().nullable(),
      capacity: NodeAmounts,
      allocatable: NodeAmounts,
    })
    .optional(),
  claim: z
    .object({
      phase: z.string().nullable(),
      storageClass: z.string().nullable(),
      requested: z.string().nullable(),
      capacity: z.string().nullable(),
      accessModes: z.array(z.string()),
      volumeName: z.string().nullable(),
      resizePending: z.boolean().describe('FileSystemResizePending or Resizing is True'),
    })
    .optional(),
  volume: z
    .object({
      phase: z.string().nullable(),
      capacity: z.string().nullable(),
      storageClass: z.string().nullable(),
      claim: z.string().nullable().describe('namespace/name of the bound claim'),
      reclaimPolicy: z.string().nullable(),
      driver: z.string().nullable(),
      volumeHandle: z.string().nullable(),
    })
    .optional(),
  autoscaler: z
    .object({
      target: ObjectReference,
      minReplicas: z.number(),
      maxReplicas: z.number(),
      currentReplicas: z.number(),
      desiredReplicas: z.number(),
      metrics: z.array(z.string()).describe('current / target per metric, e.g. "cpu: 95% / 70% utilization"'),
    })
    .optional(),
  job: z
    .object({
      completions: z.number().nullable(),
      parallelism: z.number().nullable(),
      backoffLimit: z.number().nullable(),
      active: z.number(),
      succeeded: z.number(),
      failed: z.number(),
      startTime: isoTimestamp,
      completionTime: isoTimestamp,
    })
    .optional(),
  cronJob: z
    .object({
      schedule: z.string(),
      suspend: z.boolean(),
      concurrencyPolicy: z.string().nullable(),
      lastScheduleTime: isoTimestamp,
      lastSuccessfulTime: isoTimestamp,
      activeJobs: z.array(z.string()),
    })
    .optional(),
  service: z
    .object({
      type: z.string().nullable(),
      clusterIP: z.string().nullable(),
      ports: z.array(z.string()).describe('port/protocol → targetPort'),
      selector: stringMap,
      readyEndpoints: z.number(),
      notReadyEndpoints: z.number(),
    })
    .optional(),
  budget: z
    .object({
      minAvailable: z.string().nullable(),
      maxUnavailable: z.string().nullable(),
      currentHealthy: z.number(),
      desiredHealthy: z.number(),
      disruptionsAllowed: z.number(),
      expectedPods: z.number(),
    })
    .optional(),
  quota: z
    .array(
      z.object({
        resource: z.string(),
        hard: z.string(),
        used: z.string(),
        usedPercent: z.number().nullable(),
      }),
    )
    .optional(),
  configMap: z
    .object({ keys: z.array(z.string()), binaryKeys: z.array(z.string()) })
    .optional()
    .describe('key names only: values are never read out'),
  namespacePhase: z.string().optional(),
  events: z.array(KubernetesEvent).describe('its recent events, the newest first'),
  warningEvents: z.number(),
});
export type DescribeOutput = z.infer<typeof DescribeOutput>;

// ------------------------------------------------------------------------------- outputs: k8s.pods

export const PodSummary = z.object({
  name: z.string(),
  phase: z.string().nullable(),
  ready: z.boolean(),
  node: z.string().nullable(),
  ageMinutes: z.number().nullable(),
  restarts: z.number(),
  owner: ObjectReference.nullable(),
  deleting: z.boolean().describe('it has a deletionTimestamp (Terminating)'),
  unschedulable: z
    .string()
    .nullable()
    .describe(
      'why the scheduler cannot place it (PodScheduled False), e.g. "0/3 nodes are available: 3 Insufficient memory"',
    ),
  containers: z.array(ContainerStatusSummary),
  lastWarning: z
    .object({ reason: z.string(), message: z.string(), count: z.number(), lastSeen: isoTimestamp })
    .nullable()
    .describe('its most recent Warning event'),
});
export type PodSummary = z.infer<typeof PodSummary>;

export const PodsOutput = z.object({
  namespace: z.string(),
  selector: z.string().describe('the label selector used ("" for the whole namespace)'),
  total: z.number(),
  ready: z.number(),
  notReady: z.number().describe('pods that are not Ready and not finished'),
  pending: z.number(),
  restarts: z.number().describe('restarts of all their containers'),
  waitingReasons: z
    .record(z.string(), z.number())
    .describe(
      'containers waiting, by reason: CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError…',
    ),
  terminationReasons: z
    .record(z.string(), z.number())
    .describe('how containers last ended, by reason: OOMKilled, Error…'),
  pods: z.array(PodSummary).describe('not-ready pods first, then by restarts; up to `limit`'),
});
export type PodsOutput = z.infer<typeof PodsOutput>;

export const DeletePodOutput = z.object({
  namespace: z.string(),
  pod: z.string(),
  owner: ObjectReference.nullable(),
  phase: z.string().nullable(),
  deleted: z.boolean().describe('false in a dry run and when the pod was already gone'),
  alreadyGone: z.boolean(),
  dryRun: dryRunFlag,
});
export type DeletePodOutput = z.infer<typeof DeletePodOutput>;

// ------------------------------------------------------------------------ outputs: k8s.rollout-undo

export const RolloutUndoOutput = z.object({
  kind: WorkloadKind,
  name: z.string(),
  namespace: z.string(),
  fromRevision: z.number().describe('the revision that was current'),
  toRevision: z.number().describe('the revision rolled back to (its number before the rollback)'),
  imagesBefore: z.array(ImageOfContainer),
  imagesAfter: z.array(ImageOfContainer),
  alreadyAtTarget: z.boolean().describe('the current template already was that revision’s: nothing was sent'),
  changed: z.boolean(),
  dryRun: dryRunFlag,
});
export type RolloutUndoOutput = z.infer<typeof RolloutUndoOutput>;

export const RolloutRevision = z.object({
  revision: z.number(),
  current: z.boolean().describe('the revision the workload runs now'),
  createdAt: isoTimestamp,
  images: z.array(ImageOfContainer),
  changeCause: z.string().nullable().describe('its kubernetes.io/change-cause annotation (Deployments)'),
});
export type RolloutRevision = z.infer<typeof RolloutRevision>;

export const RolloutHistoryOutput = z.object({
  kind: WorkloadKind,
  name: z.string(),
  namespace: z.string(),
  revisions: z.array(RolloutRevision).describe('the newest first'),
  currentRevision: z.number().nullable(),
  previousRevision: z.number().nullable().describe('the revision k8s.rollout-undo would go back to'),
  lastRolloutMinutesAgo: z.number().nullable().describe('since the current revision was created'),
  imagesChanged: z.boolean().describe('the current revision runs other images than the previous one'),
  changedImages: z
    .array(z.object({ container: z.string(), from: z.string().nullable(), to: z.string().nullable() }))
    .describe('per container, what the last rollout changed (null: the container was added or removed)'),
});
export type RolloutHistoryOutput = z.infer<typeof RolloutHistoryOutput>;

// ---------------------------------------------------------------------------------- outputs: HPAs

export const HpaMetric = z.object({
  type: z.string().describe('Resource, ContainerResource, Pods, Object or External'),
  name: z.string().describe('cpu, memory, or the metric’s name'),
  targetType: z.string().describe('Utilization, AverageValue or Value'),
  target: z.string(),
  current: z.string().nullable(),
  ratio: z.number().nullable().describe('current / target; above 1 asks for more replicas'),
});
export type HpaMetric = z.infer<typeof HpaMetric>;

export const HpaStatusOutput = z.object({
  namespace: z.string(),
  name: z.string(),
  target: ObjectReference,
  minReplicas: z.number(),
  maxReplicas: z.number(),
  currentReplicas: z.number(),
  desiredReplicas: z.number(),
  atMaxReplicas: z.boolean().describe('currentReplicas ≥ maxReplicas (what KubeHpaMaxedOut fires on)'),
  ableToScale: z.boolean(),
  scalingActive: z.boolean(),
  scalingLimited: z.boolean().describe('ScalingLimited is True: the wanted count was cut to min or max'),
  scalingLimitedReason: z.string().nullable().describe('TooManyReplicas or TooFewReplicas'),
  conditions: z.array(Condition),
  metrics: z.array(HpaMetric),
  lastScaleTime: isoTimestamp,
});
export type HpaStatusOutput = z.infer<typeof HpaStatusOutput>;

export const HpaMaxReplicasOutput = z.object({
  namespace: z.string(),
  name: z.string(),
  previousMaxReplicas: z.number(),
  maxReplicas: z.number(),
  minReplicas: z.number(),
  currentReplicas: z.number(),
  changed: z.boolean().describe('false when it already had that maximum (nothing was sent)'),
  dryRun: dryRunFlag,
});
export type HpaMaxReplicasOutput = z.infer<typeof HpaMaxReplicasOutput>;

// -------------------------------------------------------------------------------- outputs: storage

const ClaimPod = z.object({
  name: z.string(),
  node: z.string().nullable(),
  phase: z.string().nullable(),
  owner: ObjectReference.nullable(),
});

export const PvcUsageOutput = z.object({
  namespace: z.string(),
  name: z.string(),
  phase: z.string().nullable(),
  storageClass: z.string().nullable(),
  allowVolumeExpansion: z
    .boolean()
    .nullable()
    .describe('whether its StorageClass allows expansion; null without a class (statically provisioned)'),
  requested: z.string().nullable(),
  capacity: z.string().nullable(),
  capacityBytes: z.number().nullable(),
  usedBytes: z.number().nullable().describe('from the kubelet’s stats summary of the node that mounts it'),
  availableBytes: z.number().nullable(),
  usedPercent: z.number().nullable(),
  usageNote: z
    .string()
    .nullable()
    .describe('why usage is unknown (not mounted, kubelet unreachable, forbidden…)'),
  fileSystemResizePending: z.boolean(),
  resizing: z.boolean(),
  volumeName: z.string().nullable(),
  pods: z.array(ClaimPod).describe('pods that mount it'),
});
export type PvcUsageOutput = z.infer<typeof PvcUsageOutput>;

export const PvcExpandOutput = z.object({
  namespace: z.string(),
  name: z.string(),
  storageClass: z.string(),
  previousSize: z.string().describe('the storage request before'),
  requestedSize: z.string(),
  requestedBytes: z.number(),
  clampedToMaxSize: z.boolean().describe('the increase asked for more than maxSize; maxSize was requested'),
  capacity: z.string().nullable().describe('status.capacity when the tool finished'),
  resizeState: z
    .enum(['done', 'file-system-resize-pending', 'in-progress', 'not-started'])
    .describe(
      'done: the capacity reached the request; file-system-resize-pending: the volume grew, its filesystem grows when a pod (re)mounts it; in-progress: still resizing when the tool stopped waiting; not-started: a dry run',
    ),
  fileSystemResizePending: z.boolean(),
  changed: z.boolean(),
  dryRun: dryRunFlag,
});
export type PvcExpandOutput = z.infer<typeof PvcExpandOutput>;

const FilesystemStats = z.object({
  capacityBytes: z.number(),
  usedBytes: z.number(),
  availableBytes: z.number(),
  usedPercent: z.number(),
  inodesUsedPercent: z.number().nullable(),
});

export const NodeDiskUsageOutput = z.object({
  node: z.string(),
  filesystem: FilesystemStats.describe('the kubelet’s root filesystem (logs, emptyDirs, writable layers)'),
  imageFilesystem: FilesystemStats.nullable().describe('the container runtime’s image filesystem'),
  podsEphemeralBytes: z.number().describe('ephemeral storage of all pods on the node, summed'),
  pods: z
    .array(
      z.object({
        namespace: z.string(),
        name: z.string(),
        ephemeralBytes: z.number(),
        owner: ObjectReference.nullable(),
      }),
    )
    .describe('the pods using the most ephemeral storage first, up to `limit`'),
});
export type NodeDiskUsageOutput = z.infer<typeof NodeDiskUsageOutput>;

// ----------------------------------------------------------------------------------- outputs: Jobs

export const FailedJobPod = z.object({
  name: z.string(),
  phase: z.string().nullable(),
  node: z.string().nullable(),
  reason: z
    .string()
    .nullable()
    .describe('the failed container’s termination reason: Error, OOMKilled, DeadlineExceeded…'),
  exitCode: z.number().nullable(),
  finishedAt: isoTimestamp,
  containers: z.array(ContainerStatusSummary),
  log: z
    .object({
      container: z.string(),
      previous: z.boolean(),
      text: z.string(),
      lines: z.number(),
      truncated: z.boolean(),
    })
    .nullable()
    .describe('the tail of the failed container’s log'),
  logError: z
    .string()
    .nullable()
    .describe('why the log could not be read (the node is gone, the log rotated…)'),
});
export type FailedJobPod = z.infer<typeof FailedJobPod>;

export const JobStatusOutput = z.object({
  namespace: z.string(),
  name: z.string(),
  cronJob: z.string().nullable().describe('the CronJob that created it'),
  failed: z.boolean().describe('its Failed condition is True'),
  complete: z.boolean(),
  failureReason: z.string().nullable().describe('BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy…'),
  failureMessage: z.string().nullable(),
  active: z.number(),
  succeeded: z.number(),
  failedPods: z.number().describe('pods that failed (status.failed)'),
  completions: z.number().nullable(),
  backoffLimit: z.number().nullable(),
  startTime: isoTimestamp,
  completionTime: isoTimestamp,
  durationSeconds: z.number().nullable(),
  failedPodsShown: z.array(FailedJobPod).describe('the newest failed pods, up to `maxPods`, with their logs'),
});
export type JobStatusOutput = z.infer<typeof JobStatusOutput>;

export const JobRerunOutput = z.object({
  namespace: z.string(),
  sourceKind: z.enum(['Job', 'CronJob']),
  source: z.string(),
  job: z.string().describe('the new Job’s name (generated)'),
  created: z
    .boolean()
    .describe(
      'a new Job was created: false in a dry run, and when a re-run existed already (it is returned instead)',
    ),
  dryRun: dryRunFlag,
});
export type JobRerunOutput = z.infer<typeof JobRerunOutput>;

export const DeleteJobOutput = z.object({
  namespace: z.string(),
  name: z.string(),
  cronJob: z.string().nullable().describe('the CronJob that created it'),
  failureReason: z.string().nullable().describe('why it failed: BackoffLimitExceeded, DeadlineExceeded…'),
  replacedBy: z.string().nullable().describe('the Job that did its work since (`replacedBy`), complete'),
  deleted: z.boolean().describe('false in a dry run and when it was already gone'),
  alreadyGone: z.boolean(),
  dryRun: dryRunFlag,
});
export type DeleteJobOutput = z.infer<typeof DeleteJobOutput>;

// ---------------------------------------------------------------------------------- outputs: drain

const DrainedPod = z.object({ namespace: z.string(), name: z.string(), owner: ObjectReference.nullable() });
const PodWithReason = z.object({ namespace: z.string(), name: z.string(), reason: z.string() });

export const DrainNodeOutput = z.object({
  node: z.string(),
  cordoned: z.boolean().describe('the node is unschedulable now'),
  wasUnschedulable: z.boolean(),
  evicted: z.array(DrainedPod).describe('pods evicted (in a dry run: that the API would evict)'),
  remaining: z.array(PodWithReason).describe('pods that could not be evicted before the deadline, and why'),
  skipped: z
    .array(PodWithReason)
    .describe('pods left alone: DaemonSet pods, mirror (static) pods, pods without a controller'),
  complete: z.boolean().describe('nothing remains to evict'),
  dryRun: dryRunFlag,
});
export type DrainNodeOutput = z.infer<typeof DrainNodeOutput>;

// ------------------------------------------------------------------------------ outputs: resources

export const PatchResourcesOutput = z.object({
  kind: WorkloadKind,
  name: z.string(),
  namespace: z.string(),
  container: z.string(),
  resource: z.enum(['cpu', 'memory']),
  previousLimit: z.string().nullable(),
  previousRequest: z.string().nullable(),
  limit: z.string().nullable(),
  request: z.string().nullable(),
  clampedToCeiling: z.boolean().describe('the increase asked for more than the ceiling; the ceiling was set'),
  changed: z.boolean(),
  dryRun: dryRunFlag,
});
export type PatchResourcesOutput = z.infer<typeof PatchResourcesOutput>;

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
    blastRadius: touchesOne('workload'),
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
    blastRadius: touchesWhatItReads('pod', '|replicas − the current replicas|, read first'),
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
    blastRadius: touchesOne('node'),
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
    blastRadius: touchesOne('node'),
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
    blastRadius: touchesOne('pod'),
    risk: 'medium',
    dryRun: 'posts the eviction with dryRun=All: PDBs are checked and nothing is evicted',
    onRepeat: { effect: 'no-op', how: 'a pod already evicted is gone (alreadyGone)' },
    permissions: { kubernetes: [{ apiGroup: '', resources: ['pods/eviction'], verbs: ['create'] }] },
  },
  {
    name: 'k8s.events',
    description:
      'Events of one object (core/v1, as kubectl describe reads them), the newest first, with Warning counts and the reasons tallied. Node and other cluster-scoped objects: leave out namespace.',
    parameters: z
      .object({
        kind: kindName,
        name: k8sName,
        namespace: k8sName
          .optional()
          .describe('the object’s namespace; leave out for a Node or PersistentVolume'),
        type: z.enum(['Normal', 'Warning']).optional(),
        reason: z
          .string()
          .regex(
            /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/,
            'must be an event reason such as BackOff or FailedScheduling',
          )
          .optional(),
        sinceMinutes: z
          .number()
          .int()
          .min(1)
          .max(10_080)
          .optional()
          .describe('only events seen this recently'),
        limit: z.number().int().min(1).max(200).default(20),
        cluster,
      })
      .strict(),
    output: EventsOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the events (read-only tools run for real in dry-run)',
    permissions: { kubernetes: [{ apiGroup: '', resources: ['events'], verbs: ['list'] }] },
  },
  {
    name: 'k8s.describe',
    description:
      'Describes an object like kubectl describe: metadata, the essentials of its spec and status, its conditions, what looks wrong, and its recent events. Secrets are not describable; a ConfigMap shows its key names only.',
    parameters: z
      .object({
        kind: z.enum(DESCRIBE_KINDS),
        name: k8sName,
        namespace: k8sName.optional().describe('required except for Node, PersistentVolume and Namespace'),
        eventLimit: z.number().int().min(0).max(50).default(10),
        cluster,
      })
      .strict()
      .superRefine((parameters, context) => {
        if (!CLUSTER_SCOPED_KINDS.has(parameters.kind) && parameters.namespace === undefined)
          context.addIssue({
            code: 'custom',
            path: ['namespace'],
            message: `a ${parameters.kind} is namespaced: give its namespace`,
          });
      }),
    output: DescribeOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the object (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        {
          apiGroup: '',
          resources: [
            'pods',
            'nodes',
            'persistentvolumeclaims',
            'persistentvolumes',
            'services',
            'resourcequotas',
            'namespaces',
            'configmaps',
          ],
          verbs: ['get'],
        },
        { apiGroup: '', resources: ['events'], verbs: ['list'] },
        {
          apiGroup: 'apps',
          resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
          verbs: ['get'],
        },
        { apiGroup: 'batch', resources: ['jobs', 'cronjobs'], verbs: ['get'] },
        { apiGroup: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: ['get'] },
        { apiGroup: 'policy', resources: ['poddisruptionbudgets'], verbs: ['get'] },
        { apiGroup: 'discovery.k8s.io', resources: ['endpointslices'], verbs: ['list'] },
      ],
    },
  },
  {
    name: 'k8s.pods',
    description:
      'Pods of a workload, a label selector or a namespace: readiness, waiting reasons (CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError…), last termination reasons, restarts, node, age, why the scheduler cannot place them and their latest Warning event; not-ready pods first.',
    parameters: z
      .object({
        namespace: k8sName,
        kind: z.enum(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']).optional(),
        name: k8sName.optional().describe('the workload (with kind)'),
        selector: z
          .string()
          .min(1)
          .max(1_000)
          .optional()
          .describe('a label selector, e.g. app=cart,tier in (web)'),
        limit: z.number().int().min(1).max(200).default(50),
        cluster,
      })
      .strict()
      .superRefine((parameters, context) => {
        if (parameters.kind !== undefined && parameters.name === undefined)
          context.addIssue({ code: 'custom', path: ['name'], message: 'kind needs the workload’s name' });
        if (parameters.name !== undefined && parameters.kind === undefined)
          context.addIssue({ code: 'custom', path: ['kind'], message: 'name needs the workload’s kind' });
        if (parameters.name !== undefined && parameters.selector !== undefined)
          context.addIssue({
            code: 'custom',
            path: ['selector'],
            message: 'give a workload (kind and name) or a selector, not both',
          });
      }),
    output: PodsOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the pods (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['pods', 'events'], verbs: ['list'] },
        {
          apiGroup: 'apps',
          resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
          verbs: ['get'],
        },
        { apiGroup: 'batch', resources: ['jobs'], verbs: ['get'] },
      ],
    },
  },
  {
    name: 'k8s.delete-pod',
    description:
      'Deletes one pod so that its controller replaces it (a pod stuck Pending or not ready). Refuses a pod without a controller (it would be lost), a static (mirror) pod and a Ready pod: deletion bypasses PodDisruptionBudgets, so a healthy pod is for k8s.evict-pod, which honours them. A pod that is not ready already counts as unhealthy for its budget.',
    parameters: z
      .object({
        namespace: k8sName,
        pod: k8sName,
        gracePeriodSeconds: z.number().int().min(0).max(3_600).optional(),
        cluster,
      })
      .strict(),
    output: DeletePodOutput,
    mutating: true,
    blastRadius: touchesOne('pod'),
    risk: 'medium',
    dryRun: 'sends the delete with dryRun=All: the API server checks it and deletes nothing',
    onRepeat: {
      effect: 'no-op',
      how: "the pod's uid is a precondition of the delete: a repeat finds the pod gone (its replacement has another name)",
    },
    permissions: { kubernetes: [{ apiGroup: '', resources: ['pods'], verbs: ['get', 'delete'] }] },
  },
  {
    name: 'k8s.rollout-history',
    description:
      'A Deployment’s, StatefulSet’s or DaemonSet’s revisions (ReplicaSets or ControllerRevisions) with their images and change causes, and what the last rollout changed: the evidence for rolling back (an image that cannot be pulled or crashes since the last release).',
    parameters: z
      .object({
        namespace: k8sName,
        kind: WorkloadKind.default('Deployment'),
        name: k8sName,
        limit: z.number().int().min(1).max(50).default(10),
        cluster,
      })
      .strict(),
    output: RolloutHistoryOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the history (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: 'apps', resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['get'] },
        { apiGroup: 'apps', resources: ['replicasets', 'controllerrevisions'], verbs: ['list'] },
      ],
    },
  },
  {
    name: 'k8s.rollout-undo',
    description:
      'Rolls a Deployment, StatefulSet or DaemonSet back to its previous revision, or to `toRevision`, like kubectl rollout undo: the pod template of that revision’s ReplicaSet (or ControllerRevision) replaces the current one, and the controller renumbers it as the newest revision. Refuses a paused Deployment.',
    parameters: z
      .object({
        namespace: k8sName,
        kind: WorkloadKind.default('Deployment'),
        name: k8sName,
        toRevision: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('default: the revision before the current one'),
        cluster,
      })
      .strict(),
    output: RolloutUndoOutput,
    mutating: true,
    blastRadius: touchesOne('workload'),
    risk: 'medium',
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    compensation: {
      tool: 'k8s.rollout-undo',
      parameters: {
        namespace: '{{ parameters.namespace }}',
        kind: '{{ parameters.kind }}',
        name: '{{ parameters.name }}',
        toRevision: '{{ output.fromRevision }}',
      },
      description: 'rolls forward again to the revision that was current',
      skipWhenOutput: 'alreadyAtTarget',
    },
    onRepeat: {
      effect: 'repeats',
      how: 'without toRevision it goes to the revision before the current one: after a rollback that is the bad revision again, as with kubectl rollout undo',
    },
    inspectWith: {
      tool: 'k8s.rollout-history',
      parameters: {
        namespace: '{{ parameters.namespace }}',
        kind: '{{ parameters.kind }}',
        name: '{{ parameters.name }}',
      },
    },
    permissions: {
      kubernetes: [
        {
          apiGroup: 'apps',
          resources: ['deployments', 'statefulsets', 'daemonsets'],
          verbs: ['get', 'patch'],
        },
        { apiGroup: 'apps', resources: ['replicasets', 'controllerrevisions'], verbs: ['list'] },
      ],
    },
  },
  {
    name: 'k8s.hpa-status',
    description:
      'A HorizontalPodAutoscaler (autoscaling/v2): min, max, current and desired replicas, each metric’s current value against its target, and its conditions (AbleToScale, ScalingActive, ScalingLimited).',
    parameters: z.object({ namespace: k8sName, name: k8sName, cluster }).strict(),
    output: HpaStatusOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the autoscaler (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [{ apiGroup: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: ['get'] }],
    },
  },
  {
    name: 'k8s.hpa-set-max-replicas',
    description:
      'Raises a HorizontalPodAutoscaler’s maxReplicas, within a ceiling: refuses a value above `ceiling` or below the current maximum. Returns the previous maximum.',
    parameters: z
      .object({
        namespace: k8sName,
        name: k8sName,
        maxReplicas: z.number().int().min(1).max(1_000),
        ceiling: z.number().int().min(1).max(1_000).describe('the highest maximum this step may set'),
        cluster,
      })
      .strict(),
    output: HpaMaxReplicasOutput,
    mutating: true,
    blastRadius: touchesOne('autoscaler'),
    risk: 'medium',
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    compensation: {
      tool: 'k8s.hpa-restore-max-replicas',
      parameters: {
        namespace: '{{ parameters.namespace }}',
        name: '{{ parameters.name }}',
        maxReplicas: '{{ output.previousMaxReplicas }}',
        expectedMaxReplicas: '{{ output.maxReplicas }}',
      },
      description: 'restores the previous maximum, unless someone changed it since',
    },
    onRepeat: { effect: 'no-op', how: 'sets an absolute maxReplicas' },
    permissions: {
      kubernetes: [
        { apiGroup: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: ['get', 'patch'] },
      ],
    },
  },
  {
    name: 'k8s.hpa-restore-max-replicas',
    description:
      'Sets a HorizontalPodAutoscaler’s maxReplicas back to an earlier value (the inverse of k8s.hpa-set-max-replicas). With `expectedMaxReplicas` it is refused when the maximum is no longer that value: someone changed it since.',
    parameters: z
      .object({
        namespace: k8sName,
        name: k8sName,
        maxReplicas: z.number().int().min(1).max(1_000),
        expectedMaxReplicas: z.number().int().min(1).max(1_000).optional(),
        cluster,
      })
      .strict(),
    output: HpaMaxReplicasOutput,
    mutating: true,
    blastRadius: touchesOne('autoscaler'),
    risk: 'medium',
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    onRepeat: { effect: 'no-op', how: 'sets an absolute maxReplicas' },
    permissions: {
      kubernetes: [
        { apiGroup: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: ['get', 'patch'] },
      ],
    },
  },
  {
    name: 'k8s.pvc-usage',
    description:
      'A PersistentVolumeClaim’s capacity and use: bytes used and available from the kubelet’s stats summary of the node that mounts it (through the API server’s node proxy, which needs get on nodes/proxy: without it usage is null and says why), its StorageClass and whether it allows expansion, resize conditions, and the pods that mount it.',
    parameters: z.object({ namespace: k8sName, name: k8sName, cluster }).strict(),
    output: PvcUsageOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the claim (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['persistentvolumeclaims', 'nodes/proxy'], verbs: ['get'] },
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
        { apiGroup: 'storage.k8s.io', resources: ['storageclasses'], verbs: ['get'] },
      ],
    },
  },
  {
    name: 'k8s.pvc-expand',
    description:
      'Expands a PersistentVolumeClaim (spec.resources.requests.storage) to `size` (2Gi, or +50% of the current request), never above `maxSize` (an increase is cut to it; an absolute size above it is refused). Refused when the claim’s StorageClass does not allow volume expansion. Cannot be undone: volumes do not shrink. Waits up to `waitSeconds` for the resize and reports whether the filesystem resize is pending.',
    parameters: z
      .object({
        namespace: k8sName,
        name: k8sName,
        size: quantityOrIncrease,
        maxSize: quantity.describe('the largest size this step may request'),
        waitSeconds: z.number().int().min(0).max(300).default(20),
        cluster,
      })
      .strict(),
    output: PvcExpandOutput,
    mutating: true,
    blastRadius: touchesOne('volume'),
    risk: 'high',
    dryRun:
      'sends the patch with dryRun=All: the API server and its admission (StorageClass expansion) check it and persist nothing',
    onRepeat: {
      effect: 'repeats',
      how: 'an increase such as +50% is of the current request: a second run grows the claim again (an absolute size does not)',
    },
    inspectWith: {
      tool: 'k8s.pvc-usage',
      parameters: { namespace: '{{ parameters.namespace }}', name: '{{ parameters.name }}' },
    },
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['persistentvolumeclaims'], verbs: ['get', 'patch'] },
        { apiGroup: 'storage.k8s.io', resources: ['storageclasses'], verbs: ['get'] },
      ],
    },
  },
  {
    name: 'k8s.node-disk-usage',
    description:
      'A node’s filesystems (the kubelet’s root and the image filesystem) and the pods using the most ephemeral storage, from the kubelet’s stats summary through the API server’s node proxy (get nodes/proxy).',
    parameters: z
      .object({ node: k8sName, limit: z.number().int().min(1).max(100).default(10), cluster })
      .strict(),
    output: NodeDiskUsageOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the stats (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['nodes/proxy'], verbs: ['get'] },
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
      ],
    },
  },
  {
    name: 'k8s.job-status',
    description:
      'A Job’s state (active, succeeded, failed, its Failed condition’s reason) and its newest failed pods with their termination reasons and the tail of the failed container’s log.',
    parameters: z
      .object({
        namespace: k8sName,
        name: k8sName,
        maxPods: z.number().int().min(1).max(10).default(3),
        tailLines: z.number().int().min(1).max(500).default(50),
        cluster,
      })
      .strict(),
    output: JobStatusOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the Job (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: 'batch', resources: ['jobs'], verbs: ['get'] },
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
        { apiGroup: '', resources: ['pods/log'], verbs: ['get'] },
      ],
    },
  },
  {
    name: 'k8s.job-rerun',
    description:
      'Runs a failed Job again as a new Job: a copy of its spec without the generated selector and controller-uid labels (kind Job), or from a CronJob’s job template as kubectl create job --from=cronjob does. The new Job is named after the source with a generated suffix and labelled runbook-autopilot.io/rerun-of; a step run again finds the re-run it made instead of making another. Refuses a Job that has not failed. No inverse: deleting a re-run midway could leave its work half done.',
    parameters: z
      .object({
        namespace: k8sName,
        kind: z.enum(['Job', 'CronJob']).default('Job'),
        name: k8sName,
        cluster,
      })
      .strict(),
    output: JobRerunOutput,
    mutating: true,
    blastRadius: touchesOne('job'),
    risk: 'medium',
    dryRun: 'creates the Job with dryRun=All: the API server validates it and persists nothing',
    onRepeat: { effect: 'no-op', how: 'a repeat finds the re-run this execution and step already created' },
    permissions: {
      kubernetes: [
        { apiGroup: 'batch', resources: ['jobs'], verbs: ['get', 'list', 'create'] },
        { apiGroup: 'batch', resources: ['cronjobs'], verbs: ['get'] },
      ],
    },
  },
  {
    name: 'k8s.delete-job',
    description:
      'Deletes a failed Job with its pods (propagationPolicy Background), what clears KubeJobFailed once it has been looked into (k8s.job-status keeps its pods’ logs in the execution). Refuses a Job that has not failed; with `replacedBy`, refuses unless that Job (a re-run) completed. Cannot be undone: runbooks put it behind an approval.',
    parameters: z
      .object({
        namespace: k8sName,
        name: k8sName,
        replacedBy: k8sName
          .optional()
          .describe('a Job that did the failed one’s work: it must have completed'),
        cluster,
      })
      .strict(),
    output: DeleteJobOutput,
    mutating: true,
    blastRadius: touchesOne('job'),
    risk: 'medium',
    dryRun: 'sends the delete with dryRun=All: the API server checks it and deletes nothing',
    onRepeat: {
      effect: 'no-op',
      how: "the Job's uid is a precondition of the delete: a repeat finds it gone (alreadyGone)",
    },
    permissions: { kubernetes: [{ apiGroup: 'batch', resources: ['jobs'], verbs: ['get', 'delete'] }] },
  },
  {
    name: 'k8s.drain-node',
    description:
      'Drains a node like kubectl drain --ignore-daemonsets --delete-emptydir-data: cordons it, then evicts its pods through the Eviction API, so PodDisruptionBudgets are respected (a refusal is retried until the step’s deadline, then reported per pod). DaemonSet pods, mirror (static) pods and pods without a controller are skipped. Refuses a node with more than `maxPods` pods to evict, before changing anything.',
    parameters: z
      .object({
        node: k8sName,
        maxPods: z.number().int().min(1).max(500).default(50),
        gracePeriodSeconds: z.number().int().min(0).max(3_600).optional(),
        cluster,
      })
      .strict(),
    output: DrainNodeOutput,
    mutating: true,
    blastRadius: touchesWhatItReads(
      'pod',
      'the pods the drain would evict from the node (DaemonSet, mirror and unowned pods stay), read first',
    ),
    risk: 'high',
    dryRun: 'cordons and evicts with dryRun=All: PodDisruptionBudgets are checked and nothing changes',
    compensation: {
      tool: 'k8s.uncordon',
      parameters: { node: '{{ parameters.node }}' },
      description:
        'makes the node schedulable again (unless it was cordoned before the runbook); evicted pods stay where their controllers placed them',
      skipWhenOutput: 'wasUnschedulable',
    },
    onRepeat: { effect: 'no-op', how: 'a cordoned node stays cordoned; evicted pods are gone' },
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['nodes'], verbs: ['get', 'patch'] },
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
        { apiGroup: '', resources: ['pods/eviction'], verbs: ['create'] },
      ],
    },
  },
  {
    name: 'k8s.patch-resources',
    description:
      'Raises one container’s CPU or memory limit and/or request in a Deployment, StatefulSet or DaemonSet (a rolling update follows): `value` is a quantity or an increase such as +50%; the new value may not exceed the old one times `maxFactor` nor `ceiling` (an increase is cut to the ceiling; an absolute value above either is refused), and never lowers it. Returns the previous values.',
    parameters: z
      .object({
        namespace: k8sName,
        kind: WorkloadKind.default('Deployment'),
        name: k8sName,
        container: z
          .string()
          .min(1)
          .max(63)
          .optional()
          .describe('default: the pod template’s only container'),
        resource: z.enum(['cpu', 'memory']),
        field: z.enum(['limits', 'requests', 'both']).default('limits'),
        value: quantityOrIncrease,
        maxFactor: z.number().min(1).max(10).default(2),
        ceiling: quantity.describe('the highest value this step may set (cores for cpu, bytes for memory)'),
        cluster,
      })
      .strict(),
    output: PatchResourcesOutput,
    mutating: true,
    blastRadius: touchesOne('workload'),
    risk: 'medium',
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    compensation: {
      tool: 'k8s.restore-resources',
      parameters: {
        namespace: '{{ parameters.namespace }}',
        kind: '{{ parameters.kind }}',
        name: '{{ parameters.name }}',
        container: '{{ output.container }}',
        resource: '{{ parameters.resource }}',
        limit: '{{ output.previousLimit }}',
        request: '{{ output.previousRequest }}',
        expectedLimit: '{{ output.limit }}',
        expectedRequest: '{{ output.request }}',
      },
      description:
        'sets the container’s limit and request back to what they were, unless someone changed them since',
    },
    onRepeat: {
      effect: 'repeats',
      how: 'an increase such as +50% is of the current value: a second run raises it again (up to the ceiling)',
    },
    inspectWith: {
      tool: 'k8s.describe',
      parameters: {
        kind: '{{ parameters.kind }}',
        namespace: '{{ parameters.namespace }}',
        name: '{{ parameters.name }}',
      },
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
    name: 'k8s.restore-resources',
    description:
      'Sets one container’s CPU or memory limit and request to given values (null removes one): the inverse of k8s.patch-resources. With `expectedLimit`/`expectedRequest` it is refused when the current values are no longer those: someone changed them since.',
    parameters: z
      .object({
        namespace: k8sName,
        kind: WorkloadKind.default('Deployment'),
        name: k8sName,
        container: z.string().min(1).max(63),
        resource: z.enum(['cpu', 'memory']),
        limit: quantity.nullable(),
        request: quantity.nullable(),
        expectedLimit: quantity.nullable().optional().describe('what the limit should be now (null: unset)'),
        expectedRequest: quantity
          .nullable()
          .optional()
          .describe('what the request should be now (null: unset)'),
        cluster,
      })
      .strict(),
    output: PatchResourcesOutput,
    mutating: true,
    blastRadius: touchesOne('workload'),
    risk: 'medium',
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    onRepeat: { effect: 'no-op', how: 'sets the previous values, absolute' },
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
] as const satisfies ReadonlyArray<ToolDeclaration>;

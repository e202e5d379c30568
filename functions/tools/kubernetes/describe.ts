import type {
  V1ConfigMap,
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1EndpointSlice,
  V1Job,
  V1Namespace,
  V1Node,
  V1ObjectMeta,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodDisruptionBudget,
  V1ReplicaSet,
  V1ResourceQuota,
  V1Service,
  V1StatefulSet,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { Condition, DescribeKind, DescribeOutput } from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool } from '../tool.ts';
import { hpaMetrics } from './autoscaling.ts';
import { eventSummary, listEvents, newestFirst } from './events.ts';
import {
  conditionsOf,
  containerSpecsOf,
  containerStatusesOf,
  isoOf,
  isPodReady,
  labelSelectorString,
  minutesSince,
  ownerReferenceOf,
  restartsOf,
} from './objects.ts';
import { parseQuantity } from './quantity.ts';
import { instanceIdOfProviderId } from './resolve.ts';
import type { KubernetesSession, KubernetesToolDeps } from './session.ts';
import { openSession } from './session.ts';

/** k8s.describe: what kubectl describe shows, as typed sections runbooks and findings can read. */

/** Annotation values are cut to this length (a JSON blob helps nobody in a finding). */
const MAX_ANNOTATION = 500;
/** Quotas used to this share or more are a problem worth naming. */
const QUOTA_WARNING = 0.9;

/** Conditions whose True status is a problem (the rest are good when True). */
const BAD_WHEN_TRUE = new Set([
  'MemoryPressure',
  'DiskPressure',
  'PIDPressure',
  'NetworkUnavailable',
  'ReplicaFailure',
  'Failed',
  'FailureTarget',
  'ScalingLimited',
  'FileSystemResizePending',
  'Resizing',
  'Suspended',
]);
/** Conditions that say nothing wrong whatever their status. */
const NEUTRAL = new Set(['Complete', 'SuccessCriteriaMet', 'DisruptionAllowed']);

type Described = Omit<DescribeOutput, 'events' | 'warningEvents'>;

interface Readable {
  metadata?: V1ObjectMeta;
}

function annotationsOf(meta: V1ObjectMeta | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(meta?.annotations ?? {})
      .filter(([key]) => key !== 'kubectl.kubernetes.io/last-applied-configuration')
      .map(([key, value]) => [
        key,
        value.length > MAX_ANNOTATION ? `${value.slice(0, MAX_ANNOTATION)}…` : value,
      ]),
  );
}

function conditionProblems(conditions: readonly Condition[]): string[] {
  return conditions.flatMap((condition) => {
    if (NEUTRAL.has(condition.type) || condition.status === 'Unknown') {
      return condition.status === 'Unknown'
        ? [`condition ${condition.type} is Unknown${condition.reason ? `: ${condition.reason}` : ''}`]
        : [];
    }
    const bad = BAD_WHEN_TRUE.has(condition.type)
      ? condition.status === 'True'
      : condition.status === 'False';
    if (!bad) return [];
    const why = [condition.reason, condition.message].filter(Boolean).join(': ');
    return [`condition ${condition.type} is ${condition.status}${why ? ` (${why})` : ''}`];
  });
}

function podProblems(pod: V1Pod): string[] {
  const problems: string[] = [];
  // The kubelet's own verdict on a finished pod: Evicted, NodeLost, Shutdown, NodeAffinity…
  if (pod.status?.reason)
    problems.push(
      `it is ${pod.status.phase ?? 'in no phase'}: ${pod.status.reason}${pod.status.message ? ` (${pod.status.message})` : ''}`,
    );
  const scheduled = pod.status?.conditions?.find((condition) => condition.type === 'PodScheduled');
  if (scheduled?.status === 'False')
    problems.push(`not scheduled: ${scheduled.message ?? scheduled.reason ?? 'unknown'}`);
  for (const container of containerStatusesOf(pod)) {
    if (container.state === 'waiting' && container.reason)
      problems.push(
        `container ${container.name} is waiting: ${container.reason}${container.message ? ` (${container.message})` : ''}`,
      );
    if (container.state === 'terminated' && container.exitCode !== 0)
      problems.push(
        `container ${container.name} exited ${container.exitCode} (${container.reason ?? 'unknown'})`,
      );
    if (container.restarts > 0)
      problems.push(
        `container ${container.name} restarted ${container.restarts} time(s)${container.lastTerminationReason ? `, last ended ${container.lastTerminationReason}${container.lastExitCode !== null ? ` (exit ${container.lastExitCode})` : ''}` : ''}`,
      );
  }
  if (pod.metadata?.deletionTimestamp) problems.push('it is being deleted (Terminating)');
  return problems;
}

function replicaProblems(replicas: { desired: number; ready: number; updated: number }): string[] {
  const problems: string[] = [];
  if (replicas.ready < replicas.desired)
    problems.push(`${replicas.ready} of ${replicas.desired} replicas ready`);
  if (replicas.updated < replicas.desired)
    problems.push(`${replicas.updated} of ${replicas.desired} replicas run the current revision`);
  return problems;
}

function percentOf(part: number, whole: number): number | null {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : null;
}

function safeQuantity(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseQuantity(value);
  } catch {
    return undefined;
  }
}

/** Reads one object of a kind; the target names what RBAC must allow when it fails. */
async function readObject(
  session: KubernetesSession,
  kind: DescribeKind,
  namespace: string,
  name: string,
): Promise<Readable> {
  const { core, apps, batch, autoscaling, policy } = session;
  const ns = { namespace, name };
  const get = <T>(resource: string, group: string, call: Parameters<KubernetesSession['request']>[1]) =>
    session.request(
      { verb: 'get', resource, ...(group ? { group } : {}), ...(namespace ? { namespace } : {}), name },
      call,
    ) as Promise<T>;
  switch (kind) {
    case 'Pod':
      return get<V1Pod>('pods', '', (options) => core.readNamespacedPod(ns, options));
    case 'Deployment':
      return get<V1Deployment>('deployments', 'apps', (options) =>
        apps.readNamespacedDeployment(ns, options),
      );
    case 'StatefulSet':
      return get<V1StatefulSet>('statefulsets', 'apps', (options) =>
        apps.readNamespacedStatefulSet(ns, options),
      );
    case 'DaemonSet':
      return get<V1DaemonSet>('daemonsets', 'apps', (options) => apps.readNamespacedDaemonSet(ns, options));
    case 'ReplicaSet':
      return get<V1ReplicaSet>('replicasets', 'apps', (options) =>
        apps.readNamespacedReplicaSet(ns, options),
      );
    case 'Job':
      return get<V1Job>('jobs', 'batch', (options) => batch.readNamespacedJob(ns, options));
    case 'CronJob':
      return get<V1CronJob>('cronjobs', 'batch', (options) => batch.readNamespacedCronJob(ns, options));
    case 'Node':
      return get<V1Node>('nodes', '', (options) => core.readNode({ name }, options));
    case 'PersistentVolumeClaim':
      return get<V1PersistentVolumeClaim>('persistentvolumeclaims', '', (options) =>
        core.readNamespacedPersistentVolumeClaim(ns, options),
      );
    case 'PersistentVolume':
      return get<V1PersistentVolume>('persistentvolumes', '', (options) =>
        core.readPersistentVolume({ name }, options),
      );
    case 'HorizontalPodAutoscaler':
      return get<V2HorizontalPodAutoscaler>('horizontalpodautoscalers', 'autoscaling', (options) =>
        autoscaling.readNamespacedHorizontalPodAutoscaler(ns, options),
      );
    case 'Service':
      return get<V1Service>('services', '', (options) => core.readNamespacedService(ns, options));
    case 'PodDisruptionBudget':
      return get<V1PodDisruptionBudget>('poddisruptionbudgets', 'policy', (options) =>
        policy.readNamespacedPodDisruptionBudget(ns, options),
      );
    case 'ResourceQuota':
      return get<V1ResourceQuota>('resourcequotas', '', (options) =>
        core.readNamespacedResourceQuota(ns, options),
      );
    case 'Namespace':
      return get<V1Namespace>('namespaces', '', (options) => core.readNamespace({ name }, options));
    case 'ConfigMap':
      return get<V1ConfigMap>('configmaps', '', (options) => core.readNamespacedConfigMap(ns, options));
  }
}

/** The kind-specific sections and problems of an object. */
async function sectionsOf(
  session: KubernetesSession,
  kind: DescribeKind,
  object: Readable,
): Promise<Partial<Described> & { problems: string[]; conditions: Condition[] }> {
  switch (kind) {
    case 'Pod': {
      const pod = object as V1Pod;
      const containers = containerStatusesOf(pod);
      return {
        conditions: conditionsOf(pod.status?.conditions),
        problems: podProblems(pod),
        containers: containerSpecsOf(pod.spec?.containers),
        pod: {
          phase: pod.status?.phase ?? null,
          reason: pod.status?.reason ?? null,
          message: pod.status?.message ?? null,
          node: pod.spec?.nodeName ?? null,
          podIP: pod.status?.podIP ?? null,
          hostIP: pod.status?.hostIP ?? null,
          qosClass: pod.status?.qosClass ?? null,
          ready: isPodReady(pod),
          restarts: restartsOf(pod),
          startTime: isoOf(pod.status?.startTime),
          containers,
          volumes: (pod.spec?.volumes ?? []).map((volume) => ({
            name: volume.name,
            type:
              Object.keys(volume).find(
                (key) => key !== 'name' && (volume as unknown as Record<string, unknown>)[key] !== undefined,
              ) ?? 'unknown',
            claim: volume.persistentVolumeClaim?.claimName ?? null,
          })),
        },
      };
    }
    case 'Deployment': {
      const deployment = object as V1Deployment;
      const status = deployment.status ?? {};
      const desired = deployment.spec?.replicas ?? 1;
      const replicas = {
        desired,
        current: status.replicas ?? 0,
        ready: status.readyReplicas ?? 0,
        available: status.availableReplicas ?? 0,
        updated: status.updatedReplicas ?? 0,
        unavailable: status.unavailableReplicas ?? Math.max(0, desired - (status.availableReplicas ?? 0)),
      };
      const conditions = conditionsOf(status.conditions);
      const revision = Number(deployment.metadata?.annotations?.['deployment.kubernetes.io/revision']);
      return {
        conditions,
        problems: [
          ...conditionProblems(conditions),
          ...replicaProblems(replicas),
          ...(deployment.spec?.paused ? ['the rollout is paused'] : []),
        ],
        replicas,
        rollout: {
          strategy: deployment.spec?.strategy?.type ?? null,
          revision: Number.isFinite(revision) ? revision : null,
          paused: deployment.spec?.paused === true,
          currentRevision: null,
          updateRevision: null,
          progressDeadlineSeconds: deployment.spec?.progressDeadlineSeconds ?? null,
        },
        selector: labelSelectorString(deployment.spec?.selector),
        containers: containerSpecsOf(deployment.spec?.template.spec?.containers),
      };
    }
    case 'StatefulSet': {
      const statefulSet = object as V1StatefulSet;
      const status = statefulSet.status;
      const desired = statefulSet.spec?.replicas ?? 1;
      const ready = status?.readyReplicas ?? 0;
      const replicas = {
        desired,
        current: status?.replicas ?? 0,
        ready,
        available: status?.availableReplicas ?? ready,
        updated: status?.updatedReplicas ?? 0,
        unavailable: Math.max(0, desired - (status?.availableReplicas ?? ready)),
      };
      const conditions = conditionsOf(status?.conditions);
      return {
        conditions,
        problems: [...conditionProblems(conditions), ...replicaProblems(replicas)],
        replicas,
        rollout: {
          strategy: statefulSet.spec?.updateStrategy?.type ?? null,
          revision: null,
          paused: false,
          currentRevision: status?.currentRevision ?? null,
          updateRevision: status?.updateRevision ?? null,
          progressDeadlineSeconds: null,
        },
        selector: labelSelectorString(statefulSet.spec?.selector),
        containers: containerSpecsOf(statefulSet.spec?.template.spec?.containers),
      };
    }
    case 'DaemonSet': {
      const daemonSet = object as V1DaemonSet;
      const status = daemonSet.status;
      const desired = status?.desiredNumberScheduled ?? 0;
      const replicas = {
        desired,
        current: status?.currentNumberScheduled ?? 0,
        ready: status?.numberReady ?? 0,
        available: status?.numberAvailable ?? 0,
        updated: status?.updatedNumberScheduled ?? 0,
        unavailable: status?.numberUnavailable ?? Math.max(0, desired - (status?.numberAvailable ?? 0)),
      };
      const conditions = conditionsOf(status?.conditions);
      return {
        conditions,
        problems: [
          ...conditionProblems(conditions),
          ...replicaProblems(replicas),
          ...((status?.numberMisscheduled ?? 0) > 0
            ? [`${status?.numberMisscheduled} pod(s) on nodes they should not run on`]
            : []),
        ],
        replicas,
        rollout: {
          strategy: daemonSet.spec?.updateStrategy?.type ?? null,
          revision: null,
          paused: false,
          currentRevision: null,
          updateRevision: null,
          progressDeadlineSeconds: null,
        },
        selector: labelSelectorString(daemonSet.spec?.selector),
        containers: containerSpecsOf(daemonSet.spec?.template.spec?.containers),
      };
    }
    case 'ReplicaSet': {
      const replicaSet = object as V1ReplicaSet;
      const status = replicaSet.status;
      const desired = replicaSet.spec?.replicas ?? 1;
      const replicas = {
        desired,
        current: status?.replicas ?? 0,
        ready: status?.readyReplicas ?? 0,
        available: status?.availableReplicas ?? 0,
        updated: status?.replicas ?? 0,
        unavailable: Math.max(0, desired - (status?.availableReplicas ?? 0)),
      };
      const conditions = conditionsOf(status?.conditions);
      return {
        conditions,
        problems: [
          ...conditionProblems(conditions),
          ...(replicas.ready < desired ? [`${replicas.ready} of ${desired} replicas ready`] : []),
        ],
        replicas,
        selector: labelSelectorString(replicaSet.spec?.selector),
        containers: containerSpecsOf(replicaSet.spec?.template?.spec?.containers),
      };
    }
    case 'Job': {
      const job = object as V1Job;
      const status = job.status;
      const conditions = conditionsOf(status?.conditions);
      return {
        conditions,
        problems: conditionProblems(conditions),
        selector: labelSelectorString(job.spec?.selector),
        containers: containerSpecsOf(job.spec?.template.spec?.containers),
        job: {
          completions: job.spec?.completions ?? null,
          parallelism: job.spec?.parallelism ?? null,
          backoffLimit: job.spec?.backoffLimit ?? null,
          active: status?.active ?? 0,
          succeeded: status?.succeeded ?? 0,
          failed: status?.failed ?? 0,
          startTime: isoOf(status?.startTime),
          completionTime: isoOf(status?.completionTime),
        },
      };
    }
    case 'CronJob': {
      const cronJob = object as V1CronJob;
      return {
        conditions: [],
        problems: cronJob.spec?.suspend ? ['it is suspended: no Job will be scheduled'] : [],
        containers: containerSpecsOf(cronJob.spec?.jobTemplate.spec?.template.spec?.containers),
        cronJob: {
          schedule: cronJob.spec?.schedule ?? '',
          suspend: cronJob.spec?.suspend === true,
          concurrencyPolicy: cronJob.spec?.concurrencyPolicy ?? null,
          lastScheduleTime: isoOf(cronJob.status?.lastScheduleTime),
          lastSuccessfulTime: isoOf(cronJob.status?.lastSuccessfulTime),
          activeJobs: (cronJob.status?.active ?? []).map((job) => job.name ?? '').filter(Boolean),
        },
      };
    }
    case 'Node': {
      const node = object as V1Node;
      const conditions = conditionsOf(node.status?.conditions);
      const address = (type: string) =>
        node.status?.addresses?.find((entry) => entry.type === type)?.address ?? null;
      const amounts = (resources: Record<string, string> | undefined) => ({
        cpu: resources?.cpu ?? null,
        memory: resources?.memory ?? null,
        pods: resources?.pods ?? null,
        ephemeralStorage: resources?.['ephemeral-storage'] ?? null,
      });
      const labels = node.metadata?.labels ?? {};
      return {
        conditions,
        problems: [
          ...conditionProblems(conditions),
          ...(node.spec?.unschedulable ? ['it is cordoned (unschedulable)'] : []),
        ],
        node: {
          ready: conditions.some((condition) => condition.type === 'Ready' && condition.status === 'True'),
          unschedulable: node.spec?.unschedulable === true,
          taints: (node.spec?.taints ?? []).map(
            (taint) => `${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`,
          ),
          internalIP: address('InternalIP'),
          hostname: address('Hostname'),
          providerId: node.spec?.providerID ?? null,
          instanceId: instanceIdOfProviderId(node.spec?.providerID) ?? null,
          instanceType:
            labels['node.kubernetes.io/instance-type'] ?? labels['beta.kubernetes.io/instance-type'] ?? null,
          zone: labels['topology.kubernetes.io/zone'] ?? null,
          kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? null,
          capacity: amounts(node.status?.capacity),
          allocatable: amounts(node.status?.allocatable),
        },
      };
    }
    case 'PersistentVolumeClaim': {
      const claim = object as V1PersistentVolumeClaim;
      const conditions = conditionsOf(claim.status?.conditions);
      const phase = claim.status?.phase ?? null;
      return {
        conditions,
        problems: [
          ...conditionProblems(conditions),
          ...(phase !== 'Bound' ? [`it is ${phase ?? 'in no phase'}, not Bound`] : []),
        ],
        claim: {
          phase,
          storageClass: claim.spec?.storageClassName ?? null,
          requested: claim.spec?.resources?.requests?.storage ?? null,
          capacity: claim.status?.capacity?.storage ?? null,
          accessModes: claim.spec?.accessModes ?? [],
          volumeName: claim.spec?.volumeName ?? null,
          resizePending: conditions.some(
            (condition) =>
              (condition.type === 'FileSystemResizePending' || condition.type === 'Resizing') &&
              condition.status === 'True',
          ),
        },
      };
    }
    case 'PersistentVolume': {
      const volume = object as V1PersistentVolume;
      const phase = volume.status?.phase ?? null;
      const claim = volume.spec?.claimRef;
      return {
        conditions: [],
        problems:
          phase === 'Failed' || phase === 'Released'
            ? [`it is ${phase}${volume.status?.message ? `: ${volume.status.message}` : ''}`]
            : [],
        volume: {
          phase,
          capacity: volume.spec?.capacity?.storage ?? null,
          storageClass: volume.spec?.storageClassName ?? null,
          claim: claim?.name ? `${claim.namespace ?? ''}/${claim.name}` : null,
          reclaimPolicy: volume.spec?.persistentVolumeReclaimPolicy ?? null,
          driver: volume.spec?.csi?.driver ?? null,
          volumeHandle: volume.spec?.csi?.volumeHandle ?? null,
        },
      };
    }
    case 'HorizontalPodAutoscaler': {
      const hpa = object as V2HorizontalPodAutoscaler;
      const conditions = conditionsOf(hpa.status?.conditions);
      const current = hpa.status?.currentReplicas ?? 0;
      const max = hpa.spec?.maxReplicas ?? 0;
      return {
        conditions,
        problems: [
          ...conditionProblems(conditions),
          ...(current >= max ? [`it runs at its maximum of ${max} replicas`] : []),
        ],
        autoscaler: {
          target: { kind: hpa.spec?.scaleTargetRef.kind ?? '', name: hpa.spec?.scaleTargetRef.name ?? '' },
          minReplicas: hpa.spec?.minReplicas ?? 1,
          maxReplicas: max,
          currentReplicas: current,
          desiredReplicas: hpa.status?.desiredReplicas ?? 0,
          metrics: hpaMetrics(hpa).map(
            (metric) =>
              `${metric.name}: ${metric.current ?? 'unknown'} / ${metric.target} ${metric.targetType.toLowerCase()}`,
          ),
        },
      };
    }
    case 'Service': {
      const service = object as V1Service;
      const namespace = service.metadata?.namespace ?? '';
      const name = service.metadata?.name ?? '';
      let ready = 0;
      let notReady = 0;
      if (service.spec?.selector) {
        const slices = await session.request(
          { verb: 'list', resource: 'endpointslices', group: 'discovery.k8s.io', namespace },
          (options) =>
            session.discovery.listNamespacedEndpointSlice(
              { namespace, labelSelector: `kubernetes.io/service-name=${name}` },
              options,
            ),
        );
        for (const slice of slices.items as V1EndpointSlice[])
          for (const endpoint of slice.endpoints ?? []) {
            if (endpoint.conditions?.ready === false) notReady += 1;
            else ready += 1;
          }
      }
      return {
        conditions: [],
        problems:
          service.spec?.selector && ready === 0 ? ['no ready endpoint: no pod behind it is ready'] : [],
        selector: Object.entries(service.spec?.selector ?? {})
          .map(([key, value]) => `${key}=${value}`)
          .join(','),
        service: {
          type: service.spec?.type ?? null,
          clusterIP: service.spec?.clusterIP ?? null,
          ports: (service.spec?.ports ?? []).map(
            (port) =>
              `${port.name ? `${port.name} ` : ''}${port.port}/${port.protocol ?? 'TCP'} → ${port.targetPort ?? port.port}`,
          ),
          selector: { ...service.spec?.selector },
          readyEndpoints: ready,
          notReadyEndpoints: notReady,
        },
      };
    }
    case 'PodDisruptionBudget': {
      const budget = object as V1PodDisruptionBudget;
      const status = budget.status;
      const conditions = conditionsOf(status?.conditions);
      const allowed = status?.disruptionsAllowed ?? 0;
      return {
        conditions,
        problems:
          allowed === 0
            ? [
                `it allows no disruption: ${status?.currentHealthy ?? 0} healthy of ${status?.expectedPods ?? 0}, ${status?.desiredHealthy ?? 0} needed (evictions and drains of its pods are refused)`,
              ]
            : [],
        selector: labelSelectorString(budget.spec?.selector),
        budget: {
          minAvailable: budget.spec?.minAvailable === undefined ? null : String(budget.spec.minAvailable),
          maxUnavailable:
            budget.spec?.maxUnavailable === undefined ? null : String(budget.spec.maxUnavailable),
          currentHealthy: status?.currentHealthy ?? 0,
          desiredHealthy: status?.desiredHealthy ?? 0,
          disruptionsAllowed: allowed,
          expectedPods: status?.expectedPods ?? 0,
        },
      };
    }
    case 'ResourceQuota': {
      const quota = object as V1ResourceQuota;
      const hard = quota.status?.hard ?? quota.spec?.hard ?? {};
      const used = quota.status?.used ?? {};
      const entries = Object.keys(hard)
        .sort()
        .map((resource) => {
          const limit = safeQuantity(hard[resource]);
          const value = safeQuantity(used[resource]);
          return {
            resource,
            hard: hard[resource] ?? '',
            used: used[resource] ?? '0',
            usedPercent: limit !== undefined && value !== undefined ? percentOf(value, limit) : null,
          };
        });
      return {
        conditions: [],
        problems: entries
          .filter((entry) => entry.usedPercent !== null && entry.usedPercent >= QUOTA_WARNING * 100)
          .map(
            (entry) =>
              `${entry.resource} at ${entry.usedPercent}% of its quota (${entry.used} of ${entry.hard})`,
          ),
        quota: entries,
      };
    }
    case 'Namespace': {
      const namespace = object as V1Namespace;
      const conditions = conditionsOf(namespace.status?.conditions);
      const phase = namespace.status?.phase ?? 'Active';
      return {
        conditions,
        problems: [
          ...conditionProblems(conditions),
          ...(phase === 'Terminating' ? ['it is being deleted (Terminating)'] : []),
        ],
        namespacePhase: phase,
      };
    }
    case 'ConfigMap': {
      const configMap = object as V1ConfigMap;
      return {
        conditions: [],
        problems: [],
        configMap: {
          keys: Object.keys(configMap.data ?? {}).sort(),
          binaryKeys: Object.keys(configMap.binaryData ?? {}).sort(),
        },
      };
    }
  }
}

export function describeTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const describe = defineTool(declarationOf('k8s.describe'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.describe', parameters.cluster, context);
    const { kind, name, eventLimit } = parameters;
    const namespace = parameters.namespace ?? '';
    const object = await readObject(session, kind, namespace, name);
    const sections = await sectionsOf(session, kind, object);
    const meta = object.metadata;
    const events =
      eventLimit === 0
        ? []
        : (
            await listEvents(session, {
              kind,
              name,
              ...(meta?.namespace ? { namespace: meta.namespace } : {}),
            })
          ).events
            .map(eventSummary)
            .sort(newestFirst);
    const output: DescribeOutput = {
      kind,
      name: meta?.name ?? name,
      namespace: meta?.namespace ?? null,
      uid: meta?.uid ?? '',
      createdAt: isoOf(meta?.creationTimestamp),
      ageMinutes: minutesSince(meta?.creationTimestamp, deps.runtime.clock.now()),
      labels: { ...meta?.labels },
      annotations: annotationsOf(meta),
      owner: ownerReferenceOf(meta),
      ...sections,
      events: events.slice(0, eventLimit),
      warningEvents: events.filter((event) => event.type === 'Warning').length,
    };
    return output;
  });
  return [describe];
}

export type { DescribeOutput } from '../declarations/kubernetes.ts';

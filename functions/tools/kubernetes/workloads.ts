import type {
  ConfigurationOptions,
  V1ControllerRevision,
  V1DaemonSet,
  V1Deployment,
  V1ObjectMeta,
  V1Pod,
  V1ReplicaSet,
  V1Scale,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { RolloutRestartOutput, ScaleOutput, WorkloadStatusOutput } from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolErrorKind, withPreRead } from '../tool.ts';
import { isCrashLooping, isOwnedBy, labelSelectorString, minutesSince, restartsOf } from './objects.ts';
import {
  DRY_RUN_ALL,
  type KubernetesSession,
  type KubernetesToolDeps,
  openSession,
  PatchStrategy,
} from './session.ts';

/** k8s.workload-status, k8s.rollout-restart and k8s.scale. */

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

const RESOURCE: Record<WorkloadKind, string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
};

/** The annotation `kubectl rollout restart` sets on the pod template. */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
const DEPLOYMENT_REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
/** The change (execution and step) that last restarted the workload: a repeat of it sends nothing. */
export const CHANGE_ANNOTATION = 'runbook-autopilot.io/change';

type Workload =
  | { kind: 'Deployment'; object: V1Deployment }
  | { kind: 'StatefulSet'; object: V1StatefulSet }
  | { kind: 'DaemonSet'; object: V1DaemonSet };

async function readWorkload(
  session: KubernetesSession,
  kind: WorkloadKind,
  namespace: string,
  name: string,
): Promise<Workload> {
  const target = { verb: 'get', resource: RESOURCE[kind], group: 'apps', namespace, name } as const;
  const { apps } = session;
  switch (kind) {
    case 'Deployment':
      return {
        kind,
        object: await session.request(target, (options) =>
          apps.readNamespacedDeployment({ namespace, name }, options),
        ),
      };
    case 'StatefulSet':
      return {
        kind,
        object: await session.request(target, (options) =>
          apps.readNamespacedStatefulSet({ namespace, name }, options),
        ),
      };
    case 'DaemonSet':
      return {
        kind,
        object: await session.request(target, (options) =>
          apps.readNamespacedDaemonSet({ namespace, name }, options),
        ),
      };
  }
}

interface ReplicaCounts {
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  updatedReplicas: number;
  unavailableReplicas: number;
  rolloutInProgress: boolean;
}

/**
 * Replica counts and whether a rollout is under way, following `kubectl rollout status` except that
 * readiness alone does not count: a settled workload whose pods crash is not rolling out.
 */
function replicaCounts(workload: Workload): ReplicaCounts {
  const generation = workload.object.metadata?.generation ?? 0;
  const observed = workload.object.status?.observedGeneration ?? 0;
  const specNotSeen = observed < generation;
  switch (workload.kind) {
    case 'Deployment': {
      const status = workload.object.status ?? {};
      const replicas = workload.object.spec?.replicas ?? 1;
      const updatedReplicas = status.updatedReplicas ?? 0;
      const availableReplicas = status.availableReplicas ?? 0;
      return {
        replicas,
        readyReplicas: status.readyReplicas ?? 0,
        availableReplicas,
        updatedReplicas,
        unavailableReplicas: status.unavailableReplicas ?? Math.max(0, replicas - availableReplicas),
        // Old-revision pods still running, or fewer new-revision pods than wanted.
        rolloutInProgress:
          specNotSeen || updatedReplicas < replicas || (status.replicas ?? 0) > updatedReplicas,
      };
    }
    case 'StatefulSet': {
      const status = workload.object.status ?? { replicas: 0 };
      const replicas = workload.object.spec?.replicas ?? 1;
      const updatedReplicas = status.updatedReplicas ?? 0;
      const readyReplicas = status.readyReplicas ?? 0;
      const availableReplicas = status.availableReplicas ?? readyReplicas;
      const partition = workload.object.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
      const revisionsDiffer =
        status.updateRevision !== undefined &&
        status.currentRevision !== undefined &&
        status.updateRevision !== status.currentRevision;
      return {
        replicas,
        readyReplicas,
        availableReplicas,
        updatedReplicas,
        unavailableReplicas: Math.max(0, replicas - availableReplicas),
        // A partitioned rollout is done when the pods above the partition are updated.
        rolloutInProgress:
          specNotSeen || (partition > 0 ? updatedReplicas < replicas - partition : revisionsDiffer),
      };
    }
    case 'DaemonSet': {
      const status = workload.object.status;
      const replicas = status?.desiredNumberScheduled ?? 0;
      const updatedReplicas = status?.updatedNumberScheduled ?? 0;
      const availableReplicas = status?.numberAvailable ?? 0;
      return {
        replicas,
        readyReplicas: status?.numberReady ?? 0,
        availableReplicas,
        updatedReplicas,
        unavailableReplicas: status?.numberUnavailable ?? Math.max(0, replicas - availableReplicas),
        rolloutInProgress: specNotSeen || updatedReplicas < replicas,
      };
    }
  }
}

function revisionOf(meta: V1ObjectMeta | undefined): number {
  const revision = Number(meta?.annotations?.[DEPLOYMENT_REVISION_ANNOTATION]);
  return Number.isFinite(revision) ? revision : 0;
}

/**
 * The workload's pods and the creation time of its current revision: a Deployment's current
 * ReplicaSet, a StatefulSet's update ControllerRevision, a DaemonSet's newest ControllerRevision.
 */
async function podsAndRevision(
  session: KubernetesSession,
  workload: Workload,
  namespace: string,
): Promise<{ pods: V1Pod[]; revisionCreated: Date | undefined }> {
  const labelSelector = labelSelectorString(workload.object.spec?.selector);
  const uid = workload.object.metadata?.uid;
  const podList = await session.request({ verb: 'list', resource: 'pods', namespace }, (options) =>
    session.core.listNamespacedPod({ namespace, labelSelector }, options),
  );
  switch (workload.kind) {
    case 'Deployment': {
      const replicaSets = await session.request(
        { verb: 'list', resource: 'replicasets', group: 'apps', namespace },
        (options) => session.apps.listNamespacedReplicaSet({ namespace, labelSelector }, options),
      );
      const owned = replicaSets.items.filter((replicaSet: V1ReplicaSet) =>
        isOwnedBy(replicaSet.metadata, uid),
      );
      const wanted = revisionOf(workload.object.metadata);
      const current =
        owned.find((replicaSet) => wanted > 0 && revisionOf(replicaSet.metadata) === wanted) ??
        owned.toSorted((a, b) => revisionOf(b.metadata) - revisionOf(a.metadata))[0];
      const uids = new Set(owned.map((replicaSet) => replicaSet.metadata?.uid));
      return {
        pods: podList.items.filter((pod) =>
          (pod.metadata?.ownerReferences ?? []).some((owner) => uids.has(owner.uid)),
        ),
        revisionCreated: current?.metadata?.creationTimestamp,
      };
    }
    case 'StatefulSet': {
      const pods = podList.items.filter((pod) => isOwnedBy(pod.metadata, uid));
      const revisionName = workload.object.status?.updateRevision;
      if (!revisionName) return { pods, revisionCreated: undefined };
      const answer = await session.optional(
        { verb: 'get', resource: 'controllerrevisions', group: 'apps', namespace, name: revisionName },
        (options) =>
          session.apps.readNamespacedControllerRevision({ namespace, name: revisionName }, options),
      );
      return {
        pods,
        revisionCreated: 'value' in answer ? answer.value.metadata?.creationTimestamp : undefined,
      };
    }
    case 'DaemonSet': {
      const pods = podList.items.filter((pod) => isOwnedBy(pod.metadata, uid));
      const revisions = await session.request(
        { verb: 'list', resource: 'controllerrevisions', group: 'apps', namespace },
        (options) => session.apps.listNamespacedControllerRevision({ namespace, labelSelector }, options),
      );
      const newest = revisions.items
        .filter((revision: V1ControllerRevision) => isOwnedBy(revision.metadata, uid))
        .toSorted((a, b) => b.revision - a.revision)[0];
      return { pods, revisionCreated: newest?.metadata?.creationTimestamp };
    }
  }
}

/** kubectl's timestamp format for restartedAt: RFC 3339 without fractions. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function workloadTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const workloadStatus = defineTool(declarationOf('k8s.workload-status'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.workload-status', parameters.cluster, context);
    const { namespace, kind, name } = parameters;
    const workload = await readWorkload(session, kind, namespace, name);
    const { pods, revisionCreated } = await podsAndRevision(session, workload, namespace);
    const crashing = pods
      .filter(isCrashLooping)
      .map((pod) => pod.metadata?.name ?? '')
      .sort();
    const output: WorkloadStatusOutput = {
      kind,
      name,
      namespace,
      ...replicaCounts(workload),
      lastRolloutMinutesAgo: minutesSince(revisionCreated, deps.runtime.clock.now()),
      crashLoopingPods: crashing.length,
      crashLoopingPodNames: crashing,
      podCount: pods.length,
      podRestarts: pods.reduce((sum, pod) => sum + restartsOf(pod), 0),
    };
    return output;
  });

  const rolloutRestart = defineTool(declarationOf('k8s.rollout-restart'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.rollout-restart', parameters.cluster, context);
    const { namespace, kind, name } = parameters;
    const { dryRun } = context;
    const workload = await readWorkload(session, kind, namespace, name);
    if (workload.kind === 'Deployment' && workload.object.spec?.paused) {
      session.fail(
        ToolErrorKind.Refused,
        `cannot restart paused Deployment ${namespace}/${name}: a paused Deployment rolls out nothing (resume it first: kubectl rollout resume)`,
      );
    }
    if (workload.kind !== 'Deployment' && workload.object.spec?.updateStrategy?.type === 'OnDelete') {
      session.fail(
        ToolErrorKind.Refused,
        `cannot restart ${kind} ${namespace}/${name}: its updateStrategy is OnDelete, so a new template replaces no pod`,
      );
    }
    // Once per execution and step: the template keeps the change key, and restartedAt is the time of the
    // change's first run, so a repeat after an interruption finds it done, or sends the very same template.
    const template = workload.object.spec?.template?.metadata?.annotations ?? {};
    if (!dryRun && template[CHANGE_ANNOTATION] === context.change.key) {
      context.log('the restart was sent by an earlier run of this step (its change key is on the template)', {
        changeKey: context.change.key,
      });
      const output: RolloutRestartOutput = {
        kind,
        name,
        namespace,
        restartedAt: template[RESTARTED_AT_ANNOTATION] ?? rfc3339(new Date(context.change.since)),
        dryRun,
      };
      return output;
    }
    const restartedAt = rfc3339(new Date(context.change.since));
    const body = {
      spec: {
        template: {
          metadata: {
            annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt, [CHANGE_ANNOTATION]: context.change.key },
          },
        },
      },
    };
    const request = { namespace, name, body, ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}) };
    const target = { verb: 'patch', resource: RESOURCE[kind], group: 'apps', namespace, name } as const;
    const patch = (call: (options: ConfigurationOptions) => Promise<unknown>) =>
      session.request(target, call, { patch: PatchStrategy.MergePatch });
    if (kind === 'Deployment')
      await patch((options) => session.apps.patchNamespacedDeployment(request, options));
    else if (kind === 'StatefulSet')
      await patch((options) => session.apps.patchNamespacedStatefulSet(request, options));
    else await patch((options) => session.apps.patchNamespacedDaemonSet(request, options));
    const output: RolloutRestartOutput = { kind, name, namespace, restartedAt, dryRun };
    return output;
  });

  const scale = defineTool(declarationOf('k8s.scale'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.scale', parameters.cluster, context);
    const { namespace, kind, name, replicas } = parameters;
    const { dryRun } = context;
    const resource = `${RESOURCE[kind]}/scale`;
    const { apps } = session;
    const current: V1Scale = await session.request(
      { verb: 'get', resource, group: 'apps', namespace, name },
      (options) =>
        kind === 'Deployment'
          ? apps.readNamespacedDeploymentScale({ namespace, name }, options)
          : apps.readNamespacedStatefulSetScale({ namespace, name }, options),
    );
    const previousReplicas = current.spec?.replicas ?? 0;
    if (previousReplicas === replicas) {
      const output: ScaleOutput = {
        kind,
        name,
        namespace,
        previousReplicas,
        replicas,
        changed: false,
        dryRun,
      };
      return output;
    }
    const request = {
      namespace,
      name,
      body: { spec: { replicas } },
      ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}),
    };
    const scaled: V1Scale = await session.request(
      { verb: 'patch', resource, group: 'apps', namespace, name },
      (options) =>
        kind === 'Deployment'
          ? apps.patchNamespacedDeploymentScale(request, options)
          : apps.patchNamespacedStatefulSetScale(request, options),
      { patch: PatchStrategy.MergePatch },
    );
    const output: ScaleOutput = {
      kind,
      name,
      namespace,
      previousReplicas,
      replicas: scaled.spec?.replicas ?? replicas,
      changed: true,
      dryRun,
    };
    return output;
  });

  const countScale = withPreRead(scale, declarationOf('k8s.scale'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.scale', parameters.cluster, context);
    const { namespace, kind, name, replicas } = parameters;
    const current: V1Scale = await session.request(
      { verb: 'get', resource: `${RESOURCE[kind]}/scale`, group: 'apps', namespace, name },
      (options) =>
        kind === 'Deployment'
          ? session.apps.readNamespacedDeploymentScale({ namespace, name }, options)
          : session.apps.readNamespacedStatefulSetScale({ namespace, name }, options),
    );
    const previous = current.spec?.replicas ?? 0;
    return {
      count: Math.abs(replicas - previous),
      how: `${kind} ${namespace}/${name} from ${previous} to ${replicas} replicas`,
    };
  });

  return [workloadStatus, rolloutRestart, countScale];
}

export type { RolloutRestartOutput, ScaleOutput, WorkloadStatusOutput } from '../declarations/kubernetes.ts';

import type { V1Pod } from '@kubernetes/client-node';
import { parseQuantity } from '../../../functions/tools/kubernetes/quantity.ts';
import { FamilySet, type MetricFamily, type MetricType } from '../exposition.ts';
import { podCreated, type World } from '../world.ts';

/**
 * kube-state-metrics v2: one series per object fact, named and labelled as v2.13 exposes them, read
 * from the simulated Kubernetes API's objects at scrape time. Its series carry the object's
 * `namespace`, `pod`, `container`…; scraped with honor_labels, those win over the exporter pod's own
 * target labels, and where a series has none (nodes, deployments) the exporter pod's show through.
 */

const D = (help: string, type: MetricType = 'gauge') => ({ help, type });

const DESCRIPTIONS: Record<string, { help: string; type: MetricType }> = {
  kube_namespace_status_phase: D('kubernetes namespace status phase.'),
  kube_node_info: D('Information about a cluster node.'),
  kube_node_created: D('[STABLE] Unix creation timestamp'),
  kube_node_status_condition: D('The condition of a cluster node.'),
  kube_node_spec_unschedulable: D('Whether a node can schedule new pods.'),
  kube_node_spec_taint: D('The taint of a cluster node.'),
  kube_node_status_capacity: D('The capacity for different resources of a node.'),
  kube_node_status_allocatable: D(
    'The allocatable for different resources of a node that are available for scheduling.',
  ),
  kube_pod_info: D('[STABLE] Information about pod.'),
  kube_pod_owner: D("[STABLE] Information about the Pod's owner."),
  kube_pod_created: D('[STABLE] Unix creation timestamp'),
  kube_pod_start_time: D('[STABLE] Start time in unix timestamp for a pod.'),
  kube_pod_status_phase: D('[STABLE] The pods current phase.'),
  kube_pod_status_ready: D('[STABLE] Describes whether the pod is ready to serve requests.'),
  kube_pod_status_reason: D('The pod status reasons'),
  kube_pod_container_info: D('[STABLE] Information about a container in a pod.'),
  kube_pod_container_status_waiting: D(
    '[STABLE] Describes whether the container is currently in waiting state.',
  ),
  kube_pod_container_status_waiting_reason: D(
    '[STABLE] Describes the reason the container is currently in waiting state.',
  ),
  kube_pod_container_status_running: D(
    '[STABLE] Describes whether the container is currently in running state.',
  ),
  kube_pod_container_status_terminated: D(
    '[STABLE] Describes whether the container is currently in terminated state.',
  ),
  kube_pod_container_status_ready: D('[STABLE] Describes whether the containers readiness check succeeded.'),
  kube_pod_container_status_restarts_total: D(
    '[STABLE] The number of container restarts per container.',
    'counter',
  ),
  kube_pod_container_status_last_terminated_reason: D(
    'Describes the last reason the container was in terminated state.',
  ),
  kube_pod_container_status_last_terminated_exitcode: D(
    'Describes the exit code for the last container in terminated state.',
  ),
  kube_pod_container_resource_requests: D(
    'The number of requested request resource by a container. It is recommended to use the kube_pod_resource_requests metric exposed by kube-scheduler instead, as it is more precise.',
  ),
  kube_pod_container_resource_limits: D(
    'The number of requested limit resource by a container. It is recommended to use the kube_pod_resource_limits metric exposed by kube-scheduler instead, as it is more precise.',
  ),
  kube_deployment_created: D('[STABLE] Unix creation timestamp'),
  kube_deployment_metadata_generation: D(
    '[STABLE] Sequence number representing a specific generation of the desired state.',
  ),
  kube_deployment_spec_paused: D(
    '[STABLE] Whether the deployment is paused and will not be processed by the deployment controller.',
  ),
  kube_deployment_spec_replicas: D('[STABLE] Number of desired pods for a deployment.'),
  kube_deployment_status_observed_generation: D(
    '[STABLE] The generation observed by the deployment controller.',
  ),
  kube_deployment_status_replicas: D('[STABLE] The number of replicas per deployment.'),
  kube_deployment_status_replicas_ready: D('[STABLE] The number of ready replicas per deployment.'),
  kube_deployment_status_replicas_available: D('[STABLE] The number of available replicas per deployment.'),
  kube_deployment_status_replicas_unavailable: D(
    '[STABLE] The number of unavailable replicas per deployment.',
  ),
  kube_deployment_status_replicas_updated: D('[STABLE] The number of updated replicas per deployment.'),
  kube_deployment_status_condition: D('[STABLE] The current status conditions of a deployment.'),
  kube_replicaset_owner: D("[STABLE] Information about the ReplicaSet's owner."),
  kube_replicaset_spec_replicas: D('[STABLE] Number of desired pods for a ReplicaSet.'),
  kube_replicaset_status_replicas: D('[STABLE] The number of replicas per ReplicaSet.'),
  kube_replicaset_status_ready_replicas: D('[STABLE] The number of ready replicas per ReplicaSet.'),
  kube_statefulset_replicas: D('[STABLE] Number of desired pods for a StatefulSet.'),
  kube_statefulset_metadata_generation: D(
    '[STABLE] Sequence number representing a specific generation of the desired state for the StatefulSet.',
  ),
  kube_statefulset_status_observed_generation: D(
    '[STABLE] The generation observed by the StatefulSet controller.',
  ),
  kube_statefulset_status_replicas: D('[STABLE] The number of replicas per StatefulSet.'),
  kube_statefulset_status_replicas_ready: D('[STABLE] The number of ready replicas per StatefulSet.'),
  kube_statefulset_status_replicas_current: D('[STABLE] The number of current replicas per StatefulSet.'),
  kube_statefulset_status_replicas_updated: D('[STABLE] The number of updated replicas per StatefulSet.'),
  kube_statefulset_status_current_revision: D(
    'Indicates the version of the StatefulSet used to generate Pods in the sequence [0,currentReplicas).',
  ),
  kube_statefulset_status_update_revision: D(
    'Indicates the version of the StatefulSet used to generate Pods in the sequence [replicas-updatedReplicas,replicas)',
  ),
  kube_daemonset_metadata_generation: D(
    '[STABLE] Sequence number representing a specific generation of the desired state.',
  ),
  kube_daemonset_status_observed_generation: D(
    '[STABLE] The most recent generation observed by the daemon set controller.',
  ),
  kube_daemonset_status_current_number_scheduled: D(
    '[STABLE] The number of nodes running at least one daemon pod and are supposed to.',
  ),
  kube_daemonset_status_desired_number_scheduled: D(
    '[STABLE] The number of nodes that should be running the daemon pod.',
  ),
  kube_daemonset_status_number_available: D(
    '[STABLE] The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available',
  ),
  kube_daemonset_status_number_misscheduled: D(
    '[STABLE] The number of nodes running a daemon pod but are not supposed to.',
  ),
  kube_daemonset_status_number_ready: D(
    '[STABLE] The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.',
  ),
  kube_daemonset_status_number_unavailable: D(
    '[STABLE] The number of nodes that should be running the daemon pod and have none of the daemon pod running and available',
  ),
  kube_daemonset_status_updated_number_scheduled: D(
    '[STABLE] The total number of nodes that are running updated daemon pod',
  ),
  kube_poddisruptionbudget_status_current_healthy: D('[STABLE] Current number of healthy pods'),
  kube_poddisruptionbudget_status_desired_healthy: D('[STABLE] Minimum desired number of healthy pods'),
  kube_poddisruptionbudget_status_expected_pods: D(
    '[STABLE] Total number of pods counted by this disruption budget',
  ),
  kube_poddisruptionbudget_status_pod_disruptions_allowed: D(
    '[STABLE] Number of pod disruptions that are currently allowed',
  ),
  kube_resourcequota: D('[STABLE] Information about resource quota.'),
  kube_storageclass_info: D('[STABLE] Information about storageclass.'),
  kube_persistentvolumeclaim_info: D('[STABLE] Information about persistent volume claim.'),
  kube_persistentvolumeclaim_status_phase: D(
    '[STABLE] The phase the persistent volume claim is currently in.',
  ),
  kube_persistentvolumeclaim_resource_requests_storage_bytes: D(
    '[STABLE] The capacity of storage requested by the persistent volume claim.',
  ),
  kube_persistentvolumeclaim_access_mode: D(
    '[STABLE] The access mode(s) specified by the persistent volume claim.',
  ),
  kube_horizontalpodautoscaler_info: D('Information about this autoscaler.'),
  kube_horizontalpodautoscaler_metadata_generation: D(
    '[STABLE] The generation observed by the HorizontalPodAutoscaler controller.',
  ),
  kube_horizontalpodautoscaler_spec_max_replicas: D(
    '[STABLE] Upper limit for the number of pods that can be set by the autoscaler; cannot be smaller than MinReplicas.',
  ),
  kube_horizontalpodautoscaler_spec_min_replicas: D(
    '[STABLE] Lower limit for the number of pods that can be set by the autoscaler, default 1.',
  ),
  kube_horizontalpodautoscaler_spec_target_metric: D(
    'The metric specifications used by this autoscaler when calculating the desired replica count.',
  ),
  kube_horizontalpodautoscaler_status_current_replicas: D(
    '[STABLE] Current number of replicas of pods managed by this autoscaler.',
  ),
  kube_horizontalpodautoscaler_status_desired_replicas: D(
    '[STABLE] Desired number of replicas of pods managed by this autoscaler.',
  ),
  kube_horizontalpodautoscaler_status_condition: D('The condition of this autoscaler.'),
  kube_job_info: D('[STABLE] Information about job.'),
  kube_job_owner: D("[STABLE] Information about the Job's owner."),
  kube_job_spec_completions: D(
    '[STABLE] The desired number of successfully finished pods the job should be run with.',
  ),
  kube_job_status_active: D('[STABLE] The number of actively running pods.'),
  kube_job_status_succeeded: D('[STABLE] The number of pods which reached Phase Succeeded.'),
  kube_job_status_failed: D(
    '[STABLE] The number of pods which reached Phase Failed and the reason for failure.',
  ),
  kube_job_status_start_time: D(
    '[STABLE] StartTime represents time when the job was acknowledged by the Job Manager.',
  ),
  kube_job_status_completion_time: D('[STABLE] CompletionTime represents time when the job was completed.'),
  kube_job_complete: D('[STABLE] The job has completed its execution.'),
  kube_job_failed: D('[STABLE] The job has failed its execution.'),
};

const TRI_STATE = ['true', 'false', 'unknown'] as const;
const POD_PHASES = ['Pending', 'Succeeded', 'Failed', 'Unknown', 'Running'] as const;
const POD_REASONS = ['Evicted', 'NodeAffinity', 'NodeLost', 'Shutdown', 'UnexpectedAdmissionError'] as const;

const seconds = (date: Date | string | undefined): number =>
  date === undefined ? 0 : Math.floor(new Date(date).getTime() / 1_000);

function ownerLabels(owner: { kind?: string; name?: string; controller?: boolean } | undefined) {
  return {
    owner_kind: owner?.kind ?? '<none>',
    owner_name: owner?.name ?? '<none>',
    owner_is_controller: owner ? String(owner.controller === true) : '<none>',
  };
}

/** `true`/`false`/`unknown` series of a condition: 1 for the one that holds. */
function triState(
  set: FamilySet,
  name: string,
  labels: Record<string, string>,
  status: string | undefined,
  key = 'status',
): void {
  const actual = (status ?? 'Unknown').toLowerCase();
  for (const state of TRI_STATE) set.add(name, { ...labels, [key]: state }, actual === state ? 1 : 0);
}

function resourceSeries(
  set: FamilySet,
  name: string,
  labels: Record<string, string>,
  amounts: Record<string, string> | undefined,
  since: number,
): void {
  for (const [resource, quantity] of Object.entries(amounts ?? {})) {
    const unit =
      resource === 'cpu'
        ? 'core'
        : resource === 'memory' || resource.includes('storage')
          ? 'byte'
          : 'integer';
    set.add(name, { ...labels, resource: resource.replace(/-/g, '_'), unit }, parseQuantity(quantity), since);
  }
}

function podSeries(set: FamilySet, world: World, pod: V1Pod): void {
  const namespace = pod.metadata!.namespace!;
  const name = pod.metadata!.name!;
  const uid = pod.metadata!.uid!;
  const since = podCreated(pod);
  const base = { namespace, pod: name, uid };
  const owner = pod.metadata?.ownerReferences?.[0];
  const node = pod.spec?.nodeName ?? '';
  set.add(
    'kube_pod_info',
    {
      ...base,
      host_ip: pod.status?.hostIP ?? '',
      pod_ip: pod.status?.podIP ?? '',
      node,
      created_by_kind: owner?.kind ?? '<none>',
      created_by_name: owner?.name ?? '<none>',
      priority_class: pod.spec?.priorityClassName ?? '',
      host_network: String(pod.spec?.hostNetwork === true),
    },
    1,
    since,
  );
  set.add('kube_pod_owner', { ...base, ...ownerLabels(owner) }, 1, since);
  set.add('kube_pod_created', base, since, since);
  if (pod.status?.startTime) set.add('kube_pod_start_time', base, seconds(pod.status.startTime), since);
  for (const phase of POD_PHASES)
    set.add('kube_pod_status_phase', { ...base, phase }, pod.status?.phase === phase ? 1 : 0, since);
  for (const reason of POD_REASONS)
    set.add('kube_pod_status_reason', { ...base, reason }, pod.status?.reason === reason ? 1 : 0, since);
  const ready = pod.status?.conditions?.find((condition) => condition.type === 'Ready')?.status;
  for (const state of TRI_STATE)
    set.add(
      'kube_pod_status_ready',
      { ...base, condition: state },
      (ready ?? 'Unknown').toLowerCase() === state ? 1 : 0,
      since,
    );
  for (const container of pod.spec?.containers ?? []) {
    const labels = { ...base, container: container.name };
    const status = pod.status?.containerStatuses?.find((candidate) => candidate.name === container.name);
    set.add(
      'kube_pod_container_info',
      {
        ...labels,
        image_spec: container.image ?? '',
        image: status?.image ?? container.image ?? '',
        image_id: status?.imageID ?? '',
        container_id: status?.containerID ?? '',
      },
      1,
      since,
    );
    resourceSeries(
      set,
      'kube_pod_container_resource_requests',
      { ...labels, node },
      container.resources?.requests,
      since,
    );
    resourceSeries(
      set,
      'kube_pod_container_resource_limits',
      { ...labels, node },
      container.resources?.limits,
      since,
    );
    if (!status) continue;
    const waiting = status.state?.waiting;
    set.add('kube_pod_container_status_waiting', labels, waiting ? 1 : 0, since);
    if (waiting?.reason)
      set.add('kube_pod_container_status_waiting_reason', { ...labels, reason: waiting.reason }, 1, since);
    set.add('kube_pod_container_status_running', labels, status.state?.running ? 1 : 0, since);
    set.add('kube_pod_container_status_terminated', labels, status.state?.terminated ? 1 : 0, since);
    set.add('kube_pod_container_status_ready', labels, status.ready ? 1 : 0, since);
    set.add(
      'kube_pod_container_status_restarts_total',
      labels,
      world.containerRestarts(pod, container.name),
      since,
    );
    const last = status.lastState?.terminated;
    if (last?.reason) {
      set.add(
        'kube_pod_container_status_last_terminated_reason',
        { ...labels, reason: last.reason },
        1,
        since,
      );
      set.add('kube_pod_container_status_last_terminated_exitcode', labels, last.exitCode ?? 0, since);
    }
  }
}

/** Everything kube-state-metrics exposes about the simulated cluster now. */
export function kubeStateMetrics(world: World): MetricFamily[] {
  const { kube } = world;
  const set = new FamilySet(DESCRIPTIONS);
  const namespaces = new Set([...kube.pods.values()].map((pod) => pod.metadata!.namespace!));
  for (const namespace of [...namespaces].sort()) {
    for (const phase of ['Active', 'Terminating'])
      set.add('kube_namespace_status_phase', { namespace, phase }, phase === 'Active' ? 1 : 0);
  }

  for (const node of kube.nodes.values()) {
    const name = node.metadata!.name!;
    const info = node.status?.nodeInfo;
    set.add(
      'kube_node_info',
      {
        node: name,
        kernel_version: info?.kernelVersion ?? '',
        os_image: info?.osImage ?? '',
        container_runtime_version: info?.containerRuntimeVersion ?? '',
        kubelet_version: info?.kubeletVersion ?? '',
        kubeproxy_version: info?.kubeProxyVersion ?? '',
        provider_id: node.spec?.providerID ?? '',
        pod_cidr: node.spec?.podCIDR ?? '',
        system_uuid: info?.systemUUID ?? '',
        internal_ip: node.status?.addresses?.find((address) => address.type === 'InternalIP')?.address ?? '',
      },
      1,
    );
    set.add('kube_node_created', { node: name }, seconds(node.metadata?.creationTimestamp));
    for (const condition of node.status?.conditions ?? [])
      triState(
        set,
        'kube_node_status_condition',
        { node: name, condition: condition.type },
        condition.status,
      );
    set.add('kube_node_spec_unschedulable', { node: name }, node.spec?.unschedulable ? 1 : 0);
    for (const taint of node.spec?.taints ?? [])
      set.add(
        'kube_node_spec_taint',
        { node: name, key: taint.key, value: taint.value ?? '', effect: taint.effect },
        1,
      );
    resourceSeries(set, 'kube_node_status_capacity', { node: name }, node.status?.capacity, 0);
    resourceSeries(set, 'kube_node_status_allocatable', { node: name }, node.status?.allocatable, 0);
  }

  for (const pod of kube.pods.values()) podSeries(set, world, pod);

  for (const deployment of kube.deployments.values()) {
    const labels = { namespace: deployment.metadata!.namespace!, deployment: deployment.metadata!.name! };
    const status = deployment.status ?? {};
    const replicas = deployment.spec?.replicas ?? 1;
    set.add('kube_deployment_created', labels, seconds(deployment.metadata?.creationTimestamp));
    set.add('kube_deployment_metadata_generation', labels, deployment.metadata?.generation ?? 1);
    set.add('kube_deployment_spec_paused', labels, deployment.spec?.paused ? 1 : 0);
    set.add('kube_deployment_spec_replicas', labels, replicas);
    set.add('kube_deployment_status_observed_generation', labels, status.observedGeneration ?? 0);
    set.add('kube_deployment_status_replicas', labels, status.replicas ?? 0);
    set.add('kube_deployment_status_replicas_ready', labels, status.readyReplicas ?? 0);
    set.add('kube_deployment_status_replicas_available', labels, status.availableReplicas ?? 0);
    set.add('kube_deployment_status_replicas_unavailable', labels, status.unavailableReplicas ?? 0);
    set.add('kube_deployment_status_replicas_updated', labels, status.updatedReplicas ?? 0);
    for (const condition of status.conditions ?? [])
      triState(
        set,
        'kube_deployment_status_condition',
        { ...labels, condition: condition.type },
        condition.status,
      );
  }
  for (const replicaSet of kube.replicaSets.values()) {
    const labels = { namespace: replicaSet.metadata!.namespace!, replicaset: replicaSet.metadata!.name! };
    set.add(
      'kube_replicaset_owner',
      { ...labels, ...ownerLabels(replicaSet.metadata?.ownerReferences?.[0]) },
      1,
    );
    set.add('kube_replicaset_spec_replicas', labels, replicaSet.spec?.replicas ?? 0);
    set.add('kube_replicaset_status_replicas', labels, replicaSet.status?.replicas ?? 0);
    set.add('kube_replicaset_status_ready_replicas', labels, replicaSet.status?.readyReplicas ?? 0);
  }
  for (const statefulSet of kube.statefulSets.values()) {
    const labels = { namespace: statefulSet.metadata!.namespace!, statefulset: statefulSet.metadata!.name! };
    const status = statefulSet.status;
    set.add('kube_statefulset_replicas', labels, statefulSet.spec?.replicas ?? 1);
    set.add('kube_statefulset_metadata_generation', labels, statefulSet.metadata?.generation ?? 1);
    set.add('kube_statefulset_status_observed_generation', labels, status?.observedGeneration ?? 0);
    set.add('kube_statefulset_status_replicas', labels, status?.replicas ?? 0);
    set.add('kube_statefulset_status_replicas_ready', labels, status?.readyReplicas ?? 0);
    set.add('kube_statefulset_status_replicas_current', labels, status?.currentReplicas ?? 0);
    set.add('kube_statefulset_status_replicas_updated', labels, status?.updatedReplicas ?? 0);
    if (status?.currentRevision)
      set.add('kube_statefulset_status_current_revision', { ...labels, revision: status.currentRevision }, 1);
    if (status?.updateRevision)
      set.add('kube_statefulset_status_update_revision', { ...labels, revision: status.updateRevision }, 1);
  }
  for (const daemonSet of kube.daemonSets.values()) {
    const labels = { namespace: daemonSet.metadata!.namespace!, daemonset: daemonSet.metadata!.name! };
    const status = daemonSet.status;
    set.add('kube_daemonset_metadata_generation', labels, daemonSet.metadata?.generation ?? 1);
    set.add('kube_daemonset_status_observed_generation', labels, status?.observedGeneration ?? 0);
    set.add('kube_daemonset_status_current_number_scheduled', labels, status?.currentNumberScheduled ?? 0);
    set.add('kube_daemonset_status_desired_number_scheduled', labels, status?.desiredNumberScheduled ?? 0);
    set.add('kube_daemonset_status_number_available', labels, status?.numberAvailable ?? 0);
    set.add('kube_daemonset_status_number_misscheduled', labels, status?.numberMisscheduled ?? 0);
    set.add('kube_daemonset_status_number_ready', labels, status?.numberReady ?? 0);
    set.add('kube_daemonset_status_number_unavailable', labels, status?.numberUnavailable ?? 0);
    set.add('kube_daemonset_status_updated_number_scheduled', labels, status?.updatedNumberScheduled ?? 0);
  }
  for (const pdb of kube.pdbs.values()) {
    const labels = { namespace: pdb.metadata!.namespace!, poddisruptionbudget: pdb.metadata!.name! };
    const pods = kube.podsMatching(labels.namespace, pdb.spec?.selector);
    const healthy = pods.filter((pod) =>
      pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True'),
    ).length;
    const expected = pods.length;
    const desired =
      pdb.spec?.minAvailable !== undefined
        ? typeof pdb.spec.minAvailable === 'number'
          ? pdb.spec.minAvailable
          : Math.ceil((Number.parseInt(pdb.spec.minAvailable, 10) / 100) * expected)
        : pdb.spec?.maxUnavailable !== undefined
          ? expected -
            (typeof pdb.spec.maxUnavailable === 'number'
              ? pdb.spec.maxUnavailable
              : Math.ceil((Number.parseInt(pdb.spec.maxUnavailable, 10) / 100) * expected))
          : expected;
    set.add('kube_poddisruptionbudget_status_current_healthy', labels, healthy);
    set.add('kube_poddisruptionbudget_status_desired_healthy', labels, Math.max(0, desired));
    set.add('kube_poddisruptionbudget_status_expected_pods', labels, expected);
    set.add(
      'kube_poddisruptionbudget_status_pod_disruptions_allowed',
      labels,
      Math.max(0, healthy - desired),
    );
  }
  for (const stored of kube.resourceQuotas.values()) {
    const quota = kube.withQuotaStatus(stored);
    const labels = { namespace: quota.metadata!.namespace!, resourcequota: quota.metadata!.name! };
    for (const [type, amounts] of [
      ['hard', quota.status?.hard],
      ['used', quota.status?.used],
    ] as const)
      for (const [resource, amount] of Object.entries(amounts ?? {}))
        set.add('kube_resourcequota', { ...labels, resource, type }, parseQuantity(amount));
  }
  for (const storageClass of kube.storageClasses.values()) {
    set.add(
      'kube_storageclass_info',
      {
        storageclass: storageClass.metadata!.name!,
        provisioner: storageClass.provisioner,
        reclaim_policy: storageClass.reclaimPolicy ?? 'Delete',
        volume_binding_mode: storageClass.volumeBindingMode ?? 'Immediate',
      },
      1,
    );
  }
  for (const claim of kube.pvcs.values()) {
    const labels = { namespace: claim.metadata!.namespace!, persistentvolumeclaim: claim.metadata!.name! };
    set.add(
      'kube_persistentvolumeclaim_info',
      {
        ...labels,
        storageclass: claim.spec?.storageClassName ?? '',
        volumename: claim.spec?.volumeName ?? '',
        volumemode: claim.spec?.volumeMode ?? 'Filesystem',
      },
      1,
    );
    for (const phase of ['Lost', 'Bound', 'Pending'])
      set.add(
        'kube_persistentvolumeclaim_status_phase',
        { ...labels, phase },
        claim.status?.phase === phase ? 1 : 0,
      );
    set.add(
      'kube_persistentvolumeclaim_resource_requests_storage_bytes',
      labels,
      parseQuantity(claim.spec?.resources?.requests?.storage ?? '0'),
    );
    for (const mode of claim.spec?.accessModes ?? [])
      set.add('kube_persistentvolumeclaim_access_mode', { ...labels, access_mode: mode }, 1);
  }
  for (const hpa of kube.hpas.values()) {
    const labels = { namespace: hpa.metadata!.namespace!, horizontalpodautoscaler: hpa.metadata!.name! };
    set.add(
      'kube_horizontalpodautoscaler_info',
      {
        ...labels,
        scaletargetref_api_version: hpa.spec?.scaleTargetRef.apiVersion ?? '',
        scaletargetref_kind: hpa.spec?.scaleTargetRef.kind ?? '',
        scaletargetref_name: hpa.spec?.scaleTargetRef.name ?? '',
      },
      1,
    );
    set.add('kube_horizontalpodautoscaler_metadata_generation', labels, hpa.metadata?.generation ?? 1);
    set.add('kube_horizontalpodautoscaler_spec_max_replicas', labels, hpa.spec?.maxReplicas ?? 0);
    set.add('kube_horizontalpodautoscaler_spec_min_replicas', labels, hpa.spec?.minReplicas ?? 1);
    for (const metric of hpa.spec?.metrics ?? []) {
      const target = metric.resource?.target;
      if (target?.averageUtilization !== undefined)
        set.add(
          'kube_horizontalpodautoscaler_spec_target_metric',
          { ...labels, metric_name: metric.resource!.name, metric_target_type: 'utilization' },
          target.averageUtilization,
        );
    }
    set.add('kube_horizontalpodautoscaler_status_current_replicas', labels, hpa.status?.currentReplicas ?? 0);
    set.add('kube_horizontalpodautoscaler_status_desired_replicas', labels, hpa.status?.desiredReplicas ?? 0);
    for (const condition of hpa.status?.conditions ?? [])
      triState(
        set,
        'kube_horizontalpodautoscaler_status_condition',
        { ...labels, condition: condition.type },
        condition.status,
      );
  }
  for (const job of kube.jobs.values()) {
    const labels = { namespace: job.metadata!.namespace!, job_name: job.metadata!.name! };
    const status = job.status ?? {};
    set.add('kube_job_info', labels, 1);
    set.add('kube_job_owner', { ...labels, ...ownerLabels(job.metadata?.ownerReferences?.[0]) }, 1);
    set.add('kube_job_spec_completions', labels, job.spec?.completions ?? 1);
    set.add('kube_job_status_active', labels, status.active ?? 0);
    set.add('kube_job_status_succeeded', labels, status.succeeded ?? 0);
    set.add('kube_job_status_failed', labels, status.failed ?? 0);
    if (status.startTime) set.add('kube_job_status_start_time', labels, seconds(status.startTime));
    if (status.completionTime)
      set.add('kube_job_status_completion_time', labels, seconds(status.completionTime));
    const complete = status.conditions?.find((condition) => condition.type === 'Complete');
    const failed = status.conditions?.find((condition) => condition.type === 'Failed');
    if (complete) triState(set, 'kube_job_complete', labels, complete.status, 'condition');
    if (failed) triState(set, 'kube_job_failed', labels, failed.status, 'condition');
  }
  return set.list();
}

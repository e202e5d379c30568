import type { V1Pod } from '@kubernetes/client-node';
import { parseQuantity } from '../../../functions/tools/kubernetes/quantity.ts';
import { FamilySet, type MetricFamily, type MetricType } from '../exposition.ts';
import type { Host } from '../host.ts';
import { podCreated, type World } from '../world.ts';

/**
 * The kubelet of one node: `/metrics` (its own: running pods, the volume stats of the
 * PersistentVolumeClaims its pods mount) and `/metrics/cadvisor` (cAdvisor's container series: one per
 * container, one per pod cgroup with `container=""`, and the node's root cgroup `id="/"`; summing
 * without `container!=""` counts a pod twice, as on a real cluster).
 */

const D = (help: string, type: MetricType = 'gauge') => ({ help, type });

const KUBELET: Record<string, { help: string; type: MetricType }> = {
  kubelet_node_name: D("[ALPHA] The node's name. The count is always 1."),
  kubelet_running_pods: D('[ALPHA] Number of pods that have a running pod sandbox'),
  kubelet_running_containers: D('[ALPHA] Number of containers currently running'),
  kubelet_volume_stats_available_bytes: D('[ALPHA] Number of available bytes in the volume'),
  kubelet_volume_stats_capacity_bytes: D('[ALPHA] Capacity in bytes of the volume'),
  kubelet_volume_stats_used_bytes: D('[ALPHA] Number of used bytes in the volume'),
  kubelet_volume_stats_inodes: D('[ALPHA] Maximum number of inodes in the volume'),
  kubelet_volume_stats_inodes_free: D('[ALPHA] Number of free inodes in the volume'),
  kubelet_volume_stats_inodes_used: D('[ALPHA] Number of used inodes in the volume'),
};

const CADVISOR: Record<string, { help: string; type: MetricType }> = {
  container_memory_working_set_bytes: D('Current working set of the container in bytes'),
  container_memory_rss: D('Size of RSS in bytes.'),
  container_memory_usage_bytes: D(
    'Current memory usage in bytes, including all memory regardless of when it was accessed',
  ),
  container_spec_memory_limit_bytes: D('Memory limit for the container.'),
  container_cpu_usage_seconds_total: D('Cumulative cpu time consumed in seconds.', 'counter'),
  container_cpu_cfs_periods_total: D('Number of elapsed enforcement period intervals.', 'counter'),
  container_cpu_cfs_throttled_periods_total: D('Number of throttled period intervals.', 'counter'),
  container_cpu_cfs_throttled_seconds_total: D(
    'Total time duration the container has been throttled.',
    'counter',
  ),
  container_oom_events_total: D('Count of out of memory events observed for the container', 'counter'),
};

function podsOfNode(world: World, host: Host): V1Pod[] {
  return world.podsOn(host.name);
}

export function kubeletMetrics(world: World, host: Host): MetricFamily[] {
  const set = new FamilySet(KUBELET);
  const pods = podsOfNode(world, host);
  set.add('kubelet_node_name', { node: host.name }, 1);
  set.add('kubelet_running_pods', {}, pods.length);
  set.add(
    'kubelet_running_containers',
    { container_state: 'running' },
    pods.reduce(
      (sum, pod) =>
        sum + (pod.status?.containerStatuses ?? []).filter((status) => status.state?.running).length,
      0,
    ),
  );
  for (const { namespace, claim, pod, volume } of world.volumes.values()) {
    if (world.pod(namespace, pod)?.spec?.nodeName !== host.name) continue;
    const labels = { namespace, persistentvolumeclaim: claim };
    set.add('kubelet_volume_stats_capacity_bytes', labels, volume.sizeBytes);
    set.add('kubelet_volume_stats_available_bytes', labels, (time) => volume.availAt(time));
    set.add('kubelet_volume_stats_used_bytes', labels, (time) => volume.usedAt(time));
    set.add('kubelet_volume_stats_inodes', labels, volume.inodes);
    set.add('kubelet_volume_stats_inodes_free', labels, (time) => volume.inodes - volume.inodesUsedAt(time));
    set.add('kubelet_volume_stats_inodes_used', labels, (time) => volume.inodesUsedAt(time));
  }
  return set.list();
}

/** cAdvisor's cgroup path of a pod (systemd driver, Burstable QoS as every seeded pod is). */
function podCgroup(pod: V1Pod): string {
  return `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${pod.metadata!.uid!.replace(/-/g, '_')}.slice`;
}

export function cadvisorMetrics(world: World, host: Host): MetricFamily[] {
  const set = new FamilySet(CADVISOR);
  set.add('container_memory_working_set_bytes', { id: '/' }, (time) => world.nodeMemoryUsed(host.name, time));
  for (const pod of podsOfNode(world, host)) {
    const namespace = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const since = podCreated(pod);
    const cgroup = podCgroup(pod);
    const containers = pod.spec?.containers ?? [];
    const memory = containers.map((container) => world.containerMemory(pod, container.name));
    set.add(
      'container_memory_working_set_bytes',
      { container: '', id: cgroup, image: '', name: '', namespace, pod: name },
      (time) => memory.reduce((sum, series) => sum + (series(time) ?? 0), 0),
      since,
    );
    for (const [index, container] of containers.entries()) {
      const status = pod.status?.containerStatuses?.find((candidate) => candidate.name === container.name);
      if (!status?.state?.running) continue;
      const containerId = (status.containerID ?? `containerd://${pod.metadata!.uid}${index}`).replace(
        /^containerd:\/\//,
        '',
      );
      const labels = {
        container: container.name,
        id: `${cgroup}/cri-containerd-${containerId}.scope`,
        image: container.image ?? '',
        name: containerId,
        namespace,
        pod: name,
      };
      const workingSet = memory[index]!;
      set.add('container_memory_working_set_bytes', labels, workingSet, since);
      set.add('container_memory_rss', labels, (time) => Math.round((workingSet(time) ?? 0) * 0.92), since);
      set.add(
        'container_memory_usage_bytes',
        labels,
        (time) => Math.round((workingSet(time) ?? 0) * 1.08),
        since,
      );
      const limit = container.resources?.limits?.memory;
      set.add('container_spec_memory_limit_bytes', labels, limit ? parseQuantity(limit) : 0, since);
      const cpu = world.containerCpuSeconds(pod, container.name);
      set.add('container_cpu_usage_seconds_total', labels, (time) => cpu.at(time), since);
      const cfs = world.containerCfs(pod, container.name);
      if (cfs) {
        set.add('container_cpu_cfs_periods_total', labels, (time) => Math.floor(cfs.periods.at(time)), since);
        set.add(
          'container_cpu_cfs_throttled_periods_total',
          labels,
          (time) => Math.floor(cfs.throttled.at(time)),
          since,
        );
        set.add(
          'container_cpu_cfs_throttled_seconds_total',
          labels,
          (time) => Math.floor(cfs.throttled.at(time)) * 0.021,
          since,
        );
      }
      set.add('container_oom_events_total', labels, 0, since);
    }
  }
  return set.list();
}

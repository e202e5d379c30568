import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { parseQuantity } from '../../functions/tools/kubernetes/quantity.ts';
import { FakeKubeApi, type NodeOptions, type RecordedRequest } from '../demo/fake-kube-api.ts';
import { AwsAccount } from './aws/account.ts';
import { cpuModeShares, GI, type Host, MI, RateCounter, type Volume } from './host.ts';

/**
 * The simulated world: a Kubernetes cluster (served by FakeKubeApi, its controllers on) and the
 * machines under it, plus what the kubelets and metrics-server would do about them every tick: pod
 * usage follows the containers' models (a leak grows), node memory is the sum of its pods', the kubelet
 * sets MemoryPressure below its eviction threshold, a crash-looping container's restart count climbs.
 * The exporters read everything from here at scrape time; scenarios change it through the same methods.
 * Beside the cluster, the AWS account it runs in (`aws`): its own models, advanced on the same tick.
 */

export const nowSeconds = (): number => Date.now() / 1_000;

/** Memory the OS, kubelet and containerd use on every node, outside any pod. */
export const SYSTEM_MEMORY_BYTES = 900 * MI;
/** The kubelet reports MemoryPressure below this much available memory (a soft eviction threshold). */
export const MEMORY_PRESSURE_BELOW_BYTES = 1 * GI;
/** CPU the OS and the kubelet use on every node, outside any pod (cores). */
const SYSTEM_CPU_CORES = 0.35;

export interface WorldEvent {
  at: string;
  text: string;
}

/** A time-dependent amount (bytes, a count) for one container; null before it existed. */
export type ContainerSeries = (timeSeconds: number) => number;

export interface HostOptions {
  name: string;
  ip: string;
  zone: string;
  instanceId: string;
  instanceType?: string;
  cpus?: number;
  memoryBytes?: number;
  /** Seconds since boot at the start of the world. */
  uptimeSeconds?: number;
  labels?: Record<string, string>;
}

export function podKey(pod: V1Pod): string {
  return `${pod.metadata!.namespace}/${pod.metadata!.name}`;
}

export function podCreated(pod: V1Pod): number {
  return new Date(pod.metadata?.creationTimestamp ?? Date.now()).getTime() / 1_000;
}

export function isCrashLooping(pod: V1Pod): boolean {
  return (pod.status?.containerStatuses ?? []).some(
    (status) => status.state?.waiting?.reason === 'CrashLoopBackOff',
  );
}

/** What a ServiceMonitor selects: the pods of a Service, scraped on a port (prometheus-operator's `job` is the Service). */
export interface ServiceMonitor {
  namespace: string;
  service: string;
  /** The port the pods expose metrics on (the target's instance is `<pod IP>:<port>`). */
  port: number;
  /** The Service port's name (the target's `endpoint` label). */
  endpoint: string;
}

export class World {
  readonly events: WorldEvent[] = [];
  readonly hosts = new Map<string, Host>();
  /** When the world started (Unix seconds): history before it is extrapolated from the models. */
  readonly startedAt = nowSeconds();
  /** `namespace/pod/container` → working set over time, where a model says more than metrics-server. */
  private readonly memoryModels = new Map<string, ContainerSeries>();
  /** `namespace/pod/container` → restart count over time (a crash loop restarts on a back-off). */
  private readonly restartModels = new Map<string, ContainerSeries>();
  /** `namespace/pod/container` → CPU seconds used (container_cpu_usage_seconds_total). */
  private readonly cpuCounters = new Map<string, RateCounter>();
  /** `namespace/pod/container` → CFS periods and throttled periods. */
  private readonly cfsCounters = new Map<string, { periods: RateCounter; throttled: RateCounter }>();
  private readonly memoryPressure = new Map<string, boolean>();
  /** `namespace/claim` → the volume bound to it and the pod that mounts it (kubelet_volume_stats_*). */
  readonly volumes = new Map<string, { namespace: string; claim: string; pod: string; volume: Volume }>();
  /** `namespace/service` → a ServiceMonitor: Prometheus scrapes the metrics port of the Service's pods. */
  readonly serviceMonitors = new Map<string, ServiceMonitor>();
  /** `namespace/pod` of pods whose process hangs: their metrics endpoint never answers. */
  private readonly hungPods = new Set<string>();
  private readonly tickHooks: Array<(now: number) => void> = [];
  private readonly requestHooks: Array<(request: RecordedRequest) => void> = [];
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** The simulated AWS account (eu-west-1, 222222222222) the cluster's nodes are instances of. */
  readonly aws: AwsAccount;

  private constructor(
    readonly kube: FakeKubeApi,
    private readonly print: (line: string) => void,
  ) {
    this.aws = new AwsAccount((line) => this.note(line));
    kube.onRequest = (request) => {
      if (request.query.dryRun === 'All') return;
      for (const hook of this.requestHooks) hook(request);
      // The controllers ran when the request was answered; the kubelets and exporters catch up now.
      if (request.method !== 'GET') setImmediate(() => this.tick());
    };
  }

  static async start(options: { print?: (line: string) => void; user?: string } = {}): Promise<World> {
    const kube = await FakeKubeApi.start({
      autoReconcile: true,
      user: options.user ?? 'demo-target:runbook-autopilot',
    });
    return new World(kube, options.print ?? (() => {}));
  }

  /** Starts the kubelets' and controllers' loop. */
  run(tickMs = 500): void {
    this.tick();
    this.timer ??= setInterval(() => this.tick(), tickMs);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.aws.alarms.stop();
    await this.kube.stop();
  }

  note(text: string): void {
    this.events.push({ at: new Date().toISOString(), text });
    this.print(text);
  }

  /** Runs on every tick, after the kubelets (a scenario's own dynamics). */
  onTick(hook: (now: number) => void): void {
    this.tickHooks.push(hook);
  }

  /** Sees every request the Kubernetes API answers (not dry runs), as it arrives. */
  onKubeRequest(hook: (request: RecordedRequest) => void): void {
    this.requestHooks.push(hook);
  }

  // ------------------------------------------------------------------------------------ nodes

  addNode(host: HostOptions, node: Omit<NodeOptions, 'name'> = {}): Host {
    const cpus = host.cpus ?? 4;
    const memoryBytes = host.memoryBytes ?? 16 * GI;
    const bootTime = Math.floor(this.startedAt - (host.uptimeSeconds ?? 21 * 86_400));
    this.kube.addNode({
      ...node,
      name: host.name,
      capacity: {
        cpu: String(cpus),
        memory: `${Math.round(memoryBytes / MI)}Mi`,
        pods: '58',
        'ephemeral-storage': '50Gi',
        ...node.capacity,
      },
      labels: {
        'topology.kubernetes.io/zone': host.zone,
        'node.kubernetes.io/instance-type': host.instanceType ?? 'm6i.xlarge',
        ...host.labels,
        ...node.labels,
      },
    });
    this.kube.edit(this.kube.nodes, host.name, (object: V1Node) => {
      object.spec = { ...object.spec, providerID: `aws:///${host.zone}/${host.instanceId}` };
      object.status = {
        ...object.status,
        addresses: [
          { type: 'InternalIP', address: host.ip },
          { type: 'InternalDNS', address: host.name },
          { type: 'Hostname', address: host.name },
        ],
      };
    });
    const created: Host = {
      name: host.name,
      ip: host.ip,
      zone: host.zone,
      instanceId: host.instanceId,
      instanceType: host.instanceType ?? 'm6i.xlarge',
      cpus,
      memoryBytes,
      bootTime,
      filesystems: [],
      cpuSeconds: Array.from({ length: cpus }, () => {
        const shares = cpuModeShares(SYSTEM_CPU_CORES / cpus);
        return new Map(
          Object.entries(shares).map(([mode, share]) => [mode, new RateCounter(share, bootTime)]),
        );
      }),
      network: {
        receiveBytes: new RateCounter(2.4 * MI, bootTime),
        transmitBytes: new RateCounter(1.9 * MI, bootTime),
      },
      majorPageFaults: new RateCounter(0.4, bootTime),
      kubelet: { active: true, since: bootTime, journal: [] },
    };
    this.hosts.set(host.name, created);
    this.aws.ec2.launch({
      id: host.instanceId,
      type: created.instanceType,
      zone: host.zone,
      privateIp: host.ip,
      imageId: 'ami-0f9e8d7c6b5a41230',
      launchTime: bootTime,
      cpuPercent: 9,
      tags: {
        Name: host.name,
        'eks:cluster-name': 'staging-eks-eu-west-1',
        'eks:nodegroup-name': 'general',
        'kubernetes.io/cluster/staging-eks-eu-west-1': 'owned',
      },
    });
    return created;
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`simulated world: no node ${name}`);
    return host;
  }

  hostByInstanceId(instanceId: string): Host | undefined {
    return [...this.hosts.values()].find((host) => host.instanceId === instanceId);
  }

  hasMemoryPressure(node: string): boolean {
    return this.memoryPressure.get(node) === true;
  }

  kubeletActive(node: string): boolean {
    return this.host(node).kubelet.active;
  }

  /**
   * The kubelet on a node stopped at `at` (its journal says why): the node posts no status, so the node
   * lifecycle controller marks it Unknown and taints it unreachable; its containers run on.
   */
  stopKubelet(node: string, at: number, journal: string[]): void {
    const host = this.host(node);
    host.kubelet = { active: false, since: at, journal: [...host.kubelet.journal, ...journal] };
    this.kube.markNodeUnreachable(node, new Date(at * 1_000));
  }

  /** `systemctl restart kubelet`: it registers again and the node posts Ready status. */
  startKubelet(node: string): void {
    const host = this.host(node);
    const now = nowSeconds();
    const stamp = journalStamp(now, host.name);
    host.kubelet = {
      active: true,
      since: now,
      journal: [
        ...host.kubelet.journal,
        `${stamp} systemd[1]: Started kubelet.service - Kubernetes Kubelet.`,
        `${stamp} kubelet[${4_000 + host.kubelet.journal.length}]: I kubelet_node_status.go:76] "Successfully registered node" node="${host.name}"`,
      ],
    };
    this.kube.markNodeReachable(node);
    this.note(`kubelet on ${node}: active again; the node posts Ready status`);
  }

  /** The volume bound to a PersistentVolumeClaim, mounted by a pod (its node's kubelet reports it). */
  attachVolume(namespace: string, claim: string, pod: string, volume: Volume): void {
    this.volumes.set(`${namespace}/${claim}`, { namespace, claim, pod, volume });
    this.syncVolume(namespace, claim, volume, nowSeconds());
  }

  /**
   * The kubelet's two views of a volume agree with the model: its stats summary (k8s.pvc-usage) reports
   * the bytes used now, and a claim the resizer expanded grows the filesystem (online expansion).
   */
  private syncVolume(namespace: string, claim: string, volume: Volume, now: number): void {
    const capacity = this.kube.pvcs.get(`${namespace}/${claim}`)?.status?.capacity?.storage;
    if (capacity) volume.resize(parseQuantity(capacity));
    this.kube.setVolumeUsage(namespace, claim, String(volume.usedAt(now)));
  }

  // --------------------------------------------------------------------------- scrape targets

  /** A ServiceMonitor for a Service: its pods' metrics endpoints become scrape targets. */
  addServiceMonitor(monitor: ServiceMonitor): void {
    this.serviceMonitors.set(`${monitor.namespace}/${monitor.service}`, monitor);
  }

  /** The pod's process hangs: its metrics endpoint (and any probe) gets no answer until it is replaced. */
  hangPod(pod: V1Pod): void {
    this.hungPods.add(podKey(pod));
  }

  isHung(pod: V1Pod): boolean {
    return this.hungPods.has(podKey(pod));
  }

  // ------------------------------------------------------------------------------------- pods

  pod(namespace: string, name: string): V1Pod | undefined {
    return this.kube.pods.get(`${namespace}/${name}`);
  }

  /** A pod of `app` in `namespace` on `node` (the seeded cluster places one per node). */
  podOn(namespace: string, app: string, node: string): V1Pod {
    const pod = this.kube
      .podsMatching(namespace, { matchLabels: { app } })
      .find((candidate) => candidate.spec?.nodeName === node);
    if (!pod) throw new Error(`simulated world: no ${namespace}/${app} pod on ${node}`);
    return pod;
  }

  podsOn(node: string): V1Pod[] {
    return [...this.kube.pods.values()].filter(
      (pod) => pod.spec?.nodeName === node && pod.status?.phase === 'Running',
    );
  }

  /** Backdates a pod (and its start) as if it had run since then. */
  backdatePod(pod: V1Pod, since: number): void {
    this.kube.edit(this.kube.pods, podKey(pod), (object) => {
      object.metadata!.creationTimestamp = new Date(since * 1_000);
      object.status!.startTime = new Date(since * 1_000);
      for (const status of object.status?.containerStatuses ?? [])
        if (status.state?.running) status.state.running.startedAt = new Date(since * 1_000);
    });
  }

  /**
   * A running container's readiness probe fails from `sinceMinutes` ago (a wedged process, a dependency
   * it cannot reach): it and its pod are not Ready, and the kubelet has recorded Unhealthy ever since.
   */
  failReadiness(pod: V1Pod, container: string, probeError: string, sinceMinutes: number): void {
    const at = new Date((nowSeconds() - sinceMinutes * 60) * 1_000);
    this.kube.edit(this.kube.pods, podKey(pod), (object) => {
      object.status!.conditions = (object.status!.conditions ?? []).map((condition) =>
        condition.type === 'Ready' || condition.type === 'ContainersReady'
          ? { ...condition, status: 'False', reason: 'ContainersNotReady', lastTransitionTime: at }
          : condition,
      );
      object.status!.containerStatuses = (object.status!.containerStatuses ?? []).map((status) =>
        status.name === container ? { ...status, ready: false } : status,
      );
    });
    this.kube.addEvent({
      object: pod,
      type: 'Warning',
      reason: 'Unhealthy',
      message: `Readiness probe failed: ${probeError}`,
      count: Math.max(1, Math.round(sinceMinutes * 6)),
      firstSeenMinutesAgo: sinceMinutes,
      source: 'kubelet',
      ...(pod.spec?.nodeName ? { host: pod.spec.nodeName } : {}),
    });
    this.kube.reconcile();
  }

  /** A container's working set follows this model instead of staying where metrics-server put it. */
  setMemoryModel(pod: V1Pod, container: string, model: ContainerSeries): void {
    this.memoryModels.set(`${podKey(pod)}/${container}`, model);
  }

  /** A container's restart count follows this model (CrashLoopBackOff restarts on a back-off). */
  setRestartModel(pod: V1Pod, container: string, model: ContainerSeries): void {
    this.restartModels.set(`${podKey(pod)}/${container}`, model);
  }

  /** Working set of a container over time: its model, else its current usage; null before it existed. */
  containerMemory(pod: V1Pod, container: string): (time: number) => number | null {
    const key = `${podKey(pod)}/${container}`;
    const created = podCreated(pod);
    const model = this.memoryModels.get(key);
    if (model) return (time) => (time < created - 1 ? null : model(time));
    const bytes = parseQuantity(this.kube.podUsage.get(podKey(pod))?.get(container)?.memory ?? '0');
    return (time) => (time < created - 1 ? null : bytes);
  }

  /** Restart count of a container over time: its model, else the count in its status. */
  containerRestarts(pod: V1Pod, container: string): (time: number) => number {
    const model = this.restartModels.get(`${podKey(pod)}/${container}`);
    const count = pod.status?.containerStatuses?.find((status) => status.name === container)?.restartCount;
    return model ?? (() => count ?? 0);
  }

  /** CPU cores a container uses now (metrics-server's view). */
  containerCpu(pod: V1Pod, container: string): number {
    return parseQuantity(this.kube.podUsage.get(podKey(pod))?.get(container)?.cpu ?? '0');
  }

  containerCpuSeconds(pod: V1Pod, container: string): RateCounter {
    const key = `${podKey(pod)}/${container}`;
    let counter = this.cpuCounters.get(key);
    if (!counter) {
      counter = new RateCounter(this.containerCpu(pod, container), podCreated(pod));
      this.cpuCounters.set(key, counter);
    }
    return counter;
  }

  /** CFS scheduler periods (100 ms each) and the share of them throttled near the CPU limit. */
  containerCfs(pod: V1Pod, container: string): { periods: RateCounter; throttled: RateCounter } | undefined {
    const limit = pod.spec?.containers.find((candidate) => candidate.name === container)?.resources?.limits
      ?.cpu;
    if (!limit) return undefined;
    const key = `${podKey(pod)}/${container}`;
    let counters = this.cfsCounters.get(key);
    if (!counters) {
      const created = podCreated(pod);
      counters = {
        periods: new RateCounter(10, created),
        throttled: new RateCounter(10 * throttledShare(this.containerCpu(pod, container), limit), created),
      };
      this.cfsCounters.set(key, counters);
    }
    return counters;
  }

  /** Memory in use on a node at a time: the system's plus every running pod's containers'. */
  nodeMemoryUsed(node: string, time: number): number {
    let total = SYSTEM_MEMORY_BYTES;
    for (const pod of this.podsOn(node))
      for (const container of pod.spec?.containers ?? [])
        total += this.containerMemory(pod, container.name)(time) ?? 0;
    return total;
  }

  nodeCpuUsed(node: string): number {
    return this.podsOn(node).reduce(
      (sum, pod) =>
        sum + (pod.spec?.containers ?? []).reduce((inner, c) => inner + this.containerCpu(pod, c.name), 0),
      SYSTEM_CPU_CORES,
    );
  }

  // ------------------------------------------------------------------------------------- tick

  /** What the kubelets, metrics-server and the scenarios' own dynamics do, every tick. */
  tick(): void {
    if (this.stopped) return;
    const now = nowSeconds();
    const { kube } = this;
    for (const pod of kube.pods.values()) {
      const key = podKey(pod);
      for (const container of pod.spec?.containers ?? []) {
        const model = this.memoryModels.get(`${key}/${container.name}`);
        if (model) {
          const usage = kube.podUsage.get(key)?.get(container.name);
          kube.setPodUsage(pod.metadata!.namespace!, pod.metadata!.name!, container.name, {
            cpu: usage?.cpu ?? '10m',
            memory: `${Math.round(model(now) / 1024)}Ki`,
          });
        }
        const restarts = this.restartModels.get(`${key}/${container.name}`);
        const status = pod.status?.containerStatuses?.find((candidate) => candidate.name === container.name);
        if (restarts && status) status.restartCount = restarts(now);
        this.cpuCounters
          .get(`${key}/${container.name}`)
          ?.setRate(this.containerCpu(pod, container.name), now);
        const cfs = this.cfsCounters.get(`${key}/${container.name}`);
        const limit = container.resources?.limits?.cpu;
        if (cfs && limit)
          cfs.throttled.setRate(10 * throttledShare(this.containerCpu(pod, container.name), limit), now);
      }
    }
    this.forgetRemovedPods();
    for (const { namespace, claim, volume } of this.volumes.values())
      this.syncVolume(namespace, claim, volume, now);
    for (const host of this.hosts.values()) {
      // The kubelet's stats summary reports the root filesystem node-exporter sees.
      const root = host.filesystems.find((filesystem) => filesystem.mountpoint === '/');
      if (root)
        kube.setNodeFilesystem(host.name, {
          capacity: String(root.sizeBytes),
          used: String(root.usedAt(now)),
        });
      // A stopped kubelet posts no status and metrics-server gets nothing from it.
      if (!host.kubelet.active) continue;
      const used = this.nodeMemoryUsed(host.name, now);
      const cpu = this.nodeCpuUsed(host.name);
      kube.setNodeUsage(host.name, {
        cpu: `${Math.round(cpu * 1000)}m`,
        memory: `${Math.round(used / 1024)}Ki`,
      });
      const shares = cpuModeShares(Math.min(1, cpu / host.cpus));
      for (const modes of host.cpuSeconds)
        for (const [mode, counter] of modes) counter.setRate(shares[mode as keyof typeof shares], now);
      this.setMemoryPressure(host.name, host.memoryBytes - used < MEMORY_PRESSURE_BELOW_BYTES, used);
    }
    this.aws.tick(now);
    for (const hook of this.tickHooks) hook(now);
  }

  private forgetRemovedPods(): void {
    for (const key of this.hungPods) if (!this.kube.pods.has(key)) this.hungPods.delete(key);
    for (const map of [this.memoryModels, this.restartModels, this.cpuCounters, this.cfsCounters]) {
      for (const key of map.keys()) {
        const podPart = key.slice(0, key.lastIndexOf('/'));
        if (!this.kube.pods.has(podPart)) map.delete(key);
      }
    }
  }

  private setMemoryPressure(name: string, pressure: boolean, used: number): void {
    const before = this.memoryPressure.get(name);
    this.memoryPressure.set(name, pressure);
    this.kube.edit(this.kube.nodes, name, (node) => {
      const at = new Date();
      node.status!.conditions = (node.status!.conditions ?? []).map((condition) => {
        if (condition.type === 'Ready') return { ...condition, lastHeartbeatTime: at };
        if (condition.type !== 'MemoryPressure') return condition;
        const status = pressure ? 'True' : 'False';
        return {
          ...condition,
          status,
          lastHeartbeatTime: at,
          ...(condition.status === status
            ? {}
            : {
                lastTransitionTime: at,
                reason: pressure ? 'KubeletHasInsufficientMemory' : 'KubeletHasSufficientMemory',
                message: pressure
                  ? 'kubelet has insufficient memory available'
                  : 'kubelet has sufficient memory available',
              }),
        };
      });
    });
    const host = this.hosts.get(name);
    if (before === true && !pressure)
      this.note(
        `kubelet on ${name}: MemoryPressure cleared (${(used / GI).toFixed(1)} GiB of ${((host?.memoryBytes ?? 0) / GI).toFixed(0)} GiB in use)`,
      );
    if (before === false && pressure) this.note(`kubelet on ${name}: MemoryPressure (under 1 GiB available)`);
  }
}

/** A journald line's prefix: `Nov 25 10:41:07 ip-10-0-2-58 `. */
export function journalStamp(time: number, node: string): string {
  const date = new Date(time * 1_000);
  const month = date.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const clock = date.toISOString().slice(11, 19);
  return `${month} ${String(date.getUTCDate()).padStart(2, ' ')} ${clock} ${node.split('.')[0]}`;
}

/** Share of CFS periods throttled: none well under the limit, most of them at it. */
function throttledShare(usageCores: number, limit: string): number {
  const ratio = usageCores / Math.max(parseQuantity(limit), 0.001);
  return ratio <= 0.8 ? 0 : Math.min(0.9, (ratio - 0.8) * 4);
}

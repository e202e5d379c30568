import type { V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import type { AlertResource, WorkloadReference } from '../../core/resource.ts';
import { PARAMETER_TAG_PREFIX } from '../../core/runbook/parameters.ts';
import type { ToolContext } from '../../ports/tools.ts';
import type { Resolution, ResolverFamily } from '../resolve/resolution.ts';
import { withTransientRetry } from '../resolve/transient.ts';
import { ToolError } from '../tool.ts';
import { describeTarget } from './errors.ts';
import { controllerOf, labelSelectorString } from './objects.ts';
import { type KubernetesSession, type KubernetesToolDeps, openSession } from './session.ts';

/**
 * Resolution of Kubernetes resources through the API, as `kubectl` would find them: a pod's owner chain
 * (Pod → ReplicaSet → Deployment, StatefulSet, DaemonSet, Job → CronJob), the node whose address is
 * node-exporter's `instance` IP, the EC2 instance behind a node (its providerID), the workload behind an
 * HPA, a claim's or a service's pods. Labels and annotations `runbook-autopilot.io/…` of the workload
 * (or node) are read as tags, for parameter overrides.
 */

const TOOL = 'resource.resolve';
const MAX_PODS = 20;

/** `aws:///eu-west-1a/i-0abc…` → `i-0abc…`. */
export function instanceIdOfProviderId(providerId: string | undefined): string | undefined {
  return /^aws:\/\/\/[^/]*\/(i-[0-9a-f]+)$/.exec(providerId ?? '')?.[1];
}

function parameterTags(meta: V1ObjectMeta | undefined): Record<string, string> {
  const all = { ...(meta?.labels ?? {}), ...(meta?.annotations ?? {}) };
  return Object.fromEntries(Object.entries(all).filter(([key]) => key.startsWith(PARAMETER_TAG_PREFIX)));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class KubernetesResolution {
  constructor(
    private readonly session: KubernetesSession,
    private readonly resolution: Resolution,
  ) {}

  private get resource(): AlertResource {
    return this.resolution.resource;
  }

  /** The top-level controller of a pod, following controller references. */
  async ownerOf(
    pod: V1Pod,
    namespace: string,
  ): Promise<{ workload: WorkloadReference; via: string; meta?: V1ObjectMeta }> {
    const owner = controllerOf(pod.metadata);
    const name = pod.metadata?.name ?? '';
    if (!owner) return { workload: { kind: 'Pod', name, namespace }, via: 'the pod has no controller' };
    if (owner.kind === 'ReplicaSet') {
      const replicaSet = await this.session.request(
        { verb: 'get', resource: 'replicasets', group: 'apps', namespace, name: owner.name },
        (options) => this.session.apps.readNamespacedReplicaSet({ namespace, name: owner.name }, options),
      );
      const top = controllerOf(replicaSet.metadata);
      if (top?.kind === 'Deployment') {
        const deployment = await this.session.request(
          { verb: 'get', resource: 'deployments', group: 'apps', namespace, name: top.name },
          (options) => this.session.apps.readNamespacedDeployment({ namespace, name: top.name }, options),
        );
        return {
          workload: { kind: 'Deployment', name: top.name, namespace },
          via: `ownerReferences: Pod ${name} → ReplicaSet ${owner.name} → Deployment ${top.name}`,
          meta: deployment.metadata,
        };
      }
      return {
        workload: { kind: 'ReplicaSet', name: owner.name, namespace },
        via: `ownerReferences: Pod ${name} → ReplicaSet ${owner.name}`,
        meta: replicaSet.metadata,
      };
    }
    if (owner.kind === 'Job') {
      const job = await this.session.request(
        { verb: 'get', resource: 'jobs', group: 'batch', namespace, name: owner.name },
        (options) => this.session.clients.batch.readNamespacedJob({ namespace, name: owner.name }, options),
      );
      const cron = controllerOf(job.metadata);
      return cron?.kind === 'CronJob'
        ? {
            workload: { kind: 'Job', name: owner.name, namespace },
            via: `ownerReferences: Pod ${name} → Job ${owner.name} (of CronJob ${cron.name})`,
            meta: job.metadata,
          }
        : {
            workload: { kind: 'Job', name: owner.name, namespace },
            via: `ownerReferences: Pod ${name} → Job ${owner.name}`,
            meta: job.metadata,
          };
    }
    const via = `ownerReferences: Pod ${name} → ${owner.kind} ${owner.name}`;
    if (
      (owner.kind === 'StatefulSet' || owner.kind === 'DaemonSet') &&
      owner.apiVersion.startsWith('apps/')
    ) {
      // Read for its labels and annotations: parameter overrides live on the workload.
      const workload = await this.readWorkload(owner.kind, namespace, owner.name);
      return { workload: { kind: owner.kind, name: owner.name, namespace }, via, meta: workload.metadata };
    }
    return { workload: { kind: owner.kind, name: owner.name, namespace }, via };
  }

  async pod(namespace: string, name: string): Promise<void> {
    const pod = await this.session.request({ verb: 'get', resource: 'pods', namespace, name }, (options) =>
      this.session.core.readNamespacedPod({ namespace, name }, options),
    );
    this.resolution.set('pod', name, {
      from: `Pod ${namespace}/${name}`,
      to: name,
      via: 'the alert’s pod label',
    });
    await this.workloadOfPod(pod, namespace);
    if (pod.spec?.nodeName) await this.node(pod.spec.nodeName, `spec.nodeName of Pod ${namespace}/${name}`);
  }

  private async workloadOfPod(pod: V1Pod, namespace: string): Promise<void> {
    const { workload, via, meta } = await this.ownerOf(pod, namespace);
    this.resolution.set('workload', workload, {
      from: `Pod ${namespace}/${pod.metadata?.name ?? ''}`,
      to: `${workload.kind} ${namespace}/${workload.name}`,
      via,
    });
    this.resolution.addTags(parameterTags(meta));
  }

  /** Pods matching a selector; the first one's workload and node stand for the rest. */
  private async podsBySelector(namespace: string, labelSelector: string, from: string): Promise<V1Pod[]> {
    const list = await this.session.request({ verb: 'list', resource: 'pods', namespace }, (options) =>
      this.session.core.listNamespacedPod({ namespace, labelSelector }, options),
    );
    const pods = list.items.slice(0, MAX_PODS);
    this.resolution.set(
      'pods',
      pods.map((pod) => pod.metadata?.name ?? ''),
      { from, to: `${list.items.length} pod(s)`, via: `pods matching ${labelSelector || 'everything'}` },
    );
    return pods;
  }

  private async readWorkload(
    kind: 'Deployment' | 'StatefulSet' | 'DaemonSet',
    namespace: string,
    name: string,
  ) {
    const { apps } = this.session;
    switch (kind) {
      case 'Deployment':
        return this.session.request(
          { verb: 'get', resource: 'deployments', group: 'apps', namespace, name },
          (options) => apps.readNamespacedDeployment({ namespace, name }, options),
        );
      case 'StatefulSet':
        return this.session.request(
          { verb: 'get', resource: 'statefulsets', group: 'apps', namespace, name },
          (options) => apps.readNamespacedStatefulSet({ namespace, name }, options),
        );
      case 'DaemonSet':
        return this.session.request(
          { verb: 'get', resource: 'daemonsets', group: 'apps', namespace, name },
          (options) => apps.readNamespacedDaemonSet({ namespace, name }, options),
        );
    }
  }

  async workload(
    kind: 'Deployment' | 'StatefulSet' | 'DaemonSet',
    namespace: string,
    name: string,
  ): Promise<void> {
    const object = await this.readWorkload(kind, namespace, name);
    this.resolution.set(
      'workload',
      { kind, name, namespace },
      {
        from: `${kind} ${namespace}/${name}`,
        to: `${kind} ${namespace}/${name}`,
        via: `the alert’s ${kind.toLowerCase()} label`,
      },
    );
    this.resolution.addTags(parameterTags(object.metadata));
    await this.podsBySelector(
      namespace,
      labelSelectorString(object.spec?.selector),
      `${kind} ${namespace}/${name}`,
    );
  }

  async job(namespace: string, name: string): Promise<void> {
    const job = await this.session.request(
      { verb: 'get', resource: 'jobs', group: 'batch', namespace, name },
      (options) => this.session.clients.batch.readNamespacedJob({ namespace, name }, options),
    );
    const cron = controllerOf(job.metadata);
    this.resolution.set(
      'workload',
      { kind: 'Job', name, namespace },
      {
        from: `Job ${namespace}/${name}`,
        to: `Job ${namespace}/${name}`,
        via:
          cron?.kind === 'CronJob'
            ? `the alert’s job_name label (a Job of CronJob ${cron.name})`
            : 'the alert’s job_name label',
      },
    );
    this.resolution.addTags(parameterTags(job.metadata));
    await this.podsBySelector(namespace, labelSelectorString(job.spec?.selector), `Job ${namespace}/${name}`);
  }

  async hpa(namespace: string, name: string): Promise<void> {
    const hpa = await this.session.request(
      { verb: 'get', resource: 'horizontalpodautoscalers', group: 'autoscaling', namespace, name },
      (options) =>
        this.session.clients.autoscaling.readNamespacedHorizontalPodAutoscaler({ namespace, name }, options),
    );
    const target = hpa.spec?.scaleTargetRef;
    if (!target) {
      this.resolution.miss('workload', `HorizontalPodAutoscaler ${namespace}/${name} has no scaleTargetRef`);
      return;
    }
    this.resolution.set(
      'workload',
      { kind: target.kind, name: target.name, namespace },
      {
        from: `HorizontalPodAutoscaler ${namespace}/${name}`,
        to: `${target.kind} ${namespace}/${target.name}`,
        via: 'spec.scaleTargetRef',
      },
    );
    if (target.kind === 'Deployment' || target.kind === 'StatefulSet') {
      const workload = await this.readWorkload(target.kind, namespace, target.name);
      this.resolution.addTags(parameterTags(workload.metadata));
      await this.podsBySelector(
        namespace,
        labelSelectorString(workload.spec?.selector),
        `${target.kind} ${namespace}/${target.name}`,
      );
    }
    // The autoscaler's own labels and annotations are the more specific: they win.
    this.resolution.addTags(parameterTags(hpa.metadata));
  }

  async cronJob(namespace: string, name: string): Promise<void> {
    const cronJob = await this.session.request(
      { verb: 'get', resource: 'cronjobs', group: 'batch', namespace, name },
      (options) => this.session.clients.batch.readNamespacedCronJob({ namespace, name }, options),
    );
    this.resolution.set(
      'workload',
      { kind: 'CronJob', name, namespace },
      {
        from: `CronJob ${namespace}/${name}`,
        to: `CronJob ${namespace}/${name}`,
        via: 'the alert’s cronjob label',
      },
    );
    this.resolution.addTags(parameterTags(cronJob.metadata));
    const jobs = await this.session.request(
      { verb: 'list', resource: 'jobs', group: 'batch', namespace },
      (options) => this.session.clients.batch.listNamespacedJob({ namespace }, options),
    );
    const latest = jobs.items
      .filter((job) => controllerOf(job.metadata)?.uid === cronJob.metadata?.uid)
      .sort(
        (a, b) =>
          new Date(b.metadata?.creationTimestamp ?? 0).getTime() -
          new Date(a.metadata?.creationTimestamp ?? 0).getTime(),
      )[0];
    if (!latest?.metadata?.name) {
      this.resolution.miss(
        'pods',
        `CronJob ${namespace}/${name} has no Job (none ran yet, or history limits removed them)`,
      );
      return;
    }
    await this.podsBySelector(
      namespace,
      labelSelectorString(latest.spec?.selector),
      `Job ${namespace}/${latest.metadata.name} (the newest of CronJob ${name})`,
    );
  }

  async claim(
    namespace: string,
    name: string,
    from = `PersistentVolumeClaim ${namespace}/${name}`,
  ): Promise<void> {
    const claim = await this.session.request(
      { verb: 'get', resource: 'persistentvolumeclaims', namespace, name },
      (options) => this.session.core.readNamespacedPersistentVolumeClaim({ namespace, name }, options),
    );
    const list = await this.session.request({ verb: 'list', resource: 'pods', namespace }, (options) =>
      this.session.core.listNamespacedPod({ namespace }, options),
    );
    const users = list.items.filter((pod) =>
      (pod.spec?.volumes ?? []).some((volume) => volume.persistentVolumeClaim?.claimName === name),
    );
    if (users.length === 0) {
      this.resolution.addTags(parameterTags(claim.metadata));
      this.resolution.miss('pods', `no pod in ${namespace} mounts PersistentVolumeClaim ${name}`);
      return;
    }
    this.resolution.set(
      'pods',
      users.slice(0, MAX_PODS).map((pod) => pod.metadata?.name ?? ''),
      {
        from,
        to: `${users.length} pod(s)`,
        via: 'spec.volumes[].persistentVolumeClaim of the namespace’s pods',
      },
    );
    await this.workloadOfPod(users[0]!, namespace);
    this.resolution.addTags(parameterTags(claim.metadata));
    // The node that mounts it (a ReadWriteOnce volume is on one node): where its usage is measured.
    const mounted = users.find((pod) => pod.spec?.nodeName && pod.status?.phase === 'Running') ?? users[0]!;
    if (mounted.spec?.nodeName)
      await this.node(
        mounted.spec.nodeName,
        `spec.nodeName of Pod ${namespace}/${mounted.metadata?.name ?? ''}, which mounts the claim`,
      );
  }

  /** A PersistentVolume alert: the claim bound to it, and on from there. */
  async volume(name: string): Promise<void> {
    const volume = await this.session.request(
      { verb: 'get', resource: 'persistentvolumes', name },
      (options) => this.session.core.readPersistentVolume({ name }, options),
    );
    const claim = volume.spec?.claimRef;
    if (!claim?.name || !claim.namespace) {
      this.resolution.miss(
        'pods',
        `PersistentVolume ${name} is not bound to a claim (${volume.status?.phase ?? 'no phase'})`,
      );
      return;
    }
    await this.claim(
      claim.namespace,
      claim.name,
      `PersistentVolume ${name} (claim ${claim.namespace}/${claim.name})`,
    );
  }

  async selectorOwner(
    kind: 'Service' | 'PodDisruptionBudget',
    namespace: string,
    name: string,
  ): Promise<void> {
    const selector =
      kind === 'Service'
        ? Object.entries(
            (
              await this.session.request({ verb: 'get', resource: 'services', namespace, name }, (options) =>
                this.session.core.readNamespacedService({ namespace, name }, options),
              )
            ).spec?.selector ?? {},
          )
            .map(([key, value]) => `${key}=${value}`)
            .join(',')
        : labelSelectorString(
            (
              await this.session.request(
                { verb: 'get', resource: 'poddisruptionbudgets', group: 'policy', namespace, name },
                (options) =>
                  this.session.clients.policy.readNamespacedPodDisruptionBudget({ namespace, name }, options),
              )
            ).spec?.selector,
          );
    if (selector === '') {
      this.resolution.miss('pods', `${kind} ${namespace}/${name} selects no pods (no selector)`);
      return;
    }
    const pods = await this.podsBySelector(namespace, selector, `${kind} ${namespace}/${name}`);
    if (pods[0]) await this.workloadOfPod(pods[0], namespace);
    else
      this.resolution.miss('workload', `no pod matches ${kind} ${namespace}/${name}'s selector ${selector}`);
  }

  async node(name: string, via: string): Promise<void> {
    const node = await this.session.request({ verb: 'get', resource: 'nodes', name }, (options) =>
      this.session.core.readNode({ name }, options),
    );
    if (this.resolution.get('node') === undefined && this.resource.node !== name)
      this.resolution.set('node', name, { from: this.describe(), to: `Node ${name}`, via });
    const instanceId = instanceIdOfProviderId(node.spec?.providerID);
    if (instanceId)
      this.resolution.set('instanceId', instanceId, {
        from: `Node ${name}`,
        to: instanceId,
        via: `spec.providerID ${node.spec?.providerID}`,
      });
    else
      this.resolution.miss(
        'instanceId',
        `Node ${name} has no AWS providerID (${node.spec?.providerID ?? 'none'})`,
      );
    if (this.resource.type === 'k8s-node' || this.resource.type === 'host')
      this.resolution.addTags(parameterTags(node.metadata));
  }

  /** node-exporter names a host by IP: the node with that address. */
  async host(address: string): Promise<void> {
    const nodes = await this.session.request({ verb: 'list', resource: 'nodes' }, (options) =>
      this.session.core.listNode({}, options),
    );
    // node-exporter names a host by its IP (an InternalIP); some setups relabel it to the hostname.
    const node = nodes.items.find(
      (candidate) =>
        candidate.metadata?.name === address ||
        (candidate.status?.addresses ?? []).some((entry) => entry.address === address),
    );
    if (!node?.metadata?.name) {
      this.resolution.miss('node', `no node of ${nodes.items.length} has the address ${address}`);
      return;
    }
    await this.node(node.metadata.name, `status.addresses of Node ${node.metadata.name} include ${address}`);
  }

  describe(): string {
    const { kind, name, namespace, type, id } = this.resource;
    return kind && name ? `${kind} ${namespace ? `${namespace}/` : ''}${name}` : `${type} ${id}`;
  }
}

/**
 * Every read of this session tries a passing failure (429, 5xx, a reset connection) again with backoff
 * before it counts: a miss here fails every later step of the run.
 */
function retryingReads(session: KubernetesSession, context: ToolContext): KubernetesSession {
  const once = session.request.bind(session);
  session.request = (target, call, how) =>
    withTransientRetry(() => once(target, call, how), context, `${target.verb} ${describeTarget(target)}`);
  return session;
}

/** Which configured cluster the alert's `cluster` label names, if any (else the environment's). */
function clusterOf(deps: KubernetesToolDeps, resource: AlertResource): string | undefined {
  const { contexts, eks } = deps.runtime.config.tools.kubernetes;
  return resource.cluster &&
    (Object.hasOwn(contexts, resource.cluster) || Object.hasOwn(eks, resource.cluster))
    ? resource.cluster
    : undefined;
}

export function kubernetesResolver(deps: KubernetesToolDeps): ResolverFamily {
  return {
    name: 'kubernetes',
    handles: (resource) => resource.type.startsWith('k8s-') || resource.type === 'host',
    async resolve(resolution: Resolution, context: ToolContext): Promise<void> {
      const resource = resolution.resource;
      let session: KubernetesSession;
      try {
        session = retryingReads(
          await withTransientRetry(
            () => openSession(deps, TOOL, clusterOf(deps, resource), context),
            context,
            'the cluster connection',
          ),
          context,
        );
      } catch (error) {
        resolution.miss('kubernetes', message(error));
        return;
      }
      const kubernetes = new KubernetesResolution(session, resolution);
      const namespace = resource.namespace ?? '';
      const name = resource.name ?? resource.id;
      try {
        switch (resource.type) {
          case 'k8s-pod':
            return await kubernetes.pod(namespace, name);
          case 'k8s-deployment':
            return await kubernetes.workload('Deployment', namespace, name);
          case 'k8s-statefulset':
            return await kubernetes.workload('StatefulSet', namespace, name);
          case 'k8s-daemonset':
            return await kubernetes.workload('DaemonSet', namespace, name);
          case 'k8s-job':
            return await kubernetes.job(namespace, name);
          case 'k8s-cronjob':
            return await kubernetes.cronJob(namespace, name);
          case 'k8s-pv':
            return await kubernetes.volume(name);
          case 'k8s-hpa':
            return await kubernetes.hpa(namespace, name);
          case 'k8s-pvc':
            return await kubernetes.claim(namespace, name);
          case 'k8s-service':
            return await kubernetes.selectorOwner('Service', namespace, name);
          case 'k8s-pdb':
            return await kubernetes.selectorOwner('PodDisruptionBudget', namespace, name);
          case 'k8s-node':
            return await kubernetes.node(name, 'the alert’s node label');
          case 'host':
            if (resource.address) return await kubernetes.host(resource.address);
            return;
          default:
            return;
        }
      } catch (error) {
        if (context.signal.aborted) throw error;
        resolution.miss(kubernetes.describe(), error instanceof ToolError ? error.message : message(error));
      }
    },
  };
}

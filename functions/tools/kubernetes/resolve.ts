import type { V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import type { AlertResource, WorkloadReference } from '../../core/resource.ts';
import { PARAMETER_TAG_PREFIX } from '../../core/runbook/parameters.ts';
import type { ToolContext } from '../../ports/tools.ts';
import type { Resolution, ResolverFamily } from '../resolve/resolution.ts';
import { ToolError } from '../tool.ts';
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
    return {
      workload: { kind: owner.kind, name: owner.name, namespace },
      via: `ownerReferences: Pod ${name} → ${owner.kind} ${owner.name}`,
    };
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

  async workload(
    kind: 'Deployment' | 'StatefulSet' | 'DaemonSet',
    namespace: string,
    name: string,
  ): Promise<void> {
    const read = {
      Deployment: () =>
        this.session.request(
          { verb: 'get', resource: 'deployments', group: 'apps', namespace, name },
          (options) => this.session.apps.readNamespacedDeployment({ namespace, name }, options),
        ),
      StatefulSet: () =>
        this.session.request(
          { verb: 'get', resource: 'statefulsets', group: 'apps', namespace, name },
          (options) => this.session.apps.readNamespacedStatefulSet({ namespace, name }, options),
        ),
      DaemonSet: () =>
        this.session.request(
          { verb: 'get', resource: 'daemonsets', group: 'apps', namespace, name },
          (options) => this.session.apps.readNamespacedDaemonSet({ namespace, name }, options),
        ),
    }[kind];
    const object = await read();
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
    this.resolution.addTags(parameterTags(hpa.metadata));
  }

  async claim(namespace: string, name: string): Promise<void> {
    const list = await this.session.request({ verb: 'list', resource: 'pods', namespace }, (options) =>
      this.session.core.listNamespacedPod({ namespace }, options),
    );
    const users = list.items.filter((pod) =>
      (pod.spec?.volumes ?? []).some((volume) => volume.persistentVolumeClaim?.claimName === name),
    );
    if (users.length === 0) {
      this.resolution.miss('pods', `no pod in ${namespace} mounts PersistentVolumeClaim ${name}`);
      return;
    }
    this.resolution.set(
      'pods',
      users.slice(0, MAX_PODS).map((pod) => pod.metadata?.name ?? ''),
      {
        from: `PersistentVolumeClaim ${namespace}/${name}`,
        to: `${users.length} pod(s)`,
        via: 'spec.volumes[].persistentVolumeClaim of the namespace’s pods',
      },
    );
    await this.workloadOfPod(users[0]!, namespace);
    if (users[0]!.spec?.nodeName)
      await this.node(users[0]!.spec.nodeName, `spec.nodeName of the pod using the claim`);
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
    const node = nodes.items.find((candidate) =>
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
        session = await openSession(deps, TOOL, clusterOf(deps, resource), context);
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

import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import {
  type CordonOutput,
  NODE_CONDITIONS,
  type NodeConditionType,
  type NodeResourceAmounts,
  type NodeResourcesOutput,
  type PodOnNode,
  type PodsOnNodeOutput,
} from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool } from '../tool.ts';
import {
  controllerOf,
  METRICS_GROUP,
  METRICS_VERSION,
  type NodeMetrics,
  type PodMetricsList,
  podsOnNodeFieldSelector,
  requestsOf,
  restartsOf,
} from './objects.ts';
import { parseQuantity, quantityOr, roundCores } from './quantity.ts';
import {
  DRY_RUN_ALL,
  type KubernetesSession,
  type KubernetesToolDeps,
  openSession,
  PatchStrategy,
} from './session.ts';

/** k8s.node-resources, k8s.pods-on-node, k8s.cordon and k8s.uncordon. */

/** Per-namespace PodMetrics lists up to this many namespaces; above it, one cluster-wide list. */
const MAX_NAMESPACED_METRICS_LISTS = 8;

function amounts(resources: Record<string, string> | undefined): NodeResourceAmounts {
  return {
    cpuCores: roundCores(quantityOr(resources?.cpu, 0)),
    memoryBytes: Math.round(quantityOr(resources?.memory, 0)),
    pods: Math.round(quantityOr(resources?.pods, 0)),
    ephemeralStorageBytes: Math.round(quantityOr(resources?.['ephemeral-storage'], 0)),
  };
}

function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1_000) / 10 : 0;
}

async function readNode(session: KubernetesSession, node: string): Promise<V1Node> {
  return session.request({ verb: 'get', resource: 'nodes', name: node }, (options) =>
    session.core.readNode({ name: node }, options),
  );
}

async function listPodsOnNode(session: KubernetesSession, node: string): Promise<V1Pod[]> {
  const list = await session.request({ verb: 'list', resource: 'pods' }, (options) =>
    session.core.listPodForAllNamespaces({ fieldSelector: podsOnNodeFieldSelector(node) }, options),
  );
  return list.items;
}

/** Pod usage from metrics.k8s.io keyed by namespace/name; undefined when the API is absent. */
async function podUsage(
  session: KubernetesSession,
  namespaces: readonly string[],
): Promise<Map<string, { cpuCores: number; memoryBytes: number }> | undefined> {
  const target = { verb: 'list', resource: 'pods', group: METRICS_GROUP } as const;
  const lists: PodMetricsList[] = [];
  if (namespaces.length > MAX_NAMESPACED_METRICS_LISTS) {
    const answer = await session.optional(
      target,
      (options) =>
        session.custom.listClusterCustomObject(
          { group: METRICS_GROUP, version: METRICS_VERSION, plural: 'pods' },
          options,
        ) as Promise<PodMetricsList>,
      [404, 503],
    );
    if ('absent' in answer) {
      session.context.log('pod metrics unavailable; using requests', { reason: answer.absent });
      return undefined;
    }
    lists.push(answer.value);
  } else {
    for (const namespace of namespaces) {
      const answer = await session.optional(
        { ...target, namespace },
        (options) =>
          session.custom.listNamespacedCustomObject(
            { group: METRICS_GROUP, version: METRICS_VERSION, namespace, plural: 'pods' },
            options,
          ) as Promise<PodMetricsList>,
        [404, 503],
      );
      if ('absent' in answer) {
        session.context.log('pod metrics unavailable; using requests', { reason: answer.absent });
        return undefined;
      }
      lists.push(answer.value);
    }
  }
  const usage = new Map<string, { cpuCores: number; memoryBytes: number }>();
  for (const item of lists.flatMap((list) => list.items ?? [])) {
    let cpuCores = 0;
    let memoryBytes = 0;
    for (const container of item.containers ?? []) {
      cpuCores += parseQuantity(container.usage.cpu);
      memoryBytes += parseQuantity(container.usage.memory);
    }
    usage.set(`${item.metadata.namespace}/${item.metadata.name}`, { cpuCores, memoryBytes });
  }
  return usage;
}

/**
 * The workload a pod belongs to: a ReplicaSet's owning Deployment (what a rollout restart acts on),
 * otherwise the pod's own controller. A ReplicaSet that is gone meanwhile stays the answer.
 */
async function ownerOf(
  session: KubernetesSession,
  pod: V1Pod,
  replicaSets: Map<string, Promise<{ kind: string; name: string }>>,
): Promise<{ kind: string | null; name: string | null }> {
  const owner = controllerOf(pod.metadata);
  if (!owner) return { kind: null, name: null };
  if (owner.kind !== 'ReplicaSet' || !owner.apiVersion.startsWith('apps/')) {
    return { kind: owner.kind, name: owner.name };
  }
  const namespace = pod.metadata?.namespace ?? 'default';
  const key = `${namespace}/${owner.name}`;
  let resolved = replicaSets.get(key);
  if (!resolved) {
    resolved = session
      .optional(
        { verb: 'get', resource: 'replicasets', group: 'apps', namespace, name: owner.name },
        (options) => session.apps.readNamespacedReplicaSet({ namespace, name: owner.name }, options),
      )
      .then((answer) => {
        const parent = 'value' in answer ? controllerOf(answer.value.metadata) : undefined;
        return parent ? { kind: parent.kind, name: parent.name } : { kind: owner.kind, name: owner.name };
      });
    replicaSets.set(key, resolved);
  }
  return resolved;
}

const SORTERS = {
  memory: (a: PodOnNode, b: PodOnNode) => b.memoryBytes - a.memoryBytes,
  cpu: (a: PodOnNode, b: PodOnNode) => b.cpuCores - a.cpuCores,
  restarts: (a: PodOnNode, b: PodOnNode) => b.restarts - a.restarts || b.memoryBytes - a.memoryBytes,
} as const;

function byName(a: PodOnNode, b: PodOnNode): number {
  return a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
}

async function setUnschedulable(
  session: KubernetesSession,
  node: string,
  unschedulable: boolean,
): Promise<CordonOutput> {
  const { dryRun } = session.context;
  const current = await readNode(session, node);
  const wasUnschedulable = current.spec?.unschedulable === true;
  if (wasUnschedulable === unschedulable) {
    session.context.log(
      `node ${node} already ${unschedulable ? 'cordoned' : 'schedulable'}; nothing to patch`,
    );
    return { node, unschedulable, wasUnschedulable, changed: false, dryRun };
  }
  const patched = await session.request(
    { verb: 'patch', resource: 'nodes', name: node },
    (options) =>
      session.core.patchNode(
        { name: node, body: { spec: { unschedulable } }, ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}) },
        options,
      ),
    { patch: PatchStrategy.MergePatch },
  );
  return {
    node,
    unschedulable: patched.spec?.unschedulable === true,
    wasUnschedulable,
    changed: true,
    dryRun,
  };
}

export function nodeTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const nodeResources = defineTool(declarationOf('k8s.node-resources'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.node-resources', parameters.cluster, context);
    const { node } = parameters;
    const object = await readNode(session, node);
    const [pods, metrics] = await Promise.all([
      listPodsOnNode(session, node),
      session.optional(
        { verb: 'get', resource: 'nodes', group: METRICS_GROUP, name: node },
        (options) =>
          session.custom.getClusterCustomObject(
            { group: METRICS_GROUP, version: METRICS_VERSION, plural: 'nodes', name: node },
            options,
          ) as Promise<NodeMetrics>,
        [404, 503],
      ),
    ]);
    const conditions = Object.fromEntries(
      NODE_CONDITIONS.map((type) => [
        type,
        (object.status?.conditions ?? []).some(
          (condition) => condition.type === type && condition.status === 'True',
        ),
      ]),
    ) as Record<NodeConditionType, boolean>;
    const capacity = amounts(object.status?.capacity);
    const allocatable = amounts(object.status?.allocatable ?? object.status?.capacity);
    const output: NodeResourcesOutput = {
      name: object.metadata?.name ?? node,
      ready: conditions.Ready,
      unschedulable: object.spec?.unschedulable === true,
      conditions,
      memoryPressure: conditions.MemoryPressure,
      diskPressure: conditions.DiskPressure,
      capacity,
      allocatable,
      podCount: pods.length,
      kubeletVersion: object.status?.nodeInfo?.kubeletVersion ?? null,
    };
    if ('value' in metrics) {
      const cpuCores = parseQuantity(metrics.value.usage.cpu);
      const memoryBytes = parseQuantity(metrics.value.usage.memory);
      output.usage = {
        cpuCores: roundCores(cpuCores),
        memoryBytes: Math.round(memoryBytes),
        cpuPercent: percent(cpuCores, allocatable.cpuCores),
        memoryPercent: percent(memoryBytes, allocatable.memoryBytes),
      };
    } else {
      context.log('node metrics unavailable; usage omitted', { node, reason: metrics.absent });
    }
    return output;
  });

  const podsOnNode = defineTool(declarationOf('k8s.pods-on-node'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.pods-on-node', parameters.cluster, context);
    const { node, sortBy, limit } = parameters;
    // The node first: a missing node is NotFound (an empty pod list would hide it), and its allocatable
    // memory is what memoryShare divides by.
    const object = await readNode(session, node);
    const allocatableMemory = quantityOr(
      object.status?.allocatable?.memory ?? object.status?.capacity?.memory,
      0,
    );
    const pods = await listPodsOnNode(session, node);
    const namespaces = [...new Set(pods.map((pod) => pod.metadata?.namespace ?? 'default'))].sort();
    const usage = pods.length > 0 ? await podUsage(session, namespaces) : new Map();
    const rows = pods.map((pod): { pod: V1Pod; row: PodOnNode } => {
      const namespace = pod.metadata?.namespace ?? 'default';
      const name = pod.metadata?.name ?? '';
      const measured = usage?.get(`${namespace}/${name}`);
      const amount = measured ?? requestsOf(pod);
      return {
        pod,
        row: {
          namespace,
          name,
          ownerKind: null,
          ownerName: null,
          phase: pod.status?.phase ?? null,
          memoryBytes: Math.round(amount.memoryBytes),
          cpuCores: roundCores(amount.cpuCores),
          memoryShare:
            allocatableMemory > 0
              ? Math.min(1, Math.round((amount.memoryBytes / allocatableMemory) * 10_000) / 10_000)
              : 0,
          restarts: restartsOf(pod),
          usageSource: measured ? 'metrics' : 'requests',
        },
      };
    });
    rows.sort((a, b) => SORTERS[sortBy](a.row, b.row) || byName(a.row, b.row));
    const kept = rows.slice(0, limit);
    const replicaSets = new Map<string, Promise<{ kind: string; name: string }>>();
    // Owners only for the pods returned: each ReplicaSet is read once.
    for (const { pod, row } of kept) {
      const owner = await ownerOf(session, pod, replicaSets);
      row.ownerKind = owner.kind;
      row.ownerName = owner.name;
    }
    const output: PodsOnNodeOutput = {
      node,
      sortBy,
      pods: kept.map(({ row }) => row),
      total: rows.length,
      metricsAvailable: rows.some(({ row }) => row.usageSource === 'metrics'),
    };
    return output;
  });

  const cordon = defineTool(declarationOf('k8s.cordon'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.cordon', parameters.cluster, context);
    return setUnschedulable(session, parameters.node, true);
  });

  const uncordon = defineTool(declarationOf('k8s.uncordon'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.uncordon', parameters.cluster, context);
    return setUnschedulable(session, parameters.node, false);
  });

  return [nodeResources, podsOnNode, cordon, uncordon];
}

export type {
  CordonOutput,
  NodeConditionType,
  NodeResourceAmounts,
  NodeResourcesOutput,
  PodOnNode,
  PodsOnNodeOutput,
} from '../declarations/kubernetes.ts';

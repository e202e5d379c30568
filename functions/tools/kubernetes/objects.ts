import type {
  V1Container,
  V1ContainerStatus,
  V1LabelSelector,
  V1ObjectMeta,
  V1OwnerReference,
  V1Pod,
} from '@kubernetes/client-node';
import type {
  Condition,
  ContainerSpecSummary,
  ContainerStatusSummary,
  ObjectReference,
} from '../declarations/kubernetes.ts';
import { quantityOr } from './quantity.ts';

/** Reading Kubernetes objects the way kubectl does: selectors, owners, restarts, requests. */

/** Pods scheduled on a node that still hold resources (kubectl describe node counts these). */
export function podsOnNodeFieldSelector(node: string): string {
  return `spec.nodeName=${node},status.phase!=Succeeded,status.phase!=Failed`;
}

/** A LabelSelector as the `labelSelector` query string (`app=cart,tier in (web,api),!canary`). */
export function labelSelectorString(selector: V1LabelSelector | undefined): string {
  const terms = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const expression of selector?.matchExpressions ?? []) {
    const values = (expression.values ?? []).join(',');
    switch (expression.operator) {
      case 'In':
        terms.push(`${expression.key} in (${values})`);
        break;
      case 'NotIn':
        terms.push(`${expression.key} notin (${values})`);
        break;
      case 'Exists':
        terms.push(expression.key);
        break;
      case 'DoesNotExist':
        terms.push(`!${expression.key}`);
        break;
      default:
        throw new Error(`unknown label selector operator "${expression.operator}" on key ${expression.key}`);
    }
  }
  return terms.join(',');
}

/** The managing controller: the owner reference with controller=true (else the first owner). */
export function controllerOf(meta: V1ObjectMeta | undefined): V1OwnerReference | undefined {
  const owners = meta?.ownerReferences ?? [];
  return owners.find((owner) => owner.controller === true) ?? owners[0];
}

export function isOwnedBy(meta: V1ObjectMeta | undefined, uid: string | undefined): boolean {
  return uid !== undefined && (meta?.ownerReferences ?? []).some((owner) => owner.uid === uid);
}

/** Restarts of all containers (init containers included: a crashing init container restarts too). */
export function restartsOf(pod: V1Pod): number {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return statuses.reduce((sum, status) => sum + (status.restartCount ?? 0), 0);
}

/** A pod with a container (or init container) waiting in CrashLoopBackOff. */
export function isCrashLooping(pod: V1Pod): boolean {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return statuses.some((status) => status.state?.waiting?.reason === 'CrashLoopBackOff');
}

/**
 * A pod's effective requests as the scheduler computes them: the larger of the containers' sum and
 * the largest init container, plus the pod overhead.
 */
export function requestsOf(pod: V1Pod): { cpuCores: number; memoryBytes: number } {
  const sum = (resource: 'cpu' | 'memory') => {
    const containers = (pod.spec?.containers ?? []).reduce(
      (total, container) => total + quantityOr(container.resources?.requests?.[resource], 0),
      0,
    );
    const init = (pod.spec?.initContainers ?? []).reduce(
      (largest, container) => Math.max(largest, quantityOr(container.resources?.requests?.[resource], 0)),
      0,
    );
    return Math.max(containers, init) + quantityOr(pod.spec?.overhead?.[resource], 0);
  };
  return { cpuCores: sum('cpu'), memoryBytes: sum('memory') };
}

/** Whole minutes since a timestamp (the client deserializes metadata timestamps into Dates). */
export function minutesSince(timestamp: Date | string | undefined, now: Date): number | null {
  if (timestamp === undefined) return null;
  const at = timestamp instanceof Date ? timestamp : new Date(timestamp);
  const ms = now.getTime() - at.getTime();
  return Number.isFinite(ms) ? Math.max(0, Math.floor(ms / 60_000)) : null;
}

export const METRICS_GROUP = 'metrics.k8s.io';
export const METRICS_VERSION = 'v1beta1';

/** metrics.k8s.io NodeMetrics / PodMetrics as metrics-server serves them. */
export interface NodeMetrics {
  metadata: { name: string };
  timestamp?: string;
  window?: string;
  usage: { cpu: string; memory: string };
}
export interface PodMetrics {
  metadata: { name: string; namespace: string };
  containers: Array<{ name: string; usage: { cpu: string; memory: string } }>;
}
export interface PodMetricsList {
  items: PodMetrics[];
}

/** A timestamp the client handed over (a Date, or a string for MicroTime fields) as ISO-8601, or null. */
export function isoOf(value: unknown): string | null {
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.toISOString() : null;
  if (typeof value === 'string' && value !== '') {
    const parsed = new Date(value);
    return Number.isFinite(parsed.getTime()) ? parsed.toISOString() : null;
  }
  return null;
}

/** Conditions as runbooks read them: reason and message null rather than absent. */
export function conditionsOf(
  conditions:
    | ReadonlyArray<{
        type: string;
        status: string;
        reason?: string;
        message?: string;
        lastTransitionTime?: unknown;
      }>
    | undefined,
): Condition[] {
  return (conditions ?? []).map((condition) => ({
    type: condition.type,
    status: condition.status,
    reason: condition.reason || null,
    message: condition.message || null,
    lastTransitionTime: isoOf(condition.lastTransitionTime),
  }));
}

/** What a container's status says, flattened: its state, why, and how its last instance ended. */
export function containerStatusesOf(pod: V1Pod): ContainerStatusSummary[] {
  const statuses = new Map(
    [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].map((status) => [
      status.name,
      status,
    ]),
  );
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return containers.map((container) => {
    const status = statuses.get(container.name);
    return containerStatusSummary(container.name, container.image ?? '', status);
  });
}

export function containerStatusSummary(
  name: string,
  image: string,
  status: V1ContainerStatus | undefined,
): ContainerStatusSummary {
  const state = status?.state;
  const last = status?.lastState?.terminated;
  const base = {
    name,
    image: status?.image || image,
    ready: status?.ready === true,
    restarts: status?.restartCount ?? 0,
    lastTerminationReason: last?.reason ?? (last ? `exit code ${last.exitCode}` : null),
    lastExitCode: last?.exitCode ?? null,
    lastTerminatedAt: isoOf(last?.finishedAt),
  };
  if (state?.waiting)
    return {
      ...base,
      state: 'waiting',
      reason: state.waiting.reason ?? null,
      message: state.waiting.message ?? null,
      exitCode: null,
    };
  if (state?.terminated)
    return {
      ...base,
      state: 'terminated',
      reason: state.terminated.reason ?? null,
      message: state.terminated.message ?? null,
      exitCode: state.terminated.exitCode,
    };
  if (state?.running) return { ...base, state: 'running', reason: null, message: null, exitCode: null };
  return { ...base, state: 'unknown', reason: null, message: null, exitCode: null };
}

export function containerSpecsOf(containers: readonly V1Container[] | undefined): ContainerSpecSummary[] {
  return (containers ?? []).map((container) => ({
    name: container.name,
    image: container.image ?? '',
    requests: {
      cpu: container.resources?.requests?.cpu ?? null,
      memory: container.resources?.requests?.memory ?? null,
    },
    limits: {
      cpu: container.resources?.limits?.cpu ?? null,
      memory: container.resources?.limits?.memory ?? null,
    },
  }));
}

export function isPodReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some(
    (condition) => condition.type === 'Ready' && condition.status === 'True',
  );
}

/** A pod the kubelet runs from a manifest on the node: its API object only mirrors it. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

export function ownerReferenceOf(meta: V1ObjectMeta | undefined): ObjectReference | null {
  const owner = controllerOf(meta);
  return owner ? { kind: owner.kind, name: owner.name } : null;
}

import type { V1Container, V1DaemonSet, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { PatchResourcesOutput } from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolErrorKind } from '../tool.ts';
import { formatBytes, formatCores, parseQuantity } from './quantity.ts';
import {
  DRY_RUN_ALL,
  type KubernetesSession,
  type KubernetesToolDeps,
  openSession,
  PatchStrategy,
} from './session.ts';

/**
 * k8s.patch-resources and its inverse k8s.restore-resources: one container's CPU or memory limit and
 * request in a workload's pod template, changed with a JSON patch that first tests the container's
 * name at its index (a template reordered meanwhile fails the patch instead of changing another
 * container).
 */

type Kind = 'Deployment' | 'StatefulSet' | 'DaemonSet';
type Resource = 'cpu' | 'memory';
type Field = 'limits' | 'requests';
type Workload = V1Deployment | V1StatefulSet | V1DaemonSet;

const RESOURCE: Record<Kind, string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
};
const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

async function readWorkload(
  session: KubernetesSession,
  kind: Kind,
  namespace: string,
  name: string,
): Promise<Workload> {
  const target = { verb: 'get', resource: RESOURCE[kind], group: 'apps', namespace, name } as const;
  const { apps } = session;
  if (kind === 'Deployment')
    return session.request(target, (options) => apps.readNamespacedDeployment({ namespace, name }, options));
  if (kind === 'StatefulSet')
    return session.request(target, (options) => apps.readNamespacedStatefulSet({ namespace, name }, options));
  return session.request(target, (options) => apps.readNamespacedDaemonSet({ namespace, name }, options));
}

/** The container a step means: the named one, the template's default-container, or the only one. */
function containerOf(
  session: KubernetesSession,
  kind: Kind,
  workload: Workload,
  requested: string | undefined,
): { container: V1Container; index: number } {
  const containers = workload.spec?.template?.spec?.containers ?? [];
  const where = `${kind} ${workload.metadata?.namespace}/${workload.metadata?.name}`;
  const names = containers.map((container) => container.name);
  const wanted =
    requested ??
    workload.spec?.template?.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION] ??
    (containers.length === 1 ? containers[0]!.name : undefined);
  if (wanted === undefined)
    session.fail(
      ToolErrorKind.Failed,
      `${where} has containers ${names.join(', ')}: name one with "container"`,
    );
  const index = names.indexOf(wanted);
  if (index < 0)
    session.fail(
      ToolErrorKind.NotFound,
      `${where} has no container "${wanted}" (it has ${names.join(', ')})`,
    );
  return { container: containers[index]!, index };
}

function format(resource: Resource, amount: number): string {
  return resource === 'cpu' ? formatCores(amount) : formatBytes(amount);
}

/** The JSON patch that sets (or, with null, removes) a container's limit and request of one resource. */
function resourcesPatch(
  container: V1Container,
  index: number,
  resource: Resource,
  values: Partial<Record<Field, string | null>>,
): object[] {
  const base = `/spec/template/spec/containers/${index}`;
  const operations: object[] = [{ op: 'test', path: `${base}/name`, value: container.name }];
  let hasResources = container.resources !== undefined;
  for (const field of ['limits', 'requests'] as const) {
    if (!(field in values)) continue;
    const value = values[field];
    const existing = container.resources?.[field];
    if (value === null || value === undefined) {
      if (existing?.[resource] !== undefined)
        operations.push({ op: 'remove', path: `${base}/resources/${field}/${resource}` });
      continue;
    }
    if (!hasResources) {
      operations.push({ op: 'add', path: `${base}/resources`, value: {} });
      hasResources = true;
    }
    if (existing === undefined)
      operations.push({ op: 'add', path: `${base}/resources/${field}`, value: { [resource]: value } });
    else operations.push({ op: 'add', path: `${base}/resources/${field}/${resource}`, value });
  }
  return operations;
}

async function patchWorkload(
  session: KubernetesSession,
  kind: Kind,
  namespace: string,
  name: string,
  body: object[],
): Promise<Workload> {
  const { dryRun } = session.context;
  const request = { namespace, name, body, ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}) };
  const target = { verb: 'patch', resource: RESOURCE[kind], group: 'apps', namespace, name } as const;
  const how = { patch: PatchStrategy.JsonPatch };
  const { apps } = session;
  if (kind === 'Deployment')
    return session.request(target, (options) => apps.patchNamespacedDeployment(request, options), how);
  if (kind === 'StatefulSet')
    return session.request(target, (options) => apps.patchNamespacedStatefulSet(request, options), how);
  return session.request(target, (options) => apps.patchNamespacedDaemonSet(request, options), how);
}

function valuesAfter(workload: Workload, index: number, resource: Resource) {
  const container = workload.spec?.template?.spec?.containers[index];
  return {
    limit: container?.resources?.limits?.[resource] ?? null,
    request: container?.resources?.requests?.[resource] ?? null,
  };
}

export function resourceTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const patch = defineTool(declarationOf('k8s.patch-resources'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(
      deps,
      'k8s.patch-resources',
      parameters.cluster,
      context,
    );
    const { namespace, kind, name, resource, field, value, maxFactor, ceiling } = parameters;
    const { dryRun } = context;
    const workload = await readWorkload(session, kind, namespace, name);
    const { container, index } = containerOf(session, kind, workload, parameters.container);
    const where = `container ${container.name} of ${kind} ${namespace}/${name}`;
    const previousLimit = container.resources?.limits?.[resource] ?? null;
    const previousRequest = container.resources?.requests?.[resource] ?? null;
    const ceilingAmount = parseQuantity(ceiling);
    const increasePercent = value.startsWith('+') ? Number(value.slice(1, -1)) : undefined;
    let clampedToCeiling = false;
    const next: Partial<Record<Field, string>> = {};
    for (const target of field === 'both' ? (['limits', 'requests'] as const) : [field]) {
      const previous = target === 'limits' ? previousLimit : previousRequest;
      const singular = target === 'limits' ? 'limit' : 'request';
      if (previous === null)
        session.fail(
          ToolErrorKind.Refused,
          `${where} has no ${resource} ${singular} to raise${increasePercent === undefined ? '' : ` by ${value}`}`,
        );
      const old = parseQuantity(previous);
      let amount =
        increasePercent === undefined ? parseQuantity(value) : (old * (100 + increasePercent)) / 100;
      if (amount > old * maxFactor + 1e-9)
        session.fail(
          ToolErrorKind.Refused,
          `${value} would make the ${resource} ${singular} of ${where} ${format(resource, amount)}, more than ${maxFactor}× its ${previous}`,
        );
      if (amount > ceilingAmount) {
        if (increasePercent === undefined)
          session.fail(
            ToolErrorKind.Refused,
            `${value} is above this step's ceiling of ${ceiling} for the ${resource} ${singular} of ${where}`,
          );
        amount = ceilingAmount;
        clampedToCeiling = true;
      }
      if (amount < old - 1e-9)
        session.fail(
          ToolErrorKind.Refused,
          clampedToCeiling
            ? `the ${resource} ${singular} of ${where} is ${previous}, already above this step's ceiling of ${ceiling}`
            : `${value} would lower the ${resource} ${singular} of ${where} from ${previous}: this step only raises it`,
        );
      if (Math.abs(amount - old) > 1e-9)
        next[target] = clampedToCeiling && amount === ceilingAmount ? ceiling : format(resource, amount);
    }
    const base = {
      kind,
      name,
      namespace,
      container: container.name,
      resource,
      previousLimit,
      previousRequest,
      clampedToCeiling,
      dryRun,
    };
    if (Object.keys(next).length === 0) {
      const output: PatchResourcesOutput = {
        ...base,
        limit: previousLimit,
        request: previousRequest,
        changed: false,
      };
      return output;
    }
    const patched = await patchWorkload(
      session,
      kind,
      namespace,
      name,
      resourcesPatch(container, index, resource, next),
    );
    const output: PatchResourcesOutput = { ...base, ...valuesAfter(patched, index, resource), changed: true };
    return output;
  });

  const restore = defineTool(declarationOf('k8s.restore-resources'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(
      deps,
      'k8s.restore-resources',
      parameters.cluster,
      context,
    );
    const { namespace, kind, name, resource, limit, request } = parameters;
    const { dryRun } = context;
    const workload = await readWorkload(session, kind, namespace, name);
    const { container, index } = containerOf(session, kind, workload, parameters.container);
    const previousLimit = container.resources?.limits?.[resource] ?? null;
    const previousRequest = container.resources?.requests?.[resource] ?? null;
    const base = {
      kind,
      name,
      namespace,
      container: container.name,
      resource,
      previousLimit,
      previousRequest,
      clampedToCeiling: false,
      dryRun,
    };
    const same = (a: string | null, b: string | null) =>
      a === b || (a !== null && b !== null && parseQuantity(a) === parseQuantity(b));
    if (same(previousLimit, limit) && same(previousRequest, request)) {
      const output: PatchResourcesOutput = {
        ...base,
        limit: previousLimit,
        request: previousRequest,
        changed: false,
      };
      return output;
    }
    const { expectedLimit, expectedRequest } = parameters;
    const moved = [
      ...(expectedLimit !== undefined && !same(previousLimit, expectedLimit)
        ? [`its ${resource} limit is ${previousLimit ?? 'unset'}, not ${expectedLimit ?? 'unset'}`]
        : []),
      ...(expectedRequest !== undefined && !same(previousRequest, expectedRequest)
        ? [`its ${resource} request is ${previousRequest ?? 'unset'}, not ${expectedRequest ?? 'unset'}`]
        : []),
    ];
    if (moved.length > 0)
      session.fail(
        ToolErrorKind.Refused,
        `container ${container.name} of ${kind} ${namespace}/${name} changed since: ${moved.join(' and ')}; it is left alone`,
      );
    const patched = await patchWorkload(
      session,
      kind,
      namespace,
      name,
      resourcesPatch(container, index, resource, { limits: limit, requests: request }),
    );
    const output: PatchResourcesOutput = { ...base, ...valuesAfter(patched, index, resource), changed: true };
    return output;
  });

  return [patch, restore];
}

export type { PatchResourcesOutput } from '../declarations/kubernetes.ts';

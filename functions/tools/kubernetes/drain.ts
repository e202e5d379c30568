import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { DrainNodeOutput } from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, sleep, ToolError, ToolErrorKind, withPreRead } from '../tool.ts';
import { controllerOf, MIRROR_POD_ANNOTATION, ownerReferenceOf } from './objects.ts';
import { evict } from './pods.ts';
import {
  DRY_RUN_ALL,
  type KubernetesSession,
  type KubernetesToolDeps,
  openSession,
  PatchStrategy,
  paceOf,
} from './session.ts';

/**
 * k8s.drain-node, as `kubectl drain --ignore-daemonsets --delete-emptydir-data` does it: cordon, then
 * evict every pod a controller will recreate elsewhere, through the Eviction API so that
 * PodDisruptionBudgets decide; a budget's refusal is asked again until the step's deadline.
 */

/** Evictions in flight at once (kubectl evicts every pod at once; a small pool is kinder to the API). */
const PARALLEL_EVICTIONS = 5;
/** Without a deadline, stop retrying refused evictions after this long. */
const DEFAULT_RETRY_WINDOW_MS = 5 * 60_000;

type Classified = { pod: V1Pod; evict: true } | { pod: V1Pod; evict: false; reason: string };

/** Which pods a drain evicts, and why it leaves the others. */
function classify(pod: V1Pod): Classified {
  if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined)
    return {
      pod,
      evict: false,
      reason: 'a mirror pod: the kubelet runs it from a static manifest on the node',
    };
  const owner = controllerOf(pod.metadata);
  if (owner?.kind === 'DaemonSet')
    return {
      pod,
      evict: false,
      reason: `a DaemonSet pod (${owner.name}): its DaemonSet runs it on every node`,
    };
  const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  if (!owner && !finished)
    return {
      pod,
      evict: false,
      reason:
        'no controller would recreate it: evicting it would lose it (kubectl drain refuses without --force)',
    };
  return { pod, evict: true };
}

function nameOf(pod: V1Pod) {
  return { namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '' };
}

async function cordon(session: KubernetesSession, node: string): Promise<V1Node> {
  const { dryRun } = session.context;
  return session.request(
    { verb: 'patch', resource: 'nodes', name: node },
    (options) =>
      session.core.patchNode(
        { name: node, body: { spec: { unschedulable: true } }, ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}) },
        options,
      ),
    { patch: PatchStrategy.MergePatch },
  );
}

export function drainTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const drain = defineTool(declarationOf('k8s.drain-node'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(deps, 'k8s.drain-node', parameters.cluster, context);
    const { node, maxPods, gracePeriodSeconds } = parameters;
    const { dryRun } = context;
    const object = await session.request({ verb: 'get', resource: 'nodes', name: node }, (options) =>
      session.core.readNode({ name: node }, options),
    );
    const wasUnschedulable = object.spec?.unschedulable === true;
    const podList = await session.request({ verb: 'list', resource: 'pods' }, (options) =>
      session.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }, options),
    );
    const classified = podList.items.map(classify);
    const toEvict = classified.filter((entry) => entry.evict).map((entry) => entry.pod);
    const skipped = classified.flatMap((entry) =>
      entry.evict ? [] : [{ ...nameOf(entry.pod), reason: entry.reason }],
    );
    if (toEvict.length > maxPods)
      session.fail(
        ToolErrorKind.Refused,
        `node ${node} has ${toEvict.length} pods to evict, more than this step's maxPods of ${maxPods}; nothing was changed`,
        { podsToEvict: toEvict.length, maxPods },
      );

    const cordoned = wasUnschedulable ? object : await cordon(session, node);

    const evicted: DrainNodeOutput['evicted'] = [];
    const refusals = new Map<V1Pod, string>();
    let pending = toEvict;
    const { evictionRetryMs } = paceOf(deps);
    const stopAt = Number.isFinite(context.deadline)
      ? context.deadline - evictionRetryMs
      : Date.now() + DEFAULT_RETRY_WINDOW_MS;
    for (let round = 0; pending.length > 0; round += 1) {
      const refused: V1Pod[] = [];
      for (let start = 0; start < pending.length; start += PARALLEL_EVICTIONS) {
        const batch = pending.slice(start, start + PARALLEL_EVICTIONS);
        await Promise.all(
          batch.map(async (pod) => {
            const { namespace, name } = nameOf(pod);
            try {
              await evict(session, namespace, name, gracePeriodSeconds);
              evicted.push({ namespace, name, owner: ownerReferenceOf(pod.metadata) });
              refusals.delete(pod);
            } catch (error) {
              // A budget's refusal and API throttling pass with time; anything else ends the drain.
              if (
                !(error instanceof ToolError) ||
                (error.name !== ToolErrorKind.Refused && error.name !== ToolErrorKind.Throttled)
              )
                throw error;
              const prefix = `${session.action({ verb: 'create', resource: 'pods/eviction', namespace, name })}: `;
              refusals.set(
                pod,
                error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message,
              );
              refused.push(pod);
            }
          }),
        );
      }
      pending = refused;
      // A dry run changes nothing, so asking again would get the same answer.
      if (pending.length === 0 || dryRun || Date.now() + evictionRetryMs > stopAt) break;
      context.log(`${pending.length} eviction(s) refused; asking again in ${evictionRetryMs} ms`, { round });
      await sleep(evictionRetryMs, context.signal);
    }
    evicted.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    const remaining = pending
      .map((pod) => ({ ...nameOf(pod), reason: refusals.get(pod) ?? 'not evicted' }))
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    const output: DrainNodeOutput = {
      node,
      cordoned: cordoned.spec?.unschedulable === true,
      wasUnschedulable,
      evicted,
      remaining,
      skipped,
      complete: remaining.length === 0,
      dryRun,
    };
    return output;
  });
  return [
    withPreRead(drain, declarationOf('k8s.drain-node'), async (parameters, context) => {
      const session = await openSession(deps, 'k8s.drain-node', parameters.cluster, context);
      const podList = await session.request({ verb: 'list', resource: 'pods' }, (options) =>
        session.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${parameters.node}` }, options),
      );
      // The drain's own selection: DaemonSet, mirror and unowned pods stay.
      const evict = podList.items.map(classify).filter((entry) => entry.evict).length;
      return {
        count: evict,
        how: `${evict} pod(s) to evict from ${parameters.node} (${podList.items.length - evict} that a drain leaves)`,
      };
    }),
  ];
}

export type { DrainNodeOutput } from '../declarations/kubernetes.ts';

import type { ApiException, V1Eviction, V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type {
  DeletePodOutput,
  EvictPodOutput,
  KubernetesEvent,
  PodLogsOutput,
  PodSummary,
  PodsOutput,
} from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { statusOf } from './errors.ts';
import { eventSummary, listEvents } from './events.ts';
import {
  containerStatusesOf,
  isPodReady,
  labelSelectorString,
  MIRROR_POD_ANNOTATION,
  minutesSince,
  ownerReferenceOf,
  restartsOf,
} from './objects.ts';
import { DRY_RUN_ALL, type KubernetesSession, type KubernetesToolDeps, openSession } from './session.ts';

/** k8s.pod-logs, k8s.evict-pod, k8s.pods and k8s.delete-pod. */

/** The log text kept: its end (a crash's last words), never more than this many characters. */
export const MAX_LOG_CHARACTERS = 64 * 1024;

/** The annotation kubectl reads to choose a pod's container when none is named. */
const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

/** The two ways the Eviction API refuses for a PodDisruptionBudget (429, and 500 for overlapping PDBs). */
function disruptionBudgetRefusal(error: ApiException<unknown>, action: string): ToolError | undefined {
  const status = statusOf(error);
  const message = status.message ?? '';
  const causes = status.details?.causes ?? [];
  const budget = causes.find((cause) => cause.reason === 'DisruptionBudget');
  if (error.code === 429 && (budget || /disruption budget/i.test(message))) {
    const detail = budget?.message ? ` ${budget.message}` : '';
    return new ToolError(ToolErrorKind.Refused, `${action}: ${message}${detail}`, {
      cause: error,
      data: { status: 429, reason: status.reason ?? 'TooManyRequests', disruptionBudget: true },
    });
  }
  if (error.code === 500 && /more than one PodDisruptionBudget/i.test(message)) {
    return new ToolError(ToolErrorKind.Refused, `${action}: ${message}`, {
      cause: error,
      data: { status: 500, disruptionBudget: true },
    });
  }
  return undefined;
}

/**
 * One eviction through the Eviction API (dryRun=All in a dry run): `evicted`, or `gone` when the pod
 * no longer exists (as kubectl drain counts it). A PodDisruptionBudget's refusal throws Tool.Refused
 * with `data.disruptionBudget`; API priority and fairness throttling throws Tool.Throttled.
 */
export async function evict(
  session: KubernetesSession,
  namespace: string,
  pod: string,
  gracePeriodSeconds: number | undefined,
): Promise<'evicted' | 'gone'> {
  const { dryRun } = session.context;
  const target = { verb: 'create', resource: 'pods/eviction', namespace, name: pod } as const;
  const body: V1Eviction = {
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name: pod, namespace },
    ...(gracePeriodSeconds !== undefined || dryRun
      ? {
          deleteOptions: {
            ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
            // The API server requires the body's dryRun to agree with the query's.
            ...(dryRun ? { dryRun: [DRY_RUN_ALL] } : {}),
          },
        }
      : {}),
  };
  // A pod that is gone is evicted enough: a step re-run after an interruption finds it so.
  const answer = await session.optional(
    target,
    (options) =>
      session.core.createNamespacedPodEviction(
        { namespace, name: pod, body, ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}) },
        options,
      ),
    [404],
    { interpret: (error) => disruptionBudgetRefusal(error, session.action(target)) },
  );
  return 'absent' in answer ? 'gone' : 'evicted';
}

export function podTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const podLogs = defineTool(declarationOf('k8s.pod-logs'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.pod-logs', parameters.cluster, context);
    const { namespace, pod, tailLines, previous } = parameters;
    let container = parameters.container;
    if (container === undefined) {
      // Like kubectl: the annotated default container, else the first one.
      const object = await session.request(
        { verb: 'get', resource: 'pods', namespace, name: pod },
        (options) => session.core.readNamespacedPod({ namespace, name: pod }, options),
      );
      container =
        object.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION] ?? object.spec?.containers[0]?.name;
      if (!container) {
        throw new ToolError(
          ToolErrorKind.Failed,
          `k8s.pod-logs: pod ${namespace}/${pod} has no containers to read a log from (${session.where})`,
        );
      }
    }
    const target = { verb: 'get', resource: 'pods/log', namespace, name: pod } as const;
    const log = await session.request(
      target,
      (options) =>
        session.core.readNamespacedPodLog({ namespace, name: pod, container, previous, tailLines }, options),
      {
        interpret: (error) => {
          if (error.code !== 400) return undefined;
          const said = statusOf(error).message ?? 'bad request';
          const hint = previous
            ? `container "${container}" has no previous (terminated) instance to read; it has not restarted, or its old log was rotated away`
            : `the log of container "${container}" cannot be read`;
          return new ToolError(ToolErrorKind.Failed, `${session.action(target)}: ${hint} (400: ${said})`, {
            cause: error,
            data: { status: 400 },
          });
        },
      },
    );
    const trimmed = (typeof log === 'string' ? log : String(log ?? '')).trimEnd();
    const truncated = trimmed.length > MAX_LOG_CHARACTERS;
    const text = truncated ? trimmed.slice(trimmed.length - MAX_LOG_CHARACTERS) : trimmed;
    const output: PodLogsOutput = {
      namespace,
      pod,
      container,
      previous,
      lines: text === '' ? 0 : text.split('\n').length,
      text,
      truncated,
    };
    return output;
  });

  const evictPod = defineTool(declarationOf('k8s.evict-pod'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.evict-pod', parameters.cluster, context);
    const { namespace, pod, gracePeriodSeconds } = parameters;
    const { dryRun } = context;
    const outcome = await evict(session, namespace, pod, gracePeriodSeconds);
    const alreadyGone = outcome === 'gone';
    const output: EvictPodOutput = { namespace, pod, evicted: !dryRun && !alreadyGone, alreadyGone, dryRun };
    return output;
  });

  const pods = defineTool(declarationOf('k8s.pods'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(deps, 'k8s.pods', parameters.cluster, context);
    const { namespace, kind, name, limit } = parameters;
    const selector =
      kind && name
        ? labelSelectorString((await readSelectorOwner(session, kind, namespace, name)).spec?.selector)
        : (parameters.selector ?? '');
    const items = await listPods(session, namespace, selector);
    const warnings = new Map<string, KubernetesEvent>();
    if (items.length > 0) {
      const { events } = await listEvents(session, { kind: 'Pod', namespace, type: 'Warning' });
      for (const event of events.map(eventSummary)) {
        const podName = event.object.slice('Pod/'.length);
        const known = warnings.get(podName);
        if (!known || (event.lastSeen ?? '') > (known.lastSeen ?? '')) warnings.set(podName, event);
      }
    }
    const now = deps.runtime.clock.now();
    const summaries = items.map((pod): PodSummary => {
      const podName = pod.metadata?.name ?? '';
      const scheduled = pod.status?.conditions?.find((condition) => condition.type === 'PodScheduled');
      const warning = warnings.get(podName);
      return {
        name: podName,
        phase: pod.status?.phase ?? null,
        ready: isPodReady(pod),
        node: pod.spec?.nodeName ?? null,
        ageMinutes: minutesSince(pod.metadata?.creationTimestamp, now),
        restarts: restartsOf(pod),
        owner: ownerReferenceOf(pod.metadata),
        deleting: pod.metadata?.deletionTimestamp !== undefined,
        unschedulable:
          scheduled?.status === 'False' ? (scheduled.message ?? scheduled.reason ?? 'unschedulable') : null,
        containers: containerStatusesOf(pod),
        lastWarning: warning
          ? {
              reason: warning.reason,
              message: warning.message,
              count: warning.count,
              lastSeen: warning.lastSeen,
            }
          : null,
      };
    });
    const finished = (pod: PodSummary) => pod.phase === 'Succeeded' || pod.phase === 'Failed';
    const troubled = (pod: PodSummary) => !pod.ready && !finished(pod);
    summaries.sort(
      (a, b) =>
        Number(troubled(b)) - Number(troubled(a)) || b.restarts - a.restarts || a.name.localeCompare(b.name),
    );
    const waitingReasons: Record<string, number> = {};
    const terminationReasons: Record<string, number> = {};
    for (const container of summaries.flatMap((pod) => pod.containers)) {
      if (container.state === 'waiting' && container.reason)
        waitingReasons[container.reason] = (waitingReasons[container.reason] ?? 0) + 1;
      const ended =
        container.state === 'terminated' && container.exitCode !== 0
          ? container.reason
          : container.lastTerminationReason;
      if (ended) terminationReasons[ended] = (terminationReasons[ended] ?? 0) + 1;
    }
    const output: PodsOutput = {
      namespace,
      selector,
      total: summaries.length,
      ready: summaries.filter((pod) => pod.ready).length,
      notReady: summaries.filter(troubled).length,
      pending: summaries.filter((pod) => pod.phase === 'Pending').length,
      restarts: summaries.reduce((sum, pod) => sum + pod.restarts, 0),
      waitingReasons,
      terminationReasons,
      pods: summaries.slice(0, limit),
    };
    return output;
  });

  const deletePod = defineTool(declarationOf('k8s.delete-pod'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(deps, 'k8s.delete-pod', parameters.cluster, context);
    const { namespace, pod, gracePeriodSeconds } = parameters;
    const { dryRun } = context;
    const gone: DeletePodOutput = {
      namespace,
      pod,
      owner: null,
      phase: null,
      deleted: false,
      alreadyGone: true,
      dryRun,
    };
    const read = await session.optional({ verb: 'get', resource: 'pods', namespace, name: pod }, (options) =>
      session.core.readNamespacedPod({ namespace, name: pod }, options),
    );
    if ('absent' in read) return gone;
    const object = read.value;
    const where = `pod ${namespace}/${pod}`;
    if (object.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined)
      session.fail(
        ToolErrorKind.Refused,
        `${where} is a mirror of a static pod: the kubelet recreates it from its manifest on the node, so deleting it changes nothing`,
      );
    const owner = ownerReferenceOf(object.metadata);
    if (!owner)
      session.fail(
        ToolErrorKind.Refused,
        `${where} has no controller: deleting it would lose it rather than replace it`,
      );
    if (isPodReady(object))
      session.fail(
        ToolErrorKind.Refused,
        `${where} is Ready: deleting it would bypass its PodDisruptionBudget; evict it with k8s.evict-pod, which honours budgets`,
      );
    const uid = object.metadata?.uid;
    // The uid precondition: a replacement that took the same name (a StatefulSet pod) is not deleted.
    const answer = await session.optional(
      { verb: 'delete', resource: 'pods', namespace, name: pod },
      (options) =>
        session.core.deleteNamespacedPod(
          {
            namespace,
            name: pod,
            ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
            ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}),
            body: {
              ...(uid ? { preconditions: { uid } } : {}),
              ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
              ...(dryRun ? { dryRun: [DRY_RUN_ALL] } : {}),
            },
          },
          options,
        ),
      [404, 409],
    );
    if ('absent' in answer) return gone;
    const output: DeletePodOutput = {
      namespace,
      pod,
      owner,
      phase: object.status?.phase ?? null,
      deleted: !dryRun,
      alreadyGone: false,
      dryRun,
    };
    return output;
  });

  return [podLogs, evictPod, pods, deletePod];
}

/** The workload whose selector picks the pods (a Job's generated selector included). */
async function readSelectorOwner(
  session: KubernetesSession,
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'Job',
  namespace: string,
  name: string,
): Promise<{ spec?: { selector?: V1LabelSelector } }> {
  const { apps, batch } = session;
  const ns = { namespace, name };
  switch (kind) {
    case 'Deployment':
      return session.request(
        { verb: 'get', resource: 'deployments', group: 'apps', namespace, name },
        (options) => apps.readNamespacedDeployment(ns, options),
      );
    case 'StatefulSet':
      return session.request(
        { verb: 'get', resource: 'statefulsets', group: 'apps', namespace, name },
        (options) => apps.readNamespacedStatefulSet(ns, options),
      );
    case 'DaemonSet':
      return session.request(
        { verb: 'get', resource: 'daemonsets', group: 'apps', namespace, name },
        (options) => apps.readNamespacedDaemonSet(ns, options),
      );
    case 'ReplicaSet':
      return session.request(
        { verb: 'get', resource: 'replicasets', group: 'apps', namespace, name },
        (options) => apps.readNamespacedReplicaSet(ns, options),
      );
    case 'Job':
      return session.request({ verb: 'get', resource: 'jobs', group: 'batch', namespace, name }, (options) =>
        batch.readNamespacedJob(ns, options),
      );
  }
}

/** Pods are read in pages of this many, at most MAX_POD_PAGES pages. */
const POD_PAGE = 500;
const MAX_POD_PAGES = 4;

async function listPods(
  session: KubernetesSession,
  namespace: string,
  labelSelector: string,
): Promise<V1Pod[]> {
  const pods: V1Pod[] = [];
  let next: string | undefined;
  for (let page = 0; page < MAX_POD_PAGES; page += 1) {
    const list = await session.request({ verb: 'list', resource: 'pods', namespace }, (options) =>
      session.core.listNamespacedPod(
        { namespace, labelSelector, limit: POD_PAGE, ...(next ? { _continue: next } : {}) },
        options,
      ),
    );
    pods.push(...list.items);
    next = list.metadata?._continue || undefined;
    if (!next) break;
  }
  return pods;
}

export type { EvictPodOutput, PodLogsOutput } from '../declarations/kubernetes.ts';

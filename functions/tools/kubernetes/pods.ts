import type { ApiException, V1Eviction } from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { EvictPodOutput, PodLogsOutput } from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { statusOf } from './errors.ts';
import { DRY_RUN_ALL, type KubernetesToolDeps, openSession } from './session.ts';

/** k8s.pod-logs and k8s.evict-pod. */

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
    const alreadyGone = 'absent' in answer;
    const output: EvictPodOutput = { namespace, pod, evicted: !dryRun && !alreadyGone, alreadyGone, dryRun };
    return output;
  });

  return [podLogs, evictPod];
}

export type { EvictPodOutput, PodLogsOutput } from '../declarations/kubernetes.ts';

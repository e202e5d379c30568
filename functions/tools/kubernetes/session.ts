import { ApiException, type ConfigurationOptions } from '@kubernetes/client-node';
import type { ToolContext } from '../../ports/tools.ts';
import type { ToolRuntime } from '../registry.ts';
import { ToolError, ToolErrorKind, throwIfAborted } from '../tool.ts';
import {
  type KubernetesClients,
  type KubernetesClusterClients,
  PatchStrategy,
  requestOptions,
} from './client.ts';
import { describeTarget, type KubernetesTarget, statusOf, toToolError } from './errors.ts';

type PatchContentType = (typeof PatchStrategy)[keyof typeof PatchStrategy];

/** `dryRun=All`: the API server runs admission and validation and persists nothing. */
export const DRY_RUN_ALL = 'All';

/**
 * One tool run against one cluster: every API call goes through `request`, which checks the abort
 * signal before it starts, hands the signal to the HTTP request, and names the tool, the verb and the
 * object when it fails.
 */
export class KubernetesSession {
  readonly where: string;

  constructor(
    readonly tool: string,
    readonly clients: KubernetesClusterClients,
    readonly context: ToolContext,
    cluster: string | undefined,
  ) {
    this.where =
      cluster === undefined || cluster === clients.context
        ? `context "${clients.context}"`
        : `cluster "${cluster}" (context "${clients.context}")`;
  }

  get core() {
    return this.clients.core;
  }
  get apps() {
    return this.clients.apps;
  }
  get custom() {
    return this.clients.custom;
  }
  get batch() {
    return this.clients.batch;
  }
  get autoscaling() {
    return this.clients.autoscaling;
  }
  get policy() {
    return this.clients.policy;
  }
  get storage() {
    return this.clients.storage;
  }
  get discovery() {
    return this.clients.discovery;
  }

  /**
   * Runs one API call. `patch` selects the PATCH content type; `interpret` may turn an API error into
   * a more specific tool error first (a PodDisruptionBudget's 429 is a refusal, not throttling).
   */
  async request<T>(
    target: KubernetesTarget,
    call: (options: ConfigurationOptions) => Promise<T>,
    how: {
      patch?: PatchContentType;
      interpret?: (error: ApiException<unknown>) => ToolError | undefined;
    } = {},
  ): Promise<T> {
    throwIfAborted(this.context);
    try {
      return await call(requestOptions(this.context.signal, how.patch));
    } catch (error) {
      // An aborted request surfaces as node-fetch's AbortError: report the step's reason instead.
      throwIfAborted(this.context);
      const specific = error instanceof ApiException && how.interpret ? how.interpret(error) : undefined;
      throw specific ?? toToolError(error, target, this.scope());
    }
  }

  private scope() {
    return { tool: this.tool, where: this.where, server: this.clients.server };
  }

  /** The message prefix of this session's errors: `k8s.evict-pod: cannot create pods/eviction shop/x in …`. */
  action(target: KubernetesTarget): string {
    return `${this.tool}: cannot ${target.verb} ${describeTarget(target)} in ${this.where}`;
  }

  /**
   * A call whose absence is an answer: resolves undefined when the API answers one of `absentOn`
   * (metrics.k8s.io not installed: 404; metrics-server registered but down: 503).
   */
  async optional<T>(
    target: KubernetesTarget,
    call: (options: ConfigurationOptions) => Promise<T>,
    absentOn: readonly number[] = [404],
    how: { interpret?: (error: ApiException<unknown>) => ToolError | undefined } = {},
  ): Promise<{ value: T } | { absent: string }> {
    throwIfAborted(this.context);
    try {
      return { value: await call(requestOptions(this.context.signal)) };
    } catch (error) {
      throwIfAborted(this.context);
      if (error instanceof ApiException && absentOn.includes(error.code)) {
        const said = statusOf(error).message;
        return {
          absent: `${target.group ? `${target.group}/` : ''}${target.resource} answered ${error.code}${said ? ` (${said})` : ''}`,
        };
      }
      const specific = error instanceof ApiException && how.interpret ? how.interpret(error) : undefined;
      throw specific ?? toToolError(error, target, this.scope());
    }
  }

  /** A tool-level refusal or failure that is not an API error, named like the API ones. */
  fail(kind: ToolErrorKind, message: string, data?: Record<string, unknown>): never {
    throw new ToolError(kind, `${this.tool}: ${message} (${this.where})`, data ? { data } : {});
  }
}

/** What the Kubernetes tools are built from. */
export interface KubernetesToolDeps {
  clients: KubernetesClients;
  runtime: ToolRuntime;
  /** How long tools wait between retries and polls (tests shorten it); default KUBERNETES_PACE. */
  pace?: Partial<KubernetesPace>;
}

export interface KubernetesPace {
  /** Between eviction attempts a PodDisruptionBudget refused (kubectl drain waits 5 s). */
  evictionRetryMs: number;
  /** Between reads of a claim being resized. */
  resizePollMs: number;
}

export const KUBERNETES_PACE: KubernetesPace = { evictionRetryMs: 5_000, resizePollMs: 2_000 };

export function paceOf(deps: KubernetesToolDeps): KubernetesPace {
  return { ...KUBERNETES_PACE, ...deps.pace };
}

/**
 * The cluster a step acts on: the one it names, else the deployment's environment when
 * `tools.kubernetes.contexts` or `tools.kubernetes.eks` names it ("default: the environment's
 * cluster"), else the kubeconfig's current context.
 */
export function defaultCluster(runtime: ToolRuntime, cluster: string | undefined): string | undefined {
  if (cluster !== undefined) return cluster;
  const { environment, tools } = runtime.config;
  return Object.hasOwn(tools.kubernetes.contexts, environment) ||
    Object.hasOwn(tools.kubernetes.eks, environment)
    ? environment
    : undefined;
}

/** Opens a session on the cluster a step names (or the environment's default). */
export async function openSession(
  deps: KubernetesToolDeps,
  tool: string,
  requested: string | undefined,
  context: ToolContext,
): Promise<KubernetesSession> {
  throwIfAborted(context);
  const cluster = defaultCluster(deps.runtime, requested);
  const { clients } = deps;
  let clusterClients: KubernetesClusterClients;
  try {
    clusterClients = await clients.forCluster(cluster);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ToolError(ToolErrorKind.Failed, `${tool}: ${message}`, { cause: error });
  }
  return new KubernetesSession(tool, clusterClients, context, cluster);
}

export { PatchStrategy };

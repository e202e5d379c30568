import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  type ConfigurationOptions,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  Observable,
  type ObservableMiddleware,
  PatchStrategy,
  PolicyV1Api,
  type RequestContext,
  type ResponseContext,
  StorageV1Api,
} from '@kubernetes/client-node';
import { ConfigurationError } from '../../core/errors.ts';
import type { EksAccess, EksEndpoint } from './eks.ts';

/** The API clients of one cluster, all bound to one kubeconfig context. */
export interface KubernetesClusterClients {
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  autoscaling: AutoscalingV2Api;
  policy: PolicyV1Api;
  storage: StorageV1Api;
  discovery: DiscoveryV1Api;
  custom: CustomObjectsApi;
  kubeConfig: KubeConfig;
  /** The kubeconfig context the clients use. */
  context: string;
  /** The API server URL (for messages). */
  server: string;
}

export interface KubernetesClients {
  /**
   * Clients for a cluster: `cluster` is looked up in `contexts` (cluster name → kubeconfig context),
   * then taken as a context name; without it, the kubeconfig's current context (in-cluster on AWS).
   */
  forCluster(cluster?: string): Promise<KubernetesClusterClients>;
}

export interface KubernetesClientsOptions {
  /** Kubeconfig file; without it `KubeConfig.loadFromDefault()` (KUBECONFIG, ~/.kube/config, in-cluster). */
  kubeconfig?: string;
  /** Cluster name (as alerts label it) → kubeconfig context. */
  contexts: Record<string, string>;
  /** Builds a fresh KubeConfig (tests point one at a local API server). Called once per context. */
  kubeConfigFactory?: () => KubeConfig;
  /** Amazon EKS clusters reached with a token from the runtime's AWS credentials (tools.kubernetes.eks). */
  eks?: Record<string, EksClusterConfig>;
  /** Tokens (and endpoints left out of the config) for EKS clusters; without it they cannot be reached. */
  eksAccess?: Pick<EksAccess, 'token' | 'endpoint'>;
}

export interface EksClusterConfig {
  clusterName?: string | undefined;
  region?: string | undefined;
  endpoint?: string | undefined;
  certificateAuthorityData?: string | undefined;
}

/** A kubeconfig for one EKS cluster whose bearer token is made (and refreshed) per request. */
class EksKubeConfig extends KubeConfig {
  constructor(private readonly bearer: () => Promise<string>) {
    super();
  }
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    context.setHeaderParam('Authorization', `Bearer ${await this.bearer()}`);
  }
}

function eksKubeConfig(
  key: string,
  cluster: EksClusterConfig & EksEndpoint,
  access: Pick<EksAccess, 'token'>,
): KubeConfig {
  const clusterName = cluster.clusterName ?? key;
  const kubeConfig = new EksKubeConfig(() => access.token(clusterName, cluster.region));
  const context = `eks:${key}`;
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: key,
        server: cluster.endpoint,
        caData: cluster.certificateAuthorityData,
        // The config accepts https endpoints only (verified against the cluster's CA); the client
        // library refuses plain http unless told, which only a local test API server uses.
        skipTLSVerify: cluster.endpoint.startsWith('http://'),
      },
    ],
    users: [{ name: `runbook-autopilot@${clusterName}` }],
    contexts: [{ name: context, cluster: key, user: `runbook-autopilot@${clusterName}` }],
    currentContext: context,
  });
  return kubeConfig;
}

function loadKubeConfig(kubeconfig: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (kubeconfig) kubeConfig.loadFromFile(kubeconfig);
    else {
      // With nothing to load, the client library makes up a context for http://localhost:8080, and
      // every step would fail with a confusing connection error: say what is missing instead.
      const home = homedir();
      const found =
        Boolean(process.env.KUBECONFIG) ||
        (home !== '' && existsSync(join(home, '.kube', 'config'))) ||
        Boolean(process.env.KUBERNETES_SERVICE_HOST);
      if (!found)
        throw new Error(
          'none found: KUBECONFIG is not set, ~/.kube/config does not exist and this is not running in a pod',
        );
      kubeConfig.loadFromDefault();
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigurationError(
      `cannot load ${kubeconfig ? `kubeconfig ${kubeconfig} (tools.kubernetes.kubeconfig)` : 'the default kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster)'}: ${message}`,
      { cause: error },
    );
  }
  return kubeConfig;
}

/**
 * Clients per kubeconfig context, built on first use and kept: credentials plugins (EKS `aws eks
 * get-token`, IRSA tokens) refresh themselves per request, so a cached client stays valid.
 */
export function kubernetesClients(options: KubernetesClientsOptions): KubernetesClients {
  const factory = options.kubeConfigFactory ?? (() => loadKubeConfig(options.kubeconfig));
  const byContext = new Map<string, KubernetesClusterClients>();
  let resolver: KubeConfig | undefined;
  const source = options.kubeconfig ? `kubeconfig ${options.kubeconfig}` : 'the default kubeconfig';

  function contextFor(kubeConfig: KubeConfig, cluster: string | undefined): string {
    if (cluster === undefined) {
      const current = kubeConfig.getCurrentContext();
      if (!current) {
        throw new ConfigurationError(
          `no Kubernetes context: ${source} has no current context; set tools.kubernetes.kubeconfig or name a cluster in tools.kubernetes.contexts`,
        );
      }
      return current;
    }
    const mapped = options.contexts[cluster];
    const candidate = mapped ?? cluster;
    if (kubeConfig.getContextObject(candidate)) return candidate;
    const known = kubeConfig
      .getContexts()
      .map((context) => context.name)
      .join(', ');
    throw new ConfigurationError(
      mapped
        ? `tools.kubernetes.contexts maps cluster "${cluster}" to context "${mapped}", which ${source} does not have (contexts: ${known || 'none'})`
        : `cluster "${cluster}" is neither in tools.kubernetes.contexts (${Object.keys(options.contexts).join(', ') || 'empty'}) nor a context of ${source} (contexts: ${known || 'none'})`,
    );
  }

  const eksPending = new Map<string, Promise<KubernetesClusterClients>>();

  async function eksClients(key: string, cluster: EksClusterConfig): Promise<KubernetesClusterClients> {
    const access = options.eksAccess;
    if (!access)
      throw new ConfigurationError(
        `cluster "${key}" is an EKS cluster (tools.kubernetes.eks), which this runtime cannot sign tokens for; on the embedded platform map it to a kubeconfig context in tools.kubernetes.contexts instead`,
      );
    const clusterName = cluster.clusterName ?? key;
    const where =
      cluster.endpoint && cluster.certificateAuthorityData
        ? { endpoint: cluster.endpoint, certificateAuthorityData: cluster.certificateAuthorityData }
        : await access.endpoint(clusterName, cluster.region);
    return clientsOf(eksKubeConfig(key, { ...cluster, ...where }, access), `eks:${key}`, where.endpoint);
  }

  return {
    async forCluster(cluster) {
      const eks = cluster === undefined ? undefined : options.eks?.[cluster];
      if (cluster !== undefined && eks && !Object.hasOwn(options.contexts, cluster)) {
        // Built once per cluster; a failure (DescribeCluster denied) is not kept.
        let pending = eksPending.get(cluster);
        if (!pending) {
          pending = eksClients(cluster, eks);
          eksPending.set(cluster, pending);
          pending.catch(() => {
            if (eksPending.get(cluster) === pending) eksPending.delete(cluster);
          });
        }
        return pending;
      }
      resolver ??= factory();
      const context = contextFor(resolver, cluster);
      const cached = byContext.get(context);
      if (cached) return cached;
      // One KubeConfig per context: a client reads the current context's credentials at request time.
      const kubeConfig = factory();
      kubeConfig.setCurrentContext(context);
      const server = kubeConfig.getCurrentCluster()?.server;
      if (!server) throw new ConfigurationError(`kubeconfig context "${context}" names no cluster server`);
      const clients = clientsOf(kubeConfig, context, server);
      byContext.set(context, clients);
      return clients;
    },
  };
}

/** The API clients the tools use, bound to one kubeconfig (one context). */
function clientsOf(kubeConfig: KubeConfig, context: string, server: string): KubernetesClusterClients {
  return {
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    batch: kubeConfig.makeApiClient(BatchV1Api),
    autoscaling: kubeConfig.makeApiClient(AutoscalingV2Api),
    policy: kubeConfig.makeApiClient(PolicyV1Api),
    storage: kubeConfig.makeApiClient(StorageV1Api),
    discovery: kubeConfig.makeApiClient(DiscoveryV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    kubeConfig,
    context,
    server,
  };
}

/** A middleware that hands the step's AbortSignal to the HTTP request (node-fetch aborts it). */
function signalMiddleware(signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (request: RequestContext) => {
      request.setSignal(signal);
      return new Observable(Promise.resolve(request));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
}

function headerMiddleware(name: string, value: string): ObservableMiddleware {
  return {
    pre: (request: RequestContext) => {
      request.setHeaderParam(name, value);
      return new Observable(Promise.resolve(request));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
}

/**
 * Per-request options: the abort signal and, for a PATCH, its content type (the generated client
 * would send JSON Patch otherwise).
 */
export function requestOptions(
  signal: AbortSignal,
  patch?: (typeof PatchStrategy)[keyof typeof PatchStrategy],
): ConfigurationOptions {
  const middleware = [signalMiddleware(signal)];
  if (patch) middleware.push(headerMiddleware('Content-Type', patch));
  return { middleware, middlewareMergeStrategy: 'append' };
}

export { PatchStrategy };

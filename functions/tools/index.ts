import type { KubeConfig } from '@kubernetes/client-node';
import type { ToolRegistry } from '../ports/tools.ts';
import { type AwsClientsOptions, awsClients, awsTools } from './aws/index.ts';
import { awsResolver } from './aws/resolve.ts';
import { TOOL_DECLARATIONS } from './declarations.ts';
import { genericTools } from './generic.ts';
import type { EksAccess } from './kubernetes/eks.ts';
import { kubernetesClients, kubernetesTools } from './kubernetes/index.ts';
import { kubernetesResolver } from './kubernetes/resolve.ts';
import { type ToolRuntime, toolRegistryOf } from './registry.ts';
import { resolveTools } from './resolve/index.ts';

export interface ToolRegistryOptions {
  kubeConfigFactory?: () => KubeConfig;
  /** Shortens runbook.wait, 0 < scale ≤ 1 (embedded platform only: `runbook demo --wait-scale`). */
  waitScale?: number;
  /** Endpoints and credentials of the AWS clients (embedded platform only: the demo's simulated AWS). */
  aws?: Pick<AwsClientsOptions, 'endpoints' | 'credentials'>;
  /** Tokens and endpoints for the clusters in tools.kubernetes.eks (built by the runtime's wiring). */
  eksAccess?: Pick<EksAccess, 'token' | 'endpoint'>;
}

/**
 * Every tool a runtime can run: AWS (SDK v3), Kubernetes (@kubernetes/client-node), Prometheus, HTTP,
 * notifications, waits, and the local shell on the embedded platform only. Clients are built on first
 * use, so a registry costs nothing until a step calls a tool.
 */
export function createToolRegistry(runtime: ToolRuntime, options: ToolRegistryOptions = {}): ToolRegistry {
  const { config } = runtime;
  if (runtime.runtime !== 'local' && (options.aws?.endpoints || options.aws?.credentials))
    throw new Error(
      'AWS client endpoints and credentials are for the embedded platform only; on AWS the tools use the Lambda role',
    );
  const kubernetes = kubernetesClients({
    ...(config.tools.kubernetes.kubeconfig ? { kubeconfig: config.tools.kubernetes.kubeconfig } : {}),
    contexts: config.tools.kubernetes.contexts,
    eks: config.tools.kubernetes.eks,
    ...(options.eksAccess ? { eksAccess: options.eksAccess } : {}),
    ...(options.kubeConfigFactory ? { kubeConfigFactory: options.kubeConfigFactory } : {}),
  });
  const aws = {
    clients: awsClients({
      ...(config.tools.defaultRegion ? { defaultRegion: config.tools.defaultRegion } : {}),
      ...(options.aws?.endpoints ? { endpoints: options.aws.endpoints } : {}),
      ...(options.aws?.credentials ? { credentials: options.aws.credentials } : {}),
    }),
    runtime,
  };
  const registry = toolRegistryOf([
    ...awsTools(aws),
    ...kubernetesTools({ clients: kubernetes, runtime }),
    ...resolveTools([kubernetesResolver({ clients: kubernetes, runtime }), awsResolver(aws)], runtime),
    ...genericTools(runtime, options.waitScale === undefined ? {} : { waitScale: options.waitScale }),
  ]);
  const missing = TOOL_DECLARATIONS.filter(
    (declaration) =>
      !registry.get(declaration.name) &&
      (declaration as { runtimes?: readonly string[] }).runtimes?.includes(runtime.runtime) !== false,
  );
  if (missing.length > 0)
    throw new Error(
      `tools declared but not implemented: ${missing.map((declaration) => declaration.name).join(', ')}`,
    );
  return registry;
}

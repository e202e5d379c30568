import type { KubeConfig } from '@kubernetes/client-node';
import type { ToolDeclaration } from '../core/tool-catalog.ts';
import type { ToolImplementation, ToolRegistry } from '../ports/tools.ts';
import type { AwsClientsOptions } from './aws/clients.ts';
import type { AwsToolDeps } from './aws/deps.ts';
import { checkedEndpoints } from './aws/endpoints.ts';
import { AWS_TOOL_DECLARATIONS } from './declarations/aws.ts';
import { KUBERNETES_TOOL_DECLARATIONS } from './declarations/kubernetes.ts';
import { RESOLVE_TOOL_DECLARATIONS } from './declarations/resolve.ts';
import { TOOL_DECLARATIONS } from './declarations.ts';
import { genericTools } from './generic.ts';
import type { EksAccess } from './kubernetes/eks.ts';
import type { KubernetesToolDeps } from './kubernetes/session.ts';
import { type ToolRuntime, toolRegistryOf } from './registry.ts';

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
 * The families of tools. `aws`, `kubernetes` and `resource` (resource.resolve, which reads through both
 * the AWS and the Kubernetes clients) are modules loaded on demand, each a chunk of its own in a Lambda
 * bundle; `generic` (Prometheus, HTTP, messages, waits, shell: no SDK, a few KB) is built with the
 * registry, so its options are checked at once as before.
 */
export type ToolFamily = 'aws' | 'kubernetes' | 'resource' | 'generic';
export type LazyToolFamily = Exclude<ToolFamily, 'generic'>;

const FAMILY_OF_TOOL: ReadonlyMap<string, ToolFamily> = new Map([
  ...AWS_TOOL_DECLARATIONS.map((declaration) => [declaration.name, 'aws'] as const),
  ...KUBERNETES_TOOL_DECLARATIONS.map((declaration) => [declaration.name, 'kubernetes'] as const),
  ...RESOLVE_TOOL_DECLARATIONS.map((declaration) => [declaration.name, 'resource'] as const),
]);

/** The family that implements a declared tool (Prometheus, HTTP, messages, waits, shell: generic). */
export function toolFamilyOf(name: string): ToolFamily {
  return FAMILY_OF_TOOL.get(name) ?? 'generic';
}

/** Whether a runtime runs a declared tool (shell.exec is for the embedded platform only). */
function runsOn(declaration: ToolDeclaration, runtime: ToolRuntime['runtime']): boolean {
  return (declaration as { runtimes?: readonly string[] }).runtimes?.includes(runtime) !== false;
}

/** A load shared by every caller; a failed one is not kept, so the next call tries again. */
function shared<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    }));
}

/**
 * Each lazy family's implementations, imported and built on the first call of one of its tools. The AWS
 * and Kubernetes clients are built once and shared with resource.resolve.
 */
export function toolFamilies(
  runtime: ToolRuntime,
  options: ToolRegistryOptions = {},
): Record<LazyToolFamily, () => Promise<ToolImplementation[]>> {
  const { config } = runtime;
  const kubernetes = shared(async (): Promise<KubernetesToolDeps> => {
    const { kubernetesClients } = await import('./kubernetes/client.ts');
    const clients = kubernetesClients({
      ...(config.tools.kubernetes.kubeconfig ? { kubeconfig: config.tools.kubernetes.kubeconfig } : {}),
      contexts: config.tools.kubernetes.contexts,
      eks: config.tools.kubernetes.eks,
      ...(options.eksAccess ? { eksAccess: options.eksAccess } : {}),
      ...(options.kubeConfigFactory ? { kubeConfigFactory: options.kubeConfigFactory } : {}),
    });
    return { clients, runtime };
  });
  const aws = shared(async (): Promise<AwsToolDeps> => {
    const { awsClients } = await import('./aws/clients.ts');
    const clients = awsClients({
      ...(config.tools.defaultRegion ? { defaultRegion: config.tools.defaultRegion } : {}),
      ...(options.aws?.endpoints ? { endpoints: options.aws.endpoints } : {}),
      ...(options.aws?.credentials ? { credentials: options.aws.credentials } : {}),
    });
    return { clients, runtime };
  });
  return {
    aws: shared(async () => (await import('./aws/index.ts')).awsTools(await aws())),
    kubernetes: shared(async () =>
      (await import('./kubernetes/index.ts')).kubernetesTools(await kubernetes()),
    ),
    resource: shared(async () => {
      const [{ resolveTools }, { kubernetesResolver }, { awsResolver }] = await Promise.all([
        import('./resolve/index.ts'),
        import('./kubernetes/resolve.ts'),
        import('./aws/resolve.ts'),
      ]);
      return resolveTools([kubernetesResolver(await kubernetes()), awsResolver(await aws())], runtime);
    }),
  };
}

/**
 * Every tool a runtime can run: AWS (SDK v3), Kubernetes (@kubernetes/client-node), resource.resolve,
 * Prometheus, HTTP, notifications, waits, and the local shell on the embedded platform only. The
 * registry's entries are the declarations; the AWS, Kubernetes and resource families' code (and their
 * clients) load on the first call of one of their tools, so a step runner's cold start loads none.
 */
export function createToolRegistry(runtime: ToolRuntime, options: ToolRegistryOptions = {}): ToolRegistry {
  if (runtime.runtime !== 'local' && (options.aws?.endpoints || options.aws?.credentials))
    throw new Error(
      'AWS client endpoints and credentials are for the embedded platform only; on AWS the tools use the Lambda role',
    );
  // A typo in the embedded platform's endpoints is refused now, not at the first AWS step.
  checkedEndpoints(options.aws?.endpoints);
  const declared = (TOOL_DECLARATIONS as readonly ToolDeclaration[]).filter((declaration) =>
    runsOn(declaration, runtime.runtime),
  );
  const generic = implementationsOf(
    'generic',
    genericTools(runtime, options.waitScale === undefined ? {} : { waitScale: options.waitScale }),
    declared,
  );
  const families = toolFamilies(runtime, options);
  const loaded = new Map<LazyToolFamily, () => Promise<Map<string, ToolImplementation>>>();
  const familyNamed = (family: LazyToolFamily) => {
    let load = loaded.get(family);
    if (!load) {
      load = shared(async () => implementationsOf(family, await families[family](), declared));
      loaded.set(family, load);
    }
    return load();
  };
  return toolRegistryOf(
    declared.map((declaration): ToolImplementation => {
      const name = declaration.name;
      const family = toolFamilyOf(name);
      if (family === 'generic') return generic.get(name)!;
      const implementation = async () => (await familyNamed(family)).get(name)!;
      return {
        declaration,
        run: async (parameters, context) => (await implementation()).run(parameters, context),
        // The pre-read exists exactly when the declaration asks for one (implementationsOf checks it).
        ...(declaration.blastRadius?.preRead
          ? {
              countTouched: async (parameters, context) =>
                (await implementation()).countTouched!(parameters, context),
            }
          : {}),
      };
    }),
  );
}

/**
 * A family's implementations by name, checked against the declarations it must implement on this
 * runtime: none missing, none extra, the same declaration object, a pre-read where one is declared.
 */
function implementationsOf(
  family: ToolFamily,
  implementations: readonly ToolImplementation[],
  declared: readonly ToolDeclaration[],
): Map<string, ToolImplementation> {
  const byName = new Map(
    implementations.map((implementation) => [implementation.declaration.name, implementation]),
  );
  const expected = declared.filter((declaration) => toolFamilyOf(declaration.name) === family);
  const problems = [
    ...expected
      .filter((declaration) => !byName.has(declaration.name))
      .map((declaration) => `${declaration.name} is declared but not implemented`),
    ...implementations
      .filter((implementation) => !expected.includes(implementation.declaration))
      .map((implementation) => `${implementation.declaration.name} is not a declared ${family} tool here`),
    ...implementations
      .filter(
        (implementation) =>
          Boolean(implementation.declaration.blastRadius?.preRead) !==
          (implementation.countTouched !== undefined),
      )
      .map(
        (implementation) => `${implementation.declaration.name}'s pre-read does not match its declaration`,
      ),
  ];
  if (byName.size !== implementations.length) problems.push(`a ${family} tool is implemented twice`);
  if (problems.length > 0) throw new Error(`tool family ${family}: ${problems.join('; ')}`);
  return byName;
}

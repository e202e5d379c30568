import { RuntimeConfig } from '../../../../functions/core/config.ts';
import type { ExecutionContext } from '../../../../functions/core/execution-contract.ts';
import { resolveTemplates } from '../../../../functions/core/runbook/templates.ts';
import type { ToolDeclaration } from '../../../../functions/core/tool-catalog.ts';
import type { ToolContext, ToolImplementation } from '../../../../functions/ports/tools.ts';
import { type KubernetesClients, kubernetesClients } from '../../../../functions/tools/kubernetes/client.ts';
import { kubernetesTools } from '../../../../functions/tools/kubernetes/index.ts';
import type { KubernetesPace } from '../../../../functions/tools/kubernetes/session.ts';
import type { ToolRuntime } from '../../../../functions/tools/registry.ts';
import {
  FakeKubeApi,
  type FakeKubeApiOptions,
  type RecordedRequest,
} from '../../../../local/demo/fake-kube-api.ts';

/** The k8s.* tools wired to a FakeKubeApi through the real @kubernetes/client-node. */

export const NOW = new Date('2026-03-02T10:00:00Z');

export interface Cluster {
  api: FakeKubeApi;
  clients: KubernetesClients;
  runtime: ToolRuntime;
  tools: Map<string, ToolImplementation>;
  logs: Array<{ message: string; data?: Record<string, unknown> }>;
  /** Validates the parameters with the declaration's schema (as the step runner does), then runs. */
  run(tool: string, parameters: Record<string, unknown>, options?: RunOptions): Promise<unknown>;
  /** Runs a tool's declared inverse with the forward step's parameters and output. */
  compensate(tool: string, parameters: Record<string, unknown>, output: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

export interface RunOptions {
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Which change this run is (a repeat of one the platform's stop cut short, or a new one). */
  change?: ToolContext['change'];
  /** The step's deadline (epoch ms); default 30 s from now. */
  deadline?: number;
}

/** Tests wait milliseconds where the tools wait seconds. */
export const TEST_PACE: KubernetesPace = { evictionRetryMs: 40, resizePollMs: 20 };

/**
 * The calls a tool made that its declaration does not permit (verb, API group, resource): `runbook
 * rbac` derives the cluster roles from the declarations, so a call outside them fails in a cluster.
 */
export function undeclaredCalls(
  declaration: ToolDeclaration,
  requests: readonly RecordedRequest[],
): string[] {
  const rules = declaration.permissions.kubernetes ?? [];
  const missing = requests
    .filter((request) => request.verb !== undefined)
    .filter(
      (request) =>
        !rules.some(
          (rule) =>
            rule.apiGroup === request.group &&
            rule.resources.includes(request.resource!) &&
            rule.verbs.includes(request.verb!),
        ),
    )
    .map((request) => `${request.verb} ${request.group ? `${request.group}/` : ''}${request.resource}`);
  return [...new Set(missing)];
}

export function runtimeOf(
  contexts: Record<string, string> = {},
  environment = 'dev',
  now: () => Date = () => NOW,
): ToolRuntime {
  return {
    runtime: 'local',
    config: RuntimeConfig.parse({
      environment,
      publicBaseUrl: 'http://127.0.0.1:8787',
      tools: { kubernetes: { contexts } },
    }),
    clock: { now },
    notifier: { send: async () => undefined },
    fetch,
  };
}

export function toolContext(options: RunOptions = {}, logs: Cluster['logs'] = []): ToolContext {
  const execution: ExecutionContext = {
    id: 'exec-k8s-1',
    runbookId: 'node-memory-pressure',
    runbookVersion: '1.0.0',
    incidentId: 'inc-1',
    environment: 'dev',
    dryRun: options.dryRun ?? false,
    approvalRiskThreshold: 4,
    changeFreeze: false,
    startedAt: NOW.toISOString(),
  };
  return {
    signal: options.signal ?? new AbortController().signal,
    dryRun: options.dryRun ?? false,
    execution,
    deadline: options.deadline ?? Date.now() + 30_000,
    change: options.change ?? { key: '0123456789abcdef0123', since: NOW.toISOString(), repeat: false },
    log: (message, data) => logs.push({ message, ...(data ? { data } : {}) }),
  };
}

export async function startCluster(
  options: FakeKubeApiOptions = {},
  client: { token?: string } = {},
): Promise<Cluster> {
  const api = await FakeKubeApi.start({ now: () => NOW, ...options });
  const clients = kubernetesClients({
    contexts: {},
    kubeConfigFactory: () => api.kubeConfig(client.token ? { token: client.token } : {}),
  });
  const runtime = runtimeOf();
  const tools = new Map(
    kubernetesTools({ clients, runtime, pace: TEST_PACE }).map((implementation) => [
      implementation.declaration.name,
      implementation,
    ]),
  );
  const logs: Cluster['logs'] = [];
  const run = async (name: string, parameters: Record<string, unknown>, runOptions: RunOptions = {}) => {
    const tool = tools.get(name);
    if (!tool) throw new Error(`no tool ${name}`);
    const parsed = tool.declaration.parameters.parse(parameters) as Record<string, unknown>;
    const from = api.requests.length;
    let failure: unknown;
    let output: unknown;
    try {
      output = await tool.run(parsed, toolContext(runOptions, logs));
    } catch (error) {
      failure = error;
    }
    const missing = undeclaredCalls(tool.declaration, api.requests.slice(from));
    if (missing.length > 0)
      throw new Error(`${name} made calls its declaration does not permit: ${missing.join('; ')}`);
    if (failure !== undefined) throw failure;
    return output;
  };
  return {
    api,
    clients,
    runtime,
    tools,
    logs,
    run,
    compensate: async (name, parameters, output) => {
      const compensation = tools.get(name)?.declaration.compensation;
      if (!compensation) throw new Error(`${name} declares no compensation`);
      const resolved = resolveTemplates(compensation.parameters, { parameters, output });
      return run(compensation.tool, resolved);
    },
    stop: () => api.stop(),
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejectionOf(
  promise: Promise<unknown>,
): Promise<Error & { data?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { data?: Record<string, unknown> };
  }
  throw new Error('expected the tool to fail, but it succeeded');
}

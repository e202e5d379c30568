import { RuntimeConfig } from '../../functions/core/config.ts';
import type { AlertResource } from '../../functions/core/resource.ts';
import type { ToolContext, ToolImplementation } from '../../functions/ports/tools.ts';
import { AWS_SERVICES, type AwsService } from '../../functions/tools/aws/clients.ts';
import { type AwsClients, awsClients, awsTools } from '../../functions/tools/aws/index.ts';
import { awsResolver } from '../../functions/tools/aws/resolve.ts';
import type { ResolveOutput } from '../../functions/tools/declarations/resolve.ts';
import { createToolRegistry } from '../../functions/tools/index.ts';
import type { ToolRuntime } from '../../functions/tools/registry.ts';
import { AwsEndpoint, type EndpointOptions } from '../../local/sim/aws/endpoint.ts';
import { DEMO_REGION } from '../../local/sim/cluster.ts';
import { World } from '../../local/sim/world.ts';

/**
 * The simulated AWS account for tests: a world (its account in `world.aws`), the account's endpoint,
 * and the real AWS tools and resolver of the platform pointed at it with the real SDK clients, the
 * way `runbook demo` points them. Time is the wall clock (the account's models run on it).
 */

export const SIM_CREDENTIALS = {
  accessKeyId: 'SIMULATEDACCOUNTKEY',
  secretAccessKey: 'simulated-account-secret',
};

export interface SimulatedAccount {
  world: World;
  endpoint: AwsEndpoint;
  clients: AwsClients;
  tools: Map<string, ToolImplementation>;
  resolver: ReturnType<typeof awsResolver>;
  runtime: ToolRuntime;
  /** Runs a tool as the step runner does: parameters through the declaration's schema first. */
  run<T = Record<string, unknown>>(
    name: string,
    parameters: Record<string, unknown>,
    context?: Partial<ToolContext>,
  ): Promise<T>;
  context(options?: Partial<ToolContext>): ToolContext;
  /** The platform's `resource.resolve` (every resolver family) on an alarm's resource. */
  resolve(resource: AlertResource, runbook?: string): Promise<ResolveOutput>;
  stop(): Promise<void>;
}

export function clientOptions(url: string) {
  return {
    defaultRegion: DEMO_REGION,
    endpoints: Object.fromEntries(AWS_SERVICES.map((service) => [service, url])) as Record<
      AwsService,
      string
    >,
    credentials: SIM_CREDENTIALS,
  };
}

export async function startSimulatedAccount(
  options: { setup?: (world: World) => void; endpoint?: EndpointOptions; tickMs?: number } = {},
): Promise<SimulatedAccount> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const world = await World.start();
  options.setup?.(world);
  world.run(options.tickMs ?? 250);
  const endpoint = await AwsEndpoint.start(world, options.endpoint);
  const clients = awsClients(clientOptions(endpoint.url));
  const runtime: ToolRuntime = {
    runtime: 'local',
    config: RuntimeConfig.parse({
      environment: 'staging',
      publicBaseUrl: 'http://127.0.0.1:8787/',
      tools: { defaultRegion: DEMO_REGION },
    }),
    clock: { now: () => new Date() },
    notifier: { send: async () => {} },
    fetch: globalThis.fetch,
  };
  const deps = { clients, runtime, polling: { initialMs: 50, maxMs: 200, deadlineMarginMs: 0 } };
  const tools = new Map(awsTools(deps).map((tool) => [tool.declaration.name, tool]));
  const context = (overrides: Partial<ToolContext> = {}): ToolContext => {
    const controller = new AbortController();
    return {
      signal: controller.signal,
      dryRun: false,
      deadline: Date.now() + 30_000,
      execution: {
        id: 'exec-sim-0001',
        runbookId: 'sim-test',
        runbookVersion: '1.0.0',
        incidentId: 'incident-sim',
        environment: 'staging',
        dryRun: overrides.dryRun ?? false,
        approvalRiskThreshold: 2,
        changeFreeze: false,
        startedAt: new Date().toISOString(),
      },
      change: { key: '0123456789abcdef0123', since: new Date(0).toISOString(), repeat: false },
      log: () => {},
      ...overrides,
    };
  };
  return {
    world,
    endpoint,
    clients,
    tools,
    resolver: awsResolver(deps),
    runtime,
    context,
    async run<T>(
      name: string,
      parameters: Record<string, unknown>,
      overrides?: Partial<ToolContext>,
    ): Promise<T> {
      const tool = tools.get(name);
      if (!tool) throw new Error(`no AWS tool ${name}`);
      return (await tool.run(
        tool.declaration.parameters.parse(parameters) as Record<string, unknown>,
        context(overrides),
      )) as T;
    },
    async resolve(resource: AlertResource, runbook = 'sim-test') {
      const registry = createToolRegistry(runtime, { aws: clientOptions(endpoint.url) });
      const tool = registry.get('resource.resolve')!;
      const parameters = tool.declaration.parameters.parse({ resource, runbook, parameters: {} }) as Record<
        string,
        unknown
      >;
      return (await tool.run(parameters, context())) as ResolveOutput;
    },
    async stop() {
      await endpoint.stop();
      await world.stop();
    },
  };
}

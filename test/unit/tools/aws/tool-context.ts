import { RuntimeConfig } from '../../../../functions/core/config.ts';
import { resolveTemplates } from '../../../../functions/core/runbook/templates.ts';
import type { ToolDeclaration } from '../../../../functions/core/tool-catalog.ts';
import type { ToolContext, ToolImplementation } from '../../../../functions/ports/tools.ts';
import { awsClients, awsTools } from '../../../../functions/tools/aws/index.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import type { ToolRuntime } from '../../../../functions/tools/registry.ts';

/** Fixtures for the AWS tool tests: a runtime with a fixed clock, a step context, and a runner-like `run`. */

export const NOW = new Date('2026-11-25T10:00:00.000Z');
export const REGION = 'eu-west-1';

export interface TestContext extends ToolContext {
  controller: AbortController;
  logs: Array<{ message: string; data?: Record<string, unknown> }>;
}

export function testContext(
  options: { dryRun?: boolean; deadline?: number; change?: TestContext['change'] } = {},
): TestContext {
  const controller = new AbortController();
  const logs: TestContext['logs'] = [];
  const dryRun = options.dryRun ?? false;
  return {
    controller,
    logs,
    signal: controller.signal,
    dryRun,
    deadline: options.deadline ?? NOW.getTime() + 60_000,
    change: options.change ?? { key: '0123456789abcdef0123', since: NOW.toISOString(), repeat: false },
    execution: {
      id: 'exec-2026-11-25-0001',
      runbookId: 'test-runbook',
      runbookVersion: '1.0.0',
      incidentId: 'incident-1',
      environment: 'prod',
      dryRun,
      approvalRiskThreshold: 2,
      changeFreeze: false,
      startedAt: NOW.toISOString(),
    },
    log: (message, data) => {
      logs.push({ message, ...(data ? { data } : {}) });
    },
  };
}

export function testRuntime(tools: Partial<RuntimeConfig['tools']> = {}): ToolRuntime {
  return {
    runtime: 'aws',
    config: RuntimeConfig.parse({
      environment: 'prod',
      publicBaseUrl: 'https://autopilot.example.com/',
      tools: { defaultRegion: REGION, ...tools },
    }),
    clock: { now: () => new Date(NOW) },
    notifier: { send: async () => {} },
    fetch: globalThis.fetch,
  };
}

export interface Toolset {
  tools: Map<string, ToolImplementation>;
  /** Like the step runner: parameters go through the declaration's schema (defaults), then the tool runs. */
  run(name: string, parameters: Record<string, unknown>, context?: ToolContext): Promise<unknown>;
  /** Runs the declared inverse of `name` with its step's parameters and output, as a compensation would. */
  runInverse(
    name: string,
    step: { parameters: Record<string, unknown>; output: unknown },
    context?: ToolContext,
  ): Promise<{ tool: string; parameters: Record<string, unknown>; output: unknown }>;
}

export function awsToolset(
  options: { polling?: { initialMs?: number; maxMs?: number; deadlineMarginMs?: number } } = {},
): Toolset {
  const runtime = testRuntime();
  const implementations = awsTools({
    clients: awsClients({ defaultRegion: REGION }),
    runtime,
    polling: { initialMs: 2, maxMs: 5, deadlineMarginMs: 0, ...options.polling },
  });
  const tools = new Map(implementations.map((tool) => [tool.declaration.name, tool]));
  const toolNamed = (name: string) => {
    const tool = tools.get(name);
    if (!tool) throw new Error(`no AWS tool ${name}`);
    return tool;
  };
  const run: Toolset['run'] = async (name, parameters, context = testContext()) => {
    const tool = toolNamed(name);
    return tool.run(tool.declaration.parameters.parse(parameters) as Record<string, unknown>, context);
  };
  return {
    tools,
    run,
    runInverse: async (name, step, context = testContext()) => {
      const declaration: ToolDeclaration | undefined = TOOL_CATALOG.get(name);
      const inverse = declaration?.compensation;
      if (!inverse) throw new Error(`${name} declares no inverse`);
      const parameters = resolveTemplates(inverse.parameters, {
        parameters: step.parameters,
        output: step.output,
      }) as Record<string, unknown>;
      // As the runner does: the inverse acts where the step acted.
      if (step.parameters.region !== undefined) parameters.region = step.parameters.region;
      return { tool: inverse.tool, parameters, output: await run(inverse.tool, parameters, context) };
    },
  };
}

/** An error shaped like the SDK's for a service error code (EC2 and other query protocols model none). */
export function awsError(code: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), {
    name: code,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: 'b0e91dc8-3807-11e2-83c6-5d7a44a3a8ce', attempts: 1 },
  });
}

/** Awaits a rejection and returns the error, failing when the promise resolves. */
export async function rejectionOf(
  promise: Promise<unknown>,
): Promise<Error & { data?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { data?: Record<string, unknown> };
  }
  throw new Error('expected a rejection, the promise resolved');
}

import { RuntimeConfig } from '../../../functions/core/config.ts';
import type { ExecutionContext } from '../../../functions/core/execution-contract.ts';
import type { Notification } from '../../../functions/core/records.ts';
import { type Clock, systemClock } from '../../../functions/ports/clock.ts';
import type { Notifier } from '../../../functions/ports/notifier.ts';
import type { ToolContext, ToolImplementation } from '../../../functions/ports/tools.ts';
import type { ToolRuntime } from '../../../functions/tools/registry.ts';

/** Shared set-up for the generic tools' tests: a runtime, a step context, a recording notifier. */

/** A Notifier that keeps what it was asked to send; `failWith` makes the next sends throw. */
export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  failWith: Error | undefined;

  async send(notification: Notification): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.sent.push(notification);
  }
}

export const EXECUTION: ExecutionContext = {
  id: 'exec-0001',
  runbookId: 'node-filesystem-filling',
  runbookVersion: '3',
  incidentId: 'inc-0001',
  environment: 'staging',
  dryRun: false,
  approvalRiskThreshold: 3,
  changeFreeze: false,
  startedAt: '2026-05-04T10:00:00.000Z',
};

export function toolRuntime(
  options: {
    runtime?: 'aws' | 'local';
    config?: Partial<Omit<RuntimeConfig, 'tools'>> & { tools?: Record<string, unknown> };
    clock?: Clock;
    notifier?: Notifier;
    fetch?: typeof fetch;
  } = {},
): ToolRuntime {
  return {
    runtime: options.runtime ?? 'local',
    config: RuntimeConfig.parse({
      environment: 'staging',
      publicBaseUrl: 'https://runbooks.example.com',
      executionLinkTemplate: 'https://runbooks.example.com/executions/{executionId}',
      ...options.config,
    }),
    clock: options.clock ?? systemClock,
    notifier: options.notifier ?? new RecordingNotifier(),
    fetch: options.fetch ?? globalThis.fetch,
  };
}

export interface ContextLog {
  message: string;
  data?: Record<string, unknown>;
}

export function toolContext(
  options: { signal?: AbortSignal; dryRun?: boolean; deadline?: number; logs?: ContextLog[] } = {},
): ToolContext {
  const dryRun = options.dryRun ?? false;
  return {
    signal: options.signal ?? new AbortController().signal,
    dryRun,
    execution: { ...EXECUTION, dryRun },
    deadline: options.deadline ?? Number.POSITIVE_INFINITY,
    change: { key: '0123456789abcdef0123', since: new Date(0).toISOString(), repeat: false },
    log: (message, data) => options.logs?.push({ message, ...(data ? { data } : {}) }),
  };
}

/** Validates parameters with the declaration's schema (as the step runner does), then runs the tool. */
export function runTool(
  tool: ToolImplementation,
  parameters: Record<string, unknown>,
  context: ToolContext = toolContext(),
): Promise<unknown> {
  return tool.run(tool.declaration.parameters.parse(parameters) as Record<string, unknown>, context);
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejectionOf(
  promise: Promise<unknown>,
): Promise<Error & { data?: Record<string, unknown> }> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('expected a rejection')) throw error;
    return error as Error & { data?: Record<string, unknown> };
  }
}

import type { ExecutionContext } from '../core/execution-contract.ts';
import type { ToolDeclaration } from '../core/tool-catalog.ts';

export interface ToolContext {
  /** Aborted on step timeout, operator abort or shutdown: a tool stops what it is doing. */
  signal: AbortSignal;
  dryRun: boolean;
  execution: ExecutionContext;
  /** Epoch milliseconds by which the tool must have answered. */
  deadline: number;
  log(message: string, data?: Record<string, unknown>): void;
}

/** A tool that can run: its declaration plus the code. */
export interface ToolImplementation {
  declaration: ToolDeclaration;
  run(parameters: Record<string, unknown>, context: ToolContext): Promise<unknown>;
}

export interface ToolRegistry {
  get(name: string): ToolImplementation | undefined;
  names(): string[];
}

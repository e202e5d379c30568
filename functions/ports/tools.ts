import type { ExecutionContext } from '../core/execution-contract.ts';
import type { ToolDeclaration } from '../core/tool-catalog.ts';

export interface ToolContext {
  /** Aborted on step timeout, operator abort or shutdown: a tool stops what it is doing. */
  signal: AbortSignal;
  dryRun: boolean;
  execution: ExecutionContext;
  /** Epoch milliseconds by which the tool must have answered. */
  deadline: number;
  /**
   * Who this run is, for changes made once per execution and step: the same key (and the same `since`)
   * for every run of a step until one finishes, so a run that repeats one the platform's stop cut short
   * (`repeat`) can find what that run did instead of doing it again.
   */
  change: ChangeIdentity;
  log(message: string, data?: Record<string, unknown>): void;
}

export interface ChangeIdentity {
  /** 20 hex digits, stable across the runs of one change (execution, kind, step, first attempt). */
  key: string;
  /** When the first of those runs started (ISO 8601). */
  since: string;
  /** An earlier run of this change never finished: it may have made the change already. */
  repeat: boolean;
}

/** A tool that can run: its declaration plus the code. */
export interface ToolImplementation {
  declaration: ToolDeclaration;
  run(parameters: Record<string, unknown>, context: ToolContext): Promise<unknown>;
  /**
   * The pre-read of a `blastRadius.preRead` tool: reads the target (never changes it) and counts what
   * this call would touch, saying what it found ("7 evictable pods on ip-10-0-1-23").
   */
  countTouched?(
    parameters: Record<string, unknown>,
    context: ToolContext,
  ): Promise<{ count: number; how: string }>;
}

export interface ToolRegistry {
  get(name: string): ToolImplementation | undefined;
  names(): string[];
}

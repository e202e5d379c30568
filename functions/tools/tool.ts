import type { z } from 'zod';
import { AslErrorName, StateError } from '../core/errors.ts';
import type { ToolDeclaration } from '../core/tool-catalog.ts';
import type { ToolContext, ToolImplementation } from '../ports/tools.ts';

/** How a tool failed, as the ASL error name the compiled Retry/Catch match. */
export const ToolErrorKind = {
  Failed: AslErrorName.ToolFailed,
  Throttled: AslErrorName.ToolThrottled,
  AccessDenied: AslErrorName.ToolAccessDenied,
  NotFound: AslErrorName.ToolNotFound,
  /** The system refused the change (a PodDisruptionBudget, an invalid state). */
  Refused: AslErrorName.ToolRefused,
} as const;
export type ToolErrorKind = (typeof ToolErrorKind)[keyof typeof ToolErrorKind];

/** A tool's failure, named for the state machine; the message says what and where, never a stack. */
export class ToolError extends StateError {
  constructor(
    kind: ToolErrorKind,
    message: string,
    options: { cause?: unknown; data?: Record<string, unknown> } = {},
  ) {
    super(kind, message, options);
    this.stack = `${kind}: ${message}`;
  }
}

/** Throws the signal's reason if the step was aborted or timed out: call between a tool's actions. */
export function throwIfAborted(context: ToolContext): void {
  if (context.signal.aborted)
    throw context.signal.reason instanceof Error ? context.signal.reason : new Error('aborted');
}

/** A sleep that ends early when the step is aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Binds a declaration to the code that runs it; parameters arrive validated by the declaration's schema. */
export function defineTool<Params extends z.ZodObject>(
  declaration: ToolDeclaration<Params>,
  run: (parameters: z.infer<Params>, context: ToolContext) => Promise<unknown>,
): ToolImplementation {
  return {
    declaration: declaration as unknown as ToolDeclaration,
    run: (parameters, context) => run(parameters as z.infer<Params>, context),
  };
}

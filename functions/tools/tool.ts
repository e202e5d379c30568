import type { z } from 'zod';
import { AslErrorName, StateError } from '../core/errors.ts';
import { undeclaredPaths } from '../core/runbook/schema-paths.ts';
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

/**
 * With RUNBOOK_AUTOPILOT_CHECK_TOOL_OUTPUTS=1 (the test suite sets it) every tool's output is checked
 * against its declared output schema, undeclared fields included: what runbooks may reference
 * (validation reads the declaration) is what the tools really return.
 */
const CHECK_OUTPUTS = process.env.RUNBOOK_AUTOPILOT_CHECK_TOOL_OUTPUTS === '1';

export class ToolOutputMismatchError extends Error {
  override readonly name = 'ToolOutputMismatchError';
}

export function checkToolOutput(declaration: ToolDeclaration, output: unknown): void {
  const parsed = declaration.output.safeParse(output);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(output)'}: ${issue.message}`);
  const undeclared = undeclaredPaths(declaration.output, output);
  if (problems.length + undeclared.length === 0) return;
  throw new ToolOutputMismatchError(
    `${declaration.name} returned an output its declaration does not describe: ${[
      ...problems,
      ...undeclared.map((path) => `${path}: not declared`),
    ].join('; ')}`,
  );
}

/** Binds a declaration to the code that runs it; parameters arrive validated by the declaration's schema. */
export function defineTool<Params extends z.ZodObject>(
  declaration: ToolDeclaration<Params>,
  run: (parameters: z.infer<Params>, context: ToolContext) => Promise<unknown>,
): ToolImplementation {
  const generic = declaration as unknown as ToolDeclaration;
  return {
    declaration: generic,
    run: CHECK_OUTPUTS
      ? async (parameters, context) => {
          const output = await run(parameters as z.infer<Params>, context);
          checkToolOutput(generic, output);
          return output;
        }
      : (parameters, context) => run(parameters as z.infer<Params>, context),
  };
}

/**
 * Attaches the blast-radius pre-read of a `blastRadius.preRead` declaration: it reads the target (never
 * changes it) and counts what this call would touch, saying what it found.
 */
export function withPreRead<Params extends z.ZodObject>(
  tool: ToolImplementation,
  declaration: ToolDeclaration<Params>,
  countTouched: (
    parameters: z.infer<Params>,
    context: ToolContext,
  ) => Promise<{ count: number; how: string }>,
): ToolImplementation {
  if (tool.declaration.name !== declaration.name)
    throw new Error(`withPreRead: ${declaration.name}'s pre-read attached to ${tool.declaration.name}`);
  return {
    ...tool,
    countTouched: (parameters, context) => countTouched(parameters as z.infer<Params>, context),
  };
}

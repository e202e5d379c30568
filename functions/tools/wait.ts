import type { ToolImplementation } from '../ports/tools.ts';
import { declarationOf } from './declarations.ts';
import type { ToolRuntime } from './registry.ts';
import { defineTool, sleep } from './tool.ts';

/**
 * runbook.wait: lets a change settle before the next check. It never outlives its step: the wait is
 * cut short to finish just before the step's deadline, and an abort ends it at once.
 */

/** Finish this long before the deadline so the wait succeeds instead of timing the step out. */
export const WAIT_DEADLINE_MARGIN_MS = 500;

export interface RunbookWaitOutput {
  waitedSeconds: number;
  /** Set when the step's deadline cut the wait short. */
  clamped?: true;
}

export function runbookWaitTool(runtime: ToolRuntime): ToolImplementation {
  const declaration = declarationOf('runbook.wait');
  return defineTool(declaration, async (parameters, context) => {
    const requestedMs = parameters.seconds * 1_000;
    const remainingMs = context.deadline - runtime.clock.now().getTime() - WAIT_DEADLINE_MARGIN_MS;
    const waitMs = Math.max(0, Math.min(requestedMs, remainingMs));
    const clamped = waitMs < requestedMs;
    if (clamped)
      context.log('wait cut short by the step deadline', { requestedSeconds: parameters.seconds, waitMs });
    await sleep(waitMs, context.signal);
    const output: RunbookWaitOutput = {
      waitedSeconds: waitMs / 1_000,
      ...(clamped ? { clamped: true } : {}),
    };
    return output;
  });
}

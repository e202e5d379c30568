import { RunbookAutopilotError } from '../core/errors.ts';
import type { ToolImplementation } from '../ports/tools.ts';
import type { RunbookWaitOutput } from './declarations/generic.ts';
import { declarationOf } from './declarations.ts';
import type { ToolRuntime } from './registry.ts';
import { defineTool, sleep } from './tool.ts';

/**
 * runbook.wait: lets a change settle before the next check. A runbook step never runs this tool: it
 * compiles to a Wait state (the step runner only records the wait). The tool runs where the compiler
 * cannot put a Wait state, as a compensation: it never outlives its step (the wait is cut short to
 * finish just before the step's deadline), and an abort ends it at once.
 */

/** Finish this long before the deadline so the wait succeeds instead of timing the step out. */
export const WAIT_DEADLINE_MARGIN_MS = 500;

export interface RunbookWaitOptions {
  /**
   * Multiplies every requested wait: 0 < scale ≤ 1, default 1. Only the embedded platform passes one
   * (the demo, against a simulated environment that settles faster); it is in no RuntimeConfig, so
   * nothing can shorten the waits of a deployed runbook.
   */
  scale?: number;
}

/** Checks a wait scale: a number greater than 0 and at most 1 (waits are only ever shortened). */
export function checkWaitScale(scale: number, where = 'wait scale'): number {
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0 || scale > 1)
    throw new RunbookAutopilotError(
      `${where} must be a number greater than 0 and at most 1 (0.1 makes runbook.wait wait a tenth of the requested time, 1 the full time), got ${String(scale)}`,
    );
  return scale;
}

export function runbookWaitTool(runtime: ToolRuntime, options: RunbookWaitOptions = {}): ToolImplementation {
  const scale = checkWaitScale(options.scale ?? 1, 'runbook.wait: the wait scale');
  if (scale !== 1 && runtime.runtime !== 'local')
    throw new RunbookAutopilotError(
      `runbook.wait: a wait scale (${scale}) is for the embedded platform only; on AWS runbooks always wait the full time`,
    );
  const declaration = declarationOf('runbook.wait');
  return defineTool(declaration, async (parameters, context) => {
    const requestedMs = Math.round(parameters.seconds * 1_000 * scale);
    const remainingMs = context.deadline - runtime.clock.now().getTime() - WAIT_DEADLINE_MARGIN_MS;
    const waitMs = Math.max(0, Math.min(requestedMs, remainingMs));
    const clamped = waitMs < requestedMs;
    if (clamped)
      context.log('wait cut short by the step deadline', { requestedSeconds: parameters.seconds, waitMs });
    await sleep(waitMs, context.signal);
    const output: RunbookWaitOutput = {
      waitedSeconds: waitMs / 1_000,
      ...(clamped ? { clamped: true } : {}),
      ...(scale === 1 ? {} : { scale }),
    };
    return output;
  });
}

export type { RunbookWaitOutput } from './declarations/generic.ts';

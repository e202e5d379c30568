import type { ToolImplementation } from '../ports/tools.ts';
import { httpCheckTool } from './http-check.ts';
import { notifyMessageTool } from './notify.ts';
import { prometheusTools } from './prometheus.ts';
import type { ToolRuntime } from './registry.ts';
import { shellExecTool } from './shell.ts';
import { runbookWaitTool } from './wait.ts';

export interface GenericToolsOptions {
  /** Shortens runbook.wait (0 < scale ≤ 1; embedded platform only, see runbookWaitTool). */
  waitScale?: number;
}

/**
 * The tools that need no cloud SDK: Prometheus, HTTP checks, messages, waits, and (on the embedded
 * platform only) the allow-listed local shell.
 */
export function genericTools(runtime: ToolRuntime, options: GenericToolsOptions = {}): ToolImplementation[] {
  return [
    ...prometheusTools(runtime),
    httpCheckTool(runtime),
    notifyMessageTool(runtime),
    runbookWaitTool(runtime, options.waitScale === undefined ? {} : { scale: options.waitScale }),
    ...(runtime.runtime === 'local' ? [shellExecTool(runtime)] : []),
  ];
}

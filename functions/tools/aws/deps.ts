import type { ToolContext } from '../../ports/tools.ts';
import type { ToolRuntime } from '../registry.ts';
import { sleep } from '../tool.ts';
import type { AwsClients } from './clients.ts';

/** How tools that wait on AWS (Logs Insights, SSM Run Command) poll. */
export interface PollingOptions {
  /** First wait between two polls; each wait is 1.5× the previous, up to maxMs. */
  initialMs: number;
  maxMs: number;
  /** Stop polling this long before the step's deadline, to clean up and say why before the runner does. */
  deadlineMarginMs: number;
}

export const DEFAULT_POLLING: PollingOptions = { initialMs: 1_000, maxMs: 5_000, deadlineMarginMs: 3_000 };

/** What AWS tools need: the clients, the runtime (config, clock) and, for tests, faster polling. */
export interface AwsToolDeps {
  clients: AwsClients;
  runtime: ToolRuntime;
  polling?: Partial<PollingOptions>;
}

/** The region a call goes to: the step's `region`, else the deployment's default, else the SDK's. */
export function regionOf(deps: AwsToolDeps, parameters: { region?: string | undefined }): string | undefined {
  return parameters.region || deps.runtime.config.tools.defaultRegion || undefined;
}

export type PollResult<T> = { done: true; value: T } | { done: false };

/**
 * Calls `check` until it says done, waiting longer between calls each time. Returns `{ done: false }`
 * when the step's deadline (less the margin) comes first; an abort rejects with the signal's reason,
 * also in the middle of a wait.
 */
export async function pollUntil<T>(
  deps: AwsToolDeps,
  context: ToolContext,
  check: () => Promise<PollResult<T>>,
): Promise<PollResult<T>> {
  const polling = { ...DEFAULT_POLLING, ...deps.polling };
  const stopAt = context.deadline - polling.deadlineMarginMs;
  let wait = polling.initialMs;
  for (;;) {
    const result = await check();
    if (result.done) return result;
    const left = stopAt - deps.runtime.clock.now().getTime();
    if (left <= 0) return { done: false };
    await sleep(Math.min(wait, left), context.signal);
    wait = Math.min(Math.ceil(wait * 1.5), polling.maxMs);
  }
}

/** A signal for cleanup calls made after the step's own signal has fired (StopQuery, CancelCommand). */
export function cleanupSignal(): AbortSignal {
  return AbortSignal.timeout(5_000);
}

import { callApi as call, type ApiTarget as ServerOptions } from './api-client.ts';

/**
 * `runbook breaker …`: the circuit breakers of the running platform, and a person closing one. Asks
 * the server over its API (the dashboard's and the AWS control API's routes), so the close is recorded
 * with who made it and from where (cli).
 */

interface BreakerView {
  runbookId: string;
  state: 'open' | 'closed';
  openedAt?: string;
  reason?: string;
  closedAt?: string;
  closedBy?: string;
  closeReason?: string;
}

/** Every runbook's breaker; open ones first, with why and how to close them. */
export async function breakerList(options: ServerOptions): Promise<{ json: unknown; lines: string[] }> {
  const answer = (await call(options, 'GET', 'api/circuit-breakers')) as unknown as {
    environment: string;
    policy: { enabled: boolean; failures: number; within: number };
    breakers: BreakerView[];
  };
  const open = answer.breakers.filter((breaker) => breaker.state === 'open');
  const lines = [
    `Circuit breakers in ${answer.environment}: ${answer.policy.enabled ? `${answer.policy.failures} failed runs of one runbook within ${answer.policy.within}s open its breaker` : 'off (policy.watch.circuitBreaker.enabled is false)'}`,
    '',
    ...(open.length === 0
      ? ['  none open']
      : open.map(
          (breaker) => `  ${breaker.runbookId.padEnd(32)} open since ${breaker.openedAt}: ${breaker.reason}`,
        )),
  ];
  const closed = answer.breakers.filter((breaker) => breaker.state === 'closed' && breaker.closedAt);
  if (closed.length > 0)
    lines.push(
      '',
      'Closed by a person',
      ...closed.map(
        (breaker) =>
          `  ${breaker.runbookId.padEnd(32)} closed ${breaker.closedAt} by ${breaker.closedBy}${breaker.closeReason ? `: ${breaker.closeReason}` : ''}`,
      ),
    );
  if (open.length > 0)
    lines.push('', 'Close one with: runbook breaker close <runbook> --by <you> --reason "<why>"');
  return { json: answer, lines };
}

/** Closes an open breaker, as the person named by --by. */
export async function breakerClose(
  options: ServerOptions & { runbookId: string; by: string; reason?: string },
): Promise<string[]> {
  const answer = (await call(
    options,
    'POST',
    `api/circuit-breakers/${encodeURIComponent(options.runbookId)}/close`,
    { by: options.by, ...(options.reason ? { reason: options.reason } : {}) },
  )) as { breaker: BreakerView };
  return [
    `${options.runbookId}: circuit breaker closed by ${options.by}`,
    `  it had opened ${answer.breaker.openedAt}: ${answer.breaker.reason}`,
  ];
}

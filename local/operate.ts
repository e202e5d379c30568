import { RunbookAutopilotError } from '../functions/core/errors.ts';
import { type ApiTarget, callApi as call, type ApiAnswer as Json } from './api-client.ts';

export { ApiRefusal, type ApiTarget } from './api-client.ts';

/**
 * `runbook start` and `runbook rollback`: the control API from a terminal (the embedded platform, or
 * any server answering the same routes). Errors print the API's own message and the fields it names.
 */

/** `key=value`, repeatable: what --param and --label collect. */
export function collectPair(flag: string) {
  return (value: string, previous: Record<string, string> = {}): Record<string, string> => {
    const at = value.indexOf('=');
    if (at <= 0) throw new RunbookAutopilotError(`${flag}: expected name=value, got "${value}"`);
    return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
  };
}

export interface StartOptions extends ApiTarget {
  resource: string;
  namespace?: string;
  name?: string;
  cluster?: string;
  region?: string;
  account?: string;
  param?: Record<string, string>;
  label?: Record<string, string>;
  reason?: string;
  by?: string;
  requestId?: string;
  json?: boolean;
}

/** `--resource <type>/<id>`: the two parts every resource has; the rest come from their own flags. */
export function parseResourceFlag(value: string): { type: string; id: string } {
  const at = value.indexOf('/');
  if (at <= 0 || at === value.length - 1)
    throw new RunbookAutopilotError(
      `--resource: expected <type>/<id>, e.g. k8s-deployment/cart or ec2-instance/i-0abc (got "${value}")`,
    );
  return { type: value.slice(0, at), id: value.slice(at + 1) };
}

export async function startCommand(
  out: (line: string) => void,
  runbookId: string,
  options: StartOptions,
): Promise<number> {
  const resource = {
    ...parseResourceFlag(options.resource),
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(options.cluster ? { cluster: options.cluster } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(options.account ? { account: options.account } : {}),
  };
  const result = await call(options, 'POST', `/api/runbooks/${encodeURIComponent(runbookId)}/start`, {
    resource,
    parameters: options.param ?? {},
    labels: options.label ?? {},
    ...(options.reason ? { reason: options.reason } : {}),
    ...(options.by ? { by: options.by } : {}),
    ...(options.requestId ? { requestId: options.requestId } : {}),
  });
  if (options.json) out(JSON.stringify(result, null, 2));
  else
    out(
      `${result.decision === 'joined' ? 'already started' : `started ${runbookId}`}: execution ${String(result.executionId)} (incident ${String(result.incidentId)})`,
    );
  return 0;
}

export interface RollbackOptions extends ApiTarget {
  to?: string;
  reason?: string;
  by?: string;
  json?: boolean;
}

/** Without --to: what each point would undo. With --to: asks for the rollback. */
export async function rollbackCommand(
  out: (line: string) => void,
  executionId: string,
  options: RollbackOptions,
): Promise<number> {
  const path = `/api/executions/${encodeURIComponent(executionId)}/rollback`;
  if (!options.to) {
    const plan = await call(options, 'GET', path);
    if (options.json) {
      out(JSON.stringify(plan, null, 2));
      return 0;
    }
    const changes = plan.changes as Array<{
      stepId: string;
      name: string;
      status: string;
      undoneBy?: string;
    }>;
    out(
      `execution ${executionId} (${String(plan.runbookId)}, ${String(plan.status)}): ${changes.length} change(s) still in effect`,
    );
    for (const change of changes)
      out(
        `  ${change.stepId}: ${change.name} (${change.status})${change.undoneBy ? `, undone by ${change.undoneBy}` : ', NO compensation'}`,
      );
    if (!plan.canRollBack) {
      out(`no rollback possible now: ${String(plan.why)}`);
      return 0;
    }
    out(`roll back to a point (runbook rollback ${executionId} --to <point>):`);
    for (const point of plan.points as Array<{ id: string; undoes: string[] }>)
      out(
        `  ${point.id.padEnd(Math.max(16, point.id.length + 2))}${point.undoes.length ? `undoes ${point.undoes.join(', ')}` : 'undoes nothing'}`,
      );
    return 0;
  }
  const { rollback } = (await call(options, 'POST', path, {
    rollbackPoint: options.to,
    ...(options.reason ? { reason: options.reason } : {}),
    ...(options.by ? { by: options.by } : {}),
  })) as { rollback: Json };
  if (options.json) out(JSON.stringify(rollback, null, 2));
  else {
    const approval = rollback.approval as { required: boolean; risk: string; approverGroups?: string[] };
    const undoes = (rollback.changes as Array<{ stepId: string }>).map((change) => change.stepId).join(', ');
    out(
      `rollback ${String(rollback.id)} requested: undoes ${undoes}; ${approval.required ? `waits for approval (risk ${approval.risk}, ${approval.approverGroups?.join(', ')})` : 'running'}`,
    );
  }
  return 0;
}

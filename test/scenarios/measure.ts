import { parseDuration } from '../../functions/core/duration.ts';
import type { RunningPlatform } from '../../local/platform.ts';
import type { Json } from '../support/json.ts';
import type { ExecutionMeasure } from './results.ts';
import { getJson, notificationsOf, type Sink } from './session.ts';

/**
 * What one execution measured: time to mitigate (the alert's startsAt in Alertmanager → the execution
 * stopped after verifying), the same with the runbook's waits at full length (the runner shortens
 * them with waitScale), the runbook's manual baseline (optimizationTargets.baselineMttr), who had to
 * act, compensations, and for each approval how long its notification took to reach the receiver and
 * how long until it was decided, both from the approval's task token (the engine entering its state).
 */
export async function measureExecution(
  url: string,
  platform: RunningPlatform,
  detail: Json,
  waitScale: number,
  sink: Sink,
): Promise<ExecutionMeasure> {
  const execution = detail.execution;
  const runbook = platform.catalog().find((entry) => entry.id === execution.runbookId)?.runbook;
  const baseline = runbook?.optimizationTargets?.baselineMttr as string | number | undefined;
  const notifications = await notificationsOf(url, execution.id);
  const steps = (detail.steps ?? []) as Json[];
  const startsAt = Date.parse(
    detail.incident?.alert?.startsAt ?? execution.alert?.startsAt ?? execution.startedAt,
  );
  const stoppedAt = execution.stoppedAt ? Date.parse(execution.stoppedAt) : undefined;
  // runbook.wait records what it waited (already scaled) and the scale: the rest is what full waits add.
  const waitRemainderSeconds = steps
    .filter((step) => step.status === 'succeeded' && typeof step.output?.waitedSeconds === 'number')
    .reduce((total, step) => {
      const scale = typeof step.output.scale === 'number' ? (step.output.scale as number) : waitScale;
      return total + (step.output.waitedSeconds as number) * (1 / scale - 1);
    }, 0);
  const ttmMs = stoppedAt === undefined ? undefined : stoppedAt - startsAt;
  // Each compensated step once, as its last attempt ended (compensated, failed…).
  const compensations = [
    ...new Map(
      steps.filter((step) => step.kind === 'compensation').map((step) => [step.stepId as string, step]),
    ).values(),
  ];
  const approvals = await approvalsOf(url, execution.id);
  const timings = approvals.flatMap((approval) => approvalTiming(approval, execution.id, sink));
  const escalations = notifications.filter((notification) => notification.kind === 'escalation');
  return {
    executionId: execution.id,
    runbookId: execution.runbookId,
    status: execution.status,
    alert: execution.alert?.name ?? '',
    ...(ttmMs === undefined ? {} : { timeToMitigateMs: ttmMs }),
    ...(ttmMs === undefined
      ? {}
      : { timeToMitigateFullWaitsMs: Math.round(ttmMs + waitRemainderSeconds * 1_000) }),
    ...(baseline === undefined ? {} : { baselineMttrMs: parseDuration(baseline) * 1_000 }),
    approvals: approvals.map((approval) => approval.status as string),
    escalations: escalations.length,
    compensations: compensations.map((step) => ({
      stepId: step.stepId as string,
      status: step.status as string,
    })),
    approvalNotificationLatencyMs: timings.flatMap((timing) =>
      timing.arrivedMs === undefined ? [] : [timing.arrivedMs],
    ),
    approvalDecisionLatencyMs: timings.flatMap((timing) =>
      timing.decidedMs === undefined ? [] : [timing.decidedMs],
    ),
  };
}

async function approvalsOf(url: string, executionId: string): Promise<Json[]> {
  const detail = await getJson(new URL(`api/executions/${encodeURIComponent(executionId)}`, url));
  return (detail.approvals ?? []) as Json[];
}

/**
 * One approval, from the engine entering its Approval state (where the task token is minted) to its
 * request arriving at the receiver (the sink's clock), and to its decision (the record's decidedAt).
 * Approvals whose state the sink did not see (a child platform's, before a kill -9) are left out.
 */
function approvalTiming(
  approval: Json,
  executionId: string,
  sink: Sink,
): Array<{ arrivedMs?: number; decidedMs?: number }> {
  const id = String(approval.id);
  const arrivals = sink.notifications
    .filter(
      (notification) =>
        notification.kind === 'approval-request' &&
        notification.links.some((link) => link.includes(encodeURIComponent(id)) || link.includes(id)),
    )
    .map((notification) => notification.arrivedAt);
  const arrived = arrivals.length > 0 ? Math.min(...arrivals) : undefined;
  const requestedAt = Date.parse(approval.requestedAt);
  const state = `Approval: ${approval.target?.id}`;
  // The latest entry into this approval's state before its record was made (a retried task re-enters).
  const entered = sink.approvalStates
    .filter(
      (entry) =>
        entry.executionId === executionId &&
        (entry.state === state || entry.state.startsWith(`${state} #`)) &&
        entry.at <= Math.max(requestedAt, arrived ?? requestedAt),
    )
    .map((entry) => entry.at)
    .at(-1);
  if (entered === undefined) return [];
  const decidedAt = approval.decidedAt ? Date.parse(approval.decidedAt) : undefined;
  return [
    {
      ...(arrived === undefined ? {} : { arrivedMs: arrived - entered }),
      ...(decidedAt === undefined || approval.status !== 'approved'
        ? {}
        : { decidedMs: decidedAt - entered }),
    },
  ];
}

import { parseDuration } from '../../functions/core/duration.ts';
import type { RunningPlatform } from '../../local/platform.ts';
import type { Json } from '../support/json.ts';
import type { ExecutionMeasure } from './results.ts';
import { getJson, notificationsOf } from './session.ts';

/**
 * What one execution measured: time to mitigate (the alert's startsAt in Alertmanager → the execution
 * stopped after verifying), the same with the runbook's waits at full length (the runner shortens
 * them with waitScale), the runbook's manual baseline (optimizationTargets.baselineMttr), who had to
 * act, compensations and how long the approval notification took.
 */
export async function measureExecution(
  url: string,
  platform: RunningPlatform,
  detail: Json,
  waitScale: number,
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
  const approvalRequests = notifications.filter((notification) => notification.kind === 'approval-request');
  const notificationLatencies = approvals.flatMap((approval) => {
    const sent = approvalRequests
      .filter(
        (notification) =>
          notification.subject?.includes(approval.id) ||
          notification.links?.some(
            (link: Json) =>
              String(link.url).includes(encodeURIComponent(approval.id)) ||
              String(link.url).includes(approval.id),
          ),
      )
      .map((notification) => Date.parse(notification.sentAt));
    const first = sent.length > 0 ? Math.min(...sent) : undefined;
    return first === undefined ? [] : [first - Date.parse(approval.requestedAt)];
  });
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
    approvalNotificationLatencyMs: notificationLatencies,
  };
}

async function approvalsOf(url: string, executionId: string): Promise<Json[]> {
  const detail = await getJson(new URL(`api/executions/${encodeURIComponent(executionId)}`, url));
  return (detail.approvals ?? []) as Json[];
}

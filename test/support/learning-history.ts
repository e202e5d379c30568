import type { AlertResource } from '../../functions/core/alert.ts';
import { type RunbookHistory, runbookHistory } from '../../functions/core/learning/history.ts';
import type { ExecutionRecord, StepOutcome, StepOutcomeStatus } from '../../functions/core/records.ts';
import { stepLocations } from '../../functions/core/runbook/checks.ts';
import type { Runbook } from '../../functions/core/runbook/model.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';

/**
 * Seeded histories with known answers: runs described step by step (status, duration, output), turned
 * into the execution records and step outcomes the store keeps, and from those into the history
 * learning reads, through the same digest the platform uses.
 */

export interface SeedAttempt {
  status: StepOutcomeStatus;
  durationMs: number;
}

export interface SeedStep {
  /** The final attempt's status (default succeeded). */
  status?: StepOutcomeStatus;
  durationMs?: number;
  output?: unknown;
  /** Earlier attempts (retries) before the final one. */
  retriedAfter?: SeedAttempt[];
  error?: { name: string; message: string };
}

export interface SeedRun {
  status: 'succeeded' | 'failed' | 'aborted';
  rolledBack?: boolean;
  steps: Record<string, SeedStep>;
  /** Steps whose change a compensation undid. */
  compensated?: string[];
  recordedOutputs?: Record<string, unknown>;
  resource?: Partial<AlertResource>;
  /** A dry run (never counted). */
  dryRun?: boolean;
}

/** The fixture the suggestion tests seed histories for. */
export const POD_MEMORY_GROWTH = 'test/fixtures/runbooks/learning/pod-memory-growth.yaml';

const START = Date.parse('2026-03-02T08:00:00Z');

export interface SeededHistory {
  executions: ExecutionRecord[];
  outcomes: StepOutcome[][];
  history: RunbookHistory;
}

/** `start`: when the first run started (one run an hour after it); a fixed date by default. */
export function seedRuns(runbook: Runbook, runs: readonly SeedRun[], start = START): SeededHistory {
  const steps = new Map(stepLocations(runbook).map((location) => [location.step.id, location]));
  const executions: ExecutionRecord[] = [];
  const outcomes: StepOutcome[][] = [];
  runs.forEach((run, index) => {
    const id = `${runbook.id}-run-${String(index).padStart(3, '0')}`;
    const startedAt = start + index * 3_600_000;
    const resource: AlertResource = {
      type: 'k8s-pod',
      id: `checkout-${index}`,
      kind: 'Pod',
      name: `checkout-${index}`,
      namespace: 'shop',
      cluster: 'prod-eks',
      ...run.resource,
    };
    executions.push({
      id,
      runbookId: runbook.id,
      runbookVersion: runbook.version,
      incidentId: `incident-${index}`,
      environment: 'dev',
      dryRun: run.dryRun ?? false,
      status: run.status,
      alert: {
        source: 'prometheus',
        name: 'PodMemoryGrowth',
        status: 'firing',
        severity: 'warning',
        summary: 'memory grows',
        environment: 'dev',
        resource,
        fingerprint: `fingerprint-${index}`,
        startsAt: new Date(startedAt - 60_000).toISOString(),
      },
      startedAt: new Date(startedAt).toISOString(),
      stoppedAt: new Date(startedAt + 300_000).toISOString(),
      resourceKey: `k8s-pod/${resource.id}`,
      control: { pauseRequested: false, abortRequested: false },
      outcome: {
        status: run.status,
        rolledBack: run.rolledBack ?? false,
        rollbackFailed: false,
        escalated: false,
        humanIntervention: false,
        approvals: 0,
        approvalsAnswered: 0,
        approvalWaitMs: 0,
        recordedOutputs: run.recordedOutputs ?? {},
      },
    });
    let clock = startedAt;
    const stepOutcomes: StepOutcome[] = [];
    for (const [stepId, seed] of Object.entries(run.steps)) {
      const location = steps.get(stepId);
      if (!location) throw new Error(`no step "${stepId}" in ${runbook.id}`);
      const tool = TOOL_CATALOG.get(location.step.tool)!;
      const attempts: SeedAttempt[] = [
        ...(seed.retriedAfter ?? []),
        { status: seed.status ?? 'succeeded', durationMs: seed.durationMs ?? 1_000 },
      ];
      attempts.forEach((attempt, number) => {
        const final = number === attempts.length - 1;
        stepOutcomes.push({
          executionId: id,
          stepId,
          kind: location.kind === 'phase' ? 'step' : location.kind === 'rollback' ? 'rollback' : 'check',
          name: location.step.name,
          tool: tool.name,
          mutating: tool.mutating,
          risk: tool.risk,
          attempt: number + 1,
          status: attempt.status,
          startedAt: new Date(clock).toISOString(),
          finishedAt: new Date(clock + attempt.durationMs).toISOString(),
          durationMs: attempt.durationMs,
          parameters: {},
          ...(final && seed.output !== undefined ? { output: seed.output } : {}),
          ...(attempt.status === 'timed-out'
            ? { error: { name: 'Runbook.StepTimeout', message: `${stepId} timed out` } }
            : attempt.status === 'failed'
              ? { error: seed.error ?? { name: 'Runbook.ToolFailed', message: `${stepId} failed` } }
              : {}),
          dryRun: false,
        });
        clock += attempt.durationMs;
      });
    }
    for (const stepId of run.compensated ?? []) {
      const location = steps.get(stepId)!;
      stepOutcomes.push({
        executionId: id,
        stepId,
        kind: 'compensation',
        name: `Compensate: ${location.step.name}`,
        tool: location.step.tool,
        mutating: true,
        risk: 'medium',
        attempt: 1,
        status: 'compensated',
        startedAt: new Date(clock).toISOString(),
        durationMs: 500,
        parameters: {},
        dryRun: false,
      });
    }
    outcomes.push(stepOutcomes);
  });
  return {
    executions,
    outcomes,
    history: runbookHistory(
      runbook.id,
      runbook,
      executions,
      outcomes,
      new Date(start + runs.length * 3_600_000),
    ),
  };
}

export interface RunShape {
  memory?: number;
  warnings?: number;
  podStatus?: SeedStep;
  status?: SeedRun['status'];
  rolledBack?: boolean;
  namespace?: string;
}

/**
 * One run of the fixture: the workload read in parallel, the pod read in order, then the branch
 * (memory over 80: scale out; warnings over 50: escalate; else report), as the compiled machine runs it.
 */
export function podMemoryRun(shape: RunShape = {}): SeedRun {
  const memory = shape.memory ?? 50;
  const warnings = shape.warnings ?? 0;
  const podStatus: SeedStep = shape.podStatus ?? { durationMs: 3_000 };
  const steps: SeedRun['steps'] = {
    'workload-status': { durationMs: 1_500, output: { readyReplicas: 2 } },
    'workload-pods': { durationMs: 6_000, output: { notReady: 0 } },
    'rollout-history': { durationMs: 1_000, output: { revisions: [] } },
    'pod-status': { ...podStatus, output: { warningEvents: warnings } },
  };
  const stopped = podStatus.status === 'timed-out' || podStatus.status === 'failed';
  if (!stopped) {
    steps['pod-events'] = { durationMs: 2_000, output: { warningCount: 0 } };
    steps['memory-usage'] = { durationMs: 500, output: { value: memory } };
    if (memory > 80) steps.scale = { durationMs: 4_000, output: { previousReplicas: 2, replicas: 3 } };
    if (memory > 80 || warnings <= 50) steps['notify-findings'] = { durationMs: 300 };
  }
  return {
    status: shape.status ?? (stopped ? 'failed' : 'succeeded'),
    rolledBack: shape.rolledBack ?? false,
    steps,
    recordedOutputs: stopped ? {} : { 'steps.memory-usage.output.value': memory },
    ...(shape.namespace ? { resource: { namespace: shape.namespace } } : {}),
  };
}

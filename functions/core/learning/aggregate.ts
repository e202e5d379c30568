import type { AutomationReport } from '../automation/service.ts';
import type { FeedbackFigures } from '../feedback/records.ts';
import type {
  ExecutionRecord,
  LearningAggregate,
  StepOutcome,
  StepStatistics,
  UnmatchedAlertSummary,
} from '../records.ts';
import type { Runbook } from '../runbook/model.ts';
import type { CircuitBreakerService } from '../watch/circuit-breaker.ts';
import type { RunbookInsights } from './insights.ts';
import type { RunbookTimeline } from './timeseries.ts';

/**
 * Learning math, pure: aggregates recomputed from execution records (so recording twice never counts
 * twice), the factor selection uses, and the report with measured design targets and suggestions.
 */

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

function mean(values: number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** The fields of a step outcome step statistics read (a fold keeps only these). */
type StepAttempt = Pick<StepOutcome, 'stepId' | 'kind' | 'status' | 'durationMs'>;

export function stepStatistics(
  outcomesByExecution: ReadonlyArray<ReadonlyArray<StepAttempt>>,
): StepStatistics[] {
  const byStep = new Map<string, StepAttempt[]>();
  for (const outcomes of outcomesByExecution) {
    // The final attempt of each step tells whether it worked; durations count every attempt.
    const last = new Map<string, StepAttempt>();
    for (const outcome of outcomes) {
      if (outcome.kind !== 'step' && outcome.kind !== 'check') continue;
      // Unfinished attempts say nothing about whether the step works.
      if (outcome.status === 'running' || outcome.status === 'interrupted') continue;
      last.set(outcome.stepId, outcome);
    }
    for (const outcome of last.values())
      byStep.set(outcome.stepId, [...(byStep.get(outcome.stepId) ?? []), outcome]);
  }
  return [...byStep.entries()]
    .map(([stepId, outcomes]) => {
      const durations = outcomes
        .flatMap((outcome) => (outcome.durationMs === undefined ? [] : [outcome.durationMs]))
        .sort((a, b) => a - b);
      return {
        stepId,
        runs: outcomes.filter((outcome) => outcome.status !== 'skipped').length,
        failures: outcomes.filter((outcome) => ['failed', 'timed-out'].includes(outcome.status)).length,
        skipped: outcomes.filter((outcome) => outcome.status === 'skipped').length,
        meanDurationMs: Math.round(mean(durations) ?? 0),
        p90DurationMs: percentile(durations, 0.9),
        p99DurationMs: percentile(durations, 0.99),
        ...(durations.length > 0 ? { p50DurationMs: percentile(durations, 0.5) } : {}),
      };
    })
    .sort((a, b) => a.stepId.localeCompare(b.stepId));
}

/** Recomputes a runbook's aggregate from its finished executions (idempotent by construction). */
export function aggregateRunbook(
  runbookId: string,
  executions: ExecutionRecord[],
  outcomesByExecution: StepOutcome[][],
  now: Date,
): LearningAggregate {
  const finished = executions.filter((execution) => execution.outcome && !execution.dryRun);
  const byAlert: LearningAggregate['byAlert'] = {};
  for (const execution of finished) {
    const entry = byAlert[execution.alert.name] ?? { executions: 0, succeeded: 0 };
    byAlert[execution.alert.name] = entry;
    entry.executions++;
    if (execution.outcome!.status === 'succeeded') entry.succeeded++;
  }
  const recover = finished.flatMap((execution) =>
    execution.outcome!.timeToRecoverMs === undefined ? [] : [execution.outcome!.timeToRecoverMs],
  );
  const approvalsRequested = finished.reduce((sum, execution) => sum + execution.outcome!.approvals, 0);
  const approvalsAnswered = finished.reduce(
    (sum, execution) => sum + execution.outcome!.approvalsAnswered,
    0,
  );
  const approvalWait = finished.reduce((sum, execution) => sum + execution.outcome!.approvalWaitMs, 0);
  const meanRecover = mean(recover);
  const meanApproval = approvalsAnswered === 0 ? undefined : approvalWait / approvalsAnswered;
  return {
    runbookId,
    executions: finished.length,
    succeeded: finished.filter((execution) => execution.outcome!.status === 'succeeded').length,
    failed: finished.filter((execution) => execution.outcome!.status === 'failed').length,
    aborted: finished.filter((execution) => execution.outcome!.status === 'aborted').length,
    withoutHuman: finished.filter(
      (execution) => execution.outcome!.status === 'succeeded' && !execution.outcome!.humanIntervention,
    ).length,
    humanIntervention: finished.filter((execution) => execution.outcome!.humanIntervention).length,
    rollbacks: finished.filter((execution) => execution.outcome!.rolledBack).length,
    rollbackFailures: finished.filter((execution) => execution.outcome!.rollbackFailed).length,
    ...(meanRecover === undefined ? {} : { meanTimeToRecoverMs: Math.round(meanRecover) }),
    approvalsRequested,
    approvalsAnswered,
    ...(meanApproval === undefined ? {} : { meanApprovalWaitMs: Math.round(meanApproval) }),
    byAlert,
    steps: stepStatistics(outcomesByExecution),
    updatedAt: now.toISOString(),
  };
}

export interface TargetMeasure {
  target: string;
  goal: string;
  measured: string;
  met: boolean | undefined;
}

export interface LearningReport {
  generatedAt: string;
  totals: {
    executions: number;
    succeeded: number;
    withoutHumanRate?: number;
    humanInterventionRate?: number;
    rollbacks: number;
    rollbackSuccessRate?: number;
    meanTimeToRecoverMs?: number;
    meanApprovalWaitMs?: number;
    /**
     * Real runs by who had to step in: a person acted (escalation, abort, rejection, manual fix,
     * takeover), a person only approved, or nobody. With it, `humanInterventionRate` is the first.
     */
    involvement?: AutomationReport['involvement'];
  };
  targets: TargetMeasure[];
  /** Levels, proposals, dry runs apart from real runs, safety incidents and coverage. */
  automation?: AutomationReport;
  runbooks: Array<
    LearningAggregate & {
      successRate?: number;
      /** 1 − mean time to recover ÷ the runbook's optimizationTargets.baselineMttr (by hand). */
      mttrReduction?: number;
      suggestions: string[];
      /** Step effectiveness and predictions per alert signature, from the runbook's history. */
      insights?: RunbookInsights;
      /** What the Learning page charts: outcomes and time to mitigate per day, levels, steps. */
      timeline?: RunbookTimeline;
      /** What people answered to askForFeedback over the window (absent: nobody answered). */
      feedback?: FeedbackFigures;
    }
  >;
  unmatched: UnmatchedAlertSummary[];
  suggestions: string[];
  /** Every runbook's circuit breaker: open ones start nothing until a person closes them. */
  circuitBreakers?: Awaited<ReturnType<CircuitBreakerService['list']>>;
}

const FIVE_MINUTES = 5 * 60_000;
/** The design target: mean time to recover at least 60% below recovery by hand. */
const MTTR_REDUCTION_GOAL = 0.6;

/** How much faster than by hand this runbook recovers, when it declares a baseline and has data. */
export function mttrReduction(
  aggregate: LearningAggregate,
  runbook: Runbook | undefined,
): number | undefined {
  const baseline = runbook?.optimizationTargets.baselineMttr;
  if (baseline === undefined || baseline <= 0 || aggregate.meanTimeToRecoverMs === undefined)
    return undefined;
  return 1 - aggregate.meanTimeToRecoverMs / (baseline * 1_000);
}

function rate(part: number, whole: number): number | undefined {
  return whole === 0 ? undefined : part / whole;
}

function percent(value: number | undefined): string {
  return value === undefined ? 'no data' : `${(value * 100).toFixed(1)}%`;
}

function minutes(ms: number | undefined): string {
  return ms === undefined ? 'no data' : `${(ms / 60_000).toFixed(1)} min`;
}

/**
 * What one runbook's figures say against its targets and the design's. Changes to the runbook itself
 * (timeouts, diagnostics, order, compensations, conditions, expected durations) are made concrete as
 * edits with their diffs by `runbook learn suggest` (functions/core/learning/suggestions/).
 */
export function runbookSuggestions(aggregate: LearningAggregate, runbook: Runbook | undefined): string[] {
  const suggestions: string[] = [];
  if (aggregate.meanApprovalWaitMs !== undefined && aggregate.meanApprovalWaitMs > FIVE_MINUTES) {
    suggestions.push(
      `approvals take ${minutes(aggregate.meanApprovalWaitMs)} on average, over the 5-minute target: add approvers or lower the risk that needs one`,
    );
  }
  const successRate = rate(aggregate.succeeded, aggregate.executions);
  const target = runbook?.optimizationTargets.successRate;
  if (
    target !== undefined &&
    successRate !== undefined &&
    aggregate.executions >= 5 &&
    successRate < target
  ) {
    suggestions.push(`success rate ${percent(successRate)} is under the runbook's target ${percent(target)}`);
  }
  const mttr = runbook?.optimizationTargets.mttr;
  if (
    mttr !== undefined &&
    aggregate.meanTimeToRecoverMs !== undefined &&
    aggregate.meanTimeToRecoverMs > mttr * 1_000
  ) {
    suggestions.push(
      `mean time to recover ${minutes(aggregate.meanTimeToRecoverMs)} is over the runbook's target of ${minutes(mttr * 1_000)}`,
    );
  }
  const reduction = mttrReduction(aggregate, runbook);
  if (reduction !== undefined && reduction < MTTR_REDUCTION_GOAL) {
    suggestions.push(
      `mean time to recover ${minutes(aggregate.meanTimeToRecoverMs)} is ${reduction < 0 ? `${percent(-reduction)} slower than` : `only ${percent(reduction)} below`} the ${minutes(runbook!.optimizationTargets.baselineMttr! * 1_000)} it took by hand (target: ${percent(MTTR_REDUCTION_GOAL)} below): look at the slowest steps and the approval wait`,
    );
  }
  if (aggregate.rollbackFailures > 0)
    suggestions.push(
      `${aggregate.rollbackFailures} rollback(s) failed: check the compensations' tools and permissions`,
    );
  return suggestions;
}

/**
 * MTTR against recovery by hand, over the runbooks that declare a baseline: the mean time to recover
 * and the baseline, each weighted by the runbook's successful runs.
 */
function mttrReductionTarget(aggregates: LearningAggregate[], byId: Map<string, Runbook>): TargetMeasure {
  let recovered = 0;
  let byHand = 0;
  let weight = 0;
  let runbooks = 0;
  let declared = 0;
  for (const aggregate of aggregates) {
    const baseline = byId.get(aggregate.runbookId)?.optimizationTargets.baselineMttr;
    if (baseline === undefined) continue;
    declared++;
    if (aggregate.meanTimeToRecoverMs === undefined || aggregate.succeeded === 0) continue;
    runbooks++;
    recovered += aggregate.meanTimeToRecoverMs * aggregate.succeeded;
    byHand += baseline * 1_000 * aggregate.succeeded;
    weight += aggregate.succeeded;
  }
  const goal = `≥ ${percent(MTTR_REDUCTION_GOAL)} below recovery by hand`;
  const target = 'mean time to recover, against recovery by hand';
  if (runbooks === 0 || byHand === 0) {
    return {
      target,
      goal,
      measured:
        declared === 0
          ? 'no baseline: set optimizationTargets.baselineMttr in the runbooks'
          : 'no recovered run of a runbook with a baseline yet',
      met: undefined,
    };
  }
  const reduction = 1 - recovered / byHand;
  return {
    target,
    goal,
    measured: `${reduction < 0 ? `${percent(-reduction)} slower` : `${percent(reduction)} below`}: ${minutes(recovered / weight)} against ${minutes(byHand / weight)} by hand (${runbooks} runbook(s))`,
    met: reduction >= MTTR_REDUCTION_GOAL,
  };
}

/** The mean time to recover against each runbook's own optimizationTargets.mttr. */
function mttrTarget(
  aggregates: LearningAggregate[],
  byId: Map<string, Runbook>,
  meanTimeToRecoverMs: number | undefined,
): TargetMeasure {
  const judged = aggregates.flatMap((aggregate) => {
    const target = byId.get(aggregate.runbookId)?.optimizationTargets.mttr;
    return target === undefined || aggregate.meanTimeToRecoverMs === undefined
      ? []
      : [aggregate.meanTimeToRecoverMs <= target * 1_000];
  });
  const over = judged.filter((within) => !within).length;
  return {
    target: 'mean time to recover',
    goal: "within each runbook's optimizationTargets.mttr",
    measured: `${minutes(meanTimeToRecoverMs)}${judged.length === 0 ? '' : `; ${over} of ${judged.length} runbook(s) over target`}`,
    met: judged.length === 0 ? undefined : over === 0,
  };
}

/** The learning report: totals, the design targets as measured, per-runbook statistics and suggestions. */
export function learningReport(
  aggregates: LearningAggregate[],
  runbooks: Runbook[],
  unmatched: UnmatchedAlertSummary[],
  now: Date,
  automation?: AutomationReport,
  insights?: ReadonlyMap<string, RunbookInsights>,
  timelines?: ReadonlyMap<string, RunbookTimeline>,
): LearningReport {
  const byId = new Map(runbooks.map((runbook) => [runbook.id, runbook]));
  const sum = (pick: (aggregate: LearningAggregate) => number) =>
    aggregates.reduce((total, aggregate) => total + pick(aggregate), 0);
  const executions = sum((aggregate) => aggregate.executions);
  const weighted = (
    pick: (aggregate: LearningAggregate) => number | undefined,
    weight: (aggregate: LearningAggregate) => number,
  ) => {
    const parts = aggregates.flatMap((aggregate) => {
      const value = pick(aggregate);
      return value === undefined ? [] : [[value, weight(aggregate)] as const];
    });
    const total = parts.reduce((acc, [, w]) => acc + w, 0);
    return total === 0 ? undefined : parts.reduce((acc, [value, w]) => acc + value * w, 0) / total;
  };
  const withoutHumanRate = rate(
    sum((aggregate) => aggregate.withoutHuman),
    executions,
  );
  // An approval is the approve level working, not an intervention: with the split, only acting counts.
  const humanInterventionRate = automation
    ? automation.involvement.humanActedRate
    : rate(
        sum((aggregate) => aggregate.humanIntervention),
        executions,
      );
  const rollbacks = sum((aggregate) => aggregate.rollbacks);
  const rollbackSuccessRate = rate(rollbacks - sum((aggregate) => aggregate.rollbackFailures), rollbacks);
  const meanTimeToRecoverMs = weighted(
    (aggregate) => aggregate.meanTimeToRecoverMs,
    (aggregate) => aggregate.succeeded,
  );
  const meanApprovalWaitMs = weighted(
    (aggregate) => aggregate.meanApprovalWaitMs,
    (aggregate) => aggregate.approvalsAnswered,
  );
  const approvalsUnanswered = sum((aggregate) => aggregate.approvalsRequested - aggregate.approvalsAnswered);
  const targets: TargetMeasure[] = [
    {
      target: 'runs that succeed with no human',
      goal: '≥ 90%',
      measured: percent(withoutHumanRate),
      met: withoutHumanRate === undefined ? undefined : withoutHumanRate >= 0.9,
    },
    {
      target: 'runs that need a human',
      goal: '< 20%',
      measured: automation
        ? `${percent(humanInterventionRate)} acted (${automation.involvement.humanActed} of ${automation.involvement.realRuns}); ${percent(automation.involvement.approvalOnlyRate)} approval only, ${percent(automation.involvement.noHumanRate)} no human`
        : percent(humanInterventionRate),
      met: humanInterventionRate === undefined ? undefined : humanInterventionRate < 0.2,
    },
    {
      target: 'approval answered',
      goal: '< 5 min, none unanswered',
      measured: `${minutes(meanApprovalWaitMs)}${approvalsUnanswered > 0 ? `; ${approvalsUnanswered} unanswered` : ''}`,
      // An approval nobody answered is a miss, whatever the mean of the answered ones.
      met:
        meanApprovalWaitMs === undefined
          ? undefined
          : meanApprovalWaitMs < FIVE_MINUTES && approvalsUnanswered === 0,
    },
    {
      target: 'rollbacks that succeed',
      goal: '100%',
      measured: percent(rollbackSuccessRate),
      met: rollbackSuccessRate === undefined ? undefined : rollbackSuccessRate === 1,
    },
    mttrReductionTarget(aggregates, byId),
    mttrTarget(aggregates, byId, meanTimeToRecoverMs),
    ...(automation
      ? [
          {
            target: 'safety incidents',
            goal: 'none',
            measured:
              automation.safetyIncidents.length === 0
                ? `none in ${automation.windowDays} days`
                : `${automation.safetyIncidents.length} in ${automation.windowDays} days (listed below)`,
            met: automation.safetyIncidents.length === 0,
          },
        ]
      : []),
  ];
  const perRunbook = aggregates
    .map((aggregate) => {
      const successRate = rate(aggregate.succeeded, aggregate.executions);
      const reduction = mttrReduction(aggregate, byId.get(aggregate.runbookId));
      const found = insights?.get(aggregate.runbookId);
      const timeline = timelines?.get(aggregate.runbookId);
      return {
        ...aggregate,
        ...(successRate === undefined ? {} : { successRate }),
        ...(reduction === undefined ? {} : { mttrReduction: reduction }),
        suggestions: runbookSuggestions(aggregate, byId.get(aggregate.runbookId)),
        ...(found ? { insights: found } : {}),
        ...(timeline ? { timeline } : {}),
      };
    })
    .sort((a, b) => a.runbookId.localeCompare(b.runbookId));
  const suggestions = [
    ...(automation?.runbooks ?? []).flatMap((runbook) =>
      runbook.proposal
        ? [
            `${runbook.runbookId}: promotion proposed, ${runbook.proposal.from} → ${runbook.proposal.to} (${runbook.proposal.reason}); a person applies it (dashboard, runbook automation promote ${runbook.runbookId})`,
          ]
        : [],
    ),
    ...unmatched
      .filter((alert) => alert.count >= 3)
      .sort((a, b) => b.count - a.count)
      .map(
        (alert) =>
          `no runbook matches ${alert.source} alert "${alert.name}" (seen ${alert.count} times): \`runbook learn recommend --write\` writes a skeleton for it, or add an applicability rule`,
      ),
    ...perRunbook.flatMap((runbook) =>
      runbook.suggestions.map((suggestion) => `${runbook.runbookId}: ${suggestion}`),
    ),
  ];
  return {
    generatedAt: now.toISOString(),
    totals: {
      executions,
      succeeded: sum((aggregate) => aggregate.succeeded),
      ...(withoutHumanRate === undefined ? {} : { withoutHumanRate }),
      ...(humanInterventionRate === undefined ? {} : { humanInterventionRate }),
      rollbacks,
      ...(rollbackSuccessRate === undefined ? {} : { rollbackSuccessRate }),
      ...(meanTimeToRecoverMs === undefined ? {} : { meanTimeToRecoverMs: Math.round(meanTimeToRecoverMs) }),
      ...(meanApprovalWaitMs === undefined ? {} : { meanApprovalWaitMs: Math.round(meanApprovalWaitMs) }),
      ...(automation ? { involvement: automation.involvement } : {}),
    },
    targets,
    ...(automation ? { automation } : {}),
    runbooks: perRunbook,
    unmatched,
    suggestions,
  };
}

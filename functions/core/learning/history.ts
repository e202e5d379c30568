import * as z from 'zod';
import { AlertSource } from '../alert.ts';
import type { FeedbackCounts } from '../feedback/records.ts';
import {
  ExecutionOutcome,
  type ExecutionRecord,
  type StepOutcome,
  StepOutcome as StepOutcomeSchema,
  StepOutcomeStatus,
} from '../records.ts';
import type { Condition, Runbook } from '../runbook/model.ts';
import { lookup, parseReference } from '../runbook/templates.ts';

/**
 * A runbook's recent runs as learning reads them: per execution its outcome, the resource it ran on,
 * and per step the final attempt's status and error, every attempt's duration, and the values of the
 * step-output facts the runbook's branch conditions read. Built where the store is (the API, or the
 * data directory); suggestions, failure patterns and success factors are computed from it. Bounded:
 * no raw outputs, one fact value at most FACT_VALUE_BYTES.
 */

/** How many of a runbook's most recent finished real runs learning reads at most. */
export const HISTORY_EXECUTIONS = 100;
/** A fact value larger than this (as JSON) is left out: conditions compare scalars. */
export const FACT_VALUE_BYTES = 1_024;
const ERROR_MESSAGE_CHARS = 300;

/** The resource fields failure patterns group by: the labels a failure can share. */
export const RESOURCE_LABELS = [
  'type',
  'kind',
  'namespace',
  'cluster',
  'region',
  'account',
  'service',
] as const;

export const HistoryStep = z
  .object({
    stepId: z.string(),
    kind: StepOutcomeSchema.shape.kind,
    tool: z.string(),
    mutating: z.boolean(),
    /** The final attempt's status. */
    status: StepOutcomeStatus,
    /** Every finished attempt, in the order they ran (a timed-out one lasted at least the timeout). */
    attempts: z
      .array(z.object({ status: StepOutcomeStatus, durationMs: z.number().int().min(0).optional() }).strict())
      .min(1),
    /** The final attempt's error. */
    error: z.object({ name: z.string(), message: z.string() }).strict().optional(),
    /** Values of the facts the branch conditions read from this step's output. */
    facts: z.record(z.string(), z.unknown()).default({}),
    /** Facts looked up in the output and not there (a condition on them finds them absent). */
    absentFacts: z.array(z.string()).default([]),
  })
  .strict();
export type HistoryStep = z.infer<typeof HistoryStep>;

export const HistoryExecution = z
  .object({
    id: z.string(),
    runbookVersion: z.string(),
    startedAt: z.string(),
    stoppedAt: z.string().optional(),
    status: ExecutionOutcome.shape.status,
    error: z.string().optional(),
    rolledBack: z.boolean(),
    rollbackFailed: z.boolean(),
    timeToRecoverMs: z.number().int().min(0).optional(),
    alert: z
      .object({
        name: z.string(),
        source: AlertSource,
        severity: z.string(),
        environment: z.string(),
        resource: z.record(z.string(), z.string()),
      })
      .strict(),
    recordedOutputs: z.record(z.string(), z.unknown()).default({}),
    steps: z.array(HistoryStep),
    /** Steps whose change a compensation undid in this run. */
    compensated: z.array(z.string()).default([]),
    /** What people answered to askForFeedback: a run marked not helpful is no verified resolution. */
    feedback: z
      .object({ helpful: z.number().int().min(0), notHelpful: z.number().int().min(0) })
      .strict()
      .optional(),
  })
  .strict();
export type HistoryExecution = z.infer<typeof HistoryExecution>;

export const RunbookHistory = z
  .object({
    runbookId: z.string(),
    generatedAt: z.string(),
    /** Newest first. */
    executions: z.array(HistoryExecution),
  })
  .strict();
export type RunbookHistory = z.infer<typeof RunbookHistory>;

function conditionFacts(condition: Condition): string[] {
  if ('all' in condition) return condition.all.flatMap(conditionFacts);
  if ('any' in condition) return condition.any.flatMap(conditionFacts);
  if ('not' in condition) return conditionFacts(condition.not);
  return [condition.fact];
}

/** Every `steps.<id>.output…` fact the runbook's branch rules (and phases' stopWhen) read, by step. */
export function branchOutputFacts(runbook: Runbook | undefined): Map<string, string[]> {
  const byStep = new Map<string, string[]>();
  const conditions = [
    ...(runbook?.conditionalBranching ?? []).flatMap((branch) => branch.rules.map((rule) => rule.when)),
    ...(runbook?.phases ?? []).flatMap((phase) => (phase.stopWhen ? [phase.stopWhen] : [])),
  ];
  for (const when of conditions) {
    for (const fact of conditionFacts(when)) {
      const segments = parseReference(fact);
      if (segments?.[0] !== 'steps' || segments[2] !== 'output') continue;
      const stepId = String(segments[1]);
      const facts = byStep.get(stepId) ?? [];
      if (!facts.includes(fact)) facts.push(fact);
      byStep.set(stepId, facts);
    }
  }
  return byStep;
}

function resourceLabels(execution: ExecutionRecord): Record<string, string> {
  const resource = execution.alert.resource as Record<string, unknown>;
  const labels: Record<string, string> = {};
  for (const name of ['id', 'name', 'node', ...RESOURCE_LABELS]) {
    const value = resource[name];
    if (typeof value === 'string') labels[name] = value;
  }
  return labels;
}

function captureFacts(
  facts: readonly string[],
  output: unknown,
): { facts: Record<string, unknown>; absentFacts: string[] } {
  const captured: Record<string, unknown> = {};
  const absent: string[] = [];
  for (const fact of facts) {
    const segments = parseReference(fact)!;
    const found = lookup(output, segments.slice(3));
    if (!found.found) absent.push(fact);
    else if (JSON.stringify(found.value ?? null).length <= FACT_VALUE_BYTES) captured[fact] = found.value;
  }
  return { facts: captured, absentFacts: absent };
}

/** One execution's step outcomes, folded to one entry per step (its final attempt, every duration). */
function historySteps(outcomes: readonly StepOutcome[], facts: Map<string, string[]>): HistoryStep[] {
  const byStep = new Map<string, StepOutcome[]>();
  for (const outcome of outcomes) {
    if (outcome.kind === 'compensation') continue;
    // Unfinished attempts say nothing about whether the step works.
    if (outcome.status === 'running' || outcome.status === 'interrupted') continue;
    const key = `${outcome.kind}\u0000${outcome.stepId}`;
    const attempts = byStep.get(key);
    if (attempts) attempts.push(outcome);
    else byStep.set(key, [outcome]);
  }
  return [...byStep.values()].map((attempts) => {
    const last = attempts.at(-1)!;
    const stepFacts = facts.get(last.stepId) ?? [];
    const captured =
      last.status === 'succeeded' && stepFacts.length > 0
        ? captureFacts(stepFacts, last.output)
        : { facts: {}, absentFacts: [] };
    return {
      stepId: last.stepId,
      kind: last.kind,
      tool: last.tool,
      mutating: last.mutating,
      status: last.status,
      attempts: attempts.map((attempt) => ({
        status: attempt.status,
        ...(attempt.durationMs === undefined ? {} : { durationMs: attempt.durationMs }),
      })),
      ...(last.error
        ? { error: { name: last.error.name, message: last.error.message.slice(0, ERROR_MESSAGE_CHARS) } }
        : {}),
      ...captured,
    };
  });
}

/**
 * The history of a runbook from its execution records and their step outcomes (aligned by index):
 * finished real runs only (dry runs and shadow runs never count), newest first, at most
 * HISTORY_EXECUTIONS. `runbook` names the facts to keep; without it no fact is kept.
 */
export function runbookHistory(
  runbookId: string,
  runbook: Runbook | undefined,
  executions: readonly ExecutionRecord[],
  outcomesByExecution: readonly (readonly StepOutcome[])[],
  now: Date,
  feedback?: ReadonlyMap<string, FeedbackCounts>,
): RunbookHistory {
  const facts = branchOutputFacts(runbook);
  const entries = executions
    .map((execution, index) => ({ execution, outcomes: outcomesByExecution[index] ?? [] }))
    .filter(({ execution }) => execution.outcome && !execution.dryRun)
    .sort((a, b) => b.execution.startedAt.localeCompare(a.execution.startedAt))
    .slice(0, HISTORY_EXECUTIONS);
  return {
    runbookId,
    generatedAt: now.toISOString(),
    executions: entries.map(({ execution, outcomes }) => {
      const outcome = execution.outcome!;
      return {
        id: execution.id,
        runbookVersion: execution.runbookVersion,
        startedAt: execution.startedAt,
        ...(execution.stoppedAt ? { stoppedAt: execution.stoppedAt } : {}),
        status: outcome.status,
        ...(outcome.error ? { error: outcome.error } : {}),
        rolledBack: outcome.rolledBack,
        rollbackFailed: outcome.rollbackFailed,
        ...(outcome.timeToRecoverMs === undefined ? {} : { timeToRecoverMs: outcome.timeToRecoverMs }),
        alert: {
          name: execution.alert.name,
          source: execution.alert.source,
          severity: execution.alert.severity,
          environment: execution.alert.environment,
          resource: resourceLabels(execution),
        },
        recordedOutputs: outcome.recordedOutputs,
        steps: historySteps(outcomes, facts),
        compensated: [
          ...new Set(
            outcomes
              .filter((step) => step.kind === 'compensation' && step.status === 'compensated')
              .map((step) => step.stepId),
          ),
        ],
        ...(feedback?.has(execution.id) ? { feedback: { ...feedback.get(execution.id)! } } : {}),
      };
    }),
  };
}

import { alertSignature } from '../automation/evidence.ts';
import { HISTORY_EXECUTIONS, runbookHistory } from '../learning/history.ts';
import { type Prediction, predictOutcome, type StepPrediction, stepTrials } from '../learning/prediction.ts';
import type { ExecutionRecord, StepOutcome } from '../records.ts';
import type { Runbook } from '../runbook/model.ts';
import { type ExtractionProblem, extractFindings } from './extractors.ts';
import type { DiagnosticResult, Finding } from './finding.ts';
import { type LikelyCause, type PastRemediation, rankLikelyCauses } from './rank.ts';

/**
 * What an execution's diagnostics found so far, correlated into likely causes (the alert's start, the
 * dependencies the failing resources share, what came before verified fixes of the same alert), and
 * what the steps still to run will likely do: one explanation for the approval page, the approval
 * e-mail and the execution view. Pure: the caller (services/explain.ts) reads the store.
 */

/** Causes an approval e-mail lists; the page and the API show all ranked ones. */
export const NOTIFICATION_CAUSES = 3;
/** A cause's line in an e-mail is cut here: the page has the rest. */
export const NOTIFICATION_CAUSE_CHARS = 300;

/** The execution explained: who it is and what alert it answers. */
export interface ExplainSubject {
  id: string;
  runbookId: string;
  alert: { name: string; startsAt: string; resource: { type: string } };
}

/** A finished earlier run of the same runbook with its step outcomes. */
export interface PastRun {
  execution: ExecutionRecord;
  outcomes: readonly StepOutcome[];
}

export interface ExplainedPrediction extends StepPrediction {
  /** In a few words, how many similar past runs it rests on (or that it is the prior alone). */
  restsOn: string;
}

export interface ExecutionExplanation {
  alertStartedAt: string;
  /** The alert signature history is matched on: `<alert name> on <resource type>`. */
  signature: string;
  /** Findings of the diagnostics that have run so far, in the order they ran. */
  findings: Finding[];
  /** Outputs that could not be read (their findings are left out). */
  problems: ExtractionProblem[];
  /** Best first. */
  likelyCauses: LikelyCause[];
  history: {
    /** Finished real runs of the runbook the predictions read. */
    runs: number;
    /** Of those, runs of this alert signature. */
    sameSignature: number;
    /** Of those, runs whose remediation was followed by a verified resolution: the history rule's base. */
    verifiedRemediations: number;
  };
  /** Steps not yet run (or those asked about), in declared order. */
  predictions: ExplainedPrediction[];
}

export interface ExplainInput {
  subject: ExplainSubject;
  /** Every attempt of every step of the execution so far. */
  outcomes: readonly StepOutcome[];
  /** Earlier runs of the runbook (any signature: the other signatures are the predictions' prior). */
  past: readonly PastRun[];
  /** The steps to predict; the caller picks them (not yet run, or what an approval covers). */
  steps: ReadonlyArray<{ id: string; name: string }>;
  runbook?: Runbook;
  now: Date;
}

/**
 * The diagnostics' results as the extractors read them: each read-only step's latest attempt that
 * succeeded. Checks and compensations come after changes, so what they see is not the cause.
 */
export function diagnosticResults(outcomes: readonly StepOutcome[]): DiagnosticResult[] {
  const latest = new Map<string, StepOutcome>();
  for (const outcome of outcomes) {
    if (outcome.kind !== 'step' || outcome.mutating) continue;
    if (outcome.status !== 'succeeded' || outcome.output === undefined) continue;
    latest.set(outcome.stepId, outcome);
  }
  return [...latest.values()].map((outcome) => ({
    stepId: outcome.stepId,
    tool: outcome.tool,
    observedAt: outcome.finishedAt ?? outcome.startedAt,
    output: outcome.output,
  }));
}

/** A run whose change worked and whose alert then cleared, undoing nothing: a verified remediation. */
function verifiedRemediation(run: PastRun): boolean {
  const outcome = run.execution.outcome;
  if (outcome?.status !== 'succeeded' || outcome.rolledBack) return false;
  return run.outcomes.some(
    (step) => step.kind === 'step' && step.mutating && step.status === 'succeeded' && !step.dryRun,
  );
}

function signatureOfRecord(execution: ExecutionRecord): string {
  return alertSignature({ name: execution.alert.name, resource: { type: execution.alert.resource.type } });
}

/** Finished real runs other than this one, newest first, at most HISTORY_EXECUTIONS. */
function pastRunsOf(input: ExplainInput): PastRun[] {
  return input.past
    .filter((run) => run.execution.id !== input.subject.id && run.execution.outcome && !run.execution.dryRun)
    .sort((a, b) => b.execution.startedAt.localeCompare(a.execution.startedAt))
    .slice(0, HISTORY_EXECUTIONS);
}

/** How many similar past runs a prediction rests on, honestly: a prior alone says so. */
export function restsOn(prediction: Prediction): string {
  const { runs, prior } = prediction.success;
  const similar = `${runs} similar past run${runs === 1 ? '' : 's'} (same runbook, step and alert)`;
  const priorText =
    prior.from === 'other-signatures'
      ? `the prior from ${prior.runs} run${prior.runs === 1 ? '' : 's'} of other alerts`
      : 'an even prior';
  if (runs === 0) return `no history yet, prior only (${priorText})`;
  return prior.from === 'other-signatures' ? `${similar} and ${priorText}` : similar;
}

export function explainExecution(input: ExplainInput): ExecutionExplanation {
  const { subject } = input;
  const signature = alertSignature(subject.alert);
  const { findings, problems } = extractFindings(diagnosticResults(input.outcomes));

  const past = pastRunsOf(input);
  const remediations: PastRemediation[] = [];
  for (const run of past) {
    if (signatureOfRecord(run.execution) !== signature) continue;
    const verified = verifiedRemediation(run);
    remediations.push({
      executionId: run.execution.id,
      verified,
      // Only verified runs count in the ranking: the others' outputs need not be read.
      findings: verified
        ? extractFindings(diagnosticResults(run.outcomes)).findings.map((finding) => ({
            kind: finding.kind,
            resource: finding.resource,
          }))
        : [],
    });
  }
  const likelyCauses = rankLikelyCauses({
    alertStartedAt: subject.alert.startsAt,
    findings,
    history: remediations,
  });

  const history = runbookHistory(
    subject.runbookId,
    input.runbook,
    past.map((run) => run.execution),
    past.map((run) => run.outcomes),
    input.now,
  );
  const predictions = input.steps.map((step) => {
    const prediction = predictOutcome(stepTrials(history.executions, step.id), signature);
    return { stepId: step.id, name: step.name, ...prediction, restsOn: restsOn(prediction) };
  });

  return {
    alertStartedAt: subject.alert.startsAt,
    signature,
    findings,
    problems,
    likelyCauses,
    history: {
      runs: past.length,
      sameSignature: remediations.length,
      verifiedRemediations: remediations.filter((run) => run.verified).length,
    },
    predictions,
  };
}

// ----------------------------------------------------------------------------------------- in words

/** A duration as a person reads it: 0.4s, 12s, 3m 5s, 1h 20m. */
export function describeDuration(ms: number): string {
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

const percent = (value: number) => `${Math.round(value * 100)}%`;

/** The success half of a prediction: `78% likely to succeed (90% interval 52–93%)`. */
export function describeSuccess(prediction: Prediction): string {
  const { probability, interval } = prediction.success;
  return `${percent(probability)} likely to succeed (90% interval ${percent(interval.low)}–${percent(interval.high)})`;
}

/** The duration half: `about 12s (90% interval 8.0s–20s)`, or that nothing was measured. */
export function describeExpectedDuration(prediction: Prediction): string {
  const duration = prediction.durationMs;
  if (!duration) return 'duration not measured yet';
  return `about ${describeDuration(duration.expectedMs)} (90% interval ${describeDuration(duration.interval.low)}–${describeDuration(duration.interval.high)})`;
}

function clip(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

/**
 * What an approval e-mail says before its links: the top likely causes as short lines, and the
 * prediction of each step it asks about. Bounded: NOTIFICATION_CAUSES lines of at most
 * NOTIFICATION_CAUSE_CHARS, one line per step.
 */
export function explanationLines(explanation: ExecutionExplanation, stepIds?: readonly string[]): string[] {
  const causes = explanation.likelyCauses.slice(0, NOTIFICATION_CAUSES);
  const lines = [
    'Likely cause:',
    ...(causes.length === 0
      ? [
          explanation.findings.length === 0
            ? '  The diagnostics so far found nothing abnormal.'
            : '  No finding stands out.',
        ]
      : causes.map((cause, index) => `  ${index + 1}. ${clip(cause.conclusion, NOTIFICATION_CAUSE_CHARS)}`)),
  ];
  const wanted = stepIds ? new Set(stepIds) : undefined;
  const predictions = explanation.predictions.filter(
    (prediction) => !wanted || wanted.has(prediction.stepId),
  );
  if (predictions.length > 0)
    lines.push(
      '',
      'Prediction:',
      ...predictions.map(
        (prediction) =>
          `  ${prediction.name}: ${describeSuccess(prediction)}, ${describeExpectedDuration(prediction)}; rests on ${prediction.restsOn}.`,
      ),
    );
  return lines;
}

import { alertSignature, wilsonLowerBound } from '../automation/evidence.ts';
import type { Runbook } from '../runbook/model.ts';
import type { HistoryExecution, RunbookHistory } from './history.ts';
import { ran } from './patterns.ts';
import { quantile, runbookEvidence, type StepEvidence } from './suggestions/evidence.ts';

/**
 * Which steps of a runbook earn their place, from its history: per diagnostic how often its output
 * decided the branch the run took (the replay in suggestions/evidence.ts), how often it failed and how
 * long it took; per remediation how often it was followed by a verified resolution, per alert
 * signature. Diagnostics are ranked most decisive first, by what the history can claim, not by luck.
 */

/** Decision rates are ranked by their Wilson lower bound at this confidence: 1 of 1 claims little. */
export const RANKING_CONFIDENCE = 0.9;

export interface DurationPercentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface DiagnosticEffectiveness {
  stepId: string;
  name: string;
  /** Runs in which it ran. */
  runs: number;
  /** Runs in which its output decided the branch taken (or fed a later step's parameters). */
  decided: number;
  /** Runs whose branch read a fact the history does not hold: neither decided nor not. */
  undetermined: number;
  /** decided / (runs − undetermined); undefined when no run can tell. */
  decisionRate?: number;
  /** Wilson lower bound of the decision rate at RANKING_CONFIDENCE: the rank key. */
  decisionLowerBound?: number;
  /** Runs whose final attempt failed or timed out. */
  failed: number;
  failureRate?: number;
  /** Time its attempts took per run. */
  durationMs?: DurationPercentiles;
}

export interface ResolutionCount {
  /** Runs in which the remediation succeeded. */
  runs: number;
  /** Of those, runs that ended verified and undid nothing. */
  resolved: number;
  resolutionRate?: number;
}

export interface RemediationEffectiveness extends ResolutionCount {
  stepId: string;
  name: string;
  bySignature: Record<string, ResolutionCount>;
}

export interface StepEffectiveness {
  runbookId: string;
  /** Most decisive first. */
  diagnostics: DiagnosticEffectiveness[];
  remediations: RemediationEffectiveness[];
}

/** The alert signature of a recorded run (its alert's name and resource type), as automation counts it. */
export function signatureOf(execution: HistoryExecution): string {
  return alertSignature({
    name: execution.alert.name,
    resource: { type: execution.alert.resource.type ?? 'unknown' },
  });
}

/**
 * A run that reached its end, verified, and undid nothing (automation's "succeeded" verdict), and that
 * nobody marked not helpful (askForFeedback): people who were there overrule the success checks.
 */
export function verifiedResolution(execution: HistoryExecution): boolean {
  return execution.status === 'succeeded' && !execution.rolledBack && !markedNotHelpful(execution);
}

/** At least one person answered that the run did not help. */
export function markedNotHelpful(execution: Pick<HistoryExecution, 'feedback'>): boolean {
  return (execution.feedback?.notHelpful ?? 0) > 0;
}

function percentiles(values: readonly number[]): DurationPercentiles | undefined {
  if (values.length === 0) return undefined;
  return { p50: quantile(values, 0.5), p90: quantile(values, 0.9), p99: quantile(values, 0.99) };
}

function diagnostic(evidence: StepEvidence): DiagnosticEffectiveness {
  const decidable = evidence.runs - evidence.undetermined;
  const durationMs = percentiles([...evidence.durationIn.values()]);
  return {
    stepId: evidence.stepId,
    name: evidence.location.step.name,
    runs: evidence.runs,
    decided: evidence.decided,
    undetermined: evidence.undetermined,
    ...(decidable > 0
      ? {
          decisionRate: evidence.decided / decidable,
          decisionLowerBound: wilsonLowerBound(evidence.decided, decidable, RANKING_CONFIDENCE)!,
        }
      : {}),
    failed: evidence.failed,
    ...(evidence.runs > 0 ? { failureRate: evidence.failed / evidence.runs } : {}),
    ...(durationMs ? { durationMs } : {}),
  };
}

/** Most decisive first: the claimable decision rate, then the rate, then the faster, then by id. */
export function byDecisiveness(a: DiagnosticEffectiveness, b: DiagnosticEffectiveness): number {
  return (
    (b.decisionLowerBound ?? -1) - (a.decisionLowerBound ?? -1) ||
    (b.decisionRate ?? -1) - (a.decisionRate ?? -1) ||
    (a.durationMs?.p50 ?? Number.POSITIVE_INFINITY) - (b.durationMs?.p50 ?? Number.POSITIVE_INFINITY) ||
    a.stepId.localeCompare(b.stepId)
  );
}

function resolution(runs: number, resolved: number): ResolutionCount {
  return { runs, resolved, ...(runs > 0 ? { resolutionRate: resolved / runs } : {}) };
}

function remediation(
  stepId: string,
  name: string,
  executions: readonly HistoryExecution[],
): RemediationEffectiveness {
  const counts = new Map<string, { runs: number; resolved: number }>();
  let runs = 0;
  let resolved = 0;
  for (const execution of executions) {
    const entry = execution.steps.find((step) => step.stepId === stepId && step.kind === 'step');
    // Only a change that was made and stayed made can take the credit for a resolution.
    if (!entry || !ran(entry) || entry.status !== 'succeeded' || execution.compensated.includes(stepId))
      continue;
    const signature = signatureOf(execution);
    const count = counts.get(signature) ?? { runs: 0, resolved: 0 };
    const ok = verifiedResolution(execution);
    count.runs++;
    runs++;
    if (ok) {
      count.resolved++;
      resolved++;
    }
    counts.set(signature, count);
  }
  const bySignature: Record<string, ResolutionCount> = {};
  for (const [signature, count] of [...counts].sort(([a], [b]) => a.localeCompare(b)))
    bySignature[signature] = resolution(count.runs, count.resolved);
  return { stepId, name, ...resolution(runs, resolved), bySignature };
}

/** Step effectiveness of a runbook from its history. */
export function stepEffectiveness(runbook: Runbook, history: RunbookHistory): StepEffectiveness {
  const evidence = runbookEvidence(runbook, history);
  const diagnostics: DiagnosticEffectiveness[] = [];
  const remediations: RemediationEffectiveness[] = [];
  for (const step of evidence.steps.values()) {
    const declared = step.location.step;
    if (step.location.kind !== 'phase' || !('type' in declared)) continue;
    if (declared.type === 'diagnostic') diagnostics.push(diagnostic(step));
    else if (declared.type === 'remediation')
      remediations.push(remediation(step.stepId, step.location.step.name, history.executions));
  }
  return { runbookId: runbook.id, diagnostics: diagnostics.sort(byDecisiveness), remediations };
}

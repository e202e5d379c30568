import { conditionSteps } from '../../compiler/conditions.ts';
import { type StepLocation, stepLocations } from '../../runbook/checks.ts';
import { ancestorPhases, buildPhaseGraph } from '../../runbook/graph.ts';
import {
  type Branch,
  type Comparison,
  type Condition,
  effectiveOnFailure,
  type Runbook,
} from '../../runbook/model.ts';
import { formatPath } from '../../runbook/path.ts';
import { findTemplates, parseReference } from '../../runbook/templates.ts';
import type { HistoryExecution, HistoryStep, RunbookHistory } from '../history.ts';
import { ran } from '../patterns.ts';

/**
 * What the history says about each step of a runbook: runs, failures, timeouts, durations, and how
 * often it *decided* something. A step decided a run when, in that run,
 *  (a) a branch rule that reads its output matched and sent the run somewhere other than the branch's
 *      default (re-evaluated over the facts recorded with the run), or
 *  (b) a step that ran after it took one of its parameters from its output.
 * Where a branch rule before it reads a fact the history does not hold (an alert label, an output too
 * large to keep), the run is `undetermined` for the steps that branch reads: never counted as "did not
 * decide".
 */

/** Three-valued: undefined when a fact the answer depends on is not in the history. */
export type Truth = boolean | undefined;

export type FactValue =
  | { known: false }
  | { known: true; present: false }
  | { known: true; present: true; value: unknown };

const UNKNOWN: FactValue = { known: false };
const ABSENT: FactValue = { known: true, present: false };

/** The step a `steps.<id>…` fact or template reads. */
export function referencedStep(expression: string): string | undefined {
  const segments = parseReference(expression);
  return segments?.[0] === 'steps' && typeof segments[1] === 'string' ? segments[1] : undefined;
}

function stepEntry(execution: HistoryExecution, stepId: string): HistoryStep | undefined {
  return execution.steps.find(
    (step) => step.stepId === stepId && (step.kind === 'step' || step.kind === 'check'),
  );
}

/** The value a condition fact had in a recorded run, as far as the history knows it. */
export function factIn(execution: HistoryExecution, fact: string): FactValue {
  const segments = parseReference(fact);
  if (!segments) return UNKNOWN;
  const [root, second, third] = segments;
  if (root === 'steps' && typeof second === 'string') {
    const step = stepEntry(execution, second);
    if (third === 'status') {
      if (!step) return ABSENT;
      // A failure the run continued past (a timeout too) is kept as `failed` where its result would be.
      const status = step.status === 'timed-out' ? 'failed' : step.status;
      return segments.length === 3 ? { known: true, present: true, value: status } : ABSENT;
    }
    if (step?.status !== 'succeeded') return ABSENT;
    if (Object.hasOwn(step.facts, fact)) return { known: true, present: true, value: step.facts[fact] };
    return step.absentFacts.includes(fact) ? ABSENT : UNKNOWN;
  }
  if (root === 'alert' && segments.length === 2 && typeof second === 'string') {
    const alert = execution.alert as Record<string, unknown>;
    return ['name', 'source', 'severity', 'environment'].includes(second)
      ? { known: true, present: true, value: alert[second] }
      : UNKNOWN;
  }
  if (root === 'resource' && segments.length === 2 && typeof second === 'string') {
    const value = execution.alert.resource[second];
    // A field the alert did not name may still be resolved at run time.
    return value === undefined ? UNKNOWN : { known: true, present: true, value };
  }
  // Parameters and execution facts are not kept with a run.
  return UNKNOWN;
}

/** Step Functions' StringMatches: `*` matches any run of characters, `\*` a star. */
function wildcard(pattern: string, value: string): boolean {
  const source = pattern
    .split(/(\\\*|\*)/)
    .map((part) =>
      part === '*' ? '.*' : part === '\\*' ? '\\*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`, 's').test(value);
}

function typedEquals(value: unknown, expected: string | number | boolean): boolean {
  return typeof value === typeof expected && value === expected;
}

function compare(comparison: Comparison, fact: FactValue): Truth {
  if (!fact.known) return undefined;
  if (comparison.exists !== undefined) return comparison.exists === fact.present;
  if (comparison.notEquals !== undefined)
    return !(fact.present && typedEquals(fact.value, comparison.notEquals));
  if (!fact.present) return false;
  const value = fact.value;
  if (comparison.equals !== undefined) return typedEquals(value, comparison.equals);
  if (comparison.in !== undefined) return comparison.in.some((candidate) => typedEquals(value, candidate));
  if (comparison.matches !== undefined)
    return typeof value === 'string' && wildcard(comparison.matches, value);
  if (typeof value !== 'number') return false;
  if (comparison.greaterThan !== undefined) return value > comparison.greaterThan;
  if (comparison.greaterThanOrEquals !== undefined) return value >= comparison.greaterThanOrEquals;
  if (comparison.lessThan !== undefined) return value < comparison.lessThan;
  if (comparison.lessThanOrEquals !== undefined) return value <= comparison.lessThanOrEquals;
  return undefined;
}

/** A condition over a recorded run, with the compiled Choice rule's semantics. */
export function evaluateCondition(condition: Condition, execution: HistoryExecution): Truth {
  if ('all' in condition) {
    const results = condition.all.map((inner) => evaluateCondition(inner, execution));
    return results.includes(false) ? false : results.includes(undefined) ? undefined : true;
  }
  if ('any' in condition) {
    const results = condition.any.map((inner) => evaluateCondition(inner, execution));
    return results.includes(true) ? true : results.includes(undefined) ? undefined : false;
  }
  if ('not' in condition) {
    const inner = evaluateCondition(condition.not, execution);
    return inner === undefined ? undefined : !inner;
  }
  return compare(condition, factIn(execution, condition.fact));
}

export type BranchResult =
  | { evaluated: false }
  | { evaluated: true; rule: number | 'default' }
  | { evaluated: true; rule: undefined };

/**
 * Which rule of a branch a recorded run took: the first that held with every rule before it false;
 * `rule: undefined` when a rule before the deciding one depends on a fact the history does not hold.
 * Not evaluated when the run did not get through the phase it follows (a step of it missing, or
 * failed without onFailure: continue).
 */
export function branchTaken(runbook: Runbook, branch: Branch, execution: HistoryExecution): BranchResult {
  const phase = runbook.phases.find((candidate) => candidate.id === branch.after);
  const passed = phase?.steps.every((step) => {
    const entry = stepEntry(execution, step.id);
    if (!entry) return false;
    if (entry.status === 'failed' || entry.status === 'timed-out')
      return effectiveOnFailure(step) === 'continue';
    return entry.status !== 'aborted';
  });
  if (!passed) return { evaluated: false };
  for (const [index, rule] of branch.rules.entries()) {
    const truth = evaluateCondition(rule.when, execution);
    if (truth === undefined) return { evaluated: true, rule: undefined };
    if (truth) return { evaluated: true, rule: index };
  }
  return { evaluated: true, rule: 'default' };
}

export interface StepEvidence {
  location: StepLocation;
  stepId: string;
  /** Runs in which the step ran (not skipped). */
  runs: number;
  succeeded: number;
  /** Runs whose final attempt failed or timed out. */
  failed: number;
  /** Runs whose final attempt timed out. */
  timedOut: number;
  /** Every finished attempt's duration; attempts that timed out count at least the step's timeout. */
  attemptDurationsMs: number[];
  /** The duration of each run's succeeding attempt. */
  successDurationsMs: number[];
  decided: number;
  undetermined: number;
  /** Runs that ran the step, by execution id, with the time its attempts took in each. */
  durationIn: Map<string, number>;
  /** Runs in which it decided something. */
  decidedIn: Set<string>;
}

/** Where a step's output is read: conditions, templates, recorded outputs, approvals naming it. */
export interface StepReference {
  kind: 'condition' | 'template' | 'recordOutputs' | 'approval';
  at: string;
  /** The step that reads it through a template in its parameters (for decisions). */
  reader?: string;
}

function expectOf(location: StepLocation): Condition | undefined {
  return 'expect' in location.step ? location.step.expect : undefined;
}

/** Every place in the runbook that reads a step's output or names the step. */
export function stepReferences(runbook: Runbook): Map<string, StepReference[]> {
  const references = new Map<string, StepReference[]>();
  const add = (stepId: string, reference: StepReference) =>
    references.set(stepId, [...(references.get(stepId) ?? []), reference]);
  for (const [branchIndex, branch] of runbook.conditionalBranching.entries()) {
    for (const [ruleIndex, rule] of branch.rules.entries()) {
      for (const stepId of new Set(conditionSteps(rule.when)))
        add(stepId, {
          kind: 'condition',
          at: formatPath(['conditionalBranching', branchIndex, 'rules', ruleIndex, 'when']),
        });
    }
  }
  for (const location of stepLocations(runbook)) {
    const expect = expectOf(location);
    if (expect)
      for (const stepId of new Set(conditionSteps(expect)))
        if (stepId !== location.step.id)
          add(stepId, { kind: 'condition', at: formatPath([...location.at, 'expect']) });
  }
  // Templates anywhere (parameters, compensations, notifications, messages) read outputs.
  const locations = stepLocations(runbook);
  for (const reference of findTemplates(runbook).references) {
    const stepId = referencedStep(reference.expression);
    if (!stepId) continue;
    const owner = locations.find((location) =>
      location.at.every((segment, index) => reference.at[index] === segment),
    );
    add(stepId, {
      kind: 'template',
      at: formatPath(reference.at),
      ...(owner && reference.at[owner.at.length] === 'parameters' ? { reader: owner.step.id } : {}),
    });
  }
  for (const [index, fact] of runbook.learningHooks.recordOutputs.entries()) {
    const stepId = referencedStep(fact);
    if (stepId)
      add(stepId, { kind: 'recordOutputs', at: formatPath(['learningHooks', 'recordOutputs', index]) });
  }
  // An approval page shows the approver what the diagnostics before it found: a person reads them.
  const graph = buildPhaseGraph(runbook);
  for (const [index, requirement] of runbook.approvalRequirements.entries()) {
    const at = formatPath(['approvalRequirements', index]);
    for (const stepId of requirement.steps) add(stepId, { kind: 'approval', at: `${at}.steps` });
    const gated = [
      ...requirement.phases,
      ...runbook.phases
        .filter((phase) => phase.steps.some((step) => requirement.steps.includes(step.id)))
        .map((phase) => phase.id),
    ];
    const shown = new Set(gated.flatMap((phase) => [...ancestorPhases(graph, phase)]));
    for (const phase of runbook.phases)
      if (shown.has(phase.id))
        for (const step of phase.steps)
          if (step.type === 'diagnostic')
            add(step.id, { kind: 'approval', at: `${at} (shown to the approver)` });
  }
  return references;
}

export interface RunbookEvidence {
  steps: Map<string, StepEvidence>;
  references: Map<string, StepReference[]>;
  /** Per branch (by index), what each run took. */
  branches: Array<Map<string, BranchResult>>;
  executions: readonly HistoryExecution[];
}

/**
 * The stopWhen of the reorderable phase a step is in, when it reads the step: the step decided a run
 * when its own finding made the phase stop (the condition holds with the phase's other steps unseen).
 */
function stopWhenOf(
  runbook: Runbook,
  location: StepLocation,
): { when: Condition; others: Set<string> } | undefined {
  if (location.kind !== 'phase') return undefined;
  const phase = runbook.phases[location.phaseIndex!];
  if (!phase?.stopWhen || !conditionSteps(phase.stopWhen).includes(location.step.id)) return undefined;
  return {
    when: phase.stopWhen,
    others: new Set(phase.steps.map((step) => step.id).filter((id) => id !== location.step.id)),
  };
}

function withoutSteps(execution: HistoryExecution, steps: ReadonlySet<string>): HistoryExecution {
  return { ...execution, steps: execution.steps.filter((step) => !steps.has(step.stepId)) };
}

/** The evidence of every step of the runbook, from its history. */
export function runbookEvidence(runbook: Runbook, history: RunbookHistory): RunbookEvidence {
  const references = stepReferences(runbook);
  const branches = runbook.conditionalBranching.map(
    (branch) =>
      new Map(history.executions.map((execution) => [execution.id, branchTaken(runbook, branch, execution)])),
  );
  const steps = new Map<string, StepEvidence>();
  for (const location of stepLocations(runbook)) {
    const stepId = location.step.id;
    const evidence: StepEvidence = {
      location,
      stepId,
      runs: 0,
      succeeded: 0,
      failed: 0,
      timedOut: 0,
      attemptDurationsMs: [],
      successDurationsMs: [],
      decided: 0,
      undetermined: 0,
      durationIn: new Map(),
      decidedIn: new Set(),
    };
    const readers = (references.get(stepId) ?? []).flatMap((reference) =>
      reference.reader ? [reference.reader] : [],
    );
    const stopping = stopWhenOf(runbook, location);
    for (const execution of history.executions) {
      const entry = stepEntry(execution, stepId);
      if (!entry || !ran(entry)) continue;
      evidence.runs++;
      evidence.durationIn.set(
        execution.id,
        entry.attempts.reduce((sum, attempt) => sum + (attempt.durationMs ?? 0), 0),
      );
      if (entry.status === 'succeeded') {
        evidence.succeeded++;
        const last = entry.attempts.at(-1)!.durationMs;
        if (last !== undefined) evidence.successDurationsMs.push(last);
      }
      if (entry.status === 'failed' || entry.status === 'timed-out') evidence.failed++;
      if (entry.status === 'timed-out') evidence.timedOut++;
      const timeoutMs = location.step.timeout * 1_000;
      for (const attempt of entry.attempts) {
        if (attempt.status === 'skipped' || attempt.durationMs === undefined) continue;
        evidence.attemptDurationsMs.push(
          attempt.status === 'timed-out' ? Math.max(attempt.durationMs, timeoutMs) : attempt.durationMs,
        );
      }
      let decided = readers.some((reader) => {
        const read = stepEntry(execution, reader);
        return read !== undefined && ran(read);
      });
      let undetermined = false;
      for (const [branchIndex, branch] of runbook.conditionalBranching.entries()) {
        const result = branches[branchIndex]!.get(execution.id)!;
        if (!result.evaluated) continue;
        const reads = branch.rules.map((rule) => conditionSteps(rule.when).includes(stepId));
        if (!reads.includes(true)) continue;
        if (result.rule === undefined) undetermined = true;
        else if (
          typeof result.rule === 'number' &&
          reads[result.rule] &&
          branch.rules[result.rule]!.goto !== branch.default
        )
          decided = true;
      }
      if (stopping && !decided) {
        const truth = evaluateCondition(stopping.when, withoutSteps(execution, stopping.others));
        if (truth === true) decided = true;
        else if (truth === undefined) undetermined = true;
      }
      if (decided) {
        evidence.decided++;
        evidence.decidedIn.add(execution.id);
      } else if (undetermined) evidence.undetermined++;
    }
    steps.set(stepId, evidence);
  }
  return { steps, references, branches, executions: history.executions };
}

/** The q-quantile (nearest rank) of values; 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

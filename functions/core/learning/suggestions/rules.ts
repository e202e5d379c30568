import { formatDuration } from '../../duration.ts';
import type { FailurePattern, SuccessFactor } from '../../records.ts';
import { LAMBDA_MAX_SECONDS } from '../../runbook/checks.ts';
import {
  BRANCH_END,
  BRANCH_ESCALATE,
  type Comparison,
  effectiveOnFailure,
  type Phase,
  type Runbook,
  type Step,
} from '../../runbook/model.ts';
import type { PathSegment } from '../../runbook/path.ts';
import type { ToolCatalog } from '../../tool-catalog.ts';
import type { HistoryExecution, RunbookHistory } from '../history.ts';
import { describeFactorCondition } from '../patterns.ts';
import { factIn, mean, quantile, type RunbookEvidence, type StepEvidence } from './evidence.ts';
import { type RunbookEdit, sourceValue } from './yaml-edit.ts';

/**
 * The suggestion rules: each reads a runbook, its history and the evidence drawn from it, and proposes
 * concrete edits to the runbook file with the numbers behind them and what they should change. Rules
 * only propose; `suggestChanges` applies the edits in memory, bumps the version, validates the result
 * and renders the diff; a person applies one with `runbook learn suggest --apply N`.
 */

export const SUGGESTION_RULE_IDS = [
  'raise-timeout',
  'add-compensation',
  'tighten-condition',
  'drop-diagnostic',
  'demote-diagnostic',
  'reorder-diagnostics',
  'update-expected-duration',
] as const;
export type SuggestionRuleId = (typeof SUGGESTION_RULE_IDS)[number];

/** Tuning (same steps, same paths) is a patch; a change to what a run does is a minor version. */
export type VersionBump = 'patch' | 'minor';

export interface ProposedChange {
  rule: SuggestionRuleId;
  title: string;
  /** What the change is about: a step id, a branch rule. */
  subject: string;
  edits: RunbookEdit[];
  bump: VersionBump;
  /** The numbers behind it, for people. */
  evidence: string[];
  expectedEffect: string;
  /** The same numbers, for machines (`--json`) and tests. */
  figures: Record<string, number | string>;
}

export interface RuleContext {
  runbook: Runbook;
  /** The runbook file's text (to keep how its author writes values). */
  text: string;
  history: RunbookHistory;
  evidence: RunbookEvidence;
  tools: ToolCatalog;
  failurePatterns: readonly FailurePattern[];
  successFactors: readonly SuccessFactor[];
}

export interface SuggestionRule {
  id: SuggestionRuleId;
  propose(context: RuleContext): ProposedChange[];
}

/** A step needs at least this many runs before a rule says anything about it. */
export const MIN_RUNS = 5;
/** Timeouts: this share of runs timing out (and at least two runs) is worth raising. */
const TIMEOUT_RATE = 0.1;
/** Headroom over the measured percentile. */
const TIMEOUT_HEADROOM = 1.5;
/** Conditions: this share of the changes a rule led to were rolled back (and at least two). */
const ROLLBACK_RATE = 0.2;
/** expectedDuration is off when the measured median is this factor away (and 2 s or more). */
const DURATION_FACTOR = 1.5;

function percent(part: number, whole: number): string {
  return `${Math.round((part / whole) * 100)}%`;
}

function seconds(ms: number): string {
  return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

/** A duration in the form the file already uses: a number stays a number of seconds. */
function durationValue(text: string, path: PathSegment[], value: number): string | number {
  return typeof sourceValue(text, path) === 'number' ? value : formatDuration(value);
}

/** Rounds a timeout up to what a person would write: 5 s steps to a minute, 30 s to ten, then minutes. */
function roundTimeout(value: number): number {
  const step = value <= 60 ? 5 : value <= 600 ? 30 : 60;
  return Math.ceil(value / step) * step;
}

function phaseOf(runbook: Runbook, evidence: StepEvidence): Phase | undefined {
  return evidence.location.phaseIndex === undefined
    ? undefined
    : runbook.phases[evidence.location.phaseIndex];
}

function isDiagnostic(context: RuleContext, step: Step): boolean {
  return step.type === 'diagnostic' && context.tools.get(step.tool)?.mutating === false;
}

function labelsText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
}

const KEYS_TIMEOUT_FOLLOWS = ['expectedDuration', 'risk', 'parameters', 'tool'];
const KEYS_COMPENSATION_FOLLOWS = ['onFailure', 'retry', 'timeout', 'expectedDuration', 'risk', 'parameters'];

// ---------------------------------------------------------------------------------------------------

/** A step that timed out in enough runs: its timeout raised to the measured p95 with headroom. */
export const raiseTimeout: SuggestionRule = {
  id: 'raise-timeout',
  propose(context) {
    const changes: ProposedChange[] = [];
    for (const evidence of context.evidence.steps.values()) {
      const { location } = evidence;
      if (location.kind === 'rollback') continue;
      if (
        evidence.runs < MIN_RUNS ||
        evidence.timedOut < 2 ||
        evidence.timedOut / evidence.runs < TIMEOUT_RATE
      )
        continue;
      const current = location.step.timeout;
      const attemptP95 = quantile(evidence.attemptDurationsMs, 0.95);
      const successP50 = quantile(evidence.successDurationsMs, 0.5);
      const successP95 = quantile(evidence.successDurationsMs, 0.95);
      // Timed-out attempts only tell that they needed more than the timeout: the p95 is a floor.
      const proposed = Math.min(
        LAMBDA_MAX_SECONDS,
        roundTimeout((Math.max(attemptP95, successP95) * TIMEOUT_HEADROOM) / 1_000),
      );
      if (proposed <= current) continue;
      const path = [...location.at, 'timeout'];
      const concentrated = context.failurePatterns.find(
        (pattern) =>
          pattern.stepId === evidence.stepId &&
          pattern.errorClass === 'Runbook.StepTimeout' &&
          Object.keys(pattern.labels).length > 0 &&
          pattern.confidence > evidence.timedOut / evidence.runs,
      );
      changes.push({
        rule: 'raise-timeout',
        title: `Raise the timeout of step "${evidence.stepId}" from ${formatDuration(current)} to ${formatDuration(proposed)}`,
        subject: evidence.stepId,
        edits: [
          {
            op: 'set',
            path,
            value: durationValue(context.text, path, proposed),
            after: KEYS_TIMEOUT_FOLLOWS,
          },
        ],
        bump: 'patch',
        evidence: [
          `${evidence.timedOut} of ${evidence.runs} runs (${percent(evidence.timedOut, evidence.runs)}) timed out at ${formatDuration(current)} (Runbook.StepTimeout)`,
          `runs that succeeded took p50 ${seconds(successP50)}, p95 ${seconds(successP95)}; p95 of all ${evidence.attemptDurationsMs.length} attempts ≥ ${seconds(attemptP95)} (a timed-out attempt only tells it needed more than ${formatDuration(current)})`,
          `proposed: ${seconds(Math.max(attemptP95, successP95))} × ${TIMEOUT_HEADROOM} headroom, rounded up to ${formatDuration(proposed)}`,
          ...(concentrated
            ? [
                `failure pattern: ${concentrated.support} of ${concentrated.runs} runs on ${labelsText(concentrated.labels)} timed out (confidence ${percent(concentrated.support, concentrated.runs)})`,
              ]
            : []),
        ],
        expectedEffect: `runs that need up to ${formatDuration(proposed)} finish instead of failing: the ${evidence.timedOut} run(s) that timed out get ${formatDuration(proposed - current)} more; a step that hangs fails ${formatDuration(proposed - current)} later. Runs that succeeded are unaffected; if the step still times out at ${formatDuration(proposed)}, the next suggestion says so.`,
        figures: {
          runs: evidence.runs,
          timedOut: evidence.timedOut,
          currentTimeoutSeconds: current,
          proposedTimeoutSeconds: proposed,
          successP50Ms: successP50,
          successP95Ms: successP95,
          attemptP95Ms: attemptP95,
        },
      });
    }
    return changes;
  },
};

/** A mutating step whose tool declares an inverse, without a compensation, that a failed run left changed. */
export const addCompensation: SuggestionRule = {
  id: 'add-compensation',
  propose(context) {
    const changes: ProposedChange[] = [];
    for (const evidence of context.evidence.steps.values()) {
      if (evidence.location.kind !== 'phase') continue;
      const step = evidence.location.step as Step;
      const tool = context.tools.get(step.tool);
      if (step.compensation || !tool?.mutating || !tool.compensation) continue;
      const changed = context.history.executions.filter((execution) =>
        execution.steps.some(
          (entry) => entry.stepId === step.id && entry.kind === 'step' && entry.status === 'succeeded',
        ),
      );
      const leftInPlace = changed.filter(
        (execution) =>
          (execution.status !== 'succeeded' || execution.rolledBack) &&
          !execution.compensated.includes(step.id),
      );
      if (leftInPlace.length === 0) continue;
      changes.push({
        rule: 'add-compensation',
        title: `Add a compensation to step "${step.id}": ${tool.compensation.tool}, the inverse ${tool.name} declares`,
        subject: step.id,
        edits: [
          {
            op: 'set',
            path: [...evidence.location.at, 'compensation'],
            value: 'auto',
            after: KEYS_COMPENSATION_FOLLOWS,
          },
        ],
        bump: 'minor',
        evidence: [
          `${step.id} (${tool.name}) changed the system in ${changed.length} run(s)`,
          `${leftInPlace.length} of them then failed or rolled back and left the change in place: ${leftInPlace
            .slice(0, 3)
            .map(
              (execution) => `${execution.id} (${execution.rolledBack ? 'rolled back' : execution.status})`,
            )
            .join(', ')}${leftInPlace.length > 3 ? ', …' : ''}`,
          `${tool.name} declares its inverse: ${tool.compensation.tool} (${tool.compensation.description})`,
        ],
        expectedEffect: `when a run fails or rolls back after this step, the platform runs ${tool.compensation.tool} and undoes the change: in the ${leftInPlace.length} run(s) above, the change would not have stayed.`,
        figures: {
          changed: changed.length,
          leftInPlace: leftInPlace.length,
          inverse: tool.compensation.tool,
        },
      });
    }
    return changes;
  },
};

const NUMERIC_OPERATORS = ['greaterThan', 'greaterThanOrEquals', 'lessThan', 'lessThanOrEquals'] as const;
type NumericOperator = (typeof NUMERIC_OPERATORS)[number];

interface Tightening {
  path: PathSegment[];
  fact: string;
  operator: NumericOperator;
  from: number;
  to: number;
  excluded: number;
  badValues: number[];
  goodValues: number[];
}

/** The tightest threshold that keeps every good run and drops as many rolled-back ones as it can. */
function tighten(
  comparison: Comparison,
  path: PathSegment[],
  good: readonly HistoryExecution[],
  bad: readonly HistoryExecution[],
): Tightening | undefined {
  const operator = NUMERIC_OPERATORS.find((candidate) => comparison[candidate] !== undefined);
  if (!operator) return undefined;
  const valuesOf = (executions: readonly HistoryExecution[]) =>
    executions.map((execution) => {
      const fact = factIn(execution, comparison.fact);
      return fact.known && fact.present && typeof fact.value === 'number' ? fact.value : undefined;
    });
  const goodValues = valuesOf(good);
  const badValues = valuesOf(bad);
  if ([...goodValues, ...badValues].includes(undefined)) return undefined;
  const goods = goodValues as number[];
  const bads = badValues as number[];
  const from = comparison[operator] as number;
  let to: number | undefined;
  let excluded = 0;
  if (operator === 'greaterThan' || operator === 'greaterThanOrEquals') {
    const least = Math.min(...goods);
    const below = bads.filter((value) => value < least);
    if (below.length === 0) return undefined;
    to = operator === 'greaterThan' ? Math.max(...below) : least;
    excluded = below.length;
  } else {
    const most = Math.max(...goods);
    const above = bads.filter((value) => value > most);
    if (above.length === 0) return undefined;
    to = operator === 'lessThan' ? Math.min(...above) : most;
    excluded = above.length;
  }
  if (to === from) return undefined;
  return {
    path: [...path, operator],
    fact: comparison.fact,
    operator,
    from,
    to,
    excluded,
    badValues: [...bads].sort((a, b) => a - b),
    goodValues: [...goods].sort((a, b) => a - b),
  };
}

const OPERATOR_TEXT: Record<NumericOperator, string> = {
  greaterThan: '>',
  greaterThanOrEquals: '≥',
  lessThan: '<',
  lessThanOrEquals: '≤',
};

function range(values: readonly number[]): string {
  return values.length === 0 ? 'none' : `${values[0]}–${values.at(-1)}`;
}

/** A branch rule that sent runs to a change that was rolled back: its threshold moved past those runs. */
export const tightenCondition: SuggestionRule = {
  id: 'tighten-condition',
  propose(context) {
    const { runbook } = context;
    const changes: ProposedChange[] = [];
    for (const [branchIndex, branch] of runbook.conditionalBranching.entries()) {
      for (const [ruleIndex, rule] of branch.rules.entries()) {
        if (rule.goto === BRANCH_END || rule.goto === BRANCH_ESCALATE) continue;
        const target = runbook.phases.find((phase) => phase.id === rule.goto);
        const mutating = (target?.steps ?? []).filter((step) => context.tools.get(step.tool)?.mutating);
        if (mutating.length === 0) continue;
        const matched = context.history.executions.filter((execution) => {
          const taken = context.evidence.branches[branchIndex]!.get(execution.id);
          return (
            taken?.evaluated === true &&
            taken.rule === ruleIndex &&
            execution.steps.some(
              (entry) =>
                entry.kind === 'step' &&
                entry.status === 'succeeded' &&
                mutating.some((step) => step.id === entry.stepId),
            )
          );
        });
        const bad = matched.filter((execution) => execution.rolledBack);
        const good = matched.filter((execution) => execution.status === 'succeeded' && !execution.rolledBack);
        if (bad.length < 2 || bad.length / matched.length < ROLLBACK_RATE || good.length === 0) continue;
        const rulePath: PathSegment[] = ['conditionalBranching', branchIndex, 'rules', ruleIndex, 'when'];
        const candidates: Array<{ comparison: Comparison; path: PathSegment[] }> =
          'fact' in rule.when
            ? [{ comparison: rule.when, path: rulePath }]
            : 'all' in rule.when
              ? rule.when.all.flatMap((inner, index) =>
                  'fact' in inner ? [{ comparison: inner, path: [...rulePath, 'all', index] }] : [],
                )
              : [];
        const best = candidates
          .map((candidate) => tighten(candidate.comparison, candidate.path, good, bad))
          .filter((found): found is Tightening => found !== undefined)
          .sort((a, b) => b.excluded - a.excluded)[0];
        if (!best) continue;
        const symbol = OPERATOR_TEXT[best.operator];
        // A recorded output on the same fact that agrees: success on the side the tightened rule keeps.
        const factor = context.successFactors.find(
          (candidate) =>
            candidate.fact === best.fact &&
            (best.operator.startsWith('greater')
              ? 'greaterThanOrEquals' in candidate.when
              : 'lessThan' in candidate.when),
        );
        changes.push({
          rule: 'tighten-condition',
          title: `Tighten rule ${ruleIndex + 1} of branch "${branch.id}": ${best.fact} ${symbol} ${best.to} instead of ${symbol} ${best.from}`,
          subject: `${branch.id}.rules[${ruleIndex}]`,
          edits: [{ op: 'set', path: best.path, value: best.to }],
          bump: 'minor',
          evidence: [
            `the rule sent ${matched.length} run(s) to phase "${rule.goto}", which changed the system (${mutating.map((step) => step.id).join(', ')}); ${bad.length} of them (${percent(bad.length, matched.length)}) were rolled back`,
            `${best.fact} in the rolled-back runs: ${best.badValues.join(', ')}; in the ${good.length} that succeeded: ${range(best.goodValues)}`,
            ...(factor
              ? [
                  `success factor: runs with ${factor.fact} ${describeFactorCondition(factor)} succeeded ${factor.succeeded} of ${factor.support} times (all runs that recorded it: ${percent(factor.baselineSuccessRate, 1)})`,
                ]
              : []),
          ],
          expectedEffect: `with ${symbol} ${best.to}, the rule would not have matched ${best.excluded} of the ${bad.length} rolled-back run(s) (they go to "${branch.default}" instead) and still matches all ${good.length} that succeeded.`,
          figures: {
            matched: matched.length,
            rolledBack: bad.length,
            succeeded: good.length,
            from: best.from,
            to: best.to,
            excluded: best.excluded,
          },
        });
      }
    }
    return changes;
  },
};

function sequentialSaving(context: RuleContext, evidence: StepEvidence): string {
  const perRun = evidence.attemptDurationsMs.reduce((sum, value) => sum + value, 0) / evidence.runs;
  const phase = phaseOf(context.runbook, evidence)!;
  return phase.mode === 'parallel'
    ? `one ${evidence.location.step.tool} call fewer per run (${seconds(perRun)} on average); phase "${phase.id}" finishes sooner only where this step was its slowest lane`
    : `each run of phase "${phase.id}" is ${seconds(perRun)} shorter on average`;
}

function neverDecided(context: RuleContext, evidence: StepEvidence): boolean {
  if (evidence.location.kind !== 'phase' || !isDiagnostic(context, evidence.location.step as Step))
    return false;
  return evidence.runs >= MIN_RUNS && evidence.decided === 0 && evidence.undetermined === 0;
}

/** A diagnostic that ran often and whose output nothing reads: removed. */
export const dropDiagnostic: SuggestionRule = {
  id: 'drop-diagnostic',
  propose(context) {
    const changes: ProposedChange[] = [];
    for (const evidence of context.evidence.steps.values()) {
      if (!neverDecided(context, evidence)) continue;
      if ((context.evidence.references.get(evidence.stepId) ?? []).length > 0) continue;
      const phase = phaseOf(context.runbook, evidence)!;
      if (phase.steps.length < 2) continue;
      const step = evidence.location.step as Step;
      const stopped = effectiveOnFailure(step) !== 'continue' ? evidence.failed : 0;
      changes.push({
        rule: 'drop-diagnostic',
        title: `Drop diagnostic step "${step.id}" from phase "${phase.id}": nothing reads what it finds`,
        subject: step.id,
        edits: [{ op: 'remove', path: evidence.location.at }],
        bump: 'minor',
        evidence: [
          `ran in ${evidence.runs} run(s) and decided none: no branch rule, template, recorded output or approval reads its output`,
          `took ${seconds(mean(evidence.attemptDurationsMs))} per attempt on average; failed in ${evidence.failed} run(s)${stopped > 0 ? `, each of which then ${effectiveOnFailure(step) === 'rollback' ? 'rolled back' : 'stopped'}` : ''}`,
        ],
        expectedEffect: `${sequentialSaving(context, evidence)}${stopped > 0 ? `; the ${stopped} run(s) it stopped would have gone on` : ''}. Its output no longer shows in the execution view.`,
        figures: {
          runs: evidence.runs,
          decided: 0,
          failed: evidence.failed,
          meanAttemptMs: Math.round(mean(evidence.attemptDurationsMs)),
        },
      });
    }
    return changes;
  },
};

/** A diagnostic that never decided anything but is read somewhere: it no longer stops a run. */
export const demoteDiagnostic: SuggestionRule = {
  id: 'demote-diagnostic',
  propose(context) {
    const changes: ProposedChange[] = [];
    for (const evidence of context.evidence.steps.values()) {
      if (!neverDecided(context, evidence)) continue;
      const references = context.evidence.references.get(evidence.stepId) ?? [];
      if (references.length === 0) continue;
      const step = evidence.location.step as Step;
      const onFailure = effectiveOnFailure(step);
      if (onFailure === 'continue') continue;
      changes.push({
        rule: 'demote-diagnostic',
        title: `Demote diagnostic step "${step.id}" to onFailure: continue: it never decided anything`,
        subject: step.id,
        edits: [
          {
            op: 'set',
            path: [...evidence.location.at, 'onFailure'],
            value: 'continue',
            after: ['retry', 'timeout', 'expectedDuration', 'risk', 'parameters'],
          },
        ],
        bump: 'minor',
        evidence: [
          `ran in ${evidence.runs} run(s) and decided none: ${references
            .map((reference) => `${reference.kind} at ${reference.at}`)
            .join(
              '; ',
            )} read it, but no rule reading it sent a run anywhere but its branch's default and no step reading it ran`,
          `failed in ${evidence.failed} of ${evidence.runs} run(s); on failure it ${onFailure === 'rollback' ? 'rolls the run back' : 'stops the run'} (onFailure: ${onFailure})`,
        ],
        expectedEffect:
          evidence.failed > 0
            ? `its failure no longer stops the run: the ${evidence.failed} run(s) it stopped would have gone on. Its output stays in the record for the people who read it.`
            : `it has not failed in ${evidence.runs} run(s): the change matters only when it does, and then the run goes on. Its output stays in the record for the people who read it.`,
        figures: { runs: evidence.runs, decided: 0, failed: evidence.failed },
      });
    }
    return changes;
  },
};

/**
 * A sequential phase of independent read-only diagnostics, not yet declared `reorderable`, whose order
 * by decisions per second finds the first decisive finding sooner: declare it reorderable (each run
 * then orders it from what was measured) and put its steps in that order (the order it falls back to).
 */
export const reorderDiagnostics: SuggestionRule = {
  id: 'reorder-diagnostics',
  propose(context) {
    const changes: ProposedChange[] = [];
    for (const [phaseIndex, phase] of context.runbook.phases.entries()) {
      if (phase.mode !== 'sequential' || phase.steps.length < 2 || phase.reorderable) continue;
      if (!phase.steps.every((step) => isDiagnostic(context, step))) continue;
      // A step-level approval needs the declared order; validation refuses it in a reorderable phase.
      if (
        context.runbook.approvalRequirements.some((requirement) =>
          requirement.steps.some((id) => phase.steps.some((step) => step.id === id)),
        )
      )
        continue;
      const ids = new Set(phase.steps.map((step) => step.id));
      // A step reading another of the phase depends on the order.
      const dependent = phase.steps.some((step) =>
        (context.evidence.references.get(step.id) ?? []).some(
          (reference) => reference.reader !== undefined && ids.has(reference.reader),
        ),
      );
      if (dependent) continue;
      const steps = phase.steps.map((step) => context.evidence.steps.get(step.id)!);
      if (
        steps.some((evidence) => evidence.runs < MIN_RUNS) ||
        steps.every((evidence) => evidence.decided === 0)
      )
        continue;
      const score = (evidence: StepEvidence) =>
        evidence.decided / evidence.runs / Math.max(mean(evidence.successDurationsMs) / 1_000, 0.001);
      const order = steps
        .map((evidence, index) => ({ index, score: score(evidence) }))
        .sort((a, b) => b.score - a.score || a.index - b.index)
        .map((entry) => entry.index);
      if (order.every((old, place) => old === place)) continue;
      // Time to the first decisive finding, replayed on the runs where every step ran and one decided.
      const firstDecision = (sequence: readonly number[], executionId: string) => {
        let elapsed = 0;
        for (const index of sequence) {
          const evidence = steps[index]!;
          elapsed += evidence.durationIn.get(executionId) ?? 0;
          if (evidence.decidedIn.has(executionId)) return elapsed;
        }
        return undefined;
      };
      const replayed = context.history.executions.filter(
        (execution) =>
          steps.every((evidence) => evidence.durationIn.has(execution.id)) &&
          steps.some((evidence) => evidence.decidedIn.has(execution.id)),
      );
      if (replayed.length === 0) continue;
      const before = mean(
        replayed.map(
          (execution) =>
            firstDecision(
              phase.steps.map((_, index) => index),
              execution.id,
            )!,
        ),
      );
      const after = mean(replayed.map((execution) => firstDecision(order, execution.id)!));
      if (after >= before) continue;
      changes.push({
        rule: 'reorder-diagnostics',
        title: `Reorder phase "${phase.id}" by decisions per second: ${order.map((index) => phase.steps[index]!.id).join(', ')}`,
        subject: phase.id,
        edits: [
          {
            op: 'set',
            path: ['phases', phaseIndex, 'reorderable'],
            value: true,
            before: ['steps'],
            after: ['mode', 'description', 'name'],
          },
          { op: 'reorder', path: ['phases', phaseIndex, 'steps'], order },
        ],
        bump: 'minor',
        evidence: [
          ...steps.map(
            (evidence) =>
              `${evidence.stepId}: decided ${evidence.decided} of ${evidence.runs} runs, ${seconds(mean(evidence.successDurationsMs))} on average: ${score(evidence).toFixed(3)} decisions per second`,
          ),
          'reorderable: every step of the phase is a read-only diagnostic and none reads another’s output',
        ],
        expectedEffect: `the first decisive finding is in the record after ${seconds(after)} instead of ${seconds(before)} on average (replayed on ${replayed.length} run(s)), and a later step that fails no longer keeps it from the record. Declared reorderable, each run orders the phase by the hit rate per second measured until then (this order until there is history); add a stopWhen naming the decisive finding and the phase stops there, skipping the rest, so the branch after it decides that much sooner.`,
        figures: { replayed: replayed.length, beforeMs: Math.round(before), afterMs: Math.round(after) },
      });
    }
    return changes;
  },
};

/** The compiler's lane assignment (longest expected first onto the least-loaded lane), timed at `actual`. */
function slowestLane(phase: Phase, expected: (step: Step) => number, actual: (step: Step) => number): number {
  const laneCount = Math.min(phase.maxConcurrency ?? phase.steps.length, phase.steps.length);
  const lanes = Array.from({ length: laneCount }, () => ({ load: 0, actual: 0 }));
  const ordered = phase.steps
    .map((step, index) => ({ step, index }))
    .sort((a, b) => expected(b.step) - expected(a.step) || a.index - b.index);
  for (const { step } of ordered) {
    const lane = lanes.reduce((least, candidate) => (candidate.load < least.load ? candidate : least));
    lane.load += expected(step);
    lane.actual += actual(step);
  }
  return Math.max(...lanes.map((lane) => lane.actual));
}

/** A step whose declared expectedDuration is far from its measured median (or a parallel step without one). */
export const updateExpectedDuration: SuggestionRule = {
  id: 'update-expected-duration',
  propose(context) {
    const changes: ProposedChange[] = [];
    for (const evidence of context.evidence.steps.values()) {
      if (evidence.location.kind !== 'phase' || evidence.successDurationsMs.length < MIN_RUNS) continue;
      const step = evidence.location.step as Step;
      const phase = phaseOf(context.runbook, evidence)!;
      const medianMs = quantile(evidence.successDurationsMs, 0.5);
      const measured = Math.max(1, Math.ceil(medianMs / 1_000));
      const declared = step.expectedDuration;
      if (measured > step.timeout) continue;
      if (declared === undefined ? phase.mode !== 'parallel' : Math.abs(measured - declared) < 2) continue;
      if (
        declared !== undefined &&
        measured < declared * DURATION_FACTOR &&
        declared < measured * DURATION_FACTOR
      )
        continue;
      const medianOf = (candidate: Step) => {
        const measuredMs = quantile(context.evidence.steps.get(candidate.id)?.successDurationsMs ?? [], 0.5);
        return measuredMs > 0 ? measuredMs / 1_000 : (candidate.expectedDuration ?? candidate.timeout);
      };
      const declaredOf = (candidate: Step) => candidate.expectedDuration ?? candidate.timeout;
      const lanesMatter =
        phase.mode === 'parallel' && (phase.maxConcurrency ?? phase.steps.length) < phase.steps.length;
      const lanesBefore = lanesMatter ? slowestLane(phase, declaredOf, medianOf) : 0;
      const lanesAfter = lanesMatter
        ? slowestLane(phase, (candidate) => (candidate === step ? measured : declaredOf(candidate)), medianOf)
        : 0;
      const path = [...evidence.location.at, 'expectedDuration'];
      changes.push({
        rule: 'update-expected-duration',
        title:
          declared === undefined
            ? `Declare expectedDuration ${formatDuration(measured)} on step "${step.id}" (measured)`
            : `Update expectedDuration of step "${step.id}" from ${formatDuration(declared)} to ${formatDuration(measured)} (measured)`,
        subject: step.id,
        edits: [
          {
            op: 'set',
            path,
            value: durationValue(context.text, path, measured),
            before: ['timeout', 'retry', 'onFailure'],
            after: ['parameters', 'risk', 'tool'],
          },
        ],
        bump: 'patch',
        evidence: [
          `${declared === undefined ? 'not declared (the compiler balances parallel lanes by the timeout instead)' : `declared ${formatDuration(declared)}`}; measured median ${seconds(medianMs)}, p90 ${seconds(quantile(evidence.successDurationsMs, 0.9))} over ${evidence.successDurationsMs.length} successful run(s)`,
        ],
        expectedEffect: lanesMatter
          ? lanesAfter < lanesBefore
            ? `phase "${phase.id}" runs ${phase.maxConcurrency} lanes, assigned by expectedDuration: at measured medians its slowest lane takes ${lanesAfter.toFixed(1)}s instead of ${lanesBefore.toFixed(1)}s.`
            : `phase "${phase.id}" keeps the same lane times (${lanesBefore.toFixed(1)}s at measured medians); the declared time now matches what runs take.`
          : 'the declared time matches what runs take: the lane balance of a parallel phase and anything that reads expectedDuration work from the measurement.',
        figures: {
          ...(declared === undefined ? {} : { declaredSeconds: declared }),
          measuredSeconds: measured,
          medianMs,
          runs: evidence.successDurationsMs.length,
        },
      });
    }
    return changes;
  },
};

export const SUGGESTION_RULES: readonly SuggestionRule[] = [
  raiseTimeout,
  addCompensation,
  tightenCondition,
  dropDiagnostic,
  demoteDiagnostic,
  reorderDiagnostics,
  updateExpectedDuration,
];

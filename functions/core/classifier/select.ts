import type { Alert } from '../alert.ts';
import { compileEventPattern } from '../event-pattern.ts';
import type { LearningAggregate } from '../records.ts';
import type { ApplicabilityRule, Runbook } from '../runbook/model.ts';

/**
 * Which runbook treats an alert: every runbook whose applicability rule (an EventBridge pattern over
 * the normalized alert) matches, allowed in the alert's environment, scored by
 *
 *   score = confidence of its best matching rule × learned factor
 *
 * and the highest score wins (ties: higher confidence, then runbook id). The learned factor is what
 * worked before, smoothed so a runbook without history is neither rewarded nor punished:
 *
 *   others   = (S − s + 1) / (N − n + 2)  Laplace's rule of succession over the runbook's executions
 *                                          for other alerts (N executions, S succeeded in all)
 *   forAlert = (s + k·others) / (n + k)   this alert name's n executions, s succeeded, shrunk toward
 *                                          `others` with k = PRIOR_STRENGTH pseudo-executions
 *   factor   = forAlert / 0.5             1 for a runbook never run; between 0 and 2 otherwise
 *
 * So a new runbook scores its confidence; one that keeps failing on this alert sinks below a less
 * confident alternative; its record on other alerts counts too, as much as two runs of this one.
 * Without other history a runbook's factor is plain Laplace: one success 1.33, one failure 0.67.
 */

export const PRIOR_STRENGTH = 2;
/** The smoothed success rate of a runbook with no history; the factor divides by it. */
const NEUTRAL_RATE = 0.5;

export function learnedFactor(aggregate: LearningAggregate | undefined, alertName: string): number {
  if (!aggregate) return 1;
  const forAlert = aggregate.byAlert[alertName] ?? { executions: 0, succeeded: 0 };
  // This alert's runs are in the totals too; counting them in the prior as well would count them twice.
  const otherRuns = Math.max(0, aggregate.executions - forAlert.executions);
  const otherSuccesses = Math.min(otherRuns, Math.max(0, aggregate.succeeded - forAlert.succeeded));
  const others = (otherSuccesses + 1) / (otherRuns + 2);
  const rate = (forAlert.succeeded + PRIOR_STRENGTH * others) / (forAlert.executions + PRIOR_STRENGTH);
  return rate / NEUTRAL_RATE;
}

export interface CompiledRule {
  rule: ApplicabilityRule;
  matches: (alert: unknown) => boolean;
}

export interface RunbookCandidate {
  runbook: Runbook;
  /** The runbook's rules compiled once; compiled on each call when absent. */
  compiledPatterns?: readonly CompiledRule[];
}

/** `localeCompare` as a collator made once (the same order; not a collator looked up per comparison). */
const byLocale = new Intl.Collator().compare;

export const ConsideredOutcome = {
  Selected: 'selected',
  Outscored: 'outscored',
  NoRuleMatched: 'no-rule-matched',
  EnvironmentNotAllowed: 'environment-not-allowed',
} as const;
export type ConsideredOutcome = (typeof ConsideredOutcome)[keyof typeof ConsideredOutcome];

export interface SelectedRunbook {
  runbookId: string;
  runbookVersion: string;
  score: number;
  /** Id of the best matching applicability rule. */
  rule: string;
  confidence: number;
  learnedFactor: number;
}

export interface ConsideredRunbook {
  runbookId: string;
  outcome: ConsideredOutcome;
  /** In words: why it was chosen or not. */
  reason: string;
  rule?: string;
  confidence?: number;
  learnedFactor?: number;
  score?: number;
}

export interface RunbookSelection {
  selected?: SelectedRunbook;
  /** Every candidate, the selected one first, then by score, then the rejected ones by id. */
  considered: ConsideredRunbook[];
}

/**
 * The rules `answers` stands for: the alert names it lists (at its confidence), and the `runbook_url`
 * annotations it lists (compared ignoring case, a little more confident: the alert's author pointed
 * there).
 */
export function answersRules(runbook: Runbook): ApplicabilityRule[] {
  const answers = runbook.answers;
  if (!answers) return [];
  const rules: ApplicabilityRule[] = [];
  if (answers.alerts.length > 0)
    rules.push({
      id: 'answers-alert-name',
      pattern: { name: answers.alerts },
      confidence: answers.confidence,
    });
  if (answers.runbookUrls.length > 0)
    rules.push({
      id: 'answers-runbook-url',
      pattern: {
        annotations: {
          runbook_url: answers.runbookUrls.flatMap((url) => {
            const bare = url.replace(/\/+$/, '');
            return [{ 'equals-ignore-case': bare }, { 'equals-ignore-case': `${bare}/` }];
          }),
        },
      },
      confidence: Math.min(1, Math.round((answers.confidence + 0.05) * 100) / 100),
    });
  return rules;
}

export function compileRules(runbook: Runbook): CompiledRule[] {
  return [...runbook.applicabilityRules, ...answersRules(runbook)].map((rule) => ({
    rule,
    matches: compileEventPattern(rule.pattern),
  }));
}

function round(value: number): string {
  return value.toFixed(2);
}

/** The ids of the rules that were tried, for a rejection's reason. */
function ruleIds(rules: readonly CompiledRule[]): string {
  return rules.map(({ rule }) => rule.id).join(', ');
}

function bestRule(rules: readonly CompiledRule[], alert: Alert): ApplicabilityRule | undefined {
  let best: ApplicabilityRule | undefined;
  for (const { rule, matches } of rules) {
    if (matches(alert) && (best === undefined || rule.confidence > best.confidence)) best = rule;
  }
  return best;
}

export function selectRunbook(
  alert: Alert,
  candidates: readonly RunbookCandidate[],
  learning: ReadonlyMap<string, LearningAggregate> = new Map(),
): RunbookSelection {
  const rejected: ConsideredRunbook[] = [];
  const eligible: Array<ConsideredRunbook & SelectedRunbook> = [];
  for (const { runbook, compiledPatterns } of candidates) {
    const rules = compiledPatterns ?? compileRules(runbook);
    const rule = bestRule(rules, alert);
    if (!rule) {
      rejected.push({
        runbookId: runbook.id,
        outcome: 'no-rule-matched',
        reason: `no applicability rule matched (${ruleIds(rules)})`,
      });
      continue;
    }
    const allowed = runbook.environmentConstraints.environments;
    if (!allowed.includes(alert.environment)) {
      rejected.push({
        runbookId: runbook.id,
        outcome: 'environment-not-allowed',
        reason: `rule ${rule.id} matched, but environment "${alert.environment}" is not one the runbook allows (${allowed.join(', ')})`,
        rule: rule.id,
        confidence: rule.confidence,
      });
      continue;
    }
    const factor = learnedFactor(learning.get(runbook.id), alert.name);
    eligible.push({
      runbookId: runbook.id,
      runbookVersion: runbook.version,
      outcome: 'outscored',
      reason: '',
      rule: rule.id,
      confidence: rule.confidence,
      learnedFactor: factor,
      score: rule.confidence * factor,
    });
  }
  eligible.sort(
    (a, b) => b.score - a.score || b.confidence - a.confidence || byLocale(a.runbookId, b.runbookId),
  );
  const winner = eligible[0];
  const describe = (entry: Pick<SelectedRunbook, 'rule' | 'confidence' | 'learnedFactor' | 'score'>) =>
    `rule ${entry.rule} matched: confidence ${round(entry.confidence)} × learned ${round(entry.learnedFactor)} = ${round(entry.score)}`;
  const considered: ConsideredRunbook[] = eligible.map(({ runbookVersion: _version, ...entry }, index) =>
    index === 0
      ? { ...entry, outcome: 'selected', reason: describe(entry) }
      : { ...entry, reason: `${describe(entry)}, below ${winner!.runbookId}'s ${round(winner!.score)}` },
  );
  rejected.sort((a, b) => byLocale(a.runbookId, b.runbookId));
  if (!winner) return { considered: rejected };
  const { runbookId, runbookVersion, score, rule, confidence, learnedFactor: factor } = winner;
  return {
    selected: { runbookId, runbookVersion, score, rule, confidence, learnedFactor: factor },
    considered: [...considered, ...rejected],
  };
}

/** Holds the runbooks with their patterns compiled once; select() per alert. */
export class RunbookSelector {
  readonly candidates: readonly Required<RunbookCandidate>[];

  /** Throws InvalidEventPatternError for a rule EventBridge would refuse (validation reports it first). */
  constructor(runbooks: readonly Runbook[]) {
    this.candidates = runbooks.map((runbook) => ({ runbook, compiledPatterns: compileRules(runbook) }));
  }

  select(alert: Alert, learning: ReadonlyMap<string, LearningAggregate> = new Map()): RunbookSelection {
    return selectRunbook(alert, this.candidates, learning);
  }

  runbook(id: string): Runbook | undefined {
    return this.candidates.find((candidate) => candidate.runbook.id === id)?.runbook;
  }
}

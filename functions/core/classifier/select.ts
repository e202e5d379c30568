import { type Alert, AlertSource } from '../alert.ts';
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
  const eligible: Eligible[] = [];
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
    admit(runbook, rule, alert, learning, allowed, allowed.join(', '), rejected, eligible);
  }
  rejected.sort((a, b) => byLocale(a.runbookId, b.runbookId));
  return ranked(eligible, rejected);
}

type Eligible = ConsideredRunbook & SelectedRunbook;

/**
 * A runbook whose rule matched the alert: refused when the alert's environment is not one it allows
 * (`allowedText`: those environments as the reason lists them), else eligible with its learned score.
 */
function admit(
  runbook: Runbook,
  rule: ApplicabilityRule,
  alert: Alert,
  learning: ReadonlyMap<string, LearningAggregate>,
  allowed: readonly string[],
  allowedText: string,
  rejected: ConsideredRunbook[],
  eligible: Eligible[],
): void {
  if (!allowed.includes(alert.environment)) {
    rejected.push({
      runbookId: runbook.id,
      outcome: 'environment-not-allowed',
      reason: `rule ${rule.id} matched, but environment "${alert.environment}" is not one the runbook allows (${allowedText})`,
      rule: rule.id,
      confidence: rule.confidence,
    });
    return;
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

/** The selection from the eligible runbooks (any order) and the rejected ones (already in id order). */
// Module-level functions, not closures made per call: this runs once per alert.
const byRank = (a: Eligible, b: Eligible) =>
  b.score - a.score || b.confidence - a.confidence || byLocale(a.runbookId, b.runbookId);

function describe(entry: Pick<SelectedRunbook, 'rule' | 'confidence' | 'learnedFactor' | 'score'>): string {
  return `rule ${entry.rule} matched: confidence ${round(entry.confidence)} × learned ${round(entry.learnedFactor)} = ${round(entry.score)}`;
}

function ranked(eligible: Eligible[], rejected: ConsideredRunbook[]): RunbookSelection {
  if (eligible.length === 0) return { considered: rejected };
  if (eligible.length > 1) eligible.sort(byRank);
  const winner = eligible[0]!;
  const considered: ConsideredRunbook[] = [];
  for (let index = 0; index < eligible.length; index++) {
    const { runbookVersion: _version, ...entry } = eligible[index]!;
    considered.push(
      index === 0
        ? { ...entry, outcome: 'selected', reason: describe(entry) }
        : { ...entry, reason: `${describe(entry)}, below ${winner.runbookId}'s ${round(winner.score)}` },
    );
  }
  for (const entry of rejected) considered.push(entry);
  const { runbookId, runbookVersion, score, rule, confidence, learnedFactor: factor } = winner;
  return {
    selected: { runbookId, runbookVersion, score, rule, confidence, learnedFactor: factor },
    considered,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The selector: what does not depend on the alert, computed once per catalog

/**
 * A field every match requires to be one of a few strings: a top-level field or a field one object
 * down (`source`, `name`, `labels.namespace`, `annotations.runbook_url`) whose pattern lists plain
 * strings only, or equals-ignore-case terms only. Where the alert holds a string there, the pattern
 * matches only if the gate's set has it (lowercased for ignoreCase), so a miss rules the rule out
 * before its pattern runs; where it holds anything else the gate says nothing.
 */
interface Gate {
  /** Index of the gate's path (and case) in the selector's per-alert reads. */
  slot: number;
  values: ReadonlySet<string>;
}

interface GatePath {
  path: readonly string[];
  ignoreCase: boolean;
}

/** A rule with what can rule it out before its pattern runs. */
interface PreparedRule extends CompiledRule {
  /**
   * The pattern's top-level `source` field on its own: the whole pattern matches only where it does,
   * and it reads nothing but the alert's source, so it is decided once per source.
   */
  source?: (alert: unknown) => boolean;
  gates: readonly Gate[];
}

interface PreparedRunbook {
  runbook: Runbook;
  rules: readonly PreparedRule[];
  /** The reason when no rule matched (it names every rule, whichever were tried). */
  noRuleMatched: string;
  allowed: readonly string[];
  allowedText: string;
}

/** Text an event pattern could read as an IP address (and then match other spellings of). */
const ADDRESS_LIKE = /^[0-9a-fA-F:.]*$/;
const plainText = (text: string) => !ADDRESS_LIKE.test(text) || !/[:.]/.test(text);

/** The strings a leaf's terms match, when they are all plain strings or all equals-ignore-case. */
function leafSet(terms: unknown): { values: Set<string>; ignoreCase: boolean } | undefined {
  if (!Array.isArray(terms) || terms.length === 0) return undefined;
  if (terms.every((term): term is string => typeof term === 'string' && plainText(term)))
    return { values: new Set(terms), ignoreCase: false };
  const lowered: string[] = [];
  for (const term of terms) {
    if (typeof term !== 'object' || term === null || Array.isArray(term)) return undefined;
    const keys = Object.keys(term);
    const argument = (term as Record<string, unknown>)['equals-ignore-case'];
    if (keys.length !== 1 || typeof argument !== 'string') return undefined;
    lowered.push(argument.toLowerCase());
  }
  return { values: new Set(lowered), ignoreCase: true };
}

/** The gates of a pattern: its AND-ed leaves at the top and one object down that list strings only. */
function gatesOf(pattern: Record<string, unknown>): Array<GatePath & { values: Set<string> }> {
  const gates: Array<GatePath & { values: Set<string> }> = [];
  for (const key of Object.keys(pattern)) {
    if (key === '$or') continue;
    const value = pattern[key];
    if (Array.isArray(value)) {
      const set = leafSet(value);
      if (set) gates.push({ path: [key], ...set });
    } else if (typeof value === 'object' && value !== null) {
      for (const inner of Object.keys(value)) {
        if (inner === '$or') continue;
        const set = leafSet((value as Record<string, unknown>)[inner]);
        if (set) gates.push({ path: [key, inner], ...set });
      }
    }
  }
  return gates;
}

/** The string at a gate's path (lowercased for ignoreCase), or undefined when it holds no string. */
function readGate(alert: unknown, { path, ignoreCase }: GatePath): string | undefined {
  let node: unknown = alert;
  for (const key of path) {
    // As event patterns read: objects only, never an array, never an inherited member.
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, key))
      return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== 'string') return undefined;
  return ignoreCase ? node.toLowerCase() : node;
}

const NO_LEARNING: ReadonlyMap<string, LearningAggregate> = new Map();

/** Holds the runbooks with their patterns compiled once; select() per alert. */
export class RunbookSelector {
  readonly candidates: readonly Required<RunbookCandidate>[];
  /** The runbooks in the order rejections are listed (by id, as selectRunbook sorts them). */
  readonly #byId: readonly PreparedRunbook[];
  /** Per alert source, each runbook with only the rules whose `source` field admits it. */
  readonly #bySource = new Map<string, readonly PreparedRunbook[]>();
  /** The distinct paths the rules' gates read, each read once per alert. */
  readonly #gatePaths: GatePath[] = [];

  /** Throws InvalidEventPatternError for a rule EventBridge would refuse (validation reports it first). */
  constructor(runbooks: readonly Runbook[]) {
    this.candidates = runbooks.map((runbook) => ({ runbook, compiledPatterns: compileRules(runbook) }));
    const slots = new Map<string, number>();
    const prepareRule = (compiled: CompiledRule): PreparedRule => {
      const pattern = compiled.rule.pattern as Record<string, unknown>;
      const gates = gatesOf(pattern).map(({ path, ignoreCase, values }) => {
        const key = JSON.stringify([path, ignoreCase]);
        let slot = slots.get(key);
        if (slot === undefined) {
          slot = this.#gatePaths.length;
          slots.set(key, slot);
          this.#gatePaths.push({ path, ignoreCase });
        }
        return { slot, values };
      });
      const prepared: PreparedRule = { ...compiled, gates };
      if (Array.isArray(pattern.source)) prepared.source = compileEventPattern({ source: pattern.source });
      return prepared;
    };
    // A stable sort: runbooks of equal ids keep their order, as sorting the rejections kept it.
    this.#byId = this.candidates
      .map(({ runbook, compiledPatterns }) => ({
        runbook,
        rules: compiledPatterns.map(prepareRule),
        noRuleMatched: `no applicability rule matched (${ruleIds(compiledPatterns)})`,
        allowed: runbook.environmentConstraints.environments,
        allowedText: runbook.environmentConstraints.environments.join(', '),
      }))
      .sort((a, b) => byLocale(a.runbook.id, b.runbook.id));
    for (const source of AlertSource.options) this.#bySource.set(source, this.#forSource(source));
  }

  #forSource(source: string): readonly PreparedRunbook[] {
    const event = { source };
    return this.#byId.map((prepared) => ({
      ...prepared,
      rules: prepared.rules.filter((rule) => rule.source === undefined || rule.source(event)),
    }));
  }

  /** The same selection as selectRunbook(alert, this.candidates, learning), with less work per alert. */
  select(alert: Alert, learning: ReadonlyMap<string, LearningAggregate> = NO_LEARNING): RunbookSelection {
    const runbooks = this.#bySource.get(alert.source) ?? this.#byId;
    const paths = this.#gatePaths;
    const reads: Array<string | undefined> = new Array(paths.length);
    for (let slot = 0; slot < paths.length; slot++) reads[slot] = readGate(alert, paths[slot]!);
    const rejected: ConsideredRunbook[] = [];
    const eligible: Eligible[] = [];
    for (const { runbook, rules, noRuleMatched, allowed, allowedText } of runbooks) {
      // bestRule over the rules that can match: the first of the highest confidence.
      let rule: ApplicabilityRule | undefined;
      candidates: for (const prepared of rules) {
        if (rule !== undefined && !(prepared.rule.confidence > rule.confidence)) continue;
        for (const { slot, values } of prepared.gates) {
          const read = reads[slot];
          if (read !== undefined && !values.has(read)) continue candidates;
        }
        if (prepared.matches(alert)) rule = prepared.rule;
      }
      if (!rule) {
        rejected.push({ runbookId: runbook.id, outcome: 'no-rule-matched', reason: noRuleMatched });
        continue;
      }
      admit(runbook, rule, alert, learning, allowed, allowedText, rejected, eligible);
    }
    return ranked(eligible, rejected);
  }

  runbook(id: string): Runbook | undefined {
    return this.candidates.find((candidate) => candidate.runbook.id === id)?.runbook;
  }
}

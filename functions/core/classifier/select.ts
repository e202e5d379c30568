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

/** Numbers as reasons write them (two decimals), each written once: the same few recur for every alert. */
const ROUNDED = new Map<number, string>();
const ROUNDED_MAX = 4_096;

function round(value: number): string {
  let text = ROUNDED.get(value);
  if (text === undefined) {
    text = value.toFixed(2);
    if (ROUNDED.size < ROUNDED_MAX) ROUNDED.set(value, text);
  }
  return text;
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

// Module-level functions, not closures made per call: this runs once per alert.
const byRank = (a: Eligible, b: Eligible) =>
  b.score - a.score || b.confidence - a.confidence || byLocale(a.runbookId, b.runbookId);

function describe(entry: Pick<SelectedRunbook, 'rule' | 'confidence' | 'learnedFactor' | 'score'>): string {
  return `rule ${entry.rule} matched: confidence ${round(entry.confidence)} × learned ${round(entry.learnedFactor)} = ${round(entry.score)}`;
}

function selectedOf(winner: Eligible): SelectedRunbook {
  const { runbookId, runbookVersion, score, rule, confidence, learnedFactor: factor } = winner;
  return { runbookId, runbookVersion, score, rule, confidence, learnedFactor: factor };
}

/** The considered list from the eligible runbooks (ranked, winner first) and the rejected ones (in id order). */
function listed(eligible: readonly Eligible[], rejected: readonly ConsideredRunbook[]): ConsideredRunbook[] {
  const considered: ConsideredRunbook[] = [];
  const winner = eligible[0];
  for (let index = 0; index < eligible.length; index++) {
    // The eligible entry without its runbookVersion, its keys in the same order.
    const { runbookId, rule, confidence, learnedFactor: factor, score } = eligible[index]!;
    const reason = describe(eligible[index]!);
    considered.push({
      runbookId,
      outcome: index === 0 ? 'selected' : 'outscored',
      reason: index === 0 ? reason : `${reason}, below ${winner!.runbookId}'s ${round(winner!.score)}`,
      rule,
      confidence,
      learnedFactor: factor,
      score,
    });
  }
  for (const entry of rejected) considered.push(entry);
  return considered;
}

/** The selection from the eligible runbooks (any order) and the rejected ones (already in id order). */
function ranked(eligible: Eligible[], rejected: ConsideredRunbook[]): RunbookSelection {
  if (eligible.length === 0) return { considered: rejected };
  if (eligible.length > 1) eligible.sort(byRank);
  return { selected: selectedOf(eligible[0]!), considered: listed(eligible, rejected) };
}

// ---------------------------------------------------------------------------------------------------------------
// The selector: what does not depend on the alert, computed once per catalog

/**
 * A field every match requires to be one of a few strings: a top-level field or a field one object
 * down (`source`, `name`, `labels.namespace`, `annotations.runbook_url`) whose pattern lists plain
 * strings only, or equals-ignore-case terms only. Where the alert holds a string there, the pattern
 * matches only if the gate's set has it (lowercased for ignoreCase); where it holds no value (absent,
 * or a number, null, an object: none is a string the terms could equal) the pattern cannot match;
 * where it holds an array (whose elements the pattern reads), the gate says nothing.
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

/** A gate path as read per alert: with, for each key, whether Object.prototype has a member of its name. */
interface GateReader extends GatePath {
  inherited: readonly boolean[];
}

/** A gate's read: the string there, NO_VALUE (no rule gated there can match), or UNKNOWN (an array: it says nothing). */
type GateRead = string | typeof NO_VALUE | typeof UNKNOWN;
const NO_VALUE = null;
const UNKNOWN = undefined;

/** A rule with what can rule it out before its pattern runs. */
interface PreparedRule extends CompiledRule {
  gates: readonly Gate[];
  /** Its runbook's position in the runbooks' id order. */
  runbook: number;
}

interface PreparedRunbook {
  runbook: Runbook;
  /**
   * Its entry in the considered list when no rule matched (the reason names every rule, whichever were
   * tried): the same for every alert, so made once and shared by every selection, frozen so that no
   * reader of one selection can change another's.
   */
  noRuleMatched: Readonly<ConsideredRunbook>;
  allowed: readonly string[];
  allowedText: string;
}

/**
 * The rules that can match alerts of one source, indexed so an alert visits only those its fields
 * allow. Every rule with gates is filed under one of them (its key: the gate whose path holds the
 * most distinct values across the rules) by each string that gate admits; an alert visits the rules
 * filed under the string it holds at each key path (all of them where it holds an array, none where
 * it holds no value), and the rules without gates. Rule numbers are positions in `rules`: runbooks in
 * id order, each runbook's rules in its order, the order the full scan visits them in.
 */
interface RuleIndex {
  rules: readonly PreparedRule[];
  keys: ReadonlyArray<{
    slot: number;
    filed: ReadonlyMap<string, readonly number[]>;
    all: readonly number[];
  }>;
  ungated: readonly number[];
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

/** What a gate's path holds in the alert, as event-pattern.ts reads it (see Gate). */
function readGate(alert: unknown, { path, ignoreCase, inherited }: GateReader): GateRead {
  let node: unknown = alert;
  for (let at = 0; at < path.length; at++) {
    // An array: the pattern reads its elements, which the gate does not follow.
    if (Array.isArray(node)) return UNKNOWN;
    // Anything else that is not an object holds none of the pattern's fields.
    if (typeof node !== 'object' || node === null) return NO_VALUE;
    const key = path[at]!;
    // As event patterns read a field: never an inherited member of Object.prototype (`constructor`).
    node = inherited[at] && !Object.hasOwn(node, key) ? undefined : (node as Record<string, unknown>)[key];
  }
  if (typeof node === 'string') return ignoreCase ? node.toLowerCase() : node;
  return Array.isArray(node) ? UNKNOWN : NO_VALUE;
}

const NO_LEARNING: ReadonlyMap<string, LearningAggregate> = new Map();
const ascending = (a: number, b: number) => a - b;

/** Holds the runbooks with their patterns compiled once; select() per alert. */
export class RunbookSelector {
  readonly candidates: readonly Required<RunbookCandidate>[];
  /** The runbooks in the order rejections are listed (by id, as selectRunbook sorts them). */
  readonly #byId: readonly PreparedRunbook[];
  /** Every runbook's noRuleMatched entry, in id order: the considered list's rejections when no rule matched. */
  readonly #noneMatched: readonly ConsideredRunbook[];
  /** Per alert source, the rules whose `source` field admits it, indexed. */
  readonly #bySource = new Map<string, RuleIndex>();
  /** Every rule, indexed: for an alert whose source is none of AlertSource's. */
  readonly #anySource: RuleIndex;
  /** The distinct paths the rules' gates read, each read once per alert. */
  readonly #gatePaths: GateReader[] = [];

  /** Throws InvalidEventPatternError for a rule EventBridge would refuse (validation reports it first). */
  constructor(runbooks: readonly Runbook[]) {
    this.candidates = runbooks.map((runbook) => ({ runbook, compiledPatterns: compileRules(runbook) }));
    // A stable sort: runbooks of equal ids keep their order, as sorting the rejections kept it.
    const ordered = [...this.candidates].sort((a, b) => byLocale(a.runbook.id, b.runbook.id));
    this.#byId = ordered.map(({ runbook, compiledPatterns }) => ({
      runbook,
      noRuleMatched: Object.freeze({
        runbookId: runbook.id,
        outcome: ConsideredOutcome.NoRuleMatched,
        reason: `no applicability rule matched (${ruleIds(compiledPatterns)})`,
      }),
      allowed: runbook.environmentConstraints.environments,
      allowedText: runbook.environmentConstraints.environments.join(', '),
    }));
    this.#noneMatched = this.#byId.map((prepared) => prepared.noRuleMatched);
    const slots = new Map<string, number>();
    const rules: Array<PreparedRule & { source?: (event: unknown) => boolean }> = [];
    ordered.forEach(({ compiledPatterns }, position) => {
      for (const compiled of compiledPatterns) {
        const pattern = compiled.rule.pattern as Record<string, unknown>;
        const gates = gatesOf(pattern).map(({ path, ignoreCase, values }) => {
          const key = JSON.stringify([path, ignoreCase]);
          let slot = slots.get(key);
          if (slot === undefined) {
            slot = this.#gatePaths.length;
            slots.set(key, slot);
            this.#gatePaths.push({
              path,
              ignoreCase,
              inherited: path.map((name) => name in Object.prototype),
            });
          }
          return { slot, values };
        });
        // The pattern's `source` field on its own: the whole matches only where it does (decided per source).
        const source = Array.isArray(pattern.source)
          ? compileEventPattern({ source: pattern.source })
          : undefined;
        rules.push({ ...compiled, gates, runbook: position, source });
      }
    });
    for (const source of AlertSource.options) {
      const event = { source };
      this.#bySource.set(
        source,
        indexRules(rules.filter((rule) => rule.source === undefined || rule.source(event))),
      );
    }
    this.#anySource = indexRules(rules);
  }

  /** The same selection as selectRunbook(alert, this.candidates, learning), with less work per alert. */
  select(alert: Alert, learning: ReadonlyMap<string, LearningAggregate> = NO_LEARNING): RunbookSelection {
    const index = this.#bySource.get(alert.source) ?? this.#anySource;
    const paths = this.#gatePaths;
    const reads: GateRead[] = new Array(paths.length);
    for (let slot = 0; slot < paths.length; slot++) reads[slot] = readGate(alert, paths[slot]!);
    // The rules this alert can match: those filed under what it holds at each key path.
    const visit: number[] = [];
    let lists = 0;
    for (const { slot, filed, all } of index.keys) {
      const read = reads[slot];
      const numbers = read === UNKNOWN ? all : read === NO_VALUE ? undefined : filed.get(read);
      if (numbers === undefined || numbers.length === 0) continue;
      lists++;
      for (const number of numbers) visit.push(number);
    }
    if (index.ungated.length > 0) {
      lists++;
      for (const number of index.ungated) visit.push(number);
    }
    if (lists > 1) visit.sort(ascending);

    // bestRule per runbook over the rules visited, in the full scan's order: the first of the highest confidence.
    const rejected: ConsideredRunbook[] = [];
    const eligible: Eligible[] = [];
    /** The runbooks a rule matched (positions in id order), and for each the rejection it got, if any. */
    const matched: number[] = [];
    const refusals: Array<ConsideredRunbook | undefined> = [];
    const byId = this.#byId;
    for (let at = 0; at < visit.length; ) {
      const current = index.rules[visit[at]!]!.runbook;
      let rule: ApplicabilityRule | undefined;
      for (; at < visit.length; at++) {
        const prepared = index.rules[visit[at]!]!;
        if (prepared.runbook !== current) break;
        if (rule !== undefined && !(prepared.rule.confidence > rule.confidence)) continue;
        if (!passes(prepared.gates, reads)) continue;
        if (prepared.matches(alert)) rule = prepared.rule;
      }
      if (rule === undefined) continue;
      const { runbook, allowed, allowedText } = byId[current]!;
      const before = rejected.length;
      admit(runbook, rule, alert, learning, allowed, allowedText, rejected, eligible);
      matched.push(current);
      refusals.push(rejected.length > before ? rejected[before] : undefined);
    }

    // The rejections in id order: a copy of the list where no rule matched, where one matched its refusal
    // or nothing (matched runs in id order: from the end, the positions before stay where they are).
    const rejections = this.#noneMatched.slice();
    for (let index = matched.length - 1; index >= 0; index--) {
      const refusal = refusals[index];
      if (refusal !== undefined) rejections[matched[index]!] = refusal;
      else rejections.splice(matched[index]!, 1);
    }
    if (eligible.length === 0) return { considered: rejections };
    if (eligible.length > 1) eligible.sort(byRank);
    // In front of the rejections, in place: no second copy of the list.
    rejections.unshift(...listed(eligible, []));
    return { selected: selectedOf(eligible[0]!), considered: rejections };
  }

  runbook(id: string): Runbook | undefined {
    return this.candidates.find((candidate) => candidate.runbook.id === id)?.runbook;
  }
}

/** False when a gate rules the rule out for what the alert holds (see Gate). */
function passes(gates: readonly Gate[], reads: readonly GateRead[]): boolean {
  for (const { slot, values } of gates) {
    const read = reads[slot];
    if (read === NO_VALUE || (read !== UNKNOWN && !values.has(read))) return false;
  }
  return true;
}

/** The index of some rules (in the full scan's order); see RuleIndex. */
function indexRules(rules: readonly PreparedRule[]): RuleIndex {
  // The key of a rule: its gate on the path whose gates admit the most distinct strings (the most selective).
  const distinct = new Map<number, Set<string>>();
  for (const { gates } of rules)
    for (const { slot, values } of gates) {
      const seen = distinct.get(slot) ?? new Set<string>();
      for (const value of values) seen.add(value);
      distinct.set(slot, seen);
    }
  const keys = new Map<number, { slot: number; filed: Map<string, number[]>; all: number[] }>();
  const ungated: number[] = [];
  rules.forEach(({ gates }, number) => {
    if (gates.length === 0) {
      ungated.push(number);
      return;
    }
    let key = gates[0]!;
    for (const gate of gates) if (distinct.get(gate.slot)!.size > distinct.get(key.slot)!.size) key = gate;
    let entry = keys.get(key.slot);
    if (entry === undefined) {
      entry = { slot: key.slot, filed: new Map(), all: [] };
      keys.set(key.slot, entry);
    }
    entry.all.push(number);
    for (const value of key.values) {
      const filed = entry.filed.get(value);
      if (filed === undefined) entry.filed.set(value, [number]);
      else filed.push(number);
    }
  });
  return { rules, keys: [...keys.values()], ungated };
}

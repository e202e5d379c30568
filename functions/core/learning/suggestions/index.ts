import { createHash } from 'node:crypto';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { inc } from 'semver';
import type { PolicySet } from '../../policy.ts';
import type { Runbook } from '../../runbook/model.ts';
import { validateRunbookText } from '../../runbook/validate.ts';
import type { ToolCatalog } from '../../tool-catalog.ts';
import type { RunbookHistory } from '../history.ts';
import { failurePatterns, successFactors } from '../patterns.ts';
import { runbookEvidence } from './evidence.ts';
import {
  type ProposedChange,
  SUGGESTION_RULES,
  type SuggestionRule,
  type SuggestionRuleId,
  type VersionBump,
} from './rules.ts';
import { applyEdits, RunbookEditError } from './yaml-edit.ts';

export { SUGGESTION_RULE_IDS, SUGGESTION_RULES, type SuggestionRuleId } from './rules.ts';

/** A proposed change made concrete: the runbook file as it would be, its diff, and what it rests on. */
export interface Suggestion {
  runbookId: string;
  /** The file as given (a path relative to where the command runs). */
  file: string;
  rule: SuggestionRuleId;
  title: string;
  subject: string;
  evidence: string[];
  expectedEffect: string;
  figures: Record<string, number | string>;
  version: { from: string; to: string; bump: VersionBump };
  /** Unified diff of the file, version bump included. */
  diff: string;
  /** SHA-256 of the file the suggestion was computed from: applying it refuses any other. */
  baseSha256: string;
  /** The whole file after the change (validated). */
  text: string;
  /** How many runs the history held. */
  runs: number;
}

/** A change a rule proposed that could not be made into a valid edit, and why. */
export interface SkippedSuggestion {
  rule: SuggestionRuleId;
  title: string;
  reason: string;
}

export interface SuggestionInput {
  file: string;
  text: string;
  runbook: Runbook;
  history: RunbookHistory;
  tools: ToolCatalog;
  policies: PolicySet;
  /** The rules to run (default: all). */
  rules?: readonly SuggestionRule[];
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The version after a change: semver patch for tuning, minor for a change to what a run does. */
export function bumpedVersion(version: string, bump: VersionBump): string {
  const next = inc(version, bump);
  if (!next) throw new RunbookEditError(`version "${version}" is not a semantic version`);
  return next;
}

function concrete(
  input: SuggestionInput,
  change: ProposedChange,
): { suggestion: Suggestion } | { skipped: SkippedSuggestion } {
  const from = input.runbook.version;
  try {
    const to = bumpedVersion(from, change.bump);
    const text = applyEdits(input.text, [...change.edits, { op: 'set', path: ['version'], value: to }]);
    const result = validateRunbookText(text, { tools: input.tools, policies: input.policies });
    if (result.problems.length > 0) {
      const [first] = result.problems;
      return {
        skipped: {
          rule: change.rule,
          title: change.title,
          reason: `the changed runbook would not validate: ${first!.path}: ${first!.message}${result.problems.length > 1 ? ` (and ${result.problems.length - 1} more)` : ''}`,
        },
      };
    }
    return {
      suggestion: {
        runbookId: input.runbook.id,
        file: input.file,
        rule: change.rule,
        title: change.title,
        subject: change.subject,
        evidence: change.evidence,
        expectedEffect: change.expectedEffect,
        figures: change.figures,
        version: { from, to, bump: change.bump },
        diff: createTwoFilesPatch(
          `a/${input.file}`,
          `b/${input.file}`,
          input.text,
          text,
          undefined,
          undefined,
          {
            context: 3,
            headerOptions: FILE_HEADERS_ONLY,
          },
        ),
        baseSha256: sha256(input.text),
        text,
        runs: input.history.executions.length,
      },
    };
  } catch (error) {
    if (error instanceof RunbookEditError)
      return { skipped: { rule: change.rule, title: change.title, reason: error.message } };
    throw error;
  }
}

/**
 * Every change the rules propose for one runbook file, each made concrete against the file's text:
 * edited in place (comments and layout kept), version bumped, validated, diffed. Changes that cannot
 * be made or would not validate come back as skipped, with the reason.
 */
export function suggestChanges(input: SuggestionInput): {
  suggestions: Suggestion[];
  skipped: SkippedSuggestion[];
} {
  const context = {
    runbook: input.runbook,
    text: input.text,
    history: input.history,
    evidence: runbookEvidence(input.runbook, input.history),
    tools: input.tools,
    failurePatterns: failurePatterns(input.history.executions),
    successFactors: successFactors(input.history.executions),
  };
  const suggestions: Suggestion[] = [];
  const skipped: SkippedSuggestion[] = [];
  for (const rule of input.rules ?? SUGGESTION_RULES) {
    for (const change of rule.propose(context)) {
      const made = concrete(input, change);
      if ('suggestion' in made) suggestions.push(made.suggestion);
      else skipped.push(made.skipped);
    }
  }
  return { suggestions, skipped };
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyPatch } from 'diff';
import { describe, expect, it } from 'vitest';
import { failurePatterns, successFactors } from '../../../../functions/core/learning/patterns.ts';
import {
  type Suggestion,
  type SuggestionRuleId,
  suggestChanges,
} from '../../../../functions/core/learning/suggestions/index.ts';
import { validateRunbookText } from '../../../../functions/core/runbook/validate.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import {
  POD_MEMORY_GROWTH as FILE,
  podMemoryRun as run,
  type SeedRun,
  seedRuns,
} from '../../../support/learning-history.ts';
import { loadRunbook, OPTIONS, POLICIES, ROOT } from '../../../support/runbooks.ts';

const TEXT = readFileSync(join(ROOT, FILE), 'utf8');
const RUNBOOK = loadRunbook(FILE);

function suggest(runs: SeedRun[]) {
  const { history } = seedRuns(RUNBOOK, runs);
  return suggestChanges({
    file: FILE,
    text: TEXT,
    runbook: RUNBOOK,
    history,
    tools: TOOL_CATALOG,
    policies: POLICIES,
  });
}

function only(suggestions: Suggestion[], rule: SuggestionRuleId, subject?: string): Suggestion {
  const found = suggestions.filter(
    (suggestion) => suggestion.rule === rule && (subject === undefined || suggestion.subject === subject),
  );
  expect(found, `${rule} ${subject ?? ''}: ${suggestions.map((s) => s.title).join(' | ')}`).toHaveLength(1);
  return found[0]!;
}

/** The lines a diff takes out and puts in (everything else is untouched, byte for byte). */
function changedLines(diff: string): { removed: string[]; added: string[] } {
  const lines = diff.split('\n').filter((line) => !line.startsWith('---') && !line.startsWith('+++'));
  return {
    removed: lines.filter((line) => line.startsWith('-')).map((line) => line.slice(1)),
    added: lines.filter((line) => line.startsWith('+')).map((line) => line.slice(1)),
  };
}

/** Applies the suggestion's diff to the original file and checks it gives the suggested, valid file. */
function appliesCleanly(suggestion: Suggestion): string {
  const patched = applyPatch(TEXT, suggestion.diff);
  expect(patched).toBe(suggestion.text);
  const result = validateRunbookText(patched as string, OPTIONS);
  expect(result.problems).toEqual([]);
  expect(result.runbook?.version).toBe(suggestion.version.to);
  return patched as string;
}

const normal = (count: number, shape: Parameters<typeof run>[0] = {}) =>
  Array.from({ length: count }, () => run(shape));

describe('suggestions that are changes', () => {
  it('raises a timeout that failed 30% of the runs to the measured p95 with headroom; the diff applies and validates', () => {
    // Prepare: pod-status times out at 30s in 3 of 10 runs; the others take 3 to 9 s
    const runs = [
      ...[3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000].map((durationMs) =>
        run({ podStatus: { durationMs } }),
      ),
      ...normal(3, { podStatus: { status: 'timed-out', durationMs: 30_000 } }),
    ];

    // Act
    const { suggestions } = suggest(runs);

    // Assess: p95 of all attempts is the timeout (≥ 30 s) × 1.5 headroom = 45 s; a patch version
    const timeout = only(suggestions, 'raise-timeout', 'pod-status');
    expect(timeout.figures).toMatchObject({
      runs: 10,
      timedOut: 3,
      currentTimeoutSeconds: 30,
      proposedTimeoutSeconds: 45,
      successP95Ms: 9_000,
    });
    expect(timeout.version).toEqual({ from: '1.4.0', to: '1.4.1', bump: 'patch' });
    expect(timeout.evidence[0]).toBe('3 of 10 runs (30%) timed out at 30s (Runbook.StepTimeout)');
    appliesCleanly(timeout);
    // Only the version and the timeout change; the timeout keeps its trailing comment.
    expect(changedLines(timeout.diff)).toEqual({
      removed: ['version: 1.4.0', '        timeout: 30s # the API server answers within seconds'],
      added: ['version: 1.4.1', '        timeout: 45s # the API server answers within seconds'],
    });
  });

  it('says nothing about a timeout hit once in ten runs', () => {
    // Prepare
    const runs = [...normal(9), run({ podStatus: { status: 'timed-out', durationMs: 30_000 } })];

    // Act
    const { suggestions } = suggest(runs);

    // Assess
    expect(suggestions.filter((suggestion) => suggestion.rule === 'raise-timeout')).toEqual([]);
  });

  it('drops a diagnostic nothing reads, with its lines and only those', () => {
    // Prepare: ten ordinary runs
    const runs = normal(10);

    // Act
    const { suggestions } = suggest(runs);

    // Assess
    const drop = only(suggestions, 'drop-diagnostic', 'rollout-history');
    expect(drop.figures).toMatchObject({ runs: 10, decided: 0 });
    expect(drop.version.bump).toBe('minor');
    expect(drop.expectedEffect).toMatch(/one k8s\.rollout-history call fewer per run/);
    const patched = appliesCleanly(drop);
    expect(changedLines(drop.diff).removed).toEqual([
      'version: 1.4.0',
      '      - id: rollout-history',
      '        name: Recent rollouts   # nothing reads this one',
      '        type: diagnostic',
      '        tool: k8s.rollout-history',
      '        parameters:',
      '          namespace: "{{ resource.namespace }}"',
      '          kind: Deployment',
      '          name: "{{ resource.name }}"',
      '        expectedDuration: 2s',
      '        timeout: 30s',
    ]);
    expect(patched).toContain('  # Then the pod, in order.\n');
  });

  it('demotes instead of dropping a diagnostic an approval page shows to the approver', () => {
    // Prepare: the same runbook with an approval before scale-out, which shows what inspect read
    const text = TEXT.replace(
      '\nlearningHooks:',
      '\napprovalRequirements:\n  - id: sre-approves-scale-out\n    phases: [scale-out]\n    approverGroups: [sre-oncall]\n\nlearningHooks:',
    );
    const result = validateRunbookText(text, OPTIONS);
    expect(result.problems).toEqual([]);
    const { history } = seedRuns(result.runbook!, normal(10));

    // Act
    const { suggestions } = suggestChanges({
      file: FILE,
      text,
      runbook: result.runbook!,
      history,
      tools: TOOL_CATALOG,
      policies: POLICIES,
    });

    // Assess
    expect(suggestions.filter((suggestion) => suggestion.rule === 'drop-diagnostic')).toEqual([]);
    const demote = only(suggestions, 'demote-diagnostic', 'rollout-history');
    expect(demote.evidence[0]).toMatch(/approval at approvalRequirements\[0\] \(shown to the approver\)/);
  });

  it('demotes a diagnostic whose branch rule never changed the branch, and one only recorded', () => {
    // Prepare: ten runs where pod-status never had more than 50 warnings
    const runs = normal(10);

    // Act
    const { suggestions } = suggest(runs);

    // Assess: pod-status is read by rule 2 (never matched), pod-events only by learningHooks
    const podStatus = only(suggestions, 'demote-diagnostic', 'pod-status');
    expect(podStatus.evidence[0]).toMatch(/condition at conditionalBranching\[0\]\.rules\[1\]\.when/);
    const podEvents = only(suggestions, 'demote-diagnostic', 'pod-events');
    expect(podEvents.evidence[0]).toMatch(/recordOutputs at learningHooks\.recordOutputs\[1\]/);
    appliesCleanly(podStatus);
    appliesCleanly(podEvents);
    expect(changedLines(podEvents.diff)).toEqual({
      removed: ['version: 1.4.0'],
      added: ['version: 1.5.0', '        onFailure: continue'],
    });
  });

  it('does not call a diagnostic undecisive once its rule has sent runs elsewhere', () => {
    // Prepare: two of ten runs had pod-status report 80 warnings and went to a human
    const runs = [...normal(8), ...normal(2, { warnings: 80 })];

    // Act
    const { suggestions } = suggest(runs);

    // Assess
    expect(suggestions.filter((suggestion) => suggestion.subject === 'pod-status')).toEqual([]);
  });

  it('reorders a sequential phase of diagnostics by decisions per second', () => {
    // Prepare: memory-usage (0.5 s) decides 6 runs in 10, pod-status (3 s) 2, pod-events (2 s) none
    const runs = [...normal(6, { memory: 95 }), ...normal(2, { warnings: 80 }), ...normal(2)];

    // Act
    const { suggestions } = suggest(runs);

    // Assess: first finding after 1.25 s instead of (6 × 5.5 + 2 × 3) / 8 = 4.875 s
    const reorder = only(suggestions, 'reorder-diagnostics', 'diagnose');
    expect(reorder.title).toBe(
      'Reorder phase "diagnose" by decisions per second: memory-usage, pod-status, pod-events',
    );
    expect(reorder.figures).toEqual({ replayed: 8, beforeMs: 4_875, afterMs: 1_250 });
    const patched = appliesCleanly(reorder);
    const order = [...patched.matchAll(/^ {6}- id: (pod-status|pod-events|memory-usage)$/gm)].map(
      (match) => match[1],
    );
    expect(order).toEqual(['memory-usage', 'pod-status', 'pod-events']);
    // …and declared reorderable, so each run orders it from what is measured from then on.
    expect(changedLines(reorder.diff).added).toContain('    reorderable: true');
    // Each step keeps its own lines, comments included.
    expect(patched).toContain('        timeout: 30s # the API server answers within seconds\n');
  });

  it('adds the declared inverse as compensation to a change that failed runs left in place', () => {
    // Prepare: scale-outs in four runs; two of them failed afterwards and were rolled back, nothing undone
    const runs = [
      ...normal(2, { memory: 95 }),
      ...normal(2, { memory: 95, status: 'failed', rolledBack: true }),
      ...normal(4),
    ];

    // Act
    const { suggestions } = suggest(runs);

    // Assess
    const compensation = only(suggestions, 'add-compensation', 'scale');
    expect(compensation.figures).toEqual({ changed: 4, leftInPlace: 2, inverse: 'k8s.scale' });
    appliesCleanly(compensation);
    expect(changedLines(compensation.diff)).toEqual({
      removed: ['version: 1.4.0'],
      added: ['version: 1.5.0', '        compensation: auto'],
    });
  });

  it('tightens the threshold of a rule whose changes were rolled back, keeping every run that succeeded', () => {
    // Prepare: memory over 80 scaled out; at 82, 84 and 86 the scale-out was rolled back
    const runs = [
      ...[92, 95, 97, 99].map((memory) => run({ memory })),
      ...[82, 84, 86].map((memory) => run({ memory, status: 'failed', rolledBack: true })),
      ...normal(3),
    ];

    // Act
    const { suggestions } = suggest(runs);

    // Assess
    const tighten = only(suggestions, 'tighten-condition');
    expect(tighten.subject).toBe('memory-high.rules[0]');
    expect(tighten.figures).toEqual({
      matched: 7,
      rolledBack: 3,
      succeeded: 4,
      from: 80,
      to: 86,
      excluded: 3,
    });
    expect(tighten.evidence[1]).toBe(
      'steps.memory-usage.output.value in the rolled-back runs: 82, 84, 86; in the 4 that succeeded: 92–99',
    );
    expect(tighten.evidence[2]).toBe(
      'success factor: runs with steps.memory-usage.output.value ≥ 92 succeeded 4 of 4 times (all runs that recorded it: 70%)',
    );
    appliesCleanly(tighten);
    expect(changedLines(tighten.diff)).toEqual({
      removed: ['version: 1.4.0', '        when: { fact: steps.memory-usage.output.value, greaterThan: 80 }'],
      added: ['version: 1.5.0', '        when: { fact: steps.memory-usage.output.value, greaterThan: 86 }'],
    });
  });

  it('updates an expectedDuration far from the measured median', () => {
    // Prepare: workload-pods declares 2s and takes 6 s
    const runs = normal(10);

    // Act
    const { suggestions } = suggest(runs);

    // Assess
    const duration = only(suggestions, 'update-expected-duration', 'workload-pods');
    expect(duration.figures).toMatchObject({ declaredSeconds: 2, measuredSeconds: 6, runs: 10 });
    expect(duration.version.bump).toBe('patch');
    appliesCleanly(duration);
    expect(changedLines(duration.diff)).toEqual({
      removed: ['version: 1.4.0', '        expectedDuration: 2s'],
      added: ['version: 1.4.1', '        expectedDuration: 6s'],
    });
    expect(suggestions.filter((suggestion) => suggestion.subject === 'workload-status')).toEqual([]);
  });

  it('suggests nothing from too few runs, and never counts dry runs', () => {
    // Prepare: four real runs and six dry runs that all timed out
    const runs = [
      ...normal(4),
      ...Array.from({ length: 6 }, () => ({
        ...run({ podStatus: { status: 'timed-out', durationMs: 30_000 } }),
        dryRun: true,
      })),
    ];

    // Act
    const { suggestions } = suggest(runs);

    // Assess
    expect(suggestions).toEqual([]);
  });

  it('leaves a branch it cannot re-evaluate undetermined instead of calling its diagnostics undecisive', () => {
    // Prepare: a runbook whose first rule reads an alert label the history does not keep
    const text = TEXT.replace(
      '      - description: over the limit',
      '      - description: a label the history does not keep\n        when: { fact: alert.labels.team, equals: storefront }\n        goto: end\n      - description: over the limit',
    );
    const result = validateRunbookText(text, OPTIONS);
    expect(result.problems).toEqual([]);
    const { history } = seedRuns(result.runbook!, normal(10));

    // Act
    const { suggestions } = suggestChanges({
      file: FILE,
      text,
      runbook: result.runbook!,
      history,
      tools: TOOL_CATALOG,
      policies: POLICIES,
    });

    // Assess: the rules reading pod-status and memory-usage may not have been reached
    expect(
      suggestions.filter((suggestion) => ['pod-status', 'memory-usage'].includes(suggestion.subject)),
    ).toEqual([]);
    expect(suggestions.map((suggestion) => suggestion.subject)).toContain('rollout-history');
  });
});

describe('failure patterns and success factors', () => {
  it('finds the resource labels a step’s failures share, with support and confidence', () => {
    // Prepare: pod-status times out in all 3 runs in namespace payments, never in the 7 in shop
    const { history } = seedRuns(RUNBOOK, [
      ...normal(7),
      ...normal(3, { podStatus: { status: 'timed-out', durationMs: 30_000 }, namespace: 'payments' }),
    ]);

    // Act
    const patterns = failurePatterns(history.executions);

    // Assess
    expect(patterns).toEqual([
      {
        stepId: 'pod-status',
        errorClass: 'Runbook.StepTimeout',
        labels: { namespace: 'payments' },
        support: 3,
        runs: 3,
        confidence: 1,
      },
      {
        stepId: 'pod-status',
        errorClass: 'Runbook.StepTimeout',
        labels: {},
        support: 3,
        runs: 10,
        confidence: 0.3,
      },
    ]);
  });

  it('finds the recorded outputs that go with success: a threshold on a numeric fact', () => {
    // Prepare: memory at 91 or more always succeeded; from 82 to 88, 1 of 4 did
    const { history } = seedRuns(RUNBOOK, [
      ...[91, 94, 97, 99].map((memory) => run({ memory })),
      run({ memory: 82 }),
      ...[84, 86, 88].map((memory) => run({ memory, status: 'failed', rolledBack: true })),
    ]);

    // Act
    const factors = successFactors(history.executions);

    // Assess
    expect(factors).toEqual([
      {
        fact: 'steps.memory-usage.output.value',
        when: { greaterThanOrEquals: 91 },
        support: 4,
        succeeded: 4,
        successRate: 1,
        baselineSuccessRate: 5 / 8,
      },
    ]);
  });
});

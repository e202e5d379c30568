import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Problem } from '../../../../functions/core/errors.ts';
import { validateRunbookText } from '../../../../functions/core/runbook/validate.ts';
import { OPTIONS, ROOT } from '../../../support/runbooks.ts';

const INVALID = join(ROOT, 'test/fixtures/runbooks/invalid');

function validateFixture(name: string) {
  const file = join(INVALID, `${name}.yaml`);
  const bytes = readFileSync(file);
  return validateRunbookText(bytes.toString('utf8'), OPTIONS, bytes.length);
}

interface Expected {
  check: string;
  path: string;
  message: string | RegExp;
  line?: number;
}

/** Each named fixture triggers one check (or pass); every problem it must produce, exactly. */
const FIXTURES: Record<string, Expected[]> = {
  'yaml-syntax': [{ check: 'yaml', path: '', message: /^YAML syntax: Flow sequence/, line: 3 }],
  empty: [{ check: 'yaml', path: '', message: /^file is empty/, line: 1 }],
  binary: [{ check: 'yaml', path: '', message: 'file is binary, not YAML text', line: 1 }],
  'not-a-mapping': [{ check: 'yaml', path: '', message: /is a YAML mapping/, line: 1 }],
  'two-documents': [{ check: 'yaml', path: '', message: /holds 2 YAML documents/, line: 2 }],
  'schema-errors': [
    { check: 'schema', path: 'version', message: 'must be a semantic version such as 1.4.0', line: 3 },
    {
      check: 'schema',
      path: 'applicabilityRules[0].confidence',
      message: 'must be at most 1, got 1.5',
      line: 8,
    },
    {
      check: 'schema',
      path: 'phases[0].steps[0].type',
      message: /must be one of "diagnostic".*got "diagnosis"/,
      line: 16,
    },
    { check: 'schema', path: 'phases[0].steps[0].timeout', message: /must be a duration/, line: 19 },
    {
      check: 'schema',
      path: 'phases[0].steps[0].parametres',
      message: 'unknown field "parametres" (did you mean "parameters"?)',
      line: 18,
    },
  ],
  'duplicate-ids': [
    {
      check: 'detectDuplicateIds',
      path: 'phases[1].steps[0].id',
      message: 'step id "probe" is already used at phases[0].steps[0].id',
      line: 18,
    },
    {
      check: 'detectDuplicateIds',
      path: 'phases[1].id',
      message: 'phase id "diagnose" is already used at phases[0].id',
      line: 15,
    },
  ],
  'undefined-references': [
    {
      check: 'detectUndefinedReferences',
      path: 'conditionalBranching[0].rules[0].goto',
      message: /no phase "repiar" \(did you mean "repair"\?\)/,
      line: 28,
    },
    {
      check: 'detectUndefinedReferences',
      path: 'approvalRequirements[0].steps[0]',
      message: 'no phase step "restrat" (did you mean "restart"?)',
      line: 31,
    },
    {
      check: 'detectUndefinedReferences',
      path: 'phases[0].steps[0].parameters.url',
      message: 'no step "prob" (did you mean "probe"?)',
      line: 18,
    },
    {
      check: 'detectUnreachableSteps',
      path: 'phases[1]',
      message: /phase "repair" is unreachable/,
      line: 19,
    },
  ],
  'ambiguous-flow': [
    {
      check: 'detectAmbiguousFlow',
      path: 'phases[0].next',
      message: /has both next and branch "first"/,
      line: 13,
    },
    {
      check: 'detectAmbiguousFlow',
      path: 'conditionalBranching[1].after',
      message: /already branches at conditionalBranching\[0\]/,
      line: 22,
    },
  ],
  'unreachable-steps': [
    {
      check: 'detectUnreachableSteps',
      path: 'phases[1]',
      message: /phase "forgotten" is unreachable.*\(second-probe\) never run/,
      line: 16,
    },
  ],
  'branch-cycles': [
    {
      check: 'detectBranchCycles',
      path: 'phases[0]',
      message: /phases loop: diagnose -> repair -> diagnose/,
      line: 11,
    },
  ],
  'references-out-of-order': [
    {
      check: 'detectReferencesOutOfOrder',
      path: 'phases[0].steps[1].parameters.namespace',
      message: /"list-pods" runs in parallel with this step/,
      line: 21,
    },
    {
      check: 'detectReferencesOutOfOrder',
      path: 'phases[0].steps[1].parameters.pod',
      message: /"later-step" is in phase "later", which does not run before/,
      line: 22,
    },
  ],
  'unknown-tools': [
    {
      check: 'detectUnknownTools',
      path: 'phases[0].steps[0].tool',
      message: 'unknown tool "k8s.node-resource" (did you mean "k8s.node-resources"?)',
      line: 14,
    },
    {
      check: 'detectUnknownTools',
      path: 'phases[0].steps[1].tool',
      message: 'unknown tool "dns.lookup"',
      line: 15,
    },
  ],
  'tool-parameters': [
    {
      check: 'checkToolParameters',
      path: 'phases[0].steps[0].parameters.tailLine',
      message: /has no parameter "tailLine" \(did you mean "tailLines"\?\)/,
      line: 14,
    },
    {
      check: 'checkToolParameters',
      path: 'phases[0].steps[0].parameters.pod',
      message: 'tool "k8s.pod-logs" needs parameter "pod"',
      line: 14,
    },
    {
      check: 'checkToolParameters',
      path: 'phases[0].steps[1].parameters.timeoutMs',
      message: 'tool "http.check": expected number, got string',
      line: 15,
    },
    {
      check: 'checkToolParameters',
      path: 'phases[0].steps[2].parameters.seconds',
      message:
        /runbook\.wait takes a number of seconds here, not a template: the wait compiles to a Step Functions Wait state/,
      line: 16,
    },
  ],
  compensations: [
    {
      check: 'checkCompensations',
      path: 'phases[0].steps[0].compensation',
      message: /"http.check" changes nothing/,
      line: 14,
    },
    {
      check: 'checkCompensations',
      path: 'phases[0].steps[1].compensation',
      message: /"k8s.rollout-restart" declares no inverse/,
      line: 15,
    },
  ],
  'mutating-step-safety': [
    {
      check: 'checkMutatingStepSafety',
      path: 'phases[0].steps[0]',
      message: /"restart" changes the system in "staging" with neither a compensation nor an approval/,
    },
    {
      check: 'checkMutatingStepSafety',
      path: 'phases[0].steps[0]',
      message:
        /"restart" \(risk medium\) changes the system in "prod", where policy requires approval from risk medium/,
    },
    {
      check: 'checkMutatingStepSafety',
      path: 'phases[0].steps[1].risk',
      message: /risk "low" is below the risk of tool "ec2.reboot-instances"/,
    },
    {
      check: 'checkMutatingStepSafety',
      path: 'phases[0].steps[1].type',
      message: /a diagnostic step runs read-only/,
    },
    {
      check: 'checkMutatingStepSafety',
      path: 'phases[0].steps[1]',
      message: /"reboot" changes the system in "staging"/,
    },
    {
      check: 'checkMutatingStepSafety',
      path: 'phases[0].steps[1]',
      message: /"reboot" changes the system in "prod"/,
    },
  ],
  timeouts: [
    { check: 'checkTimeouts', path: 'phases[0].steps[0].timeout', message: /timeout 1200s exceeds the 15m/ },
    {
      check: 'checkTimeouts',
      path: 'phases[0].steps[1].expectedDuration',
      message: /expectedDuration 60s is longer than timeout 10s/,
    },
  ],
  'approval-requirements': [
    {
      check: 'checkApprovalRequirements',
      path: 'approvalRequirements[0].environments[0]',
      message: /environment "production" is not in environmentConstraints.environments/,
    },
    {
      check: 'checkApprovalRequirements',
      path: 'approvalRequirements[0].steps',
      message: /runs in parallel group "repair"; ask before the whole phase/,
    },
    {
      check: 'checkApprovalRequirements',
      path: 'approvalRequirements[2]',
      message: /"ask-phase-again" and "ask-phase" both ask before phase "repair" in the same environment/,
      line: 20,
    },
  ],
  phases: [
    {
      check: 'checkPhases',
      path: 'phases[0].maxConcurrency',
      message: /applies to parallel phases only/,
      line: 13,
    },
  ],
  'reorderable-phases': [
    {
      check: 'checkReorderablePhases',
      path: 'phases[0].steps[1].parameters.url',
      message:
        '{{ steps.probe.output.status }}: step "probe" is in the same reorderable phase "diagnose", so it may run after this step; move one of them to another phase or remove reorderable',
      line: 21,
    },
    {
      check: 'checkReorderablePhases',
      path: 'phases[0].steps[2].type',
      message:
        /step "page" is a notification step; a reorderable phase holds diagnostic and verification steps only/,
      line: 22,
    },
    {
      check: 'checkReorderablePhases',
      path: 'phases[0].steps[3].tool',
      message:
        'step "restart" uses tool "k8s.scale", which changes the system; a reorderable phase holds read-only diagnostics only: move the step to another phase or remove reorderable',
      line: 26,
    },
    {
      check: 'checkReorderablePhases',
      path: 'phases[0].steps[3].type',
      message: /step "restart" is a remediation step/,
      line: 25,
    },
    {
      check: 'checkReorderablePhases',
      path: 'approvalRequirements[0].steps[0]',
      message:
        /step "probe" is in reorderable phase "diagnose", whose order is chosen at run time; ask before the whole phase/,
      line: 37,
    },
    {
      check: 'checkReorderablePhases',
      path: 'phases[0].stopWhen',
      message: /stopWhen reads no step of phase "diagnose"/,
      line: 14,
    },
    {
      check: 'checkReorderablePhases',
      path: 'phases[1].stopWhen',
      message:
        /stopWhen skips the rest of phase "sweep", which only read-only diagnostics may be: declare reorderable: true/,
      line: 33,
    },
    {
      check: 'checkReorderablePhases',
      path: 'phases[1].stopWhen',
      message: /stopWhen applies to sequential phases only/,
      line: 33,
    },
  ],
  'optimization-targets': [
    {
      check: 'checkOptimizationTargets',
      path: 'optimizationTargets.mttr',
      message: /the mttr target \(30m\) is not below baselineMttr \(20m, recovery by hand\)/,
      line: 16,
    },
  ],
  'reference-paths': [
    {
      check: 'checkReferencePaths',
      path: 'phases[0].steps[1].parameters.pod',
      message:
        '{{ steps.top-pods.output.pods[0].ownerNam }}: the output of k8s.pods-on-node (step top-pods) has no "ownerNam" at pods[0] (did you mean "ownerName"?); there it is an object with namespace, name, ownerKind, ownerName, phase, memoryBytes, cpuCores, memoryShare, …',
      line: 23,
    },
    {
      check: 'checkReferencePaths',
      path: 'phases[0].steps[1].parameters.container',
      message:
        /\{\{ resource\.workloads\.name \}\}: the resource has no "workloads" \(did you mean "workload"\?\)/,
      line: 24,
    },
    {
      check: 'checkReferencePaths',
      path: 'phases[1].steps[0].parameters.name',
      message: /\{\{ alert\.lables\.deployment \}\}: the alert has no "lables" \(did you mean "labels"\?\)/,
      line: 35,
    },
    {
      check: 'checkReferencePaths',
      path: 'phases[1].steps[0].parameters.replicas',
      message:
        '{{ parameters.maxReplica }}: the runbook declares no parameter "maxReplica" (did you mean "maxReplicas"?); it declares maxReplicas',
      line: 36,
    },
    {
      check: 'checkReferencePaths',
      path: 'phases[1].steps[0].compensation.parameters.replicas',
      message:
        /\{\{ output\.previousReplica \}\}: the output of k8s\.scale has no "previousReplica" \(did you mean "previousReplicas"\?\)/,
      line: 42,
    },
    {
      check: 'checkReferencePaths',
      path: 'conditionalBranching[0].rules[0].when.fact',
      message:
        /steps\.top-pods\.output\.pods\.0\.memoryShar: the output of k8s\.pods-on-node \(step top-pods\) has no "memoryShar" at pods\[0\] \(did you mean "memoryShare"\?\)/,
      line: 47,
    },
  ],
  'tool-runtimes': [
    {
      check: 'checkToolRuntimes',
      path: 'phases[0].steps[0].tool',
      message:
        'tool "shell.exec" runs on the embedded platform only, and environment "dev" deploys this runbook to AWS; use another tool, keep those environments out of environmentConstraints.environments, or run the runbook in an environment whose policy says runsOn: embedded',
      line: 17,
    },
  ],
  promql: [
    {
      check: 'checkPromql',
      path: 'phases[0].steps[0].parameters.query',
      message:
        /^PromQL syntax error at line 1, column 124 of the query: …od="\{\{ resource\.name \}\}"\}\[1h\]\)⟨here⟩/,
      line: 19,
    },
  ],
  'applicability-rules': [
    {
      check: 'checkApplicabilityRules',
      path: 'applicabilityRules[0].pattern.name[0].prefx',
      message: /unknown operator "prefx"; did you mean "prefix"/,
      line: 10,
    },
    {
      check: 'checkApplicabilityRules',
      path: 'applicabilityRules[0].pattern.labels.severity',
      message: /must be an array/,
      line: 11,
    },
  ],
};

function matches(problem: Problem, expected: Expected): boolean {
  const messageMatches =
    typeof expected.message === 'string'
      ? problem.message === expected.message
      : expected.message.test(problem.message);
  return (
    problem.check === expected.check &&
    problem.path === expected.path &&
    messageMatches &&
    (expected.line === undefined || problem.line === expected.line)
  );
}

describe('runbook validation', () => {
  it('has a named fixture for every fixture file and every semantic check', () => {
    // Prepare
    const files = readdirSync(INVALID).map((file) => file.replace(/\.yaml$/, ''));

    // Assess
    expect(new Set(files)).toEqual(new Set(Object.keys(FIXTURES)));
  });

  it.each(Object.entries(FIXTURES))('reports every problem of %s, each with its place', (name, expected) => {
    // Act
    const result = validateFixture(name);

    // Assess
    const unexpected = result.problems.filter(
      (problem) => !expected.some((candidate) => matches(problem, candidate)),
    );
    const missing = expected.filter(
      (candidate) => !result.problems.some((problem) => matches(problem, candidate)),
    );
    expect({ unexpected, missing }).toEqual({ unexpected: [], missing: [] });
    for (const problem of result.problems) {
      expect(problem.line, `${problem.path}: ${problem.message}`).toBeGreaterThan(0);
      expect(problem.column).toBeGreaterThan(0);
    }
  });

  it('refuses 10 MB of junk without reading it as YAML', () => {
    // Prepare
    const junk = 'x'.repeat(10 * 1024 * 1024);

    // Act
    const result = validateRunbookText(junk, OPTIONS);

    // Assess
    expect(result.problems).toEqual([
      { check: 'yaml', path: '', message: 'file is 10.0 MB; a runbook must be under 1.0 MB' },
    ]);
  });

  it('answers YAML that is valid but not a runbook with schema problems, not a crash', () => {
    // Act
    const result = validateRunbookText('just a string\n', OPTIONS);

    // Assess
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]?.message).toMatch(/YAML mapping/);
  });

  it('lets the local shell run in an environment that runs on the embedded platform only', () => {
    // Prepare: the fixture's dev, as an environment cdk deploy skips
    const text = readFileSync(join(INVALID, 'tool-runtimes.yaml'), 'utf8');
    const embedded = {
      ...OPTIONS,
      policies: { ...OPTIONS.policies, dev: { ...OPTIONS.policies.dev!, runsOn: 'embedded' as const } },
    };

    // Act
    const result = validateRunbookText(text, embedded);

    // Assess
    expect(result.problems.filter((problem) => problem.check === 'checkToolRuntimes')).toEqual([]);
  });

  it('reports a missing required field at the parent with what is expected', () => {
    // Act
    const result = validateRunbookText('id: x\nname: X\n', OPTIONS);

    // Assess
    const paths = result.problems.map((problem) => `${problem.path}: ${problem.message}`);
    expect(paths).toContain('version: is required (expected string)');
    expect(paths).toContain('phases: is required (expected array)');
    expect(result.problems.every((problem) => problem.line === 1)).toBe(true);
  });
});

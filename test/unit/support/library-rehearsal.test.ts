import { describe, expect, it } from 'vitest';
import { compileRunbook } from '../../../functions/core/compiler/compile.ts';
import type { Runbook } from '../../../functions/core/runbook/model.ts';
import { validateRunbookText } from '../../../functions/core/runbook/validate.ts';
import { TOOL_CATALOG } from '../../../functions/tools/declarations.ts';
import {
  isInvestigation,
  type RehearsedExecution,
  type RehearsedStep,
  rehearsalProblems,
  resolvesResource,
} from '../../support/library-rehearsal.ts';
import { OPTIONS } from '../../support/runbooks.ts';

/**
 * The rehearsal's judgement of one run (test/library/rehearsal.test.ts asks it for every runbook in
 * runbooks/): what must never happen fails whatever the runbook decides, with the runbook, the step
 * and the error in the words; what a runbook designs (a hand-over, a condition found absent, a
 * diagnostic it lets fail) passes.
 */

function runbookOf(text: string): Runbook {
  const result = validateRunbookText(text, OPTIONS);
  if (!result.runbook) throw new Error(JSON.stringify(result.problems));
  expect(result.problems).toEqual([]);
  return result.runbook;
}

const COMMON = `
version: 1.0.0
description: A runbook the judgement is tested on.
category: availability
owner: { team: platform-sre, contact: sre-oncall@example.com }
answers: { alerts: [KubeDeploymentReplicasMismatch] }
examples:
  - name: cart misses a replica
    alertmanager:
      labels: { alertname: KubeDeploymentReplicasMismatch, namespace: shop, deployment: cart }
environmentConstraints: { environments: [dev, staging, prod] }
`;

/** Reads the workload (may fail: onFailure continue) and the replica gap, then reports. */
const INVESTIGATION = runbookOf(`
id: replicas-investigation
name: Replicas investigation
${COMMON}
phases:
  - id: diagnose
    name: The workload and its replicas
    mode: parallel
    steps:
      - id: workload
        name: Replicas of the workload
        type: diagnostic
        tool: k8s.workload-status
        parameters:
          namespace: "{{ resource.namespace }}"
          kind: Deployment
          name: "{{ resource.name }}"
        onFailure: continue
      - id: gap
        name: The replica gap
        type: diagnostic
        tool: prometheus.query
        parameters:
          query: 'kube_deployment_spec_replicas{namespace="{{ resource.namespace }}"}'
  - id: report
    name: Send the evidence
    steps:
      - id: notify-findings
        name: Post the findings
        type: notification
        tool: notify.message
        parameters:
          target: sre-chat
          subject: "{{ resource.name }}: findings"
          message: "Ready replicas: {{ steps.workload.output.readyReplicas }}."
`);

const step = (stepId: string, tool: string, status: string, extra: Partial<RehearsedStep> = {}) => ({
  stepId,
  kind: 'step',
  tool,
  status,
  ...extra,
});
const RESOLVED = {
  stepId: 'resource',
  kind: 'check',
  tool: 'resource.resolve',
  status: 'succeeded',
  output: { resource: { unresolved: [] } },
};

function run(steps: RehearsedStep[], execution: Partial<RehearsedExecution['execution']> = {}) {
  return {
    execution: { id: 'exec-1', runbookId: INVESTIGATION.id, status: 'succeeded', ...execution },
    steps,
  };
}

const CLEAN = [
  RESOLVED,
  step('workload', 'k8s.workload-status', 'succeeded'),
  step('gap', 'prometheus.query', 'succeeded'),
  step('notify-findings', 'notify.message', 'succeeded'),
];

describe('the rehearsal judgement', () => {
  it('finds nothing in a run that resolved, diagnosed and sent its summary', () => {
    // Act
    const problems = rehearsalProblems(INVESTIGATION, run(CLEAN), { resolves: true });

    // Assess
    expect(isInvestigation(INVESTIGATION)).toBe(true);
    expect(resolvesResource(compileRunbook(INVESTIGATION, { tools: TOOL_CATALOG }))).toBe(true);
    expect(problems).toEqual([]);
  });

  it('names the runbook, the step and the error of a step the platform could not run, even one allowed to fail', () => {
    // Prepare
    const steps = [
      RESOLVED,
      step('workload', 'k8s.workload-status', 'failed', {
        error: {
          name: 'Runbook.InvalidParameters',
          message: 'step workload: name: {{ resource.name }} has no value in this execution',
        },
      }),
      step('gap', 'prometheus.query', 'failed', {
        error: {
          name: 'Runbook.ToolFailed',
          message:
            'prometheus.query returned an output its declaration does not describe: value: not declared',
        },
      }),
      step('notify-findings', 'notify.message', 'succeeded'),
    ];

    // Act
    const problems = rehearsalProblems(INVESTIGATION, run(steps), { resolves: true });

    // Assess
    expect(problems).toEqual([
      'replicas-investigation: platform error in step workload (step, k8s.workload-status) failed: Runbook.InvalidParameters: step workload: name: {{ resource.name }} has no value in this execution',
      'replicas-investigation: platform error in step gap (step, prometheus.query) failed: Runbook.ToolFailed: prometheus.query returned an output its declaration does not describe: value: not declared',
    ]);
  });

  it('lets a diagnostic the runbook allows to fail fail, but not one that fails the run, nor a call the simulation does not answer', () => {
    // Prepare
    const missingEvidence = step('workload', 'k8s.workload-status', 'failed', {
      error: { name: 'Runbook.ToolFailed', message: 'no previous (terminated) instance to read' },
    });
    const notSimulated = step('workload', 'k8s.workload-status', 'failed', {
      error: {
        name: 'Tool.NotFound',
        message: 'not found (404): the server could not find the requested resource',
      },
    });
    const fatal = step('gap', 'prometheus.query', 'failed', {
      error: { name: 'Runbook.ToolFailed', message: 'Prometheus answered 503' },
    });

    // Act
    const tolerated = rehearsalProblems(INVESTIGATION, run([missingEvidence, ...CLEAN.slice(2)]), {
      resolves: false,
    });
    const gap = rehearsalProblems(INVESTIGATION, run([notSimulated, ...CLEAN.slice(2)]), { resolves: false });
    const failedRun = rehearsalProblems(
      INVESTIGATION,
      run([CLEAN[1]!, fatal], {
        status: 'failed',
        outcome: { status: 'failed', error: 'Runbook.ToolFailed', cause: 'Prometheus answered 503' },
      }),
      { resolves: false },
    );

    // Assess
    expect(tolerated).toEqual([]);
    expect(gap).toEqual([
      'replicas-investigation: step workload (step, k8s.workload-status) failed: Tool.NotFound: not found (404): the server could not find the requested resource: the simulated environment does not answer this call',
    ]);
    expect(failedRun).toEqual([
      'replicas-investigation: step gap (step, prometheus.query) failed: Runbook.ToolFailed: Prometheus answered 503 in the healthy baseline',
      expect.stringMatching(
        /^replicas-investigation: ended Runbook\.ToolFailed: Prometheus answered 503, which no runbook designs/,
      ),
      'replicas-investigation: an investigation that sent no summary: none of its notification steps (notify-findings) succeeded',
    ]);
  });

  it('takes the designed ends, and a check that failed for another reason than its expectation as no designed end', () => {
    // Prepare
    const ended = (error: string, cause: string) =>
      rehearsalProblems(
        INVESTIGATION,
        run(CLEAN, { status: 'failed', outcome: { status: 'failed', error, cause } }),
        { resolves: true },
      );

    // Act / Assess
    expect(ended('Runbook.EscalationRequested', 'runbook x asks for a human (triage default)')).toEqual([]);
    expect(
      ended('Runbook.PrerequisiteFailed', 'still-firing (The alert still holds): expectation not met'),
    ).toEqual([]);
    expect(ended('Verification.Failed', 'replicas (Replicas are back): expectation not met')).toEqual([]);
    expect(ended('Verification.Failed', 'the alert is still firing 600s after verification began')).toEqual([
      expect.stringMatching(/^replicas-investigation: ended Verification\.Failed: the alert is still firing/),
    ]);
  });

  it('says what the resolution could not find, and that a run which did not end did not', () => {
    // Prepare
    const unresolved = {
      ...RESOLVED,
      output: { resource: { unresolved: ['Deployment shop/cart: not found (404)'] } },
    };

    // Act
    const missing = rehearsalProblems(INVESTIGATION, run([unresolved, ...CLEAN.slice(1)]), {
      resolves: true,
    });
    const noResolution = rehearsalProblems(INVESTIGATION, run(CLEAN.slice(1)), { resolves: true });
    const stuck = rehearsalProblems(
      INVESTIGATION,
      run([RESOLVED, step('workload', 'k8s.workload-status', 'running')], {
        status: 'running',
        currentState: 'workload',
      }),
      { resolves: true },
    );

    // Assess
    expect(missing).toEqual([
      "replicas-investigation: the resolution did not find the example's resource in the simulated baseline: Deployment shop/cart: not found (404)",
    ]);
    expect(noResolution).toEqual(['replicas-investigation: the resolution (step resource) did not run']);
    expect(stuck).toEqual([
      'replicas-investigation: the execution did not end: it is running at workload',
      'replicas-investigation: an investigation that sent no summary: none of its notification steps (notify-findings) succeeded',
    ]);
  });
});

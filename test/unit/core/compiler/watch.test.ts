import { describe, expect, it } from 'vitest';
import { type State, walkStates } from '../../../../functions/core/compiler/asl.ts';
import { compileRunbook } from '../../../../functions/core/compiler/compile.ts';
import { Runbook } from '../../../../functions/core/runbook/model.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { runnerToolsOf } from '../../../../infra/constructs/runbook-artifacts.ts';
import { compileFile, loadRunbook } from '../../../support/runbooks.ts';

/**
 * The health watch in the compiled machine: every task that reads the watched signals carries them
 * (a change: baseline or guard; a wait's end; the alert's verification; the watched check itself),
 * and Safety.HealthWorse compensates wherever it can be raised, whatever the step's onFailure says.
 * No state is added for it.
 */

const FIXTURE = 'test/fixtures/runbooks/watch/restart-watched.yaml';

type Task = Extract<State, { Type: 'Task' }>;

function tasks(definition: Parameters<typeof walkStates>[0]): Map<string, Task> {
  return new Map(
    [...walkStates(definition)].filter((entry): entry is [string, Task] => entry[1].Type === 'Task'),
  );
}

function payloadOf(task: Task): Record<string, unknown> {
  const parameters = task.Parameters as Record<string, unknown>;
  return (parameters.Payload ?? parameters) as Record<string, unknown>;
}

/** The fixture with a wait after the restart, continued on failure, so every kind of watched task is there. */
function withWait(): Runbook {
  const runbook = structuredClone(loadRunbook(FIXTURE));
  runbook.phases[1]!.steps.push(
    Runbook.shape.phases.element.shape.steps.element.parse({
      id: 'settle',
      name: 'Let the rollout settle',
      type: 'verification',
      tool: 'runbook.wait',
      parameters: { seconds: 60 },
      timeout: '2m',
      onFailure: 'continue',
    }),
  );
  return runbook;
}

describe('compiling a watched runbook', () => {
  it('gives the change, the wait’s end, the verification and the watched check their signals, and adds no state', () => {
    // Prepare
    const runbook = withWait();
    const unwatched = structuredClone(runbook);
    delete unwatched.successMetrics.checks[0]!.watch;

    // Act
    const compiled = compileRunbook(runbook, { tools: TOOL_CATALOG });
    const plain = compileRunbook(unwatched, { tools: TOOL_CATALOG });

    // Assess: the signal as the runner reads it
    const byName = tasks(compiled.definition);
    const signal = {
      check: 'workload-ready',
      name: 'Every replica is ready',
      tool: 'k8s.workload-status',
      parameters: {
        namespace: '{{ alert.labels.namespace }}',
        kind: 'Deployment',
        name: '{{ alert.labels.deployment }}',
      },
      timeoutSeconds: 60,
      fact: 'steps.workload-ready.output.readyReplicas',
      worseWhen: 'decreases',
      margin: 0,
      everySeconds: 1,
    };
    const watched = [...byName].filter(([, task]) => payloadOf(task).watch).map(([name]) => name);
    expect(watched.sort()).toEqual(
      ['Verify: alert resolved', 'Waited: settle', 'rollout-restart', 'workload-ready'].sort(),
    );
    for (const name of watched) expect(payloadOf(byName.get(name)!).watch).toEqual({ signals: [signal] });
    expect(payloadOf(byName.get('Waited: settle')!)['alert.$']).toBe('$.alert');
    // reading the signals (up to the check's 60 s) is part of the Task's time: step + margin + reading
    expect(byName.get('rollout-restart')!.TimeoutSeconds).toBe(60 + 15 + 60);
    expect(byName.get('Waited: settle')!.TimeoutSeconds).toBe(120 + 15 + 60);
    expect(byName.get('settle')!.TimeoutSeconds).toBe(120 + 15);
    expect(payloadOf(byName.get('workload-before')!).watch).toBeUndefined();
    expect(Object.keys(compiled.definition.States)).toEqual(Object.keys(plain.definition.States));
    expect(plain.text).not.toContain('"watch"');
    expect(plain.text).not.toContain('Safety.HealthWorse');
  });

  it('routes Safety.HealthWorse to the compensation of the change, also where a failure would continue or escalate', () => {
    // Act
    const byName = tasks(compileRunbook(withWait(), { tools: TOOL_CATALOG }).definition);

    // Assess
    const healthNext = (name: string) =>
      byName.get(name)!.Catch?.find((catcher) => catcher.ErrorEquals.includes('Safety.HealthWorse'))?.Next;
    expect(healthNext('Verify: alert resolved')).toBe('Compensate: rollout-restart');
    expect(healthNext('workload-ready')).toBe('Compensate: rollout-restart');
    // the wait continues past a failure; a worse signal at its end does not
    expect(healthNext('Waited: settle')).toBe('Compensate: rollout-restart');
    expect(healthNext('settle')).toBe('Compensate: rollout-restart');
    const waitedCatches = byName.get('Waited: settle')!.Catch!.map((catcher) => catcher.ErrorEquals[0]);
    expect(waitedCatches.indexOf('Safety.HealthWorse')).toBeLessThan(waitedCatches.indexOf('States.ALL'));
    // onFailure rollback (the default of a change): its States.ALL catcher already compensates
    expect(healthNext('rollout-restart')).toBeUndefined();
    expect(byName.get('rollout-restart')!.Catch!.at(-1)).toMatchObject({
      ErrorEquals: ['States.ALL'],
      Next: 'Compensate: rollout-restart',
    });
  });

  it('lets the mutating runner read what it watches (IAM and RBAC follow the compiled tasks)', () => {
    // Act
    const tools = runnerToolsOf(compileFile(FIXTURE).definition);

    // Assess
    expect(tools.StepRunnerMutatingArn).toEqual([
      'k8s.rollout-restart',
      'k8s.rollout-undo',
      'k8s.workload-status',
    ]);
    expect(tools.StepRunnerReadOnlyArn).toEqual(['k8s.workload-status']);
  });
});

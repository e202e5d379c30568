import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkStates } from '../../../../functions/core/compiler/asl.ts';
import { aslProblems } from '../../../../functions/core/compiler/asl-validation.ts';
import { Substitution } from '../../../../functions/core/execution-contract.ts';
import { StepOutcome } from '../../../../functions/core/records.ts';
import { rollbackStateMachine } from '../../../../functions/core/rollback/machine.ts';
import {
  changesAfter,
  compensationSpec,
  recordedSteps,
  rollbackPoints,
  undoableChanges,
} from '../../../../functions/core/rollback/plan.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { LIBRARY_RUNBOOKS_DIR } from '../../../support/library.ts';
import { compileFile, loadRunbook, ROOT } from '../../../support/runbooks.ts';

const FILES = [
  ...readdirSync(join(ROOT, LIBRARY_RUNBOOKS_DIR)).map((file) => `${LIBRARY_RUNBOOKS_DIR}/${file}`),
  'test/fixtures/runbooks/people/scale-out.yaml',
  'test/fixtures/runbooks/valid/capacity-rehearsal.yaml',
];

function outcome(overrides: Partial<StepOutcome> & Pick<StepOutcome, 'stepId' | 'startedAt'>): StepOutcome {
  return StepOutcome.parse({
    executionId: 'scale-out-1',
    kind: 'step',
    name: overrides.stepId,
    tool: 'k8s.scale',
    mutating: true,
    risk: 'medium',
    attempt: 1,
    status: 'succeeded',
    parameters: {},
    dryRun: false,
    ...overrides,
  });
}

describe('what a rollback undoes', () => {
  it.each(FILES)('gives each change of %s the compensation its own machine runs on failure', (file) => {
    // Prepare
    const runbook = loadRunbook(file);
    const compiled = compileFile(file).definition;

    // Act / Assess: every `Compensate: <step>` state carries exactly the spec the rollback would run
    const states = [...walkStates(compiled)].filter(([name]) => name.startsWith('Compensate: '));
    // Runbooks whose changes all need approval instead may have none; these have some.
    if (/scale-out|capacity-rehearsal|node-memory/.test(file)) expect(states.length).toBeGreaterThan(0);
    for (const [name, state] of states) {
      const stepId = name.slice('Compensate: '.length);
      const parameters = (state as unknown as { Parameters: { compensation: unknown } }).Parameters;
      expect(compensationSpec(runbook, TOOL_CATALOG, stepId), name).toEqual(parameters.compensation);
    }
  });

  it('lists the changes still in effect: not diagnostics, not refused ones, not those undone already', () => {
    // Prepare
    const outcomes = [
      outcome({ stepId: 'read', tool: 'k8s.describe', mutating: false, startedAt: '2026-01-01T10:00:00Z' }),
      outcome({ stepId: 'scale-a', startedAt: '2026-01-01T10:01:00Z' }),
      outcome({
        stepId: 'blocked',
        status: 'failed',
        error: { name: 'Safety.KillSwitch', message: 'kill switch engaged' },
        startedAt: '2026-01-01T10:02:00Z',
      }),
      outcome({ stepId: 'scale-b', startedAt: '2026-01-01T10:03:00Z', status: 'timed-out' }),
      outcome({ stepId: 'scale-c', startedAt: '2026-01-01T10:04:00Z' }),
      outcome({
        stepId: 'scale-c',
        kind: 'compensation',
        status: 'compensated',
        startedAt: '2026-01-01T10:06:00Z',
      }),
      outcome({
        stepId: 'scale-b',
        kind: 'compensation',
        status: 'failed',
        startedAt: '2026-01-01T10:07:00Z',
      }),
    ];

    // Act
    const steps = recordedSteps(outcomes);
    const changes = undoableChanges(outcomes, undefined, TOOL_CATALOG);

    // Assess: a failed undo leaves its change in effect; a retried attempt counts once, from its first start
    expect(steps.map((step) => step.stepId)).toEqual(['read', 'scale-a', 'blocked', 'scale-b', 'scale-c']);
    expect(changes.map((change) => change.stepId)).toEqual(['scale-a', 'scale-b']);
    expect(changesAfter('start', steps, changes)?.map((change) => change.stepId)).toEqual([
      'scale-b',
      'scale-a',
    ]);
    expect(changesAfter('scale-a', steps, changes)?.map((change) => change.stepId)).toEqual(['scale-b']);
    expect(changesAfter('read', steps, changes)?.map((change) => change.stepId)).toEqual([
      'scale-b',
      'scale-a',
    ]);
    expect(changesAfter('no-such-step', steps, changes)).toBeUndefined();
    expect(rollbackPoints(steps, changes).map((point) => [point.id, point.undoes])).toEqual([
      ['start', ['scale-b', 'scale-a']],
      ['read', ['scale-b', 'scale-a']],
      ['scale-a', ['scale-b']],
      ['blocked', ['scale-b']],
      ['scale-b', []],
      ['scale-c', []],
    ]);
  });

  it('orders retried steps by their first attempt, and judges them by their latest', () => {
    const outcomes = [
      outcome({
        stepId: 'scale-a',
        startedAt: '2026-01-01T10:00:00Z',
        status: 'failed',
        error: { name: 'Runbook.ToolFailed', message: 'x' },
      }),
      outcome({ stepId: 'scale-b', startedAt: '2026-01-01T10:01:00Z' }),
      outcome({ stepId: 'scale-a', attempt: 2, startedAt: '2026-01-01T10:02:00Z', status: 'skipped' }),
    ];
    const steps = recordedSteps(outcomes);
    expect(steps.map((step) => [step.stepId, step.latest.status])).toEqual([
      ['scale-a', 'skipped'],
      ['scale-b', 'succeeded'],
    ]);
    expect(undoableChanges(outcomes, undefined, TOOL_CATALOG).map((change) => change.stepId)).toEqual([
      'scale-b',
    ]);
  });
});

describe('the rollback machine', () => {
  it('is valid ASL that Step Functions and the embedded engine accept', () => {
    expect(aslProblems(rollbackStateMachine())).toEqual([]);
  });

  it('undoes one change at a time, in the order given, through the mutating step runner', () => {
    const map = rollbackStateMachine().States['Undo changes'];
    expect(map).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 1,
      ItemsPath: '$.rollback.compensations',
      ItemSelector: { kind: 'compensate', 'compensation.$': '$$.Map.Item.Value' },
    });
    const compensate = (map as { ItemProcessor: { States: Record<string, { Resource?: string }> } })
      .ItemProcessor.States.Compensate;
    expect(compensate?.Resource).toBe(`\${${Substitution.MutatingRunner}}`);
  });
});

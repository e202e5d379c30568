import { describe, expect, it } from 'vitest';
import type {
  ChoiceState,
  MapState,
  PassState,
  StateMachineDefinition,
  TaskState,
} from '../../../../functions/core/compiler/asl.ts';
import { aslProblems } from '../../../../functions/core/compiler/asl-validation.ts';
import { worstCaseHistoryEvents } from '../../../../functions/core/compiler/budgets.ts';
import { compileRunbook } from '../../../../functions/core/compiler/compile.ts';
import { toMermaid } from '../../../../functions/core/compiler/mermaid.ts';
import { ORDER_DONE } from '../../../../functions/core/learning/step-order.ts';
import type { Runbook } from '../../../../functions/core/runbook/model.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { rehearse, sampleInput } from '../../../support/rehearsal.ts';
import { loadRunbook } from '../../../support/runbooks.ts';

const FIXTURE = 'test/fixtures/runbooks/order/upstream-probes.yaml';
const RUNBOOK = loadRunbook(FIXTURE);
const { definition } = compileRunbook(RUNBOOK, { tools: TOOL_CATALOG });

function state<T>(machine: StateMachineDefinition, name: string): T {
  const found = machine.States[name];
  if (!found) throw new Error(`no state "${name}" in ${Object.keys(machine.States).join(', ')}`);
  return found as T;
}

/** The same runbook with every phase in its declared order (reorderable and stopWhen removed). */
function declaredOnly(runbook: Runbook): StateMachineDefinition {
  const plain: Runbook = {
    ...runbook,
    phases: runbook.phases.map(({ reorderable: _r, stopWhen: _s, ...phase }) => phase),
  };
  return compileRunbook(plain, { tools: TOOL_CATALOG }).definition;
}

const input = () => ({
  ...sampleInput({ environment: 'dev' }),
  execution: { ...sampleInput({ environment: 'dev' }).execution, runbookId: RUNBOOK.id },
});

describe('a reorderable sequential phase compiles to a planning task and a dispatcher', () => {
  it('checkpoint → Order → Next step, the planner falling back to the declared order', () => {
    // Assess
    const checkpoint = state<TaskState>(definition, 'Checkpoint: probe');
    expect(checkpoint.Next).toBe('Order: probe');
    const order = state<TaskState>(definition, 'Order: probe');
    expect(order.Parameters).toMatchObject({
      kind: 'order-steps',
      phase: {
        id: 'probe',
        mode: 'sequential',
        lanes: 1,
        steps: [
          { id: 'cache-probe', expectedSeconds: 1, timeoutSeconds: 10 },
          { id: 'database-probe', expectedSeconds: 1, timeoutSeconds: 10 },
          { id: 'upstream-probe', expectedSeconds: 2, timeoutSeconds: 10 },
        ],
      },
    });
    expect(order.ResultPath).toBe('$.order.probe');
    expect(order.Next).toBe('Next step: probe');
    expect(order.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: null, Next: 'Declared order: probe' },
    ]);
    expect(state<PassState>(definition, 'Declared order: probe')).toMatchObject({
      Result: {
        steps: ['cache-probe', 'database-probe', 'upstream-probe', ORDER_DONE],
        position: 0,
        current: 'cache-probe',
      },
      ResultPath: '$.order.probe',
      Next: 'Next step: probe',
    });
  });

  it('dispatches on the current step id, stops when stopWhen holds, and advances with intrinsics', () => {
    const dispatch = state<ChoiceState>(definition, 'Next step: probe');
    expect(dispatch.Choices[0]).toEqual({
      Variable: '$.order.probe.current',
      StringEquals: ORDER_DONE,
      Next: 'Checkpoint: survey',
    });
    expect(dispatch.Choices[1]!.Next).toBe('Stopped early: probe');
    expect(JSON.stringify(dispatch.Choices[1])).toContain('$.steps.upstream_probe.output.status');
    expect(dispatch.Choices.slice(2)).toEqual(
      ['cache-probe', 'database-probe', 'upstream-probe'].map((id) => ({
        Variable: '$.order.probe.current',
        StringEquals: id,
        Next: id,
      })),
    );
    expect(dispatch.Default).toBe('Checkpoint: survey');
    expect(state<PassState>(definition, 'Advance: probe')).toEqual({
      Type: 'Pass',
      Comment: 'Moves to the next step of the queue.',
      Parameters: {
        'steps.$': '$.order.probe.steps',
        'position.$': 'States.MathAdd($.order.probe.position, 1)',
        'current.$': 'States.ArrayGetItem($.order.probe.steps, States.MathAdd($.order.probe.position, 1))',
      },
      ResultPath: '$.order.probe',
      Next: 'Next step: probe',
    });
    expect(state<TaskState>(definition, 'Stopped early: probe')).toMatchObject({
      Parameters: { kind: 'phase-stopped', phase: 'probe', 'order.$': '$.order.probe' },
      ResultPath: null,
      Next: 'Checkpoint: survey',
    });
  });

  it("keeps each step's Task as the declared order compiles it: parameters, retries, result, catches", () => {
    const plain = declaredOnly(RUNBOOK);
    for (const id of ['cache-probe', 'database-probe', 'upstream-probe']) {
      const reordered = state<TaskState>(definition, id);
      const declared = state<TaskState>(plain, id);
      expect(reordered.Next).toBe('Advance: probe');
      for (const field of ['Type', 'Resource', 'TimeoutSeconds', 'Retry', 'Catch'] as const)
        expect(reordered[field]).toEqual(declared[field]);
      const { outputBudgetBytes: _a, ...spec } = reordered.Parameters!.step as Record<string, unknown>;
      const { outputBudgetBytes: _b, ...declaredSpec } = declared.Parameters!.step as Record<string, unknown>;
      expect(spec).toEqual(declaredSpec);
      // Outputs stopWhen reads land in the state, where its compiled condition reads them.
      expect(reordered.ResultSelector).toEqual({ 'status.$': '$.status', 'output.$': '$.output' });
      expect(reordered.ResultPath).toBe(`$.steps.${id.replace(/-/g, '_')}`);
    }
  });
});

describe('a reorderable parallel group compiles to a Map over planned lanes', () => {
  const lanes = state<MapState>(definition, 'Lanes: survey');

  it('maps the planned lanes, at most maxConcurrency at once, and merges what later conditions read', () => {
    expect(lanes.ItemsPath).toBe('$.order.survey.lanes');
    expect(lanes.MaxConcurrency).toBe(2);
    expect(lanes.ItemSelector).toEqual({
      'execution.$': '$.execution',
      'alert.$': '$.alert',
      'order.$': '$$.Map.Item.Value',
      lane: {},
    });
    expect(lanes.ResultSelector).toEqual({ 'steps.$': 'States.JsonMerge($[0], $[1], false)' });
    expect(lanes.ResultPath).toBe('$.groups.survey');
    const branch = state<ChoiceState>(definition, 'Branch: who-is-down');
    expect(JSON.stringify(branch.Choices[2])).toContain('$.groups.survey.steps.edge_c.output.status');
    // The fallback lanes are the declared LPT: 3 s | 2 s + 1 s.
    expect(state<PassState>(definition, 'Declared order: survey').Result).toEqual({
      lanes: [
        { steps: ['edge-a', ORDER_DONE], position: 0, current: 'edge-a' },
        { steps: ['edge-b', 'edge-c', ORDER_DONE], position: 0, current: 'edge-b' },
      ],
    });
  });

  it('runs each step once per lane definition, with the group catches of the Parallel it replaces', () => {
    const processor = lanes.ItemProcessor;
    expect(processor.StartAt).toBe('Next step: survey');
    expect(
      Object.keys(processor.States)
        .filter((name) => processor.States[name]!.Type === 'Task')
        .sort(),
    ).toEqual(['edge-a', 'edge-b', 'edge-c']);
    expect(state<PassState>(processor, 'Lane done: survey')).toMatchObject({
      OutputPath: '$.lane',
      End: true,
    });
    const plain = declaredOnly(RUNBOOK);
    expect(lanes.Catch).toEqual(state<MapState>(plain, 'Parallel: survey').Catch);
  });
});

describe('the compiled machine', () => {
  it('passes asl-validator', () => {
    expect(aslProblems(definition)).toEqual([]);
  });

  it('costs a dispatcher loop as every Task once and its Choice and Pass once more than its Tasks', () => {
    // Prepare: Start → Next ⇄ (a | b) → Advance → Next … → Done
    const task = (next: string): TaskState => ({
      Type: 'Task',
      Resource: 'arn:aws:lambda:eu-west-1:111111111111:function:f',
      TimeoutSeconds: 10,
      Next: next,
    });
    const machine: StateMachineDefinition = {
      StartAt: 'Start',
      States: {
        Start: { Type: 'Pass', Next: 'Next' },
        Next: {
          Type: 'Choice',
          Choices: [
            { Variable: '$.current', StringEquals: 'a', Next: 'a' },
            { Variable: '$.current', StringEquals: 'b', Next: 'b' },
          ],
          Default: 'Done',
        },
        a: task('Advance'),
        b: task('Advance'),
        Advance: { Type: 'Pass', Next: 'Next' },
        Done: { Type: 'Succeed' },
      },
    };

    // Act / Assess: 2 (execution) + 2 (Start) + 5 + 5 (tasks) + 3 × 2 (Next) + 3 × 2 (Advance) + 2 (Done)
    expect(worstCaseHistoryEvents(machine)).toBe(28);
    expect(worstCaseHistoryEvents(definition)).toBeLessThan(25_000);
    const spin: StateMachineDefinition = {
      StartAt: 'x',
      States: { x: { Type: 'Pass', Next: 'y' }, y: { Type: 'Pass', Next: 'x' } },
    };
    expect(() => worstCaseHistoryEvents(spin)).toThrow(/loop without a Task/);

    // The same dispatcher as the processor of a two-lane Map: its Tasks once, its Choice and Passes once per lane more
    const { Start: _start, Done: _done, ...loop } = machine.States;
    const lanes: StateMachineDefinition = {
      StartAt: 'Lanes',
      States: {
        Lanes: {
          Type: 'Map',
          MaxConcurrency: 2,
          ItemProcessor: {
            StartAt: 'Next',
            States: { ...loop, Done: { Type: 'Pass', End: true } },
          },
          End: true,
        },
      },
    };
    // 2 + (4 + 2 × 2 + (22 + 2) + 1 × 2 × 3)
    expect(worstCaseHistoryEvents(lanes)).toBe(40);
  });

  it('draws the lanes of the Map in the graph', () => {
    expect(toMermaid(definition)).toContain('"each lane"');
  });
});

describe('rehearsed in the embedded engine', () => {
  it('runs the planned order and stops once the decisive finding is in', async () => {
    // Act
    const result = await rehearse(definition, input(), {
      order: { probe: ['upstream-probe', 'cache-probe', 'database-probe'] },
      steps: { 'upstream-probe': { output: { status: 503 } } },
    });

    // Assess: the branch hands the run to a human over the upstream's 503
    expect(result.error).toBe('Runbook.EscalationRequested');
    const probes = result.entered.filter((name) => name.endsWith('-probe') || name.startsWith('Stopped'));
    expect(probes).toEqual(['upstream-probe', 'Stopped early: probe']);
    const stopped = result.calls.find((call) => call.state === 'Stopped early: probe')!;
    expect(stopped.payload.order).toEqual({
      steps: ['upstream-probe', 'cache-probe', 'database-probe', ORDER_DONE],
      position: 1,
      current: 'cache-probe',
    });
    // The branch read the upstream's 503 from where its Task put it.
    expect(result.entered).toContain('Escalation requested: who-is-down rule 1');
  });

  it('runs every step of the queue when stopWhen never holds, then the lanes, whose outputs the branch reads', async () => {
    // Act
    const result = await rehearse(definition, input(), {
      order: {
        probe: ['database-probe', 'upstream-probe', 'cache-probe'],
        survey: [['edge-c', 'edge-a'], ['edge-b']],
      },
      steps: {
        'cache-probe': { output: { status: 200 } },
        'database-probe': { output: { status: 200 } },
        'upstream-probe': { output: { status: 200 } },
        'edge-b': { error: 'Runbook.ToolFailed' },
        'edge-c': { output: { status: 503 } },
      },
    });

    // Assess
    const steps = result.calls
      .filter((call) => call.payload.kind === 'step')
      .map((call) => (call.payload.step as { id: string }).id);
    expect(steps.slice(0, 3)).toEqual(['database-probe', 'upstream-probe', 'cache-probe']);
    expect(steps.slice(3).sort()).toEqual(['edge-a', 'edge-b', 'edge-c']);
    expect(steps.indexOf('edge-c')).toBeLessThan(steps.indexOf('edge-a'));
    expect(result.entered).not.toContain('Stopped early: probe');
    expect(result.entered).toContain('Step failed: edge-b');
    expect(result.entered).toContain('Escalation requested: who-is-down rule 3');
  });

  it('falls back to the declared order (and declared lanes) when planning fails, and the run goes on', async () => {
    const result = await rehearse(definition, input(), {
      orderFails: ['probe', 'survey'],
      steps: { 'database-probe': { output: { status: 503 } } },
    });
    expect(result.entered).toContain('Declared order: probe');
    expect(result.entered).toContain('Declared order: survey');
    const probes = result.calls
      .filter((call) => call.payload.kind === 'step')
      .map((call) => (call.payload.step as { id: string }).id);
    // Declared: cache, then database, whose 503 stops the phase before the upstream probe.
    expect(probes.slice(0, 2)).toEqual(['cache-probe', 'database-probe']);
    expect(probes).not.toContain('upstream-probe');
    expect(probes.slice(2).sort()).toEqual(['edge-a', 'edge-b', 'edge-c']);
    expect(result.entered).toContain('Escalation requested: who-is-down rule 2');
  });

  it('a failing step of a lane fails the group into its catches, as the Parallel did', async () => {
    const result = await rehearse(definition, input(), {
      steps: { 'edge-a': { error: 'Runbook.ToolFailed' } },
    });
    expect(result.entered).toContain('Rollback outcome');
    expect(result.entered).not.toContain('Branch: who-is-down');
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { walkStates } from '../../../../functions/core/compiler/asl.ts';
import { aslProblems } from '../../../../functions/core/compiler/asl-validation.ts';
import { STEP_FUNCTIONS_LIMITS } from '../../../../functions/core/compiler/budgets.ts';
import { compileRunbook } from '../../../../functions/core/compiler/compile.ts';
import { toMermaid } from '../../../../functions/core/compiler/mermaid.ts';
import { BudgetExceededError } from '../../../../functions/core/errors.ts';
import { Substitution } from '../../../../functions/core/execution-contract.ts';
import {
  CATALOG_FILE,
  parseRunbookCatalog,
  runbookCatalogText,
} from '../../../../functions/core/runbook/catalog.ts';
import type { Runbook } from '../../../../functions/core/runbook/model.ts';
import { runbookJsonSchemaText } from '../../../../functions/core/runbook/schema.ts';
import { validateRunbookText } from '../../../../functions/core/runbook/validate.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { generateRunbook } from '../../../support/generate.ts';
import { rehearse, sampleInput } from '../../../support/rehearsal.ts';
import { compileFile, loadRunbook, OPTIONS, ROOT } from '../../../support/runbooks.ts';

const shipped = readdirSync(join(ROOT, 'runbooks'))
  .filter((file) => file.endsWith('.yaml'))
  .map((file) => `runbooks/${file}`);
const fixtures = readdirSync(join(ROOT, 'test/fixtures/runbooks/valid')).map(
  (file) => `test/fixtures/runbooks/valid/${file}`,
);

function validGenerated(steps: number, options: Parameters<typeof generateRunbook>[1] = {}): Runbook {
  const result = validateRunbookText(stringify(generateRunbook(steps, options)), OPTIONS);
  expect(result.problems).toEqual([]);
  return result.runbook!;
}

describe('compiler output', () => {
  it('has no compiled machine without a runbook', () => {
    const machines = readdirSync(join(ROOT, 'statemachines'))
      .filter((file) => file.endsWith('.asl.json'))
      .map((file) => file.replace(/\.asl\.json$/, ''));
    const runbooks = shipped.map((file) => file.replace(/^runbooks\/|\.yaml$/g, ''));
    expect(machines.sort()).toEqual(runbooks.sort());
  });

  it('statemachines/runbooks.json (the catalog the AWS classifier bundles) is up to date', () => {
    const runbooks = shipped.map((file) => loadRunbook(file));
    expect(readFileSync(join(ROOT, 'statemachines', CATALOG_FILE), 'utf8')).toBe(
      runbookCatalogText(runbooks),
    );
    expect(parseRunbookCatalog(JSON.parse(runbookCatalogText(runbooks)))).toEqual(runbooks);
  });

  it('runbooks/schema.json is up to date (run `npm run compile` when this fails)', () => {
    expect(readFileSync(join(ROOT, 'runbooks/schema.json'), 'utf8')).toBe(
      runbookJsonSchemaText(TOOL_CATALOG.names()),
    );
  });

  it.each([...shipped, ...fixtures])('compiles %s deterministically', (file) => {
    // Act
    const first = compileFile(file);
    const second = compileRunbook(structuredClone(loadRunbook(file)), { tools: TOOL_CATALOG });

    // Assess
    expect(second.text).toBe(first.text);
  });

  it.each([...shipped, ...fixtures])('%s passes asl-validator', (file) => {
    expect(aslProblems(compileFile(file).definition)).toEqual([]);
  });

  it.each([...shipped, ...fixtures])(
    '%s runs to a terminal state in the embedded engine with stub handlers',
    async (file) => {
      // Prepare
      const compiled = compileFile(file);

      // Act
      const result = await rehearse(compiled.definition, sampleInput({ environment: 'dev' }));

      // Assess: with empty stub outputs a run may fail on an unmet expectation, but only with our own errors.
      expect(result.entered.at(-1)).toMatch(/^(Succeeded|Failed)$/);
      if (result.status === 'FAILED')
        expect(result.error).toMatch(/^(Runbook|Verification|Approval|Safety)\./);
    },
  );

  it('emits only JSONPath ASL with explicit timeouts on every Task', () => {
    for (const file of [...shipped, ...fixtures]) {
      const { definition, text } = compileFile(file);
      expect(text).not.toMatch(/QueryLanguage|JSONata|"Assign"|HeartbeatSeconds/);
      for (const [name, state] of walkStates(definition)) {
        if (state.Type === 'Task') expect(state.TimeoutSeconds, `${file}: ${name}`).toBeGreaterThan(0);
        expect(name.length, name).toBeLessThanOrEqual(80);
      }
    }
  });

  it('retries every Lambda Task on the Lambda service errors Step Functions says to retry', () => {
    // The Step Functions best practice "Handle Lambda service exceptions" lists these four
    const serviceErrors = [
      'Lambda.ClientExecutionTimeoutException',
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
    ];
    for (const file of [...shipped, ...fixtures]) {
      for (const [name, state] of walkStates(compileFile(file).definition)) {
        if (state.Type !== 'Task') continue;
        const retried = (state.Retry ?? []).flatMap((retrier) => retrier.ErrorEquals);
        expect(retried, `${file}: ${name}`).toEqual(expect.arrayContaining(serviceErrors));
      }
    }
  });

  it('compiles every runbook.wait step to a Wait state: no Lambda function sleeps', () => {
    let waits = 0;
    for (const file of [...shipped, ...fixtures]) {
      const runbook = loadRunbook(file);
      const { definition } = compileFile(file);
      const states = Object.fromEntries(walkStates(definition));
      const waitSteps = [
        ...runbook.phases.flatMap((phase) => phase.steps),
        ...runbook.rollbackProcedures.flatMap((procedure) => procedure.steps),
      ].filter((step) => step.tool === 'runbook.wait');
      for (const step of waitSteps) {
        waits++;
        // The step's Task records the wait (its parameters, when it ends) and returns at once…
        const task = states[step.id];
        expect(task?.Type, `${file}: ${step.id}`).toBe('Task');
        if (task?.Type !== 'Task') continue;
        expect(task.Parameters?.step).toMatchObject({ id: step.id, tool: 'runbook.wait', waitState: true });
        // …a Wait state waits the step's seconds, which costs nothing while it waits…
        expect(task.Next).toBe(`Wait: ${step.id}`);
        expect(states[`Wait: ${step.id}`]).toEqual({
          Type: 'Wait',
          Seconds: step.parameters.seconds,
          Next: `Waited: ${step.id}`,
        });
        // …and a Task records that it ended (or fails it into rollback when an abort came meanwhile)
        const waited = states[`Waited: ${step.id}`];
        expect(waited).toMatchObject({
          Type: 'Task',
          Parameters: { kind: 'waited', step: { id: step.id, waitState: true } },
        });
        expect((waited as { Catch?: unknown }).Catch).toEqual(task.Catch);
      }
      // No Task runs the wait tool without its Wait state
      for (const [name, state] of walkStates(definition)) {
        const spec =
          state.Type === 'Task' ? (state.Parameters?.step as { tool?: string } | undefined) : undefined;
        if (spec?.tool === 'runbook.wait') expect(name, file).toMatch(/^(Waited: )?[a-z0-9-]+$/);
      }
    }
    expect(waits).toBeGreaterThanOrEqual(9);
  });

  it('uses the mutating runner only for steps whose tool changes something', () => {
    const readOnly = `\${${Substitution.ReadOnlyRunner}}`;
    const mutating = `\${${Substitution.MutatingRunner}}`;
    const { definition } = compileFile('test/fixtures/runbooks/valid/capacity-rehearsal.yaml');
    const resources = Object.fromEntries(
      [...walkStates(definition)]
        .filter(([, state]) => state.Type === 'Task')
        .map(([name, state]) => [name, (state as { Resource: string }).Resource]),
    );
    expect(resources['read-group']).toBe(readOnly);
    expect(resources['scale-web']).toBe(mutating);
    expect(resources['Compensate: scale-web']).toBe(mutating);
    expect(resources['note-shift']).toBe(readOnly);
  });

  it('spreads a parallel group over at most maxConcurrency lanes', () => {
    const { definition } = compileFile('test/fixtures/runbooks/valid/capacity-rehearsal.yaml');
    const group = definition.States['Parallel: shift'];
    expect(group?.Type).toBe('Parallel');
    if (group?.Type !== 'Parallel') return;
    expect(group.Branches).toHaveLength(2);
    const steps = group.Branches.flatMap((branch) => Object.keys(branch.States)).filter(
      (name) => !name.includes(':'),
    );
    expect(steps.sort()).toEqual(['cordon-a', 'cordon-b', 'note-shift']);
  });
});

describe('budgets', () => {
  it('compiles a generated 1,000-step runbook within every Step Functions budget', async () => {
    // Prepare
    const runbook = validGenerated(1000);

    // Act
    const compiled = compileRunbook(runbook, { tools: TOOL_CATALOG });

    // Assess
    expect(compiled.budgets.definitionBytes).toBeLessThan(STEP_FUNCTIONS_LIMITS.definitionBytes);
    expect(compiled.budgets.historyEvents).toBeLessThan(STEP_FUNCTIONS_LIMITS.historyEvents);
    expect(compiled.budgets.payloadBytes).toBeLessThan(STEP_FUNCTIONS_LIMITS.payloadBytes);
    expect(aslProblems(compiled.definition)).toEqual([]);
    const result = await rehearse(compiled.definition, sampleInput({ environment: 'dev' }));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.calls.filter((call) => call.payload.kind === 'step')).toHaveLength(1000);
  });

  it('fails a runbook over the history budget, saying which budget and by how much', () => {
    // Prepare: every step may retry 10 times
    const runbook = validGenerated(800, { retries: 10 });

    // Act
    const act = () => compileRunbook(runbook, { tools: TOOL_CATALOG });

    // Assess
    expect(act).toThrow(BudgetExceededError);
    expect(act).toThrow(/worst-case execution writes \d+ history events, over the 25,000 limit by \d+/);
    try {
      act();
    } catch (error) {
      const budget = error as BudgetExceededError;
      expect(budget.budget).toBe('history');
      expect(budget.actual).toBeGreaterThan(budget.limit);
    }
  });

  it('fails a runbook over the definition size budget', () => {
    // Prepare: 2,500 steps with compensations make a definition over 1 MB
    const runbook = validGenerated(2500, { stepsPerPhase: 50 });

    // Act
    const act = () => compileRunbook(runbook, { tools: TOOL_CATALOG });

    // Assess
    expect(act).toThrow(
      /the compiled definition is [\d.]+ KB, over the 1 MB Step Functions limit by [\d.]+ KB/,
    );
  });

  it('fails a runbook whose conditions read more step outputs than the payload can hold', () => {
    // Prepare: 900 branches each reading a different step's output
    const input = generateRunbook(1800, { stepsPerPhase: 1 });
    input.conditionalBranching = (input.phases ?? [])
      .filter((_, index) => index % 2 === 0 && index + 1 < (input.phases ?? []).length)
      .map((phase, index) => ({
        id: `read-${index}`,
        after: phase.id,
        rules: [{ when: { fact: `steps.${phase.steps[0]!.id}.status`, equals: 'failed' }, goto: 'escalate' }],
        default: (input.phases ?? [])[index * 2 + 1]!.id,
      }));
    const result = validateRunbookText(stringify(input), OPTIONS);
    expect(result.problems).toEqual([]);

    // Act
    const act = () => compileRunbook(result.runbook!, { tools: TOOL_CATALOG });

    // Assess
    expect(act).toThrow(
      /the execution state would need [\d.]+ KB, over the 256 KB payload limit by [\d.]+ KB/,
    );
  });
});

describe('graph', () => {
  it('renders every state, with catches as dotted edges', () => {
    // Prepare
    const { definition } = compileFile('test/fixtures/library/runbooks/node-memory-pressure.yaml');

    // Act
    const mermaid = toMermaid(definition, 'Node memory pressure');

    // Assess
    expect(mermaid).toMatch(/^---\ntitle: Node memory pressure\n---\nflowchart TD\n/);
    for (const [name] of walkStates(definition))
      expect(mermaid).toContain(`"${name.replace(/"/g, '#quot;')}"`);
    expect(mermaid).toMatch(/-\.->\|"Runbook\.Aborted"\|/);
    expect(mermaid).toMatch(/subgraph s\d+_group\["Parallel: diagnose"\]/);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StateMachineDefinition } from '../../../../functions/core/compiler/asl.ts';
import {
  aslProblems,
  aslSchemaCheck,
  aslValidatorOwnSchemaCheck,
  substituteForValidation,
} from '../../../../functions/core/compiler/asl-validation.ts';
import { PACKAGE_ROOT } from '../../../../local/project.ts';

const definition = (next: string): StateMachineDefinition =>
  ({
    StartAt: 'Step',
    States: {
      Step: { Type: 'Task', Resource: '${StepRunner}', TimeoutSeconds: 30, Next: next },
      Done: { Type: 'Succeed' },
    },
  }) as unknown as StateMachineDefinition;

describe('aslProblems', () => {
  it('answers a definition it validated before the same, and its answer cannot be changed by the caller', () => {
    // Prepare: a Task whose Next names no state
    const broken = definition('Nowhere');

    // Act
    const first = aslProblems(broken);
    first.push('changed by the caller');
    const again = aslProblems(definition('Nowhere'));

    // Assess
    expect(again.length).toBeGreaterThan(0);
    expect(again.join('\n')).toMatch(/Nowhere/);
    expect(again).not.toContain('changed by the caller');
    expect(aslProblems(definition('Done'))).toEqual([]);
    expect(aslProblems(definition('Done'))).toEqual([]);
  });
});

describe("asl-validator's JSON-schema check, compiled once", () => {
  const library = readdirSync(join(PACKAGE_ROOT, 'statemachines'))
    .filter((file) => file.endsWith('.asl.json'))
    .map((file) =>
      substituteForValidation(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'statemachines', file), 'utf8'))),
    );

  /** Broken copies of a definition: what each kind of mistake gives the schema check. */
  function broken(definition: StateMachineDefinition): unknown[] {
    type Editable = { StartAt?: string; States: Record<string, Record<string, unknown>> };
    const [name, state] = Object.entries(definition.States)[0]!;
    const mistakes: Array<Record<string, unknown>> = [
      { Type: 'Tusk' },
      { ResultPath: '$$.nope[' },
      { Resource: 'not-an-arn' },
      { TimeoutSeconds: 'thirty' },
      { Output: '{% $states.input. %}', QueryLanguage: 'JSONata' },
      ...((state as { Type: string }).Type === 'Task' ? [{ Retry: [{ ErrorEquals: 'States.ALL' }] }] : []),
    ];
    const copy = () => JSON.parse(JSON.stringify(definition)) as Editable;
    const variants: Editable[] = mistakes.map((fields) => {
      const bad = copy();
      Object.assign(bad.States[name]!, fields);
      return bad;
    });
    const noStart = copy();
    delete noStart.StartAt;
    return [...variants, noStart];
  }

  it('replaced the library’s own check, and answers exactly as it does for the runbook library and broken copies', () => {
    expect(aslValidatorOwnSchemaCheck).toBeTypeOf('function');
    expect(library.length).toBeGreaterThan(20);
    let failing = 0;
    // Every definition as the platform checks it; broken copies of a few with both option sets
    // (asl-validator's own check compiles its schemas each time: ~100 ms a call).
    const cases = [
      ...library.map((definition) => ({
        candidate: definition,
        options: { checkPaths: true, checkArn: true },
      })),
      ...library.slice(0, 3).flatMap((definition) =>
        broken(definition).flatMap((candidate) => [
          { candidate, options: { checkPaths: true, checkArn: true } },
          { candidate, options: { checkPaths: false, checkArn: false } },
        ]),
      ),
    ];
    for (const { candidate, options } of cases) {
      const mine = aslSchemaCheck(JSON.parse(JSON.stringify(candidate)), options);
      const theirs = aslValidatorOwnSchemaCheck!(JSON.parse(JSON.stringify(candidate)), options);
      expect(mine, JSON.stringify(candidate).slice(0, 300)).toEqual(theirs);
      if (theirs.length > 0) failing++;
    }
    // The broken copies are refused (so the comparison covered errors, not only valid definitions).
    expect(failing).toBeGreaterThanOrEqual(3 * 6 * 2);
  }, 120_000);
});

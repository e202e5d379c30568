import { describe, expect, it } from 'vitest';
import type { StateMachineDefinition } from '../../../../functions/core/compiler/asl.ts';
import { aslProblems } from '../../../../functions/core/compiler/asl-validation.ts';

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

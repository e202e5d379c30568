import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { compileCondition, factPath } from '../../../../functions/core/compiler/conditions.ts';
import type { Condition } from '../../../../functions/core/runbook/model.ts';

const resultPath = (stepId: string) => `$.steps.${stepId.replace(/-/g, '_')}`;

/** Evaluates a compiled condition the way Step Functions does: a one-Choice machine in the local engine. */
async function evaluate(condition: Condition, state: Record<string, unknown>): Promise<boolean> {
  const machine = new StateMachine({
    StartAt: 'Decide',
    States: {
      Decide: {
        Type: 'Choice',
        Choices: [{ ...(compileCondition(condition, resultPath) as object), Next: 'Yes' }],
        Default: 'No',
      },
      Yes: { Type: 'Pass', Result: 'yes', End: true },
      No: { Type: 'Pass', Result: 'no', End: true },
    },
  } as never);
  return (await machine.run(state as never).result) === 'yes';
}

const state = {
  alert: { severity: 'critical', labels: { namespace: 'shop', 'app-name': 'cart' } },
  steps: {
    top_pods: {
      status: 'succeeded',
      output: { pods: [{ memoryShare: 0.71, ownerKind: 'Deployment' }], count: 3, ready: true },
    },
  },
};

describe('conditions compile to Choice rules with the expected semantics', () => {
  it('maps facts to reference paths, quoting keys JSONPath dot notation cannot hold', () => {
    expect(factPath('steps.top-pods.output.pods[0].memoryShare', resultPath)).toBe(
      '$.steps.top_pods.output.pods[0].memoryShare',
    );
    expect(factPath('steps.top-pods.output.pods.0.memoryShare', resultPath)).toBe(
      '$.steps.top_pods.output.pods[0].memoryShare',
    );
    expect(factPath('alert.labels.app-name', resultPath)).toBe("$.alert.labels['app-name']");
  });

  it.each<[string, Condition, boolean]>([
    ['equals (string)', { fact: 'alert.severity', equals: 'critical' }, true],
    ['equals (string, other value)', { fact: 'alert.severity', equals: 'warning' }, false],
    ['equals (number)', { fact: 'steps.top-pods.output.count', equals: 3 }, true],
    ['equals (boolean)', { fact: 'steps.top-pods.output.ready', equals: true }, true],
    [
      'equals of a different type is false, not an error',
      { fact: 'steps.top-pods.output.count', equals: '3' },
      false,
    ],
    ['notEquals', { fact: 'alert.severity', notEquals: 'warning' }, true],
    ['notEquals on a missing field is true', { fact: 'alert.labels.team', notEquals: 'sre' }, true],
    ['greaterThan', { fact: 'steps.top-pods.output.pods[0].memoryShare', greaterThan: 0.5 }, true],
    ['greaterThanOrEquals', { fact: 'steps.top-pods.output.count', greaterThanOrEquals: 3 }, true],
    ['lessThan', { fact: 'steps.top-pods.output.count', lessThan: 3 }, false],
    ['lessThanOrEquals', { fact: 'steps.top-pods.output.count', lessThanOrEquals: 3 }, true],
    ['numeric comparison on a string is false', { fact: 'alert.severity', greaterThan: 1 }, false],
    ['matches (wildcard)', { fact: 'alert.labels.namespace', matches: 'sh*' }, true],
    ['in', { fact: 'steps.top-pods.output.pods.0.ownerKind', in: ['StatefulSet', 'Deployment'] }, true],
    ['in (no match)', { fact: 'steps.top-pods.output.pods.0.ownerKind', in: ['DaemonSet'] }, false],
    ['exists', { fact: 'alert.labels.app-name', exists: true }, true],
    ['exists: false on a missing field', { fact: 'alert.labels.team', exists: false }, true],
    [
      'a comparison on a missing field is false, not an error',
      { fact: 'steps.other.output.x', greaterThan: 1 },
      false,
    ],
    [
      'all',
      {
        all: [
          { fact: 'alert.severity', equals: 'critical' },
          { fact: 'steps.top-pods.output.count', greaterThan: 2 },
        ],
      },
      true,
    ],
    [
      'any',
      {
        any: [
          { fact: 'alert.severity', equals: 'info' },
          { fact: 'steps.top-pods.output.count', greaterThan: 2 },
        ],
      },
      true,
    ],
    ['not', { not: { fact: 'alert.severity', equals: 'critical' } }, false],
  ])('%s', async (_name, condition, expected) => {
    expect(await evaluate(condition, state)).toBe(expected);
  });

  it('flattens nested all/any so the rules stay readable', () => {
    const rule = compileCondition(
      { all: [{ all: [{ fact: 'alert.severity', exists: true }] }, { fact: 'alert.status', exists: true }] },
      resultPath,
    );
    expect(rule).toEqual({
      And: [
        { Variable: '$.alert.severity', IsPresent: true },
        { Variable: '$.alert.status', IsPresent: true },
      ],
    });
  });
});

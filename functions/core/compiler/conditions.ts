import type { Comparison, Condition } from '../runbook/model.ts';
import { parseReference } from '../runbook/templates.ts';
import type { ChoiceRule } from './asl.ts';

/** Where the compiled machine keeps `resource.resolve`'s result: `{ status, output: { resource, parameters } }`. */
export const RESOLVED_PATH = '$.resolved';

/** Maps `steps.<id>` facts to where the compiled machine keeps that step's result. */
export type StepResultPath = (stepId: string) => string;

function segmentPath(segments: ReadonlyArray<string | number>): string {
  return segments
    .map((segment) =>
      typeof segment === 'number'
        ? `[${segment}]`
        : /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)
          ? `.${segment}`
          : `['${segment}']`,
    )
    .join('');
}

/** A condition fact as a JSONPath reference path into the execution state. */
export function factPath(fact: string, stepResultPath: StepResultPath): string {
  const segments = parseReference(fact);
  if (!segments) throw new Error(`fact "${fact}" is not a path`);
  if (segments[0] === 'steps') {
    const [, stepId, ...rest] = segments;
    return `${stepResultPath(String(stepId))}${segmentPath(rest)}`;
  }
  // The resolution step keeps its result ({ status, output: { resource, parameters } }) at $.resolved.
  if (segments[0] === 'resource' || segments[0] === 'parameters')
    return `${RESOLVED_PATH}.output${segmentPath(segments)}`;
  if (segments[0] === 'runbook' && segments[1] === 'parameters')
    return `${RESOLVED_PATH}.output${segmentPath(segments.slice(1))}`;
  return `$${segmentPath(segments)}`;
}

/** And/Or of rules, nested And-in-And (Or-in-Or) flattened, single rules unwrapped. */
function combine(operator: 'And' | 'Or', rules: ChoiceRule[]): ChoiceRule {
  const flat = rules.flatMap((rule) => {
    const keys = Object.keys(rule);
    return keys.length === 1 && keys[0] === operator ? (rule[operator] as ChoiceRule[]) : [rule];
  });
  return flat.length === 1 ? flat[0]! : { [operator]: flat };
}

const and = (rules: ChoiceRule[]) => combine('And', rules);
const or = (rules: ChoiceRule[]) => combine('Or', rules);

/** A typed equality test; guarded by IsPresent and a type test, because a missing path fails the execution. */
function typedEquals(variable: string, value: string | number | boolean): ChoiceRule {
  const present = { Variable: variable, IsPresent: true };
  if (typeof value === 'string')
    return and([
      present,
      { Variable: variable, IsString: true },
      { Variable: variable, StringEquals: value },
    ]);
  if (typeof value === 'number')
    return and([
      present,
      { Variable: variable, IsNumeric: true },
      { Variable: variable, NumericEquals: value },
    ]);
  return and([
    present,
    { Variable: variable, IsBoolean: true },
    { Variable: variable, BooleanEquals: value },
  ]);
}

const NUMERIC_OPERATOR = {
  greaterThan: 'NumericGreaterThan',
  greaterThanOrEquals: 'NumericGreaterThanEquals',
  lessThan: 'NumericLessThan',
  lessThanOrEquals: 'NumericLessThanEquals',
} as const;

function compileComparison(comparison: Comparison, stepResultPath: StepResultPath): ChoiceRule {
  const variable = factPath(comparison.fact, stepResultPath);
  const present = { Variable: variable, IsPresent: true };
  if (comparison.equals !== undefined) return typedEquals(variable, comparison.equals);
  if (comparison.notEquals !== undefined) return { Not: typedEquals(variable, comparison.notEquals) };
  if (comparison.in !== undefined) return or(comparison.in.map((value) => typedEquals(variable, value)));
  if (comparison.matches !== undefined) {
    return and([
      present,
      { Variable: variable, IsString: true },
      { Variable: variable, StringMatches: comparison.matches },
    ]);
  }
  // `IsPresent: false` means "absent" on AWS, but aws-local-stepfunctions 3 answers false for it; Not works in both.
  if (comparison.exists !== undefined) return comparison.exists ? present : { Not: present };
  for (const [operator, aslOperator] of Object.entries(NUMERIC_OPERATOR) as Array<
    [keyof typeof NUMERIC_OPERATOR, string]
  >) {
    const value = comparison[operator];
    if (value !== undefined) {
      return and([
        present,
        { Variable: variable, IsNumeric: true },
        { Variable: variable, [aslOperator]: value },
      ]);
    }
  }
  throw new Error(`comparison on ${comparison.fact} has no operator`);
}

/** A declarative condition as a native Choice rule (without Next). Never code, never eval. */
export function compileCondition(condition: Condition, stepResultPath: StepResultPath): ChoiceRule {
  if ('all' in condition) return and(condition.all.map((inner) => compileCondition(inner, stepResultPath)));
  if ('any' in condition) return or(condition.any.map((inner) => compileCondition(inner, stepResultPath)));
  if ('not' in condition) return { Not: compileCondition(condition.not, stepResultPath) };
  return compileComparison(condition, stepResultPath);
}

/** Every `steps.<id>` a condition reads. */
export function conditionSteps(condition: Condition): string[] {
  if ('all' in condition) return condition.all.flatMap(conditionSteps);
  if ('any' in condition) return condition.any.flatMap(conditionSteps);
  if ('not' in condition) return conditionSteps(condition.not);
  const match = /^steps\.([a-z0-9-]+)\./.exec(condition.fact);
  return match ? [match[1]!] : [];
}

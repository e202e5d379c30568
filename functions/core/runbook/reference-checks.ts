import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import type { z } from 'zod';
import { Alert } from '../alert.ts';
import { ExecutionContext } from '../execution-contract.ts';
import { ResolvedResource } from '../resource.ts';
import type { ToolDeclaration } from '../tool-catalog.ts';
import type { CheckContext, SemanticCheck, SemanticProblem } from './checks.ts';
import { didYouMean } from './issues.ts';
import type { Condition, Runbook, Step } from './model.ts';
import type { PathSegment } from './path.ts';
import { schemaAt } from './schema-paths.ts';
import type { StepLocation } from './step-locations.ts';
import { stepLocations } from './step-locations.ts';
import { findTemplates, parseReference } from './templates.ts';

/**
 * checkReferencePaths: every `steps.<id>.output…`, `alert.…`, `resource.…`, `parameters.…` and
 * `execution.…` reference in templates, conditions, expectations, compensations and recorded outputs
 * names something that exists: a field of the step's tool's declared output, of the alert, of the
 * resolved resource, a declared runbook parameter. checkPromql: PromQL parameters parse.
 */

const CHECK = 'checkReferencePaths';

interface ReferenceSite {
  expression: string;
  segments: PathSegment[];
  at: PathSegment[];
  /** In a compensation: the step it undoes (its `parameters` and `output` are in scope). */
  compensates?: Step;
}

function conditionReferences(condition: Condition, at: PathSegment[]): ReferenceSite[] {
  if ('all' in condition)
    return condition.all.flatMap((inner, index) => conditionReferences(inner, [...at, 'all', index]));
  if ('any' in condition)
    return condition.any.flatMap((inner, index) => conditionReferences(inner, [...at, 'any', index]));
  if ('not' in condition) return conditionReferences(condition.not, [...at, 'not']);
  const segments = parseReference(condition.fact);
  return segments ? [{ expression: condition.fact, segments, at: [...at, 'fact'] }] : [];
}

function templateReferences(value: unknown, at: PathSegment[], compensates?: Step): ReferenceSite[] {
  return findTemplates(value, at).references.map((reference) => ({
    expression: `{{ ${reference.expression} }}`,
    segments: reference.segments,
    at: reference.at,
    ...(compensates ? { compensates } : {}),
  }));
}

/** Every reference in a runbook, with where it sits. */
export function referenceSites(runbook: Runbook): ReferenceSite[] {
  const sites: ReferenceSite[] = [];
  for (const location of stepLocations(runbook)) {
    sites.push(...templateReferences(location.step.parameters, [...location.at, 'parameters']));
    if ('expect' in location.step && location.step.expect)
      sites.push(...conditionReferences(location.step.expect, [...location.at, 'expect']));
    if ('watch' in location.step && location.step.watch) {
      const segments = parseReference(location.step.watch.fact);
      if (segments)
        sites.push({
          expression: location.step.watch.fact,
          segments,
          at: [...location.at, 'watch', 'fact'],
        });
    }
    if (
      'compensation' in location.step &&
      location.step.compensation &&
      location.step.compensation !== 'auto'
    ) {
      sites.push(
        ...templateReferences(
          location.step.compensation.parameters,
          [...location.at, 'compensation', 'parameters'],
          location.step,
        ),
      );
    }
  }
  runbook.conditionalBranching.forEach((branch, index) => {
    branch.rules.forEach((rule, ruleIndex) => {
      sites.push(
        ...conditionReferences(rule.when, ['conditionalBranching', index, 'rules', ruleIndex, 'when']),
      );
    });
  });
  runbook.phases.forEach((phase, index) => {
    if (phase.stopWhen) sites.push(...conditionReferences(phase.stopWhen, ['phases', index, 'stopWhen']));
  });
  runbook.learningHooks.recordOutputs.forEach((fact, index) => {
    const segments = parseReference(fact);
    if (segments) sites.push({ expression: fact, segments, at: ['learningHooks', 'recordOutputs', index] });
  });
  return sites;
}

function missMessage(
  site: ReferenceSite,
  what: string,
  schema: z.ZodType,
  segments: readonly PathSegment[],
  offset: number,
): string | undefined {
  const lookup = schemaAt(schema, segments, offset);
  if (lookup.found) return undefined;
  const missing = segments[lookup.at]!;
  const where = segments.slice(offset, lookup.at);
  const place = where.length > 0 ? ` at ${formatSegments(where)}` : '';
  const suggestion = typeof missing === 'string' ? didYouMean(missing, lookup.candidates) : '';
  return `${site.expression}: ${what} has no ${typeof missing === 'number' ? `[${missing}]` : `"${missing}"`}${place}${suggestion}; there it is ${lookup.actual}`;
}

function formatSegments(segments: readonly PathSegment[]): string {
  return segments
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`,
    )
    .join('');
}

function parameterMessage(site: ReferenceSite, runbook: Runbook, nameIndex: number): string | undefined {
  const name = site.segments[nameIndex];
  const declared = Object.keys(runbook.parameters);
  if (typeof name !== 'string') {
    return `${site.expression}: name a runbook parameter (${declared.join(', ') || 'this runbook declares none'})`;
  }
  const parameter = runbook.parameters[name];
  if (!parameter) {
    return `${site.expression}: the runbook declares no parameter "${name}"${didYouMean(name, declared)}; ${
      declared.length > 0 ? `it declares ${declared.join(', ')}` : 'declare it under parameters:'
    }`;
  }
  const rest = site.segments.slice(nameIndex + 1);
  if (rest.length === 0) return undefined;
  if (parameter.type === 'list' && rest.length === 1 && typeof rest[0] === 'number') return undefined;
  return `${site.expression}: parameter "${name}" is a ${parameter.type}; it has no ${formatSegments(rest)}`;
}

function siteProblem(
  site: ReferenceSite,
  context: CheckContext,
  steps: Map<string, StepLocation>,
): string | undefined {
  const { runbook, tools } = context;
  const [root] = site.segments;
  if (site.compensates && (root === 'parameters' || root === 'output')) {
    const tool = tools.get(site.compensates.tool);
    if (!tool) return undefined;
    if (root === 'output')
      return missMessage(site, `the output of ${tool.name}`, tool.output, site.segments, 1);
    const miss = missMessage(site, `the parameters of ${tool.name}`, tool.parameters, site.segments, 1);
    return miss && Object.hasOwn(runbook.parameters, String(site.segments[1]))
      ? `${miss}. In a compensation, parameters.… are the parameters of the step it undoes; the runbook's are {{ runbook.parameters.${String(site.segments[1])} }}`
      : miss;
  }
  switch (root) {
    case 'steps': {
      const [, id, field] = site.segments;
      const location = typeof id === 'string' ? steps.get(id) : undefined;
      if (!location || field !== 'output') return undefined; // unknown steps and status: other checks
      const tool: ToolDeclaration | undefined = tools.get(location.step.tool);
      if (!tool) return undefined;
      return missMessage(site, `the output of ${tool.name} (step ${id})`, tool.output, site.segments, 3);
    }
    case 'alert':
      return missMessage(site, 'the alert', Alert, site.segments, 1);
    case 'resource':
      return missMessage(site, 'the resource', ResolvedResource, site.segments, 1);
    case 'execution':
      return missMessage(site, 'the execution', ExecutionContext, site.segments, 1);
    case 'parameters':
      return parameterMessage(site, runbook, 1);
    case 'runbook':
      return site.segments[1] === 'parameters'
        ? parameterMessage(site, runbook, 2)
        : `${site.expression}: runbook.… references are runbook.parameters.<name>`;
    default:
      return undefined; // roots are checked by detectReferencesOutOfOrder
  }
}

export const checkReferencePaths: SemanticCheck = (context) => {
  const steps = new Map(stepLocations(context.runbook).map((location) => [location.step.id, location]));
  const problems: SemanticProblem[] = [];
  for (const site of referenceSites(context.runbook)) {
    const message = siteProblem(site, context, steps);
    if (message) problems.push({ at: site.at, check: CHECK, message });
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------
// PromQL

const TEMPLATE = /\{\{\s*[^{}]*?\s*\}\}/g;

/**
 * The query with each template replaced by something of the same syntactic role, so the rest can be
 * parsed: inside quotes a word, after `[` or in a `[…:…]` a duration, elsewhere a number. Returns the
 * text and a map from positions in it back to positions in the original.
 */
function withoutTemplates(query: string): { text: string; original: (position: number) => number } {
  let text = '';
  const shifts: Array<{ at: number; delta: number }> = [];
  let last = 0;
  let delta = 0;
  for (const match of query.matchAll(TEMPLATE)) {
    const before = query.slice(last, match.index);
    text += before;
    const preceding = text;
    const quotes = (preceding.match(/(?<!\\)["'`]/g) ?? []).length;
    const stand = quotes % 2 === 1 ? 'x' : /\[[^\]]*$/.test(preceding) ? '5m' : '1';
    text += stand;
    delta += match[0].length - stand.length;
    shifts.push({ at: text.length, delta });
    last = match.index + match[0].length;
  }
  text += query.slice(last);
  return {
    text,
    original: (position) => {
      let shift = 0;
      for (const entry of shifts) if (entry.at <= position) shift = entry.delta;
      return position + shift;
    },
  };
}

/** The first syntax error of a PromQL expression, as a message; undefined when it parses. */
export function promqlSyntaxError(query: string): string | undefined {
  const { text, original } = withoutTemplates(query);
  if (text.trim() === '') return 'the query is empty';
  let error: number | undefined;
  promqlParser.parse(text).iterate({
    enter: (node) => {
      if (error === undefined && node.type.isError) error = node.from;
      return error === undefined;
    },
  });
  if (error === undefined) return undefined;
  const at = original(error);
  const line = query.slice(0, at).split('\n').length;
  const column = at - query.lastIndexOf('\n', at - 1);
  const excerpt = query.slice(Math.max(0, at - 30), at).replace(/\s+/g, ' ');
  const rest = query.slice(at, at + 20).replace(/\s+/g, ' ');
  return `PromQL syntax error at line ${line}, column ${column} of the query: …${excerpt}⟨here⟩${rest}…`;
}

export const checkPromql: SemanticCheck = ({ runbook, tools }) => {
  const problems: SemanticProblem[] = [];
  for (const location of stepLocations(runbook)) {
    const tool = tools.get(location.step.tool);
    for (const name of tool?.promql ?? []) {
      const query = location.step.parameters[name];
      if (typeof query !== 'string') continue;
      const message = promqlSyntaxError(query);
      if (message) problems.push({ at: [...location.at, 'parameters', name], check: 'checkPromql', message });
    }
  }
  return problems;
};

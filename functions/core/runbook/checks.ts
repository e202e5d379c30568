import { formatDuration } from '../duration.ts';
import { validateEventPattern } from '../event-pattern.ts';
import { checkBlastRadius } from '../limits/static-check.ts';
import { type EnvironmentPolicy, type PolicySet, policyFor, RISK_RANK, type RiskLevel } from '../policy.ts';
import type { ToolCatalog, ToolDeclaration } from '../tool-catalog.ts';
import { checkHealthWatches } from '../watch/static-check.ts';
import {
  ancestorPhases,
  buildPhaseGraph,
  dominators,
  findCycles,
  type PhaseGraph,
  reachablePhases,
  TERMINALS,
} from './graph.ts';
import { describeIssue, didYouMean } from './issues.ts';
import {
  BRANCH_END,
  type Check,
  type CompensationSpec,
  type Condition,
  RESOLVE_STEP_ID,
  type Runbook,
  type Step,
} from './model.ts';
import type { PathSegment } from './path.ts';
import { checkPromql, checkReferencePaths } from './reference-checks.ts';
import { type StepLocation, stepLocations } from './step-locations.ts';
import { findTemplates, lookup, type TemplateReference } from './templates.ts';

/** Lambda's hard limit: a step-runner invocation cannot outlive it. */
export const LAMBDA_MAX_SECONDS = 900;

export interface SemanticProblem {
  at: PathSegment[];
  message: string;
  check: string;
}

export interface CheckContext {
  runbook: Runbook;
  tools: ToolCatalog;
  policies: PolicySet;
  graph: PhaseGraph;
}

export type SemanticCheck = (context: CheckContext) => SemanticProblem[];

function isPhaseStep(step: Step | Check): step is Step {
  return 'type' in step;
}

// ---------------------------------------------------------------------------------------------------
// Identity

export const detectDuplicateIds: SemanticCheck = ({ runbook }) => {
  const problems: SemanticProblem[] = [];
  const claim = (seen: Map<string, string>, id: string, at: PathSegment[], what: string) => {
    const first = seen.get(id);
    if (first)
      problems.push({
        at,
        check: 'detectDuplicateIds',
        message: `${what} id "${id}" is already used at ${first}`,
      });
    else seen.set(id, formatAt(at));
  };
  const steps = new Map<string, string>();
  for (const location of stepLocations(runbook))
    claim(steps, location.step.id, [...location.at, 'id'], 'step');
  const phases = new Map<string, string>();
  runbook.phases.forEach((phase, index) => {
    if (TERMINALS.has(phase.id)) {
      problems.push({
        at: ['phases', index, 'id'],
        check: 'detectDuplicateIds',
        message: `"${phase.id}" is reserved for branch targets; name the phase differently`,
      });
    }
    claim(phases, phase.id, ['phases', index, 'id'], 'phase');
  });
  const groups: Array<[string, Array<{ id: string }>]> = [
    ['conditionalBranching', runbook.conditionalBranching],
    ['approvalRequirements', runbook.approvalRequirements],
    ['escalationTriggers', runbook.escalationTriggers],
    ['applicabilityRules', runbook.applicabilityRules],
    ['rollbackProcedures', runbook.rollbackProcedures],
  ];
  for (const [field, items] of groups) {
    const seen = new Map<string, string>();
    for (const [index, item] of items.entries())
      claim(seen, item.id, [field, index, 'id'], field.replace(/s$/, ''));
  }
  return problems;
};

function formatAt(at: PathSegment[]): string {
  return at
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`,
    )
    .join('');
}

// ---------------------------------------------------------------------------------------------------
// References

function conditionFacts(condition: Condition, at: PathSegment[]): Array<{ fact: string; at: PathSegment[] }> {
  if ('all' in condition)
    return condition.all.flatMap((inner, index) => conditionFacts(inner, [...at, 'all', index]));
  if ('any' in condition)
    return condition.any.flatMap((inner, index) => conditionFacts(inner, [...at, 'any', index]));
  if ('not' in condition) return conditionFacts(condition.not, [...at, 'not']);
  return [{ fact: condition.fact, at: [...at, 'fact'] }];
}

function factStep(fact: string): string | undefined {
  return /^steps\.([a-z0-9-]+)\./.exec(fact)?.[1];
}

export const detectUndefinedReferences: SemanticCheck = ({ runbook }) => {
  const problems: SemanticProblem[] = [];
  const phaseIds = runbook.phases.map((phase) => phase.id);
  const stepIds = stepLocations(runbook).map((location) => location.step.id);
  const phaseStepIds = runbook.phases.flatMap((phase) => phase.steps.map((step) => step.id));
  const undefinedPhase = (target: string, at: PathSegment[], allowTerminals: boolean) => {
    if (phaseIds.includes(target) || (allowTerminals && TERMINALS.has(target))) return;
    const options = allowTerminals ? [...phaseIds, ...TERMINALS] : phaseIds;
    problems.push({
      at,
      check: 'detectUndefinedReferences',
      message: `no phase "${target}"${didYouMean(target, options)}${allowTerminals ? '; targets are phase ids, "end" or "escalate"' : ''}`,
    });
  };
  const undefinedStep = (id: string, at: PathSegment[], candidates: string[], what = 'step') => {
    if (candidates.includes(id)) return;
    problems.push({
      at,
      check: 'detectUndefinedReferences',
      message: `no ${what} "${id}"${didYouMean(id, candidates)}`,
    });
  };

  runbook.phases.forEach((phase, index) => {
    if (phase.next) undefinedPhase(phase.next, ['phases', index, 'next'], true);
  });
  runbook.conditionalBranching.forEach((branch, index) => {
    undefinedPhase(branch.after, ['conditionalBranching', index, 'after'], false);
    branch.rules.forEach((rule, ruleIndex) => {
      undefinedPhase(rule.goto, ['conditionalBranching', index, 'rules', ruleIndex, 'goto'], true);
      for (const { fact, at } of conditionFacts(rule.when, [
        'conditionalBranching',
        index,
        'rules',
        ruleIndex,
        'when',
      ])) {
        const step = factStep(fact);
        if (step) undefinedStep(step, at, stepIds);
      }
    });
    undefinedPhase(branch.default, ['conditionalBranching', index, 'default'], true);
  });
  runbook.approvalRequirements.forEach((requirement, index) => {
    for (const [phaseIndex, phase] of requirement.phases.entries()) {
      undefinedPhase(phase, ['approvalRequirements', index, 'phases', phaseIndex], false);
    }
    for (const [stepIndex, step] of requirement.steps.entries()) {
      undefinedStep(step, ['approvalRequirements', index, 'steps', stepIndex], phaseStepIds, 'phase step');
    }
  });
  for (const location of stepLocations(runbook)) {
    const { references } = findTemplates(location.step.parameters, [...location.at, 'parameters']);
    for (const reference of references) {
      if (reference.segments[0] === 'steps' && typeof reference.segments[1] === 'string') {
        undefinedStep(reference.segments[1], reference.at, stepIds);
      }
    }
    if ('expect' in location.step && location.step.expect) {
      for (const { fact, at } of conditionFacts(location.step.expect, [...location.at, 'expect'])) {
        const step = factStep(fact);
        if (step) undefinedStep(step, at, stepIds);
      }
    }
  }
  runbook.learningHooks.recordOutputs.forEach((fact, index) => {
    const step = factStep(fact);
    if (step) undefinedStep(step, ['learningHooks', 'recordOutputs', index], stepIds);
  });
  return problems;
};

export const detectAmbiguousFlow: SemanticCheck = ({ runbook }) => {
  const problems: SemanticProblem[] = [];
  const seen = new Map<string, number>();
  runbook.conditionalBranching.forEach((branch, index) => {
    const first = seen.get(branch.after);
    if (first !== undefined) {
      problems.push({
        at: ['conditionalBranching', index, 'after'],
        check: 'detectAmbiguousFlow',
        message: `phase "${branch.after}" already branches at conditionalBranching[${first}]; merge the rules into one branch`,
      });
    } else {
      seen.set(branch.after, index);
    }
    const phaseIndex = runbook.phases.findIndex((phase) => phase.id === branch.after);
    if (first === undefined && phaseIndex >= 0 && runbook.phases[phaseIndex]!.next) {
      problems.push({
        at: ['phases', phaseIndex, 'next'],
        check: 'detectAmbiguousFlow',
        message: `phase "${branch.after}" has both next and branch "${branch.id}"; the branch decides where to go, remove next`,
      });
    }
  });
  return problems;
};

// ---------------------------------------------------------------------------------------------------
// Flow

export const detectUnreachableSteps: SemanticCheck = ({ runbook, graph }) => {
  const reachable = reachablePhases(graph);
  const problems: SemanticProblem[] = [];
  runbook.phases.forEach((phase, index) => {
    if (reachable.has(phase.id)) return;
    problems.push({
      at: ['phases', index],
      check: 'detectUnreachableSteps',
      message: `phase "${phase.id}" is unreachable: no phase or branch leads to it, so its steps (${phase.steps
        .map((step) => step.id)
        .join(', ')}) never run`,
    });
  });
  return problems;
};

export const detectBranchCycles: SemanticCheck = ({ runbook, graph }) =>
  findCycles(graph).map((cycle) => {
    const index = runbook.phases.findIndex((phase) => phase.id === cycle[0]);
    return {
      at: ['phases', index],
      check: 'detectBranchCycles',
      message: `phases loop: ${[...cycle, cycle[0]].join(' -> ')}; a runbook must not cycle (it would run remediations again and again)`,
    };
  });

/**
 * Phases that precede `target` on every path, including `end` (for success checks). Dominators are
 * computed once per graph: references are checked per template, and big runbooks have thousands.
 */
const precedingCache = new WeakMap<PhaseGraph, Map<string, Set<string>>>();
function precedingPhases(graph: PhaseGraph, target: string): Set<string> {
  let cache = precedingCache.get(graph);
  if (!cache) {
    cache = new Map(dominators(graph));
    const reachable = reachablePhases(graph);
    const endReachableWithout = (removed: string) => {
      for (const phase of reachablePhases(graph, removed)) {
        if ((graph.successors.get(phase) ?? []).includes(BRANCH_END)) return true;
      }
      return false;
    };
    cache.set(BRANCH_END, new Set([...reachable].filter((phase) => !endReachableWithout(phase))));
    precedingCache.set(graph, cache);
  }
  return cache.get(target) ?? new Set();
}

export const detectReferencesOutOfOrder: SemanticCheck = ({ runbook, graph }) => {
  const problems: SemanticProblem[] = [];
  const locations = stepLocations(runbook);
  const byId = new Map(locations.map((location) => [location.step.id, location]));
  const precedes = (reference: string, from: StepLocation): string | undefined => {
    const target = byId.get(reference);
    if (!target) return undefined; // reported as undefined
    if (target.kind === 'prerequisite') {
      return from.kind === 'prerequisite' && target.stepIndex >= from.stepIndex
        ? `runs at or after this check; a prerequisite may only use earlier prerequisites`
        : undefined;
    }
    if (target.kind !== 'phase')
      return `is a ${target.kind} step; its output is not available to other steps`;
    if (from.kind === 'rollback')
      return 'may not have run when a rollback happens; rollback steps may use prerequisite checks, alert, resource, parameters and execution';
    if (from.kind === 'prerequisite') return 'runs after the prerequisite checks';
    if (from.kind === 'success-check') {
      return precedingPhases(graph, BRANCH_END).has(target.phaseId!)
        ? undefined
        : `is in phase "${target.phaseId}", which does not run on every path to verification`;
    }
    if (target.phaseId === from.phaseId) {
      const phase = runbook.phases[from.phaseIndex!]!;
      if (phase.mode === 'parallel') return `runs in parallel with this step in phase "${phase.id}"`;
      return target.stepIndex < from.stepIndex ? undefined : 'runs later in the same phase';
    }
    return precedingPhases(graph, from.phaseId!).has(target.phaseId!)
      ? undefined
      : `is in phase "${target.phaseId}", which does not run before phase "${from.phaseId}" on every path`;
  };

  for (const location of locations) {
    const { references } = findTemplates(location.step.parameters, [...location.at, 'parameters']);
    for (const reference of references) {
      const root = reference.segments[0];
      if (typeof root !== 'string' || !STEP_TEMPLATE_ROOTS.includes(root)) {
        problems.push({
          at: reference.at,
          check: 'detectReferencesOutOfOrder',
          message: `{{ ${reference.expression} }}: templates here start with ${STEP_TEMPLATE_ROOTS.join(', ')}`,
        });
        continue;
      }
      if (root === 'steps') problems.push(...stepReferenceProblems(reference, location, precedes));
    }
    // A compensation sees what its step saw: the outputs of every step completed before the step it undoes.
    const compensation = isPhaseStep(location.step) ? location.step.compensation : undefined;
    if (compensation && compensation !== 'auto') {
      const at = [...location.at, 'compensation', 'parameters'];
      for (const reference of findTemplates(compensation.parameters, at).references) {
        const root = reference.segments[0];
        if (typeof root !== 'string' || !COMPENSATION_TEMPLATE_ROOTS.includes(root)) {
          problems.push({
            at: reference.at,
            check: 'detectReferencesOutOfOrder',
            message: `{{ ${reference.expression} }}: compensation templates start with ${COMPENSATION_TEMPLATE_ROOTS.join(', ')}`,
          });
          continue;
        }
        if (root === 'steps' && reference.segments[1] !== location.step.id) {
          problems.push(
            ...stepReferenceProblems(reference, location, precedes).map((problem) => ({
              ...problem,
              message: `${problem.message} (a compensation may use the steps completed before the step it undoes)`,
            })),
          );
        }
      }
    }
  }
  runbook.conditionalBranching.forEach((branch, index) => {
    const phase = runbook.phases.find((candidate) => candidate.id === branch.after);
    if (!phase) return;
    const before = precedingPhases(graph, phase.id);
    branch.rules.forEach((rule, ruleIndex) => {
      for (const { fact, at } of conditionFacts(rule.when, [
        'conditionalBranching',
        index,
        'rules',
        ruleIndex,
        'when',
      ])) {
        const step = factStep(fact);
        const target = step ? byId.get(step) : undefined;
        if (!target || target.kind === 'prerequisite') continue;
        if (target.kind !== 'phase' || (target.phaseId !== phase.id && !before.has(target.phaseId!))) {
          problems.push({
            at,
            check: 'detectReferencesOutOfOrder',
            message: `${fact}: step "${step}" does not run before branch "${branch.id}" on every path`,
          });
        }
      }
    });
  });
  for (const location of locations) {
    if (!('expect' in location.step) || !location.step.expect) continue;
    for (const { fact, at } of conditionFacts(location.step.expect, [...location.at, 'expect'])) {
      const step = factStep(fact);
      if (step && step !== location.step.id) {
        problems.push({
          at,
          check: 'detectReferencesOutOfOrder',
          message: `${fact}: a check's expect reads its own output (steps.${location.step.id}.output…)`,
        });
      }
    }
  }
  return problems;
};

/** Where step parameters may read from (rollback procedures too: a step they name must be a prerequisite). */
export const STEP_TEMPLATE_ROOTS = ['alert', 'resource', 'parameters', 'runbook', 'execution', 'steps'];
/** A compensation also sees the step it undoes: its resolved `parameters` and its `output`. */
export const COMPENSATION_TEMPLATE_ROOTS = ['parameters', 'output', ...STEP_TEMPLATE_ROOTS.slice(1)];

function stepReferenceProblems(
  reference: TemplateReference,
  location: StepLocation,
  precedes: (reference: string, from: StepLocation) => string | undefined,
): SemanticProblem[] {
  const [, step, field] = reference.segments;
  if (typeof step !== 'string') return [];
  if (field !== 'output' && field !== 'status') {
    return [
      {
        at: reference.at,
        check: 'detectReferencesOutOfOrder',
        message: `{{ ${reference.expression} }}: use steps.${step}.output.… or steps.${step}.status`,
      },
    ];
  }
  const why = precedes(step, location);
  return why
    ? [
        {
          at: reference.at,
          check: 'detectReferencesOutOfOrder',
          message: `{{ ${reference.expression} }}: step "${step}" ${why}`,
        },
      ]
    : [];
}

// ---------------------------------------------------------------------------------------------------
// Tools

function compensationOf(step: Step, tool: ToolDeclaration | undefined) {
  if (step.compensation === 'auto') return tool?.compensation;
  return step.compensation;
}

export const detectUnknownTools: SemanticCheck = ({ runbook, tools }) => {
  const problems: SemanticProblem[] = [];
  const unknown = (name: string, at: PathSegment[]) => {
    if (tools.get(name)) return;
    problems.push({
      at,
      check: 'detectUnknownTools',
      message: `unknown tool "${name}"${didYouMean(name, tools.names())}`,
    });
  };
  for (const location of stepLocations(runbook)) {
    unknown(location.step.tool, [...location.at, 'tool']);
    if (isPhaseStep(location.step) && location.step.compensation && location.step.compensation !== 'auto') {
      unknown(location.step.compensation.tool, [...location.at, 'compensation', 'tool']);
    }
  }
  return problems;
};

function valueAt(data: unknown, path: PathSegment[]): unknown {
  return lookup(data, path).value;
}

/** Validates literal parameter values against the tool's schema; templated values are checked at run time. */
function parameterProblems(
  tool: ToolDeclaration,
  parameters: Record<string, unknown>,
  at: PathSegment[],
  check: string,
): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const shape = tool.parameters.shape as Record<string, unknown>;
  const literal: Record<string, unknown> = {};
  const templated = new Set<string>();
  for (const [key, value] of Object.entries(parameters)) {
    if (!(key in shape)) {
      problems.push({
        at: [...at, key],
        check,
        message: `tool "${tool.name}" has no parameter "${key}"${didYouMean(key, Object.keys(shape))}; it takes ${Object.keys(shape).join(', ') || 'no parameters'}`,
      });
      continue;
    }
    if (findTemplates(value).references.length > 0) templated.add(key);
    else literal[key] = value;
  }
  const result = tool.parameters.safeParse(literal);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path[0];
      if (typeof key === 'string' && templated.has(key)) continue;
      if (issue.code === 'unrecognized_keys') continue;
      const missing = issue.code === 'invalid_type' && issue.path.length === 1 && !(String(key) in literal);
      problems.push({
        at: [...at, ...(issue.path as PathSegment[])],
        check,
        message: missing
          ? `tool "${tool.name}" needs parameter "${String(key)}"`
          : `tool "${tool.name}": ${describeIssue(issue, valueAt(literal, issue.path as PathSegment[]))}`,
      });
    }
  }
  return problems;
}

export const checkToolParameters: SemanticCheck = ({ runbook, tools }) => {
  const problems: SemanticProblem[] = [];
  for (const location of stepLocations(runbook)) {
    const tool = tools.get(location.step.tool);
    if (tool) {
      problems.push(
        ...parameterProblems(
          tool,
          location.step.parameters,
          [...location.at, 'parameters'],
          'checkToolParameters',
        ),
      );
    }
    const { errors } = findTemplates(location.step.parameters, [...location.at, 'parameters']);
    for (const error of errors)
      problems.push({ at: error.at, check: 'checkToolParameters', message: error.message });
    // A wait compiles to a Step Functions Wait state, whose seconds are fixed in the definition.
    if (
      location.step.tool === 'runbook.wait' &&
      findTemplates(location.step.parameters.seconds).references.length > 0
    ) {
      problems.push({
        at: [...location.at, 'parameters', 'seconds'],
        check: 'checkToolParameters',
        message:
          'runbook.wait takes a number of seconds here, not a template: the wait compiles to a Step Functions Wait state whose seconds are fixed when the runbook is compiled',
      });
    }
    if (!isPhaseStep(location.step)) continue;
    const compensation = location.step.compensation;
    if (compensation && compensation !== 'auto') {
      const compensationTool = tools.get(compensation.tool);
      if (compensationTool) {
        problems.push(
          ...parameterProblems(
            compensationTool,
            compensation.parameters,
            [...location.at, 'compensation', 'parameters'],
            'checkToolParameters',
          ),
        );
      }
    }
  }
  return problems;
};

export const checkCompensations: SemanticCheck = ({ runbook, tools }) => {
  const problems: SemanticProblem[] = [];
  for (const location of stepLocations(runbook)) {
    if (!isPhaseStep(location.step) || !location.step.compensation) continue;
    const tool = tools.get(location.step.tool);
    if (!tool) continue;
    const at = [...location.at, 'compensation'];
    if (!tool.mutating) {
      problems.push({
        at,
        check: 'checkCompensations',
        message: `tool "${tool.name}" changes nothing, so there is nothing to compensate; remove the compensation`,
      });
    } else if (location.step.compensation === 'auto' && !tool.compensation) {
      problems.push({
        at,
        check: 'checkCompensations',
        message: `tool "${tool.name}" declares no inverse, so "auto" has nothing to run; name a tool and parameters`,
      });
    }
    if (location.kind === 'rollback') {
      problems.push({
        at,
        check: 'checkCompensations',
        message: 'rollback steps are not compensated; remove the compensation',
      });
    }
    const compensation = compensationOf(location.step, tool);
    const compensationTool = compensation ? tools.get(compensation.tool) : undefined;
    if (compensationTool && !compensationTool.mutating) {
      problems.push({
        at,
        check: 'checkCompensations',
        message: `compensation tool "${compensationTool.name}" changes nothing; a compensation must undo the step`,
      });
    }
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------
// Safety

function approvalCovers(runbook: Runbook, phaseId: string, step: Step, environment: string): boolean {
  const phaseRisk =
    runbook.phases.find((phase) => phase.id === phaseId)?.steps.map((candidate) => candidate.risk) ?? [];
  return runbook.approvalRequirements.some((requirement) => {
    if (requirement.environments && !requirement.environments.includes(environment)) return false;
    const risk = requirement.steps.includes(step.id)
      ? step.risk
      : requirement.phases.includes(phaseId)
        ? phaseRisk.reduce<RiskLevel>(
            (max, candidate) => (RISK_RANK[candidate] > RISK_RANK[max] ? candidate : max),
            'low',
          )
        : undefined;
    if (!risk) return false;
    return !requirement.minRisk || RISK_RANK[risk] >= RISK_RANK[requirement.minRisk];
  });
}

export const checkMutatingStepSafety: SemanticCheck = ({ runbook, tools, policies }) => {
  const problems: SemanticProblem[] = [];
  for (const location of stepLocations(runbook)) {
    const tool = tools.get(location.step.tool);
    if (!tool) continue;
    const at = location.at;
    if (!isPhaseStep(location.step)) {
      if (tool.mutating) {
        problems.push({
          at: [...at, 'tool'],
          check: 'checkMutatingStepSafety',
          message: `tool "${tool.name}" changes the system; ${location.kind === 'prerequisite' ? 'prerequisite checks' : 'success checks'} must be read-only`,
        });
      }
      continue;
    }
    const step = location.step;
    if (RISK_RANK[step.risk] < RISK_RANK[tool.risk]) {
      problems.push({
        at: [...at, 'risk'],
        check: 'checkMutatingStepSafety',
        message: `risk "${step.risk}" is below the risk of tool "${tool.name}" ("${tool.risk}"); declare at least "${tool.risk}"`,
      });
    }
    if (!tool.mutating) continue;
    if (step.type === 'diagnostic' || step.type === 'verification') {
      problems.push({
        at: [...at, 'type'],
        check: 'checkMutatingStepSafety',
        message: `a ${step.type} step runs read-only, but tool "${tool.name}" changes the system; make it a remediation step`,
      });
    }
    if (location.kind !== 'phase') continue;
    for (const environment of runbook.environmentConstraints.environments) {
      const policy: EnvironmentPolicy = policyFor(policies, environment);
      const approved = approvalCovers(runbook, location.phaseId!, step, environment);
      const threshold = policy.approval.requiredFromRisk;
      if (threshold !== 'never' && RISK_RANK[step.risk] >= RISK_RANK[threshold] && !approved) {
        problems.push({
          at,
          check: 'checkMutatingStepSafety',
          message: `step "${step.id}" (risk ${step.risk}) changes the system in "${environment}", where policy requires approval from risk ${threshold}; cover it with an approvalRequirements entry for "${environment}"`,
        });
      } else if (policy.mutatingSteps === 'compensation-or-approval' && !step.compensation && !approved) {
        problems.push({
          at,
          check: 'checkMutatingStepSafety',
          message: `step "${step.id}" changes the system in "${environment}" with neither a compensation nor an approval; policy requires one (add compensation, or an approvalRequirements entry)`,
        });
      }
    }
  }
  return problems;
};

export const checkTimeouts: SemanticCheck = ({ runbook, tools }) => {
  const problems: SemanticProblem[] = [];
  for (const location of stepLocations(runbook)) {
    const step = location.step;
    if (step.timeout > LAMBDA_MAX_SECONDS) {
      problems.push({
        at: [...location.at, 'timeout'],
        check: 'checkTimeouts',
        message: `timeout ${step.timeout}s exceeds the 15m a step can run (AWS Lambda's limit); split the step`,
      });
    }
    if (isPhaseStep(step)) {
      if (step.expectedDuration !== undefined && step.expectedDuration > step.timeout) {
        problems.push({
          at: [...location.at, 'expectedDuration'],
          check: 'checkTimeouts',
          message: `expectedDuration ${step.expectedDuration}s is longer than timeout ${step.timeout}s; the step would always time out`,
        });
      }
      const compensation = compensationOf(step, tools.get(step.tool));
      if (
        compensation &&
        'timeout' in compensation &&
        (compensation.timeout as number) > LAMBDA_MAX_SECONDS
      ) {
        problems.push({
          at: [...location.at, 'compensation', 'timeout'],
          check: 'checkTimeouts',
          message: `compensation timeout exceeds the 15m a step can run`,
        });
      }
    }
  }
  return problems;
};

export const checkApprovalRequirements: SemanticCheck = ({ runbook }) => {
  const problems: SemanticProblem[] = [];
  runbook.approvalRequirements.forEach((requirement, index) => {
    if (requirement.environments) {
      requirement.environments.forEach((environment, environmentIndex) => {
        if (!runbook.environmentConstraints.environments.includes(environment)) {
          problems.push({
            at: ['approvalRequirements', index, 'environments', environmentIndex],
            check: 'checkApprovalRequirements',
            message: `environment "${environment}" is not in environmentConstraints.environments (${runbook.environmentConstraints.environments.join(', ')})`,
          });
        }
      });
    }
    for (const stepId of requirement.steps) {
      const phase = runbook.phases.find((candidate) => candidate.steps.some((step) => step.id === stepId));
      if (phase?.mode === 'parallel') {
        problems.push({
          at: ['approvalRequirements', index, 'steps'],
          check: 'checkApprovalRequirements',
          message: `step "${stepId}" runs in parallel group "${phase.id}"; ask before the whole phase (phases: [${phase.id}])`,
        });
      }
    }
    for (const [kind, targets] of [
      ['phase', requirement.phases],
      ['step', requirement.steps],
    ] as const) {
      for (const target of targets) {
        const earlier = runbook.approvalRequirements.slice(0, index).find((other) => {
          if (!(kind === 'phase' ? other.phases : other.steps).includes(target)) return false;
          if (!other.environments || !requirement.environments)
            return !other.environments && !requirement.environments;
          return other.environments.some((environment) => requirement.environments!.includes(environment));
        });
        if (earlier) {
          problems.push({
            at: ['approvalRequirements', index],
            check: 'checkApprovalRequirements',
            message: `requirement "${requirement.id}" and "${earlier.id}" both ask before ${kind} "${target}" in the same environment; only one can apply, so give them distinct environments`,
          });
        }
      }
    }
    if (requirement.quorum > 1 && requirement.approverGroups.length === 0) {
      problems.push({
        at: ['approvalRequirements', index, 'quorum'],
        check: 'checkApprovalRequirements',
        message: 'quorum needs approver groups',
      });
    }
  });
  return problems;
};

export const checkPhases: SemanticCheck = ({ runbook }) => {
  const problems: SemanticProblem[] = [];
  runbook.phases.forEach((phase, index) => {
    if (phase.maxConcurrency !== undefined && phase.mode !== 'parallel') {
      problems.push({
        at: ['phases', index, 'maxConcurrency'],
        check: 'checkPhases',
        message: 'maxConcurrency applies to parallel phases only; set mode: parallel or remove it',
      });
    }
  });
  return problems;
};

/** The tool whose steps compile to a Wait state (the compiler's WAIT_TOOL; not importable from here). */
const WAIT_STEP_TOOL = 'runbook.wait';

/**
 * `reorderable` and `stopWhen`: only read-only diagnostics may be run in a measured order or skipped
 * once the finding is decisive, and nothing in the phase may depend on the declared order.
 */
export const checkReorderablePhases: SemanticCheck = ({ runbook, tools, graph }) => {
  const problems: SemanticProblem[] = [];
  const byId = new Map(stepLocations(runbook).map((location) => [location.step.id, location]));
  runbook.phases.forEach((phase, index) => {
    const at: PathSegment[] = ['phases', index];
    if (phase.stopWhen && !phase.reorderable)
      problems.push({
        at: [...at, 'stopWhen'],
        check: 'checkReorderablePhases',
        message: `stopWhen skips the rest of phase "${phase.id}", which only read-only diagnostics may be: declare reorderable: true, or remove stopWhen`,
      });
    if (phase.stopWhen && phase.mode === 'parallel')
      problems.push({
        at: [...at, 'stopWhen'],
        check: 'checkReorderablePhases',
        message: `stopWhen applies to sequential phases only: the lanes of parallel group "${phase.id}" cannot see each other's findings; set mode: sequential or remove stopWhen`,
      });
    if (!phase.reorderable) return;
    const own = new Set(phase.steps.map((step) => step.id));
    phase.steps.forEach((step, stepIndex) => {
      const stepAt: PathSegment[] = [...at, 'steps', stepIndex];
      const tool = tools.get(step.tool);
      if (tool?.mutating || step.tool === WAIT_STEP_TOOL)
        problems.push({
          at: [...stepAt, 'tool'],
          check: 'checkReorderablePhases',
          message: `step "${step.id}" uses tool "${step.tool}", which ${tool?.mutating ? 'changes the system' : 'waits'}; a reorderable phase holds read-only diagnostics only: move the step to another phase or remove reorderable`,
        });
      if (step.type !== 'diagnostic' && step.type !== 'verification')
        problems.push({
          at: [...stepAt, 'type'],
          check: 'checkReorderablePhases',
          message: `step "${step.id}" is a ${step.type} step; a reorderable phase holds diagnostic and verification steps only: move it to another phase or remove reorderable`,
        });
      for (const reference of findTemplates(step.parameters, [...stepAt, 'parameters']).references) {
        const read = reference.segments[0] === 'steps' ? reference.segments[1] : undefined;
        if (typeof read === 'string' && own.has(read))
          problems.push({
            at: reference.at,
            check: 'checkReorderablePhases',
            message: `{{ ${reference.expression} }}: step "${read}" is in the same reorderable phase "${phase.id}", so it may run after this step; move one of them to another phase or remove reorderable`,
          });
      }
    });
    runbook.approvalRequirements.forEach((requirement, requirementIndex) => {
      requirement.steps.forEach((stepId, stepIndex) => {
        if (own.has(stepId))
          problems.push({
            at: ['approvalRequirements', requirementIndex, 'steps', stepIndex],
            check: 'checkReorderablePhases',
            message: `step "${stepId}" is in reorderable phase "${phase.id}", whose order is chosen at run time; ask before the whole phase (phases: [${phase.id}])`,
          });
      });
    });
    if (!phase.stopWhen) return;
    const before = precedingPhases(graph, phase.id);
    const facts = conditionFacts(phase.stopWhen, [...at, 'stopWhen']);
    let readsOwn = false;
    for (const { fact, at: factAt } of facts) {
      const stepId = factStep(fact);
      if (!stepId) continue;
      const target = byId.get(stepId);
      if (own.has(stepId)) readsOwn = true;
      else if (!target)
        problems.push({
          at: factAt,
          check: 'checkReorderablePhases',
          message: `${fact}: no step "${stepId}"${didYouMean(stepId, [...own])}`,
        });
      else if (target.kind !== 'prerequisite' && (target.kind !== 'phase' || !before.has(target.phaseId!)))
        problems.push({
          at: factAt,
          check: 'checkReorderablePhases',
          message: `${fact}: step "${stepId}" does not run before phase "${phase.id}" on every path`,
        });
    }
    if (!readsOwn)
      problems.push({
        at: [...at, 'stopWhen'],
        check: 'checkReorderablePhases',
        message: `stopWhen reads no step of phase "${phase.id}" (steps.<id>.output…), so it cannot change while the phase runs; name the finding of one of its steps (${[...own].join(', ')})`,
      });
  });
  return problems;
};

export const checkOptimizationTargets: SemanticCheck = ({ runbook }) => {
  const { mttr, baselineMttr } = runbook.optimizationTargets;
  if (mttr === undefined || baselineMttr === undefined || mttr < baselineMttr) return [];
  return [
    {
      at: ['optimizationTargets', 'mttr'],
      check: 'checkOptimizationTargets',
      message: `the mttr target (${formatDuration(mttr)}) is not below baselineMttr (${formatDuration(baselineMttr)}, recovery by hand): a runbook should recover faster than a human does; lower the target or correct the baseline`,
    },
  ];
};

export const checkApplicabilityRules: SemanticCheck = ({ runbook }) => [
  ...(runbook.applicabilityRules.length === 0 &&
  (runbook.answers?.alerts.length ?? 0) + (runbook.answers?.runbookUrls.length ?? 0) === 0
    ? [
        {
          at: ['applicabilityRules'],
          check: 'checkApplicabilityRules',
          message:
            'no alert would select this runbook: add an applicability rule, or list the alerts it answers under answers.alerts',
        },
      ]
    : []),
  ...runbook.applicabilityRules.flatMap((rule, index) =>
    validateEventPattern(rule.pattern).map((problem) => ({
      at: ['applicabilityRules', index, 'pattern', ...splitPatternPath(problem.path)],
      check: 'checkApplicabilityRules',
      message: problem.message,
    })),
  ),
];

/**
 * A tool that runs only on the embedded platform (the local shell) cannot run where an AWS environment
 * deploys the runbook: every environment of cdk.json is one unless its policy says `runsOn: embedded`. Synth refuses it too; validate says so first.
 */
export const checkToolRuntimes: SemanticCheck = ({ runbook, tools, policies }) => {
  const deployed = runbook.environmentConstraints.environments.filter(
    (environment) => Object.hasOwn(policies, environment) && policies[environment]!.runsOn === 'aws',
  );
  if (deployed.length === 0) return [];
  const problems: SemanticProblem[] = [];
  const check = (name: string, at: PathSegment[]) => {
    const runtimes = tools.get(name)?.runtimes;
    if (!runtimes || runtimes.includes('aws')) return;
    problems.push({
      at,
      check: 'checkToolRuntimes',
      message: `tool "${name}" runs on the embedded platform only, and environment${deployed.length > 1 ? 's' : ''} ${deployed.map((environment) => `"${environment}"`).join(', ')} deploy${deployed.length > 1 ? '' : 's'} this runbook to AWS; use another tool, keep those environments out of environmentConstraints.environments, or run the runbook in an environment whose policy says runsOn: embedded`,
    });
  };
  for (const location of stepLocations(runbook)) {
    check(location.step.tool, [...location.at, 'tool']);
    const compensation = isPhaseStep(location.step) ? location.step.compensation : undefined;
    if (compensation && compensation !== 'auto')
      check(compensation.tool, [...location.at, 'compensation', 'tool']);
  }
  return problems;
};

/** `resource` is the id the resolution step records under. */
export const checkReservedIds: SemanticCheck = ({ runbook }) =>
  stepLocations(runbook)
    .filter((location) => location.step.id === RESOLVE_STEP_ID)
    .map((location) => ({
      at: [...location.at, 'id'],
      check: 'checkReservedIds',
      message: `step id "${RESOLVE_STEP_ID}" is reserved for the resolution of the alert's resource ({{ resource.… }}); rename the step`,
    }));

function splitPatternPath(path: string): PathSegment[] {
  if (path === '') return [];
  const segments: PathSegment[] = [];
  for (const part of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    segments.push(part[2] !== undefined ? Number(part[2]) : part[1]!);
  return segments;
}

/** The named semantic checks, in the order they run. */
export const SEMANTIC_CHECKS: ReadonlyArray<SemanticCheck> = [
  detectDuplicateIds,
  detectUndefinedReferences,
  detectAmbiguousFlow,
  detectUnreachableSteps,
  detectBranchCycles,
  detectReferencesOutOfOrder,
  detectUnknownTools,
  checkToolParameters,
  checkCompensations,
  checkMutatingStepSafety,
  checkTimeouts,
  checkApprovalRequirements,
  checkPhases,
  checkReorderablePhases,
  checkApplicabilityRules,
  checkOptimizationTargets,
  checkReferencePaths,
  checkPromql,
  checkReservedIds,
  checkToolRuntimes,
  checkBlastRadius,
  checkHealthWatches,
];

export function runSemanticChecks(
  runbook: Runbook,
  tools: ToolCatalog,
  policies: PolicySet,
): SemanticProblem[] {
  const context: CheckContext = { runbook, tools, policies, graph: buildPhaseGraph(runbook) };
  return SEMANTIC_CHECKS.flatMap((check) => check(context));
}

export type { CompensationSpec, StepLocation };
export { ancestorPhases, compensationOf, stepLocations };

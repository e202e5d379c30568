import { BudgetExceededError } from '../errors.ts';
import { type State, type StateMachineDefinition, transitions } from './asl.ts';

/** Step Functions quotas (Standard workflows). */
export const STEP_FUNCTIONS_LIMITS = {
  definitionBytes: 1_048_576,
  historyEvents: 25_000,
  payloadBytes: 262_144,
} as const;

/** The normalizer trims an alert to this before it enters an execution. */
export const ALERT_BUDGET_BYTES = 32_768;
/** Output a step keeps in the state when a later condition reads it. */
export const DEFAULT_OUTPUT_BUDGET_BYTES = 4_096;
export const MIN_OUTPUT_BUDGET_BYTES = 256;
/** Bytes of state that are not step outputs: execution facts, verification, escalation, a failure. */
const FIXED_STATE_BYTES = 16_384;
const PER_APPROVAL_BYTES = 1_024;
const PER_LANE_STATUS_BYTES = 96;
/** A deployed Lambda ARN (function names are at most 64 characters) is longer than its placeholder. */
const DEPLOYED_ARN_BYTES = 120;

export interface BudgetReport {
  definitionBytes: number;
  historyEvents: number;
  /** Worst-case execution state: alert, facts, step outputs read by conditions, approvals, errors. */
  payloadBytes: number;
  outputBudgetBytes: number;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

/**
 * The bytes each exported step may keep in the execution state so the worst-case state fits 256 KB.
 * Throws when even the minimum does not fit.
 */
export function outputBudget(shape: {
  runbookId: string;
  exportedSteps: number;
  /** A Parallel's raw output (one status per lane) exists only until its ResultSelector trims it. */
  maxParallelLanes: number;
  approvals: number;
  /** Bytes the resolution step keeps at $.resolved (0 without one). */
  resolvedBytes?: number;
}): { perStepBytes: number; worstCaseStateBytes: number } {
  const fixed =
    ALERT_BUDGET_BYTES +
    (shape.resolvedBytes ?? 0) +
    FIXED_STATE_BYTES +
    shape.approvals * PER_APPROVAL_BYTES +
    shape.maxParallelLanes * PER_LANE_STATUS_BYTES;
  const available = STEP_FUNCTIONS_LIMITS.payloadBytes - fixed;
  if (shape.exportedSteps === 0 && available >= 0)
    return { perStepBytes: DEFAULT_OUTPUT_BUDGET_BYTES, worstCaseStateBytes: fixed };
  const perStep = Math.min(
    DEFAULT_OUTPUT_BUDGET_BYTES,
    Math.floor(available / Math.max(1, shape.exportedSteps)),
  );
  if (perStep < MIN_OUTPUT_BUDGET_BYTES) {
    const needed = fixed + shape.exportedSteps * MIN_OUTPUT_BUDGET_BYTES;
    throw new BudgetExceededError(
      'payload',
      STEP_FUNCTIONS_LIMITS.payloadBytes,
      needed,
      `runbook ${shape.runbookId}: the execution state would need ${kb(needed)}, over the 256 KB payload limit by ${kb(
        needed - STEP_FUNCTIONS_LIMITS.payloadBytes,
      )} (${shape.exportedSteps} step outputs read by conditions at ${MIN_OUTPUT_BUDGET_BYTES} bytes each, ${shape.approvals} approvals, ${shape.maxParallelLanes} parallel lanes); read fewer step outputs in conditions`,
    );
  }
  return { perStepBytes: perStep, worstCaseStateBytes: fixed + perStep * shape.exportedSteps };
}

/** Size of the definition as deployed (placeholders replaced by ARNs), compact JSON. */
export function definitionBytes(definition: StateMachineDefinition): number {
  const compact = JSON.stringify(definition);
  const placeholders = compact.match(/\$\{[A-Za-z0-9]+\}/g) ?? [];
  const placeholderBytes = placeholders.reduce((sum, placeholder) => sum + placeholder.length, 0);
  return Buffer.byteLength(compact) - placeholderBytes + placeholders.length * DEPLOYED_ARN_BYTES;
}

function isCallback(state: State): boolean {
  return state.Type === 'Task' && state.Resource.startsWith('arn:aws:states:::');
}

/** History events one visit of a state can write, every retry exhausted. */
function stateEvents(state: State, branchEvents: (definition: StateMachineDefinition) => number): number {
  switch (state.Type) {
    case 'Task': {
      // Entered, Scheduled, Started, (Submitted), Succeeded|Failed, Exited; a retry adds Failed, Scheduled, Started.
      const perAttempt = isCallback(state) ? 4 : 3;
      const retries = (state.Retry ?? []).reduce((sum, retrier) => sum + (retrier.MaxAttempts ?? 3), 0);
      return (isCallback(state) ? 6 : 5) + retries * perAttempt;
    }
    case 'Map': {
      // Runbook machines map one queue per lane (MaxConcurrency items) over one dispatcher: every Task
      // runs in one lane only, and each further lane passes its Choice and Pass states once more.
      const items = state.MaxConcurrency ?? 1;
      const passing = Object.values(state.ItemProcessor.States).filter(
        (inner) => inner.Type !== 'Task',
      ).length;
      const once = 4 + items * 2 + branchEvents(state.ItemProcessor) + (items - 1) * 2 * passing;
      const retries = (state.Retry ?? []).reduce((sum, retrier) => sum + (retrier.MaxAttempts ?? 3), 0);
      return once * (1 + retries);
    }
    case 'Parallel': {
      const once = 4 + state.Branches.reduce((sum, branch) => sum + branchEvents(branch), 0);
      const retries = (state.Retry ?? []).reduce((sum, retrier) => sum + (retrier.MaxAttempts ?? 3), 0);
      return once * (1 + retries);
    }
    default:
      return 2;
  }
}

/**
 * Loops in compiled machines are dispatchers (reorderable phases): every Task in a loop runs at most
 * once per pass through the phase, and the loop's Choice and Pass states once more than its Tasks. A
 * loop is costed as all of that; any other loop is a compiler bug.
 */
function loopsOf(machine: StateMachineDefinition): Map<string, string[]> {
  // Tarjan's strongly connected components, iterative enough for machines of a few thousand states.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const component = new Map<string, string[]>();
  let counter = 0;
  const strongConnect = (name: string): void => {
    index.set(name, counter);
    low.set(name, counter);
    counter++;
    stack.push(name);
    onStack.add(name);
    const state = machine.States[name];
    if (!state) throw new Error(`state "${name}" is referenced but not defined`);
    for (const next of transitions(state)) {
      if (!index.has(next)) {
        strongConnect(next);
        low.set(name, Math.min(low.get(name)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(name, Math.min(low.get(name)!, index.get(next)!));
    }
    if (low.get(name) !== index.get(name)) return;
    const members: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      members.push(member);
    } while (member !== name);
    const looped = members.length > 1 || transitions(machine.States[name]!).includes(name);
    if (looped) for (const each of members) component.set(each, members);
  };
  for (const name of Object.keys(machine.States)) if (!index.has(name)) strongConnect(name);
  return component;
}

/**
 * Upper bound of the history events one execution can write: the longest path through the machine
 * (Next, Choices, Default and Catch edges), every state's retries exhausted, plus start and end.
 */
export function worstCaseHistoryEvents(definition: StateMachineDefinition): number {
  const longest = (machine: StateMachineDefinition): number => {
    const loops = loopsOf(machine);
    const memo = new Map<string, number>();
    const visiting = new Set<string>();
    const loopCost = (members: readonly string[]): number => {
      const tasks = members.filter((member) => machine.States[member]!.Type === 'Task').length;
      if (tasks === 0)
        throw new Error(
          `states ${members.join(', ')} loop without a Task: a compiled machine must not cycle`,
        );
      return members.reduce((sum, member) => {
        const state = machine.States[member]!;
        const own = stateEvents(state, longest);
        return sum + (state.Type === 'Task' || state.Type === 'Parallel' ? own : own * (tasks + 1));
      }, 0);
    };
    const visit = (name: string): number => {
      const cached = memo.get(name);
      if (cached !== undefined) return cached;
      const state = machine.States[name];
      if (!state) throw new Error(`state "${name}" is referenced but not defined`);
      if (visiting.has(name)) throw new Error(`state "${name}" is part of a cycle`);
      visiting.add(name);
      const loop = loops.get(name);
      let total: number;
      if (loop) {
        // The whole loop, then the longest way out of it.
        const exits = loop.flatMap((member) =>
          transitions(machine.States[member]!).filter((next) => !loop.includes(next)),
        );
        for (const member of loop) visiting.add(member);
        total = loopCost(loop) + Math.max(0, ...exits.map(visit));
        for (const member of loop) {
          visiting.delete(member);
          memo.set(member, total);
        }
      } else {
        const own = stateEvents(state, longest);
        total = own + Math.max(0, ...transitions(state).map(visit));
      }
      visiting.delete(name);
      memo.set(name, total);
      return total;
    };
    return visit(machine.StartAt);
  };
  return 2 + longest(definition);
}

/** Checks a compiled definition against every budget; throws the first exceeded one with by how much. */
export function checkBudgets(
  definition: StateMachineDefinition,
  runbookId: string,
  payload: { perStepBytes: number; worstCaseStateBytes: number },
): BudgetReport {
  const report: BudgetReport = {
    definitionBytes: definitionBytes(definition),
    historyEvents: worstCaseHistoryEvents(definition),
    payloadBytes: payload.worstCaseStateBytes,
    outputBudgetBytes: payload.perStepBytes,
  };
  if (report.definitionBytes > STEP_FUNCTIONS_LIMITS.definitionBytes) {
    throw new BudgetExceededError(
      'definition',
      STEP_FUNCTIONS_LIMITS.definitionBytes,
      report.definitionBytes,
      `runbook ${runbookId}: the compiled definition is ${kb(report.definitionBytes)}, over the 1 MB Step Functions limit by ${kb(
        report.definitionBytes - STEP_FUNCTIONS_LIMITS.definitionBytes,
      )}; split the runbook or trim step parameters`,
    );
  }
  if (report.historyEvents > STEP_FUNCTIONS_LIMITS.historyEvents) {
    throw new BudgetExceededError(
      'history',
      STEP_FUNCTIONS_LIMITS.historyEvents,
      report.historyEvents,
      `runbook ${runbookId}: a worst-case execution writes ${report.historyEvents} history events, over the 25,000 limit by ${
        report.historyEvents - STEP_FUNCTIONS_LIMITS.historyEvents
      }; lower retry maxAttempts or split the runbook`,
    );
  }
  return report;
}

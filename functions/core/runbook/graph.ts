import { BRANCH_END, BRANCH_ESCALATE, type Runbook } from './model.ts';

/**
 * The flow between phases: list order, `next`, and conditional branches. Terminals are `end`
 * (on to verification) and `escalate` (hand to a human).
 */
export interface PhaseGraph {
  start: string | undefined;
  /** Phase ids in the order the runbook lists them. */
  phases: string[];
  successors: Map<string, string[]>;
}

export const TERMINALS: ReadonlySet<string> = new Set([BRANCH_END, BRANCH_ESCALATE]);

/** Builds the phase graph. Undefined targets are kept as edges; the reference check reports them. */
export function buildPhaseGraph(runbook: Pick<Runbook, 'phases' | 'conditionalBranching'>): PhaseGraph {
  const phases = runbook.phases.map((phase) => phase.id);
  const successors = new Map<string, string[]>();
  runbook.phases.forEach((phase, index) => {
    const branch = runbook.conditionalBranching.find((candidate) => candidate.after === phase.id);
    let next: string[];
    if (branch) next = [...branch.rules.map((rule) => rule.goto), branch.default];
    else if (phase.next) next = [phase.next];
    else next = [phases[index + 1] ?? BRANCH_END];
    successors.set(phase.id, [...new Set(next)]);
  });
  return { start: phases[0], phases, successors };
}

/** Phases reachable from the start, optionally pretending `removed` is not there. */
export function reachablePhases(graph: PhaseGraph, removed?: string): Set<string> {
  const seen = new Set<string>();
  const stack = graph.start && graph.start !== removed ? [graph.start] : [];
  while (stack.length > 0) {
    const current = stack.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    for (const next of graph.successors.get(current) ?? []) {
      if (next !== removed && !seen.has(next)) stack.push(next);
    }
  }
  return seen;
}

/** Every cycle's phase ids in flow order (each cycle reported once, starting at its first-listed phase). */
export function findCycles(graph: PhaseGraph): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const seenCycles = new Set<string>();
  const visit = (phase: string) => {
    state.set(phase, 'visiting');
    stack.push(phase);
    for (const next of graph.successors.get(phase) ?? []) {
      if (!graph.successors.has(next)) continue;
      if (state.get(next) === 'visiting') {
        const cycle = stack.slice(stack.indexOf(next));
        const first = cycle.reduce((a, b) => (graph.phases.indexOf(a) <= graph.phases.indexOf(b) ? a : b));
        const rotated = [...cycle.slice(cycle.indexOf(first)), ...cycle.slice(0, cycle.indexOf(first))];
        const key = rotated.join('>');
        if (!seenCycles.has(key)) {
          seenCycles.add(key);
          cycles.push(rotated);
        }
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(phase, 'done');
  };
  for (const phase of graph.phases) if (!state.has(phase)) visit(phase);
  return cycles;
}

/**
 * For each reachable phase, the phases that run before it on every path (its strict dominators).
 * A step may only reference outputs of steps in these phases (or earlier in its own sequential phase).
 */
export function dominators(graph: PhaseGraph): Map<string, Set<string>> {
  const reachable = reachablePhases(graph);
  const result = new Map<string, Set<string>>();
  for (const phase of reachable) result.set(phase, new Set());
  for (const candidate of reachable) {
    const without = reachablePhases(graph, candidate);
    for (const phase of reachable) {
      if (phase !== candidate && !without.has(phase)) result.get(phase)!.add(candidate);
    }
  }
  return result;
}

/**
 * Phases in an order where every phase comes after all phases that can run before it (the graph must
 * be acyclic); ties keep the runbook's list order. The compensation chain runs this order backwards.
 */
export function topologicalPhases(graph: PhaseGraph): string[] {
  const indegree = new Map(graph.phases.map((phase) => [phase, 0]));
  for (const [, nexts] of graph.successors) {
    for (const next of nexts) if (indegree.has(next)) indegree.set(next, indegree.get(next)! + 1);
  }
  const ready = graph.phases.filter((phase) => indegree.get(phase) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => graph.phases.indexOf(a) - graph.phases.indexOf(b));
    const phase = ready.shift()!;
    order.push(phase);
    for (const next of graph.successors.get(phase) ?? []) {
      if (!indegree.has(next)) continue;
      indegree.set(next, indegree.get(next)! - 1);
      if (indegree.get(next) === 0) ready.push(next);
    }
  }
  return order;
}

/** Phases that may have run before `phase` on some path (its ancestors). */
export function ancestorPhases(graph: PhaseGraph, phase: string): Set<string> {
  const predecessors = new Map<string, string[]>();
  for (const [from, nexts] of graph.successors) {
    for (const next of nexts) predecessors.set(next, [...(predecessors.get(next) ?? []), from]);
  }
  const seen = new Set<string>();
  const stack = [...(predecessors.get(phase) ?? [])];
  while (stack.length > 0) {
    const current = stack.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    stack.push(...(predecessors.get(current) ?? []));
  }
  return seen;
}

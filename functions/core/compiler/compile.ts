import { AslErrorName, LAMBDA_TRANSIENT_ERRORS } from '../errors.ts';
import {
  type ApprovalSpec,
  type CompensationSpecPayload,
  type StepSpec,
  Substitution,
  stateKey,
  TaskKind,
  WAIT_FOR_TASK_TOKEN_RESOURCE,
  type WatchSignal,
  type WatchSpec,
} from '../execution-contract.ts';
import { ORDER_DONE, planStepOrder } from '../learning/step-order.ts';
import { compiledLimit } from '../limits/blast-radius.ts';
import { maxRisk, RISK_RANK, type RiskLevel } from '../policy.ts';
import { ancestorPhases, compensationOf } from '../runbook/checks.ts';
import { buildPhaseGraph, type PhaseGraph, topologicalPhases } from '../runbook/graph.ts';
import {
  type ApprovalRequirement,
  BRANCH_END,
  BRANCH_ESCALATE,
  type Check,
  effectiveOnFailure,
  type Phase,
  RESOLVE_STEP_ID,
  type RetryPolicy,
  type Runbook,
  type Step,
} from '../runbook/model.ts';
import { referenceSites } from '../runbook/reference-checks.ts';
import type { ToolCatalog } from '../tool-catalog.ts';
import type {
  Catcher,
  ChoiceRule,
  JsonObject,
  JsonValue,
  MapState,
  ParallelState,
  Retrier,
  State,
  StateMachineDefinition,
  TaskState,
} from './asl.ts';
import { type BudgetReport, checkBudgets, outputBudget } from './budgets.ts';
import { compileCondition, conditionSteps, RESOLVED_PATH } from './conditions.ts';

/** How long a checkpoint may hold a paused execution before it fails into rollback and escalation. */
export const CHECKPOINT_HOLD_SECONDS = 86_400;
/** Seconds the runner gets beyond a step's own timeout to report Runbook.StepTimeout itself. */
export const TASK_TIMEOUT_MARGIN_SECONDS = 15;
/** The tool of the resolution step, and its limits: a handful of reads, an output that stays in the state. */
export const RESOLVE_TOOL = 'resource.resolve';
const RESOLVE_TIMEOUT_SECONDS = 60;
export const RESOLVED_BUDGET_BYTES = 16_384;

/** Does the runbook read the resolved resource or its parameters anywhere? */
export function needsResolution(runbook: Runbook): boolean {
  if (Object.keys(runbook.parameters).length > 0) return true;
  return referenceSites(runbook).some((site) => {
    const root = site.segments[0];
    if (site.compensates && (root === 'parameters' || root === 'output')) return false;
    return root === 'resource' || root === 'parameters' || root === 'runbook';
  });
}

/** One verify-alert invocation waits at most this long before raising Verification.Pending. */
export const VERIFY_POLL_SECONDS = 60;

const arn = (substitution: Substitution) => `\${${substitution}}`;

/** State names: step ids are kebab-case, structural states are capitalized, so they never collide. */
export const StateName = {
  checkpoint: (target: string) => `Checkpoint: ${target}`,
  approvalGate: (target: string) => `Needs approval: ${target}`,
  approval: (target: string, index: number, count: number) =>
    count > 1 ? `Approval: ${target} #${index + 1}` : `Approval: ${target}`,
  approvalExpired: (target: string) => `Approval expired: ${target}`,
  parallel: (phase: string) => `Parallel: ${phase}`,
  branch: (branch: string) => `Branch: ${branch}`,
  expect: (check: string) => `Expect: ${check}`,
  unmet: (check: string) => `Unmet: ${check}`,
  stepFailed: (step: string) => `Step failed: ${step}`,
  aborted: (step: string) => `Aborted: ${step}`,
  escalationRequested: (source: string) => `Escalation requested: ${source}`,
  wait: (step: string) => `Wait: ${step}`,
  waited: (step: string) => `Waited: ${step}`,
  compensate: (step: string) => `Compensate: ${step}`,
  rollback: (step: string) => `Rollback: ${step}`,
  rollbackOutcome: 'Rollback outcome',
  verifyAlert: 'Verify: alert resolved',
  resolve: 'Resolve: resource',
  orderSteps: (phase: string) => `Order: ${phase}`,
  declaredOrder: (phase: string) => `Declared order: ${phase}`,
  nextStep: (phase: string) => `Next step: ${phase}`,
  advance: (phase: string) => `Advance: ${phase}`,
  stoppedEarly: (phase: string) => `Stopped early: ${phase}`,
  lanes: (phase: string) => `Lanes: ${phase}`,
  laneDone: (phase: string) => `Lane done: ${phase}`,
  escalate: 'Escalate',
  recordSuccess: 'Record success',
  recordFailure: 'Record failure',
  succeeded: 'Succeeded',
  failed: 'Failed',
} as const;

export interface CompileOptions {
  tools: ToolCatalog;
}

export interface CompiledRunbook {
  definition: StateMachineDefinition;
  /** The committed file's text: pretty-printed, deterministic, newline-terminated. */
  text: string;
  budgets: BudgetReport;
}

interface Compensable {
  step: Step;
  phaseId: string;
  index: number;
  order: number;
}

/** Where a failure happens, to find which compensations could have something to undo. */
type FailurePoint =
  /** `self`: the step itself failed, and may have changed something before it did. */
  | { kind: 'step'; phaseId: string; stepIndex: number; self: boolean }
  | { kind: 'before-phase'; phaseId: string }
  | { kind: 'group'; phaseId: string }
  | { kind: 'end' };

/** MaxAttempts 3 and BackoffRate 2.0 are the ASL defaults, left out: every Task carries this (1 MB cap). */
const TRANSIENT_RETRY: Retrier = {
  ErrorEquals: [...LAMBDA_TRANSIENT_ERRORS],
  IntervalSeconds: 2,
  JitterStrategy: 'FULL',
};

function stepRetry(policy: RetryPolicy | undefined): Retrier[] {
  if (!policy || policy.maxAttempts === 0) return [TRANSIENT_RETRY];
  const retrier: Retrier = {
    ErrorEquals: policy.on,
    IntervalSeconds: policy.interval,
    MaxAttempts: policy.maxAttempts,
    BackoffRate: policy.backoffRate,
  };
  if (policy.maxDelay !== undefined) retrier.MaxDelaySeconds = policy.maxDelay;
  return [TRANSIENT_RETRY, retrier];
}

/**
 * States in reading order: depth-first from the start, the main path before choices, choices before
 * catches. The main flow reads top to bottom and the failure region follows it.
 */
function inFlowOrder(states: Record<string, State>, start: string): Record<string, State> {
  const ordered: Record<string, State> = {};
  const stack = [start];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (name in ordered) continue;
    const state = states[name];
    if (!state) throw new Error(`compiler bug: state "${name}" is referenced but was not emitted`);
    ordered[name] = state;
    const next: string[] = [];
    if ('Next' in state && state.Next) next.push(state.Next);
    if (state.Type === 'Choice') {
      for (const choice of state.Choices) if (choice.Next) next.push(choice.Next);
      if (state.Default) next.push(state.Default);
    }
    if ('Catch' in state && state.Catch) for (const catcher of state.Catch) next.push(catcher.Next);
    for (const target of next.reverse()) if (!(target in ordered)) stack.push(target);
  }
  const unreachable = Object.keys(states).filter((name) => !(name in ordered));
  if (unreachable.length > 0) throw new Error(`compiler bug: unreachable states ${unreachable.join(', ')}`);
  return ordered;
}

/** The tool whose steps compile to a Wait state. */
export const WAIT_TOOL = 'runbook.wait';

/**
 * Splits every runbook.wait step's Task into three states: the Task records the wait and returns at
 * once (its retries and catches), a Wait state waits the step's seconds (billed as one transition,
 * however long), and `Waited: <step>` records the end and carries what the step's Task carried (result,
 * catches, next). No Lambda function sleeps.
 */
function splitWaits(
  states: Record<string, State>,
  watchOf: (stepId: string) => WatchSpec | undefined = () => undefined,
): void {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== 'Task' || state.Parameters?.kind !== TaskKind.Step) continue;
    const spec = state.Parameters.step as JsonObject;
    if (spec.waitState !== true) continue;
    const seconds = (spec.parameters as JsonObject).seconds;
    if (typeof seconds !== 'number')
      throw new Error(
        `compiler bug: runbook.wait step "${name}" has no literal seconds (validation refuses templates)`,
      );
    const { Type, Resource, Parameters, TimeoutSeconds, Retry, Catch } = state;
    states[name] = {
      Type,
      Resource,
      Parameters,
      TimeoutSeconds,
      ...(Retry ? { Retry } : {}),
      ...(Catch ? { Catch } : {}),
      ResultPath: null,
      Next: StateName.wait(name),
    };
    states[StateName.wait(name)] = { Type: 'Wait', Seconds: seconds, Next: StateName.waited(name) };
    // After a change, the health signals are read when the wait ends (a Wait state cannot be interrupted).
    const watch = watchOf(name);
    states[StateName.waited(name)] = {
      ...state,
      // The signals are read before the Task answers: their time is the Task's too.
      ...(watch ? { TimeoutSeconds: (TimeoutSeconds ?? 0) + watchReadSeconds(watch) } : {}),
      Parameters: {
        kind: TaskKind.Waited,
        'execution.$': '$.execution',
        step: spec,
        ...(watch ? { 'alert.$': '$.alert', watch: watch as unknown as JsonObject } : {}),
      },
    };
  }
}

/**
 * The lanes' results merged into one object (each step ran in exactly one lane): a balanced tree of
 * States.JsonMerge, so 20 lanes nest 5 deep (Step Functions allows 10).
 */
function mergedLanes(from: number, to: number): string {
  if (to - from === 1) return `$[${from}]`;
  const middle = from + Math.ceil((to - from) / 2);
  return `States.JsonMerge(${mergedLanes(from, middle)}, ${mergedLanes(middle, to)}, false)`;
}

function failureCatch(next: string): Catcher {
  return { ErrorEquals: [AslErrorName.StatesAll], ResultPath: '$.failure', Next: next };
}

/** The longest a task's reading of its watched signals may take (they are read at once). */
export function watchReadSeconds(watch: WatchSpec): number {
  return Math.max(...watch.signals.map((signal) => signal.timeoutSeconds));
}

/** A watched health signal got worse: compensate, whatever the step's onFailure says. */
function healthCatch(next: string): Catcher {
  return { ErrorEquals: [AslErrorName.HealthWorse], ResultPath: '$.failure', Next: next };
}

/**
 * Compiles a validated runbook into a JSONPath ASL definition. Deterministic: the same runbook gives the
 * same bytes. Throws BudgetExceededError when the machine would not fit Step Functions' limits.
 */
export function compileRunbook(runbook: Runbook, options: CompileOptions): CompiledRunbook {
  return new RunbookCompiler(runbook, options.tools).compile();
}

class RunbookCompiler {
  private readonly states: Record<string, State> = {};
  private readonly graph: PhaseGraph;
  private readonly compensables: Compensable[] = [];
  /** Steps whose result later conditions read; they keep status and output in the state. */
  private readonly exported = new Set<string>();
  private readonly resultPaths = new Map<string, string>();
  private readonly phaseById: Map<string, Phase>;
  private payload = { perStepBytes: 0, worstCaseStateBytes: 0 };
  /** The success metrics' watched health signals (successMetrics.checks[].watch). */
  private readonly signals: WatchSignal[];

  constructor(
    private readonly runbook: Runbook,
    private readonly tools: ToolCatalog,
  ) {
    this.graph = buildPhaseGraph(runbook);
    this.phaseById = new Map(runbook.phases.map((phase) => [phase.id, phase]));
    this.signals = runbook.successMetrics.checks.flatMap((check) =>
      check.watch
        ? [
            {
              check: check.id,
              name: check.name,
              tool: check.tool,
              parameters: check.parameters,
              timeoutSeconds: check.timeout,
              fact: check.watch.fact,
              worseWhen: check.watch.worseWhen,
              margin: check.watch.margin,
              everySeconds: check.watch.every,
            },
          ]
        : [],
    );
  }

  /** Every watched signal, for the tasks that read them all (changes, waits, the alert's verification). */
  private watchSpec(): WatchSpec | undefined {
    return this.signals.length > 0 ? { signals: this.signals } : undefined;
  }

  /** Steps of sequential phases by id (their Task states are named by it). */
  private get sequentialSteps(): Map<string, Step> {
    return new Map(
      this.runbook.phases
        .filter((phase) => phase.mode === 'sequential')
        .flatMap((phase) => phase.steps.map((step) => [step.id, step] as const)),
    );
  }

  /**
   * A watched step's catchers: a worse health signal compensates, whatever the step's onFailure says
   * (its own States.ALL catcher already does when onFailure is rollback).
   */
  private withHealth(step: Step, catches: Catcher[], point: FailurePoint): Catcher[] {
    if (!this.watches(step) || effectiveOnFailure(step) === 'rollback') return catches;
    return [healthCatch(this.rollbackEntry(point)), ...catches];
  }

  /** A change reads the signals before its tool runs (baseline or guard): their time is the Task's too. */
  private watchBeforeChange(task: TaskState): void {
    const watch = this.watchSpec()!;
    (task.Parameters as JsonObject).watch = watch as unknown as JsonObject;
    task.TimeoutSeconds = (task.TimeoutSeconds ?? 0) + watchReadSeconds(watch);
  }

  /** Is this step watched: a change (baseline before the first, guard before later ones) or a wait. */
  private watches(step: Step): boolean {
    return (
      this.signals.length > 0 && (step.tool === WAIT_TOOL || this.tools.get(step.tool)?.mutating === true)
    );
  }

  compile(): CompiledRunbook {
    this.collectExports();
    this.collectCompensables();
    this.payload = outputBudget({
      runbookId: this.runbook.id,
      exportedSteps: this.exported.size,
      maxParallelLanes: Math.max(
        0,
        ...this.runbook.phases
          .filter((phase) => phase.mode === 'parallel')
          .map((phase) => Math.min(phase.maxConcurrency ?? phase.steps.length, phase.steps.length)),
      ),
      resolvedBytes: needsResolution(this.runbook) ? RESOLVED_BUDGET_BYTES : 0,
      approvals: this.runbook.approvalRequirements.reduce(
        (count, requirement) => count + requirement.phases.length + requirement.steps.length,
        0,
      ),
    });

    const start = this.compileResolution(this.compilePrerequisites());
    for (const phase of this.runbook.phases) this.compilePhase(phase);
    for (const branch of this.runbook.conditionalBranching) this.compileBranch(branch.id);
    this.compileVerification();
    this.compileFailureRegion();
    this.compileSuccessRegion();

    splitWaits(this.states, (name) => {
      const step = this.sequentialSteps.get(name);
      return step && step.tool === WAIT_TOOL && this.watches(step) ? this.watchSpec() : undefined;
    });
    const definition: StateMachineDefinition = {
      Comment: `Runbook ${this.runbook.id}@${this.runbook.version}: ${this.runbook.name}. Compiled by runbook-autopilot from runbooks/${this.runbook.id}.yaml; do not edit.`,
      StartAt: start,
      States: inFlowOrder(this.states, start),
    };
    const budgets = checkBudgets(definition, this.runbook.id, this.payload);
    return { definition, text: `${JSON.stringify(definition, null, 2)}\n`, budgets };
  }

  // -------------------------------------------------------------------------------------------------
  // Analysis

  private collectExports(): void {
    for (const branch of this.runbook.conditionalBranching) {
      for (const rule of branch.rules) for (const step of conditionSteps(rule.when)) this.exported.add(step);
    }
    for (const check of [...this.runbook.prerequisiteChecks, ...this.runbook.successMetrics.checks]) {
      if (check.expect) this.exported.add(check.id);
    }
    for (const phase of this.runbook.phases)
      if (phase.stopWhen) for (const step of conditionSteps(phase.stopWhen)) this.exported.add(step);
    for (const check of [...this.runbook.prerequisiteChecks, ...this.runbook.successMetrics.checks]) {
      this.resultPaths.set(check.id, `$.steps.${stateKey(check.id)}`);
    }
    for (const phase of this.runbook.phases) {
      for (const step of phase.steps) {
        this.resultPaths.set(
          step.id,
          phase.mode !== 'parallel'
            ? `$.steps.${stateKey(step.id)}`
            : phase.reorderable
              ? `$.groups.${stateKey(phase.id)}.steps.${stateKey(step.id)}`
              : `$.groups.${stateKey(phase.id)}.${stateKey(step.id)}`,
        );
      }
    }
  }

  private readonly resultPathOf = (stepId: string): string => {
    const path = this.resultPaths.get(stepId);
    if (!path) throw new Error(`no result path for step "${stepId}"`);
    return path;
  };

  private collectCompensables(): void {
    let order = 0;
    for (const phaseId of topologicalPhases(this.graph)) {
      const phase = this.phaseById.get(phaseId)!;
      phase.steps.forEach((step, index) => {
        if (compensationOf(step, this.tools.get(step.tool)))
          this.compensables.push({ step, phaseId, index, order: order++ });
      });
    }
  }

  private readonly ancestorCache = new Map<string, Set<string>>();

  private ancestors(phaseId: string): Set<string> {
    let ancestors = this.ancestorCache.get(phaseId);
    if (!ancestors) {
      ancestors = ancestorPhases(this.graph, phaseId);
      this.ancestorCache.set(phaseId, ancestors);
    }
    return ancestors;
  }

  /** Could the step at (phaseId, index) have completed before a failure at `point`? */
  private mayHaveRun(phaseId: string, index: number, point: FailurePoint): boolean {
    if (point.kind === 'end') return true;
    if (this.ancestors(point.phaseId).has(phaseId)) return true;
    if (phaseId !== point.phaseId) return false;
    if (point.kind === 'group') return true;
    return point.kind === 'step' && (index < point.stepIndex || (point.self && index === point.stepIndex));
  }

  /**
   * Where a failure at `point` rolls back from: the latest compensation that could have something to
   * undo; else the rollback procedures if any mutating step may have run; else straight to the outcome.
   */
  private rollbackEntry(point: FailurePoint): string {
    for (let index = this.compensables.length - 1; index >= 0; index--) {
      const compensable = this.compensables[index]!;
      if (this.mayHaveRun(compensable.phaseId, compensable.index, point))
        return StateName.compensate(compensable.step.id);
    }
    const changedSomething = this.runbook.phases.some((phase) => {
      const first = phase.steps.findIndex((step) => this.tools.get(step.tool)?.mutating);
      return first >= 0 && this.mayHaveRun(phase.id, first, point);
    });
    return changedSomething ? this.rollbackStart() : StateName.rollbackOutcome;
  }

  private rollbackStart(): string {
    const first = this.runbook.rollbackProcedures[0]?.steps[0];
    return first ? StateName.rollback(first.id) : StateName.rollbackOutcome;
  }

  // -------------------------------------------------------------------------------------------------
  // Entries and exits

  private phaseEntry(phaseId: string): string {
    const requirements = this.requirementsFor('phase', phaseId);
    return requirements.length > 0
      ? this.approvalEntry(phaseId, requirements)
      : StateName.checkpoint(phaseId);
  }

  private target(goto: string, source: string, why?: string): string {
    if (goto === BRANCH_END) return this.verificationEntry();
    if (goto === BRANCH_ESCALATE) return this.escalationRequested(source, why);
    return this.phaseEntry(goto);
  }

  private phaseExit(phase: Phase): string {
    const branch = this.runbook.conditionalBranching.find((candidate) => candidate.after === phase.id);
    if (branch) return StateName.branch(branch.id);
    const successors = this.graph.successors.get(phase.id) ?? [BRANCH_END];
    return this.target(successors[0]!, phase.id);
  }

  private verificationEntry(): string {
    if (this.runbook.successMetrics.alertResolved) return StateName.verifyAlert;
    const first = this.runbook.successMetrics.checks[0];
    return first ? first.id : StateName.recordSuccess;
  }

  /** One Pass per rule that escalates, so the escalation says which rule fired. */
  private escalationRequested(source: string, why?: string): string {
    const name = StateName.escalationRequested(source);
    this.states[name] ??= {
      Type: 'Pass',
      Comment: `The runbook hands over to a human at ${source}.`,
      Result: {
        Error: AslErrorName.EscalationRequested,
        Cause: `runbook ${this.runbook.id} asks for a human (${source})${why ? `: ${why}` : ''}`,
      },
      ResultPath: '$.failure',
      Next: StateName.escalate,
    };
    return name;
  }

  // -------------------------------------------------------------------------------------------------
  // Tasks

  /** The step as baked into its Task; fields at their default are left out (definitions are capped at 1 MB). */
  private stepSpec(step: Step | Check, type: StepSpec['type'], phaseId?: string): StepSpec {
    const tool = this.tools.get(step.tool);
    const risk: RiskLevel = 'risk' in step ? step.risk : 'low';
    const outputBudgetBytes = this.exported.has(step.id) ? this.payload.perStepBytes : 0;
    return {
      id: step.id,
      name: step.name,
      ...(phaseId ? { phase: phaseId } : {}),
      type,
      tool: step.tool,
      ...(Object.keys(step.parameters).length > 0 ? { parameters: step.parameters } : {}),
      ...(risk !== 'low' ? { risk } : {}),
      ...(tool?.mutating ? { mutating: true } : {}),
      timeoutSeconds: step.timeout,
      ...(outputBudgetBytes > 0 ? { outputBudgetBytes } : {}),
      ...(step.tool === WAIT_TOOL ? { waitState: true } : {}),
      ...(tool?.mutating && tool.blastRadius && type !== 'rollback'
        ? compiledLimit(this.runbook.safetyLimits.blastRadius, tool.blastRadius.kind)
        : {}),
    } as StepSpec;
  }

  /** A step's Task. No Comment: the step's name travels in its parameters (definitions are capped at 1 MB). */
  private stepTask(spec: StepSpec, retry: RetryPolicy | undefined): TaskState {
    return {
      Type: 'Task',
      Resource: arn(spec.mutating ? Substitution.MutatingRunner : Substitution.ReadOnlyRunner),
      Parameters: {
        kind: TaskKind.Step,
        'execution.$': '$.execution',
        'alert.$': '$.alert',
        step: spec as unknown as JsonObject,
      },
      TimeoutSeconds: spec.timeoutSeconds + TASK_TIMEOUT_MARGIN_SECONDS,
      Retry: stepRetry(retry),
    };
  }

  private checkpoint(target: string, mutating: boolean, next: string, onFailure: string): void {
    this.states[StateName.checkpoint(target)] = {
      Type: 'Task',
      Comment: 'Pause, abort and the kill switch act here.',
      Resource: WAIT_FOR_TASK_TOKEN_RESOURCE,
      Parameters: {
        FunctionName: arn(Substitution.ReadOnlyRunner),
        Payload: {
          kind: TaskKind.Checkpoint,
          'taskToken.$': '$$.Task.Token',
          'execution.$': '$.execution',
          checkpoint: { before: target, mutating },
        },
      },
      TimeoutSeconds: CHECKPOINT_HOLD_SECONDS,
      Retry: [TRANSIENT_RETRY],
      ResultPath: null,
      Catch: [failureCatch(onFailure)],
      Next: next,
    };
  }

  private requirementsFor(kind: 'phase' | 'step', id: string): ApprovalRequirement[] {
    return this.runbook.approvalRequirements.filter((requirement) => {
      const targets = kind === 'phase' ? requirement.phases : requirement.steps;
      if (!targets.includes(id)) return false;
      if (!requirement.minRisk) return true;
      return RISK_RANK[this.targetRisk(kind, id)] >= RISK_RANK[requirement.minRisk];
    });
  }

  private targetSteps(kind: 'phase' | 'step', id: string): Step[] {
    if (kind === 'phase') return this.phaseById.get(id)?.steps ?? [];
    const step = this.runbook.phases.flatMap((phase) => phase.steps).find((candidate) => candidate.id === id);
    return step ? [step] : [];
  }

  private targetRisk(kind: 'phase' | 'step', id: string): RiskLevel {
    return maxRisk(this.targetSteps(kind, id).map((step) => step.risk));
  }

  private approvalEntry(target: string, requirements: ApprovalRequirement[]): string {
    const everywhere = requirements.find((requirement) => !requirement.environments);
    if (everywhere && requirements.length === 1) return StateName.approval(target, 0, 1);
    return StateName.approvalGate(target);
  }

  /** Gate (Choice on environment and policy) -> approval task(s) -> `next`. */
  private compileApproval(
    kind: 'phase' | 'step',
    target: string,
    requirements: ApprovalRequirement[],
    next: string,
    failure: FailurePoint,
  ): void {
    const steps = this.targetSteps(kind, target);
    const risk = this.targetRisk(kind, target);
    const mutating = steps.some((step) => this.tools.get(step.tool)?.mutating);
    const rollback = this.rollbackEntry(failure);
    const expired = StateName.approvalExpired(target);
    requirements.forEach((requirement, index) => {
      const approval: ApprovalSpec = {
        requirement: requirement.id,
        target: { kind, id: target },
        approverGroups: requirement.approverGroups,
        quorum: requirement.quorum,
        timeoutSeconds: requirement.timeout,
        risk,
        plan: steps.map((step) => ({
          id: step.id,
          name: step.name,
          tool: step.tool,
          risk: step.risk,
          parameters: step.parameters,
        })),
      };
      this.states[StateName.approval(target, index, requirements.length)] = {
        Type: 'Task',
        Comment: `Waits for ${requirement.quorum} approval(s) from ${requirement.approverGroups.join(', ')}.`,
        Resource: WAIT_FOR_TASK_TOKEN_RESOURCE,
        Parameters: {
          FunctionName: arn(Substitution.ApprovalRequest),
          Payload: {
            kind: TaskKind.Approval,
            'taskToken.$': '$$.Task.Token',
            'execution.$': '$.execution',
            'alert.$': '$.alert',
            'steps.$': '$.steps',
            'groups.$': '$.groups',
            approval: approval as unknown as JsonObject,
          },
        },
        TimeoutSeconds: requirement.timeout,
        // An e-mail that did not go out is asked again (with a new token, so a new request).
        Retry: [
          TRANSIENT_RETRY,
          { ErrorEquals: ['NotificationError'], IntervalSeconds: 10, MaxAttempts: 3, BackoffRate: 2 },
        ],
        ResultPath: `$.approvals.${stateKey(target)}`,
        Catch: [
          { ErrorEquals: [AslErrorName.StatesTimeout], ResultPath: '$.failure', Next: expired },
          failureCatch(rollback),
        ],
        Next: next,
      };
    });
    this.states[expired] = {
      Type: 'Pass',
      Comment: `No decision on ${target} in time.`,
      Result: {
        Error: AslErrorName.ApprovalExpired,
        Cause: `no approval decision on ${target} within the requirement's timeout`,
      },
      ResultPath: '$.failure',
      Next: rollback,
    };
    const approvalName = (requirement: ApprovalRequirement) =>
      StateName.approval(target, requirements.indexOf(requirement), requirements.length);
    const everywhere = requirements.find((requirement) => !requirement.environments);
    if (everywhere && requirements.length === 1) return;
    // Exact environment matches first, so a rule for another environment never answers for this one.
    const choices: ChoiceRule[] = requirements
      .filter((requirement) => requirement.environments)
      .map((requirement) => {
        const rules: ChoiceRule[] = requirement.environments!.map((environment) => ({
          Variable: '$.execution.environment',
          StringEquals: environment,
        }));
        return { ...(rules.length === 1 ? rules[0]! : { Or: rules }), Next: approvalName(requirement) };
      });
    let otherwise = next;
    if (everywhere) {
      otherwise = approvalName(everywhere);
    } else if (mutating) {
      // An environment no rule names still gets an approval when its policy asks for one at this risk:
      // from the strictest rule.
      const strictest = [...requirements].sort(
        (a, b) => b.quorum - a.quorum || b.approverGroups.length - a.approverGroups.length,
      )[0]!;
      choices.push({
        And: [
          { Variable: '$.execution.approvalRiskThreshold', IsPresent: true },
          { Variable: '$.execution.approvalRiskThreshold', NumericLessThanEquals: RISK_RANK[risk] },
        ],
        Next: approvalName(strictest),
      });
    }
    this.states[StateName.approvalGate(target)] = {
      Type: 'Choice',
      Comment: `Approval for ${target} depends on the environment and its policy (risk ${risk}).`,
      Choices: choices,
      Default: otherwise,
    };
  }

  /**
   * The result handling of a step: exported results (read by later conditions) land in the state;
   * the rest only in the store. `keepStatus` keeps a status where a lane needs an output.
   */
  private withResult(
    task: TaskState,
    stepId: string,
    resultPath: string | null,
    keepStatus = false,
  ): TaskState {
    if (resultPath && this.exported.has(stepId)) {
      task.ResultSelector = { 'status.$': '$.status', 'output.$': '$.output' };
      task.ResultPath = resultPath;
    } else if (resultPath && keepStatus) {
      task.ResultSelector = { 'status.$': '$.status' };
      task.ResultPath = resultPath;
    } else {
      task.ResultPath = null;
    }
    return task;
  }

  // -------------------------------------------------------------------------------------------------
  // Resolution

  /**
   * `Resolve: resource` first, when the runbook reads `{{ resource.… }}` or `{{ parameters.… }}`: the
   * read-only runner asks the APIs what the alert's resource is (a pod's Deployment, a node behind an
   * IP, the ECS service behind a target group) and settles the runbook's parameters (default,
   * environment, tag). The result ({ status, output }) stays in the state at $.resolved, where
   * conditions read it.
   */
  private compileResolution(next: string): string {
    if (!needsResolution(this.runbook)) return next;
    const spec: StepSpec = {
      id: RESOLVE_STEP_ID,
      name: 'Resolve the alert’s resource and the runbook’s parameters',
      type: 'check',
      tool: RESOLVE_TOOL,
      parameters: {
        resource: '{{ alert.resource }}',
        labels: '{{ alert.labels }}',
        runbook: this.runbook.id,
        ...(Object.keys(this.runbook.parameters).length > 0
          ? { parameters: this.runbook.parameters as unknown as JsonObject }
          : {}),
      },
      risk: 'low',
      mutating: false,
      timeoutSeconds: RESOLVE_TIMEOUT_SECONDS,
      outputBudgetBytes: RESOLVED_BUDGET_BYTES,
    };
    const task = this.stepTask(spec, {
      maxAttempts: 2,
      interval: 2,
      backoffRate: 2,
      on: [AslErrorName.ToolFailed, AslErrorName.ToolThrottled],
    });
    // The whole result, no ResultSelector: a missing field must make conditions false, not fail the run.
    task.ResultPath = RESOLVED_PATH;
    task.Catch = [
      { ErrorEquals: [AslErrorName.Aborted], ResultPath: '$.failure', Next: StateName.recordFailure },
      failureCatch(StateName.escalate),
    ];
    task.Next = next;
    this.states[StateName.resolve] = task;
    return StateName.resolve;
  }

  // -------------------------------------------------------------------------------------------------
  // Prerequisites

  private compilePrerequisites(): string {
    const checks = this.runbook.prerequisiteChecks;
    const firstPhase = this.runbook.phases[0]!.id;
    const afterChecks = this.phaseEntry(firstPhase);
    checks.forEach((check, index) => {
      const next = checks[index + 1]?.id ?? afterChecks;
      this.compileCheck(check, 'check', next, {
        failed: StateName.escalate,
        unmetError: AslErrorName.PrerequisiteFailed,
        aborted: StateName.recordFailure,
      });
    });
    return checks[0]?.id ?? afterChecks;
  }

  private compileCheck(
    check: Check,
    type: StepSpec['type'],
    next: string,
    routes: { failed: string; unmetError: string; aborted: string; healthWorse?: string },
  ): void {
    const spec = this.stepSpec(check, type);
    const task = this.withResult(
      this.stepTask(spec, check.retry),
      check.id,
      check.expect ? this.resultPathOf(check.id) : null,
    );
    // A watched success metric also compares its own reading with the baseline before the first change.
    const signal = this.signals.find((candidate) => candidate.check === check.id);
    if (signal && routes.healthWorse)
      (task.Parameters as JsonObject).watch = { signals: [signal] } as unknown as JsonObject;
    task.Catch = [
      { ErrorEquals: [AslErrorName.Aborted], ResultPath: '$.failure', Next: routes.aborted },
      ...(signal && routes.healthWorse ? [healthCatch(routes.healthWorse)] : []),
      failureCatch(routes.failed),
    ];
    if (!check.expect) {
      task.Next = next;
      this.states[check.id] = task;
      return;
    }
    task.Next = StateName.expect(check.id);
    this.states[check.id] = task;
    this.states[StateName.expect(check.id)] = {
      Type: 'Choice',
      Comment: `Is the expectation of ${check.id} met?`,
      Choices: [{ ...compileCondition(check.expect, this.resultPathOf), Next: next }],
      Default: StateName.unmet(check.id),
    };
    this.states[StateName.unmet(check.id)] = {
      Type: 'Pass',
      Result: { Error: routes.unmetError, Cause: `${check.id} (${check.name}): expectation not met` },
      ResultPath: '$.failure',
      Next: routes.failed,
    };
  }

  // -------------------------------------------------------------------------------------------------
  // Phases

  private compilePhase(phase: Phase): void {
    const exit = this.phaseExit(phase);
    const mutating = phase.steps.some((step) => this.tools.get(step.tool)?.mutating);
    const beforePhase = this.rollbackEntry({ kind: 'before-phase', phaseId: phase.id });
    const requirements = this.requirementsFor('phase', phase.id);
    const body = phase.reorderable
      ? this.compileReorderable(phase, exit)
      : phase.mode === 'parallel'
        ? this.compileParallel(phase, exit)
        : this.compileSequential(phase, exit);
    if (requirements.length > 0) {
      this.compileApproval('phase', phase.id, requirements, StateName.checkpoint(phase.id), {
        kind: 'before-phase',
        phaseId: phase.id,
      });
    }
    this.checkpoint(phase.id, mutating, body, beforePhase);
  }

  private stepCatches(
    step: Step,
    point: FailurePoint,
    continueTo: { resultPath: string; next: string } | undefined,
  ): Catcher[] {
    const rollback = this.rollbackEntry(point);
    const aborted: Catcher = { ErrorEquals: [AslErrorName.Aborted], ResultPath: '$.failure', Next: rollback };
    const onFailure = effectiveOnFailure(step);
    if (onFailure === 'continue' && continueTo) {
      return [
        aborted,
        { ErrorEquals: [AslErrorName.StatesAll], ResultPath: continueTo.resultPath, Next: continueTo.next },
      ];
    }
    if (onFailure === 'abort') return [aborted, failureCatch(StateName.escalate)];
    // An abort and a failure both roll back from here: one catcher does.
    return [failureCatch(rollback)];
  }

  /** The kill switch stops forward progress: a refused mutating step hands over to humans, nothing rolls back. */
  private withKillSwitch(catches: Catcher[], mutating: boolean): Catcher[] {
    if (!mutating) return catches;
    return [
      { ErrorEquals: [AslErrorName.KillSwitch], ResultPath: '$.failure', Next: StateName.escalate },
      ...catches,
    ];
  }

  /** A continued failure keeps `{ status: failed, error, cause }` where the step's result would be. */
  private continuedFailure(
    step: Step,
    resultPath: string,
    next: string,
    end: { outputPath?: string } = {},
  ): string {
    const name = StateName.stepFailed(step.id);
    this.states[name] = {
      Type: 'Pass',
      Comment: `${step.id} failed; the runbook continues (onFailure: continue).`,
      InputPath: resultPath,
      Parameters: { status: 'failed', 'error.$': '$.Error', 'cause.$': '$.Cause' },
      ResultPath: resultPath,
      ...(end.outputPath ? { OutputPath: end.outputPath, End: true } : { Next: next }),
    };
    return name;
  }

  private compileSequential(phase: Phase, exit: string): string {
    const names: string[] = [];
    // Build back to front so each step knows what follows it.
    let next = exit;
    for (let index = phase.steps.length - 1; index >= 0; index--) {
      const step = phase.steps[index]!;
      const point: FailurePoint = { kind: 'step', phaseId: phase.id, stepIndex: index, self: true };
      const before: FailurePoint = { ...point, self: false };
      const spec = this.stepSpec(step, step.type, phase.id);
      const resultPath = this.resultPathOf(step.id);
      const task = this.withResult(this.stepTask(spec, step.retry), step.id, resultPath);
      const continued =
        effectiveOnFailure(step) === 'continue' ? this.continuedFailure(step, resultPath, next) : undefined;
      if (spec.mutating && this.watches(step)) this.watchBeforeChange(task);
      task.Catch = this.withKillSwitch(
        this.withHealth(
          step,
          this.stepCatches(step, point, continued ? { resultPath, next: continued } : undefined),
          point,
        ),
        spec.mutating,
      );
      task.Next = next;
      this.states[step.id] = task;

      let entry = step.id;
      const requirements = this.requirementsFor('step', step.id);
      // After a wait for a human, look again: pause, abort and the kill switch may have changed meanwhile.
      if (requirements.length > 0) {
        this.checkpoint(step.id, true, entry, this.rollbackEntry(before));
        entry = StateName.checkpoint(step.id);
      }
      if (requirements.length > 0) {
        this.compileApproval('step', step.id, requirements, entry, before);
        entry = this.approvalEntry(step.id, requirements);
      }
      names.unshift(entry);
      next = entry;
    }
    return names[0]!;
  }

  /**
   * A parallel group: steps are spread over lanes (at most maxConcurrency run at once), longest
   * expected duration first onto the least-loaded lane. Lanes return only step statuses and the
   * outputs later conditions read.
   */
  private compileParallel(phase: Phase, exit: string): string {
    const laneCount = Math.min(phase.maxConcurrency ?? phase.steps.length, phase.steps.length);
    const lanes: Array<{ load: number; steps: Array<{ step: Step; index: number }> }> = Array.from(
      { length: laneCount },
      () => ({ load: 0, steps: [] }),
    );
    const byDuration = phase.steps
      .map((step, index) => ({ step, index }))
      .sort(
        (a, b) =>
          (b.step.expectedDuration ?? b.step.timeout) - (a.step.expectedDuration ?? a.step.timeout) ||
          a.index - b.index,
      );
    for (const entry of byDuration) {
      const lane = lanes.reduce((least, candidate) => (candidate.load < least.load ? candidate : least));
      lane.steps.push(entry);
      lane.load += entry.step.expectedDuration ?? entry.step.timeout;
    }
    const point: FailurePoint = { kind: 'group', phaseId: phase.id };
    const selector: JsonObject = {};
    // In a group, a step's failure the lane does not continue past fails the group: its catch compensates.
    const watchedInLane = (step: Step) => this.watches(step) && effectiveOnFailure(step) !== 'continue';
    let laneWatched = false;
    const branches: StateMachineDefinition[] = lanes.map((lane, laneIndex) => {
      const ordered = [...lane.steps].sort((a, b) => a.index - b.index);
      const states: Record<string, State> = {};
      ordered.forEach(({ step }, position) => {
        const last = position === ordered.length - 1;
        const next = ordered[position + 1]?.step.id;
        const laneResult = `$.lane.${stateKey(step.id)}`;
        const task = this.withResult(
          this.stepTask(this.stepSpec(step, step.type, phase.id), step.retry),
          step.id,
          laneResult,
          last,
        );
        if (watchedInLane(step)) {
          laneWatched = true;
          if (step.tool !== WAIT_TOOL) this.watchBeforeChange(task);
        }
        if (effectiveOnFailure(step) === 'continue') {
          const failedName = StateName.stepFailed(step.id);
          const abortedName = StateName.aborted(step.id);
          task.Catch = [
            { ErrorEquals: [AslErrorName.Aborted], ResultPath: '$.failure', Next: abortedName },
            { ErrorEquals: [AslErrorName.StatesAll], ResultPath: laneResult, Next: failedName },
          ];
          // A Catch cannot leave the Parallel: an abort re-raises from a Fail state in the lane.
          states[failedName] = this.continuedFailureInLane(step, laneResult, last ? undefined : next!);
          states[abortedName] = {
            Type: 'Fail',
            Comment: 'An abort is never continued: the group fails with it and rolls back.',
            Error: AslErrorName.Aborted,
            Cause: `aborted during ${step.id}`,
          };
        }
        if (last) {
          task.OutputPath = '$.lane';
          task.End = true;
        } else {
          task.Next = next!;
        }
        states[step.id] = task;
        if (this.exported.has(step.id))
          selector[`${stateKey(step.id)}.$`] = `$[${laneIndex}].${stateKey(step.id)}`;
      });
      splitWaits(states, (name) => {
        const step = ordered.find((entry) => entry.step.id === name)?.step;
        return step?.tool === WAIT_TOOL && watchedInLane(step) ? this.watchSpec() : undefined;
      });
      return { StartAt: ordered[0]!.step.id, States: inFlowOrder(states, ordered[0]!.step.id) };
    });
    const name = StateName.parallel(phase.id);
    const anyRollback = phase.steps.some((step) => effectiveOnFailure(step) === 'rollback');
    const state: ParallelState = {
      Type: 'Parallel',
      Comment: `${phase.name}: ${phase.steps.length} steps, at most ${laneCount} at once.`,
      Branches: branches,
      Catch: this.withKillSwitch(
        anyRollback
          ? [failureCatch(this.rollbackEntry(point))]
          : [
              ...(laneWatched ? [healthCatch(this.rollbackEntry(point))] : []),
              {
                ErrorEquals: [AslErrorName.Aborted],
                ResultPath: '$.failure',
                Next: this.rollbackEntry(point),
              },
              failureCatch(StateName.escalate),
            ],
        phase.steps.some((step) => this.tools.get(step.tool)?.mutating),
      ),
      Next: exit,
    };
    if (Object.keys(selector).length > 0) {
      state.ResultSelector = selector;
      state.ResultPath = `$.groups.${stateKey(phase.id)}`;
    } else {
      state.ResultPath = null;
    }
    this.states[name] = state;
    return name;
  }

  // -------------------------------------------------------------------------------------------------
  // Reorderable phases

  /**
   * A reorderable phase: `Order: <phase>` asks the runner for this execution's order (and lanes) from
   * measured history and records why; a dispatcher runs the queue (`Next step:` Choice on the current
   * id -> the step's Task, unchanged -> `Advance:` Pass -> `Next step:` again) until it is done or the
   * phase's stopWhen holds. A planning failure falls back to the declared order, never fails the run.
   */
  private compileReorderable(phase: Phase, exit: string): string {
    const orderPath = `$.order.${stateKey(phase.id)}`;
    const parallel = phase.mode === 'parallel';
    const lanes = parallel ? Math.min(phase.maxConcurrency ?? phase.steps.length, phase.steps.length) : 1;
    const candidates = phase.steps.map((step) => ({
      id: step.id,
      name: step.name,
      tool: step.tool,
      ...(step.expectedDuration !== undefined ? { expectedSeconds: step.expectedDuration } : {}),
      timeoutSeconds: step.timeout,
    }));
    const after = parallel
      ? this.compileLanes(phase, orderPath, lanes, exit)
      : this.compileDispatcher(phase, orderPath, exit);
    const declared = planStepOrder({
      phase: phase.id,
      mode: phase.mode,
      lanes,
      steps: candidates,
      statistics: undefined,
      now: new Date(0),
    }).queues;
    const fallback = StateName.declaredOrder(phase.id);
    this.states[fallback] = {
      Type: 'Pass',
      Comment: 'The order could not be planned: the declared order (and declared durations) stand.',
      Result: (parallel ? { lanes: declared } : declared[0]!) as unknown as JsonObject,
      ResultPath: orderPath,
      Next: after,
    };
    const name = StateName.orderSteps(phase.id);
    this.states[name] = {
      Type: 'Task',
      Comment: `Orders ${phase.steps.length} steps by measured hit rate per second${parallel ? ` over ${lanes} lanes balanced by measured duration` : ''}; records the order and why.`,
      Resource: arn(Substitution.ReadOnlyRunner),
      Parameters: {
        kind: TaskKind.OrderSteps,
        'execution.$': '$.execution',
        phase: { id: phase.id, mode: phase.mode, lanes, steps: candidates } as unknown as JsonObject,
      },
      TimeoutSeconds: 60,
      Retry: [TRANSIENT_RETRY],
      ResultPath: orderPath,
      Catch: [{ ErrorEquals: [AslErrorName.StatesAll], ResultPath: null, Next: fallback }],
      Next: after,
    };
    return name;
  }

  /** The queue's next step, or out: `current` is the step to run, ORDER_DONE when the queue is empty. */
  private dispatcherChoices(phase: Phase, currentPath: string, done: string): ChoiceRule[] {
    return [
      { Variable: currentPath, StringEquals: ORDER_DONE, Next: done },
      ...phase.steps.map((step) => ({ Variable: currentPath, StringEquals: step.id, Next: step.id })),
    ];
  }

  private advanceState(orderPath: string, next: string): State {
    return {
      Type: 'Pass',
      Comment: 'Moves to the next step of the queue.',
      Parameters: {
        'steps.$': `${orderPath}.steps`,
        'position.$': `States.MathAdd(${orderPath}.position, 1)`,
        'current.$': `States.ArrayGetItem(${orderPath}.steps, States.MathAdd(${orderPath}.position, 1))`,
      },
      ResultPath: orderPath,
      Next: next,
    };
  }

  private compileDispatcher(phase: Phase, orderPath: string, exit: string): string {
    const dispatch = StateName.nextStep(phase.id);
    const advance = StateName.advance(phase.id);
    const choices = this.dispatcherChoices(phase, `${orderPath}.current`, exit);
    if (phase.stopWhen) {
      const stopped = StateName.stoppedEarly(phase.id);
      // After the queue's end check: a finding that holds after the last step skips nothing.
      choices.splice(1, 0, { ...compileCondition(phase.stopWhen, this.resultPathOf), Next: stopped });
      this.states[stopped] = {
        Type: 'Task',
        Comment: 'The finding is decisive (stopWhen): records the steps skipped.',
        Resource: arn(Substitution.ReadOnlyRunner),
        Parameters: {
          kind: TaskKind.PhaseStopped,
          'execution.$': '$.execution',
          phase: phase.id,
          steps: phase.steps.map((step) => ({
            id: step.id,
            name: step.name,
            tool: step.tool,
            timeoutSeconds: step.timeout,
          })) as unknown as JsonValue,
          'order.$': orderPath,
        },
        TimeoutSeconds: 60,
        Retry: [TRANSIENT_RETRY],
        ResultPath: null,
        // Bookkeeping: the run goes on whether or not the skipped steps could be recorded.
        Catch: [{ ErrorEquals: [AslErrorName.StatesAll], ResultPath: null, Next: exit }],
        Next: exit,
      };
    }
    this.states[dispatch] = {
      Type: 'Choice',
      Comment: `Runs ${phase.id}'s steps in the planned order${phase.stopWhen ? ' until stopWhen holds' : ''}.`,
      Choices: choices,
      Default: exit,
    };
    this.states[advance] = this.advanceState(orderPath, dispatch);
    phase.steps.forEach((step, index) => {
      const point: FailurePoint = { kind: 'step', phaseId: phase.id, stepIndex: index, self: true };
      const spec = this.stepSpec(step, step.type, phase.id);
      const resultPath = this.resultPathOf(step.id);
      const task = this.withResult(this.stepTask(spec, step.retry), step.id, resultPath);
      const continued =
        effectiveOnFailure(step) === 'continue'
          ? this.continuedFailure(step, resultPath, advance)
          : undefined;
      task.Catch = this.stepCatches(step, point, continued ? { resultPath, next: continued } : undefined);
      task.Next = advance;
      this.states[step.id] = task;
    });
    return dispatch;
  }

  /**
   * A reorderable parallel group: an inline Map over the planned lanes (at most `lanes` at once), each
   * running the dispatcher over its own queue. Lanes return the results later conditions read; the
   * Map merges them into `$.groups.<phase>.steps`.
   */
  private compileLanes(phase: Phase, orderPath: string, lanes: number, exit: string): string {
    const states: Record<string, State> = {};
    const dispatch = StateName.nextStep(phase.id);
    const advance = StateName.advance(phase.id);
    const done = StateName.laneDone(phase.id);
    states[dispatch] = {
      Type: 'Choice',
      Comment: `Runs this lane's steps of ${phase.id} in the planned order.`,
      Choices: this.dispatcherChoices(phase, '$.order.current', done),
      Default: done,
    };
    states[advance] = this.advanceState('$.order', dispatch);
    states[done] = { Type: 'Pass', Comment: 'The lane’s results.', OutputPath: '$.lane', End: true };
    const exported = phase.steps.filter((step) => this.exported.has(step.id));
    for (const step of phase.steps) {
      const laneResult = `$.lane.${stateKey(step.id)}`;
      const task = this.withResult(
        this.stepTask(this.stepSpec(step, step.type, phase.id), step.retry),
        step.id,
        laneResult,
      );
      if (effectiveOnFailure(step) === 'continue') {
        const failedName = StateName.stepFailed(step.id);
        const abortedName = StateName.aborted(step.id);
        task.Catch = [
          { ErrorEquals: [AslErrorName.Aborted], ResultPath: '$.failure', Next: abortedName },
          { ErrorEquals: [AslErrorName.StatesAll], ResultPath: laneResult, Next: failedName },
        ];
        states[failedName] = this.continuedFailureInLane(step, laneResult, advance);
        states[abortedName] = {
          Type: 'Fail',
          Comment: 'An abort is never continued: the group fails with it and rolls back.',
          Error: AslErrorName.Aborted,
          Cause: `aborted during ${step.id}`,
        };
      }
      task.Next = advance;
      states[step.id] = task;
    }
    const point: FailurePoint = { kind: 'group', phaseId: phase.id };
    const anyRollback = phase.steps.some((step) => effectiveOnFailure(step) === 'rollback');
    const name = StateName.lanes(phase.id);
    const map: MapState = {
      Type: 'Map',
      Comment: `${phase.name}: ${phase.steps.length} steps over ${lanes} lanes, balanced by measured duration.`,
      ItemsPath: `${orderPath}.lanes`,
      ItemSelector: {
        'execution.$': '$.execution',
        'alert.$': '$.alert',
        'order.$': '$$.Map.Item.Value',
        lane: {},
      },
      MaxConcurrency: lanes,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: dispatch,
        States: inFlowOrder(states, dispatch),
      },
      Catch: anyRollback
        ? [failureCatch(this.rollbackEntry(point))]
        : [
            { ErrorEquals: [AslErrorName.Aborted], ResultPath: '$.failure', Next: this.rollbackEntry(point) },
            failureCatch(StateName.escalate),
          ],
      Next: exit,
    };
    if (exported.length > 0) {
      map.ResultSelector = { 'steps.$': mergedLanes(0, lanes) };
      map.ResultPath = `$.groups.${stateKey(phase.id)}`;
    } else {
      map.ResultPath = null;
    }
    this.states[name] = map;
    return name;
  }

  private continuedFailureInLane(step: Step, laneResult: string, next: string | undefined): State {
    return {
      Type: 'Pass',
      Comment: `${step.id} failed; the group continues (onFailure: continue).`,
      InputPath: laneResult,
      Parameters: { status: 'failed', 'error.$': '$.Error', 'cause.$': '$.Cause' },
      ResultPath: laneResult,
      ...(next ? { Next: next } : { OutputPath: '$.lane', End: true as const }),
    };
  }

  // -------------------------------------------------------------------------------------------------
  // Branches

  private compileBranch(branchId: string): void {
    const branch = this.runbook.conditionalBranching.find((candidate) => candidate.id === branchId)!;
    this.states[StateName.branch(branch.id)] = {
      Type: 'Choice',
      Comment: branch.description ?? `Decides where ${branch.after} leads.`,
      Choices: branch.rules.map((rule, index) => ({
        ...compileCondition(rule.when, this.resultPathOf),
        Next: this.target(rule.goto, `${branch.id} rule ${index + 1}`, rule.description),
      })),
      Default: this.target(branch.default, `${branch.id} default`, 'no rule matched'),
    };
  }

  // -------------------------------------------------------------------------------------------------
  // Verification, rollback, escalation, record

  private compileVerification(): void {
    const metrics = this.runbook.successMetrics;
    const onFailed =
      metrics.onFailure === 'rollback' ? this.rollbackEntry({ kind: 'end' }) : StateName.escalate;
    const checks = metrics.checks;
    const afterAlert = checks[0]?.id ?? StateName.recordSuccess;
    if (metrics.alertResolved) {
      const within = metrics.alertResolved.within;
      this.states[StateName.verifyAlert] = {
        Type: 'Task',
        Comment: `Success needs the alert resolved within ${within}s.`,
        Resource: arn(Substitution.ReadOnlyRunner),
        Parameters: {
          kind: TaskKind.VerifyAlert,
          'execution.$': '$.execution',
          'alert.$': '$.alert',
          withinSeconds: within,
          // While it waits for the alert, the health signals are polled: worse compensates at once.
          ...(this.watchSpec() ? { watch: this.watchSpec() as unknown as JsonObject } : {}),
        },
        TimeoutSeconds: VERIFY_POLL_SECONDS + TASK_TIMEOUT_MARGIN_SECONDS,
        Retry: [
          TRANSIENT_RETRY,
          {
            ErrorEquals: [AslErrorName.VerificationPending],
            IntervalSeconds: 1,
            BackoffRate: 1,
            MaxAttempts: Math.ceil(within / VERIFY_POLL_SECONDS) + 1,
          },
        ],
        ResultPath: '$.verification',
        Catch: [
          {
            ErrorEquals: [AslErrorName.Aborted],
            ResultPath: '$.failure',
            Next: this.rollbackEntry({ kind: 'end' }),
          },
          ...(this.signals.length > 0 ? [healthCatch(this.rollbackEntry({ kind: 'end' }))] : []),
          failureCatch(onFailed),
        ],
        Next: afterAlert,
      };
    }
    checks.forEach((check, index) => {
      this.compileCheck(check, 'check', checks[index + 1]?.id ?? StateName.recordSuccess, {
        failed: onFailed,
        unmetError: AslErrorName.VerificationFailed,
        aborted: this.rollbackEntry({ kind: 'end' }),
        ...(check.watch ? { healthWorse: this.rollbackEntry({ kind: 'end' }) } : {}),
      });
    });
  }

  private compileFailureRegion(): void {
    const chain = [...this.compensables].reverse();
    const rollbackStart = this.rollbackStart();
    chain.forEach((compensable, index) => {
      const next = chain[index + 1] ? StateName.compensate(chain[index + 1]!.step.id) : rollbackStart;
      const compensation = compensationOf(compensable.step, this.tools.get(compensable.step.tool))!;
      const payload: CompensationSpecPayload = {
        compensates: compensable.step.id,
        tool: compensation.tool,
        parameters: compensation.parameters,
        timeoutSeconds: 'timeout' in compensation ? (compensation.timeout as number) : 120,
        ...('skipWhenOutput' in compensation && compensation.skipWhenOutput
          ? { skipWhenOutput: compensation.skipWhenOutput }
          : {}),
      };
      this.states[StateName.compensate(compensable.step.id)] = {
        Type: 'Task',
        Resource: arn(Substitution.MutatingRunner),
        Parameters: {
          kind: TaskKind.Compensate,
          'execution.$': '$.execution',
          'alert.$': '$.alert',
          compensation: payload as unknown as JsonObject,
        },
        TimeoutSeconds: payload.timeoutSeconds + TASK_TIMEOUT_MARGIN_SECONDS,
        // Rollbacks must succeed: every transient and tool error is retried.
        Retry: [
          {
            ErrorEquals: [
              ...LAMBDA_TRANSIENT_ERRORS,
              AslErrorName.ToolFailed,
              AslErrorName.ToolThrottled,
              AslErrorName.StepTimeout,
              AslErrorName.StatesTimeout,
            ],
            IntervalSeconds: 5,
            MaxAttempts: 3,
            BackoffRate: 2,
            JitterStrategy: 'FULL',
          },
        ],
        ResultPath: null,
        Catch: [
          {
            ErrorEquals: [AslErrorName.StatesAll],
            ResultPath: '$.rollbackError',
            Next: next,
          },
        ],
        Next: next,
      };
    });

    const rollbackSteps = this.runbook.rollbackProcedures.flatMap((procedure) => procedure.steps);
    rollbackSteps.forEach((step, index) => {
      const next = rollbackSteps[index + 1]
        ? StateName.rollback(rollbackSteps[index + 1]!.id)
        : StateName.rollbackOutcome;
      const task = this.stepTask(this.stepSpec(step, 'rollback'), step.retry);
      task.ResultPath = null;
      task.Catch = [
        {
          ErrorEquals: [AslErrorName.StatesAll],
          ResultPath: '$.rollbackError',
          Next: next,
        },
      ];
      task.Next = next;
      this.states[StateName.rollback(step.id)] = task;
    });

    this.states[StateName.rollbackOutcome] = {
      Type: 'Choice',
      Comment: 'A failed compensation always escalates; an operator abort that rolled back cleanly does not.',
      Choices: [
        // One slot holds the last failure; every compensation's outcome is in the store.
        { Variable: '$.rollbackError', IsPresent: true, Next: StateName.escalate },
        {
          And: [
            { Variable: '$.failure.Error', IsPresent: true },
            { Variable: '$.failure.Error', StringEquals: AslErrorName.Aborted },
          ],
          Next: StateName.recordFailure,
        },
      ],
      Default: StateName.escalate,
    };
    this.states[StateName.escalate] = {
      Type: 'Task',
      Comment: 'Notifies the escalation targets whose triggers match what happened.',
      Resource: arn(Substitution.ReadOnlyRunner),
      Parameters: {
        kind: TaskKind.Escalate,
        triggers: this.runbook.escalationTriggers as unknown as JsonValue,
        'state.$': '$',
      },
      TimeoutSeconds: 60,
      Retry: [
        TRANSIENT_RETRY,
        { ErrorEquals: [AslErrorName.ToolFailed], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 },
      ],
      ResultPath: '$.escalation',
      Catch: [
        {
          ErrorEquals: [AslErrorName.StatesAll],
          ResultPath: '$.escalationError',
          Next: StateName.recordFailure,
        },
      ],
      Next: StateName.recordFailure,
    };
    this.states[StateName.recordFailure] = this.recordTask('failed', StateName.failed);
    this.states[StateName.failed] = {
      Type: 'Fail',
      Comment: 'The execution fails with the error that stopped it.',
      ErrorPath: '$.failure.Error',
      CausePath: '$.failure.Cause',
    };
  }

  private compileSuccessRegion(): void {
    this.states[StateName.recordSuccess] = this.recordTask('succeeded', StateName.succeeded);
    this.states[StateName.succeeded] = { Type: 'Succeed' };
  }

  private recordTask(outcome: 'succeeded' | 'failed', next: string): TaskState {
    return {
      Type: 'Task',
      Comment: 'Writes the execution record the learning loop reads.',
      Resource: arn(Substitution.ReadOnlyRunner),
      Parameters: {
        kind: TaskKind.Record,
        outcome,
        recordOutputs: this.runbook.learningHooks.recordOutputs,
        'state.$': '$',
      },
      TimeoutSeconds: 60,
      Retry: [
        TRANSIENT_RETRY,
        { ErrorEquals: [AslErrorName.ToolFailed], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 },
      ],
      ResultPath: null,
      Catch: [{ ErrorEquals: [AslErrorName.StatesAll], ResultPath: '$.recordError', Next: next }],
      Next: next,
    };
  }
}

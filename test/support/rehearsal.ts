import '../../functions/adapters/local/polyfills.ts';
import { StateMachine } from 'aws-local-stepfunctions';
import type { Alert } from '../../functions/core/alert.ts';
import { type State, type StateMachineDefinition, walkStates } from '../../functions/core/compiler/asl.ts';
import { substituteForValidation } from '../../functions/core/compiler/asl-validation.ts';
import type { ExecutionInput, OrderStepsTask } from '../../functions/core/execution-contract.ts';
import { type LaneQueue, ORDER_DONE, planStepOrder } from '../../functions/core/learning/step-order.ts';

/**
 * Rehearsal (as in orquesta): run a compiled machine in aws-local-stepfunctions with stub handlers
 * that return mocked step results, and record the sequence of states entered.
 */

export type StepOutcome = { output?: unknown; status?: string } | { error: string; message?: string };

export interface RehearsalScript {
  /** Per step id: one outcome for every attempt, or one per attempt (the last repeats). */
  steps?: Record<string, StepOutcome | StepOutcome[]>;
  /** Per approval target (phase or step id). Default: approve. */
  approvals?: Record<string, 'approve' | 'reject' | 'timeout'>;
  /** Checkpoints (by the id they guard) that raise Runbook.Aborted. */
  abortAt?: string[];
  verifyAlert?: 'resolved' | 'pending';
  compensations?: Record<string, StepOutcome>;
  /** Per reorderable phase: the order its planning task answers (parallel: one list per lane). Default: declared. */
  order?: Record<string, string[] | string[][]>;
  /** Reorderable phases whose planning task fails (the machine falls back to the declared order). */
  orderFails?: string[];
}

export interface RehearsalResult {
  /** Names of the states entered, in order (Parallel branches interleave as they run). */
  entered: string[];
  /** Task states in order, with the payload their handler got. */
  calls: Array<{ state: string; payload: Record<string, unknown> }>;
  status: 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  error?: string;
  cause?: string;
}

export function sampleAlert(overrides: Partial<Alert> = {}): Alert {
  return {
    source: 'prometheus',
    name: 'KubeNodeMemoryPressure',
    status: 'firing',
    severity: 'critical',
    category: 'resource-exhaustion',
    summary: 'Node ip-10-0-1-23 has memory pressure',
    environment: 'prod',
    resource: { type: 'k8s-node', id: 'ip-10-0-1-23.eu-west-1.compute.internal' },
    labels: {
      alertname: 'KubeNodeMemoryPressure',
      node: 'ip-10-0-1-23.eu-west-1.compute.internal',
      severity: 'critical',
    },
    annotations: { summary: 'Node ip-10-0-1-23 has memory pressure' },
    fingerprint: '3f2a9c1d0b7e6a55',
    startsAt: '2026-11-25T10:00:00.000Z',
    ...overrides,
  };
}

export function sampleInput(
  overrides: { environment?: string; approvalRiskThreshold?: number; alert?: Partial<Alert> } = {},
): ExecutionInput {
  const environment = overrides.environment ?? 'prod';
  return {
    execution: {
      id: 'exec-0001',
      runbookId: 'rehearsal',
      runbookVersion: '1.0.0',
      incidentId: 'inc-0001',
      environment,
      dryRun: false,
      approvalRiskThreshold: overrides.approvalRiskThreshold ?? 99,
      changeFreeze: false,
      startedAt: '2026-11-25T10:00:05.000Z',
    },
    alert: sampleAlert({ environment, ...overrides.alert }),
    steps: {},
    groups: {},
    approvals: {},
  };
}

function plannedQueues(queues: LaneQueue[], mode: 'sequential' | 'parallel'): unknown {
  return mode === 'parallel' ? { lanes: queues } : queues[0];
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function payloadOf(state: State, input: Record<string, unknown>): Record<string, unknown> {
  if (state.Type === 'Task' && state.Resource.includes('waitForTaskToken'))
    return input.Payload as Record<string, unknown>;
  return input;
}

/** Shortens approval timeouts so a "timeout" rehearsal does not wait 15 minutes. */
function withShortApprovalTimeouts(definition: StateMachineDefinition): StateMachineDefinition {
  const copy = substituteForValidation(definition);
  for (const [, state] of walkStates(copy)) {
    if (state.Type !== 'Task') continue;
    const payload = (state.Parameters?.Payload ?? {}) as Record<string, unknown>;
    if (payload.kind === 'approval') state.TimeoutSeconds = 1;
  }
  return copy;
}

export async function rehearse(
  definition: StateMachineDefinition,
  input: ExecutionInput,
  script: RehearsalScript = {},
): Promise<RehearsalResult> {
  const machineDefinition = withShortApprovalTimeouts(definition);
  const attempts = new Map<string, number>();
  const calls: RehearsalResult['calls'] = [];
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  // A rehearsal asserts the path, not the clock: Wait states (runbook.wait) end at once.
  const waitTimeOverrides: Record<string, number> = {};

  for (const [name, state] of walkStates(machineDefinition)) {
    if (state.Type === 'Task' || state.Type === 'Parallel') retryIntervalOverrides[name] = 0;
    if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
    if (state.Type !== 'Task') continue;
    handlers[name] = async (raw) => {
      const payload = payloadOf(state, raw as Record<string, unknown>);
      calls.push({ state: name, payload });
      const attempt = (attempts.get(name) ?? 0) + 1;
      attempts.set(name, attempt);
      switch (payload.kind) {
        case 'step': {
          const step = payload.step as { id: string };
          const scripted = script.steps?.[step.id];
          const outcome = Array.isArray(scripted)
            ? scripted[Math.min(attempt, scripted.length) - 1]
            : scripted;
          if (outcome && 'error' in outcome)
            throw namedError(outcome.error, outcome.message ?? `${step.id} failed`);
          return { status: outcome?.status ?? 'succeeded', output: outcome?.output ?? {} };
        }
        case 'compensate': {
          const compensation = payload.compensation as { compensates: string };
          const outcome = script.compensations?.[compensation.compensates];
          if (outcome && 'error' in outcome)
            throw namedError(outcome.error, outcome.message ?? 'compensation failed');
          return { status: 'compensated' };
        }
        case 'checkpoint': {
          const checkpoint = payload.checkpoint as { before: string };
          if (script.abortAt?.includes(checkpoint.before))
            throw namedError('Runbook.Aborted', `aborted by an operator before ${checkpoint.before}`);
          return {};
        }
        case 'approval': {
          const approval = payload.approval as { target: { id: string } };
          const decision = script.approvals?.[approval.target.id] ?? 'approve';
          if (decision === 'reject')
            throw namedError('Approval.Rejected', `rejected by alice@example.com: not now`);
          if (decision === 'timeout') return new Promise(() => {});
          return { approvedBy: ['alice@example.com'] };
        }
        case 'verify-alert':
          if (script.verifyAlert === 'pending')
            throw namedError('Verification.Pending', 'the alert is still firing');
          return { resolved: true };
        case 'escalate':
          return { notified: ['sre-pager'] };
        case 'waited':
          // After a Wait state (runbook.wait): the wait ended.
          return { status: 'succeeded', output: {} };
        case 'record':
          return {};
        case 'order-steps': {
          const phase = payload.phase as OrderStepsTask['phase'];
          if (script.orderFails?.includes(phase.id))
            throw namedError('Runbook.ToolFailed', `no statistics for ${phase.id}`);
          const scripted = script.order?.[phase.id];
          if (!scripted)
            return plannedQueues(
              planStepOrder({ ...phase, phase: phase.id, statistics: undefined, now: new Date(0) }).queues,
              phase.mode,
            );
          const lists = phase.mode === 'parallel' ? (scripted as string[][]) : [scripted as string[]];
          return plannedQueues(
            lists.map((ids) => ({ steps: [...ids, ORDER_DONE], position: 0, current: ids[0] ?? ORDER_DONE })),
            phase.mode,
          );
        }
        case 'phase-stopped':
          return { skipped: [] };
        default:
          throw new Error(`rehearsal: no stub for task kind ${String(payload.kind)} in ${name}`);
      }
    };
  }

  const machine = new StateMachine(machineDefinition as never, {
    validationOptions: { checkArn: false, checkPaths: true },
  });
  const execution = machine.run(input as never, {
    context: { Task: { Token: 'rehearsal-token' } },
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides, waitTimeOverrides },
  });
  const entered: string[] = [];
  const logs = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered') entered.push(event.state.name);
    }
  })();
  try {
    const output = await execution.result;
    await logs;
    return { entered, calls, status: 'SUCCEEDED', output };
  } catch (error) {
    await logs;
    const cause = (error as { cause?: { name?: string; message?: string } }).cause;
    return {
      entered,
      calls,
      status: 'FAILED',
      error: cause?.name ?? (error as Error).name,
      cause: cause?.message ?? (error as Error).message,
    };
  }
}

import * as z from 'zod';
import { Alert } from '../alert.ts';
import type { Retrier, StateMachineDefinition } from '../compiler/asl.ts';
import { AslErrorName, LAMBDA_TRANSIENT_ERRORS } from '../errors.ts';
import {
  ApprovalSpec,
  CompensationSpecPayload,
  ExecutionContext,
  Substitution,
  TaskKind,
  WAIT_FOR_TASK_TOKEN_RESOURCE,
} from '../execution-contract.ts';

/**
 * The rollback machine: one Standard state machine per environment (not per runbook) that undoes a
 * finished execution's changes after a chosen point, in reverse. Its input carries the compensations
 * to run (the same specs the runbook's own machine runs on failure) and, when the environment's policy
 * asks for one, the approval to wait for. Each compensation runs through the same step-runner code,
 * recorded under the execution it undoes. It is not a runbook: its id cannot be a runbook id
 * (runbook ids are kebab-case, lowercase).
 */
export const ROLLBACK_MACHINE_ID = 'Rollback';

/** How long a rollback waits for its approval before it gives up (nothing undone). */
export const ROLLBACK_APPROVAL_SECONDS = 3_600;
/** A compensation's task: Lambda's 15 minutes and a margin; the runner enforces each one's own timeout. */
const COMPENSATION_TASK_SECONDS = 915;

export const RollbackMachineInput = z
  .object({
    /** The execution being rolled back (compensations read and record its steps). */
    execution: ExecutionContext,
    alert: Alert,
    rollback: z
      .object({
        id: z.string(),
        rollbackPoint: z.string(),
        requestedBy: z.string(),
        compensations: z.array(CompensationSpecPayload).min(1),
        approval: ApprovalSpec.optional(),
      })
      .strict(),
    steps: z.record(z.string(), z.unknown()),
    groups: z.record(z.string(), z.unknown()),
    approvals: z.record(z.string(), z.unknown()),
  })
  .strict();
export type RollbackMachineInput = z.infer<typeof RollbackMachineInput>;

const arn = (substitution: Substitution) => `\${${substitution}}`;

const TRANSIENT_RETRY: Retrier = {
  ErrorEquals: [...LAMBDA_TRANSIENT_ERRORS],
  IntervalSeconds: 2,
  JitterStrategy: 'FULL',
};

const stage = (name: 'begin' | 'proceed' | 'finish') => ({
  kind: TaskKind.Rollback,
  stage: name,
  'rollbackId.$': '$.rollback.id',
  'execution.$': '$.execution',
  ...(name === 'finish' ? { 'state.$': '$' } : {}),
});

/** The machine's definition (JSONPath ASL, placeholders for the functions, as the compiler emits). */
export function rollbackStateMachine(): StateMachineDefinition {
  const toFinish = {
    ErrorEquals: [AslErrorName.StatesAll],
    ResultPath: '$.failure',
    Next: 'Finish rollback',
  };
  return {
    Comment:
      'Rolls back a finished execution: its changes after the chosen point are compensated in reverse, after an approval where the environment asks for one.',
    StartAt: 'Begin rollback',
    States: {
      'Begin rollback': {
        Type: 'Task',
        Resource: arn(Substitution.ReadOnlyRunner),
        Parameters: stage('begin'),
        TimeoutSeconds: 60,
        Retry: [TRANSIENT_RETRY],
        ResultPath: null,
        Catch: [toFinish],
        Next: 'Needs approval?',
      },
      'Needs approval?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.rollback.approval', IsPresent: true, Next: 'Approval: rollback' }],
        Default: 'Proceed',
      },
      'Approval: rollback': {
        Type: 'Task',
        Comment: 'Waits for the approvers the environment names for this rollback.',
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
            'approval.$': '$.rollback.approval',
          },
        },
        TimeoutSeconds: ROLLBACK_APPROVAL_SECONDS,
        Retry: [
          TRANSIENT_RETRY,
          { ErrorEquals: ['NotificationError'], IntervalSeconds: 10, MaxAttempts: 3, BackoffRate: 2 },
        ],
        ResultPath: '$.approved',
        Catch: [
          { ErrorEquals: [AslErrorName.StatesTimeout], ResultPath: '$.failure', Next: 'Approval expired' },
          toFinish,
        ],
        Next: 'Proceed',
      },
      'Approval expired': {
        Type: 'Pass',
        Result: {
          Error: AslErrorName.ApprovalExpired,
          Cause: `no approval decision on the rollback within ${ROLLBACK_APPROVAL_SECONDS}s`,
        },
        ResultPath: '$.failure',
        Next: 'Finish rollback',
      },
      Proceed: {
        Type: 'Task',
        Comment: 'The kill switch may have been engaged meanwhile: then nothing is undone.',
        Resource: arn(Substitution.ReadOnlyRunner),
        Parameters: stage('proceed'),
        TimeoutSeconds: 60,
        Retry: [TRANSIENT_RETRY],
        ResultPath: null,
        Catch: [toFinish],
        Next: 'Undo changes',
      },
      'Undo changes': {
        Type: 'Map',
        Comment: 'One compensation at a time, in the order given (the reverse of the changes).',
        ItemsPath: '$.rollback.compensations',
        ItemSelector: {
          kind: TaskKind.Compensate,
          'execution.$': '$.execution',
          'alert.$': '$.alert',
          'compensation.$': '$$.Map.Item.Value',
        },
        MaxConcurrency: 1,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: 'Compensate',
          States: {
            Compensate: {
              Type: 'Task',
              Resource: arn(Substitution.MutatingRunner),
              TimeoutSeconds: COMPENSATION_TASK_SECONDS,
              // Rollbacks must succeed: every transient and tool error is retried, as in the runbook's machine.
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
              // A failed compensation does not stop the others: each outcome is in the store.
              Catch: [
                { ErrorEquals: [AslErrorName.StatesAll], ResultPath: '$.error', Next: 'Compensation failed' },
              ],
              End: true,
            },
            'Compensation failed': { Type: 'Pass', End: true },
          },
        },
        ResultPath: null,
        Catch: [toFinish],
        Next: 'Finish rollback',
      },
      'Finish rollback': {
        Type: 'Task',
        Resource: arn(Substitution.ReadOnlyRunner),
        Parameters: stage('finish'),
        TimeoutSeconds: 60,
        Retry: [
          TRANSIENT_RETRY,
          { ErrorEquals: [AslErrorName.ToolFailed], IntervalSeconds: 2, MaxAttempts: 3 },
        ],
        ResultPath: '$.finished',
        End: true,
      },
    },
  };
}

import type { ExecutionInput } from '../core/execution-contract.ts';

/** What the engine (Step Functions, or aws-local-stepfunctions locally) says about an execution. */
export type EngineStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface StartExecutionRequest {
  runbookId: string;
  /** Deterministic execution name: starting twice with the same name starts once. */
  name: string;
  input: ExecutionInput;
}

export interface StartedExecution {
  executionId: string;
  /** Execution ARN on AWS; the local engine's reference locally. */
  engineRef: string;
  startedAt: string;
  /** True when an execution with this name already existed (a retry): nothing new was started. */
  alreadyStarted: boolean;
}

export interface ExecutionDescription {
  executionId: string;
  engineRef: string;
  status: EngineStatus;
  startedAt: string;
  stoppedAt?: string;
  error?: string;
  cause?: string;
}

export interface TaskFailure {
  error: string;
  cause: string;
}

/**
 * Starts and steers state machine executions. Errors: EngineThrottledError (retry later),
 * TaskTokenExpiredError (the task already finished or timed out).
 */
export interface ExecutionEngine {
  start(request: StartExecutionRequest): Promise<StartedExecution>;
  stop(runbookId: string, executionId: string, reason: TaskFailure): Promise<void>;
  describe(runbookId: string, executionId: string): Promise<ExecutionDescription | undefined>;
  sendTaskSuccess(taskToken: string, output: unknown): Promise<void>;
  sendTaskFailure(taskToken: string, failure: TaskFailure): Promise<void>;
  /**
   * Re-runs an execution the runtime marked interrupted (the embedded engine, after a restart stopped it
   * mid-change), from the state it was in. False when it is not interrupted or cannot be resumed (its
   * runbook was recompiled without that state). Step Functions never interrupts executions: absent there.
   */
  resumeInterrupted?(executionId: string): Promise<boolean>;
}

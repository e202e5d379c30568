import './polyfills.ts';
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { type State, type StateMachineDefinition, transitions, walkStates } from '../../core/compiler/asl.ts';
import { aslProblems } from '../../core/compiler/asl-validation.ts';
import { BudgetExceededError, ConfigurationError, TaskTokenExpiredError } from '../../core/errors.ts';
import { Substitution, WAIT_FOR_TASK_TOKEN_RESOURCE } from '../../core/execution-contract.ts';
import type { Clock } from '../../ports/clock.ts';
import type {
  EngineStatus,
  ExecutionDescription,
  ExecutionEngine,
  StartExecutionRequest,
  StartedExecution,
  TaskFailure,
} from '../../ports/execution-engine.ts';
import type { Logger } from '../../ports/logger.ts';
import { EngineJournal, type JournalEntry } from './journal.ts';

/** Fake ARNs for the local engine's validation, shaped like the ones CDK substitutes. */
const LOCAL_ACCOUNT = '000000000000';
const LOCAL_REGION = 'local';

export function localExecutionArn(runbookId: string, executionId: string): string {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:runbook-autopilot-local-${runbookId}:${executionId}`;
}

export function localStateMachineArn(runbookId: string): string {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:runbook-autopilot-local-${runbookId}`;
}

/** What the engine tells about an execution as it runs (the terminal and the dashboard show it). */
export type EngineEvent =
  | {
      type: 'state-entered';
      executionId: string;
      runbookId: string;
      state: string;
      topLevel: boolean;
      at: number;
    }
  | {
      type: 'state-exited';
      executionId: string;
      runbookId: string;
      state: string;
      topLevel: boolean;
      at: number;
      durationMs?: number;
    }
  | {
      type: 'state-failed';
      executionId: string;
      runbookId: string;
      state: string;
      error: string;
      cause: string;
      at: number;
    }
  | {
      type: 'state-retried';
      executionId: string;
      runbookId: string;
      state: string;
      attempt: number;
      at: number;
    }
  | {
      type: 'execution-finished';
      executionId: string;
      runbookId: string;
      status: EngineStatus;
      error?: string;
      cause?: string;
      at: number;
    };

/** The Step Functions Execution Status Change detail, as EventBridge would carry it. */
export interface StatusChangeDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: EngineStatus;
  startDate: number;
  stopDate: number | null;
  input: string | null;
  output: string | null;
  error?: string | null;
  cause?: string | null;
}

/** The functions Task states invoke, as Lambda would: the event in, the result out, errors by name. */
export interface LocalTaskHandlers {
  stepRunner: (event: unknown) => Promise<unknown>;
  approvalRequest: (event: unknown) => Promise<unknown>;
}

export interface LocalEngineOptions {
  definitions: (runbookId: string) => StateMachineDefinition | undefined;
  handlers: LocalTaskHandlers;
  dataDir: string;
  clock: Clock;
  logger: Logger;
  onEvent?: (event: EngineEvent) => void;
  /** Like EventBridge's status-change events: the learning recorder listens. */
  onStatusChange?: (detail: StatusChangeDetail) => Promise<void>;
  /** The platform marks an execution it could not resume safely. */
  onInterrupted?: (executionId: string, reason: string) => Promise<void>;
  /** Before a restart resumes or marks an execution: what was running when the process stopped ended then. */
  onRecovering?: (executionId: string) => Promise<void>;
  /** Tests shorten Retry intervals (milliseconds); the platform keeps the real ones. */
  retryIntervalMs?: number;
  /**
   * Shortens every Wait state (runbook.wait) by this factor, 0 < scale ≤ 1 (`runbook demo
   * --wait-scale`): the embedded platform's option only; Step Functions waits what the definition says.
   */
  waitScale?: number;
}

interface Run {
  runbookId: string;
  abort: () => void;
  done: Promise<void>;
  stoppedBy?: TaskFailure;
  /** The platform is stopping: record nothing, so the journal resumes it next time. */
  detached?: boolean;
}

/** Step Functions' limits, which the embedded engine enforces the same way. */
const PAYLOAD_LIMIT = 262_144;
const ERROR_LIMIT = 256;
const CAUSE_LIMIT = 32_768;

/**
 * Refuses a payload Step Functions would refuse (States.DataLimitExceeded: 256 KiB of UTF-8 JSON);
 * answers its JSON, for whoever needs it next.
 */
function assertPayload(value: unknown, what: string): string {
  const json = JSON.stringify(value ?? null);
  const size = Buffer.byteLength(json, 'utf8');
  if (size > PAYLOAD_LIMIT)
    throw new BudgetExceededError(
      'payload',
      PAYLOAD_LIMIT,
      size,
      `${what} is ${size} bytes; Step Functions accepts at most ${PAYLOAD_LIMIT}`,
    );
  return json;
}

/** Step Functions truncates error names and causes; so does the embedded engine. */
function trim(text: string, limit: number): string {
  return text.length <= limit ? text : text.slice(0, limit);
}

interface PendingToken {
  executionId: string;
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  error.stack = `${name}: ${message}`;
  return error;
}

/** A definition CDK would deploy, with the Lambda placeholders replaced by local ARNs. */
function substitute(definition: StateMachineDefinition): StateMachineDefinition {
  const text = JSON.stringify(definition).replace(
    /\$\{([A-Za-z0-9]+)\}/g,
    (_match, name: string) => `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}`,
  );
  return JSON.parse(text) as StateMachineDefinition;
}

/** The definition resumed at `state`: StartAt moved, states it can no longer reach dropped. */
export function rootedAt(definition: StateMachineDefinition, state: string): StateMachineDefinition {
  if (!definition.States[state]) throw new ConfigurationError(`state "${state}" is not in the definition`);
  const reachable = new Set<string>();
  const stack = [state];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (reachable.has(name)) continue;
    reachable.add(name);
    const next = definition.States[name];
    if (next) stack.push(...transitions(next));
  }
  return {
    ...definition,
    StartAt: state,
    States: Object.fromEntries(Object.entries(definition.States).filter(([name]) => reachable.has(name))),
  };
}

/**
 * A Task the read-only step runner answers (a diagnostic, a checkpoint): running it again after a crash
 * changes nothing, so it need not wait for the journal's disk.
 */
function isReadOnlyTask(state: State): boolean {
  if (state.Type !== 'Task') return false;
  const readOnly = `\${${Substitution.ReadOnlyRunner}}`;
  if (state.Resource === readOnly) return true;
  return (
    state.Resource === WAIT_FOR_TASK_TOKEN_RESOURCE &&
    (state.Parameters as { FunctionName?: unknown } | undefined)?.FunctionName === readOnly
  );
}

/** What launching an execution of a definition needs, worked out once per definition. */
interface PreparedDefinition {
  machineDefinition: StateMachineDefinition;
  run: ReturnType<typeof tappedRunner>;
  topLevel: Set<string>;
  mutating: Set<string>;
  readOnly: Set<string>;
  tasks: Array<[string, State & { Type: 'Task' }]>;
  retryIntervalOverrides: Record<string, number>;
  waitTimeOverrides: Record<string, number>;
}

function isMutatingStep(state: State): boolean {
  if (state.Type === 'Task') {
    return (
      state.Resource === `\${${Substitution.MutatingRunner}}` &&
      (state.Parameters as { kind?: string } | undefined)?.kind === 'step'
    );
  }
  if (state.Type === 'Parallel')
    return state.Branches.some((branch) => Object.values(branch.States).some(isMutatingStep));
  return false;
}

/** An event of aws-local-stepfunctions' execution log (StateEntered, StateExited, ExecutionSucceeded...). */
type LibraryEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
type LibraryRunOptions = NonNullable<Parameters<StateMachine['run']>[1]>;

/** aws-local-stepfunctions 3.0's private StateMachine.execute: it gets the run's root event logger. */
type LibraryExecute = (
  input: unknown,
  options: { eventLogger?: { dispatch?: (event: LibraryEvent) => void } },
  cleanup: () => void,
) => Promise<unknown>;

/**
 * Runs executions of one machine with their events handed to a function as the library dispatches
 * them. The library's own `eventLogs` is an async generator: a few microtask turns per event, and the
 * journal learnt a state was entered only after that state's task had started (the durable flush
 * before an approval still wrote the state before it). The run's root event logger (Parallel branches
 * forward theirs to it) gets `dispatch` replaced for that run; events after the execution's own end
 * (a handler finishing after an abort) are dropped, as the library's closed logger drops them.
 */
function tappedRunner(machine: StateMachine) {
  const internal = machine as unknown as { execute?: LibraryExecute };
  const execute = internal.execute;
  if (typeof execute !== 'function')
    throw new ConfigurationError(
      'aws-local-stepfunctions has no StateMachine.execute: the engine needs 3.0.x (npm ci restores the locked version)',
    );
  let next: ((event: LibraryEvent) => void) | undefined;
  internal.execute = function (this: StateMachine, input, options, cleanup) {
    const sink = next;
    next = undefined;
    const logger = options?.eventLogger;
    if (!sink || typeof logger?.dispatch !== 'function')
      throw new ConfigurationError(
        'aws-local-stepfunctions gave StateMachine.execute no event logger: the engine needs 3.0.x (npm ci restores the locked version)',
      );
    let ended = false;
    logger.dispatch = (event) => {
      if (ended) return;
      if (event.type.startsWith('Execution') && event.type !== 'ExecutionStarted') ended = true;
      sink(event);
    };
    return execute.call(this, input, options, cleanup);
  };
  return (input: unknown, options: LibraryRunOptions, sink: (event: LibraryEvent) => void) => {
    next = sink;
    try {
      return machine.run(input as never, options);
    } finally {
      next = undefined;
    }
  };
}

/**
 * The embedded ExecutionEngine: runs the compiled ASL with aws-local-stepfunctions, every Task state
 * calling the same handler code as on AWS. `.waitForTaskToken` is emulated: the engine mints the token,
 * gives it to the handler, and waits until sendTaskSuccess/Failure. A journal lets a restarted
 * platform resume executions (or mark them interrupted when re-running a step would be unsafe).
 */
export class LocalExecutionEngine implements ExecutionEngine {
  private readonly runs = new Map<string, Run>();
  private readonly tokens = new Map<string, PendingToken>();
  /** Definitions prepared (validated by aws-local-stepfunctions once), as compiled, before substitution. */
  private readonly prepared = new WeakMap<StateMachineDefinition, PreparedDefinition>();
  private readonly journal: EngineJournal;

  constructor(private readonly options: LocalEngineOptions) {
    this.journal = new EngineJournal(options.dataDir).open();
    if (this.journal.loaded.skippedLines > 0)
      options.logger.warn('engine journal: skipped lines that were not whole records (a crash mid-write)', {
        skipped: this.journal.loaded.skippedLines,
      });
  }

  private definition(runbookId: string): StateMachineDefinition {
    const definition = this.options.definitions(runbookId);
    if (!definition)
      throw new ConfigurationError(
        `no compiled state machine for runbook "${runbookId}" (statemachines/${runbookId}.asl.json)`,
      );
    return definition;
  }

  async start(request: StartExecutionRequest): Promise<StartedExecution> {
    const definition = this.definition(request.runbookId);
    // Refused before anything is recorded: an invalid machine leaves no execution behind.
    this.prepare(request.runbookId, definition);
    const inputJson = assertPayload(request.input, `the input of ${request.name}`);
    const existing = this.journal.read(request.name);
    const engineRef = localExecutionArn(request.runbookId, request.name);
    if (existing)
      return { executionId: request.name, engineRef, startedAt: existing.startedAt, alreadyStarted: true };
    const startedAt = this.options.clock.now().toISOString();
    this.journal.write({
      executionId: request.name,
      runbookId: request.runbookId,
      status: 'RUNNING',
      input: request.input,
      startedAt,
      resumed: 0,
    });
    this.launch(request.runbookId, request.name, definition, request.input, inputJson);
    // The caller records the execution as started: the journal must have it on disk first, or a crash
    // loses it (the run goes on meanwhile; its first task that changes anything waits for the same write).
    await this.journal.flush();
    return { executionId: request.name, engineRef, startedAt, alreadyStarted: false };
  }

  /** Substitutes, validates and indexes a definition once; every execution of it reuses the result. */
  private prepare(runbookId: string, definition: StateMachineDefinition): PreparedDefinition {
    const known = this.prepared.get(definition);
    if (known) return known;
    const machineDefinition = substitute(definition);
    // Judged on the definition as compiled: substitution replaces the placeholders these read.
    const compiled = [...walkStates(definition)];
    const mutating = new Set(compiled.filter(([, state]) => isMutatingStep(state)).map(([name]) => name));
    const readOnly = new Set(compiled.filter(([, state]) => isReadOnlyTask(state)).map(([name]) => name));
    const tasks: PreparedDefinition['tasks'] = [];
    const retryIntervalOverrides: Record<string, number> = {};
    const waitTimeOverrides: Record<string, number> = {};
    for (const [name, state] of walkStates(machineDefinition)) {
      const scale = this.options.waitScale;
      if (state.Type === 'Wait' && scale !== undefined && scale !== 1)
        waitTimeOverrides[name] = Math.round(state.Seconds * 1_000 * scale);
      if (
        this.options.retryIntervalMs !== undefined &&
        (state.Type === 'Task' || state.Type === 'Parallel')
      ) {
        retryIntervalOverrides[name] = this.options.retryIntervalMs;
      }
      if (state.Type === 'Task') tasks.push([name, state]);
    }
    // Validated by the same asl-validator check the platform's catalog runs, remembered by digest, so a
    // runbook the catalog checked at start costs nothing here; the library's own check would compile its
    // schemas again (100-450 ms of blocked event loop, ~2 s at load, on the first alert of each runbook).
    const problems = aslProblems(definition);
    if (problems.length > 0)
      throw new ConfigurationError(
        `runbook ${runbookId}: its compiled state machine is not valid ASL (${problems.join('; ')}); run \`npm run compile\``,
      );
    const machine = new StateMachine(machineDefinition as never, { validationOptions: { noValidate: true } });
    const prepared: PreparedDefinition = {
      machineDefinition,
      run: tappedRunner(machine),
      topLevel: new Set(Object.keys(machineDefinition.States)),
      mutating,
      readOnly,
      tasks,
      retryIntervalOverrides,
      waitTimeOverrides,
    };
    this.prepared.set(definition, prepared);
    return prepared;
  }

  private launch(
    runbookId: string,
    executionId: string,
    definition: StateMachineDefinition,
    input: unknown,
    /** The execution's input as JSON, when `input` is it (a resume starts from a state's input). */
    inputJson?: string,
  ): void {
    const {
      run: runMachine,
      topLevel,
      mutating,
      readOnly,
      tasks,
      retryIntervalOverrides,
      waitTimeOverrides,
    } = this.prepare(runbookId, definition);
    const run: Run = { runbookId, abort: () => undefined, done: Promise.resolve() };
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [name, state] of tasks)
      handlers[name] = (taskInput) => {
        const task = this.invokeTask(
          run,
          executionId,
          name,
          state,
          taskInput,
          mutating.has(name),
          !readOnly.has(name),
        );
        // After an abort nobody awaits the task any more: its rejection must not be "unhandled".
        task.catch(() => undefined);
        return task;
      };
    const entered = new Map<string, number>();
    const onEvent = this.options.onEvent;
    // The first state a run enters is where the journal already starts it (StartAt with the input, or
    // the resumed state with its input): only the states after it are new resume points.
    let first = true;
    // Called as the library dispatches each event, before the state it enters runs.
    const progress = (event: LibraryEvent) => {
      const at = event.timestamp;
      if (event.type === 'StateEntered') {
        const isTop = topLevel.has(event.state.name);
        if (onEvent) entered.set(event.state.name, at);
        if (isTop && first) first = false;
        else if (isTop) {
          // Kept by reference: the library works on its own clone of a state's input, never on this one.
          this.journal.set(executionId, 'inFlight', {
            state: event.state.name,
            input: event.state.input,
            enteredAt: new Date(at).toISOString(),
          });
        }
        onEvent?.({
          type: 'state-entered',
          executionId,
          runbookId,
          state: event.state.name,
          topLevel: isTop,
          at,
        });
      } else if (!onEvent) {
        return;
      } else if (event.type === 'StateExited') {
        const started = entered.get(event.state.name);
        onEvent({
          type: 'state-exited',
          executionId,
          runbookId,
          state: event.state.name,
          topLevel: topLevel.has(event.state.name),
          at,
          ...(started === undefined ? {} : { durationMs: at - started }),
        });
      } else if (event.type === 'StateFailed') {
        onEvent({
          type: 'state-failed',
          executionId,
          runbookId,
          state: event.state.name,
          error: event.Error,
          cause: String(event.Cause ?? ''),
          at,
        });
      } else if (event.type === 'StateRetried') {
        onEvent({
          type: 'state-retried',
          executionId,
          runbookId,
          state: event.state.name,
          attempt: event.retry.attempt,
          at,
        });
      }
    };
    const journalEntry = this.journal.read(executionId);
    const execution = runMachine(
      input,
      {
        noThrowOnAbort: true,
        context: {
          Task: { Token: 'local' },
          Execution: {
            Id: localExecutionArn(runbookId, executionId),
            Name: executionId,
            Input: input as never,
            StartTime: journalEntry?.startedAt ?? this.options.clock.now().toISOString(),
          },
        },
        overrides: {
          taskResourceLocalHandlers: handlers as never,
          retryIntervalOverrides,
          waitTimeOverrides,
        },
      },
      (event) => {
        try {
          progress(event);
        } catch (error) {
          // Dispatched inside the library's run: a listener's failure must not fail the execution.
          this.options.logger.warn('engine progress event failed', { executionId, error: String(error) });
        }
      },
    );

    run.abort = () => execution.abort();
    run.done = (async () => {
      let status: EngineStatus = 'SUCCEEDED';
      let output: unknown;
      let error: string | undefined;
      let cause: string | undefined;
      try {
        output = await execution.result;
        if (run.stoppedBy) {
          status = 'ABORTED';
          error = run.stoppedBy.error;
          cause = run.stoppedBy.cause;
        }
      } catch (failure) {
        status = 'FAILED';
        const inner = (failure as { cause?: Error }).cause ?? (failure as Error);
        error = inner.name;
        cause = inner.message;
      }
      if (run.detached) return;
      this.rejectTokens(executionId, () => namedError('States.Runtime', `execution ${executionId} stopped`));
      this.runs.delete(executionId);
      const stoppedAt = this.options.clock.now().toISOString();
      // Stopped: the state it was in is no resume point any more (recover() resumes RUNNING only), and
      // the output goes to the status change, not to the journal (nothing reads it back from there).
      const entry = this.journal.update(executionId, ({ inFlight: _resumePoint, ...current }) => ({
        ...current,
        status,
        stoppedAt,
        ...(error ? { error } : {}),
        ...(cause ? { cause } : {}),
      }));
      if (!entry) return;
      // Others learn that it stopped (the learning recorder): only once the journal says so on disk.
      await this.flushJournal(executionId);
      await this.finished(runbookId, entry, output, inputJson);
    })();
    this.runs.set(executionId, run);
  }

  /** Tells the terminal, the dashboard and the learning recorder that an execution stopped. */
  private async finished(
    runbookId: string,
    entry: JournalEntry,
    output: unknown,
    inputJson?: string,
  ): Promise<void> {
    const { executionId, status, error, cause } = entry;
    if (status === 'RUNNING' || status === 'INTERRUPTED') return;
    try {
      this.options.onEvent?.({
        type: 'execution-finished',
        executionId,
        runbookId,
        status,
        ...(error ? { error } : {}),
        ...(cause ? { cause } : {}),
        at: Date.now(),
      });
    } catch (failure) {
      // The learning recorder hears of the stop whatever a terminal or dashboard listener did.
      this.options.logger.warn('engine progress event failed', { executionId, error: String(failure) });
    }
    if (!this.options.onStatusChange) return;
    await this.options
      .onStatusChange({
        executionArn: localExecutionArn(runbookId, executionId),
        stateMachineArn: localStateMachineArn(runbookId),
        name: executionId,
        status,
        startDate: new Date(entry.startedAt).getTime(),
        stopDate: new Date(entry.stoppedAt ?? entry.startedAt).getTime(),
        input: inputJson ?? JSON.stringify(entry.input),
        output: output === undefined || output === null ? null : JSON.stringify(output),
        error: error ?? null,
        cause: cause ?? null,
      })
      .catch((failure: unknown) =>
        this.options.logger.error('status change delivery failed', { executionId, error: String(failure) }),
      );
  }

  /** Invokes a Task state's function; a `.waitForTaskToken` task then waits for its token. */
  private async invokeTask(
    run: Run,
    executionId: string,
    name: string,
    state: State & { Type: 'Task' },
    input: unknown,
    changing: boolean,
    durable: boolean,
  ): Promise<unknown> {
    const { handlers } = this.options;
    // Journal a change before its function runs: a crash mid-change must not look like a safe state.
    if (changing) this.journal.update(executionId, (entry) => ({ ...entry, runningChange: name }));
    // A task that can change something or asks someone runs only once the state it runs in is on disk;
    // a read-only task runs at once (after a crash a resume may run it again, which changes nothing).
    if (durable) await this.journal.flush();
    try {
      if (state.Resource !== WAIT_FOR_TASK_TOKEN_RESOURCE) return await handlers.stepRunner(input);
      const { FunctionName, Payload } = input as { FunctionName: string; Payload: Record<string, unknown> };
      const token = `local:${executionId}:${randomUUID()}`;
      const waiting = new Promise<unknown>((resolve, reject) => {
        this.tokens.set(token, { executionId, resolve, reject });
      });
      waiting.catch(() => undefined);
      const handler = FunctionName.endsWith(`:${Substitution.ApprovalRequest}`)
        ? handlers.approvalRequest
        : handlers.stepRunner;
      try {
        await handler({ ...Payload, taskToken: token });
        return await waiting;
      } finally {
        this.tokens.delete(token);
      }
    } finally {
      // Finished after the platform detached the run (it is stopping): the journal keeps the change as
      // running, so the next start marks the execution interrupted rather than trusting it half-seen.
      if (changing && !run.detached) {
        this.journal.update(executionId, (entry) => {
          if (entry.runningChange !== name) return entry;
          const { runningChange: _done, ...rest } = entry;
          return rest;
        });
      }
    }
  }

  /** Rejects the tasks an execution still waits on (the error is made only when there is one). */
  private rejectTokens(executionId: string, error: () => Error): void {
    for (const [token, pending] of this.tokens) {
      if (pending.executionId !== executionId) continue;
      this.tokens.delete(token);
      pending.reject(error());
    }
  }

  async stop(runbookId: string, executionId: string, reason: TaskFailure): Promise<void> {
    const run = this.runs.get(executionId);
    if (run) {
      run.stoppedBy = { error: trim(reason.error, ERROR_LIMIT), cause: trim(reason.cause, CAUSE_LIMIT) };
      run.abort();
      this.rejectTokens(executionId, () => namedError(reason.error, reason.cause));
      await run.done;
      return;
    }
    // Interrupted by a restart and not resumed: an operator may still stop it for good.
    const entry = this.journal.read(executionId);
    if (entry?.status !== 'INTERRUPTED') return;
    const stopped = this.journal.update(executionId, ({ inFlight: _resumePoint, ...current }) => ({
      ...current,
      status: 'ABORTED',
      stoppedAt: this.options.clock.now().toISOString(),
      error: trim(reason.error, ERROR_LIMIT),
      cause: trim(reason.cause, CAUSE_LIMIT),
    }))!;
    await this.journal.flush();
    await this.finished(runbookId, stopped, null);
  }

  async describe(runbookId: string, executionId: string): Promise<ExecutionDescription | undefined> {
    const entry = this.journal.read(executionId);
    if (!entry || entry.runbookId !== runbookId) return undefined;
    return {
      executionId,
      engineRef: localExecutionArn(runbookId, executionId),
      status: entry.status === 'INTERRUPTED' ? 'RUNNING' : entry.status,
      startedAt: entry.startedAt,
      ...(entry.stoppedAt ? { stoppedAt: entry.stoppedAt } : {}),
      ...(entry.error ? { error: entry.error } : {}),
      ...(entry.cause ? { cause: entry.cause } : {}),
    };
  }

  private pending(taskToken: string): PendingToken {
    const pending = this.tokens.get(taskToken);
    if (!pending)
      throw new TaskTokenExpiredError(
        `task token …${taskToken.slice(-8)} is not awaited (the task finished, timed out or never existed)`,
      );
    return pending;
  }

  async sendTaskSuccess(taskToken: string, output: unknown): Promise<void> {
    const pending = this.pending(taskToken);
    assertPayload(output, `the output for task token …${taskToken.slice(-8)}`);
    this.tokens.delete(taskToken);
    pending.resolve(output);
  }

  async sendTaskFailure(taskToken: string, failure: TaskFailure): Promise<void> {
    const pending = this.pending(taskToken);
    this.tokens.delete(taskToken);
    pending.reject(namedError(trim(failure.error, ERROR_LIMIT), trim(failure.cause, CAUSE_LIMIT)));
  }

  /**
   * After a restart: every execution the journal says was running is resumed at the top-level state it
   * was in, with that state's input, unless a change was running (re-running it could repeat the change)
   * or that state no longer exists (the runbook was recompiled): then it is marked interrupted, and
   * resumeInterrupted() re-runs it on an operator's word. A compensation in flight is re-run: undoing
   * again is how a rollback finishes.
   */
  async recover(): Promise<{ resumed: string[]; interrupted: string[] }> {
    const resumed: string[] = [];
    const interrupted: string[] = [];
    for (const entry of this.journal.all()) {
      if (entry.status !== 'RUNNING' || this.runs.has(entry.executionId)) continue;
      await this.options.onRecovering?.(entry.executionId);
      const definition = this.options.definitions(entry.runbookId);
      const state = entry.inFlight?.state;
      const unsafe = !definition
        ? `its runbook ${entry.runbookId} is no longer compiled`
        : entry.runningChange
          ? `the platform stopped while "${entry.runningChange}" was changing something; re-running it could repeat the change`
          : state && !definition.States[state]
            ? `the runbook was recompiled and no longer has the state "${state}" the execution was in`
            : state && isMutatingStep(definition.States[state]!)
              ? `the platform stopped while "${state}" was changing something; re-running it could repeat the change`
              : undefined;
      if (unsafe) {
        this.journal.write({ ...entry, status: 'INTERRUPTED', interruptedReason: unsafe });
        await this.journal.flush();
        await this.options.onInterrupted?.(entry.executionId, unsafe);
        interrupted.push(entry.executionId);
        continue;
      }
      this.resume(entry, definition!);
      resumed.push(entry.executionId);
    }
    return { resumed, interrupted };
  }

  /** Re-runs an interrupted execution from the state it was in (an operator decided it is safe). */
  async resumeInterrupted(executionId: string): Promise<boolean> {
    const entry = this.journal.read(executionId);
    if (entry?.status !== 'INTERRUPTED') return false;
    const definition = this.options.definitions(entry.runbookId);
    const state = entry.inFlight?.state;
    if (!definition || (state && !definition.States[state])) return false;
    this.resume(entry, definition);
    return true;
  }

  private resume(entry: JournalEntry, definition: StateMachineDefinition): void {
    const state = entry.inFlight?.state;
    const input = state ? entry.inFlight!.input : entry.input;
    const rooted = state ? rootedAt(definition, state) : definition;
    const { runningChange: _stale, ...rest } = entry;
    this.journal.write({ ...rest, status: 'RUNNING', resumed: entry.resumed + 1 });
    this.options.logger.info('resuming execution', {
      executionId: entry.executionId,
      state: state ?? rooted.StartAt,
    });
    this.launch(entry.runbookId, entry.executionId, rooted, input);
  }

  /** Executions running in this process. */
  running(): string[] {
    return [...this.runs.keys()];
  }

  /** Stops every run without recording a stop (the platform is shutting down; the journal resumes them). */
  async shutdown(): Promise<void> {
    const runs = [...this.runs.entries()];
    this.runs.clear();
    for (const [executionId, run] of runs) {
      run.detached = true;
      run.abort();
      this.rejectTokens(executionId, () => namedError('States.Runtime', 'the platform is stopping'));
    }
    await Promise.all(runs.map(([, run]) => run.done));
    await this.journal.close();
  }

  /** Waits for the journal's disk; a failing disk is logged, and the run goes on from memory. */
  private async flushJournal(executionId: string): Promise<void> {
    await this.journal
      .flush()
      .catch((error: unknown) =>
        this.options.logger.error('engine journal write failed', { executionId, error: String(error) }),
      );
  }
}

/** The subset of the Amazon States Language (JSONPath) the compiler emits. */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}

export interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

interface Flow {
  Next?: string;
  End?: true;
  Comment?: string;
  InputPath?: string;
  OutputPath?: string;
}

export interface TaskState extends Flow {
  Type: 'Task';
  Resource: string;
  Parameters?: JsonObject;
  TimeoutSeconds: number;
  Retry?: Retrier[];
  Catch?: Catcher[];
  ResultSelector?: JsonObject;
  ResultPath?: string | null;
}

export interface ParallelState extends Flow {
  Type: 'Parallel';
  Branches: StateMachineDefinition[];
  ResultSelector?: JsonObject;
  ResultPath?: string | null;
  Retry?: Retrier[];
  Catch?: Catcher[];
}

export interface PassState extends Flow {
  Type: 'Pass';
  Result?: JsonValue;
  Parameters?: JsonObject;
  ResultPath?: string | null;
}

export type ChoiceRule = { [key: string]: JsonValue | ChoiceRule | ChoiceRule[] } & { Next?: string };

export interface ChoiceState {
  Type: 'Choice';
  Comment?: string;
  Choices: ChoiceRule[];
  Default?: string;
}

export interface SucceedState {
  Type: 'Succeed';
  Comment?: string;
}

export interface FailState {
  Type: 'Fail';
  Comment?: string;
  Error?: string;
  Cause?: string;
  ErrorPath?: string;
  CausePath?: string;
}

export interface WaitState extends Flow {
  Type: 'Wait';
  Seconds: number;
}

/** An inline Map (the rollback machine undoes a list of changes one at a time). */
export interface MapState extends Flow {
  Type: 'Map';
  ItemsPath?: string;
  ItemSelector?: JsonObject;
  MaxConcurrency?: number;
  ItemProcessor: StateMachineDefinition & { ProcessorConfig?: { Mode: 'INLINE' } };
  ResultSelector?: JsonObject;
  ResultPath?: string | null;
  Retry?: Retrier[];
  Catch?: Catcher[];
}

export type State =
  | TaskState
  | ParallelState
  | MapState
  | PassState
  | ChoiceState
  | WaitState
  | SucceedState
  | FailState;

export interface StateMachineDefinition {
  Comment?: string;
  StartAt: string;
  States: Record<string, State>;
}

/** Every state of a definition, including those inside Parallel branches, with its name. */
export function* walkStates(definition: StateMachineDefinition): Generator<[string, State]> {
  for (const [name, state] of Object.entries(definition.States)) {
    yield [name, state];
    if (state.Type === 'Parallel') for (const branch of state.Branches) yield* walkStates(branch);
    if (state.Type === 'Map') yield* walkStates(state.ItemProcessor);
  }
}

/** Names of the states a state can move to (Next, Default, Choices, Catch). */
export function transitions(state: State): string[] {
  const targets: string[] = [];
  if ('Next' in state && state.Next) targets.push(state.Next);
  if (state.Type === 'Choice') {
    for (const choice of state.Choices) if (choice.Next) targets.push(choice.Next);
    if (state.Default) targets.push(state.Default);
  }
  if ('Catch' in state && state.Catch) for (const catcher of state.Catch) targets.push(catcher.Next);
  return [...new Set(targets)];
}

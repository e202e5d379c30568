import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { StateMachine } from 'aws-local-stepfunctions';
import { afterAll, bench, describe } from 'vitest';
import { LocalExecutionEngine } from '../../functions/adapters/local/local-engine.ts';
import { type StateMachineDefinition, walkStates } from '../../functions/core/compiler/asl.ts';
import type { ExecutionInput } from '../../functions/core/execution-contract.ts';
import { systemClock } from '../../functions/ports/clock.ts';
import { silentLogger } from '../../functions/ports/logger.ts';
import { sampleInput } from '../support/rehearsal.ts';
import { compileFile } from '../support/runbooks.ts';

/**
 * Goal 1 of issue 14: the embedded engine's overhead per state transition against bare
 * aws-local-stepfunctions running the same compiled definition with the same stub Task handlers,
 * measured in the same run. The engine runs with its journal on disk (persistence on), as `npm start`
 * does; Wait states take 0 ms on both sides. One iteration = one execution of node-memory-pressure
 * (diagnose, checkpoint, restart, wait, verify, record); per transition = its time / states entered.
 */

const RUNBOOK = 'node-memory-pressure';
const definition = compileFile('test/fixtures/library/runbooks/node-memory-pressure.yaml').definition;
const OUTPUTS: Record<string, unknown> = {
  'node-registered': { name: 'ip-10-0-1-23.eu-west-1.compute.internal' },
  'node-resources': { memoryPressure: true, usage: { memoryPercent: 93 } },
  'top-pods': {
    pods: [
      {
        name: 'web-7d9f8-abcde',
        namespace: 'shop',
        ownerKind: 'Deployment',
        ownerName: 'web',
        memoryShare: 0.72,
      },
    ],
  },
  'pressure-cleared': { memoryPressure: false },
};

type Payload = Record<string, unknown> & { kind: string; taskToken?: string };

/** What each task kind answers (as the engine integration test's stubs). */
function answer(payload: Payload): unknown {
  switch (payload.kind) {
    case 'step':
      return { status: 'succeeded', output: OUTPUTS[String((payload.step as { id: string }).id)] ?? {} };
    case 'checkpoint':
      return {};
    case 'approval':
      return { approvedBy: ['bench@example.com'] };
    case 'verify-alert':
      return { resolved: true };
    case 'compensate':
      return { status: 'compensated' };
    case 'waited':
      return { status: 'succeeded', output: null };
    case 'escalate':
      return { notified: ['sre-pager'] };
    default:
      return {};
  }
}

let counter = 0;
function input(): ExecutionInput {
  const id = `bench-${++counter}`;
  const sample = sampleInput({ environment: 'dev', approvalRiskThreshold: 99 });
  return { ...sample, execution: { ...sample.execution, id, runbookId: RUNBOOK } };
}

/** Bare aws-local-stepfunctions: the definition with local handlers per Task state, nothing else. */
function bareMachine(compiled: StateMachineDefinition) {
  const substituted = JSON.parse(
    JSON.stringify(compiled).replace(
      /\$\{([A-Za-z0-9]+)\}/g,
      (_m, name: string) => `arn:aws:lambda:local:000000000000:function:${name}`,
    ),
  ) as StateMachineDefinition;
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  const waits: Record<string, number> = {};
  for (const [name, state] of walkStates(substituted)) {
    if (state.Type === 'Wait') waits[name] = 0;
    if (state.Type === 'Task')
      handlers[name] = async (taskInput) => {
        const event = taskInput as { Payload?: Payload } & Payload;
        return answer(event.Payload ?? event);
      };
  }
  const machine = new StateMachine(substituted as never, { validationOptions: { checkArn: false } });
  return (executionInput: unknown) =>
    machine.run(executionInput as never, {
      // The context a Task reading $$.Task.Token needs (the engine passes the same and more).
      context: { Task: { Token: 'local' } },
      overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: waits },
    }).result;
}

const dataDir = mkdtempSync(join(tmpdir(), 'runbook-engine-bench-'));
let transitions = 0;
let counting = true;
const engine = new LocalExecutionEngine({
  definitions: () => definition,
  handlers: {
    stepRunner: async (event) => {
      const payload = event as Payload;
      if (payload.taskToken) {
        await engine.sendTaskSuccess(payload.taskToken, answer(payload));
        return {};
      }
      return answer(payload);
    },
    approvalRequest: async (event) => {
      const payload = event as Payload;
      await engine.sendTaskSuccess(payload.taskToken!, answer(payload));
      return {};
    },
  },
  dataDir,
  clock: systemClock,
  logger: silentLogger,
  onEvent: (event) => {
    if (counting && event.type === 'state-entered') transitions++;
  },
  onStatusChange: async (detail) => {
    finished.get(detail.name)?.(detail.status);
  },
  waitScale: 1e-9,
});
const finished = new Map<string, (status: string) => void>();

async function runOnEngine(): Promise<void> {
  const executionInput = input();
  const done = new Promise<string>((resolve) => finished.set(executionInput.execution.id, resolve));
  await engine.start({ runbookId: RUNBOOK, name: executionInput.execution.id, input: executionInput });
  const status = await done;
  finished.delete(executionInput.execution.id);
  if (status !== 'SUCCEEDED') throw new Error(`engine execution ended ${status}`);
}

const runBare = bareMachine(definition);
// Every execution takes the same path: the states one enters, counted by the engine on a first run.
await runOnEngine();
const perExecution = transitions;
counting = false;
const times = {
  bare: [] as number[],
  engine: [] as number[],
  bareConcurrent: [] as number[],
  engineConcurrent: [] as number[],
};
const CONCURRENT = 50;
const timed = async (into: number[], work: () => Promise<unknown>) => {
  const t0 = performance.now();
  await work();
  into.push(performance.now() - t0);
};

describe('local engine overhead per state transition (persistence on) vs bare aws-local-stepfunctions', () => {
  bench('bare aws-local-stepfunctions: one execution', () => timed(times.bare, () => runBare(input())), {
    iterations: 300,
    warmupIterations: 30,
    time: 0,
    throws: true,
    warmupTime: 0,
  });
  bench('LocalExecutionEngine, journal on disk: one execution', () => timed(times.engine, runOnEngine), {
    iterations: 300,
    warmupIterations: 30,
    time: 0,
    throws: true,
    warmupTime: 0,
  });
  bench(
    `bare aws-local-stepfunctions: ${CONCURRENT} concurrent executions`,
    () =>
      timed(times.bareConcurrent, () =>
        Promise.all(Array.from({ length: CONCURRENT }, () => runBare(input()))),
      ),
    { iterations: 10, warmupIterations: 2, time: 0, throws: true, warmupTime: 0 },
  );
  bench(
    `LocalExecutionEngine, journal on disk: ${CONCURRENT} concurrent executions`,
    () => timed(times.engineConcurrent, () => Promise.all(Array.from({ length: CONCURRENT }, runOnEngine))),
    { iterations: 10, warmupIterations: 2, time: 0, throws: true, warmupTime: 0 },
  );
});

afterAll(async () => {
  await engine.shutdown();
  rmSync(dataDir, { recursive: true, force: true });
  const executions = counter;
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const us = (ms: number) => (ms * 1000) / perExecution;
  const bare = us(median(times.bare));
  const local = us(median(times.engine));
  const bareWave = us(median(times.bareConcurrent) / CONCURRENT);
  const localWave = us(median(times.engineConcurrent) / CONCURRENT);
  console.log(
    [
      '',
      `Local engine overhead (${perExecution.toFixed(0)} states entered per execution, ${executions} executions, medians)`,
      '| figure | bare aws-local-stepfunctions (reference) | LocalExecutionEngine, journal on disk | ratio | goal |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| per state transition, one execution at a time | ${bare.toFixed(1)} µs | ${local.toFixed(1)} µs | ${(local / bare).toFixed(2)}× | ≤ 1.5× |`,
      `| per state transition, ${CONCURRENT} executions at once | ${bareWave.toFixed(1)} µs | ${localWave.toFixed(1)} µs | ${(localWave / bareWave).toFixed(2)}× | ≤ 1.5× |`,
      '',
    ].join('\n'),
  );
});

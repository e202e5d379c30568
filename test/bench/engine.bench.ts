import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
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
 * does; Wait states take 0 ms on both sides. One execution = node-memory-pressure (diagnose,
 * checkpoint, restart, wait, verify, record); per transition = its time / states entered. Both sides get
 * the same input, stub answers and warm-up, alternating execution by execution.
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

/**
 * The two sides alternate, execution by execution (and wave by wave), so both see the same machine
 * load, heap and JIT state; each alternation swaps which side goes first. A round is ROUND_SIZE such
 * pairs: its ratio is of the two sides' medians in it, and the spread of those ratios over the rounds
 * says how far the figure moves with the load. CPU time (process.cpuUsage: the main thread, GC and the
 * thread pool) is summed per side as well: it moves less with other processes' load than wall time.
 */
const PAIRS = 600;
const ROUND_SIZE = 40;
const CONCURRENT = 50;
const WAVES = 12;
interface Side {
  wall: number[];
  cpu: number[];
}
const side = (): Side => ({ wall: [], cpu: [] });
const single = { bare: side(), engine: side() };
const waves = { bare: side(), engine: side() };
let pairs = 0;
let wavePairs = 0;

async function measure(into: Side, work: () => Promise<unknown>): Promise<void> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await work();
  into.wall.push(performance.now() - t0);
  const used = process.cpuUsage(cpu);
  into.cpu.push((used.user + used.system) / 1000);
}

const bareWave = () => Promise.all(Array.from({ length: CONCURRENT }, () => runBare(input())));
const engineWave = () => Promise.all(Array.from({ length: CONCURRENT }, runOnEngine));

describe('local engine overhead per state transition (persistence on) vs bare aws-local-stepfunctions', () => {
  bench(
    'one execution on each, alternating: bare aws-local-stepfunctions and LocalExecutionEngine (journal on disk)',
    async () => {
      const bareFirst = pairs++ % 2 === 0;
      if (bareFirst) await measure(single.bare, () => runBare(input()));
      await measure(single.engine, runOnEngine);
      if (!bareFirst) await measure(single.bare, () => runBare(input()));
    },
    { iterations: PAIRS, warmupIterations: 60, time: 0, throws: true, warmupTime: 0 },
  );
  bench(
    `${CONCURRENT} concurrent executions on each, alternating waves`,
    async () => {
      const bareFirst = wavePairs++ % 2 === 0;
      if (bareFirst) await measure(waves.bare, bareWave);
      await measure(waves.engine, engineWave);
      if (!bareFirst) await measure(waves.bare, bareWave);
    },
    { iterations: WAVES, warmupIterations: 2, time: 0, throws: true, warmupTime: 0 },
  );
});

const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * q))] ?? NaN;
const median = (values: number[]) => quantile(values, 0.5);
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

afterAll(async () => {
  await engine.shutdown();
  rmSync(dataDir, { recursive: true, force: true });
  const executions = counter;
  // Warm-up runs went into the arrays too: only the measured ones count.
  const measured = (values: number[], count: number) => values.slice(values.length - count);
  const bare = { wall: measured(single.bare.wall, PAIRS), cpu: measured(single.bare.cpu, PAIRS) };
  const local = { wall: measured(single.engine.wall, PAIRS), cpu: measured(single.engine.cpu, PAIRS) };
  const rounds = Array.from({ length: Math.floor(PAIRS / ROUND_SIZE) }, (_, index) => {
    const slice = (values: number[]) => values.slice(index * ROUND_SIZE, (index + 1) * ROUND_SIZE);
    return {
      wall: median(slice(local.wall)) / median(slice(bare.wall)),
      cpu: sum(slice(local.cpu)) / sum(slice(bare.cpu)),
    };
  });
  const bareWaves = { wall: measured(waves.bare.wall, WAVES), cpu: measured(waves.bare.cpu, WAVES) };
  const localWaves = { wall: measured(waves.engine.wall, WAVES), cpu: measured(waves.engine.cpu, WAVES) };
  const waveRatios = bareWaves.wall.map((wall, index) => localWaves.wall[index]! / wall);
  const waveCpuRatios = bareWaves.cpu.map((cpu, index) => localWaves.cpu[index]! / cpu);
  const us = (ms: number) => (ms * 1000) / perExecution;
  const spread = (ratios: number[]) =>
    `${quantile(ratios, 0.25).toFixed(2)}–${quantile(ratios, 0.75).toFixed(2)}×`;
  const row = (figure: string, bareMs: number, localMs: number, ratios: number[]) =>
    `| ${figure} | ${us(bareMs).toFixed(1)} µs | ${us(localMs).toFixed(1)} µs | **${(localMs / bareMs).toFixed(2)}×** | ${spread(ratios)} | ≤ 1.5× |`;
  console.log(
    [
      '',
      `Local engine overhead (${perExecution.toFixed(0)} states entered per execution, ${executions} executions; ${PAIRS} alternating pairs one at a time, in ${rounds.length} rounds of ${ROUND_SIZE}; ${WAVES} alternating pairs of waves of ${CONCURRENT}; load average ${loadavg()[0]!.toFixed(1)} at the end)`,
      '| figure (per state transition) | bare aws-local-stepfunctions (reference) | LocalExecutionEngine, journal on disk | ratio | p25–p75 over rounds | goal |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      row(
        'one execution at a time, wall time (medians)',
        median(bare.wall),
        median(local.wall),
        rounds.map((round) => round.wall),
      ),
      row(
        'one execution at a time, CPU time (means)',
        sum(bare.cpu) / PAIRS,
        sum(local.cpu) / PAIRS,
        rounds.map((round) => round.cpu),
      ),
      row(
        `${CONCURRENT} executions at once, wall time (medians of waves)`,
        median(bareWaves.wall) / CONCURRENT,
        median(localWaves.wall) / CONCURRENT,
        waveRatios,
      ),
      row(
        `${CONCURRENT} executions at once, CPU time (means of waves)`,
        sum(bareWaves.cpu) / WAVES / CONCURRENT,
        sum(localWaves.cpu) / WAVES / CONCURRENT,
        waveCpuRatios,
      ),
      '',
    ].join('\n'),
  );
});

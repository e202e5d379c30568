import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RunbookAutopilotError } from '../../functions/core/errors.ts';
import type {
  DemoScenario,
  EnvironmentAlarms,
  EnvironmentEndpoints,
  EnvironmentRequests,
  MonitoringMode,
  SeenAlert,
} from '../sim/environment.ts';

/**
 * The demo target: the simulated environment (local/sim) in its own process, on 127.0.0.1 only, that
 * the real tool code talks to over the real protocols. It is labelled as a demo target everywhere it
 * shows up (its banner, its kubeconfig context, every Alertmanager body's labels). `runbook demo`
 * forks it with `launchDemoTarget`; run alone:
 * `node --import tsx local/demo/target.ts [--data DIR] [--receiver URL] [--scenario a,b] [--monitoring auto|real|fallback]`.
 */

export {
  DEMO_ACCOUNT,
  DEMO_CLUSTER,
  DEMO_CONTEXT,
  DEMO_NODES,
  DEMO_REGION,
} from '../sim/cluster.ts';
export type {
  DemoScenario,
  EnvironmentEndpoints as DemoTargetEndpoints,
  EnvironmentRequests as DemoTargetRequests,
};

export class DemoTargetError extends RunbookAutopilotError {
  override readonly name = 'DemoTargetError';
}

const TARGET_FILE = fileURLToPath(import.meta.url);

/** Messages the target process sends its parent over the IPC channel. */
type TargetMessage =
  | { type: 'ready'; endpoints: EnvironmentEndpoints; mode: MonitoringMode; fallbackReason?: string }
  | { type: 'failed'; message: string };

interface TargetArguments {
  dataDir: string;
  receiverUrl?: string;
  scenarios?: string[];
  monitoring: 'auto' | MonitoringMode;
}

function parseArguments(args: string[]): TargetArguments {
  const parsed: TargetArguments = { dataDir: resolve('.runbook', 'demo'), monitoring: 'auto' };
  const usage =
    'usage: target.ts [--data DIR] [--receiver URL] [--scenario a,b] [--monitoring auto|real|fallback]';
  for (let index = 0; index < args.length; index += 2) {
    const arg = args[index]!;
    const value = args[index + 1];
    if (value === undefined) throw new DemoTargetError(`${arg} needs a value; ${usage}`);
    if (arg === '--data') parsed.dataDir = resolve(value);
    else if (arg === '--receiver') parsed.receiverUrl = value;
    else if (arg === '--scenario') parsed.scenarios = value.split(',').filter(Boolean);
    else if (arg === '--monitoring') {
      if (value !== 'auto' && value !== 'real' && value !== 'fallback')
        throw new DemoTargetError(`--monitoring takes auto, real or fallback, got "${value}"`);
      parsed.monitoring = value;
    } else throw new DemoTargetError(`unknown argument ${arg}; ${usage}`);
  }
  return parsed;
}

/** The process entry: start, print the banner, tell the parent, run until told to stop. */
async function main(args: string[]): Promise<void> {
  const send = (message: TargetMessage) => process.send?.(message);
  const { SimulatedEnvironment } = await import('../sim/environment.ts');
  let environment: Awaited<ReturnType<typeof SimulatedEnvironment.start>>;
  try {
    const options = parseArguments(args);
    environment = await SimulatedEnvironment.start({
      dataDir: options.dataDir,
      monitoring: options.monitoring,
      monitoringInBackground: true,
      ...(options.scenarios ? { scenarios: options.scenarios } : {}),
      ...(options.receiverUrl ? { receiverUrl: options.receiverUrl } : {}),
      print: (line) => process.stdout.write(`${line}\n`),
    });
  } catch (error) {
    const message = (error as Error).message;
    process.stderr.write(`demo target: ${message}\n`);
    send({ type: 'failed', message });
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${environment.banner()}\n`);
  send({
    type: 'ready',
    endpoints: environment.endpoints,
    mode: environment.mode,
    ...(environment.fallbackReason ? { fallbackReason: environment.fallbackReason } : {}),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void environment.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  if (process.send) {
    // Under `runbook demo` the parent decides when to stop (Ctrl-C reaches both); if it dies, stop too.
    process.on('SIGINT', () => {});
    process.on('disconnect', stop);
  } else {
    process.on('SIGINT', stop);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === TARGET_FILE) {
  void main(process.argv.slice(2));
}

export interface LaunchedDemoTarget {
  pid: number;
  endpoints: EnvironmentEndpoints;
  /** Real Prometheus and Alertmanager, or the fallback. */
  mode: MonitoringMode;
  /** Why the fallback runs (what is missing and how to install it). */
  fallbackReason?: string;
  /** Resolves with the exit code when the process has exited. */
  exited: Promise<number | null>;
  scenarios(): Promise<DemoScenario[]>;
  setReceiver(url: string): Promise<void>;
  requests(): Promise<EnvironmentRequests>;
  alerts(): Promise<SeenAlert[]>;
  /** The simulated account's CloudWatch alarms and the state changes delivered to the platform. */
  alarms(): Promise<EnvironmentAlarms>;
  /** The real Alertmanager's webhook notifications, sent and failed (undefined in the fallback). */
  alertmanagerNotifications(): Promise<{ sent: number; failed: number } | undefined>;
  /** Stops the process (SIGTERM, then SIGKILL after a few seconds). */
  stop(): Promise<void>;
}

/** The tsx loader as a file URL: `--import tsx` would resolve from the user's directory, not ours. */
function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

/**
 * Forks the demo target as its own process (Node with the tsx loader, so it runs from the sources like
 * the `runbook` bin) and waits until it listens. Its output goes to `print`, one line at a time.
 */
export async function launchDemoTarget(options: {
  dataDir: string;
  print: (line: string) => void;
  scenarios?: readonly string[];
  monitoring?: 'auto' | MonitoringMode;
  startTimeoutMs?: number;
}): Promise<LaunchedDemoTarget> {
  const args = ['--data', options.dataDir, '--monitoring', options.monitoring ?? 'auto'];
  if (options.scenarios) args.push('--scenario', options.scenarios.join(','));
  const child: ChildProcess = fork(TARGET_FILE, args, {
    execArgv: ['--import', tsxLoader()],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 50) lines.shift();
      options.print(line);
    });
  }
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const ready = await new Promise<Extract<TargetMessage, { type: 'ready' }>>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new DemoTargetError(`the demo target did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (message: TargetMessage) => {
      clearTimeout(timer);
      if (message.type === 'ready') resolveReady(message);
      else reject(new DemoTargetError(`the demo target did not start: ${message.message}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new DemoTargetError(`cannot start the demo target: ${error.message}`, { cause: error }));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new DemoTargetError(
          `the demo target exited (code ${code}) before it was ready: ${lines.slice(-5).join(' | ')}`,
        ),
      );
    });
  });
  const { endpoints } = ready;
  const control = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(new URL(path, endpoints.control), {
      ...init,
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new DemoTargetError(`demo target ${path}: ${body.error ?? response.status}`);
    return body;
  };
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    endpoints,
    mode: ready.mode,
    ...(ready.fallbackReason ? { fallbackReason: ready.fallbackReason } : {}),
    exited,
    scenarios: async () => (await control<{ scenarios: DemoScenario[] }>('/scenarios')).scenarios,
    setReceiver: async (url) => {
      await control('/receiver', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url }),
      });
    },
    requests: () => control<EnvironmentRequests>('/requests'),
    alerts: async () => (await control<{ alerts: SeenAlert[] }>('/alerts')).alerts,
    alarms: () => control<EnvironmentAlarms>('/alarms'),
    alertmanagerNotifications: async () =>
      (await control<{ notifications?: { sent: number; failed: number } }>('/alerts')).notifications,
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

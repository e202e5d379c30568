import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { EngineEvent } from '../functions/adapters/local/local-engine.ts';
import {
  createLocalPlatform,
  type LocalPlatform,
  type LocalPlatformOptions,
} from '../functions/composition/local.ts';
import { walkStates } from '../functions/core/compiler/asl.ts';
import { RuntimeConfig } from '../functions/core/config.ts';
import { RunbookAutopilotError } from '../functions/core/errors.ts';
import type { Notification } from '../functions/core/records.ts';
import type { Clock } from '../functions/ports/clock.ts';
import type { Logger } from '../functions/ports/logger.ts';
import { cdkJsonPath, loadEnvironmentConfig, loadPolicies } from './project.ts';
import { loadRunbookCatalog, type RunbookCatalogEntry } from './runbook-catalog.ts';
import { startHttpServer } from './server.ts';
import { notificationLines, ProgressPrinter, terminalLine } from './terminal.ts';

export interface PlatformOptions {
  cwd: string;
  port: number;
  /** Always 127.0.0.1 unless a test says otherwise; the platform is not meant to be exposed. */
  host?: string;
  dataDir: string;
  inMemory?: boolean;
  token?: string;
  /** Names besides 127.0.0.1/localhost/[::1] the server answers for (`--allowed-host`). */
  allowedHosts?: readonly string[];
  environment: string;
  /**
   * Make changes. Without it every execution is a dry run: read-only steps run for real, mutating
   * tools only check what they would do (Kubernetes dryRun=All, EC2 DryRun, …) and change nothing.
   */
  live: boolean;
  runbooksDir?: string;
  statemachinesDir?: string;
  /** Tool endpoints and other overrides (the demo points tools at its simulated environment). */
  configOverrides?: Partial<RuntimeConfig>;
  kubeConfigFactory?: () => KubeConfig;
  /** Shortens runbook.wait, 0 < scale ≤ 1 (`runbook demo --wait-scale`); default: full waits. */
  waitScale?: number;
  /** AWS client endpoints and credentials (the demo's simulated AWS); default: the SDK's own. */
  aws?: LocalPlatformOptions['aws'];
  retryIntervalMs?: number;
  /** How often approval reminders are due-checked; default 15 s. */
  reminderIntervalMs?: number;
  /** How often alerts deferred behind an expired change lock are looked for (default every minute). */
  deferredSweepIntervalMs?: number;
  /** One line of terminal output. */
  print: (line: string) => void;
  /** Structured logs (default: warnings and errors printed). */
  logger?: Logger;
  /** Every state the engine enters, leaves or fails, as it happens (after the terminal line is printed). */
  onEngineEvent?: (event: EngineEvent) => void;
  /** Every notification as the outbox takes it (after its terminal lines): a receiver's view of delivery. */
  onNotification?: (notification: Notification) => void;
  /** The platform's clock (tests move it: business hours, budget windows); default: the system's. */
  clock?: Clock;
}

export interface RunningPlatform {
  url: string;
  platform: LocalPlatform;
  catalog: () => RunbookCatalogEntry[];
  recovery: { resumed: string[]; interrupted: string[] };
  stop: () => Promise<void>;
}

/** Starts the embedded platform: database, engine, handlers, HTTP server; resumes what was running. */
export async function startPlatform(options: PlatformOptions): Promise<RunningPlatform> {
  const host = options.host ?? '127.0.0.1';
  // Every line, whatever it carries (a label value, an error with an id in it), fits a terminal.
  const print = (line: string) => options.print(terminalLine(line));
  const cdkJson = cdkJsonPath(options.cwd);
  const environment = loadEnvironmentConfig(cdkJson, options.environment);
  const catalog = await loadRunbookCatalog({
    cwd: options.cwd,
    runbooksDir: resolve(options.cwd, options.runbooksDir ?? 'runbooks'),
    statemachinesDir: resolve(options.cwd, options.statemachinesDir ?? 'statemachines'),
    policies: loadPolicies(cdkJson),
    log: print,
  });
  const runnable = catalog.filter((entry) => entry.runbook && entry.definition);
  if (runnable.length === 0)
    throw new RunbookAutopilotError('no valid runbook to run; fix the problems above (npx runbook validate)');
  const logger: Logger = options.logger ?? {
    debug: () => {},
    info: () => {},
    warn: (message, data) => print(`warn   ${message}${data ? ` ${JSON.stringify(data)}` : ''}`),
    error: (message, data) => print(`error  ${message}${data ? ` ${JSON.stringify(data)}` : ''}`),
  };
  // The public base URL needs the port, known only once the server listens: reserve it first.
  const placeholder = `http://${host}:${options.port || 1}/`;
  const baseConfig = RuntimeConfig.parse({
    environment: options.environment,
    publicBaseUrl: placeholder,
    policy: environment.policy,
    approverGroups: environment.approverGroups,
    escalationTargets: environment.escalationTargets,
    changeFreezeWindows: environment.changeFreezeWindows,
    ...(environment.tools ? { tools: environment.tools } : {}),
    runbookParameters: environment.runbookParameters,
    ignoredAlerts: environment.ignoredAlerts,
    automation: environment.automation,
    ...(environment.approvals.linkTtl === undefined
      ? {}
      : { approvalLinkTtlSeconds: environment.approvals.linkTtl }),
    ...(environment.approvals.reminderAfter === undefined
      ? {}
      : {
          approvalReminderSeconds:
            environment.approvals.reminderAfter === 'off' ? 0 : environment.approvals.reminderAfter,
        }),
    ...options.configOverrides,
    dryRun: !options.live,
  });
  let platform: LocalPlatform | undefined;
  // runbook.wait steps: a Task whose next state is the Wait state the compiler put after it.
  const waitSteps = new Set(
    runnable.flatMap((entry) =>
      [...walkStates(entry.definition!)]
        .filter(([, state]) => state.Type === 'Task' && state.Next?.startsWith('Wait: '))
        .map(([name]) => `${entry.id}\u0000${name}`),
    ),
  );
  const progress = new ProgressPrinter((runbookId, state) => waitSteps.has(`${runbookId}\u0000${state}`));
  // One per start: the dashboard and the approval pages carry it; a browser change without it is refused.
  const csrfToken = randomBytes(32).toString('base64url');
  const server = await startHttpServer({
    get platform() {
      if (!platform) throw new Error('the platform is starting');
      return platform;
    },
    host,
    port: options.port,
    ...(options.token ? { token: options.token } : {}),
    ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
    csrfToken,
    runbooks: () => catalog,
    log: print,
  });
  try {
    platform = await createLocalPlatform({
      dataDir: options.dataDir,
      inMemory: options.inMemory ?? false,
      publicBaseUrl: server.url,
      ...(options.token ? { token: options.token } : {}),
      formToken: csrfToken,
      config: baseConfig,
      ...(options.clock ? { clock: options.clock } : {}),
      runbooks: () => runnable.map((entry) => entry.runbook!),
      definitions: (runbookId) => runnable.find((entry) => entry.id === runbookId)?.definition,
      logger,
      onEngineEvent: (event) => {
        const line = progress.line(event);
        if (line) print(line);
        options.onEngineEvent?.(event);
      },
      onNotification: (notification) => {
        for (const line of notificationLines(notification)) print(line);
        options.onNotification?.(notification);
      },
      ...(options.retryIntervalMs === undefined ? {} : { retryIntervalMs: options.retryIntervalMs }),
      ...(options.reminderIntervalMs === undefined ? {} : { reminderIntervalMs: options.reminderIntervalMs }),
      ...(options.deferredSweepIntervalMs === undefined
        ? {}
        : { deferredSweepIntervalMs: options.deferredSweepIntervalMs }),
      ...(options.kubeConfigFactory ? { kubeConfigFactory: options.kubeConfigFactory } : {}),
      ...(options.waitScale === undefined ? {} : { waitScale: options.waitScale }),
      ...(options.aws ? { aws: options.aws } : {}),
    });
  } catch (error) {
    await server.close();
    throw error;
  }
  const recovery = await platform.engine.recover();
  for (const id of recovery.resumed) print(`resumed ${id} where it stopped`);
  for (const id of recovery.interrupted)
    print(`interrupted ${id}: resume it with POST /api/executions/${id}/resume, or abort it`);
  const started = platform;
  return {
    url: server.url,
    platform: started,
    catalog: () => catalog,
    recovery,
    async stop() {
      await server.close();
      await started.stop();
    },
  };
}

export function defaultDataDir(cwd: string): string {
  return join(cwd, '.runbook');
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineEvent } from '../../functions/adapters/local/local-engine.ts';
import type { Notification } from '../../functions/core/records.ts';
import { DEMO_ENVIRONMENT, demoAwsOptions, demoToolConfig } from '../../local/demo/demo.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { PACKAGE_ROOT } from '../../local/project.ts';
import { SimulatedEnvironment } from '../../local/sim/environment.ts';
import { type ChildPlatform, startChildPlatform } from '../support/child-platform.ts';
import type { Json } from '../support/json.ts';

/**
 * One scenario's world: the simulated environment with the real Prometheus and Alertmanager, and the
 * embedded platform whose webhook Alertmanager posts to. Nothing is posted to the platform by the
 * runner except what a scenario says (approvals, a replayed storm, an operator's pause).
 */

export const TERMINAL = new Set(['succeeded', 'failed', 'aborted', 'interrupted']);

export interface SessionOptions {
  simScenarios: readonly string[];
  runbooksDir: string;
  statemachinesDir: string;
  waitScale: number;
  /** The platform in a child process (test/support/child-platform.ts) a scenario can kill -9. */
  child?: boolean;
}

/** What reached the scenario's receiver, each stamped on arrival with the receiver's clock. */
export interface Sink {
  /** Notifications as the platform's notifier handed them over (the embedded outbox: SNS's place locally). */
  notifications: Array<{
    id: string;
    kind: string;
    executionId?: string;
    links: string[];
    arrivedAt: number;
  }>;
  /** Approval Task states entered: the engine mints the approval's task token as it enters one. */
  approvalStates: Array<{ executionId: string; state: string; at: number }>;
  /** Resolves on the next notification (or after `ms`): the harness answers as a person would, on arrival. */
  next(ms: number): Promise<void>;
}

/** The compiler names approval Task states `Approval: <step or phase>` (StateName.approval). */
const APPROVAL_STATE = /^Approval: /;

function openSink(): Sink & {
  arrived: (notification: Notification) => void;
  entered: (event: EngineEvent) => void;
} {
  let wake: Array<() => void> = [];
  const sink = {
    notifications: [] as Sink['notifications'],
    approvalStates: [] as Sink['approvalStates'],
    next(ms: number) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    arrived(notification: Notification) {
      sink.notifications.push({
        id: notification.id,
        kind: notification.kind,
        ...(notification.executionId ? { executionId: notification.executionId } : {}),
        links: (notification.links ?? []).map((link) => link.url),
        arrivedAt: Date.now(),
      });
      const waiting = wake;
      wake = [];
      for (const resolve of waiting) resolve();
    },
    entered(event: EngineEvent) {
      if (event.type === 'state-entered' && APPROVAL_STATE.test(event.state))
        sink.approvalStates.push({ executionId: event.executionId, state: event.state, at: Date.now() });
    },
  };
  return sink;
}

export interface Session {
  /** The receiver's view: notifications on arrival, approval tasks as they start (in-process platform only). */
  sink: Sink;
  environment: SimulatedEnvironment;
  /** The in-process platform (after a restart, for a child session). */
  platform: RunningPlatform;
  url: string;
  child?: ChildPlatform;
  /** Starts the platform in this process on the data the child left, and points Alertmanager at it. */
  restart(): Promise<RunningPlatform>;
  dataDir: string;
  close(): Promise<void>;
}

export async function openSession(options: SessionOptions): Promise<Session> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const dataDir = mkdtempSync(join(tmpdir(), 'scenarios-'));
  const sink = openSink();
  const environment = await SimulatedEnvironment.start({
    dataDir: join(dataDir, 'target'),
    scenarios: options.simScenarios,
    monitoring: 'real',
  });
  const start = () =>
    startPlatform({
      cwd: PACKAGE_ROOT,
      runbooksDir: options.runbooksDir,
      statemachinesDir: options.statemachinesDir,
      port: 0,
      dataDir: join(dataDir, 'platform'),
      environment: DEMO_ENVIRONMENT,
      live: true,
      waitScale: options.waitScale,
      retryIntervalMs: 200,
      aws: demoAwsOptions(environment.endpoints.aws),
      configOverrides: demoToolConfig(environment.endpoints),
      print: () => {},
      onNotification: sink.arrived,
      onEngineEvent: sink.entered,
    });
  let platform: RunningPlatform | undefined;
  let child: ChildPlatform | undefined;
  try {
    if (options.child)
      child = await startChildPlatform({
        dataDir: join(dataDir, 'platform'),
        environment: DEMO_ENVIRONMENT,
        runbooksDir: options.runbooksDir,
        statemachinesDir: options.statemachinesDir,
        simulated: {
          prometheus: environment.endpoints.prometheus,
          kubeconfig: environment.endpoints.kubeconfig,
          aws: environment.endpoints.aws,
        },
        waitScale: options.waitScale,
      });
    else platform = await start();
  } catch (error) {
    await environment.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const url = platform?.url ?? child!.url;
  await environment.setReceiver(new URL('webhooks/alertmanager', url).toString());
  const session: Session = {
    sink,
    environment,
    platform: platform as RunningPlatform,
    url,
    dataDir,
    ...(child ? { child } : {}),
    async restart() {
      const restarted = await start();
      session.platform = restarted;
      session.url = restarted.url;
      await environment.setReceiver(new URL('webhooks/alertmanager', restarted.url).toString());
      return restarted;
    },
    async close() {
      await child?.kill().catch(() => undefined);
      await session.platform?.stop().catch(() => undefined);
      await environment.stop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return session;
}

export async function getJson(url: string | URL, init?: RequestInit): Promise<Json> {
  // Patient: on a shared 2-core machine a busy platform can take many seconds to answer.
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  const text = await response.text();
  if (response.status >= 300)
    throw new Error(`${init?.method ?? 'GET'} ${url} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as Json;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Approves every pending approval once, through its first link, as the approval page's form does. */
export async function approvePending(url: string, approved: Set<string>): Promise<void> {
  const { notifications } = await getJson(new URL('api/outbox?limit=500', url));
  for (const notification of notifications as Json[]) {
    if (notification.kind !== 'approval-request') continue;
    const link = notification.links[0]?.url as string | undefined;
    if (!link) continue;
    const approval = decodeURIComponent(new URL(link).pathname);
    if (approved.has(approval)) continue;
    approved.add(approval);
    // A link sent by a platform that was restarted since names its old port: the same path on this one.
    const target = new URL(`${new URL(link).pathname}${new URL(link).search}`, url);
    await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ decision: 'approve', comment: 'scenario runner' }).toString(),
      signal: AbortSignal.timeout(15_000),
    });
  }
}

/** Every execution on the platform, with its detail. */
export async function executionDetails(url: string): Promise<Json[]> {
  const { executions } = await getJson(new URL('api/executions?limit=200', url));
  const details: Json[] = [];
  for (const summary of executions as Json[])
    details.push(await getJson(new URL(`api/executions/${encodeURIComponent(summary.id)}`, url)));
  return details;
}

export async function notificationsOf(url: string, executionId?: string): Promise<Json[]> {
  const query = executionId ? `executionId=${encodeURIComponent(executionId)}&limit=200` : 'limit=500';
  const { notifications } = await getJson(new URL(`api/outbox?${query}`, url));
  return notifications as Json[];
}

import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { activeFreezeWindow } from '../../functions/core/classifier/safety.ts';
import { RunbookAutopilotError } from '../../functions/core/errors.ts';
import type { Runbook } from '../../functions/core/runbook/model.ts';
import { AWS_SERVICES, type AwsService } from '../../functions/tools/aws/clients.ts';
import { checkWaitScale } from '../../functions/tools/wait.ts';
import { type RunningPlatform, startPlatform } from '../platform.ts';
import { PACKAGE_ROOT } from '../project.ts';
import { INSTALL_HINT } from '../sim/monitoring/binaries.ts';
import { DEFAULT_SCENARIOS, SCENARIOS, selectScenarios } from '../sim/scenarios/index.ts';
import {
  DEMO_CLUSTER,
  DEMO_CONTEXT,
  DEMO_REGION,
  type DemoScenario,
  type DemoTargetEndpoints,
  type LaunchedDemoTarget,
  launchDemoTarget,
} from './target.ts';

/**
 * `runbook demo`: the whole loop on one machine. Forks the demo target (local/sim: a simulated
 * cluster with its exporters, the real Prometheus and Alertmanager when installed, and the simulated
 * AWS account the cluster runs in, on 127.0.0.1), starts the embedded platform in the staging
 * environment with its tools pointed at the target (every AWS client too, with dummy credentials, so
 * nothing reaches AWS), and follows each scenario: a rule fires → Alertmanager's webhook (or a
 * CloudWatch alarm → EventBridge's event) → classify → diagnose → approval link → approve in the
 * browser → remediate → the target heals, the alert resolves → verify → learning. Without Prometheus
 * the fallback answers the runbooks' queries from canned shapes and the demo posts each firing alert
 * itself. The runbooks run unchanged; only their runbook.wait steps are shortened by the wait scale
 * (the embedded platform's option, which no deployed config has).
 */

/** Staging: cdk.json requires approvals from risk high, and each demo runbook asks for one in staging. */
export const DEMO_ENVIRONMENT = 'staging';
export const DEFAULT_DEMO_PORT = 8787;
export const DEFAULT_DEMO_DATA_DIR = join('.runbook', 'demo');
/**
 * runbook.wait is shortened ×0.1 by default: the simulated environment settles in seconds, and the
 * shipped runbooks' waits (60 s, 180 s, 90 s) would make the demo last about six minutes.
 */
export const DEFAULT_DEMO_WAIT_SCALE = 0.1;
/** The demo target checks that AWS calls are signed, not by whom: these reach nothing real. */
const DEMO_AWS_CREDENTIALS = {
  accessKeyId: 'DEMOTARGETACCESSKEY',
  secretAccessKey: 'demo-target-secret-not-a-real-key',
};
/** A data directory holding this file belongs to the demo, which empties it at every start. */
export const DEMO_DATA_MARKER = '.runbook-demo';
const POLL_MS = 500;

export class DemoError extends RunbookAutopilotError {
  override readonly name = 'DemoError';
}

/** Ctrl-C (or the caller's signal) stopped the demo before it finished. */
export class DemoStopped extends RunbookAutopilotError {
  override readonly name = 'DemoStopped';
  constructor() {
    super('the demo was stopped; the platform and the demo target are stopped too');
  }
}

export interface DemoOptions {
  /** Resolves a relative data directory (default: the process's working directory). */
  cwd?: string;
  /** Port of the platform on 127.0.0.1 (0: any free port). */
  port?: number;
  /** Emptied at every start; default `.runbook/demo`. */
  dataDir?: string;
  /** Approve through each approval link by HTTP POST (as the page's form does) instead of waiting for a click. */
  autoApprove?: boolean;
  /** Multiplies every runbook.wait, 0 < scale ≤ 1 (default DEFAULT_DEMO_WAIT_SCALE; 1: the real waits). */
  waitScale?: number;
  print?: (line: string) => void;
  /** Aborting stops everything and makes runDemo reject with DemoStopped. */
  signal?: AbortSignal;
  /** Give up on a scenario's execution after this long (default 30 minutes: approvals time out at 15–20). */
  scenarioTimeoutMs?: number;
  /** Scenario ids to run, in registry order (default: the default set). */
  scenarios?: readonly string[];
  /** `auto` (default): the real Prometheus and Alertmanager when installed, else the fallback. */
  monitoring?: 'auto' | 'real' | 'fallback';
  /**
   * The runbooks the platform runs instead of the project's runbooks/ (relative to `cwd`); their
   * compiled machines go to `statemachinesDir` when given, else to the data directory, so
   * statemachines/ is left alone.
   */
  runbooksDir?: string;
  statemachinesDir?: string;
}

export interface ApprovalResult {
  id: string;
  target: string;
  status: string;
  approvers: string[];
  decidedBy?: string;
  /** From the request to the decision. */
  waitedMs?: number;
  link?: string;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  expectedRunbookId: string;
  /** The classifier's decision (started, blocked, unmatched…). */
  decision: string;
  runbookId?: string;
  executionId?: string;
  status: 'succeeded' | 'failed' | 'aborted' | 'not-started' | 'gave-up';
  durationMs?: number;
  approvals: ApprovalResult[];
}

export interface RunningDemo {
  /** The platform (dashboard, API, approval pages). */
  url: string;
  target: {
    pid: number;
    endpoints: DemoTargetEndpoints;
    mode: LaunchedDemoTarget['mode'];
    requests: LaunchedDemoTarget['requests'];
    alerts: LaunchedDemoTarget['alerts'];
    alertmanagerNotifications: LaunchedDemoTarget['alertmanagerNotifications'];
  };
  scenarios: ScenarioResult[];
  /** GET /api/learning at the end. */
  learning: LearningReportSummary;
  /** Every scenario's execution succeeded. */
  ok: boolean;
  /** Stops the platform, then the demo target process. */
  stop(): Promise<void>;
}

/** The parts of the learning report (GET /api/learning) the demo prints. */
interface LearningReportSummary {
  totals: {
    executions: number;
    succeeded: number;
    withoutHumanRate?: number;
    humanInterventionRate?: number;
    meanTimeToRecoverMs?: number;
    meanApprovalWaitMs?: number;
  };
  runbooks: Array<{
    runbookId: string;
    executions: number;
    succeeded: number;
    approvalsRequested: number;
    approvalsAnswered: number;
    successRate?: number;
    meanTimeToRecoverMs?: number;
    suggestions: string[];
  }>;
  suggestions: string[];
}

interface ApprovalView {
  id: string;
  target: { kind: string; id: string };
  status: string;
  risk: string;
  approvers: string[];
  quorum: number;
  requestedAt: string;
  decidedAt?: string;
  decisions: Array<{ approver: string; decision: string; at: string }>;
}

interface StepView {
  stepId: string;
  kind: string;
  name: string;
  tool: string;
  mutating: boolean;
  status: string;
  phase?: string;
  error?: { name: string; message: string };
}

interface ExecutionDetail {
  execution: {
    id: string;
    runbookId: string;
    status: string;
    startedAt: string;
    stoppedAt?: string;
    outcome?: { status: string; error?: string; cause?: string };
  };
  steps: StepView[];
  approvals: ApprovalView[];
}

const TERMINAL = new Set(['succeeded', 'failed', 'aborted']);

function minutesAndSeconds(ms: number): string {
  const seconds = Math.round(ms / 1_000);
  return seconds < 60
    ? `${seconds}s`
    : `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
}

function percent(rate: number | undefined): string {
  return rate === undefined ? 'no data' : `${Math.round(rate * 100)}%`;
}

/** Empties the demo's data directory, refusing one that holds something else (a real `serve` directory). */
export function prepareDemoDataDir(dataDir: string): void {
  if (existsSync(dataDir)) {
    const entries = readdirSync(dataDir);
    if (entries.length > 0 && !entries.includes(DEMO_DATA_MARKER)) {
      throw new DemoError(
        `${dataDir} is not empty and is not a demo data directory (it has no ${DEMO_DATA_MARKER}); the demo empties its data directory at every start, so give it one of its own with --data (default ${DEFAULT_DEMO_DATA_DIR})`,
      );
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(
    join(dataDir, DEMO_DATA_MARKER),
    'runbook demo data: emptied at every start of `runbook demo`. Do not keep anything here.\n',
  );
}

/**
 * The AWS clients' options in the demo: every service goes to the demo target's simulated account
 * with dummy credentials. A call it does not simulate fails there with that protocol's clear
 * unknown-operation error instead of reaching whatever account this machine's credentials name.
 */
export function demoAwsOptions(endpoint: string): {
  endpoints: Record<AwsService, string>;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  return {
    endpoints: Object.fromEntries(AWS_SERVICES.map((service) => [service, endpoint])) as Record<
      AwsService,
      string
    >,
    credentials: DEMO_AWS_CREDENTIALS,
  };
}

/** The platform's tools pointed at the demo target: its Prometheus, its kubeconfig, no shell. */
export function demoToolConfig(endpoints: Pick<DemoTargetEndpoints, 'prometheus' | 'kubeconfig'>) {
  return {
    tools: {
      prometheusUrl: endpoints.prometheus,
      defaultRegion: DEMO_REGION,
      kubernetes: {
        kubeconfig: endpoints.kubeconfig,
        contexts: { [DEMO_ENVIRONMENT]: DEMO_CONTEXT, [DEMO_CLUSTER]: DEMO_CONTEXT },
        eks: {},
      },
      shell: { enabled: false, allow: [] },
    },
  };
}

/** What the wait scale does, for the terminal: the waits of the scenarios chosen. */
function waitScaleLine(scale: number, waitSeconds: number[]): string {
  const listed = (values: string[]) =>
    values.length <= 1 ? (values[0] ?? '') : `${values.slice(0, -1).join(', ')} and ${values.at(-1)}`;
  const asked = listed(waitSeconds.map((value) => `${value} s`));
  const total = waitSeconds.reduce((sum, value) => sum + value, 0);
  if (scale === 1)
    return `  waits    runbook.wait waits the full time the runbooks ask (${asked}): about ${minutesAndSeconds(total * 1_000)} of waiting`;
  return `  waits    runbook.wait shortened ×${factor(scale)} (--wait-scale ${factor(scale)}): the runbooks' ${asked} waits take ${listed(waitSeconds.map((value) => seconds(value * scale)))}; --wait-scale 1 waits in full`;
}

function factor(scale: number): string {
  return String(Number(scale.toPrecision(3)));
}

function seconds(value: number): string {
  return `${Number(value.toFixed(1))} s`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolveSleep, reject) => {
    if (signal?.aborted) return reject(new DemoStopped());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolveSleep();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DemoStopped());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function http<T>(url: string | URL, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // HTML (the approval page) stays text.
  }
  return { status: response.status, body: body as T };
}

/** How long the demo waits for a scenario's rule to fire and Alertmanager's webhook to start a runbook. */
const ALERT_TIMEOUT_MS = 90_000;

/** Starts the demo and runs its scenarios; resolves with everything still running (call stop()). */
export async function runDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const signal = options.signal;
  const cwd = options.cwd ?? process.cwd();
  const dataDir = resolve(cwd, options.dataDir ?? DEFAULT_DEMO_DATA_DIR);
  const port = options.port ?? DEFAULT_DEMO_PORT;
  const waitScale = options.waitScale ?? DEFAULT_DEMO_WAIT_SCALE;
  try {
    checkWaitScale(waitScale, 'the demo wait scale');
  } catch (error) {
    throw new DemoError((error as Error).message);
  }
  const chosen = selectScenarios(options.scenarios ?? DEFAULT_SCENARIOS);
  const runbooksDir = options.runbooksDir === undefined ? undefined : resolve(cwd, options.runbooksDir);
  if (runbooksDir && !existsSync(runbooksDir))
    throw new DemoError(`--runbooks: ${runbooksDir} does not exist; give a directory of runbook YAML files`);
  if (signal?.aborted) throw new DemoStopped();

  prepareDemoDataDir(dataDir);
  print('runbook-autopilot demo: the whole loop on this machine, against a simulated environment');
  const shown = relative(cwd, dataDir);
  print(`  data in ${shown && !shown.startsWith('..') ? shown : dataDir} (emptied at every start)`);
  print(`  scenarios ${chosen.map((scenario) => scenario.id).join(', ')} (--list-scenarios shows them all)`);
  if (runbooksDir)
    print(`  runbooks from ${relative(cwd, runbooksDir) || runbooksDir} (instead of runbooks/)`);
  print(
    waitScaleLine(
      waitScale,
      chosen.map((scenario) => scenario.waitSeconds),
    ),
  );
  const target = await launchDemoTarget({
    dataDir: join(dataDir, 'target'),
    print: (line) => print(`  target │ ${line}`),
    scenarios: chosen.map((scenario) => scenario.id),
    monitoring: options.monitoring ?? 'auto',
  });
  print(
    target.mode === 'real'
      ? `  monitoring real: Prometheus ${target.endpoints.prometheus} scrapes the simulated exporters and evaluates the scenarios' rules; Alertmanager ${target.endpoints.alertmanager} posts its webhooks to the platform`
      : `  monitoring fallback: ${target.fallbackReason ?? 'asked for'}; canned PromQL answers and a stand-in Alertmanager (the demo posts each alert itself). For the real thing: ${INSTALL_HINT}`,
  );
  const aws = demoAwsOptions(target.endpoints.aws);
  let platform: RunningPlatform | undefined;
  let stopped: Promise<void> | undefined;
  // After the platform stops, a step still in flight must not print into the user's terminal.
  let platformQuiet = false;
  const platformPrint = (line: string) => {
    if (!platformQuiet) print(line);
  };
  const stop = () => {
    stopped ??= (async () => {
      try {
        if (platform) await abortInFlight(platform.url, print);
        platformQuiet = true;
        await platform?.stop();
      } finally {
        await target.stop();
      }
    })();
    return stopped;
  };

  try {
    try {
      platform = await startPlatform({
        cwd: PACKAGE_ROOT,
        ...(options.runbooksDir ? { runbooksDir: options.runbooksDir } : {}),
        ...(options.statemachinesDir ? { statemachinesDir: options.statemachinesDir } : {}),
        port,
        dataDir,
        environment: DEMO_ENVIRONMENT,
        live: true,
        waitScale,
        ...(runbooksDir ? { runbooksDir, statemachinesDir: join(dataDir, 'statemachines') } : {}),
        aws,
        configOverrides: demoToolConfig(target.endpoints),
        print: platformPrint,
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
        throw new DemoError(`port ${port} on 127.0.0.1 is in use; choose another with --port`, {
          cause: error,
        });
      throw error;
    }
    const url = platform.url;
    await target.setReceiver(new URL('webhooks/alertmanager', url).toString());
    print(`  platform │ ${url} (environment ${DEMO_ENVIRONMENT}: every remediation waits for an approval)`);
    print(`  platform │ dashboard ${url}  ·  Alertmanager webhook POST ${url}webhooks/alertmanager`);
    if (signal?.aborted) throw new DemoStopped();

    const scenarios = await target.scenarios();
    const results: ScenarioResult[] = [];
    for (const [index, scenario] of scenarios.entries()) {
      results.push(
        await runScenario({
          url,
          platform,
          target,
          scenario,
          index,
          count: scenarios.length,
          print,
          autoApprove: options.autoApprove ?? false,
          waitScale,
          signal,
          timeoutMs: options.scenarioTimeoutMs ?? 30 * 60_000,
        }),
      );
    }
    const learning = await learningReport(url, results, signal);
    for (const line of learningLines(learning, url)) print(line);
    const ok = results.every((result) => result.status === 'succeeded');
    print(
      ok
        ? `all ${results.length} scenarios went through: classify → diagnose → approve → remediate → verify → learn`
        : `${results.filter((result) => result.status !== 'succeeded').length} of ${results.length} scenarios did not succeed; the dashboard shows why`,
    );
    return {
      url,
      target: {
        pid: target.pid,
        endpoints: target.endpoints,
        mode: target.mode,
        requests: target.requests,
        alerts: target.alerts,
        alertmanagerNotifications: target.alertmanagerNotifications,
      },
      scenarios: results,
      learning,
      ok,
      stop,
    };
  } catch (error) {
    await stop();
    if (signal?.aborted) throw new DemoStopped();
    throw error;
  }
}

/**
 * Aborts the executions still running (Ctrl-C mid-scenario) and waits for them to stop: a step in
 * flight, such as a 180 s runbook.wait, would otherwise outlive the platform. The demo's data is
 * emptied at the next start anyway, so there is nothing to resume.
 */
async function abortInFlight(url: string, print: (line: string) => void): Promise<void> {
  const running = async () => {
    const { body } = await http<{ executions?: Array<{ id: string; status: string }> }>(
      new URL('api/executions?limit=100', url),
    );
    return (body.executions ?? []).filter((execution) => !TERMINAL.has(execution.status));
  };
  try {
    const inFlight = await running();
    if (inFlight.length === 0) return;
    print(
      `stopping: aborting ${inFlight.length} execution(s) in flight (its changes are compensated where the runbook says how)`,
    );
    await Promise.all(
      inFlight.map((execution) =>
        http(new URL(`api/executions/${encodeURIComponent(execution.id)}/abort`, url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ by: 'runbook demo', reason: 'the demo was stopped' }),
        }),
      ),
    );
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await running()).length > 0) await sleep(300, undefined);
  } catch (error) {
    print(`stopping: could not abort the executions in flight: ${(error as Error).message}`);
  }
}

interface ScenarioContext {
  url: string;
  platform: RunningPlatform;
  target: LaunchedDemoTarget;
  scenario: DemoScenario;
  index: number;
  count: number;
  print: (line: string) => void;
  autoApprove: boolean;
  waitScale: number;
  signal: AbortSignal | undefined;
  timeoutMs: number;
}

async function runScenario(context: ScenarioContext): Promise<ScenarioResult> {
  const { url, scenario, print, signal } = context;
  print('');
  print(`══ ${context.index + 1}/${context.count}  ${scenario.title}`);
  for (const line of scenario.story) print(`   ${line}`);
  print(
    `   (${scenario.waits}${context.waitScale === 1 ? '' : `; ×${factor(context.waitScale)} here: ${seconds(scenario.waitSeconds * context.waitScale)}`})`,
  );
  const runbook = context.platform.catalog().find((entry) => entry.id === scenario.runbookId)?.runbook;
  const freeze = runbook
    ? activeFreezeWindow(runbook.environmentConstraints.changeFreezeWindows, new Date())
    : undefined;
  if (freeze)
    print(
      `   note: ${scenario.runbookId} is inside its change-freeze window "${freeze.name}" now: diagnostics run, every change is refused (the safety gate at work)`,
    );

  const base = {
    scenario: scenario.id,
    title: scenario.title,
    expectedRunbookId: scenario.runbookId,
    approvals: [],
  };
  const classified =
    scenario.source === 'cloudwatch'
      ? await alarmFromEventBridge(context)
      : scenario.alert
        ? await postAlert(context)
        : await alertFromAlertmanager(context);
  if (!classified) return { ...base, decision: 'refused', status: 'not-started' };
  const decision = classified.decision ?? 'unknown';
  if (classified.runbookId && classified.runbookId !== scenario.runbookId)
    print(`   note: the demo expected ${scenario.runbookId}`);
  if (!classified.executionId) return { ...base, decision, status: 'not-started' };
  const executionId = classified.executionId;
  print(`   → execution ${executionId}  ${url}executions/${encodeURIComponent(executionId)}`);

  const approvals = new Map<string, ApprovalResult>();
  const deadline = Date.now() + context.timeoutMs;
  for (;;) {
    const { body: detail } = await http<ExecutionDetail>(
      new URL(`api/executions/${encodeURIComponent(executionId)}`, url),
    );
    for (const approval of detail.approvals ?? [])
      await followApproval(context, executionId, approval, approvals);
    const status = detail.execution?.status;
    if (status && TERMINAL.has(status)) {
      const result: ScenarioResult = {
        ...base,
        decision,
        runbookId: detail.execution.runbookId,
        executionId,
        status: status as ScenarioResult['status'],
        approvals: [...approvals.values()],
        ...(detail.execution.stoppedAt
          ? { durationMs: Date.parse(detail.execution.stoppedAt) - Date.parse(detail.execution.startedAt) }
          : {}),
      };
      for (const line of outcomeLines(detail, result, stepRoles(runbook))) print(line);
      return result;
    }
    if (Date.now() > deadline) {
      print(
        `   ✗ gave up waiting for ${executionId} after ${minutesAndSeconds(context.timeoutMs)}; it keeps running`,
      );
      return {
        ...base,
        decision,
        runbookId: detail.execution.runbookId,
        executionId,
        status: 'gave-up',
        approvals: [...approvals.values()],
      };
    }
    await sleep(POLL_MS, signal);
  }
}

interface Classified {
  decision?: string;
  runbookId?: string;
  executionId?: string;
  reason?: string;
}

/** Fallback: posts the stand-in Alertmanager's firing body, as Alertmanager would. */
async function postAlert(context: ScenarioContext): Promise<Classified | undefined> {
  const { url, scenario, print } = context;
  const posted = await http<{ results?: Array<{ result?: Classified }>; error?: string }>(
    new URL('webhooks/alertmanager', url),
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(scenario.alert),
    },
  );
  const classified = posted.body.results?.[0]?.result;
  if (posted.status !== 202 || !classified) {
    print(
      `   ✗ the platform answered ${posted.status}: ${posted.body.error ?? JSON.stringify(posted.body).slice(0, 300)}`,
    );
    return undefined;
  }
  const why = classified.reason ?? (classified.runbookId ? `runbook ${classified.runbookId}` : '');
  print(
    `   → Alertmanager webhook accepted (202); classified: ${classified.decision ?? 'unknown'}${why ? ` → ${why}` : ''}`,
  );
  return classified;
}

/**
 * Real monitoring: waits for the scenario's rule to fire in Prometheus and reach Alertmanager, then
 * for the incident Alertmanager's webhook opened on the platform, and reads what the classifier decided.
 */
async function alertFromAlertmanager(context: ScenarioContext): Promise<Classified | undefined> {
  const { scenario, print, signal, target, platform } = context;
  const deadline = Date.now() + ALERT_TIMEOUT_MS;
  const matches = (labels: Record<string, string>) =>
    Object.entries(scenario.alertLabels).every(([name, value]) => labels[name] === value);
  let fingerprint: string | undefined;
  while (!fingerprint) {
    fingerprint = (await target.alerts()).find(
      (alert) => alert.state === 'firing' && matches(alert.labels),
    )?.fingerprint;
    if (fingerprint) break;
    if (Date.now() > deadline) {
      print(
        `   ✗ ${scenario.alertname} did not fire within ${minutesAndSeconds(ALERT_TIMEOUT_MS)}: see its rule at ${target.endpoints.prometheus}/alerts and the target's log`,
      );
      return undefined;
    }
    await sleep(POLL_MS, signal);
  }
  print(
    `   → Prometheus fired ${scenario.alertname} from its rule; Alertmanager posts the webhook (fingerprint ${fingerprint})`,
  );
  for (;;) {
    const incident = await platform.platform.store.findOpenIncident(fingerprint);
    if (incident && incident.decision !== 'pending') {
      const why = incident.blockedReason ?? (incident.runbookId ? `runbook ${incident.runbookId}` : '');
      print(`   → webhook received; classified: ${incident.decision}${why ? ` → ${why}` : ''}`);
      return {
        decision: incident.decision,
        ...(incident.runbookId ? { runbookId: incident.runbookId } : {}),
        ...(incident.executionId ? { executionId: incident.executionId } : {}),
        ...(incident.blockedReason ? { reason: incident.blockedReason } : {}),
      };
    }
    if (Date.now() > deadline) {
      print(
        `   ✗ no incident for ${scenario.alertname} within ${minutesAndSeconds(ALERT_TIMEOUT_MS)}: did Alertmanager reach the platform? (${target.endpoints.alertmanager})`,
      );
      return undefined;
    }
    await sleep(POLL_MS, signal);
  }
}

/**
 * A CloudWatch scenario: waits for its alarm to go to ALARM in the simulated account and for the
 * platform's answer to the `CloudWatch Alarm State Change` event it was sent (POST /events, as
 * EventBridge delivers it), and reads what the classifier decided from that answer. The alarm may be
 * OK again by the time the demo gets to it (its runbook ran meanwhile): the event it sent stays.
 */
async function alarmFromEventBridge(context: ScenarioContext): Promise<Classified | undefined> {
  const { scenario, print, signal, target } = context;
  const alarm = scenario.alertLabels.alertname ?? scenario.alertname;
  const deadline = Date.now() + ALERT_TIMEOUT_MS;
  let announced = false;
  for (;;) {
    const fired = (await target.alarms()).deliveries.find(
      (delivery) => delivery.alarmName === alarm && delivery.state === 'ALARM',
    );
    if (fired && !announced) {
      announced = true;
      print(
        `   → CloudWatch alarm ${alarm} went to ALARM; EventBridge delivers the state change to the platform's POST /events`,
      );
    }
    if (fired && fired.httpStatus >= 200 && fired.httpStatus < 300) {
      const classified = classifiedOf(fired.response);
      const why = classified?.reason ?? (classified?.runbookId ? `runbook ${classified.runbookId}` : '');
      print(
        `   → event accepted (${fired.httpStatus}); classified: ${classified?.decision ?? 'nothing (no rule took it)'}${why ? ` → ${why}` : ''}`,
      );
      return classified ?? { decision: 'unmatched' };
    }
    if (fired && fired.httpStatus >= 400 && fired.httpStatus !== 429) {
      print(
        `   ✗ the platform refused the event (${fired.httpStatus}): ${JSON.stringify(fired.response).slice(0, 300)}`,
      );
      return undefined;
    }
    if (Date.now() > deadline) {
      print(
        fired
          ? `   ✗ the alarm's event did not reach the platform within ${minutesAndSeconds(ALERT_TIMEOUT_MS)} (${fired.attempts} attempt(s)); see ${target.endpoints.control}/alarms`
          : `   ✗ alarm ${alarm} did not go to ALARM within ${minutesAndSeconds(ALERT_TIMEOUT_MS)}; see ${target.endpoints.control}/alarms and the target's log`,
      );
      return undefined;
    }
    await sleep(POLL_MS, signal);
  }
}

/** The classifier's decision in the platform's answer to POST /events: `{ results: [{ result }] }`. */
function classifiedOf(answer: unknown): Classified | undefined {
  const results = (answer as { results?: Array<{ result?: Classified }> } | undefined)?.results ?? [];
  return results.map((delivery) => delivery.result).find((result) => result?.decision !== undefined);
}

/** Says where to approve when an approval appears, approves it when asked to, and says who decided. */
async function followApproval(
  context: ScenarioContext,
  executionId: string,
  approval: ApprovalView,
  seen: Map<string, ApprovalResult>,
): Promise<void> {
  const { url, print } = context;
  let known = seen.get(approval.id);
  if (!known) {
    const { body } = await http<{
      notifications: Array<{ kind: string; to: string[]; links: Array<{ url: string }> }>;
    }>(new URL(`api/outbox?executionId=${encodeURIComponent(executionId)}&limit=100`, url));
    const links = (body.notifications ?? [])
      .filter((notification) => notification.kind === 'approval-request')
      .flatMap((notification) =>
        notification.links.map((link) => ({ to: notification.to[0] ?? '', url: link.url })),
      )
      .filter((link) => decodeURIComponent(new URL(link.url).pathname) === `/approvals/${approval.id}`);
    // The outbox is written right after the approval record: look again on the next poll.
    if (approval.status === 'pending' && links.length === 0) return;
    const first = links.find((link) => link.to === approval.approvers[0]) ?? links[0];
    known = {
      id: approval.id,
      target: `${approval.target.kind} ${approval.target.id}`,
      status: approval.status,
      approvers: approval.approvers,
      ...(first ? { link: first.url } : {}),
    };
    seen.set(approval.id, known);
    if (approval.status === 'pending' && first) {
      print(
        `   ✋ approval needed before ${approval.target.kind} "${approval.target.id}" (risk ${approval.risk}; ${approval.quorum} of ${approval.approvers.join(', ')})`,
      );
      print(`      open as ${first.to} and press Approve (opening the page decides nothing):`);
      print(`      ${first.url}`);
      if (context.autoApprove) {
        const form = new URLSearchParams({
          decision: 'approve',
          comment: 'approved by runbook demo --auto-approve',
        });
        const answer = await http<string>(first.url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
        });
        print(`      --auto-approve: POSTed the decision as the page's form does → ${answer.status}`);
      } else {
        print('      waiting for your decision in the browser…');
      }
    }
  }
  if (approval.status !== 'pending' && known.decidedBy === undefined && known.waitedMs === undefined) {
    const decision = approval.decisions.at(-1);
    known.status = approval.status;
    if (decision) known.decidedBy = decision.approver;
    if (approval.decidedAt)
      known.waitedMs = Date.parse(approval.decidedAt) - Date.parse(approval.requestedAt);
    print(
      `   ✔ approval ${approval.status}${decision ? ` by ${decision.approver}` : ''}${known.waitedMs === undefined ? '' : ` after ${minutesAndSeconds(known.waitedMs)}`}`,
    );
  }
}

/** What each step is in the runbook: a prerequisite check, or a phase step of some type. */
function stepRoles(runbook: Runbook | undefined): Map<string, string> {
  const roles = new Map<string, string>();
  for (const check of runbook?.prerequisiteChecks ?? []) roles.set(check.id, 'prerequisite');
  for (const phase of runbook?.phases ?? []) for (const step of phase.steps) roles.set(step.id, step.type);
  return roles;
}

function outcomeLines(detail: ExecutionDetail, result: ScenarioResult, roles: Map<string, string>): string[] {
  const latest = new Map<string, StepView>();
  for (const step of detail.steps ?? []) latest.set(`${step.kind}:${step.stepId}`, step);
  const steps = [...latest.values()];
  const mark = (step: StepView) =>
    step.status === 'succeeded' ? '✓' : step.status === 'skipped' ? '–' : '✗';
  const list = (chosen: StepView[], withTool = false) =>
    chosen.map((step) => `${mark(step)} ${step.stepId}${withTool ? ` (${step.tool})` : ''}`).join(', ');
  const role = (step: StepView) => roles.get(step.stepId) ?? (step.kind === 'check' ? 'check' : 'other');
  const changed = steps.filter((step) => step.kind === 'step' && step.mutating);
  const phase = changed.find((step) => step.phase)?.phase;
  const groups: Array<[string, StepView[], boolean]> = [
    ['checked:  ', steps.filter((step) => role(step) === 'prerequisite'), false],
    ['diagnosed:', steps.filter((step) => step.kind === 'step' && role(step) === 'diagnostic'), false],
    [phase ? `changed (phase ${phase}):` : 'changed:  ', changed, true],
    [
      'verified: ',
      steps.filter(
        (step) =>
          (step.kind === 'check' && role(step) !== 'prerequisite') ||
          (step.kind === 'step' && role(step) === 'verification' && step.tool !== 'runbook.wait'),
      ),
      false,
    ],
    ['undid:    ', steps.filter((step) => step.kind === 'compensation' || step.kind === 'rollback'), false],
  ];
  const outcome = detail.execution.outcome;
  return [
    `   ■ ${result.runbookId} ${result.status}${result.durationMs === undefined ? '' : ` in ${minutesAndSeconds(result.durationMs)}`}${outcome?.error ? ` (${outcome.error}${outcome.cause ? `: ${outcome.cause.slice(0, 200)}` : ''})` : ''}`,
    ...groups
      .filter(([, chosen]) => chosen.length > 0)
      .map(([label, chosen, withTool]) => `     ${label} ${list(chosen, withTool)}`),
  ];
}

/** The learning report once the recorder has counted every execution the demo started. */
async function learningReport(
  url: string,
  results: ScenarioResult[],
  signal: AbortSignal | undefined,
): Promise<LearningReportSummary> {
  const expected = results.filter((result) => result.executionId && result.status !== 'gave-up').length;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { body } = await http<LearningReportSummary>(new URL('api/learning', url));
    if (body.totals.executions >= expected || Date.now() > deadline) return body;
    await sleep(POLL_MS, signal);
  }
}

function learningLines(report: LearningReportSummary, url: string): string[] {
  const { totals } = report;
  const lines = [
    '',
    `══ learning report (GET ${url}api/learning; \`runbook learn report --url ${url}\` prints it in full)`,
    `   ${totals.executions} execution(s), ${totals.succeeded} succeeded · a human took part in ${percent(totals.humanInterventionRate)} (the approvals) · mean time to recover ${totals.meanTimeToRecoverMs === undefined ? 'no data' : minutesAndSeconds(totals.meanTimeToRecoverMs)} · mean approval wait ${totals.meanApprovalWaitMs === undefined ? 'no data' : minutesAndSeconds(totals.meanApprovalWaitMs)}`,
  ];
  for (const runbook of report.runbooks) {
    lines.push(
      `   ${runbook.runbookId.padEnd(26)} ${runbook.executions} run(s), ${runbook.succeeded} succeeded, approvals answered ${runbook.approvalsAnswered}/${runbook.approvalsRequested}`,
    );
  }
  lines.push('   the classifier weighs these success rates from now on when it picks a runbook for an alert');
  for (const suggestion of report.suggestions) lines.push(`   suggestion: ${suggestion}`);
  return lines;
}

/**
 * The `runbook demo` command: runs the demo; afterwards keeps the platform up for a look at the
 * dashboard until Ctrl-C (with autoApprove it stops at once). Resolves with the exit code.
 */
export async function demoCommand(
  io: { out: (line: string) => void; err: (line: string) => void; cwd: string },
  options: {
    port: number;
    dataDir: string;
    autoApprove: boolean;
    waitScale: number;
    scenarios?: readonly string[];
    monitoring?: 'auto' | 'real' | 'fallback';
    runbooksDir?: string;
  },
): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const demo = await runDemo({
      cwd: io.cwd,
      port: options.port,
      dataDir: options.dataDir,
      autoApprove: options.autoApprove,
      waitScale: options.waitScale,
      ...(options.scenarios ? { scenarios: options.scenarios } : {}),
      ...(options.monitoring ? { monitoring: options.monitoring } : {}),
      ...(options.runbooksDir ? { runbooksDir: options.runbooksDir } : {}),
      print: io.out,
      signal: controller.signal,
    });
    if (!options.autoApprove && !controller.signal.aborted) {
      io.out(
        `the platform keeps running for a look around: ${demo.url}  ·  Ctrl-C stops it and the demo target`,
      );
      await new Promise<void>((resolveStop) => {
        if (controller.signal.aborted) resolveStop();
        else controller.signal.addEventListener('abort', () => resolveStop(), { once: true });
      });
    }
    io.out('stopping the platform and the demo target…');
    await demo.stop();
    return demo.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof DemoStopped) {
      io.err(`runbook: ${error.message}`);
      return 130;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `runbook demo --list-scenarios`: every scenario, the alert it raises and the runbook that takes it. */
export function scenarioListLines(): string[] {
  const width = Math.max(...SCENARIOS.map((scenario) => scenario.id.length));
  return [
    'scenarios (runbook demo --scenario NAME, repeatable or comma-separated; * = in the default set):',
    ...SCENARIOS.map(
      (scenario) =>
        `  ${scenario.inDefaultSet ? '*' : ' '} ${scenario.id.padEnd(width)}  ${scenario.source === 'cloudwatch' ? `CloudWatch alarm ${scenario.alertname}` : scenario.alertname} → ${scenario.runbookId}: ${scenario.summary}`,
    ),
  ];
}

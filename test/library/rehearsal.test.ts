import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, it } from 'vitest';
import { StateName } from '../../functions/core/compiler/compile.ts';
import type { Runbook } from '../../functions/core/runbook/model.ts';
import { examplePayload } from '../../local/alert-payloads.ts';
import { DEMO_ENVIRONMENT, demoAwsOptions, demoToolConfig } from '../../local/demo/demo.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { PACKAGE_ROOT } from '../../local/project.ts';
import { DEMO_CLUSTER, DEMO_CONTEXT } from '../../local/sim/cluster.ts';
import { SimulatedEnvironment } from '../../local/sim/environment.ts';
import type { Json } from '../support/json.ts';
import { compiledStatemachinesDir } from '../support/library.ts';
import {
  type RehearsedExecution,
  rehearsalProblems,
  resolvesResource,
} from '../support/library-rehearsal.ts';
import { describeWithMonitoring } from '../support/monitoring.ts';
import { loadRunbookDirectory } from '../support/runbook-checks.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The rehearsal of every runbook in runbooks/ (whatever it holds: nothing here names a runbook): the
 * simulated environment in its healthy baseline (nothing broken) with the real Prometheus (CI
 * installs it; the fallback answers the queries it does not know with nothing), the embedded platform
 * serving runbooks/ in dry run (read-only steps run for real, changes are only checked), and each
 * runbook's first example alert sent as its source sends it (Alertmanager's webhook, or EventBridge's
 * CloudWatch alarm event). Every approval is granted through its link as the approval page's form
 * does; once the run reaches the verification of its alert, the alert's resolved notification is sent
 * (the baseline has none of the conditions alerts describe). Each run must be started by the example,
 * end with no platform error, find the example's resource in the baseline, and end as done or as the
 * runbook designs it (test/support/library-rehearsal.ts says how, and says what went wrong in words
 * that name the runbook, the step and the error).
 */

const RUNBOOKS = loadRunbookDirectory(join(ROOT, 'runbooks'));
const TERMINAL = new Set(['succeeded', 'failed', 'aborted', 'interrupted']);
/** runbook.wait: the baseline has nothing to wait for. */
const WAIT_SCALE = 1 / 60;
const RUN_DEADLINE_MS = 100_000;

async function json(url: string | URL, init?: RequestInit): Promise<{ status: number; body: Json }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as Json };
}

/** The environment a runbook rehearses in: the simulated one's (staging), else the first it allows. */
function rehearsalEnvironment(runbook: Runbook): string {
  const allowed = runbook.environmentConstraints.environments;
  return allowed.includes(DEMO_ENVIRONMENT) ? DEMO_ENVIRONMENT : allowed[0]!;
}

describeWithMonitoring('every runbook in runbooks/, rehearsed as a dry run in the simulated baseline', () => {
  let dataDir: string;
  let environment: SimulatedEnvironment;
  /** One platform per environment the runbooks rehearse in, started when first needed. */
  const platforms = new Map<string, Promise<RunningPlatform>>();
  /** Execution id → what to do when it reaches the verification of its alert. */
  const atVerification = new Map<string, () => Promise<unknown>>();
  /** Executions that reached it before the test knew their id. */
  const reachedVerification = new Set<string>();

  beforeAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    dataDir = mkdtempSync(join(tmpdir(), 'rehearsal-'));
    environment = await SimulatedEnvironment.start({
      dataDir: join(dataDir, 'target'),
      scenarios: [],
      monitoring: 'real',
    });
    await platformFor(DEMO_ENVIRONMENT);
  }, 120_000);

  afterAll(async () => {
    for (const platform of platforms.values()) await (await platform.catch(() => undefined))?.stop();
    await environment?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  function platformFor(name: string): Promise<RunningPlatform> {
    let platform = platforms.get(name);
    if (platform) return platform;
    const tools = demoToolConfig(environment.endpoints).tools;
    platform = startPlatform({
      cwd: PACKAGE_ROOT,
      runbooksDir: 'runbooks',
      statemachinesDir: compiledStatemachinesDir('runbooks'),
      port: 0,
      dataDir: join(dataDir, `platform-${name}`),
      environment: name,
      live: false,
      waitScale: WAIT_SCALE,
      retryIntervalMs: 200,
      aws: demoAwsOptions(environment.endpoints.aws),
      configOverrides: {
        tools: {
          ...tools,
          kubernetes: {
            ...tools.kubernetes,
            contexts: { [name]: DEMO_CONTEXT, [DEMO_CLUSTER]: DEMO_CONTEXT },
          },
        },
      },
      print: () => {},
      onEngineEvent: (event) => {
        if (event.type !== 'state-entered' || event.state !== StateName.verifyAlert) return;
        reachedVerification.add(event.executionId);
        void atVerification.get(event.executionId)?.();
      },
    });
    platforms.set(name, platform);
    return platform;
  }

  /** Grants every approval the execution asks for, through each approver's link, once. */
  async function approveAll(platform: RunningPlatform, executionId: string, done: Set<string>) {
    const { body } = await json(
      new URL(`api/outbox?executionId=${encodeURIComponent(executionId)}&limit=100`, platform.url),
    );
    for (const notification of body.notifications as Json[]) {
      if (notification.kind !== 'approval-request') continue;
      for (const { url } of notification.links as Array<{ url: string }>) {
        if (done.has(url)) continue;
        done.add(url);
        await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ decision: 'approve', comment: 'rehearsal of runbooks/' }).toString(),
          signal: AbortSignal.timeout(10_000),
        });
      }
    }
  }

  // it.for is it.each that hands the test its own expect, which concurrent tests need.
  it.concurrent.for(RUNBOOKS.map((entry) => [entry.runbook.id, entry] as const))(
    '%s: its first example starts it, and the dry run ends as designed with no platform error',
    { timeout: RUN_DEADLINE_MS + 20_000 },
    async ([id, entry], { expect }) => {
      // Prepare
      const { runbook } = entry;
      expect(runbook.examples.length, `${id} has no example alert to rehearse`).toBeGreaterThan(0);
      const example = runbook.examples[0]!;
      const environmentName = rehearsalEnvironment(runbook);
      const platform = await platformFor(environmentName);
      const firing = examplePayload(example, environmentName);
      const route = new URL(
        firing.kind === 'alertmanager' ? 'webhooks/alertmanager' : 'events',
        platform.url,
      );
      const send = (body: unknown) =>
        json(route, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });

      // Act: the alert as its source sends it; its resolved notification once verification looks for it
      const posted = await send(firing.body);
      const result = posted.body.results?.[0]?.result ?? {};
      expect(
        { status: posted.status, decision: result.decision, runbookId: result.runbookId },
        `${id}: its example "${example.name}" ${result.decision ?? JSON.stringify(posted.body)} ${result.runbookId ?? ''} (${result.reason ?? 'no reason given'})`,
      ).toEqual({ status: 202, decision: 'started', runbookId: id });
      const executionId = result.executionId as string;
      const sendResolved = () => send(examplePayload(example, environmentName, 'resolved').body);
      atVerification.set(executionId, sendResolved);
      if (reachedVerification.has(executionId)) await sendResolved();
      const approved = new Set<string>();
      const deadline = Date.now() + RUN_DEADLINE_MS;
      let detail: RehearsedExecution;
      for (;;) {
        detail = (await json(new URL(`api/executions/${encodeURIComponent(executionId)}`, platform.url)))
          .body as RehearsedExecution;
        if (TERMINAL.has(detail.execution.status) || Date.now() > deadline) break;
        if (detail.approvals?.some((approval) => approval.status === 'pending'))
          await approveAll(platform, executionId, approved);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }

      // Assess
      expect(rehearsalProblems(runbook, detail, { resolves: resolvesResource(entry.compiled) })).toEqual([]);
    },
  );
});

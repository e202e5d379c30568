import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ENVIRONMENT, demoAwsOptions, demoToolConfig } from '../../local/demo/demo.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { PACKAGE_ROOT } from '../../local/project.ts';
import {
  type DemoScenario,
  type EnvironmentRequests,
  SimulatedEnvironment,
} from '../../local/sim/environment.ts';
import { SCENARIOS } from '../../local/sim/scenarios/index.ts';
import type { Json } from '../support/json.ts';
import { compiledStatemachinesDir, scenariosWithRunbook } from '../support/library.ts';

/**
 * Every AWS scenario end to end on the runbooks the team ships in runbooks/ (compiled as they are
 * now), served by the embedded platform as `runbook demo` serves them (staging, live, waits ×1/30, its
 * AWS clients on the simulated account) with every approval granted through its link as an approver
 * would: the simulated account's CloudWatch alarm goes to ALARM and its state change is POSTed to the
 * platform's /events as EventBridge would; the classifier selects a runbook; its steps resolve the
 * alarm's resource and act through the real AWS tools and SDK clients on the account; the fault goes,
 * the alarm goes back to OK and that event resolves the incident, which the runbook's verification
 * waits for. Scenarios that break the same resource cannot share an account (the environment refuses
 * them), so they play in batches, each in its own environment with its own platform, one batch after
 * the other. What to expect comes from the scenarios (their alarm, the runbook they were written for, their
 * fault), not from the runbooks' steps: a team that changes runbooks/ changes what runs here.
 */

/** Batches of scenarios that break nothing in common. */
const ALL_BATCHES = [
  ['alb-target-errors', 'alb-unhealthy-targets', 'lambda-errors', 'rds-cpu'],
  ['alb-target-latency', 'ec2-status-check-failed', 'lambda-throttling', 'rds-free-storage'],
  ['ecs-service-saturation', 'sqs-queue-backlog', 'apigateway-5xx'],
];
/** Those whose runbook runbooks/ holds (a team that removes a runbook removes its scenario here). */
const BATCHES = ALL_BATCHES.map((batch) => scenariosWithRunbook('runbooks', batch)).filter(
  (batch) => batch.length > 0,
);
/** The platform's runbook.wait factor, as the other scenario tests: the account settles in seconds. */
const WAIT_SCALE = 1 / 30;
const TERMINAL = new Set(['succeeded', 'failed', 'aborted', 'interrupted']);
const BATCH_DEADLINE_MS = 150_000;

interface Played {
  /** As the environment sees it once its execution finished (is its fault still there?). */
  scenario: DemoScenario;
  detail: Json;
  /** The account's alarms at the end, name → state. */
  alarms: Map<string, string>;
  requests: EnvironmentRequests;
}

async function json(url: string | URL, init?: RequestInit): Promise<Json> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  expect(response.status, `${init?.method ?? 'GET'} ${url}`).toBeLessThan(300);
  return (await response.json()) as Json;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Approves every approval request once, through its first link, as the approval page's form does. */
async function approvePending(platform: RunningPlatform, approved: Set<string>): Promise<void> {
  const { notifications } = await json(new URL('api/outbox?limit=200', platform.url));
  for (const notification of notifications as Json[]) {
    if (notification.kind !== 'approval-request') continue;
    const link = notification.links?.[0]?.url as string | undefined;
    const approval = link ? new URL(link).pathname : undefined;
    if (!link || !approval || approved.has(approval)) continue;
    approved.add(approval);
    await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ decision: 'approve', comment: 'aws-scenarios e2e' }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
  }
}

/**
 * One batch in its own environment and platform: waits until the execution each scenario's alarm
 * started has finished, approving meanwhile; nothing but approvals is posted by the test.
 */
async function playBatch(batch: string[], dataDir: string): Promise<Map<string, Played>> {
  const environment = await SimulatedEnvironment.start({
    dataDir: join(dataDir, 'target'),
    scenarios: batch,
    // CloudWatch notices the AWS scenarios: neither Prometheus nor Alertmanager takes part.
    monitoring: 'fallback',
  });
  let platform: RunningPlatform | undefined;
  try {
    platform = await startPlatform({
      cwd: PACKAGE_ROOT,
      runbooksDir: 'runbooks',
      statemachinesDir: compiledStatemachinesDir('runbooks'),
      port: 0,
      dataDir: join(dataDir, 'platform'),
      environment: DEMO_ENVIRONMENT,
      live: true,
      waitScale: WAIT_SCALE,
      aws: demoAwsOptions(environment.endpoints.aws),
      configOverrides: demoToolConfig(environment.endpoints),
      print: () => {},
    });
    await environment.setReceiver(new URL('webhooks/alertmanager', platform.url).toString());
    const alarmNames = new Set(environment.scenarios().map((scenario) => scenario.alertname));
    const approved = new Set<string>();
    const finished = new Map<string, Json>();
    const deadline = Date.now() + BATCH_DEADLINE_MS;
    while (finished.size < alarmNames.size && Date.now() < deadline) {
      await approvePending(platform, approved);
      const { executions } = await json(new URL('api/executions?limit=100', platform.url));
      for (const summary of executions as Json[]) {
        if (!TERMINAL.has(summary.status)) continue;
        const detail = await json(new URL(`api/executions/${encodeURIComponent(summary.id)}`, platform.url));
        const alarm = detail.execution.alert.name as string;
        if (alarmNames.has(alarm) && !finished.has(alarm)) finished.set(alarm, detail);
      }
      await sleep(500);
    }
    const state = environment.state() as Json;
    const alarms = new Map<string, string>(
      state.aws.alarms.map((alarm: Json) => [alarm.name as string, alarm.state as string]),
    );
    const requests = environment.requests();
    const played = new Map<string, Played>();
    for (const scenario of environment.scenarios()) {
      const detail = finished.get(scenario.alertname);
      if (detail) played.set(scenario.id, { scenario, detail, alarms, requests });
    }
    return played;
  } finally {
    await platform?.stop();
    await environment.stop();
  }
}

describe('every AWS scenario, remediated by the shipped runbooks', () => {
  const played = new Map<string, Played>();
  const dataDirs: string[] = [];

  beforeAll(
    async () => {
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
      const started = Date.now();
      compiledStatemachinesDir('runbooks');
      // One after the other: each batch's platform start is CPU-bound, and this machine has two cores.
      for (const batch of BATCHES) {
        const dataDir = mkdtempSync(join(tmpdir(), 'aws-scenarios-'));
        dataDirs.push(dataDir);
        for (const [id, entry] of await playBatch(batch, dataDir)) played.set(id, entry);
      }
      const elapsedMs = Date.now() - started;
      process.stdout.write(
        `aws scenarios: ${played.size} of ${BATCHES.flat().length} finished in ${Math.round(elapsedMs / 1_000)} s (${[
          ...played,
        ]
          .map(
            ([id, { detail }]) =>
              `${id} → ${detail.execution.runbookId} ${detail.execution.status} in ${Math.round(
                (Date.parse(detail.execution.stoppedAt) - Date.parse(detail.execution.startedAt)) / 1_000,
              )} s`,
          )
          .join('; ')})\n`,
      );
    },
    BATCHES.length * (BATCH_DEADLINE_MS + 60_000),
  );

  afterAll(() => {
    for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
  });

  /** What went on, when an expectation fails: each step's status and output. */
  const story = (id: string) => {
    const entry = played.get(id);
    if (!entry) return `no execution of ${id} finished`;
    return JSON.stringify(
      {
        runbook: entry.detail.execution.runbookId,
        outcome: entry.detail.execution.outcome,
        steps: (entry.detail.steps as Json[]).map((step) => [
          `${step.kind}:${step.stepId}`,
          step.status,
          step.error ?? step.reason ?? step.output,
        ]),
      },
      null,
      1,
    ).slice(0, 20_000);
  };

  it('plays every AWS scenario there is, each in one batch', () => {
    const aws = SCENARIOS.filter((scenario) => scenario.source === 'cloudwatch').map(
      (scenario) => scenario.id,
    );
    expect(ALL_BATCHES.flat().sort()).toEqual(aws.sort());
    expect([...played.keys()].sort()).toEqual(BATCHES.flat().sort());
  });

  it.each(BATCHES.flat())(
    '%s: its alarm started the runbook it was written for, which remediated, verified and succeeded; the fault is gone, the alarm OK',
    (id) => {
      const entry = played.get(id);
      expect(entry, story(id)).toBeDefined();
      const { scenario, detail, alarms, requests } = entry!;
      const steps = detail.steps as Json[];
      const step = (key: string) =>
        steps.filter((candidate) => `${candidate.kind}:${candidate.stepId}` === key).at(-1);

      // The alarm's EventBridge event selected the runbook the scenario was written for; it succeeded
      expect(detail.execution, story(id)).toMatchObject({
        runbookId: scenario.runbookId,
        status: 'succeeded',
        alert: { source: 'cloudwatch', name: scenario.alertname },
      });
      expect(detail.incident).toMatchObject({ status: 'resolved' });

      // It resolved the resource in the simulated account
      expect(step('check:resource'), story(id)).toMatchObject({
        status: 'succeeded',
        output: { resource: { region: 'eu-west-1', account: '222222222222' } },
      });
      // It changed the account (every change made, none skipped, nothing undone)
      const changes = steps.filter((candidate) => candidate.kind === 'step' && candidate.mutating);
      expect(changes.length, story(id)).toBeGreaterThan(0);
      expect(
        changes.map((change) => `${change.stepId}:${change.status}`),
        story(id),
      ).toEqual(changes.map((change) => `${change.stepId}:succeeded`));
      expect(steps.filter((candidate) => candidate.kind === 'compensation')).toEqual([]);
      // Verification: the alarm's OK resolved the incident, and every check of the runbook held
      expect(step('check:verify-alert-resolved'), story(id)).toMatchObject({
        status: 'succeeded',
        output: { resolved: true },
      });
      const checks = steps.filter(
        (candidate) =>
          candidate.kind === 'check' && !['resource', 'verify-alert-resolved'].includes(candidate.stepId),
      );
      expect(checks.length, story(id)).toBeGreaterThan(0);
      expect(
        checks.map((check) => `${check.stepId}:${check.status}`),
        story(id),
      ).toEqual(checks.map((check) => `${check.stepId}:succeeded`));

      // The account healed: the fault is gone, and its alarm went to ALARM once and back to OK
      expect(scenario.faultHolds).toBe(false);
      expect(alarms.get(scenario.alertname)).toBe('OK');
      expect(
        requests.eventbridge
          .filter((delivery) => delivery.alarmName === scenario.alertname)
          .map((delivery) => `${delivery.previousState}→${delivery.state}:${delivery.httpStatus}`),
      ).toEqual(['OK→ALARM:202', 'ALARM→OK:202']);
      expect(requests.aws.filter((request) => request.status >= 500)).toEqual([]);
    },
  );
});

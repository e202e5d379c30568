import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_ENVIRONMENT, demoAwsOptions, demoToolConfig } from '../../local/demo/demo.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { PACKAGE_ROOT } from '../../local/project.ts';
import { type DemoScenario, SimulatedEnvironment } from '../../local/sim/environment.ts';
import type { Json } from '../support/json.ts';
import { compiledStatemachinesDir, scenariosWithRunbook } from '../support/library.ts';
import { describeWithMonitoring } from '../support/monitoring.ts';

/**
 * The workload scenarios, all at once in one simulated environment, through the real Prometheus and
 * Alertmanager, on the runbooks the team ships in runbooks/ (live, with every approval granted through
 * its link as the approval page's form does). What to expect comes from each scenario (the alert it
 * raises, the labels that single it out), not from runbook names: for each, the alert reached the
 * platform from Alertmanager, the runbook the classifier selected for it remediated, reached
 * verification and succeeded, and Alertmanager's `resolved` notification closed the incident. A team
 * that changes runbooks/ changes what runs here; a runbook that no longer heals its scenario fails it.
 */

/** The scenarios that break workloads (each remediated by one of the workload runbooks runbooks/ holds). */
const WORKLOAD_SCENARIOS = scenariosWithRunbook('runbooks', [
  'crash-loop',
  'evicted-pod',
  'image-pull-backoff',
  'rollout-stuck',
  'daemonset-pod-wedged',
  'job-failed',
  'hpa-maxed-out',
  'cpu-throttling',
  'pvc-filling',
  'target-down',
]);
/** The platform's runbook.wait factor: the simulated cluster settles in seconds. */
const WAIT_SCALE = 1 / 60;
const TERMINAL = new Set(['succeeded', 'failed', 'aborted', 'interrupted']);
/** Ten scenarios at once on 2 busy cores: an upper bound, not a speed target. */
const DEADLINE_MS = 240_000;

async function json(url: string | URL, init?: RequestInit): Promise<Json> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  expect(response.status, `${init?.method ?? 'GET'} ${url}`).toBeLessThan(300);
  return (await response.json()) as Json;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The alert's labels include every label that singles out the scenario's alert. */
function isScenarioAlert(scenario: DemoScenario, labels: Record<string, string> | undefined): boolean {
  return Object.entries(scenario.alertLabels).every(([name, value]) => labels?.[name] === value);
}

describeWithMonitoring('workload scenarios through the real Prometheus and Alertmanager', () => {
  let dataDir: string;
  let environment: SimulatedEnvironment;
  let platform: RunningPlatform;
  let scenarios: DemoScenario[];
  /** scenario id → the detail of the execution its alert started. */
  const outcomes = new Map<string, Json>();
  const approved = new Set<string>();
  /** scenario id → every execution its alerts started (one change per scenario, even with several alerts). */
  const runs = new Map<string, Set<string>>();
  let elapsedMs = 0;

  /** Approves every pending approval once, through its first link, as the approval page's form does. */
  async function approvePending(): Promise<void> {
    const { notifications } = await json(new URL('api/outbox?limit=500', platform.url));
    for (const notification of notifications as Json[]) {
      if (notification.kind !== 'approval-request') continue;
      const link = notification.links[0]?.url as string | undefined;
      if (!link) continue;
      const approval = decodeURIComponent(new URL(link).pathname);
      if (approved.has(approval)) continue;
      approved.add(approval);
      await fetch(link, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ decision: 'approve', comment: 'workload scenarios e2e' }).toString(),
        signal: AbortSignal.timeout(10_000),
      });
    }
  }

  /** The executions whose alert is one of the scenarios', with their details; terminal ones kept. */
  async function collect(): Promise<void> {
    const { executions } = await json(new URL('api/executions?limit=200', platform.url));
    for (const summary of executions as Json[]) {
      const detail = await json(new URL(`api/executions/${encodeURIComponent(summary.id)}`, platform.url));
      const scenario = scenarios.find((candidate) =>
        isScenarioAlert(candidate, detail.incident?.alert.labels),
      );
      if (!scenario) continue;
      runs.set(scenario.id, (runs.get(scenario.id) ?? new Set()).add(summary.id));
      // A finished execution is kept; a running one stands in until one finishes.
      if (TERMINAL.has(detail.execution.status) || !TERMINAL.has(outcomes.get(scenario.id)?.execution.status))
        outcomes.set(scenario.id, detail);
    }
  }

  /** scenario id → what the classifier recorded about its alert, for one that started no execution. */
  const classified = new Map<string, Json[]>();

  /** The classifier's audit events about each scenario alert that started nothing (why, on failure). */
  async function explainMissing(): Promise<void> {
    const missing = scenarios.filter((scenario) => !outcomes.has(scenario.id));
    if (missing.length === 0) return;
    const { events } = await json(new URL('api/audit?actor=classifier&limit=1000', platform.url));
    for (const scenario of missing)
      classified.set(scenario.id, [
        { alertmanagerSent: environment.alerts().filter((alert) => alert.alertname === scenario.alertname) },
        ...(events as Json[]).filter(
          (event) => event.alert?.name === scenario.alertname || event.alertName === scenario.alertname,
        ),
      ]);
  }

  const finished = () =>
    [...outcomes.values()].filter((detail) => TERMINAL.has(detail.execution.status)).length;

  beforeAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    const started = Date.now();
    dataDir = mkdtempSync(join(tmpdir(), 'workload-scenarios-'));
    environment = await SimulatedEnvironment.start({
      dataDir: join(dataDir, 'target'),
      scenarios: WORKLOAD_SCENARIOS,
      monitoring: 'real',
    });
    scenarios = environment.scenarios();
    // The team's runbooks/ as they are now, compiled apart (the test never rewrites statemachines/).
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

    // Nothing is posted by the test but approvals: every execution comes from Alertmanager's webhooks.
    while (finished() < scenarios.length && Date.now() - started < DEADLINE_MS) {
      await approvePending();
      await collect();
      await sleep(500);
    }
    elapsedMs = Date.now() - started;
    await explainMissing();
    process.stdout.write(
      `workload scenarios: ${finished()} of ${scenarios.length} finished in ${elapsedMs} ms (${[...outcomes]
        .map(([id, detail]) => `${id} ${detail.execution.runbookId} ${detail.execution.status}`)
        .join(', ')})\n`,
    );
  }, DEADLINE_MS + 30_000);

  afterAll(async () => {
    await platform?.stop();
    await environment?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** What went on, when an expectation fails: each step's status and output. */
  const story = (detail: Json | undefined, id?: string) =>
    detail
      ? JSON.stringify(
          {
            status: detail.execution.status,
            runbook: detail.execution.runbookId,
            outcome: detail.execution.outcome,
            steps: detail.steps.map((step: Json) => [step.stepId, step.status, step.error ?? step.output]),
          },
          null,
          1,
        ).slice(0, 20_000)
      : `no execution finished for it; the classifier recorded ${JSON.stringify(classified.get(id ?? '') ?? [], null, 1).slice(0, 20_000)}`;

  it.each(WORKLOAD_SCENARIOS)(
    '%s: Alertmanager delivered its alert, a runbook remediated it, verified, and the resolved notification closed the incident',
    async (id) => {
      const scenario = scenarios.find((candidate) => candidate.id === id)!;
      const detail = outcomes.get(id);
      const step = (stepId: string) =>
        (detail?.steps as Json[] | undefined)?.filter((candidate) => candidate.stepId === stepId).at(-1);

      // One execution, which succeeded after verifying that the alert resolved
      expect(detail?.execution.status, story(detail, id)).toBe('succeeded');
      expect(runs.get(id)?.size, [...(runs.get(id) ?? [])].join(', ')).toBe(1);
      expect(step('verify-alert-resolved'), story(detail)).toMatchObject({
        status: 'succeeded',
        output: { resolved: true },
      });
      // …and it changed something: a remediating step of the runbook succeeded
      const runbook = platform.catalog().find((entry) => entry.id === detail!.execution.runbookId)!.runbook!;
      const remediations = new Set(
        runbook.phases.flatMap((phase) =>
          phase.steps
            .filter((candidate) => candidate.type === 'remediation')
            .map((candidate) => candidate.id),
        ),
      );
      expect(
        (detail!.steps as Json[]).some(
          (candidate) => remediations.has(candidate.stepId) && candidate.status === 'succeeded',
        ),
        story(detail),
      ).toBe(true);

      // The alert came from the chart rule through Alertmanager: its fingerprint, the scenario's labels
      const seen = environment
        .alerts()
        .find((alert) => alert.fingerprint === detail!.execution.alert.fingerprint);
      expect(isScenarioAlert(scenario, seen?.labels), JSON.stringify(seen)).toBe(true);
      expect(detail!.execution.alert).toMatchObject({ source: 'prometheus', name: scenario.alertname });
      expect(detail!.incident.alert.generatorURL).toContain(environment.endpoints.prometheus);

      // Alertmanager's resolved notification closed the incident
      const incident = await platform.platform.store.getIncident(detail!.execution.incidentId);
      expect(incident?.status).toBe('resolved');
      expect(seen?.state).toBe('resolved');
    },
  );

  it('ran them all within the time a test may take', () => {
    expect(finished()).toBe(WORKLOAD_SCENARIOS.length);
    expect(elapsedMs).toBeLessThan(DEADLINE_MS);
  });
});

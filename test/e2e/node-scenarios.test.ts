import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_ENVIRONMENT, demoAwsOptions, demoToolConfig } from '../../local/demo/demo.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { PACKAGE_ROOT } from '../../local/project.ts';
import { type SeenAlert, SimulatedEnvironment } from '../../local/sim/environment.ts';
import { selectScenarios } from '../../local/sim/scenarios/index.ts';
import type { Json } from '../support/json.ts';
import { compiledStatemachinesDir, scenariosWithRunbook } from '../support/library.ts';
import { describeWithMonitoring } from '../support/monitoring.ts';

/**
 * The node scenarios whose runbooks remediate, all at once in one simulated environment, through the
 * real Prometheus and Alertmanager, on the embedded platform serving runbooks/ (live, waits ×1/30) with
 * every approval granted through its link as an approver would. What is expected comes from the
 * scenarios (the alert each raises), not from runbook names: whichever runbook the classifier selects
 * for an alert must change something, reach verification and succeed, and Alertmanager's resolved
 * notification must close the incident.
 */

const SCENARIOS = selectScenarios(
  scenariosWithRunbook('runbooks', ['memory-pressure', 'disk-filling', 'node-not-ready']),
);
const TERMINAL = new Set(['succeeded', 'failed', 'aborted']);
const WAIT_SCALE = 1 / 30;

async function json(url: string | URL, init?: RequestInit): Promise<Json> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  expect(response.status, `${init?.method ?? 'GET'} ${url}`).toBeLessThan(300);
  return (await response.json()) as Json;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface Played {
  scenario: string;
  alertname: string;
  /** The alert as Alertmanager held it (found by the labels the scenario's rule keeps). */
  alert: SeenAlert;
  detail: Json;
}

describeWithMonitoring('the node scenarios at once, through the real Prometheus and Alertmanager', () => {
  let dataDir: string;
  let environment: SimulatedEnvironment;
  let platform: RunningPlatform;
  const played: Played[] = [];
  let elapsedMs = 0;

  beforeAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    const started = Date.now();
    dataDir = mkdtempSync(join(tmpdir(), 'node-scenarios-'));
    environment = await SimulatedEnvironment.start({
      dataDir: join(dataDir, 'target'),
      scenarios: SCENARIOS.map((scenario) => scenario.id),
      monitoring: 'real',
      monitoringInBackground: true,
    });
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

    // Approve every approval request through its first link, as the approval page's form does.
    const approved = new Set<string>();
    let approving = true;
    const approver = (async () => {
      while (approving) {
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
            body: new URLSearchParams({ decision: 'approve', comment: 'node-scenarios test' }).toString(),
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();

    try {
      const scenarios = environment.scenarios();
      await Promise.all(
        scenarios.map(async (scenario) => {
          const matches = (labels: Record<string, string>) =>
            Object.entries(scenario.alertLabels).every(([name, value]) => labels[name] === value);
          // Nothing is posted by the test: the alert and its execution can only come from Alertmanager.
          const alert = await until(
            `${scenario.alertname} in Alertmanager`,
            async () => environment.alerts().find((candidate) => matches(candidate.labels)),
            120_000,
          );
          const execution = await until(
            `an execution for ${scenario.alertname}`,
            async () => {
              const { executions } = await json(new URL('api/executions', platform.url));
              for (const candidate of executions as Json[]) {
                const detail = await json(
                  new URL(`api/executions/${encodeURIComponent(candidate.id)}`, platform.url),
                );
                if (detail.execution.alert.fingerprint === alert.fingerprint) return detail.execution;
              }
              return undefined;
            },
            120_000,
          );
          const detail = await until(
            `execution ${execution.id} (${scenario.alertname}) to finish`,
            async () => {
              const current = await json(
                new URL(`api/executions/${encodeURIComponent(execution.id)}`, platform.url),
              );
              return TERMINAL.has(current.execution.status) ? current : undefined;
            },
            180_000,
          );
          // Alertmanager's resolved notification arrives after its group interval.
          await until(
            `${scenario.alertname} resolved in Alertmanager`,
            async () =>
              environment.alerts().find((candidate) => candidate.fingerprint === alert.fingerprint)?.state ===
              'resolved'
                ? true
                : undefined,
            30_000,
          );
          played.push({ scenario: scenario.id, alertname: scenario.alertname, alert, detail });
        }),
      );
    } finally {
      approving = false;
      await approver;
    }
    elapsedMs = Date.now() - started;
    process.stdout.write(
      `node scenarios: ${played.length} executions in ${Math.round(elapsedMs / 1000)} s (${played
        .map(
          ({ scenario, detail }) =>
            `${scenario} → ${detail.execution.runbookId} ${detail.execution.status} in ${Math.round(
              (Date.parse(detail.execution.stoppedAt) - Date.parse(detail.execution.startedAt)) / 1000,
            )} s`,
        )
        .join('; ')})\n`,
    );
  }, 360_000); // hang guards for busy machines, not speed targets (the scenarios settle in about a minute)

  afterAll(async () => {
    await platform?.stop();
    await environment?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('played every scenario', () => {
    expect(played.map((entry) => entry.scenario).sort()).toEqual(
      SCENARIOS.map((scenario) => scenario.id).sort(),
    );
  });

  it.each(SCENARIOS.map((scenario) => [scenario.id, scenario.alertname]))(
    '%s: %s came from Alertmanager, and the incident carries it with the external labels',
    async (id) => {
      // Prepare
      const { alert, detail, alertname } = played.find((entry) => entry.scenario === id)!;

      // Act
      const incident = await platform.platform.store.getIncident(detail.execution.incidentId);

      // Assess: Alertmanager's fingerprint, our Prometheus' generator URL, the external labels
      expect(detail.execution.alert).toMatchObject({
        source: 'prometheus',
        name: alertname,
        fingerprint: alert.fingerprint,
      });
      expect(incident?.alert.generatorURL).toContain(new URL(environment.endpoints.prometheus).host);
      expect(incident?.alert.labels).toMatchObject({
        cluster: 'staging-eks-eu-west-1',
        environment: 'staging',
      });
    },
  );

  it.each(SCENARIOS.map((scenario) => [scenario.id]))(
    '%s: the selected runbook changed something, reached verification and succeeded',
    (id) => {
      // Prepare
      const { detail } = played.find((entry) => entry.scenario === id)!;
      const steps = detail.steps as Json[];

      // Assess
      expect(detail.execution.status, JSON.stringify(detail.execution.outcome)).toBe('succeeded');
      expect(
        steps.some((step) => step.kind === 'step' && step.mutating && step.status === 'succeeded'),
        'a change was made',
      ).toBe(true);
      const checks = steps.filter((step) => step.kind === 'check');
      expect(checks.length).toBeGreaterThan(0);
      expect(checks.every((step) => step.status === 'succeeded')).toBe(true);
      expect(detail.approvals.every((approval: Json) => approval.status === 'approved')).toBe(true);
    },
  );

  it.each(SCENARIOS.map((scenario) => [scenario.id]))(
    "%s: Alertmanager's resolved notification closed the incident",
    async (id) => {
      // Prepare
      const { alert, detail } = played.find((entry) => entry.scenario === id)!;

      // Act
      const incident = await platform.platform.store.getIncident(detail.execution.incidentId);

      // Assess
      expect(
        environment.alerts().find((candidate) => candidate.fingerprint === alert.fingerprint)?.state,
      ).toBe('resolved');
      expect(incident).toMatchObject({ status: 'resolved' });
    },
  );

  it('Alertmanager delivered every notification, and the world healed', async () => {
    // Act
    const notifications = await environment.monitoring!.notifications();
    const state = environment.state();

    // Assess: firing and resolved notifications (Alertmanager groups the alerts by namespace), none failed
    expect(notifications.failed).toBe(0);
    expect(notifications.sent).toBeGreaterThanOrEqual(2);
    expect(state.nodes.every((node) => node.ready === 'True' && node.kubelet === 'active')).toBe(true);
    expect(state.nodes.some((node) => node.memoryPressure)).toBe(false);
    expect(state.filesystems.every((filesystem) => filesystem.freePercent > 15)).toBe(true);
  });
});

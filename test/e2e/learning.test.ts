import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPatch } from 'diff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutomationPolicy } from '../../functions/core/automation/levels.ts';
import { validateRunbookText } from '../../functions/core/runbook/validate.ts';
import { WatchPolicy } from '../../functions/core/watch/policy.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import { main } from '../../local/cli.ts';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { cdkJsonPath, loadEnvironmentConfig, loadPolicies } from '../../local/project.ts';
import type { Json } from '../support/json.ts';
import { compiledStatemachinesDir } from '../support/library.ts';
import { OPTIONS, ROOT } from '../support/runbooks.ts';

/**
 * Learning end to end on the embedded platform (real HTTP, dynalite, the compiled machine in
 * aws-local-stepfunctions, a simulated Kubernetes API): 50 real alerts over five days, each run's
 * outcome decided by fault injection in the API server — 15 runs (30%) whose workload read is slowed
 * past its 3 s timeout (the run goes on and scales), 10 whose Deployment does not exist (the read and
 * the scale fail), 25 clean — and each alert's start set so its time to recover is known. Every run is
 * a real execution recorded by the platform's own learning recorder; nothing is seeded in the store.
 * The learning report's figures equal what was injected; `runbook learn suggest` offers to raise the
 * timeout, with its diff; `--apply N` writes a new version that validates.
 */

const ENVIRONMENT = 'staging';
const RUNBOOKS_DIR = 'test/fixtures/runbooks/learning-e2e';
const RUNBOOK = 'learning-scale';
const NAMESPACE = 'shop';
const DAY_MS = 86_400_000;

type Injected = 'timeout' | 'fail' | 'ok';

/** Per day (oldest first): timed-out reads (the run still succeeds), failed runs, clean runs. */
const DAYS = [
  { timeout: 3, fail: 2, ok: 5 }, // 80%
  { timeout: 3, fail: 0, ok: 7 }, // 100%
  { timeout: 3, fail: 4, ok: 3 }, // 60%
  { timeout: 3, fail: 1, ok: 6 }, // 90%
  { timeout: 3, fail: 3, ok: 4 }, // 70%
];
/** Injected time to recover of succeeded runs, in turn (minutes). */
const RECOVER_MINUTES = [2, 3, 4, 5, 6];

interface Run {
  day: number;
  deployment: string;
  injected: Injected;
  recoverMs?: number;
  executionId?: string;
  /** The platform's time when the alert was sent (its start is recoverMs before). */
  firedAt?: number;
}

function plan(): Run[] {
  const runs: Run[] = [];
  let succeeded = 0;
  for (const [day, mix] of DAYS.entries()) {
    const kinds: Injected[] = [
      ...Array<Injected>(mix.timeout).fill('timeout'),
      ...Array<Injected>(mix.fail).fill('fail'),
      ...Array<Injected>(mix.ok).fill('ok'),
    ];
    for (const injected of kinds) {
      const run: Run = { day, deployment: `web-${runs.length}`, injected };
      if (injected !== 'fail')
        run.recoverMs = RECOVER_MINUTES[succeeded++ % RECOVER_MINUTES.length]! * 60_000;
      runs.push(run);
    }
  }
  return runs;
}

function alertBody(run: Run, startsAt: string) {
  const alertname = 'WorkloadNeedsReplicas';
  return {
    version: '4',
    groupKey: `{}:{alertname="${alertname}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'runbook-autopilot',
    groupLabels: { alertname },
    commonLabels: { alertname, environment: ENVIRONMENT },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.com',
    alerts: [
      {
        status: 'firing',
        labels: {
          alertname,
          severity: 'warning',
          namespace: NAMESPACE,
          deployment: run.deployment,
          environment: ENVIRONMENT,
        },
        annotations: { summary: `${run.deployment} needs more replicas` },
        startsAt,
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.com/graph',
        fingerprint: `fp-${run.deployment}`,
      },
    ],
  };
}

async function get(url: string, path: string): Promise<Json> {
  const response = await fetch(new URL(path, url));
  expect(response.status, path).toBe(200);
  return (await response.json()) as Json;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

describe('learning from 50 executions on the embedded platform', () => {
  const runs = plan();
  let kube: FakeKubeApi;
  let platform: RunningPlatform;
  let project: string;
  /** The platform's clock runs this far from the system's: each day's alerts arrive on their day. */
  let offsetMs = 0;
  const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };
  const firstDay = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAYS.length * DAY_MS;
  const dayOf = (day: number) => new Date(firstDay + day * DAY_MS).toISOString().slice(0, 10);

  beforeAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    kube = await FakeKubeApi.start({ autoReconcile: true });
    for (const run of runs) {
      if (run.injected === 'fail') continue; // no such Deployment: its read and its scale fail
      kube.addDeployment({
        namespace: NAMESPACE,
        name: run.deployment,
        replicas: 1,
        containers: [{ name: 'web', requests: { cpu: '100m', memory: '128Mi' } }],
      });
      if (run.injected === 'timeout')
        kube.slowDown({
          method: 'GET',
          path: new RegExp(`^/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${run.deployment}$`),
          ms: 5_000,
        });
    }
    project = mkdtempSync(join(tmpdir(), 'runbook-learning-e2e-'));
    // The environment's policy without the watch and demotion: 10 failures must not open the breaker or
    // demote the runbook, and a step timing out with no history must not pause its run for a person.
    const environment = loadEnvironmentConfig(cdkJsonPath(ROOT), ENVIRONMENT);
    const policy = loadPolicies(cdkJsonPath(ROOT))[ENVIRONMENT]!;
    platform = await startPlatform({
      cwd: ROOT,
      runbooksDir: RUNBOOKS_DIR,
      statemachinesDir: compiledStatemachinesDir(RUNBOOKS_DIR),
      port: 0,
      dataDir: mkdtempSync(join(project, 'data-')),
      inMemory: true,
      environment: ENVIRONMENT,
      live: true,
      clock,
      configOverrides: {
        tools: { kubernetes: { contexts: {}, eks: {} }, shell: { enabled: false, allow: [] } },
        policy: {
          ...policy,
          watch: WatchPolicy.parse({ stuckSteps: { enabled: false }, circuitBreaker: { enabled: false } }),
        },
        automation: AutomationPolicy.parse({
          ...environment.automation,
          demotion: { ...environment.automation.demotion, consecutiveFailures: 100, minRuns: 10_000 },
        }),
      },
      kubeConfigFactory: () => kube.kubeConfig(),
      retryIntervalMs: 20,
      reminderIntervalMs: 60_000,
      print: process.env.LEARNING_E2E_DEBUG ? (line) => console.log(line) : () => undefined,
    });
    // A project beside it, for `runbook learn suggest --apply`: a copy of the runbook and the schema.
    mkdirSync(join(project, 'runbooks'));
    copyFileSync(join(ROOT, 'cdk.json'), join(project, 'cdk.json'));
    copyFileSync(join(ROOT, 'runbooks', 'schema.json'), join(project, 'runbooks', 'schema.json'));
    copyFileSync(join(ROOT, RUNBOOKS_DIR, `${RUNBOOK}.yaml`), join(project, 'runbooks', `${RUNBOOK}.yaml`));

    // Act: each day's ten alerts at that day's noon, all at once; the next day once they have finished
    for (const day of DAYS.keys()) {
      offsetMs = firstDay + day * DAY_MS + DAY_MS / 2 - Date.now();
      const today = runs.filter((run) => run.day === day);
      await Promise.all(
        today.map(async (run) => {
          run.firedAt = clock.now().getTime();
          const startsAt = new Date(run.firedAt - (run.recoverMs ?? 60_000)).toISOString();
          const response = await fetch(new URL('webhooks/alertmanager', platform.url), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(alertBody(run, startsAt)),
          });
          const body = (await response.json()) as Json;
          expect(response.status, JSON.stringify(body)).toBe(202);
          expect(body.results[0].result.decision, JSON.stringify(body.results[0])).toBe('started');
          run.executionId = body.results[0].result.executionId;
        }),
      );
      await Promise.all(
        today.map((run) =>
          until(`${run.deployment} to finish and be recorded`, async () => {
            const detail = await get(platform.url, `api/executions/${encodeURIComponent(run.executionId!)}`);
            return detail.execution.outcome ? detail : undefined;
          }),
        ),
      );
    }
    offsetMs = 0;
    // The aggregate is recomputed once a run's outcome is written: wait for the last one.
    await until('the learning aggregate of all runs', async () => {
      const report = await get(platform.url, 'api/learning');
      const entry = report.runbooks.find((runbook: Json) => runbook.runbookId === RUNBOOK);
      return entry?.executions === runs.length ? true : undefined;
    });
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    await kube?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  async function cli(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'runbook', ...args], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      cwd: project,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('reports the figures that were injected: counts, success rate, timeouts, step failures, MTTR, per day', async () => {
    // Act
    const report = await get(platform.url, 'api/learning');
    const runbook = report.runbooks.find((entry: Json) => entry.runbookId === RUNBOOK);
    const executions = await Promise.all(
      runs.map(async (run) => ({
        run,
        detail: (await get(platform.url, `api/executions/${encodeURIComponent(run.executionId!)}`)).execution,
      })),
    );

    // Assess: each run ended as injected
    for (const { run, detail } of executions)
      expect([run.deployment, detail.status]).toEqual([
        run.deployment,
        run.injected === 'fail' ? 'failed' : 'succeeded',
      ]);
    // counts and rates
    expect(runbook).toMatchObject({
      executions: 50,
      succeeded: 40,
      failed: 10,
      aborted: 0,
      successRate: 0.8,
    });
    expect(report.totals).toMatchObject({ executions: 50, succeeded: 40 });
    // steps: the read failed in 25 runs (15 timed out, 10 not found), the scale in the 10 without a Deployment
    const steps = Object.fromEntries(runbook.steps.map((step: Json) => [step.stepId, step]));
    expect(steps['workload-status']).toMatchObject({ runs: 50, failures: 25 });
    expect(steps['scale-up']).toMatchObject({ runs: 50, failures: 10 });
    const timeouts = runbook.failurePatterns.find(
      (pattern: Json) =>
        pattern.stepId === 'workload-status' &&
        pattern.errorClass === 'Runbook.StepTimeout' &&
        Object.keys(pattern.labels).length === 0,
    );
    expect(timeouts).toMatchObject({ support: 15, runs: 50, confidence: 0.3 });
    const read = runbook.insights.effectiveness.diagnostics.find(
      (step: Json) => step.stepId === 'workload-status',
    );
    expect(read).toMatchObject({ runs: 50, failed: 25, failureRate: 0.5 });
    // time to recover: the injected one plus the run's own time, from the alert to its recorded stop
    const recovered = new Map(
      executions.flatMap(({ run, detail }) =>
        run.recoverMs === undefined
          ? []
          : [[run, run.recoverMs + (Date.parse(detail.stoppedAt) - run.firedAt!)]],
      ),
    );
    for (const [run, expected] of recovered) {
      expect(expected - run.recoverMs!).toBeLessThan(60_000);
      expect(executions.find((entry) => entry.run === run)!.detail.outcome.timeToRecoverMs).toBe(expected);
    }
    expect(runbook.meanTimeToRecoverMs).toBe(Math.round(mean([...recovered.values()])));
    // per day, as the Learning page charts it
    expect(
      runbook.timeline.days.map((day: Json) => [
        day.day,
        day.runs,
        day.succeeded,
        day.failed,
        day.successRate,
      ]),
    ).toEqual(
      DAYS.map((mix, day) => [dayOf(day), 10, mix.timeout + mix.ok, mix.fail, (mix.timeout + mix.ok) / 10]),
    );
    for (const [day, bucket] of runbook.timeline.days.entries()) {
      const ofDay = [...recovered].filter(([run]) => run.day === day).map(([, ms]) => ms);
      expect(bucket).toMatchObject({ recovered: ofDay.length, meanTimeToRecoverMs: Math.round(mean(ofDay)) });
    }
    const chartedRead = runbook.timeline.steps.find((step: Json) => step.stepId === 'workload-status');
    expect(chartedRead).toMatchObject({ runs: 50, failed: 25, timedOut: 15, failureRate: 0.5 });
  });

  it('suggests raising the timeout that failed 30% of runs, with its diff; --apply writes a new version that validates', async () => {
    // Act
    const listed = await cli('learn', 'suggest', RUNBOOK, '--url', platform.url, '--json');
    expect(listed.code, listed.err).toBe(0);
    const [suggested] = JSON.parse(listed.out).runbooks;
    const raise = suggested.suggestions.find((suggestion: Json) => suggestion.rule === 'raise-timeout');
    const file = join(project, 'runbooks', `${RUNBOOK}.yaml`);
    const before = readFileSync(file, 'utf8');
    const applied = await cli(
      'learn',
      'suggest',
      RUNBOOK,
      '--apply',
      String(raise.number),
      '--url',
      platform.url,
    );
    const after = readFileSync(file, 'utf8');
    const validated = await cli('validate', 'runbooks');

    // Assess: the suggestion rests on the injected timeouts
    expect(suggested).toMatchObject({ runbookId: RUNBOOK, runs: 50 });
    expect(raise).toMatchObject({
      rule: 'raise-timeout',
      title: `Raise the timeout of step "workload-status" from 3s to ${raise.figures.proposedTimeoutSeconds}s`,
      version: { from: '2.3.0', to: '2.3.1', bump: 'patch' },
      figures: { timedOut: 15 },
    });
    expect(raise.evidence.join('\n')).toContain('15 of 50 runs (30%) timed out at 3s (Runbook.StepTimeout)');
    const proposed = raise.figures.proposedTimeoutSeconds;
    expect(proposed).toBeGreaterThan(3);
    expect(raise.diff).toContain('-        timeout: 3s # the API server answers within milliseconds');
    expect(raise.diff).toContain(
      `+        timeout: ${proposed}s # the API server answers within milliseconds`,
    );
    // applying it: exactly the diff, a version bumped, a runbook that validates
    expect(applied.code, applied.err).toBe(0);
    expect(applied.out).toContain(`applied suggestion ${raise.number} to runbooks/${RUNBOOK}.yaml`);
    expect(applyPatch(before, raise.diff)).toBe(after);
    expect(after).toBe(
      before
        .replace('version: 2.3.0', 'version: 2.3.1')
        .replace('timeout: 3s # the API server', `timeout: ${proposed}s # the API server`),
    );
    const result = validateRunbookText(after, OPTIONS);
    expect(result.problems ?? []).toEqual([]);
    expect(result.runbook).toMatchObject({ version: '2.3.1' });
    expect(validated.code, validated.err).toBe(0);
  });
});

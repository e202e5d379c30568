import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PhaseOrder } from '../../functions/core/records.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import type { Json } from '../support/json.ts';
import { type SeedRun, seedRuns } from '../support/learning-history.ts';
import { compiledStatemachinesDir } from '../support/library.ts';
import { loadRunbook, ROOT } from '../support/runbooks.ts';

/**
 * Reorderable steps on the embedded platform: a seeded history in which the upstream probe found the
 * failing dependency 9 runs in 10 (in 2 s) and the cache probe 1 in 10 (in 1 s) makes the next
 * execution probe the upstream first, stop the phase there (stopWhen), skip the other probes, and
 * record the order it used and why. The probes are real http.check calls to a local server.
 */

const RUNBOOKS_DIR = 'test/fixtures/runbooks/order';
const RUNBOOK = loadRunbook(`${RUNBOOKS_DIR}/upstream-probes.yaml`);
const ENVIRONMENT = 'staging';

/** Each of the ten earlier runs probed everything (in the declared order, before any was measured). */
function earlierRuns(): SeedRun[] {
  return Array.from({ length: 10 }, (_, index) => {
    const probe = (status: number, durationMs: number) => ({
      durationMs,
      output: { url: 'http://probe', status, latencyMs: durationMs, ok: true },
    });
    return {
      status: 'failed',
      steps: {
        'cache-probe': probe(index === 9 ? 503 : 200, 1_000),
        'database-probe': probe(200, 1_000),
        'upstream-probe': probe(index < 9 ? 503 : 200, 2_000),
      },
    };
  });
}

let platform: RunningPlatform;
let probes: Server;
let probeBase: string;
const probed: string[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'runbook-step-order-'));

beforeAll(async () => {
  probes = createServer((request, response) => {
    probed.push(request.url ?? '');
    response.statusCode = request.url === '/upstream' ? 503 : 200;
    response.end('ok');
  });
  await new Promise<void>((resolve) => probes.listen(0, '127.0.0.1', resolve));
  probeBase = `http://127.0.0.1:${(probes.address() as AddressInfo).port}`;
  platform = await startPlatform({
    cwd: ROOT,
    runbooksDir: RUNBOOKS_DIR,
    statemachinesDir: compiledStatemachinesDir(RUNBOOKS_DIR),
    port: 0,
    dataDir,
    inMemory: true,
    environment: ENVIRONMENT,
    live: false,
    retryIntervalMs: 20,
    reminderIntervalMs: 60_000,
    print: () => undefined,
  });
});

afterAll(async () => {
  await platform?.stop();
  await new Promise((resolve) => probes?.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

async function get(path: string) {
  const response = await fetch(new URL(path, platform.url));
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

function alertmanagerBody() {
  return {
    version: '4',
    groupKey: '{}:{alertname="UpstreamDegraded"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'runbook-autopilot',
    groupLabels: { alertname: 'UpstreamDegraded' },
    commonLabels: { alertname: 'UpstreamDegraded', environment: ENVIRONMENT },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.com',
    alerts: [
      {
        status: 'firing',
        labels: {
          alertname: 'UpstreamDegraded',
          environment: ENVIRONMENT,
          service: 'checkout',
          severity: 'critical',
        },
        annotations: { summary: 'checkout answers 5xx', probe_base: probeBase },
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.com/graph',
        fingerprint: 'a1b2c3d4e5f60718',
      },
    ],
  };
}

describe('reorderable steps on the embedded platform', () => {
  it('runs the probe that decides most per second first, stops the phase there, and records why', async () => {
    // Prepare: the history, as the learning recorder keeps it, and the aggregate it recomputes
    const { store, services } = platform.platform;
    const { executions, outcomes } = seedRuns(RUNBOOK, earlierRuns(), Date.now() - 20 * 3_600_000);
    for (const [index, execution] of executions.entries()) {
      await store.createExecution({ ...execution, environment: ENVIRONMENT });
      for (const outcome of outcomes[index]!) await store.putStepOutcome(outcome);
    }
    await services.learning.recompute(RUNBOOK.id);
    const learned = await store.getLearningAggregate(RUNBOOK.id);
    expect(learned?.steps.find((step) => step.stepId === 'upstream-probe')).toMatchObject({
      p50DurationMs: 2_000,
      decisions: { decided: 9, decidable: 10 },
    });

    // Act: the alert arrives
    const response = await fetch(new URL('/webhooks/alertmanager', platform.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alertmanagerBody()),
    });
    const fired = (await response.json()) as Json;
    const executionId: string = fired.results?.[0]?.result?.executionId;
    expect(executionId, JSON.stringify(fired)).toBeTruthy();
    const detail = await until('the execution to finish', async () => {
      const body = await get(`/api/executions/${encodeURIComponent(executionId)}`);
      return ['succeeded', 'failed', 'aborted'].includes(body.execution?.status) ? body : undefined;
    });

    // Assess: the upstream probe ran first and alone in its phase; the others were skipped, saying why
    const probesRun = probed.filter((path) => !path.startsWith('/edge'));
    expect(probesRun).toEqual(['/upstream']);
    const byStep = new Map<string, Json>(detail.steps.map((step: Json) => [step.stepId, step]));
    expect(byStep.get('upstream-probe')).toMatchObject({ status: 'succeeded', output: { status: 503 } });
    for (const skipped of ['cache-probe', 'database-probe'])
      expect(byStep.get(skipped)).toMatchObject({
        status: 'skipped',
        phase: 'probe',
        reason:
          'phase probe stopped early: its stopWhen held after upstream-probe, so the finding was decisive',
      });
    // The branch read the upstream's 503: the run is handed to a human.
    expect(detail.execution.outcome?.error).toBe('Runbook.EscalationRequested');

    // …and the order used, with each step's hit rate, expected duration and where they come from
    const order = detail.execution.stepOrder.probe as PhaseOrder;
    expect(order).toMatchObject({
      phase: 'probe',
      mode: 'sequential',
      basis: 'measured',
      stoppedAfter: 'upstream-probe',
      skipped: ['cache-probe', 'database-probe'],
    });
    expect(
      order.steps.map((step) => [step.stepId, step.source, step.decided, step.runs, step.expectedMs]),
    ).toEqual([
      ['upstream-probe', 'measured', 9, 10, 2_000],
      ['cache-probe', 'measured', 1, 10, 1_000],
      ['database-probe', 'measured', 0, 10, 1_000],
    ]);
    expect(order.steps[0]!.hitsPerSecond).toBeCloseTo(10 / 12 / 2, 6);
    expect(order.steps[1]!.hitsPerSecond).toBeCloseTo(2 / 12, 6);
    expect(order.reason).toMatch(
      /^highest hit rate per second first: upstream-probe decided 9\/10, p50 2\.0s over 10 runs/,
    );

    // The parallel group ran every edge, in lanes balanced by the declared durations (no history of them).
    expect(probed.filter((path) => path.startsWith('/edge')).sort()).toEqual([
      '/edge-a',
      '/edge-b',
      '/edge-c',
    ]);
    const survey = detail.execution.stepOrder.survey as PhaseOrder;
    expect(survey).toMatchObject({ mode: 'parallel', basis: 'declared', laneLoadsMs: [3_000, 3_000] });
    expect(survey.steps.map((step) => [step.stepId, step.lane])).toEqual([
      ['edge-a', 0],
      ['edge-b', 1],
      ['edge-c', 1],
    ]);
  }, 60_000);
});

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AutomationPolicy } from '../../functions/core/automation/levels.ts';
import { executionName } from '../../functions/core/classifier/identity.ts';
import type { LearningAggregate } from '../../functions/core/records.ts';
import { WatchPolicy } from '../../functions/core/watch/policy.ts';
import { main } from '../../local/cli.ts';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import type { RunningPlatform } from '../../local/platform.ts';
import { cdkJsonPath, loadEnvironmentConfig, loadPolicies } from '../../local/project.ts';
import { startEmbedded } from '../support/embedded.ts';
import type { Json } from '../support/json.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * Watching a running execution, end to end on the embedded platform (real HTTP, dynalite, the compiled
 * machines in aws-local-stepfunctions, a simulated Kubernetes API): a health signal that gets worse
 * after a change compensates long before the verification would give up; a step past its learned p99
 * pauses the execution and pages; failures of one runbook across executions open its circuit breaker,
 * which refuses the next alert until a person closes it. Nothing here measures speed: the verification
 * waits up to ten minutes and the test's own guards are far shorter.
 */

const ENVIRONMENT = 'staging';
const RUNBOOKS_DIR = 'test/fixtures/runbooks/watch';
const NAMESPACE = 'shop';
const IMAGE = 'registry.example.com/shop/web:1.4.2';
/** The fixture's verification waits this long for the alert (restart-watched.yaml). */
const VERIFICATION_WITHIN_MS = 10 * 60_000;

interface Environment {
  platform: RunningPlatform;
  kube: FakeKubeApi;
  url: string;
}

const started: Array<() => Promise<void>> = [];

beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});

afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
});

async function startEnvironment(
  watch: Record<string, unknown> = {},
  options: { demoteAfter?: number } = {},
): Promise<Environment> {
  const kube = await FakeKubeApi.start({ autoReconcile: true });
  // The environment's own policy from cdk.json, with the watch settings this test needs.
  const policy = loadPolicies(cdkJsonPath(ROOT))[ENVIRONMENT]!;
  const environment = loadEnvironmentConfig(cdkJsonPath(ROOT), ENVIRONMENT);
  const platform = await startEmbedded({
    runbooksDir: RUNBOOKS_DIR,
    environment: ENVIRONMENT,
    kube,
    configOverrides: {
      policy: { ...policy, watch: WatchPolicy.parse(watch) },
      ...(options.demoteAfter
        ? {
            automation: AutomationPolicy.parse({
              ...environment.automation,
              demotion: { ...environment.automation.demotion, consecutiveFailures: options.demoteAfter },
            }),
          }
        : {}),
    },
  });
  started.push(async () => {
    await platform.stop();
    await kube.stop();
  });
  return { platform, kube, url: platform.url };
}

function alertBody(alertname: string, deployment: string, status: 'firing' | 'resolved' = 'firing') {
  return {
    version: '4',
    groupKey: `{}:{alertname="${alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'runbook-autopilot',
    groupLabels: { alertname },
    commonLabels: { alertname, environment: ENVIRONMENT },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.com',
    alerts: [
      {
        status,
        labels: {
          alertname,
          severity: 'warning',
          namespace: NAMESPACE,
          deployment,
          environment: ENVIRONMENT,
        },
        annotations: { summary: `${deployment}: ${alertname}` },
        startsAt: '2026-11-25T10:00:00.000Z',
        endsAt: status === 'resolved' ? '2026-11-25T10:20:00.000Z' : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.com/graph',
        fingerprint: `fp-${alertname}-${deployment}`,
      },
    ],
  };
}

async function post(url: string, path: string, body?: unknown) {
  const response = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

async function get(url: string, path: string) {
  const response = await fetch(new URL(path, url));
  return { status: response.status, body: (await response.json()) as Json };
}

/** Waits for a condition; the guard only stops a hung test, it measures nothing. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function fire(url: string, alertname: string, deployment: string): Promise<Json> {
  const answer = await post(url, '/webhooks/alertmanager', alertBody(alertname, deployment));
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  return answer.body.results[0].result;
}

async function detail(url: string, executionId: string): Promise<Json> {
  return (await get(url, `/api/executions/${encodeURIComponent(executionId)}`)).body;
}

async function finished(url: string, executionId: string): Promise<Json> {
  let last: Json | undefined;
  try {
    return await until(`${executionId} to finish`, async () => {
      last = await detail(url, executionId);
      return ['succeeded', 'failed', 'aborted'].includes(last.execution?.status) ? last : undefined;
    });
  } catch (error) {
    // Say where it stood, not only that it did not finish.
    throw new Error(
      `${(error as Error).message}: ${last?.execution?.status} at ${last?.execution?.currentState}, steps ${JSON.stringify(last?.steps?.map((step: Json) => `${step.kind}:${step.stepId}:${step.status}`))}`,
    );
  }
}

async function notifications(url: string, executionId?: string): Promise<Json[]> {
  const query = executionId ? `?executionId=${encodeURIComponent(executionId)}` : '';
  return (await get(url, `/api/outbox${query}`)).body.notifications as Json[];
}

async function trail(url: string, executionId: string): Promise<Json[]> {
  return (await get(url, `/api/audit?execution=${encodeURIComponent(executionId)}&limit=1000`)).body
    .events as Json[];
}

const NODE = 'ip-10-0-3-17.eu-west-1.compute.internal';

function addWeb(kube: FakeKubeApi, name: string, replicas: number) {
  if (!kube.nodes.has(NODE)) kube.addNode({ name: NODE, usage: { cpu: '200m', memory: '2Gi' } });
  kube.addDeployment({
    namespace: NAMESPACE,
    name,
    replicas,
    nodes: [NODE],
    containers: [{ name: 'web', image: IMAGE, requests: { cpu: '100m', memory: '128Mi' } }],
  });
}

async function cli(url: string, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'runbook', ...args, '--url', url], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd: ROOT,
  });
  return { code, out, err };
}

describe('the health watch between a change and its verification', () => {
  it('a worsening health signal compensates before verification times out', async () => {
    // Prepare: four ready replicas; pods started from now on never pass their readiness probe
    const { url, kube, platform } = await startEnvironment();
    addWeb(kube, 'web', 4);
    kube.setImageBehaviour(IMAGE, { unready: true });

    // Act: the alert starts the restart; the restarted pods never get ready and one old pod goes
    const run = await fire(url, 'WorkloadNeedsRestart', 'web');
    const result = await until(
      'the execution to finish',
      async () => {
        const body = await detail(url, run.executionId);
        return ['succeeded', 'failed', 'aborted'].includes(body.execution?.status) ? body : undefined;
      },
      120_000,
    );
    const escalation = await until('the escalation', async () =>
      (await notifications(url, run.executionId)).find((notification) => notification.kind === 'escalation'),
    );
    const events = await trail(url, run.executionId);
    const incidents = await platform.platform.automationStore.listSafetyIncidents(
      ENVIRONMENT,
      '2000-01-01T00:00:00Z',
    );

    // Assess: the watch stopped it, the restart was undone, and long before the verification's 10 minutes
    expect(run.decision).toBe('started');
    expect(result.execution.status).toBe('failed');
    expect(result.execution.outcome).toMatchObject({ error: 'Safety.HealthWorse', rolledBack: true });
    const steps = result.steps.map((step: Json) => `${step.kind}:${step.stepId}:${step.status}`);
    expect(steps).toContain('step:rollout-restart:succeeded');
    expect(steps).toContain('compensation:rollout-restart:compensated');
    expect(steps).not.toContain('check:workload-ready:succeeded');
    const verification = result.steps.find(
      (step: Json) => step.stepId === 'verify-alert-resolved' && step.status === 'failed',
    );
    expect(verification.error.name).toBe('Safety.HealthWorse');
    expect(verification.error.message).toMatch(
      /^health signal steps\.workload-ready\.output\.readyReplicas fell from 4 before the first change to [0-3], \d+s into the verification \(which waits up to 600s for the alert\) \(worse when it decreases, margin 0\): stopping restart-watched and undoing its changes$/,
    );
    const firstVerification = result.steps.find((step: Json) => step.stepId === 'verify-alert-resolved');
    const compensation = result.steps.find((step: Json) => step.kind === 'compensation');
    const compensatedAfterMs = Date.parse(compensation.startedAt) - Date.parse(firstVerification.startedAt);
    expect(compensatedAfterMs).toBeGreaterThanOrEqual(0);
    expect(compensatedAfterMs).toBeLessThan(VERIFICATION_WITHIN_MS / 2);
    // rolled back to the template from before the restart
    const template = kube.deployments.get(`${NAMESPACE}/web`)!.spec!.template!.metadata?.annotations ?? {};
    expect(template['kubectl.kubernetes.io/restartedAt']).toBeUndefined();

    // the safety incident, the trail and the people told
    expect(incidents).toEqual([
      expect.objectContaining({
        kind: 'worse-health-after-change',
        executionId: run.executionId,
        runbookId: 'restart-watched',
        stepId: 'workload-ready',
      }),
    ]);
    const watchVerdicts = events.filter(
      (event) => event.kind === 'gate.verdict' && event.gate === 'health-watch',
    );
    expect(watchVerdicts.map((event) => event.verdict)).toEqual(['allowed', 'refused']);
    expect(watchVerdicts[0]!.reason).toBe(
      'baseline before rollout-restart: steps.workload-ready.output.readyReplicas = 4',
    );
    expect(watchVerdicts[0]!.actor).toEqual({ type: 'system', id: 'health-watch' });
    const kinds = events.map((event) => event.kind);
    expect(kinds.indexOf('gate.verdict', kinds.indexOf('change.started'))).toBeGreaterThan(0);
    expect(escalation.subject).toBe('[page] restart-watched: health worse on web');
    expect(escalation.text).toContain('Safety.HealthWorse');
    const report = (await get(url, '/api/learning')).body;
    expect(report.automation.safetyIncidents).toHaveLength(1);
  }, 180_000);
});

describe('the stuck-step watchdog', () => {
  it('a stuck step pauses the execution at its next checkpoint and pages; a person resumes it', async () => {
    // Prepare: the diagnosis took at most 200 ms in ten runs; the cluster now answers in seconds
    const { url, kube, platform } = await startEnvironment({ stuckSteps: { minimum: '1s', minRuns: 5 } });
    addWeb(kube, 'api', 1);
    const learned: LearningAggregate = {
      runbookId: 'scale-unwatched',
      executions: 10,
      succeeded: 10,
      failed: 0,
      aborted: 0,
      withoutHuman: 10,
      humanIntervention: 0,
      rollbacks: 0,
      rollbackFailures: 0,
      approvalsRequested: 0,
      approvalsAnswered: 0,
      byAlert: { WorkloadNeedsReplicas: { executions: 10, succeeded: 10 } },
      steps: [
        {
          stepId: 'workload-status',
          runs: 10,
          failures: 0,
          skipped: 0,
          meanDurationMs: 120,
          p90DurationMs: 180,
          p99DurationMs: 200,
        },
      ],
      updatedAt: new Date().toISOString(),
    };
    await platform.platform.store.putLearningAggregate(learned);
    kube.latencyMs = 4_000;

    // Act
    const run = await fire(url, 'WorkloadNeedsReplicas', 'api');
    const page = await until('the stuck-step page', async () =>
      (await notifications(url, run.executionId)).find((notification) =>
        notification.subject.includes('stuck'),
      ),
    );
    const held = await until('the execution held at its checkpoint', async () => {
      const body = await detail(url, run.executionId);
      return body.execution.status === 'paused' ? body : undefined;
    });
    kube.latencyMs = 0;
    const scaledWhileHeld = kube.deployments.get(`${NAMESPACE}/api`)!.spec!.replicas;
    const resumed = await post(url, `/api/executions/${encodeURIComponent(run.executionId)}/resume`, {
      by: 'dana@example.com',
    });
    const done = await finished(url, run.executionId);
    const events = await trail(url, run.executionId);

    // Assess: paused by the watchdog, told why, held before the change, then resumed by a person
    expect(page).toMatchObject({ kind: 'escalation', severity: 'page', to: ['oncall@example.com'] });
    expect(page.subject).toBe('[page] scale-unwatched: step workload-status stuck on api; execution paused');
    expect(page.text).toMatch(
      /^step workload-status \(k8s\.workload-status\) has been running \d+\.\ds, past its learned p99 of 0\.2s over 10 runs \(the environment waits at least 1\.0s\)\./,
    );
    expect(held.execution.control).toMatchObject({
      pauseRequested: true,
      requestedBy: 'stuck-step-watchdog',
    });
    expect(held.execution.heldCheckpoint.before).toBe('scale');
    expect(held.steps.map((step: Json) => `${step.stepId}:${step.status}`)).toEqual([
      'workload-status:succeeded',
    ]);
    expect(scaledWhileHeld).toBe(1);
    expect(resumed.status).toBe(202);
    expect(done.execution.status).toBe('succeeded');
    expect(kube.deployments.get(`${NAMESPACE}/api`)!.spec!.replicas).toBe(3);
    const pause = events.find((event) => event.kind === 'override.pause');
    expect(pause).toMatchObject({ actor: { type: 'system', id: 'stuck-step-watchdog' }, result: 'accepted' });
    expect(pause!.reason).toContain('past its learned p99 of 0.2s over 10 runs');
    expect(
      events
        .filter((event) => event.kind === 'gate.verdict' && event.gate === 'checkpoint')
        .map((event) => event.verdict),
    ).toEqual(expect.arrayContaining(['held', 'released']));
    expect(events.find((event) => event.kind === 'override.resume')?.actor.id).toBe('dana@example.com');
  }, 180_000);
});

describe('the circuit breaker of a runbook', () => {
  it('the circuit breaker opens after N failures, refuses the next alert, and a person closes it (API and CLI)', async () => {
    // Prepare: two failures within 30 minutes open a breaker here (and demote nothing: the levels'
    // demotion is tested on its own); the API server fails every scale of the gone-* Deployments (the
    // runbook's change fails: its own failure, not a limit's refusal)
    const { url, kube } = await startEnvironment(
      { circuitBreaker: { failures: 2, within: '30m' } },
      { demoteAfter: 50 },
    );
    for (const name of ['web-ok', 'web-later', 'gone-1', 'gone-2', 'gone-3', 'gone-4']) addWeb(kube, name, 1);
    kube.failNext({
      method: 'PATCH',
      path: /\/deployments\/gone-\d\/scale$/,
      status: 500,
      body: { kind: 'Status', status: 'Failure', message: 'etcdserver: request timed out', code: 500 },
      times: 1_000,
    });

    // Act: two failing runs (the API server fails their scale)
    const first = await fire(url, 'WorkloadNeedsReplicas', 'gone-1');
    const firstDone = await finished(url, first.executionId);
    expect(firstDone.execution.status, JSON.stringify(firstDone.execution.outcome)).toBe('failed');
    const second = await fire(url, 'WorkloadNeedsReplicas', 'gone-2');
    expect((await finished(url, second.executionId)).execution.status).toBe('failed');
    const opened = await until('the breaker to open', async () => {
      const body = (await get(url, '/api/circuit-breakers')).body;
      return body.breakers.find(
        (breaker: Json) => breaker.runbookId === 'scale-unwatched' && breaker.state === 'open',
      );
    });
    const announcement = await until('the announcement', async () =>
      (await notifications(url)).find((notification) =>
        notification.subject.startsWith('Circuit breaker opened'),
      ),
    );
    // the next alert, for a workload that exists, is refused
    const refused = await fire(url, 'WorkloadNeedsReplicas', 'web-ok');
    // the refusal is in the trail of the execution it would have been
    const wouldBe = executionName('scale-unwatched', refused.incidentId);
    const incident = await until('the refusal in the trail', async () => {
      const events = await trail(url, wouldBe);
      return events.some((event) => event.kind === 'gate.verdict') ? events : undefined;
    });
    const blockedMail = (await notifications(url)).find(
      (notification) => notification.kind === 'automation-blocked' && notification.text.includes('web-ok'),
    );
    const scaledWhileOpen = kube.deployments.get(`${NAMESPACE}/web-ok`)!.spec!.replicas;

    // a person closes it through the API; closing again, or an unknown runbook, is refused
    const closed = await post(url, '/api/circuit-breakers/scale-unwatched/close', {
      by: 'dana@example.com',
      reason: 'the missing Deployments were a test',
    });
    const again = await post(url, '/api/circuit-breakers/scale-unwatched/close', { by: 'dana@example.com' });
    const unknown = await post(url, '/api/circuit-breakers/no-such-runbook/close', {
      by: 'dana@example.com',
    });
    const badId = await post(url, '/api/circuit-breakers/Not_An_Id/close', { by: 'dana@example.com' });

    // it counts afresh: one more failure does not open it; a second does; the CLI closes it
    const third = await fire(url, 'WorkloadNeedsReplicas', 'gone-3');
    expect((await finished(url, third.executionId)).execution.status).toBe('failed');
    const stillClosed = (await get(url, '/api/circuit-breakers')).body.breakers.find(
      (breaker: Json) => breaker.runbookId === 'scale-unwatched',
    ).state;
    const fourth = await fire(url, 'WorkloadNeedsReplicas', 'gone-4');
    expect((await finished(url, fourth.executionId)).execution.status).toBe('failed');
    await until('the breaker to open again', async () => {
      const body = (await get(url, '/api/circuit-breakers')).body;
      return body.breakers.find(
        (breaker: Json) => breaker.runbookId === 'scale-unwatched' && breaker.state === 'open',
      );
    });
    const listed = await cli(url, ['breaker', 'list']);
    const closedByCli = await cli(url, [
      'breaker',
      'close',
      'scale-unwatched',
      '--by',
      'carol@example.com',
      '--reason',
      'fixed',
    ]);
    const closedTwice = await cli(url, ['breaker', 'close', 'scale-unwatched', '--by', 'carol@example.com']);
    const platformTrail = (await get(url, '/api/audit?platform=true&limit=1000')).body.events as Json[];
    // closed, the runbook takes alerts again (the refused one's incident stays blocked: a new alert)
    const afterwards = await fire(url, 'WorkloadNeedsReplicas', 'web-later');
    const scaled = await finished(url, afterwards.executionId);

    // Assess: opened by rule with the failures that did it, and told
    expect(opened.reason).toContain(`2 failed runs of scale-unwatched within 30m`);
    expect(opened.failures.map((failure: Json) => failure.executionId)).toEqual([
      first.executionId,
      second.executionId,
    ]);
    expect(announcement.to).toEqual(['oncall@example.com']);
    expect(announcement.text).toContain('runbook breaker close scale-unwatched');

    // the refused alert: the gate's verdict in the trail, the incident says why, people were told
    expect(refused.decision).toBe('blocked');
    expect(refused.reason).toMatch(/^the circuit breaker of scale-unwatched is open since /);
    const verdict = incident.find((event: Json) => event.kind === 'gate.verdict');
    expect(verdict).toMatchObject({
      gate: 'circuit-breaker',
      verdict: 'refused',
      runbookId: 'scale-unwatched',
    });
    expect(blockedMail?.text).toContain('the circuit breaker of scale-unwatched is open');
    expect(scaledWhileOpen).toBe(1);

    // closed by a person through the API; 409 and 404 say why
    expect(closed.status).toBe(200);
    expect(closed.body.breaker).toMatchObject({
      state: 'closed',
      closedBy: 'dana@example.com',
      closeReason: 'the missing Deployments were a test',
    });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe(
      'the circuit breaker of scale-unwatched is not open in staging; nothing to close',
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('no runbook "no-such-runbook" is loaded in staging');
    expect(badId.status).toBe(400);

    // counted afresh, then closed from the CLI
    expect(stillClosed).toBe('closed');
    expect(listed.code).toBe(0);
    expect(listed.out.join('\n')).toMatch(/scale-unwatched\s+open since .*2 failed runs of scale-unwatched/);
    expect(closedByCli.code).toBe(0);
    expect(closedByCli.out[0]).toBe('scale-unwatched: circuit breaker closed by carol@example.com');
    expect(closedByCli.out[1]).toMatch(
      new RegExp(
        `it had opened .*: 2 failed runs .*${third.executionId} \\(Runbook\\.ToolFailed\\), ${fourth.executionId}`,
      ),
    );
    expect(closedTwice.code).toBe(1);
    expect(closedTwice.err.join('\n')).toContain('is not open in staging');
    const changes = platformTrail.filter((event) => event.kind === 'circuit-breaker.changed');
    expect(changes.map((event) => `${event.state}:${event.result}:${event.actor.id}`)).toEqual([
      'open:accepted:circuit-breaker',
      'closed:accepted:dana@example.com',
      'closed:refused:dana@example.com',
      'open:accepted:circuit-breaker',
      'closed:accepted:carol@example.com',
      'closed:refused:carol@example.com',
    ]);
    expect(changes[4]!.actor.source.channel).toBe('cli');
    expect(afterwards.decision).toBe('started');
    expect(scaled.execution.status).toBe('succeeded');
    expect(kube.deployments.get(`${NAMESPACE}/web-later`)!.spec!.replicas).toBe(3);
  }, 240_000);
});

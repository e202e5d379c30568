import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../local/cli.ts';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import type { RunningPlatform } from '../../local/platform.ts';
import { startEmbedded } from '../support/embedded.ts';
import type { Json } from '../support/json.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * Graduated automation end to end on the embedded platform (real HTTP, dynalite, the compiled machine
 * in aws-local-stepfunctions, a simulated Kubernetes API): a runbook that keeps failing is demoted and
 * its next alert waits for a person; shadow mode changes nothing and records what it would have done;
 * only a person promotes; the report splits who had to step in.
 */

const ENVIRONMENT = 'staging';
const RUNBOOKS_DIR = 'test/fixtures/runbooks/automation';
const RUNBOOK = 'automation-scale';
const NAMESPACE = 'shop';

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

async function startEnvironment(): Promise<Environment> {
  const kube = await FakeKubeApi.start({ autoReconcile: true });
  const platform = await startEmbedded({ runbooksDir: RUNBOOKS_DIR, environment: ENVIRONMENT, kube });
  started.push(async () => {
    await platform.stop();
    await kube.stop();
  });
  return { platform, kube, url: platform.url };
}

function alertBody(deployment: string, status: 'firing' | 'resolved', alertname = 'WorkloadNeedsReplicas') {
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
        annotations: { summary: `${deployment} needs more replicas` },
        startsAt: '2026-11-25T10:00:00.000Z',
        endsAt: status === 'resolved' ? '2026-11-25T10:20:00.000Z' : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.com/graph',
        fingerprint: `fp-${alertname}-${deployment}`,
      },
    ],
  };
}

async function post(url: string, path: string, body: unknown) {
  const response = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

async function get(url: string, path: string) {
  const response = await fetch(new URL(path, url));
  return { status: response.status, body: (await response.json()) as Json };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function fire(url: string, deployment: string): Promise<{ executionId: string; result: Json }> {
  const answer = await post(url, '/webhooks/alertmanager', alertBody(deployment, 'firing'));
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  const result = answer.body.results[0].result;
  expect(result.decision, JSON.stringify(result)).toBe('started');
  return { executionId: result.executionId, result };
}

async function finished(url: string, id: string): Promise<Json> {
  return until(`${id} to finish`, async () => {
    const detail = (await get(url, `/api/executions/${encodeURIComponent(id)}`)).body;
    return ['succeeded', 'failed', 'aborted'].includes(detail.execution?.status) ? detail : undefined;
  });
}

/** Non-GET requests that reached the simulated cluster without dryRun=All: real changes. */
function realChanges(kube: FakeKubeApi) {
  return kube.requests.filter((request) => request.method !== 'GET' && request.query.dryRun !== 'All');
}

async function notifications(url: string, executionId?: string): Promise<Json[]> {
  const query = executionId ? `?executionId=${encodeURIComponent(executionId)}` : '';
  return (await get(url, `/api/outbox${query}`)).body.notifications as Json[];
}

async function levelOf(url: string): Promise<Json> {
  const overview = (await get(url, '/api/automation')).body;
  return overview.runbooks.find((runbook: Json) => runbook.runbookId === RUNBOOK);
}

describe('graduated automation on the embedded platform', () => {
  it('demotes a runbook that fails twice in a row, announces it, and holds its next change for approval', async () => {
    // Prepare: web-1 and web-2 do not exist (their scale fails), web-3 does
    const { url, kube } = await startEnvironment();
    kube.addDeployment({
      namespace: NAMESPACE,
      name: 'web-3',
      replicas: 1,
      containers: [{ name: 'web', requests: { cpu: '100m', memory: '128Mi' } }],
    });
    const before = await levelOf(url);

    // Act: two failing runs
    const first = await fire(url, 'web-1');
    const firstDetail = await finished(url, first.executionId);
    const second = await fire(url, 'web-2');
    const secondDetail = await finished(url, second.executionId);
    const demoted = await until('the demotion', async () => {
      const level = await levelOf(url);
      return level.effective.level === 'approve' ? level : undefined;
    });
    const announcement = await until('the announcement', async () =>
      (await notifications(url)).find((notification) => notification.subject.includes('demoted')),
    );

    // Act: the next alert
    kube.clearRequests();
    const third = await fire(url, 'web-3');
    const approvalMail = await until('the approval e-mail', async () =>
      (await notifications(url, third.executionId)).find(
        (notification) => notification.kind === 'approval-request',
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const waiting = (await get(url, `/api/executions/${third.executionId}`)).body;
    const changesBeforeApproval = realChanges(kube);

    // the approver decides from the e-mail's link
    const link = new URL(approvalMail.links[0].url);
    const page = await (await fetch(link)).text();
    const decided = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ decision: 'approve', comment: 'one scale, fine' }).toString(),
    });
    await until('the scale', async () => (realChanges(kube).length > 0 ? true : undefined));
    await post(url, '/webhooks/alertmanager', alertBody('web-3', 'resolved'));
    const thirdDetail = await finished(url, third.executionId);
    const report = await until('the third run in the report', async () => {
      const body = (await get(url, '/api/learning')).body;
      return body.automation.involvement.realRuns === 3 ? body : undefined;
    });
    const promoteTooEarly = await post(url, `/api/automation/${RUNBOOK}/promote`, { by: 'dana@example.com' });

    // Assess: the failures, the demotion with its evidence and who decided it
    expect(before.effective).toMatchObject({ level: 'autonomous', boundBy: 'runbook-ceiling' });
    expect(firstDetail.execution.status).toBe('failed');
    expect(secondDetail.execution.status).toBe('failed');
    expect(first.result.reason).toContain('automation level autonomous');
    expect(demoted.effective).toMatchObject({ level: 'approve', boundBy: 'evidence', stored: 'approve' });
    expect(demoted.lastChange).toMatchObject({
      cause: 'demotion',
      from: 'autonomous',
      to: 'approve',
      by: { type: 'system', id: 'automation' },
      evidence: {
        consecutiveFailures: 2,
        executions: [first.executionId, second.executionId],
        triggeredBy: second.executionId,
      },
    });
    expect(announcement.subject).toBe(`Runbook ${RUNBOOK} demoted: autonomous → approve (${ENVIRONMENT})`);
    expect(announcement.to).toEqual(['oncall@example.com']);
    expect(announcement.text).toContain('2 failed or rolled-back runs in a row');

    // the next alert waited for a person before its change
    expect(third.result.reason).toContain('automation level approve');
    expect(waiting.execution).toMatchObject({ status: 'running', automationLevel: 'approve', dryRun: false });
    expect(waiting.execution.currentState).toBe('Needs approval (automation level approve): scale');
    expect(waiting.approvals).toEqual([
      expect.objectContaining({
        requirement: 'automation-level-approve',
        target: { kind: 'phase', id: 'scale' },
        status: 'pending',
        approvers: ['alice@example.com', 'bob@example.com'],
        plan: [expect.objectContaining({ id: 'scale-up', tool: 'k8s.scale' })],
      }),
    ]);
    expect(waiting.steps.map((step: Json) => `${step.stepId}:${step.status}`)).toEqual([
      'workload-status:succeeded',
    ]);
    expect(changesBeforeApproval).toEqual([]);
    expect(approvalMail.to.length).toBe(1);
    expect(approvalMail.text).toContain(`Why: ${RUNBOOK} runs at automation level approve in ${ENVIRONMENT}`);
    expect(page).toContain('scale-up');
    expect(decided.status).toBe(200);
    expect(thirdDetail.execution.status).toBe('succeeded');
    expect(thirdDetail.steps.map((step: Json) => `${step.stepId}:${step.status}`)).toContain(
      'scale-up:succeeded',
    );
    expect(realChanges(kube).map((request) => `${request.method} ${request.path}`)).toEqual([
      `PATCH /apis/apps/v1/namespaces/${NAMESPACE}/deployments/web-3/scale`,
    ]);

    // only a person promotes, and only with evidence: one run at approve is not enough
    expect(promoteTooEarly.status).toBe(409);
    expect(promoteTooEarly.body.error).toContain(
      '1 run(s) at approve since it was set; a promotion needs 10',
    );
    expect((await levelOf(url)).effective.level).toBe('approve');

    // the report: two runs needed a human (they escalated), one had an approval only
    expect(report.automation.involvement).toMatchObject({
      realRuns: 3,
      humanActed: 2,
      approvalOnly: 1,
      noHuman: 0,
    });
    expect(report.totals.humanInterventionRate).toBeCloseTo(2 / 3);
    expect(report.targets.find((target: Json) => target.target === 'runs that need a human').measured).toBe(
      '66.7% acted (2 of 3); 33.3% approval only, 0.0% no human',
    );
    expect(report.automation.coverage).toMatchObject({ alertsSeen: 3, taken: 3, rate: 1 });
  }, 60_000);

  it('in shadow mode makes no change, records what it would have done and how the alert cleared', async () => {
    // Prepare: a person lowers the runbook to shadow; both workloads exist
    const { url, kube } = await startEnvironment();
    for (const name of ['api-1', 'api-2'])
      kube.addDeployment({
        namespace: NAMESPACE,
        name,
        replicas: 1,
        containers: [{ name: 'api', requests: { cpu: '100m', memory: '128Mi' } }],
      });
    const set = await post(url, `/api/automation/${RUNBOOK}/level`, {
      level: 'shadow',
      by: 'dana@example.com',
      reason: 'new runbook: watch it first',
      channel: 'dashboard',
    });
    const raise = await post(url, `/api/automation/${RUNBOOK}/level`, { level: 'autonomous' });
    kube.clearRequests();

    // Act: one alert clears on its own, the other after a person fixed it by hand
    const alone = await fire(url, 'api-1');
    const aloneDetail = await finished(url, alone.executionId);
    await post(url, '/webhooks/alertmanager', alertBody('api-1', 'resolved'));
    const byHand = await fire(url, 'api-2');
    await finished(url, byHand.executionId);
    const fixed = await post(url, `/api/executions/${byHand.executionId}/human-actions`, {
      kind: 'manual-fix',
      by: 'bob@example.com',
      note: 'scaled it myself',
    });
    await post(url, '/webhooks/alertmanager', alertBody('api-2', 'resolved'));
    const detail = await until('both clearings', async () => {
      const body = (await get(url, `/api/automation/${RUNBOOK}`)).body;
      return body.dryRuns?.length === 2 && body.dryRuns.every((run: Json) => run.clearing !== 'still-firing')
        ? body
        : undefined;
    });
    const unmatched = await post(
      url,
      '/webhooks/alertmanager',
      alertBody('api-9', 'firing', 'SomethingElse'),
    );
    const report = (await get(url, '/api/learning')).body;
    const outbox = await notifications(url);

    // Assess: the level was set by a person; raising without evidence is refused
    expect(set.status).toBe(200);
    expect(set.body.change).toMatchObject({
      cause: 'set',
      from: 'autonomous',
      to: 'shadow',
      by: { type: 'person', id: 'dana@example.com', channel: 'dashboard' },
    });
    expect(raise.status).toBe(409);
    expect(raise.body.error).toContain('takes a promotion backed by evidence');

    // zero changes: only dry runs reached the cluster, and the workloads are as they were
    expect(alone.result.reason).toContain('automation level shadow (changes run as dry runs)');
    expect(realChanges(kube)).toEqual([]);
    expect(
      kube.requests.filter((request) => request.method === 'PATCH' && request.query.dryRun === 'All').length,
    ).toBe(2);
    expect([...kube.deployments.values()].map((deployment) => deployment.spec?.replicas)).toEqual([1, 1]);
    expect(aloneDetail.execution).toMatchObject({ dryRun: true, automationLevel: 'shadow' });
    expect(aloneDetail.steps.map((step: Json) => `${step.stepId}:${step.status}`)).toEqual([
      'workload-status:succeeded',
      'scale-up:dry-run',
      'verify-alert-resolved:skipped',
    ]);
    expect(aloneDetail.approvals).toEqual([]);
    expect(outbox.filter((notification) => notification.kind === 'approval-request')).toEqual([]);

    // what it would have done, and how each alert cleared
    const byExecution = new Map(detail.dryRuns.map((run: Json) => [run.executionId, run]));
    expect(byExecution.get(alone.executionId)).toMatchObject({
      mode: 'shadow',
      diagnosticsSucceeded: true,
      changesValidated: true,
      clearing: 'on-its-own',
      wouldHaveChanged: [
        {
          stepId: 'scale-up',
          tool: 'k8s.scale',
          status: 'dry-run',
          parameters: { namespace: NAMESPACE, name: 'api-1', replicas: 3 },
        },
      ],
    });
    expect(fixed.status).toBe(201);
    expect(byExecution.get(byHand.executionId)).toMatchObject({ clearing: 'by-a-human' });

    // shadow runs are apart from real runs: no success rate counts them
    expect(report.totals.executions).toBe(0);
    expect(report.automation.involvement.realRuns).toBe(0);
    expect(report.automation.dryRuns.shadow).toMatchObject({
      runs: 2,
      diagnosticsSucceeded: 2,
      wouldHaveChanged: 2,
      changesValidated: 2,
      clearedOnItsOwn: 1,
      clearedByAHuman: 1,
      stillFiring: 0,
    });
    expect(unmatched.body.results[0].result.decision).toBe('unmatched');
    expect(report.automation.coverage).toMatchObject({ alertsSeen: 3, taken: 2, unmatched: 1 });
    expect(report.automation.coverage.rate).toBeCloseTo(2 / 3);
  }, 60_000);

  it('lists levels and refuses a promotion without evidence from the CLI, naming who asked', async () => {
    // Prepare
    const { url } = await startEnvironment();
    const cli = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['node', 'runbook', 'automation', ...args, '--url', url], {
        out: (line) => out.push(line),
        err: (line) => err.push(line),
        cwd: ROOT,
      });
      return { code, out, err };
    };

    // Act
    const lowered = await cli(['set', RUNBOOK, 'approve', '--by', 'carol@example.com', '--reason', 'new']);
    const listed = await cli(['list']);
    const promoted = await cli(['promote', RUNBOOK, '--by', 'carol@example.com']);
    const history = (await get(url, `/api/automation/${RUNBOOK}`)).body.history;

    // Assess
    expect(lowered).toMatchObject({
      code: 0,
      out: [`${RUNBOOK}: autonomous → approve by carol@example.com`],
    });
    expect(listed.code).toBe(0);
    expect(listed.out.join('\n')).toMatch(
      new RegExp(`${RUNBOOK}\\s+approve\\s+set by set \\(carol@example.com`),
    );
    expect(promoted.code).toBe(1);
    expect(promoted.err.join('\n')).toContain(`${RUNBOOK} has no promotion proposed in ${ENVIRONMENT}`);
    expect(history).toEqual([
      expect.objectContaining({
        cause: 'set',
        to: 'approve',
        by: { type: 'person', id: 'carol@example.com', channel: 'cli' },
        reason: 'new',
      }),
    ]);
  }, 60_000);
});

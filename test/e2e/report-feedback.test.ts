import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../local/cli.ts';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { FakePrometheus } from '../../local/demo/fake-prometheus.ts';
import type { RunningPlatform } from '../../local/platform.ts';
import { startEmbedded } from '../support/embedded.ts';
import type { Json } from '../support/json.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * Incident report and feedback end to end on the embedded platform over HTTP (dynalite,
 * aws-local-stepfunctions, a simulated cluster): an execution ends, its final notification carries a
 * report link and a feedback link per person, the report shows the timeline and the outcome, and
 * feedback posted through the link changes the learning report's figures.
 */

const RUNBOOKS_DIR = 'test/fixtures/runbooks/report';
const RUNBOOK = 'report-scale';
const NODE = 'ip-10-0-2-40.eu-west-1.compute.internal';
const CART = { type: 'k8s-deployment', id: 'cart', namespace: 'shop', name: 'cart', kind: 'Deployment' };

const started: Array<() => Promise<void>> = [];

beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});

afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
});

async function startEnvironment(): Promise<{ platform: RunningPlatform; url: string; lines: string[] }> {
  const kube = await FakeKubeApi.start({ autoReconcile: true });
  kube.addNode({ name: NODE, usage: { cpu: '200m', memory: '2Gi' } });
  kube.addDeployment({
    namespace: 'shop',
    name: 'cart',
    replicas: 2,
    nodes: [NODE],
    containers: [
      { name: 'cart', requests: { cpu: '100m', memory: '128Mi' }, usage: { cpu: '50m', memory: '64Mi' } },
    ],
  });
  const prometheus = new FakePrometheus();
  await prometheus.start();
  const lines: string[] = [];
  const platform = await startEmbedded({
    runbooksDir: RUNBOOKS_DIR,
    environment: 'staging',
    inMemory: false,
    kube,
    prometheusUrl: prometheus.url,
    print: (line) => lines.push(line),
  });
  started.push(async () => {
    await platform.stop();
    await kube.stop();
    await prometheus.stop();
  });
  return { platform, url: platform.url, lines };
}

async function call(url: string, method: string, path: string, body?: unknown) {
  const response = await fetch(new URL(path, url), {
    method,
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Json };
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

async function notifications(url: string, executionId: string): Promise<Json[]> {
  return (await call(url, 'GET', `/api/outbox?limit=100&executionId=${encodeURIComponent(executionId)}`)).body
    .notifications as Json[];
}

const linkOf = (mail: Json, label: string) =>
  (mail.links as Array<{ label: string; url: string }>).find((link) => link.label === label)?.url;

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'runbook', ...args], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd: ROOT,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('incident report and feedback on the embedded platform', () => {
  it('an ended execution gets a report and feedback links; feedback changes the learning figures', async () => {
    // Prepare: a run started by hand, its scale approved by alice through her link
    const { url, lines } = await startEnvironment();
    const start = await call(url, 'POST', `/api/runbooks/${RUNBOOK}/start`, {
      resource: CART,
      parameters: { replicas: 5 },
      reason: 'traffic peak',
      by: 'carol@example.com',
    });
    expect(start.status, JSON.stringify(start.body)).toBe(202);
    const executionId = start.body.executionId as string;
    const decide = await until('the approval e-mail to alice', async () => {
      const mail = (await notifications(url, executionId)).find(
        (candidate) =>
          candidate.kind === 'approval-request' && (candidate.to as string[]).includes('alice@example.com'),
      );
      return mail
        ? (mail.links as Array<{ url: string }>).find((link) => link.url.includes('/approvals/'))
        : undefined;
    });
    const approved = await fetch(decide.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ decision: 'approve', comment: 'go | ahead' }).toString(),
    });
    expect(approved.status).toBe(200);

    // Act: the execution ends; the learning recorder sends the final notification
    const finals = await until(
      'the final notifications',
      async () => {
        const mails = (await notifications(url, executionId)).filter(
          (mail) => mail.kind === 'follow-up' && String(mail.subject).endsWith('execution ended'),
        );
        return mails.length >= 2 ? mails : undefined;
      },
      30_000,
    ).catch((error) => {
      throw new Error(`${(error as Error).message}\n${lines.join('\n')}`);
    });

    // Assess: one per person (alice decided, pager@example.com is whom the runbook pages), each with links
    expect(finals.map((mail) => (mail.to as string[]).join()).sort()).toEqual([
      'alice@example.com',
      'pager@example.com',
    ]);
    const pagerMail = finals.find((mail) => (mail.to as string[])[0] === 'pager@example.com')!;
    expect(pagerMail.subject).toBe(`[succeeded] ${RUNBOOK} on cart: execution ended`);
    expect(pagerMail.text).toContain('ended: succeeded');
    expect(pagerMail.text).toContain('Verification: 1 of 1 success check(s) passed');
    const reportLink = linkOf(pagerMail, 'Incident report')!;
    const feedbackLink = linkOf(pagerMail, 'Was this run helpful?')!;
    expect(new URL(reportLink).pathname).toBe(`/reports/${executionId}`);
    expect(new URL(feedbackLink).searchParams.get('to')).toBe('pager@example.com');
    expect(pagerMail.text).toContain(feedbackLink);

    // Assess: the report over HTTP has the timeline, the approval and the outcome
    const response = await fetch(new URL(`/api/executions/${executionId}/report`, url));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    const report = await response.text();
    expect(report).toContain(`# Incident report: Scale out a workload for the report on cart`);
    expect(report).toContain('Succeeded: the remediation was verified.');
    expect(report).toContain('1 of 1 success check(s) passed.');
    expect(report).toContain('| The workload has the replicas asked for (replicas-set) | succeeded |');
    const timeline = report.split('## Timeline')[1]!.split('## Findings')[0]!;
    const order = [
      'Execution started',
      'Resolution Resolve',
      "Diagnostic The workload's replicas",
      'Approval requested (scale\\-needs\\-approval)'.replace(/\\/g, ''),
      'alice@example.com approved step scale-workload',
      'Change Scale the workload (scale-workload, k8s.scale)',
      'Success check The workload has the replicas asked for',
      'Execution ended',
    ].map((text) => timeline.indexOf(text));
    expect(
      order.every((index) => index >= 0),
      timeline,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(report).toContain('| Scale the workload (scale-workload) | k8s.scale | succeeded |');
    expect(report).toContain('| alice@example.com | no |');
    expect(report).toContain('alice@example.com approved at');
    expect(report).toContain(': go \\| ahead');
    // The signed link in the notification opens the same report.
    const viaLink = await fetch(reportLink);
    expect(viaLink.status).toBe(200);
    expect(await viaLink.text()).toContain('## Timeline');
    const unknown = await fetch(new URL('/api/executions/no-such-run/report', url));
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as Json).error).toMatch(/no execution "no-such-run"/);

    // Assess: before feedback the scale counts as a verified resolution
    const scaleOf = (body: Json) =>
      (body.runbooks as Json[])
        .find((runbook) => runbook.runbookId === RUNBOOK)
        ?.insights?.effectiveness.remediations.find((step: Json) => step.stepId === 'scale-workload');
    const before = await until('the learning report', async () => {
      const learning = (await call(url, 'GET', '/api/learning')).body;
      return scaleOf(learning) ? learning : undefined;
    });
    expect(scaleOf(before)).toMatchObject({ runs: 1, resolved: 1 });
    expect((before.runbooks as Json[]).find((runbook) => runbook.runbookId === RUNBOOK)).not.toHaveProperty(
      'feedback',
    );

    // Act: the on-call person says it did not help, from the form the link opens
    const page = await fetch(feedbackLink);
    const pageHtml = await page.text();
    const given = await fetch(feedbackLink, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        helpful: 'no',
        step: 'scale-workload',
        reason: 'the peak was over before the scale; the alert came back',
      }).toString(),
    });
    const givenHtml = await given.text();
    const again = await fetch(feedbackLink, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ helpful: 'yes' }),
    });

    // Assess: recorded once; the learning report counts it and no longer credits the scale
    expect(page.status).toBe(200);
    expect(pageHtml).toContain('Was this run helpful?');
    expect(given.status).toBe(200);
    expect(givenHtml).toContain('Thank you: your feedback is recorded.');
    expect(again.status).toBe(409);
    const after = (await call(url, 'GET', '/api/learning')).body;
    const entry = (after.runbooks as Json[]).find((runbook) => runbook.runbookId === RUNBOOK)!;
    expect(entry.feedback).toEqual({
      helpful: 0,
      notHelpful: 1,
      executions: 1,
      markedNotHelpful: 1,
      bySteps: { 'scale-workload': { helpful: 0, notHelpful: 1 } },
    });
    expect(scaleOf(after)).toMatchObject({ runs: 1, resolved: 0 });
    const reportAfter = await (await fetch(new URL(`/api/executions/${executionId}/report`, url))).text();
    expect(reportAfter).toContain('## Feedback\n\n0 helpful, 1 not helpful.');

    // Assess: the CLI prints the report and the learning report's feedback figures
    const dir = mkdtempSync(join(tmpdir(), 'runbook-report-out-'));
    try {
      const written = await cli(['report', executionId, '--url', url, '--output', join(dir, 'report.md')]);
      expect(written.code, written.err).toBe(0);
      expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('## Timeline');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const learn = await cli(['learn', 'report', '--url', url]);
    expect(learn.code, learn.err).toBe(0);
    expect(learn.out).toContain(`${RUNBOOK.padEnd(28)} helpful 0  not helpful 1`);
    expect(learn.out).toContain('    scale-workload: helpful 0, not helpful 1');
  }, 90_000);
});

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  alertBody,
  approvalMail,
  type ExplainEnvironment,
  fire,
  get,
  post,
  release,
  startExplainEnvironment,
  until,
} from '../support/explain-scenario.ts';
import type { Json } from '../support/json.ts';

/**
 * Likely causes end to end on the embedded platform (real HTTP, dynalite, the compiled machine in
 * aws-local-stepfunctions, a simulated Kubernetes API): a release 3 minutes before the alert is what
 * the approval e-mail, the approval page and the execution detail conclude from the diagnostics; once
 * a rollback after it was verified, the next approval says so and its prediction rests on that run.
 */

const APPROVER = 'alice@example.com';
const MINUTE = 60_000;

const started: ExplainEnvironment[] = [];

beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});

afterEach(async () => {
  for (const environment of started.splice(0).reverse()) await environment.stop().catch(() => undefined);
});

async function finished(url: string, id: string): Promise<Json> {
  return until(`${id} to finish`, async () => {
    const detail = (await get(url, `/api/executions/${encodeURIComponent(id)}`)).body;
    return ['succeeded', 'failed', 'aborted'].includes(detail.execution?.status) ? detail : undefined;
  });
}

async function approve(link: URL): Promise<number> {
  const decided = await fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision: 'approve', comment: 'roll it back' }).toString(),
  });
  return decided.status;
}

describe('the likely cause on the embedded platform', () => {
  it('concludes a release 3 minutes before the alert from the diagnostics, and learns from the verified rollback', async () => {
    // Prepare: checkout released image 2.0.0 four minutes ago; the alert started a minute ago
    const environment = await startExplainEnvironment();
    started.push(environment);
    const { url, kube } = environment;
    release(kube, 'shop/checkout:2.0.0', 4);
    const firstStartsAt = new Date(Date.now() - MINUTE).toISOString();

    // Act: the alert, the approval e-mail and page, the execution detail while it waits
    const first = await fire(url, 'fp-checkout-1', firstStartsAt);
    const firstMail = await approvalMail(url, first, APPROVER);
    const firstLink = new URL(firstMail.links[0].url);
    const firstPage = await (await fetch(firstLink)).text();
    const waiting = (await get(url, `/api/executions/${encodeURIComponent(first)}`)).body;

    // Assess: the conclusion, from the rollout history the diagnostic read
    const conclusion =
      'Deployment shop/checkout was deployed (revision 2, image shop/checkout:2.0.0); that was 3 minutes before the alert started.';
    expect(firstMail.text).toContain(`Likely cause:\n  1. ${conclusion}`);
    expect(firstMail.text).toContain(
      'Roll back to the previous revision: 50% likely to succeed (90% interval',
    );
    expect(firstMail.text).toContain('rests on no history yet, prior only (an even prior).');
    expect(firstMail.text.indexOf('Likely cause:')).toBeLessThan(firstMail.text.indexOf(firstLink.origin));
    expect(firstPage).toContain(`<p class="conclusion"><strong>${conclusion}</strong></p>`);
    expect(firstPage).toContain('<code>steps.history.output.revisions[0]</code>');
    expect(firstPage).toContain('no history yet, prior only (an even prior)');
    expect(firstPage.indexOf('id="likely-cause"')).toBeLessThan(firstPage.indexOf('id="raw-outputs"'));

    expect(waiting.execution.status).toBe('running');
    expect(waiting.likelyCauses[0]).toMatchObject({
      kind: 'recent-deployment',
      resources: ['Deployment/shop/checkout'],
      rules: ['time'],
      conclusion,
    });
    expect(
      waiting.likelyCauses[0].findings.map((finding: Json) => `${finding.evidence.stepId} ${finding.kind}`),
    ).toEqual(['workload recent-deployment', 'history recent-deployment']);
    expect(waiting.findings.map((finding: Json) => finding.evidence.path)).toContain(
      'steps.history.output.revisions[0]',
    );
    expect(waiting.predictions.map((prediction: Json) => prediction.stepId)).toEqual(['rollout-undo']);
    expect(waiting.predictions[0]).toMatchObject({
      name: 'Roll back to the previous revision',
      success: { probability: 0.5, runs: 0 },
      restsOn: 'no history yet, prior only (an even prior)',
    });
    expect(waiting.explanation).toMatchObject({
      alertStartedAt: firstStartsAt,
      signature: 'WorkloadErrors on k8s-deployment',
      history: { runs: 0, sameSignature: 0, verifiedRemediations: 0 },
      problems: [],
    });

    // Act: the approver rolls back, the alert clears; then another release breaks it again
    expect(await approve(firstLink)).toBe(200);
    await until('the rollback', async () =>
      kube.requests.some(
        (request) => request.method === 'PATCH' && request.path.includes('/deployments/checkout'),
      )
        ? true
        : undefined,
    );
    await post(url, '/webhooks/alertmanager', alertBody('resolved', firstStartsAt, 'fp-checkout-1'));
    const firstDone = await finished(url, first);
    // The runbook's 1 s cooldown on checkout runs from the first start; a fast machine gets here sooner.
    const cooldownEnds = Date.parse(firstDone.execution.startedAt) + 1_100;
    expect(cooldownEnds).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, cooldownEnds - Date.now())));
    release(kube, 'shop/checkout:2.0.1', 4);
    const second = await fire(url, 'fp-checkout-2', new Date(Date.now() - MINUTE).toISOString());
    const secondMail = await approvalMail(url, second, APPROVER);
    const secondDetail = (await get(url, `/api/executions/${encodeURIComponent(second)}`)).body;

    // Assess: the first run was a verified fix after the same finding; the next one says so
    expect(firstDone.execution.status).toBe('succeeded');
    expect(firstDone.predictions).toEqual([]);
    expect(secondMail.text).toMatch(
      /Likely cause:\n {2}1\. Deployment shop\/checkout was deployed \(revision \d+, image shop\/checkout:2\.0\.1\); that was 3 minutes before the alert started\. The same kind of finding came before 1 of 1 verified fixes of this alert\./,
    );
    expect(secondMail.text).toContain('rests on 1 similar past run (same runbook, step and alert).');
    expect(secondDetail.likelyCauses[0].rules).toEqual(['time', 'history']);
    expect(secondDetail.explanation.history).toEqual({ runs: 1, sameSignature: 1, verifiedRemediations: 1 });
    expect(secondDetail.predictions[0].success).toMatchObject({ runs: 1, succeeded: 1 });
    expect(secondDetail.predictions[0].durationMs.runs).toBe(1);
  }, 60_000);
});

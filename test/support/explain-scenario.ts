import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import type { RunningPlatform } from '../../local/platform.ts';
import { startEmbedded } from './embedded.ts';
import type { Json } from './json.ts';

/**
 * A release that broke checkout, on the embedded platform (dynalite, aws-local-stepfunctions, a
 * simulated Kubernetes API): roll-back-release diagnoses the workload and its rollout history, then
 * asks a person before it rolls back. The e2e and browser tests of likely causes start here.
 */

export const ENVIRONMENT = 'staging';
export const RUNBOOKS_DIR = 'test/fixtures/runbooks/explain';
export const NAMESPACE = 'shop';
export const WORKLOAD = 'checkout';

export interface ExplainEnvironment {
  platform: RunningPlatform;
  kube: FakeKubeApi;
  url: string;
  stop(): Promise<void>;
}

export async function startExplainEnvironment(): Promise<ExplainEnvironment> {
  const kube = await FakeKubeApi.start({ autoReconcile: true });
  kube.addDeployment({
    namespace: NAMESPACE,
    name: WORKLOAD,
    replicas: 2,
    containers: [{ name: 'app', image: 'shop/checkout:1.9.3', requests: { cpu: '100m', memory: '128Mi' } }],
  });
  const platform = await startEmbedded({ runbooksDir: RUNBOOKS_DIR, environment: ENVIRONMENT, kube });
  return {
    platform,
    kube,
    url: platform.url,
    async stop() {
      await platform.stop();
      await kube.stop();
    },
  };
}

/** `kubectl set image` on checkout, backdated: the release `minutesAgo` minutes before now. */
export function release(kube: FakeKubeApi, image: string, minutesAgo: number): void {
  kube.setImage('Deployment', NAMESPACE, WORKLOAD, 'app', image, { minutesAgo });
}

export function alertBody(status: 'firing' | 'resolved', startsAt: string, fingerprint: string) {
  return {
    version: '4',
    groupKey: '{}:{alertname="WorkloadErrors"}',
    truncatedAlerts: 0,
    status,
    receiver: 'runbook-autopilot',
    groupLabels: { alertname: 'WorkloadErrors' },
    commonLabels: { alertname: 'WorkloadErrors', environment: ENVIRONMENT },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.com',
    alerts: [
      {
        status,
        labels: {
          alertname: 'WorkloadErrors',
          severity: 'critical',
          namespace: NAMESPACE,
          deployment: WORKLOAD,
          environment: ENVIRONMENT,
        },
        annotations: { summary: `${WORKLOAD} answers 5xx` },
        startsAt,
        endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.com/graph',
        fingerprint,
      },
    ],
  };
}

export async function post(
  url: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Json }> {
  const response = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

export async function get(url: string, path: string): Promise<{ status: number; body: Json }> {
  const response = await fetch(new URL(path, url));
  return { status: response.status, body: (await response.json()) as Json };
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Fires the alert (started a minute ago) and returns the execution it started. */
export async function fire(url: string, fingerprint: string, startsAt: string): Promise<string> {
  const answer = await post(url, '/webhooks/alertmanager', alertBody('firing', startsAt, fingerprint));
  if (answer.status !== 202) throw new Error(`the alert was refused: ${JSON.stringify(answer.body)}`);
  const result = answer.body.results[0].result;
  if (result.decision !== 'started') throw new Error(`the alert started nothing: ${JSON.stringify(result)}`);
  return result.executionId as string;
}

/** The approval e-mail the execution sent to `approver`. */
export async function approvalMail(url: string, executionId: string, approver: string): Promise<Json> {
  return until(`the approval e-mail of ${executionId}`, async () => {
    const { notifications } = (await get(url, `/api/outbox?executionId=${encodeURIComponent(executionId)}`))
      .body as { notifications: Json[] };
    return notifications.find(
      (notification) => notification.kind === 'approval-request' && notification.to.includes(approver),
    );
  });
}

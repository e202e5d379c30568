import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi, mergePatch, parseLabelSelector } from '../../../../local/demo/fake-kube-api.ts';
import { NOW } from './harness.ts';

/** The fake API server answers in the API's shapes; the demo's simulated cluster builds on it. */

let api: FakeKubeApi;

async function get(path: string, token = 'fake-token') {
  const response = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  };
}

beforeEach(async () => {
  api = await FakeKubeApi.start({ now: () => NOW });
  api.addNode({ name: 'node-a', usage: { cpu: '1250m', memory: '3Gi' } });
  api.addDeployment({
    namespace: 'shop',
    name: 'cart',
    replicas: 2,
    containers: [
      { name: 'cart', requests: { cpu: '100m', memory: '256Mi' }, usage: { cpu: '20m', memory: '300Mi' } },
    ],
  });
});

afterEach(async () => {
  await api.stop();
});

describe('FakeKubeApi', () => {
  it('answers 404 with a Status object', async () => {
    expect(await get('/api/v1/nodes/missing')).toEqual({
      status: 404,
      contentType: 'application/json',
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'nodes "missing" not found',
        reason: 'NotFound',
        details: { name: 'missing', kind: 'nodes' },
        code: 404,
      },
    });
  });

  it('answers 401 without the bearer token', async () => {
    const answer = await get('/api/v1/nodes/node-a', 'wrong');
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });

  it('lists typed lists without kind/apiVersion on the items, timestamps in RFC 3339', async () => {
    const { body } = await get('/api/v1/namespaces/shop/pods?labelSelector=app%3Dcart');
    expect(body).toMatchObject({
      kind: 'PodList',
      apiVersion: 'v1',
      metadata: { resourceVersion: expect.any(String) },
    });
    expect(body.items).toHaveLength(2);
    expect(body.items[0].kind).toBeUndefined();
    expect(body.items[0].metadata.creationTimestamp).toBe('2026-03-02T10:00:00Z');
    expect(body.items[0].metadata.ownerReferences[0]).toMatchObject({ kind: 'ReplicaSet', controller: true });
  });

  it('serves metrics.k8s.io in metrics-server’s units, or 404 when told it is absent', async () => {
    const node = await get('/apis/metrics.k8s.io/v1beta1/nodes/node-a');
    expect(node.body).toMatchObject({
      kind: 'NodeMetrics',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: { name: 'node-a' },
      usage: { cpu: '1250000000n', memory: `${3 * 1024 * 1024}Ki` },
    });
    const pods = await get('/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods');
    expect(pods.body).toMatchObject({
      kind: 'PodMetricsList',
      items: [{ containers: [{ name: 'cart' }] }, {}],
    });

    api.metricsAvailable = false;
    const absent = await get('/apis/metrics.k8s.io/v1beta1/nodes/node-a');
    expect(absent.status).toBe(404);
    expect(absent.body.message).toBe('the server could not find the requested resource');
  });

  it('serves logs as text with tailLines', async () => {
    const [pod] = api.podsMatching('shop', { matchLabels: { app: 'cart' } });
    api.setPodLog('shop', pod!.metadata!.name!, 'cart', { current: 'a\nb\nc\n' });

    const answer = await get(`/api/v1/namespaces/shop/pods/${pod!.metadata!.name}/log?tailLines=2`);

    expect(answer).toMatchObject({ status: 200, contentType: 'text/plain', body: 'b\nc\n' });
  });

  it('reconcile() replaces evicted pods and rolls a changed template to a new ReplicaSet', async () => {
    const before = api
      .podsMatching('shop', { matchLabels: { app: 'cart' } })
      .map((pod) => pod.metadata!.name!);
    api.pods.delete(`shop/${before[0]}`);
    api.reconcile();
    expect(api.podsMatching('shop', { matchLabels: { app: 'cart' } })).toHaveLength(2);

    api.edit(api.deployments, 'shop/cart', (deployment) => {
      deployment.spec!.template.metadata!.annotations = {
        'kubectl.kubernetes.io/restartedAt': '2026-03-02T10:00:00Z',
      };
      deployment.metadata!.generation = 2;
    });
    api.reconcile();

    const after = api.podsMatching('shop', { matchLabels: { app: 'cart' } });
    expect(after).toHaveLength(2);
    expect(after.every((pod) => !before.includes(pod.metadata!.name!))).toBe(true);
    expect(api.replicaSets.size).toBe(2);
    expect(api.deployments.get('shop/cart')?.status).toMatchObject({
      observedGeneration: 2,
      updatedReplicas: 2,
    });
  });

  it('parses label selectors and applies merge patches by RFC 7386', () => {
    expect(parseLabelSelector('app=cart,tier in (web, api),!canary,env!=prod,track')).toEqual([
      { key: 'app', op: '=', values: ['cart'] },
      { key: 'tier', op: 'in', values: ['web', 'api'] },
      { key: 'canary', op: '!exists', values: [] },
      { key: 'env', op: '!=', values: ['prod'] },
      { key: 'track', op: 'exists', values: [] },
    ]);
    expect(mergePatch({ a: { b: 1, c: 2 }, d: [1] }, { a: { b: null, e: 3 }, d: [2] })).toEqual({
      a: { c: 2, e: 3 },
      d: [2],
    });
  });
});

describe('FakeKubeApi stored kinds: PersistentVolumeClaims, StorageClasses, HPAs, Jobs', () => {
  beforeEach(() => {
    api.addStorageClass({ name: 'gp3', allowVolumeExpansion: true, isDefault: true });
    api.addPersistentVolumeClaim({ namespace: 'shop', name: 'data-db-0', storage: '20Gi' });
    api.addHorizontalPodAutoscaler({
      namespace: 'shop',
      name: 'cart',
      target: { kind: 'Deployment', name: 'cart' },
      minReplicas: 2,
      maxReplicas: 4,
      currentReplicas: 4,
    });
    api.addJob({
      namespace: 'shop',
      name: 'report-1',
      failed: 7,
      backoffLimit: 6,
      node: 'node-a',
      containers: [{ name: 'report' }],
    });
  });

  it('serves them in their API groups, namespaced or not, listed and one by one', async () => {
    // Act
    const claims = await get('/api/v1/namespaces/shop/persistentvolumeclaims');
    const storageClass = await get('/apis/storage.k8s.io/v1/storageclasses/gp3');
    const hpa = await get('/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/cart');
    const jobs = await get('/apis/batch/v1/namespaces/shop/jobs?labelSelector=job-name%3Dreport-1');
    const missing = await get('/apis/batch/v1/namespaces/shop/jobs/nope');

    // Assess
    expect(claims.body).toMatchObject({
      kind: 'PersistentVolumeClaimList',
      apiVersion: 'v1',
      items: [
        {
          metadata: { name: 'data-db-0', namespace: 'shop' },
          spec: { resources: { requests: { storage: '20Gi' } }, storageClassName: 'gp3' },
          status: { phase: 'Bound', capacity: { storage: '20Gi' } },
        },
      ],
    });
    expect(storageClass.body).toMatchObject({ kind: 'StorageClass', allowVolumeExpansion: true });
    expect(hpa.body).toMatchObject({
      kind: 'HorizontalPodAutoscaler',
      spec: { minReplicas: 2, maxReplicas: 4, scaleTargetRef: { kind: 'Deployment', name: 'cart' } },
      status: { currentReplicas: 4 },
    });
    expect(
      hpa.body.status.conditions.find((condition: { type: string }) => condition.type === 'ScalingLimited'),
    ).toMatchObject({
      status: 'True',
      reason: 'TooManyReplicas',
    });
    expect(jobs.body.items).toHaveLength(1);
    expect(jobs.body.items[0].status).toMatchObject({
      failed: 7,
      conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }],
    });
    expect(missing.status).toBe(404);
    expect(
      [...api.pods.values()]
        .filter((pod) => pod.metadata?.labels?.['job-name'] === 'report-1')
        .map((pod) => pod.status?.phase),
    ).toEqual(Array(7).fill('Failed'));
  });

  it('patches them (merge patch), dry runs persisting nothing', async () => {
    // Act
    const patch = (dryRun: boolean) =>
      fetch(
        `${api.url}/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/cart${dryRun ? '?dryRun=All' : ''}`,
        {
          method: 'PATCH',
          headers: { authorization: 'Bearer fake-token', 'content-type': 'application/merge-patch+json' },
          body: JSON.stringify({ spec: { maxReplicas: dryRun ? 9 : 6 } }),
        },
      );
    const dry = await patch(true);
    const afterDry = api.horizontalPodAutoscalers.get('shop/cart')?.spec?.maxReplicas;
    const real = await patch(false);

    // Assess
    expect(dry.status).toBe(200);
    expect(((await dry.json()) as { spec: { maxReplicas: number } }).spec.maxReplicas).toBe(9);
    expect(afterDry).toBe(4);
    expect(real.status).toBe(200);
    expect(api.horizontalPodAutoscalers.get('shop/cart')?.spec?.maxReplicas).toBe(6);
  });
});

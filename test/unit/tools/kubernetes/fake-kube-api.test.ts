import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi, mergePatch, parseLabelSelector } from '../../../../local/demo/fake-kube-api.ts';
import { NOW } from './harness.ts';

/** The fake API server answers in the API's shapes; the demo's simulated cluster builds on it. */

let api: FakeKubeApi;

async function get(path: string, token = 'fake-token') {
  return send('GET', path, undefined, undefined, token);
}

async function send(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  token = 'fake-token',
) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': contentType } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
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

  it('pages lists with limit and continue, as the API does', async () => {
    api.addDeployment({ namespace: 'shop', name: 'many', replicas: 5, containers: [{ name: 'many' }] });

    const first = await get('/api/v1/namespaces/shop/pods?limit=3');
    const second = await get(`/api/v1/namespaces/shop/pods?limit=3&continue=${first.body.metadata.continue}`);

    expect(first.body.items).toHaveLength(3);
    expect(first.body.metadata).toMatchObject({ continue: expect.any(String), remainingItemCount: 4 });
    expect(second.body.items).toHaveLength(3);
    expect(second.body.metadata).toMatchObject({ continue: expect.any(String), remainingItemCount: 1 });
    const names = [...first.body.items, ...second.body.items].map(
      (pod: { metadata: { name: string } }) => pod.metadata.name,
    );
    expect(new Set(names).size).toBe(6);
    expect((await get('/api/v1/namespaces/shop/pods?continue=%%%')).status).toBe(400);
  });

  it('refuses a field selector on a field the resource does not index (400)', async () => {
    const answer = await get('/api/v1/namespaces/shop/pods?fieldSelector=spec.volumes.name%3Ddata');
    expect(answer).toMatchObject({
      status: 400,
      body: { reason: 'BadRequest', message: 'field label not supported: spec.volumes.name' },
    });
    expect((await get('/api/v1/events?fieldSelector=involvedObject.name%3Dx,type%3DWarning')).status).toBe(
      200,
    );
  });

  it('records the RBAC verb, group and resource of every request', async () => {
    await get('/apis/apps/v1/namespaces/shop/deployments/cart/scale');
    await get('/api/v1/nodes/node-a/proxy/stats/summary');
    await send('DELETE', '/api/v1/namespaces/shop/pods/x');

    expect(api.requests.map(({ verb, group, resource }) => `${verb} ${group} ${resource}`)).toEqual([
      'get apps deployments/scale',
      'get  nodes/proxy',
      'delete  pods',
    ]);
  });

  it('serves the kubelet stats summary through the node proxy, with volumes and ephemeral storage', async () => {
    api.addStorageClass({ name: 'gp3', allowVolumeExpansion: true, isDefault: true });
    api.addStatefulSet({
      namespace: 'data',
      name: 'pg',
      replicas: 1,
      containers: [{ name: 'pg' }],
      volumeClaimTemplates: [{ name: 'data', size: '10Gi', used: '4Gi' }],
    });

    const { body } = await get('/api/v1/nodes/node-a/proxy/stats/summary');

    expect(body.node).toMatchObject({
      nodeName: 'node-a',
      fs: { capacityBytes: 100 * 2 ** 30 },
      runtime: { imageFs: {} },
    });
    const pg = body.pods.find((pod: { podRef: { name: string } }) => pod.podRef.name === 'pg-0');
    expect(pg.volume).toEqual([
      expect.objectContaining({
        name: 'data',
        pvcRef: { name: 'data-pg-0', namespace: 'data' },
        usedBytes: 4 * 2 ** 30,
        capacityBytes: 10 * 2 ** 30,
      }),
    ]);
    expect(pg['ephemeral-storage']).toMatchObject({ usedBytes: 64 * 2 ** 20 });
    expect((await get('/api/v1/nodes/node-a/proxy/metrics')).status).toBe(404);
  });

  it('creates Jobs as the API server does: generated name, selector and labels; refuses a copied selector', async () => {
    const template = {
      metadata: { labels: { app: 'report' } },
      spec: { restartPolicy: 'Never', containers: [{ name: 'r', image: 'r:1' }] },
    };

    const created = await send('POST', '/apis/batch/v1/namespaces/batch/jobs', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { generateName: 'report-' },
      spec: { template },
    });
    const copied = await send('POST', '/apis/batch/v1/namespaces/batch/jobs', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'copy' },
      spec: { selector: { matchLabels: { 'controller-uid': 'x' } }, template },
    });
    const again = await send('POST', '/apis/batch/v1/namespaces/batch/jobs', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: created.body.metadata.name },
      spec: { template },
    });

    expect(created.status).toBe(201);
    expect(created.body.metadata.name).toMatch(/^report-[a-z0-9]{5}$/);
    const uid = created.body.metadata.uid;
    expect(created.body.spec.selector).toEqual({
      matchLabels: { 'batch.kubernetes.io/controller-uid': uid },
    });
    expect(created.body.spec.template.metadata.labels).toEqual({
      app: 'report',
      'batch.kubernetes.io/controller-uid': uid,
      'controller-uid': uid,
      'batch.kubernetes.io/job-name': created.body.metadata.name,
      'job-name': created.body.metadata.name,
    });
    expect(copied).toMatchObject({
      status: 422,
      body: { reason: 'Invalid', message: expect.stringContaining('`selector` not auto-generated') },
    });
    expect(again).toMatchObject({ status: 409, body: { reason: 'AlreadyExists' } });
  });

  it('checks a claim resize like the API server and its admission plugin', async () => {
    api.addStorageClass({ name: 'gp3', allowVolumeExpansion: true });
    api.addStorageClass({ name: 'fixed', allowVolumeExpansion: false });
    api.addPersistentVolumeClaim({ namespace: 'data', name: 'a', size: '10Gi', storageClass: 'gp3' });
    api.addPersistentVolumeClaim({ namespace: 'data', name: 'b', size: '10Gi', storageClass: 'fixed' });
    const resize = (name: string, storage: string) =>
      send(
        'PATCH',
        `/api/v1/namespaces/data/persistentvolumeclaims/${name}`,
        { spec: { resources: { requests: { storage } } } },
        'application/merge-patch+json',
      );

    const shrink = await resize('a', '5Gi');
    const fixed = await resize('b', '20Gi');
    const grow = await resize('a', '20Gi');
    const immutable = await send(
      'PATCH',
      '/api/v1/namespaces/data/persistentvolumeclaims/a',
      { spec: { storageClassName: 'fixed' } },
      'application/merge-patch+json',
    );

    expect(shrink).toMatchObject({
      status: 422,
      body: { message: expect.stringContaining('field can not be less than status.capacity') },
    });
    expect(fixed).toMatchObject({
      status: 403,
      body: {
        message:
          'persistentvolumeclaims "b" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize',
      },
    });
    expect(grow.status).toBe(200);
    expect(immutable.status).toBe(422);
  });

  it('refuses a stale resourceVersion (409) and deletes with a uid precondition', async () => {
    const [pod] = api.podsMatching('shop', { matchLabels: { app: 'cart' } });
    const path = `/api/v1/namespaces/shop/pods/${pod!.metadata!.name}`;

    const stale = await send(
      'PATCH',
      '/apis/apps/v1/namespaces/shop/deployments/cart',
      { metadata: { resourceVersion: '1' }, spec: { replicas: 3 } },
      'application/merge-patch+json',
    );
    const wrongUid = await send('DELETE', path, { preconditions: { uid: 'not-this-one' } });
    const deleted = await send('DELETE', path, { preconditions: { uid: pod!.metadata!.uid } });

    expect(stale).toMatchObject({
      status: 409,
      body: { reason: 'Conflict', message: expect.stringContaining('the object has been modified') },
    });
    expect(wrongUid).toMatchObject({
      status: 409,
      body: { message: expect.stringContaining('Precondition failed: UID in precondition: not-this-one') },
    });
    expect(deleted).toMatchObject({
      status: 200,
      body: { metadata: { deletionTimestamp: '2026-03-02T10:00:00Z' } },
    });
    expect(api.deletedPods).toEqual([`shop/${pod!.metadata!.name}`]);
  });

  it('runs a container whose readiness probe fails as not Ready, and records the kubelet events its image brings', () => {
    // Prepare
    api.setImageBehaviour('shop/cart:2.0.0', {
      unready: true,
      events: [
        {
          reason: 'Unhealthy',
          message: 'Readiness probe failed: HTTP probe failed with statuscode: 503',
          count: 12,
        },
      ],
    });

    // Act: a rollout to that image, 20 minutes ago (past the 10-minute progress deadline)
    api.setImage('Deployment', 'shop', 'cart', 'cart', 'shop/cart:2.0.0', { minutesAgo: 20 });

    // Assess: the new pod runs, is not ready, and the rollout timed out with the old pods serving
    const fresh = api
      .podsMatching('shop', { matchLabels: { app: 'cart' } })
      .find((pod) => pod.spec!.containers[0]!.image === 'shop/cart:2.0.0')!;
    expect(fresh.status!.phase).toBe('Running');
    expect(fresh.status!.containerStatuses![0]).toMatchObject({ ready: false, started: true });
    expect(fresh.status!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
    });
    const events = [...api.events.values()].filter(
      (event) => event.involvedObject.name === fresh.metadata!.name,
    );
    expect(events).toEqual([
      expect.objectContaining({
        type: 'Warning',
        reason: 'Unhealthy',
        count: 12,
        source: { component: 'kubelet', host: 'node-a' },
      }),
    ]);
    expect(
      api.deployments.get('shop/cart')!.status!.conditions!.find((c) => c.type === 'Progressing'),
    ).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
  });

  it('keeps a rolled-out Deployment Progressing when one of its pods fails later, as the controller does', () => {
    // Prepare: the cart rollout completed three days ago; now one pod stops being ready
    const [pod] = api.podsMatching('shop', { matchLabels: { app: 'cart' } });
    api.edit(api.pods, `shop/${pod!.metadata!.name}`, (object) => {
      object.status!.conditions = object.status!.conditions!.map((condition) =>
        condition.type === 'Ready' ? { ...condition, status: 'False' } : condition,
      );
    });

    // Act
    api.reconcile();

    // Assess: fewer ready replicas, but no stalled rollout (ProgressDeadlineExceeded is for rollouts)
    expect(api.deployments.get('shop/cart')!.status).toMatchObject({
      readyReplicas: 1,
      unavailableReplicas: 1,
    });
    expect(
      api.deployments.get('shop/cart')!.status!.conditions!.find((c) => c.type === 'Progressing'),
    ).toMatchObject({
      status: 'True',
      reason: 'NewReplicaSetAvailable',
    });
  });

  it('keeps an evicted pod Failed with reason Evicted; it is no replica, so nothing replaces or removes it', () => {
    // Prepare
    const replicaSet = [...api.replicaSets.values()][0]!;

    // Act
    api.addPod({
      namespace: 'shop',
      name: `${replicaSet.metadata!.name}-evict`,
      node: 'node-a',
      labels: { ...replicaSet.spec!.template!.metadata!.labels },
      containers: [{ name: 'cart' }],
      owner: {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: replicaSet.metadata!.name!,
        uid: replicaSet.metadata!.uid!,
        controller: true,
      },
      evicted: { message: 'The node was low on resource: ephemeral-storage.' },
    });
    api.reconcile();

    // Assess
    const evicted = api.pods.get(`shop/${replicaSet.metadata!.name}-evict`)!;
    expect(evicted.status).toMatchObject({
      phase: 'Failed',
      reason: 'Evicted',
      message: 'The node was low on resource: ephemeral-storage.',
    });
    expect(evicted.status!.containerStatuses![0]!.state!.terminated).toMatchObject({
      exitCode: 137,
      reason: 'ContainerStatusUnknown',
    });
    expect(api.podsMatching('shop', { matchLabels: { app: 'cart' } })).toHaveLength(3);
    expect(replicaSet.status).toMatchObject({ replicas: 2, readyReplicas: 2 });
    expect(api.deployments.get('shop/cart')!.status).toMatchObject({ replicas: 2, readyReplicas: 2 });
  });

  it("follows an autoscaler's load: utilization is its target times the replicas wanted over those it has", () => {
    // Prepare
    api.addHorizontalPodAutoscaler({
      namespace: 'shop',
      name: 'cart',
      target: { kind: 'Deployment', name: 'cart' },
      minReplicas: 2,
      maxReplicas: 4,
      cpu: { target: 60, current: 50 },
    });

    // Act: load for six replicas
    api.setHpaDemand('shop', 'cart', 6);

    // Assess: it stops at four and runs hot; a higher maximum brings it to the target
    const hpa = () => api.hpas.get('shop/cart')!;
    expect(hpa().status).toMatchObject({ currentReplicas: 4, desiredReplicas: 4 });
    expect(hpa().status!.currentMetrics![0]!.resource!.current.averageUtilization).toBe(90);
    api.edit(api.hpas, 'shop/cart', (object) => {
      object.spec!.maxReplicas = 8;
    });
    api.reconcile();
    expect(hpa().status).toMatchObject({ currentReplicas: 6 });
    expect(hpa().status!.currentMetrics![0]!.resource!.current.averageUtilization).toBe(60);
    expect(() => api.setHpaDemand('shop', 'missing', 3)).toThrow('no HorizontalPodAutoscaler shop/missing');
  });
});

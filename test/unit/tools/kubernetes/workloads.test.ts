import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type {
  RolloutRestartOutput,
  ScaleOutput,
  WorkloadStatusOutput,
} from '../../../../functions/tools/kubernetes/index.ts';
import {
  CHANGE_ANNOTATION,
  RESTARTED_AT_ANNOTATION,
} from '../../../../functions/tools/kubernetes/workloads.ts';
import { type Cluster, rejectionOf, startCluster, toolContext } from './harness.ts';

let cluster: Cluster;

const THREE_DAYS = 3 * 24 * 60;

function crashLoop(target: Cluster, namespace: string, pod: string) {
  target.api.edit(target.api.pods, `${namespace}/${pod}`, (object) => {
    const status = object.status!.containerStatuses![0]!;
    status.restartCount = 9;
    status.ready = false;
    status.state = {
      waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container' },
    };
    object.status!.conditions = object.status!.conditions!.map((condition) =>
      condition.type === 'Ready' ? { ...condition, status: 'False' } : condition,
    );
  });
}

beforeEach(async () => {
  cluster = await startCluster();
  const { api } = cluster;
  api.addNode({ name: 'node-a' });
  api.addNode({ name: 'node-b' });
  api.addDeployment({
    namespace: 'shop',
    name: 'cart',
    replicas: 4,
    revision: 3,
    containers: [{ name: 'cart', requests: { cpu: '100m', memory: '256Mi' } }],
  });
  // A Deployment whose labels overlap cart's must not lend it pods.
  api.addDeployment({
    namespace: 'shop',
    name: 'cart-canary',
    replicas: 1,
    labels: { app: 'cart', track: 'canary' },
    containers: [
      { name: 'cart', requests: { cpu: '100m', memory: '256Mi' }, crashLooping: true, restarts: 4 },
    ],
  });
  api.addStatefulSet({
    namespace: 'data',
    name: 'redis',
    replicas: 3,
    rolloutMinutesAgo: 90,
    containers: [{ name: 'redis', requests: { cpu: '100m', memory: '512Mi' } }],
  });
  api.addDaemonSet({
    namespace: 'kube-system',
    name: 'node-exporter',
    rolloutMinutesAgo: 600,
    containers: [{ name: 'node-exporter', requests: { cpu: '10m', memory: '32Mi' } }],
  });
});

afterEach(async () => {
  await cluster.stop();
});

function cartPods(): string[] {
  return cluster.api
    .podsMatching('shop', { matchLabels: { app: 'cart' } })
    .filter((pod) => !pod.metadata!.labels!.track)
    .map((pod) => pod.metadata!.name!);
}

describe('k8s.workload-status', () => {
  it('reports a settled Deployment: replicas, no rollout, the age of its current ReplicaSet', async () => {
    const output = (await cluster.run('k8s.workload-status', {
      namespace: 'shop',
      kind: 'Deployment',
      name: 'cart',
    })) as WorkloadStatusOutput;

    expect(output).toEqual({
      kind: 'Deployment',
      name: 'cart',
      namespace: 'shop',
      replicas: 4,
      readyReplicas: 4,
      availableReplicas: 4,
      updatedReplicas: 4,
      unavailableReplicas: 0,
      rolloutInProgress: false,
      lastRolloutMinutesAgo: THREE_DAYS,
      crashLoopingPods: 0,
      crashLoopingPodNames: [],
      podCount: 4,
      podRestarts: 0,
    });
    const [pods] = cluster.api.requestsTo('GET', '/api/v1/namespaces/shop/pods');
    expect(pods?.query.labelSelector).toBe('app=cart');
  });

  it('counts crash-looping pods without calling it a rollout (readiness alone does not count)', async () => {
    const [first, second] = cartPods();
    crashLoop(cluster, 'shop', first!);
    crashLoop(cluster, 'shop', second!);
    cluster.api.reconcile();

    const output = (await cluster.run('k8s.workload-status', {
      namespace: 'shop',
      name: 'cart',
    })) as WorkloadStatusOutput;

    expect(output).toMatchObject({
      replicas: 4,
      readyReplicas: 2,
      unavailableReplicas: 2,
      rolloutInProgress: false,
      crashLoopingPods: 2,
      crashLoopingPodNames: [first, second].sort(),
      podRestarts: 18,
    });
  });

  it('sees a rollout in progress until the controller has replaced every pod, then dates it', async () => {
    await cluster.run('k8s.rollout-restart', { namespace: 'shop', kind: 'Deployment', name: 'cart' });

    const during = (await cluster.run('k8s.workload-status', {
      namespace: 'shop',
      name: 'cart',
    })) as WorkloadStatusOutput;
    expect(during.rolloutInProgress).toBe(true);
    expect(during.lastRolloutMinutesAgo).toBe(THREE_DAYS);

    cluster.api.reconcile();
    const after = (await cluster.run('k8s.workload-status', {
      namespace: 'shop',
      name: 'cart',
    })) as WorkloadStatusOutput;
    expect(after).toMatchObject({
      rolloutInProgress: false,
      lastRolloutMinutesAgo: 0,
      updatedReplicas: 4,
      podCount: 4,
    });
    expect(
      cluster.api.deployments.get('shop/cart')?.metadata?.annotations?.['deployment.kubernetes.io/revision'],
    ).toBe('4');
  });

  it('sees old-revision pods still running as a rollout', async () => {
    cluster.api.edit(cluster.api.deployments, 'shop/cart', (deployment) => {
      deployment.status = { ...deployment.status, replicas: 5, updatedReplicas: 2 };
    });

    const output = (await cluster.run('k8s.workload-status', {
      namespace: 'shop',
      name: 'cart',
    })) as WorkloadStatusOutput;

    expect(output.rolloutInProgress).toBe(true);
  });

  it('reports a StatefulSet by its update revision', async () => {
    const output = (await cluster.run('k8s.workload-status', {
      namespace: 'data',
      kind: 'StatefulSet',
      name: 'redis',
    })) as WorkloadStatusOutput;

    expect(output).toMatchObject({
      kind: 'StatefulSet',
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      unavailableReplicas: 0,
      rolloutInProgress: false,
      lastRolloutMinutesAgo: 90,
      crashLoopingPods: 0,
      podCount: 3,
    });
    expect(
      cluster.api.requestsTo('GET', '/apis/apps/v1/namespaces/data/controllerrevisions/redis-'),
    ).toHaveLength(1);
  });

  it('reports a StatefulSet mid-update as rolling out', async () => {
    cluster.api.edit(cluster.api.statefulSets, 'data/redis', (statefulSet) => {
      statefulSet.status = { ...statefulSet.status!, currentRevision: 'redis-old', updatedReplicas: 1 };
    });

    const output = (await cluster.run('k8s.workload-status', {
      namespace: 'data',
      kind: 'StatefulSet',
      name: 'redis',
    })) as WorkloadStatusOutput;

    expect(output.rolloutInProgress).toBe(true);
  });

  it('reports a DaemonSet by its newest ControllerRevision', async () => {
    const output = (await cluster.run('k8s.workload-status', {
      namespace: 'kube-system',
      kind: 'DaemonSet',
      name: 'node-exporter',
    })) as WorkloadStatusOutput;

    expect(output).toMatchObject({
      kind: 'DaemonSet',
      replicas: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
      unavailableReplicas: 0,
      rolloutInProgress: false,
      lastRolloutMinutesAgo: 600,
      podCount: 2,
    });
  });

  it('fails NotFound for a workload that does not exist', async () => {
    const error = await rejectionOf(
      cluster.run('k8s.workload-status', { namespace: 'shop', name: 'basket' }),
    );

    expect(error.name).toBe(AslErrorName.ToolNotFound);
    expect(error.message).toBe(
      'k8s.workload-status: cannot get deployments shop/basket in context "fake": not found (404): deployments.apps "basket" not found',
    );
  });

  it('fails AccessDenied when the role may not list ReplicaSets', async () => {
    cluster.api.forbid({ verb: 'list', resource: 'replicasets', group: 'apps' });

    const error = await rejectionOf(cluster.run('k8s.workload-status', { namespace: 'shop', name: 'cart' }));

    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain('replicasets.apps is forbidden');
  });

  it('an abort between its calls stops it before the next one', async () => {
    const controller = new AbortController();
    cluster.api.latencyMs = 200;
    cluster.api.onRequest = (request) => {
      if (request.path === '/api/v1/namespaces/shop/pods') {
        controller.abort(new Error('step workload-status timed out after 30s'));
      }
    };

    const error = await rejectionOf(
      cluster.run('k8s.workload-status', { namespace: 'shop', name: 'cart' }, { signal: controller.signal }),
    );

    expect(error.message).toBe('step workload-status timed out after 30s');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // get deployment, list pods (aborted in flight); the ReplicaSet list never went out.
    expect(cluster.api.requests.map((request) => request.path)).toEqual([
      '/apis/apps/v1/namespaces/shop/deployments/cart',
      '/api/v1/namespaces/shop/pods',
    ]);
  });
});

describe('k8s.rollout-restart', () => {
  it('patches the restartedAt annotation of the pod template like kubectl rollout restart', async () => {
    const output = (await cluster.run('k8s.rollout-restart', {
      namespace: 'shop',
      kind: 'Deployment',
      name: 'cart',
    })) as RolloutRestartOutput;

    expect(output).toEqual({
      kind: 'Deployment',
      name: 'cart',
      namespace: 'shop',
      restartedAt: '2026-03-02T10:00:00Z',
      dryRun: false,
    });
    const [patch] = cluster.api.requestsTo('PATCH', '/apis/apps/v1/namespaces/shop/deployments/cart');
    expect(patch).toMatchObject({
      contentType: 'application/merge-patch+json',
      query: {},
      body: {
        spec: {
          template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: '2026-03-02T10:00:00Z' } } },
        },
      },
    });
    const stored = cluster.api.deployments.get('shop/cart');
    expect(stored?.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBe(
      '2026-03-02T10:00:00Z',
    );
    expect(stored?.metadata?.generation).toBe(2);
  });

  it('restarts once per change: a repeat of the same change (an interrupted run) finds it sent and sends nothing', async () => {
    // Prepare: the first run sent the restart; the platform stopped before it could record it
    const change = { key: 'aaaabbbbccccdddd0001', since: '2026-03-02T09:58:00.000Z', repeat: false };
    await cluster.run('k8s.rollout-restart', { namespace: 'shop', name: 'cart' }, { change });
    const revisionAfterFirst = cluster.api.deployments.get('shop/cart')?.metadata?.generation;

    // Act
    const repeated = (await cluster.run(
      'k8s.rollout-restart',
      { namespace: 'shop', name: 'cart' },
      { change: { ...change, repeat: true } },
    )) as RolloutRestartOutput;

    // Assess
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(1);
    expect(cluster.api.deployments.get('shop/cart')?.metadata?.generation).toBe(revisionAfterFirst);
    expect(repeated.restartedAt).toBe('2026-03-02T09:58:00Z');
  });

  it('puts the change key and the first run’s time on the template, so a second PATCH of the same change is the same template', async () => {
    // Act
    await cluster.run(
      'k8s.rollout-restart',
      { namespace: 'shop', name: 'cart' },
      { change: { key: 'aaaabbbbccccdddd0002', since: '2026-03-02T09:58:00.000Z', repeat: true } },
    );

    // Assess
    const [patch] = cluster.api.requestsTo('PATCH');
    expect(patch?.body).toEqual({
      spec: {
        template: {
          metadata: {
            annotations: {
              [RESTARTED_AT_ANNOTATION]: '2026-03-02T09:58:00Z',
              [CHANGE_ANNOTATION]: 'aaaabbbbccccdddd0002',
            },
          },
        },
      },
    });
  });

  it('restarts again for a new change (another execution or step)', async () => {
    // Act
    await cluster.run(
      'k8s.rollout-restart',
      { namespace: 'shop', name: 'cart' },
      {
        change: { key: 'aaaabbbbccccdddd0003', since: '2026-03-02T09:00:00.000Z', repeat: false },
      },
    );
    await cluster.run(
      'k8s.rollout-restart',
      { namespace: 'shop', name: 'cart' },
      {
        change: { key: 'aaaabbbbccccdddd0004', since: '2026-03-02T10:00:00.000Z', repeat: false },
      },
    );

    // Assess
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(2);
  });

  it('dry run sends dryRun=All and changes nothing', async () => {
    const output = (await cluster.run(
      'k8s.rollout-restart',
      { namespace: 'data', kind: 'StatefulSet', name: 'redis' },
      { dryRun: true },
    )) as RolloutRestartOutput;

    expect(output.dryRun).toBe(true);
    const [patch] = cluster.api.requestsTo('PATCH');
    expect(patch?.path).toBe('/apis/apps/v1/namespaces/data/statefulsets/redis');
    expect(patch?.query.dryRun).toBe('All');
    const stored = cluster.api.statefulSets.get('data/redis');
    expect(stored?.spec?.template.metadata?.annotations).toBeUndefined();
    expect(stored?.metadata?.generation).toBe(1);
  });

  it('restarts a DaemonSet', async () => {
    await cluster.run('k8s.rollout-restart', {
      namespace: 'kube-system',
      kind: 'DaemonSet',
      name: 'node-exporter',
    });

    expect(
      cluster.api.daemonSets.get('kube-system/node-exporter')?.spec?.template.metadata?.annotations?.[
        RESTARTED_AT_ANNOTATION
      ],
    ).toBe('2026-03-02T10:00:00Z');
  });

  it('refuses a paused Deployment, which would roll out nothing', async () => {
    cluster.api.addDeployment({
      namespace: 'shop',
      name: 'search',
      replicas: 1,
      paused: true,
      containers: [{ name: 'search' }],
    });

    const error = await rejectionOf(
      cluster.run('k8s.rollout-restart', { namespace: 'shop', name: 'search' }),
    );

    expect(error.name).toBe(AslErrorName.ToolRefused);
    expect(error.message).toContain('cannot restart paused Deployment shop/search');
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(0);
  });

  it('refuses a workload with the OnDelete update strategy', async () => {
    cluster.api.addDaemonSet({
      namespace: 'kube-system',
      name: 'aws-node',
      updateStrategy: 'OnDelete',
      containers: [{ name: 'aws-node' }],
    });

    const error = await rejectionOf(
      cluster.run('k8s.rollout-restart', { namespace: 'kube-system', kind: 'DaemonSet', name: 'aws-node' }),
    );

    expect(error.name).toBe(AslErrorName.ToolRefused);
    expect(error.message).toContain('OnDelete');
  });

  it('fails AccessDenied when the role may not patch the workload', async () => {
    cluster.api.forbid({ verb: 'patch', resource: 'deployments', group: 'apps' });

    const error = await rejectionOf(cluster.run('k8s.rollout-restart', { namespace: 'shop', name: 'cart' }));

    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain('k8s.rollout-restart: cannot patch deployments shop/cart');
    expect(error.message).toContain(
      'the role needs "patch" on "deployments" in API group "apps" in namespace "shop"',
    );
  });

  it('fails NotFound for a workload that does not exist', async () => {
    const error = await rejectionOf(
      cluster.run('k8s.rollout-restart', { namespace: 'shop', name: 'basket' }),
    );
    expect(error.name).toBe(AslErrorName.ToolNotFound);
  });
});

describe('k8s.scale', () => {
  it('counts what a scale touches before it runs: the replica delta either way, read from the scale subresource', async () => {
    // Prepare
    const scale = cluster.tools.get('k8s.scale')!;
    const count = (parameters: Record<string, unknown>) =>
      scale.countTouched!(
        scale.declaration.parameters.parse(parameters) as Record<string, unknown>,
        toolContext(),
      );

    // Act
    const up = await count({ namespace: 'shop', name: 'cart', replicas: 6 });
    const down = await count({ namespace: 'data', kind: 'StatefulSet', name: 'redis', replicas: 1 });

    // Assess
    expect(up).toEqual({ count: 2, how: 'Deployment shop/cart from 4 to 6 replicas' });
    expect(down).toEqual({ count: 2, how: 'StatefulSet data/redis from 3 to 1 replicas' });
    expect(cluster.api.requestsTo('PATCH')).toEqual([]);
  });

  it('reads the scale subresource, then patches replicas through it', async () => {
    const output = (await cluster.run('k8s.scale', {
      namespace: 'shop',
      kind: 'Deployment',
      name: 'cart',
      replicas: 6,
    })) as ScaleOutput;

    expect(output).toEqual({
      kind: 'Deployment',
      name: 'cart',
      namespace: 'shop',
      previousReplicas: 4,
      replicas: 6,
      changed: true,
      dryRun: false,
    });
    expect(cluster.api.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'GET /apis/apps/v1/namespaces/shop/deployments/cart/scale',
      'PATCH /apis/apps/v1/namespaces/shop/deployments/cart/scale',
    ]);
    expect(cluster.api.requestsTo('PATCH')[0]).toMatchObject({
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 6 } },
    });
    expect(cluster.api.deployments.get('shop/cart')?.spec?.replicas).toBe(6);
  });

  it('dry run sends dryRun=All and persists nothing', async () => {
    const output = (await cluster.run(
      'k8s.scale',
      { namespace: 'shop', name: 'cart', replicas: 1 },
      { dryRun: true },
    )) as ScaleOutput;

    expect(output).toMatchObject({ previousReplicas: 4, replicas: 1, dryRun: true });
    expect(cluster.api.requestsTo('PATCH')[0]?.query.dryRun).toBe('All');
    expect(cluster.api.deployments.get('shop/cart')?.spec?.replicas).toBe(4);
  });

  it('the declared inverse with the step’s output scales back to previousReplicas', async () => {
    const parameters = { namespace: 'data', kind: 'StatefulSet', name: 'redis', replicas: 5 };
    const output = await cluster.run('k8s.scale', parameters);
    expect(cluster.api.statefulSets.get('data/redis')?.spec?.replicas).toBe(5);

    const undone = (await cluster.compensate('k8s.scale', parameters, output)) as ScaleOutput;

    expect(undone).toMatchObject({ kind: 'StatefulSet', previousReplicas: 5, replicas: 3 });
    expect(cluster.api.statefulSets.get('data/redis')?.spec?.replicas).toBe(3);
  });

  it('sends no patch when the workload already has that many replicas', async () => {
    const output = (await cluster.run('k8s.scale', {
      namespace: 'shop',
      name: 'cart',
      replicas: 4,
    })) as ScaleOutput;

    expect(output).toMatchObject({ previousReplicas: 4, replicas: 4, changed: false });
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(0);
  });

  it('is Refused when the API server rejects the change as invalid (422)', async () => {
    cluster.api.failNext({
      method: 'PATCH',
      status: 422,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message:
          'admission webhook "quota.example.com" denied the request: Scale.autoscaling "cart" is invalid: spec.replicas: exceeds the namespace quota',
        reason: 'Invalid',
        code: 422,
      },
    });

    const error = await rejectionOf(
      cluster.run('k8s.scale', { namespace: 'shop', name: 'cart', replicas: 40 }),
    );

    expect(error.name).toBe(AslErrorName.ToolRefused);
    expect(error.message).toContain('k8s.scale: cannot patch deployments/scale shop/cart');
    expect(error.message).toContain('exceeds the namespace quota');
  });

  it('fails AccessDenied when the role may not patch the scale subresource', async () => {
    cluster.api.forbid({ verb: 'patch', resource: 'deployments/scale', group: 'apps' });

    const error = await rejectionOf(
      cluster.run('k8s.scale', { namespace: 'shop', name: 'cart', replicas: 2 }),
    );

    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain(
      'cannot patch resource "deployments/scale" in API group "apps" in the namespace "shop"; the role needs "patch" on "deployments/scale"',
    );
  });

  it('fails NotFound for a workload that does not exist', async () => {
    const error = await rejectionOf(
      cluster.run('k8s.scale', { namespace: 'shop', name: 'basket', replicas: 2 }),
    );

    expect(error.name).toBe(AslErrorName.ToolNotFound);
    expect(error.message).toContain('k8s.scale: cannot get deployments/scale shop/basket');
  });
});

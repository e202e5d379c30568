import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type { DeletePodOutput, PodsOutput } from '../../../../functions/tools/declarations/kubernetes.ts';
import { type Cluster, rejectionOf, startCluster } from './harness.ts';

/** k8s.pods (what KubePodNotReady and KubeContainerWaiting need first) and k8s.delete-pod. */

let cluster: Cluster;

beforeEach(async () => {
  cluster = await startCluster();
  const { api } = cluster;
  api.addNode({ name: 'node-a' });
  api.addDeployment({
    namespace: 'shop',
    name: 'checkout',
    replicas: 3,
    containers: [{ name: 'app', image: 'shop/checkout:1.4.2' }],
  });
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.pods', () => {
  it('lists a workload’s pods with waiting reasons, termination reasons and the scheduler’s word, troubled first', async () => {
    // Prepare: a release that cannot pull its image, and a pod nothing can place.
    const { api } = cluster;
    api.setImageBehaviour('shop/checkout:1.5.0', {
      waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "shop/checkout:1.5.0"' },
    });
    api.setImage('Deployment', 'shop', 'checkout', 'app', 'shop/checkout:1.5.0');
    const pulling = api
      .podsMatching('shop', { matchLabels: { app: 'checkout' } })
      .find((pod) => pod.spec!.containers[0]!.image === 'shop/checkout:1.5.0')!;
    api.addEvent({
      object: pulling,
      type: 'Warning',
      reason: 'Failed',
      message: 'Failed to pull image "shop/checkout:1.5.0": not found',
      count: 4,
      lastSeenMinutesAgo: 1,
    });
    api.addEvent({
      object: pulling,
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off pulling image',
      count: 12,
      lastSeenMinutesAgo: 3,
    });
    const healthy = api
      .podsMatching('shop', { matchLabels: { app: 'checkout' } })
      .find((pod) => pod.spec!.containers[0]!.image === 'shop/checkout:1.4.2')!;
    api.edit(api.pods, `shop/${healthy.metadata!.name}`, (pod) => {
      pod.status!.containerStatuses![0]!.restartCount = 2;
      pod.status!.containerStatuses![0]!.lastState = { terminated: { exitCode: 137, reason: 'OOMKilled' } };
    });

    // Act
    const output = (await cluster.run('k8s.pods', {
      namespace: 'shop',
      kind: 'Deployment',
      name: 'checkout',
    })) as PodsOutput;

    // Assess: the rolling update keeps the old pods while the new one cannot start (maxUnavailable 0).
    expect(output).toMatchObject({
      namespace: 'shop',
      selector: 'app=checkout',
      total: 4,
      ready: 3,
      notReady: 1,
      pending: 1,
      restarts: 2,
    });
    expect(output.waitingReasons).toEqual({ ImagePullBackOff: 1 });
    expect(output.terminationReasons).toEqual({ OOMKilled: 1 });
    expect(output.pods[0]!.ready).toBe(false);
    const pod = output.pods.find((candidate) => candidate.name === pulling.metadata!.name)!;
    expect(pod).toMatchObject({
      phase: 'Pending',
      ready: false,
      node: 'node-a',
      ageMinutes: 0,
      owner: { kind: 'ReplicaSet' },
      deleting: false,
      unschedulable: null,
      lastWarning: {
        reason: 'Failed',
        message: 'Failed to pull image "shop/checkout:1.5.0": not found',
        count: 4,
      },
    });
    expect(pod.containers[0]).toMatchObject({
      state: 'waiting',
      reason: 'ImagePullBackOff',
      image: 'shop/checkout:1.5.0',
    });
    expect(output.pods[1]).toMatchObject({
      restarts: 2,
      containers: [{ lastTerminationReason: 'OOMKilled', lastExitCode: 137 }],
    });
  });

  it('says why the scheduler cannot place a pending pod', async () => {
    // Prepare
    cluster.api.addPod({
      namespace: 'shop',
      name: 'big-0',
      labels: { app: 'big' },
      containers: [{ name: 'big', requests: { cpu: '64' } }],
      unschedulable:
        '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
      owner: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'big', uid: 'u-big', controller: true },
    });

    // Act
    const output = (await cluster.run('k8s.pods', { namespace: 'shop', selector: 'app=big' })) as PodsOutput;

    // Assess
    expect(output).toMatchObject({ total: 1, pending: 1, notReady: 1 });
    expect(output.pods[0]).toMatchObject({
      phase: 'Pending',
      node: null,
      unschedulable: expect.stringMatching(/^0\/1 nodes are available: 1 Insufficient cpu/),
      containers: [{ state: 'unknown' }],
    });
  });

  it('lists the whole namespace without a selector, up to the limit', async () => {
    // Act
    const output = (await cluster.run('k8s.pods', { namespace: 'shop', limit: 2 })) as PodsOutput;

    // Assess
    expect(output).toMatchObject({ selector: '', total: 3, ready: 3 });
    expect(output.pods).toHaveLength(2);
  });

  it('reads no events when there is no pod', async () => {
    // Act
    const output = (await cluster.run('k8s.pods', {
      namespace: 'shop',
      selector: 'app=nothing',
    })) as PodsOutput;

    // Assess
    expect(output.total).toBe(0);
    expect(cluster.api.requestsTo('GET', '/api/v1/namespaces/shop/events')).toHaveLength(0);
  });

  it('asks for kind and name together, or a selector', () => {
    // Assess
    const parameters = cluster.tools.get('k8s.pods')!.declaration.parameters;
    expect(parameters.safeParse({ namespace: 'shop', kind: 'Deployment' }).error?.issues[0]?.path).toEqual([
      'name',
    ]);
    expect(parameters.safeParse({ namespace: 'shop', name: 'checkout' }).error?.issues[0]?.path).toEqual([
      'kind',
    ]);
    expect(
      parameters.safeParse({ namespace: 'shop', kind: 'Deployment', name: 'checkout', selector: 'app=x' })
        .success,
    ).toBe(false);
  });
});

describe('k8s.delete-pod', () => {
  function stuckPod(): string {
    const pod = cluster.api.podsMatching('shop', { matchLabels: { app: 'checkout' } })[0]!;
    cluster.api.edit(cluster.api.pods, `shop/${pod.metadata!.name}`, (object) => {
      object.status!.conditions = object.status!.conditions!.map((condition) =>
        condition.type === 'Ready' ? { ...condition, status: 'False' } : condition,
      );
    });
    return pod.metadata!.name!;
  }

  it('deletes a not-ready pod with its uid as precondition, and its controller replaces it', async () => {
    // Prepare
    const pod = stuckPod();
    const uid = cluster.api.pods.get(`shop/${pod}`)!.metadata!.uid;

    // Act
    const output = (await cluster.run('k8s.delete-pod', {
      namespace: 'shop',
      pod,
      gracePeriodSeconds: 10,
    })) as DeletePodOutput;
    cluster.api.reconcile();

    // Assess
    expect(output).toEqual({
      namespace: 'shop',
      pod,
      owner: { kind: 'ReplicaSet', name: expect.stringMatching(/^checkout-/) },
      phase: 'Running',
      deleted: true,
      alreadyGone: false,
      dryRun: false,
    });
    const [request] = cluster.api.requestsTo('DELETE');
    expect(request?.body).toEqual({ preconditions: { uid }, gracePeriodSeconds: 10 });
    expect(cluster.api.deletedPods).toEqual([`shop/${pod}`]);
    expect(cluster.api.podsMatching('shop', { matchLabels: { app: 'checkout' } })).toHaveLength(3);
  });

  it('dry run asks the API server with dryRun=All and deletes nothing', async () => {
    // Prepare
    const pod = stuckPod();

    // Act
    const output = (await cluster.run(
      'k8s.delete-pod',
      { namespace: 'shop', pod },
      { dryRun: true },
    )) as DeletePodOutput;

    // Assess
    expect(output).toMatchObject({ deleted: false, alreadyGone: false, dryRun: true });
    expect(cluster.api.requestsTo('DELETE')[0]?.query.dryRun).toBe('All');
    expect(cluster.api.pods.has(`shop/${pod}`)).toBe(true);
  });

  it('refuses a Ready pod (PodDisruptionBudgets: evict it instead), a bare pod and a mirror pod', async () => {
    // Prepare
    const ready = cluster.api.podsMatching('shop', { matchLabels: { app: 'checkout' } })[0]!.metadata!.name!;
    cluster.api.addPod({
      namespace: 'shop',
      name: 'debug',
      node: 'node-a',
      containers: [{ name: 'sh', crashLooping: true, restarts: 1 }],
    });
    cluster.api.addPod({
      namespace: 'kube-system',
      name: 'kube-proxy-node-a',
      node: 'node-a',
      containers: [{ name: 'kube-proxy', crashLooping: true, restarts: 1 }],
      annotations: { 'kubernetes.io/config.mirror': 'abc' },
      owner: { apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'n-1', controller: true },
    });

    // Act
    const errors = await Promise.all([
      rejectionOf(cluster.run('k8s.delete-pod', { namespace: 'shop', pod: ready })),
      rejectionOf(cluster.run('k8s.delete-pod', { namespace: 'shop', pod: 'debug' })),
      rejectionOf(cluster.run('k8s.delete-pod', { namespace: 'kube-system', pod: 'kube-proxy-node-a' })),
    ]);

    // Assess
    expect(errors.map((error) => error.name)).toEqual([
      AslErrorName.ToolRefused,
      AslErrorName.ToolRefused,
      AslErrorName.ToolRefused,
    ]);
    expect(errors[0]!.message).toBe(
      `k8s.delete-pod: pod shop/${ready} is Ready: deleting it would bypass its PodDisruptionBudget; evict it with k8s.evict-pod, which honours budgets (context "fake")`,
    );
    expect(errors[1]!.message).toMatch(/has no controller: deleting it would lose it/);
    expect(errors[2]!.message).toMatch(/is a mirror of a static pod/);
    expect(cluster.api.requestsTo('DELETE')).toHaveLength(0);
  });

  it('counts a pod already gone, or replaced under the same name, as deleted enough', async () => {
    // Prepare: the pod is replaced between the read and the delete (a StatefulSet reuses names).
    const pod = stuckPod();
    cluster.api.onRequest = (request) => {
      if (request.method !== 'DELETE') return;
      cluster.api.edit(cluster.api.pods, `shop/${pod}`, (object) => {
        object.metadata!.uid = 'a-new-pod';
      });
    };

    // Act
    const replaced = (await cluster.run('k8s.delete-pod', { namespace: 'shop', pod })) as DeletePodOutput;
    const missing = (await cluster.run('k8s.delete-pod', {
      namespace: 'shop',
      pod: 'no-such-pod',
    })) as DeletePodOutput;

    // Assess
    expect(replaced).toMatchObject({ deleted: false, alreadyGone: true });
    expect(cluster.api.pods.has(`shop/${pod}`)).toBe(true);
    expect(missing).toMatchObject({ deleted: false, alreadyGone: true });
  });
});

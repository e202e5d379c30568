import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type { DrainNodeOutput } from '../../../../functions/tools/kubernetes/drain.ts';
import { type Cluster, rejectionOf, startCluster, toolContext } from './harness.ts';

/** k8s.drain-node: cordon, evictions that respect PodDisruptionBudgets, what it skips and why. */

let cluster: Cluster;

beforeEach(async () => {
  // Controllers run after every change: an evicted pod's replacement lands on another node.
  cluster = await startCluster({ autoReconcile: true });
  const { api } = cluster;
  api.addNode({ name: 'node-a' });
  api.addNode({ name: 'node-b' });
  api.addDeployment({
    namespace: 'shop',
    name: 'cart',
    replicas: 2,
    nodes: ['node-a', 'node-a'],
    containers: [{ name: 'cart' }],
  });
  api.addPdb({ namespace: 'shop', name: 'cart', matchLabels: { app: 'cart' }, maxUnavailable: 1 });
  api.addDaemonSet({ namespace: 'kube-system', name: 'kube-proxy', containers: [{ name: 'kube-proxy' }] });
  api.addPod({
    namespace: 'kube-system',
    name: 'etcd-node-a',
    node: 'node-a',
    containers: [{ name: 'etcd' }],
    annotations: { 'kubernetes.io/config.mirror': '3b1c' },
    owner: { apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'node-uid', controller: true },
  });
  api.addPod({ namespace: 'shop', name: 'debug-shell', node: 'node-a', containers: [{ name: 'sh' }] });
  api.addJob({
    namespace: 'batch',
    name: 'report',
    outcome: 'succeeded',
    node: 'node-a',
    containers: [{ name: 'report' }],
  });
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.drain-node', () => {
  it('counts, before draining, the pods the drain would evict (its blast radius), changing nothing', async () => {
    // Prepare
    const drain = cluster.tools.get('k8s.drain-node')!;

    // Act
    const counted = await drain.countTouched!(
      drain.declaration.parameters.parse({ node: 'node-a' }) as Record<string, unknown>,
      toolContext(),
    );

    // Assess: the two cart pods and the finished Job's pod; not the mirror, DaemonSet or bare pod
    expect(counted).toEqual({ count: 3, how: '3 pod(s) to evict from node-a (3 that a drain leaves)' });
    expect(cluster.api.nodes.get('node-a')!.spec!.unschedulable).toBeFalsy();
    expect(cluster.api.podsMatching('shop', { matchLabels: { app: 'cart' } })).toHaveLength(2);
  });

  it('cordons, evicts what controllers replace (one at a time where a budget says so), skips the rest', async () => {
    // Act
    const output = (await cluster.run('k8s.drain-node', { node: 'node-a' })) as DrainNodeOutput;

    // Assess
    expect(output.cordoned).toBe(true);
    expect(output.wasUnschedulable).toBe(false);
    expect(output.complete).toBe(true);
    expect(output.remaining).toEqual([]);
    expect(output.evicted.map((pod) => `${pod.namespace}/${pod.owner?.kind}`)).toEqual([
      'batch/Job',
      'shop/ReplicaSet',
      'shop/ReplicaSet',
    ]);
    expect(
      output.skipped.map((pod) => [
        pod.name.startsWith('kube-proxy-') ? 'kube-proxy' : pod.name,
        pod.reason.split(':')[0],
      ]),
    ).toEqual([
      ['etcd-node-a', 'a mirror pod'],
      ['kube-proxy', 'a DaemonSet pod (kube-proxy)'],
      ['debug-shell', 'no controller would recreate it'],
    ]);
    expect(cluster.api.nodes.get('node-a')!.spec!.unschedulable).toBe(true);
    const cart = cluster.api.podsMatching('shop', { matchLabels: { app: 'cart' } });
    expect(cart.map((pod) => pod.spec!.nodeName)).toEqual(['node-b', 'node-b']);
  });

  it('asks again while a budget refuses, until the deadline, then reports which pods remain and why', async () => {
    // Prepare: a budget that allows no disruption at all.
    cluster.api.addDeployment({
      namespace: 'shop',
      name: 'checkout',
      replicas: 1,
      nodes: ['node-a'],
      containers: [{ name: 'app' }],
    });
    cluster.api.addPdb({
      namespace: 'shop',
      name: 'checkout',
      matchLabels: { app: 'checkout' },
      minAvailable: 1,
    });
    const checkout = cluster.api.podsMatching('shop', { matchLabels: { app: 'checkout' } })[0]!.metadata!
      .name!;

    // Act
    const output = (await cluster.run(
      'k8s.drain-node',
      { node: 'node-a' },
      { deadline: Date.now() + 400 },
    )) as DrainNodeOutput;

    // Assess
    expect(output.complete).toBe(false);
    expect(output.evicted).toHaveLength(3);
    expect(output.remaining).toEqual([
      {
        namespace: 'shop',
        name: checkout,
        reason:
          "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget checkout needs 1 healthy pods and has 1 currently",
      },
    ]);
    const attempts = cluster.api.requestsTo('POST', `/api/v1/namespaces/shop/pods/${checkout}/eviction`);
    expect(attempts.length).toBeGreaterThan(2);
    expect(cluster.api.pods.has(`shop/${checkout}`)).toBe(true);
  });

  it('refuses a node with more pods to evict than maxPods, before changing anything', async () => {
    // Act
    const error = await rejectionOf(cluster.run('k8s.drain-node', { node: 'node-a', maxPods: 2 }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolRefused);
    expect(error.message).toBe(
      `k8s.drain-node: node node-a has 3 pods to evict, more than this step's maxPods of 2; nothing was changed (context "fake")`,
    );
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(0);
    expect(cluster.api.requestsTo('POST')).toHaveLength(0);
  });

  it('dry run cordons and evicts with dryRun=All, once, and changes nothing', async () => {
    // Act
    const output = (await cluster.run(
      'k8s.drain-node',
      { node: 'node-a' },
      { dryRun: true },
    )) as DrainNodeOutput;

    // Assess: each eviction is checked against the budget as it stands, which no dry run changes.
    expect(output).toMatchObject({ dryRun: true, cordoned: true, complete: true });
    expect(output.evicted).toHaveLength(3);
    expect(
      cluster.api.requests
        .filter((request) => request.method !== 'GET')
        .every((request) => request.query.dryRun === 'All'),
    ).toBe(true);
    expect(cluster.api.nodes.get('node-a')!.spec!.unschedulable).toBeUndefined();
    expect(cluster.api.evicted).toEqual([]);
  });

  it('its compensation uncordons the node', async () => {
    // Prepare
    const output = await cluster.run('k8s.drain-node', { node: 'node-a' });

    // Act
    await cluster.compensate('k8s.drain-node', { node: 'node-a' }, output);

    // Assess
    expect(cluster.api.nodes.get('node-a')!.spec!.unschedulable).toBe(false);
    expect(cluster.tools.get('k8s.drain-node')!.declaration.compensation?.skipWhenOutput).toBe(
      'wasUnschedulable',
    );
  });

  it('stops at once when the step is aborted while it waits to ask a budget again', async () => {
    // Prepare
    cluster.api.addDeployment({
      namespace: 'shop',
      name: 'checkout',
      replicas: 1,
      nodes: ['node-a'],
      containers: [{ name: 'app' }],
    });
    cluster.api.addPdb({
      namespace: 'shop',
      name: 'checkout',
      matchLabels: { app: 'checkout' },
      minAvailable: 1,
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('step aborted by the operator')), 150);
    const started = Date.now();

    // Act
    const error = await rejectionOf(
      cluster.run(
        'k8s.drain-node',
        { node: 'node-a' },
        { signal: controller.signal, deadline: Date.now() + 20_000 },
      ),
    );

    // Assess
    expect(error.message).toBe('step aborted by the operator');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type {
  CordonOutput,
  NodeResourcesOutput,
  PodsOnNodeOutput,
} from '../../../../functions/tools/kubernetes/index.ts';
import { type Cluster, rejectionOf, startCluster } from './harness.ts';

let cluster: Cluster;

function seedNodes(target: Cluster) {
  const { api } = target;
  api.addNode({
    name: 'ip-10-0-1-23.eu-west-1.compute.internal',
    capacity: { cpu: '4', memory: '16Gi', pods: '58' },
    allocatable: { cpu: '3920m', memory: '15Gi', pods: '58' },
    conditions: { MemoryPressure: true },
    usage: { cpu: '1500m', memory: '12Gi' },
  });
  api.addNode({ name: 'ip-10-0-2-40.eu-west-1.compute.internal', usage: { cpu: '200m', memory: '2Gi' } });
  const node = 'ip-10-0-1-23.eu-west-1.compute.internal';
  api.addDeployment({
    namespace: 'shop',
    name: 'cart',
    replicas: 2,
    nodes: [node],
    containers: [
      {
        name: 'cart',
        requests: { cpu: '250m', memory: '1Gi' },
        usage: { cpu: '900m', memory: '9Gi' },
        restarts: 1,
      },
    ],
  });
  api.addStatefulSet({
    namespace: 'data',
    name: 'redis',
    replicas: 1,
    nodes: [node],
    containers: [
      { name: 'redis', requests: { cpu: '100m', memory: '512Mi' }, usage: { cpu: '50m', memory: '600Mi' } },
    ],
  });
  api.addPod({
    namespace: 'default',
    name: 'debug-shell',
    node,
    containers: [{ name: 'shell', requests: { cpu: '10m', memory: '16Mi' }, restarts: 5 }],
  });
  api.addPod({
    namespace: 'batch',
    name: 'report-done',
    node,
    phase: 'Succeeded',
    containers: [{ name: 'report', requests: { cpu: '1', memory: '4Gi' } }],
  });
}

beforeEach(async () => {
  cluster = await startCluster();
  seedNodes(cluster);
});

afterEach(async () => {
  await cluster.stop();
});

const NODE = 'ip-10-0-1-23.eu-west-1.compute.internal';

describe('k8s.node-resources', () => {
  it('reads conditions, capacity, allocatable, usage from metrics.k8s.io and the pods on the node', async () => {
    const output = (await cluster.run('k8s.node-resources', { node: NODE })) as NodeResourcesOutput;

    expect(output).toEqual({
      name: NODE,
      ready: true,
      unschedulable: false,
      conditions: {
        Ready: true,
        MemoryPressure: true,
        DiskPressure: false,
        PIDPressure: false,
        NetworkUnavailable: false,
      },
      memoryPressure: true,
      diskPressure: false,
      capacity: { cpuCores: 4, memoryBytes: 16 * 2 ** 30, pods: 58, ephemeralStorageBytes: 100 * 2 ** 30 },
      allocatable: {
        cpuCores: 3.92,
        memoryBytes: 15 * 2 ** 30,
        pods: 58,
        ephemeralStorageBytes: 100 * 2 ** 30,
      },
      usage: { cpuCores: 1.5, memoryBytes: 12 * 2 ** 30, cpuPercent: 38.3, memoryPercent: 80 },
      // 2 cart + 1 redis + debug-shell; the Succeeded pod holds nothing.
      podCount: 4,
      kubeletVersion: 'v1.31.2-eks-94953ac',
    });
    const [list] = cluster.api.requestsTo('GET', '/api/v1/pods');
    expect(list?.query.fieldSelector).toBe(
      `spec.nodeName=${NODE},status.phase!=Succeeded,status.phase!=Failed`,
    );
    expect(cluster.api.requestsTo('GET', `/apis/metrics.k8s.io/v1beta1/nodes/${NODE}`)).toHaveLength(1);
  });

  it('omits usage when metrics.k8s.io is not installed (404 is an answer, not an error)', async () => {
    cluster.api.metricsAvailable = false;

    const output = (await cluster.run('k8s.node-resources', { node: NODE })) as NodeResourcesOutput;

    expect(output).not.toHaveProperty('usage');
    expect(output.memoryPressure).toBe(true);
    expect(cluster.logs.some((entry) => entry.message.includes('node metrics unavailable'))).toBe(true);
  });

  it('omits usage when metrics-server is registered but unavailable (503)', async () => {
    cluster.api.failNext({ path: '/apis/metrics.k8s.io/', status: 503 });

    const output = (await cluster.run('k8s.node-resources', { node: NODE })) as NodeResourcesOutput;

    expect(output.usage).toBeUndefined();
    expect(output.podCount).toBe(4);
  });

  it('fails NotFound for a node that does not exist, naming tool, verb and object', async () => {
    const error = await rejectionOf(cluster.run('k8s.node-resources', { node: 'ip-10-9-9-9' }));

    expect(error.name).toBe(AslErrorName.ToolNotFound);
    expect(error.message).toBe(
      'k8s.node-resources: cannot get nodes ip-10-9-9-9 in context "fake": not found (404): nodes "ip-10-9-9-9" not found',
    );
  });

  it('fails AccessDenied with the RBAC rule the role lacks', async () => {
    cluster.api.forbid({ verb: 'get', resource: 'nodes', group: '' });

    const error = await rejectionOf(cluster.run('k8s.node-resources', { node: NODE }));

    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain('k8s.node-resources: cannot get nodes ' + NODE);
    expect(error.message).toContain(
      'cannot get resource "nodes" in API group "" at the cluster scope; the role needs "get" on "nodes" in API group ""',
    );
  });

  it('fails AccessDenied when the API server rejects the credentials (401)', async () => {
    await cluster.stop();
    cluster = await startCluster({ token: 'the-real-token' }, { token: 'an-expired-token' });
    seedNodes(cluster);

    const error = await rejectionOf(cluster.run('k8s.node-resources', { node: NODE }));

    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain('unauthorized (401)');
  });

  it('fails Throttled on API priority and fairness 429, with Retry-After', async () => {
    cluster.api.failNext({
      path: `/api/v1/nodes/${NODE}`,
      status: 429,
      headers: { 'retry-after': '3' },
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Too many requests, please try again later.',
        reason: 'TooManyRequests',
        details: { retryAfterSeconds: 3 },
        code: 429,
      },
    });

    const error = await rejectionOf(cluster.run('k8s.node-resources', { node: NODE }));

    expect(error.name).toBe(AslErrorName.ToolThrottled);
    expect(error.data).toMatchObject({ status: 429, retryAfterSeconds: 3 });
  });

  it('fails AccessDenied (not silently) when the role may not read node metrics', async () => {
    cluster.api.forbid({ verb: 'get', resource: 'nodes', group: 'metrics.k8s.io' });

    const error = await rejectionOf(cluster.run('k8s.node-resources', { node: NODE }));

    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain('nodes.metrics.k8s.io');
  });

  it('fails ToolFailed naming the server when the API server does not answer', async () => {
    const { url } = cluster.api;
    await cluster.api.stop();

    const error = await rejectionOf(cluster.run('k8s.node-resources', { node: NODE }));

    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toContain(`the API server ${url} did not answer`);
    cluster = await startCluster();
  });
});

describe('k8s.pods-on-node', () => {
  it('lists the non-terminated pods by memory, with usage, share of allocatable memory and owners', async () => {
    const output = (await cluster.run('k8s.pods-on-node', {
      node: NODE,
      sortBy: 'memory',
      limit: 10,
    })) as PodsOnNodeOutput;

    expect(output.node).toBe(NODE);
    expect(output.total).toBe(4);
    expect(output.metricsAvailable).toBe(true);
    const [first, second, third, fourth] = output.pods;
    expect(first).toMatchObject({
      namespace: 'shop',
      ownerKind: 'Deployment',
      ownerName: 'cart',
      phase: 'Running',
      memoryBytes: 9 * 2 ** 30,
      cpuCores: 0.9,
      memoryShare: 0.6,
      restarts: 1,
      usageSource: 'metrics',
    });
    expect(first?.name).toMatch(/^cart-[a-z0-9]{10}-[a-z0-9]{5}$/);
    expect(second).toMatchObject({ ownerKind: 'Deployment', ownerName: 'cart' });
    expect(third).toMatchObject({
      namespace: 'data',
      name: 'redis-0',
      ownerKind: 'StatefulSet',
      ownerName: 'redis',
    });
    expect(fourth).toMatchObject({
      namespace: 'default',
      name: 'debug-shell',
      ownerKind: null,
      ownerName: null,
    });
    // Each ReplicaSet is read once to reach its Deployment.
    expect(cluster.api.requestsTo('GET', '/apis/apps/v1/namespaces/shop/replicasets/')).toHaveLength(1);
  });

  it('sorts by restarts and applies the limit, keeping the total', async () => {
    const output = (await cluster.run('k8s.pods-on-node', {
      node: NODE,
      sortBy: 'restarts',
      limit: 1,
    })) as PodsOnNodeOutput;

    expect(output.total).toBe(4);
    expect(output.pods).toHaveLength(1);
    expect(output.pods[0]).toMatchObject({ name: 'debug-shell', restarts: 5 });
  });

  it('uses the pods’ requests when metrics.k8s.io is absent', async () => {
    cluster.api.metricsAvailable = false;

    const output = (await cluster.run('k8s.pods-on-node', { node: NODE })) as PodsOnNodeOutput;

    expect(output.metricsAvailable).toBe(false);
    expect(output.pods[0]).toMatchObject({
      ownerName: 'cart',
      memoryBytes: 2 ** 30,
      cpuCores: 0.25,
      memoryShare: 0.0667,
      usageSource: 'requests',
    });
  });

  it('lists pod metrics once cluster-wide when the pods span many namespaces', async () => {
    for (let index = 0; index < 9; index += 1) {
      cluster.api.addPod({
        namespace: `team-${index}`,
        name: `worker-${index}`,
        node: NODE,
        containers: [{ name: 'worker', requests: { cpu: '10m', memory: '64Mi' } }],
      });
    }

    const output = (await cluster.run('k8s.pods-on-node', { node: NODE, limit: 50 })) as PodsOnNodeOutput;

    expect(output.total).toBe(13);
    expect(cluster.api.requestsTo('GET', '/apis/metrics.k8s.io/v1beta1/pods')).toHaveLength(1);
    expect(cluster.api.requestsTo('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/')).toHaveLength(0);
  });

  it('fails NotFound for an unknown node instead of answering an empty list', async () => {
    const error = await rejectionOf(cluster.run('k8s.pods-on-node', { node: 'ip-10-9-9-9' }));

    expect(error.name).toBe(AslErrorName.ToolNotFound);
    expect(error.message).toContain('k8s.pods-on-node: cannot get nodes ip-10-9-9-9');
  });

  it('fails AccessDenied when the role may not read ReplicaSets to find the Deployment', async () => {
    cluster.api.forbid({ verb: 'get', resource: 'replicasets', group: 'apps' });

    const error = await rejectionOf(cluster.run('k8s.pods-on-node', { node: NODE }));

    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain(
      'the role needs "get" on "replicasets" in API group "apps" in namespace "shop"',
    );
  });
});

describe('k8s.cordon and k8s.uncordon', () => {
  it('cordons with a merge patch of spec.unschedulable and reports the previous state', async () => {
    const output = (await cluster.run('k8s.cordon', { node: NODE })) as CordonOutput;

    expect(output).toEqual({
      node: NODE,
      unschedulable: true,
      wasUnschedulable: false,
      changed: true,
      dryRun: false,
    });
    const [patch] = cluster.api.requestsTo('PATCH', `/api/v1/nodes/${NODE}`);
    expect(patch).toMatchObject({
      contentType: 'application/merge-patch+json',
      body: { spec: { unschedulable: true } },
      query: {},
    });
    expect(cluster.api.nodes.get(NODE)?.spec?.unschedulable).toBe(true);
  });

  it('dry run sends dryRun=All and persists nothing', async () => {
    const output = (await cluster.run('k8s.cordon', { node: NODE }, { dryRun: true })) as CordonOutput;

    expect(output).toMatchObject({ unschedulable: true, wasUnschedulable: false, dryRun: true });
    const [patch] = cluster.api.requestsTo('PATCH', `/api/v1/nodes/${NODE}`);
    expect(patch?.query.dryRun).toBe('All');
    expect(cluster.api.nodes.get(NODE)?.spec?.unschedulable).toBeUndefined();
  });

  it('the declared inverse (uncordon with the cordon step’s parameters) restores the node', async () => {
    const parameters = { node: NODE };
    const output = await cluster.run('k8s.cordon', parameters);
    expect(cluster.api.nodes.get(NODE)?.spec?.unschedulable).toBe(true);

    const undone = (await cluster.compensate('k8s.cordon', parameters, output)) as CordonOutput;

    expect(undone).toEqual({
      node: NODE,
      unschedulable: false,
      wasUnschedulable: true,
      changed: true,
      dryRun: false,
    });
    expect(cluster.api.nodes.get(NODE)?.spec?.unschedulable).toBe(false);
  });

  it('sends nothing when the node already is in the wanted state', async () => {
    await cluster.run('k8s.cordon', { node: NODE });
    cluster.api.clearRequests();

    const output = (await cluster.run('k8s.cordon', { node: NODE })) as CordonOutput;

    expect(output).toMatchObject({ unschedulable: true, wasUnschedulable: true, changed: false });
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(0);
  });

  it('fails AccessDenied when the role may not patch nodes', async () => {
    cluster.api.forbid({ verb: 'patch', resource: 'nodes' });

    const refused = await rejectionOf(cluster.run('k8s.cordon', { node: NODE }));

    expect(refused.name).toBe(AslErrorName.ToolAccessDenied);
    expect(refused.message).toContain('k8s.cordon: cannot patch nodes ' + NODE);
  });

  it('fails NotFound for an unknown node', async () => {
    const error = await rejectionOf(cluster.run('k8s.cordon', { node: 'ip-10-9-9-9' }));
    expect(error.name).toBe(AslErrorName.ToolNotFound);
  });
});

describe('abort', () => {
  it('an aborted step sends no request at all', async () => {
    const controller = new AbortController();
    controller.abort(new Error('step cordon-node aborted by sre@example.com'));

    const error = await rejectionOf(cluster.run('k8s.cordon', { node: NODE }, { signal: controller.signal }));

    expect(error.message).toBe('step cordon-node aborted by sre@example.com');
    expect(cluster.api.requests).toHaveLength(0);
  });

  it('an abort during a request stops it at once and sends nothing after it', async () => {
    cluster.api.latencyMs = 1_000;
    const controller = new AbortController();
    let started = 0;
    cluster.api.onRequest = () => {
      started = Date.now();
      controller.abort(new Error('step cordon-node timed out after 30s'));
    };

    const error = await rejectionOf(cluster.run('k8s.cordon', { node: NODE }, { signal: controller.signal }));

    expect(error.message).toBe('step cordon-node timed out after 30s');
    // The client gave up at once instead of waiting for the answer.
    expect(Date.now() - started).toBeLessThan(500);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // The node was read (the request in flight), never patched.
    expect(cluster.api.requests.map((request) => request.method)).toEqual(['GET']);
    expect(cluster.api.nodes.get(NODE)?.spec?.unschedulable).toBeUndefined();
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type { EvictPodOutput, PodLogsOutput } from '../../../../functions/tools/kubernetes/index.ts';
import { MAX_LOG_CHARACTERS } from '../../../../functions/tools/kubernetes/pods.ts';
import { type Cluster, rejectionOf, startCluster } from './harness.ts';

let cluster: Cluster;
let crashing: string;
let healthy: string;

const CRASH_LOG = [
  'starting cart 2.4.1',
  'connecting to postgres at 10.0.7.12:5432',
  'panic: dial tcp 10.0.7.12:5432: connect: connection refused',
  '',
  'goroutine 1 [running]:',
  'main.main()',
  '\t/src/main.go:42 +0x1d',
].join('\n');

beforeEach(async () => {
  cluster = await startCluster();
  const { api } = cluster;
  api.addNode({ name: 'node-a' });
  api.addNode({ name: 'node-b' });
  api.addDeployment({
    namespace: 'shop',
    name: 'cart',
    replicas: 3,
    nodes: ['node-a', 'node-b'],
    containers: [{ name: 'cart', requests: { cpu: '100m', memory: '256Mi' } }],
  });
  const pods = api.podsMatching('shop', { matchLabels: { app: 'cart' } });
  crashing = pods[0]!.metadata!.name!;
  healthy = pods[1]!.metadata!.name!;
  // One replica crash-loops: restarted 7 times, its previous instance logged the panic.
  api.edit(api.pods, `shop/${crashing}`, (pod) => {
    const status = pod.status!.containerStatuses![0]!;
    status.restartCount = 7;
    status.ready = false;
    status.state = {
      waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container' },
    };
    pod.status!.conditions = pod.status!.conditions!.map((condition) =>
      condition.type === 'Ready' ? { ...condition, status: 'False' } : condition,
    );
  });
  api.setPodLog('shop', crashing, 'cart', { current: 'starting cart 2.4.1\n', previous: `${CRASH_LOG}\n` });
  api.addPdb({ namespace: 'shop', name: 'cart', matchLabels: { app: 'cart' }, minAvailable: 2 });
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.pod-logs', () => {
  it('reads the previous container’s log tail, trimmed', async () => {
    const output = (await cluster.run('k8s.pod-logs', {
      namespace: 'shop',
      pod: crashing,
      container: 'cart',
      previous: true,
      tailLines: 5,
    })) as PodLogsOutput;

    expect(output).toEqual({
      namespace: 'shop',
      pod: crashing,
      container: 'cart',
      previous: true,
      lines: 5,
      text: [
        'panic: dial tcp 10.0.7.12:5432: connect: connection refused',
        '',
        'goroutine 1 [running]:',
        'main.main()',
        '\t/src/main.go:42 +0x1d',
      ].join('\n'),
      truncated: false,
    });
    const [request] = cluster.api.requestsTo('GET', `/api/v1/namespaces/shop/pods/${crashing}/log`);
    expect(request?.query).toEqual({ container: 'cart', previous: 'true', tailLines: '5' });
  });

  it('fails clearly when the container never restarted and has no previous log (400)', async () => {
    const error = await rejectionOf(
      cluster.run('k8s.pod-logs', { namespace: 'shop', pod: healthy, container: 'cart', previous: true }),
    );

    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toBe(
      `k8s.pod-logs: cannot get pods/log shop/${healthy} in context "fake": container "cart" has no previous (terminated) instance to read; it has not restarted, or its old log was rotated away (400: previous terminated container "cart" in pod "${healthy}" not found)`,
    );
  });

  it('without a container, reads the pod and picks its default container like kubectl', async () => {
    cluster.api.addPod({
      namespace: 'shop',
      name: 'checkout-0',
      node: 'node-a',
      annotations: { 'kubectl.kubernetes.io/default-container': 'app' },
      containers: [
        { name: 'istio-proxy', log: 'envoy ready\n' },
        { name: 'app', log: 'line 1\nline 2\n\n' },
      ],
    });

    const output = (await cluster.run('k8s.pod-logs', {
      namespace: 'shop',
      pod: 'checkout-0',
    })) as PodLogsOutput;

    expect(output).toMatchObject({ container: 'app', previous: false, lines: 2, text: 'line 1\nline 2' });
    expect(cluster.api.requestsTo('GET', '/api/v1/namespaces/shop/pods/checkout-0')[0]?.path).toBe(
      '/api/v1/namespaces/shop/pods/checkout-0',
    );
  });

  it('keeps the end of a log longer than the budget', async () => {
    const long = Array.from({ length: 3_000 }, (_, index) => `line ${index} ${'x'.repeat(40)}`).join('\n');
    cluster.api.setPodLog('shop', healthy, 'cart', { current: long });

    const output = (await cluster.run('k8s.pod-logs', {
      namespace: 'shop',
      pod: healthy,
      container: 'cart',
      tailLines: 5_000,
    })) as PodLogsOutput;

    expect(output.truncated).toBe(true);
    expect(output.text.length).toBe(MAX_LOG_CHARACTERS);
    expect(output.text.endsWith(`line 2999 ${'x'.repeat(40)}`)).toBe(true);
  });

  it('fails NotFound for a pod that does not exist', async () => {
    const error = await rejectionOf(
      cluster.run('k8s.pod-logs', { namespace: 'shop', pod: 'cart-gone', container: 'cart' }),
    );

    expect(error.name).toBe(AslErrorName.ToolNotFound);
    expect(error.message).toContain('k8s.pod-logs: cannot get pods/log shop/cart-gone');
    expect(error.message).toContain('pods "cart-gone" not found');
  });

  it('fails AccessDenied when the role may not read logs', async () => {
    cluster.api.forbid({ verb: 'get', resource: 'pods/log' });

    const error = await rejectionOf(
      cluster.run('k8s.pod-logs', { namespace: 'shop', pod: crashing, container: 'cart' }),
    );

    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain('the role needs "get" on "pods/log" in API group "" in namespace "shop"');
  });
});

describe('k8s.evict-pod', () => {
  it('evicts through the policy/v1 Eviction API when the budget allows it', async () => {
    // 3 replicas, 2 healthy, minAvailable 2: the unhealthy crashing pod may go.
    const output = (await cluster.run('k8s.evict-pod', {
      namespace: 'shop',
      pod: crashing,
    })) as EvictPodOutput;

    expect(output).toEqual({
      namespace: 'shop',
      pod: crashing,
      evicted: true,
      alreadyGone: false,
      dryRun: false,
    });
    const [post] = cluster.api.requestsTo('POST', `/api/v1/namespaces/shop/pods/${crashing}/eviction`);
    expect(post?.body).toEqual({
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: crashing, namespace: 'shop' },
    });
    expect(cluster.api.pods.has(`shop/${crashing}`)).toBe(false);
    expect(cluster.api.evicted).toEqual([`shop/${crashing}`]);
  });

  it('passes the grace period in the eviction’s delete options', async () => {
    await cluster.run('k8s.evict-pod', { namespace: 'shop', pod: crashing, gracePeriodSeconds: 10 });

    const [post] = cluster.api.requestsTo('POST');
    expect(post?.body).toMatchObject({ deleteOptions: { gracePeriodSeconds: 10 } });
  });

  it('dry run sends dryRun=All (query and body) and evicts nothing', async () => {
    const output = (await cluster.run(
      'k8s.evict-pod',
      { namespace: 'shop', pod: crashing },
      { dryRun: true },
    )) as EvictPodOutput;

    expect(output).toEqual({
      namespace: 'shop',
      pod: crashing,
      evicted: false,
      alreadyGone: false,
      dryRun: true,
    });
    const [post] = cluster.api.requestsTo('POST');
    expect(post?.query.dryRun).toBe('All');
    expect(post?.body).toMatchObject({ deleteOptions: { dryRun: ['All'] } });
    expect(cluster.api.pods.has(`shop/${crashing}`)).toBe(true);
  });

  it('is Refused with the API’s message when the PodDisruptionBudget does not allow it', async () => {
    // Evicting a healthy replica would leave 1 of the 2 the budget requires.
    const error = await rejectionOf(cluster.run('k8s.evict-pod', { namespace: 'shop', pod: healthy }));

    expect(error.name).toBe(AslErrorName.ToolRefused);
    expect(error.message).toBe(
      `k8s.evict-pod: cannot create pods/eviction shop/${healthy} in context "fake": Cannot evict pod as it would violate the pod's disruption budget. The disruption budget cart needs 2 healthy pods and has 2 currently`,
    );
    expect(error.data).toMatchObject({ status: 429, disruptionBudget: true });
    expect(cluster.api.pods.has(`shop/${healthy}`)).toBe(true);
  });

  it('a dry run is refused by the budget too (the API server checks it)', async () => {
    const error = await rejectionOf(
      cluster.run('k8s.evict-pod', { namespace: 'shop', pod: healthy }, { dryRun: true }),
    );
    expect(error.name).toBe(AslErrorName.ToolRefused);
  });

  it('is Refused when the pod is covered by more than one budget (500)', async () => {
    cluster.api.addPdb({
      namespace: 'shop',
      name: 'cart-extra',
      matchLabels: { app: 'cart' },
      maxUnavailable: 1,
    });

    const error = await rejectionOf(cluster.run('k8s.evict-pod', { namespace: 'shop', pod: crashing }));

    expect(error.name).toBe(AslErrorName.ToolRefused);
    expect(error.message).toContain('more than one PodDisruptionBudget');
  });

  it('treats a 429 without a disruption budget as API throttling', async () => {
    cluster.api.failNext({
      method: 'POST',
      status: 429,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Too many requests, please try again later.',
        reason: 'TooManyRequests',
        details: { retryAfterSeconds: 1 },
        code: 429,
      },
    });

    const error = await rejectionOf(cluster.run('k8s.evict-pod', { namespace: 'shop', pod: crashing }));

    expect(error.name).toBe(AslErrorName.ToolThrottled);
  });

  it('counts a pod that is already gone as evicted (alreadyGone), as kubectl drain does', async () => {
    const output = (await cluster.run('k8s.evict-pod', {
      namespace: 'shop',
      pod: 'cart-gone',
    })) as EvictPodOutput;

    expect(output).toEqual({
      namespace: 'shop',
      pod: 'cart-gone',
      evicted: false,
      alreadyGone: true,
      dryRun: false,
    });
    expect(cluster.api.requestsTo('POST', '/api/v1/namespaces/shop/pods/cart-gone/eviction')).toHaveLength(1);
    expect(cluster.api.evicted).toEqual([]);
  });

  it('evicting the same pod twice (a step re-run) succeeds both times and evicts once', async () => {
    const first = (await cluster.run('k8s.evict-pod', {
      namespace: 'shop',
      pod: crashing,
    })) as EvictPodOutput;
    const second = (await cluster.run('k8s.evict-pod', {
      namespace: 'shop',
      pod: crashing,
    })) as EvictPodOutput;

    expect([first.evicted, second.evicted, second.alreadyGone]).toEqual([true, false, true]);
    expect(cluster.api.evicted).toEqual([`shop/${crashing}`]);
  });

  it('fails AccessDenied when the role may not create evictions', async () => {
    cluster.api.forbid({ verb: 'create', resource: 'pods/eviction' });

    const error = await rejectionOf(cluster.run('k8s.evict-pod', { namespace: 'shop', pod: crashing }));

    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain(
      `pods "${crashing}" is forbidden: User "system:serviceaccount:runbook-autopilot:autopilot" cannot create resource "pods/eviction"`,
    );
  });

  it('an abort before the eviction sends nothing', async () => {
    const controller = new AbortController();
    controller.abort(new Error('step evict-heaviest-pod aborted by an operator'));

    const error = await rejectionOf(
      cluster.run('k8s.evict-pod', { namespace: 'shop', pod: crashing }, { signal: controller.signal }),
    );

    expect(error.message).toBe('step evict-heaviest-pod aborted by an operator');
    expect(cluster.api.requests).toHaveLength(0);
    expect(cluster.api.pods.has(`shop/${crashing}`)).toBe(true);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeAlertmanager } from '../../../../functions/core/classifier/normalize.ts';
import { RuntimeConfig } from '../../../../functions/core/config.ts';
import type { ToolImplementation } from '../../../../functions/ports/tools.ts';
import type { ResolveOutput } from '../../../../functions/tools/declarations/resolve.ts';
import {
  instanceIdOfProviderId,
  kubernetesResolver,
} from '../../../../functions/tools/kubernetes/resolve.ts';
import { resolveTools } from '../../../../functions/tools/resolve/index.ts';
import { type Cluster, startCluster, toolContext } from './harness.ts';

/** resource.resolve's Kubernetes family against the fake API, through the real client. */

let cluster: Cluster;
let resolve: ToolImplementation;

function resolveWith(
  parameters: Record<string, unknown>,
  environment: Record<string, unknown> = {},
  logs: Cluster['logs'] = [],
) {
  const runtime = {
    ...cluster.runtime,
    config: RuntimeConfig.parse({
      environment: 'dev',
      publicBaseUrl: 'http://127.0.0.1:8787',
      runbookParameters: { 'pod-crash-looping': environment },
    }),
  };
  resolve = resolveTools([kubernetesResolver({ clients: cluster.clients, runtime })], runtime)[0]!;
  const parsed = resolve.declaration.parameters.parse(parameters) as Record<string, unknown>;
  return resolve.run(parsed, toolContext({}, logs)) as Promise<ResolveOutput>;
}

beforeEach(async () => {
  cluster = await startCluster();
  cluster.api.addNode({ name: 'ip-10-0-1-23.eu-west-1.compute.internal' });
  cluster.api.addDeployment({
    namespace: 'shop',
    name: 'checkout',
    replicas: 2,
    containers: [{ name: 'app', image: 'shop/checkout:1.4.2' }],
  });
});

afterEach(async () => {
  await cluster.stop();
});

describe('resource.resolve (Kubernetes)', () => {
  it('resolves a crashing pod to its Deployment through the ReplicaSet, and says how', async () => {
    // Prepare
    const pod = cluster.api.podsMatching('shop', { matchLabels: { app: 'checkout' } })[0]!;
    const name = pod.metadata!.name!;

    // Act
    const output = await resolveWith({
      resource: { type: 'k8s-pod', id: name, kind: 'Pod', name, namespace: 'shop', container: 'app' },
      runbook: 'pod-crash-looping',
    });

    // Assess
    expect(output.resource.workload).toEqual({ kind: 'Deployment', name: 'checkout', namespace: 'shop' });
    expect(output.resource.pod).toBe(name);
    expect(output.resource.node).toBe('ip-10-0-1-23.eu-west-1.compute.internal');
    const replicaSet = pod.metadata!.ownerReferences![0]!.name;
    expect(output.resource.resolution).toContainEqual({
      from: `Pod shop/${name}`,
      to: 'Deployment shop/checkout',
      via: `ownerReferences: Pod ${name} → ReplicaSet ${replicaSet} → Deployment checkout`,
    });
  });

  it('lists what it could not resolve instead of failing the step', async () => {
    // Act
    const output = await resolveWith({
      resource: { type: 'k8s-pod', id: 'gone-1', kind: 'Pod', name: 'gone-1', namespace: 'shop' },
      runbook: 'pod-crash-looping',
    });

    // Assess
    expect(output.resource.workload).toBeUndefined();
    expect(output.resource.unresolved).toEqual([expect.stringMatching(/^Pod shop\/gone-1: .*not found/i)]);
  });

  it('settles parameters: default, then the environment, then the workload’s annotation within bounds', async () => {
    // Prepare
    const parameters = {
      maxReplicas: { description: 'most replicas', type: 'integer', default: 6, minimum: 1, maximum: 20 },
      restartBudget: { description: 'restarts', type: 'integer', default: 1, overridableBy: ['environment'] },
      mode: { description: 'how', type: 'string', default: 'evict', allowed: ['evict', 'restart'] },
    };
    cluster.api.addDeployment({
      namespace: 'shop',
      name: 'cart',
      replicas: 1,
      containers: [{ name: 'app', image: 'shop/cart:2.0.0' }],
      annotations: {
        'runbook-autopilot.io/pod-crash-looping.maxReplicas': '12',
        'runbook-autopilot.io/restartBudget': '5',
        'runbook-autopilot.io/mode': 'delete-everything',
      },
    });
    const pod = cluster.api.podsMatching('shop', { matchLabels: { app: 'cart' } })[0]!;
    const name = pod.metadata!.name!;

    // Act
    const output = await resolveWith(
      {
        resource: { type: 'k8s-pod', id: name, kind: 'Pod', name, namespace: 'shop' },
        runbook: 'pod-crash-looping',
        parameters,
      },
      { restartBudget: 2 },
    );

    // Assess
    expect(output.parameters).toEqual({ maxReplicas: 12, restartBudget: 2, mode: 'evict' });
    expect(output.parameterSources).toEqual({
      maxReplicas: 'resource',
      restartBudget: 'environment',
      mode: 'default',
    });
    expect(output.parameterNotes).toEqual([
      "restartBudget: the resource's runbook-autopilot.io/restartBudget ignored: the runbook does not let the resource override it",
      'the resource\'s runbook-autopilot.io/mode ignored: mode: "delete-everything" is not one of evict, restart',
    ]);
  });

  it('reads the EC2 instance id from an AWS providerID', () => {
    expect(instanceIdOfProviderId('aws:///eu-west-1a/i-0a1c3e5f7b9d24681')).toBe('i-0a1c3e5f7b9d24681');
    expect(instanceIdOfProviderId('gce://project/zone/name')).toBeUndefined();
    expect(instanceIdOfProviderId(undefined)).toBeUndefined();
  });
});

/** A kube-prometheus-stack alert as Alertmanager posts it, normalized as the platform does, then resolved. */
async function resolveAlert(labels: Record<string, string>): Promise<ResolveOutput> {
  const [alert] = normalizeAlertmanager(
    {
      version: '4',
      groupKey: '{}:{alertname="x"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'runbook-autopilot',
      groupLabels: { alertname: labels.alertname! },
      commonLabels: labels,
      commonAnnotations: {},
      externalURL: 'http://alertmanager.monitoring:9093',
      alerts: [
        {
          status: 'firing',
          labels,
          annotations: { summary: 'test' },
          startsAt: '2026-03-02T09:50:00Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus.monitoring:9090/graph?g0.expr=up&g0.tab=1',
          fingerprint: '0123456789abcdef',
        },
      ],
    },
    { environmentLabels: ['environment'], defaultEnvironment: 'dev' },
  );
  return resolveWith({ resource: alert!.resource, labels: alert!.labels, runbook: 'pod-crash-looping' });
}

/** The target labels kube-prometheus-stack adds to everything kube-state-metrics exports (honorLabels). */
const KSM = {
  cluster: 'prod-eks-eu-west-1',
  prometheus: 'monitoring/kube-prometheus-stack-prometheus',
  job: 'kube-state-metrics',
  endpoint: 'http',
  service: 'kube-prometheus-stack-kube-state-metrics',
  instance: '10.0.3.40:8080',
  namespace: 'monitoring',
  pod: 'kube-prometheus-stack-kube-state-metrics-6c9d8f7b5-q2x8z',
  container: 'kube-state-metrics',
};

describe('resource.resolve (Kubernetes) on kube-prometheus-stack alerts', () => {
  const NODE = 'ip-10-0-1-23.eu-west-1.compute.internal';
  const OTHER_NODE = 'ip-10-0-2-41.eu-west-1.compute.internal';

  beforeEach(() => {
    const { api } = cluster;
    api.edit(api.nodes, NODE, (node) => {
      node.spec!.providerID = 'aws:///eu-west-1a/i-0a1c3e5f7b9d24681';
      node.status!.addresses = [
        { type: 'InternalIP', address: '10.0.1.23' },
        { type: 'InternalDNS', address: NODE },
        { type: 'Hostname', address: NODE },
      ];
    });
    api.addNode({
      name: OTHER_NODE,
      internalIP: '10.0.2.41',
      zone: 'eu-west-1b',
      instanceId: 'i-0b2d4f6a8c0e13579',
    });
    // The exporters themselves run in monitoring: a resolution that picks them up is wrong.
    api.addDeployment({
      namespace: 'monitoring',
      name: 'kube-prometheus-stack-kube-state-metrics',
      replicas: 1,
      labels: { 'app.kubernetes.io/name': 'kube-state-metrics' },
      containers: [{ name: 'kube-state-metrics' }],
    });
    api.addDaemonSet({
      namespace: 'monitoring',
      name: 'kube-prometheus-stack-prometheus-node-exporter',
      labels: { 'app.kubernetes.io/name': 'prometheus-node-exporter' },
      containers: [{ name: 'node-exporter' }],
    });
    api.addService({ namespace: 'shop', name: 'checkout', selector: { app: 'checkout' } });
    api.addHorizontalPodAutoscaler({
      namespace: 'shop',
      name: 'checkout-hpa',
      target: { kind: 'Deployment', name: 'checkout' },
      maxReplicas: 2,
      demand: 5,
    });
    api.addStorageClass({ name: 'gp3', allowVolumeExpansion: true, isDefault: true });
    api.addStatefulSet({
      namespace: 'data',
      name: 'pg',
      replicas: 1,
      nodes: [OTHER_NODE],
      annotations: { 'runbook-autopilot.io/maxSize': '500Gi' },
      containers: [{ name: 'postgres' }],
      volumeClaimTemplates: [{ name: 'data', size: '100Gi' }],
    });
    api.addCronJob({
      namespace: 'batch',
      name: 'nightly-report',
      schedule: '0 2 * * *',
      containers: [{ name: 'report' }],
      jobs: [
        { outcome: 'succeeded', minutesAgo: 24 * 60 },
        { outcome: 'failed', minutesAgo: 60 },
      ],
    });
  });

  it('KubeDeploymentReplicasMismatch: the Deployment and its pods, not kube-state-metrics’ own pod', async () => {
    // Act
    const output = await resolveAlert({
      ...KSM,
      alertname: 'KubeDeploymentReplicasMismatch',
      severity: 'warning',
      namespace: 'shop',
      deployment: 'checkout',
    });

    // Assess
    const pods = cluster.api
      .podsMatching('shop', { matchLabels: { app: 'checkout' } })
      .map((pod) => pod.metadata!.name);
    expect(output.resource).toMatchObject({
      type: 'k8s-deployment',
      name: 'checkout',
      namespace: 'shop',
      cluster: 'prod-eks-eu-west-1',
      workload: { kind: 'Deployment', name: 'checkout', namespace: 'shop' },
      pods,
      unresolved: [],
    });
    expect(output.resource.pod).toBeUndefined();
    expect(JSON.stringify(output.resource)).not.toContain('kube-state-metrics');
  });

  it('KubePodCrashLooping: the crashing pod’s Deployment and node (the pod label is the object’s)', async () => {
    // Prepare
    const pod = cluster.api.podsMatching('shop', { matchLabels: { app: 'checkout' } })[0]!;

    // Act
    const output = await resolveAlert({
      ...KSM,
      alertname: 'KubePodCrashLooping',
      namespace: 'shop',
      pod: pod.metadata!.name!,
      container: 'app',
      reason: 'CrashLoopBackOff',
    });

    // Assess
    expect(output.resource).toMatchObject({
      type: 'k8s-pod',
      container: 'app',
      pod: pod.metadata!.name,
      workload: { kind: 'Deployment', name: 'checkout' },
      node: pod.spec!.nodeName,
      instanceId: expect.stringMatching(/^i-0/),
    });
  });

  it('KubeHpaMaxedOut: the autoscaler’s target and its pods', async () => {
    // Act
    const output = await resolveAlert({
      ...KSM,
      alertname: 'KubeHpaMaxedOut',
      namespace: 'shop',
      horizontalpodautoscaler: 'checkout-hpa',
    });

    // Assess
    expect(output.resource).toMatchObject({
      type: 'k8s-hpa',
      name: 'checkout-hpa',
      workload: { kind: 'Deployment', name: 'checkout', namespace: 'shop' },
      pods: expect.arrayContaining([expect.stringMatching(/^checkout-/)]),
      unresolved: [],
    });
    expect(output.resource.resolution[0]).toEqual({
      from: 'HorizontalPodAutoscaler shop/checkout-hpa',
      to: 'Deployment shop/checkout',
      via: 'spec.scaleTargetRef',
    });
  });

  it('KubePersistentVolumeFillingUp (kubelet labels): the claim’s pod, StatefulSet, node and instance; its annotations as parameters', async () => {
    // Act
    const output = await resolveWith({
      ...(await resolveAlertInput({
        alertname: 'KubePersistentVolumeFillingUp',
        cluster: 'prod-eks-eu-west-1',
        endpoint: 'https-metrics',
        instance: '10.0.2.41:10250',
        job: 'kubelet',
        metrics_path: '/metrics',
        namespace: 'data',
        node: OTHER_NODE,
        persistentvolumeclaim: 'data-pg-0',
        service: 'kube-prometheus-stack-kubelet',
        severity: 'critical',
      })),
      parameters: { maxSize: { description: 'largest size', type: 'string', default: '200Gi' } },
    });

    // Assess
    expect(output.resource).toMatchObject({
      type: 'k8s-pvc',
      name: 'data-pg-0',
      namespace: 'data',
      pods: ['pg-0'],
      workload: { kind: 'StatefulSet', name: 'pg', namespace: 'data' },
      node: OTHER_NODE,
      instanceId: 'i-0b2d4f6a8c0e13579',
      unresolved: [],
    });
    expect(output.parameters).toEqual({ maxSize: '500Gi' });
    expect(output.parameterSources).toEqual({ maxSize: 'resource' });
  });

  it('KubeJobFailed: the Job (of its CronJob) and its pods; a CronJob alert: the newest Job’s pods', async () => {
    // Prepare
    const failed = [...cluster.api.jobs.values()].find((job) =>
      job.status?.conditions?.some((c) => c.type === 'Failed'),
    )!;
    const jobName = failed.metadata!.name!;

    // Act
    const job = await resolveAlert({
      ...KSM,
      alertname: 'KubeJobFailed',
      namespace: 'batch',
      job_name: jobName,
      condition: 'true',
    });
    const cron = await resolveAlert({
      ...KSM,
      alertname: 'KubeCronJobRunning',
      namespace: 'batch',
      cronjob: 'nightly-report',
    });

    // Assess
    const failedPods = cluster.api
      .podsMatching('batch', failed.spec!.selector)
      .map((pod) => pod.metadata!.name);
    expect(failedPods).toHaveLength(3);
    expect(job.resource).toMatchObject({
      type: 'k8s-job',
      workload: { kind: 'Job', name: jobName },
      pods: failedPods,
    });
    expect(job.resource.resolution[0]?.via).toBe(
      'the alert’s job_name label (a Job of CronJob nightly-report)',
    );
    expect(cron.resource).toMatchObject({
      type: 'k8s-cronjob',
      workload: { kind: 'CronJob', name: 'nightly-report', namespace: 'batch' },
      pods: failedPods,
    });
  });

  it('NodeFilesystemSpaceFillingUp (node-exporter): the instance IP → the node → its EC2 instance', async () => {
    // Act
    const output = await resolveAlert({
      alertname: 'NodeFilesystemSpaceFillingUp',
      cluster: 'prod-eks-eu-west-1',
      container: 'node-exporter',
      device: '/dev/nvme0n1p1',
      endpoint: 'http-metrics',
      fstype: 'xfs',
      instance: '10.0.1.23:9100',
      job: 'node-exporter',
      mountpoint: '/',
      namespace: 'monitoring',
      pod: 'kube-prometheus-stack-prometheus-node-exporter-7xk2p',
      service: 'kube-prometheus-stack-prometheus-node-exporter',
      severity: 'warning',
    });

    // Assess
    expect(output.resource).toMatchObject({
      type: 'host',
      address: '10.0.1.23',
      node: NODE,
      instanceId: 'i-0a1c3e5f7b9d24681',
      unresolved: [],
    });
    expect(output.resource.resolution).toEqual([
      {
        from: 'host 10.0.1.23',
        to: `Node ${NODE}`,
        via: `status.addresses of Node ${NODE} include 10.0.1.23`,
      },
      {
        from: `Node ${NODE}`,
        to: 'i-0a1c3e5f7b9d24681',
        via: 'spec.providerID aws:///eu-west-1a/i-0a1c3e5f7b9d24681',
      },
    ]);
  });

  it('KubeNodeNotReady: the node and its EC2 instance', async () => {
    // Act
    const output = await resolveAlert({
      ...KSM,
      alertname: 'KubeNodeNotReady',
      node: OTHER_NODE,
      condition: 'Ready',
      status: 'true',
    });

    // Assess
    expect(output.resource).toMatchObject({
      type: 'k8s-node',
      node: OTHER_NODE,
      instanceId: 'i-0b2d4f6a8c0e13579',
    });
  });

  it('TargetDown: the Service’s pods and their workload', async () => {
    // Act
    const output = await resolveAlert({
      alertname: 'TargetDown',
      cluster: 'prod-eks-eu-west-1',
      job: 'checkout',
      namespace: 'shop',
      service: 'checkout',
      prometheus: 'monitoring/kube-prometheus-stack-prometheus',
      severity: 'warning',
    });

    // Assess
    expect(output.resource).toMatchObject({
      type: 'k8s-service',
      job: 'checkout',
      workload: { kind: 'Deployment', name: 'checkout' },
      pods: expect.arrayContaining([expect.stringMatching(/^checkout-/)]),
    });
  });

  it('a PersistentVolume alert: its claim, and on to the pod and workload', async () => {
    // Prepare
    const volume = cluster.api.pvcs.get('data/data-pg-0')!.spec!.volumeName!;

    // Act
    const output = await resolveAlert({
      ...KSM,
      alertname: 'KubePersistentVolumeErrors',
      persistentvolume: volume,
      phase: 'Failed',
    });

    // Assess
    expect(output.resource).toMatchObject({
      type: 'k8s-pv',
      pods: ['pg-0'],
      workload: { kind: 'StatefulSet', name: 'pg' },
    });
  });

  it('calls exactly what resource.resolve declares it may (the RBAC of the read-only runner)', async () => {
    // Prepare
    const pod = cluster.api.podsMatching('shop', { matchLabels: { app: 'checkout' } })[0]!.metadata!.name!;
    const failed = [...cluster.api.jobs.values()].find((job) =>
      job.status?.conditions?.some((c) => c.type === 'Failed'),
    )!;
    cluster.api.addPdb({
      namespace: 'shop',
      name: 'checkout',
      matchLabels: { app: 'checkout' },
      maxUnavailable: 1,
    });
    cluster.api.clearRequests();

    // Act: every kind the family resolves.
    const alerts: Array<Record<string, string>> = [
      { ...KSM, alertname: 'A', namespace: 'shop', deployment: 'checkout' },
      { ...KSM, alertname: 'A', namespace: 'data', statefulset: 'pg' },
      {
        ...KSM,
        alertname: 'A',
        namespace: 'monitoring',
        daemonset: 'kube-prometheus-stack-prometheus-node-exporter',
      },
      { ...KSM, alertname: 'A', namespace: 'shop', pod, container: 'app' },
      { ...KSM, alertname: 'A', namespace: 'shop', horizontalpodautoscaler: 'checkout-hpa' },
      { ...KSM, alertname: 'A', namespace: 'shop', poddisruptionbudget: 'checkout' },
      { ...KSM, alertname: 'A', namespace: 'data', persistentvolumeclaim: 'data-pg-0' },
      { ...KSM, alertname: 'A', persistentvolume: cluster.api.pvcs.get('data/data-pg-0')!.spec!.volumeName! },
      { ...KSM, alertname: 'A', namespace: 'batch', job_name: failed.metadata!.name! },
      { ...KSM, alertname: 'A', namespace: 'batch', cronjob: 'nightly-report' },
      { alertname: 'A', job: 'checkout', namespace: 'shop', service: 'checkout' },
      { ...KSM, alertname: 'A', node: NODE },
      { alertname: 'A', job: 'node-exporter', instance: '10.0.2.41:9100' },
    ];
    for (const labels of alerts) {
      const output = await resolveAlert(labels);
      expect(output.resource.unresolved).toEqual([]);
    }

    // Assess
    const called = new Set(
      cluster.api.requests.map((request) => `${request.group} ${request.resource} ${request.verb}`),
    );
    const declared = new Set(
      resolve.declaration.permissions.kubernetes!.flatMap((rule) =>
        rule.resources.flatMap((resource) =>
          rule.verbs.map((verb) => `${rule.apiGroup} ${resource} ${verb}`),
        ),
      ),
    );
    expect([...called].sort()).toEqual([...declared].sort());
  });
});

/** The resolve tool's input for an alert: its normalized resource and labels. */
async function resolveAlertInput(labels: Record<string, string>) {
  const [alert] = normalizeAlertmanager(
    {
      version: '4',
      groupKey: '{}',
      status: 'firing',
      receiver: 'runbook-autopilot',
      externalURL: 'http://alertmanager.monitoring:9093',
      alerts: [{ status: 'firing', labels, startsAt: '2026-03-02T09:50:00Z' }],
    },
    { environmentLabels: ['environment'], defaultEnvironment: 'dev' },
  );
  return { resource: alert!.resource, labels: alert!.labels, runbook: 'pod-crash-looping' };
}

describe('resource.resolve (Kubernetes) on a flaky API server', () => {
  const podResource = () => {
    const pod = cluster.api.podsMatching('shop', { matchLabels: { app: 'checkout' } })[0]!;
    const name = pod.metadata!.name!;
    return { name, resource: { type: 'k8s-pod', id: name, kind: 'Pod', name, namespace: 'shop' } };
  };

  it('tries a throttled read again, waiting as long as Retry-After says, and resolves', async () => {
    // Prepare: the pod read is throttled twice (API priority and fairness), then answered
    const { name, resource } = podResource();
    cluster.api.failNext({
      path: `/api/v1/namespaces/shop/pods/${name}`,
      status: 429,
      headers: { 'retry-after': '1' },
      body: { kind: 'Status', code: 429, reason: 'TooManyRequests', message: 'too many requests' },
      times: 2,
    });
    const logs: Cluster['logs'] = [];

    // Act
    const output = await resolveWith({ resource, runbook: 'pod-crash-looping' }, {}, logs);

    // Assess
    expect(output.resource.unresolved).toEqual([]);
    expect(output.resource.workload).toEqual({ kind: 'Deployment', name: 'checkout', namespace: 'shop' });
    expect(cluster.api.requestsTo('GET', `/api/v1/namespaces/shop/pods/${name}`)).toHaveLength(3);
    expect(logs.map((entry) => entry.message)).toEqual([
      `resolution: get pods shop/${name} failed for a passing reason; retry 1 of 4 in 1000 ms`,
      `resolution: get pods shop/${name} failed for a passing reason; retry 2 of 4 in 1000 ms`,
    ]);
  });

  it('tries a 503 again with backoff when the server names no wait', async () => {
    // Prepare
    const { resource } = podResource();
    cluster.api.failNext({ path: '/apis/apps/v1/namespaces/shop/replicasets/', status: 503 });
    const logs: Cluster['logs'] = [];

    // Act
    const output = await resolveWith({ resource, runbook: 'pod-crash-looping' }, {}, logs);

    // Assess
    expect(output.resource.unresolved).toEqual([]);
    expect(output.resource.workload).toMatchObject({ kind: 'Deployment', name: 'checkout' });
    expect(logs.map((entry) => entry.message)).toEqual([
      expect.stringMatching(
        /^resolution: get replicasets shop\/checkout-\S+ failed for a passing reason; retry 1 of 4 in 500 ms$/,
      ),
    ]);
  });

  it('records a permanent answer (403) as unresolved at once, without retrying', async () => {
    // Prepare
    const { name, resource } = podResource();
    cluster.api.failNext({ path: `/api/v1/namespaces/shop/pods/${name}`, status: 403, times: 5 });

    // Act
    const output = await resolveWith({ resource, runbook: 'pod-crash-looping' });

    // Assess
    expect(output.resource.unresolved).toEqual([expect.stringMatching(/forbidden \(403\)/)]);
    expect(cluster.api.requestsTo('GET', `/api/v1/namespaces/shop/pods/${name}`)).toHaveLength(1);
  });

  it('gives up after its retries and says why: a server that stays throttled is unresolved', async () => {
    // Prepare
    const { name, resource } = podResource();
    cluster.api.failNext({
      path: `/api/v1/namespaces/shop/pods/${name}`,
      status: 429,
      headers: { 'retry-after': '0' },
      times: 10,
    });

    // Act
    const output = await resolveWith({ resource, runbook: 'pod-crash-looping' });

    // Assess: the first attempt and four retries
    expect(output.resource.unresolved).toEqual([expect.stringMatching(/throttled by the API server \(429/)]);
    expect(cluster.api.requestsTo('GET', `/api/v1/namespaces/shop/pods/${name}`)).toHaveLength(5);
  });
});

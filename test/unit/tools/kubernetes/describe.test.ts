import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type { DescribeOutput } from '../../../../functions/tools/kubernetes/describe.ts';
import { type Cluster, rejectionOf, startCluster } from './harness.ts';

/** k8s.describe of every kind it reads, against the fake API's documented shapes. */

let cluster: Cluster;

const describeObject = (parameters: Record<string, unknown>) =>
  cluster.run('k8s.describe', parameters) as Promise<DescribeOutput>;

beforeEach(async () => {
  cluster = await startCluster();
  const { api } = cluster;
  api.addNode({
    name: 'ip-10-0-1-23.eu-west-1.compute.internal',
    internalIP: '10.0.1.23',
    zone: 'eu-west-1b',
    instanceId: 'i-0a1c3e5f7b9d24681',
    labels: { 'node.kubernetes.io/instance-type': 'm6i.xlarge' },
  });
  api.addDeployment({
    namespace: 'shop',
    name: 'checkout',
    replicas: 4,
    containers: [
      {
        name: 'app',
        image: 'shop/checkout:1.4.2',
        requests: { cpu: '250m', memory: '256Mi' },
        limits: { cpu: '1', memory: '512Mi' },
      },
    ],
  });
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.describe', () => {
  it('describes a Deployment whose rollout is stuck: replicas, rollout, containers, conditions and problems', async () => {
    // Prepare: a release whose pods crash, rolled out 15 minutes ago (past the 10-minute deadline).
    cluster.api.setImageBehaviour('shop/checkout:1.5.0', { crashLooping: true, restarts: 5 });
    cluster.api.setImage('Deployment', 'shop', 'checkout', 'app', 'shop/checkout:1.5.0', { minutesAgo: 15 });

    // Act
    const output = await describeObject({ kind: 'Deployment', namespace: 'shop', name: 'checkout' });

    // Assess
    expect(output).toMatchObject({
      kind: 'Deployment',
      name: 'checkout',
      namespace: 'shop',
      owner: null,
      replicas: { desired: 4, ready: 3, updated: 2 },
      rollout: { strategy: 'RollingUpdate', revision: 2, paused: false, progressDeadlineSeconds: 600 },
      selector: 'app=checkout',
      containers: [
        {
          name: 'app',
          image: 'shop/checkout:1.5.0',
          requests: { cpu: '250m', memory: '256Mi' },
          limits: { cpu: '1', memory: '512Mi' },
        },
      ],
    });
    expect(output.conditions.find((condition) => condition.type === 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(output.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^condition Progressing is False \(ProgressDeadlineExceeded: ReplicaSet "checkout-\w+" has timed out progressing\.\)$/,
        ),
        '3 of 4 replicas ready',
        '2 of 4 replicas run the current revision',
      ]),
    );
    expect(output.events.map((event) => event.reason)).toContain('ScalingReplicaSet');
    expect(output.annotations).toEqual({ 'deployment.kubernetes.io/revision': '2' });
  });

  it('describes a crash-looping Pod: its containers’ states, restarts and last termination', async () => {
    // Prepare
    const pod = cluster.api.addPod({
      namespace: 'shop',
      name: 'worker-0',
      node: 'ip-10-0-1-23.eu-west-1.compute.internal',
      containers: [
        {
          name: 'worker',
          image: 'shop/worker:2.0.0',
          crashLooping: true,
          restarts: 7,
          lastTermination: { exitCode: 137, reason: 'OOMKilled' },
        },
      ],
      owner: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'worker', uid: 'u-1', controller: true },
      volumes: [{ name: 'data', claim: 'data-worker-0' }, { name: 'tmp' }],
    });
    cluster.api.addEvent({
      object: pod,
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
      count: 30,
    });

    // Act
    const output = await describeObject({ kind: 'Pod', namespace: 'shop', name: 'worker-0' });

    // Assess
    expect(output.owner).toEqual({ kind: 'StatefulSet', name: 'worker' });
    expect(output.pod).toMatchObject({
      phase: 'Running',
      node: 'ip-10-0-1-23.eu-west-1.compute.internal',
      hostIP: '10.0.1.23',
      ready: false,
      restarts: 7,
      volumes: [
        { name: 'data', type: 'persistentVolumeClaim', claim: 'data-worker-0' },
        { name: 'tmp', type: 'emptyDir', claim: null },
      ],
    });
    expect(output.pod?.containers[0]).toMatchObject({
      name: 'worker',
      state: 'waiting',
      reason: 'CrashLoopBackOff',
      restarts: 7,
      lastTerminationReason: 'OOMKilled',
      lastExitCode: 137,
    });
    expect(output.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^container worker is waiting: CrashLoopBackOff/),
        'container worker restarted 7 time(s), last ended OOMKilled (exit 137)',
      ]),
    );
    expect(output).toMatchObject({ warningEvents: 1, events: [{ reason: 'BackOff', count: 30 }] });
  });

  it('describes an evicted Pod: the kubelet’s reason and message, in its fields and its problems', async () => {
    // Prepare
    cluster.api.addPod({
      namespace: 'shop',
      name: 'checkout-7f9c6d8b5-q7wtx',
      node: 'ip-10-0-1-23.eu-west-1.compute.internal',
      containers: [{ name: 'app', image: 'shop/checkout:1.4.2' }],
      owner: {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'checkout-7f9c6d8b5',
        uid: 'u-2',
        controller: true,
      },
      evicted: { message: 'The node was low on resource: ephemeral-storage.' },
    });

    // Act
    const output = await describeObject({ kind: 'Pod', namespace: 'shop', name: 'checkout-7f9c6d8b5-q7wtx' });

    // Assess
    expect(output.pod).toMatchObject({
      phase: 'Failed',
      reason: 'Evicted',
      message: 'The node was low on resource: ephemeral-storage.',
      ready: false,
    });
    expect(output.problems[0]).toBe(
      'it is Failed: Evicted (The node was low on resource: ephemeral-storage.)',
    );
  });

  it('describes a Node without a namespace: addresses, provider, instance, taints', async () => {
    // Prepare
    cluster.api.edit(cluster.api.nodes, 'ip-10-0-1-23.eu-west-1.compute.internal', (node) => {
      node.spec!.unschedulable = true;
      node.spec!.taints = [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }];
    });

    // Act
    const output = await describeObject({ kind: 'Node', name: 'ip-10-0-1-23.eu-west-1.compute.internal' });

    // Assess
    expect(output.namespace).toBeNull();
    expect(output.node).toEqual({
      ready: true,
      unschedulable: true,
      taints: ['node.kubernetes.io/unschedulable:NoSchedule'],
      internalIP: '10.0.1.23',
      hostname: 'ip-10-0-1-23.eu-west-1.compute.internal',
      providerId: 'aws:///eu-west-1b/i-0a1c3e5f7b9d24681',
      instanceId: 'i-0a1c3e5f7b9d24681',
      instanceType: 'm6i.xlarge',
      zone: 'eu-west-1b',
      kubeletVersion: 'v1.31.2-eks-94953ac',
      capacity: { cpu: '4', memory: '16Gi', pods: '110', ephemeralStorage: '100Gi' },
      allocatable: { cpu: '3900m', memory: '15872Mi', pods: '110', ephemeralStorage: '100Gi' },
    });
    expect(output.problems).toContain('it is cordoned (unschedulable)');
  });

  it('describes storage: a claim being resized and its volume', async () => {
    // Prepare
    cluster.api.addStorageClass({ name: 'gp3', allowVolumeExpansion: true, isDefault: true });
    const claim = cluster.api.addPersistentVolumeClaim({ namespace: 'data', name: 'pg-data', size: '100Gi' });
    cluster.api.edit(cluster.api.pvcs, 'data/pg-data', (object) => {
      object.spec!.resources!.requests!.storage = '150Gi';
    });
    cluster.api.reconcile();

    // Act
    const described = await describeObject({
      kind: 'PersistentVolumeClaim',
      namespace: 'data',
      name: 'pg-data',
    });
    const volume = await describeObject({ kind: 'PersistentVolume', name: claim.spec!.volumeName! });

    // Assess: no pod mounts it, so its filesystem waits for one.
    expect(described.claim).toEqual({
      phase: 'Bound',
      storageClass: 'gp3',
      requested: '150Gi',
      capacity: '100Gi',
      accessModes: ['ReadWriteOnce'],
      volumeName: claim.spec!.volumeName,
      resizePending: true,
    });
    expect(described.problems).toEqual([expect.stringMatching(/^condition FileSystemResizePending is True/)]);
    expect(volume.volume).toMatchObject({
      phase: 'Bound',
      capacity: '150Gi',
      storageClass: 'gp3',
      claim: 'data/pg-data',
      reclaimPolicy: 'Delete',
      driver: 'ebs.csi.aws.com',
    });
  });

  it('describes an autoscaler at its maximum, a budget that allows nothing, a quota near its limit', async () => {
    // Prepare
    const { api } = cluster;
    api.addHorizontalPodAutoscaler({
      namespace: 'shop',
      name: 'checkout',
      target: { kind: 'Deployment', name: 'checkout' },
      minReplicas: 2,
      maxReplicas: 4,
      demand: 9,
      cpu: { target: 70, current: 160 },
    });
    api.reconcile();
    api.addPdb({
      namespace: 'shop',
      name: 'checkout',
      matchLabels: { app: 'checkout' },
      minAvailable: '100%',
    });
    api.addResourceQuota({ namespace: 'shop', name: 'compute', hard: { 'requests.cpu': '1', pods: '20' } });

    // Act
    const hpa = await describeObject({
      kind: 'HorizontalPodAutoscaler',
      namespace: 'shop',
      name: 'checkout',
    });
    const pdb = await describeObject({ kind: 'PodDisruptionBudget', namespace: 'shop', name: 'checkout' });
    const quota = await describeObject({ kind: 'ResourceQuota', namespace: 'shop', name: 'compute' });

    // Assess
    expect(hpa.autoscaler).toEqual({
      target: { kind: 'Deployment', name: 'checkout' },
      minReplicas: 2,
      maxReplicas: 4,
      currentReplicas: 4,
      desiredReplicas: 4,
      metrics: ['cpu: 160% / 70% utilization'],
    });
    expect(hpa.problems).toEqual([
      'condition ScalingLimited is True (TooManyReplicas: the desired replica count is more than the maximum replica count)',
      'it runs at its maximum of 4 replicas',
    ]);
    expect(pdb.budget).toEqual({
      minAvailable: '100%',
      maxUnavailable: null,
      currentHealthy: 4,
      desiredHealthy: 4,
      disruptionsAllowed: 0,
      expectedPods: 4,
    });
    expect(pdb.problems[0]).toMatch(/^it allows no disruption/);
    expect(quota.quota).toEqual([
      { resource: 'pods', hard: '20', used: '4', usedPercent: 20 },
      { resource: 'requests.cpu', hard: '1', used: '1000m', usedPercent: 100 },
    ]);
    expect(quota.problems).toEqual(['requests.cpu at 100% of its quota (1000m of 1)']);
  });

  it('describes a Service with its endpoints, ready and not', async () => {
    // Prepare
    cluster.api.addService({
      namespace: 'shop',
      name: 'checkout',
      selector: { app: 'checkout' },
      ports: [{ name: 'http', port: 80, targetPort: 8080 }],
    });
    const pod = cluster.api.podsMatching('shop', { matchLabels: { app: 'checkout' } })[0]!;
    cluster.api.edit(cluster.api.pods, `shop/${pod.metadata!.name}`, (object) => {
      object.status!.conditions = object.status!.conditions!.map((condition) =>
        condition.type === 'Ready' ? { ...condition, status: 'False' } : condition,
      );
    });

    // Act
    const output = await describeObject({ kind: 'Service', namespace: 'shop', name: 'checkout' });

    // Assess
    expect(output.service).toMatchObject({
      type: 'ClusterIP',
      ports: ['http 80/TCP → 8080'],
      selector: { app: 'checkout' },
      readyEndpoints: 3,
      notReadyEndpoints: 1,
    });
    expect(output.problems).toEqual([]);
  });

  it('describes Jobs and CronJobs, ReplicaSets, StatefulSets, DaemonSets and Namespaces', async () => {
    // Prepare
    const { api } = cluster;
    api.addCronJob({
      namespace: 'batch',
      name: 'nightly-report',
      schedule: '0 2 * * *',
      containers: [{ name: 'report', image: 'shop/report:3.1.0' }],
      jobs: [
        { outcome: 'succeeded', minutesAgo: 24 * 60 },
        { outcome: 'failed', minutesAgo: 60 },
      ],
    });
    api.addStatefulSet({ namespace: 'data', name: 'redis', replicas: 2, containers: [{ name: 'redis' }] });
    api.addDaemonSet({
      namespace: 'kube-system',
      name: 'node-exporter',
      containers: [{ name: 'node-exporter' }],
    });
    const replicaSet = [...api.replicaSets.values()][0]!;
    const failedJob = [...api.jobs.values()].find((job) =>
      job.status?.conditions?.some((c) => c.type === 'Failed'),
    )!;

    // Act
    const cron = await describeObject({ kind: 'CronJob', namespace: 'batch', name: 'nightly-report' });
    const job = await describeObject({ kind: 'Job', namespace: 'batch', name: failedJob.metadata!.name! });
    const rs = await describeObject({
      kind: 'ReplicaSet',
      namespace: 'shop',
      name: replicaSet.metadata!.name!,
    });
    const sts = await describeObject({ kind: 'StatefulSet', namespace: 'data', name: 'redis' });
    const ds = await describeObject({ kind: 'DaemonSet', namespace: 'kube-system', name: 'node-exporter' });
    const namespace = await describeObject({ kind: 'Namespace', name: 'batch' });

    // Assess
    expect(cron.cronJob).toMatchObject({
      schedule: '0 2 * * *',
      suspend: false,
      concurrencyPolicy: 'Forbid',
      activeJobs: [],
    });
    expect(job.owner).toEqual({ kind: 'CronJob', name: 'nightly-report' });
    expect(job.job).toMatchObject({ backoffLimit: 2, failed: 3, succeeded: 0, active: 0 });
    expect(job.problems).toEqual(
      expect.arrayContaining([
        'condition Failed is True (BackoffLimitExceeded: Job has reached the specified backoff limit)',
      ]),
    );
    expect(job.events.map((event) => event.reason)).toEqual(['BackoffLimitExceeded']);
    expect(rs.owner).toEqual({ kind: 'Deployment', name: 'checkout' });
    expect(rs.replicas).toMatchObject({ desired: 4, ready: 4 });
    expect(sts).toMatchObject({ replicas: { desired: 2, ready: 2 }, rollout: { strategy: 'RollingUpdate' } });
    expect(sts.rollout?.updateRevision).toMatch(/^redis-/);
    expect(ds.replicas).toMatchObject({ desired: 1, ready: 1 });
    expect(namespace).toMatchObject({
      namespacePhase: 'Active',
      labels: { 'kubernetes.io/metadata.name': 'batch' },
    });
  });

  it('shows a ConfigMap’s key names and never its values', async () => {
    // Prepare
    cluster.api.addConfigMap({
      namespace: 'shop',
      name: 'checkout-config',
      data: { 'application.yaml': 'db.password: hunter2', LOG_LEVEL: 'debug' },
    });

    // Act
    const output = await describeObject({ kind: 'ConfigMap', namespace: 'shop', name: 'checkout-config' });

    // Assess
    expect(output.configMap).toEqual({ keys: ['LOG_LEVEL', 'application.yaml'], binaryKeys: [] });
    expect(JSON.stringify(output)).not.toContain('hunter2');
    expect(JSON.stringify(output)).not.toContain('debug');
  });

  it('drops last-applied-configuration and cuts long annotations', async () => {
    // Prepare
    cluster.api.edit(cluster.api.deployments, 'shop/checkout', (deployment) => {
      deployment.metadata!.annotations = {
        ...deployment.metadata!.annotations,
        'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"apps/v1"}',
        'example.com/notes': 'x'.repeat(600),
      };
    });

    // Act
    const output = await describeObject({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'checkout',
      eventLimit: 0,
    });

    // Assess
    expect(Object.keys(output.annotations)).toEqual([
      'deployment.kubernetes.io/revision',
      'example.com/notes',
    ]);
    expect(output.annotations['example.com/notes']).toBe(`${'x'.repeat(500)}…`);
    expect(cluster.api.requestsTo('GET', '/api/v1/namespaces/shop/events')).toHaveLength(0);
  });

  it('asks for the namespace of a namespaced kind, and cannot describe a Secret', () => {
    // Assess
    const parameters = cluster.tools.get('k8s.describe')!.declaration.parameters;
    const missing = parameters.safeParse({ kind: 'Deployment', name: 'checkout' });
    expect(missing.success).toBe(false);
    expect(missing.error?.issues[0]).toMatchObject({
      path: ['namespace'],
      message: 'a Deployment is namespaced: give its namespace',
    });
    expect(parameters.safeParse({ kind: 'Secret', namespace: 'shop', name: 'db' }).success).toBe(false);
    expect(parameters.safeParse({ kind: 'Node', name: 'node-a' }).success).toBe(true);
  });

  it('is NotFound for an object that does not exist', async () => {
    // Act
    const error = await rejectionOf(describeObject({ kind: 'Deployment', namespace: 'shop', name: 'gone' }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolNotFound);
    expect(error.message).toBe(
      'k8s.describe: cannot get deployments shop/gone in context "fake": not found (404): deployments.apps "gone" not found',
    );
  });
});

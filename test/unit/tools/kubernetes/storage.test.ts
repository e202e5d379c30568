import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type {
  NodeDiskUsageOutput,
  PvcExpandOutput,
  PvcUsageOutput,
} from '../../../../functions/tools/kubernetes/storage.ts';
import { type Cluster, rejectionOf, startCluster } from './harness.ts';

/** k8s.pvc-usage, k8s.pvc-expand and k8s.node-disk-usage, with the kubelet's stats summary behind the node proxy. */

const GiB = 2 ** 30;
const NODE = 'ip-10-0-1-23.eu-west-1.compute.internal';
let cluster: Cluster;

beforeEach(async () => {
  // The controllers run after every change, as in a cluster: a patched claim gets resized.
  cluster = await startCluster({ autoReconcile: true });
  const { api } = cluster;
  api.addNode({ name: NODE });
  api.addStorageClass({ name: 'gp3', allowVolumeExpansion: true, isDefault: true });
  api.addStorageClass({ name: 'standard-fixed', allowVolumeExpansion: false });
  api.addStatefulSet({
    namespace: 'data',
    name: 'pg',
    replicas: 1,
    containers: [{ name: 'postgres', image: 'postgres:16' }],
    volumeClaimTemplates: [{ name: 'data', size: '100Gi', storageClass: 'gp3', used: '85Gi' }],
  });
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.pvc-usage', () => {
  it('reads capacity and use from the kubelet of the node that mounts the claim', async () => {
    // Act
    const output = (await cluster.run('k8s.pvc-usage', {
      namespace: 'data',
      name: 'data-pg-0',
    })) as PvcUsageOutput;

    // Assess
    expect(output).toEqual({
      namespace: 'data',
      name: 'data-pg-0',
      phase: 'Bound',
      storageClass: 'gp3',
      allowVolumeExpansion: true,
      requested: '100Gi',
      capacity: '100Gi',
      capacityBytes: 100 * GiB,
      usedBytes: 85 * GiB,
      availableBytes: 15 * GiB,
      usedPercent: 85,
      usageNote: null,
      fileSystemResizePending: false,
      resizing: false,
      volumeName: expect.stringMatching(/^pvc-/),
      pods: [{ name: 'pg-0', node: NODE, phase: 'Running', owner: { kind: 'StatefulSet', name: 'pg' } }],
    });
    const [stats] = cluster.api.requestsTo('GET', `/api/v1/nodes/${NODE}/proxy/`);
    expect(stats?.resource).toBe('nodes/proxy');
  });

  it('says why usage is unknown: the role may not use nodes/proxy, or no pod mounts the claim', async () => {
    // Prepare
    cluster.api.forbid({ verb: 'get', resource: 'nodes/proxy', group: '' });
    cluster.api.addPersistentVolumeClaim({
      namespace: 'data',
      name: 'orphan',
      size: '10Gi',
      storageClass: 'standard-fixed',
    });

    // Act
    const forbidden = (await cluster.run('k8s.pvc-usage', {
      namespace: 'data',
      name: 'data-pg-0',
    })) as PvcUsageOutput;
    const orphan = (await cluster.run('k8s.pvc-usage', {
      namespace: 'data',
      name: 'orphan',
    })) as PvcUsageOutput;

    // Assess
    expect(forbidden).toMatchObject({ capacity: '100Gi', usedBytes: null, usedPercent: null });
    expect(forbidden.usageNote).toMatch(
      /^the kubelet of node .* could not be asked: nodes\/proxy answered 403 \(nodes "[^"]+" is forbidden: User ".*" cannot get resource "nodes\/proxy"/,
    );
    expect(orphan).toMatchObject({ allowVolumeExpansion: false, pods: [], usedBytes: null });
    expect(orphan.usageNote).toBe(
      'no running pod mounts it: its usage is only known on the node that mounts it',
    );
  });
});

describe('k8s.pvc-expand', () => {
  it('grows a mounted claim by a share, cut to maxSize, and waits until the kubelet grew the filesystem', async () => {
    // Act
    const output = (await cluster.run('k8s.pvc-expand', {
      namespace: 'data',
      name: 'data-pg-0',
      size: '+50%',
      maxSize: '120Gi',
    })) as PvcExpandOutput;

    // Assess
    expect(output).toEqual({
      namespace: 'data',
      name: 'data-pg-0',
      storageClass: 'gp3',
      previousSize: '100Gi',
      requestedSize: '120Gi',
      requestedBytes: 120 * GiB,
      clampedToMaxSize: true,
      capacity: '120Gi',
      resizeState: 'done',
      fileSystemResizePending: false,
      changed: true,
      dryRun: false,
    });
    const [patch] = cluster.api.requestsTo('PATCH');
    expect(patch?.body).toEqual({ spec: { resources: { requests: { storage: '120Gi' } } } });
  });

  it('reports a pending filesystem resize when no pod mounts the claim', async () => {
    // Prepare
    cluster.api.addPersistentVolumeClaim({ namespace: 'data', name: 'backup', size: '10Gi' });

    // Act
    const output = (await cluster.run('k8s.pvc-expand', {
      namespace: 'data',
      name: 'backup',
      size: '15Gi',
      maxSize: '50Gi',
    })) as PvcExpandOutput;

    // Assess
    expect(output).toMatchObject({
      requestedSize: '15Gi',
      clampedToMaxSize: false,
      capacity: '10Gi',
      resizeState: 'file-system-resize-pending',
      fileSystemResizePending: true,
    });
  });

  it('stops waiting after waitSeconds and says the resize is still in progress', async () => {
    // Prepare
    cluster.api.autoReconcile = false;

    // Act
    const output = (await cluster.run('k8s.pvc-expand', {
      namespace: 'data',
      name: 'data-pg-0',
      size: '110Gi',
      maxSize: '200Gi',
      waitSeconds: 0,
    })) as PvcExpandOutput;

    // Assess
    expect(output).toMatchObject({ capacity: '100Gi', resizeState: 'in-progress' });
  });

  it('refuses what it may not do before sending anything: a class without expansion, above maxSize, not larger', async () => {
    // Prepare
    cluster.api.addPersistentVolumeClaim({
      namespace: 'data',
      name: 'fixed',
      size: '10Gi',
      storageClass: 'standard-fixed',
    });
    cluster.api.addPersistentVolumeClaim({
      namespace: 'data',
      name: 'static',
      size: '10Gi',
      storageClass: null,
    });

    // Act
    const errors = await Promise.all([
      rejectionOf(
        cluster.run('k8s.pvc-expand', { namespace: 'data', name: 'fixed', size: '+50%', maxSize: '100Gi' }),
      ),
      rejectionOf(
        cluster.run('k8s.pvc-expand', { namespace: 'data', name: 'static', size: '+50%', maxSize: '100Gi' }),
      ),
      rejectionOf(
        cluster.run('k8s.pvc-expand', {
          namespace: 'data',
          name: 'data-pg-0',
          size: '300Gi',
          maxSize: '200Gi',
        }),
      ),
      rejectionOf(
        cluster.run('k8s.pvc-expand', {
          namespace: 'data',
          name: 'data-pg-0',
          size: '50Gi',
          maxSize: '200Gi',
        }),
      ),
      rejectionOf(
        cluster.run('k8s.pvc-expand', {
          namespace: 'data',
          name: 'data-pg-0',
          size: '+20%',
          maxSize: '100Gi',
        }),
      ),
    ]);

    // Assess
    expect(errors.every((error) => error.name === AslErrorName.ToolRefused)).toBe(true);
    expect(
      errors.map((error) =>
        error.message.replace(/^k8s\.pvc-expand: /, '').replace(/ \(context "fake"\)$/, ''),
      ),
    ).toEqual([
      'StorageClass standard-fixed of PersistentVolumeClaim data/fixed does not allow volume expansion (allowVolumeExpansion is not true)',
      'PersistentVolumeClaim data/static has no StorageClass (a statically provisioned volume): only dynamically provisioned claims can be expanded',
      "300Gi is more than this step's maxSize of 200Gi for PersistentVolumeClaim data/data-pg-0",
      'PersistentVolumeClaim data/data-pg-0 already requests 100Gi: 50Gi would not expand it (volumes do not shrink)',
      "PersistentVolumeClaim data/data-pg-0 already requests 100Gi, at or above this step's maxSize of 100Gi",
    ]);
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(0);
  });

  it('dry run sends the patch with dryRun=All, waits for nothing and changes nothing', async () => {
    // Act
    const output = (await cluster.run(
      'k8s.pvc-expand',
      { namespace: 'data', name: 'data-pg-0', size: '+10%', maxSize: '200Gi' },
      { dryRun: true },
    )) as PvcExpandOutput;

    // Assess
    expect(output).toMatchObject({ requestedSize: '110Gi', resizeState: 'not-started', dryRun: true });
    expect(cluster.api.requestsTo('PATCH')[0]?.query.dryRun).toBe('All');
    expect(cluster.api.pvcs.get('data/data-pg-0')!.spec!.resources!.requests!.storage).toBe('100Gi');
  });

  it('accepts only a quantity or an increase as size', () => {
    // Assess
    const parameters = cluster.tools.get('k8s.pvc-expand')!.declaration.parameters;
    expect(parameters.safeParse({ namespace: 'd', name: 'c', size: 'lots', maxSize: '1Ti' }).success).toBe(
      false,
    );
    expect(parameters.safeParse({ namespace: 'd', name: 'c', size: '-10%', maxSize: '1Ti' }).success).toBe(
      false,
    );
    expect(parameters.safeParse({ namespace: 'd', name: 'c', size: '+25%', maxSize: '1Ti' }).success).toBe(
      true,
    );
  });
});

describe('k8s.node-disk-usage', () => {
  it('reads the node’s filesystems and the pods using the most ephemeral storage', async () => {
    // Prepare
    const { api } = cluster;
    api.setNodeFilesystem(NODE, { capacity: '100Gi', used: '91Gi' }, { capacity: '200Gi', used: '50Gi' });
    api.addPod({
      namespace: 'shop',
      name: 'log-spammer',
      node: NODE,
      containers: [{ name: 'app' }],
      ephemeralStorageUsed: '30Gi',
      owner: {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'log-spammer-5d4',
        uid: 'rs-1',
        controller: true,
      },
    });
    api.addPod({
      namespace: 'shop',
      name: 'quiet',
      node: NODE,
      containers: [{ name: 'app' }],
      ephemeralStorageUsed: '1Gi',
    });

    // Act
    const output = (await cluster.run('k8s.node-disk-usage', {
      node: NODE,
      limit: 2,
    })) as NodeDiskUsageOutput;

    // Assess
    expect(output.filesystem).toEqual({
      capacityBytes: 100 * GiB,
      usedBytes: 91 * GiB,
      availableBytes: 9 * GiB,
      usedPercent: 91,
      inodesUsedPercent: 8.4,
    });
    expect(output.imageFilesystem).toMatchObject({ capacityBytes: 200 * GiB, usedPercent: 25 });
    expect(output.pods).toEqual([
      {
        namespace: 'shop',
        name: 'log-spammer',
        ephemeralBytes: 30 * GiB,
        owner: { kind: 'ReplicaSet', name: 'log-spammer-5d4' },
      },
      { namespace: 'shop', name: 'quiet', ephemeralBytes: GiB, owner: null },
    ]);
    expect(output.podsEphemeralBytes).toBe(31 * GiB + 64 * 2 ** 20);
  });

  it('fails naming the node when its kubelet cannot be reached', async () => {
    // Prepare
    cluster.api.edit(cluster.api.nodes, NODE, (node) => {
      node.status!.conditions = node.status!.conditions!.map((condition) =>
        condition.type === 'Ready' ? { ...condition, status: 'Unknown' } : condition,
      );
    });

    // Act
    const error = await rejectionOf(cluster.run('k8s.node-disk-usage', { node: NODE }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(
      /cannot read the kubelet stats of node .*: nodes\/proxy answered 503 \(error trying to reach service: dial tcp 10\.0\.\d+\.\d+:10250: i\/o timeout\)/,
    );
  });
});

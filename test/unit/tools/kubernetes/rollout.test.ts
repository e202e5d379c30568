import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type {
  RolloutHistoryOutput,
  RolloutUndoOutput,
} from '../../../../functions/tools/kubernetes/rollout.ts';
import { type Cluster, rejectionOf, startCluster } from './harness.ts';

/** k8s.rollout-undo as kubectl rollout undo: ReplicaSets for Deployments, ControllerRevisions for the rest. */

let cluster: Cluster;

const CHANGE_CAUSE = 'kubernetes.io/change-cause';

function imagesOf(namespace: string, app: string): string[] {
  return cluster.api
    .podsMatching(namespace, { matchLabels: { app } })
    .map((pod) => pod.spec!.containers[0]!.image!)
    .sort();
}

beforeEach(async () => {
  cluster = await startCluster();
  const { api } = cluster;
  api.addNode({ name: 'node-a' });
  api.addNode({ name: 'node-b' });
  api.addDeployment({
    namespace: 'shop',
    name: 'checkout',
    replicas: 4,
    annotations: { [CHANGE_CAUSE]: 'release 1.4.2' },
    containers: [{ name: 'app', image: 'shop/checkout:1.4.2' }],
  });
  // Release 1.5.0 crashes: its rollout stalls with three old pods and two new ones.
  api.setImageBehaviour('shop/checkout:1.5.0', { crashLooping: true, restarts: 6 });
  api.edit(api.deployments, 'shop/checkout', (deployment) => {
    deployment.metadata!.annotations![CHANGE_CAUSE] = 'release 1.5.0';
  });
  api.setImage('Deployment', 'shop', 'checkout', 'app', 'shop/checkout:1.5.0', { minutesAgo: 15 });
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.rollout-undo (Deployment)', () => {
  it('rolls back to the previous revision’s template and annotations; the controller renumbers it', async () => {
    // Act
    const output = (await cluster.run('k8s.rollout-undo', {
      namespace: 'shop',
      name: 'checkout',
    })) as RolloutUndoOutput;
    cluster.api.reconcile();

    // Assess
    expect(output).toEqual({
      kind: 'Deployment',
      name: 'checkout',
      namespace: 'shop',
      fromRevision: 2,
      toRevision: 1,
      imagesBefore: [{ container: 'app', image: 'shop/checkout:1.5.0' }],
      imagesAfter: [{ container: 'app', image: 'shop/checkout:1.4.2' }],
      alreadyAtTarget: false,
      changed: true,
      dryRun: false,
    });
    const [patch] = cluster.api.requestsTo('PATCH', '/apis/apps/v1/namespaces/shop/deployments/checkout');
    expect(patch?.contentType).toBe('application/json-patch+json');
    const operations = patch?.body as Array<{ op: string; path: string; value: Record<string, unknown> }>;
    expect(operations.map(({ op, path }) => `${op} ${path}`)).toEqual([
      'replace /spec/template',
      'add /metadata/annotations',
    ]);
    expect(operations[0]!.value).toMatchObject({ metadata: { labels: { app: 'checkout' } } });
    expect(JSON.stringify(operations[0]!.value)).not.toContain('pod-template-hash');
    expect(operations[1]!.value).toEqual({
      [CHANGE_CAUSE]: 'release 1.4.2',
      'deployment.kubernetes.io/revision': '2',
    });
    const deployment = cluster.api.deployments.get('shop/checkout')!;
    expect(deployment.metadata!.annotations).toMatchObject({
      'deployment.kubernetes.io/revision': '3',
      [CHANGE_CAUSE]: 'release 1.4.2',
    });
    const reused = [...cluster.api.replicaSets.values()].find((replicaSet) =>
      replicaSet.spec!.template!.spec!.containers[0]!.image!.endsWith('1.4.2'),
    )!;
    expect(reused.metadata!.annotations).toMatchObject({
      'deployment.kubernetes.io/revision': '3',
      'deployment.kubernetes.io/revision-history': '1',
    });
    expect(imagesOf('shop', 'checkout')).toEqual(Array(4).fill('shop/checkout:1.4.2'));
    expect(deployment.status).toMatchObject({ readyReplicas: 4, updatedReplicas: 4 });
  });

  it('its compensation rolls forward to the revision that was current', async () => {
    // Prepare
    const parameters = { namespace: 'shop', kind: 'Deployment', name: 'checkout' };
    const output = await cluster.run('k8s.rollout-undo', parameters);
    cluster.api.reconcile();

    // Act
    const undone = (await cluster.compensate('k8s.rollout-undo', parameters, output)) as RolloutUndoOutput;
    cluster.api.reconcile();

    // Assess
    expect(undone).toMatchObject({
      fromRevision: 3,
      toRevision: 2,
      imagesAfter: [{ image: 'shop/checkout:1.5.0' }],
    });
    expect(cluster.api.deployments.get('shop/checkout')!.metadata!.annotations).toMatchObject({
      'deployment.kubernetes.io/revision': '4',
      [CHANGE_CAUSE]: 'release 1.5.0',
    });
  });

  it('rolls back to a named revision, and says which exist when it is not one of them', async () => {
    // Act
    const error = await rejectionOf(
      cluster.run('k8s.rollout-undo', { namespace: 'shop', name: 'checkout', toRevision: 7 }),
    );
    const output = (await cluster.run('k8s.rollout-undo', {
      namespace: 'shop',
      name: 'checkout',
      toRevision: 1,
    })) as RolloutUndoOutput;

    // Assess
    expect(error.name).toBe(AslErrorName.ToolNotFound);
    expect(error.message).toBe(
      'k8s.rollout-undo: Deployment shop/checkout has no revision 7 in its history (revisions: 1, 2) (context "fake")',
    );
    expect(output).toMatchObject({ toRevision: 1, changed: true });
  });

  it('changes nothing when the template already is the target revision’s', async () => {
    // Act
    const output = (await cluster.run('k8s.rollout-undo', {
      namespace: 'shop',
      name: 'checkout',
      toRevision: 2,
    })) as RolloutUndoOutput;

    // Assess
    expect(output).toMatchObject({ fromRevision: 2, toRevision: 2, alreadyAtTarget: true, changed: false });
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(0);
  });

  it('dry run sends the patch with dryRun=All and changes nothing', async () => {
    // Act
    const output = (await cluster.run(
      'k8s.rollout-undo',
      { namespace: 'shop', name: 'checkout' },
      { dryRun: true },
    )) as RolloutUndoOutput;

    // Assess
    expect(output).toMatchObject({
      toRevision: 1,
      imagesAfter: [{ image: 'shop/checkout:1.4.2' }],
      dryRun: true,
    });
    expect(cluster.api.requestsTo('PATCH')[0]?.query.dryRun).toBe('All');
    expect(cluster.api.deployments.get('shop/checkout')!.spec!.template.spec!.containers[0]!.image).toBe(
      'shop/checkout:1.5.0',
    );
  });

  it('refuses a paused Deployment and one without history', async () => {
    // Prepare
    cluster.api.edit(cluster.api.deployments, 'shop/checkout', (deployment) => {
      deployment.spec!.paused = true;
    });
    cluster.api.addDeployment({
      namespace: 'shop',
      name: 'fresh',
      replicas: 1,
      containers: [{ name: 'app' }],
    });

    // Act
    const paused = await rejectionOf(
      cluster.run('k8s.rollout-undo', { namespace: 'shop', name: 'checkout' }),
    );
    const fresh = await rejectionOf(cluster.run('k8s.rollout-undo', { namespace: 'shop', name: 'fresh' }));

    // Assess
    expect(paused.name).toBe(AslErrorName.ToolRefused);
    expect(paused.message).toMatch(/is paused: a paused Deployment rolls out nothing/);
    expect(fresh.name).toBe(AslErrorName.ToolRefused);
    expect(fresh.message).toMatch(/has no previous revision to roll back to \(revisions: 1\)/);
  });
});

describe('k8s.rollout-undo (StatefulSet and DaemonSet, through ControllerRevisions)', () => {
  it.each([
    ['StatefulSet', 'data', 'redis'],
    ['DaemonSet', 'kube-system', 'node-exporter'],
  ] as const)(
    'rolls a %s back to the template of its previous ControllerRevision',
    async (kind, namespace, name) => {
      // Prepare
      const { api } = cluster;
      if (kind === 'StatefulSet')
        api.addStatefulSet({ namespace, name, replicas: 2, containers: [{ name, image: `${name}:7.0` }] });
      else api.addDaemonSet({ namespace, name, containers: [{ name, image: `${name}:7.0` }] });
      api.setImage(kind, namespace, name, name, `${name}:7.2`);
      expect(imagesOf(namespace, name).every((image) => image === `${name}:7.2`)).toBe(true);

      // Act
      const output = (await cluster.run('k8s.rollout-undo', { namespace, kind, name })) as RolloutUndoOutput;
      api.reconcile();

      // Assess
      expect(output).toMatchObject({
        kind,
        fromRevision: 2,
        toRevision: 1,
        imagesBefore: [{ image: `${name}:7.2` }],
        imagesAfter: [{ image: `${name}:7.0` }],
        changed: true,
      });
      expect(imagesOf(namespace, name).every((image) => image === `${name}:7.0`)).toBe(true);
      const revisions = [...api.controllerRevisions.values()]
        .filter((revision) => revision.metadata!.namespace === namespace)
        .map((revision) => [
          revision.revision,
          (revision.data as { spec: { template: { spec: { containers: Array<{ image: string }> } } } }).spec
            .template.spec.containers[0]!.image,
        ])
        .sort((a, b) => Number(a[0]) - Number(b[0]));
      expect(revisions).toEqual([
        [2, `${name}:7.2`],
        [3, `${name}:7.0`],
      ]);
    },
  );
});

describe('k8s.rollout-history', () => {
  it('lists the revisions newest first and says what the last rollout changed', async () => {
    // Act
    const output = (await cluster.run('k8s.rollout-history', {
      namespace: 'shop',
      name: 'checkout',
    })) as RolloutHistoryOutput;

    // Assess
    expect(output).toEqual({
      kind: 'Deployment',
      name: 'checkout',
      namespace: 'shop',
      revisions: [
        {
          revision: 2,
          current: true,
          createdAt: '2026-03-02T09:45:00.000Z',
          images: [{ container: 'app', image: 'shop/checkout:1.5.0' }],
          changeCause: 'release 1.5.0',
        },
        {
          revision: 1,
          current: false,
          createdAt: '2026-02-27T10:00:00.000Z',
          images: [{ container: 'app', image: 'shop/checkout:1.4.2' }],
          changeCause: 'release 1.4.2',
        },
      ],
      currentRevision: 2,
      previousRevision: 1,
      lastRolloutMinutesAgo: 15,
      imagesChanged: true,
      changedImages: [{ container: 'app', from: 'shop/checkout:1.4.2', to: 'shop/checkout:1.5.0' }],
    });
  });

  it('follows a rollback: the reused revision is current again, and nothing but the image changed back', async () => {
    // Prepare
    await cluster.run('k8s.rollout-undo', { namespace: 'shop', name: 'checkout' });
    cluster.api.reconcile();

    // Act
    const output = (await cluster.run('k8s.rollout-history', {
      namespace: 'shop',
      name: 'checkout',
      limit: 1,
    })) as RolloutHistoryOutput;

    // Assess
    expect(output).toMatchObject({
      currentRevision: 3,
      previousRevision: 2,
      revisions: [{ revision: 3, current: true, images: [{ image: 'shop/checkout:1.4.2' }] }],
      changedImages: [{ container: 'app', from: 'shop/checkout:1.5.0', to: 'shop/checkout:1.4.2' }],
    });
  });
});

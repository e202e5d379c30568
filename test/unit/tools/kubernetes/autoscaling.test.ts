import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type {
  HpaMaxReplicasOutput,
  HpaStatusOutput,
} from '../../../../functions/tools/kubernetes/autoscaling.ts';
import { type Cluster, rejectionOf, startCluster } from './harness.ts';

/** k8s.hpa-status, k8s.hpa-set-max-replicas and its inverse against autoscaling/v2. */

let cluster: Cluster;

beforeEach(async () => {
  cluster = await startCluster();
  const { api } = cluster;
  api.addNode({ name: 'node-a' });
  api.addDeployment({
    namespace: 'shop',
    name: 'checkout',
    replicas: 4,
    containers: [{ name: 'app', requests: { cpu: '500m' } }],
  });
  // The load asks for 9 replicas; the autoscaler may give 6.
  api.addHorizontalPodAutoscaler({
    namespace: 'shop',
    name: 'checkout',
    target: { kind: 'Deployment', name: 'checkout' },
    minReplicas: 2,
    maxReplicas: 6,
    demand: 9,
    cpu: { target: 70, current: 105 },
    memory: { targetAverageValue: '400Mi', currentAverageValue: '300Mi' },
  });
  api.reconcile();
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.hpa-status', () => {
  it('reads a maxed-out autoscaler: replicas, metrics against targets, ScalingLimited', async () => {
    // Act
    const output = (await cluster.run('k8s.hpa-status', {
      namespace: 'shop',
      name: 'checkout',
    })) as HpaStatusOutput;

    // Assess
    expect(output).toMatchObject({
      target: { kind: 'Deployment', name: 'checkout' },
      minReplicas: 2,
      maxReplicas: 6,
      currentReplicas: 6,
      desiredReplicas: 6,
      atMaxReplicas: true,
      ableToScale: true,
      scalingActive: true,
      scalingLimited: true,
      scalingLimitedReason: 'TooManyReplicas',
      lastScaleTime: '2026-03-02T10:00:00.000Z',
    });
    expect(output.metrics).toEqual([
      {
        type: 'Resource',
        name: 'cpu',
        targetType: 'Utilization',
        target: '70%',
        current: '105%',
        ratio: 1.5,
      },
      {
        type: 'Resource',
        name: 'memory',
        targetType: 'AverageValue',
        target: '400Mi',
        current: '300Mi',
        ratio: 0.75,
      },
    ]);
    expect(output.conditions.map((condition) => `${condition.type}=${condition.status}`)).toEqual([
      'AbleToScale=True',
      'ScalingActive=True',
      'ScalingLimited=True',
    ]);
  });
});

describe('k8s.hpa-set-max-replicas', () => {
  it('raises the maximum within the ceiling; the autoscaler then scales up; the compensation restores it', async () => {
    // Act
    const parameters = { namespace: 'shop', name: 'checkout', maxReplicas: 10, ceiling: 12 };
    const output = (await cluster.run('k8s.hpa-set-max-replicas', parameters)) as HpaMaxReplicasOutput;
    cluster.api.reconcile();

    // Assess
    expect(output).toEqual({
      namespace: 'shop',
      name: 'checkout',
      previousMaxReplicas: 6,
      maxReplicas: 10,
      minReplicas: 2,
      currentReplicas: 6,
      changed: true,
      dryRun: false,
    });
    const [patch] = cluster.api.requestsTo('PATCH');
    expect(patch?.path).toBe('/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/checkout');
    expect(patch?.body).toEqual({ spec: { maxReplicas: 10 } });
    expect(cluster.api.deployments.get('shop/checkout')!.spec!.replicas).toBe(9);

    // Act: undo
    const restored = (await cluster.compensate(
      'k8s.hpa-set-max-replicas',
      parameters,
      output,
    )) as HpaMaxReplicasOutput;

    // Assess
    expect(restored).toMatchObject({ previousMaxReplicas: 10, maxReplicas: 6, changed: true });
    expect(cluster.api.hpas.get('shop/checkout')!.spec!.maxReplicas).toBe(6);
  });

  it('refuses a maximum above the ceiling or below the current one, before any change', async () => {
    // Act
    const above = await rejectionOf(
      cluster.run('k8s.hpa-set-max-replicas', {
        namespace: 'shop',
        name: 'checkout',
        maxReplicas: 20,
        ceiling: 12,
      }),
    );
    const below = await rejectionOf(
      cluster.run('k8s.hpa-set-max-replicas', {
        namespace: 'shop',
        name: 'checkout',
        maxReplicas: 4,
        ceiling: 12,
      }),
    );

    // Assess
    expect(above.name).toBe(AslErrorName.ToolRefused);
    expect(above.message).toBe(
      `k8s.hpa-set-max-replicas: maxReplicas 20 is above this step's ceiling of 12 for HorizontalPodAutoscaler shop/checkout (context "fake")`,
    );
    expect(below.name).toBe(AslErrorName.ToolRefused);
    expect(below.message).toMatch(
      /already allows 6 replicas: this step raises the maximum and will not lower it to 4/,
    );
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(0);
  });

  it('changes nothing when the maximum already is the value; dry run asks with dryRun=All', async () => {
    // Act
    const same = (await cluster.run('k8s.hpa-set-max-replicas', {
      namespace: 'shop',
      name: 'checkout',
      maxReplicas: 6,
      ceiling: 12,
    })) as HpaMaxReplicasOutput;
    const dry = (await cluster.run(
      'k8s.hpa-set-max-replicas',
      { namespace: 'shop', name: 'checkout', maxReplicas: 8, ceiling: 12 },
      { dryRun: true },
    )) as HpaMaxReplicasOutput;

    // Assess
    expect(same.changed).toBe(false);
    expect(dry).toMatchObject({ previousMaxReplicas: 6, maxReplicas: 8, changed: true, dryRun: true });
    expect(cluster.api.requestsTo('PATCH')[0]?.query.dryRun).toBe('All');
    expect(cluster.api.hpas.get('shop/checkout')!.spec!.maxReplicas).toBe(6);
  });
});

describe('k8s.hpa-restore-max-replicas', () => {
  it('leaves a maximum someone changed since alone (Refused), and restores nothing that is already so', async () => {
    // Prepare: the runbook set 10, then a person set 15.
    cluster.api.edit(cluster.api.hpas, 'shop/checkout', (hpa) => {
      hpa.spec!.maxReplicas = 15;
    });

    // Act
    const changed = await rejectionOf(
      cluster.run('k8s.hpa-restore-max-replicas', {
        namespace: 'shop',
        name: 'checkout',
        maxReplicas: 6,
        expectedMaxReplicas: 10,
      }),
    );
    const already = (await cluster.run('k8s.hpa-restore-max-replicas', {
      namespace: 'shop',
      name: 'checkout',
      maxReplicas: 15,
      expectedMaxReplicas: 10,
    })) as HpaMaxReplicasOutput;

    // Assess
    expect(changed.name).toBe(AslErrorName.ToolRefused);
    expect(changed.message).toMatch(
      /allows 15 replicas, not the 10 this runbook set: someone changed it since/,
    );
    expect(already.changed).toBe(false);
  });

  it('refuses a maximum below minReplicas (the API server would answer 422)', async () => {
    // Act
    const error = await rejectionOf(
      cluster.run('k8s.hpa-restore-max-replicas', { namespace: 'shop', name: 'checkout', maxReplicas: 1 }),
    );

    // Assess
    expect(error.name).toBe(AslErrorName.ToolRefused);
    expect(error.message).toMatch(/has minReplicas 2: its maximum cannot be 1/);
  });
});

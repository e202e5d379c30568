import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type { PatchResourcesOutput } from '../../../../functions/tools/kubernetes/resources.ts';
import { type Cluster, rejectionOf, startCluster } from './harness.ts';

/** k8s.patch-resources (CPUThrottlingHigh, OOMKilled) and its inverse k8s.restore-resources. */

let cluster: Cluster;

function container(name = 'app') {
  return cluster.api.deployments
    .get('shop/checkout')!
    .spec!.template.spec!.containers.find((candidate) => candidate.name === name)!;
}

beforeEach(async () => {
  cluster = await startCluster();
  const { api } = cluster;
  api.addNode({ name: 'node-a' });
  api.addDeployment({
    namespace: 'shop',
    name: 'checkout',
    replicas: 2,
    containers: [
      { name: 'app', requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      { name: 'envoy', requests: { cpu: '50m' } },
    ],
  });
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.patch-resources', () => {
  it('raises a CPU limit by a share with a JSON patch that tests the container first; the compensation restores it', async () => {
    // Act
    const parameters = {
      namespace: 'shop',
      name: 'checkout',
      container: 'app',
      resource: 'cpu',
      value: '+50%',
      ceiling: '4',
    };
    const output = (await cluster.run('k8s.patch-resources', parameters)) as PatchResourcesOutput;

    // Assess
    expect(output).toEqual({
      kind: 'Deployment',
      name: 'checkout',
      namespace: 'shop',
      container: 'app',
      resource: 'cpu',
      previousLimit: '1',
      previousRequest: '250m',
      limit: '1500m',
      request: '250m',
      clampedToCeiling: false,
      changed: true,
      dryRun: false,
    });
    const [patch] = cluster.api.requestsTo('PATCH');
    expect(patch?.contentType).toBe('application/json-patch+json');
    expect(patch?.body).toEqual([
      { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'app' },
      { op: 'add', path: '/spec/template/spec/containers/0/resources/limits/cpu', value: '1500m' },
    ]);
    expect(container().resources!.limits!.cpu).toBe('1500m');

    // Act: undo
    const restored = (await cluster.compensate(
      'k8s.patch-resources',
      { ...parameters, kind: 'Deployment' },
      output,
    )) as PatchResourcesOutput;

    // Assess
    expect(restored).toMatchObject({ previousLimit: '1500m', limit: '1', request: '250m', changed: true });
    expect(container().resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
  });

  it('raises memory request and limit together; cuts an increase to the ceiling', async () => {
    // Act
    const both = (await cluster.run('k8s.patch-resources', {
      namespace: 'shop',
      name: 'checkout',
      container: 'app',
      resource: 'memory',
      field: 'both',
      value: '+100%',
      ceiling: '768Mi',
    })) as PatchResourcesOutput;

    // Assess
    expect(both).toMatchObject({
      previousRequest: '256Mi',
      request: '512Mi',
      previousLimit: '512Mi',
      limit: '768Mi',
      clampedToCeiling: true,
    });
  });

  it('uses the only container when none is named, and asks for one when there are several', async () => {
    // Prepare
    cluster.api.addDeployment({
      namespace: 'shop',
      name: 'solo',
      replicas: 1,
      containers: [{ name: 'solo', limits: { cpu: '500m' } }],
    });

    // Act
    const solo = (await cluster.run('k8s.patch-resources', {
      namespace: 'shop',
      name: 'solo',
      resource: 'cpu',
      value: '750m',
      ceiling: '2',
    })) as PatchResourcesOutput;
    const ambiguous = await rejectionOf(
      cluster.run('k8s.patch-resources', {
        namespace: 'shop',
        name: 'checkout',
        resource: 'cpu',
        value: '+10%',
        ceiling: '2',
      }),
    );
    const unknown = await rejectionOf(
      cluster.run('k8s.patch-resources', {
        namespace: 'shop',
        name: 'checkout',
        container: 'sidecar',
        resource: 'cpu',
        value: '+10%',
        ceiling: '2',
      }),
    );

    // Assess
    expect(solo).toMatchObject({ container: 'solo', previousLimit: '500m', limit: '750m' });
    expect(ambiguous.message).toMatch(
      /Deployment shop\/checkout has containers app, envoy: name one with "container"/,
    );
    expect(unknown.name).toBe(AslErrorName.ToolNotFound);
  });

  it('refuses what it may not do, before sending anything', async () => {
    // Act
    const run = (parameters: Record<string, unknown>) =>
      rejectionOf(
        cluster.run('k8s.patch-resources', {
          namespace: 'shop',
          name: 'checkout',
          container: 'app',
          resource: 'cpu',
          ceiling: '4',
          ...parameters,
        }),
      );
    const errors = await Promise.all([
      run({ value: '8' }),
      run({ value: '3' }),
      run({ value: '500m' }),
      run({ value: '+10%', container: 'envoy' }),
      run({ value: '+10%', ceiling: '500m' }),
    ]);

    // Assess
    expect(errors.every((error) => error.name === AslErrorName.ToolRefused)).toBe(true);
    expect(
      errors.map((error) =>
        error.message.replace(/^k8s\.patch-resources: /, '').replace(/ \(context "fake"\)$/, ''),
      ),
    ).toEqual([
      '8 would make the cpu limit of container app of Deployment shop/checkout 8, more than 2× its 1',
      '3 would make the cpu limit of container app of Deployment shop/checkout 3, more than 2× its 1',
      '500m would lower the cpu limit of container app of Deployment shop/checkout from 1: this step only raises it',
      'container envoy of Deployment shop/checkout has no cpu limit to raise by +10%',
      "the cpu limit of container app of Deployment shop/checkout is 1, already above this step's ceiling of 500m",
    ]);
    expect(cluster.api.requestsTo('PATCH')).toHaveLength(0);
  });

  it('passes on the API server’s refusals: a request above its limit, a template reordered meanwhile', async () => {
    // Act: a request above the limit is invalid (422).
    const invalid = await rejectionOf(
      cluster.run('k8s.patch-resources', {
        namespace: 'shop',
        name: 'checkout',
        container: 'app',
        resource: 'cpu',
        field: 'requests',
        value: '+400%',
        maxFactor: 5,
        ceiling: '4',
      }),
    );
    // Act: the containers are reordered between the read and the patch; the test operation fails.
    cluster.api.onRequest = (request) => {
      if (request.method !== 'PATCH') return;
      cluster.api.edit(cluster.api.deployments, 'shop/checkout', (deployment) => {
        deployment.spec!.template.spec!.containers.reverse();
      });
    };
    const reordered = await rejectionOf(
      cluster.run('k8s.patch-resources', {
        namespace: 'shop',
        name: 'checkout',
        container: 'app',
        resource: 'cpu',
        value: '+50%',
        ceiling: '4',
      }),
    );

    // Assess
    expect(invalid.name).toBe(AslErrorName.ToolRefused);
    expect(invalid.message).toMatch(/Invalid value: "1250m": must be less than or equal to cpu limit of 1/);
    expect(reordered.name).toBe(AslErrorName.ToolRefused);
    expect(reordered.message).toMatch(/testing value \/spec\/template\/spec\/containers\/0\/name failed/);
    expect(container('envoy').resources!.limits).toBeUndefined();
  });

  it('dry run sends the patch with dryRun=All and changes nothing', async () => {
    // Act
    const output = (await cluster.run(
      'k8s.patch-resources',
      {
        namespace: 'shop',
        name: 'checkout',
        container: 'app',
        resource: 'memory',
        value: '768Mi',
        ceiling: '1Gi',
      },
      { dryRun: true },
    )) as PatchResourcesOutput;

    // Assess
    expect(output).toMatchObject({ limit: '768Mi', dryRun: true, changed: true });
    expect(cluster.api.requestsTo('PATCH')[0]?.query.dryRun).toBe('All');
    expect(container().resources!.limits!.memory).toBe('512Mi');
  });
});

describe('k8s.restore-resources', () => {
  it('removes a value that was not set before, and adds the maps it needs', async () => {
    // Act
    const output = (await cluster.run('k8s.restore-resources', {
      namespace: 'shop',
      name: 'checkout',
      container: 'envoy',
      resource: 'cpu',
      limit: '200m',
      request: null,
    })) as PatchResourcesOutput;

    // Assess
    expect(output).toMatchObject({
      previousLimit: null,
      previousRequest: '50m',
      limit: '200m',
      request: null,
      changed: true,
    });
    expect(container('envoy').resources).toEqual({ requests: {}, limits: { cpu: '200m' } });
  });

  it('leaves values someone changed since the runbook set them alone (Refused)', async () => {
    // Prepare: the runbook raised the limit to 1500m; then a person set 2.
    const parameters = {
      namespace: 'shop',
      name: 'checkout',
      container: 'app',
      resource: 'cpu',
      value: '+50%',
      ceiling: '4',
    };
    const output = await cluster.run('k8s.patch-resources', parameters);
    cluster.api.edit(cluster.api.deployments, 'shop/checkout', (deployment) => {
      deployment.spec!.template.spec!.containers[0]!.resources!.limits!.cpu = '2';
    });

    // Act
    const error = await rejectionOf(
      cluster.compensate('k8s.patch-resources', { ...parameters, kind: 'Deployment' }, output),
    );

    // Assess
    expect(error.name).toBe(AslErrorName.ToolRefused);
    expect(error.message).toMatch(/changed since: its cpu limit is 2, not 1500m; it is left alone/);
    expect(container().resources!.limits!.cpu).toBe('2');
  });
});

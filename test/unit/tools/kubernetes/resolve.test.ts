import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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

function resolveWith(parameters: Record<string, unknown>, environment: Record<string, unknown> = {}) {
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
  return resolve.run(parsed, toolContext()) as Promise<ResolveOutput>;
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

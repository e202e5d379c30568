import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import { TOOL_DECLARATIONS } from '../../../../functions/tools/declarations.ts';
import { kubernetesClients } from '../../../../functions/tools/kubernetes/client.ts';
import { kubernetesTools, type NodeResourcesOutput } from '../../../../functions/tools/kubernetes/index.ts';
import { FakeKubeApi } from '../../../../local/demo/fake-kube-api.ts';
import { NOW, rejectionOf, runtimeOf, toolContext } from './harness.ts';

let prod: FakeKubeApi;
let staging: FakeKubeApi;

beforeAll(async () => {
  prod = await FakeKubeApi.start({ now: () => NOW });
  staging = await FakeKubeApi.start({ now: () => NOW });
  prod.addNode({ name: 'ip-10-1-0-1', capacity: { cpu: '16' } });
  staging.addNode({ name: 'ip-10-2-0-1', capacity: { cpu: '2' } });
});

afterAll(async () => {
  await prod.stop();
  await staging.stop();
});

const factory = () =>
  FakeKubeApi.kubeConfigOf([
    { api: staging, context: 'arn:aws:eks:eu-west-1:111122223333:cluster/staging' },
    { api: prod, context: 'arn:aws:eks:eu-west-1:111122223333:cluster/prod' },
  ]);

const contexts = {
  'prod-eu': 'arn:aws:eks:eu-west-1:111122223333:cluster/prod',
  'staging-eu': 'arn:aws:eks:eu-west-1:111122223333:cluster/staging',
};

function nodeResources(environment: string) {
  const clients = kubernetesClients({ contexts, kubeConfigFactory: factory });
  const tools = kubernetesTools({ clients, runtime: runtimeOf(contexts, environment) });
  const tool = tools.find((implementation) => implementation.declaration.name === 'k8s.node-resources')!;
  return (parameters: Record<string, unknown>) =>
    tool.run(tool.declaration.parameters.parse(parameters) as Record<string, unknown>, toolContext());
}

describe('kubernetesClients', () => {
  it('maps a cluster name to its kubeconfig context, and accepts a context name as is', async () => {
    const clients = kubernetesClients({ contexts, kubeConfigFactory: factory });

    await expect(clients.forCluster('prod-eu')).resolves.toMatchObject({
      context: contexts['prod-eu'],
      server: prod.url,
    });
    await expect(clients.forCluster(contexts['staging-eu'])).resolves.toMatchObject({ server: staging.url });
    await expect(clients.forCluster()).resolves.toMatchObject({
      context: contexts['staging-eu'],
      server: staging.url,
    });
  });

  it('builds the clients of a context once', async () => {
    let built = 0;
    const clients = kubernetesClients({
      contexts,
      kubeConfigFactory: () => {
        built += 1;
        return factory();
      },
    });

    const first = await clients.forCluster('prod-eu');
    const again = await clients.forCluster('prod-eu');
    await clients.forCluster(contexts['prod-eu']);

    expect(again).toBe(first);
    // One to resolve names, one for the prod context.
    expect(built).toBe(2);
  });

  it('names the configured clusters and the kubeconfig’s contexts when a cluster is unknown', async () => {
    const clients = kubernetesClients({ contexts, kubeConfigFactory: factory });

    await expect(clients.forCluster('dev-eu')).rejects.toThrow(
      'cluster "dev-eu" is neither in tools.kubernetes.contexts (prod-eu, staging-eu) nor a context of the default kubeconfig (contexts: arn:aws:eks:eu-west-1:111122223333:cluster/staging, arn:aws:eks:eu-west-1:111122223333:cluster/prod)',
    );
  });

  it('says which mapping is wrong when a mapped context is missing from the kubeconfig', async () => {
    const clients = kubernetesClients({
      kubeconfig: '/etc/runbook/kubeconfig',
      contexts: { 'prod-eu': 'prod-admin' },
      kubeConfigFactory: factory,
    });

    await expect(clients.forCluster('prod-eu')).rejects.toThrow(
      'tools.kubernetes.contexts maps cluster "prod-eu" to context "prod-admin", which kubeconfig /etc/runbook/kubeconfig does not have',
    );
  });

  it('says no kubeconfig was found, instead of trying http://localhost:8080, when there is none', async () => {
    // Prepare: no KUBECONFIG, a home without ~/.kube, not in a pod
    const saved = { ...process.env };
    const home = mkdtempSync(join(tmpdir(), 'no-kube-'));
    try {
      delete process.env.KUBECONFIG;
      delete process.env.KUBERNETES_SERVICE_HOST;
      process.env.HOME = home;
      const clients = kubernetesClients({ contexts: {} });

      // Act, Assess
      await expect(clients.forCluster()).rejects.toThrow(
        'cannot load the default kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster): none found: KUBECONFIG is not set, ~/.kube/config does not exist and this is not running in a pod',
      );
    } finally {
      process.env = saved;
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('refuses a kubeconfig without a current context when no cluster is named', async () => {
    const clients = kubernetesClients({ contexts: {}, kubeConfigFactory: () => new KubeConfig() });

    await expect(clients.forCluster()).rejects.toThrow(/has no current context/);
  });
});

describe('the cluster a tool acts on', () => {
  it('is the one the step names', async () => {
    const output = (await nodeResources('dev')({
      node: 'ip-10-1-0-1',
      cluster: 'prod-eu',
    })) as NodeResourcesOutput;

    expect(output.capacity.cpuCores).toBe(16);
  });

  it('defaults to the environment’s cluster when the contexts map it', async () => {
    prod.clearRequests();

    const output = (await nodeResources('prod-eu')({ node: 'ip-10-1-0-1' })) as NodeResourcesOutput;

    expect(output.name).toBe('ip-10-1-0-1');
    expect(prod.requestsTo('GET', '/api/v1/nodes/ip-10-1-0-1')).toHaveLength(1);
  });

  it('else the kubeconfig’s current context', async () => {
    const output = (await nodeResources('dev')({ node: 'ip-10-2-0-1' })) as NodeResourcesOutput;

    expect(output.capacity.cpuCores).toBe(2);
  });

  it('fails ToolFailed with the configuration problem when the cluster is unknown', async () => {
    const error = await rejectionOf(nodeResources('dev')({ node: 'ip-10-1-0-1', cluster: 'dev-eu' }));

    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(
      /^k8s\.node-resources: cluster "dev-eu" is neither in tools\.kubernetes\.contexts/,
    );
  });

  it('names the cluster and its context in API errors', async () => {
    const error = await rejectionOf(nodeResources('dev')({ node: 'ip-10-9-9-9', cluster: 'prod-eu' }));

    expect(error.message).toContain(
      'cannot get nodes ip-10-9-9-9 in cluster "prod-eu" (context "arn:aws:eks:eu-west-1:111122223333:cluster/prod")',
    );
  });
});

describe('kubernetesTools', () => {
  it('implements every k8s.* declaration exactly once', () => {
    const clients = kubernetesClients({ contexts: {}, kubeConfigFactory: factory });
    const names = kubernetesTools({ clients, runtime: runtimeOf() }).map(
      (implementation) => implementation.declaration.name,
    );

    const declared = TOOL_DECLARATIONS.map((declaration) => declaration.name).filter((name) =>
      name.startsWith('k8s.'),
    );
    expect(names.sort()).toEqual([...declared].sort());
  });
});

describe('loading the kubeconfig', () => {
  it('names the file and the setting when tools.kubernetes.kubeconfig cannot be read', async () => {
    const clients = kubernetesClients({ kubeconfig: '/nonexistent/kubeconfig.yaml', contexts: {} });

    await expect(clients.forCluster()).rejects.toThrow(
      /^cannot load kubeconfig \/nonexistent\/kubeconfig\.yaml \(tools\.kubernetes\.kubeconfig\): ENOENT/,
    );
  });
});

import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';

/**
 * The shop cluster most platform tests alert on: one node under memory pressure running shop/cart and
 * shop/search, and a spare node with room. Without `dominating`, no pod holds half the node, so the
 * node-memory-pressure runbook relieves the node; with it, cart alone uses most of it and is restarted.
 */

export const PRESSURED_NODE = 'ip-10-0-1-23.eu-west-1.compute.internal';
export const SPARE_NODE = 'ip-10-0-2-40.eu-west-1.compute.internal';

export interface MemoryPressureOptions {
  /** cart uses 12 GiB of the node's 14 (one replica), and search is not there. */
  dominating?: boolean;
  /** Leave shop/search out. */
  cartOnly?: boolean;
  /** The bearer token the fake API requires. */
  token?: string;
}

export async function memoryPressureCluster(options: MemoryPressureOptions = {}): Promise<FakeKubeApi> {
  const kube = await FakeKubeApi.start({
    autoReconcile: true,
    ...(options.token ? { token: options.token } : {}),
  });
  kube.addNode({
    name: PRESSURED_NODE,
    conditions: { MemoryPressure: true },
    usage: { cpu: '1500m', memory: '14Gi' },
  });
  kube.addNode({ name: SPARE_NODE, usage: { cpu: '200m', memory: '2Gi' } });
  kube.addDeployment({
    namespace: 'shop',
    name: 'cart',
    replicas: options.dominating ? 1 : 2,
    nodes: [PRESSURED_NODE],
    containers: [
      {
        name: 'cart',
        requests: { cpu: '250m', memory: '1Gi' },
        usage: { cpu: '400m', memory: options.dominating ? '12Gi' : '3Gi' },
      },
    ],
  });
  if (!options.dominating && !options.cartOnly)
    kube.addDeployment({
      namespace: 'shop',
      name: 'search',
      replicas: 1,
      nodes: [PRESSURED_NODE],
      containers: [
        { name: 'search', requests: { cpu: '250m', memory: '1Gi' }, usage: { cpu: '300m', memory: '4Gi' } },
      ],
    });
  return kube;
}

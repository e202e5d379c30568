import { DEMO_NODES } from '../cluster.ts';
import { GI, MI } from '../host.ts';
import { chartRule } from '../monitoring/rules.ts';
import type { Scenario } from './types.ts';

/**
 * A memory leak puts a node under MemoryPressure: the `cart` replica on the memory node keeps every
 * session in a cache that never evicts and has no memory limit; after six days it holds 14 GiB of the
 * node's 16. The kubelet reports MemoryPressure; a rolling restart of cart gives it fresh pods.
 */

const LEAK_DAYS = 6;
const LEAK_START_BYTES = 520 * MI;
const LEAK_NOW_BYTES = 14 * GI;

export const KUBE_NODE_PRESSURE = chartRule({
  group: 'kubernetes-system-kubelet',
  alert: 'KubeNodePressure',
  expr: 'kube_node_status_condition{job="kube-state-metrics",condition=~"(MemoryPressure|DiskPressure|PIDPressure)",status="true"} == 1\nand on (cluster, node)\nkube_node_spec_unschedulable{job="kube-state-metrics"} == 0',
  for: '10m',
  simulatedFor: '5s',
  labels: { severity: 'info' },
  annotations: {
    description:
      '{{ $labels.node }}{{ with $labels.cluster -}} on cluster {{ . }}{{- end }} has active Condition {{ $labels.condition }}. This is caused by resource usage exceeding eviction thresholds.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubenodepressure',
    summary: 'Node has as active Condition.',
  },
});

export const memoryPressure: Scenario = {
  id: 'memory-pressure',
  summary: 'a leaking cart pod puts a node under MemoryPressure; node-memory-pressure restarts cart',
  alertname: 'KubeNodePressure',
  runbookId: 'node-memory-pressure',
  inDefaultSet: true,
  waits: 'the runbook lets the new pods settle for 60 s (wait-for-rollout) before it verifies',
  waitSeconds: 60,
  rules: [KUBE_NODE_PRESSURE],
  setup(world) {
    const node = DEMO_NODES.memory.name;
    const leaking = world.podOn('shop', 'cart', node);
    const since = world.startedAt - LEAK_DAYS * 86_400;
    world.backdatePod(leaking, since);
    const bytesPerSecond = (LEAK_NOW_BYTES - LEAK_START_BYTES) / (world.startedAt - since);
    world.setMemoryModel(leaking, 'cart', (time) =>
      Math.round(LEAK_START_BYTES + bytesPerSecond * (time - since)),
    );
    world.tick();
    return {
      title: `KubeNodePressure MemoryPressure on ${node}`,
      story: [
        'cart keeps every session in a cache that never evicts, and it has no memory limit: its replica on',
        `${node} holds ${(LEAK_NOW_BYTES / GI).toFixed(1)} GiB after ${LEAK_DAYS} days and the kubelet reports MemoryPressure.`,
        'A rolling restart gives cart fresh pods (the leak itself needs a fix and a limit).',
      ],
      alertSeries: {
        metric: 'kube_node_status_condition',
        labels: { node, condition: 'MemoryPressure', status: 'true' },
      },
      alertValue: () => 1,
      holds: () => world.hasMemoryPressure(node) && !world.kube.nodes.get(node)?.spec?.unschedulable,
      firingForMinutes: 5,
    };
  },
};

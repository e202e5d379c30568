import { parseQuantity } from '../../../functions/tools/kubernetes/quantity.ts';
import { DEMO_NODES } from '../cluster.ts';
import { chartRule } from '../monitoring/rules.ts';
import type { Scenario } from './types.ts';

/**
 * search got a heavier ranking model last week: each replica now needs about 470m of CPU under its
 * 500m limit, so the kernel throttles it in more than half of its scheduling periods and queries
 * queue: CPUThrottlingHigh. The nodes have idle cores; a higher limit (within bounds) ends it.
 */

const NAMESPACE = 'shop';
const APP = 'search';
/** CPU each search replica wants, whatever its limit (cores). */
const DEMAND = '470m';

export const CPU_THROTTLING_HIGH = chartRule({
  group: 'kubernetes-resources',
  alert: 'CPUThrottlingHigh',
  expr: 'sum(increase(container_cpu_cfs_throttled_periods_total{container!="", job="kubelet", metrics_path="/metrics/cadvisor", }[5m])) without (id, metrics_path, name, image, endpoint, job, node)\n  / on (cluster, namespace, pod, container, instance) group_left\nsum(increase(container_cpu_cfs_periods_total{job="kubelet", metrics_path="/metrics/cadvisor", }[5m])) without (id, metrics_path, name, image, endpoint, job, node)\n  > ( 25 / 100 )',
  for: '15m',
  simulatedFor: '5s',
  // Five minutes of increase would keep a replaced pod's throttling in the rule for five minutes.
  windows: { '5m': '30s' },
  labels: { severity: 'info' },
  annotations: {
    description:
      '{{ $value | humanizePercentage }} throttling of CPU in namespace {{ $labels.namespace }} for container {{ $labels.container }} in pod {{ $labels.pod }}{{ with $labels.cluster -}} on cluster {{ . }}{{- end }}.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/cputhrottlinghigh',
    summary: 'Processes experience elevated CPU throttling.',
  },
});

export const cpuThrottling: Scenario = {
  id: 'cpu-throttling',
  summary:
    'search needs nearly all of its CPU limit and is throttled; cpu-throttling raises the limit within bounds',
  alertname: 'CPUThrottlingHigh',
  runbookId: 'cpu-throttling',
  inDefaultSet: false,
  waits:
    'the runbook lets the pods with the new limit take over for 120 s (wait-for-rollout) before it verifies',
  waitSeconds: 120,
  rules: [CPU_THROTTLING_HIGH],
  setup(world) {
    const { kube } = world;
    kube.addDeployment({
      namespace: NAMESPACE,
      name: APP,
      replicas: 2,
      nodes: [DEMO_NODES.memory.name, DEMO_NODES.disk.name],
      containers: [
        {
          name: APP,
          image: 'registry.example.com/shop/search:7.3.0',
          requests: { cpu: '250m', memory: '768Mi' },
          limits: { cpu: '500m', memory: '1536Mi' },
          usage: { cpu: DEMAND, memory: '900Mi' },
        },
      ],
    });
    const pods = kube.podsMatching(NAMESPACE, { matchLabels: { app: APP } });
    for (const pod of pods) world.backdatePod(pod, world.startedAt - 6 * 86_400);
    // The load follows the Deployment: pods it starts later (a new limit) get the same demand.
    const load = () => {
      for (const pod of kube.podsMatching(NAMESPACE, { matchLabels: { app: APP } }))
        kube.setPodUsage(NAMESPACE, pod.metadata!.name!, APP, { cpu: DEMAND, memory: '900Mi' });
    };
    world.onTick(load);
    const name = pods[0]!.metadata!.name!;
    return {
      title: `CPUThrottlingHigh ${NAMESPACE}/${name} (${APP})`,
      story: [
        `${APP} got a heavier ranking model: each replica needs about ${DEMAND} of CPU under its 500m limit, so`,
        'the kernel throttles it in more than half of its scheduling periods and queries queue behind it.',
        "The nodes have idle cores; a higher CPU limit, within the runbook's bounds, ends the throttling.",
      ],
      alertSeries: {
        metric: 'container_cpu_cfs_throttled_periods_total',
        labels: { namespace: NAMESPACE, pod: name, container: APP },
      },
      alertLabelsKept: ['container', 'instance', 'namespace', 'pod', 'service'],
      // Both replicas are throttled: each raises its own alert, and one change answers both.
      alertMatch: { namespace: NAMESPACE, container: APP },
      alertValue: () => 0.56,
      holds: () =>
        kube.podsMatching(NAMESPACE, { matchLabels: { app: APP } }).some((pod) => {
          const limit = pod.spec?.containers[0]?.resources?.limits?.cpu;
          // The world throttles (ratio − 0.8) × 4 of the periods: over 25% above 86.25% of the limit.
          return limit !== undefined && world.containerCpu(pod, APP) / parseQuantity(limit) > 0.8625;
        }),
      firingForMinutes: 20,
    };
  },
};

import { DEMO_NODES } from '../cluster.ts';
import { chartRule } from '../monitoring/rules.ts';
import type { Scenario } from './types.ts';

/**
 * The log shipper on one node wedged: its output to the search cluster was refused (429) during a
 * reindex, its filesystem buffer hit its limit and it paused its inputs for good; its health endpoint
 * stopped answering and the pod is not ready. The DaemonSet has one pod fewer available than nodes:
 * KubeDaemonSetRolloutStuck. A fresh pod on that node starts with an empty buffer.
 */

const NAMESPACE = 'logging';
const APP = 'fluent-bit';
const WEDGED_MINUTES_AGO = 40;

export const KUBE_DAEMONSET_ROLLOUT_STUCK = chartRule({
  group: 'kubernetes-apps',
  alert: 'KubeDaemonSetRolloutStuck',
  expr: '(\n  (\n    kube_daemonset_status_current_number_scheduled{job="kube-state-metrics", namespace=~".*"}\n     !=\n    kube_daemonset_status_desired_number_scheduled{job="kube-state-metrics", namespace=~".*"}\n  ) or (\n    kube_daemonset_status_number_misscheduled{job="kube-state-metrics", namespace=~".*"}\n     !=\n    0\n  ) or (\n    kube_daemonset_status_updated_number_scheduled{job="kube-state-metrics", namespace=~".*"}\n     !=\n    kube_daemonset_status_desired_number_scheduled{job="kube-state-metrics", namespace=~".*"}\n  ) or (\n    kube_daemonset_status_number_available{job="kube-state-metrics", namespace=~".*"}\n     !=\n    kube_daemonset_status_desired_number_scheduled{job="kube-state-metrics", namespace=~".*"}\n  )\n) and (\n  changes(kube_daemonset_status_updated_number_scheduled{job="kube-state-metrics", namespace=~".*"}[5m])\n    ==\n  0\n)',
  for: '15m',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      'DaemonSet {{ $labels.namespace }}/{{ $labels.daemonset }} has not finished or progressed for at least 15m{{ with $labels.cluster -}} on cluster {{ . }}{{- end }}.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubedaemonsetrolloutstuck',
    summary: 'DaemonSet rollout is stuck.',
  },
});

export const daemonSetPodWedged: Scenario = {
  id: 'daemonset-pod-wedged',
  summary:
    "the log shipper's pod on one node wedges and stays not ready; workload-replicas-mismatch replaces it",
  alertname: 'KubeDaemonSetRolloutStuck',
  runbookId: 'workload-replicas-mismatch',
  inDefaultSet: false,
  waits: 'the runbook gives the replacement 90 s (wait-for-replacement) before it verifies',
  waitSeconds: 90,
  rules: [KUBE_DAEMONSET_ROLLOUT_STUCK],
  setup(world) {
    const { kube } = world;
    kube.addDaemonSet({
      namespace: NAMESPACE,
      name: APP,
      labels: { 'app.kubernetes.io/name': APP },
      rolloutMinutesAgo: 12 * 24 * 60,
      containers: [
        {
          name: APP,
          image: 'cr.fluentbit.io/fluent/fluent-bit:3.1.9',
          requests: { cpu: '50m', memory: '64Mi' },
          limits: { memory: '256Mi' },
          usage: { cpu: '12m', memory: '48Mi' },
        },
      ],
    });
    const pods = kube.podsMatching(NAMESPACE, { matchLabels: { 'app.kubernetes.io/name': APP } });
    for (const pod of pods) world.backdatePod(pod, world.startedAt - 12 * 86_400);
    const wedged = pods.find((pod) => pod.spec?.nodeName === DEMO_NODES.disk.name)!;
    const name = wedged.metadata!.name!;
    world.failReadiness(
      wedged,
      APP,
      `Get "http://${wedged.status?.podIP}:2020/api/v1/health": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
      WEDGED_MINUTES_AGO,
    );
    kube.setPodLog(NAMESPACE, name, APP, {
      current: [
        "[2026/11/25 09:18:02] [ warn] [engine] failed to flush chunk '1-1764062281.730114212.flb', retry in 1029 seconds: task_id=212, input=tail.0 > output=es.0 (out_id=0)",
        '[2026/11/25 09:18:02] [error] [output:es:es.0] HTTP status=429 URI=/_bulk, response: {"error":{"type":"es_rejected_execution_exception"}}',
        '[2026/11/25 09:19:40] [ warn] [input] tail.0 paused (storage buf overlimit 2.1G/2.0G)',
        '[2026/11/25 09:20:11] [error] [http_server] health check: engine not responding',
        '',
      ].join('\n'),
    });
    return {
      title: `KubeDaemonSetRolloutStuck ${NAMESPACE}/${APP}`,
      story: [
        `The log shipper's pod on ${DEMO_NODES.disk.name} wedged ${WEDGED_MINUTES_AGO} minutes ago: the search cluster`,
        'refused its bulk writes during a reindex, its buffer filled and it paused its inputs for good. Its health',
        'endpoint stopped answering, so the DaemonSet has one pod fewer available than nodes. A fresh pod starts empty.',
      ],
      alertSeries: {
        metric: 'kube_daemonset_status_number_available',
        labels: { namespace: NAMESPACE, daemonset: APP },
      },
      alertValue: () => 2,
      holds: () => {
        const status = kube.daemonSets.get(`${NAMESPACE}/${APP}`)?.status;
        return (status?.numberAvailable ?? 0) !== (status?.desiredNumberScheduled ?? 0);
      },
      firingForMinutes: WEDGED_MINUTES_AGO - 15,
    };
  },
};

import { chartRule } from '../monitoring/rules.ts';
import type { Scenario } from './types.ts';

/**
 * A marketing campaign tripled the frontend's traffic: its autoscaler wants nine replicas at its 70%
 * CPU target but stops at its maximum of six, and the pods run at over 100% of their CPU request:
 * KubeHpaMaxedOut. The nodes have room; raising the maximum within the team's bound lets it scale.
 */

const NAMESPACE = 'shop';
const HPA = 'frontend';
const DEMAND = 9;
const MAXED_MINUTES_AGO = 35;

export const KUBE_HPA_MAXED_OUT = chartRule({
  group: 'kubernetes-apps',
  alert: 'KubeHpaMaxedOut',
  expr: 'kube_horizontalpodautoscaler_status_current_replicas{job="kube-state-metrics", namespace=~".*"}\n  ==\nkube_horizontalpodautoscaler_spec_max_replicas{job="kube-state-metrics", namespace=~".*"}',
  for: '15m',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      'HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler  }} has been running at max replicas for longer than 15 minutes{{ with $labels.cluster -}} on cluster {{ . }}{{- end }}.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubehpamaxedout',
    summary: 'HPA is running at max replicas',
  },
});

export const hpaMaxedOut: Scenario = {
  id: 'hpa-maxed-out',
  summary:
    "traffic outgrows the frontend autoscaler's maximum; hpa-maxed-out raises it within the team's bound",
  alertname: 'KubeHpaMaxedOut',
  runbookId: 'hpa-maxed-out',
  inDefaultSet: false,
  waits: 'the runbook lets the autoscaler add replicas for 120 s (wait-for-scale-up) before it verifies',
  waitSeconds: 120,
  rules: [KUBE_HPA_MAXED_OUT],
  setup(world) {
    const { kube } = world;
    kube.setHpaDemand(NAMESPACE, HPA, DEMAND);
    // The pods the autoscaler added when the campaign started.
    for (const pod of kube.podsMatching(NAMESPACE, { matchLabels: { app: 'frontend' } }))
      if (new Date(pod.metadata!.creationTimestamp!).getTime() / 1_000 > world.startedAt - 60)
        world.backdatePod(pod, world.startedAt - MAXED_MINUTES_AGO * 60);
    const hpa = kube.hpas.get(`${NAMESPACE}/${HPA}`)!;
    return {
      title: `KubeHpaMaxedOut ${NAMESPACE}/${HPA}`,
      story: [
        `A campaign tripled the frontend's traffic ${MAXED_MINUTES_AGO} minutes ago: its autoscaler wants ${DEMAND} replicas`,
        `at its 70% CPU target but stops at its maximum of ${hpa.spec!.maxReplicas}, and each pod runs over its CPU request.`,
        "The nodes have room: raising the maximum within the team's bound lets it scale.",
      ],
      alertSeries: {
        metric: 'kube_horizontalpodautoscaler_status_current_replicas',
        labels: { namespace: NAMESPACE, horizontalpodautoscaler: HPA },
      },
      alertValue: () => hpa.status?.currentReplicas ?? 0,
      holds: () => {
        const current = kube.hpas.get(`${NAMESPACE}/${HPA}`);
        return current?.status?.currentReplicas === current?.spec?.maxReplicas;
      },
      firingForMinutes: MAXED_MINUTES_AGO - 15,
    };
  },
};

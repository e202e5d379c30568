import { GI, Volume } from '../host.ts';
import { chartRule } from '../monitoring/rules.ts';
import { nowSeconds } from '../world.ts';
import type { Scenario } from './types.ts';

/**
 * The orders database keeps a month of order history since the holiday sale: its 20 GiB volume is
 * 88% used and, at the last six hours' rate, full in about a day and a half
 * (KubePersistentVolumeFillingUp). Its StorageClass allows expansion; half again as much space buys
 * the team time to archive.
 */

const NAMESPACE = 'shop';
const CLAIM = 'data-orders-db-0';
const POD = 'orders-db-0';
const SIZE = 20 * GI;
const USED_FRACTION = 0.885;
const FULL_IN_HOURS = 36;

const VOLUME_SELECTOR = '{job="kubelet", namespace=~".*", metrics_path="/metrics"}';

export const KUBE_PERSISTENT_VOLUME_FILLING_UP = chartRule({
  group: 'kubernetes-storage',
  alert: 'KubePersistentVolumeFillingUp',
  expr: `(\n  kubelet_volume_stats_available_bytes${VOLUME_SELECTOR}\n    /\n  kubelet_volume_stats_capacity_bytes${VOLUME_SELECTOR}\n) < 0.15\nand\nkubelet_volume_stats_used_bytes${VOLUME_SELECTOR} > 0\nand\npredict_linear(kubelet_volume_stats_available_bytes${VOLUME_SELECTOR}[6h], 4 * 24 * 3600) < 0\nunless on (cluster, namespace, persistentvolumeclaim)\nkube_persistentvolumeclaim_access_mode{ access_mode="ReadOnlyMany"} == 1\nunless on (cluster, namespace, persistentvolumeclaim)\nkube_persistentvolumeclaim_labels{label_excluded_from_alerts="true"} == 1`,
  for: '1h',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      'Based on recent sampling, the PersistentVolume claimed by {{ $labels.persistentvolumeclaim }} in Namespace {{ $labels.namespace }} {{ with $labels.cluster -}} on Cluster {{ . }} {{- end }} is expected to fill up within four days. Currently {{ $value | humanizePercentage }} is available.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepersistentvolumefillingup',
    summary: 'PersistentVolume is filling up.',
  },
});

export const pvcFilling: Scenario = {
  id: 'pvc-filling',
  summary:
    "the orders database's volume fills within days; pvc-filling-up expands the claim within its bound",
  alertname: 'KubePersistentVolumeFillingUp',
  runbookId: 'pvc-filling-up',
  inDefaultSet: false,
  waits: 'the runbook waits for the resize itself (up to 60 s inside k8s.pvc-expand); no runbook.wait',
  waitSeconds: 0,
  rules: [KUBE_PERSISTENT_VOLUME_FILLING_UP],
  setup(world) {
    const free = (1 - USED_FRACTION) * SIZE;
    const volume = new Volume(SIZE, USED_FRACTION * SIZE, free / (FULL_IN_HOURS * 3_600), world.startedAt);
    world.attachVolume(NAMESPACE, CLAIM, POD, volume);
    const claim = world.kube.pvcs.get(`${NAMESPACE}/${CLAIM}`);
    if (!claim) throw new Error(`simulated world: no PersistentVolumeClaim ${NAMESPACE}/${CLAIM}`);
    return {
      title: `KubePersistentVolumeFillingUp ${NAMESPACE}/${CLAIM}`,
      story: [
        `orders-db keeps a month of order history since the holiday sale: its ${SIZE / GI} GiB volume ${CLAIM} is`,
        `${Math.round(USED_FRACTION * 100)}% used and, at the last six hours' rate, full in about ${FULL_IN_HOURS} hours. Its StorageClass`,
        'allows expansion; half again as much space buys the team time to archive old orders.',
      ],
      alertSeries: {
        metric: 'kubelet_volume_stats_available_bytes',
        labels: { namespace: NAMESPACE, persistentvolumeclaim: CLAIM },
      },
      alertValue: () => volume.availAt(nowSeconds()) / volume.sizeBytes,
      holds: () => volume.availAt(nowSeconds()) / volume.sizeBytes < 0.15,
      firingForMinutes: 65,
    };
  },
};

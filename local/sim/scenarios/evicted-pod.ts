import type { V1ReplicaSet } from '@kubernetes/client-node';
import { DEMO_NODES } from '../cluster.ts';
import { chartRule } from '../monitoring/rules.ts';
import type { Scenario } from './types.ts';

/**
 * Yesterday's disk pressure on one node evicted a catalog replica: the ReplicaSet started a
 * replacement long ago, but the evicted pod stays Failed (the pod garbage collector keeps thousands),
 * so KubePodNotReady fires for it. Deleting the leftover is the fix.
 */

const NAMESPACE = 'shop';
const APP = 'catalog';
const IMAGE = 'registry.example.com/shop/catalog:4.7.3';
const EVICTED_MINUTES_AGO = 50;
const EVICTION =
  'The node was low on resource: ephemeral-storage. Threshold quantity: 2684354560, available: 2143092Ki. Container catalog was using 6422528Ki, request is 0, has larger consumption of ephemeral-storage. ';

export const KUBE_POD_NOT_READY = chartRule({
  group: 'kubernetes-apps',
  alert: 'KubePodNotReady',
  expr: 'sum by (namespace, pod, cluster) (\n  max by (namespace, pod, cluster) (\n    kube_pod_status_phase{job="kube-state-metrics", namespace=~".*", phase=~"Pending|Unknown|Failed"}\n  ) * on (namespace, pod, cluster) group_left(owner_kind) topk by (namespace, pod, cluster) (\n    1, max by (namespace, pod, owner_kind, cluster) (kube_pod_owner{owner_kind!="Job"})\n  )\n) > 0',
  for: '15m',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      'Pod {{ $labels.namespace }}/{{ $labels.pod }} has been in a non-ready state for longer than 15 minutes{{ with $labels.cluster -}} on cluster {{ . }}{{- end }}.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodnotready',
    summary: 'Pod has been in a non-ready state for more than 15 minutes.',
  },
});

export const evictedPod: Scenario = {
  id: 'evicted-pod',
  summary: 'an evicted catalog pod stays Failed beside its replacement; pod-not-ready deletes the leftover',
  alertname: 'KubePodNotReady',
  runbookId: 'pod-not-ready',
  inDefaultSet: false,
  waits: 'the runbook lets the controller settle for 60 s (wait-for-controller) before it verifies',
  waitSeconds: 60,
  rules: [KUBE_POD_NOT_READY],
  setup(world) {
    const { kube } = world;
    kube.addDeployment({
      namespace: NAMESPACE,
      name: APP,
      replicas: 2,
      nodes: [DEMO_NODES.memory.name, DEMO_NODES.spare.name],
      containers: [
        {
          name: APP,
          image: IMAGE,
          requests: { cpu: '150m', memory: '256Mi' },
          limits: { memory: '512Mi' },
          usage: { cpu: '40m', memory: '210Mi' },
        },
      ],
    });
    const [first, replacement] = kube.podsMatching(NAMESPACE, { matchLabels: { app: APP } });
    world.backdatePod(first!, world.startedAt - 3 * 86_400);
    world.backdatePod(replacement!, world.startedAt - EVICTED_MINUTES_AGO * 60);
    const replicaSet = [...kube.replicaSets.values()].find(
      (candidate: V1ReplicaSet) => candidate.metadata?.ownerReferences?.[0]?.name === APP,
    )!;
    const name = `${replicaSet.metadata!.name}-q7wtx`;
    const evicted = kube.addPod({
      namespace: NAMESPACE,
      name,
      node: DEMO_NODES.disk.name,
      labels: { ...replicaSet.spec!.template!.metadata!.labels },
      containers: [{ name: APP, image: IMAGE, requests: { cpu: '150m', memory: '256Mi' } }],
      owner: {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: replicaSet.metadata!.name!,
        uid: replicaSet.metadata!.uid!,
        controller: true,
        blockOwnerDeletion: true,
      },
      evicted: { message: EVICTION },
      ageMinutes: 3 * 24 * 60,
    });
    kube.addEvent({
      object: evicted,
      type: 'Warning',
      reason: 'Evicted',
      message: EVICTION,
      firstSeenMinutesAgo: EVICTED_MINUTES_AGO,
      lastSeenMinutesAgo: EVICTED_MINUTES_AGO,
      source: 'kubelet',
      host: DEMO_NODES.disk.name,
    });
    kube.reconcile();
    return {
      title: `KubePodNotReady ${NAMESPACE}/${name}`,
      story: [
        `Disk pressure on ${DEMO_NODES.disk.name} evicted a catalog replica ${EVICTED_MINUTES_AGO} minutes ago.`,
        'Its ReplicaSet started a replacement at once, and both catalog replicas serve; the evicted pod stays',
        'Failed until someone deletes it, and KubePodNotReady counts it. Deleting the leftover is the fix.',
      ],
      alertSeries: {
        metric: 'kube_pod_status_phase',
        labels: { namespace: NAMESPACE, pod: name, phase: 'Failed' },
      },
      alertLabelsKept: ['namespace', 'pod'],
      alertValue: () => 1,
      holds: () => world.pod(NAMESPACE, name)?.status?.phase === 'Failed',
      firingForMinutes: EVICTED_MINUTES_AGO - 15,
    };
  },
};

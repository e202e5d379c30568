import {
  addWorkerNode,
  DEMO_NODES,
  type DemoNode,
  nodeExporterInHostNetwork,
  SEEDED_POD_AGE_SECONDS,
} from '../cluster.ts';
import { chartRule } from '../monitoring/rules.ts';
import { journalStamp } from '../world.ts';
import type { Scenario } from './types.ts';

/**
 * A fourth node's kubelet is gone: a containerd upgrade restarted the runtime under it, the kubelet lost
 * its socket and exited, and systemd's restart limit gave up on it (start-limit-hit). The machine and
 * its containers run on, but the API server has heard nothing for 25 minutes: the node is Ready
 * Unknown and tainted unreachable, and its recommendations replica is marked not ready. Draining moves
 * the replica to a healthy node; restarting the kubelet over SSM brings the node back.
 */

export const NOT_READY_NODE = {
  name: 'ip-10-0-2-58.eu-west-1.compute.internal',
  ip: '10.0.2.58',
  zone: 'eu-west-1b',
  instanceId: 'i-0d4f6b8a0c2e35791',
} as const satisfies DemoNode;

/** The kubelet stopped this long before the world started. */
const SILENT_FOR_SECONDS = 25 * 60;

export const KUBE_NODE_NOT_READY = chartRule({
  group: 'kubernetes-system-kubelet',
  alert: 'KubeNodeNotReady',
  expr: 'kube_node_status_condition{job="kube-state-metrics",condition="Ready",status="true"} == 0\nand on (cluster, node)\nkube_node_spec_unschedulable{job="kube-state-metrics"} == 0',
  for: '15m',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      '{{ $labels.node }} has been unready for more than 15 minutes{{ with $labels.cluster -}} on cluster {{ . }}{{- end }}.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubenodenotready',
    summary: 'Node is not ready.',
  },
});

/** What journald kept of the kubelet's last minutes. */
function kubeletJournal(stoppedAt: number, node: string): string[] {
  const at = (offset: number) => journalStamp(stoppedAt + offset, node);
  return [
    `${at(-4)} systemd[1]: Stopping containerd.service - containerd container runtime...`,
    `${at(-3)} kubelet[3311]: E remote_runtime.go:633] "Status from runtime service failed" err="rpc error: code = Unavailable desc = connection error: dial unix /run/containerd/containerd.sock: connect: connection refused"`,
    `${at(-3)} kubelet[3311]: E kubelet.go:2902] "Container runtime not ready" RuntimeReady="RuntimeReady=false reason: errors: container runtime is down"`,
    `${at(-2)} kubelet[3311]: E run.go:74] "command failed" err="failed to run Kubelet: validate service connection: validate CRI v1 runtime API for endpoint \\"unix:///run/containerd/containerd.sock\\": rpc error: code = Unavailable"`,
    `${at(-2)} systemd[1]: kubelet.service: Main process exited, code=exited, status=1/FAILURE`,
    `${at(-1)} systemd[1]: kubelet.service: Scheduled restart job, restart counter is at 5.`,
    `${at(0)} systemd[1]: kubelet.service: Start request repeated too quickly.`,
    `${at(0)} systemd[1]: kubelet.service: Failed with result 'start-limit-hit'.`,
    `${at(0)} systemd[1]: Failed to start kubelet.service - Kubernetes Kubelet.`,
    `${at(6)} systemd[1]: Started containerd.service - containerd container runtime.`,
  ];
}

export const nodeNotReady: Scenario = {
  id: 'node-not-ready',
  summary:
    "a node's kubelet stopped after a containerd restart; node-not-ready drains it and restarts the kubelet",
  alertname: 'KubeNodeNotReady',
  runbookId: 'node-not-ready',
  inDefaultSet: false,
  waits: 'the runbook gives the restarted kubelet 60 s (kubelet-settle) to post Ready status',
  waitSeconds: 60,
  rules: [KUBE_NODE_NOT_READY],
  setup(world) {
    const { kube } = world;
    const node = NOT_READY_NODE.name;
    const host = addWorkerNode(world, NOT_READY_NODE);
    kube.edit(kube.nodes, node, (object) => {
      object.metadata!.creationTimestamp = new Date(host.bootTime * 1_000);
    });
    // The DaemonSets start their pods on the new node.
    kube.reconcile();
    nodeExporterInHostNetwork(world);
    kube.addDeployment({
      namespace: 'shop',
      name: 'recommendations',
      replicas: 2,
      nodes: [node, DEMO_NODES.disk.name],
      containers: [
        {
          name: 'recommendations',
          image: 'registry.example.com/shop/recommendations:1.9.3',
          requests: { cpu: '200m', memory: '512Mi' },
          limits: { cpu: '1', memory: '1Gi' },
          usage: { cpu: '90m', memory: '430Mi' },
        },
      ],
    });
    kube.addPdb({
      namespace: 'shop',
      name: 'recommendations',
      matchLabels: { app: 'recommendations' },
      minAvailable: 1,
    });
    kube.reconcile();
    // The node and recommendations have run as long as the rest of the cluster.
    for (const pod of [
      ...world.podsOn(node),
      ...kube.podsMatching('shop', { matchLabels: { app: 'recommendations' } }),
    ])
      world.backdatePod(pod, world.startedAt - SEEDED_POD_AGE_SECONDS);
    const stoppedAt = world.startedAt - SILENT_FOR_SECONDS;
    world.stopKubelet(node, stoppedAt, kubeletJournal(stoppedAt, node));
    const moved = world.podOn('shop', 'recommendations', node).metadata!.name!;
    return {
      title: `KubeNodeNotReady ${node}`,
      story: [
        `A containerd upgrade restarted the runtime under ${node}'s kubelet 25 minutes ago: the kubelet`,
        "exited and systemd's restart limit gave up on it. Its containers run on, but the node is Ready",
        `Unknown, tainted unreachable, and its recommendations replica (${moved}) is not ready.`,
        `The runbook drains the node (PodDisruptionBudgets respected) and restarts the kubelet over SSM on ${NOT_READY_NODE.instanceId}.`,
      ],
      alertSeries: {
        metric: 'kube_node_status_condition',
        labels: { node, condition: 'Ready', status: 'true' },
      },
      alertValue: () => 0,
      holds: () => {
        const object = kube.nodes.get(node);
        const ready = object?.status?.conditions?.some(
          (condition) => condition.type === 'Ready' && condition.status === 'True',
        );
        return !ready && !object?.spec?.unschedulable;
      },
      firingForMinutes: 10,
    };
  },
};

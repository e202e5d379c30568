import { DEMO_NODES } from '../cluster.ts';
import { chartRule } from '../monitoring/rules.ts';
import type { Scenario } from './types.ts';

/**
 * A release of recommendations went out 70 minutes ago with a tag the CI never pushed: its new pod
 * waits in ImagePullBackOff ("not found"), the old ReplicaSet still serves (maxUnavailable 0), and the
 * rollout has a two-hour progress deadline, so only KubeContainerWaiting speaks up. Rolling back to the
 * previous revision is the fix.
 */

const NAMESPACE = 'shop';
const APP = 'recommendations';
const GOOD = 'registry.example.com/shop/recommendations:4.2.1';
const MISSING = 'registry.example.com/shop/recommendations:4.3.0';
const ROLLOUT_MINUTES_AGO = 70;

export const KUBE_CONTAINER_WAITING = chartRule({
  group: 'kubernetes-apps',
  alert: 'KubeContainerWaiting',
  expr: 'kube_pod_container_status_waiting_reason{reason!="CrashLoopBackOff", job="kube-state-metrics", namespace=~".*"} > 0',
  for: '1h',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      'pod/{{ $labels.pod }} in namespace {{ $labels.namespace }} on container {{ $labels.container}} has been in waiting state for longer than 1 hour. (reason: "{{ $labels.reason }}"){{ with $labels.cluster -}} on cluster {{ . }}{{- end }}.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubecontainerwaiting',
    summary: 'Pod container waiting longer than 1 hour',
  },
});

export const imagePullBackOff: Scenario = {
  id: 'image-pull-backoff',
  summary:
    'a recommendations release names an image tag that was never pushed; container-waiting rolls it back',
  alertname: 'KubeContainerWaiting',
  runbookId: 'container-waiting',
  inDefaultSet: false,
  waits: 'the runbook lets the previous revision take over for 120 s (wait-for-rollback) before it verifies',
  waitSeconds: 120,
  rules: [KUBE_CONTAINER_WAITING],
  setup(world) {
    const { kube } = world;
    kube.addDeployment({
      namespace: NAMESPACE,
      name: APP,
      replicas: 2,
      nodes: [DEMO_NODES.memory.name, DEMO_NODES.spare.name],
      progressDeadlineSeconds: 7_200,
      containers: [
        {
          name: APP,
          image: GOOD,
          requests: { cpu: '200m', memory: '512Mi' },
          limits: { memory: '1Gi' },
          usage: { cpu: '90m', memory: '430Mi' },
        },
      ],
    });
    kube.edit(kube.deployments, `${NAMESPACE}/${APP}`, (deployment) => {
      // Two replicas and no unavailability: the new revision must come up before an old pod goes.
      deployment.spec!.strategy = {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
      };
    });
    for (const pod of kube.podsMatching(NAMESPACE, { matchLabels: { app: APP } }))
      world.backdatePod(pod, world.startedAt - 5 * 86_400);
    const pullError = `rpc error: code = NotFound desc = failed to pull and unpack image "${MISSING}": failed to resolve reference "${MISSING}": ${MISSING}: not found`;
    kube.setImageBehaviour(MISSING, {
      waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${MISSING}"` },
      events: [
        { type: 'Normal', reason: 'Pulling', message: `Pulling image "${MISSING}"`, count: 19 },
        { reason: 'Failed', message: `Failed to pull image "${MISSING}": ${pullError}`, count: 19 },
        { reason: 'Failed', message: 'Error: ErrImagePull', count: 19 },
        { reason: 'BackOff', message: `Back-off pulling image "${MISSING}"`, count: 302 },
        { reason: 'Failed', message: 'Error: ImagePullBackOff', count: 302 },
      ],
    });
    kube.edit(kube.deployments, `${NAMESPACE}/${APP}`, (deployment) => {
      deployment.metadata!.annotations = {
        ...deployment.metadata!.annotations,
        'kubernetes.io/change-cause': 'ci: deploy recommendations 4.3.0 (pipeline 18342)',
      };
    });
    kube.setImage('Deployment', NAMESPACE, APP, APP, MISSING, { minutesAgo: ROLLOUT_MINUTES_AGO });
    const waiting = kube
      .podsMatching(NAMESPACE, { matchLabels: { app: APP } })
      .find((pod) => pod.spec?.containers[0]?.image === MISSING)!;
    const name = waiting.metadata!.name!;
    return {
      title: `KubeContainerWaiting ${NAMESPACE}/${name} (ImagePullBackOff)`,
      story: [
        `Deployment ${NAMESPACE}/${APP} was rolled out ${ROLLOUT_MINUTES_AGO} minutes ago to ${MISSING},`,
        'a tag the pipeline never pushed: the new pod waits in ImagePullBackOff ("not found") while the old',
        'ReplicaSet keeps serving. The previous revision ran; rolling back to it ends the stuck release.',
      ],
      alertSeries: {
        metric: 'kube_pod_container_status_waiting_reason',
        labels: { namespace: NAMESPACE, pod: name, container: APP, reason: 'ImagePullBackOff' },
      },
      alertValue: () => 1,
      holds: () =>
        kube
          .podsMatching(NAMESPACE, { matchLabels: { app: APP } })
          .some((pod) =>
            pod.status?.containerStatuses?.some(
              (status) => status.state?.waiting?.reason === 'ImagePullBackOff',
            ),
          ),
      firingForMinutes: ROLLOUT_MINUTES_AGO - 60,
    };
  },
};

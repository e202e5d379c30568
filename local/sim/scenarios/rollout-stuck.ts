import { DEMO_NODES } from '../cluster.ts';
import { chartRule } from '../monitoring/rules.ts';
import type { Scenario } from './types.ts';

/**
 * inventory 2.8.0 expects a schema migration that has not run: its pod starts, answers its readiness
 * probe with 503 and never becomes ready. The rollout stops at its surge pod (maxUnavailable 0) and
 * passes its ten-minute progress deadline: KubeDeploymentRolloutStuck. The three 2.7.4 pods still
 * serve; rolling back to them ends the stuck rollout.
 */

const NAMESPACE = 'shop';
const APP = 'inventory';
const GOOD = 'registry.example.com/shop/inventory:2.7.4';
const BAD = 'registry.example.com/shop/inventory:2.8.0';
const ROLLOUT_MINUTES_AGO = 28;

export const KUBE_DEPLOYMENT_ROLLOUT_STUCK = chartRule({
  group: 'kubernetes-apps',
  alert: 'KubeDeploymentRolloutStuck',
  expr: 'kube_deployment_status_condition{condition="Progressing", status="false",job="kube-state-metrics", namespace=~".*"}\n!= 0',
  for: '15m',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      'Rollout of deployment {{ $labels.namespace }}/{{ $labels.deployment }} is not progressing for longer than 15 minutes{{ with $labels.cluster -}} on cluster {{ . }}{{- end }}.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubedeploymentrolloutstuck',
    summary: 'Deployment rollout is not progressing.',
  },
});

export const rolloutStuck: Scenario = {
  id: 'rollout-stuck',
  summary:
    'an inventory release never becomes ready and its rollout stalls; deployment-rollout-stuck rolls it back',
  alertname: 'KubeDeploymentRolloutStuck',
  runbookId: 'deployment-rollout-stuck',
  inDefaultSet: false,
  waits: 'the runbook lets the previous revision take over for 120 s (wait-for-rollback) before it verifies',
  waitSeconds: 120,
  rules: [KUBE_DEPLOYMENT_ROLLOUT_STUCK],
  setup(world) {
    const { kube } = world;
    kube.addDeployment({
      namespace: NAMESPACE,
      name: APP,
      replicas: 3,
      nodes: Object.values(DEMO_NODES).map((node) => node.name),
      containers: [
        {
          name: APP,
          image: GOOD,
          requests: { cpu: '150m', memory: '384Mi' },
          limits: { memory: '768Mi' },
          usage: { cpu: '60m', memory: '300Mi' },
        },
      ],
    });
    for (const pod of kube.podsMatching(NAMESPACE, { matchLabels: { app: APP } }))
      world.backdatePod(pod, world.startedAt - 9 * 86_400);
    kube.setImageBehaviour(BAD, {
      unready: true,
      events: [
        {
          reason: 'Unhealthy',
          message: 'Readiness probe failed: HTTP probe failed with statuscode: 503',
          count: ROLLOUT_MINUTES_AGO * 6,
        },
      ],
      log: [
        'INFO  inventory 2.8.0 starting',
        'INFO  connected to postgres at orders-db.shop.svc:5432',
        'WARN  schema version 41 is older than required 42 (migration 0042_inventory_reservations has not run)',
        'WARN  not ready: waiting for schema version 42; answering /ready with 503',
        '',
      ].join('\n'),
    });
    kube.edit(kube.deployments, `${NAMESPACE}/${APP}`, (deployment) => {
      deployment.metadata!.annotations = {
        ...deployment.metadata!.annotations,
        'kubernetes.io/change-cause': 'ci: deploy inventory 2.8.0 (pipeline 18351)',
      };
    });
    kube.setImage('Deployment', NAMESPACE, APP, APP, BAD, { minutesAgo: ROLLOUT_MINUTES_AGO });
    return {
      title: `KubeDeploymentRolloutStuck ${NAMESPACE}/${APP}`,
      story: [
        `${APP} 2.8.0 was rolled out ${ROLLOUT_MINUTES_AGO} minutes ago; it needs a schema migration that has not run,`,
        'so its pod answers its readiness probe with 503 and never becomes ready. The rollout stalled past its',
        'ten-minute progress deadline; the three 2.7.4 pods still serve. Rolling back ends the stuck rollout.',
      ],
      alertSeries: {
        metric: 'kube_deployment_status_condition',
        labels: { namespace: NAMESPACE, deployment: APP, condition: 'Progressing', status: 'false' },
      },
      alertValue: () => 1,
      holds: () =>
        kube.deployments
          .get(`${NAMESPACE}/${APP}`)
          ?.status?.conditions?.some(
            (condition) => condition.type === 'Progressing' && condition.status === 'False',
          ) === true,
      firingForMinutes: ROLLOUT_MINUTES_AGO - 10 - 15,
    };
  },
};

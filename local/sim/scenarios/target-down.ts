import { DEMO_NODES } from '../cluster.ts';
import { chartRule } from '../monitoring/rules.ts';
import type { Scenario } from './types.ts';

/**
 * One of the two payments replicas deadlocked (its worker pool waits on a lock its own request
 * holds): it answers neither its readiness probe nor Prometheus, whose scrapes of it time out. Half of
 * the payments targets are down (TargetDown); the other replica serves. payments has a readiness
 * probe but no liveness probe, so nothing restarts it: replacing that pod is the fix.
 */

const NAMESPACE = 'shop';
const APP = 'payments';
const METRICS_PORT = 8080;
const HUNG_MINUTES_AGO = 25;

export const TARGET_DOWN = chartRule({
  group: 'general.rules',
  alert: 'TargetDown',
  expr: '100 * (count(up == 0) BY (cluster, job, namespace, service) / count(up) BY (cluster, job, namespace, service)) > 10',
  for: '10m',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      '{{ printf "%.4g" $value }}% of the {{ $labels.job }}/{{ $labels.service }} targets in {{ $labels.namespace }} namespace are down.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/general/targetdown',
    summary: 'One or more targets are unreachable.',
  },
});

export const targetDown: Scenario = {
  id: 'target-down',
  summary: 'a payments replica deadlocks and its scrapes time out; target-down replaces the stuck pod',
  alertname: 'TargetDown',
  runbookId: 'target-down',
  inDefaultSet: false,
  waits: 'the runbook gives the replacement 60 s (wait-for-replacement) to start and be scraped',
  waitSeconds: 60,
  rules: [TARGET_DOWN],
  setup(world) {
    const { kube } = world;
    kube.addDeployment({
      namespace: NAMESPACE,
      name: APP,
      replicas: 2,
      nodes: [DEMO_NODES.disk.name, DEMO_NODES.spare.name],
      containers: [
        {
          name: APP,
          image: 'registry.example.com/shop/payments:6.0.2',
          requests: { cpu: '200m', memory: '512Mi' },
          limits: { memory: '1Gi' },
          usage: { cpu: '70m', memory: '380Mi' },
        },
      ],
    });
    kube.addService({
      namespace: NAMESPACE,
      name: APP,
      selector: { app: APP },
      ports: [
        { name: 'http', port: 443, targetPort: 8443 },
        { name: 'http-metrics', port: METRICS_PORT },
      ],
    });
    world.addServiceMonitor({
      namespace: NAMESPACE,
      service: APP,
      port: METRICS_PORT,
      endpoint: 'http-metrics',
    });
    const pods = kube.podsMatching(NAMESPACE, { matchLabels: { app: APP } });
    for (const pod of pods) world.backdatePod(pod, world.startedAt - 4 * 86_400);
    const hung = pods[0]!;
    const name = hung.metadata!.name!;
    world.hangPod(hung);
    world.failReadiness(
      hung,
      APP,
      `Get "http://${hung.status?.podIP}:8443/ready": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
      HUNG_MINUTES_AGO,
    );
    kube.setPodLog(NAMESPACE, name, APP, {
      current: [
        'INFO  payments 6.0.2 serving on :8443, metrics on :8080',
        'WARN  worker pool: 64 of 64 workers busy for 30s',
        'WARN  settlement lock held for 120s by request 7f3a2c (waiting on worker pool)',
        'WARN  worker pool: 64 of 64 workers busy for 600s',
        '',
      ].join('\n'),
    });
    return {
      title: `TargetDown ${NAMESPACE}/${APP}: ${name} does not answer`,
      story: [
        `One of the two ${APP} replicas deadlocked ${HUNG_MINUTES_AGO} minutes ago: its worker pool waits on a lock`,
        'its own request holds. It answers neither its readiness probe nor Prometheus, so half of the payments',
        'targets are down. There is no liveness probe to restart it: replacing that pod is the fix.',
      ],
      alertSeries: {
        metric: 'up',
        labels: { job: APP, namespace: NAMESPACE, service: APP, pod: name },
      },
      alertLabelsKept: ['job', 'namespace', 'service'],
      alertValue: () => 50,
      holds: () =>
        kube.podsMatching(NAMESPACE, { matchLabels: { app: APP } }).some((pod) => world.isHung(pod)),
      firingForMinutes: HUNG_MINUTES_AGO - 10,
    };
  },
};

import { prometheusFingerprint } from '../functions/core/classifier/normalize.ts';
import type { ExampleAlert } from '../functions/core/runbook/model.ts';
import type { CloudWatchCatalogEntry, PrometheusCatalogEntry } from './alert-catalog-data.ts';

/**
 * Payloads as their senders send them, from a few facts: an Alertmanager webhook v4 body for a label
 * set, an EventBridge `CloudWatch Alarm State Change` event for an alarm on a metric. Runbook
 * `examples`, `runbook coverage` and the per-runbook checks go through these and then through the
 * real normalizer, as a live alert would.
 */

const STARTS_AT = '2026-11-25T10:00:00.000Z';

export interface AlertmanagerBody {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: Array<{
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
    fingerprint: string;
  }>;
}

export function alertmanagerBody(
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
  status: 'firing' | 'resolved' = 'firing',
): AlertmanagerBody {
  const alertname = labels.alertname ?? 'unknown';
  return {
    version: '4',
    groupKey: `{}:{alertname="${alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'runbook-autopilot',
    groupLabels: { alertname },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: 'http://alertmanager.monitoring:9093',
    alerts: [
      {
        status,
        labels,
        annotations,
        startsAt: STARTS_AT,
        endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-25T10:30:00.000Z',
        generatorURL: `http://prometheus.monitoring:9090/graph?g0.expr=${encodeURIComponent(`ALERTS{alertname="${alertname}"}`)}&g0.tab=1`,
        fingerprint: prometheusFingerprint(labels),
      },
    ],
  };
}

export interface AlarmFacts {
  alarmName: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  statistic: string;
  tags?: Record<string, string>;
  region: string;
  account: string;
}

export function cloudWatchAlarmEvent(
  alarm: AlarmFacts,
  state: 'ALARM' | 'OK' = 'ALARM',
): Record<string, unknown> {
  const arn = `arn:aws:cloudwatch:${alarm.region}:${alarm.account}:alarm:${alarm.alarmName}`;
  const percentile = /^p\d/.test(alarm.statistic);
  return {
    version: '0',
    id: `coverage-${prometheusFingerprint({ alarm: alarm.alarmName })}`,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: alarm.account,
    time: STARTS_AT,
    region: alarm.region,
    resources: [arn],
    detail: {
      alarmName: alarm.alarmName,
      ...(alarm.tags && Object.keys(alarm.tags).length > 0 ? { alarmTags: alarm.tags } : {}),
      configuration: {
        description: `${alarm.metricName} of ${Object.values(alarm.dimensions).join(' ')}`,
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: { namespace: alarm.namespace, name: alarm.metricName, dimensions: alarm.dimensions },
              period: 60,
              stat: alarm.statistic,
            },
            returnData: true,
          },
        ],
      },
      previousState: {
        value: state === 'ALARM' ? 'OK' : 'ALARM',
        reason: 'Threshold Crossed',
        timestamp: '2026-11-25T09:50:00.000+0000',
      },
      state: {
        value: state,
        reason: `Threshold Crossed: 3 out of the last 3 datapoints were ${state === 'ALARM' ? '' : 'not '}above the threshold`,
        reasonData: JSON.stringify({
          version: '1.0',
          queryDate: '2026-11-25T10:00:00.000+0000',
          startDate: '2026-11-25T09:57:00.000+0000',
          ...(percentile ? { extendedStatistic: alarm.statistic } : { statistic: alarm.statistic }),
          period: 60,
          recentDatapoints: [1, 1, 1],
          threshold: 0,
        }),
        timestamp: '2026-11-25T10:00:00.000+0000',
      },
    },
  };
}

/**
 * A runbook example as its source would send it: firing (the alarm in ALARM), or `resolved` (the
 * same alert's resolved notification, the alarm back to OK).
 */
export function examplePayload(
  example: ExampleAlert,
  environment?: string,
  status: 'firing' | 'resolved' = 'firing',
): { kind: 'alertmanager'; body: AlertmanagerBody } | { kind: 'eventbridge'; body: Record<string, unknown> } {
  if ('alertmanager' in example) {
    const labels = { ...example.alertmanager.labels, ...(environment ? { environment } : {}) };
    return { kind: 'alertmanager', body: alertmanagerBody(labels, example.alertmanager.annotations, status) };
  }
  const alarm = example.cloudwatch;
  return {
    kind: 'eventbridge',
    body: cloudWatchAlarmEvent(
      { ...alarm, tags: { ...alarm.tags, ...(environment ? { environment } : {}) } },
      status === 'firing' ? 'ALARM' : 'OK',
    ),
  };
}

// ---------------------------------------------------------------------------------------------------
// The built-in catalog's payloads: realistic values for each label key and dimension

const KSM = {
  job: 'kube-state-metrics',
  namespace: 'monitoring',
  pod: 'kube-prometheus-stack-kube-state-metrics-6c9d8f7b5-q2x8z',
  container: 'kube-state-metrics',
  instance: '10.0.3.40:8080',
  service: 'kube-prometheus-stack-kube-state-metrics',
  endpoint: 'http',
};

/** Who exposes the series of each rule group: the scrape target whose labels the alerts carry. */
const TARGETS: Record<string, Record<string, string>> = {
  'alertmanager.rules': {
    job: 'kube-prometheus-stack-alertmanager',
    namespace: 'monitoring',
    pod: 'alertmanager-kube-prometheus-stack-alertmanager-0',
    container: 'alertmanager',
    instance: '10.0.3.21:9093',
    service: 'kube-prometheus-stack-alertmanager',
    endpoint: 'http-web',
  },
  'config-reloaders': {
    job: 'kube-prometheus-stack-prometheus',
    namespace: 'monitoring',
    pod: 'prometheus-kube-prometheus-stack-prometheus-0',
    container: 'config-reloader',
    instance: '10.0.3.12:8080',
    service: 'kube-prometheus-stack-prometheus',
    endpoint: 'reloader-web',
  },
  etcd: {
    job: 'kube-etcd',
    namespace: 'kube-system',
    pod: 'etcd-ip-10-0-0-10.eu-west-1.compute.internal',
    instance: '10.0.0.10:2381',
    service: 'kube-prometheus-stack-kube-etcd',
    endpoint: 'http-metrics',
  },
  'kubernetes-apps': KSM,
  'kubernetes-resources': KSM,
  'kubernetes-storage': KSM,
  'kube-state-metrics': KSM,
  'kubernetes-system': { job: 'kubelet', instance: '10.0.1.23:10250', namespace: 'kube-system' },
  'kubernetes-system-apiserver': {
    job: 'apiserver',
    instance: '10.0.0.10:443',
    namespace: 'default',
    service: 'kubernetes',
    endpoint: 'https',
  },
  'kubernetes-system-controller-manager': {
    job: 'kube-controller-manager',
    namespace: 'kube-system',
    pod: 'kube-controller-manager-ip-10-0-0-10.eu-west-1.compute.internal',
    instance: '10.0.0.10:10257',
    service: 'kube-prometheus-stack-kube-controller-manager',
    endpoint: 'http-metrics',
  },
  'kubernetes-system-kube-proxy': {
    job: 'kube-proxy',
    namespace: 'kube-system',
    pod: 'kube-proxy-8xk2p',
    instance: '10.0.1.23:10249',
    service: 'kube-prometheus-stack-kube-proxy',
    endpoint: 'http-metrics',
  },
  'kubernetes-system-kubelet': {
    job: 'kubelet',
    namespace: 'kube-system',
    instance: '10.0.1.23:10250',
    service: 'kube-prometheus-stack-kubelet',
    endpoint: 'https-metrics',
    metrics_path: '/metrics',
  },
  'kubernetes-system-scheduler': {
    job: 'kube-scheduler',
    namespace: 'kube-system',
    pod: 'kube-scheduler-ip-10-0-0-10.eu-west-1.compute.internal',
    instance: '10.0.0.10:10259',
    service: 'kube-prometheus-stack-kube-scheduler',
    endpoint: 'http-metrics',
  },
  'node-exporter': {
    job: 'node-exporter',
    namespace: 'monitoring',
    pod: 'kube-prometheus-stack-prometheus-node-exporter-7xk2p',
    container: 'node-exporter',
    instance: '10.0.2.141:9100',
    service: 'kube-prometheus-stack-prometheus-node-exporter',
    endpoint: 'http-metrics',
  },
  'node-network': {
    job: 'node-exporter',
    namespace: 'monitoring',
    pod: 'kube-prometheus-stack-prometheus-node-exporter-7xk2p',
    container: 'node-exporter',
    instance: '10.0.2.141:9100',
    service: 'kube-prometheus-stack-prometheus-node-exporter',
    endpoint: 'http-metrics',
  },
  prometheus: {
    job: 'kube-prometheus-stack-prometheus',
    namespace: 'monitoring',
    pod: 'prometheus-kube-prometheus-stack-prometheus-0',
    container: 'prometheus',
    instance: '10.0.3.12:9090',
    service: 'kube-prometheus-stack-prometheus',
    endpoint: 'http-web',
  },
  'prometheus-operator': {
    job: 'kube-prometheus-stack-operator',
    namespace: 'monitoring',
    pod: 'kube-prometheus-stack-operator-5c8f9d7b6-h4k2m',
    container: 'kube-prometheus-stack',
    instance: '10.0.3.30:10250',
    service: 'kube-prometheus-stack-operator',
    endpoint: 'https',
  },
  'general.rules': { job: 'checkout', namespace: 'shop', service: 'checkout' },
};

/** Values of the labels that name objects, and of the other label keys the catalog lists. */
const OBJECT_VALUES: Record<string, string> = {
  deployment: 'checkout',
  statefulset: 'postgres',
  daemonset: 'fluent-bit',
  job_name: 'nightly-report-29012345',
  horizontalpodautoscaler: 'checkout',
  persistentvolumeclaim: 'data-postgres-0',
  persistentvolume: 'pvc-3f2a9c1d-0b7e-4a55-9c1e-5d8b7a6c4e21',
  poddisruptionbudget: 'checkout',
  resourcequota: 'team-shop',
  node: 'ip-10-0-1-23.eu-west-1.compute.internal',
};
const OTHER_VALUES: Record<string, string> = {
  cluster: 'prod-eks-eu-west-1',
  prometheus: 'monitoring/kube-prometheus-stack-prometheus',
  reason: 'CrashLoopBackOff',
  uid: '5c1f9a2e-1b7d-4f0e-9a43-6f2c8e1d0b37',
  condition: 'true',
  status: 'true',
  device: '/dev/nvme0n1p1',
  fstype: 'xfs',
  mountpoint: '/',
  integration: 'webhook',
  grpc_method: 'Range',
  grpc_service: 'etcdserverpb.KV',
  To: 'etcd-1',
  long: '1h',
  short: '5m',
  resource: 'requests.cpu',
  phase: 'Failed',
  metrics_path: '/metrics',
  eviction_signal: 'memory.available',
  quantile: '0.99',
  master: 'bond0',
  state: 'failed',
  type: 'simple',
  controller: 'prometheus',
  mechanism: 'kubernetes',
  rule_group:
    '/etc/prometheus/rules/prometheus-kube-prometheus-stack-prometheus-rulefiles-0/kubernetes-apps.yaml;kubernetes-apps',
  remote_name: 'thanos',
  url: 'https://thanos-receive.monitoring:19291/api/v1/receive',
  scrape_job: 'serviceMonitor/shop/checkout/0',
  alertmanager: 'http://10.0.3.21:9093/api/v2/alerts',
  key: 'node.kubernetes.io/unreachable',
  effect: 'NoSchedule',
};

const APP_POD = { pod: 'checkout-7f9c6d8b5-x2x4z', container: 'app', namespace: 'shop' };

/** Where kube-prometheus-stack points each rule's runbook_url. */
function runbookUrl(entry: PrometheusCatalogEntry): string {
  const directory =
    entry.group.startsWith('kubernetes') || entry.group === 'kube-state-metrics'
      ? entry.group === 'kube-state-metrics'
        ? 'kube-state-metrics'
        : 'kubernetes'
      : entry.group === 'node-exporter' || entry.group === 'node-network'
        ? 'node'
        : entry.group === 'alertmanager.rules'
          ? 'alertmanager'
          : entry.group === 'general.rules'
            ? 'general'
            : entry.group === 'config-reloaders'
              ? 'prometheus-operator'
              : entry.group;
  return `https://runbooks.prometheus-operator.dev/runbooks/${directory}/${entry.name.toLowerCase()}`;
}

/** The labels an alert of this rule carries when it reaches Alertmanager, with realistic values. */
export function catalogLabels(entry: PrometheusCatalogEntry, environment: string): Record<string, string> {
  const target = TARGETS[entry.group] ?? {};
  const namesObject = entry.labels.some((key) => key in OBJECT_VALUES);
  // A pod-level alert's pod, container and namespace are the object's (honorLabels); an object alert
  // keeps the scrape target's own.
  const podLevel = !namesObject && entry.labels.includes('pod') && target === KSM;
  const cadvisor = entry.name === 'CPUThrottlingHigh';
  // Some groups' alerts come from kube-state-metrics series (KubeNodeNotReady): its labels fill the gaps.
  const values: Record<string, string> = {
    ...OTHER_VALUES,
    ...KSM,
    ...target,
    ...(podLevel || cadvisor ? APP_POD : {}),
    ...(entry.name === 'KubeContainerWaiting' ? { reason: 'ImagePullBackOff' } : {}),
    ...(namesObject && target === KSM ? { namespace: 'shop' } : {}),
    ...(entry.labels.includes('persistentvolumeclaim') ? { namespace: 'db' } : {}),
    ...OBJECT_VALUES,
    name: entry.name.startsWith('KubeAggregatedAPI') ? 'v1beta1.metrics.k8s.io' : 'kubelet.service',
    environment,
  };
  const labels: Record<string, string> = {
    alertname: entry.name,
    severity: entry.severities[0] ?? 'warning',
  };
  for (const key of entry.labels) {
    const value = values[key];
    if (value !== undefined) labels[key] = value;
  }
  return labels;
}

export function catalogAlertmanagerBody(
  entry: PrometheusCatalogEntry,
  environment: string,
): AlertmanagerBody {
  return alertmanagerBody(catalogLabels(entry, environment), {
    summary: `${entry.name} (kube-prometheus-stack, ${entry.group})`,
    runbook_url: runbookUrl(entry),
  });
}

const DIMENSION_VALUES: Record<string, string> = {
  LoadBalancer: 'app/shop-alb/50dc6c495c0c9188',
  TargetGroup: 'targetgroup/checkout-web/73e2d6bc24d8a067',
  ApiName: 'shop-api',
  Stage: 'prod',
  TableName: 'carts',
  Operation: 'PutItem',
  VolumeId: 'vol-0a1b2c3d4e5f60718',
  InstanceId: 'i-0a1b2c3d4e5f60718',
  ServiceName: 'checkout',
  CacheClusterId: 'sessions-001',
  CacheNodeId: '0001',
  StreamName: 'clickstream',
  FunctionName: 'checkout-api',
  NatGatewayId: 'nat-0a1b2c3d4e5f60718',
  DBInstanceIdentifier: 'orders-db',
  QueueName: 'order-events',
  NodeName: 'ip-10-0-1-23.eu-west-1.compute.internal',
  Namespace: 'shop',
  PodName: 'checkout-7f9c6d8b5-x2x4z',
};

export function catalogAlarm(entry: CloudWatchCatalogEntry, environment: string): AlarmFacts {
  const dimensions: Record<string, string> = {};
  for (const key of entry.dimensions) {
    dimensions[key] =
      key === 'ClusterName'
        ? entry.namespace === 'ContainerInsights'
          ? 'prod-eks-eu-west-1'
          : 'shop'
        : (DIMENSION_VALUES[key] ?? `${key.toLowerCase()}-1`);
  }
  const subject = Object.values(dimensions).at(-1) ?? 'account';
  return {
    alarmName: `${subject.replace(/[^A-Za-z0-9-]/g, '-')}-${entry.metric}`.slice(0, 255),
    namespace: entry.namespace,
    metricName: entry.metric,
    dimensions,
    statistic: entry.statistic,
    tags: { environment },
    region: 'eu-west-1',
    account: '333333333333',
  };
}

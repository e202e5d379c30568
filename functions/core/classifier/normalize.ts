import { ALERT_LIMITS, type Alert, type AlertResource, type AlertStatus, type Severity } from '../alert.ts';
import { ALERT_BUDGET_BYTES } from '../compiler/budgets.ts';
import type { RuntimeConfig } from '../config.ts';
import { InvalidEventError, type Problem } from '../errors.ts';
import { KUBERNETES_CLUSTER_OBJECT_LABELS, KUBERNETES_OBJECT_LABELS } from '../resource.ts';
import { categorize } from './categorize.ts';
import {
  vouchAlertmanagerWebhook,
  vouchAlertmanagerWebhookInPlace,
  vouchCloudWatchAlarmEvent,
  vouchCloudWatchAlarmEventInPlace,
} from './fast-payloads.ts';
import { stableHash } from './identity.ts';
import {
  type AlarmMetric,
  type AlertmanagerAlert,
  type AlertmanagerWebhook,
  type CloudWatchAlarmEvent,
  DetailType,
  parseAlertmanagerWebhook,
  parseCloudWatchAlarmEvent,
  toIsoTimestamp,
} from './payloads.ts';
import { checkedAlert, checkedBuiltAlert } from './vouch-alert.ts';

/**
 * Every source's payload into the one Alert shape (functions/core/alert.ts). Pure: the callers parse
 * the HTTP body or take the EventBridge event, these functions validate it (InvalidEventError naming
 * the field) and return alerts that fit ALERT_BUDGET_BYTES.
 */

export interface NormalizeOptions {
  /** Labels that name the environment, first present wins (RuntimeConfig.environmentLabels). */
  environmentLabels: readonly string[];
  /** The environment when no such label is present: the deployment's own (RuntimeConfig.environment). */
  defaultEnvironment: string;
  /** Size the normalized alert must fit, as compact JSON; default ALERT_BUDGET_BYTES (32 KB). */
  budgetBytes?: number;
}

export function normalizeOptions(
  config: Pick<RuntimeConfig, 'environment' | 'environmentLabels'>,
): NormalizeOptions {
  return { environmentLabels: config.environmentLabels, defaultEnvironment: config.environment };
}

// ---------------------------------------------------------------------------------------------------------------
// Shared

/** Severity words seen in the wild, onto our four; anything else is a warning. */
export const SEVERITY_ALIASES: Readonly<Record<string, Severity>> = {
  critical: 'critical',
  crit: 'critical',
  page: 'critical',
  emergency: 'critical',
  emerg: 'critical',
  fatal: 'critical',
  disaster: 'critical',
  p0: 'critical',
  p1: 'critical',
  sev0: 'critical',
  sev1: 'critical',
  high: 'high',
  error: 'high',
  err: 'high',
  major: 'high',
  severe: 'high',
  p2: 'high',
  sev2: 'high',
  warning: 'warning',
  warn: 'warning',
  medium: 'warning',
  moderate: 'warning',
  minor: 'warning',
  p3: 'warning',
  sev3: 'warning',
  info: 'info',
  informational: 'info',
  information: 'info',
  notice: 'info',
  low: 'info',
  none: 'info',
  debug: 'info',
  ok: 'info',
  p4: 'info',
  p5: 'info',
  sev4: 'info',
  sev5: 'info',
};

export function mapSeverity(value: string | undefined): Severity {
  if (value === undefined) return 'warning';
  return SEVERITY_ALIASES[value.trim().toLowerCase()] ?? 'warning';
}

/** The value of the first environment label present (and not empty), else the default. */
export function environmentOf(labels: Readonly<Record<string, string>>, options: NormalizeOptions): string {
  for (const name of options.environmentLabels) {
    const value = labels[name]?.trim();
    if (value) return value;
  }
  return options.defaultEnvironment;
}

/** A resource's fields, an optional one possibly undefined (left out). */
type ResourceFields = Pick<AlertResource, 'type' | 'id'> & {
  [K in Exclude<keyof AlertResource, 'type' | 'id'>]?: AlertResource[K] | undefined;
};

/**
 * The resource in AlertResource's key order (the order Alert.parse gives), without its undefined
 * fields: field by field, so the order is this function's whatever a caller's literal lists.
 */
function resourceOf(f: ResourceFields): AlertResource {
  const resource: AlertResource = { type: f.type, id: f.id };
  if (f.kind !== undefined) resource.kind = f.kind;
  if (f.name !== undefined) resource.name = f.name;
  if (f.namespace !== undefined) resource.namespace = f.namespace;
  if (f.cluster !== undefined) resource.cluster = f.cluster;
  if (f.container !== undefined) resource.container = f.container;
  if (f.node !== undefined) resource.node = f.node;
  if (f.address !== undefined) resource.address = f.address;
  if (f.job !== undefined) resource.job = f.job;
  if (f.service !== undefined) resource.service = f.service;
  if (f.region !== undefined) resource.region = f.region;
  if (f.account !== undefined) resource.account = f.account;
  if (f.arn !== undefined) resource.arn = f.arn;
  if (f.identifiers !== undefined) resource.identifiers = f.identifiers;
  return resource;
}

/** Copies a record's fields as a spread would (a `__proto__` key stays a field, never the prototype). */
function putAll(target: Record<string, string>, record: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(record)) {
    if (key === '__proto__')
      Object.defineProperty(target, key, {
        value: record[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else target[key] = record[key]!;
  }
}

/** What normalize gathers for an alert; an optional field left undefined is left out. */
interface AlertFields {
  source: Alert['source'];
  name: string;
  status: AlertStatus;
  severity: Severity;
  category: Alert['category'];
  summary: string;
  description: string | undefined;
  environment: string;
  resource: AlertResource;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  fingerprint: string;
  startsAt: string;
  endsAt: string | undefined;
  generatorURL: string | undefined;
}

/** The alert in Alert's key order (the order Alert.parse gives), without its undefined optional fields. */
function alertOf(f: AlertFields): Record<string, unknown> {
  // Field by field rather than a literal filtered for undefined: no second object, no loop over keys.
  const alert: Record<string, unknown> = {
    source: f.source,
    name: f.name,
    status: f.status,
    severity: f.severity,
    category: f.category,
    summary: f.summary,
  };
  if (f.description !== undefined) alert.description = f.description;
  alert.environment = f.environment;
  alert.resource = f.resource;
  alert.labels = f.labels;
  alert.annotations = f.annotations;
  alert.fingerprint = f.fingerprint;
  alert.startsAt = f.startsAt;
  if (f.endsAt !== undefined) alert.endsAt = f.endsAt;
  if (f.generatorURL !== undefined) alert.generatorURL = f.generatorURL;
  return alert;
}

// ---------------------------------------------------------------------------------------------------------------
// Alertmanager

const FNV_OFFSET = 14695981039346656037n;
const FNV_PRIME = 1099511628211n;
const UINT64 = (1n << 64n) - 1n;
const LABEL_SEPARATOR = 0xff;

/**
 * Alertmanager's fingerprint of a label set (prometheus/common model.LabelSet.Fingerprint): FNV-1a 64
 * over the sorted label names and values, each followed by the byte 0xff, as 16 hex digits. Used only
 * when the sender left `fingerprint` out, so old and new senders dedupe alike.
 */
export function prometheusFingerprint(labels: Readonly<Record<string, string>>): string {
  let hash = FNV_OFFSET;
  const add = (byte: number) => {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & UINT64;
  };
  const names = Object.keys(labels).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    for (const byte of Buffer.from(name, 'utf8')) add(byte);
    add(LABEL_SEPARATOR);
    for (const byte of Buffer.from(labels[name]!, 'utf8')) add(byte);
    add(LABEL_SEPARATOR);
  }
  return hash.toString(16).padStart(16, '0');
}

/** `10.0.1.23:9100` → `10.0.1.23`, `[fd00::1]:9100` → `fd00::1`, `https://shop.example.com:8443/health` → `shop.example.com`. */
export function stripPort(instance: string): string {
  const text = instance.trim();
  if (text.includes('://')) {
    try {
      const host = new URL(text).hostname.replace(/^\[|\]$/g, '');
      if (host !== '') return host;
    } catch {
      // Not a URL after all: fall through to host:port.
    }
  }
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) return bracketed[1]!;
  const hostPort = /^([^:]+):\d+$/.exec(text);
  return hostPort ? hostPort[1]! : text;
}

/**
 * Jobs whose every alert is about the host they run on: their `pod`/`namespace` labels name the
 * exporter's own pod (the scrape target), not what is wrong, so `instance` is the resource.
 */
export const HOST_EXPORTER_JOB = /(^|[-_/])(node|windows)[-_]exporter$/;

/**
 * Exporters of other objects' state. Scraped with honorLabels (kube-prometheus-stack does), an object's
 * own `namespace`/`pod`/`container` labels win; where the object has none (a Deployment, a node), the
 * alert still carries the exporter's own `pod`, `container` and `instance`: they are not the resource.
 */
export const OBJECT_EXPORTER_JOB = /(^|[-_/])kube-state-metrics$/;

/** The `pod` label names the exporter's own pod (kube-state-metrics' pod on an object alert). */
function isExporterPod(labels: Readonly<Record<string, string>>): boolean {
  const job = labels.job ?? '';
  if (!OBJECT_EXPORTER_JOB.test(job) && !HOST_EXPORTER_JOB.test(job)) return false;
  const exporter = job.replace(/^.*[/]/, '');
  return labels.container === exporter || (labels.pod ?? '').includes(exporter);
}

/** Scrape jobs of the Kubernetes control plane: their alerts are about the cluster, not a pod. */
const CONTROL_PLANE_JOB =
  /^(apiserver|kube-scheduler|kube-controller-manager|kube-proxy|kubelet|coredns|kube-etcd|etcd)$/;

/**
 * What a Prometheus alert is about, from its labels, most specific first:
 *
 * - an object kube-state-metrics names (`horizontalpodautoscaler`, `persistentvolumeclaim`, `job_name`,
 *   `deployment`, …) in its `namespace` → that object (k8s-hpa, k8s-pvc, k8s-job, k8s-deployment…), even
 *   though the alert also carries kube-state-metrics' own `pod`/`container`/`instance`;
 * - `node` → k8s-node; `persistentvolume` → k8s-pv;
 * - `pod` + `namespace` → k8s-pod (with `container`), unless the pod is the exporter's own;
 * - a host exporter's `instance` (node-exporter names hosts by IP) → host, address without the port;
 *   the node is resolved at run time from node addresses;
 * - `service` + `namespace` → k8s-service (TargetDown: the scrape `job` is kept);
 * - another `instance` → host; `namespace` → k8s-namespace; a control-plane `job` or a bare `cluster`
 *   → k8s-cluster; otherwise the alert group (alertname).
 *
 * A `cluster` label scopes every kind.
 */
export function alertmanagerResource(labels: Readonly<Record<string, string>>): AlertResource {
  const cluster = labels.cluster || undefined;
  const namespace = labels.namespace || undefined;
  const hostExporter = HOST_EXPORTER_JOB.test(labels.job ?? '');
  const exporterPod = isExporterPod(labels);
  const container = exporterPod ? undefined : labels.container || undefined;
  for (const { label, kind, type } of KUBERNETES_OBJECT_LABELS) {
    const name = labels[label];
    if (name && namespace) return resourceOf({ type, id: name, kind, name, namespace, cluster });
  }
  if (labels.node) {
    return resourceOf({
      type: 'k8s-node',
      id: labels.node,
      kind: 'Node',
      name: labels.node,
      cluster,
      node: labels.node,
    });
  }
  for (const { label, kind, type } of KUBERNETES_CLUSTER_OBJECT_LABELS) {
    const name = labels[label];
    if (name) return resourceOf({ type, id: name, kind, name, cluster });
  }
  if (labels.pod && namespace && !hostExporter && !exporterPod) {
    return resourceOf({
      type: 'k8s-pod',
      id: labels.pod,
      kind: 'Pod',
      name: labels.pod,
      namespace,
      cluster,
      container,
    });
  }
  const host = labels.instance ? stripPort(labels.instance) : '';
  if (host !== '' && hostExporter) return resourceOf({ type: 'host', id: host, cluster, address: host });
  if (labels.service && namespace && !CONTROL_PLANE_JOB.test(labels.job ?? '')) {
    return resourceOf({
      type: 'k8s-service',
      id: labels.service,
      kind: 'Service',
      name: labels.service,
      namespace,
      cluster,
      job: labels.job || undefined,
    });
  }
  if (host !== '' && !exporterPod) return resourceOf({ type: 'host', id: host, cluster, address: host });
  if (CONTROL_PLANE_JOB.test(labels.job ?? '')) {
    return resourceOf({ type: 'k8s-cluster', id: cluster ?? labels.job!, cluster, job: labels.job });
  }
  if (namespace)
    return resourceOf({
      type: 'k8s-namespace',
      id: namespace,
      kind: 'Namespace',
      name: namespace,
      namespace,
      cluster,
    });
  if (cluster) return resourceOf({ type: 'k8s-cluster', id: cluster, cluster });
  return resourceOf({ type: 'alert-group', id: labels.alertname ?? 'unknown', cluster });
}

/** Go's zero time as toIsoTimestamp writes it (isZeroTime's test, without parsing again). */
const ZERO_TIME_ISO = '0001-01-01T00:00:00.000Z';

/** The ISO forms the fast path parsed (by text); zod's path leaves them to toIsoTimestamp. */
type Timestamps = ReadonlyMap<string, string> | undefined;

function isoOf(text: string, timestamps: Timestamps): string {
  return timestamps?.get(text) ?? toIsoTimestamp(text)!;
}

/**
 * How normalize got its payload: parsed by zod (anything goes until Alert.parse checks the alert), vouched
 * for by fast-payloads.ts as a copy (the alert may keep its labels and annotations), or in place (the
 * payload is the caller's: the alert copies them). Vouched payloads hold what checkedBuiltAlert relies on.
 */
type Origin = 'zod' | 'copy' | 'in place';

function normalizeAlertmanagerAlert(
  alert: AlertmanagerAlert,
  options: NormalizeOptions,
  timestamps: Timestamps,
  origin: Origin,
): Alert {
  // A parsed or copied webhook is normalize's own: its labels and annotations are no one else's.
  const labels = origin === 'in place' ? { ...alert.labels } : alert.labels;
  const annotations = origin === 'in place' ? { ...alert.annotations } : alert.annotations;
  const name = labels.alertname!;
  const ends = alert.endsAt === undefined ? undefined : isoOf(alert.endsAt, timestamps);
  const endsAt = ends === ZERO_TIME_ISO ? undefined : ends;
  const normalized = alertOf({
    source: 'prometheus',
    name,
    status: alert.status,
    severity: mapSeverity(labels.severity),
    category: categorize({ name }),
    summary: annotations.summary || annotations.description || annotations.message || name,
    description: annotations.description || undefined,
    environment: environmentOf(labels, options),
    resource: alertmanagerResource(labels),
    labels,
    annotations,
    fingerprint: alert.fingerprint ?? prometheusFingerprint(labels),
    startsAt: isoOf(alert.startsAt, timestamps),
    endsAt,
    generatorURL: alert.generatorURL || undefined,
  });
  return fitAlertToBudget(
    origin === 'zod' ? checkedAlert(normalized) : checkedBuiltAlert(normalized),
    options.budgetBytes,
  );
}

/**
 * One Alert per alert in an Alertmanager webhook v4 body (a group carries many; each keeps its own
 * status). Labels and annotations are kept verbatim. Throws InvalidEventError naming the bad field.
 */
export function normalizeAlertmanager(body: unknown, options: NormalizeOptions): Alert[] {
  // The common valid body is vouched for without zod (fast-payloads.ts); anything else goes through zod.
  let origin: Origin = 'in place';
  let vouched = vouchAlertmanagerWebhookInPlace(body);
  if (vouched === undefined) {
    origin = 'copy';
    vouched = vouchAlertmanagerWebhook(body);
  }
  if (vouched === undefined) origin = 'zod';
  const webhook: AlertmanagerWebhook = vouched?.value ?? parseAlertmanagerWebhook(body);
  const problems = webhook.alerts.some((alert) => mayExceedLimits(alert, options))
    ? webhook.alerts.flatMap((alert, index) => alertmanagerLimitProblems(alert, index, options))
    : [];
  throwLimitProblems(problems, 'Alertmanager webhook body');
  return webhook.alerts.map((alert) =>
    normalizeAlertmanagerAlert(alert, options, vouched?.timestamps, origin),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Limits (ALERT_LIMITS): what names an alert goes into keys and events, so it is refused, never cut

type LimitProblem = Omit<Problem, 'line' | 'column'>;

function tooLong(path: string, what: string, value: string, limit: number): LimitProblem[] {
  const bytes = Buffer.byteLength(value, 'utf8');
  return bytes <= limit
    ? []
    : [{ check: 'limit', path, message: `${what} is ${bytes} bytes; at most ${limit} are accepted` }];
}

function longNames(path: string, what: string, record: Readonly<Record<string, string>>): LimitProblem[] {
  const names = Object.keys(record).filter(
    (name) => Buffer.byteLength(name, 'utf8') > ALERT_LIMITS.fieldNameBytes,
  );
  if (names.length === 0) return [];
  const first = names[0]!;
  return [
    {
      check: 'limit',
      path,
      message: `a ${what} name is ${Buffer.byteLength(first, 'utf8')} bytes ("${first.slice(0, 20)}…"); names of at most ${ALERT_LIMITS.fieldNameBytes} bytes are accepted`,
    },
  ];
}

/** Labels that become the alert's resource or environment (see alertmanagerResource, environmentOf). */
const IDENTITY_LABELS = [
  'node',
  'pod',
  'namespace',
  'instance',
  'cluster',
  'container',
  'service',
  'job',
  ...KUBERNETES_OBJECT_LABELS.map((object) => object.label),
  ...KUBERNETES_CLUSTER_OBJECT_LABELS.map((object) => object.label),
] as const;

const IDENTITY_LABEL_SET: ReadonlySet<string> = new Set(IDENTITY_LABELS);

/** UTF-8 takes at most 3 bytes per UTF-16 code unit: text this short is within `limit` without measuring. */
const surelyWithin = (text: string, limit: number) => text.length * 3 <= limit;

/** An absent label, or a value surely within the limit of what becomes the resource or environment. */
const surelyValue = (value: unknown) =>
  value === undefined || (typeof value === 'string' && surelyWithin(value, ALERT_LIMITS.resourceFieldBytes));

/**
 * False when no limit can be exceeded (every name and limited value short enough by its length alone),
 * so alertmanagerLimitProblems would find nothing; true when it must look.
 */
function mayExceedLimits(alert: AlertmanagerAlert, options: NormalizeOptions): boolean {
  const labels = alert.labels;
  if (!surelyWithin(labels.alertname ?? '', ALERT_LIMITS.nameBytes)) return true;
  if (alert.fingerprint !== undefined && !surelyWithin(alert.fingerprint, ALERT_LIMITS.fingerprintBytes))
    return true;
  // The identity labels by the alert's labels (a few) rather than by name (two dozen, mostly absent).
  for (const name in labels) {
    if (!surelyWithin(name, ALERT_LIMITS.fieldNameBytes)) return true;
    if (IDENTITY_LABEL_SET.has(name) && !surelyValue(labels[name])) return true;
  }
  for (const name in alert.annotations) if (!surelyWithin(name, ALERT_LIMITS.fieldNameBytes)) return true;
  for (const name of options.environmentLabels) if (!surelyValue(labels[name])) return true;
  return false;
}

function alertmanagerLimitProblems(
  alert: AlertmanagerAlert,
  index: number,
  options: NormalizeOptions,
): LimitProblem[] {
  const at = `alerts[${index}]`;
  const labels = alert.labels;
  return [
    ...tooLong(`${at}.labels.alertname`, 'the alertname', labels.alertname ?? '', ALERT_LIMITS.nameBytes),
    ...(alert.fingerprint === undefined
      ? []
      : tooLong(`${at}.fingerprint`, 'the fingerprint', alert.fingerprint, ALERT_LIMITS.fingerprintBytes)),
    ...[...IDENTITY_LABELS, ...options.environmentLabels].flatMap((name) =>
      labels[name] === undefined
        ? []
        : tooLong(`${at}.labels.${name}`, `the ${name} label`, labels[name], ALERT_LIMITS.resourceFieldBytes),
    ),
    ...longNames(`${at}.labels`, 'label', labels),
    ...longNames(`${at}.annotations`, 'annotation', alert.annotations),
  ];
}

function cloudWatchLimitProblems(event: CloudWatchAlarmEvent, options: NormalizeOptions): LimitProblem[] {
  const { detail } = event;
  const problems: LimitProblem[] = [
    ...tooLong('detail.alarmName', 'the alarm name', detail.alarmName, ALERT_LIMITS.nameBytes),
    ...event.resources.flatMap((resource, index) =>
      tooLong(`resources[${index}]`, 'the resource ARN', resource, ALERT_LIMITS.resourceFieldBytes),
    ),
  ];
  for (const [index, metric] of detail.configuration.metrics.entries()) {
    const dimensions = metric.metricStat?.metric.dimensions ?? {};
    const at = `detail.configuration.metrics[${index}].metricStat.metric.dimensions`;
    problems.push(...longNames(at, 'dimension', dimensions));
    for (const [name, value] of Object.entries(dimensions))
      if (Buffer.byteLength(name, 'utf8') <= ALERT_LIMITS.fieldNameBytes)
        problems.push(
          ...tooLong(`${at}.${name}`, `the ${name} dimension`, value, ALERT_LIMITS.resourceFieldBytes),
        );
  }
  const tags = detail.alarmTags ?? {};
  problems.push(...longNames('detail.alarmTags', 'tag', tags));
  for (const name of options.environmentLabels)
    if (tags[name] !== undefined)
      problems.push(
        ...tooLong(
          `detail.alarmTags.${name}`,
          `the ${name} tag`,
          tags[name],
          ALERT_LIMITS.resourceFieldBytes,
        ),
      );
  return problems;
}

/**
 * False when cloudWatchLimitProblems can find nothing (every name and limited value short enough by its
 * length alone); true when it must look.
 */
function cloudWatchMayExceedLimits(event: CloudWatchAlarmEvent, options: NormalizeOptions): boolean {
  const { detail } = event;
  if (!surelyWithin(detail.alarmName, ALERT_LIMITS.nameBytes)) return true;
  for (const resource of event.resources)
    if (!surelyWithin(resource, ALERT_LIMITS.resourceFieldBytes)) return true;
  for (const metric of detail.configuration.metrics) {
    const dimensions = metric.metricStat?.metric.dimensions;
    if (dimensions === undefined) continue;
    for (const name of Object.keys(dimensions))
      if (
        !surelyWithin(name, ALERT_LIMITS.fieldNameBytes) ||
        !surelyWithin(dimensions[name]!, ALERT_LIMITS.resourceFieldBytes)
      )
        return true;
  }
  const tags = detail.alarmTags;
  if (tags === undefined) return false;
  for (const name of Object.keys(tags)) if (!surelyWithin(name, ALERT_LIMITS.fieldNameBytes)) return true;
  for (const name of options.environmentLabels) {
    const value = tags[name];
    if (
      value !== undefined &&
      (typeof value !== 'string' || !surelyWithin(value, ALERT_LIMITS.resourceFieldBytes))
    )
      return true;
  }
  return false;
}

function throwLimitProblems(problems: LimitProblem[], what: string): void {
  if (problems.length === 0) return;
  const first = problems[0]!;
  const more =
    problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  throw new InvalidEventError(`invalid ${what}: ${first.path}: ${first.message}${more}`, problems);
}

// ---------------------------------------------------------------------------------------------------------------
// CloudWatch

interface AwsScope {
  alarmArn: string;
  region: string;
  account: string;
}

const arnOf = (scope: AwsScope, service: string, resource: string, regional = true) =>
  `arn:${partitionOf(scope.alarmArn)}:${service}:${regional ? scope.region : ''}:${scope.account}:${resource}`;

function partitionOf(arn: string): string {
  return /^arn:(aws[a-z-]*):/.exec(arn)?.[1] ?? 'aws';
}

/** `targetgroup/web/73e2d6bc24d8a067` → `web`; `app/shop-alb/50dc6c495c0c9188` → `shop-alb`. */
function elbName(dimension: string): string {
  const parts = dimension.split('/');
  return parts.length >= 3 ? parts[parts.length - 2]! : dimension;
}

/**
 * What an alarm is about, from its metric's dimensions (and namespace), most specific first. Container
 * Insights: NodeName → k8s-node (it also carries InstanceId, kept), PodName + Namespace → k8s-pod,
 * ClusterName alone → k8s-cluster. ALB: TargetGroup → target-group (LoadBalancer kept), LoadBalancer →
 * load-balancer. ClusterName + ServiceName → ecs-service; InstanceId → ec2-instance; FunctionName →
 * lambda-function; DBInstanceIdentifier → rds-instance; DBClusterIdentifier → rds-cluster; QueueName →
 * sqs-queue; TableName → dynamodb-table; ApiName/ApiId + Stage → apigateway-stage; CacheClusterId →
 * elasticache-cluster; StreamName → kinesis-stream; VolumeId → ebs-volume; NatGatewayId → nat-gateway;
 * AutoScalingGroupName → autoscaling-group; otherwise the alarm itself (id: its ARN). Region and
 * account are always set, the ARN wherever the dimensions determine it. The ECS services, Auto Scaling
 * group or instances behind a target group are resolved at run time.
 */
export function cloudWatchResource(
  dimensions: Readonly<Record<string, string>>,
  scope: AwsScope,
  namespace = '',
): AlertResource {
  const { region, account } = scope;
  const d = dimensions;
  const identifiers = Object.keys(d).length > 0 ? { ...d } : undefined;
  const kubernetes = namespace === 'ContainerInsights';
  const cluster = d.ClusterName || undefined;
  if (d.NodeName) {
    return resourceOf({
      type: 'k8s-node',
      id: d.NodeName,
      kind: 'Node',
      name: d.NodeName,
      cluster,
      node: d.NodeName,
      region,
      account,
      identifiers,
    });
  }
  if (d.PodName && d.Namespace) {
    return resourceOf({
      type: 'k8s-pod',
      id: d.PodName,
      kind: 'Pod',
      name: d.PodName,
      namespace: d.Namespace,
      cluster,
      region,
      account,
      identifiers,
    });
  }
  if (d.TargetGroup) {
    return resourceOf({
      type: 'target-group',
      id: d.TargetGroup,
      name: elbName(d.TargetGroup),
      service: 'elasticloadbalancing',
      region,
      account,
      arn: arnOf(scope, 'elasticloadbalancing', d.TargetGroup),
      identifiers,
    });
  }
  if (d.LoadBalancer) {
    return resourceOf({
      type: 'load-balancer',
      id: d.LoadBalancer,
      name: elbName(d.LoadBalancer),
      service: 'elasticloadbalancing',
      region,
      account,
      arn: arnOf(scope, 'elasticloadbalancing', `loadbalancer/${d.LoadBalancer}`),
      identifiers,
    });
  }
  if (cluster && d.ServiceName) {
    return resourceOf({
      type: 'ecs-service',
      id: d.ServiceName,
      name: d.ServiceName,
      cluster,
      service: 'ecs',
      region,
      account,
      arn: arnOf(scope, 'ecs', `service/${cluster}/${d.ServiceName}`),
      identifiers,
    });
  }
  if (d.InstanceId) {
    return resourceOf({
      type: 'ec2-instance',
      id: d.InstanceId,
      name: d.InstanceId,
      cluster,
      service: 'ec2',
      region,
      account,
      arn: arnOf(scope, 'ec2', `instance/${d.InstanceId}`),
      identifiers,
    });
  }
  const named = (type: string, service: string, name: string, arn?: string) =>
    resourceOf({ type, id: name, name, service, region, account, arn, identifiers });
  if (d.FunctionName) {
    return named(
      'lambda-function',
      'lambda',
      d.FunctionName,
      arnOf(scope, 'lambda', `function:${d.FunctionName}`),
    );
  }
  if (d.DBInstanceIdentifier) {
    return named(
      'rds-instance',
      'rds',
      d.DBInstanceIdentifier,
      arnOf(scope, 'rds', `db:${d.DBInstanceIdentifier}`),
    );
  }
  if (d.DBClusterIdentifier) {
    return named(
      'rds-cluster',
      'rds',
      d.DBClusterIdentifier,
      arnOf(scope, 'rds', `cluster:${d.DBClusterIdentifier}`),
    );
  }
  if (d.QueueName) return named('sqs-queue', 'sqs', d.QueueName, arnOf(scope, 'sqs', d.QueueName));
  if (d.TableName) {
    return named('dynamodb-table', 'dynamodb', d.TableName, arnOf(scope, 'dynamodb', `table/${d.TableName}`));
  }
  if ((d.ApiName || d.ApiId) && d.Stage) {
    return resourceOf({
      type: 'apigateway-stage',
      id: `${d.ApiName ?? d.ApiId}/${d.Stage}`,
      name: d.ApiName ?? d.ApiId,
      service: 'apigateway',
      region,
      account,
      identifiers,
    });
  }
  if (d.ApiName || d.ApiId) return named('apigateway-api', 'apigateway', (d.ApiName ?? d.ApiId)!);
  if (d.CacheClusterId)
    return named(
      'elasticache-cluster',
      'elasticache',
      d.CacheClusterId,
      arnOf(scope, 'elasticache', `cluster:${d.CacheClusterId}`),
    );
  if (d.StreamName)
    return named(
      'kinesis-stream',
      'kinesis',
      d.StreamName,
      arnOf(scope, 'kinesis', `stream/${d.StreamName}`),
    );
  if (d.VolumeId) return named('ebs-volume', 'ec2', d.VolumeId, arnOf(scope, 'ec2', `volume/${d.VolumeId}`));
  if (d.NatGatewayId)
    return named('nat-gateway', 'ec2', d.NatGatewayId, arnOf(scope, 'ec2', `natgateway/${d.NatGatewayId}`));
  if (d.AutoScalingGroupName) return named('autoscaling-group', 'autoscaling', d.AutoScalingGroupName);
  if (cluster && kubernetes)
    return resourceOf({ type: 'k8s-cluster', id: cluster, cluster, region, account, identifiers });
  if (cluster) return named('ecs-cluster', 'ecs', cluster, arnOf(scope, 'ecs', `cluster/${cluster}`));
  return { type: 'alarm', id: scope.alarmArn, service: 'cloudwatch', region, account, arn: scope.alarmArn };
}

/** The metric an alarm watches: the first metric with a metricStat (for metric math, the first input). */
export function primaryMetric(metrics: readonly AlarmMetric[]): AlarmMetric | undefined {
  return metrics.find((metric) => metric.metricStat !== undefined);
}

/**
 * ALARM is firing and OK resolved. INSUFFICIENT_DATA is neither, and we must not call it a recovery (an
 * instance that died stops sending data) nor a new problem (a quiet function stops sending data): after
 * ALARM it stays firing (joins the open incident, never verifies a fix), after anything else it is
 * resolved (closes nothing, starts nothing).
 */
export function alarmStatus(event: CloudWatchAlarmEvent): AlertStatus {
  const { state, previousState } = event.detail;
  if (state.value === 'ALARM') return 'firing';
  if (state.value === 'INSUFFICIENT_DATA' && previousState?.value === 'ALARM') return 'firing';
  return 'resolved';
}

const REASON_DATA_FIELDS = [
  'threshold',
  'recentDatapoints',
  'recentLowerThresholds',
  'recentUpperThresholds',
  'statistic',
  'period',
  'unit',
  'queryDate',
  'startDate',
] as const;

/** The facts in `reasonData` (a JSON string) as annotations; text that is not JSON is kept, never thrown. */
export function reasonDataAnnotations(reasonData: string | undefined): Record<string, string> {
  const annotations: Record<string, string> = {};
  addReasonData(annotations, reasonData);
  return annotations;
}

/** reasonDataAnnotations written into `annotations` (normalize's own object: no copy of them to spread). */
function addReasonData(annotations: Record<string, string>, reasonData: string | undefined): void {
  if (reasonData === undefined || reasonData === '') return;
  annotations.reasonData = reasonData;
  let parsed: unknown;
  try {
    parsed = JSON.parse(reasonData);
  } catch (error) {
    annotations.reasonDataError = `reasonData is not valid JSON (${(error as Error).message}); kept as text`;
    return;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    annotations.reasonDataError = 'reasonData is not a JSON object; kept as text';
    return;
  }
  const data = parsed as Record<string, unknown>;
  for (const field of REASON_DATA_FIELDS) {
    const value = data[field];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      annotations[field] = String(value);
    } else if (
      Array.isArray(value) &&
      value.every((item) => typeof item === 'number' || typeof item === 'string')
    ) {
      annotations[field] = value.join(',');
    }
  }
  if (Array.isArray(data.evaluatedDatapoints))
    annotations.evaluatedDatapoints = String(data.evaluatedDatapoints.length);
}

function consoleUrl(alarmArn: string, region: string, alarmName: string): string {
  const partition = /^arn:(aws[a-z-]*):/.exec(alarmArn)?.[1] ?? 'aws';
  const host =
    partition === 'aws-cn'
      ? 'console.amazonaws.cn'
      : partition === 'aws-us-gov'
        ? 'console.amazonaws-us-gov.com'
        : `${region}.console.aws.amazon.com`;
  return `https://${host}/cloudwatch/home?region=${region}#alarmsV2:alarm/${encodeURIComponent(alarmName)}`;
}

/**
 * An EventBridge `CloudWatch Alarm State Change` event as an Alert. Labels: the alarm's tags (when it
 * propagates them), then every dimension of its metric under its own name, then `alarmName`,
 * `namespace`, `metricName`, `statistic`, `region`, `account` (later wins). The fingerprint hashes the
 * alarm ARN, so ALARM and OK of one alarm meet in one incident.
 */
export function normalizeCloudWatchAlarm(input: unknown, options: NormalizeOptions): Alert {
  // The common valid event is vouched for without zod (fast-payloads.ts); anything else goes through zod.
  // In place or copied alike: the alert reads the event and keeps none of its objects (identifiers are a copy).
  const vouched = vouchCloudWatchAlarmEventInPlace(input) ?? vouchCloudWatchAlarmEvent(input);
  const event: CloudWatchAlarmEvent = vouched?.value ?? parseCloudWatchAlarmEvent(input);
  const timestamps = vouched?.timestamps;
  if (cloudWatchMayExceedLimits(event, options))
    throwLimitProblems(
      cloudWatchLimitProblems(event, options),
      `${DetailType.CloudWatchAlarmStateChange} event`,
    );
  const { detail } = event;
  const alarmArn =
    event.resources.find((resource) => /^arn:aws[a-z-]*:cloudwatch:/.test(resource)) ??
    `arn:aws:cloudwatch:${event.region}:${event.account}:alarm:${detail.alarmName}`;
  const metric = primaryMetric(detail.configuration.metrics)?.metricStat;
  const expression = detail.configuration.metrics.find((candidate) => candidate.expression)?.expression;
  const dimensions = metric?.metric.dimensions ?? {};
  // Written field by field in the order spreading tags, dimensions and the alarm's own fields gave (later wins).
  const labels: Record<string, string> = {};
  if (detail.alarmTags) putAll(labels, detail.alarmTags);
  putAll(labels, dimensions);
  labels.alarmName = detail.alarmName;
  if (metric?.metric.namespace !== undefined) labels.namespace = metric.metric.namespace;
  if (metric?.metric.name !== undefined) labels.metricName = metric.metric.name;
  if (metric?.stat !== undefined) labels.statistic = metric.stat;
  labels.region = event.region;
  labels.account = event.account;
  const status = alarmStatus(event);
  const { state, previousState } = detail;
  // A resolution (or a gap in data after ALARM) carries the ALARM's start, as Alertmanager does.
  const alarmStartedAt = previousState?.value === 'ALARM' ? previousState.timestamp : state.timestamp;
  const startsAt = state.value === 'ALARM' ? state.timestamp : alarmStartedAt;
  const description = detail.configuration.description || undefined;
  const annotations: Record<string, string> = {};
  if (description !== undefined) annotations.description = description;
  if (state.reason) annotations.reason = state.reason;
  annotations.alarmArn = alarmArn;
  annotations.alarmState = state.value;
  if (previousState?.value !== undefined) annotations.previousAlarmState = previousState.value;
  if (expression !== undefined) annotations.expression = expression;
  if (detail.configuration.alarmRule !== undefined) annotations.alarmRule = detail.configuration.alarmRule;
  addReasonData(annotations, state.reasonData);
  const endsAt =
    status === 'resolved' && state.value === 'OK' ? isoOf(state.timestamp, timestamps) : undefined;
  const check = vouched === undefined ? checkedAlert : checkedBuiltAlert;
  return fitAlertToBudget(
    check(
      alertOf({
        source: 'cloudwatch',
        name: detail.alarmName,
        status,
        severity: mapSeverity(labels.severity ?? labels.Severity),
        category: categorize({
          name: detail.alarmName,
          metricName: metric?.metric.name,
          namespace: metric?.metric.namespace,
        }),
        summary: state.reason || description || detail.alarmName,
        description,
        environment: environmentOf(labels, options),
        resource: cloudWatchResource(
          dimensions,
          { alarmArn, region: event.region, account: event.account },
          metric?.metric.namespace,
        ),
        labels,
        annotations,
        fingerprint: stableHash([alarmArn], 16),
        startsAt: isoOf(startsAt, timestamps),
        endsAt,
        generatorURL: consoleUrl(alarmArn, event.region, detail.alarmName),
      }),
    ),
    options.budgetBytes,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Budget

/** Appended where text was cut; says how long it was. */
export function truncationMarker(originalBytes: number): string {
  return `…[truncated from ${originalBytes} bytes]`;
}
const TRUNCATED = /…\[truncated from (\d+) bytes\]$/;

function byteLength(value: unknown): number {
  return Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
}

/** Text cut to at most `maxBytes` of UTF-8 (marker included), never inside a character. */
export function truncateText(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  // Cut again, the marker keeps telling the original length.
  const earlier = TRUNCATED.exec(text);
  const body = earlier ? text.slice(0, earlier.index) : text;
  const marker = truncationMarker(earlier ? Number(earlier[1]) : byteLength(text));
  const encoded = Buffer.from(body, 'utf8');
  let end = Math.max(0, maxBytes - byteLength(marker));
  while (end > 0 && (encoded[end]! & 0xc0) === 0x80) end--;
  return encoded.subarray(0, end).toString('utf8') + marker;
}

/** Labels kept when every other way to fit the budget failed: what names the alert and its resource. */
const ESSENTIAL_LABELS = new Set([
  'alertname',
  'severity',
  'environment',
  'env',
  'cluster',
  'namespace',
  'node',
  'pod',
  'container',
  'instance',
  'job',
  'job_name',
  'deployment',
  'statefulset',
  'daemonset',
  'horizontalpodautoscaler',
  'persistentvolumeclaim',
  'service',
  'alarmName',
  'metricName',
  'statistic',
  'region',
  'account',
]);

/**
 * At least the UTF-8 bytes of JSON.stringify(value), without serializing: JSON writes a UTF-16 code unit
 * as at most 6 bytes (`\u001f`, a lone surrogate), a string adds 2 quotes, a key its colon and a comma,
 * an object its braces; a number or literal is at most 25 characters (`-0.0000010049592595141001`), counted as 32. Undefined members count as if
 * written (a bound may only be high).
 */
export function jsonBytesBound(value: unknown): number {
  if (typeof value === 'string') return 6 * value.length + 2;
  if (value === null || typeof value !== 'object') return 32;
  let total = 2;
  if (Array.isArray(value)) {
    for (const item of value) total += jsonBytesBound(item) + 1;
    return total;
  }
  // for…in, not Object.keys: no array of keys, and the loop's own key loads are V8's fast ones. It also
  // counts inherited enumerable members, which JSON.stringify leaves out: the bound may only be high.
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    // Strings inline: labels and annotations are records of them.
    total += 6 * key.length + 4 + (typeof item === 'string' ? 6 * item.length + 2 : jsonBytesBound(item));
  }
  return total;
}

/** Bytes a string takes as a JSON string value (quotes and escapes included). */
function jsonStringBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text), 'utf8');
}

/**
 * The alert cut down to `budgetBytes` of compact JSON, as gently as it takes: long annotations first
 * (longest first, to 4 KB, then 1 KB, then 256 bytes), with description and summary; then long label
 * values; then annotations other than summary and description; then labels that name nothing
 * essential. Text keeps its start and a marker saying how long it was. Linear in the alert's size:
 * the size is tracked as values change, and the whole alert is measured only a fixed number of times.
 */
export function fitAlertToBudget(alert: Alert, budgetBytes: number = ALERT_BUDGET_BYTES): Alert {
  // Most alerts are a few KB: a bound from their string lengths shows they fit without serializing them.
  if (jsonBytesBound(alert) <= budgetBytes) return alert;
  let size = byteLength(alert);
  if (size <= budgetBytes) return alert;
  let current: Alert = { ...alert, labels: { ...alert.labels }, annotations: { ...alert.annotations } };
  const fits = () => size <= budgetBytes;
  const measure = () => {
    size = byteLength(current);
    return fits();
  };

  for (const cap of [4_096, 1_024, 256]) {
    const annotations = current.annotations;
    const bytes = new Map(Object.entries(annotations).map(([name, value]) => [name, byteLength(value)]));
    const names = [...bytes.keys()].sort((a, b) => bytes.get(b)! - bytes.get(a)!);
    for (const name of names) {
      // Sorted longest first: once one fits under the cap, every later one does too.
      if (bytes.get(name)! <= cap) break;
      const before = annotations[name]!;
      const after = truncateText(before, cap);
      annotations[name] = after;
      size += jsonStringBytes(after) - jsonStringBytes(before);
      if (fits()) return current;
    }
    if (current.description !== undefined) current.description = truncateText(current.description, cap);
    current.summary = truncateText(current.summary, Math.max(cap, 1_024));
    if (current.generatorURL !== undefined && byteLength(current.generatorURL) > cap)
      delete current.generatorURL;
    if (measure()) return current;
  }
  for (const cap of [1_024, 256]) {
    for (const name of Object.keys(current.labels))
      current.labels[name] = truncateText(current.labels[name]!, cap);
    if (measure()) return current;
  }
  const kept = Object.fromEntries(
    Object.entries(current.annotations).filter(([name]) => name === 'summary' || name === 'description'),
  );
  current = {
    ...current,
    annotations: { ...kept, truncated: 'annotations dropped to fit the alert budget' },
  };
  if (measure()) return current;
  const labels = Object.fromEntries(
    Object.entries(current.labels).filter(([name]) => ESSENTIAL_LABELS.has(name)),
  );
  current = {
    ...current,
    labels,
    annotations: {
      ...current.annotations,
      truncated: 'annotations and labels dropped to fit the alert budget',
    },
  };
  return current;
}

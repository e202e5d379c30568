import { Document, isMap, isPair, isScalar, Scalar, visit, type YAMLMap } from 'yaml';
import type { AlertSource } from '../alert.ts';
import { categorize } from '../classifier/categorize.ts';
import type { UnmatchedAlertSummary } from '../records.ts';

/**
 * New-runbook recommendations: alerts no runbook took, clustered by what they are (source, the kind of
 * resource they name, their label keys and the stem of their names), each cluster turned into a
 * runbook skeleton: an applicability rule that matches the cluster, read-only investigation steps
 * chosen from the tool catalog by the resource the alerts name, and a notification with the findings.
 * A person reviews it, adds the remediation, and moves it into runbooks/.
 */

/** Labels every Prometheus alert carries whatever it is about: they say nothing about the cluster. */
const CARRIED_BY_EVERY_ALERT = new Set(['alertname', 'severity', 'prometheus']);

export interface UnmatchedCluster {
  /** What the alerts have in common, as one string (the cluster's identity). */
  key: string;
  source: AlertSource;
  resourceType: string;
  /** The alert names (alertname or alarm name), most seen first. */
  names: string[];
  /** Label keys every alert of the cluster carried (CloudWatch: the metric's dimensions). */
  labelKeys: string[];
  /** CloudWatch: the metric the alarms watch. */
  metric?: { namespace: string; name: string; statistic?: string };
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
  /** The alert seen most, for the skeleton's example values. */
  sample: UnmatchedAlertSummary;
}

/** `KubeQuotaAlmostFull` → Kube, Quota, Almost, Full; `orders-queue_stalled` → orders, queue, stalled. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
}

function clusterKey(alert: UnmatchedAlertSummary): {
  key: string;
  labelKeys: string[];
  metric?: UnmatchedCluster['metric'];
} {
  const labels = alert.lastLabels ?? {};
  const resourceType = alert.lastAlert.resource.type;
  if (alert.source === 'cloudwatch') {
    const dimensions = Object.keys(alert.lastAlert.resource.identifiers ?? {}).sort();
    const namespace = labels.namespace ?? '';
    const name = labels.metricName ?? '';
    return {
      key: JSON.stringify([alert.source, resourceType, namespace, name, dimensions]),
      labelKeys: dimensions,
      ...(namespace && name
        ? { metric: { namespace, name, ...(labels.statistic ? { statistic: labels.statistic } : {}) } }
        : {}),
    };
  }
  const labelKeys = Object.keys(labels)
    .filter((key) => !CARRIED_BY_EVERY_ALERT.has(key))
    .sort();
  const stem = nameWords(alert.name).slice(0, 2).join('').toLowerCase();
  return { key: JSON.stringify([alert.source, resourceType, labelKeys, stem]), labelKeys };
}

/**
 * Unmatched alerts grouped: same source, same kind of resource, same label keys (CloudWatch: the same
 * metric and dimensions), and for Prometheus names that start with the same two words. Linear in the
 * number of alert names; largest clusters first.
 */
export function clusterUnmatched(unmatched: readonly UnmatchedAlertSummary[]): UnmatchedCluster[] {
  const clusters = new Map<string, UnmatchedCluster>();
  for (const alert of unmatched) {
    if (alert.source === 'manual') continue;
    const { key, labelKeys, metric } = clusterKey(alert);
    const cluster = clusters.get(key);
    if (!cluster) {
      clusters.set(key, {
        key,
        source: alert.source,
        resourceType: alert.lastAlert.resource.type,
        names: [alert.name],
        labelKeys,
        ...(metric ? { metric } : {}),
        count: alert.count,
        firstSeenAt: alert.firstSeenAt,
        lastSeenAt: alert.lastSeenAt,
        sample: alert,
      });
      continue;
    }
    cluster.names.push(alert.name);
    cluster.count += alert.count;
    if (alert.firstSeenAt < cluster.firstSeenAt) cluster.firstSeenAt = alert.firstSeenAt;
    if (alert.lastSeenAt > cluster.lastSeenAt) cluster.lastSeenAt = alert.lastSeenAt;
    if (alert.count > cluster.sample.count) cluster.sample = alert;
  }
  const countOf = new Map(unmatched.map((alert) => [`${alert.source}\u0000${alert.name}`, alert.count]));
  return [...clusters.values()]
    .map((cluster) => ({
      ...cluster,
      names: [...cluster.names].sort(
        (a, b) =>
          (countOf.get(`${cluster.source}\u0000${b}`) ?? 0) -
            (countOf.get(`${cluster.source}\u0000${a}`) ?? 0) || a.localeCompare(b),
      ),
    }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

/** One investigation step of a skeleton. */
interface SkeletonStep {
  id: string;
  name: string;
  tool: string;
  parameters: Record<string, unknown>;
}

const NAMESPACED = { namespace: '{{ resource.namespace }}', name: '{{ resource.name }}' };
const WORKLOAD_KINDS: Record<string, string> = {
  'k8s-deployment': 'Deployment',
  'k8s-statefulset': 'StatefulSet',
  'k8s-daemonset': 'DaemonSet',
};
const DESCRIBABLE_KINDS: Record<string, string> = {
  'k8s-pvc': 'PersistentVolumeClaim',
  'k8s-pv': 'PersistentVolume',
  'k8s-hpa': 'HorizontalPodAutoscaler',
  'k8s-pdb': 'PodDisruptionBudget',
  'k8s-cronjob': 'CronJob',
  'k8s-resourcequota': 'ResourceQuota',
  'k8s-service': 'Service',
};
const REGION = { region: '{{ resource.region }}' };

/** Read-only diagnostics for the kind of resource an alert names (Kubernetes objects or AWS resources). */
function resourceSteps(resourceType: string): SkeletonStep[] {
  const events = (kind: string, name = '{{ resource.name }}', namespaced = true): SkeletonStep => ({
    id: 'events',
    name: `Recent events of the ${kind}`,
    tool: 'k8s.events',
    parameters: {
      kind,
      name,
      ...(namespaced ? { namespace: '{{ resource.namespace }}' } : {}),
      sinceMinutes: 60,
    },
  });
  const workload = WORKLOAD_KINDS[resourceType];
  if (workload)
    return [
      {
        id: 'workload-status',
        name: `The ${workload}'s replicas and rollout`,
        tool: 'k8s.workload-status',
        parameters: { ...NAMESPACED, kind: workload },
      },
      {
        id: 'workload-pods',
        name: `Pods of the ${workload}, their states and restarts`,
        tool: 'k8s.pods',
        parameters: { ...NAMESPACED, kind: workload },
      },
      {
        id: 'rollout-history',
        name: `Recent rollouts of the ${workload}`,
        tool: 'k8s.rollout-history',
        parameters: { ...NAMESPACED, kind: workload },
      },
      events(workload),
    ];
  switch (resourceType) {
    case 'k8s-pod':
      return [
        {
          id: 'pod',
          name: "The pod's containers, restarts and last termination",
          tool: 'k8s.describe',
          parameters: { kind: 'Pod', ...NAMESPACED },
        },
        {
          id: 'pod-logs',
          name: "The tail of the pod's log",
          tool: 'k8s.pod-logs',
          parameters: { namespace: '{{ resource.namespace }}', pod: '{{ resource.name }}', tailLines: 100 },
        },
        events('Pod'),
      ];
    case 'k8s-node':
      return [
        {
          id: 'node',
          name: "The node's conditions, allocatable and usage",
          tool: 'k8s.node-resources',
          parameters: { node: '{{ resource.node }}' },
        },
        {
          id: 'pods-on-node',
          name: 'Pods on the node by memory',
          tool: 'k8s.pods-on-node',
          parameters: { node: '{{ resource.node }}', sortBy: 'memory' },
        },
        events('Node', '{{ resource.node }}', false),
      ];
    case 'k8s-job':
      return [
        {
          id: 'job',
          name: "The job's condition, failed pods and their logs",
          tool: 'k8s.job-status',
          parameters: NAMESPACED,
        },
        events('Job'),
      ];
    case 'k8s-hpa':
      return [
        {
          id: 'hpa',
          name: "The autoscaler's bounds and metrics",
          tool: 'k8s.hpa-status',
          parameters: NAMESPACED,
        },
        events('HorizontalPodAutoscaler'),
      ];
    case 'k8s-pvc':
      return [
        { id: 'pvc-usage', name: 'How full the volume is', tool: 'k8s.pvc-usage', parameters: NAMESPACED },
        events('PersistentVolumeClaim'),
      ];
    case 'ec2-instance':
      return [
        {
          id: 'instance-status',
          name: "The instance's status checks",
          tool: 'ec2.describe-instance-status',
          parameters: { instanceIds: ['{{ resource.name }}'], ...REGION },
        },
      ];
    case 'ecs-service':
      return [
        {
          id: 'service',
          name: "The service's counts and deployments",
          tool: 'ecs.describe-services',
          parameters: { cluster: '{{ resource.cluster }}', services: ['{{ resource.name }}'], ...REGION },
        },
        {
          id: 'service-events',
          name: "The service's recent events",
          tool: 'ecs.service-events',
          parameters: { cluster: '{{ resource.cluster }}', service: '{{ resource.name }}', ...REGION },
        },
        {
          id: 'stopped-tasks',
          name: 'Tasks that stopped, and why',
          tool: 'ecs.stopped-tasks',
          parameters: { cluster: '{{ resource.cluster }}', service: '{{ resource.name }}', ...REGION },
        },
      ];
    case 'lambda-function':
      return [
        {
          id: 'function',
          name: 'The function: state, last update, timeout, memory',
          tool: 'lambda.describe',
          parameters: { functionName: '{{ resource.name }}', ...REGION },
        },
        {
          id: 'recent-errors',
          name: "Recent errors from the function's log, by type",
          tool: 'lambda.recent-errors',
          parameters: { functionName: '{{ resource.name }}', ...REGION },
        },
      ];
    case 'rds-instance':
      return [
        {
          id: 'db-instance',
          name: 'The database instance',
          tool: 'rds.describe-instance',
          parameters: { dbInstanceIdentifier: '{{ resource.name }}', ...REGION },
        },
        {
          id: 'db-events',
          name: "The instance's recent events",
          tool: 'rds.events',
          parameters: { dbInstanceIdentifier: '{{ resource.name }}', ...REGION },
        },
      ];
    case 'sqs-queue':
      return [
        {
          id: 'queue',
          name: 'The queue: depth, age of the oldest message, throughput',
          tool: 'sqs.queue-status',
          parameters: { queue: '{{ resource.name }}', ...REGION },
        },
      ];
    case 'dynamodb-table':
      return [
        {
          id: 'table-capacity',
          name: "The table's capacity and throttling",
          tool: 'dynamodb.table-capacity',
          parameters: { tableName: '{{ resource.name }}', ...REGION },
        },
      ];
    case 'target-group':
      return [
        {
          id: 'target-health',
          name: 'Health of every target, with the reason',
          tool: 'elbv2.target-health',
          parameters: { targetGroup: '{{ resource.identifiers.TargetGroup }}', ...REGION },
        },
      ];
    case 'elasticache-cluster':
      return [
        {
          id: 'cache-cluster',
          name: 'The cache cluster and its nodes',
          tool: 'elasticache.describe-cluster',
          parameters: { cacheClusterId: '{{ resource.name }}', ...REGION },
        },
      ];
    case 'autoscaling-group':
      return [
        {
          id: 'group',
          name: 'The Auto Scaling group and its instances',
          tool: 'autoscaling.describe-group',
          parameters: { groupName: '{{ resource.name }}', ...REGION },
        },
      ];
  }
  const kind = DESCRIBABLE_KINDS[resourceType];
  if (kind)
    return [
      {
        id: 'object',
        name: `The ${kind}, its conditions and events`,
        tool: 'k8s.describe',
        parameters: { kind, ...NAMESPACED },
      },
    ];
  return [];
}

/** The steps a cluster's skeleton investigates with: what its source says, then its resource. */
export function investigationSteps(cluster: UnmatchedCluster): SkeletonStep[] {
  const steps: SkeletonStep[] = [];
  if (cluster.source === 'prometheus')
    steps.push({
      id: 'alert-expression',
      name: "The alert's own expression over the last two hours, for its labels",
      tool: 'prometheus.alert-expression',
      parameters: {
        generatorUrl: '{{ alert.generatorURL }}',
        alertLabels: '{{ alert.labels }}',
        lookbackMinutes: 120,
      },
    });
  if (cluster.source === 'cloudwatch' && cluster.metric)
    steps.push({
      id: 'alarm-metric',
      name: `${cluster.metric.name} per minute over the last hour`,
      tool: 'cloudwatch.get-metric-data',
      parameters: {
        namespace: cluster.metric.namespace,
        metricName: cluster.metric.name,
        dimensions: Object.fromEntries(
          cluster.labelKeys.map((key) => [key, `{{ resource.identifiers.${key} }}`]),
        ),
        stat: cluster.metric.statistic ?? 'Average',
        periodSeconds: 60,
        lookbackMinutes: 60,
        ...REGION,
      },
    });
  return [...steps, ...resourceSteps(cluster.resourceType)];
}

/** A runbook id from words: kebab-case, at most 48 characters, starting with a letter. */
function idOf(words: readonly string[]): string {
  let id = words
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(id)) id = `alert-${id}`;
  return id.slice(0, 48).replace(/-+$/, '') || 'unmatched-alerts';
}

export function skeletonId(cluster: UnmatchedCluster): string {
  if (cluster.source === 'cloudwatch' && cluster.metric)
    return idOf([
      ...nameWords(cluster.metric.namespace.replace(/^AWS\//, '')),
      ...nameWords(cluster.metric.name),
    ]);
  const words =
    cluster.names.length === 1 ? nameWords(cluster.names[0]!) : nameWords(cluster.names[0]!).slice(0, 2);
  return idOf(words);
}

export interface SkeletonOptions {
  /** Environments the runbook may run in (an investigation reads only). */
  environments: readonly string[];
  /** The owning team written into the skeleton. */
  team: string;
  /** Where the findings go (an escalation target of the environments). */
  notify: string;
}

export interface RunbookSkeleton {
  id: string;
  cluster: UnmatchedCluster;
  /** The YAML file, ready to review. */
  text: string;
}

/** A blank line (and a comment) before a top-level key, as runbook authors separate sections. */
function section(document: Document, key: string, text?: string) {
  const pair = (document.contents as YAMLMap).items.find(
    (item) => isPair(item) && isScalar(item.key) && item.key.value === key,
  );
  if (!pair || !isScalar(pair.key)) return;
  pair.key.spaceBefore = true;
  if (text) pair.key.commentBefore = ` ${text}`;
}

/**
 * A runbook skeleton for a cluster: it matches the cluster's alerts (by source and name, or by metric
 * for CloudWatch), answers their names, investigates with read-only tools and sends the findings.
 */
export function runbookSkeleton(cluster: UnmatchedCluster, options: SkeletonOptions): RunbookSkeleton {
  const id = skeletonId(cluster);
  const steps = investigationSteps(cluster);
  const alerts = cluster.names.join(', ');
  const pattern: Record<string, unknown> =
    cluster.source === 'cloudwatch' && cluster.metric
      ? {
          source: ['cloudwatch'],
          labels: {
            namespace: [cluster.metric.namespace],
            metricName: [cluster.metric.name],
            ...Object.fromEntries(cluster.labelKeys.map((key) => [key, [{ exists: true }]])),
          },
        }
      : { source: [cluster.source], name: cluster.names };
  pattern.resource = { type: [cluster.resourceType] };
  const statusLines = steps.map((step) => `${step.id}: {{ steps.${step.id}.status }}`);
  const runbook = {
    id,
    name: `${cluster.metric ? `${cluster.metric.namespace} ${cluster.metric.name}` : cluster.names.length === 1 ? cluster.names[0] : `${nameWords(cluster.names[0]!).slice(0, 2).join(' ')} alerts`} (investigation)`,
    version: '0.1.0',
    description: `Recommended by runbook learn recommend from ${cluster.count} alert(s) no runbook took (${alerts}; first ${cluster.firstSeenAt}, last ${cluster.lastSeenAt}), all from ${cluster.source} about a ${cluster.resourceType}${cluster.labelKeys.length > 0 ? ` with labels ${cluster.labelKeys.join(', ')}` : ''}. It investigates and reports; write its Meaning, Impact and Mitigation, and add the remediation your team does by hand.`,
    category: categorize({
      name: cluster.names[0]!,
      ...(cluster.metric ? { metricName: cluster.metric.name, namespace: cluster.metric.namespace } : {}),
    }),
    owner: { team: options.team },
    tags: ['recommended', cluster.source, 'investigation'],
    applicabilityRules: [
      {
        id: `${id}-alerts`.slice(0, 48).replace(/-+$/, ''),
        description: 'the unmatched alerts this runbook was recommended for',
        pattern,
        confidence: 0.8,
      },
    ],
    ...(cluster.source === 'prometheus' ? { answers: { alerts: cluster.names } } : {}),
    environmentConstraints: { environments: [...options.environments] },
    phases: [
      ...(steps.length > 0
        ? [
            {
              id: 'diagnose',
              name: 'Read what the alert points at',
              mode: 'parallel',
              maxConcurrency: 4,
              steps: steps.map((step) => ({
                id: step.id,
                name: step.name,
                type: 'diagnostic',
                tool: step.tool,
                parameters: step.parameters,
                timeout: '30s',
                onFailure: 'continue',
              })),
            },
          ]
        : []),
      {
        id: 'report',
        name: 'Send the findings',
        steps: [
          {
            id: 'notify-findings',
            name: 'Send the findings to a person',
            type: 'notification',
            tool: 'notify.message',
            parameters: {
              target: options.notify,
              subject: '{{ alert.name }} on {{ resource.id }}: findings',
              message: [
                'Alert {{ alert.name }}: {{ alert.summary }}. No runbook remediates it yet.',
                ...(statusLines.length > 0 ? statusLines : ['No read-only tool fits this resource yet.']),
                'Every output is in execution {{ execution.id }}.',
                '',
              ].join('\n'),
            },
          },
        ],
      },
    ],
    escalationTriggers: [
      {
        id: 'ticket-on-failure',
        on: ['step-failed', 'aborted'],
        notify: [options.notify],
        severity: 'ticket',
        message: 'The investigation could not finish; the execution has what it read.',
      },
    ],
  };
  const document = new Document(runbook, { aliasDuplicateObjects: false });
  document.commentBefore =
    ` Recommended by \`runbook learn recommend\` from alerts no runbook took: review it, then move it\n` +
    ` into runbooks/. It only reads and reports until you add a remediation phase.`;
  // Short lists of scalars read best on one line, as the runbooks in runbooks/ write them.
  visit(document, {
    Seq(_, sequence) {
      if (
        sequence.items.every(
          (item) => isScalar(item) || (isMap(item) && item.items.every((pair) => isScalar(pair.value))),
        )
      )
        sequence.flow = true;
    },
    Scalar(key, scalar) {
      if (key !== 'value' || typeof scalar.value !== 'string') return;
      if (scalar.value.includes('\n')) scalar.type = Scalar.BLOCK_LITERAL;
    },
  });
  const description = (document.contents as YAMLMap).get('description', true);
  if (isScalar(description)) description.type = Scalar.BLOCK_FOLDED;
  for (const key of ['applicabilityRules', 'environmentConstraints', 'escalationTriggers'])
    section(document, key);
  section(
    document,
    'phases',
    'Investigation: read-only tools chosen by the kind of resource the alerts name.',
  );
  return { id, cluster, text: document.toString({ lineWidth: 100, flowCollectionPadding: false }) };
}

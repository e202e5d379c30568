import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../../functions/core/alert.ts';
import {
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
  normalizeOptions,
} from '../../../../functions/core/classifier/normalize.ts';
import { selectRunbook } from '../../../../functions/core/classifier/select.ts';
import { clusterUnmatched, runbookSkeleton } from '../../../../functions/core/learning/recommend.ts';
import { summarizeAlert, type UnmatchedAlertSummary } from '../../../../functions/core/records.ts';
import { validateRunbookText } from '../../../../functions/core/runbook/validate.ts';
import { TEST_CONFIG } from '../../../support/aws-harness.ts';
import { OPTIONS, ROOT } from '../../../support/runbooks.ts';

const NORMALIZE = normalizeOptions(TEST_CONFIG);
const SKELETON = { environments: ['dev', 'staging', 'prod'], team: 'sre', notify: 'sre-chat' };

function prometheusAlert(labels: Record<string, string>): Alert {
  return normalizeAlertmanager(
    {
      version: '4',
      groupKey: '{}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'runbook-autopilot',
      groupLabels: {},
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://alertmanager.example.com',
      alerts: [
        {
          status: 'firing',
          labels: { severity: 'warning', ...labels },
          annotations: { summary: labels.alertname! },
          startsAt: '2026-03-01T10:00:00Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus.example.com/graph?g0.expr=up',
          fingerprint: `fp-${JSON.stringify(labels)}`,
        },
      ],
    },
    NORMALIZE,
  )[0]!;
}

function cloudWatchAlert(
  alarmName: string,
  namespace: string,
  metric: string,
  dimensions: Record<string, string>,
) {
  const event = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/alerts/cloudwatch-alarm-lambda-throttles.json'), 'utf8'),
  );
  event.resources = [`arn:aws:cloudwatch:eu-west-1:333333333333:alarm:${alarmName}`];
  event.detail.alarmName = alarmName;
  event.detail.configuration.metrics[0].metricStat.metric = { dimensions, name: metric, namespace };
  return normalizeCloudWatchAlarm(event, NORMALIZE);
}

/** An alert as the store keeps it when no runbook took it, seen `count` times. */
function unmatched(alert: Alert, count = 1): UnmatchedAlertSummary {
  return {
    name: alert.name,
    source: alert.source,
    count,
    firstSeenAt: '2026-03-01T10:00:00.000Z',
    lastSeenAt: '2026-03-02T10:00:00.000Z',
    lastAlert: summarizeAlert(alert),
    lastLabels: alert.labels,
  };
}

describe('clusters of unmatched alerts', () => {
  it('groups alerts by source, resource kind, label keys and name stem (CloudWatch: by metric)', () => {
    // Prepare
    const quota = { namespace: 'shop', resourcequota: 'shop-quota', resource: 'requests.memory' };
    const alerts = [
      unmatched(prometheusAlert({ alertname: 'KubeQuotaAlmostFull', ...quota }), 2),
      unmatched(prometheusAlert({ alertname: 'KubeQuotaFullyUsed', ...quota }), 3),
      unmatched(
        prometheusAlert({ alertname: 'KubeQuotaExceeded', namespace: 'shop', resourcequota: 'q' }),
        1,
      ),
      unmatched(prometheusAlert({ alertname: 'KubeJobFailed', namespace: 'shop', job_name: 'report' }), 1),
      unmatched(
        cloudWatchAlert('orders-age', 'AWS/SQS', 'ApproximateAgeOfOldestMessage', { QueueName: 'orders' }),
      ),
      unmatched(
        cloudWatchAlert('refunds-age', 'AWS/SQS', 'ApproximateAgeOfOldestMessage', { QueueName: 'refunds' }),
        4,
      ),
      unmatched(
        cloudWatchAlert('orders-depth', 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', {
          QueueName: 'orders',
        }),
      ),
    ];

    // Act
    const clusters = clusterUnmatched(alerts);

    // Assess: largest first; ties in the order of what they are (source first)
    expect(
      clusters.map((cluster) => [cluster.names, cluster.count, cluster.resourceType, cluster.labelKeys]),
    ).toEqual([
      [['refunds-age', 'orders-age'], 5, 'sqs-queue', ['QueueName']],
      [
        ['KubeQuotaFullyUsed', 'KubeQuotaAlmostFull'],
        5,
        'k8s-resourcequota',
        ['namespace', 'resource', 'resourcequota'],
      ],
      [['orders-depth'], 1, 'sqs-queue', ['QueueName']],
      [['KubeJobFailed'], 1, 'k8s-job', ['job_name', 'namespace']],
      [['KubeQuotaExceeded'], 1, 'k8s-resourcequota', ['namespace', 'resourcequota']],
    ]);
    expect(clusters[0]?.metric).toEqual({
      namespace: 'AWS/SQS',
      name: 'ApproximateAgeOfOldestMessage',
      statistic: 'Sum',
    });
  });
});

describe('runbook skeletons', () => {
  /** Per kind of resource, an alert of it and the read-only tools its skeleton should read with. */
  const CASES: Array<[string, Alert, string[]]> = [
    [
      'pod',
      prometheusAlert({ alertname: 'PodOomLoop', namespace: 'shop', pod: 'cart-7f9c-x2' }),
      ['prometheus.alert-expression', 'k8s.describe', 'k8s.pod-logs', 'k8s.events'],
    ],
    [
      'deployment',
      prometheusAlert({ alertname: 'CartErrorBudget', namespace: 'shop', deployment: 'cart' }),
      ['prometheus.alert-expression', 'k8s.workload-status', 'k8s.pods', 'k8s.rollout-history', 'k8s.events'],
    ],
    [
      'node',
      prometheusAlert({ alertname: 'NodeClockSkew', node: 'ip-10-0-1-23.eu-west-1.compute.internal' }),
      ['prometheus.alert-expression', 'k8s.node-resources', 'k8s.pods-on-node', 'k8s.events'],
    ],
    [
      'job',
      prometheusAlert({ alertname: 'BatchLate', namespace: 'shop', job_name: 'report' }),
      ['prometheus.alert-expression', 'k8s.job-status', 'k8s.events'],
    ],
    [
      'hpa',
      prometheusAlert({ alertname: 'HpaFlapping', namespace: 'shop', horizontalpodautoscaler: 'cart' }),
      ['prometheus.alert-expression', 'k8s.hpa-status', 'k8s.events'],
    ],
    [
      'pvc',
      prometheusAlert({ alertname: 'VolumeSlow', namespace: 'shop', persistentvolumeclaim: 'data' }),
      ['prometheus.alert-expression', 'k8s.pvc-usage', 'k8s.events'],
    ],
    [
      'pdb',
      prometheusAlert({ alertname: 'BudgetTight', namespace: 'shop', poddisruptionbudget: 'cart' }),
      ['prometheus.alert-expression', 'k8s.describe'],
    ],
    ['no resource', prometheusAlert({ alertname: 'Watchdog' }), ['prometheus.alert-expression']],
    [
      'ec2',
      cloudWatchAlert('web-cpu', 'AWS/EC2', 'CPUUtilization', { InstanceId: 'i-0abc' }),
      ['cloudwatch.get-metric-data', 'ec2.describe-instance-status'],
    ],
    [
      'ecs',
      cloudWatchAlert('cart-cpu', 'AWS/ECS', 'CPUUtilization', { ClusterName: 'shop', ServiceName: 'cart' }),
      ['cloudwatch.get-metric-data', 'ecs.describe-services', 'ecs.service-events', 'ecs.stopped-tasks'],
    ],
    [
      'lambda',
      cloudWatchAlert('cart-errors', 'AWS/Lambda', 'Errors', { FunctionName: 'cart' }),
      ['cloudwatch.get-metric-data', 'lambda.describe', 'lambda.recent-errors'],
    ],
    [
      'rds',
      cloudWatchAlert('db-cpu', 'AWS/RDS', 'CPUUtilization', { DBInstanceIdentifier: 'orders' }),
      ['cloudwatch.get-metric-data', 'rds.describe-instance', 'rds.events'],
    ],
    [
      'sqs',
      cloudWatchAlert('orders-age', 'AWS/SQS', 'ApproximateAgeOfOldestMessage', { QueueName: 'orders' }),
      ['cloudwatch.get-metric-data', 'sqs.queue-status'],
    ],
    [
      'dynamodb',
      cloudWatchAlert('orders-throttles', 'AWS/DynamoDB', 'ThrottledRequests', { TableName: 'orders' }),
      ['cloudwatch.get-metric-data', 'dynamodb.table-capacity'],
    ],
    [
      'target group',
      cloudWatchAlert('web-unhealthy', 'AWS/ApplicationELB', 'UnHealthyHostCount', {
        TargetGroup: 'targetgroup/web/73e2',
        LoadBalancer: 'app/web/1234',
      }),
      ['cloudwatch.get-metric-data', 'elbv2.target-health'],
    ],
    [
      'elasticache',
      cloudWatchAlert('cache-cpu', 'AWS/ElastiCache', 'CPUUtilization', { CacheClusterId: 'sessions' }),
      ['cloudwatch.get-metric-data', 'elasticache.describe-cluster'],
    ],
    [
      'auto scaling',
      cloudWatchAlert('asg-capacity', 'AWS/AutoScaling', 'GroupInServiceInstances', {
        AutoScalingGroupName: 'web',
      }),
      ['cloudwatch.get-metric-data', 'autoscaling.describe-group'],
    ],
  ];

  it.each(CASES)(
    'for a %s alert: validates, reads with the matching tools, and is what the alert would start',
    (_, alert, tools) => {
      // Prepare
      const [cluster] = clusterUnmatched([unmatched(alert, 2)]);

      // Act
      const skeleton = runbookSkeleton(cluster!, SKELETON);

      // Assess
      const result = validateRunbookText(skeleton.text, OPTIONS);
      expect(result.problems).toEqual([]);
      const runbook = result.runbook!;
      expect(runbook.phases[0]?.steps.map((step) => step.tool)).toEqual(tools);
      expect(
        runbook.phases.flatMap((phase) => phase.steps).every((step) => step.type !== 'remediation'),
      ).toBe(true);
      expect(selectRunbook(alert, [{ runbook }]).selected?.runbookId).toBe(runbook.id);
    },
  );

  it('matches every alert of its cluster and no other', () => {
    // Prepare
    const quota = { namespace: 'shop', resourcequota: 'shop-quota', resource: 'requests.memory' };
    const almostFull = prometheusAlert({ alertname: 'KubeQuotaAlmostFull', ...quota });
    const fullyUsed = prometheusAlert({ alertname: 'KubeQuotaFullyUsed', ...quota });
    const other = prometheusAlert({ alertname: 'KubeJobFailed', namespace: 'shop', job_name: 'report' });
    const [cluster] = clusterUnmatched([unmatched(almostFull, 2), unmatched(fullyUsed)]);

    // Act
    const skeleton = runbookSkeleton(cluster!, SKELETON);
    const { runbook } = validateRunbookText(skeleton.text, OPTIONS);

    // Assess
    expect(skeleton.id).toBe('kube-quota');
    expect(runbook?.answers?.alerts).toEqual(['KubeQuotaAlmostFull', 'KubeQuotaFullyUsed']);
    for (const alert of [almostFull, fullyUsed])
      expect(selectRunbook(alert, [{ runbook: runbook! }]).selected?.runbookId).toBe('kube-quota');
    expect(selectRunbook(other, [{ runbook: runbook! }]).selected).toBeUndefined();
    expect(skeleton.text).toMatch(/^# Recommended by `runbook learn recommend`/);
    expect(skeleton.text).toContain('    notify: [sre-chat]\n');
  });
});

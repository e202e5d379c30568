import { describe, expect, it, vi } from 'vitest';
import { Alert } from '../../../../functions/core/alert.ts';
import { stableHash } from '../../../../functions/core/classifier/identity.ts';
import {
  alarmStatus,
  alertmanagerResource,
  cloudWatchResource,
  environmentOf,
  fitAlertToBudget,
  mapSeverity,
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
  normalizeOptions,
  prometheusFingerprint,
  reasonDataAnnotations,
  stripPort,
  truncateText,
} from '../../../../functions/core/classifier/normalize.ts';
import { parseCloudWatchAlarmEvent } from '../../../../functions/core/classifier/payloads.ts';
import { ALERT_BUDGET_BYTES } from '../../../../functions/core/compiler/budgets.ts';
import { RuntimeConfig } from '../../../../functions/core/config.ts';
import { InvalidEventError } from '../../../../functions/core/errors.ts';
import { copy, OPTIONS, payload } from './fixtures.ts';

type Webhook = {
  alerts: Array<
    { labels: Record<string, string>; annotations: Record<string, string> } & Record<string, unknown>
  >;
};

function bytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

describe('normalizeOptions', () => {
  it("takes the environment labels and the deployment's environment from the runtime config", () => {
    const config = RuntimeConfig.parse({
      environment: 'staging',
      publicBaseUrl: 'https://autopilot.example.com',
    });
    expect(normalizeOptions(config)).toEqual({
      environmentLabels: ['environment', 'env'],
      defaultEnvironment: 'staging',
    });
  });
});

describe('normalizeAlertmanager', () => {
  it('makes one alert per alert of the group, labels and annotations verbatim', () => {
    const body = payload('alertmanager-node-memory-pressure.json') as unknown as Webhook;
    const alerts = normalizeAlertmanager(body, OPTIONS);
    expect(alerts).toHaveLength(2);
    const [first, second] = alerts;
    expect(first).toEqual({
      source: 'prometheus',
      name: 'KubeNodeMemoryPressure',
      status: 'firing',
      severity: 'critical',
      category: 'resource-exhaustion',
      summary: 'Node ip-10-0-1-23.eu-west-1.compute.internal has memory pressure.',
      description: body.alerts[0]!.annotations.description,
      environment: 'prod',
      resource: {
        type: 'k8s-node',
        id: 'ip-10-0-1-23.eu-west-1.compute.internal',
        kind: 'Node',
        name: 'ip-10-0-1-23.eu-west-1.compute.internal',
        node: 'ip-10-0-1-23.eu-west-1.compute.internal',
        cluster: 'prod-eks-eu-west-1',
      },
      labels: body.alerts[0]!.labels,
      annotations: body.alerts[0]!.annotations,
      fingerprint: '106fd29419ae49d1',
      startsAt: '2026-11-25T09:58:30.512Z',
      generatorURL:
        'https://prometheus.example.com/graph?g0.expr=kube_node_status_condition%7Bcondition%3D%22MemoryPressure%22%2Cjob%3D%22kube-state-metrics%22%2Cstatus%3D%22true%22%7D+%3D%3D+1&g0.tab=1',
    });
    expect(second!.resource.id).toBe('ip-10-0-2-141.eu-west-1.compute.internal');
    expect(second!.fingerprint).not.toBe(first!.fingerprint);
    // The zero endsAt of a firing alert is left out, not turned into year 1.
    expect(first!.endsAt).toBeUndefined();
    for (const alert of alerts) expect(Alert.safeParse(alert).success).toBe(true);
  });

  it('keeps the fingerprint Alertmanager sent, which is the one computed from the labels', () => {
    const body = payload('alertmanager-node-memory-pressure.json') as unknown as Webhook;
    for (const alert of body.alerts) expect(alert.fingerprint).toBe(prometheusFingerprint(alert.labels));
  });

  it('gives a resolved alert its end, and the same fingerprint as while it fired', () => {
    const [firing] = normalizeAlertmanager(payload('alertmanager-node-memory-pressure.json'), OPTIONS);
    const [resolved] = normalizeAlertmanager(payload('alertmanager-resolved.json'), OPTIONS);
    expect(resolved!.status).toBe('resolved');
    expect(resolved!.endsAt).toBe('2026-11-25T10:12:30.512Z');
    expect(resolved!.fingerprint).toBe(firing!.fingerprint);
    expect(resolved!.startsAt).toBe(firing!.startsAt);
  });

  it('makes a crash-looping pod a k8s-pod in its namespace, in the default environment when no label names one', () => {
    const [alert] = normalizeAlertmanager(payload('alertmanager-crashloop.json'), {
      ...OPTIONS,
      defaultEnvironment: 'staging',
    });
    expect(alert).toMatchObject({
      name: 'KubePodCrashLooping',
      severity: 'warning',
      category: 'availability',
      environment: 'staging',
      summary: 'Pod is crash looping.',
      resource: {
        type: 'k8s-pod',
        id: 'cart-7d9c8b5f6-x2v4q',
        namespace: 'shop',
        cluster: 'prod-eks-eu-west-1',
      },
    });
  });

  it("makes a node-exporter alert about the host, not the exporter's pod, and reads the env label", () => {
    const [alert] = normalizeAlertmanager(payload('alertmanager-filesystem.json'), OPTIONS);
    expect(alert).toMatchObject({
      name: 'NodeFilesystemSpaceFillingUp',
      category: 'resource-exhaustion',
      environment: 'staging',
      resource: { type: 'host', id: '10.20.1.58', cluster: 'staging-eks-eu-west-1' },
    });
    expect(alert!.labels.instance).toBe('10.20.1.58:9100');
  });

  it('computes the fingerprint when the sender leaves it out', () => {
    const body = copy(payload('alertmanager-crashloop.json')) as unknown as Webhook;
    const sent = body.alerts[0]!.fingerprint;
    delete body.alerts[0]!.fingerprint;
    const [alert] = normalizeAlertmanager(body, OPTIONS);
    expect(alert!.fingerprint).toBe(sent);
  });

  it('takes the summary from summary, description, message, then alertname', () => {
    const body = copy(payload('alertmanager-crashloop.json')) as unknown as Webhook;
    const annotations = body.alerts[0]!.annotations;
    const summaryOf = () => normalizeAlertmanager(body, OPTIONS)[0]!.summary;
    expect(summaryOf()).toBe('Pod is crash looping.');
    delete annotations.summary;
    expect(summaryOf()).toBe(annotations.description);
    delete annotations.description;
    annotations.message = 'Pod shop/cart is restarting 2.14 times / 5 minutes.';
    expect(summaryOf()).toBe(annotations.message);
    delete annotations.message;
    expect(summaryOf()).toBe('KubePodCrashLooping');
  });

  it('returns no alerts for an empty group', () => {
    const body = copy(payload('alertmanager-crashloop.json')) as unknown as Webhook;
    body.alerts = [];
    expect(normalizeAlertmanager(body, OPTIONS)).toEqual([]);
  });

  it('throws InvalidEventError naming the field', () => {
    expect(() => normalizeAlertmanager(payload('malformed/alertmanager-bad-startsAt.json'), OPTIONS)).toThrow(
      InvalidEventError,
    );
  });
});

describe('prometheusFingerprint', () => {
  it("matches prometheus/common's test vectors", () => {
    expect(prometheusFingerprint({})).toBe(BigInt('14695981039346656037').toString(16));
    expect(
      BigInt(`0x${prometheusFingerprint({ name: 'garland, briggs', fear: 'love is not enough' })}`),
    ).toBe(BigInt('5799056148416392346'));
  });

  it('does not depend on label order', () => {
    expect(prometheusFingerprint({ b: '2', a: '1' })).toBe(prometheusFingerprint({ a: '1', b: '2' }));
  });
});

describe('mapSeverity', () => {
  it.each([
    ['critical', 'critical'],
    ['page', 'critical'],
    ['P1', 'critical'],
    [' CRITICAL ', 'critical'],
    ['error', 'high'],
    ['high', 'high'],
    ['major', 'high'],
    ['warning', 'warning'],
    ['warn', 'warning'],
    ['info', 'info'],
    ['none', 'info'],
    ['low', 'info'],
    ['bogus', 'warning'],
    ['', 'warning'],
    [undefined, 'warning'],
  ] as const)('%j → %s', (value, severity) => {
    expect(mapSeverity(value)).toBe(severity);
  });
});

describe('environmentOf', () => {
  it('takes the first environment label present and not empty, else the default', () => {
    const options = { environmentLabels: ['environment', 'env'], defaultEnvironment: 'prod' };
    expect(environmentOf({ env: 'dev', environment: 'staging' }, options)).toBe('staging');
    expect(environmentOf({ environment: ' ', env: 'dev' }, options)).toBe('dev');
    expect(environmentOf({ stage: 'qa' }, options)).toBe('prod');
  });
});

describe('alertmanagerResource', () => {
  it.each([
    [
      { alertname: 'A', node: 'n1', pod: 'p', namespace: 'ns' },
      { type: 'k8s-node', id: 'n1' },
    ],
    [
      { alertname: 'A', pod: 'p', namespace: 'ns', cluster: 'c' },
      { type: 'k8s-pod', id: 'p', namespace: 'ns', cluster: 'c' },
    ],
    [
      { alertname: 'A', pod: 'p', instance: '10.0.0.1:8080' },
      { type: 'host', id: '10.0.0.1' },
    ],
    [
      { alertname: 'A', instance: 'db-1.internal:9187' },
      { type: 'host', id: 'db-1.internal' },
    ],
    [
      { alertname: 'A', instance: 'db-1' },
      { type: 'host', id: 'db-1' },
    ],
    [
      {
        alertname: 'A',
        job: 'node-exporter',
        pod: 'node-exporter-x',
        namespace: 'monitoring',
        instance: '10.0.0.2:9100',
      },
      { type: 'host', id: '10.0.0.2' },
    ],
    [
      { alertname: 'A', job: 'monitoring/node_exporter', pod: 'ne', namespace: 'm', instance: 'h:9100' },
      { type: 'host', id: 'h' },
    ],
    [
      { alertname: 'ProbeFailure', instance: '' },
      { type: 'alert-group', id: 'ProbeFailure' },
    ],
    [{ alertname: 'Watchdog' }, { type: 'alert-group', id: 'Watchdog' }],
  ])('%j → %j', (labels, resource) => {
    expect(alertmanagerResource(labels)).toMatchObject(resource);
  });
});

describe('stripPort', () => {
  it.each([
    ['10.0.1.23:9100', '10.0.1.23'],
    ['[fd00::1]:9100', 'fd00::1'],
    ['fd00::1', 'fd00::1'],
    ['https://shop.example.com:8443/health', 'shop.example.com'],
    ['https://[fd00::2]/', 'fd00::2'],
    ['ip-10-0-1-23.eu-west-1.compute.internal', 'ip-10-0-1-23.eu-west-1.compute.internal'],
  ])('%s → %s', (instance, host) => {
    expect(stripPort(instance)).toBe(host);
  });
});

describe('normalizeCloudWatchAlarm', () => {
  it('turns an EC2 status check alarm into an alert about the instance', () => {
    const event = payload('cloudwatch-alarm-ec2-status-check.json');
    const alert = normalizeCloudWatchAlarm(event, OPTIONS);
    const arn = 'arn:aws:cloudwatch:eu-west-1:333333333333:alarm:shop-web-1-status-check-failed';
    expect(alert).toMatchObject({
      source: 'cloudwatch',
      name: 'shop-web-1-status-check-failed',
      status: 'firing',
      severity: 'warning',
      category: 'availability',
      environment: 'prod',
      description: 'shop-web-1 (i-0a1b2c3d4e5f60718) fails its EC2 status checks',
      resource: {
        type: 'ec2-instance',
        id: 'i-0a1b2c3d4e5f60718',
        region: 'eu-west-1',
        account: '333333333333',
      },
      fingerprint: stableHash([arn], 16),
      startsAt: '2026-11-25T10:20:12.507Z',
      generatorURL:
        'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/shop-web-1-status-check-failed',
    });
    expect(alert.labels).toEqual({
      InstanceId: 'i-0a1b2c3d4e5f60718',
      alarmName: 'shop-web-1-status-check-failed',
      namespace: 'AWS/EC2',
      metricName: 'StatusCheckFailed',
      statistic: 'Maximum',
      region: 'eu-west-1',
      account: '333333333333',
    });
    expect(alert.summary).toMatch(/^Threshold Crossed: 2 out of the last 2 datapoints/);
    expect(alert.annotations).toMatchObject({
      reason: alert.summary,
      alarmArn: arn,
      alarmState: 'ALARM',
      previousAlarmState: 'OK',
      threshold: '1',
      recentDatapoints: '1,1',
      statistic: 'Maximum',
      period: '60',
      evaluatedDatapoints: '2',
    });
    expect(alert.endsAt).toBeUndefined();
    expect(Alert.safeParse(alert).success).toBe(true);
  });

  it('resolves on OK, in the same incident: same fingerprint, the ALARM start, and an end', () => {
    const firing = normalizeCloudWatchAlarm(payload('cloudwatch-alarm-ec2-status-check.json'), OPTIONS);
    const resolved = normalizeCloudWatchAlarm(payload('cloudwatch-alarm-ok.json'), OPTIONS);
    expect(resolved.status).toBe('resolved');
    expect(resolved.fingerprint).toBe(firing.fingerprint);
    expect(resolved.startsAt).toBe(firing.startsAt);
    expect(resolved.endsAt).toBe('2026-11-25T10:42:12.621Z');
  });

  it('makes an ALB target alarm about the target group, with its ARN and the load balancer kept', () => {
    const alert = normalizeCloudWatchAlarm(payload('cloudwatch-alarm-alb-5xx.json'), OPTIONS);
    expect(alert.category).toBe('error-rate');
    expect(alert.resource).toEqual({
      type: 'target-group',
      id: 'targetgroup/storefront-web/73e2d6bc24d8a067',
      name: 'storefront-web',
      service: 'elasticloadbalancing',
      arn: 'arn:aws:elasticloadbalancing:eu-west-1:333333333333:targetgroup/storefront-web/73e2d6bc24d8a067',
      identifiers: {
        LoadBalancer: 'app/storefront-alb/50dc6c495c0c9188',
        TargetGroup: 'targetgroup/storefront-web/73e2d6bc24d8a067',
      },
      region: 'eu-west-1',
      account: '333333333333',
    });
    expect(alert.labels).toMatchObject({
      LoadBalancer: 'app/storefront-alb/50dc6c495c0c9188',
      TargetGroup: 'targetgroup/storefront-web/73e2d6bc24d8a067',
      metricName: 'HTTPCode_Target_5XX_Count',
    });
  });

  it("takes environment and severity from the alarm's propagated tags", () => {
    const alert = normalizeCloudWatchAlarm(payload('cloudwatch-alarm-lambda-throttles.json'), {
      ...OPTIONS,
      defaultEnvironment: 'dev',
    });
    expect(alert).toMatchObject({
      environment: 'prod',
      severity: 'high',
      category: 'saturation',
      resource: { type: 'lambda-function', id: 'checkout-api' },
    });
    expect(alert.labels).toMatchObject({
      team: 'payments',
      FunctionName: 'checkout-api',
      metricName: 'Throttles',
    });
  });

  it('lets the fixed labels win over a tag or dimension of the same name', () => {
    const event = copy(payload('cloudwatch-alarm-lambda-throttles.json')) as {
      detail: Record<string, unknown>;
    };
    event.detail.alarmTags = { region: 'moon-1', alarmName: 'other' };
    const alert = normalizeCloudWatchAlarm(event, OPTIONS);
    expect(alert.labels.region).toBe('eu-west-1');
    expect(alert.labels.alarmName).toBe('checkout-api-throttles');
  });

  it('labels a metric math alarm from its first metric and keeps the expression', () => {
    const alert = normalizeCloudWatchAlarm(payload('cloudwatch-alarm-expression.json'), OPTIONS);
    expect(alert.status).toBe('firing');
    expect(alert.category).toBe('error-rate');
    expect(alert.labels).toMatchObject({ metricName: 'HTTPCode_Target_5XX_Count', statistic: 'Sum' });
    expect(alert.annotations).toMatchObject({
      expression: '100 * m1 / m2',
      previousAlarmState: 'INSUFFICIENT_DATA',
    });
    expect(alert.annotations.recentDatapoints).toBe('9.7');
  });

  it('makes a Container Insights node alarm about the node (NodeName before InstanceId)', () => {
    const alert = normalizeCloudWatchAlarm(
      payload('cloudwatch-alarm-container-insights-node-memory.json'),
      OPTIONS,
    );
    expect(alert.resource).toEqual({
      type: 'k8s-node',
      id: 'ip-10-0-1-23.eu-west-1.compute.internal',
      kind: 'Node',
      name: 'ip-10-0-1-23.eu-west-1.compute.internal',
      node: 'ip-10-0-1-23.eu-west-1.compute.internal',
      cluster: 'prod-eks-eu-west-1',
      identifiers: {
        ClusterName: 'prod-eks-eu-west-1',
        InstanceId: 'i-0f1e2d3c4b5a69788',
        NodeName: 'ip-10-0-1-23.eu-west-1.compute.internal',
      },
      region: 'eu-west-1',
      account: '333333333333',
    });
    expect(alert.category).toBe('resource-exhaustion');
  });

  it('keeps reasonData that is not JSON as text and says so, without throwing', () => {
    const alert = normalizeCloudWatchAlarm(
      payload('malformed/cloudwatch-alarm-reasondata-not-json.json'),
      OPTIONS,
    );
    expect(alert.annotations.reasonData).toMatch(/^\{"version":"1.0"/);
    expect(alert.annotations.reasonDataError).toMatch(/^reasonData is not valid JSON \(.+\); kept as text$/);
    expect(alert.annotations.threshold).toBeUndefined();
  });

  it('makes an alarm without a metric (composite) about the alarm, and builds the ARN when resources is empty', () => {
    const event = copy(payload('cloudwatch-alarm-expression.json')) as Record<string, unknown> & {
      detail: Record<string, unknown>;
    };
    event.detail.configuration = {
      alarmRule: 'ALARM(storefront-web-5xx-rate) OR ALARM(storefront-web-target-5xx)',
    };
    event.resources = [];
    const alert = normalizeCloudWatchAlarm(event, OPTIONS);
    const arn = 'arn:aws:cloudwatch:eu-west-1:333333333333:alarm:storefront-web-5xx-rate';
    expect(alert.resource).toEqual({
      type: 'alarm',
      id: arn,
      arn,
      service: 'cloudwatch',
      region: 'eu-west-1',
      account: '333333333333',
    });
    expect(alert.labels).toEqual({
      alarmName: 'storefront-web-5xx-rate',
      region: 'eu-west-1',
      account: '333333333333',
    });
    expect(alert.annotations.alarmRule).toContain('ALARM(storefront-web-5xx-rate)');
    expect(alert.category).toBe('error-rate');
  });

  it('throws InvalidEventError for a bad state', () => {
    expect(() =>
      normalizeCloudWatchAlarm(payload('malformed/cloudwatch-alarm-bad-state.json'), OPTIONS),
    ).toThrow(/detail\.state\.value/);
  });
});

describe('alarmStatus (INSUFFICIENT_DATA)', () => {
  function withStates(state: string, previous: string) {
    const event = copy(payload('cloudwatch-alarm-ec2-status-check.json')) as {
      detail: { state: Record<string, unknown>; previousState: Record<string, unknown> };
    };
    event.detail.state.value = state;
    event.detail.previousState.value = previous;
    return event;
  }

  it.each([
    ['ALARM', 'OK', 'firing'],
    ['ALARM', 'INSUFFICIENT_DATA', 'firing'],
    ['OK', 'ALARM', 'resolved'],
    ['INSUFFICIENT_DATA', 'ALARM', 'firing'],
    ['INSUFFICIENT_DATA', 'OK', 'resolved'],
  ])('%s after %s is %s', (state, previous, status) => {
    expect(alarmStatus(parseCloudWatchAlarmEvent(withStates(state, previous)))).toBe(status);
  });

  it('keeps a gap in data after ALARM in the incident of that ALARM', () => {
    const event = withStates('INSUFFICIENT_DATA', 'ALARM');
    const alert = normalizeCloudWatchAlarm(event, OPTIONS);
    expect(alert.startsAt).toBe('2026-11-24T08:04:12.314Z');
    expect(alert.endsAt).toBeUndefined();
  });
});

describe('cloudWatchResource', () => {
  const scope = {
    alarmArn: 'arn:aws:cloudwatch:eu-west-1:333333333333:alarm:a',
    region: 'eu-west-1',
    account: '333333333333',
  };
  it.each([
    [{ InstanceId: 'i-1' }, { type: 'ec2-instance', id: 'i-1' }],
    [{ FunctionName: 'f' }, { type: 'lambda-function', id: 'f' }],
    [
      { LoadBalancer: 'app/lb/1', TargetGroup: 'targetgroup/tg/2' },
      { type: 'target-group', id: 'targetgroup/tg/2' },
    ],
    [{ LoadBalancer: 'app/lb/1' }, { type: 'load-balancer', id: 'app/lb/1' }],
    [{ DBInstanceIdentifier: 'orders-db' }, { type: 'rds-instance', id: 'orders-db' }],
    [{ QueueName: 'orders' }, { type: 'sqs-queue', id: 'orders' }],
    [
      { TableName: 'carts', Operation: 'PutItem' },
      { type: 'dynamodb-table', id: 'carts' },
    ],
    [
      { ApiName: 'shop-api', Stage: 'prod' },
      { type: 'apigateway-stage', id: 'shop-api/prod' },
    ],
    [{ AutoScalingGroupName: 'asg' }, { type: 'autoscaling-group', id: 'asg' }],
    [
      { AutoScalingGroupName: 'asg', InstanceId: 'i-2' },
      { type: 'ec2-instance', id: 'i-2' },
    ],
    [
      { ClusterName: 'c', NodeName: 'n', InstanceId: 'i-3' },
      { type: 'k8s-node', id: 'n', cluster: 'c' },
    ],
    [
      { ClusterName: 'c', Namespace: 'ns', PodName: 'p' },
      { type: 'k8s-pod', id: 'p', namespace: 'ns', cluster: 'c' },
    ],
    [
      { ClusterName: 'c', ServiceName: 's' },
      { type: 'ecs-service', id: 's', cluster: 'c' },
    ],
    [{ ServiceName: 's' }, { type: 'alarm', id: scope.alarmArn }],
    [{}, { type: 'alarm', id: scope.alarmArn }],
  ])('%j → %j', (dimensions, resource) => {
    expect(cloudWatchResource(dimensions, scope)).toMatchObject({
      ...resource,
      region: 'eu-west-1',
      account: '333333333333',
    });
  });
});

describe('reasonDataAnnotations', () => {
  it('reads the documented fields', () => {
    expect(
      reasonDataAnnotations(
        '{"version":"1.0","period":60,"recentDatapoints":[0.0],"recentLowerThresholds":[0.02],"recentUpperThresholds":[0.3]}',
      ),
    ).toMatchObject({
      period: '60',
      recentDatapoints: '0',
      recentLowerThresholds: '0.02',
      recentUpperThresholds: '0.3',
    });
  });

  it('says when it is JSON but not an object, and is silent when there is none', () => {
    expect(reasonDataAnnotations('[1,2]')).toEqual({
      reasonData: '[1,2]',
      reasonDataError: 'reasonData is not a JSON object; kept as text',
    });
    expect(reasonDataAnnotations(undefined)).toEqual({});
    expect(reasonDataAnnotations('')).toEqual({});
  });
});

describe('alert budget', () => {
  const base = () => normalizeAlertmanager(payload('alertmanager-crashloop.json'), OPTIONS)[0]!;

  it('leaves an alert that fits alone (the same object)', () => {
    const alert = base();
    expect(fitAlertToBudget(alert)).toBe(alert);
  });

  it('cuts a long annotation with a marker so the alert fits 32 KB', () => {
    const body = copy(payload('alertmanager-crashloop.json')) as unknown as Webhook;
    body.alerts[0]!.annotations.logs = 'x'.repeat(100_000);
    const [alert] = normalizeAlertmanager(body, OPTIONS);
    expect(bytes(alert)).toBeLessThanOrEqual(ALERT_BUDGET_BYTES);
    expect(alert!.annotations.logs).toMatch(/^x+…\[truncated from 100000 bytes\]$/);
    expect(Buffer.byteLength(alert!.annotations.logs!)).toBeLessThanOrEqual(4_096);
    // The small annotations are untouched.
    expect(alert!.annotations.summary).toBe('Pod is crash looping.');
  });

  it('cuts many long annotations further, longest first', () => {
    const alert = base();
    for (let i = 0; i < 20; i++) alert.annotations[`a${i}`] = 'é'.repeat(3_000);
    const fitted = fitAlertToBudget(alert);
    expect(bytes(fitted)).toBeLessThanOrEqual(ALERT_BUDGET_BYTES);
    expect(fitted.annotations.a0).toContain('…[truncated from 6000 bytes]');
    // Never cut inside a character.
    for (const value of Object.values(fitted.annotations)) expect(value).not.toContain('\uFFFD');
    // The input is not changed.
    expect(alert.annotations.a0).toHaveLength(3_000);
  });

  it('drops annotations, then all but the essential labels, when that is what it takes', () => {
    const alert = base();
    for (let i = 0; i < 2_000; i++) alert.labels[`label_${i}`] = `value-${i}`;
    const fitted = fitAlertToBudget(alert);
    expect(bytes(fitted)).toBeLessThanOrEqual(ALERT_BUDGET_BYTES);
    expect(fitted.labels).toMatchObject({
      alertname: 'KubePodCrashLooping',
      pod: 'cart-7d9c8b5f6-x2v4q',
      namespace: 'shop',
    });
    expect(fitted.labels.label_0).toBeUndefined();
    expect(fitted.annotations.truncated).toBe('annotations and labels dropped to fit the alert budget');
    expect(Alert.safeParse(fitted).success).toBe(true);
  });

  it('fits an alert of thousands of annotations in time linear in its size (bytes serialized, not a clock)', () => {
    // Prepare: 2,000 annotations of ~60 bytes: ~140 KB, well over the 32 KB budget
    const alert = base();
    for (let i = 0; i < 2_000; i++) alert.annotations[`note_${i}`] = `${'n'.repeat(50)}-${i}`;
    const inputBytes = bytes(alert);
    const stringify = JSON.stringify;
    let serialized = 0;
    const spy = vi.spyOn(JSON, 'stringify').mockImplementation((...args: Parameters<typeof stringify>) => {
      const text = stringify(...args);
      serialized += text?.length ?? 0;
      return text;
    });

    // Act
    let fitted: Alert;
    try {
      fitted = fitAlertToBudget(alert);
    } finally {
      spy.mockRestore();
    }

    // Assess: re-serializing the whole alert per annotation would be ~2,000 × the input
    expect(bytes(fitted)).toBeLessThanOrEqual(ALERT_BUDGET_BYTES);
    expect(serialized).toBeLessThanOrEqual(20 * inputBytes);
  });

  it('honours a smaller budget from the options', () => {
    const [alert] = normalizeAlertmanager(payload('alertmanager-crashloop.json'), {
      ...OPTIONS,
      budgetBytes: 1_800,
    });
    expect(bytes(alert)).toBeLessThanOrEqual(1_800);
  });
});

describe('truncateText', () => {
  it('keeps text that fits, and cuts at a character boundary with the marker inside the limit', () => {
    expect(truncateText('short', 5)).toBe('short');
    const cut = truncateText('€'.repeat(100), 64);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(64);
    expect(cut).toMatch(/^€+…\[truncated from 300 bytes\]$/);
  });
});

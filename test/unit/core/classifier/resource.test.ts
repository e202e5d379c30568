import { describe, expect, it } from 'vitest';
import { alertmanagerResource, cloudWatchResource } from '../../../../functions/core/classifier/normalize.ts';

/**
 * Resources from realistic label sets: what kube-prometheus-stack's alerts carry when they reach
 * Alertmanager (scrape target labels included, kube-state-metrics scraped with honorLabels), and the
 * dimensions of AWS's recommended alarms. The traps are the point: an object alert carries
 * kube-state-metrics' own pod/container/instance, and node-exporter names a host only by IP.
 */

const KSM_TARGET = {
  cluster: 'prod-eks-eu-west-1',
  environment: 'prod',
  prometheus: 'monitoring/kube-prometheus-stack-prometheus',
  job: 'kube-state-metrics',
  endpoint: 'http',
  service: 'kube-prometheus-stack-kube-state-metrics',
  instance: '10.0.3.40:8080',
  // kube-state-metrics' own pod: on object alerts, nothing of the object overrides these.
  namespace: 'monitoring',
  pod: 'kube-prometheus-stack-kube-state-metrics-6c9d8f7b5-q2x8z',
  container: 'kube-state-metrics',
};

const NODE_EXPORTER_TARGET = {
  cluster: 'prod-eks-eu-west-1',
  environment: 'prod',
  prometheus: 'monitoring/kube-prometheus-stack-prometheus',
  job: 'node-exporter',
  endpoint: 'http-metrics',
  service: 'kube-prometheus-stack-prometheus-node-exporter',
  namespace: 'monitoring',
  pod: 'kube-prometheus-stack-prometheus-node-exporter-7xk2p',
  container: 'node-exporter',
  instance: '10.0.2.141:9100',
};

describe('Prometheus alerts: the resource from kube-prometheus-stack label sets', () => {
  it('makes KubeDeploymentReplicasMismatch about the Deployment, not kube-state-metrics’ own pod', () => {
    const resource = alertmanagerResource({
      ...KSM_TARGET,
      alertname: 'KubeDeploymentReplicasMismatch',
      severity: 'warning',
      namespace: 'shop',
      deployment: 'checkout',
    });
    expect(resource).toEqual({
      type: 'k8s-deployment',
      id: 'checkout',
      kind: 'Deployment',
      name: 'checkout',
      namespace: 'shop',
      cluster: 'prod-eks-eu-west-1',
    });
    expect(JSON.stringify(resource)).not.toContain('kube-state-metrics');
  });

  it('makes KubePodCrashLooping about the crashing pod and container (honorLabels kept the object’s)', () => {
    expect(
      alertmanagerResource({
        ...KSM_TARGET,
        alertname: 'KubePodCrashLooping',
        namespace: 'shop',
        pod: 'checkout-7f9c6d8b5-x2x4z',
        container: 'app',
        reason: 'CrashLoopBackOff',
        uid: '5c1f9a2e-1b7d-4f0e-9a43-6f2c8e1d0b37',
      }),
    ).toEqual({
      type: 'k8s-pod',
      id: 'checkout-7f9c6d8b5-x2x4z',
      kind: 'Pod',
      name: 'checkout-7f9c6d8b5-x2x4z',
      namespace: 'shop',
      container: 'app',
      cluster: 'prod-eks-eu-west-1',
    });
  });

  it('makes KubeJobFailed about the Job named by job_name, not the scrape job', () => {
    expect(
      alertmanagerResource({
        ...KSM_TARGET,
        alertname: 'KubeJobFailed',
        namespace: 'batch',
        job_name: 'nightly-report-29012345',
        condition: 'true',
      }),
    ).toMatchObject({ type: 'k8s-job', kind: 'Job', name: 'nightly-report-29012345', namespace: 'batch' });
  });

  it.each([
    ['KubeHpaMaxedOut', { horizontalpodautoscaler: 'web' }, 'k8s-hpa', 'HorizontalPodAutoscaler', 'web'],
    [
      'KubeStatefulSetReplicasMismatch',
      { statefulset: 'postgres' },
      'k8s-statefulset',
      'StatefulSet',
      'postgres',
    ],
    ['KubeDaemonSetRolloutStuck', { daemonset: 'fluent-bit' }, 'k8s-daemonset', 'DaemonSet', 'fluent-bit'],
    [
      'KubePdbNotEnoughHealthyPods',
      { poddisruptionbudget: 'web-pdb' },
      'k8s-pdb',
      'PodDisruptionBudget',
      'web-pdb',
    ],
    [
      'KubeQuotaExceeded',
      { resourcequota: 'team-a', resource: 'cpu' },
      'k8s-resourcequota',
      'ResourceQuota',
      'team-a',
    ],
  ])('makes %s about the object its label names', (alertname, object, type, kind, name) => {
    expect(alertmanagerResource({ ...KSM_TARGET, alertname, namespace: 'shop', ...object })).toMatchObject({
      type,
      kind,
      name,
      namespace: 'shop',
    });
  });

  it('makes KubePersistentVolumeFillingUp about the claim, though the kubelet’s node is on it too', () => {
    expect(
      alertmanagerResource({
        alertname: 'KubePersistentVolumeFillingUp',
        cluster: 'prod-eks-eu-west-1',
        job: 'kubelet',
        metrics_path: '/metrics',
        service: 'kube-prometheus-stack-kubelet',
        endpoint: 'https-metrics',
        instance: '10.0.1.23:10250',
        node: 'ip-10-0-1-23.eu-west-1.compute.internal',
        namespace: 'db',
        persistentvolumeclaim: 'data-postgres-0',
      }),
    ).toMatchObject({
      type: 'k8s-pvc',
      kind: 'PersistentVolumeClaim',
      name: 'data-postgres-0',
      namespace: 'db',
    });
  });

  it('makes KubeNodeNotReady about the node, not kube-state-metrics’ pod', () => {
    expect(
      alertmanagerResource({
        ...KSM_TARGET,
        alertname: 'KubeNodeNotReady',
        node: 'ip-10-0-2-5.eu-west-1.compute.internal',
        condition: 'Ready',
        status: 'true',
      }),
    ).toEqual({
      type: 'k8s-node',
      id: 'ip-10-0-2-5.eu-west-1.compute.internal',
      kind: 'Node',
      name: 'ip-10-0-2-5.eu-west-1.compute.internal',
      node: 'ip-10-0-2-5.eu-west-1.compute.internal',
      cluster: 'prod-eks-eu-west-1',
    });
  });

  it('makes a node-exporter alert about the host by its IP (the node is resolved at run time)', () => {
    expect(
      alertmanagerResource({
        ...NODE_EXPORTER_TARGET,
        alertname: 'NodeFilesystemSpaceFillingUp',
        device: '/dev/nvme0n1p1',
        fstype: 'xfs',
        mountpoint: '/',
      }),
    ).toEqual({ type: 'host', id: '10.0.2.141', address: '10.0.2.141', cluster: 'prod-eks-eu-west-1' });
  });

  it('makes CPUThrottlingHigh about the throttled pod and container', () => {
    expect(
      alertmanagerResource({
        alertname: 'CPUThrottlingHigh',
        cluster: 'prod-eks-eu-west-1',
        service: 'kube-prometheus-stack-kubelet',
        instance: '10.0.1.23:10250',
        namespace: 'shop',
        pod: 'api-5d8c7b9f4-abcde',
        container: 'api',
      }),
    ).toMatchObject({ type: 'k8s-pod', name: 'api-5d8c7b9f4-abcde', container: 'api', namespace: 'shop' });
  });

  it('makes TargetDown about the service whose targets are down, keeping the scrape job', () => {
    expect(
      alertmanagerResource({
        alertname: 'TargetDown',
        cluster: 'prod-eks-eu-west-1',
        job: 'checkout',
        namespace: 'shop',
        service: 'checkout',
      }),
    ).toEqual({
      type: 'k8s-service',
      id: 'checkout',
      kind: 'Service',
      name: 'checkout',
      namespace: 'shop',
      job: 'checkout',
      cluster: 'prod-eks-eu-west-1',
    });
  });

  it('makes KubePodNotReady about the pod (kube-state-metrics job, the object’s pod label)', () => {
    expect(
      alertmanagerResource({
        alertname: 'KubePodNotReady',
        cluster: 'prod-eks-eu-west-1',
        job: 'kube-state-metrics',
        namespace: 'shop',
        pod: 'cart-6b7c9d8f5-r4t6y',
      }),
    ).toMatchObject({ type: 'k8s-pod', name: 'cart-6b7c9d8f5-r4t6y' });
  });

  it.each([
    [
      { alertname: 'KubeAPIDown', cluster: 'prod', job: 'apiserver' },
      { type: 'k8s-cluster', id: 'prod' },
    ],
    [
      {
        alertname: 'etcdMembersDown',
        cluster: 'prod',
        job: 'kube-etcd',
        namespace: 'kube-system',
        service: 'x-kube-etcd',
      },
      { type: 'k8s-cluster', id: 'prod' },
    ],
    [
      { alertname: 'KubeCPUOvercommit', cluster: 'prod' },
      { type: 'k8s-cluster', id: 'prod' },
    ],
    [{ alertname: 'Watchdog' }, { type: 'alert-group', id: 'Watchdog' }],
  ])('makes a cluster-wide alert about the cluster: %j', (labels, resource) => {
    expect(alertmanagerResource(labels)).toMatchObject(resource);
  });

  it('makes a Prometheus self-monitoring alert about the Prometheus pod', () => {
    expect(
      alertmanagerResource({
        alertname: 'PrometheusRuleFailures',
        cluster: 'prod',
        job: 'kube-prometheus-stack-prometheus',
        namespace: 'monitoring',
        pod: 'prometheus-kube-prometheus-stack-prometheus-0',
        container: 'prometheus',
        instance: '10.0.3.12:9090',
        rule_group: '/etc/prometheus/rules/x.yaml;kubernetes-apps',
      }),
    ).toMatchObject({ type: 'k8s-pod', name: 'prometheus-kube-prometheus-stack-prometheus-0' });
  });
});

describe('CloudWatch alarms: the resource from the dimensions of AWS’s recommended alarms', () => {
  const scope = {
    alarmArn: 'arn:aws:cloudwatch:eu-west-1:333333333333:alarm:x',
    region: 'eu-west-1',
    account: '333333333333',
  };

  it('makes an ECS CPU alarm about the service in its cluster', () => {
    expect(cloudWatchResource({ ClusterName: 'shop', ServiceName: 'cart' }, scope, 'AWS/ECS')).toEqual({
      type: 'ecs-service',
      id: 'cart',
      name: 'cart',
      cluster: 'shop',
      service: 'ecs',
      arn: 'arn:aws:ecs:eu-west-1:333333333333:service/shop/cart',
      identifiers: { ClusterName: 'shop', ServiceName: 'cart' },
      region: 'eu-west-1',
      account: '333333333333',
    });
  });

  it.each([
    [
      { DBInstanceIdentifier: 'orders' },
      'AWS/RDS',
      'rds-instance',
      'arn:aws:rds:eu-west-1:333333333333:db:orders',
    ],
    [{ QueueName: 'jobs' }, 'AWS/SQS', 'sqs-queue', 'arn:aws:sqs:eu-west-1:333333333333:jobs'],
    [
      { FunctionName: 'api' },
      'AWS/Lambda',
      'lambda-function',
      'arn:aws:lambda:eu-west-1:333333333333:function:api',
    ],
    [
      { TableName: 'carts' },
      'AWS/DynamoDB',
      'dynamodb-table',
      'arn:aws:dynamodb:eu-west-1:333333333333:table/carts',
    ],
    [
      { StreamName: 'clicks' },
      'AWS/Kinesis',
      'kinesis-stream',
      'arn:aws:kinesis:eu-west-1:333333333333:stream/clicks',
    ],
    [{ VolumeId: 'vol-1' }, 'AWS/EBS', 'ebs-volume', 'arn:aws:ec2:eu-west-1:333333333333:volume/vol-1'],
    [
      { NatGatewayId: 'nat-1' },
      'AWS/NATGateway',
      'nat-gateway',
      'arn:aws:ec2:eu-west-1:333333333333:natgateway/nat-1',
    ],
    [
      { CacheClusterId: 'c-001' },
      'AWS/ElastiCache',
      'elasticache-cluster',
      'arn:aws:elasticache:eu-west-1:333333333333:cluster:c-001',
    ],
  ])('makes %j (%s) a %s with its ARN', (dimensions, namespace, type, arn) => {
    expect(cloudWatchResource(dimensions, scope, namespace)).toMatchObject({ type, arn });
  });

  it('tells Container Insights (Kubernetes) from ECS Container Insights by namespace', () => {
    expect(cloudWatchResource({ ClusterName: 'eks-prod' }, scope, 'ContainerInsights')).toMatchObject({
      type: 'k8s-cluster',
      cluster: 'eks-prod',
    });
    expect(
      cloudWatchResource({ ClusterName: 'shop', ServiceName: 'cart' }, scope, 'ECS/ContainerInsights'),
    ).toMatchObject({ type: 'ecs-service', name: 'cart' });
    expect(cloudWatchResource({ ClusterName: 'shop' }, scope, 'ECS/ContainerInsights')).toMatchObject({
      type: 'ecs-cluster',
    });
  });

  it('makes an API Gateway stage alarm about the stage', () => {
    expect(cloudWatchResource({ ApiName: 'shop-api', Stage: 'prod' }, scope, 'AWS/ApiGateway')).toMatchObject(
      {
        type: 'apigateway-stage',
        id: 'shop-api/prod',
        name: 'shop-api',
        identifiers: { ApiName: 'shop-api', Stage: 'prod' },
      },
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { SymptomCategory } from '../../../../functions/core/alert.ts';
import {
  CATEGORY_RULES,
  categorize,
  categorizeText,
} from '../../../../functions/core/classifier/categorize.ts';

describe('categorize: kube-prometheus-stack (kubernetes-mixin) alert names', () => {
  it.each<[string, SymptomCategory]>([
    ['KubeNodeMemoryPressure', 'resource-exhaustion'],
    ['KubeNodeDiskPressure', 'resource-exhaustion'],
    ['KubeNodePIDPressure', 'resource-exhaustion'],
    ['KubePodCrashLooping', 'availability'],
    ['KubePodNotReady', 'availability'],
    ['KubeContainerWaiting', 'availability'],
    ['KubeDeploymentReplicasMismatch', 'availability'],
    ['KubeStatefulSetReplicasMismatch', 'availability'],
    ['KubeDaemonSetNotScheduled', 'availability'],
    ['KubeNodeNotReady', 'availability'],
    ['KubeNodeUnreachable', 'availability'],
    ['KubeNodeReadinessFlapping', 'availability'],
    ['KubeJobFailed', 'availability'],
    ['KubeAPIDown', 'availability'],
    ['KubeletDown', 'availability'],
    ['KubeSchedulerDown', 'availability'],
    ['TargetDown', 'availability'],
    ['etcdMembersDown', 'availability'],
    ['etcdInsufficientMembers', 'availability'],
    ['etcdNoLeader', 'availability'],
    ['KubeAPIErrorBudgetBurn', 'error-rate'],
    ['KubeAggregatedAPIErrors', 'error-rate'],
    ['KubeClientErrors', 'error-rate'],
    ['etcdHighNumberOfFailedGRPCRequests', 'error-rate'],
    ['KubeletPlegDurationHigh', 'latency'],
    ['KubeletPodStartUpLatencyHigh', 'latency'],
    ['etcdGRPCRequestsSlow', 'latency'],
    ['etcdHighFsyncDurations', 'latency'],
    ['CPUThrottlingHigh', 'saturation'],
    ['KubeCPUOvercommit', 'capacity'],
    ['KubeMemoryOvercommit', 'capacity'],
    ['KubeCPUQuotaOvercommit', 'capacity'],
    ['KubeQuotaAlmostFull', 'capacity'],
    ['KubeQuotaExceeded', 'capacity'],
    ['KubeHpaMaxedOut', 'capacity'],
    ['KubeHpaReplicasMismatch', 'capacity'],
    ['KubeletTooManyPods', 'capacity'],
    ['KubePersistentVolumeFillingUp', 'resource-exhaustion'],
    ['KubePersistentVolumeInodesFillingUp', 'resource-exhaustion'],
    ['KubeClientCertificateExpiration', 'security'],
    ['KubeletServerCertificateExpiration', 'security'],
    ['KubeVersionMismatch', 'configuration'],
    ['KubeDeploymentGenerationMismatch', 'configuration'],
    ['KubeDeploymentRolloutStuck', 'configuration'],
    ['KubeDaemonSetMisScheduled', 'configuration'],
    ['Watchdog', 'unknown'],
    ['InfoInhibitor', 'unknown'],
  ])('%s → %s', (name, category) => {
    expect(categorize({ name })).toBe(category);
  });
});

describe('categorize: node-exporter mixin alert names', () => {
  it.each<[string, SymptomCategory]>([
    ['NodeFilesystemSpaceFillingUp', 'resource-exhaustion'],
    ['NodeFilesystemAlmostOutOfSpace', 'resource-exhaustion'],
    ['NodeFilesystemFilesFillingUp', 'resource-exhaustion'],
    ['NodeFilesystemAlmostOutOfFiles', 'resource-exhaustion'],
    ['NodeMemoryHighUtilization', 'resource-exhaustion'],
    ['NodeMemoryMajorPagesFaults', 'resource-exhaustion'],
    ['NodeHighNumberConntrackEntriesUsed', 'resource-exhaustion'],
    ['NodeFileDescriptorLimit', 'resource-exhaustion'],
    ['NodeDiskIOSaturation', 'saturation'],
    ['NodeSystemSaturation', 'saturation'],
    ['NodeCPUHighUsage', 'saturation'],
    ['NodeNetworkReceiveErrs', 'error-rate'],
    ['NodeNetworkTransmitErrs', 'error-rate'],
    ['NodeRAIDDegraded', 'availability'],
    ['NodeRAIDDiskFailure', 'availability'],
    ['NodeSystemdServiceFailed', 'availability'],
    ['NodeNetworkInterfaceFlapping', 'availability'],
    ['NodeClockSkewDetected', 'configuration'],
    ['NodeClockNotSynchronising', 'configuration'],
  ])('%s → %s', (name, category) => {
    expect(categorize({ name })).toBe(category);
  });
});

describe('categorize: CloudWatch metrics (the metric decides, not the alarm name)', () => {
  it.each<[string, string, SymptomCategory]>([
    ['AWS/EC2', 'StatusCheckFailed', 'availability'],
    ['AWS/EC2', 'StatusCheckFailed_System', 'availability'],
    ['AWS/EC2', 'StatusCheckFailed_Instance', 'availability'],
    ['AWS/EC2', 'StatusCheckFailed_AttachedEBS', 'availability'],
    ['AWS/EC2', 'CPUUtilization', 'saturation'],
    ['AWS/EC2', 'CPUCreditBalance', 'capacity'],
    ['AWS/ApplicationELB', 'HTTPCode_Target_5XX_Count', 'error-rate'],
    ['AWS/ApplicationELB', 'HTTPCode_ELB_5XX_Count', 'error-rate'],
    ['AWS/ApplicationELB', 'HTTPCode_ELB_503_Count', 'error-rate'],
    ['AWS/ApplicationELB', 'HTTPCode_Target_4XX_Count', 'error-rate'],
    ['AWS/ApplicationELB', 'TargetResponseTime', 'latency'],
    ['AWS/ApplicationELB', 'UnHealthyHostCount', 'availability'],
    ['AWS/ApplicationELB', 'HealthyHostCount', 'availability'],
    ['AWS/ApiGateway', '5XXError', 'error-rate'],
    ['AWS/ApiGateway', 'Latency', 'latency'],
    ['AWS/Lambda', 'Throttles', 'saturation'],
    ['AWS/Lambda', 'Errors', 'error-rate'],
    ['AWS/Lambda', 'Duration', 'latency'],
    ['AWS/Lambda', 'ConcurrentExecutions', 'saturation'],
    ['AWS/Lambda', 'IteratorAge', 'saturation'],
    ['AWS/DynamoDB', 'ThrottledRequests', 'saturation'],
    ['AWS/DynamoDB', 'ReadThrottleEvents', 'saturation'],
    ['AWS/DynamoDB', 'SystemErrors', 'error-rate'],
    ['AWS/RDS', 'FreeStorageSpace', 'resource-exhaustion'],
    ['AWS/RDS', 'FreeableMemory', 'resource-exhaustion'],
    ['AWS/RDS', 'DatabaseConnections', 'saturation'],
    ['AWS/RDS', 'ReplicaLag', 'latency'],
    ['AWS/EBS', 'VolumeQueueLength', 'saturation'],
    ['AWS/EBS', 'BurstBalance', 'capacity'],
    ['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'saturation'],
    ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'saturation'],
    ['AWS/SQS', 'NumberOfMessagesSent', 'saturation'],
    ['AWS/AutoScaling', 'GroupDesiredCapacity', 'capacity'],
    ['ContainerInsights', 'node_memory_utilization', 'resource-exhaustion'],
    ['ContainerInsights', 'node_filesystem_utilization', 'resource-exhaustion'],
    ['ContainerInsights', 'node_cpu_utilization', 'saturation'],
    ['ContainerInsights', 'pod_number_of_container_restarts', 'availability'],
    ['ECS/ContainerInsights', 'MemoryUtilized', 'resource-exhaustion'],
    ['CWAgent', 'disk_used_percent', 'resource-exhaustion'],
    ['CWAgent', 'mem_used_percent', 'resource-exhaustion'],
  ])('%s %s → %s', (namespace, metricName, category) => {
    expect(categorize({ name: 'prod-alarm', namespace, metricName })).toBe(category);
  });

  it('prefers the metric to a misleading alarm name', () => {
    expect(categorize({ name: 'checkout-high-latency', metricName: 'HTTPCode_Target_5XX_Count' })).toBe(
      'error-rate',
    );
  });

  it('falls back to the alarm name, then to the namespace, then to unknown', () => {
    expect(categorize({ name: 'checkout-api-response-time', metricName: 'p99' })).toBe('latency');
    expect(categorize({ name: 'orders', metricName: 'SentMessageSize', namespace: 'AWS/SQS' })).toBe(
      'saturation',
    );
    expect(categorize({ name: 'orders', metricName: 'Invocations', namespace: 'AWS/Lambda' })).toBe(
      'unknown',
    );
  });
});

describe('categorizeText', () => {
  it('reads names in any spelling', () => {
    expect(categorizeText('http-code-target-5xx')).toBe('error-rate');
    expect(categorizeText('HttpCodeTarget5xx')).toBe('error-rate');
    expect(categorizeText('Response Time')).toBe('latency');
    expect(categorizeText('')).toBeUndefined();
    expect(categorizeText('---')).toBeUndefined();
  });

  it('has a reader-facing description for every rule', () => {
    for (const rule of CATEGORY_RULES) expect(rule.covers).not.toBe('');
  });
});

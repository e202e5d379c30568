import type { DiagnosticResult } from '../../../../functions/core/findings/finding.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';

/** Tool outputs as the tools declare them: each goes through its tool's output schema first. */

export const OBSERVED_AT = '2024-05-01T12:10:00.000Z';
export const ALERT_STARTED_AT = '2024-05-01T12:00:00.000Z';

export function result(tool: string, output: unknown, stepId = tool.replace(/\W/g, '-')): DiagnosticResult {
  const declaration = TOOL_CATALOG.get(tool);
  if (!declaration?.output) throw new Error(`fixture: ${tool} declares no output`);
  return { stepId, tool, observedAt: OBSERVED_AT, output: declaration.output.parse(output) };
}

export function workloadStatus(overrides: Record<string, unknown> = {}) {
  return result('k8s.workload-status', {
    kind: 'Deployment',
    name: 'checkout',
    namespace: 'shop',
    replicas: 4,
    readyReplicas: 3,
    availableReplicas: 3,
    updatedReplicas: 4,
    unavailableReplicas: 1,
    rolloutInProgress: false,
    lastRolloutMinutesAgo: 13,
    crashLoopingPods: 1,
    crashLoopingPodNames: ['checkout-7d9-abc'],
    podCount: 4,
    podRestarts: 9,
    ...overrides,
  });
}

export function rolloutHistory(overrides: Record<string, unknown> = {}) {
  return result('k8s.rollout-history', {
    kind: 'Deployment',
    name: 'checkout',
    namespace: 'shop',
    revisions: [
      {
        revision: 7,
        current: true,
        createdAt: '2024-05-01T11:57:00.000Z',
        images: [{ container: 'app', image: 'shop/checkout:1.4.2' }],
        changeCause: 'release 1.4.2',
      },
      {
        revision: 6,
        current: false,
        createdAt: '2024-04-30T09:00:00.000Z',
        images: [{ container: 'app', image: 'shop/checkout:1.4.1' }],
        changeCause: null,
      },
    ],
    currentRevision: 7,
    previousRevision: 6,
    lastRolloutMinutesAgo: 13,
    imagesChanged: true,
    changedImages: [{ container: 'app', from: 'shop/checkout:1.4.1', to: 'shop/checkout:1.4.2' }],
    ...overrides,
  });
}

export function container(overrides: Record<string, unknown> = {}) {
  return {
    name: 'app',
    image: 'shop/checkout:1.4.2',
    ready: true,
    restarts: 0,
    state: 'running',
    reason: null,
    message: null,
    exitCode: null,
    lastTerminationReason: null,
    lastExitCode: null,
    lastTerminatedAt: null,
    ...overrides,
  };
}

export function pod(name: string, node: string, owner: string, containers: unknown[], extra = {}) {
  return {
    name,
    phase: 'Running',
    ready: false,
    node,
    ageMinutes: 30,
    restarts: 3,
    owner: { kind: 'Deployment', name: owner },
    deleting: false,
    unschedulable: null,
    containers,
    lastWarning: null,
    ...extra,
  };
}

export function pods(podList: unknown[], stepId?: string) {
  return result(
    'k8s.pods',
    {
      namespace: 'shop',
      selector: '',
      total: podList.length,
      ready: 0,
      notReady: podList.length,
      pending: 0,
      restarts: 3,
      waitingReasons: {},
      terminationReasons: {},
      pods: podList,
    },
    stepId,
  );
}

export function nodeResources(name: string, overrides: Record<string, unknown> = {}) {
  const amounts = { cpuCores: 4, memoryBytes: 16e9, pods: 110, ephemeralStorageBytes: 100e9 };
  return result('k8s.node-resources', {
    name,
    ready: true,
    unschedulable: false,
    conditions: {
      Ready: true,
      MemoryPressure: false,
      DiskPressure: false,
      PIDPressure: false,
      NetworkUnavailable: false,
    },
    memoryPressure: false,
    diskPressure: false,
    capacity: amounts,
    allocatable: amounts,
    podCount: 20,
    kubeletVersion: 'v1.29.1',
    ...overrides,
  });
}

export function metric(values: number[], stepId = 'latency') {
  const start = Date.parse('2024-05-01T11:55:00.000Z');
  return result(
    'cloudwatch.get-metric-data',
    {
      namespace: 'AWS/ApplicationELB',
      metricName: 'TargetResponseTime',
      dimensions: { LoadBalancer: 'app/shop/123' },
      stat: 'Average',
      periodSeconds: 60,
      datapoints: values.map((value, index) => ({
        timestamp: new Date(start + index * 60_000).toISOString(),
        value,
      })),
      datapointCount: values.length,
      sum: values.reduce((total, value) => total + value, 0),
      average: null,
      maximum: null,
      minimum: null,
      latest: values.at(-1) ?? null,
      latestTimestamp: null,
    },
    stepId,
  );
}

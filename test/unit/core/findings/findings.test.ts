import { describe, expect, it } from 'vitest';
import { extractFindings, TOOLS_WITH_EXTRACTORS } from '../../../../functions/core/findings/extractors.ts';
import { Finding } from '../../../../functions/core/findings/finding.ts';
import { type PastRemediation, rankLikelyCauses } from '../../../../functions/core/findings/rank.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import {
  ALERT_STARTED_AT,
  container,
  metric,
  nodeResources,
  pod,
  pods,
  result,
  rolloutHistory,
  workloadStatus,
} from './fixtures.ts';

/** Findings from diagnostic outputs, correlated and ranked into likely causes, with known answers. */

function only(results: Parameters<typeof extractFindings>[0]) {
  const { findings, problems } = extractFindings(results);
  expect(problems).toEqual([]);
  for (const finding of findings) Finding.parse(finding);
  return findings;
}

function finding(overrides: Partial<Finding>): Finding {
  return Finding.parse({
    kind: 'config-change',
    resource: 'Deployment/shop/checkout',
    sharedDependencies: [],
    at: null,
    observedAt: '2024-05-01T12:10:00.000Z',
    weight: 0.4,
    summary: 'something changed',
    evidence: { stepId: 's', tool: 't', path: 'steps.s.output.x', fields: {} },
    ...overrides,
  });
}

describe('extractors', () => {
  it('cover declared read-only tools only', () => {
    for (const tool of TOOLS_WITH_EXTRACTORS) expect(TOOL_CATALOG.get(tool)?.mutating, tool).toBe(false);
  });

  it('k8s.workload-status: a rollout, crash-looping pods, unavailable replicas', () => {
    const findings = only([workloadStatus()]);
    expect(findings.map((each) => each.kind)).toEqual([
      'recent-deployment',
      'crash-loop',
      'unavailable-replicas',
    ]);
    expect(findings[0]?.at).toBe('2024-05-01T11:57:00.000Z');
    expect(findings[0]?.evidence).toEqual({
      stepId: 'k8s-workload-status',
      tool: 'k8s.workload-status',
      path: 'steps.k8s-workload-status.output.lastRolloutMinutesAgo',
      fields: { lastRolloutMinutesAgo: 13 },
    });
    expect(
      only([workloadStatus({ lastRolloutMinutesAgo: 5_000, crashLoopingPods: 0, unavailableReplicas: 0 })]),
    ).toEqual([]);
  });

  it('k8s.rollout-history: new images are a deployment, a new template alone a config change', () => {
    const [deployment] = only([rolloutHistory()]);
    expect(deployment).toMatchObject({
      kind: 'recent-deployment',
      at: '2024-05-01T11:57:00.000Z',
      evidence: {
        path: 'steps.k8s-rollout-history.output.revisions[0]',
        fields: { imageTo: 'shop/checkout:1.4.2' },
      },
    });
    const [config] = only([rolloutHistory({ imagesChanged: false, changedImages: [] })]);
    expect(config?.kind).toBe('config-change');
    expect(only([rolloutHistory({ previousRevision: null })])).toEqual([]);
  });

  it('k8s.pods: OOM kills, other terminations, image pulls, config errors, crash loops, unschedulable', () => {
    const findings = only([
      pods([
        pod('a', 'node-1', 'checkout', [
          container({
            lastTerminationReason: 'OOMKilled',
            lastExitCode: 137,
            lastTerminatedAt: '2024-05-01T12:01:00Z',
          }),
        ]),
        pod('b', 'node-1', 'cart', [
          container({
            lastTerminationReason: 'Error',
            lastExitCode: 1,
            state: 'waiting',
            reason: 'CrashLoopBackOff',
          }),
        ]),
        pod('c', 'node-2', 'search', [container({ state: 'waiting', reason: 'ImagePullBackOff' })]),
        pod('d', 'node-2', 'search', [container({ state: 'waiting', reason: 'CreateContainerConfigError' })]),
        pod('e', 'node-2', 'search', [container()], {
          unschedulable: '0/3 nodes are available: 3 Insufficient memory',
        }),
      ]),
    ]);
    expect(findings.map((each) => `${each.kind} ${each.resource}`)).toEqual([
      'oom-killed Deployment/shop/checkout',
      'container-terminated Deployment/shop/cart',
      'crash-loop Deployment/shop/cart',
      'image-pull-failure Deployment/shop/search',
      'container-config-error Deployment/shop/search',
      'unschedulable-pod Deployment/shop/search',
    ]);
    expect(findings[0]).toMatchObject({
      at: '2024-05-01T12:01:00.000Z',
      sharedDependencies: ['node:node-1'],
      evidence: { path: 'steps.k8s-pods.output.pods[0].containers[0]', fields: { lastExitCode: 137 } },
    });
  });

  it('k8s.events: Warning events by reason; Normal events are no finding', () => {
    const event = (reason: string, type = 'Warning', object = 'Pod/checkout-1') => ({
      type,
      reason,
      message: `${reason} happened`,
      object,
      count: 4,
      firstSeen: '2024-05-01T11:59:00Z',
      lastSeen: '2024-05-01T12:05:00Z',
      source: 'kubelet',
    });
    const findings = only([
      result('k8s.events', {
        kind: 'Deployment',
        name: 'checkout',
        namespace: 'shop',
        events: [
          event('BackOff'),
          event('ScalingReplicaSet', 'Normal'),
          event('NodeNotReady', 'Warning', 'Node/node-9'),
          event('Unhealthy'),
        ],
        total: 4,
        warnings: 3,
        warningCount: 12,
        reasons: [],
        truncated: false,
      }),
    ]);
    expect(findings.map((each) => `${each.kind} ${each.resource}`)).toEqual([
      'crash-loop Pod/shop/checkout-1',
      'node-not-ready Node/node-9',
      'warning-events Pod/shop/checkout-1',
    ]);
    expect(findings[1]?.sharedDependencies).toEqual(['node:node-9']);
  });

  it('k8s.node-resources: not Ready and each pressure condition', () => {
    const findings = only([
      nodeResources('node-1', {
        ready: false,
        conditions: {
          Ready: false,
          MemoryPressure: true,
          DiskPressure: true,
          PIDPressure: false,
          NetworkUnavailable: false,
        },
      }),
    ]);
    expect(findings.map((each) => `${each.kind} ${each.evidence.path}`)).toEqual([
      'node-not-ready steps.k8s-node-resources.output.ready',
      'node-pressure steps.k8s-node-resources.output.conditions.MemoryPressure',
      'node-pressure steps.k8s-node-resources.output.conditions.DiskPressure',
    ]);
    expect(only([nodeResources('node-2')])).toEqual([]);
  });

  it('elbv2.target-health: unhealthy targets with the first reason', () => {
    const output = (unhealthyCount: number) => ({
      targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/shop/1',
      targetGroupName: 'shop',
      targetType: 'ip',
      protocol: 'HTTP',
      port: 80,
      loadBalancerArns: [],
      healthCheck: {
        protocol: 'HTTP',
        port: 'traffic-port',
        path: '/health',
        intervalSeconds: 30,
        timeoutSeconds: 5,
        healthyThresholdCount: 3,
        unhealthyThresholdCount: 2,
        matcher: '200',
      },
      targetCount: 4,
      healthyCount: 4 - unhealthyCount,
      unhealthyCount,
      stateCounts: {},
      unhealthyTargetIds: [],
      targets: [
        {
          id: '10.0.0.1',
          port: 80,
          availabilityZone: null,
          state: 'healthy',
          reason: null,
          description: null,
        },
        {
          id: '10.0.0.2',
          port: 80,
          availabilityZone: null,
          state: 'unhealthy',
          reason: 'Target.Timeout',
          description: null,
        },
      ],
    });
    const [target] = only([result('elbv2.target-health', output(2))]);
    expect(target).toMatchObject({
      kind: 'unhealthy-target',
      weight: 0.5,
      evidence: { path: 'steps.elbv2-target-health.output.targets[1]', fields: { reason: 'Target.Timeout' } },
    });
    expect(only([result('elbv2.target-health', output(0))])).toEqual([]);
  });

  it('lambda.describe: a recently published alias version is a deployment', () => {
    const output = {
      functionName: 'orders',
      functionArn: 'arn:aws:lambda:eu-west-1:1:function:orders',
      runtime: 'nodejs20.x',
      packageType: 'Zip',
      state: 'Active',
      stateReason: null,
      lastUpdateStatus: 'Successful',
      lastUpdateStatusReason: null,
      lastModified: '2024-05-01T10:00:00.000Z',
      lastModifiedMinutesAgo: 130,
      memorySizeMb: 512,
      timeoutSeconds: 30,
      architectures: ['arm64'],
      reservedConcurrency: null,
      logGroupName: '/aws/lambda/orders',
      versionCount: 2,
      versions: [],
      aliases: [],
      alias: {
        name: 'live',
        functionVersion: '12',
        additionalVersionWeights: {},
        functionVersionPublishedAt: '2024-05-01T11:58:00.000Z',
        functionVersionMinutesAgo: 12,
        previousVersion: '11',
      },
    };
    const [deployment] = only([result('lambda.describe', output)]);
    expect(deployment).toMatchObject({
      kind: 'recent-deployment',
      at: '2024-05-01T11:58:00.000Z',
      resource: 'Function/orders',
    });
    const [changed] = only([result('lambda.describe', { ...output, alias: null })]);
    expect(changed).toMatchObject({ kind: 'recent-deployment', at: '2024-05-01T10:00:00.000Z' });
  });

  it('lambda.recent-errors and apigateway.stage-status: error rates and stage deployments', () => {
    const errors = {
      functionName: 'orders',
      logGroupName: '/aws/lambda/orders',
      logGroupFound: true,
      lookbackMinutes: 15,
      invocations: 200,
      errors: 20,
      throttles: 0,
      errorRatePercent: 10,
      matchedLogEvents: 20,
      truncated: false,
      errorTypes: [{ type: 'TypeError', count: 20, lastSeen: null, sample: 'x is undefined' }],
    };
    const stage = {
      restApiId: 'abc',
      apiName: 'shop',
      stage: 'prod',
      deploymentId: 'd2',
      deploymentCreatedAt: null,
      deploymentMinutesAgo: 8,
      previousDeploymentId: 'd1',
      newerDeployments: 0,
      stageLastUpdatedAt: null,
      stageUpdatedMinutesAgo: 8,
      canaryDeploymentId: null,
      canaryPercentTraffic: null,
      deployments: [],
      lookbackMinutes: 15,
      requests: 1000,
      errors5xx: 50,
      errors4xx: 0,
      errorRate5xxPercent: 5,
      latencyAverageMs: null,
      latencyP90Ms: null,
    };
    const findings = only([result('lambda.recent-errors', errors), result('apigateway.stage-status', stage)]);
    expect(findings.map((each) => `${each.kind} ${each.resource} ${each.at}`)).toEqual([
      'error-rate Function/orders null',
      'recent-deployment ApiStage/shop/prod 2024-05-01T12:02:00.000Z',
      'error-rate ApiStage/shop/prod null',
    ]);
    const [config] = only([
      result('apigateway.stage-status', { ...stage, deploymentMinutesAgo: 4000, errorRate5xxPercent: 0 }),
    ]);
    expect(config?.kind).toBe('config-change');
  });

  it('cloudwatch.get-metric-data: the latest value far off its own baseline, since when', () => {
    const [off] = only([metric([100, 110, 95, 105, 100, 400, 420])]);
    expect(off).toMatchObject({
      kind: 'metric-off-baseline',
      at: '2024-05-01T12:00:00.000Z',
      evidence: { path: 'steps.latency.output.datapoints[6]', fields: { latest: 420 } },
    });
    expect(only([metric([100, 110, 95, 105, 100, 108])])).toEqual([]);
    expect(only([metric([100, 400])])).toEqual([]);
  });

  it('an output that does not fit is a problem naming the step and field, not an exception', () => {
    const { findings, problems } = extractFindings([
      {
        stepId: 'status',
        tool: 'k8s.workload-status',
        observedAt: '2024-05-01T12:10:00Z',
        output: { kind: 'Deployment' },
      },
      { stepId: 'other', tool: 'http.check', observedAt: '2024-05-01T12:10:00Z', output: {} },
    ]);
    expect(findings).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/^steps\.status\.output\.name: .*k8s\.workload-status/);
  });
});

describe('ranking likely causes', () => {
  it('a deployment 3 minutes before the alert is the top likely cause', () => {
    const findings = only([
      rolloutHistory(),
      result(
        'k8s.rollout-history',
        {
          kind: 'Deployment',
          name: 'cart',
          namespace: 'shop',
          revisions: [
            {
              revision: 3,
              current: true,
              createdAt: '2024-05-01T11:15:00.000Z',
              images: [],
              changeCause: 'raise memory limit',
            },
          ],
          currentRevision: 3,
          previousRevision: 2,
          lastRolloutMinutesAgo: 55,
          imagesChanged: false,
          changedImages: [],
        },
        'cart-history',
      ),
      metric([100, 110, 95, 105, 100, 400, 420]),
    ]);
    expect(findings.map((each) => each.kind)).toEqual([
      'recent-deployment',
      'config-change',
      'metric-off-baseline',
    ]);
    const causes = rankLikelyCauses({ alertStartedAt: ALERT_STARTED_AT, findings });
    expect(causes.map((cause) => cause.kind)).toEqual([
      'recent-deployment',
      'config-change',
      'metric-off-baseline',
    ]);
    expect(causes[0]?.rules).toEqual(['time']);
    expect(causes[0]?.conclusion).toBe(
      'Deployment shop/checkout was deployed (revision 7, image shop/checkout:1.4.2); that was 3 minutes before the alert started.',
    );
    expect(causes[0]?.findings[0]?.evidence.path).toBe('steps.k8s-rollout-history.output.revisions[0]');
  });

  it('time: the closer before the alert, the higher; after the alert or too long before, no bonus', () => {
    const at = (minutesBefore: number) =>
      new Date(Date.parse(ALERT_STARTED_AT) - minutesBefore * 60_000).toISOString();
    const causes = rankLikelyCauses({
      alertStartedAt: ALERT_STARTED_AT,
      findings: [
        finding({ resource: 'A', at: at(50) }),
        finding({ resource: 'B', at: at(-30) }),
        finding({ resource: 'C', at: at(5) }),
        finding({ resource: 'D', at: at(300) }),
      ],
    });
    expect(causes.map((cause) => `${cause.resources[0]} ${cause.rules.join()}`)).toEqual([
      'C time',
      'A time',
      'B ',
      'D ',
    ]);
  });

  it('across resources: failing pods of several workloads on one node point at the node', () => {
    const findings = only([
      pods([
        pod('a', 'node-1', 'checkout', [container({ lastTerminationReason: 'Error', lastExitCode: 1 })]),
        pod('b', 'node-1', 'cart', [container({ lastTerminationReason: 'Error', lastExitCode: 1 })]),
        pod('c', 'node-1', 'search', [container({ lastTerminationReason: 'Error', lastExitCode: 1 })]),
        pod('d', 'node-2', 'orders', [container({ lastTerminationReason: 'OOMKilled', lastExitCode: 137 })]),
      ]),
      nodeResources('node-1', {
        conditions: {
          Ready: true,
          MemoryPressure: true,
          DiskPressure: false,
          PIDPressure: false,
          NetworkUnavailable: false,
        },
      }),
    ]);
    const [top, second] = rankLikelyCauses({ alertStartedAt: ALERT_STARTED_AT, findings });
    expect(top).toMatchObject({ kind: 'shared-dependency', rules: ['shared-dependency'] });
    expect(top?.resources).toEqual([
      'Deployment/shop/checkout',
      'Deployment/shop/cart',
      'Deployment/shop/search',
      'Node/node-1',
    ]);
    expect(top?.conclusion).toMatch(
      /^Node node-1 is common to 3 failing resources \(Deployment\/shop\/checkout, .*\): node node-1 reports MemoryPressure\.$/,
    );
    expect(second?.kind).toBe('oom-killed');
    expect(top?.score).toBeGreaterThan(second?.score ?? 1);
  });

  it('history: what preceded verified fixes of this alert ranks higher; unverified runs do not count', () => {
    const findings = [
      finding({ kind: 'oom-killed', resource: 'X', weight: 0.5 }),
      finding({ kind: 'crash-loop', resource: 'Y', weight: 0.6 }),
    ];
    const past = (verified: boolean, kind: 'oom-killed' | 'crash-loop'): PastRemediation => ({
      executionId: `e-${kind}-${verified}`,
      verified,
      findings: [{ kind, resource: kind === 'oom-killed' ? 'X' : 'Y' }],
    });
    const history = [
      past(true, 'oom-killed'),
      past(true, 'oom-killed'),
      past(false, 'crash-loop'),
      past(false, 'crash-loop'),
    ];
    const causes = rankLikelyCauses({ alertStartedAt: ALERT_STARTED_AT, findings, history });
    expect(causes.map((cause) => `${cause.kind} ${cause.rules.join()}`)).toEqual([
      'oom-killed history',
      'crash-loop ',
    ]);
    expect(causes[0]?.conclusion).toContain('came before 2 of 2 verified fixes of this alert');
    expect(
      rankLikelyCauses({ alertStartedAt: ALERT_STARTED_AT, findings }).map((cause) => cause.kind),
    ).toEqual(['crash-loop', 'oom-killed']);
  });

  it('the same finding from two tools is one cause; the list is short', () => {
    const findings = only([
      workloadStatus({ crashLoopingPods: 0, unavailableReplicas: 0 }),
      rolloutHistory(),
    ]);
    const causes = rankLikelyCauses({ alertStartedAt: ALERT_STARTED_AT, findings });
    expect(causes).toHaveLength(1);
    expect(causes[0]?.findings).toHaveLength(2);
    const many = Array.from({ length: 50 }, (_, index) => finding({ resource: `R${index}` }));
    expect(rankLikelyCauses({ alertStartedAt: ALERT_STARTED_AT, findings: many })).toHaveLength(5);
  });
});

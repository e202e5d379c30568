import { CLUSTER, SERVICE } from '../aws/ecs.ts';
import { CHECKOUT_TARGET_GROUP } from '../aws/elbv2.ts';
import type { CloudWatchScenario } from './types.ts';

/**
 * A flash sale triples checkout's traffic: its three Fargate tasks average over 90% CPU. Its target
 * tracking policy is suspended (a load test last week left DynamicScalingOutSuspended on), so the
 * service stays at three tasks until someone raises the desired count.
 */

const SALE_MINUTES = 11;
export const ALARM = 'checkout-cpu-high';

export const ecsServiceSaturation: CloudWatchScenario = {
  id: 'ecs-service-saturation',
  source: 'cloudwatch',
  summary:
    'a flash sale pushes checkout above 90% CPU with scale-out suspended; a bounded desired-count raise relieves it',
  alertname: ALARM,
  runbookId: 'ecs-service-saturation',
  inDefaultSet: false,
  waits: 'the runbook gives the new tasks time to start and take traffic before it verifies',
  waitSeconds: 60,
  rules: [],
  breaks: ['ecs:shop/checkout', 'elb:checkout-web'],
  alarms: [
    {
      name: ALARM,
      description: 'ECS service shop/checkout averages above 80% CPU',
      namespace: 'AWS/ECS',
      metricName: 'CPUUtilization',
      dimensions: { ClusterName: CLUSTER, ServiceName: SERVICE },
      statistic: 'Average',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 80,
      comparison: 'GreaterThanThreshold',
      treatMissingData: 'missing',
      recommended: {
        period: 60,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        threshold: '80 (percent of the reserved CPU)',
      },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - SALE_MINUTES * 60;
    const group = aws.elb.group(CHECKOUT_TARGET_GROUP)!;
    aws.applicationAutoScaling.target(`service/${CLUSTER}/${SERVICE}`)!.suspended.DynamicScalingOutSuspended =
      true;
    aws.backdate(since, () => group.traffic.set(since, 100));
    return {
      title: `${ALARM}: ECS service ${CLUSTER}/${SERVICE} above 80% CPU`,
      story: [
        `A flash sale started ${SALE_MINUTES} minutes ago and tripled checkout's traffic: its three tasks average over 90% CPU.`,
        "Its target tracking policy cannot help: last week's load test left dynamic scale-out suspended.",
        'A bounded raise of the desired count (compensated if it does not help) spreads the load.',
      ],
      alarm: ALARM,
      holds: () => aws.ecs.service(SERVICE)!.metrics.cpu.level.at(Date.now() / 1_000) > 80,
    };
  },
};

import { CLUSTER, SERVICE } from '../aws/ecs.ts';
import { CHECKOUT_TARGET_GROUP, LOAD_BALANCER } from '../aws/elbv2.ts';
import type { CloudWatchScenario } from './types.ts';

/**
 * A partner's catalog import calls checkout's pricing endpoint three times as often as the shop does:
 * the three tasks run at over 90% CPU and requests queue, so the p99 response time passes 1.5 s.
 * Checkout's target tracking is suspended since last week's load test, so nothing scales it out;
 * more tasks is the fix.
 */

const SURGE_MINUTES = 9;
export const ALARM = 'checkout-web-p99-latency';

export const albTargetLatency: CloudWatchScenario = {
  id: 'alb-target-latency',
  source: 'cloudwatch',
  summary:
    "a partner's import saturates checkout and its p99 response time passes 1.5 s; more tasks bring it down",
  alertname: ALARM,
  runbookId: 'alb-target-latency',
  inDefaultSet: false,
  waits: 'the runbook gives the new tasks time to start and take traffic before it verifies',
  waitSeconds: 60,
  rules: [],
  breaks: ['ecs:shop/checkout', 'elb:checkout-web'],
  alarms: [
    {
      name: ALARM,
      description: 'checkout-web p99 target response time above 1.5 s',
      namespace: 'AWS/ApplicationELB',
      metricName: 'TargetResponseTime',
      dimensions: { LoadBalancer: LOAD_BALANCER, TargetGroup: CHECKOUT_TARGET_GROUP },
      statistic: 'p99',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 1.5,
      comparison: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      recommended: {
        period: 60,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        threshold: "the service's latency objective",
      },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - SURGE_MINUTES * 60;
    const group = aws.elb.group(CHECKOUT_TARGET_GROUP)!;
    const target = aws.applicationAutoScaling.target(`service/${CLUSTER}/${SERVICE}`)!;
    target.suspended.DynamicScalingOutSuspended = true;
    aws.backdate(since, () => group.traffic.set(since, 96));
    return {
      title: `${ALARM}: checkout's p99 response time passes 1.5 s`,
      story: [
        `A partner's catalog import started ${SURGE_MINUTES} minutes ago and calls checkout's pricing endpoint three times`,
        'as often as the shop does: the three tasks run above 90% CPU and requests queue.',
        "Checkout's target tracking has been suspended since last week's load test, so nothing scales it out:",
        'more tasks (a bounded scale-out) bring the response time down.',
      ],
      alarm: ALARM,
      holds: () => aws.ecs.service(SERVICE)!.desiredCount <= 3,
    };
  },
};

import { LEGACY_GROUP } from '../aws/autoscaling.ts';
import { LEGACY_TARGET_GROUP, LOAD_BALANCER } from '../aws/elbv2.ts';
import type { CloudWatchScenario } from './types.ts';

/**
 * On one legacy-web instance the application server behind nginx died after a log rotation left it
 * without a file handle it needed: nginx answers the health check with 502. The instance itself is
 * fine, so its group's EC2 health checks see nothing; marking it unhealthy makes the group replace it.
 */

const INSTANCE = 'i-0b2c3d4e5f6071829';
const FAULT_MINUTES = 7;
export const ALARM = 'legacy-web-unhealthy-hosts';

export const albUnhealthyTargets: CloudWatchScenario = {
  id: 'alb-unhealthy-targets',
  source: 'cloudwatch',
  summary:
    'a legacy-web instance fails its target health check; its Auto Scaling group replaces it once marked unhealthy',
  alertname: ALARM,
  runbookId: 'alb-unhealthy-targets',
  inDefaultSet: false,
  waits: 'the runbook lets the group launch a replacement and the target group check it before it verifies',
  waitSeconds: 60,
  rules: [],
  breaks: ['elb:legacy-web', `ec2:${LEGACY_GROUP}`],
  alarms: [
    {
      name: ALARM,
      description: 'legacy-web has unhealthy targets',
      namespace: 'AWS/ApplicationELB',
      metricName: 'UnHealthyHostCount',
      dimensions: { LoadBalancer: LOAD_BALANCER, TargetGroup: LEGACY_TARGET_GROUP },
      statistic: 'Maximum',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 0,
      comparison: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      recommended: { period: 60, evaluationPeriods: 5, datapointsToAlarm: 5, threshold: '0' },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - FAULT_MINUTES * 60;
    const instance = aws.ec2.get(INSTANCE)!;
    aws.backdate(since, () => {
      instance.application = { healthy: false, code: 502, since };
    });
    const group = aws.elb.group(LEGACY_TARGET_GROUP)!;
    return {
      title: `${ALARM}: ${INSTANCE} fails its health check in legacy-web`,
      story: [
        `${FAULT_MINUTES} minutes ago the application server on ${INSTANCE} died after a log rotation; nginx answers`,
        "its health check with 502. The instance itself is fine, so the group's EC2 health checks see nothing.",
        `Marking it unhealthy makes ${LEGACY_GROUP} terminate it and launch a replacement.`,
      ],
      alarm: ALARM,
      holds: () => [...group.targets.values()].some((target) => target.state === 'unhealthy'),
    };
  },
};

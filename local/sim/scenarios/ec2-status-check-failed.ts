import { LEGACY_GROUP } from '../aws/autoscaling.ts';
import type { CloudWatchScenario } from './types.ts';

/**
 * A legacy-web instance ran out of memory and the kernel's OOM killer left it thrashing: it no longer
 * answers the instance status check (reachability). The host is healthy, so a reboot of the guest is
 * what brings it back; an Auto Scaling replacement would too.
 */

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const FAULT_MINUTES = 9;
export const ALARM = `legacy-web-${INSTANCE}-status-check`;

export const ec2StatusCheckFailed: CloudWatchScenario = {
  id: 'ec2-status-check-failed',
  source: 'cloudwatch',
  summary:
    'a legacy-web instance fails its instance status check after running out of memory; a reboot brings it back',
  alertname: ALARM,
  runbookId: 'ec2-status-check-failed',
  inDefaultSet: false,
  waits: 'the runbook gives the instance time to boot and pass its status checks before it verifies',
  waitSeconds: 120,
  rules: [],
  breaks: [`ec2:${INSTANCE}`, 'elb:legacy-web', `ec2:${LEGACY_GROUP}`],
  alarms: [
    {
      name: ALARM,
      description: `${INSTANCE} fails an EC2 status check`,
      namespace: 'AWS/EC2',
      metricName: 'StatusCheckFailed',
      dimensions: { InstanceId: INSTANCE },
      statistic: 'Maximum',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'notBreaching',
      recommended: { period: 60, evaluationPeriods: 2, datapointsToAlarm: 2, threshold: '1' },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - FAULT_MINUTES * 60;
    const instance = aws.ec2.get(INSTANCE)!;
    aws.backdate(since, () => {
      instance.instanceFault = { since, reason: 'the guest stopped answering after the OOM killer ran' };
    });
    return {
      title: `${ALARM}: ${INSTANCE} fails its instance status check`,
      story: [
        `${FAULT_MINUTES} minutes ago ${INSTANCE} ran out of memory; the kernel's OOM killer left it thrashing and it no`,
        'longer answers the instance status check (reachability). The system check passes: the host is fine.',
        'A reboot of the guest brings it back (so would a replacement by its Auto Scaling group).',
      ],
      alarm: ALARM,
      holds: () =>
        aws.ec2.get(INSTANCE)?.instanceFault !== undefined && aws.ec2.get(INSTANCE)?.state === 'running',
    };
  },
};

import type { CloudWatchScenario } from './types.ts';

/**
 * A BI export crashed and left twelve sessions on orders-db running the same report query, which
 * scans order_items without an index on created_at: the instance's CPU is pegged at 97%. Nobody will
 * re-run them; a reboot (with a failover to the Multi-AZ standby, shorter for the application) ends
 * the sessions.
 */

const INSTANCE = 'orders-db';
const FAULT_MINUTES = 14;
export const ALARM = 'orders-db-cpu-high';

export const rdsCpu: CloudWatchScenario = {
  id: 'rds-cpu',
  source: 'cloudwatch',
  summary: "orphaned report queries peg orders-db's CPU; a reboot with failover ends their sessions",
  alertname: ALARM,
  runbookId: 'rds-cpu',
  inDefaultSet: false,
  waits: 'the runbook waits for the instance to come back from its reboot before it verifies',
  waitSeconds: 120,
  rules: [],
  breaks: [`rds:${INSTANCE}`],
  alarms: [
    {
      name: ALARM,
      description: 'orders-db CPU above 90%',
      namespace: 'AWS/RDS',
      metricName: 'CPUUtilization',
      dimensions: { DBInstanceIdentifier: INSTANCE },
      statistic: 'Average',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 90,
      comparison: 'GreaterThanThreshold',
      treatMissingData: 'missing',
      recommended: { period: 60, evaluationPeriods: 5, datapointsToAlarm: 5, threshold: '90' },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - FAULT_MINUTES * 60;
    const instance = aws.rds.get(INSTANCE)!;
    aws.backdate(since, () => {
      instance.runaway = {
        since,
        cpu: 97,
        connections: 176,
        description: '12 sessions of a crashed BI export running a report query that scans order_items',
      };
    });
    return {
      title: `${ALARM}: ${INSTANCE} CPU pegged at 97%`,
      story: [
        `A BI export crashed ${FAULT_MINUTES} minutes ago and left twelve sessions on ${INSTANCE} running its report query,`,
        'which scans order_items without an index on created_at: the CPU is pegged at 97%. Nobody will re-run',
        'them. A reboot (with failover to the Multi-AZ standby, shorter for the application) ends the sessions.',
      ],
      alarm: ALARM,
      holds: () => instance.runaway !== undefined,
    };
  },
};

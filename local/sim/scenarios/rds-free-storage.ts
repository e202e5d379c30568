import { GIB } from '../aws/rds.ts';
import type { CloudWatchScenario } from './types.ts';

/**
 * A change-data-capture connector was decommissioned two days ago but its replication slot was not
 * dropped: orders-db keeps all the WAL since for it, 1.1 GiB an hour. Under 10 GiB of its 100 GiB are
 * free. Someone has to drop the slot; meanwhile more storage (bounded, and irreversible) buys time.
 */

const INSTANCE = 'orders-db';
const GROWTH_GIB_PER_HOUR = 1.1;
const FREE_NOW_GIB = 7.9;
export const ALARM = 'orders-db-free-storage-low';

export const rdsFreeStorage: CloudWatchScenario = {
  id: 'rds-free-storage',
  source: 'cloudwatch',
  summary: 'a forgotten replication slot fills orders-db with WAL; a bounded storage increase buys time',
  alertname: ALARM,
  runbookId: 'rds-free-storage',
  inDefaultSet: false,
  waits: 'the runbook waits for the storage modification to apply before it verifies',
  waitSeconds: 60,
  rules: [],
  breaks: [`rds:${INSTANCE}`],
  alarms: [
    {
      name: ALARM,
      description: 'orders-db has less than 10 GiB of free storage',
      namespace: 'AWS/RDS',
      metricName: 'FreeStorageSpace',
      dimensions: { DBInstanceIdentifier: INSTANCE },
      statistic: 'Minimum',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 10 * GIB,
      comparison: 'LessThanThreshold',
      treatMissingData: 'missing',
      recommended: {
        period: 60,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        threshold: '10% of the allocated storage',
      },
    },
  ],
  setup(world) {
    const { aws } = world;
    const instance = aws.rds.get(INSTANCE)!;
    const since = aws.startedAt - 48 * 3_600;
    const rate = (GROWTH_GIB_PER_HOUR * GIB) / 3_600;
    const usedNow = (instance.allocatedGiB - FREE_NOW_GIB) * GIB;
    aws.backdate(since, () => instance.used.set(since, usedNow - rate * (aws.startedAt - since), rate));
    return {
      title: `${ALARM}: ${INSTANCE} has ${FREE_NOW_GIB} GiB free and loses ${GROWTH_GIB_PER_HOUR} GiB an hour`,
      story: [
        'A change-data-capture connector was decommissioned two days ago, but its replication slot was not dropped:',
        `${INSTANCE} keeps all the WAL since for it, ${GROWTH_GIB_PER_HOUR} GiB an hour, and has ${FREE_NOW_GIB} GiB of 100 GiB free.`,
        'Dropping the slot is for a human; a bounded storage increase (irreversible, behind approval) buys time.',
      ],
      alarm: ALARM,
      holds: () => instance.allocatedGiB <= 100,
    };
  },
};

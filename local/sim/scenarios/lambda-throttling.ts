import type { CloudWatchScenario } from './types.ts';

/**
 * checkout-api's reserved concurrency was set to 8 two days ago to protect the inventory service
 * during its migration. A marketing push has since tripled checkouts: the function needs about 9
 * concurrent executions and Lambda throttles the rest. A bounded raise of the reservation ends it.
 */

const FUNCTION = 'checkout-api';
const PUSH_MINUTES = 10;
export const ALARM = 'checkout-api-throttles';

export const lambdaThrottling: CloudWatchScenario = {
  id: 'lambda-throttling',
  source: 'cloudwatch',
  summary:
    'a marketing push outgrows checkout-api reserved concurrency of 8; a bounded raise stops the throttling',
  alertname: ALARM,
  runbookId: 'lambda-throttling',
  inDefaultSet: false,
  waits: 'the runbook lets the new reservation take effect before it verifies',
  waitSeconds: 60,
  rules: [],
  breaks: [`lambda:${FUNCTION}`],
  alarms: [
    {
      name: ALARM,
      description: 'checkout-api invocations are throttled',
      namespace: 'AWS/Lambda',
      metricName: 'Throttles',
      dimensions: { FunctionName: FUNCTION },
      statistic: 'Sum',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 5,
      comparison: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      recommended: {
        period: 60,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        threshold: '0 for a function that must not be throttled',
      },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - PUSH_MINUTES * 60;
    const fn = aws.lambda.functions.get(FUNCTION)!;
    fn.reserved = 8;
    aws.backdate(since, () => fn.demand.set(since, 40));
    return {
      title: `${ALARM}: ${FUNCTION} is throttled at its reserved concurrency of 8`,
      story: [
        `${FUNCTION}'s reserved concurrency was set to 8 two days ago to protect the inventory service during its`,
        `migration. A marketing push started ${PUSH_MINUTES} minutes ago and tripled checkouts: the function needs about 9`,
        'concurrent executions and Lambda throttles the rest. A bounded raise of the reservation ends it.',
      ],
      alarm: ALARM,
      holds: () => (fn.reserved ?? Number.POSITIVE_INFINITY) < 10,
    };
  },
};

import type { CloudWatchScenario } from './types.ts';

/**
 * Version 7 of checkout-api, published 18 minutes ago and pointed to by the alias live, prices carts
 * in multiple currencies; for carts created before the release the price has no currency and the new
 * code throws a TypeError. About a quarter of checkouts fail. Version 6 is good: pointing live back at
 * it is the fix (the code gets fixed and released again later).
 */

const FUNCTION = 'checkout-api';
const RELEASE_MINUTES = 18;
export const ALARM = 'checkout-api-errors';

export const lambdaErrors: CloudWatchScenario = {
  id: 'lambda-errors',
  source: 'cloudwatch',
  summary:
    'checkout-api version 7 throws a TypeError for a quarter of checkouts; pointing alias live back at version 6 fixes it',
  alertname: ALARM,
  runbookId: 'lambda-errors',
  inDefaultSet: false,
  waits: 'the runbook gives the rolled-back alias a moment to serve before it verifies',
  waitSeconds: 60,
  rules: [],
  breaks: [`lambda:${FUNCTION}`],
  alarms: [
    {
      name: ALARM,
      description: 'checkout-api invocations fail (Errors)',
      namespace: 'AWS/Lambda',
      metricName: 'Errors',
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
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        threshold: 'a share of the invocations the team accepts',
      },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - RELEASE_MINUTES * 60;
    const fn = aws.lambda.functions.get(FUNCTION)!;
    const alias = fn.aliases.get('live')!;
    const v7 = aws.lambda.version(fn, '7')!;
    // Version 7 is new: published minutes ago, and live pointed at 6 until then.
    v7.publishedAt = since - 40;
    fn.lastModified = since - 40;
    alias.history = [{ at: fn.createdAt, version: '6', weights: {} }];
    alias.version = '6';
    aws.backdate(since, () => {
      v7.behaviour = {
        errorFraction: 0.27,
        durationMs: 190,
        error: {
          type: 'TypeError',
          message: "Cannot read properties of undefined (reading 'currency')",
          stack: [
            '    at priceLine (/var/task/pricing.js:41:37)',
            '    at Array.map (<anonymous>)',
            '    at priceCart (/var/task/pricing.js:18:29)',
            '    at Runtime.handler (/var/task/index.js:27:22)',
          ],
        },
      };
      aws.lambda.pointAlias(fn, alias, '7', {}, since);
    });
    return {
      title: `${ALARM}: ${FUNCTION} version 7 fails a quarter of its invocations`,
      story: [
        `Version 7 of ${FUNCTION} went live ${RELEASE_MINUTES} minutes ago (alias live: 6 → 7). It prices carts in several`,
        'currencies, and for carts created before the release the price has no currency: a TypeError.',
        'About a quarter of checkouts fail. Version 6 is good: pointing live back at it is the fix.',
      ],
      alarm: ALARM,
      holds: () => alias.version === '7',
    };
  },
};

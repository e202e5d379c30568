import { API_NAME, REST_API_ID, STAGE } from '../aws/apigateway.ts';
import type { CloudWatchScenario } from './types.ts';

/**
 * Deployment a8hn3c of shop-api, deployed to prod 16 minutes ago, routes /checkout to the
 * checkout-api Lambda through its live alias, but nobody granted API Gateway permission to invoke the
 * alias: those requests fail with 500. The previous deployment w4zq1b is good: pointing the stage back
 * at it is the fix.
 */

const DEPLOYMENT_MINUTES = 16;
export const ALARM = 'shop-api-prod-5xx';

export const apigateway5xx: CloudWatchScenario = {
  id: 'apigateway-5xx',
  source: 'cloudwatch',
  summary:
    "shop-api's latest deployment cannot invoke checkout-api and answers 5xx; the stage goes back to the previous deployment",
  alertname: ALARM,
  runbookId: 'apigateway-5xx',
  inDefaultSet: false,
  waits: 'the runbook lets the stage serve the previous deployment before it verifies',
  waitSeconds: 60,
  rules: [],
  breaks: [`apigateway:${API_NAME}/${STAGE}`],
  alarms: [
    {
      name: ALARM,
      description: 'more than 5% of shop-api prod requests answer 5xx',
      namespace: 'AWS/ApiGateway',
      metricName: '5XXError',
      dimensions: { ApiName: API_NAME, Stage: STAGE },
      statistic: 'Average',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 0.05,
      comparison: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      recommended: {
        period: 60,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        threshold: '0.05 (5% of requests)',
      },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - DEPLOYMENT_MINUTES * 60;
    const api = aws.apiGateway.apis.get(REST_API_ID)!;
    const stage = api.stages.get(STAGE)!;
    const [previous, latest] = api.deployments as [(typeof api.deployments)[0], (typeof api.deployments)[0]];
    latest.createdAt = since - 25;
    latest.errorFraction = 0.18;
    latest.failure = 'Execution failed due to configuration error: Invalid permissions on Lambda function';
    latest.latencyMs = 64;
    stage.history = [{ at: previous.createdAt, deploymentId: previous.id }];
    stage.deploymentId = previous.id;
    aws.backdate(since, () => aws.apiGateway.serve(stage, latest.id, since));
    return {
      title: `${ALARM}: ${API_NAME} ${STAGE} answers 5xx since deployment ${latest.id}`,
      story: [
        `Deployment ${latest.id} went to ${API_NAME}'s ${STAGE} stage ${DEPLOYMENT_MINUTES} minutes ago. It routes /checkout to checkout-api`,
        'through its live alias, but nobody granted API Gateway permission to invoke the alias: those requests',
        `fail with 500. The previous deployment ${previous.id} is good: pointing the stage back at it is the fix.`,
      ],
      alarm: ALARM,
      holds: () => stage.deploymentId === latest.id,
    };
  },
};

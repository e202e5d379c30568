import { startSimulatedAccount } from './sim-aws.ts';
const sim = await startSimulatedAccount();
const tries: Array<[string, Record<string, unknown>]> = [
  ['elbv2.target-health', { targetGroup: 'targetgroup/checkout-web/73e2d6bc24d8a067' }],
  ['ecs.describe-services', { cluster: 'shop', services: ['checkout'] }],
  ['ecs.service-events', { cluster: 'shop', service: 'checkout' }],
  ['ecs.stopped-tasks', { cluster: 'shop', service: 'checkout' }],
  ['cloudwatch.get-metric-data', { namespace: 'AWS/ApplicationELB', metricName: 'RequestCount', dimensions: { LoadBalancer: 'app/shop-alb/50dc6c495c0c9188', TargetGroup: 'targetgroup/checkout-web/73e2d6bc24d8a067' }, stat: 'Sum', periodSeconds: 60, lookbackMinutes: 10 }],
  ['ec2.describe-instance-status', { instanceIds: ['i-0a1b2c3d4e5f60718'] }],
  ['ec2.describe-instances', { instanceIds: ['i-0a1b2c3d4e5f60718'] }],
  ['autoscaling.describe-group', { groupName: 'legacy-web-asg' }],
  ['lambda.describe', { functionName: 'checkout-api' }],
  ['lambda.get-concurrency', { functionName: 'checkout-api' }],
  ['lambda.recent-errors', { functionName: 'checkout-api', lookbackMinutes: 5 }],
  ['rds.describe-instance', { dbInstanceIdentifier: 'orders-db' }],
  ['rds.events', { dbInstanceIdentifier: 'orders-db', lookbackMinutes: 60 * 24 * 3 }],
  ['sqs.queue-status', { queue: 'order-events' }],
  ['dynamodb.table-capacity', { tableName: 'carts' }],
  ['apigateway.stage-status', { restApi: 'shop-api', stage: 'prod' }],
  ['elasticache.describe-cluster', { cacheClusterId: 'sessions-001' }],
  ['cloudwatch.logs-insights', { logGroupNames: ['/ecs/checkout'], query: 'fields @timestamp, @message | filter level = "INFO" | stats count(*) as n by task', lookbackMinutes: 5 }],
];
for (const [name, params] of tries) {
  try {
    const out = await sim.run(name, params);
    console.log('OK', name, JSON.stringify(out).slice(0, 400));
  } catch (e) {
    console.log('FAIL', name, (e as Error).message, JSON.stringify((e as any).data ?? {}).slice(0,300));
  }
}
await sim.stop();

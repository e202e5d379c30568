import { CLUSTER, SERVICE } from '../aws/ecs.ts';
import { CHECKOUT_TARGET_GROUP, LOAD_BALANCER } from '../aws/elbv2.ts';
import type { CloudWatchScenario } from './types.ts';

/**
 * After a 40-second blip of the payments service, every checkout task's connection pool to payments
 * is stuck with dead connections (validation is off): the tasks answer 503 and their /healthz, which
 * checks the pool, fails. With all three targets unhealthy the load balancer fails open and keeps
 * sending them traffic, so customers get 5xx. New tasks get fresh pools: a new deployment is the fix.
 */

const FAULT_MINUTES = 12;
export const ALARM = 'checkout-web-target-5xx';

export const albTargetErrors: CloudWatchScenario = {
  id: 'alb-target-errors',
  source: 'cloudwatch',
  summary:
    "checkout's tasks hold dead payment connections and answer 5xx; a new ECS deployment replaces them",
  alertname: ALARM,
  runbookId: 'alb-target-errors',
  inDefaultSet: false,
  waits: 'the runbook lets the new deployment start and pass its health checks before it verifies',
  waitSeconds: 60,
  rules: [],
  breaks: ['ecs:shop/checkout', 'elb:checkout-web'],
  alarms: [
    {
      name: ALARM,
      description: 'checkout-web targets answer 5xx (HTTPCode_Target_5XX_Count)',
      namespace: 'AWS/ApplicationELB',
      metricName: 'HTTPCode_Target_5XX_Count',
      dimensions: { LoadBalancer: LOAD_BALANCER, TargetGroup: CHECKOUT_TARGET_GROUP },
      statistic: 'Sum',
      period: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 25,
      comparison: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      recommended: {
        period: 60,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        threshold: 'a share of the requests the team accepts',
      },
    },
  ],
  setup(world) {
    const { aws } = world;
    const since = aws.startedAt - FAULT_MINUTES * 60;
    const service = aws.ecs.service(SERVICE)!;
    const tasks = aws.ecs.tasks.filter(
      (task) => task.service === service && task.desiredStatus === 'RUNNING',
    );
    aws.backdate(since, () => {
      for (const task of tasks)
        task.fault = {
          since,
          errorFraction: 0.86,
          healthCheckCode: 503,
          cpuPercent: 4,
          log: {
            logger: 'com.zaxxer.hikari.pool.HikariPool',
            message: 'HikariPool-1 - Connection is not available, request timed out after 30000ms.',
            exception:
              'java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms (total=20, active=20, idle=0, waiting=164)',
          },
        };
    });
    const group = aws.elb.group(CHECKOUT_TARGET_GROUP)!;
    for (const [index, task] of tasks.entries())
      aws.ecs.event(
        service,
        since + 35 + index * 4,
        `(service ${SERVICE}) (task ${task.id}) (port 8080) is unhealthy in (target-group ${group.arn}) due to (reason Health checks failed with these codes: [503]).`,
      );
    return {
      title: `${ALARM}: ECS service ${CLUSTER}/${SERVICE} answers 5xx behind shop-alb`,
      story: [
        `A 40-second blip of the payments service ${FAULT_MINUTES} minutes ago left every checkout task with a pool`,
        'of dead connections to payments (connection validation is off): the tasks answer 503 and their /healthz',
        'fails. All three targets are unhealthy, so the load balancer fails open and customers get 5xx.',
        'New tasks start with fresh pools: a new deployment of the same task definition is the fix.',
      ],
      alarm: ALARM,
      holds: () =>
        [...group.targets.values()].some((target) => target.state === 'unhealthy') ||
        aws.ecs.tasks.some(
          (task) => task.service === service && task.desiredStatus === 'RUNNING' && task.fault !== undefined,
        ),
    };
  },
};

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDemo, runDemo } from '../../local/demo/demo.ts';
import { PACKAGE_ROOT } from '../../local/project.ts';
import type { Json } from '../support/json.ts';

/**
 * AWS scenarios end to end on the embedded platform, through `runbook demo`: the demo target runs as
 * its own process; the simulated account's CloudWatch alarms go to ALARM and their state changes are
 * POSTed to the platform's /events as EventBridge would; the classifier picks the stand-in runbooks
 * (test/fixtures/runbooks/sim); their steps resolve the alarm's resource and act through the real AWS
 * tools and SDK clients on the simulated account; the account heals, the alarms go back to OK and
 * those events resolve the incidents, which is what the runbooks' verification waits for. Checked over
 * HTTP only: the platform's API and the target's control endpoint.
 */

const SCENARIOS = ['alb-target-errors', 'lambda-errors', 'sqs-queue-backlog'];
const RUNBOOKS = ['sim-alb-target-errors', 'sim-lambda-errors', 'sim-sqs-queue-backlog'];

async function get(base: string, path: string): Promise<Json> {
  const response = await fetch(new URL(path, base));
  expect(response.status, path).toBe(200);
  return (await response.json()) as Json;
}

describe('AWS scenarios on the embedded platform (runbook demo --runbooks test/fixtures/runbooks/sim)', () => {
  let dataDir: string;
  let demo: RunningDemo;
  let details: Json[];
  const lines: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'aws-scenarios-'));
    demo = await runDemo({
      cwd: PACKAGE_ROOT,
      autoApprove: true,
      port: 0,
      dataDir,
      waitScale: 1 / 30,
      scenarios: SCENARIOS,
      // The AWS scenarios need neither Prometheus nor Alertmanager: CloudWatch notices them.
      monitoring: 'fallback',
      runbooksDir: 'test/fixtures/runbooks/sim',
      print: (line) => lines.push(line),
    });
    const { executions } = await get(demo.url, '/api/executions');
    details = await Promise.all(
      executions.map((execution: Json) =>
        get(demo.url, `/api/executions/${encodeURIComponent(execution.id)}`),
      ),
    );
  }, 120_000);

  afterAll(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const detailOf = (runbookId: string): Json =>
    details.find((detail) => detail.execution.runbookId === runbookId) ?? { steps: [] };
  const stepOutput = (runbookId: string, key: string) =>
    detailOf(runbookId)
      .steps.filter((step: Json) => `${step.kind}:${step.stepId}` === key)
      .at(-1);

  it('takes each alarm to a succeeded execution of the runbook its alarm selects, and resolves its incident', () => {
    expect(demo.ok, lines.join('\n')).toBe(true);
    expect(details.map((detail) => detail.execution.runbookId).sort()).toEqual(RUNBOOKS);
    for (const detail of details) {
      expect(detail.execution.status, detail.execution.runbookId).toBe('succeeded');
      expect(detail.incident).toMatchObject({ status: 'resolved', alert: { source: 'cloudwatch' } });
      const steps = new Map(detail.steps.map((step: Json) => [`${step.kind}:${step.stepId}`, step.status]));
      expect(steps.get('check:verify-alert-resolved'), detail.execution.runbookId).toBe('succeeded');
    }
  });

  it('resolves each alarm’s resource through the AWS APIs of the simulated account', () => {
    const resolved = (runbookId: string) => stepOutput(runbookId, 'check:resource').output.resource;
    expect(resolved('sim-alb-target-errors')).toMatchObject({
      type: 'target-group',
      targetGroupArn:
        'arn:aws:elasticloadbalancing:eu-west-1:222222222222:targetgroup/checkout-web/73e2d6bc24d8a067',
      loadBalancerArn:
        'arn:aws:elasticloadbalancing:eu-west-1:222222222222:loadbalancer/app/shop-alb/50dc6c495c0c9188',
      ecsService: { cluster: 'shop', service: 'checkout' },
      tags: { service: 'checkout', team: 'checkout' },
    });
    expect(resolved('sim-sqs-queue-backlog')).toMatchObject({
      type: 'sqs-queue',
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/222222222222/order-events',
      deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/222222222222/order-events-dlq',
      functionName: 'order-worker',
    });
    expect(resolved('sim-lambda-errors')).toMatchObject({
      type: 'lambda-function',
      functionName: 'checkout-api',
    });
  });

  it('diagnosed the fault, changed the account, and the change holds', async () => {
    expect(stepOutput('sim-alb-target-errors', 'step:targets').output).toMatchObject({
      unhealthyCount: 3,
      healthyCount: 0,
    });
    expect(stepOutput('sim-alb-target-errors', 'step:new-deployment').output.deploymentId).toMatch(
      /^ecs-svc\//,
    );
    expect(stepOutput('sim-lambda-errors', 'step:errors').output.errorTypes[0].type).toBe('TypeError');
    expect(stepOutput('sim-lambda-errors', 'step:alias-rollback').output).toMatchObject({
      previousVersion: '7',
      newVersion: '6',
    });
    expect(stepOutput('sim-sqs-queue-backlog', 'step:raise-consumer-concurrency').output).toMatchObject({
      previousMaximumConcurrency: 2,
      maximumConcurrency: 10,
    });
    expect(stepOutput('sim-sqs-queue-backlog', 'step:redrive-dead-letters').output).toMatchObject({
      started: true,
    });

    const { aws } = await get(demo.target.endpoints.control, '/state');
    expect(aws.alarms.map((alarm: Json) => `${alarm.name}:${alarm.state}`).sort()).toEqual([
      'checkout-api-errors:OK',
      'checkout-web-target-5xx:OK',
      'order-events-oldest-message-age:OK',
    ]);
    const checkout = aws.targetGroups.find((group: Json) => group.name === 'checkout-web');
    expect(checkout.targets.map((target: Json) => target.state)).toEqual(['healthy', 'healthy', 'healthy']);
    expect(aws.ecsServices[0].tasks.every((task: Json) => task.fault === undefined)).toBe(true);
    expect(aws.functions.find((fn: Json) => fn.name === 'checkout-api').aliases).toEqual({ live: '6' });
    expect(aws.eventSourceMappings[0]).toMatchObject({
      functionName: 'order-worker',
      maximumConcurrency: 10,
    });
    expect(aws.queues.find((queue: Json) => queue.name === 'order-events-dlq').visible).toBe(0);
  });

  it('delivered every alarm state change to /events as EventBridge would, ALARM then OK, each accepted', async () => {
    const requests = await demo.target.requests();
    const byAlarm = new Map<string, string[]>();
    for (const delivery of requests.eventbridge)
      byAlarm.set(delivery.alarmName, [
        ...(byAlarm.get(delivery.alarmName) ?? []),
        `${delivery.previousState}→${delivery.state}:${delivery.httpStatus}`,
      ]);
    expect(Object.fromEntries(byAlarm)).toEqual({
      'checkout-web-target-5xx': ['OK→ALARM:202', 'ALARM→OK:202'],
      'checkout-api-errors': ['OK→ALARM:202', 'ALARM→OK:202'],
      'order-events-oldest-message-age': ['OK→ALARM:202', 'ALARM→OK:202'],
    });
    const operations = new Set(requests.aws.map((request) => `${request.service}:${request.operation}`));
    for (const operation of [
      'elasticloadbalancing:DescribeTargetGroups',
      'elasticloadbalancing:DescribeTargetHealth',
      'ecs:ListClusters',
      'ecs:DescribeServices',
      'ecs:UpdateService',
      'lambda:UpdateAlias',
      'logs:FilterLogEvents',
      'monitoring:GetMetricData',
      'sqs:GetQueueUrl',
      'lambda:UpdateEventSourceMapping',
      'sqs:StartMessageMoveTask',
    ])
      expect(operations, operation).toContain(operation);
    expect(requests.aws.filter((request) => request.status >= 500)).toEqual([]);
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import type { Alarm } from '../../../local/sim/aws/alarms.ts';
import { SCENARIOS, selectScenarios } from '../../../local/sim/scenarios/index.ts';
import type { CloudWatchInstance, CloudWatchScenario } from '../../../local/sim/scenarios/types.ts';
import type { Json } from '../../support/json.ts';
import { type SimulatedAccount, startSimulatedAccount } from '../../support/sim-aws.ts';

/**
 * Each AWS scenario on its own simulated account, without the platform: its alarm is in ALARM at the
 * first evaluation (the fault has a past), the diagnostics the runbooks read show the fault, and the
 * remediation its runbook applies, made by the platform's real tool over the SDK, makes the alarm's
 * next evaluations OK. The scenarios run concurrently, each with its own account and endpoint.
 */

const AWS_SCENARIOS = SCENARIOS.filter(
  (scenario): scenario is CloudWatchScenario => scenario.source === 'cloudwatch',
);
const now = () => Date.now() / 1_000;
const accounts: SimulatedAccount[] = [];

afterAll(async () => {
  await Promise.all(accounts.map((account) => account.stop()));
});

async function playing(id: string) {
  const scenario = AWS_SCENARIOS.find((candidate) => candidate.id === id)!;
  let instance: CloudWatchInstance | undefined;
  const sim = await startSimulatedAccount({
    setup: (world) => {
      for (const alarm of scenario.alarms) world.aws.alarms.define(alarm);
      instance = scenario.setup(world);
    },
  });
  accounts.push(sim);
  const alarm = sim.world.aws.alarms.alarms.get(instance!.alarm)!;
  return { sim, scenario, instance: instance!, alarm };
}

async function until(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What the alarm's evaluations say once the current levels have filled its evaluation periods. */
function settledState(sim: SimulatedAccount, alarm: Alarm): string {
  const { period, evaluationPeriods } = alarm.definition;
  return sim.world.aws.alarms.verdict(alarm, now() + period * (evaluationPeriods + 1)).value;
}

describe('the AWS scenario registry', () => {
  it('gives every remediating AWS runbook of the plan a scenario with its own alarm', () => {
    expect(AWS_SCENARIOS.map((scenario) => scenario.id).sort()).toEqual(
      [
        'alb-target-errors',
        'alb-target-latency',
        'alb-unhealthy-targets',
        'apigateway-5xx',
        'ec2-status-check-failed',
        'ecs-service-saturation',
        'lambda-errors',
        'lambda-throttling',
        'rds-cpu',
        'rds-free-storage',
        'sqs-queue-backlog',
      ].sort(),
    );
    for (const scenario of AWS_SCENARIOS) {
      expect(scenario.inDefaultSet, scenario.id).toBe(false);
      expect(scenario.alarms.map((alarm) => alarm.name)).toContain(scenario.alertname);
      expect(scenario.breaks.length, scenario.id).toBeGreaterThan(0);
    }
  });

  it('refuses two scenarios that break the same thing, naming both', () => {
    expect(() => selectScenarios(['alb-target-errors', 'ecs-service-saturation'])).toThrow(
      'scenarios alb-target-errors and ecs-service-saturation both break ecs:shop/checkout, so one would undo the other',
    );
    expect(
      selectScenarios(['lambda-errors', 'sqs-queue-backlog', 'crash-loop']).map((scenario) => scenario.id),
    ).toEqual(['crash-loop', 'lambda-errors', 'sqs-queue-backlog']);
  });
});

describe.concurrent('AWS scenarios, fixed by the real tools over the wire', () => {
  it('alb-target-errors: unhealthy, failing-open checkout targets; a new deployment replaces the tasks', async () => {
    const { sim, alarm, instance } = await playing('alb-target-errors');
    expect(alarm.state.value).toBe('ALARM');
    const health = await sim.run<Json>('elbv2.target-health', {
      targetGroup: 'targetgroup/checkout-web/73e2d6bc24d8a067',
    });
    expect(health).toMatchObject({ targetCount: 3, healthyCount: 0, unhealthyCount: 3 });
    expect(health.targets[0]).toMatchObject({ state: 'unhealthy', reason: 'Target.ResponseCodeMismatch' });
    const insights = await sim.run<Json>('cloudwatch.logs-insights', {
      logGroupNames: ['/ecs/checkout'],
      query:
        'fields @timestamp, @message | filter level = "ERROR" | stats count(*) as errors by exception | sort errors desc | limit 5',
      lookbackMinutes: 15,
    });
    expect(insights.rows[0].exception).toMatch(/^java\.sql\.SQLTransientConnectionException: HikariPool-1/);
    const events = await sim.run<Json>('ecs.service-events', { cluster: 'shop', service: 'checkout' });
    expect(events.deployments[0]).toMatchObject({ status: 'PRIMARY', rolloutState: 'COMPLETED' });
    expect(events.events.map((event: Json) => event.message).join('\n')).toContain(
      'is unhealthy in (target-group',
    );

    const deployed = await sim.run<Json>('ecs.force-new-deployment', {
      cluster: 'shop',
      service: 'checkout',
    });
    expect(deployed.deploymentId).toMatch(/^ecs-svc\/\d{19}$/);
    await until('the new deployment to complete', async () => {
      const service = await sim.run<Json>('ecs.describe-services', {
        cluster: 'shop',
        services: ['checkout'],
      });
      return service.services[0].rolloutState === 'COMPLETED' && service.services[0].deploymentCount === 1;
    });
    const after = await sim.run<Json>('elbv2.target-health', {
      targetGroup: 'targetgroup/checkout-web/73e2d6bc24d8a067',
    });
    expect(after).toMatchObject({ healthyCount: 3, unhealthyCount: 0 });
    const stopped = await sim.run<Json>('ecs.stopped-tasks', { cluster: 'shop', service: 'checkout' });
    expect(stopped.taskCount).toBe(3);
    expect(stopped.reasons[0]).toMatchObject({ stopCode: 'ServiceSchedulerInitiated', count: 3 });
    expect(instance.holds()).toBe(false);
    expect(settledState(sim, alarm)).toBe('OK');
  });

  it('alb-target-latency: saturated checkout; a bounded scale-out brings p99 down', async () => {
    const { sim, alarm, instance } = await playing('alb-target-latency');
    expect(alarm.state.value).toBe('ALARM');
    const p99 = await sim.run<Json>('cloudwatch.get-metric-data', {
      namespace: 'AWS/ApplicationELB',
      metricName: 'TargetResponseTime',
      dimensions: {
        LoadBalancer: 'app/shop-alb/50dc6c495c0c9188',
        TargetGroup: 'targetgroup/checkout-web/73e2d6bc24d8a067',
      },
      stat: 'p99',
      periodSeconds: 60,
      lookbackMinutes: 5,
    });
    expect(p99.latest).toBeGreaterThan(1.5);
    const scaled = await sim.run<Json>('ecs.set-desired-count', {
      cluster: 'shop',
      service: 'checkout',
      desiredCount: 6,
      maxDesiredCount: 8,
    });
    expect(scaled).toMatchObject({
      previousDesiredCount: 3,
      desiredCount: 6,
      autoScaling: { minCapacity: 2, maxCapacity: 12 },
    });
    await until(
      'six healthy targets',
      async () =>
        (await sim.run<Json>('elbv2.target-health', { targetGroup: 'checkout-web' })).healthyCount === 6,
    );
    expect(instance.holds()).toBe(false);
    expect(settledState(sim, alarm)).toBe('OK');
  });

  it('alb-unhealthy-targets: one legacy-web instance fails its check; marked unhealthy, its group replaces it', async () => {
    const { sim, alarm, instance } = await playing('alb-unhealthy-targets');
    expect(alarm.state.value).toBe('ALARM');
    const health = await sim.run<Json>('elbv2.target-health', {
      targetGroup: 'targetgroup/legacy-web/8f0e1d2c3b4a5968',
    });
    expect(health.unhealthyTargetIds).toEqual(['i-0b2c3d4e5f6071829']);
    expect(health.targets[0].description).toBe('Health checks failed with these codes: [502]');
    const marked = await sim.run<Json>('autoscaling.set-instance-health', {
      instanceId: 'i-0b2c3d4e5f6071829',
    });
    expect(marked).toMatchObject({
      autoScalingGroup: 'legacy-web-asg',
      previousHealthStatus: 'HEALTHY',
      healthStatus: 'Unhealthy',
    });
    await until('a healthy replacement', async () => {
      const group = await sim.run<Json>('autoscaling.describe-group', { groupName: 'legacy-web-asg' });
      const targets = await sim.run<Json>('elbv2.target-health', { targetGroup: 'legacy-web' });
      return (
        group.healthyInServiceCount === 2 &&
        group.instanceCount === 2 &&
        targets.healthyCount === 2 &&
        targets.targetCount === 2
      );
    });
    const group = await sim.run<Json>('autoscaling.describe-group', { groupName: 'legacy-web-asg' });
    expect(group.instances.map((member: Json) => member.instanceId)).not.toContain('i-0b2c3d4e5f6071829');
    expect(instance.holds()).toBe(false);
    expect(settledState(sim, alarm)).toBe('OK');
  });

  it('ecs-service-saturation: checkout above 90% CPU; a bounded desired-count raise relieves it', async () => {
    const { sim, alarm } = await playing('ecs-service-saturation');
    expect(alarm.state.value).toBe('ALARM');
    await sim.run('ecs.set-desired-count', {
      cluster: 'shop',
      service: 'checkout',
      desiredCount: 5,
      maxDesiredCount: 6,
    });
    await until(
      'five running tasks taking traffic',
      async () =>
        (await sim.run<Json>('elbv2.target-health', { targetGroup: 'checkout-web' })).healthyCount === 5,
    );
    const cpu = await sim.run<Json>('cloudwatch.get-metric-data', {
      namespace: 'AWS/ECS',
      metricName: 'CPUUtilization',
      dimensions: { ClusterName: 'shop', ServiceName: 'checkout' },
      stat: 'Average',
      periodSeconds: 10,
      lookbackMinutes: 1,
    });
    expect(cpu.maximum).toBeGreaterThan(80);
    expect(settledState(sim, alarm)).toBe('OK');
  });

  it('ec2-status-check-failed: the instance status check fails; a reboot brings it back', async () => {
    const { sim, alarm, instance } = await playing('ec2-status-check-failed');
    expect(alarm.state.value).toBe('ALARM');
    const status = await sim.run<Json>('ec2.describe-instance-status', {
      instanceIds: ['i-0a1b2c3d4e5f60718'],
    });
    expect(status.instances[0]).toMatchObject({
      state: 'running',
      systemStatus: 'ok',
      instanceStatus: 'impaired',
    });
    const dryRun = await sim.run<Json>(
      'ec2.reboot-instances',
      { instanceIds: ['i-0a1b2c3d4e5f60718'] },
      { dryRun: true },
    );
    expect(dryRun).toMatchObject({ rebooted: false, dryRun: true });
    expect(instance.holds()).toBe(true);
    await sim.run('ec2.reboot-instances', { instanceIds: ['i-0a1b2c3d4e5f60718'] });
    await until('both status checks to pass', async () => {
      const after = await sim.run<Json>('ec2.describe-instance-status', {
        instanceIds: ['i-0a1b2c3d4e5f60718'],
      });
      return after.instances[0].instanceStatus === 'ok' && after.instances[0].systemStatus === 'ok';
    });
    expect(instance.holds()).toBe(false);
    expect(settledState(sim, alarm)).toBe('OK');
  });

  it('lambda-errors: version 7 throws a TypeError; the alias goes back to version 6', async () => {
    const { sim, alarm, instance } = await playing('lambda-errors');
    expect(alarm.state.value).toBe('ALARM');
    const described = await sim.run<Json>('lambda.describe', { functionName: 'checkout-api' });
    expect(described.aliases).toEqual([{ name: 'live', functionVersion: '7', additionalVersionWeights: {} }]);
    expect(Date.now() - Date.parse(described.versions[0].lastModified)).toBeLessThan(20 * 60_000);
    const errors = await sim.run<Json>('lambda.recent-errors', {
      functionName: 'checkout-api',
      lookbackMinutes: 15,
    });
    expect(errors.errorTypes[0]).toMatchObject({ type: 'TypeError' });
    expect(errors.errorTypes[0].sample).toContain("Cannot read properties of undefined (reading 'currency')");
    expect(errors.errorRatePercent).toBeGreaterThan(15);
    const rolled = await sim.run<Json>('lambda.alias-rollback', {
      functionName: 'checkout-api',
      alias: 'live',
    });
    expect(rolled).toMatchObject({ previousVersion: '7', newVersion: '6', unchanged: false });
    expect(instance.holds()).toBe(false);
    expect(settledState(sim, alarm)).toBe('OK');

    // Lambda splits an alias's invocations by the version they ran (ExecutedVersion): version 6 has
    // served only since the rollback, so its error rate is its own, however soon it is read.
    const executed = (version: string) =>
      sim.run<Json>('cloudwatch.get-metric-data', {
        namespace: 'AWS/Lambda',
        metricName: 'Errors',
        dimensions: { FunctionName: 'checkout-api', Resource: 'checkout-api:live', ExecutedVersion: version },
        stat: 'Average',
        periodSeconds: 60,
        lookbackMinutes: 30,
      });
    await until('version 6 to serve through the alias', async () => (await executed('6')).datapointCount > 0);
    const [v6, v7] = [await executed('6'), await executed('7')];
    expect(v6.average).toBeLessThan(0.05);
    expect(v7.maximum).toBeGreaterThan(0.2);
    expect(v7.datapoints[0].timestamp).toBe(
      new Date(Math.floor((Date.now() / 1_000 - 18 * 60) / 60) * 60_000).toISOString(),
    );
  });

  it('lambda-throttling: a reservation of 8 throttles; a bounded raise ends it', async () => {
    const { sim, alarm } = await playing('lambda-throttling');
    expect(alarm.state.value).toBe('ALARM');
    const concurrency = await sim.run<Json>('lambda.get-concurrency', { functionName: 'checkout-api' });
    expect(concurrency).toMatchObject({ reservedConcurrency: 8, proposedReservedConcurrency: 16 });
    // Held at its reservation: the peak reaches it (with the metric's noise)
    expect(concurrency.peakPercentOfReservation).toBeGreaterThan(90);
    await sim.run('lambda.put-reserved-concurrency', {
      functionName: 'checkout-api',
      reservedConcurrency: 16,
    });
    await until(
      'a tick with the new reservation',
      () => sim.world.aws.lambda.functions.get('checkout-api')!.throttled.at(now()) === 0,
    );
    expect(settledState(sim, alarm)).toBe('OK');
    // Right after the raise the peak of the last minutes, the old limit's included, is below the new one
    const after = await sim.run<Json>('lambda.get-concurrency', { functionName: 'checkout-api' });
    expect(after.reservedConcurrency).toBe(16);
    expect(after.peakPercentOfReservation).toBeLessThan(100);
  });

  it('rds-cpu: runaway queries peg the CPU; a reboot with failover ends them', async () => {
    const { sim, alarm, instance } = await playing('rds-cpu');
    expect(alarm.state.value).toBe('ALARM');
    const described = await sim.run<Json>('rds.describe-instance', { dbInstanceIdentifier: 'orders-db' });
    expect(described).toMatchObject({ status: 'available', multiAz: true, availabilityZone: 'eu-west-1a' });
    expect(described.cpuUtilizationPercent).toBeGreaterThan(90);
    const rebooted = await sim.run<Json>('rds.reboot-instance', {
      dbInstanceIdentifier: 'orders-db',
      forceFailover: true,
    });
    expect(rebooted).toMatchObject({ previousStatus: 'available', status: 'rebooting', forceFailover: true });
    await until(
      'the instance to be available again',
      async () =>
        (await sim.run<Json>('rds.describe-instance', { dbInstanceIdentifier: 'orders-db' })).status ===
        'available',
    );
    const after = await sim.run<Json>('rds.describe-instance', { dbInstanceIdentifier: 'orders-db' });
    expect(after.availabilityZone).toBe('eu-west-1b');
    const events = await sim.run<Json>('rds.events', {
      dbInstanceIdentifier: 'orders-db',
      lookbackMinutes: 10,
    });
    expect(events.events.map((event: Json) => event.message)).toEqual(
      expect.arrayContaining([
        'Multi-AZ instance failover started.',
        'DB instance restarted',
        'Multi-AZ instance failover completed.',
      ]),
    );
    expect(instance.holds()).toBe(false);
    expect(settledState(sim, alarm)).toBe('OK');
  });

  it('rds-free-storage: WAL fills the disk; a bounded storage increase applies, and a second one is refused', async () => {
    const { sim, alarm } = await playing('rds-free-storage');
    expect(alarm.state.value).toBe('ALARM');
    const before = await sim.run<Json>('rds.describe-instance', { dbInstanceIdentifier: 'orders-db' });
    expect(before.freeStoragePercent).toBeLessThan(10);
    const trend = await sim.run<Json>('cloudwatch.get-metric-data', {
      namespace: 'AWS/RDS',
      metricName: 'FreeStorageSpace',
      dimensions: { DBInstanceIdentifier: 'orders-db' },
      stat: 'Minimum',
      periodSeconds: 3600,
      lookbackMinutes: 6 * 60,
    });
    expect(trend.datapoints[0].value - trend.latest).toBeGreaterThan(4 * 1024 ** 3);
    const grown = await sim.run<Json>('rds.increase-allocated-storage', {
      dbInstanceIdentifier: 'orders-db',
      increasePercent: 20,
      maxAllowedStorageGiB: 200,
    });
    expect(grown).toMatchObject({
      previousAllocatedStorageGiB: 100,
      allocatedStorageGiB: 120,
      status: 'modifying',
    });
    await until(
      'the storage change to apply',
      async () =>
        (await sim.run<Json>('rds.describe-instance', { dbInstanceIdentifier: 'orders-db' }))
          .allocatedStorageGiB === 120,
    );
    expect(settledState(sim, alarm)).toBe('OK');
    await until(
      'storage optimization to end',
      async () =>
        (await sim.run<Json>('rds.describe-instance', { dbInstanceIdentifier: 'orders-db' })).status ===
        'available',
    );
    await expect(
      sim.run('rds.increase-allocated-storage', {
        dbInstanceIdentifier: 'orders-db',
        increasePercent: 20,
        maxAllowedStorageGiB: 200,
      }),
    ).rejects.toThrow(
      /InvalidParameterCombination: You cannot modify the storage of this DB instance until 6 hours after/,
    );
  });

  it('sqs-queue-backlog: a consumer capped at 2; a raised cap drains the backlog, then the DLQ goes back', async () => {
    const { sim, alarm, instance } = await playing('sqs-queue-backlog');
    expect(alarm.state.value).toBe('ALARM');
    const status = await sim.run<Json>('sqs.queue-status', { queue: 'order-events' });
    expect(status.visibleMessages).toBeGreaterThan(3_000);
    expect(status.ageOfOldestMessageSeconds).toBeGreaterThan(300);
    expect(status.deadLetterQueue).toMatchObject({ queueName: 'order-events-dlq', visibleMessages: 37 });
    expect(status.consumers[0]).toMatchObject({
      functionName: 'order-worker',
      maximumConcurrency: 2,
      state: 'Enabled',
    });
    const raised = await sim.run<Json>('lambda.set-event-source-concurrency', {
      uuid: status.consumers[0].uuid,
      maximumConcurrency: 10,
      maxAllowedConcurrency: 20,
    });
    expect(raised).toMatchObject({ previousMaximumConcurrency: 2, maximumConcurrency: 10 });
    expect(instance.holds()).toBe(false);
    await until(
      'the oldest message under 5 minutes',
      () => sim.world.aws.sqs.ageOfOldest(sim.world.aws.sqs.queues.get('order-events')!, now()) < 290,
    );
    expect(settledState(sim, alarm)).toBe('OK');
    const redrive = await sim.run<Json>('sqs.redrive-dlq', {
      deadLetterQueue: 'order-events-dlq',
      maxMessagesPerSecond: 50,
    });
    expect(redrive).toMatchObject({ started: true, approximateNumberOfMessages: 37 });
    await until(
      'the dead letters to move back',
      async () =>
        (await sim.run<Json>('sqs.queue-status', { queue: 'order-events-dlq' })).visibleMessages === 0,
    );
  });

  it('apigateway-5xx: the latest deployment answers 5xx; the stage goes back to the previous one', async () => {
    const { sim, alarm, instance } = await playing('apigateway-5xx');
    expect(alarm.state.value).toBe('ALARM');
    const stage = await sim.run<Json>('apigateway.stage-status', {
      restApi: 'shop-api',
      stage: 'prod',
      lookbackMinutes: 10,
    });
    expect(stage).toMatchObject({
      deploymentId: 'a8hn3c',
      previousDeploymentId: 'w4zq1b',
      newerDeployments: 0,
    });
    expect(stage.errorRate5xxPercent).toBeGreaterThan(10);
    const rolled = await sim.run<Json>('apigateway.rollback-stage', { restApi: 'shop-api', stage: 'prod' });
    expect(rolled).toMatchObject({
      previousDeploymentId: 'a8hn3c',
      deploymentId: 'w4zq1b',
      unchanged: false,
    });
    expect(
      await sim.run<Json>('apigateway.stage-status', { restApi: 'shop-api', stage: 'prod' }),
    ).toMatchObject({ deploymentId: 'w4zq1b', newerDeployments: 1 });
    expect(instance.holds()).toBe(false);
    expect(settledState(sim, alarm)).toBe('OK');
  });
});

describe('several AWS scenarios in one account', () => {
  it('keeps each fault’s past whatever the order of setup: backdated changes apply oldest first', async () => {
    // rds-cpu (14 minutes ago) is set up before sqs-queue-backlog (18 minutes ago): applied as given,
    // the older change would rewrite the CPU series from 18 minutes ago on with the level before the fault.
    const scenarios = selectScenarios(['rds-cpu', 'sqs-queue-backlog']) as CloudWatchScenario[];
    expect(scenarios.map((scenario) => scenario.id)).toEqual(['rds-cpu', 'sqs-queue-backlog']);
    const sim = await startSimulatedAccount({
      setup: (world) =>
        world.aws.inHistoryOrder(() => {
          for (const scenario of scenarios) {
            for (const alarm of scenario.alarms) world.aws.alarms.define(alarm);
            scenario.setup(world);
          }
        }),
    });
    accounts.push(sim);

    const cpu = await sim.run<Json>('cloudwatch.get-metric-data', {
      namespace: 'AWS/RDS',
      metricName: 'CPUUtilization',
      dimensions: { DBInstanceIdentifier: 'orders-db' },
      stat: 'Average',
      periodSeconds: 60,
      lookbackMinutes: 12,
    });
    const age = await sim.run<Json>('cloudwatch.get-metric-data', {
      namespace: 'AWS/SQS',
      metricName: 'ApproximateAgeOfOldestMessage',
      dimensions: { QueueName: 'order-events' },
      stat: 'Maximum',
      periodSeconds: 60,
      lookbackMinutes: 17,
    });

    expect(cpu.minimum).toBeGreaterThan(90);
    expect(age.latest).toBeGreaterThan(age.datapoints[0].value);
    expect(sim.world.aws.alarms.alarms.get('orders-db-cpu-high')!.state.value).toBe('ALARM');
    expect(sim.world.aws.alarms.alarms.get('order-events-oldest-message-age')!.state.value).toBe('ALARM');
  });
});

import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
} from '@aws-sdk/client-application-auto-scaling';
import {
  AccessDeniedException,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  type Service,
  type Task,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type {
  ServiceEventsOutput,
  SetDesiredCountOutput,
  StoppedTasksOutput,
} from '../../../../functions/tools/declarations/aws/ecs.ts';
import { awsError, awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const ecs = mockClient(ECSClient);
const scaling = mockClient(ApplicationAutoScalingClient);
const tools = awsToolset();

const ACCOUNT = '333333333333';
const CLUSTER_ARN = `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/storefront`;
const TASK_DEF = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/storefront-web:42`;

const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

function service(overrides: Partial<Service> = {}): Service {
  return {
    serviceArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/storefront/storefront-web`,
    serviceName: 'storefront-web',
    clusterArn: CLUSTER_ARN,
    status: 'ACTIVE',
    desiredCount: 4,
    runningCount: 4,
    pendingCount: 0,
    launchType: 'FARGATE',
    taskDefinition: TASK_DEF,
    deployments: [
      {
        id: 'ecs-svc/1111111111111111111',
        status: 'ACTIVE',
        taskDefinition: TASK_DEF.replace(':42', ':41'),
        desiredCount: 0,
        runningCount: 1,
        pendingCount: 0,
        failedTasks: 0,
        createdAt: minutesAgo(600),
        updatedAt: minutesAgo(20),
        rolloutState: 'COMPLETED',
      },
      {
        id: 'ecs-svc/2222222222222222222',
        status: 'PRIMARY',
        taskDefinition: TASK_DEF,
        desiredCount: 4,
        runningCount: 3,
        pendingCount: 1,
        failedTasks: 6,
        createdAt: minutesAgo(20),
        updatedAt: minutesAgo(1),
        rolloutState: 'IN_PROGRESS',
        rolloutStateReason: 'ECS deployment ecs-svc/2222222222222222222 in progress.',
      },
    ],
    events: [
      {
        id: 'e-2',
        createdAt: minutesAgo(3),
        message:
          '(service storefront-web) (port 8080) is unhealthy in (target-group arn:aws:elasticloadbalancing:eu-west-1:333333333333:targetgroup/storefront-web/73e2d6bc24d8a067) due to (reason Health checks failed with these codes: [502]).',
      },
      {
        id: 'e-1',
        createdAt: minutesAgo(9),
        message: '(service storefront-web) has started 1 tasks: (task 6f0e).',
      },
      {
        id: 'e-3',
        createdAt: minutesAgo(1),
        message: '(service storefront-web) has stopped 1 running tasks: (task 5d4c).',
      },
    ],
    ...overrides,
  };
}

describe('ecs.set-desired-count', () => {
  beforeEach(() => {
    ecs.reset();
    scaling.reset();
  });

  it('counts what it would touch before it runs: increaseBy as given, a desired count against the current one', async () => {
    // Prepare
    ecs.on(DescribeServicesCommand).resolves({ services: [service()], failures: [] });
    const tool = tools.tools.get('ecs.set-desired-count')!;
    const count = (parameters: Record<string, unknown>) =>
      tool.countTouched!(
        tool.declaration.parameters.parse(parameters) as Record<string, unknown>,
        testContext(),
      );
    const where = { cluster: 'storefront', service: 'storefront-web', maxDesiredCount: 10 };

    // Act
    const added = await count({ ...where, increaseBy: 3 });
    const set = await count({ ...where, desiredCount: 1 });

    // Assess
    expect(added).toEqual({ count: 3, how: 'up to 3 task(s) added' });
    expect(set).toEqual({ count: 3, how: 'ECS service storefront-web from 4 to 1 tasks' });
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('raises the desired count within the bound and the scaling range, and returns the previous count', async () => {
    // Prepare
    ecs.on(DescribeServicesCommand).resolves({ services: [service()], failures: [] });
    scaling.on(DescribeScalableTargetsCommand).resolves({
      ScalableTargets: [
        {
          ServiceNamespace: 'ecs',
          ResourceId: 'service/storefront/storefront-web',
          ScalableDimension: 'ecs:service:DesiredCount',
          MinCapacity: 2,
          MaxCapacity: 12,
          RoleARN: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService`,
          CreationTime: minutesAgo(100_000),
        },
      ],
    });
    ecs.on(UpdateServiceCommand).resolves({ service: service({ desiredCount: 8 }) });

    // Act
    const output = (await tools.run('ecs.set-desired-count', {
      cluster: 'storefront',
      service: 'storefront-web',
      desiredCount: 8,
      maxDesiredCount: 10,
    })) as SetDesiredCountOutput;

    // Assess
    expect(output).toEqual({
      cluster: 'storefront',
      service: 'storefront-web',
      previousDesiredCount: 4,
      desiredCount: 8,
      runningCount: 4,
      maxDesiredCount: 10,
      increaseBy: null,
      autoScaling: { minCapacity: 2, maxCapacity: 12 },
      unchanged: false,
      dryRun: false,
    });
    expect(scaling.commandCalls(DescribeScalableTargetsCommand)[0]?.args[0].input).toEqual({
      ServiceNamespace: 'ecs',
      ResourceIds: ['service/storefront/storefront-web'],
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    expect(ecs.commandCalls(UpdateServiceCommand)[0]?.args[0].input).toEqual({
      cluster: 'storefront',
      service: 'storefront-web',
      desiredCount: 8,
    });
  });

  it('compensates by restoring the previous count', async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [service({ desiredCount: 8 })] });
    scaling.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [] });
    ecs.on(UpdateServiceCommand).resolves({ service: service({ desiredCount: 4 }) });
    const step = {
      parameters: { cluster: 'storefront', service: 'storefront-web', desiredCount: 8, maxDesiredCount: 10 },
      output: { previousDesiredCount: 4, unchanged: false },
    };

    const inverse = await tools.runInverse('ecs.set-desired-count', step);

    expect(inverse.parameters).toEqual({
      cluster: 'storefront',
      service: 'storefront-web',
      desiredCount: 4,
      maxDesiredCount: 4,
    });
    expect(inverse.output).toMatchObject({ previousDesiredCount: 8, desiredCount: 4, autoScaling: null });
    expect(ecs.commandCalls(UpdateServiceCommand)[0]?.args[0].input).toMatchObject({ desiredCount: 4 });
  });

  it('refuses above the bound before calling AWS, and outside the scaling range', async () => {
    const above = await rejectionOf(
      tools.run('ecs.set-desired-count', {
        cluster: 'storefront',
        service: 'storefront-web',
        desiredCount: 30,
        maxDesiredCount: 10,
      }),
    );
    expect(above.name).toBe('Tool.Refused');
    expect(above.message).toContain('above the bound 10');
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(0);

    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    scaling.on(DescribeScalableTargetsCommand).resolves({
      ScalableTargets: [
        {
          ServiceNamespace: 'ecs',
          ResourceId: 'service/storefront/storefront-web',
          ScalableDimension: 'ecs:service:DesiredCount',
          MinCapacity: 2,
          MaxCapacity: 6,
          RoleARN: 'arn:aws:iam::333333333333:role/scaling',
          CreationTime: minutesAgo(100_000),
        },
      ],
    });
    const outside = await rejectionOf(
      tools.run('ecs.set-desired-count', {
        cluster: 'storefront',
        service: 'storefront-web',
        desiredCount: 8,
        maxDesiredCount: 10,
      }),
    );
    expect(outside.name).toBe('Tool.Refused');
    expect(outside.message).toContain('outside its Application Auto Scaling range (min 2, max 6)');
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('adds tasks with increaseBy, capped at the bound, and never lowers the count', async () => {
    // Prepare: 4 tasks wanted, no scaling range
    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    scaling.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [] });
    ecs.on(UpdateServiceCommand).resolves({ service: service({ desiredCount: 6 }) });

    // Act
    const added = (await tools.run('ecs.set-desired-count', {
      cluster: 'storefront',
      service: 'storefront-web',
      increaseBy: 2,
      maxDesiredCount: 10,
    })) as SetDesiredCountOutput;
    const capped = (await tools.run(
      'ecs.set-desired-count',
      { cluster: 'storefront', service: 'storefront-web', increaseBy: 5, maxDesiredCount: 6 },
      testContext({ dryRun: true }),
    )) as SetDesiredCountOutput;
    const atBound = await rejectionOf(
      tools.run('ecs.set-desired-count', {
        cluster: 'storefront',
        service: 'storefront-web',
        increaseBy: 2,
        maxDesiredCount: 3,
      }),
    );

    // Assess
    expect(added).toMatchObject({
      previousDesiredCount: 4,
      desiredCount: 6,
      increaseBy: 2,
      unchanged: false,
    });
    expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toEqual([
      { cluster: 'storefront', service: 'storefront-web', desiredCount: 6 },
    ]);
    expect(capped).toMatchObject({
      previousDesiredCount: 4,
      desiredCount: 6,
      maxDesiredCount: 6,
      dryRun: true,
    });
    expect(atBound.name).toBe('Tool.Refused');
    expect(atBound.message).toContain('already wants 4 tasks, at or above the bound 3');
  });

  it('takes either desiredCount or increaseBy, never both or neither', async () => {
    const both = await rejectionOf(
      tools.run('ecs.set-desired-count', {
        cluster: 'storefront',
        service: 'storefront-web',
        desiredCount: 6,
        increaseBy: 2,
        maxDesiredCount: 10,
      }),
    );
    const neither = await rejectionOf(
      tools.run('ecs.set-desired-count', {
        cluster: 'storefront',
        service: 'storefront-web',
        maxDesiredCount: 10,
      }),
    );

    for (const rejection of [both, neither]) {
      expect(rejection.message).toContain('give either desiredCount (the count to set) or increaseBy');
    }
    expect(neither.name).toBe('Tool.Refused');
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(0);
  });

  it('dry run reads and changes nothing; an unchanged count makes no call either', async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    scaling.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [] });

    const dry = (await tools.run(
      'ecs.set-desired-count',
      { cluster: 'storefront', service: 'storefront-web', desiredCount: 6, maxDesiredCount: 10 },
      testContext({ dryRun: true }),
    )) as SetDesiredCountOutput;
    const same = (await tools.run('ecs.set-desired-count', {
      cluster: 'storefront',
      service: 'storefront-web',
      desiredCount: 4,
      maxDesiredCount: 10,
    })) as SetDesiredCountOutput;

    expect(dry).toMatchObject({ previousDesiredCount: 4, desiredCount: 6, dryRun: true, unchanged: false });
    expect(same).toMatchObject({ previousDesiredCount: 4, desiredCount: 4, unchanged: true });
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('maps access denied on UpdateService and throttling of Application Auto Scaling', async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    scaling.on(DescribeScalableTargetsCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    const parameters = {
      cluster: 'storefront',
      service: 'storefront-web',
      desiredCount: 6,
      maxDesiredCount: 10,
    };
    expect((await rejectionOf(tools.run('ecs.set-desired-count', parameters))).name).toBe('Tool.Throttled');

    scaling.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [] });
    ecs
      .on(UpdateServiceCommand)
      .rejects(
        new AccessDeniedException({ message: 'not authorized to perform: ecs:UpdateService', $metadata: {} }),
      );
    const denied = await rejectionOf(tools.run('ecs.set-desired-count', parameters));
    expect(denied.name).toBe('Tool.AccessDenied');
    expect(denied.message).toContain('needs ecs:UpdateService');
  });
});

describe('ecs.service-events', () => {
  beforeEach(() => ecs.reset());

  it('returns the newest events first and the PRIMARY deployment first', async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [service()] });

    const output = (await tools.run('ecs.service-events', {
      cluster: 'storefront',
      service: 'storefront-web',
      limit: 2,
    })) as ServiceEventsOutput;

    expect(output.events.map((event) => event.createdAt)).toEqual([
      minutesAgo(1).toISOString(),
      minutesAgo(3).toISOString(),
    ]);
    expect(output.events[1]!.message).toContain('is unhealthy in (target-group');
    expect(output.deployments.map((deployment) => deployment.status)).toEqual(['PRIMARY', 'ACTIVE']);
    expect(output.deployments[0]).toEqual({
      id: 'ecs-svc/2222222222222222222',
      status: 'PRIMARY',
      taskDefinition: TASK_DEF,
      desiredCount: 4,
      runningCount: 3,
      pendingCount: 1,
      failedTasks: 6,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: 'ECS deployment ecs-svc/2222222222222222222 in progress.',
      createdAt: minutesAgo(20).toISOString(),
      updatedAt: minutesAgo(1).toISOString(),
    });
  });

  it('is NotFound for a service ECS reports MISSING', async () => {
    ecs.on(DescribeServicesCommand).resolves({
      services: [],
      failures: [{ arn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/storefront/gone`, reason: 'MISSING' }],
    });
    const error = await rejectionOf(
      tools.run('ecs.service-events', { cluster: 'storefront', service: 'gone' }),
    );
    expect(error.name).toBe('Tool.NotFound');
  });
});

function stoppedTask(id: string, stoppedMinutesAgo: number, overrides: Partial<Task> = {}): Task {
  return {
    taskArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/storefront/${id}`,
    clusterArn: CLUSTER_ARN,
    taskDefinitionArn: TASK_DEF,
    group: 'service:storefront-web',
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    launchType: 'FARGATE',
    startedAt: minutesAgo(stoppedMinutesAgo + 5),
    stoppingAt: minutesAgo(stoppedMinutesAgo),
    stoppedAt: minutesAgo(stoppedMinutesAgo),
    stopCode: 'EssentialContainerExited',
    stoppedReason: 'Essential container in task exited',
    containers: [
      {
        name: 'app',
        lastStatus: 'STOPPED',
        exitCode: 137,
        reason: 'OutOfMemoryError: Container killed due to memory usage',
      },
      { name: 'log-router', lastStatus: 'STOPPED', exitCode: 0 },
    ],
    ...overrides,
  };
}

describe('ecs.stopped-tasks', () => {
  beforeEach(() => ecs.reset());

  it('lists stopped tasks across pages, newest first, and counts why they stopped', async () => {
    // Prepare: two pages of ListTasks, as ECS pages them.
    const ids = ['a1', 'b2', 'c3'];
    ecs
      .on(ListTasksCommand)
      .resolvesOnce({
        taskArns: ids.slice(0, 2).map((id) => `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/storefront/${id}`),
        nextToken: 'page-2',
      })
      .resolvesOnce({ taskArns: [`arn:aws:ecs:eu-west-1:${ACCOUNT}:task/storefront/c3`] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        stoppedTask('a1', 30),
        stoppedTask('b2', 2),
        stoppedTask('c3', 10, {
          stopCode: 'TaskFailedToStart',
          stoppedReason:
            'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 333333333333.dkr.ecr.eu-west-1.amazonaws.com/storefront-web:43: not found',
          containers: [{ name: 'app', lastStatus: 'STOPPED' }],
        }),
      ],
      failures: [],
    });

    // Act
    const output = (await tools.run('ecs.stopped-tasks', {
      cluster: 'storefront',
      service: 'storefront-web',
    })) as StoppedTasksOutput;

    // Assess
    expect(ecs.commandCalls(ListTasksCommand).map((call) => call.args[0].input)).toEqual([
      {
        cluster: 'storefront',
        serviceName: 'storefront-web',
        desiredStatus: 'STOPPED',
        maxResults: 100,
        nextToken: undefined,
      },
      {
        cluster: 'storefront',
        serviceName: 'storefront-web',
        desiredStatus: 'STOPPED',
        maxResults: 100,
        nextToken: 'page-2',
      },
    ]);
    expect(ecs.commandCalls(DescribeTasksCommand)[0]?.args[0].input.tasks).toHaveLength(3);
    expect(output.taskCount).toBe(3);
    expect(output.tasks.map((task) => task.taskArn.split('/').at(-1))).toEqual(['b2', 'c3', 'a1']);
    expect(output.reasons).toEqual([
      { stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited', count: 2 },
      {
        stopCode: 'TaskFailedToStart',
        stoppedReason: expect.stringContaining('CannotPullContainerError'),
        count: 1,
      },
    ]);
    expect(output.containerExits[0]).toEqual({
      container: 'app',
      exitCode: 137,
      reason: 'OutOfMemoryError: Container killed due to memory usage',
      count: 2,
    });
    expect(output.containerExits).toContainEqual({
      container: 'app',
      exitCode: null,
      reason: null,
      count: 1,
    });
  });

  it('reads the whole cluster without a service, and nothing when none stopped', async () => {
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });

    const output = (await tools.run('ecs.stopped-tasks', { cluster: 'storefront' })) as StoppedTasksOutput;

    expect(ecs.commandCalls(ListTasksCommand)[0]?.args[0].input).not.toHaveProperty('serviceName');
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(0);
    expect(output).toEqual({
      cluster: 'storefront',
      service: null,
      taskCount: 0,
      tasks: [],
      reasons: [],
      containerExits: [],
    });
  });

  it('maps a missing cluster and throttling', async () => {
    ecs.on(ListTasksCommand).rejects(awsError('ClusterNotFoundException', 'Cluster not found.'));
    expect((await rejectionOf(tools.run('ecs.stopped-tasks', { cluster: 'nope' }))).name).toBe(
      'Tool.NotFound',
    );
    ecs.on(ListTasksCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    expect((await rejectionOf(tools.run('ecs.stopped-tasks', { cluster: 'storefront' }))).name).toBe(
      'Tool.Throttled',
    );
  });
});

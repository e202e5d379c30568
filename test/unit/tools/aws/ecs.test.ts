import {
  AccessDeniedException,
  ClusterNotFoundException,
  DescribeServicesCommand,
  ECSClient,
  type Service,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { awsError, awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const ecs = mockClient(ECSClient);
const tools = awsToolset();

const ACCOUNT = '333333333333';
const CLUSTER_ARN = `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/storefront`;
const TASK_DEF_41 = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/storefront-web:41`;
const TASK_DEF_42 = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/storefront-web:42`;

function minutesAgo(minutes: number): Date {
  return new Date(NOW.getTime() - minutes * 60_000);
}

function service(name: string, overrides: Partial<Service> = {}): Service {
  return {
    serviceArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/storefront/${name}`,
    serviceName: name,
    clusterArn: CLUSTER_ARN,
    status: 'ACTIVE',
    desiredCount: 6,
    runningCount: 4,
    pendingCount: 2,
    launchType: 'EC2',
    taskDefinition: TASK_DEF_42,
    deploymentController: { type: 'ECS' },
    deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100 },
    deployments: [
      {
        id: 'ecs-svc/4219472910386652371',
        status: 'PRIMARY',
        taskDefinition: TASK_DEF_42,
        desiredCount: 6,
        pendingCount: 2,
        runningCount: 4,
        failedTasks: 0,
        createdAt: minutesAgo(95),
        updatedAt: minutesAgo(3),
        launchType: 'EC2',
        rolloutState: 'COMPLETED',
        rolloutStateReason: 'ECS deployment ecs-svc/4219472910386652371 completed.',
      },
    ],
    events: Array.from({ length: 8 }, (_, index) => ({
      id: `event-${index}`,
      createdAt: minutesAgo(index * 2),
      message:
        index === 0
          ? `(service ${name}) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 5a8e1c2f) has insufficient CPU units available.`
          : `(service ${name}) has reached a steady state.`,
    })),
    ...overrides,
  };
}

describe('ecs.describe-services', () => {
  beforeEach(() => ecs.reset());

  it('reads the services in the order asked, with the PRIMARY rollout and the latest 5 events', async () => {
    // Prepare: ECS answers in its own order.
    ecs.on(DescribeServicesCommand).resolves({
      services: [
        service('storefront-worker', { pendingCount: 0, runningCount: 2, desiredCount: 2 }),
        service('storefront-web'),
      ],
      failures: [],
    });

    // Act
    const output = (await tools.run('ecs.describe-services', {
      cluster: 'storefront',
      services: ['storefront-web', 'storefront-worker'],
    })) as { services: Array<Record<string, unknown> & { events: unknown[] }> };

    // Assess
    expect(output.services.map((entry) => entry.serviceName)).toEqual([
      'storefront-web',
      'storefront-worker',
    ]);
    const web = output.services[0]!;
    expect(web).toEqual({
      serviceName: 'storefront-web',
      status: 'ACTIVE',
      desiredCount: 6,
      runningCount: 4,
      pendingCount: 2,
      taskDefinition: TASK_DEF_42,
      rolloutState: 'COMPLETED',
      rolloutStateReason: 'ECS deployment ecs-svc/4219472910386652371 completed.',
      lastDeploymentMinutesAgo: 95,
      deploymentCount: 1,
      events: web.events,
    });
    expect(web.events).toHaveLength(5);
    expect(web.events[0]).toEqual({
      createdAt: '2026-11-25T10:00:00.000Z',
      message: expect.stringContaining('unable to place a task'),
    });
    expect(ecs.commandCalls(DescribeServicesCommand)[0]?.args[0].input).toEqual({
      cluster: 'storefront',
      services: ['storefront-web', 'storefront-worker'],
    });
  });

  it('reports the rollout of the PRIMARY deployment while one is in progress', async () => {
    ecs.on(DescribeServicesCommand).resolves({
      services: [
        service('storefront-web', {
          deployments: [
            {
              id: 'ecs-svc/9990001112223334445',
              status: 'PRIMARY',
              taskDefinition: TASK_DEF_42,
              createdAt: minutesAgo(7),
              rolloutState: 'IN_PROGRESS',
              rolloutStateReason: 'ECS deployment ecs-svc/9990001112223334445 in progress.',
            },
            {
              id: 'ecs-svc/4219472910386652371',
              status: 'ACTIVE',
              taskDefinition: TASK_DEF_41,
              createdAt: minutesAgo(2_000),
              rolloutState: 'COMPLETED',
            },
          ],
        }),
      ],
    });

    const output = (await tools.run('ecs.describe-services', {
      cluster: 'storefront',
      services: ['storefront-web'],
    })) as {
      services: Array<{ rolloutState: string; lastDeploymentMinutesAgo: number; deploymentCount: number }>;
    };

    expect(output.services[0]).toMatchObject({
      rolloutState: 'IN_PROGRESS',
      lastDeploymentMinutesAgo: 7,
      deploymentCount: 2,
    });
  });

  it('is NotFound naming a service ECS reports MISSING', async () => {
    ecs.on(DescribeServicesCommand).resolves({
      services: [service('storefront-web')],
      failures: [
        { arn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/storefront/storefront-wrker`, reason: 'MISSING' },
      ],
    });

    const error = await rejectionOf(
      tools.run('ecs.describe-services', {
        cluster: 'storefront',
        services: ['storefront-web', 'storefront-wrker'],
      }),
    );

    expect(error.name).toBe('Tool.NotFound');
    expect(error.message).toContain(
      'ECS service storefront-wrker not found in cluster storefront in eu-west-1',
    );
    expect(error.message).toContain('MISSING');
  });

  it('maps a missing cluster, throttling and access denied', async () => {
    const cases = [
      [
        new ClusterNotFoundException({ message: 'Cluster not found.', $metadata: {} }),
        'Tool.NotFound',
        'not found in eu-west-1',
      ],
      [awsError('ThrottlingException', 'Rate exceeded'), 'Tool.Throttled', 'was throttled'],
      [
        new AccessDeniedException({
          message: 'not authorized to perform: ecs:DescribeServices',
          $metadata: {},
        }),
        'Tool.AccessDenied',
        'needs ecs:DescribeServices',
      ],
    ] as const;
    for (const [thrown, name, message] of cases) {
      ecs.reset();
      ecs.on(DescribeServicesCommand).rejects(thrown);

      const error = await rejectionOf(
        tools.run('ecs.describe-services', { cluster: 'storefront', services: ['storefront-web'] }),
      );

      expect(error.name).toBe(name);
      expect(error.message).toContain(message);
      expect(error.message).toContain('services storefront-web in cluster storefront');
    }
  });
});

describe('ecs.force-new-deployment', () => {
  beforeEach(() => ecs.reset());

  it('starts a new deployment of the same task definition', async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [service('storefront-web')] });
    ecs.on(UpdateServiceCommand).resolves({
      service: service('storefront-web', {
        deployments: [
          {
            id: 'ecs-svc/7373737373737373737',
            status: 'PRIMARY',
            taskDefinition: TASK_DEF_42,
            desiredCount: 0,
            createdAt: NOW,
            rolloutState: 'IN_PROGRESS',
          },
          {
            id: 'ecs-svc/4219472910386652371',
            status: 'ACTIVE',
            taskDefinition: TASK_DEF_42,
            createdAt: minutesAgo(95),
          },
        ],
      }),
    });

    const output = await tools.run('ecs.force-new-deployment', {
      cluster: 'storefront',
      service: 'storefront-web',
    });

    expect(output).toEqual({
      cluster: 'storefront',
      service: 'storefront-web',
      deploymentId: 'ecs-svc/7373737373737373737',
      previousTaskDefinition: TASK_DEF_42,
      taskDefinition: TASK_DEF_42,
      dryRun: false,
    });
    expect(ecs.commandCalls(UpdateServiceCommand)[0]?.args[0].input).toEqual({
      cluster: 'storefront',
      service: 'storefront-web',
      forceNewDeployment: true,
    });
  });

  it('dry run describes the service and starts nothing', async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [service('storefront-web')] });

    const output = await tools.run(
      'ecs.force-new-deployment',
      { cluster: 'storefront', service: 'storefront-web' },
      testContext({ dryRun: true }),
    );

    expect(output).toEqual({
      cluster: 'storefront',
      service: 'storefront-web',
      deploymentId: null,
      previousTaskDefinition: TASK_DEF_42,
      taskDefinition: TASK_DEF_42,
      dryRun: true,
    });
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('refuses a service deployed by CodeDeploy, and a draining one', async () => {
    ecs.on(DescribeServicesCommand).resolves({
      services: [service('storefront-web', { deploymentController: { type: 'CODE_DEPLOY' } })],
    });
    const codeDeploy = await rejectionOf(
      tools.run('ecs.force-new-deployment', { cluster: 'storefront', service: 'storefront-web' }),
    );
    expect(codeDeploy.name).toBe('Tool.Refused');
    expect(codeDeploy.message).toContain('deployed by CODE_DEPLOY');

    ecs.reset();
    ecs
      .on(DescribeServicesCommand)
      .resolves({ services: [service('storefront-web', { status: 'DRAINING' })] });
    const draining = await rejectionOf(
      tools.run('ecs.force-new-deployment', { cluster: 'storefront', service: 'storefront-web' }),
    );
    expect(draining.name).toBe('Tool.Refused');
    expect(draining.message).toContain('is DRAINING, not ACTIVE');
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('maps a missing service, throttling and access denied on UpdateService', async () => {
    ecs.on(DescribeServicesCommand).resolves({
      services: [],
      failures: [
        { arn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/storefront/storefront-web`, reason: 'MISSING' },
      ],
    });
    expect(
      (
        await rejectionOf(
          tools.run('ecs.force-new-deployment', { cluster: 'storefront', service: 'storefront-web' }),
        )
      ).name,
    ).toBe('Tool.NotFound');

    ecs.reset();
    ecs.on(DescribeServicesCommand).resolves({ services: [service('storefront-web')] });
    ecs.on(UpdateServiceCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    expect(
      (
        await rejectionOf(
          tools.run('ecs.force-new-deployment', { cluster: 'storefront', service: 'storefront-web' }),
        )
      ).name,
    ).toBe('Tool.Throttled');

    ecs
      .on(UpdateServiceCommand)
      .rejects(
        new AccessDeniedException({ message: 'not authorized to perform: ecs:UpdateService', $metadata: {} }),
      );
    const denied = await rejectionOf(
      tools.run('ecs.force-new-deployment', { cluster: 'storefront', service: 'storefront-web' }),
    );
    expect(denied.name).toBe('Tool.AccessDenied');
    expect(denied.message).toContain('needs ecs:UpdateService');
  });
});

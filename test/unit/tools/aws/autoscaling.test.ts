import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  ResourceContentionFault,
  ScalingActivityInProgressFault,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { awsError, awsToolset, rejectionOf, testContext } from './tool-context.ts';

const autoScaling = mockClient(AutoScalingClient);
const tools = awsToolset();

const GROUP = 'storefront-ecs-capacity';

function capacityGroup(desired: number): AutoScalingGroup {
  return {
    AutoScalingGroupName: GROUP,
    AutoScalingGroupARN: `arn:aws:autoscaling:eu-west-1:333333333333:autoScalingGroup:5d4f1c7a-2b8e-4f9a-9d3c-6e1a7b2c8d90:autoScalingGroupName/${GROUP}`,
    MinSize: 2,
    MaxSize: 10,
    DesiredCapacity: desired,
    DefaultCooldown: 300,
    AvailabilityZones: ['eu-west-1a', 'eu-west-1b'],
    HealthCheckType: 'EC2',
    HealthCheckGracePeriod: 300,
    CreatedTime: new Date('2025-03-02T12:00:00.000Z'),
    Instances: Array.from({ length: desired }, (_, index) => ({
      InstanceId: `i-0${(index + 10).toString(16).padStart(16, 'a')}`,
      InstanceType: 'm6i.large',
      AvailabilityZone: index % 2 === 0 ? 'eu-west-1a' : 'eu-west-1b',
      LifecycleState: index === desired - 1 ? ('Pending' as const) : ('InService' as const),
      HealthStatus: 'Healthy',
      ProtectedFromScaleIn: false,
      LaunchTemplate: {
        LaunchTemplateId: 'lt-0a1b2c3d4e5f60718',
        LaunchTemplateName: 'storefront-ecs',
        Version: '7',
      },
    })),
  };
}

/** A group whose desired capacity SetDesiredCapacity changes, as AWS would. */
function statefulGroup(initial: number): { desired: () => number } {
  let desired = initial;
  autoScaling
    .on(DescribeAutoScalingGroupsCommand)
    .callsFake(() => ({ AutoScalingGroups: [capacityGroup(desired)] }));
  autoScaling.on(SetDesiredCapacityCommand).callsFake((input: { DesiredCapacity: number }) => {
    desired = input.DesiredCapacity;
    return {};
  });
  return { desired: () => desired };
}

describe('autoscaling.describe-group', () => {
  beforeEach(() => autoScaling.reset());

  it('reads capacity, size limits and the instances with their health', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [capacityGroup(3)] });

    const output = await tools.run('autoscaling.describe-group', { groupName: GROUP });

    expect(output).toEqual({
      groupName: GROUP,
      desiredCapacity: 3,
      minSize: 2,
      maxSize: 10,
      healthyInServiceCount: 2,
      instanceCount: 3,
      instances: [
        {
          instanceId: 'i-0aaaaaaaaaaaaaaaa',
          lifecycleState: 'InService',
          healthStatus: 'Healthy',
          availabilityZone: 'eu-west-1a',
        },
        {
          instanceId: 'i-0aaaaaaaaaaaaaaab',
          lifecycleState: 'InService',
          healthStatus: 'Healthy',
          availabilityZone: 'eu-west-1b',
        },
        {
          instanceId: 'i-0aaaaaaaaaaaaaaac',
          lifecycleState: 'Pending',
          healthStatus: 'Healthy',
          availabilityZone: 'eu-west-1a',
        },
      ],
    });
    expect(autoScaling.commandCalls(DescribeAutoScalingGroupsCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupNames: [GROUP],
    });
  });

  it('is NotFound when the group does not exist (AWS answers an empty list)', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });

    const error = await rejectionOf(
      tools.run('autoscaling.describe-group', { groupName: 'storefront-ecs-capcity' }),
    );

    expect(error.name).toBe('Tool.NotFound');
    expect(error.message).toBe(
      'autoscaling.describe-group: Auto Scaling group storefront-ecs-capcity not found in eu-west-1; check the name and the region',
    );
  });

  it('maps throttling and access denied', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    expect((await rejectionOf(tools.run('autoscaling.describe-group', { groupName: GROUP }))).name).toBe(
      'Tool.Throttled',
    );

    autoScaling.reset();
    autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .rejects(
        awsError('AccessDenied', 'not authorized to perform: autoscaling:DescribeAutoScalingGroups', 403),
      );
    const denied = await rejectionOf(tools.run('autoscaling.describe-group', { groupName: GROUP }));
    expect(denied.name).toBe('Tool.AccessDenied');
    expect(denied.message).toContain('needs autoscaling:DescribeAutoScalingGroups');
  });
});

describe('autoscaling.set-desired-capacity', () => {
  beforeEach(() => autoScaling.reset());

  it('sets the capacity and returns the previous one; the declared inverse restores it', async () => {
    // Prepare
    const group = statefulGroup(4);
    const parameters = { groupName: GROUP, desiredCapacity: 8, honorCooldown: false, region: 'eu-west-1' };

    // Act: scale out, then undo as a compensation would.
    const output = await tools.run('autoscaling.set-desired-capacity', parameters);
    const afterScaleOut = group.desired();
    const inverse = await tools.runInverse('autoscaling.set-desired-capacity', { parameters, output });

    // Assess
    expect(output).toEqual({
      groupName: GROUP,
      previousDesiredCapacity: 4,
      desiredCapacity: 8,
      minSize: 2,
      maxSize: 10,
      dryRun: false,
    });
    expect(afterScaleOut).toBe(8);
    expect(inverse.tool).toBe('autoscaling.set-desired-capacity');
    expect(inverse.parameters).toEqual({ groupName: GROUP, desiredCapacity: 4, region: 'eu-west-1' });
    expect(inverse.output).toMatchObject({ previousDesiredCapacity: 8, desiredCapacity: 4 });
    expect(group.desired()).toBe(4);
    expect(autoScaling.commandCalls(SetDesiredCapacityCommand).map((call) => call.args[0].input)).toEqual([
      { AutoScalingGroupName: GROUP, DesiredCapacity: 8, HonorCooldown: false },
      { AutoScalingGroupName: GROUP, DesiredCapacity: 4, HonorCooldown: false },
    ]);
  });

  it('counts what it would touch before it runs: the capacity delta, read from the group', async () => {
    // Prepare
    statefulGroup(4);
    const tool = tools.tools.get('autoscaling.set-desired-capacity')!;

    // Act
    const counted = await tool.countTouched!(
      tool.declaration.parameters.parse({ groupName: GROUP, desiredCapacity: 8 }) as Record<string, unknown>,
      testContext(),
    );

    // Assess
    expect(counted).toEqual({ count: 4, how: `Auto Scaling group ${GROUP} from 4 to 8 instances` });
    expect(autoScaling.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
  });

  it('dry run reads the group and returns the change without making it', async () => {
    const group = statefulGroup(4);

    const output = await tools.run(
      'autoscaling.set-desired-capacity',
      { groupName: GROUP, desiredCapacity: 8 },
      testContext({ dryRun: true }),
    );

    expect(output).toMatchObject({ previousDesiredCapacity: 4, desiredCapacity: 8, dryRun: true });
    expect(autoScaling.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
    expect(group.desired()).toBe(4);
  });

  it('refuses a capacity outside the group’s size limits', async () => {
    statefulGroup(4);

    const error = await rejectionOf(
      tools.run('autoscaling.set-desired-capacity', { groupName: GROUP, desiredCapacity: 12 }),
    );

    expect(error.name).toBe('Tool.Refused');
    expect(error.message).toContain(
      `desired capacity 12 is outside the limits of Auto Scaling group ${GROUP} (min 2, max 10)`,
    );
    expect(autoScaling.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
  });

  it('maps a busy group to Throttled, a cooldown to Refused, and a missing group to NotFound', async () => {
    statefulGroup(4);
    autoScaling.on(SetDesiredCapacityCommand).rejects(
      new ResourceContentionFault({
        message: 'You already have a pending update to an Auto Scaling resource',
        $metadata: {},
      }),
    );
    const busy = await rejectionOf(
      tools.run('autoscaling.set-desired-capacity', { groupName: GROUP, desiredCapacity: 8 }),
    );
    expect(busy.name).toBe('Tool.Throttled');
    expect(busy.message).toContain(
      'autoscaling.set-desired-capacity: SetDesiredCapacity for Auto Scaling group',
    );

    autoScaling.on(SetDesiredCapacityCommand).rejects(
      new ScalingActivityInProgressFault({
        message: 'Scaling activity is in progress and blocks this action',
        $metadata: {},
      }),
    );
    const cooling = await rejectionOf(
      tools.run('autoscaling.set-desired-capacity', {
        groupName: GROUP,
        desiredCapacity: 8,
        honorCooldown: true,
      }),
    );
    expect(cooling.name).toBe('Tool.Refused');

    autoScaling.reset();
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    const missing = await rejectionOf(
      tools.run('autoscaling.set-desired-capacity', { groupName: GROUP, desiredCapacity: 8 }),
    );
    expect(missing.name).toBe('Tool.NotFound');
    expect(autoScaling.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
  });
});

import {
  AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type {
  DescribeInstancesOutput,
  SetInstanceHealthOutput,
} from '../../../../functions/tools/declarations/aws/ec2.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { awsError, awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const ec2 = mockClient(EC2Client);
const autoScaling = mockClient(AutoScalingClient);
const tools = awsToolset();

const WEB_1 = 'i-0a1b2c3d4e5f60718';
const WEB_2 = 'i-0b2c3d4e5f6071829';

function instance(id: string, overrides: Partial<Instance> = {}): Instance {
  return {
    InstanceId: id,
    InstanceType: 'm7g.large',
    ImageId: 'ami-0c1d2e3f4a5b6c7d8',
    LaunchTime: new Date(NOW.getTime() - 3 * 86_400_000),
    Placement: { AvailabilityZone: 'eu-west-1a', Tenancy: 'default' },
    PrivateIpAddress: '10.0.1.23',
    State: { Code: 16, Name: 'running' },
    Tags: [
      { Key: 'Name', Value: 'shop-web' },
      { Key: 'aws:autoscaling:groupName', Value: 'shop-web-asg' },
      { Key: 'runbook-autopilot.io/maxReplicas', Value: '12' },
    ],
    ...overrides,
  };
}

beforeEach(() => {
  ec2.reset();
  autoScaling.reset();
});

describe('ec2.describe-instances', () => {
  it('reads instances across reservations and pages, in the order asked, with their Auto Scaling group', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({
        Reservations: [{ ReservationId: 'r-1', Instances: [instance(WEB_2)] }],
        NextToken: 'next',
      })
      .resolvesOnce({
        Reservations: [
          {
            ReservationId: 'r-2',
            Instances: [
              instance(WEB_1, {
                State: { Code: 80, Name: 'stopped' },
                StateReason: {
                  Code: 'Server.SpotInstanceTermination',
                  Message: 'Server.SpotInstanceTermination: Spot instance termination',
                },
                Tags: [{ Key: 'Name', Value: 'batch' }],
              }),
            ],
          },
        ],
      });

    const output = (await tools.run('ec2.describe-instances', {
      instanceIds: [WEB_1, WEB_2],
    })) as DescribeInstancesOutput;

    expect(ec2.commandCalls(DescribeInstancesCommand)[1]?.args[0].input).toEqual({
      InstanceIds: [WEB_1, WEB_2],
      NextToken: 'next',
    });
    expect(output.instances).toEqual([
      {
        instanceId: WEB_1,
        state: 'stopped',
        stateReason: 'Server.SpotInstanceTermination: Spot instance termination',
        instanceType: 'm7g.large',
        launchTime: new Date(NOW.getTime() - 3 * 86_400_000).toISOString(),
        availabilityZone: 'eu-west-1a',
        privateIpAddress: '10.0.1.23',
        imageId: 'ami-0c1d2e3f4a5b6c7d8',
        autoScalingGroup: null,
        tags: { Name: 'batch' },
      },
      expect.objectContaining({ instanceId: WEB_2, state: 'running', autoScalingGroup: 'shop-web-asg' }),
    ]);
  });

  it('is NotFound for an unknown instance (EC2 answers with an error)', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .rejects(awsError('InvalidInstanceID.NotFound', `The instance ID '${WEB_1}' does not exist`));
    const error = await rejectionOf(tools.run('ec2.describe-instances', { instanceIds: [WEB_1] }));
    expect(error.name).toBe('Tool.NotFound');
  });
});

describe('autoscaling.set-instance-health', () => {
  const member = (overrides: Record<string, string> = {}) => ({
    AutoScalingInstances: [
      {
        InstanceId: WEB_1,
        InstanceType: 'm7g.large',
        AutoScalingGroupName: 'shop-web-asg',
        AvailabilityZone: 'eu-west-1a',
        LifecycleState: 'InService',
        HealthStatus: 'HEALTHY',
        LaunchTemplate: { LaunchTemplateId: 'lt-0abc', LaunchTemplateName: 'shop-web', Version: '7' },
        ProtectedFromScaleIn: false,
        ...overrides,
      },
    ],
  });

  it('marks an in-service instance Unhealthy so its group replaces it', async () => {
    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(member());
    autoScaling.on(SetInstanceHealthCommand).resolves({});

    const output = (await tools.run('autoscaling.set-instance-health', {
      instanceId: WEB_1,
    })) as SetInstanceHealthOutput;

    expect(autoScaling.commandCalls(SetInstanceHealthCommand)[0]?.args[0].input).toEqual({
      InstanceId: WEB_1,
      HealthStatus: 'Unhealthy',
      ShouldRespectGracePeriod: true,
    });
    expect(output).toEqual({
      instanceId: WEB_1,
      autoScalingGroup: 'shop-web-asg',
      lifecycleState: 'InService',
      previousHealthStatus: 'HEALTHY',
      healthStatus: 'Unhealthy',
      unchanged: false,
      dryRun: false,
    });
    expect(TOOL_CATALOG.get('autoscaling.set-instance-health')).toMatchObject({ risk: 'high' });
    expect(TOOL_CATALOG.get('autoscaling.set-instance-health')?.compensation).toBeUndefined();
  });

  it('refuses an instance outside a group, and one that is not in service', async () => {
    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    const alone = await rejectionOf(tools.run('autoscaling.set-instance-health', { instanceId: WEB_1 }));
    expect(alone.name).toBe('Tool.Refused');
    expect(alone.message).toContain('is not in an Auto Scaling group');

    autoScaling
      .on(DescribeAutoScalingInstancesCommand)
      .resolves(member({ LifecycleState: 'Terminating:Wait' }));
    const leaving = await rejectionOf(tools.run('autoscaling.set-instance-health', { instanceId: WEB_1 }));
    expect(leaving.name).toBe('Tool.Refused');
    expect(leaving.message).toContain('is Terminating:Wait, not InService');
    expect(autoScaling.commandCalls(SetInstanceHealthCommand)).toHaveLength(0);
  });

  it('dry run marks nothing; an instance already unhealthy is left as it is', async () => {
    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(member());
    const dry = (await tools.run(
      'autoscaling.set-instance-health',
      { instanceId: WEB_1 },
      testContext({ dryRun: true }),
    )) as SetInstanceHealthOutput;
    expect(dry).toMatchObject({ dryRun: true, unchanged: false });

    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(member({ HealthStatus: 'UNHEALTHY' }));
    const already = (await tools.run('autoscaling.set-instance-health', {
      instanceId: WEB_1,
    })) as SetInstanceHealthOutput;
    expect(already).toMatchObject({ previousHealthStatus: 'UNHEALTHY', unchanged: true });
    expect(autoScaling.commandCalls(SetInstanceHealthCommand)).toHaveLength(0);
  });

  it('maps contention with another update of the group as Throttled', async () => {
    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(member());
    autoScaling
      .on(SetInstanceHealthCommand)
      .rejects(
        awsError('ResourceContention', 'You already have a pending update to an Auto Scaling resource.', 500),
      );
    expect(
      (await rejectionOf(tools.run('autoscaling.set-instance-health', { instanceId: WEB_1 }))).name,
    ).toBe('Tool.Throttled');
  });
});

import {
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetDesiredCapacityCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type { SetInstanceHealthOutput } from '../declarations/aws/ec2.ts';
import type { DescribeGroupOutput, SetDesiredCapacityOutput } from '../declarations/aws.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind, withPreRead } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';

/** Instances listed in the output; counts cover all of them. */
export const MAX_OUTPUT_INSTANCES = 100;

async function describeGroup(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  groupName: string,
  region: string | undefined,
): Promise<AutoScalingGroup> {
  const response = await callAws(
    {
      tool,
      action: 'autoscaling:DescribeAutoScalingGroups',
      resource: `Auto Scaling group ${groupName}`,
      region,
    },
    context,
    (abortSignal) =>
      deps.clients
        .autoScaling(region)
        .send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }), { abortSignal }),
  );
  const group = response.AutoScalingGroups?.find((candidate) => candidate.AutoScalingGroupName === groupName);
  if (!group) {
    throw new ToolError(
      ToolErrorKind.NotFound,
      `${tool}: Auto Scaling group ${groupName} not found in ${region ?? 'the default region'}; check the name and the region`,
      { data: { groupName } },
    );
  }
  return group;
}

function groupOutput(group: AutoScalingGroup, groupName: string): DescribeGroupOutput {
  const instances = group.Instances ?? [];
  return {
    groupName,
    desiredCapacity: group.DesiredCapacity ?? 0,
    minSize: group.MinSize ?? 0,
    maxSize: group.MaxSize ?? 0,
    healthyInServiceCount: instances.filter(
      (instance) => instance.LifecycleState === 'InService' && instance.HealthStatus === 'Healthy',
    ).length,
    instanceCount: instances.length,
    instances: instances.slice(0, MAX_OUTPUT_INSTANCES).map((instance) => ({
      instanceId: instance.InstanceId ?? 'unknown',
      lifecycleState: instance.LifecycleState ?? 'unknown',
      healthStatus: instance.HealthStatus ?? 'unknown',
      availabilityZone: instance.AvailabilityZone ?? null,
    })),
  };
}

export function describeGroupTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('autoscaling.describe-group');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const group = await describeGroup(deps, context, declaration.name, parameters.groupName, region);
    return groupOutput(group, parameters.groupName);
  });
}

export function setDesiredCapacityTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('autoscaling.set-desired-capacity');
  const tool = defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { groupName, desiredCapacity, honorCooldown } = parameters;
    const group = await describeGroup(deps, context, declaration.name, groupName, region);
    const { desiredCapacity: previous, minSize, maxSize } = groupOutput(group, groupName);
    if (desiredCapacity < minSize || desiredCapacity > maxSize) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: desired capacity ${desiredCapacity} is outside the limits of Auto Scaling group ${groupName} (min ${minSize}, max ${maxSize}) in ${region ?? 'the default region'}; ask for a value within them or change the group's size limits first`,
        { data: { groupName, desiredCapacity, minSize, maxSize } },
      );
    }
    const output: SetDesiredCapacityOutput = {
      groupName,
      previousDesiredCapacity: previous,
      desiredCapacity,
      minSize,
      maxSize,
      dryRun: context.dryRun,
    };
    if (context.dryRun) return output;

    await callAws(
      {
        tool: declaration.name,
        action: 'autoscaling:SetDesiredCapacity',
        resource: `Auto Scaling group ${groupName}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients.autoScaling(region).send(
          new SetDesiredCapacityCommand({
            AutoScalingGroupName: groupName,
            DesiredCapacity: desiredCapacity,
            HonorCooldown: honorCooldown,
          }),
          { abortSignal },
        ),
    );
    context.log('set desired capacity', { groupName, previousDesiredCapacity: previous, desiredCapacity });
    return output;
  });
  return withPreRead(tool, declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const group = await describeGroup(deps, context, declaration.name, parameters.groupName, region);
    const previous = groupOutput(group, parameters.groupName).desiredCapacity;
    return {
      count: Math.abs(parameters.desiredCapacity - previous),
      how: `Auto Scaling group ${parameters.groupName} from ${previous} to ${parameters.desiredCapacity} instances`,
    };
  });
}

export function setInstanceHealthTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('autoscaling.set-instance-health');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { instanceId, respectGracePeriod } = parameters;
    const response = await callAws(
      {
        tool: declaration.name,
        action: 'autoscaling:DescribeAutoScalingInstances',
        resource: `instance ${instanceId}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients
          .autoScaling(region)
          .send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }), { abortSignal }),
    );
    const member = response.AutoScalingInstances?.find((candidate) => candidate.InstanceId === instanceId);
    if (!member?.AutoScalingGroupName) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: instance ${instanceId} is not in an Auto Scaling group in ${region ?? 'the default region'}; nothing would replace it, so it is not marked unhealthy`,
        { data: { instanceId } },
      );
    }
    const lifecycleState = member.LifecycleState ?? 'unknown';
    if (lifecycleState !== 'InService') {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: instance ${instanceId} of Auto Scaling group ${member.AutoScalingGroupName} is ${lifecycleState}, not InService; the group replaces only in-service instances`,
        { data: { instanceId, lifecycleState } },
      );
    }
    // DescribeAutoScalingInstances reports HEALTHY/UNHEALTHY, DescribeAutoScalingGroups Healthy/Unhealthy.
    const previous = member.HealthStatus ?? 'unknown';
    const output: SetInstanceHealthOutput = {
      instanceId,
      autoScalingGroup: member.AutoScalingGroupName,
      lifecycleState,
      previousHealthStatus: previous,
      healthStatus: 'Unhealthy',
      unchanged: previous.toLowerCase() === 'unhealthy',
      dryRun: context.dryRun,
    };
    if (context.dryRun || output.unchanged) return output;
    await callAws(
      {
        tool: declaration.name,
        action: 'autoscaling:SetInstanceHealth',
        resource: `instance ${instanceId} of Auto Scaling group ${member.AutoScalingGroupName}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients.autoScaling(region).send(
          new SetInstanceHealthCommand({
            InstanceId: instanceId,
            HealthStatus: 'Unhealthy',
            ShouldRespectGracePeriod: respectGracePeriod,
          }),
          { abortSignal },
        ),
    );
    context.log('marked instance unhealthy', { instanceId, group: member.AutoScalingGroupName });
    return output;
  });
}

export type { SetInstanceHealthOutput } from '../declarations/aws/ec2.ts';
export type {
  DescribeGroupOutput,
  GroupInstanceOutput,
  SetDesiredCapacityOutput,
} from '../declarations/aws.ts';

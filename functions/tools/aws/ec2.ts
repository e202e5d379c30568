import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  type Instance,
  type InstanceStatus,
  type InstanceStatusEvent,
  RebootInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { DescribeInstancesOutput, InstanceOutput } from '../declarations/aws/ec2.ts';
import type {
  DescribeInstanceStatusOutput,
  InstanceStatusOutput,
  RebootInstancesOutput,
} from '../declarations/aws.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { type AwsCallSite, awsErrorCode, callAws } from './errors.ts';
import { isoOrNull, keepHead, listForMessage } from './output.ts';

/** Scheduled events AWS has finished or called off stay listed for days with this prefix: not pending. */
const SETTLED_EVENT = /^\[(Completed|Canceled|Cancelled)\]/i;

function pendingEvents(events: InstanceStatusEvent[] | undefined): InstanceStatusOutput['events'] {
  return (events ?? [])
    .filter((event) => !SETTLED_EVENT.test(event.Description ?? ''))
    .map((event) => ({
      code: event.Code ?? 'unknown',
      description: keepHead(event.Description ?? '', 300),
      notBefore: isoOrNull(event.NotBefore),
    }));
}

function instanceStatusOf(status: InstanceStatus, instanceId: string): InstanceStatusOutput {
  return {
    instanceId,
    state: status.InstanceState?.Name ?? 'unknown',
    availabilityZone: status.AvailabilityZone ?? null,
    systemStatus: status.SystemStatus?.Status ?? 'not-applicable',
    instanceStatus: status.InstanceStatus?.Status ?? 'not-applicable',
    attachedEbsStatus: status.AttachedEbsStatus?.Status ?? 'not-applicable',
    events: pendingEvents(status.Events),
  };
}

export function describeInstanceStatusTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('ec2.describe-instance-status');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const client = deps.clients.ec2(region);
    const site: AwsCallSite = {
      tool: declaration.name,
      action: 'ec2:DescribeInstanceStatus',
      resource: `instances ${listForMessage(parameters.instanceIds)}`,
      region,
    };
    const found = new Map<string, InstanceStatus>();
    let nextToken: string | undefined;
    do {
      const page = await callAws(site, context, (abortSignal) =>
        client.send(
          new DescribeInstanceStatusCommand({
            InstanceIds: parameters.instanceIds,
            // Without it, only running instances are listed and a stopped one would look missing.
            IncludeAllInstances: true,
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
      );
      for (const status of page.InstanceStatuses ?? []) {
        if (status.InstanceId) found.set(status.InstanceId, status);
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);

    const missing = parameters.instanceIds.filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw new ToolError(
        ToolErrorKind.NotFound,
        `${declaration.name}: DescribeInstanceStatus returned no status for ${listForMessage(missing)} in ${region ?? 'the default region'}; check the instance ids and the region`,
        { data: { missing } },
      );
    }
    const output: DescribeInstanceStatusOutput = {
      instances: parameters.instanceIds.map((id) => instanceStatusOf(found.get(id)!, id)),
    };
    return output;
  });
}

export function rebootInstancesTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('ec2.reboot-instances');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const client = deps.clients.ec2(region);
    const site: AwsCallSite = {
      tool: declaration.name,
      action: 'ec2:RebootInstances',
      resource: `instances ${listForMessage(parameters.instanceIds)}`,
      region,
    };
    await callAws(site, context, async (abortSignal) => {
      try {
        await client.send(
          new RebootInstancesCommand({ InstanceIds: parameters.instanceIds, DryRun: context.dryRun }),
          { abortSignal },
        );
      } catch (error) {
        // With DryRun=true, EC2 answers "would have succeeded" as this error; anything else is real.
        if (context.dryRun && awsErrorCode(error) === 'DryRunOperation') return;
        throw error;
      }
      if (context.dryRun) {
        throw new ToolError(
          ToolErrorKind.Failed,
          `${declaration.name}: RebootInstances with DryRun=true for ${site.resource} answered without DryRunOperation; not knowing what happened, the step stops here`,
        );
      }
    });
    context.log(context.dryRun ? 'reboot would succeed (dry run)' : 'rebooted instances', {
      instanceIds: parameters.instanceIds,
    });
    const output: RebootInstancesOutput = {
      instanceIds: parameters.instanceIds,
      rebooted: !context.dryRun,
      dryRun: context.dryRun,
    };
    return output;
  });
}

/** The tag EC2 Auto Scaling puts on the instances it launches. */
export const AUTOSCALING_GROUP_TAG = 'aws:autoscaling:groupName';
/** EC2 allows 50 tags per resource: a full set fits. */
const MAX_TAGS = 50;

export function tagsOf(
  tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined,
): Record<string, string> {
  return Object.fromEntries(
    (tags ?? [])
      .filter((tag) => tag.Key !== undefined)
      .slice(0, MAX_TAGS)
      .map((tag) => [tag.Key!, tag.Value ?? '']),
  );
}

function instanceOutput(instance: Instance, instanceId: string): InstanceOutput {
  const tags = tagsOf(instance.Tags);
  return {
    instanceId,
    state: instance.State?.Name ?? 'unknown',
    stateReason: instance.StateReason?.Message ?? instance.StateTransitionReason ?? null,
    instanceType: instance.InstanceType ?? null,
    launchTime: isoOrNull(instance.LaunchTime),
    availabilityZone: instance.Placement?.AvailabilityZone ?? null,
    privateIpAddress: instance.PrivateIpAddress ?? null,
    imageId: instance.ImageId ?? null,
    autoScalingGroup: tags[AUTOSCALING_GROUP_TAG] ?? null,
    tags,
  };
}

export function describeInstancesTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('ec2.describe-instances');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const client = deps.clients.ec2(region);
    const site: AwsCallSite = {
      tool: declaration.name,
      action: 'ec2:DescribeInstances',
      resource: `instances ${listForMessage(parameters.instanceIds)}`,
      region,
    };
    const found = new Map<string, Instance>();
    let nextToken: string | undefined;
    do {
      const page = await callAws(site, context, (abortSignal) =>
        client.send(
          new DescribeInstancesCommand({ InstanceIds: parameters.instanceIds, NextToken: nextToken }),
          {
            abortSignal,
          },
        ),
      );
      for (const reservation of page.Reservations ?? [])
        for (const instance of reservation.Instances ?? [])
          if (instance.InstanceId) found.set(instance.InstanceId, instance);
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    const missing = parameters.instanceIds.filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw new ToolError(
        ToolErrorKind.NotFound,
        `${declaration.name}: DescribeInstances returned nothing for ${listForMessage(missing)} in ${region ?? 'the default region'}; check the instance ids and the region`,
        { data: { missing } },
      );
    }
    const output: DescribeInstancesOutput = {
      instances: parameters.instanceIds.map((id) => instanceOutput(found.get(id)!, id)),
    };
    return output;
  });
}

export type { DescribeInstancesOutput, InstanceOutput } from '../declarations/aws/ec2.ts';
export type {
  DescribeInstanceStatusOutput,
  InstanceStatusOutput,
  RebootInstancesOutput,
} from '../declarations/aws.ts';

import * as z from 'zod';
import { touchesOne } from '../../../core/limits/blast-radius.ts';
import type { ToolDeclaration } from '../../../core/tool-catalog.ts';
import { awsRegion, dryRunFlag, instanceIds, isoTimestamp, stringMap } from '../shared.ts';

/** EC2 and Auto Scaling tools beyond status checks, reboots and group capacity (declarations/aws.ts). */

export const InstanceOutput = z.object({
  instanceId: z.string(),
  state: z.string().describe('pending, running, shutting-down, terminated, stopping, stopped'),
  stateReason: z.string().nullable().describe('why it is in that state, e.g. Server.SpotInstanceTermination'),
  instanceType: z.string().nullable(),
  launchTime: isoTimestamp,
  availabilityZone: z.string().nullable(),
  privateIpAddress: z.string().nullable(),
  imageId: z.string().nullable(),
  autoScalingGroup: z
    .string()
    .nullable()
    .describe('from the aws:autoscaling:groupName tag; null when not in a group'),
  tags: stringMap.describe('at most 50 (EC2’s own limit)'),
});
export type InstanceOutput = z.infer<typeof InstanceOutput>;

export const DescribeInstancesOutput = z.object({
  instances: z.array(InstanceOutput).describe('in the order the step named them'),
});
export type DescribeInstancesOutput = z.infer<typeof DescribeInstancesOutput>;

export const SetInstanceHealthOutput = z.object({
  instanceId: z.string(),
  autoScalingGroup: z.string(),
  lifecycleState: z.string(),
  previousHealthStatus: z.string().describe('HEALTHY or UNHEALTHY, as Auto Scaling reported it'),
  healthStatus: z.literal('Unhealthy'),
  unchanged: z.boolean().describe('true when Auto Scaling already had it as unhealthy'),
  dryRun: dryRunFlag,
});
export type SetInstanceHealthOutput = z.infer<typeof SetInstanceHealthOutput>;

const instanceId = z
  .string()
  .regex(/^i-[0-9a-f]{8,17}$/, 'must be an EC2 instance id such as i-0abc1234def567890');

export const EC2_TOOL_DECLARATIONS = [
  {
    name: 'ec2.describe-instances',
    description:
      'Reads EC2 instances: state and why, type, launch time, zone, private address, Auto Scaling group and tags.',
    parameters: z.object({ instanceIds, region: awsRegion }).strict(),
    output: DescribeInstancesOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the instances (read-only tools run for real in dry-run)',
    permissions: { iam: ['ec2:DescribeInstances'] },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

export const AUTOSCALING_TOOL_DECLARATIONS = [
  {
    name: 'autoscaling.set-instance-health',
    description:
      'Marks an in-service instance of an Auto Scaling group Unhealthy, so the group terminates and replaces it. Cannot be undone: runbooks put it behind an approval.',
    parameters: z
      .object({
        instanceId,
        respectGracePeriod: z
          .boolean()
          .default(true)
          .describe('leave an instance still in its health check grace period alone'),
        region: awsRegion,
      })
      .strict(),
    output: SetInstanceHealthOutput,
    mutating: true,
    blastRadius: touchesOne('instance'),
    risk: 'high',
    dryRun: 'reads the instance’s group and lifecycle state and returns what it would mark, changes nothing',
    onRepeat: {
      effect: 'no-op',
      how: 'an instance already marked Unhealthy is already being replaced: a repeat finds it terminating and marks nothing',
    },
    permissions: { iam: ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:SetInstanceHealth'] },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

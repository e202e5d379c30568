import * as z from 'zod';
import type { ToolDeclaration } from '../../../core/tool-catalog.ts';
import { awsRegion } from '../shared.ts';

/** Elastic Load Balancing v2 (ALB, NLB, GWLB) tools. */

export const TargetHealthEntry = z.object({
  id: z.string().describe('instance id, IP address, Lambda ARN or ALB ARN, by the group’s target type'),
  port: z.number().nullable(),
  availabilityZone: z.string().nullable(),
  state: z
    .string()
    .describe('initial, healthy, unhealthy, unhealthy.draining, unused, draining, unavailable'),
  reason: z
    .string()
    .nullable()
    .describe(
      'e.g. Target.ResponseCodeMismatch, Target.Timeout, Target.FailedHealthChecks, Elb.InitialHealthChecking',
    ),
  description: z.string().nullable(),
});
export type TargetHealthEntry = z.infer<typeof TargetHealthEntry>;

export const TargetHealthOutput = z.object({
  targetGroupArn: z.string(),
  targetGroupName: z.string(),
  targetType: z.string().describe('instance, ip, lambda or alb'),
  protocol: z.string().nullable(),
  port: z.number().nullable(),
  loadBalancerArns: z.array(z.string()).describe('the load balancers that route to the group'),
  healthCheck: z.object({
    protocol: z.string().nullable(),
    port: z.string().nullable().describe('a port number or traffic-port'),
    path: z.string().nullable(),
    intervalSeconds: z.number().nullable(),
    timeoutSeconds: z.number().nullable(),
    healthyThresholdCount: z.number().nullable(),
    unhealthyThresholdCount: z.number().nullable(),
    matcher: z.string().nullable().describe('the HTTP codes (or gRPC codes) that count as healthy'),
  }),
  targetCount: z.number(),
  healthyCount: z.number(),
  unhealthyCount: z.number().describe('unhealthy and unhealthy.draining'),
  stateCounts: z.record(z.string(), z.number()).describe('targets per state'),
  unhealthyTargetIds: z.array(z.string()).describe('the first 100'),
  targets: z.array(TargetHealthEntry).describe('unhealthy first, then the rest; the first 100'),
});
export type TargetHealthOutput = z.infer<typeof TargetHealthOutput>;

export const ELBV2_TOOL_DECLARATIONS = [
  {
    name: 'elbv2.target-health',
    description:
      'Reads the health of every target of a load balancer target group (DescribeTargetHealth) with the reason AWS gives, and the group’s health check and load balancers.',
    parameters: z
      .object({
        targetGroup: z
          .string()
          .min(1)
          .describe(
            'the target group’s ARN, its CloudWatch TargetGroup dimension (targetgroup/NAME/ID) or its name',
          ),
        region: awsRegion,
      })
      .strict(),
    output: TargetHealthOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the target health (read-only tools run for real in dry-run)',
    permissions: {
      iam: ['elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTargetHealth'],
    },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type TargetGroup,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type { TargetHealthEntry, TargetHealthOutput } from '../declarations/aws/elbv2.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { keepHead } from './output.ts';

/** Targets listed in the output; the counts cover all of them. */
export const MAX_OUTPUT_TARGETS = 100;

/**
 * How a step or an alarm names a target group: an ARN; the CloudWatch TargetGroup dimension
 * `targetgroup/NAME/ID` (the end of the ARN); or a bare name.
 */
export type TargetGroupReference =
  | { kind: 'arn'; arn: string }
  | { kind: 'dimension'; name: string; suffix: string }
  | { kind: 'name'; name: string };

export function targetGroupReference(text: string): TargetGroupReference {
  if (text.startsWith('arn:')) return { kind: 'arn', arn: text };
  const dimension = /^targetgroup\/([^/]+)\/([0-9a-f]+)$/.exec(text);
  if (dimension) return { kind: 'dimension', name: dimension[1]!, suffix: text };
  return { kind: 'name', name: text };
}

/** The target group a reference names; NotFound when ELB has none (or a same-named one with another id). */
export async function findTargetGroup(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  text: string,
  region: string | undefined,
): Promise<TargetGroup> {
  const reference = targetGroupReference(text);
  const input = reference.kind === 'arn' ? { TargetGroupArns: [reference.arn] } : { Names: [reference.name] };
  const response = await callAws(
    {
      tool,
      action: 'elasticloadbalancing:DescribeTargetGroups',
      resource: `target group ${text}`,
      region,
    },
    context,
    (abortSignal) => deps.clients.elbv2(region).send(new DescribeTargetGroupsCommand(input), { abortSignal }),
  );
  const groups = response.TargetGroups ?? [];
  const group =
    reference.kind === 'dimension'
      ? groups.find((candidate) => candidate.TargetGroupArn?.endsWith(`:${reference.suffix}`))
      : groups[0];
  if (!group?.TargetGroupArn) {
    throw new ToolError(
      ToolErrorKind.NotFound,
      `${tool}: target group ${text} not found in ${region ?? 'the default region'}${
        groups.length > 0 ? ` (a target group of that name has another id: ${groups[0]!.TargetGroupArn})` : ''
      }; check the name and the region`,
      { data: { targetGroup: text } },
    );
  }
  return group;
}

const UNHEALTHY = new Set(['unhealthy', 'unhealthy.draining']);

function entryOf(description: TargetHealthDescription): TargetHealthEntry {
  return {
    id: description.Target?.Id ?? 'unknown',
    port: description.Target?.Port ?? null,
    availabilityZone: description.Target?.AvailabilityZone ?? null,
    state: description.TargetHealth?.State ?? 'unknown',
    reason: description.TargetHealth?.Reason ?? null,
    description: description.TargetHealth?.Description
      ? keepHead(description.TargetHealth.Description, 300)
      : null,
  };
}

export async function targetHealthOf(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  targetGroupArn: string,
  region: string | undefined,
): Promise<TargetHealthDescription[]> {
  const response = await callAws(
    {
      tool,
      action: 'elasticloadbalancing:DescribeTargetHealth',
      resource: `target group ${targetGroupArn}`,
      region,
    },
    context,
    (abortSignal) =>
      deps.clients
        .elbv2(region)
        .send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }), { abortSignal }),
  );
  return response.TargetHealthDescriptions ?? [];
}

export function targetHealthTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('elbv2.target-health');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const group = await findTargetGroup(deps, context, declaration.name, parameters.targetGroup, region);
    const arn = group.TargetGroupArn!;
    const entries = (await targetHealthOf(deps, context, declaration.name, arn, region)).map(entryOf);
    const stateCounts: Record<string, number> = {};
    for (const entry of entries) stateCounts[entry.state] = (stateCounts[entry.state] ?? 0) + 1;
    const unhealthy = entries.filter((entry) => UNHEALTHY.has(entry.state));
    const rest = entries.filter((entry) => !UNHEALTHY.has(entry.state));
    const output: TargetHealthOutput = {
      targetGroupArn: arn,
      targetGroupName: group.TargetGroupName ?? parameters.targetGroup,
      targetType: group.TargetType ?? 'instance',
      protocol: group.Protocol ?? null,
      port: group.Port ?? null,
      loadBalancerArns: group.LoadBalancerArns ?? [],
      healthCheck: {
        protocol: group.HealthCheckProtocol ?? null,
        port: group.HealthCheckPort ?? null,
        path: group.HealthCheckPath ?? null,
        intervalSeconds: group.HealthCheckIntervalSeconds ?? null,
        timeoutSeconds: group.HealthCheckTimeoutSeconds ?? null,
        healthyThresholdCount: group.HealthyThresholdCount ?? null,
        unhealthyThresholdCount: group.UnhealthyThresholdCount ?? null,
        matcher: group.Matcher?.HttpCode ?? group.Matcher?.GrpcCode ?? null,
      },
      targetCount: entries.length,
      healthyCount: stateCounts.healthy ?? 0,
      unhealthyCount: unhealthy.length,
      stateCounts,
      unhealthyTargetIds: unhealthy.slice(0, MAX_OUTPUT_TARGETS).map((entry) => entry.id),
      targets: [...unhealthy, ...rest].slice(0, MAX_OUTPUT_TARGETS),
    };
    return output;
  });
}

export type { TargetHealthOutput } from '../declarations/aws/elbv2.ts';

import type { AwsAccount } from './account.ts';
import { CLUSTER, SERVICE } from './ecs.ts';
import { dateOf } from './ids.ts';
import { type AwsCall, AwsError, page, type ServiceDefinition } from './protocol.ts';

/**
 * Application Auto Scaling: the scalable target of the ECS service checkout (its desired count between
 * a minimum and a maximum) and its target-tracking policy. The policy is registered but not run here:
 * the simulated ECS service changes its desired count only when asked (a scenario may suspend dynamic
 * scaling, as it says in the target's SuspendedState).
 * API (AWS JSON 1.1): DescribeScalableTargets, DescribeScalingPolicies.
 */

export interface ScalableTargetModel {
  namespace: string;
  resourceId: string;
  dimension: string;
  min: number;
  max: number;
  createdAt: number;
  suspended: {
    DynamicScalingInSuspended: boolean;
    DynamicScalingOutSuspended: boolean;
    ScheduledScalingSuspended: boolean;
  };
  policy: { name: string; targetValue: number; metric: string };
}

const NAMESPACES = [
  'ecs',
  'elasticmapreduce',
  'ec2',
  'appstream',
  'dynamodb',
  'rds',
  'sagemaker',
  'custom-resource',
  'comprehend',
  'lambda',
  'cassandra',
  'kafka',
  'elasticache',
  'neptune',
  'workspaces',
];

export class ApplicationAutoScalingModel {
  readonly targets: ScalableTargetModel[] = [];

  constructor(account: AwsAccount) {
    this.targets.push({
      namespace: 'ecs',
      resourceId: `service/${CLUSTER}/${SERVICE}`,
      dimension: 'ecs:service:DesiredCount',
      min: 2,
      max: 12,
      createdAt: account.startedAt - 300 * 86_400,
      suspended: {
        DynamicScalingInSuspended: false,
        DynamicScalingOutSuspended: false,
        ScheduledScalingSuspended: false,
      },
      policy: {
        name: 'checkout-cpu-target-tracking',
        targetValue: 60,
        metric: 'ECSServiceAverageCPUUtilization',
      },
    });
  }

  target(resourceId: string): ScalableTargetModel | undefined {
    return this.targets.find((target) => target.resourceId === resourceId);
  }
}

function namespaceOf(input: Record<string, unknown>): string {
  const namespace = String(input.ServiceNamespace ?? '');
  if (!NAMESPACES.includes(namespace))
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value '${namespace}' at 'serviceNamespace' failed to satisfy constraint: Member must satisfy enum value set: [${NAMESPACES.join(', ')}]`,
    );
  return namespace;
}

export function applicationAutoScalingService(account: AwsAccount): ServiceDefinition {
  const model = account.applicationAutoScaling;
  const arnOf = (target: ScalableTargetModel) =>
    account.arn(
      'application-autoscaling',
      `scalable-target/0e${target.resourceId.length.toString(16).padStart(30, '0')}`,
    );
  return {
    name: 'application-autoscaling',
    protocol: 'json',
    jsonVersion: '1.1',
    target: 'AnyScaleFrontendService',
    handle(call: AwsCall) {
      const input = call.input;
      switch (call.operation) {
        case 'DescribeScalableTargets': {
          const namespace = namespaceOf(input);
          const ids = Array.isArray(input.ResourceIds) ? (input.ResourceIds as string[]) : undefined;
          const dimension =
            input.ScalableDimension === undefined ? undefined : String(input.ScalableDimension);
          const targets = model.targets.filter(
            (target) =>
              target.namespace === namespace &&
              (!ids || ids.includes(target.resourceId)) &&
              (!dimension || target.dimension === dimension),
          );
          const { items, next } = page(
            targets,
            input.NextToken as string | undefined,
            Number(input.MaxResults ?? 50),
            `aas:targets:${namespace}`,
            'InvalidNextTokenException',
          );
          return {
            body: {
              ScalableTargets: items.map((target) => ({
                ServiceNamespace: target.namespace,
                ResourceId: target.resourceId,
                ScalableDimension: target.dimension,
                MinCapacity: target.min,
                MaxCapacity: target.max,
                RoleARN: `arn:aws:iam::${account.accountId}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService`,
                CreationTime: dateOf(target.createdAt),
                SuspendedState: target.suspended,
                ScalableTargetARN: arnOf(target),
              })),
              ...(next ? { NextToken: next } : {}),
            },
          };
        }
        case 'DescribeScalingPolicies': {
          const namespace = namespaceOf(input);
          const resourceId = input.ResourceId === undefined ? undefined : String(input.ResourceId);
          const targets = model.targets.filter(
            (target) => target.namespace === namespace && (!resourceId || target.resourceId === resourceId),
          );
          const { items, next } = page(
            targets,
            input.NextToken as string | undefined,
            Number(input.MaxResults ?? 50),
            `aas:policies:${namespace}:${resourceId}`,
            'InvalidNextTokenException',
          );
          return {
            body: {
              ScalingPolicies: items.map((target) => ({
                PolicyARN: account.arn(
                  'autoscaling',
                  `scalingPolicy:0e1f2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b:resource/${target.resourceId}:policyName/${target.policy.name}`,
                ),
                PolicyName: target.policy.name,
                ServiceNamespace: target.namespace,
                ResourceId: target.resourceId,
                ScalableDimension: target.dimension,
                PolicyType: 'TargetTrackingScaling',
                TargetTrackingScalingPolicyConfiguration: {
                  TargetValue: target.policy.targetValue,
                  PredefinedMetricSpecification: { PredefinedMetricType: target.policy.metric },
                  ScaleOutCooldown: 60,
                  ScaleInCooldown: 300,
                  DisableScaleIn: false,
                },
                Alarms: [],
                CreationTime: dateOf(target.createdAt),
              })),
              ...(next ? { NextToken: next } : {}),
            },
          };
        }
        default:
          return undefined;
      }
    },
  };
}

import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  type TargetGroup,
  TargetGroupNotFoundException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { targetGroupReference } from '../../../../functions/tools/aws/elbv2.ts';
import type { TargetHealthOutput } from '../../../../functions/tools/declarations/aws/elbv2.ts';
import { awsError, awsToolset, rejectionOf } from './tool-context.ts';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const tools = awsToolset();

const ACCOUNT = '333333333333';
const DIMENSION = 'targetgroup/storefront-web/73e2d6bc24d8a067';
const TG_ARN = `arn:aws:elasticloadbalancing:eu-west-1:${ACCOUNT}:${DIMENSION}`;
const ALB_ARN = `arn:aws:elasticloadbalancing:eu-west-1:${ACCOUNT}:loadbalancer/app/storefront-alb/50dc6c495c0c9188`;

/** A target group as DescribeTargetGroups returns it. */
function targetGroup(overrides: Partial<TargetGroup> = {}): TargetGroup {
  return {
    TargetGroupArn: TG_ARN,
    TargetGroupName: 'storefront-web',
    Protocol: 'HTTP',
    Port: 8080,
    VpcId: 'vpc-0f1e2d3c4b5a69788',
    HealthCheckProtocol: 'HTTP',
    HealthCheckPort: 'traffic-port',
    HealthCheckEnabled: true,
    HealthCheckIntervalSeconds: 30,
    HealthCheckTimeoutSeconds: 5,
    HealthyThresholdCount: 5,
    UnhealthyThresholdCount: 2,
    HealthCheckPath: '/healthz',
    Matcher: { HttpCode: '200' },
    LoadBalancerArns: [ALB_ARN],
    TargetType: 'instance',
    ProtocolVersion: 'HTTP1',
    IpAddressType: 'ipv4',
    ...overrides,
  };
}

describe('elbv2.target-health', () => {
  beforeEach(() => elbv2.reset());

  it('reads targets by the CloudWatch dimension, unhealthy first, with the reason ELB gives', async () => {
    // Prepare: ELB answers by name; the dimension's id picks the group.
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [targetGroup()] });
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        {
          Target: { Id: 'i-0a1b2c3d4e5f60718', Port: 8080, AvailabilityZone: 'eu-west-1a' },
          HealthCheckPort: '8080',
          TargetHealth: { State: 'healthy' },
        },
        {
          Target: { Id: 'i-0b2c3d4e5f6071829', Port: 8080, AvailabilityZone: 'eu-west-1b' },
          HealthCheckPort: '8080',
          TargetHealth: {
            State: 'unhealthy',
            Reason: 'Target.ResponseCodeMismatch',
            Description: 'Health checks failed with these codes: [502]',
          },
        },
        {
          Target: { Id: 'i-0c3d4e5f607182930', Port: 8080, AvailabilityZone: 'eu-west-1c' },
          TargetHealth: {
            State: 'draining',
            Reason: 'Target.DeregistrationInProgress',
            Description: 'Target deregistration is in progress',
          },
        },
      ],
    });

    // Act
    const output = (await tools.run('elbv2.target-health', { targetGroup: DIMENSION })) as TargetHealthOutput;

    // Assess
    expect(elbv2.commandCalls(DescribeTargetGroupsCommand)[0]?.args[0].input).toEqual({
      Names: ['storefront-web'],
    });
    expect(elbv2.commandCalls(DescribeTargetHealthCommand)[0]?.args[0].input).toEqual({
      TargetGroupArn: TG_ARN,
    });
    expect(output).toMatchObject({
      targetGroupArn: TG_ARN,
      targetGroupName: 'storefront-web',
      targetType: 'instance',
      loadBalancerArns: [ALB_ARN],
      healthCheck: { path: '/healthz', port: 'traffic-port', matcher: '200', unhealthyThresholdCount: 2 },
      targetCount: 3,
      healthyCount: 1,
      unhealthyCount: 1,
      stateCounts: { healthy: 1, unhealthy: 1, draining: 1 },
      unhealthyTargetIds: ['i-0b2c3d4e5f6071829'],
    });
    expect(output.targets[0]).toEqual({
      id: 'i-0b2c3d4e5f6071829',
      port: 8080,
      availabilityZone: 'eu-west-1b',
      state: 'unhealthy',
      reason: 'Target.ResponseCodeMismatch',
      description: 'Health checks failed with these codes: [502]',
    });
  });

  it('asks by ARN when given one, and reports an empty group as such', async () => {
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [targetGroup({ TargetType: 'ip' })] });
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });

    const output = (await tools.run('elbv2.target-health', { targetGroup: TG_ARN })) as TargetHealthOutput;

    expect(elbv2.commandCalls(DescribeTargetGroupsCommand)[0]?.args[0].input).toEqual({
      TargetGroupArns: [TG_ARN],
    });
    expect(output).toMatchObject({
      targetType: 'ip',
      targetCount: 0,
      healthyCount: 0,
      unhealthyCount: 0,
      targets: [],
    });
  });

  it('is NotFound when a group of that name has another id, and when ELB knows none', async () => {
    elbv2.on(DescribeTargetGroupsCommand).resolves({
      TargetGroups: [targetGroup({ TargetGroupArn: TG_ARN.replace('73e2d6bc24d8a067', '0000000000000000') })],
    });
    const otherId = await rejectionOf(tools.run('elbv2.target-health', { targetGroup: DIMENSION }));
    expect(otherId.name).toBe('Tool.NotFound');
    expect(otherId.message).toContain('a target group of that name has another id');

    elbv2.reset();
    elbv2
      .on(DescribeTargetGroupsCommand)
      .rejects(
        new TargetGroupNotFoundException({ message: 'One or more target groups not found', $metadata: {} }),
      );
    const missing = await rejectionOf(tools.run('elbv2.target-health', { targetGroup: 'storefront-wbe' }));
    expect(missing.name).toBe('Tool.NotFound');
    expect(missing.message).toContain('target group storefront-wbe not found in eu-west-1');
    expect(elbv2.commandCalls(DescribeTargetHealthCommand)).toHaveLength(0);
  });

  it('maps throttling and access denied', async () => {
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [targetGroup()] });
    elbv2.on(DescribeTargetHealthCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    expect((await rejectionOf(tools.run('elbv2.target-health', { targetGroup: TG_ARN }))).name).toBe(
      'Tool.Throttled',
    );

    elbv2.on(DescribeTargetHealthCommand).rejects(awsError('AccessDenied', 'not authorized', 403));
    const denied = await rejectionOf(tools.run('elbv2.target-health', { targetGroup: TG_ARN }));
    expect(denied.name).toBe('Tool.AccessDenied');
    expect(denied.message).toContain('needs elasticloadbalancing:DescribeTargetHealth');
  });

  it('tells an ARN, a dimension and a name apart', () => {
    expect(targetGroupReference(TG_ARN)).toEqual({ kind: 'arn', arn: TG_ARN });
    expect(targetGroupReference(DIMENSION)).toEqual({
      kind: 'dimension',
      name: 'storefront-web',
      suffix: DIMENSION,
    });
    expect(targetGroupReference('storefront-web')).toEqual({ kind: 'name', name: 'storefront-web' });
  });
});

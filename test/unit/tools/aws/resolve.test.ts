import { readFileSync } from 'node:fs';
import { APIGatewayClient, GetRestApisCommand, GetStageCommand } from '@aws-sdk/client-api-gateway';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, ListTagsOfResourceCommand } from '@aws-sdk/client-dynamodb';
import { DescribeTagsCommand as DescribeEc2TagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeCapacityProvidersCommand,
  DescribeServicesCommand,
  ECSClient,
  ListClustersCommand,
  ListServicesCommand,
  type Service,
} from '@aws-sdk/client-ecs';
import {
  DescribeTagsCommand as DescribeElbTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { LambdaClient, ListEventSourceMappingsCommand, ListTagsCommand } from '@aws-sdk/client-lambda';
import { ListTagsForResourceCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeCloudWatchAlarm } from '../../../../functions/core/classifier/normalize.ts';
import type { AlertResource } from '../../../../functions/core/resource.ts';
import { autoScalingGroupNameOf } from '../../../../functions/tools/aws/resolve.ts';
import type { ResolveOutput } from '../../../../functions/tools/declarations/resolve.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { createToolRegistry } from '../../../../functions/tools/index.ts';
import { toolRuntime } from '../generic-harness.ts';
import { awsError, rejectionOf, testContext } from './tool-context.ts';

/**
 * resource.resolve's AWS family, as the tool registry wires it, on alarms as EventBridge delivers them:
 * normalized to the alert's resource, then resolved through the (mocked) AWS APIs.
 */

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const ecs = mockClient(ECSClient);
const autoScaling = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
const apiGateway = mockClient(APIGatewayClient);
const rds = mockClient(RDSClient);
const dynamo = mockClient(DynamoDBClient);

const ACCOUNT = '333333333333';
const TG_ARN = `arn:aws:elasticloadbalancing:eu-west-1:${ACCOUNT}:targetgroup/storefront-web/73e2d6bc24d8a067`;
const ALB_ARN = `arn:aws:elasticloadbalancing:eu-west-1:${ACCOUNT}:loadbalancer/app/storefront-alb/50dc6c495c0c9188`;
const CLUSTER_ARN = (name: string) => `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/${name}`;
const SERVICE_ARN = (cluster: string, name: string) =>
  `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/${cluster}/${name}`;

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../fixtures/alerts/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

/** A CloudWatch Alarm State Change as EventBridge delivers it, for a metric with these dimensions. */
function alarmEvent(
  alarmName: string,
  namespace: string,
  metric: string,
  dimensions: Record<string, string>,
) {
  return {
    version: '0',
    id: '5e1d4c3b-2a19-4f08-97e6-d5c4b3a29180',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: ACCOUNT,
    time: '2026-11-25T14:07:31Z',
    region: 'eu-west-1',
    resources: [`arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:alarm:${alarmName}`],
    detail: {
      alarmName,
      state: {
        value: 'ALARM',
        reason:
          'Threshold Crossed: 1 out of the last 1 datapoints [42.0 (25/11/26 14:06:00)] was greater than the threshold (10.0).',
        reasonData:
          '{"version":"1.0","statistic":"Maximum","period":60,"recentDatapoints":[42.0],"threshold":10.0}',
        timestamp: '2026-11-25T14:07:31.266+0000',
      },
      previousState: { value: 'OK', reason: 'Threshold Crossed', timestamp: '2026-11-25T13:02:31.121+0000' },
      configuration: {
        metrics: [
          {
            id: '3f9e2d1c-0b8a-4796-a5b4-c3d2e1f0a9b8',
            metricStat: { metric: { namespace, name: metric, dimensions }, period: 60, stat: 'Maximum' },
            returnData: true,
          },
        ],
      },
    },
  };
}

function resourceOf(event: unknown): AlertResource {
  return normalizeCloudWatchAlarm(event, { environmentLabels: ['environment'], defaultEnvironment: 'prod' })
    .resource;
}

async function resolve(
  resource: AlertResource,
  options: {
    runbook?: string;
    parameters?: Record<string, unknown>;
    context?: ReturnType<typeof testContext>;
  } = {},
): Promise<ResolveOutput> {
  const registry = createToolRegistry(
    toolRuntime({ runtime: 'aws', config: { environment: 'prod', tools: { defaultRegion: 'eu-west-1' } } }),
  );
  const tool = registry.get('resource.resolve')!;
  const parameters = tool.declaration.parameters.parse({
    resource,
    runbook: options.runbook ?? 'alb-target-5xx',
    parameters: options.parameters ?? {},
  }) as Record<string, unknown>;
  return (await tool.run(parameters, options.context ?? testContext())) as ResolveOutput;
}

function targetGroup(overrides: Partial<TargetGroup> = {}): TargetGroup {
  return {
    TargetGroupArn: TG_ARN,
    TargetGroupName: 'storefront-web',
    Protocol: 'HTTP',
    Port: 8080,
    HealthCheckPath: '/healthz',
    LoadBalancerArns: [ALB_ARN],
    TargetType: 'ip',
    ...overrides,
  };
}

function ecsService(
  cluster: string,
  name: string,
  targetGroupArn?: string,
  overrides: Partial<Service> = {},
): Service {
  return {
    serviceArn: SERVICE_ARN(cluster, name),
    serviceName: name,
    clusterArn: CLUSTER_ARN(cluster),
    status: 'ACTIVE',
    desiredCount: 4,
    runningCount: 4,
    launchType: 'FARGATE',
    loadBalancers: targetGroupArn ? [{ targetGroupArn, containerName: 'app', containerPort: 8080 }] : [],
    ...overrides,
  };
}

/** The IAM prefix of each mocked service: every call made is checked against the declaration below. */
const MOCKS = [
  ['elasticloadbalancing', elbv2],
  ['ecs', ecs],
  ['autoscaling', autoScaling],
  ['ec2', ec2],
  ['sqs', sqs],
  ['lambda', lambda],
  ['apigateway', apiGateway],
  ['rds', rds],
  ['dynamodb', dynamo],
] as const;
const made = new Set<string>();

beforeEach(() => {
  for (const [, client] of MOCKS) client.reset();
});

afterEach(() => {
  for (const [service, client] of MOCKS)
    for (const call of client.calls()) {
      const api = (call.args[0] as object).constructor.name.replace(/Command$/, '');
      // API Gateway's IAM actions are HTTP verbs: every Get… is apigateway:GET.
      made.add(
        service === 'apigateway' ? `apigateway:${api.startsWith('Get') ? 'GET' : api}` : `${service}:${api}`,
      );
    }
});

describe('resource.resolve (AWS): target group', () => {
  it('resolves a target 5xx alarm to the ECS service that registers into the target group', async () => {
    // Prepare: the alarm as EventBridge delivers it; two clusters (paged), the service in the second.
    const resource = resourceOf(fixture('cloudwatch-alarm-alb-5xx.json'));
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [targetGroup()] });
    elbv2.on(DescribeElbTagsCommand).resolves({
      TagDescriptions: [
        {
          ResourceArn: TG_ARN,
          Tags: [
            { Key: 'team', Value: 'storefront' },
            { Key: 'runbook-autopilot.io/alb-target-5xx.maxDesiredCount', Value: '12' },
          ],
        },
      ],
    });
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        {
          Target: { Id: '10.0.1.17', Port: 8080, AvailabilityZone: 'eu-west-1a' },
          TargetHealth: { State: 'healthy' },
        },
        {
          Target: { Id: '10.0.2.41', Port: 8080, AvailabilityZone: 'eu-west-1b' },
          TargetHealth: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch' },
        },
      ],
    });
    ecs
      .on(ListClustersCommand)
      .resolvesOnce({ clusterArns: [CLUSTER_ARN('batch')], nextToken: 'next' })
      .resolvesOnce({ clusterArns: [CLUSTER_ARN('storefront')] });
    ecs.on(ListServicesCommand, { cluster: CLUSTER_ARN('batch') }).resolves({
      serviceArns: [SERVICE_ARN('batch', 'nightly-export')],
    });
    ecs.on(ListServicesCommand, { cluster: CLUSTER_ARN('storefront') }).resolves({
      serviceArns: [
        SERVICE_ARN('storefront', 'storefront-worker'),
        SERVICE_ARN('storefront', 'storefront-web'),
      ],
    });
    const services = [
      ecsService('batch', 'nightly-export'),
      ecsService('storefront', 'storefront-web', TG_ARN),
      ecsService('storefront', 'storefront-worker', TG_ARN.replace('storefront-web', 'storefront-worker')),
    ];
    // DescribeServices answers the services asked for, in that cluster.
    ecs.on(DescribeServicesCommand).callsFake((input: { cluster: string; services: string[] }) => ({
      services: services.filter(
        (service) => service.clusterArn === input.cluster && input.services.includes(service.serviceArn!),
      ),
      failures: [],
    }));

    // Act
    const output = await resolve(resource, {
      parameters: {
        maxDesiredCount: {
          type: 'integer',
          default: 8,
          maximum: 20,
          description: 'the most tasks to scale to',
        },
      },
    });

    // Assess
    expect(resource).toMatchObject({ type: 'target-group', arn: TG_ARN });
    expect(output.resource).toMatchObject({
      type: 'target-group',
      targetGroupArn: TG_ARN,
      loadBalancerArn: ALB_ARN,
      ecsService: { cluster: 'storefront', service: 'storefront-web' },
      ecsServices: [{ cluster: 'storefront', service: 'storefront-web' }],
      tags: { team: 'storefront', 'runbook-autopilot.io/alb-target-5xx.maxDesiredCount': '12' },
      unresolved: [],
    });
    expect(output.resource.resolution).toContainEqual({
      from: 'target group storefront-web',
      to: 'ECS service storefront/storefront-web',
      via: 'loadBalancers[].targetGroupArn of DescribeServices (3 service(s) scanned)',
    });
    expect(output.parameters).toEqual({ maxDesiredCount: 12 });
    expect(output.parameterSources).toEqual({ maxDesiredCount: 'resource' });
    // The likely service (its name shares the target group's) is described first, then cluster by cluster.
    expect(ecs.commandCalls(DescribeServicesCommand).map((call) => call.args[0].input.services)).toEqual([
      [SERVICE_ARN('storefront', 'storefront-web')],
      [SERVICE_ARN('batch', 'nightly-export')],
      [SERVICE_ARN('storefront', 'storefront-worker')],
    ]);
    expect(elbv2.commandCalls(DescribeTargetGroupsCommand)[0]?.args[0].input).toEqual({
      TargetGroupArns: [TG_ARN],
    });
  });

  it('resolves an instance target group to its instances and their Auto Scaling group', async () => {
    const resource = resourceOf(
      alarmEvent('shop-unhealthy-hosts', 'AWS/ApplicationELB', 'UnHealthyHostCount', {
        TargetGroup: 'targetgroup/storefront-web/73e2d6bc24d8a067',
        LoadBalancer: 'app/storefront-alb/50dc6c495c0c9188',
      }),
    );
    elbv2
      .on(DescribeTargetGroupsCommand)
      .resolves({ TargetGroups: [targetGroup({ TargetType: 'instance' })] });
    elbv2.on(DescribeElbTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: TG_ARN, Tags: [] }] });
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: ['i-0a1b2c3d4e5f60718', 'i-0b2c3d4e5f6071829'].map((id) => ({
        Target: { Id: id, Port: 8080 },
        TargetHealth: { State: 'healthy' },
      })),
    });
    ecs.on(ListClustersCommand).resolves({ clusterArns: [] });
    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves({
      AutoScalingInstances: ['i-0a1b2c3d4e5f60718', 'i-0b2c3d4e5f6071829'].map((id) => ({
        InstanceId: id,
        AutoScalingGroupName: 'shop-web-asg',
        AvailabilityZone: 'eu-west-1a',
        LifecycleState: 'InService',
        HealthStatus: 'HEALTHY',
        ProtectedFromScaleIn: false,
      })),
    });

    const output = await resolve(resource);

    expect(output.resource).toMatchObject({
      instances: ['i-0a1b2c3d4e5f60718', 'i-0b2c3d4e5f6071829'],
      autoScalingGroup: 'shop-web-asg',
      unresolved: [],
    });
    expect(output.resource.ecsService).toBeUndefined();
    expect(output.resource.resolution).toContainEqual({
      from: 'target group storefront-web',
      to: 'Auto Scaling group shop-web-asg',
      via: 'DescribeAutoScalingInstances (2 of 2 instance(s))',
    });
  });

  it('lists what it could not resolve instead of failing the step', async () => {
    const resource = resourceOf(fixture('cloudwatch-alarm-alb-5xx.json'));
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [targetGroup()] });
    elbv2
      .on(DescribeElbTagsCommand)
      .rejects(awsError('AccessDenied', 'not authorized to perform DescribeTags', 403));
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });
    ecs.on(ListClustersCommand).resolves({ clusterArns: [CLUSTER_ARN('storefront')] });
    ecs.on(ListServicesCommand).resolves({ serviceArns: [SERVICE_ARN('storefront', 'storefront-worker')] });
    ecs.on(DescribeServicesCommand).resolves({ services: [ecsService('storefront', 'storefront-worker')] });

    const output = await resolve(resource);

    expect(output.resource.targetGroupArn).toBe(TG_ARN);
    expect(output.resource.ecsService).toBeUndefined();
    expect(output.resource.unresolved).toEqual([
      expect.stringMatching(
        /^tags: resource\.resolve: DescribeTags .* was denied .*needs elasticloadbalancing:DescribeTags/,
      ),
      'ecsService: no ECS service registers into target group storefront-web (scanned 1 service(s) in 1 cluster(s))',
    ]);
  });

  it('records a missing target group as unresolved', async () => {
    const resource = resourceOf(fixture('cloudwatch-alarm-alb-5xx.json'));
    elbv2
      .on(DescribeTargetGroupsCommand)
      .rejects(awsError('TargetGroupNotFound', 'One or more target groups not found'));

    const output = await resolve(resource);

    expect(output.resource.unresolved).toEqual([
      expect.stringMatching(/^targetGroupArn: .*not found in eu-west-1/),
    ]);
    expect(ecs.commandCalls(ListClustersCommand)).toHaveLength(0);
  });

  it('stops when the step is aborted', async () => {
    const resource = resourceOf(fixture('cloudwatch-alarm-alb-5xx.json'));
    const context = testContext();
    elbv2.on(DescribeTargetGroupsCommand).callsFake(() => {
      context.controller.abort(new Error('operator aborted the execution'));
      throw awsError('RequestAborted', 'aborted');
    });

    const error = await rejectionOf(resolve(resource, { context }));

    expect(error.message).toBe('operator aborted the execution');
  });
});

describe('resource.resolve (AWS): instances and services', () => {
  it('resolves a status-check alarm’s instance to its Auto Scaling group, with its tags', async () => {
    // Prepare
    const resource = resourceOf(fixture('cloudwatch-alarm-ec2-status-check.json'));
    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves({
      AutoScalingInstances: [
        {
          InstanceId: 'i-0a1b2c3d4e5f60718',
          AutoScalingGroupName: 'shop-web-asg',
          AvailabilityZone: 'eu-west-1a',
          LifecycleState: 'InService',
          HealthStatus: 'HEALTHY',
          ProtectedFromScaleIn: false,
        },
      ],
    });
    ec2.on(DescribeEc2TagsCommand).resolves({
      Tags: [
        {
          Key: 'aws:autoscaling:groupName',
          ResourceId: 'i-0a1b2c3d4e5f60718',
          ResourceType: 'instance',
          Value: 'shop-web-asg',
        },
        { Key: 'Name', ResourceId: 'i-0a1b2c3d4e5f60718', ResourceType: 'instance', Value: 'shop-web-1' },
      ],
    });

    // Act
    const output = await resolve(resource, { runbook: 'ec2-status-check-failed' });

    // Assess
    expect(resource).toMatchObject({ type: 'ec2-instance', id: 'i-0a1b2c3d4e5f60718' });
    expect(output.resource).toMatchObject({
      instanceId: 'i-0a1b2c3d4e5f60718',
      autoScalingGroup: 'shop-web-asg',
      tags: { 'aws:autoscaling:groupName': 'shop-web-asg', Name: 'shop-web-1' },
      unresolved: [],
    });
    expect(output.resource.resolution).toContainEqual({
      from: 'EC2 instance i-0a1b2c3d4e5f60718',
      to: 'Auto Scaling group shop-web-asg',
      via: 'DescribeAutoScalingInstances (1 of 1 instance(s))',
    });
    expect(autoScaling.commandCalls(DescribeAutoScalingInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: ['i-0a1b2c3d4e5f60718'],
    });
    expect(ec2.commandCalls(DescribeEc2TagsCommand)[0]?.args[0].input).toMatchObject({
      Filters: [{ Name: 'resource-id', Values: ['i-0a1b2c3d4e5f60718'] }],
    });
  });

  it('tries throttled and unavailable reads again with backoff, then resolves', async () => {
    // Prepare: the Auto Scaling read is throttled once, the tag read answers 503 once
    const resource = resourceOf(fixture('cloudwatch-alarm-ec2-status-check.json'));
    autoScaling
      .on(DescribeAutoScalingInstancesCommand)
      .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded', 400))
      .resolves({
        AutoScalingInstances: [
          {
            InstanceId: 'i-0a1b2c3d4e5f60718',
            AutoScalingGroupName: 'shop-web-asg',
            AvailabilityZone: 'eu-west-1a',
            LifecycleState: 'InService',
            HealthStatus: 'HEALTHY',
            ProtectedFromScaleIn: false,
          },
        ],
      });
    ec2
      .on(DescribeEc2TagsCommand)
      .rejectsOnce(awsError('ServiceUnavailable', 'Service Unavailable', 503))
      .resolves({
        Tags: [
          { Key: 'Name', ResourceId: 'i-0a1b2c3d4e5f60718', ResourceType: 'instance', Value: 'shop-web-1' },
        ],
      });

    // Act
    const output = await resolve(resource, { runbook: 'ec2-status-check-failed' });

    // Assess
    expect(output.resource).toMatchObject({
      autoScalingGroup: 'shop-web-asg',
      tags: { Name: 'shop-web-1' },
      unresolved: [],
    });
    expect(autoScaling.commandCalls(DescribeAutoScalingInstancesCommand)).toHaveLength(2);
    expect(ec2.commandCalls(DescribeEc2TagsCommand)).toHaveLength(2);
  });

  it('does not retry a permanent error: access denied is unresolved after one call', async () => {
    // Prepare
    const resource = resourceOf(fixture('cloudwatch-alarm-ec2-status-check.json'));
    autoScaling
      .on(DescribeAutoScalingInstancesCommand)
      .rejects(awsError('AccessDenied', 'not authorized to perform DescribeAutoScalingInstances', 403));
    ec2.on(DescribeEc2TagsCommand).resolves({ Tags: [] });

    // Act
    const output = await resolve(resource, { runbook: 'ec2-status-check-failed' });

    // Assess
    expect(output.resource.unresolved).toEqual([expect.stringMatching(/^autoScalingGroup: .*was denied/)]);
    expect(autoScaling.commandCalls(DescribeAutoScalingInstancesCommand)).toHaveLength(1);
  });

  it('says so when an instance is in no Auto Scaling group', async () => {
    const resource = resourceOf(fixture('cloudwatch-alarm-ec2-status-check.json'));
    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    ec2.on(DescribeEc2TagsCommand).resolves({ Tags: [] });

    const output = await resolve(resource, { runbook: 'ec2-status-check-failed' });

    expect(output.resource.autoScalingGroup).toBeUndefined();
    expect(output.resource.unresolved).toEqual([
      'autoScalingGroup: none of i-0a1b2c3d4e5f60718 is in an Auto Scaling group',
    ]);
  });

  it('resolves an ECS service alarm to its target group, load balancer and capacity provider’s group', async () => {
    const resource = resourceOf(
      alarmEvent('storefront-web-cpu', 'AWS/ECS', 'CPUUtilization', {
        ClusterName: 'storefront',
        ServiceName: 'storefront-web',
      }),
    );
    ecs.on(DescribeServicesCommand).resolves({
      services: [
        ecsService('storefront', 'storefront-web', TG_ARN, {
          launchType: undefined,
          capacityProviderStrategy: [{ capacityProvider: 'storefront-ec2', weight: 1, base: 0 }],
          tags: [{ key: 'runbook-autopilot.io/maxDesiredCount', value: '16' }],
        }),
      ],
      failures: [],
    });
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [targetGroup()] });
    ecs.on(DescribeCapacityProvidersCommand).resolves({
      capacityProviders: [
        {
          capacityProviderArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:capacity-provider/storefront-ec2`,
          name: 'storefront-ec2',
          status: 'ACTIVE',
          autoScalingGroupProvider: {
            autoScalingGroupArn: `arn:aws:autoscaling:eu-west-1:${ACCOUNT}:autoScalingGroup:6d4a1f2e-0b3c-4d5e-8f90-a1b2c3d4e5f6:autoScalingGroupName/storefront-ecs-asg`,
            managedScaling: { status: 'ENABLED', targetCapacity: 100 },
            managedTerminationProtection: 'DISABLED',
          },
        },
      ],
    });

    const output = await resolve(resource, {
      runbook: 'ecs-cpu',
      parameters: {
        maxDesiredCount: { type: 'integer', default: 8, description: 'the most tasks to scale to' },
      },
    });

    expect(ecs.commandCalls(DescribeServicesCommand)[0]?.args[0].input).toEqual({
      cluster: 'storefront',
      services: ['storefront-web'],
      include: ['TAGS'],
    });
    expect(output.resource).toMatchObject({
      ecsService: { cluster: 'storefront', service: 'storefront-web' },
      targetGroupArn: TG_ARN,
      loadBalancerArn: ALB_ARN,
      autoScalingGroup: 'storefront-ecs-asg',
      unresolved: [],
    });
    expect(output.parameters).toEqual({ maxDesiredCount: 16 });
  });
});

describe('resource.resolve (AWS): queues, stages, functions, databases and tables', () => {
  it('resolves a queue to its URL, dead-letter queue and consuming function', async () => {
    const resource = resourceOf(
      alarmEvent('orders-age', 'AWS/SQS', 'ApproximateAgeOfOldestMessage', { QueueName: 'orders' }),
    );
    const queueUrl = `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/orders`;
    const dlqUrl = `${queueUrl}-dlq`;
    sqs.on(GetQueueUrlCommand, { QueueName: 'orders' }).resolves({ QueueUrl: queueUrl });
    sqs.on(GetQueueUrlCommand, { QueueName: 'orders-dlq' }).resolves({ QueueUrl: dlqUrl });
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: {
        QueueArn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:orders`,
        RedrivePolicy: `{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:${ACCOUNT}:orders-dlq","maxReceiveCount":5}`,
      },
    });
    lambda.on(ListEventSourceMappingsCommand).resolves({
      EventSourceMappings: [
        {
          UUID: '6c1ab3f8-9d2e-4e57-a0b1-3c4d5e6f7a8b',
          EventSourceArn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:orders`,
          FunctionArn: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-worker`,
          State: 'Enabled',
        },
      ],
    });
    sqs.on(ListQueueTagsCommand).resolves({ Tags: { team: 'orders' } });

    const output = await resolve(resource, { runbook: 'sqs-age' });

    expect(sqs.commandCalls(GetQueueUrlCommand)[0]?.args[0].input).toEqual({
      QueueName: 'orders',
      QueueOwnerAWSAccountId: ACCOUNT,
    });
    expect(output.resource).toMatchObject({
      queueUrl,
      deadLetterQueueUrl: dlqUrl,
      functionName: 'orders-worker',
      tags: { team: 'orders' },
      unresolved: [],
    });
  });

  it('resolves an API Gateway stage to its REST API id and the stage’s tags', async () => {
    const resource = resourceOf(
      alarmEvent('orders-api-5xx', 'AWS/ApiGateway', '5XXError', { ApiName: 'orders-api', Stage: 'prod' }),
    );
    apiGateway.on(GetRestApisCommand).resolves({ items: [{ id: 'a1b2c3d4e5', name: 'orders-api' }] });
    apiGateway
      .on(GetStageCommand)
      .resolves({ stageName: 'prod', deploymentId: 'dep333', tags: { team: 'orders' } });

    const output = await resolve(resource, { runbook: 'apigateway-5xx' });

    expect(output.resource).toMatchObject({
      restApiId: 'a1b2c3d4e5',
      tags: { team: 'orders' },
      unresolved: [],
    });
    expect(apiGateway.commandCalls(GetStageCommand)[0]?.args[0].input).toEqual({
      restApiId: 'a1b2c3d4e5',
      stageName: 'prod',
    });
  });

  it('reads the tags of a function, a DB instance and a table by their ARNs', async () => {
    lambda.on(ListTagsCommand).resolves({ Tags: { 'runbook-autopilot.io/maxConcurrency': '40' } });
    rds.on(ListTagsForResourceCommand).resolves({ TagList: [{ Key: 'tier', Value: 'gold' }] });
    dynamo
      .on(ListTagsOfResourceCommand)
      .resolvesOnce({ Tags: [{ Key: 'a', Value: '1' }], NextToken: 'n' })
      .resolvesOnce({
        Tags: [{ Key: 'b', Value: '2' }],
      });

    const fn = await resolve(
      resourceOf(alarmEvent('f', 'AWS/Lambda', 'Errors', { FunctionName: 'orders-api' })),
    );
    const db = await resolve(
      resourceOf(alarmEvent('d', 'AWS/RDS', 'CPUUtilization', { DBInstanceIdentifier: 'orders-db' })),
    );
    const table = await resolve(
      resourceOf(alarmEvent('t', 'AWS/DynamoDB', 'ReadThrottleEvents', { TableName: 'orders' })),
    );

    expect(fn.resource).toMatchObject({
      functionName: 'orders-api',
      tags: { 'runbook-autopilot.io/maxConcurrency': '40' },
    });
    expect(lambda.commandCalls(ListTagsCommand)[0]?.args[0].input).toEqual({
      Resource: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-api`,
    });
    expect(db.resource.tags).toEqual({ tier: 'gold' });
    expect(rds.commandCalls(ListTagsForResourceCommand)[0]?.args[0].input).toEqual({
      ResourceName: `arn:aws:rds:eu-west-1:${ACCOUNT}:db:orders-db`,
    });
    expect(table.resource.tags).toEqual({ a: '1', b: '2' });
  });

  it('resolves an Auto Scaling group alarm to the group and its tags', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'shop-web-asg',
          MinSize: 2,
          MaxSize: 10,
          DesiredCapacity: 4,
          DefaultCooldown: 300,
          AvailabilityZones: ['eu-west-1a'],
          HealthCheckType: 'ELB',
          CreatedTime: new Date('2026-01-01T00:00:00Z'),
          Tags: [
            {
              Key: 'team',
              Value: 'shop',
              ResourceId: 'shop-web-asg',
              ResourceType: 'auto-scaling-group',
              PropagateAtLaunch: true,
            },
          ],
        },
      ],
    });

    const output = await resolve(
      resourceOf(alarmEvent('g', 'AWS/EC2', 'CPUUtilization', { AutoScalingGroupName: 'shop-web-asg' })),
    );

    expect(output.resource).toMatchObject({ autoScalingGroup: 'shop-web-asg', tags: { team: 'shop' } });
  });

  it('names an Auto Scaling group from its ARN', () => {
    expect(
      autoScalingGroupNameOf(
        'arn:aws:autoscaling:eu-west-1:333333333333:autoScalingGroup:6d4a1f2e-0b3c:autoScalingGroupName/web-asg',
      ),
    ).toBe('web-asg');
    expect(autoScalingGroupNameOf('web-asg')).toBe('web-asg');
  });
});

describe('resource.resolve declares every AWS call its family makes', () => {
  it('has an IAM action for each call the tests above saw it make', () => {
    const declared = new Set(TOOL_CATALOG.get('resource.resolve')?.permissions.iam ?? []);
    expect(made.size).toBeGreaterThan(15);
    expect([...made].filter((action) => !declared.has(action))).toEqual([]);
  });
});

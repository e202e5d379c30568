import { APIGatewayClient, GetRestApisCommand, GetStageCommand } from '@aws-sdk/client-api-gateway';
import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { DescribeAutoScalingInstancesCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeAlarmsCommand, GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { FilterLogEventsCommand, StartQueryCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTableCommand, ListTagsOfResourceCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeInstancesCommand,
  DescribeTagsCommand,
  EC2Client,
  RebootInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DescribeServicesCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeCacheParametersCommand } from '@aws-sdk/client-elasticache';
import {
  GetAliasCommand,
  GetFunctionCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  PutFunctionConcurrencyCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { DescribeDBInstancesCommand, DescribeEventsCommand } from '@aws-sdk/client-rds';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeCloudWatchAlarm } from '../../../functions/core/classifier/normalize.ts';
import { AwsEndpoint } from '../../../local/sim/aws/endpoint.ts';
import { DEMO_REGION } from '../../../local/sim/cluster.ts';
import {
  clientOptions,
  SIM_CREDENTIALS,
  type SimulatedAccount,
  startSimulatedAccount,
} from '../../support/sim-aws.ts';

/**
 * The simulated account over the wire: the AWS SDK v3 clients the tools use, pointed at its endpoint,
 * get the documented shapes (the SDK parses them into its types), page through lists with each
 * service's own token, and get each service's documented error codes as named SDK errors.
 */

let sim: SimulatedAccount;
const TG = 'arn:aws:elasticloadbalancing:eu-west-1:222222222222:targetgroup/checkout-web/73e2d6bc24d8a067';

beforeAll(async () => {
  sim = await startSimulatedAccount();
});

afterAll(async () => {
  await sim?.stop();
});

async function failure(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

describe('AWS Query (ELBv2, Auto Scaling, RDS, ElastiCache)', () => {
  it('pages target groups by Marker and parses their health', async () => {
    const elb = sim.clients.elbv2();
    const first = await elb.send(new DescribeTargetGroupsCommand({ PageSize: 1 }));
    const second = await elb.send(new DescribeTargetGroupsCommand({ PageSize: 1, Marker: first.NextMarker }));
    expect([first.TargetGroups?.[0]?.TargetGroupName, second.TargetGroups?.[0]?.TargetGroupName]).toEqual([
      'checkout-web',
      'legacy-web',
    ]);
    expect(first.NextMarker).toBeTruthy();
    expect(second.NextMarker).toBeUndefined();
    expect(first.TargetGroups?.[0]).toMatchObject({
      TargetType: 'ip',
      Port: 8080,
      HealthCheckIntervalSeconds: 10,
      Matcher: { HttpCode: '200' },
    });
    const health = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: TG }));
    expect(health.TargetHealthDescriptions).toHaveLength(3);
    expect(health.TargetHealthDescriptions?.[0]).toMatchObject({
      Target: { Port: 8080, AvailabilityZone: expect.stringMatching(/^eu-west-1[ab]$/) },
      TargetHealth: { State: 'healthy' },
    });
  });

  it("answers ELBv2's, Auto Scaling's and RDS's own error codes", async () => {
    const missing = await failure(
      sim.clients.elbv2().send(new DescribeTargetGroupsCommand({ Names: ['nope'] })),
    );
    expect(missing).toMatchObject({
      name: 'TargetGroupNotFoundException',
      message: 'One or more target groups not found',
    });
    const tooMany = await failure(
      sim.clients
        .autoScaling()
        .send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'legacy-web-asg', DesiredCapacity: 9 })),
    );
    expect(tooMany).toMatchObject({
      name: 'ValidationError',
      message: 'New SetDesiredCapacity value 9 is above max value 4 for the AutoScalingGroup.',
    });
    const database = await failure(
      sim.clients.rds().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'payments-db' })),
    );
    expect(database).toMatchObject({
      name: 'DBInstanceNotFoundFault',
      message: 'DBInstance payments-db not found.',
    });
    expect(database.$metadata?.httpStatusCode).toBe(404);
  });

  it('lists RDS events and instances with their own XML item names, and Auto Scaling members in upper case', async () => {
    const instances = await sim.clients
      .rds()
      .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db' }));
    expect(instances.DBInstances?.[0]).toMatchObject({
      MultiAZ: true,
      AllocatedStorage: 100,
      MaxAllocatedStorage: 200,
      VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-0e1f2a3b4c5d6e7f8', Status: 'active' }],
      TagList: expect.arrayContaining([{ Key: 'team', Value: 'orders' }]),
    });
    const events = await sim.clients.rds().send(
      new DescribeEventsCommand({
        SourceIdentifier: 'orders-db',
        SourceType: 'db-instance',
        Duration: 7 * 24 * 60,
      }),
    );
    expect(events.Events?.[0]).toMatchObject({
      SourceType: 'db-instance',
      EventCategories: ['backup'],
      Message: 'Backing up DB instance',
    });
    expect(events.Events?.[0]?.Date).toBeInstanceOf(Date);
    const members = await sim.clients
      .autoScaling()
      .send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ['i-0a1b2c3d4e5f60718'] }));
    expect(members.AutoScalingInstances).toEqual([
      expect.objectContaining({
        AutoScalingGroupName: 'legacy-web-asg',
        HealthStatus: 'HEALTHY',
        LifecycleState: 'InService',
      }),
    ]);
  });

  it('pages ElastiCache parameters in records of at least 20', async () => {
    const names: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await sim.clients.elastiCache().send(
        new DescribeCacheParametersCommand({
          CacheParameterGroupName: 'sessions-redis7',
          MaxRecords: 20,
          Marker: marker,
        }),
      );
      names.push(...(page.Parameters ?? []).map((parameter) => parameter.ParameterName!));
      marker = page.Marker;
      pages += 1;
    } while (marker);
    expect(pages).toBe(4);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('maxmemory-policy');
    const tooSmall = await failure(
      sim.clients
        .elastiCache()
        .send(
          new DescribeCacheParametersCommand({ CacheParameterGroupName: 'sessions-redis7', MaxRecords: 5 }),
        ),
    );
    expect(tooSmall.name).toBe('InvalidParameterValueException');
  });
});

describe('EC2 Query', () => {
  it('pages tags by NextToken and filters them by resource', async () => {
    const ec2 = sim.clients.ec2();
    const first = await ec2.send(new DescribeTagsCommand({ MaxResults: 5 }));
    const second = await ec2.send(new DescribeTagsCommand({ MaxResults: 5, NextToken: first.NextToken }));
    expect(first.Tags).toHaveLength(5);
    expect(second.Tags?.[0]).not.toEqual(first.Tags?.[0]);
    const filtered = await ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: ['i-0a1b2c3d4e5f60718'] }] }),
    );
    expect(Object.fromEntries((filtered.Tags ?? []).map((tag) => [tag.Key, tag.Value]))).toMatchObject({
      'aws:autoscaling:groupName': 'legacy-web-asg',
      Name: 'legacy-web',
    });
    expect(
      filtered.Tags?.every(
        (tag) => tag.ResourceId === 'i-0a1b2c3d4e5f60718' && tag.ResourceType === 'instance',
      ),
    ).toBe(true);
  });

  it('describes instances (reservations, state, placement) and refuses what EC2 refuses', async () => {
    const ec2 = sim.clients.ec2();
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0b2c3d4e5f6071829'] }));
    expect(described.Reservations?.[0]?.Instances?.[0]).toMatchObject({
      InstanceId: 'i-0b2c3d4e5f6071829',
      State: { Code: 16, Name: 'running' },
      Placement: { AvailabilityZone: 'eu-west-1b' },
      PrivateIpAddress: '10.0.2.88',
    });
    expect(described.Reservations?.[0]?.Instances?.[0]?.LaunchTime).toBeInstanceOf(Date);
    const unknown = await failure(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
    );
    expect(unknown).toMatchObject({
      name: 'InvalidInstanceID.NotFound',
      message: "The instance ID 'i-0123456789abcdef0' does not exist",
    });
    const both = await failure(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0b2c3d4e5f6071829'], MaxResults: 5 })),
    );
    expect(both.name).toBe('InvalidParameterCombination');
    const dryRun = await failure(
      ec2.send(new RebootInstancesCommand({ InstanceIds: ['i-0b2c3d4e5f6071829'], DryRun: true })),
    );
    expect(dryRun).toMatchObject({
      name: 'DryRunOperation',
      message: 'Request would have succeeded, but DryRun flag is set.',
    });
    expect(dryRun.$metadata?.httpStatusCode).toBe(412);
  });
});

describe('AWS JSON (ECS, CloudWatch, Logs, SQS, DynamoDB, Application Auto Scaling)', () => {
  it('pages ECS tasks by nextToken and reports services ECS does not have as failures', async () => {
    const ecs = sim.clients.ecs();
    const first = await ecs.send(
      new ListTasksCommand({ cluster: 'shop', serviceName: 'checkout', maxResults: 2 }),
    );
    const second = await ecs.send(
      new ListTasksCommand({
        cluster: 'shop',
        serviceName: 'checkout',
        maxResults: 2,
        nextToken: first.nextToken,
      }),
    );
    expect([first.taskArns?.length, second.taskArns?.length, second.nextToken]).toEqual([2, 1, undefined]);
    const described = await ecs.send(
      new DescribeServicesCommand({ cluster: 'shop', services: ['checkout', 'cart'] }),
    );
    expect(described.services?.map((service) => service.serviceName)).toEqual(['checkout']);
    expect(described.services?.[0]?.deployments?.[0]?.createdAt).toBeInstanceOf(Date);
    expect(described.failures).toEqual([
      { arn: 'arn:aws:ecs:eu-west-1:222222222222:service/shop/cart', reason: 'MISSING' },
    ]);
    const cluster = await failure(
      ecs.send(new DescribeServicesCommand({ cluster: 'payments', services: ['api'] })),
    );
    expect(cluster).toMatchObject({ name: 'ClusterNotFoundException', message: 'Cluster not found.' });
  });

  it('pages GetMetricData by MaxDatapoints, marking the cut query PartialData, and newest first by default', async () => {
    const query = {
      MetricDataQueries: [
        {
          Id: 'requests',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/ApplicationELB',
              MetricName: 'RequestCount',
              Dimensions: [
                { Name: 'LoadBalancer', Value: 'app/shop-alb/50dc6c495c0c9188' },
                { Name: 'TargetGroup', Value: 'targetgroup/checkout-web/73e2d6bc24d8a067' },
              ],
            },
            Period: 60,
            Stat: 'Sum',
          },
        },
      ],
      StartTime: new Date(Date.now() - 30 * 60_000),
      EndTime: new Date(),
      MaxDatapoints: 10,
    };
    const cloudWatch = sim.clients.cloudWatch();
    const pages = [await cloudWatch.send(new GetMetricDataCommand(query))];
    while (pages.at(-1)!.NextToken && pages.length < 10)
      pages.push(
        await cloudWatch.send(new GetMetricDataCommand({ ...query, NextToken: pages.at(-1)!.NextToken })),
      );
    const all = pages.flatMap((page) => page.MetricDataResults?.[0]?.Timestamps ?? []);
    expect(pages[0]!.MetricDataResults?.[0]).toMatchObject({
      Id: 'requests',
      Label: 'RequestCount',
      StatusCode: 'PartialData',
    });
    expect(pages.at(-1)!.MetricDataResults?.[0]?.StatusCode).toBe('Complete');
    expect(pages.slice(0, -1).every((page) => page.MetricDataResults?.[0]?.Values?.length === 10)).toBe(true);
    // 30 minutes of one-minute periods: the one StartTime falls in (unless it starts one), and every one since.
    expect(all.length).toBeGreaterThanOrEqual(30);
    expect(all.length).toBeLessThanOrEqual(31);
    expect(new Set(all.map((time) => time.getTime())).size).toBe(all.length);
    expect(all[0]!.getTime()).toBeGreaterThan(all[1]!.getTime());
    expect(pages[0]!.MetricDataResults?.[0]?.Values?.[1]).toBeGreaterThan(1_000);
  });

  it("answers CloudWatch's errors with their Query codes, and nothing for a metric it does not have", async () => {
    const cloudWatch = sim.clients.cloudWatch();
    const badId = await failure(
      cloudWatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: [
            {
              Id: 'Bad-Id',
              MetricStat: {
                Metric: { Namespace: 'AWS/EC2', MetricName: 'CPUUtilization' },
                Period: 60,
                Stat: 'Average',
              },
            },
          ],
          StartTime: new Date(Date.now() - 60_000),
          EndTime: new Date(),
        }),
      ),
    );
    expect(badId.name).toBe('InvalidParameterValueException');
    expect(badId.message).toContain('Bad-Id');
    const none = await cloudWatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: [
          {
            Id: 'm1',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/EC2',
                MetricName: 'CPUUtilization',
                Dimensions: [{ Name: 'InstanceId', Value: 'i-0000000000000000f' }],
              },
              Period: 60,
              Stat: 'Average',
            },
          },
        ],
        StartTime: new Date(Date.now() - 600_000),
        EndTime: new Date(),
      }),
    );
    expect(none.MetricDataResults?.[0]).toMatchObject({
      Id: 'm1',
      StatusCode: 'Complete',
      Timestamps: [],
      Values: [],
    });
    const metrics = await cloudWatch.send(
      new ListMetricsCommand({ Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage' }),
    );
    expect(metrics.Metrics?.map((metric) => metric.Dimensions?.[0]?.Value).sort()).toEqual([
      'order-events',
      'order-events-dlq',
    ]);
    const alarms = await cloudWatch.send(new DescribeAlarmsCommand({}));
    expect(alarms.MetricAlarms).toEqual([]);
  });

  it('pages log events by nextToken, applies filter patterns, and refuses a malformed Insights query', async () => {
    const logs = sim.clients.logs();
    const window = {
      logGroupName: '/aws/lambda/checkout-api',
      startTime: Date.now() - 60_000,
      endTime: Date.now(),
    };
    const reports = await logs.send(
      new FilterLogEventsCommand({ ...window, filterPattern: '"REPORT RequestId"', limit: 50 }),
    );
    expect(reports.events).toHaveLength(50);
    expect(reports.events?.every((event) => event.message?.startsWith('REPORT RequestId: '))).toBe(true);
    const next = await logs.send(
      new FilterLogEventsCommand({
        ...window,
        filterPattern: '"REPORT RequestId"',
        limit: 50,
        nextToken: reports.nextToken,
      }),
    );
    expect(next.events?.[0]?.timestamp).toBeGreaterThanOrEqual(reports.events!.at(-1)!.timestamp!);
    const json = await logs.send(
      new FilterLogEventsCommand({
        logGroupName: '/ecs/checkout',
        startTime: Date.now() - 60_000,
        filterPattern: '{ $.level = "INFO" && $.logger = "com.shop.*" }',
      }),
    );
    expect(json.events!.length).toBeGreaterThan(0);
    const missing = await failure(
      logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/nope' })),
    );
    expect(missing).toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'The specified log group does not exist.',
    });
    const malformed = await failure(
      logs.send(
        new StartQueryCommand({
          logGroupNames: ['/ecs/checkout'],
          queryString: 'fields @message | unmask @message',
          startTime: 0,
          endTime: 1,
        }),
      ),
    );
    expect(malformed.name).toBe('MalformedQueryException');
    expect(malformed.message).toContain('"unmask" is not simulated');
  });

  it('answers SQS with queue URLs and string attributes, and QueueDoesNotExist with its Query code', async () => {
    const sqs = sim.clients.sqs();
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'order-events-dlq' }));
    expect(QueueUrl).toBe('https://sqs.eu-west-1.amazonaws.com/222222222222/order-events-dlq');
    const sources = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl }));
    expect(sources.queueUrls).toEqual(['https://sqs.eu-west-1.amazonaws.com/222222222222/order-events']);
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: sources.queueUrls![0],
        AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'],
      }),
    );
    expect(attributes.Attributes).toEqual({
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:222222222222:order-events-dlq',
        maxReceiveCount: 5,
      }),
      VisibilityTimeout: '180',
    });
    const missing = await failure(sqs.send(new GetQueueUrlCommand({ QueueName: 'payments' })));
    expect(missing).toMatchObject({
      name: 'QueueDoesNotExist',
      Code: 'AWS.SimpleQueueService.NonExistentQueue',
    });
  });

  it('answers DynamoDB and Application Auto Scaling with their shapes and validation errors', async () => {
    const table = await sim.clients.dynamoDb().send(new DescribeTableCommand({ TableName: 'carts' }));
    expect(table.Table).toMatchObject({
      TableStatus: 'ACTIVE',
      BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
      GlobalSecondaryIndexes: [expect.objectContaining({ IndexName: 'by-customer' })],
    });
    expect(table.Table?.CreationDateTime).toBeInstanceOf(Date);
    const tags = await sim.clients
      .dynamoDb()
      .send(new ListTagsOfResourceCommand({ ResourceArn: table.Table!.TableArn }));
    expect(tags.Tags).toEqual([
      { Key: 'team', Value: 'cart' },
      { Key: 'environment', Value: 'staging' },
    ]);
    const missing = await failure(
      sim.clients.dynamoDb().send(new DescribeTableCommand({ TableName: 'orders' })),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
    const targets = await sim.clients
      .applicationAutoScaling()
      .send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }));
    expect(targets.ScalableTargets?.[0]).toMatchObject({
      ResourceId: 'service/shop/checkout',
      MinCapacity: 2,
      MaxCapacity: 12,
    });
    const invalid = await failure(
      sim.clients
        .applicationAutoScaling()
        .send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'nope' as never })),
    );
    expect(invalid.name).toBe('ValidationException');
  });
});

describe('REST-JSON (Lambda, API Gateway)', () => {
  it('pages Lambda versions by Marker and answers 404 ResourceNotFoundException for a missing function', async () => {
    const lambda = sim.clients.lambda();
    const first = await lambda.send(
      new ListVersionsByFunctionCommand({ FunctionName: 'checkout-api', MaxItems: 2 }),
    );
    const rest = await lambda.send(
      new ListVersionsByFunctionCommand({ FunctionName: 'checkout-api', Marker: first.NextMarker }),
    );
    expect([...(first.Versions ?? []), ...(rest.Versions ?? [])].map((version) => version.Version)).toEqual([
      '$LATEST',
      '5',
      '6',
      '7',
    ]);
    expect(first.Versions?.[1]?.LastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: 'checkout-api' }));
    expect(fn).toMatchObject({
      Concurrency: { ReservedConcurrentExecutions: 50 },
      Tags: { team: 'checkout' },
      Configuration: { LoggingConfig: { LogGroup: '/aws/lambda/checkout-api' } },
    });
    const missing = await failure(lambda.send(new GetFunctionCommand({ FunctionName: 'payments' })));
    expect(missing).toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Function not found: arn:aws:lambda:eu-west-1:222222222222:function:payments',
    });
    expect(missing.$metadata?.httpStatusCode).toBe(404);
  });

  it('refuses a stale alias revision and a reservation that would starve the account', async () => {
    const lambda = sim.clients.lambda();
    const alias = await lambda.send(new GetAliasCommand({ FunctionName: 'checkout-api', Name: 'live' }));
    const stale = await failure(
      lambda.send(
        new UpdateAliasCommand({
          FunctionName: 'checkout-api',
          Name: 'live',
          FunctionVersion: '6',
          RevisionId: `${alias.RevisionId}-old`,
        }),
      ),
    );
    expect(stale.name).toBe('PreconditionFailedException');
    expect(
      (await lambda.send(new GetAliasCommand({ FunctionName: 'checkout-api', Name: 'live' })))
        .FunctionVersion,
    ).toBe('7');
    const greedy = await failure(
      lambda.send(
        new PutFunctionConcurrencyCommand({
          FunctionName: 'checkout-api',
          ReservedConcurrentExecutions: 950,
        }),
      ),
    );
    expect(greedy).toMatchObject({
      name: 'InvalidParameterValueException',
      message:
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
    });
  });

  it('lists REST APIs as API Gateway does (item, position) and answers NotFoundException for an unknown stage', async () => {
    const apiGateway: APIGatewayClient = sim.clients.apiGateway();
    const apis = await apiGateway.send(new GetRestApisCommand({ limit: 1 }));
    expect(apis.items?.map((api) => api.name)).toEqual(['shop-api']);
    expect(apis.items?.[0]?.createdDate).toBeInstanceOf(Date);
    const stage = await apiGateway.send(
      new GetStageCommand({ restApiId: apis.items![0]!.id, stageName: 'prod' }),
    );
    expect(stage).toMatchObject({
      stageName: 'prod',
      deploymentId: 'a8hn3c',
      tags: { environment: 'staging' },
    });
    const missing = await failure(
      apiGateway.send(new GetStageCommand({ restApiId: apis.items![0]!.id, stageName: 'beta' })),
    );
    expect(missing).toMatchObject({
      name: 'NotFoundException',
      message: 'Invalid Stage identifier specified',
    });
  });
});

describe('the endpoint', () => {
  it('throttles a caller beyond its rate with the service’s own throttling error', async () => {
    const limited = await startSimulatedAccount({ endpoint: { requestsPerSecond: 1 } });
    try {
      const ec2 = new EC2Client({
        region: DEMO_REGION,
        endpoint: limited.endpoint.url,
        credentials: SIM_CREDENTIALS,
        maxAttempts: 1,
      });
      const calls = await Promise.allSettled(
        Array.from({ length: 5 }, () => ec2.send(new DescribeTagsCommand({ MaxResults: 5 }))),
      );
      const refused = calls.filter((call) => call.status === 'rejected') as PromiseRejectedResult[];
      expect(refused.length).toBeGreaterThanOrEqual(2);
      expect(refused[0]!.reason).toMatchObject({ name: 'RequestLimitExceeded', message: 'Rate exceeded' });
      const lambdaClient = new LambdaClient({
        region: DEMO_REGION,
        endpoint: limited.endpoint.url,
        credentials: SIM_CREDENTIALS,
        maxAttempts: 1,
      });
      const lambdaCalls = await Promise.allSettled(
        Array.from({ length: 5 }, () =>
          lambdaClient.send(new GetFunctionCommand({ FunctionName: 'checkout-api' })),
        ),
      );
      const lambda = (lambdaCalls.find((call) => call.status === 'rejected') as PromiseRejectedResult).reason;
      expect(lambda).toMatchObject({ name: 'TooManyRequestsException' });
      expect(lambda.$metadata?.httpStatusCode).toBe(429);
    } finally {
      await limited.stop();
    }
  });

  it('answers injected faults per service and operation, N times, then the service again', async () => {
    const options = { region: DEMO_REGION, endpoint: sim.endpoint.url, credentials: SIM_CREDENTIALS };
    const apiGateway = new APIGatewayClient({ ...options, maxAttempts: 1 });
    const ec2 = new EC2Client({ ...options, maxAttempts: 1 });
    const restApiId = (await apiGateway.send(new GetRestApisCommand({}))).items![0]!.id!;
    const getStage = () => apiGateway.send(new GetStageCommand({ restApiId, stageName: 'prod' }));
    const seen: string[] = [];
    sim.endpoint.onRequest = (call) => seen.push(`${call.service}:${call.operation}`);
    sim.endpoint
      .failNext({ service: 'apigateway', operation: 'GetStage', error: 'throttle', times: 2 })
      .failNext({ service: 'ec2', operation: 'DescribeInstances', error: { status: 503 } });
    try {
      const throttled = [await failure(getStage()), await failure(getStage())];
      // Another operation of the same service is not throttled; the third GetStage is answered.
      await apiGateway.send(new GetRestApisCommand({}));
      const stage = await getStage();
      const unavailable = await failure(ec2.send(new DescribeInstancesCommand({})));
      const described = await ec2.send(new DescribeInstancesCommand({}));

      for (const error of throttled) {
        expect(error).toMatchObject({ name: 'TooManyRequestsException', message: 'Rate exceeded' });
        expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(429);
      }
      expect(stage.stageName).toBe('prod');
      expect(unavailable).toMatchObject({ name: 'ServiceUnavailable' });
      expect(described.Reservations?.length).toBeGreaterThan(0);
      expect(
        sim.endpoint.requests
          .slice(-6)
          .map((request) => `${request.service}:${request.operation}:${request.status}`),
      ).toEqual([
        'apigateway:GetStage:429',
        'apigateway:GetStage:429',
        'apigateway:GetRestApis:200',
        'apigateway:GetStage:200',
        'ec2:DescribeInstances:503',
        'ec2:DescribeInstances:200',
      ]);
      expect(seen).toContain('apigateway:GetStage');

      // A slow operation answers after the delay; cleared, at once.
      sim.endpoint.slowDown({ service: 'apigateway', operation: 'GetStage', ms: 300 });
      const slowStart = Date.now();
      await getStage();
      expect(Date.now() - slowStart).toBeGreaterThanOrEqual(300);
      sim.endpoint.clearFaults();
      await getStage();
    } finally {
      sim.endpoint.onRequest = undefined;
      sim.endpoint.clearFaults();
    }
  });

  it('refuses an unsigned request and a service it does not simulate, and records both', async () => {
    const unsigned = await fetch(sim.endpoint.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'AmazonSQS.ListQueues', 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationToken');
    const sns = new SNSClient({
      ...clientOptions(sim.endpoint.url),
      region: DEMO_REGION,
      endpoint: sim.endpoint.url,
    });
    const refused = await failure(
      sns.send(new PublishCommand({ TopicArn: 'arn:aws:sns:eu-west-1:222222222222:x', Message: 'hi' })),
    );
    expect(refused.message).toContain(
      "the demo target's AWS account does not simulate sns:Publish; nothing was sent to AWS",
    );
    expect(
      sim.endpoint.requests
        .slice(-2)
        .map((request) => `${request.service}:${request.operation}:${request.status}`),
    ).toEqual(['sqs:ListQueues:403', 'unknown:sns:Publish:400']);
  });

  it('serves every AWS service the tools have a client for, and nothing else on the way', () => {
    expect(sim.endpoint.services.map((service) => service.name).sort()).toEqual([
      'apigateway',
      'application-autoscaling',
      'autoscaling',
      'dynamodb',
      'ec2',
      'ecs',
      'elasticache',
      'elasticloadbalancing',
      'lambda',
      'logs',
      'monitoring',
      'rds',
      'sqs',
      'ssm',
    ]);
    expect(AwsEndpoint).toBeDefined();
  });
});

describe('the AWS resolver against the simulated account', () => {
  const event = (alarmName: string, namespace: string, metric: string, dimensions: Record<string, string>) =>
    normalizeCloudWatchAlarm(
      {
        version: '0',
        id: '5e1d4c3b-2a19-4f08-97e6-d5c4b3a29180',
        'detail-type': 'CloudWatch Alarm State Change',
        source: 'aws.cloudwatch',
        account: '222222222222',
        time: '2026-11-25T14:07:31Z',
        region: 'eu-west-1',
        resources: [`arn:aws:cloudwatch:eu-west-1:222222222222:alarm:${alarmName}`],
        detail: {
          alarmName,
          state: { value: 'ALARM', reason: 'Threshold Crossed', timestamp: '2026-11-25T14:07:31.266+0000' },
          configuration: {
            metrics: [
              {
                id: 'm',
                metricStat: { metric: { namespace, name: metric, dimensions }, period: 60, stat: 'Sum' },
                returnData: true,
              },
            ],
          },
        },
      },
      { environmentLabels: ['environment'], defaultEnvironment: 'staging' },
    ).resource;

  it('resolves a target group of ip targets to its ECS service by scanning the clusters', async () => {
    const resolved = await sim.resolve(
      event('checkout-web-target-5xx', 'AWS/ApplicationELB', 'HTTPCode_Target_5XX_Count', {
        LoadBalancer: 'app/shop-alb/50dc6c495c0c9188',
        TargetGroup: 'targetgroup/checkout-web/73e2d6bc24d8a067',
      }),
    );
    expect(resolved.resource).toMatchObject({
      targetGroupArn: TG,
      ecsService: { cluster: 'shop', service: 'checkout' },
    });
    expect(resolved.resource.unresolved).toEqual([]);
  });

  it('resolves a target group of instances to them and their Auto Scaling group, and an instance to its group', async () => {
    const group = await sim.resolve(
      event('legacy-web-unhealthy-hosts', 'AWS/ApplicationELB', 'UnHealthyHostCount', {
        LoadBalancer: 'app/shop-alb/50dc6c495c0c9188',
        TargetGroup: 'targetgroup/legacy-web/8f0e1d2c3b4a5968',
      }),
    );
    expect(group.resource).toMatchObject({
      instances: ['i-0a1b2c3d4e5f60718', 'i-0b2c3d4e5f6071829'],
      autoScalingGroup: 'legacy-web-asg',
    });
    const instance = await sim.resolve(
      event('legacy-web-status', 'AWS/EC2', 'StatusCheckFailed', { InstanceId: 'i-0a1b2c3d4e5f60718' }),
    );
    expect(instance.resource).toMatchObject({
      instanceId: 'i-0a1b2c3d4e5f60718',
      autoScalingGroup: 'legacy-web-asg',
      tags: { team: 'web' },
    });
  });

  it('resolves a queue to its URL, dead-letter queue and consumer, and a stage to its REST API', async () => {
    const queue = await sim.resolve(
      event('order-events-age', 'AWS/SQS', 'ApproximateAgeOfOldestMessage', { QueueName: 'order-events' }),
    );
    expect(queue.resource).toMatchObject({
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/222222222222/order-events',
      deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/222222222222/order-events-dlq',
      functionName: 'order-worker',
      tags: { team: 'orders' },
    });
    const stage = await sim.resolve(
      event('shop-api-5xx', 'AWS/ApiGateway', '5XXError', { ApiName: 'shop-api', Stage: 'prod' }),
    );
    expect(stage.resource).toMatchObject({ restApiId: 'k7x2pq9w1d', tags: { environment: 'staging' } });
  });
});

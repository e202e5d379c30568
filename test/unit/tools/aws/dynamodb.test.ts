import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TableCapacityOutput } from '../../../../functions/tools/declarations/aws/dynamodb.ts';
import { awsError, awsToolset, NOW, rejectionOf } from './tool-context.ts';

const dynamo = mockClient(DynamoDBClient);
const scaling = mockClient(ApplicationAutoScalingClient);
const cloudWatch = mockClient(CloudWatchClient);
const tools = awsToolset();

const ACCOUNT = '666666666666';
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

/** Answers every GetMetricData query from a table of sums by metric name, dimension values joined by '/'. */
function metricsAnswer(sums: Record<string, number[]>) {
  cloudWatch.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries: MetricDataQuery[] }) => ({
    MetricDataResults: input.MetricDataQueries.map((query) => {
      const metric = query.MetricStat!.Metric!;
      const key = [
        metric.MetricName,
        ...(metric.Dimensions ?? []).slice(1).map((dimension) => dimension.Value),
      ].join('/');
      const values = sums[key] ?? [];
      return {
        Id: query.Id,
        StatusCode: 'Complete',
        Timestamps: values.map((_, index) => minutesAgo(values.length - index)),
        Values: values,
      };
    }),
  }));
}

describe('dynamodb.table-capacity', () => {
  beforeEach(() => {
    dynamo.reset();
    scaling.reset();
    cloudWatch.reset();
  });

  it('reads provisioned capacity, auto scaling, consumption and throttling of the table and its index', async () => {
    // Prepare
    dynamo.on(DescribeTableCommand).resolves({
      Table: {
        TableName: 'orders',
        TableStatus: 'ACTIVE',
        TableArn: `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/orders`,
        ItemCount: 1_204_311,
        TableSizeBytes: 987_654_321,
        BillingModeSummary: { BillingMode: 'PROVISIONED' },
        ProvisionedThroughput: { ReadCapacityUnits: 100, WriteCapacityUnits: 50, NumberOfDecreasesToday: 0 },
        GlobalSecondaryIndexes: [
          {
            IndexName: 'by-customer',
            IndexStatus: 'ACTIVE',
            ProvisionedThroughput: {
              ReadCapacityUnits: 20,
              WriteCapacityUnits: 50,
              NumberOfDecreasesToday: 0,
            },
          },
        ],
      },
    });
    scaling.on(DescribeScalableTargetsCommand).resolves({
      ScalableTargets: [
        {
          ServiceNamespace: 'dynamodb',
          ResourceId: 'table/orders',
          ScalableDimension: 'dynamodb:table:ReadCapacityUnits',
          MinCapacity: 50,
          MaxCapacity: 400,
          RoleARN: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/dynamodb.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_DynamoDBTable`,
          CreationTime: minutesAgo(100_000),
        },
        {
          ServiceNamespace: 'dynamodb',
          ResourceId: 'table/orders/index/by-customer',
          ScalableDimension: 'dynamodb:index:WriteCapacityUnits',
          MinCapacity: 10,
          MaxCapacity: 50,
          RoleARN: `arn:aws:iam::${ACCOUNT}:role/scaling`,
          CreationTime: minutesAgo(100_000),
        },
      ],
    });
    scaling.on(DescribeScalingPoliciesCommand, { ResourceId: 'table/orders' }).resolves({
      ScalingPolicies: [
        {
          PolicyARN: `arn:aws:autoscaling:eu-west-1:${ACCOUNT}:scalingPolicy:1:resource/dynamodb/table/orders:policyName/read`,
          PolicyName: 'read',
          ServiceNamespace: 'dynamodb',
          ResourceId: 'table/orders',
          ScalableDimension: 'dynamodb:table:ReadCapacityUnits',
          PolicyType: 'TargetTrackingScaling',
          TargetTrackingScalingPolicyConfiguration: {
            TargetValue: 70,
            PredefinedMetricSpecification: { PredefinedMetricType: 'DynamoDBReadCapacityUtilization' },
          },
          CreationTime: minutesAgo(100_000),
        },
      ],
    });
    scaling
      .on(DescribeScalingPoliciesCommand, { ResourceId: 'table/orders/index/by-customer' })
      .resolves({ ScalingPolicies: [] });
    metricsAnswer({
      ConsumedReadCapacityUnits: [5_400, 6_600],
      ConsumedWriteCapacityUnits: [2_700, 2_700],
      WriteThrottleEvents: [0, 0],
      'ThrottledRequests/PutItem': [4, 8],
      'ThrottledRequests/Query': [0],
      'ConsumedWriteCapacityUnits/by-customer': [3_000, 3_000],
      'WriteThrottleEvents/by-customer': [120, 31],
    });

    // Act
    const output = (await tools.run('dynamodb.table-capacity', {
      tableName: 'orders',
    })) as TableCapacityOutput;

    // Assess
    expect(output).toEqual({
      tableName: 'orders',
      status: 'ACTIVE',
      billingMode: 'PROVISIONED',
      provisioned: { readCapacityUnits: 100, writeCapacityUnits: 50 },
      onDemandMaximum: null,
      itemCount: 1_204_311,
      sizeBytes: 987_654_321,
      lookbackMinutes: 15,
      consumedReadPerSecond: 13.33,
      consumedWritePerSecond: 6,
      readThrottleEvents: 0,
      writeThrottleEvents: 0,
      throttledRequestsByOperation: { PutItem: 12 },
      autoScaling: [
        {
          resource: 'table',
          dimension: 'read',
          minCapacity: 50,
          maxCapacity: 400,
          targetUtilizationPercent: 70,
        },
        {
          resource: 'index/by-customer',
          dimension: 'write',
          minCapacity: 10,
          maxCapacity: 50,
          targetUtilizationPercent: null,
        },
      ],
      indexes: [
        {
          name: 'by-customer',
          status: 'ACTIVE',
          provisioned: { readCapacityUnits: 20, writeCapacityUnits: 50 },
          consumedReadPerSecond: 0,
          consumedWritePerSecond: 6.67,
          readThrottleEvents: 0,
          writeThrottleEvents: 151,
        },
      ],
    });
    expect(scaling.commandCalls(DescribeScalableTargetsCommand)[0]?.args[0].input).toMatchObject({
      ServiceNamespace: 'dynamodb',
      ResourceIds: ['table/orders', 'table/orders/index/by-customer'],
    });
    expect(cloudWatch.commandCalls(GetMetricDataCommand)[0]?.args[0].input.MetricDataQueries).toHaveLength(
      4 + 4 + 10,
    );
  });

  it('reports an on-demand table without provisioned capacity', async () => {
    dynamo.on(DescribeTableCommand).resolves({
      Table: {
        TableName: 'sessions',
        TableStatus: 'ACTIVE',
        BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
        ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0, NumberOfDecreasesToday: 0 },
        OnDemandThroughput: { MaxReadRequestUnits: 4_000, MaxWriteRequestUnits: -1 },
      },
    });
    scaling.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [] });
    metricsAnswer({ 'ThrottledRequests/GetItem': [2] });

    const output = (await tools.run('dynamodb.table-capacity', {
      tableName: 'sessions',
    })) as TableCapacityOutput;

    expect(output).toMatchObject({
      billingMode: 'PAY_PER_REQUEST',
      provisioned: null,
      onDemandMaximum: { maxReadRequestUnits: 4_000, maxWriteRequestUnits: -1 },
      throttledRequestsByOperation: { GetItem: 2 },
      autoScaling: [],
      indexes: [],
    });
    expect(scaling.commandCalls(DescribeScalingPoliciesCommand)).toHaveLength(0);
  });

  it('is NotFound for an unknown table; throttling is Throttled', async () => {
    dynamo.on(DescribeTableCommand).rejects(
      new ResourceNotFoundException({
        message: 'Requested resource not found: Table: ordres not found',
        $metadata: {},
      }),
    );
    expect((await rejectionOf(tools.run('dynamodb.table-capacity', { tableName: 'ordres' }))).name).toBe(
      'Tool.NotFound',
    );
    dynamo
      .on(DescribeTableCommand)
      .rejects(awsError('ThrottlingException', 'Rate of requests exceeds the allowed throughput.'));
    expect((await rejectionOf(tools.run('dynamodb.table-capacity', { tableName: 'orders' }))).name).toBe(
      'Tool.Throttled',
    );
  });
});

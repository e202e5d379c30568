import * as z from 'zod';
import type { ToolDeclaration } from '../../../core/tool-catalog.ts';
import { awsRegion } from '../shared.ts';

/** DynamoDB tools. */

const capacity = z.object({ readCapacityUnits: z.number(), writeCapacityUnits: z.number() });

const consumedAndThrottled = {
  consumedReadPerSecond: z
    .number()
    .describe('ConsumedReadCapacityUnits per second, averaged over the window'),
  consumedWritePerSecond: z.number(),
  readThrottleEvents: z.number().describe('ReadThrottleEvents in the window (sum)'),
  writeThrottleEvents: z.number(),
};

export const TableCapacityOutput = z.object({
  tableName: z.string(),
  status: z.string().describe('ACTIVE, UPDATING, CREATING…'),
  billingMode: z.string().describe('PROVISIONED or PAY_PER_REQUEST'),
  provisioned: capacity.nullable().describe('provisioned RCU/WCU; null on demand'),
  onDemandMaximum: z
    .object({ maxReadRequestUnits: z.number().nullable(), maxWriteRequestUnits: z.number().nullable() })
    .nullable()
    .describe('on-demand throughput ceilings; null when none is set'),
  itemCount: z.number().nullable(),
  sizeBytes: z.number().nullable(),
  lookbackMinutes: z.number(),
  ...consumedAndThrottled,
  throttledRequestsByOperation: z
    .record(z.string(), z.number())
    .describe('ThrottledRequests in the window per operation (GetItem, PutItem, Query…), only those above 0'),
  autoScaling: z
    .array(
      z.object({
        resource: z.string().describe('table, or index/NAME'),
        dimension: z.string().describe('read or write'),
        minCapacity: z.number(),
        maxCapacity: z.number(),
        targetUtilizationPercent: z.number().nullable(),
      }),
    )
    .describe('Application Auto Scaling targets of the table and its indexes'),
  indexes: z
    .array(
      z.object({
        name: z.string(),
        status: z.string().nullable(),
        provisioned: capacity.nullable(),
        ...consumedAndThrottled,
      }),
    )
    .describe('global secondary indexes'),
});
export type TableCapacityOutput = z.infer<typeof TableCapacityOutput>;

export const DYNAMODB_TOOL_DECLARATIONS = [
  {
    name: 'dynamodb.table-capacity',
    description:
      'Reads a DynamoDB table’s capacity and throttling: billing mode, provisioned or on-demand limits, auto scaling ranges, consumed capacity and throttle events of the table and each global secondary index, throttled requests per operation.',
    parameters: z
      .object({
        tableName: z.string().min(3).max(255).describe('the TableName dimension'),
        lookbackMinutes: z.number().int().min(1).max(1_440).default(15),
        region: awsRegion,
      })
      .strict(),
    output: TableCapacityOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the table and its metrics (read-only tools run for real in dry-run)',
    permissions: {
      iam: [
        'dynamodb:DescribeTable',
        'application-autoscaling:DescribeScalableTargets',
        'application-autoscaling:DescribeScalingPolicies',
        'cloudwatch:GetMetricData',
      ],
    },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

import {
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  type ScalableTarget,
  type ScalingPolicy,
} from '@aws-sdk/client-application-auto-scaling';
import { DescribeTableCommand, type ProvisionedThroughputDescription } from '@aws-sdk/client-dynamodb';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type { TableCapacityOutput } from '../declarations/aws/dynamodb.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { type MetricQuery, type MetricSeries, readMetrics, seriesOfKey } from './metrics.ts';

/** The operations DynamoDB reports ThrottledRequests for (the Operation dimension). */
export const THROTTLED_OPERATIONS = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
] as const;

const MAX_PAGES = 10;
const round = (value: number) => Math.round(value * 100) / 100;

function provisionedOf(
  throughput: ProvisionedThroughputDescription | undefined,
  billingMode: string,
): { readCapacityUnits: number; writeCapacityUnits: number } | null {
  if (billingMode !== 'PROVISIONED' || !throughput) return null;
  return {
    readCapacityUnits: throughput.ReadCapacityUnits ?? 0,
    writeCapacityUnits: throughput.WriteCapacityUnits ?? 0,
  };
}

async function autoScalingOf(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  resourceIds: string[],
  region: string | undefined,
): Promise<TableCapacityOutput['autoScaling']> {
  const site = (action: string) => ({
    tool,
    action,
    resource: `scalable targets of ${resourceIds[0]}`,
    region,
  });
  const client = deps.clients.applicationAutoScaling(region);
  const targets: ScalableTarget[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await callAws(
      site('application-autoscaling:DescribeScalableTargets'),
      context,
      (abortSignal) =>
        client.send(
          new DescribeScalableTargetsCommand({
            ServiceNamespace: 'dynamodb',
            ResourceIds: resourceIds,
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
    );
    targets.push(...(page.ScalableTargets ?? []));
    nextToken = page.NextToken || undefined;
    pages += 1;
  } while (nextToken && pages < MAX_PAGES);

  const policies: ScalingPolicy[] = [];
  for (const resourceId of new Set(targets.map((target) => target.ResourceId ?? ''))) {
    if (!resourceId) continue;
    let policyToken: string | undefined;
    let policyPages = 0;
    do {
      const page = await callAws(
        site('application-autoscaling:DescribeScalingPolicies'),
        context,
        (abortSignal) =>
          client.send(
            new DescribeScalingPoliciesCommand({
              ServiceNamespace: 'dynamodb',
              ResourceId: resourceId,
              NextToken: policyToken,
            }),
            { abortSignal },
          ),
      );
      policies.push(...(page.ScalingPolicies ?? []));
      policyToken = page.NextToken || undefined;
      policyPages += 1;
    } while (policyToken && policyPages < MAX_PAGES);
  }
  const tableId = resourceIds[0]!;
  return targets.map((target) => {
    const policy = policies.find(
      (candidate) =>
        candidate.ResourceId === target.ResourceId &&
        candidate.ScalableDimension === target.ScalableDimension,
    );
    return {
      resource: target.ResourceId === tableId ? 'table' : (target.ResourceId ?? '').slice(tableId.length + 1),
      dimension: (target.ScalableDimension ?? '').endsWith('ReadCapacityUnits') ? 'read' : 'write',
      minCapacity: target.MinCapacity ?? 0,
      maxCapacity: target.MaxCapacity ?? 0,
      targetUtilizationPercent: policy?.TargetTrackingScalingPolicyConfiguration?.TargetValue ?? null,
    };
  });
}

export function tableCapacityTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('dynamodb.table-capacity');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const { tableName, lookbackMinutes } = parameters;
    const described = await callAws(
      { tool, action: 'dynamodb:DescribeTable', resource: `table ${tableName}`, region },
      context,
      (abortSignal) =>
        deps.clients
          .dynamoDb(region)
          .send(new DescribeTableCommand({ TableName: tableName }), { abortSignal }),
    );
    const table = described.Table;
    if (!table) {
      throw new ToolError(
        ToolErrorKind.NotFound,
        `${tool}: DescribeTable returned no table ${tableName} in ${region ?? 'the default region'}`,
      );
    }
    // Tables created before on-demand existed report no BillingModeSummary: they are provisioned.
    const billingMode = table.BillingModeSummary?.BillingMode ?? 'PROVISIONED';
    const indexes = table.GlobalSecondaryIndexes ?? [];
    const tableId = `table/${tableName}`;
    const autoScaling = await autoScalingOf(
      deps,
      context,
      tool,
      [tableId, ...indexes.map((index) => `${tableId}/index/${index.IndexName}`)],
      region,
    );

    const queries: MetricQuery[] = [];
    const usage = (prefix: string, dimensions: Record<string, string>) => {
      for (const metricName of [
        'ConsumedReadCapacityUnits',
        'ConsumedWriteCapacityUnits',
        'ReadThrottleEvents',
        'WriteThrottleEvents',
      ])
        queries.push({
          key: `${prefix}${metricName}`,
          namespace: 'AWS/DynamoDB',
          metricName,
          dimensions,
          stat: 'Sum',
        });
    };
    usage('table:', { TableName: tableName });
    for (const index of indexes)
      usage(`index:${index.IndexName}:`, {
        TableName: tableName,
        GlobalSecondaryIndexName: index.IndexName ?? '',
      });
    for (const operation of THROTTLED_OPERATIONS)
      queries.push({
        key: `operation:${operation}`,
        namespace: 'AWS/DynamoDB',
        metricName: 'ThrottledRequests',
        dimensions: { TableName: tableName, Operation: operation },
        stat: 'Sum',
      });
    const metrics = await readMetrics(
      deps,
      context,
      { tool, resource: `table ${tableName}`, region },
      queries,
      lookbackMinutes,
    );
    const seconds = lookbackMinutes * 60;
    const usageOf = (prefix: string) => {
      const sum = (name: string) => seriesOfKey(metrics, `${prefix}${name}`).sum;
      return {
        consumedReadPerSecond: round(sum('ConsumedReadCapacityUnits') / seconds),
        consumedWritePerSecond: round(sum('ConsumedWriteCapacityUnits') / seconds),
        readThrottleEvents: sum('ReadThrottleEvents'),
        writeThrottleEvents: sum('WriteThrottleEvents'),
      };
    };
    const throttledByOperation = Object.fromEntries(
      THROTTLED_OPERATIONS.map(
        (operation) => [operation, seriesOfKey(metrics, `operation:${operation}`)] as const,
      )
        .filter(([, series]: readonly [string, MetricSeries]) => series.sum > 0)
        .map(([operation, series]) => [operation, series.sum]),
    );
    const onDemand = table.OnDemandThroughput;
    const output: TableCapacityOutput = {
      tableName,
      status: table.TableStatus ?? 'unknown',
      billingMode,
      provisioned: provisionedOf(table.ProvisionedThroughput, billingMode),
      onDemandMaximum:
        onDemand &&
        (onDemand.MaxReadRequestUnits !== undefined || onDemand.MaxWriteRequestUnits !== undefined)
          ? {
              maxReadRequestUnits: onDemand.MaxReadRequestUnits ?? null,
              maxWriteRequestUnits: onDemand.MaxWriteRequestUnits ?? null,
            }
          : null,
      itemCount: table.ItemCount ?? null,
      sizeBytes: table.TableSizeBytes ?? null,
      lookbackMinutes,
      ...usageOf('table:'),
      throttledRequestsByOperation: throttledByOperation,
      autoScaling,
      indexes: indexes.map((index) => ({
        name: index.IndexName ?? 'unknown',
        status: index.IndexStatus ?? null,
        provisioned: provisionedOf(index.ProvisionedThroughput, billingMode),
        ...usageOf(`index:${index.IndexName}:`),
      })),
    };
    return output;
  });
}

export type { TableCapacityOutput } from '../declarations/aws/dynamodb.ts';

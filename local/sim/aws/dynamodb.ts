import type { AwsAccount } from './account.ts';
import { dateOf } from './ids.ts';
import type { MetricSeries } from './metric-store.ts';
import { type AwsCall, AwsError, page, type ServiceDefinition } from './protocol.ts';

/**
 * Amazon DynamoDB: the on-demand table carts with its global secondary index by-customer, the
 * capacity it consumes and, when its traffic exceeds what a partition takes, the throttle events it
 * reports (AWS/DynamoDB, per table, per index and per operation).
 * API (AWS JSON 1.0): DescribeTable, ListTagsOfResource.
 */

export const OPERATIONS = [
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
];

export interface TableModel {
  name: string;
  arn: string;
  id: string;
  createdAt: number;
  itemCount: number;
  sizeBytes: number;
  index: { name: string; itemCount: number; sizeBytes: number };
  tags: Record<string, string>;
  /** Read and write units a second it is asked for, and the share throttled. */
  reads: number;
  writes: number;
  throttledShare: number;
  metrics: Record<string, MetricSeries>;
}

export class DynamoDbModel {
  readonly tables = new Map<string, TableModel>();

  constructor(account: AwsAccount) {
    const name = 'carts';
    const table: TableModel = {
      name,
      arn: account.arn('dynamodb', `table/${name}`),
      id: '3f9a2c1e-7b6d-4e5f-8a9b-0c1d2e3f4a5b',
      createdAt: account.startedAt - 600 * 86_400,
      itemCount: 1_284_551,
      sizeBytes: 902_114_877,
      index: { name: 'by-customer', itemCount: 1_284_551, sizeBytes: 311_904_220 },
      tags: { team: 'cart', environment: 'staging' },
      reads: 85,
      writes: 24,
      throttledShare: 0,
      metrics: {},
    };
    const define = (
      metricName: string,
      dimensions: Record<string, string>,
      kind: 'count' | 'gauge',
      initial: number,
      omitZero = false,
    ) =>
      account.metrics.define(
        { namespace: 'AWS/DynamoDB', metricName, dimensions },
        {
          kind,
          unit: kind === 'gauge' ? 'Milliseconds' : 'Count',
          initial,
          omitZero,
          noise: 0.06,
          integer: false,
        },
      );
    const byTable = { TableName: name };
    const byIndex = { TableName: name, GlobalSecondaryIndexName: table.index.name };
    table.metrics.consumedRead = define('ConsumedReadCapacityUnits', byTable, 'count', table.reads);
    table.metrics.consumedWrite = define('ConsumedWriteCapacityUnits', byTable, 'count', table.writes);
    table.metrics.readThrottles = define('ReadThrottleEvents', byTable, 'count', 0, true);
    table.metrics.writeThrottles = define('WriteThrottleEvents', byTable, 'count', 0, true);
    table.metrics.indexRead = define('ConsumedReadCapacityUnits', byIndex, 'count', table.reads * 0.3);
    table.metrics.indexWrite = define('ConsumedWriteCapacityUnits', byIndex, 'count', table.writes);
    table.metrics.indexReadThrottles = define('ReadThrottleEvents', byIndex, 'count', 0, true);
    table.metrics.indexWriteThrottles = define('WriteThrottleEvents', byIndex, 'count', 0, true);
    for (const operation of OPERATIONS) {
      const dimensions = { TableName: name, Operation: operation };
      table.metrics[`throttled:${operation}`] = define('ThrottledRequests', dimensions, 'count', 0, true);
      table.metrics[`systemErrors:${operation}`] = define('SystemErrors', dimensions, 'count', 0, true);
      table.metrics[`latency:${operation}`] = define(
        'SuccessfulRequestLatency',
        dimensions,
        'gauge',
        operation.startsWith('Get') ? 3.1 : 5.4,
      );
    }
    this.tables.set(name, table);
  }

  tick(now: number): void {
    for (const table of this.tables.values()) {
      const { metrics } = table;
      const throttled = table.throttledShare;
      metrics.consumedRead!.record(now, table.reads * (1 - throttled));
      metrics.consumedWrite!.record(now, table.writes * (1 - throttled));
      metrics.readThrottles!.record(now, table.reads * throttled * 0.1);
      metrics.writeThrottles!.record(now, table.writes * throttled * 0.1);
      metrics.indexRead!.record(now, table.reads * 0.3 * (1 - throttled));
      metrics.indexWrite!.record(now, table.writes * (1 - throttled));
      metrics['throttled:GetItem']!.record(now, table.reads * throttled * 0.05);
      metrics['throttled:UpdateItem']!.record(now, table.writes * throttled * 0.05);
    }
  }
}

function tableOutput(table: TableModel) {
  const throughput = { NumberOfDecreasesToday: 0, ReadCapacityUnits: 0, WriteCapacityUnits: 0 };
  return {
    AttributeDefinitions: [
      { AttributeName: 'cartId', AttributeType: 'S' },
      { AttributeName: 'customerId', AttributeType: 'S' },
    ],
    TableName: table.name,
    KeySchema: [{ AttributeName: 'cartId', KeyType: 'HASH' }],
    TableStatus: 'ACTIVE',
    CreationDateTime: dateOf(table.createdAt),
    ProvisionedThroughput: throughput,
    TableSizeBytes: table.sizeBytes,
    ItemCount: table.itemCount,
    TableArn: table.arn,
    TableId: table.id,
    BillingModeSummary: {
      BillingMode: 'PAY_PER_REQUEST',
      LastUpdateToPayPerRequestDateTime: dateOf(table.createdAt),
    },
    GlobalSecondaryIndexes: [
      {
        IndexName: table.index.name,
        KeySchema: [{ AttributeName: 'customerId', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
        IndexStatus: 'ACTIVE',
        ProvisionedThroughput: throughput,
        IndexSizeBytes: table.index.sizeBytes,
        ItemCount: table.index.itemCount,
        IndexArn: `${table.arn}/index/${table.index.name}`,
      },
    ],
    TableClassSummary: { TableClass: 'STANDARD' },
    DeletionProtectionEnabled: true,
    SSEDescription: { Status: 'ENABLED', SSEType: 'KMS' },
  };
}

export function dynamoDbService(account: AwsAccount): ServiceDefinition {
  const model = account.dynamoDb;
  return {
    name: 'dynamodb',
    protocol: 'json',
    jsonVersion: '1.0',
    target: 'DynamoDB_20120810',
    handle(call: AwsCall) {
      const input = call.input;
      switch (call.operation) {
        case 'DescribeTable': {
          const name = String(input.TableName ?? '');
          const table = model.tables.get(name.startsWith('arn:') ? (name.split('/').at(-1) ?? name) : name);
          if (!table)
            throw new AwsError(
              'ResourceNotFoundException',
              `Requested resource not found: Table: ${name} not found`,
            );
          return { body: { Table: tableOutput(table) } };
        }
        case 'ListTagsOfResource': {
          const arn = String(input.ResourceArn ?? '');
          const table = [...model.tables.values()].find((candidate) => candidate.arn === arn);
          if (!table)
            throw new AwsError(
              'ResourceNotFoundException',
              `Requested resource not found: ResourcArn: ${arn} not found`,
            );
          const tags = Object.entries(table.tags).map(([Key, Value]) => ({ Key, Value }));
          const { items, next } = page(
            tags,
            input.NextToken as string | undefined,
            10,
            `dynamodb:tags:${arn}`,
            'ValidationException',
          );
          return { body: { Tags: items, ...(next ? { NextToken: next } : {}) } };
        }
        default:
          return undefined;
      }
    },
  };
}

import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The one DynamoDB table the Store uses, as data: CDK (infra/) declares the table from it, the local
 * platform and the tests create it from `createTableInput`. DATA_MODEL.md explains every key.
 */

export const TableKey = { partition: 'pk', sort: 'sk' } as const;

/** Epoch seconds; AWS deletes the item after it (TTL is enabled in CDK only: dynalite has no TTL). */
export const TTL_ATTRIBUTE = 'ttl';

export interface GlobalIndexDesign {
  name: string;
  partitionKey: string;
  sortKey: string;
  /**
   * KEYS_ONLY everywhere: items are read back with BatchGetItem. Execution items are updated at every
   * state the engine enters; with KEYS_ONLY those updates never write to an index (only key changes do).
   */
  projection: 'KEYS_ONLY';
  /** What lives in the index, for DATA_MODEL.md and for readers of infra. */
  holds: string;
}

/** Global secondary indexes, overloaded: each names the entities whose items carry its keys. */
export const GlobalIndex = {
  /** Every execution, newest first: `EXECUTIONS` / `<startedAt>#<executionId>`; deferred alerts by their holder's lock expiry. */
  executionsByStart: {
    name: 'gsi1',
    partitionKey: 'gsi1pk',
    sortKey: 'gsi1sk',
    projection: 'KEYS_ONLY',
    holds:
      'executions (gsi1pk EXECUTIONS, gsi1sk <startedAt>#<executionId>); ' +
      "deferred alerts (gsi1pk DEFERRED, gsi1sk <holder's lock expiry>#<resourceKey>#<incidentId>)",
  },
  /** Executions of one runbook; notifications of one execution. */
  byRunbookOrExecution: {
    name: 'gsi2',
    partitionKey: 'gsi2pk',
    sortKey: 'gsi2sk',
    projection: 'KEYS_ONLY',
    holds:
      'executions (gsi2pk RUNBOOK#<runbookId>, gsi2sk <startedAt>#<executionId>); ' +
      'notifications (gsi2pk OUTBOX#EXEC#<executionId>, gsi2sk <sentAt>#<notificationId>)',
  },
  /** Executions against one resource key; audit events about one resource. */
  byResource: {
    name: 'gsi3',
    partitionKey: 'gsi3pk',
    sortKey: 'gsi3sk',
    projection: 'KEYS_ONLY',
    holds:
      'executions (gsi3pk RESOURCE#<resourceKey>, gsi3sk <startedAt>#<executionId>); ' +
      'audit events (gsi3pk AUDIT#RESOURCE#<resourceKey>, gsi3sk <at>#<trail>#SEQ#<sequence>)',
  },
  /** Audit events by who acted (a person or a component of the platform). */
  byActor: {
    name: 'gsi4',
    partitionKey: 'gsi4pk',
    sortKey: 'gsi4sk',
    projection: 'KEYS_ONLY',
    holds: 'audit events (gsi4pk AUDIT#ACTOR#<actorId>, gsi4sk <at>#<trail>#SEQ#<sequence>)',
  },
} as const satisfies Record<string, GlobalIndexDesign>;

export const TABLE_DESIGN = {
  partitionKey: TableKey.partition,
  sortKey: TableKey.sort,
  globalIndexes: Object.values(GlobalIndex) as GlobalIndexDesign[],
  ttlAttribute: TTL_ATTRIBUTE,
  billingMode: 'PAY_PER_REQUEST',
} as const;

/** The CreateTable request for the Store's table (on-demand capacity; TTL is a separate call). */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const keyAttributes: string[] = [TableKey.partition, TableKey.sort];
  for (const index of TABLE_DESIGN.globalIndexes) keyAttributes.push(index.partitionKey, index.sortKey);
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: keyAttributes.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: TableKey.partition, KeyType: 'HASH' },
      { AttributeName: TableKey.sort, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: TABLE_DESIGN.globalIndexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: index.projection },
    })),
  };
}

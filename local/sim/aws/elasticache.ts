import type { AwsAccount } from './account.ts';
import { dateOf } from './ids.ts';
import type { MetricSeries } from './metric-store.ts';
import {
  type AwsCall,
  AwsError,
  page,
  queryBoolean,
  queryNumber,
  queryString,
  type ServiceDefinition,
  XmlList,
} from './protocol.ts';

/**
 * Amazon ElastiCache: the Redis node sessions-001 of replication group sessions, its parameter group
 * (the eviction policy among the engine's parameters) and its AWS/ElastiCache metrics (CPU, engine
 * CPU, memory used, evictions, connections).
 * API (AWS Query): DescribeCacheClusters, DescribeCacheParameters.
 */

export const CACHE_CLUSTER = 'sessions-001';
const PARAMETER_GROUP = 'sessions-redis7';

/** The Redis 7 parameters of an ElastiCache parameter group (alphabetical, as ElastiCache lists them). */
const REDIS_PARAMETERS: Array<[string, string, string]> = [
  ['acllog-max-len', '128', 'integer'],
  ['active-defrag-cycle-max', '75', 'integer'],
  ['active-defrag-cycle-min', '5', 'integer'],
  ['active-defrag-ignore-bytes', '104857600', 'integer'],
  ['active-defrag-max-scan-fields', '1000', 'integer'],
  ['active-defrag-threshold-lower', '10', 'integer'],
  ['active-defrag-threshold-upper', '100', 'integer'],
  ['activedefrag', 'no', 'string'],
  ['activerehashing', 'yes', 'string'],
  ['appendfsync', 'everysec', 'string'],
  ['appendonly', 'no', 'string'],
  ['client-output-buffer-limit-normal-hard-limit', '0', 'integer'],
  ['client-output-buffer-limit-normal-soft-limit', '0', 'integer'],
  ['client-output-buffer-limit-normal-soft-seconds', '0', 'integer'],
  ['client-output-buffer-limit-pubsub-hard-limit', '33554432', 'integer'],
  ['client-output-buffer-limit-pubsub-soft-limit', '8388608', 'integer'],
  ['client-output-buffer-limit-pubsub-soft-seconds', '60', 'integer'],
  ['client-output-buffer-limit-replica-soft-seconds', '60', 'integer'],
  ['client-query-buffer-limit', '1073741824', 'integer'],
  ['close-on-replica-write', 'yes', 'string'],
  ['cluster-allow-pubsubshard-when-down', 'yes', 'string'],
  ['cluster-allow-reads-when-down', 'no', 'string'],
  ['cluster-enabled', 'no', 'string'],
  ['cluster-require-full-coverage', 'no', 'string'],
  ['databases', '16', 'integer'],
  ['hash-max-listpack-entries', '128', 'integer'],
  ['hash-max-listpack-value', '64', 'integer'],
  ['hll-sparse-max-bytes', '3000', 'integer'],
  ['latency-tracking', 'no', 'string'],
  ['lazyfree-lazy-eviction', 'no', 'string'],
  ['lazyfree-lazy-expire', 'no', 'string'],
  ['lazyfree-lazy-server-del', 'no', 'string'],
  ['lazyfree-lazy-user-del', 'no', 'string'],
  ['lazyfree-lazy-user-flush', 'no', 'string'],
  ['lfu-decay-time', '1', 'integer'],
  ['lfu-log-factor', '10', 'integer'],
  ['list-compress-depth', '0', 'integer'],
  ['list-max-listpack-size', '-2', 'integer'],
  ['lua-replicate-commands', 'yes', 'string'],
  ['lua-time-limit', '5000', 'integer'],
  ['maxclients', '65000', 'integer'],
  ['maxmemory-clients', '0', 'string'],
  ['maxmemory-policy', 'volatile-lru', 'string'],
  ['maxmemory-samples', '3', 'integer'],
  ['min-replicas-max-lag', '10', 'integer'],
  ['min-replicas-to-write', '0', 'integer'],
  ['notify-keyspace-events', '', 'string'],
  ['proto-max-bulk-len', '536870912', 'integer'],
  ['rename-commands', '', 'string'],
  ['repl-backlog-size', '1048576', 'integer'],
  ['repl-backlog-ttl', '3600', 'integer'],
  ['replica-allow-chaining', 'no', 'string'],
  ['replica-ignore-maxmemory', 'yes', 'string'],
  ['replica-lazy-flush', 'yes', 'string'],
  ['reserved-memory-percent', '25', 'integer'],
  ['set-max-intset-entries', '512', 'integer'],
  ['set-max-listpack-entries', '128', 'integer'],
  ['set-max-listpack-value', '64', 'integer'],
  ['slowlog-log-slower-than', '10000', 'integer'],
  ['slowlog-max-len', '128', 'integer'],
  ['stream-node-max-bytes', '4096', 'integer'],
  ['stream-node-max-entries', '100', 'integer'],
  ['tcp-keepalive', '300', 'integer'],
  ['timeout', '0', 'integer'],
  ['tracking-table-max-keys', '1000000', 'integer'],
  ['zset-max-listpack-entries', '128', 'integer'],
  ['zset-max-listpack-value', '64', 'integer'],
];

export interface CacheClusterModel {
  id: string;
  createdAt: number;
  memoryPercent: number;
  cpuPercent: number;
  evictionsPerSecond: number;
}

export class ElastiCacheModel {
  readonly clusters = new Map<string, CacheClusterModel>();
  private readonly definitions = new Map<string, Record<string, MetricSeries[]>>();

  constructor(private readonly account: AwsAccount) {
    const cluster: CacheClusterModel = {
      id: CACHE_CLUSTER,
      createdAt: account.startedAt - 420 * 86_400,
      memoryPercent: 61,
      cpuPercent: 7,
      evictionsPerSecond: 0,
    };
    this.clusters.set(cluster.id, cluster);
    this.definitions.set(cluster.id, this.series(cluster));
  }

  private series(cluster: CacheClusterModel): Record<string, MetricSeries[]> {
    const byCluster = { CacheClusterId: cluster.id };
    const byNode = { CacheClusterId: cluster.id, CacheNodeId: '0001' };
    const gauge = (metricName: string, unit: string, initial: number, noise = 0.05) =>
      [byCluster, byNode].map((dimensions) =>
        this.account.metrics.define(
          { namespace: 'AWS/ElastiCache', metricName, dimensions },
          { kind: 'gauge', unit, initial, noise, sampleSeconds: 10 },
        ),
      );
    const count = (metricName: string, initial: number, omitZero = false) =>
      [byCluster, byNode].map((dimensions) =>
        this.account.metrics.define(
          { namespace: 'AWS/ElastiCache', metricName, dimensions },
          { kind: 'count', unit: 'Count', initial, omitZero, noise: 0.08 },
        ),
      );
    return {
      cpu: gauge('CPUUtilization', 'Percent', cluster.cpuPercent),
      engineCpu: gauge('EngineCPUUtilization', 'Percent', cluster.cpuPercent * 1.6),
      memory: gauge('DatabaseMemoryUsagePercentage', 'Percent', cluster.memoryPercent, 0.005),
      connections: gauge('CurrConnections', 'Count', 212, 0.03),
      evictions: count('Evictions', 0),
      hits: count('CacheHits', 640),
      misses: count('CacheMisses', 31),
    };
  }

  tick(now: number): void {
    for (const cluster of this.clusters.values()) {
      const series = this.definitions.get(cluster.id) ?? {};
      for (const metric of series.cpu ?? []) metric.record(now, cluster.cpuPercent);
      for (const metric of series.engineCpu ?? []) metric.record(now, cluster.cpuPercent * 1.6);
      for (const metric of series.memory ?? []) metric.record(now, cluster.memoryPercent);
      for (const metric of series.evictions ?? []) metric.record(now, cluster.evictionsPerSecond);
    }
  }
}

function clusterOutput(account: AwsAccount, cluster: CacheClusterModel, showNodes: boolean) {
  return {
    CacheClusterId: cluster.id,
    ClientDownloadLandingPage: 'https://console.aws.amazon.com/elasticache/home#client-download:',
    CacheNodeType: 'cache.r6g.large',
    Engine: 'redis',
    EngineVersion: '7.1.0',
    CacheClusterStatus: 'available',
    NumCacheNodes: 1,
    PreferredAvailabilityZone: 'eu-west-1a',
    CacheClusterCreateTime: dateOf(cluster.createdAt),
    PreferredMaintenanceWindow: 'sun:05:00-sun:06:00',
    PendingModifiedValues: {},
    CacheSecurityGroups: new XmlList('CacheSecurityGroup', []),
    CacheParameterGroup: {
      CacheParameterGroupName: PARAMETER_GROUP,
      ParameterApplyStatus: 'in-sync',
      CacheNodeIdsToReboot: [],
    },
    CacheSubnetGroupName: 'shop-private',
    ...(showNodes
      ? {
          CacheNodes: new XmlList('CacheNode', [
            {
              CacheNodeId: '0001',
              CacheNodeStatus: 'available',
              CacheNodeCreateTime: dateOf(cluster.createdAt),
              Endpoint: { Address: `${cluster.id}.sessions.abc123.euw1.cache.amazonaws.com`, Port: 6379 },
              ParameterGroupStatus: 'in-sync',
              CustomerAvailabilityZone: 'eu-west-1a',
            },
          ]),
        }
      : {}),
    AutoMinorVersionUpgrade: true,
    SecurityGroups: [{ SecurityGroupId: 'sg-0a9b8c7d6e5f4a3b2', Status: 'active' }],
    ReplicationGroupId: 'sessions',
    SnapshotRetentionLimit: 1,
    SnapshotWindow: '03:00-04:00',
    AuthTokenEnabled: true,
    TransitEncryptionEnabled: true,
    AtRestEncryptionEnabled: true,
    ARN: account.arn('elasticache', `cluster:${cluster.id}`),
    ReplicationGroupLogDeliveryEnabled: false,
    LogDeliveryConfigurations: new XmlList('LogDeliveryConfiguration', []),
    NetworkType: 'ipv4',
    IpDiscovery: 'ipv4',
  };
}

function records(params: Record<string, unknown>): number {
  const value = queryNumber(params, 'MaxRecords') ?? 100;
  if (value < 20 || value > 100)
    throw new AwsError('InvalidParameterValue', `MaxRecords must be between 20 and 100, not ${value}`);
  return value;
}

export function elastiCacheService(account: AwsAccount): ServiceDefinition {
  const model = account.elastiCache;
  return {
    name: 'elasticache',
    protocol: 'query',
    version: '2015-02-02',
    xmlns: 'http://elasticache.amazonaws.com/doc/2015-02-02/',
    handle(call: AwsCall) {
      const params = call.input;
      switch (call.operation) {
        case 'DescribeCacheClusters': {
          const id = queryString(params, 'CacheClusterId');
          const clusters = id === undefined ? [...model.clusters.values()] : [model.clusters.get(id)];
          if (clusters.some((cluster) => cluster === undefined))
            throw new AwsError('CacheClusterNotFound', `CacheCluster not found: ${id}`, 404);
          const { items, next } = page(
            clusters as CacheClusterModel[],
            queryString(params, 'Marker'),
            records(params),
            'elasticache:clusters',
            'InvalidParameterValue',
          );
          const show = queryBoolean(params, 'ShowCacheNodeInfo') ?? false;
          return {
            body: {
              CacheClusters: new XmlList(
                'CacheCluster',
                items.map((cluster) => clusterOutput(account, cluster, show)),
              ),
              ...(next ? { Marker: next } : {}),
            },
          };
        }
        case 'DescribeCacheParameters': {
          const group = queryString(params, 'CacheParameterGroupName');
          if (group !== PARAMETER_GROUP)
            throw new AwsError('CacheParameterGroupNotFound', `CacheParameterGroup ${group} not found.`, 404);
          const { items, next } = page(
            REDIS_PARAMETERS,
            queryString(params, 'Marker'),
            records(params),
            `elasticache:parameters:${group}`,
            'InvalidParameterValue',
          );
          return {
            body: {
              Parameters: new XmlList(
                'Parameter',
                items.map(([name, value, type]) => ({
                  ParameterName: name,
                  ParameterValue: value,
                  Source: name === 'maxmemory-policy' ? 'user' : 'system',
                  DataType: type,
                  IsModifiable: true,
                  MinimumEngineVersion: '7.0.0',
                  ChangeType: 'immediate',
                })),
              ),
              CacheNodeTypeSpecificParameters: new XmlList('CacheNodeTypeSpecificParameter', []),
              ...(next ? { Marker: next } : {}),
            },
          };
        }
        default:
          return undefined;
      }
    },
  };
}

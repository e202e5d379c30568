import {
  CacheClusterNotFoundFault,
  DescribeCacheClustersCommand,
  DescribeCacheParametersCommand,
  ElastiCacheClient,
} from '@aws-sdk/client-elasticache';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { DescribeCacheClusterOutput } from '../../../../functions/tools/declarations/aws/elasticache.ts';
import { awsToolset, NOW, rejectionOf } from './tool-context.ts';

const elastiCache = mockClient(ElastiCacheClient);
const tools = awsToolset();

const created = new Date(NOW.getTime() - 90 * 86_400_000);

describe('elasticache.describe-cluster', () => {
  beforeEach(() => elastiCache.reset());

  it('reads the cluster and pages through its parameter group for the eviction policy', async () => {
    elastiCache.on(DescribeCacheClustersCommand).resolves({
      CacheClusters: [
        {
          CacheClusterId: 'sessions-0001-001',
          CacheNodeType: 'cache.r7g.large',
          Engine: 'redis',
          EngineVersion: '7.1.0',
          CacheClusterStatus: 'available',
          NumCacheNodes: 1,
          PreferredAvailabilityZone: 'eu-west-1a',
          CacheClusterCreateTime: created,
          ReplicationGroupId: 'sessions',
          PendingModifiedValues: {},
          CacheParameterGroup: {
            CacheParameterGroupName: 'sessions-redis7',
            ParameterApplyStatus: 'in-sync',
            CacheNodeIdsToReboot: [],
          },
          CacheNodes: [
            {
              CacheNodeId: '0001',
              CacheNodeStatus: 'available',
              CacheNodeCreateTime: created,
              ParameterGroupStatus: 'in-sync',
              CustomerAvailabilityZone: 'eu-west-1a',
            },
          ],
        },
      ],
    });
    elastiCache
      .on(DescribeCacheParametersCommand)
      .resolvesOnce({
        Parameters: [
          { ParameterName: 'activedefrag', ParameterValue: 'no', DataType: 'string', Source: 'system' },
          {
            ParameterName: 'maxmemory-policy',
            ParameterValue: 'volatile-lru',
            DataType: 'string',
            Source: 'user',
          },
        ],
        Marker: 'next',
      })
      .resolvesOnce({
        Parameters: [
          {
            ParameterName: 'reserved-memory-percent',
            ParameterValue: '25',
            DataType: 'integer',
            Source: 'system',
          },
        ],
        Marker: 'more-we-do-not-need',
      });

    const output = (await tools.run('elasticache.describe-cluster', {
      cacheClusterId: 'sessions-0001-001',
    })) as DescribeCacheClusterOutput;

    expect(elastiCache.commandCalls(DescribeCacheClustersCommand)[0]?.args[0].input).toEqual({
      CacheClusterId: 'sessions-0001-001',
      ShowCacheNodeInfo: true,
    });
    // Both parameters found: the third page is not read.
    expect(elastiCache.commandCalls(DescribeCacheParametersCommand)).toHaveLength(2);
    expect(output).toEqual({
      cacheClusterId: 'sessions-0001-001',
      status: 'available',
      engine: 'redis',
      engineVersion: '7.1.0',
      nodeType: 'cache.r7g.large',
      nodeCount: 1,
      replicationGroupId: 'sessions',
      parameterGroup: 'sessions-redis7',
      parameterGroupStatus: 'in-sync',
      maxmemoryPolicy: 'volatile-lru',
      reservedMemoryPercent: '25',
      nodes: [
        {
          cacheNodeId: '0001',
          status: 'available',
          availabilityZone: 'eu-west-1a',
          createdAt: created.toISOString(),
        },
      ],
      pendingModifications: {},
    });
  });

  it('reads no eviction policy for memcached, and is NotFound for an unknown cluster', async () => {
    elastiCache.on(DescribeCacheClustersCommand).resolves({
      CacheClusters: [
        {
          CacheClusterId: 'catalog-cache',
          Engine: 'memcached',
          CacheClusterStatus: 'available',
          NumCacheNodes: 2,
          CacheParameterGroup: {
            CacheParameterGroupName: 'default.memcached1.6',
            ParameterApplyStatus: 'in-sync',
          },
        },
      ],
    });
    const memcached = (await tools.run('elasticache.describe-cluster', {
      cacheClusterId: 'catalog-cache',
    })) as DescribeCacheClusterOutput;
    expect(memcached).toMatchObject({ engine: 'memcached', maxmemoryPolicy: null, nodeCount: 2, nodes: [] });
    expect(elastiCache.commandCalls(DescribeCacheParametersCommand)).toHaveLength(0);

    elastiCache
      .on(DescribeCacheClustersCommand)
      .rejects(new CacheClusterNotFoundFault({ message: 'CacheCluster not found: nope', $metadata: {} }));
    expect(
      (await rejectionOf(tools.run('elasticache.describe-cluster', { cacheClusterId: 'nope' }))).name,
    ).toBe('Tool.NotFound');
  });
});

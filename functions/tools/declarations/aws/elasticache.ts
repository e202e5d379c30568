import * as z from 'zod';
import type { ToolDeclaration } from '../../../core/tool-catalog.ts';
import { awsRegion, isoTimestamp } from '../shared.ts';

/** ElastiCache tools. */

export const DescribeCacheClusterOutput = z.object({
  cacheClusterId: z.string(),
  status: z.string().describe('available, creating, modifying, rebooting cluster nodes, snapshotting…'),
  engine: z.string().nullable().describe('redis, valkey or memcached'),
  engineVersion: z.string().nullable(),
  nodeType: z.string().nullable(),
  nodeCount: z.number(),
  replicationGroupId: z.string().nullable(),
  parameterGroup: z.string().nullable(),
  parameterGroupStatus: z.string().nullable().describe('in-sync, or pending-reboot after a change'),
  maxmemoryPolicy: z
    .string()
    .nullable()
    .describe('what happens when memory is full (e.g. volatile-lru, noeviction); null for memcached'),
  reservedMemoryPercent: z.string().nullable(),
  nodes: z
    .array(
      z.object({
        cacheNodeId: z.string(),
        status: z.string().nullable(),
        availabilityZone: z.string().nullable(),
        createdAt: isoTimestamp,
      }),
    )
    .describe('at most 40'),
  pendingModifications: z.record(z.string(), z.string()),
});
export type DescribeCacheClusterOutput = z.infer<typeof DescribeCacheClusterOutput>;

export const ELASTICACHE_TOOL_DECLARATIONS = [
  {
    name: 'elasticache.describe-cluster',
    description:
      'Reads an ElastiCache cluster: engine and version, node type, node statuses, replication group, and its eviction policy (maxmemory-policy) from the parameter group.',
    parameters: z
      .object({
        cacheClusterId: z.string().min(1).max(50).describe('the CacheClusterId dimension'),
        region: awsRegion,
      })
      .strict(),
    output: DescribeCacheClusterOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the cluster (read-only tools run for real in dry-run)',
    permissions: { iam: ['elasticache:DescribeCacheClusters', 'elasticache:DescribeCacheParameters'] },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

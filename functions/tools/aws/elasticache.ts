import {
  type CacheCluster,
  DescribeCacheClustersCommand,
  DescribeCacheParametersCommand,
  type Parameter,
} from '@aws-sdk/client-elasticache';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type { DescribeCacheClusterOutput } from '../declarations/aws/elasticache.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { isoOrNull } from './output.ts';

const MAX_NODES = 40;
const MAX_PARAMETER_PAGES = 10;
/** The parameters that say how a full cache behaves. */
const EVICTION_PARAMETERS = ['maxmemory-policy', 'reserved-memory-percent'];

/** The eviction parameters of a parameter group (paged: a Redis group has a few hundred parameters). */
async function evictionParameters(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  group: string,
  region: string | undefined,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await callAws(
      { tool, action: 'elasticache:DescribeCacheParameters', resource: `parameter group ${group}`, region },
      context,
      (abortSignal) =>
        deps.clients.elastiCache(region).send(
          new DescribeCacheParametersCommand({
            CacheParameterGroupName: group,
            MaxRecords: 100,
            Marker: marker,
          }),
          {
            abortSignal,
          },
        ),
    );
    for (const parameter of page.Parameters ?? ([] as Parameter[]))
      if (
        parameter.ParameterName &&
        EVICTION_PARAMETERS.includes(parameter.ParameterName) &&
        parameter.ParameterValue !== undefined
      )
        found.set(parameter.ParameterName, parameter.ParameterValue);
    marker = page.Marker || undefined;
    pages += 1;
  } while (marker && pages < MAX_PARAMETER_PAGES && found.size < EVICTION_PARAMETERS.length);
  return found;
}

function pendingOf(cluster: CacheCluster): Record<string, string> {
  const pending: Record<string, string> = {};
  for (const [key, value] of Object.entries(cluster.PendingModifiedValues ?? {})) {
    if (value === undefined || value === null) continue;
    pending[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return pending;
}

export function describeCacheClusterTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('elasticache.describe-cluster');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const { cacheClusterId } = parameters;
    const response = await callAws(
      {
        tool,
        action: 'elasticache:DescribeCacheClusters',
        resource: `cache cluster ${cacheClusterId}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients
          .elastiCache(region)
          .send(
            new DescribeCacheClustersCommand({ CacheClusterId: cacheClusterId, ShowCacheNodeInfo: true }),
            {
              abortSignal,
            },
          ),
    );
    const cluster = response.CacheClusters?.find((candidate) => candidate.CacheClusterId === cacheClusterId);
    if (!cluster) {
      throw new ToolError(
        ToolErrorKind.NotFound,
        `${tool}: cache cluster ${cacheClusterId} not found in ${region ?? 'the default region'}; check the id and the region`,
      );
    }
    const group = cluster.CacheParameterGroup?.CacheParameterGroupName;
    // Memcached has no eviction policy to read.
    const eviction =
      group && cluster.Engine !== 'memcached'
        ? await evictionParameters(deps, context, tool, group, region)
        : new Map<string, string>();
    const nodes = cluster.CacheNodes ?? [];
    const output: DescribeCacheClusterOutput = {
      cacheClusterId,
      status: cluster.CacheClusterStatus ?? 'unknown',
      engine: cluster.Engine ?? null,
      engineVersion: cluster.EngineVersion ?? null,
      nodeType: cluster.CacheNodeType ?? null,
      nodeCount: cluster.NumCacheNodes ?? nodes.length,
      replicationGroupId: cluster.ReplicationGroupId ?? null,
      parameterGroup: group ?? null,
      parameterGroupStatus: cluster.CacheParameterGroup?.ParameterApplyStatus ?? null,
      maxmemoryPolicy: eviction.get('maxmemory-policy') ?? null,
      reservedMemoryPercent: eviction.get('reserved-memory-percent') ?? null,
      nodes: nodes.slice(0, MAX_NODES).map((node) => ({
        cacheNodeId: node.CacheNodeId ?? 'unknown',
        status: node.CacheNodeStatus ?? null,
        availabilityZone: node.CustomerAvailabilityZone ?? null,
        createdAt: isoOrNull(node.CacheNodeCreateTime),
      })),
      pendingModifications: pendingOf(cluster),
    };
    return output;
  });
}

export type { DescribeCacheClusterOutput } from '../declarations/aws/elasticache.ts';

import {
  type DBInstance,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  type Event,
  ModifyDBInstanceCommand,
  RebootDBInstanceCommand,
} from '@aws-sdk/client-rds';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type {
  DescribeDbInstanceOutput,
  IncreaseAllocatedStorageOutput,
  RdsEventsOutput,
  RebootDbInstanceOutput,
} from '../declarations/aws/rds.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { readMetrics, seriesOfKey } from './metrics.ts';
import { isoOrNull, keepHead } from './output.ts';

const GIB = 1024 ** 3;
/** Pending values never shown: a password change is pending as the password itself. */
const SECRET_PENDING = new Set(['MasterUserPassword']);
const MAX_EVENT_PAGES = 20;
/** RDS adds storage in steps of at least 10%. */
const MIN_STORAGE_INCREASE_PERCENT = 10;

function where(identifier: string, region: string | undefined): string {
  return `DB instance ${identifier} in ${region ?? 'the default region'}`;
}

export async function describeDbInstance(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  identifier: string,
  region: string | undefined,
): Promise<DBInstance> {
  const response = await callAws(
    { tool, action: 'rds:DescribeDBInstances', resource: `DB instance ${identifier}`, region },
    context,
    (abortSignal) =>
      deps.clients
        .rds(region)
        .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }), { abortSignal }),
  );
  const instance = response.DBInstances?.find(
    (candidate) => candidate.DBInstanceIdentifier?.toLowerCase() === identifier.toLowerCase(),
  );
  if (!instance) {
    throw new ToolError(
      ToolErrorKind.NotFound,
      `${tool}: ${where(identifier, region)} not found; check the identifier and the region`,
      { data: { dbInstanceIdentifier: identifier } },
    );
  }
  return instance;
}

function pendingModifications(instance: DBInstance): Record<string, string> {
  const pending: Record<string, string> = {};
  for (const [key, value] of Object.entries(instance.PendingModifiedValues ?? {})) {
    if (SECRET_PENDING.has(key) || value === undefined || value === null) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      pending[key] = String(value);
    else if (value instanceof Date) pending[key] = value.toISOString();
    else pending[key] = keepHead(JSON.stringify(value), 300);
  }
  return pending;
}

export function describeInstanceTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('rds.describe-instance');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const identifier = parameters.dbInstanceIdentifier;
    const instance = await describeDbInstance(deps, context, declaration.name, identifier, region);
    const dimensions = { DBInstanceIdentifier: instance.DBInstanceIdentifier ?? identifier };
    const metric = (metricName: string, stat: string) => ({
      key: metricName,
      namespace: 'AWS/RDS',
      metricName,
      dimensions,
      stat,
    });
    const metrics = await readMetrics(
      deps,
      context,
      { tool: declaration.name, resource: `DB instance ${identifier}`, region },
      [
        metric('FreeStorageSpace', 'Minimum'),
        metric('CPUUtilization', 'Average'),
        metric('DatabaseConnections', 'Average'),
        metric('FreeableMemory', 'Average'),
      ],
      15,
    );
    const allocated = instance.AllocatedStorage ?? 0;
    // The latest, not the window's lowest: after a storage increase the old low must not read against the new size.
    const freeStorage = seriesOfKey(metrics, 'FreeStorageSpace').latest;
    const output: DescribeDbInstanceOutput = {
      dbInstanceIdentifier: instance.DBInstanceIdentifier ?? identifier,
      status: instance.DBInstanceStatus ?? 'unknown',
      engine: instance.Engine ?? null,
      engineVersion: instance.EngineVersion ?? null,
      instanceClass: instance.DBInstanceClass ?? null,
      multiAz: instance.MultiAZ ?? false,
      availabilityZone: instance.AvailabilityZone ?? null,
      secondaryAvailabilityZone: instance.SecondaryAvailabilityZone ?? null,
      dbClusterIdentifier: instance.DBClusterIdentifier ?? null,
      readReplicaSource: instance.ReadReplicaSourceDBInstanceIdentifier ?? null,
      readReplicas: instance.ReadReplicaDBInstanceIdentifiers ?? [],
      storageType: instance.StorageType ?? null,
      allocatedStorageGiB: allocated,
      maxAllocatedStorageGiB: instance.MaxAllocatedStorage ?? null,
      storageAutoscaling: instance.MaxAllocatedStorage !== undefined,
      iops: instance.Iops ?? null,
      pendingModifications: pendingModifications(instance),
      freeStorageBytes: freeStorage,
      freeStoragePercent:
        freeStorage !== null && allocated > 0
          ? Math.round((freeStorage / (allocated * GIB)) * 10_000) / 100
          : null,
      cpuUtilizationPercent: seriesOfKey(metrics, 'CPUUtilization').latest,
      databaseConnections: seriesOfKey(metrics, 'DatabaseConnections').latest,
      freeableMemoryBytes: seriesOfKey(metrics, 'FreeableMemory').latest,
    };
    return output;
  });
}

export function eventsTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('rds.events');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { dbInstanceIdentifier, lookbackMinutes, limit } = parameters;
    const end = deps.runtime.clock.now();
    const start = new Date(end.getTime() - lookbackMinutes * 60_000);
    const events: Event[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await callAws(
        {
          tool: declaration.name,
          action: 'rds:DescribeEvents',
          resource: `events of DB instance ${dbInstanceIdentifier}`,
          region,
        },
        context,
        (abortSignal) =>
          deps.clients.rds(region).send(
            new DescribeEventsCommand({
              SourceIdentifier: dbInstanceIdentifier,
              SourceType: 'db-instance',
              StartTime: start,
              EndTime: end,
              MaxRecords: 100,
              Marker: marker,
            }),
            { abortSignal },
          ),
      );
      events.push(...(page.Events ?? []));
      marker = page.Marker || undefined;
      pages += 1;
    } while (marker && pages < MAX_EVENT_PAGES);
    events.sort((a, b) => (b.Date?.getTime() ?? 0) - (a.Date?.getTime() ?? 0));
    const output: RdsEventsOutput = {
      dbInstanceIdentifier,
      lookbackMinutes,
      eventCount: events.length,
      events: events.slice(0, limit).map((event) => ({
        date: isoOrNull(event.Date),
        message: keepHead(event.Message ?? '', 500),
        categories: event.EventCategories ?? [],
      })),
    };
    return output;
  });
}

export function rebootInstanceTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('rds.reboot-instance');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { dbInstanceIdentifier: identifier, forceFailover } = parameters;
    const instance = await describeDbInstance(deps, context, declaration.name, identifier, region);
    const status = instance.DBInstanceStatus ?? 'unknown';
    const multiAz = instance.MultiAZ ?? false;
    if (status !== 'available') {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${where(identifier, region)} is ${status}; RDS reboots only an available instance, wait until it is available`,
        { data: { status } },
      );
    }
    if (forceFailover && instance.DBClusterIdentifier) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${where(identifier, region)} belongs to DB cluster ${instance.DBClusterIdentifier}; a cluster fails over with FailoverDBCluster, not a reboot with failover`,
      );
    }
    if (forceFailover && !multiAz) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${where(identifier, region)} is not Multi-AZ, so it has no standby to fail over to; reboot without forceFailover`,
      );
    }
    const output: RebootDbInstanceOutput = {
      dbInstanceIdentifier: instance.DBInstanceIdentifier ?? identifier,
      previousStatus: status,
      status,
      forceFailover,
      multiAz,
      previousAvailabilityZone: instance.AvailabilityZone ?? null,
      dryRun: context.dryRun,
    };
    if (context.dryRun) return output;
    const response = await callAws(
      {
        tool: declaration.name,
        action: 'rds:RebootDBInstance',
        resource: `DB instance ${identifier}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients.rds(region).send(
          new RebootDBInstanceCommand({
            DBInstanceIdentifier: identifier,
            ...(forceFailover ? { ForceFailover: true } : {}),
          }),
          { abortSignal },
        ),
    );
    context.log('rebooted DB instance', { identifier, forceFailover });
    return { ...output, status: response.DBInstance?.DBInstanceStatus ?? 'rebooting' };
  });
}

/** The storage an increase of `percent` asks for: whole GiB, at least RDS's minimum step. */
export function grownStorage(currentGiB: number, percent: number): number {
  // Integer arithmetic: 100 × 1.1 is 110.00000000000001 in floating point, which would round up to 111.
  return Math.ceil((currentGiB * (100 + Math.max(percent, MIN_STORAGE_INCREASE_PERCENT))) / 100);
}

export function increaseAllocatedStorageTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('rds.increase-allocated-storage');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { dbInstanceIdentifier: identifier, increasePercent, maxAllowedStorageGiB } = parameters;
    const instance = await describeDbInstance(deps, context, declaration.name, identifier, region);
    const status = instance.DBInstanceStatus ?? 'unknown';
    const at = where(identifier, region);
    if (instance.DBClusterIdentifier && (instance.Engine ?? '').startsWith('aurora')) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${at} is an Aurora instance of cluster ${instance.DBClusterIdentifier}; Aurora storage grows by itself, there is nothing to allocate`,
      );
    }
    if (status !== 'available' && status !== 'storage-full') {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${at} is ${status}; RDS changes storage of an available (or storage-full) instance only, and not within 6 hours of the last storage change`,
        { data: { status } },
      );
    }
    const pendingStorage = instance.PendingModifiedValues?.AllocatedStorage;
    if (pendingStorage !== undefined) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${at} already has a storage change to ${pendingStorage} GiB pending; let it apply first`,
        { data: { pendingAllocatedStorage: pendingStorage } },
      );
    }
    const previous = instance.AllocatedStorage ?? 0;
    const target = grownStorage(previous, increasePercent);
    if (target > maxAllowedStorageGiB) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: growing ${at} from ${previous} GiB by ${increasePercent}% would allocate ${target} GiB, above the bound ${maxAllowedStorageGiB} GiB the step allows; raise the runbook parameter that sets maxAllowedStorageGiB, or free space`,
        {
          data: { previousAllocatedStorageGiB: previous, allocatedStorageGiB: target, maxAllowedStorageGiB },
        },
      );
    }
    const ceiling = instance.MaxAllocatedStorage ?? null;
    if (ceiling !== null && target > ceiling) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${target} GiB for ${at} is above its storage autoscaling ceiling (MaxAllocatedStorage ${ceiling} GiB), which RDS refuses; raise the ceiling first`,
        { data: { allocatedStorageGiB: target, maxAllocatedStorageGiB: ceiling } },
      );
    }
    const output: IncreaseAllocatedStorageOutput = {
      dbInstanceIdentifier: instance.DBInstanceIdentifier ?? identifier,
      previousAllocatedStorageGiB: previous,
      allocatedStorageGiB: target,
      maxAllowedStorageGiB,
      maxAllocatedStorageGiB: ceiling,
      storageType: instance.StorageType ?? null,
      status,
      dryRun: context.dryRun,
    };
    if (context.dryRun) return output;
    const response = await callAws(
      {
        tool: declaration.name,
        action: 'rds:ModifyDBInstance',
        resource: `DB instance ${identifier}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients.rds(region).send(
          new ModifyDBInstanceCommand({
            DBInstanceIdentifier: identifier,
            AllocatedStorage: target,
            ApplyImmediately: true,
          }),
          { abortSignal },
        ),
    );
    context.log('increased allocated storage', { identifier, previous, target });
    return { ...output, status: response.DBInstance?.DBInstanceStatus ?? 'modifying' };
  });
}

export type {
  DescribeDbInstanceOutput,
  IncreaseAllocatedStorageOutput,
  RdsEventsOutput,
  RebootDbInstanceOutput,
} from '../declarations/aws/rds.ts';

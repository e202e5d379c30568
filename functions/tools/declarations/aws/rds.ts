import * as z from 'zod';
import { touchesOne } from '../../../core/limits/blast-radius.ts';
import type { ToolDeclaration } from '../../../core/tool-catalog.ts';
import { awsRegion, dryRunFlag, isoTimestamp } from '../shared.ts';

/** RDS instance tools. */

const dbInstanceIdentifier = z
  .string()
  .min(1)
  .max(63)
  .regex(
    /^[A-Za-z][A-Za-z0-9-]*$/,
    'must be a DB instance identifier such as orders-db (the DBInstanceIdentifier dimension)',
  );

export const DescribeDbInstanceOutput = z.object({
  dbInstanceIdentifier: z.string(),
  status: z
    .string()
    .describe('available, backing-up, modifying, rebooting, storage-full, storage-optimization, failed…'),
  engine: z.string().nullable(),
  engineVersion: z.string().nullable(),
  instanceClass: z.string().nullable(),
  multiAz: z.boolean(),
  availabilityZone: z.string().nullable(),
  secondaryAvailabilityZone: z.string().nullable().describe('the standby’s zone (Multi-AZ)'),
  dbClusterIdentifier: z.string().nullable().describe('set for Aurora and Multi-AZ DB cluster members'),
  readReplicaSource: z.string().nullable(),
  readReplicas: z.array(z.string()),
  storageType: z.string().nullable(),
  allocatedStorageGiB: z.number(),
  maxAllocatedStorageGiB: z
    .number()
    .nullable()
    .describe('the storage autoscaling ceiling; null when storage autoscaling is off'),
  storageAutoscaling: z.boolean(),
  iops: z.number().nullable(),
  pendingModifications: z
    .record(z.string(), z.string())
    .describe('changes waiting for the maintenance window or in progress, e.g. {AllocatedStorage: "200"}'),
  freeStorageBytes: z
    .number()
    .nullable()
    .describe('FreeStorageSpace in the latest minute (its lowest); null without data'),
  freeStoragePercent: z.number().nullable().describe('freeStorageBytes of the allocated storage, in percent'),
  cpuUtilizationPercent: z.number().nullable().describe('the latest CPUUtilization average'),
  databaseConnections: z.number().nullable().describe('the latest DatabaseConnections average'),
  freeableMemoryBytes: z.number().nullable().describe('the latest FreeableMemory average'),
});
export type DescribeDbInstanceOutput = z.infer<typeof DescribeDbInstanceOutput>;

export const RdsEventsOutput = z.object({
  dbInstanceIdentifier: z.string(),
  lookbackMinutes: z.number(),
  eventCount: z.number().describe('events in the window (may exceed events.length)'),
  events: z
    .array(
      z.object({
        date: isoTimestamp,
        message: z.string(),
        categories: z.array(z.string()).describe('availability, failover, low storage, maintenance…'),
      }),
    )
    .describe('the newest first'),
});
export type RdsEventsOutput = z.infer<typeof RdsEventsOutput>;

export const RebootDbInstanceOutput = z.object({
  dbInstanceIdentifier: z.string(),
  previousStatus: z.string(),
  status: z.string().describe('as RDS answered the reboot (rebooting); the previous status in a dry run'),
  forceFailover: z.boolean(),
  multiAz: z.boolean(),
  previousAvailabilityZone: z.string().nullable().describe('where the primary ran before the reboot'),
  dryRun: dryRunFlag,
});
export type RebootDbInstanceOutput = z.infer<typeof RebootDbInstanceOutput>;

export const IncreaseAllocatedStorageOutput = z.object({
  dbInstanceIdentifier: z.string(),
  previousAllocatedStorageGiB: z.number(),
  allocatedStorageGiB: z.number().describe('what was asked for (RDS applies it in the background)'),
  maxAllowedStorageGiB: z.number().describe('the bound the step passed'),
  maxAllocatedStorageGiB: z
    .number()
    .nullable()
    .describe('the instance’s storage autoscaling ceiling; null when off'),
  storageType: z.string().nullable(),
  status: z.string().describe('as RDS answered (modifying); the current status in a dry run'),
  dryRun: dryRunFlag,
});
export type IncreaseAllocatedStorageOutput = z.infer<typeof IncreaseAllocatedStorageOutput>;

export const RDS_TOOL_DECLARATIONS = [
  {
    name: 'rds.describe-instance',
    description:
      'Reads an RDS DB instance: status, class, Multi-AZ, storage and its autoscaling ceiling, pending changes, and its latest free storage, CPU, connections and memory.',
    parameters: z.object({ dbInstanceIdentifier, region: awsRegion }).strict(),
    output: DescribeDbInstanceOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the instance (read-only tools run for real in dry-run)',
    permissions: { iam: ['rds:DescribeDBInstances', 'cloudwatch:GetMetricData'] },
  },
  {
    name: 'rds.events',
    description:
      'Reads the events RDS recorded for a DB instance in the last minutes (failovers, reboots, storage, maintenance).',
    parameters: z
      .object({
        dbInstanceIdentifier,
        lookbackMinutes: z.number().int().min(1).max(20_160).default(60).describe('RDS keeps 14 days'),
        limit: z.number().int().min(1).max(100).default(20),
        region: awsRegion,
      })
      .strict(),
    output: RdsEventsOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the events (read-only tools run for real in dry-run)',
    permissions: { iam: ['rds:DescribeEvents'] },
  },
  {
    name: 'rds.reboot-instance',
    description:
      'Reboots an available RDS DB instance, optionally failing over to the Multi-AZ standby. Cannot be undone: runbooks put it behind an approval.',
    parameters: z
      .object({
        dbInstanceIdentifier,
        forceFailover: z
          .boolean()
          .default(false)
          .describe('reboot through a failover to the standby (Multi-AZ instances only)'),
        region: awsRegion,
      })
      .strict(),
    output: RebootDbInstanceOutput,
    mutating: true,
    blastRadius: touchesOne('database'),
    risk: 'high',
    dryRun: 'reads the instance and checks it can be rebooted (and failed over), changes nothing',
    onRepeat: {
      effect: 'repeats',
      how: 'RebootDBInstance takes no idempotency token: a second run reboots (and fails over) again',
    },
    inspectWith: {
      tool: 'rds.describe-instance',
      parameters: { dbInstanceIdentifier: '{{ parameters.dbInstanceIdentifier }}' },
    },
    permissions: { iam: ['rds:DescribeDBInstances', 'rds:RebootDBInstance'] },
  },
  {
    name: 'rds.increase-allocated-storage',
    description:
      'Grows an RDS DB instance’s allocated storage by a percentage, immediately, within a bound the runbook passes. Storage cannot shrink: there is no inverse, runbooks put it behind an approval.',
    parameters: z
      .object({
        dbInstanceIdentifier,
        increasePercent: z
          .number()
          .int()
          .min(10)
          .max(100)
          .default(20)
          .describe('RDS grows storage by at least 10%'),
        maxAllowedStorageGiB: z
          .number()
          .int()
          .min(20)
          .max(65_536)
          .describe('the most storage this step may ask for (a runbook parameter); more is refused'),
        region: awsRegion,
      })
      .strict(),
    output: IncreaseAllocatedStorageOutput,
    mutating: true,
    blastRadius: touchesOne('database'),
    risk: 'high',
    dryRun: 'reads the instance and returns the storage it would ask for, changes nothing',
    onRepeat: {
      effect: 'repeats',
      how: 'the growth is a percentage of the current size: a second run grows the storage again (RDS refuses it only while the first modification is pending)',
    },
    inspectWith: {
      tool: 'rds.describe-instance',
      parameters: { dbInstanceIdentifier: '{{ parameters.dbInstanceIdentifier }}' },
    },
    permissions: { iam: ['rds:DescribeDBInstances', 'rds:ModifyDBInstance'] },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

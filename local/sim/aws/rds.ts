import type { AwsAccount } from './account.ts';
import { dateOf } from './ids.ts';
import type { MetricSeries } from './metric-store.ts';
import {
  type AwsCall,
  AwsError,
  page,
  queryBoolean,
  queryList,
  queryNumber,
  queryString,
  queryStructures,
  type ServiceDefinition,
  XmlList,
} from './protocol.ts';
import { Timeline } from './timeline.ts';

/**
 * Amazon RDS: the Multi-AZ PostgreSQL instance orders-db. Its status moves as RDS moves it (rebooting
 * for a few seconds, a failover to the standby's zone, modifying then storage-optimization after a
 * storage change, which RDS refuses again within six hours), it writes the events RDS writes, and it
 * reports its metrics: CPU and connections from its workload (a runaway query pegs the CPU until a
 * reboot ends the sessions), free storage from what it holds and how fast that grows.
 * API (AWS Query): DescribeDBInstances, DescribeEvents, RebootDBInstance, ModifyDBInstance,
 * ListTagsForResource.
 */

export const GIB = 1024 ** 3;
const REBOOT_SECONDS = 3;
const MODIFYING_SECONDS = 2;
const OPTIMIZING_SECONDS = 4;
const STORAGE_CHANGE_INTERVAL = 6 * 3_600;

export interface RdsEvent {
  at: number;
  message: string;
  categories: string[];
}

export interface DbInstanceModel {
  identifier: string;
  arn: string;
  resourceId: string;
  instanceClass: string;
  engine: string;
  engineVersion: string;
  status: string;
  /** When the current transient status ends (and what comes next). */
  statusUntil?: number;
  next?: () => void;
  multiAz: boolean;
  zone: string;
  secondaryZone: string;
  storageType: string;
  allocatedGiB: number;
  maxAllocatedGiB: number;
  iops: number;
  pendingAllocatedGiB?: number;
  lastStorageChangeAt?: number;
  createdAt: number;
  tags: Record<string, string>;
  events: RdsEvent[];
  /** Bytes the database holds, growing by a slope (WAL a stale replication slot keeps, …). */
  used: Timeline;
  /** The workload: CPU percent and connections without a fault, and a runaway one that a reboot ends. */
  baseline: { cpu: number; connections: number };
  runaway?: { since: number; cpu: number; connections: number; description: string };
  metrics: Record<
    | 'cpu'
    | 'connections'
    | 'freeStorage'
    | 'freeableMemory'
    | 'readLatency'
    | 'writeLatency'
    | 'readIops'
    | 'writeIops'
    | 'diskQueue',
    MetricSeries
  >;
}

export class RdsModel {
  readonly instances = new Map<string, DbInstanceModel>();

  constructor(private readonly account: AwsAccount) {
    const start = account.startedAt;
    const identifier = 'orders-db';
    const dimensions = { DBInstanceIdentifier: identifier };
    const series = (metricName: string, unit: string, initial: number, noise = 0.05) =>
      account.metrics.define(
        { namespace: 'AWS/RDS', metricName, dimensions },
        { kind: 'gauge', unit, initial, noise, sampleSeconds: 10 },
      );
    const usedBytes = 38.6 * GIB;
    const instance: DbInstanceModel = {
      identifier,
      arn: account.arn('rds', `db:${identifier}`),
      resourceId: 'db-ABCDEFGHIJKLMNOPQRSTU2VWXY',
      instanceClass: 'db.r6g.large',
      engine: 'postgres',
      engineVersion: '15.5',
      status: 'available',
      multiAz: true,
      zone: 'eu-west-1a',
      secondaryZone: 'eu-west-1b',
      storageType: 'gp3',
      allocatedGiB: 100,
      maxAllocatedGiB: 200,
      iops: 3_000,
      createdAt: start - 500 * 86_400,
      tags: { team: 'orders', environment: 'staging', 'runbook-autopilot.io/owner': 'orders' },
      events: [],
      used: new Timeline(usedBytes),
      baseline: { cpu: 22, connections: 48 },
      metrics: {
        // ±3%: a pegged CPU (97%) varies by points, not below a 90% alarm's threshold and back.
        cpu: series('CPUUtilization', 'Percent', 22, 0.03),
        connections: series('DatabaseConnections', 'Count', 48, 0.04),
        freeStorage: series('FreeStorageSpace', 'Bytes', 100 * GIB - usedBytes, 0),
        freeableMemory: series('FreeableMemory', 'Bytes', 9.2 * GIB, 0.01),
        readLatency: series('ReadLatency', 'Seconds', 0.0011),
        writeLatency: series('WriteLatency', 'Seconds', 0.0019),
        readIops: series('ReadIOPS', 'Count/Second', 210),
        writeIops: series('WriteIOPS', 'Count/Second', 340),
        diskQueue: series('DiskQueueDepth', 'Count', 0.4),
      },
    };
    for (let day = 6; day >= 1; day -= 1) {
      const backup = Math.floor((start - day * 86_400) / 86_400) * 86_400 + 2 * 3_600 + 1_140;
      instance.events.push(
        { at: backup, message: 'Backing up DB instance', categories: ['backup'] },
        { at: backup + 412, message: 'Finished DB Instance backup', categories: ['backup'] },
      );
    }
    this.instances.set(identifier, instance);
  }

  get(identifier: string): DbInstanceModel | undefined {
    return this.instances.get(identifier.toLowerCase());
  }

  event(instance: DbInstanceModel, at: number, message: string, categories: string[]): void {
    instance.events.push({ at, message, categories });
  }

  reboot(instance: DbInstanceModel, now: number, failover: boolean): void {
    instance.status = 'rebooting';
    this.event(
      instance,
      now,
      failover ? 'Multi-AZ instance failover started.' : 'DB instance shutdown',
      failover ? ['failover'] : ['availability'],
    );
    instance.statusUntil = now + REBOOT_SECONDS;
    instance.next = () => {
      const at = instance.statusUntil ?? now;
      if (failover) [instance.zone, instance.secondaryZone] = [instance.secondaryZone, instance.zone];
      if (instance.runaway) {
        this.account.note(
          `rds: ${instance.identifier} restarted: the runaway sessions (${instance.runaway.description}) are gone`,
        );
        instance.runaway = undefined;
      }
      instance.status = 'available';
      this.event(instance, at, 'DB instance restarted', ['availability']);
      if (failover) this.event(instance, at + 0.5, 'Multi-AZ instance failover completed.', ['failover']);
    };
    this.account.note(
      `rds: RebootDBInstance ${instance.identifier}${failover ? ' with failover to the standby' : ''}`,
    );
  }

  modifyStorage(instance: DbInstanceModel, allocatedGiB: number, now: number): void {
    instance.status = 'modifying';
    instance.pendingAllocatedGiB = allocatedGiB;
    instance.lastStorageChangeAt = now;
    this.event(
      instance,
      now,
      `Applying modification to allocated storage (from ${instance.allocatedGiB} GiB to ${allocatedGiB} GiB).`,
      ['configuration change'],
    );
    instance.statusUntil = now + MODIFYING_SECONDS;
    instance.next = () => {
      const at = instance.statusUntil ?? now;
      instance.allocatedGiB = allocatedGiB;
      instance.pendingAllocatedGiB = undefined;
      instance.status = 'storage-optimization';
      this.event(instance, at, 'Finished applying modification to allocated storage.', [
        'configuration change',
      ]);
      this.account.note(
        `rds: ${instance.identifier} has ${allocatedGiB} GiB now (storage optimization runs on)`,
      );
      instance.statusUntil = at + OPTIMIZING_SECONDS;
      instance.next = () => {
        instance.status = 'available';
        this.event(instance, instance.statusUntil ?? at, 'Storage optimization completed.', [
          'configuration change',
        ]);
      };
    };
    this.account.note(
      `rds: ModifyDBInstance ${instance.identifier} AllocatedStorage ${instance.allocatedGiB} → ${allocatedGiB} GiB (apply immediately)`,
    );
  }

  tick(now: number): void {
    for (const instance of this.instances.values()) {
      for (
        let guard = 0;
        guard < 4 && instance.statusUntil !== undefined && now >= instance.statusUntil;
        guard += 1
      ) {
        const next = instance.next;
        instance.statusUntil = undefined;
        instance.next = undefined;
        next?.();
      }
      const up = instance.status !== 'rebooting';
      const runaway = instance.runaway && now >= instance.runaway.since ? instance.runaway : undefined;
      const cpu = !up ? 0 : (runaway?.cpu ?? instance.baseline.cpu);
      const connections = !up ? 0 : (runaway?.connections ?? instance.baseline.connections);
      const { metrics } = instance;
      metrics.cpu.record(now, cpu);
      metrics.connections.record(now, connections);
      const used = instance.used.at(now);
      const growth = instance.used.at(now + 1) - used;
      metrics.freeStorage.record(now, Math.max(0, instance.allocatedGiB * GIB - used), -growth);
      metrics.readLatency.record(now, runaway ? 0.0094 : 0.0011);
      metrics.writeLatency.record(now, runaway ? 0.0121 : 0.0019);
      metrics.readIops.record(now, runaway ? 2_840 : 210);
      metrics.diskQueue.record(now, runaway ? 9.7 : 0.4);
      metrics.freeableMemory.record(now, runaway ? 2.1 * GIB : 9.2 * GIB);
    }
  }
}

// ------------------------------------------------------------------------------------------------ API

function instanceOutput(account: AwsAccount, instance: DbInstanceModel) {
  return {
    DBInstanceIdentifier: instance.identifier,
    DBInstanceClass: instance.instanceClass,
    Engine: instance.engine,
    DBInstanceStatus: instance.status,
    MasterUsername: 'orders_admin',
    DBName: 'orders',
    Endpoint: {
      Address: `${instance.identifier}.c9akciq32.${account.region}.rds.amazonaws.com`,
      Port: 5432,
      HostedZoneId: 'Z29XKXDKYMONMX',
    },
    AllocatedStorage: instance.allocatedGiB,
    InstanceCreateTime: dateOf(instance.createdAt),
    PreferredBackupWindow: '02:15-02:45',
    BackupRetentionPeriod: 7,
    DBSecurityGroups: new XmlList('DBSecurityGroup', []),
    VpcSecurityGroups: new XmlList('VpcSecurityGroupMembership', [
      { VpcSecurityGroupId: 'sg-0e1f2a3b4c5d6e7f8', Status: 'active' },
    ]),
    DBParameterGroups: new XmlList('DBParameterGroup', [
      { DBParameterGroupName: 'orders-postgres15', ParameterApplyStatus: 'in-sync' },
    ]),
    AvailabilityZone: instance.zone,
    DBSubnetGroup: {
      DBSubnetGroupName: 'shop-private',
      DBSubnetGroupDescription: 'private subnets',
      VpcId: 'vpc-0d1e2f3a4b5c6d7e8',
      SubnetGroupStatus: 'Complete',
    },
    PreferredMaintenanceWindow: 'sun:03:30-sun:04:00',
    PendingModifiedValues:
      instance.pendingAllocatedGiB === undefined ? {} : { AllocatedStorage: instance.pendingAllocatedGiB },
    LatestRestorableTime: dateOf(account.startedAt - 240),
    MultiAZ: instance.multiAz,
    EngineVersion: instance.engineVersion,
    AutoMinorVersionUpgrade: true,
    ReadReplicaDBInstanceIdentifiers: new XmlList('ReadReplicaDBInstanceIdentifier', []),
    LicenseModel: 'postgresql-license',
    Iops: instance.iops,
    StorageThroughput: 125,
    OptionGroupMemberships: new XmlList('OptionGroupMembership', [
      { OptionGroupName: 'default:postgres-15', Status: 'in-sync' },
    ]),
    SecondaryAvailabilityZone: instance.secondaryZone,
    PubliclyAccessible: false,
    StorageType: instance.storageType,
    DbInstancePort: 0,
    StorageEncrypted: true,
    KmsKeyId: account.arn('kms', 'key/2f3e4d5c-6b7a-4989-a1b2-c3d4e5f6a7b8'),
    DbiResourceId: instance.resourceId,
    CACertificateIdentifier: 'rds-ca-rsa2048-g1',
    CopyTagsToSnapshot: true,
    MonitoringInterval: 0,
    IAMDatabaseAuthenticationEnabled: false,
    PerformanceInsightsEnabled: true,
    DeletionProtection: true,
    DBInstanceArn: instance.arn,
    MaxAllocatedStorage: instance.maxAllocatedGiB,
    TagList: new XmlList(
      'Tag',
      Object.entries(instance.tags).map(([Key, Value]) => ({ Key, Value })),
    ),
    BackupTarget: 'region',
    NetworkType: 'IPV4',
  };
}

function instanceNamed(model: RdsModel, params: Record<string, unknown>): DbInstanceModel {
  const identifier = queryString(params, 'DBInstanceIdentifier') ?? '';
  const instance = model.get(identifier);
  if (!instance) throw new AwsError('DBInstanceNotFound', `DBInstance ${identifier} not found.`, 404);
  return instance;
}

function maxRecords(params: Record<string, unknown>): number {
  const value = queryNumber(params, 'MaxRecords') ?? 100;
  if (value < 20 || value > 100)
    throw new AwsError(
      'InvalidParameterValue',
      `Invalid value ${value} for MaxRecords. Must be between 20 and 100`,
    );
  return value;
}

export function rdsService(account: AwsAccount): ServiceDefinition {
  const model = account.rds;
  return {
    name: 'rds',
    protocol: 'query',
    version: '2014-10-31',
    xmlns: 'http://rds.amazonaws.com/doc/2014-10-31/',
    handle(call: AwsCall) {
      const params = call.input;
      const now = call.now;
      switch (call.operation) {
        case 'DescribeDBInstances': {
          const identifier = queryString(params, 'DBInstanceIdentifier');
          if (queryStructures(params, 'Filters.Filter').length > 0)
            throw new AwsError(
              'InvalidParameterValue',
              'Filters are not simulated; name the DBInstanceIdentifier',
            );
          const instances =
            identifier === undefined ? [...model.instances.values()] : [instanceNamed(model, params)];
          const { items, next } = page(
            instances,
            queryString(params, 'Marker'),
            maxRecords(params),
            'rds:instances',
            'InvalidParameterValue',
          );
          return {
            body: {
              DBInstances: new XmlList(
                'DBInstance',
                items.map((instance) => instanceOutput(account, instance)),
              ),
              ...(next ? { Marker: next } : {}),
            },
          };
        }
        case 'DescribeEvents': {
          const sourceId = queryString(params, 'SourceIdentifier');
          const sourceType = queryString(params, 'SourceType');
          if (sourceId !== undefined && sourceType === undefined)
            throw new AwsError(
              'InvalidParameterCombination',
              'Cannot specify source identifier without source type',
            );
          if (sourceType !== undefined && sourceType !== 'db-instance')
            throw new AwsError(
              'InvalidParameterValue',
              `The simulated account has DB instances only, not ${sourceType}`,
            );
          const duration = queryNumber(params, 'Duration');
          const end = queryString(params, 'EndTime')
            ? Date.parse(queryString(params, 'EndTime')!) / 1_000
            : now;
          // RDS keeps events for 14 days: an earlier start finds nothing more.
          const start = Math.max(
            now - 14 * 86_400,
            queryString(params, 'StartTime')
              ? Date.parse(queryString(params, 'StartTime')!) / 1_000
              : end - (duration ?? 60) * 60,
          );
          const categories = queryList(params, 'EventCategories.EventCategory');
          const events = [...model.instances.values()]
            .filter((instance) => sourceId === undefined || instance.identifier === sourceId.toLowerCase())
            .flatMap((instance) =>
              instance.events
                .filter((event) => event.at >= start && event.at < end && event.at <= now)
                .map((event) => ({ instance, event })),
            )
            .filter(
              ({ event }) =>
                categories.length === 0 || event.categories.some((category) => categories.includes(category)),
            )
            .sort((a, b) => a.event.at - b.event.at);
          const { items, next } = page(
            events,
            queryString(params, 'Marker'),
            maxRecords(params),
            `rds:events:${sourceId}:${start}:${end}`,
            'InvalidParameterValue',
          );
          return {
            body: {
              Events: new XmlList(
                'Event',
                items.map(({ instance, event }) => ({
                  SourceIdentifier: instance.identifier,
                  SourceType: 'db-instance',
                  Message: event.message,
                  EventCategories: new XmlList('EventCategory', event.categories),
                  Date: dateOf(event.at),
                  SourceArn: instance.arn,
                })),
              ),
              ...(next ? { Marker: next } : {}),
            },
          };
        }
        case 'RebootDBInstance': {
          const instance = instanceNamed(model, params);
          if (instance.status !== 'available')
            throw new AwsError(
              'InvalidDBInstanceState',
              `DB instance ${instance.identifier} is not in available state (it is ${instance.status}).`,
            );
          const failover = queryBoolean(params, 'ForceFailover') ?? false;
          if (failover && !instance.multiAz)
            throw new AwsError(
              'InvalidParameterCombination',
              'Reboot with failover is only supported for Multi-AZ DB instances.',
            );
          model.reboot(instance, now, failover);
          return { body: { DBInstance: instanceOutput(account, instance) } };
        }
        case 'ModifyDBInstance': {
          const instance = instanceNamed(model, params);
          const storage = queryNumber(params, 'AllocatedStorage');
          const others = Object.keys(params).filter(
            (key) =>
              !['Action', 'Version', 'DBInstanceIdentifier', 'AllocatedStorage', 'ApplyImmediately'].includes(
                key,
              ),
          );
          if (others.length > 0)
            throw new AwsError(
              'InvalidParameterCombination',
              `The simulated account modifies AllocatedStorage only, not ${others.join(', ')}`,
            );
          if (storage === undefined) return { body: { DBInstance: instanceOutput(account, instance) } };
          if (instance.status !== 'available' && instance.status !== 'storage-full')
            throw new AwsError(
              'InvalidDBInstanceState',
              `Database instance is not in available state (it is ${instance.status}).`,
            );
          if (
            instance.lastStorageChangeAt !== undefined &&
            now < instance.lastStorageChangeAt + STORAGE_CHANGE_INTERVAL
          )
            throw new AwsError(
              'InvalidParameterCombination',
              'You cannot modify the storage of this DB instance until 6 hours after the previous storage modification, or until storage optimization is complete.',
            );
          const minimum = Math.ceil(instance.allocatedGiB * 1.1);
          if (storage < minimum)
            throw new AwsError(
              'InvalidParameterCombination',
              `Invalid storage size for engine name ${instance.engine} and storage type ${instance.storageType}: ${storage}. The new size must be at least 10% more than the current ${instance.allocatedGiB} GiB.`,
            );
          if (storage > instance.maxAllocatedGiB)
            throw new AwsError(
              'InvalidParameterCombination',
              `AllocatedStorage ${storage} is above the instance's MaxAllocatedStorage of ${instance.maxAllocatedGiB}.`,
            );
          if (!(queryBoolean(params, 'ApplyImmediately') ?? false))
            throw new AwsError(
              'InvalidParameterCombination',
              'The simulated account applies changes immediately only (ApplyImmediately=true)',
            );
          model.modifyStorage(instance, storage, now);
          return { body: { DBInstance: instanceOutput(account, instance) } };
        }
        case 'ListTagsForResource': {
          const arn = queryString(params, 'ResourceName') ?? '';
          const instance = [...model.instances.values()].find((candidate) => candidate.arn === arn);
          if (!instance) throw new AwsError('DBInstanceNotFound', `DBInstance ${arn} not found.`, 404);
          return {
            body: {
              TagList: new XmlList(
                'Tag',
                Object.entries(instance.tags).map(([Key, Value]) => ({ Key, Value })),
              ),
            },
          };
        }
        default:
          return undefined;
      }
    },
  };
}

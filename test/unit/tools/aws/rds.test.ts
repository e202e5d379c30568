import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  type DBInstance,
  DBInstanceNotFoundFault,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  InvalidDBInstanceStateFault,
  ModifyDBInstanceCommand,
  RDSClient,
  RebootDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { grownStorage } from '../../../../functions/tools/aws/rds.ts';
import type {
  DescribeDbInstanceOutput,
  IncreaseAllocatedStorageOutput,
  RdsEventsOutput,
  RebootDbInstanceOutput,
} from '../../../../functions/tools/declarations/aws/rds.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { awsError, awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const rds = mockClient(RDSClient);
const cloudWatch = mockClient(CloudWatchClient);
const tools = awsToolset();

const GIB = 1024 ** 3;
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

function instance(overrides: Partial<DBInstance> = {}): DBInstance {
  return {
    DBInstanceIdentifier: 'orders-db',
    DBInstanceClass: 'db.r6g.large',
    Engine: 'postgres',
    EngineVersion: '16.4',
    DBInstanceStatus: 'available',
    AllocatedStorage: 100,
    MaxAllocatedStorage: 500,
    StorageType: 'gp3',
    Iops: 3000,
    MultiAZ: true,
    AvailabilityZone: 'eu-west-1a',
    SecondaryAvailabilityZone: 'eu-west-1b',
    ReadReplicaDBInstanceIdentifiers: ['orders-db-replica-1'],
    PendingModifiedValues: {},
    DBInstanceArn: 'arn:aws:rds:eu-west-1:333333333333:db:orders-db',
    ...overrides,
  };
}

describe('rds.describe-instance', () => {
  beforeEach(() => {
    rds.reset();
    cloudWatch.reset();
  });

  it('reads free storage from the latest minute, so a grown volume reads against its new size', async () => {
    // Prepare: 100 GiB grown to 120 GiB a minute ago; the window still holds the old low
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [instance({ AllocatedStorage: 120, DBInstanceStatus: 'storage-optimization' })],
    });
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'm0',
          StatusCode: 'Complete',
          Timestamps: [minutesAgo(3), minutesAgo(2), minutesAgo(1)],
          Values: [8 * GIB, 7.9 * GIB, 27.9 * GIB],
        },
      ],
    });

    // Act
    const output = (await tools.run('rds.describe-instance', {
      dbInstanceIdentifier: 'orders-db',
    })) as DescribeDbInstanceOutput;

    // Assess
    expect(output).toMatchObject({
      status: 'storage-optimization',
      allocatedStorageGiB: 120,
      freeStorageBytes: 27.9 * GIB,
      freeStoragePercent: 23.25,
    });
  });

  it('reads the instance and its latest metrics, never a pending password', async () => {
    // Prepare
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        instance({ PendingModifiedValues: { DBInstanceClass: 'db.r6g.xlarge', MasterUserPassword: '****' } }),
      ],
    });
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'm0',
          StatusCode: 'Complete',
          Timestamps: [minutesAgo(2), minutesAgo(1)],
          Values: [9 * GIB, 8 * GIB],
        },
        {
          Id: 'm1',
          StatusCode: 'Complete',
          Timestamps: [minutesAgo(2), minutesAgo(1)],
          Values: [71.5, 88.25],
        },
        { Id: 'm2', StatusCode: 'Complete', Timestamps: [minutesAgo(1)], Values: [412] },
        { Id: 'm3', StatusCode: 'Complete', Timestamps: [], Values: [] },
      ],
    });

    // Act
    const output = (await tools.run('rds.describe-instance', {
      dbInstanceIdentifier: 'orders-db',
    })) as DescribeDbInstanceOutput;

    // Assess
    expect(output).toEqual({
      dbInstanceIdentifier: 'orders-db',
      status: 'available',
      engine: 'postgres',
      engineVersion: '16.4',
      instanceClass: 'db.r6g.large',
      multiAz: true,
      availabilityZone: 'eu-west-1a',
      secondaryAvailabilityZone: 'eu-west-1b',
      dbClusterIdentifier: null,
      readReplicaSource: null,
      readReplicas: ['orders-db-replica-1'],
      storageType: 'gp3',
      allocatedStorageGiB: 100,
      maxAllocatedStorageGiB: 500,
      storageAutoscaling: true,
      iops: 3000,
      pendingModifications: { DBInstanceClass: 'db.r6g.xlarge' },
      freeStorageBytes: 8 * GIB,
      freeStoragePercent: 8,
      cpuUtilizationPercent: 88.25,
      databaseConnections: 412,
      freeableMemoryBytes: null,
    });
    const query = cloudWatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
    expect(
      query.MetricDataQueries?.map((entry) => [entry.MetricStat?.Metric?.MetricName, entry.MetricStat?.Stat]),
    ).toEqual([
      ['FreeStorageSpace', 'Minimum'],
      ['CPUUtilization', 'Average'],
      ['DatabaseConnections', 'Average'],
      ['FreeableMemory', 'Average'],
    ]);
    expect(query.MetricDataQueries?.[0]?.MetricStat?.Metric?.Dimensions).toEqual([
      { Name: 'DBInstanceIdentifier', Value: 'orders-db' },
    ]);
  });

  it('is NotFound for an unknown instance', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .rejects(new DBInstanceNotFoundFault({ message: 'DBInstance orders-dbb not found.', $metadata: {} }));
    const error = await rejectionOf(
      tools.run('rds.describe-instance', { dbInstanceIdentifier: 'orders-dbb' }),
    );
    expect(error.name).toBe('Tool.NotFound');
    expect(error.message).toContain('DB instance orders-dbb not found in eu-west-1');
  });
});

describe('rds.events', () => {
  beforeEach(() => rds.reset());

  it('reads the window across pages, newest first', async () => {
    rds
      .on(DescribeEventsCommand)
      .resolvesOnce({
        Events: [
          {
            SourceIdentifier: 'orders-db',
            SourceType: 'db-instance',
            Message: 'Multi-AZ instance failover started.',
            EventCategories: ['failover'],
            Date: minutesAgo(40),
          },
        ],
        Marker: 'next-page',
      })
      .resolvesOnce({
        Events: [
          {
            SourceIdentifier: 'orders-db',
            SourceType: 'db-instance',
            Message: 'Multi-AZ instance failover completed.',
            EventCategories: ['failover'],
            Date: minutesAgo(38),
          },
        ],
      });

    const output = (await tools.run('rds.events', {
      dbInstanceIdentifier: 'orders-db',
      lookbackMinutes: 120,
    })) as RdsEventsOutput;

    const calls = rds.commandCalls(DescribeEventsCommand).map((call) => call.args[0].input);
    expect(calls[0]).toEqual({
      SourceIdentifier: 'orders-db',
      SourceType: 'db-instance',
      StartTime: minutesAgo(120),
      EndTime: NOW,
      MaxRecords: 100,
      Marker: undefined,
    });
    expect(calls[1]?.Marker).toBe('next-page');
    expect(output.eventCount).toBe(2);
    expect(output.events).toEqual([
      {
        date: minutesAgo(38).toISOString(),
        message: 'Multi-AZ instance failover completed.',
        categories: ['failover'],
      },
      {
        date: minutesAgo(40).toISOString(),
        message: 'Multi-AZ instance failover started.',
        categories: ['failover'],
      },
    ]);
  });
});

describe('rds.reboot-instance', () => {
  beforeEach(() => rds.reset());

  it('reboots with a failover to the standby', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    rds.on(RebootDBInstanceCommand).resolves({ DBInstance: instance({ DBInstanceStatus: 'rebooting' }) });

    const output = (await tools.run('rds.reboot-instance', {
      dbInstanceIdentifier: 'orders-db',
      forceFailover: true,
    })) as RebootDbInstanceOutput;

    expect(rds.commandCalls(RebootDBInstanceCommand)[0]?.args[0].input).toEqual({
      DBInstanceIdentifier: 'orders-db',
      ForceFailover: true,
    });
    expect(output).toEqual({
      dbInstanceIdentifier: 'orders-db',
      previousStatus: 'available',
      status: 'rebooting',
      forceFailover: true,
      multiAz: true,
      previousAvailabilityZone: 'eu-west-1a',
      dryRun: false,
    });
    expect(TOOL_CATALOG.get('rds.reboot-instance')).toMatchObject({ risk: 'high', mutating: true });
    expect(TOOL_CATALOG.get('rds.reboot-instance')?.compensation).toBeUndefined();
  });

  it('refuses a failover without a standby, and a reboot of an instance that is not available', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ MultiAZ: false })] });
    const single = await rejectionOf(
      tools.run('rds.reboot-instance', { dbInstanceIdentifier: 'orders-db', forceFailover: true }),
    );
    expect(single.name).toBe('Tool.Refused');
    expect(single.message).toContain('is not Multi-AZ');

    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [instance({ DBInstanceStatus: 'backing-up' })] });
    const busy = await rejectionOf(tools.run('rds.reboot-instance', { dbInstanceIdentifier: 'orders-db' }));
    expect(busy.name).toBe('Tool.Refused');
    expect(busy.message).toContain('is backing-up');
    expect(rds.commandCalls(RebootDBInstanceCommand)).toHaveLength(0);
  });

  it('dry run checks and reboots nothing; RDS refusing the state is Refused', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    const dry = (await tools.run(
      'rds.reboot-instance',
      { dbInstanceIdentifier: 'orders-db' },
      testContext({ dryRun: true }),
    )) as RebootDbInstanceOutput;
    expect(dry).toMatchObject({ dryRun: true, status: 'available', forceFailover: false });
    expect(rds.commandCalls(RebootDBInstanceCommand)).toHaveLength(0);

    rds
      .on(RebootDBInstanceCommand)
      .rejects(
        new InvalidDBInstanceStateFault({ message: 'Instance orders-db is not available.', $metadata: {} }),
      );
    expect(
      (await rejectionOf(tools.run('rds.reboot-instance', { dbInstanceIdentifier: 'orders-db' }))).name,
    ).toBe('Tool.Refused');
  });
});

describe('rds.increase-allocated-storage', () => {
  beforeEach(() => rds.reset());

  it('grows storage by the percentage, immediately', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    rds.on(ModifyDBInstanceCommand).resolves({
      DBInstance: instance({
        DBInstanceStatus: 'modifying',
        PendingModifiedValues: { AllocatedStorage: 125 },
      }),
    });

    const output = (await tools.run('rds.increase-allocated-storage', {
      dbInstanceIdentifier: 'orders-db',
      increasePercent: 25,
      maxAllowedStorageGiB: 400,
    })) as IncreaseAllocatedStorageOutput;

    expect(rds.commandCalls(ModifyDBInstanceCommand)[0]?.args[0].input).toEqual({
      DBInstanceIdentifier: 'orders-db',
      AllocatedStorage: 125,
      ApplyImmediately: true,
    });
    expect(output).toEqual({
      dbInstanceIdentifier: 'orders-db',
      previousAllocatedStorageGiB: 100,
      allocatedStorageGiB: 125,
      maxAllowedStorageGiB: 400,
      maxAllocatedStorageGiB: 500,
      storageType: 'gp3',
      status: 'modifying',
      dryRun: false,
    });
    expect(TOOL_CATALOG.get('rds.increase-allocated-storage')?.compensation).toBeUndefined();
  });

  it('refuses above the bound, above the autoscaling ceiling, with a change pending, and on Aurora', async () => {
    const parameters = { dbInstanceIdentifier: 'orders-db', increasePercent: 50, maxAllowedStorageGiB: 140 };
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    const bound = await rejectionOf(tools.run('rds.increase-allocated-storage', parameters));
    expect(bound.message).toContain('would allocate 150 GiB, above the bound 140 GiB');

    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ MaxAllocatedStorage: 120 })] });
    const ceiling = await rejectionOf(
      tools.run('rds.increase-allocated-storage', { ...parameters, maxAllowedStorageGiB: 1000 }),
    );
    expect(ceiling.message).toContain('above its storage autoscaling ceiling (MaxAllocatedStorage 120 GiB)');

    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [instance({ PendingModifiedValues: { AllocatedStorage: 110 } })] });
    const pending = await rejectionOf(
      tools.run('rds.increase-allocated-storage', { ...parameters, maxAllowedStorageGiB: 1000 }),
    );
    expect(pending.message).toContain('already has a storage change to 110 GiB pending');

    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [instance({ Engine: 'aurora-postgresql', DBClusterIdentifier: 'orders-cluster' })],
    });
    const aurora = await rejectionOf(
      tools.run('rds.increase-allocated-storage', { ...parameters, maxAllowedStorageGiB: 1000 }),
    );
    for (const error of [bound, ceiling, pending, aurora]) expect(error.name).toBe('Tool.Refused');
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
  });

  it('grows a storage-full instance in a dry run without changing it; throttling is Throttled', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [instance({ DBInstanceStatus: 'storage-full' })] });
    const dry = (await tools.run(
      'rds.increase-allocated-storage',
      { dbInstanceIdentifier: 'orders-db', maxAllowedStorageGiB: 400 },
      testContext({ dryRun: true }),
    )) as IncreaseAllocatedStorageOutput;
    expect(dry).toMatchObject({ allocatedStorageGiB: 120, status: 'storage-full', dryRun: true });
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);

    rds.on(ModifyDBInstanceCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    expect(
      (
        await rejectionOf(
          tools.run('rds.increase-allocated-storage', {
            dbInstanceIdentifier: 'orders-db',
            maxAllowedStorageGiB: 400,
          }),
        )
      ).name,
    ).toBe('Tool.Throttled');
  });

  it('asks for at least RDS’s 10% step, in whole GiB', () => {
    expect(grownStorage(100, 10)).toBe(110);
    expect(grownStorage(21, 10)).toBe(24);
    expect(grownStorage(1000, 20)).toBe(1200);
  });
});

import type { AwsAccount } from './account.ts';
import type { MetricSeries } from './metric-store.ts';

/**
 * Resources of the account that only report metrics here (no API a tool calls): the Kinesis stream
 * clickstream, the legacy-web EBS volumes and the NAT gateway. Their levels are models a scenario can
 * change (a consumer falling behind, a gp2 volume spending its burst credits, a NAT out of ports).
 */

export const STREAM = 'clickstream';
export const VOLUME = 'vol-0a1b2c3d4e5f60718';
export const NAT_GATEWAY = 'nat-0a1b2c3d4e5f60718';

interface Level {
  series: MetricSeries;
  value: number;
}

export class PassiveResources {
  /** `namespace/metric/dimension value` → the level it reports; a scenario sets `value`. */
  readonly levels = new Map<string, Level>();

  constructor(account: AwsAccount) {
    const add = (
      namespace: string,
      dimensions: Record<string, string>,
      metricName: string,
      kind: 'gauge' | 'count',
      unit: string,
      value: number,
      extra: { noise?: number; omitZero?: boolean } = {},
    ) => {
      const series = account.metrics.define(
        { namespace, metricName, dimensions },
        { kind, unit, initial: value, sampleSeconds: 10, integer: false, ...extra },
      );
      this.levels.set(`${namespace}/${metricName}/${Object.values(dimensions).join('/')}`, { series, value });
    };
    const stream = { StreamName: STREAM };
    add('AWS/Kinesis', stream, 'GetRecords.IteratorAgeMilliseconds', 'gauge', 'Milliseconds', 850, {
      noise: 0.2,
    });
    add('AWS/Kinesis', stream, 'IncomingRecords', 'count', 'Count', 140, { noise: 0.1 });
    add('AWS/Kinesis', stream, 'IncomingBytes', 'count', 'Bytes', 140 * 620, { noise: 0.1 });
    add('AWS/Kinesis', stream, 'GetRecords.Records', 'count', 'Count', 140, { noise: 0.1 });
    add('AWS/Kinesis', stream, 'ReadProvisionedThroughputExceeded', 'count', 'Count', 0);
    add('AWS/Kinesis', stream, 'WriteProvisionedThroughputExceeded', 'count', 'Count', 0);
    for (const volumeId of [VOLUME, 'vol-0b2c3d4e5f6071829']) {
      const volume = { VolumeId: volumeId };
      add('AWS/EBS', volume, 'BurstBalance', 'gauge', 'Percent', 91, { noise: 0.01 });
      add('AWS/EBS', volume, 'VolumeQueueLength', 'gauge', 'Count', 0.3, { noise: 0.2 });
      add('AWS/EBS', volume, 'VolumeReadOps', 'count', 'Count', 40, { noise: 0.1 });
      add('AWS/EBS', volume, 'VolumeWriteOps', 'count', 'Count', 65, { noise: 0.1 });
      add('AWS/EBS', volume, 'VolumeIdleTime', 'count', 'Seconds', 0.82, { noise: 0.05 });
    }
    const nat = { NatGatewayId: NAT_GATEWAY };
    add('AWS/NATGateway', nat, 'ErrorPortAllocation', 'count', 'Count', 0);
    add('AWS/NATGateway', nat, 'ActiveConnectionCount', 'gauge', 'Count', 3_100, { noise: 0.05 });
    add('AWS/NATGateway', nat, 'ConnectionAttemptCount', 'count', 'Count', 95, { noise: 0.1 });
    add('AWS/NATGateway', nat, 'PacketsDropCount', 'count', 'Count', 0);
    add('AWS/NATGateway', nat, 'BytesOutToDestination', 'count', 'Bytes', 1.9e6, { noise: 0.1 });
  }

  /** Sets what a passive resource reports from now on (`namespace/metric/dimension value`). */
  set(key: string, value: number): void {
    const level = this.levels.get(key);
    if (!level)
      throw new Error(`no passive metric ${key}; the metrics are ${[...this.levels.keys()].join(', ')}`);
    level.value = value;
  }

  tick(now: number): void {
    for (const level of this.levels.values()) level.series.record(now, level.value);
  }
}

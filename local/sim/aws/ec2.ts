import type { AwsAccount } from './account.ts';
import { dateOf, hexId } from './ids.ts';
import type { MetricSeries } from './metric-store.ts';
import {
  type AwsCall,
  AwsError,
  page,
  queryBoolean,
  queryList,
  queryNumber,
  queryStructures,
  type ServiceDefinition,
} from './protocol.ts';

/**
 * EC2 instances: state, status checks (system, instance, attached EBS), reboots and terminations,
 * tags, and their CloudWatch metrics (CPUUtilization, StatusCheckFailed*). An instance is also a load
 * balancer target: its health check fails while it is impaired, rebooting or its application is down.
 * API (EC2 Query): DescribeInstances, DescribeInstanceStatus, DescribeTags, RebootInstances.
 */

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
type CheckStatus = 'ok' | 'impaired' | 'initializing' | 'insufficient-data' | 'not-applicable';

const STATE_CODES: Record<InstanceState, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** Seconds an instance takes from pending to running, and a reboot until the OS answers again. */
export const BOOT_SECONDS = 2;
export const REBOOT_SECONDS = 3;
/** After boot or reboot, status checks are "initializing" this long. */
export const STATUS_INITIALIZING_SECONDS = 2;
const TERMINATE_SECONDS = 2;

export interface Ec2Instance {
  id: string;
  type: string;
  zone: string;
  privateIp: string;
  imageId: string;
  launchTime: number;
  state: InstanceState;
  stateChangedAt: number;
  stateReason?: { code: string; message: string };
  tags: Record<string, string>;
  subnetId: string;
  vpcId: string;
  /** A fault of the guest (instance status check) or of the host (system status check), since when. */
  instanceFault?: { since: number; reason: string };
  systemFault?: { since: number; reason: string };
  /** When the last boot or reboot started (status checks initialize after it). */
  bootedAt: number;
  rebootUntil?: number;
  /** The application on it (what a load balancer's health check reaches). */
  application: { healthy: boolean; code?: number; since?: number };
  /** CPU the workload uses, percent. */
  cpuPercent: number;
  volumes: Array<{ device: string; volumeId: string }>;
  metrics: { cpu: MetricSeries; failed: MetricSeries; instance: MetricSeries; system: MetricSeries };
}

export interface LaunchOptions {
  id?: string;
  type?: string;
  zone: string;
  privateIp: string;
  imageId?: string;
  launchTime: number;
  tags: Record<string, string>;
  cpuPercent?: number;
  volumes?: Array<{ device: string; volumeId: string }>;
  /** Launched now: pending, then running after BOOT_SECONDS. */
  booting?: boolean;
}

const SUBNETS: Record<string, string> = {
  'eu-west-1a': 'subnet-0a11b22c33d44e55f',
  'eu-west-1b': 'subnet-0b22c33d44e55f66a',
  'eu-west-1c': 'subnet-0c33d44e55f66a77b',
};
export const VPC_ID = 'vpc-0d1e2f3a4b5c6d7e8';

export class Ec2Model {
  readonly instances = new Map<string, Ec2Instance>();
  private launched = 0;

  constructor(private readonly account: AwsAccount) {
    const nineDaysAgo = account.startedAt - 9 * 86_400;
    for (const [id, zone, ip] of [
      ['i-0a1b2c3d4e5f60718', 'eu-west-1a', '10.0.1.57'],
      ['i-0b2c3d4e5f6071829', 'eu-west-1b', '10.0.2.88'],
    ] as const)
      this.launch({
        id,
        type: 't3.medium',
        zone,
        privateIp: ip,
        imageId: 'ami-0c1d2e3f4a5b6c7d8',
        launchTime: nineDaysAgo,
        tags: {
          Name: 'legacy-web',
          'aws:autoscaling:groupName': 'legacy-web-asg',
          team: 'web',
          environment: 'staging',
        },
        cpuPercent: 18,
        volumes: [
          {
            device: '/dev/xvda',
            volumeId: id === 'i-0a1b2c3d4e5f60718' ? 'vol-0a1b2c3d4e5f60718' : 'vol-0b2c3d4e5f6071829',
          },
        ],
      });
  }

  launch(options: LaunchOptions): Ec2Instance {
    this.launched += 1;
    const id = options.id ?? `i-0${hexId(`instance-${this.launched}-${options.launchTime}`, 16)}`;
    const dimensions = { InstanceId: id };
    const series = (metricName: string, unit: string, initial: number) =>
      this.account.metrics.define(
        { namespace: 'AWS/EC2', metricName, dimensions },
        { kind: 'gauge', unit, since: options.launchTime, initial, sampleSeconds: 60, noise: 0 },
      );
    const booting = options.booting ?? false;
    const instance: Ec2Instance = {
      id,
      type: options.type ?? 't3.medium',
      zone: options.zone,
      privateIp: options.privateIp,
      imageId: options.imageId ?? 'ami-0c1d2e3f4a5b6c7d8',
      launchTime: options.launchTime,
      state: booting ? 'pending' : 'running',
      stateChangedAt: options.launchTime,
      tags: { ...options.tags },
      subnetId: SUBNETS[options.zone] ?? 'subnet-0a11b22c33d44e55f',
      vpcId: VPC_ID,
      bootedAt: options.launchTime,
      application: { healthy: true },
      cpuPercent: options.cpuPercent ?? 12,
      volumes: options.volumes ?? [{ device: '/dev/xvda', volumeId: `vol-0${hexId(`volume-${id}`, 16)}` }],
      metrics: {
        cpu: this.account.metrics.define(
          { namespace: 'AWS/EC2', metricName: 'CPUUtilization', dimensions },
          {
            kind: 'gauge',
            unit: 'Percent',
            since: options.launchTime,
            initial: options.cpuPercent ?? 12,
            noise: 0.15,
            sampleSeconds: 60,
          },
        ),
        failed: series('StatusCheckFailed', 'Count', 0),
        instance: series('StatusCheckFailed_Instance', 'Count', 0),
        system: series('StatusCheckFailed_System', 'Count', 0),
      },
    };
    this.instances.set(id, instance);
    return instance;
  }

  get(id: string): Ec2Instance | undefined {
    return this.instances.get(id);
  }

  /** The two status checks and the EBS check as DescribeInstanceStatus reports them now. */
  statusOf(
    instance: Ec2Instance,
    now: number,
  ): { system: CheckStatus; instance: CheckStatus; ebs: CheckStatus } {
    if (instance.state !== 'running')
      return { system: 'not-applicable', instance: 'not-applicable', ebs: 'not-applicable' };
    const initializing =
      now < instance.bootedAt + STATUS_INITIALIZING_SECONDS || instance.rebootUntil !== undefined;
    if (instance.systemFault) return { system: 'impaired', instance: 'impaired', ebs: 'ok' };
    if (initializing && !instance.instanceFault) return { system: 'ok', instance: 'initializing', ebs: 'ok' };
    return { system: 'ok', instance: instance.instanceFault ? 'impaired' : 'ok', ebs: 'ok' };
  }

  /** A load balancer's health check of the instance's application on `port`. */
  healthCheck(
    instance: Ec2Instance,
    now: number,
  ): { pass: true } | { pass: false; reason: string; description: string } {
    if (instance.state !== 'running')
      return {
        pass: false,
        reason: 'Target.InvalidState',
        description: `Target is in the ${instance.state} state`,
      };
    if (instance.systemFault || instance.instanceFault || instance.rebootUntil !== undefined)
      return { pass: false, reason: 'Target.Timeout', description: 'Request timed out' };
    if (now < instance.bootedAt + STATUS_INITIALIZING_SECONDS)
      return { pass: false, reason: 'Target.FailedHealthChecks', description: 'Health checks failed' };
    if (!instance.application.healthy)
      return {
        pass: false,
        reason: 'Target.ResponseCodeMismatch',
        description: `Health checks failed with these codes: [${instance.application.code ?? 500}]`,
      };
    return { pass: true };
  }

  /** Reboots now (or, in a dry run, checks it could). Clears a fault of the guest; a host fault stays. */
  reboot(instance: Ec2Instance, now: number): void {
    instance.rebootUntil = now + REBOOT_SECONDS;
    this.account.note(`ec2: RebootInstances ${instance.id}: the guest OS restarts`);
  }

  terminate(instance: Ec2Instance, now: number, reason: string): void {
    if (instance.state === 'terminated' || instance.state === 'shutting-down') return;
    instance.state = 'shutting-down';
    instance.stateChangedAt = now;
    instance.stateReason = { code: 'Client.UserInitiatedShutdown', message: reason };
  }

  tick(now: number): void {
    for (const instance of this.instances.values()) {
      if (instance.state === 'pending' && now >= instance.launchTime + BOOT_SECONDS) {
        instance.state = 'running';
        instance.stateChangedAt = instance.launchTime + BOOT_SECONDS;
        instance.bootedAt = instance.stateChangedAt;
      }
      if (instance.rebootUntil !== undefined && now >= instance.rebootUntil) {
        instance.bootedAt = instance.rebootUntil;
        instance.rebootUntil = undefined;
        if (instance.instanceFault) {
          this.account.note(
            `ec2: ${instance.id} came back from its reboot; the instance status check passes again`,
          );
          instance.instanceFault = undefined;
          instance.application = { healthy: true };
        }
      }
      if (instance.state === 'shutting-down' && now >= instance.stateChangedAt + TERMINATE_SECONDS) {
        instance.state = 'terminated';
        instance.stateChangedAt = now;
        for (const series of Object.values(instance.metrics)) series.until = now;
      }
      if (instance.state === 'terminated') continue;
      const status = this.statusOf(instance, now);
      const instanceFailed = status.instance === 'impaired' ? 1 : 0;
      const systemFailed = status.system === 'impaired' ? 1 : 0;
      instance.metrics.instance.record(now, instanceFailed);
      instance.metrics.system.record(now, systemFailed);
      instance.metrics.failed.record(now, Math.max(instanceFailed, systemFailed));
      // A guest thrashing after the OOM killer burns all its CPU.
      instance.metrics.cpu.record(
        now,
        instance.state !== 'running' ? 0 : instance.instanceFault ? 99 : instance.cpuPercent,
      );
    }
  }
}

// ------------------------------------------------------------------------------------------------ API

function requireIds(account: AwsAccount, ids: string[]): void {
  const malformed = ids.find((id) => !/^i-[0-9a-f]{8}([0-9a-f]{9})?$/.test(id));
  if (malformed) throw new AwsError('InvalidInstanceID.Malformed', `Invalid id: "${malformed}"`);
  const missing = ids.filter((id) => !account.ec2.get(id));
  if (missing.length > 0)
    throw new AwsError(
      'InvalidInstanceID.NotFound',
      missing.length === 1
        ? `The instance ID '${missing[0]}' does not exist`
        : `The instance IDs '${missing.join(', ')}' do not exist`,
    );
}

function filterValues(params: Record<string, unknown>): Array<{ name: string; values: string[] }> {
  return queryStructures(params, 'Filter').map((filter) => ({
    name: filter.Name ?? '',
    values: Object.entries(filter)
      .filter(([key]) => /^Value\.\d+$/.test(key))
      .sort(([a], [b]) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
      .map(([, value]) => value),
  }));
}

function maxResults(params: Record<string, unknown>, minimum: number, maximum: number): number | undefined {
  const value = queryNumber(params, 'MaxResults');
  if (value === undefined) return undefined;
  if (value < minimum || value > maximum)
    throw new AwsError(
      'InvalidParameterValue',
      `Value (${value}) for parameter maxResults is invalid. Expecting a value between ${minimum} and ${maximum}.`,
    );
  return value;
}

function stateOf(instance: Ec2Instance) {
  return { code: STATE_CODES[instance.state], name: instance.state };
}

function describeInstance(instance: Ec2Instance) {
  return {
    instanceId: instance.id,
    imageId: instance.imageId,
    instanceState: stateOf(instance),
    privateDnsName: `ip-${instance.privateIp.replace(/\./g, '-')}.eu-west-1.compute.internal`,
    dnsName: '',
    reason: instance.stateReason ? `User initiated (${dateOf(instance.stateChangedAt).toISOString()})` : '',
    amiLaunchIndex: 0,
    productCodes: [],
    instanceType: instance.type,
    launchTime: dateOf(instance.launchTime),
    placement: { availabilityZone: instance.zone, groupName: '', tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: instance.subnetId,
    vpcId: instance.vpcId,
    privateIpAddress: instance.privateIp,
    architecture: 'x86_64',
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: instance.volumes.map((volume) => ({
      deviceName: volume.device,
      ebs: {
        volumeId: volume.volumeId,
        status: 'attached',
        attachTime: dateOf(instance.launchTime),
        deleteOnTermination: true,
      },
    })),
    virtualizationType: 'hvm',
    hypervisor: 'xen',
    ebsOptimized: true,
    enaSupport: true,
    ...(instance.stateReason ? { stateReason: instance.stateReason } : {}),
    groupSet: [{ groupId: 'sg-0a1b2c3d4e5f67890', groupName: 'legacy-web' }],
    tagSet: Object.entries(instance.tags).map(([key, value]) => ({ key, value })),
  };
}

function summary(status: CheckStatus, name: string, since?: number) {
  return {
    status,
    details: [
      {
        name,
        status: status === 'impaired' ? 'failed' : status === 'ok' ? 'passed' : status,
        ...(status === 'impaired' && since !== undefined ? { impairedSince: dateOf(since) } : {}),
      },
    ],
  };
}

export function ec2Service(account: AwsAccount): ServiceDefinition {
  return {
    name: 'ec2',
    protocol: 'ec2',
    version: '2016-11-15',
    xmlns: 'http://ec2.amazonaws.com/doc/2016-11-15/',
    handle(call: AwsCall) {
      const params = call.input;
      const now = call.now;
      switch (call.operation) {
        case 'DescribeInstances': {
          const ids = queryList(params, 'InstanceId');
          const size = maxResults(params, 5, 1_000);
          if (ids.length > 0 && size !== undefined)
            throw new AwsError(
              'InvalidParameterCombination',
              'The parameter instancesSet cannot be used with the parameter maxResults',
            );
          requireIds(account, ids);
          const instances = matching(account, ids, filterValues(params));
          const { items, next } = page(
            instances,
            String(params.NextToken ?? '') || undefined,
            size ?? 1_000,
            'ec2:DescribeInstances',
            'InvalidParameterValue',
          );
          return {
            body: {
              reservationSet: items.map((instance) => ({
                reservationId: `r-0${hexId(`reservation-${instance.id}`, 16)}`,
                ownerId: account.accountId,
                groupSet: [],
                instancesSet: [describeInstance(instance)],
              })),
              ...(next ? { nextToken: next } : {}),
            },
          };
        }
        case 'DescribeInstanceStatus': {
          const ids = queryList(params, 'InstanceId');
          const size = maxResults(params, 5, 1_000);
          if (ids.length > 0 && size !== undefined)
            throw new AwsError(
              'InvalidParameterCombination',
              'The parameter instancesSet cannot be used with the parameter maxResults',
            );
          requireIds(account, ids);
          const all = queryBoolean(params, 'IncludeAllInstances') ?? false;
          const instances = matching(account, ids, filterValues(params)).filter(
            (instance) => all || instance.state === 'running',
          );
          const { items, next } = page(
            instances,
            String(params.NextToken ?? '') || undefined,
            size ?? 1_000,
            'ec2:DescribeInstanceStatus',
            'InvalidParameterValue',
          );
          return {
            body: {
              instanceStatusSet: items.map((instance) => {
                const status = account.ec2.statusOf(instance, now);
                return {
                  instanceId: instance.id,
                  availabilityZone: instance.zone,
                  eventsSet: [],
                  instanceState: stateOf(instance),
                  systemStatus: summary(status.system, 'reachability', instance.systemFault?.since),
                  instanceStatus: summary(status.instance, 'reachability', instance.instanceFault?.since),
                  attachedEbsStatus: summary(status.ebs, 'reachability'),
                };
              }),
              ...(next ? { nextToken: next } : {}),
            },
          };
        }
        case 'DescribeTags': {
          const size = maxResults(params, 5, 1_000) ?? 1_000;
          const filters = filterValues(params);
          const tags = [...account.ec2.instances.values()]
            .filter((instance) => instance.state !== 'terminated')
            .flatMap((instance) =>
              Object.entries(instance.tags).map(([key, value]) => ({
                resourceId: instance.id,
                resourceType: 'instance',
                key,
                value,
              })),
            )
            .filter((tag) =>
              filters.every((filter) => {
                const field =
                  filter.name === 'resource-id'
                    ? tag.resourceId
                    : filter.name === 'resource-type'
                      ? tag.resourceType
                      : filter.name === 'key'
                        ? tag.key
                        : filter.name === 'value'
                          ? tag.value
                          : undefined;
                if (field === undefined)
                  throw new AwsError('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
                return filter.values.includes(field);
              }),
            );
          const { items, next } = page(
            tags,
            String(params.NextToken ?? '') || undefined,
            size,
            'ec2:DescribeTags',
            'InvalidParameterValue',
          );
          return { body: { tagSet: items, ...(next ? { nextToken: next } : {}) } };
        }
        case 'RebootInstances': {
          const ids = queryList(params, 'InstanceId');
          if (ids.length === 0)
            throw new AwsError('MissingParameter', 'The request must contain the parameter InstanceId');
          requireIds(account, ids);
          const stopped = ids
            .map((id) => account.ec2.get(id)!)
            .find((instance) => instance.state !== 'running');
          if (stopped)
            throw new AwsError(
              'IncorrectState',
              `The instance '${stopped.id}' is not in a state from which it can be rebooted.`,
            );
          if (queryBoolean(params, 'DryRun'))
            throw new AwsError(
              'DryRunOperation',
              'Request would have succeeded, but DryRun flag is set.',
              412,
            );
          for (const id of ids) account.ec2.reboot(account.ec2.get(id)!, now);
          return { body: { return: true } };
        }
        default:
          return undefined;
      }
    },
  };
}

function matching(
  account: AwsAccount,
  ids: string[],
  filters: Array<{ name: string; values: string[] }>,
): Ec2Instance[] {
  const instances =
    ids.length > 0 ? ids.map((id) => account.ec2.get(id)!) : [...account.ec2.instances.values()];
  return instances.filter((instance) =>
    filters.every((filter) => {
      if (filter.name === 'instance-state-name') return filter.values.includes(instance.state);
      if (filter.name === 'instance-id') return filter.values.includes(instance.id);
      if (filter.name === 'availability-zone') return filter.values.includes(instance.zone);
      if (filter.name.startsWith('tag:'))
        return filter.values.includes(instance.tags[filter.name.slice(4)] ?? '\u0000');
      if (filter.name === 'tag-key') return filter.values.some((value) => value in instance.tags);
      throw new AwsError('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
    }),
  );
}

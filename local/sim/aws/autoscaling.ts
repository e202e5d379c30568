import type { AwsAccount } from './account.ts';
import type { Ec2Instance } from './ec2.ts';
import { LEGACY_TARGET_GROUP, type TargetBackend } from './elbv2.ts';
import { dateOf } from './ids.ts';
import {
  type AwsCall,
  AwsError,
  page,
  queryBoolean,
  queryList,
  queryNumber,
  queryString,
  type ServiceDefinition,
} from './protocol.ts';

/**
 * EC2 Auto Scaling groups: members with their lifecycle (Pending → InService → Terminating →
 * Terminated) and health, the desired capacity they hold by launching and terminating instances, and
 * the target groups they register members into. The group does not run health checks of its own
 * (HealthCheckType EC2, and status checks are not acted on here): an instance is replaced when
 * someone marks it Unhealthy (SetInstanceHealth) or it is terminated.
 * API (AWS Query): DescribeAutoScalingGroups, DescribeAutoScalingInstances, SetDesiredCapacity,
 * SetInstanceHealth.
 */

export const LEGACY_GROUP = 'legacy-web-asg';

type Lifecycle = 'Pending' | 'InService' | 'Terminating' | 'Terminated';

export interface GroupMember {
  instanceId: string;
  zone: string;
  lifecycle: Lifecycle;
  health: 'Healthy' | 'Unhealthy';
  since: number;
}

export interface AutoScalingGroupModel {
  name: string;
  arn: string;
  minSize: number;
  maxSize: number;
  desired: number;
  zones: string[];
  targetGroupArns: string[];
  instanceType: string;
  launchTemplate: { LaunchTemplateId: string; LaunchTemplateName: string; Version: string };
  createdAt: number;
  tags: Record<string, string>;
  members: GroupMember[];
  lastScalingAt: number;
  /** Next private address to give a launched member, per zone. */
  nextHost: number;
}

const DEFAULT_COOLDOWN = 300;

export class AutoScalingModel {
  readonly groups = new Map<string, AutoScalingGroupModel>();

  constructor(private readonly account: AwsAccount) {
    const group = this.add({
      name: LEGACY_GROUP,
      minSize: 2,
      maxSize: 4,
      zones: ['eu-west-1a', 'eu-west-1b'],
      targetGroupArns: [account.arn('elasticloadbalancing', LEGACY_TARGET_GROUP)],
      instanceType: 't3.medium',
      createdAt: account.startedAt - 400 * 86_400,
      tags: { team: 'web', environment: 'staging' },
    });
    for (const instanceId of ['i-0a1b2c3d4e5f60718', 'i-0b2c3d4e5f6071829']) {
      const instance = account.ec2.get(instanceId)!;
      group.members.push({
        instanceId,
        zone: instance.zone,
        lifecycle: 'InService',
        health: 'Healthy',
        since: instance.launchTime,
      });
      const targetGroup = account.elb.group(LEGACY_TARGET_GROUP)!;
      account.elb.register(
        targetGroup,
        instanceId,
        targetGroup.port,
        instance.zone,
        this.backendOf(instance),
        instance.launchTime,
      );
    }
    group.desired = group.members.length;
  }

  add(options: {
    name: string;
    minSize: number;
    maxSize: number;
    zones: string[];
    targetGroupArns: string[];
    instanceType: string;
    createdAt: number;
    tags: Record<string, string>;
  }): AutoScalingGroupModel {
    const group: AutoScalingGroupModel = {
      ...options,
      arn: this.account.arn(
        'autoscaling',
        `autoScalingGroup:5f1b2c3d-4e5f-4a6b-8c7d-${options.name.length.toString(16).padStart(12, '0')}:autoScalingGroupName/${options.name}`,
      ),
      desired: 0,
      launchTemplate: {
        LaunchTemplateId: 'lt-0a1b2c3d4e5f60718',
        LaunchTemplateName: options.name.replace(/-asg$/, ''),
        Version: '7',
      },
      members: [],
      lastScalingAt: options.createdAt,
      nextHost: 100,
    };
    this.groups.set(group.name, group);
    return group;
  }

  groupOf(instanceId: string): { group: AutoScalingGroupModel; member: GroupMember } | undefined {
    for (const group of this.groups.values()) {
      const member = group.members.find((candidate) => candidate.instanceId === instanceId);
      if (member && member.lifecycle !== 'Terminated') return { group, member };
    }
    return undefined;
  }

  /** What a load balancer reaches on a member: its application. */
  backendOf(instance: Ec2Instance): TargetBackend {
    const ec2 = this.account.ec2;
    return {
      healthCheck: (now) => ec2.healthCheck(instance, now),
      serve: (rate) => ({
        latencySeconds: 0.045 + rate * 0.002,
        errorFraction: instance.application.healthy ? 0.0005 : 0.8,
      }),
    };
  }

  setDesired(group: AutoScalingGroupModel, desired: number, now: number): void {
    group.desired = desired;
    group.lastScalingAt = now;
  }

  markUnhealthy(group: AutoScalingGroupModel, member: GroupMember, now: number): void {
    member.health = 'Unhealthy';
    member.since = now;
    this.account.note(
      `autoscaling: ${member.instanceId} of ${group.name} marked Unhealthy: the group replaces it`,
    );
  }

  /** Replaces unhealthy members, holds the desired capacity, registers members into the target groups. */
  tick(now: number): void {
    for (const group of this.groups.values()) {
      for (const member of group.members) {
        const instance = this.account.ec2.get(member.instanceId);
        if (member.lifecycle === 'Pending' && instance?.state === 'running') {
          member.lifecycle = 'InService';
          member.since = now;
          for (const arn of group.targetGroupArns) {
            const targetGroup = this.account.elb.group(arn);
            if (targetGroup)
              this.account.elb.register(
                targetGroup,
                instance.id,
                targetGroup.port,
                instance.zone,
                this.backendOf(instance),
                now,
              );
          }
          this.account.note(
            `autoscaling: ${instance.id} is InService in ${group.name} and registered with its target groups`,
          );
        }
        if (
          member.lifecycle === 'InService' &&
          (member.health === 'Unhealthy' || instance?.state === 'terminated')
        )
          this.terminate(
            group,
            member,
            now,
            'an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped, or marked unhealthy',
          );
        if (member.lifecycle === 'Terminating' && (!instance || instance.state === 'terminated')) {
          member.lifecycle = 'Terminated';
          member.since = now;
        }
      }
      group.members = group.members.filter((member) => member.lifecycle !== 'Terminated');
      const active = group.members.filter(
        (member) => member.lifecycle === 'Pending' || member.lifecycle === 'InService',
      );
      for (let count = active.length; count < group.desired; count += 1) this.launchMember(group, now);
      const surplus = active.length - group.desired;
      if (surplus > 0)
        for (const member of active.slice(-surplus))
          this.terminate(group, member, now, 'the desired capacity was lowered');
    }
  }

  private launchMember(group: AutoScalingGroupModel, now: number): void {
    const zoneCounts = group.zones.map((zone) => ({
      zone,
      count: group.members.filter((member) => member.zone === zone && member.lifecycle !== 'Terminating')
        .length,
    }));
    const zone = zoneCounts.sort((a, b) => a.count - b.count)[0]!.zone;
    group.nextHost += 1;
    const subnet = zone.endsWith('a') ? 1 : zone.endsWith('b') ? 2 : 3;
    const instance = this.account.ec2.launch({
      type: group.instanceType,
      zone,
      privateIp: `10.0.${subnet}.${group.nextHost}`,
      launchTime: now,
      booting: true,
      tags: {
        ...group.tags,
        Name: group.launchTemplate.LaunchTemplateName,
        'aws:autoscaling:groupName': group.name,
      },
    });
    group.members.push({
      instanceId: instance.id,
      zone,
      lifecycle: 'Pending',
      health: 'Healthy',
      since: now,
    });
    this.account.note(
      `autoscaling: ${group.name} launches ${instance.id} in ${zone} to hold ${group.desired} instance(s)`,
    );
  }

  private terminate(group: AutoScalingGroupModel, member: GroupMember, now: number, why: string): void {
    member.lifecycle = 'Terminating';
    member.since = now;
    for (const arn of group.targetGroupArns) {
      const targetGroup = this.account.elb.group(arn);
      if (targetGroup) this.account.elb.deregister(targetGroup, member.instanceId, now);
    }
    const instance = this.account.ec2.get(member.instanceId);
    if (instance) this.account.ec2.terminate(instance, now, why);
    this.account.note(`autoscaling: ${group.name} terminates ${member.instanceId}: ${why}`);
  }
}

// ------------------------------------------------------------------------------------------------ API

function memberOutput(group: AutoScalingGroupModel, member: GroupMember) {
  return {
    InstanceId: member.instanceId,
    InstanceType: group.instanceType,
    AvailabilityZone: member.zone,
    LifecycleState: member.lifecycle,
    HealthStatus: member.health,
    LaunchTemplate: group.launchTemplate,
    ProtectedFromScaleIn: false,
  };
}

function groupOutput(group: AutoScalingGroupModel) {
  return {
    AutoScalingGroupName: group.name,
    AutoScalingGroupARN: group.arn,
    LaunchTemplate: group.launchTemplate,
    MinSize: group.minSize,
    MaxSize: group.maxSize,
    DesiredCapacity: group.desired,
    DefaultCooldown: DEFAULT_COOLDOWN,
    AvailabilityZones: group.zones,
    LoadBalancerNames: [],
    TargetGroupARNs: group.targetGroupArns,
    HealthCheckType: 'EC2',
    HealthCheckGracePeriod: 300,
    Instances: group.members.map((member) => memberOutput(group, member)),
    CreatedTime: dateOf(group.createdAt),
    SuspendedProcesses: [],
    VPCZoneIdentifier: 'subnet-0a11b22c33d44e55f,subnet-0b22c33d44e55f66a',
    EnabledMetrics: [],
    Tags: Object.entries(group.tags).map(([Key, Value]) => ({
      ResourceId: group.name,
      ResourceType: 'auto-scaling-group',
      Key,
      Value,
      PropagateAtLaunch: true,
    })),
    TerminationPolicies: ['Default'],
    NewInstancesProtectedFromScaleIn: false,
    ServiceLinkedRoleARN: `arn:aws:iam::${group.arn.split(':')[4]}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
    CapacityRebalance: false,
  };
}

export function autoScalingService(account: AwsAccount): ServiceDefinition {
  const model = account.autoScaling;
  return {
    name: 'autoscaling',
    protocol: 'query',
    version: '2011-01-01',
    xmlns: 'http://autoscaling.amazonaws.com/doc/2011-01-01/',
    handle(call: AwsCall) {
      const params = call.input;
      const now = call.now;
      switch (call.operation) {
        case 'DescribeAutoScalingGroups': {
          const names = queryList(params, 'AutoScalingGroupNames.member');
          const groups = [...model.groups.values()].filter(
            (group) => names.length === 0 || names.includes(group.name),
          );
          const size = queryNumber(params, 'MaxRecords') ?? 50;
          if (size < 1 || size > 100)
            throw new AwsError('ValidationError', 'MaxRecords must be between 1 and 100');
          const { items, next } = page(
            groups,
            queryString(params, 'NextToken'),
            size,
            'autoscaling:groups',
            'InvalidNextToken',
          );
          return {
            body: { AutoScalingGroups: items.map(groupOutput), ...(next ? { NextToken: next } : {}) },
          };
        }
        case 'DescribeAutoScalingInstances': {
          const ids = queryList(params, 'InstanceIds.member');
          if (ids.length > 50)
            throw new AwsError('ValidationError', 'The number of instance ids that may be passed in is 50.');
          const members = [...model.groups.values()].flatMap((group) =>
            group.members
              .filter((member) => ids.length === 0 || ids.includes(member.instanceId))
              .map((member) => ({ group, member })),
          );
          const size = queryNumber(params, 'MaxRecords') ?? 50;
          const { items, next } = page(
            members,
            queryString(params, 'NextToken'),
            size,
            'autoscaling:instances',
            'InvalidNextToken',
          );
          return {
            body: {
              AutoScalingInstances: items.map(({ group, member }) => ({
                ...memberOutput(group, member),
                AutoScalingGroupName: group.name,
                HealthStatus: member.health.toUpperCase(),
              })),
              ...(next ? { NextToken: next } : {}),
            },
          };
        }
        case 'SetDesiredCapacity': {
          const name = queryString(params, 'AutoScalingGroupName') ?? '';
          const group = model.groups.get(name);
          if (!group)
            throw new AwsError('ValidationError', `AutoScalingGroup name not found - no such group: ${name}`);
          const desired = queryNumber(params, 'DesiredCapacity') ?? Number.NaN;
          if (!Number.isInteger(desired))
            throw new AwsError('ValidationError', 'DesiredCapacity must be an integer');
          if (desired > group.maxSize)
            throw new AwsError(
              'ValidationError',
              `New SetDesiredCapacity value ${desired} is above max value ${group.maxSize} for the AutoScalingGroup.`,
            );
          if (desired < group.minSize)
            throw new AwsError(
              'ValidationError',
              `New SetDesiredCapacity value ${desired} is below min value ${group.minSize} for the AutoScalingGroup.`,
            );
          if (queryBoolean(params, 'HonorCooldown') && now < group.lastScalingAt + DEFAULT_COOLDOWN)
            throw new AwsError(
              'ScalingActivityInProgress',
              'Scaling activity is in progress and blocks this action',
              400,
            );
          model.setDesired(group, desired, now);
          account.note(`autoscaling: SetDesiredCapacity ${name} → ${desired}`);
          return { body: undefined };
        }
        case 'SetInstanceHealth': {
          const id = queryString(params, 'InstanceId') ?? '';
          const status = queryString(params, 'HealthStatus');
          if (status !== 'Healthy' && status !== 'Unhealthy')
            throw new AwsError(
              'ValidationError',
              `Valid values for HealthStatus are Healthy and Unhealthy, not ${status}`,
            );
          const found = model.groupOf(id);
          if (!found)
            throw new AwsError(
              'ValidationError',
              `Instance Id not found - No managed instance found for instance ID: ${id}`,
            );
          if (status === 'Unhealthy') model.markUnhealthy(found.group, found.member, now);
          else found.member.health = 'Healthy';
          return { body: undefined };
        }
        default:
          return undefined;
      }
    },
  };
}

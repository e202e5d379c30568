import type { AwsAccount } from './account.ts';
import { VPC_ID } from './ec2.ts';
import { dateOf } from './ids.ts';
import type { MetricSeries } from './metric-store.ts';
import {
  type AwsCall,
  AwsError,
  page,
  queryList,
  queryNumber,
  queryString,
  type ServiceDefinition,
} from './protocol.ts';
import { Timeline } from './timeline.ts';

/**
 * Elastic Load Balancing v2: the shop's Application Load Balancer, its target groups, target
 * registration and health, and the traffic it routes. Every tick each target group asks its targets'
 * backends (ECS tasks, EC2 instances) for their health check verdict, moves targets through initial →
 * healthy/unhealthy → draining, splits its requests over the healthy targets (all of them, "fail open",
 * when none is healthy) and records the AWS/ApplicationELB metrics from what the targets answered.
 * API (AWS Query): DescribeTargetGroups, DescribeTargetHealth, DescribeTags, DescribeLoadBalancers.
 */

export const LOAD_BALANCER = 'app/shop-alb/50dc6c495c0c9188';
export const CHECKOUT_TARGET_GROUP = 'targetgroup/checkout-web/73e2d6bc24d8a067';
export const LEGACY_TARGET_GROUP = 'targetgroup/legacy-web/8f0e1d2c3b4a5968';

/** A target is "initial" this long after registration, and "draining" this long after deregistration. */
export const INITIAL_SECONDS = 2;
export const DRAINING_SECONDS = 2;

export type HealthVerdict = { pass: true } | { pass: false; reason: string; description: string };

/** What stands behind a target: an ECS task or an EC2 instance. */
export interface TargetBackend {
  healthCheck(now: number): HealthVerdict;
  /** Serves `rate` requests a second: its mean response time (seconds) and the fraction it answers 5xx. */
  serve(rate: number, now: number): { latencySeconds: number; errorFraction: number };
}

export type TargetState = 'initial' | 'healthy' | 'unhealthy' | 'draining';

export interface Target {
  id: string;
  port: number;
  zone: string;
  registeredAt: number;
  state: TargetState;
  reason?: string;
  description?: string;
  drainingSince?: number;
  backend: TargetBackend;
  /** Requests a second it got at the last tick. */
  rate: number;
}

export interface TargetGroupModel {
  name: string;
  arn: string;
  /** `targetgroup/NAME/ID`, the CloudWatch dimension. */
  dimension: string;
  targetType: 'ip' | 'instance';
  protocol: 'HTTP';
  port: number;
  healthCheckPath: string;
  tags: Record<string, string>;
  targets: Map<string, Target>;
  /** Requests a second the load balancer sends this group. */
  traffic: Timeline;
  /** Share of requests the application answers 4xx anyway (clients). */
  clientErrorFraction: number;
  metrics: Record<
    | 'requests'
    | 'target2xx'
    | 'target4xx'
    | 'target5xx'
    | 'elb5xx'
    | 'responseTime'
    | 'healthy'
    | 'unhealthy',
    MetricSeries
  >;
}

export interface LoadBalancerModel {
  name: string;
  arn: string;
  dimension: string;
  dnsName: string;
  createdAt: number;
  tags: Record<string, string>;
  metrics: Record<'requests' | 'target5xx' | 'elb5xx' | 'rejected' | 'responseTime' | 'active', MetricSeries>;
}

/** Response time percentiles from the mean: a long-tailed request distribution. */
export function latencyPercentile(p: number, mean: number): number {
  if (p >= 50) return mean * (0.8 + 2.6 * ((p - 50) / 49) ** 2);
  return mean * (0.3 + p / 100);
}

export class LoadBalancingModel {
  readonly loadBalancer: LoadBalancerModel;
  readonly targetGroups = new Map<string, TargetGroupModel>();

  constructor(private readonly account: AwsAccount) {
    const dimension = LOAD_BALANCER;
    const lbSeries = (metricName: string, kind: 'count' | 'gauge', unit: string, extra = {}) =>
      account.metrics.define(
        { namespace: 'AWS/ApplicationELB', metricName, dimensions: { LoadBalancer: dimension } },
        { kind, unit, ...extra },
      );
    this.loadBalancer = {
      name: 'shop-alb',
      arn: account.arn('elasticloadbalancing', `loadbalancer/${dimension}`),
      dimension,
      dnsName: 'shop-alb-1184906525.eu-west-1.elb.amazonaws.com',
      createdAt: account.startedAt - 412 * 86_400,
      tags: { environment: 'staging', team: 'shop', 'runbook-autopilot.io/owner': 'shop-sre' },
      metrics: {
        requests: lbSeries('RequestCount', 'count', 'Count', { noise: 0.05 }),
        target5xx: lbSeries('HTTPCode_Target_5XX_Count', 'count', 'Count', { omitZero: true }),
        elb5xx: lbSeries('HTTPCode_ELB_5XX_Count', 'count', 'Count', { omitZero: true }),
        rejected: lbSeries('RejectedConnectionCount', 'count', 'Count', { omitZero: true }),
        responseTime: lbSeries('TargetResponseTime', 'gauge', 'Seconds', {
          percentile: latencyPercentile,
          noise: 0.08,
          sampleSeconds: 5,
        }),
        active: lbSeries('ActiveConnectionCount', 'count', 'Count', { noise: 0.05 }),
      },
    };
    this.addTargetGroup({
      name: 'checkout-web',
      dimension: CHECKOUT_TARGET_GROUP,
      targetType: 'ip',
      port: 8080,
      healthCheckPath: '/healthz',
      tags: { service: 'checkout', team: 'checkout', environment: 'staging' },
      requestsPerSecond: 30,
    });
    this.addTargetGroup({
      name: 'legacy-web',
      dimension: LEGACY_TARGET_GROUP,
      targetType: 'instance',
      port: 80,
      healthCheckPath: '/health',
      tags: { service: 'legacy-web', team: 'web', environment: 'staging' },
      requestsPerSecond: 6,
    });
  }

  private addTargetGroup(options: {
    name: string;
    dimension: string;
    targetType: 'ip' | 'instance';
    port: number;
    healthCheckPath: string;
    tags: Record<string, string>;
    requestsPerSecond: number;
  }): void {
    const dimensions = { LoadBalancer: this.loadBalancer.dimension, TargetGroup: options.dimension };
    const series = (metricName: string, kind: 'count' | 'gauge', unit: string, extra = {}) =>
      this.account.metrics.define(
        { namespace: 'AWS/ApplicationELB', metricName, dimensions },
        { kind, unit, ...extra },
      );
    const group: TargetGroupModel = {
      name: options.name,
      arn: this.account.arn('elasticloadbalancing', options.dimension),
      dimension: options.dimension,
      targetType: options.targetType,
      protocol: 'HTTP',
      port: options.port,
      healthCheckPath: options.healthCheckPath,
      tags: options.tags,
      targets: new Map(),
      traffic: new Timeline(options.requestsPerSecond),
      clientErrorFraction: 0.012,
      metrics: {
        requests: series('RequestCount', 'count', 'Count', {
          noise: 0.05,
          initial: options.requestsPerSecond,
        }),
        target2xx: series('HTTPCode_Target_2XX_Count', 'count', 'Count', {
          initial: options.requestsPerSecond,
        }),
        target4xx: series('HTTPCode_Target_4XX_Count', 'count', 'Count', { omitZero: true }),
        target5xx: series('HTTPCode_Target_5XX_Count', 'count', 'Count', { omitZero: true }),
        elb5xx: series('HTTPCode_ELB_5XX_Count', 'count', 'Count', { omitZero: true }),
        responseTime: series('TargetResponseTime', 'gauge', 'Seconds', {
          percentile: latencyPercentile,
          noise: 0.08,
          sampleSeconds: 5,
          initial: 0.08,
        }),
        healthy: series('HealthyHostCount', 'gauge', 'Count', { sampleSeconds: 5, initial: 2 }),
        unhealthy: series('UnHealthyHostCount', 'gauge', 'Count', { sampleSeconds: 5 }),
      },
    };
    this.targetGroups.set(group.arn, group);
  }

  /** A target group by its name, ARN or CloudWatch dimension. */
  group(reference: string): TargetGroupModel | undefined {
    for (const group of this.targetGroups.values())
      if (group.arn === reference || group.name === reference || group.dimension === reference) return group;
    return undefined;
  }

  register(
    group: TargetGroupModel,
    id: string,
    port: number,
    zone: string,
    backend: TargetBackend,
    now: number,
  ): void {
    const existing = group.targets.get(id);
    if (existing && existing.state !== 'draining') return;
    group.targets.set(id, { id, port, zone, registeredAt: now, state: 'initial', backend, rate: 0 });
  }

  deregister(group: TargetGroupModel, id: string, now: number): void {
    const target = group.targets.get(id);
    if (!target || target.state === 'draining') return;
    target.state = 'draining';
    target.drainingSince = now;
    target.reason = 'Target.DeregistrationInProgress';
    target.description = 'Target deregistration is in progress';
  }

  /** Health checks, traffic and metrics, for every target group. */
  tick(now: number): void {
    let lbRequests = 0;
    let lbTarget5xx = 0;
    let lbElb5xx = 0;
    let lbLatency = 0;
    for (const group of this.targetGroups.values()) {
      for (const target of [...group.targets.values()]) {
        if (target.state === 'draining') {
          if (now >= (target.drainingSince ?? now) + DRAINING_SECONDS) group.targets.delete(target.id);
          continue;
        }
        if (now < target.registeredAt + INITIAL_SECONDS) {
          target.state = 'initial';
          target.reason = 'Elb.RegistrationInProgress';
          target.description = 'Target registration is in progress';
          continue;
        }
        const verdict = target.backend.healthCheck(now);
        if (verdict.pass) {
          target.state = 'healthy';
          target.reason = undefined;
          target.description = undefined;
        } else {
          target.state = 'unhealthy';
          target.reason = verdict.reason;
          target.description = verdict.description;
        }
      }
      const targets = [...group.targets.values()];
      const healthy = targets.filter((target) => target.state === 'healthy');
      const unhealthy = targets.filter((target) => target.state === 'unhealthy');
      // With no healthy target the load balancer fails open: it routes to every unhealthy one.
      const routed = healthy.length > 0 ? healthy : unhealthy;
      const requests = group.traffic.at(now);
      let target5xx = 0;
      let latencyWeighted = 0;
      for (const target of targets) target.rate = 0;
      for (const target of routed) {
        const rate = requests / routed.length;
        const answer = target.backend.serve(rate, now);
        target.rate = rate;
        target5xx += rate * answer.errorFraction;
        latencyWeighted += rate * answer.latencySeconds;
      }
      const elb5xx = routed.length === 0 ? requests : 0;
      const latency = routed.length > 0 && requests > 0 ? latencyWeighted / requests : 0;
      const served = requests - elb5xx;
      const { metrics } = group;
      metrics.requests.record(now, requests);
      metrics.target5xx.record(now, target5xx);
      metrics.target4xx.record(now, served * group.clientErrorFraction);
      metrics.target2xx.record(now, Math.max(0, served - target5xx - served * group.clientErrorFraction));
      metrics.elb5xx.record(now, elb5xx);
      if (routed.length > 0) metrics.responseTime.record(now, latency);
      metrics.healthy.record(now, healthy.length);
      metrics.unhealthy.record(now, unhealthy.length);
      lbRequests += requests;
      lbTarget5xx += target5xx;
      lbElb5xx += elb5xx;
      lbLatency += latency * served;
    }
    const lb = this.loadBalancer.metrics;
    lb.requests.record(now, lbRequests);
    lb.target5xx.record(now, lbTarget5xx);
    lb.elb5xx.record(now, lbElb5xx);
    lb.rejected.record(now, 0);
    lb.responseTime.record(now, lbRequests > lbElb5xx ? lbLatency / (lbRequests - lbElb5xx) : 0.08);
    lb.active.record(now, lbRequests * 0.6);
  }
}

// ------------------------------------------------------------------------------------------------ API

function targetGroupOutput(model: LoadBalancingModel, group: TargetGroupModel) {
  return {
    TargetGroupArn: group.arn,
    TargetGroupName: group.name,
    Protocol: group.protocol,
    Port: group.port,
    VpcId: VPC_ID,
    HealthCheckProtocol: 'HTTP',
    HealthCheckPort: 'traffic-port',
    HealthCheckEnabled: true,
    HealthCheckIntervalSeconds: 10,
    HealthCheckTimeoutSeconds: 5,
    HealthyThresholdCount: 2,
    UnhealthyThresholdCount: 2,
    HealthCheckPath: group.healthCheckPath,
    Matcher: { HttpCode: '200' },
    LoadBalancerArns: [model.loadBalancer.arn],
    TargetType: group.targetType,
    ProtocolVersion: 'HTTP1',
    IpAddressType: 'ipv4',
  };
}

export function elbv2Service(account: AwsAccount): ServiceDefinition {
  const model = account.elb;
  return {
    name: 'elasticloadbalancing',
    protocol: 'query',
    version: '2015-12-01',
    xmlns: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/',
    handle(call: AwsCall) {
      const params = call.input;
      switch (call.operation) {
        case 'DescribeTargetGroups': {
          const arns = queryList(params, 'TargetGroupArns.member');
          const names = queryList(params, 'Names.member');
          const loadBalancerArn = queryString(params, 'LoadBalancerArn');
          if ([arns.length > 0, names.length > 0, loadBalancerArn !== undefined].filter(Boolean).length > 1)
            throw new AwsError(
              'ValidationError',
              'Target group names, target group ARNs, and a load balancer ARN cannot be specified at the same time',
            );
          const all = [...model.targetGroups.values()];
          let groups = all;
          if (arns.length > 0 || names.length > 0) {
            groups = [...arns, ...names].map((reference) => {
              const group = all.find(
                (candidate) => candidate.arn === reference || candidate.name === reference,
              );
              if (!group) throw new AwsError('TargetGroupNotFound', 'One or more target groups not found');
              return group;
            });
          } else if (loadBalancerArn !== undefined) {
            if (loadBalancerArn !== model.loadBalancer.arn)
              throw new AwsError('LoadBalancerNotFound', `Load balancer '${loadBalancerArn}' not found`);
          }
          const size = queryNumber(params, 'PageSize') ?? 400;
          if (size < 1 || size > 400)
            throw new AwsError(
              'ValidationError',
              `1 validation error detected: Value '${size}' at 'pageSize' failed to satisfy constraint: Member must have value less than or equal to 400`,
            );
          const { items, next } = page(
            groups,
            queryString(params, 'Marker'),
            size,
            'elbv2:DescribeTargetGroups',
            'ValidationError',
          );
          return {
            body: {
              TargetGroups: items.map((group) => targetGroupOutput(model, group)),
              ...(next ? { NextMarker: next } : {}),
            },
          };
        }
        case 'DescribeTargetHealth': {
          const arn = queryString(params, 'TargetGroupArn');
          if (!arn)
            throw new AwsError(
              'ValidationError',
              "1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null",
            );
          const group = [...model.targetGroups.values()].find((candidate) => candidate.arn === arn);
          if (!group) throw new AwsError('TargetGroupNotFound', `Target groups '${arn}' not found`);
          return {
            body: {
              TargetHealthDescriptions: [...group.targets.values()].map((target) => ({
                Target: {
                  Id: target.id,
                  Port: target.port,
                  ...(group.targetType === 'ip' ? { AvailabilityZone: target.zone } : {}),
                },
                HealthCheckPort: String(target.port),
                TargetHealth: {
                  State: target.state,
                  ...(target.reason ? { Reason: target.reason } : {}),
                  ...(target.description ? { Description: target.description } : {}),
                },
              })),
            },
          };
        }
        case 'DescribeTags': {
          const arns = queryList(params, 'ResourceArns.member');
          if (arns.length === 0 || arns.length > 20)
            throw new AwsError('ValidationError', 'ResourceArns must name between 1 and 20 resources');
          return {
            body: {
              TagDescriptions: arns.map((arn) => {
                const tags =
                  arn === model.loadBalancer.arn
                    ? model.loadBalancer.tags
                    : [...model.targetGroups.values()].find((group) => group.arn === arn)?.tags;
                if (!tags)
                  throw new AwsError(
                    arn.includes(':targetgroup/') ? 'TargetGroupNotFound' : 'LoadBalancerNotFound',
                    `'${arn}' not found`,
                  );
                return {
                  ResourceArn: arn,
                  Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
                };
              }),
            },
          };
        }
        case 'DescribeLoadBalancers': {
          const arns = queryList(params, 'LoadBalancerArns.member');
          const names = queryList(params, 'Names.member');
          const lb = model.loadBalancer;
          for (const reference of [...arns, ...names])
            if (reference !== lb.arn && reference !== lb.name)
              throw new AwsError('LoadBalancerNotFound', `One or more load balancers not found`);
          return {
            body: {
              LoadBalancers: [
                {
                  LoadBalancerArn: lb.arn,
                  DNSName: lb.dnsName,
                  CanonicalHostedZoneId: 'Z32O12XQLNTSW2',
                  CreatedTime: dateOf(lb.createdAt),
                  LoadBalancerName: lb.name,
                  Scheme: 'internet-facing',
                  VpcId: VPC_ID,
                  State: { Code: 'active' },
                  Type: 'application',
                  AvailabilityZones: [
                    { ZoneName: 'eu-west-1a', SubnetId: 'subnet-0a11b22c33d44e55f' },
                    { ZoneName: 'eu-west-1b', SubnetId: 'subnet-0b22c33d44e55f66a' },
                  ],
                  SecurityGroups: ['sg-0f1e2d3c4b5a69788'],
                  IpAddressType: 'ipv4',
                },
              ],
            },
          };
        }
        default:
          return undefined;
      }
    },
  };
}

import { DEMO_ACCOUNT, DEMO_REGION } from '../cluster.ts';
import { AlarmSet } from './alarms.ts';
import { ApiGatewayModel } from './apigateway.ts';
import { ApplicationAutoScalingModel } from './application-autoscaling.ts';
import { AutoScalingModel } from './autoscaling.ts';
import { DynamoDbModel } from './dynamodb.ts';
import { Ec2Model } from './ec2.ts';
import { EcsModel } from './ecs.ts';
import { ElastiCacheModel } from './elasticache.ts';
import { LoadBalancingModel } from './elbv2.ts';
import { LambdaModel } from './lambda.ts';
import { LogStore } from './logs.ts';
import { MetricStore } from './metric-store.ts';
import { PassiveResources } from './passive.ts';
import { RdsModel } from './rds.ts';
import { SqsModel } from './sqs.ts';

/**
 * The simulated AWS account (eu-west-1, 222222222222: the demo's staging account): one model per
 * service, each owning its resources, their dynamics (a task starts in seconds, an instance reboots,
 * a queue drains) and the CloudWatch series they report. The API modules answer from these models;
 * scenarios break them through the same methods. Time is the wall clock: a scenario describes its past
 * (a fault that began 14 minutes ago) and the models record their levels as they change, so CloudWatch
 * answers any window back.
 *
 * Every model is advanced (`tick`) before a request is answered and on the world's tick, so state
 * read over the API is always the state now.
 */

const nowSeconds = (): number => Date.now() / 1_000;

export interface AccountEvent {
  at: string;
  text: string;
}

export class AwsAccount {
  readonly region = DEMO_REGION;
  readonly accountId = DEMO_ACCOUNT;
  readonly startedAt = nowSeconds();
  readonly metrics = new MetricStore();
  readonly logs = new LogStore();
  readonly elb: LoadBalancingModel;
  readonly ecs: EcsModel;
  readonly ec2: Ec2Model;
  readonly autoScaling: AutoScalingModel;
  readonly applicationAutoScaling: ApplicationAutoScalingModel;
  readonly lambda: LambdaModel;
  readonly rds: RdsModel;
  readonly sqs: SqsModel;
  readonly apiGateway: ApiGatewayModel;
  readonly dynamoDb: DynamoDbModel;
  readonly elastiCache: ElastiCacheModel;
  readonly passive: PassiveResources;
  readonly alarms: AlarmSet;
  private readonly tickHooks: Array<(now: number) => void> = [];
  private lastTick = 0;
  private ticking = false;
  /** The backdated changes of the scenarios being set up (inHistoryOrder), applied oldest first. */
  private pastChanges: Array<{ at: number; change: () => void }> | undefined;

  constructor(private readonly print: (line: string) => void = () => {}) {
    this.ec2 = new Ec2Model(this);
    this.elb = new LoadBalancingModel(this);
    this.autoScaling = new AutoScalingModel(this);
    this.ecs = new EcsModel(this);
    this.applicationAutoScaling = new ApplicationAutoScalingModel(this);
    this.lambda = new LambdaModel(this);
    this.rds = new RdsModel(this);
    this.sqs = new SqsModel(this);
    this.apiGateway = new ApiGatewayModel(this);
    this.dynamoDb = new DynamoDbModel(this);
    this.elastiCache = new ElastiCacheModel(this);
    this.passive = new PassiveResources(this);
    this.alarms = new AlarmSet(this);
  }

  /** `arn:aws:<service>:eu-west-1:222222222222:<resource>` (global-less services only). */
  arn(service: string, resource: string, separator = ':'): string {
    return `arn:aws:${service}:${this.region}:${this.accountId}${separator}${resource}`;
  }

  note(text: string): void {
    this.print(text);
  }

  /** Runs after the models on every tick (a scenario's own dynamics). */
  onTick(hook: (now: number) => void): void {
    this.tickHooks.push(hook);
  }

  /**
   * Advances every model to `now`: state machines move on (tasks start, instances reboot, modifications
   * apply), load balancers re-check their targets, queues move messages, and each model records its
   * CloudWatch levels. A time before the last tick is ignored.
   */
  tick(now = nowSeconds()): void {
    if (this.ticking || now < this.lastTick) return;
    this.advance(now);
    this.alarms.tick(now);
  }

  /**
   * Setup only: applies `change` as of `at` (a time in the past, in order) and records every level
   * from then on, so CloudWatch shows the fault since it began. The next tick carries on from `at`.
   */
  backdate(at: number, change: () => void): void {
    if (this.pastChanges) {
      this.pastChanges.push({ at, change });
      return;
    }
    change();
    this.lastTick = Math.min(this.lastTick || at, at);
    this.advance(at);
  }

  /**
   * Setup of several scenarios at once: their backdated changes are applied oldest first once `setups`
   * returns, so a fault that began 18 minutes ago does not rewrite the history of one that began 14
   * minutes ago (recording a level at a time rewrites what the series held after it).
   */
  inHistoryOrder<T>(setups: () => T): T {
    this.pastChanges = [];
    try {
      return setups();
    } finally {
      const changes = this.pastChanges.sort((left, right) => left.at - right.at);
      this.pastChanges = undefined;
      for (const { at, change } of changes) this.backdate(at, change);
    }
  }

  private advance(now: number): void {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const since = this.lastTick || now;
      this.lastTick = now;
      this.ec2.tick(now);
      this.autoScaling.tick(now);
      this.ecs.tick(now);
      this.elb.tick(now);
      this.ecs.afterTraffic(now);
      this.sqs.tick(now, since);
      this.lambda.tick(now);
      this.rds.tick(now);
      this.apiGateway.tick(now);
      this.dynamoDb.tick(now);
      this.elastiCache.tick(now);
      this.passive.tick(now);
      for (const hook of this.tickHooks) hook(now);
    } finally {
      this.ticking = false;
    }
  }

  /** Where the account stands: what the demo's control endpoint shows and tests read. */
  summary(now = nowSeconds()) {
    const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
    return {
      account: this.accountId,
      region: this.region,
      alarms: [...this.alarms.alarms.values()].map((alarm) => ({
        name: alarm.definition.name,
        state: alarm.state.value,
        since: new Date(alarm.state.at * 1_000).toISOString(),
      })),
      targetGroups: [...this.elb.targetGroups.values()].map((group) => ({
        name: group.name,
        requestsPerSecond: round(group.traffic.at(now)),
        targets: [...group.targets.values()].map((target) => ({
          id: target.id,
          state: target.state,
          ...(target.reason ? { reason: target.reason } : {}),
        })),
      })),
      ecsServices: [...this.ecs.services.values()].map((service) => ({
        name: `${service.cluster}/${service.name}`,
        desiredCount: service.desiredCount,
        tasks: this.ecs.tasks
          .filter((task) => task.service === service && task.lastStatus !== 'STOPPED')
          .map((task) => ({
            id: task.id,
            lastStatus: task.lastStatus,
            ...(task.fault ? { fault: task.fault.log.message } : {}),
          })),
        deployments: service.deployments.map((deployment) => ({
          id: deployment.id,
          status: deployment.status,
          rolloutState: deployment.rolloutState,
        })),
        cpuPercent: round(service.metrics.cpu.level.at(now)),
      })),
      autoScalingGroups: [...this.autoScaling.groups.values()].map((group) => ({
        name: group.name,
        desiredCapacity: group.desired,
        instances: group.members.map((member) => ({
          id: member.instanceId,
          lifecycle: member.lifecycle,
          health: member.health,
        })),
      })),
      instances: [...this.ec2.instances.values()]
        .filter((instance) => instance.state !== 'terminated')
        .map((instance) => ({ id: instance.id, state: instance.state, ...this.ec2.statusOf(instance, now) })),
      functions: [...this.lambda.functions.values()].map((fn) => ({
        name: fn.name,
        aliases: Object.fromEntries([...fn.aliases.values()].map((alias) => [alias.name, alias.version])),
        reservedConcurrency: fn.reserved,
        errorPercent: round(fn.metrics.errors.level.at(now) * 100, 2),
        throttledPercent: round(fn.throttled.at(now) * 100, 2),
      })),
      eventSourceMappings: [...this.lambda.mappings.values()].map((mapping) => ({
        uuid: mapping.uuid,
        functionName: mapping.functionName,
        maximumConcurrency: mapping.maximumConcurrency,
        state: mapping.state,
      })),
      dbInstances: [...this.rds.instances.values()].map((instance) => ({
        id: instance.identifier,
        status: instance.status,
        zone: instance.zone,
        allocatedGiB: instance.allocatedGiB,
        freeStorageGiB: round(instance.metrics.freeStorage.level.at(now) / 1024 ** 3),
        cpuPercent: round(instance.metrics.cpu.level.at(now)),
      })),
      queues: [...this.sqs.queues.values()].map((queue) => ({
        name: queue.name,
        visible: Math.round(this.sqs.visible(queue)),
        ageOfOldestSeconds: Math.round(this.sqs.ageOfOldest(queue, now)),
      })),
      stages: [...this.apiGateway.apis.values()].flatMap((api) =>
        [...api.stages.values()].map((stage) => ({
          api: api.name,
          stage: stage.name,
          deploymentId: stage.deploymentId,
        })),
      ),
    };
  }
}

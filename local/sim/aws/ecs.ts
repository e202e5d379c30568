import type { AwsAccount } from './account.ts';
import {
  CHECKOUT_TARGET_GROUP,
  type HealthVerdict,
  type TargetBackend,
  type TargetGroupModel,
} from './elbv2.ts';
import { dateOf, fastHex, hexId } from './ids.ts';
import type { LogEvent } from './logs.ts';
import type { MetricSeries } from './metric-store.ts';
import { type AwsCall, AwsError, page, type ServiceDefinition } from './protocol.ts';
import { jitter, Timeline } from './timeline.ts';

/**
 * Amazon ECS: cluster `shop` with the Fargate service `checkout` behind the ALB's checkout-web target
 * group (ip targets). The service scheduler starts and stops tasks to hold the desired count (a task
 * is PROVISIONING, PENDING, then RUNNING within a few seconds and registers with the target groups;
 * a stopped task drains first), rolls a new deployment out (new tasks first, old ones stopped once the
 * new are healthy: minimum healthy 100%, maximum 200%), writes the service events ECS writes, and keeps
 * stopped tasks for an hour. Tasks serve the requests the load balancer gives them: CPU, response time
 * and errors follow their load against their capacity, or a fault. The scheduler does not replace
 * tasks that fail their ELB health check (the service's 2-hour health check grace period), so
 * replacing them is the runbook's call.
 * API (AWS JSON 1.1): DescribeServices, UpdateService, ListClusters, ListServices, ListTasks,
 * DescribeTasks, DescribeCapacityProviders.
 */

export const CLUSTER = 'shop';
export const SERVICE = 'checkout';

/** Seconds from RunTask to PENDING and to RUNNING; from STOPPING to STOPPED. */
const PENDING_AFTER = 0.8;
const RUNNING_AFTER = 2.5;
const STOP_SECONDS = 0.5;
/** ECS keeps a stopped task this long. */
const STOPPED_KEPT_SECONDS = 3_600;
const EVENTS_KEPT = 100;

export interface TaskFault {
  since: number;
  /** Share of requests it answers 5xx. */
  errorFraction: number;
  /** What its /healthz answers (a failed health check), or undefined when it passes. */
  healthCheckCode?: number;
  /** CPU while faulty (a stuck pool idles), percent. */
  cpuPercent?: number;
  /** The error line it logs per failed request. */
  log: { logger: string; message: string; exception: string };
}

export type TaskStatus = 'PROVISIONING' | 'PENDING' | 'RUNNING' | 'DEACTIVATING' | 'STOPPING' | 'STOPPED';

export interface EcsTask {
  arn: string;
  id: string;
  service: EcsService;
  deploymentId: string;
  taskDefinitionArn: string;
  zone: string;
  ip: string;
  createdAt: number;
  startedAt?: number;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  stoppingAt?: number;
  stoppedAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  exitCode?: number;
  registered: boolean;
  fault?: TaskFault;
  /** Requests a second at 100% CPU. */
  capacity: number;
  /** Requests a second the load balancer sends it, and errors a second it answers (for its logs). */
  requests: Timeline;
  errors: Timeline;
  cpuPercent: number;
  memoryPercent: number;
}

export interface EcsDeployment {
  id: string;
  status: 'PRIMARY' | 'ACTIVE' | 'INACTIVE';
  taskDefinition: string;
  desiredCount: number;
  failedTasks: number;
  createdAt: number;
  updatedAt: number;
  rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  rolloutStateReason: string;
}

export interface EcsService {
  name: string;
  arn: string;
  cluster: string;
  taskDefinition: string;
  desiredCount: number;
  createdAt: number;
  deployments: EcsDeployment[];
  events: Array<{ id: string; createdAt: number; message: string }>;
  targetGroupArns: string[];
  containerName: string;
  containerPort: number;
  tags: Record<string, string>;
  /** Requests a second one task serves at 100% CPU. */
  taskCapacity: number;
  logGroup: string;
  metrics: Record<'cpu' | 'memory' | 'running' | 'pending' | 'desired', MetricSeries>;
  /** Tasks started from now on get this fault (a bad image); none by default. */
  newTaskFault?: (task: EcsTask, now: number) => TaskFault | undefined;
  nextIp: number;
}

export class EcsModel {
  readonly clusterArn: string;
  readonly services = new Map<string, EcsService>();
  readonly tasks: EcsTask[] = [];
  private taskCount = 0;
  private deploymentCount = 0;

  constructor(private readonly account: AwsAccount) {
    this.clusterArn = account.arn('ecs', `cluster/${CLUSTER}`);
    const created = account.startedAt - 380 * 86_400;
    const deployedAt = account.startedAt - 3 * 86_400 - 4_180;
    const taskDefinition = account.arn('ecs', 'task-definition/checkout:42');
    const service = this.addService({
      name: SERVICE,
      taskDefinition,
      desiredCount: 3,
      createdAt: created,
      deployedAt,
      targetGroupArns: [account.arn('elasticloadbalancing', CHECKOUT_TARGET_GROUP)],
      containerName: 'checkout',
      containerPort: 8080,
      tags: { team: 'checkout', environment: 'staging', 'runbook-autopilot.io/owner': 'checkout' },
      taskCapacity: 35,
    });
    for (let index = 0; index < 3; index += 1)
      this.startTask(service, service.deployments[0]!, deployedAt + 40 + index * 3, true);
    this.event(
      service,
      deployedAt + 160,
      `(service ${SERVICE}) (deployment ${service.deployments[0]!.id}) deployment completed.`,
    );
    this.event(service, deployedAt + 160, `(service ${SERVICE}) has reached a steady state.`);
    for (let hours = 6; hours >= 1; hours -= 1)
      this.event(
        service,
        account.startedAt - hours * 6 * 3_600 + 97,
        `(service ${SERVICE}) has reached a steady state.`,
      );
  }

  private addService(options: {
    name: string;
    taskDefinition: string;
    desiredCount: number;
    createdAt: number;
    deployedAt: number;
    targetGroupArns: string[];
    containerName: string;
    containerPort: number;
    tags: Record<string, string>;
    taskCapacity: number;
  }): EcsService {
    const dimensions = { ClusterName: CLUSTER, ServiceName: options.name };
    const series = (namespace: string, metricName: string, unit: string, initial: number, noise = 0) =>
      this.account.metrics.define(
        { namespace, metricName, dimensions },
        { kind: 'gauge', unit, initial, noise, sampleSeconds: 10 },
      );
    const service: EcsService = {
      name: options.name,
      arn: this.account.arn('ecs', `service/${CLUSTER}/${options.name}`),
      cluster: CLUSTER,
      taskDefinition: options.taskDefinition,
      desiredCount: options.desiredCount,
      createdAt: options.createdAt,
      deployments: [],
      events: [],
      targetGroupArns: options.targetGroupArns,
      containerName: options.containerName,
      containerPort: options.containerPort,
      tags: options.tags,
      taskCapacity: options.taskCapacity,
      logGroup: `/ecs/${options.name}`,
      metrics: {
        cpu: series('AWS/ECS', 'CPUUtilization', 'Percent', 28, 0.06),
        memory: series('AWS/ECS', 'MemoryUtilization', 'Percent', 44, 0.02),
        running: series('ECS/ContainerInsights', 'RunningTaskCount', 'Count', options.desiredCount),
        pending: series('ECS/ContainerInsights', 'PendingTaskCount', 'Count', 0),
        desired: series('ECS/ContainerInsights', 'DesiredTaskCount', 'Count', options.desiredCount),
      },
      nextIp: 40,
    };
    service.deployments.push(this.newDeployment(service, options.deployedAt, 'COMPLETED'));
    this.services.set(service.name, service);
    this.account.logs
      .group(service.logGroup, options.createdAt, 30)
      .addSource((from, to) => this.taskLogs(service, from, to));
    return service;
  }

  service(name: string): EcsService | undefined {
    return this.services.get(name.startsWith('arn:') ? (name.split('/').at(-1) ?? name) : name);
  }

  private newDeployment(
    service: EcsService,
    at: number,
    rolloutState: EcsDeployment['rolloutState'],
  ): EcsDeployment {
    this.deploymentCount += 1;
    const id = `ecs-svc/${BigInt(
      `0x${hexId(`${service.name}-deployment-${this.deploymentCount}-${Math.round(at)}`, 15)}`,
    )
      .toString()
      .padStart(19, '0')
      .slice(0, 19)}`;
    return {
      id,
      status: 'PRIMARY',
      taskDefinition: service.taskDefinition,
      desiredCount: service.desiredCount,
      failedTasks: 0,
      createdAt: at,
      updatedAt: at,
      rolloutState,
      rolloutStateReason:
        rolloutState === 'COMPLETED'
          ? `ECS deployment ${id} completed.`
          : `ECS deployment ${id} in progress.`,
    };
  }

  event(service: EcsService, at: number, message: string): void {
    service.events.unshift({
      id: hexId(`${service.name}-event-${service.events.length}-${at}-${message}`, 36).replace(
        /^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/,
        '$1-$2-$3-$4-$5',
      ),
      createdAt: at,
      message,
    });
    service.events.sort((a, b) => b.createdAt - a.createdAt);
    service.events.length = Math.min(service.events.length, EVENTS_KEPT);
  }

  /** Starts a task for a deployment; `running` makes it one that has been up since `at`. */
  startTask(service: EcsService, deployment: EcsDeployment, at: number, running = false): EcsTask {
    this.taskCount += 1;
    const id = hexId(`${service.name}-task-${this.taskCount}-${Math.round(at * 1000)}`);
    service.nextIp += 1;
    const zone = this.taskCount % 2 === 0 ? 'eu-west-1b' : 'eu-west-1a';
    const task: EcsTask = {
      arn: this.account.arn('ecs', `task/${CLUSTER}/${id}`),
      id,
      service,
      deploymentId: deployment.id,
      taskDefinitionArn: deployment.taskDefinition,
      zone,
      ip: `10.0.${zone.endsWith('a') ? 1 : 2}.${service.nextIp}`,
      createdAt: at,
      ...(running ? { startedAt: at + RUNNING_AFTER } : {}),
      lastStatus: running ? 'RUNNING' : 'PROVISIONING',
      desiredStatus: 'RUNNING',
      registered: false,
      capacity: service.taskCapacity,
      requests: new Timeline(0),
      errors: new Timeline(0),
      cpuPercent: 3,
      memoryPercent: 36,
    };
    const fault = service.newTaskFault?.(task, at);
    if (fault) task.fault = fault;
    this.tasks.push(task);
    if (running) this.registerTask(task, at, true);
    return task;
  }

  /** What the load balancer reaches on a task. */
  private backendOf(task: EcsTask): TargetBackend {
    return {
      healthCheck: (now): HealthVerdict => {
        if (task.lastStatus !== 'RUNNING')
          return { pass: false, reason: 'Target.FailedHealthChecks', description: 'Health checks failed' };
        if (task.fault?.healthCheckCode && now >= task.fault.since)
          return {
            pass: false,
            reason: 'Target.ResponseCodeMismatch',
            description: `Health checks failed with these codes: [${task.fault.healthCheckCode}]`,
          };
        return { pass: true };
      },
      serve: (rate, now) => {
        const utilization = rate / task.capacity;
        const busy = Math.min(utilization, 0.95);
        const faulty = task.fault && now >= task.fault.since ? task.fault : undefined;
        return {
          latencySeconds: faulty ? 0.9 : 0.06 / (1 - busy),
          errorFraction: faulty
            ? faulty.errorFraction
            : utilization > 1
              ? (utilization - 1) / utilization
              : 0.0008,
        };
      },
    };
  }

  private registerTask(task: EcsTask, at: number, quietly = false): void {
    task.registered = true;
    for (const arn of task.service.targetGroupArns) {
      const group = this.account.elb.group(arn);
      if (!group) continue;
      this.account.elb.register(
        group,
        task.ip,
        task.service.containerPort,
        task.zone,
        this.backendOf(task),
        at,
      );
      if (!quietly)
        this.event(
          task.service,
          at,
          `(service ${task.service.name}) registered 1 targets in (target-group ${group.arn})`,
        );
    }
  }

  private targetGroups(service: EcsService): TargetGroupModel[] {
    return service.targetGroupArns
      .map((arn) => this.account.elb.group(arn))
      .filter((group) => group !== undefined);
  }

  /** Stops a task as the scheduler does: drain from the target groups, then SIGTERM. */
  stopTask(task: EcsTask, at: number, stopCode: string, reason: string): void {
    if (task.desiredStatus === 'STOPPED') return;
    task.desiredStatus = 'STOPPED';
    task.stoppingAt = at;
    task.stopCode = stopCode;
    task.stoppedReason = reason;
    if (task.registered) {
      for (const group of this.targetGroups(task.service)) this.account.elb.deregister(group, task.ip, at);
      task.lastStatus = 'DEACTIVATING';
    } else task.lastStatus = 'STOPPING';
  }

  /** UpdateService with forceNewDeployment: a new deployment of the same task definition. */
  forceNewDeployment(service: EcsService, now: number): EcsDeployment {
    for (const deployment of service.deployments)
      if (deployment.status === 'PRIMARY') deployment.status = 'ACTIVE';
    const deployment = this.newDeployment(service, now, 'IN_PROGRESS');
    service.deployments.unshift(deployment);
    this.account.note(
      `ecs: UpdateService ${service.name} forceNewDeployment: deployment ${deployment.id} replaces its tasks`,
    );
    return deployment;
  }

  setDesiredCount(service: EcsService, desired: number, now: number): void {
    const previous = service.desiredCount;
    service.desiredCount = desired;
    const primary = service.deployments.find((deployment) => deployment.status === 'PRIMARY');
    if (primary) {
      primary.desiredCount = desired;
      primary.updatedAt = now;
    }
    this.account.note(`ecs: UpdateService ${service.name} desiredCount ${previous} → ${desired}`);
  }

  private live(service: EcsService, deploymentId?: string): EcsTask[] {
    return this.tasks.filter(
      (task) =>
        task.service === service &&
        task.desiredStatus === 'RUNNING' &&
        (deploymentId === undefined || task.deploymentId === deploymentId),
    );
  }

  /** Task lifecycles and the service scheduler; run before the load balancers' health checks. */
  tick(now: number): void {
    for (const task of this.tasks) {
      if (task.desiredStatus === 'RUNNING') {
        if (task.lastStatus === 'PROVISIONING' && now >= task.createdAt + PENDING_AFTER)
          task.lastStatus = 'PENDING';
        if (task.lastStatus === 'PENDING' && now >= task.createdAt + RUNNING_AFTER) {
          task.lastStatus = 'RUNNING';
          task.startedAt = task.createdAt + RUNNING_AFTER;
          this.registerTask(task, now);
        }
      } else if (task.lastStatus !== 'STOPPED') {
        const drained = this.targetGroups(task.service).every((group) => !group.targets.has(task.ip));
        if (task.lastStatus === 'DEACTIVATING' && drained) task.lastStatus = 'STOPPING';
        if (task.lastStatus === 'STOPPING' && now >= (task.stoppingAt ?? now) + STOP_SECONDS && drained) {
          task.lastStatus = 'STOPPED';
          task.stoppedAt = now;
          task.exitCode = task.startedAt === undefined ? undefined : 143;
          task.registered = false;
        }
      }
    }
    // Stopped tasks are forgotten after an hour.
    for (let index = this.tasks.length - 1; index >= 0; index -= 1) {
      const task = this.tasks[index]!;
      if (task.lastStatus === 'STOPPED' && now > (task.stoppedAt ?? now) + STOPPED_KEPT_SECONDS)
        this.tasks.splice(index, 1);
    }
    for (const service of this.services.values()) this.schedule(service, now);
  }

  private schedule(service: EcsService, now: number): void {
    const primary = service.deployments.find((deployment) => deployment.status === 'PRIMARY');
    if (!primary) return;
    const mine = this.live(service, primary.id);
    const all = this.live(service);
    const ceiling = Math.floor((service.desiredCount * 200) / 100);
    const toStart = Math.min(service.desiredCount - mine.length, ceiling - all.length);
    if (toStart > 0) {
      const started = Array.from({ length: toStart }, () => this.startTask(service, primary, now));
      this.event(
        service,
        now,
        `(service ${service.name}) has started ${started.length} tasks: ${started.map((task) => `(task ${task.id})`).join(' ')}.`,
      );
    }
    if (mine.length > service.desiredCount) {
      const surplus = mine.slice(service.desiredCount - mine.length);
      for (const task of surplus)
        this.stopTask(
          task,
          now,
          'ServiceSchedulerInitiated',
          `Scaling activity initiated by (deployment ${primary.id})`,
        );
      this.event(
        service,
        now,
        `(service ${service.name}) has begun draining connections on ${surplus.length} tasks.`,
      );
      this.event(
        service,
        now,
        `(service ${service.name}) has stopped ${surplus.length} running tasks: ${surplus.map((task) => `(task ${task.id})`).join(' ')}.`,
      );
    }
    const groups = this.targetGroups(service);
    const healthy = (task: EcsTask) =>
      task.lastStatus === 'RUNNING' &&
      groups.every((group) => group.targets.get(task.ip)?.state === 'healthy');
    const ready = this.live(service, primary.id).filter(healthy).length >= service.desiredCount;
    // Minimum healthy 100%: the old deployments' tasks stop once the new ones pass their health checks.
    for (const old of service.deployments.filter((deployment) => deployment.status === 'ACTIVE')) {
      const oldTasks = this.live(service, old.id);
      if (ready && oldTasks.length > 0) {
        for (const task of oldTasks)
          this.stopTask(
            task,
            now,
            'ServiceSchedulerInitiated',
            `Scaling activity initiated by (deployment ${primary.id})`,
          );
        this.event(
          service,
          now,
          `(service ${service.name}) has begun draining connections on ${oldTasks.length} tasks.`,
        );
        this.event(
          service,
          now,
          `(service ${service.name}) has stopped ${oldTasks.length} running tasks: ${oldTasks.map((task) => `(task ${task.id})`).join(' ')}.`,
        );
        for (const group of groups)
          this.event(
            service,
            now,
            `(service ${service.name}) deregistered ${oldTasks.length} targets in (target-group ${group.arn})`,
          );
      }
      const stopping = this.tasks.some(
        (task) => task.deploymentId === old.id && task.lastStatus !== 'STOPPED',
      );
      if (!stopping && oldTasks.length === 0) old.status = 'INACTIVE';
    }
    service.deployments = service.deployments.filter((deployment) => deployment.status !== 'INACTIVE');
    primary.desiredCount = service.desiredCount;
    if (primary.rolloutState === 'IN_PROGRESS' && service.deployments.length === 1 && ready) {
      primary.rolloutState = 'COMPLETED';
      primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
      primary.updatedAt = now;
      this.event(service, now, `(service ${service.name}) (deployment ${primary.id}) deployment completed.`);
      this.event(service, now, `(service ${service.name}) has reached a steady state.`);
      this.account.note(
        `ecs: ${service.name} deployment ${primary.id} completed: every task is new and healthy`,
      );
    }
  }

  /** After the load balancers routed this tick's requests: each task's CPU, and the service metrics. */
  afterTraffic(now: number): void {
    for (const service of this.services.values()) {
      const groups = this.targetGroups(service);
      const running = this.tasks.filter((task) => task.service === service && task.lastStatus === 'RUNNING');
      for (const task of running) {
        const rate = groups.reduce((sum, group) => sum + (group.targets.get(task.ip)?.rate ?? 0), 0);
        const faulty = task.fault && now >= task.fault.since ? task.fault : undefined;
        const utilization = rate / task.capacity;
        task.cpuPercent = faulty?.cpuPercent ?? Math.min(100, 3 + 92 * Math.min(utilization, 1.05));
        task.memoryPercent = 36 + 20 * Math.min(utilization, 1);
        task.requests.set(now, rate);
        task.errors.set(
          now,
          rate * (faulty ? faulty.errorFraction : utilization > 1 ? (utilization - 1) / utilization : 0),
        );
      }
      const average = (values: number[]) =>
        values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
      const pending = this.tasks.filter(
        (task) =>
          task.service === service &&
          task.desiredStatus === 'RUNNING' &&
          (task.lastStatus === 'PENDING' || task.lastStatus === 'PROVISIONING'),
      ).length;
      if (running.length > 0) {
        service.metrics.cpu.record(now, average(running.map((task) => task.cpuPercent)));
        service.metrics.memory.record(now, average(running.map((task) => task.memoryPercent)));
      }
      service.metrics.running.record(now, running.filter((task) => task.desiredStatus === 'RUNNING').length);
      service.metrics.pending.record(now, pending);
      service.metrics.desired.record(now, service.desiredCount);
    }
  }

  /** The application's JSON log lines: a heartbeat per task every 5 s, an ERROR line per failed request. */
  private *taskLogs(service: EcsService, from: number, to: number): Generator<LogEvent> {
    for (const task of this.tasks) {
      if (task.service !== service || task.startedAt === undefined) continue;
      const start = Math.max(from, task.startedAt);
      const end = Math.min(to, task.stoppedAt ?? to);
      const stream = `${service.name}/${service.containerName}/${task.id}`;
      for (let second = Math.ceil(start); second < end; second += 1) {
        if (second % 5 === 0)
          yield {
            stream,
            time: second + 0.123,
            message: JSON.stringify({
              time: new Date(second * 1_000 + 123).toISOString(),
              level: 'INFO',
              logger: 'com.shop.checkout.OrderController',
              message: `orders placed in the last 5s: ${Math.round(task.requests.at(second) * 5 * 0.3)}`,
              task: task.id,
            }),
          };
        const errors = task.errors.at(second);
        const count = Math.min(
          5,
          Math.floor(errors) + (jitter(`${task.id}-errors`, second) * 0.5 + 0.5 < errors % 1 ? 1 : 0),
        );
        const fault = task.fault;
        for (let index = 0; index < count; index += 1)
          yield {
            stream,
            time: second + 0.2 + index * 0.13,
            message: JSON.stringify({
              time: new Date(Math.round((second + 0.2 + index * 0.13) * 1_000)).toISOString(),
              level: 'ERROR',
              logger: fault?.log.logger ?? 'com.shop.checkout.OrderController',
              message: fault?.log.message ?? 'request failed: upstream timeout',
              exception:
                fault?.log.exception ??
                'java.util.concurrent.TimeoutException: Did not observe any item or terminal signal within 2000ms',
              task: task.id,
              traceId: fastHex(`${task.id}-${second}-${index}`, 32),
            }),
          };
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ API

function serviceOutput(model: EcsModel, service: EcsService, includeTags: boolean) {
  const live = model.tasks.filter((task) => task.service === service && task.desiredStatus === 'RUNNING');
  const counts = (deploymentId?: string) => {
    const tasks = live.filter((task) => deploymentId === undefined || task.deploymentId === deploymentId);
    return {
      runningCount: tasks.filter((task) => task.lastStatus === 'RUNNING').length,
      pendingCount: tasks.filter(
        (task) => task.lastStatus === 'PENDING' || task.lastStatus === 'PROVISIONING',
      ).length,
    };
  };
  return {
    serviceArn: service.arn,
    serviceName: service.name,
    clusterArn: model.clusterArn,
    loadBalancers: service.targetGroupArns.map((targetGroupArn) => ({
      targetGroupArn,
      containerName: service.containerName,
      containerPort: service.containerPort,
    })),
    serviceRegistries: [],
    status: 'ACTIVE',
    desiredCount: service.desiredCount,
    ...counts(),
    launchType: 'FARGATE',
    platformVersion: 'LATEST',
    platformFamily: 'Linux',
    taskDefinition: service.taskDefinition,
    deploymentConfiguration: {
      deploymentCircuitBreaker: { enable: true, rollback: true },
      maximumPercent: 200,
      minimumHealthyPercent: 100,
    },
    deployments: service.deployments.map((deployment) => ({
      id: deployment.id,
      status: deployment.status,
      taskDefinition: deployment.taskDefinition,
      desiredCount: deployment.desiredCount,
      ...counts(deployment.id),
      failedTasks: deployment.failedTasks,
      createdAt: dateOf(deployment.createdAt),
      updatedAt: dateOf(deployment.updatedAt),
      launchType: 'FARGATE',
      platformVersion: '1.4.0',
      platformFamily: 'Linux',
      rolloutState: deployment.rolloutState,
      rolloutStateReason: deployment.rolloutStateReason,
    })),
    roleArn: `arn:aws:iam::${service.arn.split(':')[4]}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS`,
    events: service.events.map((event) => ({
      id: event.id,
      createdAt: dateOf(event.createdAt),
      message: event.message,
    })),
    createdAt: dateOf(service.createdAt),
    placementConstraints: [],
    placementStrategy: [],
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: ['subnet-0a11b22c33d44e55f', 'subnet-0b22c33d44e55f66a'],
        securityGroups: ['sg-0c1d2e3f4a5b6c7d8'],
        assignPublicIp: 'DISABLED',
      },
    },
    healthCheckGracePeriodSeconds: 7_200,
    schedulingStrategy: 'REPLICA',
    deploymentController: { type: 'ECS' },
    ...(includeTags ? { tags: Object.entries(service.tags).map(([key, value]) => ({ key, value })) } : {}),
    createdBy: `arn:aws:iam::${service.arn.split(':')[4]}:role/shop-deploy`,
    enableECSManagedTags: true,
    propagateTags: 'SERVICE',
    enableExecuteCommand: false,
  };
}

function taskOutput(model: EcsModel, task: EcsTask) {
  const stopped = task.lastStatus === 'STOPPED';
  return {
    attachments: [
      {
        id: hexId(`${task.id}-eni`, 36).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5'),
        type: 'ElasticNetworkInterface',
        status: stopped ? 'DELETED' : 'ATTACHED',
        details: [
          {
            name: 'subnetId',
            value: task.zone.endsWith('a') ? 'subnet-0a11b22c33d44e55f' : 'subnet-0b22c33d44e55f66a',
          },
          { name: 'privateIPv4Address', value: task.ip },
        ],
      },
    ],
    availabilityZone: task.zone,
    clusterArn: model.clusterArn,
    connectivity: 'CONNECTED',
    containers: [
      {
        containerArn: `${task.arn.replace(':task/', ':container/')}/${hexId(`${task.id}-container`, 36).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5')}`,
        taskArn: task.arn,
        name: task.service.containerName,
        image: '222222222222.dkr.ecr.eu-west-1.amazonaws.com/checkout:3.18.2',
        lastStatus: stopped ? 'STOPPED' : task.lastStatus === 'RUNNING' ? 'RUNNING' : 'PENDING',
        ...(stopped && task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
        ...(stopped && task.exitCode === undefined
          ? { reason: 'Task stopped before the container started' }
          : {}),
        networkInterfaces: [{ attachmentId: 'eni-attachment', privateIpv4Address: task.ip }],
        healthStatus: 'UNKNOWN',
        cpu: '1024',
        memory: '2048',
      },
    ],
    cpu: '1024',
    createdAt: dateOf(task.createdAt),
    desiredStatus: task.desiredStatus,
    enableExecuteCommand: false,
    group: `service:${task.service.name}`,
    healthStatus: 'UNKNOWN',
    lastStatus: task.lastStatus,
    launchType: 'FARGATE',
    memory: '2048',
    platformVersion: '1.4.0',
    platformFamily: 'Linux',
    ...(task.startedAt !== undefined ? { startedAt: dateOf(task.startedAt) } : {}),
    startedBy: task.deploymentId,
    ...(task.stopCode ? { stopCode: task.stopCode } : {}),
    ...(task.stoppedAt !== undefined
      ? { stoppedAt: dateOf(task.stoppedAt), executionStoppedAt: dateOf(task.stoppedAt) }
      : {}),
    ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
    ...(task.stoppingAt !== undefined ? { stoppingAt: dateOf(task.stoppingAt) } : {}),
    tags: [],
    taskArn: task.arn,
    taskDefinitionArn: task.taskDefinitionArn,
    version: stopped ? 5 : 3,
  };
}

function clusterOf(model: EcsModel, input: Record<string, unknown>): void {
  const cluster = String(input.cluster ?? 'default');
  if (cluster !== CLUSTER && cluster !== model.clusterArn)
    throw new AwsError('ClusterNotFoundException', 'Cluster not found.');
}

function maxResults(input: Record<string, unknown>, fallback: number): number {
  const value = input.maxResults === undefined ? fallback : Number(input.maxResults);
  if (!Number.isInteger(value) || value < 1 || value > 100)
    throw new AwsError('InvalidParameterException', 'maxResults must be between 1 and 100.');
  return value;
}

export function ecsService(account: AwsAccount): ServiceDefinition {
  const model = account.ecs;
  return {
    name: 'ecs',
    protocol: 'json',
    jsonVersion: '1.1',
    target: 'AmazonEC2ContainerServiceV20141113',
    handle(call: AwsCall) {
      const input = call.input;
      const now = call.now;
      switch (call.operation) {
        case 'ListClusters': {
          const { items, next } = page(
            [model.clusterArn],
            input.nextToken as string | undefined,
            maxResults(input, 100),
            'ecs:clusters',
            'InvalidParameterException',
          );
          return { body: { clusterArns: items, ...(next ? { nextToken: next } : {}) } };
        }
        case 'ListServices': {
          clusterOf(model, input);
          const arns = [...model.services.values()].map((service) => service.arn);
          const { items, next } = page(
            arns,
            input.nextToken as string | undefined,
            maxResults(input, 10),
            'ecs:services',
            'InvalidParameterException',
          );
          return { body: { serviceArns: items, ...(next ? { nextToken: next } : {}) } };
        }
        case 'DescribeServices': {
          clusterOf(model, input);
          const names = Array.isArray(input.services) ? (input.services as string[]) : [];
          if (names.length === 0 || names.length > 10)
            throw new AwsError(
              'InvalidParameterException',
              'services can have at most 10 items and at least 1.',
            );
          const includeTags = Array.isArray(input.include) && (input.include as string[]).includes('TAGS');
          const services = names.map((name) => ({ name, service: model.service(name) }));
          return {
            body: {
              services: services
                .filter((entry) => entry.service)
                .map((entry) => serviceOutput(model, entry.service!, includeTags)),
              failures: services
                .filter((entry) => !entry.service)
                .map((entry) => ({
                  arn: entry.name.startsWith('arn:')
                    ? entry.name
                    : account.arn('ecs', `service/${CLUSTER}/${entry.name}`),
                  reason: 'MISSING',
                })),
            },
          };
        }
        case 'UpdateService': {
          clusterOf(model, input);
          const service = model.service(String(input.service ?? ''));
          if (!service) throw new AwsError('ServiceNotFoundException', 'Service not found.');
          if (input.desiredCount !== undefined) {
            const desired = Number(input.desiredCount);
            if (!Number.isInteger(desired) || desired < 0)
              throw new AwsError('InvalidParameterException', 'desiredCount must be a non-negative integer.');
            model.setDesiredCount(service, desired, now);
          }
          if (input.taskDefinition !== undefined && input.taskDefinition !== service.taskDefinition)
            throw new AwsError(
              'InvalidParameterException',
              'The simulated account has one revision of each task definition; registering revisions is not simulated.',
            );
          if (input.forceNewDeployment === true) model.forceNewDeployment(service, now);
          return { body: { service: serviceOutput(model, service, false) } };
        }
        case 'ListTasks': {
          clusterOf(model, input);
          const serviceName = input.serviceName === undefined ? undefined : String(input.serviceName);
          const service = serviceName === undefined ? undefined : model.service(serviceName);
          if (serviceName !== undefined && !service)
            throw new AwsError('ServiceNotFoundException', 'Service not found.');
          const desired = String(input.desiredStatus ?? 'RUNNING');
          const tasks = model.tasks
            .filter(
              (task) =>
                (service === undefined || task.service === service) &&
                task.desiredStatus === (desired === 'STOPPED' ? 'STOPPED' : 'RUNNING'),
            )
            .map((task) => task.arn);
          const { items, next } = page(
            tasks,
            input.nextToken as string | undefined,
            maxResults(input, 100),
            `ecs:tasks:${serviceName}:${desired}`,
            'InvalidParameterException',
          );
          return { body: { taskArns: items, ...(next ? { nextToken: next } : {}) } };
        }
        case 'DescribeTasks': {
          clusterOf(model, input);
          const wanted = Array.isArray(input.tasks) ? (input.tasks as string[]) : [];
          if (wanted.length === 0 || wanted.length > 100)
            throw new AwsError(
              'InvalidParameterException',
              'Tasks cannot be empty and can have at most 100 items.',
            );
          const found = wanted.map((reference) => ({
            reference,
            task: model.tasks.find((task) => task.arn === reference || task.id === reference),
          }));
          return {
            body: {
              tasks: found.filter((entry) => entry.task).map((entry) => taskOutput(model, entry.task!)),
              failures: found
                .filter((entry) => !entry.task)
                .map((entry) => ({ arn: entry.reference, reason: 'MISSING' })),
            },
          };
        }
        case 'DescribeCapacityProviders': {
          const names = Array.isArray(input.capacityProviders)
            ? (input.capacityProviders as string[])
            : ['FARGATE', 'FARGATE_SPOT'];
          const builtIn = ['FARGATE', 'FARGATE_SPOT'];
          return {
            body: {
              capacityProviders: names
                .filter((name) => builtIn.includes(name))
                .map((name) => ({
                  capacityProviderArn: account.arn('ecs', `capacity-provider/${name}`),
                  name,
                  status: 'ACTIVE',
                  tags: [],
                })),
              failures: names
                .filter((name) => !builtIn.includes(name))
                .map((name) => ({ arn: account.arn('ecs', `capacity-provider/${name}`), reason: 'MISSING' })),
            },
          };
        }
        default:
          return undefined;
      }
    },
  };
}

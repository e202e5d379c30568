import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import {
  type Deployment,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  type Service,
  type Task,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type {
  EcsDeploymentOutput,
  ServiceEventsOutput,
  SetDesiredCountOutput,
  StoppedTaskOutput,
  StoppedTasksOutput,
} from '../declarations/aws/ecs.ts';
import type { DescribeServicesOutput, ForceNewDeploymentOutput, ServiceOutput } from '../declarations/aws.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind, withPreRead } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { isoOrNull, keepHead, listForMessage } from './output.ts';

/** Service events kept per service (ECS lists them newest first). */
export const SERVICE_EVENTS_KEPT = 5;
const MAX_EVENT_CHARS = 300;

function matches(service: Service, requested: string): boolean {
  return (
    service.serviceName === requested ||
    service.serviceArn === requested ||
    (service.serviceArn?.endsWith(`/${requested}`) ?? false)
  );
}

/** DescribeServices, answered in the order asked; a service ECS reports missing is NotFound. */
export async function describeServices(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  cluster: string,
  names: string[],
  region: string | undefined,
): Promise<Service[]> {
  const response = await callAws(
    {
      tool,
      action: 'ecs:DescribeServices',
      resource: `services ${listForMessage(names)} in cluster ${cluster}`,
      region,
    },
    context,
    (abortSignal) =>
      deps.clients
        .ecs(region)
        .send(new DescribeServicesCommand({ cluster, services: names }), { abortSignal }),
  );
  const found = response.services ?? [];
  const missing = names.filter((name) => !found.some((service) => matches(service, name)));
  if (missing.length > 0) {
    const reasons = (response.failures ?? [])
      .map(
        (failure) =>
          `${failure.arn ?? '?'}: ${failure.reason ?? 'failed'}${failure.detail ? ` (${failure.detail})` : ''}`,
      )
      .join('; ');
    throw new ToolError(
      ToolErrorKind.NotFound,
      `${tool}: ECS service ${listForMessage(missing)} not found in cluster ${cluster} in ${region ?? 'the default region'}${reasons ? ` [${reasons}]` : ''}; check the service and cluster names`,
      { data: { cluster, missing } },
    );
  }
  return names.map((name) => found.find((service) => matches(service, name))!);
}

function serviceOutput(service: Service, now: Date): ServiceOutput {
  const deployments = service.deployments ?? [];
  const primary = deployments.find((deployment) => deployment.status === 'PRIMARY');
  return {
    serviceName: service.serviceName ?? 'unknown',
    status: service.status ?? 'unknown',
    desiredCount: service.desiredCount ?? 0,
    runningCount: service.runningCount ?? 0,
    pendingCount: service.pendingCount ?? 0,
    taskDefinition: service.taskDefinition ?? primary?.taskDefinition ?? null,
    rolloutState: primary?.rolloutState ?? null,
    rolloutStateReason: primary?.rolloutStateReason
      ? keepHead(primary.rolloutStateReason, MAX_EVENT_CHARS)
      : null,
    lastDeploymentMinutesAgo: primary?.createdAt
      ? Math.max(0, Math.floor((now.getTime() - primary.createdAt.getTime()) / 60_000))
      : null,
    deploymentCount: deployments.length,
    events: (service.events ?? []).slice(0, SERVICE_EVENTS_KEPT).map((event) => ({
      createdAt: isoOrNull(event.createdAt),
      message: keepHead(event.message ?? '', MAX_EVENT_CHARS),
    })),
  };
}

export function describeServicesTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('ecs.describe-services');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const services = await describeServices(
      deps,
      context,
      declaration.name,
      parameters.cluster,
      parameters.services,
      region,
    );
    const now = deps.runtime.clock.now();
    const output: DescribeServicesOutput = {
      services: services.map((service) => serviceOutput(service, now)),
    };
    return output;
  });
}

export function forceNewDeploymentTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('ecs.force-new-deployment');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { cluster, service: serviceName } = parameters;
    const [service] = await describeServices(deps, context, declaration.name, cluster, [serviceName], region);
    const where = `ECS service ${serviceName} in cluster ${cluster} in ${region ?? 'the default region'}`;
    if (service?.status !== 'ACTIVE') {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${where} is ${service?.status ?? 'in an unknown state'}, not ACTIVE; only an active service can be redeployed`,
      );
    }
    const controller = service.deploymentController?.type ?? 'ECS';
    if (controller !== 'ECS') {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${where} is deployed by ${controller}, not by ECS; start the deployment through ${controller === 'CODE_DEPLOY' ? 'CodeDeploy' : 'its external controller'}`,
      );
    }
    const previousTaskDefinition = service.taskDefinition ?? null;
    if (context.dryRun) {
      const output: ForceNewDeploymentOutput = {
        cluster,
        service: serviceName,
        deploymentId: null,
        previousTaskDefinition,
        taskDefinition: previousTaskDefinition,
        dryRun: true,
      };
      return output;
    }

    const response = await callAws(
      {
        tool: declaration.name,
        action: 'ecs:UpdateService',
        resource: `service ${serviceName} in cluster ${cluster}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients
          .ecs(region)
          .send(new UpdateServiceCommand({ cluster, service: serviceName, forceNewDeployment: true }), {
            abortSignal,
          }),
    );
    const updated = response.service;
    const primary = updated?.deployments?.find((deployment) => deployment.status === 'PRIMARY');
    context.log('forced a new deployment', { cluster, service: serviceName, deploymentId: primary?.id });
    const output: ForceNewDeploymentOutput = {
      cluster,
      service: serviceName,
      deploymentId: primary?.id ?? null,
      previousTaskDefinition,
      taskDefinition: updated?.taskDefinition ?? primary?.taskDefinition ?? previousTaskDefinition,
      dryRun: false,
    };
    return output;
  });
}

/** `arn:aws:ecs:…:cluster/shop` → `shop`; a name stays a name. */
export function ecsNameOf(nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? (nameOrArn.split('/').at(-1) ?? nameOrArn) : nameOrArn;
}

/** The service's Application Auto Scaling range, or null when none is registered. */
async function scalableRange(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  cluster: string,
  service: string,
  region: string | undefined,
): Promise<SetDesiredCountOutput['autoScaling']> {
  const resourceId = `service/${cluster}/${service}`;
  const response = await callAws(
    {
      tool,
      action: 'application-autoscaling:DescribeScalableTargets',
      resource: `scalable target ${resourceId}`,
      region,
    },
    context,
    (abortSignal) =>
      deps.clients.applicationAutoScaling(region).send(
        new DescribeScalableTargetsCommand({
          ServiceNamespace: 'ecs',
          ResourceIds: [resourceId],
          ScalableDimension: 'ecs:service:DesiredCount',
        }),
        { abortSignal },
      ),
  );
  const target = response.ScalableTargets?.find((candidate) => candidate.ResourceId === resourceId);
  return target ? { minCapacity: target.MinCapacity ?? 0, maxCapacity: target.MaxCapacity ?? 0 } : null;
}

export function setDesiredCountTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('ecs.set-desired-count');
  const tool = defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { maxDesiredCount } = parameters;
    const increaseBy = parameters.increaseBy ?? null;
    const where = `ECS service ${parameters.service} in cluster ${parameters.cluster} in ${region ?? 'the default region'}`;
    const asked = parameters.desiredCount;
    if (asked === undefined && increaseBy === null) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: give either desiredCount (the count to set) or increaseBy (tasks to add) for ${where}`,
      );
    }
    if (asked !== undefined && asked > maxDesiredCount) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: desired count ${asked} for ${where} is above the bound ${maxDesiredCount} the step allows; raise the runbook parameter that sets maxDesiredCount, or ask for less`,
        { data: { desiredCount: asked, maxDesiredCount } },
      );
    }
    const [service] = await describeServices(
      deps,
      context,
      declaration.name,
      parameters.cluster,
      [parameters.service],
      region,
    );
    if (service?.status !== 'ACTIVE') {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${where} is ${service?.status ?? 'in an unknown state'}, not ACTIVE; only an active service can be scaled`,
      );
    }
    const previous = service.desiredCount ?? 0;
    if (increaseBy !== null && previous >= maxDesiredCount) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: ${where} already wants ${previous} tasks, at or above the bound ${maxDesiredCount} the step allows; nothing to add: raise the runbook parameter that sets maxDesiredCount, or look elsewhere for the cause`,
        { data: { desiredCount: previous, maxDesiredCount } },
      );
    }
    // An increase is capped at the bound; an explicit count is taken as asked (checked above).
    const desiredCount = increaseBy !== null ? Math.min(previous + increaseBy, maxDesiredCount) : asked!;
    const clusterName = ecsNameOf(service.clusterArn ?? parameters.cluster);
    const serviceName = service.serviceName ?? ecsNameOf(parameters.service);
    const autoScaling = await scalableRange(
      deps,
      context,
      declaration.name,
      clusterName,
      serviceName,
      region,
    );
    if (autoScaling && (desiredCount < autoScaling.minCapacity || desiredCount > autoScaling.maxCapacity)) {
      throw new ToolError(
        ToolErrorKind.Refused,
        `${declaration.name}: desired count ${desiredCount} for ${where} is outside its Application Auto Scaling range (min ${autoScaling.minCapacity}, max ${autoScaling.maxCapacity}), which would scale it back; change the scalable target's range first, or ask for a value within it`,
        { data: { desiredCount, ...autoScaling } },
      );
    }
    const output: SetDesiredCountOutput = {
      cluster: parameters.cluster,
      service: parameters.service,
      previousDesiredCount: previous,
      desiredCount,
      runningCount: service.runningCount ?? 0,
      maxDesiredCount,
      increaseBy,
      autoScaling,
      unchanged: previous === desiredCount,
      dryRun: context.dryRun,
    };
    if (context.dryRun || output.unchanged) return output;
    await callAws(
      {
        tool: declaration.name,
        action: 'ecs:UpdateService',
        resource: `service ${parameters.service} in cluster ${parameters.cluster}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients.ecs(region).send(
          new UpdateServiceCommand({
            cluster: parameters.cluster,
            service: parameters.service,
            desiredCount,
          }),
          { abortSignal },
        ),
    );
    context.log('set desired count', {
      cluster: parameters.cluster,
      service: parameters.service,
      previous,
      desiredCount,
    });
    return output;
  });
  return withPreRead(tool, declaration, async (parameters, context) => {
    // An increase says itself how many tasks it adds (at most); an absolute count is compared with now.
    if (parameters.increaseBy !== undefined)
      return { count: parameters.increaseBy, how: `up to ${parameters.increaseBy} task(s) added` };
    const region = regionOf(deps, parameters);
    const [service] = await describeServices(
      deps,
      context,
      declaration.name,
      parameters.cluster,
      [parameters.service],
      region,
    );
    const previous = service?.desiredCount ?? 0;
    const asked = parameters.desiredCount ?? previous;
    return {
      count: Math.abs(asked - previous),
      how: `ECS service ${parameters.service} from ${previous} to ${asked} tasks`,
    };
  });
}

function deploymentOutput(deployment: Deployment): EcsDeploymentOutput {
  return {
    id: deployment.id ?? 'unknown',
    status: deployment.status ?? 'unknown',
    taskDefinition: deployment.taskDefinition ?? null,
    desiredCount: deployment.desiredCount ?? 0,
    runningCount: deployment.runningCount ?? 0,
    pendingCount: deployment.pendingCount ?? 0,
    failedTasks: deployment.failedTasks ?? 0,
    rolloutState: deployment.rolloutState ?? null,
    rolloutStateReason: deployment.rolloutStateReason
      ? keepHead(deployment.rolloutStateReason, MAX_EVENT_CHARS)
      : null,
    createdAt: isoOrNull(deployment.createdAt),
    updatedAt: isoOrNull(deployment.updatedAt),
  };
}

export function serviceEventsTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('ecs.service-events');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const [service] = await describeServices(
      deps,
      context,
      declaration.name,
      parameters.cluster,
      [parameters.service],
      region,
    );
    const deployments = [...(service?.deployments ?? [])].sort(
      (a, b) => Number(b.status === 'PRIMARY') - Number(a.status === 'PRIMARY'),
    );
    const output: ServiceEventsOutput = {
      cluster: parameters.cluster,
      service: parameters.service,
      status: service?.status ?? 'unknown',
      desiredCount: service?.desiredCount ?? 0,
      runningCount: service?.runningCount ?? 0,
      pendingCount: service?.pendingCount ?? 0,
      events: [...(service?.events ?? [])]
        .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))
        .slice(0, parameters.limit)
        .map((event) => ({
          createdAt: isoOrNull(event.createdAt),
          message: keepHead(event.message ?? '', MAX_EVENT_CHARS),
        })),
      deployments: deployments.map(deploymentOutput),
    };
    return output;
  });
}

/** DescribeTasks takes at most 100 tasks. */
const DESCRIBE_TASKS_BATCH = 100;

function stoppedTaskOutput(task: Task): StoppedTaskOutput {
  return {
    taskArn: task.taskArn ?? 'unknown',
    taskDefinition: task.taskDefinitionArn ?? null,
    group: task.group ?? null,
    stopCode: task.stopCode ?? null,
    stoppedReason: task.stoppedReason ? keepHead(task.stoppedReason, MAX_EVENT_CHARS) : null,
    startedAt: isoOrNull(task.startedAt),
    stoppedAt: isoOrNull(task.stoppedAt),
    containers: (task.containers ?? []).map((container) => ({
      name: container.name ?? 'unknown',
      exitCode: container.exitCode ?? null,
      reason: container.reason ? keepHead(container.reason, MAX_EVENT_CHARS) : null,
      lastStatus: container.lastStatus ?? null,
    })),
  };
}

/** Counts of equal keys, the most frequent first. */
function tally<T>(items: readonly T[], keyOf: (item: T) => string): Array<{ item: T; count: number }> {
  const counts = new Map<string, { item: T; count: number }>();
  for (const item of items) {
    const key = keyOf(item);
    const entry = counts.get(key);
    if (entry) entry.count += 1;
    else counts.set(key, { item, count: 1 });
  }
  return [...counts.values()].sort((a, b) => b.count - a.count);
}

export function stoppedTasksTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('ecs.stopped-tasks');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const { cluster, service, limit } = parameters;
    const client = deps.clients.ecs(region);
    const resource = service ? `service ${service} in cluster ${cluster}` : `cluster ${cluster}`;
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await callAws(
        { tool: declaration.name, action: 'ecs:ListTasks', resource, region },
        context,
        (abortSignal) =>
          client.send(
            new ListTasksCommand({
              cluster,
              ...(service ? { serviceName: ecsNameOf(service) } : {}),
              desiredStatus: 'STOPPED',
              maxResults: 100,
              nextToken,
            }),
            { abortSignal },
          ),
      );
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken || undefined;
    } while (nextToken && arns.length < limit);

    const tasks: Task[] = [];
    const wanted = arns.slice(0, limit);
    for (let index = 0; index < wanted.length; index += DESCRIBE_TASKS_BATCH) {
      const batch = wanted.slice(index, index + DESCRIBE_TASKS_BATCH);
      const described = await callAws(
        { tool: declaration.name, action: 'ecs:DescribeTasks', resource, region },
        context,
        (abortSignal) => client.send(new DescribeTasksCommand({ cluster, tasks: batch }), { abortSignal }),
      );
      tasks.push(...(described.tasks ?? []));
    }
    tasks.sort((a, b) => (b.stoppedAt?.getTime() ?? 0) - (a.stoppedAt?.getTime() ?? 0));
    const outputs = tasks.map(stoppedTaskOutput);
    const exits = outputs.flatMap((task) => task.containers);
    const output: StoppedTasksOutput = {
      cluster,
      service: service ?? null,
      taskCount: outputs.length,
      tasks: outputs,
      reasons: tally(outputs, (task) => `${task.stopCode}\u0000${task.stoppedReason}`).map(
        ({ item, count }) => ({
          stopCode: item.stopCode,
          stoppedReason: item.stoppedReason ?? '',
          count,
        }),
      ),
      containerExits: tally(exits, (exit) => `${exit.name}\u0000${exit.exitCode}\u0000${exit.reason}`).map(
        ({ item, count }) => ({ container: item.name, exitCode: item.exitCode, reason: item.reason, count }),
      ),
    };
    return output;
  });
}

export type {
  ServiceEventsOutput,
  SetDesiredCountOutput,
  StoppedTasksOutput,
} from '../declarations/aws/ecs.ts';
export type { DescribeServicesOutput, ForceNewDeploymentOutput, ServiceOutput } from '../declarations/aws.ts';

import { DescribeServicesCommand, type Service, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type { DescribeServicesOutput, ForceNewDeploymentOutput, ServiceOutput } from '../declarations/aws.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
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
async function describeServices(
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

export type { DescribeServicesOutput, ForceNewDeploymentOutput, ServiceOutput } from '../declarations/aws.ts';

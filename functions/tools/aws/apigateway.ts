import {
  type Deployment,
  GetDeploymentsCommand,
  GetRestApisCommand,
  GetStageCommand,
  type GetStageCommandOutput,
  type RestApi,
  UpdateStageCommand,
} from '@aws-sdk/client-api-gateway';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type { RollbackStageOutput, StageStatusOutput } from '../declarations/aws/apigateway.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { readMetrics, seriesOfKey } from './metrics.ts';
import { isoOrNull, keepHead, listForMessage } from './output.ts';

/** REST API stages (API Gateway v1): the deployment a stage serves, and pointing it back. */

const MAX_PAGES = 20;
const DEPLOYMENTS_KEPT = 10;

/** The REST API a name or id names; refuses a name several APIs share. */
export async function findRestApi(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  nameOrId: string,
  region: string | undefined,
): Promise<RestApi> {
  const apis: RestApi[] = [];
  let position: string | undefined;
  let pages = 0;
  do {
    const page = await callAws(
      { tool, action: 'apigateway:GET', resource: 'REST APIs (GetRestApis)', region },
      context,
      (abortSignal) =>
        deps.clients
          .apiGateway(region)
          .send(new GetRestApisCommand({ limit: 500, position }), { abortSignal }),
    );
    apis.push(...(page.items ?? []));
    position = page.position || undefined;
    pages += 1;
  } while (position && pages < MAX_PAGES);
  const byId = apis.find((api) => api.id === nameOrId);
  if (byId) return byId;
  const named = apis.filter((api) => api.name === nameOrId);
  if (named.length > 1) {
    throw new ToolError(
      ToolErrorKind.Failed,
      `${tool}: ${named.length} REST APIs are named ${nameOrId} in ${region ?? 'the default region'} (ids ${listForMessage(named.map((api) => api.id ?? '?'))}); pass the id instead`,
    );
  }
  if (!named[0]?.id) {
    throw new ToolError(
      ToolErrorKind.NotFound,
      `${tool}: no REST API is named ${nameOrId} or has that id in ${region ?? 'the default region'}; check the name and the region`,
      { data: { restApi: nameOrId } },
    );
  }
  return named[0];
}

async function stageOf(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  restApiId: string,
  stageName: string,
  region: string | undefined,
): Promise<GetStageCommandOutput> {
  return callAws(
    { tool, action: 'apigateway:GET', resource: `stage ${stageName} of REST API ${restApiId}`, region },
    context,
    (abortSignal) =>
      deps.clients.apiGateway(region).send(new GetStageCommand({ restApiId, stageName }), { abortSignal }),
  );
}

/** Every deployment of the API, the newest first. */
async function deploymentsOf(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  restApiId: string,
  region: string | undefined,
): Promise<Deployment[]> {
  const deployments: Deployment[] = [];
  let position: string | undefined;
  let pages = 0;
  do {
    const page = await callAws(
      { tool, action: 'apigateway:GET', resource: `deployments of REST API ${restApiId}`, region },
      context,
      (abortSignal) =>
        deps.clients
          .apiGateway(region)
          .send(new GetDeploymentsCommand({ restApiId, limit: 500, position }), { abortSignal }),
    );
    deployments.push(...(page.items ?? []));
    position = page.position || undefined;
    pages += 1;
  } while (position && pages < MAX_PAGES);
  return deployments.sort((a, b) => (b.createdDate?.getTime() ?? 0) - (a.createdDate?.getTime() ?? 0));
}

/** The deployment created just before `deploymentId`; undefined when it is the oldest (or unknown). */
export function deploymentBefore(
  deployments: readonly Deployment[],
  deploymentId: string,
): Deployment | undefined {
  const current = deployments.find((deployment) => deployment.id === deploymentId);
  const createdAt = current?.createdDate?.getTime();
  if (createdAt === undefined) return undefined;
  return deployments.find(
    (deployment) => deployment.id !== deploymentId && (deployment.createdDate?.getTime() ?? 0) < createdAt,
  );
}

export function stageStatusTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('apigateway.stage-status');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const api = await findRestApi(deps, context, tool, parameters.restApi, region);
    const restApiId = api.id!;
    const apiName = api.name ?? parameters.restApi;
    const stage = await stageOf(deps, context, tool, restApiId, parameters.stage, region);
    const deploymentId = stage.deploymentId ?? '';
    const deployments = await deploymentsOf(deps, context, tool, restApiId, region);
    const current = deployments.find((deployment) => deployment.id === deploymentId);
    const metric = (key: string, metricName: string, stat: string) => ({
      key,
      namespace: 'AWS/ApiGateway',
      metricName,
      dimensions: { ApiName: apiName, Stage: parameters.stage },
      stat,
    });
    const metrics = await readMetrics(
      deps,
      context,
      { tool, resource: `stage ${parameters.stage} of ${apiName}`, region },
      [
        metric('requests', 'Count', 'Sum'),
        metric('errors5xx', '5XXError', 'Sum'),
        metric('errors4xx', '4XXError', 'Sum'),
        metric('latencyAverage', 'Latency', 'Average'),
        metric('latencyP90', 'Latency', 'p90'),
      ],
      parameters.lookbackMinutes,
    );
    const requests = seriesOfKey(metrics, 'requests').sum;
    const errors5xx = seriesOfKey(metrics, 'errors5xx').sum;
    const now = deps.runtime.clock.now().getTime();
    const minutesSince = (date: Date | undefined) =>
      date ? Math.max(0, Math.floor((now - new Date(date).getTime()) / 60_000)) : null;
    const output: StageStatusOutput = {
      restApiId,
      apiName,
      stage: parameters.stage,
      deploymentId,
      deploymentCreatedAt: isoOrNull(current?.createdDate),
      deploymentMinutesAgo: minutesSince(current?.createdDate),
      previousDeploymentId: deploymentBefore(deployments, deploymentId)?.id ?? null,
      newerDeployments: current
        ? deployments.filter(
            (deployment) =>
              (deployment.createdDate?.getTime() ?? 0) > (current.createdDate?.getTime() ?? Infinity),
          ).length
        : null,
      stageLastUpdatedAt: isoOrNull(stage.lastUpdatedDate),
      stageUpdatedMinutesAgo: minutesSince(stage.lastUpdatedDate),
      canaryDeploymentId: stage.canarySettings?.deploymentId ?? null,
      canaryPercentTraffic: stage.canarySettings?.percentTraffic ?? null,
      deployments: deployments.slice(0, DEPLOYMENTS_KEPT).map((deployment) => ({
        id: deployment.id ?? '',
        createdAt: isoOrNull(deployment.createdDate),
        description: deployment.description ? keepHead(deployment.description, 200) : null,
      })),
      lookbackMinutes: parameters.lookbackMinutes,
      requests,
      errors5xx,
      errors4xx: seriesOfKey(metrics, 'errors4xx').sum,
      errorRate5xxPercent: requests > 0 ? Math.round((errors5xx / requests) * 10_000) / 100 : null,
      latencyAverageMs: seriesOfKey(metrics, 'latencyAverage').average,
      latencyP90Ms: seriesOfKey(metrics, 'latencyP90').latest,
    };
    return output;
  });
}

export function rollbackStageTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('apigateway.rollback-stage');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const api = await findRestApi(deps, context, tool, parameters.restApi, region);
    const restApiId = api.id!;
    const where = `stage ${parameters.stage} of REST API ${api.name ?? restApiId} (${restApiId}) in ${region ?? 'the default region'}`;
    const stage = await stageOf(deps, context, tool, restApiId, parameters.stage, region);
    const current = stage.deploymentId ?? '';
    const deployments = await deploymentsOf(deps, context, tool, restApiId, region);
    let target: Deployment | undefined;
    if (parameters.targetDeploymentId !== undefined) {
      target = deployments.find((deployment) => deployment.id === parameters.targetDeploymentId);
      if (!target) {
        throw new ToolError(
          ToolErrorKind.NotFound,
          `${tool}: REST API ${restApiId} has no deployment ${parameters.targetDeploymentId}; name one of its deployments`,
          { data: { targetDeploymentId: parameters.targetDeploymentId } },
        );
      }
    } else {
      target = deploymentBefore(deployments, current);
      if (!target) {
        throw new ToolError(
          ToolErrorKind.Refused,
          `${tool}: ${where} serves deployment ${current || '(none)'}, and no deployment was created before it; there is nothing to roll back to`,
        );
      }
    }
    const targetId = target.id ?? '';
    const output: RollbackStageOutput = {
      restApiId,
      stage: parameters.stage,
      previousDeploymentId: current,
      deploymentId: targetId,
      deploymentCreatedAt: isoOrNull(target.createdDate),
      unchanged: targetId === current,
      dryRun: context.dryRun,
    };
    if (context.dryRun || output.unchanged) return output;
    await callAws(
      {
        tool,
        action: 'apigateway:PATCH',
        resource: `stage ${parameters.stage} of REST API ${restApiId}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients.apiGateway(region).send(
          new UpdateStageCommand({
            restApiId,
            stageName: parameters.stage,
            patchOperations: [{ op: 'replace', path: '/deploymentId', value: targetId }],
          }),
          { abortSignal },
        ),
    );
    context.log('pointed the stage at another deployment', {
      restApiId,
      stage: parameters.stage,
      from: current,
      to: targetId,
    });
    return output;
  });
}

export type { RollbackStageOutput, StageStatusOutput } from '../declarations/aws/apigateway.ts';

import type { AwsAccount } from './account.ts';
import { latencyPercentile } from './elbv2.ts';
import { dateOf, fastUuid, uuidFrom } from './ids.ts';
import type { LogEvent } from './logs.ts';
import type { MetricSeries } from './metric-store.ts';
import { type AwsCall, AwsError, page, type ServiceDefinition } from './protocol.ts';
import { jitter, Timeline } from './timeline.ts';

/**
 * Amazon API Gateway (REST APIs, v1): shop-api and its stage prod, which serves one of the API's
 * deployments. Each deployment behaves as it was built (a broken integration answers 5xx), so the
 * stage's AWS/ApiGateway metrics (Count, 5XXError, 4XXError, Latency, IntegrationLatency) follow the
 * deployment it serves, and pointing the stage back at the previous deployment ends the errors. The
 * stage's execution log group gets a line per failed request.
 * API (REST-JSON): GetRestApis, GetRestApi, GetStage, GetStages, GetDeployments, UpdateStage.
 */

export const REST_API_ID = 'k7x2pq9w1d';
export const API_NAME = 'shop-api';
export const STAGE = 'prod';

export interface ApiDeployment {
  id: string;
  description: string;
  createdAt: number;
  /** Share of requests its integrations answer 5xx, and why (the execution log line). */
  errorFraction: number;
  failure?: string;
  latencyMs: number;
}

export interface StageModel {
  name: string;
  deploymentId: string;
  createdAt: number;
  lastUpdatedAt: number;
  tags: Record<string, string>;
  /** Which deployment it served over time (the logs read it back), the newest last. */
  history: Array<{ at: number; deploymentId: string }>;
  requests: Timeline;
  metrics: Record<'count' | 'errors5xx' | 'errors4xx' | 'latency' | 'integrationLatency', MetricSeries>;
}

export interface RestApiModel {
  id: string;
  name: string;
  description: string;
  createdAt: number;
  tags: Record<string, string>;
  deployments: ApiDeployment[];
  stages: Map<string, StageModel>;
}

export class ApiGatewayModel {
  readonly apis = new Map<string, RestApiModel>();

  constructor(account: AwsAccount) {
    const start = account.startedAt;
    const api: RestApiModel = {
      id: REST_API_ID,
      name: API_NAME,
      description: 'The shop’s public API: catalog, cart, checkout, orders',
      createdAt: start - 700 * 86_400,
      tags: { team: 'shop', environment: 'staging' },
      deployments: [
        {
          id: 'w4zq1b',
          description: 'release 2026.11.19: /orders/{id}/returns',
          createdAt: start - 6 * 86_400 - 3_300,
          errorFraction: 0.0012,
          latencyMs: 118,
        },
        {
          id: 'a8hn3c',
          description: 'release 2026.11.23: /checkout through the checkout-api live alias',
          createdAt: start - 2 * 86_400 - 7_800,
          errorFraction: 0.0012,
          latencyMs: 121,
        },
      ],
      stages: new Map(),
    };
    const dimensions = { ApiName: API_NAME, Stage: STAGE };
    const define = (metricName: string, options: Parameters<AwsAccount['metrics']['define']>[1]) =>
      account.metrics.define({ namespace: 'AWS/ApiGateway', metricName, dimensions }, options);
    const count = define('Count', { kind: 'count', unit: 'Count', initial: 25, noise: 0.05 });
    const current = api.deployments.at(-1)!;
    api.stages.set(STAGE, {
      name: STAGE,
      deploymentId: current.id,
      createdAt: api.createdAt + 86_400,
      lastUpdatedAt: current.createdAt,
      tags: { environment: 'staging', 'runbook-autopilot.io/owner': 'shop' },
      history: [{ at: current.createdAt, deploymentId: current.id }],
      requests: new Timeline(25),
      metrics: {
        count,
        errors5xx: define('5XXError', {
          kind: 'ratio',
          unit: 'Count',
          of: count,
          initial: current.errorFraction,
        }),
        errors4xx: define('4XXError', { kind: 'ratio', unit: 'Count', of: count, initial: 0.014 }),
        latency: define('Latency', {
          kind: 'gauge',
          unit: 'Milliseconds',
          initial: current.latencyMs,
          noise: 0.06,
          sampleSeconds: 5,
          percentile: latencyPercentile,
        }),
        integrationLatency: define('IntegrationLatency', {
          kind: 'gauge',
          unit: 'Milliseconds',
          initial: current.latencyMs - 14,
          noise: 0.06,
          sampleSeconds: 5,
          percentile: latencyPercentile,
        }),
      },
    });
    this.apis.set(api.id, api);
    account.logs
      .group(`API-Gateway-Execution-Logs_${api.id}/${STAGE}`, api.createdAt + 86_400, 30)
      .addSource((from, to) => this.executionLogs(api, api.stages.get(STAGE)!, from, to));
  }

  deployment(api: RestApiModel, id: string): ApiDeployment | undefined {
    return api.deployments.find((deployment) => deployment.id === id);
  }

  /** Points the stage at a deployment from `at` on (a scenario's past, or UpdateStage now). */
  serve(stage: StageModel, deploymentId: string, at: number): void {
    stage.deploymentId = deploymentId;
    stage.lastUpdatedAt = at;
    while (stage.history.length > 0 && stage.history.at(-1)!.at > at) stage.history.pop();
    stage.history.push({ at, deploymentId });
  }

  tick(now: number): void {
    for (const api of this.apis.values())
      for (const stage of api.stages.values()) {
        const deployment = this.deployment(api, stage.deploymentId);
        stage.metrics.count.record(now, stage.requests.at(now));
        stage.metrics.errors5xx.record(now, deployment?.errorFraction ?? 1);
        stage.metrics.errors4xx.record(now, 0.014);
        stage.metrics.latency.record(now, deployment?.latencyMs ?? 30);
        stage.metrics.integrationLatency.record(now, Math.max(1, (deployment?.latencyMs ?? 30) - 14));
      }
  }

  private *executionLogs(
    api: RestApiModel,
    stage: StageModel,
    from: number,
    to: number,
  ): Generator<LogEvent> {
    for (let second = Math.floor(from); second < to; second += 1) {
      const entry = [...stage.history].reverse().find((candidate) => candidate.at <= second);
      const deployment = entry ? this.deployment(api, entry.deploymentId) : undefined;
      if (!deployment?.failure) continue;
      const failures = stage.requests.at(second) * deployment.errorFraction;
      const count =
        Math.floor(failures) + (jitter(`${api.id}-failures`, second) * 0.5 + 0.5 < failures % 1 ? 1 : 0);
      for (let index = 0; index < count; index += 1) {
        const requestId = fastUuid(`${api.id}-${second}-${index}`);
        yield {
          stream: `${uuidFrom(`${api.id}-stream-${Math.floor(second / 3_600)}`).replace(/-/g, '')}`,
          time: second + 0.1 + index * 0.07,
          message: `(${requestId}) ${deployment.failure}`,
        };
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ API

const ROUTES = [
  { method: 'GET', path: '/restapis', operation: 'GetRestApis' },
  { method: 'GET', path: '/restapis/{restapi_id}', operation: 'GetRestApi' },
  { method: 'GET', path: '/restapis/{restapi_id}/stages', operation: 'GetStages' },
  { method: 'GET', path: '/restapis/{restapi_id}/stages/{stage_name}', operation: 'GetStage' },
  { method: 'PATCH', path: '/restapis/{restapi_id}/stages/{stage_name}', operation: 'UpdateStage' },
  { method: 'GET', path: '/restapis/{restapi_id}/deployments', operation: 'GetDeployments' },
];

function apiOutput(api: RestApiModel) {
  return {
    id: api.id,
    name: api.name,
    description: api.description,
    createdDate: dateOf(api.createdAt),
    apiKeySource: 'HEADER',
    endpointConfiguration: { types: ['REGIONAL'] },
    tags: api.tags,
    disableExecuteApiEndpoint: false,
    rootResourceId: 'r00tr3s0ur',
  };
}

function stageOutput(stage: StageModel) {
  return {
    deploymentId: stage.deploymentId,
    stageName: stage.name,
    cacheClusterEnabled: false,
    cacheClusterStatus: 'NOT_AVAILABLE',
    methodSettings: {},
    tracingEnabled: true,
    tags: stage.tags,
    createdDate: dateOf(stage.createdAt),
    lastUpdatedDate: dateOf(stage.lastUpdatedAt),
  };
}

function limitOf(query: URLSearchParams): number {
  const raw = query.get('limit');
  const limit = raw === null ? 25 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw new AwsError('BadRequestException', `limit must be between 1 and 500, not ${raw}`);
  return limit;
}

export function apiGatewayService(account: AwsAccount): ServiceDefinition {
  const model = account.apiGateway;
  const apiOf = (call: AwsCall) => {
    const id = call.pathParameters.restapi_id ?? '';
    const api = model.apis.get(id);
    if (!api)
      throw new AwsError(
        'NotFoundException',
        `Invalid API identifier specified ${account.accountId}:${id}`,
        404,
      );
    return api;
  };
  const stageOf = (call: AwsCall, api: RestApiModel) => {
    const stage = api.stages.get(call.pathParameters.stage_name ?? '');
    if (!stage) throw new AwsError('NotFoundException', 'Invalid Stage identifier specified', 404);
    return stage;
  };
  return {
    name: 'apigateway',
    protocol: 'rest-json',
    routes: ROUTES,
    handle(call: AwsCall) {
      switch (call.operation) {
        case 'GetRestApis': {
          const { items, next } = page(
            [...model.apis.values()],
            call.query.get('position') ?? undefined,
            limitOf(call.query),
            'apigateway:apis',
            'BadRequestException',
          );
          return { body: { item: items.map(apiOutput), ...(next ? { position: next } : {}) } };
        }
        case 'GetRestApi':
          return { body: apiOutput(apiOf(call)) };
        case 'GetStages':
          return { body: { item: [...apiOf(call).stages.values()].map(stageOutput) } };
        case 'GetStage': {
          const api = apiOf(call);
          return { body: stageOutput(stageOf(call, api)) };
        }
        case 'GetDeployments': {
          const api = apiOf(call);
          const deployments = [...api.deployments].sort((a, b) => b.createdAt - a.createdAt);
          const { items, next } = page(
            deployments,
            call.query.get('position') ?? undefined,
            limitOf(call.query),
            `apigateway:deployments:${api.id}`,
            'BadRequestException',
          );
          return {
            body: {
              item: items.map((deployment) => ({
                id: deployment.id,
                description: deployment.description,
                createdDate: dateOf(deployment.createdAt),
              })),
              ...(next ? { position: next } : {}),
            },
          };
        }
        case 'UpdateStage': {
          const api = apiOf(call);
          const stage = stageOf(call, api);
          const operations = Array.isArray(call.input.patchOperations)
            ? (call.input.patchOperations as Array<{ op?: string; path?: string; value?: string }>)
            : [];
          for (const operation of operations) {
            if (operation.op !== 'replace' || operation.path !== '/deploymentId')
              throw new AwsError(
                'BadRequestException',
                `Invalid patch path ${operation.path} (the simulated account patches replace /deploymentId)`,
              );
            const target = model.deployment(api, String(operation.value ?? ''));
            if (!target)
              throw new AwsError('BadRequestException', `Deployment id ${operation.value} does not exist`);
            const before = stage.deploymentId;
            model.serve(stage, target.id, call.now);
            account.note(
              `apigateway: UpdateStage ${api.name}/${stage.name} deployment ${before} → ${target.id}`,
            );
          }
          return { body: stageOutput(stage) };
        }
        default:
          return undefined;
      }
    },
  };
}

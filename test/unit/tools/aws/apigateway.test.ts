import {
  APIGatewayClient,
  ConflictException,
  GetDeploymentsCommand,
  GetRestApisCommand,
  GetStageCommand,
  NotFoundException,
  UpdateStageCommand,
} from '@aws-sdk/client-api-gateway';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type {
  RollbackStageOutput,
  StageStatusOutput,
} from '../../../../functions/tools/declarations/aws/apigateway.ts';
import { awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const apiGateway = mockClient(APIGatewayClient);
const cloudWatch = mockClient(CloudWatchClient);
const tools = awsToolset();

const hoursAgo = (hours: number) => new Date(NOW.getTime() - hours * 3_600_000);
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

function apiExists() {
  // GetRestApis pages with `position`.
  apiGateway
    .on(GetRestApisCommand)
    .resolvesOnce({
      items: [{ id: 'k2j3h4g5f6', name: 'payments', createdDate: hoursAgo(9_000) }],
      position: 'page-2',
    })
    .resolvesOnce({ items: [{ id: 'a1b2c3d4e5', name: 'orders-api', createdDate: hoursAgo(8_000) }] });
  apiGateway.on(GetStageCommand).resolves({
    stageName: 'prod',
    deploymentId: 'dep333',
    createdDate: hoursAgo(8_000),
    lastUpdatedDate: hoursAgo(1),
    tracingEnabled: true,
    tags: { team: 'orders' },
  });
  apiGateway.on(GetDeploymentsCommand).resolves({
    items: [
      { id: 'dep111', description: 'release 41', createdDate: hoursAgo(300) },
      { id: 'dep333', description: 'release 43', createdDate: hoursAgo(1) },
      { id: 'dep222', description: 'release 42', createdDate: hoursAgo(48) },
    ],
  });
}

beforeEach(() => {
  apiGateway.reset();
  cloudWatch.reset();
});

describe('apigateway.stage-status', () => {
  it('finds the API by name across pages and reads the stage, its deployments and its recent errors', async () => {
    apiExists();
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'm0',
          StatusCode: 'Complete',
          Timestamps: [minutesAgo(2), minutesAgo(1)],
          Values: [900, 1_100],
        },
        { Id: 'm1', StatusCode: 'Complete', Timestamps: [minutesAgo(2), minutesAgo(1)], Values: [40, 60] },
        { Id: 'm2', StatusCode: 'Complete', Timestamps: [minutesAgo(1)], Values: [12] },
        { Id: 'm3', StatusCode: 'Complete', Timestamps: [minutesAgo(2), minutesAgo(1)], Values: [120, 180] },
        { Id: 'm4', StatusCode: 'Complete', Timestamps: [minutesAgo(2), minutesAgo(1)], Values: [300, 410] },
      ],
    });

    const output = (await tools.run('apigateway.stage-status', {
      restApi: 'orders-api',
      stage: 'prod',
    })) as StageStatusOutput;

    expect(apiGateway.commandCalls(GetRestApisCommand).map((call) => call.args[0].input)).toEqual([
      { limit: 500, position: undefined },
      { limit: 500, position: 'page-2' },
    ]);
    expect(output).toEqual({
      restApiId: 'a1b2c3d4e5',
      apiName: 'orders-api',
      stage: 'prod',
      deploymentId: 'dep333',
      deploymentCreatedAt: hoursAgo(1).toISOString(),
      deploymentMinutesAgo: 60,
      previousDeploymentId: 'dep222',
      newerDeployments: 0,
      stageLastUpdatedAt: hoursAgo(1).toISOString(),
      stageUpdatedMinutesAgo: 60,
      canaryDeploymentId: null,
      canaryPercentTraffic: null,
      deployments: [
        { id: 'dep333', createdAt: hoursAgo(1).toISOString(), description: 'release 43' },
        { id: 'dep222', createdAt: hoursAgo(48).toISOString(), description: 'release 42' },
        { id: 'dep111', createdAt: hoursAgo(300).toISOString(), description: 'release 41' },
      ],
      lookbackMinutes: 15,
      requests: 2_000,
      errors5xx: 100,
      errors4xx: 12,
      errorRate5xxPercent: 5,
      latencyAverageMs: 150,
      latencyP90Ms: 410,
    });
    const queries = cloudWatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries!;
    expect(queries[1]?.MetricStat).toMatchObject({
      Metric: {
        Namespace: 'AWS/ApiGateway',
        MetricName: '5XXError',
        Dimensions: [
          { Name: 'ApiName', Value: 'orders-api' },
          { Name: 'Stage', Value: 'prod' },
        ],
      },
      Stat: 'Sum',
    });
  });

  it('counts the deployments newer than the one a rolled-back stage serves', async () => {
    apiExists();
    apiGateway.on(GetStageCommand).resolves({
      stageName: 'prod',
      deploymentId: 'dep222',
      lastUpdatedDate: minutesAgo(4),
    });
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });

    const output = (await tools.run('apigateway.stage-status', {
      restApi: 'orders-api',
      stage: 'prod',
    })) as StageStatusOutput;

    expect(output).toMatchObject({
      deploymentId: 'dep222',
      previousDeploymentId: 'dep111',
      newerDeployments: 1,
      stageUpdatedMinutesAgo: 4,
      requests: 0,
      errorRate5xxPercent: null,
    });
  });

  it('refuses a name two APIs share, and is NotFound for one none has', async () => {
    apiGateway.on(GetRestApisCommand).resolves({
      items: [
        { id: 'a1b2c3d4e5', name: 'orders-api' },
        { id: 'z9y8x7w6v5', name: 'orders-api' },
      ],
    });
    const shared = await rejectionOf(
      tools.run('apigateway.stage-status', { restApi: 'orders-api', stage: 'prod' }),
    );
    expect(shared.message).toContain('2 REST APIs are named orders-api');
    expect(shared.message).toContain('pass the id instead');

    const none = await rejectionOf(
      tools.run('apigateway.stage-status', { restApi: 'ordres-api', stage: 'prod' }),
    );
    expect(none.name).toBe('Tool.NotFound');

    apiGateway
      .on(GetStageCommand)
      .rejects(new NotFoundException({ message: 'Invalid stage identifier specified', $metadata: {} }));
    const stage = await rejectionOf(
      tools.run('apigateway.stage-status', { restApi: 'a1b2c3d4e5', stage: 'prd' }),
    );
    expect(stage.name).toBe('Tool.NotFound');
  });
});

describe('apigateway.rollback-stage', () => {
  it('points the stage at the deployment before its current one, and back as its compensation', async () => {
    // Prepare
    apiExists();
    apiGateway.on(UpdateStageCommand).resolves({ stageName: 'prod', deploymentId: 'dep222' });

    // Act
    const output = (await tools.run('apigateway.rollback-stage', {
      restApi: 'orders-api',
      stage: 'prod',
    })) as RollbackStageOutput;
    // AWS now serves dep222 from the stage (one page of APIs this time).
    apiGateway.on(GetRestApisCommand).resolves({ items: [{ id: 'a1b2c3d4e5', name: 'orders-api' }] });
    apiGateway
      .on(GetStageCommand)
      .resolves({ stageName: 'prod', deploymentId: 'dep222', lastUpdatedDate: NOW });
    const inverse = await tools.runInverse('apigateway.rollback-stage', {
      parameters: { restApi: 'orders-api', stage: 'prod' },
      output,
    });

    // Assess
    expect(output).toEqual({
      restApiId: 'a1b2c3d4e5',
      stage: 'prod',
      previousDeploymentId: 'dep333',
      deploymentId: 'dep222',
      deploymentCreatedAt: hoursAgo(48).toISOString(),
      unchanged: false,
      dryRun: false,
    });
    expect(inverse.parameters).toEqual({
      restApi: 'orders-api',
      stage: 'prod',
      targetDeploymentId: 'dep333',
    });
    expect(inverse.output).toMatchObject({
      previousDeploymentId: 'dep222',
      deploymentId: 'dep333',
      unchanged: false,
    });
    expect(
      apiGateway.commandCalls(UpdateStageCommand).map((call) => call.args[0].input.patchOperations),
    ).toEqual([
      [{ op: 'replace', path: '/deploymentId', value: 'dep222' }],
      [{ op: 'replace', path: '/deploymentId', value: 'dep333' }],
    ]);
    expect(apiGateway.commandCalls(UpdateStageCommand)[0]?.args[0].input).toMatchObject({
      restApiId: 'a1b2c3d4e5',
      stageName: 'prod',
    });
  });

  it('dry run changes nothing; no older deployment is Refused; a concurrent update is retried', async () => {
    apiExists();
    const dry = (await tools.run(
      'apigateway.rollback-stage',
      { restApi: 'orders-api', stage: 'prod' },
      testContext({ dryRun: true }),
    )) as RollbackStageOutput;
    expect(dry).toMatchObject({ previousDeploymentId: 'dep333', deploymentId: 'dep222', dryRun: true });
    expect(apiGateway.commandCalls(UpdateStageCommand)).toHaveLength(0);

    apiGateway.reset();
    apiGateway.on(GetRestApisCommand).resolves({ items: [{ id: 'a1b2c3d4e5', name: 'orders-api' }] });
    apiGateway.on(GetStageCommand).resolves({ stageName: 'prod', deploymentId: 'dep111' });
    apiGateway.on(GetDeploymentsCommand).resolves({ items: [{ id: 'dep111', createdDate: hoursAgo(300) }] });
    const first = await rejectionOf(
      tools.run('apigateway.rollback-stage', { restApi: 'orders-api', stage: 'prod' }),
    );
    expect(first.name).toBe('Tool.Refused');
    expect(first.message).toContain('no deployment was created before it');

    apiGateway.on(GetDeploymentsCommand).resolves({
      items: [
        { id: 'dep111', createdDate: hoursAgo(300) },
        { id: 'dep000', createdDate: hoursAgo(400) },
      ],
    });
    apiGateway.on(UpdateStageCommand).rejects(
      new ConflictException({
        message: 'Unable to complete operation due to concurrent modification.',
        $metadata: {},
      }),
    );
    expect(
      (await rejectionOf(tools.run('apigateway.rollback-stage', { restApi: 'orders-api', stage: 'prod' })))
        .name,
    ).toBe('Tool.Throttled');
  });
});

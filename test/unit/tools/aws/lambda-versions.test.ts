import {
  type FunctionConfiguration,
  GetAliasCommand,
  GetFunctionCommand,
  LambdaClient,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
  PreconditionFailedException,
  ResourceNotFoundException,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type {
  AliasRollbackOutput,
  DescribeFunctionOutput,
} from '../../../../functions/tools/declarations/aws/lambda.ts';
import { awsToolset, rejectionOf, testContext } from './tool-context.ts';

const lambda = mockClient(LambdaClient);
const tools = awsToolset();

const ACCOUNT = '555555555555';
const FUNCTION_ARN = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-api`;

function version(number: string, lastModified: string, description = ''): FunctionConfiguration {
  return {
    FunctionName: 'orders-api',
    FunctionArn: `${FUNCTION_ARN}:${number}`,
    Runtime: 'nodejs20.x',
    Version: number,
    LastModified: lastModified,
    Description: description,
    State: 'Active',
  };
}

/** ListVersionsByFunction answers $LATEST first, then versions in ascending order, 50 at most a page. */
function versionsExist(...pages: FunctionConfiguration[][]) {
  const stub = lambda.on(ListVersionsByFunctionCommand);
  pages.forEach((page, index) => {
    stub.resolvesOnce({
      Versions: page,
      ...(index < pages.length - 1 ? { NextMarker: `page-${index + 2}` } : {}),
    });
  });
}

beforeEach(() => lambda.reset());

describe('lambda.describe', () => {
  it('reads the function, its versions across pages (newest first) and its aliases', async () => {
    lambda.on(GetFunctionCommand).resolves({
      Configuration: {
        FunctionName: 'orders-api',
        FunctionArn: FUNCTION_ARN,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Timeout: 10,
        MemorySize: 512,
        LastModified: '2026-11-25T09:12:44.000+0000',
        Version: '$LATEST',
        State: 'Active',
        LastUpdateStatus: 'Successful',
        PackageType: 'Zip',
        Architectures: ['arm64'],
        LoggingConfig: { LogFormat: 'JSON', LogGroup: '/shared/orders-logs' },
      },
      Code: {
        RepositoryType: 'S3',
        Location: 'https://awslambda-eu-west-1-tasks.s3.eu-west-1.amazonaws.com/snapshots/x',
      },
      Concurrency: { ReservedConcurrentExecutions: 50 },
    });
    versionsExist(
      [version('$LATEST', '2026-11-25T09:12:44.000+0000'), version('1', '2026-10-01T08:00:00.000+0000')],
      [
        version('2', '2026-11-20T08:00:00.000+0000', 'release 2026.11.20'),
        version('3', '2026-11-25T09:12:44.000+0000', 'release 2026.11.25'),
      ],
    );
    lambda.on(ListAliasesCommand).resolves({
      Aliases: [
        {
          AliasArn: `${FUNCTION_ARN}:live`,
          Name: 'live',
          FunctionVersion: '3',
          RoutingConfig: { AdditionalVersionWeights: { '2': 0.1 } },
          RevisionId: 'f0e1d2c3-0000-4000-8000-000000000001',
        },
      ],
    });

    const output = (await tools.run('lambda.describe', {
      functionName: 'orders-api',
      alias: 'live',
    })) as DescribeFunctionOutput;
    lambda.on(ListVersionsByFunctionCommand).resolves({ Versions: [] });
    const noSuchAlias = (await tools.run('lambda.describe', {
      functionName: 'orders-api',
      alias: 'canary',
    })) as DescribeFunctionOutput;

    expect(output).toEqual({
      functionName: 'orders-api',
      functionArn: FUNCTION_ARN,
      runtime: 'nodejs20.x',
      packageType: 'Zip',
      state: 'Active',
      stateReason: null,
      lastUpdateStatus: 'Successful',
      lastUpdateStatusReason: null,
      lastModified: '2026-11-25T09:12:44.000Z',
      lastModifiedMinutesAgo: 47,
      memorySizeMb: 512,
      timeoutSeconds: 10,
      architectures: ['arm64'],
      reservedConcurrency: 50,
      logGroupName: '/shared/orders-logs',
      versionCount: 3,
      versions: [
        { version: '3', lastModified: '2026-11-25T09:12:44.000Z', description: 'release 2026.11.25' },
        { version: '2', lastModified: '2026-11-20T08:00:00.000Z', description: 'release 2026.11.20' },
        { version: '1', lastModified: '2026-10-01T08:00:00.000Z', description: '' },
      ],
      aliases: [{ name: 'live', functionVersion: '3', additionalVersionWeights: { '2': 0.1 } }],
      alias: {
        name: 'live',
        functionVersion: '3',
        additionalVersionWeights: { '2': 0.1 },
        functionVersionPublishedAt: '2026-11-25T09:12:44.000Z',
        functionVersionMinutesAgo: 47,
        previousVersion: '2',
      },
    });
    expect(noSuchAlias.alias).toBeNull();
    expect(lambda.commandCalls(ListVersionsByFunctionCommand)[1]?.args[0].input).toEqual({
      FunctionName: 'orders-api',
      Marker: 'page-2',
      MaxItems: 50,
    });
  });

  it('is NotFound for an unknown function', async () => {
    lambda
      .on(GetFunctionCommand)
      .rejects(
        new ResourceNotFoundException({ message: `Function not found: ${FUNCTION_ARN}x`, $metadata: {} }),
      );
    expect((await rejectionOf(tools.run('lambda.describe', { functionName: 'orders-apix' }))).name).toBe(
      'Tool.NotFound',
    );
  });
});

describe('lambda.alias-rollback', () => {
  const alias = (functionVersion: string, weights?: Record<string, number>) => ({
    AliasArn: `${FUNCTION_ARN}:live`,
    Name: 'live',
    FunctionVersion: functionVersion,
    Description: '',
    ...(weights ? { RoutingConfig: { AdditionalVersionWeights: weights } } : {}),
    RevisionId: 'f0e1d2c3-0000-4000-8000-000000000001',
  });

  it('points the alias to the published version before its current one, and back as its compensation', async () => {
    // Prepare
    lambda.on(GetAliasCommand).resolvesOnce(alias('12')).resolves(alias('11'));
    versionsExist(
      [version('$LATEST', '2026-11-25T09:00:00.000+0000'), version('9', '2026-11-01T00:00:00.000+0000')],
      [version('11', '2026-11-20T00:00:00.000+0000'), version('12', '2026-11-25T09:00:00.000+0000')],
    );
    // The inverse checks that version 12 exists: a third listing.
    lambda.on(ListVersionsByFunctionCommand).resolves({
      Versions: [
        version('11', '2026-11-20T00:00:00.000+0000'),
        version('12', '2026-11-25T09:00:00.000+0000'),
      ],
    });
    lambda.on(UpdateAliasCommand).resolves(alias('11'));

    // Act
    const output = (await tools.run('lambda.alias-rollback', {
      functionName: 'orders-api',
      alias: 'live',
    })) as AliasRollbackOutput;
    const inverse = await tools.runInverse('lambda.alias-rollback', {
      parameters: { functionName: 'orders-api', alias: 'live' },
      output,
    });

    // Assess
    expect(output).toEqual({
      functionName: 'orders-api',
      alias: 'live',
      previousVersion: '12',
      previousAdditionalVersionWeights: {},
      newVersion: '11',
      additionalVersionWeights: {},
      how: 'version 11, the published version before 12',
      unchanged: false,
      dryRun: false,
    });
    expect(inverse.parameters).toEqual({
      functionName: 'orders-api',
      alias: 'live',
      targetVersion: '12',
      additionalVersionWeights: {},
    });
    expect(lambda.commandCalls(UpdateAliasCommand).map((call) => call.args[0].input)).toEqual([
      {
        FunctionName: 'orders-api',
        Name: 'live',
        FunctionVersion: '11',
        RoutingConfig: { AdditionalVersionWeights: {} },
        RevisionId: 'f0e1d2c3-0000-4000-8000-000000000001',
      },
      {
        FunctionName: 'orders-api',
        Name: 'live',
        FunctionVersion: '12',
        RoutingConfig: { AdditionalVersionWeights: {} },
        RevisionId: 'f0e1d2c3-0000-4000-8000-000000000001',
      },
    ]);
  });

  it('cuts a canary off: all traffic to the alias’s main version, weights restored by the inverse', async () => {
    lambda.on(GetAliasCommand).resolves(alias('7', { '8': 0.1 }));
    lambda.on(UpdateAliasCommand).resolves(alias('7'));

    const output = (await tools.run('lambda.alias-rollback', {
      functionName: 'orders-api',
      alias: 'live',
    })) as AliasRollbackOutput;

    expect(output).toMatchObject({
      previousVersion: '7',
      previousAdditionalVersionWeights: { '8': 0.1 },
      newVersion: '7',
      additionalVersionWeights: {},
      how: 'canary cut off: all traffic to version 7 (it sent 10% to version 8)',
      unchanged: false,
    });
    expect(lambda.commandCalls(ListVersionsByFunctionCommand)).toHaveLength(0);

    lambda.reset();
    lambda.on(GetAliasCommand).resolves(alias('7'));
    lambda
      .on(ListVersionsByFunctionCommand)
      .resolves({ Versions: [version('7', '2026-11-01T00:00:00.000+0000')] });
    lambda.on(UpdateAliasCommand).resolves(alias('7', { '8': 0.1 }));
    await tools.runInverse('lambda.alias-rollback', {
      parameters: { functionName: 'orders-api', alias: 'live' },
      output,
    });
    expect(lambda.commandCalls(UpdateAliasCommand)[0]?.args[0].input).toMatchObject({
      FunctionVersion: '7',
      RoutingConfig: { AdditionalVersionWeights: { '8': 0.1 } },
    });
  });

  it('refuses when no older version exists, and NotFound for a target version the function lacks', async () => {
    lambda.on(GetAliasCommand).resolves(alias('1'));
    lambda.on(ListVersionsByFunctionCommand).resolves({
      Versions: [
        version('$LATEST', '2026-11-25T09:00:00.000+0000'),
        version('1', '2026-11-25T09:00:00.000+0000'),
      ],
    });
    const first = await rejectionOf(
      tools.run('lambda.alias-rollback', { functionName: 'orders-api', alias: 'live' }),
    );
    expect(first.name).toBe('Tool.Refused');
    expect(first.message).toContain('no published version is older');

    const missing = await rejectionOf(
      tools.run('lambda.alias-rollback', { functionName: 'orders-api', alias: 'live', targetVersion: '4' }),
    );
    expect(missing.name).toBe('Tool.NotFound');
    expect(lambda.commandCalls(UpdateAliasCommand)).toHaveLength(0);
  });

  it('dry run changes nothing; a concurrent change of the alias is retried as Throttled', async () => {
    lambda.on(GetAliasCommand).resolves(alias('12'));
    lambda.on(ListVersionsByFunctionCommand).resolves({
      Versions: [
        version('11', '2026-11-20T00:00:00.000+0000'),
        version('12', '2026-11-25T09:00:00.000+0000'),
      ],
    });
    const dry = (await tools.run(
      'lambda.alias-rollback',
      { functionName: 'orders-api', alias: 'live' },
      testContext({ dryRun: true }),
    )) as AliasRollbackOutput;
    expect(dry).toMatchObject({ previousVersion: '12', newVersion: '11', dryRun: true });
    expect(lambda.commandCalls(UpdateAliasCommand)).toHaveLength(0);

    lambda.on(UpdateAliasCommand).rejects(
      new PreconditionFailedException({
        message: 'The RevisionId provided does not match the latest RevisionId.',
        $metadata: {},
      }),
    );
    expect(
      (await rejectionOf(tools.run('lambda.alias-rollback', { functionName: 'orders-api', alias: 'live' })))
        .name,
    ).toBe('Tool.Throttled');
  });
});

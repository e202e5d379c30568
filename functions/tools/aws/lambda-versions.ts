import {
  type AliasConfiguration,
  type FunctionConfiguration,
  GetAliasCommand,
  GetFunctionCommand,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type {
  AliasRollbackOutput,
  DescribedAliasOutput,
  DescribeFunctionOutput,
} from '../declarations/aws/lambda.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { callAws } from './errors.ts';
import { keepHead } from './output.ts';

/** Lambda's published versions and aliases: describe, and pointing an alias back. */

const MAX_PAGES = 50;
const VERSIONS_KEPT = 10;
const ALIASES_KEPT = 20;

/** Lambda's `2026-11-25T09:12:44.000+0000` as ISO-8601; null when absent or unreadable. */
export function lambdaTime(text: string | undefined): string | null {
  if (!text) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The function's name from a name, a partial ARN or a full ARN (with or without a qualifier). */
export function functionNameOf(nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? (nameOrArn.split(':')[6] ?? nameOrArn) : nameOrArn;
}

/** The log group a function writes to: its LoggingConfig's, else Lambda's default. */
export function logGroupOf(configuration: FunctionConfiguration | undefined, functionName: string): string {
  return (
    configuration?.LoggingConfig?.LogGroup ||
    `/aws/lambda/${configuration?.FunctionName ?? functionNameOf(functionName)}`
  );
}

/** Every published version (not $LATEST), the newest first. */
async function publishedVersions(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  functionName: string,
  region: string | undefined,
): Promise<FunctionConfiguration[]> {
  const versions: FunctionConfiguration[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await callAws(
      { tool, action: 'lambda:ListVersionsByFunction', resource: `function ${functionName}`, region },
      context,
      (abortSignal) =>
        deps.clients
          .lambda(region)
          .send(
            new ListVersionsByFunctionCommand({ FunctionName: functionName, Marker: marker, MaxItems: 50 }),
            {
              abortSignal,
            },
          ),
    );
    versions.push(...(page.Versions ?? []).filter((version) => /^\d+$/.test(version.Version ?? '')));
    marker = page.NextMarker || undefined;
    pages += 1;
  } while (marker && pages < MAX_PAGES);
  return versions.sort((a, b) => Number(b.Version) - Number(a.Version));
}

async function aliasesOf(
  deps: AwsToolDeps,
  context: ToolContext,
  tool: string,
  functionName: string,
  region: string | undefined,
): Promise<AliasConfiguration[]> {
  const aliases: AliasConfiguration[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await callAws(
      { tool, action: 'lambda:ListAliases', resource: `function ${functionName}`, region },
      context,
      (abortSignal) =>
        deps.clients
          .lambda(region)
          .send(new ListAliasesCommand({ FunctionName: functionName, Marker: marker, MaxItems: 50 }), {
            abortSignal,
          }),
    );
    aliases.push(...(page.Aliases ?? []));
    marker = page.NextMarker || undefined;
    pages += 1;
  } while (marker && pages < MAX_PAGES && aliases.length < ALIASES_KEPT);
  return aliases;
}

function minutesSince(iso: string | null, now: number): number | null {
  return iso === null ? null : Math.max(0, Math.floor((now - new Date(iso).getTime()) / 60_000));
}

/** An alias with when its version was published and the version before it (versions: newest first). */
function describedAlias(
  alias: AliasConfiguration,
  versions: readonly FunctionConfiguration[],
  now: number,
): DescribedAliasOutput {
  const current = alias.FunctionVersion ?? '$LATEST';
  const published = versions.find((version) => version.Version === current);
  const publishedAt = lambdaTime(published?.LastModified);
  const before = /^\d+$/.test(current)
    ? versions.find((version) => Number(version.Version) < Number(current))
    : undefined;
  return {
    name: alias.Name ?? '',
    functionVersion: current,
    additionalVersionWeights: weightsOf(alias),
    functionVersionPublishedAt: publishedAt,
    functionVersionMinutesAgo: minutesSince(publishedAt, now),
    previousVersion: before?.Version ?? null,
  };
}

function weightsOf(alias: AliasConfiguration | undefined): Record<string, number> {
  return { ...(alias?.RoutingConfig?.AdditionalVersionWeights ?? {}) };
}

export function describeFunctionTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('lambda.describe');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const { functionName } = parameters;
    const response = await callAws(
      { tool, action: 'lambda:GetFunction', resource: `function ${functionName}`, region },
      context,
      (abortSignal) =>
        deps.clients
          .lambda(region)
          .send(new GetFunctionCommand({ FunctionName: functionName }), { abortSignal }),
    );
    const configuration = response.Configuration;
    const [versions, aliases] = await Promise.all([
      publishedVersions(deps, context, tool, functionName, region),
      aliasesOf(deps, context, tool, functionName, region),
    ]);
    const now = deps.runtime.clock.now().getTime();
    const named = parameters.alias ? aliases.find((alias) => alias.Name === parameters.alias) : undefined;
    const output: DescribeFunctionOutput = {
      functionName: configuration?.FunctionName ?? functionNameOf(functionName),
      functionArn: configuration?.FunctionArn ?? functionName,
      runtime: configuration?.Runtime ?? null,
      packageType: configuration?.PackageType ?? null,
      state: configuration?.State ?? null,
      stateReason: configuration?.StateReason ? keepHead(configuration.StateReason, 300) : null,
      lastUpdateStatus: configuration?.LastUpdateStatus ?? null,
      lastUpdateStatusReason: configuration?.LastUpdateStatusReason
        ? keepHead(configuration.LastUpdateStatusReason, 300)
        : null,
      lastModified: lambdaTime(configuration?.LastModified),
      lastModifiedMinutesAgo: minutesSince(lambdaTime(configuration?.LastModified), now),
      memorySizeMb: configuration?.MemorySize ?? null,
      timeoutSeconds: configuration?.Timeout ?? null,
      architectures: configuration?.Architectures ?? [],
      reservedConcurrency: response.Concurrency?.ReservedConcurrentExecutions ?? null,
      logGroupName: logGroupOf(configuration, functionName),
      versionCount: versions.length,
      versions: versions.slice(0, VERSIONS_KEPT).map((version) => ({
        version: version.Version ?? '',
        lastModified: lambdaTime(version.LastModified),
        description: keepHead(version.Description ?? '', 200),
      })),
      aliases: aliases.slice(0, ALIASES_KEPT).map((alias) => ({
        name: alias.Name ?? '',
        functionVersion: alias.FunctionVersion ?? '',
        additionalVersionWeights: weightsOf(alias),
      })),
      alias: named ? describedAlias(named, versions, now) : null,
    };
    return output;
  });
}

function sameWeights(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((key) => a[key] === b[key]);
}

function describeWeights(weights: Record<string, number>): string {
  return Object.entries(weights)
    .map(([version, weight]) => `${Math.round(weight * 1000) / 10}% to version ${version}`)
    .join(', ');
}

export function aliasRollbackTool(deps: AwsToolDeps): ToolImplementation {
  const declaration = declarationOf('lambda.alias-rollback');
  return defineTool(declaration, async (parameters, context) => {
    const region = regionOf(deps, parameters);
    const tool = declaration.name;
    const { functionName, alias: aliasName } = parameters;
    const where = `alias ${aliasName} of function ${functionName} in ${region ?? 'the default region'}`;
    const alias = await callAws(
      { tool, action: 'lambda:GetAlias', resource: `alias ${aliasName} of function ${functionName}`, region },
      context,
      (abortSignal) =>
        deps.clients
          .lambda(region)
          .send(new GetAliasCommand({ FunctionName: functionName, Name: aliasName }), { abortSignal }),
    );
    const current = alias.FunctionVersion ?? '$LATEST';
    const currentWeights = weightsOf(alias);

    let target: string;
    let targetWeights: Record<string, number>;
    let how: string;
    if (parameters.targetVersion !== undefined) {
      target = parameters.targetVersion;
      targetWeights = { ...(parameters.additionalVersionWeights ?? {}) };
      if (target !== '$LATEST') {
        const versions = await publishedVersions(deps, context, tool, functionName, region);
        if (!versions.some((version) => version.Version === target)) {
          throw new ToolError(
            ToolErrorKind.NotFound,
            `${tool}: function ${functionName} has no published version ${target} in ${region ?? 'the default region'}; name a version it has`,
            { data: { targetVersion: target } },
          );
        }
      }
      how = `version ${target} as the step asked`;
    } else if (Object.keys(currentWeights).length > 0) {
      // A weighted alias is a canary in progress: rolling back sends all traffic to its main version.
      target = current;
      targetWeights = {};
      how = `canary cut off: all traffic to version ${current} (it sent ${describeWeights(currentWeights)})`;
    } else {
      if (!/^\d+$/.test(current)) {
        throw new ToolError(
          ToolErrorKind.Refused,
          `${tool}: ${where} points to ${current}, which has no version before it; name a targetVersion`,
        );
      }
      const earlier = (await publishedVersions(deps, context, tool, functionName, region)).find(
        (version) => Number(version.Version) < Number(current),
      );
      if (!earlier?.Version) {
        throw new ToolError(
          ToolErrorKind.Refused,
          `${tool}: ${where} points to version ${current}, and no published version is older; there is nothing to roll back to`,
        );
      }
      target = earlier.Version;
      targetWeights = {};
      how = `version ${target}, the published version before ${current}`;
    }
    const output: AliasRollbackOutput = {
      functionName,
      alias: aliasName,
      previousVersion: current,
      previousAdditionalVersionWeights: currentWeights,
      newVersion: target,
      additionalVersionWeights: targetWeights,
      how,
      unchanged: target === current && sameWeights(currentWeights, targetWeights),
      dryRun: context.dryRun,
    };
    if (context.dryRun || output.unchanged) return output;
    await callAws(
      {
        tool,
        action: 'lambda:UpdateAlias',
        resource: `alias ${aliasName} of function ${functionName}`,
        region,
      },
      context,
      (abortSignal) =>
        deps.clients.lambda(region).send(
          new UpdateAliasCommand({
            FunctionName: functionName,
            Name: aliasName,
            FunctionVersion: target,
            RoutingConfig: { AdditionalVersionWeights: targetWeights },
            // Fails if someone changed the alias since it was read, rather than overwrite their change.
            ...(alias.RevisionId ? { RevisionId: alias.RevisionId } : {}),
          }),
          { abortSignal },
        ),
    );
    context.log('pointed the alias back', { functionName, alias: aliasName, from: current, to: target });
    return output;
  });
}

export type { AliasRollbackOutput, DescribeFunctionOutput } from '../declarations/aws/lambda.ts';

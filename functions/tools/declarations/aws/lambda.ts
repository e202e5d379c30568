import * as z from 'zod';
import { touchesOne } from '../../../core/limits/blast-radius.ts';
import type { ToolDeclaration } from '../../../core/tool-catalog.ts';
import { awsRegion, dryRunFlag, isoTimestamp } from '../shared.ts';

/** Lambda tools beyond reserved concurrency (declarations/aws.ts) and event sources (aws/sqs.ts). */

const functionName = z.string().min(1).describe('function name or ARN (the FunctionName dimension)');
const versionNumber = z
  .string()
  .regex(/^(\$LATEST|\d+)$/, 'must be a published version number such as 12 (or $LATEST)');
const versionWeights = z
  .record(z.string().regex(/^\d+$/), z.number().min(0).max(1))
  .describe('additional version → share of traffic (a weighted alias)');

export const DEFAULT_ERROR_FILTER_PATTERN = '?ERROR ?Exception ?"Task timed out" ?"Error Type" ?errorType';

export const RecentErrorsOutput = z.object({
  functionName: z.string(),
  logGroupName: z.string(),
  logGroupFound: z.boolean().describe('false when the function has not logged yet (no log group)'),
  lookbackMinutes: z.number(),
  invocations: z.number().describe('Invocations in the window (sum)'),
  errors: z.number().describe('Errors in the window (sum)'),
  throttles: z.number().describe('Throttles in the window (sum)'),
  errorRatePercent: z.number().nullable().describe('errors of invocations; null without invocations'),
  matchedLogEvents: z.number().describe('log events that matched the filter (up to maxLogEvents)'),
  truncated: z.boolean().describe('more events matched than were read'),
  errorTypes: z
    .array(
      z.object({
        type: z
          .string()
          .describe(
            'errorType (e.g. TypeError), Timeout, Runtime.ExitError, the exception class, or Unclassified',
          ),
        count: z.number(),
        lastSeen: isoTimestamp,
        sample: z.string().describe('the latest message of this type, trimmed'),
      }),
    )
    .describe('the most frequent first, at most 10'),
});
export type RecentErrorsOutput = z.infer<typeof RecentErrorsOutput>;

export const AliasRollbackOutput = z.object({
  functionName: z.string(),
  alias: z.string(),
  previousVersion: z.string().describe('what the inverse restores'),
  previousAdditionalVersionWeights: versionWeights,
  newVersion: z.string(),
  additionalVersionWeights: versionWeights,
  how: z
    .string()
    .describe('which version was chosen and why (the version before, a canary cut off, or as asked)'),
  unchanged: z.boolean().describe('true when the alias already pointed there (nothing to undo)'),
  dryRun: dryRunFlag,
});
export type AliasRollbackOutput = z.infer<typeof AliasRollbackOutput>;

export const DescribedAliasOutput = z.object({
  name: z.string(),
  functionVersion: z.string().describe('the version the alias serves'),
  additionalVersionWeights: versionWeights,
  functionVersionPublishedAt: isoTimestamp.describe('when that version was published (its LastModified)'),
  functionVersionMinutesAgo: z
    .number()
    .nullable()
    .describe('whole minutes since that version was published; null when unknown (e.g. $LATEST)'),
  previousVersion: z
    .string()
    .nullable()
    .describe(
      'the published version before it (what lambda.alias-rollback serves when no canary runs); null when none',
    ),
});
export type DescribedAliasOutput = z.infer<typeof DescribedAliasOutput>;

export const DescribeFunctionOutput = z.object({
  functionName: z.string(),
  functionArn: z.string(),
  runtime: z.string().nullable().describe('null for container images'),
  packageType: z.string().nullable(),
  state: z.string().nullable().describe('Pending, Active, Inactive or Failed'),
  stateReason: z.string().nullable(),
  lastUpdateStatus: z.string().nullable().describe('Successful, Failed or InProgress'),
  lastUpdateStatusReason: z.string().nullable(),
  lastModified: isoTimestamp,
  lastModifiedMinutesAgo: z
    .number()
    .nullable()
    .describe('whole minutes since the function’s code or configuration last changed'),
  memorySizeMb: z.number().nullable(),
  timeoutSeconds: z.number().nullable(),
  architectures: z.array(z.string()),
  reservedConcurrency: z.number().nullable().describe('null: no reservation'),
  logGroupName: z.string(),
  versionCount: z.number().describe('published versions'),
  versions: z
    .array(z.object({ version: z.string(), lastModified: isoTimestamp, description: z.string() }))
    .describe('published versions, the newest first, at most 10'),
  aliases: z
    .array(
      z.object({ name: z.string(), functionVersion: z.string(), additionalVersionWeights: versionWeights }),
    )
    .describe('at most 20'),
  alias: DescribedAliasOutput.nullable().describe(
    'the alias the step named, with how recent its version is; null when none was named or the function has no such alias',
  ),
});
export type DescribeFunctionOutput = z.infer<typeof DescribeFunctionOutput>;

export const LAMBDA_TOOL_DECLARATIONS = [
  {
    name: 'lambda.describe',
    description:
      'Reads a Lambda function: runtime, state, last update, memory and timeout, reserved concurrency, its published versions and aliases (and, for an alias it names, how recent its version is).',
    parameters: z
      .object({
        functionName,
        alias: z
          .string()
          .min(1)
          .max(128)
          .optional()
          .describe('an alias to report on: its version, when that was published, and the version before'),
        region: awsRegion,
      })
      .strict(),
    output: DescribeFunctionOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the function (read-only tools run for real in dry-run)',
    permissions: { iam: ['lambda:GetFunction', 'lambda:ListVersionsByFunction', 'lambda:ListAliases'] },
  },
  {
    name: 'lambda.recent-errors',
    description:
      'Groups a Lambda function’s recent errors from its log group by type (errorType, timeouts, runtime exits, exceptions), with a sample of each, beside its Errors, Invocations and Throttles.',
    parameters: z
      .object({
        functionName,
        lookbackMinutes: z.number().int().min(1).max(1_440).default(30),
        filterPattern: z
          .string()
          .min(1)
          .max(1_024)
          .default(DEFAULT_ERROR_FILTER_PATTERN)
          .describe('CloudWatch Logs filter pattern of the lines that are errors'),
        maxLogEvents: z.number().int().min(1).max(5_000).default(1_000).describe('log events read at most'),
        region: awsRegion,
      })
      .strict(),
    output: RecentErrorsOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the logs and metrics (read-only tools run for real in dry-run)',
    permissions: {
      iam: ['lambda:GetFunctionConfiguration', 'logs:FilterLogEvents', 'cloudwatch:GetMetricData'],
    },
  },
  {
    name: 'lambda.alias-rollback',
    description:
      'Points a Lambda alias back: to the published version before its current one, or, while a weighted (canary) alias routes traffic to a new version, entirely to its main version; or to the version named.',
    parameters: z
      .object({
        functionName,
        alias: z.string().min(1).max(128),
        targetVersion: versionNumber
          .optional()
          .describe(
            'default: the version before the alias’s current one (or its main version during a canary)',
          ),
        additionalVersionWeights: versionWeights
          .optional()
          .describe('default: none (all traffic to the target)'),
        region: awsRegion,
      })
      .strict(),
    output: AliasRollbackOutput,
    mutating: true,
    blastRadius: touchesOne('function'),
    risk: 'medium',
    dryRun: 'reads the alias and versions and returns the version it would point to, changes nothing',
    compensation: {
      tool: 'lambda.alias-rollback',
      parameters: {
        functionName: '{{ parameters.functionName }}',
        alias: '{{ parameters.alias }}',
        targetVersion: '{{ output.previousVersion }}',
        additionalVersionWeights: '{{ output.previousAdditionalVersionWeights }}',
      },
      description: 'points the alias back to the version (and weights) it had',
      skipWhenOutput: 'unchanged',
    },
    onRepeat: {
      effect: 'repeats',
      how: 'without targetVersion it goes to the version before the current one: a second run rolls back one version more',
    },
    inspectWith: { tool: 'lambda.describe', parameters: { functionName: '{{ parameters.functionName }}' } },
    permissions: { iam: ['lambda:GetAlias', 'lambda:ListVersionsByFunction', 'lambda:UpdateAlias'] },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

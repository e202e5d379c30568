import * as z from 'zod';
import { touchesOne } from '../../../core/limits/blast-radius.ts';
import type { ToolDeclaration } from '../../../core/tool-catalog.ts';
import { awsRegion, dryRunFlag, isoTimestamp } from '../shared.ts';

/** API Gateway (REST APIs) tools. */

const restApi = z.string().min(1).describe('the REST API’s name (the ApiName dimension) or id');
const stage = z.string().min(1).max(128).describe('the stage name (the Stage dimension)');

export const DeploymentOutput = z.object({
  id: z.string(),
  createdAt: isoTimestamp,
  description: z.string().nullable(),
});

export const StageStatusOutput = z.object({
  restApiId: z.string(),
  apiName: z.string(),
  stage: z.string(),
  deploymentId: z.string().describe('the deployment the stage serves'),
  deploymentCreatedAt: isoTimestamp,
  deploymentMinutesAgo: z
    .number()
    .nullable()
    .describe('whole minutes since the deployment the stage serves was created; null when unknown'),
  previousDeploymentId: z
    .string()
    .nullable()
    .describe('the deployment created before the current one; null when there is none'),
  newerDeployments: z
    .number()
    .nullable()
    .describe(
      'deployments created after the one the stage serves: 0 when it serves the newest, at least 1 after a rollback; null when its deployment is unknown',
    ),
  stageLastUpdatedAt: isoTimestamp,
  stageUpdatedMinutesAgo: z
    .number()
    .nullable()
    .describe('whole minutes since the stage last changed (a deployment or a rollback points it anew)'),
  canaryDeploymentId: z.string().nullable().describe('a canary’s deployment, when the stage runs one'),
  canaryPercentTraffic: z.number().nullable(),
  deployments: z.array(DeploymentOutput).describe('the newest first, at most 10'),
  lookbackMinutes: z.number(),
  requests: z.number().describe('Count in the window (sum)'),
  errors5xx: z.number().describe('5XXError in the window (sum)'),
  errors4xx: z.number().describe('4XXError in the window (sum)'),
  errorRate5xxPercent: z.number().nullable().describe('5xx of requests; null without requests'),
  latencyAverageMs: z.number().nullable(),
  latencyP90Ms: z.number().nullable().describe('the latest p90 Latency'),
});
export type StageStatusOutput = z.infer<typeof StageStatusOutput>;

export const RollbackStageOutput = z.object({
  restApiId: z.string(),
  stage: z.string(),
  previousDeploymentId: z.string().describe('what the inverse restores'),
  deploymentId: z.string().describe('the deployment the stage serves now'),
  deploymentCreatedAt: isoTimestamp,
  unchanged: z.boolean().describe('true when the stage already served it (nothing to undo)'),
  dryRun: dryRunFlag,
});
export type RollbackStageOutput = z.infer<typeof RollbackStageOutput>;

export const APIGATEWAY_TOOL_DECLARATIONS = [
  {
    name: 'apigateway.stage-status',
    description:
      'Reads a REST API stage: the deployment it serves, the deployments before it, and its recent requests, 5xx and 4xx errors and latency.',
    parameters: z
      .object({
        restApi,
        stage,
        lookbackMinutes: z.number().int().min(1).max(1_440).default(15),
        region: awsRegion,
      })
      .strict(),
    output: StageStatusOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the stage (read-only tools run for real in dry-run)',
    permissions: { iam: ['apigateway:GET', 'cloudwatch:GetMetricData'] },
  },
  {
    name: 'apigateway.rollback-stage',
    description:
      'Points a REST API stage back to the deployment created before its current one (or to the deployment named); returns the one it served.',
    parameters: z
      .object({
        restApi,
        stage,
        targetDeploymentId: z
          .string()
          .regex(/^[A-Za-z0-9]+$/, 'must be a deployment id such as a1b2c3')
          .optional()
          .describe('default: the deployment created before the current one'),
        region: awsRegion,
      })
      .strict(),
    output: RollbackStageOutput,
    mutating: true,
    blastRadius: touchesOne('stage'),
    risk: 'medium',
    dryRun: 'reads the stage and deployments and returns the deployment it would serve, changes nothing',
    compensation: {
      tool: 'apigateway.rollback-stage',
      parameters: {
        restApi: '{{ parameters.restApi }}',
        stage: '{{ parameters.stage }}',
        targetDeploymentId: '{{ output.previousDeploymentId }}',
      },
      description: 'points the stage back to the deployment it served',
      skipWhenOutput: 'unchanged',
    },
    onRepeat: {
      effect: 'repeats',
      how: 'without targetDeploymentId it goes to the deployment before the current one: a second run rolls back one deployment more',
    },
    inspectWith: {
      tool: 'apigateway.stage-status',
      parameters: { restApi: '{{ parameters.restApi }}', stage: '{{ parameters.stage }}' },
    },
    permissions: { iam: ['apigateway:GET', 'apigateway:PATCH'] },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

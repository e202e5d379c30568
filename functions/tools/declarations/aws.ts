import * as z from 'zod';
import { touchesEachOf, touchesOne, touchesWhatItReads } from '../../core/limits/blast-radius.ts';
import type { ToolDeclaration } from '../../core/tool-catalog.ts';
import { APIGATEWAY_TOOL_DECLARATIONS } from './aws/apigateway.ts';
import { DYNAMODB_TOOL_DECLARATIONS } from './aws/dynamodb.ts';
import { AUTOSCALING_TOOL_DECLARATIONS, EC2_TOOL_DECLARATIONS } from './aws/ec2.ts';
import { ECS_TOOL_DECLARATIONS } from './aws/ecs.ts';
import { ELASTICACHE_TOOL_DECLARATIONS } from './aws/elasticache.ts';
import { ELBV2_TOOL_DECLARATIONS } from './aws/elbv2.ts';
import { LAMBDA_TOOL_DECLARATIONS } from './aws/lambda.ts';
import { RDS_TOOL_DECLARATIONS } from './aws/rds.ts';
import { SQS_TOOL_DECLARATIONS } from './aws/sqs.ts';
import { awsRegion, dryRunFlag, instanceIds, isoTimestamp, stringMap } from './shared.ts';

/**
 * Declarations of the AWS tools (functions/tools/aws): parameters, outputs, permissions. The first
 * tools are here; those of each further service are in aws/<service>.ts, listed here in README order.
 */

// ------------------------------------------------------------------------------------------- outputs

export const MetricDataOutput = z.object({
  namespace: z.string(),
  metricName: z.string(),
  dimensions: stringMap,
  stat: z.string(),
  periodSeconds: z.number(),
  datapoints: z
    .array(z.object({ timestamp: z.string(), value: z.number() }))
    .describe('oldest first; the newest 240 when there are more'),
  datapointCount: z.number().describe('datapoints in the window (may exceed datapoints.length)'),
  sum: z.number().describe('0 when there are no datapoints: CloudWatch emits nothing for a zero count'),
  average: z.number().nullable(),
  maximum: z.number().nullable(),
  minimum: z.number().nullable(),
  latest: z.number().nullable(),
  latestTimestamp: isoTimestamp,
});
export type MetricDataOutput = z.infer<typeof MetricDataOutput>;

export const LogsRow = z.record(z.string(), z.union([z.string(), z.number(), z.null()]));
export type LogsRow = z.infer<typeof LogsRow>;

export const LogsInsightsOutput = z.object({
  queryId: z.string(),
  status: z.literal('Complete'),
  rows: z.array(LogsRow).describe('one object per result row, keyed by the query’s field names'),
  statistics: z.object({ recordsMatched: z.number(), recordsScanned: z.number(), bytesScanned: z.number() }),
});
export type LogsInsightsOutput = z.infer<typeof LogsInsightsOutput>;

export const InvocationOutput = z.object({
  instanceId: z.string(),
  status: z.string().describe('Success, Failed, TimedOut, Cancelled'),
  statusDetails: z.string().describe('Success, Failed, Undeliverable, DeliveryTimedOut, ExecutionTimedOut…'),
  responseCode: z.number().describe('exit code of the script; -1 when it never ran'),
  output: z.string().describe('the end of stdout, trimmed'),
  error: z.string().describe('the end of stderr, trimmed'),
});
export type InvocationOutput = z.infer<typeof InvocationOutput>;

export const RunCommandOutput = z.object({
  commandId: z.string(),
  documentName: z.string(),
  invocations: z.array(InvocationOutput),
});
export type RunCommandOutput = z.infer<typeof RunCommandOutput>;

export const RunCommandDryRunOutput = z.object({
  dryRun: z.literal(true),
  commandId: z.null(),
  documentName: z.string(),
  instanceIds: z.array(z.string()),
  commands: z.array(z.string()),
  executionTimeoutSeconds: z.number(),
  invocations: z.tuple([]),
});
export type RunCommandDryRunOutput = z.infer<typeof RunCommandDryRunOutput>;

export const InstanceStatusOutput = z.object({
  instanceId: z.string(),
  state: z.string().describe('pending, running, shutting-down, terminated, stopping, stopped'),
  availabilityZone: z.string().nullable(),
  systemStatus: z.string().describe('ok, impaired, initializing, insufficient-data, not-applicable'),
  instanceStatus: z.string(),
  attachedEbsStatus: z.string(),
  events: z
    .array(z.object({ code: z.string(), description: z.string(), notBefore: isoTimestamp }))
    .describe('scheduled events still ahead'),
});
export type InstanceStatusOutput = z.infer<typeof InstanceStatusOutput>;

export const DescribeInstanceStatusOutput = z.object({
  instances: z.array(InstanceStatusOutput).describe('in the order the step named them'),
});
export type DescribeInstanceStatusOutput = z.infer<typeof DescribeInstanceStatusOutput>;

export const RebootInstancesOutput = z.object({
  instanceIds: z.array(z.string()),
  rebooted: z.boolean(),
  dryRun: dryRunFlag,
});
export type RebootInstancesOutput = z.infer<typeof RebootInstancesOutput>;

export const GroupInstanceOutput = z.object({
  instanceId: z.string(),
  lifecycleState: z.string().describe('Pending, InService, Terminating, Standby, Warmed:*…'),
  healthStatus: z.string().describe('Healthy or Unhealthy'),
  availabilityZone: z.string().nullable(),
});
export type GroupInstanceOutput = z.infer<typeof GroupInstanceOutput>;

export const DescribeGroupOutput = z.object({
  groupName: z.string(),
  desiredCapacity: z.number(),
  minSize: z.number(),
  maxSize: z.number(),
  healthyInServiceCount: z.number().describe('InService and Healthy'),
  instanceCount: z.number(),
  instances: z.array(GroupInstanceOutput),
});
export type DescribeGroupOutput = z.infer<typeof DescribeGroupOutput>;

export const SetDesiredCapacityOutput = z.object({
  groupName: z.string(),
  previousDesiredCapacity: z.number().describe('what the inverse restores'),
  desiredCapacity: z.number(),
  minSize: z.number(),
  maxSize: z.number(),
  dryRun: dryRunFlag,
});
export type SetDesiredCapacityOutput = z.infer<typeof SetDesiredCapacityOutput>;

export const ServiceOutput = z.object({
  serviceName: z.string(),
  status: z.string().describe('ACTIVE, DRAINING or INACTIVE'),
  desiredCount: z.number(),
  runningCount: z.number(),
  pendingCount: z.number(),
  taskDefinition: z.string().nullable(),
  rolloutState: z
    .string()
    .nullable()
    .describe('of the PRIMARY deployment: IN_PROGRESS, COMPLETED or FAILED; null when ECS reports none'),
  rolloutStateReason: z.string().nullable(),
  lastDeploymentMinutesAgo: z
    .number()
    .nullable()
    .describe('whole minutes since the PRIMARY deployment started; null when there is none'),
  deploymentCount: z.number().describe('deployments ECS still tracks (more than one while a rollout runs)'),
  events: z.array(z.object({ createdAt: isoTimestamp, message: z.string() })).describe('the newest first'),
});
export type ServiceOutput = z.infer<typeof ServiceOutput>;

export const DescribeServicesOutput = z.object({
  services: z.array(ServiceOutput).describe('in the order the step named them'),
});
export type DescribeServicesOutput = z.infer<typeof DescribeServicesOutput>;

export const ForceNewDeploymentOutput = z.object({
  cluster: z.string(),
  service: z.string(),
  deploymentId: z.string().nullable().describe('the new PRIMARY deployment; null in a dry run'),
  previousTaskDefinition: z.string().nullable(),
  taskDefinition: z.string().nullable(),
  dryRun: dryRunFlag,
});
export type ForceNewDeploymentOutput = z.infer<typeof ForceNewDeploymentOutput>;

export const ConcurrencyOutput = z.object({
  functionName: z.string(),
  hasReservation: z.boolean(),
  reservedConcurrency: z
    .number()
    .nullable()
    .describe('null: no reservation (the account’s unreserved pool); 0: switched off'),
  unreservedConcurrentExecutions: z.number(),
  accountConcurrentExecutionsLimit: z.number(),
  headroomForReservation: z.number().describe('how much more any function could reserve: unreserved − 100'),
  proposedReservedConcurrency: z
    .number()
    .nullable()
    .describe('min(2 × reserved, reserved + headroom) when that raises the reservation; else null'),
  peakConcurrentExecutions: z
    .number()
    .nullable()
    .describe(
      'the most concurrent executions in the last 5 minutes (ConcurrentExecutions, Maximum); null without data',
    ),
  peakPercentOfReservation: z
    .number()
    .nullable()
    .describe(
      'that peak in percent of the reservation now: about 100 while the reservation is the limit; null without a reservation or data',
    ),
});
export type ConcurrencyOutput = z.infer<typeof ConcurrencyOutput>;

export const PutReservedConcurrencyOutput = z.object({
  functionName: z.string(),
  previousReservedConcurrency: z
    .number()
    .nullable()
    .describe('what the inverse restores; null: there was no reservation'),
  reservedConcurrency: z.number(),
  dryRun: dryRunFlag,
});
export type PutReservedConcurrencyOutput = z.infer<typeof PutReservedConcurrencyOutput>;

export const RestoreReservedConcurrencyOutput = z.object({
  functionName: z.string(),
  reservedConcurrency: z.number().nullable().describe('null: the reservation was removed'),
  dryRun: dryRunFlag,
});
export type RestoreReservedConcurrencyOutput = z.infer<typeof RestoreReservedConcurrencyOutput>;

// ------------------------------------------------------------------------------------------- declarations

export const AWS_TOOL_DECLARATIONS = [
  {
    name: 'cloudwatch.get-metric-data',
    description: 'Reads one CloudWatch metric over a recent window (GetMetricData) and summarizes it.',
    parameters: z
      .object({
        namespace: z.string().min(1),
        metricName: z.string().min(1),
        dimensions: z.record(z.string(), z.string()).default({}),
        stat: z
          .string()
          .min(1)
          .default('Average')
          .describe('Average, Sum, Maximum, Minimum, SampleCount or pNN'),
        periodSeconds: z
          .number()
          .int()
          .min(1)
          .max(86_400)
          .refine(
            (seconds) => [1, 5, 10, 30].includes(seconds) || seconds % 60 === 0,
            'must be 1, 5, 10, 30 or a multiple of 60 (CloudWatch periods)',
          )
          .default(60),
        lookbackMinutes: z.number().int().min(1).max(1_440).default(15),
        region: awsRegion,
      })
      .strict(),
    output: MetricDataOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the metric (read-only tools run for real in dry-run)',
    permissions: { iam: ['cloudwatch:GetMetricData'] },
  },
  {
    name: 'cloudwatch.logs-insights',
    description: 'Runs a CloudWatch Logs Insights query over recent logs and returns the rows.',
    parameters: z
      .object({
        logGroupNames: z.array(z.string().min(1)).min(1).max(50),
        query: z.string().min(1).max(10_000),
        lookbackMinutes: z.number().int().min(1).max(10_080).default(30),
        limit: z.number().int().min(1).max(10_000).default(100),
        region: awsRegion,
      })
      .strict(),
    output: LogsInsightsOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'runs the query (read-only tools run for real in dry-run)',
    permissions: { iam: ['logs:StartQuery', 'logs:GetQueryResults', 'logs:StopQuery'] },
  },
  {
    name: 'ssm.run-command',
    description: 'Runs shell commands on EC2 instances with SSM Run Command and waits for each invocation.',
    parameters: z
      .object({
        instanceIds,
        // Single-step documents whose `commands` parameter the tool sets and whose one plugin it reads.
        documentName: z.enum(['AWS-RunShellScript', 'AWS-RunPowerShellScript']).default('AWS-RunShellScript'),
        commands: z.array(z.string().min(1)).min(1).max(100),
        executionTimeoutSeconds: z.number().int().min(30).max(840).default(120),
        region: awsRegion,
      })
      .strict(),
    output: z.union([RunCommandOutput, RunCommandDryRunOutput]),
    mutating: true,
    blastRadius: touchesEachOf('instance', 'instanceIds'),
    risk: 'medium',
    dryRun: 'returns the document, targets and commands it would send, sends nothing',
    onRepeat: {
      effect: 'no-op',
      how: "the command carries the execution and step's change key in its Comment; a repeat finds that command (ListCommands) and waits for it instead of sending another",
    },
    permissions: {
      iam: [
        'ssm:SendCommand',
        'ssm:ListCommands',
        'ssm:GetCommandInvocation',
        'ssm:ListCommandInvocations',
        'ssm:CancelCommand',
      ],
    },
  },
  {
    name: 'ec2.describe-instance-status',
    description: 'Reads the system and instance status checks of EC2 instances.',
    parameters: z.object({ instanceIds, region: awsRegion }).strict(),
    output: DescribeInstanceStatusOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the status (read-only tools run for real in dry-run)',
    permissions: { iam: ['ec2:DescribeInstanceStatus'] },
  },
  {
    name: 'ec2.reboot-instances',
    description:
      'Reboots EC2 instances (RebootInstances). Cannot be undone: runbooks put it behind an approval.',
    parameters: z.object({ instanceIds, region: awsRegion }).strict(),
    output: RebootInstancesOutput,
    mutating: true,
    blastRadius: touchesEachOf('instance', 'instanceIds'),
    risk: 'high',
    dryRun: 'calls RebootInstances with DryRun=true, which checks permissions and changes nothing',
    onRepeat: {
      effect: 'repeats',
      how: 'RebootInstances takes no idempotency token: a second run reboots again',
    },
    inspectWith: {
      tool: 'ec2.describe-instance-status',
      parameters: { instanceIds: '{{ parameters.instanceIds }}' },
    },
    permissions: { iam: ['ec2:RebootInstances'] },
  },
  ...EC2_TOOL_DECLARATIONS,
  {
    name: 'autoscaling.describe-group',
    description: 'Reads an Auto Scaling group: capacity, instances and their health.',
    parameters: z.object({ groupName: z.string().min(1), region: awsRegion }).strict(),
    output: DescribeGroupOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the group (read-only tools run for real in dry-run)',
    permissions: { iam: ['autoscaling:DescribeAutoScalingGroups'] },
  },
  {
    name: 'autoscaling.set-desired-capacity',
    description: 'Sets the desired capacity of an Auto Scaling group; returns the previous value.',
    parameters: z
      .object({
        groupName: z.string().min(1),
        desiredCapacity: z.number().int().min(0).max(10_000),
        honorCooldown: z.boolean().default(false),
        region: awsRegion,
      })
      .strict(),
    output: SetDesiredCapacityOutput,
    mutating: true,
    blastRadius: touchesWhatItReads(
      'instance',
      '|desiredCapacity − the group’s current desired capacity|, read first',
    ),
    risk: 'medium',
    dryRun: 'reads the group and returns the change it would make, changes nothing',
    compensation: {
      tool: 'autoscaling.set-desired-capacity',
      parameters: {
        groupName: '{{ parameters.groupName }}',
        desiredCapacity: '{{ output.previousDesiredCapacity }}',
      },
      description: 'restores the previous desired capacity',
    },
    onRepeat: { effect: 'no-op', how: 'sets an absolute capacity' },
    permissions: { iam: ['autoscaling:SetDesiredCapacity', 'autoscaling:DescribeAutoScalingGroups'] },
  },
  ...AUTOSCALING_TOOL_DECLARATIONS,
  ...ELBV2_TOOL_DECLARATIONS,
  {
    name: 'ecs.describe-services',
    description: 'Reads ECS services: desired/running counts, deployments and recent events.',
    parameters: z
      .object({
        cluster: z.string().min(1),
        services: z.array(z.string().min(1)).min(1).max(10),
        region: awsRegion,
      })
      .strict(),
    output: DescribeServicesOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the services (read-only tools run for real in dry-run)',
    permissions: { iam: ['ecs:DescribeServices'] },
  },
  {
    name: 'ecs.force-new-deployment',
    description: 'Replaces the tasks of an ECS service with fresh ones (UpdateService forceNewDeployment).',
    parameters: z
      .object({ cluster: z.string().min(1), service: z.string().min(1), region: awsRegion })
      .strict(),
    output: ForceNewDeploymentOutput,
    mutating: true,
    blastRadius: touchesOne('workload'),
    risk: 'medium',
    dryRun: 'reads the service and returns the deployment it would start, changes nothing',
    onRepeat: {
      effect: 'repeats',
      how: 'UpdateService forceNewDeployment takes no idempotency token: a second run starts another deployment',
    },
    inspectWith: {
      tool: 'ecs.describe-services',
      parameters: { cluster: '{{ parameters.cluster }}', services: ['{{ parameters.service }}'] },
    },
    permissions: { iam: ['ecs:UpdateService', 'ecs:DescribeServices'] },
  },
  ...ECS_TOOL_DECLARATIONS,
  {
    name: 'lambda.get-concurrency',
    description:
      'Reads a Lambda function’s reserved concurrency, the account’s concurrency limits and the function’s recent peak of concurrent executions.',
    parameters: z.object({ functionName: z.string().min(1), region: awsRegion }).strict(),
    output: ConcurrencyOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the settings (read-only tools run for real in dry-run)',
    permissions: {
      iam: ['lambda:GetFunctionConcurrency', 'lambda:GetAccountSettings', 'cloudwatch:GetMetricData'],
    },
  },
  {
    name: 'lambda.put-reserved-concurrency',
    description: 'Sets a Lambda function’s reserved concurrency; returns the previous setting.',
    parameters: z
      .object({
        functionName: z.string().min(1),
        reservedConcurrency: z.number().int().min(0).max(100_000),
        region: awsRegion,
      })
      .strict(),
    output: PutReservedConcurrencyOutput,
    mutating: true,
    blastRadius: touchesOne('function'),
    risk: 'medium',
    dryRun: 'reads the current setting and returns the change it would make, changes nothing',
    compensation: {
      tool: 'lambda.restore-reserved-concurrency',
      parameters: {
        functionName: '{{ parameters.functionName }}',
        reservedConcurrency: '{{ output.previousReservedConcurrency }}',
      },
      description:
        'restores the previous reserved concurrency (or removes the reservation if there was none)',
    },
    onRepeat: { effect: 'no-op', how: 'sets an absolute reservation' },
    permissions: { iam: ['lambda:PutFunctionConcurrency', 'lambda:GetFunctionConcurrency'] },
  },
  {
    name: 'lambda.restore-reserved-concurrency',
    description: 'Restores a reserved concurrency value; null removes the reservation.',
    parameters: z
      .object({
        functionName: z.string().min(1),
        reservedConcurrency: z.number().int().min(0).max(100_000).nullable(),
        region: awsRegion,
      })
      .strict(),
    output: RestoreReservedConcurrencyOutput,
    mutating: true,
    blastRadius: touchesOne('function'),
    risk: 'medium',
    dryRun: 'returns the setting it would restore, changes nothing',
    onRepeat: { effect: 'no-op', how: 'sets an absolute reservation' },
    permissions: { iam: ['lambda:PutFunctionConcurrency', 'lambda:DeleteFunctionConcurrency'] },
  },
  ...LAMBDA_TOOL_DECLARATIONS,
  ...SQS_TOOL_DECLARATIONS,
  ...RDS_TOOL_DECLARATIONS,
  ...DYNAMODB_TOOL_DECLARATIONS,
  ...APIGATEWAY_TOOL_DECLARATIONS,
  ...ELASTICACHE_TOOL_DECLARATIONS,
] as const satisfies ReadonlyArray<ToolDeclaration>;

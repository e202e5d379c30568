import type { ToolImplementation } from '../../ports/tools.ts';
import { rollbackStageTool, stageStatusTool } from './apigateway.ts';
import { describeGroupTool, setDesiredCapacityTool, setInstanceHealthTool } from './autoscaling.ts';
import { getMetricDataTool } from './cloudwatch.ts';
import { logsInsightsTool } from './cloudwatch-logs.ts';
import type { AwsToolDeps } from './deps.ts';
import { tableCapacityTool } from './dynamodb.ts';
import { describeInstanceStatusTool, describeInstancesTool, rebootInstancesTool } from './ec2.ts';
import {
  describeServicesTool,
  forceNewDeploymentTool,
  serviceEventsTool,
  setDesiredCountTool,
  stoppedTasksTool,
} from './ecs.ts';
import { describeCacheClusterTool } from './elasticache.ts';
import { targetHealthTool } from './elbv2.ts';
import { getConcurrencyTool, putReservedConcurrencyTool, restoreReservedConcurrencyTool } from './lambda.ts';
import { recentErrorsTool } from './lambda-errors.ts';
import { restoreEventSourceConcurrencyTool, setEventSourceConcurrencyTool } from './lambda-event-sources.ts';
import { aliasRollbackTool, describeFunctionTool } from './lambda-versions.ts';
import { describeInstanceTool, eventsTool, increaseAllocatedStorageTool, rebootInstanceTool } from './rds.ts';
import { cancelRedriveTool, queueStatusTool, redriveDlqTool } from './sqs.ts';
import { runCommandTool } from './ssm.ts';

export type { AwsClients, AwsClientsOptions } from './clients.ts';
export { awsClients } from './clients.ts';
export type { AwsToolDeps, PollingOptions } from './deps.ts';

/** The tool families implemented here: every declaration whose name starts with one of these. */
export const AWS_TOOL_PREFIXES = [
  'cloudwatch.',
  'ssm.',
  'ec2.',
  'autoscaling.',
  'elbv2.',
  'ecs.',
  'lambda.',
  'sqs.',
  'rds.',
  'dynamodb.',
  'apigateway.',
  'elasticache.',
] as const;

/** One implementation per AWS tool declaration. */
export function awsTools(deps: AwsToolDeps): ToolImplementation[] {
  return [
    getMetricDataTool(deps),
    logsInsightsTool(deps),
    runCommandTool(deps),
    describeInstanceStatusTool(deps),
    rebootInstancesTool(deps),
    describeInstancesTool(deps),
    describeGroupTool(deps),
    setDesiredCapacityTool(deps),
    setInstanceHealthTool(deps),
    targetHealthTool(deps),
    describeServicesTool(deps),
    forceNewDeploymentTool(deps),
    setDesiredCountTool(deps),
    serviceEventsTool(deps),
    stoppedTasksTool(deps),
    getConcurrencyTool(deps),
    putReservedConcurrencyTool(deps),
    restoreReservedConcurrencyTool(deps),
    describeFunctionTool(deps),
    recentErrorsTool(deps),
    aliasRollbackTool(deps),
    setEventSourceConcurrencyTool(deps),
    restoreEventSourceConcurrencyTool(deps),
    queueStatusTool(deps),
    redriveDlqTool(deps),
    cancelRedriveTool(deps),
    describeInstanceTool(deps),
    eventsTool(deps),
    rebootInstanceTool(deps),
    increaseAllocatedStorageTool(deps),
    tableCapacityTool(deps),
    stageStatusTool(deps),
    rollbackStageTool(deps),
    describeCacheClusterTool(deps),
  ];
}

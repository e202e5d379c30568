import type { ToolImplementation } from '../../ports/tools.ts';
import { describeGroupTool, setDesiredCapacityTool } from './autoscaling.ts';
import { getMetricDataTool } from './cloudwatch.ts';
import { logsInsightsTool } from './cloudwatch-logs.ts';
import type { AwsToolDeps } from './deps.ts';
import { describeInstanceStatusTool, rebootInstancesTool } from './ec2.ts';
import { describeServicesTool, forceNewDeploymentTool } from './ecs.ts';
import { getConcurrencyTool, putReservedConcurrencyTool, restoreReservedConcurrencyTool } from './lambda.ts';
import { runCommandTool } from './ssm.ts';

export type { AwsClients, AwsClientsOptions } from './clients.ts';
export { awsClients } from './clients.ts';
export type { AwsToolDeps, PollingOptions } from './deps.ts';

/** The tool families implemented here: every declaration whose name starts with one of these. */
export const AWS_TOOL_PREFIXES = ['cloudwatch.', 'ssm.', 'ec2.', 'autoscaling.', 'ecs.', 'lambda.'] as const;

/** One implementation per AWS tool declaration. */
export function awsTools(deps: AwsToolDeps): ToolImplementation[] {
  return [
    getMetricDataTool(deps),
    logsInsightsTool(deps),
    runCommandTool(deps),
    describeInstanceStatusTool(deps),
    rebootInstancesTool(deps),
    describeGroupTool(deps),
    setDesiredCapacityTool(deps),
    describeServicesTool(deps),
    forceNewDeploymentTool(deps),
    getConcurrencyTool(deps),
    putReservedConcurrencyTool(deps),
    restoreReservedConcurrencyTool(deps),
  ];
}

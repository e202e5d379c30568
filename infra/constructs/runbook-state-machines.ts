import { type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Substitution } from '../../functions/core/execution-contract.ts';
import { EnvironmentConfigError } from '../config/load.ts';
import type { CompiledRunbook } from './runbook-artifacts.ts';

/** Step Functions caps state machine names at 80 characters. */
export const STATE_MACHINE_NAME_LIMIT = 80;

export interface RunbookStateMachinesProps {
  runbooks: readonly CompiledRunbook[];
  /** `<prefix><runbook id>` is each machine's name (STATE_MACHINE_ARN_PREFIX ends with it). */
  namePrefix: string;
  /** The Lambda each `${…}` variable stands for. */
  functions: Record<Substitution, IFunction>;
  includeExecutionData: boolean;
  logRetention: logs.RetentionDays;
  removalPolicy: RemovalPolicy;
}

/**
 * One Standard state machine per runbook, deployed from its committed statemachines/<id>.asl.json as
 * is (an S3 asset of the file's bytes; CloudFormation fills the `${…}` substitutions with the Lambda
 * ARNs). Every event is logged to one log group (the expired-approval alarm reads it) and traced.
 * Each machine's role may invoke only the functions its own definition names.
 */
export class RunbookStateMachines extends Construct {
  readonly logGroup: logs.LogGroup;
  readonly machines: Array<{ runbook: CompiledRunbook; stateMachine: sfn.StateMachine }> = [];

  constructor(scope: Construct, id: string, props: RunbookStateMachinesProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // Step Functions log delivery needs a resource policy on the group; the vendedlogs prefix avoids its size limit.
      logGroupName: `/aws/vendedlogs/states/${props.namePrefix.replace(/-$/, '')}`,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    for (const runbook of props.runbooks) {
      const stateMachineName = `${props.namePrefix}${runbook.id}`;
      if (stateMachineName.length > STATE_MACHINE_NAME_LIMIT) {
        throw new EnvironmentConfigError(
          `state machine name ${stateMachineName} is ${stateMachineName.length} characters, over Step Functions' ${STATE_MACHINE_NAME_LIMIT}; shorten the environment name or the runbook id`,
        );
      }
      const role = new iam.Role(this, `${runbook.id}-Role`, {
        assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
        description: `Runs runbook ${runbook.id} (${Stack.of(this).stackName})`,
      });
      const invoked = runbook.substitutions.map((name) => props.functions[name]);
      if (invoked.length > 0) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'InvokeItsTaskFunctions',
            actions: ['lambda:InvokeFunction'],
            resources: invoked.map((fn) => fn.functionArn),
          }),
        );
      }
      const stateMachine = new sfn.StateMachine(this, runbook.id, {
        stateMachineName,
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromFile(runbook.file),
        definitionSubstitutions: Object.fromEntries(
          runbook.substitutions.map((name) => [name, props.functions[name].functionArn]),
        ),
        role,
        logs: {
          destination: this.logGroup,
          level: sfn.LogLevel.ALL,
          includeExecutionData: props.includeExecutionData,
        },
        tracingEnabled: true,
      });
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Added by CDK for logging and tracing: the CloudWatch Logs vended-log-delivery actions (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) have no resource-level permissions.',
      });
      this.machines.push({ runbook, stateMachine });
    }
  }
}

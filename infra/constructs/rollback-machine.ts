import { type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { walkStates } from '../../functions/core/compiler/asl.ts';
import { Substitution } from '../../functions/core/execution-contract.ts';
import { ROLLBACK_MACHINE_ID, rollbackStateMachine } from '../../functions/core/rollback/machine.ts';

export interface RollbackMachineProps {
  /** `<prefix>Rollback` is its name: the engine finds it like a runbook's machine. */
  namePrefix: string;
  functions: Record<Substitution, IFunction>;
  logGroup: logs.ILogGroup;
  includeExecutionData: boolean;
  removalPolicy: RemovalPolicy;
}

/** The names of the functions a definition's `${…}` placeholders stand for. */
export function substitutionsOf(definition: ReturnType<typeof rollbackStateMachine>): Substitution[] {
  const text = JSON.stringify([...walkStates(definition)].map(([, state]) => state));
  return Object.values(Substitution).filter((name) => text.includes(`\${${name}}`));
}

/**
 * The rollback machine (functions/core/rollback/machine.ts): one Standard state machine per
 * environment, next to the runbooks' machines, that undoes a finished execution's changes after a
 * chosen point. Its role may invoke only the functions its definition names; logged and traced like them.
 */
export class RollbackMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly stateMachineName: string;

  constructor(scope: Construct, id: string, props: RollbackMachineProps) {
    super(scope, id);
    const definition = rollbackStateMachine();
    const substitutions = substitutionsOf(definition);
    this.stateMachineName = `${props.namePrefix}${ROLLBACK_MACHINE_ID}`;
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: `Runs rollbacks of executions (${Stack.of(this).stackName})`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeItsTaskFunctions',
        actions: ['lambda:InvokeFunction'],
        resources: substitutions.map((name) => props.functions[name].functionArn),
      }),
    );
    this.stateMachine = new sfn.StateMachine(this, 'Machine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(definition)),
      definitionSubstitutions: Object.fromEntries(
        substitutions.map((name) => [name, props.functions[name].functionArn]),
      ),
      role,
      logs: {
        destination: props.logGroup,
        level: sfn.LogLevel.ALL,
        includeExecutionData: props.includeExecutionData,
      },
      tracingEnabled: true,
      removalPolicy: props.removalPolicy,
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by CDK for logging and tracing: the CloudWatch Logs vended-log-delivery actions and X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) have no resource-level permissions.',
    });
  }
}

import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { StateName } from '../../functions/core/compiler/compile.ts';
import type { EnvironmentConfig } from '../config/environment.ts';

export interface PlatformAlarmsProps {
  environment: string;
  thresholds: EnvironmentConfig['alarms'];
  topic: ITopic;
  deadLetterQueues: Record<string, IQueue>;
  functions: Record<string, IFunction>;
  stateMachines: Record<string, sfn.IStateMachine>;
  /** The log group every state machine logs ALL events to. */
  stateMachineLogs: logs.ILogGroup;
}

/** The metric namespace of the platform's own metrics (from logs), per environment: `RunbookAutopilot/<env>`. */
export const METRIC_NAMESPACE = 'RunbookAutopilot';

/**
 * Alarms on the platform itself, each notifying the platform-alarms topic (and again when it clears):
 * messages in a dead-letter queue, function errors, throttled invocations (Lambda counts them apart
 * from errors), failed executions per runbook, executions stopped or timed out per runbook (they end
 * without the runbook's rollback and escalation), and approvals that expired without a decision —
 * read from the state machines' logs, where every `Approval expired: <target>` Pass state the compiler
 * emits is entered exactly when an approval task timed out (the runbook's approval timeout is its SLA).
 */
export class PlatformAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: PlatformAlarmsProps) {
    super(scope, id);
    const { thresholds } = props;
    const notify = new actions.SnsAction(props.topic);
    const add = (alarmId: string, alarmProps: cloudwatch.AlarmProps) => {
      const alarm = new cloudwatch.Alarm(this, alarmId, alarmProps);
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
      this.alarms.push(alarm);
    };
    const name = (what: string) => `runbook-autopilot-${props.environment}-${what}`;

    for (const [queueName, queue] of Object.entries(props.deadLetterQueues)) {
      add(`${queueName}-Depth`, {
        alarmName: name(`dlq-${queueName}`),
        alarmDescription: `Messages in the ${queueName} dead-letter queue: events that failed and were not processed. Read them, fix the cause, redrive.`,
        metric: queue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: thresholds.deadLetters.threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    for (const [functionName, fn] of Object.entries(props.functions)) {
      add(`${functionName}-Errors`, {
        alarmName: name(`errors-${functionName}`),
        alarmDescription: `The ${functionName} function failed (an error or a timeout). See its log group.`,
        metric: fn.metricErrors({
          period: Duration.seconds(thresholds.handlerErrors.period),
          statistic: cloudwatch.Stats.SUM,
        }),
        threshold: thresholds.handlerErrors.threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      add(`${functionName}-Throttles`, {
        alarmName: name(`throttles-${functionName}`),
        alarmDescription: `Invocations of the ${functionName} function were throttled (concurrency exhausted: its reserved concurrency or the account's). Lambda counts these apart from Errors; events are retried, Function URL callers got 429.`,
        metric: fn.metricThrottles({
          period: Duration.seconds(thresholds.throttles.period),
          statistic: cloudwatch.Stats.SUM,
        }),
        threshold: thresholds.throttles.threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    const failedPeriod = Duration.seconds(thresholds.failedExecutions.period);
    const stoppedPeriod = Duration.seconds(thresholds.stoppedExecutions.period);
    for (const [runbookId, stateMachine] of Object.entries(props.stateMachines)) {
      add(`${runbookId}-FailedExecutions`, {
        alarmName: name(`failed-${runbookId}`),
        alarmDescription: `Executions of runbook ${runbookId} failed (each was rolled back where it had changed something, and escalated; see the executions).`,
        metric: stateMachine.metricFailed({ period: failedPeriod, statistic: cloudwatch.Stats.SUM }),
        threshold: thresholds.failedExecutions.threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      add(`${runbookId}-StoppedExecutions`, {
        alarmName: name(`stopped-${runbookId}`),
        alarmDescription: `Executions of runbook ${runbookId} were stopped (StopExecution: the console, the API, an interrupted run that could not resume) or timed out. Neither runs the runbook's rollback or escalation: check what each had changed.`,
        metric: new cloudwatch.MathExpression({
          expression: 'FILL(aborted, 0) + FILL(timedOut, 0)',
          usingMetrics: {
            aborted: stateMachine.metricAborted({ period: stoppedPeriod, statistic: cloudwatch.Stats.SUM }),
            timedOut: stateMachine.metricTimedOut({ period: stoppedPeriod, statistic: cloudwatch.Stats.SUM }),
          },
          period: stoppedPeriod,
          label: `stopped or timed-out executions of ${runbookId}`,
        }),
        threshold: thresholds.stoppedExecutions.threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    const namespace = `${METRIC_NAMESPACE}/${props.environment}`;
    new logs.MetricFilter(this, 'ExpiredApprovalsFilter', {
      logGroup: props.stateMachineLogs,
      filterPattern: expiredApprovalPattern(),
      metricNamespace: namespace,
      metricName: 'ExpiredApprovals',
      metricValue: '1',
    });
    add('ExpiredApprovals', {
      alarmName: name('expired-approvals'),
      alarmDescription:
        'Approvals expired without a decision: approvers did not answer in time (unconfirmed SNS subscriptions, people away). Each run was rolled back and escalated.',
      metric: new cloudwatch.Metric({
        namespace,
        metricName: 'ExpiredApprovals',
        period: Duration.seconds(thresholds.expiredApprovals.period),
        statistic: cloudwatch.Stats.SUM,
      }),
      threshold: thresholds.expiredApprovals.threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}

/** `PassStateEntered` of a state the compiler names `Approval expired: <target>`. */
export function expiredApprovalPattern(): logs.IFilterPattern {
  return logs.FilterPattern.all(
    logs.FilterPattern.stringValue('$.type', '=', 'PassStateEntered'),
    logs.FilterPattern.stringValue('$.details.name', '=', `${StateName.approvalExpired('')}*`),
  );
}

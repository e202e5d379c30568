import type { EventPattern } from './event-pattern.ts';

/**
 * The EventBridge rules, defined once: infra deploys them as rule patterns, and the embedded
 * platform's bus routes with the same patterns through the same matcher.
 */

/** Events the ingest function publishes: one per normalized alert. */
export const INGEST_SOURCE = 'runbook-autopilot.ingest';
export const ALERT_DETAIL_TYPE = 'Alert Normalized';

export type RuleTarget = 'classifier' | 'learning-recorder';

export interface RouteRule {
  name: string;
  description: string;
  /** Which bus: the account's default bus (AWS service events) or the platform's own bus. */
  bus: 'default' | 'runbooks';
  pattern: EventPattern;
  target: RuleTarget;
}

export function routeRules(options: { stateMachineArnPrefix?: string } = {}): RouteRule[] {
  return [
    {
      name: 'cloudwatch-alarms',
      description: 'CloudWatch alarms that change state go to the classifier',
      bus: 'default',
      pattern: { source: ['aws.cloudwatch'], 'detail-type': ['CloudWatch Alarm State Change'] },
      target: 'classifier',
    },
    {
      name: 'ingested-alerts',
      description: 'Alerts the ingest endpoint normalized (Alertmanager) go to the classifier',
      bus: 'runbooks',
      pattern: { source: [INGEST_SOURCE], 'detail-type': [ALERT_DETAIL_TYPE] },
      target: 'classifier',
    },
    {
      name: 'execution-status',
      description: 'Runbook executions that stop go to the learning recorder',
      bus: 'default',
      pattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'],
          ...(options.stateMachineArnPrefix
            ? { stateMachineArn: [{ prefix: options.stateMachineArnPrefix }] }
            : {}),
        },
      },
      target: 'learning-recorder',
    },
  ];
}

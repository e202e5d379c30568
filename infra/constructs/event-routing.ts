import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { InvalidEventPatternError, validateEventPattern } from '../../functions/core/event-pattern.ts';
import { type RouteRule, type RuleTarget, routeRules } from '../../functions/core/routing.ts';

/** EventBridge retries a target it cannot invoke (throttling, service errors) this often, this long. */
export const TARGET_RETRY = { retryAttempts: 8, maxEventAge: Duration.hours(2) } as const;

/** An encrypted, TLS-only queue that keeps what failed for two weeks. */
export function deadLetterQueue(scope: Construct, id: string, removalPolicy: RemovalPolicy): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy,
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      'This queue is a dead-letter queue (of EventBridge targets or a Lambda on-failure destination); cdk-nag only recognizes SQS redrive policies. Nothing consumes it automatically: its depth alarms.',
  });
  return queue;
}

export interface EventRoutingProps {
  busName: string;
  /** Prefix of this stack's state machine ARNs: the status rule hears only its own executions. */
  stateMachineArnPrefix: string;
  handlers: Record<RuleTarget, IFunction>;
  removalPolicy: RemovalPolicy;
}

/**
 * The platform's bus and the rules of functions/core/routing.ts (the same patterns the embedded
 * platform routes with, validated with the same matcher before they are deployed). Every target has a
 * retry policy and a dead-letter queue for events EventBridge could not deliver.
 */
export class EventRouting extends Construct {
  readonly bus: events.EventBus;
  readonly deliveryDeadLetters: sqs.Queue;
  readonly rules: Array<{ route: RouteRule; rule: events.Rule }> = [];

  constructor(scope: Construct, id: string, props: EventRoutingProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: props.busName,
      description: 'Alerts the runbook-autopilot ingest endpoint normalized',
    });
    this.deliveryDeadLetters = deadLetterQueue(this, 'DeliveryDeadLetters', props.removalPolicy);
    for (const route of routeRules({ stateMachineArnPrefix: props.stateMachineArnPrefix })) {
      const problems = validateEventPattern(route.pattern);
      if (problems.length > 0) throw new InvalidEventPatternError(problems);
      const rule = new events.Rule(this, ruleId(route.name), {
        description: route.description,
        ...(route.bus === 'runbooks' ? { eventBus: this.bus } : {}),
        eventPattern: route.pattern as events.EventPattern,
      });
      rule.addTarget(
        new targets.LambdaFunction(props.handlers[route.target], {
          ...TARGET_RETRY,
          deadLetterQueue: this.deliveryDeadLetters,
        }),
      );
      this.rules.push({ route, rule });
    }
  }
}

function ruleId(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, _dash: string, letter: string) => letter.toUpperCase());
}

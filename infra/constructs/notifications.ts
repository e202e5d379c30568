import type { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { NotificationAttribute } from '../../functions/adapters/aws/sns-notifier.ts';
import { EnvironmentConfigError } from '../config/load.ts';

/** SNS allows 200 filter policies per topic by default; one subscription per person needs one each. */
export const MAX_FILTERED_SUBSCRIPTIONS = 200;

export interface NotificationsProps {
  /** Everyone in the environment's approver groups. */
  approvers: string[];
  /** Everyone in the environment's escalation targets. */
  escalationRecipients: string[];
  /** Who gets the platform's own alarms (people of `alarms.notify`). */
  alarmRecipients: string[];
  removalPolicy: RemovalPolicy;
}

/**
 * The topics the notifier publishes to, and the platform alarms' topic, encrypted with one customer
 * managed key (CloudWatch alarms can only publish to a topic whose key policy lets them).
 *
 * - approvals: one e-mail subscription per approver, filtered on `recipient` = that approver, so each
 *   gets only their own signed links;
 * - escalations: one per person of any escalation target, filtered on `recipient` containing them or
 *   absent (a notice for every subscriber);
 * - platform alarms: CloudWatch alarm notifications carry no message attributes, and SNS never matches
 *   a filter policy against a message without attributes, so they cannot share the filtered escalations
 *   topic: their own topic, unfiltered subscriptions for the people of `alarms.notify`.
 */
export class Notifications extends Construct {
  readonly key: kms.Key;
  readonly approvals: sns.Topic;
  readonly escalations: sns.Topic;
  readonly platformAlarms: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    for (const [what, people] of [
      ['approvers', props.approvers],
      ['escalation recipients', props.escalationRecipients],
    ] as const) {
      if (people.length > MAX_FILTERED_SUBSCRIPTIONS) {
        throw new EnvironmentConfigError(
          `${people.length} ${what}: over the SNS limit of ${MAX_FILTERED_SUBSCRIPTIONS} filter policies per topic (one per person); use fewer people or shared mailboxes`,
        );
      }
    }
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the runbook-autopilot notification topics',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    // CloudWatch publishes alarm notifications with its own service principal, through this key.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    const topic = (topicId: string, displayName: string) =>
      new sns.Topic(this, topicId, { displayName, masterKey: this.key, enforceSSL: true });
    this.approvals = topic('Approvals', 'runbook-autopilot approvals');
    this.escalations = topic('Escalations', 'runbook-autopilot escalations');
    this.platformAlarms = topic('PlatformAlarms', 'runbook-autopilot platform alarms');
    this.platformAlarms.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.platformAlarms.topicArn],
      }),
    );

    for (const approver of unique(props.approvers)) {
      this.approvals.addSubscription(
        new subscriptions.EmailSubscription(approver, {
          filterPolicy: {
            [NotificationAttribute.Recipient]: sns.SubscriptionFilter.stringFilter({ allowlist: [approver] }),
          },
        }),
      );
    }
    for (const person of unique(props.escalationRecipients)) {
      this.escalations.addSubscription(
        new subscriptions.EmailSubscription(person, {
          // String.Array attributes match when any element matches; `exists: false` takes broadcasts.
          filterPolicy: {
            [NotificationAttribute.Recipient]: new sns.SubscriptionFilter([person, { exists: false }]),
          },
        }),
      );
    }
    for (const person of unique(props.alarmRecipients)) {
      this.platformAlarms.addSubscription(new subscriptions.EmailSubscription(person));
    }
  }
}

/** Filter policies compare case-sensitively, so addresses stay exactly as configured. */
function unique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

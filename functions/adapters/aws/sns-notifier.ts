import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { NotificationError } from '../../core/errors.ts';
import type { Notification } from '../../core/records.ts';
import type { Notifier } from '../../ports/notifier.ts';

/** Amazon SNS Publish limits that matter here. */
export const SNS_LIMITS = {
  /** E-mail subjects must be "less than 100 characters long". */
  subjectChars: 99,
  messageBytes: 262_144,
  messageAttributes: 10,
} as const;

/** The names of the message attributes this notifier sets; subscriptions filter on them. */
export const NotificationAttribute = {
  Kind: 'kind',
  Recipient: 'recipient',
  Severity: 'severity',
  ExecutionId: 'executionId',
  NotificationId: 'notificationId',
} as const;

const SUBJECT_ELLIPSIS = '...';

export interface SnsNotifierOptions {
  client: SNSClient;
  /** Approval e-mails: one subscription per approver, filtered on the `recipient` attribute. */
  approvalsTopicArn: string;
  /** Escalations, messages and automation-blocked notices. */
  escalationsTopicArn: string;
  /**
   * Everyone in the environment's approver groups: a follow-up to one of them goes to the approvals
   * topic (where they are subscribed), to anyone else to the escalations topic.
   */
  approvers?: Iterable<string>;
}

type AttributeInput = string | string[] | undefined;

/**
 * Notifier on Amazon SNS.
 *
 * - Approval requests: one Publish per recipient to the approvals topic, with a `recipient` String
 *   attribute, so each approver's e-mail subscription receives their own message and nobody else's.
 * - Everything else: one Publish to the escalations topic; `recipient` is a String.Array of the targets
 *   (filter policies match any element), absent when the notice is for every subscriber.
 *
 * The message is the notification's text as given: links must already be in it.
 */
export class SnsNotifier implements Notifier {
  readonly #client: SNSClient;
  readonly #approvalsTopicArn: string;
  readonly #escalationsTopicArn: string;
  readonly #approvers: ReadonlySet<string>;

  constructor(options: SnsNotifierOptions) {
    this.#client = options.client;
    this.#approvalsTopicArn = options.approvalsTopicArn;
    this.#escalationsTopicArn = options.escalationsTopicArn;
    this.#approvers = new Set(options.approvers ?? []);
  }

  async send(notification: Notification): Promise<void> {
    if (notification.kind === 'follow-up') {
      await this.#sendFollowUp(notification);
      return;
    }
    const topicArn =
      notification.kind === 'approval-request' ? this.#approvalsTopicArn : this.#escalationsTopicArn;
    checkMessage(notification, topicArn);
    if (notification.kind === 'approval-request') {
      await this.#sendToEachRecipient(notification, topicArn);
    } else {
      await this.#sendOnce(notification, topicArn);
    }
  }

  async #sendToEachRecipient(notification: Notification, topicArn: string): Promise<void> {
    const recipients = [...new Set(notification.to)];
    if (recipients.length === 0) {
      throw new NotificationError(
        `${describe(notification)} for SNS topic ${topicArn} has no recipients: nobody would be asked to ` +
          'decide; check that the approver groups resolve to at least one approver',
      );
    }
    const results = await Promise.allSettled(
      recipients.map((recipient) =>
        this.#client.send(
          publishCommand(notification, topicArn, messageAttributes(notification, { recipient })),
        ),
      ),
    );
    const delivered: string[] = [];
    const failed: Array<{ recipient: string; reason: unknown }> = [];
    results.forEach((result, index) => {
      const recipient = recipients[index]!;
      if (result.status === 'fulfilled') delivered.push(recipient);
      else failed.push({ recipient, reason: result.reason });
    });
    if (failed.length === 0) return;
    const failures = failed.map(({ recipient, reason }) => `${recipient} (${reasonText(reason)})`).join(', ');
    const successes =
      delivered.length === 0 ? 'delivered to nobody' : `already delivered to ${delivered.join(', ')}`;
    throw new NotificationError(
      `SNS topic ${topicArn} did not accept ${describe(notification)} for ${failed.length} of ` +
        `${recipients.length} recipients: ${failures}; ${successes}. Retry for the failed recipients only`,
      { cause: failed.length === 1 ? failed[0]!.reason : new AggregateError(failed.map((f) => f.reason)) },
    );
  }

  /** Per person, on the topic where they are subscribed: approvers on approvals, the others on escalations. */
  async #sendFollowUp(notification: Notification): Promise<void> {
    const recipients = [...new Set(notification.to)];
    const toApprovers = recipients.filter((recipient) => this.#approvers.has(recipient));
    const toOthers = recipients.filter((recipient) => !this.#approvers.has(recipient));
    if (toApprovers.length > 0) {
      checkMessage(notification, this.#approvalsTopicArn);
      await this.#sendToEachRecipient({ ...notification, to: toApprovers }, this.#approvalsTopicArn);
    }
    if (toOthers.length > 0 || recipients.length === 0) {
      checkMessage(notification, this.#escalationsTopicArn);
      await this.#sendOnce({ ...notification, to: toOthers }, this.#escalationsTopicArn);
    }
  }

  async #sendOnce(notification: Notification, topicArn: string): Promise<void> {
    const recipients = [...new Set(notification.to)];
    try {
      await this.#client.send(
        publishCommand(notification, topicArn, messageAttributes(notification, { recipients })),
      );
    } catch (error) {
      const to = recipients.length === 0 ? 'every subscriber' : recipients.join(', ');
      throw new NotificationError(
        `SNS topic ${topicArn} did not accept ${describe(notification)} for ${to} (${reasonText(error)})`,
        { cause: error },
      );
    }
  }
}

/** An e-mail subject SNS accepts: no line breaks or control characters, under 100 characters. */
export function snsSubject(subject: string): string | undefined {
  const clean = subject
    .replace(/\p{Cc}+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (clean === '') return undefined;
  if (clean.length <= SNS_LIMITS.subjectChars) return clean;
  let end = SNS_LIMITS.subjectChars - SUBJECT_ELLIPSIS.length;
  const last = clean.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${clean.slice(0, end).trimEnd()}${SUBJECT_ELLIPSIS}`;
}

function publishCommand(
  notification: Notification,
  topicArn: string,
  attributes: Record<string, MessageAttributeValue>,
): PublishCommand {
  const subject = snsSubject(notification.subject);
  return new PublishCommand({
    TopicArn: topicArn,
    Message: notification.text,
    ...(subject === undefined ? {} : { Subject: subject }),
    MessageAttributes: attributes,
  });
}

function messageAttributes(
  notification: Notification,
  addressing: { recipient: string } | { recipients: string[] },
): Record<string, MessageAttributeValue> {
  return stringAttributes({
    [NotificationAttribute.Kind]: notification.kind,
    [NotificationAttribute.Recipient]:
      'recipient' in addressing ? addressing.recipient : addressing.recipients,
    [NotificationAttribute.Severity]: notification.severity,
    [NotificationAttribute.ExecutionId]: notification.executionId,
    [NotificationAttribute.NotificationId]: notification.id,
  });
}

/**
 * SNS message attributes: String or String.Array values, never empty (SNS refuses empty values), at most 10.
 */
export function stringAttributes(
  values: Record<string, AttributeInput>,
): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || value.length === 0) continue;
    attributes[name] = Array.isArray(value)
      ? { DataType: 'String.Array', StringValue: JSON.stringify(value) }
      : { DataType: 'String', StringValue: value };
  }
  const count = Object.keys(attributes).length;
  if (count > SNS_LIMITS.messageAttributes) {
    throw new NotificationError(
      `${count} message attributes (${Object.keys(attributes).join(', ')}), over the SNS limit of ` +
        `${SNS_LIMITS.messageAttributes}; drop some`,
    );
  }
  return attributes;
}

function checkMessage(notification: Notification, topicArn: string): void {
  if (notification.text.trim() === '') {
    throw new NotificationError(
      `${describe(notification)} for SNS topic ${topicArn} has no text; SNS refuses an empty message`,
    );
  }
  const bytes = Buffer.byteLength(notification.text, 'utf8');
  if (bytes > SNS_LIMITS.messageBytes) {
    throw new NotificationError(
      `${describe(notification)} for SNS topic ${topicArn} is ${bytes} bytes, over the SNS message limit of ` +
        `${SNS_LIMITS.messageBytes} bytes; shorten the text (link to the details instead)`,
    );
  }
}

function describe(notification: Notification): string {
  const execution = notification.executionId === undefined ? '' : ` of execution ${notification.executionId}`;
  return `${notification.kind} ${notification.id}${execution}`;
}

function reasonText(reason: unknown): string {
  return reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
}

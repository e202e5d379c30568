import type { Notification } from '../core/records.ts';

/**
 * Sends notifications: SNS on AWS (approval e-mails per approver, escalations by target), an outbox
 * in the store locally. Throws NotificationError when the message was not accepted.
 */
export interface Notifier {
  send(notification: Notification): Promise<void>;
}

import { NotificationError } from '../../core/errors.ts';
import type { Notification } from '../../core/records.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { Store } from '../../ports/store.ts';

/**
 * The embedded Notifier: what SNS would e-mail goes to an outbox in the store (GET /api/outbox shows
 * it, with the approval links), and to the terminal.
 */
export class OutboxNotifier implements Notifier {
  constructor(
    private readonly store: Store,
    private readonly onSent: (notification: Notification) => void = () => {},
  ) {}

  async send(notification: Notification): Promise<void> {
    if (notification.to.length === 0)
      throw new NotificationError(`notification "${notification.subject}" has no recipient`);
    if (notification.text.trim() === '')
      throw new NotificationError(`notification "${notification.subject}" has no text`);
    if (Buffer.byteLength(notification.text) > 256 * 1024)
      throw new NotificationError(`notification "${notification.subject}" is over 256 KB`);
    await this.store.appendNotification(notification);
    this.onSent(notification);
  }
}

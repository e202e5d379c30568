import { NotificationError } from '../../core/errors.ts';
import type { Notification } from '../../core/records.ts';
import type { Notifier } from '../../ports/notifier.ts';
import type { Store } from '../../ports/store.ts';

/** SNS refuses messages over 256 KB; the outbox applies the same rule so local matches AWS. */
const MAX_MESSAGE_BYTES = 256 * 1024;

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
    const what = `notification ${notification.id} ("${notification.subject}")`;
    if (notification.kind === 'approval-request' && notification.to.length === 0) {
      throw new NotificationError(`${what}: an approval request needs at least one recipient`);
    }
    if (notification.text.trim() === '') throw new NotificationError(`${what} has no text`);
    if (Buffer.byteLength(notification.text) > MAX_MESSAGE_BYTES) {
      throw new NotificationError(`${what} is over 256 KB, the SNS message limit`);
    }
    await this.store.appendNotification(notification);
    this.onSent(notification);
  }
}

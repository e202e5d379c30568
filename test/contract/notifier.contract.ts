import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotificationError } from '../../functions/core/errors.ts';
import { Notification } from '../../functions/core/records.ts';
import type { Notifier } from '../../functions/ports/notifier.ts';

/**
 * One message as the runtime delivered it. A runtime may deliver one notification as one message for all
 * its recipients (the local outbox) or as one message per recipient (SNS approval e-mails).
 */
export interface DeliveredNotification {
  kind: Notification['kind'];
  /** Who this message is addressed to; empty when it goes to everyone following the channel. */
  recipients: string[];
  subject: string;
  text: string;
  severity?: string;
  executionId?: string;
}

export interface NotifierContractSubject {
  notifier: Notifier;
  observe: {
    /** Every message the runtime accepted, in order. */
    sentNotifications(): Promise<DeliveredNotification[]>;
  };
  dispose?(): Promise<void>;
}

/** A valid notification (checked against the schema). */
export function contractNotification(overrides: Partial<Notification> = {}): Notification {
  return Notification.parse({
    id: 'ntf-0001',
    kind: 'approval-request',
    to: ['alice@example.com', 'bob@example.com'],
    subject: '[staging] Approve drain of node ip-10-0-1-23 (node-filesystem-filling)',
    text:
      'node-filesystem-filling wants to drain ip-10-0-1-23 (risk: high).\n' +
      'Review and decide: https://runbooks.example.com/approvals/apr-1?approver=alice%40example.com&sig=abc',
    links: [{ label: 'Review', url: 'https://runbooks.example.com/approvals/apr-1?sig=abc' }],
    severity: 'page',
    executionId: 'exec-0001',
    sentAt: '2024-05-02T17:06:00Z',
    ...overrides,
  });
}

function addressedTo(deliveries: DeliveredNotification[], recipient: string): DeliveredNotification[] {
  return deliveries.filter((delivery) => delivery.recipients.includes(recipient));
}

/** The Notifier port contract. `setup` is called before each test and gets a fresh runtime. */
export function describeNotifierContract(
  name: string,
  setup: () => Promise<NotifierContractSubject> | NotifierContractSubject,
): void {
  describe(`Notifier contract: ${name}`, () => {
    let subject: NotifierContractSubject;

    beforeEach(async () => {
      subject = await setup();
    });

    afterEach(async () => {
      await subject.dispose?.();
    });

    it('delivers an approval request to every recipient, once each, with its subject and text', async () => {
      // Prepare
      const notification = contractNotification({
        to: ['alice@example.com', 'bob@example.com', 'carol@example.com'],
      });

      // Act
      await subject.notifier.send(notification);

      // Assess
      const deliveries = await subject.observe.sentNotifications();
      for (const recipient of notification.to) {
        const received = addressedTo(deliveries, recipient);
        expect(received, recipient).toHaveLength(1);
        expect(received[0]).toMatchObject({
          kind: 'approval-request',
          subject: notification.subject,
          text: notification.text,
          executionId: 'exec-0001',
        });
      }
    });

    it('delivers an approval request once to a recipient listed twice', async () => {
      // Prepare
      const notification = contractNotification({ to: ['alice@example.com', 'alice@example.com'] });

      // Act
      await subject.notifier.send(notification);

      // Assess
      expect(addressedTo(await subject.observe.sentNotifications(), 'alice@example.com')).toHaveLength(1);
    });

    it.each([
      ['escalation', 'page'],
      ['automation-blocked', 'ticket'],
      ['message', 'info'],
    ] as const)('delivers a %s with its kind, severity and text to every target', async (kind, severity) => {
      // Prepare
      const notification = contractNotification({
        id: `ntf-${kind}`,
        kind,
        severity,
        to: ['platform-oncall', 'dave@example.com'],
        subject: `[staging] ${kind}: node-filesystem-filling on ip-10-0-1-23`,
        text: 'Rollback failed after remediation; a human must act. Execution exec-0001.',
        links: [],
      });

      // Act
      await subject.notifier.send(notification);

      // Assess
      const deliveries = await subject.observe.sentNotifications();
      for (const target of notification.to) {
        const received = addressedTo(deliveries, target);
        expect(received, target).toHaveLength(1);
        expect(received[0]).toMatchObject({
          kind,
          severity,
          subject: notification.subject,
          text: notification.text,
        });
      }
    });

    it('delivers a message with no recipients once, to whoever follows the channel', async () => {
      // Prepare
      const notification = contractNotification({
        id: 'ntf-broadcast',
        kind: 'message',
        to: [],
        severity: 'info',
      });

      // Act
      await subject.notifier.send(notification);

      // Assess
      const deliveries = await subject.observe.sentNotifications();
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toMatchObject({ kind: 'message', recipients: [], text: notification.text });
    });

    it('refuses an approval request with no recipients: NotificationError, nothing sent', async () => {
      // Prepare
      const notification = contractNotification({ to: [] });

      // Act
      const sending = subject.notifier.send(notification);

      // Assess
      await expect(sending).rejects.toThrow(NotificationError);
      await expect(sending).rejects.toThrow('ntf-0001');
      expect(await subject.observe.sentNotifications()).toEqual([]);
    });

    it('refuses a notification with an empty text: NotificationError, nothing sent', async () => {
      // Prepare
      const notification = contractNotification({ kind: 'escalation', text: '  ' });

      // Act
      const sending = subject.notifier.send(notification);

      // Assess
      await expect(sending).rejects.toThrow(NotificationError);
      expect(await subject.observe.sentNotifications()).toEqual([]);
    });

    it('refuses a text over 256 KB (the SNS message limit): NotificationError, nothing sent', async () => {
      // Prepare
      const notification = contractNotification({ kind: 'escalation', text: 'x'.repeat(262_145) });

      // Act
      const sending = subject.notifier.send(notification);

      // Assess
      await expect(sending).rejects.toThrow(NotificationError);
      await expect(sending).rejects.toThrow('ntf-0001');
      expect(await subject.observe.sentNotifications()).toEqual([]);
    });
  });
}

import { DynamoStore } from '../../../functions/adapters/aws/dynamo-store.ts';
import { OutboxNotifier } from '../../../functions/adapters/local/outbox-notifier.ts';
import type { Notification } from '../../../functions/core/records.ts';
import { startDynalite } from '../../support/dynalite.ts';
import { type DeliveredNotification, describeNotifierContract } from '../notifier.contract.ts';

// The Store behind the outbox is the same DynamoStore the platform runs locally on dynalite; its own
// contract runs in test/integration/store.dynalite.test.ts and is not repeated here.

/** The outbox keeps one message per notification, addressed to all its recipients. */
function delivered(notification: Notification): DeliveredNotification {
  return {
    kind: notification.kind,
    recipients: notification.to,
    subject: notification.subject,
    text: notification.text,
    ...(notification.severity === undefined ? {} : { severity: notification.severity }),
    ...(notification.executionId === undefined ? {} : { executionId: notification.executionId }),
  };
}

describeNotifierContract('OutboxNotifier (DynamoStore on dynalite)', async () => {
  const table = await startDynalite();
  const store = new DynamoStore({ client: table.client, tableName: table.tableName, retentionDays: 30 });
  return {
    notifier: new OutboxNotifier(store),
    observe: {
      // The outbox lists newest first; the contract wants the order they were accepted in.
      sentNotifications: async () => (await store.listNotifications({ limit: 100 })).reverse().map(delivered),
    },
    dispose: table.stop,
  };
});

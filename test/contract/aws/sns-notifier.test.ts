import {
  InternalErrorException,
  type MessageAttributeValue,
  PublishCommand,
  type PublishCommandInput,
  SNSClient,
  ThrottledException,
} from '@aws-sdk/client-sns';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnsNotifier, snsSubject } from '../../../functions/adapters/aws/sns-notifier.ts';
import { NotificationError } from '../../../functions/core/errors.ts';
import {
  contractNotification,
  type DeliveredNotification,
  describeNotifierContract,
} from '../notifier.contract.ts';

const APPROVALS_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:runbook-approvals';
const ESCALATIONS_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:runbook-escalations';
const metadata = { httpStatusCode: 400, requestId: 'req-0001' };

/** Reads a Publish back as the message its subscribers receive. */
function delivered(input: PublishCommandInput): DeliveredNotification {
  const attributes = input.MessageAttributes ?? {};
  const text = (name: string) => attributes[name]?.StringValue;
  const recipient = attributes.recipient;
  const recipients =
    recipient === undefined
      ? []
      : recipient.DataType === 'String.Array'
        ? (JSON.parse(recipient.StringValue!) as string[])
        : [recipient.StringValue!];
  return {
    kind: text('kind') as DeliveredNotification['kind'],
    recipients,
    subject: input.Subject ?? '',
    text: input.Message!,
    ...(text('severity') === undefined ? {} : { severity: text('severity') }),
    ...(text('executionId') === undefined ? {} : { executionId: text('executionId') }),
  };
}

/** The error a promise rejects with; fails the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

describeNotifierContract('SnsNotifier (mocked SNS client)', () => {
  const client = new SNSClient({ region: 'eu-west-1' });
  const mock = mockClient(client);
  const accepted: PublishCommandInput[] = [];
  mock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
    accepted.push(input);
    return { MessageId: `msg-${accepted.length}` };
  });
  return {
    notifier: new SnsNotifier({
      client,
      approvalsTopicArn: APPROVALS_TOPIC,
      escalationsTopicArn: ESCALATIONS_TOPIC,
    }),
    observe: { sentNotifications: async () => accepted.map(delivered) },
    dispose: async () => mock.restore(),
  };
});

describe('SnsNotifier on the SNS API', () => {
  let client: SNSClient;
  let mock: AwsClientStub<SNSClient>;
  let notifier: SnsNotifier;

  beforeEach(() => {
    client = new SNSClient({ region: 'eu-west-1' });
    mock = mockClient(client);
    notifier = new SnsNotifier({
      client,
      approvalsTopicArn: APPROVALS_TOPIC,
      escalationsTopicArn: ESCALATIONS_TOPIC,
    });
  });

  afterEach(() => {
    mock.restore();
  });

  function publishes(): PublishCommandInput[] {
    return mock.commandCalls(PublishCommand).map((call) => call.args[0].input);
  }

  it('publishes an approval request once per recipient to the approvals topic, with a recipient attribute', async () => {
    // Prepare
    mock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    const notification = contractNotification();

    // Act
    await notifier.send(notification);

    // Assess
    expect(publishes()).toEqual([
      {
        TopicArn: APPROVALS_TOPIC,
        Subject: notification.subject,
        Message: notification.text,
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'approval-request' },
          recipient: { DataType: 'String', StringValue: 'alice@example.com' },
          severity: { DataType: 'String', StringValue: 'page' },
          executionId: { DataType: 'String', StringValue: 'exec-0001' },
          notificationId: { DataType: 'String', StringValue: 'ntf-0001' },
        },
      },
      expect.objectContaining({
        TopicArn: APPROVALS_TOPIC,
        MessageAttributes: expect.objectContaining({
          recipient: { DataType: 'String', StringValue: 'bob@example.com' },
        }),
      }),
    ]);
  });

  it('publishes an escalation once to the escalations topic, its targets as a String.Array recipient attribute', async () => {
    // Prepare
    mock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    const notification = contractNotification({
      kind: 'escalation',
      to: ['platform-oncall', 'dave@example.com'],
    });

    // Act
    await notifier.send(notification);

    // Assess
    const [publish] = publishes();
    expect(publishes()).toHaveLength(1);
    expect(publish!.TopicArn).toBe(ESCALATIONS_TOPIC);
    expect(publish!.MessageAttributes).toMatchObject({
      kind: { DataType: 'String', StringValue: 'escalation' },
      severity: { DataType: 'String', StringValue: 'page' },
      recipient: { DataType: 'String.Array', StringValue: '["platform-oncall","dave@example.com"]' },
    });
  });

  it('sends a follow-up to each person on the topic they are subscribed to: approvers on approvals', async () => {
    // Prepare
    mock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    notifier = new SnsNotifier({
      client,
      approvalsTopicArn: APPROVALS_TOPIC,
      escalationsTopicArn: ESCALATIONS_TOPIC,
      approvers: ['alice@example.com'],
    });

    // Act
    await notifier.send(contractNotification({ kind: 'follow-up', to: ['alice@example.com'] }));
    await notifier.send(contractNotification({ kind: 'follow-up', to: ['oncall@example.com'] }));

    // Assess
    expect(publishes().map((input) => [input.TopicArn, input.MessageAttributes?.recipient])).toEqual([
      [APPROVALS_TOPIC, { DataType: 'String', StringValue: 'alice@example.com' }],
      [ESCALATIONS_TOPIC, { DataType: 'String.Array', StringValue: '["oncall@example.com"]' }],
    ]);
  });

  it('keeps message attributes within SNS rules: at most 10, String values, none empty', async () => {
    // Prepare
    mock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    const notification = contractNotification({
      kind: 'message',
      to: [],
      severity: undefined,
      executionId: undefined,
    });

    // Act
    await notifier.send(notification);

    // Assess
    const attributes: Record<string, MessageAttributeValue> = publishes()[0]!.MessageAttributes!;
    expect(Object.keys(attributes)).toEqual(['kind', 'notificationId']);
    expect(Object.keys(attributes).length).toBeLessThanOrEqual(10);
    for (const value of Object.values(attributes)) {
      expect(['String', 'String.Array']).toContain(value.DataType);
      expect(value.StringValue).not.toBe('');
    }
  });

  it('trims a subject to under 100 characters with an ellipsis, and drops line breaks', async () => {
    // Prepare
    mock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    const long = `[production] Approve\nremediation: ${'drain node ip-10-0-1-23 and restart kubelet; '.repeat(4)}`;

    // Act
    await notifier.send(contractNotification({ subject: long, to: ['alice@example.com'] }));

    // Assess
    const subject = publishes()[0]!.Subject!;
    expect(subject.length).toBeLessThan(100);
    expect(subject.startsWith('[production] Approve remediation: drain node')).toBe(true);
    expect(subject.endsWith('...')).toBe(true);
    expect(subject).not.toMatch(/[\r\n]/);
  });

  it('leaves a subject that fits unchanged, and omits one that is only whitespace', () => {
    // Act
    const fits = snsSubject('x'.repeat(99));
    const blank = snsSubject(' \n\t ');

    // Assess
    expect(fits).toBe('x'.repeat(99));
    expect(blank).toBeUndefined();
  });

  it('turns a refused Publish into NotificationError naming the topic and the recipients', async () => {
    // Prepare
    mock
      .on(PublishCommand)
      .rejects(new InternalErrorException({ $metadata: metadata, message: 'Internal error' }));

    // Act
    const sending = notifier.send(contractNotification({ kind: 'escalation', to: ['platform-oncall'] }));

    // Assess
    await expect(sending).rejects.toThrow(NotificationError);
    await expect(sending).rejects.toThrow(
      `SNS topic ${ESCALATIONS_TOPIC} did not accept escalation ntf-0001 of execution exec-0001 for platform-oncall (InternalErrorException: Internal error)`,
    );
  });

  it('reports a partial failure: which recipients failed and which already got the approval request', async () => {
    // Prepare
    mock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    mock
      .on(PublishCommand, {
        MessageAttributes: { recipient: { DataType: 'String', StringValue: 'bob@example.com' } },
      })
      .rejects(new ThrottledException({ $metadata: metadata, message: 'Rate exceeded' }));
    const notification = contractNotification({
      to: ['alice@example.com', 'bob@example.com', 'carol@example.com'],
    });

    // Act
    const sending = notifier.send(notification);

    // Assess
    const error = await rejectionOf(sending);
    expect(error).toBeInstanceOf(NotificationError);
    expect(error.message).toContain(`SNS topic ${APPROVALS_TOPIC} did not accept approval-request ntf-0001`);
    expect(error.message).toContain(
      'for 1 of 3 recipients: bob@example.com (ThrottledException: Rate exceeded)',
    );
    expect(error.message).toContain('already delivered to alice@example.com, carol@example.com');
    expect(publishes()).toHaveLength(3);
  });

  it('reports a total failure of an approval request as delivered to nobody', async () => {
    // Prepare
    mock
      .on(PublishCommand)
      .rejects(new ThrottledException({ $metadata: metadata, message: 'Rate exceeded' }));

    // Act
    const sending = notifier.send(contractNotification());

    // Assess
    await expect(sending).rejects.toThrow(/for 2 of 2 recipients: .*; delivered to nobody/);
  });
});

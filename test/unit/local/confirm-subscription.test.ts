import {
  ConfirmSubscriptionCommand,
  GetSubscriptionAttributesCommand,
  InvalidParameterException,
  SNSClient,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../../local/cli.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:333333333333:runbook-autopilot-prod-NotificationsApprovals1A2B3C4D';
const TOKEN = '2336412f37fb687f5d51e6e2425c464de12884a1e5c8d1c2d0a9e1f0b6a7c8d9e0f1a2b3c4d5e6f7';
const SUBSCRIPTION = `${TOPIC}:0a1b2c3d-4e5f-6789-abcd-ef0123456789`;
/** The link in SNS's "AWS Notification - Subscription Confirmation" e-mail. */
const LINK = `https://sns.eu-west-1.amazonaws.com/confirmation.html?TopicArn=${encodeURIComponent(TOPIC)}&Token=${TOKEN}&Endpoint=alice@example.com`;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line), cwd: process.cwd() },
    out,
    err,
  };
}

describe('runbook confirm-subscription', () => {
  const sns = mockClient(SNSClient);

  beforeEach(() => {
    sns.reset();
    sns.on(ConfirmSubscriptionCommand).resolves({ SubscriptionArn: SUBSCRIPTION });
    sns.on(GetSubscriptionAttributesCommand).resolves({
      Attributes: {
        SubscriptionArn: SUBSCRIPTION,
        TopicArn: TOPIC,
        Protocol: 'email',
        Endpoint: 'alice@example.com',
        PendingConfirmation: 'false',
        ConfirmationWasAuthenticated: 'true',
      },
    });
  });
  afterEach(() => sns.reset());

  it('confirms with AuthenticateOnUnsubscribe, signed in the topic’s region, and checks SNS recorded it', async () => {
    // Act
    const { io, out, err } = capture();
    const code = await main(['node', 'runbook', 'confirm-subscription', LINK], io);

    // Assess
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const confirm = sns.commandCalls(ConfirmSubscriptionCommand);
    expect(confirm).toHaveLength(1);
    expect(confirm[0]!.args[0].input).toEqual({
      TopicArn: TOPIC,
      Token: TOKEN,
      AuthenticateOnUnsubscribe: 'true',
    });
    expect(await sns.send.firstCall.thisValue.config.region()).toBe('eu-west-1');
    expect(sns.commandCalls(GetSubscriptionAttributesCommand)[0]!.args[0].input).toEqual({
      SubscriptionArn: SUBSCRIPTION,
    });
    expect(out.join('\n')).toContain(`confirmed alice@example.com on ${TOPIC}`);
    expect(out.join('\n')).toContain('unsubscribing now needs AWS credentials');
  });

  it('also takes the topic and token as options', async () => {
    const { io } = capture();
    expect(
      await main(['node', 'runbook', 'confirm-subscription', '--topic-arn', TOPIC, '--token', TOKEN], io),
    ).toBe(0);
    expect(sns.commandCalls(ConfirmSubscriptionCommand)[0]!.args[0].input.AuthenticateOnUnsubscribe).toBe(
      'true',
    );
  });

  it('refuses a link without a token or topic, naming what is missing, and calls nothing', async () => {
    const { io, err } = capture();
    const withoutToken = LINK.replace(/&Token=[^&]+/, '');
    expect(await main(['node', 'runbook', 'confirm-subscription', withoutToken], io)).toBe(2);
    expect(err.join('\n')).toMatch(/the confirmation link has no Token parameter/);
    expect(await main(['node', 'runbook', 'confirm-subscription', 'https://example.com/x'], io)).toBe(2);
    expect(err.join('\n')).toMatch(/has no TopicArn parameter/);
    expect(sns.calls()).toHaveLength(0);
  });

  it('says what to do when SNS refuses the token (expired after 3 days, or already used)', async () => {
    // Prepare
    sns
      .on(ConfirmSubscriptionCommand)
      .rejects(new InvalidParameterException({ message: 'Invalid token', $metadata: {} }));

    // Act
    const { io, err } = capture();
    const code = await main(['node', 'runbook', 'confirm-subscription', LINK], io);

    // Assess
    expect(code).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(
      /^runbook: SNS refused the confirmation of .* \(InvalidParameter: Invalid token\)/,
    );
    expect(err[0]).toContain('Request confirmation');
  });

  it('fails when SNS says the confirmation was not authenticated', async () => {
    // Prepare: e.g. someone (or a mail scanner) followed the link in the e-mail first
    sns.on(GetSubscriptionAttributesCommand).resolves({
      Attributes: { SubscriptionArn: SUBSCRIPTION, ConfirmationWasAuthenticated: 'false' },
    });

    // Act
    const { io, err } = capture();
    const code = await main(['node', 'runbook', 'confirm-subscription', LINK], io);

    // Assess
    expect(code).toBe(1);
    expect(err[0]).toMatch(/ConfirmationWasAuthenticated is false/);
    expect(err[0]).toContain('aws sns unsubscribe');
  });
});

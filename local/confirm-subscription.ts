import {
  ConfirmSubscriptionCommand,
  GetSubscriptionAttributesCommand,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { RunbookAutopilotError } from '../functions/core/errors.ts';

/**
 * `runbook confirm-subscription`: confirms an SNS e-mail subscription with AuthenticateOnUnsubscribe,
 * so only the topic's or the subscription's owner (AWS-signed) can unsubscribe it. Clicking the link
 * in SNS's confirmation e-mail confirms without it, and then anyone holding the footer's unsubscribe
 * link (a mail scanner that follows links, a forwarded message) silently removes an approver.
 */

/** A problem with what was given: exit 2, nothing was sent. */
export class ConfirmationInputError extends RunbookAutopilotError {
  override readonly name = 'ConfirmationInputError';
}

/** SNS refused, or did not record the confirmation as authenticated: exit 1. */
export class ConfirmationError extends RunbookAutopilotError {
  override readonly name = 'ConfirmationError';
}

export interface ConfirmationRequest {
  topicArn: string;
  token: string;
  /** The subscriber, when the link names it (for the messages only). */
  endpoint?: string;
}

const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z]{2}(?:-[a-z]+)+-\d):\d{12}:[A-Za-z0-9_-]{1,256}$/;

/** The topic and token of the link in SNS's "Subscription Confirmation" e-mail, or given as options. */
export function confirmationRequest(
  link: string | undefined,
  options: { topicArn?: string | undefined; token?: string | undefined },
): ConfirmationRequest & { region: string } {
  let query = new URLSearchParams();
  if (link !== undefined) {
    if (!URL.canParse(link))
      throw new ConfirmationInputError(
        `"${link.slice(0, 80)}" is not a URL; give the link of the confirmation e-mail in quotes, or --topic-arn and --token`,
      );
    query = new URL(link).searchParams;
  }
  const topicArn = options.topicArn ?? query.get('TopicArn') ?? undefined;
  const token = options.token ?? query.get('Token') ?? undefined;
  const what = link === undefined ? 'give --topic-arn and --token' : 'the confirmation link';
  if (!topicArn)
    throw new ConfirmationInputError(
      `${what} has no TopicArn parameter; copy the whole "Confirm subscription" link of the e-mail (in quotes)`,
    );
  if (!token)
    throw new ConfirmationInputError(
      `${what} has no Token parameter; copy the whole "Confirm subscription" link of the e-mail (in quotes)`,
    );
  const region = TOPIC_ARN.exec(topicArn)?.[1];
  if (!region) throw new ConfirmationInputError(`TopicArn "${topicArn}" is not an SNS topic ARN`);
  const endpoint = query.get('Endpoint') ?? undefined;
  return { topicArn, token, region, ...(endpoint ? { endpoint } : {}) };
}

/** Confirms with AuthenticateOnUnsubscribe and checks that SNS recorded the confirmation as authenticated. */
export async function confirmSubscription(
  sns: SNSClient,
  request: ConfirmationRequest,
): Promise<{ subscriptionArn: string; endpoint: string }> {
  const who = request.endpoint ?? 'the subscription';
  let subscriptionArn: string | undefined;
  try {
    ({ SubscriptionArn: subscriptionArn } = await sns.send(
      new ConfirmSubscriptionCommand({
        TopicArn: request.topicArn,
        Token: request.token,
        AuthenticateOnUnsubscribe: 'true',
      }),
    ));
  } catch (error) {
    const { name, message } = error as Error;
    throw new ConfirmationError(
      `SNS refused the confirmation of ${who} on ${request.topicArn} (${name.replace(/Exception$/, '')}: ${message}). A token is valid for 3 days and once: if it expired, choose Request confirmation for the pending subscription in the SNS console and confirm the new link with this command; AuthorizationError: run it with credentials of the account that owns the topic`,
      { cause: error },
    );
  }
  if (!subscriptionArn) throw new ConfirmationError(`SNS confirmed ${who} but returned no subscription ARN`);
  const { Attributes: attributes = {} } = await sns.send(
    new GetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn }),
  );
  if (attributes.ConfirmationWasAuthenticated !== 'true') {
    throw new ConfirmationError(
      `${who} is confirmed, but SNS says ConfirmationWasAuthenticated is false (the link in the e-mail was followed first): anyone with the unsubscribe link can remove it. Remove it (aws sns unsubscribe --subscription-arn ${subscriptionArn}) and deploy again, then confirm the new e-mail's link with this command only`,
    );
  }
  return { subscriptionArn, endpoint: attributes.Endpoint ?? request.endpoint ?? 'the subscriber' };
}

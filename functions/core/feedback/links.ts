import { createHmac, timingSafeEqual } from 'node:crypto';
import { MIN_SIGNING_KEY_BYTES } from '../approval-links.ts';

/**
 * Signed links in the notification sent when an execution ends: one to read its incident report, one
 * to give feedback (learningHooks.askForFeedback). Each names the execution, what it is for, who it was
 * sent to and an expiry, signed with HMAC-SHA256 over a canonical text no approval or control link can
 * share. A report link reads; a feedback link's GET shows a form and its POST records once per person
 * (the store refuses a second answer).
 */

export const FollowUpPurpose = ['report', 'feedback'] as const;
export type FollowUpPurpose = (typeof FollowUpPurpose)[number];

/** Feedback comes after the incident is over, often the next working day: links last a week. */
export const FOLLOW_UP_LINK_TTL_SECONDS = 7 * 86_400;

export interface FollowUpLinkClaims {
  executionId: string;
  purpose: FollowUpPurpose;
  /** Who the notification went to: an e-mail address, or a target's name. */
  recipient: string;
  /** Epoch seconds after which the link no longer works. */
  expiresAt: number;
}

export type FollowUpLinkRefusal = 'malformed' | 'bad-signature' | 'expired';
export type FollowUpLinkVerification =
  | { ok: true; claims: FollowUpLinkClaims }
  | { ok: false; reason: FollowUpLinkRefusal };

const DOMAIN = 'runbook-autopilot/follow-up-link/v1';
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const EXPIRY_PATTERN = /^[1-9]\d{0,11}$/;
/** A recipient is an e-mail address or a target's name. */
export const MAX_RECIPIENT_CHARS = 320;

/** The text signed: every field length-prefixed, so no value can make two claims sign alike. */
export function canonicalFollowUpLinkText(claims: FollowUpLinkClaims): string {
  return [DOMAIN, claims.purpose, claims.executionId, claims.recipient, String(claims.expiresAt)]
    .map((field) => `${field.length}:${field}`)
    .join('\n');
}

export function signFollowUpLink(claims: FollowUpLinkClaims, key: Buffer): string {
  if (key.length < MIN_SIGNING_KEY_BYTES)
    throw new RangeError(`the link-signing key must be at least ${MIN_SIGNING_KEY_BYTES} bytes`);
  return createHmac('sha256', key).update(canonicalFollowUpLinkText(claims)).digest('base64url');
}

/** `<base>/reports/<execution>?…` or `<base>/feedback/<execution>?…`, absolute (as in an e-mail). */
export function followUpLinkUrl(publicBaseUrl: string, claims: FollowUpLinkClaims, key: Buffer): string {
  const url = new URL(
    `${claims.purpose === 'report' ? 'reports' : 'feedback'}/${encodeURIComponent(claims.executionId)}`,
    publicBaseUrl.endsWith('/') ? publicBaseUrl : `${publicBaseUrl}/`,
  );
  url.searchParams.set('to', claims.recipient);
  url.searchParams.set('exp', String(claims.expiresAt));
  url.searchParams.set('sig', signFollowUpLink(claims, key));
  return url.toString();
}

export interface FollowUpLinkParameters {
  to?: string | undefined;
  exp?: string | undefined;
  sig?: string | undefined;
}

/** Checks a link: well-formed, signed by one of `keys` (constant time), not expired. */
export function verifyFollowUpLink(
  target: { executionId: string; purpose: FollowUpPurpose },
  link: FollowUpLinkParameters,
  keys: readonly Buffer[],
  nowSeconds: number,
): FollowUpLinkVerification {
  const { to, exp, sig } = link;
  if (
    !to ||
    to.length > MAX_RECIPIENT_CHARS ||
    !exp ||
    !EXPIRY_PATTERN.test(exp) ||
    !sig ||
    !SIGNATURE_PATTERN.test(sig)
  )
    return { ok: false, reason: 'malformed' };
  const claims: FollowUpLinkClaims = { ...target, recipient: to, expiresAt: Number(exp) };
  const given = Buffer.from(sig);
  const signedByUs = keys.some((key) => {
    const expected = Buffer.from(signFollowUpLink(claims, key));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!signedByUs) return { ok: false, reason: 'bad-signature' };
  if (nowSeconds >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

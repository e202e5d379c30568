import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MIN_SIGNING_KEY_BYTES } from './approval-links.ts';

/**
 * Signed links to pause or abort one execution, carried by every escalation and approval notification:
 * whoever holds the phone at 3 a.m. can stop automation without an API client. Like approval links,
 * GET only shows (mail scanners follow links) and POST acts; each link names the execution, the
 * action, who it was sent to, an expiry and a random nonce, signed with HMAC-SHA256 over a canonical
 * text that no approval link can share; a link acts once (its nonce is claimed in the store).
 */

export const ControlLinkAction = ['pause', 'abort'] as const;
export type ControlLinkAction = (typeof ControlLinkAction)[number];

export interface ControlLinkClaims {
  executionId: string;
  action: ControlLinkAction;
  /** Who the notification went to: an approver's e-mail, or an escalation target's name. */
  recipient: string;
  /** Epoch seconds after which the link no longer works. */
  expiresAt: number;
  /** Random, once per link: a link acts once. */
  nonce: string;
}

export type ControlLinkRefusal = 'malformed' | 'bad-signature' | 'expired';
export type ControlLinkVerification =
  | { ok: true; claims: ControlLinkClaims }
  | { ok: false; reason: ControlLinkRefusal };

/** The first field of every signed text: a control link's signature never verifies anything else. */
const DOMAIN = 'runbook-autopilot/control-link/v1';
const NONCE_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const EXPIRY_PATTERN = /^[1-9]\d{0,11}$/;

/** The text signed: every field length-prefixed, so no value can make two claims sign alike. */
export function canonicalControlLinkText(claims: ControlLinkClaims): string {
  return [DOMAIN, claims.executionId, claims.action, claims.recipient, String(claims.expiresAt), claims.nonce]
    .map((field) => `${field.length}:${field}`)
    .join('\n');
}

export function newControlLinkNonce(): string {
  return randomBytes(16).toString('base64url');
}

export function signControlLink(claims: ControlLinkClaims, key: Buffer): string {
  if (key.length < MIN_SIGNING_KEY_BYTES)
    throw new RangeError(`the link-signing key must be at least ${MIN_SIGNING_KEY_BYTES} bytes`);
  return createHmac('sha256', key).update(canonicalControlLinkText(claims)).digest('base64url');
}

/** `<base>/control/<execution>/<action>?to=…&exp=…&nonce=…&sig=…`, absolute (as in an e-mail). */
export function controlLinkUrl(publicBaseUrl: string, claims: ControlLinkClaims, key: Buffer): string {
  const url = new URL(
    `control/${encodeURIComponent(claims.executionId)}/${claims.action}`,
    publicBaseUrl.endsWith('/') ? publicBaseUrl : `${publicBaseUrl}/`,
  );
  url.searchParams.set('to', claims.recipient);
  url.searchParams.set('exp', String(claims.expiresAt));
  url.searchParams.set('nonce', claims.nonce);
  url.searchParams.set('sig', signControlLink(claims, key));
  return url.toString();
}

export interface ControlLinkParameters {
  to?: string | undefined;
  exp?: string | undefined;
  nonce?: string | undefined;
  sig?: string | undefined;
}

/** Checks a link: well-formed, signed by one of `keys` (constant time), not expired. */
export function verifyControlLink(
  target: { executionId: string; action: string },
  link: ControlLinkParameters,
  keys: readonly Buffer[],
  nowSeconds: number,
): ControlLinkVerification {
  const { to, exp, nonce, sig } = link;
  if (
    !(ControlLinkAction as readonly string[]).includes(target.action) ||
    !to ||
    to.length > 320 ||
    !exp ||
    !EXPIRY_PATTERN.test(exp) ||
    !nonce ||
    !NONCE_PATTERN.test(nonce) ||
    !sig ||
    !SIGNATURE_PATTERN.test(sig)
  )
    return { ok: false, reason: 'malformed' };
  const claims: ControlLinkClaims = {
    executionId: target.executionId,
    action: target.action as ControlLinkAction,
    recipient: to,
    expiresAt: Number(exp),
    nonce,
  };
  const given = Buffer.from(sig);
  const signedByUs = keys.some((key) => {
    const expected = Buffer.from(signControlLink(claims, key));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!signedByUs) return { ok: false, reason: 'bad-signature' };
  if (nowSeconds >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed approval links. Unlike the AWS human-approval tutorial, a link never carries the task token:
 * it names the approval, the approver and an expiry, signed with HMAC-SHA256. GET shows, POST decides,
 * once per approver; the token stays server-side.
 */

export interface ApprovalLinkClaims {
  approvalId: string;
  approver: string;
  /** Epoch seconds after which the link no longer works. */
  expiresAt: number;
}

export type LinkRefusal = 'malformed' | 'bad-signature' | 'expired';

export type LinkVerification = { ok: true; claims: ApprovalLinkClaims } | { ok: false; reason: LinkRefusal };

/** The signing key must be long enough to resist brute force. */
export const MIN_SIGNING_KEY_BYTES = 32;

function payload(claims: ApprovalLinkClaims): string {
  // Length-prefixed fields: no separator inside a value can make two claims sign alike.
  return [claims.approvalId, claims.approver, String(claims.expiresAt)]
    .map((field) => `${field.length}:${field}`)
    .join('|');
}

export function signApprovalLink(claims: ApprovalLinkClaims, key: Buffer): string {
  if (key.length < MIN_SIGNING_KEY_BYTES)
    throw new RangeError(`the link-signing key must be at least ${MIN_SIGNING_KEY_BYTES} bytes`);
  return createHmac('sha256', key).update(payload(claims)).digest('base64url');
}

/** The absolute URL an approver gets (as in an e-mail). */
export function approvalLinkUrl(publicBaseUrl: string, claims: ApprovalLinkClaims, key: Buffer): string {
  const url = new URL(
    `approvals/${encodeURIComponent(claims.approvalId)}`,
    publicBaseUrl.endsWith('/') ? publicBaseUrl : `${publicBaseUrl}/`,
  );
  url.searchParams.set('approver', claims.approver);
  url.searchParams.set('exp', String(claims.expiresAt));
  url.searchParams.set('sig', signApprovalLink(claims, key));
  return url.toString();
}

/** Checks a link's parameters: well-formed, signed by us (constant-time), not expired. */
export function verifyApprovalLink(
  input: {
    approvalId: string;
    approver?: string | undefined;
    exp?: string | undefined;
    sig?: string | undefined;
  },
  key: Buffer,
  nowSeconds: number,
): LinkVerification {
  const { approvalId, approver, exp, sig } = input;
  // Only the text a link is issued with (String of a positive integer): `0<exp>` is another link, refused.
  if (!approver || !exp || !sig || !/^[1-9]\d{0,11}$/.test(exp) || !/^[A-Za-z0-9_-]{43}$/.test(sig))
    return { ok: false, reason: 'malformed' };
  const claims: ApprovalLinkClaims = { approvalId, approver, expiresAt: Number(exp) };
  // The signature is compared over the text as given, so no other spelling of the same number verifies.
  if (String(claims.expiresAt) !== exp) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(signApprovalLink(claims, key));
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad-signature' };
  if (nowSeconds >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/** Public approval ids name the execution and the approval key, URL-safe. */
export function approvalPublicId(executionId: string, approvalKey: string): string {
  return Buffer.from(JSON.stringify([executionId, approvalKey])).toString('base64url');
}

export function parseApprovalPublicId(id: string): { executionId: string; approvalKey: string } | undefined {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(id)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(id, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      value.every((part) => typeof part === 'string' && part.length > 0)
    ) {
      return { executionId: value[0] as string, approvalKey: value[1] as string };
    }
  } catch {
    // not ours
  }
  return undefined;
}

/** Constant-time comparison of two secrets (ingest tokens). */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHmac('sha256', 'compare').update(given).digest();
  const b = createHmac('sha256', 'compare').update(expected).digest();
  return timingSafeEqual(a, b);
}

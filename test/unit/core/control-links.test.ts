import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signApprovalLink } from '../../../functions/core/approval-links.ts';
import {
  canonicalControlLinkText,
  controlLinkUrl,
  newControlLinkNonce,
  signControlLink,
  verifyControlLink,
} from '../../../functions/core/control-links.ts';

const KEY = randomBytes(32);
const OTHER_KEY = randomBytes(32);
const NOW = 1_790_000_000;
const CLAIMS = {
  executionId: 'node-memory-pressure-3f2a9c',
  action: 'pause' as const,
  recipient: 'alice@example.com',
  expiresAt: NOW + 600,
  nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
};

function parametersOf(url: string) {
  const link = new URL(url);
  const [, , executionId, action] = link.pathname.split('/');
  return {
    target: { executionId: decodeURIComponent(executionId!), action: action! },
    link: {
      to: link.searchParams.get('to') ?? undefined,
      exp: link.searchParams.get('exp') ?? undefined,
      nonce: link.searchParams.get('nonce') ?? undefined,
      sig: link.searchParams.get('sig') ?? undefined,
    },
  };
}

describe('signed pause/abort links', () => {
  it('verifies a link exactly as issued: /control/<execution>/<action> with to, exp, nonce, sig', () => {
    // Prepare
    const url = controlLinkUrl('https://approvals.example.com/base/', CLAIMS, KEY);
    const { target, link } = parametersOf(url.replace('/base', ''));

    // Act
    const verified = verifyControlLink(target, link, [KEY], NOW);

    // Assess
    expect(new URL(url).pathname).toBe(`/base/control/${CLAIMS.executionId}/pause`);
    expect(verified).toEqual({ ok: true, claims: CLAIMS });
  });

  it('accepts a link signed with an older key still on the verifying list (rotation)', () => {
    const { target, link } = parametersOf(controlLinkUrl('http://127.0.0.1:8787/', CLAIMS, OTHER_KEY));
    expect(verifyControlLink(target, link, [KEY, OTHER_KEY], NOW).ok).toBe(true);
    expect(verifyControlLink(target, link, [KEY], NOW)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it.each([
    [
      'another execution',
      (p: ReturnType<typeof parametersOf>) => ({ ...p, target: { ...p.target, executionId: 'other' } }),
    ],
    [
      'the other action',
      (p: ReturnType<typeof parametersOf>) => ({ ...p, target: { ...p.target, action: 'abort' } }),
    ],
    [
      'another recipient',
      (p: ReturnType<typeof parametersOf>) => ({ ...p, link: { ...p.link, to: 'mallory@example.com' } }),
    ],
    [
      'a later expiry',
      (p: ReturnType<typeof parametersOf>) => ({ ...p, link: { ...p.link, exp: String(NOW + 6000) } }),
    ],
    [
      'another nonce',
      (p: ReturnType<typeof parametersOf>) => ({ ...p, link: { ...p.link, nonce: newControlLinkNonce() } }),
    ],
  ])('refuses a link changed to name %s (the signature covers every field)', (_what, change) => {
    const issued = parametersOf(controlLinkUrl('http://127.0.0.1:8787/', CLAIMS, KEY));
    const changed = change(issued);
    expect(verifyControlLink(changed.target, changed.link, [KEY], NOW)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('refuses an expired link, and one with missing, malformed or re-spelled fields', () => {
    const { target, link } = parametersOf(controlLinkUrl('http://127.0.0.1:8787/', CLAIMS, KEY));
    expect(verifyControlLink(target, link, [KEY], CLAIMS.expiresAt)).toEqual({
      ok: false,
      reason: 'expired',
    });
    for (const broken of [
      { ...link, sig: undefined },
      { ...link, nonce: 'short' },
      { ...link, exp: `0${link.exp}` },
      { ...link, exp: '-5' },
      { ...link, to: '' },
      { ...link, to: 'x'.repeat(400) },
    ])
      expect(verifyControlLink(target, broken, [KEY], NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyControlLink({ ...target, action: 'resume' }, link, [KEY], NOW)).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('signs a canonical text of its own: no approval-link signature verifies as a control link', () => {
    // Prepare: an approval link over fields spelled to look like a control link's
    const text = canonicalControlLinkText(CLAIMS);
    const approvalSignature = signApprovalLink(
      { approvalId: CLAIMS.executionId, approver: CLAIMS.recipient, expiresAt: CLAIMS.expiresAt },
      KEY,
    );

    // Act
    const verified = verifyControlLink(
      { executionId: CLAIMS.executionId, action: 'pause' },
      { to: CLAIMS.recipient, exp: String(CLAIMS.expiresAt), nonce: CLAIMS.nonce, sig: approvalSignature },
      [KEY],
      NOW,
    );

    // Assess
    expect(text.split('\n')[0]).toBe('33:runbook-autopilot/control-link/v1');
    expect(verified).toEqual({ ok: false, reason: 'bad-signature' });
    expect(signControlLink(CLAIMS, KEY)).not.toBe(approvalSignature);
  });

  it('makes a fresh 128-bit nonce for every link', () => {
    const nonces = new Set(Array.from({ length: 1_000 }, () => newControlLinkNonce()));
    expect(nonces.size).toBe(1_000);
    for (const nonce of nonces) expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('refuses a signing key shorter than 32 bytes', () => {
    expect(() => signControlLink(CLAIMS, randomBytes(16))).toThrow(/at least 32 bytes/);
  });
});

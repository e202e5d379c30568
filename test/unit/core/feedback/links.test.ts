import { describe, expect, it } from 'vitest';
import { controlLinkUrl, verifyControlLink } from '../../../../functions/core/control-links.ts';
import {
  canonicalFollowUpLinkText,
  type FollowUpLinkClaims,
  followUpLinkUrl,
  signFollowUpLink,
  verifyFollowUpLink,
} from '../../../../functions/core/feedback/links.ts';

const KEY = Buffer.from('feedback-link-test-key-0123456789abcdef0123');
const OTHER_KEY = Buffer.from('another-link-test-key-0123456789abcdef01234');
const NOW = 1_800_000_000;
const CLAIMS: FollowUpLinkClaims = {
  executionId: 'exec-1',
  purpose: 'feedback',
  recipient: 'alice@example.com',
  expiresAt: NOW + 3_600,
};

function parameters(url: string) {
  const parsed = new URL(url);
  return {
    path: parsed.pathname,
    link: {
      to: parsed.searchParams.get('to') ?? undefined,
      exp: parsed.searchParams.get('exp') ?? undefined,
      sig: parsed.searchParams.get('sig') ?? undefined,
    },
  };
}

describe('follow-up links (report and feedback)', () => {
  it('verifies a link as issued, for its execution and purpose only', () => {
    // Prepare
    const { path, link } = parameters(followUpLinkUrl('https://autopilot.example.com/base/', CLAIMS, KEY));

    // Act / Assess
    expect(path).toBe('/base/feedback/exec-1');
    expect(verifyFollowUpLink({ executionId: 'exec-1', purpose: 'feedback' }, link, [KEY], NOW)).toEqual({
      ok: true,
      claims: CLAIMS,
    });
    // The same signature opens no other execution and not the report.
    expect(verifyFollowUpLink({ executionId: 'exec-2', purpose: 'feedback' }, link, [KEY], NOW)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyFollowUpLink({ executionId: 'exec-1', purpose: 'report' }, link, [KEY], NOW)).toMatchObject({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('refuses a changed recipient, a changed expiry, another key, and a link past its expiry', () => {
    // Prepare
    const { link } = parameters(followUpLinkUrl('https://autopilot.example.com/', CLAIMS, KEY));
    const target = { executionId: 'exec-1', purpose: 'feedback' } as const;

    // Act / Assess
    expect(verifyFollowUpLink(target, { ...link, to: 'mallory@example.com' }, [KEY], NOW)).toMatchObject({
      reason: 'bad-signature',
    });
    expect(verifyFollowUpLink(target, { ...link, exp: String(NOW + 99_999) }, [KEY], NOW)).toMatchObject({
      reason: 'bad-signature',
    });
    expect(verifyFollowUpLink(target, link, [OTHER_KEY], NOW)).toMatchObject({ reason: 'bad-signature' });
    // After a rotation the previous key still verifies.
    expect(verifyFollowUpLink(target, link, [OTHER_KEY, KEY], NOW)).toMatchObject({ ok: true });
    expect(verifyFollowUpLink(target, link, [KEY], CLAIMS.expiresAt)).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect(verifyFollowUpLink(target, { ...link, exp: `0${link.exp}` }, [KEY], NOW)).toMatchObject({
      reason: 'malformed',
    });
    expect(verifyFollowUpLink(target, { ...link, sig: undefined }, [KEY], NOW)).toMatchObject({
      reason: 'malformed',
    });
    expect(verifyFollowUpLink(target, { ...link, to: 'x'.repeat(321) }, [KEY], NOW)).toMatchObject({
      reason: 'malformed',
    });
  });

  it('signs a text no control link shares: neither signature verifies the other', () => {
    // Prepare
    const control = new URL(
      controlLinkUrl(
        'https://autopilot.example.com/',
        {
          executionId: 'exec-1',
          action: 'pause',
          recipient: 'alice@example.com',
          expiresAt: CLAIMS.expiresAt,
          nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
        },
        KEY,
      ),
    );
    const feedbackSignature = signFollowUpLink(CLAIMS, KEY);

    // Act / Assess
    expect(canonicalFollowUpLinkText(CLAIMS)).toContain('runbook-autopilot/follow-up-link/v1');
    expect(
      verifyFollowUpLink(
        { executionId: 'exec-1', purpose: 'feedback' },
        { to: 'alice@example.com', exp: String(CLAIMS.expiresAt), sig: control.searchParams.get('sig')! },
        [KEY],
        NOW,
      ),
    ).toMatchObject({ reason: 'bad-signature' });
    expect(
      verifyControlLink(
        { executionId: 'exec-1', action: 'pause' },
        {
          to: 'alice@example.com',
          exp: String(CLAIMS.expiresAt),
          nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
          sig: feedbackSignature,
        },
        [KEY],
        NOW,
      ),
    ).toMatchObject({ reason: 'bad-signature' });
    expect(() => signFollowUpLink(CLAIMS, Buffer.alloc(8))).toThrow(/at least 32 bytes/);
  });
});

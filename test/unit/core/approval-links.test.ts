import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { approvalLinkUrl, verifyApprovalLink } from '../../../functions/core/approval-links.ts';

const KEY = randomBytes(32);
const NOW = 1_790_000_000;
const CLAIMS = {
  approvalId: 'WyJleGVjLTEiLCJwaGFzZS1yZW1lZGlhdGUiXQ',
  approver: 'alice@example.com',
  expiresAt: NOW + 600,
};

function linkParameters(url: string) {
  const link = new URL(url);
  return {
    approver: link.searchParams.get('approver') ?? undefined,
    exp: link.searchParams.get('exp') ?? undefined,
    sig: link.searchParams.get('sig') ?? undefined,
  };
}

describe('approval links', () => {
  it('verifies the link exactly as it was issued', () => {
    // Prepare
    const issued = linkParameters(approvalLinkUrl('http://127.0.0.1:8787/', CLAIMS, KEY));

    // Act
    const verified = verifyApprovalLink({ approvalId: CLAIMS.approvalId, ...issued }, KEY, NOW);

    // Assess
    expect(verified).toEqual({ ok: true, claims: CLAIMS });
  });

  it.each([
    ['a leading zero', (exp: string) => `0${exp}`],
    ['many leading zeros', (exp: string) => `0000${exp}`],
  ])('refuses an exp written differently from how it was signed (%s)', (_what, rewrite) => {
    // Prepare: the same number, another text: the signature covers the text as issued
    const issued = linkParameters(approvalLinkUrl('http://127.0.0.1:8787/', CLAIMS, KEY));

    // Act
    const verified = verifyApprovalLink(
      { approvalId: CLAIMS.approvalId, ...issued, exp: rewrite(issued.exp!) },
      KEY,
      NOW,
    );

    // Assess
    expect(verified).toEqual({ ok: false, reason: 'malformed' });
  });
});

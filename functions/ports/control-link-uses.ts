import type { ControlLinkAction } from '../core/control-links.ts';

/** One use of a signed pause/abort link: which link (its nonce), what it did, who used it and when. */
export interface ControlLinkUse {
  nonce: string;
  executionId: string;
  action: ControlLinkAction;
  /** Who the link was sent to. */
  recipient: string;
  usedAt: string;
  /** When the link expires (ISO 8601): the record of its use is kept a while after, then deleted (TTL). */
  expiresAt: string;
}

/**
 * Where links are marked used, so each acts once. `claim` is a conditional write: exactly one caller
 * gets true for a nonce. `release` gives back a claim whose action was refused (the execution had
 * already stopped), and only that claim.
 */
export interface ControlLinkUses {
  claim(use: ControlLinkUse): Promise<boolean>;
  get(nonce: string): Promise<ControlLinkUse | undefined>;
  release(use: Pick<ControlLinkUse, 'nonce' | 'usedAt'>): Promise<void>;
}

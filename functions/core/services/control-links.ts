import type { Clock } from '../../ports/clock.ts';
import type { ControlLinkUse, ControlLinkUses } from '../../ports/control-link-uses.ts';
import type { LinkSigningKeys } from '../../ports/link-signing-keys.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import type { RuntimeConfig } from '../config.ts';
import {
  ControlLinkAction,
  type ControlLinkClaims,
  type ControlLinkParameters,
  controlLinkUrl,
  newControlLinkNonce,
  verifyControlLink,
} from '../control-links.ts';
import { type ExecutionRecord, type StepOutcome, TERMINAL_STATUSES } from '../records.ts';
import { ControlConflictError, type ControlService, NotFoundError, withoutToken } from './control.ts';

export type ControlLinkRefusal =
  | 'malformed'
  | 'bad-signature'
  | 'expired'
  | 'used'
  | 'not-found'
  | 'finished'
  | 'conflict';

/** Overrides made through a signed link are recorded in the audit trail as such. */
const CONTROL_LINK_SOURCE = { channel: 'control-link' as const };
/** Words for each refusal, shown on the page and in JSON answers. */
export const CONTROL_LINK_REFUSALS: Record<ControlLinkRefusal, string> = {
  malformed: 'This link is incomplete. Open the link from the notification as it was sent.',
  'bad-signature': 'This link is not valid. Open the link from the notification as it was sent.',
  expired: 'This link has expired. Use the dashboard or the control API (runbook pause / abort).',
  used: 'This link was already used: each link acts once.',
  'not-found': 'There is no such execution.',
  finished: 'The execution has already finished; there is nothing to pause or abort.',
  conflict: 'The execution cannot do that now.',
};

/** What the GET page shows: the execution, the action the link offers, and whether it can still act. */
export interface ControlLinkView {
  action: ControlLinkAction;
  recipient: string;
  expiresAt: string;
  execution: ExecutionRecord;
  /** The latest attempt of every step so far. */
  steps: StepOutcome[];
  canAct: boolean;
  /** Why it cannot act (already used, execution finished). */
  blocked?: ControlLinkRefusal;
  usedAt?: string;
}

export type ControlLinkViewResult =
  | { ok: true; view: ControlLinkView }
  | { ok: false; reason: ControlLinkRefusal; message: string };
export type ControlLinkActResult =
  | { ok: true; execution: ExecutionRecord; message: string }
  | { ok: false; reason: ControlLinkRefusal; message: string };

/**
 * Signed pause/abort links: made for each recipient of an escalation or approval notification, shown
 * by GET, used by POST once. The action goes through the ControlService, as the dashboard's does.
 */
export class ControlLinkService {
  constructor(
    private readonly deps: {
      control: ControlService;
      store: Store;
      uses: ControlLinkUses;
      signingKeys: LinkSigningKeys;
      clock: Clock;
      logger: Logger;
      config: Pick<RuntimeConfig, 'publicBaseUrl' | 'approvalLinkTtlSeconds'>;
    },
  ) {}

  /** A pause link and an abort link for one recipient, expiring with the notification's other links. */
  async linksFor(
    executionId: string,
    recipient: string,
    expiresAtSeconds?: number,
  ): Promise<Array<{ label: string; url: string }>> {
    const { clock, config, signingKeys } = this.deps;
    const expiresAt =
      expiresAtSeconds ?? Math.floor(clock.now().getTime() / 1_000) + config.approvalLinkTtlSeconds;
    const key = await signingKeys.signing();
    return ControlLinkAction.map((action) => ({
      label: action === 'pause' ? 'Pause this execution' : 'Abort this execution (rolls back)',
      url: controlLinkUrl(
        config.publicBaseUrl,
        { executionId, action, recipient, expiresAt, nonce: newControlLinkNonce() },
        key,
      ),
    }));
  }

  private async verify(
    executionId: string,
    action: string,
    link: ControlLinkParameters,
  ): Promise<{ ok: true; claims: ControlLinkClaims } | { ok: false; reason: ControlLinkRefusal }> {
    const { signingKeys, clock } = this.deps;
    const nowSeconds = Math.floor(clock.now().getTime() / 1_000);
    let verified = verifyControlLink(
      { executionId, action },
      link,
      await signingKeys.verifying(),
      nowSeconds,
    );
    // Signed with a key this reader has not seen yet (rotated meanwhile): ask the key store again.
    if (!verified.ok && verified.reason === 'bad-signature')
      verified = verifyControlLink(
        { executionId, action },
        link,
        await signingKeys.verifying({ recheck: true }),
        nowSeconds,
      );
    return verified;
  }

  async view(
    executionId: string,
    action: string,
    link: ControlLinkParameters,
  ): Promise<ControlLinkViewResult> {
    const verified = await this.verify(executionId, action, link);
    if (!verified.ok) return refused(verified.reason);
    const { claims } = verified;
    const { store, uses } = this.deps;
    const [execution, outcomes, used] = await Promise.all([
      store.getExecution(executionId),
      store.listStepOutcomes(executionId),
      uses.get(claims.nonce),
    ]);
    if (!execution) return refused('not-found');
    const latest = new Map<string, StepOutcome>();
    for (const outcome of outcomes) latest.set(`${outcome.kind}:${outcome.stepId}`, outcome);
    const blocked: ControlLinkRefusal | undefined = used
      ? 'used'
      : TERMINAL_STATUSES.has(execution.status)
        ? 'finished'
        : undefined;
    return {
      ok: true,
      view: {
        action: claims.action,
        recipient: claims.recipient,
        expiresAt: new Date(claims.expiresAt * 1_000).toISOString(),
        execution: withoutToken(execution),
        steps: [...latest.values()],
        canAct: !blocked,
        ...(blocked ? { blocked } : {}),
        ...(used ? { usedAt: used.usedAt } : {}),
      },
    };
  }

  /** Pauses or aborts, once per link: the use is claimed first and given back if the action is refused. */
  async act(
    executionId: string,
    action: string,
    link: ControlLinkParameters,
    reason?: string,
  ): Promise<ControlLinkActResult> {
    const verified = await this.verify(executionId, action, link);
    if (!verified.ok) return refused(verified.reason);
    const { claims } = verified;
    const { uses, control, clock, logger } = this.deps;
    const use: ControlLinkUse = {
      nonce: claims.nonce,
      executionId,
      action: claims.action,
      recipient: claims.recipient,
      usedAt: clock.now().toISOString(),
      expiresAt: new Date(claims.expiresAt * 1_000).toISOString(),
    };
    if (!(await uses.claim(use))) return refused('used');
    const by = `${claims.recipient} (signed link)`;
    const why = reason?.trim() || `${claims.action} from the link in a notification`;
    try {
      const execution =
        claims.action === 'pause'
          ? await control.pause(executionId, by, why, CONTROL_LINK_SOURCE)
          : await control.abort(executionId, by, why, CONTROL_LINK_SOURCE);
      logger.info('control link used', { executionId, action: claims.action, recipient: claims.recipient });
      return {
        ok: true,
        execution,
        message:
          claims.action === 'pause'
            ? 'Paused: the execution holds at its next checkpoint until someone resumes it (dashboard or runbook resume).'
            : 'Abort requested: the running step stops, pending approvals are cancelled and the completed changes are rolled back.',
      };
    } catch (error) {
      // Refused: this link did nothing, so it may still be used (e.g. abort after a pause).
      await uses.release(use);
      if (error instanceof NotFoundError) return refused('not-found');
      if (error instanceof ControlConflictError)
        return {
          ok: false,
          reason: /already (succeeded|failed|aborted)/.test(error.message) ? 'finished' : 'conflict',
          message: error.message,
        };
      throw error;
    }
  }
}

function refused(reason: ControlLinkRefusal): { ok: false; reason: ControlLinkRefusal; message: string } {
  return { ok: false, reason, message: CONTROL_LINK_REFUSALS[reason] };
}

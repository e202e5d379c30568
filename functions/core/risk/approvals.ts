import type { Clock } from '../../ports/clock.ts';
import type { ExecutionEngine } from '../../ports/execution-engine.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import { parseApprovalPublicId } from '../approval-links.ts';
import type { RuntimeConfig } from '../config.ts';
import { AslErrorName, StateError, TaskTokenExpiredError } from '../errors.ts';
import type { RiskApprovalTask } from '../execution-contract.ts';
import { TERMINAL_STATUSES } from '../records.ts';
import type { ApprovalService } from '../services/approvals.ts';

/** The requirement name approvals asked by the risk policy carry (no runbook requirement has it: ids are kebab-case words). */
export const RISK_POLICY_REQUIREMENT = 'risk-policy';

/**
 * Asks for the approval a checkpoint's risk score needs: an ordinary approval request (one link per
 * approver, one or two approvers from the risk policy's groups, expiring after its approvalTimeout),
 * holding the checkpoint's task token: approving releases the execution, rejecting fails it.
 */
export class RiskApprovals {
  constructor(
    private readonly options: {
      approvals: ApprovalService;
      config: RuntimeConfig;
      store: Store;
      engine: ExecutionEngine;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  async request(payload: RiskApprovalTask) {
    const { config, approvals } = this.options;
    const { execution, alert, approval } = payload;
    const groups = config.policy.risk.approverGroups;
    if (groups.length === 0) {
      const error = new StateError(
        'Approval.Unroutable',
        `the risk policy of ${config.environment} asks for an approval before ${approval.target.id} but names no approver group; set policy.risk.approverGroups`,
      );
      error.stack = `${error.name}: ${error.message}`;
      throw error;
    }
    return approvals.request({
      kind: 'approval',
      taskToken: payload.taskToken,
      execution,
      alert,
      steps: {},
      groups: {},
      approval: {
        requirement: RISK_POLICY_REQUIREMENT,
        target: approval.target,
        approverGroups: groups,
        quorum: approval.quorum,
        timeoutSeconds: config.policy.risk.approvalTimeout,
        risk: approval.risk,
        plan: approval.plan,
      },
    });
  }

  /**
   * Expires the risk policy's approvals nobody decided in time: a checkpoint holds their token (for up to
   * a day), so the expiry is sent here: Approval.Expired, and the execution rolls back and escalates. Runs
   * on the approval reminders' schedule.
   */
  async expireOverdue(): Promise<{ expired: number }> {
    const { store, engine, clock, logger } = this.options;
    const now = clock.now();
    const horizon = now.getTime() - EXPIRY_HORIZON_MS;
    let expired = 0;
    let cursor: string | undefined;
    do {
      const page = await store.listExecutions({ limit: 100, ...(cursor ? { cursor } : {}) });
      for (const execution of page.executions) {
        if (TERMINAL_STATUSES.has(execution.status)) continue;
        for (const approval of await store.listApprovals(execution.id)) {
          if (approval.requirement !== RISK_POLICY_REQUIREMENT || approval.status !== 'pending') continue;
          if (Date.parse(approval.expiresAt) > now.getTime()) continue;
          const approvalKey = parseApprovalPublicId(approval.id)?.approvalKey;
          if (!approvalKey) continue;
          // Closed once: only the caller that closed it sends the failure.
          const closed = await store.closeApproval(execution.id, approvalKey, 'expired', now.toISOString());
          if (closed?.status !== 'expired') continue;
          try {
            await engine.sendTaskFailure(approval.taskToken, {
              error: AslErrorName.ApprovalExpired,
              cause: `no decision on the approval the risk policy asked before ${approval.target.id} by ${approval.expiresAt}`,
            });
          } catch (error) {
            if (!(error instanceof TaskTokenExpiredError)) throw error;
          }
          expired++;
          logger.info('risk approval expired', { executionId: execution.id, approvalId: approval.id });
        }
      }
      const last = page.executions.at(-1);
      cursor = last && Date.parse(last.startedAt) >= horizon ? page.cursor : undefined;
    } while (cursor);
    return { expired };
  }
}

/** How far back the expiry sweep looks (a checkpoint holds an execution at most a day). */
const EXPIRY_HORIZON_MS = 2 * 86_400_000;

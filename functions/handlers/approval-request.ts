import middy from '@middy/core';
import { ApprovalTask, RiskApprovalTask, TaskKind } from '../core/execution-contract.ts';
import type { RiskApprovals } from '../core/risk/approvals.ts';
import type { ApprovalService } from '../core/services/approvals.ts';
import type { Logger } from '../ports/logger.ts';
import { parseValue } from './http.ts';
import { taskErrors } from './task.ts';

/** The EventBridge schedule's event (every minute): time to remind approvers who have not answered. */
export function isReminderSchedule(event: unknown): boolean {
  const candidate = event as { source?: unknown; 'detail-type'?: unknown } | null;
  return candidate?.source === 'aws.events' && candidate['detail-type'] === 'Scheduled Event';
}

/**
 * The approval-request Lambda (`.waitForTaskToken`): stores the request with its token and e-mails
 * each approver a signed link. The execution waits until the approval-web function sends the token.
 * Its schedule (an EventBridge rule, every minute) reminds approvers who have not answered in time.
 */
export function createApprovalRequestHandler(options: {
  approvals: ApprovalService;
  /** Approvals the environment's risk policy asks for at checkpoints, and their expiry. */
  riskApprovals?: RiskApprovals;
  logger: Logger;
}) {
  return middy(async (event: unknown) => {
    if (isReminderSchedule(event)) {
      const reminded = await options.approvals.remindOverdue();
      return options.riskApprovals
        ? { ...reminded, ...(await options.riskApprovals.expireOverdue()) }
        : reminded;
    }
    if ((event as { kind?: unknown } | null)?.kind === TaskKind.RiskApproval && options.riskApprovals)
      return options.riskApprovals.request(
        parseValue(RiskApprovalTask, event, 'the risk approval task payload'),
      );
    const payload = parseValue(ApprovalTask, event, 'the approval task payload');
    return options.approvals.request(payload);
  }).use(taskErrors(options.logger, 'approval request'));
}

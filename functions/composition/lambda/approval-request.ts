import { createApprovalRequestHandler } from '../../handlers/approval-request.ts';
import { approvalsWiring } from '../aws.ts';

/**
 * The approval-request Lambda's handler and only the wiring it uses: named imports, so the bundle leaves out what
 * the other functions build (functions/lambda/approval-request.ts loads this module on the first event).
 */
export function buildApprovalRequestHandler() {
  return createApprovalRequestHandler(approvalsWiring());
}

import { createApprovalWebHandler } from '../../handlers/approval-web.ts';
import { approvalsWiring } from '../aws.ts';

/**
 * The approval-web Lambda's handler and only the wiring it uses: named imports, so the bundle leaves out what
 * the other functions build (functions/lambda/approval-web.ts loads this module on the first event).
 */
export function buildApprovalWebHandler() {
  return createApprovalWebHandler(approvalsWiring());
}

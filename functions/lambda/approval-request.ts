import { lazyHandler } from './lazy.ts';

/**
 * The approval-request Lambda's entry: its handler and wiring load during init (top-level await), so the first
 * event pays for none of it; the handler is built, reading the environment, on the first event.
 */
const { buildApprovalRequestHandler } = await import('../composition/lambda/approval-request.ts');

export const handler = lazyHandler(buildApprovalRequestHandler);

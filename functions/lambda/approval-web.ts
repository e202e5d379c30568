import { lazyHandler } from './lazy.ts';

/**
 * The approval-web Lambda's entry: its handler and wiring load during init (top-level await), so the first
 * event pays for none of it; the handler is built, reading the environment, on the first event.
 */
const { buildApprovalWebHandler } = await import('../composition/lambda/approval-web.ts');

export const handler = lazyHandler(buildApprovalWebHandler);

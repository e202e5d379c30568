import { lazyHandler } from './lazy.ts';

/** The approval-request Lambda's entry: nothing else is loaded until the first event (see lazy.ts). */
export const handler = lazyHandler(async () =>
  (await import('../composition/lambda/approval-request.ts')).buildApprovalRequestHandler(),
);

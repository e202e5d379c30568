import type middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Logger } from '../ports/logger.ts';

/** Epoch ms by which a Lambda invocation must answer; no limit when invoked locally. */
export function deadlineOf(context: Partial<Context> | undefined): number {
  const remaining = context?.getRemainingTimeInMillis?.();
  return typeof remaining === 'number' ? Date.now() + remaining : Number.POSITIVE_INFINITY;
}

/**
 * For handlers Step Functions or EventBridge invoke: log the failure, and keep the error's name (the
 * ASL error the machine matches) while dropping its stack, so no trace reaches an execution's Cause.
 */
export function taskErrors<TEvent, TResult>(
  logger: Logger,
  what: string,
): middy.MiddlewareObj<TEvent, TResult> {
  return {
    onError: async function taskErrorsOnError(request) {
      const error = request.error;
      if (!error) return;
      // A named failure (a tool failed, an approval was rejected) is the machine's business: info.
      const expected =
        /^(Runbook|Tool|Safety|Approval|Verification)\./.test(error.name) ||
        error.name === 'InvalidEventError';
      (expected ? logger.info : logger.warn).call(logger, `${what} failed`, {
        error: error.message,
        name: error.name,
      });
      error.stack = `${error.name}: ${error.message}`;
    },
  };
}

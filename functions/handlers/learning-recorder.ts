import middy from '@middy/core';
import { epochMillisToIso, parseStepFunctionsStatusEvent } from '../core/classifier/payloads.ts';
import type { DeferredAlerts } from '../core/services/deferred-alerts.ts';
import type { LearningService } from '../core/services/learning.ts';
import type { Logger } from '../ports/logger.ts';
import { taskErrors } from './task.ts';

/** Its EventBridge schedule's event (every minute): time to sweep the deferred alerts. */
function isSchedule(event: unknown): boolean {
  const candidate = event as { source?: unknown; 'detail-type'?: unknown } | null;
  return candidate?.source === 'aws.events' && candidate['detail-type'] === 'Scheduled Event';
}

/**
 * The learning-recorder Lambda: Step Functions execution status changes -> final record and aggregates.
 * Its schedule (an EventBridge rule, every minute) sweeps alerts deferred behind an expired change lock.
 */
export function createLearningRecorderHandler(options: {
  learning: LearningService;
  logger: Logger;
  deferredAlerts?: Pick<DeferredAlerts, 'sweepExpired'>;
}) {
  return middy(async (event: unknown) => {
    if (isSchedule(event)) return options.deferredAlerts?.sweepExpired() ?? { swept: false };
    const { detail } = parseStepFunctionsStatusEvent(event);
    return options.learning.executionStopped({
      executionId: detail.name,
      status: detail.status,
      engineRef: detail.executionArn,
      ...(detail.stopDate === null ? {} : { stoppedAt: epochMillisToIso(detail.stopDate) }),
      ...(detail.error ? { error: detail.error } : {}),
      ...(detail.cause ? { cause: detail.cause } : {}),
    });
  }).use(taskErrors(options.logger, 'learning record'));
}

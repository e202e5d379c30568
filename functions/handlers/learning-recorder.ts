import middy from '@middy/core';
import { epochMillisToIso, parseStepFunctionsStatusEvent } from '../core/classifier/payloads.ts';
import type { LearningService } from '../core/services/learning.ts';
import type { Logger } from '../ports/logger.ts';
import { taskErrors } from './task.ts';

/** The learning-recorder Lambda: Step Functions execution status changes -> final record and aggregates. */
export function createLearningRecorderHandler(options: { learning: LearningService; logger: Logger }) {
  return middy(async (event: unknown) => {
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

import middy from '@middy/core';
import { Alert } from '../core/alert.ts';
import { type NormalizeOptions, normalizeCloudWatchAlarm } from '../core/classifier/normalize.ts';
import { DetailType, parseEventBridgeEvent } from '../core/classifier/payloads.ts';
import { InvalidEventError } from '../core/errors.ts';
import { ALERT_DETAIL_TYPE, INGEST_SOURCE } from '../core/routing.ts';
import type { ClassifierResult, ClassifierService } from '../core/services/classifier.ts';
import type { Logger } from '../ports/logger.ts';
import { parseValue } from './http.ts';
import { taskErrors } from './task.ts';

/** The alert an EventBridge event carries: a CloudWatch alarm change, or an alert the ingest normalized. */
export function alertOf(event: unknown, options: NormalizeOptions): Alert {
  const envelope = parseEventBridgeEvent(event);
  if (
    envelope.source === 'aws.cloudwatch' &&
    envelope['detail-type'] === DetailType.CloudWatchAlarmStateChange
  ) {
    return normalizeCloudWatchAlarm(event, options);
  }
  if (envelope.source === INGEST_SOURCE && envelope['detail-type'] === ALERT_DETAIL_TYPE) {
    return parseValue(Alert, envelope.detail.alert, 'detail.alert');
  }
  throw new InvalidEventError(
    `the classifier takes CloudWatch alarm changes and ingested alerts, not ${envelope.source} "${envelope['detail-type']}"`,
    [
      {
        check: 'event',
        path: 'detail-type',
        message: `unexpected ${envelope.source} event "${envelope['detail-type']}"`,
      },
    ],
  );
}

/**
 * The classifier Lambda (EventBridge target). A malformed event raises InvalidEventError: the function
 * is deployed without async retries, so it goes to the dead-letter queue at once, never a retry loop.
 */
export function createClassifierHandler(options: {
  classifier: ClassifierService;
  normalize: NormalizeOptions;
  logger: Logger;
}) {
  return middy(
    async (event: unknown): Promise<ClassifierResult> =>
      options.classifier.classify(alertOf(event, options.normalize)),
  ).use(taskErrors(options.logger, 'classification'));
}

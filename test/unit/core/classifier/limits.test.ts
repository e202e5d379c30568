import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALERT_LIMITS } from '../../../../functions/core/alert.ts';
import { normalizeCloudWatchAlarm } from '../../../../functions/core/classifier/normalize.ts';
import { InvalidEventError } from '../../../../functions/core/errors.ts';
import { copy, OPTIONS, payload } from './fixtures.ts';

/**
 * A CloudWatch alarm event is refused when a name or value that goes into keys exceeds ALERT_LIMITS
 * (normalize skips measuring when every such text is short enough by its length alone): over generated
 * events whose alarm name, resources, dimensions and tags are long texts of 1- to 4-byte characters
 * around the limits, the event is refused exactly when one of them is over its limit in UTF-8 bytes.
 */

const FIXTURE = payload('cloudwatch-alarm-alb-5xx.json') as {
  resources: string[];
  detail: {
    alarmName: string;
    alarmTags?: Record<string, string>;
    configuration: { metrics: Array<{ metricStat?: { metric: { dimensions: Record<string, string> } } }> };
  };
};

/** Text of `count` copies of one character (1, 2, 3 or 4 bytes in UTF-8), counts around `limit`'s edges. */
const text = (limit: number) =>
  fc
    .record({
      character: fc.constantFrom('a', 'é', '€', '😀'),
      bytes: fc.oneof(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: Math.floor(limit / 3) - 4, max: limit + 8 }),
      ),
    })
    .map(({ character, bytes }) =>
      character.repeat(Math.max(1, Math.ceil(bytes / Buffer.byteLength(character)))),
    );

const over = (value: string, limit: number) => Buffer.byteLength(value, 'utf8') > limit;

describe('CloudWatch alert limits', () => {
  it('refuses an event exactly when a name or limited value is over its limit in bytes', () => {
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.record({
          alarmName: text(ALERT_LIMITS.nameBytes),
          resources: fc.array(text(ALERT_LIMITS.resourceFieldBytes), { maxLength: 2 }),
          dimension: fc.record({
            name: text(ALERT_LIMITS.fieldNameBytes),
            value: text(ALERT_LIMITS.resourceFieldBytes),
          }),
          tagName: fc.option(text(ALERT_LIMITS.fieldNameBytes), { nil: undefined }),
          environment: fc.option(text(ALERT_LIMITS.resourceFieldBytes), { nil: undefined }),
        }),
        ({ alarmName, resources, dimension, tagName, environment }) => {
          const event = copy(FIXTURE);
          event.detail.alarmName = alarmName;
          event.resources = [...event.resources, ...resources];
          const metric = event.detail.configuration.metrics.find((candidate) => candidate.metricStat)!;
          metric.metricStat!.metric.dimensions[dimension.name] = dimension.value;
          const tags: Record<string, string> = {};
          if (tagName !== undefined) tags[tagName] = 'tagged';
          if (environment !== undefined) tags.environment = environment;
          event.detail.alarmTags = tags;
          const expected =
            over(alarmName, ALERT_LIMITS.nameBytes) ||
            event.resources.some((resource) => over(resource, ALERT_LIMITS.resourceFieldBytes)) ||
            over(dimension.name, ALERT_LIMITS.fieldNameBytes) ||
            over(dimension.value, ALERT_LIMITS.resourceFieldBytes) ||
            (tagName !== undefined && over(tagName, ALERT_LIMITS.fieldNameBytes)) ||
            (environment !== undefined && over(environment, ALERT_LIMITS.resourceFieldBytes));
          let error: unknown;
          try {
            normalizeCloudWatchAlarm(event, OPTIONS);
          } catch (thrown) {
            error = thrown;
          }
          if (expected) {
            expect(error).toBeInstanceOf(InvalidEventError);
            expect((error as Error).message).toMatch(/bytes.*accepted/);
            refused++;
          } else {
            expect(error).toBeUndefined();
            accepted++;
          }
        },
      ),
      { numRuns: 400, seed: 20 },
    );
    expect(refused).toBeGreaterThan(40);
    expect(accepted).toBeGreaterThan(50);
  });
});

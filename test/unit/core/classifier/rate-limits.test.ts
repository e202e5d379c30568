import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { concurrencySlotKey } from '../../../../functions/core/classifier/identity.ts';
import { normalizeCloudWatchAlarm } from '../../../../functions/core/classifier/normalize.ts';
import { RunbookSelector } from '../../../../functions/core/classifier/select.ts';
import type { Runbook } from '../../../../functions/core/runbook/model.ts';
import { ClassifierService } from '../../../../functions/core/services/classifier.ts';
import { type AwsHarness, startAwsHarness } from '../../../support/aws-harness.ts';
import { loadRunbook, ROOT } from '../../../support/runbooks.ts';

/**
 * The hourly rate limits count executions that started. An alert refused by a later check (the
 * concurrency limit, a cooldown) started nothing, so it must not use up the hour (issue 11: after 2 real
 * executions, later alerts were refused by the rate limit).
 */

const RUNBOOK = 'ec2-status-check-failed';

/** The EC2 status-check alarm of instance `n` (its own alarm, its own resource). */
function alarmOf(n: number) {
  const event = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/alerts/cloudwatch-alarm-ec2-status-check.json'), 'utf8'),
  );
  const name = `shop-web-${n}-status-check-failed`;
  const instance = `i-0a1b2c3d4e5f6071${n}`;
  event.resources = [`arn:aws:cloudwatch:eu-west-1:333333333333:alarm:${name}`];
  event.detail.alarmName = name;
  event.detail.configuration.metrics[0].metricStat.metric.dimensions.InstanceId = instance;
  return event;
}

describe('rate limits and refused attempts', () => {
  let harness: AwsHarness;
  let classifier: ClassifierService;
  let runbook: Runbook;

  beforeEach(async () => {
    harness = await startAwsHarness();
    runbook = loadRunbook(`runbooks/${RUNBOOK}.yaml`);
    runbook.safetyLimits = {
      ...runbook.safetyLimits,
      maxExecutionsPerHour: 2,
      maxExecutionsPerResourcePerHour: 1,
      maxConcurrentExecutions: 1,
      cooldown: 0,
    };
    classifier = new ClassifierService({
      store: harness.store,
      engine: harness.engine,
      notifier: harness.notifier,
      clock: harness.clock,
      logger: harness.logger,
      config: harness.config,
      selector: new RunbookSelector([runbook]),
    });
  });
  afterEach(() => harness.stop());

  const classify = (n: number) =>
    classifier.classify(normalizeCloudWatchAlarm(alarmOf(n), harness.normalize));
  /** An execution ends: its concurrency slot is free again (the learning recorder does this). */
  const finish = (executionId: string) => harness.store.releaseSlot(concurrencySlotKey(RUNBOOK), executionId);

  it('does not count alerts refused by the concurrency limit against executions per hour', async () => {
    // Act: one runs; three more are refused because one may run at a time; it ends; the next starts
    const first = await classify(1);
    const refused = [await classify(2), await classify(3), await classify(4)];
    await finish(first.executionId!);
    const second = await classify(5);

    // Assess
    expect(first.decision).toBe('started');
    expect(refused.map((result) => result.decision)).toEqual(['blocked', 'blocked', 'blocked']);
    expect(refused.map((result) => result.reason)).toEqual(
      Array(3).fill(`concurrency limit: 1 execution of ${RUNBOOK} running (max 1)`),
    );
    expect(second).toMatchObject({ decision: 'started' });
  });

  it('still refuses by the rate limit once as many executions as it allows have started', async () => {
    // Act: two start (one at a time), a third in the same hour is refused by the hourly limit
    const first = await classify(1);
    await finish(first.executionId!);
    const second = await classify(2);
    await finish(second.executionId!);
    const third = await classify(3);

    // Assess
    expect([first.decision, second.decision]).toEqual(['started', 'started']);
    expect(third).toMatchObject({
      decision: 'blocked',
      reason: expect.stringMatching(/^rate limit: 2 executions/),
    });
  });

  it('does not count an alert refused by the resource rate limit against the runbook rate', async () => {
    // Act: the same instance again in the hour: its alarm resolves, then fires again (a new incident)
    const first = await classify(1);
    await finish(first.executionId!);
    const resolved = alarmOf(1);
    resolved.detail.previousState = resolved.detail.state;
    resolved.detail.state = {
      ...resolved.detail.state,
      value: 'OK',
      timestamp: '2026-11-25T10:30:12.000+0000',
    };
    await classifier.classify(normalizeCloudWatchAlarm(resolved, harness.normalize));
    const again = alarmOf(1);
    again.detail.state.timestamp = '2026-11-25T10:40:12.000+0000';
    const refused = await classifier.classify(normalizeCloudWatchAlarm(again, harness.normalize));
    const other = await classify(2);

    // Assess
    expect(refused).toMatchObject({
      decision: 'blocked',
      reason: expect.stringMatching(/^rate limit: 1 execution .* on /),
    });
    expect(other.decision).toBe('started');
  });
});

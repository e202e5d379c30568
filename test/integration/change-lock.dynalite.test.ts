import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoChangeLocks } from '../../functions/adapters/aws/dynamo-change-locks.ts';
import type { Alert } from '../../functions/core/alert.ts';
import { resourceKey } from '../../functions/core/classifier/identity.ts';
import { normalizeAlertmanager } from '../../functions/core/classifier/normalize.ts';
import { RunbookSelector } from '../../functions/core/classifier/select.ts';
import { CHECKPOINT_HOLD_SECONDS } from '../../functions/core/compiler/compile.ts';
import type { Runbook } from '../../functions/core/runbook/model.ts';
import { CheckpointService } from '../../functions/core/services/checkpoint.ts';
import { ClassifierService } from '../../functions/core/services/classifier.ts';
import { DeferredAlerts } from '../../functions/core/services/deferred-alerts.ts';
import { LearningService } from '../../functions/core/services/learning.ts';
import { alertOf } from '../../functions/handlers/classifier.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import { type AwsHarness, startAwsHarness } from '../support/aws-harness.ts';
import { loadRunbook, ROOT } from '../support/runbooks.ts';

/**
 * The per-resource change lock on the real DynamoDB API (dynalite): two runbooks on the same pod, the
 * second alert deferred while the first runs, the lock given back when it stops and the deferred alert
 * classified again through the bus; a stale lock taken over after its expiry; racing claims.
 */

const webhook = JSON.parse(
  readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-crashloop.json'), 'utf8'),
) as {
  status: string;
  alerts: Array<{ labels: Record<string, string>; fingerprint: string; status: string; endsAt: string }>;
};

/** The same pod's KubePodNotReady (or its crash loop), as Alertmanager would send it. */
function podAlert(
  name: 'KubePodCrashLooping' | 'KubePodNotReady',
  status: 'firing' | 'resolved' = 'firing',
  startsAt?: string,
) {
  const body = structuredClone(webhook) as typeof webhook & { alerts: Array<{ startsAt: string }> };
  body.status = status;
  const alert = body.alerts[0]!;
  if (startsAt) alert.startsAt = startsAt;
  alert.labels = { ...alert.labels, alertname: name };
  alert.fingerprint = name === 'KubePodCrashLooping' ? '1b92959b929d36fb' : '2c03a6ac03ae47ac';
  alert.status = status;
  if (status === 'resolved') alert.endsAt = '2026-11-25T12:10:00Z';
  return body;
}

/** A second runbook answering KubePodNotReady: the same steps, so it also changes the pod. */
function podNotReady(crash: Runbook): Runbook {
  const runbook = structuredClone(crash);
  runbook.id = 'pod-not-ready';
  runbook.name = 'Pod not ready';
  runbook.applicabilityRules = [
    {
      ...runbook.applicabilityRules[0]!,
      id: 'kube-pod-not-ready',
      pattern: { source: ['prometheus'], name: ['KubePodNotReady'] },
    },
  ];
  return runbook;
}

describe('per-resource change lock (dynalite)', () => {
  let harness: AwsHarness;
  let locks: DynamoChangeLocks;
  let classifier: ClassifierService;
  let learning: LearningService;
  let deferred: DeferredAlerts;
  let runbooks: Runbook[];

  beforeEach(async () => {
    harness = await startAwsHarness();
    const crash = loadRunbook('test/fixtures/library/runbooks/pod-crash-looping.yaml');
    runbooks = [crash, podNotReady(crash)];
    locks = new DynamoChangeLocks({ client: harness.table.client, tableName: harness.table.tableName });
    classifier = new ClassifierService({
      store: harness.store,
      engine: harness.engine,
      notifier: harness.notifier,
      clock: harness.clock,
      logger: harness.logger,
      config: harness.config,
      audit: harness.audit,
      selector: new RunbookSelector(runbooks),
      changeLocks: locks,
      tools: TOOL_CATALOG,
    });
    deferred = new DeferredAlerts({
      changeLocks: locks,
      store: harness.store,
      bus: harness.bus,
      clock: harness.clock,
      logger: harness.logger,
    });
    learning = new LearningService({
      store: harness.store,
      clock: harness.clock,
      logger: harness.logger,
      deferredAlerts: deferred,
    });
  });
  afterEach(() => harness.stop());

  const alertsOf = (body: unknown): Alert => normalizeAlertmanager(body, harness.normalize)[0]!;
  const classify = (body: unknown) => classifier.classify(alertsOf(body));
  const stop = (executionId: string, status: 'SUCCEEDED' | 'FAILED' = 'SUCCEEDED') =>
    learning.executionStopped({ executionId, status, engineRef: `arn:execution:${executionId}` });
  /** The events the learning recorder sent to the runbooks bus (to the classifier's rule). */
  const republished = () =>
    harness.events
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? [])
      .map((entry) => ({
        source: entry.Source,
        detailType: entry.DetailType,
        detail: JSON.parse(entry.Detail!),
      }));

  /** The classifier's rule delivering a re-sent alert, as EventBridge would. */
  const redeliver = (event: ReturnType<typeof republished>[number]) =>
    classifier.classify(
      alertOf(
        {
          version: '0',
          id: 'e-redelivered',
          source: event.source,
          'detail-type': event.detailType,
          account: '333333333333',
          region: 'eu-west-1',
          time: harness.clock.now().toISOString(),
          resources: [],
          detail: event.detail,
        },
        harness.normalize,
      ),
    );

  it('sweeps an alert deferred behind a lost holder when its lock expires, and the classifier takes the lock over', async () => {
    // Arrange: the crash loop's run holds the pod and is lost (it never stops); KubePodNotReady waits
    const first = await classify(podAlert('KubePodCrashLooping'));
    const second = await classify(podAlert('KubePodNotReady'));
    const key = resourceKey(alertsOf(podAlert('KubePodNotReady')));
    const held = (await locks.get(key))!;

    // Act: the schedule sweeps a second before the lock expires, then at its expiry
    harness.clock.set(new Date(Date.parse(held.expiresAt) - 1_000).toISOString());
    const early = await deferred.sweepExpired();
    const sentEarly = republished().length;
    harness.clock.set(held.expiresAt);
    const due = await deferred.sweepExpired();
    const events = republished();
    const again = await redeliver(events[0]!);

    // Assess
    expect(second.decision).toBe('deferred');
    expect(early).toEqual({ reconsidered: [], dropped: [], waiting: [] });
    expect(sentEarly).toBe(0);
    expect(due).toEqual({ reconsidered: [second.incidentId], dropped: [], waiting: [] });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      detailType: 'Alert Normalized',
      detail: { deferredBehind: first.executionId },
    });
    expect(again).toMatchObject({
      decision: 'started',
      runbookId: 'pod-not-ready',
      incidentId: second.incidentId,
    });
    expect((await locks.get(key))?.executionId).toBe(again.executionId);
    expect(await locks.listDeferred(key)).toEqual([]);
    expect(await deferred.sweepExpired()).toEqual({ reconsidered: [], dropped: [], waiting: [] });
  });

  it('the sweep drops a deferral behind an expired lock whose alert resolved, and sends nothing', async () => {
    // Arrange
    await classify(podAlert('KubePodCrashLooping'));
    const second = await classify(podAlert('KubePodNotReady'));
    await classify(podAlert('KubePodNotReady', 'resolved'));
    const key = resourceKey(alertsOf(podAlert('KubePodNotReady')));
    harness.clock.set((await locks.get(key))!.expiresAt);

    // Act
    const swept = await deferred.sweepExpired();

    // Assess
    expect(swept).toEqual({ reconsidered: [], dropped: [second.incidentId], waiting: [] });
    expect(republished()).toEqual([]);
    expect(await locks.listDeferred(key)).toEqual([]);
  });

  it('a run paused at a checkpoint keeps its lock past the lock’s own expiry; resumed, it keeps only what the pause did not use', async () => {
    // Arrange: the crash loop's run holds the pod, KubePodNotReady waits behind it
    const checkpoints = new CheckpointService({
      store: harness.store,
      engine: harness.engine,
      clock: harness.clock,
      logger: harness.logger,
      changeLocks: locks,
    });
    const first = await classify(podAlert('KubePodCrashLooping'));
    const second = await classify(podAlert('KubePodNotReady'));
    const key = resourceKey(alertsOf(podAlert('KubePodNotReady')));
    const granted = (await locks.get(key))!;
    const record = (await harness.store.getExecution(first.executionId!))!;
    const context = {
      id: record.id,
      runbookId: record.runbookId,
      runbookVersion: record.runbookVersion,
      incidentId: record.incidentId,
      environment: record.environment,
      dryRun: record.dryRun,
      approvalRiskThreshold: 2,
      changeFreeze: false,
      startedAt: record.startedAt,
    };

    // Act: an operator pauses it; it holds at its next checkpoint and stays paused past its lock's expiry
    await harness.store.requestControl(record.id, {
      pauseRequested: true,
      requestedBy: 'alice',
      requestedAt: harness.clock.now().toISOString(),
    });
    const held = await checkpoints.arrive(context, { before: 'recover', mutating: true }, 'token-1');
    const whileHeld = (await locks.get(key))!;
    harness.clock.set(new Date(Date.parse(granted.expiresAt) + 60_000).toISOString());
    const claim = await locks.acquire({
      resourceKey: key,
      executionId: 'another-run',
      runbookId: 'pod-not-ready',
      acquiredAt: harness.clock.now().toISOString(),
      expiresAt: new Date(harness.clock.now().getTime() + 3_600_000).toISOString(),
    });
    const swept = await deferred.sweepExpired();
    await harness.store.requestControl(record.id, {
      pauseRequested: false,
      requestedBy: 'alice',
      requestedAt: harness.clock.now().toISOString(),
    });
    await checkpoints.release(record.id);
    const afterResume = (await locks.get(key))!;

    // Assess: the pause kept the claim (nobody took it, the deferral waits), and the resumed run has the
    // rest of its bound counted from the resume: the time paused is added, the hold's unused day is not
    expect(held).toEqual({ held: true, reason: 'pause' });
    expect(Date.parse(whileHeld.expiresAt)).toBe(
      Date.parse(granted.expiresAt) + CHECKPOINT_HOLD_SECONDS * 1000,
    );
    expect(claim).toMatchObject({ acquired: false, holder: { executionId: first.executionId } });
    expect(swept).toEqual({ reconsidered: [], dropped: [], waiting: [second.incidentId] });
    expect(republished()).toEqual([]);
    expect(await locks.listDeferred(key)).toMatchObject([
      { incidentId: second.incidentId, behind: first.executionId, holderExpiresAt: whileHeld.expiresAt },
    ]);
    const pausedMs = Date.parse(granted.expiresAt) + 60_000 - Date.parse(granted.acquiredAt);
    expect(afterResume).toMatchObject({ executionId: first.executionId });
    expect(Date.parse(afterResume.expiresAt)).toBe(Date.parse(granted.expiresAt) + pausedMs);
  });

  it('defers the second runbook’s alert on the same pod, says why, and starts it when the first stops', async () => {
    // Act: the crash loop starts pod-crash-looping; KubePodNotReady on the same pod comes while it runs
    const first = await classify(podAlert('KubePodCrashLooping'));
    const second = await classify(podAlert('KubePodNotReady'));
    const key = resourceKey(alertsOf(podAlert('KubePodNotReady')));
    const held = await locks.get(key);
    const deferredIncident = await harness.store.getIncident(second.incidentId!);
    const trail = await harness.audit.query({ resource: key }, { limit: 100 });
    const startsBefore = harness.sfn.commandCalls(StartExecutionCommand).length;
    // The first stops: its lock is given back and the deferred alert goes back to the classifier
    await stop(first.executionId!);
    const events = republished();
    const again = await classifier.classify(
      alertOf(
        {
          version: '0',
          id: 'e-1',
          source: events[0]!.source,
          'detail-type': events[0]!.detailType,
          account: '333333333333',
          region: 'eu-west-1',
          time: '2026-11-25T10:00:00Z',
          resources: [],
          detail: events[0]!.detail,
        },
        harness.normalize,
      ),
    );

    // Assess
    expect(first.decision).toBe('started');
    expect(second).toMatchObject({ decision: 'deferred', runbookId: 'pod-not-ready' });
    expect(second.reason).toBe(
      `${key} is being changed by pod-crash-looping execution ${first.executionId}; this alert is re-evaluated when it ends (its lock expires at ${held!.expiresAt} at the latest)`,
    );
    expect(held).toMatchObject({ executionId: first.executionId, runbookId: 'pod-crash-looping' });
    expect(deferredIncident).toMatchObject({ decision: 'deferred', blockedReason: second.reason });
    expect(
      trail.events.flatMap((event) => (event.kind === 'gate.verdict' ? [[event.gate, event.verdict]] : [])),
    ).toContainEqual(['change-lock', 'deferred']);
    expect(startsBefore).toBe(1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: 'runbook-autopilot.ingest',
      detailType: 'Alert Normalized',
      detail: { deferredBehind: first.executionId },
    });
    expect(again).toMatchObject({
      decision: 'started',
      runbookId: 'pod-not-ready',
      incidentId: second.incidentId,
    });
    expect((await locks.get(key))?.executionId).toBe(again.executionId);
    expect(await locks.listDeferred(key)).toEqual([]);
  });

  it('starts nothing for a deferred alert that resolved while the first ran', async () => {
    // Act
    const first = await classify(podAlert('KubePodCrashLooping'));
    const second = await classify(podAlert('KubePodNotReady'));
    await classify(podAlert('KubePodNotReady', 'resolved'));
    await stop(first.executionId!);

    // Assess: the lock is free, the deferral gone, nothing re-sent, one execution in all
    const key = resourceKey(alertsOf(podAlert('KubePodNotReady')));
    expect(second.decision).toBe('deferred');
    expect(await locks.get(key)).toBeUndefined();
    expect(await locks.listDeferred(key)).toEqual([]);
    expect(republished()).toEqual([]);
    expect(harness.sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('keeps no cooldown for a deferral that never ran: the same runbook starts for the next firing', async () => {
    // Act: deferred behind the crash loop's run, resolved meanwhile, then the pod goes not ready again
    const first = await classify(podAlert('KubePodCrashLooping'));
    const second = await classify(podAlert('KubePodNotReady'));
    await classify(podAlert('KubePodNotReady', 'resolved'));
    await stop(first.executionId!);
    harness.clock.advance(5 * 60_000);
    const next = await classify(podAlert('KubePodNotReady', 'firing', '2026-11-25T10:04:00Z'));

    // Assess: pod-not-ready never ran on the pod, so no cooldown refuses it (its 1h cooldown starts now)
    expect(second.decision).toBe('deferred');
    expect(next).toMatchObject({ decision: 'started', runbookId: 'pod-not-ready' });
    expect(next.incidentId).not.toBe(second.incidentId);
  });

  it('a deferred alert re-evaluated after the holder stopped is not refused by a cooldown of its own', async () => {
    // Act: deferred twice (a repeat), then the holder stops and the alert comes back through the bus
    const first = await classify(podAlert('KubePodCrashLooping'));
    const second = await classify(podAlert('KubePodNotReady'));
    harness.clock.advance(60_000);
    const repeat = await classify(podAlert('KubePodNotReady'));
    harness.clock.advance(60_000);
    await stop(first.executionId!);
    const again = await classify(podAlert('KubePodNotReady'));

    // Assess
    expect([second.decision, repeat.decision]).toEqual(['deferred', 'deferred']);
    expect(again).toMatchObject({ decision: 'started', incidentId: second.incidentId });
  });

  it('a repeat of the deferred alert while the first still runs stays deferred', async () => {
    // Act: Alertmanager repeats the group (repeat_interval)
    await classify(podAlert('KubePodCrashLooping'));
    await classify(podAlert('KubePodNotReady'));
    const repeat = await classify(podAlert('KubePodNotReady'));

    // Assess
    expect(repeat.decision).toBe('deferred');
    expect(harness.sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('a read-only runbook takes no lock and is not deferred', async () => {
    // Arrange: pod-not-ready that only reads (its steps' tools replaced by a read-only one)
    const readOnly = podNotReady(runbooks[0]!);
    readOnly.phases = readOnly.phases.map((phase) => ({
      ...phase,
      steps: phase.steps.map((step) => ({ ...step, tool: 'prometheus.query', compensation: undefined })),
    }));
    readOnly.rollbackProcedures = [];
    classifier = new ClassifierService({
      store: harness.store,
      engine: harness.engine,
      notifier: harness.notifier,
      clock: harness.clock,
      logger: harness.logger,
      config: harness.config,
      selector: new RunbookSelector([runbooks[0]!, readOnly]),
      changeLocks: locks,
      tools: TOOL_CATALOG,
    });

    // Act
    const first = await classify(podAlert('KubePodCrashLooping'));
    const second = await classify(podAlert('KubePodNotReady'));

    // Assess
    expect(first.decision).toBe('started');
    expect(second.decision).toBe('started');
    const key = resourceKey(alertsOf(podAlert('KubePodNotReady')));
    expect((await locks.get(key))?.executionId).toBe(first.executionId);
  });

  it('gives the lock back when the start itself fails (a machine that is not deployed)', async () => {
    // Arrange
    harness.sfn
      .on(StartExecutionCommand)
      .rejects(
        Object.assign(new Error('State Machine Does Not Exist'), { name: 'StateMachineDoesNotExist' }),
      );

    // Act
    const result = await classify(podAlert('KubePodCrashLooping'));

    // Assess
    expect(result.decision).toBe('blocked');
    expect(await locks.get(resourceKey(alertsOf(podAlert('KubePodCrashLooping'))))).toBeUndefined();
  });

  it('takes over a lock whose holder was lost once it expires, not before', async () => {
    // Arrange: a holder that will never stop (its lock expires at 10:30)
    const stale = {
      resourceKey: 'k8s-pod/prod/shop/cart-1',
      executionId: 'lost-run',
      runbookId: 'pod-crash-looping',
      acquiredAt: '2026-11-25T10:00:00.000Z',
      expiresAt: '2026-11-25T10:30:00.000Z',
    };
    await locks.acquire(stale);
    const claim = (at: string) =>
      locks.acquire({
        ...stale,
        executionId: 'next-run',
        runbookId: 'pod-not-ready',
        acquiredAt: at,
        expiresAt: '2026-11-25T12:00:00.000Z',
      });

    // Act
    const early = await claim('2026-11-25T10:29:59.000Z');
    const retried = await locks.acquire({ ...stale, acquiredAt: '2026-11-25T10:10:00.000Z' });
    const late = await claim('2026-11-25T10:30:00.000Z');
    const lostRelease = await locks.release(stale.resourceKey, 'lost-run');

    // Assess
    expect(early).toEqual({ acquired: false, holder: stale });
    expect(retried.acquired).toBe(true);
    expect(late.acquired).toBe(true);
    expect(lostRelease).toBe(false);
    expect((await locks.get(stale.resourceKey))?.executionId).toBe('next-run');
  });

  it('gives exactly one of many concurrent claims the lock', async () => {
    // Act
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        locks.acquire({
          resourceKey: 'k8s-pod/prod/shop/cart-2',
          executionId: `run-${index}`,
          runbookId: index % 2 === 0 ? 'pod-crash-looping' : 'pod-not-ready',
          acquiredAt: '2026-11-25T10:00:00.000Z',
          expiresAt: '2026-11-25T11:00:00.000Z',
        }),
      ),
    );

    // Assess
    const winners = answers.filter((answer) => answer.acquired);
    expect(winners).toHaveLength(1);
    const holder = (await locks.get('k8s-pod/prod/shop/cart-2'))!;
    expect(winners[0]).toMatchObject({ lock: { executionId: holder.executionId } });
    for (const answer of answers.filter((candidate) => !candidate.acquired))
      expect(answer).toEqual({ acquired: false, holder });
  });

  it('keeps a deferral that moved behind a new holder when the old one is removed', async () => {
    // Arrange
    const deferral = {
      resourceKey: 'k8s-pod/prod/shop/cart-3',
      incidentId: 'inc-1',
      behind: 'run-a',
      runbookId: 'pod-not-ready',
      deferredAt: '2026-11-25T10:00:00.000Z',
      holderExpiresAt: '2026-11-25T11:00:00.000Z',
      expiresAt: '2026-11-25T12:00:00.000Z',
    };
    await locks.defer(deferral);
    await locks.defer({ ...deferral, behind: 'run-b', deferredAt: '2026-11-25T10:05:00.000Z' });

    // Act
    await locks.removeDeferred(deferral.resourceKey, 'inc-1', 'run-a');

    // Assess
    expect(await locks.listDeferred(deferral.resourceKey)).toEqual([
      { ...deferral, behind: 'run-b', deferredAt: '2026-11-25T10:05:00.000Z' },
    ]);
  });

  it('takes no lock where the whole deployment runs dry: both alerts start, nothing is held', async () => {
    // Prepare: the same two runbooks, classified by a deployment that changes nothing (no --live)
    const dry = new ClassifierService({
      store: harness.store,
      engine: harness.engine,
      notifier: harness.notifier,
      clock: harness.clock,
      logger: harness.logger,
      config: { ...harness.config, dryRun: true },
      audit: harness.audit,
      selector: new RunbookSelector(runbooks),
      changeLocks: locks,
      tools: TOOL_CATALOG,
    });

    // Act
    const first = await dry.classify(alertsOf(podAlert('KubePodCrashLooping')));
    const second = await dry.classify(alertsOf(podAlert('KubePodNotReady')));

    // Assess
    expect(first.decision).toBe('started');
    expect(second).toMatchObject({ decision: 'started', runbookId: 'pod-not-ready' });
    expect(await locks.get(resourceKey(alertsOf(podAlert('KubePodNotReady'))))).toBeUndefined();
  });
});

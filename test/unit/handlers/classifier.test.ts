import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executionName, incidentId } from '../../../functions/core/classifier/identity.ts';
import { normalizeCloudWatchAlarm } from '../../../functions/core/classifier/normalize.ts';
import { InvalidEventError } from '../../../functions/core/errors.ts';
import { ALERT_DETAIL_TYPE, INGEST_SOURCE } from '../../../functions/core/routing.ts';
import { PENDING_TAKEOVER_MS } from '../../../functions/core/services/classifier.ts';
import { createClassifierHandler } from '../../../functions/handlers/classifier.ts';
import { type AwsHarness, lambdaContext, startAwsHarness } from '../../support/aws-harness.ts';
import { ROOT } from '../../support/runbooks.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(ROOT, 'test/fixtures/alerts', name), 'utf8')) as Record<string, unknown>;

describe('classifier handler', () => {
  let harness: AwsHarness;
  let handler: ReturnType<typeof createClassifierHandler>;

  beforeEach(async () => {
    harness = await startAwsHarness();
    handler = createClassifierHandler({
      classifier: harness.services.classifier,
      normalize: harness.normalize,
      logger: harness.logger,
    });
  });
  afterEach(() => harness.stop());

  it('starts the selected runbook for a CloudWatch alarm, under a deterministic name', async () => {
    // Prepare
    const event = fixture('cloudwatch-alarm-ec2-status-check.json');
    const alert = normalizeCloudWatchAlarm(event, harness.normalize);

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    const name = executionName('ec2-status-check-failed', incidentId(alert));
    expect(result).toMatchObject({
      decision: 'started',
      runbookId: 'ec2-status-check-failed',
      executionId: name,
    });
    const starts = harness.sfn.commandCalls(StartExecutionCommand);
    expect(starts).toHaveLength(1);
    expect(starts[0]!.args[0].input).toMatchObject({
      name,
      stateMachineArn: expect.stringMatching(/:stateMachine:runbook-autopilot-prod-ec2-status-check-failed$/),
    });
    const input = JSON.parse(starts[0]!.args[0].input.input!);
    expect(input).toMatchObject({
      execution: { id: name, environment: alert.environment, approvalRiskThreshold: 2 },
      alert: { name: alert.name },
      steps: {},
      groups: {},
      approvals: {},
    });
    expect(await harness.store.getExecution(name)).toMatchObject({
      status: 'running',
      engineRef: expect.stringContaining(`:execution:`),
    });
    expect(await harness.store.getIncident(incidentId(alert))).toMatchObject({
      decision: 'started',
      executionId: name,
    });
  });

  it('answers a late repeat of a firing whose incident already resolved as resolved, starting nothing', async () => {
    // Prepare: the alarm fired, then resolved; the ALARM notification arrives again (redelivered)
    const firing = fixture('cloudwatch-alarm-ec2-status-check.json');
    const first = await handler(firing, lambdaContext());
    const ok = structuredClone(firing) as { detail: Record<string, Record<string, unknown>> };
    ok.detail.previousState = ok.detail.state!;
    ok.detail.state = { ...ok.detail.state, value: 'OK', timestamp: '2026-11-25T10:40:12.000+0000' };
    await handler(ok, lambdaContext());

    // Act
    const late = await handler(firing, lambdaContext());

    // Assess
    expect(late).toMatchObject({
      decision: 'resolved',
      incidentId: first.incidentId,
      reason: expect.stringMatching(/belongs to an incident resolved at .*starts nothing/),
    });
    expect(harness.sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('starts one execution for an alert storm of 200 duplicate firings', async () => {
    // Prepare
    const event = fixture('cloudwatch-alarm-ec2-status-check.json');

    // Act
    const results = await Promise.all(Array.from({ length: 200 }, () => handler(event, lambdaContext())));

    // Assess
    expect(results.filter((result) => result.decision === 'started')).toHaveLength(1);
    expect(results.filter((result) => result.decision === 'joined')).toHaveLength(199);
    expect(harness.sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it("records a storm's concurrent repeats together, each delivery counted, in fewer audit writes", async () => {
    // Prepare: the incident is open; then 199 repeats arrive at once
    const event = fixture('cloudwatch-alarm-ec2-status-check.json');
    const opened = await handler(event, lambdaContext());

    // Act
    await Promise.all(Array.from({ length: 199 }, () => handler(event, lambdaContext())));

    // Assess
    const { events } = await harness.audit.query({ execution: opened.executionId! }, { limit: 1_000 });
    const joined = events.filter((entry) => entry.kind === 'alert.received' && entry.decision === 'joined');
    const deliveries = joined.map((entry) => (entry.kind === 'alert.received' ? (entry.deliveries ?? 1) : 0));
    expect(deliveries.reduce((sum, count) => sum + count, 0)).toBe(199);
    expect(joined.length).toBeLessThan(20);
    for (const entry of joined)
      if (entry.kind === 'alert.received' && entry.deliveries)
        expect(Date.parse(entry.lastAt!)).toBeGreaterThanOrEqual(Date.parse(entry.at));
  });

  it('keeps repeats that differ apart: another summary is another joined event', async () => {
    // Prepare
    const event = fixture('cloudwatch-alarm-ec2-status-check.json');
    const opened = await handler(event, lambdaContext());
    const reworded = structuredClone(event) as { detail: { state: { reason: string } } };
    reworded.detail.state.reason = 'Threshold Crossed: 2 datapoints were greater than the threshold';

    // Act
    await Promise.all([
      ...Array.from({ length: 10 }, () => handler(event, lambdaContext())),
      ...Array.from({ length: 10 }, () => handler(reworded, lambdaContext())),
    ]);

    // Assess
    const { events } = await harness.audit.query({ execution: opened.executionId! }, { limit: 1_000 });
    const bySummary = new Map<string, number>();
    for (const entry of events)
      if (entry.kind === 'alert.received' && entry.decision === 'joined')
        bySummary.set(
          entry.alert.summary,
          (bySummary.get(entry.alert.summary) ?? 0) + (entry.deliveries ?? 1),
        );
    expect([...bySummary.values()]).toEqual([10, 10]);
  });

  it('treats ExecutionAlreadyExists as the duplicate it is, not an error', async () => {
    // Prepare
    harness.sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists' }));
    harness.sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => ({
      executionArn: input.executionArn,
      stateMachineArn: input.executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''),
      name: input.executionArn.split(':').at(-1),
      status: 'RUNNING',
      startDate: new Date('2026-11-25T09:59:00Z'),
    }));
    const event = fixture('cloudwatch-alarm-ec2-status-check.json');

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    expect(result.decision).toBe('started');
  });

  it('lets a throttled start fail for a retry, and a later retry takes the abandoned incident over', async () => {
    // Prepare
    harness.sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const event = fixture('cloudwatch-alarm-ec2-status-check.json');

    // Act
    await expect(handler(event, lambdaContext())).rejects.toThrow(/throttl/i);
    harness.sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string }) => ({
      executionArn: `${input.stateMachineArn}:${input.name}`,
      startDate: new Date(),
    }));
    const tooSoon = await handler(event, lambdaContext());
    harness.clock.advance(PENDING_TAKEOVER_MS + 1_000);
    const retried = await handler(event, lambdaContext());

    // Assess
    expect(tooSoon.decision).toBe('joined');
    expect(retried.decision).toBe('started');
  });

  it('records a new incident’s events without looking for earlier copies, and a retry still keeps one of each', async () => {
    // Prepare
    const reads: string[] = [];
    harness.table.client.middlewareStack.add(
      (next, context) => (args) => {
        const key = (args.input as { Key?: { sk?: string } }).Key;
        if (context.commandName === 'GetItemCommand' && key?.sk?.startsWith('ID#')) reads.push(key.sk);
        return next(args);
      },
      { step: 'initialize', name: 'auditMarkerReads' },
    );
    harness.sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const event = fixture('cloudwatch-alarm-ec2-status-check.json');
    const alert = normalizeCloudWatchAlarm(event, harness.normalize);
    const name = executionName('ec2-status-check-failed', incidentId(alert));

    // Act: the first attempt opens the incident and fails to start; a retry takes the incident over
    await expect(handler(event, lambdaContext())).rejects.toThrow(/throttl/i);
    const readsWhenNew = reads.length;
    harness.sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string }) => ({
      executionArn: `${input.stateMachineArn}:${input.name}`,
      startDate: new Date(),
    }));
    harness.clock.advance(PENDING_TAKEOVER_MS + 1_000);
    const retried = await handler(event, lambdaContext());

    // Assess
    expect(readsWhenNew).toBe(0);
    expect(retried.decision).toBe('started');
    expect(reads.length).toBeGreaterThan(0);
    const { events } = await harness.audit.query({ execution: name });
    const kinds = events.map((recorded) => recorded.kind);
    for (const kind of ['alert.received', 'runbook.selected', 'execution.started'])
      expect(kinds.filter((one) => one === kind)).toHaveLength(1);
  });

  it('classifies an ingested Alertmanager alert', async () => {
    // Prepare
    const { normalizeAlertmanager } = await import('../../../functions/core/classifier/normalize.ts');
    const [alert] = normalizeAlertmanager(
      fixture('alertmanager-node-memory-pressure.json'),
      harness.normalize,
    );
    const event = {
      version: '0',
      id: 'e-1',
      'detail-type': ALERT_DETAIL_TYPE,
      source: INGEST_SOURCE,
      account: '333333333333',
      time: '2026-11-25T10:00:00Z',
      region: 'eu-west-1',
      resources: [],
      detail: { alert },
    };

    // Act
    const result = await handler(event, lambdaContext());

    // Assess
    expect(result).toMatchObject({ decision: 'started', runbookId: 'node-memory-pressure' });
  });

  it('resolves the incident when the alarm returns to OK', async () => {
    // Prepare
    await handler(fixture('cloudwatch-alarm-ec2-status-check.json'), lambdaContext());

    // Act
    const result = await handler(fixture('cloudwatch-alarm-ok.json'), lambdaContext());

    // Assess
    expect(result.decision).toBe('resolved');
    if (result.incidentId)
      expect((await harness.store.getIncident(result.incidentId))?.status).toBe('resolved');
  });

  it('records an alert no runbook matches, and starts nothing', async () => {
    // Act
    const result = await handler(fixture('cloudwatch-alarm-lambda-throttles.json'), lambdaContext());

    // Assess
    expect(result.decision).toBe('unmatched');
    expect(harness.sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect((await harness.store.listUnmatched()).map((entry) => entry.name)).toHaveLength(1);
  });

  it('recognizes Watchdog, records it as ignored on purpose and matches nothing, however often it fires', async () => {
    // Prepare
    const watchdog = (startsAt: string) => ({
      version: '4',
      groupKey: '{}:{alertname="Watchdog"}',
      status: 'firing',
      receiver: 'runbook-autopilot',
      groupLabels: { alertname: 'Watchdog' },
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://alertmanager:9093',
      truncatedAlerts: 0,
      alerts: [
        {
          status: 'firing',
          labels: {
            alertname: 'Watchdog',
            severity: 'none',
            prometheus: 'monitoring/kube-prometheus-stack-prometheus',
          },
          annotations: {
            summary:
              'An alert that should always be firing to certify that Alertmanager is working properly.',
          },
          startsAt,
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus:9090/graph?g0.expr=vector%281%29',
          fingerprint: 'e5b3a5b0c3f4d2a1',
        },
      ],
    });

    const { normalizeAlertmanager } = await import('../../../functions/core/classifier/normalize.ts');
    const [alert] = normalizeAlertmanager(watchdog('2026-11-25T10:00:00Z'), harness.normalize);
    const event = {
      version: '0',
      id: 'e-watchdog',
      'detail-type': ALERT_DETAIL_TYPE,
      source: INGEST_SOURCE,
      account: '333333333333',
      time: '2026-11-25T10:00:00Z',
      region: 'eu-west-1',
      resources: [],
      detail: { alert },
    };

    // Act
    const first = await handler(event, lambdaContext());
    const again = await handler({ ...event, id: 'e-watchdog-repeat' }, lambdaContext());

    // Assess
    expect(first).toMatchObject({ decision: 'ignored', reason: expect.stringMatching(/ignores on purpose/) });
    expect(again.decision).toBe('ignored');
    expect((await harness.store.getIncident(first.incidentId!))?.decision).toBe('ignored');
    expect(await harness.store.listUnmatched()).toEqual([]);
    expect(harness.sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses to start while the kill switch is engaged, and tells the default escalation target', async () => {
    // Prepare
    await harness.store.setKillSwitch({
      engaged: true,
      changedBy: 'alice',
      changedAt: '2026-11-25T09:00:00Z',
      reason: 'incident review',
    });

    // Act
    const result = await handler(fixture('cloudwatch-alarm-ec2-status-check.json'), lambdaContext());

    // Assess
    expect(result).toMatchObject({
      decision: 'blocked',
      reason: expect.stringMatching(/^kill switch engaged by alice/),
    });
    expect(harness.sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    const published = harness.sns.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    expect(published[0]!.args[0].input.Message).toMatch(/kill switch engaged by alice/);
  });

  it('rejects a malformed event naming the field, so it goes to the dead-letter queue', async () => {
    // Prepare
    const event = fixture('cloudwatch-alarm-ec2-status-check.json');
    (event.detail as Record<string, unknown>).state = { value: 'BROKEN' };

    // Act
    const act = handler(event, lambdaContext());

    // Assess
    await expect(act).rejects.toBeInstanceOf(InvalidEventError);
    await expect(handler(event, lambdaContext())).rejects.toThrow(/detail\.state/);
  });
});

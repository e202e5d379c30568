import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Alert } from '../../functions/core/alert.ts';
import { approvalPublicId } from '../../functions/core/approval-links.ts';
import {
  ApprovalRecord,
  ExecutionRecord,
  IncidentRecord,
  LearningAggregate,
  Notification,
  StepOutcome,
  summarizeAlert,
} from '../../functions/core/records.ts';
import type { Store } from '../../functions/ports/store.ts';

/**
 * The Store port contract: every method, and the races the platform relies on (dedupe, once-only
 * decisions and checkpoint releases, rate and concurrency limits). `setup` runs before each test and
 * must give an empty store.
 */

// Fixtures (each checked against its schema) ------------------------------------------------------

export function contractAlert(overrides: Partial<Alert> = {}): Alert {
  return Alert.parse({
    source: 'prometheus',
    name: 'NodeFilesystemFilling',
    status: 'firing',
    severity: 'high',
    category: 'resource-exhaustion',
    summary: 'Filesystem /var on ip-10-0-1-23 is 93% full',
    environment: 'staging',
    resource: { type: 'k8s-node', id: 'ip-10-0-1-23', cluster: 'staging-eu' },
    labels: { alertname: 'NodeFilesystemFilling', instance: 'ip-10-0-1-23:9100', mountpoint: '/var' },
    annotations: { summary: 'Filesystem /var on ip-10-0-1-23 is 93% full' },
    fingerprint: 'fp-node-fs-ip-10-0-1-23',
    startsAt: '2024-05-02T17:00:00Z',
    ...overrides,
  });
}

export function contractIncident(overrides: Partial<IncidentRecord> = {}): IncidentRecord {
  const alert = overrides.alert ?? contractAlert();
  return IncidentRecord.parse({
    id: 'inc-0001',
    fingerprint: alert.fingerprint,
    status: 'open',
    alert,
    category: alert.category,
    priority: 'P2',
    firstSeenAt: '2024-05-02T17:00:05Z',
    lastSeenAt: '2024-05-02T17:00:05Z',
    occurrences: 1,
    decision: 'started',
    ...overrides,
  });
}

export function contractExecution(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return ExecutionRecord.parse({
    id: 'exec-0001',
    runbookId: 'node-filesystem-filling',
    runbookVersion: '3',
    incidentId: 'inc-0001',
    environment: 'staging',
    dryRun: false,
    status: 'running',
    alert: summarizeAlert(contractAlert()),
    startedAt: '2024-05-02T17:00:10Z',
    resourceKey: 'k8s-node/ip-10-0-1-23',
    control: { pauseRequested: false, abortRequested: false },
    ...overrides,
  });
}

export function contractStepOutcome(overrides: Partial<StepOutcome> = {}): StepOutcome {
  return StepOutcome.parse({
    executionId: 'exec-0001',
    stepId: 'check-disk',
    kind: 'step',
    name: 'Check disk usage',
    phase: 'diagnose',
    tool: 'k8s.node.exec',
    mutating: false,
    risk: 'low',
    attempt: 1,
    status: 'succeeded',
    startedAt: '2024-05-02T17:00:20Z',
    finishedAt: '2024-05-02T17:00:22Z',
    durationMs: 2000,
    parameters: { node: 'ip-10-0-1-23', command: 'df -h /var' },
    output: { usedPercent: 93 },
    dryRun: false,
    ...overrides,
  });
}

export function contractApproval(
  overrides: Partial<ApprovalRecord> & { approvalKey?: string } = {},
): ApprovalRecord {
  const { approvalKey = 'phase-remediate', ...rest } = overrides;
  const executionId = rest.executionId ?? 'exec-0001';
  return ApprovalRecord.parse({
    id: approvalPublicId(executionId, approvalKey),
    executionId,
    runbookId: 'node-filesystem-filling',
    requirement: 'production-change',
    target: { kind: 'phase', id: 'remediate' },
    environment: 'staging',
    risk: 'high',
    approverGroups: ['sre'],
    approvers: ['alice@example.com', 'bob@example.com', 'carol@example.com'],
    quorum: 2,
    status: 'pending',
    decisions: [],
    requestedAt: '2024-05-02T17:01:00Z',
    expiresAt: '2024-05-02T18:01:00Z',
    taskToken: 'AAAAKgAAAAIAAAAAAAAAAbcTaskToken',
    plan: [
      {
        id: 'drain',
        name: 'Drain node',
        tool: 'k8s.node.drain',
        risk: 'high',
        parameters: { node: 'ip-10-0-1-23' },
      },
    ],
    alert: summarizeAlert(contractAlert()),
    ...rest,
  });
}

export function contractNotification(overrides: Partial<Notification> = {}): Notification {
  return Notification.parse({
    id: 'ntf-0001',
    kind: 'approval-request',
    to: ['alice@example.com'],
    subject: 'Approve node-filesystem-filling on ip-10-0-1-23 (staging)?',
    text: 'runbook-autopilot asks for your approval.',
    links: [{ label: 'Review and decide', url: 'https://runbooks.example.com/approvals/x?sig=abc' }],
    executionId: 'exec-0001',
    sentAt: '2024-05-02T17:01:00Z',
    ...overrides,
  });
}

export function contractLearningAggregate(overrides: Partial<LearningAggregate> = {}): LearningAggregate {
  return LearningAggregate.parse({
    runbookId: 'node-filesystem-filling',
    executions: 4,
    succeeded: 3,
    failed: 1,
    aborted: 0,
    withoutHuman: 2,
    humanIntervention: 2,
    rollbacks: 1,
    rollbackFailures: 0,
    meanTimeToRecoverMs: 240_000,
    meanApprovalWaitMs: 90_000,
    byAlert: { NodeFilesystemFilling: { executions: 4, succeeded: 3 } },
    steps: [
      { stepId: 'check-disk', runs: 4, failures: 0, skipped: 0, meanDurationMs: 1800, p90DurationMs: 2500 },
    ],
    updatedAt: '2024-05-02T18:00:00Z',
    ...overrides,
  });
}

/** `n` ISO instants one minute apart from `start`. */
function minutesFrom(start: string, n: number): string[] {
  return Array.from({ length: n }, (_, index) => new Date(Date.parse(start) + index * 60_000).toISOString());
}

function count<T>(values: T[], wanted: T): number {
  return values.filter((value) => value === wanted).length;
}

export interface StoreContractSubject {
  store: Store;
  teardown: () => Promise<void>;
}

export function describeStoreContract(name: string, setup: () => Promise<StoreContractSubject>): void {
  describe(`Store contract: ${name}`, () => {
    let subject: StoreContractSubject | undefined;
    let store: Store;

    beforeEach(async () => {
      subject = await setup();
      store = subject.store;
    });

    afterEach(async () => {
      await subject?.teardown();
      subject = undefined;
    });

    describe('incidents and dedupe', () => {
      it('opens an incident that getIncident and findOpenIncident return', async () => {
        // Prepare
        const incident = contractIncident();

        // Act
        const result = await store.openIncident(incident);

        // Assess
        expect(result).toEqual({ incident, created: true });
        expect(await store.getIncident(incident.id)).toEqual(incident);
        expect(await store.findOpenIncident(incident.fingerprint)).toEqual(incident);
        expect(await store.getIncident('inc-unknown')).toBeUndefined();
        expect(await store.findOpenIncident('fp-unknown')).toBeUndefined();
      });

      it('joins the open incident when the same fingerprint fires again', async () => {
        // Prepare
        const first = contractIncident({ id: 'inc-first' });
        await store.openIncident(first);

        // Act
        const second = await store.openIncident(
          contractIncident({
            id: 'inc-second',
            lastSeenAt: '2024-05-02T17:05:00Z',
            firstSeenAt: '2024-05-02T17:05:00Z',
          }),
        );

        // Assess
        expect(second.created).toBe(false);
        expect(second.incident.id).toBe('inc-first');
        expect(second.incident.occurrences).toBe(2);
        expect(second.incident.lastSeenAt).toBe('2024-05-02T17:05:00Z');
        expect(second.incident.firstSeenAt).toBe(first.firstSeenAt);
        expect(await store.getIncident('inc-second')).toBeUndefined();
        expect((await store.getIncident('inc-first'))?.occurrences).toBe(2);
      });

      it('lets only the first opener of an incident id create it; the same id again joins and counts', async () => {
        // Prepare
        const incident = contractIncident();
        const first = await store.openIncident(incident);

        // Act
        const again = await store.openIncident(incident);
        const concurrent = await Promise.all(Array.from({ length: 20 }, () => store.openIncident(incident)));

        // Assess
        expect(first.created).toBe(true);
        expect(again.created).toBe(false);
        expect(again.incident.occurrences).toBe(2);
        expect(concurrent.every((result) => !result.created)).toBe(true);
        expect((await store.getIncident(incident.id))?.occurrences).toBe(22);
      });

      it('creates exactly one incident when 50 alerts with one fingerprint arrive at once', async () => {
        // Prepare
        const incidents = Array.from({ length: 50 }, (_, index) => contractIncident({ id: `inc-${index}` }));

        // Act
        const results = await Promise.all(incidents.map((incident) => store.openIncident(incident)));

        // Assess
        expect(
          count(
            results.map((result) => result.created),
            true,
          ),
        ).toBe(1);
        const winner = results.find((result) => result.created)!.incident;
        expect(new Set(results.map((result) => result.incident.id))).toEqual(new Set([winner.id]));
        expect((await store.getIncident(winner.id))?.occurrences).toBe(50);
        expect((await store.findOpenIncident(winner.fingerprint))?.id).toBe(winner.id);
      });

      it('resolves the open incident, after which a new firing opens a new incident', async () => {
        // Prepare
        const incident = contractIncident({ id: 'inc-old' });
        await store.openIncident(incident);
        const resolved = contractAlert({ status: 'resolved', endsAt: '2024-05-02T17:30:00Z' });

        // Act
        const closed = await store.resolveIncident(incident.fingerprint, resolved, '2024-05-02T17:30:05Z');
        const reopened = await store.openIncident(
          contractIncident({ id: 'inc-new', firstSeenAt: '2024-05-02T18:00:00Z' }),
        );

        // Assess
        expect(closed).toMatchObject({
          id: 'inc-old',
          status: 'resolved',
          resolvedAt: '2024-05-02T17:30:05Z',
        });
        expect(closed?.alert.status).toBe('resolved');
        expect(closed?.alert.endsAt).toBe('2024-05-02T17:30:00Z');
        expect(reopened.created).toBe(true);
        expect(reopened.incident).toMatchObject({ id: 'inc-new', occurrences: 1, status: 'open' });
        expect((await store.getIncident('inc-old'))?.status).toBe('resolved');
        expect((await store.findOpenIncident(incident.fingerprint))?.id).toBe('inc-new');
      });

      it('resolves nothing when no incident with the fingerprint is open, and only once', async () => {
        // Prepare
        const incident = contractIncident();
        await store.openIncident(incident);
        const resolved = contractAlert({ status: 'resolved' });

        // Act
        const none = await store.resolveIncident('fp-never-fired', resolved, '2024-05-02T17:30:00Z');
        const results = await Promise.all([
          store.resolveIncident(incident.fingerprint, resolved, '2024-05-02T17:30:00Z'),
          store.resolveIncident(incident.fingerprint, resolved, '2024-05-02T17:30:00Z'),
        ]);

        // Assess
        expect(none).toBeUndefined();
        expect(results.filter((result) => result !== undefined)).toHaveLength(1);
        expect(await store.findOpenIncident(incident.fingerprint)).toBeUndefined();
      });

      it('updates the decision fields of an incident, and refuses an unknown id', async () => {
        // Prepare
        const incident = contractIncident({ decision: 'blocked', blockedReason: 'kill switch engaged' });
        await store.openIncident(incident);

        // Act
        await store.updateIncident(incident.id, {
          decision: 'started',
          runbookId: 'node-filesystem-filling',
          executionId: 'exec-0001',
        });

        // Assess
        expect(await store.getIncident(incident.id)).toEqual({
          ...incident,
          decision: 'started',
          runbookId: 'node-filesystem-filling',
          executionId: 'exec-0001',
        });
        await expect(store.updateIncident('inc-unknown', { decision: 'started' })).rejects.toThrow(
          /inc-unknown/,
        );
      });

      it('groups unmatched alerts by name, with counts, first and last seen', async () => {
        // Prepare
        const disk = contractAlert({ name: 'DiskPressure', fingerprint: 'fp-disk' });
        const memory = contractAlert({
          name: 'MemoryPressure',
          fingerprint: 'fp-memory',
          summary: 'later summary',
        });

        // Act
        await store.recordUnmatched(disk, '2024-05-02T17:00:00Z');
        await store.recordUnmatched(memory, '2024-05-02T17:01:00Z');
        await store.recordUnmatched(memory, '2024-05-02T17:02:00Z');
        await Promise.all(
          minutesFrom('2024-05-02T17:03:00Z', 3).map((at) =>
            store.recordUnmatched({ ...memory, summary: 'last' }, at),
          ),
        );
        const summaries = await store.listUnmatched();

        // Assess
        expect(summaries.map((summary) => [summary.name, summary.count])).toEqual([
          ['MemoryPressure', 5],
          ['DiskPressure', 1],
        ]);
        expect(summaries[0]).toMatchObject({ source: 'prometheus', firstSeenAt: '2024-05-02T17:01:00Z' });
        expect(summaries[0]?.lastAlert.summary).toBe('last');
        // The last alert's labels: `runbook learn recommend` clusters by their keys.
        expect(summaries[0]?.lastLabels).toEqual(memory.labels);
        expect(summaries[1]).toMatchObject({
          firstSeenAt: '2024-05-02T17:00:00Z',
          lastSeenAt: '2024-05-02T17:00:00Z',
        });
      });

      it('lists no unmatched alerts in an empty store', async () => {
        // Act
        const summaries = await store.listUnmatched();

        // Assess
        expect(summaries).toEqual([]);
      });
    });

    describe('executions', () => {
      it('creates an execution once: a retried create answers false and changes nothing', async () => {
        // Prepare
        const execution = contractExecution();

        // Act
        const first = await store.createExecution(execution);
        const second = await store.createExecution({ ...execution, status: 'failed' });

        // Assess
        expect(first).toBe(true);
        expect(second).toBe(false);
        expect(await store.getExecution(execution.id)).toEqual(execution);
        expect(await store.getExecution('exec-unknown')).toBeUndefined();
      });

      it('updates an execution and returns the updated record; an unknown id is refused', async () => {
        // Prepare
        const execution = contractExecution();
        await store.createExecution(execution);

        // Act
        const updated = await store.updateExecution(execution.id, {
          status: 'succeeded',
          stoppedAt: '2024-05-02T17:10:00Z',
          engineRef: 'arn:aws:states:eu-west-1:123456789012:execution:node-filesystem-filling:exec-0001',
          currentState: 'Succeeded',
          outcome: {
            status: 'succeeded',
            rolledBack: false,
            rollbackFailed: false,
            escalated: false,
            humanIntervention: true,
            approvals: 1,
            approvalsAnswered: 1,
            approvalWaitMs: 60_000,
            timeToRecoverMs: 600_000,
            recordedOutputs: { freedBytes: 1_000_000 },
          },
        });

        // Assess
        expect(updated).toMatchObject({ id: execution.id, status: 'succeeded', currentState: 'Succeeded' });
        expect(updated.outcome?.recordedOutputs).toEqual({ freedBytes: 1_000_000 });
        expect(await store.getExecution(execution.id)).toEqual(updated);
        await expect(store.updateExecution('exec-unknown', { status: 'failed' })).rejects.toThrow(
          /exec-unknown/,
        );
      });

      it('lists executions newest first, a page at a time, with a cursor until the last page', async () => {
        // Prepare
        const startTimes = minutesFrom('2024-05-02T10:00:00Z', 7);
        for (const [index, startedAt] of startTimes.entries()) {
          await store.createExecution(contractExecution({ id: `exec-${index}`, startedAt }));
        }

        // Act
        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listExecutions({ limit: 3, ...(cursor ? { cursor } : {}) });
          pages.push(page.executions.map((execution) => execution.id));
          cursor = page.cursor;
        } while (cursor !== undefined);

        // Assess
        expect(pages).toEqual([['exec-6', 'exec-5', 'exec-4'], ['exec-3', 'exec-2', 'exec-1'], ['exec-0']]);
      });

      it('returns no cursor when the page holds the last execution exactly', async () => {
        // Prepare
        for (const [index, startedAt] of minutesFrom('2024-05-02T10:00:00Z', 2).entries()) {
          await store.createExecution(contractExecution({ id: `exec-${index}`, startedAt }));
        }

        // Act
        const page = await store.listExecutions({ limit: 2 });
        const empty = await store.listExecutions({ limit: 5 });

        // Assess
        expect(page.executions.map((execution) => execution.id)).toEqual(['exec-1', 'exec-0']);
        expect(page.cursor).toBeUndefined();
        expect(empty.cursor).toBeUndefined();
      });

      it('lists the executions of a runbook since a time, newest first', async () => {
        // Prepare
        const [t0, t1, t2, t3] = minutesFrom('2024-05-02T10:00:00Z', 4) as [string, string, string, string];
        await store.createExecution(contractExecution({ id: 'old', runbookId: 'disk', startedAt: t0 }));
        await store.createExecution(contractExecution({ id: 'a', runbookId: 'disk', startedAt: t1 }));
        await store.createExecution(
          contractExecution({ id: 'other-runbook', runbookId: 'memory', startedAt: t2 }),
        );
        await store.createExecution(contractExecution({ id: 'b', runbookId: 'disk', startedAt: t3 }));

        // Act
        const executions = await store.listExecutionsByRunbook('disk', t1);

        // Assess
        expect(executions.map((execution) => execution.id)).toEqual(['b', 'a']);
        expect(await store.listExecutionsByRunbook('never-ran', t0)).toEqual([]);
      });

      it('lists the executions against a resource since a time, newest first', async () => {
        // Prepare
        const [t0, t1, t2] = minutesFrom('2024-05-02T10:00:00Z', 3) as [string, string, string];
        await store.createExecution(contractExecution({ id: 'old', resourceKey: 'node/a', startedAt: t0 }));
        await store.createExecution(contractExecution({ id: 'x', resourceKey: 'node/a', startedAt: t1 }));
        await store.createExecution(contractExecution({ id: 'y', resourceKey: 'node/b', startedAt: t2 }));

        // Act
        const onA = await store.listExecutionsByResource('node/a', '2024-05-02T10:00:30Z');

        // Assess
        expect(onA.map((execution) => execution.id)).toEqual(['x']);
        expect((await store.listExecutionsByResource('node/b', t0)).map((execution) => execution.id)).toEqual(
          ['y'],
        );
      });

      it('holds an execution at a checkpoint and releases the token once', async () => {
        // Prepare
        const execution = contractExecution();
        await store.createExecution(execution);
        const hold = { before: 'remediate', taskToken: 'token-checkpoint-1', heldAt: '2024-05-02T17:02:00Z' };

        // Act
        await store.holdCheckpoint(execution.id, hold);
        await store.holdCheckpoint(execution.id, hold);
        const held = await store.getExecution(execution.id);
        const first = await store.releaseCheckpoint(execution.id);
        const second = await store.releaseCheckpoint(execution.id);

        // Assess
        expect(held?.heldCheckpoint).toEqual(hold);
        expect(first).toEqual(hold);
        expect(second).toBeUndefined();
        expect((await store.getExecution(execution.id))?.heldCheckpoint).toBeUndefined();
        expect(await store.releaseCheckpoint('exec-unknown')).toBeUndefined();
      });

      it('gives a held token to exactly one of 20 concurrent releases', async () => {
        // Prepare
        const execution = contractExecution();
        await store.createExecution(execution);
        await store.holdCheckpoint(execution.id, {
          before: 'remediate',
          taskToken: 'token-1',
          heldAt: '2024-05-02T17:02:00Z',
        });

        // Act
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.releaseCheckpoint(execution.id)),
        );

        // Assess
        const tokens = results.filter((result) => result !== undefined).map((result) => result.taskToken);
        expect(tokens).toEqual(['token-1']);
      });

      it('refuses to hold an execution that does not exist', async () => {
        // Act + Assess
        await expect(
          store.holdCheckpoint('exec-unknown', {
            before: 'x',
            taskToken: 't',
            heldAt: '2024-05-02T17:02:00Z',
          }),
        ).rejects.toThrow(/exec-unknown/);
      });
    });

    describe('step outcomes', () => {
      it('lists every attempt of every step in the order they started', async () => {
        // Prepare
        const [t0, t1, t2, t3] = minutesFrom('2024-05-02T17:00:00Z', 4) as [string, string, string, string];
        const outcomes = [
          contractStepOutcome({ stepId: 'restart', attempt: 2, status: 'succeeded', startedAt: t3 }),
          contractStepOutcome({ stepId: 'check-disk', attempt: 1, startedAt: t0 }),
          contractStepOutcome({
            stepId: 'restart',
            attempt: 1,
            status: 'failed',
            startedAt: t2,
            error: { name: 'Runbook.ToolFailed', message: 'timeout' },
          }),
          contractStepOutcome({ stepId: 'cleanup', attempt: 1, startedAt: t1, output: { freed: '2G' } }),
          contractStepOutcome({ executionId: 'exec-other', stepId: 'elsewhere', startedAt: t0 }),
        ];

        // Act
        for (const outcome of outcomes) await store.putStepOutcome(outcome);
        const listed = await store.listStepOutcomes('exec-0001');

        // Assess
        expect(listed.map((outcome) => `${outcome.stepId}#${outcome.attempt}`)).toEqual([
          'check-disk#1',
          'cleanup#1',
          'restart#1',
          'restart#2',
        ]);
        expect(listed[1]).toEqual(outcomes[3]);
        expect(await store.listStepOutcomes('exec-unknown')).toEqual([]);
      });

      it('keeps one outcome per attempt: the final outcome replaces "running", a late "running" does not', async () => {
        // Prepare
        const running = contractStepOutcome({
          status: 'running',
          finishedAt: undefined,
          durationMs: undefined,
          output: undefined,
        });
        const finished = contractStepOutcome({ status: 'succeeded' });

        // Act
        await store.putStepOutcome(running);
        await store.putStepOutcome(finished);
        await store.putStepOutcome(running);
        const listed = await store.listStepOutcomes(finished.executionId);

        // Assess
        expect(listed).toEqual([finished]);
      });
    });

    describe('approvals', () => {
      it('creates an approval once and reads it back by execution and key', async () => {
        // Prepare
        const approval = contractApproval({ approvalKey: 'phase-remediate' });
        const other = contractApproval({ approvalKey: 'step-drain', requestedAt: '2024-05-02T17:05:00Z' });

        // Act
        const first = await store.createApproval(approval);
        const again = await store.createApproval({ ...approval, quorum: 1 });
        await store.createApproval(other);

        // Assess
        expect(first).toBe(true);
        expect(again).toBe(false);
        expect(await store.getApproval('exec-0001', 'phase-remediate')).toEqual(approval);
        expect(await store.getApproval('exec-0001', 'unknown')).toBeUndefined();
        expect((await store.listApprovals('exec-0001')).map((each) => each.id)).toEqual([
          approval.id,
          other.id,
        ]);
        expect(await store.listApprovals('exec-unknown')).toEqual([]);
      });

      it('records one decision per approver and settles to approved at quorum', async () => {
        // Prepare
        await store.createApproval(contractApproval({ quorum: 2 }));
        const request = (approver: string, at: string) => ({
          executionId: 'exec-0001',
          approvalKey: 'phase-remediate',
          decision: { approver, decision: 'approve' as const, at },
          now: at,
        });

        // Act
        const first = await store.decideApproval(request('alice@example.com', '2024-05-02T17:02:00Z'));
        const second = await store.decideApproval(request('bob@example.com', '2024-05-02T17:03:00Z'));

        // Assess
        expect(first).toMatchObject({ ok: true, approval: { status: 'pending' } });
        expect(second).toMatchObject({
          ok: true,
          approval: { status: 'approved', decidedAt: '2024-05-02T17:03:00Z' },
        });
        const stored = await store.getApproval('exec-0001', 'phase-remediate');
        expect(stored?.decisions.map((decision) => decision.approver)).toEqual([
          'alice@example.com',
          'bob@example.com',
        ]);
      });

      it('settles to rejected on the first rejection', async () => {
        // Prepare
        await store.createApproval(contractApproval({ quorum: 2 }));

        // Act
        const result = await store.decideApproval({
          executionId: 'exec-0001',
          approvalKey: 'phase-remediate',
          decision: {
            approver: 'carol@example.com',
            decision: 'reject',
            comment: 'not during the sale',
            at: '2024-05-02T17:02:00Z',
          },
          now: '2024-05-02T17:02:00Z',
        });

        // Assess
        expect(result).toMatchObject({
          ok: true,
          approval: { status: 'rejected', decidedAt: '2024-05-02T17:02:00Z' },
        });
        expect(result.ok && result.approval.decisions[0]?.comment).toBe('not during the sale');
      });

      it('refuses decisions with the reason: not found, not an approver, already decided, settled, expired', async () => {
        // Prepare
        await store.createApproval(contractApproval({ approvalKey: 'a', quorum: 2 }));
        await store.createApproval(contractApproval({ approvalKey: 'settled', quorum: 1 }));
        await store.createApproval(contractApproval({ approvalKey: 'closed', quorum: 1 }));
        await store.closeApproval('exec-0001', 'closed', 'expired', '2024-05-02T18:01:00Z');
        const decide = (approvalKey: string, approver: string, now = '2024-05-02T17:10:00Z') =>
          store.decideApproval({
            executionId: 'exec-0001',
            approvalKey,
            decision: { approver, decision: 'approve', at: now },
            now,
          });
        await decide('a', 'alice@example.com');
        await decide('settled', 'alice@example.com');

        // Act
        const notFound = await decide('missing', 'alice@example.com');
        const stranger = await decide('a', 'mallory@example.com');
        const twice = await decide('a', 'alice@example.com');
        const afterSettlement = await decide('settled', 'bob@example.com');
        const afterExpiry = await decide('a', 'bob@example.com', '2024-05-02T18:01:00Z');
        const afterClose = await decide('closed', 'bob@example.com');

        // Assess
        expect(notFound).toEqual({ ok: false, reason: 'not-found' });
        expect(stranger).toMatchObject({ ok: false, reason: 'not-an-approver' });
        expect(twice).toMatchObject({ ok: false, reason: 'already-decided' });
        expect(afterSettlement).toMatchObject({
          ok: false,
          reason: 'not-pending',
          approval: { status: 'approved' },
        });
        expect(afterExpiry).toMatchObject({ ok: false, reason: 'expired' });
        expect(afterClose).toMatchObject({ ok: false, reason: 'expired' });
        expect((await store.getApproval('exec-0001', 'a'))?.decisions).toHaveLength(1);
      });

      it('records one of 20 concurrent decisions by the same approver', async () => {
        // Prepare
        await store.createApproval(contractApproval({ quorum: 2 }));
        const request = {
          executionId: 'exec-0001',
          approvalKey: 'phase-remediate',
          decision: {
            approver: 'alice@example.com',
            decision: 'approve' as const,
            at: '2024-05-02T17:02:00Z',
          },
          now: '2024-05-02T17:02:00Z',
        };

        // Act
        const results = await Promise.all(Array.from({ length: 20 }, () => store.decideApproval(request)));

        // Assess
        expect(results.filter((result) => result.ok)).toHaveLength(1);
        expect(results.filter((result) => !result.ok && result.reason === 'already-decided')).toHaveLength(
          19,
        );
        const stored = await store.getApproval('exec-0001', 'phase-remediate');
        expect(stored).toMatchObject({ status: 'pending', decisions: [{ approver: 'alice@example.com' }] });
      });

      it('settles at quorum when approvers decide at once, and refuses those who came after', async () => {
        // Prepare
        const approvers = ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io', 'e@x.io'];
        await store.createApproval(contractApproval({ approvers, quorum: 3 }));

        // Act
        const results = await Promise.all(
          approvers.map((approver) =>
            store.decideApproval({
              executionId: 'exec-0001',
              approvalKey: 'phase-remediate',
              decision: { approver, decision: 'approve', at: '2024-05-02T17:02:00Z' },
              now: '2024-05-02T17:02:00Z',
            }),
          ),
        );

        // Assess
        expect(results.filter((result) => result.ok)).toHaveLength(3);
        expect(results.filter((result) => !result.ok && result.reason === 'not-pending')).toHaveLength(2);
        const stored = await store.getApproval('exec-0001', 'phase-remediate');
        expect(stored?.status).toBe('approved');
        expect(stored?.decisions).toHaveLength(3);
      });

      it('claims the reminder of a pending approval once, even when asked concurrently', async () => {
        // Prepare
        await store.createApproval(contractApproval({ approvalKey: 'pending' }));
        await store.createApproval(contractApproval({ approvalKey: 'closed' }));
        await store.closeApproval('exec-0001', 'closed', 'cancelled', '2024-05-02T17:03:00Z');

        // Act
        const claims = await Promise.all(
          Array.from({ length: 10 }, () =>
            store.markApprovalReminded('exec-0001', 'pending', '2024-05-02T17:05:00Z'),
          ),
        );
        const later = await store.markApprovalReminded('exec-0001', 'pending', '2024-05-02T17:06:00Z');
        const closed = await store.markApprovalReminded('exec-0001', 'closed', '2024-05-02T17:05:00Z');
        const missing = await store.markApprovalReminded('exec-0001', 'missing', '2024-05-02T17:05:00Z');

        // Assess
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect([later, closed, missing]).toEqual([false, false, false]);
        expect(await store.getApproval('exec-0001', 'pending')).toMatchObject({
          status: 'pending',
          remindedAt: '2024-05-02T17:05:00Z',
        });
        expect((await store.getApproval('exec-0001', 'closed'))?.remindedAt).toBeUndefined();
      });

      it('closes a pending approval once, and never a settled one', async () => {
        // Prepare
        await store.createApproval(contractApproval({ approvalKey: 'pending' }));
        await store.createApproval(contractApproval({ approvalKey: 'decided', quorum: 1 }));
        await store.decideApproval({
          executionId: 'exec-0001',
          approvalKey: 'decided',
          decision: { approver: 'alice@example.com', decision: 'approve', at: '2024-05-02T17:02:00Z' },
          now: '2024-05-02T17:02:00Z',
        });

        // Act
        const closed = await store.closeApproval('exec-0001', 'pending', 'cancelled', '2024-05-02T17:03:00Z');
        const again = await store.closeApproval('exec-0001', 'pending', 'expired', '2024-05-02T17:04:00Z');
        const settled = await store.closeApproval(
          'exec-0001',
          'decided',
          'cancelled',
          '2024-05-02T17:03:00Z',
        );
        const missing = await store.closeApproval(
          'exec-0001',
          'missing',
          'cancelled',
          '2024-05-02T17:03:00Z',
        );

        // Assess
        expect(closed).toMatchObject({
          status: 'cancelled',
          decidedAt: '2024-05-02T17:03:00Z',
          taskToken: contractApproval().taskToken,
        });
        expect(again).toBeUndefined();
        expect(settled).toBeUndefined();
        expect(missing).toBeUndefined();
        expect((await store.getApproval('exec-0001', 'decided'))?.status).toBe('approved');
      });
    });

    describe('safety', () => {
      it('reads the kill switch as disengaged until it is set', async () => {
        // Act
        const initial = await store.getKillSwitch();
        await store.setKillSwitch({
          engaged: true,
          changedBy: 'alice@example.com',
          changedAt: '2024-05-02T17:00:00Z',
          reason: 'game day',
        });
        const engaged = await store.getKillSwitch();
        await store.setKillSwitch({
          engaged: false,
          changedBy: 'bob@example.com',
          changedAt: '2024-05-02T18:00:00Z',
        });
        const released = await store.getKillSwitch();

        // Assess
        expect(initial).toEqual({ engaged: false });
        expect(engaged).toEqual({
          engaged: true,
          changedBy: 'alice@example.com',
          changedAt: '2024-05-02T17:00:00Z',
          reason: 'game day',
        });
        expect(released).toEqual({
          engaged: false,
          changedBy: 'bob@example.com',
          changedAt: '2024-05-02T18:00:00Z',
        });
      });

      it('counts uses in a rate window up to the maximum, then refuses; a new window starts again', async () => {
        // Prepare
        const window = '2024-05-02T17:00:00Z';
        const expires = '2024-05-02T18:00:00Z';

        // Act
        const inWindow = [];
        for (let index = 0; index < 4; index++)
          inWindow.push(await store.acquireRate('runbook:disk', window, 3, expires, `incident-${index}`));
        const nextWindow = await store.acquireRate(
          'runbook:disk',
          '2024-05-02T18:00:00Z',
          3,
          '2024-05-02T19:00:00Z',
          'incident-3',
        );
        const otherKey = await store.acquireRate('runbook:memory', window, 3, expires, 'incident-3');
        const retry = await store.acquireRate('runbook:disk', window, 3, expires, 'incident-0');

        // Assess
        expect(inWindow).toEqual(['counted', 'counted', 'counted', false]);
        expect(nextWindow).toBe('counted');
        expect(otherKey).toBe('counted');
        expect(retry).toBe('already-counted');
        expect(await store.acquireRate('runbook:none', window, 0, expires, 'incident-0')).toBe(false);
      });

      it('gives a counted use back on releaseRate, once, so another member may take it', async () => {
        // Prepare: a full window of 2
        const window = '2024-05-02T17:00:00Z';
        const expires = '2024-05-02T18:00:00Z';
        await store.acquireRate('runbook:disk', window, 2, expires, 'incident-0');
        await store.acquireRate('runbook:disk', window, 2, expires, 'incident-1');
        const full = await store.acquireRate('runbook:disk', window, 2, expires, 'incident-2');

        // Act
        await store.releaseRate('runbook:disk', window, 'incident-1');
        await store.releaseRate('runbook:disk', window, 'incident-1');
        await store.releaseRate('runbook:never-used', window, 'incident-1');
        const afterRelease = await store.acquireRate('runbook:disk', window, 2, expires, 'incident-2');
        const stillFull = await store.acquireRate('runbook:disk', window, 2, expires, 'incident-3');

        // Assess
        expect(full).toBe(false);
        expect(afterRelease).toBe('counted');
        expect(stillFull).toBe(false);
      });

      it('never counts past the maximum when 30 callers race for a window of 10', async () => {
        // Act
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, index) =>
            store.acquireRate(
              'global',
              '2024-05-02T17:00:00Z',
              10,
              '2024-05-02T18:00:00Z',
              `incident-${index}`,
            ),
          ),
        );

        // Assess
        expect(count(results, 'counted')).toBe(10);
      });

      it('hands out concurrency slots up to the maximum; release is idempotent and frees a slot', async () => {
        // Act
        const a = await store.acquireSlot('runbook:disk', 'exec-a', 2);
        const b = await store.acquireSlot('runbook:disk', 'exec-b', 2);
        const c = await store.acquireSlot('runbook:disk', 'exec-c', 2);
        const aAgain = await store.acquireSlot('runbook:disk', 'exec-a', 2);
        await store.releaseSlot('runbook:disk', 'exec-a');
        await store.releaseSlot('runbook:disk', 'exec-a');
        await store.releaseSlot('runbook:never-used', 'exec-a');
        const cAfterRelease = await store.acquireSlot('runbook:disk', 'exec-c', 2);
        const dStillFull = await store.acquireSlot('runbook:disk', 'exec-d', 2);

        // Assess
        expect([a, b, c, aAgain]).toEqual([true, true, false, true]);
        expect(cAfterRelease).toBe(true);
        expect(dStillFull).toBe(false);
      });

      it('never hands out more slots than the maximum to 20 concurrent executions', async () => {
        // Act
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, index) => store.acquireSlot('runbook:disk', `exec-${index}`, 3)),
        );
        await Promise.all(
          Array.from({ length: 20 }, (_, index) => store.releaseSlot('runbook:disk', `exec-${index}`)),
        );
        const afterRelease = await store.acquireSlot('runbook:disk', 'exec-late', 1);

        // Assess
        expect(count(results, true)).toBe(3);
        expect(afterRelease).toBe(true);
      });

      it('claims a cooldown once while it runs, and again after it ends', async () => {
        // Act
        const first = await store.claimCooldown(
          'node/a',
          '2024-05-02T17:00:00Z',
          '2024-05-02T17:30:00Z',
          'incident-1',
        );
        const retried = await store.claimCooldown(
          'node/a',
          '2024-05-02T17:00:05Z',
          '2024-05-02T17:30:05Z',
          'incident-1',
        );
        const during = await store.claimCooldown(
          'node/a',
          '2024-05-02T17:29:59Z',
          '2024-05-02T17:59:59Z',
          'incident-2',
        );
        const otherResource = await store.claimCooldown(
          'node/b',
          '2024-05-02T17:10:00Z',
          '2024-05-02T17:40:00Z',
          'incident-3',
        );
        const after = await store.claimCooldown(
          'node/a',
          '2024-05-02T17:30:06Z',
          '2024-05-02T18:00:00Z',
          'incident-4',
        );
        const concurrent = await Promise.all(
          Array.from({ length: 10 }, (_, index) =>
            store.claimCooldown(
              'node/c',
              '2024-05-02T17:00:00Z',
              '2024-05-02T17:30:00Z',
              `incident-${index}`,
            ),
          ),
        );

        // Assess
        expect([first, retried, during, otherResource, after]).toEqual([true, true, false, true, true]);
        expect(count(concurrent, true)).toBe(1);
      });

      it("takes back only its holder's cooldown claim", async () => {
        // Arrange
        await store.claimCooldown('node/d', '2024-05-02T17:00:00Z', '2024-05-02T17:30:00Z', 'incident-1');
        await store.claimCooldown('node/e', '2024-05-02T17:00:00Z', '2024-05-02T17:30:00Z', 'incident-2');

        // Act
        await store.releaseCooldown('node/d', 'incident-1');
        await store.releaseCooldown('node/e', 'incident-1');
        await store.releaseCooldown('node/f', 'incident-1');

        // Assess: node/d is free for anyone, node/e still quiet for incident-2's execution
        expect(
          await store.claimCooldown('node/d', '2024-05-02T17:01:00Z', '2024-05-02T17:31:00Z', 'incident-3'),
        ).toBe(true);
        expect(
          await store.claimCooldown('node/e', '2024-05-02T17:01:00Z', '2024-05-02T17:31:00Z', 'incident-3'),
        ).toBe(false);
      });
    });

    describe('learning', () => {
      it('keeps one aggregate per runbook, replaced on every put, and lists them all', async () => {
        // Prepare
        const disk = contractLearningAggregate({ runbookId: 'disk' });
        const memory = contractLearningAggregate({
          runbookId: 'memory',
          executions: 1,
          succeeded: 1,
          failed: 0,
        });

        // Act
        await store.putLearningAggregate(disk);
        await store.putLearningAggregate(memory);
        await store.putLearningAggregate({ ...disk, executions: 5, succeeded: 4 });

        // Assess
        expect(await store.getLearningAggregate('disk')).toEqual({ ...disk, executions: 5, succeeded: 4 });
        expect(await store.getLearningAggregate('unknown')).toBeUndefined();
        const all = await store.listLearningAggregates();
        expect(all.map((aggregate) => aggregate.runbookId).sort()).toEqual(['disk', 'memory']);
      });
    });

    describe('outbox', () => {
      it('lists notifications newest first, up to the limit, and by execution', async () => {
        // Prepare
        const times = minutesFrom('2024-05-02T17:00:00Z', 5);
        const notifications = times.map((sentAt, index) =>
          contractNotification({
            id: `ntf-${index}`,
            sentAt,
            executionId: index % 2 === 0 ? 'exec-even' : 'exec-odd',
          }),
        );
        const unrelated = contractNotification({
          id: 'ntf-system',
          kind: 'message',
          executionId: undefined,
          sentAt: '2024-05-02T16:00:00Z',
        });

        // Act
        for (const notification of [...notifications, unrelated])
          await store.appendNotification(notification);
        const all = await store.listNotifications({ limit: 10 });
        const latestTwo = await store.listNotifications({ limit: 2 });
        const even = await store.listNotifications({ limit: 10, executionId: 'exec-even' });
        const evenLatest = await store.listNotifications({ limit: 1, executionId: 'exec-even' });

        // Assess
        expect(all.map((notification) => notification.id)).toEqual([
          'ntf-4',
          'ntf-3',
          'ntf-2',
          'ntf-1',
          'ntf-0',
          'ntf-system',
        ]);
        expect(all[0]).toEqual(notifications[4]);
        expect(latestTwo.map((notification) => notification.id)).toEqual(['ntf-4', 'ntf-3']);
        expect(even.map((notification) => notification.id)).toEqual(['ntf-4', 'ntf-2', 'ntf-0']);
        expect(evenLatest.map((notification) => notification.id)).toEqual(['ntf-4']);
        expect(await store.listNotifications({ limit: 5, executionId: 'exec-none' })).toEqual([]);
      });
    });
  });
}

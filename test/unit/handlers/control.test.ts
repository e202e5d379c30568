import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../functions/core/alert.ts';
import { approvalPublicId } from '../../../functions/core/approval-links.ts';
import { normalizeAlertmanager } from '../../../functions/core/classifier/normalize.ts';
import type { ExecutionContext } from '../../../functions/core/execution-contract.ts';
import {
  type ApprovalRecord,
  type ExecutionRecord,
  type StepOutcome,
  summarizeAlert,
} from '../../../functions/core/records.ts';
import { createControlHandler } from '../../../functions/handlers/control.ts';
import type { HttpEvent, HttpResult } from '../../../functions/handlers/http.ts';
import {
  type AwsHarness,
  functionUrlEvent,
  lambdaContext,
  startAwsHarness,
} from '../../support/aws-harness.ts';
import { ROOT } from '../../support/runbooks.ts';

const RUNBOOK = 'node-memory-pressure';

function executionRecord(
  alert: Alert,
  id: string,
  overrides: Partial<ExecutionRecord> = {},
): ExecutionRecord {
  return {
    id,
    runbookId: RUNBOOK,
    runbookVersion: '1.0.0',
    incidentId: `inc-${id}`,
    environment: 'prod',
    dryRun: false,
    status: 'running',
    alert: summarizeAlert(alert),
    startedAt: '2026-11-25T09:58:31.204Z',
    resourceKey: `k8s-node/${alert.resource.id}`,
    control: { pauseRequested: false, abortRequested: false },
    ...overrides,
  };
}

function contextOf(execution: ExecutionRecord): ExecutionContext {
  return {
    id: execution.id,
    runbookId: execution.runbookId,
    runbookVersion: execution.runbookVersion,
    incidentId: execution.incidentId,
    environment: execution.environment,
    dryRun: execution.dryRun,
    approvalRiskThreshold: 2,
    changeFreeze: false,
    startedAt: execution.startedAt,
  };
}

function approvalRecord(alert: Alert, executionId: string, taskToken: string): ApprovalRecord {
  return {
    id: approvalPublicId(executionId, 'phase-restart-workload-0a1b2c3d4e'),
    executionId,
    runbookId: RUNBOOK,
    requirement: 'sre-approves-remediation',
    target: { kind: 'phase', id: 'restart-workload' },
    environment: 'prod',
    risk: 'medium',
    approverGroups: ['sre-oncall'],
    approvers: ['alice@example.com', 'bob@example.com'],
    quorum: 1,
    status: 'pending',
    decisions: [],
    requestedAt: '2026-11-25T09:59:00.000Z',
    expiresAt: '2026-11-25T10:14:00.000Z',
    taskToken,
    plan: [
      {
        id: 'restart-top-workload',
        name: 'Rolling restart',
        tool: 'k8s.rollout-restart',
        risk: 'medium',
        parameters: { namespace: 'shop', kind: 'Deployment', name: 'checkout' },
      },
    ],
    alert: summarizeAlert(alert),
  };
}

function stepOutcome(executionId: string): StepOutcome {
  return {
    executionId,
    stepId: 'top-pods',
    kind: 'step',
    name: 'Pods on the node by memory',
    phase: 'diagnose',
    tool: 'k8s.pods-on-node',
    mutating: false,
    risk: 'low',
    attempt: 1,
    status: 'succeeded',
    startedAt: '2026-11-25T09:58:40.000Z',
    finishedAt: '2026-11-25T09:58:43.000Z',
    durationMs: 3_000,
    parameters: { node: 'ip-10-0-1-23' },
    output: { pods: [{ name: 'checkout-7d9f8-abcde' }] },
    dryRun: false,
  };
}

const bodyOf = (result: HttpResult) => JSON.parse(result.body ?? '') as Record<string, unknown>;

function post(path: string, body?: unknown, headers: Record<string, string> = {}): HttpEvent {
  return functionUrlEvent('POST', path, {
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  }) as HttpEvent;
}

function get(path: string, query?: Record<string, string>, headers: Record<string, string> = {}): HttpEvent {
  return functionUrlEvent('GET', path, { headers, ...(query ? { query } : {}) }) as HttpEvent;
}

describe('control handler', () => {
  let harness: AwsHarness;
  let alert: Alert;
  let handler: ReturnType<typeof createControlHandler>;

  const successes = () => harness.sfn.commandCalls(SendTaskSuccessCommand).map((call) => call.args[0].input);
  const failures = () => harness.sfn.commandCalls(SendTaskFailureCommand).map((call) => call.args[0].input);
  const call = (event: HttpEvent) => handler(event, lambdaContext());

  async function running(id: string, overrides: Partial<ExecutionRecord> = {}) {
    const record = executionRecord(alert, id, overrides);
    await harness.store.createExecution(record);
    return record;
  }

  beforeEach(async () => {
    harness = await startAwsHarness();
    alert = normalizeAlertmanager(
      JSON.parse(
        readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
      ),
      harness.normalize,
    )[0]!;
    handler = createControlHandler({
      control: harness.services.control,
      learning: harness.services.learning,
      audit: harness.audit,
      runbooks: () => harness.runbooks,
      logger: harness.logger,
    });
  });
  afterEach(() => harness.stop());

  describe('executions', () => {
    it('lists executions newest first, a page at a time', async () => {
      // Prepare
      for (let minute = 0; minute < 5; minute++)
        await running(`exec-${minute}`, {
          startedAt: new Date(Date.parse('2026-11-25T09:00:00Z') + minute * 60_000).toISOString(),
        });

      // Act
      const first = await call(get('/api/executions', { limit: '2' }));
      const cursor = bodyOf(first).cursor as string;
      const second = await call(get('/api/executions', { limit: '2', cursor }));
      const third = await call(
        get('/api/executions', { limit: '2', cursor: bodyOf(second).cursor as string }),
      );
      const all = await call(get('/api/executions'));

      // Assess
      const ids = (result: HttpResult) =>
        (bodyOf(result).executions as ExecutionRecord[]).map((execution) => execution.id);
      expect(first.statusCode).toBe(200);
      expect(ids(first)).toEqual(['exec-4', 'exec-3']);
      expect(cursor).toEqual(expect.any(String));
      expect(ids(second)).toEqual(['exec-2', 'exec-1']);
      expect(ids(third)).toEqual(['exec-0']);
      expect(bodyOf(third)).not.toHaveProperty('cursor');
      expect(ids(all)).toEqual(['exec-4', 'exec-3', 'exec-2', 'exec-1', 'exec-0']);
    });

    it('answers 400 naming the query parameter when the limit is out of range', async () => {
      // Act
      const result = await call(get('/api/executions', { limit: '0' }));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(bodyOf(result).problems).toContainEqual(expect.objectContaining({ path: 'limit' }));
    });

    it('describes an execution: steps, approvals without tokens, incident', async () => {
      // Prepare
      const execution = await running('exec-describe');
      await harness.store.openIncident({
        id: execution.incidentId,
        fingerprint: alert.fingerprint,
        status: 'open',
        alert,
        category: alert.category,
        priority: 'P2',
        firstSeenAt: '2026-11-25T09:58:31.000Z',
        lastSeenAt: '2026-11-25T09:58:31.000Z',
        occurrences: 1,
        decision: 'started',
        runbookId: RUNBOOK,
        executionId: execution.id,
      });
      await harness.store.putStepOutcome(stepOutcome(execution.id));
      await harness.store.createApproval(approvalRecord(alert, execution.id, 'secret-approval-token'));

      // Act
      const result = await call(get(`/api/executions/${execution.id}`));

      // Assess
      expect(result.statusCode).toBe(200);
      const detail = bodyOf(result);
      expect(detail).toMatchObject({
        execution: { id: execution.id, status: 'running', runbookId: RUNBOOK },
        incident: { id: execution.incidentId, decision: 'started' },
        steps: [{ stepId: 'top-pods', status: 'succeeded' }],
        approvals: [{ status: 'pending', approvers: ['alice@example.com', 'bob@example.com'] }],
      });
      expect((detail.approvals as object[])[0]).not.toHaveProperty('taskToken');
      expect(result.body).not.toContain('secret-approval-token');
    });

    it('answers 404 for an unknown execution', async () => {
      // Act
      const results = await Promise.all([
        call(get('/api/executions/no-such-execution')),
        call(post('/api/executions/no-such-execution/pause')),
        call(post('/api/executions/no-such-execution/resume')),
        call(post('/api/executions/no-such-execution/abort')),
      ]);

      // Assess
      expect(results.map((result) => result.statusCode)).toEqual([404, 404, 404, 404]);
      expect(bodyOf(results[0]!).error).toMatch(/no-such-execution/);
    });

    it('answers 409 when the execution has finished', async () => {
      // Prepare
      await running('exec-done', { status: 'succeeded', stoppedAt: '2026-11-25T09:59:00.000Z' });

      // Act
      const results = await Promise.all(
        ['pause', 'resume', 'abort'].map((action) => call(post(`/api/executions/exec-done/${action}`))),
      );

      // Assess
      expect(results.map((result) => result.statusCode)).toEqual([409, 409, 409]);
      expect(bodyOf(results[0]!).error).toMatch(/already succeeded/);
      expect((await harness.store.getExecution('exec-done'))?.control).toEqual({
        pauseRequested: false,
        abortRequested: false,
      });
    });

    it('answers 400 naming the field for a bad body', async () => {
      // Prepare
      await running('exec-bad-body');

      // Act
      const wrongType = await call(post('/api/executions/exec-bad-body/pause', { reason: 42 }));
      const unknownField = await call(post('/api/executions/exec-bad-body/abort', { reasn: 'typo' }));
      const notJson = await call(post('/api/executions/exec-bad-body/pause', '{reason'));

      // Assess
      expect(wrongType.statusCode).toBe(400);
      expect(bodyOf(wrongType).problems).toContainEqual(expect.objectContaining({ path: 'reason' }));
      expect(unknownField.statusCode).toBe(400);
      expect(JSON.stringify(bodyOf(unknownField).problems)).toContain('reasn');
      expect(notJson.statusCode).toBe(400);
      expect((await harness.store.getExecution('exec-bad-body'))?.control.abortRequested).toBe(false);
    });
  });

  describe('pause, resume, abort', () => {
    it('pause holds the execution at its next checkpoint; resume sends the token back', async () => {
      // Prepare
      const execution = await running('exec-pause');

      // Act
      const paused = await call(
        post('/api/executions/exec-pause/pause', { reason: 'looking at it', by: 'alice' }),
      );
      const arrival = await harness.services.checkpoints.arrive(
        contextOf(execution),
        { before: 'restart-workload', mutating: true },
        'checkpoint-token-1',
      );
      const whileHeld = bodyOf(await call(get('/api/executions/exec-pause')));
      const successesWhileHeld = successes().length;
      const resumed = await call(post('/api/executions/exec-pause/resume', { by: 'alice' }));

      // Assess
      expect(paused.statusCode).toBe(202);
      expect(bodyOf(paused)).toMatchObject({
        execution: { control: { pauseRequested: true, requestedBy: 'alice', reason: 'looking at it' } },
      });
      expect(arrival).toEqual({ held: true, reason: 'pause' });
      expect(successesWhileHeld).toBe(0);
      expect(whileHeld).toMatchObject({
        execution: {
          status: 'paused',
          heldCheckpoint: { before: 'restart-workload', taskToken: '(held)' },
        },
      });
      expect(JSON.stringify(whileHeld)).not.toContain('checkpoint-token-1');
      expect(resumed.statusCode).toBe(202);
      expect(bodyOf(resumed)).toMatchObject({
        execution: { status: 'running', control: { pauseRequested: false } },
      });
      expect(bodyOf(resumed).execution).not.toHaveProperty('heldCheckpoint');
      expect(successes()).toHaveLength(1);
      expect(successes()[0]).toMatchObject({ taskToken: 'checkpoint-token-1' });
      expect(JSON.parse(successes()[0]!.output ?? '')).toMatchObject({ passed: 'restart-workload' });
    });

    it('never shows a held task token: not in the list, not in the answer to pause, resume or abort', async () => {
      // Prepare: held by the kill switch, so a resume does not release it
      const execution = await running('exec-secret');
      await harness.store.setKillSwitch({ engaged: true, changedBy: 'alice' });
      await harness.services.checkpoints.arrive(
        contextOf(execution),
        { before: 'relieve-node', mutating: true },
        'SECRET-TOKEN',
      );

      // Act
      const answers = [
        await call(get('/api/executions')),
        await call(post('/api/executions/exec-secret/pause', { by: 'bob' })),
        await call(post('/api/executions/exec-secret/resume', { by: 'bob' })),
        await call(get('/api/executions/exec-secret')),
        await call(post('/api/executions/exec-secret/abort', { by: 'bob' })),
      ];

      // Assess
      for (const answer of answers) {
        expect(answer.statusCode).toBeLessThan(300);
        expect(answer.body).not.toContain('SECRET-TOKEN');
      }
    });

    it('a checkpoint passes straight on when nothing holds it', async () => {
      // Prepare
      const execution = await running('exec-free');

      // Act
      const arrival = await harness.services.checkpoints.arrive(
        contextOf(execution),
        { before: 'restart-workload', mutating: true },
        'checkpoint-token-free',
      );

      // Assess
      expect(arrival).toEqual({ held: false });
      expect(successes()).toEqual([expect.objectContaining({ taskToken: 'checkpoint-token-free' })]);
    });

    it('abort while held fails the checkpoint task with Runbook.Aborted', async () => {
      // Prepare
      const execution = await running('exec-abort-held');
      await call(post('/api/executions/exec-abort-held/pause'));
      await harness.services.checkpoints.arrive(
        contextOf(execution),
        { before: 'relieve-node', mutating: true },
        'checkpoint-token-2',
      );

      // Act
      const result = await call(
        post('/api/executions/exec-abort-held/abort', { reason: 'wrong node', by: 'bob' }),
      );

      // Assess
      expect(result.statusCode).toBe(202);
      expect(bodyOf(result)).toMatchObject({
        execution: { control: { abortRequested: true, requestedBy: 'bob' } },
      });
      expect(successes()).toHaveLength(0);
      expect(failures()).toEqual([
        { taskToken: 'checkpoint-token-2', error: 'Runbook.Aborted', cause: 'aborted by bob: wrong node' },
      ]);
      expect((await harness.store.getExecution('exec-abort-held'))?.heldCheckpoint).toBeUndefined();
    });

    it('after an abort, the next checkpoint fails with Runbook.Aborted and pause/resume are refused', async () => {
      // Prepare
      const execution = await running('exec-abort-running');
      await call(post('/api/executions/exec-abort-running/abort', { by: 'bob' }));

      // Act
      const arrival = await harness.services.checkpoints
        .arrive(contextOf(execution), { before: 'relieve-node', mutating: true }, 'checkpoint-token-3')
        .catch((error: unknown) => error);
      const pause = await call(post('/api/executions/exec-abort-running/pause'));
      const resume = await call(post('/api/executions/exec-abort-running/resume'));

      // Assess
      expect(arrival).toMatchObject({
        name: 'Runbook.Aborted',
        message: 'aborted by bob before relieve-node',
      });
      expect(pause.statusCode).toBe(409);
      expect(resume.statusCode).toBe(409);
      expect(successes()).toHaveLength(0);
    });

    it('abort cancels pending approvals and fails the tasks waiting on them', async () => {
      // Prepare
      const execution = await running('exec-abort-approval');
      await harness.store.createApproval(approvalRecord(alert, execution.id, 'approval-token-1'));

      // Act
      const result = await call(post('/api/executions/exec-abort-approval/abort', { by: 'carol' }));

      // Assess
      expect(result.statusCode).toBe(202);
      expect(failures()).toEqual([
        {
          taskToken: 'approval-token-1',
          error: 'Runbook.Aborted',
          cause: 'aborted by carol while waiting for approval',
        },
      ]);
      expect((await harness.store.listApprovals(execution.id))[0]).toMatchObject({
        status: 'cancelled',
        decidedAt: '2026-11-25T10:00:00.000Z',
      });
    });

    it('abort still succeeds when the approval task no longer waits', async () => {
      // Prepare
      const execution = await running('exec-abort-stale');
      await harness.store.createApproval(approvalRecord(alert, execution.id, 'approval-token-stale'));
      harness.sfn
        .on(SendTaskFailureCommand)
        .rejects(Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' }));

      // Act
      const result = await call(post('/api/executions/exec-abort-stale/abort'));

      // Assess
      expect(result.statusCode).toBe(202);
      expect((await harness.store.listApprovals(execution.id))[0]?.status).toBe('cancelled');
    });

    it('takes the operator from the IAM principal over what the body claims', async () => {
      // Prepare
      await running('exec-iam');
      const event = post('/api/executions/exec-iam/pause', { by: 'someone-else' });
      (event.requestContext as unknown as { authorizer: unknown }).authorizer = {
        iam: { userArn: 'arn:aws:iam::333333333333:user/alice' },
      };

      // Act
      const result = await call(event);

      // Assess
      expect(bodyOf(result)).toMatchObject({
        execution: { control: { requestedBy: 'arn:aws:iam::333333333333:user/alice' } },
      });
    });
  });

  describe('kill switch', () => {
    it('engaging holds executions; releasing resumes those it held, not the paused ones', async () => {
      // Prepare
      const paused = await running('exec-paused', { startedAt: '2026-11-25T09:50:00.000Z' });
      const held = await running('exec-killed', { startedAt: '2026-11-25T09:55:00.000Z' });
      await call(post('/api/executions/exec-paused/pause'));
      await harness.services.checkpoints.arrive(
        contextOf(paused),
        { before: 'restart-workload', mutating: true },
        'paused-token',
      );

      // Act
      const engaged = await call(
        post('/api/kill-switch', { engaged: true, reason: 'incident review', by: 'alice' }),
      );
      const state = await call(get('/api/kill-switch'));
      const arrival = await harness.services.checkpoints.arrive(
        contextOf(held),
        { before: 'restart-workload', mutating: true },
        'kill-switch-token',
      );
      const released = await call(post('/api/kill-switch', { engaged: false, by: 'alice' }));

      // Assess
      expect(engaged.statusCode).toBe(200);
      expect(bodyOf(engaged)).toMatchObject({ engaged: true, changedBy: 'alice', reason: 'incident review' });
      expect(bodyOf(state)).toMatchObject({ engaged: true, changedBy: 'alice' });
      expect(arrival).toEqual({ held: true, reason: 'kill-switch' });
      expect(released.statusCode).toBe(200);
      expect(bodyOf(released)).toMatchObject({ engaged: false, released: 1 });
      expect(successes().map((input) => input.taskToken)).toEqual(['kill-switch-token']);
      expect(await harness.store.getExecution('exec-killed')).toMatchObject({ status: 'running' });
      expect(await harness.store.getExecution('exec-paused')).toMatchObject({
        status: 'paused',
        heldCheckpoint: { taskToken: 'paused-token' },
      });
    });

    it('a resume while the kill switch is engaged waits for its release', async () => {
      // Prepare
      const execution = await running('exec-resume-engaged');
      await call(post('/api/executions/exec-resume-engaged/pause'));
      await harness.services.checkpoints.arrive(
        contextOf(execution),
        { before: 'restart-workload', mutating: true },
        'resume-token',
      );
      await call(post('/api/kill-switch', { engaged: true }));

      // Act
      const resumed = await call(post('/api/executions/exec-resume-engaged/resume'));
      const whileEngaged = successes().length;
      const released = await call(post('/api/kill-switch', { engaged: false }));

      // Assess
      expect(resumed.statusCode).toBe(202);
      expect(whileEngaged).toBe(0);
      expect(bodyOf(released)).toMatchObject({ released: 1 });
      expect(successes().map((input) => input.taskToken)).toEqual(['resume-token']);
    });

    it('answers 400 naming the field for a bad kill-switch body', async () => {
      // Act
      const wrongType = await call(post('/api/kill-switch', { engaged: 'yes' }));
      const missing = await call(post('/api/kill-switch', { reason: 'no flag' }));
      const empty = await call(post('/api/kill-switch'));

      // Assess
      expect(wrongType.statusCode).toBe(400);
      expect(bodyOf(wrongType).problems).toContainEqual(expect.objectContaining({ path: 'engaged' }));
      expect(missing.statusCode).toBe(400);
      expect(bodyOf(missing).problems).toContainEqual(expect.objectContaining({ path: 'engaged' }));
      expect(empty.statusCode).toBe(400);
      expect((await harness.store.getKillSwitch()).engaged).toBe(false);
    });
  });

  describe('auth, learning, routes', () => {
    it('with a token, answers 401 without or with a wrong bearer and 200 with the right one', async () => {
      // Prepare
      const guarded = createControlHandler({
        control: harness.services.control,
        learning: harness.services.learning,
        audit: harness.audit,
        runbooks: () => harness.runbooks,
        logger: harness.logger,
        token: 'operator-token-0123456789',
      });

      // Act
      const without = await guarded(get('/api/executions'), lambdaContext());
      const wrong = await guarded(
        get('/api/executions', undefined, { authorization: 'Bearer not-the-token' }),
        lambdaContext(),
      );
      const basic = await guarded(
        get('/api/executions', undefined, { authorization: 'Basic b3BlcmF0b3I6dG9rZW4=' }),
        lambdaContext(),
      );
      const engage = await guarded(post('/api/kill-switch', { engaged: true }), lambdaContext());
      const right = await guarded(
        get('/api/executions', undefined, { authorization: 'Bearer operator-token-0123456789' }),
        lambdaContext(),
      );

      // Assess
      expect(without.statusCode).toBe(401);
      expect(without.headers?.['www-authenticate']).toBe('Bearer');
      expect(wrong.statusCode).toBe(401);
      expect(basic.statusCode).toBe(401);
      expect(engage.statusCode).toBe(401);
      expect((await harness.store.getKillSwitch()).engaged).toBe(false);
      expect(right.statusCode).toBe(200);
      expect(bodyOf(right)).toEqual({ executions: [] });
    });

    it('GET /api/learning returns the learning report', async () => {
      // Prepare
      await running('exec-learned', {
        status: 'succeeded',
        stoppedAt: '2026-11-25T09:59:30.000Z',
        outcome: {
          status: 'succeeded',
          rolledBack: false,
          rollbackFailed: false,
          escalated: false,
          humanIntervention: false,
          approvals: 0,
          approvalsAnswered: 0,
          approvalWaitMs: 0,
          timeToRecoverMs: 60_000,
          recordedOutputs: {},
        },
      });
      await harness.services.learning.recompute(RUNBOOK);

      // Act
      const result = await call(get('/api/learning'));

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toMatchObject({
        generatedAt: '2026-11-25T10:00:00.000Z',
        totals: { executions: 1, succeeded: 1, withoutHumanRate: 1, meanTimeToRecoverMs: 60_000 },
        targets: expect.arrayContaining([
          expect.objectContaining({
            target: 'runs that succeed with no human',
            measured: '100.0%',
            met: true,
          }),
        ]),
        runbooks: [expect.objectContaining({ runbookId: RUNBOOK, executions: 1, successRate: 1 })],
      });
    });

    it('answers 404 for an unknown route', async () => {
      // Act
      const unknown = await call(get('/api/nothing-here'));
      const wrongMethod = await call(functionUrlEvent('DELETE', '/api/executions/exec-1') as HttpEvent);

      // Assess
      expect(unknown.statusCode).toBe(404);
      expect(bodyOf(unknown).error).toMatch(/no route GET \/api\/nothing-here/);
      expect(wrongMethod.statusCode).toBe(404);
    });
  });
});

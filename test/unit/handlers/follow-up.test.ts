import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoFollowUps } from '../../../functions/adapters/aws/dynamo-follow-ups.ts';
import { SnsNotifier } from '../../../functions/adapters/aws/sns-notifier.ts';
import { approvalPublicId } from '../../../functions/core/approval-links.ts';
import type { ApprovalRecord, ExecutionRecord, StepOutcome } from '../../../functions/core/records.ts';
import { FollowUpService } from '../../../functions/core/services/follow-up.ts';
import { IncidentReportService } from '../../../functions/core/services/incident-report.ts';
import { createApprovalWebHandler } from '../../../functions/handlers/approval-web.ts';
import { createControlHandler } from '../../../functions/handlers/control.ts';
import type { HttpEvent, HttpResult } from '../../../functions/handlers/http.ts';
import { fixedLinkSigningKeys } from '../../../functions/ports/link-signing-keys.ts';
import {
  APPROVALS_TOPIC,
  type AwsHarness,
  ESCALATIONS_TOPIC,
  functionUrlEvent,
  lambdaContext,
  REGION,
  SIGNING_KEY,
  startAwsHarness,
} from '../../support/aws-harness.ts';

const RUNBOOK = 'node-memory-pressure';
const NODE = 'ip-10-0-1-23.eu-west-1.compute.internal';

function executionRecord(id: string, overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    id,
    runbookId: RUNBOOK,
    runbookVersion: '1.0.0',
    incidentId: `inc-${id}`,
    environment: 'prod',
    dryRun: false,
    status: 'succeeded',
    alert: {
      source: 'prometheus',
      name: 'KubeNodeMemoryPressure',
      status: 'firing',
      severity: 'warning',
      summary: 'Node | has `memory` pressure\n<b>now</b>',
      environment: 'prod',
      resource: { type: 'k8s-node', id: NODE },
      fingerprint: 'fp-1',
      startsAt: '2026-11-25T09:50:00.000Z',
    },
    startedAt: '2026-11-25T09:51:00.000Z',
    stoppedAt: '2026-11-25T09:58:00.000Z',
    resourceKey: `k8s-node/${NODE}`,
    control: { pauseRequested: false, abortRequested: false },
    outcome: {
      status: 'succeeded',
      rolledBack: false,
      rollbackFailed: false,
      escalated: false,
      humanIntervention: true,
      approvals: 1,
      approvalsAnswered: 1,
      approvalWaitMs: 60_000,
      timeToRecoverMs: 480_000,
      recordedOutputs: {},
    },
    ...overrides,
  };
}

function approval(execution: ExecutionRecord): ApprovalRecord {
  return {
    id: approvalPublicId(execution.id, 'step-evict-0a1b2c3d4e'),
    executionId: execution.id,
    runbookId: RUNBOOK,
    requirement: 'sre-approves-remediation',
    target: { kind: 'step', id: 'evict-top-pod' },
    environment: 'prod',
    risk: 'medium',
    approverGroups: ['sre-oncall'],
    approvers: ['alice@example.com', 'bob@example.com'],
    quorum: 1,
    status: 'approved',
    decisions: [{ approver: 'alice@example.com', decision: 'approve', at: '2026-11-25T09:53:00.000Z' }],
    requestedAt: '2026-11-25T09:52:00.000Z',
    expiresAt: '2026-11-25T10:07:00.000Z',
    decidedAt: '2026-11-25T09:53:00.000Z',
    taskToken: 'secret-task-token',
    plan: [],
    alert: execution.alert,
  };
}

function step(executionId: string): StepOutcome {
  return {
    executionId,
    stepId: 'evict-top-pod',
    kind: 'step',
    name: 'Evict the top pod',
    phase: 'relieve',
    tool: 'k8s.evict-pod',
    mutating: true,
    risk: 'medium',
    attempt: 1,
    status: 'succeeded',
    startedAt: '2026-11-25T09:53:10.000Z',
    finishedAt: '2026-11-25T09:53:40.000Z',
    durationMs: 30_000,
    parameters: { namespace: 'shop', name: 'checkout-1' },
    dryRun: false,
  };
}

const bodyOf = (result: HttpResult) => JSON.parse(result.body ?? '') as Record<string, unknown>;

describe('incident report and feedback over HTTP (the AWS handlers, dynalite)', () => {
  let harness: AwsHarness;
  let control: ReturnType<typeof createControlHandler>;
  let web: ReturnType<typeof createApprovalWebHandler>;
  let followUp: FollowUpService;

  const context = lambdaContext();
  const api = (path: string) => control(functionUrlEvent('GET', path) as HttpEvent, context);
  const open = (url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}) => {
    const parsed = new URL(url);
    const query = Object.fromEntries(parsed.searchParams);
    return web(
      functionUrlEvent(method, parsed.pathname, {
        query,
        headers: { accept: 'application/json', ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }) as HttpEvent,
      context,
    );
  };
  const published = () => harness.sns.commandCalls(PublishCommand).map((call) => call.args[0].input);

  async function ended(id: string, overrides: Partial<ExecutionRecord> = {}) {
    const execution = executionRecord(id, overrides);
    await harness.store.createExecution(execution);
    await harness.store.createApproval(approval(execution));
    await harness.store.putStepOutcome(step(id));
    return execution;
  }

  /** The final notification to one recipient, and its links. */
  function mailTo(recipient: string) {
    const mail = published().find((input) =>
      String(input.MessageAttributes?.recipient?.StringValue).includes(recipient),
    );
    const text = String(mail?.Message ?? '');
    const link = (path: string) =>
      text
        .split('\n')
        .find((line) => line.includes(path))
        ?.replace(/^[^:]+: /, '');
    return { mail, text, report: link('/reports/'), feedback: link('/feedback/') };
  }

  beforeEach(async () => {
    harness = await startAwsHarness();
    const followUps = new DynamoFollowUps({
      client: harness.table.client,
      tableName: harness.table.tableName,
      retentionDays: 90,
    });
    const reports = new IncidentReportService({
      store: harness.store,
      audit: harness.audit,
      followUps,
      runbooks: () => harness.runbooks,
      config: harness.config,
      clock: harness.clock,
    });
    followUp = new FollowUpService({
      store: harness.store,
      followUps,
      reports,
      // The notifier as AWS builds it: follow-ups reach approvers on the approvals topic.
      notifier: new SnsNotifier({
        client: new SNSClient({ region: REGION }),
        approvalsTopicArn: APPROVALS_TOPIC,
        escalationsTopicArn: ESCALATIONS_TOPIC,
        approvers: Object.values(harness.config.approverGroups).flat(),
      }),
      signingKeys: fixedLinkSigningKeys(SIGNING_KEY),
      clock: harness.clock,
      logger: harness.logger,
      config: harness.config,
      runbooks: () => harness.runbooks,
    });
    control = createControlHandler({
      control: harness.services.control,
      learning: harness.services.learning,
      audit: harness.audit,
      runbooks: () => harness.runbooks,
      logger: harness.logger,
      reports,
    });
    web = createApprovalWebHandler({
      approvals: harness.services.approvals,
      logger: harness.logger,
      followUp,
    });
  });
  afterEach(() => harness.stop());

  describe('GET /api/executions/:id/report', () => {
    it('answers the report as Markdown: alert, timeline, outcome, time to mitigate', async () => {
      // Prepare
      await ended('exec-1');

      // Act
      const result = await api('/api/executions/exec-1/report');

      // Assess
      expect(result.statusCode).toBe(200);
      expect(result.headers?.['content-type']).toBe('text/markdown; charset=utf-8');
      const markdown = String(result.body);
      expect(markdown).toMatch(/^# Incident report: Node memory pressure|^# Incident report: /);
      expect(markdown).toContain('## Timeline');
      expect(markdown).toContain(
        'Change Evict the top pod (evict-top-pod, k8s.evict-pod) | succeeded | 30 s',
      );
      expect(markdown).toContain('alice@example.com approved step evict\\-top\\-pod'.replace(/\\-/g, '-'));
      expect(markdown).toContain('- Time to mitigate: 8 min (alert start to verified end)');
      expect(markdown).toContain('Node \\| has \\`memory\\` pressure &lt;b&gt;now&lt;/b&gt;');
      expect(markdown).not.toContain('secret-task-token');
    });

    it('answers 404 naming the id for an unknown execution', async () => {
      // Act
      const result = await api('/api/executions/no-such-execution/report');

      // Assess
      expect(result.statusCode).toBe(404);
      expect(bodyOf(result).error).toMatch(/no execution "no-such-execution"/);
    });

    it('answers odd ids with a 4xx naming the problem, never a 5xx', async () => {
      for (const id of ['..', '%E0%A4%A', 'a'.repeat(81), '%3Cscript%3E', 'with%20space', '%00', 'é']) {
        // Act
        const result = await api(`/api/executions/${id}/report`);

        // Assess
        expect(result.statusCode, id).toBeGreaterThanOrEqual(400);
        expect(result.statusCode, id).toBeLessThan(500);
        expect(bodyOf(result).error, id).toEqual(expect.any(String));
      }
    });
  });

  describe('the final notification', () => {
    it('goes once to the approvers who decided and the on-call person, each with their own report and feedback links', async () => {
      // Prepare
      await ended('exec-2');

      // Act
      const first = await followUp.executionEnded('exec-2');
      const again = await followUp.executionEnded('exec-2');

      // Assess: alice decided; sre-pager (pager@example.com) is whom the runbook pages
      expect(first).toBe(true);
      expect(again).toBe(false);
      // Each where they are subscribed: alice (an approver) on the approvals topic, the pager on escalations.
      expect(
        published().map((input) => [input.TopicArn, input.MessageAttributes?.recipient?.StringValue]),
      ).toEqual(
        expect.arrayContaining([
          [APPROVALS_TOPIC, 'alice@example.com'],
          [ESCALATIONS_TOPIC, '["pager@example.com"]'],
        ]),
      );
      expect(published()).toHaveLength(2);
      const alice = mailTo('alice@example.com');
      expect(alice.mail?.Subject).toBe(`[succeeded] ${RUNBOOK} on ${NODE}: execution ended`);
      expect(alice.text).toContain('Time to mitigate: 8 min');
      expect(new URL(alice.report!).searchParams.get('to')).toBe('alice@example.com');
      expect(new URL(alice.feedback!).pathname).toBe('/feedback/exec-2');
      expect(mailTo('pager@example.com').feedback).not.toBe(alice.feedback);
    });

    it('asks no feedback for a dry run: each person gets the report link only', async () => {
      // Prepare
      await ended('exec-dry', { dryRun: true });

      // Act
      await followUp.executionEnded('exec-dry');

      // Assess
      expect(published()).toHaveLength(2);
      for (const input of published()) {
        const text = String(input.Message);
        expect(text).toContain('/reports/exec-dry?');
        expect(text).not.toContain('/feedback/');
        expect(text).toContain('dry run');
      }
    });
  });

  describe('signed report and feedback links', () => {
    it('records feedback once per person (409 on reuse), and the report then shows it', async () => {
      // Prepare
      await ended('exec-3');
      await followUp.executionEnded('exec-3');
      const { feedback, report } = mailTo('pager@example.com');

      // Act
      const page = await open(feedback!, 'GET', undefined, {
        accept: 'text/html',
        'content-type': 'text/plain',
      });
      const given = await open(feedback!, 'POST', {
        helpful: 'no',
        reason: 'the evict-top-pod step hid a leak; it came back in an hour',
      });
      const reused = await open(feedback!, 'POST', { helpful: 'yes' });
      const shown = await open(report!);

      // Assess
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('name="helpful" value="no"');
      expect(page.body).toContain('<option value="evict-top-pod">');
      expect(given.statusCode, given.body).toBe(201);
      expect(bodyOf(given).feedback).toMatchObject({
        recipient: 'pager@example.com',
        helpful: false,
        stepId: 'evict-top-pod',
      });
      expect(reused.statusCode).toBe(409);
      expect(bodyOf(reused).reason).toBe('used');
      expect(shown.statusCode).toBe(200);
      expect(shown.headers?.['content-type']).toBe('text/markdown; charset=utf-8');
      expect(shown.body).toContain('## Feedback\n\n0 helpful, 1 not helpful.');
    });

    it('refuses a changed link (403), an expired one (410), and a bad reason (400) without recording', async () => {
      // Prepare
      await ended('exec-4');
      await followUp.executionEnded('exec-4');
      const { feedback } = mailTo('alice@example.com');
      const tampered = new URL(feedback!);
      tampered.searchParams.set('to', 'mallory@example.com');

      // Act
      const forged = await open(tampered.toString(), 'POST', { helpful: 'yes' });
      const tooLong = await open(feedback!, 'POST', { helpful: 'no', reason: 'x'.repeat(501) });
      const noReason = await open(feedback!, 'POST', { helpful: 'no' });
      const unknownStep = await open(feedback!, 'POST', { helpful: 'yes', step: 'not-a-step' });
      const notAField = await open(feedback!, 'POST', { helpful: 'maybe' });
      harness.clock.advance(8 * 86_400_000);
      const expired = await open(feedback!, 'POST', { helpful: 'yes' });

      // Assess
      expect(forged.statusCode).toBe(403);
      expect(tooLong.statusCode).toBe(400);
      expect(bodyOf(tooLong).error).toMatch(/reason: 501 characters; at most 500/);
      expect(noReason.statusCode).toBe(400);
      expect(bodyOf(noReason).error).toMatch(/say why/);
      expect(unknownStep.statusCode).toBe(400);
      expect(bodyOf(unknownStep).error).toMatch(/"not-a-step" did not run/);
      expect(notAField.statusCode).toBe(400);
      expect(bodyOf(notAField).problems).toContainEqual(expect.objectContaining({ path: 'helpful' }));
      expect(expired.statusCode).toBe(410);
      // Nothing was recorded: a fresh clock lets alice still answer once.
      harness.clock.advance(-8 * 86_400_000);
      expect((await open(feedback!, 'POST', { helpful: 'yes' })).statusCode).toBe(201);
    });

    it('a report link opens only the report of its execution', async () => {
      // Prepare
      await ended('exec-5');
      await ended('exec-6');
      await followUp.executionEnded('exec-5');
      const { report } = mailTo('alice@example.com');
      const other = new URL(report!);
      other.pathname = '/reports/exec-6';

      // Act
      const result = await open(other.toString());
      const asFeedback = await open(report!.replace('/reports/', '/feedback/'));

      // Assess
      expect(result.statusCode).toBe(403);
      expect(asFeedback.statusCode).toBe(403);
    });
  });
});

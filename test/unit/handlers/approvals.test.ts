import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../functions/core/alert.ts';
import { approvalLinkUrl, approvalPublicId } from '../../../functions/core/approval-links.ts';
import { normalizeAlertmanager } from '../../../functions/core/classifier/normalize.ts';
import { InvalidEventError } from '../../../functions/core/errors.ts';
import type { ExecutionContext } from '../../../functions/core/execution-contract.ts';
import { type ExecutionRecord, type StepOutcome, summarizeAlert } from '../../../functions/core/records.ts';
import type { ApprovalService } from '../../../functions/core/services/approvals.ts';
import { createApprovalRequestHandler } from '../../../functions/handlers/approval-request.ts';
import { createApprovalWebHandler } from '../../../functions/handlers/approval-web.ts';
import type { HttpEvent, HttpResult } from '../../../functions/handlers/http.ts';
import {
  APPROVALS_TOPIC,
  type AwsHarness,
  functionUrlEvent,
  lambdaContext,
  SIGNING_KEY,
  startAwsHarness,
} from '../../support/aws-harness.ts';
import { libraryStatemachinesDir } from '../../support/library.ts';
import { ROOT } from '../../support/runbooks.ts';

// A task token as Step Functions mints them: long, opaque, base64-ish with `+`, `/` and `=`.
const TASK_TOKEN =
  'AQCEAAAAKgAAAAMAAAAAAAAAAZ3dYc9Hk+1Q/ZbqLx2mTqV0kX8jvD3nP4uRzYw6sE9tB1cF7gH2iJ5kL8mN0oP3qR6sT9uV2wX5yZ8aB1cD4eF7gH0iJ3kL6mN9oP2qR5sT8uV1wX4yZ7aB0cD3eF6gH9iJ2kL5mN8oP1qR4sT7uV0wX3yZ6==';
const EXECUTION_ID = 'node-memory-pressure-43f8a50a0755fd8eb3fd';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

const readJson = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as unknown;

type State = Record<string, unknown> & { Branches?: Array<{ States: Record<string, State> }> };

function findState(states: Record<string, State>, name: string): State | undefined {
  for (const [key, state] of Object.entries(states)) {
    if (key === name) return state;
    for (const branch of state.Branches ?? []) {
      const found = findState(branch.States, name);
      if (found) return found;
    }
  }
  return undefined;
}

/** Fills a compiled Payload as Step Functions does: `key.$` from `$$.Task.Token` or `$.path`. */
function resolvePayload(template: Record<string, unknown>, input: Record<string, unknown>, token: string) {
  return Object.fromEntries(
    Object.entries(template).map(([key, value]) => {
      if (!key.endsWith('.$')) return [key, value];
      const path = value as string;
      return [key.slice(0, -2), path === '$$.Task.Token' ? token : input[path.replace(/^\$\./, '')]];
    }),
  );
}

function executionContext(): ExecutionContext {
  return {
    id: EXECUTION_ID,
    runbookId: 'node-memory-pressure',
    runbookVersion: '1.0.0',
    incidentId: 'inc-kube-node-memory-pressure-b5a9d6551e2915b5',
    environment: 'prod',
    dryRun: false,
    approvalRiskThreshold: 2,
    changeFreeze: false,
    startedAt: '2026-11-25T09:58:31.204Z',
  };
}

/** The payload of the compiled `Approval: restart-workload` state of node-memory-pressure. */
function approvalPayload(
  alert: Alert,
  changes: { token?: string; quorum?: number; approverGroups?: string[] } = {},
): Record<string, unknown> & { approval: Record<string, unknown> } {
  const asl = JSON.parse(
    readFileSync(join(libraryStatemachinesDir(), 'node-memory-pressure.asl.json'), 'utf8'),
  ) as { States: Record<string, State> };
  const state = findState(asl.States, 'Approval: restart-workload');
  if (!state) throw new Error('node-memory-pressure has no state "Approval: restart-workload"; recompile');
  const template = (state.Parameters as { Payload: Record<string, unknown> }).Payload;
  const payload = resolvePayload(
    template,
    { execution: executionContext(), alert, steps: {}, groups: {}, approvals: {} },
    changes.token ?? TASK_TOKEN,
  ) as Record<string, unknown> & { approval: Record<string, unknown> };
  if (changes.quorum !== undefined) payload.approval.quorum = changes.quorum;
  if (changes.approverGroups) payload.approval.approverGroups = changes.approverGroups;
  return payload;
}

function executionRecord(alert: Alert): ExecutionRecord {
  return {
    id: EXECUTION_ID,
    runbookId: 'node-memory-pressure',
    runbookVersion: '1.0.0',
    incidentId: 'inc-kube-node-memory-pressure-b5a9d6551e2915b5',
    environment: 'prod',
    dryRun: false,
    status: 'running',
    alert: summarizeAlert(alert),
    startedAt: '2026-11-25T09:58:31.204Z',
    resourceKey: `k8s-node/${alert.resource.id}`,
    control: { pauseRequested: false, abortRequested: false },
    currentState: 'Approval: restart-workload',
  };
}

function diagnostic(stepId: string, name: string, tool: string, output: unknown): StepOutcome {
  return {
    executionId: EXECUTION_ID,
    stepId,
    kind: 'step',
    name,
    phase: 'diagnose',
    tool,
    mutating: false,
    risk: 'low',
    attempt: 1,
    status: 'succeeded',
    startedAt: '2026-11-25T09:58:40.000Z',
    finishedAt: '2026-11-25T09:58:43.000Z',
    durationMs: 3_000,
    parameters: { node: 'ip-10-0-1-23.eu-west-1.compute.internal' },
    output,
    dryRun: false,
  };
}

const LINK = /https:\/\/autopilot\.example\.com\/approvals\/\S+/g;

function publishedMessages(harness: AwsHarness) {
  return harness.sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
}

/** The approval link in the SNS message sent to `recipient`. */
function linkFor(harness: AwsHarness, recipient: string): URL {
  const message = publishedMessages(harness).find(
    (input) => input.MessageAttributes?.recipient?.StringValue === recipient,
  );
  const links = message?.Message?.match(LINK) ?? [];
  expect(links).toHaveLength(1);
  return new URL(links[0]!);
}

function withApprover(link: URL, approver: string): URL {
  const changed = new URL(link);
  changed.searchParams.set('approver', approver);
  return changed;
}

/** What a browser sends: no JSON content type; a form body on POST. */
function browserRequest(method: 'GET' | 'POST', link: URL, form?: Record<string, string>): HttpEvent {
  const event = functionUrlEvent(method, link.pathname, {
    query: Object.fromEntries(link.searchParams),
    ...(form ? { body: new URLSearchParams(form).toString() } : {}),
  }) as HttpEvent;
  event.headers = {
    accept: 'text/html,application/xhtml+xml',
    ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
  };
  return event;
}

function jsonRequest(method: 'GET' | 'POST', link: URL, body?: unknown): HttpEvent {
  return functionUrlEvent(method, link.pathname, {
    query: Object.fromEntries(link.searchParams),
    headers: { accept: 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  }) as HttpEvent;
}

type Requested = Awaited<ReturnType<ApprovalService['request']>>;

/** What the EventBridge schedule (rate 1 minute) delivers to the approval-request function. */
function scheduledEvent() {
  return {
    version: '0',
    id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '333333333333',
    time: '2026-11-25T10:05:00Z',
    region: 'eu-west-1',
    resources: ['arn:aws:events:eu-west-1:333333333333:rule/runbook-autopilot-prod-approval-reminders'],
    detail: {},
  };
}

const bodyOf = (result: HttpResult) => JSON.parse(result.body ?? '') as Record<string, unknown>;

describe('approval handlers', () => {
  let harness: AwsHarness;
  let alert: Alert;
  /** The approval-request handler, as the state machine's task invokes it. */
  let requestApproval: (event: unknown, context: Context) => Promise<Requested>;
  /** The same handler, as its EventBridge schedule invokes it. */
  let remind: () => Promise<unknown>;
  let web: ReturnType<typeof createApprovalWebHandler>;

  beforeEach(async () => {
    harness = await startAwsHarness();
    alert = normalizeAlertmanager(
      readJson('test/fixtures/alerts/alertmanager-node-memory-pressure.json'),
      harness.normalize,
    )[0]!;
    await harness.store.createExecution(executionRecord(alert));
    await harness.store.putStepOutcome(
      diagnostic('top-pods', 'Pods on the node by memory', 'k8s.pods-on-node', {
        pods: [
          {
            name: 'checkout-7d9f8-abcde',
            namespace: 'shop',
            ownerKind: 'Deployment',
            ownerName: 'checkout',
            memoryBytes: 6_442_450_944,
          },
        ],
      }),
    );
    await harness.store.putStepOutcome(
      diagnostic('node-resources', 'Node conditions, capacity and usage', 'k8s.node-resources', {
        name: 'ip-10-0-1-23.eu-west-1.compute.internal',
        memoryPressure: true,
        allocatableMemoryBytes: 16_106_127_360,
      }),
    );
    const approvalRequest = createApprovalRequestHandler({
      approvals: harness.services.approvals,
      logger: harness.logger,
    });
    requestApproval = async (event, context) => (await approvalRequest(event, context)) as Requested;
    remind = () => approvalRequest(scheduledEvent(), lambdaContext());
    web = createApprovalWebHandler({ approvals: harness.services.approvals, logger: harness.logger });
  });
  afterEach(() => harness.stop());

  describe('approval-request', () => {
    it('stores the approval with its token and the plan resolved from the diagnostics', async () => {
      // Act
      const result = await requestApproval(approvalPayload(alert), lambdaContext());

      // Assess
      expect(result).toMatchObject({ approvers: [ALICE, BOB], created: true });
      const [stored] = await harness.store.listApprovals(EXECUTION_ID);
      expect(stored).toMatchObject({
        id: result.approvalId,
        executionId: EXECUTION_ID,
        runbookId: 'node-memory-pressure',
        target: { kind: 'phase', id: 'restart-workload' },
        approvers: [ALICE, BOB],
        quorum: 1,
        status: 'pending',
        taskToken: TASK_TOKEN,
        requestedAt: '2026-11-25T10:00:00.000Z',
        expiresAt: '2026-11-25T10:15:00.000Z',
      });
      expect(stored?.plan[0]?.parameters).toEqual({
        namespace: 'shop',
        kind: 'Deployment',
        name: 'checkout',
      });
    });

    it('publishes one message per approver to the approvals topic, each with a link for that approver only', async () => {
      // Act
      await requestApproval(approvalPayload(alert), lambdaContext());

      // Assess
      const messages = publishedMessages(harness);
      expect(messages).toHaveLength(2);
      expect(messages.map((input) => input.TopicArn)).toEqual([APPROVALS_TOPIC, APPROVALS_TOPIC]);
      expect(messages.map((input) => input.MessageAttributes?.recipient?.StringValue).sort()).toEqual([
        ALICE,
        BOB,
      ]);
      for (const approver of [ALICE, BOB]) {
        const link = linkFor(harness, approver);
        expect(link.searchParams.get('approver')).toBe(approver);
        expect(link.searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(Number(link.searchParams.get('exp'))).toBe(Date.parse('2026-11-25T10:15:00Z') / 1000);
      }
      const [forAlice] = messages.filter(
        (input) => input.MessageAttributes?.recipient?.StringValue === ALICE,
      );
      expect(forAlice?.Message).not.toContain(encodeURIComponent(BOB));
      expect(forAlice?.Message).not.toContain(BOB);
    });

    it('never puts the task token in a link or a message', async () => {
      // Act
      await requestApproval(approvalPayload(alert), lambdaContext());

      // Assess
      for (const input of publishedMessages(harness)) {
        const text = `${input.Subject} ${input.Message} ${JSON.stringify(input.MessageAttributes)}`;
        expect(text).not.toContain(TASK_TOKEN);
        expect(text).not.toContain(encodeURIComponent(TASK_TOKEN));
        expect(text).not.toContain(TASK_TOKEN.slice(0, 40));
      }
    });

    it('sends nothing again when Step Functions retries the invocation with the same token', async () => {
      // Prepare
      const first = await requestApproval(approvalPayload(alert), lambdaContext());

      // Act
      const retried = await requestApproval(approvalPayload(alert), lambdaContext());

      // Assess
      expect(retried).toEqual({ approvalId: first.approvalId, approvers: [ALICE, BOB], created: false });
      expect(publishedMessages(harness)).toHaveLength(2);
      expect(await harness.store.listApprovals(EXECUTION_ID)).toHaveLength(1);
    });

    it('fails with Approval.Unroutable when no approver is configured for the group', async () => {
      // Act
      const act = requestApproval(
        approvalPayload(alert, { approverGroups: ['dba-oncall'] }),
        lambdaContext(),
      );

      // Assess
      await expect(act).rejects.toMatchObject({
        name: 'Approval.Unroutable',
        message: expect.stringMatching(/dba-oncall/),
      });
      expect(publishedMessages(harness)).toHaveLength(0);
      expect(await harness.store.listApprovals(EXECUTION_ID)).toHaveLength(0);
    });

    it('fails with Approval.Unroutable when the quorum is larger than the group', async () => {
      // Act
      const act = requestApproval(approvalPayload(alert, { quorum: 3 }), lambdaContext());

      // Assess
      await expect(act).rejects.toMatchObject({
        name: 'Approval.Unroutable',
        message: expect.stringMatching(/quorum 3 cannot be met/),
      });
      expect(publishedMessages(harness)).toHaveLength(0);
    });

    it('a retried approval task (a new token) asks again and cancels the request it replaces', async () => {
      // Prepare: the first request's e-mail to one approver failed, so the task is retried with a new token
      await requestApproval(approvalPayload(alert, { token: 'token-attempt-1' }), lambdaContext());

      // Act
      await requestApproval(approvalPayload(alert, { token: 'token-attempt-2' }), lambdaContext());

      // Assess
      const approvals = await harness.store.listApprovals(EXECUTION_ID);
      expect(Object.fromEntries(approvals.map((approval) => [approval.taskToken, approval.status]))).toEqual({
        'token-attempt-1': 'cancelled',
        'token-attempt-2': 'pending',
      });
      expect(publishedMessages(harness)).toHaveLength(4);
    });

    it('rejects a payload that is not an approval task, naming the field', async () => {
      // Prepare
      const payload = approvalPayload(alert);
      delete payload.taskToken;

      // Act
      const act = requestApproval(payload, lambdaContext());

      // Assess
      await expect(act).rejects.toBeInstanceOf(InvalidEventError);
      await expect(requestApproval(payload, lambdaContext())).rejects.toThrow(/taskToken/);
    });
  });

  describe('approval reminders (the schedule)', () => {
    const reminders = () =>
      publishedMessages(harness).filter((input) => input.Subject?.startsWith('Reminder,'));
    const recipients = (messages: ReturnType<typeof publishedMessages>) =>
      messages.map((input) => input.MessageAttributes?.recipient?.StringValue).sort();

    it('reminds the approvers once, when the approval has waited approvalReminderSeconds, with working links', async () => {
      // Prepare: requested at 10:00:00; the reminder is due at 10:05:00
      await requestApproval(approvalPayload(alert), lambdaContext());

      // Act
      harness.clock.advance(4 * 60_000 + 59_000);
      const early = await remind();
      harness.clock.advance(1_000);
      const due = await remind();
      harness.clock.advance(60_000);
      const again = await remind();

      // Assess
      expect(early).toEqual({ reminded: 0, approvers: 0 });
      expect(due).toEqual({ reminded: 1, approvers: 2 });
      expect(again).toEqual({ reminded: 0, approvers: 0 });
      const sent = reminders();
      expect(recipients(sent)).toEqual([ALICE, BOB]);
      expect(sent.map((input) => input.TopicArn)).toEqual([APPROVALS_TOPIC, APPROVALS_TOPIC]);
      expect(sent[0]!.Subject).toMatch(/^Reminder, waiting 5m: approve node-memory-pressure on ip-10-0-1-23/);
      expect(sent[0]!.Message).toContain('has waited 5m for an approval before phase "restart-workload"');
      expect(sent[0]!.Message).not.toContain(TASK_TOKEN);
      const [approval] = await harness.store.listApprovals(EXECUTION_ID);
      expect(approval?.remindedAt).toBe('2026-11-25T10:05:00.000Z');
      // The reminder's link opens the approval page (fresh expiry: an hour from now, within the timeout)
      const link = new URL(sent[0]!.Message!.match(LINK)![0]!);
      expect(Number(link.searchParams.get('exp'))).toBe(Date.parse('2026-11-25T10:15:00Z') / 1000);
      const page = await web(browserRequest('GET', link), lambdaContext());
      expect(page.statusCode).toBe(200);
    });

    it('with quorum 2, reminds only the approver who has not decided', async () => {
      // Prepare
      const requested = await requestApproval(approvalPayload(alert, { quorum: 2 }), lambdaContext());
      await web(browserRequest('POST', linkFor(harness, ALICE), { decision: 'approve' }), lambdaContext());
      expect((await harness.store.listApprovals(EXECUTION_ID))[0]?.id).toBe(requested.approvalId);

      // Act
      harness.clock.advance(5 * 60_000);
      const result = await remind();

      // Assess
      expect(result).toEqual({ reminded: 1, approvers: 1 });
      expect(recipients(reminders())).toEqual([BOB]);
      expect(reminders()[0]!.Message).toContain('Quorum:      1 of 2 so far');
    });

    it('reminds nobody about a settled or expired approval, or one of a stopped execution', async () => {
      // Prepare: one approval approved, then a second execution whose approval outlived its timeout
      await requestApproval(approvalPayload(alert), lambdaContext());
      await web(browserRequest('POST', linkFor(harness, ALICE), { decision: 'approve' }), lambdaContext());
      await harness.store.updateExecution(EXECUTION_ID, { status: 'running' });

      // Act: past the approval's 15-minute timeout, and with the execution stopped
      harness.clock.advance(5 * 60_000);
      const settled = await remind();
      await requestApproval(approvalPayload(alert, { token: `${TASK_TOKEN}-2` }), lambdaContext());
      await harness.store.updateExecution(EXECUTION_ID, { status: 'aborted' });
      harness.clock.advance(6 * 60_000);
      const stopped = await remind();
      await harness.store.updateExecution(EXECUTION_ID, { status: 'running' });
      harness.clock.advance(15 * 60_000);
      const expired = await remind();

      // Assess
      expect([settled, stopped, expired]).toEqual([
        { reminded: 0, approvers: 0 },
        { reminded: 0, approvers: 0 },
        { reminded: 0, approvers: 0 },
      ]);
      expect(reminders()).toEqual([]);
    });

    it('two schedules firing at the same moment remind once', async () => {
      // Prepare
      await requestApproval(approvalPayload(alert), lambdaContext());
      harness.clock.advance(5 * 60_000);

      // Act
      const results = await Promise.all([remind(), remind(), remind()]);

      // Assess
      expect(results.map((result) => (result as { reminded: number }).reminded).sort()).toEqual([0, 0, 1]);
      expect(recipients(reminders())).toEqual([ALICE, BOB]);
    });
  });

  describe('approval-web', () => {
    let approvalId: string;

    async function requested(changes: { quorum?: number } = {}) {
      const result = await requestApproval(approvalPayload(alert, changes), lambdaContext());
      approvalId = result.approvalId;
      return { alice: linkFor(harness, ALICE), bob: linkFor(harness, BOB) };
    }

    const successes = () => harness.sfn.commandCalls(SendTaskSuccessCommand);
    const failures = () => harness.sfn.commandCalls(SendTaskFailureCommand);
    const stored = async () => (await harness.store.listApprovals(EXECUTION_ID))[0];

    it('GET shows the plan, the alert and the diagnostics, with safe headers and no token', async () => {
      // Prepare
      const { alice } = await requested();

      // Act
      const page = await web(browserRequest('GET', alice), lambdaContext());

      // Assess
      expect(page.statusCode).toBe(200);
      expect(page.headers).toMatchObject({
        'content-type': expect.stringMatching(/^text\/html/),
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        'content-security-policy': expect.stringContaining("default-src 'none'"),
      });
      expect(page.headers?.['content-security-policy']).toContain("frame-ancestors 'none'");
      const html = page.body ?? '';
      // the plan, with its parameters resolved from the diagnostics
      expect(html).toContain('Rolling restart of the heaviest pod&#39;s workload');
      expect(html).toContain('k8s.rollout-restart');
      expect(html).toContain('&quot;checkout&quot;');
      // the alert
      expect(html).toContain('KubeNodeMemoryPressure');
      expect(html).toContain('ip-10-0-1-23.eu-west-1.compute.internal');
      // the diagnostics from the stored step outcomes
      expect(html).toContain('Pods on the node by memory');
      expect(html).toContain('checkout-7d9f8-abcde');
      expect(html).toContain('Node conditions, capacity and usage');
      expect(html).toContain(`For ${ALICE}`);
      expect(html).toMatch(/<form method="post"/);
      expect(html).not.toContain('<script');
      expect(html).not.toContain(TASK_TOKEN);
      expect(html).not.toContain(TASK_TOKEN.slice(0, 40));
    });

    it('GET decides nothing, however often it is opened (mail scanners follow links)', async () => {
      // Prepare
      const { alice, bob } = await requested();

      // Act
      for (let i = 0; i < 3; i++) {
        await web(browserRequest('GET', alice), lambdaContext());
        await web(jsonRequest('GET', bob), lambdaContext());
      }

      // Assess
      expect(successes()).toHaveLength(0);
      expect(failures()).toHaveLength(0);
      expect(await stored()).toMatchObject({ status: 'pending', decisions: [] });
    });

    it('GET as JSON gives the view without the token', async () => {
      // Prepare
      const { alice } = await requested();

      // Act
      const result = await web(jsonRequest('GET', alice), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(200);
      const view = bodyOf(result);
      expect(view).toMatchObject({ approver: ALICE, canDecide: true, approval: { status: 'pending' } });
      expect(view.approval).not.toHaveProperty('taskToken');
      expect(result.body).not.toContain(TASK_TOKEN);
    });

    it('POST approve from the browser form sends the token with approvedBy', async () => {
      // Prepare
      const { alice } = await requested();

      // Act
      const result = await web(
        browserRequest('POST', alice, { comment: '', decision: 'approve' }),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(200);
      expect(result.headers?.['content-type']).toMatch(/^text\/html/);
      expect(result.body).toContain('Approved. The runbook continues.');
      expect(result.body).not.toContain(TASK_TOKEN);
      expect(successes()).toHaveLength(1);
      const input = successes()[0]!.args[0].input;
      expect(input.taskToken).toBe(TASK_TOKEN);
      expect(JSON.parse(input.output ?? '')).toEqual({
        approvedBy: [ALICE],
        decidedAt: '2026-11-25T10:00:00.000Z',
      });
      expect(await stored()).toMatchObject({ status: 'approved', decisions: [{ approver: ALICE }] });
    });

    it('POST approve accepts the form body base64-encoded, as a Function URL may pass it', async () => {
      // Prepare
      const { alice } = await requested();
      const event = browserRequest('POST', alice, { comment: 'go', decision: 'approve' });
      event.body = Buffer.from(event.body ?? '').toString('base64');
      event.isBase64Encoded = true;

      // Act
      const result = await web(event, lambdaContext());

      // Assess
      expect(result.statusCode).toBe(200);
      expect(successes()).toHaveLength(1);
      expect((await stored())?.decisions).toEqual([
        { approver: ALICE, decision: 'approve', comment: 'go', at: '2026-11-25T10:00:00.000Z' },
      ]);
    });

    it('POST approve as JSON works too', async () => {
      // Prepare
      const { bob } = await requested();

      // Act
      const result = await web(
        jsonRequest('POST', bob, { decision: 'approve', comment: 'top pod is a leak, restart is fine' }),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toMatchObject({
        message: 'Approved. The runbook continues.',
        approval: {
          status: 'approved',
          decisions: [{ approver: BOB, decision: 'approve', comment: 'top pod is a leak, restart is fine' }],
        },
      });
      expect(bodyOf(result).approval).not.toHaveProperty('taskToken');
      expect(JSON.parse(successes()[0]!.args[0].input.output ?? '')).toMatchObject({ approvedBy: [BOB] });
    });

    it('takes the link parameters from a JSON body when the query has none', async () => {
      // Prepare
      const { alice } = await requested();
      const event = functionUrlEvent('POST', alice.pathname, {
        body: JSON.stringify({ decision: 'approve', ...Object.fromEntries(alice.searchParams) }),
      }) as HttpEvent;

      // Act
      const result = await web(event, lambdaContext());

      // Assess
      expect(result.statusCode).toBe(200);
      expect(successes()).toHaveLength(1);
    });

    it('with quorum 2, the first approval does not send the token and the second does', async () => {
      // Prepare
      const { alice, bob } = await requested({ quorum: 2 });

      // Act
      const first = await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());
      const afterFirst = successes().length;
      harness.clock.advance(90_000);
      const second = await web(jsonRequest('POST', bob, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(first.statusCode).toBe(200);
      expect(bodyOf(first)).toMatchObject({
        message: expect.stringMatching(/1 more approval\(s\) needed/),
        approval: { status: 'pending' },
      });
      expect(afterFirst).toBe(0);
      expect(second.statusCode).toBe(200);
      expect(successes()).toHaveLength(1);
      expect(JSON.parse(successes()[0]!.args[0].input.output ?? '')).toEqual({
        approvedBy: [ALICE, BOB],
        decidedAt: '2026-11-25T10:01:30.000Z',
      });
    });

    it('with quorum 2, two approvers deciding at the same moment send the token exactly once', async () => {
      // Prepare
      const { alice, bob } = await requested({ quorum: 2 });

      // Act
      const results = await Promise.all([
        web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext()),
        web(jsonRequest('POST', bob, { decision: 'approve' }), lambdaContext()),
      ]);

      // Assess
      expect(results.map((result) => result.statusCode)).toEqual([200, 200]);
      expect(successes()).toHaveLength(1);
      expect(JSON.parse(successes()[0]!.args[0].input.output ?? '').approvedBy.sort()).toEqual([ALICE, BOB]);
      expect(await stored()).toMatchObject({ status: 'approved' });
    });

    it('a reject fails the task with Approval.Rejected and the comment in the cause', async () => {
      // Prepare
      const { bob } = await requested();

      // Act
      const result = await web(
        browserRequest('POST', bob, { comment: 'checkout is mid-deploy, wait', decision: 'reject' }),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(200);
      expect(result.body).toContain('Rejected.');
      expect(successes()).toHaveLength(0);
      expect(failures()).toHaveLength(1);
      expect(failures()[0]!.args[0].input).toEqual({
        taskToken: TASK_TOKEN,
        error: 'Approval.Rejected',
        cause: `rejected by ${BOB}: checkout is mid-deploy, wait`,
      });
      expect(await stored()).toMatchObject({ status: 'rejected' });
    });

    it('the same link again answers 409 and sends nothing more', async () => {
      // Prepare
      const { alice } = await requested({ quorum: 2 });
      await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());

      // Act
      const again = await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());
      const page = await web(browserRequest('POST', alice, { decision: 'reject' }), lambdaContext());

      // Assess
      expect(again.statusCode).toBe(409);
      expect(bodyOf(again)).toMatchObject({ reason: 'already-decided' });
      expect(page.statusCode).toBe(409);
      expect(page.body).toContain('You have already decided on this request.');
      expect(successes()).toHaveLength(0);
      expect(failures()).toHaveLength(0);
      expect((await stored())?.decisions).toHaveLength(1);
    });

    it('the same link after the approval settled answers 409; Step Functions refuses the used token', async () => {
      // Prepare: like Step Functions, a token is accepted once
      const used = new Set<string>();
      harness.sfn.on(SendTaskSuccessCommand).callsFake((input: { taskToken: string }) => {
        if (used.has(input.taskToken))
          throw Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' });
        used.add(input.taskToken);
        return {};
      });
      const { alice } = await requested();
      await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());

      // Act
      const again = await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(again.statusCode).toBe(409);
      expect(bodyOf(again)).toMatchObject({ reason: 'not-pending' });
      expect(used.size).toBe(1);
    });

    it('a link to a request that was asked again (after a restart or a retry) answers 409 saying it was replaced', async () => {
      // Prepare: the request is asked again with a new token; alice still has the first e-mail
      const { alice } = await requested();
      await requestApproval(approvalPayload(alert, { token: 'token-after-restart' }), lambdaContext());

      // Act
      const post = await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());
      const page = await web(browserRequest('POST', alice, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(post.statusCode).toBe(409);
      expect(bodyOf(post)).toMatchObject({ reason: 'replaced' });
      expect(String(bodyOf(post).error)).toMatch(/asked again .* newest e-mail/);
      expect(page.body).toContain('newest e-mail');
      expect(successes()).toHaveLength(0);
    });

    it('a link to a request cancelled by an abort answers 409 saying so', async () => {
      // Prepare
      const { alice } = await requested();
      await harness.services.control.abort(EXECUTION_ID, 'bob@example.com', 'wrong node');

      // Act
      const post = await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(post.statusCode).toBe(409);
      expect(bodyOf(post)).toMatchObject({ reason: 'cancelled' });
    });

    it('a decision whose token could not be sent (throttled) is delivered when the approver tries again', async () => {
      // Prepare
      harness.sfn
        .on(SendTaskSuccessCommand)
        .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
      const { alice } = await requested();
      const first = await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());
      harness.sfn.on(SendTaskSuccessCommand).resolves({});

      // Act
      const again = await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(first.statusCode).toBe(503);
      expect(again.statusCode).toBe(200);
      expect(bodyOf(again)).toMatchObject({ message: 'Approved. The runbook continues.' });
    });

    it('a tampered signature answers 403 and decides nothing', async () => {
      // Prepare
      const { alice } = await requested();
      const sig = alice.searchParams.get('sig')!;
      const tampered = new URL(alice);
      tampered.searchParams.set('sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);

      // Act
      const get = await web(browserRequest('GET', tampered), lambdaContext());
      const post = await web(jsonRequest('POST', tampered, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(get.statusCode).toBe(403);
      expect(get.body).toContain('This approval link is not valid.');
      expect(post.statusCode).toBe(403);
      expect(bodyOf(post)).toMatchObject({ reason: 'bad-signature' });
      expect(successes()).toHaveLength(0);
    });

    it('a link whose exp is spelled another way (a leading zero) answers 400 and decides nothing', async () => {
      // Prepare: the same number as issued, written as 0<exp>
      const { alice } = await requested();
      const respelled = new URL(alice);
      respelled.searchParams.set('exp', `0${alice.searchParams.get('exp')}`);

      // Act
      const post = await web(jsonRequest('POST', respelled, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(post.statusCode).toBe(400);
      expect(bodyOf(post)).toMatchObject({ reason: 'malformed' });
      expect(successes()).toHaveLength(0);
      expect((await stored())?.decisions).toEqual([]);
    });

    it("another approver's link with my name swapped in answers 403", async () => {
      // Prepare: bob's link, with alice's name in it
      const { bob } = await requested({ quorum: 2 });
      const swapped = withApprover(bob, ALICE);

      // Act
      const post = await web(jsonRequest('POST', swapped, { decision: 'approve' }), lambdaContext());
      const inBody = await web(
        functionUrlEvent('POST', bob.pathname, {
          body: JSON.stringify({
            decision: 'approve',
            approver: ALICE,
            exp: bob.searchParams.get('exp'),
            sig: bob.searchParams.get('sig'),
          }),
        }) as HttpEvent,
        lambdaContext(),
      );

      // Assess
      expect(post.statusCode).toBe(403);
      expect(bodyOf(post)).toMatchObject({ reason: 'bad-signature' });
      expect(inBody.statusCode).toBe(403);
      expect((await stored())?.decisions).toEqual([]);
    });

    it('an expired link answers 410', async () => {
      // Prepare
      const { alice } = await requested();
      harness.clock.advance(15 * 60_000);

      // Act
      const get = await web(browserRequest('GET', alice), lambdaContext());
      const post = await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(get.statusCode).toBe(410);
      expect(get.body).toContain('This approval link has expired.');
      expect(post.statusCode).toBe(410);
      expect(bodyOf(post)).toMatchObject({ reason: 'expired' });
      expect(successes()).toHaveLength(0);
    });

    it('a validly signed link for someone who is not an approver answers 403', async () => {
      // Prepare
      await requested();
      const mallory = new URL(
        approvalLinkUrl(
          'https://autopilot.example.com/',
          {
            approvalId,
            approver: 'carol@example.com',
            expiresAt: Date.parse('2026-11-25T10:15:00Z') / 1000,
          },
          SIGNING_KEY,
        ),
      );

      // Act
      const get = await web(browserRequest('GET', mallory), lambdaContext());
      const post = await web(jsonRequest('POST', mallory, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(get.statusCode).toBe(403);
      expect(get.body).toContain('You are not one of the approvers of this request.');
      expect(post.statusCode).toBe(403);
      expect(bodyOf(post)).toMatchObject({ reason: 'not-an-approver' });
      expect(successes()).toHaveLength(0);
      expect((await stored())?.decisions).toEqual([]);
    });

    it('an unknown approval id answers 404', async () => {
      // Prepare: a garbage id, and a well-formed signed one for an approval that does not exist
      await requested();
      const garbage = new URL(
        'https://autopilot.example.com/approvals/not-an-approval?approver=a&exp=1&sig=x',
      );
      const unknown = new URL(
        approvalLinkUrl(
          'https://autopilot.example.com/',
          {
            approvalId: approvalPublicId(EXECUTION_ID, 'phase-relieve-node-0123456789'),
            approver: ALICE,
            expiresAt: Date.parse('2026-11-25T10:15:00Z') / 1000,
          },
          SIGNING_KEY,
        ),
      );

      // Act
      const results = await Promise.all([
        web(browserRequest('GET', garbage), lambdaContext()),
        web(jsonRequest('GET', unknown), lambdaContext()),
        web(jsonRequest('POST', unknown, { decision: 'approve' }), lambdaContext()),
      ]);

      // Assess
      expect(results.map((result) => result.statusCode)).toEqual([404, 404, 404]);
      expect(bodyOf(results[2]!)).toMatchObject({ reason: 'not-found' });
    });

    it('answers 409 too-late when Step Functions says the task timed out', async () => {
      // Prepare
      const { alice } = await requested();
      harness.sfn
        .on(SendTaskSuccessCommand)
        .rejects(Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' }));

      // Act
      const result = await web(jsonRequest('POST', alice, { decision: 'approve' }), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(409);
      expect(bodyOf(result)).toMatchObject({
        reason: 'too-late',
        error: expect.stringMatching(/no longer waits/),
      });
      expect(successes()).toHaveLength(1);
      expect(harness.logger.entries).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          message: 'approval decided after the execution stopped waiting',
        }),
      );
    });

    it('a malformed decision answers 400 naming the field', async () => {
      // Prepare
      const { alice } = await requested();

      // Act
      const json = await web(jsonRequest('POST', alice, { decision: 'maybe' }), lambdaContext());
      const form = await web(browserRequest('POST', alice, { comment: 'x' }), lambdaContext());
      const extra = await web(
        jsonRequest('POST', alice, { decision: 'approve', approvedBy: 'everyone' }),
        lambdaContext(),
      );
      const notJson = await web(jsonRequest('POST', alice, '{"decision":'), lambdaContext());

      // Assess
      expect(json.statusCode).toBe(400);
      expect(bodyOf(json).problems).toContainEqual(expect.objectContaining({ path: 'decision' }));
      expect(form.statusCode).toBe(400);
      expect(bodyOf(form).problems).toContainEqual(expect.objectContaining({ path: 'decision' }));
      expect(extra.statusCode).toBe(400);
      expect(JSON.stringify(bodyOf(extra))).toContain('approvedBy');
      expect(notJson.statusCode).toBe(400);
      expect(successes()).toHaveLength(0);
      expect(failures()).toHaveLength(0);
    });

    it('a body over the limit answers 413 before anything is parsed', async () => {
      // Prepare
      const { alice } = await requested();

      // Act
      const result = await web(
        browserRequest('POST', alice, { decision: 'approve', comment: 'x'.repeat(9_000) }),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(413);
      expect(successes()).toHaveLength(0);
    });
  });
});

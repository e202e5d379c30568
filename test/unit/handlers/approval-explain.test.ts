import { PublishCommand } from '@aws-sdk/client-sns';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { Alert } from '../../../functions/core/alert.ts';
import { normalizeAlertmanager } from '../../../functions/core/classifier/normalize.ts';
import type { ApprovalTask, ExecutionContext } from '../../../functions/core/execution-contract.ts';
import { type ExecutionRecord, type StepOutcome, summarizeAlert } from '../../../functions/core/records.ts';
import { ApprovalService } from '../../../functions/core/services/approvals.ts';
import { ExplainService } from '../../../functions/core/services/explain.ts';
import { createApprovalRequestHandler } from '../../../functions/handlers/approval-request.ts';
import { createApprovalWebHandler } from '../../../functions/handlers/approval-web.ts';
import type { HttpEvent, HttpResult } from '../../../functions/handlers/http.ts';
import { fixedLinkSigningKeys } from '../../../functions/ports/link-signing-keys.ts';
import {
  type AwsHarness,
  functionUrlEvent,
  lambdaContext,
  SIGNING_KEY,
  startAwsHarness,
} from '../../support/aws-harness.ts';
import {
  diagnosticOutcome,
  rolloutHistoryOutput,
  toolOutput,
  workloadStatusOutput,
} from '../../support/explain-outputs.ts';
import { type SeedRun, seedRuns } from '../../support/learning-history.ts';

/**
 * What the approver reads: the approval e-mail and page conclude from the diagnostics (the likely
 * cause, ranked against the alert's start and the runbook's history) and predict the step they are
 * asked about, before any raw output. The handlers as Lambda runs them, the store on dynalite.
 */

const RUNBOOK = 'test/fixtures/runbooks/explain/roll-back-release.yaml';
const EXECUTION_ID = 'roll-back-release-5c0ffee5c0ffee5c0ffe';
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAZ3dYc9Hk+1Q/ZbqLx2mTqV0kX8jvD3nP4uRzYw6sE9tB1cF7gH2iJ5kL8mN0==';
const ALICE = 'alice@example.com';
// The harness's clock: 2026-11-25T10:00:00Z. The alert started a minute before, the release 3 minutes before that.
const ALERT_STARTS_AT = '2026-11-25T09:59:00.000Z';
const RELEASED_AT = '2026-11-25T09:56:00.000Z';
const OBSERVED_AT = '2026-11-25T09:59:40.000Z';

function alertOf(harness: AwsHarness): Alert {
  return normalizeAlertmanager(
    {
      version: '4',
      groupKey: '{}:{alertname="WorkloadErrors"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'runbook-autopilot',
      groupLabels: { alertname: 'WorkloadErrors' },
      commonLabels: { alertname: 'WorkloadErrors', environment: 'prod' },
      commonAnnotations: {},
      externalURL: 'http://alertmanager.example.com',
      alerts: [
        {
          status: 'firing',
          labels: {
            alertname: 'WorkloadErrors',
            severity: 'critical',
            namespace: 'shop',
            deployment: 'checkout',
            environment: 'prod',
          },
          annotations: { summary: 'checkout answers 5xx' },
          startsAt: ALERT_STARTS_AT,
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus.example.com/graph',
          fingerprint: 'fp-workload-errors-checkout',
        },
      ],
    },
    harness.normalize,
  )[0]!;
}

function context(): ExecutionContext {
  return {
    id: EXECUTION_ID,
    runbookId: 'roll-back-release',
    runbookVersion: '1.0.0',
    incidentId: 'inc-workload-errors-checkout',
    environment: 'prod',
    dryRun: false,
    approvalRiskThreshold: 2,
    changeFreeze: false,
    startedAt: '2026-11-25T09:59:30.000Z',
  };
}

function record(alert: Alert): ExecutionRecord {
  const { approvalRiskThreshold: _threshold, changeFreeze: _freeze, ...execution } = context();
  return {
    ...execution,
    status: 'running',
    alert: summarizeAlert(alert),
    resourceKey: 'k8s-deployment/shop/checkout',
    control: { pauseRequested: false, abortRequested: false },
  };
}

function workloadOutput() {
  return workloadStatusOutput(4);
}

function historyOutput() {
  return rolloutHistoryOutput(RELEASED_AT);
}

function diagnostic(stepId: string, name: string, tool: string, value: unknown): StepOutcome {
  return diagnosticOutcome(EXECUTION_ID, { id: stepId, name, tool }, value, OBSERVED_AT);
}

function payload(alert: Alert): z.infer<typeof ApprovalTask> {
  return {
    kind: 'approval',
    taskToken: TOKEN,
    execution: context(),
    alert,
    steps: {},
    groups: {},
    approval: {
      requirement: 'rollback-needs-approval',
      target: { kind: 'step', id: 'rollout-undo' },
      approverGroups: ['sre-oncall'],
      quorum: 1,
      timeoutSeconds: 600,
      risk: 'medium',
      plan: [
        {
          id: 'rollout-undo',
          name: 'Roll back to the previous revision',
          tool: 'k8s.rollout-undo',
          risk: 'medium',
          parameters: { namespace: 'shop', kind: 'Deployment', name: 'checkout' },
        },
      ],
    },
  };
}

/** Earlier runs of the runbook for the same alert: the same release finding, then rollbacks. */
async function seedHistory(harness: AwsHarness, alert: Alert, runs: SeedRun[]): Promise<void> {
  const runbook = harness.runbooks[0]!;
  const seeded = seedRuns(runbook, runs, Date.parse('2026-11-20T08:00:00Z'));
  for (const [index, execution] of seeded.executions.entries()) {
    execution.alert.name = alert.name;
    execution.alert.resource = { ...execution.alert.resource, type: alert.resource.type };
    await harness.store.createExecution(execution);
    for (const outcome of seeded.outcomes[index]!) await harness.store.putStepOutcome(outcome);
  }
}

const released = (status: 'succeeded' | 'failed', undoMs: number): SeedRun => ({
  status,
  steps: {
    workload: { output: workloadOutput() },
    history: { output: historyOutput() },
    'rollout-undo': { status, durationMs: undoMs },
  },
});

describe('what the approver reads', () => {
  let harness: AwsHarness;
  let alert: Alert;
  let requestApproval: (event: unknown) => Promise<{ approvalId: string }>;
  let web: ReturnType<typeof createApprovalWebHandler>;

  beforeEach(async () => {
    harness = await startAwsHarness({ runbooks: [RUNBOOK] });
    alert = alertOf(harness);
    await harness.store.createExecution(record(alert));
    await harness.store.putStepOutcome(
      diagnostic(
        'workload',
        "The workload's replicas and last rollout",
        'k8s.workload-status',
        workloadOutput(),
      ),
    );
    await harness.store.putStepOutcome(
      diagnostic('history', "The workload's rollout history", 'k8s.rollout-history', historyOutput()),
    );
    const { store, engine, clock, logger, audit, notifier, config } = harness;
    const approvals = new ApprovalService({
      store,
      engine,
      clock,
      logger,
      audit,
      notifier,
      config,
      signingKeys: fixedLinkSigningKeys(SIGNING_KEY),
      explain: new ExplainService({ store, clock, logger, runbooks: () => harness.runbooks }),
    });
    const handler = createApprovalRequestHandler({ approvals, logger });
    requestApproval = async (event) => (await handler(event, lambdaContext())) as { approvalId: string };
    web = createApprovalWebHandler({ approvals, logger });
  });
  afterEach(() => harness.stop());

  function messageFor(recipient: string): string {
    const message = harness.sns
      .commandCalls(PublishCommand)
      .map((call) => call.args[0].input)
      .find((input) => input.MessageAttributes?.recipient?.StringValue === recipient);
    return message?.Message ?? '';
  }

  async function page(recipient: string): Promise<string> {
    const link = new URL(/https:\/\/autopilot\.example\.com\/approvals\/\S+/.exec(messageFor(recipient))![0]);
    const event = functionUrlEvent('GET', link.pathname, {
      query: Object.fromEntries(link.searchParams),
    }) as HttpEvent;
    event.headers = { accept: 'text/html' };
    const result = (await web(event, lambdaContext())) as HttpResult;
    expect(result.statusCode).toBe(200);
    return result.body ?? '';
  }

  it('the e-mail names the likely cause and the step’s prediction before the links', async () => {
    // Prepare: two verified rollbacks after the same release, one that failed
    await seedHistory(harness, alert, [
      released('succeeded', 4_000),
      released('succeeded', 6_000),
      released('failed', 30_000),
    ]);

    // Act
    await requestApproval(payload(alert));

    // Assess
    const text = messageFor(ALICE);
    const causes = text.indexOf('Likely cause:\n');
    const prediction = text.indexOf('Prediction:\n');
    const link = text.indexOf('Review the diagnostics and decide');
    expect(causes).toBeGreaterThan(text.indexOf('It will run:'));
    expect(prediction).toBeGreaterThan(causes);
    expect(link).toBeGreaterThan(prediction);
    expect(text).toContain(
      'Likely cause:\n  1. Deployment shop/checkout was deployed (revision 8, image shop/checkout:2.0.0); that was 3 minutes before the alert started. The same kind of finding came before 2 of 2 verified fixes of this alert.\n  2. ',
    );
    expect(text).toMatch(
      /\n {2}Roll back to the previous revision: 60% likely to succeed \(90% interval \d+%–\d+%\), about \d+(\.\d)?s \(90% interval [^)]+\); rests on 3 similar past runs \(same runbook, step and alert\)\.\n/,
    );
  });

  it('the page: the likely cause first with its evidence folded, the prediction, the raw outputs last and folded', async () => {
    // Prepare: no history yet
    await requestApproval(payload(alert));

    // Act
    const html = await page(ALICE);

    // Assess
    const cause = html.indexOf('<section id="likely-cause">');
    const prediction = html.indexOf('<section id="prediction">');
    const plan = html.indexOf('<h2>What will run</h2>');
    const raw = html.indexOf('<section id="raw-outputs">');
    expect(cause).toBeGreaterThan(0);
    expect(prediction).toBeGreaterThan(cause);
    expect(plan).toBeGreaterThan(prediction);
    expect(raw).toBeGreaterThan(plan);
    const causes = html.slice(cause, prediction);
    expect(causes).toContain(
      '<p class="conclusion"><strong>Deployment shop/checkout was deployed (revision 8, image shop/checkout:2.0.0); that was 3 minutes before the alert started.</strong></p>',
    );
    expect(causes).toContain('came shortly before the alert');
    expect(causes).toMatch(
      /<details><summary>Evidence \(2 findings\)<\/summary><ul><li>Deployment shop\/checkout/,
    );
    expect(causes).toContain('<code>steps.history.output.revisions[0]</code>');
    expect(causes).toContain('No earlier run of WorkloadErrors on');
    const predicted = html.slice(prediction, plan);
    expect(predicted).toContain('<tr data-step="rollout-undo"><td>Roll back to the previous revision');
    expect(predicted).toContain('50% likely to succeed (90% interval');
    expect(predicted).toContain('duration not measured yet');
    expect(predicted).toContain('no history yet, prior only (an even prior)');
    // Raw outputs are still there, behind a fold.
    expect(html.slice(raw)).toContain('<details><summary>Raw output</summary><pre>');
    expect(html.slice(raw)).toContain('shop/checkout:2.0.0');
  });

  it('the page rests the prediction on the similar past runs when there are some', async () => {
    await seedHistory(harness, alert, [released('succeeded', 4_000), released('succeeded', 6_000)]);
    await requestApproval(payload(alert));

    const html = await page(ALICE);

    expect(html).toContain('<td>2 similar past runs (same runbook, step and alert)</td>');
    expect(html).toContain('75% likely to succeed');
    expect(html).toContain('Compared with 2 earlier run(s) of WorkloadErrors on');
    expect(html).toContain('came before earlier verified fixes');
  });

  it('the reminder e-mail repeats the likely cause and the prediction before its fresh link', async () => {
    // Prepare: asked, then nobody answered for longer than the reminder delay
    await requestApproval(payload(alert));
    harness.sns.resetHistory();
    harness.clock.advance(harness.config.approvalReminderSeconds * 1_000 + 1_000);

    // Act: the approval-request function's schedule
    await requestApproval({
      version: '0',
      id: 'reminder-tick',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '333333333333',
      time: harness.clock.now().toISOString(),
      region: 'eu-west-1',
      resources: [],
      detail: {},
    });

    // Assess
    const text = messageFor(ALICE);
    expect(text).toContain('has waited');
    expect(text).toContain(
      'Likely cause:\n  1. Deployment shop/checkout was deployed (revision 8, image shop/checkout:2.0.0); that was 3 minutes before the alert started.',
    );
    expect(text).toContain('Roll back to the previous revision: 50% likely to succeed');
    expect(text.indexOf('Likely cause:')).toBeLessThan(
      text.indexOf('https://autopilot.example.com/approvals/'),
    );
  });

  it('markup in a finding is text on the page', async () => {
    await harness.store.putStepOutcome(
      diagnostic(
        'history',
        "The workload's rollout history",
        'k8s.rollout-history',
        toolOutput('k8s.rollout-history', {
          ...(historyOutput() as Record<string, unknown>),
          changedImages: [{ container: 'app', from: 'a', to: '<img src=x onerror=alert(1)>' }],
        }),
      ),
    );
    await requestApproval(payload(alert));

    const html = await page(ALICE);

    expect(html).not.toContain('<img src=x');
    expect(html).toContain('image &lt;img src=x onerror=alert(1)&gt;');
  });
});

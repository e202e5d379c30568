import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { approvalLinkUrl, approvalPublicId } from '../../../functions/core/approval-links.ts';
import {
  type ApprovalRecord,
  type ExecutionRecord,
  summarizeAlert,
} from '../../../functions/core/records.ts';
import type { HttpEvent, HttpResult } from '../../../functions/handlers/http.ts';
import {
  APPROVALS_TOPIC,
  type AwsHarness,
  ESCALATIONS_TOPIC,
  functionUrlEvent,
  lambdaContext,
  REGION,
  STATE_MACHINE_PREFIX,
  startAwsHarness,
} from '../../support/aws-harness.ts';
import {
  diagnosticOutcome,
  rolloutHistoryOutput,
  workloadStatusOutput,
} from '../../support/explain-outputs.ts';
import type { Json } from '../../support/json.ts';
import { sampleAlert } from '../../support/rehearsal.ts';

/**
 * The likely cause on AWS: the control API's execution detail and the approval page's JSON, through
 * the Lambda entry points as functions/composition/aws.ts wires them (the deployed runbook catalog,
 * the store on dynalite, Secrets Manager answered by aws-sdk-client-mock).
 */

const EXECUTION_ID = 'deployment-rollout-stuck-0ddba11c0ffee0ddba11';
const SECRET = 'runbook-autopilot/prod/link-signing-key';
const KEY = 'link-signing-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP';
const APPROVER = 'alice@example.com';
const MINUTE = 60_000;

type Handler = (event: HttpEvent, context: unknown) => Promise<HttpResult & { statusCode: number }>;

describe('likely causes through the AWS wiring', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  const saved = { ...process.env };
  let harness: AwsHarness;
  let approvalId: string;
  const now = Date.now();
  const alertStartsAt = new Date(now - MINUTE).toISOString();

  beforeEach(async () => {
    // Prepare: an execution of the deployed deployment-rollout-stuck whose diagnostics found a release
    // 3 minutes before the alert, waiting for approval of its rollback
    harness = await startAwsHarness();
    const alert = { ...sampleAlert(), startsAt: alertStartsAt };
    const execution: ExecutionRecord = {
      id: EXECUTION_ID,
      runbookId: 'deployment-rollout-stuck',
      runbookVersion: '1.0.0',
      incidentId: 'inc-rollout-stuck',
      environment: 'prod',
      dryRun: false,
      status: 'running',
      alert: summarizeAlert(alert),
      startedAt: new Date(now - 50_000).toISOString(),
      resourceKey: 'k8s-deployment/shop/checkout',
      control: { pauseRequested: false, abortRequested: false },
    };
    await harness.store.createExecution(execution);
    const observedAt = new Date(now - 40_000).toISOString();
    for (const [step, output] of [
      [{ id: 'workload', name: 'Workload', tool: 'k8s.workload-status' }, workloadStatusOutput(4)],
      [
        { id: 'history', name: 'History', tool: 'k8s.rollout-history' },
        rolloutHistoryOutput(new Date(now - 4 * MINUTE).toISOString()),
      ],
    ] as const)
      await harness.store.putStepOutcome(diagnosticOutcome(EXECUTION_ID, step, output, observedAt));
    const approvalKey = 'step-rollout-undo-0123456789';
    approvalId = approvalPublicId(EXECUTION_ID, approvalKey);
    const approval: ApprovalRecord = {
      id: approvalId,
      executionId: EXECUTION_ID,
      runbookId: 'deployment-rollout-stuck',
      requirement: 'prod-approves-rollback',
      target: { kind: 'step', id: 'rollout-undo' },
      environment: 'prod',
      risk: 'medium',
      approverGroups: ['sre-oncall'],
      approvers: [APPROVER],
      quorum: 1,
      status: 'pending',
      decisions: [],
      requestedAt: new Date(now - 30_000).toISOString(),
      expiresAt: new Date(now + 30 * MINUTE).toISOString(),
      taskToken: 'AQCEAAAAKgAAAAMAAAAAAAAAAZ3dYc9Hk+1Q/ZbqLx2mTqV0kX8jvD3nP4uRzYw6sE9tB1cF7gH2iJ5kL8mN0==',
      plan: [
        {
          id: 'rollout-undo',
          name: 'Roll back',
          tool: 'k8s.rollout-undo',
          risk: 'medium',
          parameters: {},
        },
      ],
      alert: summarizeAlert(alert),
    };
    expect(await harness.store.createApproval(approval)).toBe(true);
    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      AWS_ENDPOINT_URL_DYNAMODB: harness.table.endpoint,
      TABLE_NAME: harness.table.tableName,
      STATE_MACHINE_ARN_PREFIX: STATE_MACHINE_PREFIX,
      APPROVALS_TOPIC_ARN: APPROVALS_TOPIC,
      ESCALATIONS_TOPIC_ARN: ESCALATIONS_TOPIC,
      LINK_SIGNING_KEY_SECRET: SECRET,
      RUNBOOK_AUTOPILOT_API_AUTH_PARAMETER: '/runbook-autopilot/prod/api-auth',
      RUNBOOK_AUTOPILOT_CONFIG: JSON.stringify(harness.config),
    });
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).resolves({
      Name: SECRET,
      VersionId: 'v1',
      SecretString: KEY,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: new Date(now - 30 * 24 * 60 * MINUTE),
    });
    // A fresh container: each Lambda entry point as deployed, wired on its first invocation
    vi.resetModules();
  });

  afterEach(async () => {
    process.env = { ...saved };
    secretsManager.reset();
    await harness.stop();
  });

  it('GET /api/executions/:id on the control API returns the likely causes, their findings and the predictions', async () => {
    const { handler } = (await import('../../../functions/lambda/control.ts')) as unknown as {
      handler: Handler;
    };
    const event = functionUrlEvent('GET', `/api/executions/${EXECUTION_ID}`) as HttpEvent;
    (event.requestContext as unknown as Record<string, unknown>).authorizer = {
      iam: { userArn: 'arn:aws:iam::333333333333:user/operator' },
    };

    const result = await handler(event, lambdaContext());

    expect(result.statusCode, result.body).toBe(200);
    const detail = JSON.parse(result.body ?? '{}') as Json;
    expect(detail.likelyCauses[0]).toMatchObject({
      kind: 'recent-deployment',
      rules: ['time'],
      conclusion:
        'Deployment shop/checkout was deployed (revision 8, image shop/checkout:2.0.0); that was 3 minutes before the alert started.',
    });
    expect(detail.findings.length).toBeGreaterThanOrEqual(2);
    const predicted = detail.predictions.map((prediction: Json) => prediction.stepId);
    expect(predicted).toContain('rollout-undo');
    expect(predicted).not.toContain('history');
    expect(predicted).not.toContain('workload');
    expect(detail.explanation.history).toEqual({ runs: 0, sameSignature: 0, verifiedRemediations: 0 });

    // Once finished, the steps it never ran were on branches it did not take: nothing is predicted
    await harness.store.updateExecution(EXECUTION_ID, {
      status: 'succeeded',
      stoppedAt: new Date().toISOString(),
    });
    const after = JSON.parse((await handler(event, lambdaContext())).body ?? '{}') as Json;
    expect(after.likelyCauses[0].kind).toBe('recent-deployment');
    expect(after.predictions).toEqual([]);
  });

  it('the approval page’s JSON carries the explanation and the prediction of the step it asks about', async () => {
    const { handler } = (await import('../../../functions/lambda/approval-web.ts')) as unknown as {
      handler: Handler;
    };
    const url = new URL(
      approvalLinkUrl(
        harness.config.publicBaseUrl,
        { approvalId, approver: APPROVER, expiresAt: Math.floor((now + 20 * MINUTE) / 1_000) },
        Buffer.from(KEY, 'utf8'),
      ),
    );
    const event = functionUrlEvent('GET', url.pathname, {
      query: Object.fromEntries(url.searchParams),
      headers: { accept: 'application/json' },
    }) as HttpEvent;

    const result = await handler(event, lambdaContext());

    expect(result.statusCode, result.body).toBe(200);
    const view = JSON.parse(result.body ?? '{}') as Json;
    expect(view.explanation.likelyCauses[0].kind).toBe('recent-deployment');
    expect(view.explanation.predictions.map((prediction: Json) => prediction.stepId)).toEqual([
      'rollout-undo',
    ]);
    expect(view.explanation.predictions[0].restsOn).toBe('no history yet, prior only (an even prior)');
  });
});

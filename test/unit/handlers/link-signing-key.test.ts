import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { approvalLinkUrl, approvalPublicId } from '../../../functions/core/approval-links.ts';
import { type ApprovalRecord, summarizeAlert } from '../../../functions/core/records.ts';
import type { HttpEvent, HttpResult } from '../../../functions/handlers/http.ts';
import {
  ACCOUNT,
  APPROVALS_TOPIC,
  type AwsHarness,
  ESCALATIONS_TOPIC,
  functionUrlEvent,
  lambdaContext,
  REGION,
  STATE_MACHINE_PREFIX,
  startAwsHarness,
} from '../../support/aws-harness.ts';
import { sampleAlert } from '../../support/rehearsal.ts';

/**
 * The approval pages as deployed: the Lambda entry point wired by functions/composition/aws.ts, the
 * store on dynalite, and Secrets Manager answered by aws-sdk-client-mock as Secrets Manager answers
 * GetSecretValue (AWSCURRENT by default, AWSPREVIOUS after a put-secret-value, CreatedDate per version).
 */

const SECRET = 'runbook-autopilot/prod/link-signing-key';
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${SECRET}-AbCdEf`;
const KEY_1 = 'first-link-signing-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH';
const KEY_2 = 'second-link-signing-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
const EXECUTION_ID = 'node-memory-pressure-43f8a50a0755fd8eb3fd';
const APPROVER = 'alice@example.com';
const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const MINUTE = 60_000;

interface SecretVersion {
  id: string;
  value: string;
  created: Date;
}

/** What Secrets Manager holds: AWSCURRENT, and AWSPREVIOUS once the value was replaced. */
const secret: { current: SecretVersion; previous?: SecretVersion } = {
  current: { id: 'v1', value: KEY_1, created: new Date(T0 - 30 * 24 * 60 * MINUTE) },
};

/** `aws secretsmanager put-secret-value`: the new value becomes AWSCURRENT, the old one AWSPREVIOUS. */
function rotate(value: string, at: number): void {
  secret.previous = secret.current;
  secret.current = { id: `v${Number(secret.current.id.slice(1)) + 1}`, value, created: new Date(at) };
}

describe('approval-web on AWS: the link-signing key after a rotation', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  const saved = { ...process.env };
  let harness: AwsHarness;
  let approvalId: string;
  let handler: (event: HttpEvent, context: unknown) => Promise<HttpResult & { statusCode: number }>;

  /** GET of a link signed with `key`, as an approver's browser asks for JSON. */
  const open = async (key: string, expiresAt: number) => {
    const url = new URL(
      approvalLinkUrl(
        harness.config.publicBaseUrl,
        { approvalId, approver: APPROVER, expiresAt: Math.floor(expiresAt / 1_000) },
        Buffer.from(key, 'utf8'),
      ),
    );
    const event = functionUrlEvent('GET', url.pathname, {
      query: Object.fromEntries(url.searchParams),
      headers: { accept: 'application/json' },
    }) as HttpEvent;
    return (await handler(event, lambdaContext())).statusCode;
  };
  const at = (ms: number) => vi.setSystemTime(new Date(ms));

  beforeEach(async () => {
    // Prepare: a pending approval in the store, the function's environment, Secrets Manager
    harness = await startAwsHarness();
    const approvalKey = 'phase-restart-workload-0123456789';
    approvalId = approvalPublicId(EXECUTION_ID, approvalKey);
    const record: ApprovalRecord = {
      id: approvalId,
      executionId: EXECUTION_ID,
      runbookId: 'node-memory-pressure',
      requirement: 'sre-approves-remediation',
      target: { kind: 'phase', id: 'restart-workload' },
      environment: 'prod',
      risk: 'medium',
      approverGroups: ['sre-oncall'],
      approvers: [APPROVER, 'bob@example.com'],
      quorum: 1,
      status: 'pending',
      decisions: [],
      requestedAt: new Date(T0).toISOString(),
      expiresAt: new Date(T0 + 2 * 60 * MINUTE).toISOString(),
      taskToken: 'AQCEAAAAKgAAAAMAAAAAAAAAAZ3dYc9Hk+1Q/ZbqLx2mTqV0kX8jvD3nP4uRzYw6sE9tB1cF7gH2iJ5kL8mN0==',
      plan: [],
      alert: summarizeAlert(sampleAlert()),
    };
    expect(await harness.store.createApproval(record)).toBe(true);
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
      RUNBOOK_AUTOPILOT_CONFIG: JSON.stringify(harness.config),
    });
    secret.current = { id: 'v1', value: KEY_1, created: new Date(T0 - 30 * 24 * 60 * MINUTE) };
    delete secret.previous;
    secretsManager.reset();
    secretsManager
      .on(GetSecretValueCommand)
      .callsFake((input: { SecretId: string; VersionStage?: string }) => {
        if (input.SecretId !== SECRET)
          throw new ResourceNotFoundException({
            message: "Secrets Manager can't find the specified secret.",
            $metadata: {},
          });
        const stage = input.VersionStage ?? 'AWSCURRENT';
        const version =
          stage === 'AWSCURRENT' ? secret.current : stage === 'AWSPREVIOUS' ? secret.previous : undefined;
        if (!version)
          throw new ResourceNotFoundException({
            message: `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
            $metadata: {},
          });
        return {
          ARN: SECRET_ARN,
          Name: SECRET,
          VersionId: version.id,
          SecretString: version.value,
          VersionStages: [stage],
          CreatedDate: version.created,
        };
      });
    vi.useFakeTimers({ toFake: ['Date'] });
    at(T0);
    // A fresh container: the Lambda entry point as deployed, wired on its first invocation
    vi.resetModules();
    ({ handler } = (await import('../../../functions/lambda/approval-web.ts')) as unknown as {
      handler: typeof handler;
    });
  });

  afterEach(async () => {
    vi.useRealTimers();
    process.env = { ...saved };
    secretsManager.reset();
    await harness.stop();
  });

  it('takes links signed with the new key after a rotation, without waiting for the container to recycle', async () => {
    // A warm container: it read the key at its first request
    expect(await open(KEY_1, T0 + 60 * MINUTE)).toBe(200);

    // Act: an operator rotates; approval-request signs new links with the new key right away
    rotate(KEY_2, T0 + MINUTE);
    at(T0 + 2 * MINUTE);

    // Assess: the warm container takes the new key's link (it reads the secret again on a signature it does not know)
    expect(await open(KEY_2, T0 + 62 * MINUTE)).toBe(200);
    // …and five minutes on without any unknown signature, it has re-read the secret by itself
    rotate(`${KEY_2}-third`, T0 + 3 * MINUTE);
    at(T0 + 9 * MINUTE);
    const reads = secretsManager.commandCalls(GetSecretValueCommand).length;
    expect(await open(`${KEY_2}-third`, T0 + 69 * MINUTE)).toBe(200);
    expect(secretsManager.commandCalls(GetSecretValueCommand).length).toBeGreaterThan(reads);
  });

  it('still takes links signed with the previous key for one link lifetime after the rotation, then refuses them', async () => {
    // Prepare: a link e-mailed before the rotation (links live approvals.linkTtl, 1 h here)
    expect(harness.config.approvalLinkTtlSeconds).toBe(3_600);
    expect(await open(KEY_1, T0 + 60 * MINUTE)).toBe(200);

    // Act: rotated a minute later
    rotate(KEY_2, T0 + MINUTE);
    at(T0 + 10 * MINUTE);

    // Assess: the approver's link still works, and so does a new one
    expect(await open(KEY_1, T0 + 60 * MINUTE)).toBe(200);
    expect(await open(KEY_2, T0 + 70 * MINUTE)).toBe(200);
    // A link signed with the old key cannot outlive one link lifetime after the rotation, whatever its exp says
    at(T0 + MINUTE + 60 * MINUTE + 6 * MINUTE);
    expect(await open(KEY_1, T0 + 100 * MINUTE)).toBe(403);
    expect(await open(KEY_2, T0 + 100 * MINUTE)).toBe(200);
  });

  it('refuses a link signed with neither key, and does not read the secret on every such request', async () => {
    expect(await open(KEY_1, T0 + 60 * MINUTE)).toBe(200);
    const reads = secretsManager.commandCalls(GetSecretValueCommand).length;

    // Act: a burst of forged links
    const statuses: number[] = [];
    for (let index = 0; index < 20; index++)
      statuses.push(await open(`forged-key-${index}-0123456789abcdefghijklmnopqrstuvwxyz`, T0 + 60 * MINUTE));

    // Assess: all refused; at most one extra read of the secret
    expect(new Set(statuses)).toEqual(new Set([403]));
    expect(secretsManager.commandCalls(GetSecretValueCommand).length - reads).toBeLessThanOrEqual(2);
  });
});

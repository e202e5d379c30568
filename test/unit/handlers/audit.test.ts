import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../functions/core/alert.ts';
import { normalizeAlertmanager } from '../../../functions/core/classifier/normalize.ts';
import { type ExecutionRecord, summarizeAlert } from '../../../functions/core/records.ts';
import { createControlHandler } from '../../../functions/handlers/control.ts';
import type { HttpEvent, HttpResult } from '../../../functions/handlers/http.ts';
import {
  type AwsHarness,
  functionUrlEvent,
  lambdaContext,
  startAwsHarness,
} from '../../support/aws-harness.ts';
import { ROOT } from '../../support/runbooks.ts';

/**
 * The control API's audit side on the AWS handler: every override recorded with the caller's identity
 * (the IAM principal of a SigV4-signed Function URL call, or a signed-in user's claims), address and
 * user agent; concurrent requests never lose each other; GET /api/audit answers bad queries with 400.
 */

const ROLE_ARN = 'arn:aws:sts::333333333333:assumed-role/oncall/alice';

interface EventJson {
  kind: string;
  actor: { id: string; source?: { identity?: string } };
  result?: string;
  reason?: string;
  released?: number;
}
interface BodyJson {
  events: EventJson[];
  cursor?: string;
  error?: string;
}

const bodyOf = (result: HttpResult) => JSON.parse(result.body ?? '') as BodyJson;

function withIdentity(event: HttpEvent, authorizer: Record<string, unknown>): HttpEvent {
  return { ...event, requestContext: { ...event.requestContext, authorizer } } as HttpEvent;
}

describe('control API: the audit trail', () => {
  let harness: AwsHarness;
  let alert: Alert;
  let handler: ReturnType<typeof createControlHandler>;
  const call = (event: HttpEvent) => handler(event, lambdaContext());
  const get = (query: Record<string, string>) =>
    call(functionUrlEvent('GET', '/api/audit', { query }) as HttpEvent);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    functionUrlEvent('POST', path, { body: JSON.stringify(body), headers }) as HttpEvent;

  async function running(id: string): Promise<ExecutionRecord> {
    const record: ExecutionRecord = {
      id,
      runbookId: 'node-memory-pressure',
      runbookVersion: '1.0.0',
      incidentId: `inc-${id}`,
      environment: 'prod',
      dryRun: false,
      status: 'running',
      alert: summarizeAlert(alert),
      startedAt: '2026-11-25T09:58:31.204Z',
      resourceKey: `k8s-node/${alert.resource.id}`,
      control: { pauseRequested: false, abortRequested: false },
    };
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

  it('records a pause by an IAM principal with its ARN, address, user agent and client', async () => {
    // Prepare
    await running('exec-iam');
    const event = withIdentity(
      post('/api/executions/exec-iam/pause', { reason: 'checking' }, { 'x-runbook-client': 'dashboard' }),
      {
        iam: { userArn: ROLE_ARN },
      },
    );
    // Act
    const answer = await call(event);
    const trail = bodyOf(await get({ execution: 'exec-iam' }));
    // Assess
    expect(answer.statusCode).toBe(202);
    expect(trail.events).toEqual([
      expect.objectContaining({
        kind: 'override.pause',
        result: 'accepted',
        reason: 'checking',
        resourceKey: `k8s-node/${alert.resource.id}`,
        actor: {
          type: 'person',
          id: ROLE_ARN,
          source: { channel: 'dashboard', ip: '192.0.2.10', userAgent: 'vitest', identity: ROLE_ARN },
        },
      }),
    ]);
  });

  it('names a signed-in user by the claims of their token', async () => {
    // Prepare
    await running('exec-jwt');
    const event = withIdentity(post('/api/executions/exec-jwt/abort', { by: 'dana@example.com' }), {
      jwt: { claims: { sub: 'user-123', email: 'dana@example.com', 'cognito:groups': '[operators]' } },
    });
    // Act
    await call(event);
    const [abort] = bodyOf(await get({ actor: 'dana@example.com' })).events;
    // Assess
    expect(abort?.actor.source?.identity).toBe('sub user-123, email dana@example.com, groups [operators]');
  });

  it('keeps the kill switch’s history on the platform trail, each change with who', async () => {
    // Act
    await call(post('/api/kill-switch', { engaged: true, by: 'bob', reason: 'incident 42' }));
    await call(post('/api/kill-switch', { engaged: false, by: 'carol' }));
    await call(post('/api/kill-switch', { engaged: true, by: 'bob' }));
    const platform = bodyOf(await get({ platform: 'true' })).events;
    // Assess
    expect(platform.map((event) => [event.kind, event.actor.id])).toEqual([
      ['kill-switch.engaged', 'bob'],
      ['kill-switch.released', 'carol'],
      ['kill-switch.engaged', 'bob'],
    ]);
    expect(platform[0]?.reason).toBe('incident 42');
    expect(platform[1]?.released).toBe(0);
  });

  it('never lets a pause that read the execution before an abort clear the abort; both requests are in the trail', async () => {
    // Prepare: the pause reads the execution, then an abort lands before the pause writes
    await running('exec-race');
    const store = harness.store;
    const original = store.getExecution.bind(store);
    let reads = 0;
    store.getExecution = async (id: string) => {
      const read = await original(id);
      // The second read is the pause's own look at the execution, just before it writes.
      if (id === 'exec-race' && ++reads === 2) {
        await harness.services.control.abort('exec-race', 'carol', 'wrong node');
      }
      return read;
    };
    // Act
    const pause = await call(post('/api/executions/exec-race/pause', { by: 'alice' }));
    store.getExecution = original;
    const execution = await store.getExecution('exec-race');
    const trail = bodyOf(await get({ execution: 'exec-race' })).events;
    // Assess
    expect(pause.statusCode).toBe(409);
    expect(bodyOf(pause).error).toMatch(/being aborted \(by carol\)/);
    expect(execution?.control).toMatchObject({
      abortRequested: true,
      pauseRequested: false,
      requestedBy: 'carol',
    });
    expect(trail.map((event) => [event.kind, event.actor.id, event.result])).toEqual([
      ['override.abort', 'carol', 'accepted'],
      ['override.pause', 'alice', 'refused'],
    ]);
  });

  it('exports JSON lines with the next page’s cursor in a header', async () => {
    // Prepare
    await running('exec-lines');
    for (const action of ['pause', 'resume', 'pause'])
      await call(post(`/api/executions/exec-lines/${action}`, { by: 'alice' }));
    // Act
    const first = await get({ execution: 'exec-lines', format: 'jsonl', limit: '2' });
    const rest = await get({
      execution: 'exec-lines',
      format: 'jsonl',
      limit: '2',
      cursor: String(first.headers?.['x-next-cursor']),
    });
    // Assess
    expect(first.headers?.['content-type']).toMatch(/application\/x-ndjson/);
    const kinds = [first, rest].flatMap((page) =>
      String(page.body)
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { kind: string }).kind),
    );
    expect(kinds).toEqual(['override.pause', 'override.resume', 'override.pause']);
    expect(rest.headers?.['x-next-cursor']).toBeUndefined();
  });

  it.each([
    [{}, /exactly one of execution, incident, resource, actor, platform \(got none\)/],
    [{ execution: 'exec-1', actor: 'alice' }, /exactly one .*got execution and actor/],
    [{ execution: 'not an id!' }, /not an execution id/],
    [{ actor: 'alice', since: 'yesterday' }, /since: expected an ISO 8601 date-time/],
    [{ actor: 'alice', limit: '0' }, /limit/],
    [{ actor: 'alice', limit: '5000' }, /limit/],
    [{ actor: 'alice', format: 'xml' }, /format/],
    [{ actor: 'alice', colour: 'red' }, /colour/],
    [{ actor: 'alice', cursor: 'garbage' }, /cursor is not one a page of this same audit query returned/],
    [{ actor: 'x'.repeat(300) }, /actor/],
    [{ platform: 'yes' }, /platform/],
  ])('answers 400 naming what is wrong for %j', async (query, message) => {
    // Act
    const answer = await get(query as Record<string, string>);
    // Assess
    expect(answer.statusCode).toBe(400);
    expect(bodyOf(answer).error).toMatch(message);
  });

  it('answers an audit query with a cursor of another query with 400, not 500', async () => {
    // Prepare
    await running('exec-cursor');
    for (const action of ['pause', 'resume'])
      await call(post(`/api/executions/exec-cursor/${action}`, { by: 'alice' }));
    const page = bodyOf(await get({ execution: 'exec-cursor', limit: '1' }));
    // Act
    const answer = await get({ actor: 'alice', cursor: String(page.cursor) });
    // Assess
    expect(page.cursor).toBeDefined();
    expect(answer.statusCode).toBe(400);
  });
});

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeAlertmanager } from '../../../functions/core/classifier/normalize.ts';
import { ALERT_DETAIL_TYPE, INGEST_SOURCE } from '../../../functions/core/routing.ts';
import type { IngestAuth } from '../../../functions/handlers/auth.ts';
import type { HttpEvent, HttpResult } from '../../../functions/handlers/http.ts';
import { createIngestHandler, WEBHOOK_BODY_LIMIT } from '../../../functions/handlers/ingest.ts';
import {
  type AwsHarness,
  functionUrlEvent,
  lambdaContext,
  startAwsHarness,
} from '../../support/aws-harness.ts';
import { ROOT } from '../../support/runbooks.ts';

const PATH = '/webhooks/alertmanager';
const TOKEN = 'alertmanager-token-0123456789abcdef';
const HMAC_KEY = 'alertmanager-hmac-key-0123456789abcdef';

const fixtureText = (name: string) => readFileSync(join(ROOT, 'test/fixtures/alerts', name), 'utf8');
const bodyOf = (result: HttpResult) => JSON.parse(result.body ?? '') as Record<string, unknown>;

function webhook(
  body: string,
  headers: Record<string, string> = {},
  method = 'POST',
  path = PATH,
): HttpEvent {
  return functionUrlEvent(method, path, { body, headers }) as HttpEvent;
}

const sign = (body: string, key = HMAC_KEY) =>
  `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;

describe('ingest handler', () => {
  let harness: AwsHarness;
  let auth: IngestAuth;
  let handler: ReturnType<typeof createIngestHandler>;

  const putEvents = () => harness.events.commandCalls(PutEventsCommand).map((call) => call.args[0].input);
  const publishedEntries = () => putEvents().flatMap((input) => input.Entries ?? []);
  const call = (event: HttpEvent) => handler(event, lambdaContext());

  beforeEach(async () => {
    harness = await startAwsHarness();
    auth = {};
    handler = createIngestHandler({
      bus: harness.bus,
      normalize: harness.normalize,
      auth: () => auth,
      clock: harness.clock,
      logger: harness.logger,
    });
  });
  afterEach(() => harness.stop());

  it('publishes one normalized alert event per alert and answers 202', async () => {
    // Prepare
    const body = fixtureText('alertmanager-node-memory-pressure.json');
    const expected = normalizeAlertmanager(JSON.parse(body), harness.normalize);

    // Act
    const result = await call(webhook(body));

    // Assess
    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toEqual({
      accepted: 2,
      alerts: expected.map((alert) => ({
        name: 'KubeNodeMemoryPressure',
        fingerprint: alert.fingerprint,
        status: 'firing',
        environment: 'prod',
      })),
    });
    const entries = publishedEntries();
    expect(entries).toHaveLength(2);
    for (const [index, entry] of entries.entries()) {
      expect(entry).toMatchObject({
        EventBusName: 'runbook-autopilot-prod',
        Source: INGEST_SOURCE,
        DetailType: ALERT_DETAIL_TYPE,
        Time: new Date('2026-11-25T10:00:00.000Z'),
      });
      expect(JSON.parse(entry.Detail ?? '')).toEqual({
        alert: expected[index],
        receivedAt: '2026-11-25T10:00:00.000Z',
      });
    }
    expect(expected.map((alert) => alert.resource.id)).toEqual([
      'ip-10-0-1-23.eu-west-1.compute.internal',
      'ip-10-0-2-141.eu-west-1.compute.internal',
    ]);
  });

  it('publishes a resolved alert with status resolved', async () => {
    // Act
    const result = await call(webhook(fixtureText('alertmanager-resolved.json')));

    // Assess
    expect(result.statusCode).toBe(202);
    const entries = publishedEntries();
    expect(entries).toHaveLength(1);
    expect(JSON.parse(entries[0]!.Detail ?? '')).toMatchObject({
      alert: { name: 'KubeNodeMemoryPressure', status: 'resolved' },
    });
  });

  describe('auth', () => {
    const body = () => fixtureText('alertmanager-node-memory-pressure.json');

    it('answers 401 and publishes nothing when a token is configured and none is sent', async () => {
      // Prepare
      auth = { token: TOKEN };

      // Act
      const result = await call(webhook(body()));

      // Assess
      expect(result.statusCode).toBe(401);
      expect(result.headers?.['www-authenticate']).toBe('Bearer');
      expect(bodyOf(result).error).toMatch(/Authorization: Bearer/);
      expect(putEvents()).toHaveLength(0);
    });

    it('answers 401 for a wrong bearer token', async () => {
      // Prepare
      auth = { token: TOKEN };

      // Act
      const result = await call(webhook(body(), { authorization: `Bearer ${TOKEN}x` }));

      // Assess
      expect(result.statusCode).toBe(401);
      expect(bodyOf(result).error).toBe('the credentials are not valid');
      expect(putEvents()).toHaveLength(0);
    });

    it('answers 202 with the right bearer token', async () => {
      // Prepare
      auth = { token: TOKEN };

      // Act
      const result = await call(webhook(body(), { authorization: `Bearer ${TOKEN}` }));

      // Assess
      expect(result.statusCode).toBe(202);
      expect(publishedEntries()).toHaveLength(2);
    });

    it('answers 202 with a right HMAC signature over the raw body', async () => {
      // Prepare
      auth = { token: TOKEN, hmacKey: HMAC_KEY };
      const text = body();

      // Act
      const result = await call(webhook(text, { 'x-signature': sign(text) }));

      // Assess
      expect(result.statusCode).toBe(202);
      expect(publishedEntries()).toHaveLength(2);
    });

    it('checks the HMAC over the decoded body when the Function URL passes it base64-encoded', async () => {
      // Prepare
      auth = { hmacKey: HMAC_KEY };
      const text = body();
      const event = webhook(Buffer.from(text).toString('base64'), { 'x-signature': sign(text) });
      event.isBase64Encoded = true;

      // Act
      const result = await call(event);

      // Assess
      expect(result.statusCode).toBe(202);
      expect(publishedEntries()).toHaveLength(2);
    });

    it('answers 401 for a wrong HMAC signature, or one over another body', async () => {
      // Prepare
      auth = { hmacKey: HMAC_KEY };
      const text = body();

      // Act
      const wrongKey = await call(
        webhook(text, { 'x-signature': sign(text, 'another-key-0123456789abcdef') }),
      );
      const otherBody = await call(webhook(text, { 'x-signature': sign(`${text} `) }));
      const noPrefix = await call(webhook(text, { 'x-signature': sign(text).replace('sha256=', '') }));
      const bearerOnly = await call(webhook(text, { authorization: `Bearer ${HMAC_KEY}` }));

      // Assess
      expect([wrongKey, otherBody, noPrefix, bearerOnly].map((result) => result.statusCode)).toEqual([
        401, 401, 401, 401,
      ]);
      expect(putEvents()).toHaveLength(0);
    });
  });

  describe('bad requests', () => {
    it('answers 400 when the body is not JSON', async () => {
      // Act
      const result = await call(webhook('receiver=runbook-autopilot&status=firing'));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(bodyOf(result)).toMatchObject({ error: 'the body is not JSON' });
      expect(putEvents()).toHaveLength(0);
    });

    it('answers 400 naming alerts[1].startsAt when it is missing, and publishes nothing', async () => {
      // Prepare
      const body = JSON.parse(fixtureText('alertmanager-node-memory-pressure.json')) as {
        alerts: Array<Record<string, unknown>>;
      };
      delete body.alerts[1]!.startsAt;

      // Act
      const result = await call(webhook(JSON.stringify(body)));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(bodyOf(result).problems).toContainEqual(expect.objectContaining({ path: 'alerts[1].startsAt' }));
      expect(putEvents()).toHaveLength(0);
    });

    it('answers 400 naming the field for the malformed fixtures', async () => {
      // Act
      const badStart = await call(webhook(fixtureText('malformed/alertmanager-bad-startsAt.json')));
      const wrongVersion = await call(webhook(fixtureText('malformed/alertmanager-wrong-version.json')));

      // Assess
      expect(badStart.statusCode).toBe(400);
      expect(JSON.stringify(bodyOf(badStart).problems)).toMatch(/startsAt/);
      expect(wrongVersion.statusCode).toBe(400);
      expect(JSON.stringify(bodyOf(wrongVersion).problems)).toMatch(/version/);
      expect(putEvents()).toHaveLength(0);
    });

    it('answers 413 for a body over 1 MB, before checking anything else', async () => {
      // Prepare
      auth = { token: TOKEN };
      const body = JSON.stringify({ padding: 'x'.repeat(WEBHOOK_BODY_LIMIT) });

      // Act
      const result = await call(webhook(body, { authorization: `Bearer ${TOKEN}` }));

      // Assess
      expect(WEBHOOK_BODY_LIMIT).toBe(1024 * 1024);
      expect(result.statusCode).toBe(413);
      expect(bodyOf(result).error).toMatch(/limit is 1048576 bytes/);
      expect(putEvents()).toHaveLength(0);
    });

    it('answers 404 for an unknown route', async () => {
      // Act
      const wrongPath = await call(webhook('{}', {}, 'POST', '/webhooks/grafana'));
      const wrongMethod = await call(webhook('', {}, 'GET', PATH));

      // Assess
      expect(wrongPath.statusCode).toBe(404);
      expect(wrongMethod.statusCode).toBe(404);
      expect(putEvents()).toHaveLength(0);
    });
  });

  describe('EventBridge failures', () => {
    it('retries the entries EventBridge failed and then answers 202', async () => {
      // Prepare
      harness.events
        .on(PutEventsCommand)
        .resolvesOnce({
          FailedEntryCount: 1,
          Entries: [
            { EventId: 'event-0' },
            { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service error' },
          ],
        })
        .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'event-1' }] });

      // Act
      const result = await call(webhook(fixtureText('alertmanager-node-memory-pressure.json')));

      // Assess
      expect(result.statusCode).toBe(202);
      const calls = putEvents();
      expect(calls).toHaveLength(2);
      expect(calls[0]!.Entries).toHaveLength(2);
      expect(calls[1]!.Entries).toHaveLength(1);
      expect(JSON.parse(calls[1]!.Entries![0]!.Detail ?? '')).toMatchObject({
        alert: { fingerprint: JSON.parse(calls[0]!.Entries![1]!.Detail ?? '').alert.fingerprint },
      });
    });

    it('answers 503 with Retry-After when the failure persists, so Alertmanager retries', async () => {
      // Prepare
      harness.events.on(PutEventsCommand).resolves({
        FailedEntryCount: 2,
        Entries: [
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
        ],
      });

      // Act
      const result = await call(webhook(fixtureText('alertmanager-node-memory-pressure.json')));

      // Assess
      expect(result.statusCode).toBe(503);
      expect(result.headers?.['retry-after']).toBe('30');
      expect(bodyOf(result).error).toMatch(/2 of 2 events were not published/);
      expect(JSON.stringify(bodyOf(result))).not.toMatch(/\n\s+at /);
      expect(putEvents()).toHaveLength(4);
    });

    it('answers 503 when PutEvents itself fails', async () => {
      // Prepare
      harness.events
        .on(PutEventsCommand)
        .rejects(Object.assign(new Error('Service unavailable'), { name: 'InternalException' }));

      // Act
      const result = await call(webhook(fixtureText('alertmanager-resolved.json')));

      // Assess
      expect(result.statusCode).toBe(503);
    });
  });
});

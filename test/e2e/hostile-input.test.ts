import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_LIMITS } from '../../functions/core/alert.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { TERMINAL_LINE_MAX } from '../../local/terminal.ts';
import type { Json } from '../support/json.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from '../support/library.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * Input built to hurt, sent to the embedded platform over HTTP: very deep JSON, broken percent-encoding,
 * ids and names past what the store's keys take. Every answer is a 4xx naming what was wrong, never a
 * 5xx, and what is accepted is kept.
 */

const ENVIRONMENT = 'staging';
let platform: RunningPlatform;
let url: string;
let dataDir: string;
const lines: string[] = [];

beforeAll(async () => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  dataDir = mkdtempSync(join(tmpdir(), 'runbook-hostile-'));
  platform = await startPlatform({
    cwd: ROOT,
    runbooksDir: LIBRARY_RUNBOOKS_DIR,
    statemachinesDir: libraryStatemachinesDir(),
    port: 0,
    dataDir,
    inMemory: true,
    environment: ENVIRONMENT,
    live: false,
    configOverrides: {
      tools: { kubernetes: { contexts: {}, eks: {} }, shell: { enabled: false, allow: [] } },
    },
    retryIntervalMs: 20,
    print: (line) => lines.push(line),
  });
  url = platform.url;
});

afterAll(async () => {
  await platform?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const fixture = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test/fixtures/alerts', name), 'utf8'));

/** The node-memory-pressure webhook with one alert, labelled for this platform's environment. */
function webhook(change: (alert: Json) => void = () => {}): Json {
  const body = fixture('alertmanager-node-memory-pressure.json');
  body.alerts = body.alerts.slice(0, 1);
  body.alerts[0].labels.environment = ENVIRONMENT;
  change(body.alerts[0]);
  return body;
}

/** `{"a":{"a":…"x"…}}` nested `depth` times, as text: building it as an object would overflow here too. */
function deepJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
}

async function send(path: string, init: RequestInit = {}) {
  const response = await fetch(new URL(path, url), init);
  const text = await response.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    body = { text };
  }
  return { status: response.status, body, headers: response.headers };
}

const postJson = (path: string, body: string | Json) =>
  send(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Every problem path of a 400, and the message. */
const named = (answer: { body: Json }) => [
  answer.body.error as string,
  ...((answer.body.problems ?? []) as Json[]).map((problem) => problem.path as string),
];

describe('hostile input to the embedded platform', () => {
  describe('depth', () => {
    it('answers 400 naming status for a webhook whose status nests 10,000 deep', async () => {
      // Prepare
      const body = JSON.stringify(webhook()).replace('"status":"firing"', `"status":${deepJson(10_000)}`);

      // Act
      const answer = await postJson('/webhooks/alertmanager', body);

      // Assess
      expect(answer.status).toBe(400);
      expect(named(answer).join(' ')).toMatch(/\bstatus\b/);
    });

    it('answers 400 naming detail.state.value for an event whose state nests 10,000 deep, and never 202', async () => {
      // Prepare
      const event = fixture('cloudwatch-alarm-ec2-status-check.json');
      event.detail.state.value = '__DEEP__';
      const body = JSON.stringify(event).replace('"__DEEP__"', deepJson(10_000));

      // Act
      const answer = await postJson('/events', body);

      // Assess
      expect(answer.status).toBe(400);
      expect(named(answer).join(' ')).toMatch(/detail\.state/);
    });
  });

  describe('paths', () => {
    it.each([
      ['GET', '/api/executions/%E0%A4%A'],
      ['POST', '/api/executions/%E0%A4%A/pause'],
      ['POST', '/api/executions/%ZZ/abort'],
      ['GET', '/approvals/%E0%A4%A'],
      ['POST', '/approvals/%E0%A4%A'],
    ])('answers 400 naming the id for broken percent-encoding: %s %s', async (method, path) => {
      // Act
      const answer = await send(path, {
        method,
        ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
      });

      // Assess
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatch(/percent-encoding/);
      expect(answer.body.problems).toEqual([expect.objectContaining({ path: 'id' })]);
    });

    const longId = 'a'.repeat(3_000);
    it.each([
      ['GET /api/executions/:id', 'GET', `/api/executions/${longId}`],
      ['POST /api/executions/:id/resume', 'POST', `/api/executions/${longId}/resume`],
      ['GET /api/outbox?executionId', 'GET', `/api/outbox?executionId=${longId}`],
    ])('answers 400 for an execution id of 3,000 characters: %s', async (_route, method, path) => {
      // Act
      const answer = await send(path, {
        method,
        ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
      });

      // Assess
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatch(/execution id/);
    });
  });

  describe('sizes of what names an alert', () => {
    const huge = 'A'.repeat(300_000);

    it.each([
      [
        'a 300 KB alertname',
        (alert: Json) => Object.assign(alert.labels, { alertname: huge }),
        'labels.alertname',
      ],
      ['a 300 KB node label', (alert: Json) => Object.assign(alert.labels, { node: huge }), 'labels.node'],
      ['a 300 KB fingerprint', (alert: Json) => Object.assign(alert, { fingerprint: huge }), 'fingerprint'],
      [
        'a 3,000-character fingerprint',
        (alert: Json) => Object.assign(alert, { fingerprint: 'f'.repeat(3_000) }),
        'fingerprint',
      ],
      [
        'a 3,000-character alertname',
        (alert: Json) => Object.assign(alert.labels, { alertname: 'A'.repeat(3_000) }),
        'labels.alertname',
      ],
      ['a 300 KB label name', (alert: Json) => Object.assign(alert.labels, { [huge]: 'x' }), 'labels'],
    ])('answers 400 (not 503, not 202) naming the field for %s', async (_what, change, field) => {
      // Act
      const answer = await postJson('/webhooks/alertmanager', webhook(change));

      // Assess
      expect(answer.status).toBe(400);
      expect(answer.headers.get('retry-after')).toBeNull();
      expect(answer.body.problems.map((problem: Json) => problem.path)).toContain(`alerts[0].${field}`);
    });

    it('keeps an alert whose alertname and fingerprint are as long as the limits allow', async () => {
      // Prepare
      const fingerprint = 'f'.repeat(ALERT_LIMITS.fingerprintBytes);
      const body = webhook((alert) => {
        alert.fingerprint = fingerprint;
      });

      // Act
      const answer = await postJson('/webhooks/alertmanager', body);
      const executionId = answer.body.results?.[0]?.result?.executionId;
      const detail = await send(`/api/executions/${executionId}`);

      // Assess
      expect(answer.status).toBe(202);
      expect(detail.status).toBe(200);
      expect(detail.body.incident.fingerprint).toBe(fingerprint);
    });

    it('keeps an unmatched alert whose alertname is as long as the limit allows', async () => {
      // Prepare
      const alertname = `Z${'z'.repeat(ALERT_LIMITS.nameBytes - 1)}`;
      const body = webhook((alert) => {
        alert.labels.alertname = alertname;
        alert.fingerprint = 'ffffffffffffff01';
      });

      // Act
      const answer = await postJson('/webhooks/alertmanager', body);
      const learning = await send('/api/learning');

      // Assess
      expect(answer.status).toBe(202);
      expect(answer.body.results[0].result.decision).toBe('unmatched');
      expect(JSON.stringify(learning.body)).toContain(alertname);
    });
  });

  it('prints long values to the terminal cut, with a marker', async () => {
    // Prepare: a 1,000-byte node name (within the limit) in an alert of another environment: blocked,
    // and the terminal shows the e-mail telling the on-call engineer so, subject and all
    const node = `ip-${'9'.repeat(997)}`;
    const body = webhook((alert) => {
      alert.labels.node = node;
      alert.labels.environment = 'prod';
      alert.fingerprint = 'ffffffffffffff02';
    });

    // Act
    const answer = await postJson('/webhooks/alertmanager', body);

    // Assess
    expect(answer.status).toBe(202);
    const blocked = lines.find((line) => line.includes('Automation blocked') && line.includes('ip-999'));
    expect(blocked).toMatch(/…\[\d+ more characters\]$/);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(TERMINAL_LINE_MAX + 40);
  });

  it('still answers /healthz after all of it', async () => {
    // Act
    const answer = await send('/healthz');

    // Assess
    expect(answer).toMatchObject({ status: 200, body: { ok: true } });
  });
});

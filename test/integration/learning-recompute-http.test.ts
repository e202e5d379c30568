import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Embedded, startEmbedded } from '../support/embedded.ts';
import type { Json } from '../support/json.ts';
import { POD_MEMORY_GROWTH, podMemoryRun as run, seedRuns } from '../support/learning-history.ts';
import { loadRunbook } from '../support/runbooks.ts';

/**
 * POST /api/learning/recompute/:runbook (the incremental aggregate's repair path) over a real loopback
 * server of the embedded platform: the token and the Origin / CSRF rules of every other POST, 404 for
 * a runbook the platform does not run, 200 with the aggregate rebuilt from the records.
 */

const RUNBOOKS_DIR = 'test/fixtures/runbooks/learning';
const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);
const TOKEN = 'recompute-test-token';
const PATH = `/api/learning/recompute/${RUNBOOK.id}`;
const SEEDED = 12;

let platform: Embedded;
let port: number;

interface Answer {
  status: number;
  body: Json;
}

/** A raw HTTP/1.1 request: every header as given (fetch would not let a test set Host or Origin). */
function send(method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Json = {};
          try {
            body = JSON.parse(text) as Json;
          } catch {
            body = { text };
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    request.on('error', reject);
    request.end();
  });
}

const bearer = { authorization: `Bearer ${TOKEN}` };
const ownOrigin = () => `http://127.0.0.1:${port}`;

beforeAll(async () => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  platform = await startEmbedded({ runbooksDir: RUNBOOKS_DIR, token: TOKEN, live: false });
  port = Number(new URL(platform.url).port);
  // Runs recorded before (their learning never folded): only a recompute makes the aggregate.
  const { store } = platform.platform;
  const seeded = seedRuns(
    RUNBOOK,
    Array.from({ length: SEEDED }, (_, index) =>
      index % 4 === 0 ? run({ podStatus: { status: 'timed-out', durationMs: 30_000 } }) : run(),
    ),
    Date.now() - 2 * 86_400_000,
  );
  for (const [index, execution] of seeded.executions.entries()) {
    await store.createExecution(execution);
    for (const outcome of seeded.outcomes[index]!) await store.putStepOutcome(outcome);
  }
});

afterAll(async () => {
  await platform?.stop();
});

describe('POST /api/learning/recompute/:runbook on the local server', () => {
  it('refuses a request without the token, saying what it needs', async () => {
    // Act
    const answer = await send('POST', PATH);

    // Assess
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatch(/Authorization: Bearer <token>/);
    expect(await platform.platform.store.getLearningAggregate(RUNBOOK.id)).toBeUndefined();
  });

  it.each([
    ['an Origin of another site', { origin: 'http://evil.example' }],
    ['a cross-site request', { 'sec-fetch-site': 'cross-site' }],
    ['a page of this server without its CSRF token', { origin: 'own', 'sec-fetch-site': 'same-origin' }],
  ])('refuses %s, token or not', async (_what, headers: Record<string, string>) => {
    // Act
    const answer = await send('POST', PATH, {
      ...bearer,
      ...Object.fromEntries(
        Object.entries(headers).map(([name, value]) => [name, value === 'own' ? ownOrigin() : value]),
      ),
    });

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.body.error).toEqual(expect.any(String));
    expect(await platform.platform.store.getLearningAggregate(RUNBOOK.id)).toBeUndefined();
  });

  it('answers 404 for a runbook the platform does not run, naming it', async () => {
    // Act
    const answer = await send('POST', '/api/learning/recompute/no-such-runbook', bearer);

    // Assess
    expect(answer.status).toBe(404);
    expect(answer.body.error).toMatch(/no runbook "no-such-runbook" on this platform/);
  });

  it('rebuilds the aggregate from the records and answers it', async () => {
    // Act
    const answer = await send('POST', PATH, bearer);

    // Assess: every seeded run counted; what the server answers is what selection reads
    expect(answer.status).toBe(200);
    expect(answer.body.aggregate).toMatchObject({
      runbookId: RUNBOOK.id,
      executions: SEEDED,
      byAlert: { PodMemoryGrowth: { executions: SEEDED } },
    });
    expect(answer.body.aggregate.steps.find((step: Json) => step.stepId === 'pod-status')).toMatchObject({
      runs: SEEDED,
      failures: SEEDED / 4,
    });
    const stored = await platform.platform.store.getLearningAggregate(RUNBOOK.id);
    expect(answer.body.aggregate).toEqual(JSON.parse(JSON.stringify(stored)));
  });
});

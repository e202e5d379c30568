import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../../functions/core/alert.ts';
import { approvalPublicId } from '../../../functions/core/approval-links.ts';
import { normalizeAlertmanager } from '../../../functions/core/classifier/normalize.ts';
import { ALERT_DETAIL_TYPE, INGEST_SOURCE } from '../../../functions/core/routing.ts';
import { createApprovalRequestHandler } from '../../../functions/handlers/approval-request.ts';
import { createApprovalWebHandler } from '../../../functions/handlers/approval-web.ts';
import { createClassifierHandler } from '../../../functions/handlers/classifier.ts';
import { createControlHandler } from '../../../functions/handlers/control.ts';
import type { HttpEvent, HttpResult } from '../../../functions/handlers/http.ts';
import { createIngestHandler } from '../../../functions/handlers/ingest.ts';
import { createLearningRecorderHandler } from '../../../functions/handlers/learning-recorder.ts';
import { createStepRunnerHandler } from '../../../functions/handlers/step-runner.ts';
import {
  type AwsHarness,
  functionUrlEvent,
  lambdaContext,
  startAwsHarness,
} from '../../support/aws-harness.ts';
import {
  encode,
  encoding,
  type Fixture,
  fixtures,
  type Json,
  mutate,
  mutation,
  pathSegment,
  runs,
  timeoutFor,
  toText,
} from '../../support/mutations.ts';

/**
 * Property-based fuzzing of every handler in functions/handlers, called in-process as Lambda calls
 * them, with random mutations of the real payloads. HTTP handlers never answer 5xx and every 4xx says
 * what was wrong; task and event handlers either answer or fail with a named error (the ASL name the
 * machine matches, or InvalidEventError naming the field): never a TypeError, RangeError or URIError,
 * never a hang. FUZZ_RUNS=2000 runs more cases.
 */

const HANDLER_TIMEOUT_MS = 10_000;
/** Errors a handler may fail with: named on purpose, never a crash of our code. */
const NAMED_FAILURE =
  /^(InvalidEventError|ValidationError|StoreConflictError|ConfigurationError|(Runbook|Tool|Safety|Approval|Verification|States|Lambda)\.[A-Za-z]+)$/;

let harness: AwsHarness;
let alert: Alert;
const all = fixtures();
const webhooks = all.filter((fixture) => fixture.name.includes('alertmanager'));
const cloudwatch = all.filter((fixture) => fixture.name.includes('cloudwatch'));
const stepFunctions = all.filter((fixture) => fixture.name.includes('stepfunctions'));
const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

beforeAll(async () => {
  harness = await startAwsHarness();
  alert = normalizeAlertmanager(
    webhooks.find((fixture) => fixture.name.endsWith('node-memory-pressure.json'))!.value,
    harness.normalize,
  )[0]!;
});
afterAll(() => harness.stop());

function withinTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${what}: no answer in ${HANDLER_TIMEOUT_MS} ms`)),
        HANDLER_TIMEOUT_MS,
      ),
    ),
  ]);
}

function checkHttp(what: string, result: HttpResult): void {
  expect(result.statusCode, `${what}: ${String(result.body).slice(0, 300)}`).toBeLessThan(500);
  if ((result.statusCode ?? 200) < 400) return;
  const type = String((result.headers as Record<string, string> | undefined)?.['content-type'] ?? '');
  if (type.startsWith('text/html')) {
    expect(result.body, what).toMatch(/class="notice[^"]*">[^<]+/);
    return;
  }
  const body = JSON.parse(result.body ?? '{}') as { error?: unknown; problems?: Array<{ path?: unknown }> };
  expect(typeof body.error, `${what}: a 4xx says what was wrong`).toBe('string');
  for (const problem of body.problems ?? [])
    expect(typeof problem.path, `${what}: problems name their field`).toBe('string');
}

/** A task or event handler's answer: a result, or a named failure. */
async function checkTask(what: string, work: Promise<unknown>): Promise<void> {
  try {
    await withinTimeout(work, what);
  } catch (error) {
    const failure = error as Error;
    expect(failure.message, what).not.toMatch(/no answer in/);
    expect(failure.name, `${what}: ${failure.name}: ${failure.message.slice(0, 300)}`).toMatch(NAMED_FAILURE);
    expect(failure.stack ?? '', `${what}: a failure crossing into a machine carries no stack`).not.toMatch(
      /\n\s+at /,
    );
  }
}

/** An HTTP event whose parts themselves may be mutated (headers, body encoding, base64 flag). */
function httpEvent(
  method: string,
  path: string,
  body: Buffer | undefined,
  headers: Record<string, string>,
  base64: boolean,
): HttpEvent {
  const event = functionUrlEvent(method, path.split('?')[0]!, {
    headers,
    ...(path.includes('?') ? { query: Object.fromEntries(new URLSearchParams(path.split('?')[1])) } : {}),
    ...(body ? { body: base64 ? body.toString('base64') : body.toString('utf8') } : {}),
  }) as HttpEvent;
  event.isBase64Encoded = base64 && body !== undefined;
  // The router reads the path parameter from the raw path, as a Function URL passes it.
  event.rawPath = path.split('?')[0]!;
  return event;
}

const fixtureOf = (list: Fixture[]) => fc.constantFrom(...list);

describe('fuzz: every handler, called in-process', () => {
  it(
    'ingest (Function URL): mutated webhooks, encodings and events',
    async () => {
      const handler = createIngestHandler({
        bus: harness.bus,
        normalize: harness.normalize,
        auth: () => ({}),
        clock: harness.clock,
        logger: harness.logger,
      });
      await fc.assert(
        fc.asyncProperty(
          fixtureOf(webhooks),
          mutations,
          encoding,
          fc.boolean(),
          async (fixture, changes, how, base64) => {
            const body = encode(toText(mutate(fixture.value, changes)), how);
            const what = `ingest ${fixture.name} ${JSON.stringify(changes).slice(0, 200)} (${how}, base64 ${base64})`;
            checkHttp(
              what,
              await withinTimeout(
                handler(
                  httpEvent(
                    'POST',
                    '/webhooks/alertmanager',
                    body,
                    { 'content-type': 'application/json' },
                    base64,
                  ),
                  lambdaContext(),
                ),
                what,
              ),
            );
          },
        ),
        { numRuns: runs(40) },
      );
    },
    timeoutFor(40),
  );

  it(
    'classifier (EventBridge target): mutated CloudWatch alarm changes and ingested alerts',
    async () => {
      const handler = createClassifierHandler({
        classifier: harness.services.classifier,
        normalize: harness.normalize,
        logger: harness.logger,
      });
      const ingested: Fixture = {
        name: 'ingested alert',
        value: {
          version: '0',
          id: 'f0e1d2c3-0000-4000-8000-000000000001',
          'detail-type': ALERT_DETAIL_TYPE,
          source: INGEST_SOURCE,
          account: '333333333333',
          time: '2026-11-25T10:00:00Z',
          region: 'eu-west-1',
          resources: [],
          detail: { alert: alert as unknown as Json, receivedAt: '2026-11-25T10:00:00Z' },
        },
      };
      await fc.assert(
        fc.asyncProperty(fixtureOf([...cloudwatch, ingested]), mutations, async (fixture, changes) => {
          const event = JSON.parse(toText(mutate(fixture.value, changes))) as unknown;
          await checkTask(
            `classifier ${fixture.name} ${JSON.stringify(changes).slice(0, 200)}`,
            handler(event, lambdaContext()),
          );
        }),
        { numRuns: runs(40) },
      );
    },
    timeoutFor(40),
  );

  it(
    'learning recorder (EventBridge target): mutated Step Functions status changes',
    async () => {
      const handler = createLearningRecorderHandler({
        learning: harness.services.learning,
        logger: harness.logger,
      });
      await fc.assert(
        fc.asyncProperty(fixtureOf(stepFunctions), mutations, async (fixture, changes) => {
          const event = JSON.parse(toText(mutate(fixture.value, changes))) as unknown;
          await checkTask(
            `learning ${fixture.name} ${JSON.stringify(changes).slice(0, 200)}`,
            handler(event, lambdaContext()),
          );
        }),
        { numRuns: runs(30) },
      );
    },
    timeoutFor(30),
  );

  it(
    'step runner and approval request (Task states): mutated task payloads',
    async () => {
      const runner = createStepRunnerHandler({ runner: harness.services.runner, logger: harness.logger });
      const approvals = createApprovalRequestHandler({
        approvals: harness.services.approvals,
        logger: harness.logger,
      });
      const execution = {
        id: 'fuzz-execution-1',
        runbookId: 'node-memory-pressure',
        runbookVersion: '1.0.0',
        incidentId: 'inc-fuzz-1',
        environment: 'prod',
        dryRun: true,
        approvalRiskThreshold: 2,
        changeFreeze: false,
        startedAt: '2026-11-25T09:58:31.204Z',
      };
      const payloads: Fixture[] = [
        {
          name: 'step',
          value: {
            kind: 'step',
            execution,
            alert: alert as unknown as Json,
            step: {
              id: 'node-resources',
              name: 'Node',
              type: 'diagnostic',
              tool: 'k8s.node-resources',
              parameters: { node: '{{ alert.resource.id }}' },
              timeoutSeconds: 5,
            },
          },
        },
        {
          name: 'compensate',
          value: {
            kind: 'compensate',
            execution,
            alert: alert as unknown as Json,
            compensation: {
              compensates: 'cordon-node',
              tool: 'k8s.uncordon',
              parameters: { node: '{{ parameters.node }}' },
              timeoutSeconds: 5,
            },
          },
        },
        {
          name: 'checkpoint',
          value: { kind: 'checkpoint', execution, checkpoint: 'diagnose', taskToken: 'token-1' },
        },
        // verify-alert waits for the alert on the clock, and the harness clock stands still: left out here.
        { name: 'escalate', value: { kind: 'escalate', triggers: [], state: {} } },
        { name: 'record', value: { kind: 'record', outcome: 'failed', recordOutputs: [], state: {} } },
        {
          name: 'approval',
          value: {
            kind: 'approval',
            taskToken: 'token-2',
            execution,
            alert: alert as unknown as Json,
            steps: {},
            groups: {},
            approval: {
              requirement: 'r',
              target: { kind: 'phase', id: 'p' },
              approverGroups: ['sre-oncall'],
              quorum: 1,
              timeoutSeconds: 60,
              risk: 'medium',
              plan: [],
            },
          },
        },
        { name: 'scheduled', value: { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} } },
      ];
      await harness.store
        .createExecution({
          id: execution.id,
          runbookId: execution.runbookId,
          runbookVersion: execution.runbookVersion,
          incidentId: execution.incidentId,
          environment: execution.environment,
          dryRun: true,
          status: 'running',
          alert: {
            name: alert.name,
            severity: alert.severity,
            status: alert.status,
            summary: alert.summary,
            resource: alert.resource,
            startsAt: alert.startsAt,
            fingerprint: alert.fingerprint,
            environment: alert.environment,
          } as never,
          startedAt: execution.startedAt,
          resourceKey: 'k8s-node/fuzz',
          control: { pauseRequested: false, abortRequested: false },
        })
        .catch(() => undefined);
      await fc.assert(
        fc.asyncProperty(fixtureOf(payloads), mutations, async (fixture, changes) => {
          const event = JSON.parse(toText(mutate(fixture.value, changes))) as unknown;
          const handler = fixture.name === 'approval' || fixture.name === 'scheduled' ? approvals : runner;
          await checkTask(
            `${fixture.name} task ${JSON.stringify(changes).slice(0, 200)}`,
            handler(event, lambdaContext()),
          );
        }),
        { numRuns: runs(50) },
      );
    },
    timeoutFor(50),
  );

  it(
    'control API and approval pages (Function URLs): ids, queries and bodies',
    async () => {
      const control = createControlHandler({
        control: harness.services.control,
        learning: harness.services.learning,
        audit: harness.audit,
        runbooks: () => harness.runbooks,
        logger: harness.logger,
      });
      const web = createApprovalWebHandler({ approvals: harness.services.approvals, logger: harness.logger });
      const realId = approvalPublicId('fuzz-execution-1', 'phase-p-0123456789');
      const route = fc.oneof(
        pathSegment.map((id) => ['GET', `/api/executions/${id}`]),
        fc
          .tuple(pathSegment, fc.constantFrom('pause', 'resume', 'abort'))
          .map(([id, action]) => ['POST', `/api/executions/${id}/${action}`]),
        pathSegment.map((value) => ['GET', `/api/executions?limit=${value}`]),
        fc.constantFrom(['GET', '/api/kill-switch'], ['POST', '/api/kill-switch'], ['GET', '/api/learning']),
        // The audit query: any selector, any value, any pair of parameters.
        fc
          .tuple(
            fc.constantFrom(
              'execution',
              'resource',
              'actor',
              'incident',
              'platform',
              'since',
              'limit',
              'cursor',
              'format',
            ),
            pathSegment,
            fc.constantFrom('execution', 'actor', 'since', 'cursor', 'limit', 'format', 'x'),
            pathSegment,
          )
          .map(([first, value, second, other]) => ['GET', `/api/audit?${first}=${value}&${second}=${other}`]),
        fc
          .tuple(fc.oneof(pathSegment, fc.constant(realId)), pathSegment, fc.constantFrom('GET', 'POST'))
          .map(([id, sig]) => ['GET', `/approvals/${id}?approver=a&exp=1&sig=${sig}`]),
        fc
          .tuple(fc.oneof(pathSegment, fc.constant(realId)), pathSegment)
          .map(([id, sig]) => ['POST', `/approvals/${id}?approver=a&exp=1&sig=${sig}`]),
      );
      const body = fc.oneof(
        fc.constant(undefined),
        fc
          .tuple(
            fc.constantFrom<Json>(
              { engaged: false },
              { by: 'a', reason: 'r' },
              { decision: 'approve' },
              { repeatInterruptedChange: true },
            ),
            mutations,
          )
          .map(([value, changes]) => toText(mutate(value, changes))),
      );
      await fc.assert(
        fc.asyncProperty(route, body, encoding, fc.boolean(), async ([method, path], text, how, base64) => {
          // The kill switch stays released: a random body must not hold what other cases start.
          const safe =
            path === '/api/kill-switch' && text !== undefined && /"engaged":true/.test(text)
              ? '{"engaged":false}'
              : text;
          const event = httpEvent(
            method!,
            path!,
            safe === undefined ? undefined : encode(safe, how),
            { 'content-type': 'application/json', accept: 'application/json' },
            base64,
          );
          const handler = path!.startsWith('/approvals/') ? web : control;
          const what = `${method} ${path!.slice(0, 120)} ${String(safe).slice(0, 120)} (${how})`;
          checkHttp(what, await withinTimeout(handler(event, lambdaContext()), what));
        }),
        { numRuns: runs(60) },
      );
    },
    timeoutFor(60),
  );
});

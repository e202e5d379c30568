import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CATALOG_FILE, runbookCatalogText } from '../../functions/core/runbook/catalog.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import { compileRunbookFiles, listRunbookFiles, validateRunbookFiles } from '../../local/runbook-files.ts';
import type { DemoScenario } from '../../local/sim/environment.ts';
import type { Json } from '../support/json.ts';
import { OPTIONS, ROOT } from '../support/runbooks.ts';
import { measureExecution } from './measure.ts';
import type { ExecutionMeasure, ScenarioResult } from './results.ts';
import {
  approvePending,
  executionDetails,
  getJson,
  notificationsOf,
  openSession,
  type Session,
  TERMINAL,
  until,
} from './session.ts';

/**
 * The scenarios of `npm run scenarios`: simulated incidents from local/sim/scenarios, their alerts
 * from the real Alertmanager (rules evaluated by the real Prometheus on the simulated exporters), the
 * runbooks' queries to that Prometheus, each with a fault injected through the simulated services'
 * hooks (FakeKubeApi's failNext/slowDown/onRequest, the world's own models) and its outcome asserted.
 */

export interface RunnerOptions {
  /** Relative to the repository: runbooks/ (the team's library) or the test fixture library. */
  runbooksDir: string;
  /** The runbooks' waits are multiplied by this (the simulated world settles in seconds). */
  waitScale: number;
  print: (line: string) => void;
}

export interface ScenarioContext {
  session: Session;
  options: RunnerOptions;
  /** A failed expectation fails the scenario (and the run), with this message. */
  check(condition: boolean, message: string): void;
  note(line: string): void;
  override(override: string, ms: number): void;
}

export interface ScenarioDefinition {
  id: string;
  kind: 'library' | 'fault';
  fault: string;
  simulated: string[];
  alertSource: 'prometheus' | 'cloudwatch';
  expected: string;
  /** The runbook as shipped with one edit (a timeout shortened so it shows in seconds), and why. */
  variant?: { runbookId: string; edit: (text: string) => string; why: string };
  /** The safety incident kinds the fault must cause (default none: any safety incident fails it). */
  expectedSafetyIncidents?: string[];
  /** The platform runs in a child process the scenario can kill -9. */
  child?: boolean;
  deadlineMs: number;
  /** Plays it; returns the executions to measure. */
  play(context: ScenarioContext): Promise<Json[]>;
}

const HPA_PATH = '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/frontend';
const KUBE_CHANGES = new Set(['PATCH', 'POST', 'PUT', 'DELETE']);

/** Compiles a runbooks directory (absolute) into a temporary one, as `runbook compile` would. */
export function compileRunbooks(runbooksDir: string): string {
  const out = mkdtempSync(join(tmpdir(), 'scenario-machines-'));
  const { files } = listRunbookFiles([runbooksDir]);
  const results = validateRunbookFiles(files, OPTIONS);
  const machines = compileRunbookFiles(results, out, TOOL_CATALOG);
  for (const machine of machines) {
    if (!machine.compiled) throw new Error(`${machine.file}: ${String(machine.error)}`);
    writeFileSync(machine.outFile, machine.compiled.text);
  }
  writeFileSync(join(out, CATALOG_FILE), runbookCatalogText(machines.map((machine) => machine.runbook)));
  return out;
}

/** The labels that single out a scenario's alert are all on the execution's alert. */
function isScenarioAlert(scenario: DemoScenario, labels: Record<string, string> | undefined): boolean {
  return Object.entries(scenario.alertLabels).every(([name, value]) => labels?.[name] === value);
}

function story(detail: Json | undefined): string {
  if (!detail) return 'no execution';
  return JSON.stringify({
    status: detail.execution.status,
    runbook: detail.execution.runbookId,
    outcome: detail.execution.outcome,
    steps: (detail.steps as Json[]).map((step) => [
      `${step.kind}:${step.stepId}`,
      step.status,
      step.error?.name ?? step.error?.message,
    ]),
  }).slice(0, 3_000);
}

/** Waits until the platform has a terminal execution for each scenario played, approving as it goes. */
async function playToTheEnd(
  context: ScenarioContext,
  options: { approve: boolean; deadlineMs: number; expected?: number },
): Promise<Json[]> {
  const { session } = context;
  const approved = new Set<string>();
  const scenarios = session.environment.scenarios();
  const expected = options.expected ?? scenarios.length;
  const deadline = Date.now() + options.deadlineMs;
  let details: Json[] = [];
  while (Date.now() < deadline) {
    if (options.approve) await approvePending(session.url, approved);
    details = await executionDetails(session.url);
    const done = details.filter((detail) => TERMINAL.has(detail.execution.status));
    if (done.length >= expected && done.length === details.length) break;
    // An approval request is answered as it arrives (as an approver at their inbox would); else every 400 ms.
    await session.sink.next(400);
  }
  return details;
}

function kubeChanges(session: Session, pathPrefix?: string) {
  return session.environment.world.kube.requests.filter(
    (request) => KUBE_CHANGES.has(request.method) && (!pathPrefix || request.path.startsWith(pathPrefix)),
  );
}

/** The simulated incidents remediated as shipped: one environment per batch, every approval granted. */
function libraryBatch(
  id: string,
  simulated: string[],
  alertSource: 'prometheus' | 'cloudwatch',
  deadlineMs: number,
): ScenarioDefinition {
  return {
    id,
    kind: 'library',
    fault: 'none: the incident as simulated',
    simulated,
    alertSource,
    expected:
      'each incident: one execution of its runbook, succeeded after remediating and verifying, incident resolved',
    deadlineMs,
    async play(context) {
      const { session, check } = context;
      const scenarios = session.environment.scenarios();
      const details = await playToTheEnd(context, { approve: true, deadlineMs: deadlineMs - 10_000 });
      for (const scenario of scenarios) {
        const mine = details.filter((detail) =>
          scenario.source === 'cloudwatch'
            ? detail.execution.alert?.name === scenario.alertname
            : isScenarioAlert(scenario, detail.incident?.alert?.labels),
        );
        check(
          mine.length === 1,
          `${scenario.id}: ${mine.length} executions for its alert, expected exactly 1`,
        );
        const detail = mine[0];
        check(
          detail?.execution.status === 'succeeded',
          `${scenario.id}: ${detail?.execution.runbookId ?? '-'} ${detail?.execution.status ?? 'did not run'}: ${story(detail)}`,
        );
        check(
          detail?.execution.runbookId === scenario.runbookId,
          `${scenario.id}: ran ${detail?.execution.runbookId}, written for ${scenario.runbookId}`,
        );
        if (detail) {
          const incident = await session.platform.platform.store.getIncident(detail.execution.incidentId);
          check(
            incident?.status === 'resolved',
            `${scenario.id}: incident ${incident?.status}, not resolved`,
          );
        }
      }
      return details;
    },
  };
}

/** hpa-maxed-out with the environment's alert, its raise and verification, and `inject` before it runs. */
function hpaFault(
  id: string,
  fault: string,
  expected: string,
  inject: (context: ScenarioContext) => void,
  assess: (context: ScenarioContext, detail: Json | undefined, details: Json[]) => Promise<void>,
  variant?: ScenarioDefinition['variant'],
  expectedSafetyIncidents?: string[],
): ScenarioDefinition {
  return {
    id,
    kind: 'fault',
    fault,
    simulated: ['hpa-maxed-out'],
    alertSource: 'prometheus',
    expected,
    ...(variant ? { variant } : {}),
    ...(expectedSafetyIncidents ? { expectedSafetyIncidents } : {}),
    deadlineMs: 120_000,
    async play(context) {
      inject(context);
      const details = await playToTheEnd(context, { approve: true, deadlineMs: 100_000, expected: 1 });
      await assess(context, details[0], details);
      return details;
    },
  };
}

const hpa = (session: Session) => session.environment.world.kube.hpas.get('shop/frontend')!;

async function escalations(session: Session, detail: Json | undefined): Promise<Json[]> {
  if (!detail) return [];
  return (await notificationsOf(session.url, detail.execution.id)).filter(
    (notification) => notification.kind === 'escalation',
  );
}

export function scenarioDefinitions(): ScenarioDefinition[] {
  return [
    libraryBatch(
      'library-workloads',
      [
        'crash-loop',
        'evicted-pod',
        'image-pull-backoff',
        'rollout-stuck',
        'daemonset-pod-wedged',
        'job-failed',
        'hpa-maxed-out',
        'cpu-throttling',
        'pvc-filling',
        'target-down',
      ],
      'prometheus',
      240_000,
    ),
    libraryBatch(
      'library-nodes',
      ['memory-pressure', 'disk-filling', 'node-not-ready'],
      'prometheus',
      150_000,
    ),
    libraryBatch(
      'library-aws-1',
      ['alb-target-errors', 'alb-unhealthy-targets', 'lambda-errors', 'rds-cpu'],
      'cloudwatch',
      150_000,
    ),
    libraryBatch(
      'library-aws-2',
      ['alb-target-latency', 'ec2-status-check-failed', 'lambda-throttling', 'rds-free-storage'],
      'cloudwatch',
      150_000,
    ),
    libraryBatch(
      'library-aws-3',
      ['ecs-service-saturation', 'sqs-queue-backlog', 'apigateway-5xx'],
      'cloudwatch',
      150_000,
    ),
    ...faultScenarios(),
  ];
}

export function faultScenarios(): ScenarioDefinition[] {
  return [
    hpaFault(
      'flaky-api',
      'the Kubernetes API answers the diagnosis read of the autoscaler 429, then 503, then recovers',
      'the retries succeed: the execution succeeds with one change, nobody escalated',
      ({ session }) => {
        // From the second read on (the diagnosis): the first resolves the alert's resource (see FINDINGS).
        const kube = session.environment.world.kube;
        let reads = 0;
        kube.onRequest = (request) => {
          if (request.method !== 'GET' || !request.path.startsWith(HPA_PATH) || ++reads !== 2) return;
          kube.onRequest = undefined;
          kube.failNext({
            method: 'GET',
            path: HPA_PATH,
            status: 429,
            times: 1,
            headers: { 'retry-after': '0' },
          });
          kube.failNext({ method: 'GET', path: HPA_PATH, status: 503, times: 1 });
        };
      },
      async ({ session, check }, detail) => {
        check(detail?.execution.status === 'succeeded', `execution ${story(detail)}`);
        const reads = session.environment.world.kube.requestsTo('GET', HPA_PATH).length;
        check(
          reads >= 4,
          `${reads} autoscaler reads: resolution, the two refused ones and at least one answered`,
        );
        check(
          kubeChanges(session, HPA_PATH).length === 1,
          `${kubeChanges(session, HPA_PATH).length} changes to the autoscaler, expected 1`,
        );
        check((await escalations(session, detail)).length === 0, 'escalated although the retries succeeded');
      },
    ),
    hpaFault(
      'tool-failure',
      'every autoscaler read fails with 500 (the diagnosis tool fails)',
      'no change is made, the execution fails and a human is paged (escalation sent)',
      ({ session }) => {
        session.environment.world.kube.failNext({
          method: 'GET',
          path: HPA_PATH,
          status: 500,
          times: 10_000,
        });
      },
      async ({ session, check }, detail) => {
        check(detail !== undefined && detail.execution.status !== 'succeeded', `execution ${story(detail)}`);
        check(
          kubeChanges(session).length === 0,
          `${kubeChanges(session).length} changes made without a diagnosis`,
        );
        check((await escalations(session, detail)).length >= 1, 'no escalation was sent');
      },
    ),
    hpaFault(
      'tool-timeout',
      'every autoscaler read takes 6 s; the runbook as shipped with its 30 s step timeouts cut to 2 s',
      'the step times out (States.Timeout), no change is made, the execution fails and escalates',
      ({ session }) => {
        session.environment.world.kube.slowDown({ method: 'GET', path: HPA_PATH, ms: 6_000 });
      },
      async ({ session, check }, detail) => {
        check(detail !== undefined && detail.execution.status !== 'succeeded', `execution ${story(detail)}`);
        const timedOut = ((detail?.steps ?? []) as Json[]).some((step) =>
          JSON.stringify(step.error ?? '').includes('Timeout'),
        );
        check(timedOut, `no step timed out: ${story(detail)}`);
        check(
          kubeChanges(session).length === 0,
          `${kubeChanges(session).length} changes made without a diagnosis`,
        );
        check((await escalations(session, detail)).length >= 1, 'no escalation was sent');
      },
      {
        runbookId: 'hpa-maxed-out',
        edit: (text) => text.replaceAll('timeout: 30s', 'timeout: 2s'),
        why: 'a 30 s step timeout would make the scenario wait minutes; 2 s shows the same path',
      },
    ),
    hpaFault(
      'remediation-fails-compensation',
      'the traffic keeps growing after the raise: the autoscaler stays at its new maximum',
      'verification fails, the compensation restores the old maximum and succeeds, a human is told',
      (context) => {
        const kube = context.session.environment.world.kube;
        context.note(`maxReplicas before: ${hpa(context.session).spec!.maxReplicas}`);
        kube.onRequest = (request) => {
          if (request.method === 'PATCH' && request.path.startsWith(HPA_PATH)) {
            kube.onRequest = undefined;
            setImmediate(() => kube.setHpaDemand('shop', 'frontend', 60));
          }
        };
      },
      async ({ session, check, note }, detail) => {
        const compensations = ((detail?.steps ?? []) as Json[]).filter(
          (step) => step.kind === 'compensation',
        );
        check(compensations.length >= 1, `no compensation ran: ${story(detail)}`);
        check(
          compensations.at(-1)?.status === 'compensated',
          `compensation ${compensations.map((step) => step.status).join(', ')}`,
        );
        check(detail?.execution.status !== 'succeeded', `execution ${story(detail)}`);
        const patches = kubeChanges(session, HPA_PATH).length;
        check(patches === 2, `${patches} PATCHes of the autoscaler, expected 2 (raise, restore)`);
        note(`maxReplicas after: ${hpa(session).spec!.maxReplicas}`);
        check((await escalations(session, detail)).length >= 1, 'no escalation was sent after the rollback');
      },
    ),
    hpaFault(
      'compensation-fails',
      'the traffic keeps growing after the raise, and every further PATCH of the autoscaler fails',
      'the compensation fails, an escalation pages a human, the learning report lists a compensation-failed safety incident',
      (context) => {
        const kube = context.session.environment.world.kube;
        kube.onRequest = (request) => {
          if (request.method === 'PATCH' && request.path.startsWith(HPA_PATH)) {
            kube.onRequest = undefined;
            // After this PATCH is answered: the raise goes through, the restore does not.
            setImmediate(() => {
              kube.setHpaDemand('shop', 'frontend', 60);
              kube.failNext({ method: 'PATCH', path: HPA_PATH, status: 500, times: 10_000 });
            });
          }
        };
      },
      async ({ session, check }, detail) => {
        const compensations = ((detail?.steps ?? []) as Json[]).filter(
          (step) => step.kind === 'compensation',
        );
        check(
          compensations.length > 0 && compensations.every((step) => step.status === 'failed'),
          `compensations ${compensations.map((step) => step.status).join(', ') || 'none'}: ${story(detail)}`,
        );
        const sent = await escalations(session, detail);
        check(sent.length >= 1, 'no escalation was sent after the failed compensation');
        check(
          sent.some((notification) => notification.severity === 'page'),
          `escalations ${sent.map((notification) => notification.severity).join(', ')}: none pages`,
        );
      },
      undefined,
      ['compensation-failed'],
    ),
    {
      id: 'aws-throttled',
      kind: 'fault',
      fault:
        "API Gateway throttles the diagnosis's GetDeployments 4 times and the rollback's UpdateStage 3 times (429 TooManyRequestsException: more than the SDK's own 3 attempts), then answers",
      simulated: ['apigateway-5xx'],
      alertSource: 'cloudwatch',
      expected:
        "the SDK's and the steps' retries succeed: the stage is pointed back once, the execution succeeds, nobody escalated",
      deadlineMs: 120_000,
      async play(context) {
        const { session, check, note } = context;
        const endpoint = session.environment.awsEndpoint;
        // From the first read of the deployments (the diagnosis; resolution reads only the stage).
        endpoint.failNext({
          service: 'apigateway',
          operation: 'GetDeployments',
          error: 'throttle',
          times: 4,
        });
        endpoint.failNext({ service: 'apigateway', operation: 'UpdateStage', error: 'throttle', times: 3 });
        const details = await playToTheEnd(context, { approve: true, deadlineMs: 100_000, expected: 1 });
        const detail = details[0];
        check(details.length === 1, `${details.length} executions, expected 1`);
        check(detail?.execution.status === 'succeeded', `execution ${story(detail)}`);
        const answers = (operation: string) =>
          endpoint.requests
            .filter((request) => request.service === 'apigateway' && request.operation === operation)
            .map((request) => request.status);
        const reads = answers('GetDeployments');
        const updates = answers('UpdateStage');
        note(`GetDeployments answered ${reads.join(', ')}; UpdateStage answered ${updates.join(', ')}`);
        check(
          reads.slice(0, 5).join(',') === '429,429,429,429,200',
          `GetDeployments answered ${reads.join(', ')}: expected 4 throttled, then answered`,
        );
        check(
          updates.join(',') === '429,429,429,200',
          `UpdateStage answered ${updates.join(', ')}: expected 3 throttled, then the one change`,
        );
        // The SDK gives up after 3 attempts: the steps' own retries are what recovered.
        const attempts = (stepId: string) =>
          ((detail?.steps ?? []) as Json[])
            .filter((step) => step.kind === 'step' && step.stepId === stepId)
            .map((step) => `${step.status}${step.error?.name ? ` ${step.error.name}` : ''}`);
        note(
          `stage: ${attempts('stage').join(', ')}; rollback-stage: ${attempts('rollback-stage').join(', ')}`,
        );
        for (const stepId of ['stage', 'rollback-stage'])
          check(
            attempts(stepId).length >= 2 &&
              attempts(stepId)[0]!.includes('Throttled') &&
              attempts(stepId).at(-1) === 'succeeded',
            `${stepId} attempts ${attempts(stepId).join(', ')}: expected throttled, then succeeded on retry`,
          );
        check((await escalations(session, detail)).length === 0, 'escalated although the retries succeeded');
        return details;
      },
    },
    {
      id: 'approval-timeout',
      kind: 'fault',
      fault:
        'nobody answers the approval (the runbook as shipped with its 15 m approval timeout cut to 10 s)',
      simulated: ['crash-loop'],
      alertSource: 'prometheus',
      expected: 'the approval expires, an escalation is sent, the cluster is not changed',
      variant: {
        runbookId: 'pod-crash-looping',
        edit: (text) => text.replace(/(id: oncall-approves-replacement[\s\S]*?timeout: )15m/, '$110s'),
        why: 'a 15 minute approval timeout; 10 s shows the same path',
      },
      deadlineMs: 120_000,
      async play(context) {
        const { session, check } = context;
        const details = await playToTheEnd(context, { approve: false, deadlineMs: 100_000, expected: 1 });
        const detail = details[0];
        check(detail !== undefined && detail.execution.status !== 'succeeded', `execution ${story(detail)}`);
        const approvals = (detail?.approvals ?? []) as Json[];
        check(
          approvals.length >= 1 && approvals.every((approval) => approval.status === 'expired'),
          `approvals ${approvals.map((approval) => approval.status).join(', ') || 'none'}, expected expired`,
        );
        check((await escalations(session, detail)).length >= 1, 'no escalation was sent');
        check(
          kubeChanges(session).length === 0,
          `${kubeChanges(session).length} changes made without approval`,
        );
        return details;
      },
    },
    {
      id: 'duplicate-storm',
      kind: 'fault',
      fault: "Alertmanager's notification replayed 50 times at once while Alertmanager delivers its own",
      simulated: ['hpa-maxed-out'],
      alertSource: 'prometheus',
      expected: 'exactly one execution, which succeeds with one change',
      deadlineMs: 120_000,
      async play(context) {
        const { session, check, note } = context;
        const seen = new Set<string>();
        const active = await until(
          'the alert in Alertmanager',
          async () => {
            const alerts = (await session.environment.monitoring?.alerts()) ?? [];
            for (const alert of alerts) seen.add(alert.labels.alertname ?? '');
            return alerts.find((alert) => alert.labels.alertname === 'KubeHpaMaxedOut');
          },
          60_000,
          50,
        ).catch((error: Error) => {
          throw new Error(`${error.message} (seen: ${[...seen].join(', ') || 'none'})`);
        });
        const body = {
          version: '4',
          groupKey: `{}:{alertname="${active.labels.alertname}"}`,
          truncatedAlerts: 0,
          status: 'firing',
          receiver: 'runbook-autopilot',
          groupLabels: { alertname: active.labels.alertname },
          commonLabels: active.labels,
          commonAnnotations: active.annotations,
          externalURL: session.environment.endpoints.alertmanager ?? '',
          alerts: [
            {
              status: 'firing',
              labels: active.labels,
              annotations: active.annotations,
              startsAt: active.startsAt,
              endsAt: '0001-01-01T00:00:00Z',
              generatorURL: active.generatorURL,
              fingerprint: active.fingerprint,
            },
          ],
        };
        const statuses = await Promise.all(
          Array.from({ length: 50 }, async () => {
            const response = await fetch(new URL('webhooks/alertmanager', session.url), {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(body),
              signal: AbortSignal.timeout(30_000),
            });
            await response.arrayBuffer();
            return response.status;
          }),
        );
        note(`storm answers: ${[...new Set(statuses)].join(', ')}`);
        check(
          statuses.every((status) => status < 300),
          `storm answers ${statuses.join(',')}`,
        );
        const details = await playToTheEnd(context, { approve: true, deadlineMs: 100_000, expected: 1 });
        check(details.length === 1, `${details.length} executions, expected exactly 1`);
        check(details[0]?.execution.status === 'succeeded', `execution ${story(details[0])}`);
        check(
          kubeChanges(session, HPA_PATH).length === 1,
          `${kubeChanges(session, HPA_PATH).length} autoscaler changes`,
        );
        return details;
      },
    },
    {
      id: 'alert-resolves-mid-run',
      kind: 'fault',
      fault:
        'the traffic drops while the runbook diagnoses: the rule stops holding and Alertmanager sends resolved',
      simulated: ['hpa-maxed-out'],
      alertSource: 'prometheus',
      expected: 'the incident resolves, the execution ends (no hang) with at most one change',
      deadlineMs: 120_000,
      async play(context) {
        const { session, check, note } = context;
        await until('an execution', async () => (await executionDetails(session.url))[0], 60_000, 50);
        session.environment.world.kube.setHpaDemand('shop', 'frontend', 2);
        const details = await playToTheEnd(context, { approve: true, deadlineMs: 100_000, expected: 1 });
        const detail = details[0];
        check(details.length === 1, `${details.length} executions, expected 1`);
        check(TERMINAL.has(detail?.execution.status), `execution ${story(detail)}`);
        const incident = detail
          ? await session.platform.platform.store.getIncident(detail.execution.incidentId)
          : undefined;
        const resolved = await until(
          'the resolved notification',
          async () =>
            (await session.platform.platform.store.getIncident(detail?.execution.incidentId ?? ''))
              ?.status === 'resolved'
              ? true
              : undefined,
          60_000,
        ).catch(() => false);
        check(resolved, `incident ${incident?.status}, not resolved`);
        check(kubeChanges(session, HPA_PATH).length <= 1, `${kubeChanges(session, HPA_PATH).length} changes`);
        note(`execution ${detail?.execution.status}, ${kubeChanges(session, HPA_PATH).length} change(s)`);
        return details;
      },
    },
    {
      id: 'operator-pause',
      kind: 'fault',
      fault: 'an operator pauses the execution as it starts diagnosing, then resumes it',
      simulated: ['hpa-maxed-out'],
      alertSource: 'prometheus',
      expected:
        'the execution holds (status paused) at the checkpoint before its change, nothing changes while paused, resume finishes it',
      deadlineMs: 120_000,
      async play(context) {
        const { session, check, override } = context;
        // Pauses hold at checkpoints (before each change): requested during the diagnosis, it holds before the raise.
        const id = await until(
          'an execution',
          async () => (await executionDetails(session.url))[0]?.execution.id as string | undefined,
          60_000,
          20,
        );
        const requested = Date.now();
        await getJson(new URL(`api/executions/${encodeURIComponent(id)}/pause`, session.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ by: 'scenario-runner', reason: 'override latency' }),
        });
        await until(
          'the pause to take effect',
          async () => {
            const detail = await getJson(new URL(`api/executions/${encodeURIComponent(id)}`, session.url));
            return detail.execution.status === 'paused' ? true : undefined;
          },
          30_000,
          10,
        );
        override('pause (requested during the diagnosis → held before the change)', Date.now() - requested);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        check(kubeChanges(session).length === 0, `${kubeChanges(session).length} changes while paused`);
        await getJson(new URL(`api/executions/${encodeURIComponent(id)}/resume`, session.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ by: 'scenario-runner' }),
        });
        const details = await playToTheEnd(context, { approve: true, deadlineMs: 90_000, expected: 1 });
        check(details[0]?.execution.status === 'succeeded', `execution after resume ${story(details[0])}`);
        return details;
      },
    },
    {
      id: 'kill-switch',
      kind: 'fault',
      fault: 'the kill switch is engaged as the alert arrives, released after the hold is seen',
      simulated: ['hpa-maxed-out'],
      alertSource: 'prometheus',
      expected: 'the execution holds before its change (no change while engaged); released, it finishes',
      deadlineMs: 120_000,
      async play(context) {
        const { session, check, override } = context;
        const id = await until(
          'an execution',
          async () => (await executionDetails(session.url))[0]?.execution.id as string | undefined,
          60_000,
          20,
        );
        const requested = Date.now();
        await getJson(new URL('api/kill-switch', session.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ engaged: true, by: 'scenario-runner', reason: 'override latency' }),
        });
        const engaged = await getJson(new URL('api/kill-switch', session.url));
        check(engaged.engaged === true, 'the kill switch does not read engaged');
        const held = await until(
          'the execution to hold',
          async () => {
            const detail = await getJson(new URL(`api/executions/${encodeURIComponent(id)}`, session.url));
            return detail.execution.heldCheckpoint || TERMINAL.has(detail.execution.status)
              ? detail
              : undefined;
          },
          60_000,
          20,
        );
        override(
          'kill switch (engaged during the diagnosis → held before the change)',
          Date.now() - requested,
        );
        check(Boolean(held.execution.heldCheckpoint), `the execution did not hold: ${story(held)}`);
        check(
          kubeChanges(session).length === 0,
          `${kubeChanges(session).length} changes while the switch was engaged`,
        );
        await getJson(new URL('api/kill-switch', session.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ engaged: false, by: 'scenario-runner' }),
        });
        const details = await playToTheEnd(context, { approve: true, deadlineMs: 90_000, expected: 1 });
        check(details[0]?.execution.status === 'succeeded', `execution after release ${story(details[0])}`);
        return details;
      },
    },
    {
      id: 'kill-9-mid-change',
      kind: 'fault',
      fault:
        'the platform process is killed with SIGKILL as its pod deletion reaches the cluster, then started again',
      simulated: ['crash-loop'],
      alertSource: 'prometheus',
      expected:
        'after the restart the execution shows the step interrupted; resumed, it finishes; one pod deleted, not two',
      child: true,
      deadlineMs: 150_000,
      async play(context) {
        const { session, check, note } = context;
        const kube = session.environment.world.kube;
        const child = session.child!;
        let killing: Promise<void> | undefined;
        kube.onRequest = (request) => {
          if (request.method === 'DELETE' && /^\/api\/v1\/namespaces\/[^/]+\/pods\//.test(request.path)) {
            kube.onRequest = undefined;
            killing = child.kill();
          }
        };
        const approved = new Set<string>();
        await until(
          'the pod deletion (the kill)',
          async () => {
            if (killing) return true;
            await approvePending(session.url, approved).catch(() => undefined);
            return undefined;
          },
          90_000,
          100,
        );
        await killing;
        const restarted = await session.restart();
        note(`recovery: ${JSON.stringify(restarted.recovery)}`);
        const interrupted = restarted.recovery.interrupted;
        check(interrupted.length === 1, `interrupted after the restart: ${interrupted.join(', ') || 'none'}`);
        const executionId = interrupted[0] ?? restarted.recovery.resumed[0];
        if (executionId && interrupted.length > 0)
          await getJson(new URL(`api/executions/${encodeURIComponent(executionId)}/resume`, session.url), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ by: 'scenario-runner' }),
          });
        const details = await playToTheEnd(context, { approve: true, deadlineMs: 90_000, expected: 1 });
        const detail = details[0];
        check(details.length === 1, `${details.length} executions, expected 1`);
        check(detail?.execution.status === 'succeeded', `execution after the restart ${story(detail)}`);
        const attempts = ((detail?.steps ?? []) as Json[])
          .filter((step) => step.stepId === 'delete-crashing-pod')
          .map((step) => step.status);
        note(`delete-crashing-pod attempts: ${attempts.join(', ')}`);
        check(attempts[0] === 'interrupted', `the killed attempt shows ${attempts[0]}, not interrupted`);
        const deleted = new Set(
          kube.requests
            .filter((request) => request.method === 'DELETE' && request.path.includes('/pods/'))
            .map((request) => request.path),
        );
        check(deleted.size === 1, `pods deleted: ${[...deleted].join(', ')}`);
        return details;
      },
    },
    {
      id: 'second-incident-same-resource',
      kind: 'fault',
      fault:
        'while the first execution waits for its approval, Alertmanager sends a second alert (KubePodNotReady) on the same pod',
      simulated: ['crash-loop'],
      alertSource: 'prometheus',
      expected:
        'the pod is changed once: the second incident is deferred behind the first (it says so) and starts nothing once the first fixed the pod and the alert resolved',
      deadlineMs: 150_000,
      async play(context) {
        const { session, check, note } = context;
        const first = await until(
          'the approval request of the first execution',
          async () =>
            (await notificationsOf(session.url)).find(
              (notification) => notification.kind === 'approval-request',
            ),
          60_000,
        );
        const [detail] = await executionDetails(session.url);
        const labels = { ...(detail!.incident.alert.labels as Record<string, string>) };
        const resource = String(detail!.execution.resourceKey);
        const alertmanager = session.environment.endpoints.alertmanager!;
        const notReady = (endsAt?: string) =>
          fetch(`${alertmanager}/api/v2/alerts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify([
              {
                labels: { ...labels, alertname: 'KubePodNotReady', severity: 'warning' },
                annotations: { summary: 'Pod has been in a non-ready state for more than 15 minutes.' },
                generatorURL: detail!.incident.alert.generatorURL,
                ...(endsAt ? { endsAt } : {}),
              },
            ]),
          });
        // The pod is replaced when the first deletes it: its KubePodNotReady then resolves too.
        const kube = session.environment.world.kube;
        kube.onRequest = (request) => {
          if (request.method !== 'DELETE' || !request.path.includes(`/pods/${labels.pod}`)) return;
          kube.onRequest = undefined;
          void notReady(new Date().toISOString());
        };
        const posted = await notReady();
        check(posted.ok, `Alertmanager refused the second alert: ${posted.status}`);
        const deferral = await until(
          'the second alert’s decision (deferred behind the first)',
          async () => {
            const { events } = await getJson(
              new URL(`api/audit?resource=${encodeURIComponent(resource)}&limit=500`, session.url),
            );
            return (events as Json[]).find(
              (event) => event.kind === 'gate.verdict' && event.gate === 'change-lock',
            );
          },
          30_000,
        ).catch(() => undefined);
        note(`first approval: ${first.subject}`);
        note(
          `second alert: ${deferral ? `${deferral.verdict}: ${deferral.reason}` : 'no change-lock verdict'}`,
        );
        check(
          deferral?.verdict === 'deferred' && String(deferral.reason).includes(String(detail!.execution.id)),
          `the second alert was not deferred behind ${detail!.execution.id}: ${JSON.stringify(deferral)}`,
        );
        // Approved, the first runs and fixes the pod; the second alert resolved meanwhile.
        let details = await playToTheEnd(context, { approve: true, deadlineMs: 60_000, expected: 1 });
        // The first's end re-evaluates the deferred alert: given time to start something, it must not.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        details = await playToTheEnd(context, { approve: true, deadlineMs: 60_000, expected: 1 });
        note(
          `executions: ${details.map((candidate) => `${candidate.execution.alert?.name} → ${candidate.execution.runbookId} ${candidate.execution.status} (${candidate.execution.currentState ?? ''}; ${(candidate.steps as Json[]).map((step) => `${step.stepId}:${step.status}`).join(' ')})`).join('; ')}`,
        );
        const deleted = new Set(
          kube.requests
            .filter(
              (request) => KUBE_CHANGES.has(request.method) && request.path.includes(`/pods/${labels.pod}`),
            )
            .map((request) => `${request.method} ${request.path}`),
        );
        check(deleted.size <= 1, `the pod was changed ${deleted.size} times: ${[...deleted].join(', ')}`);
        const changers = details.filter((candidate) =>
          (candidate.steps as Json[]).some(
            (step) => step.status === 'succeeded' && /delete|restart|patch|rollout/.test(String(step.stepId)),
          ),
        );
        check(changers.length <= 1, `${changers.length} executions changed the same workload`);
        // Serialized: no second execution on the pod while the first is in flight, and none after it
        // for an alert that resolved.
        const firstRun = details.find(
          (candidate) => candidate.execution.alert?.name === 'KubePodCrashLooping',
        );
        const overlapping = details.filter(
          (candidate) =>
            candidate !== firstRun &&
            Date.parse(candidate.execution.startedAt) <
              Date.parse(firstRun?.execution.stoppedAt ?? '9999-01-01'),
        );
        check(
          overlapping.length === 0,
          `${overlapping.map((candidate) => candidate.execution.runbookId).join(', ')} ran on ${labels.pod} while ${firstRun?.execution.runbookId} was in flight (neither serialized nor joined)`,
        );
        check(
          details.length === 1,
          `${details.length} executions; the deferred alert resolved, so only the first should have run`,
        );
        return details;
      },
    },
    hpaFault(
      'flaky-api-during-resolution',
      'the Kubernetes API answers the first read of the execution (resource.resolve, the autoscaler) 429 with Retry-After, then 503, then recovers',
      'resolution retries and resolves the autoscaler: nothing unresolved, the execution succeeds with one change, nobody escalated',
      ({ session }) => {
        const kube = session.environment.world.kube;
        kube.onRequest = (request) => {
          if (request.method !== 'GET' || !request.path.startsWith(HPA_PATH)) return;
          kube.onRequest = undefined;
          kube.failNext({
            method: 'GET',
            path: HPA_PATH,
            status: 429,
            times: 1,
            headers: { 'retry-after': '1' },
          });
          kube.failNext({ method: 'GET', path: HPA_PATH, status: 503, times: 1 });
        };
      },
      async ({ session, check, note }, detail) => {
        check(detail?.execution.status === 'succeeded', `execution ${story(detail)}`);
        const resolution = ((detail?.steps ?? []) as Json[]).find((step) => step.stepId === 'resource');
        const unresolved = (resolution?.output?.resource?.unresolved ?? ['no resolution output']) as string[];
        note(`resolution: ${resolution?.status}; unresolved: ${unresolved.join('; ') || 'nothing'}`);
        check(unresolved.length === 0, `resolution left ${unresolved.join('; ')} unresolved`);
        const reads = session.environment.world.kube.requestsTo('GET', HPA_PATH).length;
        check(reads >= 3, `${reads} autoscaler reads: the refused 429 and 503 and at least one answered`);
        check(
          kubeChanges(session, HPA_PATH).length === 1,
          `${kubeChanges(session, HPA_PATH).length} changes to the autoscaler, expected 1`,
        );
        check((await escalations(session, detail)).length === 0, 'escalated although resolution recovered');
      },
    ),
  ];
}

/** Plays one scenario: its own environment and platform, its checks, its measures. */
export async function playScenario(
  definition: ScenarioDefinition,
  options: RunnerOptions,
  machines: { library: string },
): Promise<ScenarioResult> {
  const started = Date.now();
  const failures: string[] = [];
  const notes: string[] = [];
  const overrides: Array<{ override: string; ms: number }> = [];
  let executions: ExecutionMeasure[] = [];
  let safetyIncidents: unknown[] = [];
  let runbooksDir = options.runbooksDir;
  let statemachinesDir = machines.library;
  const scratch: string[] = [];
  if (definition.variant) {
    const dir = mkdtempSync(join(tmpdir(), 'scenario-runbooks-'));
    scratch.push(dir);
    const source = resolve(ROOT, options.runbooksDir, `${definition.variant.runbookId}.yaml`);
    const original = readFileSync(source, 'utf8');
    const edited = definition.variant.edit(original);
    if (edited === original) failures.push(`the variant's edit changed nothing in ${source}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${definition.variant.runbookId}.yaml`), edited);
    runbooksDir = dir;
    statemachinesDir = compileRunbooks(dir);
    scratch.push(statemachinesDir);
    notes.push(`variant of ${definition.variant.runbookId}: ${definition.variant.why}`);
  }
  let session: Session | undefined;
  try {
    session = await openSession({
      simScenarios: definition.simulated,
      runbooksDir,
      statemachinesDir,
      waitScale: options.waitScale,
      ...(definition.child ? { child: true } : {}),
    });
    const context: ScenarioContext = {
      session,
      options,
      check(condition, message) {
        if (!condition) failures.push(message);
      },
      note: (line) => notes.push(line),
      override: (override, ms) => overrides.push({ override, ms }),
    };
    let timer: NodeJS.Timeout | undefined;
    const details = await Promise.race([
      definition.play(context),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`gave up after ${definition.deadlineMs} ms`)),
          definition.deadlineMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    for (const detail of details)
      executions.push(
        await measureExecution(session.url, session.platform, detail, options.waitScale, session.sink),
      );
    const learning = await getJson(new URL('api/learning', session.url));
    safetyIncidents = (learning.automation?.safetyIncidents ?? []) as unknown[];
    // Things that must never happen: only the kinds the fault itself causes are expected, and then they must show.
    const expectedKinds = new Set(definition.expectedSafetyIncidents ?? []);
    const kinds = safetyIncidents.map((incident) => String((incident as Json).kind));
    if (kinds.some((kind) => !expectedKinds.has(kind)))
      failures.push(
        `safety incident(s) in the learning report: ${JSON.stringify(safetyIncidents).slice(0, 1_000)}`,
      );
    for (const kind of expectedKinds)
      if (!kinds.includes(kind)) failures.push(`the learning report lists no ${kind} safety incident`);
  } catch (error) {
    failures.push(`did not finish: ${(error as Error).message}`);
    executions = executions.length > 0 ? executions : [];
  } finally {
    await session?.close();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  }
  return {
    id: definition.id,
    kind: definition.kind,
    fault: definition.fault,
    simulated: definition.simulated,
    alertSource: definition.alertSource,
    expected: definition.expected,
    passed: failures.length === 0,
    failures,
    durationMs: Date.now() - started,
    executions,
    overrideLatencyMs: overrides,
    safetyIncidents,
    notes,
  };
}

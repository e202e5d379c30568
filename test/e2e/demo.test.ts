import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstanceStatusCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { GetFunctionConcurrencyCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeFreezeWindow } from '../../functions/core/classifier/safety.ts';
import { AWS_SERVICES } from '../../functions/tools/aws/clients.ts';
import { awsClients } from '../../functions/tools/aws/index.ts';
import {
  DEMO_DATA_MARKER,
  DemoError,
  demoAwsOptions,
  type RunningDemo,
  runDemo,
} from '../../local/demo/demo.ts';
import { DEMO_NODES, DEMO_REGION } from '../../local/demo/target.ts';
import { DEFAULT_SCENARIOS, selectScenarios } from '../../local/sim/scenarios/index.ts';
import type { Json } from '../support/json.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from '../support/library.ts';
import { MONITORING } from '../support/monitoring.ts';
import { loadRunbook, ROOT } from '../support/runbooks.ts';

/**
 * `runbook demo` end to end: the demo target runs as its own process, the platform's real tools talk
 * to it over HTTP (Kubernetes API, Prometheus API, AWS JSON 1.1 for SSM), and the test checks the
 * result only over HTTP: the platform's API and the target's control endpoint. With Prometheus and
 * Alertmanager installed (CI installs them) the demo uses them: the alerts come from their rules and
 * webhooks; without them it uses its fallback, which a second suite runs on purpose.
 *
 * The shipped runbooks wait 60 s, 180 s and 90 s for changes to settle (runbook.wait): the demo's
 * wait scale shortens them to 1/30 here (2 s, 6 s, 3 s); RUNBOOK_DEMO_REAL_WAITS=1 runs them in full.
 */
const REAL_WAITS = process.env.RUNBOOK_DEMO_REAL_WAITS === '1';
const WAIT_SCALE = REAL_WAITS ? 1 : 1 / 30;

const RUNBOOKS = ['node-memory-pressure', 'pod-crash-looping', 'node-filesystem-filling'];
/** The alerts the default scenarios raise (KubeNodePressure, KubePodCrashLooping, NodeFilesystemSpaceFillingUp). */
const DEFAULT_ALERTS = selectScenarios(DEFAULT_SCENARIOS)
  .map((scenario) => scenario.alertname)
  .sort();
const frozen = RUNBOOKS.map((id) => ({
  id,
  window: activeFreezeWindow(
    loadRunbook(`${LIBRARY_RUNBOOKS_DIR}/${id}.yaml`).environmentConstraints.changeFreezeWindows,
    new Date(),
  ),
})).filter((entry) => entry.window);

async function get(base: string, path: string): Promise<Json> {
  const response = await fetch(new URL(path, base));
  expect(response.status).toBe(200);
  return (await response.json()) as Json;
}

describe.skipIf(frozen.length > 0)('runbook demo', () => {
  let dataDir: string;
  let demo: RunningDemo;
  const lines: string[] = [];

  beforeAll(
    async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'runbook-demo-'));
      demo = await runDemo({
        autoApprove: true,
        port: 0,
        dataDir,
        waitScale: WAIT_SCALE,
        runbooksDir: join(ROOT, LIBRARY_RUNBOOKS_DIR),
        statemachinesDir: libraryStatemachinesDir(),
        print: (line) => lines.push(line),
      });
    },
    REAL_WAITS ? 600_000 : 120_000,
  );

  afterAll(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs the three scenarios to success, each through an approval', async () => {
    // Act
    const { executions } = await get(demo.url, '/api/executions');
    const details = await Promise.all(
      executions.map((execution: Json) =>
        get(demo.url, `/api/executions/${encodeURIComponent(execution.id)}`),
      ),
    );
    const { notifications } = await get(demo.url, '/api/outbox?limit=100');

    // Assess
    expect(demo.ok, lines.join('\n')).toBe(true);
    expect(executions.map((execution: Json) => execution.runbookId).sort()).toEqual([...RUNBOOKS].sort());
    expect(executions.map((execution: Json) => execution.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    for (const detail of details) {
      expect(detail.execution.environment).toBe('staging');
      expect(detail.approvals).toHaveLength(1);
      expect(detail.approvals[0]).toMatchObject({
        status: 'approved',
        decisions: [{ decision: 'approve', comment: 'approved by runbook demo --auto-approve' }],
      });
      const requests = notifications.filter(
        (notification: Json) =>
          notification.kind === 'approval-request' && notification.executionId === detail.execution.id,
      );
      expect(requests.length).toBeGreaterThanOrEqual(2);
      expect(requests[0].links[0].url).toContain(`/approvals/`);
      const steps = new Map(detail.steps.map((step: Json) => [`${step.kind}:${step.stepId}`, step.status]));
      expect(steps.get('check:verify-alert-resolved')).toBe('succeeded');
    }
    const byRunbook = Object.fromEntries(details.map((detail) => [detail.execution.runbookId, detail]));
    const statusOf = (runbookId: string, key: string) =>
      byRunbook[runbookId].steps.filter((step: Json) => `${step.kind}:${step.stepId}` === key).at(-1)?.status;
    expect(statusOf('node-memory-pressure', 'step:restart-top-workload')).toBe('succeeded');
    expect(statusOf('node-memory-pressure', 'check:pressure-cleared')).toBe('succeeded');
    expect(statusOf('pod-crash-looping', 'step:evict-crashing-pod')).toBe('succeeded');
    expect(statusOf('pod-crash-looping', 'check:workload-settled')).toBe('succeeded');
    expect(statusOf('node-filesystem-filling', 'step:vacuum-journal')).toBe('succeeded');
    expect(statusOf('node-filesystem-filling', 'check:headroom-restored')).toBe('succeeded');
  });

  it('shortens the runbook waits by the wait scale, and says so', async () => {
    // Act
    const { executions } = await get(demo.url, '/api/executions');
    const details = await Promise.all(
      executions.map((execution: Json) =>
        get(demo.url, `/api/executions/${encodeURIComponent(execution.id)}`),
      ),
    );
    const waits = details.flatMap((detail) =>
      detail.steps
        .filter((step: Json) => step.tool === 'runbook.wait' && step.status === 'succeeded')
        .map((step: Json) => [`${detail.execution.runbookId}:${step.stepId}`, step.output]),
    );

    // Assess
    const scaled = (seconds: number) => ({
      waitedSeconds: expect.closeTo(seconds * WAIT_SCALE, 3),
      ...(REAL_WAITS ? {} : { scale: WAIT_SCALE }),
    });
    expect(Object.fromEntries(waits)).toEqual({
      'node-memory-pressure:wait-for-rollout': scaled(60),
      'pod-crash-looping:wait-for-replacement': scaled(180),
      'node-filesystem-filling:settle-after-routine': scaled(90),
    });
    if (!REAL_WAITS) {
      expect(lines).toContain(
        "  waits    runbook.wait shortened ×0.0333 (--wait-scale 0.0333): the runbooks' 60 s, 180 s and 90 s waits take 2 s, 6 s and 3 s; --wait-scale 1 waits in full",
      );
      expect(lines.filter((line) => /; ×0\.0333 here: [236] s\)$/.test(line))).toHaveLength(3);
    }
  });

  it('reached the simulated environment over its real protocols, and the target sent the resolved alerts', async () => {
    // Act
    const requests = await demo.target.requests();
    const state = await get(demo.target.endpoints.control, '/state');

    // Assess: the rollout restart, the eviction, the SSM command
    const restart = requests.kube.find(
      (request) =>
        request.method === 'PATCH' && request.path === '/apis/apps/v1/namespaces/shop/deployments/cart',
    );
    expect(restart?.contentType).toMatch(/^application\/(strategic-)?merge-patch\+json$/);
    expect(JSON.stringify(restart?.body)).toContain('kubectl.kubernetes.io/restartedAt');
    expect(
      requests.kube.some(
        (request) =>
          request.method === 'POST' &&
          /^\/api\/v1\/namespaces\/shop\/pods\/checkout-[^/]+\/eviction$/.test(request.path),
      ),
    ).toBe(true);
    const ssm = requests.aws.filter((request) => request.service === 'ssm');
    const sent = ssm.find((request) => request.operation === 'SendCommand');
    expect(sent?.status).toBe(200);
    expect(sent?.body).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [DEMO_NODES.disk.instanceId],
      Parameters: { commands: expect.arrayContaining(['journalctl --vacuum-size=1G --vacuum-time=14d']) },
    });
    expect(ssm.map((request) => request.operation)).toEqual(
      expect.arrayContaining(['ListCommandInvocations', 'GetCommandInvocation']),
    );
    // Only SSM was called (the Kubernetes scenarios' runbooks), and only what the target simulates.
    expect(requests.aws.every((request) => request.service === 'ssm' && request.status === 200)).toBe(true);
    expect(requests.prometheus.some((request) => request.params.query?.includes('predict_linear'))).toBe(
      true,
    );
    // … and healed: Alertmanager (or the fallback's stand-in) sent the resolved webhooks, accepted
    expect(demo.target.mode).toBe(MONITORING.available ? 'real' : 'fallback');
    if (demo.target.mode === 'real') {
      const notifications = await demo.target.alertmanagerNotifications();
      expect(notifications?.sent).toBeGreaterThanOrEqual(3);
      expect(notifications?.failed).toBe(0);
    } else {
      expect(
        requests.alertmanager
          .filter((delivery) => delivery.status === 'resolved')
          .map((delivery) => `${delivery.alertname}:${delivery.httpStatus}`)
          .sort(),
      ).toEqual(DEFAULT_ALERTS.map((alertname) => `${alertname}:202`));
    }
    expect(state.alerts.map((alert: Json) => `${alert.alertname}:${alert.state}`).sort()).toEqual(
      DEFAULT_ALERTS.map((alertname) => `${alertname}:resolved`),
    );
    expect(state.crashLoopingPods).toEqual([]);
    expect(state.nodes.find((node: Json) => node.name === DEMO_NODES.memory.name).memoryPressure).toBe(false);
  });

  it('updates the learning report: three successful executions, their approvals answered', async () => {
    // Act
    const report = await get(demo.url, '/api/learning');

    // Assess
    expect(report.totals).toMatchObject({ executions: 3, succeeded: 3 });
    expect(report.runbooks.map((runbook: Json) => runbook.runbookId).sort()).toEqual([...RUNBOOKS].sort());
    for (const runbook of report.runbooks)
      expect(runbook).toMatchObject({ executions: 1, succeeded: 1, approvalsAnswered: 1 });
    expect(lines.join('\n')).toContain('learning report');
  });

  it('points every AWS client at the simulated account, which answers what it simulates and refuses the rest', async () => {
    // Prepare: the clients as the demo configures them
    const options = demoAwsOptions(demo.target.endpoints.aws);
    const clients = awsClients({ defaultRegion: DEMO_REGION, ...options });

    // Act
    const [ec2, lambda, unknown] = await Promise.allSettled([
      clients.ec2().send(new DescribeInstanceStatusCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
      clients.lambda().send(new GetFunctionConcurrencyCommand({ FunctionName: 'checkout-api' })),
      clients.ec2().send(new TerminateInstancesCommand({ InstanceIds: ['i-0a1b2c3d4e5f60718'] })),
    ]);

    // Assess: every service goes to the target; an unknown instance is EC2's own error, a simulated
    // function answers, an operation not simulated is refused in its protocol's shape
    expect(Object.keys(options.endpoints).sort()).toEqual([...AWS_SERVICES].sort());
    expect(new Set(Object.values(options.endpoints))).toEqual(new Set([demo.target.endpoints.aws]));
    expect((ec2 as PromiseRejectedResult).reason).toMatchObject({
      name: 'InvalidInstanceID.NotFound',
      message: "The instance ID 'i-0123456789abcdef0' does not exist",
    });
    expect(lambda).toMatchObject({ status: 'fulfilled', value: { ReservedConcurrentExecutions: 50 } });
    expect((unknown as PromiseRejectedResult).reason).toMatchObject({
      name: 'InvalidAction',
      message: expect.stringContaining('ec2:TerminateInstances is not simulated'),
    });
    const operations = (await demo.target.requests()).aws.map(
      (request) => `${request.service}:${request.operation}`,
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        'ec2:DescribeInstanceStatus',
        'lambda:GetFunctionConcurrency',
        'ec2:TerminateInstances',
      ]),
    );
  });

  it('stops the demo target process with the platform', async () => {
    // Act
    await demo.stop();

    // Assess
    expect(() => process.kill(demo.target.pid, 0)).toThrow();
    await expect(fetch(demo.target.endpoints.control)).rejects.toThrow();
    await expect(fetch(demo.url)).rejects.toThrow();
  });
});

describe.skipIf(frozen.some((entry) => entry.id === 'pod-crash-looping'))(
  'runbook demo without Prometheus: the fallback',
  () => {
    let dataDir: string;
    let demo: RunningDemo;
    const lines: string[] = [];

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'runbook-demo-fallback-'));
      demo = await runDemo({
        autoApprove: true,
        port: 0,
        dataDir,
        waitScale: WAIT_SCALE,
        scenarios: ['crash-loop'],
        monitoring: 'fallback',
        runbooksDir: join(ROOT, LIBRARY_RUNBOOKS_DIR),
        statemachinesDir: libraryStatemachinesDir(),
        print: (line) => lines.push(line),
      });
    }, 90_000);

    afterAll(async () => {
      await demo?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('says it runs the fallback and how to install the real monitoring', () => {
      expect(demo.target.mode).toBe('fallback');
      expect(lines.join('\n')).toContain(
        'monitoring fallback: the fallback was asked for; canned PromQL answers and a stand-in Alertmanager (the demo posts each alert itself). For the real thing: apt-get install -y prometheus prometheus-alertmanager',
      );
    });

    it('runs the chosen scenario only, to success, with the stand-in sending resolved', async () => {
      // Act
      const { executions } = await get(demo.url, '/api/executions');
      const requests = await demo.target.requests();

      // Assess
      expect(demo.ok, lines.join('\n')).toBe(true);
      expect(executions.map((execution: Json) => `${execution.runbookId}:${execution.status}`)).toEqual([
        'pod-crash-looping:succeeded',
      ]);
      expect(
        requests.alertmanager.map(
          (delivery) => `${delivery.alertname}:${delivery.status}:${delivery.httpStatus}`,
        ),
      ).toEqual(['KubePodCrashLooping:resolved:202']);
      // the canned Prometheus answered the owner join from the exporters' series
      expect(
        requests.prometheus.some((request) => request.params.query?.includes('kube_replicaset_owner')),
      ).toBe(true);
    });
  },
);

describe('runbook demo data directory', () => {
  it('refuses a non-empty directory that is not a demo data directory, and starts nothing', async () => {
    // Prepare
    const dataDir = mkdtempSync(join(tmpdir(), 'runbook-demo-not-'));
    mkdirSync(join(dataDir, 'dynamodb'));
    writeFileSync(join(dataDir, 'secrets.json'), '{}');

    // Act
    const attempt = runDemo({ autoApprove: true, port: 0, dataDir, print: () => {} });

    // Assess
    await expect(attempt).rejects.toThrow(DemoError);
    await expect(attempt).rejects.toThrow(DEMO_DATA_MARKER);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([0, 2])('refuses the wait scale %s before it touches the data directory', async (waitScale) => {
    // Prepare
    const dataDir = join(tmpdir(), `runbook-demo-scale-${waitScale}-${process.pid}`);

    // Act
    const attempt = runDemo({ autoApprove: true, port: 0, dataDir, waitScale, print: () => {} });

    // Assess
    await expect(attempt).rejects.toThrow(DemoError);
    await expect(attempt).rejects.toThrow(
      `the demo wait scale must be a number greater than 0 and at most 1 (0.1 makes runbook.wait wait a tenth of the requested time, 1 the full time), got ${waitScale}`,
    );
    expect(existsSync(dataDir)).toBe(false);
  });
});

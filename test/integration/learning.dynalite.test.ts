import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoStore } from '../../functions/adapters/aws/dynamo-store.ts';
import { startLocalDatabase } from '../../functions/adapters/local/database.ts';
import type { Alert } from '../../functions/core/alert.ts';
import {
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
  normalizeOptions,
} from '../../functions/core/classifier/normalize.ts';
import { RunbookHistory } from '../../functions/core/learning/history.ts';
import { validateRunbookText } from '../../functions/core/runbook/validate.ts';
import { LearningService } from '../../functions/core/services/learning.ts';
import { createControlHandler } from '../../functions/handlers/control.ts';
import { systemClock } from '../../functions/ports/clock.ts';
import { main } from '../../local/cli.ts';
import { functionUrlEvent, lambdaContext, startAwsHarness, TEST_CONFIG } from '../support/aws-harness.ts';
import {
  POD_MEMORY_GROWTH,
  podMemoryRun as run,
  type SeedRun,
  seedRuns,
} from '../support/learning-history.ts';
import { loadRunbook, OPTIONS, ROOT } from '../support/runbooks.ts';

/**
 * Learning read from the store (dynalite): the history the API and the data directory give, and the
 * `runbook learn suggest | recommend | report` commands against a data directory seeded with known runs.
 */

const RUNBOOK = loadRunbook(POD_MEMORY_GROWTH);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const logger = quiet;

/** Ten runs: pod-status times out in three (30%), one memory alert scales out. */
function seededRuns(): SeedRun[] {
  return [
    ...[3_000, 4_000, 5_000, 6_000, 7_000, 8_000].map((durationMs) => run({ podStatus: { durationMs } })),
    run({ memory: 95 }),
    ...Array.from({ length: 3 }, () =>
      run({ podStatus: { status: 'timed-out', durationMs: 30_000 }, namespace: 'payments' }),
    ),
  ];
}

async function seed(store: DynamoStore, runs: SeedRun[], start: number) {
  const { executions, outcomes } = seedRuns(RUNBOOK, runs, start);
  for (const [index, execution] of executions.entries()) {
    await store.createExecution(execution);
    for (const outcome of outcomes[index]!) await store.putStepOutcome(outcome);
  }
  return executions;
}

function unmatchedAlerts(): Alert[] {
  const options = normalizeOptions(TEST_CONFIG);
  const prometheus = (alertname: string) =>
    normalizeAlertmanager(
      {
        version: '4',
        groupKey: `{}:{alertname="${alertname}"}`,
        truncatedAlerts: 0,
        status: 'firing',
        receiver: 'runbook-autopilot',
        groupLabels: { alertname },
        commonLabels: {},
        commonAnnotations: {},
        externalURL: 'http://alertmanager.example.com',
        alerts: [
          {
            status: 'firing',
            labels: {
              alertname,
              severity: 'warning',
              namespace: 'shop',
              resourcequota: 'shop-quota',
              resource: 'requests.memory',
            },
            annotations: { summary: `${alertname} in shop` },
            startsAt: '2026-03-01T10:00:00Z',
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: 'http://prometheus.example.com/graph?g0.expr=up',
            fingerprint: `fp-${alertname}`,
          },
        ],
      },
      options,
    )[0]!;
  const cloudwatch = normalizeCloudWatchAlarm(
    JSON.parse(
      readFileSync(join(ROOT, 'test/fixtures/alerts/cloudwatch-alarm-lambda-throttles.json'), 'utf8'),
    ),
    options,
  );
  return [prometheus('KubeQuotaAlmostFull'), prometheus('KubeQuotaFullyUsed'), cloudwatch];
}

describe('learning history from the store', () => {
  let harness: Awaited<ReturnType<typeof startAwsHarness>>;

  beforeEach(async () => {
    harness = await startAwsHarness({ runbooks: [POD_MEMORY_GROWTH] });
  });
  afterEach(() => harness.stop());

  it('serves a runbook’s history at GET /api/learning/history/:runbook, facts its branches read included', async () => {
    // Prepare: ten runs an hour apart, ending now; one dry run that never counts
    const start = Date.parse('2026-11-25T00:00:00Z');
    harness.clock.set(new Date(start + 12 * 3_600_000).toISOString());
    await seed(harness.store, seededRuns(), start);
    const [dry] = seedRuns(RUNBOOK, [{ ...run(), dryRun: true }], start + 11 * 3_600_000).executions;
    await harness.store.createExecution({ ...dry!, id: 'pod-memory-growth-dry-run' });
    const handler = createControlHandler({
      control: harness.services.control,
      learning: harness.services.learning,
      audit: harness.audit,
      runbooks: () => harness.runbooks,
      logger: harness.logger,
    });

    // Act
    const answer = await handler(
      functionUrlEvent('GET', '/api/learning/history/pod-memory-growth'),
      lambdaContext(),
    );
    const unknown = await handler(
      functionUrlEvent('GET', '/api/learning/history/no-such-runbook'),
      lambdaContext(),
    );

    // Assess
    expect(answer.statusCode).toBe(200);
    const history = RunbookHistory.parse(JSON.parse(answer.body as string));
    expect(history.executions).toHaveLength(10);
    expect(history.executions.map((execution) => execution.id)).not.toContain('pod-memory-growth-dry-run');
    const scaled = history.executions.find((execution) =>
      execution.steps.some((step) => step.stepId === 'scale'),
    )!;
    expect(scaled.steps.find((step) => step.stepId === 'memory-usage')?.facts).toEqual({
      'steps.memory-usage.output.value': 95,
    });
    expect(
      history.executions.filter((execution) =>
        execution.steps.some((step) => step.stepId === 'pod-status' && step.status === 'timed-out'),
      ),
    ).toHaveLength(3);
    expect(unknown.statusCode).toBe(404);
    expect(JSON.parse(unknown.body as string).error).toMatch(/no runbook "no-such-runbook"/);
  });

  it('keeps failure patterns and success factors with the aggregate, and the report shows them', async () => {
    // Prepare
    const start = Date.parse('2026-11-25T00:00:00Z');
    harness.clock.set(new Date(start + 12 * 3_600_000).toISOString());
    await seed(harness.store, seededRuns(), start);

    // Act
    await harness.services.learning.recompute(RUNBOOK.id);
    const report = await harness.services.learning.report(harness.runbooks);

    // Assess
    const [runbook] = report.runbooks;
    expect(runbook?.failurePatterns).toEqual([
      {
        stepId: 'pod-status',
        errorClass: 'Runbook.StepTimeout',
        labels: { namespace: 'payments' },
        support: 3,
        runs: 3,
        confidence: 1,
      },
      {
        stepId: 'pod-status',
        errorClass: 'Runbook.StepTimeout',
        labels: {},
        support: 3,
        runs: 10,
        confidence: 0.3,
      },
    ]);
    expect(runbook?.successFactors).toEqual([]);
  });

  it('shows step effectiveness and predictions per alert signature in the report, from the stored history', async () => {
    // Prepare: the seeded runs recorded in the store, as the platform records them
    const start = Date.parse('2026-11-25T00:00:00Z');
    harness.clock.set(new Date(start + 12 * 3_600_000).toISOString());
    await seed(harness.store, seededRuns(), start);
    await harness.services.learning.recompute(RUNBOOK.id);

    // Act
    const report = await harness.services.learning.report(harness.runbooks);

    // Assess: pod-status timed out in 3 of 10; memory-usage decided the one scale-out of 7 it saw.
    const insights = report.runbooks[0]?.insights;
    const diagnostics = new Map(insights?.effectiveness.diagnostics.map((step) => [step.stepId, step]));
    expect(diagnostics.get('pod-status')).toMatchObject({ runs: 10, failed: 3, failureRate: 0.3 });
    expect(diagnostics.get('memory-usage')).toMatchObject({ runs: 7, decided: 1 });
    expect(insights?.effectiveness.remediations).toMatchObject([
      { stepId: 'scale', runs: 1, resolved: 1, bySignature: { 'PodMemoryGrowth on k8s-pod': { runs: 1 } } },
    ]);
    const [pod] = insights?.predictions ?? [];
    expect(pod).toMatchObject({ signature: 'PodMemoryGrowth on k8s-pod', runs: 10 });
    expect(pod?.run.success).toMatchObject({ runs: 10, succeeded: 7 });
    expect(pod?.steps.find((step) => step.stepId === 'pod-status')?.success).toMatchObject({
      runs: 10,
      succeeded: 7,
    });
  });
});

describe('runbook learn suggest | recommend | report, from a data directory', () => {
  let workspace: string;
  let dataDir: string;
  let runbookFile: string;

  beforeAll(async () => {
    // Prepare: a project with the fixture runbook, and a data directory holding its runs and unmatched alerts
    workspace = mkdtempSync(join(tmpdir(), 'runbook-learn-'));
    mkdirSync(join(workspace, 'runbooks'));
    copyFileSync(join(ROOT, 'cdk.json'), join(workspace, 'cdk.json'));
    copyFileSync(join(ROOT, 'runbooks', 'schema.json'), join(workspace, 'runbooks', 'schema.json'));
    dataDir = join(workspace, '.runbook');
    const database = await startLocalDatabase({ path: join(dataDir, 'dynamodb') });
    try {
      const store = new DynamoStore({
        client: database.client,
        tableName: database.tableName,
        retentionDays: 90,
      });
      await seed(store, seededRuns(), Date.now() - 2 * 86_400_000);
      // KubeQuotaAlmostFull twice, KubeQuotaFullyUsed three times, the Lambda alarm once
      const [almostFull, fullyUsed, lambda] = unmatchedAlerts();
      const seen = [almostFull!, almostFull!, fullyUsed!, fullyUsed!, fullyUsed!, lambda!];
      for (const [index, alert] of seen.entries())
        await store.recordUnmatched(alert, new Date(Date.now() - 3_600_000 + index * 60_000).toISOString());
      await new LearningService({ store, clock: systemClock, logger }).recompute(RUNBOOK.id);
    } finally {
      await database.stop();
    }
  });
  afterAll(() => rmSync(workspace, { recursive: true, force: true }));

  beforeEach(() => {
    runbookFile = join(workspace, 'runbooks', 'pod-memory-growth.yaml');
    copyFileSync(join(ROOT, POD_MEMORY_GROWTH), runbookFile);
    rmSync(join(dataDir, 'learn'), { recursive: true, force: true });
  });

  async function cli(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'runbook', ...args], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      cwd: workspace,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const offline = ['--url', 'http://127.0.0.1:9/'];

  it('prints numbered suggestions with their evidence and diffs, and --json the same', async () => {
    // Act
    const text = await cli('learn', 'suggest', 'pod-memory-growth', ...offline);
    const json = await cli('learn', 'suggest', 'pod-memory-growth', ...offline, '--json');

    // Assess
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^Suggested changes from the data directory \.runbook/);
    expect(text.out).toMatch(
      /pod-memory-growth \(runbooks\/pod-memory-growth\.yaml, version 1\.4\.0\): 10 run\(s\)/,
    );
    expect(text.out).toMatch(
      / 1\. Raise the timeout of step "pod-status" from 30s to 45s\n {4}rule raise-timeout; version 1\.4\.0 → 1\.4\.1 \(patch\)/,
    );
    expect(text.out).toContain('      - 3 of 10 runs (30%) timed out at 30s (Runbook.StepTimeout)');
    expect(text.out).toContain(
      '      - failure pattern: 3 of 3 runs on namespace=payments timed out (confidence 100%)',
    );
    expect(text.out).toContain(
      '--- a/runbooks/pod-memory-growth.yaml\n+++ b/runbooks/pod-memory-growth.yaml',
    );
    expect(text.out).toContain('+        timeout: 45s # the API server answers within seconds');
    expect(text.err).toMatch(
      /suggestion\(s\), kept in \.runbook\/learn\/suggestions\.json: apply one with runbook learn suggest pod-memory-growth --apply N/,
    );
    expect(json.code).toBe(0);
    const [runbook] = JSON.parse(json.out).runbooks;
    expect(runbook).toMatchObject({ runbookId: 'pod-memory-growth', runs: 10 });
    expect(runbook.suggestions[0]).toMatchObject({
      number: 1,
      rule: 'raise-timeout',
      version: { from: '1.4.0', to: '1.4.1', bump: 'patch' },
      figures: { timedOut: 3, proposedTimeoutSeconds: 45 },
    });
    expect(runbook.suggestions[0].diff).toMatch(/^--- a\/runbooks\/pod-memory-growth\.yaml/);
  });

  it('--apply N writes the edit, bumps the version, and the file validates', async () => {
    // Prepare
    await cli('learn', 'suggest', 'pod-memory-growth', ...offline);
    const before = readFileSync(runbookFile, 'utf8');

    // Act
    const applied = await cli('learn', 'suggest', 'pod-memory-growth', '--apply', '1', ...offline);
    const validated = await cli('validate', 'runbooks');

    // Assess
    expect(applied.code).toBe(0);
    expect(applied.out).toBe(
      [
        'applied suggestion 1 to runbooks/pod-memory-growth.yaml: Raise the timeout of step "pod-status" from 30s to 45s',
        'version 1.4.0 → 1.4.1 (semver patch: tuning, the same steps and paths)',
        'runbooks/pod-memory-growth.yaml validates; its compiled state machine is now stale: run npm run compile',
      ].join('\n'),
    );
    const after = readFileSync(runbookFile, 'utf8');
    expect(after).toBe(
      before
        .replace('version: 1.4.0', 'version: 1.4.1')
        .replace('timeout: 30s # the API server', 'timeout: 45s # the API server'),
    );
    expect(validateRunbookText(after, OPTIONS).runbook).toMatchObject({ version: '1.4.1' });
    expect(validated.code).toBe(0);
  });

  it('--apply refuses a file changed since the suggestions were computed, and writes nothing', async () => {
    // Prepare: the list is computed, then someone edits the runbook
    await cli('learn', 'suggest', 'pod-memory-growth', ...offline);
    const edited = `${readFileSync(runbookFile, 'utf8')}# a note added by hand\n`;
    writeFileSync(runbookFile, edited);

    // Act
    const refused = await cli('learn', 'suggest', 'pod-memory-growth', '--apply', '1', ...offline);

    // Assess
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(
      /^runbook: runbooks\/pod-memory-growth\.yaml changed since suggestion 1 was computed \(.*\): nothing written; run runbook learn suggest pod-memory-growth and pick from the new list$/,
    );
    expect(readFileSync(runbookFile, 'utf8')).toBe(edited);
  });

  it('--apply refuses a result that would not validate, and an --apply without a list or with a wrong number', async () => {
    // Prepare: no list yet; then a list whose first edit someone broke by hand
    const noList = await cli('learn', 'suggest', 'pod-memory-growth', '--apply', '1', ...offline);
    await cli('learn', 'suggest', 'pod-memory-growth', ...offline);
    const savedFile = join(dataDir, 'learn', 'suggestions.json');
    const saved = JSON.parse(readFileSync(savedFile, 'utf8'));
    saved.suggestions[0].text = saved.suggestions[0].text.replace('timeout: 45s', 'timeout: 45 seconds');
    writeFileSync(savedFile, JSON.stringify(saved));
    const original = readFileSync(runbookFile, 'utf8');

    // Act
    const invalid = await cli('learn', 'suggest', 'pod-memory-growth', '--apply', '1', ...offline);
    const outOfRange = await cli('learn', 'suggest', 'pod-memory-growth', '--apply', '99', ...offline);
    const notANumber = await cli('learn', 'suggest', 'pod-memory-growth', '--apply', 'first', ...offline);
    const otherList = await cli('learn', 'suggest', '--apply', '1', ...offline);

    // Assess
    expect(noList.code).toBe(2);
    expect(noList.err).toMatch(
      /no suggestions computed yet in \.runbook: run runbook learn suggest pod-memory-growth first/,
    );
    expect(invalid.code).toBe(2);
    expect(invalid.err).toMatch(
      /suggestion 1 would leave runbooks\/pod-memory-growth\.yaml invalid \(phases\[1\]\.steps\[0\]\.timeout: .*\): nothing written/,
    );
    expect(outOfRange).toMatchObject({ code: 2 });
    expect(outOfRange.err).toMatch(/there is no suggestion 99: the saved list \(.*\) has 1 to \d+/);
    expect(notANumber).toMatchObject({ code: 2 });
    expect(notANumber.err).toMatch(/--apply takes the number of a suggestion/);
    expect(otherList.code).toBe(2);
    expect(otherList.err).toMatch(/are for runbook pod-memory-growth, and their numbers differ/);
    expect(readFileSync(runbookFile, 'utf8')).toBe(original);
  });

  it('learn recommend --write writes a skeleton per cluster of unmatched alerts, each valid, never over a file', async () => {
    // Act
    const printed = await cli('learn', 'recommend', ...offline);
    const written = await cli('learn', 'recommend', '--write', 'proposed', ...offline);
    const again = await cli('learn', 'recommend', '--write', 'proposed', ...offline);
    const validated = await cli('validate', 'proposed');

    // Assess: the two quota alerts share a cluster; the CloudWatch alarm is its own
    expect(printed.code).toBe(0);
    expect(printed.out).toMatch(
      /1\. kube-quota: KubeQuotaFullyUsed, KubeQuotaAlmostFull \(prometheus, k8s-resourcequota; labels namespace, resource, resourcequota\): 5 alert\(s\)/,
    );
    expect(printed.out).toMatch(
      /2\. lambda-throttles: checkout-api-throttles \(cloudwatch, lambda-function; labels FunctionName\): 1 alert\(s\)/,
    );
    expect(written.code).toBe(0);
    expect(readdirSync(join(workspace, 'proposed')).sort()).toEqual([
      'kube-quota.yaml',
      'lambda-throttles.yaml',
    ]);
    expect(written.out).toContain('   wrote proposed/kube-quota.yaml');
    expect(again.out).toContain('   not written: proposed/kube-quota.yaml exists: not overwritten');
    expect(validated).toMatchObject({ code: 0 });
    const quota = validateRunbookText(
      readFileSync(join(workspace, 'proposed', 'kube-quota.yaml'), 'utf8'),
      OPTIONS,
    );
    expect(quota.runbook?.applicabilityRules[0]?.pattern).toEqual({
      source: ['prometheus'],
      name: ['KubeQuotaFullyUsed', 'KubeQuotaAlmostFull'],
      resource: { type: ['k8s-resourcequota'] },
    });
    expect(quota.runbook?.phases[0]?.steps.map((step) => step.tool)).toEqual([
      'prometheus.alert-expression',
      'k8s.describe',
    ]);
    const lambda = validateRunbookText(
      readFileSync(join(workspace, 'proposed', 'lambda-throttles.yaml'), 'utf8'),
      OPTIONS,
    );
    expect(lambda.runbook?.phases[0]?.steps.map((step) => step.tool)).toEqual([
      'cloudwatch.get-metric-data',
      'lambda.describe',
      'lambda.recent-errors',
    ]);
  });

  it('learn report shows the failure patterns it keeps', async () => {
    // Act
    const report = await cli('learn', 'report', ...offline, '--runbooks', 'runbooks');

    // Assess
    expect(report.code).toBe(0);
    expect(report.out).toContain(
      '  pod-memory-growth/pod-status  Runbook.StepTimeout  on namespace=payments: 3 of 3 runs (100%)',
    );
    expect(report.out).toContain(
      'Changes to the runbooks, each a diff with its evidence: runbook learn suggest [ID]',
    );
  });
});

describe('runbook learn suggest, from the running platform', () => {
  let server: Server;
  let harness: Awaited<ReturnType<typeof startAwsHarness>>;
  let workspace: string;

  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await harness.stop();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('reads the history over GET /api/learning/history/:runbook', async () => {
    // Prepare: the control API over HTTP, as the local server serves it
    harness = await startAwsHarness({ runbooks: [POD_MEMORY_GROWTH] });
    const start = Date.parse('2026-11-25T00:00:00Z');
    harness.clock.set(new Date(start + 12 * 3_600_000).toISOString());
    await seed(harness.store, seededRuns(), start);
    const handler = createControlHandler({
      control: harness.services.control,
      learning: harness.services.learning,
      audit: harness.audit,
      runbooks: () => harness.runbooks,
      logger: harness.logger,
    });
    server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      void handler(functionUrlEvent(request.method ?? 'GET', url.pathname), lambdaContext()).then(
        (answer) => {
          response.writeHead(answer.statusCode ?? 200, { 'content-type': 'application/json' });
          response.end(answer.body);
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    workspace = mkdtempSync(join(tmpdir(), 'runbook-learn-server-'));
    mkdirSync(join(workspace, 'runbooks'));
    copyFileSync(join(ROOT, 'cdk.json'), join(workspace, 'cdk.json'));
    copyFileSync(join(ROOT, POD_MEMORY_GROWTH), join(workspace, 'runbooks', 'pod-memory-growth.yaml'));
    const out: string[] = [];
    const err: string[] = [];

    // Act
    const code = await main(
      ['node', 'runbook', 'learn', 'suggest', '--url', `http://127.0.0.1:${port}/`, '--json'],
      { out: (line) => out.push(line), err: (line) => err.push(line), cwd: workspace },
    );

    // Assess
    expect(code).toBe(0);
    const computed = JSON.parse(out.join('\n'));
    expect(computed.from).toBe(`the server at http://127.0.0.1:${port}/`);
    expect(computed.runbooks[0].suggestions.map((suggestion: { rule: string }) => suggestion.rule)).toContain(
      'raise-timeout',
    );
  });
});

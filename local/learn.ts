import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RunbookAutopilotError } from '../functions/core/errors.ts';
import type { LearningReport } from '../functions/core/learning/aggregate.ts';
import { describeFactorCondition } from '../functions/core/learning/patterns.ts';

/**
 * `runbook learn report`: the learning report of the embedded platform — asked of the running server
 * (the database is its to hold), or read from the data directory when no server runs.
 */
export async function fetchLearningReport(options: {
  url: string;
  dataDir: string;
  token?: string;
  runbooksDir: string;
  cwd: string;
  /** The environment the data belongs to (read when no server runs): its automation levels and runs. */
  environment?: string;
}): Promise<LearningReport> {
  try {
    const response = await fetch(new URL('api/learning', options.url), {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      signal: AbortSignal.timeout(5_000),
    });
    if (response.status === 401)
      throw new RunbookAutopilotError(`the server at ${options.url} needs --token`);
    if (!response.ok)
      throw new RunbookAutopilotError(`the server at ${options.url} answered ${response.status}`);
    return (await response.json()) as LearningReport;
  } catch (error) {
    if (error instanceof RunbookAutopilotError) throw error;
    if (!existsSync(join(options.dataDir, 'dynamodb'))) {
      throw new RunbookAutopilotError(
        `no server at ${options.url} and no data in ${options.dataDir}: run npm start first`,
      );
    }
    return readReportFromData(options);
  }
}

async function readReportFromData(options: {
  dataDir: string;
  runbooksDir: string;
  cwd: string;
  environment?: string;
}): Promise<LearningReport> {
  const [
    { startLocalDatabase },
    { DynamoStore },
    { LearningService },
    { systemClock },
    project,
    files,
    tools,
    { DynamoAutomationStore },
    { AutomationService },
    { RuntimeConfig },
    { DynamoWatchStore },
    { CircuitBreakerService },
  ] = await Promise.all([
    import('../functions/adapters/local/database.ts'),
    import('../functions/adapters/aws/dynamo-store.ts'),
    import('../functions/core/services/learning.ts'),
    import('../functions/ports/clock.ts'),
    import('./project.ts'),
    import('./runbook-files.ts'),
    import('../functions/tools/declarations.ts'),
    import('../functions/adapters/aws/dynamo-automation-store.ts'),
    import('../functions/core/automation/service.ts'),
    import('../functions/core/config.ts'),
    import('../functions/adapters/aws/dynamo-watch.ts'),
    import('../functions/core/watch/circuit-breaker.ts'),
  ]);
  const database = await startLocalDatabase({ path: join(options.dataDir, 'dynamodb') });
  try {
    const store = new DynamoStore({
      client: database.client,
      tableName: database.tableName,
      retentionDays: 90,
    });
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const results = files.validateRunbookFiles(files.listRunbookFiles([options.runbooksDir]).files, {
      tools: tools.TOOL_CATALOG,
      policies: project.loadPolicies(project.cdkJsonPath(options.cwd)),
    });
    const runbooks = results.flatMap((result) => (result.runbook ? [result.runbook] : []));
    const environment = options.environment ?? 'dev';
    const people = project.loadEnvironmentConfig(project.cdkJsonPath(options.cwd), environment);
    const config = RuntimeConfig.parse({
      environment,
      publicBaseUrl: 'http://127.0.0.1/',
      policy: people.policy,
      escalationTargets: people.escalationTargets,
      automation: people.automation,
    });
    const notifier = {
      send: async () => {
        throw new RunbookAutopilotError('the learning report sends nothing');
      },
    };
    const automation = new AutomationService({
      store,
      automation: new DynamoAutomationStore({
        client: database.client,
        tableName: database.tableName,
        retentionDays: 90,
      }),
      notifier,
      clock: systemClock,
      logger,
      config,
      runbooks: () => runbooks,
    });
    // The breakers as the platform left them (reading changes nothing).
    const breakers = new CircuitBreakerService({
      store,
      watch: new DynamoWatchStore({
        client: database.client,
        tableName: database.tableName,
        retentionDays: 90,
      }),
      notifier,
      clock: systemClock,
      logger,
      config,
      runbooks: () => runbooks,
    });
    const { DynamoFollowUps } = await import('../functions/adapters/aws/dynamo-follow-ups.ts');
    const followUps = new DynamoFollowUps({
      client: database.client,
      tableName: database.tableName,
      retentionDays: 90,
    });
    const learning = new LearningService({
      store,
      clock: systemClock,
      logger,
      automation,
      breakers,
      followUps,
    });
    return await learning.report(runbooks);
  } finally {
    await database.stop();
  }
}

function percent(value: number | undefined): string {
  return value === undefined ? '—' : `${(value * 100).toFixed(0)}%`;
}

/** The report for a terminal. */
export function formatLearningReport(report: LearningReport): string[] {
  const lines = [
    `Learning report (${report.generatedAt}): ${report.totals.executions} execution(s), ${report.totals.succeeded} succeeded`,
    '',
    'Design targets',
    ...report.targets.map(
      (target) =>
        `  ${target.met === undefined ? '·' : target.met ? '✓' : '✗'} ${target.target.padEnd(34)} ${target.measured.padEnd(24)} goal ${target.goal}`,
    ),
    '',
    'Runbooks',
    ...(report.runbooks.length === 0
      ? ['  no finished execution yet']
      : report.runbooks.map(
          (runbook) =>
            `  ${runbook.runbookId.padEnd(28)} ${String(runbook.executions).padStart(4)} runs  success ${percent(runbook.successRate).padStart(4)}  no human ${percent(runbook.executions ? runbook.withoutHuman / runbook.executions : undefined).padStart(4)}  rollbacks ${runbook.rollbacks}`,
        )),
  ];
  const automation = report.automation;
  if (automation) {
    const split = automation.involvement;
    const track = (name: string, runs: typeof automation.dryRuns.shadow) =>
      `  ${name.padEnd(8)} ${runs.runs} run(s): diagnostics ok ${runs.diagnosticsSucceeded}, would have changed ${runs.wouldHaveChanged}, dry-run changes ok ${runs.changesValidated}${name === 'shadow' ? `; cleared on its own ${runs.clearedOnItsOwn}, by a human ${runs.clearedByAHuman}, still firing ${runs.stillFiring}` : ''}`;
    lines.push(
      '',
      `Who had to step in (${split.realRuns} real run(s), ${automation.windowDays} days)`,
      `  a human acted    ${String(split.humanActed).padStart(4)}  ${percent(split.humanActedRate).padStart(4)}   (escalation, abort, rejection, manual fix, takeover)`,
      `  approval only    ${String(split.approvalOnly).padStart(4)}  ${percent(split.approvalOnlyRate).padStart(4)}`,
      `  no human         ${String(split.noHuman).padStart(4)}  ${percent(split.noHumanRate).padStart(4)}`,
      '',
      'Dry runs (never in a success rate)',
      track('shadow', automation.dryRuns.shadow),
      track('observe', automation.dryRuns.observe),
      `  environment dry runs: ${automation.dryRuns.environmentDryRuns}`,
      '',
      `Coverage: ${automation.coverage.taken} of ${automation.coverage.alertsSeen} new alert(s) taken by a runbook (${percent(automation.coverage.rate)}); ${automation.coverage.blocked} blocked, ${automation.coverage.unmatched} unmatched`,
      '',
      `Safety incidents: ${automation.safetyIncidents.length === 0 ? 'none' : automation.safetyIncidents.length}`,
      ...automation.safetyIncidents.map(
        (incident) => `  ${incident.at}  ${incident.kind}  ${incident.executionId}: ${incident.description}`,
      ),
      '',
      'Automation levels',
      ...automation.runbooks.map(
        (runbook) =>
          `  ${runbook.runbookId.padEnd(28)} ${runbook.effective.level.padEnd(10)} ${runbook.proposal ? `proposed: ${runbook.proposal.from} → ${runbook.proposal.to}` : (runbook.noProposal ?? '')}`,
      ),
    );
  }
  const open = report.circuitBreakers?.breakers.filter((breaker) => breaker.state === 'open') ?? [];
  if (report.circuitBreakers)
    lines.push(
      '',
      `Circuit breakers open: ${open.length === 0 ? 'none' : open.length}`,
      ...open.map(
        (breaker) => `  ${breaker.runbookId.padEnd(28)} since ${breaker.openedAt}: ${breaker.reason}`,
      ),
      ...(open.length > 0 ? ['  close one with: runbook breaker close <runbook> --by <you>'] : []),
    );
  if (report.unmatched.length > 0) {
    lines.push(
      '',
      'Alerts no runbook matched',
      ...report.unmatched.map(
        (alert) => `  ${alert.source}/${alert.name}: ${alert.count} time(s), last ${alert.lastSeenAt}`,
      ),
    );
  }
  const patterns = report.runbooks.flatMap((runbook) =>
    (runbook.failurePatterns ?? []).map((pattern) => ({ runbookId: runbook.runbookId, ...pattern })),
  );
  if (patterns.length > 0)
    lines.push(
      '',
      'Failure patterns (step × error × resource labels; support: runs that show it; confidence: of the runs on those labels)',
      ...patterns.map(
        (pattern) =>
          `  ${pattern.runbookId}/${pattern.stepId}  ${pattern.errorClass}  on ${
            Object.keys(pattern.labels).length === 0
              ? 'any resource'
              : Object.entries(pattern.labels)
                  .map(([name, value]) => `${name}=${value}`)
                  .join(', ')
          }: ${pattern.support} of ${pattern.runs} runs (${percent(pattern.confidence)})`,
      ),
    );
  const factors = report.runbooks.flatMap((runbook) =>
    (runbook.successFactors ?? []).map((factor) => ({ runbookId: runbook.runbookId, ...factor })),
  );
  if (factors.length > 0)
    lines.push(
      '',
      'Success factors (recorded outputs that go with success; support: runs with it)',
      ...factors.map(
        (factor) =>
          `  ${factor.runbookId}  ${factor.fact} ${describeFactorCondition(factor)}: succeeded ${factor.succeeded} of ${factor.support} (${percent(factor.successRate)}; all runs that recorded it ${percent(factor.baselineSuccessRate)})`,
      ),
    );
  lines.push(...insightLines(report), ...feedbackLines(report));
  if (report.suggestions.length > 0)
    lines.push('', 'Suggestions', ...report.suggestions.map((suggestion) => `  - ${suggestion}`));
  lines.push('', 'Changes to the runbooks, each a diff with its evidence: runbook learn suggest [ID]');
  return lines;
}

/** askForFeedback answers per runbook, and per step where the answer named one. */
function feedbackLines(report: LearningReport): string[] {
  const answered = report.runbooks.flatMap((runbook) =>
    runbook.feedback ? [{ runbookId: runbook.runbookId, ...runbook.feedback }] : [],
  );
  if (answered.length === 0) return [];
  return [
    '',
    'Feedback (askForFeedback; runs marked not helpful count as no verified resolution)',
    ...answered.flatMap((runbook) => [
      `  ${runbook.runbookId.padEnd(28)} helpful ${runbook.helpful}  not helpful ${runbook.notHelpful}  (${runbook.executions} run(s) answered, ${runbook.markedNotHelpful} marked not helpful)`,
      ...Object.entries(runbook.bySteps).map(
        ([stepId, counts]) => `    ${stepId}: helpful ${counts.helpful}, not helpful ${counts.notHelpful}`,
      ),
    ]),
  ];
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1_000).toFixed(1)} s` : `${Math.round(ms / 1_000)} s`;
}

/** Step effectiveness (most decisive first) and, per alert signature, what the next run will likely do. */
function insightLines(report: LearningReport): string[] {
  const lines: string[] = [];
  const withInsights = report.runbooks.flatMap((runbook) =>
    runbook.insights ? [{ runbookId: runbook.runbookId, ...runbook.insights }] : [],
  );
  const diagnostics = withInsights.flatMap(({ runbookId, effectiveness }) =>
    effectiveness.diagnostics.map(
      (step) =>
        `  ${runbookId}/${step.stepId}  decided ${step.decided} of ${step.runs - step.undetermined} (${percent(step.decisionRate)})  failed ${percent(step.failureRate)}${step.durationMs ? `  p50 ${seconds(step.durationMs.p50)}, p90 ${seconds(step.durationMs.p90)}, p99 ${seconds(step.durationMs.p99)}` : ''}`,
    ),
  );
  if (diagnostics.length > 0)
    lines.push(
      '',
      'Diagnostics, most decisive first (decided: runs whose branch its output chose)',
      ...diagnostics,
    );
  const remediations = withInsights.flatMap(({ runbookId, effectiveness }) =>
    effectiveness.remediations.map(
      (step) =>
        `  ${runbookId}/${step.stepId}  followed by a verified resolution in ${step.resolved} of ${step.runs} (${percent(step.resolutionRate)})${Object.entries(
          step.bySignature,
        )
          .map(([signature, count]) => `; ${signature} ${count.resolved} of ${count.runs}`)
          .join('')}`,
    ),
  );
  if (remediations.length > 0) lines.push('', 'Remediations', ...remediations);
  const predictions = withInsights.flatMap(({ runbookId, predictions }) =>
    predictions.flatMap(({ signature, run, steps }) => [
      `  ${runbookId}  ${signature}: resolves ${percent(run.success.probability)} (${percent(run.success.interval.low)}–${percent(run.success.interval.high)}), from ${run.success.runs} run(s)`,
      ...steps
        .filter((step) => step.success.likely === 'failure')
        .map(
          (step) =>
            `    ${step.stepId} likely fails: works ${percent(step.success.probability)} (${percent(step.success.interval.low)}–${percent(step.success.interval.high)}); ${step.basis}`,
        ),
    ]),
  );
  if (predictions.length > 0)
    lines.push('', 'Predictions for the next run, per alert signature (90% intervals)', ...predictions);
  return lines;
}

/**
 * `runbook learn recompute [RUNBOOK]`: the repair path of the incremental aggregate. Each runbook's
 * learning fold and aggregate are rebuilt from every record of the window: by the running server
 * (`POST /api/learning/recompute/:runbook`), or in the data directory when no server runs.
 */
export async function recomputeLearning(options: {
  url: string;
  dataDir: string;
  token?: string;
  runbooksDir: string;
  cwd: string;
  runbookId?: string;
}): Promise<Array<{ runbookId: string; executions: number }>> {
  const [files, tools, project] = await Promise.all([
    import('./runbook-files.ts'),
    import('../functions/tools/declarations.ts'),
    import('./project.ts'),
  ]);
  const runbooks = files
    .validateRunbookFiles(files.listRunbookFiles([options.runbooksDir]).files, {
      tools: tools.TOOL_CATALOG,
      policies: project.loadPolicies(project.cdkJsonPath(options.cwd)),
    })
    .flatMap((result) => (result.runbook ? [result.runbook] : []));
  const ids = options.runbookId ? [options.runbookId] : runbooks.map((runbook) => runbook.id);
  if (options.runbookId && !runbooks.some((runbook) => runbook.id === options.runbookId))
    throw new RunbookAutopilotError(
      `no runbook "${options.runbookId}" in ${options.runbooksDir}: give the id of a runbook there (or --runbooks DIR)`,
    );
  let server = true;
  const results: Array<{ runbookId: string; executions: number }> = [];
  for (const runbookId of ids) {
    try {
      const response = await fetch(
        new URL(`api/learning/recompute/${encodeURIComponent(runbookId)}`, options.url),
        {
          method: 'POST',
          headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
          signal: AbortSignal.timeout(60_000),
        },
      );
      if (response.status === 401)
        throw new RunbookAutopilotError(`the server at ${options.url} needs --token`);
      if (!response.ok)
        throw new RunbookAutopilotError(
          `the server at ${options.url} answered ${response.status} for ${runbookId}: ${(await response.text()).slice(0, 300)}`,
        );
      const body = (await response.json()) as { aggregate: { executions: number } | null };
      results.push({ runbookId, executions: body.aggregate?.executions ?? 0 });
    } catch (error) {
      if (error instanceof RunbookAutopilotError) throw error;
      server = false;
      break;
    }
  }
  if (server) return results;
  if (!existsSync(join(options.dataDir, 'dynamodb')))
    throw new RunbookAutopilotError(
      `no server at ${options.url} and no data in ${options.dataDir}: run npm start first`,
    );
  const [
    { startLocalDatabase },
    { DynamoStore },
    { DynamoLearningFolds },
    { LearningService },
    { systemClock },
  ] = await Promise.all([
    import('../functions/adapters/local/database.ts'),
    import('../functions/adapters/aws/dynamo-store.ts'),
    import('../functions/adapters/aws/dynamo-learning-folds.ts'),
    import('../functions/core/services/learning.ts'),
    import('../functions/ports/clock.ts'),
  ]);
  const database = await startLocalDatabase({ path: join(options.dataDir, 'dynamodb') });
  try {
    const table = { client: database.client, tableName: database.tableName, retentionDays: 90 };
    const learning = new LearningService({
      store: new DynamoStore(table),
      clock: systemClock,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      runbooks: () => runbooks,
      folds: new DynamoLearningFolds(table),
    });
    const recomputed: Array<{ runbookId: string; executions: number }> = [];
    for (const runbookId of ids) {
      await learning.recompute(runbookId);
      recomputed.push({ runbookId, executions: (await learning.aggregate(runbookId))?.executions ?? 0 });
    }
    return recomputed;
  } finally {
    await database.stop();
  }
}

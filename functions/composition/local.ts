import '../adapters/local/polyfills.ts';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { DynamoAuditTrail } from '../adapters/aws/dynamo-audit-trail.ts';
import { DynamoAutomationStore } from '../adapters/aws/dynamo-automation-store.ts';
import { DynamoChangeLocks } from '../adapters/aws/dynamo-change-locks.ts';
import { DynamoControlLinkUses } from '../adapters/aws/dynamo-control-link-uses.ts';
import { DynamoFollowUps } from '../adapters/aws/dynamo-follow-ups.ts';
import { DynamoLearningFolds } from '../adapters/aws/dynamo-learning-folds.ts';
import { DynamoLimitStore } from '../adapters/aws/dynamo-limits.ts';
import { DynamoRollbackStore } from '../adapters/aws/dynamo-rollbacks.ts';
import { DynamoStore } from '../adapters/aws/dynamo-store.ts';
import { DynamoWatchStore } from '../adapters/aws/dynamo-watch.ts';
import { AlertsFirst } from '../adapters/local/alerts-first.ts';
import { startLocalDatabase } from '../adapters/local/database.ts';
import { type EventEnvelope, LocalEventBus } from '../adapters/local/local-bus.ts';
import {
  type EngineEvent,
  LocalExecutionEngine,
  type StatusChangeDetail,
} from '../adapters/local/local-engine.ts';
import { OutboxNotifier } from '../adapters/local/outbox-notifier.ts';
import { changeEventOf, recordAudit } from '../core/audit/record.ts';
import { AutomationApprovalGate } from '../core/automation/approval-gate.ts';
import { AutomationService, type LevelChangeListener } from '../core/automation/service.ts';
import { normalizeOptions } from '../core/classifier/normalize.ts';
import { RunbookSelector } from '../core/classifier/select.ts';
import type { StateMachineDefinition } from '../core/compiler/asl.ts';
import { RuntimeConfig } from '../core/config.ts';
import { AslErrorName } from '../core/errors.ts';
import { ChangeGate } from '../core/limits/change-gate.ts';
import type { Notification, StepOutcome } from '../core/records.ts';
import { RiskApprovals } from '../core/risk/approvals.ts';
import { RiskAssessor } from '../core/risk/assessor.ts';
import { RiskCheckpoint } from '../core/risk/checkpoint.ts';
import { ROLLBACK_MACHINE_ID, rollbackStateMachine } from '../core/rollback/machine.ts';
import { routeRules } from '../core/routing.ts';
import type { Runbook } from '../core/runbook/model.ts';
import { resolveTemplates } from '../core/runbook/templates.ts';
import { ApprovalService } from '../core/services/approvals.ts';
import { CheckpointService } from '../core/services/checkpoint.ts';
import { ClassifierService } from '../core/services/classifier.ts';
import { ControlService, type InterruptedChanges } from '../core/services/control.ts';
import { ControlLinkService } from '../core/services/control-links.ts';
import { DeferredAlerts } from '../core/services/deferred-alerts.ts';
import { EscalationService } from '../core/services/escalation.ts';
import { ExplainService } from '../core/services/explain.ts';
import { FollowUpService } from '../core/services/follow-up.ts';
import { IncidentReportService } from '../core/services/incident-report.ts';
import { LearningService } from '../core/services/learning.ts';
import { ManualStartService } from '../core/services/manual-start.ts';
import { RecordService } from '../core/services/record.ts';
import { RollbackService } from '../core/services/rollback.ts';
import { StepRunner } from '../core/services/step-runner.ts';
import { CircuitBreakerService } from '../core/watch/circuit-breaker.ts';
import { HealthWatcher } from '../core/watch/health-watch.ts';
import { StuckStepWatchdog } from '../core/watch/stuck-step.ts';
import { createApprovalRequestHandler } from '../handlers/approval-request.ts';
import { createApprovalWebHandler } from '../handlers/approval-web.ts';
import { createClassifierHandler } from '../handlers/classifier.ts';
import { createControlHandler } from '../handlers/control.ts';
import { createIngestHandler } from '../handlers/ingest.ts';
import { createLearningRecorderHandler } from '../handlers/learning-recorder.ts';
import { createStepRunnerHandler } from '../handlers/step-runner.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import { fixedLinkSigningKeys } from '../ports/link-signing-keys.ts';
import type { Logger } from '../ports/logger.ts';
import { TOOL_CATALOG } from '../tools/declarations.ts';
import { createToolRegistry, type ToolRegistryOptions } from '../tools/index.ts';
import { describeWithSdk, EksAccess } from '../tools/kubernetes/eks.ts';
import { checkWaitScale } from '../tools/wait.ts';

/**
 * The embedded platform's wiring: the only module that builds local adapters. dynalite (on disk, in
 * the data directory) is the DynamoDB; aws-local-stepfunctions runs the compiled machines; the
 * notifier writes an outbox; the bus routes with the rules infra deploys. Handlers and services are the
 * same code as on AWS.
 */

export interface LocalPlatformOptions {
  dataDir: string;
  /** Keep the database in memory (tests). */
  inMemory?: boolean;
  /** Where the server is reachable, for approval links. */
  publicBaseUrl: string;
  /** Require this bearer token on webhooks and the API. */
  token?: string;
  /** The server's CSRF token, put in the approval page's form (the local server checks it). */
  formToken?: string;
  config: Omit<RuntimeConfig, 'publicBaseUrl'> | RuntimeConfig;
  runbooks: () => Runbook[];
  definitions: (runbookId: string) => StateMachineDefinition | undefined;
  logger: Logger;
  clock?: Clock;
  onEngineEvent?: (event: EngineEvent) => void;
  onNotification?: (notification: Notification) => void;
  retryIntervalMs?: number;
  kubeConfigFactory?: () => KubeConfig;
  /** Shortens runbook.wait (0 < scale ≤ 1): the demo's simulated environment settles faster. Local only. */
  waitScale?: number;
  /** AWS client endpoints and credentials (the demo points every service at its simulated environment). */
  aws?: ToolRegistryOptions['aws'];
  /** How often approval reminders are due-checked (AWS: every minute); default 15 s. */
  reminderIntervalMs?: number;
  /** How often alerts deferred behind an expired change lock are looked for (default every minute, as on AWS). */
  deferredSweepIntervalMs?: number;
  /** Where automation level changes go besides their history (the audit trail, when it is wired). */
  onLevelChange?: LevelChangeListener;
}

/** The link-signing key: made once, kept in the data directory (mode 600), never in code or config. */
function signingKey(dataDir: string, inMemory: boolean): Buffer {
  if (inMemory) return randomBytes(32);
  const file = join(dataDir, 'secrets.json');
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { linkSigningKey?: string };
    if (parsed.linkSigningKey) return Buffer.from(parsed.linkSigningKey, 'base64');
  }
  const key = randomBytes(32);
  writeFileSync(file, JSON.stringify({ linkSigningKey: key.toString('base64') }), { mode: 0o600 });
  chmodSync(file, 0o600);
  return key;
}

export async function createLocalPlatform(options: LocalPlatformOptions) {
  const inMemory = options.inMemory ?? false;
  mkdirSync(options.dataDir, { recursive: true });
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const config = RuntimeConfig.parse({
    // Executions are shown on this server's dashboard.
    executionLinkTemplate: new URL('executions/{executionId}', options.publicBaseUrl)
      .toString()
      .replace(/%7B(\w+)%7D/g, '{$1}'),
    ...options.config,
    publicBaseUrl: options.publicBaseUrl,
  });
  const database = await startLocalDatabase(inMemory ? {} : { path: join(options.dataDir, 'dynamodb') });
  const store = new DynamoStore({
    client: database.client,
    tableName: database.tableName,
    retentionDays: config.retentionDays,
    clock,
  });
  const notifier = new OutboxNotifier(store, options.onNotification);
  const audit = new DynamoAuditTrail({
    client: database.client,
    tableName: database.tableName,
    retentionDays: config.auditRetentionDays,
    clock,
  });
  const limits = new DynamoLimitStore({
    client: database.client,
    tableName: database.tableName,
    retentionDays: config.retentionDays,
  });
  const risk = new RiskAssessor({ store, limits, clock, config, tools: TOOL_CATALOG });
  const changeLocks = new DynamoChangeLocks({ client: database.client, tableName: database.tableName });

  // The engine calls the handlers, and the handlers need the engine: bind through these late references.
  const taskHandlers: {
    stepRunner?: (event: unknown) => Promise<unknown>;
    approvalRequest?: (event: unknown) => Promise<unknown>;
  } = {};
  const targets: {
    classifier?: (event: EventEnvelope) => Promise<unknown>;
    learning?: (event: EventEnvelope) => Promise<unknown>;
  } = {};
  const bus = new LocalEventBus(
    routeRules(),
    {
      classifier: (event) => targets.classifier!(event),
      'learning-recorder': (event) => targets.learning!(event),
    },
    { clock, logger },
  );
  const statusChange = async (detail: StatusChangeDetail) => {
    await bus.deliver({
      ...bus.envelope({
        source: 'aws.states',
        detailType: 'Step Functions Execution Status Change',
        detail: { ...detail },
      }),
      resources: [detail.executionArn],
    });
  };
  // The rollback machine is the platform's own, next to the runbooks' machines.
  const rollbackMachine = rollbackStateMachine();
  const engine = new LocalExecutionEngine({
    definitions: (id) => (id === ROLLBACK_MACHINE_ID ? rollbackMachine : options.definitions(id)),
    handlers: {
      stepRunner: (event) => taskHandlers.stepRunner!(event),
      approvalRequest: (event) => taskHandlers.approvalRequest!(event),
    },
    dataDir: options.dataDir,
    clock,
    logger,
    ...(options.onEngineEvent ? { onEvent: options.onEngineEvent } : {}),
    onStatusChange: statusChange,
    // Attempts the stopped process left running ended with it: the detail says interrupted, not running.
    onRecovering: async (executionId) => {
      const latest = new Map<string, StepOutcome>();
      for (const outcome of await store.listStepOutcomes(executionId))
        latest.set(`${outcome.kind}:${outcome.stepId}`, outcome);
      const at = clock.now().toISOString();
      const execution = await store.getExecution(executionId);
      for (const outcome of latest.values()) {
        if (outcome.status !== 'running') continue;
        const interrupted: StepOutcome = {
          ...outcome,
          status: 'interrupted',
          finishedAt: at,
          durationMs: Math.max(0, Date.parse(at) - Date.parse(outcome.startedAt)),
          error: {
            name: AslErrorName.Interrupted,
            message: `the platform stopped while this attempt ran (found at the restart, ${at})`,
          },
        };
        await store.putStepOutcome(interrupted);
        // A change the stop cut short ends in the trail too, so its start is never left open there.
        const event = execution && changeEventOf(interrupted, execution);
        if (event) await recordAudit(audit, clock, event);
      }
    },
    onInterrupted: async (executionId, reason) => {
      const execution = await store.getExecution(executionId);
      if (execution)
        await store.updateExecution(executionId, {
          status: 'interrupted',
          currentState: `interrupted: ${reason}`,
        });
    },
    ...(options.retryIntervalMs === undefined ? {} : { retryIntervalMs: options.retryIntervalMs }),
    ...(options.waitScale === undefined ? {} : { waitScale: checkWaitScale(options.waitScale) }),
  });

  const common = { store, engine, clock, logger, audit };
  // Likely causes and predictions for the approval page, its e-mail and the execution detail.
  const explain = new ExplainService({ store, clock, logger, runbooks: options.runbooks });
  const signingKeys = fixedLinkSigningKeys(signingKey(options.dataDir, inMemory));
  // Checkpoints ask for approvals (the risk policy's, the approve level's) through the approval
  // service, built below once the signed pause/abort links it sends exist (they act through control,
  // which releases checkpoints): the calls are made at run time, after all of it is built.
  const checkpoints = new CheckpointService({
    ...common,
    changeLocks,
    riskGate: new RiskCheckpoint({
      store,
      limits,
      risk,
      requester: { request: (payload): Promise<unknown> => riskApprovals.request(payload) },
      tools: TOOL_CATALOG,
      clock,
      logger,
    }),
    automation: new AutomationApprovalGate({
      store,
      approvals: {
        request: (payload): ReturnType<ApprovalService['request']> => approvals.request(payload),
      },
      config,
      runbooks: options.runbooks,
      // A tool this catalog does not know is treated as a change: asked about rather than let through.
      isMutating: (tool) => TOOL_CATALOG.get(tool)?.mutating ?? true,
      logger,
    }),
  });
  // Bound once the tools exist (below): an operator resuming an interrupted change sees its target.
  let inspectTarget: InterruptedChanges['inspect'];
  const control = new ControlService({
    ...common,
    checkpoints,
    explain,
    interruptedChanges: {
      repeats: (tool) => {
        const declared = TOOL_CATALOG.get(tool)?.onRepeat;
        return {
          repeats: declared?.effect !== 'no-op',
          how: declared?.how ?? `${tool} does not say what running it again does`,
        };
      },
      inspect: (tool, parameters, execution) => inspectTarget!(tool, parameters, execution),
    },
  });
  const controlLinks = new ControlLinkService({
    control,
    store,
    uses: new DynamoControlLinkUses({ client: database.client, tableName: database.tableName }),
    signingKeys,
    clock,
    logger,
    config,
  });
  const approvals = new ApprovalService({
    ...common,
    notifier,
    config,
    signingKeys,
    controlLinks,
    risk,
    explain,
  });
  // The risk policy's approvals go where approvals go.
  const riskApprovals = new RiskApprovals({ approvals, config, store, engine, clock, logger });
  const automationStore = new DynamoAutomationStore({
    client: database.client,
    tableName: database.tableName,
    retentionDays: config.retentionDays,
  });
  const automation = new AutomationService({
    store,
    automation: automationStore,
    notifier,
    clock,
    logger,
    config,
    runbooks: options.runbooks,
    audit,
    ...(options.onLevelChange ? { onLevelChange: options.onLevelChange } : {}),
  });
  const escalations = new EscalationService({ notifier, clock, logger, config, audit, controlLinks });
  const records = new RecordService({ store, clock, logger, audit, changeLocks });
  const rollbacks = new RollbackService({
    ...common,
    rollbacks: new DynamoRollbackStore({
      client: database.client,
      tableName: database.tableName,
      retentionDays: config.retentionDays,
    }),
    notifier,
    config,
    runbooks: options.runbooks,
    tools: TOOL_CATALOG,
  });
  const watch = new DynamoWatchStore({
    client: database.client,
    tableName: database.tableName,
    retentionDays: config.retentionDays,
  });
  const breakers = new CircuitBreakerService({
    store,
    watch,
    notifier,
    clock,
    logger,
    config,
    runbooks: options.runbooks,
    audit,
  });
  const followUps = new DynamoFollowUps({
    client: database.client,
    tableName: database.tableName,
    retentionDays: config.retentionDays,
  });
  const reports = new IncidentReportService({
    store,
    audit,
    followUps,
    runbooks: options.runbooks,
    config,
    clock,
  });
  const followUp = new FollowUpService({
    store,
    followUps,
    reports,
    notifier,
    signingKeys,
    clock,
    logger,
    config,
    runbooks: options.runbooks,
  });
  const deferredAlerts = new DeferredAlerts({ changeLocks, store, bus, clock, logger });
  const learning = new LearningService({
    store,
    clock,
    logger,
    audit,
    automation,
    rollbacks,
    breakers,
    // With the runbook, aggregates count how often each step decided (reorderable phases read it).
    runbooks: () => options.runbooks(),
    followUps,
    finalNotice: followUp,
    folds: new DynamoLearningFolds({
      client: database.client,
      tableName: database.tableName,
      retentionDays: config.retentionDays,
    }),
    // Through the bus, as on AWS: the classifier's rule takes the re-sent alert.
    deferredAlerts,
  });
  const tools = createToolRegistry(
    { runtime: 'local', config, clock, notifier, fetch: globalThis.fetch },
    {
      ...(options.kubeConfigFactory ? { kubeConfigFactory: options.kubeConfigFactory } : {}),
      ...(options.waitScale === undefined ? {} : { waitScale: options.waitScale }),
      ...(options.aws ? { aws: options.aws } : {}),
      // EKS clusters in tools.kubernetes.eks are reached with your AWS credentials, as on Lambda.
      eksAccess: (() => {
        const credentials = options.aws?.credentials
          ? async () => ({ ...options.aws!.credentials! })
          : defaultProvider();
        return new EksAccess({
          credentials,
          defaultRegion: () => config.tools.defaultRegion ?? process.env.AWS_REGION,
          describe: describeWithSdk({ credentials }),
        });
      })(),
    },
  );
  inspectTarget = async (tool, parameters, execution) => {
    const inspector = TOOL_CATALOG.get(tool)?.inspectWith;
    const reader = inspector ? tools.get(inspector.tool) : undefined;
    if (!inspector || !reader)
      return { unavailable: `${tool} has no read-only tool to show its target; check it by hand` };
    try {
      const resolved = resolveTemplates(inspector.parameters, { parameters });
      // Where the change acted: its region carries over, as to a compensation.
      if (parameters.region !== undefined) resolved.region = parameters.region;
      const state = await reader.run(
        reader.declaration.parameters.parse(resolved) as Record<string, unknown>,
        {
          signal: AbortSignal.timeout(15_000),
          dryRun: false,
          execution: {
            id: execution.id,
            runbookId: execution.runbookId,
            runbookVersion: execution.runbookVersion,
            incidentId: execution.incidentId,
            environment: execution.environment,
            dryRun: execution.dryRun,
            approvalRiskThreshold: 0,
            changeFreeze: false,
            startedAt: execution.startedAt,
          },
          deadline: Date.now() + 15_000,
          change: { key: 'inspect', since: clock.now().toISOString(), repeat: false },
          log: (message, data) =>
            logger.info(message, { ...data, executionId: execution.id, tool: inspector.tool }),
        },
      );
      return { tool: inspector.tool, state };
    } catch (error) {
      return { unavailable: `${inspector.tool} could not read the target: ${(error as Error).message}` };
    }
  };
  const runner = new StepRunner({
    ...common,
    tools,
    config,
    checkpoints,
    approvals,
    escalations,
    records,
    automation,
    changeGate: new ChangeGate({ store, limits, risk, clock, logger, config }),
    rollbacks,
    health: new HealthWatcher({ store, watch, tools, clock, logger, audit, automation }),
    stuckSteps: new StuckStepWatchdog({ store, watch, notifier, clock, logger, config, audit, controlLinks }),
    // A local database read costs nothing: an abort reaches a running tool within a quarter second
    // (on AWS every 2 s, a DynamoDB read per running step).
    abortPollMs: 250,
    ...(options.waitScale === undefined ? {} : { waitScale: options.waitScale }),
  });
  let selector = new RunbookSelector(options.runbooks());
  const classifier = new ClassifierService({
    ...common,
    notifier,
    config,
    automation,
    risk,
    breakers,
    changeLocks,
    tools: TOOL_CATALOG,
    get selector() {
      return selector;
    },
  } as ConstructorParameters<typeof ClassifierService>[0]);
  const manualStarts = new ManualStartService({ classifier, runbooks: options.runbooks, clock, config });
  const normalize = normalizeOptions(config);
  const localContext = {} as never;

  const handlers = {
    stepRunner: createStepRunnerHandler({ runner, logger }),
    approvalRequest: createApprovalRequestHandler({ approvals, riskApprovals, logger }),
    approvalWeb: createApprovalWebHandler({
      approvals,
      logger,
      ...(options.formToken ? { formToken: options.formToken } : {}),
      controlLinks,
      followUp,
    }),
    classifier: createClassifierHandler({ classifier, normalize, logger }),
    learningRecorder: createLearningRecorderHandler({ learning, logger, deferredAlerts }),
    ingest: createIngestHandler({ bus, normalize, auth: () => ({ token: options.token }), clock, logger }),
    control: createControlHandler({
      control,
      learning,
      audit,
      runbooks: options.runbooks,
      logger,
      automation,
      ...(options.token ? { token: options.token } : {}),
      manualStarts,
      rollbacks,
      approvals,
      breakers,
      reports,
    }),
  };
  const alertsFirst = new AlertsFirst();
  // Work in flight, so stopping waits for it before closing the database under it.
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    inFlight.add(work);
    void work.then(
      () => inFlight.delete(work),
      () => inFlight.delete(work),
    );
    return work;
  };
  // A new alert's decision goes before earlier executions' next steps and learning folds.
  taskHandlers.stepRunner = (event) =>
    track(alertsFirst.background(() => handlers.stepRunner(event, localContext)));
  taskHandlers.approvalRequest = (event) =>
    track(alertsFirst.background(() => handlers.approvalRequest(event, localContext)));
  targets.classifier = (event) => track(alertsFirst.alert(() => handlers.classifier(event, localContext)));
  targets.learning = (event) =>
    track(alertsFirst.background(() => handlers.learningRecorder(event, localContext)));

  // The approval reminder schedule: the same event EventBridge sends the approval-request function.
  let reminding: Promise<unknown> | undefined;
  const reminders = setInterval(() => {
    if (reminding) return;
    const event = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
    reminding = track(handlers.approvalRequest(event, localContext))
      .catch((error: unknown) =>
        logger.error('approval reminders failed', { error: (error as Error).message }),
      )
      .finally(() => {
        reminding = undefined;
      });
  }, options.reminderIntervalMs ?? 15_000);
  reminders.unref();

  // The deferred-alert sweep: the same schedule event EventBridge sends the learning recorder on AWS.
  let sweeping: Promise<unknown> | undefined;
  const sweeps = setInterval(() => {
    if (sweeping) return;
    const event = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
    sweeping = track(handlers.learningRecorder(event, localContext))
      .catch((error: unknown) =>
        logger.error('deferred-alert sweep failed', { error: (error as Error).message }),
      )
      .finally(() => {
        sweeping = undefined;
      });
  }, options.deferredSweepIntervalMs ?? 60_000);
  sweeps.unref();

  return {
    config,
    /** Alerts being classified go before running executions' next steps (benchmarks read its count). */
    alertsFirst,
    /** The dynalite behind every store (benchmarks count the commands sent to it). */
    database,
    store,
    audit,
    automationStore,
    followUps,
    limits,
    watch,
    engine,
    bus,
    notifier,
    handlers,
    services: {
      checkpoints,
      approvals,
      escalations,
      records,
      learning,
      control,
      classifier,
      runner,
      automation,
      controlLinks,
      manualStarts,
      rollbacks,
      breakers,
      reports,
      followUp,
    },
    /** Runbooks changed on disk: select among the new set from now on. */
    reloadRunbooks() {
      selector = new RunbookSelector(options.runbooks());
    },
    async stop() {
      clearInterval(reminders);
      clearInterval(sweeps);
      await engine.shutdown();
      // Running tools are stopped through their abort signal; steps get up to five seconds to record
      // how they ended (a tool that ignores its signal is abandoned).
      await runner.shutdown();
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
      ]);
      await database.stop();
    },
  };
}

export type LocalPlatform = Awaited<ReturnType<typeof createLocalPlatform>>;

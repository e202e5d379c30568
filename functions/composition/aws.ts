import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
import { EventBridgeBus } from '../adapters/aws/eventbridge-bus.ts';
import {
  LambdaApprovalRequester,
  requestApprovalThrough,
} from '../adapters/aws/lambda-approval-requester.ts';
import {
  SECRET_MAX_AGE_SECONDS,
  SecretsManagerLinkSigningKeys,
} from '../adapters/aws/secrets-manager-link-keys.ts';
import { SfnExecutionEngine } from '../adapters/aws/sfn-engine.ts';
import { SnsNotifier } from '../adapters/aws/sns-notifier.ts';
import { ApiAuthConfig } from '../core/api-access.ts';
import { AutomationApprovalGate } from '../core/automation/approval-gate.ts';
import { AutomationService } from '../core/automation/service.ts';
import { normalizeOptions } from '../core/classifier/normalize.ts';
import { RunbookSelector } from '../core/classifier/select.ts';
import { RuntimeConfig } from '../core/config.ts';
import { ConfigurationError } from '../core/errors.ts';
import { RiskApprovals } from '../core/risk/approvals.ts';
import { RiskAssessor } from '../core/risk/assessor.ts';
import { RiskCheckpoint } from '../core/risk/checkpoint.ts';
import { CATALOG_FILE, parseRunbookCatalog } from '../core/runbook/catalog.ts';
import { ApprovalService } from '../core/services/approvals.ts';
import { CheckpointService } from '../core/services/checkpoint.ts';
import { ClassifierService } from '../core/services/classifier.ts';
import { ControlService } from '../core/services/control.ts';
import { ControlLinkService } from '../core/services/control-links.ts';
import { DeferredAlerts } from '../core/services/deferred-alerts.ts';
import { ExplainService } from '../core/services/explain.ts';
import { FollowUpService } from '../core/services/follow-up.ts';
import { IncidentReportService } from '../core/services/incident-report.ts';
import { LearningService } from '../core/services/learning.ts';
import { ManualStartService } from '../core/services/manual-start.ts';
import { RollbackService } from '../core/services/rollback.ts';
import { CircuitBreakerService } from '../core/watch/circuit-breaker.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { LinkSigningKeys } from '../ports/link-signing-keys.ts';
import type { Logger } from '../ports/logger.ts';
import { TOOL_CATALOG } from '../tools/declarations.ts';

/**
 * The AWS runtime's wiring: the only module that builds AWS adapters. Everything is built on first use
 * (importing a handler constructs no client), once per Lambda container.
 *
 * Environment (set by infra):
 *   TABLE_NAME, EVENT_BUS_NAME, APPROVALS_TOPIC_ARN, ESCALATIONS_TOPIC_ARN,
 *   STATE_MACHINE_ARN_PREFIX (…:stateMachine:<prefix>, the runbook id is appended),
 *   APPROVAL_REQUEST_FUNCTION_NAME (the step runners: checkpoints ask it for the risk policy's approvals),
 *   LINK_SIGNING_KEY_SECRET, INGEST_TOKEN_SECRET (Secrets Manager names; values never in the template;
 *   the read-only step runner has the first, so its stuck-step and escalation messages carry signed links,
 *   and the learning recorder, so the final notification carries signed report and feedback links),
 *   RUNBOOK_AUTOPILOT_CONFIG (RuntimeConfig JSON, no secrets).
 */

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new ConfigurationError(
      `environment variable ${name} is not set; the function's infrastructure must set it`,
    );
  return value;
}

export function once<T>(build: () => T): () => T {
  let value: { built: T } | undefined;
  return () => {
    value ??= { built: build() };
    return value.built;
  };
}

export const config = /* @__PURE__ */ once((): RuntimeConfig => {
  let json: unknown;
  try {
    json = JSON.parse(required('RUNBOOK_AUTOPILOT_CONFIG'));
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError(`RUNBOOK_AUTOPILOT_CONFIG is not JSON: ${(error as Error).message}`);
  }
  const parsed = RuntimeConfig.safeParse(json);
  if (!parsed.success) {
    throw new ConfigurationError(
      `RUNBOOK_AUTOPILOT_CONFIG: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  }
  return parsed.data;
});

export const logger = /* @__PURE__ */ once(
  (): Logger & PowertoolsLogger =>
    new PowertoolsLogger({ serviceName: 'runbook-autopilot' }) as Logger & PowertoolsLogger,
);

export const clock: Clock = systemClock;

const documentClient = /* @__PURE__ */ once(() =>
  DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
);

export const store = /* @__PURE__ */ once(
  () =>
    new DynamoStore({
      client: documentClient(),
      tableName: required('TABLE_NAME'),
      retentionDays: config().retentionDays,
      clock,
    }),
);

/** The audit trail: append-only items in the same table, kept for the environment's audit retention. */
export const audit = /* @__PURE__ */ once(
  () =>
    new DynamoAuditTrail({
      client: documentClient(),
      tableName: required('TABLE_NAME'),
      retentionDays: config().auditRetentionDays,
      clock,
    }),
);

/**
 * Graduated automation (levels, evidence, demotion, safety incidents, coverage). Level changes go to
 * their history and to the audit trail.
 */
export const automation = /* @__PURE__ */ once(
  () =>
    new AutomationService({
      store: store(),
      automation: new DynamoAutomationStore({
        client: documentClient(),
        tableName: required('TABLE_NAME'),
        retentionDays: config().retentionDays,
      }),
      // Built when a level change is first announced: reading levels needs no topic.
      notifier: { send: (notification) => notifier().send(notification) },
      clock,
      logger: logger(),
      config: config(),
      runbooks: () => runbooks(),
      audit: audit(),
    }),
);

/** Change budgets, changes per resource and risk assessments: the same table, their own items. */
export const limits = /* @__PURE__ */ once(
  () =>
    new DynamoLimitStore({
      client: documentClient(),
      tableName: required('TABLE_NAME'),
      retentionDays: config().retentionDays,
    }),
);

/** Per-resource change locks and the alerts deferred behind them: the same table, their own items. */
export const changeLocks = /* @__PURE__ */ once(
  () => new DynamoChangeLocks({ client: documentClient(), tableName: required('TABLE_NAME') }),
);

/** Health baselines, stuck-step claims and circuit breakers: the same table, their own items. */
export const watchStore = /* @__PURE__ */ once(
  () =>
    new DynamoWatchStore({
      client: documentClient(),
      tableName: required('TABLE_NAME'),
      retentionDays: config().retentionDays,
    }),
);

/**
 * Circuit breakers: opened by the learning recorder, checked by the classifier, closed through the
 * control API. Opening and closing are told through the escalations topic.
 */
const breakers = /* @__PURE__ */ once(
  () =>
    new CircuitBreakerService({
      store: store(),
      watch: watchStore(),
      // Built when a breaker first changes: checking one needs no topic.
      notifier: { send: (notification) => notifier().send(notification) },
      clock,
      logger: logger(),
      config: config(),
      runbooks: () => runbooks(),
      audit: audit(),
    }),
);

/** Uses of signed pause/abort links, and rollbacks: items of their own in the same table. */
const controlLinkUses = /* @__PURE__ */ once(
  () => new DynamoControlLinkUses({ client: documentClient(), tableName: required('TABLE_NAME') }),
);
/** The final notifications sent, and the feedback people gave: items of their own in the same table. */
const followUps = /* @__PURE__ */ once(
  () =>
    new DynamoFollowUps({
      client: documentClient(),
      tableName: required('TABLE_NAME'),
      retentionDays: config().retentionDays,
    }),
);

/** Learning folds: each stopped run folded into its runbook's aggregate in constant store commands. */
const learningFolds = /* @__PURE__ */ once(
  () =>
    new DynamoLearningFolds({
      client: documentClient(),
      tableName: required('TABLE_NAME'),
      retentionDays: config().retentionDays,
    }),
);

/** Incident reports: the control API serves them signed in, approval-web through signed links. */
const incidentReports = /* @__PURE__ */ once(
  () =>
    new IncidentReportService({
      store: store(),
      audit: audit(),
      followUps: followUps(),
      runbooks: () => runbooks(),
      config: config(),
      clock,
    }),
);

/**
 * The final notification and the report and feedback links: sent by the learning recorder when an
 * execution ends, opened through approval-web. Both read the link-signing key.
 */
const followUpService = /* @__PURE__ */ once(
  () =>
    new FollowUpService({
      store: store(),
      followUps: followUps(),
      reports: incidentReports(),
      // Built when the first notification goes out: opening a link needs no topic.
      notifier: { send: (notification) => notifier().send(notification) },
      signingKeys: {
        signing: () => linkSigningKeys().signing(),
        verifying: (options) => linkSigningKeys().verifying(options),
      },
      clock,
      logger: logger(),
      config: config(),
      runbooks: () => runbooks(),
    }),
);

const rollbackStore = /* @__PURE__ */ once(
  () =>
    new DynamoRollbackStore({
      client: documentClient(),
      tableName: required('TABLE_NAME'),
      retentionDays: config().retentionDays,
    }),
);

/** Approvals asked from a checkpoint (risk policy, approve level): the approval-request function answers. */
const approvalRequester = /* @__PURE__ */ once(
  () =>
    new LambdaApprovalRequester({
      client: new LambdaClient({}),
      functionName: required('APPROVAL_REQUEST_FUNCTION_NAME'),
    }),
);

export const risk = /* @__PURE__ */ once(
  () => new RiskAssessor({ store: store(), limits: limits(), clock, config: config(), tools: TOOL_CATALOG }),
);

export const engine = /* @__PURE__ */ once(() => {
  const prefix = required('STATE_MACHINE_ARN_PREFIX');
  // The rollback machine is deployed next to the runbooks' machines, under the same prefix.
  return new SfnExecutionEngine({
    client: new SFNClient({}),
    stateMachineArn: (runbookId) => `${prefix}${runbookId}`,
  });
});

export const notifier = /* @__PURE__ */ once(
  () =>
    new SnsNotifier({
      client: new SNSClient({}),
      approvalsTopicArn: required('APPROVALS_TOPIC_ARN'),
      escalationsTopicArn: required('ESCALATIONS_TOPIC_ARN'),
      // Follow-ups reach approvers where they are subscribed (the approvals topic).
      approvers: Object.values(config().approverGroups).flat(),
    }),
);

export const bus = /* @__PURE__ */ once(
  () => new EventBridgeBus({ client: new EventBridgeClient({}), eventBusName: required('EVENT_BUS_NAME') }),
);

/** A secret from Secrets Manager, cached by Powertools for five minutes (rotation without a deploy). */
export async function secret(variable: 'INGEST_TOKEN_SECRET'): Promise<string> {
  const value = await getSecret<string>(required(variable), { maxAge: SECRET_MAX_AGE_SECONDS });
  if (typeof value !== 'string' || value.length === 0)
    throw new ConfigurationError(`secret ${process.env[variable]} is empty`);
  return value;
}

export const checkpoints = /* @__PURE__ */ once(
  () =>
    new CheckpointService({
      store: store(),
      engine: engine(),
      clock,
      logger: logger(),
      audit: audit(),
      changeLocks: changeLocks(),
      // Only where checkpoints run (the step runners): the approval-request function is named there.
      ...(process.env.APPROVAL_REQUEST_FUNCTION_NAME
        ? {
            riskGate: new RiskCheckpoint({
              store: store(),
              limits: limits(),
              risk: risk(),
              requester: approvalRequester(),
              tools: TOOL_CATALOG,
              clock,
              logger: logger(),
            }),
            // The approve level asks for its approvals the same way: the approval-request function
            // alone holds the link-signing key and publishes to the approvals topic.
            automation: new AutomationApprovalGate({
              store: store(),
              approvals: { request: (payload) => requestApprovalThrough(approvalRequester(), payload) },
              config: config(),
              runbooks: () => runbooks(),
              isMutating: (tool) => TOOL_CATALOG.get(tool)?.mutating ?? true,
              logger: logger(),
            }),
          }
        : {}),
    }),
);

/** The link-signing key, read again within 5 minutes of a rotation; the previous one accepted for a link's lifetime. */
export const linkSigningKeys = /* @__PURE__ */ once(
  () =>
    new SecretsManagerLinkSigningKeys({
      client: new SecretsManagerClient({}),
      secretId: required('LINK_SIGNING_KEY_SECRET'),
      clock,
      linkTtlSeconds: config().approvalLinkTtlSeconds,
    }),
);

/** Likely causes from the diagnostics and predictions from the runbook's history (approvals, execution detail). */
const explainService = /* @__PURE__ */ once(
  () => new ExplainService({ store: store(), clock, logger: logger(), runbooks: () => runbooks() }),
);

/** The operators' service (pause, resume, abort, kill switch); the signed links act through it too. */
const controlService = /* @__PURE__ */ once(
  () =>
    new ControlService({
      store: store(),
      engine: engine(),
      checkpoints: checkpoints(),
      clock,
      logger: logger(),
      audit: audit(),
      explain: explainService(),
    }),
);

/** Signed pause/abort links: made by the functions that notify, used through the approval pages' function. */
export const controlLinks = /* @__PURE__ */ once(
  () =>
    new ControlLinkService({
      control: controlService(),
      store: store(),
      uses: controlLinkUses(),
      // Read only when a link is made or checked: the mutating runner builds it and never does.
      signingKeys: {
        signing: () => linkSigningKeys().signing(),
        verifying: (options) => linkSigningKeys().verifying(options),
      },
      clock,
      logger: logger(),
      config: config(),
    }),
);

export const rollbackService = /* @__PURE__ */ once(
  () =>
    new RollbackService({
      store: store(),
      rollbacks: rollbackStore(),
      engine: engine(),
      notifier: notifier(),
      clock,
      logger: logger(),
      config: config(),
      runbooks,
      tools: TOOL_CATALOG,
      audit: audit(),
    }),
);

/** The control API signs no links and verifies none (approvers decide there signed in): it holds no key. */
const noLinkSigningKeys: LinkSigningKeys = {
  signing: () => Promise.reject(new ConfigurationError('the control API does not sign links')),
  verifying: () => Promise.reject(new ConfigurationError('the control API does not verify links')),
};

/**
 * The dashboard's sign-in, as its stack writes it to SSM (RUNBOOK_AUTOPILOT_API_AUTH_PARAMETER names the
 * parameter), re-read every 5 minutes; undefined until that stack is deployed (then only IAM gets in).
 */
async function apiAuth(): Promise<ApiAuthConfig | undefined> {
  const name = required('RUNBOOK_AUTOPILOT_API_AUTH_PARAMETER');
  let value: unknown;
  try {
    value = await getParameter(name, { maxAge: SECRET_MAX_AGE_SECONDS, transform: 'json' });
  } catch (error) {
    if (/ParameterNotFound/.test(`${(error as Error).name} ${(error as Error).message}`)) return undefined;
    throw error;
  }
  const parsed = ApiAuthConfig.safeParse(value);
  if (!parsed.success)
    throw new ConfigurationError(
      `${name}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  return parsed.data;
}

/*
 * Per function: each builds only what it uses, so its role needs only those permissions, and each is
 * its own export marked pure, so esbuild leaves out of a function's bundle what only other functions
 * use (the tools and their SDK clients are in the step runner's bundle alone). package.json lists the
 * modules with side effects, so the bundler may drop every other module nothing uses.
 */

export const approvalsWiring = /* @__PURE__ */ once(() => {
  const approvals = new ApprovalService({
    store: store(),
    engine: engine(),
    notifier: notifier(),
    clock,
    logger: logger(),
    config: config(),
    signingKeys: linkSigningKeys(),
    audit: audit(),
    risk: risk(),
    controlLinks: controlLinks(),
    explain: explainService(),
  });
  return {
    approvals,
    riskApprovals: new RiskApprovals({
      approvals,
      config: config(),
      store: store(),
      engine: engine(),
      clock,
      logger: logger(),
    }),
    controlLinks: controlLinks(),
    followUp: followUpService(),
    logger: logger(),
  };
});

export const controlWiring = /* @__PURE__ */ once(() => {
  return {
    control: controlService(),
    learning: new LearningService({
      store: store(),
      clock,
      logger: logger(),
      automation: automation(),
      breakers: breakers(),
      followUps: followUps(),
      // POST /api/learning/recompute/:runbook rebuilds the fold the learning recorder keeps.
      runbooks: () => runbooks(),
      folds: learningFolds(),
    }),
    reports: incidentReports(),
    manualStarts: new ManualStartService({
      classifier: classifierWiring().classifier,
      runbooks,
      clock,
      config: config(),
    }),
    rollbacks: rollbackService(),
    approvals: new ApprovalService({
      store: store(),
      engine: engine(),
      notifier: notifier(),
      clock,
      logger: logger(),
      config: config(),
      signingKeys: noLinkSigningKeys,
      audit: audit(),
    }),
    // Only IAM principals and signed-in people reach it on AWS: anyone else is refused.
    access: { authSource: apiAuth, anonymous: 'refuse' as const },
    logger: logger(),
    audit: audit(),
    automation: automation(),
    breakers: breakers(),
  };
});

/** Deferred alerts go back to the runbooks bus, whose rule sends them to the classifier. */
const deferredAlerts = /* @__PURE__ */ once(
  () =>
    new DeferredAlerts({
      changeLocks: changeLocks(),
      store: store(),
      bus: bus(),
      clock,
      logger: logger(),
    }),
);

export const learningWiring = /* @__PURE__ */ once(() => ({
  learning: new LearningService({
    store: store(),
    clock,
    logger: logger(),
    audit: audit(),
    automation: automation(),
    rollbacks: rollbackService(),
    breakers: breakers(),
    // With the runbook, aggregates count how often each step decided (reorderable phases read it).
    runbooks: () => runbooks(),
    followUps: followUps(),
    finalNotice: followUpService(),
    folds: learningFolds(),
    deferredAlerts: deferredAlerts(),
  }),
  deferredAlerts: deferredAlerts(),
  logger: logger(),
}));

/**
 * Where the runbooks compiled with the deployed machines are: infra copies statemachines/runbooks.json
 * into the function's root (data read on first use, not code parsed at every cold start), which Lambda
 * names in LAMBDA_TASK_ROOT; from the source tree, statemachines/ itself.
 */
function catalogPath(): string {
  const root = process.env.LAMBDA_TASK_ROOT;
  return root
    ? join(root, CATALOG_FILE)
    : fileURLToPath(new URL(`../../statemachines/${CATALOG_FILE}`, import.meta.url));
}

/** The runbooks compiled with the machines this stack deploys (statemachines/runbooks.json). */
export const runbooks = /* @__PURE__ */ once(() => {
  const path = catalogPath();
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigurationError(
      `the runbook catalog ${path} cannot be read (${(error as Error).message}): run \`npm run compile\` and deploy again`,
    );
  }
  return parseRunbookCatalog(json);
});

export const classifierWiring = /* @__PURE__ */ once(() => ({
  classifier: new ClassifierService({
    store: store(),
    engine: engine(),
    notifier: notifier(),
    clock,
    logger: logger(),
    config: config(),
    selector: new RunbookSelector(runbooks()),
    audit: audit(),
    automation: automation(),
    risk: risk(),
    breakers: breakers(),
    changeLocks: changeLocks(),
    tools: TOOL_CATALOG,
  }),
  normalize: normalizeOptions(config()),
  logger: logger(),
}));

export const ingestWiring = /* @__PURE__ */ once(() => ({
  bus: bus(),
  normalize: normalizeOptions(config()),
  auth: async () => ({ token: await secret('INGEST_TOKEN_SECRET') }),
  clock,
  logger: logger(),
}));

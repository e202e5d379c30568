import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations, CfnOutput, Duration, Fn, Stack, type StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { TABLE_DESIGN } from '../../functions/adapters/aws/table-design.ts';
import type { RuntimeConfig } from '../../functions/core/config.ts';
import { Substitution } from '../../functions/core/execution-contract.ts';
import { ROLLBACK_MACHINE_ID } from '../../functions/core/rollback/machine.ts';
import { runbookCatalogText } from '../../functions/core/runbook/catalog.ts';
import type { Runbook } from '../../functions/core/runbook/model.ts';
import { type EnvironmentConfig, FUNCTION_URL, regionsOf } from '../config/environment.ts';
import { EnvironmentConfigError } from '../config/load.ts';
import { checkRunbooksFit } from '../config/runbook-fit.ts';
import {
  consoleExecutionLinkTemplate,
  runtimeConfigOf,
  UNUSED_LINK_BASE,
  withoutDefaults,
} from '../config/runtime.ts';
import { ClusterAccess } from '../constructs/cluster-access.ts';
import { deadLetterQueue, EventRouting } from '../constructs/event-routing.ts';
import {
  type FunctionNetwork,
  HandlerEntry,
  HandlerFunction,
  retainedWhen,
  VPC_NETWORK_INTERFACE_REASON,
} from '../constructs/handler-function.ts';
import { Notifications } from '../constructs/notifications.ts';
import { PlatformAlarms } from '../constructs/platform-alarms.ts';
import { RollbackMachine } from '../constructs/rollback-machine.ts';
import { type CompiledRunbook, loadCompiledRunbooks } from '../constructs/runbook-artifacts.ts';
import { RunbookStateMachines } from '../constructs/runbook-state-machines.ts';
import { type PermissionScope, toolPolicy } from '../constructs/tool-permissions.ts';
import type { DashboardStack } from './dashboard-stack.ts';

export interface RunbookAutopilotStackProps extends StackProps {
  environmentName: string;
  config: EnvironmentConfig;
  /** The runbooks to deploy; default: statemachines/ (the committed, compiled machines). */
  runbooks?: readonly CompiledRunbook[];
}

/** The SSM parameter the dashboard's stack writes its sign-in to (issuer, app client, groups). */
export function apiAuthParameterName(environment: string): string {
  return `/runbook-autopilot/${environment}/api-auth`;
}

/** Lambda's retries of a failed asynchronous invocation (the classifier and learning recorder): 3 attempts in all. */
export const ASYNC_RETRY_ATTEMPTS = 2;

/** Lambda allows 4 KB of environment variables per function; keep room for the ARNs and names. */
const ENVIRONMENT_BYTES_LIMIT = 4_096;
const ENVIRONMENT_BYTES_FOR_OTHERS = 1_200;

/** DynamoDB actions the Store issues (functions/adapters/aws/dynamo-store.ts); no Scan, no batch writes. */
export const STORE_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
] as const;

/** Audit items (`AUDIT#…` partition keys) are never updated or deleted by any function. */
export const AUDIT_KEY_PREFIX = 'AUDIT#';
export const AUDIT_DENIED_ACTIONS = [
  'dynamodb:BatchWriteItem',
  'dynamodb:DeleteItem',
  'dynamodb:PartiQLDelete',
  'dynamodb:PartiQLUpdate',
  'dynamodb:UpdateItem',
] as const;

export type FunctionKey =
  | 'ingest'
  | 'classifier'
  | 'stepRunnerReadOnly'
  | 'stepRunnerMutating'
  | 'approvalRequest'
  | 'approvalWeb'
  | 'control'
  | 'learningRecorder';

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * Everything one environment runs on AWS: the table, the secrets, the topics, one function per
 * handler (two step runners), one Standard state machine per runbook, the EventBridge bus and rules,
 * the Function URLs and the platform's own alarms.
 */
export class RunbookAutopilotStack extends Stack {
  readonly environmentName: string;
  readonly functions: Record<FunctionKey, HandlerFunction>;
  readonly table: dynamodb.Table;
  readonly notifications: Notifications;
  readonly stateMachines: RunbookStateMachines;
  readonly routing: EventRouting;
  readonly alarms: PlatformAlarms;
  /** The schedule that reminds approvers (absent when approvals.reminderAfter is off). */
  readonly approvalReminders?: events.Rule;
  /** Every minute: alerts deferred behind an expired change lock go back to the classifier. */
  readonly deferredAlertSweep: events.Rule;
  /** EKS access entries of the step runners (absent when tools.kubernetes.eks names no cluster). */
  readonly clusterAccess?: ClusterAccess;
  readonly runbooks: readonly CompiledRunbook[];
  /** `arn:…:stateMachine:<stack>-`: a runbook's machine is this plus its id. */
  readonly stateMachineArnPrefix: string;
  /** The rollback machine (executeRollback), next to the runbooks' machines. */
  readonly rollbackMachine: RollbackMachine;
  /** The dashboard's stack, when cdk.json deploys one (infra/stacks/deployment.ts sets it). */
  dashboard?: DashboardStack;

  constructor(scope: Construct, id: string, props: RunbookAutopilotStackProps) {
    const { config, environmentName: name } = props;
    super(scope, id, {
      ...props,
      env: { account: config.account, region: config.region },
      description: `runbook-autopilot (${name}): automated runbook execution`,
      terminationProtection: config.protectData,
    });
    this.environmentName = name;
    Tags.of(this).add('runbook-autopilot:environment', name);
    const removalPolicy = retainedWhen(config.protectData);
    const logRetention = config.retention.logDays;
    const partition = partitionOf(config.region);
    const namePrefix = `${this.stackName}-`;
    this.stateMachineArnPrefix = `arn:${partition}:states:${config.region}:${config.account}:stateMachine:${namePrefix}`;
    this.runbooks = props.runbooks ?? loadCompiledRunbooks();
    // toolReachability: warn deploys runbooks whose tools reach nothing here, and says so.
    const unreachable = checkRunbooksFit(
      name,
      config,
      this.runbooks.map((compiled) => compiled.runbook),
    );
    for (const [index, line] of unreachable.entries())
      Annotations.of(this).addWarningV2(`runbook-autopilot:tool-unreachable:${index}`, line);
    // Built from names, not Refs: roles of the functions the machines invoke must not depend on the machines.
    const stateMachineArns = this.runbooks.map((runbook) => `${this.stateMachineArnPrefix}${runbook.id}`);
    const executionArns = this.runbooks.map(
      (runbook) =>
        `arn:${partition}:states:${config.region}:${config.account}:execution:${namePrefix}${runbook.id}:*`,
    );
    // The rollback machine's tasks wait for tokens too (its approval): answered like the runbooks'.
    const rollbackMachineArn = `${this.stateMachineArnPrefix}${ROLLBACK_MACHINE_ID}`;
    const rollbackExecutionArns = `arn:${partition}:states:${config.region}:${config.account}:execution:${namePrefix}${ROLLBACK_MACHINE_ID}:*`;

    // ----------------------------------------------------------------------------------- data and secrets
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_DESIGN.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_DESIGN.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_DESIGN.ttlAttribute,
      deletionProtection: config.protectData,
      removalPolicy,
    });
    for (const index of TABLE_DESIGN.globalIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      });
    }
    // Secrets Manager generates the values: they are never in the template or the repository.
    const secretNameOf = (what: string) => `runbook-autopilot/${name}/${what}`;
    const secret = (secretId: string, what: string, length: number) =>
      new secretsmanager.Secret(this, secretId, {
        secretName: secretNameOf(what),
        description: `runbook-autopilot ${name}: ${what} (rotate with put-secret-value; functions re-read it within 5 minutes)`,
        generateSecretString: { passwordLength: length, excludePunctuation: true, includeSpace: false },
        removalPolicy,
      });
    const ingestToken = secret('IngestToken', 'ingest-token', 48);
    const linkSigningKey = secret('LinkSigningKey', 'link-signing-key', 64);
    for (const [owner, why] of [
      [ingestToken, 'Alertmanager holds the same token in its config: rotating it is a coordinated change'],
      [linkSigningKey, 'rotating it invalidates every approval link in flight'],
    ] as const) {
      Validations.of(owner).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: `Rotated by operators with put-secret-value, not on a schedule: ${why}. The functions cache it for 5 minutes, so a rotation needs no deploy.`,
      });
    }

    // ----------------------------------------------------------------------------------- notifications
    const everyone = (groups: Record<string, string[]>, names?: readonly string[]) =>
      (names ?? Object.keys(groups)).flatMap((group) => groups[group] ?? []);
    this.notifications = new Notifications(this, 'Notifications', {
      approvers: everyone(config.approverGroups),
      escalationRecipients: everyone(config.escalationTargets),
      alarmRecipients: everyone(config.escalationTargets, config.alarms.notify),
      removalPolicy,
    });
    const { approvals, escalations } = this.notifications;

    // ----------------------------------------------------------------------------------- functions
    const classifierFailures = deadLetterQueue(this, 'ClassifierFailures', removalPolicy);
    const learningFailures = deadLetterQueue(this, 'LearningRecorderFailures', removalPolicy);
    const busName = `runbook-autopilot-${name}`;
    const common = { TABLE_NAME: this.table.tableName, STATE_MACHINE_ARN_PREFIX: this.stateMachineArnPrefix };
    const topics = { APPROVALS_TOPIC_ARN: approvals.topicArn, ESCALATIONS_TOPIC_ARN: escalations.topicArn };
    const asyncTarget = (onFailure: typeof classifierFailures) => ({
      // Lambda retries a failed event twice (a throttled store, a timeout), then it goes to the queue.
      retryAttempts: ASYNC_RETRY_ATTEMPTS,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(onFailure),
    });
    // The runbooks deployed here, as the catalog the functions read (not necessarily statemachines/).
    const catalogFile = catalogFileOf(this.runbooks.map((compiled) => compiled.runbook));
    // The step runners reach private cluster endpoints from the VPC of `network`; the others need no VPC.
    const network = config.network ? importedNetwork(this, config.network) : undefined;
    const make = (
      key: FunctionKey,
      entry: HandlerEntry,
      description: string,
      environment: Record<string, string>,
      options: {
        timeout?: Duration;
        memorySize?: number;
        async?: ReturnType<typeof asyncTarget>;
        vpc?: FunctionNetwork;
        reservedConcurrency?: number;
        /** The ingest reads no runbook: it goes without the catalog. */
        catalog?: false;
      } = {},
    ) =>
      new HandlerFunction(this, pascal(key), {
        entry,
        description,
        environment,
        timeout: options.timeout ?? Duration.seconds(30),
        memorySize: options.memorySize ?? 512,
        logLevel: config.logLevel,
        logRetention,
        removalPolicy,
        ...(options.catalog === false ? {} : { runbookCatalog: catalogFile }),
        ...(options.async ? { async: options.async } : {}),
        ...(options.vpc ? { vpc: options.vpc } : {}),
        ...(options.reservedConcurrency === undefined
          ? {}
          : { reservedConcurrency: options.reservedConcurrency }),
      });

    // approval-web first: its Function URL is the default base of every link the others build.
    const configJson = (publicBaseUrl: string) => {
      const runtime = runtimeConfigOf(
        name,
        config,
        publicBaseUrl,
        consoleExecutionLinkTemplate(config.region, config.account, namePrefix),
      );
      // Defaults are left out: the functions parse it with the same schema and fill them in again.
      const compact = withoutDefaults(runtime);
      checkEnvironmentSize(name, runtime, compact);
      return this.toJsonString(compact);
    };
    const explicitBase = config.publicBaseUrl === FUNCTION_URL ? undefined : config.publicBaseUrl;
    const approvalWeb = make(
      'approvalWeb',
      HandlerEntry.ApprovalWeb,
      'Approval pages: GET shows the context, POST decides (signed links)',
      {
        ...common,
        ...topics,
        LINK_SIGNING_KEY_SECRET: secretNameOf('link-signing-key'),
        RUNBOOK_AUTOPILOT_CONFIG: configJson(explicitBase ?? UNUSED_LINK_BASE),
      },
      // Public: a flood of requests is throttled here rather than taking the step runners' concurrency.
      { reservedConcurrency: config.reservedConcurrency.approvalWeb },
    );
    // Public: every request is checked against the HMAC-signed link (approver, expiry) server-side.
    const approvalWebUrl = approvalWeb.function.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    const runtimeConfig = configJson(explicitBase ?? approvalWebUrl.url);

    const fns: Record<FunctionKey, HandlerFunction> = {
      approvalWeb,
      ingest: make(
        'ingest',
        HandlerEntry.Ingest,
        'Alertmanager webhook in, normalized alert events out',
        {
          EVENT_BUS_NAME: busName,
          INGEST_TOKEN_SECRET: secretNameOf('ingest-token'),
          RUNBOOK_AUTOPILOT_CONFIG: runtimeConfig,
        },
        { reservedConcurrency: config.reservedConcurrency.ingest, catalog: false },
      ),
      classifier: make(
        'classifier',
        HandlerEntry.Classifier,
        'Alerts in: dedupe, select a runbook, safety gate, start its execution',
        { ...common, ...topics, RUNBOOK_AUTOPILOT_CONFIG: runtimeConfig },
        { timeout: Duration.seconds(60), async: asyncTarget(classifierFailures) },
      ),
      stepRunnerReadOnly: make(
        'stepRunnerReadOnly',
        HandlerEntry.StepRunner,
        'Runbook tasks that change nothing: diagnostics, checks, checkpoints, escalation, record',
        {
          ...common,
          ...topics,
          // Escalations carry signed pause/abort links.
          LINK_SIGNING_KEY_SECRET: secretNameOf('link-signing-key'),
          RUNBOOK_AUTOPILOT_CONFIG: runtimeConfig,
        },
        { timeout: Duration.minutes(15), memorySize: 1_024, ...(network ? { vpc: network } : {}) },
      ),
      stepRunnerMutating: make(
        'stepRunnerMutating',
        HandlerEntry.StepRunner,
        'Runbook steps that change things, and their compensations; a stuck change pauses its execution',
        { ...common, ...topics, RUNBOOK_AUTOPILOT_CONFIG: runtimeConfig },
        { timeout: Duration.minutes(15), memorySize: 1_024, ...(network ? { vpc: network } : {}) },
      ),
      approvalRequest: make(
        'approvalRequest',
        HandlerEntry.ApprovalRequest,
        'Stores an approval request with its task token and e-mails signed links',
        {
          ...common,
          ...topics,
          LINK_SIGNING_KEY_SECRET: secretNameOf('link-signing-key'),
          RUNBOOK_AUTOPILOT_CONFIG: runtimeConfig,
        },
        { timeout: Duration.seconds(60) },
      ),
      control: make(
        'control',
        HandlerEntry.Control,
        'Operator API: pause, resume, abort, kill switch, manual starts, rollbacks, signed-in approvals, automation levels',
        {
          ...common,
          // The classifier and rollbacks it builds name the topics; automation level changes people
          // make are announced.
          ...topics,
          RUNBOOK_AUTOPILOT_API_AUTH_PARAMETER: apiAuthParameterName(name),
          RUNBOOK_AUTOPILOT_CONFIG: runtimeConfig,
        },
      ),
      learningRecorder: make(
        'learningRecorder',
        HandlerEntry.LearningRecorder,
        'Execution status changes in: final record, aggregates, demotions; a rollback run that stopped unfinished',
        // Demotions (decided here, when a run stops) are announced; the final notification of every
        // ended execution carries signed report and feedback links.
        {
          ...common,
          ...topics,
          LINK_SIGNING_KEY_SECRET: secretNameOf('link-signing-key'),
          // Alerts deferred behind a stopped run's change lock go back to the classifier through the bus.
          EVENT_BUS_NAME: busName,
          RUNBOOK_AUTOPILOT_CONFIG: runtimeConfig,
        },
        { timeout: Duration.seconds(60), async: asyncTarget(learningFailures) },
      ),
    };
    this.functions = fns;

    // ----------------------------------------------------------------------------------- permissions
    const allow = (fn: HandlerFunction, sid: string, actions: string[], resources: string[]) =>
      fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions, resources }));
    const tableResources = [
      this.table.tableArn,
      ...TABLE_DESIGN.globalIndexes.map((index) => `${this.table.tableArn}/index/${index.name}`),
    ];
    const publish = (fn: HandlerFunction, topic: typeof approvals, sid: string) => {
      allow(fn, sid, ['sns:Publish'], [topic.topicArn]);
      allow(fn, `${sid}Encrypted`, ['kms:Decrypt', 'kms:GenerateDataKey'], [this.notifications.key.keyArn]);
    };
    for (const key of [
      'classifier',
      'stepRunnerReadOnly',
      'stepRunnerMutating',
      'approvalRequest',
      'approvalWeb',
      'control',
      'learningRecorder',
    ] as const) {
      allow(fns[key], 'Store', [...STORE_ACTIONS], tableResources);
      // The audit trail is append-only: its items are created by conditional puts, never changed or deleted.
      fns[key].role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'AuditTrailAppendOnly',
          effect: iam.Effect.DENY,
          actions: [...AUDIT_DENIED_ACTIONS],
          resources: [this.table.tableArn],
          conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [`${AUDIT_KEY_PREFIX}*`] } },
        }),
      );
    }
    for (const key of ['stepRunnerReadOnly', 'approvalWeb', 'control'] as const) {
      allow(
        fns[key],
        'AnswerWaitingTasks',
        ['states:SendTaskFailure', 'states:SendTaskSuccess'],
        [...stateMachineArns, rollbackMachineArn],
      );
    }
    // Checkpoints ask the approval-request function for the risk policy's and the approve level's
    // approvals (it alone signs links and publishes to the approvals topic),
    // and its schedule fails the checkpoints whose approval expired.
    fns.stepRunnerReadOnly.function.addEnvironment(
      'APPROVAL_REQUEST_FUNCTION_NAME',
      fns.approvalRequest.function.functionName,
    );
    allow(
      fns.stepRunnerReadOnly,
      'AskForApprovals',
      ['lambda:InvokeFunction'],
      [fns.approvalRequest.function.functionArn],
    );
    allow(fns.approvalRequest, 'ExpireRiskApprovals', ['states:SendTaskFailure'], stateMachineArns);
    allow(fns.classifier, 'StartExecutions', ['states:StartExecution'], stateMachineArns);
    allow(fns.classifier, 'DescribeExecutions', ['states:DescribeExecution'], executionArns);
    // Manual starts (through the classifier's gates) and rollbacks start executions from the control API.
    allow(
      fns.control,
      'StartExecutions',
      ['states:StartExecution'],
      [...stateMachineArns, rollbackMachineArn],
    );
    allow(
      fns.control,
      'DescribeExecutions',
      ['states:DescribeExecution'],
      [...executionArns, rollbackExecutionArns],
    );
    for (const [fn, arns] of [
      [fns.classifier, executionArns],
      [fns.control, [...executionArns, rollbackExecutionArns]],
    ] as const) {
      for (const arn of arns) {
        Validations.of(fn.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${arn}]`,
          reason:
            'states:DescribeExecution (idempotent start by name): execution names are made at run time; the ARN pins this stack’s state machine.',
        });
      }
    }
    // The dashboard's stack writes the sign-in the control API checks tokens against.
    allow(
      fns.control,
      'ReadSignInConfig',
      ['ssm:GetParameter'],
      [`arn:${partition}:ssm:${config.region}:${config.account}:parameter${apiAuthParameterName(name)}`],
    );
    publish(fns.classifier, escalations, 'PublishEscalations');
    publish(fns.stepRunnerReadOnly, escalations, 'PublishEscalations');
    // The runner that runs a change watches it: past its learned p99 it pauses the execution and tells
    // the stuck-step targets (the escalations topic only; it signs no links, so it reads no key).
    publish(fns.stepRunnerMutating, escalations, 'PublishStuckStepEscalations');
    // A rollback whose machine stopped unfinished pages the default target.
    publish(fns.learningRecorder, escalations, 'PublishEscalations');
    // The final notification of an ended execution reaches the approvers who decided on their topic.
    publish(fns.learningRecorder, approvals, 'PublishFollowUpsToApprovers');
    allow(
      fns.stepRunnerReadOnly,
      'ReadLinkSigningKey',
      ['secretsmanager:GetSecretValue'],
      [linkSigningKey.secretArn],
    );
    publish(fns.approvalRequest, approvals, 'PublishApprovals');
    publish(fns.control, escalations, 'PublishEscalations');
    publish(fns.learningRecorder, escalations, 'PublishEscalations');
    allow(
      fns.approvalRequest,
      'ReadLinkSigningKey',
      ['secretsmanager:GetSecretValue'],
      [linkSigningKey.secretArn],
    );
    // The final notification's report and feedback links are signed when an execution ends.
    allow(
      fns.learningRecorder,
      'ReadLinkSigningKey',
      ['secretsmanager:GetSecretValue'],
      [linkSigningKey.secretArn],
    );
    allow(
      fns.approvalWeb,
      'ReadLinkSigningKey',
      ['secretsmanager:GetSecretValue'],
      [linkSigningKey.secretArn],
    );
    allow(fns.ingest, 'ReadIngestToken', ['secretsmanager:GetSecretValue'], [ingestToken.secretArn]);

    const permissionScope: PermissionScope = {
      partition,
      account: config.account,
      regions: regionsOf(config),
      escalationsTopicArn: escalations.topicArn,
      ...(config.mutatingResourceTag ? { resourceTag: config.mutatingResourceTag } : {}),
    };
    const readOnlyTools = this.runbooks.flatMap((runbook) => runbook.tools[Substitution.ReadOnlyRunner]);
    const mutatingTools = this.runbooks.flatMap((runbook) => runbook.tools[Substitution.MutatingRunner]);
    const runnerPolicies = {
      stepRunnerReadOnly: toolPolicy(readOnlyTools, 'read-only', permissionScope),
      stepRunnerMutating: toolPolicy(mutatingTools, 'mutating', permissionScope),
    };
    for (const [key, policy] of Object.entries(runnerPolicies) as Array<
      [keyof typeof runnerPolicies, (typeof runnerPolicies)[keyof typeof runnerPolicies]]
    >) {
      for (const [index, grant] of policy.grants.entries()) {
        fns[key].role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: `Tools${index + 1}`,
            actions: grant.actions,
            resources: grant.resources,
            ...(grant.condition ? { conditions: grant.condition } : {}),
          }),
        );
      }
      for (const wildcard of policy.wildcards.filter((candidate) => candidate.resource !== '*')) {
        Validations.of(fns[key].role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${wildcard.resource}]`,
          reason: `Tool permissions derived from the runbooks' tool declarations: ${wildcard.reasons.join('; ')}.`,
        });
      }
    }
    // Remediation must never throttle or unthrottle the platform's own functions (named after this stack).
    const lambdaChanges = runnerPolicies.stepRunnerMutating.actions.filter((action) =>
      /^lambda:(Put|Delete)/.test(action),
    );
    if (lambdaChanges.length > 0) {
      fns.stepRunnerMutating.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'NeverChangeThePlatform',
          effect: iam.Effect.DENY,
          actions: lambdaChanges,
          resources: [`arn:${partition}:lambda:*:${config.account}:function:${namePrefix}*`],
        }),
      );
    }

    // Amazon EKS: each runner's role becomes a Kubernetes group; `runbook rbac` says what the group may do.
    const clusters = config.tools.kubernetes.eks;
    if (Object.keys(clusters).length > 0) {
      this.clusterAccess = new ClusterAccess(this, 'ClusterAccess', {
        clusters,
        region: config.region,
        readOnlyRole: fns.stepRunnerReadOnly.role,
        mutatingRole: fns.stepRunnerMutating.role,
      });
      // Clusters named without endpoint and CA: the runners read them once with eks:DescribeCluster.
      const described = [
        ...new Set(
          Object.entries(clusters)
            .filter(([, cluster]) => cluster.endpoint === undefined)
            .map(
              ([key, cluster]) =>
                `arn:${partition}:eks:${cluster.region ?? config.region}:${config.account}:cluster/${cluster.clusterName ?? key}`,
            ),
        ),
      ].sort();
      if (described.length > 0) {
        for (const key of ['stepRunnerReadOnly', 'stepRunnerMutating'] as const)
          allow(fns[key], 'ReadEksClusters', ['eks:DescribeCluster'], described);
      }
    }

    // ----------------------------------------------------------------------------------- state machines
    this.stateMachines = new RunbookStateMachines(this, 'StateMachines', {
      runbooks: this.runbooks,
      namePrefix,
      functions: {
        [Substitution.ReadOnlyRunner]: fns.stepRunnerReadOnly.function,
        [Substitution.MutatingRunner]: fns.stepRunnerMutating.function,
        [Substitution.ApprovalRequest]: fns.approvalRequest.function,
      },
      includeExecutionData: config.stateMachines.includeExecutionData,
      logRetention,
      removalPolicy,
    });
    this.rollbackMachine = new RollbackMachine(this, 'Rollbacks', {
      namePrefix,
      functions: {
        [Substitution.ReadOnlyRunner]: fns.stepRunnerReadOnly.function,
        [Substitution.MutatingRunner]: fns.stepRunnerMutating.function,
        [Substitution.ApprovalRequest]: fns.approvalRequest.function,
      },
      logGroup: this.stateMachines.logGroup,
      includeExecutionData: config.stateMachines.includeExecutionData,
      removalPolicy,
    });

    // ----------------------------------------------------------------------------------- events
    this.routing = new EventRouting(this, 'Events', {
      busName,
      stateMachineArnPrefix: this.stateMachineArnPrefix,
      handlers: { classifier: fns.classifier.function, 'learning-recorder': fns.learningRecorder.function },
      removalPolicy,
    });
    allow(fns.ingest, 'PublishAlerts', ['events:PutEvents'], [this.routing.bus.eventBusArn]);
    // A stopped run's deferred alerts are sent to the classifier again (the same event the ingest sends).
    allow(
      fns.learningRecorder,
      'ReclassifyDeferredAlerts',
      ['events:PutEvents'],
      [this.routing.bus.eventBusArn],
    );

    // A deferred alert whose lock holder was lost (it never stops, so nothing re-sends the alert): every
    // minute the learning recorder sends those behind an expired lock back to the classifier.
    this.deferredAlertSweep = new events.Rule(this, 'DeferredAlertSweep', {
      ruleName: `${namePrefix}deferred-alert-sweep`,
      description: 'Every minute: classify again the alerts deferred behind a change lock that expired',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new eventTargets.LambdaFunction(fns.learningRecorder.function, { retryAttempts: 0 })],
    });

    // Approval reminders: every minute, the approval-request function reminds approvers who have not
    // answered within approvals.reminderAfter (schedules live on the default bus).
    if (config.approvals.reminderAfter !== 'off') {
      this.approvalReminders = new events.Rule(this, 'ApprovalReminders', {
        ruleName: `${namePrefix}approval-reminders`,
        description: `Every minute: remind approvers who have not answered within ${config.approvals.reminderAfter}s`,
        schedule: events.Schedule.rate(Duration.minutes(1)),
        targets: [new eventTargets.LambdaFunction(fns.approvalRequest.function, { retryAttempts: 0 })],
      });
    }

    // ----------------------------------------------------------------------------------- endpoints
    // Public: the handler demands the bearer token (from Secrets Manager) on every request.
    const ingestUrl = fns.ingest.function.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    const controlUrl = fns.control.function.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });

    // ----------------------------------------------------------------------------------- alarms
    this.alarms = new PlatformAlarms(this, 'Alarms', {
      environment: name,
      thresholds: config.alarms,
      topic: this.notifications.platformAlarms,
      deadLetterQueues: {
        'event-delivery': this.routing.deliveryDeadLetters,
        'classifier-failures': classifierFailures,
        'learning-recorder-failures': learningFailures,
      },
      functions: Object.fromEntries(
        Object.entries(fns).map(([key, fn]) => [kebab(key), fn.function] as const),
      ),
      stateMachines: Object.fromEntries(
        this.stateMachines.machines.map(({ runbook, stateMachine }) => [runbook.id, stateMachine] as const),
      ),
      stateMachineLogs: this.stateMachines.logGroup,
    });

    const xray =
      'X-Ray tracing (added by CDK for Tracing.ACTIVE): xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions';
    for (const [key, fn] of Object.entries(fns) as Array<[FunctionKey, HandlerFunction]>) {
      const tools =
        key === 'stepRunnerReadOnly' || key === 'stepRunnerMutating'
          ? runnerPolicies[key].wildcards.find((wildcard) => wildcard.resource === '*')?.reasons
          : undefined;
      const reasons = [
        xray,
        ...(fn.inVpc ? [VPC_NETWORK_INTERFACE_REASON] : []),
        ...(tools ? [`Tool actions on "*" (from the runbooks' tool declarations): ${tools.join('; ')}`] : []),
      ];
      Validations.of(fn.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: `${reasons.join('. ')}.`,
      });
    }

    // ----------------------------------------------------------------------------------- outputs
    const output = (outputId: string, value: string, description: string) =>
      new CfnOutput(this, outputId, { value, description });
    output('IngestWebhookUrl', `${ingestUrl.url}webhooks/alertmanager`, 'Alertmanager webhook_configs url');
    output(
      'IngestTokenSecretName',
      secretNameOf('ingest-token'),
      'Secrets Manager secret with the ingest bearer token',
    );
    output('ApprovalsUrl', explicitBase ?? approvalWebUrl.url, 'Base of the approval links in e-mails');
    output(
      'ControlApiUrl',
      controlUrl.url,
      'Operator API (IAM auth: sign requests with SigV4, service lambda)',
    );
    output(
      'ControlFunctionArn',
      fns.control.function.functionArn,
      "Resource of the operators' policy: lambda:InvokeFunctionUrl and lambda:InvokeFunction (via the URL)",
    );
    output('EventBusName', this.routing.bus.eventBusName, 'Bus of ingested alerts');
    output('TableName', this.table.tableName, 'DynamoDB table');
    output('PlatformAlarmsTopicArn', this.notifications.platformAlarms.topicArn, 'Platform alarms');
    if (this.clusterAccess) {
      const names = [
        ...this.clusterAccess.clusters.map((cluster) => cluster.clusterName),
        ...this.clusterAccess.elsewhere.map((cluster) => `${cluster.clusterName} (${cluster.region})`),
      ];
      output(
        'KubernetesRbac',
        `npx runbook rbac | kubectl apply -f -   # against each cluster: ${names.join(', ')}`,
        'What the step runners may do in Kubernetes: apply this RBAC to every EKS cluster (and again when the runbooks change)',
      );
      output(
        'ReadOnlyRunnerRoleArn',
        fns.stepRunnerReadOnly.role.roleArn,
        'IAM role of the read-only step runner (EKS access entry: group runbook-autopilot-read)',
      );
      output(
        'MutatingRunnerRoleArn',
        fns.stepRunnerMutating.role.roleArn,
        'IAM role of the mutating step runner (EKS access entry: group runbook-autopilot-change)',
      );
    }
  }
}

/** The VPC, subnets and security groups of `network`, imported by id: synth stays offline. */
function importedNetwork(
  scope: Construct,
  network: NonNullable<EnvironmentConfig['network']>,
): FunctionNetwork {
  const imports = new Construct(scope, 'Network');
  // The subnets are passed explicitly, so the VPC's zones are never read: the region's, as a token.
  const vpc = ec2.Vpc.fromVpcAttributes(imports, 'Vpc', {
    vpcId: network.vpcId,
    availabilityZones: Fn.getAzs(),
  });
  const imported: FunctionNetwork = {
    vpc,
    subnets: network.subnetIds.map((subnetId) => ec2.Subnet.fromSubnetId(imports, subnetId, subnetId)),
    securityGroups: network.securityGroupIds.map((securityGroupId) =>
      // The security groups are yours: this stack adds no rule to them.
      ec2.SecurityGroup.fromSecurityGroupId(imports, securityGroupId, securityGroupId, { mutable: false }),
    ),
  };
  const annotations = Annotations.of(imports);
  annotations.acknowledgeWarning(
    '@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
    "Only the step runners use the VPC, with their subnets named explicitly: the VPC's zones are never read.",
  );
  annotations.acknowledgeWarning(
    '@aws-cdk/aws-ec2:noSubnetRouteTableId',
    'The subnets only place the step runners; nothing here reads or changes their route tables.',
  );
  return imported;
}

function checkEnvironmentSize(environment: string, runtime: RuntimeConfig, sent: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(sent), 'utf8');
  if (bytes + ENVIRONMENT_BYTES_FOR_OTHERS > ENVIRONMENT_BYTES_LIMIT) {
    const withCa = Object.values(runtime.tools.kubernetes.eks).filter(
      (cluster) => cluster.certificateAuthorityData !== undefined,
    ).length;
    const advice =
      withCa > 0
        ? `${withCa} EKS cluster(s) in tools.kubernetes.eks carry their CA (about 1.5 KB each): name them without endpoint and certificateAuthorityData and the functions read both with eks:DescribeCluster`
        : 'use fewer approvers or targets';
    throw new EnvironmentConfigError(
      `cdk.json context "runbook-autopilot:environments".${environment}: RUNBOOK_AUTOPILOT_CONFIG would be ${bytes} bytes; Lambda allows ${ENVIRONMENT_BYTES_LIMIT} bytes of environment variables per function (about ${ENVIRONMENT_BYTES_LIMIT - ENVIRONMENT_BYTES_FOR_OTHERS} for it): ${advice}`,
    );
  }
}

function pascal(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/**
 * The deployed runbooks' catalog as a file to copy into each bundle: named by its content in the
 * temporary directory, so every synth of the same runbooks reuses one file.
 */
function catalogFileOf(runbooks: readonly Runbook[]): string {
  const text = runbookCatalogText(runbooks);
  const file = join(
    tmpdir(),
    `runbook-autopilot-catalog-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`,
  );
  if (!existsSync(file)) writeFileSync(file, text);
  return file;
}

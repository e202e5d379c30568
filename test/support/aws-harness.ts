import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoAuditTrail } from '../../functions/adapters/aws/dynamo-audit-trail.ts';
import { DynamoStore } from '../../functions/adapters/aws/dynamo-store.ts';
import { EventBridgeBus } from '../../functions/adapters/aws/eventbridge-bus.ts';
import { SfnExecutionEngine } from '../../functions/adapters/aws/sfn-engine.ts';
import { SnsNotifier } from '../../functions/adapters/aws/sns-notifier.ts';
import { normalizeOptions } from '../../functions/core/classifier/normalize.ts';
import { RunbookSelector } from '../../functions/core/classifier/select.ts';
import { RuntimeConfig } from '../../functions/core/config.ts';
import { ApprovalService } from '../../functions/core/services/approvals.ts';
import { CheckpointService } from '../../functions/core/services/checkpoint.ts';
import { ClassifierService } from '../../functions/core/services/classifier.ts';
import { ControlService } from '../../functions/core/services/control.ts';
import { EscalationService } from '../../functions/core/services/escalation.ts';
import { LearningService } from '../../functions/core/services/learning.ts';
import { RecordService } from '../../functions/core/services/record.ts';
import { StepRunner } from '../../functions/core/services/step-runner.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import { fixedLinkSigningKeys } from '../../functions/ports/link-signing-keys.ts';
import type { Logger } from '../../functions/ports/logger.ts';
import type { ToolImplementation, ToolRegistry } from '../../functions/ports/tools.ts';
import { startDynalite } from './dynalite.ts';
import { loadRunbook } from './runbooks.ts';

/**
 * The AWS runtime's services for handler tests: the real DynamoStore on dynalite (a real DynamoDB API),
 * and the real SFN/SNS/EventBridge adapters whose SDK clients aws-sdk-client-mock answers (where AWS
 * itself would answer). Time is controlled.
 */

export const REGION = 'eu-west-1';
export const ACCOUNT = '333333333333';
export const STATE_MACHINE_PREFIX = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:runbook-autopilot-prod-`;
export const APPROVALS_TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:runbook-autopilot-prod-approvals`;
export const ESCALATIONS_TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:runbook-autopilot-prod-escalations`;
export const SIGNING_KEY = Buffer.from('test-link-signing-key-0123456789abcdef0123456789');

export class TestClock implements Clock {
  constructor(private current = new Date('2026-11-25T10:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  set(iso: string): void {
    this.current = new Date(iso);
  }
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  data?: Record<string, unknown>;
}

export function collectingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const log = (level: LogEntry['level']) => (message: string, data?: Record<string, unknown>) => {
    entries.push({ level, message, ...(data ? { data } : {}) });
  };
  return { entries, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export function toolRegistry(tools: ToolImplementation[]): ToolRegistry {
  const byName = new Map(tools.map((tool) => [tool.declaration.name, tool]));
  return { get: (name) => byName.get(name), names: () => [...byName.keys()] };
}

export const TEST_CONFIG: RuntimeConfig = RuntimeConfig.parse({
  environment: 'prod',
  publicBaseUrl: 'https://autopilot.example.com/',
  executionLinkTemplate: 'https://autopilot.example.com/executions/{executionId}',
  policy: { approval: { requiredFromRisk: 'medium' }, mutatingSteps: 'compensation-or-approval' },
  approverGroups: {
    'sre-oncall': ['alice@example.com', 'bob@example.com'],
    'platform-leads': ['carol@example.com'],
  },
  escalationTargets: {
    default: ['oncall@example.com'],
    'sre-pager': ['pager@example.com'],
    'sre-ticket': ['tickets@example.com'],
  },
});

export interface HarnessOptions {
  config?: Partial<RuntimeConfig>;
  tools?: ToolImplementation[];
  runbooks?: string[];
  /** The step runner's waitScale (the embedded platform's; the AWS wiring never sets it). */
  waitScale?: number;
}

export async function startAwsHarness(options: HarnessOptions = {}) {
  const table = await startDynalite();
  const clock = new TestClock();
  const logger = collectingLogger();
  const config = RuntimeConfig.parse({ ...TEST_CONFIG, ...options.config });
  const sfn = mockClient(SFNClient);
  const sns = mockClient(SNSClient);
  const events = mockClient(EventBridgeClient);
  sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string }) => ({
    executionArn: `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`,
    startDate: clock.now(),
  }));
  sfn
    .on(DescribeExecutionCommand)
    .rejects(Object.assign(new Error('Execution does not exist'), { name: 'ExecutionDoesNotExist' }));
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
  events.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map((_, index) => ({ EventId: `event-${index}` })),
  }));

  const store = new DynamoStore({
    client: table.client,
    tableName: table.tableName,
    retentionDays: config.retentionDays,
    clock,
  });
  const engine = new SfnExecutionEngine({
    client: new SFNClient({ region: REGION }),
    stateMachineArn: (runbookId) => `${STATE_MACHINE_PREFIX}${runbookId}`,
    baseDelayMs: 0,
    sleep: async () => {},
  });
  const notifier = new SnsNotifier({
    client: new SNSClient({ region: REGION }),
    approvalsTopicArn: APPROVALS_TOPIC,
    escalationsTopicArn: ESCALATIONS_TOPIC,
  });
  const bus = new EventBridgeBus({
    client: new EventBridgeClient({ region: REGION }),
    eventBusName: 'runbook-autopilot-prod',
    baseDelayMs: 0,
    sleep: async () => {},
  });
  const audit = new DynamoAuditTrail({
    client: table.client,
    tableName: table.tableName,
    retentionDays: config.auditRetentionDays,
    clock,
  });
  const common = { store, engine, clock, logger, audit };
  const checkpoints = new CheckpointService(common);
  const approvals = new ApprovalService({
    ...common,
    notifier,
    config,
    signingKeys: fixedLinkSigningKeys(SIGNING_KEY),
  });
  const escalations = new EscalationService({ notifier, clock, logger, config, audit });
  const records = new RecordService({ store, clock, logger, audit });
  const learning = new LearningService({ store, clock, logger, audit });
  const control = new ControlService({ ...common, checkpoints });
  const runbooks = (
    options.runbooks ?? [
      'test/fixtures/library/runbooks/node-memory-pressure.yaml',
      'test/fixtures/library/runbooks/ec2-status-check-failed.yaml',
      'test/fixtures/library/runbooks/alb-target-5xx.yaml',
    ]
  ).map(loadRunbook);
  const classifier = new ClassifierService({
    ...common,
    notifier,
    config,
    selector: new RunbookSelector(runbooks),
  });
  const runner = new StepRunner({
    ...common,
    tools: toolRegistry(options.tools ?? []),
    config,
    checkpoints,
    approvals,
    escalations,
    records,
    abortPollMs: 20,
    verifyPollSeconds: 1,
    ...(options.waitScale === undefined ? {} : { waitScale: options.waitScale }),
  });
  return {
    table,
    clock,
    logger,
    config,
    sfn,
    sns,
    events,
    store,
    audit,
    engine,
    notifier,
    bus,
    services: { checkpoints, approvals, escalations, records, learning, control, classifier, runner },
    runbooks,
    normalize: normalizeOptions(config),
    async stop() {
      sfn.restore();
      sns.restore();
      events.restore();
      await table.stop();
    },
  };
}

export type AwsHarness = Awaited<ReturnType<typeof startAwsHarness>>;

/** A Lambda Function URL request (payload format 2.0), as the local server also builds. */
export function functionUrlEvent(
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string>; query?: Record<string, string> } = {},
) {
  const rawQueryString = new URLSearchParams(options.query ?? {}).toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString,
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(options.query ? { queryStringParameters: options.query } : {}),
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'url-id',
      domainName: 'autopilot.example.com',
      domainPrefix: 'autopilot',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.10', userAgent: 'vitest' },
      requestId: 'request-1',
      routeKey: '$default',
      stage: '$default',
      time: '25/Nov/2026:10:00:00 +0000',
      timeEpoch: 1_795_600_800_000,
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: false,
  };
}

/** A Lambda context good enough for handlers (remaining time). */
export function lambdaContext(remainingMs = 60_000) {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'runbook-autopilot-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:runbook-autopilot-test`,
    memoryLimitInMB: '512',
    awsRequestId: 'request-1',
    logGroupName: '/aws/lambda/runbook-autopilot-test',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_DESIGN } from '../../functions/adapters/aws/table-design.ts';
import { RuntimeConfig } from '../../functions/core/config.ts';
import { matchesEventPattern } from '../../functions/core/event-pattern.ts';
import { Substitution } from '../../functions/core/execution-contract.ts';
import { routeRules } from '../../functions/core/routing.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import { type EnvironmentConfig, FUNCTION_URL } from '../../infra/config/environment.ts';
import { ENVIRONMENTS_CONTEXT_KEY, parseEnvironments } from '../../infra/config/load.ts';
import { UNUSED_LINK_BASE } from '../../infra/config/runtime.ts';
import { type CompiledRunbook, loadCompiledRunbooks } from '../../infra/constructs/runbook-artifacts.ts';
import type { FunctionKey, RunbookAutopilotStack } from '../../infra/stacks/runbook-autopilot-stack.ts';
import { libraryStatemachinesDir } from '../support/library.ts';
import {
  CDK_JSON,
  type Json,
  logicalIdOf,
  propertiesOf,
  removeOutput,
  resolvedValue,
  resourcesOf,
  runNag,
  type Synthesized,
  synthesize,
} from './support.ts';

const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
const CONFIGS = parseEnvironments(CDK_JSON.context[ENVIRONMENTS_CONTEXT_KEY]);
const RUNBOOKS = loadCompiledRunbooks(libraryStatemachinesDir());
const FUNCTION_KEYS: FunctionKey[] = [
  'ingest',
  'classifier',
  'stepRunnerReadOnly',
  'stepRunnerMutating',
  'approvalRequest',
  'approvalWeb',
  'control',
  'learningRecorder',
];
const SUBSTITUTED_FUNCTION: Record<Substitution, FunctionKey> = {
  [Substitution.ReadOnlyRunner]: 'stepRunnerReadOnly',
  [Substitution.MutatingRunner]: 'stepRunnerMutating',
  [Substitution.ApprovalRequest]: 'approvalRequest',
};
/** The environment variables each function's wiring in functions/composition/aws.ts reads. */
const FUNCTION_VARIABLES: Record<FunctionKey, string[]> = {
  ingest: ['EVENT_BUS_NAME', 'INGEST_TOKEN_SECRET'],
  classifier: ['TABLE_NAME', 'STATE_MACHINE_ARN_PREFIX', 'APPROVALS_TOPIC_ARN', 'ESCALATIONS_TOPIC_ARN'],
  stepRunnerReadOnly: [
    'TABLE_NAME',
    'STATE_MACHINE_ARN_PREFIX',
    'APPROVALS_TOPIC_ARN',
    'ESCALATIONS_TOPIC_ARN',
    'APPROVAL_REQUEST_FUNCTION_NAME',
    // escalations carry signed pause/abort links
    'LINK_SIGNING_KEY_SECRET',
  ],
  stepRunnerMutating: [
    'TABLE_NAME',
    'STATE_MACHINE_ARN_PREFIX',
    'APPROVALS_TOPIC_ARN',
    'ESCALATIONS_TOPIC_ARN',
  ],
  approvalRequest: [
    'TABLE_NAME',
    'STATE_MACHINE_ARN_PREFIX',
    'APPROVALS_TOPIC_ARN',
    'ESCALATIONS_TOPIC_ARN',
    'LINK_SIGNING_KEY_SECRET',
  ],
  approvalWeb: [
    'TABLE_NAME',
    'STATE_MACHINE_ARN_PREFIX',
    'APPROVALS_TOPIC_ARN',
    'ESCALATIONS_TOPIC_ARN',
    'LINK_SIGNING_KEY_SECRET',
  ],
  control: [
    'TABLE_NAME',
    'STATE_MACHINE_ARN_PREFIX',
    'APPROVALS_TOPIC_ARN',
    'ESCALATIONS_TOPIC_ARN',
    'RUNBOOK_AUTOPILOT_API_AUTH_PARAMETER',
  ],
  learningRecorder: [
    'TABLE_NAME',
    'STATE_MACHINE_ARN_PREFIX',
    'APPROVALS_TOPIC_ARN',
    'ESCALATIONS_TOPIC_ARN',
    // the final notification carries signed report and feedback links
    'LINK_SIGNING_KEY_SECRET',
    // deferred alerts go back to the classifier through the runbooks bus
    'EVENT_BUS_NAME',
  ],
};

let synthesized: Synthesized;

beforeAll(() => {
  synthesized = synthesize({ cloudFormationValidation: true });
}, 120_000);

afterAll(() => removeOutput(synthesized));

function deployment(environment: string): {
  stack: RunbookAutopilotStack;
  template: Template;
  config: EnvironmentConfig;
} {
  const stack = synthesized.stacks.find((candidate) => candidate.environmentName === environment)!;
  return { stack, template: synthesized.templates[environment]!, config: CONFIGS[environment]! };
}

function functionResource(template: Template, stack: RunbookAutopilotStack, key: FunctionKey): Json {
  return template.toJSON().Resources[logicalIdOf(stack.functions[key].function)] as Json;
}

function variablesOf(template: Template, stack: RunbookAutopilotStack, key: FunctionKey): Json {
  return ((propertiesOf(functionResource(template, stack, key)).Environment as Json).Variables ?? {}) as Json;
}

/** Statements of the policies attached to a role. */
function statementsOf(template: Template, roleLogicalId: string): Json[] {
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((policy) => (propertiesOf(policy).Roles as Json[]).some((role) => role.Ref === roleLogicalId))
    .flatMap((policy) => (propertiesOf(policy).PolicyDocument as { Statement: Json[] }).Statement);
}

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** A template value with CloudFormation functions replaced by readable markers. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Json;
  if (object['Fn::Join']) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  if (object['Fn::GetAtt']) return `<${(object['Fn::GetAtt'] as string[]).join('.')}>`;
  if (object.Ref) return `<${object.Ref as string}>`;
  return JSON.stringify(value);
}

describe.each(ENVIRONMENT_NAMES)('the %s stack', (environment) => {
  it('is runbook-autopilot-<env> in the account and region of its config', () => {
    const { stack, config } = deployment(environment);
    expect(stack.stackName).toBe(`runbook-autopilot-${environment}`);
    expect(stack.account).toBe(config.account);
    expect(stack.region).toBe(config.region);
  });

  describe('state machines', () => {
    it.each(RUNBOOKS.map((runbook) => [runbook.id, runbook] as const))(
      '%s: Standard, deployed from the exact bytes of its statemachines/ file, ARNs substituted',
      (_id, runbook: CompiledRunbook) => {
        // Prepare
        const { stack, template } = deployment(environment);
        const machine = Object.values(resourcesOf(template, 'AWS::StepFunctions::StateMachine')).find(
          (resource) =>
            propertiesOf(resource).StateMachineName === `runbook-autopilot-${environment}-${runbook.id}`,
        );
        expect(machine).toBeDefined();
        const properties = propertiesOf(machine!);
        const location = properties.DefinitionS3Location as { Key: string };
        const deployed = readFileSync(join(synthesized.outdir, `asset.${location.Key}`), 'utf8');
        const committed = readFileSync(runbook.file, 'utf8');

        // Assess: the same bytes the embedded platform runs
        expect(properties.StateMachineType).toBe('STANDARD');
        expect(deployed).toBe(committed);
        // …and after substitution, every `${…}` is the ARN of the function it names, nothing else is left
        const substitutions = properties.DefinitionSubstitutions as Record<string, unknown>;
        expect(Object.keys(substitutions).sort()).toEqual([...runbook.substitutions].sort());
        let substituted = deployed;
        for (const [name, value] of Object.entries(substitutions)) {
          expect(value).toEqual({
            'Fn::GetAtt': [
              logicalIdOf(stack.functions[SUBSTITUTED_FUNCTION[name as Substitution]].function),
              'Arn',
            ],
          });
          substituted = substituted.replaceAll(`\${${name}}`, render(value));
        }
        expect(substituted).not.toMatch(/\$\{/);
        const expected = structuredClone(runbook.definition) as unknown;
        const withArns = JSON.parse(
          JSON.stringify(expected).replace(/\$\{(\w+)\}/g, (_match, name: string) =>
            render({
              'Fn::GetAtt': [
                logicalIdOf(stack.functions[SUBSTITUTED_FUNCTION[name as Substitution]].function),
                'Arn',
              ],
            }),
          ),
        );
        expect(JSON.parse(substituted)).toEqual(withArns);
        // Logging (every event) and tracing on
        expect(properties.LoggingConfiguration).toMatchObject({ Level: 'ALL' });
        expect(properties.TracingConfiguration).toEqual({ Enabled: true });
      },
    );

    it('each machine may invoke only the functions its own definition names', () => {
      const { stack, template } = deployment(environment);
      for (const { runbook, stateMachine } of stack.stateMachines.machines) {
        const invoke = statementsOf(template, logicalIdOf(stateMachine.role)).filter(
          (statement) => statement.Action === 'lambda:InvokeFunction',
        );
        expect(invoke).toHaveLength(1);
        expect(list(invoke[0]!.Resource)).toEqual(
          runbook.substitutions.map((name) => ({
            'Fn::GetAtt': [logicalIdOf(stack.functions[SUBSTITUTED_FUNCTION[name]].function), 'Arn'],
          })),
        );
      }
    });
  });

  describe('functions', () => {
    it('one NodejsFunction per handler (two step runners): nodejs22.x, arm64, traced, each with its own role', () => {
      const { stack, template } = deployment(environment);
      template.resourceCountIs('AWS::Lambda::Function', FUNCTION_KEYS.length);
      const roles = new Set<string>();
      for (const key of FUNCTION_KEYS) {
        const properties = propertiesOf(functionResource(template, stack, key));
        expect(properties).toMatchObject({
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          TracingConfig: { Mode: 'Active' },
        });
        expect((properties.Environment as Json).Variables).toMatchObject({
          NODE_OPTIONS: '--enable-source-maps',
        });
        roles.add(JSON.stringify(properties.Role));
      }
      expect(roles.size).toBe(FUNCTION_KEYS.length);
    });

    it('each function gets the variables its wiring reads, and a RUNBOOK_AUTOPILOT_CONFIG the runtime accepts', () => {
      const { stack, template, config } = deployment(environment);
      const [approvalWebUrlId] = Object.entries(resourcesOf(template, 'AWS::Lambda::Url')).find(
        ([, url]) =>
          JSON.stringify(propertiesOf(url).TargetFunctionArn) ===
          JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(stack.functions.approvalWeb.function), 'Arn'] }),
      )!;
      for (const key of FUNCTION_KEYS) {
        // Prepare
        const variables = variablesOf(template, stack, key);

        // Assess: exactly what composition/aws.ts needs for this function, plus the shared ones
        expect(Object.keys(variables).sort()).toEqual(
          [
            ...FUNCTION_VARIABLES[key],
            'RUNBOOK_AUTOPILOT_CONFIG',
            'POWERTOOLS_LOG_LEVEL',
            'NODE_OPTIONS',
          ].sort(),
        );
        const runtime = RuntimeConfig.parse(
          JSON.parse(render(variables.RUNBOOK_AUTOPILOT_CONFIG).replace(/<[^>]+>/g, 'https://fn.example/')),
        );
        expect(runtime.environment).toBe(environment);
        expect(runtime.policy).toEqual(config.policy);
        expect(runtime.retentionDays).toBe(config.retention.recordsDays);
        // Links point at the approval pages; approval-web itself builds none (it cannot name its own URL)
        const base = JSON.parse(render(variables.RUNBOOK_AUTOPILOT_CONFIG)).publicBaseUrl as string;
        if (config.publicBaseUrl !== FUNCTION_URL) expect(base).toBe(config.publicBaseUrl);
        else if (key === 'approvalWeb') expect(base).toBe(UNUSED_LINK_BASE);
        else expect(base).toBe(`<${approvalWebUrlId}.FunctionUrl>`);
      }
      expect(variablesOf(template, stack, 'ingest').INGEST_TOKEN_SECRET).toBe(
        `runbook-autopilot/${environment}/ingest-token`,
      );
      expect(variablesOf(template, stack, 'classifier').STATE_MACHINE_ARN_PREFIX).toBe(
        `arn:aws:states:${config.region}:${config.account}:stateMachine:runbook-autopilot-${environment}-`,
      );
    });

    it('the classifier and learning recorder retry a failed event twice, then send it to their queue', () => {
      const { stack, template } = deployment(environment);
      for (const [key, queue] of [
        ['classifier', 'ClassifierFailures'],
        ['learningRecorder', 'LearningRecorderFailures'],
      ] as const) {
        template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
          FunctionName: { Ref: logicalIdOf(stack.functions[key].function) },
          MaximumRetryAttempts: 2,
          MaximumEventAgeInSeconds: 21_600,
          DestinationConfig: {
            OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^${queue}`), 'Arn'] } },
          },
        });
      }
    });

    it('serves ingest and approvals on public Function URLs (the handlers authenticate) and control with IAM', () => {
      const { stack, template } = deployment(environment);
      for (const [key, authType] of [
        ['ingest', 'NONE'],
        ['approvalWeb', 'NONE'],
        ['control', 'AWS_IAM'],
      ] as const) {
        template.hasResourceProperties('AWS::Lambda::Url', {
          AuthType: authType,
          TargetFunctionArn: { 'Fn::GetAtt': [logicalIdOf(stack.functions[key].function), 'Arn'] },
        });
      }
      template.resourceCountIs('AWS::Lambda::Url', 3);
      // Since October 2025 a Function URL needs both actions: the public two grant them to anyone
      const permissions = Object.values(resourcesOf(template, 'AWS::Lambda::Permission')).map(propertiesOf);
      for (const key of ['ingest', 'approvalWeb'] as const) {
        const mine = permissions.filter(
          (permission) =>
            JSON.stringify(permission.FunctionName) ===
              JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(stack.functions[key].function), 'Arn'] }) &&
            permission.Principal === '*',
        );
        expect(
          mine
            .map((permission) => [
              permission.Action,
              permission.FunctionUrlAuthType,
              permission.InvokedViaFunctionUrl,
            ])
            .sort(),
        ).toEqual([
          ['lambda:InvokeFunction', undefined, true],
          ['lambda:InvokeFunctionUrl', 'NONE', undefined],
        ]);
      }
      expect(
        permissions.filter((permission) =>
          JSON.stringify(permission.FunctionName).includes(logicalIdOf(stack.functions.control.function)),
        ),
      ).toEqual([]);
      expect(template.findOutputs('ControlFunctionArn')).toEqual({
        ControlFunctionArn: expect.objectContaining({
          Value: { 'Fn::GetAtt': [logicalIdOf(stack.functions.control.function), 'Arn'] },
        }),
      });
    });

    it('caps the public Function URLs with reserved concurrency, so a flood cannot starve the step runners', () => {
      const { stack, template, config } = deployment(environment);
      const reserved = (key: FunctionKey) =>
        propertiesOf(functionResource(template, stack, key)).ReservedConcurrentExecutions;
      expect(reserved('ingest')).toBe(config.reservedConcurrency.ingest);
      expect(reserved('approvalWeb')).toBe(config.reservedConcurrency.approvalWeb);
      expect(config.reservedConcurrency.ingest).toBeGreaterThan(0);
      expect(config.reservedConcurrency.approvalWeb).toBeGreaterThan(0);
      // Everything else draws on the account's unreserved pool, which the caps leave to them
      for (const key of FUNCTION_KEYS.filter((key) => key !== 'ingest' && key !== 'approvalWeb'))
        expect(reserved(key), key).toBeUndefined();
    });
  });

  describe('least privilege', () => {
    it('no policy grants a wildcard action', () => {
      const { template } = deployment(environment);
      const actions = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap((policy) =>
        (propertiesOf(policy).PolicyDocument as { Statement: Json[] }).Statement.flatMap((statement) =>
          list(statement.Action),
        ),
      );
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((action) => String(action).includes('*'))).toEqual([]);
    });

    it('the read-only step runner gets only what read-only tools declare, besides its own platform needs', () => {
      const { stack, template } = deployment(environment);
      const actions = statementsOf(template, logicalIdOf(stack.functions.stepRunnerReadOnly.role)).flatMap(
        (statement) => list(statement.Action) as string[],
      );
      const platform =
        /^(logs:(CreateLogStream|PutLogEvents)|xray:|dynamodb:|states:SendTask(Success|Failure)$|sns:Publish$|kms:(Decrypt|GenerateDataKey)$|eks:DescribeCluster$|lambda:InvokeFunction$|secretsmanager:GetSecretValue$)/;
      const readOnlyToolActions = new Set(
        TOOL_CATALOG.names()
          .map((name) => TOOL_CATALOG.get(name)!)
          .filter((declaration) => !declaration.mutating)
          .flatMap((declaration) => declaration.permissions.iam ?? []),
      );
      const toolActions = actions.filter((action) => !platform.test(action));
      expect(toolActions.length).toBeGreaterThan(0);
      expect(toolActions.filter((action) => !readOnlyToolActions.has(action))).toEqual([]);
      expect(actions).not.toContain('ec2:RebootInstances');
      expect(actions).not.toContain('ssm:SendCommand');
    });

    it('the read-only step runner may invoke the approval-request function and no other (risk and approve-level approvals at checkpoints), and reads only the link-signing key', () => {
      const { stack, template } = deployment(environment);
      const runner = statementsOf(template, logicalIdOf(stack.functions.stepRunnerReadOnly.role));
      const invoke = runner.filter((statement) => list(statement.Action).includes('lambda:InvokeFunction'));
      // It reads the link-signing key for the pause/abort links its escalations carry, nothing else.
      const secretReads = runner.filter((statement) =>
        list(statement.Action).some((action) => String(action).startsWith('secretsmanager:')),
      );
      expect(secretReads.map((statement) => statement.Action)).toEqual(['secretsmanager:GetSecretValue']);
      expect(invoke).toHaveLength(1);
      expect(JSON.stringify(invoke[0]!.Resource)).toContain(
        logicalIdOf(stack.functions.approvalRequest.function),
      );
      const expire = statementsOf(template, logicalIdOf(stack.functions.approvalRequest.role)).filter(
        (statement) => list(statement.Action).some((action) => String(action).startsWith('states:')),
      );
      expect(expire.flatMap((statement) => list(statement.Action))).toEqual(['states:SendTaskFailure']);
    });

    it('the learning recorder reads the link-signing key (final notification links) and publishes to the two notification topics', () => {
      const { stack, template } = deployment(environment);
      const statements = statementsOf(template, logicalIdOf(stack.functions.learningRecorder.role));
      const secretReads = statements.filter((statement) =>
        list(statement.Action).some((action) => String(action).startsWith('secretsmanager:')),
      );
      expect(secretReads).toEqual([
        expect.objectContaining({ Sid: 'ReadLinkSigningKey', Action: 'secretsmanager:GetSecretValue' }),
      ]);
      const secretId = (secretReads[0]!.Resource as { Ref: string }).Ref;
      expect(propertiesOf(template.toJSON().Resources[secretId] as Json).Name).toMatch(/link-signing-key$/);
      // Escalations and demotions on the escalations topic; the final notification to approvers on theirs.
      const publishing = statements.filter((statement) => list(statement.Action).includes('sns:Publish'));
      expect(new Set(publishing.map((statement) => (statement.Resource as { Ref: string }).Ref))).toEqual(
        new Set([logicalIdOf(stack.notifications.escalations), logicalIdOf(stack.notifications.approvals)]),
      );
    });

    it('the mutating step runner gets its tools and the store, never the platform’s own functions', () => {
      const { stack, template, config } = deployment(environment);
      const statements = statementsOf(template, logicalIdOf(stack.functions.stepRunnerMutating.role));
      const actions = statements.flatMap((statement) => list(statement.Action) as string[]);
      expect(actions).toEqual(expect.arrayContaining(['ec2:RebootInstances', 'ssm:SendCommand']));
      expect(actions.filter((action) => action.startsWith('states:'))).toEqual([]);
      // It pages about a stuck change on the escalations topic alone, and signs no links (no key read).
      const publishing = statements.filter((statement) => list(statement.Action).includes('sns:Publish'));
      expect(publishing).toEqual([
        expect.objectContaining({
          Sid: 'PublishStuckStepEscalations',
          Resource: { Ref: logicalIdOf(stack.notifications.escalations) },
        }),
      ]);
      expect(actions).not.toContain('secretsmanager:GetSecretValue');
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Resource: `arn:aws:lambda:*:${config.account}:function:runbook-autopilot-${environment}-*`,
        }),
      );
    });

    it('lets the step runners act in the environment’s regions only, never in any region', () => {
      const { stack, template, config } = deployment(environment);
      for (const key of ['stepRunnerReadOnly', 'stepRunnerMutating'] as const) {
        const allowed = statementsOf(template, logicalIdOf(stack.functions[key].role))
          .filter((statement) => statement.Effect !== 'Deny')
          .flatMap((statement) => list(statement.Resource))
          .filter((resource): resource is string => typeof resource === 'string');
        expect(
          allowed.filter((resource) => /^arn:[^:]+:[^:]+:\*:/.test(resource)),
          key,
        ).toEqual([]);
      }
      const mutating = statementsOf(template, logicalIdOf(stack.functions.stepRunnerMutating.role));
      expect(mutating).toContainEqual(
        expect.objectContaining({
          Action: expect.arrayContaining(['ec2:RebootInstances']),
          Resource: `arn:aws:ec2:${config.region}:${config.account}:instance/*`,
        }),
      );
    });

    it('SendTaskSuccess/Failure and StartExecution are scoped to this stack’s state machines', () => {
      const { stack, template, config } = deployment(environment);
      const machines = RUNBOOKS.map(
        (runbook) =>
          `arn:aws:states:${config.region}:${config.account}:stateMachine:runbook-autopilot-${environment}-${runbook.id}`,
      );
      const rollbacks = `arn:aws:states:${config.region}:${config.account}:stateMachine:runbook-autopilot-${environment}-Rollback`;
      const scopedOf = (key: FunctionKey) =>
        statementsOf(template, logicalIdOf(stack.functions[key].role)).filter((statement) =>
          list(statement.Action).some((action) => /^states:(SendTask|StartExecution)/.test(String(action))),
        );
      const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap(
        (policy) => (propertiesOf(policy).PolicyDocument as { Statement: Json[] }).Statement,
      );
      const scoped = statements.filter((statement) =>
        list(statement.Action).some((action) => /^states:(SendTask|StartExecution)/.test(String(action))),
      );
      // The classifier starts runbooks only; the approval-request function fails checkpoints whose risk
      // approval expired (runbook machines only); the control API (manual starts, rollbacks) and those
      // that answer waiting tasks (approvals of rollbacks too) reach the rollback machine as well.
      expect(scoped).toHaveLength(6);
      expect(scopedOf('classifier').map((statement) => list(statement.Resource))).toEqual([machines]);
      expect(scopedOf('approvalRequest').map((statement) => list(statement.Resource))).toEqual([machines]);
      for (const key of ['stepRunnerReadOnly', 'approvalWeb', 'control'] as const)
        for (const statement of scopedOf(key))
          expect(list(statement.Resource)).toEqual([...machines, rollbacks]);
      expect(scopedOf('control')).toHaveLength(2);
    });
  });

  describe('events', () => {
    it('deploys the routing rules the embedded platform matches with, each target with retries and a DLQ', () => {
      const { stack, template } = deployment(environment);
      const rules = Object.values(resourcesOf(template, 'AWS::Events::Rule'))
        .map(propertiesOf)
        .filter((rule) => rule.EventPattern !== undefined);
      const routes = routeRules({ stateMachineArnPrefix: stack.stateMachineArnPrefix });
      expect(rules).toHaveLength(routes.length);
      for (const route of routes) {
        const rule = rules.find(
          (candidate) => JSON.stringify(candidate.EventPattern) === JSON.stringify(route.pattern),
        );
        expect(rule, route.name).toBeDefined();
        if (route.bus === 'runbooks')
          expect(rule!.EventBusName).toEqual({ Ref: logicalIdOf(stack.routing.bus) });
        else expect(rule!.EventBusName).toBeUndefined();
        const handler = route.target === 'classifier' ? 'classifier' : 'learningRecorder';
        expect(rule!.Targets).toEqual([
          expect.objectContaining({
            Arn: { 'Fn::GetAtt': [logicalIdOf(stack.functions[handler].function), 'Arn'] },
            RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7_200 },
            DeadLetterConfig: {
              Arn: { 'Fn::GetAtt': [logicalIdOf(stack.routing.deliveryDeadLetters), 'Arn'] },
            },
          }),
        ]);
      }
      template.hasResourceProperties('AWS::Events::EventBus', { Name: `runbook-autopilot-${environment}` });
    });

    it('reminds approvers on a schedule: every minute, the approval-request function, no retries', () => {
      const { stack, template, config } = deployment(environment);
      const schedules = Object.values(resourcesOf(template, 'AWS::Events::Rule'))
        .map(propertiesOf)
        .filter((rule) => rule.ScheduleExpression !== undefined && String(rule.Name).endsWith('-reminders'));
      expect(config.approvals.reminderAfter).toBe(300);
      expect(schedules).toEqual([
        expect.objectContaining({
          Name: `runbook-autopilot-${environment}-approval-reminders`,
          ScheduleExpression: 'rate(1 minute)',
          State: 'ENABLED',
          Targets: [
            expect.objectContaining({
              Arn: { 'Fn::GetAtt': [logicalIdOf(stack.functions.approvalRequest.function), 'Arn'] },
              RetryPolicy: { MaximumRetryAttempts: 0 },
            }),
          ],
        }),
      ]);
      expect(schedules[0]!.EventBusName).toBeUndefined();
      const runtime = RuntimeConfig.parse(
        JSON.parse(resolvedValue(variablesOf(template, stack, 'approvalRequest').RUNBOOK_AUTOPILOT_CONFIG)),
      );
      expect(runtime.approvalReminderSeconds).toBe(300);
    });

    it('sweeps deferred alerts behind an expired change lock on a schedule: every minute, the learning recorder, no retries', () => {
      const { stack, template } = deployment(environment);
      const sweeps = Object.values(resourcesOf(template, 'AWS::Events::Rule'))
        .map(propertiesOf)
        .filter((rule) => rule.Name === `runbook-autopilot-${environment}-deferred-alert-sweep`);
      expect(sweeps).toEqual([
        expect.objectContaining({
          ScheduleExpression: 'rate(1 minute)',
          State: 'ENABLED',
          Targets: [
            expect.objectContaining({
              Arn: { 'Fn::GetAtt': [logicalIdOf(stack.functions.learningRecorder.function), 'Arn'] },
              RetryPolicy: { MaximumRetryAttempts: 0 },
            }),
          ],
        }),
      ]);
      // On the default bus, where schedules live; EventBridge may invoke the function.
      expect(sweeps[0]!.EventBusName).toBeUndefined();
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [logicalIdOf(stack.functions.learningRecorder.function), 'Arn'] },
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [logicalIdOf(stack.deferredAlertSweep), 'Arn'] },
      });
    });

    it('hears only its own executions stopping', () => {
      const { stack, config } = deployment(environment);
      const status = routeRules({ stateMachineArnPrefix: stack.stateMachineArnPrefix }).find(
        (route) => route.target === 'learning-recorder',
      )!;
      const event = (machine: string) => ({
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        detail: {
          status: 'FAILED',
          stateMachineArn: `arn:aws:states:${config.region}:${config.account}:stateMachine:${machine}`,
        },
      });
      expect(
        matchesEventPattern(status.pattern, event(`runbook-autopilot-${environment}-lambda-throttling`)),
      ).toBe(true);
      expect(matchesEventPattern(status.pattern, event('someone-elses-machine'))).toBe(false);
    });
  });

  describe('data, secrets and notifications', () => {
    it('the table: on-demand, point-in-time recovery, TTL, the store’s keys and KEYS_ONLY indexes', () => {
      const { template } = deployment(environment);
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: TABLE_DESIGN.ttlAttribute, Enabled: true },
        KeySchema: [
          { AttributeName: TABLE_DESIGN.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_DESIGN.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: TABLE_DESIGN.globalIndexes.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        })),
      });
    });

    it('the ingest token and link-signing key are generated by Secrets Manager, never in the template', () => {
      const { template } = deployment(environment);
      for (const name of ['ingest-token', 'link-signing-key']) {
        template.hasResourceProperties('AWS::SecretsManager::Secret', {
          Name: `runbook-autopilot/${environment}/${name}`,
          GenerateSecretString: Match.objectLike({ ExcludePunctuation: true }),
        });
      }
      expect(JSON.stringify(template.toJSON())).not.toContain('"SecretString"');
    });

    it('approvers and escalation targets subscribe by e-mail, each filtered to what is theirs', () => {
      const { stack, template, config } = deployment(environment);
      const subscriptions = Object.values(resourcesOf(template, 'AWS::SNS::Subscription')).map(propertiesOf);
      const topicOf = (topic: { node: unknown }) => ({ Ref: logicalIdOf(topic as never) });
      const on = (topic: { node: unknown }) =>
        subscriptions.filter(
          (subscription) => JSON.stringify(subscription.TopicArn) === JSON.stringify(topicOf(topic)),
        );
      const approvers = [...new Set(Object.values(config.approverGroups).flat())].sort();
      expect(on(stack.notifications.approvals).map((s) => [s.Endpoint, s.Protocol, s.FilterPolicy])).toEqual(
        approvers.map((email) => [email, 'email', { recipient: [email] }]),
      );
      const targets = [...new Set(Object.values(config.escalationTargets).flat())].sort();
      expect(on(stack.notifications.escalations).map((s) => [s.Endpoint, s.FilterPolicy])).toEqual(
        targets.map((email) => [email, { recipient: [email, { exists: false }] }]),
      );
      const alarmed = [
        ...new Set(config.alarms.notify.flatMap((target) => config.escalationTargets[target]!)),
      ].sort();
      expect(on(stack.notifications.platformAlarms).map((s) => [s.Endpoint, s.FilterPolicy])).toEqual(
        alarmed.map((email) => [email, undefined]),
      );
      for (const topic of Object.values(resourcesOf(template, 'AWS::SNS::Topic'))) {
        expect(propertiesOf(topic).KmsMasterKeyId).toBeDefined();
      }
    });
  });

  describe('alarms on the platform itself', () => {
    it('watch dead letters, function errors, failed executions and expired approvals, and notify the alarm topic', () => {
      const { stack, template, config } = deployment(environment);
      const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map(propertiesOf);
      const topic = { Ref: logicalIdOf(stack.notifications.platformAlarms) };
      expect(alarms).toHaveLength(3 + 2 * FUNCTION_KEYS.length + 2 * RUNBOOKS.length + 1);
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toEqual([topic]);
        expect(alarm.OKActions).toEqual([topic]);
      }
      const named = (suffix: string) =>
        alarms.find((alarm) => alarm.AlarmName === `runbook-autopilot-${environment}-${suffix}`)!;
      expect(named('dlq-event-delivery')).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: config.alarms.deadLetters.threshold,
      });
      expect(named('errors-step-runner-mutating')).toMatchObject({
        MetricName: 'Errors',
        Threshold: config.alarms.handlerErrors.threshold,
        Period: config.alarms.handlerErrors.period,
      });
      // Errors and throttles are separate metrics: a throttled invocation is never counted in Errors
      expect(named('errors-step-runner-mutating').AlarmDescription).not.toMatch(/throttl/i);
      for (const key of FUNCTION_KEYS) {
        const fn = { Ref: logicalIdOf(stack.functions[key].function) };
        expect(named(`throttles-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)).toMatchObject({
          Namespace: 'AWS/Lambda',
          MetricName: 'Throttles',
          Statistic: 'Sum',
          Dimensions: [{ Name: 'FunctionName', Value: fn }],
          Threshold: config.alarms.throttles.threshold,
          Period: config.alarms.throttles.period,
        });
      }
      expect(named('failed-ec2-status-check-failed').Threshold).toBe(
        config.alarms.failedExecutions.threshold,
      );
      // Executions stopped from outside (StopExecution) or over their time end without rollback or escalation
      for (const { runbook, stateMachine } of stack.stateMachines.machines) {
        const stopped = named(`stopped-${runbook.id}`);
        expect(stopped.Threshold).toBe(config.alarms.stoppedExecutions.threshold);
        const metrics = stopped.Metrics as Json[];
        const stat = (name: string) =>
          metrics.find((metric) => ((metric.MetricStat as Json)?.Metric as Json)?.MetricName === name)
            ?.MetricStat as Json | undefined;
        for (const name of ['ExecutionsAborted', 'ExecutionsTimedOut']) {
          expect(stat(name), `${runbook.id} ${name}`).toMatchObject({
            Metric: {
              Namespace: 'AWS/States',
              Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: logicalIdOf(stateMachine) } }],
            },
            Stat: 'Sum',
            Period: config.alarms.stoppedExecutions.period,
          });
        }
        expect(metrics.find((metric) => metric.Expression !== undefined)?.ReturnData).not.toBe(false);
      }
      expect(named('expired-approvals')).toMatchObject({
        Namespace: `RunbookAutopilot/${environment}`,
        MetricName: 'ExpiredApprovals',
        Threshold: config.alarms.expiredApprovals.threshold,
      });
      template.hasResourceProperties('AWS::Logs::MetricFilter', {
        LogGroupName: { Ref: logicalIdOf(stack.stateMachines.logGroup) },
        FilterPattern: '{ ($.type = "PassStateEntered") && ($.details.name = "Approval expired: *") }',
      });
    });
  });

  it('passes cdk-nag AwsSolutions: no unacknowledged finding, every acknowledgement used and explained', () => {
    const { stack } = deployment(environment);
    const nag = runNag(stack);
    expect(nag.violations).toEqual([]);
    expect(nag.acknowledgements.filter((acknowledgement) => !acknowledgement.used)).toEqual([]);
    for (const acknowledgement of nag.acknowledgements)
      expect(acknowledgement.reason.length).toBeGreaterThan(40);
  });
});

describe('prod differs from dev where cdk.json says', () => {
  it('protects prod data: deletion protection, RETAIN, termination protection', () => {
    const dev = deployment('dev');
    const prod = deployment('prod');
    prod.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
    dev.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
    prod.template.allResources('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain' });
    dev.template.allResources('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
    expect(prod.stack.terminationProtection).toBe(true);
    expect(dev.stack.terminationProtection).toBe(false);
  });

  it('logs at each environment’s level and keeps logs and records as long as it says', () => {
    const dev = deployment('dev');
    const prod = deployment('prod');
    expect(variablesOf(dev.template, dev.stack, 'classifier').POWERTOOLS_LOG_LEVEL).toBe('DEBUG');
    expect(variablesOf(prod.template, prod.stack, 'classifier').POWERTOOLS_LOG_LEVEL).toBe('INFO');
    dev.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
    prod.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    dev.template.allResourcesProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ IncludeExecutionData: true }),
    });
    prod.template.allResourcesProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ IncludeExecutionData: false }),
    });
  });

  it('carries each environment’s policy and people to the functions and the alarm recipients', () => {
    const configOf = (environment: string) => {
      const { stack, template } = deployment(environment);
      return JSON.parse(
        render(variablesOf(template, stack, 'classifier').RUNBOOK_AUTOPILOT_CONFIG),
      ) as RuntimeConfig;
    };
    expect(configOf('dev').policy.approval.requiredFromRisk).toBe('critical');
    expect(configOf('prod').policy.approval.requiredFromRisk).toBe('medium');
    expect(configOf('dev').retentionDays).toBe(30);
    expect(configOf('prod').retentionDays).toBe(365);
    expect(configOf('prod').approverGroups['sre-oncall']).toEqual(['alice@example.com', 'bob@example.com']);
    const alarmRecipients = (environment: string) =>
      Object.values(resourcesOf(deployment(environment).template, 'AWS::SNS::Subscription'))
        .map(propertiesOf)
        .filter((subscription) => subscription.FilterPolicy === undefined)
        .map((subscription) => subscription.Endpoint);
    expect(alarmRecipients('dev')).toEqual(['oncall@example.com']);
    expect(alarmRecipients('prod')).toEqual(['oncall@example.com', 'pager@example.com']);
  });
});

describe('synthesis', () => {
  it('passes aws-cdk-lib’s built-in CloudFormation validation', () => {
    const report = JSON.parse(readFileSync(join(synthesized.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
  });

  it('approvals.reminderAfter: off deploys no reminder schedule and tells the functions so', () => {
    // Prepare
    const environments = structuredClone(CDK_JSON.context[ENVIRONMENTS_CONTEXT_KEY]) as Record<string, Json>;
    (environments.dev!.approvals as Json).reminderAfter = 'off';

    // Act
    const only = synthesize({ context: { env: 'dev', [ENVIRONMENTS_CONTEXT_KEY]: environments } });

    // Assess
    const template = only.templates.dev!;
    const schedules = Object.values(resourcesOf(template, 'AWS::Events::Rule'))
      .map(propertiesOf)
      .filter((rule) => rule.ScheduleExpression !== undefined);
    // The deferred-alert sweep stays: it has nothing to do with reminders.
    expect(schedules.map((rule) => rule.Name)).toEqual(['runbook-autopilot-dev-deferred-alert-sweep']);
    const stack = only.stacks[0]!;
    expect(stack.approvalReminders).toBeUndefined();
    const runtime = RuntimeConfig.parse(
      JSON.parse(resolvedValue(variablesOf(template, stack, 'approvalRequest').RUNBOOK_AUTOPILOT_CONFIG)),
    );
    expect(runtime.approvalReminderSeconds).toBe(0);
    removeOutput(only);
  });

  it('regions and mutatingResourceTag scope what the mutating step runner may change', () => {
    // Prepare
    const environments = structuredClone(CDK_JSON.context[ENVIRONMENTS_CONTEXT_KEY]) as Record<string, Json>;
    environments.dev!.regions = ['eu-west-1', 'eu-central-1'];
    environments.dev!.mutatingResourceTag = { key: 'runbook-autopilot', value: 'enabled' };

    // Act
    const only = synthesize({ context: { env: 'dev', [ENVIRONMENTS_CONTEXT_KEY]: environments } });

    // Assess
    const stack = only.stacks[0]!;
    const statements = statementsOf(
      only.templates.dev!,
      logicalIdOf(stack.functions.stepRunnerMutating.role),
    );
    const reboot = statements.find((statement) => list(statement.Action).includes('ec2:RebootInstances'))!;
    expect(reboot.Resource).toEqual([
      'arn:aws:ec2:eu-west-1:111111111111:instance/*',
      'arn:aws:ec2:eu-central-1:111111111111:instance/*',
    ]);
    expect(reboot.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/runbook-autopilot': 'enabled' } });
    const reads = statements.filter((statement) =>
      list(statement.Action).some((action) => String(action).startsWith('ec2:Describe')),
    );
    for (const statement of reads) expect(statement.Condition).toBeUndefined();
    removeOutput(only);
  });

  it('-c env=prod synthesizes the prod stack only', () => {
    const only = synthesize({ context: { env: 'prod' } });
    expect(only.stacks.map((stack) => stack.stackName)).toEqual(['runbook-autopilot-prod']);
    removeOutput(only);
  });
});

import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Substitution } from '../../functions/core/execution-contract.ts';
import type { ToolDeclaration } from '../../functions/core/tool-catalog.ts';
import { TOOL_CATALOG, TOOL_DECLARATIONS } from '../../functions/tools/declarations.ts';
import {
  compiledRunbook,
  loadCompiledRunbooks,
  RunbookArtifactError,
} from '../../infra/constructs/runbook-artifacts.ts';
import {
  ACTION_RULES,
  type PermissionScope,
  runCommandDocuments,
  ToolPermissionError,
  toolPolicy,
} from '../../infra/constructs/tool-permissions.ts';
import { libraryStatemachinesDir } from '../support/library.ts';

const SCOPE: PermissionScope = {
  partition: 'aws',
  account: '111111111111',
  regions: ['eu-west-1'],
  escalationsTopicArn: 'arn:aws:sns:eu-west-1:111111111111:escalations',
};
const RUNBOOKS = loadCompiledRunbooks(libraryStatemachinesDir());
const AWS_DECLARATIONS: ToolDeclaration[] = (TOOL_DECLARATIONS as readonly ToolDeclaration[]).filter(
  (declaration) => declaration.runtimes?.includes('aws') !== false,
);
const actionsOf = (tools: Iterable<string>) =>
  new Set([...tools].flatMap((tool) => TOOL_CATALOG.get(tool)?.permissions.iam ?? []));

describe('compiled runbooks as infra deploys them', () => {
  it('loads every machine of the catalog with the substitutions it uses', () => {
    // Assess
    expect(RUNBOOKS.map((runbook) => runbook.id)).toEqual([
      'alb-target-5xx',
      'ec2-status-check-failed',
      'lambda-throttling',
      'node-filesystem-filling',
      'node-memory-pressure',
      'pod-crash-looping',
    ]);
    for (const runbook of RUNBOOKS) {
      expect(runbook.substitutions.length).toBeGreaterThan(0);
      expect(Object.values(Substitution)).toEqual(expect.arrayContaining(runbook.substitutions));
    }
  });

  it('finds the tools each runner variant runs from the Task states themselves', () => {
    // Prepare
    const ec2 = RUNBOOKS.find((runbook) => runbook.id === 'ec2-status-check-failed')!;

    // Assess
    expect(ec2.tools[Substitution.MutatingRunner]).toEqual(['ec2.reboot-instances']);
    expect(ec2.tools[Substitution.ReadOnlyRunner]).toEqual(
      expect.arrayContaining(['ec2.describe-instance-status', 'cloudwatch.get-metric-data']),
    );
    expect(ec2.tools[Substitution.ApprovalRequest]).toEqual([]);
  });

  it('refuses a machine with a substitution infra does not fill, and a machine without a catalog entry', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'statemachines-'));
    const source = join(libraryStatemachinesDir(), 'lambda-throttling.asl.json');
    writeFileSync(
      join(dir, 'bad.asl.json'),
      readFileSync(source, 'utf8').replace(`\${${Substitution.ReadOnlyRunner}}`, '$${SomethingElseArn}'),
    );
    copyFileSync(join(libraryStatemachinesDir(), 'runbooks.json'), join(dir, 'runbooks.json'));

    // Act / Assess
    expect(() => compiledRunbook(join(dir, 'bad.asl.json'), RUNBOOKS[0]!.runbook)).toThrow(
      /unknown substitution\(s\) \$\{SomethingElseArn\}/,
    );
    expect(() => loadCompiledRunbooks(dir)).toThrow(RunbookArtifactError);
    expect(() => loadCompiledRunbooks(dir)).toThrow(
      /bad\.asl\.json has no entry in .*runbooks\.json: run npm run compile/,
    );
  });
});

describe('step runner permissions derived from tool declarations', () => {
  it('knows where every IAM action of every AWS tool may act, and no tool declares a wildcard action', () => {
    for (const declaration of AWS_DECLARATIONS) {
      for (const action of declaration.permissions.iam ?? []) {
        expect(action, declaration.name).not.toContain('*');
        expect(ACTION_RULES[action], `${declaration.name}: ${action}`).toBeDefined();
      }
    }
  });

  it('gives the read-only runner exactly the actions of the read-only tools its runbooks run', () => {
    // Prepare
    const tools = RUNBOOKS.flatMap((runbook) => runbook.tools[Substitution.ReadOnlyRunner]);

    // Act
    const policy = toolPolicy(tools, 'read-only', SCOPE);

    // Assess: only tools that change nothing, and every action is one of theirs
    expect(tools.every((tool) => TOOL_CATALOG.get(tool)?.mutating === false)).toBe(true);
    expect(policy.actions).toEqual([...actionsOf(tools)].sort());
    const mutatingOnly = new Set(
      [...actionsOf(AWS_DECLARATIONS.filter((d) => d.mutating).map((d) => d.name))].filter(
        (action) => !actionsOf(AWS_DECLARATIONS.filter((d) => !d.mutating).map((d) => d.name)).has(action),
      ),
    );
    expect(policy.actions.filter((action) => mutatingOnly.has(action))).toEqual([]);
    expect(policy.actions).not.toEqual(expect.arrayContaining(['ec2:RebootInstances']));
  });

  it('gives the mutating runner exactly the actions of the tools its steps and compensations run', () => {
    // Prepare
    const tools = RUNBOOKS.flatMap((runbook) => runbook.tools[Substitution.MutatingRunner]);

    // Act
    const policy = toolPolicy(tools, 'mutating', SCOPE);

    // Assess
    expect(policy.actions).toEqual([...actionsOf(tools)].sort());
    expect(policy.actions).toEqual(
      expect.arrayContaining(['ec2:RebootInstances', 'ssm:SendCommand', 'autoscaling:SetDesiredCapacity']),
    );
    expect(policy.actions.some((action) => action.includes('*'))).toBe(false);
  });

  it('scopes mutating actions to this account and names why each wildcard resource is needed', () => {
    // Act
    const policy = toolPolicy(['ec2.reboot-instances', 'ssm.run-command'], 'mutating', SCOPE);

    // Assess
    expect(policy.grants).toEqual([
      {
        actions: ['ec2:RebootInstances', 'ssm:SendCommand'],
        resources: ['arn:aws:ec2:eu-west-1:111111111111:instance/*'],
      },
      {
        actions: [
          'ssm:CancelCommand',
          'ssm:GetCommandInvocation',
          'ssm:ListCommandInvocations',
          'ssm:ListCommands',
        ],
        resources: ['*'],
      },
      {
        actions: ['ssm:SendCommand'],
        resources: runCommandDocuments().map((document) => `arn:aws:ssm:eu-west-1::document/${document}`),
      },
    ]);
    const star = policy.wildcards.find((wildcard) => wildcard.resource === '*')!;
    expect(star.reasons).toEqual([
      'ssm:CancelCommand: CancelCommand (a command id has no ARN) has no resource-level permissions',
      'ssm:GetCommandInvocation: GetCommandInvocation (a command id has no ARN) has no resource-level permissions',
      'ssm:ListCommandInvocations: ListCommandInvocations (a command id has no ARN) has no resource-level permissions',
      'ssm:ListCommands: ListCommands (a repeated run looks up the command it sent) has no resource-level permissions',
    ]);
  });

  it('names each region tools may act in, never any region, and with a resource tag allows changes only on tagged resources', () => {
    // Prepare
    const scope: PermissionScope = {
      ...SCOPE,
      regions: ['eu-west-1', 'eu-central-1'],
      resourceTag: { key: 'runbook-autopilot', value: 'enabled' },
    };
    const tagged = { StringEquals: { 'aws:ResourceTag/runbook-autopilot': 'enabled' } };
    const everyMutatingTool = AWS_DECLARATIONS.filter((declaration) => declaration.mutating).map(
      (declaration) => declaration.name,
    );

    // Act
    const policy = toolPolicy(['ec2.reboot-instances', 'ssm.run-command'], 'mutating', scope);
    const everything = toolPolicy(everyMutatingTool, 'mutating', scope);

    // Assess: the instance is the tag's subject; the AWS-owned documents carry no tag
    expect(policy.grants).toEqual([
      {
        actions: ['ec2:RebootInstances', 'ssm:SendCommand'],
        resources: [
          'arn:aws:ec2:eu-west-1:111111111111:instance/*',
          'arn:aws:ec2:eu-central-1:111111111111:instance/*',
        ],
        condition: tagged,
      },
      {
        actions: [
          'ssm:CancelCommand',
          'ssm:GetCommandInvocation',
          'ssm:ListCommandInvocations',
          'ssm:ListCommands',
        ],
        resources: ['*'],
      },
      {
        actions: ['ssm:SendCommand'],
        resources: ['eu-west-1', 'eu-central-1'].flatMap((region) =>
          runCommandDocuments().map((document) => `arn:aws:ssm:${region}::document/${document}`),
        ),
      },
    ]);
    const resources = everything.grants.flatMap((grant) => grant.resources);
    expect(resources.filter((resource) => /^arn:[^:]+:[^:]+:\*:/.test(resource))).toEqual([]);
    // Every action that changes something and can be scoped by a tag is
    for (const action of [
      'autoscaling:SetDesiredCapacity',
      'ec2:RebootInstances',
      'ecs:UpdateService',
      'lambda:DeleteFunctionConcurrency',
      'lambda:PutFunctionConcurrency',
      'ssm:SendCommand',
    ]) {
      expect(
        everything.grants.some((grant) => grant.actions.includes(action) && grant.condition !== undefined),
        action,
      ).toBe(true);
    }
    // …and nothing only reads under the condition
    for (const grant of everything.grants.filter((candidate) => candidate.condition))
      expect(grant.actions.filter((action) => /:(Describe|Get|List)/.test(action))).toEqual([]);
  });

  it('refuses a mutating tool on the read-only runner, a local-only tool, and an unknown tool', () => {
    expect(() => toolPolicy(['ec2.reboot-instances'], 'read-only', SCOPE)).toThrow(ToolPermissionError);
    expect(() => toolPolicy(['ec2.reboot-instances'], 'read-only', SCOPE)).toThrow(
      /read-only step runner would run "ec2.reboot-instances", which changes things/,
    );
    expect(() => toolPolicy(['shell.exec'], 'mutating', SCOPE)).toThrow(/runs on the embedded platform only/);
    expect(() => toolPolicy(['k8s.cordn'], 'mutating', SCOPE)).toThrow(/unknown tool "k8s.cordn"/);
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CfnResource } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUBERNETES_GROUPS } from '../../functions/tools/kubernetes/rbac.ts';
import {
  ENVIRONMENTS_CONTEXT_KEY,
  EnvironmentConfigError,
  parseEnvironments,
} from '../../infra/config/load.ts';
import { PROJECT_ROOT, VPC_NETWORK_INTERFACE_ACTIONS } from '../../infra/constructs/handler-function.ts';
import type { FunctionKey, RunbookAutopilotStack } from '../../infra/stacks/runbook-autopilot-stack.ts';
import {
  CDK_JSON,
  type Json,
  logicalIdOf,
  propertiesOf,
  removeOutput,
  resourcesOf,
  runNag,
  type Synthesized,
  synthesize,
} from './support.ts';

const run = promisify(execFile);

const ENVIRONMENTS = CDK_JSON.context[ENVIRONMENTS_CONTEXT_KEY] as Record<string, Json>;
const STEP_RUNNERS = ['stepRunnerReadOnly', 'stepRunnerMutating'] as const;
const OTHERS: FunctionKey[] = [
  'ingest',
  'classifier',
  'approvalRequest',
  'approvalWeb',
  'control',
  'learningRecorder',
];
const NETWORK = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
  securityGroupIds: ['sg-0123456789abcdef0'],
};
/** A stand-in CA bundle (a real one is ~1.5 KB of base64). */
const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n').toString('base64');
const EKS = {
  // The key is the cluster name alerts carry; by default also the EKS cluster's name.
  'shop-prod': { endpoint: 'https://0123ABCD.gr7.eu-west-1.eks.amazonaws.com', certificateAuthorityData: CA },
  // The environment's own cluster (steps that name none): the same cluster again.
  prod: {
    clusterName: 'shop-prod',
    endpoint: 'https://0123ABCD.gr7.eu-west-1.eks.amazonaws.com',
    certificateAuthorityData: CA,
  },
  // Another alert name for a cluster named otherwise, in the stack's region (stated explicitly).
  payments: {
    clusterName: 'payments-prod-v2',
    region: 'eu-west-1',
    endpoint: 'https://4567EFAB.yl4.eu-west-1.eks.amazonaws.com',
    certificateAuthorityData: CA,
  },
  // A second alert name for the same cluster: still one pair of entries for it.
  'payments-canary': {
    clusterName: 'payments-prod-v2',
    endpoint: 'https://4567EFAB.yl4.eu-west-1.eks.amazonaws.com',
    certificateAuthorityData: CA,
  },
  // Another region: this stack cannot create its entries.
  'shop-us': {
    region: 'us-east-1',
    endpoint: 'https://89ABCDEF.gr7.us-east-1.eks.amazonaws.com',
    certificateAuthorityData: CA,
  },
};

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

function statementsOf(template: Template, roleLogicalId: string): Json[] {
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .map(propertiesOf)
    .filter((policy) => list(policy.Roles).some((role) => (role as Json).Ref === roleLogicalId))
    .flatMap((policy) => (policy.PolicyDocument as { Statement: Json[] }).Statement);
}

function functionOf(template: Template, stack: RunbookAutopilotStack, key: FunctionKey): Json {
  return resourcesOf(template, 'AWS::Lambda::Function')[logicalIdOf(stack.functions[key].function)]!;
}

describe('Kubernetes on Amazon EKS: network and tools.kubernetes.eks in an environment', () => {
  let synthesized: Synthesized;
  let stack: RunbookAutopilotStack;
  let template: Template;

  beforeAll(() => {
    // Prepare: prod with a VPC for the step runners and four alert names for three EKS clusters
    const environments = structuredClone(ENVIRONMENTS);
    environments.prod!.network = NETWORK;
    environments.prod!.tools = { ...(environments.prod!.tools as Json), kubernetes: { eks: EKS } };

    // Act
    synthesized = synthesize({ context: { env: 'prod', [ENVIRONMENTS_CONTEXT_KEY]: environments } });
    stack = synthesized.stacks[0]!;
    template = synthesized.templates.prod!;
  });

  afterAll(() => removeOutput(synthesized));

  it('places both step runners, and only them, in the VPC’s subnets with its security groups', () => {
    for (const key of STEP_RUNNERS) {
      expect(propertiesOf(functionOf(template, stack, key)).VpcConfig, key).toEqual({
        SubnetIds: NETWORK.subnetIds,
        SecurityGroupIds: NETWORK.securityGroupIds,
      });
    }
    for (const key of OTHERS) {
      expect(propertiesOf(functionOf(template, stack, key)).VpcConfig, key).toBeUndefined();
    }
    // Imported by id: no VPC, subnet, security group or rule is created
    for (const type of [
      'AWS::EC2::VPC',
      'AWS::EC2::Subnet',
      'AWS::EC2::SecurityGroup',
      'AWS::EC2::SecurityGroupIngress',
      'AWS::EC2::SecurityGroupEgress',
    ]) {
      template.resourceCountIs(type, 0);
    }
  });

  it('gives the runners in the VPC the network-interface actions inline, before Lambda creates them', () => {
    for (const key of STEP_RUNNERS) {
      const role = stack.functions[key].role;
      const statements = statementsOf(template, logicalIdOf(role));
      expect(statements.filter((statement) => statement.Sid === 'VpcNetworkInterfaces')).toEqual([
        {
          Sid: 'VpcNetworkInterfaces',
          Effect: 'Allow',
          Action: [...VPC_NETWORK_INTERFACE_ACTIONS],
          Resource: '*',
        },
      ]);
      // Lambda checks the role when it attaches the function to the VPC: the policy must exist first
      const policyId = stack.getLogicalId(
        role.node.findChild('DefaultPolicy').node.defaultChild as CfnResource,
      );
      expect(functionOf(template, stack, key).DependsOn).toContain(policyId);
      // No managed policy (AWSLambdaVPCAccessExecutionRole would be one)
      expect(
        propertiesOf(resourcesOf(template, 'AWS::IAM::Role')[logicalIdOf(role)]!).ManagedPolicyArns,
      ).toBeUndefined();
    }
    for (const key of OTHERS) {
      const actions = statementsOf(template, logicalIdOf(stack.functions[key].role)).flatMap((statement) =>
        list(statement.Action),
      );
      expect(actions, key).not.toContain('ec2:CreateNetworkInterface');
    }
  });

  it('maps each runner’s role to its Kubernetes group with one pair of access entries per cluster in the region', () => {
    // Prepare
    const entries = Object.values(resourcesOf(template, 'AWS::EKS::AccessEntry')).map(propertiesOf);
    const roleArn = (key: (typeof STEP_RUNNERS)[number]) => ({
      'Fn::GetAtt': [logicalIdOf(stack.functions[key].role), 'Arn'],
    });

    // Assess: shop-prod and payments-prod-v2 (named by two alert names), not shop-us (us-east-1)
    expect(entries).toHaveLength(4);
    for (const clusterName of ['shop-prod', 'payments-prod-v2']) {
      expect(entries.filter((entry) => entry.ClusterName === clusterName)).toEqual([
        expect.objectContaining({
          ClusterName: clusterName,
          PrincipalArn: roleArn('stepRunnerReadOnly'),
          KubernetesGroups: [KUBERNETES_GROUPS.readOnly],
          Type: 'STANDARD',
        }),
        expect.objectContaining({
          ClusterName: clusterName,
          PrincipalArn: roleArn('stepRunnerMutating'),
          KubernetesGroups: [KUBERNETES_GROUPS.mutating],
          Type: 'STANDARD',
        }),
      ]);
    }
    expect(KUBERNETES_GROUPS).toEqual({
      readOnly: 'runbook-autopilot-read',
      mutating: 'runbook-autopilot-change',
    });
    // No access policy: what the groups may do is the RBAC of `runbook rbac`
    for (const entry of entries) expect(entry.AccessPolicies).toBeUndefined();
    expect(stack.clusterAccess!.elsewhere).toEqual([{ clusterName: 'shop-us', region: 'us-east-1' }]);
    Annotations.fromStack(stack).hasWarning(
      '/runbook-autopilot-prod/ClusterAccess',
      Match.stringLikeRegexp('^EKS cluster shop-us is in us-east-1, not eu-west-1: this stack cannot create'),
    );
  });

  it('tells how to apply the RBAC and names the runners’ roles in its outputs', () => {
    template.hasOutput('KubernetesRbac', {
      Value:
        'npx runbook rbac | kubectl apply -f -   # against each cluster: payments-prod-v2, shop-prod, shop-us (us-east-1)',
    });
    template.hasOutput('ReadOnlyRunnerRoleArn', {
      Value: { 'Fn::GetAtt': [logicalIdOf(stack.functions.stepRunnerReadOnly.role), 'Arn'] },
    });
    template.hasOutput('MutatingRunnerRoleArn', {
      Value: { 'Fn::GetAtt': [logicalIdOf(stack.functions.stepRunnerMutating.role), 'Arn'] },
    });
  });

  it('grants no wildcard action and nothing for EKS tokens (a presigned GetCallerIdentity needs no permission)', () => {
    const actions = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap((policy) =>
      (propertiesOf(policy).PolicyDocument as { Statement: Json[] }).Statement.flatMap((statement) =>
        list(statement.Action).map(String),
      ),
    );
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
    expect(actions.filter((action) => /^(sts|eks):/.test(action))).toEqual([]);
  });

  it('passes cdk-nag AwsSolutions: no unacknowledged finding, every acknowledgement used and explained', () => {
    // Act
    const nag = runNag(stack);

    // Assess
    expect(nag.violations).toEqual([]);
    expect(nag.acknowledgements.filter((acknowledgement) => !acknowledgement.used)).toEqual([]);
    for (const key of STEP_RUNNERS) {
      const star = nag.acknowledgements.find(
        (acknowledgement) =>
          acknowledgement.path === stack.functions[key].role.node.path &&
          acknowledgement.id === 'AwsSolutions-IAM5[Resource::*]',
      );
      expect(star?.reason).toMatch(/VPC access \(network\.vpcId\)/);
    }
    // Only the warning meant for the user remains (the imports' CDK warnings are acknowledged with reasons)
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.anyValue());
    expect(warnings.map((warning) => warning.id)).toEqual(['/runbook-autopilot-prod/ClusterAccess']);
  });
});

describe('EKS clusters named without endpoint and CA', () => {
  it('let both step runners read exactly those clusters with eks:DescribeCluster, nothing more', () => {
    // Prepare: one cluster by name only (in the stack's region), one by name in another region, one complete
    const environments = structuredClone(ENVIRONMENTS);
    environments.prod!.tools = {
      ...(environments.prod!.tools as Json),
      kubernetes: {
        eks: {
          'shop-prod': {},
          prod: { clusterName: 'shop-prod' },
          'shop-us': { clusterName: 'shop-us-1', region: 'us-east-1' },
          payments: EKS.payments,
        },
      },
    };

    // Act
    const synthesized = synthesize({ context: { env: 'prod', [ENVIRONMENTS_CONTEXT_KEY]: environments } });

    try {
      // Assess
      const stack = synthesized.stacks[0]!;
      const template = synthesized.templates.prod!;
      const account = (ENVIRONMENTS.prod as { account: string }).account;
      for (const key of STEP_RUNNERS) {
        const statements = statementsOf(template, logicalIdOf(stack.functions[key].role));
        const eksStatements = statements.filter((statement) =>
          list(statement.Action).some((action) => String(action).startsWith('eks:')),
        );
        expect(eksStatements, key).toEqual([
          expect.objectContaining({
            Sid: 'ReadEksClusters',
            Action: 'eks:DescribeCluster',
            Resource: [
              `arn:aws:eks:eu-west-1:${account}:cluster/shop-prod`,
              `arn:aws:eks:us-east-1:${account}:cluster/shop-us-1`,
            ],
          }),
        ]);
      }
      for (const key of OTHERS) {
        const actions = statementsOf(template, logicalIdOf(stack.functions[key].role)).flatMap((statement) =>
          list(statement.Action).map(String),
        );
        expect(
          actions.filter((action) => action.startsWith('eks:')),
          key,
        ).toEqual([]);
      }
    } finally {
      removeOutput(synthesized);
    }
  });
});

describe('without network and tools.kubernetes.eks', () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    // Prepare: every environment without clusters; their Kubernetes runbooks then only warn
    const environments = structuredClone(ENVIRONMENTS);
    for (const environment of Object.values(environments)) {
      environment.tools = { ...(environment.tools as Json), kubernetes: { eks: {} } };
      environment.toolReachability = 'warn';
    }
    synthesized = synthesize({ context: { [ENVIRONMENTS_CONTEXT_KEY]: environments } });
  });

  afterAll(() => removeOutput(synthesized));

  it('runs no function in a VPC, creates no access entry and prints no Kubernetes output', () => {
    // Assess
    expect(Object.keys(synthesized.templates)).toEqual(['dev', 'staging', 'prod']);
    for (const [environment, template] of Object.entries(synthesized.templates)) {
      const functions = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).map(propertiesOf);
      expect(functions.length, environment).toBeGreaterThanOrEqual(8);
      expect(
        functions.filter((fn) => fn.VpcConfig !== undefined),
        environment,
      ).toEqual([]);
      template.resourceCountIs('AWS::EKS::AccessEntry', 0);
      expect(Object.keys(template.findOutputs('*')), environment).not.toContain('KubernetesRbac');
      const actions = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap((policy) =>
        (propertiesOf(policy).PolicyDocument as { Statement: Json[] }).Statement.flatMap((statement) =>
          list(statement.Action),
        ),
      );
      expect(actions, environment).not.toContain('ec2:CreateNetworkInterface');
    }
    for (const stack of synthesized.stacks) expect(stack.clusterAccess).toBeUndefined();
  });

  it('warns, per runbook and tool, that the Kubernetes steps cannot reach a cluster (toolReachability: warn)', () => {
    for (const stack of synthesized.stacks) {
      const warnings = Annotations.fromStack(stack)
        .findWarning(`/${stack.stackName}`, Match.anyValue())
        .map((warning) => String(warning.entry.data));
      expect(warnings, stack.environmentName).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            new RegExp(
              `^cdk\\.json context "runbook-autopilot:environments"\\.${stack.environmentName}\\.tools\\.kubernetes\\.eks: runbook pod-crash-looping step [a-z0-9-]+ uses k8s\\.`,
            ),
          ),
        ]),
      );
      expect(warnings.every((warning) => !warning.includes('prometheus'))).toBe(true);
    }
  });
});

describe('a bad network in cdk.json', () => {
  function problemOf(network: unknown): string {
    const environments = structuredClone(ENVIRONMENTS);
    environments.prod!.network = network;
    try {
      parseEnvironments(environments);
    } catch (error) {
      expect(error).toBeInstanceOf(EnvironmentConfigError);
      return (error as Error).message;
    }
    throw new Error('expected the network to be refused');
  }

  const WHERE = 'cdk.json context "runbook-autopilot:environments".prod.network';

  it('is refused with one line that names the field', () => {
    // Act / Assess
    expect(problemOf({ ...NETWORK, vpcId: 'vpc-123' })).toBe(
      `${WHERE}.vpcId: must be a VPC id such as vpc-0123456789abcdef0 (got "vpc-123")`,
    );
    expect(problemOf({ ...NETWORK, subnetIds: [] })).toBe(`${WHERE}.subnetIds: needs at least 1 item(s)`);
    expect(problemOf({ ...NETWORK, subnetIds: ['subnet-0123456789abcdef0', 'sn-1'] })).toBe(
      `${WHERE}.subnetIds[1]: must be a subnet id such as subnet-0123456789abcdef0 (got "sn-1")`,
    );
    expect(
      problemOf({ ...NETWORK, securityGroupIds: ['sg-0123456789abcdef0', 'sg-0123456789abcdef0'] }),
    ).toBe(`${WHERE}.securityGroupIds: must name each id once`);
    expect(problemOf({ vpcId: NETWORK.vpcId, subnetIds: NETWORK.subnetIds })).toBe(
      `${WHERE}.securityGroupIds: is required (expected array)`,
    );
    expect(problemOf({ ...NETWORK, subnets: NETWORK.subnetIds })).toBe(
      `${WHERE}.subnets: unknown field "subnets" (did you mean "subnetIds"?)`,
    );
    for (const line of [problemOf({ ...NETWORK, vpcId: 'vpc-123' }), problemOf('vpc-0123456789abcdef0')])
      expect(line).not.toContain('\n');
  });

  it('fails `cdk synth` (infra/app.ts) with that line and exit code 1, no stack trace', async () => {
    // Prepare
    const environments = structuredClone(ENVIRONMENTS);
    environments.prod!.network = { ...NETWORK, securityGroupIds: [] };
    const outdir = mkdtempSync(join(tmpdir(), 'runbook-autopilot-app-'));

    // Act
    const failed = await run(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      cwd: PROJECT_ROOT,
      env: {
        PATH: process.env.PATH,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_JSON.context, [ENVIRONMENTS_CONTEXT_KEY]: environments }),
      },
    }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    rmSync(outdir, { recursive: true, force: true });

    // Assess
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe(`${WHERE}.securityGroupIds: needs at least 1 item(s)\n`);
    expect(failed.stdout).toBe('');
  });
});

describe('EKS clusters that do not fit in a function’s environment', () => {
  it('fail synth with one line that says why and what to do', () => {
    // Prepare: three clusters, each with a CA of a real one's size (about 1.5 KB of base64)
    const realSizeCa = Buffer.alloc(1_100, 7).toString('base64');
    const environments = structuredClone(ENVIRONMENTS);
    environments.prod!.tools = {
      ...(environments.prod!.tools as Json),
      kubernetes: {
        eks: Object.fromEntries(
          ['prod', 'payments-prod', 'search-prod'].map((name, index) => [
            name,
            {
              endpoint: `https://${index}0123ABCD.gr7.eu-west-1.eks.amazonaws.com`,
              certificateAuthorityData: realSizeCa,
            },
          ]),
        ),
      },
    };

    // Act
    const act = () => synthesize({ context: { env: 'prod', [ENVIRONMENTS_CONTEXT_KEY]: environments } });

    // Assess
    expect(act).toThrow(
      /^cdk\.json context "runbook-autopilot:environments"\.prod: RUNBOOK_AUTOPILOT_CONFIG would be \d+ bytes; Lambda allows 4096 bytes of environment variables per function \(about 2896 for it\): 3 EKS cluster\(s\) in tools\.kubernetes\.eks carry their CA \(about 1\.5 KB each\): name them without endpoint and certificateAuthorityData/,
    );
  });
});

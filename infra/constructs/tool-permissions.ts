import { RunbookAutopilotError } from '../../functions/core/errors.ts';
import type { ToolDeclaration } from '../../functions/core/tool-catalog.ts';
import { declarationOf, TOOL_CATALOG } from '../../functions/tools/declarations.ts';

/**
 * Least-privilege IAM for the step runners, derived from what the deployed runbooks run: each tool
 * declares the IAM actions it needs (functions/tools/declarations.ts); this module says where each
 * action may act. Tools may name any region (`region` parameter), so ARNs keep the region open and
 * pin the partition and account. An action whose API has no resource-level permissions gets `*`, and
 * the reason is written here once, per action, and carried into the cdk-nag acknowledgement.
 */

export class ToolPermissionError extends RunbookAutopilotError {
  override readonly name = 'ToolPermissionError';
}

export interface PermissionScope {
  partition: string;
  account: string;
  /** The topic `notify.message` publishes to (the escalations topic). */
  escalationsTopicArn: string;
}

interface ActionRule {
  resources: (scope: PermissionScope) => string[];
  /** Why the resource is as wide as it is (shown in the cdk-nag acknowledgement). */
  why: string;
}

const NO_RESOURCE_LEVEL = (what: string): ActionRule => ({
  resources: () => ['*'],
  why: `${what} has no resource-level permissions`,
});

const any = (service: string, resource: string) => (scope: PermissionScope) => [
  `arn:${scope.partition}:${service}:*:${scope.account}:${resource}`,
];

/** The Run Command documents `ssm.run-command` accepts (its `documentName` enum). */
export function runCommandDocuments(): string[] {
  const shape = declarationOf('ssm.run-command').parameters.shape;
  return [...shape.documentName.def.innerType.options];
}

/** Every IAM action a tool may declare, and where it may act. A new action must be added here. */
export const ACTION_RULES: Readonly<Record<string, ActionRule>> = {
  'cloudwatch:GetMetricData': NO_RESOURCE_LEVEL('GetMetricData'),
  'logs:StartQuery': {
    resources: any('logs', 'log-group:*'),
    why: 'queries name their log groups at run time (any log group of this account, any region)',
  },
  'logs:GetQueryResults': NO_RESOURCE_LEVEL('GetQueryResults (a query id has no ARN)'),
  'logs:StopQuery': NO_RESOURCE_LEVEL('StopQuery (a query id has no ARN)'),
  'ssm:SendCommand': {
    resources: (scope) => [
      ...any('ec2', 'instance/*')(scope),
      ...runCommandDocuments().map((document) => `arn:${scope.partition}:ssm:*::document/${document}`),
    ],
    why: 'instances come from the alert at run time (this account only); documents are pinned to the ones the tool allows',
  },
  'ssm:ListCommands': NO_RESOURCE_LEVEL('ListCommands (a repeated run looks up the command it sent)'),
  'ssm:GetCommandInvocation': NO_RESOURCE_LEVEL('GetCommandInvocation (a command id has no ARN)'),
  'ssm:ListCommandInvocations': NO_RESOURCE_LEVEL('ListCommandInvocations (a command id has no ARN)'),
  'ssm:CancelCommand': NO_RESOURCE_LEVEL('CancelCommand (a command id has no ARN)'),
  'ec2:DescribeInstanceStatus': NO_RESOURCE_LEVEL('DescribeInstanceStatus (EC2 Describe* calls)'),
  'ec2:RebootInstances': {
    resources: any('ec2', 'instance/*'),
    why: 'the instance comes from the alert at run time (this account only)',
  },
  'autoscaling:DescribeAutoScalingGroups': NO_RESOURCE_LEVEL('DescribeAutoScalingGroups'),
  'autoscaling:SetDesiredCapacity': {
    resources: any('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*'),
    why: 'the group is named by the runbook or the alert at run time (this account only)',
  },
  'ecs:DescribeServices': {
    resources: any('ecs', 'service/*/*'),
    why: 'cluster and service are named by the runbook or the alert at run time (this account only)',
  },
  'ecs:UpdateService': {
    resources: any('ecs', 'service/*/*'),
    why: 'cluster and service are named by the runbook or the alert at run time (this account only)',
  },
  'lambda:GetFunctionConcurrency': {
    resources: any('lambda', 'function:*'),
    why: 'the function comes from the alert at run time (this account only)',
  },
  'lambda:GetAccountSettings': NO_RESOURCE_LEVEL('GetAccountSettings'),
  'lambda:PutFunctionConcurrency': {
    resources: any('lambda', 'function:*'),
    why: "the function comes from the alert at run time (this account only; the platform's own functions are denied)",
  },
  'lambda:DeleteFunctionConcurrency': {
    resources: any('lambda', 'function:*'),
    why: "the function comes from the alert at run time (this account only; the platform's own functions are denied)",
  },
  'sns:Publish': {
    resources: (scope) => [scope.escalationsTopicArn],
    why: 'notify.message publishes to the escalations topic only',
  },
};

/** One statement's worth: actions that share their resources. */
export interface ToolGrant {
  actions: string[];
  resources: string[];
}

export interface ToolPolicy {
  grants: ToolGrant[];
  /** Each wildcard resource with the actions that need it and why (for cdk-nag). */
  wildcards: Array<{ resource: string; reasons: string[] }>;
  /** Every IAM action granted, sorted. */
  actions: string[];
}

function declarationFor(tool: string, where: string): ToolDeclaration {
  const declaration = TOOL_CATALOG.get(tool);
  if (!declaration) throw new ToolPermissionError(`${where}: unknown tool "${tool}"; recompile the runbooks`);
  if (declaration.runtimes && !declaration.runtimes.includes('aws')) {
    throw new ToolPermissionError(`${where}: tool "${tool}" runs on the embedded platform only, not on AWS`);
  }
  return declaration;
}

/**
 * The IAM a runner needs to run `tools`. `variant` says which runner: the read-only one must run no
 * tool that changes anything.
 */
export function toolPolicy(
  tools: Iterable<string>,
  variant: 'read-only' | 'mutating',
  scope: PermissionScope,
): ToolPolicy {
  const byResources = new Map<string, { resources: string[]; actions: Set<string> }>();
  const wildcardReasons = new Map<string, Set<string>>();
  const actions = new Set<string>();
  for (const tool of [...new Set(tools)].sort()) {
    const declaration = declarationFor(tool, `${variant} step runner`);
    if (variant === 'read-only' && declaration.mutating) {
      throw new ToolPermissionError(
        `the read-only step runner would run "${tool}", which changes things; mutating steps must use the mutating runner (recompile the runbooks)`,
      );
    }
    for (const action of declaration.permissions.iam ?? []) {
      if (action.includes('*')) {
        throw new ToolPermissionError(
          `tool "${tool}" declares the wildcard action "${action}"; name each action`,
        );
      }
      const rule = ACTION_RULES[action];
      if (!rule) {
        throw new ToolPermissionError(
          `tool "${tool}" declares IAM action "${action}", which infra does not know where to allow; add it to ACTION_RULES in infra/constructs/tool-permissions.ts`,
        );
      }
      actions.add(action);
      const resources = rule.resources(scope);
      const key = resources.join('\n');
      const entry = byResources.get(key) ?? { resources, actions: new Set<string>() };
      entry.actions.add(action);
      byResources.set(key, entry);
      for (const resource of resources.filter((candidate) => candidate.includes('*'))) {
        const reasons = wildcardReasons.get(resource) ?? new Set<string>();
        reasons.add(`${action}: ${rule.why}`);
        wildcardReasons.set(resource, reasons);
      }
    }
  }
  return {
    grants: [...byResources.values()]
      .map((entry) => ({ actions: [...entry.actions].sort(), resources: entry.resources }))
      .sort((a, b) => a.actions[0]!.localeCompare(b.actions[0]!)),
    wildcards: [...wildcardReasons.entries()]
      .map(([resource, reasons]) => ({ resource, reasons: [...reasons].sort() }))
      .sort((a, b) => a.resource.localeCompare(b.resource)),
    actions: [...actions].sort(),
  };
}

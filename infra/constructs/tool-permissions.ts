import { RunbookAutopilotError } from '../../functions/core/errors.ts';
import type { ToolDeclaration } from '../../functions/core/tool-catalog.ts';
import { declarationOf, TOOL_CATALOG } from '../../functions/tools/declarations.ts';

/**
 * Least-privilege IAM for the step runners, derived from what the deployed runbooks run: each tool
 * declares the IAM actions it needs (functions/tools/declarations.ts); this module says where each
 * action may act. ARNs name each region the environment lets tools act in (`regions`), the partition
 * and the account; with `mutatingResourceTag`, every change whose resource IAM can read tags on
 * (aws:ResourceTag) is allowed on tagged resources only. An action whose API has no resource-level
 * permissions gets `*`, and the reason is written here once, per action, and carried into the cdk-nag
 * acknowledgement.
 */

export class ToolPermissionError extends RunbookAutopilotError {
  override readonly name = 'ToolPermissionError';
}

export interface PermissionScope {
  partition: string;
  account: string;
  /** Regions tools may act in (the environment's `regions`, else the stack's region). */
  regions: readonly string[];
  /** The topic `notify.message` publishes to (the escalations topic). */
  escalationsTopicArn: string;
  /** Changes only on resources carrying this tag (the environment's `mutatingResourceTag`). */
  resourceTag?: { key: string; value: string };
}

/** Resources of one action: `tagged` ones get the resource-tag condition when the environment sets one. */
interface Resources {
  arns: string[];
  tagged?: true;
}

interface ActionRule {
  resources: (scope: PermissionScope) => Resources[];
  /** Why the resource is as wide as it is (shown in the cdk-nag acknowledgement). */
  why: string;
}

const NO_RESOURCE_LEVEL = (what: string): ActionRule => ({
  resources: () => [{ arns: ['*'] }],
  why: `${what} has no resource-level permissions`,
});

/** `resource` of this account in each of the environment's regions. */
const inRegions = (service: string, resource: string) => (scope: PermissionScope) =>
  scope.regions.map((region) => `arn:${scope.partition}:${service}:${region}:${scope.account}:${resource}`);

/** Resources only read: never conditioned on tags (a diagnosis may look at anything). */
const read = (service: string, resource: string) => (scope: PermissionScope) => [
  { arns: inRegions(service, resource)(scope) },
];

/** Resources changed: IAM checks aws:ResourceTag on them, so the environment may require a tag. */
const changed = (service: string, resource: string) => (scope: PermissionScope) => [
  { arns: inRegions(service, resource)(scope), tagged: true as const },
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
    resources: read('logs', 'log-group:*'),
    why: "queries name their log groups at run time (any log group of this account in the environment's regions)",
  },
  'logs:GetQueryResults': NO_RESOURCE_LEVEL('GetQueryResults (a query id has no ARN)'),
  'logs:StopQuery': NO_RESOURCE_LEVEL('StopQuery (a query id has no ARN)'),
  'ssm:SendCommand': {
    resources: (scope) => [
      ...changed('ec2', 'instance/*')(scope),
      // AWS-owned documents carry no tags of ours: pinned by name instead.
      {
        arns: scope.regions.flatMap((region) =>
          runCommandDocuments().map(
            (document) => `arn:${scope.partition}:ssm:${region}::document/${document}`,
          ),
        ),
      },
    ],
    why: 'instances come from the alert at run time (this account only); documents are pinned to the ones the tool allows',
  },
  'ssm:ListCommands': NO_RESOURCE_LEVEL('ListCommands (a repeated run looks up the command it sent)'),
  'ssm:GetCommandInvocation': NO_RESOURCE_LEVEL('GetCommandInvocation (a command id has no ARN)'),
  'ssm:ListCommandInvocations': NO_RESOURCE_LEVEL('ListCommandInvocations (a command id has no ARN)'),
  'ssm:CancelCommand': NO_RESOURCE_LEVEL('CancelCommand (a command id has no ARN)'),
  'ec2:DescribeInstanceStatus': NO_RESOURCE_LEVEL('DescribeInstanceStatus (EC2 Describe* calls)'),
  'ec2:RebootInstances': {
    resources: changed('ec2', 'instance/*'),
    why: 'the instance comes from the alert at run time (this account only)',
  },
  'autoscaling:DescribeAutoScalingGroups': NO_RESOURCE_LEVEL('DescribeAutoScalingGroups'),
  'autoscaling:SetDesiredCapacity': {
    resources: changed('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*'),
    why: 'the group is named by the runbook or the alert at run time (this account only)',
  },
  'ecs:DescribeServices': {
    resources: read('ecs', 'service/*/*'),
    why: 'cluster and service are named by the runbook or the alert at run time (this account only)',
  },
  'ecs:UpdateService': {
    resources: changed('ecs', 'service/*/*'),
    why: 'cluster and service are named by the runbook or the alert at run time (this account only)',
  },
  'lambda:GetFunctionConcurrency': {
    resources: read('lambda', 'function:*'),
    why: 'the function comes from the alert at run time (this account only)',
  },
  'lambda:GetAccountSettings': NO_RESOURCE_LEVEL('GetAccountSettings'),
  'lambda:PutFunctionConcurrency': {
    resources: changed('lambda', 'function:*'),
    why: "the function comes from the alert at run time (this account only; the platform's own functions are denied)",
  },
  'lambda:DeleteFunctionConcurrency': {
    resources: changed('lambda', 'function:*'),
    why: "the function comes from the alert at run time (this account only; the platform's own functions are denied)",
  },
  'ec2:DescribeInstances': NO_RESOURCE_LEVEL('DescribeInstances (EC2 Describe* calls)'),
  'ec2:DescribeTags': NO_RESOURCE_LEVEL('DescribeTags (EC2 Describe* calls)'),
  'autoscaling:DescribeAutoScalingInstances': NO_RESOURCE_LEVEL('DescribeAutoScalingInstances'),
  'autoscaling:SetInstanceHealth': {
    resources: changed('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*'),
    why: 'the instance and its group come from the alert at run time (this account only)',
  },
  'elasticloadbalancing:DescribeTargetGroups': NO_RESOURCE_LEVEL(
    'DescribeTargetGroups (ELB Describe* calls)',
  ),
  'elasticloadbalancing:DescribeTargetHealth': NO_RESOURCE_LEVEL(
    'DescribeTargetHealth (ELB Describe* calls)',
  ),
  'elasticloadbalancing:DescribeTags': NO_RESOURCE_LEVEL('DescribeTags (ELB Describe* calls)'),
  'ecs:ListClusters': NO_RESOURCE_LEVEL('ListClusters'),
  'ecs:ListServices': NO_RESOURCE_LEVEL('ListServices (scoped by the ecs:cluster condition only)'),
  'ecs:ListTasks': NO_RESOURCE_LEVEL('ListTasks (scoped by the ecs:cluster condition only)'),
  'ecs:DescribeTasks': {
    resources: read('ecs', 'task/*/*'),
    why: 'the cluster comes from the runbook or the alert at run time (this account only)',
  },
  'ecs:DescribeCapacityProviders': {
    resources: read('ecs', 'capacity-provider/*'),
    why: 'the capacity providers are those of the service the alert names (this account only)',
  },
  'application-autoscaling:DescribeScalableTargets': NO_RESOURCE_LEVEL('DescribeScalableTargets'),
  'application-autoscaling:DescribeScalingPolicies': NO_RESOURCE_LEVEL('DescribeScalingPolicies'),
  'lambda:GetFunction': {
    resources: read('lambda', 'function:*'),
    why: 'the function comes from the alert at run time (this account only)',
  },
  'lambda:GetFunctionConfiguration': {
    resources: read('lambda', 'function:*'),
    why: 'the function comes from the alert at run time (this account only)',
  },
  'lambda:ListVersionsByFunction': {
    resources: read('lambda', 'function:*'),
    why: 'the function comes from the alert at run time (this account only)',
  },
  'lambda:ListAliases': {
    resources: read('lambda', 'function:*'),
    why: 'the function comes from the alert at run time (this account only)',
  },
  'lambda:ListTags': {
    resources: read('lambda', 'function:*'),
    why: 'the function comes from the alert at run time (this account only)',
  },
  'lambda:GetAlias': {
    resources: read('lambda', 'function:*'),
    why: 'the function and alias come from the runbook or the alert at run time (this account only)',
  },
  'lambda:UpdateAlias': {
    resources: changed('lambda', 'function:*'),
    why: "the function and alias come from the runbook or the alert at run time (this account only; the platform's own functions are denied)",
  },
  'lambda:ListEventSourceMappings': NO_RESOURCE_LEVEL('ListEventSourceMappings'),
  'lambda:GetEventSourceMapping': {
    resources: read('lambda', 'event-source-mapping:*'),
    why: 'the mapping is the one reading the queue the alert names (this account only)',
  },
  'lambda:UpdateEventSourceMapping': {
    resources: read('lambda', 'event-source-mapping:*'),
    why: 'the mapping is the one reading the queue the alert names (this account only; mappings are not tagged like the resources they connect, so no tag condition)',
  },
  'logs:FilterLogEvents': {
    resources: read('logs', 'log-group:*'),
    why: "the log group is the alerting function's, known at run time (this account only)",
  },
  ...Object.fromEntries(
    [
      'sqs:GetQueueUrl',
      'sqs:GetQueueAttributes',
      'sqs:ListQueueTags',
      'sqs:ListDeadLetterSourceQueues',
      'sqs:ListMessageMoveTasks',
      'sqs:StartMessageMoveTask',
      'sqs:CancelMessageMoveTask',
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:SendMessage',
    ].map((action) => [
      action,
      {
        resources: /^sqs:(Start|Cancel|Delete|Send)/.test(action) ? changed('sqs', '*') : read('sqs', '*'),
        why: 'the queue (and a redrive’s source queues) come from the alert at run time (this account only)',
      },
    ]),
  ),
  ...Object.fromEntries(
    [
      'rds:DescribeDBInstances',
      'rds:ListTagsForResource',
      'rds:RebootDBInstance',
      'rds:ModifyDBInstance',
    ].map((action) => [
      action,
      {
        resources: /^rds:(Reboot|Modify)/.test(action) ? changed('rds', 'db:*') : read('rds', 'db:*'),
        why: 'the DB instance comes from the alert at run time (this account only)',
      },
    ]),
  ),
  'rds:DescribeEvents': NO_RESOURCE_LEVEL('DescribeEvents'),
  'dynamodb:DescribeTable': {
    resources: read('dynamodb', 'table/*'),
    why: 'the table comes from the alert at run time (this account only)',
  },
  'dynamodb:ListTagsOfResource': {
    resources: read('dynamodb', 'table/*'),
    why: 'the table comes from the alert at run time (this account only)',
  },
  // API Gateway ARNs carry no account: the role's own account is the only one it can reach.
  'apigateway:GET': {
    resources: (scope) => [
      {
        arns: scope.regions.flatMap((region) => [
          `arn:${scope.partition}:apigateway:${region}::/restapis`,
          `arn:${scope.partition}:apigateway:${region}::/restapis/*`,
        ]),
      },
    ],
    why: 'the REST API and stage come from the alert at run time',
  },
  'apigateway:PATCH': {
    resources: (scope) => [
      {
        arns: scope.regions.map(
          (region) => `arn:${scope.partition}:apigateway:${region}::/restapis/*/stages/*`,
        ),
        tagged: true as const,
      },
    ],
    why: 'the stage comes from the alert at run time; only stages may be changed',
  },
  'elasticache:DescribeCacheClusters': {
    resources: read('elasticache', 'cluster:*'),
    why: 'the cluster comes from the alert at run time (this account only)',
  },
  'elasticache:DescribeCacheParameters': {
    resources: read('elasticache', 'parametergroup:*'),
    why: "the parameter group is the alerting cluster's (this account only)",
  },
  'sns:Publish': {
    resources: (scope) => [{ arns: [scope.escalationsTopicArn] }],
    why: 'notify.message publishes to the escalations topic only',
  },
};

/** One statement's worth: actions that share their resources (and condition). */
export interface ToolGrant {
  actions: string[];
  resources: string[];
  /** The resource-tag condition, on changes to resources IAM can read tags on. */
  condition?: { StringEquals: Record<string, string> };
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
  const byResources = new Map<
    string,
    { resources: string[]; condition?: ToolGrant['condition']; actions: Set<string> }
  >();
  const tag = scope.resourceTag;
  const condition = tag ? { StringEquals: { [`aws:ResourceTag/${tag.key}`]: tag.value } } : undefined;
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
      for (const group of rule.resources(scope)) {
        const conditioned = group.tagged && condition ? condition : undefined;
        const key = `${group.arns.join('\n')}${conditioned ? '\ntagged' : ''}`;
        const entry = byResources.get(key) ?? {
          resources: group.arns,
          ...(conditioned ? { condition: conditioned } : {}),
          actions: new Set<string>(),
        };
        entry.actions.add(action);
        byResources.set(key, entry);
        for (const resource of group.arns.filter((candidate) => candidate.includes('*'))) {
          const reasons = wildcardReasons.get(resource) ?? new Set<string>();
          reasons.add(`${action}: ${rule.why}`);
          wildcardReasons.set(resource, reasons);
        }
      }
    }
  }
  return {
    grants: [...byResources.values()]
      .map((entry) => ({
        actions: [...entry.actions].sort(),
        resources: entry.resources,
        ...(entry.condition ? { condition: entry.condition } : {}),
      }))
      .sort(
        (a, b) =>
          a.actions[0]!.localeCompare(b.actions[0]!) ||
          a.actions.length - b.actions.length ||
          a.resources.join().localeCompare(b.resources.join()),
      ),
    wildcards: [...wildcardReasons.entries()]
      .map(([resource, reasons]) => ({ resource, reasons: [...reasons].sort() }))
      .sort((a, b) => a.resource.localeCompare(b.resource)),
    actions: [...actions].sort(),
  };
}

import * as z from 'zod';
import { AlertResource, ResolvedResource } from '../../core/resource.ts';
import { RunbookParameter } from '../../core/runbook/model.ts';
import type { ToolDeclaration } from '../../core/tool-catalog.ts';

/**
 * resource.resolve: the step the compiler puts first in a runbook that reads `{{ resource.… }}` or
 * `{{ parameters.… }}`. Runbooks do not call it themselves.
 */

export const ResolveOutput = z.object({
  resource: ResolvedResource,
  parameters: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]))
    .describe(
      'the runbook’s parameters, settled: default, environment, then a tag or label on the resource, then a value given at a manual start',
    ),
  parameterSources: z.record(z.string(), z.enum(['default', 'environment', 'resource', 'manual'])),
  parameterNotes: z.array(z.string()).describe('overrides that were refused, and why'),
});
export type ResolveOutput = z.infer<typeof ResolveOutput>;

export const RESOLVE_TOOL_DECLARATIONS = [
  {
    name: 'resource.resolve',
    description:
      'Resolves what an alert is about through the APIs (a pod’s owning workload, the node behind an IP, the services behind a target group…) and settles the runbook’s parameters. The compiler runs it first; runbooks read its result as {{ resource.… }} and {{ parameters.… }}.',
    parameters: z
      .object({
        resource: AlertResource,
        labels: z.record(z.string(), z.string()).default({}),
        runbook: z.string().min(1),
        parameters: z.record(z.string(), RunbookParameter).default({}),
      })
      .strict(),
    output: ResolveOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads (read-only tools run for real in dry-run)',
    permissions: {
      // Every call the AWS family makes (functions/tools/aws/resolve.ts); all read-only.
      iam: [
        'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeTargetHealth',
        'elasticloadbalancing:DescribeTags',
        'ecs:ListClusters',
        'ecs:ListServices',
        'ecs:DescribeServices',
        'ecs:DescribeCapacityProviders',
        'autoscaling:DescribeAutoScalingInstances',
        'autoscaling:DescribeAutoScalingGroups',
        'ec2:DescribeTags',
        'sqs:GetQueueUrl',
        'sqs:GetQueueAttributes',
        'sqs:ListQueueTags',
        'lambda:ListEventSourceMappings',
        'lambda:ListTags',
        'apigateway:GET',
        'rds:ListTagsForResource',
        'dynamodb:ListTagsOfResource',
      ],
      kubernetes: [
        { apiGroup: '', resources: ['pods', 'nodes'], verbs: ['get', 'list'] },
        {
          apiGroup: '',
          resources: ['services', 'persistentvolumeclaims', 'persistentvolumes'],
          verbs: ['get'],
        },
        {
          apiGroup: 'apps',
          resources: ['replicasets', 'deployments', 'statefulsets', 'daemonsets'],
          verbs: ['get'],
        },
        { apiGroup: 'batch', resources: ['jobs'], verbs: ['get', 'list'] },
        { apiGroup: 'batch', resources: ['cronjobs'], verbs: ['get'] },
        { apiGroup: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: ['get'] },
        { apiGroup: 'policy', resources: ['poddisruptionbudgets'], verbs: ['get'] },
      ],
    },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

import { z } from 'zod';
import { type ToolCatalog, type ToolDeclaration, toolCatalog } from '../core/tool-catalog.ts';

/**
 * Declarations of every tool a runbook can call: parameters, whether it changes anything, its risk,
 * its dry-run, its inverse, and the permissions it needs. Validation, the compiler, infra (IAM and
 * RBAC) and the docs read these; implementations register against the same names.
 */

const awsRegion = z
  .string()
  .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')
  .optional();
const instanceIds = z
  .array(z.string().regex(/^i-[0-9a-f]{8,17}$/, 'must be an EC2 instance id such as i-0abc1234def567890'))
  .min(1)
  .max(50);
const k8sName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes name (lowercase, digits, - and .)');
const cluster = z
  .string()
  .min(1)
  .optional()
  .describe(
    'cluster name (tools.kubernetes.contexts or .eks) or kubeconfig context; default: the environment’s cluster',
  );
const prometheus = z
  .string()
  .min(1)
  .optional()
  .describe('Prometheus base URL; default: the environment’s Prometheus');

export const TOOL_DECLARATIONS = [
  // ---------------------------------------------------------------------------------------------- AWS
  {
    name: 'cloudwatch.get-metric-data',
    description: 'Reads one CloudWatch metric over a recent window (GetMetricData) and summarizes it.',
    parameters: z
      .object({
        namespace: z.string().min(1),
        metricName: z.string().min(1),
        dimensions: z.record(z.string(), z.string()).default({}),
        stat: z
          .string()
          .min(1)
          .default('Average')
          .describe('Average, Sum, Maximum, Minimum, SampleCount or pNN'),
        periodSeconds: z
          .number()
          .int()
          .min(1)
          .max(86_400)
          .refine(
            (seconds) => [1, 5, 10, 30].includes(seconds) || seconds % 60 === 0,
            'must be 1, 5, 10, 30 or a multiple of 60 (CloudWatch periods)',
          )
          .default(60),
        lookbackMinutes: z.number().int().min(1).max(1_440).default(15),
        region: awsRegion,
      })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'reads the metric (read-only tools run for real in dry-run)',
    permissions: { iam: ['cloudwatch:GetMetricData'] },
  },
  {
    name: 'cloudwatch.logs-insights',
    description: 'Runs a CloudWatch Logs Insights query over recent logs and returns the rows.',
    parameters: z
      .object({
        logGroupNames: z.array(z.string().min(1)).min(1).max(50),
        query: z.string().min(1).max(10_000),
        lookbackMinutes: z.number().int().min(1).max(10_080).default(30),
        limit: z.number().int().min(1).max(10_000).default(100),
        region: awsRegion,
      })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'runs the query (read-only tools run for real in dry-run)',
    permissions: { iam: ['logs:StartQuery', 'logs:GetQueryResults', 'logs:StopQuery'] },
  },
  {
    name: 'ssm.run-command',
    description: 'Runs shell commands on EC2 instances with SSM Run Command and waits for each invocation.',
    parameters: z
      .object({
        instanceIds,
        // Single-step documents whose `commands` parameter the tool sets and whose one plugin it reads.
        documentName: z.enum(['AWS-RunShellScript', 'AWS-RunPowerShellScript']).default('AWS-RunShellScript'),
        commands: z.array(z.string().min(1)).min(1).max(100),
        executionTimeoutSeconds: z.number().int().min(30).max(840).default(120),
        region: awsRegion,
      })
      .strict(),
    mutating: true,
    risk: 'medium',
    onRepeat: {
      effect: 'no-op',
      how: "the command carries the execution and step's change key in its Comment; a repeat finds that command (ListCommands) and waits for it instead of sending another",
    },
    dryRun: 'returns the document, targets and commands it would send, sends nothing',
    permissions: {
      iam: [
        'ssm:SendCommand',
        'ssm:ListCommands',
        'ssm:GetCommandInvocation',
        'ssm:ListCommandInvocations',
        'ssm:CancelCommand',
      ],
    },
  },
  {
    name: 'ec2.describe-instance-status',
    description: 'Reads the system and instance status checks of EC2 instances.',
    parameters: z.object({ instanceIds, region: awsRegion }).strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'reads the status (read-only tools run for real in dry-run)',
    permissions: { iam: ['ec2:DescribeInstanceStatus'] },
  },
  {
    name: 'ec2.reboot-instances',
    description:
      'Reboots EC2 instances (RebootInstances). Cannot be undone: runbooks put it behind an approval.',
    parameters: z.object({ instanceIds, region: awsRegion }).strict(),
    mutating: true,
    risk: 'high',
    onRepeat: {
      effect: 'repeats',
      how: 'RebootInstances takes no idempotency token: a second run reboots again',
    },
    inspectWith: {
      tool: 'ec2.describe-instance-status',
      parameters: { instanceIds: '{{ parameters.instanceIds }}' },
    },
    dryRun: 'calls RebootInstances with DryRun=true, which checks permissions and changes nothing',
    permissions: { iam: ['ec2:RebootInstances'] },
  },
  {
    name: 'autoscaling.describe-group',
    description: 'Reads an Auto Scaling group: capacity, instances and their health.',
    parameters: z.object({ groupName: z.string().min(1), region: awsRegion }).strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'reads the group (read-only tools run for real in dry-run)',
    permissions: { iam: ['autoscaling:DescribeAutoScalingGroups'] },
  },
  {
    name: 'autoscaling.set-desired-capacity',
    description: 'Sets the desired capacity of an Auto Scaling group; returns the previous value.',
    parameters: z
      .object({
        groupName: z.string().min(1),
        desiredCapacity: z.number().int().min(0).max(10_000),
        honorCooldown: z.boolean().default(false),
        region: awsRegion,
      })
      .strict(),
    mutating: true,
    risk: 'medium',
    onRepeat: { effect: 'no-op', how: 'sets an absolute capacity' },
    dryRun: 'reads the group and returns the change it would make, changes nothing',
    compensation: {
      tool: 'autoscaling.set-desired-capacity',
      parameters: {
        groupName: '{{ parameters.groupName }}',
        desiredCapacity: '{{ output.previousDesiredCapacity }}',
      },
      description: 'restores the previous desired capacity',
    },
    permissions: { iam: ['autoscaling:SetDesiredCapacity', 'autoscaling:DescribeAutoScalingGroups'] },
  },
  {
    name: 'ecs.describe-services',
    description: 'Reads ECS services: desired/running counts, deployments and recent events.',
    parameters: z
      .object({
        cluster: z.string().min(1),
        services: z.array(z.string().min(1)).min(1).max(10),
        region: awsRegion,
      })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'reads the services (read-only tools run for real in dry-run)',
    permissions: { iam: ['ecs:DescribeServices'] },
  },
  {
    name: 'ecs.force-new-deployment',
    description: 'Replaces the tasks of an ECS service with fresh ones (UpdateService forceNewDeployment).',
    parameters: z
      .object({ cluster: z.string().min(1), service: z.string().min(1), region: awsRegion })
      .strict(),
    mutating: true,
    risk: 'medium',
    onRepeat: {
      effect: 'repeats',
      how: 'UpdateService forceNewDeployment takes no idempotency token: a second run starts another deployment',
    },
    inspectWith: {
      tool: 'ecs.describe-services',
      parameters: { cluster: '{{ parameters.cluster }}', services: ['{{ parameters.service }}'] },
    },
    dryRun: 'reads the service and returns the deployment it would start, changes nothing',
    permissions: { iam: ['ecs:UpdateService', 'ecs:DescribeServices'] },
  },
  {
    name: 'lambda.get-concurrency',
    description: 'Reads a Lambda function’s reserved concurrency and the account’s concurrency limits.',
    parameters: z.object({ functionName: z.string().min(1), region: awsRegion }).strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'reads the settings (read-only tools run for real in dry-run)',
    permissions: { iam: ['lambda:GetFunctionConcurrency', 'lambda:GetAccountSettings'] },
  },
  {
    name: 'lambda.put-reserved-concurrency',
    description: 'Sets a Lambda function’s reserved concurrency; returns the previous setting.',
    parameters: z
      .object({
        functionName: z.string().min(1),
        reservedConcurrency: z.number().int().min(0).max(100_000),
        region: awsRegion,
      })
      .strict(),
    mutating: true,
    risk: 'medium',
    onRepeat: { effect: 'no-op', how: 'sets an absolute reservation' },
    dryRun: 'reads the current setting and returns the change it would make, changes nothing',
    compensation: {
      tool: 'lambda.restore-reserved-concurrency',
      parameters: {
        functionName: '{{ parameters.functionName }}',
        reservedConcurrency: '{{ output.previousReservedConcurrency }}',
      },
      description:
        'restores the previous reserved concurrency (or removes the reservation if there was none)',
    },
    permissions: { iam: ['lambda:PutFunctionConcurrency', 'lambda:GetFunctionConcurrency'] },
  },
  {
    name: 'lambda.restore-reserved-concurrency',
    description: 'Restores a reserved concurrency value; null removes the reservation.',
    parameters: z
      .object({
        functionName: z.string().min(1),
        reservedConcurrency: z.number().int().min(0).max(100_000).nullable(),
        region: awsRegion,
      })
      .strict(),
    mutating: true,
    risk: 'medium',
    onRepeat: { effect: 'no-op', how: 'sets an absolute reservation' },
    dryRun: 'returns the setting it would restore, changes nothing',
    permissions: { iam: ['lambda:PutFunctionConcurrency', 'lambda:DeleteFunctionConcurrency'] },
  },
  // ---------------------------------------------------------------------------------------- Kubernetes
  {
    name: 'k8s.node-resources',
    description: 'A node’s conditions, capacity, allocatable and (with metrics.k8s.io) current usage.',
    parameters: z.object({ node: k8sName, cluster }).strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'reads the node (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['nodes'], verbs: ['get'] },
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
        { apiGroup: 'metrics.k8s.io', resources: ['nodes'], verbs: ['get'] },
      ],
    },
  },
  {
    name: 'k8s.pods-on-node',
    description: 'Pods on a node with their requests, usage (metrics.k8s.io) and restarts, heaviest first.',
    parameters: z
      .object({
        node: k8sName,
        sortBy: z.enum(['memory', 'cpu', 'restarts']).default('memory'),
        limit: z.number().int().min(1).max(200).default(20),
        cluster,
      })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'reads the pods (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
        { apiGroup: '', resources: ['nodes'], verbs: ['get'] },
        { apiGroup: 'apps', resources: ['replicasets'], verbs: ['get'] },
        { apiGroup: 'metrics.k8s.io', resources: ['pods'], verbs: ['list'] },
      ],
    },
  },
  {
    name: 'k8s.pod-logs',
    description: 'The tail of a pod container’s log (optionally of the previous, crashed container).',
    parameters: z
      .object({
        namespace: k8sName,
        pod: k8sName,
        container: z.string().min(1).optional(),
        tailLines: z.number().int().min(1).max(5_000).default(200),
        previous: z.boolean().default(false),
        cluster,
      })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'reads the log (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: '', resources: ['pods/log'], verbs: ['get'] },
        { apiGroup: '', resources: ['pods'], verbs: ['get'] },
      ],
    },
  },
  {
    name: 'k8s.workload-status',
    description: 'A Deployment/StatefulSet/DaemonSet’s replicas, rollout state and its pods’ restarts.',
    parameters: z
      .object({
        namespace: k8sName,
        kind: z.enum(['Deployment', 'StatefulSet', 'DaemonSet']).default('Deployment'),
        name: k8sName,
        cluster,
      })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'reads the workload (read-only tools run for real in dry-run)',
    permissions: {
      kubernetes: [
        { apiGroup: 'apps', resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['get'] },
        { apiGroup: 'apps', resources: ['replicasets', 'controllerrevisions'], verbs: ['list'] },
        { apiGroup: 'apps', resources: ['controllerrevisions'], verbs: ['get'] },
        { apiGroup: '', resources: ['pods'], verbs: ['list'] },
      ],
    },
  },
  {
    name: 'k8s.rollout-restart',
    description: 'Restarts a workload’s pods with a rolling update (like kubectl rollout restart).',
    parameters: z
      .object({
        namespace: k8sName,
        kind: z.enum(['Deployment', 'StatefulSet', 'DaemonSet']).default('Deployment'),
        name: k8sName,
        cluster,
      })
      .strict(),
    mutating: true,
    risk: 'medium',
    onRepeat: {
      effect: 'no-op',
      how: "the pod template gets the execution and step's change key and a restartedAt fixed at the first attempt, so a repeat finds it there and sends nothing (or sends the same template)",
    },
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    permissions: {
      kubernetes: [
        {
          apiGroup: 'apps',
          resources: ['deployments', 'statefulsets', 'daemonsets'],
          verbs: ['get', 'patch'],
        },
      ],
    },
  },
  {
    name: 'k8s.scale',
    description:
      'Sets a Deployment/StatefulSet’s replicas through the scale subresource; returns the previous count.',
    parameters: z
      .object({
        namespace: k8sName,
        kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
        name: k8sName,
        replicas: z.number().int().min(0).max(1_000),
        cluster,
      })
      .strict(),
    mutating: true,
    risk: 'medium',
    onRepeat: { effect: 'no-op', how: 'sets an absolute replica count' },
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    compensation: {
      tool: 'k8s.scale',
      parameters: {
        namespace: '{{ parameters.namespace }}',
        kind: '{{ parameters.kind }}',
        name: '{{ parameters.name }}',
        replicas: '{{ output.previousReplicas }}',
      },
      description: 'scales back to the previous replica count',
    },
    permissions: {
      kubernetes: [
        { apiGroup: 'apps', resources: ['deployments/scale', 'statefulsets/scale'], verbs: ['get', 'patch'] },
      ],
    },
  },
  {
    name: 'k8s.cordon',
    description: 'Marks a node unschedulable so no new pods land on it.',
    parameters: z.object({ node: k8sName, cluster }).strict(),
    mutating: true,
    risk: 'medium',
    onRepeat: { effect: 'no-op', how: 'a cordoned node stays cordoned' },
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    compensation: {
      tool: 'k8s.uncordon',
      parameters: { node: '{{ parameters.node }}' },
      description: 'makes the node schedulable again (unless it was cordoned before the runbook)',
      skipWhenOutput: 'wasUnschedulable',
    },
    permissions: { kubernetes: [{ apiGroup: '', resources: ['nodes'], verbs: ['get', 'patch'] }] },
  },
  {
    name: 'k8s.uncordon',
    description: 'Marks a node schedulable again.',
    parameters: z.object({ node: k8sName, cluster }).strict(),
    mutating: true,
    risk: 'low',
    onRepeat: { effect: 'no-op', how: 'an uncordoned node stays uncordoned' },
    dryRun: 'sends the patch with dryRun=All: the API server validates it and persists nothing',
    permissions: { kubernetes: [{ apiGroup: '', resources: ['nodes'], verbs: ['get', 'patch'] }] },
  },
  {
    name: 'k8s.evict-pod',
    description:
      'Evicts a pod through the Eviction API, which respects PodDisruptionBudgets. A pod already gone counts as evicted (`alreadyGone`), as in kubectl drain.',
    parameters: z
      .object({
        namespace: k8sName,
        pod: k8sName,
        gracePeriodSeconds: z.number().int().min(0).max(3_600).optional(),
        cluster,
      })
      .strict(),
    mutating: true,
    risk: 'medium',
    onRepeat: { effect: 'no-op', how: 'a pod already evicted is gone (alreadyGone)' },
    dryRun: 'posts the eviction with dryRun=All: PDBs are checked and nothing is evicted',
    permissions: { kubernetes: [{ apiGroup: '', resources: ['pods/eviction'], verbs: ['create'] }] },
  },
  // ---------------------------------------------------------------------------------------- Prometheus
  {
    name: 'prometheus.query',
    description: 'An instant PromQL query (/api/v1/query).',
    parameters: z
      .object({ query: z.string().min(1).max(10_000), time: z.string().optional(), prometheus })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'runs the query (read-only tools run for real in dry-run)',
    permissions: { http: true },
  },
  {
    name: 'prometheus.query-range',
    description: 'A PromQL range query over a recent window (/api/v1/query_range), summarized per series.',
    parameters: z
      .object({
        query: z.string().min(1).max(10_000),
        lookbackMinutes: z.number().int().min(1).max(10_080).default(30),
        stepSeconds: z.number().int().min(1).max(3_600).default(60),
        prometheus,
      })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'runs the query (read-only tools run for real in dry-run)',
    permissions: { http: true },
  },
  // ---------------------------------------------------------------------------------------- HTTP
  {
    name: 'http.check',
    description: 'Requests a URL and checks the status, the latency and optionally the body.',
    parameters: z
      .object({
        url: z.string().url(),
        method: z.enum(['GET', 'HEAD']).default('GET'),
        expectStatus: z.array(z.number().int().min(100).max(599)).min(1).default([200]),
        maxLatencyMs: z.number().int().min(1).max(60_000).optional(),
        bodyContains: z.string().min(1).optional(),
        timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
      })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'makes the request (read-only tools run for real in dry-run)',
    permissions: { http: true },
  },
  // ---------------------------------------------------------------------------------------- Built-in
  {
    name: 'notify.message',
    description:
      'Sends a message to one of the environment’s escalation targets (SNS on AWS, the outbox locally).',
    parameters: z
      .object({
        target: z
          .string()
          .min(1)
          .describe('escalation target name (escalationTargets in the environment’s config)'),
        subject: z.string().min(1).max(100),
        message: z.string().min(1).max(10_000),
      })
      .strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'returns the message it would send, sends nothing',
    permissions: { iam: ['sns:Publish'] },
  },
  {
    name: 'runbook.wait',
    description: 'Waits, e.g. for a restarted workload to settle before the next check.',
    parameters: z.object({ seconds: z.number().int().min(1).max(840) }).strict(),
    mutating: false,
    risk: 'low',
    dryRun: 'waits (waiting changes nothing)',
    permissions: {},
  },
  // ---------------------------------------------------------------------------------------- Local only
  {
    name: 'shell.exec',
    description: 'Runs an allow-listed local command (embedded platform only; off unless enabled).',
    parameters: z
      .object({
        command: z.string().min(1),
        args: z.array(z.string()).max(100).default([]),
        timeoutSeconds: z.number().int().min(1).max(840).default(60),
      })
      .strict(),
    mutating: true,
    risk: 'high',
    onRepeat: {
      effect: 'repeats',
      how: 'a local command cannot tell whether it ran: a second run runs it again',
    },
    dryRun: 'returns the command line it would run, runs nothing',
    permissions: { localProcess: true },
    runtimes: ['local'],
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

export type ToolName = (typeof TOOL_DECLARATIONS)[number]['name'];

export const TOOL_CATALOG: ToolCatalog = toolCatalog(TOOL_DECLARATIONS);

type Declaration = (typeof TOOL_DECLARATIONS)[number];

/** A declaration by name, with its parameter schema's type kept (for the implementations). */
export function declarationOf<Name extends ToolName>(name: Name): Extract<Declaration, { name: Name }> {
  const found = TOOL_DECLARATIONS.find((declaration) => declaration.name === name);
  if (!found) throw new Error(`no tool declaration "${name}"`);
  return found as Extract<Declaration, { name: Name }>;
}

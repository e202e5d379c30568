import * as z from 'zod';

/**
 * What an alert is about, as a typed reference. Normalization builds it from labels and dimensions
 * alone (cheap, deterministic); where those are not enough (a pod's owning Deployment, the node behind
 * node-exporter's `instance` IP, the ECS service behind a target group) the `resource.resolve` step at
 * the start of an execution asks the APIs and records how it resolved (ResolvedResource).
 *
 * Runbooks reference it as `{{ resource.… }}`, so one runbook serves every service.
 */

/** Kubernetes kinds an alert can name, by the label that names them (kube-state-metrics' label keys). */
export const KUBERNETES_OBJECT_LABELS = [
  { label: 'horizontalpodautoscaler', kind: 'HorizontalPodAutoscaler', type: 'k8s-hpa' },
  { label: 'poddisruptionbudget', kind: 'PodDisruptionBudget', type: 'k8s-pdb' },
  { label: 'persistentvolumeclaim', kind: 'PersistentVolumeClaim', type: 'k8s-pvc' },
  { label: 'job_name', kind: 'Job', type: 'k8s-job' },
  { label: 'cronjob', kind: 'CronJob', type: 'k8s-cronjob' },
  { label: 'deployment', kind: 'Deployment', type: 'k8s-deployment' },
  { label: 'statefulset', kind: 'StatefulSet', type: 'k8s-statefulset' },
  { label: 'daemonset', kind: 'DaemonSet', type: 'k8s-daemonset' },
  { label: 'resourcequota', kind: 'ResourceQuota', type: 'k8s-resourcequota' },
] as const;

/** Cluster-scoped kinds, by label. */
export const KUBERNETES_CLUSTER_OBJECT_LABELS = [
  { label: 'persistentvolume', kind: 'PersistentVolume', type: 'k8s-pv' },
] as const;

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const;

/** The controller that owns a pod, found through owner references (Pod → ReplicaSet → Deployment). */
export const WorkloadReference = z
  .object({
    kind: z.string().describe('Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet or Pod (bare)'),
    name: z.string(),
    namespace: z.string(),
  })
  .strict();
export type WorkloadReference = z.infer<typeof WorkloadReference>;

export const AlertResource = z
  .object({
    type: z
      .string()
      .min(1)
      .describe(
        'k8s-pod, k8s-deployment, k8s-node, k8s-pvc, k8s-hpa, k8s-job, k8s-service, k8s-namespace, k8s-cluster, host, ec2-instance, ecs-service, target-group, load-balancer, lambda-function, rds-instance, sqs-queue, dynamodb-table, apigateway-stage, …',
      ),
    id: z.string().min(1).describe('the identity safety limits count against: name, instance id, ARN…'),
    kind: z.string().optional().describe('Kubernetes kind, e.g. Deployment'),
    name: z.string().optional().describe('the object’s or resource’s own name'),
    namespace: z.string().optional(),
    cluster: z.string().optional(),
    container: z.string().optional().describe('the container an alert names (pod alerts)'),
    node: z.string().optional().describe('the Kubernetes node an alert names'),
    address: z.string().optional().describe('a host address (node-exporter’s instance, without the port)'),
    job: z.string().optional().describe('the Prometheus scrape job an alert is about (TargetDown)'),
    service: z.string().optional().describe('AWS: the service code (ecs, elasticloadbalancing, rds…)'),
    region: z.string().optional(),
    account: z.string().optional(),
    arn: z.string().optional(),
    identifiers: z
      .record(z.string(), z.string())
      .optional()
      .describe(
        'every dimension of a CloudWatch alarm, by its own name: LoadBalancer, TargetGroup, ClusterName, ServiceName, Stage, Operation…',
      ),
  })
  .strict();
export type AlertResource = z.infer<typeof AlertResource>;

/** One hop of a run-time resolution, for people to read: how the runbook got from the alert to what it acts on. */
export const ResolutionStep = z
  .object({
    from: z.string(),
    to: z.string(),
    via: z
      .string()
      .describe('the API or label that answered, e.g. "ownerReferences of ReplicaSet checkout-7f9c"'),
  })
  .strict();
export type ResolutionStep = z.infer<typeof ResolutionStep>;

/** An ECS service, by cluster and name. */
export const EcsServiceReference = z.object({ cluster: z.string(), service: z.string() }).strict();

/**
 * The resource as the execution knows it after `resource.resolve`: the alert's reference plus what the
 * APIs answered. Every field beyond AlertResource's is optional: it is set when the alert's kind of
 * resource has it and the lookup succeeded (`unresolved` says why not).
 */
export const ResolvedResource = AlertResource.extend({
  workload: WorkloadReference.optional().describe(
    'the top-level controller of a pod (or the workload itself)',
  ),
  pod: z.string().optional().describe('the pod an alert names'),
  pods: z.array(z.string()).optional().describe('pods of the workload, the job or the service'),
  instanceId: z.string().optional().describe('the EC2 instance behind a node or host'),
  autoScalingGroup: z.string().optional().describe('the Auto Scaling group of an instance or a target group'),
  ecsService: EcsServiceReference.optional().describe('the (first) ECS service behind a target group'),
  ecsServices: z.array(EcsServiceReference).optional(),
  instances: z.array(z.string()).optional().describe('EC2 instances registered in a target group'),
  targetGroupArn: z.string().optional(),
  loadBalancerArn: z.string().optional(),
  functionName: z
    .string()
    .optional()
    .describe('a Lambda function (the function, or an SQS queue’s consumer)'),
  queueUrl: z.string().optional(),
  deadLetterQueueUrl: z.string().optional(),
  restApiId: z.string().optional(),
  tags: z
    .record(z.string(), z.string())
    .optional()
    .describe('the resource’s tags (AWS) or labels (Kubernetes)'),
  resolution: z.array(ResolutionStep).describe('how each field beyond the alert’s was found'),
  unresolved: z.array(z.string()).describe('what could not be resolved, and why'),
}).strict();
export type ResolvedResource = z.infer<typeof ResolvedResource>;

/** `Deployment shop/checkout`, `k8s-node ip-10-0-1-23…`, `target-group targetgroup/web/73e2…`: for people. */
export function describeResource(resource: AlertResource): string {
  if (resource.kind && resource.name) {
    return `${resource.kind} ${resource.namespace ? `${resource.namespace}/` : ''}${resource.name}`;
  }
  return `${resource.type} ${resource.id}`;
}

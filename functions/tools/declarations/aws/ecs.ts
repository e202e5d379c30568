import * as z from 'zod';
import { numberParameter, touchesWhatItReads } from '../../../core/limits/blast-radius.ts';
import type { ToolDeclaration } from '../../../core/tool-catalog.ts';
import { awsRegion, dryRunFlag, isoTimestamp } from '../shared.ts';

/** ECS tools beyond describe-services and force-new-deployment (declarations/aws.ts). */

const ecsCluster = z.string().min(1).describe('cluster name or ARN');
const ecsService = z.string().min(1).describe('service name or ARN');

export const ScalableTargetRange = z.object({
  minCapacity: z.number(),
  maxCapacity: z.number(),
});

export const SetDesiredCountOutput = z.object({
  cluster: z.string(),
  service: z.string(),
  previousDesiredCount: z.number().describe('what the inverse restores'),
  desiredCount: z.number(),
  runningCount: z.number().describe('running tasks when the change was made'),
  maxDesiredCount: z.number().describe('the bound the step passed'),
  increaseBy: z.number().nullable().describe('the tasks the step asked to add; null when it set a count'),
  autoScaling: ScalableTargetRange.nullable().describe(
    'the service’s Application Auto Scaling range; null when it has none',
  ),
  unchanged: z.boolean().describe('true when the service already had this desired count (nothing to undo)'),
  dryRun: dryRunFlag,
});
export type SetDesiredCountOutput = z.infer<typeof SetDesiredCountOutput>;

export const EcsDeploymentOutput = z.object({
  id: z.string(),
  status: z.string().describe('PRIMARY, ACTIVE (the one being replaced) or INACTIVE'),
  taskDefinition: z.string().nullable(),
  desiredCount: z.number(),
  runningCount: z.number(),
  pendingCount: z.number(),
  failedTasks: z.number(),
  rolloutState: z.string().nullable().describe('IN_PROGRESS, COMPLETED or FAILED'),
  rolloutStateReason: z.string().nullable(),
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});
export type EcsDeploymentOutput = z.infer<typeof EcsDeploymentOutput>;

export const ServiceEventsOutput = z.object({
  cluster: z.string(),
  service: z.string(),
  status: z.string().describe('ACTIVE, DRAINING or INACTIVE'),
  desiredCount: z.number(),
  runningCount: z.number(),
  pendingCount: z.number(),
  events: z
    .array(z.object({ createdAt: isoTimestamp, message: z.string() }))
    .describe('the newest first (ECS keeps the last 100)'),
  deployments: z.array(EcsDeploymentOutput).describe('PRIMARY first'),
});
export type ServiceEventsOutput = z.infer<typeof ServiceEventsOutput>;

export const StoppedContainerOutput = z.object({
  name: z.string(),
  exitCode: z.number().nullable().describe('null when the container never ran'),
  reason: z.string().nullable().describe('e.g. OutOfMemoryError: Container killed due to memory usage'),
  lastStatus: z.string().nullable(),
});

export const StoppedTaskOutput = z.object({
  taskArn: z.string(),
  taskDefinition: z.string().nullable(),
  group: z.string().nullable().describe('service:NAME for a service’s tasks'),
  stopCode: z
    .string()
    .nullable()
    .describe(
      'TaskFailedToStart, EssentialContainerExited, UserInitiated, ServiceSchedulerInitiated, SpotInterruption…',
    ),
  stoppedReason: z.string().nullable(),
  startedAt: isoTimestamp,
  stoppedAt: isoTimestamp,
  containers: z.array(StoppedContainerOutput),
});
export type StoppedTaskOutput = z.infer<typeof StoppedTaskOutput>;

export const StoppedTasksOutput = z.object({
  cluster: z.string(),
  service: z.string().nullable(),
  taskCount: z.number().describe('stopped tasks read (ECS keeps stopped tasks for about an hour)'),
  tasks: z.array(StoppedTaskOutput).describe('the most recently stopped first'),
  reasons: z
    .array(z.object({ stopCode: z.string().nullable(), stoppedReason: z.string(), count: z.number() }))
    .describe('why the tasks stopped, the most frequent first'),
  containerExits: z
    .array(
      z.object({
        container: z.string(),
        exitCode: z.number().nullable(),
        reason: z.string().nullable(),
        count: z.number(),
      }),
    )
    .describe('how their containers ended, the most frequent first'),
});
export type StoppedTasksOutput = z.infer<typeof StoppedTasksOutput>;

export const ECS_TOOL_DECLARATIONS = [
  {
    name: 'ecs.set-desired-count',
    description:
      'Sets an ECS service’s desired task count, or adds tasks to it, within a bound the runbook passes (refuses above it, and outside the service’s Application Auto Scaling range); returns the previous count.',
    parameters: z
      .object({
        cluster: ecsCluster,
        service: ecsService,
        desiredCount: z
          .number()
          .int()
          .min(0)
          .max(10_000)
          .optional()
          .describe('the count to set; give this or increaseBy'),
        increaseBy: z
          .number()
          .int()
          .min(1)
          .max(1_000)
          .optional()
          .describe(
            'tasks to add to the current desired count, capped at maxDesiredCount; never lowers it, and refuses when the service is already at the bound',
          ),
        maxDesiredCount: z
          .number()
          .int()
          .min(0)
          .max(10_000)
          .describe(
            'the most tasks this step may ask for (a runbook parameter); a larger desiredCount is refused',
          ),
        region: awsRegion,
      })
      .strict()
      // Only "both" is checked here: validation parses literal values alone, so a templated increaseBy looks absent.
      .superRefine((parameters, ctx) => {
        if (parameters.desiredCount !== undefined && parameters.increaseBy !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['increaseBy'],
            message: 'give either desiredCount (the count to set) or increaseBy (tasks to add), not both',
          });
      }),
    output: SetDesiredCountOutput,
    mutating: true,
    blastRadius: touchesWhatItReads(
      'task',
      'the tasks added or removed: increaseBy, or |desiredCount − the current desired count| read first',
      (parameters) => numberParameter(parameters, 'increaseBy'),
      'increaseBy',
    ),
    risk: 'medium',
    dryRun: 'reads the service and its scaling range and returns the change it would make, changes nothing',
    compensation: {
      tool: 'ecs.set-desired-count',
      parameters: {
        cluster: '{{ parameters.cluster }}',
        service: '{{ parameters.service }}',
        desiredCount: '{{ output.previousDesiredCount }}',
        maxDesiredCount: '{{ output.previousDesiredCount }}',
      },
      description: 'restores the previous desired count',
      skipWhenOutput: 'unchanged',
    },
    onRepeat: {
      effect: 'repeats',
      how: 'with increaseBy a second run adds again (within maxDesiredCount); a desiredCount is absolute and repeats nothing',
    },
    inspectWith: {
      tool: 'ecs.describe-services',
      parameters: { cluster: '{{ parameters.cluster }}', services: ['{{ parameters.service }}'] },
    },
    permissions: {
      iam: ['ecs:DescribeServices', 'ecs:UpdateService', 'application-autoscaling:DescribeScalableTargets'],
    },
  },
  {
    name: 'ecs.service-events',
    description:
      'Reads an ECS service’s recent events (placement failures, unhealthy targets, steady state) and its deployments.',
    parameters: z
      .object({
        cluster: ecsCluster,
        service: ecsService,
        limit: z.number().int().min(1).max(100).default(20).describe('events returned, the newest first'),
        region: awsRegion,
      })
      .strict(),
    output: ServiceEventsOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the service (read-only tools run for real in dry-run)',
    permissions: { iam: ['ecs:DescribeServices'] },
  },
  {
    name: 'ecs.stopped-tasks',
    description:
      'Reads recently stopped ECS tasks (of a service, or of the cluster) with why they stopped and how their containers exited.',
    parameters: z
      .object({
        cluster: ecsCluster,
        service: z
          .string()
          .min(1)
          .optional()
          .describe('only this service’s tasks; default: the whole cluster'),
        limit: z.number().int().min(1).max(100).default(20),
        region: awsRegion,
      })
      .strict(),
    output: StoppedTasksOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the tasks (read-only tools run for real in dry-run)',
    permissions: { iam: ['ecs:ListTasks', 'ecs:DescribeTasks'] },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

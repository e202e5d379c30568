import * as z from 'zod';
import type { DiagnosticResult, Evidence, Finding, FindingKind } from './finding.ts';

/**
 * Per diagnostic tool, a function from its output to findings. Each reads only the fields it needs
 * (its own loose schema: core does not import the tool declarations); a test checks each against the
 * tool's declared output.
 */

/** A change older than this is history, not a finding. */
export const RECENT_CHANGE_HORIZON_MINUTES = 24 * 60;
/** A metric is off its baseline when its latest value is this many standard deviations away… */
export const METRIC_DEVIATIONS = 3;
/** …and at least this share of the baseline away (a flat baseline has no deviation to speak of). */
export const METRIC_RELATIVE_CHANGE = 0.5;
/** The baseline needs this many datapoints. */
export const METRIC_MIN_BASELINE_POINTS = 3;
export const ERROR_RATE_PERCENT = 1;

export interface ExtractionProblem {
  stepId: string;
  tool: string;
  message: string;
}

export interface Extraction {
  findings: Finding[];
  problems: ExtractionProblem[];
}

type Emit = (
  finding: Omit<Finding, 'observedAt' | 'evidence'> & { path: string; fields: Evidence['fields'] },
) => void;

interface Extractor<Schema extends z.ZodType> {
  output: Schema;
  extract: (output: z.infer<Schema>, context: { observedAt: string; emit: Emit }) => void;
}

function extractor<Schema extends z.ZodType>(
  output: Schema,
  extract: Extractor<Schema>['extract'],
): Extractor<z.ZodType> {
  return { output, extract } as Extractor<z.ZodType>;
}

const isoOrNull = z.string().nullable();
const minutesAgo = z.number().nullable();

/** `minutes` before `observedAt`, as ISO; null when unknown. */
export function minutesBefore(observedAt: string, minutes: number | null): string | null {
  if (minutes === null || !Number.isFinite(minutes)) return null;
  return new Date(Date.parse(observedAt) - minutes * 60_000).toISOString();
}

function validTime(value: string | null | undefined): string | null {
  if (!value) return null;
  const millis = Date.parse(value);
  return Number.isNaN(millis) ? null : new Date(millis).toISOString();
}

function isRecent(minutes: number | null): minutes is number {
  return minutes !== null && minutes >= 0 && minutes <= RECENT_CHANGE_HORIZON_MINUTES;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

// --------------------------------------------------------------------------------------- Kubernetes

const WorkloadStatus = z.looseObject({
  kind: z.string(),
  name: z.string(),
  namespace: z.string(),
  replicas: z.number(),
  availableReplicas: z.number(),
  unavailableReplicas: z.number(),
  lastRolloutMinutesAgo: minutesAgo,
  crashLoopingPods: z.number(),
  crashLoopingPodNames: z.array(z.string()),
});

const workloadStatus = extractor(WorkloadStatus, (output, { observedAt, emit }) => {
  const resource = `${output.kind}/${output.namespace}/${output.name}`;
  if (isRecent(output.lastRolloutMinutesAgo))
    emit({
      kind: 'recent-deployment',
      resource,
      sharedDependencies: [],
      at: minutesBefore(observedAt, output.lastRolloutMinutesAgo),
      weight: 0.4,
      summary: `${output.kind} ${output.namespace}/${output.name} rolled out a new revision ${plural(output.lastRolloutMinutesAgo, 'minute')} before the diagnostics ran`,
      path: 'lastRolloutMinutesAgo',
      fields: { lastRolloutMinutesAgo: output.lastRolloutMinutesAgo },
    });
  if (output.crashLoopingPods > 0)
    emit({
      kind: 'crash-loop',
      resource,
      sharedDependencies: [],
      at: null,
      weight: Math.min(1, 0.5 + output.crashLoopingPods / Math.max(1, output.replicas) / 2),
      summary: `${plural(output.crashLoopingPods, 'pod')} of ${output.namespace}/${output.name} are crash-looping (${output.crashLoopingPodNames.slice(0, 3).join(', ')})`,
      path: 'crashLoopingPods',
      fields: { crashLoopingPods: output.crashLoopingPods, replicas: output.replicas },
    });
  if (output.unavailableReplicas > 0)
    emit({
      kind: 'unavailable-replicas',
      resource,
      sharedDependencies: [],
      at: null,
      weight: Math.min(1, output.unavailableReplicas / Math.max(1, output.replicas)),
      summary: `${output.namespace}/${output.name} has ${output.unavailableReplicas} of ${output.replicas} replicas unavailable`,
      path: 'unavailableReplicas',
      fields: { unavailableReplicas: output.unavailableReplicas, replicas: output.replicas },
    });
});

const RolloutHistory = z.looseObject({
  kind: z.string(),
  name: z.string(),
  namespace: z.string(),
  revisions: z.array(
    z.looseObject({
      revision: z.number(),
      current: z.boolean(),
      createdAt: isoOrNull,
      changeCause: z.string().nullable(),
    }),
  ),
  currentRevision: z.number().nullable(),
  previousRevision: z.number().nullable(),
  lastRolloutMinutesAgo: minutesAgo,
  imagesChanged: z.boolean(),
  changedImages: z.array(
    z.object({ container: z.string(), from: z.string().nullable(), to: z.string().nullable() }),
  ),
});

const rolloutHistory = extractor(RolloutHistory, (output, { observedAt, emit }) => {
  if (!isRecent(output.lastRolloutMinutesAgo) || output.previousRevision === null) return;
  const index = output.revisions.findIndex((revision) => revision.current);
  const current = output.revisions[index];
  const resource = `${output.kind}/${output.namespace}/${output.name}`;
  const image = output.changedImages[0];
  const at = validTime(current?.createdAt) ?? minutesBefore(observedAt, output.lastRolloutMinutesAgo);
  const fields = {
    currentRevision: output.currentRevision,
    previousRevision: output.previousRevision,
    changeCause: current?.changeCause ?? null,
    imageFrom: image?.from ?? null,
    imageTo: image?.to ?? null,
  };
  const path = index >= 0 ? `revisions[${index}]` : 'lastRolloutMinutesAgo';
  // A new revision without new images changed the pod template: env, resources, probes, config.
  if (output.imagesChanged)
    emit({
      kind: 'recent-deployment',
      resource,
      sharedDependencies: [],
      at,
      weight: 0.5,
      summary: `${output.kind} ${output.namespace}/${output.name} was deployed (revision ${output.currentRevision}${image?.to ? `, image ${image.to}` : ''})`,
      path,
      fields,
    });
  else
    emit({
      kind: 'config-change',
      resource,
      sharedDependencies: [],
      at,
      weight: 0.4,
      summary: `${output.kind} ${output.namespace}/${output.name} got a new pod template without a new image (revision ${output.currentRevision}${current?.changeCause ? `: ${current.changeCause}` : ''})`,
      path,
      fields,
    });
});

const ContainerStatus = z.looseObject({
  name: z.string(),
  state: z.string(),
  reason: z.string().nullable(),
  message: z.string().nullable(),
  exitCode: z.number().nullable(),
  restarts: z.number(),
  lastTerminationReason: z.string().nullable(),
  lastExitCode: z.number().nullable(),
  lastTerminatedAt: isoOrNull,
});

const Pods = z.looseObject({
  namespace: z.string(),
  pods: z.array(
    z.looseObject({
      name: z.string(),
      node: z.string().nullable(),
      owner: z.object({ kind: z.string(), name: z.string() }).nullable(),
      unschedulable: z.string().nullable(),
      containers: z.array(ContainerStatus),
    }),
  ),
});

const IMAGE_PULL_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError']);

const pods = extractor(Pods, (output, { emit }) => {
  output.pods.forEach((pod, podIndex) => {
    const resource = pod.owner
      ? `${pod.owner.kind}/${output.namespace}/${pod.owner.name}`
      : `Pod/${output.namespace}/${pod.name}`;
    const sharedDependencies = pod.node ? [`node:${pod.node}`] : [];
    if (pod.unschedulable)
      emit({
        kind: 'unschedulable-pod',
        resource,
        sharedDependencies,
        at: null,
        weight: 0.6,
        summary: `pod ${output.namespace}/${pod.name} cannot be scheduled: ${pod.unschedulable}`,
        path: `pods[${podIndex}].unschedulable`,
        fields: { pod: pod.name, unschedulable: pod.unschedulable },
      });
    pod.containers.forEach((container, containerIndex) => {
      const path = `pods[${podIndex}].containers[${containerIndex}]`;
      const fields = {
        pod: pod.name,
        node: pod.node,
        container: container.name,
        state: container.state,
        reason: container.reason,
        lastTerminationReason: container.lastTerminationReason,
        lastExitCode: container.lastExitCode,
        restarts: container.restarts,
      };
      const where = `container ${container.name} of pod ${output.namespace}/${pod.name}${pod.node ? ` on node ${pod.node}` : ''}`;
      const oom = container.lastTerminationReason === 'OOMKilled' || container.reason === 'OOMKilled';
      if (oom)
        emit({
          kind: 'oom-killed',
          resource,
          sharedDependencies,
          at: validTime(container.lastTerminatedAt),
          weight: 0.7,
          summary: `${where} was killed for running out of memory (OOMKilled)`,
          path,
          fields,
        });
      else if (container.lastTerminationReason && container.lastTerminationReason !== 'Completed')
        emit({
          kind: 'container-terminated',
          resource,
          sharedDependencies,
          at: validTime(container.lastTerminatedAt),
          weight: 0.5,
          summary: `${where} last ended with ${container.lastTerminationReason} (exit code ${container.lastExitCode ?? 'unknown'})`,
          path,
          fields,
        });
      const waiting = container.state === 'waiting' ? container.reason : null;
      if (waiting && IMAGE_PULL_REASONS.has(waiting))
        emit({
          kind: 'image-pull-failure',
          resource,
          sharedDependencies,
          at: null,
          weight: 0.8,
          summary: `${where} cannot pull its image (${waiting}${container.message ? `: ${container.message}` : ''})`,
          path,
          fields,
        });
      else if (waiting && CONFIG_REASONS.has(waiting))
        emit({
          kind: 'container-config-error',
          resource,
          sharedDependencies,
          at: null,
          weight: 0.8,
          summary: `${where} cannot start: its configuration is wrong (${waiting}${container.message ? `: ${container.message}` : ''})`,
          path,
          fields,
        });
      else if (waiting === 'CrashLoopBackOff')
        emit({
          kind: 'crash-loop',
          resource,
          sharedDependencies,
          at: null,
          weight: 0.6,
          summary: `${where} is crash-looping after ${plural(container.restarts, 'restart')}`,
          path,
          fields,
        });
    });
  });
});

const Events = z.looseObject({
  namespace: z.string().nullable(),
  events: z.array(
    z.looseObject({
      type: z.string(),
      reason: z.string(),
      message: z.string(),
      object: z.string(),
      count: z.number(),
      firstSeen: isoOrNull,
      lastSeen: isoOrNull,
    }),
  ),
});

/** Warning event reasons that name a fault; other warnings count as `warning-events`. */
const EVENT_KINDS: Readonly<Record<string, FindingKind>> = {
  OOMKilling: 'oom-killed',
  FailedScheduling: 'unschedulable-pod',
  BackOff: 'crash-loop',
  ErrImagePull: 'image-pull-failure',
  ImagePullBackOff: 'image-pull-failure',
  NodeNotReady: 'node-not-ready',
  EvictionThresholdMet: 'node-pressure',
};

const events = extractor(Events, (output, { emit }) => {
  output.events.forEach((event, index) => {
    if (event.type !== 'Warning') return;
    const kind = EVENT_KINDS[event.reason] ?? 'warning-events';
    const [objectKind, ...rest] = event.object.split('/');
    const name = rest.join('/');
    const resource =
      objectKind === 'Node' || !output.namespace ? event.object : `${objectKind}/${output.namespace}/${name}`;
    emit({
      kind,
      resource,
      sharedDependencies: objectKind === 'Node' ? [`node:${name}`] : [],
      at: validTime(event.firstSeen) ?? validTime(event.lastSeen),
      weight: kind === 'warning-events' ? Math.min(0.5, 0.1 + event.count / 100) : 0.5,
      summary: `Kubernetes reported ${event.reason} for ${event.object} ${plural(event.count, 'time')}: ${event.message}`,
      path: `events[${index}]`,
      fields: { reason: event.reason, object: event.object, count: event.count, message: event.message },
    });
  });
});

const NodeResources = z.looseObject({
  name: z.string(),
  ready: z.boolean(),
  conditions: z.record(z.string(), z.boolean()),
});

const PRESSURE_CONDITIONS = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable'] as const;

const nodeResources = extractor(NodeResources, (output, { emit }) => {
  const resource = `Node/${output.name}`;
  const sharedDependencies = [`node:${output.name}`];
  if (!output.ready)
    emit({
      kind: 'node-not-ready',
      resource,
      sharedDependencies,
      at: null,
      weight: 0.8,
      summary: `node ${output.name} is not Ready`,
      path: 'ready',
      fields: { ready: output.ready },
    });
  for (const condition of PRESSURE_CONDITIONS)
    if (output.conditions[condition] === true)
      emit({
        kind: 'node-pressure',
        resource,
        sharedDependencies,
        at: null,
        weight: 0.6,
        summary: `node ${output.name} reports ${condition}`,
        path: `conditions.${condition}`,
        fields: { [condition]: true },
      });
});

// ---------------------------------------------------------------------------------------------- AWS

const TargetHealth = z.looseObject({
  targetGroupName: z.string(),
  targetCount: z.number(),
  unhealthyCount: z.number(),
  targets: z.array(z.looseObject({ id: z.string(), state: z.string(), reason: z.string().nullable() })),
});

const targetHealth = extractor(TargetHealth, (output, { emit }) => {
  if (output.unhealthyCount === 0) return;
  const index = output.targets.findIndex((target) => target.state.startsWith('unhealthy'));
  const first = output.targets[index];
  emit({
    kind: 'unhealthy-target',
    resource: `TargetGroup/${output.targetGroupName}`,
    sharedDependencies: [],
    at: null,
    weight: Math.min(1, output.unhealthyCount / Math.max(1, output.targetCount)),
    summary: `${output.unhealthyCount} of ${output.targetCount} targets of ${output.targetGroupName} fail their health check${first?.reason ? ` (${first.reason})` : ''}`,
    path: index >= 0 ? `targets[${index}]` : 'unhealthyCount',
    fields: {
      unhealthyCount: output.unhealthyCount,
      targetCount: output.targetCount,
      reason: first?.reason ?? null,
    },
  });
});

const LambdaDescribe = z.looseObject({
  functionName: z.string(),
  lastModified: isoOrNull,
  lastModifiedMinutesAgo: minutesAgo,
  alias: z
    .looseObject({
      name: z.string(),
      functionVersion: z.string(),
      functionVersionPublishedAt: isoOrNull,
      functionVersionMinutesAgo: minutesAgo,
      previousVersion: z.string().nullable(),
    })
    .nullable(),
});

const lambdaDescribe = extractor(LambdaDescribe, (output, { observedAt, emit }) => {
  const resource = `Function/${output.functionName}`;
  const alias = output.alias;
  if (alias && isRecent(alias.functionVersionMinutesAgo)) {
    emit({
      kind: 'recent-deployment',
      resource,
      sharedDependencies: [],
      at:
        validTime(alias.functionVersionPublishedAt) ??
        minutesBefore(observedAt, alias.functionVersionMinutesAgo),
      weight: 0.5,
      summary: `Lambda ${output.functionName} alias ${alias.name} serves version ${alias.functionVersion}, published ${plural(alias.functionVersionMinutesAgo, 'minute')} before the diagnostics ran (before: ${alias.previousVersion ?? 'none'})`,
      path: 'alias',
      fields: {
        alias: alias.name,
        functionVersion: alias.functionVersion,
        previousVersion: alias.previousVersion,
        functionVersionMinutesAgo: alias.functionVersionMinutesAgo,
      },
    });
    return;
  }
  if (isRecent(output.lastModifiedMinutesAgo))
    emit({
      kind: alias ? 'config-change' : 'recent-deployment',
      resource,
      sharedDependencies: [],
      at: validTime(output.lastModified) ?? minutesBefore(observedAt, output.lastModifiedMinutesAgo),
      weight: 0.4,
      summary: `Lambda ${output.functionName}'s code or configuration changed ${plural(output.lastModifiedMinutesAgo, 'minute')} before the diagnostics ran`,
      path: 'lastModifiedMinutesAgo',
      fields: { lastModified: output.lastModified, lastModifiedMinutesAgo: output.lastModifiedMinutesAgo },
    });
});

const LambdaErrors = z.looseObject({
  functionName: z.string(),
  lookbackMinutes: z.number(),
  errorRatePercent: z.number().nullable(),
  errors: z.number(),
  invocations: z.number(),
  errorTypes: z.array(z.looseObject({ type: z.string(), count: z.number(), sample: z.string() })),
});

const lambdaErrors = extractor(LambdaErrors, (output, { emit }) => {
  if (output.errorRatePercent === null || output.errorRatePercent < ERROR_RATE_PERCENT) return;
  const top = output.errorTypes[0];
  emit({
    kind: 'error-rate',
    resource: `Function/${output.functionName}`,
    sharedDependencies: [],
    at: null,
    weight: Math.min(1, output.errorRatePercent / 100 + 0.2),
    summary: `Lambda ${output.functionName} failed ${output.errorRatePercent}% of ${output.invocations} invocations in the last ${output.lookbackMinutes} minutes${top ? `, mostly ${top.type}` : ''}`,
    path: top ? 'errorTypes[0]' : 'errorRatePercent',
    fields: {
      errorRatePercent: output.errorRatePercent,
      errors: output.errors,
      invocations: output.invocations,
      errorType: top?.type ?? null,
      sample: top?.sample ?? null,
    },
  });
});

const StageStatus = z.looseObject({
  apiName: z.string(),
  stage: z.string(),
  deploymentId: z.string(),
  deploymentCreatedAt: isoOrNull,
  deploymentMinutesAgo: minutesAgo,
  previousDeploymentId: z.string().nullable(),
  stageUpdatedMinutesAgo: minutesAgo,
  errorRate5xxPercent: z.number().nullable(),
  requests: z.number(),
  lookbackMinutes: z.number(),
});

const stageStatus = extractor(StageStatus, (output, { observedAt, emit }) => {
  const resource = `ApiStage/${output.apiName}/${output.stage}`;
  const deploymentFields = {
    deploymentId: output.deploymentId,
    previousDeploymentId: output.previousDeploymentId,
    deploymentMinutesAgo: output.deploymentMinutesAgo,
    stageUpdatedMinutesAgo: output.stageUpdatedMinutesAgo,
  };
  if (isRecent(output.deploymentMinutesAgo))
    emit({
      kind: 'recent-deployment',
      resource,
      sharedDependencies: [],
      at: validTime(output.deploymentCreatedAt) ?? minutesBefore(observedAt, output.deploymentMinutesAgo),
      weight: 0.5,
      summary: `API ${output.apiName} stage ${output.stage} serves deployment ${output.deploymentId}, created ${plural(output.deploymentMinutesAgo, 'minute')} before the diagnostics ran`,
      path: 'deploymentId',
      fields: deploymentFields,
    });
  // The stage was repointed or its settings changed well after its deployment was created.
  else if (isRecent(output.stageUpdatedMinutesAgo))
    emit({
      kind: 'config-change',
      resource,
      sharedDependencies: [],
      at: minutesBefore(observedAt, output.stageUpdatedMinutesAgo),
      weight: 0.4,
      summary: `API ${output.apiName} stage ${output.stage} changed ${plural(output.stageUpdatedMinutesAgo, 'minute')} before the diagnostics ran`,
      path: 'stageUpdatedMinutesAgo',
      fields: deploymentFields,
    });
  if (output.errorRate5xxPercent !== null && output.errorRate5xxPercent >= ERROR_RATE_PERCENT)
    emit({
      kind: 'error-rate',
      resource,
      sharedDependencies: [],
      at: null,
      weight: Math.min(1, output.errorRate5xxPercent / 100 + 0.2),
      summary: `API ${output.apiName} stage ${output.stage} answered ${output.errorRate5xxPercent}% of ${output.requests} requests with 5xx in the last ${output.lookbackMinutes} minutes`,
      path: 'errorRate5xxPercent',
      fields: { errorRate5xxPercent: output.errorRate5xxPercent, requests: output.requests },
    });
});

const MetricData = z.looseObject({
  namespace: z.string(),
  metricName: z.string(),
  dimensions: z.record(z.string(), z.string()),
  stat: z.string(),
  datapoints: z.array(z.object({ timestamp: z.string(), value: z.number() })),
});

/**
 * The latest datapoint against the mean and standard deviation of the older half of the window (the
 * newer half may already be the incident); `at` is the first of the off-baseline run ending with it.
 */
const metricData = extractor(MetricData, (output, { emit }) => {
  const points = output.datapoints;
  const latestIndex = points.length - 1;
  const latest = points[latestIndex];
  const baselinePoints = Math.floor(points.length / 2);
  if (!latest || baselinePoints < METRIC_MIN_BASELINE_POINTS) return;
  let sum = 0;
  let squares = 0;
  for (let index = 0; index < baselinePoints; index++) {
    const value = points[index]?.value ?? 0;
    sum += value;
    squares += value * value;
  }
  const mean = sum / baselinePoints;
  const deviation = Math.sqrt(Math.max(0, squares / baselinePoints - mean * mean));
  const isOff = (value: number) =>
    Math.abs(value - mean) > METRIC_DEVIATIONS * deviation &&
    Math.abs(value - mean) >= METRIC_RELATIVE_CHANGE * Math.max(Math.abs(mean), Number.EPSILON);
  if (!isOff(latest.value)) return;
  let start = latestIndex;
  while (start > 0 && isOff(points[start - 1]?.value ?? mean)) start--;
  const dimensions = Object.entries(output.dimensions)
    .map(([name, value]) => `${name}=${value}`)
    .join(',');
  const moved = latest.value > mean ? 'rose' : 'fell';
  emit({
    kind: 'metric-off-baseline',
    resource: `Metric/${output.namespace}/${output.metricName}${dimensions ? `{${dimensions}}` : ''}`,
    sharedDependencies: [],
    at: validTime(points[start]?.timestamp),
    weight: Math.min(0.6, 0.2 + Math.abs(latest.value - mean) / Math.max(Math.abs(mean), 1) / 10),
    summary: `${output.metricName} (${output.stat}) ${moved} to ${round(latest.value)} from a baseline of ${round(mean)}`,
    path: `datapoints[${latestIndex}]`,
    fields: {
      latest: latest.value,
      baseline: round(mean),
      deviation: round(deviation),
      since: points[start]?.timestamp ?? null,
    },
  });
});

function round(value: number): number {
  return Number(value.toPrecision(4));
}

// ------------------------------------------------------------------------------------------- registry

export const EXTRACTORS: Readonly<Record<string, Extractor<z.ZodType>>> = {
  'k8s.workload-status': workloadStatus,
  'k8s.rollout-history': rolloutHistory,
  'k8s.pods': pods,
  'k8s.events': events,
  'k8s.node-resources': nodeResources,
  'elbv2.target-health': targetHealth,
  'lambda.describe': lambdaDescribe,
  'lambda.recent-errors': lambdaErrors,
  'apigateway.stage-status': stageStatus,
  'cloudwatch.get-metric-data': metricData,
};

/** The tools whose outputs yield findings. */
export const TOOLS_WITH_EXTRACTORS = Object.keys(EXTRACTORS);

/** Findings of all results, in their order; tools without an extractor yield none. */
export function extractFindings(results: readonly DiagnosticResult[]): Extraction {
  const findings: Finding[] = [];
  const problems: ExtractionProblem[] = [];
  for (const result of results) {
    const extraction = EXTRACTORS[result.tool];
    if (!extraction) continue;
    const parsed = extraction.output.safeParse(result.output);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `.${issue.path.join('.')}` : '';
      problems.push({
        stepId: result.stepId,
        tool: result.tool,
        message: `steps.${result.stepId}.output${where}: ${issue?.message ?? 'unreadable'}; its findings are left out (is the step's tool ${result.tool}?)`,
      });
      continue;
    }
    extraction.extract(parsed.data, {
      observedAt: result.observedAt,
      emit: ({ path, fields, ...finding }) =>
        findings.push({
          ...finding,
          observedAt: result.observedAt,
          evidence: {
            stepId: result.stepId,
            tool: result.tool,
            path: `steps.${result.stepId}.output.${path}`,
            fields,
          },
        }),
    });
  }
  return { findings, problems };
}

import type { V1CronJob, V1Job, V1JobSpec, V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type {
  DeleteJobOutput,
  FailedJobPod,
  JobRerunOutput,
  JobStatusOutput,
} from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolError, ToolErrorKind } from '../tool.ts';
import { containerStatusesOf, controllerOf, isoOf, labelSelectorString } from './objects.ts';
import { MAX_LOG_CHARACTERS } from './pods.ts';
import { DRY_RUN_ALL, type KubernetesSession, type KubernetesToolDeps, openSession } from './session.ts';

/** k8s.job-status, k8s.job-rerun and k8s.delete-job. */

/** Labels the API server generates for a Job (a copy must not carry them: they name the original). */
const GENERATED_LABELS = [
  'batch.kubernetes.io/controller-uid',
  'controller-uid',
  'batch.kubernetes.io/job-name',
  'job-name',
];
/** Marks a re-run with the Job it re-runs, so that running the step again finds it. */
export const RERUN_OF_LABEL = 'runbook-autopilot.io/rerun-of';
const CRONJOB_INSTANTIATE_ANNOTATION = 'cronjob.kubernetes.io/instantiate';
/** A Job's name is at most 63 characters (it becomes a label value); the API adds 5 for generateName. */
const MAX_GENERATE_PREFIX = 63 - 5;

async function readJob(session: KubernetesSession, namespace: string, name: string): Promise<V1Job> {
  return session.request({ verb: 'get', resource: 'jobs', group: 'batch', namespace, name }, (options) =>
    session.batch.readNamespacedJob({ namespace, name }, options),
  );
}

function condition(job: V1Job, type: string) {
  return (job.status?.conditions ?? []).find((entry) => entry.type === type && entry.status === 'True');
}

/** The failed container of a failed pod: the first that terminated with a non-zero exit code. */
function failedContainer(pod: V1Pod) {
  const containers = containerStatusesOf(pod);
  return (
    containers.find((container) => container.state === 'terminated' && container.exitCode !== 0) ??
    containers.find((container) => container.lastExitCode !== null && container.lastExitCode !== 0) ??
    containers[0]
  );
}

function hasFailed(pod: V1Pod): boolean {
  if (pod.status?.phase === 'Failed') return true;
  return containerStatusesOf(pod).some(
    (container) =>
      (container.state === 'terminated' && container.exitCode !== 0) ||
      (container.lastExitCode !== null && container.lastExitCode !== 0),
  );
}

async function failedPodDetail(
  session: KubernetesSession,
  namespace: string,
  pod: V1Pod,
  tailLines: number,
): Promise<FailedJobPod> {
  const name = pod.metadata?.name ?? '';
  const containers = containerStatusesOf(pod);
  const failed = failedContainer(pod);
  // A container restarted in place (restartPolicy OnFailure) keeps its failed run as the previous instance.
  const previous = failed !== undefined && failed.state !== 'terminated' && failed.lastExitCode !== null;
  const detail: FailedJobPod = {
    name,
    phase: pod.status?.phase ?? null,
    node: pod.spec?.nodeName ?? null,
    reason: failed ? (failed.state === 'terminated' ? failed.reason : failed.lastTerminationReason) : null,
    exitCode: failed ? (failed.state === 'terminated' ? failed.exitCode : failed.lastExitCode) : null,
    finishedAt: failed?.lastTerminatedAt ?? null,
    containers,
    log: null,
    logError: null,
  };
  const terminated = pod.status?.containerStatuses?.find((status) => status.name === failed?.name)?.state
    ?.terminated;
  if (terminated) detail.finishedAt = isoOf(terminated.finishedAt);
  if (!failed) return detail;
  const answer = await session.optional(
    { verb: 'get', resource: 'pods/log', namespace, name },
    (options) =>
      session.core.readNamespacedPodLog(
        { namespace, name, container: failed.name, tailLines, ...(previous ? { previous } : {}) },
        options,
      ),
    [400, 404, 500, 502, 503],
  );
  if ('absent' in answer) {
    detail.logError = answer.absent;
    return detail;
  }
  const trimmed = (typeof answer.value === 'string' ? answer.value : String(answer.value ?? '')).trimEnd();
  const truncated = trimmed.length > MAX_LOG_CHARACTERS;
  const text = truncated ? trimmed.slice(trimmed.length - MAX_LOG_CHARACTERS) : trimmed;
  detail.log = {
    container: failed.name,
    previous,
    text,
    lines: text === '' ? 0 : text.split('\n').length,
    truncated,
  };
  return detail;
}

/** The Job spec of a re-run: the original's, without its generated selector and labels. */
function copiedSpec(spec: V1JobSpec): V1JobSpec {
  const copy = structuredClone(spec);
  if (!copy.manualSelector) delete copy.selector;
  const labels = { ...copy.template.metadata?.labels };
  for (const label of GENERATED_LABELS) delete labels[label];
  copy.template.metadata = { ...copy.template.metadata, labels };
  delete copy.template.metadata.creationTimestamp;
  return copy;
}

function copiedLabels(meta: V1ObjectMeta | undefined, source: string): Record<string, string> {
  const labels = { ...meta?.labels };
  for (const label of GENERATED_LABELS) delete labels[label];
  return { ...labels, [RERUN_OF_LABEL]: source };
}

export function jobTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const status = defineTool(declarationOf('k8s.job-status'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.job-status', parameters.cluster, context);
    const { namespace, name, maxPods, tailLines } = parameters;
    const job = await readJob(session, namespace, name);
    const labelSelector = labelSelectorString(job.spec?.selector);
    const podList = await session.request({ verb: 'list', resource: 'pods', namespace }, (options) =>
      session.core.listNamespacedPod({ namespace, labelSelector }, options),
    );
    const failedPods = podList.items
      .filter((pod) => controllerOf(pod.metadata)?.uid === job.metadata?.uid && hasFailed(pod))
      .sort(
        (a, b) =>
          new Date(b.metadata?.creationTimestamp ?? 0).getTime() -
            new Date(a.metadata?.creationTimestamp ?? 0).getTime() ||
          (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
      );
    const shown: FailedJobPod[] = [];
    for (const pod of failedPods.slice(0, maxPods))
      shown.push(await failedPodDetail(session, namespace, pod, tailLines));
    const failed = condition(job, 'Failed');
    const startTime = isoOf(job.status?.startTime);
    const completionTime = isoOf(job.status?.completionTime);
    const end = completionTime ?? isoOf(failed?.lastTransitionTime);
    const owner = controllerOf(job.metadata);
    const output: JobStatusOutput = {
      namespace,
      name,
      cronJob: owner?.kind === 'CronJob' ? owner.name : null,
      failed: failed !== undefined,
      complete: condition(job, 'Complete') !== undefined,
      failureReason: failed?.reason ?? null,
      failureMessage: failed?.message ?? null,
      active: job.status?.active ?? 0,
      succeeded: job.status?.succeeded ?? 0,
      failedPods: job.status?.failed ?? 0,
      completions: job.spec?.completions ?? null,
      backoffLimit: job.spec?.backoffLimit ?? null,
      startTime,
      completionTime,
      durationSeconds:
        startTime && end ? Math.max(0, Math.round((Date.parse(end) - Date.parse(startTime)) / 1000)) : null,
      failedPodsShown: shown,
    };
    return output;
  });

  const rerun = defineTool(declarationOf('k8s.job-rerun'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(deps, 'k8s.job-rerun', parameters.cluster, context);
    const { namespace, kind, name } = parameters;
    const { dryRun } = context;
    let body: V1Job;
    if (kind === 'Job') {
      const job = await readJob(session, namespace, name);
      if (!condition(job, 'Failed'))
        session.fail(
          ToolErrorKind.Refused,
          `Job ${namespace}/${name} has not failed (${condition(job, 'Complete') ? 'it completed' : `${job.status?.active ?? 0} pod(s) active`}): there is nothing to re-run`,
        );
      if (!job.spec) session.fail(ToolErrorKind.Failed, `Job ${namespace}/${name} has no spec`);
      body = {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          generateName: `${name.slice(0, MAX_GENERATE_PREFIX - 7)}-rerun-`,
          namespace,
          labels: copiedLabels(job.metadata, name),
          annotations: { 'runbook-autopilot.io/rerun-of-uid': job.metadata?.uid ?? '' },
          // The CronJob (if any) keeps owning its Jobs, the re-run included: its history limits apply.
          ...(job.metadata?.ownerReferences
            ? { ownerReferences: structuredClone(job.metadata.ownerReferences) }
            : {}),
        },
        spec: copiedSpec(job.spec),
      };
    } else {
      const cronJob: V1CronJob = await session.request(
        { verb: 'get', resource: 'cronjobs', group: 'batch', namespace, name },
        (options) => session.batch.readNamespacedCronJob({ namespace, name }, options),
      );
      const template = cronJob.spec?.jobTemplate;
      if (!template?.spec)
        session.fail(ToolErrorKind.Failed, `CronJob ${namespace}/${name} has no job template`);
      // As kubectl create job --from=cronjob: the template's labels and annotations, owned by the CronJob.
      body = {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          generateName: `${name.slice(0, MAX_GENERATE_PREFIX - 8)}-manual-`,
          namespace,
          labels: { ...template.metadata?.labels, [RERUN_OF_LABEL]: name },
          annotations: { ...template.metadata?.annotations, [CRONJOB_INSTANTIATE_ANNOTATION]: 'manual' },
          ownerReferences: [
            {
              apiVersion: 'batch/v1',
              kind: 'CronJob',
              name,
              uid: cronJob.metadata?.uid ?? '',
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: structuredClone(template.spec),
      };
    }
    // A re-run made earlier (the step ran before and was interrupted) is the answer: no second copy.
    const existing = await session.request(
      { verb: 'list', resource: 'jobs', group: 'batch', namespace },
      (options) =>
        session.batch.listNamespacedJob({ namespace, labelSelector: `${RERUN_OF_LABEL}=${name}` }, options),
    );
    const sourceUid = body.metadata?.annotations?.['runbook-autopilot.io/rerun-of-uid'];
    // Of a Job: any re-run of that very Job. Of a CronJob: a manual run still going.
    const earlier = existing.items.find((job) =>
      kind === 'Job'
        ? job.metadata?.annotations?.['runbook-autopilot.io/rerun-of-uid'] === sourceUid
        : !condition(job, 'Failed') && !condition(job, 'Complete'),
    );
    if (earlier) {
      context.log(`a re-run of ${kind} ${namespace}/${name} exists already`, { job: earlier.metadata?.name });
      const output: JobRerunOutput = {
        namespace,
        sourceKind: kind,
        source: name,
        job: earlier.metadata?.name ?? '',
        created: false,
        dryRun,
      };
      return output;
    }
    const created = await session.request(
      { verb: 'create', resource: 'jobs', group: 'batch', namespace },
      (options) =>
        session.batch.createNamespacedJob(
          { namespace, body, ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}) },
          options,
        ),
    );
    if (!created.metadata?.name)
      throw new ToolError(
        ToolErrorKind.Failed,
        `k8s.job-rerun: the API server created a Job without a name (${session.where})`,
      );
    const output: JobRerunOutput = {
      namespace,
      sourceKind: kind,
      source: name,
      job: created.metadata.name,
      created: !dryRun,
      dryRun,
    };
    return output;
  });

  const deleteJob = defineTool(declarationOf('k8s.delete-job'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(deps, 'k8s.delete-job', parameters.cluster, context);
    const { namespace, name, replacedBy } = parameters;
    const { dryRun } = context;
    const read = await session.optional(
      { verb: 'get', resource: 'jobs', group: 'batch', namespace, name },
      (options) => session.batch.readNamespacedJob({ namespace, name }, options),
    );
    const gone: DeleteJobOutput = {
      namespace,
      name,
      cronJob: null,
      failureReason: null,
      replacedBy: replacedBy ?? null,
      deleted: false,
      alreadyGone: true,
      dryRun,
    };
    if ('absent' in read) return gone;
    const job = read.value;
    const failed = condition(job, 'Failed');
    if (!failed)
      session.fail(
        ToolErrorKind.Refused,
        `Job ${namespace}/${name} has not failed (${condition(job, 'Complete') ? 'it completed' : `${job.status?.active ?? 0} pod(s) active`}): only a failed Job is deleted`,
      );
    if (replacedBy !== undefined) {
      const replacement = await readJob(session, namespace, replacedBy);
      if (!condition(replacement, 'Complete'))
        session.fail(
          ToolErrorKind.Refused,
          `Job ${namespace}/${replacedBy}, which should have done the work of ${name}, has not completed (${condition(replacement, 'Failed') ? 'it failed too' : `${replacement.status?.active ?? 0} pod(s) active`}): the failed Job stays as the evidence`,
        );
    }
    const uid = job.metadata?.uid;
    // Background propagation: the garbage collector removes its pods, as kubectl delete job does.
    const answer = await session.optional(
      { verb: 'delete', resource: 'jobs', group: 'batch', namespace, name },
      (options) =>
        session.batch.deleteNamespacedJob(
          {
            namespace,
            name,
            propagationPolicy: 'Background',
            ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}),
            body: {
              propagationPolicy: 'Background',
              ...(uid ? { preconditions: { uid } } : {}),
              ...(dryRun ? { dryRun: [DRY_RUN_ALL] } : {}),
            },
          },
          options,
        ),
      [404, 409],
    );
    if ('absent' in answer) return gone;
    const owner = controllerOf(job.metadata);
    const output: DeleteJobOutput = {
      namespace,
      name,
      cronJob: owner?.kind === 'CronJob' ? owner.name : null,
      failureReason: failed.reason ?? null,
      replacedBy: replacedBy ?? null,
      deleted: !dryRun,
      alreadyGone: false,
      dryRun,
    };
    return output;
  });

  return [status, rerun, deleteJob];
}

export type { DeleteJobOutput, JobRerunOutput, JobStatusOutput } from '../declarations/kubernetes.ts';

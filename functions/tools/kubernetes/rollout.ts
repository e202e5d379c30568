import type {
  V1ControllerRevision,
  V1DaemonSet,
  V1Deployment,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type {
  ImageOfContainer,
  RolloutHistoryOutput,
  RolloutUndoOutput,
} from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolErrorKind } from '../tool.ts';
import { isOwnedBy, isoOf, labelSelectorString, minutesSince } from './objects.ts';
import {
  DRY_RUN_ALL,
  type KubernetesSession,
  type KubernetesToolDeps,
  openSession,
  PatchStrategy,
} from './session.ts';

/**
 * k8s.rollout-undo, as kubectl rollout undo does it (kubectl/pkg/polymorphichelpers/rollback.go): a
 * Deployment gets the pod template of the ReplicaSet of the wanted revision (its pod-template-hash
 * label removed) and that ReplicaSet's annotations; a StatefulSet or DaemonSet gets the template its
 * ControllerRevision recorded. The controllers then renumber the reused revision as the newest.
 */

type Kind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

const RESOURCE: Record<Kind, string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
};

const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const HASH_LABEL = 'pod-template-hash';

/** Annotations a rollback keeps from the Deployment instead of copying them from the ReplicaSet. */
const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

type Workload = V1Deployment | V1StatefulSet | V1DaemonSet;

interface Revision {
  number: number;
  template: V1PodTemplateSpec;
  createdAt: Date | undefined;
  /** A Deployment's ReplicaSet annotations (copied onto the Deployment by the rollback). */
  annotations?: Record<string, string>;
}

function imagesOf(template: V1PodTemplateSpec | undefined): ImageOfContainer[] {
  return (template?.spec?.containers ?? []).map((container) => ({
    container: container.name,
    image: container.image ?? '',
  }));
}

/** A template without the controllers' hash labels or a ControllerRevision's `$patch` directive. */
function plainTemplate(template: V1PodTemplateSpec | undefined): V1PodTemplateSpec {
  const copy = structuredClone(template ?? {}) as V1PodTemplateSpec & { $patch?: string };
  delete copy.$patch;
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[HASH_LABEL];
    if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  }
  return copy;
}

/** JSON with sorted keys: templates compare by content, not key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item) && !(item instanceof Date)
      ? Object.fromEntries(
          Object.keys(item)
            .sort()
            .filter((key) => (item as Record<string, unknown>)[key] !== undefined)
            .map((key) => [key, (item as Record<string, unknown>)[key]]),
        )
      : item,
  );
}

function sameTemplate(a: V1PodTemplateSpec | undefined, b: V1PodTemplateSpec | undefined): boolean {
  return canonical(plainTemplate(a)) === canonical(plainTemplate(b));
}

async function readWorkload(
  session: KubernetesSession,
  kind: Kind,
  namespace: string,
  name: string,
): Promise<Workload> {
  const target = { verb: 'get', resource: RESOURCE[kind], group: 'apps', namespace, name } as const;
  const { apps } = session;
  if (kind === 'Deployment')
    return session.request(target, (options) => apps.readNamespacedDeployment({ namespace, name }, options));
  if (kind === 'StatefulSet')
    return session.request(target, (options) => apps.readNamespacedStatefulSet({ namespace, name }, options));
  return session.request(target, (options) => apps.readNamespacedDaemonSet({ namespace, name }, options));
}

/** The workload's revisions, oldest first: a Deployment's ReplicaSets, or ControllerRevisions. */
async function revisionsOf(
  session: KubernetesSession,
  kind: Kind,
  workload: Workload,
  namespace: string,
): Promise<Revision[]> {
  const labelSelector = labelSelectorString(workload.spec?.selector);
  const uid = workload.metadata?.uid;
  if (kind === 'Deployment') {
    const list = await session.request(
      { verb: 'list', resource: 'replicasets', group: 'apps', namespace },
      (options) => session.apps.listNamespacedReplicaSet({ namespace, labelSelector }, options),
    );
    return list.items
      .filter((replicaSet: V1ReplicaSet) => isOwnedBy(replicaSet.metadata, uid))
      .map((replicaSet) => ({
        number: Number(replicaSet.metadata?.annotations?.[REVISION_ANNOTATION]),
        template: replicaSet.spec?.template ?? {},
        createdAt: replicaSet.metadata?.creationTimestamp,
        annotations: replicaSet.metadata?.annotations ?? {},
      }))
      .filter((revision) => Number.isInteger(revision.number) && revision.number > 0)
      .sort((a, b) => a.number - b.number);
  }
  const list = await session.request(
    { verb: 'list', resource: 'controllerrevisions', group: 'apps', namespace },
    (options) => session.apps.listNamespacedControllerRevision({ namespace, labelSelector }, options),
  );
  return list.items
    .filter((revision: V1ControllerRevision) => isOwnedBy(revision.metadata, uid))
    .map((revision) => ({
      number: revision.revision,
      template: ((revision.data as { spec?: { template?: V1PodTemplateSpec } } | undefined)?.spec?.template ??
        {}) as V1PodTemplateSpec,
      createdAt: revision.metadata?.creationTimestamp,
    }))
    .sort((a, b) => a.number - b.number);
}

/** The JSON patch of a rollback: the revision's template and, for a Deployment, its annotations. */
function rollbackPatch(kind: Kind, workload: Workload, revision: Revision): object[] {
  const operations: object[] = [
    { op: 'replace', path: '/spec/template', value: plainTemplate(revision.template) },
  ];
  if (kind === 'Deployment') {
    const annotations: Record<string, string> = {};
    for (const [key, value] of Object.entries(workload.metadata?.annotations ?? {}))
      if (ANNOTATIONS_TO_SKIP.has(key)) annotations[key] = value;
    for (const [key, value] of Object.entries(revision.annotations ?? {}))
      if (!ANNOTATIONS_TO_SKIP.has(key)) annotations[key] = value;
    operations.push({ op: 'add', path: '/metadata/annotations', value: annotations });
  }
  return operations;
}

/** The revision a workload runs: a Deployment's revision annotation, else the newest. */
function currentRevisionOf(kind: Kind, workload: Workload, revisions: readonly Revision[]): number {
  const latest = revisions.at(-1)?.number ?? 0;
  if (kind !== 'Deployment') return latest;
  return Number(workload.metadata?.annotations?.[REVISION_ANNOTATION]) || latest;
}

/** Per container, the image before and after (null where a container was added or removed). */
function imageChanges(before: ImageOfContainer[], after: ImageOfContainer[]) {
  const names = [...new Set([...before, ...after].map((entry) => entry.container))];
  return names
    .map((container) => ({
      container,
      from: before.find((entry) => entry.container === container)?.image ?? null,
      to: after.find((entry) => entry.container === container)?.image ?? null,
    }))
    .filter((change) => change.from !== change.to);
}

export function rolloutTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const history = defineTool(declarationOf('k8s.rollout-history'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.rollout-history', parameters.cluster, context);
    const { namespace, kind, name, limit } = parameters;
    const workload = await readWorkload(session, kind, namespace, name);
    const revisions = await revisionsOf(session, kind, workload, namespace);
    const current = currentRevisionOf(kind, workload, revisions);
    const currentEntry = revisions.find((revision) => revision.number === current);
    const previous = revisions.filter((revision) => revision.number !== current).at(-1);
    const currentImages = imagesOf(currentEntry?.template ?? workload.spec?.template);
    const changedImages = previous ? imageChanges(imagesOf(previous.template), currentImages) : [];
    const output: RolloutHistoryOutput = {
      kind,
      name,
      namespace,
      revisions: revisions
        .toReversed()
        .slice(0, limit)
        .map((revision) => ({
          revision: revision.number,
          current: revision.number === current,
          createdAt: isoOf(revision.createdAt),
          images: imagesOf(revision.template),
          changeCause: revision.annotations?.['kubernetes.io/change-cause'] ?? null,
        })),
      currentRevision: currentEntry ? current : null,
      previousRevision: previous?.number ?? null,
      lastRolloutMinutesAgo: minutesSince(currentEntry?.createdAt, deps.runtime.clock.now()),
      imagesChanged: changedImages.length > 0,
      changedImages,
    };
    return output;
  });

  const undo = defineTool(declarationOf('k8s.rollout-undo'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(
      deps,
      'k8s.rollout-undo',
      parameters.cluster,
      context,
    );
    const { namespace, kind, name, toRevision } = parameters;
    const { dryRun } = context;
    const workload = await readWorkload(session, kind, namespace, name);
    if (kind === 'Deployment' && (workload as V1Deployment).spec?.paused)
      session.fail(
        ToolErrorKind.Refused,
        `Deployment ${namespace}/${name} is paused: a paused Deployment rolls out nothing (resume it first: kubectl rollout resume)`,
      );
    const revisions = await revisionsOf(session, kind, workload, namespace);
    const fromRevision = currentRevisionOf(kind, workload, revisions);
    const known = revisions.map((revision) => revision.number).join(', ') || 'none';
    let target: Revision | undefined;
    if (toRevision !== undefined) {
      target = revisions.find((revision) => revision.number === toRevision);
      if (!target)
        session.fail(
          ToolErrorKind.NotFound,
          `${kind} ${namespace}/${name} has no revision ${toRevision} in its history (revisions: ${known})`,
        );
    } else {
      target = revisions.filter((revision) => revision.number !== fromRevision).at(-1);
      if (!target)
        session.fail(
          ToolErrorKind.Refused,
          `${kind} ${namespace}/${name} has no previous revision to roll back to (revisions: ${known})`,
        );
    }
    const imagesBefore = imagesOf(workload.spec?.template);
    const base = { kind, name, namespace, fromRevision, toRevision: target.number, imagesBefore, dryRun };
    if (sameTemplate(workload.spec?.template, target.template)) {
      context.log(`${kind} ${namespace}/${name} already runs the template of revision ${target.number}`);
      const output: RolloutUndoOutput = {
        ...base,
        imagesAfter: imagesBefore,
        alreadyAtTarget: true,
        changed: false,
      };
      return output;
    }
    const body = rollbackPatch(kind, workload, target);
    const request = { namespace, name, body, ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}) };
    const patchTarget = { verb: 'patch', resource: RESOURCE[kind], group: 'apps', namespace, name } as const;
    const how = { patch: PatchStrategy.JsonPatch };
    const { apps } = session;
    const patched: Workload =
      kind === 'Deployment'
        ? await session.request(
            patchTarget,
            (options) => apps.patchNamespacedDeployment(request, options),
            how,
          )
        : kind === 'StatefulSet'
          ? await session.request(
              patchTarget,
              (options) => apps.patchNamespacedStatefulSet(request, options),
              how,
            )
          : await session.request(
              patchTarget,
              (options) => apps.patchNamespacedDaemonSet(request, options),
              how,
            );
    const output: RolloutUndoOutput = {
      ...base,
      imagesAfter: imagesOf(patched.spec?.template),
      alreadyAtTarget: false,
      changed: true,
    };
    return output;
  });
  return [history, undo];
}

export type { RolloutHistoryOutput, RolloutUndoOutput } from '../declarations/kubernetes.ts';

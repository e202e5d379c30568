import type { V1PersistentVolumeClaim, V1Pod, V1StorageClass } from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { NodeDiskUsageOutput, PvcExpandOutput, PvcUsageOutput } from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, sleep, ToolErrorKind } from '../tool.ts';
import { ownerReferenceOf } from './objects.ts';
import { parseQuantity } from './quantity.ts';
import {
  DRY_RUN_ALL,
  type KubernetesSession,
  type KubernetesToolDeps,
  openSession,
  PatchStrategy,
  paceOf,
} from './session.ts';

/** k8s.pvc-usage, k8s.pvc-expand and k8s.node-disk-usage (the kubelet's stats summary). */

/** The kubelet's /stats/summary, the parts read here (k8s.io/kubelet/pkg/apis/stats/v1alpha1). */
interface FsStats {
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodes?: number;
  inodesUsed?: number;
}
interface StatsSummary {
  node?: { nodeName?: string; fs?: FsStats; runtime?: { imageFs?: FsStats } };
  pods?: Array<{
    podRef?: { name?: string; namespace?: string };
    volume?: Array<FsStats & { name?: string; pvcRef?: { name?: string; namespace?: string } }>;
    'ephemeral-storage'?: FsStats;
  }>;
}

const RESIZE_PENDING = 'FileSystemResizePending';

/**
 * A node's stats summary through the API server's node proxy; `absent` says why there is none (the
 * kubelet is unreachable, the role may not use nodes/proxy, the node is gone).
 */
async function statsSummary(
  session: KubernetesSession,
  node: string,
): Promise<{ value: StatsSummary } | { absent: string }> {
  const answer = await session.optional(
    { verb: 'get', resource: 'nodes/proxy', name: node },
    (options) => session.core.connectGetNodeProxyWithPath({ name: node, path: 'stats/summary' }, options),
    [403, 404, 500, 502, 503],
  );
  if ('absent' in answer) return answer;
  const raw: unknown = answer.value;
  try {
    const summary = (typeof raw === 'string' ? JSON.parse(raw) : raw) as StatsSummary;
    if (!summary || typeof summary !== 'object') return { absent: `the kubelet of ${node} sent no stats` };
    return { value: summary };
  } catch {
    return { absent: `the kubelet of ${node} sent stats that are not JSON` };
  }
}

function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}

function filesystem(stats: FsStats | undefined) {
  if (!stats || stats.capacityBytes === undefined) return null;
  const capacityBytes = stats.capacityBytes;
  const usedBytes = stats.usedBytes ?? capacityBytes - (stats.availableBytes ?? 0);
  return {
    capacityBytes,
    usedBytes,
    availableBytes: stats.availableBytes ?? Math.max(0, capacityBytes - usedBytes),
    usedPercent: percent(usedBytes, capacityBytes),
    inodesUsedPercent:
      stats.inodes !== undefined && stats.inodesUsed !== undefined
        ? percent(stats.inodesUsed, stats.inodes)
        : null,
  };
}

async function readClaim(
  session: KubernetesSession,
  namespace: string,
  name: string,
): Promise<V1PersistentVolumeClaim> {
  return session.request({ verb: 'get', resource: 'persistentvolumeclaims', namespace, name }, (options) =>
    session.core.readNamespacedPersistentVolumeClaim({ namespace, name }, options),
  );
}

async function readStorageClass(
  session: KubernetesSession,
  name: string,
): Promise<{ value: V1StorageClass } | { absent: string }> {
  return session.optional(
    { verb: 'get', resource: 'storageclasses', group: 'storage.k8s.io', name },
    (options) => session.storage.readStorageClass({ name }, options),
  );
}

function conditionTrue(claim: V1PersistentVolumeClaim, type: string): boolean {
  return (claim.status?.conditions ?? []).some(
    (condition) => condition.type === type && condition.status === 'True',
  );
}

/** Bytes of a quantity as runbooks read them: whole bytes. */
function bytesOf(quantity: string | undefined): number | null {
  if (quantity === undefined) return null;
  try {
    return Math.round(parseQuantity(quantity));
  } catch {
    return null;
  }
}

/** A byte count in the largest binary unit that keeps it whole (or whole Gi, rounded up). */
function storageQuantity(bytes: number): string {
  for (const [suffix, size] of [
    ['Ti', 2 ** 40],
    ['Gi', 2 ** 30],
  ] as const)
    if (bytes % size === 0) return `${bytes / size}${suffix}`;
  return `${Math.ceil(bytes / 2 ** 30)}Gi`;
}

export function storageTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const usage = defineTool(declarationOf('k8s.pvc-usage'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.pvc-usage', parameters.cluster, context);
    const { namespace, name } = parameters;
    const claim = await readClaim(session, namespace, name);
    const storageClassName = claim.spec?.storageClassName || null;
    const storageClass = storageClassName ? await readStorageClass(session, storageClassName) : undefined;
    const podList = await session.request({ verb: 'list', resource: 'pods', namespace }, (options) =>
      session.core.listNamespacedPod({ namespace }, options),
    );
    const users = podList.items.filter((pod: V1Pod) =>
      (pod.spec?.volumes ?? []).some((volume) => volume.persistentVolumeClaim?.claimName === name),
    );
    const capacity = claim.status?.capacity?.storage ?? null;
    const output: PvcUsageOutput = {
      namespace,
      name,
      phase: claim.status?.phase ?? null,
      storageClass: storageClassName,
      allowVolumeExpansion:
        storageClass === undefined
          ? null
          : 'value' in storageClass
            ? storageClass.value.allowVolumeExpansion === true
            : null,
      requested: claim.spec?.resources?.requests?.storage ?? null,
      capacity,
      capacityBytes: bytesOf(capacity ?? undefined),
      usedBytes: null,
      availableBytes: null,
      usedPercent: null,
      usageNote: null,
      fileSystemResizePending: conditionTrue(claim, RESIZE_PENDING),
      resizing: conditionTrue(claim, 'Resizing'),
      volumeName: claim.spec?.volumeName ?? null,
      pods: users.map((pod) => ({
        name: pod.metadata?.name ?? '',
        node: pod.spec?.nodeName ?? null,
        phase: pod.status?.phase ?? null,
        owner: ownerReferenceOf(pod.metadata),
      })),
    };
    const mounted = users.find((pod) => pod.spec?.nodeName && pod.status?.phase === 'Running');
    if (!mounted) {
      output.usageNote = 'no running pod mounts it: its usage is only known on the node that mounts it';
      return output;
    }
    const node = mounted.spec!.nodeName!;
    const stats = await statsSummary(session, node);
    if ('absent' in stats) {
      output.usageNote = `the kubelet of node ${node} could not be asked: ${stats.absent}`;
      return output;
    }
    const volume = (stats.value.pods ?? [])
      .flatMap((pod) => pod.volume ?? [])
      .find((entry) => entry.pvcRef?.name === name && entry.pvcRef?.namespace === namespace);
    const measured = filesystem(volume);
    if (!measured) {
      output.usageNote = `the kubelet of node ${node} reports no stats for this volume (yet)`;
      return output;
    }
    output.usedBytes = measured.usedBytes;
    output.availableBytes = measured.availableBytes;
    output.usedPercent = measured.usedPercent;
    return output;
  });

  const expand = defineTool(declarationOf('k8s.pvc-expand'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(deps, 'k8s.pvc-expand', parameters.cluster, context);
    const { namespace, name, size, maxSize, waitSeconds } = parameters;
    const { dryRun } = context;
    const claim = await readClaim(session, namespace, name);
    const where = `PersistentVolumeClaim ${namespace}/${name}`;
    if (claim.status?.phase !== 'Bound')
      session.fail(
        ToolErrorKind.Refused,
        `${where} is ${claim.status?.phase ?? 'not bound'}: only a bound claim can be expanded`,
      );
    const storageClassName = claim.spec?.storageClassName;
    if (!storageClassName)
      session.fail(
        ToolErrorKind.Refused,
        `${where} has no StorageClass (a statically provisioned volume): only dynamically provisioned claims can be expanded`,
      );
    const storageClass = await readStorageClass(session, storageClassName);
    if ('absent' in storageClass)
      session.fail(
        ToolErrorKind.Refused,
        `${where} uses StorageClass ${storageClassName}, which does not exist (${storageClass.absent})`,
      );
    if (storageClass.value.allowVolumeExpansion !== true)
      session.fail(
        ToolErrorKind.Refused,
        `StorageClass ${storageClassName} of ${where} does not allow volume expansion (allowVolumeExpansion is not true)`,
      );
    const previousSize = claim.spec?.resources?.requests?.storage ?? claim.status?.capacity?.storage ?? '0';
    const previousBytes = parseQuantity(previousSize);
    const maxBytes = parseQuantity(maxSize);
    let requestedBytes: number;
    let clampedToMaxSize = false;
    if (size.startsWith('+')) {
      // Whole GiB, rounded up (the epsilon keeps 100Gi × 1.1 at 110Gi despite binary fractions).
      const grown = (previousBytes * (100 + Number(size.slice(1, -1)))) / 100;
      requestedBytes = Math.ceil(grown / 2 ** 30 - 1e-9) * 2 ** 30;
      if (requestedBytes > maxBytes) {
        requestedBytes = maxBytes;
        clampedToMaxSize = true;
      }
    } else {
      requestedBytes = parseQuantity(size);
      if (requestedBytes > maxBytes)
        session.fail(
          ToolErrorKind.Refused,
          `${size} is more than this step's maxSize of ${maxSize} for ${where}`,
        );
    }
    if (requestedBytes <= previousBytes)
      session.fail(
        ToolErrorKind.Refused,
        clampedToMaxSize
          ? `${where} already requests ${previousSize}, at or above this step's maxSize of ${maxSize}`
          : `${where} already requests ${previousSize}: ${size} would not expand it (volumes do not shrink)`,
      );
    const requestedSize = size.startsWith('+') || clampedToMaxSize ? storageQuantity(requestedBytes) : size;
    const patched = await session.request(
      { verb: 'patch', resource: 'persistentvolumeclaims', namespace, name },
      (options) =>
        session.core.patchNamespacedPersistentVolumeClaim(
          {
            namespace,
            name,
            body: { spec: { resources: { requests: { storage: requestedSize } } } },
            ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}),
          },
          options,
        ),
      { patch: PatchStrategy.MergePatch },
    );
    let current = patched;
    const done = (object: V1PersistentVolumeClaim) =>
      (bytesOf(object.status?.capacity?.storage) ?? 0) >= requestedBytes;
    if (!dryRun) {
      const { resizePollMs } = paceOf(deps);
      const until = Math.min(Date.now() + waitSeconds * 1000, context.deadline - resizePollMs);
      while (
        !done(current) &&
        !conditionTrue(current, RESIZE_PENDING) &&
        Date.now() + resizePollMs <= until
      ) {
        await sleep(resizePollMs, context.signal);
        current = await readClaim(session, namespace, name);
      }
    }
    const pending = conditionTrue(current, RESIZE_PENDING);
    const output: PvcExpandOutput = {
      namespace,
      name,
      storageClass: storageClassName,
      previousSize,
      requestedSize,
      requestedBytes,
      clampedToMaxSize,
      capacity: current.status?.capacity?.storage ?? null,
      resizeState: dryRun
        ? 'not-started'
        : done(current)
          ? 'done'
          : pending
            ? 'file-system-resize-pending'
            : 'in-progress',
      fileSystemResizePending: pending,
      changed: true,
      dryRun,
    };
    return output;
  });

  const nodeDisk = defineTool(declarationOf('k8s.node-disk-usage'), async (parameters, context) => {
    const session: KubernetesSession = await openSession(
      deps,
      'k8s.node-disk-usage',
      parameters.cluster,
      context,
    );
    const { node, limit } = parameters;
    const stats = await statsSummary(session, node);
    if ('absent' in stats)
      session.fail(ToolErrorKind.Failed, `cannot read the kubelet stats of node ${node}: ${stats.absent}`);
    const root = filesystem(stats.value.node?.fs);
    if (!root)
      session.fail(ToolErrorKind.Failed, `the kubelet of node ${node} reports no root filesystem stats`);
    const podList = await session.request({ verb: 'list', resource: 'pods' }, (options) =>
      session.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }, options),
    );
    const owners = new Map(
      podList.items.map((pod) => [
        `${pod.metadata?.namespace}/${pod.metadata?.name}`,
        ownerReferenceOf(pod.metadata),
      ]),
    );
    const pods = (stats.value.pods ?? [])
      .map((pod) => ({
        namespace: pod.podRef?.namespace ?? '',
        name: pod.podRef?.name ?? '',
        ephemeralBytes: pod['ephemeral-storage']?.usedBytes ?? 0,
        owner: owners.get(`${pod.podRef?.namespace}/${pod.podRef?.name}`) ?? null,
      }))
      .sort((a, b) => b.ephemeralBytes - a.ephemeralBytes || a.name.localeCompare(b.name));
    const output: NodeDiskUsageOutput = {
      node,
      filesystem: root,
      imageFilesystem: filesystem(stats.value.node?.runtime?.imageFs),
      podsEphemeralBytes: pods.reduce((sum, pod) => sum + pod.ephemeralBytes, 0),
      pods: pods.slice(0, limit),
    };
    return output;
  });

  return [usage, expand, nodeDisk];
}

export type { NodeDiskUsageOutput, PvcExpandOutput, PvcUsageOutput } from '../declarations/kubernetes.ts';

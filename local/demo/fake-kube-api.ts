import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CoreV1Event,
  KubeConfig,
  type V1ConfigMap,
  type V1Container,
  type V1ContainerStatus,
  type V1ControllerRevision,
  type V1CronJob,
  type V1DaemonSet,
  type V1Deployment,
  type V1EndpointSlice,
  type V1Job,
  type V1JobCondition,
  type V1LabelSelector,
  type V1Namespace,
  type V1Node,
  type V1NodeCondition,
  type V1ObjectMeta,
  type V1OwnerReference,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V1PodTemplateSpec,
  type V1ReplicaSet,
  type V1ResourceQuota,
  type V1Service,
  type V1StatefulSet,
  type V1StorageClass,
  type V1Taint,
  type V1Volume,
  type V2HorizontalPodAutoscaler,
  type V2MetricSpec,
  type V2MetricStatus,
} from '@kubernetes/client-node';
import { parseQuantity } from '../../functions/tools/kubernetes/quantity.ts';

/**
 * A Kubernetes API server for tests and the demo: a real HTTP server on 127.0.0.1 that answers the
 * endpoints the k8s.* tools use with the API's documented shapes (objects, paged lists, Status errors
 * with their codes, metrics.k8s.io, the kubelet's stats summary through the node proxy, text logs),
 * keeps a small cluster, and records every request with the RBAC verb, group and resource it needs.
 *
 * Organised by resource kind: each section holds a kind's builders (`addX`), what its controller does
 * on `reconcile()` (or after every change with `autoReconcile`), and the API rules the server enforces
 * for it (validation on create and patch, admission refusals, derived status). Every kind is served by
 * the same list/get/create/patch/delete semantics (label and field selectors, `limit`/`continue`,
 * `dryRun=All` persists nothing, `resourceVersion` and uid preconditions, 404/409/422 Status bodies).
 */

// ------------------------------------------------------------------------------------------ types

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON for JSON bodies, the text otherwise; undefined without a body. */
  body: unknown;
  contentType: string | undefined;
  /** What RBAC must allow for it: verb, API group ('' core) and resource with subresource (`pods/log`). */
  verb?: string;
  group?: string;
  resource?: string;
}

export interface ResourceAmounts {
  cpu: string;
  memory: string;
}

/** A container state reason and message: `ImagePullBackOff`, `CreateContainerConfigError`… */
export interface WaitingState {
  reason: string;
  message?: string;
}

/** How a container (or its previous instance) ended: `Completed` 0, `Error` 1, `OOMKilled` 137. */
export interface TerminatedState {
  exitCode: number;
  reason: string;
  message?: string;
}

export interface ContainerOptions {
  name: string;
  image?: string;
  requests?: Partial<ResourceAmounts>;
  limits?: Partial<ResourceAmounts>;
  /** Current usage (metrics.k8s.io); default: the requests. */
  usage?: Partial<ResourceAmounts>;
  restarts?: number;
  /** Waiting in CrashLoopBackOff after its last run exited with an error. */
  crashLooping?: boolean;
  /** Waiting for another reason (ImagePullBackOff, CreateContainerConfigError…): the pod stays Pending. */
  waiting?: WaitingState;
  /** The container has exited (a Job's pod): the pod is Succeeded or Failed. */
  terminated?: TerminatedState;
  /** How its previous instance ended; default (when restarts > 0) Error 1 if crash looping, else OOMKilled 137. */
  lastTermination?: TerminatedState;
  log?: string;
  /** The log of the previous (terminated) instance; only readable when restarts > 0. */
  previousLog?: string;
  /** Running, but its readiness probe fails (a wedged process, a dependency it cannot reach): never Ready. */
  unready?: boolean;
  /** What the kubelet records about the container in its pod's events (failed pulls, failed probes…). */
  events?: ContainerEvent[];
}

/** An event the kubelet records for a container, e.g. `Failed` pulls or `Unhealthy` probes. */
export interface ContainerEvent {
  type?: 'Normal' | 'Warning';
  reason: string;
  message: string;
  count?: number;
}

/** What pods running an image do, whoever creates them (a bad release crash-loops, a missing image never pulls). */
export type ImageBehaviour = Partial<
  Pick<
    ContainerOptions,
    | 'crashLooping'
    | 'restarts'
    | 'waiting'
    | 'terminated'
    | 'lastTermination'
    | 'log'
    | 'previousLog'
    | 'unready'
    | 'events'
  >
>;

export type NodeConditionType =
  | 'Ready'
  | 'MemoryPressure'
  | 'DiskPressure'
  | 'PIDPressure'
  | 'NetworkUnavailable';

export interface FilesystemUsage {
  capacity: string;
  used: string;
}

export interface NodeOptions {
  name: string;
  capacity?: Partial<ResourceAmounts & { pods: string; 'ephemeral-storage': string }>;
  /** Default: capacity minus a little for the system (cpu 100m, memory 512Mi). */
  allocatable?: Partial<ResourceAmounts & { pods: string; 'ephemeral-storage': string }>;
  /** Condition statuses; default Ready true, every pressure false. */
  conditions?: Partial<Record<NodeConditionType, boolean>>;
  unschedulable?: boolean;
  taints?: V1Taint[];
  kubeletVersion?: string;
  usage?: ResourceAmounts;
  labels?: Record<string, string>;
  /** status.addresses InternalIP; default 10.0.<n>.<m>, one per node. */
  internalIP?: string;
  /** The availability zone in spec.providerID and the topology label; default eu-west-1a. */
  zone?: string;
  /** The EC2 instance in spec.providerID (`aws:///<zone>/<instance-id>`); default derived from the name. */
  instanceId?: string;
  /** The kubelet's root filesystem (stats summary `node.fs`); default the ephemeral-storage capacity, 30% used. */
  filesystem?: FilesystemUsage;
  /** The container runtime's image filesystem (`node.runtime.imageFs`); default the root filesystem. */
  imageFilesystem?: FilesystemUsage;
}

export interface PodVolumeOptions {
  name: string;
  /** A PersistentVolumeClaim in the pod's namespace; without it an emptyDir. */
  claim?: string;
}

interface WorkloadOptionsBase {
  namespace: string;
  name: string;
  /** Pod labels and the selector; default `{ app: name }`. */
  labels?: Record<string, string>;
  containers: ContainerOptions[];
  /** When the current revision was created; default 3 days ago. */
  rolloutMinutesAgo?: number;
  /** Annotations of the workload object (not its pods). */
  annotations?: Record<string, string>;
  /** Volumes of the pod template (claims must exist, see addPersistentVolumeClaim). */
  volumes?: PodVolumeOptions[];
}

export interface DeploymentOptions extends WorkloadOptionsBase {
  replicas: number;
  /** Nodes the pods land on, in turn; default: schedulable nodes in turn. */
  nodes?: string[];
  paused?: boolean;
  /** The revision number of the current ReplicaSet; default 1. */
  revision?: number;
  strategy?: 'RollingUpdate' | 'Recreate';
  progressDeadlineSeconds?: number;
}

export interface StatefulSetOptions extends WorkloadOptionsBase {
  replicas: number;
  nodes?: string[];
  updateStrategy?: 'RollingUpdate' | 'OnDelete';
  /** A PersistentVolumeClaim per pod (`<template>-<statefulset>-<ordinal>`), as the controller makes them. */
  volumeClaimTemplates?: Array<{ name: string; size: string; storageClass?: string; used?: string }>;
}

export interface DaemonSetOptions extends WorkloadOptionsBase {
  /** Default: every node. */
  nodes?: string[];
  updateStrategy?: 'RollingUpdate' | 'OnDelete';
}

export interface PodOptions {
  namespace: string;
  name: string;
  node?: string;
  labels?: Record<string, string>;
  containers: ContainerOptions[];
  owner?: V1OwnerReference;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  annotations?: Record<string, string>;
  volumes?: PodVolumeOptions[];
  /** A Pending pod the scheduler could not place: its PodScheduled condition's message. */
  unschedulable?: string;
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  /** Ephemeral storage the pod uses on its node (kubelet stats summary); default 64Mi. */
  ephemeralStorageUsed?: string;
  /** Minutes since the pod was created; default 0. */
  ageMinutes?: number;
  /**
   * The kubelet evicted it (node pressure): phase Failed, reason Evicted, its containers gone. It stays
   * until deleted (the pod garbage collector keeps thousands), and its controller has replaced it.
   */
  evicted?: { message: string };
}

export interface PdbOptions {
  namespace: string;
  name: string;
  matchLabels: Record<string, string>;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
}

export interface JobOptions {
  namespace: string;
  name: string;
  containers: ContainerOptions[];
  /** What became of it; default `failed` (its pods exited 1 until the backoff limit). */
  outcome?: 'failed' | 'succeeded' | 'running';
  completions?: number;
  parallelism?: number;
  backoffLimit?: number;
  /** Failed pods kept; default backoffLimit + 1 for a failed Job. */
  failedPods?: number;
  /** `BackoffLimitExceeded` (default) or `DeadlineExceeded`. */
  failureReason?: 'BackoffLimitExceeded' | 'DeadlineExceeded';
  activeDeadlineSeconds?: number;
  startedMinutesAgo?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  restartPolicy?: 'Never' | 'OnFailure';
  node?: string;
  /** The CronJob that created it (addCronJob sets this). */
  owner?: V1OwnerReference;
}

export interface CronJobOptions {
  namespace: string;
  name: string;
  schedule: string;
  containers: ContainerOptions[];
  suspend?: boolean;
  backoffLimit?: number;
  /** Jobs it has created, oldest first, with how they ended and when they were scheduled. */
  jobs?: Array<{ outcome: 'failed' | 'succeeded' | 'running'; minutesAgo: number }>;
}

export interface HpaOptions {
  namespace: string;
  name: string;
  target: { kind: 'Deployment' | 'StatefulSet'; name: string };
  minReplicas?: number;
  maxReplicas: number;
  /** The replicas the metrics ask for before min/max apply; default the target's replicas. */
  demand?: number;
  /** CPU utilization target and current value (percent of requests); default 70 and what the demand implies. */
  cpu?: { target: number; current: number };
  memory?: { targetAverageValue: string; currentAverageValue: string };
}

export interface StorageClassOptions {
  name: string;
  allowVolumeExpansion?: boolean;
  provisioner?: string;
  isDefault?: boolean;
}

export interface PersistentVolumeClaimOptions {
  namespace: string;
  name: string;
  size: string;
  /** The StorageClass; null for a statically provisioned volume; default the default class (or none). */
  storageClass?: string | null;
  /** Bytes used on the volume's filesystem (kubelet stats); default 10% of the size. */
  used?: string;
  accessModes?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ServiceOptions {
  namespace: string;
  name: string;
  selector: Record<string, string>;
  ports?: Array<{ name?: string; port: number; targetPort?: number }>;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  labels?: Record<string, string>;
}

export interface EventOptions {
  /** What the event is about: a stored object (kind, namespace, name, uid are copied) or a reference. */
  object:
    | { kind?: string; apiVersion?: string; metadata?: V1ObjectMeta }
    | { kind: string; name: string; namespace?: string; uid?: string; apiVersion?: string };
  type?: 'Normal' | 'Warning';
  reason: string;
  message: string;
  count?: number;
  firstSeenMinutesAgo?: number;
  lastSeenMinutesAgo?: number;
  /** The reporting component: kubelet, default-scheduler, deployment-controller… */
  source?: string;
  host?: string;
  /** Written through events.k8s.io/v1 (eventTime and series, no count or timestamps), as newer components do. */
  series?: boolean;
}

export interface FakeKubeApiOptions {
  /** Bearer token the server accepts; requests without it get 401. */
  token?: string;
  /** metrics.k8s.io is served (default true). */
  metrics?: boolean;
  /** Run the controllers after every persisted change (default false: call reconcile()). */
  autoReconcile?: boolean;
  now?: () => Date;
  /** The user named in 403 messages. */
  user?: string;
}

export interface InjectedFailure {
  method?: string;
  /** A path prefix or a pattern. */
  path?: string | RegExp;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** How many matching requests fail; default 1. */
  times?: number;
}

/** Matching requests are answered only after `ms`: an API server slow for some objects (steps time out). */
export interface InjectedDelay {
  method?: string;
  /** A path prefix or a pattern. */
  path?: string | RegExp;
  ms: number;
}

export interface ForbiddenRule {
  verb: string;
  /** Plural resource with subresource: `nodes`, `deployments/scale`, `pods/eviction`. */
  resource: string;
  /** API group; '' for core (default: any group). */
  group?: string;
}

/** Any API object the server stores. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: unknown;
  status?: unknown;
}

type Verb = 'get' | 'list' | 'create' | 'patch' | 'delete';

/** An injected failure's or delay's method and path (prefix or pattern) match the request. */
function requestMatches(
  rule: { method?: string; path?: string | RegExp },
  request: RecordedRequest,
): boolean {
  return (
    (rule.method === undefined || rule.method === request.method) &&
    (rule.path === undefined ||
      (typeof rule.path === 'string' ? request.path.startsWith(rule.path) : rule.path.test(request.path)))
  );
}

/** How the server serves one resource: its identity, the verbs it allows, and its kind's API rules. */
interface ServedResource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  store: Map<string, KubeObject>;
  verbs: readonly Verb[];
  /** Field selectors beyond metadata.name and metadata.namespace (the API refuses others with 400). */
  fields?: readonly string[];
  /** Field selector aliases (events' `source` is source.component). */
  fieldAliases?: Record<string, string>;
  /** The object as served (a status computed from the cluster). */
  view?: (object: KubeObject) => KubeObject;
  /** Objects computed on the fly instead of stored (EndpointSlices). */
  derived?: () => KubeObject[];
  /** Checks and completes a new object (defaulting, validation); throws an HttpError to refuse. */
  prepareCreate?: (object: KubeObject, request: RecordedRequest) => void;
  /** Checks a patched object against the stored one; throws an HttpError to refuse. */
  validateUpdate?: (next: KubeObject, previous: KubeObject) => void;
  /** What deleting an object takes with it. */
  onDelete?: (object: KubeObject) => void;
}

// ----------------------------------------------------------------------------------- constants

const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const DEFAULT_REVISION_AGE_MINUTES = 3 * 24 * 60;
const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
const HASH_LABEL = 'pod-template-hash';
const JOB_UID_LABELS = ['batch.kubernetes.io/controller-uid', 'controller-uid'] as const;
const JOB_NAME_LABELS = ['batch.kubernetes.io/job-name', 'job-name'] as const;
const DEFAULT_STORAGE_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
/** How the kubelet reports the containers of a pod it evicted. */
const EVICTED_CONTAINER: TerminatedState = {
  exitCode: 137,
  reason: 'ContainerStatusUnknown',
  message: 'The container could not be located when the pod was terminated',
};

type Workload = V1Deployment | V1StatefulSet | V1DaemonSet | V1ReplicaSet;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === 'object' && body && 'message' in body ? String(body.message) : `HTTP ${status}`);
  }
}

function statusBody(code: number, reason: string, message: string, details: Record<string, unknown> = {}) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    details,
    code,
  };
}

function qualified(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

function notFound(resource: string, group: string, name: string): HttpError {
  return new HttpError(
    404,
    statusBody(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, {
      name,
      ...(group ? { group } : {}),
      kind: resource,
    }),
  );
}

const NO_SUCH_RESOURCE = () =>
  new HttpError(404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));

const METHOD_NOT_ALLOWED = (method: string, resource: string) =>
  new HttpError(
    405,
    statusBody(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, {
      kind: resource,
      causes: [{ message: `${method} is not supported` }],
    }),
  );

function badRequest(message: string): HttpError {
  return new HttpError(400, statusBody(400, 'BadRequest', message));
}

function invalid(kind: string, group: string, name: string, field: string, message: string): HttpError {
  return new HttpError(
    422,
    statusBody(422, 'Invalid', `${kind}.${group || 'core'} "${name}" is invalid: ${field}: ${message}`, {
      name,
      group,
      kind,
      causes: [{ reason: 'FieldValueInvalid', message, field }],
    }),
  );
}

function forbiddenByAdmission(resource: string, group: string, name: string, message: string): HttpError {
  return new HttpError(
    403,
    statusBody(403, 'Forbidden', `${qualified(resource, group)} "${name}" is forbidden: ${message}`, {
      name,
      ...(group ? { group } : {}),
      kind: resource,
    }),
  );
}

function conflict(resource: string, group: string, name: string, message: string): HttpError {
  return new HttpError(
    409,
    statusBody(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": ${message}`,
      {
        name,
        ...(group ? { group } : {}),
        kind: resource,
      },
    ),
  );
}

// ------------------------------------------------------------------------------ small helpers

function clone<T>(value: T): T {
  return structuredClone(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
}

/** RFC 7386 JSON merge patch (strategic merge patch is treated the same for the maps patched here). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

const PATCH_NOT_APPLICABLE = (message: string) =>
  new HttpError(
    422,
    statusBody(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`),
  );

/** RFC 6902 JSON patch: add, replace, remove, test (arrays by index and `-`). */
export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('json patch must be an array of operations');
  let document = clone(target);
  for (const operation of operations as Array<{ op: string; path: string; value?: unknown }>) {
    const segments = String(operation.path)
      .split('/')
      .slice(1)
      .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segments.pop();
    if (last === undefined) {
      document = clone(operation.value);
      continue;
    }
    let parent: unknown = document;
    for (const segment of segments) {
      const next = Array.isArray(parent)
        ? parent[Number(segment)]
        : isPlainObject(parent)
          ? parent[segment]
          : undefined;
      if (!next || typeof next !== 'object')
        throw PATCH_NOT_APPLICABLE(`doc is missing path: ${operation.path}`);
      parent = next;
    }
    const container = parent as Record<string, unknown> | unknown[];
    const exists = Array.isArray(container) ? Number(last) < container.length : last in container;
    switch (operation.op) {
      case 'add':
        if (Array.isArray(container)) {
          const index = last === '-' ? container.length : Number(last);
          if (!Number.isInteger(index) || index > container.length)
            throw PATCH_NOT_APPLICABLE(`add operation index out of bounds: ${operation.path}`);
          container.splice(index, 0, clone(operation.value));
        } else container[last] = clone(operation.value);
        break;
      case 'replace':
        if (!exists)
          throw PATCH_NOT_APPLICABLE(
            `replace operation does not apply: doc is missing key: ${operation.path}`,
          );
        if (Array.isArray(container)) container[Number(last)] = clone(operation.value);
        else container[last] = clone(operation.value);
        break;
      case 'remove':
        if (!exists)
          throw PATCH_NOT_APPLICABLE(
            `remove operation does not apply: doc is missing path: ${operation.path}`,
          );
        if (Array.isArray(container)) container.splice(Number(last), 1);
        else delete container[last];
        break;
      case 'test': {
        const actual = Array.isArray(container) ? container[Number(last)] : container[last];
        if (canonicalJson(actual) !== canonicalJson(operation.value))
          throw PATCH_NOT_APPLICABLE(`testing value ${operation.path} failed`);
        break;
      }
      default:
        throw badRequest(`unsupported json patch operation "${operation.op}"`);
    }
  }
  return document;
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** JSON as the API server writes it: timestamps in RFC 3339 without fractions. */
function toJson(value: unknown): string {
  return JSON.stringify(value, function replacer(this: Record<string, unknown>, key: string, item: unknown) {
    const original = this[key];
    return original instanceof Date ? rfc3339(original) : item;
  });
}

/** JSON with sorted keys: two objects with the same content compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    isPlainObject(item)
      ? Object.fromEntries(
          Object.keys(item)
            .sort()
            .map((key) => [key, item[key]]),
        )
      : item,
  );
}

/** Rehydrates timestamps of a patched object (JSON strings) into Dates, as stored objects keep them. */
function reviveDates(value: unknown, original: unknown): unknown {
  if (typeof value === 'string' && original instanceof Date) return new Date(value);
  if (Array.isArray(value))
    return value.map((item, index) =>
      reviveDates(item, Array.isArray(original) ? original[index] : undefined),
    );
  if (isPlainObject(value)) {
    const source = isPlainObject(original) ? original : {};
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, reviveDates(item, source[key])]),
    );
  }
  return value;
}

function shortHash(text: string, length: number): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  for (let index = 0; index < length; index += 1) out += NAME_ALPHABET[digest[index]! % NAME_ALPHABET.length];
  return out;
}

/** A pod template's hash, as the controllers name ReplicaSets and ControllerRevisions (key order does not matter). */
function templateHash(template: V1PodTemplateSpec | undefined): string {
  return shortHash(canonicalJson(withoutHashLabel(template)), 10);
}

function withoutHashLabel(template: V1PodTemplateSpec | undefined): V1PodTemplateSpec | undefined {
  if (!template) return template;
  const copy = clone(template);
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[HASH_LABEL];
    delete copy.metadata.labels['controller-revision-hash'];
  }
  const record = copy as unknown as Record<string, unknown>;
  delete record.$patch;
  return copy;
}

/** Two pod templates are the same once the controllers' hash labels are set aside (EqualIgnoreHash). */
function sameTemplate(a: V1PodTemplateSpec | undefined, b: V1PodTemplateSpec | undefined): boolean {
  return canonicalJson(withoutHashLabel(a)) === canonicalJson(withoutHashLabel(b));
}

type Requirement = { key: string; op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists'; values: string[] };

/** Parses a label selector string (`a=b,c!=d,e in (x,y),f notin (z),g,!h`). */
export function parseLabelSelector(selector: string): Requirement[] {
  const requirements: Requirement[] = [];
  const terms = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  for (const raw of terms) {
    const term = raw.trim();
    if (!term) continue;
    let match = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (match) {
      requirements.push({
        key: match[1]!,
        op: match[2] as 'in' | 'notin',
        values: match[3]!.split(',').map((value) => value.trim()),
      });
      continue;
    }
    match = /^([^!=\s]+)\s*(!=|==|=)\s*(\S*)$/.exec(term);
    if (match) {
      requirements.push({ key: match[1]!, op: match[2] === '!=' ? '!=' : '=', values: [match[3]!] });
      continue;
    }
    if (term.startsWith('!')) requirements.push({ key: term.slice(1), op: '!exists', values: [] });
    else requirements.push({ key: term, op: 'exists', values: [] });
  }
  return requirements;
}

function matchesRequirements(
  labels: Record<string, string> | undefined,
  requirements: Requirement[],
): boolean {
  return requirements.every(({ key, op, values }) => {
    const value = labels?.[key];
    switch (op) {
      case '=':
        return value === values[0];
      case '!=':
        return value !== values[0];
      case 'in':
        return value !== undefined && values.includes(value);
      case 'notin':
        return value === undefined || !values.includes(value);
      case 'exists':
        return value !== undefined;
      case '!exists':
        return value === undefined;
    }
    return false;
  });
}

function matchesSelector(
  labels: Record<string, string> | undefined,
  selector: V1LabelSelector | undefined,
): boolean {
  if (!selector) return false;
  const requirements: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    op: '=',
    values: [value],
  }));
  for (const expression of selector.matchExpressions ?? []) {
    const op = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' }[expression.operator];
    requirements.push({
      key: expression.key,
      op: (op ?? 'exists') as Requirement['op'],
      values: expression.values ?? [],
    });
  }
  return matchesRequirements(labels, requirements);
}

function fieldValue(object: unknown, path: string): string {
  let current: unknown = object;
  for (const segment of path.split('.')) {
    current = isPlainObject(current) ? current[segment] : undefined;
  }
  if (current instanceof Date) return rfc3339(current);
  return current === undefined || current === null ? '' : String(current);
}

function intOrPercent(value: number | string | undefined, total: number, roundUp: boolean): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const percent = Number(value.replace('%', ''));
  const exact = (percent * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

function containerResources(container: ContainerOptions) {
  const resources: { requests?: Record<string, string>; limits?: Record<string, string> } = {};
  if (container.requests) resources.requests = { ...container.requests } as Record<string, string>;
  if (container.limits) resources.limits = { ...container.limits } as Record<string, string>;
  return resources;
}

function containerSpec(container: ContainerOptions): V1Container {
  return {
    name: container.name,
    image: container.image ?? `registry.example.com/${container.name}:1.0.0`,
    resources: containerResources(container),
  };
}

function volumesOf(volumes: PodVolumeOptions[] | undefined): V1Volume[] | undefined {
  if (!volumes?.length) return undefined;
  return volumes.map((volume) =>
    volume.claim
      ? { name: volume.name, persistentVolumeClaim: { claimName: volume.claim } }
      : { name: volume.name, emptyDir: {} },
  );
}

function templateOf(
  labels: Record<string, string>,
  containers: ContainerOptions[],
  volumes?: PodVolumeOptions[],
): V1PodTemplateSpec {
  const podVolumes = volumesOf(volumes);
  return {
    metadata: { labels: { ...labels } },
    spec: {
      containers: containers.map(containerSpec),
      ...(podVolumes ? { volumes: podVolumes } : {}),
    },
  };
}

function nanocores(cpu: string): string {
  return `${Math.round(parseQuantity(cpu) * 1e9)}n`;
}

function kibibytes(memory: string): string {
  return `${Math.round(parseQuantity(memory) / 1024)}Ki`;
}

function isReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some(
    (condition) => condition.type === 'Ready' && condition.status === 'True',
  );
}

function isTerminal(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function revisionOf(object: { metadata?: V1ObjectMeta }): number {
  return Number(object.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0);
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function ownsObject(owner: KubeObject, object: KubeObject): boolean {
  return (object.metadata?.ownerReferences ?? []).some((reference) => reference.uid === owner.metadata?.uid);
}

// ----------------------------------------------------------------------------------- the server

export class FakeKubeApi {
  // Stored objects, by kind; namespaced ones keyed `namespace/name`.
  readonly namespaces = new Map<string, V1Namespace>();
  readonly nodes = new Map<string, V1Node>();
  readonly pods = new Map<string, V1Pod>();
  readonly deployments = new Map<string, V1Deployment>();
  readonly statefulSets = new Map<string, V1StatefulSet>();
  readonly daemonSets = new Map<string, V1DaemonSet>();
  readonly replicaSets = new Map<string, V1ReplicaSet>();
  readonly controllerRevisions = new Map<string, V1ControllerRevision>();
  readonly jobs = new Map<string, V1Job>();
  readonly cronJobs = new Map<string, V1CronJob>();
  readonly hpas = new Map<string, V2HorizontalPodAutoscaler>();
  readonly pdbs = new Map<string, V1PodDisruptionBudget>();
  readonly storageClasses = new Map<string, V1StorageClass>();
  readonly pvcs = new Map<string, V1PersistentVolumeClaim>();
  readonly pvs = new Map<string, V1PersistentVolume>();
  readonly services = new Map<string, V1Service>();
  readonly configMaps = new Map<string, V1ConfigMap>();
  readonly resourceQuotas = new Map<string, V1ResourceQuota>();
  readonly events = new Map<string, CoreV1Event>();

  // What the cluster's machines would report (not API objects).
  readonly nodeUsage = new Map<string, ResourceAmounts>();
  /** `namespace/pod` → container → usage. */
  readonly podUsage = new Map<string, Map<string, ResourceAmounts>>();
  /** `namespace/pod/container` → logs. */
  readonly logs = new Map<string, { current: string; previous?: string }>();
  /** `namespace/claim` → bytes used on the volume's filesystem. */
  readonly volumeUsage = new Map<string, number>();
  /** node → root and image filesystems. */
  readonly nodeFilesystems = new Map<string, { root: FilesystemUsage; images: FilesystemUsage }>();
  /** `namespace/pod` → ephemeral storage bytes used. */
  readonly podEphemeralUsage = new Map<string, number>();
  /** `namespace/hpa` → replicas the metrics ask for, before min/max. */
  readonly hpaDemand = new Map<string, number>();
  /** image → what its containers do. */
  readonly imageBehaviours = new Map<string, ImageBehaviour>();

  readonly requests: RecordedRequest[] = [];
  /** Pods evicted (not in a dry run), as `namespace/name`. */
  readonly evicted: string[] = [];
  /** Pods deleted through the API (not in a dry run), as `namespace/name`. */
  readonly deletedPods: string[] = [];

  metricsAvailable: boolean;
  autoReconcile: boolean;
  /** Every answer waits this long (abort and timeout tests). */
  latencyMs = 0;
  /** Called as each request arrives, before it is answered (tests abort a step at an exact call). */
  onRequest: ((request: RecordedRequest) => void) | undefined;
  private readonly forbidden: ForbiddenRule[] = [];
  private readonly failures: InjectedFailure[] = [];
  private readonly delays: InjectedDelay[] = [];
  private readonly served: ServedResource[];
  private resourceVersion = 1000;
  private nameCounter = 0;
  private nodeCounter = 0;
  /** `namespace/deployment` → when its rollout last made progress (Progressing condition). */
  private readonly progressAt = new Map<string, Date>();
  /** `namespace/deployment` → the ReplicaSet whose rollout completed (NewReplicaSetAvailable). */
  private readonly rolledOut = new Map<string, string>();
  private readonly now: () => Date;
  private readonly token: string;
  private readonly user: string;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    options: FakeKubeApiOptions,
  ) {
    this.metricsAvailable = options.metrics ?? true;
    this.autoReconcile = options.autoReconcile ?? false;
    this.now = options.now ?? (() => new Date());
    this.token = options.token ?? 'fake-token';
    this.user = options.user ?? 'system:serviceaccount:runbook-autopilot:autopilot';
    this.served = this.servedResources();
  }

  static async start(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    let api: FakeKubeApi | undefined;
    const server = createServer((request, response) => {
      void api!.handle(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    api = new FakeKubeApi(server, `http://127.0.0.1:${port}`, options);
    return api;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A KubeConfig whose current context points at this server. */
  kubeConfig(options: { context?: string; token?: string } = {}): KubeConfig {
    return FakeKubeApi.kubeConfigOf([
      { api: this, context: options.context ?? 'fake', token: options.token },
    ]);
  }

  /** One KubeConfig with a context per fake server (multi-cluster tests); the first is current. */
  static kubeConfigOf(
    entries: Array<{ api: FakeKubeApi; context: string; token?: string | undefined }>,
  ): KubeConfig {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: entries.map(({ api, context }) => ({
        name: `${context}-cluster`,
        server: api.url,
        skipTLSVerify: true,
      })),
      users: entries.map(({ api, context, token }) => ({
        name: `${context}-user`,
        token: token ?? api.token,
      })),
      contexts: entries.map(({ context }) => ({
        name: context,
        cluster: `${context}-cluster`,
        user: `${context}-user`,
      })),
      currentContext: entries[0]!.context,
    });
    return kubeConfig;
  }

  // ------------------------------------------------------------------------------- test controls

  /** Answer 403 (with the API's message) for a verb on a resource. */
  forbid(rule: ForbiddenRule): this {
    this.forbidden.push(rule);
    return this;
  }

  /** The next matching request(s) get this response instead. */
  failNext(failure: InjectedFailure): this {
    this.failures.push({ times: 1, ...failure });
    return this;
  }

  /** Every matching request from now on is answered `ms` later (on top of the latency). */
  slowDown(delay: InjectedDelay): this {
    this.delays.push(delay);
    return this;
  }

  /** Requests recorded so far, optionally only one method and path prefix. */
  requestsTo(method?: string, pathPrefix?: string): RecordedRequest[] {
    return this.requests.filter(
      (request) =>
        (method === undefined || request.method === method) &&
        (pathPrefix === undefined || request.path.startsWith(pathPrefix)),
    );
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Edits a stored object in place (for states the builders do not make, such as a rollout midway). */
  edit<T extends KubeObject>(store: Map<string, T>, key: string, change: (object: T) => void): void {
    const object = store.get(key);
    if (!object) throw new Error(`no object ${key} to edit`);
    change(object);
  }

  /** What pods running `image` do from now on, whoever creates them (reconcile, a rollout). */
  setImageBehaviour(image: string, behaviour: ImageBehaviour): void {
    this.imageBehaviours.set(image, behaviour);
  }

  /**
   * `kubectl set image`: changes a container's image in a workload's template, bumps its generation
   * and runs the controllers. `minutesAgo` backdates the rollout (a stuck rollout past its deadline).
   */
  setImage(
    kind: 'Deployment' | 'StatefulSet' | 'DaemonSet',
    namespace: string,
    name: string,
    container: string,
    image: string,
    options: { minutesAgo?: number } = {},
  ): void {
    const store = {
      Deployment: this.deployments,
      StatefulSet: this.statefulSets,
      DaemonSet: this.daemonSets,
    }[kind] as Map<string, Workload>;
    const key = `${namespace}/${name}`;
    this.edit(store, key, (workload) => {
      const target = workload.spec!.template!.spec!.containers.find(
        (candidate) => candidate.name === container,
      );
      if (!target) throw new Error(`${kind} ${key} has no container ${container}`);
      target.image = image;
      workload.metadata!.generation = (workload.metadata!.generation ?? 1) + 1;
    });
    this.rolloutMinutesAgo = options.minutesAgo ?? 0;
    try {
      this.reconcile();
    } finally {
      this.rolloutMinutesAgo = 0;
    }
  }

  /** Backdates what the controllers create during one reconcile (setImage's minutesAgo). */
  private rolloutMinutesAgo = 0;

  // ---------------------------------------------------------------------------------- controllers

  /**
   * What the controllers and kubelets would do, at once: Deployments roll to a changed template
   * (surge and unavailability respected, so a release whose pods never get ready stalls midway),
   * ReplicaSets, StatefulSets, DaemonSets and Jobs get the pods they want, HPAs scale their targets,
   * claims are resized, and statuses and observedGeneration catch up.
   */
  reconcile(): void {
    for (const hpa of this.hpas.values()) this.reconcileHpa(hpa);
    for (const deployment of this.deployments.values()) this.reconcileDeployment(deployment);
    for (const statefulSet of this.statefulSets.values()) this.reconcileStatefulSet(statefulSet);
    for (const daemonSet of this.daemonSets.values()) this.reconcileDaemonSet(daemonSet);
    for (const job of this.jobs.values()) this.reconcileJob(job);
    for (const claim of this.pvcs.values()) this.reconcileClaim(claim);
    this.refreshStatuses(true);
  }

  /** Recomputes statuses from the cluster; `observe` also catches observedGeneration up. */
  private refreshStatuses(observe = false): void {
    this.refreshReplicaSets();
    this.refreshDeployments(observe);
    this.refreshStatefulSets(observe);
    this.refreshDaemonSets(observe);
    this.refreshJobs();
    this.refreshCronJobs();
    this.refreshHpas();
  }

  // ----------------------------------------------------------------------------- object helpers

  private meta(
    name: string,
    namespace: string | undefined,
    extra: Partial<V1ObjectMeta> = {},
    createdAt?: Date,
  ): V1ObjectMeta {
    if (namespace) this.ensureNamespace(namespace);
    return {
      name,
      ...(namespace ? { namespace } : {}),
      uid: randomUUID(),
      resourceVersion: String(this.nextResourceVersion()),
      creationTimestamp: createdAt ?? this.now(),
      ...extra,
    };
  }

  private nextResourceVersion(): number {
    this.resourceVersion += 1;
    return this.resourceVersion;
  }

  private suffix(seed: string): string {
    this.nameCounter += 1;
    return shortHash(`${seed}-${this.nameCounter}`, 5);
  }

  private ownerReference(owner: KubeObject, kind: string, apiVersion = 'apps/v1'): V1OwnerReference {
    return {
      apiVersion,
      kind,
      name: owner.metadata!.name!,
      uid: owner.metadata!.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
  }

  private minutesAgo(minutes: number): Date {
    return new Date(this.now().getTime() - minutes * 60_000);
  }

  private podsOwnedBy(owner: KubeObject): V1Pod[] {
    return [...this.pods.values()]
      .filter((pod) => ownsObject(owner, pod))
      .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  }

  /** Pods of a namespace whose labels match, sorted by name (what the controllers see). */
  podsMatching(namespace: string, selector: V1LabelSelector | undefined): V1Pod[] {
    return [...this.pods.values()]
      .filter(
        (pod) => pod.metadata?.namespace === namespace && matchesSelector(pod.metadata?.labels, selector),
      )
      .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  }

  /** The containers a template's pods get, with what their images do. */
  private containersOf(template: V1PodTemplateSpec): ContainerOptions[] {
    return (template.spec?.containers ?? []).map((container) => ({
      name: container.name,
      ...(container.image ? { image: container.image } : {}),
      ...(container.resources?.requests ? { requests: { ...container.resources.requests } } : {}),
      ...(container.resources?.limits ? { limits: { ...container.resources.limits } } : {}),
      ...(container.image ? this.imageBehaviours.get(container.image) : {}),
    }));
  }

  private volumesOfTemplate(template: V1PodTemplateSpec): PodVolumeOptions[] {
    return (template.spec?.volumes ?? []).map((volume) => ({
      name: volume.name,
      ...(volume.persistentVolumeClaim ? { claim: volume.persistentVolumeClaim.claimName } : {}),
    }));
  }

  /**
   * Nodes for `count` new pods: the given ones in turn, else schedulable nodes in turn (not cordoned,
   * no NoSchedule or NoExecute taint: pods here tolerate none, as the scheduler's TaintToleration).
   */
  private placement(nodes: string[] | undefined, count: number): Array<string | undefined> {
    const pool =
      nodes ??
      [...this.nodes.values()].filter((node) => this.schedulable(node)).map((node) => node.metadata!.name!);
    return Array.from({ length: Math.max(0, count) }, (_, index) =>
      pool.length ? pool[index % pool.length] : undefined,
    );
  }

  // =============================================================================== Namespaces

  private ensureNamespace(name: string): void {
    if (this.namespaces.has(name)) return;
    this.namespaces.set(name, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        uid: randomUUID(),
        resourceVersion: String(this.nextResourceVersion()),
        creationTimestamp: this.now(),
        labels: { 'kubernetes.io/metadata.name': name },
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  addNamespace(name: string, labels: Record<string, string> = {}): V1Namespace {
    this.ensureNamespace(name);
    this.edit(this.namespaces, name, (namespace) => {
      namespace.metadata!.labels = { ...namespace.metadata!.labels, ...labels };
    });
    return clone(this.namespaces.get(name)!);
  }

  // ==================================================================================== Nodes

  addNode(options: NodeOptions): V1Node {
    const capacity = {
      cpu: '4',
      memory: '16Gi',
      pods: '110',
      'ephemeral-storage': '100Gi',
      ...options.capacity,
    };
    const allocatable = {
      cpu: `${Math.round(parseQuantity(capacity.cpu) * 1000 - 100)}m`,
      memory: `${Math.round(parseQuantity(capacity.memory) / 2 ** 20 - 512)}Mi`,
      pods: capacity.pods,
      'ephemeral-storage': capacity['ephemeral-storage'],
      ...options.allocatable,
    };
    const statuses: Record<NodeConditionType, boolean> = {
      Ready: true,
      MemoryPressure: false,
      DiskPressure: false,
      PIDPressure: false,
      NetworkUnavailable: false,
      ...options.conditions,
    };
    const at = this.now();
    const conditions: V1NodeCondition[] = (Object.keys(statuses) as NodeConditionType[]).map((type) => ({
      type,
      status: statuses[type] ? 'True' : 'False',
      lastHeartbeatTime: at,
      lastTransitionTime: at,
      reason: NODE_CONDITION_REASON[type][statuses[type] ? 0 : 1],
      message: NODE_CONDITION_MESSAGE[type][statuses[type] ? 0 : 1],
    }));
    this.nodeCounter += 1;
    const zone = options.zone ?? 'eu-west-1a';
    const instanceId = options.instanceId ?? `i-0${shortHash(options.name, 16).replace(/[^0-9a-f]/g, 'a')}`;
    const internalIP =
      options.internalIP ?? `10.0.${1 + Math.floor(this.nodeCounter / 250)}.${10 + (this.nodeCounter % 240)}`;
    const taints = [
      ...(options.taints ?? []),
      ...(options.unschedulable
        ? [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule', timeAdded: at }]
        : []),
      ...(statuses.Ready
        ? []
        : [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule', timeAdded: at }]),
    ];
    const node: V1Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: this.meta(options.name, undefined, {
        labels: {
          'kubernetes.io/hostname': options.name,
          'kubernetes.io/os': 'linux',
          'topology.kubernetes.io/zone': zone,
          ...options.labels,
        },
      }),
      spec: {
        providerID: `aws:///${zone}/${instanceId}`,
        ...(options.unschedulable ? { unschedulable: true } : {}),
        ...(taints.length ? { taints } : {}),
      },
      status: {
        addresses: [
          { type: 'InternalIP', address: internalIP },
          { type: 'InternalDNS', address: options.name },
          { type: 'Hostname', address: options.name },
        ],
        capacity,
        allocatable,
        conditions,
        nodeInfo: {
          kubeletVersion: options.kubeletVersion ?? 'v1.31.2-eks-94953ac',
          kubeProxyVersion: options.kubeletVersion ?? 'v1.31.2-eks-94953ac',
          architecture: 'amd64',
          bootID: randomUUID(),
          containerRuntimeVersion: 'containerd://1.7.22',
          kernelVersion: '6.1.112-124.190.amzn2023.x86_64',
          machineID: shortHash(options.name, 32),
          operatingSystem: 'linux',
          osImage: 'Amazon Linux 2023.6.20241031',
          systemUUID: randomUUID(),
        },
      },
    };
    this.nodes.set(options.name, node);
    if (options.usage) this.nodeUsage.set(options.name, options.usage);
    const root = options.filesystem ?? {
      capacity: capacity['ephemeral-storage'],
      used: String(Math.round(parseQuantity(capacity['ephemeral-storage']) * 0.3)),
    };
    this.nodeFilesystems.set(options.name, { root, images: options.imageFilesystem ?? root });
    return clone(node);
  }

  setNodeUsage(node: string, usage: ResourceAmounts): void {
    this.nodeUsage.set(node, usage);
  }

  setNodeFilesystem(node: string, root: FilesystemUsage, images?: FilesystemUsage): void {
    this.nodeFilesystems.set(node, { root, images: images ?? root });
  }

  /**
   * The node lifecycle controller once a kubelet stopped posting status (node-monitor-grace-period
   * passed): every condition Unknown, the unreachable taints (NoSchedule, and NoExecute for the
   * taint manager), and the node's pods marked not ready, as the API server then shows them.
   */
  markNodeUnreachable(name: string, since: Date): void {
    if (!this.nodes.has(name)) throw new Error(`fake kube api: no node ${name}`);
    this.edit(this.nodes, name, (node) => {
      node.status!.conditions = (node.status!.conditions ?? []).map((condition) => ({
        ...condition,
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: 'Kubelet stopped posting node status.',
        lastTransitionTime: since,
      }));
      const kept = (node.spec?.taints ?? []).filter((taint) => taint.key !== UNREACHABLE_TAINT);
      node.spec = {
        ...node.spec,
        taints: [
          ...kept,
          { key: UNREACHABLE_TAINT, effect: 'NoSchedule', timeAdded: since },
          { key: UNREACHABLE_TAINT, effect: 'NoExecute', timeAdded: since },
        ],
      };
    });
    this.setPodsReadyOn(name, false, since);
    this.refreshStatuses();
  }

  /** The kubelet posts status again: Ready, no pressure, the unreachable taints lifted, its pods ready. */
  markNodeReachable(name: string): void {
    if (!this.nodes.has(name)) throw new Error(`fake kube api: no node ${name}`);
    const at = this.now();
    this.edit(this.nodes, name, (node) => {
      node.status!.conditions = (node.status!.conditions ?? []).map((condition) => {
        const type = condition.type as NodeConditionType;
        const healthy = type === 'Ready';
        return {
          ...condition,
          status: healthy ? 'True' : 'False',
          reason: NODE_CONDITION_REASON[type]?.[healthy ? 0 : 1] ?? condition.reason,
          message: NODE_CONDITION_MESSAGE[type]?.[healthy ? 0 : 1] ?? condition.message,
          lastHeartbeatTime: at,
          lastTransitionTime: at,
        };
      });
      const taints = (node.spec?.taints ?? []).filter((taint) => taint.key !== UNREACHABLE_TAINT);
      if (taints.length) node.spec!.taints = taints;
      else delete node.spec!.taints;
    });
    this.setPodsReadyOn(name, true, at);
    this.refreshStatuses();
  }

  /** Not ready: every pod on the node (NodeNotReady); ready again: only the pods that lost it so. */
  private setPodsReadyOn(node: string, ready: boolean, at: Date): void {
    for (const pod of [...this.pods.values()]) {
      if (pod.spec?.nodeName !== node || isTerminal(pod)) continue;
      const lostToNode = (pod.status?.conditions ?? []).some(
        (condition) => condition.type === 'Ready' && condition.reason === 'NodeNotReady',
      );
      if (ready && !lostToNode) continue;
      this.edit(this.pods, `${pod.metadata!.namespace}/${pod.metadata!.name}`, (object) => {
        object.status!.conditions = (object.status!.conditions ?? []).map((condition) => {
          if (condition.type !== 'Ready' && condition.type !== 'ContainersReady') return condition;
          const { reason: _reason, ...rest } = condition;
          return {
            ...rest,
            status: ready ? 'True' : 'False',
            ...(ready ? {} : { reason: 'NodeNotReady' }),
            lastTransitionTime: at,
          };
        });
        for (const status of object.status!.containerStatuses ?? []) status.ready = ready;
      });
    }
  }

  /** Whether the scheduler may place a pod without tolerations on the node. */
  private schedulable(node: V1Node): boolean {
    return (
      !node.spec?.unschedulable &&
      !(node.spec?.taints ?? []).some(
        (taint) => taint.effect === 'NoSchedule' || taint.effect === 'NoExecute',
      )
    );
  }

  private nodeAddress(name: string | undefined): string | undefined {
    if (!name) return undefined;
    return this.nodes.get(name)?.status?.addresses?.find((address) => address.type === 'InternalIP')?.address;
  }

  /** The kubelet's /stats/summary as the node proxy serves it: node filesystems, pods' volumes and ephemeral storage. */
  private statsSummary(nodeName: string): unknown {
    const node = this.nodes.get(nodeName);
    if (!node) throw notFound('nodes', '', nodeName);
    const ready = node.status?.conditions?.some(
      (condition) => condition.type === 'Ready' && condition.status === 'True',
    );
    if (!ready) {
      // The API server cannot reach a kubelet that stopped posting status.
      throw new HttpError(
        503,
        statusBody(
          503,
          'ServiceUnavailable',
          `error trying to reach service: dial tcp ${this.nodeAddress(nodeName)}:10250: i/o timeout`,
        ),
      );
    }
    const at = this.now();
    const filesystems = this.nodeFilesystems.get(nodeName)!;
    const fsStats = (usage: FilesystemUsage) => {
      const capacityBytes = Math.round(parseQuantity(usage.capacity));
      const usedBytes = Math.round(parseQuantity(usage.used));
      return {
        time: at,
        availableBytes: Math.max(0, capacityBytes - usedBytes),
        capacityBytes,
        usedBytes,
        inodesFree: 6_000_000,
        inodes: 6_553_600,
        inodesUsed: 553_600,
      };
    };
    const pods = [...this.pods.values()].filter(
      (pod) => pod.spec?.nodeName === nodeName && pod.status?.phase === 'Running',
    );
    return {
      node: {
        nodeName,
        systemContainers: [],
        startTime: node.metadata?.creationTimestamp,
        fs: fsStats(filesystems.root),
        runtime: { imageFs: fsStats(filesystems.images) },
        rlimit: { time: at, maxpid: 4_194_304, curproc: 1_200 },
      },
      pods: pods.map((pod) => {
        const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
        const ephemeral = this.podEphemeralUsage.get(key) ?? 64 * 2 ** 20;
        const volumes = (pod.spec?.volumes ?? []).flatMap((volume) => {
          const claimName = volume.persistentVolumeClaim?.claimName;
          if (!claimName) return [];
          const claim = this.pvcs.get(`${pod.metadata!.namespace}/${claimName}`);
          if (!claim) return [];
          const capacityBytes = Math.round(parseQuantity(claim.status?.capacity?.storage ?? '0'));
          const usedBytes = Math.min(
            capacityBytes,
            this.volumeUsage.get(`${pod.metadata!.namespace}/${claimName}`) ?? 0,
          );
          return [
            {
              time: at,
              availableBytes: capacityBytes - usedBytes,
              capacityBytes,
              usedBytes,
              inodesFree: 1_000_000,
              inodes: 1_048_576,
              inodesUsed: 48_576,
              name: volume.name,
              pvcRef: { name: claimName, namespace: pod.metadata!.namespace },
            },
          ];
        });
        return {
          podRef: { name: pod.metadata!.name, namespace: pod.metadata!.namespace, uid: pod.metadata!.uid },
          startTime: pod.status?.startTime,
          containers: (pod.spec?.containers ?? []).map((container) => ({
            name: container.name,
            startTime: pod.status?.startTime,
          })),
          ...(volumes.length ? { volume: volumes } : {}),
          'ephemeral-storage': {
            time: at,
            availableBytes: Math.max(0, fsStats(filesystems.root).availableBytes),
            capacityBytes: fsStats(filesystems.root).capacityBytes,
            usedBytes: ephemeral,
            inodesFree: 6_000_000,
            inodes: 6_553_600,
            inodesUsed: 120,
          },
        };
      }),
    };
  }

  private validateNodeUpdate(next: KubeObject, previous: KubeObject): void {
    const node = next as V1Node;
    if (node.spec?.unschedulable !== undefined && typeof node.spec.unschedulable !== 'boolean')
      throw invalid('Node', '', previous.metadata!.name!, 'spec.unschedulable', 'must be a boolean');
    // The node lifecycle controller keeps the unschedulable taint in step with spec.unschedulable.
    const taints = (node.spec?.taints ?? []).filter(
      (taint) => taint.key !== 'node.kubernetes.io/unschedulable',
    );
    if (node.spec?.unschedulable)
      taints.push({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule', timeAdded: this.now() });
    if (node.spec) {
      if (taints.length) node.spec.taints = taints;
      else delete node.spec.taints;
    }
  }

  // ===================================================================================== Pods

  addPod(options: PodOptions): V1Pod {
    const containers = options.containers.map((container) => ({
      ...(container.image ? this.imageBehaviours.get(container.image) : {}),
      ...container,
      // An evicted pod's containers were killed with it; the kubelet no longer knows how they ended.
      ...(options.evicted ? { terminated: EVICTED_CONTAINER } : {}),
    }));
    const restartPolicy = options.restartPolicy ?? 'Always';
    const phase = options.evicted
      ? 'Failed'
      : (options.phase ?? podPhase(options.node, containers, restartPolicy));
    const at = this.minutesAgo(options.ageMinutes ?? 0);
    const statuses =
      options.node || phase === 'Running'
        ? containers.map((container) => containerStatus(container, phase, at, options))
        : undefined;
    const ready = phase === 'Running' && (statuses ?? []).every((status) => status.ready);
    const podVolumes = volumesOf(options.volumes);
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: this.meta(
        options.name,
        options.namespace,
        {
          labels: { ...options.labels },
          ...(options.annotations ? { annotations: { ...options.annotations } } : {}),
          ...(options.owner ? { ownerReferences: [clone(options.owner)] } : {}),
        },
        at,
      ),
      spec: {
        ...(options.node ? { nodeName: options.node } : {}),
        containers: containers.map(containerSpec),
        ...(podVolumes ? { volumes: podVolumes } : {}),
        restartPolicy,
        terminationGracePeriodSeconds: 30,
      },
      status: {
        phase,
        conditions: [
          {
            type: 'PodScheduled',
            status: options.node ? 'True' : 'False',
            lastTransitionTime: at,
            ...(!options.node && options.unschedulable
              ? { reason: 'Unschedulable', message: options.unschedulable }
              : {}),
          },
          ...(options.node ? [{ type: 'Initialized', status: 'True', lastTransitionTime: at }] : []),
          {
            type: 'Ready',
            status: ready ? 'True' : 'False',
            lastTransitionTime: at,
            ...(ready || !statuses
              ? {}
              : {
                  reason: options.evicted
                    ? 'PodFailed'
                    : phase === 'Running' || phase === 'Pending'
                      ? 'ContainersNotReady'
                      : 'PodCompleted',
                }),
          },
          { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: at },
          ...(options.evicted
            ? [
                {
                  type: 'DisruptionTarget',
                  status: 'True',
                  reason: 'TerminationByKubelet',
                  message: options.evicted.message,
                  lastTransitionTime: at,
                },
              ]
            : []),
        ],
        ...(options.evicted ? { reason: 'Evicted', message: options.evicted.message } : {}),
        ...(statuses ? { containerStatuses: statuses } : {}),
        ...(options.node
          ? {
              hostIP: this.nodeAddress(options.node) ?? '10.0.1.10',
              // The VPC CNI gives pods addresses from their node's subnet.
              podIP: `${(this.nodeAddress(options.node) ?? '10.0.1.10').split('.').slice(0, 3).join('.')}.${10 + ((this.nameCounter * 7) % 240)}`,
            }
          : {}),
        ...(options.node ? { startTime: at } : {}),
        qosClass: 'Burstable',
      },
    };
    const key = `${options.namespace}/${options.name}`;
    this.pods.set(key, pod);
    const usage = new Map<string, ResourceAmounts>();
    for (const container of containers) {
      usage.set(container.name, {
        cpu: container.usage?.cpu ?? container.requests?.cpu ?? '10m',
        memory: container.usage?.memory ?? container.requests?.memory ?? '32Mi',
      });
      this.logs.set(`${key}/${container.name}`, {
        current: container.log ?? `starting ${container.name}\nlistening on :8080\n`,
        ...(container.previousLog !== undefined ? { previous: container.previousLog } : {}),
      });
    }
    this.podUsage.set(key, usage);
    if (options.ephemeralStorageUsed)
      this.podEphemeralUsage.set(key, Math.round(parseQuantity(options.ephemeralStorageUsed)));
    for (const container of containers)
      for (const event of container.events ?? [])
        this.addEvent({
          object: pod,
          type: event.type ?? 'Warning',
          reason: event.reason,
          message: event.message,
          ...(event.count ? { count: event.count, firstSeenMinutesAgo: options.ageMinutes ?? 0 } : {}),
          source: 'kubelet',
          ...(options.node ? { host: options.node } : {}),
        });
    return clone(pod);
  }

  setPodUsage(namespace: string, pod: string, container: string, usage: ResourceAmounts): void {
    const key = `${namespace}/${pod}`;
    const usages = this.podUsage.get(key) ?? new Map<string, ResourceAmounts>();
    usages.set(container, usage);
    this.podUsage.set(key, usages);
  }

  setPodLog(
    namespace: string,
    pod: string,
    container: string,
    log: { current?: string; previous?: string },
  ): void {
    const key = `${namespace}/${pod}/${container}`;
    const existing = this.logs.get(key) ?? { current: '' };
    this.logs.set(key, { ...existing, ...log, current: log.current ?? existing.current });
  }

  private podLog(pod: V1Pod, query: Record<string, string>): string {
    const name = pod.metadata!.name!;
    const containers = pod.spec!.containers.map((container) => container.name);
    let container = query.container;
    if (!container) {
      if (containers.length !== 1) {
        throw badRequest(
          `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`,
        );
      }
      container = containers[0]!;
    }
    if (!containers.includes(container))
      throw badRequest(`container ${container} is not valid for pod ${name}`);
    const log = this.logs.get(`${pod.metadata!.namespace}/${name}/${container}`) ?? { current: '' };
    const status = pod.status?.containerStatuses?.find((candidate) => candidate.name === container);
    let text: string;
    if (query.previous === 'true') {
      if (!status || status.restartCount === 0 || log.previous === undefined) {
        throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
      }
      text = log.previous;
    } else {
      const waiting = status?.state?.waiting;
      if (!status || (waiting && status.restartCount === 0)) {
        throw badRequest(
          `container "${container}" in pod "${name}" is waiting to start: ${waiting?.reason ?? 'ContainerCreating'}`,
        );
      }
      text = log.current;
    }
    const tail = query.tailLines === undefined ? undefined : Number(query.tailLines);
    if (tail === undefined) return text;
    const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    const kept = lines.slice(Math.max(0, lines.length - tail));
    return kept.length ? `${kept.join('\n')}\n` : '';
  }

  /** The Eviction API: PodDisruptionBudgets decide (429 when one does not allow it). */
  private evict(pod: V1Pod, request: RecordedRequest) {
    const namespace = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const eviction = request.body as { deleteOptions?: { dryRun?: string[] } } | undefined;
    const bodyDryRun = eviction?.deleteOptions?.dryRun;
    const queryDryRun = request.query.dryRun;
    if (bodyDryRun && queryDryRun && !(bodyDryRun.length === 1 && bodyDryRun[0] === queryDryRun)) {
      throw badRequest('dryRun in the eviction body and the request options differ');
    }
    const dryRun = queryDryRun === 'All' || (bodyDryRun ?? []).includes('All');
    const budgets = [...this.pdbs.values()].filter(
      (pdb) =>
        pdb.metadata!.namespace === namespace && matchesSelector(pod.metadata?.labels, pdb.spec?.selector),
    );
    if (budgets.length > 1) {
      throw new HttpError(
        500,
        statusBody(
          500,
          'InternalError',
          'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
        ),
      );
    }
    const budget = budgets[0];
    // A terminal pod is deleted without asking the budget (it holds nothing up).
    if (budget && !isTerminal(pod)) {
      const status = this.withPdbStatus(budget).status!;
      const allowed = isReady(pod)
        ? (status.disruptionsAllowed ?? 0) > 0
        : (status.currentHealthy ?? 0) >= (status.desiredHealthy ?? 0);
      if (!allowed) {
        throw new HttpError(429, {
          ...statusBody(
            429,
            'TooManyRequests',
            "Cannot evict pod as it would violate the pod's disruption budget.",
            {
              causes: [
                {
                  reason: 'DisruptionBudget',
                  message: `The disruption budget ${budget.metadata!.name} needs ${status.desiredHealthy} healthy pods and has ${status.currentHealthy} currently`,
                },
              ],
            },
          ),
        });
      }
    }
    if (!dryRun) {
      this.pods.delete(`${namespace}/${name}`);
      this.evicted.push(`${namespace}/${name}`);
      this.refreshStatuses();
    }
    return {
      status: 201,
      body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 },
    };
  }

  // ============================================================================== Deployments

  addDeployment(options: DeploymentOptions): V1Deployment {
    const labels = options.labels ?? { app: options.name };
    const template = templateOf(labels, options.containers, options.volumes);
    const deployment: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: this.meta(options.name, options.namespace, {
        labels: { ...labels },
        annotations: {
          ...options.annotations,
          [REVISION_ANNOTATION]: String(options.revision ?? 1),
        },
        generation: 1,
      }),
      spec: {
        replicas: options.replicas,
        selector: { matchLabels: { ...labels } },
        template,
        strategy:
          options.strategy === 'Recreate'
            ? { type: 'Recreate' }
            : { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: options.progressDeadlineSeconds ?? 600,
        ...(options.paused ? { paused: true } : {}),
      },
      status: {},
    };
    const key = `${options.namespace}/${options.name}`;
    this.deployments.set(key, deployment);
    const replicaSet = this.createReplicaSet(
      deployment,
      options.revision ?? 1,
      options.rolloutMinutesAgo,
      options.replicas,
    );
    this.progressAt.set(key, replicaSet.metadata!.creationTimestamp!);
    const nodes = this.placement(options.nodes, options.replicas);
    for (let index = 0; index < options.replicas; index += 1) {
      this.addPod({
        namespace: options.namespace,
        name: `${replicaSet.metadata!.name}-${this.suffix(options.name)}`,
        node: nodes[index],
        labels: { ...replicaSet.spec!.template!.metadata!.labels },
        containers: options.containers,
        owner: this.ownerReference(replicaSet, 'ReplicaSet'),
        ...(options.volumes ? { volumes: options.volumes } : {}),
      });
    }
    this.refreshStatuses();
    return clone(this.deployments.get(key)!);
  }

  private createReplicaSet(
    deployment: V1Deployment,
    revision: number,
    minutesAgo: number | undefined,
    replicas: number,
  ): V1ReplicaSet {
    const hash = templateHash(deployment.spec!.template);
    const labels = { ...deployment.spec!.template.metadata?.labels, [HASH_LABEL]: hash };
    const name = `${deployment.metadata!.name}-${hash}`;
    const template = clone(deployment.spec!.template);
    template.metadata = { ...template.metadata, labels };
    const replicaSet: V1ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: this.meta(
        name,
        deployment.metadata!.namespace,
        {
          labels,
          annotations: {
            // The controller copies the Deployment's own annotations (kubernetes.io/change-cause…).
            ...Object.fromEntries(
              Object.entries(deployment.metadata!.annotations ?? {}).filter(
                ([key]) =>
                  !key.startsWith('deployment.kubernetes.io/') &&
                  key !== 'kubectl.kubernetes.io/last-applied-configuration',
              ),
            ),
            'deployment.kubernetes.io/desired-replicas': String(deployment.spec!.replicas ?? 1),
            'deployment.kubernetes.io/max-replicas': String(
              Math.ceil((deployment.spec!.replicas ?? 1) * 1.25),
            ),
            [REVISION_ANNOTATION]: String(revision),
          },
          ownerReferences: [this.ownerReference(deployment, 'Deployment')],
          generation: 1,
        },
        this.minutesAgo(minutesAgo ?? DEFAULT_REVISION_AGE_MINUTES),
      ),
      spec: {
        replicas,
        selector: { matchLabels: { ...deployment.spec!.selector.matchLabels, [HASH_LABEL]: hash } },
        template,
      },
      status: { replicas: 0 },
    };
    this.replicaSets.set(`${deployment.metadata!.namespace}/${name}`, replicaSet);
    return replicaSet;
  }

  private ownedReplicaSets(deployment: V1Deployment): V1ReplicaSet[] {
    return [...this.replicaSets.values()].filter((replicaSet) => ownsObject(deployment, replicaSet));
  }

  /**
   * The deployment controller: the ReplicaSet whose template equals the Deployment's is the new one
   * (an old one reused by a rollback gets the next revision, its old number in revision-history);
   * otherwise a new ReplicaSet at the next revision. Then a rolling update: the new ReplicaSet grows
   * within maxSurge, old pods go only while maxUnavailable allows, unhealthy old pods first.
   */
  private reconcileDeployment(deployment: V1Deployment): void {
    if (deployment.spec?.paused) return;
    const key = `${deployment.metadata!.namespace}/${deployment.metadata!.name}`;
    const owned = this.ownedReplicaSets(deployment);
    const maxRevision = Math.max(0, ...owned.map(revisionOf));
    let current = owned.find((replicaSet) =>
      sameTemplate(replicaSet.spec?.template, deployment.spec!.template),
    );
    if (!current) {
      current = this.createReplicaSet(deployment, maxRevision + 1, this.rolloutMinutesAgo, 0);
      this.setDeploymentRevision(deployment, maxRevision + 1);
      this.progressAt.set(key, this.minutesAgo(this.rolloutMinutesAgo));
    } else if (revisionOf(current) !== maxRevision || revisionOf(deployment) !== revisionOf(current)) {
      if (revisionOf(current) !== maxRevision) {
        const history = [
          current.metadata!.annotations?.[REVISION_HISTORY_ANNOTATION],
          String(revisionOf(current)),
        ]
          .filter(Boolean)
          .join(',');
        current.metadata!.annotations = {
          ...current.metadata!.annotations,
          [REVISION_ANNOTATION]: String(maxRevision + 1),
          [REVISION_HISTORY_ANNOTATION]: history,
        };
        this.progressAt.set(key, this.minutesAgo(this.rolloutMinutesAgo));
      }
      this.setDeploymentRevision(deployment, revisionOf(current));
    }
    const replicas = deployment.spec!.replicas ?? 1;
    const olds = owned.filter((replicaSet) => replicaSet !== current);
    const before = new Map(
      [current, ...olds].map((replicaSet) => [replicaSet, replicaSet.spec?.replicas ?? 0]),
    );
    this.rollDeployment(deployment, current, olds, replicas);
    for (const [replicaSet, was] of before) {
      const now = replicaSet.spec?.replicas ?? 0;
      if (now !== was)
        this.recordEvent(
          deployment,
          'Normal',
          'ScalingReplicaSet',
          `Scaled ${now > was ? 'up' : 'down'} replica set ${replicaSet.metadata!.name} from ${was} to ${now}`,
          'deployment-controller',
        );
    }
  }

  private rollDeployment(
    deployment: V1Deployment,
    current: V1ReplicaSet,
    olds: V1ReplicaSet[],
    replicas: number,
  ): void {
    const oldPods = () => olds.flatMap((replicaSet) => this.podsOwnedBy(replicaSet));
    if (deployment.spec?.strategy?.type === 'Recreate') {
      for (const pod of oldPods()) this.pods.delete(`${pod.metadata!.namespace}/${pod.metadata!.name}`);
      for (const replicaSet of olds) replicaSet.spec!.replicas = 0;
      current.spec!.replicas = replicas;
      this.reconcileReplicaSet(current);
      return;
    }
    const rolling = deployment.spec?.strategy?.rollingUpdate;
    const maxSurge = intOrPercent(rolling?.maxSurge ?? '25%', replicas, true);
    let maxUnavailable = intOrPercent(rolling?.maxUnavailable ?? '25%', replicas, false);
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    const minAvailable = replicas - maxUnavailable;
    for (let round = 0; round < replicas * 2 + 4; round += 1) {
      const before = `${current.spec!.replicas}:${oldPods().length}`;
      const wantedNew = Math.min(
        replicas,
        Math.max(current.spec!.replicas ?? 0, replicas + maxSurge - oldPods().length),
      );
      if (wantedNew !== current.spec!.replicas) current.spec!.replicas = wantedNew;
      this.reconcileReplicaSet(current);
      const newPods = this.podsOwnedBy(current);
      let removable = oldPods().filter(isReady).length + newPods.filter(isReady).length - minAvailable;
      // Old pods that are not ready count for nothing: they go first, and freely.
      for (const pod of oldPods().filter((candidate) => !isReady(candidate)))
        this.pods.delete(`${pod.metadata!.namespace}/${pod.metadata!.name}`);
      for (const pod of oldPods()) {
        if (removable <= 0) break;
        this.pods.delete(`${pod.metadata!.namespace}/${pod.metadata!.name}`);
        removable -= 1;
      }
      for (const replicaSet of olds) replicaSet.spec!.replicas = this.podsOwnedBy(replicaSet).length;
      if (`${current.spec!.replicas}:${oldPods().length}` === before) break;
    }
  }

  private setDeploymentRevision(deployment: V1Deployment, revision: number): void {
    deployment.metadata!.annotations = {
      ...deployment.metadata!.annotations,
      [REVISION_ANNOTATION]: String(revision),
    };
  }

  private reconcileReplicaSet(replicaSet: V1ReplicaSet): void {
    const namespace = replicaSet.metadata!.namespace!;
    const pods = this.podsOwnedBy(replicaSet).filter((pod) => !isTerminal(pod));
    const wanted = replicaSet.spec!.replicas ?? 1;
    // Scale down the pods that are least along first: not ready before ready.
    const byDisposability = pods.toSorted((a, b) => Number(isReady(a)) - Number(isReady(b)));
    for (const pod of byDisposability.slice(0, Math.max(0, pods.length - wanted)))
      this.pods.delete(`${namespace}/${pod.metadata!.name}`);
    const missing = wanted - pods.length;
    const nodes = this.placement(undefined, missing);
    for (let index = 0; index < missing; index += 1) {
      const template = replicaSet.spec!.template!;
      this.addPod({
        namespace,
        name: `${replicaSet.metadata!.name}-${this.suffix(replicaSet.metadata!.name!)}`,
        node: nodes[index],
        labels: { ...template.metadata!.labels },
        containers: this.containersOf(template),
        owner: this.ownerReference(replicaSet, 'ReplicaSet'),
        volumes: this.volumesOfTemplate(template),
        ageMinutes: this.rolloutMinutesAgo,
      });
    }
  }

  private refreshReplicaSets(): void {
    for (const replicaSet of this.replicaSets.values()) {
      // A failed or succeeded pod (an evicted one) is no replica: the controller replaced it.
      const pods = this.podsOwnedBy(replicaSet).filter((pod) => !isTerminal(pod));
      const ready = pods.filter(isReady).length;
      replicaSet.status = {
        replicas: pods.length,
        fullyLabeledReplicas: pods.length,
        readyReplicas: ready,
        availableReplicas: ready,
        observedGeneration: replicaSet.metadata!.generation ?? 1,
      };
    }
  }

  private refreshDeployments(observe: boolean): void {
    for (const deployment of this.deployments.values()) {
      const key = `${deployment.metadata!.namespace}/${deployment.metadata!.name}`;
      const owned = this.ownedReplicaSets(deployment);
      const current = owned.find((replicaSet) => revisionOf(replicaSet) === revisionOf(deployment));
      const active = (replicaSet: V1ReplicaSet) =>
        this.podsOwnedBy(replicaSet).filter((pod) => !isTerminal(pod));
      const pods = owned.flatMap(active);
      const ready = pods.filter(isReady).length;
      const wanted = deployment.spec!.replicas ?? 1;
      const updatedPods = current ? active(current) : [];
      const updatedReady = updatedPods.filter(isReady).length;
      const previous = deployment.status ?? {};
      const maxUnavailable = intOrPercent(
        deployment.spec?.strategy?.rollingUpdate?.maxUnavailable ?? '25%',
        wanted,
        false,
      );
      const available = ready >= wanted - maxUnavailable;
      const currentName = current?.metadata?.name ?? '';
      // Once its ReplicaSet has rolled out, a pod failing later is no stalled rollout: the controller
      // keeps NewReplicaSetAvailable until the next rollout (DeploymentTimedOut ignores that reason).
      if (this.rolledOut.get(key) !== currentName) this.rolledOut.delete(key);
      const complete =
        (updatedReady >= wanted && pods.length === updatedPods.length) || this.rolledOut.has(key);
      if (complete && currentName) this.rolledOut.set(key, currentName);
      const progressedAt = this.progressAt.get(key) ?? deployment.metadata!.creationTimestamp ?? this.now();
      const deadline = (deployment.spec?.progressDeadlineSeconds ?? 600) * 1000;
      const stalled = !complete && this.now().getTime() - new Date(progressedAt).getTime() > deadline;
      deployment.status = {
        observedGeneration:
          observe || previous.observedGeneration === undefined
            ? deployment.metadata!.generation
            : previous.observedGeneration,
        replicas: pods.length,
        updatedReplicas: updatedPods.length,
        readyReplicas: ready,
        availableReplicas: ready,
        ...(wanted - ready > 0 ? { unavailableReplicas: wanted - ready } : {}),
        conditions: [
          {
            type: 'Available',
            status: available ? 'True' : 'False',
            reason: available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
            message: available
              ? 'Deployment has minimum availability.'
              : 'Deployment does not have minimum availability.',
            lastUpdateTime: this.now(),
            lastTransitionTime: this.now(),
          },
          {
            type: 'Progressing',
            status: stalled ? 'False' : 'True',
            reason: complete
              ? 'NewReplicaSetAvailable'
              : stalled
                ? 'ProgressDeadlineExceeded'
                : 'ReplicaSetUpdated',
            message: complete
              ? `ReplicaSet "${currentName}" has successfully progressed.`
              : stalled
                ? `ReplicaSet "${currentName}" has timed out progressing.`
                : `ReplicaSet "${currentName}" is progressing.`,
            lastUpdateTime: progressedAt,
            lastTransitionTime: progressedAt,
          },
        ],
      };
    }
  }

  // ============================================================================= StatefulSets

  addStatefulSet(options: StatefulSetOptions): V1StatefulSet {
    const labels = options.labels ?? { app: options.name };
    const claimTemplates = options.volumeClaimTemplates ?? [];
    const volumes: PodVolumeOptions[] = [...(options.volumes ?? [])];
    const statefulSet: V1StatefulSet = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: this.meta(options.name, options.namespace, {
        labels: { ...labels },
        ...(options.annotations ? { annotations: { ...options.annotations } } : {}),
        generation: 1,
      }),
      spec: {
        replicas: options.replicas,
        selector: { matchLabels: { ...labels } },
        serviceName: options.name,
        template: templateOf(labels, options.containers, volumes),
        updateStrategy:
          options.updateStrategy === 'OnDelete'
            ? { type: 'OnDelete' }
            : { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
        podManagementPolicy: 'OrderedReady',
        ...(claimTemplates.length
          ? {
              volumeClaimTemplates: claimTemplates.map((claim) => ({
                metadata: { name: claim.name },
                spec: {
                  accessModes: ['ReadWriteOnce'],
                  resources: { requests: { storage: claim.size } },
                  ...(claim.storageClass ? { storageClassName: claim.storageClass } : {}),
                },
              })),
            }
          : {}),
      },
      status: { replicas: 0 },
    };
    const key = `${options.namespace}/${options.name}`;
    this.statefulSets.set(key, statefulSet);
    const revision = this.createControllerRevision(statefulSet, 'StatefulSet', options.rolloutMinutesAgo);
    statefulSet.status!.currentRevision = revision.metadata!.name!;
    statefulSet.status!.updateRevision = revision.metadata!.name!;
    const nodes = this.placement(options.nodes, options.replicas);
    for (let index = 0; index < options.replicas; index += 1) {
      const podName = `${options.name}-${index}`;
      for (const claim of claimTemplates) {
        this.addPersistentVolumeClaim({
          namespace: options.namespace,
          name: `${claim.name}-${podName}`,
          size: claim.size,
          ...(claim.storageClass !== undefined ? { storageClass: claim.storageClass } : {}),
          ...(claim.used !== undefined ? { used: claim.used } : {}),
          labels: { ...labels },
        });
      }
      this.addPod({
        namespace: options.namespace,
        name: podName,
        node: nodes[index],
        labels: {
          ...labels,
          'controller-revision-hash': revision.metadata!.name!,
          'statefulset.kubernetes.io/pod-name': podName,
        },
        containers: options.containers,
        owner: this.ownerReference(statefulSet, 'StatefulSet'),
        volumes: [
          ...volumes,
          ...claimTemplates.map((claim) => ({ name: claim.name, claim: `${claim.name}-${podName}` })),
        ],
      });
    }
    this.refreshStatuses();
    return clone(this.statefulSets.get(key)!);
  }

  private ownedRevisions(owner: V1StatefulSet | V1DaemonSet): V1ControllerRevision[] {
    return [...this.controllerRevisions.values()].filter((revision) => ownsObject(owner, revision));
  }

  /** A ControllerRevision as the StatefulSet and DaemonSet controllers write it: the template as a replace patch. */
  private createControllerRevision(
    owner: V1StatefulSet | V1DaemonSet,
    kind: 'StatefulSet' | 'DaemonSet',
    minutesAgo?: number,
  ): V1ControllerRevision {
    const hash = templateHash(owner.spec!.template);
    const name = `${owner.metadata!.name}-${hash}`;
    const revision = Math.max(0, ...this.ownedRevisions(owner).map((candidate) => candidate.revision)) + 1;
    const controllerRevision: V1ControllerRevision = {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: this.meta(
        name,
        owner.metadata!.namespace,
        {
          labels: {
            ...owner.spec!.selector.matchLabels,
            'controller-revision-hash': kind === 'StatefulSet' ? name : hash,
          },
          ownerReferences: [this.ownerReference(owner, kind)],
        },
        this.minutesAgo(minutesAgo ?? DEFAULT_REVISION_AGE_MINUTES),
      ),
      data: { spec: { template: { ...clone(owner.spec!.template), $patch: 'replace' } } },
      revision,
    };
    this.controllerRevisions.set(`${owner.metadata!.namespace}/${name}`, controllerRevision);
    return controllerRevision;
  }

  /** The revision whose template equals the owner's; a reused old one gets the next revision number. */
  private currentRevision(
    owner: V1StatefulSet | V1DaemonSet,
    kind: 'StatefulSet' | 'DaemonSet',
  ): V1ControllerRevision {
    const owned = this.ownedRevisions(owner);
    const newest = Math.max(0, ...owned.map((candidate) => candidate.revision));
    const found = owned.find((candidate) =>
      sameTemplate(
        (candidate.data as { spec?: { template?: V1PodTemplateSpec } }).spec?.template,
        owner.spec!.template,
      ),
    );
    if (!found) return this.createControllerRevision(owner, kind, this.rolloutMinutesAgo);
    if (found.revision !== newest) found.revision = newest + 1;
    return found;
  }

  private reconcileStatefulSet(statefulSet: V1StatefulSet): void {
    const namespace = statefulSet.metadata!.namespace!;
    const name = statefulSet.metadata!.name!;
    const revision = this.currentRevision(statefulSet, 'StatefulSet');
    statefulSet.status!.updateRevision = revision.metadata!.name!;
    const replace = statefulSet.spec!.updateStrategy?.type !== 'OnDelete';
    const wanted = statefulSet.spec!.replicas ?? 1;
    for (const pod of this.podsOwnedBy(statefulSet)) {
      const ordinal = Number(pod.metadata!.name!.slice(name.length + 1));
      const stale = pod.metadata!.labels?.['controller-revision-hash'] !== revision.metadata!.name;
      if (ordinal >= wanted || (replace && stale)) this.pods.delete(`${namespace}/${pod.metadata!.name}`);
    }
    const nodes = this.placement(undefined, wanted);
    const template = statefulSet.spec!.template;
    for (let ordinal = 0; ordinal < wanted; ordinal += 1) {
      const podName = `${name}-${ordinal}`;
      if (this.pods.has(`${namespace}/${podName}`)) continue;
      this.addPod({
        namespace,
        name: podName,
        node: nodes[ordinal],
        labels: {
          ...template.metadata!.labels,
          'controller-revision-hash': revision.metadata!.name!,
          'statefulset.kubernetes.io/pod-name': podName,
        },
        containers: this.containersOf(template),
        owner: this.ownerReference(statefulSet, 'StatefulSet'),
        volumes: [
          ...this.volumesOfTemplate(template),
          ...(statefulSet.spec!.volumeClaimTemplates ?? []).map((claim) => ({
            name: claim.metadata!.name!,
            claim: `${claim.metadata!.name}-${podName}`,
          })),
        ],
      });
    }
    const allUpdated = this.podsOwnedBy(statefulSet).every(
      (pod) => pod.metadata!.labels?.['controller-revision-hash'] === revision.metadata!.name,
    );
    if (allUpdated) statefulSet.status!.currentRevision = revision.metadata!.name!;
  }

  private refreshStatefulSets(observe: boolean): void {
    for (const statefulSet of this.statefulSets.values()) {
      const pods = this.podsOwnedBy(statefulSet);
      const ready = pods.filter(isReady).length;
      const update = statefulSet.status?.updateRevision;
      const previous = statefulSet.status ?? { replicas: 0 };
      statefulSet.status = {
        observedGeneration:
          observe || previous.observedGeneration === undefined
            ? statefulSet.metadata!.generation
            : previous.observedGeneration,
        replicas: pods.length,
        readyReplicas: ready,
        availableReplicas: ready,
        currentReplicas: pods.filter(
          (pod) => pod.metadata!.labels?.['controller-revision-hash'] === previous.currentRevision,
        ).length,
        updatedReplicas: pods.filter((pod) => pod.metadata!.labels?.['controller-revision-hash'] === update)
          .length,
        ...(previous.currentRevision ? { currentRevision: previous.currentRevision } : {}),
        ...(update ? { updateRevision: update } : {}),
        collisionCount: 0,
      };
    }
  }

  // =============================================================================== DaemonSets

  addDaemonSet(options: DaemonSetOptions): V1DaemonSet {
    const labels = options.labels ?? { app: options.name };
    const daemonSet: V1DaemonSet = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: this.meta(options.name, options.namespace, {
        labels: { ...labels },
        ...(options.annotations ? { annotations: { ...options.annotations } } : {}),
        generation: 1,
      }),
      spec: {
        selector: { matchLabels: { ...labels } },
        template: templateOf(labels, options.containers, options.volumes),
        updateStrategy:
          options.updateStrategy === 'OnDelete'
            ? { type: 'OnDelete' }
            : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
        revisionHistoryLimit: 10,
      },
      status: { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 },
    };
    const key = `${options.namespace}/${options.name}`;
    this.daemonSets.set(key, daemonSet);
    const revision = this.createControllerRevision(daemonSet, 'DaemonSet', options.rolloutMinutesAgo);
    for (const node of options.nodes ?? [...this.nodes.keys()]) {
      this.addPod({
        namespace: options.namespace,
        name: `${options.name}-${this.suffix(options.name)}`,
        node,
        labels: {
          ...labels,
          'controller-revision-hash': revision.metadata!.labels!['controller-revision-hash']!,
        },
        containers: options.containers,
        owner: this.ownerReference(daemonSet, 'DaemonSet'),
        ...(options.volumes ? { volumes: options.volumes } : {}),
      });
    }
    this.refreshStatuses();
    return clone(this.daemonSets.get(key)!);
  }

  private reconcileDaemonSet(daemonSet: V1DaemonSet): void {
    const namespace = daemonSet.metadata!.namespace!;
    const name = daemonSet.metadata!.name!;
    const hash = this.currentRevision(daemonSet, 'DaemonSet').metadata!.labels!['controller-revision-hash']!;
    const replace = daemonSet.spec!.updateStrategy?.type !== 'OnDelete';
    for (const pod of this.podsOwnedBy(daemonSet)) {
      if (replace && pod.metadata!.labels?.['controller-revision-hash'] !== hash) {
        this.pods.delete(`${namespace}/${pod.metadata!.name}`);
      }
    }
    const covered = new Set(this.podsOwnedBy(daemonSet).map((pod) => pod.spec?.nodeName));
    for (const node of this.nodes.keys()) {
      if (covered.has(node)) continue;
      this.addPod({
        namespace,
        name: `${name}-${this.suffix(name)}`,
        node,
        labels: { ...daemonSet.spec!.template.metadata!.labels, 'controller-revision-hash': hash },
        containers: this.containersOf(daemonSet.spec!.template),
        owner: this.ownerReference(daemonSet, 'DaemonSet'),
        volumes: this.volumesOfTemplate(daemonSet.spec!.template),
      });
    }
  }

  private refreshDaemonSets(observe: boolean): void {
    for (const daemonSet of this.daemonSets.values()) {
      const pods = this.podsOwnedBy(daemonSet);
      const ready = pods.filter(isReady).length;
      const newest = this.ownedRevisions(daemonSet).sort((a, b) => b.revision - a.revision)[0];
      const hash = newest?.metadata?.labels?.['controller-revision-hash'];
      const desired = this.nodes.size;
      const previous = daemonSet.status;
      daemonSet.status = {
        observedGeneration:
          observe || previous?.observedGeneration === undefined
            ? daemonSet.metadata!.generation
            : previous.observedGeneration,
        currentNumberScheduled: pods.length,
        desiredNumberScheduled: desired,
        numberMisscheduled: 0,
        numberReady: ready,
        numberAvailable: ready,
        ...(desired - ready > 0 ? { numberUnavailable: desired - ready } : {}),
        updatedNumberScheduled: pods.filter(
          (pod) => pod.metadata!.labels?.['controller-revision-hash'] === hash,
        ).length,
      };
    }
  }

  /** Apps objects keep their selector; a scale of the wrong shape is refused like the API does. */
  private validateWorkloadUpdate(kind: string) {
    return (next: KubeObject, previous: KubeObject) => {
      const before = (previous as V1Deployment).spec?.selector;
      const after = (next as V1Deployment).spec?.selector;
      if (canonicalJson(before) !== canonicalJson(after))
        throw invalid(
          kind,
          'apps',
          previous.metadata!.name!,
          'spec.selector',
          `Invalid value: ${toJson(after)}: field is immutable`,
        );
      const replicas = (next as V1Deployment).spec?.replicas;
      if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 0))
        throw invalid(
          kind,
          'apps',
          previous.metadata!.name!,
          'spec.replicas',
          `Invalid value: ${toJson(replicas)}: must be greater than or equal to 0`,
        );
      const containers = (next as V1Deployment).spec?.template?.spec?.containers;
      if (containers)
        this.validateContainers(
          kind,
          'apps',
          previous.metadata!.name!,
          'spec.template.spec.containers',
          containers,
        );
    };
  }

  /** Resource quantities must parse, and a request may not exceed its limit. */
  private validateContainers(
    kind: string,
    group: string,
    name: string,
    path: string,
    containers: V1Container[],
  ): void {
    containers.forEach((container, index) => {
      for (const resource of ['cpu', 'memory'] as const) {
        const request = container.resources?.requests?.[resource];
        const limit = container.resources?.limits?.[resource];
        for (const [field, value] of [
          ['requests', request],
          ['limits', limit],
        ] as const) {
          if (value === undefined) continue;
          try {
            parseQuantity(value);
          } catch {
            throw invalid(
              kind,
              group,
              name,
              `${path}[${index}].resources.${field}[${resource}]`,
              `Invalid value: "${value}": must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
            );
          }
        }
        if (request !== undefined && limit !== undefined && parseQuantity(request) > parseQuantity(limit))
          throw invalid(
            kind,
            group,
            name,
            `${path}[${index}].resources.requests`,
            `Invalid value: "${request}": must be less than or equal to ${resource} limit of ${limit}`,
          );
      }
    });
  }

  /** The scale subresource of Deployments, StatefulSets and ReplicaSets (autoscaling/v1 Scale). */
  private scale(
    object: V1Deployment | V1StatefulSet | V1ReplicaSet,
    request: RecordedRequest,
    store: Map<string, KubeObject>,
    key: string,
  ) {
    const scaleOf = (target: V1Deployment | V1StatefulSet | V1ReplicaSet) => ({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: target.metadata!.name,
        namespace: target.metadata!.namespace,
        uid: target.metadata!.uid,
        resourceVersion: target.metadata!.resourceVersion,
        creationTimestamp: target.metadata!.creationTimestamp,
      },
      spec: { replicas: target.spec?.replicas ?? 1 },
      status: {
        replicas: target.status?.replicas ?? 0,
        selector: Object.entries(target.spec?.selector?.matchLabels ?? {})
          .map(([label, value]) => `${label}=${value}`)
          .join(','),
      },
    });
    if (request.method === 'GET') return { body: scaleOf(object) };
    if (request.method !== 'PATCH') throw METHOD_NOT_ALLOWED(request.method, 'scale');
    const patched = this.applyPatch(scaleOf(object), request) as { spec?: { replicas?: unknown } };
    const replicas = patched.spec?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw invalid(
        'Scale',
        'autoscaling',
        object.metadata!.name!,
        'spec.replicas',
        `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
      );
    }
    const updated = clone(object);
    updated.spec = { ...updated.spec!, replicas };
    if (replicas !== object.spec?.replicas) {
      updated.metadata!.generation = (updated.metadata!.generation ?? 1) + 1;
      updated.metadata!.resourceVersion = String(this.resourceVersionPreview(request));
    }
    if (request.query.dryRun !== 'All') store.set(key, updated);
    return { body: scaleOf(updated) };
  }

  // ====================================================================== Jobs and CronJobs

  /** A Job as the API server stores it after defaulting: a generated selector and controller-uid labels. */
  addJob(options: JobOptions): V1Job {
    const uid = randomUUID();
    const generated = {
      [JOB_UID_LABELS[0]]: uid,
      [JOB_UID_LABELS[1]]: uid,
      [JOB_NAME_LABELS[0]]: options.name,
      [JOB_NAME_LABELS[1]]: options.name,
    };
    const startedAt = this.minutesAgo(options.startedMinutesAgo ?? 30);
    const template = templateOf({ ...options.labels, ...generated }, options.containers);
    template.spec!.restartPolicy = options.restartPolicy ?? 'Never';
    const job: V1Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        ...this.meta(
          options.name,
          options.namespace,
          {
            labels:
              options.labels && Object.keys(options.labels).length ? { ...options.labels } : { ...generated },
            ...(options.annotations ? { annotations: { ...options.annotations } } : {}),
            ...(options.owner ? { ownerReferences: [clone(options.owner)] } : {}),
            generation: 1,
          },
          startedAt,
        ),
        uid,
      },
      spec: {
        completions: options.completions ?? 1,
        parallelism: options.parallelism ?? 1,
        backoffLimit: options.backoffLimit ?? 6,
        ...(options.activeDeadlineSeconds ? { activeDeadlineSeconds: options.activeDeadlineSeconds } : {}),
        completionMode: 'NonIndexed',
        suspend: false,
        selector: { matchLabels: { [JOB_UID_LABELS[0]]: uid } },
        template,
      },
      status: { startTime: startedAt },
    };
    const key = `${options.namespace}/${options.name}`;
    this.jobs.set(key, job);
    const outcome = options.outcome ?? 'failed';
    const owner = this.ownerReference(job, 'Job', 'batch/v1');
    const podOptions = (index: number, containers: ContainerOptions[]): PodOptions => ({
      namespace: options.namespace,
      name: `${options.name}-${this.suffix(`${options.name}-${index}`)}`,
      node: options.node ?? this.placement(undefined, 1)[0],
      labels: { ...template.metadata!.labels },
      containers,
      owner,
      restartPolicy: template.spec!.restartPolicy as 'Never' | 'OnFailure',
      ageMinutes: options.startedMinutesAgo ?? 30,
    });
    const failedPods = outcome === 'failed' ? (options.failedPods ?? (options.backoffLimit ?? 6) + 1) : 0;
    for (let index = 0; index < failedPods; index += 1) {
      this.addPod(
        podOptions(
          index,
          options.containers.map((container) => ({
            ...container,
            terminated: container.terminated ?? { exitCode: 1, reason: 'Error' },
          })),
        ),
      );
    }
    if (outcome === 'succeeded')
      for (let index = 0; index < (options.completions ?? 1); index += 1)
        this.addPod(
          podOptions(
            index,
            options.containers.map((container) => ({
              ...container,
              terminated: { exitCode: 0, reason: 'Completed' },
            })),
          ),
        );
    if (outcome === 'running') this.addPod(podOptions(0, options.containers));
    if (outcome === 'failed') {
      const reason = options.failureReason ?? 'BackoffLimitExceeded';
      this.setJobCondition(
        job,
        'Failed',
        reason,
        reason === 'DeadlineExceeded'
          ? 'Job was active longer than specified deadline'
          : 'Job has reached the specified backoff limit',
      );
      this.recordEvent(
        job,
        'Warning',
        reason,
        reason === 'DeadlineExceeded'
          ? 'Job was active longer than specified deadline'
          : 'Job has reached the specified backoff limit',
        'job-controller',
      );
    }
    if (outcome === 'succeeded') {
      this.setJobCondition(job, 'Complete', undefined, undefined);
      job.status!.completionTime = this.now();
    }
    this.refreshStatuses();
    return clone(this.jobs.get(key)!);
  }

  addCronJob(options: CronJobOptions): V1CronJob {
    const labels = { app: options.name };
    const podTemplate = templateOf(labels, options.containers);
    podTemplate.spec!.restartPolicy = 'Never';
    const cronJob: V1CronJob = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: this.meta(options.name, options.namespace, { labels: { ...labels }, generation: 1 }),
      spec: {
        schedule: options.schedule,
        concurrencyPolicy: 'Forbid',
        suspend: options.suspend ?? false,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 1,
        jobTemplate: {
          metadata: { labels: { ...labels } },
          spec: {
            backoffLimit: options.backoffLimit ?? 2,
            template: podTemplate,
          },
        },
      },
      status: {},
    };
    this.cronJobs.set(`${options.namespace}/${options.name}`, cronJob);
    for (const run of options.jobs ?? []) {
      const scheduled = this.minutesAgo(run.minutesAgo);
      this.addJob({
        namespace: options.namespace,
        name: `${options.name}-${Math.floor(scheduled.getTime() / 60_000)}`,
        containers: options.containers,
        outcome: run.outcome,
        backoffLimit: options.backoffLimit ?? 2,
        startedMinutesAgo: run.minutesAgo,
        labels: { ...labels },
        annotations: { 'batch.kubernetes.io/cronjob-scheduled-timestamp': rfc3339(scheduled) },
        owner: this.ownerReference(cronJob, 'CronJob', 'batch/v1'),
      });
    }
    this.refreshStatuses();
    return clone(this.cronJobs.get(`${options.namespace}/${options.name}`)!);
  }

  private setJobCondition(
    job: V1Job,
    type: 'Failed' | 'Complete',
    reason: string | undefined,
    message: string | undefined,
  ): void {
    const at = this.now();
    const condition: V1JobCondition = {
      type,
      status: 'True',
      lastProbeTime: at,
      lastTransitionTime: at,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
    const target = type === 'Failed' ? 'FailureTarget' : 'SuccessCriteriaMet';
    job.status = {
      ...job.status,
      conditions: [{ ...condition, type: target }, condition],
    };
  }

  private jobFinished(job: V1Job): boolean {
    return (job.status?.conditions ?? []).some(
      (condition) =>
        (condition.type === 'Failed' || condition.type === 'Complete') && condition.status === 'True',
    );
  }

  /**
   * The job controller: pods until `completions` succeed or `backoffLimit` failures, then Complete or
   * Failed. Pods run the template's images (see setImageBehaviour: `terminated` makes them exit).
   */
  private reconcileJob(job: V1Job): void {
    if (this.jobFinished(job) || job.spec?.suspend) return;
    const namespace = job.metadata!.namespace!;
    const template = job.spec!.template;
    const completions = job.spec?.completions ?? 1;
    const backoffLimit = job.spec?.backoffLimit ?? 6;
    for (let round = 0; round <= backoffLimit + completions + 1; round += 1) {
      const pods = this.podsOwnedBy(job);
      const succeeded = pods.filter((pod) => pod.status?.phase === 'Succeeded').length;
      const failed = pods.filter((pod) => pod.status?.phase === 'Failed').length;
      const active = pods.filter((pod) => !isTerminal(pod)).length;
      if (succeeded >= completions) {
        this.setJobCondition(job, 'Complete', undefined, undefined);
        job.status!.completionTime = this.now();
        this.recordEvent(job, 'Normal', 'Completed', 'Job completed', 'job-controller');
        return;
      }
      if (failed > backoffLimit) {
        this.setJobCondition(
          job,
          'Failed',
          'BackoffLimitExceeded',
          'Job has reached the specified backoff limit',
        );
        this.recordEvent(
          job,
          'Warning',
          'BackoffLimitExceeded',
          'Job has reached the specified backoff limit',
          'job-controller',
        );
        return;
      }
      if (active >= (job.spec?.parallelism ?? 1)) return;
      const pod = this.addPod({
        namespace,
        name: `${job.metadata!.name}-${this.suffix(job.metadata!.name!)}`,
        node: this.placement(undefined, 1)[0],
        labels: { ...template.metadata?.labels },
        containers: this.containersOf(template),
        owner: this.ownerReference(job, 'Job', 'batch/v1'),
        restartPolicy: (template.spec?.restartPolicy as 'Never' | 'OnFailure') ?? 'Never',
      });
      this.recordEvent(
        job,
        'Normal',
        'SuccessfulCreate',
        `Created pod: ${pod.metadata!.name}`,
        'job-controller',
      );
    }
  }

  private refreshJobs(): void {
    for (const job of this.jobs.values()) {
      const pods = this.podsOwnedBy(job);
      job.status = {
        ...job.status,
        active: pods.filter((pod) => !isTerminal(pod)).length,
        ready: pods.filter(isReady).length,
        succeeded: pods.filter((pod) => pod.status?.phase === 'Succeeded').length,
        // Failed pods deleted since (ttl, a rerun's cleanup) still count: the controller keeps the tally.
        failed: Math.max(
          job.status?.failed ?? 0,
          pods.filter((pod) => pod.status?.phase === 'Failed').length,
        ),
        terminating: 0,
        uncountedTerminatedPods: {},
      };
      if (!this.jobFinished(job)) delete job.status.completionTime;
    }
  }

  private refreshCronJobs(): void {
    for (const cronJob of this.cronJobs.values()) {
      const jobs = [...this.jobs.values()]
        .filter((job) => ownsObject(cronJob, job))
        .sort(
          (a, b) =>
            new Date(a.metadata!.creationTimestamp!).getTime() -
            new Date(b.metadata!.creationTimestamp!).getTime(),
        );
      const active = jobs.filter((job) => !this.jobFinished(job));
      const succeeded = jobs.filter((job) =>
        job.status?.conditions?.some((condition) => condition.type === 'Complete'),
      );
      cronJob.status = {
        ...(active.length
          ? {
              active: active.map((job) => ({
                apiVersion: 'batch/v1',
                kind: 'Job',
                name: job.metadata!.name,
                namespace: job.metadata!.namespace,
                uid: job.metadata!.uid,
              })),
            }
          : {}),
        ...(jobs.length ? { lastScheduleTime: jobs.at(-1)!.metadata!.creationTimestamp } : {}),
        ...(succeeded.length
          ? {
              lastSuccessfulTime:
                succeeded.at(-1)!.status?.completionTime ?? succeeded.at(-1)!.metadata!.creationTimestamp,
            }
          : {}),
      };
    }
  }

  /**
   * Job creation as the API server does it: without `manualSelector`, a selector may not be given (it
   * is generated from the new uid, and the controller-uid and job-name labels are added to the
   * template); the Job's own labels default to the template's.
   */
  private prepareJob(object: KubeObject): void {
    const job = object as V1Job;
    const name = job.metadata!.name!;
    if (!job.spec?.template) throw invalid('Job', 'batch', name, 'spec.template', 'Required value');
    if (
      job.spec.template.spec?.restartPolicy !== 'Never' &&
      job.spec.template.spec?.restartPolicy !== 'OnFailure'
    )
      throw invalid(
        'Job',
        'batch',
        name,
        'spec.template.spec.restartPolicy',
        `Unsupported value: "${job.spec.template.spec?.restartPolicy ?? ''}": supported values: "OnFailure", "Never"`,
      );
    if (!job.spec.manualSelector) {
      if (job.spec.selector)
        throw invalid(
          'Job',
          'batch',
          name,
          'spec.selector',
          `Invalid value: ${toJson(job.spec.selector)}: \`selector\` not auto-generated`,
        );
      const uid = job.metadata!.uid!;
      const labels = { ...job.spec.template.metadata?.labels };
      for (const label of JOB_UID_LABELS) {
        if (labels[label] !== undefined && labels[label] !== uid)
          throw invalid(
            'Job',
            'batch',
            name,
            'spec.template.metadata.labels',
            `Invalid value: ${toJson(labels)}: \`selector\` does not match template \`labels\``,
          );
        labels[label] = uid;
      }
      for (const label of JOB_NAME_LABELS) labels[label] = name;
      job.spec.template.metadata = { ...job.spec.template.metadata, labels };
      job.spec.selector = { matchLabels: { [JOB_UID_LABELS[0]]: uid } };
    }
    if (!job.metadata!.labels || Object.keys(job.metadata!.labels).length === 0)
      job.metadata!.labels = { ...job.spec.template.metadata?.labels };
    job.spec = {
      completions: 1,
      parallelism: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      suspend: false,
      ...job.spec,
    };
    job.status = { startTime: this.now() };
  }

  // ================================================================================== HPAs

  addHorizontalPodAutoscaler(options: HpaOptions): V2HorizontalPodAutoscaler {
    const key = `${options.namespace}/${options.name}`;
    const target = this.scaleTarget(options.namespace, options.target.kind, options.target.name);
    const replicas = target?.spec?.replicas ?? 1;
    const metrics: V2MetricSpec[] = [
      {
        type: 'Resource',
        resource: {
          name: 'cpu',
          target: { type: 'Utilization', averageUtilization: options.cpu?.target ?? 70 },
        },
      },
      ...(options.memory
        ? [
            {
              type: 'Resource',
              resource: {
                name: 'memory',
                target: { type: 'AverageValue', averageValue: options.memory.targetAverageValue },
              },
            },
          ]
        : []),
    ];
    const hpa: V2HorizontalPodAutoscaler = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: this.meta(options.name, options.namespace, { generation: 1 }),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: options.target.kind, name: options.target.name },
        minReplicas: options.minReplicas ?? 1,
        maxReplicas: options.maxReplicas,
        metrics,
      },
      status: { currentReplicas: replicas, desiredReplicas: replicas },
    };
    this.hpas.set(key, hpa);
    const demand = options.demand ?? replicas;
    this.hpaDemand.set(key, demand);
    this.hpaMetrics.set(key, {
      cpu: options.cpu?.current ?? Math.round(((options.cpu?.target ?? 70) * demand) / Math.max(1, replicas)),
      ...(options.memory ? { memory: options.memory.currentAverageValue } : {}),
    });
    this.refreshHpas();
    return clone(hpa);
  }

  /** `namespace/hpa` → current metric values (cpu utilization %, memory average value). */
  private readonly hpaMetrics = new Map<string, { cpu: number; memory?: string }>();
  /** Autoscalers whose CPU utilization follows the load: target × demand ÷ current replicas. */
  private readonly hpaLoadFollowsDemand = new Set<string>();

  /**
   * The load on an autoscaler's target, as the replicas it would take at the CPU target: the HPA
   * asks for `demand` replicas (within min and max), and utilization is target × demand ÷ current,
   * so more replicas bring it down as they would.
   */
  setHpaDemand(namespace: string, name: string, demand: number): void {
    const key = `${namespace}/${name}`;
    if (!this.hpas.has(key)) throw new Error(`no HorizontalPodAutoscaler ${key}`);
    this.hpaDemand.set(key, demand);
    this.hpaLoadFollowsDemand.add(key);
    this.reconcile();
  }

  private scaleTarget(
    namespace: string,
    kind: string,
    name: string,
  ): V1Deployment | V1StatefulSet | undefined {
    if (kind === 'Deployment') return this.deployments.get(`${namespace}/${name}`);
    if (kind === 'StatefulSet') return this.statefulSets.get(`${namespace}/${name}`);
    return undefined;
  }

  /** The HPA controller: the target gets the demand, kept within min and max. */
  private reconcileHpa(hpa: V2HorizontalPodAutoscaler): void {
    const key = `${hpa.metadata!.namespace}/${hpa.metadata!.name}`;
    const target = this.scaleTarget(
      hpa.metadata!.namespace!,
      hpa.spec!.scaleTargetRef.kind,
      hpa.spec!.scaleTargetRef.name,
    );
    if (!target) return;
    const demand = this.hpaDemand.get(key) ?? target.spec?.replicas ?? 1;
    const desired = Math.min(hpa.spec!.maxReplicas, Math.max(hpa.spec!.minReplicas ?? 1, demand));
    if ((target.spec?.replicas ?? 1) !== desired) {
      this.recordEvent(
        hpa,
        'Normal',
        'SuccessfulRescale',
        `New size: ${desired}; reason: cpu resource utilization (percentage of request) above target`,
        'horizontal-pod-autoscaler',
      );
      target.spec = { ...target.spec!, replicas: desired };
      target.metadata!.generation = (target.metadata!.generation ?? 1) + 1;
      hpa.status = { ...hpa.status!, lastScaleTime: this.now() };
    }
  }

  private refreshHpas(): void {
    for (const hpa of this.hpas.values()) {
      const key = `${hpa.metadata!.namespace}/${hpa.metadata!.name}`;
      const target = this.scaleTarget(
        hpa.metadata!.namespace!,
        hpa.spec!.scaleTargetRef.kind,
        hpa.spec!.scaleTargetRef.name,
      );
      const at = this.now();
      if (!target) {
        hpa.status = {
          ...hpa.status,
          currentReplicas: 0,
          desiredReplicas: 0,
          conditions: [
            {
              type: 'AbleToScale',
              status: 'False',
              reason: 'FailedGetScale',
              message: `the HPA controller was unable to get the target's current scale: deployments/scale.apps "${hpa.spec!.scaleTargetRef.name}" not found`,
              lastTransitionTime: at,
            },
          ],
        };
        continue;
      }
      const current = target.spec?.replicas ?? 1;
      const demand = this.hpaDemand.get(key) ?? current;
      const max = hpa.spec!.maxReplicas;
      const min = hpa.spec!.minReplicas ?? 1;
      const desired = Math.min(max, Math.max(min, demand));
      const limited = demand > max ? 'TooManyReplicas' : demand < min ? 'TooFewReplicas' : undefined;
      const stored = this.hpaMetrics.get(key) ?? { cpu: 0 };
      const cpuTarget =
        hpa.spec!.metrics?.find((metric) => metric.resource?.name === 'cpu')?.resource?.target
          .averageUtilization ?? 70;
      const values = this.hpaLoadFollowsDemand.has(key)
        ? { ...stored, cpu: Math.round((cpuTarget * demand) / Math.max(1, current)) }
        : stored;
      const currentMetrics: V2MetricStatus[] = (hpa.spec!.metrics ?? []).map((metric) =>
        metric.resource?.name === 'memory'
          ? {
              type: 'Resource',
              resource: { name: 'memory', current: { averageValue: values.memory ?? '0' } },
            }
          : {
              type: 'Resource',
              resource: {
                name: 'cpu',
                current: { averageUtilization: values.cpu, averageValue: `${values.cpu * 5}m` },
              },
            },
      );
      hpa.status = {
        ...(hpa.status?.lastScaleTime ? { lastScaleTime: hpa.status.lastScaleTime } : {}),
        observedGeneration: hpa.metadata!.generation ?? 1,
        currentReplicas: current,
        desiredReplicas: desired,
        currentMetrics,
        conditions: [
          {
            type: 'AbleToScale',
            status: 'True',
            reason: current === desired ? 'ReadyForNewScale' : 'SucceededRescale',
            message:
              current === desired
                ? 'recommended size matches current size'
                : `the HPA controller was able to update the target scale to ${desired}`,
            lastTransitionTime: at,
          },
          {
            type: 'ScalingActive',
            status: 'True',
            reason: 'ValidMetricFound',
            message:
              'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)',
            lastTransitionTime: at,
          },
          {
            type: 'ScalingLimited',
            status: limited ? 'True' : 'False',
            reason: limited ?? 'DesiredWithinRange',
            message:
              limited === 'TooManyReplicas'
                ? 'the desired replica count is more than the maximum replica count'
                : limited === 'TooFewReplicas'
                  ? 'the desired replica count is less than the minimum replica count'
                  : 'the desired count is within the acceptable range',
            lastTransitionTime: at,
          },
        ],
      };
    }
  }

  private validateHpaUpdate(next: KubeObject, previous: KubeObject): void {
    const spec = (next as V2HorizontalPodAutoscaler).spec;
    const name = previous.metadata!.name!;
    const max = spec?.maxReplicas;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1)
      throw invalid(
        'HorizontalPodAutoscaler',
        'autoscaling',
        name,
        'spec.maxReplicas',
        `Invalid value: ${toJson(max)}: must be greater than 0`,
      );
    const min = spec?.minReplicas ?? 1;
    if (max < min)
      throw invalid(
        'HorizontalPodAutoscaler',
        'autoscaling',
        name,
        'spec.maxReplicas',
        `Invalid value: ${max}: must be greater than or equal to \`minReplicas\``,
      );
  }

  // ==================================================================================== PDBs

  addPdb(options: PdbOptions): V1PodDisruptionBudget {
    const pdb: V1PodDisruptionBudget = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: this.meta(options.name, options.namespace, { generation: 1 }),
      spec: {
        selector: { matchLabels: { ...options.matchLabels } },
        ...(options.minAvailable !== undefined ? { minAvailable: options.minAvailable } : {}),
        ...(options.maxUnavailable !== undefined ? { maxUnavailable: options.maxUnavailable } : {}),
      },
    };
    this.pdbs.set(`${options.namespace}/${options.name}`, pdb);
    return clone(pdb);
  }

  private withPdbStatus(pdb: V1PodDisruptionBudget): V1PodDisruptionBudget {
    const pods = this.podsMatching(pdb.metadata!.namespace!, pdb.spec?.selector).filter(
      (pod) => !isTerminal(pod),
    );
    const expected = pods.length;
    const healthy = pods.filter(isReady).length;
    const desired =
      pdb.spec?.minAvailable !== undefined
        ? intOrPercent(pdb.spec.minAvailable, expected, true)
        : pdb.spec?.maxUnavailable !== undefined
          ? Math.max(0, expected - intOrPercent(pdb.spec.maxUnavailable, expected, true))
          : expected;
    const allowed = Math.max(0, healthy - desired);
    return {
      ...clone(pdb),
      status: {
        currentHealthy: healthy,
        desiredHealthy: desired,
        disruptionsAllowed: allowed,
        expectedPods: expected,
        observedGeneration: pdb.metadata!.generation ?? 1,
        conditions: [
          {
            type: 'DisruptionAllowed',
            status: allowed > 0 ? 'True' : 'False',
            reason: allowed > 0 ? 'SufficientPods' : 'InsufficientPods',
            message: '',
            lastTransitionTime: this.now(),
            observedGeneration: pdb.metadata!.generation ?? 1,
          },
        ],
      },
    };
  }

  // ======================================================================== Storage (SC, PVC, PV)

  addStorageClass(options: StorageClassOptions): V1StorageClass {
    const storageClass: V1StorageClass = {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: this.meta(options.name, undefined, {
        ...(options.isDefault ? { annotations: { [DEFAULT_STORAGE_CLASS_ANNOTATION]: 'true' } } : {}),
      }),
      provisioner: options.provisioner ?? 'ebs.csi.aws.com',
      parameters: { type: 'gp3', fsType: 'ext4' },
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'WaitForFirstConsumer',
      ...(options.allowVolumeExpansion !== undefined
        ? { allowVolumeExpansion: options.allowVolumeExpansion }
        : {}),
    };
    this.storageClasses.set(options.name, storageClass);
    return clone(storageClass);
  }

  /** A claim bound to a volume the class's provisioner made (or, with storageClass null, a static one). */
  addPersistentVolumeClaim(options: PersistentVolumeClaimOptions): V1PersistentVolumeClaim {
    const defaultClass = [...this.storageClasses.values()].find(
      (candidate) => candidate.metadata?.annotations?.[DEFAULT_STORAGE_CLASS_ANNOTATION] === 'true',
    );
    const storageClass =
      options.storageClass === undefined ? defaultClass?.metadata?.name : (options.storageClass ?? undefined);
    const provisioner = storageClass ? this.storageClasses.get(storageClass)?.provisioner : undefined;
    const accessModes = options.accessModes ?? ['ReadWriteOnce'];
    const meta = this.meta(options.name, options.namespace, {
      labels: { ...options.labels },
      annotations: {
        'pv.kubernetes.io/bind-completed': 'yes',
        'pv.kubernetes.io/bound-by-controller': 'yes',
        ...(provisioner
          ? {
              'volume.beta.kubernetes.io/storage-provisioner': provisioner,
              'volume.kubernetes.io/storage-provisioner': provisioner,
            }
          : {}),
        ...options.annotations,
      },
      finalizers: ['kubernetes.io/pvc-protection'],
    });
    const volumeName = `pvc-${meta.uid}`;
    const claim: V1PersistentVolumeClaim = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta,
      spec: {
        accessModes,
        resources: { requests: { storage: options.size } },
        ...(storageClass ? { storageClassName: storageClass } : {}),
        volumeMode: 'Filesystem',
        volumeName,
      },
      status: { phase: 'Bound', accessModes, capacity: { storage: options.size } },
    };
    const volume: V1PersistentVolume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: this.meta(volumeName, undefined, {
        ...(provisioner ? { annotations: { 'pv.kubernetes.io/provisioned-by': provisioner } } : {}),
        finalizers: ['kubernetes.io/pv-protection'],
      }),
      spec: {
        accessModes,
        capacity: { storage: options.size },
        claimRef: {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          name: options.name,
          namespace: options.namespace,
          uid: meta.uid,
        },
        csi: {
          driver: provisioner ?? 'ebs.csi.aws.com',
          fsType: 'ext4',
          volumeHandle: `vol-0${shortHash(volumeName, 16).replace(/[^0-9a-f]/g, 'b')}`,
        },
        persistentVolumeReclaimPolicy: storageClass ? 'Delete' : 'Retain',
        ...(storageClass ? { storageClassName: storageClass } : {}),
        volumeMode: 'Filesystem',
      },
      status: { phase: 'Bound' },
    };
    const key = `${options.namespace}/${options.name}`;
    this.pvcs.set(key, claim);
    this.pvs.set(volumeName, volume);
    this.volumeUsage.set(
      key,
      Math.round(parseQuantity(options.used ?? String(parseQuantity(options.size) * 0.1))),
    );
    return clone(claim);
  }

  /** Sets the bytes used on a claim's volume (the kubelet reports it in its stats summary). */
  setVolumeUsage(namespace: string, claim: string, used: string): void {
    this.volumeUsage.set(`${namespace}/${claim}`, Math.round(parseQuantity(used)));
  }

  /**
   * What the API server and the PersistentVolumeClaimResize admission plugin say to a claim change:
   * a bound claim's spec is immutable but for its storage request, which may not shrink below the
   * capacity, and may grow only when its StorageClass allows volume expansion.
   */
  private validateClaimUpdate(next: KubeObject, previous: KubeObject): void {
    const after = next as V1PersistentVolumeClaim;
    const before = previous as V1PersistentVolumeClaim;
    const name = before.metadata!.name!;
    const { resources: afterResources, ...afterRest } = after.spec ?? {};
    const { resources: beforeResources, ...beforeRest } = before.spec ?? {};
    if (canonicalJson(afterRest) !== canonicalJson(beforeRest))
      throw invalid(
        'PersistentVolumeClaim',
        '',
        name,
        'spec',
        'Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
      );
    const requested = afterResources?.requests?.storage;
    const previousRequest = beforeResources?.requests?.storage;
    if (requested === undefined || requested === previousRequest) return;
    let bytes: number;
    try {
      bytes = parseQuantity(requested);
    } catch {
      throw invalid(
        'PersistentVolumeClaim',
        '',
        name,
        'spec.resources.requests[storage]',
        `Invalid value: "${requested}": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      );
    }
    const capacity = parseQuantity(before.status?.capacity?.storage ?? previousRequest ?? '0');
    if (bytes < capacity)
      throw invalid(
        'PersistentVolumeClaim',
        '',
        name,
        'spec.resources.requests.storage',
        'Forbidden: field can not be less than status.capacity',
      );
    if (bytes > parseQuantity(previousRequest ?? '0')) {
      const storageClass = before.spec?.storageClassName
        ? this.storageClasses.get(before.spec.storageClassName)
        : undefined;
      if (!storageClass?.allowVolumeExpansion)
        throw forbiddenByAdmission(
          'persistentvolumeclaims',
          '',
          name,
          'only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize',
        );
    }
  }

  /**
   * The external resizer grows the volume; the kubelet grows the filesystem of a mounted volume at
   * once (online expansion), otherwise the claim waits with FileSystemResizePending for a pod.
   */
  private reconcileClaim(claim: V1PersistentVolumeClaim): void {
    const requested = claim.spec?.resources?.requests?.storage;
    const capacity = claim.status?.capacity?.storage;
    if (!requested || !capacity || parseQuantity(requested) <= parseQuantity(capacity)) return;
    const namespace = claim.metadata!.namespace!;
    const volume = claim.spec?.volumeName ? this.pvs.get(claim.spec.volumeName) : undefined;
    if (volume) volume.spec = { ...volume.spec!, capacity: { storage: requested } };
    const mounted = [...this.pods.values()].some(
      (pod) =>
        pod.metadata?.namespace === namespace &&
        pod.status?.phase === 'Running' &&
        (pod.spec?.volumes ?? []).some(
          (entry) => entry.persistentVolumeClaim?.claimName === claim.metadata!.name,
        ),
    );
    const at = this.now();
    if (mounted) {
      claim.status = {
        ...claim.status,
        capacity: { storage: requested },
        allocatedResources: { storage: requested },
      };
      delete claim.status.conditions;
      this.recordEvent(
        claim,
        'Normal',
        'FileSystemResizeSuccessful',
        `MountVolume.NodeExpandVolume succeeded for volume "${claim.spec?.volumeName}"`,
        'kubelet',
      );
    } else {
      claim.status = {
        ...claim.status,
        allocatedResources: { storage: requested },
        conditions: [
          {
            type: 'FileSystemResizePending',
            status: 'True',
            lastTransitionTime: at,
            message: 'Waiting for user to (re-)start a pod to finish file system resize of volume on node.',
          },
        ],
      };
    }
  }

  // ================================================================================= Services

  addService(options: ServiceOptions): V1Service {
    const service: V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: this.meta(options.name, options.namespace, {
        labels: { ...(options.labels ?? options.selector) },
      }),
      spec: {
        type: options.type ?? 'ClusterIP',
        clusterIP: `172.20.${this.nameCounter % 250}.${(this.services.size * 13) % 250}`,
        selector: { ...options.selector },
        ports: (options.ports ?? [{ name: 'http', port: 80, targetPort: 8080 }]).map((port) => ({
          ...(port.name ? { name: port.name } : {}),
          port: port.port,
          targetPort: port.targetPort ?? port.port,
          protocol: 'TCP',
        })),
        sessionAffinity: 'None',
      },
      status: { loadBalancer: {} },
    };
    this.services.set(`${options.namespace}/${options.name}`, service);
    return clone(service);
  }

  /** The EndpointSlices the endpointslice controller keeps for each Service with a selector. */
  private endpointSlices(): V1EndpointSlice[] {
    return [...this.services.values()].flatMap((service): V1EndpointSlice[] => {
      const selector = service.spec?.selector;
      if (!selector) return [];
      const namespace = service.metadata!.namespace!;
      const pods = this.podsMatching(namespace, { matchLabels: selector }).filter(
        (pod) => pod.status?.podIP && !isTerminal(pod),
      );
      return [
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            name: `${service.metadata!.name}-${shortHash(service.metadata!.uid!, 5)}`,
            namespace,
            uid: shortHash(`${service.metadata!.uid}-slice`, 16),
            resourceVersion: String(this.resourceVersion),
            creationTimestamp: service.metadata!.creationTimestamp,
            generateName: `${service.metadata!.name}-`,
            labels: {
              'kubernetes.io/service-name': service.metadata!.name!,
              'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
            },
            ownerReferences: [
              {
                apiVersion: 'v1',
                kind: 'Service',
                name: service.metadata!.name!,
                uid: service.metadata!.uid!,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          addressType: 'IPv4',
          endpoints: pods.map((pod) => ({
            addresses: [pod.status!.podIP!],
            conditions: { ready: isReady(pod), serving: isReady(pod), terminating: false },
            ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
            targetRef: { kind: 'Pod', name: pod.metadata!.name, namespace, uid: pod.metadata!.uid },
          })),
          ports: (service.spec?.ports ?? []).map((port) => ({
            ...(port.name ? { name: port.name } : {}),
            port: typeof port.targetPort === 'number' ? port.targetPort : port.port,
            protocol: 'TCP',
          })),
        },
      ];
    });
  }

  // ====================================================================== ConfigMaps, quotas

  addConfigMap(options: { namespace: string; name: string; data: Record<string, string> }): V1ConfigMap {
    const configMap: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: this.meta(options.name, options.namespace),
      data: { ...options.data },
    };
    this.configMaps.set(`${options.namespace}/${options.name}`, configMap);
    return clone(configMap);
  }

  addResourceQuota(options: {
    namespace: string;
    name: string;
    hard: Record<string, string>;
  }): V1ResourceQuota {
    const quota: V1ResourceQuota = {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: this.meta(options.name, options.namespace),
      spec: { hard: { ...options.hard } },
    };
    this.resourceQuotas.set(`${options.namespace}/${options.name}`, quota);
    return clone(quota);
  }

  /** The quota controller's tally of what the namespace's pods and claims use (kube-state-metrics reads it too). */
  withQuotaStatus(quota: V1ResourceQuota): V1ResourceQuota {
    const namespace = quota.metadata!.namespace!;
    const pods = [...this.pods.values()].filter(
      (pod) => pod.metadata?.namespace === namespace && !isTerminal(pod),
    );
    const sum = (field: 'requests' | 'limits', resource: 'cpu' | 'memory') =>
      pods.reduce(
        (total, pod) =>
          total +
          (pod.spec?.containers ?? []).reduce(
            (inner, container) => inner + parseQuantity(container.resources?.[field]?.[resource] ?? '0'),
            0,
          ),
        0,
      );
    const claims = [...this.pvcs.values()].filter((claim) => claim.metadata?.namespace === namespace);
    const used: Record<string, string> = {
      pods: String(pods.length),
      'requests.cpu': `${Math.round(sum('requests', 'cpu') * 1000)}m`,
      'requests.memory': String(Math.round(sum('requests', 'memory'))),
      'limits.cpu': `${Math.round(sum('limits', 'cpu') * 1000)}m`,
      'limits.memory': String(Math.round(sum('limits', 'memory'))),
      persistentvolumeclaims: String(claims.length),
      'requests.storage': String(
        claims.reduce(
          (total, claim) => total + parseQuantity(claim.spec?.resources?.requests?.storage ?? '0'),
          0,
        ),
      ),
    };
    const hard = quota.spec?.hard ?? {};
    return {
      ...clone(quota),
      status: {
        hard: { ...hard },
        used: Object.fromEntries(Object.keys(hard).map((resource) => [resource, used[resource] ?? '0'])),
      },
    };
  }

  // =================================================================================== Events

  /** An event about an object, as a component records it (core/v1, or events.k8s.io with `series`). */
  addEvent(options: EventOptions): CoreV1Event {
    const reference =
      'metadata' in options.object
        ? {
            kind: options.object.kind ?? 'Pod',
            name: options.object.metadata?.name ?? '',
            namespace: options.object.metadata?.namespace,
            uid: options.object.metadata?.uid,
            apiVersion: options.object.apiVersion,
          }
        : (options.object as {
            kind: string;
            name: string;
            namespace?: string;
            uid?: string;
            apiVersion?: string;
          });
    const namespace = reference.namespace ?? 'default';
    const first = this.minutesAgo(options.firstSeenMinutesAgo ?? options.lastSeenMinutesAgo ?? 0);
    const last = this.minutesAgo(options.lastSeenMinutesAgo ?? 0);
    const count = options.count ?? 1;
    const name = `${reference.name}.${createHash('sha256')
      .update(`${reference.name}-${options.reason}-${this.nameCounter++}`)
      .digest('hex')
      .slice(0, 16)}`;
    const source = options.source ?? 'kubelet';
    const event: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: this.meta(name, namespace, {}, first),
      involvedObject: {
        kind: reference.kind,
        name: reference.name,
        ...(reference.namespace ? { namespace: reference.namespace } : {}),
        ...(reference.uid ? { uid: reference.uid } : {}),
        apiVersion:
          reference.apiVersion ?? (reference.kind === 'Pod' || reference.kind === 'Node' ? 'v1' : undefined),
      },
      reason: options.reason,
      message: options.message,
      type: options.type ?? 'Normal',
      ...(options.series
        ? {
            eventTime: first,
            reportingComponent: source,
            reportingInstance: options.host ?? `${source}-0`,
            action: options.reason,
            ...(count > 1 ? { series: { count, lastObservedTime: last } } : {}),
            source: {},
          }
        : {
            source: { component: source, ...(options.host ? { host: options.host } : {}) },
            firstTimestamp: first,
            lastTimestamp: last,
            count,
            reportingComponent: '',
            reportingInstance: '',
          }),
    };
    this.events.set(`${namespace}/${name}`, event);
    return clone(event);
  }

  /** An event the fake's own controllers record. */
  private recordEvent(
    object: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    source: string,
  ): void {
    this.addEvent({ object, type, reason, message, source });
  }

  // =============================================================================== serving

  /** The resources this server serves, with each kind's rules. */
  private servedResources(): ServedResource[] {
    const as = <T>(store: Map<string, T>) => store as unknown as Map<string, KubeObject>;
    return [
      {
        group: '',
        version: 'v1',
        plural: 'namespaces',
        kind: 'Namespace',
        namespaced: false,
        store: as(this.namespaces),
        verbs: ['get', 'list'],
        fields: ['status.phase'],
      },
      {
        group: '',
        version: 'v1',
        plural: 'nodes',
        kind: 'Node',
        namespaced: false,
        store: as(this.nodes),
        verbs: ['get', 'list', 'patch'],
        fields: ['spec.unschedulable'],
        validateUpdate: (next, previous) => this.validateNodeUpdate(next, previous),
      },
      {
        group: '',
        version: 'v1',
        plural: 'pods',
        kind: 'Pod',
        namespaced: true,
        store: as(this.pods),
        verbs: ['get', 'list', 'delete'],
        fields: [
          'spec.nodeName',
          'spec.restartPolicy',
          'spec.schedulerName',
          'spec.serviceAccountName',
          'status.phase',
          'status.podIP',
          'status.nominatedNodeName',
        ],
        onDelete: (object) => {
          const key = `${object.metadata!.namespace}/${object.metadata!.name}`;
          this.deletedPods.push(key);
        },
      },
      {
        group: '',
        version: 'v1',
        plural: 'events',
        kind: 'Event',
        namespaced: true,
        store: as(this.events),
        verbs: ['get', 'list'],
        fields: [
          'involvedObject.kind',
          'involvedObject.namespace',
          'involvedObject.name',
          'involvedObject.uid',
          'involvedObject.apiVersion',
          'involvedObject.resourceVersion',
          'involvedObject.fieldPath',
          'reason',
          'reportingComponent',
          'source',
          'type',
        ],
        fieldAliases: { source: 'source.component' },
      },
      {
        group: '',
        version: 'v1',
        plural: 'services',
        kind: 'Service',
        namespaced: true,
        store: as(this.services),
        verbs: ['get', 'list'],
      },
      {
        group: '',
        version: 'v1',
        plural: 'configmaps',
        kind: 'ConfigMap',
        namespaced: true,
        store: as(this.configMaps),
        verbs: ['get', 'list'],
      },
      {
        group: '',
        version: 'v1',
        plural: 'resourcequotas',
        kind: 'ResourceQuota',
        namespaced: true,
        store: as(this.resourceQuotas),
        verbs: ['get', 'list'],
        view: (object) => this.withQuotaStatus(object as V1ResourceQuota),
      },
      {
        group: '',
        version: 'v1',
        plural: 'persistentvolumeclaims',
        kind: 'PersistentVolumeClaim',
        namespaced: true,
        store: as(this.pvcs),
        verbs: ['get', 'list', 'patch'],
        validateUpdate: (next, previous) => this.validateClaimUpdate(next, previous),
      },
      {
        group: '',
        version: 'v1',
        plural: 'persistentvolumes',
        kind: 'PersistentVolume',
        namespaced: false,
        store: as(this.pvs),
        verbs: ['get', 'list'],
      },
      {
        group: 'apps',
        version: 'v1',
        plural: 'deployments',
        kind: 'Deployment',
        namespaced: true,
        store: as(this.deployments),
        verbs: ['get', 'list', 'patch'],
        validateUpdate: this.validateWorkloadUpdate('Deployment'),
      },
      {
        group: 'apps',
        version: 'v1',
        plural: 'statefulsets',
        kind: 'StatefulSet',
        namespaced: true,
        store: as(this.statefulSets),
        verbs: ['get', 'list', 'patch'],
        validateUpdate: this.validateWorkloadUpdate('StatefulSet'),
      },
      {
        group: 'apps',
        version: 'v1',
        plural: 'daemonsets',
        kind: 'DaemonSet',
        namespaced: true,
        store: as(this.daemonSets),
        verbs: ['get', 'list', 'patch'],
        validateUpdate: this.validateWorkloadUpdate('DaemonSet'),
      },
      {
        group: 'apps',
        version: 'v1',
        plural: 'replicasets',
        kind: 'ReplicaSet',
        namespaced: true,
        store: as(this.replicaSets),
        verbs: ['get', 'list', 'patch'],
        validateUpdate: this.validateWorkloadUpdate('ReplicaSet'),
      },
      {
        group: 'apps',
        version: 'v1',
        plural: 'controllerrevisions',
        kind: 'ControllerRevision',
        namespaced: true,
        store: as(this.controllerRevisions),
        verbs: ['get', 'list'],
      },
      {
        group: 'batch',
        version: 'v1',
        plural: 'jobs',
        kind: 'Job',
        namespaced: true,
        store: as(this.jobs),
        verbs: ['get', 'list', 'create', 'delete'],
        fields: ['status.successful'],
        prepareCreate: (object) => this.prepareJob(object),
        onDelete: (object) => {
          for (const pod of this.podsOwnedBy(object))
            this.pods.delete(`${pod.metadata!.namespace}/${pod.metadata!.name}`);
        },
      },
      {
        group: 'batch',
        version: 'v1',
        plural: 'cronjobs',
        kind: 'CronJob',
        namespaced: true,
        store: as(this.cronJobs),
        verbs: ['get', 'list'],
      },
      {
        group: 'autoscaling',
        version: 'v2',
        plural: 'horizontalpodautoscalers',
        kind: 'HorizontalPodAutoscaler',
        namespaced: true,
        store: as(this.hpas),
        verbs: ['get', 'list', 'patch'],
        validateUpdate: (next, previous) => this.validateHpaUpdate(next, previous),
      },
      {
        group: 'policy',
        version: 'v1',
        plural: 'poddisruptionbudgets',
        kind: 'PodDisruptionBudget',
        namespaced: true,
        store: as(this.pdbs),
        verbs: ['get', 'list'],
        view: (object) => this.withPdbStatus(object as V1PodDisruptionBudget),
      },
      {
        group: 'storage.k8s.io',
        version: 'v1',
        plural: 'storageclasses',
        kind: 'StorageClass',
        namespaced: false,
        store: as(this.storageClasses),
        verbs: ['get', 'list'],
      },
      {
        group: 'discovery.k8s.io',
        version: 'v1',
        plural: 'endpointslices',
        kind: 'EndpointSlice',
        namespaced: true,
        store: new Map(),
        verbs: ['get', 'list'],
        derived: () => this.endpointSlices(),
      },
    ];
  }

  // ------------------------------------------------------------------------------------- HTTP

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    const text = await readBody(request);
    const contentType = request.headers['content-type']?.split(';')[0]?.trim();
    let body: unknown;
    if (text) {
      try {
        body = contentType?.includes('json') ? JSON.parse(text) : text;
      } catch {
        body = text;
      }
    }
    const recorded: RecordedRequest = {
      method: request.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      body,
      contentType,
    };
    const parsed = parsePath(url.pathname);
    if (parsed) {
      recorded.verb = verbOf(recorded.method, parsed.name);
      recorded.group = parsed.group;
      recorded.resource = parsed.subresource ? `${parsed.resource}/${parsed.subresource}` : parsed.resource;
    }
    this.requests.push(recorded);
    this.onRequest?.(recorded);
    const delayMs = this.latencyMs + (this.delays.find((delay) => requestMatches(delay, recorded))?.ms ?? 0);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    // A client that gave up (an aborted step) gets nothing.
    if (response.destroyed || request.socket.destroyed) return;
    try {
      if (request.headers.authorization !== `Bearer ${this.token}`) {
        throw new HttpError(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
      }
      const injected = this.takeFailure(recorded);
      if (injected)
        throw new HttpError(
          injected.status,
          injected.body ??
            statusBody(injected.status, 'InternalError', `injected failure ${injected.status}`),
          injected.headers,
        );
      const answer = this.route(recorded, parsed);
      if (typeof answer === 'string') {
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end(answer);
      } else {
        response.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
        response.end(toJson(answer.body));
      }
      if (this.autoReconcile && recorded.method !== 'GET' && recorded.query.dryRun !== 'All')
        this.reconcile();
    } catch (error) {
      if (response.destroyed) return;
      if (error instanceof HttpError) {
        const plain = typeof error.body === 'string';
        response.writeHead(error.status, {
          'content-type': plain ? 'text/plain' : 'application/json',
          ...error.headers,
        });
        response.end(plain ? (error.body as string) : toJson(error.body));
        return;
      }
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(toJson(statusBody(500, 'InternalError', `fake API server: ${String(error)}`)));
    }
  }

  private takeFailure(request: RecordedRequest): InjectedFailure | undefined {
    const index = this.failures.findIndex((failure) => requestMatches(failure, request));
    if (index < 0) return undefined;
    const failure = this.failures[index]!;
    failure.times = (failure.times ?? 1) - 1;
    if (failure.times <= 0) this.failures.splice(index, 1);
    return failure;
  }

  private authorize(
    verb: string,
    group: string,
    resource: string,
    namespace: string | undefined,
    name: string | undefined,
  ) {
    const denied = this.forbidden.some(
      (rule) =>
        rule.verb === verb &&
        rule.resource === resource &&
        (rule.group === undefined || rule.group === group),
    );
    if (!denied) return;
    const plural = resource.split('/')[0]!;
    const subject = name
      ? `${qualified(plural, group)} "${name}" is forbidden`
      : `${qualified(plural, group)} is forbidden`;
    const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
    throw new HttpError(
      403,
      statusBody(
        403,
        'Forbidden',
        `${subject}: User "${this.user}" cannot ${verb} resource "${resource}" in API group "${group}" ${scope}`,
        {
          ...(name ? { name } : {}),
          ...(group ? { group } : {}),
          kind: plural,
        },
      ),
    );
  }

  private route(
    request: RecordedRequest,
    parsed: ParsedPath | undefined,
  ): string | { status?: number; body: unknown } {
    if (!parsed) throw NO_SUCH_RESOURCE();
    const { group, namespace, resource, name, subresource } = parsed;
    const verb = verbOf(request.method, name);
    this.authorize(verb, group, subresource ? `${resource}/${subresource}` : resource, namespace, name);
    if (group === 'metrics.k8s.io') return { body: this.metrics(resource, namespace, name) };
    const served = this.served.find(
      (candidate) =>
        candidate.group === group && candidate.plural === resource && candidate.version === parsed.version,
    );
    if (!served || (served.namespaced === false && namespace)) throw NO_SUCH_RESOURCE();
    if (subresource) return this.routeSubresource(request, served, parsed);
    if (!name) {
      if (request.method === 'GET') return { body: this.list(served, namespace, request.query) };
      if (request.method === 'POST' && served.verbs.includes('create'))
        return this.create(served, namespace, request);
      throw METHOD_NOT_ALLOWED(request.method, resource);
    }
    const object = this.find(served, namespace, name);
    if (request.method === 'GET') return { body: served.view ? served.view(object) : object };
    if (request.method === 'PATCH' && served.verbs.includes('patch'))
      return { body: this.patch(served, namespace, name, object, request) };
    if (request.method === 'DELETE' && served.verbs.includes('delete'))
      return { body: this.delete(served, namespace, name, object, request) };
    throw METHOD_NOT_ALLOWED(request.method, resource);
  }

  private routeSubresource(request: RecordedRequest, served: ServedResource, parsed: ParsedPath) {
    const { namespace, name, subresource } = parsed;
    const object = this.find(served, namespace, name!);
    const key = keyOf(namespace, name!);
    if (served.plural === 'pods' && subresource === 'log' && request.method === 'GET')
      return this.podLog(object as V1Pod, request.query);
    if (served.plural === 'pods' && subresource === 'eviction' && request.method === 'POST')
      return this.evict(object as V1Pod, request);
    if (served.plural === 'nodes' && subresource === 'proxy' && request.method === 'GET') {
      if (parsed.subpath === 'stats/summary') return { body: this.statsSummary(name!) };
      throw new HttpError(404, '404 page not found\n');
    }
    if (subresource === 'scale' && ['deployments', 'statefulsets', 'replicasets'].includes(served.plural))
      return this.scale(object as V1Deployment, request, served.store, key);
    throw NO_SUCH_RESOURCE();
  }

  private find(served: ServedResource, namespace: string | undefined, name: string): KubeObject {
    const object = served.derived
      ? served
          .derived()
          .find(
            (candidate) => candidate.metadata?.name === name && candidate.metadata?.namespace === namespace,
          )
      : served.store.get(keyOf(served.namespaced ? namespace : undefined, name));
    if (!object) throw notFound(served.plural, served.group, name);
    return object;
  }

  /** A list as the API serves it: selectors applied, in key order, paged by `limit` and `continue`. */
  private list(served: ServedResource, namespace: string | undefined, query: Record<string, string>) {
    const labels = parseLabelSelector(query.labelSelector ?? '');
    const fields = this.fieldRequirements(served, query.fieldSelector);
    const all = (served.derived ? served.derived() : [...served.store.values()])
      .filter(
        (object) =>
          (!namespace || object.metadata?.namespace === namespace) &&
          matchesRequirements(object.metadata?.labels, labels) &&
          fields.every(({ path, op, value }) => (fieldValue(object, path) === value) === (op === '=')),
      )
      .sort((a, b) =>
        keyOf(a.metadata?.namespace, a.metadata?.name ?? '').localeCompare(
          keyOf(b.metadata?.namespace, b.metadata?.name ?? ''),
        ),
      );
    let start = 0;
    if (query.continue) {
      try {
        start = Number(JSON.parse(Buffer.from(query.continue, 'base64url').toString('utf8')).start);
      } catch {
        throw badRequest('continue key is not valid: illegal base64 data');
      }
      if (!Number.isInteger(start) || start < 0) throw badRequest('continue key is not valid');
    }
    const limit = query.limit === undefined ? 0 : Number(query.limit);
    const end = limit > 0 ? start + limit : all.length;
    const page = all.slice(start, end);
    const more = end < all.length;
    return {
      kind: `${served.kind}List`,
      apiVersion: served.group ? `${served.group}/${served.version}` : served.version,
      metadata: {
        resourceVersion: String(this.resourceVersion),
        ...(more
          ? {
              continue: Buffer.from(JSON.stringify({ start: end, rv: this.resourceVersion })).toString(
                'base64url',
              ),
              remainingItemCount: all.length - end,
            }
          : {}),
      },
      items: page.map((object) => {
        const {
          kind: _kind,
          apiVersion: _apiVersion,
          ...rest
        } = (served.view ? served.view(object) : object) as Record<string, unknown>;
        return rest;
      }),
    };
  }

  /** Field selectors `a.b=c`, `a.b==c`, `a.b!=c`; a field the resource does not index is a 400. */
  private fieldRequirements(served: ServedResource, selector: string | undefined) {
    if (!selector) return [];
    return selector.split(',').map((term) => {
      const match = /^([^!=]+)(!=|==|=)(.*)$/.exec(term.trim());
      if (!match) throw badRequest(`invalid field selector "${term}"`);
      const field = match[1]!.trim();
      const allowed = ['metadata.name', 'metadata.namespace', ...(served.fields ?? [])];
      if (!allowed.includes(field)) throw badRequest(`field label not supported: ${field}`);
      return {
        path: served.fieldAliases?.[field] ?? field,
        op: match[2] === '!=' ? '!=' : '=',
        value: match[3]!,
      };
    });
  }

  private create(served: ServedResource, namespace: string | undefined, request: RecordedRequest) {
    if (!isPlainObject(request.body)) throw badRequest('the body of the request must be a JSON object');
    const object = reviveDates(clone(request.body), undefined) as KubeObject;
    const apiVersion = served.group ? `${served.group}/${served.version}` : served.version;
    if (object.kind !== served.kind || object.apiVersion !== apiVersion)
      throw badRequest(
        `the API version in the data (${object.apiVersion}) does not match the expected API version (${apiVersion})`,
      );
    const meta = (object.metadata ?? {}) as V1ObjectMeta;
    if (meta.namespace && meta.namespace !== namespace)
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    let name = meta.name;
    if (!name && meta.generateName)
      name = `${meta.generateName}${shortHash(`${meta.generateName}${this.nameCounter++}`, 5)}`;
    if (!name)
      throw invalid(
        served.kind,
        served.group,
        '',
        'metadata.name',
        'Required value: name or generateName is required',
      );
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253)
      throw invalid(
        served.kind,
        served.group,
        name,
        'metadata.name',
        `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
      );
    if (served.plural === 'jobs' && name.length > 63)
      throw invalid(
        served.kind,
        served.group,
        name,
        'metadata.name',
        `Invalid value: "${name}": must be no more than 63 characters`,
      );
    const key = keyOf(namespace, name);
    if (served.store.has(key))
      throw new HttpError(
        409,
        statusBody(
          409,
          'AlreadyExists',
          `${qualified(served.plural, served.group)} "${name}" already exists`,
          {
            name,
            ...(served.group ? { group: served.group } : {}),
            kind: served.plural,
          },
        ),
      );
    object.metadata = {
      ...meta,
      name,
      ...(namespace ? { namespace } : {}),
      uid: randomUUID(),
      resourceVersion: String(this.resourceVersionPreview(request)),
      creationTimestamp: this.now(),
      generation: 1,
    };
    delete object.status;
    served.prepareCreate?.(object, request);
    if (request.query.dryRun !== 'All') served.store.set(key, object);
    return { status: 201, body: object };
  }

  private patch(
    served: ServedResource,
    namespace: string | undefined,
    name: string,
    object: KubeObject,
    request: RecordedRequest,
  ): KubeObject {
    const patched = this.applyPatch(object, request) as KubeObject;
    const sentVersion = patched.metadata?.resourceVersion;
    if (sentVersion !== object.metadata?.resourceVersion)
      throw conflict(
        served.plural,
        served.group,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    if (patched.metadata?.name !== object.metadata?.name || patched.metadata?.uid !== object.metadata?.uid)
      throw invalid(served.kind, served.group, name, 'metadata.name', 'Invalid value: field is immutable');
    served.validateUpdate?.(patched, object);
    const specChanged = canonicalJson(patched.spec) !== canonicalJson(object.spec);
    const changed = canonicalJson(patched) !== canonicalJson(object);
    patched.metadata = {
      ...patched.metadata,
      resourceVersion: changed
        ? String(this.resourceVersionPreview(request))
        : object.metadata!.resourceVersion,
      ...(specChanged && object.metadata?.generation !== undefined
        ? { generation: object.metadata.generation + 1 }
        : {}),
    };
    if (request.query.dryRun !== 'All')
      served.store.set(keyOf(served.namespaced ? namespace : undefined, name), patched);
    return served.view ? served.view(patched) : patched;
  }

  private delete(
    served: ServedResource,
    namespace: string | undefined,
    name: string,
    object: KubeObject,
    request: RecordedRequest,
  ): unknown {
    const options = (isPlainObject(request.body) ? request.body : {}) as {
      preconditions?: { uid?: string; resourceVersion?: string };
      gracePeriodSeconds?: number;
      dryRun?: string[];
    };
    const uid = options.preconditions?.uid;
    if (uid && uid !== object.metadata?.uid)
      throw conflict(
        served.plural,
        served.group,
        name,
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${object.metadata?.uid}`,
      );
    const dryRun = request.query.dryRun === 'All' || (options.dryRun ?? []).includes('All');
    if (!dryRun) {
      served.store.delete(keyOf(served.namespaced ? namespace : undefined, name));
      served.onDelete?.(object);
      this.refreshStatuses();
    }
    if (served.plural === 'pods') {
      // A pod is deleted gracefully: the API answers with the pod, now carrying its deletionTimestamp.
      const grace = request.query.gracePeriodSeconds ?? options.gracePeriodSeconds ?? 30;
      return {
        ...clone(object),
        metadata: {
          ...clone(object.metadata),
          deletionTimestamp: this.now(),
          deletionGracePeriodSeconds: Number(grace),
        },
      };
    }
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: {
        name,
        ...(served.group ? { group: served.group } : {}),
        kind: served.plural,
        uid: object.metadata?.uid,
      },
    };
  }

  private resourceVersionPreview(request: RecordedRequest): number {
    return request.query.dryRun === 'All' ? this.resourceVersion + 1 : this.nextResourceVersion();
  }

  private applyPatch(target: unknown, request: RecordedRequest): unknown {
    const json = JSON.parse(toJson(target));
    switch (request.contentType) {
      case 'application/merge-patch+json':
      case 'application/strategic-merge-patch+json':
        if (!isPlainObject(request.body)) throw badRequest('the patch must be a JSON object');
        return reviveDates(mergePatch(json, request.body), target);
      case 'application/json-patch+json':
        return reviveDates(jsonPatch(json, request.body), target);
      default:
        throw new HttpError(
          415,
          statusBody(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          ),
        );
    }
  }

  private metrics(resource: string, namespace: string | undefined, name: string | undefined): unknown {
    if (!this.metricsAvailable) throw NO_SUCH_RESOURCE();
    const at = this.now();
    const window = '20.065s';
    if (resource === 'nodes') {
      const nodeMetrics = (node: string, usage: ResourceAmounts) => ({
        kind: 'NodeMetrics',
        apiVersion: 'metrics.k8s.io/v1beta1',
        metadata: { name: node, creationTimestamp: at, labels: this.nodes.get(node)?.metadata?.labels ?? {} },
        timestamp: at,
        window,
        usage: { cpu: nanocores(usage.cpu), memory: kibibytes(usage.memory) },
      });
      if (name) {
        const usage = this.nodeUsage.get(name);
        if (!usage || !this.nodes.has(name)) throw notFound('nodemetrics', 'metrics.k8s.io', name);
        return nodeMetrics(name, usage);
      }
      return {
        kind: 'NodeMetricsList',
        apiVersion: 'metrics.k8s.io/v1beta1',
        metadata: {},
        items: [...this.nodeUsage.entries()].map(([node, usage]) => nodeMetrics(node, usage)),
      };
    }
    if (resource === 'pods') {
      const podMetrics = (key: string) => {
        const pod = this.pods.get(key)!;
        return {
          metadata: {
            name: pod.metadata!.name,
            namespace: pod.metadata!.namespace,
            creationTimestamp: at,
            labels: pod.metadata?.labels ?? {},
          },
          timestamp: at,
          window,
          containers: [...(this.podUsage.get(key) ?? new Map<string, ResourceAmounts>()).entries()].map(
            ([container, usage]) => ({
              name: container,
              usage: { cpu: nanocores(usage.cpu), memory: kibibytes(usage.memory) },
            }),
          ),
        };
      };
      const running = [...this.pods.entries()].filter(
        ([, pod]) => pod.status?.phase === 'Running' && (!namespace || pod.metadata!.namespace === namespace),
      );
      if (name) {
        const found = running.find(([, pod]) => pod.metadata!.name === name);
        if (!found) throw notFound('podmetrics', 'metrics.k8s.io', name);
        return { kind: 'PodMetrics', apiVersion: 'metrics.k8s.io/v1beta1', ...podMetrics(found[0]) };
      }
      return {
        kind: 'PodMetricsList',
        apiVersion: 'metrics.k8s.io/v1beta1',
        metadata: {},
        items: running.map(([key]) => podMetrics(key)),
      };
    }
    throw NO_SUCH_RESOURCE();
  }
}

// ----------------------------------------------------------------------------------- module helpers

/** The taint the node lifecycle controller puts on a node whose kubelet stopped posting status. */
const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';

const NODE_CONDITION_REASON: Record<NodeConditionType, [string, string]> = {
  Ready: ['KubeletReady', 'KubeletNotReady'],
  MemoryPressure: ['KubeletHasInsufficientMemory', 'KubeletHasSufficientMemory'],
  DiskPressure: ['KubeletHasDiskPressure', 'KubeletHasNoDiskPressure'],
  PIDPressure: ['KubeletHasInsufficientPID', 'KubeletHasSufficientPID'],
  NetworkUnavailable: ['NoRouteCreated', 'RouteCreated'],
};

const NODE_CONDITION_MESSAGE: Record<NodeConditionType, [string, string]> = {
  Ready: ['kubelet is posting ready status', 'container runtime network not ready'],
  MemoryPressure: ['kubelet has insufficient memory available', 'kubelet has sufficient memory available'],
  DiskPressure: ['kubelet has disk pressure', 'kubelet has no disk pressure'],
  PIDPressure: ['kubelet has insufficient PID available', 'kubelet has sufficient PID available'],
  NetworkUnavailable: ['node has no route', 'RouteController created a route'],
};

/** A pod's phase from where it is and what its containers do (the kubelet's view). */
function podPhase(
  node: string | undefined,
  containers: ContainerOptions[],
  restartPolicy: 'Always' | 'OnFailure' | 'Never',
): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  if (!node) return 'Pending';
  if (containers.length > 0 && containers.every((container) => container.terminated)) {
    if (containers.every((container) => container.terminated!.exitCode === 0)) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
  }
  if (
    containers.some(
      (container) =>
        container.waiting && container.waiting.reason !== 'CrashLoopBackOff' && !container.restarts,
    )
  )
    return 'Pending';
  return 'Running';
}

/** A container's status as the kubelet reports it. */
function containerStatus(
  container: ContainerOptions,
  phase: string,
  at: Date,
  pod: PodOptions,
): V1ContainerStatus {
  const image = container.image ?? `registry.example.com/${container.name}:1.0.0`;
  const restarts = container.restarts ?? 0;
  const containerID = `containerd://${shortHash(`${pod.namespace}/${pod.name}/${container.name}`, 24)}`;
  let state: V1ContainerStatus['state'];
  if (container.terminated)
    state = {
      terminated: {
        exitCode: container.terminated.exitCode,
        reason: container.terminated.reason,
        ...(container.terminated.message ? { message: container.terminated.message } : {}),
        startedAt: at,
        finishedAt: at,
        containerID,
      },
    };
  else if (container.crashLooping)
    state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off 5m0s restarting failed container=${container.name} pod=${pod.name}_${pod.namespace}`,
      },
    };
  else if (container.waiting) state = { waiting: { ...container.waiting } };
  else if (phase === 'Pending') state = { waiting: { reason: 'ContainerCreating' } };
  else state = { running: { startedAt: at } };
  const running = state.running !== undefined && phase === 'Running';
  // A failing readiness probe leaves a running container not ready.
  const ready = running && !container.unready;
  const last =
    container.lastTermination ??
    (restarts > 0
      ? container.crashLooping
        ? { exitCode: 1, reason: 'Error' }
        : { exitCode: 137, reason: 'OOMKilled' }
      : undefined);
  return {
    name: container.name,
    image,
    imageID:
      state.waiting && !restarts
        ? ''
        : `registry.example.com/${container.name}@sha256:${shortHash(container.name, 12)}`,
    ...(state.waiting && !restarts ? {} : { containerID }),
    ready,
    started: running,
    restartCount: restarts,
    state,
    ...(last
      ? {
          lastState: {
            terminated: {
              exitCode: last.exitCode,
              reason: last.reason,
              ...(last.message ? { message: last.message } : {}),
              startedAt: at,
              finishedAt: at,
              containerID,
            },
          },
        }
      : { lastState: {} }),
  };
}

function verbOf(method: string, name: string | undefined): string {
  switch (method) {
    case 'GET':
      return name ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PATCH':
      return 'patch';
    case 'PUT':
      return 'update';
    case 'DELETE':
      return name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

interface ParsedPath {
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
  /** What follows a proxy subresource: `stats/summary`. */
  subpath?: string;
}

/**
 * `/api/v1/namespaces/shop/pods/x/log` → { group '', version v1, namespace shop, resource pods, name x,
 * subresource log }; `/api/v1/nodes/n/proxy/stats/summary` → subresource proxy, subpath stats/summary.
 */
function parsePath(path: string): ParsedPath | undefined {
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments[1]) {
    group = '';
    version = segments[1];
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments[1] && segments[2]) {
    group = segments[1];
    version = segments[2];
    rest = segments.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource, ...subpath] = rest;
  if (!resource || (subpath.length > 0 && subresource !== 'proxy')) return undefined;
  return {
    group,
    version,
    resource,
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
    ...(subresource ? { subresource } : {}),
    ...(subpath.length ? { subpath: subpath.join('/') } : {}),
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  KubeConfig,
  type V1ControllerRevision,
  type V1DaemonSet,
  type V1Deployment,
  type V1Job,
  type V1LabelSelector,
  type V1Node,
  type V1NodeCondition,
  type V1ObjectMeta,
  type V1OwnerReference,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V1PodTemplateSpec,
  type V1ReplicaSet,
  type V1StatefulSet,
  type V1StorageClass,
  type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { parseQuantity } from '../../functions/tools/kubernetes/quantity.ts';

/**
 * A Kubernetes API server for tests and the demo: a real HTTP server on 127.0.0.1 that answers the
 * endpoints the k8s.* tools use with the API's documented shapes (objects, lists, Status errors,
 * metrics.k8s.io, text logs), keeps a small cluster (nodes, pods, workloads with their ReplicaSets
 * and ControllerRevisions, PodDisruptionBudgets, metrics, logs; PersistentVolumeClaims,
 * StorageClasses, HorizontalPodAutoscalers and Jobs as stored objects), applies patches (dryRun=All
 * persists nothing), and records every request. Controllers do not run by themselves: `reconcile()`
 * performs what the Deployment/StatefulSet/DaemonSet/ReplicaSet controllers would (or pass
 * `autoReconcile`).
 */

// ------------------------------------------------------------------------------------------ types

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON for JSON bodies, the text otherwise; undefined without a body. */
  body: unknown;
  contentType: string | undefined;
}

export interface ResourceAmounts {
  cpu: string;
  memory: string;
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
  log?: string;
  /** The log of the previous (terminated) instance; only readable when restarts > 0. */
  previousLog?: string;
}

export type NodeConditionType =
  | 'Ready'
  | 'MemoryPressure'
  | 'DiskPressure'
  | 'PIDPressure'
  | 'NetworkUnavailable';

export interface NodeOptions {
  name: string;
  capacity?: Partial<ResourceAmounts & { pods: string; 'ephemeral-storage': string }>;
  /** Default: capacity minus a little for the system (cpu 100m, memory 512Mi). */
  allocatable?: Partial<ResourceAmounts & { pods: string; 'ephemeral-storage': string }>;
  /** Condition statuses; default Ready true, every pressure false. */
  conditions?: Partial<Record<NodeConditionType, boolean>>;
  unschedulable?: boolean;
  kubeletVersion?: string;
  usage?: ResourceAmounts;
  labels?: Record<string, string>;
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
}

export interface DeploymentOptions extends WorkloadOptionsBase {
  replicas: number;
  /** Nodes the pods land on, in turn; default: schedulable nodes in turn. */
  nodes?: string[];
  paused?: boolean;
  /** The revision number of the current ReplicaSet; default 1. */
  revision?: number;
}

export interface StatefulSetOptions extends WorkloadOptionsBase {
  replicas: number;
  nodes?: string[];
  updateStrategy?: 'RollingUpdate' | 'OnDelete';
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
}

export interface PdbOptions {
  namespace: string;
  name: string;
  matchLabels: Record<string, string>;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
}

export interface PvcOptions {
  namespace: string;
  name: string;
  /** Requested size, e.g. `20Gi`; the bound volume has it as capacity. */
  storage: string;
  storageClassName?: string;
  volumeName?: string;
  accessModes?: string[];
  phase?: 'Pending' | 'Bound' | 'Lost';
}

export interface StorageClassOptions {
  name: string;
  provisioner?: string;
  allowVolumeExpansion?: boolean;
  isDefault?: boolean;
}

export interface HpaOptions {
  namespace: string;
  name: string;
  /** The scale target (a Deployment or StatefulSet in the same namespace). */
  target: { kind: 'Deployment' | 'StatefulSet'; name: string };
  minReplicas?: number;
  maxReplicas: number;
  /** Target average CPU utilization (percent of requests). */
  cpuUtilization?: number;
  currentReplicas?: number;
  desiredReplicas?: number;
  /** Current average CPU utilization (percent). */
  currentCpuUtilization?: number;
}

export interface JobOptions {
  namespace: string;
  name: string;
  containers: ContainerOptions[];
  completions?: number;
  backoffLimit?: number;
  /** Finished pods: how many succeeded, how many failed. */
  succeeded?: number;
  failed?: number;
  /** Minutes ago the Job started; default 30. */
  startedMinutesAgo?: number;
  /** Owning CronJob, if any. */
  cronJob?: string;
  node?: string;
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

export interface ForbiddenRule {
  verb: string;
  /** Plural resource with subresource: `nodes`, `deployments/scale`, `pods/eviction`. */
  resource: string;
  /** API group; '' for core (default: any group). */
  group?: string;
}

// ----------------------------------------------------------------------------------- constants

const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const DEFAULT_REVISION_AGE_MINUTES = 3 * 24 * 60;
const KIND_OF_RESOURCE = {
  deployments: 'Deployment',
  statefulsets: 'StatefulSet',
  daemonsets: 'DaemonSet',
  replicasets: 'ReplicaSet',
  controllerrevisions: 'ControllerRevision',
} as const;
type AppsResource = keyof typeof KIND_OF_RESOURCE;
type Workload = V1Deployment | V1StatefulSet | V1DaemonSet | V1ReplicaSet;
type StoredObject = V1PersistentVolumeClaim | V1StorageClass | V2HorizontalPodAutoscaler | V1Job;
interface StoredKind {
  group: string;
  resource: string;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  store: Map<string, StoredObject>;
}

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

/** RFC 6902 JSON patch: add, replace, remove, test. */
function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('json patch must be an array of operations');
  let document = clone(target);
  for (const operation of operations as Array<{ op: string; path: string; value?: unknown }>) {
    const segments = operation.path
      .split('/')
      .slice(1)
      .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segments.pop();
    if (last === undefined) {
      document = clone(operation.value);
      continue;
    }
    let parent = document as Record<string, unknown>;
    for (const segment of segments) {
      const next = parent[segment];
      if (!next || typeof next !== 'object') {
        throw new HttpError(
          422,
          statusBody(422, 'Invalid', `the server rejected our request due to an error in our request`),
        );
      }
      parent = next as Record<string, unknown>;
    }
    switch (operation.op) {
      case 'add':
      case 'replace':
        if (operation.op === 'replace' && !(last in parent)) {
          throw new HttpError(
            422,
            statusBody(
              422,
              'Invalid',
              `replace operation does not apply: doc is missing key: ${operation.path}`,
            ),
          );
        }
        parent[last] = clone(operation.value);
        break;
      case 'remove':
        delete parent[last];
        break;
      case 'test':
        if (JSON.stringify(parent[last]) !== JSON.stringify(operation.value)) {
          throw new HttpError(422, statusBody(422, 'Invalid', `testing value ${operation.path} failed`));
        }
        break;
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
  return current === undefined || current === null ? '' : String(current);
}

/** Field selectors: `a.b=c`, `a.b==c`, `a.b!=c`, comma-separated. */
function matchesFieldSelector(object: unknown, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const match = /^([^!=]+)(!=|==|=)(.*)$/.exec(term.trim());
    if (!match) throw badRequest(`invalid field selector "${term}"`);
    const value = fieldValue(object, match[1]!);
    return match[2] === '!=' ? value !== match[3] : value === match[3];
  });
}

function percentOf(value: number | string, total: number, roundUp: boolean): number {
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

function templateOf(labels: Record<string, string>, containers: ContainerOptions[]): V1PodTemplateSpec {
  return {
    metadata: { labels: { ...labels } },
    spec: {
      containers: containers.map((container) => ({
        name: container.name,
        image: container.image ?? `registry.example.com/${container.name}:1.0.0`,
        resources: containerResources(container),
      })),
    },
  };
}

function nanocores(cpu: string): string {
  return `${Math.round(parseQuantity(cpu) * 1e9)}n`;
}

function kibibytes(memory: string): string {
  return `${Math.round(parseQuantity(memory) / 1024)}Ki`;
}

// ----------------------------------------------------------------------------------- the server

export class FakeKubeApi {
  readonly nodes = new Map<string, V1Node>();
  /** Keyed `namespace/name`. */
  readonly pods = new Map<string, V1Pod>();
  readonly deployments = new Map<string, V1Deployment>();
  readonly statefulSets = new Map<string, V1StatefulSet>();
  readonly daemonSets = new Map<string, V1DaemonSet>();
  readonly replicaSets = new Map<string, V1ReplicaSet>();
  readonly controllerRevisions = new Map<string, V1ControllerRevision>();
  readonly pdbs = new Map<string, V1PodDisruptionBudget>();
  readonly persistentVolumeClaims = new Map<string, V1PersistentVolumeClaim>();
  /** Cluster-scoped: keyed by name. */
  readonly storageClasses = new Map<string, V1StorageClass>();
  readonly horizontalPodAutoscalers = new Map<string, V2HorizontalPodAutoscaler>();
  readonly jobs = new Map<string, V1Job>();
  readonly nodeUsage = new Map<string, ResourceAmounts>();
  /** `namespace/pod` → container → usage. */
  readonly podUsage = new Map<string, Map<string, ResourceAmounts>>();
  /** `namespace/pod/container` → logs. */
  readonly logs = new Map<string, { current: string; previous?: string }>();
  readonly requests: RecordedRequest[] = [];
  /** Pods evicted (not in a dry run), as `namespace/name`. */
  readonly evicted: string[] = [];

  metricsAvailable: boolean;
  autoReconcile: boolean;
  /** Every answer waits this long (abort and timeout tests). */
  latencyMs = 0;
  /** Called as each request arrives, before it is answered (tests abort a step at an exact call). */
  onRequest: ((request: RecordedRequest) => void) | undefined;
  private readonly forbidden: ForbiddenRule[] = [];
  private readonly failures: InjectedFailure[] = [];
  private resourceVersion = 1000;
  private nameCounter = 0;
  private podAddressCounter = 0;
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

  // ----------------------------------------------------------------------------------- builders

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
    const node: V1Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: this.meta(options.name, undefined, {
        labels: { 'kubernetes.io/hostname': options.name, 'kubernetes.io/os': 'linux', ...options.labels },
      }),
      spec: {
        providerID: `aws:///eu-west-1a/i-0${shortHash(options.name, 16).replace(/[^0-9a-f]/g, 'a')}`,
        ...(options.unschedulable ? { unschedulable: true } : {}),
      },
      status: {
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
    return clone(node);
  }

  addPod(options: PodOptions): V1Pod {
    const crashLooping = options.containers.some((container) => container.crashLooping);
    const phase = options.phase ?? (options.node ? 'Running' : 'Pending');
    const at = this.now();
    const ready = phase === 'Running' && !crashLooping;
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: this.meta(options.name, options.namespace, {
        labels: { ...options.labels },
        ...(options.annotations ? { annotations: { ...options.annotations } } : {}),
        ...(options.owner ? { ownerReferences: [clone(options.owner)] } : {}),
      }),
      spec: {
        ...(options.node ? { nodeName: options.node } : {}),
        containers: options.containers.map((container) => ({
          name: container.name,
          image: container.image ?? `registry.example.com/${container.name}:1.0.0`,
          resources: containerResources(container),
        })),
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
      },
      status: {
        phase,
        conditions: [
          { type: 'PodScheduled', status: options.node ? 'True' : 'False', lastTransitionTime: at },
          { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: at },
          { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: at },
        ],
        ...(phase === 'Running' || phase === 'Succeeded' || phase === 'Failed'
          ? {
              containerStatuses: options.containers.map((container) => ({
                name: container.name,
                image: container.image ?? `registry.example.com/${container.name}:1.0.0`,
                imageID: `registry.example.com/${container.name}@sha256:${shortHash(container.name, 12)}`,
                ready: phase === 'Running' && !container.crashLooping,
                started: phase === 'Running' && !container.crashLooping,
                restartCount: container.restarts ?? 0,
                state: container.crashLooping
                  ? {
                      waiting: {
                        reason: 'CrashLoopBackOff',
                        message: `back-off 5m0s restarting failed container=${container.name} pod=${options.name}_${options.namespace}`,
                      },
                    }
                  : { running: { startedAt: at } },
                ...((container.restarts ?? 0) > 0
                  ? {
                      lastState: {
                        terminated: {
                          exitCode: container.crashLooping ? 1 : 137,
                          reason: container.crashLooping ? 'Error' : 'OOMKilled',
                          startedAt: at,
                          finishedAt: at,
                        },
                      },
                    }
                  : {}),
              })),
            }
          : {}),
        ...(options.node ? this.addressesOn(options.node) : {}),
        startTime: at,
        qosClass: 'Burstable',
      },
    };
    const key = `${options.namespace}/${options.name}`;
    this.pods.set(key, pod);
    const usage = new Map<string, ResourceAmounts>();
    for (const container of options.containers) {
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
    return clone(pod);
  }

  addDeployment(options: DeploymentOptions): V1Deployment {
    const labels = options.labels ?? { app: options.name };
    const template = templateOf(labels, options.containers);
    const deployment: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: this.meta(options.name, options.namespace, {
        labels: { ...labels },
        annotations: {
          ...options.annotations,
          'deployment.kubernetes.io/revision': String(options.revision ?? 1),
        },
        generation: 1,
      }),
      spec: {
        replicas: options.replicas,
        selector: { matchLabels: { ...labels } },
        template,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: 600,
        ...(options.paused ? { paused: true } : {}),
      },
      status: {},
    };
    const key = `${options.namespace}/${options.name}`;
    this.deployments.set(key, deployment);
    const replicaSet = this.createReplicaSet(deployment, options.revision ?? 1, options.rolloutMinutesAgo);
    const hash = replicaSet.metadata!.labels!['pod-template-hash']!;
    const nodes = this.placement(options.nodes, options.replicas);
    for (let index = 0; index < options.replicas; index += 1) {
      this.addPod({
        namespace: options.namespace,
        name: `${replicaSet.metadata!.name}-${this.suffix(options.name)}`,
        node: nodes[index],
        labels: { ...labels, 'pod-template-hash': hash },
        containers: options.containers,
        owner: this.ownerReference(replicaSet, 'ReplicaSet'),
      });
    }
    this.refreshStatuses();
    return clone(this.deployments.get(key)!);
  }

  addStatefulSet(options: StatefulSetOptions): V1StatefulSet {
    const labels = options.labels ?? { app: options.name };
    const statefulSet: V1StatefulSet = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: this.meta(options.name, options.namespace, { labels: { ...labels }, generation: 1 }),
      spec: {
        replicas: options.replicas,
        selector: { matchLabels: { ...labels } },
        serviceName: options.name,
        template: templateOf(labels, options.containers),
        updateStrategy:
          options.updateStrategy === 'OnDelete'
            ? { type: 'OnDelete' }
            : { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
        podManagementPolicy: 'OrderedReady',
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
      this.addPod({
        namespace: options.namespace,
        name: `${options.name}-${index}`,
        node: nodes[index],
        labels: {
          ...labels,
          'controller-revision-hash': revision.metadata!.name!,
          'statefulset.kubernetes.io/pod-name': `${options.name}-${index}`,
        },
        containers: options.containers,
        owner: this.ownerReference(statefulSet, 'StatefulSet'),
      });
    }
    this.refreshStatuses();
    return clone(this.statefulSets.get(key)!);
  }

  addDaemonSet(options: DaemonSetOptions): V1DaemonSet {
    const labels = options.labels ?? { app: options.name };
    const daemonSet: V1DaemonSet = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: this.meta(options.name, options.namespace, { labels: { ...labels }, generation: 1 }),
      spec: {
        selector: { matchLabels: { ...labels } },
        template: templateOf(labels, options.containers),
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
      });
    }
    this.refreshStatuses();
    return clone(this.daemonSets.get(key)!);
  }

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

  // ------------------------------------------------------------- builders: storage, autoscaling, batch

  addStorageClass(options: StorageClassOptions): V1StorageClass {
    const storageClass: V1StorageClass = {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: this.meta(options.name, undefined, {
        ...(options.isDefault
          ? { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }
          : {}),
      }),
      provisioner: options.provisioner ?? 'ebs.csi.aws.com',
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'WaitForFirstConsumer',
      allowVolumeExpansion: options.allowVolumeExpansion ?? false,
      parameters: { type: 'gp3' },
    };
    this.storageClasses.set(options.name, storageClass);
    return clone(storageClass);
  }

  addPersistentVolumeClaim(options: PvcOptions): V1PersistentVolumeClaim {
    const phase = options.phase ?? 'Bound';
    const accessModes = options.accessModes ?? ['ReadWriteOnce'];
    const pvc: V1PersistentVolumeClaim = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: this.meta(options.name, options.namespace, {
        annotations: { 'pv.kubernetes.io/bind-completed': 'yes' },
        finalizers: ['kubernetes.io/pvc-protection'],
      }),
      spec: {
        accessModes,
        resources: { requests: { storage: options.storage } },
        storageClassName: options.storageClassName ?? 'gp3',
        volumeMode: 'Filesystem',
        ...(phase === 'Bound' ? { volumeName: options.volumeName ?? `pvc-${randomUUID()}` } : {}),
      },
      status: {
        phase,
        ...(phase === 'Bound' ? { accessModes, capacity: { storage: options.storage } } : {}),
      },
    };
    this.persistentVolumeClaims.set(`${options.namespace}/${options.name}`, pvc);
    return clone(pvc);
  }

  addHorizontalPodAutoscaler(options: HpaOptions): V2HorizontalPodAutoscaler {
    const current = options.currentReplicas ?? options.minReplicas ?? 1;
    const hpa: V2HorizontalPodAutoscaler = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: this.meta(options.name, options.namespace, { generation: 1 }),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: options.target.kind, name: options.target.name },
        minReplicas: options.minReplicas ?? 1,
        maxReplicas: options.maxReplicas,
        metrics: [
          {
            type: 'Resource',
            resource: {
              name: 'cpu',
              target: { type: 'Utilization', averageUtilization: options.cpuUtilization ?? 70 },
            },
          },
        ],
      },
      status: {
        observedGeneration: 1,
        currentReplicas: current,
        desiredReplicas: options.desiredReplicas ?? current,
        lastScaleTime: this.minutesAgo(42),
        currentMetrics: [
          {
            type: 'Resource',
            resource: {
              name: 'cpu',
              current: { averageUtilization: options.currentCpuUtilization ?? 45 },
            },
          },
        ],
        conditions: [
          {
            type: 'AbleToScale',
            status: 'True',
            reason: 'ReadyForNewScale',
            message: 'recommended size matches current size',
            lastTransitionTime: this.minutesAgo(42),
          },
          {
            type: 'ScalingActive',
            status: 'True',
            reason: 'ValidMetricFound',
            message:
              'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)',
            lastTransitionTime: this.minutesAgo(60 * 24),
          },
          {
            type: 'ScalingLimited',
            status: current >= options.maxReplicas ? 'True' : 'False',
            reason: current >= options.maxReplicas ? 'TooManyReplicas' : 'DesiredWithinRange',
            message:
              current >= options.maxReplicas
                ? 'the desired replica count is more than the maximum replica count'
                : 'the desired count is within the acceptable range',
            lastTransitionTime: this.minutesAgo(42),
          },
        ],
      },
    };
    this.horizontalPodAutoscalers.set(`${options.namespace}/${options.name}`, hpa);
    return clone(hpa);
  }

  /** A Job with its finished pods: `succeeded` Completed ones, `failed` Error ones. */
  addJob(options: JobOptions): V1Job {
    const labels = { 'job-name': options.name, 'batch.kubernetes.io/job-name': options.name };
    const started = this.minutesAgo(options.startedMinutesAgo ?? 30);
    const succeeded = options.succeeded ?? 0;
    const failed = options.failed ?? 0;
    const completions = options.completions ?? 1;
    const backoffLimit = options.backoffLimit ?? 6;
    const complete = succeeded >= completions;
    const failedOut = !complete && failed > backoffLimit;
    const finished = new Date(started.getTime() + 4 * 60_000);
    const job: V1Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: this.meta(
        options.name,
        options.namespace,
        {
          labels: { ...labels },
          generation: 1,
          ...(options.cronJob
            ? {
                ownerReferences: [
                  {
                    apiVersion: 'batch/v1',
                    kind: 'CronJob',
                    name: options.cronJob,
                    uid: randomUUID(),
                    controller: true,
                    blockOwnerDeletion: true,
                  },
                ],
              }
            : {}),
        },
        started,
      ),
      spec: {
        completions,
        parallelism: 1,
        backoffLimit,
        selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': randomUUID() } },
        template: {
          ...templateOf(labels, options.containers),
          spec: { ...templateOf(labels, options.containers).spec!, restartPolicy: 'Never' },
        },
      },
      status: {
        startTime: started,
        ...(succeeded ? { succeeded } : {}),
        ...(failed ? { failed } : {}),
        ...(complete ? { completionTime: finished } : {}),
        ...(complete || failedOut
          ? {
              conditions: [
                complete
                  ? {
                      type: 'Complete',
                      status: 'True',
                      lastProbeTime: finished,
                      lastTransitionTime: finished,
                    }
                  : {
                      type: 'Failed',
                      status: 'True',
                      reason: 'BackoffLimitExceeded',
                      message: 'Job has reached the specified backoff limit',
                      lastProbeTime: finished,
                      lastTransitionTime: finished,
                    },
              ],
            }
          : { active: 1 }),
      },
    };
    this.jobs.set(`${options.namespace}/${options.name}`, job);
    const owner: V1OwnerReference = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      name: options.name,
      uid: job.metadata!.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
    const node = options.node ?? this.placement(undefined, 1)[0];
    for (const [phase, count] of [
      ['Succeeded', succeeded],
      ['Failed', failed],
    ] as const) {
      for (let index = 0; index < count; index += 1)
        this.addPod({
          namespace: options.namespace,
          name: `${options.name}-${this.suffix(options.name)}`,
          node,
          labels: { ...labels },
          containers: options.containers,
          owner,
          phase,
        });
    }
    return clone(job);
  }

  setNodeUsage(node: string, usage: ResourceAmounts): void {
    this.nodeUsage.set(node, usage);
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

  /** Edits a stored object in place (for states the builders do not make, such as a rollout midway). */
  edit<T extends V1Node | V1Pod | Workload | V1ControllerRevision | StoredObject>(
    store: Map<string, T>,
    key: string,
    change: (object: T) => void,
  ): void {
    const object = store.get(key);
    if (!object) throw new Error(`no object ${key} to edit`);
    change(object);
  }

  /** Pods of a namespace whose labels match, sorted by name (what the controllers see). */
  podsMatching(namespace: string, selector: V1LabelSelector | undefined): V1Pod[] {
    return [...this.pods.values()]
      .filter(
        (pod) => pod.metadata?.namespace === namespace && matchesSelector(pod.metadata?.labels, selector),
      )
      .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  }

  // ---------------------------------------------------------------------------------- controllers

  /**
   * What the controllers would do, at once: a Deployment whose template changed gets a new ReplicaSet
   * (next revision) and new pods; ReplicaSets, StatefulSets and DaemonSets get the pods they want
   * (new pods are healthy and use their requests); statuses and observedGeneration catch up.
   */
  reconcile(): void {
    for (const deployment of this.deployments.values()) this.reconcileDeployment(deployment);
    for (const statefulSet of this.statefulSets.values()) this.reconcileStatefulSet(statefulSet);
    for (const daemonSet of this.daemonSets.values()) this.reconcileDaemonSet(daemonSet);
    this.refreshStatuses(true);
  }

  private reconcileDeployment(deployment: V1Deployment): void {
    const namespace = deployment.metadata!.namespace!;
    const owned = this.ownedReplicaSets(deployment);
    const hash = shortHash(toJson(deployment.spec!.template), 10);
    let current = owned.find((replicaSet) => replicaSet.metadata!.labels?.['pod-template-hash'] === hash);
    if (deployment.spec?.paused) return;
    if (!current) {
      const revision = Math.max(0, ...owned.map((replicaSet) => revisionOf(replicaSet))) + 1;
      current = this.createReplicaSet(deployment, revision, 0);
      deployment.metadata!.annotations = {
        ...deployment.metadata!.annotations,
        'deployment.kubernetes.io/revision': String(revision),
      };
    } else if (
      revisionOf(current) !== Number(deployment.metadata!.annotations?.['deployment.kubernetes.io/revision'])
    ) {
      const revision = Math.max(...owned.map((replicaSet) => revisionOf(replicaSet))) + 1;
      current.metadata!.annotations = {
        ...current.metadata!.annotations,
        'deployment.kubernetes.io/revision': String(revision),
      };
      deployment.metadata!.annotations = {
        ...deployment.metadata!.annotations,
        'deployment.kubernetes.io/revision': String(revision),
      };
    }
    for (const replicaSet of owned) {
      if (replicaSet !== current) {
        replicaSet.spec!.replicas = 0;
        for (const pod of this.podsOwnedBy(replicaSet))
          this.pods.delete(`${namespace}/${pod.metadata!.name}`);
      }
    }
    current.spec!.replicas = deployment.spec!.replicas ?? 1;
    this.reconcileReplicaSet(current);
  }

  private reconcileReplicaSet(replicaSet: V1ReplicaSet): void {
    const namespace = replicaSet.metadata!.namespace!;
    const pods = this.podsOwnedBy(replicaSet);
    const wanted = replicaSet.spec!.replicas ?? 1;
    for (const pod of pods.slice(wanted)) this.pods.delete(`${namespace}/${pod.metadata!.name}`);
    const nodes = this.placement(undefined, wanted - pods.length);
    for (let index = pods.length; index < wanted; index += 1) {
      this.addPod({
        namespace,
        name: `${replicaSet.metadata!.name}-${this.suffix(replicaSet.metadata!.name!)}`,
        node: nodes[index - pods.length],
        labels: { ...replicaSet.spec!.template!.metadata!.labels },
        containers: this.containersOf(replicaSet.spec!.template!),
        owner: this.ownerReference(replicaSet, 'ReplicaSet'),
      });
    }
  }

  private reconcileStatefulSet(statefulSet: V1StatefulSet): void {
    const namespace = statefulSet.metadata!.namespace!;
    const name = statefulSet.metadata!.name!;
    const hash = shortHash(toJson(statefulSet.spec!.template), 10);
    let revision = this.ownedRevisions(statefulSet).find(
      (candidate) => candidate.metadata!.labels?.['controller-revision-hash'] === `${name}-${hash}`,
    );
    revision ??= this.createControllerRevision(statefulSet, 'StatefulSet', 0);
    statefulSet.status!.updateRevision = revision.metadata!.name!;
    const replace = statefulSet.spec!.updateStrategy?.type !== 'OnDelete';
    const wanted = statefulSet.spec!.replicas ?? 1;
    for (const pod of this.podsOwnedBy(statefulSet)) {
      const ordinal = Number(pod.metadata!.name!.slice(name.length + 1));
      const stale = pod.metadata!.labels?.['controller-revision-hash'] !== revision.metadata!.name;
      if (ordinal >= wanted || (replace && stale)) this.pods.delete(`${namespace}/${pod.metadata!.name}`);
    }
    const nodes = this.placement(undefined, wanted);
    for (let ordinal = 0; ordinal < wanted; ordinal += 1) {
      const podName = `${name}-${ordinal}`;
      if (this.pods.has(`${namespace}/${podName}`)) continue;
      this.addPod({
        namespace,
        name: podName,
        node: nodes[ordinal],
        labels: {
          ...statefulSet.spec!.template.metadata!.labels,
          'controller-revision-hash': revision.metadata!.name!,
          'statefulset.kubernetes.io/pod-name': podName,
        },
        containers: this.containersOf(statefulSet.spec!.template),
        owner: this.ownerReference(statefulSet, 'StatefulSet'),
      });
    }
    const allUpdated = this.podsOwnedBy(statefulSet).every(
      (pod) => pod.metadata!.labels?.['controller-revision-hash'] === revision.metadata!.name,
    );
    if (allUpdated) statefulSet.status!.currentRevision = revision.metadata!.name!;
  }

  private reconcileDaemonSet(daemonSet: V1DaemonSet): void {
    const namespace = daemonSet.metadata!.namespace!;
    const name = daemonSet.metadata!.name!;
    const hash = shortHash(toJson(daemonSet.spec!.template), 10);
    const known = this.ownedRevisions(daemonSet).some(
      (candidate) => candidate.metadata!.labels?.['controller-revision-hash'] === hash,
    );
    if (!known) this.createControllerRevision(daemonSet, 'DaemonSet', 0);
    const replace = daemonSet.spec!.updateStrategy?.type !== 'OnDelete';
    const pods = this.podsOwnedBy(daemonSet);
    for (const pod of pods) {
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
      });
    }
  }

  /** Recomputes workload statuses from their pods; `observe` also catches observedGeneration up. */
  private refreshStatuses(observe = false): void {
    for (const replicaSet of this.replicaSets.values()) {
      const pods = this.podsOwnedBy(replicaSet);
      const ready = pods.filter(isReady).length;
      replicaSet.status = {
        replicas: pods.length,
        fullyLabeledReplicas: pods.length,
        readyReplicas: ready,
        availableReplicas: ready,
        observedGeneration: replicaSet.metadata!.generation ?? 1,
      };
    }
    for (const deployment of this.deployments.values()) {
      const owned = this.ownedReplicaSets(deployment);
      const revision = Number(deployment.metadata!.annotations?.['deployment.kubernetes.io/revision']);
      const current = owned.find((replicaSet) => revisionOf(replicaSet) === revision);
      const pods = owned.flatMap((replicaSet) => this.podsOwnedBy(replicaSet));
      const ready = pods.filter(isReady).length;
      const wanted = deployment.spec!.replicas ?? 1;
      const updated = current ? this.podsOwnedBy(current).length : 0;
      const previous = deployment.status ?? {};
      deployment.status = {
        observedGeneration:
          observe || previous.observedGeneration === undefined
            ? deployment.metadata!.generation
            : previous.observedGeneration,
        replicas: pods.length,
        updatedReplicas: updated,
        readyReplicas: ready,
        availableReplicas: ready,
        ...(wanted - ready > 0 ? { unavailableReplicas: wanted - ready } : {}),
        conditions: [
          {
            type: 'Available',
            status: ready >= wanted - Math.floor(wanted / 4) ? 'True' : 'False',
            reason:
              ready >= wanted - Math.floor(wanted / 4)
                ? 'MinimumReplicasAvailable'
                : 'MinimumReplicasUnavailable',
            message: 'Deployment has minimum availability.',
            lastUpdateTime: this.now(),
            lastTransitionTime: this.now(),
          },
          {
            type: 'Progressing',
            status: 'True',
            reason: 'NewReplicaSetAvailable',
            message: `ReplicaSet "${current?.metadata?.name ?? ''}" has successfully progressed.`,
            lastUpdateTime: this.now(),
            lastTransitionTime: this.now(),
          },
        ],
      };
    }
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

  // -------------------------------------------------------------------------------- object helpers

  private meta(
    name: string,
    namespace: string | undefined,
    extra: Partial<V1ObjectMeta> = {},
    createdAt?: Date,
  ): V1ObjectMeta {
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

  /** The node's InternalIP as hostIP, and a pod IP from the node's /24 (as the VPC CNI hands them out). */
  private addressesOn(node: string): { hostIP: string; podIP: string } {
    const hostIP =
      this.nodes.get(node)?.status?.addresses?.find((address) => address.type === 'InternalIP')?.address ??
      '10.0.1.10';
    this.podAddressCounter += 1;
    const prefix = hostIP.split('.').slice(0, 3).join('.');
    return { hostIP, podIP: `${prefix}.${100 + (this.podAddressCounter % 150)}` };
  }

  private ownerReference(owner: Workload, kind: string): V1OwnerReference {
    return {
      apiVersion: 'apps/v1',
      kind,
      name: owner.metadata!.name!,
      uid: owner.metadata!.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
  }

  /** Nodes for `count` new pods: the given ones in turn, else schedulable nodes in turn. */
  private placement(nodes: string[] | undefined, count: number): Array<string | undefined> {
    const pool =
      nodes ??
      [...this.nodes.values()]
        .filter((node) => !node.spec?.unschedulable)
        .map((node) => node.metadata!.name!);
    return Array.from({ length: Math.max(0, count) }, (_, index) =>
      pool.length ? pool[index % pool.length] : undefined,
    );
  }

  private createReplicaSet(deployment: V1Deployment, revision: number, minutesAgo?: number): V1ReplicaSet {
    const hash = shortHash(toJson(deployment.spec!.template), 10);
    const labels = { ...deployment.spec!.template.metadata!.labels, 'pod-template-hash': hash };
    const name = `${deployment.metadata!.name}-${hash}`;
    const replicaSet: V1ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: this.meta(
        name,
        deployment.metadata!.namespace,
        {
          labels,
          annotations: {
            'deployment.kubernetes.io/desired-replicas': String(deployment.spec!.replicas ?? 1),
            'deployment.kubernetes.io/max-replicas': String(
              Math.ceil((deployment.spec!.replicas ?? 1) * 1.25),
            ),
            'deployment.kubernetes.io/revision': String(revision),
          },
          ownerReferences: [this.ownerReference(deployment, 'Deployment')],
          generation: 1,
        },
        this.minutesAgo(minutesAgo ?? DEFAULT_REVISION_AGE_MINUTES),
      ),
      spec: {
        replicas: deployment.spec!.replicas ?? 1,
        selector: { matchLabels: { ...deployment.spec!.selector.matchLabels, 'pod-template-hash': hash } },
        template: { ...clone(deployment.spec!.template), metadata: { labels } },
      },
      status: { replicas: 0 },
    };
    this.replicaSets.set(`${deployment.metadata!.namespace}/${name}`, replicaSet);
    return replicaSet;
  }

  private createControllerRevision(
    owner: V1StatefulSet | V1DaemonSet,
    kind: 'StatefulSet' | 'DaemonSet',
    minutesAgo?: number,
  ): V1ControllerRevision {
    const hash = shortHash(toJson(owner.spec!.template), 10);
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
      data: { spec: { template: clone(owner.spec!.template) } },
      revision,
    };
    this.controllerRevisions.set(`${owner.metadata!.namespace}/${name}`, controllerRevision);
    return controllerRevision;
  }

  private minutesAgo(minutes: number): Date {
    return new Date(this.now().getTime() - minutes * 60_000);
  }

  private ownedReplicaSets(deployment: V1Deployment): V1ReplicaSet[] {
    return [...this.replicaSets.values()].filter((replicaSet) =>
      (replicaSet.metadata?.ownerReferences ?? []).some((owner) => owner.uid === deployment.metadata!.uid),
    );
  }

  private ownedRevisions(owner: V1StatefulSet | V1DaemonSet): V1ControllerRevision[] {
    return [...this.controllerRevisions.values()].filter((revision) =>
      (revision.metadata?.ownerReferences ?? []).some((reference) => reference.uid === owner.metadata!.uid),
    );
  }

  private podsOwnedBy(owner: Workload): V1Pod[] {
    return [...this.pods.values()]
      .filter((pod) =>
        (pod.metadata?.ownerReferences ?? []).some((reference) => reference.uid === owner.metadata!.uid),
      )
      .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  }

  private containersOf(template: V1PodTemplateSpec): ContainerOptions[] {
    return (template.spec?.containers ?? []).map((container) => ({
      name: container.name,
      ...(container.image ? { image: container.image } : {}),
      ...(container.resources?.requests ? { requests: { ...container.resources.requests } } : {}),
      ...(container.resources?.limits ? { limits: { ...container.resources.limits } } : {}),
    }));
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
    this.requests.push(recorded);
    this.onRequest?.(recorded);
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
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
      const answer = this.route(recorded);
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
    const index = this.failures.findIndex(
      (failure) =>
        (failure.method === undefined || failure.method === request.method) &&
        (failure.path === undefined ||
          (typeof failure.path === 'string'
            ? request.path.startsWith(failure.path)
            : failure.path.test(request.path))),
    );
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

  private route(request: RecordedRequest): string | { status?: number; body: unknown } {
    const parsed = parsePath(request.path);
    if (!parsed) throw NO_SUCH_RESOURCE();
    const { group, namespace, resource, name, subresource } = parsed;
    const verb = verbOf(request.method, name);
    this.authorize(verb, group, subresource ? `${resource}/${subresource}` : resource, namespace, name);
    if (group === 'metrics.k8s.io') return { body: this.metrics(resource, namespace, name) };
    if (group === '' && resource === 'nodes') return this.routeNodes(request, name);
    if (group === '' && resource === 'pods') return this.routePods(request, namespace, name, subresource);
    if (group === 'apps' && resource in KIND_OF_RESOURCE) {
      return this.routeApps(request, resource as AppsResource, namespace, name, subresource);
    }
    const stored = this.storedKind(group, resource);
    if (stored) return this.routeStored(request, stored, namespace, name, subresource);
    if (group === 'policy' && resource === 'poddisruptionbudgets' && request.method === 'GET') {
      const items = [...this.pdbs.values()].filter(
        (pdb) => !namespace || pdb.metadata!.namespace === namespace,
      );
      if (name) {
        const pdb = items.find((item) => item.metadata!.name === name);
        if (!pdb) throw notFound('poddisruptionbudgets', 'policy', name);
        return { body: this.withPdbStatus(pdb) };
      }
      return {
        body: listOf(
          'PodDisruptionBudgetList',
          'policy/v1',
          items.map((pdb) => this.withPdbStatus(pdb)),
          this.resourceVersion,
        ),
      };
    }
    throw NO_SUCH_RESOURCE();
  }

  /** Kinds kept as stored objects: read, listed, patched; no controller acts on them. */
  private storedKind(group: string, resource: string): StoredKind | undefined {
    const kinds: StoredKind[] = [
      {
        group: '',
        resource: 'persistentvolumeclaims',
        kind: 'PersistentVolumeClaim',
        apiVersion: 'v1',
        namespaced: true,
        store: this.persistentVolumeClaims,
      },
      {
        group: 'storage.k8s.io',
        resource: 'storageclasses',
        kind: 'StorageClass',
        apiVersion: 'storage.k8s.io/v1',
        namespaced: false,
        store: this.storageClasses,
      },
      {
        group: 'autoscaling',
        resource: 'horizontalpodautoscalers',
        kind: 'HorizontalPodAutoscaler',
        apiVersion: 'autoscaling/v2',
        namespaced: true,
        store: this.horizontalPodAutoscalers,
      },
      {
        group: 'batch',
        resource: 'jobs',
        kind: 'Job',
        apiVersion: 'batch/v1',
        namespaced: true,
        store: this.jobs,
      },
    ];
    return kinds.find((kind) => kind.group === group && kind.resource === resource);
  }

  private routeStored(
    request: RecordedRequest,
    stored: StoredKind,
    namespace: string | undefined,
    name: string | undefined,
    subresource: string | undefined,
  ) {
    if (subresource) throw NO_SUCH_RESOURCE();
    const store = stored.store as Map<string, StoredObject>;
    if (!name) {
      if (request.method !== 'GET')
        throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'method not allowed'));
      const items = [...store.values()].filter(
        (object) =>
          (!stored.namespaced || !namespace || object.metadata!.namespace === namespace) &&
          matchesFieldSelector(object, request.query.fieldSelector) &&
          matchesRequirements(object.metadata?.labels, parseLabelSelector(request.query.labelSelector ?? '')),
      );
      return { body: listOf(`${stored.kind}List`, stored.apiVersion, items, this.resourceVersion) };
    }
    const key = stored.namespaced ? `${namespace}/${name}` : name;
    const object = store.get(key);
    if (!object) throw notFound(stored.resource, stored.group, name);
    if (request.method === 'GET') return { body: object };
    if (request.method === 'PATCH')
      return { body: this.patchObject(store, key, object, request, stored.kind, stored.group) };
    throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'method not allowed'));
  }

  private routeNodes(request: RecordedRequest, name: string | undefined) {
    if (!name) {
      if (request.method !== 'GET')
        throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'method not allowed'));
      const items = [...this.nodes.values()].filter(
        (node) =>
          matchesFieldSelector(node, request.query.fieldSelector) &&
          matchesRequirements(node.metadata?.labels, parseLabelSelector(request.query.labelSelector ?? '')),
      );
      return { body: listOf('NodeList', 'v1', items, this.resourceVersion) };
    }
    const node = this.nodes.get(name);
    if (!node) throw notFound('nodes', '', name);
    if (request.method === 'GET') return { body: node };
    if (request.method === 'PATCH')
      return { body: this.patchObject(this.nodes, name, node, request, 'Node', '') };
    throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'method not allowed'));
  }

  private routePods(
    request: RecordedRequest,
    namespace: string | undefined,
    name: string | undefined,
    subresource: string | undefined,
  ) {
    if (!name) {
      const items = [...this.pods.values()].filter(
        (pod) =>
          (!namespace || pod.metadata!.namespace === namespace) &&
          matchesFieldSelector(pod, request.query.fieldSelector) &&
          matchesRequirements(pod.metadata?.labels, parseLabelSelector(request.query.labelSelector ?? '')),
      );
      items.sort((a, b) =>
        `${a.metadata!.namespace}/${a.metadata!.name}`.localeCompare(
          `${b.metadata!.namespace}/${b.metadata!.name}`,
        ),
      );
      return { body: listOf('PodList', 'v1', items, this.resourceVersion) };
    }
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (!pod) throw notFound('pods', '', name);
    if (!subresource && request.method === 'GET') return { body: pod };
    if (subresource === 'log' && request.method === 'GET') return this.podLog(pod, request.query);
    if (subresource === 'eviction' && request.method === 'POST') return this.evict(pod, request);
    throw NO_SUCH_RESOURCE();
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
      if (!status || (status.state?.waiting && !status.state.running && status.restartCount === 0)) {
        throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
      }
      text = log.current;
    }
    const tail = query.tailLines === undefined ? undefined : Number(query.tailLines);
    if (tail === undefined) return text;
    const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    const kept = lines.slice(Math.max(0, lines.length - tail));
    return kept.length ? `${kept.join('\n')}\n` : '';
  }

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
    if (budget) {
      const status = this.withPdbStatus(budget).status!;
      const allowed = isReady(pod)
        ? status.disruptionsAllowed > 0
        : status.currentHealthy >= status.desiredHealthy;
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

  private withPdbStatus(pdb: V1PodDisruptionBudget): V1PodDisruptionBudget & {
    status: NonNullable<V1PodDisruptionBudget['status']>;
  } {
    const pods = this.podsMatching(pdb.metadata!.namespace!, pdb.spec?.selector);
    const expected = pods.length;
    const healthy = pods.filter(isReady).length;
    const desired =
      pdb.spec?.minAvailable !== undefined
        ? percentOf(pdb.spec.minAvailable, expected, true)
        : pdb.spec?.maxUnavailable !== undefined
          ? Math.max(0, expected - percentOf(pdb.spec.maxUnavailable, expected, true))
          : expected;
    return {
      ...clone(pdb),
      status: {
        currentHealthy: healthy,
        desiredHealthy: desired,
        disruptionsAllowed: Math.max(0, healthy - desired),
        expectedPods: expected,
        observedGeneration: pdb.metadata!.generation ?? 1,
      },
    };
  }

  private routeApps(
    request: RecordedRequest,
    resource: AppsResource,
    namespace: string | undefined,
    name: string | undefined,
    subresource: string | undefined,
  ) {
    const store = this.storeOf(resource);
    const kind = KIND_OF_RESOURCE[resource];
    if (!name) {
      if (request.method !== 'GET')
        throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'method not allowed'));
      const items = [...store.values()].filter(
        (object) =>
          (!namespace || object.metadata!.namespace === namespace) &&
          matchesRequirements(object.metadata?.labels, parseLabelSelector(request.query.labelSelector ?? '')),
      );
      return { body: listOf(`${kind}List`, 'apps/v1', items, this.resourceVersion) };
    }
    const key = `${namespace}/${name}`;
    const object = store.get(key);
    if (!object) throw notFound(resource, 'apps', name);
    if (subresource === 'scale') {
      if (resource !== 'deployments' && resource !== 'statefulsets' && resource !== 'replicasets')
        throw NO_SUCH_RESOURCE();
      return this.scale(object as V1Deployment | V1StatefulSet | V1ReplicaSet, request, store, key);
    }
    if (subresource) throw NO_SUCH_RESOURCE();
    if (request.method === 'GET') return { body: object };
    if (request.method === 'PATCH' && resource !== 'controllerrevisions') {
      return { body: this.patchObject(store, key, object, request, kind, 'apps') };
    }
    throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'method not allowed'));
  }

  private scale(
    object: V1Deployment | V1StatefulSet | V1ReplicaSet,
    request: RecordedRequest,
    store: Map<string, Workload | V1ControllerRevision>,
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
    if (request.method !== 'PATCH')
      throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'method not allowed'));
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

  private patchObject<T extends V1Node | Workload | V1ControllerRevision | StoredObject>(
    store: Map<string, T>,
    key: string,
    object: T,
    request: RecordedRequest,
    kind: string,
    group: string,
  ): T {
    const patched = this.applyPatch(object, request) as T;
    if (typeof (patched as V1Node).spec?.unschedulable === 'string') {
      throw invalid(kind, group, object.metadata!.name!, 'spec.unschedulable', 'must be a boolean');
    }
    const specChanged = toJson((patched as V1Deployment).spec) !== toJson((object as V1Deployment).spec);
    patched.metadata = {
      ...patched.metadata,
      resourceVersion: String(this.resourceVersionPreview(request)),
      ...(specChanged && object.metadata?.generation !== undefined
        ? { generation: object.metadata.generation + 1 }
        : {}),
    };
    if (request.query.dryRun !== 'All') store.set(key, patched);
    return patched;
  }

  private storeOf(resource: AppsResource): Map<string, Workload | V1ControllerRevision> {
    switch (resource) {
      case 'deployments':
        return this.deployments as Map<string, Workload>;
      case 'statefulsets':
        return this.statefulSets as Map<string, Workload>;
      case 'daemonsets':
        return this.daemonSets as Map<string, Workload>;
      case 'replicasets':
        return this.replicaSets as Map<string, Workload>;
      case 'controllerrevisions':
        return this.controllerRevisions;
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

function isReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some(
    (condition) => condition.type === 'Ready' && condition.status === 'True',
  );
}

function revisionOf(replicaSet: V1ReplicaSet): number {
  return Number(replicaSet.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
}

/** List bodies: typed lists carry no kind/apiVersion on their items. */
function listOf(kind: string, apiVersion: string, items: unknown[], resourceVersion: number) {
  return {
    kind,
    apiVersion,
    metadata: { resourceVersion: String(resourceVersion) },
    items: items.map((item) => {
      const { kind: _kind, apiVersion: _apiVersion, ...rest } = item as Record<string, unknown>;
      return rest;
    }),
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
      return 'delete';
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
}

/** `/api/v1/namespaces/shop/pods/x/log` → { group '', version v1, namespace shop, resource pods, name x, subresource log }. */
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
  const [resource, name, subresource] = rest;
  if (!resource || rest.length > 3) return undefined;
  return {
    group,
    version,
    resource,
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
    ...(subresource ? { subresource } : {}),
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

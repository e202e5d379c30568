import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { prometheusFingerprint } from '../../functions/core/classifier/normalize.ts';
import { RunbookAutopilotError } from '../../functions/core/errors.ts';
import { parseQuantity } from '../../functions/tools/kubernetes/quantity.ts';
import { FakeKubeApi, type RecordedRequest as KubeRequest } from './fake-kube-api.ts';
import {
  type FakeAnswer,
  FakePrometheus,
  type FakeSeries,
  type FakeValue,
  type RecordedRequest as PrometheusRequest,
} from './fake-prometheus.ts';

/**
 * The demo target: a simulated environment in its own process, on 127.0.0.1 only, that the real tool
 * code talks to over the real protocols. It is labelled as a demo target everywhere it shows up (its
 * banner, its kubeconfig context, a `demo_target_info` series, every Alertmanager body it sends).
 *
 * - a Kubernetes API (FakeKubeApi, controllers on): three EKS-like nodes; in `shop`, a `cart`
 *   Deployment whose replica on ip-10-0-1-23 leaks memory until the kubelet reports MemoryPressure, a
 *   `checkout` Deployment with one crash-looping replica, PodDisruptionBudgets;
 * - a Prometheus (FakePrometheus): kube-state-metrics, cAdvisor and node-exporter series computed from
 *   that cluster and from a filesystem model (ip-10-0-2-141's root filesystem fills with journald
 *   logs), and the answers to the PromQL the shipped runbooks send (joins, deriv, predict_linear…),
 *   evaluated over the same series;
 * - an SSM endpoint speaking AWS JSON 1.1 (SendCommand, ListCommandInvocations, GetCommandInvocation,
 *   CancelCommand) that runs the few commands the disk runbook sends against the filesystem model;
 * - a simulated Alertmanager: it holds the three firing alerts, and when the remediation makes an
 *   alert's condition false it POSTs the matching `resolved` webhook v4 body to the receiver;
 * - a control endpoint (JSON): the scenarios with their firing bodies, the receiver URL, every request
 *   the simulated services received, and what happened.
 *
 * Run alone: `node --import tsx local/demo/target.ts [--data DIR] [--receiver URL]`; `runbook demo`
 * forks it with `launchDemoTarget`.
 */

// ------------------------------------------------------------------------------------------ the story

export const DEMO_CLUSTER = 'staging-eks-eu-west-1';
export const DEMO_CONTEXT = 'demo-target-staging';
export const DEMO_REGION = 'eu-west-1';
export const DEMO_ACCOUNT = '222222222222';
const DEMO_ENVIRONMENT = 'staging';
const KSM_INSTANCE = '10.0.3.40:8080';
const SCRAPE_SECONDS = 30;
const MI = 2 ** 20;
const GI = 2 ** 30;

interface DemoNode {
  name: string;
  ip: string;
  zone: string;
  instanceId: string;
}

export const DEMO_NODES = {
  memory: {
    name: 'ip-10-0-1-23.eu-west-1.compute.internal',
    ip: '10.0.1.23',
    zone: 'eu-west-1a',
    instanceId: 'i-0a1c3e5f7b9d24681',
  },
  disk: {
    name: 'ip-10-0-2-141.eu-west-1.compute.internal',
    ip: '10.0.2.141',
    zone: 'eu-west-1b',
    instanceId: 'i-0b2d4f6a8c0e13579',
  },
  spare: {
    name: 'ip-10-0-3-87.eu-west-1.compute.internal',
    ip: '10.0.3.87',
    zone: 'eu-west-1c',
    instanceId: 'i-0c3e5a7b9d1f24680',
  },
} as const satisfies Record<string, DemoNode>;
const NODES: DemoNode[] = Object.values(DEMO_NODES);

/** Memory the OS, kubelet and containerd use on every node, outside any pod. */
const SYSTEM_MEMORY_BYTES = 900 * MI;
/** The kubelet reports MemoryPressure below this much available memory (a soft eviction threshold). */
const MEMORY_PRESSURE_BELOW_BYTES = 1 * GI;
/** The leaking cart replica: started 6 days ago at 520 MiB, holds 14 GiB now. */
const LEAK_DAYS = 6;
const LEAK_START_BYTES = 520 * MI;
const LEAK_NOW_BYTES = 14 * GI;
/** ip-10-0-2-141's root filesystem: 50 GiB, 13.7% free, full in about 9 hours; journald holds 9.4 GiB. */
const DISK_SIZE_BYTES = 50 * GI;
const DISK_FREE_FRACTION = 0.137;
const DISK_FULL_IN_HOURS = 9;
const JOURNAL_BYTES = 9.4 * GI;
const ROTATED_LOG_BYTES = 310 * MI;
const UNUSED_IMAGE_BYTES = 3.1 * GI;
/** Alertmanager's group_interval, shortened: how long after an alert clears the resolved body is sent. */
const RESOLVE_DELAY_MS = 2_000;
/** SSM Run Command: an invocation is Pending, then InProgress, then done. */
const SSM_IN_PROGRESS_AFTER_MS = 300;
const SSM_DONE_AFTER_MS = 1_500;

export interface DemoScenario {
  id: 'memory-pressure' | 'crash-loop' | 'disk-filling';
  title: string;
  /** The runbook that should take it. */
  runbookId: string;
  /** What is going on, in a few lines for the terminal. */
  story: string[];
  /** The waits the runbook makes on the expected path, for the terminal. */
  waits: string;
  /** Their length in seconds as the runbook asks (before `--wait-scale`). */
  waitSeconds: number;
  /** The Alertmanager webhook v4 body as it is now (firing until the condition clears). */
  alert: AlertmanagerBody;
}

// ----------------------------------------------------------------------------------- wire shapes

export interface AlertmanagerAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface AlertmanagerBody {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: AlertmanagerAlert[];
}

export interface DemoTargetEndpoints {
  kubeApi: string;
  prometheus: string;
  /**
   * The AWS endpoint: SSM Run Command over AWS JSON 1.1. Every other AWS service's call gets an
   * UnknownOperation error in that service's protocol, so the demo points every AWS client here.
   */
  ssm: string;
  control: string;
  /** The kubeconfig file (context DEMO_CONTEXT) for the platform's Kubernetes tools. */
  kubeconfig: string;
}

export interface SsmRequest {
  at: string;
  /** The X-Amz-Target operation, e.g. SendCommand; `service:Action` for a service it does not simulate. */
  operation: string;
  body: unknown;
  status: number;
}

export interface AlertDelivery {
  at: string;
  alertname: string;
  fingerprint: string;
  status: 'firing' | 'resolved';
  url: string;
  /** HTTP status, or 0 when the request did not get an answer. */
  httpStatus: number;
  error?: string;
}

export interface DemoTargetRequests {
  kube: KubeRequest[];
  prometheus: PrometheusRequest[];
  ssm: SsmRequest[];
  alertmanager: AlertDelivery[];
}

export interface DemoTargetEvent {
  at: string;
  text: string;
}

// ------------------------------------------------------------------------------------ small helpers

const nowSeconds = () => Date.now() / 1_000;
const iso = (seconds: number) => new Date(seconds * 1_000).toISOString();

/** df -h style: powers of 1024, one decimal under 10. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${Math.round(value)}B`;
  return value < 10
    ? `${(Math.ceil(value * 10) / 10).toFixed(1)}${units[unit]}`
    : `${Math.ceil(value)}${units[unit]}`;
}

function gib(bytes: number): string {
  return `${(bytes / GI).toFixed(1)} GiB`;
}

function sizeArgument(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(text);
  if (!match) return Number.NaN;
  const power = { '': 0, K: 1, M: 2, G: 3, T: 4 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(match[1]) * 1024 ** power;
}

function durationSeconds(text: string): number {
  const units: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };
  const parts = [...text.matchAll(/(\d+)([smhdw])/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) return Number.NaN;
  return parts.reduce((total, part) => total + Number(part[1]) * units[part[2]!]!, 0);
}

function valueAt(value: FakeValue, time: number): number | null {
  return typeof value === 'function' ? value(time) : value;
}

function withoutName(labels: Record<string, string>): Record<string, string> {
  const { __name__: _name, ...rest } = labels;
  return rest;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const left = Object.entries(a).sort(([x], [y]) => (x < y ? -1 : 1));
  const right = Object.entries(b).sort(([x], [y]) => (x < y ? -1 : 1));
  return JSON.stringify(left) === JSON.stringify(right);
}

/** Least-squares line through a series' samples in (time - range, time], as deriv and predict_linear fit it. */
function linearFit(
  value: FakeValue,
  time: number,
  rangeSeconds: number,
): { slope: number; intercept: number } | null {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let t = time - rangeSeconds + SCRAPE_SECONDS; t <= time + 1e-9; t += SCRAPE_SECONDS) {
    const y = valueAt(value, t);
    if (y === null) continue;
    xs.push(t - time);
    ys.push(y);
  }
  if (xs.length < 2) return null;
  const n = xs.length;
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (let index = 0; index < n; index += 1) {
    covariance += (xs[index]! - meanX) * (ys[index]! - meanY);
    variance += (xs[index]! - meanX) ** 2;
  }
  const slope = covariance / variance;
  return { slope, intercept: meanY - slope * meanX };
}

function podKey(pod: V1Pod): string {
  return `${pod.metadata!.namespace}/${pod.metadata!.name}`;
}

function isCrashLooping(pod: V1Pod): boolean {
  return (pod.status?.containerStatuses ?? []).some(
    (status) => status.state?.waiting?.reason === 'CrashLoopBackOff',
  );
}

async function readBody(request: IncomingMessage, limit = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`the body is over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
}

// ------------------------------------------------------------------------------------- the models

/** A container whose working set grows at a steady rate since it started. */
interface MemoryLeak {
  pod: string;
  container: string;
  since: number;
  startBytes: number;
  bytesPerSecond: number;
}

/** A node filesystem whose free space falls as journald writes, and rises when something is deleted. */
class FilesystemModel {
  private readonly freed: Array<{ at: number; bytes: number }> = [];
  private journalRemoved = 0;

  constructor(
    readonly node: DemoNode,
    readonly device: string,
    readonly fstype: string,
    readonly mountpoint: string,
    readonly sizeBytes: number,
    /** Free bytes at `since`. */
    private readonly freeAtStart: number,
    /** Bytes per second the journal grows (0: a filesystem that is not filling). */
    readonly fillRate: number,
    private readonly since: number,
    private readonly journalAtStart: number,
    private rotatedLogs: number,
    private unusedImages: number,
  ) {}

  availAt(time: number): number {
    const freed = this.freed.filter((entry) => entry.at <= time).reduce((sum, entry) => sum + entry.bytes, 0);
    const avail = this.freeAtStart - this.fillRate * (time - this.since) + freed;
    return Math.max(0, Math.min(this.sizeBytes, Math.round(avail)));
  }

  journalBytes(time: number): number {
    return this.journalAtStart + this.fillRate * (time - this.since) - this.journalRemoved;
  }

  /** journalctl --vacuum-size: archived journal files go until the journal fits. */
  vacuumJournal(time: number, keepBytes: number): number {
    const removable = Math.max(0, this.journalBytes(time) - keepBytes);
    this.journalRemoved += removable;
    this.freed.push({ at: time, bytes: removable });
    return removable;
  }

  deleteRotatedLogs(time: number): number {
    const removed = this.rotatedLogs;
    this.rotatedLogs = 0;
    this.freed.push({ at: time, bytes: removed });
    return removed;
  }

  pruneImages(time: number): number {
    const removed = this.unusedImages;
    this.unusedImages = 0;
    this.freed.push({ at: time, bytes: removed });
    return removed;
  }

  freePercent(time: number): number {
    return (100 * this.availAt(time)) / this.sizeBytes;
  }

  get instance(): string {
    return `${this.node.ip}:9100`;
  }

  /** Images crictl lists: 41 in use plus the unused ones until pruned. */
  imageCount(): number {
    return 41 + (this.unusedImages > 0 ? 23 : 0);
  }
}

// ---------------------------------------------------------------------------- PromQL the runbooks send

const SELECTOR = String.raw`([a-zA-Z_:][a-zA-Z0-9_:]*\{[^{}]*\})`;
const SHAPES = {
  percentOf: new RegExp(String.raw`^100 \* ${SELECTOR} / ${SELECTOR}$`),
  hoursToFull: new RegExp(
    String.raw`^${SELECTOR} / clamp_min\(-deriv\(${SELECTOR}\[(\w+)\]\), ([\d.]+)\) / ([\d.]+)$`,
  ),
  predictLinear: new RegExp(String.raw`^predict_linear\(${SELECTOR}\[(\w+)\], ([\d\s*+.]+)\)$`),
  aggregate: new RegExp(String.raw`^(max|min|sum)\(${SELECTOR}\)$`),
  sumIncrease: new RegExp(String.raw`^sum\(increase\(${SELECTOR}\[(\w+)\]\)\)$`),
  maxByEqualsOne: new RegExp(String.raw`^max by \((\w+)\) \( ?${SELECTOR} == 1 ?\)$`),
  podOwner: /kube_pod_owner\{namespace="([^"]+)", pod="([^"]+)"/,
  nodeIdentity: /node_uname_info\{instance="([^"]+)"\}/,
};

function arithmetic(text: string): number {
  return text
    .split('+')
    .map((term) => term.split('*').reduce((product, factor) => product * Number(factor.trim()), 1))
    .reduce((sum, term) => sum + term, 0);
}

/**
 * Evaluates the queries of the shipped runbooks over the simulated series, with Prometheus' semantics
 * for these shapes (vector matching on identical labels, deriv and predict_linear by least squares,
 * increase of a counter, kube-state-metrics owner joins). Anything else falls through to FakePrometheus:
 * a bare selector selects series, other expressions answer an empty vector.
 */
class PromqlShapes {
  constructor(private readonly prometheus: FakePrometheus) {}

  /** Registers one answer slot that this evaluator fills for each query it recognises. */
  install(): void {
    const slot: FakeAnswer = { type: 'vector', series: [] };
    this.prometheus.answer((query) => {
      const answer = this.evaluate(query.replace(/\s+/g, ' ').trim());
      if (!answer) return false;
      for (const key of Object.keys(slot)) delete (slot as unknown as Record<string, unknown>)[key];
      Object.assign(slot, answer);
      return true;
    }, slot);
  }

  private select(selector: string): FakeSeries[] {
    const answer = this.prometheus.resolve(selector);
    return answer.type === 'vector' ? answer.series : [];
  }

  evaluate(query: string): FakeAnswer | undefined {
    let match = SHAPES.percentOf.exec(query);
    if (match) {
      const sizes = this.select(match[2]!);
      return this.vector(
        this.select(match[1]!).flatMap((avail) => {
          const size = sizes.find((candidate) =>
            sameLabels(withoutName(candidate.labels), withoutName(avail.labels)),
          );
          if (!size) return [];
          return [
            {
              labels: withoutName(avail.labels),
              value: (time: number) => {
                const a = valueAt(avail.value, time);
                const s = valueAt(size.value, time);
                return a === null || s === null || s === 0 ? null : (100 * a) / s;
              },
            },
          ];
        }),
      );
    }
    match = SHAPES.hoursToFull.exec(query);
    if (match) {
      const range = durationSeconds(match[3]!);
      const floor = Number(match[4]);
      const divisor = Number(match[5]);
      const fitted = this.select(match[2]!);
      return this.vector(
        this.select(match[1]!).flatMap((avail) => {
          const same = fitted.find((candidate) => sameLabels(candidate.labels, avail.labels));
          if (!same) return [];
          return [
            {
              labels: withoutName(avail.labels),
              value: (time: number) => {
                const a = valueAt(avail.value, time);
                const fit = linearFit(same.value, time, range);
                return a === null || !fit ? null : a / Math.max(-fit.slope, floor) / divisor;
              },
            },
          ];
        }),
      );
    }
    match = SHAPES.predictLinear.exec(query);
    if (match) {
      const range = durationSeconds(match[2]!);
      const ahead = arithmetic(match[3]!);
      return this.vector(
        this.select(match[1]!).map((series) => ({
          labels: withoutName(series.labels),
          value: (time: number) => {
            const fit = linearFit(series.value, time, range);
            return fit ? fit.intercept + fit.slope * ahead : null;
          },
        })),
      );
    }
    match = SHAPES.aggregate.exec(query);
    if (match) {
      const operation = match[1] as 'max' | 'min' | 'sum';
      const selected = this.select(match[2]!);
      if (selected.length === 0) return this.vector([]);
      return this.vector([
        {
          labels: {},
          value: (time: number) => {
            const values = selected
              .map((series) => valueAt(series.value, time))
              .filter((value): value is number => value !== null);
            if (values.length === 0) return null;
            if (operation === 'sum') return values.reduce((a, b) => a + b, 0);
            return operation === 'max' ? Math.max(...values) : Math.min(...values);
          },
        },
      ]);
    }
    match = SHAPES.sumIncrease.exec(query);
    if (match) {
      const range = durationSeconds(match[2]!);
      const selected = this.select(match[1]!);
      if (selected.length === 0) return this.vector([]);
      return this.vector([
        {
          labels: {},
          value: (time: number) =>
            selected.reduce((sum, series) => {
              const now = valueAt(series.value, time) ?? 0;
              const before = valueAt(series.value, time - range) ?? 0;
              return sum + Math.max(0, now - before);
            }, 0),
        },
      ]);
    }
    match = SHAPES.maxByEqualsOne.exec(query);
    if (match) {
      const by = match[1]!;
      const groups = new Map<string, FakeSeries[]>();
      for (const series of this.select(match[2]!)) {
        const key = series.labels[by] ?? '';
        groups.set(key, [...(groups.get(key) ?? []), series]);
      }
      return this.vector(
        [...groups.entries()].map(([key, members]) => ({
          labels: key ? { [by]: key } : {},
          value: (time: number) => (members.some((series) => valueAt(series.value, time) === 1) ? 1 : null),
        })),
      );
    }
    const owner = query.includes('kube_replicaset_owner') ? SHAPES.podOwner.exec(query) : null;
    if (owner) return this.vector(this.podOwner(owner[1]!, owner[2]!));
    const identity = query.includes('kube_node_info') ? SHAPES.nodeIdentity.exec(query) : null;
    if (identity) return this.vector(this.nodeIdentity(identity[1]!));
    return undefined;
  }

  private vector(series: FakeSeries[]): FakeAnswer {
    return { type: 'vector', series };
  }

  /** The top-level controller of a pod: through its ReplicaSet to the Deployment, or its direct owner. */
  private podOwner(namespace: string, pod: string): FakeSeries[] {
    const [owner] = this.select(`kube_pod_owner{namespace="${namespace}", pod="${pod}"}`);
    if (!owner) return [];
    const { owner_kind: kind, owner_name: name } = owner.labels;
    if (kind !== 'ReplicaSet')
      return [{ labels: { owner_kind: kind ?? '', owner_name: name ?? '' }, value: 1 }];
    const [replicaSet] = this.select(`kube_replicaset_owner{namespace="${namespace}", replicaset="${name}"}`);
    if (!replicaSet) return [];
    return [
      {
        labels: {
          owner_kind: replicaSet.labels.owner_kind ?? '',
          owner_name: replicaSet.labels.owner_name ?? '',
        },
        value: 1,
      },
    ];
  }

  /** kube_node_info joined to node_uname_info by internal IP or node name, with the EC2 instance id. */
  private nodeIdentity(instance: string): FakeSeries[] {
    const [uname] = this.select(`node_uname_info{instance="${instance}"}`);
    if (!uname) return [];
    const ip = instance.replace(/:\d+$/, '');
    const nodes = this.select('kube_node_info{}');
    const node =
      nodes.find((candidate) => candidate.labels.internal_ip === ip) ??
      nodes.find((candidate) => candidate.labels.node === uname.labels.nodename);
    if (!node) return [];
    const labels = withoutName(node.labels);
    const instanceId = /aws:\/\/\/[^/]+\/(i-[0-9a-f]+)/.exec(labels.provider_id ?? '')?.[1];
    return [{ labels: instanceId ? { ...labels, instance_id: instanceId } : labels, value: 1 }];
  }
}

// ------------------------------------------------------------------------------ the simulated cluster

interface SimulatedAlert {
  scenario: DemoScenario['id'];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  fingerprint: string;
  groupLabels: Record<string, string>;
  generatorURL: string;
  state: 'firing' | 'resolved';
  /** Whether the alerting rule's expression still holds. */
  holds: () => boolean;
  /** A resolved body waits for the receiver when none is set yet. */
  pendingResolved: boolean;
}

export interface DemoTargetOptions {
  /** Where the kubeconfig goes (created if missing). */
  dataDir: string;
  /** Where resolved alerts go (the platform's POST /webhooks/alertmanager); can be set later. */
  receiverUrl?: string;
  /** One line of narrative output. */
  print?: (line: string) => void;
  /** How often the kubelets, the controllers' statuses, the exporters and the alert rules catch up. */
  tickMs?: number;
}

export class DemoTarget {
  readonly events: DemoTargetEvent[] = [];
  readonly ssmRequests: SsmRequest[] = [];
  readonly deliveries: AlertDelivery[] = [];
  private readonly leaks: MemoryLeak[] = [];
  private readonly filesystems: FilesystemModel[] = [];
  private readonly alerts: SimulatedAlert[] = [];
  private readonly commands = new Map<string, SsmCommand>();
  private readonly memoryPressure = new Map<string, boolean>();
  private readonly managedMetrics = new Set<string>();
  private receiverUrl: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private crashStart = 0;
  private readonly pendingTimers = new Set<NodeJS.Timeout>();

  private constructor(
    readonly kube: FakeKubeApi,
    readonly prometheus: FakePrometheus,
    private readonly ssmServer: Server,
    private readonly controlServer: Server,
    readonly endpoints: DemoTargetEndpoints,
    private readonly print: (line: string) => void,
  ) {}

  static async start(options: DemoTargetOptions): Promise<DemoTarget> {
    const print = options.print ?? (() => {});
    const kube = await FakeKubeApi.start({ autoReconcile: true, user: 'demo-target:runbook-autopilot' });
    const prometheus = new FakePrometheus();
    const prometheusUrl = await prometheus.start();
    let target: DemoTarget | undefined;
    const ssmServer = createServer((request, response) => {
      target!.handleSsm(request, response).catch((error: unknown) => {
        if (!response.headersSent) ssmError(response, 500, 'InternalServerError', String(error));
      });
    });
    const controlServer = createServer((request, response) => {
      target!.handleControl(request, response).catch((error: unknown) => {
        if (!response.headersSent) sendJson(response, 500, { error: String(error) });
      });
    });
    const ssmUrl = await listen(ssmServer);
    const controlUrl = await listen(controlServer);
    mkdirSync(options.dataDir, { recursive: true });
    const kubeconfig = join(options.dataDir, 'demo-target-kubeconfig.json');
    writeFileSync(kubeconfig, kube.kubeConfig({ context: DEMO_CONTEXT }).exportConfig(), { mode: 0o600 });
    chmodSync(kubeconfig, 0o600);
    target = new DemoTarget(
      kube,
      prometheus,
      ssmServer,
      controlServer,
      { kubeApi: kube.url, prometheus: prometheusUrl, ssm: ssmUrl, control: controlUrl, kubeconfig },
      print,
    );
    target.receiverUrl = options.receiverUrl;
    target.seed();
    target.tick();
    target.timer = setInterval(() => target!.tick(), options.tickMs ?? 500);
    return target;
  }

  /** The one line that says what this is and where it listens. */
  banner(): string {
    const { kubeApi, prometheus, ssm, control, kubeconfig } = this.endpoints;
    return `DEMO TARGET (simulated environment, nothing real is touched): kubernetes-api ${kubeApi}  prometheus ${prometheus}  ssm ${ssm}  control ${control}  kubeconfig ${kubeconfig}`;
  }

  setReceiver(url: string): void {
    this.receiverUrl = url;
    for (const alert of this.alerts) {
      if (alert.pendingResolved) {
        alert.pendingResolved = false;
        void this.deliver(alert);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const timer of this.pendingTimers) clearTimeout(timer);
    await Promise.all([
      this.kube.stop(),
      this.prometheus.stop(),
      close(this.ssmServer),
      close(this.controlServer),
    ]);
  }

  private note(text: string): void {
    this.events.push({ at: new Date().toISOString(), text });
    this.print(text);
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.pendingTimers.delete(timer);
      if (!this.stopped) run();
    }, ms);
    this.pendingTimers.add(timer);
  }

  // ------------------------------------------------------------------------------------- seeding

  private seed(): void {
    const { kube } = this;
    const now = nowSeconds();
    for (const node of NODES) {
      kube.addNode({
        name: node.name,
        capacity: { cpu: '4', memory: '16Gi', pods: '58', 'ephemeral-storage': '50Gi' },
        labels: {
          'topology.kubernetes.io/zone': node.zone,
          'topology.kubernetes.io/region': DEMO_REGION,
          'node.kubernetes.io/instance-type': 'm6i.xlarge',
          'eks.amazonaws.com/nodegroup': 'general-purpose',
          'demo.runbook-autopilot/target': 'true',
        },
      });
      kube.edit(kube.nodes, node.name, (object: V1Node) => {
        object.spec = { ...object.spec, providerID: `aws:///${node.zone}/${node.instanceId}` };
        object.status = {
          ...object.status,
          addresses: [
            { type: 'InternalIP', address: node.ip },
            { type: 'InternalDNS', address: node.name },
            { type: 'Hostname', address: node.name },
          ],
        };
      });
    }
    const everyNode = NODES.map((node) => node.name);
    kube.addDaemonSet({
      namespace: 'kube-system',
      name: 'kube-proxy',
      labels: { 'k8s-app': 'kube-proxy' },
      containers: [
        {
          name: 'kube-proxy',
          requests: { cpu: '100m', memory: '40Mi' },
          usage: { cpu: '3m', memory: '38Mi' },
        },
      ],
    });
    kube.addDaemonSet({
      namespace: 'kube-system',
      name: 'aws-node',
      labels: { 'k8s-app': 'aws-node' },
      containers: [
        { name: 'aws-node', requests: { cpu: '25m', memory: '64Mi' }, usage: { cpu: '4m', memory: '66Mi' } },
      ],
    });
    kube.addDaemonSet({
      namespace: 'monitoring',
      name: 'node-exporter',
      labels: { 'app.kubernetes.io/name': 'prometheus-node-exporter' },
      containers: [
        {
          name: 'node-exporter',
          requests: { cpu: '10m', memory: '32Mi' },
          usage: { cpu: '2m', memory: '24Mi' },
        },
      ],
    });
    kube.addDeployment({
      namespace: 'monitoring',
      name: 'kube-state-metrics',
      replicas: 1,
      nodes: [DEMO_NODES.spare.name],
      labels: { 'app.kubernetes.io/name': 'kube-state-metrics' },
      containers: [
        {
          name: 'kube-state-metrics',
          requests: { cpu: '10m', memory: '64Mi' },
          usage: { cpu: '5m', memory: '58Mi' },
        },
      ],
    });
    // cart: no memory limit, and a session cache that never evicts.
    kube.addDeployment({
      namespace: 'shop',
      name: 'cart',
      replicas: 3,
      nodes: everyNode,
      containers: [
        {
          name: 'cart',
          image: 'registry.example.com/shop/cart:2.14.0',
          requests: { cpu: '250m', memory: '512Mi' },
          limits: { cpu: '1' },
          usage: { cpu: '180m', memory: '1100Mi' },
        },
      ],
    });
    kube.addPdb({ namespace: 'shop', name: 'cart', matchLabels: { app: 'cart' }, maxUnavailable: 1 });
    kube.addDeployment({
      namespace: 'shop',
      name: 'checkout',
      replicas: 3,
      nodes: everyNode,
      containers: [
        {
          name: 'checkout',
          image: 'registry.example.com/shop/checkout:3.18.2',
          requests: { cpu: '200m', memory: '384Mi' },
          limits: { cpu: '1', memory: '768Mi' },
          usage: { cpu: '120m', memory: '400Mi' },
        },
      ],
    });
    kube.addPdb({ namespace: 'shop', name: 'checkout', matchLabels: { app: 'checkout' }, minAvailable: 2 });
    kube.addDeployment({
      namespace: 'shop',
      name: 'frontend',
      replicas: 2,
      nodes: [DEMO_NODES.disk.name, DEMO_NODES.spare.name],
      containers: [
        {
          name: 'frontend',
          image: 'registry.example.com/shop/frontend:5.2.1',
          requests: { cpu: '100m', memory: '256Mi' },
          usage: { cpu: '60m', memory: '210Mi' },
        },
      ],
    });
    kube.addPdb({ namespace: 'shop', name: 'frontend', matchLabels: { app: 'frontend' }, minAvailable: 1 });

    // The cart replica on the memory node has leaked for six days.
    const leaking = this.podOn('shop', 'cart', DEMO_NODES.memory.name);
    const since = now - LEAK_DAYS * 86_400;
    kube.edit(kube.pods, podKey(leaking), (pod) => {
      pod.metadata!.creationTimestamp = new Date(since * 1_000);
      pod.status!.startTime = new Date(since * 1_000);
    });
    this.leaks.push({
      pod: podKey(leaking),
      container: 'cart',
      since,
      startBytes: LEAK_START_BYTES,
      bytesPerSecond: (LEAK_NOW_BYTES - LEAK_START_BYTES) / (now - since),
    });

    // One checkout replica crashes at start: its emptyDir cache file was cut short.
    this.crashStart = now - 70 * 60;
    const crashing = this.podOn('shop', 'checkout', DEMO_NODES.spare.name);
    kube.edit(kube.pods, podKey(crashing), (pod) => {
      const at = new Date();
      pod.status!.conditions = (pod.status!.conditions ?? []).map((condition) =>
        condition.type === 'Ready' || condition.type === 'ContainersReady'
          ? { ...condition, status: 'False', reason: 'ContainersNotReady', lastTransitionTime: at }
          : condition,
      );
      pod.status!.containerStatuses = (pod.status!.containerStatuses ?? []).map((status) => ({
        ...status,
        ready: false,
        started: false,
        restartCount: this.restartsAt(now),
        state: {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off 5m0s restarting failed container=checkout pod=${pod.metadata!.name}_shop(${pod.metadata!.uid})`,
          },
        },
        lastState: {
          terminated: {
            exitCode: 1,
            reason: 'Error',
            startedAt: new Date(at.getTime() - 2_400),
            finishedAt: new Date(at.getTime() - 900),
          },
        },
      }));
    });
    kube.setPodUsage('shop', crashing.metadata!.name!, 'checkout', { cpu: '1m', memory: '12Mi' });
    const started = (offset: number) => iso(now - 140 + offset).replace(/\.\d+Z$/, 'Z');
    kube.setPodLog('shop', crashing.metadata!.name!, 'checkout', {
      current: '',
      previous: [
        `${started(0)} INFO  checkout 3.18.2 starting (build 7c1e9a4)`,
        `${started(0.2)} INFO  connecting to payments at payments.shop.svc:8443`,
        `${started(0.4)} INFO  loading catalog cache /var/cache/checkout/catalog.bin`,
        `${started(1.3)} ERROR catalog cache /var/cache/checkout/catalog.bin: unexpected EOF after 48201216 of 61440000 bytes (file truncated)`,
        `${started(1.3)} FATAL cannot serve without a catalog cache; exiting with status 1`,
        '',
      ].join('\n'),
    });
    kube.reconcile();

    for (const node of NODES) {
      const filling = node === DEMO_NODES.disk;
      const free = filling ? DISK_FREE_FRACTION * DISK_SIZE_BYTES : 0.71 * DISK_SIZE_BYTES;
      this.filesystems.push(
        new FilesystemModel(
          node,
          '/dev/nvme0n1p1',
          'xfs',
          '/',
          DISK_SIZE_BYTES,
          free,
          filling ? free / (DISK_FULL_IN_HOURS * 3_600) : 0,
          now,
          filling ? JOURNAL_BYTES : 0.6 * GI,
          filling ? ROTATED_LOG_BYTES : 40 * MI,
          filling ? UNUSED_IMAGE_BYTES : 0.4 * GI,
        ),
      );
    }

    this.describeMetrics();
    new PromqlShapes(this.prometheus).install();
    this.kube.onRequest = (request) => this.onKubeRequest(request);
    this.seedAlerts(now);
  }

  private podOn(namespace: string, app: string, node: string): V1Pod {
    const pod = this.kube
      .podsMatching(namespace, { matchLabels: { app } })
      .find((candidate) => candidate.spec?.nodeName === node);
    if (!pod) throw new Error(`demo target: no ${namespace}/${app} pod on ${node}`);
    return pod;
  }

  /** CrashLoopBackOff restarts a crashing container about every five minutes. */
  private restartsAt(time: number): number {
    return time < this.crashStart ? 0 : 1 + Math.floor((time - this.crashStart) / 300);
  }

  // ---------------------------------------------------------------------------- the simulation tick

  /** What kubelets, metrics-server, the exporters and Prometheus' rule evaluation do, every tick. */
  tick(): void {
    if (this.stopped) return;
    const now = nowSeconds();
    const { kube } = this;
    for (const leak of this.leaks) {
      const [namespace, name] = leak.pod.split('/') as [string, string];
      if (!kube.pods.has(leak.pod)) continue;
      kube.setPodUsage(namespace, name, leak.container, {
        cpu: '210m',
        memory: `${Math.round(this.leakBytes(leak, now) / 1024)}Ki`,
      });
    }
    for (const pod of kube.pods.values()) {
      if (!isCrashLooping(pod)) continue;
      for (const status of pod.status?.containerStatuses ?? []) status.restartCount = this.restartsAt(now);
    }
    for (const node of NODES) {
      const used = this.nodeMemoryAt(node.name, now);
      const cpu = this.podsOn(node.name).reduce((sum, pod) => sum + this.podCpu(pod), 0.35);
      kube.setNodeUsage(node.name, {
        cpu: `${Math.round(cpu * 1000)}m`,
        memory: `${Math.round(used / 1024)}Ki`,
      });
      const pressure = 16 * GI - used < MEMORY_PRESSURE_BELOW_BYTES;
      this.setMemoryPressure(node.name, pressure, used);
    }
    this.refreshSeries();
    this.evaluateAlerts();
  }

  private leakBytes(leak: MemoryLeak, time: number): number {
    return Math.round(leak.startBytes + leak.bytesPerSecond * (time - leak.since));
  }

  private podsOn(node: string): V1Pod[] {
    return [...this.kube.pods.values()].filter(
      (pod) => pod.spec?.nodeName === node && pod.status?.phase === 'Running',
    );
  }

  private podCpu(pod: V1Pod): number {
    const usage = this.kube.podUsage.get(podKey(pod));
    return [...(usage?.values() ?? [])].reduce((sum, amounts) => sum + parseQuantity(amounts.cpu), 0);
  }

  /** A container's working set at a time: the leak's line, else what metrics-server reports now. */
  private containerMemory(pod: V1Pod, container: string): FakeValue {
    const key = podKey(pod);
    const leak = this.leaks.find((candidate) => candidate.pod === key && candidate.container === container);
    const created = new Date(pod.metadata?.creationTimestamp ?? Date.now()).getTime() / 1_000;
    if (leak) return (time) => (time < leak.since ? null : this.leakBytes(leak, time));
    const bytes = parseQuantity(this.kube.podUsage.get(key)?.get(container)?.memory ?? '0');
    return (time) => (time < created - 1 ? null : bytes);
  }

  private nodeMemoryAt(node: string, time: number): number {
    let total = SYSTEM_MEMORY_BYTES;
    for (const pod of this.podsOn(node)) {
      for (const container of pod.spec?.containers ?? []) {
        total += valueAt(this.containerMemory(pod, container.name), time) ?? 0;
      }
    }
    return total;
  }

  private setMemoryPressure(name: string, pressure: boolean, used: number): void {
    const before = this.memoryPressure.get(name);
    this.memoryPressure.set(name, pressure);
    this.kube.edit(this.kube.nodes, name, (node) => {
      const at = new Date();
      node.status!.conditions = (node.status!.conditions ?? []).map((condition) => {
        if (condition.type !== 'MemoryPressure') return condition;
        const status = pressure ? 'True' : 'False';
        return {
          ...condition,
          status,
          lastHeartbeatTime: at,
          ...(condition.status === status
            ? {}
            : {
                lastTransitionTime: at,
                reason: pressure ? 'KubeletHasInsufficientMemory' : 'KubeletHasSufficientMemory',
                message: pressure
                  ? 'kubelet has insufficient memory available'
                  : 'kubelet has sufficient memory available',
              }),
        };
      });
    });
    if (before === true && !pressure)
      this.note(`kubelet on ${name}: MemoryPressure cleared (${gib(used)} of 16 GiB in use)`);
  }

  private onKubeRequest(request: KubeRequest): void {
    if (request.query.dryRun === 'All') return;
    const restart = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)$/.exec(request.path);
    if (request.method === 'PATCH' && restart) {
      this.note(
        `kubernetes-api: PATCH deployment ${restart[1]}/${restart[2]} (rollout restart): the Deployment controller replaces its pods`,
      );
    }
    const eviction = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/.exec(request.path);
    if (request.method === 'POST' && eviction) {
      this.note(
        `kubernetes-api: eviction of ${eviction[1]}/${eviction[2]}: its ReplicaSet starts a replacement`,
      );
    }
    const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(request.path);
    if (request.method === 'PATCH' && node) {
      const unschedulable = (request.body as { spec?: { unschedulable?: boolean } } | undefined)?.spec
        ?.unschedulable;
      this.note(`kubernetes-api: node ${node[1]} ${unschedulable ? 'cordoned' : 'made schedulable'}`);
    }
    // The controllers ran when the request was answered; the kubelets and exporters catch up now.
    if (request.method !== 'GET') setImmediate(() => this.tick());
  }

  // ----------------------------------------------------------------------------------- the series

  private describeMetrics(): void {
    const help: Array<[string, 'gauge' | 'counter', string]> = [
      ['demo_target_info', 'gauge', 'This Prometheus is the runbook-autopilot DEMO TARGET: simulated data.'],
      ['up', 'gauge', 'Whether the scrape target answered.'],
      ['node_uname_info', 'gauge', 'Labeled system information as provided by the uname system call.'],
      ['node_filesystem_avail_bytes', 'gauge', 'Filesystem space available to non-root users in bytes.'],
      ['node_filesystem_size_bytes', 'gauge', 'Filesystem size in bytes.'],
      ['node_filesystem_readonly', 'gauge', 'Filesystem read-only status.'],
      ['node_memory_MemTotal_bytes', 'gauge', 'Memory information field MemTotal_bytes.'],
      ['node_memory_MemAvailable_bytes', 'gauge', 'Memory information field MemAvailable_bytes.'],
      ['kube_node_info', 'gauge', 'Information about a cluster node.'],
      ['kube_node_status_condition', 'gauge', 'The condition of a cluster node.'],
      ['kube_node_spec_unschedulable', 'gauge', 'Whether a node can schedule new pods.'],
      ['kube_pod_info', 'gauge', 'Information about pod.'],
      ['kube_pod_owner', 'gauge', "Information about the Pod's owner."],
      ['kube_replicaset_owner', 'gauge', "Information about the ReplicaSet's owner."],
      [
        'kube_pod_container_status_restarts_total',
        'counter',
        'The number of container restarts per container.',
      ],
      [
        'kube_pod_container_status_waiting_reason',
        'gauge',
        'Describes the reason the container is currently in waiting state.',
      ],
      [
        'kube_pod_container_status_last_terminated_reason',
        'gauge',
        'Describes the last reason the container was in terminated state.',
      ],
      ['kube_deployment_spec_replicas', 'gauge', 'Number of desired pods for a deployment.'],
      [
        'kube_deployment_status_replicas_available',
        'gauge',
        'The number of available replicas per deployment.',
      ],
      ['container_memory_working_set_bytes', 'gauge', 'Current working set of the container in bytes.'],
    ];
    for (const [name, type, text] of help) this.prometheus.describeMetric(name, { type, help: text });
  }

  private metric(name: string, labels: Record<string, string>, value: FakeValue): void {
    this.prometheus.setMetric(name, labels, value);
    this.managedMetrics.add(name);
  }

  /** Rebuilds every series from the cluster and the filesystems (values are functions of time). */
  private refreshSeries(): void {
    for (const name of this.managedMetrics) this.prometheus.removeMetric(name);
    const { kube } = this;
    const ksm = { job: 'kube-state-metrics', instance: KSM_INSTANCE };
    this.metric(
      'demo_target_info',
      { cluster: DEMO_CLUSTER, environment: DEMO_ENVIRONMENT, simulated: 'true' },
      1,
    );
    this.metric('up', { ...ksm }, 1);
    for (const node of NODES) {
      const object = kube.nodes.get(node.name)!;
      const exporter = { job: 'node-exporter', instance: `${node.ip}:9100` };
      this.metric('up', exporter, 1);
      this.metric(
        'up',
        { job: 'kubelet', instance: `${node.ip}:10250`, metrics_path: '/metrics/cadvisor', node: node.name },
        1,
      );
      this.metric(
        'node_uname_info',
        {
          ...exporter,
          domainname: '(none)',
          machine: 'x86_64',
          nodename: node.name,
          release: '6.1.112-124.190.amzn2023.x86_64',
          sysname: 'Linux',
          version: '#1 SMP PREEMPT_DYNAMIC Tue Oct 29 18:21:54 UTC 2024',
        },
        1,
      );
      this.metric('node_memory_MemTotal_bytes', exporter, 16 * GI);
      this.metric(
        'node_memory_MemAvailable_bytes',
        exporter,
        (time) => 16 * GI - this.nodeMemoryAt(node.name, time),
      );
      const info = object.status?.nodeInfo;
      this.metric(
        'kube_node_info',
        {
          ...ksm,
          node: node.name,
          internal_ip: node.ip,
          provider_id: object.spec?.providerID ?? '',
          kernel_version: info?.kernelVersion ?? '',
          kubelet_version: info?.kubeletVersion ?? '',
          kubeproxy_version: info?.kubeProxyVersion ?? '',
          os_image: info?.osImage ?? '',
          container_runtime_version: info?.containerRuntimeVersion ?? '',
          system_uuid: info?.systemUUID ?? '',
        },
        1,
      );
      for (const condition of object.status?.conditions ?? []) {
        for (const status of ['true', 'false', 'unknown']) {
          this.metric(
            'kube_node_status_condition',
            { ...ksm, node: node.name, condition: condition.type, status },
            condition.status.toLowerCase() === status ? 1 : 0,
          );
        }
      }
      this.metric(
        'kube_node_spec_unschedulable',
        { ...ksm, node: node.name },
        object.spec?.unschedulable ? 1 : 0,
      );
    }
    for (const filesystem of this.filesystems) {
      const labels = {
        job: 'node-exporter',
        instance: filesystem.instance,
        device: filesystem.device,
        fstype: filesystem.fstype,
        mountpoint: filesystem.mountpoint,
      };
      this.metric('node_filesystem_avail_bytes', labels, (time) => filesystem.availAt(time));
      this.metric('node_filesystem_size_bytes', labels, filesystem.sizeBytes);
      this.metric('node_filesystem_readonly', labels, 0);
    }
    for (const replicaSet of kube.replicaSets.values()) {
      const owner = replicaSet.metadata?.ownerReferences?.[0];
      this.metric(
        'kube_replicaset_owner',
        {
          ...ksm,
          namespace: replicaSet.metadata!.namespace!,
          replicaset: replicaSet.metadata!.name!,
          owner_kind: owner?.kind ?? '<none>',
          owner_name: owner?.name ?? '<none>',
          owner_is_controller: owner?.controller ? 'true' : 'false',
        },
        1,
      );
    }
    for (const deployment of kube.deployments.values()) {
      const labels = {
        ...ksm,
        namespace: deployment.metadata!.namespace!,
        deployment: deployment.metadata!.name!,
      };
      this.metric('kube_deployment_spec_replicas', labels, deployment.spec?.replicas ?? 1);
      this.metric(
        'kube_deployment_status_replicas_available',
        labels,
        deployment.status?.availableReplicas ?? 0,
      );
    }
    for (const pod of kube.pods.values()) {
      const namespace = pod.metadata!.namespace!;
      const name = pod.metadata!.name!;
      const uid = pod.metadata!.uid!;
      const owner = pod.metadata?.ownerReferences?.[0];
      this.metric(
        'kube_pod_owner',
        {
          ...ksm,
          namespace,
          pod: name,
          uid,
          owner_kind: owner?.kind ?? '<none>',
          owner_name: owner?.name ?? '<none>',
          owner_is_controller: owner?.controller ? 'true' : 'false',
        },
        1,
      );
      this.metric(
        'kube_pod_info',
        {
          ...ksm,
          namespace,
          pod: name,
          uid,
          node: pod.spec?.nodeName ?? '',
          host_ip: NODES.find((node) => node.name === pod.spec?.nodeName)?.ip ?? '',
          pod_ip: pod.status?.podIP ?? '',
          created_by_kind: owner?.kind ?? '<none>',
          created_by_name: owner?.name ?? '<none>',
        },
        1,
      );
      for (const status of pod.status?.containerStatuses ?? []) {
        const container = { ...ksm, namespace, pod: name, uid, container: status.name };
        const crashing = status.state?.waiting?.reason === 'CrashLoopBackOff';
        this.metric(
          'kube_pod_container_status_restarts_total',
          container,
          crashing ? (time) => this.restartsAt(time) : status.restartCount,
        );
        if (status.state?.waiting?.reason)
          this.metric(
            'kube_pod_container_status_waiting_reason',
            { ...container, reason: status.state.waiting.reason },
            1,
          );
        if (status.lastState?.terminated?.reason)
          this.metric(
            'kube_pod_container_status_last_terminated_reason',
            { ...container, reason: status.lastState.terminated.reason },
            1,
          );
      }
      if (pod.status?.phase !== 'Running') continue;
      for (const container of pod.spec?.containers ?? []) {
        this.metric(
          'container_memory_working_set_bytes',
          {
            job: 'kubelet',
            metrics_path: '/metrics/cadvisor',
            instance: `${NODES.find((node) => node.name === pod.spec?.nodeName)?.ip ?? ''}:10250`,
            node: pod.spec?.nodeName ?? '',
            namespace,
            pod: name,
            container: container.name,
            image: container.image ?? '',
          },
          this.containerMemory(pod, container.name),
        );
      }
    }
  }

  // ------------------------------------------------------------------------------ the alertmanager

  private seedAlerts(now: number): void {
    const prometheus = this.endpoints.prometheus;
    const generator = (expr: string) => `${prometheus}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`;
    const common = {
      cluster: DEMO_CLUSTER,
      environment: DEMO_ENVIRONMENT,
      prometheus: 'monitoring/kube-prometheus-stack-prometheus',
    };
    const ksm = {
      container: 'kube-state-metrics',
      endpoint: 'http',
      instance: KSM_INSTANCE,
      job: 'kube-state-metrics',
      service: 'kube-prometheus-stack-kube-state-metrics',
    };
    const ksmPod = this.kube.podsMatching('monitoring', {
      matchLabels: { 'app.kubernetes.io/name': 'kube-state-metrics' },
    })[0];
    const memoryNode = DEMO_NODES.memory.name;
    const crashing = this.podOn('shop', 'checkout', DEMO_NODES.spare.name);
    const disk = this.filesystems.find((filesystem) => filesystem.node === DEMO_NODES.disk)!;
    const exporterPod = this.kube
      .podsMatching('monitoring', { matchLabels: { 'app.kubernetes.io/name': 'prometheus-node-exporter' } })
      .find((pod) => pod.spec?.nodeName === DEMO_NODES.disk.name);
    const add = (
      scenario: DemoScenario['id'],
      labels: Record<string, string>,
      annotations: Record<string, string>,
      groupBy: string[],
      minutesAgo: number,
      expr: string,
      holds: () => boolean,
    ) => {
      this.alerts.push({
        scenario,
        labels,
        annotations,
        startsAt: iso(now - minutesAgo * 60),
        fingerprint: prometheusFingerprint(labels),
        groupLabels: Object.fromEntries(groupBy.map((name) => [name, labels[name] ?? ''])),
        generatorURL: generator(expr),
        state: 'firing',
        holds,
        pendingResolved: false,
      });
    };
    add(
      'memory-pressure',
      {
        alertname: 'KubeNodeMemoryPressure',
        ...common,
        ...ksm,
        condition: 'MemoryPressure',
        namespace: 'monitoring',
        node: memoryNode,
        pod: ksmPod?.metadata?.name ?? 'kube-state-metrics',
        severity: 'critical',
        status: 'true',
      },
      {
        description: `Node ${memoryNode} on cluster ${DEMO_CLUSTER} reports MemoryPressure; the kubelet evicts pods until it clears.`,
        runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubenodememorypressure',
        summary: `Node ${memoryNode} has memory pressure.`,
      },
      ['alertname', 'cluster'],
      5,
      'kube_node_status_condition{condition="MemoryPressure",job="kube-state-metrics",status="true"} == 1',
      () => this.memoryPressure.get(memoryNode) === true,
    );
    const crashPod = crashing.metadata!.name!;
    add(
      'crash-loop',
      {
        alertname: 'KubePodCrashLooping',
        ...common,
        ...ksm,
        container: 'checkout',
        namespace: 'shop',
        pod: crashPod,
        reason: 'CrashLoopBackOff',
        severity: 'warning',
        uid: crashing.metadata!.uid!,
      },
      {
        description: `Pod shop/${crashPod} (checkout) is in waiting state (reason: "CrashLoopBackOff") on cluster ${DEMO_CLUSTER}.`,
        runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping',
        summary: 'Pod is crash looping.',
      },
      ['alertname', 'namespace'],
      12,
      'max_over_time(kube_pod_container_status_waiting_reason{job="kube-state-metrics",reason="CrashLoopBackOff"}[5m]) >= 1',
      () => {
        const pod = this.kube.pods.get(`shop/${crashPod}`);
        return pod !== undefined && isCrashLooping(pod);
      },
    );
    const free = disk.freePercent(now).toFixed(2);
    add(
      'disk-filling',
      {
        alertname: 'NodeFilesystemSpaceFillingUp',
        ...common,
        container: 'node-exporter',
        device: disk.device,
        endpoint: 'http-metrics',
        fstype: disk.fstype,
        instance: disk.instance,
        job: 'node-exporter',
        mountpoint: disk.mountpoint,
        namespace: 'monitoring',
        pod: exporterPod?.metadata?.name ?? 'node-exporter',
        service: 'kube-prometheus-stack-prometheus-node-exporter',
        severity: 'warning',
      },
      {
        description: `Filesystem on ${disk.device}, mounted on ${disk.mountpoint}, at ${disk.instance} has only ${free}% available space left and is filling up.`,
        runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/node/nodefilesystemspacefillingup',
        summary: 'Filesystem is predicted to run out of space within the next 24 hours.',
      },
      ['alertname', 'instance'],
      9,
      '(node_filesystem_avail_bytes{fstype!="",job="node-exporter",mountpoint!=""} / node_filesystem_size_bytes{fstype!="",job="node-exporter",mountpoint!=""} * 100 < 15 and predict_linear(node_filesystem_avail_bytes{fstype!="",job="node-exporter",mountpoint!=""}[6h], 24 * 60 * 60) < 0 and node_filesystem_readonly{fstype!="",job="node-exporter",mountpoint!=""} == 0)',
      () => {
        const time = nowSeconds();
        const fit = linearFit((t) => disk.availAt(t), time, 6 * 3_600);
        return disk.freePercent(time) < 15 && fit !== null && fit.intercept + fit.slope * 86_400 < 0;
      },
    );
  }

  /** The webhook v4 body Alertmanager sends for one alert's group. */
  alertBody(alert: SimulatedAlert): AlertmanagerBody {
    const groupKey = `{}/{severity=~"critical|warning"}:{${Object.entries(alert.groupLabels)
      .map(([name, value]) => `${name}="${value}"`)
      .join(', ')}}`;
    return {
      version: '4',
      groupKey,
      truncatedAlerts: 0,
      status: alert.state,
      receiver: 'runbook-autopilot',
      groupLabels: { ...alert.groupLabels },
      commonLabels: { ...alert.labels },
      commonAnnotations: { ...alert.annotations },
      externalURL: `${this.endpoints.control}/alertmanager`,
      alerts: [
        {
          status: alert.state,
          labels: { ...alert.labels },
          annotations: { ...alert.annotations },
          startsAt: alert.startsAt,
          endsAt: alert.endsAt ?? '0001-01-01T00:00:00Z',
          generatorURL: alert.generatorURL,
          fingerprint: alert.fingerprint,
        },
      ],
    };
  }

  private evaluateAlerts(): void {
    for (const alert of this.alerts) {
      if (alert.state !== 'firing' || alert.holds()) continue;
      alert.state = 'resolved';
      alert.endsAt = new Date().toISOString();
      this.note(
        `alert rule: ${alert.labels.alertname} no longer holds; Alertmanager sends "resolved" after its group interval`,
      );
      this.later(RESOLVE_DELAY_MS, () => {
        if (this.receiverUrl) void this.deliver(alert);
        else alert.pendingResolved = true;
      });
    }
  }

  /** POSTs the alert's body to the receiver, retrying as Alertmanager does when it gets no 2xx. */
  private async deliver(alert: SimulatedAlert, attempt = 1): Promise<void> {
    const url = this.receiverUrl;
    if (!url || this.stopped) return;
    const body = this.alertBody(alert);
    const delivery: AlertDelivery = {
      at: new Date().toISOString(),
      alertname: alert.labels.alertname ?? '',
      fingerprint: alert.fingerprint,
      status: body.status,
      url,
      httpStatus: 0,
    };
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Alertmanager/0.27.0 (demo target)' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      delivery.httpStatus = response.status;
      await response.arrayBuffer();
    } catch (error) {
      delivery.error = (error as Error).message;
    }
    this.deliveries.push(delivery);
    this.note(
      `alertmanager: POST ${url} ${body.status} ${delivery.alertname} → ${delivery.httpStatus || delivery.error}`,
    );
    const failed = delivery.httpStatus < 200 || delivery.httpStatus >= 300;
    if (failed && attempt < 5) this.later(1_000 * 2 ** attempt, () => void this.deliver(alert, attempt + 1));
  }

  scenarios(): DemoScenario[] {
    const alertOf = (id: DemoScenario['id']) => this.alerts.find((alert) => alert.scenario === id)!;
    const memory = alertOf('memory-pressure');
    const crash = alertOf('crash-loop');
    const disk = alertOf('disk-filling');
    const diskModel = this.filesystems.find((filesystem) => filesystem.node === DEMO_NODES.disk)!;
    const now = nowSeconds();
    return [
      {
        id: 'memory-pressure',
        title: `KubeNodeMemoryPressure on ${DEMO_NODES.memory.name}`,
        runbookId: 'node-memory-pressure',
        story: [
          `cart keeps every session in a cache that never evicts, and it has no memory limit: its replica on`,
          `${DEMO_NODES.memory.name} holds ${gib(LEAK_NOW_BYTES)} after ${LEAK_DAYS} days and the kubelet reports MemoryPressure.`,
          'A rolling restart gives cart fresh pods (the leak itself needs a fix and a limit).',
        ],
        waits: 'the runbook lets the new pods settle for 60 s (wait-for-rollout) before it verifies',
        waitSeconds: 60,
        alert: this.alertBody(memory),
      },
      {
        id: 'crash-loop',
        title: `KubePodCrashLooping shop/${crash.labels.pod}`,
        runbookId: 'pod-crash-looping',
        story: [
          'One of three checkout replicas crashes at start: the catalog cache in its emptyDir volume was',
          'cut short by an interrupted write, and it exits reading it. The other two serve. A new pod gets an',
          'empty volume and rebuilds the cache, so replacing that one pod is the fix.',
        ],
        waits:
          'the runbook gives the replacement pod 180 s (wait-for-replacement) before it checks the workload',
        waitSeconds: 180,
        alert: this.alertBody(crash),
      },
      {
        id: 'disk-filling',
        title: `NodeFilesystemSpaceFillingUp ${disk.labels.instance} ${disk.labels.mountpoint}`,
        runbookId: 'node-filesystem-filling',
        story: [
          `A debug log level left on floods journald on ${DEMO_NODES.disk.name}: the journal holds`,
          `${gib(diskModel.journalBytes(now))} and / has ${diskModel.freePercent(now).toFixed(1)}% free, full in about ${DISK_FULL_IN_HOURS} hours.`,
          `The runbook vacuums the journal over SSM Run Command on ${DEMO_NODES.disk.instanceId}.`,
        ],
        waits: 'the runbook waits 90 s (settle-after-routine) for node-exporter to see the new free space',
        waitSeconds: 90,
        alert: this.alertBody(disk),
      },
    ];
  }

  /** Where the simulated environment stands, for the control endpoint. */
  state() {
    const now = nowSeconds();
    return {
      nodes: NODES.map((node) => ({
        name: node.name,
        instanceId: node.instanceId,
        memoryUsedBytes: this.nodeMemoryAt(node.name, now),
        memoryPressure: this.memoryPressure.get(node.name) ?? false,
        unschedulable: this.kube.nodes.get(node.name)?.spec?.unschedulable === true,
      })),
      crashLoopingPods: [...this.kube.pods.values()].filter(isCrashLooping).map(podKey),
      filesystems: this.filesystems.map((filesystem) => ({
        instance: filesystem.instance,
        mountpoint: filesystem.mountpoint,
        freePercent: Math.round(filesystem.freePercent(now) * 100) / 100,
        journalBytes: Math.round(filesystem.journalBytes(now)),
      })),
      alerts: this.alerts.map((alert) => ({
        alertname: alert.labels.alertname,
        fingerprint: alert.fingerprint,
        state: alert.state,
        startsAt: alert.startsAt,
        ...(alert.endsAt ? { endsAt: alert.endsAt } : {}),
      })),
    };
  }

  requests(): DemoTargetRequests {
    return {
      kube: this.kube.requests,
      prometheus: this.prometheus.requests,
      ssm: this.ssmRequests,
      alertmanager: this.deliveries,
    };
  }

  // ----------------------------------------------------------------------------------------- SSM

  private async handleSsm(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const operation = String(request.headers['x-amz-target'] ?? '').replace(/^AmazonSSM\./, '');
    const text = await readBody(request);
    const service = signedService(request);
    const amzTarget = String(request.headers['x-amz-target'] ?? '');
    if (
      (service !== undefined && service !== 'ssm') ||
      (amzTarget !== '' && !amzTarget.startsWith('AmazonSSM.'))
    ) {
      this.refuseService(request, response, service, text);
      return;
    }
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      this.ssmAnswer(response, operation, body, 400, {
        __type: 'SerializationException',
        message: 'the body is not JSON',
      });
      return;
    }
    if (
      request.method !== 'POST' ||
      !String(request.headers['x-amz-target'] ?? '').startsWith('AmazonSSM.')
    ) {
      this.ssmAnswer(response, operation || `${request.method} ${request.url}`, body, 400, {
        __type: 'UnknownOperationException',
        message: 'the demo target only speaks AmazonSSM over AWS JSON 1.1 (POST / with X-Amz-Target)',
      });
      return;
    }
    if (!String(request.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 Credential=')) {
      this.ssmAnswer(response, operation, body, 400, {
        __type: 'MissingAuthenticationTokenException',
        message: 'Request is missing Authentication Token',
      });
      return;
    }
    switch (operation) {
      case 'SendCommand':
        return this.sendCommand(response, body);
      case 'ListCommandInvocations':
        return this.listCommandInvocations(response, body);
      case 'ListCommands':
        return this.listCommands(response, body);
      case 'GetCommandInvocation':
        return this.getCommandInvocation(response, body);
      case 'CancelCommand':
        return this.cancelCommand(response, body);
      default:
        this.ssmAnswer(response, operation, body, 400, {
          __type: 'UnknownOperationException',
          message: `the demo target does not simulate AmazonSSM.${operation}`,
        });
        return;
    }
  }

  /**
   * The platform points every AWS client at this endpoint so that nothing in the demo reaches AWS. A
   * call to a service it does not simulate gets that service's own error shape (JSON, REST-JSON, EC2
   * Query, AWS Query XML), so the SDK raises a readable UnknownOperation error instead of a parse error.
   */
  private refuseService(
    request: IncomingMessage,
    response: ServerResponse,
    service: string | undefined,
    text: string,
  ): void {
    const amzTarget = String(request.headers['x-amz-target'] ?? '');
    const form = String(request.headers['content-type'] ?? '').startsWith(
      'application/x-www-form-urlencoded',
    );
    const action = amzTarget
      ? amzTarget.slice(amzTarget.indexOf('.') + 1)
      : form
        ? (new URLSearchParams(text).get('Action') ?? 'unknown action')
        : `${request.method} ${(request.url ?? '/').split('?')[0]}`;
    const name = `${service ?? amzTarget.split('.')[0] ?? 'unknown service'}:${action}`;
    const message = `the demo target simulates AWS Systems Manager (SSM Run Command) only; ${name} is not simulated, and nothing was sent to AWS`;
    const requestId = randomUUID();
    const code = service === 'ec2' ? 'UnsupportedOperation' : 'UnknownOperationException';
    this.ssmRequests.push({ at: new Date().toISOString(), operation: name, body: text, status: 400 });
    this.note(`aws: refused ${name} (not simulated; the demo target answers SSM Run Command only)`);
    if (form && service === 'ec2') {
      response.writeHead(400, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${xmlText(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
      );
      return;
    }
    if (form) {
      response.writeHead(400, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      response.end(
        `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlText(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
      return;
    }
    response.writeHead(400, {
      'content-type': amzTarget ? 'application/x-amz-json-1.1' : 'application/json',
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': code,
    });
    response.end(JSON.stringify({ __type: code, message }));
  }

  private ssmAnswer(
    response: ServerResponse,
    operation: string,
    requestBody: unknown,
    status: number,
    answer: unknown,
  ): void {
    this.ssmRequests.push({ at: new Date().toISOString(), operation, body: requestBody, status });
    const type = (answer as { __type?: string }).__type;
    response.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': randomUUID(),
      ...(type ? { 'x-amzn-errortype': type } : {}),
    });
    response.end(JSON.stringify(answer));
  }

  private sendCommand(response: ServerResponse, body: Record<string, unknown>): void {
    const instanceIds = Array.isArray(body.InstanceIds) ? (body.InstanceIds as string[]) : [];
    const documentName = String(body.DocumentName ?? '');
    const parameters = (body.Parameters ?? {}) as Record<string, string[]>;
    const commands = parameters.commands ?? [];
    if (documentName !== 'AWS-RunShellScript') {
      this.ssmAnswer(response, 'SendCommand', body, 400, {
        __type: 'InvalidDocument',
        message: `Document ${documentName} does not exist in your account (the demo target has AWS-RunShellScript only)`,
      });
      return;
    }
    const unknown = instanceIds.filter((id) => !NODES.some((node) => node.instanceId === id));
    if (instanceIds.length === 0 || unknown.length > 0) {
      this.ssmAnswer(response, 'SendCommand', body, 400, {
        __type: 'InvalidInstanceId',
        message: `Instances [[${unknown.join(', ')}]] not in a valid state for account ${DEMO_ACCOUNT}`,
      });
      return;
    }
    if (commands.length === 0) {
      this.ssmAnswer(response, 'SendCommand', body, 400, {
        __type: 'InvalidParameters',
        message: 'the parameter commands is required',
      });
      return;
    }
    const requested = nowSeconds();
    const command: SsmCommand = {
      id: randomUUID(),
      documentName,
      comment: String(body.Comment ?? ''),
      parameters,
      instanceIds,
      requested,
      timeoutSeconds: Number(body.TimeoutSeconds ?? 3_600),
      invocations: new Map(
        instanceIds.map((instanceId) => [
          instanceId,
          { instanceId, status: 'Pending', stdout: '', stderr: '', responseCode: -1 } as SsmInvocation,
        ]),
      ),
    };
    this.commands.set(command.id, command);
    this.note(
      `ssm: SendCommand ${documentName} to ${instanceIds.join(', ')} (${commands.length} command lines) ${command.id}`,
    );
    this.later(SSM_IN_PROGRESS_AFTER_MS, () => {
      for (const invocation of command.invocations.values())
        if (invocation.status === 'Pending') {
          invocation.status = 'InProgress';
          invocation.started = nowSeconds();
        }
    });
    this.later(SSM_DONE_AFTER_MS, () => {
      for (const invocation of command.invocations.values()) {
        if (invocation.status !== 'InProgress' && invocation.status !== 'Pending') continue;
        invocation.started ??= nowSeconds();
        const result = this.runScript(invocation.instanceId, commands);
        Object.assign(invocation, result, { ended: nowSeconds() });
      }
    });
    this.ssmAnswer(response, 'SendCommand', body, 200, { Command: this.commandShape(command) });
  }

  private commandShape(command: SsmCommand) {
    const invocations = [...command.invocations.values()];
    const done = invocations.filter((invocation) => TERMINAL_SSM.has(invocation.status));
    const failed = done.filter((invocation) => invocation.status !== 'Success');
    const status =
      done.length < invocations.length
        ? invocations.some((invocation) => invocation.status === 'InProgress')
          ? 'InProgress'
          : 'Pending'
        : failed.length > 0
          ? 'Failed'
          : 'Success';
    return {
      CommandId: command.id,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      Comment: command.comment,
      ExpiresAfter: command.requested + command.timeoutSeconds,
      Parameters: command.parameters,
      InstanceIds: command.instanceIds,
      Targets: [],
      RequestedDateTime: command.requested,
      Status: status,
      StatusDetails: status,
      OutputS3Region: DEMO_REGION,
      OutputS3BucketName: '',
      OutputS3KeyPrefix: '',
      MaxConcurrency: '50',
      MaxErrors: '0',
      TargetCount: invocations.length,
      CompletedCount: done.length,
      ErrorCount: failed.length,
      DeliveryTimedOutCount: 0,
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      TimeoutSeconds: command.timeoutSeconds,
    };
  }

  /** ListCommands with the InvokedAfter filter (how a repeated run finds the command it sent before). */
  private listCommands(response: ServerResponse, body: Record<string, unknown>): void {
    const filters = Array.isArray(body.Filters)
      ? (body.Filters as Array<{ key?: string; value?: string }>)
      : [];
    const after = filters.find((filter) => filter.key === 'InvokedAfter')?.value;
    const since = after === undefined ? 0 : Date.parse(after) / 1_000;
    const commands = [...this.commands.values()]
      .filter((command) => command.requested >= since)
      .map((command) => this.commandShape(command));
    this.ssmAnswer(response, 'ListCommands', body, 200, { Commands: commands });
  }

  private listCommandInvocations(response: ServerResponse, body: Record<string, unknown>): void {
    const command = this.commands.get(String(body.CommandId ?? ''));
    if (!command) {
      this.ssmAnswer(response, 'ListCommandInvocations', body, 400, {
        __type: 'InvalidCommandId',
        message: `no command ${String(body.CommandId ?? '')}`,
      });
      return;
    }
    const only = body.InstanceId === undefined ? undefined : String(body.InstanceId);
    const details = body.Details === true;
    const invocations = [...command.invocations.values()]
      .filter((invocation) => only === undefined || invocation.instanceId === only)
      .map((invocation) => ({
        CommandId: command.id,
        InstanceId: invocation.instanceId,
        InstanceName: NODES.find((node) => node.instanceId === invocation.instanceId)?.name ?? '',
        Comment: command.comment,
        DocumentName: command.documentName,
        DocumentVersion: '$DEFAULT',
        RequestedDateTime: command.requested,
        Status: invocation.status,
        StatusDetails: invocation.status === 'Failed' ? 'Failed' : invocation.status,
        TraceOutput: '',
        StandardOutputUrl: '',
        StandardErrorUrl: '',
        CommandPlugins: details
          ? [
              {
                Name: 'aws:runShellScript',
                Status: invocation.status,
                StatusDetails: invocation.status,
                ResponseCode: invocation.responseCode,
                Output: invocation.stdout.slice(-2_500),
                OutputS3Region: DEMO_REGION,
              },
            ]
          : [],
        ServiceRole: '',
        NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
        CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      }));
    this.ssmAnswer(response, 'ListCommandInvocations', body, 200, { CommandInvocations: invocations });
  }

  private getCommandInvocation(response: ServerResponse, body: Record<string, unknown>): void {
    const command = this.commands.get(String(body.CommandId ?? ''));
    const invocation = command?.invocations.get(String(body.InstanceId ?? ''));
    if (!command || !invocation) {
      this.ssmAnswer(response, 'GetCommandInvocation', body, 400, {
        __type: 'InvocationDoesNotExist',
        message: `no invocation of command ${String(body.CommandId ?? '')} on ${String(body.InstanceId ?? '')}`,
      });
      return;
    }
    const elapsed =
      invocation.started !== undefined && invocation.ended !== undefined
        ? `PT${(invocation.ended - invocation.started).toFixed(3)}S`
        : '';
    this.ssmAnswer(response, 'GetCommandInvocation', body, 200, {
      CommandId: command.id,
      InstanceId: invocation.instanceId,
      Comment: command.comment,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      PluginName: 'aws:runShellScript',
      ResponseCode: invocation.responseCode,
      ExecutionStartDateTime: invocation.started === undefined ? '' : iso(invocation.started),
      ExecutionElapsedTime: elapsed,
      ExecutionEndDateTime: invocation.ended === undefined ? '' : iso(invocation.ended),
      Status: invocation.status,
      StatusDetails: invocation.status,
      StandardOutputContent: invocation.stdout.slice(-24_000),
      StandardOutputUrl: '',
      StandardErrorContent: invocation.stderr.slice(-8_000),
      StandardErrorUrl: '',
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    });
  }

  private cancelCommand(response: ServerResponse, body: Record<string, unknown>): void {
    const command = this.commands.get(String(body.CommandId ?? ''));
    if (!command) {
      this.ssmAnswer(response, 'CancelCommand', body, 400, {
        __type: 'InvalidCommandId',
        message: `no command ${String(body.CommandId ?? '')}`,
      });
      return;
    }
    const only = Array.isArray(body.InstanceIds) ? (body.InstanceIds as string[]) : undefined;
    for (const invocation of command.invocations.values()) {
      if (only && !only.includes(invocation.instanceId)) continue;
      if (TERMINAL_SSM.has(invocation.status)) continue;
      invocation.status = 'Cancelled';
      invocation.ended = nowSeconds();
    }
    this.note(`ssm: CancelCommand ${command.id}`);
    this.ssmAnswer(response, 'CancelCommand', body, 200, {});
  }

  /**
   * Runs an AWS-RunShellScript script on the simulated host: `set -eu`, df, journalctl, find … -delete
   * and crictl, acting on the filesystem model; any other command is not found (exit 127), and the
   * script stops at the first failure as `set -e` would.
   */
  private runScript(
    instanceId: string,
    commands: string[],
  ): Pick<SsmInvocation, 'status' | 'stdout' | 'stderr' | 'responseCode'> {
    const node = NODES.find((candidate) => candidate.instanceId === instanceId)!;
    const root = this.filesystems.find(
      (filesystem) => filesystem.node === node && filesystem.mountpoint === '/',
    )!;
    const out: string[] = [];
    const err: string[] = [];
    const freedBefore = root.availAt(nowSeconds());
    let line = 0;
    for (const raw of commands.flatMap((command) => command.split('\n'))) {
      line += 1;
      const command = raw.trim();
      if (command === '' || command.startsWith('#') || /^set -[eux]+$/.test(command)) continue;
      const time = nowSeconds();
      if (/^df\b/.test(command)) {
        const avail = root.availAt(time);
        const used = root.sizeBytes - avail;
        out.push(
          'Filesystem       Size  Used Avail Use% Mounted on',
          `${root.device.padEnd(16)} ${humanBytes(root.sizeBytes).padStart(4)} ${humanBytes(used).padStart(5)} ${humanBytes(avail).padStart(5)} ${String(Math.ceil((100 * used) / root.sizeBytes)).padStart(3)}% /`,
          '/dev/nvme0n1p128   10M  1.3M  8.7M  13% /boot/efi',
        );
        continue;
      }
      if (/^journalctl --disk-usage$/.test(command)) {
        out.push(
          `Archived and active journals take up ${humanBytes(root.journalBytes(time))} in the file system.`,
        );
        continue;
      }
      const vacuum = /^journalctl\b.*--vacuum-size=(\S+)/.exec(command);
      if (vacuum) {
        const keep = sizeArgument(vacuum[1]!);
        if (!Number.isFinite(keep)) {
          err.push(`Failed to parse size value: ${vacuum[1]}`);
          return { status: 'Failed', stdout: out.join('\n'), stderr: err.join('\n'), responseCode: 1 };
        }
        const freed = root.vacuumJournal(time, keep);
        const files = Math.floor(freed / (128 * MI));
        for (let index = 0; index < files; index += 1) {
          out.push(
            `Deleted archived journal /var/log/journal/ec2a5f1c9b8d4e7f8a9b0c1d2e3f4a5b/system@8f2c${index.toString(16).padStart(4, '0')}-00000000000${index}.journal (128.0M).`,
          );
        }
        out.push(
          `Vacuuming done, freed ${humanBytes(freed)} of archived journals from /var/log/journal/ec2a5f1c9b8d4e7f8a9b0c1d2e3f4a5b.`,
        );
        out.push('Vacuuming done, freed 0B of archived journals from /run/log/journal.');
        continue;
      }
      if (/^find \/var\/log\b.*-delete$/s.test(command.replace(/\s+/g, ' '))) {
        const removed = root.deleteRotatedLogs(time);
        if (removed > 0)
          out.push(
            '/var/log/aws-routed-eni/ipamd.log.2024-11-02-09',
            '/var/log/aws-routed-eni/plugin.log.2024-11-02-09',
            '/var/log/amazon/ssm/amazon-ssm-agent.log.1',
            '/var/log/dnf.log.1',
          );
        continue;
      }
      if (/crictl\b.*\bimages \| wc -l$/.test(command)) {
        out.push(String(root.imageCount()));
        continue;
      }
      if (/crictl\b.*\brmi --prune$/.test(command)) {
        const removed = root.pruneImages(time);
        if (removed > 0)
          out.push(
            'Deleted: registry.example.com/shop/cart:2.11.0',
            'Deleted: registry.example.com/shop/checkout:3.15.0',
          );
        continue;
      }
      const name = command.split(/\s+/)[0];
      err.push(
        `/var/lib/amazon/ssm/${instanceId}/document/orchestration/script.sh: line ${line}: ${name}: command not found (the demo target simulates df, journalctl, find and crictl only)`,
      );
      return { status: 'Failed', stdout: out.join('\n'), stderr: err.join('\n'), responseCode: 127 };
    }
    const freed = root.availAt(nowSeconds()) - freedBefore;
    if (freed > 0)
      this.note(
        `ssm: ${node.name}: freed ${gib(freed)}; ${root.mountpoint} is now ${root.freePercent(nowSeconds()).toFixed(1)}% free`,
      );
    return { status: 'Success', stdout: out.join('\n'), stderr: err.join('\n'), responseCode: 0 };
  }

  // ------------------------------------------------------------------------------------- control

  private async handleControl(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.endpoints.control);
    const method = request.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/') {
      return sendJson(response, 200, {
        demoTarget: true,
        description:
          'runbook-autopilot DEMO TARGET: a simulated Kubernetes API, Prometheus, SSM endpoint and Alertmanager on 127.0.0.1. Nothing real is touched.',
        endpoints: this.endpoints,
        routes: ['GET /scenarios', 'PUT /receiver {"url"}', 'GET /state', 'GET /requests', 'GET /events'],
      });
    }
    if (method === 'GET' && url.pathname === '/scenarios')
      return sendJson(response, 200, { scenarios: this.scenarios() });
    if (method === 'GET' && url.pathname === '/state') return sendJson(response, 200, this.state());
    if (method === 'GET' && url.pathname === '/requests') return sendJson(response, 200, this.requests());
    if (method === 'GET' && url.pathname === '/events')
      return sendJson(response, 200, { events: this.events });
    if ((method === 'PUT' || method === 'POST') && url.pathname === '/receiver') {
      let receiver: unknown;
      try {
        receiver = (JSON.parse(await readBody(request, 4_096)) as { url?: unknown }).url;
        new URL(String(receiver));
      } catch {
        return sendJson(response, 400, { error: 'the body must be {"url": "<the receiver webhook URL>"}' });
      }
      this.setReceiver(String(receiver));
      this.note(`alertmanager: receiver runbook-autopilot is ${String(receiver)}`);
      return sendJson(response, 200, { url: receiver });
    }
    return sendJson(response, 404, { error: `no route ${method} ${url.pathname}` });
  }
}

interface SsmInvocation {
  instanceId: string;
  status: 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'Cancelled' | 'TimedOut';
  stdout: string;
  stderr: string;
  responseCode: number;
  started?: number;
  ended?: number;
}

interface SsmCommand {
  id: string;
  documentName: string;
  comment: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  requested: number;
  timeoutSeconds: number;
  invocations: Map<string, SsmInvocation>;
}

const TERMINAL_SSM = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut']);

/** The service a SigV4-signed request is for: `ec2` in `Credential=AKID/20260504/eu-west-1/ec2/aws4_request`. */
function signedService(request: IncomingMessage): string | undefined {
  const match = /Credential=[^/,\s]+\/\d{8}\/[^/,\s]+\/([^/,\s]+)\/aws4_request/.exec(
    String(request.headers.authorization ?? ''),
  );
  return match?.[1];
}

function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function ssmError(response: ServerResponse, status: number, type: string, message: string): void {
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type });
  response.end(JSON.stringify({ __type: type, message }));
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_key, value: unknown) =>
    value instanceof Date ? value.toISOString() : value,
  );
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  response.end(text);
}

// --------------------------------------------------------------------------------- the process

export class DemoTargetError extends RunbookAutopilotError {
  override readonly name = 'DemoTargetError';
}

const TARGET_FILE = fileURLToPath(import.meta.url);

/** Messages the target process sends its parent over the IPC channel. */
type TargetMessage = { type: 'ready'; endpoints: DemoTargetEndpoints } | { type: 'failed'; message: string };

function parseArguments(args: string[]): { dataDir: string; receiverUrl?: string } {
  let dataDir = resolve('.runbook', 'demo');
  let receiverUrl: string | undefined;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index];
    const value = args[index + 1];
    if ((arg === '--data' || arg === '--receiver') && value === undefined)
      throw new DemoTargetError(`${arg} needs a value`);
    if (arg === '--data') dataDir = resolve(value!);
    else if (arg === '--receiver') receiverUrl = value!;
    else throw new DemoTargetError(`unknown argument ${arg}; usage: target.ts [--data DIR] [--receiver URL]`);
    index += 1;
  }
  return { dataDir, ...(receiverUrl ? { receiverUrl } : {}) };
}

/** The process entry: start, print the banner, tell the parent, run until told to stop. */
async function main(args: string[]): Promise<void> {
  const send = (message: TargetMessage) => process.send?.(message);
  let target: DemoTarget;
  try {
    const { dataDir, receiverUrl } = parseArguments(args);
    target = await DemoTarget.start({
      dataDir,
      ...(receiverUrl ? { receiverUrl } : {}),
      print: (line) => process.stdout.write(`${line}\n`),
    });
  } catch (error) {
    const message = (error as Error).message;
    process.stderr.write(`demo target: ${message}\n`);
    send({ type: 'failed', message });
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${target.banner()}\n`);
  send({ type: 'ready', endpoints: target.endpoints });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void target.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  if (process.send) {
    // Under `runbook demo` the parent decides when to stop (Ctrl-C reaches both); if it dies, stop too.
    process.on('SIGINT', () => {});
    process.on('disconnect', stop);
  } else {
    process.on('SIGINT', stop);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === TARGET_FILE) {
  void main(process.argv.slice(2));
}

export interface LaunchedDemoTarget {
  pid: number;
  endpoints: DemoTargetEndpoints;
  /** Resolves with the exit code when the process has exited. */
  exited: Promise<number | null>;
  scenarios(): Promise<DemoScenario[]>;
  setReceiver(url: string): Promise<void>;
  requests(): Promise<DemoTargetRequests>;
  /** Stops the process (SIGTERM, then SIGKILL after a few seconds). */
  stop(): Promise<void>;
}

/** The tsx loader as a file URL: `--import tsx` would resolve from the user's directory, not ours. */
function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

/**
 * Forks the demo target as its own process (Node with the tsx loader, so it runs from the sources like
 * the `runbook` bin) and waits until it listens. Its output goes to `print`, one line at a time.
 */
export async function launchDemoTarget(options: {
  dataDir: string;
  print: (line: string) => void;
  startTimeoutMs?: number;
}): Promise<LaunchedDemoTarget> {
  const child: ChildProcess = fork(TARGET_FILE, ['--data', options.dataDir], {
    execArgv: ['--import', tsxLoader()],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 50) lines.shift();
      options.print(line);
    });
  }
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const endpoints = await new Promise<DemoTargetEndpoints>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new DemoTargetError(`the demo target did not start within ${options.startTimeoutMs ?? 30_000} ms`),
      );
    }, options.startTimeoutMs ?? 30_000);
    child.on('message', (message: TargetMessage) => {
      clearTimeout(timer);
      if (message.type === 'ready') resolveReady(message.endpoints);
      else reject(new DemoTargetError(`the demo target did not start: ${message.message}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new DemoTargetError(`cannot start the demo target: ${error.message}`, { cause: error }));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new DemoTargetError(
          `the demo target exited (code ${code}) before it was ready: ${lines.slice(-5).join(' | ')}`,
        ),
      );
    });
  });
  const control = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(new URL(path, endpoints.control), {
      ...init,
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new DemoTargetError(`demo target ${path}: ${body.error ?? response.status}`);
    return body;
  };
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    endpoints,
    exited,
    scenarios: async () => (await control<{ scenarios: DemoScenario[] }>('/scenarios')).scenarios,
    setReceiver: async (url) => {
      await control('/receiver', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url }),
      });
    },
    requests: () => control<DemoTargetRequests>('/requests'),
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

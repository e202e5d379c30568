import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import '../../functions/adapters/local/polyfills.ts';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { FakePrometheus } from '../../local/demo/fake-prometheus.ts';
import { type RunningPlatform, startPlatform } from '../../local/platform.ts';
import type { Json } from '../support/json.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryFile, libraryStatemachinesDir } from '../support/library.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The embedded platform as the platform benchmarks drive it: started on a free loopback port with a
 * temp data directory on disk (as `npm start` keeps it), its tools talking to a simulated cluster and
 * Prometheus over their real protocols, and every action an HTTP request.
 */

export const ENVIRONMENT = 'staging';
export const RUNBOOK = 'node-memory-pressure';

/**
 * node-memory-pressure's safetyLimits allow 6 executions an hour (2 per node, 2 at once, a 30-minute
 * cooldown per node). Each execution gets its own node; after 6 the lab starts a fresh platform on a
 * fresh data directory instead of bending the limits or the clock.
 */
const EXECUTIONS_PER_PLATFORM = 6;

/**
 * A clock for tinybench's `now` option that advances only by the durations a benchmark records, so
 * the figure vitest prints is the measured interval (action → observed effect), not the setup around it.
 */
export class Stopwatch {
  private total = 0;
  readonly now = (): number => this.total;
  add(ms: number): void {
    this.total += ms;
  }
}

/** Durations recorded per figure, summarised (p50/p95/max) at the end of the run. */
export class Figures {
  private readonly samples = new Map<string, number[]>();
  add(name: string, ms: number): void {
    const list = this.samples.get(name) ?? [];
    list.push(ms);
    this.samples.set(name, list);
  }
  table(): string {
    const rows = [...this.samples].map(([name, values]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
      const f = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
      return `| ${name} | ${sorted.length} | ${f(at(0.5))} | ${f(at(0.95))} | ${f(sorted.at(-1)!)} |`;
    });
    return ['| figure | n | p50 ms | p95 ms | max ms |', '| --- | ---: | ---: | ---: | ---: |', ...rows].join(
      '\n',
    );
  }
}

export async function post(url: string, path: string, body: unknown) {
  const response = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

export async function get(url: string, path: string) {
  const response = await fetch(new URL(path, url));
  return { status: response.status, body: (await response.json()) as Json };
}

/** Polls `probe` every `everyMs` until it answers; throws with `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = performance.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 20));
  }
}

/**
 * node-memory-pressure with safety limits that let hundreds of executions run within the hour (one
 * per node, `concurrent` at once, a 1 s cooldown): the latency and memory benchmarks' runbook.
 */
export function benchRunbookYaml(options: { concurrent: number }): string {
  const yaml = readFileSync(join(ROOT, libraryFile(RUNBOOK)), 'utf8').replace(
    /safetyLimits:\n(?: {2}.*\n)+/,
    [
      'safetyLimits:',
      '  maxExecutionsPerHour: 1000',
      '  maxExecutionsPerResourcePerHour: 5',
      `  maxConcurrentExecutions: ${options.concurrent}`,
      '  blastRadius: { maxResourcesPerStep: 1 }',
      '  cooldown: 1s',
      '',
    ].join('\n'),
  );
  if (!yaml.includes('maxExecutionsPerHour: 1000')) throw new Error('could not open up the safety limits');
  return yaml;
}

const FIXTURE = JSON.parse(
  readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
);

/** An Alertmanager v4 body with one KubeNodeMemoryPressure alert for `node` (its own fingerprint). */
export function alertFor(node: string, status: 'firing' | 'resolved' = 'firing'): Json {
  const body = structuredClone(FIXTURE);
  const [first] = body.alerts;
  const old: string = first.labels.node;
  body.status = status;
  body.alerts = [
    {
      ...first,
      status,
      fingerprint: `bench-${node}`,
      labels: { ...first.labels, environment: ENVIRONMENT, node },
      annotations: Object.fromEntries(
        Object.entries(first.annotations as Record<string, string>).map(([key, value]) => [
          key,
          value.replaceAll(old, node),
        ]),
      ),
      ...(status === 'resolved' ? { endsAt: new Date().toISOString() } : {}),
    },
  ];
  body.commonLabels = { ...body.commonLabels, environment: ENVIRONMENT, node };
  body.groupKey = `{}:{alertname="KubeNodeMemoryPressure", node="${node}"}`;
  return body;
}

export function approve(link: URL): Promise<Response> {
  return fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision: 'approve', comment: 'bench' }).toString(),
  });
}

export const TERMINAL = ['succeeded', 'failed', 'aborted'];

/** Data directories still in use; removed when the process exits even if a platform was not stopped. */
const dataDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

export class Lab {
  private platform: RunningPlatform | undefined;
  private dataDir: string | undefined;
  private startedHere = 0;
  private nodeCounter = 0;
  readonly lines: string[] = [];
  platformsStarted = 0;

  private constructor(
    readonly kube: FakeKubeApi,
    readonly prometheus: FakePrometheus,
  ) {}

  static async start(): Promise<Lab> {
    // The AWS tools must not wait for instance metadata on a machine without credentials.
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    const kube = await FakeKubeApi.start({ autoReconcile: true });
    kube.addNode({ name: 'ip-10-0-9-1.bench.internal', usage: { cpu: '200m', memory: '2Gi' } });
    const prometheus = new FakePrometheus();
    await prometheus.start();
    return new Lab(kube, prometheus);
  }

  get url(): string {
    if (!this.platform) throw new Error('no platform running');
    return this.platform.url;
  }

  /** A platform that can start `count` more executions within node-memory-pressure's hourly limit. */
  async ready(count = 1): Promise<string> {
    if (!this.platform || this.startedHere + count > EXECUTIONS_PER_PLATFORM) await this.restart();
    return this.url;
  }

  private async restart(): Promise<void> {
    await this.stopPlatform();
    this.dataDir = mkdtempSync(join(tmpdir(), 'runbook-bench-'));
    dataDirs.add(this.dataDir);
    this.platform = await startPlatform({
      cwd: ROOT,
      runbooksDir: LIBRARY_RUNBOOKS_DIR,
      statemachinesDir: libraryStatemachinesDir(),
      port: 0,
      dataDir: this.dataDir,
      environment: ENVIRONMENT,
      live: true,
      configOverrides: {
        tools: {
          prometheusUrl: this.prometheus.url,
          kubernetes: { contexts: {}, eks: {} },
          shell: { enabled: false, allow: [] },
        },
      },
      kubeConfigFactory: () => this.kube.kubeConfig(),
      retryIntervalMs: 20,
      print: (line) => {
        this.lines.push(line);
        if (this.lines.length > 200) this.lines.shift();
      },
    });
    this.startedHere = 0;
    this.platformsStarted++;
  }

  private async stopPlatform(): Promise<void> {
    const platform = this.platform;
    const dataDir = this.dataDir;
    this.platform = undefined;
    this.dataDir = undefined;
    if (platform) await platform.stop();
    if (dataDir) {
      rmSync(dataDir, { recursive: true, force: true });
      dataDirs.delete(dataDir);
    }
  }

  async stop(): Promise<void> {
    await this.stopPlatform();
    await this.kube.stop();
    await this.prometheus.stop();
  }

  /**
   * A new node under memory pressure with two workloads on it, none over half the node: the runbook
   * takes its relieve-node branch (approval, cordon, evict).
   */
  addNode(): string {
    return addPressuredNode(this.kube, 1, ++this.nodeCounter, [
      ['cart', '3Gi'],
      ['search', '4Gi'],
    ]);
  }

  /** Posts a firing alert for a new node; the 202 must say the execution started. */
  async fire(node: string): Promise<{ executionId: string; ms: number }> {
    const url = this.url;
    const body = alertFor(node);
    const t0 = performance.now();
    const answer = await post(url, '/webhooks/alertmanager', body);
    const ms = performance.now() - t0;
    const result = answer.body.results?.[0]?.result;
    if (answer.status !== 202 || result?.decision !== 'started')
      throw new Error(`expected decision started, got ${answer.status} ${JSON.stringify(answer.body)}`);
    this.startedHere++;
    return { executionId: result.executionId as string, ms };
  }

  async execution(id: string): Promise<Json> {
    return (await get(this.url, `/api/executions/${encodeURIComponent(id)}`)).body;
  }

  /** The approval link e-mailed for the execution (GET /api/outbox), once the approval is requested. */
  async approvalLink(executionId: string, everyMs = 20): Promise<URL> {
    const url = this.url;
    const link = await until(
      `an approval e-mail for ${executionId}\n${this.lines.slice(-20).join('\n')}`,
      async () => {
        const { body } = await get(url, `/api/outbox?executionId=${encodeURIComponent(executionId)}`);
        const request = body.notifications.find(
          (notification: Json) => notification.kind === 'approval-request' && notification.links?.[0]?.url,
        );
        return request?.links[0].url as string | undefined;
      },
      { everyMs },
    );
    return new URL(link);
  }

  /** A new node, its alert, and the execution waiting for approval of relieve-node. */
  async waitingForApproval(): Promise<{ node: string; executionId: string; link: URL }> {
    await this.ready();
    const node = this.addNode();
    const { executionId } = await this.fire(node);
    const link = await this.approvalLink(executionId);
    return { node, executionId, link };
  }

  /** Polls GET /api/executions/:id every `everyMs` until `predicate` holds; the time it was seen. */
  async observe(
    executionId: string,
    what: string,
    predicate: (detail: Json) => boolean,
    everyMs = 10,
  ): Promise<{ at: number; detail: Json }> {
    return until(
      `${what} (${executionId})\n${this.lines.slice(-20).join('\n')}`,
      async () => {
        const detail = await this.execution(executionId);
        return predicate(detail) ? { at: performance.now(), detail } : undefined;
      },
      { everyMs },
    );
  }

  /**
   * Ends an execution and waits until it is terminal: the node recovers and Alertmanager says so
   * (an execution verifying its alert finishes), and an operator aborts whatever still runs.
   */
  async finish(executionId: string, node: string): Promise<Json> {
    const detail = await this.execution(executionId);
    if (TERMINAL.includes(detail.execution?.status)) return detail;
    const conditions = this.kube.nodes.get(node)?.status?.conditions ?? [];
    for (const condition of conditions) if (condition.type === 'MemoryPressure') condition.status = 'False';
    await post(this.url, '/webhooks/alertmanager', alertFor(node, 'resolved'));
    await post(this.url, `/api/executions/${encodeURIComponent(executionId)}/abort`, {
      by: 'bench',
      reason: 'bench cleanup',
    });
    const end = await this.observe(
      executionId,
      'the execution to finish',
      (now) => TERMINAL.includes(now.execution?.status),
      50,
    );
    return end.detail;
  }
}

/**
 * Node `index` of a bench (`ip-10-<subnet>-…`, one subnet per bench so names never collide) under
 * memory pressure, with one Deployment per workload (`<name>-<index>`, one replica on the node, using
 * the given memory against a 1 Gi request).
 */
export function addPressuredNode(
  kube: FakeKubeApi,
  subnet: number,
  index: number,
  workloads: ReadonlyArray<readonly [name: string, memory: string]>,
): string {
  const node = `ip-10-${subnet}-${Math.floor(index / 250)}-${index % 250}.bench.internal`;
  kube.addNode({ name: node, conditions: { MemoryPressure: true }, usage: { cpu: '1500m', memory: '14Gi' } });
  for (const [name, memory] of workloads)
    kube.addDeployment({
      namespace: 'shop',
      name: `${name}-${index}`,
      replicas: 1,
      nodes: [node],
      containers: [{ name, requests: { cpu: '250m', memory: '1Gi' }, usage: { cpu: '300m', memory } }],
    });
  return node;
}

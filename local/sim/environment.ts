import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { RunbookAutopilotError } from '../../functions/core/errors.ts';
import type { RecordedRequest as KubeRequest } from '../demo/fake-kube-api.ts';
import type { RecordedRequest as PrometheusRequest } from '../demo/fake-prometheus.ts';
import type { AlarmDelivery } from './aws/alarms.ts';
import { AwsEndpoint, type AwsRequest } from './aws/endpoint.ts';
import { DEMO_CLUSTER, DEMO_CONTEXT, DEMO_ENVIRONMENT, MONITORING, seedCluster } from './cluster.ts';
import { ScrapeTargets } from './exporters/targets.ts';
import { type AlertDelivery, type AlertmanagerBody, FallbackMonitoring } from './fallback/fake-monitoring.ts';
import { findMonitoringBinaries, INSTALL_HINT } from './monitoring/binaries.ts';
import { type AlertmanagerApiAlert, type BackfillWindow, Monitoring } from './monitoring/harness.ts';
import { freePort } from './monitoring/process.ts';
import { selectScenarios } from './scenarios/index.ts';
import type { CloudWatchInstance, Scenario, ScenarioInstance } from './scenarios/types.ts';
import { isCrashLooping, nowSeconds, podKey, World, type WorldEvent } from './world.ts';

/**
 * The simulated environment as one thing to start and stop: the world (cluster, machines, the AWS
 * account they run in, the chosen scenarios' faults), its exporters, the AWS endpoint (every service
 * the tools call, over their own protocols; CloudWatch alarms deliver their state changes to the
 * platform's /events as EventBridge would), and monitoring, real or fallback:
 *
 * - real: Prometheus scrapes the exporters and evaluates the scenarios' rules, Alertmanager groups
 *   and posts its webhooks to the receiver, the runbooks' queries go to that Prometheus;
 * - fallback (Prometheus or Alertmanager not installed, or asked for): a canned Prometheus over the
 *   same series, and a stand-in Alertmanager whose firing bodies the demo posts itself.
 *
 * A control endpoint (JSON) shows the scenarios, the state, every request the simulated services got,
 * and takes the receiver URL.
 */

export type MonitoringMode = 'real' | 'fallback';

export class EnvironmentError extends RunbookAutopilotError {
  override readonly name = 'EnvironmentError';
}

export interface EnvironmentOptions {
  /** Created if missing; monitoring's storage and the kubeconfig go here. */
  dataDir: string;
  /** Scenario ids (default: the default set); `[]`: the healthy baseline alone, nothing broken. */
  scenarios?: readonly string[];
  /** `auto` (default): real when installed, else the fallback. `real` fails without the binaries. */
  monitoring?: 'auto' | MonitoringMode;
  /** Where webhooks go (the platform's POST /webhooks/alertmanager); can be set later. */
  receiverUrl?: string;
  print?: (line: string) => void;
  tickMs?: number;
  /** History backfilled into the real Prometheus (default six hours). */
  backfill?: BackfillWindow | false;
  /**
   * Resolve as soon as the endpoints are known, while Prometheus and Alertmanager still start (the
   * demo starts the platform meanwhile); `setReceiver` waits for them and fails if they did not start.
   */
  monitoringInBackground?: boolean;
}

export interface EnvironmentEndpoints {
  kubeApi: string;
  /** The Prometheus the runbooks query: the real one, or the fallback's canned one. */
  prometheus: string;
  /** The real Alertmanager (absent in the fallback: the demo posts the firing bodies itself). */
  alertmanager?: string;
  /**
   * The simulated AWS account's endpoint: every service the AWS tools call, each over its own wire
   * protocol; a service or operation it does not simulate gets that protocol's unknown-operation
   * error, so the demo points every AWS client here and nothing reaches AWS.
   */
  aws: string;
  control: string;
  /** The kubeconfig file (context DEMO_CONTEXT) for the platform's Kubernetes tools. */
  kubeconfig: string;
}

/** A scenario as the demo runs it. */
export interface DemoScenario {
  id: string;
  title: string;
  runbookId: string;
  alertname: string;
  /** What notices it: a Prometheus rule (Alertmanager's webhook) or a CloudWatch alarm (EventBridge's event). */
  source: 'prometheus' | 'cloudwatch';
  story: string[];
  waits: string;
  waitSeconds: number;
  /** Labels that single out its alert (alertname included). */
  alertLabels: Record<string, string>;
  /** Whether what it broke is still broken now (its condition, evaluated on the simulated world). */
  faultHolds: boolean;
  /** Fallback only: the firing webhook body to post (real Alertmanager sends its own). */
  alert?: AlertmanagerBody;
}

export interface EnvironmentRequests {
  kube: KubeRequest[];
  /** Queries the Prometheus got: the real one's query log, or the canned one's requests. */
  prometheus: PrometheusRequest[];
  /** Every call the simulated AWS account got. */
  aws: AwsRequest[];
  /** The stand-in Alertmanager's deliveries (fallback only: the real one posts directly). */
  alertmanager: AlertDelivery[];
  /** CloudWatch alarm state changes delivered (or being delivered) to the platform's /events. */
  eventbridge: AlarmDelivery[];
}

/** The simulated account's CloudWatch alarms, and every state change sent to the platform. */
export interface EnvironmentAlarms {
  alarms: Array<{
    name: string;
    state: string;
    since: string;
    transitions: Array<{ from: string; to: string; at: string }>;
  }>;
  deliveries: AlarmDelivery[];
}

/** An alert as the environment saw it in Alertmanager (or the stand-in, or a CloudWatch alarm), resolved once gone. */
export interface SeenAlert {
  alertname: string;
  fingerprint: string;
  labels: Record<string, string>;
  state: 'firing' | 'resolved';
  startsAt: string;
  endsAt?: string;
}

const ENVIRONMENT_LABELS = {
  cluster: DEMO_CLUSTER,
  environment: DEMO_ENVIRONMENT,
  prometheus: `${MONITORING.namespace}/kube-prometheus-stack-prometheus`,
  prometheus_replica: `${MONITORING.prometheus}-0`,
};

export class SimulatedEnvironment {
  private receiverUrl: string | undefined;
  private readonly seen = new Map<string, SeenAlert>();
  private watchTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The real Prometheus and Alertmanager once they run. */
  monitoring: Monitoring | undefined;

  private constructor(
    readonly world: World,
    readonly targets: ScrapeTargets,
    private readonly aws: AwsEndpoint,
    private readonly control: Server,
    readonly endpoints: EnvironmentEndpoints,
    readonly mode: MonitoringMode,
    /** Why the fallback runs (what is missing and how to install it). */
    readonly fallbackReason: string | undefined,
    private readonly running: Array<{ scenario: Scenario; instance: ScenarioInstance | CloudWatchInstance }>,
    /** Settles when the real monitoring has started (or failed to); undefined in the fallback. */
    private readonly monitoringStarted: Promise<Monitoring> | undefined,
    readonly fallback: FallbackMonitoring | undefined,
  ) {
    void monitoringStarted?.then(
      (monitoring) => {
        this.monitoring = monitoring;
      },
      () => {},
    );
  }

  /** The simulated account's endpoint: the calls it answered, and fault injection (failNext, slowDown). */
  get awsEndpoint(): AwsEndpoint {
    return this.aws;
  }

  static async start(options: EnvironmentOptions): Promise<SimulatedEnvironment> {
    const print = options.print ?? (() => {});
    const scenarios = options.scenarios?.length === 0 ? [] : selectScenarios(options.scenarios);
    const wanted = options.monitoring ?? 'auto';
    const binaries = findMonitoringBinaries();
    if (wanted === 'real' && !binaries.available) throw new EnvironmentError(binaries.hint);
    const mode: MonitoringMode = wanted === 'fallback' || !binaries.available ? 'fallback' : 'real';
    const fallbackReason =
      mode === 'real'
        ? undefined
        : binaries.available
          ? 'the fallback was asked for'
          : `${binaries.missing.join(', ')} not installed (${INSTALL_HINT})`;

    mkdirSync(options.dataDir, { recursive: true });
    const world = await World.start({ print });
    const started: Array<() => Promise<void>> = [() => world.stop()];
    try {
      seedCluster(world);
      for (const scenario of scenarios)
        if (scenario.source === 'cloudwatch')
          for (const alarm of scenario.alarms) world.aws.alarms.define(alarm);
      const running = world.aws.inHistoryOrder(() =>
        scenarios.map((scenario) => ({ scenario, instance: scenario.setup(world) })),
      );
      world.tick();
      const targets = await ScrapeTargets.start(world);
      started.push(() => targets.stop());
      const aws = await AwsEndpoint.start(world);
      started.push(() => aws.stop());
      let environment: SimulatedEnvironment | undefined;
      const control = createServer((request, response) => {
        environment!.handleControl(request, response).catch((error: unknown) => {
          if (!response.headersSent) sendJson(response, 500, { error: String(error) });
        });
      });
      await new Promise<void>((resolve, reject) => {
        control.once('error', reject);
        control.listen(0, '127.0.0.1', () => resolve());
      });
      started.push(() => closeServer(control));
      const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;

      let monitoringStarted: Promise<Monitoring> | undefined;
      let monitoringUrls: { prometheus: string; alertmanager: string } | undefined;
      let fallback: FallbackMonitoring | undefined;
      if (mode === 'real' && binaries.available) {
        const ports = { prometheus: await freePort(), alertmanager: await freePort() };
        monitoringUrls = {
          prometheus: `http://127.0.0.1:${ports.prometheus}`,
          alertmanager: `http://127.0.0.1:${ports.alertmanager}`,
        };
        monitoringStarted = Monitoring.start(
          {
            binaries: binaries.binaries,
            dataDir: join(options.dataDir, 'monitoring'),
            targets,
            rules: running.flatMap(({ scenario }) => scenario.rules),
            externalLabels: ENVIRONMENT_LABELS,
            ...(options.receiverUrl ? { receiverUrl: options.receiverUrl } : {}),
            ...(options.backfill === undefined ? {} : { backfill: options.backfill }),
            print: (line) => world.note(`monitoring: ${line}`),
          },
          ports,
        );
        const starting = monitoringStarted;
        started.push(async () => (await starting.catch(() => undefined))?.stop());
        if (!options.monitoringInBackground) await monitoringStarted;
        else
          monitoringStarted.catch((error: unknown) =>
            world.note(`monitoring: did not start: ${(error as Error).message}`),
          );
      } else {
        const { prometheus_replica: _replica, ...external } = ENVIRONMENT_LABELS;
        fallback = await FallbackMonitoring.start({
          targets,
          externalLabels: external,
          externalUrl: `${controlUrl}/alertmanager`,
          note: (line) => world.note(line),
        });
        started.push(() => fallback!.stop());
        for (const { scenario, instance } of running)
          if (scenario.source !== 'cloudwatch') fallback.addAlert(scenario, instance as ScenarioInstance);
        world.onTick(() => {
          fallback!.refresh();
          fallback!.evaluate();
        });
      }

      const kubeconfig = join(options.dataDir, 'demo-target-kubeconfig.json');
      writeFileSync(kubeconfig, world.kube.kubeConfig({ context: DEMO_CONTEXT }).exportConfig(), {
        mode: 0o600,
      });
      chmodSync(kubeconfig, 0o600);
      environment = new SimulatedEnvironment(
        world,
        targets,
        aws,
        control,
        {
          kubeApi: world.kube.url,
          prometheus: monitoringUrls?.prometheus ?? fallback!.prometheusUrl,
          ...(monitoringUrls ? { alertmanager: monitoringUrls.alertmanager } : {}),
          aws: aws.url,
          control: controlUrl,
          kubeconfig,
        },
        mode,
        fallbackReason,
        running,
        monitoringStarted,
        fallback,
      );
      environment.receiverUrl = options.receiverUrl;
      if (options.receiverUrl) fallback?.setReceiver(options.receiverUrl);
      world.onKubeRequest((request) => environment!.narrate(request));
      world.run(options.tickMs ?? 500);
      if (monitoringStarted)
        void monitoringStarted.then(
          () => environment!.watchAlerts(),
          () => {},
        );
      return environment;
    } catch (error) {
      for (const stop of started.reverse()) await stop().catch(() => {});
      throw error;
    }
  }

  /** The one line that says what this is and where it listens. */
  banner(): string {
    const { kubeApi, prometheus, alertmanager, aws, control, kubeconfig } = this.endpoints;
    const monitoring =
      this.mode === 'real'
        ? `prometheus ${prometheus}  alertmanager ${alertmanager}`
        : `prometheus (fallback, canned answers) ${prometheus}`;
    return `DEMO TARGET (simulated environment, nothing real is touched): kubernetes-api ${kubeApi}  ${monitoring}  aws ${aws} (account ${this.world.aws.accountId}, ${this.world.aws.region})  control ${control}  kubeconfig ${kubeconfig}`;
  }

  /**
   * Points the webhooks at `url` (the platform's POST /webhooks/alertmanager) and the CloudWatch alarms'
   * events at `eventsUrl` (default: the platform's POST /events beside it); with real monitoring, once
   * it runs (and fails if it could not start).
   */
  async setReceiver(url: string, eventsUrl = new URL('/events', url).toString()): Promise<void> {
    this.receiverUrl = url;
    this.world.aws.alarms.setReceiver(eventsUrl);
    if (this.monitoringStarted) {
      let monitoring: Monitoring;
      try {
        monitoring = await this.monitoringStarted;
      } catch (error) {
        throw new EnvironmentError(`Prometheus and Alertmanager did not start: ${(error as Error).message}`, {
          cause: error,
        });
      }
      await monitoring.setReceiver(url);
    }
    this.fallback?.setReceiver(url);
  }

  scenarios(): DemoScenario[] {
    return this.running.map(({ scenario, instance }) => {
      const base = {
        id: scenario.id,
        title: instance.title,
        runbookId: scenario.runbookId,
        alertname: scenario.alertname,
        story: instance.story,
        waits: scenario.waits,
        waitSeconds: scenario.waitSeconds,
        faultHolds: instance.holds(),
      };
      if (scenario.source === 'cloudwatch')
        return {
          ...base,
          source: 'cloudwatch' as const,
          alertLabels: { alertname: (instance as CloudWatchInstance).alarm },
        };
      return {
        ...base,
        source: 'prometheus' as const,
        alertLabels: { alertname: scenario.alertname, ...alertLabelsOf(instance as ScenarioInstance) },
        ...(this.fallback ? { alert: this.fallback.body(scenario.id) } : {}),
      };
    });
  }

  /**
   * The alerts seen so far: the real Alertmanager's (resolved once gone from it), or the stand-in's,
   * and the CloudWatch alarms that went to ALARM (with the fingerprint the platform gives them).
   */
  alerts(): SeenAlert[] {
    const prometheus = this.fallback ? this.fallback.state() : [...this.seen.values()];
    const alarms = [...this.world.aws.alarms.alarms.values()]
      .filter((alarm) => alarm.transitions.some((transition) => transition.to === 'ALARM'))
      .map((alarm): SeenAlert => {
        const fired = alarm.transitions.filter((transition) => transition.to === 'ALARM').at(-1)!;
        const firing = alarm.state.value !== 'OK';
        return {
          alertname: alarm.definition.name,
          fingerprint: this.world.aws.alarms.fingerprint(alarm),
          labels: { alertname: alarm.definition.name, ...alarm.definition.dimensions },
          state: firing ? 'firing' : 'resolved',
          startsAt: new Date(fired.at * 1_000).toISOString(),
          ...(firing ? {} : { endsAt: new Date(alarm.state.at * 1_000).toISOString() }),
        };
      });
    return [...prometheus, ...alarms];
  }

  /** Where the simulated environment stands. */
  state() {
    const now = nowSeconds();
    const { world } = this;
    return {
      mode: this.mode,
      ...(this.fallbackReason ? { fallbackReason: this.fallbackReason } : {}),
      scenarios: this.running.map(({ scenario }) => scenario.id),
      nodes: [...world.hosts.values()].map((host) => ({
        name: host.name,
        instanceId: host.instanceId,
        memoryUsedBytes: world.nodeMemoryUsed(host.name, now),
        memoryPressure: world.hasMemoryPressure(host.name),
        ready:
          world.kube.nodes.get(host.name)?.status?.conditions?.find((condition) => condition.type === 'Ready')
            ?.status ?? 'Unknown',
        kubelet: host.kubelet.active ? 'active' : 'failed',
        unschedulable: world.kube.nodes.get(host.name)?.spec?.unschedulable === true,
      })),
      crashLoopingPods: [...world.kube.pods.values()].filter(isCrashLooping).map(podKey),
      filesystems: [...world.hosts.values()].flatMap((host) =>
        host.filesystems
          .filter((filesystem) => filesystem.mountpoint === '/')
          .map((filesystem) => ({
            instance: `${host.ip}:9100`,
            mountpoint: filesystem.mountpoint,
            freePercent: Math.round(filesystem.freePercent(now) * 100) / 100,
            journalBytes: Math.round(filesystem.journalBytes(now)),
          })),
      ),
      alerts: this.alerts().map(({ labels: _labels, ...alert }) => alert),
      scrapes: this.targets.scrapeCounts(),
      aws: world.aws.summary(now),
    };
  }

  alarms(): EnvironmentAlarms {
    return {
      alarms: [...this.world.aws.alarms.alarms.values()].map((alarm) => ({
        name: alarm.definition.name,
        state: alarm.state.value,
        since: new Date(alarm.state.at * 1_000).toISOString(),
        transitions: alarm.transitions.map((transition) => ({
          from: transition.from,
          to: transition.to,
          at: new Date(transition.at * 1_000).toISOString(),
        })),
      })),
      deliveries: this.world.aws.alarms.deliveries,
    };
  }

  requests(): EnvironmentRequests {
    return {
      kube: this.world.kube.requests,
      prometheus: this.fallback ? this.fallback.prometheus.requests : (this.monitoring?.queries() ?? []),
      aws: this.aws.requests,
      alertmanager: this.fallback?.deliveries ?? [],
      eventbridge: this.world.aws.alarms.deliveries,
    };
  }

  get events(): WorldEvent[] {
    return this.world.events;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    await (await this.monitoringStarted?.catch(() => undefined))?.stop();
    await this.fallback?.stop();
    await Promise.all([this.world.stop(), this.targets.stop(), this.aws.stop(), closeServer(this.control)]);
  }

  /** Follows Alertmanager's alerts: what fires, and what resolves (gone from its API). */
  private watchAlerts(): void {
    if (this.stopped) return;
    const poll = async () => {
      if (this.stopped || !this.monitoring) return;
      let current: AlertmanagerApiAlert[];
      try {
        current = await this.monitoring.alerts();
      } catch {
        return;
      }
      const active = new Set(current.map((alert) => alert.fingerprint));
      for (const alert of current) {
        if (this.seen.get(alert.fingerprint)?.state === 'firing') continue;
        this.seen.set(alert.fingerprint, {
          alertname: alert.labels.alertname ?? '',
          fingerprint: alert.fingerprint,
          labels: alert.labels,
          state: 'firing',
          startsAt: alert.startsAt,
        });
        this.world.note(
          `alertmanager: ${alert.labels.alertname} firing (rule ${alert.labels.alertname} held for its for:); webhook to ${this.receiverUrl ?? 'no receiver yet'}`,
        );
      }
      for (const alert of this.seen.values()) {
        if (alert.state !== 'firing' || active.has(alert.fingerprint)) continue;
        alert.state = 'resolved';
        alert.endsAt = new Date().toISOString();
        this.world.note(
          `alertmanager: ${alert.alertname} resolved; "resolved" webhook after its group interval`,
        );
      }
    };
    this.watchTimer = setInterval(() => void poll(), 1_000);
  }

  private narrate(request: KubeRequest): void {
    const restart = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)$/.exec(request.path);
    if (request.method === 'PATCH' && restart)
      this.world.note(
        `kubernetes-api: PATCH deployment ${restart[1]}/${restart[2]} (rollout restart): the Deployment controller replaces its pods`,
      );
    const eviction = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/.exec(request.path);
    if (request.method === 'POST' && eviction)
      this.world.note(
        `kubernetes-api: eviction of ${eviction[1]}/${eviction[2]}: its ReplicaSet starts a replacement`,
      );
    const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(request.path);
    if (request.method === 'PATCH' && node) {
      const unschedulable = (request.body as { spec?: { unschedulable?: boolean } } | undefined)?.spec
        ?.unschedulable;
      this.world.note(`kubernetes-api: node ${node[1]} ${unschedulable ? 'cordoned' : 'made schedulable'}`);
    }
  }

  private async handleControl(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.endpoints.control);
    const method = request.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/')
      return sendJson(response, 200, {
        demoTarget: true,
        description:
          'runbook-autopilot DEMO TARGET: a simulated Kubernetes cluster with its exporters, monitored by Prometheus and Alertmanager (or a fallback), and the AWS account it runs in (every service the AWS tools call, CloudWatch alarms sent to the platform as EventBridge events), on 127.0.0.1. Nothing real is touched.',
        mode: this.mode,
        endpoints: this.endpoints,
        routes: [
          'GET /scenarios',
          'PUT /receiver {"url"}',
          'GET /state',
          'GET /alerts (and, with the real Alertmanager, its webhook notification counters)',
          'GET /requests',
          'GET /alarms (the CloudWatch alarms and the state changes delivered to /events)',
          'GET /events',
        ],
      });
    if (method === 'GET' && url.pathname === '/scenarios')
      return sendJson(response, 200, { scenarios: this.scenarios() });
    if (method === 'GET' && url.pathname === '/state') return sendJson(response, 200, this.state());
    if (method === 'GET' && url.pathname === '/alerts')
      return sendJson(response, 200, {
        alerts: this.alerts(),
        ...(this.monitoring ? { notifications: await this.monitoring.notifications() } : {}),
      });
    if (method === 'GET' && url.pathname === '/requests') return sendJson(response, 200, this.requests());
    if (method === 'GET' && url.pathname === '/alarms') return sendJson(response, 200, this.alarms());
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
      try {
        await this.setReceiver(String(receiver));
      } catch (error) {
        return sendJson(response, 502, { error: (error as Error).message });
      }
      this.world.note(`alertmanager: receiver runbook-autopilot is ${String(receiver)}`);
      return sendJson(response, 200, { url: receiver });
    }
    return sendJson(response, 404, { error: `no route ${method} ${url.pathname}` });
  }
}

/** The labels that single out the scenario's alerts: the series' labels the rule keeps, unless it says. */
function alertLabelsOf(instance: ScenarioInstance): Record<string, string> {
  if (instance.alertMatch) return instance.alertMatch;
  const kept = instance.alertLabelsKept;
  const { labels } = instance.alertSeries;
  return kept ? Object.fromEntries(Object.entries(labels).filter(([name]) => kept.includes(name))) : labels;
}

async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`the body is over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
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

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

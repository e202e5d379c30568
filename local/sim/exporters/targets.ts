import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MONITORING } from '../cluster.ts';
import {
  type MetricFamily,
  renderExposition,
  type Sample,
  type StoredSeries,
  storedLabels,
} from '../exposition.ts';
import type { Host } from '../host.ts';
import { nowSeconds, type World } from '../world.ts';
import { ApplicationEndpoints } from './applications.ts';
import { kubeStateMetrics } from './kube-state-metrics.ts';
import { cadvisorMetrics, kubeletMetrics } from './kubelet.ts';
import { nodeExporterMetrics } from './node-exporter.ts';

/**
 * The scrape targets of the simulated cluster, one HTTP server per exporter as on a real cluster
 * (kube-state-metrics once, node-exporter and the kubelet once per node), and the jobs Prometheus
 * scrapes them in: named and labelled as kube-prometheus-stack's ServiceMonitors make them, with the
 * labels its relabelings produce (`job`, `instance` as the pod or node address, `namespace`,
 * `service`, `endpoint`, `pod`, `container`, and `node`/`metrics_path` for the kubelet). Prometheus
 * discovers them over HTTP service discovery, so a target whose pod is replaced changes its labels as
 * it would through the Kubernetes service discovery.
 */

export type ScrapeJobId =
  | 'kube-state-metrics'
  | 'node-exporter'
  | 'kubelet'
  | 'kubelet-cadvisor'
  | 'prometheus'
  | 'alertmanager'
  | 'applications';

export interface ScrapeJob {
  id: ScrapeJobId;
  /** The job_name prometheus-operator generates for the ServiceMonitor endpoint. */
  jobName: string;
  path: string;
  honorLabels: boolean;
}

export const SCRAPE_JOBS: readonly ScrapeJob[] = [
  {
    id: 'kube-state-metrics',
    jobName: `serviceMonitor/${MONITORING.namespace}/${MONITORING.kubeStateMetrics}/0`,
    path: '/metrics',
    honorLabels: true,
  },
  {
    id: 'node-exporter',
    jobName: `serviceMonitor/${MONITORING.namespace}/${MONITORING.nodeExporter}/0`,
    path: '/metrics',
    honorLabels: false,
  },
  {
    id: 'kubelet',
    jobName: `serviceMonitor/${MONITORING.namespace}/${MONITORING.kubeletService}/0`,
    path: '/metrics',
    honorLabels: true,
  },
  {
    id: 'kubelet-cadvisor',
    jobName: `serviceMonitor/${MONITORING.namespace}/${MONITORING.kubeletService}/1`,
    path: '/metrics/cadvisor',
    honorLabels: true,
  },
  {
    id: 'prometheus',
    jobName: `serviceMonitor/${MONITORING.namespace}/kube-prometheus-stack-prometheus/0`,
    path: '/metrics',
    honorLabels: false,
  },
  {
    id: 'alertmanager',
    jobName: `serviceMonitor/${MONITORING.namespace}/kube-prometheus-stack-alertmanager/0`,
    path: '/metrics',
    honorLabels: false,
  },
  {
    // prometheus-operator makes one job per ServiceMonitor; here one job holds every application's
    // targets, each carrying its own `job` label (the Service), which is what rules and queries see.
    id: 'applications',
    jobName: 'serviceMonitor/applications',
    path: '/metrics',
    honorLabels: false,
  },
];

export interface ScrapeTarget {
  job: ScrapeJobId;
  /** Where Prometheus actually scrapes it (127.0.0.1). */
  address: string;
  /** The labels the target's series get (instance is the address in the simulated cluster). */
  labels: Record<string, string>;
  /** What it exposes now; undefined for a real process (Prometheus, Alertmanager) we do not simulate. */
  families?: () => MetricFamily[];
  /** Where on `address` it is scraped, when not the job's path (`__metrics_path__`). */
  metricsPath?: string;
  /** Whether a scrape gets an answer now (default: always): `up` is 0 otherwise. */
  healthy?: () => boolean;
}

/** What an exporter that is not running answers a scrape: nothing (the connection is dropped). */
export class TargetUnreachableError extends Error {
  override readonly name = 'TargetUnreachableError';
}

/** The kubelet's endpoints answer only while its unit is active. */
function whileKubeletRuns(host: Host, families: () => MetricFamily[]): () => MetricFamily[] {
  return () => {
    if (!host.kubelet.active)
      throw new TargetUnreachableError(`dial tcp ${host.ip}:10250: connect: connection refused`);
    return families();
  };
}

/** One exporter's HTTP server: its paths render their families at scrape time. */
class ExporterServer {
  scrapes = 0;

  private constructor(
    private readonly server: Server,
    readonly address: string,
  ) {}

  static async start(paths: Record<string, () => MetricFamily[]>): Promise<ExporterServer> {
    let exporter: ExporterServer | undefined;
    const server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0]!;
      const families = paths[path];
      if (request.method !== 'GET' || !families) {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end(`404 page not found: the exporter serves ${Object.keys(paths).join(', ')}\n`);
        return;
      }
      exporter!.scrapes += 1;
      let body: string;
      try {
        body = renderExposition(families(), nowSeconds());
      } catch (error) {
        if (error instanceof TargetUnreachableError) {
          request.socket.destroy();
          return;
        }
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(`error collecting metrics: ${(error as Error).message}\n`);
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      response.end(body);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    exporter = new ExporterServer(server, `127.0.0.1:${(server.address() as AddressInfo).port}`);
    return exporter;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A real monitoring process scraped like the chart's ServiceMonitors scrape it. */
export interface SelfMonitoredProcess {
  job: 'prometheus' | 'alertmanager';
  address: string;
}

/** The exporters of the world and the targets Prometheus discovers from them. */
export class ScrapeTargets {
  private readonly selfMonitored: SelfMonitoredProcess[] = [];

  private constructor(
    private readonly world: World,
    private readonly kubeStateMetricsServer: ExporterServer,
    private readonly nodeExporters: Map<string, ExporterServer>,
    private readonly kubelets: Map<string, ExporterServer>,
    private readonly applications: ApplicationEndpoints,
    private readonly discovery: Server,
    readonly discoveryUrl: string,
  ) {}

  static async start(world: World): Promise<ScrapeTargets> {
    const ksm = await ExporterServer.start({ '/metrics': () => kubeStateMetrics(world) });
    const nodeExporters = new Map<string, ExporterServer>();
    const kubelets = new Map<string, ExporterServer>();
    for (const host of world.hosts.values()) {
      nodeExporters.set(
        host.name,
        await ExporterServer.start({ '/metrics': () => nodeExporterMetrics(world, host) }),
      );
      kubelets.set(
        host.name,
        await ExporterServer.start({
          '/metrics': whileKubeletRuns(host, () => kubeletMetrics(world, host)),
          '/metrics/cadvisor': whileKubeletRuns(host, () => cadvisorMetrics(world, host)),
        }),
      );
    }
    const applications = await ApplicationEndpoints.start(world);
    let targets: ScrapeTargets | undefined;
    const discovery = createServer((request, response) => {
      const job = SCRAPE_JOBS.find((candidate) => request.url === `/sd/${candidate.id}`);
      if (!job || !targets) {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: `no service discovery at ${request.url}` }));
        return;
      }
      // The HTTP SD format: target groups of addresses with their labels.
      const groups = targets
        .targets()
        .filter((target) => target.job === job.id)
        .map((target) => ({
          targets: [target.address],
          labels: {
            ...target.labels,
            ...(target.metricsPath ? { __metrics_path__: target.metricsPath } : {}),
          },
        }));
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(groups));
    });
    await new Promise<void>((resolve, reject) => {
      discovery.once('error', reject);
      discovery.listen(0, '127.0.0.1', () => resolve());
    });
    targets = new ScrapeTargets(
      world,
      ksm,
      nodeExporters,
      kubelets,
      applications,
      discovery,
      `http://127.0.0.1:${(discovery.address() as AddressInfo).port}`,
    );
    return targets;
  }

  /** Prometheus and Alertmanager scrape themselves as the chart sets them up, once they run. */
  addSelfMonitoring(process: SelfMonitoredProcess): void {
    this.selfMonitored.push(process);
  }

  sdUrl(job: ScrapeJobId): string {
    return `${this.discoveryUrl}/sd/${job}`;
  }

  /** Every target now, with its labels. */
  targets(): ScrapeTarget[] {
    const { world } = this;
    const targets: ScrapeTarget[] = [];
    const ksmPod = this.monitoringPod({ 'app.kubernetes.io/name': 'kube-state-metrics' });
    targets.push({
      job: 'kube-state-metrics',
      address: this.kubeStateMetricsServer.address,
      labels: {
        job: 'kube-state-metrics',
        instance: `${ksmPod?.status?.podIP ?? '10.0.3.40'}:8080`,
        namespace: MONITORING.namespace,
        service: MONITORING.kubeStateMetrics,
        endpoint: 'http',
        pod: ksmPod?.metadata?.name ?? MONITORING.kubeStateMetrics,
        container: 'kube-state-metrics',
      },
      families: () => kubeStateMetrics(world),
    });
    for (const host of world.hosts.values()) {
      const exporter = this.nodeExporters.get(host.name);
      if (exporter) targets.push(this.nodeExporterTarget(host, exporter));
      const kubelet = this.kubelets.get(host.name);
      if (!kubelet) continue;
      const labels = {
        job: 'kubelet',
        instance: `${host.ip}:10250`,
        namespace: 'kube-system',
        service: MONITORING.kubeletService,
        endpoint: 'https-metrics',
        node: host.name,
      };
      targets.push(
        {
          job: 'kubelet',
          address: kubelet.address,
          labels: { ...labels, metrics_path: '/metrics' },
          families: whileKubeletRuns(host, () => kubeletMetrics(world, host)),
          healthy: () => host.kubelet.active,
        },
        {
          job: 'kubelet-cadvisor',
          address: kubelet.address,
          labels: { ...labels, metrics_path: '/metrics/cadvisor' },
          families: whileKubeletRuns(host, () => cadvisorMetrics(world, host)),
          healthy: () => host.kubelet.active,
        },
      );
    }
    for (const application of this.applications.targets())
      targets.push({ job: 'applications', ...application });
    for (const process of this.selfMonitored) {
      const name = process.job === 'prometheus' ? 'prometheus' : 'alertmanager';
      const pod = this.monitoringPod({ 'app.kubernetes.io/name': name });
      targets.push({
        job: process.job,
        address: process.address,
        labels: {
          job: `kube-prometheus-stack-${name}`,
          instance: `${pod?.status?.podIP ?? '10.0.3.41'}:${name === 'prometheus' ? 9090 : 9093}`,
          namespace: MONITORING.namespace,
          service: `kube-prometheus-stack-${name}`,
          endpoint: 'http-web',
          pod: pod?.metadata?.name ?? name,
          container: name,
        },
      });
    }
    return targets;
  }

  /**
   * Every simulated series as Prometheus stores it after a scrape: target labels applied with the
   * job's honor_labels, plus `up` for every target. Backfill and the fallback Prometheus read these.
   */
  storedSeries(): StoredSeries[] {
    const series: StoredSeries[] = [];
    for (const target of this.targets()) {
      const job = SCRAPE_JOBS.find((candidate) => candidate.id === target.job)!;
      let families: MetricFamily[] = [];
      let reachable = target.healthy?.() ?? true;
      if (reachable)
        try {
          families = target.families?.() ?? [];
        } catch (error) {
          if (!(error instanceof TargetUnreachableError)) throw error;
          reachable = false;
        }
      const up: Sample = { labels: {}, value: reachable ? 1 : 0 };
      series.push({ labels: storedLabels('up', {}, target.labels, job.honorLabels), sample: up });
      for (const family of families)
        for (const sample of family.samples)
          series.push({
            labels: storedLabels(family.name, sample.labels, target.labels, job.honorLabels),
            sample,
            type: family.type,
          });
    }
    return series;
  }

  /** How often each exporter has been scraped. */
  scrapeCounts(): Record<string, number> {
    const counts: Record<string, number> = { 'kube-state-metrics': this.kubeStateMetricsServer.scrapes };
    for (const [node, server] of this.nodeExporters) counts[`node-exporter ${node}`] = server.scrapes;
    for (const [node, server] of this.kubelets) counts[`kubelet ${node}`] = server.scrapes;
    return counts;
  }

  async stop(): Promise<void> {
    this.discovery.closeAllConnections();
    await Promise.all([
      new Promise<void>((resolve) => this.discovery.close(() => resolve())),
      this.kubeStateMetricsServer.stop(),
      this.applications.stop(),
      ...[...this.nodeExporters.values(), ...this.kubelets.values()].map((server) => server.stop()),
    ]);
  }

  private nodeExporterTarget(host: Host, exporter: ExporterServer): ScrapeTarget {
    const pod = this.world.kube
      .podsMatching(MONITORING.namespace, {
        matchLabels: { 'app.kubernetes.io/name': 'prometheus-node-exporter' },
      })
      .find((candidate) => candidate.spec?.nodeName === host.name);
    return {
      job: 'node-exporter',
      address: exporter.address,
      labels: {
        job: 'node-exporter',
        instance: `${host.ip}:9100`,
        namespace: MONITORING.namespace,
        service: MONITORING.nodeExporter,
        endpoint: 'http-metrics',
        pod: pod?.metadata?.name ?? MONITORING.nodeExporter,
        container: 'node-exporter',
      },
      families: () => nodeExporterMetrics(this.world, host),
    };
  }

  private monitoringPod(matchLabels: Record<string, string>) {
    return this.world.kube.podsMatching(MONITORING.namespace, { matchLabels })[0];
  }
}

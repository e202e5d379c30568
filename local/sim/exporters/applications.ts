import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { FamilySet, type MetricFamily, type MetricType, renderExposition } from '../exposition.ts';
import { nowSeconds, podCreated, type ServiceMonitor, type World } from '../world.ts';

/**
 * The applications' own metrics endpoints: every pod of a Service that has a ServiceMonitor
 * (`world.addServiceMonitor`) is a scrape target, labelled as prometheus-operator labels them (`job`
 * and `service` the Service, `namespace`, `pod`, `container`, `endpoint` the port's name, `instance`
 * the pod IP and port). One HTTP server answers for all of them on `/metrics/<namespace>/<pod>`; a pod
 * whose process hangs (`world.hangPod`) never answers, so its scrape times out and `up` is 0, as
 * TargetDown sees it.
 */

const D = (help: string, type: MetricType = 'gauge') => ({ help, type });

const APPLICATION: Record<string, { help: string; type: MetricType }> = {
  process_start_time_seconds: D('Start time of the process since unix epoch in seconds.'),
  http_requests_total: D('Total number of HTTP requests by status code and method.', 'counter'),
};

/** Requests a healthy replica serves per second (http_requests_total grows at this rate). */
const REQUESTS_PER_SECOND = 12;

/** A pod's metrics endpoint, as the service discovery gives it to Prometheus. */
export interface ApplicationTarget {
  address: string;
  metricsPath: string;
  labels: Record<string, string>;
  families: () => MetricFamily[];
  /** The scrape gets an answer (the process is not hung). */
  healthy: () => boolean;
}

function applicationMetrics(pod: V1Pod): MetricFamily[] {
  const set = new FamilySet(APPLICATION);
  const started = podCreated(pod);
  set.add('process_start_time_seconds', {}, started, started);
  set.add(
    'http_requests_total',
    { code: '200', method: 'GET' },
    (time) => Math.floor(REQUESTS_PER_SECOND * Math.max(0, time - started)),
    started,
  );
  return set.list();
}

export class ApplicationEndpoints {
  private constructor(
    private readonly world: World,
    private readonly server: Server,
    readonly address: string,
  ) {}

  static async start(world: World): Promise<ApplicationEndpoints> {
    const server = createServer((request, response) => {
      const match = /^\/metrics\/([^/]+)\/([^/?]+)/.exec(request.url ?? '');
      const pod = match ? world.pod(decodeURIComponent(match[1]!), decodeURIComponent(match[2]!)) : undefined;
      if (request.method !== 'GET' || !pod) {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end(`404 page not found: no pod at ${request.url}\n`);
        return;
      }
      // A hung process accepts the connection and never answers: the scrape times out.
      if (world.isHung(pod)) return;
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      response.end(renderExposition(applicationMetrics(pod), nowSeconds()));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new ApplicationEndpoints(world, server, `127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  /** Every monitored pod that has an address, now. */
  targets(): ApplicationTarget[] {
    const { world } = this;
    return [...world.serviceMonitors.values()].flatMap((monitor) => this.targetsOf(monitor));
  }

  private targetsOf(monitor: ServiceMonitor): ApplicationTarget[] {
    const { world } = this;
    const service = world.kube.services.get(`${monitor.namespace}/${monitor.service}`);
    if (!service?.spec?.selector) return [];
    return world.kube
      .podsMatching(monitor.namespace, { matchLabels: service.spec.selector })
      .filter((pod) => pod.status?.podIP && pod.status.phase === 'Running')
      .map((pod) => {
        const name = pod.metadata!.name!;
        return {
          address: this.address,
          metricsPath: `/metrics/${encodeURIComponent(monitor.namespace)}/${encodeURIComponent(name)}`,
          labels: {
            job: monitor.service,
            instance: `${pod.status!.podIP}:${monitor.port}`,
            namespace: monitor.namespace,
            service: monitor.service,
            endpoint: monitor.endpoint,
            pod: name,
            container: pod.spec?.containers[0]?.name ?? monitor.service,
          },
          families: () => applicationMetrics(pod),
          healthy: () => !world.isHung(pod),
        };
      });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MONITORING as CHART, DEMO_NODES, seedCluster } from '../../../local/sim/cluster.ts';
import { SCRAPE_JOBS, ScrapeTargets } from '../../../local/sim/exporters/targets.ts';
import { SCENARIOS } from '../../../local/sim/scenarios/index.ts';
import { World } from '../../../local/sim/world.ts';
import { describeWithMonitoring } from '../../support/monitoring.ts';

/**
 * The exporters as Prometheus sees them: discovered over HTTP SD, scraped over HTTP in the text format,
 * with kube-state-metrics', node-exporter's and the kubelet's real names and the label traps their
 * scrape configuration makes.
 */

interface Group {
  targets: string[];
  labels: Record<string, string>;
}

let world: World;
let targets: ScrapeTargets;

beforeAll(async () => {
  world = await World.start();
  seedCluster(world);
  for (const scenario of SCENARIOS) scenario.setup(world);
  world.tick();
  targets = await ScrapeTargets.start(world);
});

afterAll(async () => {
  await targets?.stop();
  await world?.stop();
});

async function discover(job: string): Promise<Group[]> {
  const response = await fetch(targets.sdUrl(job as never));
  expect(response.status).toBe(200);
  return (await response.json()) as Group[];
}

async function scrape(group: Group, path: string): Promise<{ contentType: string; text: string }> {
  const response = await fetch(`http://${group.targets[0]}${path}`);
  expect(response.status).toBe(200);
  return { contentType: response.headers.get('content-type') ?? '', text: await response.text() };
}

function lines(text: string, metric: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `));
}

describe('simulated exporters', () => {
  it('are discovered over HTTP service discovery, one target per exporter, with the chart labels', async () => {
    // Act
    const ksm = await discover('kube-state-metrics');
    const nodeExporters = await discover('node-exporter');
    const cadvisor = await discover('kubelet-cadvisor');

    // Assess
    expect(ksm).toHaveLength(1);
    expect(ksm[0]!.labels).toMatchObject({
      job: 'kube-state-metrics',
      namespace: CHART.namespace,
      service: CHART.kubeStateMetrics,
      endpoint: 'http',
      container: 'kube-state-metrics',
    });
    expect(ksm[0]!.labels.pod).toMatch(/^kube-prometheus-stack-kube-state-metrics-[a-z0-9]+-[a-z0-9]+$/);
    expect(ksm[0]!.labels.instance).toMatch(/^10\.0\.3\.\d+:8080$/);
    // Every node, the baseline's and those scenarios add
    const hosts = [...world.hosts.values()];
    expect(hosts.map((host) => host.ip)).toEqual(
      expect.arrayContaining(Object.values(DEMO_NODES).map((node) => node.ip)),
    );
    expect(nodeExporters.map((group) => group.labels.instance).sort()).toEqual(
      hosts.map((host) => `${host.ip}:9100`).sort(),
    );
    expect(new Set(nodeExporters.map((group) => group.targets[0])).size).toBe(hosts.length);
    expect(cadvisor.find((group) => group.labels.node === DEMO_NODES.disk.name)?.labels).toEqual({
      job: 'kubelet',
      instance: `${DEMO_NODES.disk.ip}:10250`,
      namespace: 'kube-system',
      service: CHART.kubeletService,
      endpoint: 'https-metrics',
      node: DEMO_NODES.disk.name,
      metrics_path: '/metrics/cadvisor',
    });
    expect(SCRAPE_JOBS.map((job) => job.honorLabels)).toEqual([true, false, true, true, false, false, false]);
  });

  it("exposes kube-state-metrics v2 series about objects, which carry no label of the exporter's own pod", async () => {
    // Act
    const [group] = await discover('kube-state-metrics');
    const { contentType, text } = await scrape(group!, '/metrics');

    // Assess
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(text).toContain('# TYPE kube_pod_container_status_restarts_total counter');
    expect(lines(text, 'kube_deployment_spec_replicas')).toContain(
      'kube_deployment_spec_replicas{namespace="shop",deployment="cart"} 3',
    );
    // Every scenario plays in this world: the crash loop is the one CrashLoopBackOff.
    const waiting = lines(text, 'kube_pod_container_status_waiting_reason').filter((line) =>
      line.includes('CrashLoopBackOff'),
    );
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatch(
      /^kube_pod_container_status_waiting_reason\{namespace="shop",pod="checkout-[^"]+",uid="[^"]+",container="checkout",reason="CrashLoopBackOff"\} 1$/,
    );
    expect(lines(text, 'kube_pod_owner').some((line) => line.includes('owner_kind="ReplicaSet"'))).toBe(true);
    expect(lines(text, 'kube_replicaset_owner').some((line) => line.includes('owner_name="checkout"'))).toBe(
      true,
    );
    expect(
      lines(text, 'kube_node_status_condition').filter((line) =>
        line.includes('condition="MemoryPressure",status="true"'),
      ),
    ).toContain(
      `kube_node_status_condition{node="${DEMO_NODES.memory.name}",condition="MemoryPressure",status="true"} 1`,
    );
    for (const metric of [
      'kube_deployment_status_replicas_available',
      'kube_deployment_status_replicas_updated',
      'kube_deployment_status_condition',
      'kube_deployment_metadata_generation',
      'kube_node_spec_unschedulable',
      'kube_persistentvolumeclaim_info',
      'kube_horizontalpodautoscaler_spec_max_replicas',
      'kube_horizontalpodautoscaler_spec_min_replicas',
      'kube_horizontalpodautoscaler_status_current_replicas',
      'kube_job_status_failed',
      'kube_job_status_succeeded',
      'kube_pod_status_phase',
      'kube_pod_status_ready',
      'kube_pod_container_status_last_terminated_reason',
    ])
      expect(lines(text, metric).length, metric).toBeGreaterThan(0);
    expect(lines(text, 'kube_job_info')[0]).toMatch(/job_name="nightly-report-\d+"/);
  });

  it('stores object series with the exporter pod’s pod, container and instance (honor_labels), and up for each target', () => {
    // Act
    const series = targets.storedSeries();
    const replicas = series.find(
      (entry) =>
        entry.labels.__name__ === 'kube_deployment_spec_replicas' && entry.labels.deployment === 'checkout',
    );
    const waiting = series.find(
      (entry) =>
        entry.labels.__name__ === 'kube_pod_container_status_waiting_reason' &&
        entry.labels.reason === 'CrashLoopBackOff',
    );
    const ups = series.filter((entry) => entry.labels.__name__ === 'up' && entry.labels.namespace !== 'shop');

    // Assess: the deployment's series carries kube-state-metrics' own pod; the pod's series keeps its own
    expect(replicas?.labels).toMatchObject({
      namespace: 'shop',
      container: 'kube-state-metrics',
      job: 'kube-state-metrics',
      service: CHART.kubeStateMetrics,
    });
    expect(replicas?.labels.pod).toMatch(/^kube-prometheus-stack-kube-state-metrics-/);
    expect(replicas?.labels.instance).toMatch(/:8080$/);
    expect(waiting?.labels).toMatchObject({
      namespace: 'shop',
      container: 'checkout',
      job: 'kube-state-metrics',
    });
    expect(waiting?.labels.pod).toMatch(/^checkout-/);
    expect(ups).toHaveLength(1 + 3 * world.hosts.size);
  });

  it('drops the scrapes of a stopped kubelet: its targets stay discovered, with up 0 and no series', async () => {
    // Prepare: a scenario whose node's kubelet has stopped
    const silent = [...world.hosts.values()].find((host) => !host.kubelet.active);
    expect(silent).toBeDefined();
    const group = (await discover('kubelet')).find((candidate) => candidate.labels.node === silent!.name)!;

    // Act
    const scraped = await fetch(`http://${group.targets[0]}/metrics`).then(
      () => 'answered',
      (error: Error) => error.name,
    );
    const stored = targets
      .storedSeries()
      .filter((entry) => entry.labels.node === silent!.name && entry.labels.job === 'kubelet');

    // Assess
    expect(scraped).toBe('TypeError');
    expect(
      stored.map((entry) => [entry.labels.__name__, entry.labels.metrics_path, entry.sample.value]),
    ).toEqual([
      ['up', '/metrics', 0],
      ['up', '/metrics/cadvisor', 0],
    ]);
  });

  it("discovers the pods behind a ServiceMonitor's Service as targets; a hung pod's scrape gets no answer", async () => {
    // Act: the target-down scenario monitors payments and hangs one of its two pods
    const groups = await discover('applications');
    const payments = groups.filter((group) => group.labels.job === 'payments');
    const hung = payments.find((group) => world.isHung(world.pod('shop', group.labels.pod!)!))!;
    const healthy = payments.find((group) => group !== hung)!;
    const answer = await scrape(healthy, healthy.labels.__metrics_path__!);
    const timedOut = await fetch(`http://${hung.targets[0]}${hung.labels.__metrics_path__}`, {
      signal: AbortSignal.timeout(300),
    }).then(
      () => 'answered',
      (error: Error) => error.name,
    );
    const ups = targets
      .storedSeries()
      .filter((entry) => entry.labels.__name__ === 'up' && entry.labels.job === 'payments');

    // Assess: labelled as prometheus-operator labels a ServiceMonitor's targets
    expect(payments).toHaveLength(2);
    expect(healthy.labels).toMatchObject({
      job: 'payments',
      namespace: 'shop',
      service: 'payments',
      endpoint: 'http-metrics',
      container: 'payments',
      __metrics_path__: `/metrics/shop/${healthy.labels.pod}`,
    });
    expect(healthy.labels.instance).toMatch(/^10\.0\.\d+\.\d+:8080$/);
    expect(lines(answer.text, 'http_requests_total')).toHaveLength(1);
    expect(timedOut).toBe('TimeoutError');
    expect(ups.map((entry) => [entry.labels.pod, entry.sample.value]).sort()).toEqual(
      [
        [hung.labels.pod, 0],
        [healthy.labels.pod, 1],
      ].sort(),
    );
    expect(ups.every((entry) => entry.labels.__metrics_path__ === undefined)).toBe(true);
  });

  it('exposes node-exporter per node without a node label: hosts are known by their IP', async () => {
    // Act
    const group = (await discover('node-exporter')).find(
      (candidate) => candidate.labels.instance === `${DEMO_NODES.disk.ip}:9100`,
    )!;
    const { text } = await scrape(group, '/metrics');
    const again = await scrape(group, '/metrics');

    // Assess
    expect(group.labels.pod).toMatch(/^kube-prometheus-stack-prometheus-node-exporter-/);
    expect(text).not.toMatch(/\bnode="/);
    expect(lines(text, 'node_uname_info')[0]).toContain(`nodename="${DEMO_NODES.disk.name}"`);
    const avail = lines(text, 'node_filesystem_avail_bytes').find((line) => line.includes('mountpoint="/"'))!;
    const size = lines(text, 'node_filesystem_size_bytes').find((line) => line.includes('mountpoint="/"'))!;
    const free = Number(avail.split(' ')[1]) / Number(size.split(' ')[1]);
    expect(free).toBeGreaterThan(0.13);
    expect(free).toBeLessThan(0.14);
    expect(avail).toContain('device="/dev/nvme0n1p1",fstype="xfs",mountpoint="/"');
    for (const metric of [
      'node_memory_MemAvailable_bytes',
      'node_memory_MemTotal_bytes',
      'node_filesystem_readonly',
      'node_filesystem_size_bytes',
    ])
      expect(lines(text, metric).length, metric).toBeGreaterThan(0);
    // counters only grow
    const idle = (body: string) =>
      Number(
        lines(body, 'node_cpu_seconds_total')
          .find((line) => line.includes('cpu="0",mode="idle"'))!
          .split(' ')[1],
      );
    expect(idle(again.text)).toBeGreaterThanOrEqual(idle(text));
    expect(lines(text, 'node_cpu_seconds_total')).toHaveLength(4 * 8);
  });

  it('exposes cAdvisor per node: a series per container and per pod cgroup (container=""), throttling where limited', async () => {
    // Act
    const group = (await discover('kubelet-cadvisor')).find(
      (candidate) => candidate.labels.node === DEMO_NODES.memory.name,
    )!;
    const { text } = await scrape(group, '/metrics/cadvisor');
    const kubelet = (await discover('kubelet')).find(
      (candidate) => candidate.labels.node === DEMO_NODES.spare.name,
    )!;
    const { text: kubeletText } = await scrape(kubelet, '/metrics');

    // Assess: the leaking cart container holds about 14 GiB
    const cart = lines(text, 'container_memory_working_set_bytes').filter((line) =>
      line.includes('pod="cart-'),
    );
    expect(cart.filter((line) => line.includes('container="cart"'))).toHaveLength(1);
    expect(cart.filter((line) => line.includes('container=""'))).toHaveLength(1);
    expect(Number(cart[0]!.split(' ')[1]) / 2 ** 30).toBeGreaterThan(13.9);
    expect(
      lines(text, 'container_cpu_cfs_periods_total').some((line) => line.includes('container="cart"')),
    ).toBe(true);
    expect(lines(text, 'container_cpu_cfs_throttled_periods_total').length).toBeGreaterThan(0);
    expect(lines(text, 'container_memory_working_set_bytes').some((line) => line.includes('id="/"'))).toBe(
      true,
    );
    expect(lines(kubeletText, 'kubelet_volume_stats_capacity_bytes')).toEqual([
      `kubelet_volume_stats_capacity_bytes{namespace="shop",persistentvolumeclaim="data-orders-db-0"} ${20 * 2 ** 30}`,
    ]);
    expect(lines(kubeletText, 'kubelet_volume_stats_available_bytes')).toHaveLength(1);
  });
});

describeWithMonitoring('simulated exporters pass promtool', (binaries) => {
  it.each(['kube-state-metrics', 'node-exporter', 'kubelet', 'kubelet-cadvisor'])(
    '%s: promtool check metrics accepts what it exposes',
    async (job) => {
      // Prepare
      const [group] = await discover(job);
      const path = SCRAPE_JOBS.find((candidate) => candidate.id === job)!.path;
      const { text } = await scrape(group!, path);

      // Act: promtool lints the exposition from stdin
      const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = execFile(binaries.promtool, ['check', 'metrics'], (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
        );
        child.stdin?.end(text);
      });

      // Assess: no problem but the one real node-exporter has too (its names follow /proc/meminfo)
      const problems = result.output
        .split('\n')
        .filter(Boolean)
        .filter(
          (line) =>
            !/^node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'$/.test(line),
        );
      expect(problems).toEqual([]);
      if (job !== 'node-exporter') expect(result.code).toBe(0);
    },
  );
});

import { afterEach, describe, expect, it } from 'vitest';
import { parseQuantity } from '../../../functions/tools/kubernetes/quantity.ts';
import { seedCluster } from '../../../local/sim/cluster.ts';
import { ScrapeTargets } from '../../../local/sim/exporters/targets.ts';
import { GI } from '../../../local/sim/host.ts';
import { SCENARIOS } from '../../../local/sim/scenarios/index.ts';
import type { PrometheusScenario } from '../../../local/sim/scenarios/types.ts';
import { World } from '../../../local/sim/world.ts';

/**
 * The workload scenarios break the cluster the way their runbooks remediate, and the remediation
 * heals it: each fix here is what the runbook's tool asks the Kubernetes API to do, applied to the
 * simulated cluster directly (the tools' own tests cover their API calls; the e2e test runs the whole
 * loop with Prometheus and Alertmanager).
 */

const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function playing(id: string) {
  const scenario = SCENARIOS.find((candidate) => candidate.id === id) as PrometheusScenario;
  const world = await World.start();
  stops.push(() => world.stop());
  seedCluster(world);
  const instance = scenario.setup(world);
  world.tick();
  const targets = await ScrapeTargets.start(world);
  stops.push(() => targets.stop());
  const series = targets
    .storedSeries()
    .filter(
      (entry) =>
        entry.labels.__name__ === instance.alertSeries.metric &&
        Object.entries(instance.alertSeries.labels).every(([name, value]) => entry.labels[name] === value),
    );
  return { world, kube: world.kube, instance, series, scenario };
}

/** What the runbooks' k8s.rollout-undo does: the Deployment gets its previous template back. */
function rollBack(world: World, namespace: string, name: string, image: string) {
  world.kube.edit(world.kube.deployments, `${namespace}/${name}`, (deployment) => {
    deployment.spec!.template.spec!.containers[0]!.image = image;
  });
  world.kube.reconcile();
  world.tick();
}

function progressing(world: World, namespace: string, name: string) {
  return world.kube.deployments
    .get(`${namespace}/${name}`)
    ?.status?.conditions?.find((condition) => condition.type === 'Progressing');
}

describe('workload scenarios', () => {
  it('are not in the default demo, and each names the runbook and rule of its alert', () => {
    const workload = SCENARIOS.filter((scenario) =>
      [
        'evicted-pod',
        'image-pull-backoff',
        'rollout-stuck',
        'daemonset-pod-wedged',
        'job-failed',
        'hpa-maxed-out',
        'cpu-throttling',
        'pvc-filling',
        'target-down',
      ].includes(scenario.id),
    );
    expect(workload).toHaveLength(9);
    for (const scenario of workload) {
      expect(scenario.inDefaultSet, scenario.id).toBe(false);
      expect(scenario.rules.map((rule) => rule.alert)).toEqual([scenario.alertname]);
    }
  });

  it('evicted-pod: a Failed, Evicted catalog pod beside two ready replicas until it is deleted', async () => {
    // Prepare
    const { world, kube, instance, series } = await playing('evicted-pod');
    const name = instance.alertSeries.labels.pod!;
    const evicted = world.pod('shop', name)!;

    // Assess: the phase series the rule keeps, and the replicas the Deployment wants
    expect(instance.holds()).toBe(true);
    expect(series).toHaveLength(1);
    expect(series[0]!.sample.value).toBe(1);
    expect(evicted.status).toMatchObject({ phase: 'Failed', reason: 'Evicted' });
    expect(kube.deployments.get('shop/catalog')!.status).toMatchObject({ replicas: 2, readyReplicas: 2 });

    // Act: k8s.delete-pod
    kube.pods.delete(`shop/${name}`);
    kube.reconcile();

    // Assess: nothing is recreated for it
    expect(instance.holds()).toBe(false);
    expect(kube.podsMatching('shop', { matchLabels: { app: 'catalog' } })).toHaveLength(2);
  });

  it('image-pull-backoff: the new revision waits for a missing image until the rollout is undone', async () => {
    // Prepare
    const { world, kube, instance, series } = await playing('image-pull-backoff');
    const pods = () => kube.podsMatching('shop', { matchLabels: { app: 'recommendations' } });

    // Assess: one pending pod of the new revision beside the two old ones, before its deadline
    expect(instance.holds()).toBe(true);
    expect(series).toHaveLength(1);
    expect(
      pods()
        .map((pod) => pod.status!.phase)
        .sort(),
    ).toEqual(['Pending', 'Running', 'Running']);
    expect(progressing(world, 'shop', 'recommendations')).toMatchObject({ status: 'True' });
    expect(
      [...kube.events.values()].some(
        (event) => event.reason === 'Failed' && event.message?.includes(': not found'),
      ),
    ).toBe(true);

    // Act
    rollBack(world, 'shop', 'recommendations', 'registry.example.com/shop/recommendations:4.2.1');

    // Assess
    expect(instance.holds()).toBe(false);
    expect(pods().map((pod) => pod.status!.phase)).toEqual(['Running', 'Running']);
  });

  it('rollout-stuck: a new revision that never gets ready stalls past its deadline until it is undone', async () => {
    // Prepare
    const { world, kube, instance } = await playing('rollout-stuck');
    const deployment = () => kube.deployments.get('shop/inventory')!;

    // Assess: three old pods ready, one new pod running but not ready, Progressing False
    expect(instance.holds()).toBe(true);
    expect(progressing(world, 'shop', 'inventory')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(deployment().status).toMatchObject({ replicas: 4, readyReplicas: 3, updatedReplicas: 1 });

    // Act
    rollBack(world, 'shop', 'inventory', 'registry.example.com/shop/inventory:2.7.4');

    // Assess
    expect(instance.holds()).toBe(false);
    expect(progressing(world, 'shop', 'inventory')).toMatchObject({ status: 'True' });
    expect(deployment().status).toMatchObject({ replicas: 3, readyReplicas: 3 });
  });

  it('daemonset-pod-wedged: one node has no available log shipper until its pod is replaced', async () => {
    // Prepare
    const { kube, instance, series } = await playing('daemonset-pod-wedged');
    const status = () => kube.daemonSets.get('logging/fluent-bit')!.status!;
    const wedged = kube
      .podsMatching('logging', { matchLabels: { 'app.kubernetes.io/name': 'fluent-bit' } })
      .find((pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False'))!;

    // Assess
    expect(instance.holds()).toBe(true);
    expect(series[0]!.sample.value).toBe(2);
    expect(status()).toMatchObject({
      desiredNumberScheduled: 3,
      numberAvailable: 2,
      updatedNumberScheduled: 3,
    });

    // Act: k8s.delete-pod; the DaemonSet controller starts one on that node
    kube.pods.delete(`logging/${wedged.metadata!.name}`);
    kube.reconcile();

    // Assess
    expect(instance.holds()).toBe(false);
    expect(status()).toMatchObject({ numberAvailable: 3, updatedNumberScheduled: 3 });
  });

  it('job-failed: the failed Job stays failed; a re-run completes and deleting the failed one clears it', async () => {
    // Prepare
    const { world, kube, instance } = await playing('job-failed');
    const name = instance.alertSeries.labels.job_name!;
    const failed = kube.jobs.get(`shop/${name}`)!;

    // Assess: three failed attempts, each refused by the database
    expect(instance.holds()).toBe(true);
    expect(failed.status?.failed).toBe(3);
    expect(failed.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'CronJob', name: 'nightly-report' });

    // Act: what k8s.job-rerun creates, through the API, then k8s.delete-job
    const response = await fetch(`${kube.url}/apis/batch/v1/namespaces/shop/jobs`, {
      method: 'POST',
      headers: { authorization: 'Bearer fake-token', 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { generateName: `${name}-rerun-`, labels: { app: 'nightly-report' } },
        spec: {
          backoffLimit: 2,
          template: { spec: { ...failed.spec!.template.spec, restartPolicy: 'Never' } },
        },
      }),
    });
    const rerun = (await response.json()) as { metadata: { name: string } };
    const complete = kube.jobs
      .get(`shop/${rerun.metadata.name}`)
      ?.status?.conditions?.some((condition) => condition.type === 'Complete');
    kube.jobs.delete(`shop/${name}`);
    world.tick();

    // Assess
    expect(response.status).toBe(201);
    expect(complete).toBe(true);
    expect(instance.holds()).toBe(false);
  });

  it('hpa-maxed-out: the autoscaler sits at its maximum of six until the maximum is raised', async () => {
    // Prepare
    const { kube, instance, series } = await playing('hpa-maxed-out');
    const hpa = () => kube.hpas.get('shop/frontend')!;

    // Assess: six replicas, nine wanted, utilization over the target
    expect(instance.holds()).toBe(true);
    expect(series[0]!.sample.value).toBe(6);
    expect(hpa().status).toMatchObject({ currentReplicas: 6, desiredReplicas: 6 });
    expect(hpa().status!.currentMetrics![0]!.resource!.current.averageUtilization).toBe(105);
    expect(hpa().status!.conditions!.find((c) => c.type === 'ScalingLimited')).toMatchObject({
      status: 'True',
      reason: 'TooManyReplicas',
    });

    // Act: k8s.hpa-set-max-replicas to 12
    kube.edit(kube.hpas, 'shop/frontend', (object) => {
      object.spec!.maxReplicas = 12;
    });
    kube.reconcile();

    // Assess: nine replicas at the 70% target, no longer limited
    expect(instance.holds()).toBe(false);
    expect(hpa().status).toMatchObject({ currentReplicas: 9 });
    expect(hpa().status!.currentMetrics![0]!.resource!.current.averageUtilization).toBe(70);
    expect(kube.podsMatching('shop', { matchLabels: { app: 'frontend' } })).toHaveLength(9);
  });

  it('cpu-throttling: search runs at 94% of its CPU limit and is throttled until the limit is raised', async () => {
    // Prepare
    const { world, kube, instance } = await playing('cpu-throttling');
    const pod = world.pod('shop', instance.alertSeries.labels.pod!)!;
    const now = Date.now() / 1_000;
    const cfs = world.containerCfs(pod, 'search')!;

    // Assess: more than half of the periods throttled
    expect(instance.holds()).toBe(true);
    expect(
      (cfs.throttled.at(now) - cfs.throttled.at(now - 60)) / (cfs.periods.at(now) - cfs.periods.at(now - 60)),
    ).toBeCloseTo(0.56, 2);

    // Act: k8s.patch-resources cpu limit +50%
    kube.edit(kube.deployments, 'shop/search', (deployment) => {
      deployment.spec!.template.spec!.containers[0]!.resources!.limits!.cpu = '750m';
    });
    kube.reconcile();
    world.tick();

    // Assess: the new pods carry the load without throttling
    const pods = kube.podsMatching('shop', { matchLabels: { app: 'search' } });
    expect(instance.holds()).toBe(false);
    expect(pods).toHaveLength(2);
    for (const fresh of pods) {
      expect(fresh.spec!.containers[0]!.resources!.limits!.cpu).toBe('750m');
      expect(world.containerCpu(fresh, 'search')).toBeCloseTo(0.47, 3);
    }
  });

  it('pvc-filling: the orders volume is 88% used and growing until its claim is expanded', async () => {
    // Prepare
    const { world, kube, instance } = await playing('pvc-filling');
    const volume = world.volumes.get('shop/data-orders-db-0')!.volume;
    const now = Date.now() / 1_000;

    // Assess: the kubelet's stats summary agrees with the model
    expect(instance.holds()).toBe(true);
    expect(volume.availAt(now) / volume.sizeBytes).toBeCloseTo(0.115, 2);
    expect(volume.availAt(now + 36 * 3_600)).toBe(0);
    expect(kube.volumeUsage.get('shop/data-orders-db-0')).toBeCloseTo(volume.usedAt(now), -7);

    // Act: k8s.pvc-expand +50%; the resizer grows it online (the pod mounts it)
    kube.edit(kube.pvcs, 'shop/data-orders-db-0', (claim) => {
      claim.spec!.resources!.requests!.storage = '30Gi';
    });
    kube.reconcile();
    world.tick();

    // Assess
    expect(parseQuantity(kube.pvcs.get('shop/data-orders-db-0')!.status!.capacity!.storage!)).toBe(30 * GI);
    expect(volume.sizeBytes).toBe(30 * GI);
    expect(instance.holds()).toBe(false);
  });

  it('target-down: a hung payments pod answers no scrape until it is replaced', async () => {
    // Prepare
    const { world, kube, instance, series } = await playing('target-down');
    const hung = world.pod('shop', instance.alertSeries.labels.pod!)!;

    // Assess: its up series is 0 and it is not ready; the other replica is up
    expect(instance.holds()).toBe(true);
    expect(series.map((entry) => entry.sample.value)).toEqual([0]);
    expect(hung.status!.conditions!.find((c) => c.type === 'Ready')!.status).toBe('False');

    // Act: k8s.delete-pod
    kube.pods.delete(`shop/${hung.metadata!.name}`);
    kube.reconcile();
    world.tick();

    // Assess
    expect(instance.holds()).toBe(false);
    expect(
      kube.podsMatching('shop', { matchLabels: { app: 'payments' } }).map((pod) => world.isHung(pod)),
    ).toEqual([false, false]);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_NODES, seedCluster } from '../../../local/sim/cluster.ts';
import { ScrapeTargets } from '../../../local/sim/exporters/targets.ts';
import { chartRule } from '../../../local/sim/monitoring/rules.ts';
import { DEFAULT_SCENARIOS, SCENARIOS, selectScenarios } from '../../../local/sim/scenarios/index.ts';
import type { PrometheusScenario } from '../../../local/sim/scenarios/types.ts';
import { nowSeconds, World } from '../../../local/sim/world.ts';

const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function playing(scenario: PrometheusScenario) {
  const world = await World.start();
  stops.push(() => world.stop());
  seedCluster(world);
  const instance = scenario.setup(world);
  world.tick();
  const targets = await ScrapeTargets.start(world);
  stops.push(() => targets.stop());
  return { world, instance, targets };
}

describe('scenario registry', () => {
  it('has unique dashed ids, a rule for each alert, and runbook_url and severity on every rule', () => {
    expect(new Set(SCENARIOS.map((scenario) => scenario.id)).size).toBe(SCENARIOS.length);
    for (const scenario of SCENARIOS) {
      expect(scenario.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      // CloudWatch scenarios have alarms instead (test/unit/sim/aws-scenarios.test.ts).
      if (scenario.source === 'cloudwatch') continue;
      expect(scenario.rules.map((rule) => rule.alert)).toContain(scenario.alertname);
      for (const rule of scenario.rules) {
        expect(rule.annotations.runbook_url, rule.alert).toMatch(
          /^https:\/\/runbooks\.prometheus-operator\.dev\//,
        );
        expect(rule.labels.severity, rule.alert).toMatch(/^(critical|warning|info)$/);
      }
    }
    expect(DEFAULT_SCENARIOS).toEqual(['memory-pressure', 'crash-loop', 'disk-filling']);
  });

  it('selects by name in registry order, once each, and names the known ones when one is unknown', () => {
    expect(
      selectScenarios(['disk-filling', 'crash-loop', 'disk-filling']).map((scenario) => scenario.id),
    ).toEqual(['crash-loop', 'disk-filling']);
    expect(() => selectScenarios(['crash-loop', 'nope'])).toThrow(
      `unknown scenario "nope"; the scenarios are ${SCENARIOS.map((scenario) => scenario.id).join(', ')} (runbook demo --list-scenarios describes them)`,
    );
    expect(() => selectScenarios([])).toThrow('no scenario selected');
  });

  it("keeps the chart's expressions: a rule differs only in its shortened windows, unless it says why", () => {
    for (const rule of SCENARIOS.flatMap((scenario) => scenario.rules)) {
      if (rule.deviation) {
        expect(rule.deviation.length, rule.alert).toBeGreaterThan(20);
        continue;
      }
      expect(rule.alert).toBe(rule.upstream.alert);
      const windows = (expr: string) => expr.replace(/\[\d+[smhdw]\]/g, '[window]');
      expect(windows(rule.expr)).toBe(windows(rule.upstream.expr));
    }
    const shortened = chartRule({
      group: 'g',
      alert: 'A',
      expr: 'max_over_time(x[5m]) > 0 and rate(y[5m]) > 1',
      for: '15m',
      simulatedFor: '5s',
      windows: { '5m': '10s' },
      labels: { severity: 'warning' },
      annotations: {},
    });
    expect(shortened).toMatchObject({
      expr: 'max_over_time(x[10s]) > 0 and rate(y[10s]) > 1',
      for: '5s',
      upstream: { alert: 'A', expr: 'max_over_time(x[5m]) > 0 and rate(y[5m]) > 1', for: '15m' },
    });
  });
});

describe('scenarios break the cluster, and the fix heals it', () => {
  it('memory-pressure: MemoryPressure from the leak until cart is restarted', async () => {
    // Prepare
    const scenario = SCENARIOS.find((candidate) => candidate.id === 'memory-pressure') as PrometheusScenario;
    const { world, instance, targets } = await playing(scenario);
    const series = targets.storedSeries();

    // Assess: the condition series the rule keeps
    expect(instance.holds()).toBe(true);
    expect(
      series.some(
        (entry) =>
          entry.labels.__name__ === instance.alertSeries.metric &&
          Object.entries(instance.alertSeries.labels).every(([name, value]) => entry.labels[name] === value),
      ),
    ).toBe(true);

    // Act: what `kubectl rollout restart` does
    world.kube.edit(world.kube.deployments, 'shop/cart', (deployment) => {
      deployment.spec!.template.metadata!.annotations = {
        'kubectl.kubernetes.io/restartedAt': new Date().toISOString(),
      };
    });
    world.kube.reconcile();
    world.tick();

    // Assess
    expect(instance.holds()).toBe(false);
  });

  it('crash-loop: one checkout pod waits in CrashLoopBackOff until it is replaced', async () => {
    // Prepare
    const scenario = SCENARIOS.find((candidate) => candidate.id === 'crash-loop') as PrometheusScenario;
    const { world, instance } = await playing(scenario);
    const restarts = world.containerRestarts(
      world.pod('shop', instance.alertSeries.labels.pod!)!,
      'checkout',
    );

    // Assess: restarting every five minutes for 70 minutes
    expect(instance.holds()).toBe(true);
    expect(restarts(world.startedAt)).toBe(15);
    expect(restarts(world.startedAt - 3_600)).toBe(3);

    // Act: the eviction; the ReplicaSet replaces the pod
    world.kube.pods.delete(`shop/${instance.alertSeries.labels.pod}`);
    world.kube.reconcile();
    world.tick();

    // Assess
    expect(instance.holds()).toBe(false);
    expect(world.kube.podsMatching('shop', { matchLabels: { app: 'checkout' } })).toHaveLength(3);
  });

  it('disk-filling: the root filesystem fills at a steady rate until the journal is vacuumed', async () => {
    // Prepare
    const scenario = SCENARIOS.find((candidate) => candidate.id === 'disk-filling') as PrometheusScenario;
    const { world, instance } = await playing(scenario);
    const root = world
      .host(DEMO_NODES.disk.name)
      .filesystems.find((filesystem) => filesystem.mountpoint === '/')!;
    const now = world.startedAt;

    // Assess: 13.7% free now, more six hours ago, full in nine hours
    expect(instance.holds()).toBe(true);
    expect(root.freePercent(now)).toBeCloseTo(13.7, 1);
    expect(root.freePercent(now - 6 * 3_600)).toBeGreaterThan(root.freePercent(now));
    expect(root.availAt(now + 9 * 3_600)).toBe(0);

    // Act: journalctl --vacuum-size=1G
    root.vacuumJournal(nowSeconds(), 2 ** 30);

    // Assess
    expect(root.freePercent(nowSeconds())).toBeGreaterThan(30);
    expect(instance.holds()).toBe(false);
  });

  it('node-not-ready: the node is Ready Unknown and tainted until its kubelet is restarted', async () => {
    // Prepare
    const scenario = SCENARIOS.find((candidate) => candidate.id === 'node-not-ready') as PrometheusScenario;
    const { world, instance } = await playing(scenario);
    const name = instance.alertSeries.labels.node!;
    const node = () => world.kube.nodes.get(name)!;
    const replica = world.podOn('shop', 'recommendations', name);

    // Assess: what the node lifecycle controller made of a silent kubelet
    expect(instance.holds()).toBe(true);
    expect(node().status!.conditions!.find((condition) => condition.type === 'Ready')).toMatchObject({
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      message: 'Kubelet stopped posting node status.',
    });
    expect(node().spec!.taints!.map((taint) => `${taint.key}:${taint.effect}`)).toEqual([
      'node.kubernetes.io/unreachable:NoSchedule',
      'node.kubernetes.io/unreachable:NoExecute',
    ]);
    expect(replica.status!.conditions!.find((condition) => condition.type === 'Ready')?.status).toBe('False');
    world.tick();
    expect(node().status!.conditions!.find((condition) => condition.type === 'Ready')?.status).toBe(
      'Unknown',
    );

    // Act: the drain's eviction; the ReplicaSet's replacement avoids the tainted node
    world.kube.pods.delete(`shop/${replica.metadata!.name}`);
    world.kube.reconcile();
    const replacements = world.kube
      .podsMatching('shop', { matchLabels: { app: 'recommendations' } })
      .map((pod) => pod.spec!.nodeName);

    // Assess
    expect(replacements).toHaveLength(2);
    expect(replacements).not.toContain(name);

    // Act: systemctl restart kubelet
    world.startKubelet(name);
    world.tick();

    // Assess
    expect(instance.holds()).toBe(false);
    expect(node().spec!.taints).toBeUndefined();
    expect(world.host(name).kubelet.journal.at(-1)).toContain('Successfully registered node');
  });
});

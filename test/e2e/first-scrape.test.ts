import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimulatedEnvironment } from '../../local/sim/environment.ts';
import type { Json } from '../support/json.ts';
import { describeWithMonitoring } from '../support/monitoring.ts';

/**
 * The real Prometheus has scraped every simulated target before the environment says it is up, so
 * what a runbook changes at once shows at once. The backfilled history ends without staleness markers:
 * without a first live scrape, a pod replaced right after the start stayed in Prometheus for its
 * five-minute lookback (its alert kept firing after the fix worked), and targets read health
 * "unknown". Both are checked here the moment `start` returns, as a runbook's first step would.
 */

const NAMESPACE = 'shop';
const APP = 'recommendations';
const GOOD = 'registry.example.com/shop/recommendations:4.2.1';

async function json(url: string | URL): Promise<Json> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  expect(response.status, `GET ${url}`).toBe(200);
  return (await response.json()) as Json;
}

describeWithMonitoring('the simulated environment starts with every target scraped once', () => {
  let dataDir: string;
  let environment: SimulatedEnvironment;
  let targetsAtStart: Json[];
  let waitingPod: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'first-scrape-'));
    environment = await SimulatedEnvironment.start({
      dataDir: join(dataDir, 'target'),
      scenarios: ['image-pull-backoff', 'target-down'],
      monitoring: 'real',
    });
    // At once, before anything else can let Prometheus catch up.
    const targets = await json(new URL('api/v1/targets?state=active', environment.endpoints.prometheus));
    targetsAtStart = targets.data.activeTargets;
    waitingPod = environment.world.kube
      .podsMatching(NAMESPACE, { matchLabels: { app: APP } })
      .find((pod) => pod.status?.containerStatuses?.some((status) => status.state?.waiting))!.metadata!.name!;
  }, 150_000);

  afterAll(async () => {
    await environment?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('has no target Prometheus has not scraped yet; only the hung pod is down', () => {
    expect(targetsAtStart.length).toBeGreaterThan(10);
    expect(targetsAtStart.filter((target) => target.health === 'unknown')).toEqual([]);
    const down = targetsAtStart.filter((target) => target.health !== 'up');
    expect(down.map((target) => `${target.labels.job} ${target.labels.pod}`)).toEqual([
      expect.stringMatching(/^payments payments-/),
    ]);
  });

  it('forgets a pod replaced right after the start within seconds, not after the 5-minute lookback', async () => {
    const query = `kube_pod_container_status_waiting_reason{namespace="${NAMESPACE}",pod="${waitingPod}"}`;
    const now = async () =>
      (
        await json(
          new URL(`api/v1/query?query=${encodeURIComponent(query)}`, environment.endpoints.prometheus),
        )
      ).data.result as Json[];
    expect(await now()).toHaveLength(1);
    // The rollback a runbook would make: the previous image, so the waiting pod is gone.
    environment.world.kube.setImage('Deployment', NAMESPACE, APP, APP, GOOD);
    expect(environment.world.kube.pods.has(`${NAMESPACE}/${waitingPod}`)).toBe(false);
    const deadline = Date.now() + 20_000;
    let result = await now();
    while (result.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      result = await now();
    }
    expect(result, `${query} still answers 20 s after the pod was replaced`).toEqual([]);
  });
});

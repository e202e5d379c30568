import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimulatedEnvironment } from '../../local/sim/environment.ts';
import type { Json } from '../support/json.ts';
import { describeWithMonitoring } from '../support/monitoring.ts';

/**
 * A counter's backfilled history read through the real Prometheus the way a runbook reads it just
 * after the incident started: cpu-throttling's "share of its CPU limit the container uses" is
 * `rate(container_cpu_usage_seconds_total[5m]) / limit`, over a window that still holds backfilled
 * history besides the live scrapes. search wants 470m under its 500m limit: 94% at every instant, as
 * it would read on a cluster scraped all along (minute-apart history before one-second scrapes read as
 * low as 77%, below the runbook's 80% line).
 */

const DEMAND_SHARE = 0.94;

async function json(url: string | URL): Promise<Json> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  expect(response.status, `GET ${url}`).toBe(200);
  return (await response.json()) as Json;
}

describeWithMonitoring('a counter read over a window that reaches into its backfilled history', () => {
  let dataDir: string;
  let environment: SimulatedEnvironment;

  beforeAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    dataDir = mkdtempSync(join(tmpdir(), 'counter-history-'));
    environment = await SimulatedEnvironment.start({
      dataDir: join(dataDir, 'target'),
      scenarios: ['cpu-throttling'],
      monitoring: 'real',
    });
    // Twenty-five seconds of live scrapes: the windows' starts sweep across minute marks of the history.
    await new Promise((resolve) => setTimeout(resolve, 30_000));
  }, 120_000);

  afterAll(async () => {
    await environment?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("reads the container's share of its CPU limit as the simulation's demand at every instant", async () => {
    // Arrange
    const pod = environment.world.kube.podsMatching('shop', { matchLabels: { app: 'search' } })[0]!.metadata!
      .name!;
    const selector = `namespace="shop", pod="${pod}", container="search"`;
    // The first live scrape: the first sample after the gap between the backfill's end and Prometheus' start.
    const raw = await json(
      `${environment.endpoints.prometheus}/api/v1/query?query=${encodeURIComponent(`container_cpu_usage_seconds_total{${selector}}[2m]`)}`,
    );
    const times = (raw.data.result[0].values as Array<[number, string]>).map(([time]) => time);
    const liveFrom = Math.ceil(times.find((time, index) => index > 0 && time - times[index - 1]! > 1.5)!);
    const query = `sum(rate(container_cpu_usage_seconds_total{${selector}}[5m])) / sum(kube_pod_container_resource_limits{${selector}, resource="cpu"})`;
    const url = new URL('/api/v1/query_range', environment.endpoints.prometheus);
    url.search = new URLSearchParams({
      query,
      start: String(liveFrom),
      end: String(liveFrom + 20),
      step: '1',
    }).toString();

    // Act
    const body = await json(url);

    // Assess
    const values = (body.data.result[0]?.values ?? []) as Array<[number, string]>;
    expect(values.length).toBe(21);
    const shares = values.map(([, value]) => Number(value));
    expect(Math.min(...shares)).toBeGreaterThan(DEMAND_SHARE - 0.01);
    expect(Math.max(...shares)).toBeLessThan(DEMAND_SHARE + 0.01);
  });
});

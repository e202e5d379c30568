import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RunbookAutopilotError } from '../../../functions/core/errors.ts';
import { SCRAPE_JOBS, type ScrapeTargets } from '../exporters/targets.ts';
import { renderBackfill } from '../exposition.ts';
import { nowSeconds } from '../world.ts';
import type { MonitoringBinaries } from './binaries.ts';
import { alertmanagerConfig, prometheusConfig, SCRAPE_INTERVAL_SECONDS } from './config.ts';
import { freePort, MonitoringProcess } from './process.ts';
import { type AlertRule, renderRuleFile } from './rules.ts';

const run = promisify(execFile);

/**
 * The real Prometheus and Alertmanager for the simulated environment, as child processes on free
 * 127.0.0.1 ports with their own storage under `dataDir`:
 *
 * 1. writes prometheus.yml (the exporters' jobs over HTTP service discovery), the rules file and
 *    alertmanager.yml, and has promtool and amtool check them;
 * 2. backfills the exporters' history (their models know the past: a leak's growth, a disk filling)
 *    into TSDB blocks with `promtool tsdb create-blocks-from openmetrics`, so `deriv(…[6h])` and
 *    `increase(…[1h])` see hours of data at once;
 * 3. starts Alertmanager (no gossip: `--cluster.listen-address=`) and Prometheus, waits until both
 *    are ready and Prometheus has scraped every target once (`waitForFirstScrapes`). Alertmanager
 *    posts its webhooks to the receiver from then on, or once it is set (`setReceiver`).
 */

export class MonitoringError extends RunbookAutopilotError {
  override readonly name = 'MonitoringError';
}

export interface MonitoringOptions {
  binaries: MonitoringBinaries;
  /** Emptied and used for configs, logs, the TSDB and Alertmanager's state. */
  dataDir: string;
  targets: ScrapeTargets;
  rules: AlertRule[];
  /** Labels Prometheus adds to every alert (cluster, environment, prometheus). */
  externalLabels: Record<string, string>;
  /** Alertmanager's webhook receiver (the platform's POST /webhooks/alertmanager); can be set later. */
  receiverUrl?: string;
  /** History to backfill before Prometheus starts; false for none. */
  backfill?: BackfillWindow | false;
  print?: (line: string) => void;
}

/** Alertmanager's view of an alert (GET /api/v2/alerts). */
export interface AlertmanagerApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  fingerprint: string;
  generatorURL: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[] };
  receivers: Array<{ name: string }>;
}

/**
 * How far back to backfill: series that change over time `windowSeconds`, every `coarseStepSeconds`,
 * then every `stepSeconds` for the last `fineSeconds`, and counters every `scrapeStepSeconds` (the
 * scrape interval) for the last `scrapedSeconds`; constant series only the last `constantSeconds`,
 * every `stepSeconds` (enough for rules to see them before the first scrape).
 */
export interface BackfillWindow {
  windowSeconds: number;
  stepSeconds: number;
  fineSeconds: number;
  coarseStepSeconds: number;
  /** The scrape interval: the recent history as the live scrapes that follow it lay samples. */
  scrapeStepSeconds: number;
  scrapedSeconds: number;
  constantSeconds: number;
}

/** A query from Prometheus' query log, shaped like FakePrometheus' recorded requests. */
export interface PrometheusQuery {
  at: string;
  method: string;
  path: string;
  params: Record<string, string>;
}

/**
 * Six hours (the longest range the shipped runbooks and rules look at): every five minutes, the last
 * half hour every minute, and the counters' last ten minutes every scrape interval, as an exporter
 * scraped all along leaves them: rate() and increase() extrapolate to a window's start only from a
 * sample within 1.1 average sample intervals of it, so minute-apart history followed by one-second
 * scrapes read a [5m] or [10m] window up to a fifth low (search at 94% of its CPU limit measured 77%);
 * constant series the last ten minutes, every minute.
 */
export const DEFAULT_BACKFILL: BackfillWindow = {
  windowSeconds: 6 * 3_600,
  stepSeconds: 60,
  fineSeconds: 1_800,
  coarseStepSeconds: 300,
  scrapeStepSeconds: SCRAPE_INTERVAL_SECONDS,
  scrapedSeconds: 600,
  constantSeconds: 600,
};

/**
 * Sample times of a backfill ending at `end`, ascending; `scraped`: with the last `scrapedSeconds`
 * every scrape interval (the counters'), else every `stepSeconds` up to the end.
 */
export function backfillTimes(end: number, window: BackfillWindow, scraped = false): number[] {
  const times: number[] = [];
  const fineFrom = end - window.fineSeconds;
  const scrapedFrom = scraped ? end - window.scrapedSeconds : end + 1;
  for (let time = end - window.windowSeconds; time < fineFrom; time += window.coarseStepSeconds)
    times.push(time);
  for (let time = fineFrom; time <= end && time < scrapedFrom; time += window.stepSeconds) times.push(time);
  for (let time = scrapedFrom; time <= end; time += window.scrapeStepSeconds) times.push(time);
  return times;
}

/** Sample times of the constant series: every `stepSeconds` over the last `constantSeconds`. */
export function constantTimes(end: number, window: BackfillWindow): number[] {
  const times: number[] = [];
  for (let time = end - window.constantSeconds; time <= end; time += window.stepSeconds) times.push(time);
  return times;
}

export class Monitoring {
  private receiverUrl: string | undefined;

  private constructor(
    private readonly options: MonitoringOptions,
    readonly prometheusUrl: string,
    readonly alertmanagerUrl: string,
    private readonly prometheus: MonitoringProcess,
    private readonly alertmanager: MonitoringProcess,
    private readonly alertmanagerConfigFile: string,
  ) {
    this.receiverUrl = options.receiverUrl;
  }

  /** Starts both; `ports` when the caller already told others where they will listen. */
  static async start(
    options: MonitoringOptions,
    ports?: { prometheus: number; alertmanager: number },
  ): Promise<Monitoring> {
    const print = options.print ?? (() => {});
    const { binaries, dataDir } = options;
    rmSync(dataDir, { recursive: true, force: true });
    const tsdb = join(dataDir, 'prometheus-data');
    const alertmanagerData = join(dataDir, 'alertmanager-data');
    mkdirSync(tsdb, { recursive: true });
    mkdirSync(alertmanagerData, { recursive: true });
    const prometheusPort = ports?.prometheus ?? (await freePort());
    const alertmanagerPort = ports?.alertmanager ?? (await freePort());
    const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
    const alertmanagerUrl = `http://127.0.0.1:${alertmanagerPort}`;

    const ruleFile = join(dataDir, 'rules.yml');
    const prometheusFile = join(dataDir, 'prometheus.yml');
    const alertmanagerFile = join(dataDir, 'alertmanager.yml');
    writeFileSync(ruleFile, renderRuleFile(options.rules));
    writeFileSync(
      prometheusFile,
      prometheusConfig({
        discovery: (job) => options.targets.sdUrl(job),
        alertmanager: `127.0.0.1:${alertmanagerPort}`,
        externalLabels: options.externalLabels,
        ruleFile,
        queryLogFile: join(dataDir, 'queries.log'),
      }),
    );
    // The receiver is set once Prometheus has scraped every target (see waitForFirstScrapes).
    writeFileSync(alertmanagerFile, alertmanagerConfig(undefined));
    await checkConfigs(binaries, prometheusFile, alertmanagerFile);

    const backfill = options.backfill === undefined ? DEFAULT_BACKFILL : options.backfill;
    if (backfill) {
      const started = Date.now();
      const samples = await backfillHistory(
        binaries.promtool,
        options.targets,
        tsdb,
        join(dataDir, 'backfill.om'),
        backfill,
      );
      print(
        `backfilled ${samples} samples (${Math.round(backfill.windowSeconds / 3_600)}h of history) in ${Date.now() - started} ms`,
      );
    }

    options.targets.addSelfMonitoring({ job: 'alertmanager', address: `127.0.0.1:${alertmanagerPort}` });
    options.targets.addSelfMonitoring({ job: 'prometheus', address: `127.0.0.1:${prometheusPort}` });
    const alertmanager = await MonitoringProcess.start({
      name: 'alertmanager',
      binary: binaries.alertmanager,
      args: [
        `--config.file=${alertmanagerFile}`,
        `--storage.path=${alertmanagerData}`,
        `--web.listen-address=127.0.0.1:${alertmanagerPort}`,
        `--web.external-url=${alertmanagerUrl}`,
        '--cluster.listen-address=',
      ],
      logFile: join(dataDir, 'alertmanager.log'),
      readyUrl: `${alertmanagerUrl}/-/ready`,
    });
    let prometheus: MonitoringProcess;
    try {
      prometheus = await MonitoringProcess.start({
        name: 'prometheus',
        binary: binaries.prometheus,
        args: [
          `--config.file=${prometheusFile}`,
          `--storage.tsdb.path=${tsdb}`,
          `--web.listen-address=127.0.0.1:${prometheusPort}`,
          `--web.external-url=${prometheusUrl}`,
          '--web.enable-lifecycle',
        ],
        logFile: join(dataDir, 'prometheus.log'),
        readyUrl: `${prometheusUrl}/-/ready`,
      });
    } catch (error) {
      await alertmanager.stop();
      throw error;
    }
    const monitoring = new Monitoring(
      { ...options, receiverUrl: undefined },
      prometheusUrl,
      alertmanagerUrl,
      prometheus,
      alertmanager,
      alertmanagerFile,
    );
    try {
      const scraped = Date.now();
      const targets = await waitForFirstScrapes(prometheusUrl, options.targets, FIRST_SCRAPES_TIMEOUT_MS);
      print(`prometheus scraped all ${targets} targets once in ${Date.now() - scraped} ms`);
      if (options.receiverUrl) await monitoring.setReceiver(options.receiverUrl);
    } catch (error) {
      await monitoring.stop();
      throw error;
    }
    print(
      `prometheus ${prometheusUrl} (pid ${prometheus.pid}) and alertmanager ${alertmanagerUrl} (pid ${alertmanager.pid}) ready`,
    );
    return monitoring;
  }

  get pids(): { prometheus: number; alertmanager: number } {
    return { prometheus: this.prometheus.pid, alertmanager: this.alertmanager.pid };
  }

  /** Points Alertmanager's webhook at the platform: rewrites its configuration and reloads it. */
  async setReceiver(url: string): Promise<void> {
    if (url === this.receiverUrl) return;
    writeFileSync(this.alertmanagerConfigFile, alertmanagerConfig(url));
    await checkConfigs(this.options.binaries, undefined, this.alertmanagerConfigFile);
    const response = await fetch(`${this.alertmanagerUrl}/-/reload`, {
      method: 'POST',
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new MonitoringError(`alertmanager refused the new receiver ${url}: ${text}`);
    this.receiverUrl = url;
  }

  /** The alerts Alertmanager holds now. */
  async alerts(): Promise<AlertmanagerApiAlert[]> {
    const response = await fetch(`${this.alertmanagerUrl}/api/v2/alerts`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new MonitoringError(`alertmanager /api/v2/alerts answered ${response.status}`);
    return (await response.json()) as AlertmanagerApiAlert[];
  }

  /** Webhook notifications Alertmanager sent and failed to send (its own counters). */
  async notifications(): Promise<{ sent: number; failed: number }> {
    const response = await fetch(`${this.alertmanagerUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    const counter = (name: string) =>
      Number(new RegExp(`^${name}\\{integration="webhook"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    return {
      sent: counter('alertmanager_notifications_total'),
      failed: counter('alertmanager_notifications_failed_total'),
    };
  }

  /** The queries Prometheus answered over its API (its query log; rule evaluations left out). */
  queries(): PrometheusQuery[] {
    const file = join(this.options.dataDir, 'queries.log');
    if (!existsSync(file)) return [];
    const queries: PrometheusQuery[] = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const entry = JSON.parse(line) as {
          params?: { query?: string; start?: string; end?: string; step?: number };
          httpRequest?: { path?: string; method?: string };
          ruleGroup?: unknown;
          ts?: string;
        };
        if (entry.ruleGroup || !entry.httpRequest) continue;
        queries.push({
          at: entry.ts ?? '',
          method: entry.httpRequest.method ?? 'GET',
          path: entry.httpRequest.path ?? '',
          params: {
            query: entry.params?.query ?? '',
            ...(entry.params?.start ? { start: entry.params.start } : {}),
            ...(entry.params?.end ? { end: entry.params.end } : {}),
            ...(entry.params?.step ? { step: String(entry.params.step) } : {}),
          },
        });
      } catch {
        // a line being written
      }
    }
    return queries;
  }

  async stop(): Promise<void> {
    await Promise.all([this.prometheus.stop(), this.alertmanager.stop()]);
  }
}

async function checkConfigs(
  binaries: MonitoringBinaries,
  prometheusFile: string | undefined,
  alertmanagerFile: string,
): Promise<void> {
  const checks: Array<[string, string[]]> = [];
  // `promtool check config` checks the rule files it names too.
  if (prometheusFile) checks.push([binaries.promtool, ['check', 'config', prometheusFile]]);
  if (binaries.amtool) checks.push([binaries.amtool, ['check-config', alertmanagerFile]]);
  for (const [binary, args] of checks) {
    try {
      await run(binary, args, { timeout: 30_000 });
    } catch (error) {
      const failure = error as { stdout?: string; stderr?: string; message: string };
      throw new MonitoringError(
        `${binary} ${args.join(' ')} rejected the generated configuration: ${(failure.stdout ?? '') + (failure.stderr ?? '') || failure.message}`,
      );
    }
  }
}

/** How long Prometheus may take to scrape every target once after it is ready (2 busy cores: seconds). */
const FIRST_SCRAPES_TIMEOUT_MS = 90_000;

/** Prometheus' view of a target (GET /api/v1/targets?state=active). */
interface ActiveTarget {
  scrapePool: string;
  scrapeUrl: string;
  discoveredLabels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

/**
 * Waits until Prometheus has scraped every simulated target once, and those that answer (a hung pod's
 * or a stopped kubelet's do not) successfully. Until then the alerts and queries read the backfilled
 * history alone, which ends without staleness markers: a series that disappears before its target's
 * first successful scrape (a pod a runbook replaced a few seconds after the start) would be seen for
 * Prometheus' five-minute lookback, and a target's health would read "unknown". On a real cluster
 * Prometheus has been scraping all along; so here no alert is delivered before this holds.
 * Returns how many targets were scraped.
 */
export async function waitForFirstScrapes(
  prometheusUrl: string,
  targets: ScrapeTargets,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let waitingFor: string[] = [];
  for (;;) {
    let active: ActiveTarget[] | undefined;
    try {
      const response = await fetch(`${prometheusUrl}/api/v1/targets?state=active`, {
        signal: AbortSignal.timeout(5_000),
      });
      if (response.ok)
        active = ((await response.json()) as { data: { activeTargets: ActiveTarget[] } }).data.activeTargets;
      else await response.arrayBuffer();
    } catch {
      // Prometheus is busy; asked again below
    }
    if (active) {
      const expected = targets.targets();
      waitingFor = [];
      for (const target of expected) {
        const job = SCRAPE_JOBS.find((candidate) => candidate.id === target.job)!;
        const path = target.metricsPath ?? job.path;
        const seen = active.find(
          (candidate) =>
            candidate.scrapePool === job.jobName &&
            candidate.discoveredLabels.__address__ === target.address &&
            (candidate.discoveredLabels.__metrics_path__ ?? job.path) === path,
        );
        const answers = target.healthy?.() ?? true;
        if (!seen || seen.health === 'unknown' || (answers && seen.health !== 'up'))
          waitingFor.push(
            `${job.jobName} ${target.address}${path} (${seen ? `${seen.health}${seen.lastError ? `: ${seen.lastError}` : ''}` : 'not discovered yet'})`,
          );
      }
      if (waitingFor.length === 0) return expected.length;
    }
    if (Date.now() > deadline)
      throw new MonitoringError(
        `Prometheus had not scraped every target within ${timeoutMs} ms; still waiting for ${waitingFor.length > 0 ? waitingFor.join(', ') : 'its targets API to answer'}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Samples every simulated series over the window into OpenMetrics and has promtool cut TSDB blocks. */
async function backfillHistory(
  promtool: string,
  targets: ScrapeTargets,
  tsdb: string,
  file: string,
  window: BackfillWindow,
): Promise<number> {
  const end = Math.floor(nowSeconds()) - 1;
  const text = renderBackfill(
    targets.storedSeries(),
    backfillTimes(end, window),
    constantTimes(end, window),
    backfillTimes(end, window, true),
  );
  writeFileSync(file, text);
  try {
    await run(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', file, tsdb], {
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new MonitoringError(
      `promtool could not backfill the simulated history from ${file}: ${(failure.stderr ?? '') || failure.message}`,
    );
  } finally {
    rmSync(file, { force: true });
  }
  return text.split('\n').length - 2;
}

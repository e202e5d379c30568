import { stringify } from 'yaml';
import { SCRAPE_JOBS, type ScrapeJobId } from '../exporters/targets.ts';

/**
 * prometheus.yml and alertmanager.yml for the simulated environment: what kube-prometheus-stack
 * generates (ServiceMonitor jobs with their honor_labels, external labels, the replica label dropped
 * from alerts, Alertmanager grouped by namespace with the chart's inhibitions and the Watchdog routed to
 * a null receiver), with intervals in seconds instead of minutes.
 */

/** Scrape and rule evaluation interval. */
export const SCRAPE_INTERVAL_SECONDS = 1;
export const SCRAPE_INTERVAL = `${SCRAPE_INTERVAL_SECONDS}s`;

/** Alertmanager's waits: the chart's 30s / 5m / 12h, shortened. */
export const ALERTMANAGER_TIMING = { groupWait: '1s', groupInterval: '2s', repeatInterval: '12h' } as const;

export interface PrometheusConfigOptions {
  /** HTTP service discovery URL per job. */
  discovery: (job: ScrapeJobId) => string;
  alertmanager: string;
  externalLabels: Record<string, string>;
  ruleFile: string;
  /** Prometheus logs every query here (JSON lines): how the environment shows what the runbooks asked. */
  queryLogFile?: string;
}

export function prometheusConfig(options: PrometheusConfigOptions): string {
  return stringify(
    {
      global: {
        scrape_interval: SCRAPE_INTERVAL,
        scrape_timeout: SCRAPE_INTERVAL,
        evaluation_interval: SCRAPE_INTERVAL,
        external_labels: options.externalLabels,
        ...(options.queryLogFile ? { query_log_file: options.queryLogFile } : {}),
      },
      rule_files: [options.ruleFile],
      alerting: {
        // prometheus-operator drops the replica label so both replicas' alerts deduplicate.
        alert_relabel_configs: [{ action: 'labeldrop', regex: 'prometheus_replica' }],
        alertmanagers: [{ api_version: 'v2', static_configs: [{ targets: [options.alertmanager] }] }],
      },
      scrape_configs: SCRAPE_JOBS.map((job) => ({
        job_name: job.jobName,
        honor_labels: job.honorLabels,
        metrics_path: job.path,
        http_sd_configs: [{ url: options.discovery(job.id), refresh_interval: SCRAPE_INTERVAL }],
      })),
    },
    { lineWidth: 0 },
  );
}

export const RECEIVER = 'runbook-autopilot';

/** Alertmanager's configuration; without a receiver URL yet, alerts wait in a null receiver. */
export function alertmanagerConfig(receiverUrl: string | undefined): string {
  return stringify(
    {
      global: { resolve_timeout: '5m' },
      route: {
        receiver: receiverUrl ? RECEIVER : 'null',
        group_by: ['namespace'],
        group_wait: ALERTMANAGER_TIMING.groupWait,
        group_interval: ALERTMANAGER_TIMING.groupInterval,
        repeat_interval: ALERTMANAGER_TIMING.repeatInterval,
        routes: [
          { receiver: 'null', matchers: ['alertname = "Watchdog"'] },
          { receiver: 'null', matchers: ['alertname = "InfoInhibitor"'] },
        ],
      },
      inhibit_rules: [
        {
          source_matchers: ['severity = critical'],
          target_matchers: ['severity =~ warning|info'],
          equal: ['namespace', 'alertname'],
        },
        {
          source_matchers: ['severity = warning'],
          target_matchers: ['severity = info'],
          equal: ['namespace', 'alertname'],
        },
        {
          source_matchers: ['alertname = InfoInhibitor'],
          target_matchers: ['severity = info'],
          equal: ['namespace'],
        },
        { target_matchers: ['alertname = InfoInhibitor'] },
      ],
      receivers: [
        { name: 'null' },
        ...(receiverUrl
          ? [{ name: RECEIVER, webhook_configs: [{ url: receiverUrl, send_resolved: true, max_alerts: 0 }] }]
          : []),
      ],
    },
    { lineWidth: 0 },
  );
}

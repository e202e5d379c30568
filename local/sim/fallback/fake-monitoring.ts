import { prometheusFingerprint } from '../../../functions/core/classifier/normalize.ts';
import { FakePrometheus } from '../../demo/fake-prometheus.ts';
import type { ScrapeTargets } from '../exporters/targets.ts';
import { type StoredSeries, sampleAt } from '../exposition.ts';
import type { AlertRule } from '../monitoring/rules.ts';
import type { Scenario, ScenarioInstance } from '../scenarios/types.ts';
import { PromqlShapes } from './promql-shapes.ts';

/**
 * The fallback when Prometheus and Alertmanager are not installed: a canned Prometheus holding the
 * exporters' series (target labels applied as a scrape would) that answers the demo runbooks' query
 * shapes, and a stand-in Alertmanager that sends each scenario's alert as a webhook v4 body and, once
 * the scenario's condition stops holding, the `resolved` body. A runbook query it does not recognise
 * answers an empty vector: only the real Prometheus tells a wrong query from a right one.
 */

/** Alertmanager's group_interval, shortened: how long after an alert clears the resolved body is sent. */
const RESOLVE_DELAY_MS = 2_000;

export interface AlertmanagerAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface AlertmanagerBody {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: AlertmanagerAlert[];
}

export interface AlertDelivery {
  at: string;
  alertname: string;
  fingerprint: string;
  status: 'firing' | 'resolved';
  url: string;
  /** HTTP status, or 0 when the request did not get an answer. */
  httpStatus: number;
  error?: string;
}

interface StandInAlert {
  scenario: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  fingerprint: string;
  generatorURL: string;
  state: 'firing' | 'resolved';
  holds: () => boolean;
  /** A resolved body waits for the receiver when none is set yet. */
  pendingResolved: boolean;
}

/**
 * Renders the Go-template subset kube-prometheus-stack's annotations use: `{{ $labels.x }}`,
 * `{{ $value }}`, `{{ printf "%.2f" $value }}` and `{{ with $labels.x -}} … {{ . }} … {{- end }}`.
 */
export function renderAnnotation(template: string, labels: Record<string, string>, value: number): string {
  return template
    .replace(/\{\{ with \$labels\.(\w+) -\}\}(.*?)\{\{- end \}\}/g, (_, name: string, body: string) =>
      labels[name] ? body.replace(/\{\{ \. \}\}/g, labels[name]!) : '',
    )
    .replace(/\{\{ printf "%\.(\d)f" \$value \}\}/g, (_, digits: string) => value.toFixed(Number(digits)))
    .replace(/\{\{ \$value \}\}/g, String(value))
    .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => labels[name] ?? '');
}

export class FallbackMonitoring {
  readonly deliveries: AlertDelivery[] = [];
  private readonly alerts: StandInAlert[] = [];
  private readonly managed = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private receiverUrl: string | undefined;
  private stopped = false;

  private constructor(
    readonly prometheus: FakePrometheus,
    readonly prometheusUrl: string,
    private readonly targets: ScrapeTargets,
    private readonly externalLabels: Record<string, string>,
    private readonly externalUrl: string,
    private readonly note: (line: string) => void,
  ) {}

  static async start(options: {
    targets: ScrapeTargets;
    externalLabels: Record<string, string>;
    /** Where the stand-in Alertmanager says it lives (the control endpoint). */
    externalUrl: string;
    note: (line: string) => void;
  }): Promise<FallbackMonitoring> {
    const prometheus = new FakePrometheus();
    const url = await prometheus.start();
    prometheus.describeMetric('demo_target_info', {
      type: 'gauge',
      help: 'This Prometheus is the runbook-autopilot DEMO TARGET fallback: simulated data, canned PromQL.',
    });
    const fallback = new FallbackMonitoring(
      prometheus,
      url,
      options.targets,
      options.externalLabels,
      options.externalUrl,
      options.note,
    );
    new PromqlShapes(prometheus).install();
    fallback.refresh();
    return fallback;
  }

  /** Replaces the canned series with the exporters' current ones (values stay functions of time). */
  refresh(): void {
    for (const name of this.managed) this.prometheus.removeMetric(name);
    this.managed.clear();
    this.prometheus.setMetric('demo_target_info', { ...this.externalLabels, simulated: 'true' }, 1);
    for (const { labels, sample } of this.targets.storedSeries()) {
      const { __name__: name, ...rest } = labels;
      this.prometheus.setMetric(name!, rest, (time) => sampleAt(sample, time));
      this.managed.add(name!);
    }
  }

  /** Registers a scenario's alert, firing, as the rule would have raised it. */
  addAlert(scenario: Scenario, instance: ScenarioInstance): void {
    const rule = scenario.rules.find((candidate) => candidate.alert === scenario.alertname);
    if (!rule) throw new Error(`scenario ${scenario.id} has no rule for ${scenario.alertname}`);
    const series = this.seriesOf(instance);
    if (!series)
      throw new Error(`scenario ${scenario.id}: no ${instance.alertSeries.metric} series to alert on`);
    const { __name__: _name, ...stored } = series.labels;
    const kept = instance.alertLabelsKept;
    const seriesLabels = kept
      ? Object.fromEntries(Object.entries(stored).filter(([name]) => kept.includes(name)))
      : stored;
    const labels: Record<string, string> = { ...seriesLabels, ...rule.labels, alertname: rule.alert };
    for (const [name, value] of Object.entries(this.externalLabels)) labels[name] ??= value;
    const annotations = Object.fromEntries(
      Object.entries(rule.annotations).map(([name, template]) => [
        name,
        renderAnnotation(template, labels, instance.alertValue()),
      ]),
    );
    this.alerts.push({
      scenario: scenario.id,
      labels,
      annotations,
      startsAt: new Date(Date.now() - instance.firingForMinutes * 60_000).toISOString(),
      fingerprint: prometheusFingerprint(labels),
      generatorURL: generatorUrl(this.prometheusUrl, rule),
      state: 'firing',
      holds: instance.holds,
      pendingResolved: false,
    });
  }

  /** The webhook body the stand-in Alertmanager sends for a scenario's alert now. */
  body(scenarioId: string): AlertmanagerBody {
    const alert = this.alerts.find((candidate) => candidate.scenario === scenarioId);
    if (!alert) throw new Error(`no alert for scenario ${scenarioId}`);
    return this.alertBody(alert);
  }

  setReceiver(url: string): void {
    this.receiverUrl = url;
    for (const alert of this.alerts) {
      if (alert.pendingResolved) {
        alert.pendingResolved = false;
        void this.deliver(alert);
      }
    }
  }

  /** What rule evaluation would conclude: an alert whose condition stopped holding resolves. */
  evaluate(): void {
    for (const alert of this.alerts) {
      if (alert.state !== 'firing' || alert.holds()) continue;
      alert.state = 'resolved';
      alert.endsAt = new Date().toISOString();
      this.note(
        `alert rule: ${alert.labels.alertname} no longer holds; Alertmanager sends "resolved" after its group interval`,
      );
      this.later(RESOLVE_DELAY_MS, () => {
        if (this.receiverUrl) void this.deliver(alert);
        else alert.pendingResolved = true;
      });
    }
  }

  state(): Array<{
    alertname: string;
    fingerprint: string;
    labels: Record<string, string>;
    state: 'firing' | 'resolved';
    startsAt: string;
    endsAt?: string;
  }> {
    return this.alerts.map((alert) => ({
      alertname: alert.labels.alertname ?? '',
      fingerprint: alert.fingerprint,
      labels: { ...alert.labels },
      state: alert.state,
      startsAt: alert.startsAt,
      ...(alert.endsAt ? { endsAt: alert.endsAt } : {}),
    }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    await this.prometheus.stop();
  }

  private seriesOf(instance: ScenarioInstance): StoredSeries | undefined {
    const { metric, labels } = instance.alertSeries;
    return this.targets
      .storedSeries()
      .find(
        (series) =>
          series.labels.__name__ === metric &&
          Object.entries(labels).every(([name, value]) => series.labels[name] === value),
      );
  }

  private alertBody(alert: StandInAlert): AlertmanagerBody {
    const groupLabels = { namespace: alert.labels.namespace ?? '' };
    return {
      version: '4',
      groupKey: `{}:{namespace="${groupLabels.namespace}"}`,
      truncatedAlerts: 0,
      status: alert.state,
      receiver: 'runbook-autopilot',
      groupLabels,
      commonLabels: { ...alert.labels },
      commonAnnotations: { ...alert.annotations },
      externalURL: this.externalUrl,
      alerts: [
        {
          status: alert.state,
          labels: { ...alert.labels },
          annotations: { ...alert.annotations },
          startsAt: alert.startsAt,
          endsAt: alert.endsAt ?? '0001-01-01T00:00:00Z',
          generatorURL: alert.generatorURL,
          fingerprint: alert.fingerprint,
        },
      ],
    };
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) run();
    }, ms);
    this.timers.add(timer);
  }

  /** POSTs the alert's body to the receiver, retrying as Alertmanager does when it gets no 2xx. */
  private async deliver(alert: StandInAlert, attempt = 1): Promise<void> {
    const url = this.receiverUrl;
    if (!url || this.stopped) return;
    const body = this.alertBody(alert);
    const delivery: AlertDelivery = {
      at: new Date().toISOString(),
      alertname: alert.labels.alertname ?? '',
      fingerprint: alert.fingerprint,
      status: body.status,
      url,
      httpStatus: 0,
    };
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Alertmanager/0.25.0 (demo target fallback)',
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      delivery.httpStatus = response.status;
      await response.arrayBuffer();
    } catch (error) {
      delivery.error = (error as Error).message;
    }
    this.deliveries.push(delivery);
    this.note(
      `alertmanager: POST ${url} ${body.status} ${delivery.alertname} → ${delivery.httpStatus || delivery.error}`,
    );
    const failed = delivery.httpStatus < 200 || delivery.httpStatus >= 300;
    if (failed && attempt < 5) this.later(1_000 * 2 ** attempt, () => void this.deliver(alert, attempt + 1));
  }
}

function generatorUrl(prometheusUrl: string, rule: AlertRule): string {
  return `${prometheusUrl}/graph?g0.expr=${encodeURIComponent(rule.expr)}&g0.tab=1`;
}

/**
 * Metric families as exporters expose them, and the three ways the simulated environment writes them:
 * the Prometheus text exposition format 0.0.4 (what a scrape gets), OpenMetrics with timestamps (what
 * `promtool tsdb create-blocks-from openmetrics` reads to backfill history), and series with the scrape
 * target's labels applied the way Prometheus applies them (what the fallback's canned Prometheus holds).
 *
 * Format: https://prometheus.io/docs/instrumenting/exposition_formats/
 */

export type MetricType = 'counter' | 'gauge' | 'untyped';

/** Unix seconds → the value then, or null when the series did not exist then. */
export type SampleValue = number | ((timeSeconds: number) => number | null);

export interface Sample {
  labels: Record<string, string>;
  value: SampleValue;
  /** The series exists from this time on (a pod's series start when the pod was created). */
  since?: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/** The value of a sample at a time, or null when it has none then. */
export function sampleAt(sample: Sample, timeSeconds: number): number | null {
  if (sample.since !== undefined && timeSeconds < sample.since) return null;
  return typeof sample.value === 'function' ? sample.value(timeSeconds) : sample.value;
}

/** Collects families by name, so an exporter adds samples wherever it finds them. */
export class FamilySet {
  private readonly families = new Map<string, MetricFamily>();

  constructor(private readonly descriptions: Record<string, { help: string; type: MetricType }>) {}

  add(name: string, labels: Record<string, string>, value: SampleValue, since?: number): void {
    let family = this.families.get(name);
    if (!family) {
      const description = this.descriptions[name];
      if (!description) throw new Error(`exposition: no HELP/TYPE for ${name}`);
      family = { name, ...description, samples: [] };
      this.families.set(name, family);
    }
    family.samples.push({ labels, value, ...(since === undefined ? {} : { since }) });
  }

  list(): MetricFamily[] {
    return [...this.families.values()];
  }
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** Text format 0.0.4 at one time: HELP and TYPE per family, then its samples that exist then. */
export function renderExposition(families: MetricFamily[], timeSeconds: number): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const value = sampleAt(sample, timeSeconds);
      if (value === null) continue;
      lines.push(`${family.name}${labelText(sample.labels)} ${formatValue(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A series with the labels Prometheus stores for it (metric name included). */
export interface StoredSeries {
  labels: Record<string, string>;
  sample: Sample;
  /** The family's type (a counter's history is backfilled as densely as it is scraped). */
  type?: MetricType;
}

/**
 * The labels a scraped sample is stored with, as Prometheus applies target labels: with honor_labels
 * the exposed label wins; without it the target's wins and the exposed one is kept as `exported_<name>`.
 * An empty value means no label.
 */
export function storedLabels(
  name: string,
  exposed: Record<string, string>,
  target: Record<string, string>,
  honorLabels: boolean,
): Record<string, string> {
  const labels: Record<string, string> = { __name__: name };
  for (const [key, value] of Object.entries(exposed)) if (value !== '') labels[key] = value;
  for (const [key, value] of Object.entries(target)) {
    if (value === '') continue;
    const mine = labels[key];
    if (mine === undefined) labels[key] = value;
    else if (!honorLabels) {
      labels[`exported_${key}`] = mine;
      labels[key] = value;
    }
  }
  return labels;
}

/**
 * OpenMetrics with timestamps for backfilling: every series sampled at each time in `times`
 * (ascending), except series with a constant value, sampled at `constantTimes` only (history of what
 * never changed costs samples and tells nothing), and counters that change, sampled at `counterTimes`
 * (rate() and increase() read a window's ends from its samples' spacing); grouped by metric name,
 * closed with `# EOF`.
 */
export function renderBackfill(
  series: StoredSeries[],
  times: number[],
  constantTimes: number[] = times,
  counterTimes: number[] = times,
): string {
  const byName = new Map<string, StoredSeries[]>();
  for (const entry of series) {
    const name = entry.labels.__name__!;
    const list = byName.get(name) ?? [];
    list.push(entry);
    byName.set(name, list);
  }
  const lines: string[] = [];
  for (const [name, members] of byName) {
    for (const entry of members) {
      const { labels, sample } = entry;
      const { __name__: _name, ...rest } = labels;
      const prefix = `${name}${labelText(rest)} `;
      const schedule =
        typeof sample.value !== 'function' ? constantTimes : entry.type === 'counter' ? counterTimes : times;
      for (const time of schedule) {
        const value = sampleAt(sample, time);
        if (value === null) continue;
        lines.push(`${prefix}${formatValue(value)} ${time.toFixed(3)}`);
      }
    }
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

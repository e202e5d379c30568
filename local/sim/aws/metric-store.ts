import { AwsError } from './protocol.ts';
import { jitter, Timeline } from './timeline.ts';

/**
 * The simulated account's CloudWatch metrics: one series per namespace, metric name and dimension set,
 * each a Timeline of its level written by the resource models. A read aggregates a window into
 * datapoints per period the way CloudWatch's statistics do:
 *
 * - gauge (CPUUtilization, HealthyHostCount, FreeStorageSpace…): the level sampled every few seconds;
 *   Average, Minimum, Maximum, Sum, SampleCount and percentiles over the samples (or, for latencies,
 *   from the distribution the model gives);
 * - count (RequestCount, NumberOfMessagesSent…): the level is events per second; Sum is its integral;
 * - ratio (Lambda Errors, API Gateway 5XXError): each event of a base count reports 0 or 1; Sum counts
 *   the ones, Average is the fraction, SampleCount the base count.
 */

export type SeriesKind = 'gauge' | 'count' | 'ratio';

export interface MetricKey {
  namespace: string;
  metricName: string;
  dimensions: Readonly<Record<string, string>>;
}

export interface SeriesOptions {
  kind: SeriesKind;
  unit: string;
  /** Relative noise of each sample (deterministic, so a window reads the same twice). */
  noise?: number;
  /** How often the service reports (gauges): at most one sample per this many seconds. */
  sampleSeconds?: number;
  /** ALB's HTTPCode_* counts: no datapoint at all for a period without any. */
  omitZero?: boolean;
  /** Counts are whole numbers unless false; a gauge is when true (ApproximateAgeOfOldestMessage). */
  integer?: boolean;
  /** Latencies: the pNN of a period from its mean (a request distribution, not the samples'). */
  percentile?: (p: number, mean: number) => number;
  /** Ratio: the count whose events report 0 or 1. */
  of?: MetricSeries;
  /** No data before this time (the resource did not exist). */
  since?: number;
  initial?: number;
}

export class MetricSeries {
  readonly level: Timeline;
  readonly id: string;
  /** No data after this time (the resource is gone). */
  until: number | undefined;

  constructor(
    readonly key: MetricKey,
    readonly options: SeriesOptions,
  ) {
    this.level = new Timeline(options.initial ?? 0);
    this.id = seriesId(key);
  }

  /** Records the level now (a tick): nothing is appended when it did not change. */
  record(at: number, value: number, slope = 0): void {
    this.level.set(at, value, slope);
  }

  /** The value of the level at a time, with its sample noise. */
  sample(time: number): number {
    const base = this.level.at(time);
    const noise = this.options.noise ?? 0;
    return noise === 0 ? base : Math.max(0, base * (1 + noise * jitter(this.id, time)));
  }

  /** Whether the series had data at `time`. */
  live(time: number): boolean {
    return time >= (this.options.since ?? -Infinity) && (this.until === undefined || time < this.until);
  }
}

export function seriesId(key: MetricKey): string {
  const dimensions = Object.entries(key.dimensions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${value}`)
    .join(',');
  return `${key.namespace}|${key.metricName}|${dimensions}`;
}

export interface Datapoint {
  timestamp: number;
  value: number;
  sampleCount: number;
}

const STANDARD_STATISTICS = new Set(['Average', 'Sum', 'Minimum', 'Maximum', 'SampleCount']);
const PERCENTILE = /^p(\d{1,2}(?:\.\d+)?|100)$/;

/** CloudWatch's statistics the simulation computes: the five standard ones and pNN. */
export function checkStatistic(stat: string, where: string): void {
  if (STANDARD_STATISTICS.has(stat) || PERCENTILE.test(stat)) return;
  throw new AwsError(
    'InvalidParameterValueException',
    `The value ${stat} for parameter ${where} is not a valid statistic (the simulated CloudWatch computes Average, Sum, Minimum, Maximum, SampleCount and pNN)`,
    400,
    { queryCode: 'InvalidParameterValue' },
  );
}

/** Periods CloudWatch takes: 1, 5, 10, 30 (high resolution) or a multiple of 60 seconds. */
export function checkPeriod(period: number, where: string): void {
  if (Number.isInteger(period) && period > 0 && ([1, 5, 10, 30].includes(period) || period % 60 === 0))
    return;
  throw new AwsError(
    'InvalidParameterValueException',
    `The parameter ${where} must be 1, 5, 10, 30 or a multiple of 60 seconds, not ${period}`,
    400,
    { queryCode: 'InvalidParameterValue' },
  );
}

export class MetricStore {
  private readonly series = new Map<string, MetricSeries>();

  define(key: MetricKey, options: SeriesOptions): MetricSeries {
    const series = new MetricSeries(key, options);
    this.series.set(series.id, series);
    return series;
  }

  find(key: MetricKey): MetricSeries | undefined {
    return this.series.get(seriesId(key));
  }

  all(): MetricSeries[] {
    return [...this.series.values()];
  }

  /**
   * Datapoints of `stat` per `period` whose period starts in [start, end), each aggregated over what
   * happened until `now` (the current period is partial, as CloudWatch shows it). Periods are aligned
   * to multiples of the period.
   */
  read(key: MetricKey, stat: string, period: number, start: number, end: number, now: number): Datapoint[] {
    const series = this.find(key);
    if (!series) return [];
    const points: Datapoint[] = [];
    const first = Math.floor(start / period) * period;
    for (let from = first; from < Math.min(end, now); from += period) {
      const point = aggregate(series, stat, from, Math.min(from + period, now));
      if (point) points.push({ ...point, timestamp: from });
    }
    return points;
  }
}

/** Seconds between two evaluations of a count's rate inside a period. */
function stepFor(length: number): number {
  return Math.min(5, Math.max(0.5, length / 12));
}

function aggregate(
  series: MetricSeries,
  stat: string,
  from: number,
  to: number,
): { value: number; sampleCount: number } | undefined {
  const length = to - from;
  if (length <= 0) return undefined;
  const { options } = series;
  if (options.kind === 'gauge') {
    const every = Math.min(options.sampleSeconds ?? 10, Math.max(1, to - from));
    const samples: number[] = [];
    for (let time = Math.ceil(from / every) * every; time < to; time += every)
      if (series.live(time))
        samples.push(options.integer ? Math.round(series.sample(time)) : series.sample(time));
    if (samples.length === 0) return undefined;
    return { value: gaugeStatistic(samples, stat, options.percentile), sampleCount: samples.length };
  }
  // Counts and ratios: integrate the rate over the live part of the period.
  const step = stepFor(length);
  let events = 0;
  let ones = 0;
  let live = false;
  for (let time = from; time < to; time += step) {
    const middle = Math.min(time + step / 2, to);
    if (!series.live(middle)) continue;
    live = true;
    const dt = Math.min(step, to - time);
    if (options.kind === 'count') events += series.sample(middle) * dt;
    else {
      const base = options.of ? options.of.sample(middle) : 0;
      events += base * dt;
      ones += base * Math.min(1, Math.max(0, series.level.at(middle))) * dt;
    }
  }
  if (!live) return undefined;
  const round = (value: number) => (options.integer === false ? value : Math.round(value));
  if (options.kind === 'count') {
    const sum = round(events);
    if (sum === 0 && options.omitZero) return undefined;
    const reports = Math.max(1, Math.round(length / (options.sampleSeconds ?? 10)));
    return { value: countStatistic(sum, reports, stat), sampleCount: reports };
  }
  const total = Math.round(events);
  const count = Math.min(total, Math.round(ones));
  if (total === 0) return undefined;
  return { value: ratioStatistic(count, total, stat), sampleCount: total };
}

function percentileOf(sorted: number[], p: number): number {
  const rank = Math.max(0, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.min(rank, sorted.length - 1)]!;
}

function gaugeStatistic(samples: number[], stat: string, percentile: SeriesOptions['percentile']): number {
  const sum = samples.reduce((total, value) => total + value, 0);
  const mean = sum / samples.length;
  switch (stat) {
    case 'Average':
      return mean;
    case 'Sum':
      return sum;
    case 'Minimum':
      return Math.min(...samples);
    case 'Maximum':
      return percentile ? percentile(100, Math.max(...samples)) : Math.max(...samples);
    case 'SampleCount':
      return samples.length;
  }
  const p = Number(stat.slice(1));
  return percentile
    ? percentile(p, mean)
    : percentileOf(
        [...samples].sort((a, b) => a - b),
        p,
      );
}

function countStatistic(sum: number, reports: number, stat: string): number {
  switch (stat) {
    case 'Sum':
      return sum;
    case 'SampleCount':
      return reports;
    case 'Minimum':
      return Math.floor(sum / reports);
    case 'Maximum':
      return Math.ceil(sum / reports);
    default:
      return sum / reports;
  }
}

function ratioStatistic(ones: number, total: number, stat: string): number {
  switch (stat) {
    case 'Sum':
      return ones;
    case 'SampleCount':
      return total;
    case 'Minimum':
      return ones === total ? 1 : 0;
    case 'Maximum':
      return ones > 0 ? 1 : 0;
    default:
      return ones / total;
  }
}

import type { FakeAnswer, FakePrometheus, FakeSeries, FakeValue } from '../../demo/fake-prometheus.ts';

/**
 * The fallback's PromQL: evaluates the shapes of query the demo runbooks send over the canned
 * Prometheus's series, with Prometheus' semantics for those shapes (vector matching on identical
 * labels, deriv and predict_linear by least squares, increase of a counter, kube-state-metrics owner
 * joins). Anything else falls through to FakePrometheus: a bare selector selects series, other
 * expressions answer an empty vector. Used only when the real Prometheus is not installed.
 */

/** The spacing the least-squares fits sample the series at, as a 30 s scrape would. */
const SCRAPE_SECONDS = 30;

function durationSeconds(text: string): number {
  const units: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };
  const parts = [...text.matchAll(/(\d+)([smhdw])/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) return Number.NaN;
  return parts.reduce((total, part) => total + Number(part[1]) * units[part[2]!]!, 0);
}

function valueAt(value: FakeValue, time: number): number | null {
  return typeof value === 'function' ? value(time) : value;
}

function withoutName(labels: Record<string, string>): Record<string, string> {
  const { __name__: _name, ...rest } = labels;
  return rest;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const left = Object.entries(a).sort(([x], [y]) => (x < y ? -1 : 1));
  const right = Object.entries(b).sort(([x], [y]) => (x < y ? -1 : 1));
  return JSON.stringify(left) === JSON.stringify(right);
}

/** Least-squares line through a series' samples in (time - range, time], as deriv and predict_linear fit it. */
function linearFit(
  value: FakeValue,
  time: number,
  rangeSeconds: number,
): { slope: number; intercept: number } | null {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let t = time - rangeSeconds + SCRAPE_SECONDS; t <= time + 1e-9; t += SCRAPE_SECONDS) {
    const y = valueAt(value, t);
    if (y === null) continue;
    xs.push(t - time);
    ys.push(y);
  }
  if (xs.length < 2) return null;
  const n = xs.length;
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (let index = 0; index < n; index += 1) {
    covariance += (xs[index]! - meanX) * (ys[index]! - meanY);
    variance += (xs[index]! - meanX) ** 2;
  }
  const slope = covariance / variance;
  return { slope, intercept: meanY - slope * meanX };
}

const SELECTOR = String.raw`([a-zA-Z_:][a-zA-Z0-9_:]*\{[^{}]*\})`;
const SHAPES = {
  percentOf: new RegExp(String.raw`^100 \* ${SELECTOR} / ${SELECTOR}$`),
  hoursToFull: new RegExp(
    String.raw`^${SELECTOR} / clamp_min\(-deriv\(${SELECTOR}\[(\w+)\]\), ([\d.]+)\) / ([\d.]+)$`,
  ),
  predictLinear: new RegExp(String.raw`^predict_linear\(${SELECTOR}\[(\w+)\], ([\d\s*+.]+)\)$`),
  aggregate: new RegExp(String.raw`^(max|min|sum)\(${SELECTOR}\)$`),
  sumIncrease: new RegExp(String.raw`^sum\(increase\(${SELECTOR}\[(\w+)\]\)\)$`),
  maxByEqualsOne: new RegExp(String.raw`^max by \((\w+)\) \( ?${SELECTOR} == 1 ?\)$`),
  podOwner: /kube_pod_owner\{namespace="([^"]+)", pod="([^"]+)"/,
  nodeIdentity: /node_uname_info\{instance="([^"]+)"\}/,
};

function arithmetic(text: string): number {
  return text
    .split('+')
    .map((term) => term.split('*').reduce((product, factor) => product * Number(factor.trim()), 1))
    .reduce((sum, term) => sum + term, 0);
}

/**
 * Evaluates the queries of the shipped runbooks over the simulated series, with Prometheus' semantics
 * for these shapes (vector matching on identical labels, deriv and predict_linear by least squares,
 * increase of a counter, kube-state-metrics owner joins). Anything else falls through to FakePrometheus:
 * a bare selector selects series, other expressions answer an empty vector.
 */
export class PromqlShapes {
  constructor(private readonly prometheus: FakePrometheus) {}

  /** Registers one answer slot that this evaluator fills for each query it recognises. */
  install(): void {
    const slot: FakeAnswer = { type: 'vector', series: [] };
    this.prometheus.answer((query) => {
      const answer = this.evaluate(query.replace(/\s+/g, ' ').trim());
      if (!answer) return false;
      for (const key of Object.keys(slot)) delete (slot as unknown as Record<string, unknown>)[key];
      Object.assign(slot, answer);
      return true;
    }, slot);
  }

  private select(selector: string): FakeSeries[] {
    const answer = this.prometheus.resolve(selector);
    return answer.type === 'vector' ? answer.series : [];
  }

  evaluate(query: string): FakeAnswer | undefined {
    let match = SHAPES.percentOf.exec(query);
    if (match) {
      const sizes = this.select(match[2]!);
      return this.vector(
        this.select(match[1]!).flatMap((avail) => {
          const size = sizes.find((candidate) =>
            sameLabels(withoutName(candidate.labels), withoutName(avail.labels)),
          );
          if (!size) return [];
          return [
            {
              labels: withoutName(avail.labels),
              value: (time: number) => {
                const a = valueAt(avail.value, time);
                const s = valueAt(size.value, time);
                return a === null || s === null || s === 0 ? null : (100 * a) / s;
              },
            },
          ];
        }),
      );
    }
    match = SHAPES.hoursToFull.exec(query);
    if (match) {
      const range = durationSeconds(match[3]!);
      const floor = Number(match[4]);
      const divisor = Number(match[5]);
      const fitted = this.select(match[2]!);
      return this.vector(
        this.select(match[1]!).flatMap((avail) => {
          const same = fitted.find((candidate) => sameLabels(candidate.labels, avail.labels));
          if (!same) return [];
          return [
            {
              labels: withoutName(avail.labels),
              value: (time: number) => {
                const a = valueAt(avail.value, time);
                const fit = linearFit(same.value, time, range);
                return a === null || !fit ? null : a / Math.max(-fit.slope, floor) / divisor;
              },
            },
          ];
        }),
      );
    }
    match = SHAPES.predictLinear.exec(query);
    if (match) {
      const range = durationSeconds(match[2]!);
      const ahead = arithmetic(match[3]!);
      return this.vector(
        this.select(match[1]!).map((series) => ({
          labels: withoutName(series.labels),
          value: (time: number) => {
            const fit = linearFit(series.value, time, range);
            return fit ? fit.intercept + fit.slope * ahead : null;
          },
        })),
      );
    }
    match = SHAPES.aggregate.exec(query);
    if (match) {
      const operation = match[1] as 'max' | 'min' | 'sum';
      const selected = this.select(match[2]!);
      if (selected.length === 0) return this.vector([]);
      return this.vector([
        {
          labels: {},
          value: (time: number) => {
            const values = selected
              .map((series) => valueAt(series.value, time))
              .filter((value): value is number => value !== null);
            if (values.length === 0) return null;
            if (operation === 'sum') return values.reduce((a, b) => a + b, 0);
            return operation === 'max' ? Math.max(...values) : Math.min(...values);
          },
        },
      ]);
    }
    match = SHAPES.sumIncrease.exec(query);
    if (match) {
      const range = durationSeconds(match[2]!);
      const selected = this.select(match[1]!);
      if (selected.length === 0) return this.vector([]);
      return this.vector([
        {
          labels: {},
          value: (time: number) =>
            selected.reduce((sum, series) => {
              const now = valueAt(series.value, time) ?? 0;
              const before = valueAt(series.value, time - range) ?? 0;
              return sum + Math.max(0, now - before);
            }, 0),
        },
      ]);
    }
    match = SHAPES.maxByEqualsOne.exec(query);
    if (match) {
      const by = match[1]!;
      const groups = new Map<string, FakeSeries[]>();
      for (const series of this.select(match[2]!)) {
        const key = series.labels[by] ?? '';
        groups.set(key, [...(groups.get(key) ?? []), series]);
      }
      return this.vector(
        [...groups.entries()].map(([key, members]) => ({
          labels: key ? { [by]: key } : {},
          value: (time: number) => (members.some((series) => valueAt(series.value, time) === 1) ? 1 : null),
        })),
      );
    }
    const owner = query.includes('kube_replicaset_owner') ? SHAPES.podOwner.exec(query) : null;
    if (owner) return this.vector(this.podOwner(owner[1]!, owner[2]!));
    const identity = query.includes('kube_node_info') ? SHAPES.nodeIdentity.exec(query) : null;
    if (identity) return this.vector(this.nodeIdentity(identity[1]!));
    return undefined;
  }

  private vector(series: FakeSeries[]): FakeAnswer {
    return { type: 'vector', series };
  }

  /** The top-level controller of a pod: through its ReplicaSet to the Deployment, or its direct owner. */
  private podOwner(namespace: string, pod: string): FakeSeries[] {
    const [owner] = this.select(`kube_pod_owner{namespace="${namespace}", pod="${pod}"}`);
    if (!owner) return [];
    const { owner_kind: kind, owner_name: name } = owner.labels;
    if (kind !== 'ReplicaSet')
      return [{ labels: { owner_kind: kind ?? '', owner_name: name ?? '' }, value: 1 }];
    const [replicaSet] = this.select(`kube_replicaset_owner{namespace="${namespace}", replicaset="${name}"}`);
    if (!replicaSet) return [];
    return [
      {
        labels: {
          owner_kind: replicaSet.labels.owner_kind ?? '',
          owner_name: replicaSet.labels.owner_name ?? '',
        },
        value: 1,
      },
    ];
  }

  /** kube_node_info joined to node_uname_info by internal IP or node name, with the EC2 instance id. */
  private nodeIdentity(instance: string): FakeSeries[] {
    const [uname] = this.select(`node_uname_info{instance="${instance}"}`);
    if (!uname) return [];
    const ip = instance.replace(/:\d+$/, '');
    const nodes = this.select('kube_node_info{}');
    const node =
      nodes.find((candidate) => candidate.labels.internal_ip === ip) ??
      nodes.find((candidate) => candidate.labels.node === uname.labels.nodename);
    if (!node) return [];
    const labels = withoutName(node.labels);
    const instanceId = /aws:\/\/\/[^/]+\/(i-[0-9a-f]+)/.exec(labels.provider_id ?? '')?.[1];
    return [{ labels: instanceId ? { ...labels, instance_id: instanceId } : labels, value: 1 }];
  }
}

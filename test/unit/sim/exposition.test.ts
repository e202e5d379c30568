import { describe, expect, it } from 'vitest';
import { FamilySet, renderBackfill, renderExposition, storedLabels } from '../../../local/sim/exposition.ts';

describe('exposition', () => {
  const families = () => {
    const set = new FamilySet({
      demo_requests_total: { help: 'Requests\nserved.', type: 'counter' },
      demo_info: { help: 'Build information.', type: 'gauge' },
    });
    set.add('demo_requests_total', { path: '/a"b\\c\nd' }, (time) => time * 2);
    set.add('demo_info', { version: '1.0' }, 1, 100);
    return set.list();
  };

  it('renders text format 0.0.4: HELP and TYPE, escaped label values and help, values at the time', () => {
    // Act
    const text = renderExposition(families(), 200);

    // Assess
    expect(text).toBe(
      [
        '# HELP demo_requests_total Requests\\nserved.',
        '# TYPE demo_requests_total counter',
        'demo_requests_total{path="/a\\"b\\\\c\\nd"} 400',
        '# HELP demo_info Build information.',
        '# TYPE demo_info gauge',
        'demo_info{version="1.0"} 1',
        '',
      ].join('\n'),
    );
  });

  it('leaves out a series before it existed', () => {
    expect(renderExposition(families(), 50)).not.toContain('demo_info{');
  });

  it('refuses a family without HELP and TYPE, naming it', () => {
    const set = new FamilySet({});
    expect(() => set.add('undeclared_metric', {}, 1)).toThrow(
      'exposition: no HELP/TYPE for undeclared_metric',
    );
  });

  it('applies target labels as a scrape does: honor_labels keeps the exposed ones, otherwise they become exported_*', () => {
    // Prepare: kube-state-metrics' series about a pod, scraped from kube-state-metrics' own pod
    const exposed = { namespace: 'shop', pod: 'checkout-1', container: 'checkout' };
    const target = {
      namespace: 'monitoring',
      pod: 'ksm-0',
      container: 'kube-state-metrics',
      job: 'ksm',
      instance: '',
    };

    // Act
    const honored = storedLabels('kube_pod_info', exposed, target, true);
    const overridden = storedLabels('kube_pod_info', exposed, target, false);
    const onlyTarget = storedLabels('kube_node_info', { node: 'n1' }, target, true);

    // Assess
    expect(honored).toEqual({ __name__: 'kube_pod_info', ...exposed, job: 'ksm' });
    expect(overridden).toEqual({
      __name__: 'kube_pod_info',
      namespace: 'monitoring',
      pod: 'ksm-0',
      container: 'kube-state-metrics',
      exported_namespace: 'shop',
      exported_pod: 'checkout-1',
      exported_container: 'checkout',
      job: 'ksm',
    });
    // An object series without pod labels gets the exporter pod's: the trap object alerts carry.
    expect(onlyTarget).toMatchObject({ node: 'n1', namespace: 'monitoring', pod: 'ksm-0' });
  });

  it('backfills a constant series over the short window only', () => {
    // Act
    const text = renderBackfill(
      families().flatMap((family) =>
        family.samples.map((sample) => ({
          labels: storedLabels(family.name, sample.labels, {}, false),
          sample,
        })),
      ),
      [150, 160, 170],
      [170],
    );

    // Assess: the counter (a function of time) at every time, the constant once
    expect(text.split('\n').filter((line) => line.startsWith('demo_requests_total'))).toHaveLength(3);
    expect(text.split('\n').filter((line) => line.startsWith('demo_info'))).toEqual([
      'demo_info{version="1.0"} 1 170.000',
    ]);
  });

  it("backfills a changing counter at the counters' times and a changing gauge at the others'", () => {
    // Arrange
    const set = new FamilySet({
      demo_requests_total: { help: 'Requests served.', type: 'counter' },
      demo_queue_depth: { help: 'Jobs waiting.', type: 'gauge' },
    });
    set.add('demo_requests_total', {}, (time) => time * 2);
    set.add('demo_queue_depth', {}, (time) => time % 7);
    const series = set.list().flatMap((family) =>
      family.samples.map((sample) => ({
        labels: storedLabels(family.name, sample.labels, {}, false),
        sample,
        type: family.type,
      })),
    );

    // Act
    const text = renderBackfill(series, [100, 160], [160], [100, 159, 160]);

    // Assess
    const lines = text.split('\n');
    expect(lines.filter((line) => line.startsWith('demo_requests_total'))).toEqual([
      'demo_requests_total 200 100.000',
      'demo_requests_total 318 159.000',
      'demo_requests_total 320 160.000',
    ]);
    expect(lines.filter((line) => line.startsWith('demo_queue_depth'))).toEqual([
      'demo_queue_depth 2 100.000',
      'demo_queue_depth 6 160.000',
    ]);
  });

  it('writes OpenMetrics with timestamps, grouped by metric, ending in # EOF', () => {
    // Act
    const text = renderBackfill(
      families().flatMap((family) =>
        family.samples.map((sample) => ({
          labels: storedLabels(family.name, sample.labels, { job: 'demo' }, false),
          sample,
        })),
      ),
      [50, 150],
    );

    // Assess
    expect(text).toBe(
      [
        'demo_requests_total{path="/a\\"b\\\\c\\nd",job="demo"} 100 50.000',
        'demo_requests_total{path="/a\\"b\\\\c\\nd",job="demo"} 300 150.000',
        'demo_info{version="1.0",job="demo"} 1 150.000',
        '# EOF',
        '',
      ].join('\n'),
    );
  });
});

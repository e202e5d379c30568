import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../functions/core/errors.ts';
import type { AlertExpressionOutput } from '../../../functions/tools/declarations/observability.ts';
import {
  expressionOfGeneratorUrl,
  prometheusAlertExpressionTool,
} from '../../../functions/tools/prometheus.ts';
import { FakePrometheus } from '../../../local/demo/fake-prometheus.ts';
import { rejectionOf, runTool, toolRuntime } from './generic-harness.ts';

/**
 * prometheus.alert-expression's own logic (where the expression comes from, what "holds" and "held
 * for" mean) against the stand-in, whose series are functions of time. test/unit/tools/
 * prometheus-real.test.ts evaluates a real alert expression with a real Prometheus.
 */

const NOW = Date.parse('2026-05-04T12:00:00.000Z');
const NOW_SECONDS = NOW / 1_000;
const prometheus = new FakePrometheus({ now: () => NOW_SECONDS });
let url: string;

const EXPRESSION =
  'kube_deployment_spec_replicas{job="kube-state-metrics"} - kube_deployment_status_replicas_available{job="kube-state-metrics"} > 0';
const GENERATOR_URL = `http://prometheus.monitoring:9090/graph?g0.expr=${encodeURIComponent(EXPRESSION)}&g0.tab=1`;
const CHECKOUT = { namespace: 'shop', deployment: 'checkout', job: 'kube-state-metrics' };
const CART = { namespace: 'shop', deployment: 'cart', job: 'kube-state-metrics' };

function evaluate(parameters: Record<string, unknown>) {
  return runTool(
    prometheusAlertExpressionTool(
      toolRuntime({ clock: { now: () => new Date(NOW) }, config: { tools: { prometheusUrl: url } } }),
    ),
    parameters,
  ) as Promise<AlertExpressionOutput>;
}

beforeAll(async () => {
  url = await prometheus.start();
});
afterAll(() => prometheus.stop());
beforeEach(() => {
  prometheus.reset();
  // checkout misses one replica since 40 minutes ago; cart missed two, from 50 to 30 minutes ago.
  prometheus.answer(EXPRESSION, {
    type: 'vector',
    series: [
      { labels: CHECKOUT, value: (t) => (t >= NOW_SECONDS - 40 * 60 ? 1 : null) },
      { labels: CART, value: (t) => (t >= NOW_SECONDS - 50 * 60 && t <= NOW_SECONDS - 30 * 60 ? 2 : null) },
    ],
  });
});

describe('prometheus.alert-expression', () => {
  it('takes the expression from the alert’s generatorURL and says whether, and how long, it holds', async () => {
    // Act
    const output = await evaluate({ generatorUrl: GENERATOR_URL });

    // Assess
    expect(output).toEqual({
      expression: EXPRESSION,
      source: 'generatorURL',
      holdsNow: true,
      now: { series: [{ labels: CHECKOUT, value: 1 }], seriesCount: 1, value: 1 },
      window: {
        lookbackMinutes: 60,
        stepSeconds: 60,
        start: '2026-05-04T11:00:00.000Z',
        end: '2026-05-04T12:00:00.000Z',
        // Some series held without a gap since 11:10 (cart until 11:30, checkout from 11:20).
        heldForMinutes: 50,
        heldFraction: 0.836,
        firstHeldAt: '2026-05-04T11:10:00.000Z',
        lastHeldAt: '2026-05-04T12:00:00.000Z',
        min: 1,
        max: 2,
        seriesCount: 2,
      },
    });
    expect(prometheus.requests).toEqual([
      { method: 'GET', path: '/api/v1/query', params: { query: EXPRESSION, time: '1777896000.000' } },
      {
        method: 'GET',
        path: '/api/v1/query_range',
        params: { query: EXPRESSION, start: '1777892400.000', end: '1777896000.000', step: '60' },
      },
    ]);
  });

  it('counts only the alert’s own series when given its labels', async () => {
    // Act
    const output = await evaluate({
      generatorUrl: GENERATOR_URL,
      alertLabels: { alertname: 'KubeDeploymentReplicasMismatch', severity: 'warning', ...CART },
    });

    // Assess: cart's mismatch ended 30 minutes ago.
    expect(output).toMatchObject({
      holdsNow: false,
      now: { series: [], seriesCount: 0, value: null },
      window: {
        heldForMinutes: null,
        min: 2,
        max: 2,
        seriesCount: 1,
        lastHeldAt: '2026-05-04T11:30:00.000Z',
      },
    });
  });

  it('takes a literal expression, over the window and step asked for', async () => {
    // Act
    const output = await evaluate({ expression: EXPRESSION, lookbackMinutes: 10, stepSeconds: 120 });

    // Assess
    expect(output).toMatchObject({
      source: 'parameter',
      window: { lookbackMinutes: 10, stepSeconds: 120, heldForMinutes: 10, heldFraction: 1 },
    });
  });

  it('fails clearly without an expression, with a link that carries none, or with a window too fine', async () => {
    // Act
    const errors = await Promise.all([
      rejectionOf(evaluate({})),
      rejectionOf(evaluate({ generatorUrl: 'https://grafana.example.com/alerting/grafana/abc/view' })),
      rejectionOf(evaluate({ generatorUrl: 'not a url' })),
      rejectionOf(evaluate({ expression: 'up', lookbackMinutes: 10_080, stepSeconds: 1 })),
    ]);

    // Assess
    expect(errors.every((error) => error.name === AslErrorName.ToolFailed)).toBe(true);
    expect(errors.map((error) => error.message)).toEqual([
      'prometheus.alert-expression: give "generatorUrl" (the alert\'s generatorURL: {{ alert.generatorURL }}) or "expression"',
      'prometheus.alert-expression: generatorUrl https://grafana.example.com/alerting/grafana/abc/view carries no g0.expr (it is not a Prometheus graph link: Grafana- or vmalert-managed alerts link elsewhere); give the PromQL as "expression"',
      'prometheus.alert-expression: generatorUrl "not a url" is not a URL; pass the alert\'s generatorURL or give "expression"',
      'prometheus.alert-expression: 10080 minutes at a 1s step is 604801 points per series; Prometheus allows 11000',
    ]);
    expect(prometheus.requests).toEqual([]);
  });

  it('reads a Thanos Ruler link and the first expression of a multi-panel link', () => {
    // Assess
    expect(
      expressionOfGeneratorUrl('t', 'https://thanos-ruler.example.com/graph?g0.expr=up%3D%3D0&g0.tab=1'),
    ).toBe('up==0');
    expect(expressionOfGeneratorUrl('t', 'http://p:9090/graph?g0.tab=1&g1.expr=rate(x%5B5m%5D)')).toBe(
      'rate(x[5m])',
    );
  });

  it('declares its expression parameter as PromQL, checked when a runbook is validated', () => {
    // Assess
    const tool = prometheusAlertExpressionTool(toolRuntime());
    expect(tool.declaration.promql).toEqual(['expression']);
  });
});

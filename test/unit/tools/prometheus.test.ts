import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../functions/core/errors.ts';
import { prometheusQueryRangeTool, prometheusQueryTool } from '../../../functions/tools/prometheus.ts';
import { ToolError } from '../../../functions/tools/tool.ts';
import { FakePrometheus } from '../../../local/demo/fake-prometheus.ts';
import { rejectionOf, runTool, toolContext, toolRuntime } from './generic-harness.ts';

const NOW = Date.parse('2026-05-04T12:00:00.000Z');
const clock = { now: () => new Date(NOW) };
const prometheus = new FakePrometheus({ now: () => NOW / 1_000 });
let url: string;

beforeAll(async () => {
  url = await prometheus.start();
});
afterAll(() => prometheus.stop());
beforeEach(() => {
  prometheus.reset();
});

function query(parameters: Record<string, unknown>, options: Parameters<typeof toolRuntime>[0] = {}) {
  return runTool(
    prometheusQueryTool(toolRuntime({ clock, config: { tools: { prometheusUrl: url } }, ...options })),
    parameters,
  );
}

describe('prometheus.query', () => {
  it('answers a vector with the first value as a number and the labels of every series', async () => {
    // Prepare
    prometheus
      .setMetric('up', { job: 'node-exporter', instance: '10.0.1.23:9100' }, 1)
      .setMetric('up', { job: 'node-exporter', instance: '10.0.1.24:9100' }, 0)
      .setMetric('up', { job: 'kubelet', instance: '10.0.1.23:10250' }, 1);

    // Act
    const output = await query({ query: 'up{job="node-exporter"}' });

    // Assess
    expect(output).toEqual({
      resultType: 'vector',
      value: 1,
      series: [
        { labels: { __name__: 'up', job: 'node-exporter', instance: '10.0.1.23:9100' }, value: 1 },
        { labels: { __name__: 'up', job: 'node-exporter', instance: '10.0.1.24:9100' }, value: 0 },
      ],
    });
    expect(prometheus.requests).toEqual([
      { method: 'GET', path: '/api/v1/query', params: { query: 'up{job="node-exporter"}' } },
    ]);
  });

  it('answers what the test set for a query the fake cannot evaluate', async () => {
    // Prepare
    const promql = 'max(up{job="node-exporter", instance="10.0.1.23:9100"})';
    prometheus.answer(promql, { type: 'vector', series: [{ labels: {}, value: 1 }] });

    // Act
    const output = await query({ query: promql });

    // Assess
    expect(output).toMatchObject({ resultType: 'vector', value: 1, series: [{ labels: {}, value: 1 }] });
  });

  it('gives null for NaN and infinite samples, and for no result at all', async () => {
    // Prepare
    prometheus.answer('ratio', {
      type: 'vector',
      series: [
        { labels: { pod: 'a' }, value: Number.NaN },
        { labels: { pod: 'b' }, value: Number.POSITIVE_INFINITY },
        { labels: { pod: 'c' }, value: Number.NEGATIVE_INFINITY },
        { labels: { pod: 'd' }, value: 2.5 },
      ],
    });

    // Act
    const ratio = await query({ query: 'ratio' });
    const nothing = await query({ query: 'absent_metric{job="x"}' });

    // Assess
    expect(ratio).toMatchObject({
      value: null,
      series: [
        { labels: { pod: 'a' }, value: null },
        { labels: { pod: 'b' }, value: null },
        { labels: { pod: 'c' }, value: null },
        { labels: { pod: 'd' }, value: 2.5 },
      ],
    });
    expect(nothing).toEqual({ resultType: 'vector', value: null, series: [] });
  });

  it('answers scalars, strings and the matrix of a range selector', async () => {
    // Prepare
    prometheus
      .answer('scalar(42)', { type: 'scalar', value: 42 })
      .answer('"hello"', { type: 'string', value: 'hello' })
      .answer('rate_input[1m]', {
        type: 'matrix',
        windowSeconds: 60,
        stepSeconds: 15,
        series: [{ labels: { __name__: 'rate_input', pod: 'a' }, value: (t) => t - NOW / 1_000 + 100 }],
      });

    // Act
    const scalar = await query({ query: 'scalar(42)' });
    const text = await query({ query: '"hello"' });
    const matrix = await query({ query: 'rate_input[1m]' });

    // Assess
    expect(scalar).toEqual({ resultType: 'scalar', value: 42, series: [{ labels: {}, value: 42 }] });
    expect(text).toEqual({ resultType: 'string', value: null, series: [], text: 'hello' });
    expect(matrix).toEqual({
      resultType: 'matrix',
      value: 100,
      series: [{ labels: { __name__: 'rate_input', pod: 'a' }, value: 100, samples: 4 }],
    });
  });

  it('passes the evaluation time and asks Prometheus to stop at the step deadline', async () => {
    // Prepare
    prometheus.setMetric('up', {}, (t) => (t < NOW / 1_000 - 60 ? 0 : 1));
    const tool = prometheusQueryTool(toolRuntime({ clock, config: { tools: { prometheusUrl: url } } }));

    // Act
    const before = await runTool(
      tool,
      { query: 'up', time: '2026-05-04T11:50:00Z' },
      toolContext({ deadline: NOW + 30_000 }),
    );

    // Assess
    expect(before).toMatchObject({ value: 0 });
    expect(prometheus.requests[0]?.params).toEqual({
      query: 'up',
      time: '2026-05-04T11:50:00Z',
      timeout: '30s',
    });
  });

  it('sends a long query as a form-encoded POST', async () => {
    // Prepare
    const long = `sum(up{instance=~"${Array.from({ length: 400 }, (_, i) => `10.0.${i}.1:9100`).join('|')}"})`;
    prometheus.answer(long, { type: 'vector', series: [{ labels: {}, value: 399 }] });

    // Act
    const output = await query({ query: long });

    // Assess
    expect(output).toMatchObject({ value: 399 });
    expect(prometheus.requests[0]).toMatchObject({ method: 'POST', params: { query: long } });
  });

  it('keeps a base path and prefers the step’s prometheus parameter over the environment’s', async () => {
    // Prepare
    const requested: string[] = [];
    const recordingFetch: typeof fetch = (input, init) => {
      requested.push(String(input));
      return fetch(String(input).replace('/monitoring/prometheus', ''), init);
    };

    // Act
    await query(
      { query: 'up', prometheus: `${url}/monitoring/prometheus` },
      { fetch: recordingFetch, config: { tools: { prometheusUrl: 'http://203.0.113.1:9090' } } },
    );

    // Assess
    expect(requested).toEqual([`${url}/monitoring/prometheus/api/v1/query?query=up`]);
  });

  it('says where to configure Prometheus when neither the step nor the environment names one', async () => {
    // Act
    const error = await rejectionOf(runTool(prometheusQueryTool(toolRuntime({ clock })), { query: 'up' }));

    // Assess
    expect(error).toBeInstanceOf(ToolError);
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(/"prometheus" parameter.*tools\.prometheusUrl.*staging/);
  });

  it('turns a Prometheus error into Tool.Failed with its errorType and message', async () => {
    // Prepare
    prometheus
      .answer('rate(up)', {
        type: 'error',
        errorType: 'bad_data',
        error:
          'invalid parameter "query": 1:6: parse error: expected type range vector in call to function "rate", got instant vector',
      })
      .answer('too_many', {
        type: 'error',
        errorType: 'execution',
        error: 'query processing would load too many samples into memory in query execution',
      });

    // Act
    const bad = await rejectionOf(query({ query: 'rate(up)' }));
    const execution = await rejectionOf(query({ query: 'too_many' }));

    // Assess
    expect(bad.name).toBe(AslErrorName.ToolFailed);
    expect(bad.message).toContain(
      `prometheus.query: Prometheus at ${url}/api/v1/query refused the query: bad_data: invalid parameter`,
    );
    expect(bad.data).toMatchObject({ httpStatus: 400, errorType: 'bad_data' });
    expect(execution.name).toBe(AslErrorName.ToolFailed);
    expect(execution.message).toContain('execution: query processing would load too many samples');
    expect(execution.data).toMatchObject({ httpStatus: 422, errorType: 'execution' });
  });

  it('reports 503 and 429 as Tool.Throttled so the step’s retries back off', async () => {
    // Prepare
    prometheus
      .answer('slow', {
        type: 'error',
        errorType: 'timeout',
        error: 'query timed out in expression evaluation',
      })
      .answer('limited', { type: 'http', httpStatus: 429, body: 'rate limit exceeded' });

    // Act
    const timeout = await rejectionOf(query({ query: 'slow' }));
    const limited = await rejectionOf(query({ query: 'limited' }));

    // Assess
    expect(timeout.name).toBe(AslErrorName.ToolThrottled);
    expect(timeout.message).toContain('HTTP 503');
    expect(timeout.message).toContain('timeout: query timed out in expression evaluation');
    expect(limited.name).toBe(AslErrorName.ToolThrottled);
    expect(limited.message).toContain('HTTP 429: rate limit exceeded');
  });

  it('says the base URL is probably wrong when the answer is not the Prometheus API', async () => {
    // Act
    const error = await rejectionOf(query({ query: 'up', prometheus: `${url}/not-prometheus` }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toBe(
      `prometheus.query: ${url}/not-prometheus/api/v1/query did not answer like the Prometheus API ` +
        '(HTTP 404: 404 page not found); is the base URL right?',
    );
  });

  it('fails clearly when Prometheus cannot be reached', async () => {
    // Prepare
    const closed = new FakePrometheus();
    const closedUrl = await closed.start();
    await closed.stop();

    // Act
    const error = await rejectionOf(query({ query: 'up', prometheus: closedUrl }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(
      new RegExp(`cannot reach Prometheus at ${closedUrl}/api/v1/query: .*ECONNREFUSED`),
    );
  });

  it('stops waiting when the step is aborted or times out', async () => {
    // Prepare
    prometheus.delayMs = 5_000;
    prometheus.setMetric('up', {}, 1);
    const controller = new AbortController();
    const reason = new Error('step free-space timed out after 1s');
    setTimeout(() => controller.abort(reason), 100);
    const started = performance.now();

    // Act
    const error = await rejectionOf(
      runTool(
        prometheusQueryTool(toolRuntime({ clock, config: { tools: { prometheusUrl: url } } })),
        { query: 'up' },
        toolContext({ signal: controller.signal }),
      ),
    );

    // Assess
    expect(error).toBe(reason);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('runs for real in a dry run (it reads only)', async () => {
    // Prepare
    prometheus.setMetric('up', {}, 1);

    // Act
    const output = await runTool(
      prometheusQueryTool(toolRuntime({ clock, config: { tools: { prometheusUrl: url } } })),
      { query: 'up' },
      toolContext({ dryRun: true }),
    );

    // Assess
    expect(output).toMatchObject({ value: 1 });
    expect(prometheus.requests).toHaveLength(1);
  });
});

describe('prometheus.query-range', () => {
  function rangeQuery(parameters: Record<string, unknown>, dryRun = false) {
    return runTool(
      prometheusQueryRangeTool(toolRuntime({ clock, config: { tools: { prometheusUrl: url } } })),
      parameters,
      toolContext({ dryRun }),
    );
  }

  it('summarizes each series over the window ending now', async () => {
    // Prepare: free bytes falling 1 MB a minute, and a second, flat filesystem.
    const minutesAgo = (t: number) => (NOW / 1_000 - t) / 60;
    prometheus
      .setMetric(
        'node_filesystem_avail_bytes',
        { instance: 'a:9100', mountpoint: '/' },
        (t) => 1_000_000_000 + minutesAgo(t) * 1_000_000,
      )
      .setMetric('node_filesystem_avail_bytes', { instance: 'b:9100', mountpoint: '/' }, 5);

    // Act
    const output = await rangeQuery({
      query: 'node_filesystem_avail_bytes',
      lookbackMinutes: 30,
      stepSeconds: 300,
    });

    // Assess
    expect(output).toEqual({
      value: 1_000_000_000,
      series: [
        {
          labels: { __name__: 'node_filesystem_avail_bytes', instance: 'a:9100', mountpoint: '/' },
          samples: 7,
          first: 1_030_000_000,
          last: 1_000_000_000,
          min: 1_000_000_000,
          max: 1_030_000_000,
          mean: 1_015_000_000,
        },
        {
          labels: { __name__: 'node_filesystem_avail_bytes', instance: 'b:9100', mountpoint: '/' },
          samples: 7,
          first: 5,
          last: 5,
          min: 5,
          max: 5,
          mean: 5,
        },
      ],
      start: '2026-05-04T11:30:00.000Z',
      end: '2026-05-04T12:00:00.000Z',
      stepSeconds: 300,
    });
    expect(prometheus.requests[0]).toEqual({
      method: 'GET',
      path: '/api/v1/query_range',
      params: {
        query: 'node_filesystem_avail_bytes',
        start: String((NOW - 30 * 60_000) / 1_000) + '.000',
        end: `${NOW / 1_000}.000`,
        step: '300',
      },
    });
  });

  it('leaves NaN out of min, max and mean and gives null when a series has no number', async () => {
    // Prepare
    prometheus.answer('gappy', {
      type: 'vector',
      series: [
        { labels: { pod: 'a' }, value: (t) => (Math.round(NOW / 1_000 - t) % 120 === 0 ? Number.NaN : 4) },
        { labels: { pod: 'b' }, value: Number.NaN },
        { labels: { pod: 'c' }, value: (t) => (t < NOW / 1_000 - 120 ? null : 7) },
      ],
    });

    // Act
    const output = (await rangeQuery({ query: 'gappy', lookbackMinutes: 4, stepSeconds: 60 })) as {
      series: unknown[];
      value: unknown;
    };

    // Assess
    expect(output.value).toBeNull();
    expect(output.series).toEqual([
      { labels: { pod: 'a' }, samples: 5, first: null, last: null, min: 4, max: 4, mean: 4 },
      { labels: { pod: 'b' }, samples: 5, first: null, last: null, min: null, max: null, mean: null },
      { labels: { pod: 'c' }, samples: 3, first: 7, last: 7, min: 7, max: 7, mean: 7 },
    ]);
  });

  it('refuses a window with more points than Prometheus allows, naming the step that would work', async () => {
    // Act
    const error = await rejectionOf(rangeQuery({ query: 'up', lookbackMinutes: 10_080, stepSeconds: 30 }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toBe(
      'prometheus.query-range: 10080 minutes at a 30s step is 20161 points per series; Prometheus allows 11000: use stepSeconds ≥ 55',
    );
    expect(prometheus.requests).toEqual([]);
  });

  it('reports a Prometheus error for a range query', async () => {
    // Prepare
    prometheus.answer('"text"', { type: 'string', value: 'text' });

    // Act
    const error = await rejectionOf(rangeQuery({ query: '"text"' }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toContain('bad_data: invalid expression type "string" for range query');
  });

  it('runs for real in a dry run (it reads only)', async () => {
    // Prepare
    prometheus.setMetric('up', {}, 1);

    // Act
    const output = await rangeQuery({ query: 'up', lookbackMinutes: 5 }, true);

    // Assess
    expect(output).toMatchObject({ value: 1, series: [{ samples: 6 }] });
  });
});

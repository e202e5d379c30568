import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakePrometheus, parseSelector } from '../../../local/demo/fake-prometheus.ts';

/** The fake answers with the bodies Prometheus documents; the tools' tests rely on that. */

const NOW = 1_777_896_000; // 2026-05-04T12:00:00Z
const prometheus = new FakePrometheus({ now: () => NOW });
let url: string;

beforeAll(async () => {
  url = await prometheus.start();
});
afterAll(() => prometheus.stop());
beforeEach(() => {
  prometheus.reset();
});

async function get(path: string, params: Record<string, string> = {}) {
  const response = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

describe('FakePrometheus', () => {
  it('answers an instant vector query like Prometheus', async () => {
    // Prepare
    prometheus.setMetric('up', { job: 'prometheus', instance: 'localhost:9090' }, 1);

    // Act
    const answer = await get('/api/v1/query', { query: 'up', time: '2015-07-01T20:10:51.781Z' });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('application/json');
    expect(JSON.parse(answer.body)).toEqual({
      status: 'success',
      data: {
        resultType: 'vector',
        result: [
          {
            metric: { __name__: 'up', job: 'prometheus', instance: 'localhost:9090' },
            value: [1435781451.781, '1'],
          },
        ],
      },
    });
  });

  it('answers a range query with a matrix sampled at start + k·step', async () => {
    // Prepare
    prometheus.setMetric('up', { job: 'node' }, (t) => (t >= 1435781460 ? 1 : 0));

    // Act
    const answer = await get('/api/v1/query_range', {
      query: 'up',
      start: '2015-07-01T20:10:30.781Z',
      end: '2015-07-01T20:11:00.781Z',
      step: '15s',
    });

    // Assess
    expect(JSON.parse(answer.body)).toEqual({
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          {
            metric: { __name__: 'up', job: 'node' },
            values: [
              [1435781430.781, '0'],
              [1435781445.781, '0'],
              [1435781460.781, '1'],
            ],
          },
        ],
      },
    });
  });

  it('answers scalars and strings as [time, "value"] pairs, NaN and infinities as Prometheus spells them', async () => {
    // Prepare
    prometheus
      .answer('scalar(vector(1))', { type: 'scalar', value: Number.POSITIVE_INFINITY })
      .answer('"x"', { type: 'string', value: 'x' })
      .answer('0/0', { type: 'vector', series: [{ labels: {}, value: Number.NaN }] });

    // Act
    const scalar = JSON.parse((await get('/api/v1/query', { query: 'scalar(vector(1))' })).body);
    const text = JSON.parse((await get('/api/v1/query', { query: '"x"' })).body);
    const nan = JSON.parse((await get('/api/v1/query', { query: '0/0' })).body);

    // Assess
    expect(scalar.data).toEqual({ resultType: 'scalar', result: [NOW, '+Inf'] });
    expect(text.data).toEqual({ resultType: 'string', result: [NOW, 'x'] });
    expect(nan.data.result).toEqual([{ metric: {}, value: [NOW, 'NaN'] }]);
  });

  it('answers errors with status, errorType and error and the HTTP status Prometheus uses', async () => {
    // Prepare
    prometheus.answer(/^boom/, {
      type: 'error',
      errorType: 'execution',
      error: 'many-to-many matching not allowed',
    });

    // Act
    const missing = await get('/api/v1/query');
    const execution = await get('/api/v1/query', { query: 'boom' });
    const backwards = await get('/api/v1/query_range', { query: 'up', start: '100', end: '50', step: '1' });
    const tooMany = await get('/api/v1/query_range', { query: 'up', start: '0', end: '100000', step: '1' });

    // Assess
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body)).toMatchObject({ status: 'error', errorType: 'bad_data' });
    expect(execution.status).toBe(422);
    expect(JSON.parse(execution.body)).toEqual({
      status: 'error',
      errorType: 'execution',
      error: 'many-to-many matching not allowed',
    });
    expect(JSON.parse(backwards.body).error).toBe(
      'invalid parameter "end": end timestamp must not be before start time',
    );
    expect(JSON.parse(tooMany.body).error).toContain('exceeded maximum resolution of 11,000 points');
  });

  it('selects metrics by label matchers (=, !=, =~, !~) for bare selectors', async () => {
    // Prepare
    prometheus
      .setMetric('kube_pod_info', { namespace: 'shop', pod: 'web-1' }, 1)
      .setMetric('kube_pod_info', { namespace: 'shop', pod: 'worker-1' }, 1)
      .setMetric('kube_pod_info', { namespace: 'kube-system', pod: 'coredns-1' }, 1);

    // Act
    const pods = (query: string) =>
      prometheus.resolve(query).type === 'vector'
        ? (prometheus.resolve(query) as { series: { labels: Record<string, string> }[] }).series.map(
            (series) => series.labels.pod,
          )
        : [];

    // Assess
    expect(pods('kube_pod_info{namespace="shop"}')).toEqual(['web-1', 'worker-1']);
    expect(pods('kube_pod_info{namespace!="shop"}')).toEqual(['coredns-1']);
    expect(pods('kube_pod_info{pod=~"web-.*|core.*"}')).toEqual(['web-1', 'coredns-1']);
    expect(pods('{__name__="kube_pod_info", pod!~"w.*"}')).toEqual(['coredns-1']);
    expect(pods('sum(kube_pod_info)')).toEqual([]);
    expect(parseSelector('rate(x[5m])')).toBeUndefined();
  });

  it('serves /metrics in the text exposition format', async () => {
    // Prepare
    prometheus
      .describeMetric('node_filesystem_avail_bytes', { type: 'gauge', help: 'Filesystem space available.' })
      .setMetric('node_filesystem_avail_bytes', { mountpoint: '/', device: '/dev/nvme0n1p1' }, 1.5e9)
      .setMetric('node_filesystem_avail_bytes', { mountpoint: '/var/lib "x"', device: 'a\\b' }, Number.NaN)
      .setMetric('up', {}, 1);

    // Act
    const answer = await get('/metrics');

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(answer.body).toBe(
      [
        '# HELP node_filesystem_avail_bytes Filesystem space available.',
        '# TYPE node_filesystem_avail_bytes gauge',
        'node_filesystem_avail_bytes{mountpoint="/",device="/dev/nvme0n1p1"} 1500000000',
        'node_filesystem_avail_bytes{mountpoint="/var/lib \\"x\\"",device="a\\\\b"} NaN',
        'up 1',
        '',
      ].join('\n'),
    );
  });

  it('answers 404 for other paths, as a wrong base URL would get', async () => {
    // Act
    const answer = await get('/prometheus/api/v1/query', { query: 'up' });

    // Assess
    expect(answer.status).toBe(404);
    expect(prometheus.requests).toEqual([]);
  });
});

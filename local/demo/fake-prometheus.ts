import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A Prometheus stand-in over real HTTP on 127.0.0.1: `/api/v1/query`, `/api/v1/query_range` (GET and
 * form-encoded POST) with the documented response bodies, and `/metrics` in the text exposition format.
 *
 * It does not evaluate PromQL. A test (or the demo's simulated environment) sets:
 * - metrics: series with a `__name__` and a value that may change with time. A query that is a bare
 *   selector (`name{label="x", other=~"re.*"}`) selects from them, as Prometheus would; `/metrics`
 *   exposes them.
 * - answers: for any other query, the result to give, matched by exact text (whitespace-insensitive),
 *   a RegExp or a predicate. An unmatched query answers an empty vector, like a metric that has no data.
 *
 * Response shapes: https://prometheus.io/docs/prometheus/latest/querying/api/
 */

/** A sample value; a function of the evaluation time (Unix seconds); null means "no sample then". */
export type FakeValue = number | ((timeSeconds: number) => number | null);

export interface FakeSeries {
  labels: Record<string, string>;
  value: FakeValue;
}

export type FakeAnswer =
  /** An instant vector; a range query samples each series over the range. */
  | { type: 'vector'; series: FakeSeries[] }
  /** An instant query of a range selector (`foo[5m]`): each series sampled over the window before `time`. */
  | { type: 'matrix'; series: FakeSeries[]; windowSeconds: number; stepSeconds?: number }
  | { type: 'scalar'; value: FakeValue }
  | { type: 'string'; value: string }
  /** Prometheus' own errors: bad_data (400), execution (422), timeout/unavailable (503), internal (500). */
  | { type: 'error'; errorType: string; error: string; httpStatus?: number }
  /** Something in front of Prometheus answering instead (a proxy's 429/503, a 404 for a wrong base path). */
  | { type: 'http'; httpStatus: number; body?: string; contentType?: string };

export type QueryMatcher = string | RegExp | ((query: string) => boolean);

export interface MetricMetadata {
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  params: Record<string, string>;
}

export interface FakePrometheusOptions {
  /** Evaluation time when a query names none (Unix seconds). Default: the wall clock. */
  now?: () => number;
  /** Warnings to add to every successful answer. */
  warnings?: string[];
}

/** Prometheus' own limit on range queries. */
const MAX_POINTS = 11_000;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

class BadData extends Error {}

/** Formats a sample value the way Prometheus does in JSON and in the exposition format. */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function valueAt(value: FakeValue, timeSeconds: number): number | null {
  return typeof value === 'function' ? value(timeSeconds) : value;
}

/** RFC 3339 or Unix seconds, as the API accepts them. */
function parseTime(raw: string, name: string): number {
  if (/^[+-]?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (RFC3339.test(raw)) return Date.parse(raw) / 1_000;
  throw new BadData(`invalid parameter "${name}": cannot parse "${raw}" to a valid timestamp`);
}

/** Seconds as a float, or a Prometheus duration such as 5m or 1h30m. */
function parseDuration(raw: string, name: string): number {
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw);
  const units: Record<string, number> = {
    ms: 0.001,
    s: 1,
    m: 60,
    h: 3_600,
    d: 86_400,
    w: 604_800,
    y: 31_536_000,
  };
  const parts = [...raw.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== raw)
    throw new BadData(`invalid parameter "${name}": cannot parse "${raw}" to a valid duration`);
  return parts.reduce((total, part) => total + Number(part[1]) * (units[part[2]!] ?? 0), 0);
}

interface LabelMatcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

/** Parses `name{a="x", b!~"y"}`; undefined when the query is anything more than a selector. */
export function parseSelector(query: string): LabelMatcher[] | undefined {
  const match = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(?:\{(.*)\})?\s*$/s.exec(query);
  if (!match || (!match[1] && match[2] === undefined)) return undefined;
  const matchers: LabelMatcher[] = match[1] ? [{ name: '__name__', op: '=', value: match[1] }] : [];
  const body = match[2]?.trim() ?? '';
  if (body === '') return matchers;
  const item = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let offset = 0;
  while (offset < body.length) {
    item.lastIndex = offset;
    const found = item.exec(body);
    if (!found) return undefined;
    matchers.push({
      name: found[1]!,
      op: found[2] as LabelMatcher['op'],
      value: found[3]!.replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped)),
    });
    offset = item.lastIndex;
  }
  return matchers;
}

function matches(labels: Record<string, string>, matcher: LabelMatcher): boolean {
  const actual = labels[matcher.name] ?? '';
  switch (matcher.op) {
    case '=':
      return actual === matcher.value;
    case '!=':
      return actual !== matcher.value;
    case '=~':
      return new RegExp(`^(?:${matcher.value})$`).test(actual);
    case '!~':
      return !new RegExp(`^(?:${matcher.value})$`).test(actual);
  }
}

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Label value escaping of the text exposition format. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function normalizeQuery(query: string): string {
  return query.replace(/\s+/g, ' ').trim();
}

export class FakePrometheus {
  /** Every API request, in order (for assertions on query text, method and parameters). */
  readonly requests: RecordedRequest[] = [];
  /** Added to every API answer before it is sent (for timeout and abort tests). */
  delayMs = 0;

  private readonly metrics = new Map<string, FakeSeries>();
  private readonly metadata = new Map<string, MetricMetadata>();
  private answers: { match: QueryMatcher; answer: FakeAnswer }[] = [];
  private server: Server | undefined;
  private readonly now: () => number;
  private readonly warnings: string[];
  private readonly sockets = new Set<Socket>();

  constructor(options: FakePrometheusOptions = {}) {
    this.now = options.now ?? (() => Date.now() / 1_000);
    this.warnings = options.warnings ?? [];
  }

  /** Starts listening on 127.0.0.1 (a free port unless given); returns the base URL. */
  async start(port = 0): Promise<string> {
    if (this.server) return this.url;
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent)
          this.sendJson(response, 500, { status: 'error', errorType: 'internal', error: String(error) });
        else response.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    if (!this.server) throw new Error('FakePrometheus is not started: call start() first');
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  // ------------------------------------------------------------------------------------- the model

  /** Sets (or replaces) one series of a metric; `labels` must not repeat `__name__`. */
  setMetric(name: string, labels: Record<string, string>, value: FakeValue): this {
    const full = { __name__: name, ...labels };
    this.metrics.set(labelKey(full), { labels: full, value });
    return this;
  }

  /** Removes the series of a metric matching all the given labels (all of them when none are given). */
  removeMetric(name: string, labels: Record<string, string> = {}): this {
    for (const [key, series] of this.metrics) {
      if (series.labels.__name__ !== name) continue;
      if (Object.entries(labels).every(([label, value]) => series.labels[label] === value))
        this.metrics.delete(key);
    }
    return this;
  }

  /** HELP and TYPE lines for /metrics. */
  describeMetric(name: string, metadata: MetricMetadata): this {
    this.metadata.set(name, metadata);
    return this;
  }

  /** What to answer for queries that match; a later answer for the same matcher wins over an earlier one. */
  answer(match: QueryMatcher, answer: FakeAnswer): this {
    this.answers = [{ match, answer }, ...this.answers];
    return this;
  }

  /** Forgets answers, metrics and recorded requests. */
  reset(): this {
    this.answers = [];
    this.metrics.clear();
    this.metadata.clear();
    this.requests.length = 0;
    this.delayMs = 0;
    return this;
  }

  /** The answer a query gets: a registered one, else the selected metrics, else an empty vector. */
  resolve(query: string): FakeAnswer {
    const normalized = normalizeQuery(query);
    for (const { match, answer } of this.answers) {
      if (
        typeof match === 'string'
          ? normalizeQuery(match) === normalized
          : typeof match === 'function'
            ? match(query)
            : match.test(query)
      )
        return answer;
    }
    const selector = parseSelector(query);
    if (!selector) return { type: 'vector', series: [] };
    return {
      type: 'vector',
      series: [...this.metrics.values()].filter((series) =>
        selector.every((matcher) => matches(series.labels, matcher)),
      ),
    };
  }

  // ------------------------------------------------------------------------------------- HTTP

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/metrics' && (request.method === 'GET' || request.method === 'HEAD')) {
      const body = this.exposition();
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      response.end(request.method === 'HEAD' ? undefined : body);
      return;
    }
    if (url.pathname === '/-/healthy' || url.pathname === '/-/ready') {
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('Prometheus Server is Ready.\n');
      return;
    }
    const endpoint =
      url.pathname === '/api/v1/query'
        ? 'query'
        : url.pathname === '/api/v1/query_range'
          ? 'query_range'
          : undefined;
    if (!endpoint) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('404 page not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'POST') {
      response.writeHead(405, { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, POST' });
      response.end('Method Not Allowed\n');
      return;
    }

    const params = Object.fromEntries(url.searchParams);
    if (request.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const type = request.headers['content-type'] ?? '';
      if (type.startsWith('application/x-www-form-urlencoded'))
        Object.assign(
          params,
          Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
        );
    }
    this.requests.push({ method: request.method, path: url.pathname, params });
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    // The client gave up (a timeout, an abort) while the answer was delayed.
    if (response.destroyed || !response.socket || response.socket.destroyed) return;

    try {
      const data = endpoint === 'query' ? this.instant(params) : this.range(params);
      if ('httpStatus' in data) {
        const { httpStatus, body, contentType } = data;
        response.writeHead(httpStatus, { 'content-type': contentType });
        response.end(body);
        return;
      }
      this.sendJson(response, 200, {
        status: 'success',
        data,
        ...(this.warnings.length > 0 ? { warnings: this.warnings } : {}),
      });
    } catch (error) {
      if (!(error instanceof BadData)) throw error;
      this.sendJson(response, 400, { status: 'error', errorType: 'bad_data', error: error.message });
    }
  }

  private sendJson(response: ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  }

  /** A failure answer as the HTTP status and body Prometheus (or a proxy) would send. */
  private failure(answer: FakeAnswer): { httpStatus: number; body: string; contentType: string } | undefined {
    if (answer.type === 'error') {
      const status =
        answer.httpStatus ??
        (
          {
            bad_data: 400,
            execution: 422,
            timeout: 503,
            unavailable: 503,
            canceled: 499,
            internal: 500,
          } as Record<string, number>
        )[answer.errorType] ??
        422;
      return {
        httpStatus: status,
        body: JSON.stringify({ status: 'error', errorType: answer.errorType, error: answer.error }),
        contentType: 'application/json',
      };
    }
    if (answer.type === 'http')
      return {
        httpStatus: answer.httpStatus,
        body: answer.body ?? '',
        contentType: answer.contentType ?? 'text/plain; charset=utf-8',
      };
    return undefined;
  }

  private requiredQuery(params: Record<string, string>): string {
    const query = params.query;
    if (query === undefined || query.trim() === '')
      throw new BadData('invalid parameter "query": 1:1: parse error: no expression found in input');
    return query;
  }

  private instant(params: Record<string, string>) {
    const query = this.requiredQuery(params);
    const time = params.time === undefined ? this.now() : parseTime(params.time, 'time');
    const answer = this.resolve(query);
    const failed = this.failure(answer);
    if (failed) return failed;
    switch (answer.type) {
      case 'vector':
        return {
          resultType: 'vector',
          result: answer.series.flatMap((series) => {
            const value = valueAt(series.value, time);
            return value === null ? [] : [{ metric: series.labels, value: [time, formatSampleValue(value)] }];
          }),
        };
      case 'matrix': {
        const step = answer.stepSeconds ?? 15;
        const times: number[] = [];
        for (let t = time - answer.windowSeconds + step; t <= time + 1e-9; t += step) times.push(t);
        return { resultType: 'matrix', result: this.sampled(answer.series, times) };
      }
      case 'scalar': {
        const value = valueAt(answer.value, time);
        return { resultType: 'scalar', result: [time, formatSampleValue(value ?? Number.NaN)] };
      }
      case 'string':
        return { resultType: 'string', result: [time, answer.value] };
      default:
        throw new Error(`unhandled answer ${answer.type}`);
    }
  }

  private range(params: Record<string, string>) {
    const query = this.requiredQuery(params);
    for (const name of ['start', 'end', 'step'] as const)
      if (params[name] === undefined) throw new BadData(`invalid parameter "${name}": missing`);
    const start = parseTime(params.start!, 'start');
    const end = parseTime(params.end!, 'end');
    const step = parseDuration(params.step!, 'step');
    if (end < start)
      throw new BadData('invalid parameter "end": end timestamp must not be before start time');
    if (step <= 0)
      throw new BadData(
        'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
      );
    if ((end - start) / step > MAX_POINTS)
      throw new BadData(
        'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
      );
    const answer = this.resolve(query);
    const failed = this.failure(answer);
    if (failed) return failed;
    const times: number[] = [];
    for (let t = start; t <= end + 1e-9; t += step) times.push(Math.round(t * 1_000) / 1_000);
    switch (answer.type) {
      case 'vector':
      case 'matrix':
        return { resultType: 'matrix', result: this.sampled(answer.series, times) };
      case 'scalar':
        return { resultType: 'matrix', result: this.sampled([{ labels: {}, value: answer.value }], times) };
      case 'string':
        throw new BadData(
          'invalid expression type "string" for range query, must be Scalar or instant Vector',
        );
      default:
        throw new Error(`unhandled answer ${answer.type}`);
    }
  }

  private sampled(series: FakeSeries[], times: number[]) {
    return series.flatMap((one) => {
      const values = times.flatMap((t) => {
        const value = valueAt(one.value, t);
        return value === null ? [] : [[t, formatSampleValue(value)] as [number, string]];
      });
      return values.length === 0 ? [] : [{ metric: one.labels, values }];
    });
  }

  /** The metrics in the text exposition format (version 0.0.4), at the current time. */
  exposition(): string {
    const time = this.now();
    const byName = new Map<string, FakeSeries[]>();
    for (const series of this.metrics.values()) {
      const name = series.labels.__name__!;
      byName.set(name, [...(byName.get(name) ?? []), series]);
    }
    const lines: string[] = [];
    for (const name of [...byName.keys()].sort()) {
      const metadata = this.metadata.get(name);
      if (metadata)
        lines.push(`# HELP ${name} ${escapeHelp(metadata.help)}`, `# TYPE ${name} ${metadata.type}`);
      const series = byName.get(name)!.sort((a, b) => (labelKey(a.labels) < labelKey(b.labels) ? -1 : 1));
      for (const one of series) {
        const value = valueAt(one.value, time);
        if (value === null) continue;
        const labels = Object.entries(one.labels)
          .filter(([label]) => label !== '__name__')
          .map(([label, labelValue]) => `${label}="${escapeLabelValue(labelValue)}"`);
        lines.push(`${name}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${formatSampleValue(value)}`);
      }
    }
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  }
}

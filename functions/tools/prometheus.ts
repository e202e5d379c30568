import type { ToolContext, ToolImplementation } from '../ports/tools.ts';
import type {
  AlertExpressionOutput,
  InstantSeries,
  Labels,
  PrometheusQueryOutput,
  PrometheusQueryRangeOutput,
  RangeSeries,
  ScrapeTarget,
  TargetsOutput,
} from './declarations/observability.ts';
import { declarationOf } from './declarations.ts';
import type { ToolRuntime } from './registry.ts';
import { defineTool, ToolError, ToolErrorKind } from './tool.ts';

/**
 * prometheus.query and prometheus.query-range against the Prometheus HTTP API (v1). Outputs are shaped
 * for runbook conditions: `value` is a plain number (or null), labels are a flat object.
 */

/** Prometheus refuses range queries with more points per series than this. */
export const MAX_POINTS_PER_SERIES = 11_000;
/** Series an alert-expression output lists (the counts cover all of them). */
const MAX_LISTED_SERIES = 20;
/** Above this URL length the query goes in a form-encoded POST body (Prometheus accepts both). */
const MAX_GET_URL_LENGTH = 4_000;
/** Error bodies are quoted up to this many characters. */
const MAX_QUOTED_BODY = 300;

type SamplePair = [number, string];
interface PrometheusSuccess {
  status: 'success';
  data: { resultType: string; result: unknown } & Record<string, unknown>;
  warnings?: string[];
}
interface PrometheusFailure {
  status: 'error';
  errorType?: string;
  error?: string;
}

/** Prometheus encodes sample values as strings ("1.5", "NaN", "+Inf"); conditions need numbers. */
export function sampleValue(raw: unknown): number | null {
  if (typeof raw !== 'string' && typeof raw !== 'number') return null;
  const parsed = typeof raw === 'number' ? raw : Number(raw);
  return Number.isFinite(parsed) ? parsed : null;
}

function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_QUOTED_BODY ? `${flat.slice(0, MAX_QUOTED_BODY)}…` : flat;
}

/** The Prometheus base URL of a step: its `prometheus` parameter, else the environment's. */
export function prometheusBaseUrl(tool: string, parameter: string | undefined, runtime: ToolRuntime): URL {
  const configured = parameter ?? runtime.config.tools.prometheusUrl;
  if (!configured) {
    throw new ToolError(
      ToolErrorKind.Failed,
      `${tool}: no Prometheus to ask: give the step a "prometheus" parameter (base URL) or set ` +
        `tools.prometheusUrl in the ${runtime.config.environment} environment's config`,
    );
  }
  let url: URL;
  try {
    url = new URL(configured);
  } catch {
    throw new ToolError(ToolErrorKind.Failed, `${tool}: Prometheus URL "${configured}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ToolError(
      ToolErrorKind.Failed,
      `${tool}: Prometheus URL "${configured}" must be http or https, not ${url.protocol}`,
    );
  // A base with a path prefix (https://host/prometheus) keeps it: the API path is appended, not replaced.
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  url.search = '';
  url.hash = '';
  return url;
}

/** Calls one Prometheus API endpoint and returns its `data` and warnings, or throws a ToolError. */
async function callApi(
  tool: string,
  runtime: ToolRuntime,
  base: URL,
  endpoint: 'query' | 'query_range' | 'targets',
  params: Record<string, string>,
  context: ToolContext,
): Promise<PrometheusSuccess> {
  const url = new URL(`api/v1/${endpoint}`, base);
  const form = new URLSearchParams(params);
  const getUrl = `${url.toString()}?${form.toString()}`;
  const usePost = getUrl.length > MAX_GET_URL_LENGTH;
  const where = `${url.origin}${url.pathname}`;
  let response: Response;
  try {
    response = await runtime.fetch(usePost ? url : getUrl, {
      method: usePost ? 'POST' : 'GET',
      headers: {
        accept: 'application/json',
        ...(usePost ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(usePost ? { body: form.toString() } : {}),
      signal: context.signal,
    });
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    const reason = error instanceof Error ? describeFetchError(error) : String(error);
    throw new ToolError(ToolErrorKind.Failed, `${tool}: cannot reach Prometheus at ${where}: ${reason}`, {
      cause: error,
    });
  }

  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    throw new ToolError(ToolErrorKind.Failed, `${tool}: reading the answer of ${where} failed: ${error}`, {
      cause: error,
    });
  }
  let body: PrometheusSuccess | PrometheusFailure | undefined;
  try {
    body = JSON.parse(text) as PrometheusSuccess | PrometheusFailure;
  } catch {
    body = undefined;
  }

  const failure =
    body?.status === 'error'
      ? `${body.errorType ?? 'error'}: ${body.error ?? '(no message)'}`
      : `HTTP ${response.status}${text ? `: ${quote(text)}` : ''}`;
  const data = {
    url: where,
    httpStatus: response.status,
    ...(body?.status === 'error' ? { errorType: body.errorType, error: body.error } : {}),
  };
  if (response.status === 429 || response.status === 503) {
    throw new ToolError(
      ToolErrorKind.Throttled,
      `${tool}: Prometheus at ${where} is overloaded or unavailable (HTTP ${response.status}): ${failure}`,
      { data },
    );
  }
  if (body?.status === 'error') {
    throw new ToolError(
      ToolErrorKind.Failed,
      `${tool}: Prometheus at ${where} refused the query: ${failure}`,
      {
        data,
      },
    );
  }
  if (response.status === 401 || response.status === 403) {
    throw new ToolError(
      ToolErrorKind.AccessDenied,
      `${tool}: Prometheus at ${where} denied access (HTTP ${response.status}); check the credentials of ` +
        'the proxy in front of it',
      { data },
    );
  }
  if (!response.ok || body?.status !== 'success' || typeof body.data !== 'object' || body.data === null) {
    throw new ToolError(
      ToolErrorKind.Failed,
      `${tool}: ${where} did not answer like the Prometheus API (${failure}); is the base URL right?`,
      { data },
    );
  }
  return body;
}

function describeFetchError(error: Error): string {
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: string }).code;
    return code && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return error.message;
}

function malformed(tool: string, what: string): ToolError {
  return new ToolError(ToolErrorKind.Failed, `${tool}: unexpected Prometheus answer: ${what}`);
}

function labelsOf(metric: unknown): Labels {
  if (metric === null || typeof metric !== 'object') return {};
  const labels: Labels = {};
  for (const [name, value] of Object.entries(metric)) labels[name] = String(value);
  return labels;
}

function isSamplePair(value: unknown): value is SamplePair {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'number';
}

/** Shapes an instant query's `data` for runbooks. */
export function instantOutput(tool: string, success: PrometheusSuccess): PrometheusQueryOutput {
  const { resultType, result } = success.data;
  const warnings = success.warnings?.length ? { warnings: success.warnings } : {};
  switch (resultType) {
    case 'vector': {
      if (!Array.isArray(result)) throw malformed(tool, 'vector result is not a list');
      const series = result.map((item: { metric?: unknown; value?: unknown }) => ({
        labels: labelsOf(item.metric),
        // A native-histogram sample has `histogram` instead of `value`: it has no single number.
        value: isSamplePair(item.value) ? sampleValue(item.value[1]) : null,
      }));
      return { resultType, value: series[0]?.value ?? null, series, ...warnings };
    }
    case 'matrix': {
      if (!Array.isArray(result)) throw malformed(tool, 'matrix result is not a list');
      const series = result.map((item: { metric?: unknown; values?: unknown }) => {
        const values = Array.isArray(item.values) ? item.values.filter(isSamplePair) : [];
        const last = values.at(-1);
        return {
          labels: labelsOf(item.metric),
          value: last ? sampleValue(last[1]) : null,
          samples: values.length,
        };
      });
      return { resultType, value: series[0]?.value ?? null, series, ...warnings };
    }
    case 'scalar': {
      if (!isSamplePair(result)) throw malformed(tool, 'scalar result is not a [time, value] pair');
      const value = sampleValue(result[1]);
      return { resultType, value, series: [{ labels: {}, value }], ...warnings };
    }
    case 'string': {
      if (!isSamplePair(result)) throw malformed(tool, 'string result is not a [time, value] pair');
      return { resultType, value: null, series: [], text: String(result[1]), ...warnings };
    }
    default:
      throw malformed(tool, `unknown resultType "${resultType}"`);
  }
}

/** Summarizes a range query's matrix per series. */
export function rangeSeries(tool: string, success: PrometheusSuccess): RangeSeries[] {
  const { resultType, result } = success.data;
  if (resultType !== 'matrix' || !Array.isArray(result))
    throw malformed(tool, `a range query answered resultType "${resultType}" instead of a matrix`);
  return result.map((item: { metric?: unknown; values?: unknown }) => {
    const values = Array.isArray(item.values) ? item.values.filter(isSamplePair) : [];
    const numbers = values.map((pair) => sampleValue(pair[1]));
    const finite = numbers.filter((value): value is number => value !== null);
    return {
      labels: labelsOf(item.metric),
      samples: values.length,
      first: numbers[0] ?? null,
      last: numbers.at(-1) ?? null,
      min: finite.length > 0 ? Math.min(...finite) : null,
      max: finite.length > 0 ? Math.max(...finite) : null,
      mean: finite.length > 0 ? finite.reduce((sum, value) => sum + value, 0) / finite.length : null,
    };
  });
}

/** Asks Prometheus to give up evaluating when the step would have to answer anyway. */
function evaluationTimeout(runtime: ToolRuntime, context: ToolContext): Record<string, string> {
  if (!Number.isFinite(context.deadline)) return {};
  const seconds = Math.floor((context.deadline - runtime.clock.now().getTime()) / 1_000);
  return seconds >= 1 ? { timeout: `${seconds}s` } : {};
}

export function prometheusQueryTool(runtime: ToolRuntime): ToolImplementation {
  const declaration = declarationOf('prometheus.query');
  return defineTool(declaration, async (parameters, context) => {
    const base = prometheusBaseUrl(declaration.name, parameters.prometheus, runtime);
    const answer = await callApi(
      declaration.name,
      runtime,
      base,
      'query',
      {
        query: parameters.query,
        ...(parameters.time ? { time: parameters.time } : {}),
        ...evaluationTimeout(runtime, context),
      },
      context,
    );
    const output = instantOutput(declaration.name, answer);
    context.log('prometheus query answered', { resultType: output.resultType, series: output.series.length });
    return output;
  });
}

export function prometheusQueryRangeTool(runtime: ToolRuntime): ToolImplementation {
  const declaration = declarationOf('prometheus.query-range');
  return defineTool(declaration, async (parameters, context) => {
    const points = Math.floor((parameters.lookbackMinutes * 60) / parameters.stepSeconds) + 1;
    if (points > MAX_POINTS_PER_SERIES) {
      const minimumStep = Math.ceil((parameters.lookbackMinutes * 60) / (MAX_POINTS_PER_SERIES - 1));
      throw new ToolError(
        ToolErrorKind.Failed,
        `${declaration.name}: ${parameters.lookbackMinutes} minutes at a ${parameters.stepSeconds}s step is ` +
          `${points} points per series; Prometheus allows ${MAX_POINTS_PER_SERIES}: use stepSeconds ≥ ${minimumStep}`,
      );
    }
    const base = prometheusBaseUrl(declaration.name, parameters.prometheus, runtime);
    const endMs = runtime.clock.now().getTime();
    const startMs = endMs - parameters.lookbackMinutes * 60_000;
    const answer = await callApi(
      declaration.name,
      runtime,
      base,
      'query_range',
      {
        query: parameters.query,
        start: (startMs / 1_000).toFixed(3),
        end: (endMs / 1_000).toFixed(3),
        step: String(parameters.stepSeconds),
        ...evaluationTimeout(runtime, context),
      },
      context,
    );
    const series = rangeSeries(declaration.name, answer);
    context.log('prometheus range query answered', { series: series.length });
    const output: PrometheusQueryRangeOutput = {
      value: series[0]?.last ?? null,
      series,
      start: new Date(startMs).toISOString(),
      end: new Date(endMs).toISOString(),
      stepSeconds: parameters.stepSeconds,
      ...(answer.warnings?.length ? { warnings: answer.warnings } : {}),
    };
    return output;
  });
}

/**
 * The expression of a Prometheus (or Thanos Ruler) graph link, as alerts carry it in generatorURL:
 * `http://prometheus:9090/graph?g0.expr=<url-encoded PromQL>&g0.tab=1`.
 */
export function expressionOfGeneratorUrl(tool: string, generatorUrl: string): string {
  let url: URL;
  try {
    url = new URL(generatorUrl);
  } catch {
    throw new ToolError(
      ToolErrorKind.Failed,
      `${tool}: generatorUrl "${quote(generatorUrl)}" is not a URL; pass the alert's generatorURL or give "expression"`,
    );
  }
  for (const [name, value] of url.searchParams)
    if (/^g\d+\.expr$/.test(name) && value.trim() !== '') return value;
  throw new ToolError(
    ToolErrorKind.Failed,
    `${tool}: generatorUrl ${url.origin}${url.pathname} carries no g0.expr (it is not a Prometheus graph link: Grafana- or vmalert-managed alerts link elsewhere); give the PromQL as "expression"`,
  );
}

/** A series belongs to the alert when every label it has (but __name__) has the alert's value. */
function belongsToAlert(labels: Labels, alertLabels: Readonly<Record<string, string>> | undefined): boolean {
  if (!alertLabels) return true;
  return Object.entries(labels).every(([name, value]) => name === '__name__' || alertLabels[name] === value);
}

export function prometheusAlertExpressionTool(runtime: ToolRuntime): ToolImplementation {
  const declaration = declarationOf('prometheus.alert-expression');
  return defineTool(declaration, async (parameters, context) => {
    const { name } = declaration;
    const { generatorUrl, alertLabels, lookbackMinutes, stepSeconds } = parameters;
    if (parameters.expression === undefined && generatorUrl === undefined)
      throw new ToolError(
        ToolErrorKind.Failed,
        `${name}: give "generatorUrl" (the alert's generatorURL: {{ alert.generatorURL }}) or "expression"`,
      );
    const expression = parameters.expression ?? expressionOfGeneratorUrl(name, generatorUrl!);
    const steps = Math.floor((lookbackMinutes * 60) / stepSeconds) + 1;
    if (steps > MAX_POINTS_PER_SERIES)
      throw new ToolError(
        ToolErrorKind.Failed,
        `${name}: ${lookbackMinutes} minutes at a ${stepSeconds}s step is ${steps} points per series; Prometheus allows ${MAX_POINTS_PER_SERIES}`,
      );
    const base = prometheusBaseUrl(name, parameters.prometheus, runtime);
    const endMs = Math.floor(runtime.clock.now().getTime() / 1_000) * 1_000;
    const startMs = endMs - lookbackMinutes * 60_000;
    const timeout = evaluationTimeout(runtime, context);
    const instant = await callApi(
      name,
      runtime,
      base,
      'query',
      { query: expression, time: (endMs / 1_000).toFixed(3), ...timeout },
      context,
    );
    const now = instantOutput(name, instant);
    const current = now.series.filter((series) => belongsToAlert(series.labels, alertLabels));
    const range = await callApi(
      name,
      runtime,
      base,
      'query_range',
      {
        query: expression,
        start: (startMs / 1_000).toFixed(3),
        end: (endMs / 1_000).toFixed(3),
        step: String(stepSeconds),
        ...timeout,
      },
      context,
    );
    if (range.data.resultType !== 'matrix' || !Array.isArray(range.data.result))
      throw malformed(
        name,
        `a range query answered resultType "${range.data.resultType}" instead of a matrix`,
      );
    const matrix = (range.data.result as Array<{ metric?: unknown; values?: unknown }>).filter((item) =>
      belongsToAlert(labelsOf(item.metric), alertLabels),
    );
    const heldAt = new Set<number>();
    let min: number | null = null;
    let max: number | null = null;
    for (const item of matrix) {
      for (const pair of Array.isArray(item.values) ? item.values.filter(isSamplePair) : []) {
        heldAt.add(Math.round(pair[0] * 1_000));
        const value = sampleValue(pair[1]);
        if (value === null) continue;
        min = min === null ? value : Math.min(min, value);
        max = max === null ? value : Math.max(max, value);
      }
    }
    // Steps at which it held, counted back from the last one without a gap.
    let held = 0;
    while (heldAt.has(endMs - held * stepSeconds * 1_000)) held += 1;
    const times = [...heldAt].sort((a, b) => a - b);
    const holdsNow = current.length > 0;
    const warnings = [...new Set([...(instant.warnings ?? []), ...(range.warnings ?? [])])];
    const output: AlertExpressionOutput = {
      expression,
      source: parameters.expression !== undefined ? 'parameter' : 'generatorURL',
      holdsNow,
      now: {
        series: current.slice(0, MAX_LISTED_SERIES).map(
          (series): InstantSeries => ({
            labels: series.labels,
            value: series.value,
          }),
        ),
        seriesCount: current.length,
        value: current[0]?.value ?? null,
      },
      window: {
        lookbackMinutes,
        stepSeconds,
        start: new Date(startMs).toISOString(),
        end: new Date(endMs).toISOString(),
        // From the first step of the unbroken run to now: a lower bound at the step's resolution.
        heldForMinutes: holdsNow ? Math.round(((Math.max(0, held - 1) * stepSeconds) / 60) * 10) / 10 : null,
        heldFraction: Math.round((heldAt.size / steps) * 1_000) / 1_000,
        firstHeldAt: times.length > 0 ? new Date(times[0]!).toISOString() : null,
        lastHeldAt: times.length > 0 ? new Date(times.at(-1)!).toISOString() : null,
        min,
        max,
        seriesCount: matrix.length,
      },
      ...(warnings.length > 0 ? { warnings } : {}),
    };
    context.log('alert expression evaluated', { holdsNow, series: current.length });
    return output;
  });
}

interface ActiveTarget {
  labels?: Record<string, string>;
  scrapePool?: string;
  scrapeUrl?: string;
  health?: string;
  lastError?: string;
  lastScrape?: string;
  lastScrapeDuration?: number;
}

export function prometheusTargetsTool(runtime: ToolRuntime): ToolImplementation {
  const declaration = declarationOf('prometheus.targets');
  return defineTool(declaration, async (parameters, context) => {
    const { name } = declaration;
    const base = prometheusBaseUrl(name, parameters.prometheus, runtime);
    const answer = await callApi(name, runtime, base, 'targets', { state: 'active' }, context);
    const active = answer.data.activeTargets;
    if (!Array.isArray(active)) throw malformed(name, 'the targets answer has no activeTargets list');
    const wanted = { job: parameters.job, namespace: parameters.namespace, service: parameters.service };
    const matched = (active as ActiveTarget[])
      .filter((target) =>
        Object.entries(wanted).every(
          ([label, value]) => value === undefined || target.labels?.[label] === value,
        ),
      )
      .map(
        (target): ScrapeTarget => ({
          scrapePool: target.scrapePool ?? '',
          scrapeUrl: target.scrapeUrl ?? '',
          health: target.health ?? 'unknown',
          lastError: target.lastError ? target.lastError : null,
          lastScrape: target.lastScrape && !target.lastScrape.startsWith('0001-') ? target.lastScrape : null,
          lastScrapeDurationSeconds:
            typeof target.lastScrapeDuration === 'number' ? target.lastScrapeDuration : null,
          labels: labelsOf(target.labels),
        }),
      );
    const count = (health: string) => matched.filter((target) => target.health === health).length;
    const shown = matched
      .filter((target) => parameters.health === 'any' || target.health === parameters.health)
      .sort(
        (a, b) =>
          Number(b.health === 'down') - Number(a.health === 'down') || a.scrapeUrl.localeCompare(b.scrapeUrl),
      );
    const errors = new Map<string, number>();
    for (const target of matched)
      if (target.health === 'down')
        errors.set(
          target.lastError ?? '(no error given)',
          (errors.get(target.lastError ?? '(no error given)') ?? 0) + 1,
        );
    const output: TargetsOutput = {
      total: matched.length,
      up: count('up'),
      down: count('down'),
      unknown: count('unknown'),
      targets: shown.slice(0, parameters.limit),
      errors: [...errors.entries()]
        .map(([error, targets]) => ({ error, targets }))
        .sort((a, b) => b.targets - a.targets || a.error.localeCompare(b.error)),
    };
    return output;
  });
}

/** Every Prometheus tool. */
export function prometheusTools(runtime: ToolRuntime): ToolImplementation[] {
  return [
    prometheusQueryTool(runtime),
    prometheusQueryRangeTool(runtime),
    prometheusAlertExpressionTool(runtime),
    prometheusTargetsTool(runtime),
  ];
}

export type {
  AlertExpressionOutput,
  InstantSeries,
  Labels,
  PrometheusQueryOutput,
  PrometheusQueryRangeOutput,
  RangeSeries,
  TargetsOutput,
} from './declarations/observability.ts';

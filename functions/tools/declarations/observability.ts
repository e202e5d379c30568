import * as z from 'zod';
import type { ToolDeclaration } from '../../core/tool-catalog.ts';
import { isoTimestamp, prometheus, stringMap } from './shared.ts';

/** Declarations of the Prometheus tools (functions/tools/prometheus.ts). */

export const Labels = stringMap;
export type Labels = z.infer<typeof Labels>;

export const InstantSeries = z.object({
  labels: Labels,
  value: z.number().nullable().describe('the sample’s value; null for NaN, ±Inf or a native histogram'),
  samples: z.number().optional().describe('only for matrix results: samples in the window'),
});
export type InstantSeries = z.infer<typeof InstantSeries>;

export const PrometheusQueryOutput = z.object({
  resultType: z.enum(['vector', 'matrix', 'scalar', 'string']),
  value: z
    .number()
    .nullable()
    .describe('the first sample’s value; null when there is no result or it is NaN/±Inf'),
  series: z.array(InstantSeries),
  text: z.string().optional().describe('the string of a `string` result'),
  warnings: z.array(z.string()).optional(),
});
export type PrometheusQueryOutput = z.infer<typeof PrometheusQueryOutput>;

export const RangeSeries = z.object({
  labels: Labels,
  samples: z.number(),
  first: z.number().nullable(),
  last: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
});
export type RangeSeries = z.infer<typeof RangeSeries>;

export const PrometheusQueryRangeOutput = z.object({
  value: z.number().nullable().describe('the first series’ last value'),
  series: z.array(RangeSeries),
  start: z.string(),
  end: z.string(),
  stepSeconds: z.number(),
  warnings: z.array(z.string()).optional(),
});
export type PrometheusQueryRangeOutput = z.infer<typeof PrometheusQueryRangeOutput>;

export const AlertExpressionOutput = z.object({
  expression: z.string().describe('the PromQL that was evaluated'),
  source: z.enum(['generatorURL', 'parameter']).describe('where the expression came from'),
  holdsNow: z
    .boolean()
    .describe('the expression returns at least one series now: the alert’s condition holds'),
  now: z.object({
    series: z.array(InstantSeries).describe('up to 20 series, those matching alertLabels only when given'),
    seriesCount: z.number(),
    value: z.number().nullable().describe('the first series’ value'),
  }),
  window: z.object({
    lookbackMinutes: z.number(),
    stepSeconds: z.number(),
    start: z.string(),
    end: z.string(),
    heldForMinutes: z
      .number()
      .nullable()
      .describe(
        'how long it has held without a gap up to now, at the step’s resolution; null when it does not hold now',
      ),
    heldFraction: z.number().describe('share of the window’s steps at which it held, 0..1'),
    firstHeldAt: isoTimestamp.describe('the first step in the window at which it held'),
    lastHeldAt: isoTimestamp,
    min: z.number().nullable().describe('the smallest value any series had in the window'),
    max: z.number().nullable(),
    seriesCount: z.number(),
  }),
  warnings: z.array(z.string()).optional(),
});
export type AlertExpressionOutput = z.infer<typeof AlertExpressionOutput>;

export const ScrapeTarget = z.object({
  scrapePool: z.string(),
  scrapeUrl: z.string(),
  health: z.string().describe('up, down or unknown'),
  lastError: z
    .string()
    .nullable()
    .describe('why the last scrape failed: connection refused, context deadline exceeded, HTTP 503…'),
  lastScrape: isoTimestamp,
  lastScrapeDurationSeconds: z.number().nullable(),
  labels: Labels.describe('the target’s labels (job, instance, namespace, pod, service…)'),
});
export type ScrapeTarget = z.infer<typeof ScrapeTarget>;

export const TargetsOutput = z.object({
  total: z.number().describe('active targets that matched the filters'),
  up: z.number(),
  down: z.number(),
  unknown: z.number(),
  targets: z.array(ScrapeTarget).describe('down targets first, up to `limit`'),
  errors: z
    .array(z.object({ error: z.string(), targets: z.number() }))
    .describe('the distinct last errors of down targets, the most common first'),
});
export type TargetsOutput = z.infer<typeof TargetsOutput>;

export const OBSERVABILITY_TOOL_DECLARATIONS = [
  {
    name: 'prometheus.query',
    description: 'An instant PromQL query (/api/v1/query).',
    parameters: z
      .object({ query: z.string().min(1).max(10_000), time: z.string().optional(), prometheus })
      .strict(),
    output: PrometheusQueryOutput,
    promql: ['query'],
    mutating: false,
    risk: 'low',
    dryRun: 'runs the query (read-only tools run for real in dry-run)',
    permissions: { http: true },
  },
  {
    name: 'prometheus.query-range',
    description: 'A PromQL range query over a recent window (/api/v1/query_range), summarized per series.',
    parameters: z
      .object({
        query: z.string().min(1).max(10_000),
        lookbackMinutes: z.number().int().min(1).max(10_080).default(30),
        stepSeconds: z.number().int().min(1).max(3_600).default(60),
        prometheus,
      })
      .strict(),
    output: PrometheusQueryRangeOutput,
    promql: ['query'],
    mutating: false,
    risk: 'low',
    dryRun: 'runs the query (read-only tools run for real in dry-run)',
    permissions: { http: true },
  },
  {
    name: 'prometheus.alert-expression',
    description:
      'Evaluates the alert’s own PromQL now and over a lookback window: does it still hold, since when, and its range. The expression comes from the alert’s generatorURL (a Prometheus graph link: give `{{ alert.generatorURL }}`) or from `expression`; it is always sent to the environment’s Prometheus (or `prometheus`), never to the host named in the URL. With `alertLabels` only the alert’s own series count.',
    parameters: z
      .object({
        generatorUrl: z.string().min(1).max(20_000).optional().describe('the alert’s generatorURL'),
        expression: z
          .string()
          .min(1)
          .max(10_000)
          .optional()
          .describe('PromQL, when there is no generatorURL'),
        alertLabels: z
          .record(z.string(), z.string())
          .optional()
          .describe('the alert’s labels ({{ alert.labels }}): only series whose labels all agree count'),
        lookbackMinutes: z.number().int().min(1).max(10_080).default(60),
        stepSeconds: z.number().int().min(1).max(3_600).default(60),
        prometheus,
      })
      .strict(),
    output: AlertExpressionOutput,
    promql: ['expression'],
    mutating: false,
    risk: 'low',
    dryRun: 'runs the queries (read-only tools run for real in dry-run)',
    permissions: { http: true },
  },
  {
    name: 'prometheus.targets',
    description:
      'Prometheus’ scrape targets (/api/v1/targets) of a job, namespace or service: which are down and the error of their last scrape (what TargetDown is about).',
    parameters: z
      .object({
        job: z.string().min(1).max(256).optional(),
        namespace: z.string().min(1).max(253).optional(),
        service: z.string().min(1).max(253).optional(),
        health: z.enum(['up', 'down', 'any']).default('any'),
        limit: z.number().int().min(1).max(500).default(50),
        prometheus,
      })
      .strict(),
    output: TargetsOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'reads the targets (read-only tools run for real in dry-run)',
    permissions: { http: true },
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;

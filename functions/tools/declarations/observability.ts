import { z } from 'zod';
import type { ToolDeclaration } from '../../core/tool-catalog.ts';
import { prometheus, stringMap } from './shared.ts';

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
] as const satisfies ReadonlyArray<ToolDeclaration>;

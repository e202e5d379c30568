import * as z from 'zod';

/**
 * Blast radius: how many resources one change touches. Every mutating tool declares how to count what
 * one call touches (from its parameters, or by reading the target first); the step runner counts before
 * the change runs, against the runbook's `safetyLimits.blastRadius` and the environment's hourly change
 * budget; `runbook validate` counts what the parameters say as written (a literal list).
 */

/** What a change touches, in the words limits count in. */
export const ResourceKind = z.enum([
  'instance',
  'node',
  'pod',
  'task',
  'workload',
  'function',
  'database',
  'queue',
  'volume',
  'job',
  'autoscaler',
  'stage',
  'host',
]);
export type ResourceKind = z.infer<typeof ResourceKind>;

const PLURAL: Record<ResourceKind, string> = {
  instance: 'instances',
  node: 'nodes',
  pod: 'pods',
  task: 'tasks',
  workload: 'workloads',
  function: 'functions',
  database: 'databases',
  queue: 'queues',
  volume: 'volumes',
  job: 'jobs',
  autoscaler: 'autoscalers',
  stage: 'stages',
  host: 'hosts',
};

/** `4 instances`, `1 pod`. */
export function countOf(kind: ResourceKind, count: number): string {
  return `${count} ${count === 1 ? kind : PLURAL[kind]}`;
}

type Parameters = Readonly<Record<string, unknown>>;

/** How a tool counts what one call touches (on its declaration). */
export interface BlastRadiusDeclaration {
  kind: ResourceKind;
  /** In a few words, for the tool reference and refusals: "one per entry of instanceIds". */
  how: string;
  /**
   * The count the parameters tell: as written (validation: a literal list counts, a template does not)
   * or as resolved (run time). Undefined when they do not tell; then the tool's pre-read counts.
   */
  fromParameters: (parameters: Parameters) => number | undefined;
  /** The tool reads the target before the change when the parameters do not tell (evictable pods, a replica delta). */
  preRead?: true;
  /** The parameter the count comes from, when one does (validation points at it). */
  parameter?: string;
}

/** One resource, named by the parameters. */
export function touchesOne(kind: ResourceKind): BlastRadiusDeclaration {
  return { kind, how: `one ${kind}, named by the parameters`, fromParameters: () => 1 };
}

/** One per distinct entry of a list parameter (a template that is not yet a list does not tell). */
export function touchesEachOf(kind: ResourceKind, parameter: string): BlastRadiusDeclaration {
  return {
    kind,
    how: `one ${kind} per entry of ${parameter}`,
    parameter,
    fromParameters: (parameters) => {
      const value = parameters[parameter];
      return Array.isArray(value) ? new Set(value.map((entry) => JSON.stringify(entry))).size : undefined;
    },
  };
}

/**
 * Counted by reading the target first; `fromParameters` may still answer for some parameters (an
 * `increaseBy` says how many tasks it adds).
 */
export function touchesWhatItReads(
  kind: ResourceKind,
  how: string,
  fromParameters: (parameters: Parameters) => number | undefined = () => undefined,
  parameter?: string,
): BlastRadiusDeclaration {
  return { kind, how, fromParameters, preRead: true, ...(parameter ? { parameter } : {}) };
}

/** A number parameter, when it is one (a template is not yet). */
export function numberParameter(parameters: Parameters, name: string): number | undefined {
  const value = parameters[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** What one change touches, as counted before it runs. */
export const TouchCount = z
  .object({
    kind: ResourceKind,
    count: z.number().int().min(0),
    /** How it was counted: from the parameters, or what the pre-read found. */
    how: z.string(),
  })
  .strict();
export type TouchCount = z.infer<typeof TouchCount>;

/**
 * The runbook's limit for a step, as the compiler bakes it into the step (mutating steps only, and only
 * when it is not the default: definitions are capped at 1 MB, so a step without it has the default).
 */
export const StepBlastRadiusLimit = z
  .object({
    max: z.number().int().min(1),
    /** The limit is the kind's own (`safetyLimits.blastRadius.perKind.<kind>`). */
    perKind: z.literal(true).optional(),
  })
  .strict();
export type StepBlastRadiusLimit = z.infer<typeof StepBlastRadiusLimit>;

/** `maxResourcesPerStep`'s default (the model's): what a step without a compiled limit gets. */
export const DEFAULT_MAX_RESOURCES_PER_STEP = 1;

/** The runbook's blast-radius limits (`safetyLimits.blastRadius`), as the model parses them. */
export interface RunbookBlastRadius {
  maxResourcesPerStep: number;
  perKind?: Partial<Record<ResourceKind, number>> | undefined;
}

/** The limit a step of this kind gets: its kind's own, else `maxResourcesPerStep`. */
export function limitFor(limits: RunbookBlastRadius, kind: ResourceKind): { max: number; from: string } {
  const own = limits.perKind?.[kind];
  return own === undefined
    ? { max: limits.maxResourcesPerStep, from: 'safetyLimits.blastRadius.maxResourcesPerStep' }
    : { max: own, from: `safetyLimits.blastRadius.perKind.${kind}` };
}

/** What the compiler adds to a step spec: nothing for the default limit. */
export function compiledLimit(
  limits: RunbookBlastRadius,
  kind: ResourceKind,
): { blastRadius?: StepBlastRadiusLimit } {
  const own = limits.perKind?.[kind];
  if (own !== undefined) return { blastRadius: { max: own, perKind: true } };
  if (limits.maxResourcesPerStep === DEFAULT_MAX_RESOURCES_PER_STEP) return {};
  return { blastRadius: { max: limits.maxResourcesPerStep } };
}

/** A step's limit at run time, from its spec (absent: the default). */
export function stepLimit(
  spec: { blastRadius?: StepBlastRadiusLimit | undefined },
  kind: ResourceKind,
): { max: number; from: string } {
  const compiled = spec.blastRadius;
  if (!compiled)
    return {
      max: DEFAULT_MAX_RESOURCES_PER_STEP,
      from: 'safetyLimits.blastRadius.maxResourcesPerStep',
    };
  return compiled.perKind
    ? { max: compiled.max, from: `safetyLimits.blastRadius.perKind.${kind}` }
    : { max: compiled.max, from: 'safetyLimits.blastRadius.maxResourcesPerStep' };
}

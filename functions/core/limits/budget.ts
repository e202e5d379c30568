import * as z from 'zod';

/**
 * The environment-wide change budget: resources all runbooks together may change per hour in one
 * scope. A scope is a Kubernetes namespace (`k8s:<cluster>/<namespace>`; cluster-scoped objects such
 * as nodes count in `k8s:<cluster>`), or an AWS service in one account and region
 * (`aws:<account>/<region>/<service>`, the service being the tool's: ec2, ecs, lambda…).
 */

export const ChangeBudget = z
  .object({
    perHour: z
      .number()
      .int()
      .min(0)
      .describe('resources all runbooks together may change per hour in one scope'),
    scopes: z
      .record(z.string().min(1), z.number().int().min(0))
      .default({})
      .describe(
        'budgets of named scopes instead of perHour, e.g. "k8s:prod-eu/checkout": 10, "aws:111111111111/eu-west-1/ec2": 2 (0: no automated change there)',
      ),
  })
  .strict();
export type ChangeBudget = z.infer<typeof ChangeBudget>;

/** The limits part of an environment's policy (cdk.json `policy.limits`). */
export const LimitsPolicy = z
  .object({
    /** Absent: no environment-wide budget (each runbook's own limits still hold). */
    changeBudget: ChangeBudget.optional(),
  })
  .strict();
export type LimitsPolicy = z.infer<typeof LimitsPolicy>;

/** Where a change acts, as the budget scopes it. */
export interface ScopeFacts {
  tool: string;
  parameters: Readonly<Record<string, unknown>>;
  /** The execution's resource (after resolution where it ran). */
  resource: {
    cluster?: string | undefined;
    namespace?: string | undefined;
    account?: string | undefined;
    region?: string | undefined;
  };
  defaultRegion?: string | undefined;
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : undefined;

/** The scope a change counts against. */
export function budgetScope(facts: ScopeFacts): string {
  const { tool, parameters, resource } = facts;
  const family = tool.split('.')[0] ?? tool;
  if (family === 'k8s') {
    const cluster = text(parameters.cluster) ?? resource.cluster ?? 'default';
    const namespace = text(parameters.namespace);
    return namespace ? `k8s:${cluster}/${namespace}` : `k8s:${cluster}`;
  }
  if (family === 'shell') return 'local:shell';
  const account = resource.account ?? '-';
  const region = text(parameters.region) ?? resource.region ?? facts.defaultRegion ?? '-';
  return `aws:${account}/${region}/${family}`;
}

export interface BudgetOf {
  max: number;
  /** The config field it comes from, for refusals. */
  from: string;
}

/** The hourly budget of a scope, or undefined when the environment sets none. */
export function budgetFor(policy: LimitsPolicy, scope: string): BudgetOf | undefined {
  const budget = policy.changeBudget;
  if (!budget) return undefined;
  const own = budget.scopes[scope];
  return own === undefined
    ? { max: budget.perHour, from: 'policy.limits.changeBudget.perHour' }
    : { max: own, from: `policy.limits.changeBudget.scopes["${scope}"]` };
}

const HOUR_MS = 3_600_000;

/** The fixed hour (UTC) a change at `now` counts in, and when its counter may be deleted. */
export function budgetWindow(now: Date): { windowStart: string; windowEnd: string; expiresAt: string } {
  const start = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  return {
    windowStart: new Date(start).toISOString(),
    windowEnd: new Date(start + HOUR_MS).toISOString(),
    expiresAt: new Date(start + 2 * HOUR_MS).toISOString(),
  };
}

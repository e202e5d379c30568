import * as z from 'zod';
import { LimitsPolicy } from './limits/budget.ts';
import { RiskPolicy } from './risk/policy.ts';
import { WatchPolicy } from './watch/policy.ts';

export const RiskLevel = z.enum(['low', 'medium', 'high', 'critical']);
export type RiskLevel = z.infer<typeof RiskLevel>;

/** Risk levels in order; used for "at or above" comparisons and compiled Choice thresholds. */
export const RISK_RANK = { low: 1, medium: 2, high: 3, critical: 4 } as const satisfies Record<
  RiskLevel,
  number
>;

/** No approval threshold: higher than any risk rank. */
export const NO_APPROVAL_THRESHOLD = 99;

export function riskAtLeast(risk: RiskLevel, threshold: RiskLevel): boolean {
  return RISK_RANK[risk] >= RISK_RANK[threshold];
}

export function maxRisk(risks: readonly RiskLevel[]): RiskLevel {
  return risks.reduce<RiskLevel>((max, risk) => (RISK_RANK[risk] > RISK_RANK[max] ? risk : max), 'low');
}

/**
 * The safety policy of one environment: the part of infra's per-environment config that runbook
 * validation and the runtime both enforce. Lives in cdk.json context (one definition).
 */
export const EnvironmentPolicy = z
  .object({
    approval: z
      .object({
        /** Mutating steps at or above this risk need an approval requirement covering this environment. */
        requiredFromRisk: z.union([RiskLevel, z.literal('never')]).default('high'),
      })
      .strict()
      .default({ requiredFromRisk: 'high' }),
    /** What a mutating step must have in this environment. */
    mutatingSteps: z.enum(['compensation-or-approval', 'unrestricted']).default('compensation-or-approval'),
    /**
     * Where this environment's runbooks run: `aws` (cdk deploy deploys it; the embedded platform can run
     * it too) or `embedded` (only `npm start` runs it; cdk deploy skips it, so embedded-only tools such as
     * the local shell may be used).
     */
    runsOn: z.enum(['aws', 'embedded']).default('aws'),
    /** Limits that hold across runbooks: the environment's hourly change budget per scope. */
    limits: LimitsPolicy.prefault({}),
    /** How a change's risk score is made and what it decides (functions/core/risk). */
    risk: RiskPolicy.prefault({}),
    /** Watching running executions: stuck steps and circuit breakers (functions/core/watch). */
    watch: WatchPolicy.prefault({}),
  })
  .strict();
export type EnvironmentPolicy = z.infer<typeof EnvironmentPolicy>;

export const DEFAULT_POLICY: EnvironmentPolicy = EnvironmentPolicy.parse({});

/** Policies by environment name. An environment without an entry gets DEFAULT_POLICY. */
export type PolicySet = Record<string, EnvironmentPolicy>;

export function policyFor(policies: PolicySet, environment: string): EnvironmentPolicy {
  return policies[environment] ?? DEFAULT_POLICY;
}

/** The compiled Choice threshold for an environment: steps with risk rank >= this need approval. */
export function approvalRiskThreshold(policy: EnvironmentPolicy): number {
  const from = policy.approval.requiredFromRisk;
  return from === 'never' ? NO_APPROVAL_THRESHOLD : RISK_RANK[from];
}

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { RuntimeConfig } from '../functions/core/config.ts';
import { Duration } from '../functions/core/duration.ts';
import { RunbookAutopilotError } from '../functions/core/errors.ts';
import { EnvironmentPolicy, type PolicySet } from '../functions/core/policy.ts';
import { schemaProblems } from '../functions/core/runbook/issues.ts';
import { FreezeWindow } from '../functions/core/runbook/model.ts';

/** The installed package's root (where runbooks/, statemachines/ and cdk.json ship). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const ENVIRONMENTS_CONTEXT_KEY = 'runbook-autopilot:environments';

export class ProjectConfigError extends RunbookAutopilotError {
  override readonly name = 'ProjectConfigError';
}

/** Only the part of each environment's config that validation needs; infra validates the rest. */
const EnvironmentsPolicies = z.record(
  z.string(),
  z.object({ policy: EnvironmentPolicy.default(EnvironmentPolicy.parse({})) }).loose(),
);

/** Where cdk.json is: the working directory's, else the package's. */
export function cdkJsonPath(cwd = process.cwd()): string {
  const local = join(cwd, 'cdk.json');
  return existsSync(local) ? local : join(PACKAGE_ROOT, 'cdk.json');
}

/** Reads the per-environment safety policies from cdk.json context (one definition for infra and validation). */
export function loadPolicies(path = cdkJsonPath()): PolicySet {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ProjectConfigError(`${path}: cannot read environment policies: ${(error as Error).message}`);
  }
  const environments = (json as { context?: Record<string, unknown> })?.context?.[ENVIRONMENTS_CONTEXT_KEY];
  if (environments === undefined) return {};
  const parsed = EnvironmentsPolicies.safeParse(environments);
  if (!parsed.success) {
    const [first] = schemaProblems(EnvironmentsPolicies, environments, parsed.error.issues);
    throw new ProjectConfigError(
      `${path}: context.${ENVIRONMENTS_CONTEXT_KEY}.${first?.path ?? ''}: ${first?.message ?? 'invalid environment config'}`,
    );
  }
  return Object.fromEntries(
    Object.entries(parsed.data).map(([name, environment]) => [name, environment.policy]),
  );
}

/** The people and policy of one environment, from cdk.json (infra validates the rest of its config). */
const EnvironmentPeople = z
  .object({
    policy: EnvironmentPolicy.default(EnvironmentPolicy.parse({})),
    approverGroups: z.record(z.string(), z.array(z.email()).min(1)).default({}),
    escalationTargets: z.record(z.string(), z.array(z.email()).min(1)).default({}),
    changeFreezeWindows: z.array(FreezeWindow).default([]),
    /** Where tools act: the same clusters (kubeconfig contexts, EKS), Prometheus and region as a deployment. */
    tools: RuntimeConfig.shape.tools.optional(),
    /** The same per-team runbook parameters as a deployment of this environment. */
    runbookParameters: RuntimeConfig.shape.runbookParameters,
    ignoredAlerts: RuntimeConfig.shape.ignoredAlerts,
    /** The same graduated automation as a deployment of this environment. */
    automation: RuntimeConfig.shape.automation,
    /** The embedded platform honours the same link lifetime and reminder as a deployment. */
    approvals: z
      .object({
        linkTtl: Duration.optional(),
        reminderAfter: z.union([z.literal('off'), Duration]).optional(),
      })
      .loose()
      .default({}),
  })
  .loose();

export function loadEnvironmentConfig(path: string, environment: string): z.infer<typeof EnvironmentPeople> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ProjectConfigError(`${path}: cannot read: ${(error as Error).message}`);
  }
  const environments = ((json as { context?: Record<string, unknown> })?.context?.[
    ENVIRONMENTS_CONTEXT_KEY
  ] ?? {}) as Record<string, unknown>;
  if (!(environment in environments)) {
    throw new ProjectConfigError(
      `${path}: no environment "${environment}" in context.${ENVIRONMENTS_CONTEXT_KEY} (known: ${Object.keys(environments).join(', ') || 'none'})`,
    );
  }
  const parsed = EnvironmentPeople.safeParse(environments[environment]);
  if (!parsed.success) {
    const [first] = schemaProblems(EnvironmentPeople, environments[environment], parsed.error.issues);
    throw new ProjectConfigError(
      `${path}: context.${ENVIRONMENTS_CONTEXT_KEY}.${environment}.${first?.path ?? ''}: ${first?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

import { compensationOf, stepLocations } from '../../functions/core/runbook/checks.ts';
import type { ApprovalRequirement, Runbook } from '../../functions/core/runbook/model.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import type { EnvironmentConfig } from './environment.ts';
import { EnvironmentConfigError } from './load.ts';

/**
 * Checks at synth time that the runbooks this stack deploys can work in the environment: every
 * approval they may ask for here can reach its quorum, meets the environment's minimum quorum, every
 * escalation target they name exists, and every tool they run can reach what it acts on (Prometheus,
 * an EKS cluster; never a tool of the embedded platform only). Otherwise the first run would fail
 * (`Approval.Unroutable`, an escalation to nobody, a step with nothing to ask) — better to fail the
 * deploy. Returns the problems `toolReachability: warn` turns into warnings; throws the first error.
 */
export function checkRunbooksFit(
  environment: string,
  config: EnvironmentConfig,
  runbooks: readonly Runbook[],
): string[] {
  const where = `cdk.json context "runbook-autopilot:environments".${environment}`;
  const warnings: string[] = [];
  for (const runbook of runbooks) {
    if (!runbook.environmentConstraints.environments.includes(environment)) continue;
    for (const problem of unreachableTools(environment, config, runbook)) {
      const line = `${where}${problem.setting ? `.${problem.setting}` : ''}: ${problem.message}`;
      if (problem.always || config.toolReachability === 'error') throw new EnvironmentConfigError(line);
      warnings.push(line);
    }
    for (const requirement of requirementsThatMayApply(runbook, environment)) {
      const approvers = new Set(
        requirement.approverGroups.flatMap((group) => config.approverGroups[group] ?? []),
      );
      const needed = Math.max(1, requirement.quorum);
      if (approvers.size < needed) {
        throw new EnvironmentConfigError(
          `${where}.approverGroups: runbook ${runbook.id} approval "${requirement.id}" needs ${needed} approver(s) from ${requirement.approverGroups.join(', ')}, but ${environment} has ${approvers.size}`,
        );
      }
      if (requirement.quorum < config.approvals.minimumQuorum) {
        throw new EnvironmentConfigError(
          `${where}.approvals.minimumQuorum: runbook ${runbook.id} approval "${requirement.id}" has quorum ${requirement.quorum}, below ${environment}'s minimum of ${config.approvals.minimumQuorum}; raise its quorum or name the environments it applies to`,
        );
      }
    }
    for (const target of escalationTargetsOf(runbook)) {
      if (!(target in config.escalationTargets)) {
        throw new EnvironmentConfigError(
          `${where}.escalationTargets: runbook ${runbook.id} notifies "${target}", which ${environment} does not define (known: ${Object.keys(config.escalationTargets).join(', ')})`,
        );
      }
    }
  }
  return warnings;
}

interface UnreachableTool {
  /** The cdk.json setting that is missing (under the environment). */
  setting?: string;
  message: string;
  /** Not even `toolReachability: warn` deploys it. */
  always?: true;
}

const PROMETHEUS_TOOL = /^prometheus\./;
const KUBERNETES_TOOL = /^k8s\./;

/** Every tool a runbook runs on AWS (steps, checks, rollbacks, compensations) that cannot reach its target here. */
function unreachableTools(
  environment: string,
  config: EnvironmentConfig,
  runbook: Runbook,
): UnreachableTool[] {
  const problems: UnreachableTool[] = [];
  const seen = new Set<string>();
  const check = (stepId: string, tool: string, parameters: Record<string, unknown>) => {
    const declaration = TOOL_CATALOG.get(tool);
    const uses = `runbook ${runbook.id} step ${stepId} uses ${tool}`;
    if (declaration?.runtimes && !declaration.runtimes.includes('aws')) {
      problems.push({
        always: true,
        message: `${uses}, which runs on the embedded platform only and can never run on AWS; use another tool or keep the runbook out of ${environment} (environmentConstraints.environments)`,
      });
      return;
    }
    // One line per runbook and tool and missing setting: the first step that needs it names it.
    const once = (problem: UnreachableTool) => {
      const key = `${tool}|${problem.setting}`;
      if (seen.has(key)) return;
      seen.add(key);
      problems.push(problem);
    };
    if (PROMETHEUS_TOOL.test(tool) && parameters.prometheus === undefined && !config.tools.prometheusUrl) {
      once({
        setting: 'tools.prometheusUrl',
        message: `${uses}, which needs tools.prometheusUrl (or a "prometheus" parameter on the step); ${environment} sets none`,
      });
    }
    if (KUBERNETES_TOOL.test(tool)) {
      const clusters = config.tools.kubernetes.eks;
      const named = Object.keys(clusters);
      const cluster = parameters.cluster;
      const known =
        named.length > 0 ? `${environment} names ${named.join(', ')}` : `${environment} names none`;
      if (cluster === undefined && !Object.hasOwn(clusters, environment)) {
        once({
          setting: 'tools.kubernetes.eks',
          message: `${uses}, which needs an EKS cluster named "${environment}" in tools.kubernetes.eks (the step names no cluster, so the environment's is used); ${known}`,
        });
      } else if (
        typeof cluster === 'string' &&
        !cluster.includes('{{') &&
        !Object.hasOwn(clusters, cluster)
      ) {
        once({
          setting: 'tools.kubernetes.eks',
          message: `${uses} on cluster "${cluster}", which tools.kubernetes.eks does not name; ${known}`,
        });
      } else if (named.length === 0) {
        once({
          setting: 'tools.kubernetes.eks',
          message: `${uses} on the cluster its alert names, but tools.kubernetes.eks names no cluster; ${known}`,
        });
      }
    }
  };
  for (const { step } of stepLocations(runbook)) {
    check(step.id, step.tool, step.parameters);
    if ('compensation' in step && step.compensation) {
      const compensation = compensationOf(step, TOOL_CATALOG.get(step.tool));
      if (compensation) check(step.id, compensation.tool, compensation.parameters);
    }
  }
  return problems;
}

/**
 * Requirements that name the environment or name none; when none applies, the compiler falls back to
 * the strictest requirement, so any of them may be asked.
 */
function requirementsThatMayApply(runbook: Runbook, environment: string): ApprovalRequirement[] {
  const applying = runbook.approvalRequirements.filter(
    (requirement) => requirement.environments === undefined || requirement.environments.includes(environment),
  );
  return applying.length > 0 ? applying : runbook.approvalRequirements;
}

/** Targets of escalation triggers and of `notify.message` steps with a literal target. */
export function escalationTargetsOf(runbook: Runbook): string[] {
  const targets = new Set(runbook.escalationTriggers.flatMap((trigger) => trigger.notify));
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    const parameters = record.parameters as Record<string, unknown> | undefined;
    if (record.tool === 'notify.message' && typeof parameters?.target === 'string') {
      if (!parameters.target.includes('{{')) targets.add(parameters.target);
    }
    Object.values(record).forEach(visit);
  };
  visit(runbook);
  return [...targets].sort();
}

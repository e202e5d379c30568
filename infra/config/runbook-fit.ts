import type { ApprovalRequirement, Runbook } from '../../functions/core/runbook/model.ts';
import type { EnvironmentConfig } from './environment.ts';
import { EnvironmentConfigError } from './load.ts';

/**
 * Checks at synth time that the runbooks this stack deploys can work in the environment: every
 * approval they may ask for here can reach its quorum, meets the environment's minimum quorum, and
 * every escalation target they name exists. Otherwise the first run would fail
 * (`Approval.Unroutable`) or an escalation would reach nobody — better to fail the deploy.
 */
export function checkRunbooksFit(
  environment: string,
  config: EnvironmentConfig,
  runbooks: readonly Runbook[],
) {
  const where = `cdk.json context "runbook-autopilot:environments".${environment}`;
  for (const runbook of runbooks) {
    if (!runbook.environmentConstraints.environments.includes(environment)) continue;
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

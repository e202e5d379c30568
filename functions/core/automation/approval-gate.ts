import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import { CHECKPOINT_HOLD_SECONDS } from '../compiler/compile.ts';
import type { RuntimeConfig } from '../config.ts';
import { StateError } from '../errors.ts';
import type { ExecutionContext } from '../execution-contract.ts';
import { maxRisk } from '../policy.ts';
import type { PlannedStep } from '../records.ts';
import type { Runbook } from '../runbook/model.ts';
import type { ApprovalService } from '../services/approvals.ts';
import { uncoveredChanges } from './enforcement.ts';

/** The requirement name approvals asked for by the approve level carry (pages and e-mails show it). */
export const AUTOMATION_APPROVAL_REQUIREMENT = 'automation-level-approve';

function unroutable(message: string): never {
  const error = new StateError('Approval.Unroutable', message);
  error.stack = `${error.name}: ${error.message}`;
  throw error;
}

/**
 * The approve level at a checkpoint: before a phase that changes something, when no approval gate of
 * the runbook covers its changes, the checkpoint asks for an approval through the approval machinery
 * (a stored request holding the checkpoint's task token, a signed link per approver, the e-mail). The
 * decision sends the token: approve goes on, reject fails the checkpoint into the rollback path.
 */
export class AutomationApprovalGate {
  constructor(
    private readonly deps: {
      store: Store;
      /** Built on first use where the function asks for approvals rarely (the AWS step runner). */
      approvals: Pick<ApprovalService, 'request'>;
      config: RuntimeConfig;
      runbooks: () => Runbook[];
      /** Whether a tool changes something (the tool catalog's word). */
      isMutating: (tool: string) => boolean;
      logger: Logger;
    },
  ) {}

  /** The approval this checkpoint now waits on, or undefined when it may pass. */
  async atCheckpoint(
    execution: ExecutionContext,
    checkpoint: { before: string; mutating: boolean },
    taskToken: string,
  ): Promise<{ approvalId: string; changes: PlannedStep[] } | undefined> {
    if (execution.automationLevel !== 'approve' || execution.dryRun || !checkpoint.mutating) return undefined;
    const { store, config, approvals, logger } = this.deps;
    const runbook = this.deps.runbooks().find((candidate) => candidate.id === execution.runbookId);
    const approved = await store.listApprovals(execution.id);
    const changes = runbook
      ? uncoveredChanges(
          runbook,
          checkpoint.before,
          execution.environment,
          execution.approvalRiskThreshold,
          this.deps.isMutating,
          approved,
        )
      : // A runbook this runtime does not know: ask about the whole phase rather than let it pass.
        [
          {
            id: checkpoint.before,
            name: `phase ${checkpoint.before}`,
            tool: 'unknown (the runbook is not loaded here)',
            risk: 'high' as const,
            parameters: {},
          },
        ];
    if (changes.length === 0) return undefined;
    const incident = await store.getIncident(execution.incidentId);
    if (!incident)
      unroutable(
        `incident ${execution.incidentId} of execution ${execution.id} is not in the store: nobody can be shown the alert`,
      );
    const groups =
      config.automation.approverGroups.length > 0
        ? config.automation.approverGroups
        : Object.keys(config.approverGroups);
    if (groups.length === 0)
      unroutable(
        `${execution.runbookId} runs at automation level approve in ${config.environment}, but nobody can approve: set automation.approverGroups (or approverGroups) in the environment's config`,
      );
    const requested = await approvals.request({
      kind: 'approval',
      taskToken,
      execution,
      alert: incident.alert,
      steps: {},
      groups: {},
      approval: {
        requirement: AUTOMATION_APPROVAL_REQUIREMENT,
        target: { kind: 'phase', id: checkpoint.before },
        approverGroups: groups,
        quorum: 1,
        // As long as the checkpoint holds: when it gives up, the execution rolls back and escalates.
        timeoutSeconds: CHECKPOINT_HOLD_SECONDS,
        risk: maxRisk(changes.map((change) => change.risk)),
        plan: changes,
      },
    });
    await store
      .updateExecution(execution.id, {
        currentState: `Needs approval (automation level approve): ${checkpoint.before}`,
      })
      .catch(() => undefined);
    logger.info('change held for approval by the automation level', {
      executionId: execution.id,
      phase: checkpoint.before,
      approvalId: requested.approvalId,
    });
    return { approvalId: requested.approvalId, changes };
  }
}

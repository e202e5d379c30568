import type { LimitStore } from '../../ports/limits.ts';
import type { Store } from '../../ports/store.ts';
import type { RuntimeConfig } from '../config.ts';
import { StateError } from '../errors.ts';
import type { RiskApprovalTask } from '../execution-contract.ts';
import type { ApprovalService } from '../services/approvals.ts';
import { stepTarget } from './assessment.ts';
import { quorumOf } from './policy.ts';

/** The requirement name approvals asked by the risk policy carry (no runbook requirement has it: ids are kebab-case words). */
export const RISK_POLICY_REQUIREMENT = 'risk-policy';

/**
 * Asks for the approval a change's risk score needs: the step threw Approval.Required after storing its
 * assessment; this turns that into an ordinary approval request (one link per approver, quorum from the
 * decision: one or two approvers from the risk policy's groups), holding the compiled task's token.
 */
export class RiskApprovals {
  constructor(
    private readonly options: {
      approvals: ApprovalService;
      store: Store;
      limits: LimitStore;
      config: RuntimeConfig;
    },
  ) {}

  async request(payload: RiskApprovalTask) {
    const { store, limits, config, approvals } = this.options;
    const { execution, alert, step } = payload;
    const groups = config.policy.risk.approverGroups;
    if (groups.length === 0) {
      const error = new StateError(
        'Approval.Unroutable',
        `the risk policy of ${config.environment} asks for an approval of ${step.id} but names no approver group; set policy.risk.approverGroups`,
      );
      error.stack = `${error.name}: ${error.message}`;
      throw error;
    }
    const [assessment, outcomes] = await Promise.all([
      limits.getRiskAssessment(execution.id, stepTarget(step.id)),
      store.listStepOutcomes(execution.id),
    ]);
    // The parameters as the step resolved them when it asked (what the approver is asked to allow).
    const asked = outcomes.filter((outcome) => outcome.stepId === step.id && outcome.kind === 'step').at(-1);
    return approvals.request({
      kind: 'approval',
      taskToken: payload.taskToken,
      execution,
      alert,
      steps: {},
      groups: {},
      approval: {
        requirement: RISK_POLICY_REQUIREMENT,
        target: { kind: 'step', id: step.id },
        approverGroups: groups,
        quorum: Math.max(1, quorumOf(assessment?.decision ?? 'approve')),
        timeoutSeconds: payload.timeoutSeconds,
        risk: step.risk,
        plan: [
          {
            id: step.id,
            name: step.name,
            tool: step.tool,
            risk: step.risk,
            parameters: asked?.parameters ?? step.parameters,
          },
        ],
      },
    });
  }
}

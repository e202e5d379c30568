import type { Clock } from '../../ports/clock.ts';
import type { LimitStore } from '../../ports/limits.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import { AslErrorName, StateError } from '../errors.ts';
import type { ExecutionContext, RiskApprovalTask } from '../execution-contract.ts';
import type { TouchCount } from '../limits/blast-radius.ts';
import { maxRisk } from '../policy.ts';
import { resolveTemplates } from '../runbook/templates.ts';
import { templateScope } from '../services/step-runner.ts';
import type { ToolCatalog } from '../tool-catalog.ts';
import { EXECUTION_TARGET, type PlannedChange, type RiskAssessment } from './assessment.ts';
import type { RiskAssessor } from './assessor.ts';
import { quorumOf, RISK_DECISION_RANK, type RiskDecision } from './policy.ts';
import { describeScore } from './score.ts';

/** Hands an approval request to whatever sends approvals (the approval-request function on AWS). */
export interface ApprovalRequester {
  request(payload: RiskApprovalTask): Promise<unknown>;
}

export interface RiskCheckpointOptions {
  store: Store;
  limits: LimitStore;
  risk: RiskAssessor;
  requester: ApprovalRequester;
  tools: ToolCatalog;
  clock: Clock;
  logger: Logger;
}

/**
 * The risk policy at the checkpoint before changes: every change the phase (or step) may make is
 * scored with what is known there (its parameters resolved against the diagnostics so far), and the
 * strictest decision holds: a refusal fails the checkpoint (rollback, escalation), an approval the
 * score needs is asked with the checkpoint's own task token (approving releases it, rejecting fails it).
 * Each change is scored again just before it runs, with what it touches counted then (ChangeGate).
 */
export class RiskCheckpoint {
  constructor(private readonly options: RiskCheckpointOptions) {}

  async arrive(
    execution: ExecutionContext,
    checkpoint: { before: string; mutating: boolean },
    taskToken: string,
  ): Promise<{ held: boolean; reason?: string }> {
    if (!checkpoint.mutating) return { held: false };
    const { store, limits, risk } = this.options;
    const plan = (await limits.getRiskAssessment(execution.id, EXECUTION_TARGET))?.changes;
    // An execution started without an assessment (its changes unknown here) is gated at each change.
    const changes = (plan ?? []).filter(
      (change) => change.phase === checkpoint.before || change.id === checkpoint.before,
    );
    if (changes.length === 0) return { held: false };
    const [incident, outcomes] = await Promise.all([
      store.getIncident(execution.incidentId),
      store.listStepOutcomes(execution.id),
    ]);
    if (!incident) return { held: false };
    const alert = incident.alert;
    const scope = templateScope(alert, execution, outcomes);

    const assessed: Array<{
      change: PlannedChange;
      parameters: Record<string, unknown>;
      assessment: RiskAssessment;
    }> = [];
    for (const change of changes) {
      let parameters = change.parameters;
      try {
        parameters = resolveTemplates(change.parameters, scope);
      } catch {
        // Not resolvable yet (it reads a step of this phase): scored as written, counted when it runs.
      }
      const assessment = await risk.assessChange({
        execution,
        alert,
        step: change,
        blastRadius: this.count(change.tool, parameters),
      });
      assessed.push({ change, parameters, assessment });
    }
    const strictest = assessed.reduce((worst, entry) =>
      RISK_DECISION_RANK[entry.assessment.decision] > RISK_DECISION_RANK[worst.assessment.decision]
        ? entry
        : worst,
    );
    const decision: RiskDecision = strictest.assessment.decision;
    const where = `before ${checkpoint.before}`;
    if (decision === 'refuse') {
      await Promise.all(
        assessed.map((entry) => risk.settle(entry.assessment, `refused at the checkpoint ${where}`)),
      );
      const error = new StateError(
        AslErrorName.RiskRefused,
        `${strictest.change.id}: ${describeScore(strictest.assessment)}; in ${execution.environment} the risk policy refuses a change at this score, so nothing ${where} ran`,
      );
      error.stack = `${error.name}: ${error.message}`;
      throw error;
    }
    const quorum = quorumOf(decision);
    if (quorum === 0) return { held: false };
    const approvals = await store.listApprovals(execution.id);
    const covered = approvals.some(
      (approval) =>
        approval.status === 'approved' &&
        approval.quorum >= quorum &&
        (approval.target.id === checkpoint.before ||
          changes.every((change) => change.id === approval.target.id)),
    );
    if (covered) return { held: false };
    if (execution.dryRun) {
      await Promise.all(
        assessed.map((entry) =>
          risk.settle(entry.assessment, `dry run: a real run would ask for ${quorum} approval(s) ${where}`),
        ),
      );
      return { held: false };
    }
    await Promise.all(
      assessed.map((entry) => risk.settle(entry.assessment, `asked for ${quorum} approval(s) ${where}`)),
    );
    const single = changes.length === 1 && changes[0]!.id === checkpoint.before;
    await this.options.requester.request({
      kind: 'risk-approval',
      taskToken,
      execution,
      alert,
      approval: {
        target: { kind: single ? 'step' : 'phase', id: checkpoint.before },
        quorum,
        risk: maxRisk(changes.map((change) => change.risk)),
        plan: assessed.map(({ change, parameters }) => ({
          id: change.id,
          name: change.name,
          tool: change.tool,
          risk: change.risk,
          parameters,
        })),
      },
    });
    this.options.logger.info('risk policy asked for an approval', {
      executionId: execution.id,
      before: checkpoint.before,
      score: strictest.assessment.score,
      quorum,
    });
    return { held: true, reason: `risk ${strictest.assessment.score}: ${quorum} approval(s)` };
  }

  private count(tool: string, parameters: Record<string, unknown>): TouchCount | undefined {
    const declared = this.options.tools.get(tool)?.blastRadius;
    const count = declared?.fromParameters(parameters);
    return declared && count !== undefined ? { kind: declared.kind, count, how: declared.how } : undefined;
  }
}

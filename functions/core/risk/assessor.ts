import type { Clock } from '../../ports/clock.ts';
import type { LimitStore } from '../../ports/limits.ts';
import type { Store } from '../../ports/store.ts';
import type { Alert } from '../alert.ts';
import { resourceKey } from '../classifier/identity.ts';
import type { RuntimeConfig } from '../config.ts';
import type { ExecutionContext } from '../execution-contract.ts';
import type { TouchCount } from '../limits/blast-radius.ts';
import { maxRisk, type RiskLevel } from '../policy.ts';
import type { ApprovalRecord, LearningAggregate } from '../records.ts';
import type { FreezeWindow, Runbook } from '../runbook/model.ts';
import type { ToolCatalog } from '../tool-catalog.ts';
import { EXECUTION_TARGET, type PlannedChange, type RiskAssessment, stepTarget } from './assessment.ts';
import { scoreRisk } from './score.ts';

/** Learning aggregates are read at most this often by one process (they change once per finished run). */
const LEARNING_CACHE_MS = 60_000;

export interface RiskAssessorOptions {
  store: Store;
  limits: LimitStore;
  clock: Clock;
  config: RuntimeConfig;
  /** Declarations, for counting what a plan's steps touch from their parameters. */
  tools: ToolCatalog;
}

/** `approval:<id>`: the assessment made when an approval was asked, of what it covers. */
export function approvalTarget(approvalId: string): string {
  return `approval:${approvalId}`;
}

/**
 * Gathers what a risk score needs (the learned failure rate for the alert, the changes made to the
 * resource recently, the clock, the environment's policy and freeze windows), scores, and stores the
 * assessment with every factor. One per execution (when it starts), per change (before it runs) and
 * per approval request (what the approver is asked to allow).
 */
export class RiskAssessor {
  private learning: { at: number; aggregates: Map<string, LearningAggregate> } | undefined;

  constructor(private readonly options: RiskAssessorOptions) {}

  /** A change, before it runs, with what it touches as counted. */
  async assessChange(input: {
    execution: ExecutionContext;
    alert: Alert;
    step: { id: string; tool: string; risk: RiskLevel };
    /** The step's attempt, when it is about to run (absent: scored ahead, at a checkpoint). */
    attempt?: number;
    blastRadius?: TouchCount | undefined;
  }): Promise<RiskAssessment> {
    const { execution, alert, step } = input;
    const score = await this.score({
      runbookId: execution.runbookId,
      alert,
      declaredRisk: step.risk,
      blastRadius: input.blastRadius,
      freezeWindows: this.options.config.changeFreezeWindows,
    });
    const assessment: RiskAssessment = {
      ...score,
      executionId: execution.id,
      target: stepTarget(step.id),
      runbookId: execution.runbookId,
      environment: execution.environment,
      stepId: step.id,
      tool: step.tool,
      ...(input.attempt === undefined ? {} : { attempt: input.attempt }),
      ...(input.blastRadius ? { blastRadius: input.blastRadius } : {}),
      assessedAt: this.options.clock.now().toISOString(),
    };
    await this.options.limits.putRiskAssessment(assessment);
    return assessment;
  }

  /** An execution before it starts: its riskiest change, the largest count its parameters tell. */
  async assessExecution(input: {
    runbook: Runbook;
    alert: Alert;
    executionId: string;
  }): Promise<RiskAssessment> {
    const { runbook, alert } = input;
    const changes: PlannedChange[] = runbook.phases.flatMap((phase) =>
      phase.steps
        .filter((step) => this.options.tools.get(step.tool)?.mutating)
        .map((step) => ({
          phase: phase.id,
          id: step.id,
          name: step.name,
          tool: step.tool,
          risk: step.risk,
          parameters: step.parameters,
        })),
    );
    const mutating = changes;
    const score = await this.score({
      runbookId: runbook.id,
      alert,
      declaredRisk: maxRisk(mutating.map((step) => step.risk)),
      blastRadius: this.largestCount(mutating),
      freezeWindows: [
        ...this.options.config.changeFreezeWindows,
        ...runbook.environmentConstraints.changeFreezeWindows,
      ],
    });
    const assessment: RiskAssessment = {
      ...score,
      executionId: input.executionId,
      target: EXECUTION_TARGET,
      runbookId: runbook.id,
      environment: alert.environment,
      changes,
      assessedAt: this.options.clock.now().toISOString(),
    };
    await this.options.limits.putRiskAssessment(assessment);
    return assessment;
  }

  /** What an approval request covers (its plan), when it is asked. */
  async assessPlan(input: {
    execution: ExecutionContext;
    alert: Alert;
    plan: ApprovalRecord['plan'];
    approvalId: string;
  }): Promise<RiskAssessment> {
    const { execution, alert, plan } = input;
    const mutating = plan.filter((step) => this.options.tools.get(step.tool)?.mutating);
    const score = await this.score({
      runbookId: execution.runbookId,
      alert,
      declaredRisk: maxRisk((mutating.length > 0 ? mutating : plan).map((step) => step.risk)),
      blastRadius: this.largestCount(mutating),
      freezeWindows: this.options.config.changeFreezeWindows,
    });
    const assessment: RiskAssessment = {
      ...score,
      executionId: execution.id,
      target: approvalTarget(input.approvalId),
      runbookId: execution.runbookId,
      environment: execution.environment,
      assessedAt: this.options.clock.now().toISOString(),
    };
    await this.options.limits.putRiskAssessment(assessment);
    return assessment;
  }

  /**
   * The assessment an approval page shows: the change's own (counted before it ran: the risk policy
   * asked), else the one made when the approval was asked, else the execution's.
   */
  async forApproval(
    approval: Pick<ApprovalRecord, 'id' | 'executionId' | 'target'>,
  ): Promise<RiskAssessment | undefined> {
    const { limits } = this.options;
    const targets = [
      ...(approval.target.kind === 'step' ? [stepTarget(approval.target.id)] : []),
      approvalTarget(approval.id),
      EXECUTION_TARGET,
    ];
    for (const target of targets) {
      const found = await limits.getRiskAssessment(approval.executionId, target);
      // A step's assessment belongs to this approval only if it asked for one (it ran under the policy).
      if (found && (target !== stepTarget(approval.target.id) || found.decision !== 'autonomous'))
        return found;
    }
    return undefined;
  }

  /** Notes what the assessment led to (ran, waits for approval, refused…) on the stored record. */
  async settle(assessment: RiskAssessment, outcome: string): Promise<void> {
    await this.options.limits.putRiskAssessment({ ...assessment, outcome });
  }

  private largestCount(steps: ReadonlyArray<{ tool: string; parameters: Record<string, unknown> }>) {
    let largest: TouchCount | undefined;
    for (const step of steps) {
      const declared = this.options.tools.get(step.tool)?.blastRadius;
      const count = declared?.fromParameters(step.parameters);
      if (declared && count !== undefined && (!largest || count > largest.count))
        largest = { kind: declared.kind, count, how: `${step.tool}: ${declared.how}` };
    }
    return largest;
  }

  private async score(input: {
    runbookId: string;
    alert: Alert;
    declaredRisk: RiskLevel;
    blastRadius: TouchCount | undefined;
    freezeWindows: readonly FreezeWindow[];
  }) {
    const { config, clock, limits } = this.options;
    const now = clock.now();
    const policy = config.policy.risk;
    const [aggregates, changes] = await Promise.all([
      this.learningAggregates(),
      limits.listChanges(
        resourceKey(input.alert),
        new Date(now.getTime() - policy.recentChangesWindow * 1_000).toISOString(),
      ),
    ]);
    const byAlert = aggregates.get(input.runbookId)?.byAlert[input.alert.name];
    return scoreRisk(
      {
        environment: config.environment,
        declaredRisk: input.declaredRisk,
        blastRadius: input.blastRadius,
        history: byAlert
          ? { executions: byAlert.executions, failed: Math.max(0, byAlert.executions - byAlert.succeeded) }
          : undefined,
        recentChanges: changes.filter((change) => Date.parse(change.at) <= now.getTime()).length,
        now,
        freezeWindows: input.freezeWindows,
      },
      policy,
    );
  }

  private async learningAggregates(): Promise<Map<string, LearningAggregate>> {
    const now = this.options.clock.now().getTime();
    if (!this.learning || now - this.learning.at > LEARNING_CACHE_MS || now < this.learning.at) {
      const aggregates = await this.options.store.listLearningAggregates();
      this.learning = {
        at: now,
        aggregates: new Map(aggregates.map((aggregate) => [aggregate.runbookId, aggregate])),
      };
    }
    return this.learning.aggregates;
  }
}

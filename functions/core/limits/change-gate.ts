import type { Clock } from '../../ports/clock.ts';
import type { LimitStore } from '../../ports/limits.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import type { ToolContext, ToolImplementation } from '../../ports/tools.ts';
import type { Alert } from '../alert.ts';
import { resourceKey } from '../classifier/identity.ts';
import type { RuntimeConfig } from '../config.ts';
import { AslErrorName } from '../errors.ts';
import type { ExecutionContext, StepSpec } from '../execution-contract.ts';
import type { RiskAssessment } from '../risk/assessment.ts';
import type { RiskAssessor } from '../risk/assessor.ts';
import { quorumOf } from '../risk/policy.ts';
import { describeScore } from '../risk/score.ts';
import { countOf, stepLimit, type TouchCount } from './blast-radius.ts';
import { budgetFor, budgetScope, budgetWindow } from './budget.ts';

/**
 * The gate every change passes just before its tool runs (after the kill switch, freeze and approval
 * checks): count what it would touch (from its parameters, or the tool's pre-read), hold the count
 * against the runbook's blast-radius limit, score its risk and ask for the approval the environment's
 * policy wants, then take the count out of the environment's hourly change budget for its scope. The
 * first refusal stops it; nothing before the budget consumes anything, and a refused budget request
 * leaves the budget as it was. A dry run goes through the same checks and refusals, but consumes no
 * budget and asks no approval (it notes what it would have needed).
 */

export interface ChangeGateOptions {
  store: Store;
  limits: LimitStore;
  risk: RiskAssessor;
  clock: Clock;
  logger: Logger;
  config: RuntimeConfig;
}

export interface ChangeRequest {
  execution: ExecutionContext;
  alert: Alert;
  step: StepSpec;
  tool: ToolImplementation;
  parameters: Record<string, unknown>;
  /** The execution's resource after resolution (templates' `resource`). */
  resource: { cluster?: string; namespace?: string; account?: string; region?: string };
  attempt: number;
  /** The change's key (stable across retries of one change): the budget counts it once. */
  changeKey: string;
  /** For the pre-read: the tool context the change would run with (its signal, deadline, dry run). */
  context: ToolContext;
}

/** Taken from the budget: given back if the change turns out to have changed nothing. */
export interface Admission {
  count?: TouchCount | undefined;
  budget?: { scope: string; windowStart: string; member: string; count: number } | undefined;
  assessment?: RiskAssessment | undefined;
  /** What the gate noted (the approval that covered it, what a dry run would have needed). */
  notes: string[];
}

export type GateVerdict =
  | { admitted: true; admission: Admission }
  | {
      admitted: false;
      /** `Safety.LimitExceeded`, `Safety.RiskRefused` or `Approval.Required`: not run; the execution rolls back and escalates. */
      name: string;
      message: string;
    };

/** The error names the gate refuses with. */
const GateError = {
  LimitExceeded: AslErrorName.LimitExceeded,
  RiskRefused: AslErrorName.RiskRefused,
  ApprovalRequired: AslErrorName.ApprovalRequired,
} as const;

const DECISION_WORDS = {
  autonomous: 'runs without approval',
  approve: 'needs one approval',
  'approve-quorum-2': 'needs two approvals',
  refuse: 'is refused',
} as const;

export class ChangeGate {
  constructor(private readonly options: ChangeGateOptions) {}

  async admit(request: ChangeRequest): Promise<GateVerdict> {
    const { execution, step, tool } = request;
    const notes: string[] = [];
    const dryRun = execution.dryRun;

    // 1. What it would touch.
    let count: TouchCount | undefined;
    try {
      count = await this.count(request);
    } catch (error) {
      return this.refuse(
        GateError.LimitExceeded,
        `${step.id}: could not count what ${tool.declaration.name} would touch (${(error as Error).message}); without a count its limits cannot be checked, so it did not run`,
      );
    }

    // 2. The runbook's own limit.
    const limit = count ? stepLimit(step, count.kind) : undefined;
    if (count && limit && count.count > limit.max)
      return this.refuse(
        GateError.LimitExceeded,
        `${step.id} would touch ${countOf(count.kind, count.count)} (${count.how}), over the runbook's limit of ${limit.max} (${limit.from}); it did not run`,
      );

    // 3. Its risk, and what the environment's policy wants for it.
    const assessment = await this.options.risk.assessChange({
      execution,
      alert: request.alert,
      step,
      attempt: request.attempt,
      blastRadius: count,
    });
    const decision = assessment.decision;
    const scored = `${describeScore(assessment)}; in ${execution.environment} a change at this score ${DECISION_WORDS[decision]}`;
    if (decision === 'refuse') {
      await this.options.risk.settle(assessment, 'refused');
      return this.refuse(GateError.RiskRefused, `${step.id}: ${scored}; it did not run`);
    }
    const quorum = quorumOf(decision);
    if (quorum > 0) {
      const approvals = await this.options.store.listApprovals(execution.id);
      const covering = approvals.find(
        (approval) =>
          approval.status === 'approved' &&
          approval.quorum >= quorum &&
          (approval.target.id === step.id || approval.target.id === step.phase),
      );
      if (covering) {
        const by = covering.decisions
          .filter((entry) => entry.decision === 'approve')
          .map((entry) => entry.approver);
        notes.push(`approved by ${by.join(', ')}`);
        await this.options.risk.settle(assessment, `approved by ${by.join(', ')}`);
      } else if (dryRun) {
        notes.push(`a real run would ask for ${quorum} approval(s)`);
        await this.options.risk.settle(assessment, `dry run: a real run would ask for ${quorum} approval(s)`);
      } else {
        // The checkpoint before the phase asks when the score is known there; counted only now, it is not covered.
        await this.options.risk.settle(assessment, `refused: needs ${quorum} approval(s) and none covers it`);
        return this.refuse(
          GateError.ApprovalRequired,
          `${step.id}: ${scored}, and no approval of ${quorum} covers it (counted only as it was about to run); it did not run`,
        );
      }
    }

    // 4. The environment's hourly change budget for where it acts, shared by every runbook.
    let budget: Admission['budget'];
    if (count && count.count > 0) {
      const scope = budgetScope({
        tool: tool.declaration.name,
        parameters: request.parameters,
        resource: request.resource,
        defaultRegion: this.options.config.tools.defaultRegion,
      });
      const of = budgetFor(this.options.config.policy.limits, scope);
      if (of) {
        const window = budgetWindow(this.options.clock.now());
        const over = (used: number) =>
          this.refuse(
            GateError.LimitExceeded,
            `${step.id} would touch ${countOf(count!.kind, count!.count)} (${count!.how}) in ${scope}, where ${used} of the environment's ${of.max} per hour (${of.from}) are used this hour; ${dryRun ? 'a real run would not run it' : 'it did not run'}`,
          );
        if (dryRun) {
          const used = await this.options.limits.budgetUsed(scope, window.windowStart);
          if (used + count.count > of.max) return over(used);
        } else {
          const member = request.changeKey;
          const answer = await this.options.limits.consumeBudget({
            scope,
            windowStart: window.windowStart,
            count: count.count,
            max: of.max,
            member,
            expiresAt: window.expiresAt,
          });
          if (!answer.consumed) return over(answer.used);
          budget = { scope, windowStart: window.windowStart, member, count: count.count };
        }
      }
    }
    if (quorum === 0) await this.options.risk.settle(assessment, dryRun ? 'dry run' : 'ran');
    return { admitted: true, admission: { count, budget, assessment, notes } };
  }

  /**
   * After the tool ran: a change the target refused (it changed nothing) gives its budget back; any
   * other attempt counts as a change to the resource (recent changes raise later scores).
   */
  async settle(
    request: Pick<ChangeRequest, 'execution' | 'alert' | 'step' | 'tool' | 'attempt'>,
    admission: Admission,
    result: { changedNothing: boolean },
  ): Promise<void> {
    const { limits, clock, config, logger } = this.options;
    try {
      if (result.changedNothing) {
        if (admission.budget) await limits.releaseBudget(admission.budget);
        return;
      }
      if (request.execution.dryRun || !admission.count) return;
      const now = clock.now();
      await limits.recordChange({
        resourceKey: resourceKey(request.alert),
        at: now.toISOString(),
        executionId: request.execution.id,
        stepId: request.step.id,
        attempt: request.attempt,
        tool: request.tool.declaration.name,
        kind: admission.count.kind,
        count: admission.count.count,
        expiresAt: new Date(
          now.getTime() + Math.max(config.policy.risk.recentChangesWindow, 3_600) * 1_000 + 86_400_000,
        ).toISOString(),
      });
    } catch (error) {
      // Bookkeeping after the change: a failure here must not turn a made change into a failed step.
      logger.warn('could not record the change for limits and risk', {
        executionId: request.execution.id,
        stepId: request.step.id,
        error: (error as Error).message,
      });
    }
  }

  private async count(request: ChangeRequest): Promise<TouchCount | undefined> {
    const declared = request.tool.declaration.blastRadius;
    if (!declared) return undefined;
    const fromParameters = declared.fromParameters(request.parameters);
    if (fromParameters !== undefined)
      return { kind: declared.kind, count: fromParameters, how: declared.how };
    if (!declared.preRead || !request.tool.countTouched)
      throw new Error(`${request.tool.declaration.name} declares no way to count from these parameters`);
    const read = await request.tool.countTouched(request.parameters, request.context);
    return { kind: declared.kind, count: read.count, how: read.how };
  }

  private refuse(name: string, message: string): GateVerdict {
    return { admitted: false, name, message };
  }
}

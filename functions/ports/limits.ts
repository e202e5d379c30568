import type { ResourceKind } from '../core/limits/blast-radius.ts';
import type { RiskAssessment } from '../core/risk/assessment.ts';

/** One use of an hourly change budget: `count` resources changed by one change (`member`). */
export interface BudgetRequest {
  scope: string;
  /** The window's start (ISO, the top of an hour). */
  windowStart: string;
  count: number;
  max: number;
  /** The change (its key): counting it again adds nothing (a retried step). */
  member: string;
  /** When the counter may be deleted (TTL). */
  expiresAt: string;
}

/**
 * What consumeBudget did: consumed (`already`: this change was counted before, nothing added), or
 * refused because the window cannot take `count` more; `used` is the window's total afterwards.
 */
export interface BudgetAnswer {
  consumed: boolean;
  already: boolean;
  used: number;
}

/** A change made to a resource, for "changes to this resource recently". */
export interface ChangeMade {
  resourceKey: string;
  at: string;
  executionId: string;
  stepId: string;
  attempt: number;
  tool: string;
  kind: ResourceKind;
  count: number;
  expiresAt: string;
}

/**
 * What limits and risk keep: hourly change budgets (conditional counters two runbooks can race on),
 * the changes made per resource, and risk assessments. Separate from Store: its own items
 * (`LIMIT#…`, `CHANGES#…`, `RISK#…`) in the same table.
 */
export interface LimitStore {
  /**
   * Adds `count` to the window only if the total stays within `max`, atomically; a member counted
   * before adds nothing and is answered consumed. A refused request leaves the window as it was.
   */
  consumeBudget(request: BudgetRequest): Promise<BudgetAnswer>;
  /** Gives back what `member` consumed (its change turned out to change nothing). */
  releaseBudget(request: Omit<BudgetRequest, 'max' | 'expiresAt'>): Promise<void>;
  /** Resources changed so far in the window. */
  budgetUsed(scope: string, windowStart: string): Promise<number>;

  /** Appends a change (idempotent per execution, step and attempt). */
  recordChange(change: ChangeMade): Promise<void>;
  /** Changes to the resource at or after `since`, in order. */
  listChanges(resourceKey: string, since: string): Promise<ChangeMade[]>;

  /** Keeps the latest assessment per execution and target. */
  putRiskAssessment(assessment: RiskAssessment): Promise<void>;
  getRiskAssessment(executionId: string, target: string): Promise<RiskAssessment | undefined>;
  listRiskAssessments(executionId: string): Promise<RiskAssessment[]>;
}

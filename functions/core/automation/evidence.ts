import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import * as z from 'zod';
import { trimToBudget } from '../output-budget.ts';
import type { ApprovalRecord, ExecutionRecord, StepOutcome } from '../records.ts';
import {
  AutomationLevel,
  type AutomationPolicy,
  type EffectiveLevel,
  LEVEL_RANK,
  levelAbove,
  lowerLevel,
} from './levels.ts';

/**
 * The evidence automation levels move on, pure: what each finished run counts as (a real run's
 * verdict, who had to step in, what a dry run would have changed), the Wilson lower bound of verified
 * success per runbook and alert signature, the demotion rule and the promotion proposal.
 */

const IsoTime = z.iso.datetime({ offset: true });

/** How the people around a real run were involved: the design's intervention target measures `human-acted`. */
export const Involvement = z.enum(['human-acted', 'approval-only', 'no-human']);
export type Involvement = z.infer<typeof Involvement>;

/** What a person reports having done about an execution (the API, the CLI, the dashboard). */
export const HumanActionKind = z.enum(['escalation-answered', 'manual-fix', 'takeover']);
export type HumanActionKind = z.infer<typeof HumanActionKind>;

export const HumanAction = z
  .object({
    id: z.string().min(1).max(128),
    executionId: z.string().min(1),
    runbookId: z.string().min(1),
    kind: HumanActionKind,
    by: z.string().min(1).max(200),
    at: IsoTime,
    note: z.string().max(2_000).optional(),
  })
  .strict();
export type HumanAction = z.infer<typeof HumanAction>;

/** A change a dry run would have made: the step, its resolved parameters and what the dry run said. */
export const WouldBeChange = z
  .object({
    stepId: z.string(),
    name: z.string(),
    tool: z.string(),
    parameters: z.record(z.string(), z.unknown()),
    /** dry-run: the target accepted it as a dry run; failed: the dry run said it would not work. */
    status: z.enum(['dry-run', 'failed']),
    output: z.unknown().optional(),
    error: z.string().optional(),
  })
  .strict();
export type WouldBeChange = z.infer<typeof WouldBeChange>;

/** How the alert of a shadow run ended: the runbook changed nothing, so someone or something else did it. */
export const Clearing = z.enum(['on-its-own', 'by-a-human', 'still-firing']);
export type Clearing = z.infer<typeof Clearing>;

/** The verdict of a real run: verified success, a failure (or a rollback), or an abort that undid nothing. */
export const RunVerdict = z.enum(['succeeded', 'failed', 'aborted']);
export type RunVerdict = z.infer<typeof RunVerdict>;

/**
 * One finished execution as automation counts it. Real runs carry a verdict and an involvement; dry
 * runs (observe, shadow, an environment in dryRun) carry what they would have changed and never count
 * in a success rate.
 */
export const AutomationRun = z
  .object({
    executionId: z.string(),
    runbookId: z.string(),
    environment: z.string(),
    signature: z.string(),
    incidentId: z.string(),
    /** The level it ran at (absent: started before levels existed, i.e. autonomous). */
    level: AutomationLevel.optional(),
    /** real: changes were made; shadow/observe: the level made them dry runs; dry-run: the environment did. */
    mode: z.enum(['real', 'shadow', 'observe', 'dry-run']),
    startedAt: IsoTime,
    stoppedAt: IsoTime,
    status: z.enum(['succeeded', 'failed', 'aborted']),
    verdict: RunVerdict.optional(),
    involvement: Involvement.optional(),
    /** Why the involvement is what it is (escalated, aborted, approved by…, manual fix by…). */
    involvementReasons: z.array(z.string()).default([]),
    approvalsApproved: z.number().int().min(0).default(0),
    diagnosticsSucceeded: z.boolean(),
    changesValidated: z.boolean(),
    wouldHaveChanged: z.array(WouldBeChange).default([]),
    clearing: Clearing.optional(),
    clearedAt: IsoTime.optional(),
  })
  .strict();
export type AutomationRun = z.infer<typeof AutomationRun>;

/** Runs of one alert signature counted together; the signature is the alert's name and resource type. */
export function alertSignature(alert: { name: string; resource: { type: string } }): string {
  return `${alert.name} on ${alert.resource.type}`;
}

// ---------------------------------------------------------------------------------------------------
// Classifying one run

/** Whose word made an outcome: steps and checks run by the runtime, not the verification wait. */
const VERIFY_STEP = 'verify-alert-resolved';
const MAX_WOULD_BE_CHANGES = 20;
const WOULD_BE_OUTPUT_BYTES = 2_048;

function finalAttempts(outcomes: readonly StepOutcome[]): StepOutcome[] {
  const latest = new Map<string, StepOutcome>();
  for (const outcome of outcomes) latest.set(`${outcome.kind}:${outcome.stepId}`, outcome);
  return [...latest.values()];
}

/** What a run's steps did: did the diagnostics work, which changes it made or would have made. */
export function stepSummary(outcomes: readonly StepOutcome[]): {
  diagnosticsSucceeded: boolean;
  changesValidated: boolean;
  wouldHaveChanged: WouldBeChange[];
} {
  const final = finalAttempts(outcomes);
  const broken = (status: StepOutcome['status']) => status === 'failed' || status === 'timed-out';
  const diagnostics = final.filter(
    (outcome) =>
      (outcome.kind === 'step' || outcome.kind === 'check') &&
      !outcome.mutating &&
      outcome.stepId !== VERIFY_STEP,
  );
  const changes = final.filter((outcome) => outcome.kind === 'step' && outcome.mutating);
  const wouldHaveChanged = changes
    .filter((outcome) => outcome.status === 'dry-run' || (outcome.dryRun && broken(outcome.status)))
    .slice(0, MAX_WOULD_BE_CHANGES)
    .map((outcome) => ({
      stepId: outcome.stepId,
      name: outcome.name,
      tool: outcome.tool,
      parameters: trimToBudget(outcome.parameters, WOULD_BE_OUTPUT_BYTES).value as Record<string, unknown>,
      status: outcome.status === 'dry-run' ? ('dry-run' as const) : ('failed' as const),
      ...(outcome.output === undefined
        ? {}
        : { output: trimToBudget(outcome.output, WOULD_BE_OUTPUT_BYTES).value }),
      ...(outcome.error ? { error: `${outcome.error.name}: ${outcome.error.message}`.slice(0, 500) } : {}),
    }));
  return {
    diagnosticsSucceeded: !diagnostics.some((outcome) => broken(outcome.status)),
    changesValidated: !changes.some((outcome) => broken(outcome.status)),
    wouldHaveChanged,
  };
}

/** A real run's verdict: success only when it reached its end verified and undid nothing. */
export function verdictOf(execution: ExecutionRecord): RunVerdict | undefined {
  const outcome = execution.outcome;
  if (!outcome) return undefined;
  if (outcome.status === 'succeeded' && !outcome.rolledBack) return 'succeeded';
  if (outcome.status === 'aborted' && !outcome.rolledBack) return 'aborted';
  return 'failed';
}

/**
 * Who had to step in. A person acted when the run escalated, was aborted, had an approval rejected,
 * or someone reported answering it, fixing it by hand or taking it over; approvals alone are not an
 * intervention (they are the approve level working as meant).
 */
export function involvementOf(
  execution: ExecutionRecord,
  approvals: ReadonlyArray<Pick<ApprovalRecord, 'status' | 'decisions'>>,
  actions: ReadonlyArray<Pick<HumanAction, 'kind' | 'by'>>,
): { involvement: Involvement; reasons: string[]; approvalsApproved: number } {
  const reasons: string[] = [];
  const outcome = execution.outcome;
  if (outcome?.escalated) reasons.push('escalated to people');
  if (outcome?.status === 'aborted' || execution.control.abortRequested)
    reasons.push(`aborted${execution.control.requestedBy ? ` by ${execution.control.requestedBy}` : ''}`);
  for (const approval of approvals) {
    if (approval.status !== 'rejected') continue;
    const by = approval.decisions.find((decision) => decision.decision === 'reject')?.approver;
    reasons.push(`approval rejected${by ? ` by ${by}` : ''}`);
  }
  for (const action of actions) reasons.push(`${action.kind} by ${action.by}`);
  const approved = approvals.filter((approval) => approval.status === 'approved');
  if (reasons.length > 0) return { involvement: 'human-acted', reasons, approvalsApproved: approved.length };
  if (approved.length > 0) {
    const by = [
      ...new Set(approved.flatMap((approval) => approval.decisions.map((entry) => entry.approver))),
    ];
    return {
      involvement: 'approval-only',
      reasons: [`approved by ${by.join(', ')}`],
      approvalsApproved: approved.length,
    };
  }
  return { involvement: 'no-human', reasons: [], approvalsApproved: 0 };
}

/** Real, shadow, observe or an environment dry run. */
export function modeOf(
  execution: Pick<ExecutionRecord, 'dryRun' | 'automationLevel'>,
): AutomationRun['mode'] {
  if (execution.automationLevel === 'shadow') return 'shadow';
  if (execution.automationLevel === 'observe') return 'observe';
  return execution.dryRun ? 'dry-run' : 'real';
}

/** How a shadow run's alert cleared: a person reported acting before it resolved, or nobody did. */
export function clearingOf(
  incident: { status: 'open' | 'resolved'; resolvedAt?: string | undefined } | undefined,
  actions: ReadonlyArray<Pick<HumanAction, 'at'>>,
): { clearing: Clearing; clearedAt?: string } {
  if (incident?.status !== 'resolved' || !incident.resolvedAt) return { clearing: 'still-firing' };
  const resolvedAt = incident.resolvedAt;
  const human = actions.some((action) => action.at <= resolvedAt);
  return { clearing: human ? 'by-a-human' : 'on-its-own', clearedAt: resolvedAt };
}

/** Everything automation keeps about one stopped execution. */
export function automationRunOf(
  execution: ExecutionRecord,
  outcomes: readonly StepOutcome[],
  approvals: ReadonlyArray<Pick<ApprovalRecord, 'status' | 'decisions'>>,
  actions: readonly HumanAction[],
  incident: { status: 'open' | 'resolved'; resolvedAt?: string | undefined } | undefined,
  now: Date,
): AutomationRun | undefined {
  if (!execution.outcome) return undefined;
  const mode = modeOf(execution);
  const summary = stepSummary(outcomes);
  const run: AutomationRun = {
    executionId: execution.id,
    runbookId: execution.runbookId,
    environment: execution.environment,
    signature: alertSignature(execution.alert),
    incidentId: execution.incidentId,
    ...(execution.automationLevel ? { level: execution.automationLevel } : {}),
    mode,
    startedAt: execution.startedAt,
    stoppedAt: execution.stoppedAt ?? now.toISOString(),
    status: execution.outcome.status,
    involvementReasons: [],
    approvalsApproved: 0,
    ...summary,
  };
  if (mode === 'real') {
    const verdict = verdictOf(execution);
    const involved = involvementOf(execution, approvals, actions);
    return {
      ...run,
      ...(verdict ? { verdict } : {}),
      involvement: involved.involvement,
      involvementReasons: involved.reasons,
      approvalsApproved: involved.approvalsApproved,
    };
  }
  if (mode === 'shadow') return { ...run, ...clearingOf(incident, actions) };
  return run;
}

// ---------------------------------------------------------------------------------------------------
// The bound

/**
 * The Wilson score interval's lower bound for `successes` of `runs` at a two-sided `confidence`: the
 * success rate we can claim with that confidence (small samples claim little). Undefined with no runs.
 */
export function wilsonLowerBound(successes: number, runs: number, confidence: number): number | undefined {
  if (runs <= 0) return undefined;
  // Exactly 0 (the formula leaves rounding noise there).
  if (successes <= 0) return 0;
  const z = normalQuantile(1 - (1 - confidence) / 2, 0, 1);
  const p = successes / runs;
  const z2 = z * z;
  const centre = p + z2 / (2 * runs);
  const margin = z * Math.sqrt((p * (1 - p)) / runs + z2 / (4 * runs * runs));
  return Math.max(0, (centre - margin) / (1 + z2 / runs));
}

export interface Evidence {
  runs: number;
  succeeded: number;
  failed: number;
  aborted: number;
  successRate?: number;
  /** Wilson lower bound of verified success at the policy's confidence. */
  lowerBound?: number;
}

export function evidenceOf(verdicts: readonly RunVerdict[], confidence: number): Evidence {
  const succeeded = verdicts.filter((verdict) => verdict === 'succeeded').length;
  const bound = wilsonLowerBound(succeeded, verdicts.length, confidence);
  return {
    runs: verdicts.length,
    succeeded,
    failed: verdicts.filter((verdict) => verdict === 'failed').length,
    aborted: verdicts.filter((verdict) => verdict === 'aborted').length,
    ...(verdicts.length > 0 ? { successRate: succeeded / verdicts.length } : {}),
    ...(bound === undefined ? {} : { lowerBound: bound }),
  };
}

/** Real runs with a verdict, oldest first, started at or after `since`. */
export function realRunsSince(runs: readonly AutomationRun[], since: string | undefined): AutomationRun[] {
  return runs
    .filter((run) => run.mode === 'real' && run.verdict && (!since || run.startedAt >= since))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** Failed runs in a row at the newest end (aborts that undid nothing neither count nor break the streak). */
export function trailingFailures(runs: readonly AutomationRun[]): AutomationRun[] {
  const streak: AutomationRun[] = [];
  for (const run of [...runs].reverse()) {
    if (run.verdict === 'succeeded') break;
    if (run.verdict === 'failed') streak.push(run);
  }
  return streak.reverse();
}

export interface LevelChangeEvidence {
  /** What the decision rests on, as numbers a person can check. */
  runsSinceLevelSet: number;
  signature?: string;
  evidence?: Evidence;
  consecutiveFailures?: number;
  executions: string[];
  rule: string;
}

export interface Demotion {
  from: AutomationLevel;
  to: AutomationLevel;
  reason: string;
  evidence: LevelChangeEvidence;
}

/**
 * The demotion rule: at autonomous, `consecutiveFailures` failed or rolled-back real runs in a row, or
 * the Wilson lower bound of one alert signature under the threshold once it has `minRuns` runs, drop the
 * runbook to approve. `runs` are the real runs since the level was last set, oldest first.
 */
export function judgeDemotion(
  level: AutomationLevel,
  runs: readonly AutomationRun[],
  policy: Pick<AutomationPolicy, 'demotion' | 'confidence'>,
): Demotion | undefined {
  if (level !== 'autonomous' || runs.length === 0) return undefined;
  const streak = trailingFailures(runs);
  if (streak.length >= policy.demotion.consecutiveFailures) {
    return {
      from: level,
      to: 'approve',
      reason: `${streak.length} failed or rolled-back runs in a row (the limit is ${policy.demotion.consecutiveFailures})`,
      evidence: {
        runsSinceLevelSet: runs.length,
        consecutiveFailures: streak.length,
        executions: streak.map((run) => run.executionId),
        rule: `demotion.consecutiveFailures = ${policy.demotion.consecutiveFailures}`,
      },
    };
  }
  const signature = runs.at(-1)!.signature;
  const ofSignature = runs.filter((run) => run.signature === signature);
  if (ofSignature.length < policy.demotion.minRuns) return undefined;
  const evidence = evidenceOf(
    ofSignature.map((run) => run.verdict!),
    policy.confidence,
  );
  if (evidence.lowerBound === undefined || evidence.lowerBound >= policy.demotion.threshold) return undefined;
  return {
    from: level,
    to: 'approve',
    reason: `verified success of ${signature} is at least ${percent(evidence.lowerBound)} at ${percent(policy.confidence)} confidence (${evidence.succeeded} of ${evidence.runs} runs), under the threshold of ${percent(policy.demotion.threshold)}`,
    evidence: {
      runsSinceLevelSet: runs.length,
      signature,
      evidence,
      executions: ofSignature.filter((run) => run.verdict !== 'succeeded').map((run) => run.executionId),
      rule: `demotion.threshold = ${policy.demotion.threshold} with demotion.minRuns = ${policy.demotion.minRuns}`,
    },
  };
}

export interface PromotionProposal {
  from: AutomationLevel;
  to: AutomationLevel;
  reason: string;
  evidence: LevelChangeEvidence;
}

/** What counts as a success at each level below autonomous, for its promotion. */
function trackRecord(level: AutomationLevel, run: AutomationRun): boolean {
  if (level === 'observe') return run.diagnosticsSucceeded;
  if (level === 'shadow') return run.diagnosticsSucceeded && run.changesValidated;
  return run.verdict === 'succeeded';
}

const RUN_MODE_OF_LEVEL: Record<AutomationLevel, AutomationRun['mode']> = {
  observe: 'observe',
  shadow: 'shadow',
  approve: 'real',
  autonomous: 'real',
};

/**
 * A promotion proposal, or why there is none. Only a level evidence set (`stored`) below what the
 * ceiling and the environment allow can go up, one level at a time, on the runs at that level since it
 * was set: observe on its diagnostics, shadow on its diagnostics and dry-run changes, approve on
 * verified success; each needs `promotion.minRuns` runs and a Wilson lower bound of at least
 * `promotion.threshold`, and the newest runs must not be a failing streak.
 */
export function proposePromotion(
  effective: EffectiveLevel,
  runs: readonly AutomationRun[],
  since: string | undefined,
  policy: Pick<AutomationPolicy, 'promotion' | 'demotion' | 'confidence'>,
): { proposal?: PromotionProposal; why: string } {
  const cap = lowerLevel(effective.ceiling, effective.environmentDefault);
  if (effective.boundBy !== 'evidence' || LEVEL_RANK[effective.level] >= LEVEL_RANK[cap])
    return {
      why: `at ${effective.level}, the highest the ${effective.boundBy === 'runbook-ceiling' ? "runbook's ceiling" : "environment's default"} allows`,
    };
  const level = effective.level;
  const target = levelAbove(level)!;
  const atLevel = runs
    .filter((run) => run.mode === RUN_MODE_OF_LEVEL[level] && (!since || run.startedAt >= since))
    .filter((run) => run.level === undefined || run.level === level)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const successes = atLevel.filter((run) => trackRecord(level, run));
  const bound = wilsonLowerBound(successes.length, atLevel.length, policy.confidence);
  const evidence: LevelChangeEvidence = {
    runsSinceLevelSet: atLevel.length,
    evidence: {
      runs: atLevel.length,
      succeeded: successes.length,
      failed: atLevel.length - successes.length,
      aborted: 0,
      ...(atLevel.length > 0 ? { successRate: successes.length / atLevel.length } : {}),
      ...(bound === undefined ? {} : { lowerBound: bound }),
    },
    executions: atLevel.map((run) => run.executionId),
    rule: `promotion.minRuns = ${policy.promotion.minRuns}, promotion.threshold = ${policy.promotion.threshold}`,
  };
  const what =
    level === 'observe'
      ? 'runs whose diagnostics succeeded'
      : level === 'shadow'
        ? 'runs whose diagnostics and dry-run changes succeeded'
        : 'verified successful runs';
  if (atLevel.length < policy.promotion.minRuns)
    return {
      why: `${atLevel.length} run(s) at ${level} since it was set; a promotion needs ${policy.promotion.minRuns}`,
    };
  if (bound === undefined || bound < policy.promotion.threshold)
    return {
      why: `${what}: ${successes.length} of ${atLevel.length}, at least ${percent(bound ?? 0)} at ${percent(policy.confidence)} confidence; a promotion needs ${percent(policy.promotion.threshold)}`,
    };
  if (level === 'approve' && trailingFailures(atLevel).length >= policy.demotion.consecutiveFailures)
    return { why: 'the newest runs are a failing streak' };
  return {
    proposal: {
      from: level,
      to: target,
      reason: `${what}: ${successes.length} of ${atLevel.length} at ${level}, at least ${percent(bound)} at ${percent(policy.confidence)} confidence (threshold ${percent(policy.promotion.threshold)})`,
      evidence,
    },
    why: 'the evidence supports one level up',
  };
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

/** Dry-run levels never count in success rates: a guard for any code that computes one. */
export function countsInSuccessRates(run: Pick<AutomationRun, 'mode'>): boolean {
  return run.mode === 'real';
}
